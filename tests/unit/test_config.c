#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/error.h"
#include "proxy/config.h"
#include "tests/unit/tmpdir_fixture.h"

/* One config_load_file run: its result and everything it wrote. */
struct load_result {
	int err;
	int problems;
	char *errors;
	size_t errors_len;
	char path[128];
};

/* Writes yaml to portcullis.yaml in the test's folder and loads it over cfg. */
static void
load_yaml(void **state, const char *yaml, struct config *cfg,
    struct load_result *r)
{
	struct tmpdir *t = *state;
	FILE *errors;

	snprintf(r->path, sizeof(r->path), "%s/portcullis.yaml", t->dir);
	tmpdir_write_file(r->path, yaml);
	errors = open_memstream(&r->errors, &r->errors_len);
	assert_non_null(errors);
	r->problems = -1;
	r->err = config_load_file(cfg, r->path, errors, &r->problems);
	assert_int_equal(fclose(errors), 0);
}

static size_t
count_lines(const char *text)
{
	size_t n = 0;

	for (; *text != '\0'; text++) {
		if (*text == '\n')
			n++;
	}
	return n;
}

/* Loads yaml into a fresh cfg and fails the test on any problem. */
static void
load_clean(void **state, const char *yaml, struct config *cfg)
{
	struct load_result r;

	assert_int_equal(config_init(cfg), PC_OK);
	load_yaml(state, yaml, cfg, &r);
	if (r.err != PC_OK || r.problems != 0)
		fail_msg("load failed (%d, %d problems):\n%s", r.err, r.problems, r.errors);
	assert_string_equal(r.errors, "");
	free(r.errors);
}

/*
 * Loads yaml into a fresh cfg, expects exactly one problem and checks that
 * its line reads "<path>:<line>: " followed by text containing message.
 */
