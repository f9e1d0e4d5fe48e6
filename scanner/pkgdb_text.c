#include "scanner/pkgdb_text.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "scanner/text_utf8.h"

/*
 * Splits data into records. Returns PC_OK, the error of parser->end, or
 * PC_ERR_LIMIT when a record past max_records starts.
 */
static int
pkgdb_parse(const char *data, size_t len, bool truncated, size_t max_records,
    const struct pkgdb_parser *parser, json_t *packages)
{
	const char *p = data;
	const char *end = data + len;
	size_t records = 0;
	bool in_record = false;
	int err;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl != NULL ? nl : end;
		size_t line_len = (size_t)(line_end - p);
		bool blank = line_len == 0 || (line_len == 1 && p[0] == '\r');

		if (blank && in_record) {
			err = parser->end(parser->ctx, packages);
			if (err != PC_OK)
				return err;
			in_record = false;
		} else if (!blank) {
			if (!in_record && ++records > max_records)
				return PC_ERR_LIMIT;
			in_record = true;
			parser->line(parser->ctx, p, line_len);
		}
		p = line_end + 1;
	}
	/* A truncated file ends inside its last record: drop that record. */
	if (in_record && !truncated)
		return parser->end(parser->ctx, packages);
	return PC_OK;
}

static int
pkgdb_store(struct layer_result *res, const char *path, const char *key,
    const char *what, json_t *packages, int parse_err, bool truncated,
    size_t len, size_t max_records)
{
	char message[512];
	json_t *result;
	int err = PC_OK;

	if (parse_err == PC_ERR_LIMIT) {
		snprintf(message, sizeof(message), "%s %s has more than %zu "
		    "records: packages after the limit are not listed", what,
		    path, max_records);
		text_utf8_sanitize(message);
		err = layer_result_add_error(res, "limit", message);
	} else if (truncated) {
		snprintf(message, sizeof(message), "%s %s is larger than the "
		    "%zu bytes read: packages after the cut are not listed",
		    what, path, len);
		text_utf8_sanitize(message);
		err = layer_result_add_error(res, "limit", message);
	}
	if (err != PC_OK) {
		json_decref(packages);
		return err;
	}
	result = json_pack("{s:o}", "packages", packages);
	if (result == NULL)
		return PC_ERR_NOMEM;
	return layer_result_set(res, path, key, result);
}

int
pkgdb_analyze(struct layer_result *res, const char *path, const char *key,
    const char *what, const char *data, size_t len, bool truncated,
    size_t max_records, const struct pkgdb_parser *parser)
{
	json_t *packages = json_array();
	int err;

	if (packages == NULL)
		return PC_ERR_NOMEM;
	err = pkgdb_parse(data, len, truncated, max_records, parser, packages);
	if (err == PC_ERR_NOMEM) {
		json_decref(packages);
		return err;
	}
	return pkgdb_store(res, path, key, what, packages, err, truncated, len,
	    max_records);
}
