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

#define FIXTURES "tests/data/fixtures/npm/"

/* Runs wants() and analyze() on data as the walker would hand it over. */
static void
run_npm(struct layer_result *res, const char *path, const void *data,
    size_t len)
{
	struct scan_file f = lang_regular_file(path);
	size_t max = 0;

	assert_int_equal(layer_result_init(res, NULL), PC_OK);
	assert_int_equal(analyzer_npm.wants(&f, &max), ANALYZER_CONTENT);
	assert_int_equal(analyzer_npm.analyze(&f, data, len < max ? len : max,
	    len > max, res), PC_OK);
}

/* Analyzes a fixture file as if it sat at image_path. */
static void
run_fixture(struct layer_result *res, const char *fixture,
    const char *image_path)
{
	char path[512];
	unsigned char *data;
	size_t len;

	snprintf(path, sizeof(path), "%s%s", FIXTURES, fixture);
	data = lang_fixture_read(path, &len);
	run_npm(res, image_path, data, len);
	free(data);
}

static void
assert_npm_package(json_t *pkg, const char *name, const char *version,
    int dev)
{
	assert_non_null(pkg);
	assert_string_equal(json_string_value(json_object_get(pkg, "type")),
	    "npm");
	assert_string_equal(json_string_value(json_object_get(pkg,
	    "ecosystem")), "npm");
	assert_string_equal(json_string_value(json_object_get(pkg, "name")),
	    name);
	assert_string_equal(json_string_value(json_object_get(pkg,
	    "version")), version);
	assert_int_equal(json_is_true(json_object_get(pkg, "dev")), dev);
}

static void
test_wants_package_roots(void **state)
{
	static const char *const roots[] = {
		"app/node_modules/ms/package.json",
		"node_modules/ms/package.json",
		"app/node_modules/@isaacs/string-locale-compare/package.json",
		"app/node_modules/debug/node_modules/ms/package.json",
		"usr/lib/node_modules/npm/node_modules/@npmcli/arborist/package.json",
		"app/node_modules/.pnpm/ms@2.1.3/node_modules/ms/package.json",
	};
	static const char *const not_roots[] = {
		"app/package.json",
		"package.json",
		"app/node_modules/rxjs/ajax/package.json",
		"app/node_modules/tslib/modules/package.json",
		"app/node_modules/@isaacs/package.json",
		"app/node_modules/.bin/package.json",
		"app/node_modules/ms/package.json.bak",
		"app/node_modules/ms/index.js",
		"app/xnode_modules/ms/package.json",
	};
	struct scan_file f;
	size_t max;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		f = lang_regular_file(roots[i]);
		max = 0;
		assert_int_equal(analyzer_npm.wants(&f, &max),
		    ANALYZER_CONTENT);
		assert_true(max >= 64 * 1024);
	}
	for (i = 0; i < sizeof(not_roots) / sizeof(not_roots[0]); i++) {
		f = lang_regular_file(not_roots[i]);
		assert_int_equal(analyzer_npm.wants(&f, &max), ANALYZER_SKIP);
	}
	f = lang_regular_file("app/node_modules/ms/package.json");
	f.mode = S_IFLNK | 0777;
	assert_int_equal(analyzer_npm.wants(&f, &max), ANALYZER_SKIP);
}

static void
test_wants_lockfiles(void **state)
{
	struct scan_file f;
	size_t max = 0;

	(void)state;
	f = lang_regular_file("app/package-lock.json");
	assert_int_equal(analyzer_npm.wants(&f, &max), ANALYZER_CONTENT);
	assert_true(max >= 1024 * 1024);
	f = lang_regular_file("package-lock.json");
	assert_int_equal(analyzer_npm.wants(&f, &max), ANALYZER_CONTENT);
	f = lang_regular_file("app/node_modules/.package-lock.json");
	assert_int_equal(analyzer_npm.wants(&f, &max), ANALYZER_SKIP);
	f = lang_regular_file("app/node_modules/some-pkg/package-lock.json");
	assert_int_equal(analyzer_npm.wants(&f, &max), ANALYZER_SKIP);
	f = lang_regular_file("app/yarn.lock");
	assert_int_equal(analyzer_npm.wants(&f, &max), ANALYZER_SKIP);
}

