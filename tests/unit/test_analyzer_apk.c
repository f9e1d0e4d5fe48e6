#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "scanner/analyzers.h"
#include "tests/unit/lang_fixture.h"

#define FIXTURE "tests/data/fixtures/apk/installed"

static json_t *
analyze_text(struct layer_result *res, const char *path, const char *data,
    size_t len, bool truncated)
{
	struct scan_file f;
	size_t max = 0;

	memset(&f, 0, sizeof(f));
	f.path = path;
	f.mode = S_IFREG | 0644;
	f.size = (int64_t)len;
	assert_int_equal(analyzer_apk.wants(&f, &max), ANALYZER_CONTENT);
	assert_true(max >= (1U << 20));
	assert_int_equal(layer_result_init(res, NULL), PC_OK);
	assert_int_equal(analyzer_apk.analyze(&f, (const unsigned char *)data,
	    len, truncated, res), PC_OK);
	return lang_packages(res, path, "apk");
}

static const char *
str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static void
assert_apk(json_t *pkg, const char *arch, const char *origin)
{
	assert_non_null(pkg);
	assert_string_equal(str(pkg, "type"), "apk");
	assert_string_equal(str(pkg, "arch"), arch);
	assert_string_equal(str(pkg, "source_name"), origin);
	assert_string_equal(str(pkg, "source_version"), str(pkg, "version"));
}

static void
test_apk_installed_database(void **state)
{
	static const char *const paths[] = {
		"lib/apk/db/installed", "usr/lib/apk/db/installed",
	};
	size_t len;
	unsigned char *data = lang_fixture_read(FIXTURE, &len);

	for (size_t i = 0; i < 2; i++) {
		struct layer_result res;
		json_t *packages = analyze_text(&res, paths[i],
		    (const char *)data, len, false);

		assert_int_equal(json_array_size(packages), 3);
		assert_apk(lang_package_find(packages, "musl",
		    "1.2.4_git20230717-r4"), "x86_64", "musl");
		/* The origin names the source package of a subpackage. */
		assert_apk(lang_package_find(packages, "libcrypto3", "3.1.4-r5"),
		    "x86_64", "openssl");
		assert_apk(lang_package_find(packages, "busybox", "1.36.1-r15"),
		    "x86_64", "busybox");
		assert_int_equal(lang_error_count(&res), 0);
		layer_result_free(&res);
	}
	free(data);
}

static void
test_apk_without_origin_or_arch(void **state)
{
	static const char text[] = "P:solo\nV:1.0-r0\n\nP:noversion\n\n";
	struct layer_result res;
	json_t *packages = analyze_text(&res, "lib/apk/db/installed", text,
	    sizeof(text) - 1, false);
	json_t *pkg;

	assert_int_equal(json_array_size(packages), 1);
	pkg = lang_package_find(packages, "solo", "1.0-r0");
	assert_non_null(pkg);
	assert_string_equal(str(pkg, "source_name"), "solo");
	assert_null(json_object_get(pkg, "arch"));
	layer_result_free(&res);
}

static void
test_apk_truncated_and_limit(void **state)
{
	static const char cut[] = "P:whole\nV:1\n\nP:cut\nV:1.";
	struct layer_result res;
	struct buf text;
	json_t *packages = analyze_text(&res, "lib/apk/db/installed", cut,
	    sizeof(cut) - 1, true);

	assert_int_equal(json_array_size(packages), 1);
	assert_true(lang_error_contains(&res, "packages after the cut"));
	layer_result_free(&res);

	buf_init(&text, 64U << 20);
	for (unsigned i = 0; i <= 100000; i++)
		assert_int_equal(buf_printf(&text, "P:p%u\nV:1\n\n", i), PC_OK);
	packages = analyze_text(&res, "lib/apk/db/installed", text.data,
	    text.len, false);
	assert_int_equal(json_array_size(packages), 100000);
	assert_true(lang_error_contains(&res, "more than 100000 records"));
	layer_result_free(&res);
	buf_free(&text);
}

static void
test_apk_wants_database_paths_only(void **state)
{
	struct scan_file f;
	size_t max = 0;

	memset(&f, 0, sizeof(f));
	f.mode = S_IFREG | 0644;
	f.path = "lib/apk/db/installed.old";
	assert_int_equal(analyzer_apk.wants(&f, &max), ANALYZER_SKIP);
	f.path = "lib/apk/db/triggers";
	assert_int_equal(analyzer_apk.wants(&f, &max), ANALYZER_SKIP);
	f.path = "lib/apk/db/installed";
	f.mode = S_IFDIR | 0755;
	assert_int_equal(analyzer_apk.wants(&f, &max), ANALYZER_SKIP);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apk_installed_database),
		cmocka_unit_test(test_apk_without_origin_or_arch),
		cmocka_unit_test(test_apk_truncated_and_limit),
		cmocka_unit_test(test_apk_wants_database_paths_only),
	};

	pc_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
