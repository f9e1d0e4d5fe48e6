#ifndef PORTCULLIS_CACHE_MANIFEST_CACHE_H
#define PORTCULLIS_CACHE_MANIFEST_CACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/digest.h"

/*
 * The manifest cache (manifests by digest) and the tag cache (tag to digest
 * per client Accept class), both kept on disk so that a restarted proxy
 * with its upstream down still serves what it has.
 *
 * Layout under the cache folder DIR (it may be the blob store's folder):
 *
 *   DIR/manifests/sha256/<first 2 hex>/<64 hex>   one manifest per file
 *   DIR/manifests/tmp/                            files being written
 *   DIR/tags/<64 hex>.json                        one tag entry per file
 *   DIR/tags/tmp/                                 files being written
 *   DIR/manifest_cache.lock                       flock(2) held while open
 *
 * A manifest file contains the media type, one newline, then the manifest
 * bytes exactly as the upstream sent them. Putting the type in the same
 * file keeps a manifest and its type consistent after a crash. The digest
 * covers only the manifest bytes. Every file is written to a tmp/ folder
 * and renamed into place, and tmp/ is emptied at open.
 *
 * A tag file is named after the SHA-256 of its key and contains
 *   {"upstream", "repository", "tag", "accept_class", "digest",
 *    "media_type", "size", "fetched_at", "validated_at"}
 * with times in seconds since the epoch. All tag entries are loaded into a
 * hash table at open.
 *
 * Manifests are never evicted: they are small and immutable.
 * NOTE: nothing bounds the disk space of the manifest folder; only the
 * number of tags is capped (TAG_CACHE_MAX_ENTRIES).
 *
 * Threads: all calls on one manifest_cache come from one thread; the
 * accept_class_* and validation functions are safe from any thread.
 */

struct manifest_cache;

/*
 * Maximum manifest size, 4 MiB, a cap common among registries and clients.
 * A larger manifest is rejected with PC_ERR_LIMIT.
 */
#define MANIFEST_MAX_BYTES (4u * 1024u * 1024u)

/* Maximum media type length: type and subtype of 127 bytes (RFC 6838), '/'. */
#define MEDIA_TYPE_MAX_LEN 255

/* Maximum length of an upstream name (a configured alias or a host[:port]). */
#define UPSTREAM_NAME_MAX_LEN 255

/*
 * Maximum number of tag entries after open (see tag_cache_set_limit). A put
 * beyond it drops the entry validated least recently, in memory and on
 * disk.
 */
#define TAG_CACHE_MAX_ENTRIES 100000

/* Maximum size of a tag file read at open; real entries need under 1 KiB. */
#define TAG_FILE_MAX_BYTES 4096

/*
 * Opens or creates the cache in dir, takes the lock (PC_ERR_AGAIN when
 * another process holds it), empties the tmp/ folders and loads the tag
 * entries. A tag file that cannot be parsed or fails validation is logged
 * and ignored. Returns PC_OK, PC_ERR_AGAIN, PC_ERR_IO or PC_ERR_NOMEM.
 */
int manifest_cache_open(const char *dir, struct manifest_cache **out);

/* Closes the cache and releases the lock. NULL is a no-op. */
void manifest_cache_close(struct manifest_cache *mc);

/*
 * Stores a manifest under its digest after checking that SHA-256(data)
 * equals digest. Storing a digest again is a no-op. Returns PC_OK,
 * PC_ERR_INVALID (malformed digest or media type), PC_ERR_UNSUPPORTED
 * (non-sha256 digest), PC_ERR_LIMIT (len above MANIFEST_MAX_BYTES),
 * PC_ERR_MISMATCH, PC_ERR_NOSPACE, PC_ERR_IO or PC_ERR_NOMEM.
 */
int manifest_cache_put(struct manifest_cache *mc, const char *digest,
    const char *media_type, const void *data, size_t len);

/*
 * Reads a manifest back. On PC_OK the caller owns *media_type and *data
 * (pc_free both); data is NUL-terminated after len bytes for convenience.
 * The digest is checked again on every read: a damaged file is logged,
 * deleted, and reported as PC_ERR_NOTFOUND. Returns PC_OK, PC_ERR_INVALID,
 * PC_ERR_UNSUPPORTED, PC_ERR_NOTFOUND, PC_ERR_IO or PC_ERR_NOMEM.
 */
int manifest_cache_get(struct manifest_cache *mc, const char *digest,
    char **media_type, char **data, size_t *len);

/*
 * Accept classes: which manifest media types a client accepts, as a
 * bitmask computed from its Accept headers. Tag resolution depends on it,
 * because a registry resolves the same tag to an index for one client and to a
 * single-platform manifest for another.
 */
