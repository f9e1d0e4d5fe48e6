#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "policy/rule_checks.h"
#include "scanner/version.h"

#define SECONDS_PER_DAY 86400

/* Default points per severity of the vulnerabilities rule. */
#define POINTS_CRITICAL 40.0
#define POINTS_HIGH 15.0
#define POINTS_MEDIUM 4.0
#define POINTS_LOW 1.0
#define POINTS_UNKNOWN 4.0
/* Default points per unexpected setuid file. */
#define POINTS_SETUID 20.0
/* Maximum length of a version in a banned_packages constraint, in bytes. */
#define BAN_MAX_VERSION 256

int
defaults_vulnerabilities(json_t *settings)
{
	json_t *points = json_pack("{s:f, s:f, s:f, s:f, s:f}",
	    "critical", POINTS_CRITICAL, "high", POINTS_HIGH,
	    "medium", POINTS_MEDIUM, "low", POINTS_LOW,
	    "unknown", POINTS_UNKNOWN);

	if (points == NULL ||
	    json_object_set_new(settings, "points", points) != 0 ||
	    json_object_set_new(settings, "only_fixed", json_false()) != 0)
		return PC_ERR_NOMEM;
	return PC_OK;
}

int
defaults_setuid_files(json_t *settings)
{
	if (json_object_set_new(settings, "allow", json_array()) != 0 ||
	    json_object_set_new(settings, "points",
	    json_real(POINTS_SETUID)) != 0 ||
	    json_object_set_new(settings, "setgid", json_false()) != 0)
		return PC_ERR_NOMEM;
	return PC_OK;
}

static const char *
get_string(const json_t *object, const char *key)
{
	return json_string_value(json_object_get(object, key));
}

static double
floor_at_zero(double score)
{
	return score < 0.0 ? 0.0 : score;
}

