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

#define FIXTURES "tests/data/fixtures/python/"

static unsigned char *
read_fixture(const char *name, size_t *len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s%s", FIXTURES, name);
	return lang_fixture_read(path, len);
}

/* Runs the analyzer on text; returns the package stored, or NULL. */
static json_t *
analyze_text(struct layer_result *res, const char *path,
    const unsigned char *data, size_t len)
{
	struct scan_file f = lang_regular_file(path);
	size_t max = 0;

	assert_int_equal(analyzer_python.wants(&f, &max), ANALYZER_CONTENT);
	assert_true(max > 0);
	assert_int_equal(layer_result_init(res, NULL), PC_OK);
	assert_int_equal(analyzer_python.analyze(&f, data,
	    len < max ? len : max, len > max, res), PC_OK);
	return json_array_get(lang_packages(res, path, "python"), 0);
}

static size_t
error_count(const struct layer_result *res)
{
	return lang_error_count(res);
}

static const char *
error_message(const struct layer_result *res)
{
	return lang_error_message(res, 0);
}

static void
assert_package(json_t *pkg, const char *name, const char *raw_name,
    const char *version)
{
	assert_non_null(pkg);
	assert_string_equal(json_string_value(json_object_get(pkg, "type")),
	    "pypi");
	assert_string_equal(json_string_value(json_object_get(pkg,
	    "ecosystem")), "PyPI");
	assert_string_equal(json_string_value(json_object_get(pkg, "name")),
	    name);
	assert_string_equal(json_string_value(json_object_get(pkg,
	    "raw_name")), raw_name);
	assert_string_equal(json_string_value(json_object_get(pkg,
	    "version")), version);
}

static void
test_wants_paths(void **state)
{
	static const char *const claimed[] = {
		"usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
		"usr/local/lib/python3.11/site-packages/x.egg-info/PKG-INFO",
		"usr/local/lib/python3.11/site-packages/x.egg-info/METADATA",
		"usr/lib/python3/dist-packages/rpm-4.18.0.egg-info",
		"opt/x-1.0-py3.11.egg/EGG-INFO/PKG-INFO",
		"EGG-INFO/PKG-INFO",
	};
	static const char *const skipped[] = {
		"usr/lib/python3/dist-packages/six-1.16.0.dist-info/RECORD",
		"usr/lib/python3/dist-packages/six.py",
		"usr/share/doc/METADATA",
		"opt/NOTEGG-INFO/PKG-INFO",
	};
	struct scan_file f;
	size_t max;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(claimed) / sizeof(claimed[0]); i++) {
		f = lang_regular_file(claimed[i]);
		max = 0;
		assert_int_equal(analyzer_python.wants(&f, &max),
		    ANALYZER_CONTENT);
		assert_true(max >= 64 * 1024);
	}
	for (i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++) {
		f = lang_regular_file(skipped[i]);
		assert_int_equal(analyzer_python.wants(&f, &max),
		    ANALYZER_SKIP);
	}
	f = lang_regular_file("usr/lib/python3/dist-packages/x.egg-info");
	f.mode = S_IFDIR | 0755;
	assert_int_equal(analyzer_python.wants(&f, &max), ANALYZER_SKIP);
	f.mode = S_IFLNK | 0777;
	assert_int_equal(analyzer_python.wants(&f, &max), ANALYZER_SKIP);
}

