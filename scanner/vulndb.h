#ifndef PORTCULLIS_SCANNER_VULNDB_H
#define PORTCULLIS_SCANNER_VULNDB_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/*
 * The offline vulnerability database: one LMDB file (MDB_NOSUBDIR) built
 * from OSV records by vulndb_builder_*, opened read-only by the scanner.
 *
 * File format (format 1). Two named LMDB databases:
 *   "packages": key   ECOSYSTEM NUL NAME  (e.g. "Debian:12\0openssl",
 *                     "PyPI\0pyyaml" with PyPI names PEP 503-normalised)
 *               value compact JSON array of the advisories that name the
 *                     package, one ENTRY each, sorted by id:
 *     ENTRY: {"id", "aliases": [...], "summary"?, "modified",
 *             "severity": "critical"|"high"|"medium"|"low"|"unknown",
 *             "cvss_score"?: 9.8, "cvss_vector"?: "CVSS:3.1/...",
 *             "affected": [{"ranges"?: [{"type": "ECOSYSTEM"|"SEMVER",
 *                                        "events": [{"introduced": "0"},
 *                                                   {"fixed": "1.2"}],
 *                                        "sorted"?: true}],
 *                           "versions"?: [...],
 *                           "severity"?, "cvss_score"?, "cvss_vector"?}]}
 *     "affected" holds only the record's entries for this package. Events
 *     are stored sorted by version ("sorted": true) when they all parse. An
 *     affected entry carries its own severity fields when the record gives
 *     that entry its own severity[]. A versions list is kept only for the
 *     versions that its ranges do not already cover, because PyPI records
 *     list every release of every range.
 *   "meta":     key "info", value JSON:
 *     {"format": 1, "version": "sha256:HEX", "imported": "2026-12-04T20:00:00Z",
 *      "records": N, "packages": N, "ecosystems": {"Debian:12": N, ...}}
 *     version is the SHA-256 over the normalised records (osv_parse output,
 *     keys sorted, compact) in id order, each followed by a newline, so
 *     the same input gives the same version whatever the file order.
 *     ecosystems counts the records that name each ecosystem.
 *
 * Severity of an entry: the rating of the first CVSS_V3 vector that
 * scores (a score of 0.0, rated "none", counts as "low"), else of the
 * first CVSS_V4 vector, else the GHSA database_specific severity word
 * (MODERATE is "medium"), else "unknown". CVSS_V2 vectors are not scored.
 */

#define VULNDB_FORMAT 1
#define VULNDB_MAX_RECORDS 4000000 /* records in one import */
/* Encoded bytes of decoded lookup results kept in memory per open
 * database; the cache is emptied when a new result would pass it. */
#define VULNDB_CACHE_MAX_BYTES (32u << 20)

struct vulndb_builder;
struct vulndb;

/* Returns PC_OK or PC_ERR_NOMEM. */
int vulndb_builder_new(struct vulndb_builder **out);
void vulndb_builder_free(struct vulndb_builder *b);

/*
 * Parses one OSV record (osv_parse) and adds it. A record whose id was
 * added before replaces the earlier one when its "modified" is later, and
 * each repeated id counts in vulndb_builder_duplicates. Returns PC_OK, an error of
 * osv_parse (reason filled, the record is not added), or PC_ERR_LIMIT past
 * VULNDB_MAX_RECORDS.
 */
int vulndb_builder_add(struct vulndb_builder *b, const char *data, size_t len,
    char *reason, size_t reasonlen);

/* Number of distinct records added, and of records with a repeated id. */
size_t vulndb_builder_records(const struct vulndb_builder *b);
size_t vulndb_builder_duplicates(const struct vulndb_builder *b);

/*
 * Writes the database to PATH.tmp-<pid>, then renames it over path, so a
 * reader sees either the old file or the complete new one. Returns PC_OK,
 * PC_ERR_IO, PC_ERR_NOSPACE or PC_ERR_NOMEM (reason filled); the temporary
 * file is removed on failure.
 */
int vulndb_builder_write(struct vulndb_builder *b, const char *path,
    char *reason, size_t reasonlen);

/*
 * Opens the database at path read-only. Returns PC_OK, PC_ERR_NOTFOUND (no
 * file), PC_ERR_INVALID (not a database of this format) or PC_ERR_IO, with
 * reason filled. Lookups may run from several threads at once.
 */
int vulndb_open(const char *path, struct vulndb **out, char *reason,
    size_t reasonlen);
void vulndb_close(struct vulndb *db);

/*
 * Looks up the advisories of (ecosystem, name) and stores a new reference
 * to the ENTRY array in *entries, or NULL when there are none. PyPI names
 * are normalised here. The array is shared with the lookup cache and with
 * other threads: callers must not modify it. Returns PC_OK, PC_ERR_INVALID
 * (a stored value is not valid JSON), PC_ERR_IO or PC_ERR_NOMEM.
 */
int vulndb_lookup(struct vulndb *db, const char *ecosystem, const char *name,
    json_t **entries);

/* Returns the "info" object (owned by db, valid until vulndb_close). */
const json_t *vulndb_info(const struct vulndb *db);

/* Returns the database version, "sha256:HEX" (owned by db). */
const char *vulndb_version(const struct vulndb *db);

/*
 * Returns true when the file at the path db was opened from is no longer
 * the one db reads (another device, inode, size or modification time), so
 * the caller can open the new file and close db. A missing file is no
 * change: the open database stays usable.
 */
bool vulndb_changed(const struct vulndb *db);

/*
 * Stores the PEP 503 normal form of a PyPI name in out (outlen bytes):
 * lower case, each run of '-', '_' and '.' as one '-'. Returns PC_OK or
 * PC_ERR_LIMIT when out is too small.
 */
int vulndb_pypi_normalize(const char *name, char *out, size_t outlen);

#endif
