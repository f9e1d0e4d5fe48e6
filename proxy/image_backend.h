#ifndef PORTCULLIS_PROXY_IMAGE_BACKEND_H
#define PORTCULLIS_PROXY_IMAGE_BACKEND_H

#include <stdarg.h>

#include "common/buf.h"
#include "proxy/image_fetch.h"

/*
 * The parts of proxy/image_fetch.c that the image sources share: each
 * source (image_oci.c, image_docker_archive.c, image_registry.c) opens an
 * image through these helpers and scans its layers through its backend.
 */

struct image_backend {
	int (*scan_layer)(struct image *img, size_t i,
	    const struct scan_limits *limits, struct layer_result *out,
	    char *reason, size_t reasonlen);
	void (*free)(void *backend_data);
};

int image_open_oci(const char *spec, const struct image_options *opts,
    struct image *img, char *reason, size_t reasonlen);
int image_open_docker_archive(const char *path, const struct image_options *opts,
    struct image *img, char *reason, size_t reasonlen);
int image_open_registry(const char *ref, const struct image_options *opts,
    struct image *img, char *reason, size_t reasonlen);

/* Formats reason and returns err. */
int image_fail(int err, char *reason, size_t reasonlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Reads the file at path into b (its cap applies). */
int image_read_file(const char *path, struct buf *b, char *reason,
    size_t reasonlen);

/* Parses JSON text; what names the document in the error. */
int image_parse_json(const struct buf *b, const char *what, json_t **out,
    char *reason, size_t reasonlen);

/* Manifest and index media types. */
bool image_is_index(const char *media_type);
bool image_is_manifest(const char *media_type);

/*
 * Picks the descriptor of opts->platform (default linux and the host's
 * architecture) from an image index. Returns PC_OK, PC_ERR_NOTFOUND (the
 * index lists no such platform: reason lists those it has) or
 * PC_ERR_INVALID.
 */
int image_pick_platform(const json_t *index, const struct image_options *opts,
    const json_t **desc, char *reason, size_t reasonlen);

/*
 * Reads a descriptor: its sha256 digest into digest and its size. Returns
 * PC_OK, PC_ERR_UNSUPPORTED (another algorithm) or PC_ERR_INVALID.
 */
int image_descriptor(const json_t *desc, char digest[DIGEST_SHA256_BUFSIZE],
    int64_t *size, char *reason, size_t reasonlen);

/*
 * Fills img's config descriptor and layers from an image manifest (OCI or
 * Docker schema 2) and keeps a reference to it.
 */
int image_take_manifest(struct image *img, json_t *manifest,
    const char *media_type, char *reason, size_t reasonlen);

/* Parses the config blob, checks its digest and size, fills the platform. */
int image_take_config(struct image *img, const struct buf *body,
    char *reason, size_t reasonlen);

/* Checks content against an expected sha256 digest. */
int image_verify_digest(const void *data, size_t len, const char *expected,
    const char *what, char *reason, size_t reasonlen);

/*
 * Checks the scan's compressed byte count against the manifest size and
 * records a scan_error on a mismatch.
 */
int image_check_layer_size(const struct image *img, size_t i,
    struct layer_result *out, char *reason, size_t reasonlen);

#endif
