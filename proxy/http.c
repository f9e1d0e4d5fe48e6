#include "proxy/http.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "proxy/http_conn.h"

uint64_t
http_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int
http_parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return PC_ERR_INVALID;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return PC_ERR_INVALID;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return PC_ERR_INVALID;
		v = v * 10 + d;
	}
	*out = v;
	return PC_OK;
}

const char *
http_status_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	return "Unknown";
}

struct http_exchange *
http_exchange_new(struct conn *c, const struct http_frontend_ops *fe,
    void *stream)
{
	struct http_exchange *x = pc_calloc(1, sizeof(*x));

	if (x == NULL)
		return NULL;
	x->conn = c;
	x->fe = fe;
	x->stream = stream;
	x->status = 0;
	x->content_length = -1;
	x->req.peer = c->peer;
	x->req.tls = c->tls;
	x->req.client_subject = c->client_subject[0] != '\0' ? c->client_subject : NULL;
	x->req.start_ns = http_now_ns();
	x->log.cache = "-";
	x->log.verdict = "-";
	snprintf(x->log.user, sizeof(x->log.user), "-");
	return x;
}

const struct http_request *
http_exchange_request(const struct http_exchange *x)
{
	return &x->req;
}

struct http_log_fields *
http_exchange_log(struct http_exchange *x)
{
	return &x->log;
}

int
http_request_set_target(struct http_request *req, const char *target,
    size_t len)
{
	const char *q;

	req->target = pc_strndup(target, len);
	if (req->target == NULL)
		return PC_ERR_NOMEM;
	q = memchr(target, '?', len);
	if (q == NULL) {
		req->path = pc_strndup(target, len);
		req->query = NULL;
	} else {
		req->path = pc_strndup(target, (size_t)(q - target));
		req->query = pc_strndup(q + 1, len - (size_t)(q - target) - 1);
		if (req->query == NULL)
			return PC_ERR_NOMEM;
	}
	return req->path != NULL ? PC_OK : PC_ERR_NOMEM;
}

int
http_request_add_header(struct http_request *req, const char *name,
    size_t name_len, const char *value, size_t value_len)
{
	struct http_header *h;
	struct http_header *grown;

	if (req->n_headers >= HTTP_MAX_HEADERS)
		return PC_ERR_LIMIT;
	grown = pc_reallocarray(req->headers, req->n_headers + 1, sizeof(*h));
	if (grown == NULL)
		return PC_ERR_NOMEM;
	req->headers = grown;
	h = &req->headers[req->n_headers];
	h->name = pc_strndup(name, name_len);
	h->value = pc_strndup(value, value_len);
	if (h->name == NULL || h->value == NULL) {
		pc_free(h->name);
		pc_free(h->value);
		return PC_ERR_NOMEM;
	}
	for (char *p = h->name; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	req->n_headers++;
	return PC_OK;
}

const char *
http_request_header(const struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++) {
		if (strcmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	}
	return NULL;
}

size_t
http_request_headers(const struct http_request *req, const char *name,
    const char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < req->n_headers; i++) {
		if (strcmp(req->headers[i].name, name) != 0)
			continue;
		if (n < max)
			out[n] = req->headers[i].value;
		n++;
	}
	return n;
}

int
http_add_header(struct http_exchange *x, const char *name, const char *value)
{
	struct http_header *h;

	if (x->n_out >= HTTP_MAX_RESPONSE_HEADERS)
		return -1;
	h = &x->out[x->n_out];
	h->name = pc_strdup(name);
	h->value = pc_strdup(value);
	if (h->name == NULL || h->value == NULL) {
		pc_free(h->name);
		pc_free(h->value);
		return -1;
	}
	x->n_out++;
	return 0;
}

void
http_respond(struct http_exchange *x, int status, int64_t content_length,
    const struct http_body_ops *ops, void *ctx, http_done_fn done,
    void *done_arg)
{
	x->status = status;
	x->content_length = content_length;
	x->body = ops;
	x->body_ctx = ctx;
	x->done = done;
	x->done_arg = done_arg;
	x->responded = true;
	x->on_abort = NULL;
	x->fe->start(x);
}

