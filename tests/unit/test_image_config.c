#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/error.h"
#include "scanner/image_config.h"

#define FIXTURE "tests/data/fixtures/config/webapp.json"

static const char *
str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static size_t
count_findings(const json_t *report, const char *id)
{
	size_t n = 0;
	size_t i;
	json_t *item;

	json_array_foreach(json_object_get(report, "findings"), i, item) {
		if (strcmp(str(item, "id"), id) == 0)
			n++;
	}
	return n;
}

/* Returns the env_secret finding whose message names variable. */
static json_t *
env_finding(const json_t *report, const char *variable)
{
	size_t i;
	json_t *item;
	char needle[128];

	snprintf(needle, sizeof(needle), "variable %s ", variable);
	json_array_foreach(json_object_get(report, "findings"), i, item) {
		if (strcmp(str(item, "id"), "env_secret") == 0 &&
		    strstr(str(item, "message"), needle) != NULL)
			return item;
	}
	return NULL;
}

static json_t *
analyze_string(const char *text)
{
	json_error_t error;
	json_t *config = json_loads(text, 0, &error);
	json_t *report = NULL;

	assert_non_null(config);
	assert_int_equal(image_config_analyze(config, &report), PC_OK);
	json_decref(config);
	assert_non_null(report);
	return report;
}

static void
test_config_real_image_config(void **state)
{
	json_error_t error;
	json_t *config = json_load_file(FIXTURE, 0, &error);
	json_t *report = NULL;
	json_t *ports;
	json_t *finding;
	char *dump;

	assert_non_null(config);
	assert_int_equal(image_config_analyze(config, &report), PC_OK);
	assert_string_equal(str(report, "user"), "root:root");

	ports = json_object_get(report, "exposed_ports");
	assert_int_equal(json_array_size(ports), 2);
	assert_string_equal(json_string_value(json_array_get(ports, 0)),
	    "22/tcp");
	assert_string_equal(json_string_value(json_array_get(ports, 1)),
	    "8080/tcp");

	assert_int_equal(count_findings(report, "root_user"), 1);
	assert_int_equal(count_findings(report, "ssh_port"), 1);
	/* GITHUB_TOKEN, DB_PASSWORD and BUILD_REF; not EMPTY_SECRET or GPG_KEY. */
	assert_int_equal(count_findings(report, "env_secret"), 3);

	finding = env_finding(report, "GITHUB_TOKEN");
	assert_non_null(finding);
	assert_string_equal(str(finding, "severity"), "critical");
	finding = env_finding(report, "DB_PASSWORD");
	assert_non_null(finding);
	assert_string_equal(str(finding, "severity"), "high");
	/* Matched by value alone: an AWS access key id. */
	finding = env_finding(report, "BUILD_REF");
	assert_non_null(finding);
	assert_string_equal(str(finding, "severity"), "critical");
	assert_null(env_finding(report, "EMPTY_SECRET"));
	assert_null(env_finding(report, "GPG_KEY"));

	/* No value reaches the report, redacted or not. */
	dump = json_dumps(report, 0);
	assert_non_null(dump);
	assert_null(strstr(dump, "ghp_"));
	assert_null(strstr(dump, "hunter2"));
	assert_null(strstr(dump, "AKIA"));
	free(dump);

	json_decref(report);
	json_decref(config);
}

struct user_case {
	const char *config;
	const char *user;
	size_t root_findings;
};

static const struct user_case user_cases[] = {
	{"{\"config\": {}}", "", 1},
	{"{\"config\": {\"User\": \"\"}}", "", 1},
	{"{\"config\": {\"User\": \"root\"}}", "root", 1},
	{"{\"config\": {\"User\": \"0\"}}", "0", 1},
	{"{\"config\": {\"User\": \"0:1000\"}}", "0:1000", 1},
	{"{\"config\": {\"User\": \"root:wheel\"}}", "root:wheel", 1},
	{"{\"config\": {\"User\": \"1000\"}}", "1000", 0},
	{"{\"config\": {\"User\": \"10:0\"}}", "10:0", 0},
	{"{\"config\": {\"User\": \"rootless\"}}", "rootless", 0},
	{"{\"config\": {\"User\": \"nobody:nogroup\"}}", "nobody:nogroup", 0},
	/* A bare container config without the "config" wrapper. */
	{"{\"User\": \"app\"}", "app", 0},
	/* A null config object counts as no user. */
	{"{\"config\": null}", "", 1},
};

