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
	/* Called at the end of each record; returns PC_OK or PC_ERR_NOMEM. */
	int (*end)(void *ctx);
	void *ctx;
};

/*
 * Splits data into records. When truncated is set, a record cut at the
 * end of data is dropped. Returns PC_OK, the error of parser->end, or
 * PC_ERR_LIMIT when a record past max_records starts (the records before
 * it were delivered).
 */
int pkgdb_parse(const char *data, size_t len, bool truncated,
    size_t max_records, const struct pkgdb_parser *parser);

/*
 * Stores {"packages": packages} (reference stolen) under files[path][key]
 * of res. parse_err is the result of pkgdb_parse(): PC_ERR_LIMIT and
 * truncated each add an error of kind "limit" naming what (e.g. "dpkg
 * database"), path and the limit (max_records, or len bytes read).
 * Returns PC_OK or PC_ERR_NOMEM.
 */
int pkgdb_store(struct layer_result *res, const char *path, const char *key,
    const char *what, json_t *packages, int parse_err, bool truncated,
    size_t len, size_t max_records);

#endif
