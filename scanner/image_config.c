#include "scanner/image_config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "scanner/secrets.h"
#include "scanner/text_utf8.h"

/* Maximum length of a variable name quoted in a message; longer names are cut. */
#define ENV_NAME_MAX 128U

/* Appends a finding; message is repaired in place if cut mid-character. */
static int
add_finding(json_t *findings, const char *id, const char *severity,
    char *message)
{
	json_t *finding;

	text_utf8_sanitize(message);
	finding = json_pack("{s:s, s:s, s:s}", "id", id, "severity", severity,
	    "message", message);

	if (finding == NULL)
		return PC_ERR_NOMEM;
	return json_array_append_new(findings, finding) == 0 ? PC_OK :
	    PC_ERR_NOMEM;
}

/* True for "", "root", "0", "root:<group>" and "0:<group>". */
static bool
user_is_root(const char *user)
{
	size_t name_len = strcspn(user, ":");

	if (user[0] == '\0')
		return true;
	return (name_len == 4 && strncmp(user, "root", 4) == 0) ||
	    (name_len == 1 && user[0] == '0');
}

static int
check_user(const char *user, json_t *findings)
{
	char message[256];

	if (!user_is_root(user))
		return PC_OK;
	if (user[0] == '\0')
		snprintf(message, sizeof(message), "the image sets no user, so "
		    "containers run as root: set USER to an unprivileged user");
	else
		snprintf(message, sizeof(message), "the image runs as user "
		    "\"%.64s\", which is root: set USER to an unprivileged user",
		    user);
	return add_finding(findings, "root_user", "high", message);
}

static int
compare_strings(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a),
	    json_string_value(*(json_t *const *)b));
}

/* Port number of "22/tcp" or "22"; -1 when not a number. */
static long
port_number(const char *spec)
{
	char *end;
	long port = strtol(spec, &end, 10);

	if (end == spec || (*end != '\0' && *end != '/'))
		return -1;
	return port;
}

/* Fills ports with the ExposedPorts keys, sorted, and reports port 22. */
static int
check_ports(const json_t *exposed, json_t *ports, json_t *findings)
{
	const char *key;
	json_t *value;
	json_t *sorted[IMAGE_CONFIG_MAX_PORTS];
	size_t n = 0;
	int err = PC_OK;

	if (!json_is_object(exposed))
		return PC_OK;
	json_object_foreach((json_t *)exposed, key, value) {
		if (n == IMAGE_CONFIG_MAX_PORTS)
			break;
		sorted[n] = json_string(key);
		if (sorted[n] == NULL) {
			err = PC_ERR_NOMEM;
			break;
		}
		n++;
	}
	qsort(sorted, n, sizeof(sorted[0]), compare_strings);

	for (size_t i = 0; i < n; i++) {
		const char *spec = json_string_value(sorted[i]);
		char message[256];

		if (err == PC_OK && port_number(spec) == 22) {
			snprintf(message, sizeof(message), "the image exposes "
			    "port %.32s, the SSH port: containers should not "
			    "run an SSH server", spec);
			err = add_finding(findings, "ssh_port", "medium", message);
		}
		if (err == PC_OK && json_array_append(ports, sorted[i]) != 0)
			err = PC_ERR_NOMEM;
		json_decref(sorted[i]);
	}
	return err;
}

/* True when an upper-cased variable name looks like a credential. */
static bool
env_name_is_secret(const char *name)
{
	static const char *const exact[] = {
		"TOKEN", "SECRET", "PASSWORD", "API_KEY", "AWS_SECRET_ACCESS_KEY",
		"GITHUB_TOKEN",
	};
	static const char *const suffixes[] = {
		"_TOKEN", "_SECRET", "_PASSWORD", "_PASSWD", "_API_KEY",
		"_APIKEY", "_SECRET_KEY", "_PRIVATE_KEY", "_ACCESS_TOKEN",
	};
	size_t len = strlen(name);

	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
		if (strcmp(name, exact[i]) == 0)
			return true;
	}
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t slen = strlen(suffixes[i]);

		if (len > slen && strcmp(name + len - slen, suffixes[i]) == 0)
			return true;
	}
	return false;
}

/* Checks one "NAME=value" entry of Env. */
static int
check_env_entry(const char *entry, json_t *findings)
{
	const char *eq = strchr(entry, '=');
	char name[ENV_NAME_MAX + 1];
	char message[512];
	const char *value;
	size_t name_len;
	json_t *matches;
	int err;

	if (eq == NULL || eq[1] == '\0')
		return PC_OK;
	value = eq + 1;
	name_len = (size_t)(eq - entry);
	if (name_len > ENV_NAME_MAX)
		name_len = ENV_NAME_MAX;
	for (size_t i = 0; i < name_len; i++)
		name[i] = (char)toupper((unsigned char)entry[i]);
	name[name_len] = '\0';

	matches = json_array();
	if (matches == NULL)
		return PC_ERR_NOMEM;
	err = secrets_scan_buffer((const unsigned char *)value, strlen(value),
	    NULL, 1, matches);
	if (err == PC_OK && json_array_size(matches) > 0) {
		json_t *match = json_array_get(matches, 0);

		snprintf(message, sizeof(message), "environment variable %.*s "
		    "holds a value that matches the rule \"%s\": pass secrets "
		    "at run time instead", (int)name_len, entry,
		    json_string_value(json_object_get(match, "title")));
		err = add_finding(findings, "env_secret", json_string_value(
		    json_object_get(match, "severity")), message);
	} else if (err == PC_OK && env_name_is_secret(name)) {
		snprintf(message, sizeof(message), "environment variable %.*s "
		    "is named like a credential and has a value baked into the "
		    "image: pass secrets at run time instead", (int)name_len,
		    entry);
		err = add_finding(findings, "env_secret", "high", message);
	}
	json_decref(matches);
	return err;
}

static int
check_env(const json_t *env, json_t *findings)
{
	size_t i;
	json_t *item;
	int err = PC_OK;

	if (!json_is_array(env))
		return PC_OK;
	json_array_foreach(env, i, item) {
		if (i == IMAGE_CONFIG_MAX_ENV)
			break;
		if (!json_is_string(item))
			continue;
		err = check_env_entry(json_string_value(item), findings);
		if (err != PC_OK)
			break;
	}
	return err;
}

int
image_config_analyze(const json_t *config, json_t **config_report)
{
	const json_t *inner;
	const char *user;
	json_t *report = NULL;
	int err;

	*config_report = NULL;
	if (!json_is_object(config))
		return PC_ERR_INVALID;
	inner = json_object_get(config, "config");
	if (!json_is_object(inner))
		inner = config;
	user = json_string_value(json_object_get(inner, "User"));
	if (user == NULL)
		user = "";

	report = json_pack("{s:s, s:[], s:[]}", "user", user, "exposed_ports",
	    "findings");
	if (report == NULL)
		return PC_ERR_NOMEM;

	err = check_user(user, json_object_get(report, "findings"));
	if (err == PC_OK)
		err = check_ports(json_object_get(inner, "ExposedPorts"),
		    json_object_get(report, "exposed_ports"),
		    json_object_get(report, "findings"));
	if (err == PC_OK)
		err = check_env(json_object_get(inner, "Env"),
		    json_object_get(report, "findings"));
	if (err != PC_OK) {
		json_decref(report);
		return err;
	}
	*config_report = report;
	return PC_OK;
}
