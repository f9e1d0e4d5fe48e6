/*
 * OSV range evaluation (match_affected) and package matching
 * (match_packages) on hand-written records that each pin one rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/alloc.h"
#include "common/error.h"
#include "scanner/match.h"
#include "scanner/vulndb.h"

/* Parses an affected entry written in JSON; fails the test if invalid. */
static json_t *
affected(const char *text)
{
	json_error_t jerr;
	json_t *obj = json_loads(text, 0, &jerr);

	if (obj == NULL)
		fail_msg("bad test JSON: %s", jerr.text);
	return obj;
}

/* Evaluates text for version and returns whether it is affected. */
static bool
is_affected(const char *text, enum version_scheme scheme, const char *version,
    const char **fixed)
{
	static char fixed_copy[64];
	json_t *obj = affected(text);
	struct match_check check;

	assert_int_equal(match_affected(obj, scheme, version, &check), PC_OK);
	assert_null(check.bad_event);
	/* check.fixed points into obj, which is released below. */
	if (fixed != NULL && check.fixed != NULL) {
		snprintf(fixed_copy, sizeof(fixed_copy), "%s", check.fixed);
		*fixed = fixed_copy;
	} else if (fixed != NULL) {
		*fixed = NULL;
	}
	json_decref(obj);
	return check.affected;
}

#define RANGE(type, events) \
	"{\"ranges\": [{\"type\": \"" type "\", \"events\": [" events "]}]}"

static void
test_fixed_is_exclusive(void **state)
{
	const char *text = RANGE("ECOSYSTEM",
	    "{\"introduced\": \"0\"}, {\"fixed\": \"1.2.3\"}");
	const char *fixed;

	assert_true(is_affected(text, VERSION_SEMVER, "0.0.1", &fixed));
	assert_string_equal(fixed, "1.2.3");
	assert_true(is_affected(text, VERSION_SEMVER, "1.2.2", NULL));
	assert_false(is_affected(text, VERSION_SEMVER, "1.2.3", NULL));
	assert_false(is_affected(text, VERSION_SEMVER, "2.0.0", NULL));
}

static void
test_last_affected_is_inclusive(void **state)
{
	const char *text = RANGE("ECOSYSTEM",
	    "{\"introduced\": \"0\"}, {\"last_affected\": \"4.5.1\"}");
	const char *fixed;

	assert_true(is_affected(text, VERSION_SEMVER, "4.5.1", &fixed));
	assert_null(fixed);
	assert_false(is_affected(text, VERSION_SEMVER, "4.5.2", NULL));
}

static void
test_introduced_bounds_range(void **state)
{
	const char *text = RANGE("SEMVER",
	    "{\"introduced\": \"2.1.0\"}, {\"fixed\": \"5.2.4\"}");

	assert_false(is_affected(text, VERSION_SEMVER, "2.0.9", NULL));
	assert_true(is_affected(text, VERSION_SEMVER, "2.1.0", NULL));
	assert_true(is_affected(text, VERSION_SEMVER, "5.2.3", NULL));
}

static void
test_no_fix_is_open_ended(void **state)
{
	const char *text = RANGE("ECOSYSTEM", "{\"introduced\": \"1.0.0\"}");
	const char *fixed = "unset";

	assert_true(is_affected(text, VERSION_SEMVER, "99.0.0", &fixed));
	assert_null(fixed);
	assert_false(is_affected(text, VERSION_SEMVER, "0.9.0", NULL));
}

/* Two ranges of one entry, and the gap between them. */
static void
test_several_ranges(void **state)
{
	const char *text = "{\"ranges\": ["
	    "{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"1.0.0\"},"
	    " {\"fixed\": \"1.5.0\"}]},"
	    "{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"2.0.0\"},"
	    " {\"fixed\": \"2.5.0\"}]}]}";
	const char *fixed;

	assert_true(is_affected(text, VERSION_SEMVER, "1.4.0", &fixed));
	assert_string_equal(fixed, "1.5.0");
	assert_false(is_affected(text, VERSION_SEMVER, "1.7.0", NULL));
	assert_true(is_affected(text, VERSION_SEMVER, "2.1.0", &fixed));
	assert_string_equal(fixed, "2.5.0");
	assert_false(is_affected(text, VERSION_SEMVER, "2.5.0", NULL));
}

