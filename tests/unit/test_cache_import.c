#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cache/manifest_cache.h"
#include "common/error.h"
#include "proxy/cache_import.h"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_V2 "application/vnd.docker.distribution.manifest.v2+json"

struct split_case {
	const char *ref;
	bool docker_hub;
	const char *default_tag;
	int err;
	const char *repository;   /* expected on PC_OK */
	const char *tag;
};

static const struct split_case split_cases[] = {
	{"debian", true, "latest", PC_OK, "library/debian", "latest"},
	{"debian:bookworm", true, "latest", PC_OK, "library/debian", "bookworm"},
	{"debian", false, "latest", PC_OK, "debian", "latest"},
	{"team/base:v1", true, "latest", PC_OK, "team/base", "v1"},
	/* A first component with '.', ':' or "localhost" is a host. */
	{"docker.io/library/debian:12", true, NULL, PC_OK, "library/debian", "12"},
	{"registry.example.com/team/base:v1", true, NULL, PC_OK, "team/base", "v1"},
	{"127.0.0.1:5000/app:1.0", false, NULL, PC_OK, "app", "1.0"},
	{"localhost/app", false, "latest", PC_OK, "app", "latest"},
	{"example.com/debian", true, NULL, PC_OK, "library/debian", ""},
	/* A ':' before the last '/' belongs to the host, not a tag. */
	{"host:5000/a/b", false, "x", PC_OK, "a/b", "x"},
	{"Debian:1", true, NULL, PC_ERR_INVALID, NULL, NULL},
	{"debian:-bad", true, NULL, PC_ERR_INVALID, NULL, NULL},
	{"debian:", true, NULL, PC_ERR_INVALID, NULL, NULL},
	{":tag", true, NULL, PC_ERR_INVALID, NULL, NULL},
	{"", true, "latest", PC_ERR_INVALID, NULL, NULL},
	{"a//b", false, NULL, PC_ERR_INVALID, NULL, NULL},
	{"example.com/", false, NULL, PC_ERR_INVALID, NULL, NULL},
};

static void
test_split_name_table(void **state)
{
	for (size_t i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
		const struct split_case *c = &split_cases[i];
		char repository[REPO_NAME_MAX_LEN + 1];
		char tag[TAG_MAX_LEN + 1];
		char reason[256] = "";
		int err = cache_import_split_name(c->ref, c->docker_hub,
		    c->default_tag, repository, tag, reason, sizeof(reason));

		print_message("case %zu: %s\n", i, c->ref);
		assert_int_equal(err, c->err);
		if (err != PC_OK) {
			assert_true(reason[0] != '\0');
			continue;
		}
		assert_string_equal(repository, c->repository);
		assert_string_equal(tag, c->tag);
	}
}

static void
test_split_name_length_limits(void **state)
{
	char ref[REPO_NAME_MAX_LEN + TAG_MAX_LEN + 8];
	char repository[REPO_NAME_MAX_LEN + 1];
	char tag[TAG_MAX_LEN + 1];
	char reason[256];

	/* A one-component name of the maximum length fits without library/. */
	memset(ref, 'a', REPO_NAME_MAX_LEN);
	ref[REPO_NAME_MAX_LEN] = '\0';
	assert_int_equal(cache_import_split_name(ref, false, NULL, repository, tag,
	    reason, sizeof(reason)), PC_OK);
	assert_int_equal(strlen(repository), REPO_NAME_MAX_LEN);

	/* With library/ in front it no longer does. */
	assert_int_equal(cache_import_split_name(ref, true, NULL, repository, tag,
	    reason, sizeof(reason)), PC_ERR_INVALID);

	/* One byte more is too long even without it. */
	memset(ref, 'a', REPO_NAME_MAX_LEN + 1);
	ref[REPO_NAME_MAX_LEN + 1] = '\0';
	assert_int_equal(cache_import_split_name(ref, false, NULL, repository, tag,
	    reason, sizeof(reason)), PC_ERR_INVALID);

	/* Tags: 128 characters pass, 129 fail. */
	memcpy(ref, "a:", 2);
	memset(ref + 2, 't', TAG_MAX_LEN);
	ref[2 + TAG_MAX_LEN] = '\0';
	assert_int_equal(cache_import_split_name(ref, false, NULL, repository, tag,
	    reason, sizeof(reason)), PC_OK);
	assert_int_equal(strlen(tag), TAG_MAX_LEN);
	ref[2 + TAG_MAX_LEN] = 't';
	ref[3 + TAG_MAX_LEN] = '\0';
	assert_int_equal(cache_import_split_name(ref, false, NULL, repository, tag,
	    reason, sizeof(reason)), PC_ERR_INVALID);
}

static void
test_accept_classes_distinct(void **state)
{
	unsigned classes[CACHE_IMPORT_MAX_CLASSES];
	size_t n = cache_import_accept_classes(classes);

	assert_true(n >= 3);
	assert_true(n <= CACHE_IMPORT_MAX_CLASSES);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++)
			assert_true(classes[i] != classes[j]);
	}
}

static void
test_accept_classes_cover_clients(void **state)
{
	const char *none = NULL;
	unsigned no_accept = accept_class_from_headers(&none, 0);
	unsigned classes[CACHE_IMPORT_MAX_CLASSES];
	size_t n = cache_import_accept_classes(classes);
	size_t oci = 0;
	size_t docker = 0;
	bool has_no_accept = false;

	for (size_t i = 0; i < n; i++) {
		oci += accept_class_allows(classes[i], MT_OCI_MANIFEST);
		docker += accept_class_allows(classes[i], MT_DOCKER_V2);
		has_no_accept = has_no_accept || classes[i] == no_accept;
	}
	/* An OCI manifest is stored for every class but the no-Accept one. */
	assert_true(has_no_accept);
	assert_int_equal(oci, n - 1);
	assert_int_equal(docker, n);
	/* The richest class, containerd's, comes first and takes any type. */
	assert_true(classes[0] & ACCEPT_ANY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_name_table),
		cmocka_unit_test(test_split_name_length_limits),
		cmocka_unit_test(test_accept_classes_distinct),
		cmocka_unit_test(test_accept_classes_cover_clients),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
