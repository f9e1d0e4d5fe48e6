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

#define FIXTURES "tests/data/fixtures/dpkg/"

/*
 * Runs the dpkg analyzer on len bytes of data stored at path, cut to the
 * analyzer's read cap as the walker would, and returns the packages.
 */
static json_t *
analyze_text(struct layer_result *res, const char *path, const char *data,
    size_t len)
{
	struct scan_file f;
	size_t max = 0;

	memset(&f, 0, sizeof(f));
	f.path = path;
	f.mode = S_IFREG | 0644;
	f.size = (int64_t)len;
	assert_int_equal(analyzer_dpkg.wants(&f, &max), ANALYZER_CONTENT);
	assert_int_equal(layer_result_init(res, NULL), PC_OK);
	assert_int_equal(analyzer_dpkg.analyze(&f, (const unsigned char *)data,
	    len < max ? len : max, len > max, res), PC_OK);
	return lang_packages(res, path, "dpkg");
}

static json_t *
analyze_fixture(struct layer_result *res, const char *path,
    const char *fixture)
{
	char name[256];
	size_t len;
	unsigned char *data;
	json_t *packages;

	snprintf(name, sizeof(name), "%s%s", FIXTURES, fixture);
	data = lang_fixture_read(name, &len);
	packages = analyze_text(res, path, (const char *)data, len);
	free(data);
	return packages;
}

static const char *
str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static void
assert_deb(json_t *pkg, const char *arch, const char *source_name,
    const char *source_version)
{
	assert_non_null(pkg);
	assert_string_equal(str(pkg, "type"), "deb");
	assert_string_equal(str(pkg, "arch"), arch);
	assert_string_equal(str(pkg, "source_name"), source_name);
	assert_string_equal(str(pkg, "source_version"), source_version);
}

static void
test_dpkg_real_status_excerpt(void **state)
{
	struct layer_result res;
	json_t *packages = analyze_fixture(&res, "var/lib/dpkg/status",
	    "status");

	assert_int_equal(json_array_size(packages), 8);
	/* Source with its own version: a binNMU rebuild (+b8). */
	assert_deb(lang_package_find(packages, "bash", "5.2.15-2+b8"), "amd64",
	    "bash", "5.2.15-2");
	/* Source without version takes the binary's version. */
	assert_deb(lang_package_find(packages, "libc6", "2.36-9+deb12u14"),
	    "amd64", "glibc", "2.36-9+deb12u14");
	/* The epoch stays in the binary version only. */
	assert_deb(lang_package_find(packages, "bsdutils",
	    "1:2.38.1-5+deb12u3"), "amd64", "util-linux", "2.38.1-5+deb12u3");
	/* No Source line: the package is its own source. */
	assert_deb(lang_package_find(packages, "tzdata", "2025b-0+deb12u2"),
	    "all", "tzdata", "2025b-0+deb12u2");
	assert_deb(lang_package_find(packages, "libssl3", "3.0.19-1~deb12u2"),
	    "amd64", "openssl", "3.0.19-1~deb12u2");
	assert_int_equal(lang_error_count(&res), 0);
	layer_result_free(&res);
}

static void
test_dpkg_skips_removed_and_incomplete(void **state)
{
	struct layer_result res;
	json_t *packages = analyze_fixture(&res, "var/lib/dpkg/status",
	    "status-removed");

	assert_int_equal(json_array_size(packages), 1);
	assert_deb(lang_package_find(packages, "kept", "2.0-1+b1"), "arm64",
	    "kept-src", "2.0-1");
	assert_null(lang_package_find(packages, "old-removed", "1.0-1"));
	assert_null(lang_package_find(packages, "purged", "0.5-1"));
	layer_result_free(&res);
}

static void
test_dpkg_distroless_status_d(void **state)
{
	struct layer_result res;
	struct scan_file f;
	size_t max = 0;
	json_t *packages = analyze_fixture(&res, "var/lib/dpkg/status.d/libc6",
	    "status.d/libc6");

	/* No Status line: distroless images list only installed packages. */
	assert_int_equal(json_array_size(packages), 1);
	assert_deb(lang_package_find(packages, "libc6", "2.36-9+deb12u14"),
	    "amd64", "glibc", "2.36-9+deb12u14");
	layer_result_free(&res);

	memset(&f, 0, sizeof(f));
	f.mode = S_IFREG | 0644;
	f.path = "var/lib/dpkg/status.d/libc6.md5sums";
	assert_int_equal(analyzer_dpkg.wants(&f, &max), ANALYZER_SKIP);
	f.path = "var/lib/dpkg/status.d/sub/libc6";
	assert_int_equal(analyzer_dpkg.wants(&f, &max), ANALYZER_SKIP);
	f.path = "var/lib/dpkg/status-old";
	assert_int_equal(analyzer_dpkg.wants(&f, &max), ANALYZER_SKIP);
	f.path = "var/lib/dpkg/status";
	f.mode = S_IFLNK | 0777;
	assert_int_equal(analyzer_dpkg.wants(&f, &max), ANALYZER_SKIP);
}

static void
test_dpkg_crlf_and_case(void **state)
{
	static const char text[] =
	    "package: crlf\r\nVERSION: 1.0\r\nArchitecture: amd64\r\n\r\n"
	    "Package: last-without-newline\nVersion: 2";
	struct layer_result res;
	json_t *packages = analyze_text(&res, "var/lib/dpkg/status", text,
	    sizeof(text) - 1);

	assert_int_equal(json_array_size(packages), 2);
	assert_non_null(lang_package_find(packages, "crlf", "1.0"));
	assert_non_null(lang_package_find(packages, "last-without-newline",
	    "2"));
	layer_result_free(&res);
}

