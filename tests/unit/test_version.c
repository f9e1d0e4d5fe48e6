#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
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

/* Fills out with pattern repeated to exactly len bytes. */
static void
build_repeated(char *out, size_t len, const char *pattern)
{
	size_t n = strlen(pattern);

	for (size_t i = 0; i < len; i++)
		out[i] = pattern[i % n];
	out[len] = '\0';
}

/*
 * Each '-' and each digit-letter change opens a nested Maven sub-list,
 * so these strings nest about 128 and 256 levels deep.
 */
static void
test_maven_deep_nesting(void **state)
{
	char low[VERSION_MAX_LEN + 1];
	char high[VERSION_MAX_LEN + 1];
	int result = 2;

	build_repeated(low, VERSION_MAX_LEN - 1, "1-");
	build_repeated(high, VERSION_MAX_LEN - 1, "1-");
	high[VERSION_MAX_LEN - 2] = '2';
	assert_int_equal(version_compare(VERSION_MAVEN, low, high, &result),
	    PC_OK);
	assert_int_equal(result, -1);

	build_repeated(low, VERSION_MAX_LEN, "1x");
	build_repeated(high, VERSION_MAX_LEN, "1x");
	high[VERSION_MAX_LEN - 1] = 'y';
	assert_int_equal(version_compare(VERSION_MAVEN, low, high, &result),
	    PC_OK);
	assert_int_equal(result, -1);
	assert_int_equal(version_compare(VERSION_MAVEN, low, low, &result),
	    PC_OK);
	assert_int_equal(result, 0);
}