/* Builds a finding with message and points; the caller adds fields. */
static json_t *
finding_new(double points, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static json_t *
finding_new(double points, const char *fmt, ...)
{
	char message[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	return json_pack("{s:s, s:f}", "message", message, "points", points);
}

/*
 * Copies the listed keys of from into to, when present. The values are
 * deep copies, so a verdict shares no reference with the report.
 */
static int
copy_keys(json_t *to, const json_t *from, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(from, keys[i]);

		if (v != NULL &&
		    json_object_set_new(to, keys[i], json_deep_copy(v)) != 0)
			return PC_ERR_NOMEM;
	}
	return PC_OK;
}

/*
 * The severity a vulnerability counts as: its own, or for "unknown" (and
 * words this version does not know) the "unknown" setting's word.
 */
static const char *
counted_severity(const json_t *vulnerability, const char *unknown_as)
{
	const char *severity = get_string(vulnerability, "severity");
	int rank = severity_rank(severity);

	if (rank < 0 || strcmp(severity, "unknown") == 0)
		return unknown_as != NULL ? unknown_as : "unknown";
	return severity;
}

static json_t *
vulnerability_finding(const json_t *v, const char *severity, double points,
    bool above_max)
{
	static const char *const keys[] = {"id", "aliases", "package",
	    "version", "source_name", "fixed", "severity", "cvss_score",
	    "layer", "path"};
	const char *fixed = get_string(v, "fixed");
	char fix[300];
	json_t *f;

	if (fixed != NULL)
		snprintf(fix, sizeof(fix), "fixed %s", fixed);
	else
		snprintf(fix, sizeof(fix), "no fix");
	f = finding_new(points, "%s %s %s (%s%s%s)",
	    get_string(v, "id") ? get_string(v, "id") : "(no id)",
	    get_string(v, "package") ? get_string(v, "package") : "?",
	    get_string(v, "version") ? get_string(v, "version") : "?", fix,
	    above_max ? ", severity " : "", above_max ? severity : "");
	if (f != NULL && copy_keys(f, v, keys,
	    sizeof(keys) / sizeof(keys[0])) != PC_OK) {
		json_decref(f);
		f = NULL;
	}
	return f;
}

int
check_vulnerabilities(const json_t *settings, struct rule_context *ctx,
    struct rule_result *res)
{
	const json_t *points = json_object_get(settings, "points");
	bool only_fixed = json_is_true(json_object_get(settings, "only_fixed"));
	const char *unknown_as = get_string(settings, "unknown");
	const char *max_severity = get_string(settings, "max_severity");
	json_t *vulns = json_object_get(ctx->report, "vulnerabilities");
	double total = 0.0;
	bool above_max_seen = false;
	json_t *v;
	size_t i;
	int err;

	json_array_foreach(vulns, i, v) {
		const char *severity;
		bool above_max;
		double p;

		if (!json_is_object(v) || exceptions_remove_vulnerability(ctx, v))
			continue;
		if (only_fixed && get_string(v, "fixed") == NULL)
			continue;
		severity = counted_severity(v, unknown_as);
		p = json_number_value(json_object_get(points, severity));
		/* "unknown" ranks below every word, so it never exceeds. */
		above_max = max_severity != NULL &&
		    strcmp(severity, "unknown") != 0 &&
		    severity_rank(severity) < severity_rank(max_severity);
		above_max_seen |= above_max;
		total += p;
		err = rule_result_add(res,
		    vulnerability_finding(v, severity, p, above_max));
		if (err != PC_OK)
			return err;
	}
	res->score = above_max_seen ? 0.0 : floor_at_zero(100.0 - total);
	return PC_OK;
}

int
check_secrets(const json_t *settings, struct rule_context *ctx,
    struct rule_result *res)
{
	static const char *const keys[] = {"rule", "title", "severity", "path",
	    "line", "layer"};
	json_t *per_secret = json_object_get(settings, "points");
	json_t *secrets = json_object_get(ctx->report, "secrets");
	double p = per_secret != NULL ? json_number_value(per_secret) : 100.0;
	size_t count = 0;
	json_t *s;
	size_t i;

	json_array_foreach(secrets, i, s) {
		json_t *f;

		if (!json_is_object(s) || exceptions_remove_secret(ctx, s))
			continue;
		count++;
		/* The redacted value stays out: the verdict is widely shown. */
		f = finding_new(p, "secret %s in %s",
		    get_string(s, "rule") ? get_string(s, "rule") : "?",
		    get_string(s, "path") ? get_string(s, "path") : "?");
		if (f != NULL && copy_keys(f, s, keys,
		    sizeof(keys) / sizeof(keys[0])) != PC_OK) {
			json_decref(f);
			f = NULL;
		}
		if (rule_result_add(res, f) != PC_OK)
			return PC_ERR_NOMEM;
	}
	if (per_secret == NULL)
		res->score = count > 0 ? 0.0 : 100.0;
	else
		res->score = floor_at_zero(100.0 - p * (double)count);
	return PC_OK;
}

/* A user runs as root when its uid part is empty, "root" or "0". */
static bool
user_is_root(const char *user)
{
	size_t name_len = strcspn(user, ":");

	return name_len == 0 || (name_len == 4 && strncmp(user, "root", 4) == 0) ||
	    (name_len == 1 && user[0] == '0');
}

int
check_root_user(const json_t *settings, struct rule_context *ctx,
    struct rule_result *res)
{
	const json_t *config = json_object_get(ctx->report, "config");
	const char *user = get_string(config, "user");
	json_t *f;

	(void)settings;
	if (user != NULL && !user_is_root(user)) {
		res->score = 100.0;
		return PC_OK;
	}
	res->score = 0.0;
	if (user == NULL || user[0] == '\0')
		f = finding_new(100.0, "runs as root (no user set)");
	else
		f = finding_new(100.0, "runs as root (user %s)", user);
	if (f != NULL && json_object_set_new(f, "user",
	    json_string(user != NULL ? user : "")) != 0) {
		json_decref(f);
		f = NULL;
	}
	return rule_result_add(res, f);
}

/* Matches a path against a glob; a leading '/' on either is ignored. */
static bool
path_allowed(const json_t *allow, const char *path)
{
	json_t *g;
	size_t i;

	if (path[0] == '/')
		path++;
	json_array_foreach(allow, i, g) {
		const char *pattern = json_string_value(g);

		if (pattern[0] == '/')
			pattern++;
		if (glob_match(pattern, path))
			return true;
	}
	return false;
}

int
check_setuid_files(const json_t *settings, struct rule_context *ctx,
    struct rule_result *res)
{
	static const char *const keys[] = {"path", "mode", "setuid", "setgid",
	    "layer"};
	const json_t *allow = json_object_get(settings, "allow");
	double p = json_number_value(json_object_get(settings, "points"));
	bool setgid = json_is_true(json_object_get(settings, "setgid"));
	json_t *files = json_object_get(ctx->report, "files");
	size_t count = 0;
	json_t *file;
	size_t i;

	json_array_foreach(files, i, file) {
		const char *path = get_string(file, "path");
		bool is_suid = json_is_true(json_object_get(file, "setuid"));
		bool is_sgid = json_is_true(json_object_get(file, "setgid"));
		json_t *f;

		if (path == NULL || !(is_suid || (setgid && is_sgid)))
			continue;
		if (path_allowed(allow, path))
			continue;
		count++;
		f = finding_new(p, "%s file %s (mode %s)",
		    is_suid ? "setuid" : "setgid", path,
		    get_string(file, "mode") ? get_string(file, "mode") : "?");
		if (f != NULL && copy_keys(f, file, keys,
		    sizeof(keys) / sizeof(keys[0])) != PC_OK) {
			json_decref(f);
			f = NULL;
		}
		if (rule_result_add(res, f) != PC_OK)
			return PC_ERR_NOMEM;
	}
	res->score = floor_at_zero(100.0 - p * (double)count);
	return PC_OK;
}

/* Version scheme of an image package type, as scanner/version.h names. */
static bool
type_scheme(const char *type, enum version_scheme *scheme)
{
	static const struct {
		const char *type;
		enum version_scheme scheme;
	} map[] = {
		{"deb", VERSION_DEB}, {"apk", VERSION_APK}, {"rpm", VERSION_RPM},
		{"npm", VERSION_SEMVER}, {"go", VERSION_GO},
		{"pypi", VERSION_PEP440}, {"maven", VERSION_MAVEN},
	};

	for (size_t i = 0; type != NULL && i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(map[i].type, type) == 0) {
			*scheme = map[i].scheme;
			return true;
		}
	}
	return false;
}

