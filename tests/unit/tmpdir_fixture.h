#ifndef PORTCULLIS_TESTS_TMPDIR_FIXTURE_H
#define PORTCULLIS_TESTS_TMPDIR_FIXTURE_H

#include <stddef.h>

/*
 * A fresh folder under /tmp per cmocka test, for the on-disk cache tests.
 * Use tmpdir_setup and tmpdir_teardown as the test's setup and teardown;
 * *state is then a struct tmpdir. The helpers fail the running test on
 * error, so callers need no checks.
 */
struct tmpdir {
	char dir[64];
};

int tmpdir_setup(void **state);
int tmpdir_teardown(void **state);

/* Returns the number of regular files directly in path. */
size_t tmpdir_count_files(const char *path);

/* Creates or truncates path and writes content into it. */
void tmpdir_write_file(const char *path, const char *content);

#endif