/* Events listed out of order are sorted by version before the walk. */
static void
test_unsorted_events(void **state)
{
	const char *text = RANGE("ECOSYSTEM",
	    "{\"fixed\": \"2.5.0\"}, {\"introduced\": \"2.0.0\"},"
	    "{\"fixed\": \"1.5.0\"}, {\"introduced\": \"1.0.0\"}");
	const char *fixed;

	assert_false(is_affected(text, VERSION_SEMVER, "0.5.0", NULL));
	assert_true(is_affected(text, VERSION_SEMVER, "1.2.0", &fixed));
	assert_string_equal(fixed, "1.5.0");
	assert_false(is_affected(text, VERSION_SEMVER, "1.8.0", NULL));
	assert_true(is_affected(text, VERSION_SEMVER, "2.2.0", &fixed));
	assert_string_equal(fixed, "2.5.0");
}

/* One range with two fixed events: the lowest above the version is given. */
static void
test_lowest_fixed_reported(void **state)
{
	const char *text = RANGE("ECOSYSTEM",
	    "{\"introduced\": \"0\"}, {\"fixed\": \"3.0.0\"},"
	    "{\"fixed\": \"2.0.0\"}");
	const char *fixed;

	assert_true(is_affected(text, VERSION_SEMVER, "1.0.0", &fixed));
	assert_string_equal(fixed, "2.0.0");
}

/* Express 5 alphas: prerelease versions sort below their release. */
static void
test_prerelease_bounds(void **state)
{
	const char *text = RANGE("ECOSYSTEM",
	    "{\"introduced\": \"5.0.0-alpha.1\"}, {\"fixed\": \"5.0.0-beta.3\"}");

	assert_false(is_affected(text, VERSION_SEMVER, "4.99.0", NULL));
	assert_true(is_affected(text, VERSION_SEMVER, "5.0.0-alpha.1", NULL));
	assert_true(is_affected(text, VERSION_SEMVER, "5.0.0-alpha.8", NULL));
	assert_true(is_affected(text, VERSION_SEMVER, "5.0.0-beta.2", NULL));
	assert_false(is_affected(text, VERSION_SEMVER, "5.0.0-beta.3", NULL));
	assert_false(is_affected(text, VERSION_SEMVER, "5.0.0", NULL));
}

static void
test_limit_event(void **state)
{
	const char *text = RANGE("ECOSYSTEM",
	    "{\"introduced\": \"0\"}, {\"limit\": \"2.0.0\"}");
	const char *star = RANGE("ECOSYSTEM",
	    "{\"introduced\": \"1.0.0\"}, {\"limit\": \"*\"}");

	assert_true(is_affected(text, VERSION_SEMVER, "1.9.9", NULL));
	assert_false(is_affected(text, VERSION_SEMVER, "2.0.0", NULL));
	assert_false(is_affected(text, VERSION_SEMVER, "3.0.0", NULL));
	assert_true(is_affected(star, VERSION_SEMVER, "7.0.0", NULL));
	assert_false(is_affected(star, VERSION_SEMVER, "0.1.0", NULL));
}

/* A versions list alone; PEP 440 equal spellings count as listed. */
static void
test_versions_list_only(void **state)
{
	const char *text = "{\"versions\": [\"1.0\", \"1.1\", \"0.12.01\"]}";
	const char *fixed = "unset";

	assert_true(is_affected(text, VERSION_PEP440, "1.1", &fixed));
	assert_null(fixed);
	assert_true(is_affected(text, VERSION_PEP440, "1.0.0", NULL));
	assert_true(is_affected(text, VERSION_PEP440, "0.12.1", NULL));
	assert_false(is_affected(text, VERSION_PEP440, "1.2", NULL));
}

