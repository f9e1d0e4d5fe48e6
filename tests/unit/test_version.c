#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "scanner/version.h"

#define TABLE_DIR "tests/data/vercmp/"
#define TABLE_LINE_MAX 4096
#define TABLE_MIN_CASES 100

static const enum version_scheme all_schemes[] = {
	VERSION_DEB, VERSION_APK, VERSION_RPM, VERSION_SEMVER, VERSION_GO,
	VERSION_PEP440, VERSION_MAVEN,
};

#define SCHEME_COUNT (sizeof(all_schemes) / sizeof(all_schemes[0]))

static FILE *
open_table(enum version_scheme scheme, const char *suffix)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), TABLE_DIR "%s%s",
	    version_scheme_name(scheme), suffix);
	fp = fopen(path, "r");
	if (fp == NULL)
		fail_msg("cannot open %s: run the test from the repository "
		    "root", path);
	return fp;
}

/* Strips the line end and returns 0 for blank lines and # comments. */
static int
table_line(char *line)
{
	line[strcspn(line, "\r\n")] = '\0';
	return line[0] != '\0' && line[0] != '#';
}

static int
op_value(const char *op)
{
	if (strcmp(op, "<") == 0)
		return -1;
	if (strcmp(op, "=") == 0)
		return 0;
	if (strcmp(op, ">") == 0)
		return 1;
	fail_msg("unknown operator '%s' in a table", op);
	return 2;
}

static const char *
op_name(int value)
{
	if (value < 0)
		return "<";
	if (value > 0)
		return ">";
	return "=";
}

/* Checks one table line in both directions and returns the failure count. */
static int
check_case(enum version_scheme scheme, int lineno, char *line)
{
	char *a = line;
	char *op = strchr(a, '\t');
	char *b;
	int expected;
	int got = 2;
	int failures = 0;

	if (op == NULL || (b = strchr(op + 1, '\t')) == NULL)
		fail_msg("%s.tsv:%d: expected A<TAB>OP<TAB>B",
		    version_scheme_name(scheme), lineno);
	*op++ = '\0';
	*b++ = '\0';
	expected = op_value(op);

	if (version_compare(scheme, a, b, &got) != PC_OK || got != expected) {
		print_message("%s.tsv:%d: %s %s %s, got %s\n",
		    version_scheme_name(scheme), lineno, a, op, b,
		    got == 2 ? "an error" : op_name(got));
		failures++;
	}
	got = 2;
	if (version_compare(scheme, b, a, &got) != PC_OK || got != -expected) {
		print_message("%s.tsv:%d reversed: %s %s %s, got %s\n",
		    version_scheme_name(scheme), lineno, b, op_name(-expected),
		    a, got == 2 ? "an error" : op_name(got));
		failures++;
	}
	return failures;
}

static void
check_table(enum version_scheme scheme)
{
	FILE *fp = open_table(scheme, ".tsv");
	char line[TABLE_LINE_MAX];
	int lineno = 0;
	int cases = 0;
	int failures = 0;

	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (!table_line(line))
			continue;
		cases++;
		failures += check_case(scheme, lineno, line);
	}
	fclose(fp);
	assert_true(cases >= TABLE_MIN_CASES);
	assert_int_equal(failures, 0);
}

static void
check_invalid(enum version_scheme scheme, const char *valid)
{
	FILE *fp = open_table(scheme, "-invalid.txt");
	char line[TABLE_LINE_MAX];
	int cases = 0;
	int failures = 0;

	while (fgets(line, sizeof(line), fp) != NULL) {
		int result;

		if (!table_line(line))
			continue;
		cases++;
		if (version_validate(scheme, line) != PC_ERR_INVALID) {
			print_message("%s: '%s' accepted as valid\n",
			    version_scheme_name(scheme), line);
			failures++;
		}
		/* apk orders invalid strings instead of failing. */
		if (scheme != VERSION_APK &&
		    version_compare(scheme, line, valid, &result) !=
		    PC_ERR_INVALID) {
			print_message("%s: '%s' compared without an error\n",
			    version_scheme_name(scheme), line);
			failures++;
		}
	}
	fclose(fp);
	assert_true(cases >= 10);
	assert_int_equal(failures, 0);
}

static void
test_deb_table(void **state)
{
	check_table(VERSION_DEB);
}

static void
test_deb_invalid(void **state)
{
	check_invalid(VERSION_DEB, "1.0-1");
}

static void
test_semver_table(void **state)
{
	check_table(VERSION_SEMVER);
}

static void
test_semver_invalid(void **state)
{
	check_invalid(VERSION_SEMVER, "1.0.0");
}

static void
test_go_table(void **state)
{
	check_table(VERSION_GO);
}

static void
test_go_invalid(void **state)
{
	check_invalid(VERSION_GO, "v1.0.0");
}

static void
test_apk_table(void **state)
{
	check_table(VERSION_APK);
}

static void
test_apk_invalid(void **state)
{
	check_invalid(VERSION_APK, "1.0-r0");
}

static void
test_rpm_table(void **state)
{
	check_table(VERSION_RPM);
}

static void
test_rpm_invalid(void **state)
{
	check_invalid(VERSION_RPM, "1.0-1.el9");
}

