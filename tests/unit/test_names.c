#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cache/names.h"

struct name_case {
	const char *name;
	bool valid;
};

static const struct name_case repo_cases[] = {
	{"alpine", true},
	{"library/alpine", true},
	{"a/b/c/d", true},
	{"my-org/my-image", true},
	{"a--b", true},                   /* -+ allows several dashes */
	{"a__b", true},                   /* __ is one separator */
	{"a_b.c-d", true},
	{"foo.bar/baz_qux", true},
	{"0", true},
	{"9a/0b", true},
	{"a___b", false},                 /* three underscores */
	{"a..b", false},
	{"a._b", false},
	{"a.-b", false},
	{"-a", false},
	{"a-", false},
	{"_a", false},
	{"a_", false},
	{".a", false},
	{"a.", false},
	{"Alpine", false},                /* upper case */
	{"library/Alpine", false},
	{"a//b", false},
	{"/a", false},
	{"a/", false},
	{"a/../b", false},
	{"..", false},
	{"a b", false},
	{"a:b", false},
	{"a@b", false},
	{"a\nb", false},
	{"", false},
	{"é", false},
};

static void
test_repo_name_table(void **state)
{
	for (size_t i = 0; i < sizeof(repo_cases) / sizeof(repo_cases[0]); i++) {
		print_message("case %zu: \"%s\"\n", i, repo_cases[i].name);
		assert_int_equal(repo_name_is_valid(repo_cases[i].name),
		    repo_cases[i].valid);
	}
	assert_false(repo_name_is_valid(NULL));
}

static void
test_repo_name_length_limit(void **state)
{
	char name[REPO_NAME_MAX_LEN + 2];

	/* "a/a/a/...": every component valid, only the length varies. */
	for (size_t i = 0; i < sizeof(name) - 1; i++)
		name[i] = (i % 2 == 0) ? 'a' : '/';
	name[REPO_NAME_MAX_LEN] = '\0';
	assert_int_equal(strlen(name), 255);
	assert_true(repo_name_is_valid(name));

	memset(name, 'b', REPO_NAME_MAX_LEN + 1);
	name[REPO_NAME_MAX_LEN + 1] = '\0';
	assert_false(repo_name_is_valid(name));
}

static const struct name_case tag_cases[] = {
	{"latest", true},
	{"3.19", true},
	{"v1.2.3-rc.1", true},
	{"_underscore", true},
	{"A", true},
	{"sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    true},
	{".hidden", false},
	{"-dash", false},
	{"", false},
	{"a:b", false},
	{"a/b", false},
	{"a b", false},
	{"a+b", false},
	{"tag\n", false},
};

static void
test_tag_table(void **state)
{
	for (size_t i = 0; i < sizeof(tag_cases) / sizeof(tag_cases[0]); i++) {
		print_message("case %zu: \"%s\"\n", i, tag_cases[i].name);
		assert_int_equal(tag_is_valid(tag_cases[i].name), tag_cases[i].valid);
	}
	assert_false(tag_is_valid(NULL));
}

static void
test_tag_length_limit(void **state)
{
	char tag[TAG_MAX_LEN + 2];

	memset(tag, 'x', TAG_MAX_LEN);
	tag[TAG_MAX_LEN] = '\0';
	assert_true(tag_is_valid(tag));

	tag[TAG_MAX_LEN] = 'x';
	tag[TAG_MAX_LEN + 1] = '\0';
	assert_false(tag_is_valid(tag));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_repo_name_table),
		cmocka_unit_test(test_repo_name_length_limit),
		cmocka_unit_test(test_tag_table),
		cmocka_unit_test(test_tag_length_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