/* Either the list or a range is enough. */
static void
test_versions_list_and_range(void **state)
{
	const char *text = "{\"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\":"
	    " [{\"introduced\": \"2.0\"}, {\"fixed\": \"2.3\"}]}],"
	    " \"versions\": [\"1.5\"]}";

	assert_true(is_affected(text, VERSION_PEP440, "1.5", NULL));
	assert_true(is_affected(text, VERSION_PEP440, "2.2", NULL));
	assert_false(is_affected(text, VERSION_PEP440, "1.6", NULL));
}

/* npm data has "1.0" where SemVer wants "1.0.0" (GHSA-r683-j2x4-v87g). */
static void
test_short_semver_event(void **state)
{
	const char *text = RANGE("ECOSYSTEM",
	    "{\"introduced\": \"1.0\"}, {\"fixed\": \"3.1.1\"}");

	assert_true(is_affected(text, VERSION_SEMVER, "1.0.0", NULL));
	assert_true(is_affected(text, VERSION_SEMVER, "2.6.0", NULL));
	assert_false(is_affected(text, VERSION_SEMVER, "0.9.0", NULL));
}

/* Debian: a missing epoch is 0, and "~" sorts before the end. */
static void
test_deb_ordering(void **state)
{
	const char *text = RANGE("ECOSYSTEM",
	    "{\"introduced\": \"0\"}, {\"fixed\": \"3.0.17-1~deb12u3\"}");
	const char *epoch = RANGE("ECOSYSTEM",
	    "{\"introduced\": \"0\"}, {\"fixed\": \"1:2.0-1\"}");

	assert_true(is_affected(text, VERSION_DEB, "3.0.17-1~deb12u2", NULL));
	assert_false(is_affected(text, VERSION_DEB, "3.0.17-1", NULL));
	assert_true(is_affected(epoch, VERSION_DEB, "9.9-1", NULL));
	assert_false(is_affected(epoch, VERSION_DEB, "1:2.0-1", NULL));
}

/* Go: SEMVER ranges without the "v" that module versions carry. */
static void
test_go_semver_ranges(void **state)
{
	const char *text = RANGE("SEMVER",
	    "{\"introduced\": \"1.16.0-0\"}, {\"fixed\": \"1.16.1\"}");

	assert_true(is_affected(text, VERSION_GO, "v1.16.0", NULL));
	assert_true(is_affected(text, VERSION_GO, "1.16.0", NULL));
	assert_false(is_affected(text, VERSION_GO, "v1.16.1", NULL));
	assert_false(is_affected(text, VERSION_GO, "v1.15.9", NULL));
}

static void
test_invalid_version_rejected(void **state)
{
	json_t *obj = affected(RANGE("ECOSYSTEM",
	    "{\"introduced\": \"0\"}, {\"fixed\": \"1.0.0\"}"));
	struct match_check check;

	assert_int_equal(match_affected(obj, VERSION_SEMVER, "not a version",
	    &check), PC_ERR_INVALID);
	assert_int_equal(match_affected(obj, VERSION_DEB, "", &check),
	    PC_ERR_INVALID);
	json_decref(obj);
}

/* A range with an unparsable event is skipped; the other still counts. */
static void
test_bad_event_skips_range(void **state)
{
	json_t *obj = affected("{\"ranges\": ["
	    "{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"0\"},"
	    " {\"fixed\": \"not/a/version\"}]},"
	    "{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"2.0.0\"},"
	    " {\"fixed\": \"2.1.0\"}]}]}");
	struct match_check check;

	assert_int_equal(match_affected(obj, VERSION_SEMVER, "1.0.0", &check),
	    PC_OK);
	assert_false(check.affected);
	assert_string_equal(check.bad_event, "not/a/version");
	assert_int_equal(match_affected(obj, VERSION_SEMVER, "2.0.5", &check),
	    PC_OK);
	assert_true(check.affected);
	json_decref(obj);
}

