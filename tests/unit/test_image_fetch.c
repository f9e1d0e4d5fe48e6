#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "proxy/image_backend.h"
#include "proxy/image_fetch.h"

/*
 * Image references that fail before any file or network access, and the
 * platform choice from an image index. Real layouts, archives and
 * registries are covered by tests/e2e/test_scan_cli.sh.
 */

static int
open_error(const char *ref, char *reason, size_t reasonlen)
{
	struct image_options opts = {false, NULL};
	struct image *img = NULL;
	int err = image_open(ref, &opts, &img, reason, reasonlen);

	assert_null(img);
	return err;
}

static void
test_invalid_references(void **state)
{
	static const struct {
		const char *ref;
		int err;
		const char *message;
	} cases[] = {
		{"no-slash", PC_ERR_INVALID, "expected oci:DIR"},
		{"registry.example/UPPER:tag", PC_ERR_INVALID, "invalid repository"},
		{"registry.example/name:bad!tag", PC_ERR_INVALID, "invalid tag"},
		{"registry.example/name@sha256:abc", PC_ERR_INVALID, "invalid digest"},
		{"bad host/name", PC_ERR_INVALID, "expected oci:DIR"},
		{"registry.example/-name", PC_ERR_INVALID, "invalid repository"},
		{"oci:", PC_ERR_INVALID, "needs a folder"},
		{"oci:/nonexistent/layout", PC_ERR_NOTFOUND, "cannot open"},
		{"docker-archive:/nonexistent.tar", PC_ERR_NOTFOUND, "cannot open"},
	};
	char reason[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(open_error(cases[i].ref, reason, sizeof(reason)),
		    cases[i].err);
		assert_non_null(strstr(reason, cases[i].message));
	}
}

static void
test_reference_length_limit(void **state)
{
	char ref[IMAGE_MAX_REFERENCE_LEN + 16];
	char reason[256];

	memset(ref, 'a', sizeof(ref) - 1);
	ref[sizeof(ref) - 1] = '\0';
	memcpy(ref, "oci:", 4);
	assert_int_equal(open_error(ref, reason, sizeof(reason)), PC_ERR_INVALID);
	assert_non_null(strstr(reason, "longer than"));
}

static const char index_text[] =
    "{\"schemaVersion\": 2, \"manifests\": ["
    "{\"digest\": \"sha256:1111111111111111111111111111111111111111111111111111111111111111\","
    " \"size\": 1, \"platform\": {\"os\": \"unknown\", \"architecture\": \"unknown\"}},"
    "{\"digest\": \"sha256:2222222222222222222222222222222222222222222222222222222222222222\","
    " \"size\": 2, \"platform\": {\"os\": \"linux\", \"architecture\": \"arm\", \"variant\": \"v7\"}},"
    "{\"digest\": \"sha256:3333333333333333333333333333333333333333333333333333333333333333\","
    " \"size\": 3, \"platform\": {\"os\": \"linux\", \"architecture\": \"arm64\"}},"
    "{\"digest\": \"sha256:4444444444444444444444444444444444444444444444444444444444444444\","
    " \"size\": 4, \"platform\": {\"os\": \"linux\", \"architecture\": \"amd64\"}}]}";

static int64_t
picked_size(const json_t *index, const char *platform, int *err)
{
	struct image_options opts = {false, platform};
	const json_t *desc = NULL;
	char reason[512];

	*err = image_pick_platform(index, &opts, &desc, reason, sizeof(reason));
	if (*err != PC_OK) {
		assert_non_null(strstr(reason, "linux/arm64"));
		return -1;
	}
	return json_integer_value(json_object_get(desc, "size"));
}

static void
test_pick_platform(void **state)
{
	json_t *index = json_loads(index_text, 0, NULL);
	int err;

	assert_non_null(index);
	assert_int_equal(picked_size(index, "linux/amd64", &err), 4);
	assert_int_equal(picked_size(index, "linux/arm64", &err), 3);
	assert_int_equal(picked_size(index, "linux/arm/v7", &err), 2);
	assert_int_equal(picked_size(index, "linux/arm/v6", &err), -1);
	assert_int_equal(err, PC_ERR_NOTFOUND);
	assert_int_equal(picked_size(index, "windows/amd64", &err), -1);
	assert_int_equal(err, PC_ERR_NOTFOUND);
	json_decref(index);
}

static void
test_descriptor_checks(void **state)
{
	static const struct {
		const char *json;
		int err;
	} cases[] = {
		{"{\"digest\": \"sha256:4444444444444444444444444444444444444444444444444444444444444444\", \"size\": 4}", PC_OK},
		{"{\"digest\": \"sha256:44\", \"size\": 4}", PC_ERR_INVALID},
		{"{\"digest\": \"sha256:4444444444444444444444444444444444444444444444444444444444444444\", \"size\": -1}", PC_ERR_INVALID},
		{"{\"digest\": \"sha256:4444444444444444444444444444444444444444444444444444444444444444\"}", PC_ERR_INVALID},
		{"{\"digest\": \"sha512:44444444444444444444444444444444444444444444444444444444444444444444444444444444444444444444444444444444444444444444444444444444\", \"size\": 4}", PC_ERR_UNSUPPORTED},
	};
	char digest[DIGEST_SHA256_BUFSIZE];
	char reason[256];
	int64_t size;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *desc = json_loads(cases[i].json, 0, NULL);

		assert_non_null(desc);
		assert_int_equal(image_descriptor(desc, digest, &size, reason,
		    sizeof(reason)), cases[i].err);
		json_decref(desc);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_references),
		cmocka_unit_test(test_reference_length_limit),
		cmocka_unit_test(test_pick_platform),
		cmocka_unit_test(test_descriptor_checks),
	};

	pc_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
