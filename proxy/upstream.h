#ifndef PORTCULLIS_PROXY_UPSTREAM_H
#define PORTCULLIS_PROXY_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The upstream client: HTTP requests to upstream registries, driven by
 * libcurl's multi socket interface on a libevent event_base.
 *
 * Every callback runs on the event loop thread, from inside
 * event_base_loop(), and never from inside an upstream_* call. One
 * upstream_client serves any number of upstreams; it is not thread-safe,
 * so every upstream_* call must come from the loop thread too.
 *
 * On top of plain HTTP the client does what a registry pull needs:
 * - Bearer token auth: a 401 with a Bearer challenge makes it fetch a token
 *   from the challenge's realm, cache it and retry the request (see
 *   upstream_fetch() for the exact retry rule).
 * - Basic auth when the upstream requests it and credentials are configured.
 * - Redirects (301, 302, 303, 307, 308), followed by this code and not by
 *   libcurl, at most UPSTREAM_MAX_REDIRECTS hops. Authorization is sent
 *   only to the upstream's own scheme, host and port, so a blob redirect
 *   to a CDN or object store carries no credentials.
 * - "Accept-Encoding: identity" on every request; bodies are passed on
 *   exactly as received, never decoded.
 * libcurl's proxy environment variables (https_proxy, no_proxy, ...) apply.
 */

struct event_base;
struct upstream_client;
struct upstream;
struct upstream_fetch;

/* Redirect hops followed per fetch before the 3xx is reported as is. */
#define UPSTREAM_MAX_REDIRECTS 5

/* Defaults used when a timeout field of upstream_config is 0. */
#define UPSTREAM_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define UPSTREAM_DEFAULT_HEADER_TIMEOUT_MS 20000L
#define UPSTREAM_DEFAULT_STALL_TIMEOUT_MS 30000L

/* Bytes libcurl reads from an upstream socket at once (CURLOPT_BUFFERSIZE). */
#define UPSTREAM_READ_BUFFER (512L * 1024L)
/* Cap on the response headers of one response (all lines together). */
#define UPSTREAM_MAX_HEADER_BYTES (64 * 1024)
/* Cap on the number of header lines of one response. */
#define UPSTREAM_MAX_HEADERS 100
/* Cap on a token endpoint's JSON response. */
#define UPSTREAM_MAX_TOKEN_RESPONSE (256 * 1024)
/* Maximum length of upstream_request.scope. */
#define UPSTREAM_MAX_SCOPE_LEN 4096
/* Cap on the credentials file. */
#define UPSTREAM_MAX_CREDENTIALS_FILE 4096
/* Cached tokens per upstream; the entry closest to expiry is dropped. */
#define UPSTREAM_MAX_TOKENS 1024
/* Tokens are refreshed this many seconds before they expire. */
#define UPSTREAM_TOKEN_EXPIRY_SKEW_S 30
/* Token lifetime when the response has no expires_in, and the minimum. */
#define UPSTREAM_TOKEN_MIN_LIFETIME_S 60

/* Returned by on_data to stop body delivery until upstream_fetch_resume(). */
#define UPSTREAM_PAUSE 1

/*
 * Passed as err to on_done after on_headers or on_data returned -1. It is
 * positive, so it never equals PC_OK or an enum pc_err value.
 */
#define UPSTREAM_CANCELLED 1

/*
 * One upstream registry. upstream_new() copies every string, so the caller
 * may free the struct and its strings after the call.
 */
struct upstream_config {
	const char *name;             /* for logs, e.g. "docker.io" */
	const char *url;              /* scheme://host[:port], no path */
	const char *ca_file;          /* PEM bundle to verify with; NULL: system CAs */
	bool tls_verify;              /* false turns off peer and host verification */
	const char *credentials_file; /* NULL: anonymous */
	/*
	 * Hosts besides the upstream's own host that may serve its token
	 * realm, e.g. "auth.docker.io" for registry-1.docker.io. Compared
	 * case-insensitively with the realm URL's host, exactly.
	 */
	const char *const *realm_hosts;
	size_t n_realm_hosts;
	long connect_timeout_ms;      /* TCP and TLS connect; 0: default */
	long header_timeout_ms;       /* request sent to response headers; 0: default */
	long stall_timeout_ms;        /* no body byte for this long; 0: default */
	bool http2;                   /* offer h2 through ALPN on https */
};

/*
 * One request. Strings are copied by upstream_fetch(). headers are whole
 * lines such as "Accept: application/vnd.oci.image.index.v1+json" or
 * "Range: bytes=1024-"; an Authorization or Accept-Encoding line is
 * rejected because the client sets both itself.
 */
struct upstream_request {
	const char *method;  /* "GET" or "HEAD" */
	const char *path;    /* "/v2/library/debian/manifests/bookworm", query allowed */
	const char *scope;   /* token scope, "repository:library/debian:pull"; NULL: the challenge's */
	const char *const *headers;
	size_t n_headers;
};

/*
 * The final response: the one after auth retries and redirects. Strings
 * point into storage owned by the fetch and stay valid until on_done
 * returns. A header that is absent is NULL.
 */