static void
test_config_user_cases(void **state)
{
	for (size_t i = 0; i < sizeof(user_cases) / sizeof(user_cases[0]); i++) {
		json_t *report = analyze_string(user_cases[i].config);

		print_message("config %s\n", user_cases[i].config);
		assert_string_equal(str(report, "user"), user_cases[i].user);
		assert_int_equal(count_findings(report, "root_user"),
		    user_cases[i].root_findings);
		json_decref(report);
	}
}

static void
test_config_ports(void **state)
{
	json_t *report = analyze_string("{\"config\": {\"User\": \"1\", "
	    "\"ExposedPorts\": {\"2222/tcp\": {}, \"22\": {}, \"x/tcp\": {}, "
	    "\"53/udp\": {}}}}");

	assert_int_equal(json_array_size(json_object_get(report,
	    "exposed_ports")), 4);
	/* "22" without protocol is port 22; 2222 is not. */
	assert_int_equal(count_findings(report, "ssh_port"), 1);
	json_decref(report);
}

static void
test_config_env_names(void **state)
{
	json_t *report = analyze_string("{\"config\": {\"User\": \"1\", \"Env\": ["
	    "\"AWS_SECRET_ACCESS_KEY=abc\", \"openai_api_key=sk-x\", "
	    "\"TOKEN=t\", \"TOKENIZER=bert\", \"PASSWORD_FILE=/run/secrets/db\", "
	    "\"NOEQUALS\", 42, \"=value\"]}}");

	assert_non_null(env_finding(report, "AWS_SECRET_ACCESS_KEY"));
	assert_non_null(env_finding(report, "openai_api_key"));
	assert_non_null(env_finding(report, "TOKEN"));
	assert_null(env_finding(report, "TOKENIZER"));
	assert_null(env_finding(report, "PASSWORD_FILE"));
	assert_int_equal(count_findings(report, "env_secret"), 3);
	json_decref(report);
}

/* A long name of two-byte characters is cut inside one in the message. */
static void
test_config_long_utf8_name(void **state)
{
	char text[1024];
	size_t n = 0;
	json_t *report;

	n += (size_t)snprintf(text, sizeof(text),
	    "{\"config\": {\"User\": \"1\", \"Env\": [\"");
	for (int i = 0; i < 150; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "\xc3\xa9");
	snprintf(text + n, sizeof(text) - n, "_TOKEN=abc\"]}}");
	report = analyze_string(text);
	assert_int_equal(count_findings(report, "env_secret"), 0);
	json_decref(report);

	/* The suffix is past the quoted part, so name it up front. */
	n = (size_t)snprintf(text, sizeof(text),
	    "{\"config\": {\"User\": \"1\", \"Env\": [\"A");
	for (int i = 0; i < 150; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "\xc3\xa9");
	snprintf(text + n, sizeof(text) - n, "=ghp_Zq8Vn3Lr5Tx7Wb9Yd2Fh4Jk6Mp1Qs0Uc3Ee5\"]}}");
	report = analyze_string(text);
	assert_int_equal(count_findings(report, "env_secret"), 1);
	json_decref(report);
}

static void
test_config_rejects_non_object(void **state)
{
	json_t *arr = json_array();
	json_t *report = json_true();

	assert_int_equal(image_config_analyze(arr, &report),
	    PC_ERR_INVALID);
	assert_null(report);
	assert_int_equal(image_config_analyze(NULL, &report), PC_ERR_INVALID);
	json_decref(arr);
}

static void
test_config_allocation_failures_unwind(void **state)
{
	json_error_t error;
	json_t *config = json_load_file(FIXTURE, 0, &error);

	assert_non_null(config);
	for (long n = 0; n < 150; n++) {
		json_t *report = NULL;
		int err;

		pc_alloc_fail_after(n);
		err = image_config_analyze(config, &report);
		pc_alloc_fail_after(-1);
		assert_true(err == PC_OK || err == PC_ERR_NOMEM);
		assert_true((err == PC_OK) == (report != NULL));
		json_decref(report);
	}
	json_decref(config);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_real_image_config),
		cmocka_unit_test(test_config_user_cases),
		cmocka_unit_test(test_config_ports),
		cmocka_unit_test(test_config_env_names),
		cmocka_unit_test(test_config_long_utf8_name),
		cmocka_unit_test(test_config_rejects_non_object),
		cmocka_unit_test(test_config_allocation_failures_unwind),
	};

	pc_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
