#ifndef PORTCULLIS_PROXY_IMAGE_FETCH_H
#define PORTCULLIS_PROXY_IMAGE_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/digest.h"
#include "scanner/layer_result.h"
#include "scanner/layer_scan.h"

/*
 * Images for `portcullis scan`, read from one of three sources:
 *
 *   oci:DIR[:TAG]            an OCI image layout; TAG matches the
 *                            org.opencontainers.image.ref.name annotation,
 *                            and without it the layout must hold one image
 *   docker-archive:FILE      a `docker save` tar (manifest.json), first image
 *   [http://|https://]HOST[:PORT]/NAME[:TAG|@DIGEST]
 *                            a registry, over the OCI distribution API
 *
 * Opening an image reads and verifies its manifest and config. Layers are
 * then scanned one at a time with image_scan_layer(); registry layers are
 * scanned while they download.
 */

/* Caps on what an image source may hand over. */
#define IMAGE_MAX_MANIFEST_BYTES (4U << 20)   /* manifest, index, index.json */
#define IMAGE_MAX_CONFIG_BYTES (8U << 20)     /* config blob */
#define IMAGE_MAX_LAYERS 1000U                /* layers of one manifest */
#define IMAGE_MAX_INDEX_DEPTH 2U              /* index inside index */
#define IMAGE_MAX_REFERENCE_LEN 1024U         /* the IMAGE argument */

struct image_options {
	bool plain_http;        /* registry over http:// instead of https:// */
	const char *platform;   /* "os/arch[/variant]" to pick from an index;
	                           NULL means linux and the host's architecture */
};

struct image_layer {
	char digest[DIGEST_SHA256_BUFSIZE]; /* "" when the source names none */
	char *media_type;                   /* NULL when the source names none */
	int64_t size;                       /* compressed bytes, -1 unknown */
	char *member;                       /* docker-archive: path in the tar */
};

struct image_backend;

struct image {
	char *repository;       /* "library/debian", the layout path, ... */
	char *reference;        /* tag or digest as requested, or NULL */
	char *digest;           /* manifest digest, or the config digest of a
	                           docker-archive (which has no manifest) */
	char *media_type;       /* manifest media type, NULL for docker-archive */
	char platform[64];      /* "linux/amd64" from the config */
	json_t *manifest;       /* NULL for docker-archive */
	json_t *config;
	char config_digest[DIGEST_SHA256_BUFSIZE];
	int64_t config_size;
	struct image_layer *layers;
	size_t n_layers;

	const struct image_backend *backend;
	void *backend_data;
};

/*
 * Opens the image named by ref (see above). On failure reason contains one
 * line for a person. Returns PC_OK, PC_ERR_INVALID (bad reference or
 * malformed manifest), PC_ERR_NOTFOUND, PC_ERR_MISMATCH (a digest does not
 * match), PC_ERR_LIMIT, PC_ERR_UNSUPPORTED, PC_ERR_UPSTREAM, PC_ERR_DENIED
 * (registry authentication), PC_ERR_IO or PC_ERR_NOMEM.
 */
int image_open(const char *ref, const struct image_options *opts,
    struct image **out, char *reason, size_t reasonlen);

/*
 * Scans layer i into out (initialised by the caller) and checks its digest
 * and size against the manifest. Returns what layer_scan_run() returns, or
 * the source's error (then reason contains a line and out a scan_error).
 */
int image_scan_layer(struct image *img, size_t i,
    const struct scan_limits *limits, struct layer_result *out,
    char *reason, size_t reasonlen);

void image_free(struct image *img);

#endif
