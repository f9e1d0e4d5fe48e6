#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "common/error.h"
#include "scanner/analyzers.h"

struct mode_case {
	const char *path;
	mode_t mode;
	bool reported;
	const char *mode_text;
	bool setuid;
	bool setgid;
	bool world_writable;
};

static const struct mode_case mode_cases[] = {
	{"usr/bin/passwd", S_IFREG | 04755, true, "4755", true, false, false},
	{"usr/bin/wall", S_IFREG | 02755, true, "2755", false, true, false},
	{"usr/bin/both", S_IFREG | 06755, true, "6755", true, true, false},
	/* setuid counts anywhere, also under a temporary directory */
	{"tmp/exploit", S_IFREG | 04777, true, "4777", true, false, false},
	{"etc/app.conf", S_IFREG | 0666, true, "0666", false, false, true},
	{"srv/uploads", S_IFDIR | 0777, true, "0777", false, false, true},
	{"usr/bin/ls", S_IFREG | 0755, false, NULL, false, false, false},
	/* sticky world-writable directories are the norm for tmp dirs */
	{"srv/shared", S_IFDIR | 01777, false, NULL, false, false, false},
	{"tmp", S_IFDIR | 01777, false, NULL, false, false, false},
	{"tmp/cache.db", S_IFREG | 0666, false, NULL, false, false, false},
	{"var/tmp/x", S_IFREG | 0666, false, NULL, false, false, false},
	{"dev/shm/x", S_IFREG | 0666, false, NULL, false, false, false},
	{"run/lock/x", S_IFDIR | 0777, false, NULL, false, false, false},
	/* "tmpfiles" is not "tmp" */
	{"tmpfiles/x", S_IFREG | 0666, true, "0666", false, false, true},
	/* links carry 0777 by convention; a setuid directory means nothing */
	{"usr/bin/sh", S_IFLNK | 0777, false, NULL, false, false, false},
	{"usr/share/dir", S_IFDIR | 04755, false, NULL, false, false, false},
	{"dev/null", S_IFCHR | 0666, false, NULL, false, false, false},
};

static void
test_files_modes_table(void **state)
{
	for (size_t i = 0; i < sizeof(mode_cases) / sizeof(mode_cases[0]); i++) {
		const struct mode_case *c = &mode_cases[i];
		struct scan_file f;
		struct layer_result res;
		size_t max = 0;
		json_t *entry;

		print_message("path %s\n", c->path);
		memset(&f, 0, sizeof(f));
		f.path = c->path;
		f.mode = c->mode;
		f.uid = 1000;
		if (!c->reported) {
			assert_int_equal(analyzer_files.wants(&f, &max),
			    ANALYZER_SKIP);
			continue;
		}
		assert_int_equal(analyzer_files.wants(&f, &max), ANALYZER_META);
		assert_int_equal(layer_result_init(&res, NULL), PC_OK);
		assert_int_equal(analyzer_files.analyze(&f, NULL, 0, false, &res),
		    PC_OK);
		entry = json_object_get(json_object_get(json_object_get(res.root,
		    "files"), c->path), "file");
		assert_non_null(entry);
		assert_string_equal(json_string_value(json_object_get(entry,
		    "mode")), c->mode_text);
		assert_int_equal(json_is_true(json_object_get(entry, "setuid")),
		    c->setuid);
		assert_int_equal(json_is_true(json_object_get(entry, "setgid")),
		    c->setgid);
		assert_int_equal(json_is_true(json_object_get(entry,
		    "world_writable")), c->world_writable);
		assert_int_equal(json_integer_value(json_object_get(entry, "uid")),
		    1000);
		layer_result_free(&res);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_files_modes_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
