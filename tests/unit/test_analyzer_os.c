#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/error.h"
#include "scanner/analyzers.h"
#include "tests/unit/lang_fixture.h"

#define FIXTURES "tests/data/fixtures/os/"

/* Runs the OS analyzer on text stored at path; returns files[path]["os"]. */
static json_t *
analyze_text(struct layer_result *res, const char *path, const char *text,
    size_t len)
{
	struct scan_file f;
	size_t max = 0;

	memset(&f, 0, sizeof(f));
	f.path = path;
	f.mode = S_IFREG | 0644;
	f.size = (int64_t)len;
	assert_int_equal(analyzer_os.wants(&f, &max), ANALYZER_CONTENT);
	assert_true(max >= 4096);
	assert_int_equal(layer_result_init(res, NULL), PC_OK);
	assert_int_equal(analyzer_os.analyze(&f, (const unsigned char *)text,
	    len, false, res), PC_OK);
	return json_object_get(json_object_get(json_object_get(res->root,
	    "files"), path), "os");
}

static json_t *
analyze_fixture(struct layer_result *res, const char *path,
    const char *fixture)
{
	char name[256];
	size_t len;
	unsigned char *data;
	json_t *os;

	snprintf(name, sizeof(name), "%s%s", FIXTURES, fixture);
	data = lang_fixture_read(name, &len);
	os = analyze_text(res, path, (const char *)data, len);
	free(data);
	return os;
}

static const char *
str(const json_t *os, const char *key)
{
	return json_string_value(json_object_get(os, key));
}

struct os_case {
	const char *fixture;
	const char *path;
	const char *family;
	const char *version;
	const char *ecosystem;   /* NULL: JSON null */
	const char *from;
};

static const struct os_case os_cases[] = {
	{"debian-12.os-release", "usr/lib/os-release", "debian", "12",
	    "Debian:12", "os-release"},
	{"debian-12.debian_version", "etc/debian_version", "debian", "12.8",
	    "Debian:12", "debian_version"},
	{"alpine-3.19.os-release", "etc/os-release", "alpine", "3.19.1",
	    "Alpine:v3.19", "os-release"},
	{"alpine-3.19.alpine-release", "etc/alpine-release", "alpine",
	    "3.19.1", "Alpine:v3.19", "alpine-release"},
	{"ubuntu-22.04.os-release", "usr/lib/os-release", "ubuntu", "22.04",
	    "Ubuntu:22.04:LTS", "os-release"},
	{"ubuntu-23.10.os-release", "usr/lib/os-release", "ubuntu", "23.10",
	    "Ubuntu:23.10", "os-release"},
	{"rocky-9.3.os-release", "etc/os-release", "rocky", "9.3",
	    "Rocky Linux:9", "os-release"},
	{"rocky-9.3.rocky-release", "etc/rocky-release", "rocky", "9.3",
	    "Rocky Linux:9", "rocky-release"},
	{"almalinux-9.3.os-release", "etc/os-release", "almalinux", "9.3",
	    "AlmaLinux:9", "os-release"},
	{"rhel-9.3.os-release", "etc/os-release", "rhel", "9.3",
	    "Red Hat:enterprise_linux:9", "os-release"},
	{"rhel-9.3.redhat-release", "etc/redhat-release", "rhel", "9.3",
	    "Red Hat:enterprise_linux:9", "redhat-release"},
	{"fedora-39.os-release", "etc/os-release", "fedora", "39",
	    "Fedora:39", "os-release"},
	{"centos-7.9.centos-release", "etc/centos-release", "centos",
	    "7.9.2009", NULL, "centos-release"},
	{"amzn-2023.system-release", "etc/system-release", "amzn", "2023",
	    NULL, "system-release"},
	{"debian-trixie.debian_version", "etc/debian_version", "debian",
	    "trixie/sid", "Debian:13", "debian_version"},
};

static void
test_os_real_release_files(void **state)
{
	for (size_t i = 0; i < sizeof(os_cases) / sizeof(os_cases[0]); i++) {
		const struct os_case *c = &os_cases[i];
		struct layer_result res;
		json_t *os = analyze_fixture(&res, c->path, c->fixture);

		print_message("fixture %s\n", c->fixture);
		assert_non_null(os);
		assert_string_equal(str(os, "family"), c->family);
		assert_string_equal(str(os, "version"), c->version);
		assert_string_equal(str(os, "from"), c->from);
		if (c->ecosystem != NULL)
			assert_string_equal(str(os, "ecosystem"), c->ecosystem);
		else
			assert_true(json_is_null(json_object_get(os, "ecosystem")));
		layer_result_free(&res);
	}
}

static void
test_os_debian_testing_codename(void **state)
{
	struct layer_result res;
	json_t *os = analyze_fixture(&res, "etc/os-release",
	    "debian-trixie.os-release");

	assert_non_null(os);
	assert_string_equal(str(os, "family"), "debian");
	assert_true(json_is_null(json_object_get(os, "version")));
	assert_string_equal(str(os, "ecosystem"), "Debian:13");
	layer_result_free(&res);
}

static void
test_os_release_quoting(void **state)
{
	static const char text[] =
	    "# a comment with ID=wrong\n"
	    "NAME='Single \"quoted\"'\n"
	    "  ID=\"ubuntu\"\n"
	    "VERSION_ID=\"24\\\".04\"\n"
	    "ID_LIKE=debian\n";
	struct layer_result res;
	json_t *os = analyze_text(&res, "etc/os-release", text,
	    sizeof(text) - 1);

	assert_non_null(os);
	assert_string_equal(str(os, "family"), "ubuntu");
	/* The escaped quote is part of the value. */
	assert_string_equal(str(os, "version"), "24\".04");
	layer_result_free(&res);
}

