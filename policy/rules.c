#include <math.h>
#include <string.h>

#include "common/error.h"
#include "policy/policy_internal.h"
#include "policy/rule_checks.h"

/* Maximum length of a version inside a constraint, in bytes. */
#define CONSTRAINT_MAX_VERSION 256
/* Maximum length of the JSON pointer of a setting, in bytes. */
#define POINTER_MAX (2 * POLICY_MAX_STRING + 64)
/* Maximum max_image_age, in days (about 270 years). */
#define POLICY_MAX_DAYS 100000

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct setting_def vulnerabilities_settings[] = {
	{"points", SETTING_POINTS, false},
	{"only_fixed", SETTING_BOOL, false},
	{"unknown", SETTING_UNKNOWN_AS, false},
	{"max_severity", SETTING_SEVERITY, false},
};
static const struct setting_def secrets_settings[] = {
	{"points", SETTING_NUMBER, false},
};
static const struct setting_def setuid_settings[] = {
	{"allow", SETTING_GLOBS, false},
	{"points", SETTING_NUMBER, false},
	{"setgid", SETTING_BOOL, false},
};
static const struct setting_def banned_settings[] = {
	{"packages", SETTING_BANNED, true},
};
static const struct setting_def repositories_settings[] = {
	{"repositories", SETTING_GLOBS, true},
};
static const struct setting_def age_settings[] = {
	{"days", SETTING_DAYS, true},
};
static const struct setting_def size_settings[] = {
	{"bytes", SETTING_SIZE, true},
};

const struct rule_def policy_rules[] = {
	{"vulnerabilities", vulnerabilities_settings,
	    NELEM(vulnerabilities_settings), check_vulnerabilities,
	    defaults_vulnerabilities},
	{"secrets", secrets_settings, NELEM(secrets_settings), check_secrets,
	    NULL},
	{"root_user", NULL, 0, check_root_user, NULL},
	{"setuid_files", setuid_settings, NELEM(setuid_settings),
	    check_setuid_files, defaults_setuid_files},
	{"banned_packages", banned_settings, NELEM(banned_settings),
	    check_banned_packages, NULL},
	{"allowed_repositories", repositories_settings,
	    NELEM(repositories_settings), check_allowed_repositories, NULL},
	{"max_image_age", age_settings, NELEM(age_settings),
	    check_max_image_age, NULL},
	{"max_image_size", size_settings, NELEM(size_settings),
	    check_max_image_size, NULL},
	{"scan_error", NULL, 0, check_scan_error, NULL},
};
const size_t policy_rule_count = NELEM(policy_rules);

static const char *const severity_words[] = {"critical", "high", "medium",
    "low"};
static const char *const points_keys[] = {"critical", "high", "medium",
    "low", "unknown"};
static const char *const package_types[] = {"deb", "apk", "rpm", "pypi",
    "npm", "go", "maven"};
static const char *const banned_keys[] = {"name", "versions", "type"};

const struct rule_def *
rule_find(const char *name)
{
	for (size_t i = 0; i < policy_rule_count; i++)
		if (strcmp(policy_rules[i].name, name) == 0)
			return &policy_rules[i];
	return NULL;
}

static bool
word_in(const char *word, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(word, words[i]) == 0)
			return true;
	return false;
}

static json_t *
normalize_number(const json_t *v, const char *pointer, const char *key,
    struct problems *pr)
{
	double d;

	if (!json_is_number(v)) {
		problem_add(pr, pointer, "%s: expected a number >= 0", key);
		return NULL;
	}
	d = json_number_value(v);
	if (!isfinite(d) || d < 0) {
		problem_add(pr, pointer, "%s: expected a number >= 0, got %g",
		    key, d);
		return NULL;
	}
	return json_real(d);
}

static json_t *
normalize_severity(const json_t *v, const char *pointer, const char *key,
    struct problems *pr)
{
	const char *s = json_string_value(v);

	if (s == NULL || !word_in(s, severity_words, NELEM(severity_words))) {
		problem_add(pr, pointer, "%s: expected critical, high, medium "
		    "or low", key);
		return NULL;
	}
	return json_string(s);
}