static bool
clause_holds(const char *op, int cmp)
{
	if (strcmp(op, "<") == 0)
		return cmp < 0;
	if (strcmp(op, "<=") == 0)
		return cmp <= 0;
	if (strcmp(op, ">") == 0)
		return cmp > 0;
	if (strcmp(op, ">=") == 0)
		return cmp >= 0;
	if (strcmp(op, "!=") == 0)
		return cmp != 0;
	return cmp == 0;
}

/*
 * Returns true when version satisfies every clause of constraint under
 * the package type's version scheme. A version that does not compare
 * (unknown type, invalid version, scheme not built) satisfies nothing.
 */
static bool
version_matches(const char *type, const char *version, const char *constraint)
{
	enum version_scheme scheme;
	char op[3], bound[BAN_MAX_VERSION];
	const char *p = constraint;
	int err;

	if (version == NULL || !type_scheme(type, &scheme))
		return false;
	while ((err = constraint_next(&p, op, bound, sizeof(bound))) == PC_OK) {
		int cmp;

		if (version_compare(scheme, version, bound, &cmp) != PC_OK)
			return false;
		if (!clause_holds(op, cmp))
			return false;
	}
	return err == PC_ERR_NOTFOUND;
}

static bool
package_banned(const json_t *ban, const json_t *pkg)
{
	const char *name = get_string(pkg, "name");
	const char *type = get_string(pkg, "type");
	const char *want_type = get_string(ban, "type");
	const char *versions = get_string(ban, "versions");

	if (name == NULL || !glob_match(get_string(ban, "name"), name))
		return false;
	if (want_type != NULL && (type == NULL || strcmp(type, want_type) != 0))
		return false;
	return versions == NULL ||
	    version_matches(type, get_string(pkg, "version"), versions);
}

int
check_banned_packages(const json_t *settings, struct rule_context *ctx,
    struct rule_result *res)
{
	static const char *const keys[] = {"name", "version", "type",
	    "ecosystem", "layer", "path"};
	const json_t *bans = json_object_get(settings, "packages");
	json_t *packages = json_object_get(ctx->report, "packages");
	json_t *pkg;
	size_t i;

