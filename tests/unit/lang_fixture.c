#include "tests/unit/lang_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/error.h"

unsigned char *
lang_fixture_read(const char *path, size_t *len)
{
	unsigned char *data;
	FILE *fp;
	long size;

	fp = fopen(path, "rb");
	if (fp == NULL)
		fail_msg("cannot open %s: run the test from the repository root",
		    path);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	size = ftell(fp);
	assert_true(size >= 0);
	assert_int_equal(fseek(fp, 0, SEEK_SET), 0);
	data = malloc((size_t)size + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)size, fp), (size_t)size);
	fclose(fp);
	data[size] = '\0';
	*len = (size_t)size;
	return data;
}

json_t *
lang_packages(const struct layer_result *res, const char *path,
    const char *key)
{
	json_t *entry = json_object_get(json_object_get(res->root, "files"),
	    path);

	return json_object_get(json_object_get(entry, key), "packages");
}

json_t *
lang_package_find(json_t *packages, const char *name, const char *version)
{
	size_t i;
	json_t *pkg;

	json_array_foreach(packages, i, pkg) {
		const char *n = json_string_value(json_object_get(pkg, "name"));
		const char *v = json_string_value(json_object_get(pkg,
		    "version"));

		if (n != NULL && v != NULL && strcmp(n, name) == 0 &&
		    strcmp(v, version) == 0)
			return pkg;
	}
	return NULL;
}

struct scan_file
lang_regular_file(const char *path)
{
	struct scan_file f;

	memset(&f, 0, sizeof(f));
	f.path = path;
	f.mode = S_IFREG | 0644;
	return f;
}

void
lang_alloc_failures(const struct analyzer *an, const char *path,
    const unsigned char *data, size_t len, long max_n, long step)
{
	long n;

	for (n = 0; n < max_n; n += step) {
		struct scan_file f = lang_regular_file(path);
		struct layer_result res;
		int err;

		assert_int_equal(layer_result_init(&res, NULL), PC_OK);
		pc_alloc_fail_after(n);
		err = an->analyze(&f, data, len, false, &res);
		pc_alloc_fail_after(-1);
		assert_true(err == PC_OK || err == PC_ERR_NOMEM);
		layer_result_free(&res);
	}
}

size_t
lang_error_count(const struct layer_result *res)
{
	return json_array_size(json_object_get(res->root, "errors"));
}

const char *
lang_error_message(const struct layer_result *res, size_t i)
{
	const char *msg = json_string_value(json_object_get(json_array_get(
	    json_object_get(res->root, "errors"), i), "message"));

	return msg != NULL ? msg : "";
}

int
lang_error_contains(const struct layer_result *res, const char *needle)
{
	size_t i;

	for (i = 0; i < lang_error_count(res); i++) {
		if (strstr(lang_error_message(res, i), needle) != NULL)
			return 1;
	}
	return 0;
}
