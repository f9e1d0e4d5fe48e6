#ifndef PORTCULLIS_PROXY_SCAN_TABLE_H
#define PORTCULLIS_PROXY_SCAN_TABLE_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

/*
 * The human-readable form of an image report for `portcullis scan`: the
 * image and its OS, package counts per type, vulnerabilities worst first
 * with their fixed versions, redacted secrets, risky files, config
 * findings, errors and the verdict when the report has one. Control
 * characters from the image (file names, messages) print as '?', so a
 * hostile image cannot drive the terminal.
 */
void scan_table_print(FILE *out, const json_t *report, bool matched);

#endif