static void
test_ecosystem_schemes(void **state)
{
	static const struct {
		const char *ecosystem;
		enum version_scheme scheme;
	} cases[] = {
		{"Debian:12", VERSION_DEB}, {"Ubuntu:22.04:LTS", VERSION_DEB},
		{"Alpine:v3.19", VERSION_APK}, {"Rocky Linux:9", VERSION_RPM},
		{"Red Hat:enterprise_linux:9::baseos", VERSION_RPM},
		{"AlmaLinux:9", VERSION_RPM}, {"npm", VERSION_SEMVER},
		{"crates.io", VERSION_SEMVER}, {"Go", VERSION_GO},
		{"PyPI", VERSION_PEP440}, {"Maven", VERSION_MAVEN},
	};
	enum version_scheme scheme;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(match_scheme(cases[i].ecosystem, &scheme), PC_OK);
		assert_int_equal(scheme, cases[i].scheme);
	}
	assert_int_equal(match_scheme("RubyGems", &scheme), PC_ERR_UNSUPPORTED);
	assert_int_equal(match_scheme("Debianish:1", &scheme),
	    PC_ERR_UNSUPPORTED);
}

/* Records for the match_packages tests, imported into one database. */
static const char *const records[] = {
	/* A DSA and the per-CVE records of the CVEs it fixes. */
	"{\"id\": \"DSA-9001-1\", \"modified\": \"2026-01-01T00:00:00Z\","
	" \"summary\": \"foo - security update\","
	" \"upstream\": [\"CVE-2099-0001\", \"CVE-2099-0002\"],"
	" \"affected\": [{\"package\": {\"ecosystem\": \"Debian:12\","
	" \"name\": \"foo\"}, \"ranges\": [{\"type\": \"ECOSYSTEM\","
	" \"events\": [{\"introduced\": \"0\"}, {\"fixed\": \"1.0-3\"}]}]}]}",
	"{\"id\": \"DEBIAN-CVE-2099-0001\", \"modified\": \"2026-01-01T00:00:00Z\","
	" \"upstream\": [\"CVE-2099-0001\"],"
	" \"severity\": [{\"type\": \"CVSS_V3\","
	" \"score\": \"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\"}],"
	" \"affected\": [{\"package\": {\"ecosystem\": \"Debian:12\","
	" \"name\": \"foo\"}, \"ranges\": [{\"type\": \"ECOSYSTEM\","
	" \"events\": [{\"introduced\": \"0\"}, {\"fixed\": \"1.0-2\"}]}]}]}",
	"{\"id\": \"DEBIAN-CVE-2099-0002\", \"modified\": \"2026-01-01T00:00:00Z\","
	" \"upstream\": [\"CVE-2099-0002\"],"
	" \"affected\": [{\"package\": {\"ecosystem\": \"Debian:12\","
	" \"name\": \"foo\"}, \"ranges\": [{\"type\": \"ECOSYSTEM\","
	" \"events\": [{\"introduced\": \"0\"}, {\"fixed\": \"1.0-4\"}]}]}]}",
	/* An unrelated advisory of the same package, still unfixed. */
	"{\"id\": \"DEBIAN-CVE-2099-0100\", \"modified\": \"2026-01-01T00:00:00Z\","
	" \"affected\": [{\"package\": {\"ecosystem\": \"Debian:12\","
	" \"name\": \"foo\"}, \"ranges\": [{\"type\": \"ECOSYSTEM\","
	" \"events\": [{\"introduced\": \"0\"}]}]}]}",
	"{\"id\": \"PYSEC-2099-1\", \"modified\": \"2026-01-01T00:00:00Z\","
	" \"affected\": [{\"package\": {\"ecosystem\": \"PyPI\","
	" \"name\": \"Foo_Bar\"}, \"ranges\": [{\"type\": \"ECOSYSTEM\","
	" \"events\": [{\"introduced\": \"0\"}, {\"fixed\": \"2.0\"}]}]}]}",
	"{\"id\": \"GO-2099-0001\", \"modified\": \"2026-01-01T00:00:00Z\","
	" \"affected\": [{\"package\": {\"ecosystem\": \"Go\","
	" \"name\": \"stdlib\"}, \"ranges\": [{\"type\": \"SEMVER\","
	" \"events\": [{\"introduced\": \"0\"}, {\"fixed\": \"1.21.5\"},"
	" {\"introduced\": \"1.22.0-0\"}, {\"fixed\": \"1.22.0\"}]}]}]}",
	"{\"id\": \"GHSA-aaaa-bbbb-cccc\", \"modified\": \"2026-01-01T00:00:00Z\","
	" \"aliases\": [\"CVE-2099-0200\"],"
	" \"database_specific\": {\"severity\": \"MODERATE\"},"
	" \"affected\": [{\"package\": {\"ecosystem\": \"npm\","
	" \"name\": \"@babel/traverse\"},"
	" \"severity\": [{\"type\": \"CVSS_V3\","
	" \"score\": \"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\"}],"
	" \"ranges\": [{\"type\": \"ECOSYSTEM\","
	" \"events\": [{\"introduced\": \"0\"}, {\"fixed\": \"7.23.2\"}]}]}]}",
	"{\"id\": \"ALPINE-CVE-2099-0300\", \"modified\": \"2026-01-01T00:00:00Z\","
	" \"affected\": [{\"package\": {\"ecosystem\": \"Alpine:v3.19\","
	" \"name\": \"busybox\"}, \"ranges\": [{\"type\": \"ECOSYSTEM\","
	" \"events\": [{\"introduced\": \"0\"}, {\"fixed\": \"1.36.1-r16\"}]}]}]}",
	"{\"id\": \"GHSA-rrrr-ssss-tttt\", \"modified\": \"2026-01-01T00:00:00Z\","
	" \"affected\": [{\"package\": {\"ecosystem\": \"RubyGems\","
	" \"name\": \"rack\"}, \"ranges\": [{\"type\": \"ECOSYSTEM\","
	" \"events\": [{\"introduced\": \"0\"}, {\"fixed\": \"2.0.0\"}]}]}]}",
};

