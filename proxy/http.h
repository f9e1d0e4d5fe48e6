#ifndef PORTCULLIS_PROXY_HTTP_H
#define PORTCULLIS_PROXY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The HTTP server side shared by the HTTP/1.1 (proxy/http1.c) and HTTP/2
 * (proxy/http2.c) front ends. Each request becomes one struct
 * http_exchange; the registry handler reads the request from it and
 * responds through http_respond(). The front end owns the exchange: it stays
 * valid until the response has been sent or the peer went away, and in the
 * latter case the handler learns it through the on_abort hook it set.
 */

/* Largest request head (request line and headers) accepted, in bytes. */
#define HTTP_MAX_HEAD_BYTES (64 * 1024)
/* Most request header fields accepted. */
#define HTTP_MAX_HEADERS 100
/* Maximum request target (path and query) accepted, in bytes. */
#define HTTP_MAX_TARGET_BYTES 8192
/* Most response header fields a handler can add. */
#define HTTP_MAX_RESPONSE_HEADERS 32

struct http_header {
	char *name;   /* lower case */
	char *value;
};

struct http_request {
	char method[16];
	char *target;     /* as received: path and query */
	char *path;       /* the part before '?' */
	char *query;      /* the part after '?', or NULL */
	struct http_header *headers;
	size_t n_headers;
	const char *peer;  /* client address, "127.0.0.1:51234" */
	const char *proto; /* "HTTP/1.1", "HTTP/1.0" or "HTTP/2" */
	bool tls;
	const char *client_subject; /* verified TLS client certificate, or NULL */
	uint64_t start_ns; /* CLOCK_MONOTONIC when the head arrived */
};

struct http_exchange;

/*
 * A response body, pulled by the front end as the connection can take it.
 * read() copies up to len bytes and returns their count, 0 at the end of
 * the body, HTTP_BODY_AGAIN when no byte is ready yet (the source calls
 * http_exchange_resume() when more arrive), or HTTP_BODY_ERROR to abort
 * the response (the connection is closed, or the HTTP/2 stream reset, so
 * the client never takes a cut body for a whole one).
 *
 * file(), when not NULL, lets the HTTP/1.1 plain front end send bytes
 * with sendfile(2): it returns 1 and sets fd, offset and length (at most
 * max) of the next ready bytes that are in a file, and counts them as
 * read; it returns 0 when the next bytes must go through read().
 */
#define HTTP_BODY_AGAIN (-1)
#define HTTP_BODY_ERROR (-2)

struct http_body_ops {
	ssize_t (*read)(void *ctx, char *buf, size_t len);
	int (*file)(void *ctx, size_t max, int *fd, off_t *offset, size_t *length);
	void (*free)(void *ctx);
};

/* Called once when the exchange ends: sent in full, aborted or peer gone. */
typedef void (*http_done_fn)(struct http_exchange *x, void *arg, bool complete,
    uint64_t body_bytes);

/*
 * Handler entry point, set by the server for every listener: called once
 * per request, with the request head complete.
 */
typedef void (*http_handler_fn)(struct http_exchange *x, void *arg);

const struct http_request *http_exchange_request(const struct http_exchange *x);

/* Returns the value of the first header named name (lower case), or NULL. */
const char *http_request_header(const struct http_request *req,
    const char *name);

/*
 * Collects the values of every header named name into out (at most max),
 * in order, and returns how many there were. HTTP/2 clients send Accept as
 * several fields, dockerd sends several Accept lines.
 */
size_t http_request_headers(const struct http_request *req, const char *name,
    const char **out, size_t max);

/* Adds a response header; names are sent as given. Returns 0 or -1. */
int http_add_header(struct http_exchange *x, const char *name,
    const char *value);

/*
 * Starts the response. content_length is sent as Content-Length when >= 0
 * (every 200 and 206 of the registry API has one). body may be NULL for an
 * empty body (and is ignored for HEAD, which still gets Content-Length).
 * When the exchange ends, http_exchange_end() calls ops->free(ctx) and
 * then done (optional), once each.
 */
void http_respond(struct http_exchange *x, int status, int64_t content_length,
    const struct http_body_ops *ops, void *ctx, http_done_fn done,
    void *done_arg);

/* Convenience: a response whose body is a copy of data. */
void http_respond_bytes(struct http_exchange *x, int status,
    const char *content_type, const void *data, size_t len);

/* Tells the front end that a body source that returned HTTP_BODY_AGAIN has
 * bytes (or its end, or an error) now. */
void http_exchange_resume(struct http_exchange *x);

/*
 * Sets the hook called if the exchange is torn down before the handler
 * responded (client gone, server stopping). After it runs, x is invalid.
 */
void http_exchange_on_abort(struct http_exchange *x,
    void (*fn)(struct http_exchange *x, void *arg), void *arg);

/* Values for the access log line, filled in by the handler. */
struct http_log_fields {
	char name[256];      /* repository name */
	char reference[160]; /* tag or digest */
	const char *cache;   /* hit, miss, coalesced, stale, bypass, - */
	int upstream_status; /* 0 when no upstream request was made */
	const char *verdict; /* allow, deny, hold, - */
	char user[160];      /* authenticated user, - */
};

struct http_log_fields *http_exchange_log(struct http_exchange *x);

/* Parses a decimal into *out; rejects signs, spaces and overflow. */
int http_parse_u64(const char *s, size_t len, uint64_t *out);

/* Returns the reason phrase of a status code. */
const char *http_status_reason(int status);

/* Monotonic clock in nanoseconds. */
uint64_t http_now_ns(void);

#endif