	res->score = 100.0;
	json_array_foreach(packages, i, pkg) {
		json_t *ban;
		size_t j;

		json_array_foreach(bans, j, ban) {
			const char *versions = get_string(ban, "versions");
			json_t *f;

			if (!package_banned(ban, pkg))
				continue;
			res->score = 0.0;
			f = finding_new(100.0, "banned package %s %s (matches "
			    "'%s'%s%s)", get_string(pkg, "name"),
			    get_string(pkg, "version") ?
			    get_string(pkg, "version") : "?",
			    get_string(ban, "name"), versions ? " " : "",
			    versions ? versions : "");
			if (f != NULL && copy_keys(f, pkg, keys,
			    sizeof(keys) / sizeof(keys[0])) != PC_OK) {
				json_decref(f);
				f = NULL;
			}
			if (rule_result_add(res, f) != PC_OK)
				return PC_ERR_NOMEM;
			break;
		}
	}
	return PC_OK;
}

int
check_allowed_repositories(const json_t *settings, struct rule_context *ctx,
    struct rule_result *res)
{
	const json_t *globs = json_object_get(settings, "repositories");
	const char *repository = ctx->repository;
	json_t *g;
	size_t i;

	if (repository == NULL) {
		/* A local image (an OCI layout, an untagged archive) has no
		 * repository to check; the proxy always passes one. */
		res->score = 100.0;
		return rule_result_add(res, finding_new(0.0, "repository unknown: "
		    "allowed_repositories not checked"));
	}
	json_array_foreach(globs, i, g) {
		if (repository != NULL &&
		    glob_match(json_string_value(g), repository)) {
			res->score = 100.0;
			return PC_OK;
		}
	}
	res->score = 0.0;
	return rule_result_add(res, finding_new(100.0, "repository %s is not "
	    "in allowed_repositories", repository ? repository : "(unknown)"));
}

int
check_max_image_age(const json_t *settings, struct rule_context *ctx,
    struct rule_result *res)
{
	json_int_t days = json_integer_value(json_object_get(settings, "days"));
	const json_t *image = json_object_get(ctx->report, "image");
	const char *created = get_string(image, "created");
	time_t t;
	double age_days;

	res->score = 100.0;
	if (created == NULL || policy_parse_rfc3339(created, &t) != PC_OK)
		return rule_result_add(res, finding_new(0.0, "image creation "
		    "time unknown, so its age was not checked"));
	age_days = difftime(ctx->now, t) / SECONDS_PER_DAY;
	if (age_days <= (double)days)
		return PC_OK;
	res->score = 0.0;
	return rule_result_add(res, finding_new(100.0, "image created %s is "
	    "%.0f days old (maximum %lld)", created, floor(age_days),
	    (long long)days));
}

int
check_max_image_size(const json_t *settings, struct rule_context *ctx,
    struct rule_result *res)
{
	json_int_t limit = json_integer_value(json_object_get(settings, "bytes"));
	const json_t *image = json_object_get(ctx->report, "image");
	const json_t *size = json_object_get(image, "size");

	res->score = 100.0;
	if (!json_is_integer(size))
		return rule_result_add(res, finding_new(0.0, "image size "
		    "unknown, so it was not checked"));
	if (json_integer_value(size) <= limit)
		return PC_OK;
	res->score = 0.0;
	return rule_result_add(res, finding_new(100.0, "image is %lld bytes "
	    "(%.1f MiB), above the maximum of %lld bytes (%.1f MiB)",
	    (long long)json_integer_value(size),
	    (double)json_integer_value(size) / (1 << 20), (long long)limit,
	    (double)limit / (1 << 20)));
}

int
check_scan_error(const json_t *settings, struct rule_context *ctx,
    struct rule_result *res)
{
	json_t *errors = json_object_get(ctx->report, "errors");
	json_t *e;
	size_t i;

	(void)settings;
	res->score = json_array_size(errors) > 0 ? 0.0 : 100.0;
	json_array_foreach(errors, i, e) {
		const char *message = get_string(e, "message");
		const char *layer = get_string(e, "layer");
		json_t *f;

		f = finding_new(100.0, "scan error%s%s: %s",
		    layer ? " in layer " : "", layer ? layer : "",
		    message ? message : "(no message)");
		if (rule_result_add(res, f) != PC_OK)
			return PC_ERR_NOMEM;
	}
	return PC_OK;
}