struct fixture {
	char dir[64];
	struct vulndb *db;
};

static struct fixture fx;

static int
setup(void **state)
{
	struct vulndb_builder *b;
	char path[96], reason[256];

	pc_alloc_init();
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/test_match.XXXXXX");
	if (mkdtemp(fx.dir) == NULL || vulndb_builder_new(&b) != PC_OK)
		return -1;
	for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++) {
		if (vulndb_builder_add(b, records[i], strlen(records[i]), reason,
		    sizeof(reason)) != PC_OK) {
			fprintf(stderr, "record %zu: %s\n", i, reason);
			return -1;
		}
	}
	snprintf(path, sizeof(path), "%s/match.db", fx.dir);
	if (vulndb_builder_write(b, path, reason, sizeof(reason)) != PC_OK ||
	    vulndb_open(path, &fx.db, reason, sizeof(reason)) != PC_OK) {
		fprintf(stderr, "%s\n", reason);
		return -1;
	}
	vulndb_builder_free(b);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[96];

	vulndb_close(fx.db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Runs match_packages on JSON texts; errors go to *errors when wanted. */
static json_t *
run_match(const char *os_text, const char *packages_text, json_t **errors)
{
	json_t *os = os_text ? json_loads(os_text, 0, NULL) : NULL;
	json_t *pkgs = json_loads(packages_text, 0, NULL);
	json_t *findings, *errs;

	assert_non_null(pkgs);
	assert_int_equal(match_packages(fx.db, os, pkgs, &findings, &errs),
	    PC_OK);
	if (errors != NULL)
		*errors = errs;
	else
		json_decref(errs);
	json_decref(os);
	json_decref(pkgs);
	return findings;
}

static const char *
str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

#define DEBIAN_OS "{\"family\": \"debian\", \"version\": \"12.5\"}"

/*
 * The DSA and the two per-CVE records share CVE ids: one finding, the DSA
 * first, fixed at the highest of their fixes. The unrelated open record
 * stays separate with no fix.
 */
static void
test_alias_collapse(void **state)
{
	json_t *findings = run_match(DEBIAN_OS, "[{\"type\": \"deb\","
	    " \"name\": \"foo\", \"version\": \"1.0-1\"}]", NULL);
	json_t *dsa = json_array_get(findings, 0);
	json_t *open = json_array_get(findings, 1);
	json_t *aliases = json_object_get(dsa, "aliases");

	assert_int_equal(json_array_size(findings), 2);
	assert_string_equal(str(dsa, "id"), "DSA-9001-1");
	assert_string_equal(str(dsa, "fixed"), "1.0-4");
	assert_string_equal(str(dsa, "ecosystem"), "Debian:12");
	assert_string_equal(str(dsa, "summary"), "foo - security update");
	assert_int_equal(json_array_size(aliases), 4);
	assert_string_equal(json_string_value(json_array_get(aliases, 0)),
	    "CVE-2099-0001");
	assert_string_equal(json_string_value(json_array_get(aliases, 3)),
	    "DEBIAN-CVE-2099-0002");
	/* The severity comes from the per-CVE record that has one. */
	assert_string_equal(str(dsa, "severity"), "critical");
	assert_true(json_real_value(json_object_get(dsa, "cvss_score")) == 9.8);

	assert_string_equal(str(open, "id"), "DEBIAN-CVE-2099-0100");
	assert_true(json_is_null(json_object_get(open, "fixed")));
	assert_string_equal(str(open, "severity"), "unknown");
	assert_true(json_is_null(json_object_get(open, "cvss_score")));
	json_decref(findings);
}

/* Past the DSA fix, only the later per-CVE record still matches. */
static void
test_partial_group(void **state)
{
	json_t *findings = run_match(DEBIAN_OS, "[{\"type\": \"deb\","
	    " \"name\": \"foo\", \"version\": \"1.0-3\"}]", NULL);
	json_t *first = json_array_get(findings, 0);

	assert_int_equal(json_array_size(findings), 2);
	assert_string_equal(str(first, "id"), "DEBIAN-CVE-2099-0002");
	assert_string_equal(str(first, "fixed"), "1.0-4");
	json_decref(findings);
}

/* A binary package matches through its source name and version. */
static void
test_source_package_mapping(void **state)
{
	json_t *findings = run_match(DEBIAN_OS, "[{\"type\": \"deb\","
	    " \"name\": \"libfoo1\", \"version\": \"1.0-3+b1\","
	    " \"source_name\": \"foo\", \"source_version\": \"1.0-1\","
	    " \"layer\": \"sha256:aa\", \"path\": \"var/lib/dpkg/status\"}]",
	    NULL);
	json_t *f = json_array_get(findings, 0);

	assert_int_equal(json_array_size(findings), 2);
	assert_string_equal(str(f, "package"), "libfoo1");
	assert_string_equal(str(f, "version"), "1.0-3+b1");
	assert_string_equal(str(f, "source_name"), "foo");
	assert_string_equal(str(f, "source_version"), "1.0-1");
	assert_string_equal(str(f, "layer"), "sha256:aa");
	assert_string_equal(str(f, "path"), "var/lib/dpkg/status");
	assert_string_equal(str(f, "type"), "deb");
	json_decref(findings);
}

/* One finding per package: two binaries of one source each get theirs. */
static void
test_one_finding_per_package(void **state)
{
	json_t *findings = run_match(DEBIAN_OS, "["
	    "{\"type\": \"deb\", \"name\": \"libfoo1\", \"version\": \"1.0-1\","
	    " \"source_name\": \"foo\"},"
	    "{\"type\": \"deb\", \"name\": \"foo-bin\", \"version\": \"1.0-1\","
	    " \"source_name\": \"foo\"}]", NULL);

	assert_int_equal(json_array_size(findings), 4);
	assert_string_equal(str(json_array_get(findings, 0), "package"),
	    "libfoo1");
	assert_string_equal(str(json_array_get(findings, 2), "package"),
	    "foo-bin");
	json_decref(findings);
}

static void
test_without_os_no_distro_match(void **state)
{
	json_t *errors;
	json_t *findings = run_match(NULL, "[{\"type\": \"deb\","
	    " \"name\": \"foo\", \"version\": \"1.0-1\"}]", &errors);

	assert_int_equal(json_array_size(findings), 0);
	assert_int_equal(json_array_size(errors), 1);
	assert_string_equal(str(json_array_get(errors, 0), "kind"),
	    "match_error");
	json_decref(findings);
	json_decref(errors);
}

/* Alpine ecosystems are major.minor with a "v". */
static void
test_alpine_ecosystem_from_os(void **state)
{
	json_t *findings = run_match("{\"family\": \"alpine\","
	    " \"version\": \"3.19.1\"}", "[{\"type\": \"apk\","
	    " \"name\": \"busybox-binsh\", \"version\": \"1.36.1-r15\","
	    " \"source_name\": \"busybox\"}]", NULL);

	assert_int_equal(json_array_size(findings), 1);
	assert_string_equal(str(json_array_get(findings, 0), "ecosystem"),
	    "Alpine:v3.19");
	assert_string_equal(str(json_array_get(findings, 0), "fixed"),
	    "1.36.1-r16");
	json_decref(findings);
}

static void
test_pypi_normalisation(void **state)
{
	json_t *findings = run_match(NULL, "["
	    "{\"type\": \"pypi\", \"name\": \"foo.bar\", \"version\": \"1.9\"},"
	    "{\"type\": \"pypi\", \"name\": \"FOO--BAR\", \"version\": \"1.9\"},"
	    "{\"type\": \"pypi\", \"name\": \"foobar\", \"version\": \"1.9\"}]",
	    NULL);

	assert_int_equal(json_array_size(findings), 2);
	assert_string_equal(str(json_array_get(findings, 0), "package"),
	    "foo.bar");
	assert_string_equal(str(json_array_get(findings, 1), "package"),
	    "FOO--BAR");
	assert_string_equal(str(json_array_get(findings, 0), "ecosystem"),
	    "PyPI");
	json_decref(findings);
}

static void
test_go_stdlib_versions(void **state)
{
	json_t *findings = run_match(NULL, "["
	    "{\"type\": \"go\", \"name\": \"stdlib\", \"version\": \"go1.21.4\"},"
	    "{\"type\": \"go\", \"name\": \"stdlib\", \"version\": \"go1.21.5\"},"
	    "{\"type\": \"go\", \"name\": \"stdlib\", \"version\": \"go1.22rc1\"},"
	    "{\"type\": \"go\", \"name\": \"stdlib\", \"version\": \"go1.22\"},"
	    "{\"type\": \"go\", \"name\": \"stdlib\", \"version\": \"go1.20\"}]",
	    NULL);

	assert_int_equal(json_array_size(findings), 3);
	assert_string_equal(str(json_array_get(findings, 0), "version"),
	    "go1.21.4");
	assert_string_equal(str(json_array_get(findings, 0), "fixed"),
	    "1.21.5");
	assert_string_equal(str(json_array_get(findings, 1), "version"),
	    "go1.22rc1");
	assert_string_equal(str(json_array_get(findings, 1), "fixed"),
	    "1.22.0");
	assert_string_equal(str(json_array_get(findings, 2), "version"),
	    "go1.20");
	json_decref(findings);
}

/* Scoped npm names; affected-level severity wins over the GHSA word. */
static void
test_npm_scoped_and_severity(void **state)
{
	json_t *findings = run_match(NULL, "[{\"type\": \"npm\","
	    " \"name\": \"@babel/traverse\", \"version\": \"7.23.0\"}]", NULL);
	json_t *f = json_array_get(findings, 0);

	assert_int_equal(json_array_size(findings), 1);
	assert_string_equal(str(f, "id"), "GHSA-aaaa-bbbb-cccc");
	assert_string_equal(str(f, "severity"), "critical");
	assert_string_equal(str(f, "cvss_vector"),
	    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H");
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(f, "aliases"), 0)), "CVE-2099-0200");
	json_decref(findings);
}

