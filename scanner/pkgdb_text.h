#ifndef PORTCULLIS_SCANNER_PKGDB_TEXT_H
#define PORTCULLIS_SCANNER_PKGDB_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "scanner/layer_result.h"

/*
 * Shared parsing of the text package databases of dpkg (deb822 status
 * files) and apk (lib/apk/db/installed): records of lines separated by
 * blank lines.
 */

struct pkgdb_parser {
	/* Called for each non-blank line of a record, without its "\n". */
	void (*line)(void *ctx, const char *line, size_t len);
	/*
	 * Called at the end of each record to append its package, if any, to
	 * packages. Returns PC_OK or PC_ERR_NOMEM.
	 */
	int (*end)(void *ctx, json_t *packages);
	void *ctx;
};

/*
 * Splits data into records and stores the packages that parser collects
 * as {"packages": [...]} under files[path][key] of res. When truncated is
 * set, a record cut at the end of data is dropped. More than max_records
 * records, or truncated input, add an error of kind "limit" that names
 * what (e.g. "dpkg database") and path; the packages before the limit or
 * the cut are still stored. Returns PC_OK or PC_ERR_NOMEM.
 */
int pkgdb_analyze(struct layer_result *res, const char *path,
    const char *key, const char *what, const char *data, size_t len,
    bool truncated, size_t max_records, const struct pkgdb_parser *parser);

#endif
