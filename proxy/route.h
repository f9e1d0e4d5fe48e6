#ifndef PORTCULLIS_PROXY_ROUTE_H
#define PORTCULLIS_PROXY_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Maps a registry API path to what it requests and which upstream serves
 * it. The upstream comes from containerd's ?ns= parameter (a key into the
 * configured list, never a host to dial), else from a path prefix naming an
 * upstream (/v2/<upstream>/<name>/...), else the first upstream. For a
 * Docker Hub upstream a one-component name gets "library/".
 */

enum route_kind {
	ROUTE_PING,        /* /v2/ */
	ROUTE_MANIFEST,    /* /v2/<name>/manifests/<reference> */
	ROUTE_BLOB,        /* /v2/<name>/blobs/<digest> */
	ROUTE_TAGS,        /* /v2/<name>/tags/list */
	ROUTE_REFERRERS,   /* /v2/<name>/referrers/<digest> */
	ROUTE_CATALOG,     /* /v2/_catalog */
	ROUTE_UPLOAD,      /* /v2/<name>/blobs/uploads/... (push) */
	ROUTE_ERROR,       /* see error_* */
};

/* One configured upstream, with the fields the router uses. */
struct route_upstream {
	const char *name;   /* "docker.io", "quay" */
	bool docker_hub;
};

#define ROUTE_NAME_MAX 256
#define ROUTE_REFERENCE_MAX 160

struct route {
	enum route_kind kind;
	int upstream;                      /* index, or -1 */
	char name[ROUTE_NAME_MAX];         /* canonical repository name */
	char client_name[ROUTE_NAME_MAX];  /* the name as the client spelled it */
	char prefix[ROUTE_NAME_MAX];       /* "<upstream>/" when routed by prefix */
	char reference[ROUTE_REFERENCE_MAX];
	bool by_digest;                    /* reference is a digest */
	bool by_ns;
	int error_status;                  /* ROUTE_ERROR: 400 or 404 */
	const char *error_code;            /* NAME_UNKNOWN, NAME_INVALID, ... */
	char error_message[256];
};

/* True when host names Docker Hub (docker.io, index.docker.io, ...). */
bool route_is_docker_hub_host(const char *host);

/*
 * Fills out from path and query. Always returns a route; failures are
 * ROUTE_ERROR with the OCI error code and status to respond with.
 */
void route_parse(const char *path, const char *query,
    const struct route_upstream *ups, size_t n_ups, struct route *out);

/*
 * Copies the value of query parameter key, percent-decoded, into out.
 * Returns true when present.
 */
bool route_query_param(const char *query, const char *key, char *out,
    size_t outlen);

#endif
