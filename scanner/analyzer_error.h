#ifndef PORTCULLIS_SCANNER_ANALYZER_ERROR_H
#define PORTCULLIS_SCANNER_ANALYZER_ERROR_H

#include "scanner/layer_result.h"

/*
 * Adds a "scan_error" to res for a file that an analyzer could not read,
 * with the message "<analyzer>: <path>: <reason>". The reason is cut at
 * 512 bytes and the whole message at 1024. Returns PC_OK or PC_ERR_NOMEM.
 */
int analyzer_error(struct layer_result *res, const char *analyzer,
    const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
