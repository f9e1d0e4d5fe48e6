#ifndef PORTCULLIS_TESTS_LANG_FIXTURE_H
#define PORTCULLIS_TESTS_LANG_FIXTURE_H

#include <stddef.h>

#include <jansson.h>

#include "scanner/analyzer.h"
#include "scanner/layer_result.h"

/*
 * Shared helpers of the language analyzer tests (python, npm, go, java).
 * They fail the running cmocka test on error, so callers need no checks.
 */

/*
 * Reads a file relative to the repository root, which is the working
 * directory of the unit tests. The caller frees the result with free().
 */
unsigned char *lang_fixture_read(const char *path, size_t *len);

/* Returns files[path][key]["packages"] of res, or NULL. */
json_t *lang_packages(const struct layer_result *res, const char *path,
    const char *key);

/* Returns the package named name at version in packages, or NULL. */
json_t *lang_package_find(json_t *packages, const char *name,
    const char *version);

/* Returns a scan_file for a regular file (mode 0644) at path. */
struct scan_file lang_regular_file(const char *path);

/*
 * Runs analyze() of a whole-file analyzer on data (as path) with the
 * allocation after 0, step, 2 * step, ... up to max_n failing, and checks
 * that each run returns PC_OK or PC_ERR_NOMEM without crashing or
 * leaking.
 */
void lang_alloc_failures(const struct analyzer *an, const char *path,
    const unsigned char *data, size_t len, long max_n, long step);

size_t lang_error_count(const struct layer_result *res);

/* Returns the message of error i, or "" when there is none. */
const char *lang_error_message(const struct layer_result *res, size_t i);

/* Returns whether any error message of res contains needle. */
int lang_error_contains(const struct layer_result *res, const char *needle);

#endif