static void
test_os_release_unquoted_and_crlf(void **state)
{
	static const char text[] = "ID=ubuntu\r\nVERSION_ID=24.04 trailing\n";
	struct layer_result res;
	json_t *os = analyze_text(&res, "etc/os-release", text,
	    sizeof(text) - 1);

	assert_non_null(os);
	assert_string_equal(str(os, "version"), "24.04");
	assert_string_equal(str(os, "ecosystem"), "Ubuntu:24.04:LTS");
	layer_result_free(&res);
}

static void
test_os_release_unclosed_quote(void **state)
{
	static const char text[] = "ID=alpine\nVERSION_ID=\"3.20.0\n";
	struct layer_result res;
	json_t *os = analyze_text(&res, "etc/os-release", text,
	    sizeof(text) - 1);

	assert_non_null(os);
	assert_string_equal(str(os, "family"), "alpine");
	assert_true(json_is_null(json_object_get(os, "version")));
	layer_result_free(&res);
}

static void
test_os_id_from_id_like(void **state)
{
	static const char text[] = "ID_LIKE=\"rhel fedora\"\nVERSION_ID=9.2\n";
	struct layer_result res;
	json_t *os = analyze_text(&res, "etc/os-release", text,
	    sizeof(text) - 1);

	assert_non_null(os);
	assert_string_equal(str(os, "family"), "rhel");
	layer_result_free(&res);
}

static void
test_os_garbage_gives_nothing(void **state)
{
	unsigned char garbage[4096];
	struct layer_result res;
	json_t *os;

	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (unsigned char)((i * 131 + 7) % 251);
	os = analyze_text(&res, "etc/os-release", (const char *)garbage,
	    sizeof(garbage));
	assert_true(os == NULL || json_is_string(json_object_get(os, "family")));
	layer_result_free(&res);

	os = analyze_text(&res, "etc/redhat-release", "", 0);
	assert_null(os);
	layer_result_free(&res);
	os = analyze_text(&res, "etc/redhat-release", "Mystery OS 1\n", 13);
	assert_null(os);
	layer_result_free(&res);
}

static void
test_os_invalid_utf8_replaced(void **state)
{
	static const char text[] = "ID=deb\xc3\nVERSION_ID=\"1\xf5\"\n";
	struct layer_result res;
	json_t *os = analyze_text(&res, "etc/os-release", text,
	    sizeof(text) - 1);

	assert_non_null(os);
	assert_string_equal(str(os, "family"), "deb?");
	assert_string_equal(str(os, "version"), "1?");
	layer_result_free(&res);
}

static void
test_os_symlink_records_target(void **state)
{
	struct scan_file f;
	struct layer_result res;
	size_t max = 0;
	json_t *os;

	memset(&f, 0, sizeof(f));
	f.path = "etc/os-release";
	f.mode = S_IFLNK | 0777;
	f.linkname = "../usr/lib/os-release";
	assert_int_equal(analyzer_os.wants(&f, &max), ANALYZER_META);
	assert_int_equal(layer_result_init(&res, NULL), PC_OK);
	assert_int_equal(analyzer_os.analyze(&f, NULL, 0, false, &res), PC_OK);
	os = json_object_get(json_object_get(json_object_get(res.root, "files"),
	    "etc/os-release"), "os");
	assert_string_equal(str(os, "link"), "usr/lib/os-release");
	layer_result_free(&res);

	f.linkname = "/usr/lib/./os-release";
	assert_int_equal(layer_result_init(&res, NULL), PC_OK);
	assert_int_equal(analyzer_os.analyze(&f, NULL, 0, false, &res), PC_OK);
	os = json_object_get(json_object_get(json_object_get(res.root, "files"),
	    "etc/os-release"), "os");
	assert_string_equal(str(os, "link"), "usr/lib/os-release");
	layer_result_free(&res);

	/* A target above the root is not recorded. */
	f.linkname = "../../../os-release";
	assert_int_equal(layer_result_init(&res, NULL), PC_OK);
	assert_int_equal(analyzer_os.analyze(&f, NULL, 0, false, &res), PC_OK);
	assert_int_equal(json_object_size(json_object_get(res.root, "files")),
	    0);
	layer_result_free(&res);
}

static void
test_os_wants_only_release_files(void **state)
{
	struct scan_file f;
	size_t max = 0;

	memset(&f, 0, sizeof(f));
	f.mode = S_IFREG | 0644;
	f.path = "etc/os-release.bak";
	assert_int_equal(analyzer_os.wants(&f, &max), ANALYZER_SKIP);
	f.path = "usr/etc/os-release";
	assert_int_equal(analyzer_os.wants(&f, &max), ANALYZER_SKIP);
	f.path = "etc/os-release";
	f.mode = S_IFDIR | 0755;
	assert_int_equal(analyzer_os.wants(&f, &max), ANALYZER_SKIP);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_os_real_release_files),
		cmocka_unit_test(test_os_debian_testing_codename),
		cmocka_unit_test(test_os_release_quoting),
		cmocka_unit_test(test_os_release_unquoted_and_crlf),
		cmocka_unit_test(test_os_release_unclosed_quote),
		cmocka_unit_test(test_os_id_from_id_like),
		cmocka_unit_test(test_os_garbage_gives_nothing),
		cmocka_unit_test(test_os_invalid_utf8_replaced),
		cmocka_unit_test(test_os_symlink_records_target),
		cmocka_unit_test(test_os_wants_only_release_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