/* Bad input becomes match errors; the other packages still match. */
static void
test_errors_do_not_stop_matching(void **state)
{
	json_t *errors;
	json_t *findings = run_match(NULL, "["
	    "{\"type\": \"npm\", \"name\": \"@babel/traverse\","
	    " \"version\": \"seven\"},"
	    "{\"type\": \"npm\", \"name\": \"@babel/traverse\"},"
	    "{\"type\": \"gem\", \"name\": \"rack\", \"version\": \"1.0.0\","
	    " \"ecosystem\": \"RubyGems\"},"
	    "{\"type\": \"unknown\", \"name\": \"x\", \"version\": \"1\"},"
	    "{\"type\": \"npm\", \"name\": \"@babel/traverse\","
	    " \"version\": \"7.0.0\", \"layer\": \"sha256:bb\"}]", &errors);

	assert_int_equal(json_array_size(findings), 1);
	assert_int_equal(json_array_size(errors), 4);
	assert_non_null(strstr(str(json_array_get(errors, 0), "message"),
	    "seven"));
	assert_non_null(strstr(str(json_array_get(errors, 2), "message"),
	    "RubyGems"));
	assert_string_equal(str(json_array_get(findings, 0), "layer"),
	    "sha256:bb");
	json_decref(findings);
	json_decref(errors);
}

