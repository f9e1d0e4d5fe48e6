#ifndef PORTCULLIS_PROXY_REGISTRY_H
#define PORTCULLIS_PROXY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/http.h"

/*
 * The OCI distribution pull API, served from the blob store and the
 * manifest cache and filled from the upstreams on a miss. Push and delete
 * get 405 UNSUPPORTED.
 */

struct event_base;
struct blobstore;
struct manifest_cache;
struct upstream;
struct gate;
struct gate_ops;
struct auth;

struct registry_upstream {
	struct upstream *client;  /* NULL when offline */
	const char *name;
	bool docker_hub;
};

struct registry_deps {
	struct event_base *base;
	struct registry_upstream *upstreams;
	size_t n_upstreams;
	struct blobstore *blobs;
	struct manifest_cache *manifests;
	struct gate *gate;          /* NULL: every image passes */
	const struct gate_ops *gate_ops;
	struct auth *auth;          /* NULL: no client authentication */
	unsigned tag_ttl_s;
	bool offline;
};

struct registry_stats {
	uint64_t requests;
	uint64_t manifest_hits;
	uint64_t manifest_misses;
	uint64_t manifest_stale;
	uint64_t blob_hits;
	uint64_t blob_misses;
	uint64_t blob_coalesced;
	uint64_t bytes_from_cache;
	uint64_t bytes_from_upstream;
	uint64_t upstream_errors;
	uint64_t digest_mismatches;
	uint64_t passthrough;       /* blobs streamed without caching */
	uint64_t denied;
	uint64_t inflight_blobs;
};

struct registry;

int registry_new(const struct registry_deps *deps, struct registry **out);

/* Cancels upstream fetches; the HTTP exchanges must be gone already. */
void registry_free(struct registry *reg);

/* The http_handler_fn of registry listeners; arg is the registry. */
void registry_handle(struct http_exchange *x, void *arg);

void registry_set_tag_ttl(struct registry *reg, unsigned tag_ttl_s);
void registry_set_offline(struct registry *reg, bool offline);
void registry_stats(const struct registry *reg, struct registry_stats *out);

/*
 * Prefetching: the gate reads an image's blobs as they arrive, through
 * the same single upstream download that clients share. fd (owned by the
 * caller) reads the blob from offset 0 while it grows.
 */
struct registry_prefetch;

struct registry_prefetch_callbacks {
	/* The download started (or the blob is cached); size is -1 if unknown. */
	void (*on_start)(void *arg, int fd, int64_t size);
	/* bytes_available bytes can be read through fd now. */
	void (*on_progress)(void *arg, uint64_t bytes_available);
	/*
	 * The blob ended: PC_OK when whole and verified against its digest,
	 * else an error (PC_ERR_NOSPACE when it could not be stored). The last
	 * callback; the handle is gone when it returns.
	 */
	void (*on_done)(void *arg, int err);
};

/*
 * Fetches digest of repository from the named upstream unless the blob
 * store has it. Returns PC_OK (callbacks follow from the event loop, never
 * from inside this call), PC_ERR_NOTFOUND for an unknown upstream or when
 * offline and not cached, PC_ERR_NOMEM.
 */
int registry_prefetch_blob(struct registry *reg, const char *upstream,
    const char *repository, const char *digest,
    const struct registry_prefetch_callbacks *cb, void *arg,
    struct registry_prefetch **out);

/* Stops callbacks of p and frees it; not from inside its on_done. */
void registry_prefetch_cancel(struct registry_prefetch *p);

/*
 * Re-checks every open stream of digest, after the gate released or
 * refused the image that holds it.
 */
void registry_blob_wake(struct registry *reg, const char *digest);

/*
 * Parses a Range header value against a blob of size bytes: one range of
 * "bytes=N-M", "bytes=N-" or "bytes=-S". Returns 200 when the header should
 * be ignored (absent, several ranges, or not bytes), 206 with [*start,
 * *end] set (inclusive), or 416 when unsatisfiable.
 */
int registry_parse_range(const char *value, uint64_t size, uint64_t *start,
    uint64_t *end);

#endif