static void
load_one_problem(void **state, const char *yaml, int line, const char *message)
{
	struct config cfg;
	struct load_result r;
	char prefix[160];

	assert_int_equal(config_init(&cfg), PC_OK);
	load_yaml(state, yaml, &cfg, &r);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", r.path, line);
	if (r.problems != 1)
		fail_msg("expected 1 problem, got %d:\n%s", r.problems, r.errors);
	assert_int_equal(r.err, PC_ERR_INVALID);
	if (strncmp(r.errors, prefix, strlen(prefix)) != 0)
		fail_msg("\"%s\" does not start with \"%s\"", r.errors, prefix);
	if (strstr(r.errors, message) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", r.errors, message);
	assert_int_equal(count_lines(r.errors), 1);
	assert_int_equal(r.errors[r.errors_len - 1], '\n');
	free(r.errors);
	config_free(&cfg);
}

static void
test_config_defaults(void **state)
{
	struct config cfg;

	assert_int_equal(config_init(&cfg), PC_OK);
	assert_int_equal(cfg.n_listeners, 0);
	assert_int_equal(cfg.n_upstreams, 0);
	assert_string_equal(cfg.admin_address, "127.0.0.1:5001");
	assert_null(cfg.admin_token_file);
	assert_string_equal(cfg.cache_dir, "/var/cache/portcullis");
	assert_true(cfg.cache_max_bytes == UINT64_C(20) << 30);
	assert_int_equal(cfg.tag_ttl_s, 300);
	assert_null(cfg.redis_url);
	assert_null(cfg.policy_file);
	assert_null(cfg.db_path);
	assert_int_equal(cfg.scan_workers, 2);
	assert_int_equal(cfg.manifest_wait_s, 20);
	assert_false(cfg.offline);
	assert_int_equal(cfg.idle_timeout_s, 60);
	assert_int_equal(cfg.write_timeout_s, 120);
	assert_int_equal(cfg.max_connections, 4096);
	assert_int_equal(cfg.upstream_connect_timeout_s, 10);
	assert_int_equal(cfg.upstream_header_timeout_s, 25);
	assert_int_equal(cfg.health_interval_s, 30);
	assert_string_equal(cfg.log_level, "info");
	assert_true(cfg.access_log);
	assert_null(cfg.source);
	config_free(&cfg);
}

static void
test_config_full_file(void **state)
{
	struct config cfg;

	load_clean(state,
	    "listen:\n"
	    "  - address: 127.0.0.1:5000\n"
	    "  - address: \"[::1]:5443\"\n"
	    "    tls:\n"
	    "      cert: /etc/portcullis/cert.pem\n"
	    "      key: /etc/portcullis/key.pem\n"
	    "      client_ca: /etc/portcullis/ca.pem\n"
	    "      client_required: true\n"
	    "upstreams:\n"
	    "  - name: hub\n"
	    "    url: https://registry-1.docker.io\n"
	    "    realm_hosts: [auth.docker.io, auth2.docker.io]\n"
	    "    docker_hub: true\n"
	    "  - url: http://127.0.0.1:5002\n"
	    "    ca_file: /etc/ca.pem\n"
	    "    tls_verify: false\n"
	    "    credentials_file: /etc/creds\n"
	    "    http2: false\n"
	    "admin:\n"
	    "  address: 127.0.0.1:6001\n"
	    "  token_file: /etc/portcullis/token\n"
	    "cache:\n"
	    "  dir: /srv/cache\n"
	    "  max_bytes: 500MiB\n"
	    "  tag_ttl: 5m\n"
	    "redis:\n"
	    "  url: redis://127.0.0.1:6379/2\n"
	    "policy: /etc/portcullis/policy.yaml\n"
	    "db: /var/lib/portcullis/vuln.db\n"
	    "scan:\n"
	    "  workers: 4\n"
	    "  manifest_wait: 1m\n"
	    "offline: true\n"
	    "server:\n"
	    "  idle_timeout: 90s\n"
	    "  write_timeout: 1h\n"
	    "  max_connections: 100\n"
	    "  upstream_connect_timeout: 3\n"
	    "  upstream_header_timeout: \"40\"\n"
	    "  health_interval: 2m\n"
	    "log:\n"
	    "  level: debug\n"
	    "  access: false\n", &cfg);

	assert_int_equal(cfg.n_listeners, 2);
	assert_string_equal(cfg.listeners[0].address, "127.0.0.1:5000");
	assert_null(cfg.listeners[0].tls_cert);
	assert_false(cfg.listeners[0].tls_client_required);
	assert_string_equal(cfg.listeners[1].address, "[::1]:5443");
	assert_string_equal(cfg.listeners[1].tls_cert, "/etc/portcullis/cert.pem");
	assert_string_equal(cfg.listeners[1].tls_key, "/etc/portcullis/key.pem");
	assert_string_equal(cfg.listeners[1].tls_client_ca, "/etc/portcullis/ca.pem");
	assert_true(cfg.listeners[1].tls_client_required);

	assert_int_equal(cfg.n_upstreams, 2);
	assert_string_equal(cfg.upstreams[0].name, "hub");
	assert_string_equal(cfg.upstreams[0].url, "https://registry-1.docker.io");
	assert_int_equal(cfg.upstreams[0].n_realm_hosts, 2);
	assert_string_equal(cfg.upstreams[0].realm_hosts[0], "auth.docker.io");
	assert_string_equal(cfg.upstreams[0].realm_hosts[1], "auth2.docker.io");
	assert_true(cfg.upstreams[0].docker_hub);
	assert_true(cfg.upstreams[0].tls_verify);
	assert_true(cfg.upstreams[0].http2);
	assert_string_equal(cfg.upstreams[1].name, "127.0.0.1:5002");
	assert_string_equal(cfg.upstreams[1].ca_file, "/etc/ca.pem");
	assert_false(cfg.upstreams[1].tls_verify);
	assert_string_equal(cfg.upstreams[1].credentials_file, "/etc/creds");
	assert_false(cfg.upstreams[1].http2);
	assert_false(cfg.upstreams[1].docker_hub);

	assert_string_equal(cfg.admin_address, "127.0.0.1:6001");
	assert_string_equal(cfg.admin_token_file, "/etc/portcullis/token");
	assert_string_equal(cfg.cache_dir, "/srv/cache");
	assert_true(cfg.cache_max_bytes == UINT64_C(500) << 20);
	assert_int_equal(cfg.tag_ttl_s, 300);
	assert_string_equal(cfg.redis_url, "redis://127.0.0.1:6379/2");
	assert_string_equal(cfg.policy_file, "/etc/portcullis/policy.yaml");
	assert_string_equal(cfg.db_path, "/var/lib/portcullis/vuln.db");
	assert_int_equal(cfg.scan_workers, 4);
	assert_int_equal(cfg.manifest_wait_s, 60);
	assert_true(cfg.offline);
	assert_int_equal(cfg.idle_timeout_s, 90);
	assert_int_equal(cfg.write_timeout_s, 3600);
	assert_int_equal(cfg.max_connections, 100);
	assert_int_equal(cfg.upstream_connect_timeout_s, 3);
	assert_int_equal(cfg.upstream_header_timeout_s, 40);
	assert_int_equal(cfg.health_interval_s, 120);
	assert_string_equal(cfg.log_level, "debug");
	assert_false(cfg.access_log);
	assert_non_null(cfg.source);
	assert_non_null(strstr(cfg.source, "/portcullis.yaml"));
	config_free(&cfg);
}

static void
test_config_list_entry_defaults(void **state)
{
	struct config cfg;

	load_clean(state,
	    "listen:\n"
	    "  - address: :5000\n"
	    "upstreams:\n"
	    "  - url: https://registry-1.docker.io/\n"
	    "  - url: https://127.0.0.1:5443/v2/\n", &cfg);
	assert_false(cfg.listeners[0].tls_client_required);
	assert_null(cfg.listeners[0].tls_key);
	/* The name defaults to the URL's host, port included. */
	assert_string_equal(cfg.upstreams[0].name, "registry-1.docker.io");
	assert_string_equal(cfg.upstreams[1].name, "127.0.0.1:5443");
	assert_true(cfg.upstreams[0].tls_verify);
	assert_true(cfg.upstreams[0].http2);
	/* docker_hub stays as written, because the server derives it from the host. */
	assert_false(cfg.upstreams[0].docker_hub);
	assert_int_equal(cfg.upstreams[0].n_realm_hosts, 0);
	config_free(&cfg);
}

static void
test_config_empty_file_keeps_defaults(void **state)
{
	struct config cfg;

	load_clean(state, "", &cfg);
	assert_string_equal(cfg.cache_dir, "/var/cache/portcullis");
	assert_non_null(cfg.source);
	config_free(&cfg);

	load_clean(state, "# nothing here\n", &cfg);
	assert_int_equal(cfg.scan_workers, 2);
	config_free(&cfg);
}

static void
test_config_null_value_keeps_default(void **state)
{
	struct config cfg;

	load_clean(state, "cache:\n  dir:\n  tag_ttl: ~\nlog:\n", &cfg);
	assert_string_equal(cfg.cache_dir, "/var/cache/portcullis");
	assert_int_equal(cfg.tag_ttl_s, 300);
	config_free(&cfg);
}

static void
test_config_parse_size_units(void **state)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} cases[] = {
		{"0", 0},
		{"1024", 1024},
		{"10B", 10},
		{"1K", 1000},
		{"1KB", 1000},
		{"1KiB", 1024},
		{"500MB", 500000000},
		{"500MiB", UINT64_C(500) << 20},
		{"20GiB", UINT64_C(20) << 30},
		{"20GB", UINT64_C(20000000000)},
		{"2G", UINT64_C(2000000000)},
		{"3TiB", UINT64_C(3) << 40},
		{"1T", UINT64_C(1000000000000)},
		{"10 MiB", UINT64_C(10) << 20},
		{"18446744073709551615", UINT64_MAX},
		{"16777215TiB", UINT64_C(16777215) << 40},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 1;

		if (config_parse_size(cases[i].text, &v) != PC_OK)
			fail_msg("\"%s\" was rejected", cases[i].text);
		if (v != cases[i].bytes)
			fail_msg("\"%s\" gave %llu", cases[i].text, (unsigned long long)v);
	}
}