static json_t *
normalize_points(const json_t *v, const char *pointer, struct problems *pr)
{
	char child[POINTER_MAX];
	json_t *out;
	const char *k;
	json_t *item;

	if (!json_is_object(v)) {
		problem_add(pr, pointer, "points: expected a mapping of severity "
		    "to points");
		return NULL;
	}
	out = json_object();
	json_object_foreach((json_t *)v, k, item) {
		const char *at = pointer_join(child, sizeof(child), pointer, k);
		json_t *n;

		if (!word_in(k, points_keys, NELEM(points_keys))) {
			problem_unknown_key(pr, at, "severity", k, points_keys,
			    NELEM(points_keys));
			continue;
		}
		n = normalize_number(item, at, k, pr);
		if (n != NULL && out != NULL)
			json_object_set_new(out, k, n);
		else
			json_decref(n);
	}
	return out;
}

static json_t *
normalize_string(const json_t *v, const char *pointer, const char *what,
    struct problems *pr)
{
	const char *s = json_string_value(v);

	if (s == NULL || s[0] == '\0') {
		problem_add(pr, pointer, "%s: expected a non-empty string", what);
		return NULL;
	}
	if (strlen(s) > POLICY_MAX_STRING) {
		problem_add(pr, pointer, "%s: longer than %d bytes", what,
		    POLICY_MAX_STRING);
		return NULL;
	}
	return json_string(s);
}

int
constraint_next(const char **p, char op[3], char *version, size_t version_len)
{
	const char *s = *p;
	size_t oplen, vlen;

	while (*s == ' ')
		s++;
	if (*s == '\0')
		return PC_ERR_NOTFOUND;
	oplen = strspn(s, "<>=!");
	if (oplen == 0 || oplen > 2)
		return PC_ERR_INVALID;
	if (!(oplen == 1 && strchr("<>=", s[0]) != NULL) &&
	    strncmp(s, "<=", 2) != 0 && strncmp(s, ">=", 2) != 0 &&
	    strncmp(s, "!=", 2) != 0 && strncmp(s, "==", 2) != 0)
		return PC_ERR_INVALID;
	if (oplen == 2 && s[0] == '=') {
		op[0] = '=';
		op[1] = '\0';
	} else {
		memcpy(op, s, oplen);
		op[oplen] = '\0';
	}
	s += oplen;
	while (*s == ' ')
		s++;
	vlen = strcspn(s, " ,");
	if (vlen == 0 || vlen >= version_len)
		return PC_ERR_INVALID;
	memcpy(version, s, vlen);
	version[vlen] = '\0';
	s += vlen;
	while (*s == ' ')
		s++;
	if (*s == ',')
		s++;
	else if (*s != '\0')
		return PC_ERR_INVALID;
	*p = s;
	return PC_OK;
}

static bool
constraint_valid(const char *s)
{
	char op[3], version[CONSTRAINT_MAX_VERSION];
	int clauses = 0;
	int err;

	while ((err = constraint_next(&s, op, version, sizeof(version))) == PC_OK)
		clauses++;
	return err == PC_ERR_NOTFOUND && clauses > 0;
}

static json_t *
normalize_ban(const json_t *v, const char *pointer, const char *key,
    struct problems *pr)
{
	char child[POINTER_MAX];
	json_t *out;
	const char *k;
	json_t *item;

	if (json_is_string(v))
		return json_pack("{s:O}", "name", v);
	if (!json_is_object(v)) {
		problem_add(pr, pointer, "%s: expected a package name or a "
		    "mapping with name, versions and type", key);
		return NULL;
	}
	out = json_object();
	json_object_foreach((json_t *)v, k, item) {
		const char *at = pointer_join(child, sizeof(child), pointer, k);
		json_t *n = NULL;

		if (!word_in(k, banned_keys, NELEM(banned_keys))) {
			problem_unknown_key(pr, at, "key", k, banned_keys,
			    NELEM(banned_keys));
			continue;
		}
		n = normalize_string(item, at, k, pr);
		if (n == NULL)
			continue;
		if (strcmp(k, "versions") == 0 &&
		    !constraint_valid(json_string_value(n))) {
			problem_add(pr, at, "versions: invalid constraint '%s' "
			    "(expected e.g. '< 1.2.3' or '>= 1.0, < 2.0')",
			    json_string_value(n));
			json_decref(n);
			continue;
		}
		if (strcmp(k, "type") == 0 && !word_in(json_string_value(n),
		    package_types, NELEM(package_types))) {
			problem_add(pr, at, "type: expected deb, apk, rpm, pypi, "
			    "npm, go or maven, got '%s'", json_string_value(n));
			json_decref(n);
			continue;
		}
		if (out != NULL)
			json_object_set_new(out, k, n);
		else
			json_decref(n);
	}
	if (json_object_get(v, "name") == NULL)
		problem_add(pr, pointer, "%s: entry has no name", key);
	return out;
}

