#ifndef PORTCULLIS_TESTS_FUZZ_FUZZ_UTIL_H
#define PORTCULLIS_TESTS_FUZZ_FUZZ_UTIL_H

/*
 * Input plumbing shared by the libFuzzer targets in tests/fuzz/. run.sh
 * links fuzz_util.c into every target.
 */

#include <stddef.h>
#include <stdint.h>

/* The libFuzzer entry point that every target defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Returns a NUL-terminated heap copy of the size bytes at data (free with
 * free()), or NULL when out of memory. The copy may contain NUL bytes.
 */
char *fuzz_strndup(const uint8_t *data, size_t size);

/*
 * Splits data at its first NUL byte: *first is the text before it (a
 * NUL-terminated heap copy), *second the text after it (the same).
 * Without a NUL byte, *second is the empty string. Returns 0, or -1 when
 * out of memory (nothing is left allocated then).
 */
int fuzz_split_nul(const uint8_t *data, size_t size, char **first,
    char **second);

/*
 * Returns a memory file descriptor (memfd_create) named name, holding
 * exactly the size bytes at data with the offset at 0, or -1 on failure.
 * The caller closes it.
 */
int fuzz_memfd(const char *name, const uint8_t *data, size_t size);

#endif
