#ifndef PORTCULLIS_SCANNER_ANALYZER_ERROR_H
#define PORTCULLIS_SCANNER_ANALYZER_ERROR_H

#include "scanner/layer_result.h"

/*
 * Adds a "scan_error" to res for a file that an analyzer could not read,
 * with the message "<analyzer>: <path>: <reason>". The reason is cut at
 * 512 bytes and the whole message at 1024, and bytes that are not valid
 * UTF-8 or are control characters become '?', so the message always fits
 * in JSON. Returns PC_OK or PC_ERR_NOMEM.
 */
int analyzer_error(struct layer_result *res, const char *analyzer,
    const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Replaces, in place, every byte of s that is not part of a valid UTF-8
 * sequence and every ASCII control character with '?'. Names taken from
 * inside files (zip entry names) go through it before they become JSON
 * strings.
 */
void analyzer_text_clean(char *s);

#endif