/*
 * Normalizes a list setting: each entry through normalize_entry, problems
 * pointing at the entry.
 */
static json_t *
normalize_list(const json_t *v, const char *pointer, const char *key,
    json_t *(*normalize_entry)(const json_t *, const char *, const char *,
    struct problems *), struct problems *pr)
{
	char child[POINTER_MAX];
	json_t *out, *item;
	size_t i;

	if (!json_is_array(v)) {
		problem_add(pr, pointer, "%s: expected a list", key);
		return NULL;
	}
	if (json_array_size(v) > POLICY_MAX_LIST_ENTRIES) {
		problem_add(pr, pointer, "%s: more than %d entries", key,
		    POLICY_MAX_LIST_ENTRIES);
		return NULL;
	}
	out = json_array();
	json_array_foreach(v, i, item) {
		char index[24];
		json_t *entry;

		snprintf(index, sizeof(index), "%zu", i);
		pointer_join(child, sizeof(child), pointer, index);
		entry = normalize_entry(item, child, key, pr);
		/* append_new releases the entry when out is NULL */
		if (entry != NULL)
			json_array_append_new(out, entry);
	}
	return out;
}

static json_t *
normalize_days(const json_t *v, const char *pointer, const char *key,
    struct problems *pr)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > POLICY_MAX_DAYS) {
		problem_add(pr, pointer, "%s: expected a whole number of days "
		    "from 0 to %d", key, POLICY_MAX_DAYS);
		return NULL;
	}
	return json_integer(json_integer_value(v));
}

static json_t *
normalize_size(const json_t *v, const char *pointer, const char *key,
    struct problems *pr)
{
	uint64_t bytes;

	if (json_is_integer(v) && json_integer_value(v) >= 0)
		return json_integer(json_integer_value(v));
	if (json_is_string(v) &&
	    policy_parse_size(json_string_value(v), &bytes) == PC_OK &&
	    bytes <= (uint64_t)INT64_MAX)
		return json_integer((json_int_t)bytes);
	problem_add(pr, pointer, "%s: expected a size in bytes such as "
	    "524288000, \"500MiB\" or \"2GB\"", key);
	return NULL;
}

static json_t *
normalize_setting(const struct setting_def *def, const json_t *v,
    const char *pointer, struct problems *pr)
{
	switch (def->type) {
	case SETTING_NUMBER:
		return normalize_number(v, pointer, def->key, pr);
	case SETTING_BOOL:
		if (!json_is_boolean(v)) {
			problem_add(pr, pointer, "%s: expected true or false",
			    def->key);
			return NULL;
		}
		return json_incref((json_t *)v);
	case SETTING_POINTS:
		return normalize_points(v, pointer, pr);
	case SETTING_SEVERITY:
		return normalize_severity(v, pointer, def->key, pr);
	case SETTING_UNKNOWN_AS:
		if (json_is_number(v))
			return normalize_number(v, pointer, def->key, pr);
		return normalize_severity(v, pointer, def->key, pr);
	case SETTING_GLOBS:
		return normalize_list(v, pointer, def->key, normalize_string, pr);
	case SETTING_BANNED:
		return normalize_list(v, pointer, def->key, normalize_ban, pr);
	case SETTING_DAYS:
		return normalize_days(v, pointer, def->key, pr);
	case SETTING_SIZE:
		return normalize_size(v, pointer, def->key, pr);
	}
	return NULL;
}