static void
test_config_parse_size_rejects(void **state)
{
	static const char *const bad[] = {
		"", "-1", "+1", " 10", "1.5GiB", "GiB", "10XB", "10gib", "10Gib",
		"10MiB ", "0x10", "1e3", "18446744073709551616",
		"17179869184GiB", "16777216TiB", "99999999999999999999999",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 7;

		if (config_parse_size(bad[i], &v) != PC_ERR_INVALID)
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_true(v == 7);
	}
}

static void
test_config_sizes_in_file(void **state)
{
	struct config cfg;

	load_clean(state, "cache:\n  max_bytes: 1TiB\n", &cfg);
	assert_true(cfg.cache_max_bytes == UINT64_C(1) << 40);
	config_free(&cfg);

	load_clean(state, "cache:\n  max_bytes: 1048576\n", &cfg);
	assert_true(cfg.cache_max_bytes == 1048576);
	config_free(&cfg);

	/* The blob store needs at least 1 MiB. */
	load_one_problem(state, "cache:\n  max_bytes: 1KiB\n", 2, "out of range");
	load_one_problem(state, "cache:\n  max_bytes: 1048575\n", 2, "out of range");
	load_one_problem(state, "cache:\n  max_bytes: lots\n", 2, "invalid size");
	load_one_problem(state, "cache:\n  max_bytes: -5\n", 2, "must not be negative");
}

static void
test_config_durations(void **state)
{
	struct config cfg;

	load_clean(state, "cache:\n  tag_ttl: 30s\nscan:\n  manifest_wait: 5m\n"
	    "server:\n  idle_timeout: 1h\n  write_timeout: 45\n", &cfg);
	assert_int_equal(cfg.tag_ttl_s, 30);
	assert_int_equal(cfg.manifest_wait_s, 300);
	assert_int_equal(cfg.idle_timeout_s, 3600);
	assert_int_equal(cfg.write_timeout_s, 45);
	config_free(&cfg);

	load_one_problem(state, "cache:\n  tag_ttl: 2d\n", 2, "invalid duration");
	load_one_problem(state, "cache:\n  tag_ttl: 1.5m\n", 2, "tag_ttl");
	load_one_problem(state, "cache:\n  tag_ttl: 5 m\n", 2, "invalid duration");
	load_one_problem(state, "cache:\n  tag_ttl: \"-5\"\n", 2, "invalid duration");
	load_one_problem(state, "cache:\n  tag_ttl: -5\n", 2, "must not be negative");
	/* 721 hours is past the 30-day maximum. */
	load_one_problem(state, "cache:\n  tag_ttl: 721h\n", 2, "out of range");
	load_one_problem(state, "scan:\n  manifest_wait: 6m\n", 2, "out of range");
	load_one_problem(state, "server:\n  idle_timeout: 0\n", 2, "out of range");
	load_one_problem(state, "server:\n  idle_timeout: 99999999999999999999h\n",
	    2, "idle_timeout");
}

static void
test_config_number_bounds(void **state)
{
	struct config cfg;

	load_clean(state, "scan:\n  workers: 64\nserver:\n  max_connections: 1000000\n",
	    &cfg);
	assert_int_equal(cfg.scan_workers, 64);
	assert_int_equal(cfg.max_connections, 1000000);
	config_free(&cfg);

	load_one_problem(state, "scan:\n  workers: 0\n", 2, "out of range [1, 64]");
	load_one_problem(state, "scan:\n  workers: 65\n", 2, "out of range [1, 64]");
	load_one_problem(state, "server:\n  max_connections: 1000001\n", 2, "out of range");
	load_one_problem(state, "server:\n  max_connections: 4K\n", 2, "invalid number");
	load_one_problem(state, "scan:\n  workers: four\n", 2, "invalid number");
	load_one_problem(state, "scan:\n  workers: 4294967297\n", 2, "out of range");
}