struct upstream_response {
	int status;               /* 200, 206, 404, 429, ... */
	const char *content_type;
	const char *digest;       /* Docker-Content-Digest */
	int64_t content_length;   /* -1 when unknown (absent, or chunked) */
	const char *retry_after;  /* raw Retry-After value (sent with 429 and 503) */
	const char *location;     /* URL this response came from, after redirects */
};

/*
 * Returns the value of the first header called name (case-insensitive)
 * in r, with surrounding whitespace removed, or NULL.
 */
const char *upstream_response_header(const struct upstream_response *r, const char *name);

struct upstream_callbacks {
	/*
	 * Final response headers arrived. Return 0 to receive the body, or -1
	 * to cancel: the transfer stops and on_done follows with
	 * err = UPSTREAM_CANCELLED. May be NULL.
	 */
	int (*on_headers)(void *arg, const struct upstream_response *r);
	/*
	 * Body bytes of the final response, in order. Return 0 to go on,
	 * UPSTREAM_PAUSE to pause after these bytes (they count as consumed;
	 * no on_data until upstream_fetch_resume()), or -1 to cancel as in
	 * on_headers. Never called for HEAD. May be NULL.
	 */
	int (*on_data)(void *arg, const void *data, size_t len);
	/*
	 * The fetch ended. Called exactly once per fetch unless
	 * upstream_fetch_cancel() was called first. err is:
	 *   PC_OK               the whole response arrived (any status);
	 *   UPSTREAM_CANCELLED  on_headers or on_data returned -1;
	 *   PC_ERR_TRUNCATED    the connection broke after on_headers;
	 *   PC_ERR_TIMEOUT      connect, header or stall timeout;
	 *   PC_ERR_DENIED       the token endpoint refused the credentials;
	 *   PC_ERR_UPSTREAM     connect, TLS, protocol, token or realm failure;
	 *   PC_ERR_LIMIT        response headers over UPSTREAM_MAX_HEADER_BYTES;
	 *   PC_ERR_NOMEM        an allocation failed.
	 * r is the final response, or NULL when none arrived. errmsg is a
	 * one-line description when err is not PC_OK or UPSTREAM_CANCELLED,
	 * otherwise NULL. The fetch handle is freed when on_done returns.
	 */
	void (*on_done)(void *arg, int err, const struct upstream_response *r,
	    const char *errmsg);
};

/* Counters of one upstream since upstream_new(). */
struct upstream_stats {
	uint64_t requests;      /* HTTP requests sent, retries and redirect hops included */
	uint64_t errors;        /* fetches ended with err other than PC_OK or cancel */
	uint64_t bytes;         /* body bytes handed to on_data */
	uint64_t token_fetches; /* requests to token endpoints */
	uint64_t redirects;     /* redirect hops followed */
};

/*
 * Creates a client on base. base must outlive the client. Returns PC_OK,
 * PC_ERR_NOMEM, or PC_ERR_UPSTREAM if libcurl cannot be set up.
 */
int upstream_client_new(struct event_base *base, struct upstream_client **out);

/*
 * Cancels every fetch of every upstream of c without calling back, then
 * frees the upstreams and c. Must not be called from inside a callback.
 */
void upstream_client_free(struct upstream_client *c);

/*
 * Adds an upstream to c, copying cfg. Reads the credentials file now: one
 * line "username:password", or a JSON object {"username": ..,
 * "password": ..}. Returns PC_OK; PC_ERR_INVALID for a bad URL, realm
 * host or credentials file content; PC_ERR_IO if the credentials file
 * cannot be read; PC_ERR_LIMIT if it is over UPSTREAM_MAX_CREDENTIALS_FILE;
 * PC_ERR_NOMEM. Credentials are never logged.
 */
int upstream_new(struct upstream_client *c, const struct upstream_config *cfg,
    struct upstream **out);

/*
 * Cancels the upstream's fetches without calling back and frees it.
 * Must not be called from inside a callback of one of its fetches.
 */
void upstream_free(struct upstream *u);

/* The upstream's configured name. */
const char *upstream_name(const struct upstream *u);

/*
 * Starts a request to u. Callbacks begin from the event loop after this
 * returns. On a 401 with a Bearer challenge the client fetches a token and
 * retries; on a second 401 it drops the token, fetches a new one and
 * retries once more; a third 401 is reported. A 401 with
 * error="insufficient_scope" right after a fresh token is reported without
 * another retry, because a new token would carry the same scope.
 * cb is copied, and each of its callbacks may be NULL. Returns PC_OK and
 * sets *out (which may be NULL), or PC_ERR_INVALID for a bad request, or
 * PC_ERR_NOMEM; on error no callback is ever called.
 */
int upstream_fetch(struct upstream *u, const struct upstream_request *req,
    const struct upstream_callbacks *cb, void *arg, struct upstream_fetch **out);

/*
 * Stops f. No callback of f runs after this returns. Safe to call from
 * inside any callback of f, except on_done (f is already ending there).
 */
void upstream_fetch_cancel(struct upstream_fetch *f);

/*
 * Resumes body delivery after on_data returned UPSTREAM_PAUSE. on_data is
 * called again from the event loop, not from inside this call. A no-op
 * when f is not paused.
 */
void upstream_fetch_resume(struct upstream_fetch *f);

/* Copies u's counters into st. */
void upstream_stats(const struct upstream *u, struct upstream_stats *st);

#endif
