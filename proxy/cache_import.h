#ifndef PORTCULLIS_PROXY_CACHE_IMPORT_H
#define PORTCULLIS_PROXY_CACHE_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cache/manifest_cache.h"
#include "cache/names.h"
#include "common/digest.h"

/*
 * Seeding the caches of an offline proxy (`portcullis cache import`). An
 * image from an OCI layout or a docker-archive file is copied into the
 * blob store and the manifest cache with every digest verified, and tagged
 * in the tag cache. It is then scanned, and its report and verdict are
 * written to a file.
 *
 * The caches must be open in this process, so the server using the same
 * folder must be stopped: each cache holds an exclusive lock while open.
 */

struct blobstore;
struct policy;
struct vulndb;

/*
 * Maximum number of accept classes a tag is stored under. The classes are
 * those of the Accept lists that real clients send; see
 * cache_import_accept_classes().
 */
#define CACHE_IMPORT_MAX_CLASSES 8

struct cache_import_options {
	const char *source;       /* oci:DIR[:TAG] or docker-archive:FILE */
	const char *upstream;     /* upstream name the tag is stored under */
	bool docker_hub;          /* the upstream is Docker Hub */
	const char *as;           /* NAME[:TAG] to store, or NULL */
	const char *platform;     /* "os/arch[/variant]" from an index, or NULL */
	const char *verdict_dir;  /* folder for <manifest digest>.json */
	const struct policy *policy;  /* NULL: no verdict */
	struct vulndb *db;        /* NULL: no vulnerability matching */
};

struct cache_import_result {
	char repository[REPO_NAME_MAX_LEN + 1];
	char tag[TAG_MAX_LEN + 1];
	char digest[DIGEST_SHA256_BUFSIZE];       /* manifest digest */
	char media_type[MEDIA_TYPE_MAX_LEN + 1];  /* manifest media type */
	size_t layers;
	size_t blobs_copied;      /* config and layers written to the store */
	size_t blobs_present;     /* config and layers the store already had */
	uint64_t bytes_copied;
	size_t tag_classes;       /* accept classes the tag was stored for */
	json_t *report;           /* the image report (caller decrefs) */
	json_t *verdict;          /* the verdict, NULL without a policy */
	char verdict_path[4096];  /* the file written */
};

/*
 * Imports the image named by opts->source into the caches. The stored
 * name and tag come from opts->as when given, else from the source: a
 * docker-archive's first RepoTags entry, or the TAG of oci:DIR:TAG (an OCI
 * layout names no repository, so it needs opts->as). A missing tag is
 * "latest". A registry host in front of the name is dropped, and for a
 * Docker Hub upstream a one-component name gets "library/", the spelling
 * the server looks up.
 *
 * When an OCI layout tags an image index, the image manifest of
 * opts->platform (default linux and the host's architecture) is imported
 * and tagged, not the index. A docker-archive contains no manifest, so an OCI
 * image manifest is made from its config and layers (uncompressed tar
 * layers keep their digests).
 *
 * Blobs are committed before the manifest and the tag, so the tag never
 * names a missing blob. On failure reason contains one line for a person.
 * Returns PC_OK, or the error of the step that failed (PC_ERR_INVALID,
 * PC_ERR_NOTFOUND, PC_ERR_MISMATCH, PC_ERR_LIMIT, PC_ERR_UNSUPPORTED,
 * PC_ERR_NOSPACE, PC_ERR_IO or PC_ERR_NOMEM). res->report and
 * res->verdict are set only on PC_OK.
 */
int cache_import_run(struct blobstore *bs, struct manifest_cache *mc,
    const struct cache_import_options *opts, struct cache_import_result *res,
    char *reason, size_t reasonlen);

/*
 * Fills classes with the distinct accept classes of the Accept lists that
 * containerd, dockerd, skopeo and podman, go-containerregistry, and a
 * client sending no Accept header use, richest first. Returns their
 * number, at most CACHE_IMPORT_MAX_CLASSES.
 */
size_t cache_import_accept_classes(unsigned classes[CACHE_IMPORT_MAX_CLASSES]);

/*
 * Splits "[HOST/]NAME[:TAG]" into the repository and tag the server looks
 * up: a first component with a '.' or ':', or "localhost", is a registry
 * host and is dropped, and for docker_hub a one-component name gets
 * "library/". tag is set to default_tag when ref has none (default_tag
 * may be NULL, then tag is ""). Returns PC_OK, or PC_ERR_INVALID with
 * reason set when the name or tag is invalid.
 */
int cache_import_split_name(const char *ref, bool docker_hub,
    const char *default_tag, char repository[REPO_NAME_MAX_LEN + 1],
    char tag[TAG_MAX_LEN + 1], char *reason, size_t reasonlen);

#endif