static void
test_config_type_errors(void **state)
{
	load_one_problem(state, "cache:\n  dir: 5\n", 2, "cache/dir: expected a string");
	load_one_problem(state, "cache:\n  dir: [a, b]\n", 2, "cache/dir");
	load_one_problem(state, "offline: yes\n", 1, "offline: expected true or false");
	load_one_problem(state, "offline: 1\n", 1, "expected true or false");
	load_one_problem(state, "log:\n  access: \"true\"\n", 2, "expected true or false");
	load_one_problem(state, "scan:\n  workers: 1.5\n", 2, "scan/workers");
	load_one_problem(state, "cache: [1, 2]\n", 1, "cache: expected a mapping, not a list");
	load_one_problem(state, "cache: 5\n", 1, "cache: expected a mapping");
	load_one_problem(state, "listen:\n  - 127.0.0.1:5000\n", 2, "expected a mapping");
}

static void
test_config_realm_hosts_list(void **state)
{
	load_one_problem(state, "upstreams:\n  - url: https://a\n    realm_hosts: b\n",
	    3, "expected a list of strings");
	load_one_problem(state, "upstreams:\n  - url: https://a\n    realm_hosts: [1]\n",
	    3, "list items must be strings");
	load_one_problem(state, "upstreams:\n  - url: https://a\n"
	    "    realm_hosts: [a, b, c, d, e, f, g, h, i]\n", 3, "more items than the limit");
}

static void
test_config_unknown_key_suggestion(void **state)
{
	load_one_problem(state, "cahce:\n  dir: /x\n", 1,
	    "unknown key 'cahce'; did you mean 'cache'?");
	load_one_problem(state, "cache:\n  max_byte: 1GiB\n", 2,
	    "unknown key 'cache/max_byte'; did you mean 'max_bytes'?");
	load_one_problem(state, "listen:\n  - adress: :5000\n", 2,
	    "did you mean 'address'?");
	load_one_problem(state, "upstreams:\n  - url: https://a\n    tls_verfy: false\n",
	    3, "did you mean 'tls_verify'?");
	load_one_problem(state, "listen:\n  - address: :5000\n    tls:\n      crt: a\n",
	    4, "did you mean 'cert'?");
}

static void
test_config_unknown_key_without_suggestion(void **state)
{
	struct config cfg;
	struct load_result r;

	load_one_problem(state, "zzzzzzzzzzzz: 1\n", 1, "unknown key 'zzzzzzzzzzzz'");

	assert_int_equal(config_init(&cfg), PC_OK);
	load_yaml(state, "completely_unrelated_option: 1\n", &cfg, &r);
	assert_int_equal(r.problems, 1);
	assert_null(strstr(r.errors, "did you mean"));
	free(r.errors);
	config_free(&cfg);
}

static void
test_config_slash_in_key_is_not_a_path(void **state)
{
	struct config cfg;
	struct load_result r;

	assert_int_equal(config_init(&cfg), PC_OK);
	load_yaml(state, "cache/dir: /evil\n", &cfg, &r);
	assert_int_equal(r.err, PC_ERR_INVALID);
	assert_int_equal(r.problems, 1);
	assert_string_equal(cfg.cache_dir, "/var/cache/portcullis");
	free(r.errors);
	config_free(&cfg);
}

static void
test_config_numeric_keys_are_not_a_list(void **state)
{
	struct config cfg;
	struct load_result r;

	/* listen must be a sequence; a mapping keyed "0" is not one. */
	assert_int_equal(config_init(&cfg), PC_OK);
	load_yaml(state, "listen:\n  0:\n    address: 127.0.0.1:5000\n", &cfg, &r);
	assert_int_equal(r.err, PC_ERR_INVALID);
	assert_true(r.problems >= 1);
	free(r.errors);
	config_free(&cfg);
}

static void
test_config_every_problem_reported(void **state)
{
	struct config cfg;
	struct load_result r;
	const char *second;

	assert_int_equal(config_init(&cfg), PC_OK);
	load_yaml(state,
	    "cache:\n"
	    "  dir: 5\n"
	    "  max_bytes: huge\n"
	    "scan:\n"
	    "  workers: 0\n"
	    "offlin: true\n", &cfg, &r);
	assert_int_equal(r.err, PC_ERR_INVALID);
	assert_int_equal(r.problems, 4);
	assert_int_equal(count_lines(r.errors), 4);
	/* One "file:line: message" line per problem. */
	assert_non_null(strstr(r.errors, ":2: cache/dir"));
	assert_non_null(strstr(r.errors, ":3: cache/max_bytes"));
	assert_non_null(strstr(r.errors, ":5: scan/workers"));
	assert_non_null(strstr(r.errors, ":6: unknown key 'offlin'; did you mean 'offline'?"));
	second = strchr(r.errors, '\n') + 1;
	assert_int_equal(strncmp(second, r.path, strlen(r.path)), 0);
	free(r.errors);
	config_free(&cfg);
}

