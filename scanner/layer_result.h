#ifndef PORTCULLIS_SCANNER_LAYER_RESULT_H
#define PORTCULLIS_SCANNER_LAYER_RESULT_H

#include <jansson.h>

/*
 * The result of analyzing one layer: plain JSON, so it can be cached by
 * layer digest and merged later. Layout:
 *
 *   {
 *     "digest": "sha256:...",            compressed digest of the layer
 *     "scanner_version": "1",
 *     "files": {                          keyed by in-image path
 *       "var/lib/dpkg/status": {          path without "./" or "/"
 *         "dpkg": {"packages": [PACKAGE, ...]},
 *         "secrets": [SECRET, ...],
 *         "file": {"mode": "4755", "setuid": true, ...}
 *       },
 *       "etc/os-release": {"os": OS},
 *       ...
 *     },
 *     "whiteouts": ["usr/bin/foo", ...],  ".wh.<name>": path hidden below
 *     "opaque": ["app/node_modules", ...], ".wh..wh..opq": directory
 *     "errors": [{"kind": "scan_error", "message": "..."}],
 *     "stats": {"entries": N, "bytes": N, ...}
 *   }
 *
 * PACKAGE: {"type": "deb"|"apk"|"rpm"|"pypi"|"npm"|"go"|"maven",
 *           "name", "version", "arch"?, "source_name"?, "source_version"?,
 *           "purl"?}
 *   Language packages carry their OSV ecosystem in "ecosystem" ("npm",
 *   "PyPI", "Go", "Maven"); OS packages get theirs from the image's OS at
 *   merge time.
 * OS: {"family": "debian", "version": "12.5", "ecosystem": "Debian:12",
 *      "from": "os-release"|"debian_version"|...}
 * SECRET: {"rule", "title", "severity", "line", "redacted"}; the secret
 *   itself never appears, only a redacted form such as "AKIA************".
 *
 * The image view (scanner/merge.h) applies whiteouts and replaces file
 * results by path, layer by layer, so every finding hangs off the path
 * that produced it.
 */

/* Bumped whenever analyzers change what they report: part of cache keys. */
#define SCANNER_VERSION "1"

struct layer_result {
	json_t *root;
};

/* Returns PC_OK or PC_ERR_NOMEM. digest may be NULL. */
int layer_result_init(struct layer_result *res, const char *digest);
void layer_result_free(struct layer_result *res);

/*
 * Stores value (reference stolen) under files[path][key], replacing what
 * was there. Returns PC_OK or PC_ERR_NOMEM (value is released then).
 */
int layer_result_set(struct layer_result *res, const char *path,
    const char *key, json_t *value);

/* Appends item (stolen) to the array files[path][key], creating it. */
int layer_result_append(struct layer_result *res, const char *path,
    const char *key, json_t *item);

int layer_result_add_whiteout(struct layer_result *res, const char *path);
int layer_result_add_opaque(struct layer_result *res, const char *dir);

/* Adds {"kind": kind, "message": message} to errors. */
int layer_result_add_error(struct layer_result *res, const char *kind,
    const char *message);

#endif
