#ifndef PORTCULLIS_SCANNER_OSV_H
#define PORTCULLIS_SCANNER_OSV_H

#include <stddef.h>

#include <jansson.h>

/*
 * OSV records (https://ossf.github.io/osv-schema/): validation of one
 * record and a walk over the places OSV data comes in (single .json files,
 * folders of them, and the per-ecosystem .zip archives OSV publishes).
 *
 * Limits on one record. A record beyond any of them is rejected whole,
 * with a reason naming the limit.
 */
#define OSV_MAX_RECORD_BYTES (16u << 20) /* bytes of one JSON document */
#define OSV_MAX_DEPTH 32                 /* nesting of arrays and objects */
#define OSV_MAX_AFFECTED 4096            /* affected[] entries */
#define OSV_MAX_RANGES 256               /* ranges[] per affected entry */
#define OSV_MAX_EVENTS 1024              /* events[] per range */
#define OSV_MAX_VERSIONS 65536           /* versions[] per affected entry */
#define OSV_MAX_ALIASES 4096             /* aliases[] plus upstream[] */
#define OSV_MAX_SEVERITY 16              /* severity[] entries */
#define OSV_MAX_ID_BYTES 256             /* id, alias, ecosystem, version */
#define OSV_MAX_NAME_BYTES 512           /* package name */
#define OSV_MAX_TEXT_BYTES 4096          /* summary, severity score */

/*
 * Limits on a source walk: folder depth and the number of entries read from
 * one folder tree or .zip archive. A file larger than OSV_MAX_RECORD_BYTES is
 * reported to the callback with data NULL and is not read.
 */
#define OSV_MAX_DIR_DEPTH 16
#define OSV_MAX_SOURCE_FILES 4000000

/*
 * Parses and validates one OSV record of len bytes and stores its
 * normalised form, which the caller owns, in *out:
 *
 *   {"id": "DSA-6015-1",
 *    "aliases": ["CVE-2025-9230", ...],   aliases and upstream, no duplicates
 *    "summary": "...", "modified": "2025-10-01T00:00:00Z",
 *    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/..."}],
 *    "database_severity": "HIGH",         GHSA database_specific.severity
 *    "affected": [{"ecosystem": "Debian:12", "name": "openssl",
 *                  "ranges": [{"type": "ECOSYSTEM",
 *                              "events": [{"introduced": "0"},
 *                                         {"fixed": "3.0.17-1~deb12u3"}]}],
 *                  "versions": ["..."], "severity": [...]}]}
 *
 * Optional members are left out when the record has none. Ranges of type
 * GIT (and unknown types) and affected entries without a package are
 * dropped; every other member of the record is ignored.
 *
 * Returns PC_OK; PC_ERR_INVALID or PC_ERR_LIMIT for a malformed record;
 * PC_ERR_UNSUPPORTED for a valid record that cannot match any package (it
 * is withdrawn, or has no affected package left after dropping GIT ranges);
 * PC_ERR_NOMEM. On every error *out is NULL and reason (reasonlen bytes)
 * contains one line naming the field and the problem.
 */
int osv_parse(const char *data, size_t len, json_t **out, char *reason,
    size_t reasonlen);

/*
 * Formats a one-line reason into reason (reasonlen bytes; reason may be
 * NULL) and returns err, for the error paths of the OSV and vulndb code.
 */
int osv_set_reason(char *reason, size_t reasonlen, int err, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

/*
 * Calls fn once for every OSV record file under path: path itself when it is
 * a file ending in .json, each *.json file below it when it is a folder
 * (recursively, in name order, symbolic links to folders not followed), or
 * each *.json entry when it ends in .zip (read with libarchive). origin names
 * the file ("dir/DSA-1.json" or "all.zip:DSA-1.json"). data is NULL when the
 * file is larger than OSV_MAX_RECORD_BYTES; len is then its size.
 *
 * A non-zero return from fn stops the walk and is returned. Otherwise
 * returns PC_OK, PC_ERR_IO (path or an entry cannot be read),
 * PC_ERR_INVALID (a broken archive, or a file that is neither .json nor
 * .zip), PC_ERR_LIMIT or PC_ERR_NOMEM, with reason filled.
 */
int osv_source_walk(const char *path,
    int (*fn)(void *ctx, const char *origin, const char *data, size_t len),
    void *ctx, char *reason, size_t reasonlen);

#endif