static void
test_dpkg_stanza_limit(void **state)
{
	struct buf text;
	struct layer_result res;
	json_t *packages;

	/* 100001 tiny stanzas: one past the limit. */
	buf_init(&text, 64U << 20);
	for (unsigned i = 0; i <= 100000; i++)
		assert_int_equal(buf_printf(&text, "Package: p%u\nVersion: 1\n\n",
		    i), PC_OK);
	packages = analyze_text(&res, "var/lib/dpkg/status", text.data,
	    text.len);
	assert_int_equal(json_array_size(packages), 100000);
	assert_int_equal(lang_error_count(&res), 1);
	assert_true(lang_error_contains(&res, "more than 100000 records"));
	layer_result_free(&res);
	buf_free(&text);
}

static void
test_dpkg_overlong_field_skipped(void **state)
{
	struct buf text;
	struct layer_result res;
	json_t *packages;

	buf_init(&text, 1U << 20);
	assert_int_equal(buf_append_str(&text, "Package: long\nVersion: "),
	    PC_OK);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(buf_append_str(&text, "9"), PC_OK);
	assert_int_equal(buf_append_str(&text,
	    "\n\nPackage: short\nVersion: 1\n"), PC_OK);
	packages = analyze_text(&res, "var/lib/dpkg/status", text.data,
	    text.len);
	assert_int_equal(json_array_size(packages), 1);
	assert_non_null(lang_package_find(packages, "short", "1"));
	layer_result_free(&res);
	buf_free(&text);
}

static void
test_dpkg_truncated_drops_last_stanza(void **state)
{
	static const char text[] =
	    "Package: whole\nVersion: 1\n\nPackage: cut\nVersion: 1.2";
	struct scan_file f;
	struct layer_result res;
	json_t *packages;

	memset(&f, 0, sizeof(f));
	f.path = "var/lib/dpkg/status";
	f.mode = S_IFREG | 0644;
	assert_int_equal(layer_result_init(&res, NULL), PC_OK);
	assert_int_equal(analyzer_dpkg.analyze(&f, (const unsigned char *)text,
	    sizeof(text) - 1, true, &res), PC_OK);
	packages = lang_packages(&res, "var/lib/dpkg/status", "dpkg");
	assert_int_equal(json_array_size(packages), 1);
	assert_non_null(lang_package_find(packages, "whole", "1"));
	assert_true(lang_error_contains(&res, "packages after the cut"));
	layer_result_free(&res);
}

static void
test_dpkg_binary_garbage(void **state)
{
	unsigned char garbage[65536];
	struct layer_result res;
	json_t *packages;
	uint32_t x = 2463534242U;

	for (size_t i = 0; i < sizeof(garbage); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		garbage[i] = (unsigned char)x;
	}
	packages = analyze_text(&res, "var/lib/dpkg/status",
	    (const char *)garbage, sizeof(garbage));
	assert_non_null(packages);
	assert_int_equal(json_array_size(packages), 0);
	layer_result_free(&res);
}

static void
test_dpkg_invalid_utf8_replaced(void **state)
{
	static const char text[] =
	    "Package: caf\xc3\nVersion: 1.0\xff\xfe-1\nSource: \xed\xa0\x80x\n";
	struct layer_result res;
	json_t *packages = analyze_text(&res, "var/lib/dpkg/status", text,
	    sizeof(text) - 1);
	json_t *pkg = lang_package_find(packages, "caf?",
	    "1.0?" "?-1");

	assert_non_null(pkg);
	assert_string_equal(json_string_value(json_object_get(pkg,
	    "source_name")), "?" "?" "?x");
	layer_result_free(&res);
}

static void
test_dpkg_allocation_failures_unwind(void **state)
{
	char name[256];
	size_t len;
	unsigned char *data;
	struct scan_file f;

	snprintf(name, sizeof(name), "%s%s", FIXTURES, "status");
	data = lang_fixture_read(name, &len);
	memset(&f, 0, sizeof(f));
	f.path = "var/lib/dpkg/status";
	f.mode = S_IFREG | 0644;
	for (long n = 0; n < 200; n++) {
		struct layer_result res;
		int err;

		assert_int_equal(layer_result_init(&res, NULL), PC_OK);
		pc_alloc_fail_after(n);
		err = analyzer_dpkg.analyze(&f, data, len, false, &res);
		pc_alloc_fail_after(-1);
		assert_true(err == PC_OK || err == PC_ERR_NOMEM);
		layer_result_free(&res);
	}
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dpkg_real_status_excerpt),
		cmocka_unit_test(test_dpkg_skips_removed_and_incomplete),
		cmocka_unit_test(test_dpkg_distroless_status_d),
		cmocka_unit_test(test_dpkg_crlf_and_case),
		cmocka_unit_test(test_dpkg_stanza_limit),
		cmocka_unit_test(test_dpkg_overlong_field_skipped),
		cmocka_unit_test(test_dpkg_truncated_drops_last_stanza),
		cmocka_unit_test(test_dpkg_binary_garbage),
		cmocka_unit_test(test_dpkg_invalid_utf8_replaced),
		cmocka_unit_test(test_dpkg_allocation_failures_unwind),
	};

	pc_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
