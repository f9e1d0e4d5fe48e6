#ifndef PORTCULLIS_PROXY_REGISTRY_INTERNAL_H
#define PORTCULLIS_PROXY_REGISTRY_INTERNAL_H

/* Shared by registry.c, registry_manifest.c and registry_blob.c. */

#include <stdbool.h>
#include <stdint.h>

#include "proxy/registry.h"
#include "proxy/route.h"

struct inflight;
struct blob_stream;

struct registry {
	struct event_base *base;
	struct registry_upstream *upstreams;
	struct route_upstream *route_ups;
	size_t n_upstreams;
	struct blobstore *blobs;
	struct manifest_cache *manifests;
	struct gate *gate;
	const struct gate_ops *gate_ops;
	struct auth *auth;
	unsigned tag_ttl_s;
	bool offline;
	struct inflight *inflight;   /* blob downloads in progress */
	struct blob_stream *streams; /* every open blob response */
	struct registry_stats stats;
};

#define MEDIA_TYPE_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MEDIA_TYPE_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_TYPE_DOCKER_LIST \
	"application/vnd.docker.distribution.manifest.list.v2+json"
#define MEDIA_TYPE_DOCKER_V2 "application/vnd.docker.distribution.manifest.v2+json"

/* Sends an OCI error body: {"errors":[{"code":..,"message":..}]}. */
void registry_error(struct http_exchange *x, int status, const char *code,
    const char *message);

/*
 * Responds for an upstream response that was not a success, or for a
 * transport failure (status 0): 404 becomes notfound_code, 429
 * TOOMANYREQUESTS with Retry-After, 401/403 DENIED, anything else 503
 * UNAVAILABLE.
 */
void registry_upstream_error(struct http_exchange *x, int status,
    const char *retry_after, const char *notfound_code, const char *what);

/* Adds Docker-Distribution-API-Version and the other common headers. */
void registry_common_headers(struct http_exchange *x);

/* "repository:<name>:pull" into out. */
void registry_scope(const struct route *r, char *out, size_t outlen);

void registry_handle_manifest(struct registry *reg, struct http_exchange *x,
    const struct route *r);
/*
 * held, when not NULL, is a blob-stream slot taken from the access
 * control; the blob response owns it and releases it when it ends.
 */
struct auth_result;
void registry_handle_blob(struct registry *reg, struct http_exchange *x,
    const struct route *r, struct auth_result *held);
void registry_inflight_cancel_all(struct registry *reg);

#endif