/* The keys a rule accepts: weight, block and its own settings. */
static size_t
rule_keys(const struct rule_def *def, const char **keys, size_t max)
{
	size_t n = 0;

	keys[n++] = "weight";
	keys[n++] = "block";
	for (size_t i = 0; i < def->nsettings && n < max; i++)
		keys[n++] = def->settings[i].key;
	return n;
}

static const struct setting_def *
setting_find(const struct rule_def *def, const char *key)
{
	for (size_t i = 0; i < def->nsettings; i++)
		if (strcmp(def->settings[i].key, key) == 0)
			return &def->settings[i];
	return NULL;
}

/* Normalizes each key of in into out; problems go to pr. */
static void
normalize_keys(const struct rule_def *def, const json_t *in,
    const char *pointer, struct problems *pr, json_t *out)
{
	static const struct setting_def weight = {"weight", SETTING_NUMBER,
	    false};
	static const struct setting_def block = {"block", SETTING_BOOL, false};
	const char *keys[16];
	size_t nkeys = rule_keys(def, keys, NELEM(keys));
	char child[POINTER_MAX];
	const char *k;
	json_t *item;

	json_object_foreach((json_t *)in, k, item) {
		const char *at = pointer_join(child, sizeof(child), pointer, k);
		const struct setting_def *sd = strcmp(k, "weight") == 0 ? &weight :
		    strcmp(k, "block") == 0 ? &block : setting_find(def, k);
		json_t *n;

		if (sd == NULL) {
			problem_unknown_key(pr, at, "setting", k, keys, nkeys);
			continue;
		}
		n = normalize_setting(sd, item, at, pr);
		if (n != NULL)
			json_object_set_new(out, k, n);
	}
}

/*
 * A number given for "unknown" is the points of an unknown severity, so
 * it moves to points.unknown: both spellings hash the same.
 */
static void
fold_unknown_points(json_t *out, const char *pointer, struct problems *pr)
{
	json_t *unknown = json_object_get(out, "unknown");
	json_t *points = json_object_get(out, "points");

	if (!json_is_number(unknown))
		return;
	if (points != NULL && json_object_get(points, "unknown") != NULL) {
		problem_add(pr, pointer, "set either 'unknown' or "
		    "'points.unknown', not both");
		return;
	}
	if (points == NULL) {
		points = json_object();
		json_object_set_new(out, "points", points);
	}
	json_object_set(points, "unknown", unknown);
	json_object_del(out, "unknown");
}

int
rule_settings_normalize(const struct rule_def *def, const json_t *in,
    bool partial, const char *pointer, struct problems *pr, json_t **out)
{
	size_t before = json_array_size(pr->list);
	json_t *given = json_object();
	json_t *result = NULL;

	if (given == NULL)
		return PC_ERR_NOMEM;
	if (in != NULL && !json_is_null(in) && !json_is_object(in)) {
		problem_add(pr, pointer, "rule %s: expected a mapping of "
		    "settings", def->name);
		json_decref(given);
		return PC_ERR_INVALID;
	}
	if (json_is_object(in))
		normalize_keys(def, in, pointer, pr, given);
	fold_unknown_points(given, pointer, pr);

	if (partial) {
		result = given;
	} else {
		result = json_pack("{s:f, s:b}", "weight", 1.0, "block", 0);
		if (result != NULL && def->defaults != NULL &&
		    def->defaults(result) != PC_OK) {
			json_decref(result);
			result = NULL;
		}
		if (result != NULL)
			json_object_update_recursive(result, given);
		json_decref(given);
		/* An invalid value was reported already: only absence counts. */
		for (size_t i = 0; result != NULL && i < def->nsettings; i++)
			if (def->settings[i].required &&
			    json_object_get(in, def->settings[i].key) == NULL)
				problem_add(pr, pointer, "rule %s: missing "
				    "required setting '%s'", def->name,
				    def->settings[i].key);
	}
	if (result == NULL || pr->nomem) {
		json_decref(result);
		return PC_ERR_NOMEM;
	}
	if (json_array_size(pr->list) > before) {
		json_decref(result);
		return PC_ERR_INVALID;
	}
	*out = result;
	return PC_OK;
}