struct bytes_body {
	size_t len;
	size_t off;
	char data[];
};

static ssize_t
bytes_body_read(void *ctx, char *buf, size_t len)
{
	struct bytes_body *b = ctx;
	size_t n = b->len - b->off;

	if (n > len)
		n = len;
	memcpy(buf, b->data + b->off, n);
	b->off += n;
	return (ssize_t)n;
}

static void
bytes_body_free(void *ctx)
{
	pc_free(ctx);
}

static const struct http_body_ops bytes_body_ops = {
	.read = bytes_body_read,
	.file = NULL,
	.free = bytes_body_free,
};

void
http_respond_bytes(struct http_exchange *x, int status,
    const char *content_type, const void *data, size_t len)
{
	struct bytes_body *b = pc_malloc(sizeof(*b) + len);

	if (content_type != NULL)
		http_add_header(x, "Content-Type", content_type);
	if (b == NULL) {
		/* Without memory for the body, still end the exchange cleanly. */
		http_respond(x, 500, 0, NULL, NULL, NULL, NULL);
		return;
	}
	b->len = len;
	b->off = 0;
	if (len > 0)
		memcpy(b->data, data, len);
	http_respond(x, status, (int64_t)len, &bytes_body_ops, b, NULL, NULL);
}

void
http_exchange_resume(struct http_exchange *x)
{
	if (x->responded && x->fe->resume != NULL)
		x->fe->resume(x);
}

void
http_exchange_on_abort(struct http_exchange *x,
    void (*fn)(struct http_exchange *x, void *arg), void *arg)
{
	x->on_abort = fn;
	x->abort_arg = arg;
}

void
http_exchange_dispatch(struct http_exchange *x)
{
	x->head_only = strcmp(x->req.method, "HEAD") == 0;
	x->conn->settings->handler(x, x->conn->settings->handler_arg);
}

static void
access_log(struct http_exchange *x, bool complete)
{
	char name[300];
	char ref[200];
	char peer[80];
	double ms = (double)(http_now_ns() - x->req.start_ns) / 1e6;

	log_info("event=access method=%s name=%s ref=%s status=%d bytes=%llu "
	    "duration_ms=%.1f cache=%s upstream_status=%d verdict=%s "
	    "complete=%s peer=%s proto=%s user=%s",
	    x->req.method,
	    log_quote(name, sizeof(name), x->log.name[0] ? x->log.name : "-"),
	    log_quote(ref, sizeof(ref), x->log.reference[0] ? x->log.reference : "-"),
	    x->status, (unsigned long long)x->body_bytes, ms, x->log.cache,
	    x->log.upstream_status, x->log.verdict, complete ? "yes" : "no",
	    log_quote(peer, sizeof(peer), x->req.peer), x->req.proto,
	    x->log.user);
}

void
http_exchange_end(struct http_exchange *x, bool complete)
{
	if (!x->responded && x->on_abort != NULL)
		x->on_abort(x, x->abort_arg);
	if (x->body != NULL && x->body->free != NULL)
		x->body->free(x->body_ctx);
	if (x->done != NULL)
		x->done(x, x->done_arg, complete, x->body_bytes);
	if (x->req.method[0] != '\0' && x->conn->settings->access_log)
		access_log(x, complete);

	for (size_t i = 0; i < x->req.n_headers; i++) {
		pc_free(x->req.headers[i].name);
		pc_free(x->req.headers[i].value);
	}
	for (size_t i = 0; i < x->n_out; i++) {
		pc_free(x->out[i].name);
		pc_free(x->out[i].value);
	}
	pc_free(x->req.headers);
	pc_free(x->req.target);
	pc_free(x->req.path);
	pc_free(x->req.query);
	pc_free(x);
}