static void
test_config_listener_limit(void **state)
{
	char yaml[2048];
	size_t len = 0;
	struct config cfg;
	struct load_result r;

	len += (size_t)snprintf(yaml + len, sizeof(yaml) - len, "listen:\n");
	for (int i = 0; i <= CONFIG_MAX_LISTENERS; i++)
		len += (size_t)snprintf(yaml + len, sizeof(yaml) - len,
		    "  - address: 127.0.0.1:%d\n", 5000 + i);
	assert_int_equal(config_init(&cfg), PC_OK);
	load_yaml(state, yaml, &cfg, &r);
	assert_int_equal(r.err, PC_ERR_INVALID);
	assert_int_equal(r.problems, 1);
	assert_non_null(strstr(r.errors, "too many list entries"));
	assert_int_equal(cfg.n_listeners, CONFIG_MAX_LISTENERS);
	free(r.errors);
	config_free(&cfg);
}

static void
test_config_long_string_kept_whole(void **state)
{
	char yaml[1200];
	char dir[1001];
	struct config cfg;
	struct load_result r;

	/* A path longer than any internal buffer is stored whole or rejected. */
	memset(dir, 'd', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = '\0';
	snprintf(yaml, sizeof(yaml), "cache:\n  dir: %s\n", dir);
	assert_int_equal(config_init(&cfg), PC_OK);
	load_yaml(state, yaml, &cfg, &r);
	if (r.err == PC_OK)
		assert_string_equal(cfg.cache_dir, dir);
	else
		assert_int_equal(r.problems, 1);
	free(r.errors);
	config_free(&cfg);
}

static void
test_config_yaml_errors(void **state)
{
	struct config cfg;
	struct load_result r;

	assert_int_equal(config_init(&cfg), PC_OK);
	load_yaml(state, "cache:\n  dir: [unclosed\n", &cfg, &r);
	assert_int_equal(r.err, PC_ERR_INVALID);
	assert_int_equal(r.problems, 1);
	assert_int_equal(strncmp(r.errors, r.path, strlen(r.path)), 0);
	assert_non_null(strstr(r.errors, "invalid YAML"));
	assert_null(cfg.source);
	free(r.errors);

	load_yaml(state, "cache:\n  dir: a\ncache:\n  dir: b\n", &cfg, &r);
	assert_int_equal(r.err, PC_ERR_INVALID);
	assert_int_equal(r.problems, 1);
	assert_non_null(strstr(r.errors, ":3: duplicate key"));
	free(r.errors);

	load_yaml(state, "- a\n- b\n", &cfg, &r);
	assert_int_equal(r.err, PC_ERR_INVALID);
	assert_int_equal(r.problems, 1);
	assert_non_null(strstr(r.errors, "must be a mapping"));
	free(r.errors);

	load_yaml(state, "a: &x 1\n", &cfg, &r);
	assert_int_not_equal(r.err, PC_OK);
	assert_int_equal(r.problems, 1);
	free(r.errors);
	config_free(&cfg);
}

static void
test_config_missing_file(void **state)
{
	struct tmpdir *t = *state;
	struct config cfg;
	char path[128];
	char *text = NULL;
	size_t len = 0;
	FILE *errors = open_memstream(&text, &len);
	int problems = 0;

	assert_non_null(errors);
	snprintf(path, sizeof(path), "%s/absent.yaml", t->dir);
	assert_int_equal(config_init(&cfg), PC_OK);
	assert_int_equal(config_load_file(&cfg, path, errors, &problems), PC_ERR_IO);
	assert_int_equal(fclose(errors), 0);
	assert_int_equal(problems, 1);
	assert_int_equal(strncmp(text, path, strlen(path)), 0);
	assert_null(cfg.source);
	free(text);
	config_free(&cfg);
}

static void
test_config_reload_over_loaded(void **state)
{
	struct config cfg;
	struct load_result r;

	load_clean(state, "cache:\n  dir: /first\nlisten:\n  - address: :1\n", &cfg);
	load_yaml(state, "cache:\n  dir: /second\n", &cfg, &r);
	assert_int_equal(r.err, PC_OK);
	assert_string_equal(cfg.cache_dir, "/second");
	/* Keys the second file leaves out keep their loaded values. */
	assert_int_equal(cfg.n_listeners, 1);
	assert_string_equal(cfg.listeners[0].address, ":1");
	free(r.errors);
	config_free(&cfg);
}

static void
test_config_upstream_arg(void **state)
{
	struct config cfg;
	char err[256];

	assert_int_equal(config_init(&cfg), PC_OK);
	assert_int_equal(config_add_upstream_arg(&cfg, "https://registry-1.docker.io",
	    err, sizeof(err)), PC_OK);
	assert_int_equal(config_add_upstream_arg(&cfg, "quay=https://quay.io",
	    err, sizeof(err)), PC_OK);
	assert_int_equal(config_add_upstream_arg(&cfg, "http://127.0.0.1:5000/v2/",
	    err, sizeof(err)), PC_OK);
	assert_int_equal(config_add_upstream_arg(&cfg, "https://h.example/p?a=b",
	    err, sizeof(err)), PC_OK);
	assert_int_equal(config_add_upstream_arg(&cfg, "local=http://127.0.0.1:5001/x?y=z",
	    err, sizeof(err)), PC_OK);

	assert_int_equal(cfg.n_upstreams, 5);
	assert_string_equal(cfg.upstreams[0].name, "registry-1.docker.io");
	assert_string_equal(cfg.upstreams[0].url, "https://registry-1.docker.io");
	assert_true(cfg.upstreams[0].tls_verify);
	assert_true(cfg.upstreams[0].http2);
	assert_string_equal(cfg.upstreams[1].name, "quay");
	assert_string_equal(cfg.upstreams[1].url, "https://quay.io");
	assert_string_equal(cfg.upstreams[2].name, "127.0.0.1:5000");
	/* An '=' after "://" belongs to the URL, not to a name. */
	assert_string_equal(cfg.upstreams[3].name, "h.example");
	assert_string_equal(cfg.upstreams[3].url, "https://h.example/p?a=b");
	assert_string_equal(cfg.upstreams[4].name, "local");
	assert_string_equal(cfg.upstreams[4].url, "http://127.0.0.1:5001/x?y=z");
	config_free(&cfg);
}

static void
test_config_upstream_arg_invalid(void **state)
{
	static const char *const bad[] = {
		"registry-1.docker.io",
		"quay=quay.io",
		"ftp://quay.io",
		"https://",
		"https:///v2/",
		"https://user:secret@quay.io",
		"name=",
		"",
		"=",
	};
	struct config cfg;
	char err[256];

	assert_int_equal(config_init(&cfg), PC_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (config_add_upstream_arg(&cfg, bad[i], err, sizeof(err)) != PC_ERR_INVALID)
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_non_null(strstr(err, "invalid upstream URL"));
	}
	assert_int_equal(cfg.n_upstreams, 0);
	config_free(&cfg);
}

static void
test_config_upstream_arg_empty_name(void **state)
{
	struct config cfg;
	char err[256];

	/* An empty name could never be selected by ns= or a path prefix. */
	assert_int_equal(config_init(&cfg), PC_OK);
	assert_int_equal(config_add_upstream_arg(&cfg, "=https://quay.io", err,
	    sizeof(err)), PC_ERR_INVALID);
	assert_int_equal(cfg.n_upstreams, 0);
	config_free(&cfg);
}

static void
test_config_upstream_arg_limit(void **state)
{
	struct config cfg;
	char arg[64];
	char err[256];

	assert_int_equal(config_init(&cfg), PC_OK);
	for (int i = 0; i < CONFIG_MAX_UPSTREAMS; i++) {
		snprintf(arg, sizeof(arg), "u%d=http://127.0.0.1:%d", i, 6000 + i);
		assert_int_equal(config_add_upstream_arg(&cfg, arg, err, sizeof(err)), PC_OK);
	}
	assert_int_equal(config_add_upstream_arg(&cfg, "last=http://127.0.0.1:7000",
	    err, sizeof(err)), PC_ERR_LIMIT);
	assert_non_null(strstr(err, "32"));
	assert_int_equal(cfg.n_upstreams, CONFIG_MAX_UPSTREAMS);
	config_free(&cfg);
}

static void
test_config_listener_arg(void **state)
{
	struct config cfg;
	char address[32];

	assert_int_equal(config_init(&cfg), PC_OK);
	assert_int_equal(config_add_listener_arg(&cfg, "127.0.0.1:5000"), PC_OK);
	assert_int_equal(cfg.n_listeners, 1);
	assert_string_equal(cfg.listeners[0].address, "127.0.0.1:5000");
	assert_null(cfg.listeners[0].tls_cert);
	assert_false(cfg.listeners[0].tls_client_required);
	for (int i = 1; i < CONFIG_MAX_LISTENERS; i++) {
		snprintf(address, sizeof(address), ":%d", 5000 + i);
		assert_int_equal(config_add_listener_arg(&cfg, address), PC_OK);
	}
	assert_int_equal(config_add_listener_arg(&cfg, ":6000"), PC_ERR_LIMIT);
	assert_int_equal(cfg.n_listeners, CONFIG_MAX_LISTENERS);
	config_free(&cfg);
}

static void
test_config_clear_lists(void **state)
{
	struct config cfg;
	char err[256];

	load_clean(state,
	    "listen:\n"
	    "  - address: :5000\n"
	    "    tls: {cert: /c, key: /k}\n"
	    "  - address: :5001\n"
	    "upstreams:\n"
	    "  - url: https://a.example\n"
	    "    realm_hosts: [auth.a.example]\n"
	    "  - url: https://b.example\n", &cfg);
	assert_int_equal(cfg.n_listeners, 2);
	assert_int_equal(cfg.n_upstreams, 2);

	config_clear_listeners(&cfg);
	assert_int_equal(cfg.n_listeners, 0);
	assert_null(cfg.listeners[0].address);
	assert_null(cfg.listeners[0].tls_cert);
	config_clear_upstreams(&cfg);
	assert_int_equal(cfg.n_upstreams, 0);
	assert_null(cfg.upstreams[0].url);
	assert_int_equal(cfg.upstreams[0].n_realm_hosts, 0);

	/* Flags then fill the emptied lists from index 0. */
	assert_int_equal(config_add_listener_arg(&cfg, ":6000"), PC_OK);
	assert_int_equal(config_add_upstream_arg(&cfg, "c=https://c.example", err,
	    sizeof(err)), PC_OK);
	assert_string_equal(cfg.listeners[0].address, ":6000");
	assert_null(cfg.listeners[0].tls_cert);
	assert_string_equal(cfg.upstreams[0].name, "c");
	assert_int_equal(cfg.upstreams[0].n_realm_hosts, 0);
	/* Top-level options survive the clearing. */
	assert_string_equal(cfg.cache_dir, "/var/cache/portcullis");
	config_free(&cfg);
}

static void
test_config_url_host(void **state)
{
	static const struct {
		const char *url;
		const char *host;
	} cases[] = {
		{"https://host:5000/x", "host:5000"},
		{"http://h", "h"},
		{"https://registry-1.docker.io/", "registry-1.docker.io"},
		{"https://h?x=1", "h"},
		{"https://h#frag", "h"},
		{"http://[::1]:5000/v2/", "[::1]:5000"},
	};
	static const char *const bad[] = {
		"host", "host:5000", "ftp://h", "https://", "https:///x",
		"https://u@h", "https://u:p@h/", "//h", "",
	};
	char out[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (config_url_host(cases[i].url, out, sizeof(out)) != PC_OK)
			fail_msg("\"%s\" was rejected", cases[i].url);
		assert_string_equal(out, cases[i].host);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (config_url_host(bad[i], out, sizeof(out)) != PC_ERR_INVALID)
			fail_msg("\"%s\" was accepted", bad[i]);
	}
	/* A host that does not fit is rejected, never cut. */
	assert_int_equal(config_url_host("https://abcdefgh", out, 8), PC_ERR_INVALID);
	assert_int_equal(config_url_host("https://abcdefg", out, 8), PC_OK);
	assert_string_equal(out, "abcdefg");
}

/* Runs config_validate on cfg and returns what it wrote. */
static char *
validate(const struct config *cfg, int *err, int *problems)
{
	char *text = NULL;
	size_t len = 0;
	FILE *errors = open_memstream(&text, &len);

	assert_non_null(errors);
	*problems = 0;
	*err = config_validate(cfg, errors, problems);
	assert_int_equal(fclose(errors), 0);
	return text;
}

static void
test_config_validate_valid(void **state)
{
	struct config cfg;
	char *text;
	int err;
	int problems;

	load_clean(state, "listen:\n  - address: :5000\nupstreams:\n"
	    "  - url: https://registry-1.docker.io\n", &cfg);
	text = validate(&cfg, &err, &problems);
	assert_int_equal(err, PC_OK);
	assert_int_equal(problems, 0);
	assert_string_equal(text, "");
	free(text);
	config_free(&cfg);
}

static void
test_config_validate_empty(void **state)
{
	struct config cfg;
	char *text;
	int err;
	int problems;

	assert_int_equal(config_init(&cfg), PC_OK);
	text = validate(&cfg, &err, &problems);
	assert_int_equal(err, PC_ERR_INVALID);
	assert_int_equal(problems, 2);
	assert_non_null(strstr(text, "command line: no listener"));
	assert_non_null(strstr(text, "command line: no upstream"));
	free(text);

	/* Offline needs no upstream. */
	cfg.offline = true;
	text = validate(&cfg, &err, &problems);
	assert_int_equal(problems, 1);
	assert_null(strstr(text, "no upstream"));
	free(text);
	config_free(&cfg);
}

static void
test_config_validate_tls_pairs(void **state)
{
	struct config cfg;
	char *text;
	int err;
	int problems;

	load_clean(state,
	    "listen:\n"
	    "  - address: :5000\n"
	    "    tls: {cert: /c.pem}\n"
	    "  - address: :5001\n"
	    "    tls: {key: /k.pem}\n"
	    "  - address: :5002\n"
	    "    tls: {client_ca: /ca.pem}\n"
	    "upstreams:\n"
	    "  - url: https://a.example\n", &cfg);
	text = validate(&cfg, &err, &problems);
	assert_int_equal(err, PC_ERR_INVALID);
	assert_int_equal(problems, 3);
	assert_non_null(strstr(text, "listener :5000: tls needs both cert and key"));
	assert_non_null(strstr(text, "listener :5001: tls needs both cert and key"));
	assert_non_null(strstr(text, "listener :5002: client_ca needs a TLS listener"));
	/* Problems name the file they came from. */
	assert_int_equal(strncmp(text, cfg.source, strlen(cfg.source)), 0);
	free(text);
	config_free(&cfg);
}

static void
test_config_validate_upstreams(void **state)
{
	struct config cfg;
	char *text;
	int err;
	int problems;

	load_clean(state,
	    "listen:\n  - address: :5000\n"
	    "upstreams:\n"
	    "  - name: a\n    url: https://a.example\n"
	    "  - name: a\n    url: https://b.example\n"
	    "  - name: c\n    url: registry.example\n"
	    "  - name: d\n", &cfg);
	text = validate(&cfg, &err, &problems);
	assert_int_equal(err, PC_ERR_INVALID);
	assert_int_equal(problems, 3);
	assert_non_null(strstr(text, "two upstreams are named a"));
	assert_non_null(strstr(text, "upstream c: missing or invalid url"));
	assert_non_null(strstr(text, "upstream d: missing or invalid url"));
	free(text);
	config_free(&cfg);
}

static void
test_config_validate_log_level(void **state)
{
	struct config cfg;
	char *text;
	int err;
	int problems;

	load_clean(state, "listen:\n  - address: :5000\noffline: true\n"
	    "log:\n  level: verbose\n", &cfg);
	text = validate(&cfg, &err, &problems);
	assert_int_equal(err, PC_ERR_INVALID);
	assert_int_equal(problems, 1);
	assert_non_null(strstr(text, "\"verbose\""));
	free(text);
	config_free(&cfg);
}

static void
test_config_validate_adds_to_count(void **state)
{
	struct config cfg;
	int problems = 3;

	/* The count grows from its value, so load and validation problems add up. */
	assert_int_equal(config_init(&cfg), PC_OK);
	cfg.offline = true;
	assert_int_equal(config_add_listener_arg(&cfg, ":5000"), PC_OK);
	assert_int_equal(config_validate(&cfg, stderr, &problems), PC_ERR_INVALID);
	assert_int_equal(problems, 3);
	config_free(&cfg);
}

static void
test_config_print_reference(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	config_print_reference(out);
	assert_int_equal(fclose(out), 0);
	assert_non_null(strstr(text, "| `cache/max_bytes` | size | 20GiB | no |"));
	assert_non_null(strstr(text, "| `cache/tag_ttl` | duration | 300 | yes |"));
	assert_non_null(strstr(text, "| `listen/*/address` | string | - | no |"));
	assert_non_null(strstr(text, "| `upstreams/*/realm_hosts` | list of strings |"));
	free(text);
}

/* True when cfg contains every setting of the allocation-failure file. */
static bool
alloc_file_loaded(const struct config *cfg)
{
	return cfg->n_listeners == 1 && cfg->listeners[0].address != NULL &&
	    cfg->n_upstreams == 1 && cfg->upstreams[0].url != NULL &&
	    cfg->upstreams[0].name != NULL &&
	    strcmp(cfg->upstreams[0].name, "a.example") == 0 &&
	    cfg->upstreams[0].n_realm_hosts == 1 && cfg->cache_dir != NULL &&
	    strcmp(cfg->cache_dir, "/srv") == 0 && cfg->source != NULL;
}

static void
test_config_allocation_failures(void **state)
{
	static const char yaml[] =
	    "listen:\n  - address: :5000\n"
	    "upstreams:\n  - url: https://a.example\n    realm_hosts: [x]\n"
	    "cache:\n  dir: /srv\n";
	bool loaded = false;
	int wrong = 0;

	pc_alloc_init();
	for (long n = 0; n < 400 && !loaded; n++) {
		struct config cfg;
		struct load_result r;

		assert_int_equal(config_init(&cfg), PC_OK);
		pc_alloc_fail_after(n);
		load_yaml(state, yaml, &cfg, &r);
		pc_alloc_fail_after(-1);

		/* Out of memory is reported as such, never as a bad file. */
		if (r.err == PC_OK && alloc_file_loaded(&cfg)) {
			loaded = true;
		} else if (r.err == PC_OK) {
			print_message("allocation %ld failing gave PC_OK with a "
			    "setting missing\n", n);
			wrong++;
		} else if (r.err != PC_ERR_NOMEM) {
			print_message("allocation %ld failing gave %d: %s", n, r.err,
			    r.errors);
			wrong++;
		}
		free(r.errors);
		config_free(&cfg);
	}
	assert_true(loaded);
	assert_int_equal(wrong, 0);
}

#define TMPDIR_TEST(f) cmocka_unit_test_setup_teardown(f, tmpdir_setup, tmpdir_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),
		TMPDIR_TEST(test_config_full_file),
		TMPDIR_TEST(test_config_list_entry_defaults),
		TMPDIR_TEST(test_config_empty_file_keeps_defaults),
		TMPDIR_TEST(test_config_null_value_keeps_default),
		cmocka_unit_test(test_config_parse_size_units),
		cmocka_unit_test(test_config_parse_size_rejects),
		TMPDIR_TEST(test_config_sizes_in_file),
		TMPDIR_TEST(test_config_durations),
		TMPDIR_TEST(test_config_number_bounds),
		TMPDIR_TEST(test_config_type_errors),
		TMPDIR_TEST(test_config_realm_hosts_list),
		TMPDIR_TEST(test_config_unknown_key_suggestion),
		TMPDIR_TEST(test_config_unknown_key_without_suggestion),
		TMPDIR_TEST(test_config_slash_in_key_is_not_a_path),
		TMPDIR_TEST(test_config_numeric_keys_are_not_a_list),
		TMPDIR_TEST(test_config_every_problem_reported),
		TMPDIR_TEST(test_config_listener_limit),
		TMPDIR_TEST(test_config_long_string_kept_whole),
		TMPDIR_TEST(test_config_yaml_errors),
		TMPDIR_TEST(test_config_missing_file),
		TMPDIR_TEST(test_config_reload_over_loaded),
		cmocka_unit_test(test_config_upstream_arg),
		cmocka_unit_test(test_config_upstream_arg_invalid),
		cmocka_unit_test(test_config_upstream_arg_empty_name),
		cmocka_unit_test(test_config_upstream_arg_limit),
		cmocka_unit_test(test_config_listener_arg),
		TMPDIR_TEST(test_config_clear_lists),
		cmocka_unit_test(test_config_url_host),
		TMPDIR_TEST(test_config_validate_valid),
		cmocka_unit_test(test_config_validate_empty),
		TMPDIR_TEST(test_config_validate_tls_pairs),
		TMPDIR_TEST(test_config_validate_upstreams),
		TMPDIR_TEST(test_config_validate_log_level),
		cmocka_unit_test(test_config_validate_adds_to_count),
		cmocka_unit_test(test_config_print_reference),
		TMPDIR_TEST(test_config_allocation_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
