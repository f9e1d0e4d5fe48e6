#include "tests/unit/tmpdir_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"

static int
remove_path(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	return remove(path);
}

int
tmpdir_setup(void **state)
{
	struct tmpdir *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/pc-cache-test-XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return -1;
	}
	/* jansson allocations then fail with pc_alloc_fail_after() too. */
	pc_alloc_init();
	*state = t;
	return 0;
}

int
tmpdir_teardown(void **state)
{
	struct tmpdir *t = *state;

	nftw(t->dir, remove_path, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

size_t
tmpdir_count_files(const char *path)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(path);

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_type == DT_REG)
			n++;
	}
	closedir(d);
	return n;
}

void
tmpdir_write_file(const char *path, const char *content)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(content, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}