/* application/vnd.docker.distribution.manifest.v2+json */
#define ACCEPT_DOCKER_V2 0x01u
/* application/vnd.docker.distribution.manifest.list.v2+json */
#define ACCEPT_DOCKER_LIST 0x02u
/* application/vnd.oci.image.manifest.v1+json */
#define ACCEPT_OCI_MANIFEST 0x04u
/* application/vnd.oci.image.index.v1+json */
#define ACCEPT_OCI_INDEX 0x08u
/* Schema 1: ...distribution.manifest.v1+json and ...v1+prettyjws */
#define ACCEPT_DOCKER_V1 0x10u
/* The media range star/star or application/star: any type */
#define ACCEPT_ANY 0x20u

/* Media ranges read per call; later ones are ignored. */
#define ACCEPT_MAX_MEDIA_RANGES 256

/*
 * Computes the accept class from the values of every Accept header of a
 * request (HTTP/1.1 header lines or HTTP/2 fields, in order). Each value is
 * a comma-separated list of media ranges with optional parameters; names
 * compare case-insensitively, parameters other than q are ignored, and a
 * range with q=0 (or an invalid q) adds nothing. With no Accept header at
 * all (n == 0) the class is ACCEPT_DOCKER_V2 | ACCEPT_DOCKER_V1, as the
 * distribution registry assumes. Unknown media types add nothing, so the
 * result may be 0.
 */
unsigned accept_class_from_headers(const char *const *accept_values, size_t n);

/*
 * Returns true when a client of accept_class accepts media_type (compared
 * case-insensitively, parameters ignored). ACCEPT_ANY accepts every type.
 */
bool accept_class_allows(unsigned accept_class, const char *media_type);

/*
 * Returns true for a media type "type/subtype" of RFC 6838 names, without
 * parameters: callers strip "; charset=..." from a Content-Type first.
 */
bool media_type_is_valid(const char *media_type);

/*
 * Returns true for a name of 1 to UPSTREAM_NAME_MAX_LEN characters from
 * [A-Za-z0-9.:_[]-], which covers aliases, host:port and [IPv6]:port.
 */
bool upstream_name_is_valid(const char *upstream);

struct tag_entry {
	char digest[DIGEST_MAX_LEN + 1];
	char media_type[MEDIA_TYPE_MAX_LEN + 1];
	uint64_t size;        /* manifest size in bytes */
	time_t fetched_at;    /* when this digest was stored for the key */
	time_t validated_at;  /* when the upstream last confirmed it */
};

/*
 * Stores tag -> digest for the key (upstream, repo, tag, accept_class),
 * replacing the previous entry, and writes it to disk before returning.
 * validated_at starts equal to fetched_at. Returns PC_OK, PC_ERR_INVALID
 * (any invalid name, digest or media type, a negative time),
 * PC_ERR_LIMIT (size above MANIFEST_MAX_BYTES), PC_ERR_NOSPACE, PC_ERR_IO
 * or PC_ERR_NOMEM. On error the previous entry stays.
 */
int tag_cache_put(struct manifest_cache *mc, const char *upstream,
    const char *repo, const char *tag, unsigned accept_class,
    const char *digest, const char *media_type, uint64_t size,
    time_t fetched_at);

/*
 * Copies the entry for the key into *out. The caller decides freshness,
 * e.g. validated_at + tag_ttl > now. Returns PC_OK, PC_ERR_NOTFOUND or
 * PC_ERR_INVALID.
 */
int tag_cache_get(struct manifest_cache *mc, const char *upstream,
    const char *repo, const char *tag, unsigned accept_class,
    struct tag_entry *out);

/*
 * Records that the upstream confirmed the cached digest at revalidated_at
 * (e.g. a HEAD returned the same Docker-Content-Digest), on disk too.
 * Returns PC_OK, PC_ERR_NOTFOUND, PC_ERR_INVALID, PC_ERR_NOSPACE,
 * PC_ERR_IO or PC_ERR_NOMEM.
 */
int tag_cache_touch(struct manifest_cache *mc, const char *upstream,
    const char *repo, const char *tag, unsigned accept_class,
    time_t revalidated_at);

/*
 * Drops the entry for the key, in memory and on disk. Returns PC_OK,
 * PC_ERR_NOTFOUND or PC_ERR_INVALID.
 */
int tag_cache_remove(struct manifest_cache *mc, const char *upstream,
    const char *repo, const char *tag, unsigned accept_class);

/*
 * Sets *tags to a new JSON array of the distinct tags cached for the
 * repository under any accept class, sorted in byte order as tags/list
 * requires (an empty array when there are none). Returns PC_OK,
 * PC_ERR_INVALID or PC_ERR_NOMEM.
 * NOTE: scans every entry, O(number of tags cached).
 */
int tag_cache_list(struct manifest_cache *mc, const char *upstream,
    const char *repo, json_t **tags);

/* Returns the number of tag entries. */
size_t tag_cache_count(const struct manifest_cache *mc);

/*
 * Sets the maximum number of tag entries (TAG_CACHE_MAX_ENTRIES after
 * open; 0 counts as 1) and drops the least recently validated entries
 * beyond it at once, in memory and on disk.
 */
void tag_cache_set_limit(struct manifest_cache *mc, size_t max_entries);

#endif