static void
test_real_metadata_files(void **state)
{
	static const struct {
		const char *file;
		const char *name;
		const char *raw_name;
		const char *version;
	} cases[] = {
		/* pip writes its own METADATA with CRLF line ends. */
		{ "pip-23.2.1.dist-info/METADATA", "pip", "pip", "23.2.1" },
		{ "flask-3.1.3.dist-info/METADATA", "flask", "Flask", "3.1.3" },
		{ "mypy_extensions-1.1.0.dist-info/METADATA",
		  "mypy-extensions", "mypy_extensions", "1.1.0" },
		{ "pyyaml-6.0.3.dist-info/METADATA", "pyyaml", "PyYAML",
		  "6.0.3" },
		{ "PyJWT-2.6.0.egg-info/PKG-INFO", "pyjwt", "PyJWT", "2.6.0" },
		/* Metadata 1.2 with the description folded into a header. */
		{ "toml-0.10.2.egg-info/PKG-INFO", "toml", "toml", "0.10.2" },
		/* distutils writes a plain file named <name>.egg-info. */
		{ "rpm-4.18.0.egg-info", "rpm", "rpm", "4.18.0" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct layer_result res;
		char path[512];
		unsigned char *data;
		size_t len;
		json_t *pkg;

		data = read_fixture(cases[i].file, &len);
		snprintf(path, sizeof(path),
		    "usr/local/lib/python3.11/site-packages/%s", cases[i].file);
		pkg = analyze_text(&res, path, data, len);
		assert_package(pkg, cases[i].name, cases[i].raw_name,
		    cases[i].version);
		assert_int_equal(error_count(&res), 0);
		layer_result_free(&res);
		free(data);
	}
}

static void
test_pep503_normalisation(void **state)
{
	static const struct {
		const char *raw;
		const char *name;
	} cases[] = {
		{ "Django", "django" },
		{ "zope.interface", "zope-interface" },
		{ "ruamel.yaml.clib", "ruamel-yaml-clib" },
		{ "Foo__Bar-.-baz", "foo-bar-baz" },
		{ "typing_extensions", "typing-extensions" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct layer_result res;
		char text[256];
		int n;

		n = snprintf(text, sizeof(text),
		    "Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n\n",
		    cases[i].raw);
		assert_package(analyze_text(&res, "a.dist-info/METADATA",
		    (const unsigned char *)text, (size_t)n), cases[i].name,
		    cases[i].raw, "1.0");
		layer_result_free(&res);
	}
}

static void
test_folded_and_bare_cr(void **state)
{
	static const char folded[] =
	    "Metadata-Version: 1.0\n"
	    "Name:\n"
	    "  folded-name\n"
	    "Version: 2.0\n"
	    "\t.post1\n"
	    "\n";
	static const char bare_cr[] =
	    "Metadata-Version: 2.1\rName: crlib\rVersion: 0.3\r\r"
	    "Version: 9.9\r";
	struct layer_result res;

	(void)state;
	assert_package(analyze_text(&res, "a.dist-info/METADATA",
	    (const unsigned char *)folded, sizeof(folded) - 1),
	    "folded-name", "folded-name", "2.0 .post1");
	layer_result_free(&res);

	assert_package(analyze_text(&res, "a.dist-info/METADATA",
	    (const unsigned char *)bare_cr, sizeof(bare_cr) - 1),
	    "crlib", "crlib", "0.3");
	layer_result_free(&res);
}

static void
test_body_is_not_read(void **state)
{
	static const char text[] =
	    "Metadata-Version: 2.1\r\n"
	    "Name: first\r\n"
	    "Summary: body follows\r\n"
	    "\r\n"
	    "Version: 6.6.6\r\n"
	    "Name: second\r\n";
	struct layer_result res;

	(void)state;
	assert_null(analyze_text(&res, "a.dist-info/METADATA",
	    (const unsigned char *)text, sizeof(text) - 1));
	assert_int_equal(error_count(&res), 1);
	assert_non_null(strstr(error_message(&res), "missing Version"));
	assert_non_null(strstr(error_message(&res), "a.dist-info/METADATA"));
	layer_result_free(&res);
}

static void
test_first_header_wins(void **state)
{
	static const char text[] =
	    "Name: one\nVersion: 1\nName: two\nVersion: 2\n";
	struct layer_result res;

	(void)state;
	assert_package(analyze_text(&res, "a.dist-info/METADATA",
	    (const unsigned char *)text, sizeof(text) - 1), "one", "one", "1");
	layer_result_free(&res);
}

static void
test_missing_name(void **state)
{
	static const char text[] = "Metadata-Version: 2.1\nVersion: 1.0\n\n";
	struct layer_result res;

	(void)state;
	assert_null(analyze_text(&res, "a.dist-info/METADATA",
	    (const unsigned char *)text, sizeof(text) - 1));
	assert_int_equal(error_count(&res), 1);
	assert_non_null(strstr(error_message(&res), "missing Name"));
	layer_result_free(&res);
}

static void
test_too_many_headers(void **state)
{
	struct layer_result res;
	struct buf text;
	int i;

	(void)state;
	buf_init(&text, 1 << 20);
	assert_int_equal(buf_append_str(&text, "Name: many\n"), PC_OK);
	for (i = 0; i < 5000; i++)
		assert_int_equal(buf_printf(&text, "Classifier: c%d\n", i),
		    PC_OK);
	assert_int_equal(buf_append_str(&text, "Version: 1\n\n"), PC_OK);
	assert_null(analyze_text(&res, "a.dist-info/METADATA",
	    (const unsigned char *)text.data, text.len));
	assert_int_equal(error_count(&res), 1);
	assert_non_null(strstr(error_message(&res), "header fields"));
	layer_result_free(&res);
	buf_free(&text);
}

static void
test_oversized_name(void **state)
{
	struct layer_result res;
	struct buf text;
	int i;

	(void)state;
	buf_init(&text, 1 << 20);
	assert_int_equal(buf_append_str(&text, "Version: 1\nName: x"), PC_OK);
	for (i = 0; i < 200; i++)
		assert_int_equal(buf_append_str(&text, "\n  abcdefghij"),
		    PC_OK);
	assert_int_equal(buf_append_str(&text, "\n\n"), PC_OK);
	assert_null(analyze_text(&res, "a.dist-info/METADATA",
	    (const unsigned char *)text.data, text.len));
	assert_int_equal(error_count(&res), 1);
	assert_non_null(strstr(error_message(&res), "longer than"));
	layer_result_free(&res);
	buf_free(&text);
}

static void
test_long_description_header(void **state)
{
	struct layer_result res;
	struct buf text;
	int i;

	(void)state;
	buf_init(&text, 1 << 20);
	assert_int_equal(buf_append_str(&text,
	    "Name: longdesc\nVersion: 3\nDescription: start"), PC_OK);
	for (i = 0; i < 20000; i++)
		assert_int_equal(buf_append_str(&text,
		    "\n        a line of a long folded description"), PC_OK);
	assert_int_equal(buf_append_str(&text, "\n\n"), PC_OK);
	assert_package(analyze_text(&res, "a.dist-info/METADATA",
	    (const unsigned char *)text.data, text.len), "longdesc",
	    "longdesc", "3");
	assert_int_equal(error_count(&res), 0);
	layer_result_free(&res);
	buf_free(&text);
}

static void
test_binary_garbage(void **state)
{
	unsigned char data[4096];
	struct layer_result res;
	uint32_t x = 12345;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(data); i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (unsigned char)(x >> 16);
	}
	assert_null(analyze_text(&res, "a.dist-info/METADATA", data,
	    sizeof(data)));
	assert_int_equal(error_count(&res), 1);
	layer_result_free(&res);

	assert_null(analyze_text(&res, "a.dist-info/METADATA", data, 0));
	assert_int_equal(error_count(&res), 1);
	layer_result_free(&res);

	/* An empty file may come without a buffer at all. */
	assert_null(analyze_text(&res, "a.dist-info/METADATA", NULL, 0));
	assert_int_equal(error_count(&res), 1);
	layer_result_free(&res);
}

static void
test_non_ascii_version(void **state)
{
	static const char text[] = "Name: n\nVersion: 1\xc3\xa9\x01\n\n";
	struct layer_result res;

	(void)state;
	assert_null(analyze_text(&res, "a.dist-info/METADATA",
	    (const unsigned char *)text, sizeof(text) - 1));
	assert_int_equal(error_count(&res), 1);
	assert_non_null(strstr(error_message(&res), "printable ASCII"));
	layer_result_free(&res);
}

static void
test_truncated_headers(void **state)
{
	struct layer_result res;
	struct scan_file f = lang_regular_file("a.dist-info/METADATA");
	static const char text[] = "Name: cut\nSummary: xxxxxxxxxxx";
	json_t *entry;

	(void)state;
	assert_int_equal(layer_result_init(&res, NULL), PC_OK);
	assert_int_equal(analyzer_python.analyze(&f,
	    (const unsigned char *)text, sizeof(text) - 1, true, &res), PC_OK);
	entry = json_object_get(json_object_get(res.root, "files"), f.path);
	assert_null(entry);
	assert_int_equal(error_count(&res), 1);
	assert_non_null(strstr(error_message(&res), "read cap"));
	layer_result_free(&res);
}

static void
test_allocation_failures(void **state)
{
	unsigned char *data;
	size_t len;

	(void)state;
	data = read_fixture("pip-23.2.1.dist-info/METADATA", &len);
	lang_alloc_failures(&analyzer_python, "p.dist-info/METADATA", data,
	    len, 40, 1);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wants_paths),
		cmocka_unit_test(test_real_metadata_files),
		cmocka_unit_test(test_pep503_normalisation),
		cmocka_unit_test(test_folded_and_bare_cr),
		cmocka_unit_test(test_body_is_not_read),
		cmocka_unit_test(test_first_header_wins),
		cmocka_unit_test(test_missing_name),
		cmocka_unit_test(test_too_many_headers),
		cmocka_unit_test(test_oversized_name),
		cmocka_unit_test(test_long_description_header),
		cmocka_unit_test(test_binary_garbage),
		cmocka_unit_test(test_non_ascii_version),
		cmocka_unit_test(test_truncated_headers),
		cmocka_unit_test(test_allocation_failures),
	};

	pc_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