static void
test_pep440_table(void **state)
{
	check_table(VERSION_PEP440);
}

static void
test_pep440_invalid(void **state)
{
	check_invalid(VERSION_PEP440, "1.0");
}

static void
test_maven_table(void **state)
{
	check_table(VERSION_MAVEN);
}

static void
test_maven_invalid(void **state)
{
	check_invalid(VERSION_MAVEN, "1.0");
}

static void
test_scheme_names(void **state)
{
	for (size_t i = 0; i < SCHEME_COUNT; i++) {
		enum version_scheme parsed = VERSION_MAVEN;
		const char *name = version_scheme_name(all_schemes[i]);

		assert_int_equal(version_scheme_parse(name, &parsed), PC_OK);
		assert_int_equal(parsed, all_schemes[i]);
	}
	assert_int_equal(version_scheme_parse("npm", &(enum version_scheme){0}),
	    PC_ERR_INVALID);
	assert_int_equal(version_scheme_parse("", &(enum version_scheme){0}),
	    PC_ERR_INVALID);
	assert_int_equal(version_scheme_parse(NULL, &(enum version_scheme){0}),
	    PC_ERR_INVALID);
	assert_string_equal(version_scheme_name((enum version_scheme)99),
	    "unknown");
}

static void
test_empty_and_null_rejected(void **state)
{
	int result;

	for (size_t i = 0; i < SCHEME_COUNT; i++) {
		enum version_scheme s = all_schemes[i];

		assert_int_equal(version_validate(s, ""), PC_ERR_INVALID);
		assert_int_equal(version_validate(s, NULL), PC_ERR_INVALID);
		assert_int_equal(version_compare(s, "", "", &result),
		    PC_ERR_INVALID);
		assert_int_equal(version_compare(s, NULL, NULL, &result),
		    PC_ERR_INVALID);
	}
	assert_int_equal(version_validate((enum version_scheme)99, "1"),
	    PC_ERR_INVALID);
}

/*
 * Builds a version of exactly len bytes: prefix, then digits separated by
 * dots ("1.1.1..." or "11.1.1..." so that it ends in a digit), with the
 * last digit replaced by last. This gives about len / 2 segments.
 */
static void
build_long(char *out, size_t len, const char *prefix, char last)
{
	size_t n = strlen(prefix);

	memcpy(out, prefix, n);
	if ((len - n) % 2 == 0)
		out[n++] = '1';
	out[n++] = '1';
	while (n < len) {
		out[n++] = '.';
		out[n++] = '1';
	}
	out[len - 1] = last;
	out[len] = '\0';
}

struct long_case {
	enum version_scheme scheme;
	const char *prefix;
};

static const struct long_case long_cases[] = {
	{VERSION_DEB, ""},
	{VERSION_APK, ""},
	{VERSION_RPM, ""},
	{VERSION_SEMVER, "1.0.0-a"},
	{VERSION_GO, "v1.0.0-a"},
	{VERSION_PEP440, ""},
	{VERSION_MAVEN, ""},
};

static void
test_length_cap(void **state)
{
	char at_cap[VERSION_MAX_LEN + 2];
	char at_cap_higher[VERSION_MAX_LEN + 2];
	char over_cap[VERSION_MAX_LEN + 2];
	size_t count = sizeof(long_cases) / sizeof(long_cases[0]);

	for (size_t i = 0; i < count; i++) {
		const struct long_case *c = &long_cases[i];
		int result = 2;

		build_long(at_cap, VERSION_MAX_LEN, c->prefix, '1');
		build_long(at_cap_higher, VERSION_MAX_LEN, c->prefix, '2');
		build_long(over_cap, VERSION_MAX_LEN + 1, c->prefix, '1');
		assert_int_equal(strlen(at_cap), VERSION_MAX_LEN);
		assert_int_equal(version_validate(c->scheme, at_cap), PC_OK);
		assert_int_equal(version_validate(c->scheme, over_cap),
		    PC_ERR_INVALID);
		assert_int_equal(version_compare(c->scheme, at_cap,
		    at_cap_higher, &result), PC_OK);
		assert_int_equal(result, -1);
		assert_int_equal(version_compare(c->scheme, at_cap, at_cap,
		    &result), PC_OK);
		assert_int_equal(result, 0);
		assert_int_equal(version_compare(c->scheme, over_cap, at_cap,
		    &result), PC_ERR_INVALID);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scheme_names),
		cmocka_unit_test(test_empty_and_null_rejected),
		cmocka_unit_test(test_length_cap),
		cmocka_unit_test(test_deb_table),
		cmocka_unit_test(test_deb_invalid),
		cmocka_unit_test(test_semver_table),
		cmocka_unit_test(test_semver_invalid),
		cmocka_unit_test(test_go_table),
		cmocka_unit_test(test_go_invalid),
		cmocka_unit_test(test_apk_table),
		cmocka_unit_test(test_apk_invalid),
		cmocka_unit_test(test_rpm_table),
		cmocka_unit_test(test_rpm_invalid),
		cmocka_unit_test(test_pep440_table),
		cmocka_unit_test(test_pep440_invalid),
		cmocka_unit_test(test_maven_table),
		cmocka_unit_test(test_maven_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