static void
test_maven_allocation_failure(void **state)
{
	int result = 2;

	for (long n = 0; n < 2; n++) {
		pc_alloc_fail_after(n);
		assert_int_equal(version_compare(VERSION_MAVEN, "1.0", "1.1",
		    &result), PC_ERR_NOMEM);
		pc_alloc_fail_after(-1);
	}
	assert_int_equal(result, 2);
	assert_int_equal(version_compare(VERSION_MAVEN, "1.0", "1.1", &result),
	    PC_OK);
	assert_int_equal(result, -1);
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

/* xorshift32: a fixed sequence, so a failure reproduces. */
static uint32_t
next_random(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

#define SAMPLE_MAX 4096
#define SAMPLE_ROUNDS 4000

/* Versions of one scheme's table, the seeds of the mutated inputs. */
struct sample {
	char versions[SAMPLE_MAX][VERSION_MAX_LEN + 1];
	size_t count;
};

static void
sample_add(struct sample *sample, const char *v)
{
	size_t len = strlen(v);

	assert_true(len <= VERSION_MAX_LEN);
	memcpy(sample->versions[sample->count++], v, len + 1);
}

static void
load_sample(enum version_scheme scheme, struct sample *sample)
{
	FILE *fp = open_table(scheme, ".tsv");
	char line[TABLE_LINE_MAX];

	sample->count = 0;
	while (fgets(line, sizeof(line), fp) != NULL &&
	    sample->count + 2 <= SAMPLE_MAX) {
		char *op;
		char *b;

		if (!table_line(line))
			continue;
		op = strchr(line, '\t');
		assert_non_null(op);
		b = strchr(op + 1, '\t');
		assert_non_null(b);
		*op = '\0';
		sample_add(sample, line);
		sample_add(sample, b + 1);
	}
	fclose(fp);
	assert_true(sample->count > 0);
}

/*
 * Copies a random table version to out and often changes it: replaces
 * or deletes a byte, inserts a piece that some scheme gives a meaning
 * to, or cuts the string. Many results stay valid, many do not.
 */
static void
mutate_version(uint32_t *state, const struct sample *sample, char *out)
{
	static const char *const pieces[] = {
		"0", "1", "01", "99999999999999999999999", ".", "-", "-r1",
		"~", "^", "+", "_", "a", "rc", "alpha", "post", "dev", "git",
		"sp", "SNAPSHOT", "v", "1!", "1:", "x", " ", "\xff", "@",
	};
	const char *seed = sample->versions[next_random(state) %
	    sample->count];
	size_t len = strlen(seed);
	size_t at = len > 0 ? next_random(state) % len : 0;
	const char *piece;

	memcpy(out, seed, len + 1);
	switch (next_random(state) % 6) {
	case 0:
		piece = pieces[next_random(state) %
		    (sizeof(pieces) / sizeof(pieces[0]))];
		out[at] = piece[0];
		break;
	case 1:
		memmove(out + at, out + at + 1, len - at);
		break;
	case 2:
		piece = pieces[next_random(state) %
		    (sizeof(pieces) / sizeof(pieces[0]))];
		memmove(out + at + strlen(piece), out + at, len - at + 1);
		memcpy(out + at, piece, strlen(piece));
		break;
	case 3:
		out[at] = '\0';
		break;
	default:
		break;
	}
}

/* Counts a failure when the order of a and b is not antisymmetric. */
static int
check_antisymmetric(enum version_scheme s, const char *a, const char *b)
{
	int ab = 2;
	int ba = 2;

	if (version_compare(s, a, b, &ab) != PC_OK)
		return 0;
	if (version_compare(s, b, a, &ba) == PC_OK && ab == -ba)
		return 0;
	print_message("%s: '%s' vs '%s' is not antisymmetric\n",
	    version_scheme_name(s), a, b);
	return 1;
}

/* Counts a failure when a <= b <= c but not a <= c. */
static int
check_transitive(enum version_scheme s, const char *a, const char *b,
    const char *c)
{
	int ab = 2;
	int bc = 2;
	int ac = 2;

	if (version_compare(s, a, b, &ab) != PC_OK ||
	    version_compare(s, b, c, &bc) != PC_OK ||
	    version_compare(s, a, c, &ac) != PC_OK)
		return 0;
	if (ab > 0 || bc > 0 || ac <= 0)
		return 0;
	print_message("%s: '%s' <= '%s' <= '%s' but not '%s' <= '%s'\n",
	    version_scheme_name(s), a, b, c, a, c);
	return 1;
}

/* Checks one scheme on mutated table versions and returns the failures. */
static int
check_mutations(enum version_scheme s, struct sample *sample, int *valid)
{
	uint32_t seed = 2463534242u;
	char a[2 * VERSION_MAX_LEN + 32];
	char b[2 * VERSION_MAX_LEN + 32];
	char c[2 * VERSION_MAX_LEN + 32];
	int failures = 0;
	int result;

	load_sample(s, sample);
	*valid = 0;
	for (int round = 0; round < SAMPLE_ROUNDS; round++) {
		int a_valid;
		int err;

		mutate_version(&seed, sample, a);
		mutate_version(&seed, sample, b);
		mutate_version(&seed, sample, c);
		a_valid = version_validate(s, a) == PC_OK;
		*valid += a_valid;
		err = version_compare(s, a, a, &result);
		if (a_valid && (err != PC_OK || result != 0)) {
			print_message("%s: '%s' is not equal to itself\n",
			    version_scheme_name(s), a);
			failures++;
		}
		if (!a_valid && s != VERSION_APK && err != PC_ERR_INVALID) {
			print_message("%s: invalid '%s' was compared\n",
			    version_scheme_name(s), a);
			failures++;
		}
		failures += check_antisymmetric(s, a, b);
		/* Maven's own order is not transitive (see maven.tsv). */
		if (s != VERSION_MAVEN && version_validate(s, a) == PC_OK &&
		    version_validate(s, b) == PC_OK &&
		    version_validate(s, c) == PC_OK)
			failures += check_transitive(s, a, b, c);
	}
	return failures;
}

/*
 * Feeds mutated table versions to every scheme: no crash, compare agrees
 * with validate, and the order is reflexive, antisymmetric and (except
 * maven) transitive.
 */
static void
test_mutated_input_properties(void **state)
{
	static struct sample sample;
	int failures = 0;

	for (size_t i = 0; i < SCHEME_COUNT; i++) {
		int valid;

		failures += check_mutations(all_schemes[i], &sample, &valid);
		/* The mutations must also reach the valid space. */
		assert_true(valid >= SAMPLE_ROUNDS / 10);
	}
	assert_int_equal(failures, 0);
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
		cmocka_unit_test(test_maven_allocation_failure),
		cmocka_unit_test(test_maven_deep_nesting),
		cmocka_unit_test(test_mutated_input_properties),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
