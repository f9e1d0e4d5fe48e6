#ifndef PORTCULLIS_SCANNER_REPORT_H
#define PORTCULLIS_SCANNER_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct vulndb;

/*
 * The image report: the one JSON object that a scan of an image ends in,
 * and that the policy turns into a verdict. It is built from the layer
 * results (bottom layer first), merged into the image view
 * (scanner/merge.h), the config checks (scanner/image_config.h) and the
 * vulnerability matches (scanner/match.h):
 *
 *   {"image": {"repository", "reference", "digest", "media_type", "size",
 *              "created", "platform"},
 *    "os", "packages", "vulnerabilities", "secrets", "files", "config",
 *    "errors", "layers": [{"digest", "size", "media_type"}],
 *    "scanner_version", "db_version"}
 *
 * Vulnerabilities are sorted worst first: by severity, then CVSS score,
 * then id. Without a database they are [] and db_version is null.
 */

/* Image metadata for the report; strings may be NULL. */
struct report_image {
	const char *repository;
	const char *reference;
	const char *digest;       /* manifest digest */
	const char *media_type;   /* manifest media type */
	const char *platform;     /* "linux/amd64" */
	int64_t size;             /* config and layers, compressed bytes */
	const json_t *config;     /* parsed config blob */
	const json_t *layers;     /* [{"digest", "size", "media_type"}] */
};

/*
 * Builds the report of img from its n layer results (not modified). db
 * may be NULL. Stores a new object in *report. Returns PC_OK,
 * PC_ERR_INVALID (a layer result or the config is malformed) or
 * PC_ERR_NOMEM; *report is NULL on error.
 */
int report_build(const struct report_image *img, json_t *const *layers,
    size_t n, struct vulndb *db, json_t **report);

/* Returns the rank of a severity word: critical 4 ... low 1, else 0. */
int report_severity_rank(const char *severity);

#endif
