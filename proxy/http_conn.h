#ifndef PORTCULLIS_PROXY_HTTP_CONN_H
#define PORTCULLIS_PROXY_HTTP_CONN_H

/*
 * Internals shared by the HTTP front ends (http1.c, http2.c), the exchange
 * code (http.c) and the listener code (server.c). Handlers use http.h.
 */

#include <stdbool.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "proxy/http.h"

struct conn;

/* The operations a front end uses to send what the handler decided. */
struct http_frontend_ops {
	/* The handler called http_respond(): send the head, start the body. */
	void (*start)(struct http_exchange *x);
	/* The body source has bytes again after HTTP_BODY_AGAIN. */
	void (*resume)(struct http_exchange *x);
};

struct http_exchange {
	struct http_request req;
	struct conn *conn;
	const struct http_frontend_ops *fe;
	void *stream;          /* the front end's per-request state */

	int status;
	int64_t content_length;
	struct http_header out[HTTP_MAX_RESPONSE_HEADERS];
	size_t n_out;
	const struct http_body_ops *body;
	void *body_ctx;
	http_done_fn done;
	void *done_arg;
	void (*on_abort)(struct http_exchange *x, void *arg);
	void *abort_arg;

	bool responded;
	bool head_only;        /* HEAD: headers only */
	uint64_t body_bytes;
	struct http_log_fields log;
};

/* Listener-level settings a connection needs. */
struct conn_settings {
	http_handler_fn handler;
	void *handler_arg;
	unsigned idle_timeout_s;      /* keep-alive idle and slow-head limit */
	unsigned write_timeout_s;     /* a client that reads nothing for this long */
	bool access_log;
};

enum conn_proto {
	CONN_PROTO_DETECT = 0,
	CONN_PROTO_H1,
	CONN_PROTO_H2,
};

struct conn {
	struct bufferevent *bev;
	struct event_base *base;
	struct server *server;
	const struct conn_settings *settings;
	char peer[64];
	bool tls;
	char client_subject[512];  /* verified client certificate subject, or "" */
	enum conn_proto proto;
	void *proto_state;     /* struct h1_conn or struct h2_conn */
	void (*proto_free)(struct conn *c); /* ends exchanges, frees proto_state */
	struct event *deferred; /* runs proto_pump on the next loop turn */
	void (*proto_pump)(struct conn *c);
	bool closing;          /* torn down on the next loop turn */
	struct conn *next;     /* server's list of open connections */
	struct conn *prev;
};

/* Creates an exchange for a request head; the front end fills req. */
struct http_exchange *http_exchange_new(struct conn *c,
    const struct http_frontend_ops *fe, void *stream);

/*
 * Ends the exchange: calls the abort hook if the handler never responded,
 * frees the body source, calls done, writes the access log line and frees
 * x. complete is true when the whole response was sent.
 */
void http_exchange_end(struct http_exchange *x, bool complete);

/* Hands a complete request head to the handler. */
void http_exchange_dispatch(struct http_exchange *x);

/* Adds a header to the request being parsed (copies, lower-cases name). */
int http_request_add_header(struct http_request *req, const char *name,
    size_t name_len, const char *value, size_t value_len);

/* Splits req->target into path and query (copies). */
int http_request_set_target(struct http_request *req, const char *target,
    size_t len);

/*
 * Parses an HTTP/1.1 request head (request line and header lines, up to
 * and including the empty line) into x->req. Returns 0, or the HTTP status
 * to respond to a bad head with (400, 414, 431, 501, 505). head is modified.
 */
int h1_parse_head(struct http_exchange *x, char *head, size_t len);

/* Front-end entry points, called once the protocol is known. */
void h1_conn_start(struct conn *c);
void h2_conn_start(struct conn *c);

/* Tear-down of a connection, deferred to the next loop turn. */
void conn_close(struct conn *c);

/* Runs c->proto_pump on the next loop turn (never re-entrantly). */
void conn_schedule(struct conn *c);

/* True while the server drains on SIGTERM: keep-alive ends after each
 * response and HTTP/2 sends GOAWAY. */
bool conn_server_draining(const struct conn *c);

#endif