static void
test_packages_not_array(void **state)
{
	json_t *obj = json_object(), *findings, *errors;

	assert_int_equal(match_packages(fx.db, NULL, obj, &findings, &errors),
	    PC_ERR_INVALID);
	assert_null(findings);
	assert_null(errors);
	json_decref(obj);
}

/* Every failed allocation unwinds without a leak or a crash. */
static void
test_allocation_failures(void **state)
{
	json_t *pkgs = json_loads("[{\"type\": \"deb\", \"name\": \"foo\","
	    " \"version\": \"1.0-1\"}]", 0, NULL);
	json_t *os = json_loads(DEBIAN_OS, 0, NULL);
	json_t *findings, *errors;
	int err = PC_ERR_NOMEM;

	for (long n = 0; n < 10000 && err != PC_OK; n++) {
		pc_alloc_fail_after(n);
		err = match_packages(fx.db, os, pkgs, &findings, &errors);
		pc_alloc_fail_after(-1);
		if (err != PC_OK) {
			assert_null(findings);
			continue;
		}
		assert_int_equal(json_array_size(findings), 2);
		json_decref(findings);
		json_decref(errors);
	}
	assert_int_equal(err, PC_OK);
	json_decref(pkgs);
	json_decref(os);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_is_exclusive),
		cmocka_unit_test(test_last_affected_is_inclusive),
		cmocka_unit_test(test_introduced_bounds_range),
		cmocka_unit_test(test_no_fix_is_open_ended),
		cmocka_unit_test(test_several_ranges),
		cmocka_unit_test(test_unsorted_events),
		cmocka_unit_test(test_lowest_fixed_reported),
		cmocka_unit_test(test_prerelease_bounds),
		cmocka_unit_test(test_limit_event),
		cmocka_unit_test(test_versions_list_only),
		cmocka_unit_test(test_versions_list_and_range),
		cmocka_unit_test(test_short_semver_event),
		cmocka_unit_test(test_deb_ordering),
		cmocka_unit_test(test_go_semver_ranges),
		cmocka_unit_test(test_invalid_version_rejected),
		cmocka_unit_test(test_bad_event_skips_range),
		cmocka_unit_test(test_ecosystem_schemes),
		cmocka_unit_test(test_alias_collapse),
		cmocka_unit_test(test_partial_group),
		cmocka_unit_test(test_source_package_mapping),
		cmocka_unit_test(test_one_finding_per_package),
		cmocka_unit_test(test_without_os_no_distro_match),
		cmocka_unit_test(test_alpine_ecosystem_from_os),
		cmocka_unit_test(test_pypi_normalisation),
		cmocka_unit_test(test_go_stdlib_versions),
		cmocka_unit_test(test_npm_scoped_and_severity),
		cmocka_unit_test(test_errors_do_not_stop_matching),
		cmocka_unit_test(test_packages_not_array),
		cmocka_unit_test(test_allocation_failures),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