static void
test_installed_manifests(void **state)
{
	static const struct {
		const char *dir;
		const char *name;
		const char *version;
		const char *alias;
	} cases[] = {
		{ "node_modules/ms", "ms", "2.1.3", NULL },
		{ "node_modules/debug", "debug", "4.3.4", NULL },
		{ "node_modules/debug/node_modules/ms", "ms", "2.1.2", NULL },
		{ "node_modules/@isaacs/string-locale-compare",
		  "@isaacs/string-locale-compare", "1.1.0", NULL },
		{ "node_modules/rxjs", "rxjs", "7.8.1", NULL },
		{ "node_modules/is-number", "is-number", "7.0.0", NULL },
		{ "node_modules/tslib", "tslib", "2.9.1", NULL },
		/* "tiny-ms": "npm:ms@2.0.0" installs ms under another name. */
		{ "node_modules/tiny-ms", "ms", "2.0.0", "tiny-ms" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct layer_result res;
		char fixture[256], image_path[256];
		json_t *packages, *pkg;
		const char *alias;

		snprintf(fixture, sizeof(fixture), "app/%s/package.json",
		    cases[i].dir);
		snprintf(image_path, sizeof(image_path),
		    "srv/app/%s/package.json", cases[i].dir);
		run_fixture(&res, fixture, image_path);
		packages = lang_packages(&res, image_path, "npm");
		assert_int_equal(json_array_size(packages), 1);
		pkg = json_array_get(packages, 0);
		assert_npm_package(pkg, cases[i].name, cases[i].version, 0);
		alias = json_string_value(json_object_get(pkg, "alias"));
		if (cases[i].alias == NULL)
			assert_null(alias);
		else
			assert_string_equal(alias, cases[i].alias);
		assert_int_equal(lang_error_count(&res), 0);
		layer_result_free(&res);
	}
}

static void
test_manifest_without_version(void **state)
{
	static const char text[] = "{\"name\": \"placeholder\"}";
	struct layer_result res;

	(void)state;
	run_npm(&res, "node_modules/placeholder/package.json", text,
	    sizeof(text) - 1);
	assert_null(lang_packages(&res,
	    "node_modules/placeholder/package.json", "npm"));
	assert_int_equal(lang_error_count(&res), 0);
	layer_result_free(&res);
}

static void
test_manifest_name_from_path(void **state)
{
	static const char text[] = "{\"version\": \"1.2.3\"}";
	struct layer_result res;
	json_t *packages;

	(void)state;
	run_npm(&res, "node_modules/@scope/noname/package.json", text,
	    sizeof(text) - 1);
	packages = lang_packages(&res, "node_modules/@scope/noname/package.json",
	    "npm");
	assert_npm_package(json_array_get(packages, 0), "@scope/noname",
	    "1.2.3", 0);
	layer_result_free(&res);
}

/* The packages that every generated lockfile of the fixture app lists. */
static void
assert_fixture_lock(const struct layer_result *res, const char *path)
{
	json_t *packages = lang_packages(res, path, "npm");

	assert_int_equal(json_array_size(packages), 8);
	assert_npm_package(lang_package_find(packages, "ms", "2.1.3"), "ms",
	    "2.1.3", 0);
	assert_npm_package(lang_package_find(packages, "ms", "2.1.2"), "ms",
	    "2.1.2", 0);
	assert_npm_package(lang_package_find(packages, "ms", "2.0.0"), "ms",
	    "2.0.0", 0);
	assert_npm_package(lang_package_find(packages, "debug", "4.3.4"),
	    "debug", "4.3.4", 0);
	assert_npm_package(lang_package_find(packages,
	    "@isaacs/string-locale-compare", "1.1.0"),
	    "@isaacs/string-locale-compare", "1.1.0", 0);
	assert_npm_package(lang_package_find(packages, "rxjs", "7.8.1"),
	    "rxjs", "7.8.1", 0);
	assert_npm_package(lang_package_find(packages, "tslib", "2.9.1"),
	    "tslib", "2.9.1", 0);
	assert_npm_package(lang_package_find(packages, "is-number", "7.0.0"),
	    "is-number", "7.0.0", 1);
	assert_null(lang_package_find(packages, "fixture-app", "1.0.0"));
	assert_int_equal(lang_error_count(res), 0);
}

static void
test_lockfile_versions(void **state)
{
	static const char *const fixtures[] = {
		"lock-v1/package-lock.json",
		"lock-v2/package-lock.json",
		"lock-v3/package-lock.json",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		struct layer_result res;

		run_fixture(&res, fixtures[i], "srv/app/package-lock.json");
		assert_fixture_lock(&res, "srv/app/package-lock.json");
		layer_result_free(&res);
	}
}

static void
test_lockfile_v3_links(void **state)
{
	/* A v3 workspace: the link entry points at the workspace folder. */
	static const char text[] =
	    "{\"name\": \"root\", \"lockfileVersion\": 3, \"packages\": {"
	    "\"\": {\"name\": \"root\", \"workspaces\": [\"packages/a\"]},"
	    "\"node_modules/a\": {\"resolved\": \"packages/a\", \"link\": true},"
	    "\"packages/a\": {\"name\": \"a\", \"version\": \"0.1.0\"},"
	    "\"packages/a/node_modules/left-pad\": {\"version\": \"1.3.0\","
	    " \"dev\": true},"
	    "\"node_modules/left-pad\": {\"version\": \"1.3.0\"},"
	    "\"node_modules/@x/y\": {\"version\": \"2.0.0\"},"
	    "\"node_modules/noversion\": {\"resolved\": \"x\"},"
	    "\"node_modules/bad\": 7"
	    "}}";
	struct layer_result res;
	json_t *packages;

	(void)state;
	run_npm(&res, "package-lock.json", text, sizeof(text) - 1);
	packages = lang_packages(&res, "package-lock.json", "npm");
	assert_int_equal(json_array_size(packages), 2);
	/* One non-dev copy of left-pad makes the package non-dev. */
	assert_npm_package(lang_package_find(packages, "left-pad", "1.3.0"),
	    "left-pad", "1.3.0", 0);
	assert_npm_package(lang_package_find(packages, "@x/y", "2.0.0"),
	    "@x/y", "2.0.0", 0);
	assert_null(lang_package_find(packages, "a", "0.1.0"));
	layer_result_free(&res);
}

static void
test_lockfile_v1_sources(void **state)
{
	static const char text[] =
	    "{\"lockfileVersion\": 1, \"dependencies\": {"
	    "\"from-git\": {\"version\": \"git+https://example.invalid/x.git#abc\"},"
	    "\"from-file\": {\"version\": \"file:../local\"},"
	    "\"scoped-alias\": {\"version\": \"npm:@scope/real@3.1.0\","
	    " \"dev\": true},"
	    "\"broken-alias\": {\"version\": \"npm:@\"},"
	    "\"plain\": {\"version\": \"1.0.0\", \"dependencies\": {"
	    "  \"inner\": {\"version\": \"0.0.1\", \"dev\": true}}}"
	    "}}";
	struct layer_result res;
	json_t *packages;

	(void)state;
	run_npm(&res, "package-lock.json", text, sizeof(text) - 1);
	packages = lang_packages(&res, "package-lock.json", "npm");
	assert_int_equal(json_array_size(packages), 3);
	assert_npm_package(lang_package_find(packages, "@scope/real", "3.1.0"),
	    "@scope/real", "3.1.0", 1);
	assert_npm_package(lang_package_find(packages, "plain", "1.0.0"),
	    "plain", "1.0.0", 0);
	assert_npm_package(lang_package_find(packages, "inner", "0.0.1"),
	    "inner", "0.0.1", 1);
	layer_result_free(&res);
}

static void
test_lockfile_without_packages(void **state)
{
	static const char text[] = "{\"lockfileVersion\": 3}";
	struct layer_result res;

	(void)state;
	run_npm(&res, "package-lock.json", text, sizeof(text) - 1);
	assert_null(lang_packages(&res, "package-lock.json", "npm"));
	assert_int_equal(lang_error_count(&res), 1);
	assert_true(lang_error_contains(&res, "package-lock.json"));
	layer_result_free(&res);
}

static void
test_invalid_json(void **state)
{
	static const char *const texts[] = {
		"{\"name\": \"x\", \"version\": ",
		"[1, 2, 3]",
		"\"just a string\"",
		"",
		"{\"name\": \"x\"} trailing",
		"{\"name\": \"\\u0000\", \"version\": \"1\"}",
		"\xff\xfe{}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct layer_result res;

		run_npm(&res, "node_modules/x/package.json", texts[i],
		    strlen(texts[i]));
		assert_null(lang_packages(&res, "node_modules/x/package.json",
		    "npm"));
		assert_int_equal(lang_error_count(&res), 1);
		assert_true(lang_error_contains(&res,
		    "node_modules/x/package.json"));
		layer_result_free(&res);
	}
}

static void
test_deep_nesting(void **state)
{
	struct layer_result res;
	struct buf text;
	int i;

	(void)state;
	buf_init(&text, 1 << 22);
	assert_int_equal(buf_append_str(&text, "{\"dependencies\": "), PC_OK);
	for (i = 0; i < 100000; i++)
		assert_int_equal(buf_append_str(&text, "{\"a\":"), PC_OK);
	assert_int_equal(buf_append_str(&text, "1"), PC_OK);
	for (i = 0; i < 100000; i++)
		assert_int_equal(buf_append_str(&text, "}"), PC_OK);
	assert_int_equal(buf_append_str(&text, "}"), PC_OK);
	run_npm(&res, "package-lock.json", text.data, text.len);
	assert_null(lang_packages(&res, "package-lock.json", "npm"));
	assert_true(lang_error_contains(&res, "nesting deeper"));
	layer_result_free(&res);
	buf_free(&text);
}

static void
test_brackets_in_strings(void **state)
{
	struct layer_result res;
	struct buf text;
	int i;

	(void)state;
	buf_init(&text, 1 << 20);
	assert_int_equal(buf_append_str(&text,
	    "{\"name\": \"brackets\", \"version\": \"1.0.0\", \"x\": \"\\\""),
	    PC_OK);
	for (i = 0; i < 1000; i++)
		assert_int_equal(buf_append_str(&text, "[{"), PC_OK);
	assert_int_equal(buf_append_str(&text, "\"}"), PC_OK);
	run_npm(&res, "node_modules/brackets/package.json", text.data,
	    text.len);
	assert_npm_package(json_array_get(lang_packages(&res,
	    "node_modules/brackets/package.json", "npm"), 0), "brackets",
	    "1.0.0", 0);
	layer_result_free(&res);
	buf_free(&text);
}

static void
test_huge_lockfile_cut(void **state)
{
	struct scan_file f = lang_regular_file("package-lock.json");
	struct layer_result res;
	size_t max = 0;
	char *data;

	(void)state;
	assert_int_equal(analyzer_npm.wants(&f, &max), ANALYZER_CONTENT);
	data = malloc(max);
	assert_non_null(data);
	memset(data, ' ', max);
	data[0] = '{';
	assert_int_equal(layer_result_init(&res, NULL), PC_OK);
	assert_int_equal(analyzer_npm.analyze(&f, (unsigned char *)data, max,
	    true, &res), PC_OK);
	assert_null(lang_packages(&res, "package-lock.json", "npm"));
	assert_true(lang_error_contains(&res, "read cap"));
	layer_result_free(&res);
	free(data);
}

static void
test_too_many_lock_packages(void **state)
{
	struct layer_result res;
	struct buf text;
	int i;

	(void)state;
	buf_init(&text, 16 << 20);
	assert_int_equal(buf_append_str(&text, "{\"packages\": {"), PC_OK);
	for (i = 0; i < 100005; i++)
		assert_int_equal(buf_printf(&text, "%s\"node_modules/p%d\": "
		    "{\"version\": \"1.0.0\"}", i > 0 ? "," : "", i), PC_OK);
	assert_int_equal(buf_append_str(&text, "}}"), PC_OK);
	run_npm(&res, "package-lock.json", text.data, text.len);
	assert_int_equal(json_array_size(lang_packages(&res,
	    "package-lock.json", "npm")), 100000);
	assert_true(lang_error_contains(&res, "more than 100000 packages"));
	layer_result_free(&res);
	buf_free(&text);
}

static void
test_allocation_failures(void **state)
{
	unsigned char *data;
	size_t len;

	(void)state;
	data = lang_fixture_read(FIXTURES "lock-v2/package-lock.json", &len);
	lang_alloc_failures(&analyzer_npm, "package-lock.json", data, len,
	    300, 3);
	free(data);
	data = lang_fixture_read(FIXTURES "app/node_modules/tiny-ms/"
	    "package.json", &len);
	lang_alloc_failures(&analyzer_npm, "node_modules/tiny-ms/package.json",
	    data, len, 60, 1);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wants_package_roots),
		cmocka_unit_test(test_wants_lockfiles),
		cmocka_unit_test(test_installed_manifests),
		cmocka_unit_test(test_manifest_without_version),
		cmocka_unit_test(test_manifest_name_from_path),
		cmocka_unit_test(test_lockfile_versions),
		cmocka_unit_test(test_lockfile_v3_links),
		cmocka_unit_test(test_lockfile_v1_sources),
		cmocka_unit_test(test_lockfile_without_packages),
		cmocka_unit_test(test_invalid_json),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_brackets_in_strings),
		cmocka_unit_test(test_huge_lockfile_cut),
		cmocka_unit_test(test_too_many_lock_packages),
		cmocka_unit_test(test_allocation_failures),
	};

	pc_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
