/*
 * HTTP/1.1 front end: request heads parsed from the bufferevent input with
 * strict limits, one request at a time (pipelined requests wait in the
 * input buffer), responses written with Content-Length and keep-alive.
 * Requests carrying a body get their response and the connection is closed,
 * because the registry API this server offers is read-only.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "proxy/http_conn.h"

/* Output bytes queued before the body source is asked for more. */
#define H1_OUTPUT_HIGH (512 * 1024)
/* Largest piece read from a body source at once. */
#define H1_READ_CHUNK (64 * 1024)
/* Seconds a closing connection waits for the client's EOF. */
#define H1_LINGER_S 2
/* Largest file segment handed to sendfile at once. */
#define H1_FILE_CHUNK (4 * 1024 * 1024)

struct h1_conn {
	struct conn *c;
	struct http_exchange *cur;
	bool keep_alive;
	bool head_sent;
	bool waiting_body;  /* the body source returned HTTP_BODY_AGAIN */
	bool close_after;   /* close once the output buffer drains */
	bool lingering;     /* write side shut down, reading until EOF */
};

static void h1_pump(struct conn *c);
static void h1_linger(struct h1_conn *h);
static void h1_process_input(struct h1_conn *h);

static void
h1_reset_timeouts(struct h1_conn *h)
{
	struct timeval idle = {(time_t)h->c->settings->idle_timeout_s, 0};
	struct timeval wr = {(time_t)h->c->settings->write_timeout_s, 0};

	/* A client downloading a blob sends nothing: no read timeout then. */
	bufferevent_set_timeouts(h->c->bev, h->cur == NULL ? &idle : NULL, &wr);
}

static int
h1_is_token_char(unsigned char ch)
{
	return ch != '\0' && (isalnum(ch) || strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static void
h1_simple_error(struct h1_conn *h, int status)
{
	char head[256];
	int n;

	n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n",
	    status, http_status_reason(status));
	bufferevent_write(h->c->bev, head, (size_t)n);
	h->close_after = true;
	bufferevent_disable(h->c->bev, EV_READ);
}

/* Parses the request line; returns 0 or the HTTP status to respond with. */
static int
h1_parse_request_line(struct http_exchange *x, const char *line, size_t len)
{
	const char *sp1 = memchr(line, ' ', len);
	const char *sp2;
	size_t mlen;

	if (sp1 == NULL)
		return 400;
	mlen = (size_t)(sp1 - line);
	if (mlen == 0 || mlen >= sizeof(x->req.method))
		return 501;
	for (size_t i = 0; i < mlen; i++) {
		if (!h1_is_token_char((unsigned char)line[i]))
			return 400;
	}
	memcpy(x->req.method, line, mlen);
	x->req.method[mlen] = '\0';

	sp2 = memchr(sp1 + 1, ' ', len - mlen - 1);
	if (sp2 == NULL)
		return 400;
	if ((size_t)(sp2 - sp1 - 1) > HTTP_MAX_TARGET_BYTES)
		return 414;
	if (sp2 == sp1 + 1 || sp1[1] != '/')
		return 400;
	for (const char *p = sp1 + 1; p < sp2; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return 400;
	}
	if (http_request_set_target(&x->req, sp1 + 1, (size_t)(sp2 - sp1 - 1)) != PC_OK)
		return 500;

	if (len - (size_t)(sp2 + 1 - line) == 8 && memcmp(sp2 + 1, "HTTP/1.1", 8) == 0)
		x->req.proto = "HTTP/1.1";
	else if (len - (size_t)(sp2 + 1 - line) == 8 && memcmp(sp2 + 1, "HTTP/1.0", 8) == 0)
		x->req.proto = "HTTP/1.0";
	else
		return 505;
	return 0;
}

static int
h1_parse_header_line(struct http_exchange *x, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	const char *v;
	const char *end = line + len;
	int err;

	if (colon == NULL || colon == line)
		return 400;
	for (const char *p = line; p < colon; p++) {
		if (!h1_is_token_char((unsigned char)*p))
			return 400;  /* also rejects obs-fold and spaces before ':' */
	}
	v = colon + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	for (const char *p = v; p < end; p++) {
		unsigned char ch = (unsigned char)*p;

		if ((ch < ' ' && ch != '\t') || ch == 0x7f)
			return 400;
	}
	err = http_request_add_header(&x->req, line, (size_t)(colon - line), v,
	    (size_t)(end - v));
	if (err == PC_ERR_LIMIT)
		return 431;
	return err == PC_OK ? 0 : 500;
}

int
h1_parse_head(struct http_exchange *x, char *head, size_t len)
{
	size_t pos = 0;
	bool first = true;

	while (pos < len) {
		char *nl = memchr(head + pos, '\n', len - pos);
		size_t line_len;
		int status;

		if (nl == NULL)
			return 400;
		line_len = (size_t)(nl - (head + pos));
		if (line_len > 0 && head[pos + line_len - 1] == '\r')
			line_len--;
		if (line_len == 0)
			return first ? 400 : 0;
		if (first)
			status = h1_parse_request_line(x, head + pos, line_len);
		else
			status = h1_parse_header_line(x, head + pos, line_len);
		if (status != 0)
			return status;
		first = false;
		pos = (size_t)(nl - head) + 1;
	}
	return 400;
}

static bool
h1_header_has_token(const char *value, const char *token)
{
	size_t tlen = strlen(token);

	for (const char *p = value; p != NULL && *p != '\0';) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (strncasecmp(p, token, tlen) == 0 &&
		    (p[tlen] == '\0' || p[tlen] == ',' || p[tlen] == ' '))
			return true;
		p = strchr(p, ',');
	}
	return false;
}

/* Decides keep-alive and rejects requests with bodies; 0 or a status. */
static int
h1_check_request(struct h1_conn *h, struct http_exchange *x)
{
	const char *conn_hdr = http_request_header(&x->req, "connection");
	const char *te = http_request_header(&x->req, "transfer-encoding");
	const char *cl = http_request_header(&x->req, "content-length");
	uint64_t len = 0;

	if (strcmp(x->req.proto, "HTTP/1.1") == 0)
		h->keep_alive = conn_hdr == NULL || !h1_header_has_token(conn_hdr, "close");
	else
		h->keep_alive = conn_hdr != NULL && h1_header_has_token(conn_hdr, "keep-alive");

	if (http_request_header(&x->req, "host") == NULL &&
	    strcmp(x->req.proto, "HTTP/1.1") == 0)
		return 400;
	if (cl != NULL && http_parse_u64(cl, strlen(cl), &len) != PC_OK)
		return 400;
	if (te != NULL || len > 0) {
		/* The body is never read: respond, then close the connection. */
		h->keep_alive = false;
	}
	if (conn_server_draining(h->c))
		h->keep_alive = false;
	return 0;
}

static const struct http_frontend_ops h1_ops;

static void
h1_process_input(struct h1_conn *h)
{
	struct evbuffer *in = bufferevent_get_input(h->c->bev);
	struct evbuffer_ptr end;
	struct http_exchange *x;
	size_t head_len;
	char *head;
	int status;

	if (h->cur != NULL || h->close_after || h->c->closing)
		return;

	/* Blank lines before a request are allowed (RFC 9112, 2.2). */
	for (;;) {
		unsigned char ch;

		if (evbuffer_copyout(in, &ch, 1) != 1)
			return;
		if (ch != '\r' && ch != '\n')
			break;
		evbuffer_drain(in, 1);
	}

	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos < 0) {
		struct evbuffer_ptr lf = evbuffer_search(in, "\n\n", 2, NULL);

		if (lf.pos < 0) {
			if (evbuffer_get_length(in) > HTTP_MAX_HEAD_BYTES)
				h1_simple_error(h, 431);
			return;
		}
		head_len = (size_t)lf.pos + 2;
	} else {
		head_len = (size_t)end.pos + 4;
	}
	if (head_len > HTTP_MAX_HEAD_BYTES) {
		h1_simple_error(h, 431);
		return;
	}

	head = pc_malloc(head_len + 1);
	x = http_exchange_new(h->c, &h1_ops, h);
	if (head == NULL || x == NULL) {
		pc_free(head);
		if (x != NULL)
			http_exchange_end(x, false);
		h1_simple_error(h, 503);
		return;
	}
	evbuffer_remove(in, head, head_len);
	head[head_len] = '\0';
	x->req.proto = "HTTP/1.1";
	status = h1_parse_head(x, head, head_len);
	pc_free(head);
	if (status == 0)
		status = h1_check_request(h, x);
	if (status != 0) {
		/* No access log line for a request that never parsed. */
		x->req.method[0] = '\0';
		http_exchange_end(x, false);
		h1_simple_error(h, status);
		return;
	}

	h->cur = x;
	h->head_sent = false;
	h->waiting_body = false;
	h1_reset_timeouts(h);
	http_exchange_dispatch(x);
}

static int
h1_write_head(struct h1_conn *h, struct http_exchange *x)
{
	struct evbuffer *out = bufferevent_get_output(h->c->bev);
	bool has_length = x->content_length >= 0;

	if (!has_length && !x->head_only && x->body != NULL)
		h->keep_alive = false;  /* the body ends when the connection does */
	if (conn_server_draining(h->c))
		h->keep_alive = false;

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", x->status,
	    http_status_reason(x->status));
	for (size_t i = 0; i < x->n_out; i++)
		evbuffer_add_printf(out, "%s: %s\r\n", x->out[i].name, x->out[i].value);
	if (has_length)
		evbuffer_add_printf(out, "Content-Length: %lld\r\n",
		    (long long)x->content_length);
	if (!h->keep_alive)
		evbuffer_add_printf(out, "Connection: close\r\n");
	return evbuffer_add(out, "\r\n", 2);
}

/*
 * Closes after the last response byte has left: shuts the write side down
 * and reads until the client closes (or H1_LINGER_S passes). Closing with
 * unread input would make the kernel reset the connection and drop the
 * response bytes still in flight.
 */
static void
h1_linger(struct h1_conn *h)
{
	struct timeval tv = {H1_LINGER_S, 0};
	evutil_socket_t fd = bufferevent_getfd(h->c->bev);

	if (h->lingering)
		return;
	h->lingering = true;
	if (h->c->tls || fd < 0 || shutdown(fd, SHUT_WR) != 0) {
		conn_close(h->c);
		return;
	}
	evbuffer_drain(bufferevent_get_input(h->c->bev),
	    evbuffer_get_length(bufferevent_get_input(h->c->bev)));
	bufferevent_set_timeouts(h->c->bev, &tv, NULL);
	bufferevent_enable(h->c->bev, EV_READ);
}

/* Finishes the current exchange and moves on to the next request. */
static void
h1_finish(struct h1_conn *h, bool complete)
{
	struct http_exchange *x = h->cur;

	h->cur = NULL;
	http_exchange_end(x, complete);
	if (!complete || !h->keep_alive) {
		h->close_after = true;
		bufferevent_disable(h->c->bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(h->c->bev)) == 0)
			h1_linger(h);
		return;
	}
	h1_reset_timeouts(h);
	/* The next pipelined request, if any, on the next loop turn. */
	conn_schedule(h->c);
}

/* Sends body bytes until the output buffer is full or the source waits. */
static void
h1_send_body(struct h1_conn *h, struct http_exchange *x)
{
	struct evbuffer *out = bufferevent_get_output(h->c->bev);
	char chunk[H1_READ_CHUNK];

	while (evbuffer_get_length(out) < H1_OUTPUT_HIGH) {
		ssize_t n;
		int fd;
		off_t off;
		size_t flen;

		if (!h->c->tls && x->body->file != NULL &&
		    x->body->file(x->body_ctx, H1_FILE_CHUNK, &fd, &off, &flen) == 1) {
			int copy = dup(fd);

			if (copy < 0 || evbuffer_add_file(out, copy, off, (ev_off_t)flen) != 0) {
				if (copy >= 0)
					close(copy);
				h1_finish(h, false);
				return;
			}
			x->body_bytes += flen;
			continue;
		}

		n = x->body->read(x->body_ctx, chunk, sizeof(chunk));
		if (n == HTTP_BODY_AGAIN) {
			h->waiting_body = true;
			return;
		}
		if (n < 0) {
			h1_finish(h, false);
			return;
		}
		if (n == 0) {
			bool complete = x->content_length < 0 ||
			    x->body_bytes == (uint64_t)x->content_length;

			if (!complete)
				log_warn("event=body_short sent=%llu expected=%lld",
				    (unsigned long long)x->body_bytes,
				    (long long)x->content_length);
			h1_finish(h, complete);
			return;
		}
		evbuffer_add(out, chunk, (size_t)n);
		x->body_bytes += (uint64_t)n;
	}
}

static void
h1_pump(struct conn *c)
{
	struct h1_conn *h = c->proto_state;
	struct http_exchange *x = h->cur;

	if (c->closing || h->close_after)
		return;
	if (x == NULL) {
		if (conn_server_draining(c) &&
		    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
			/* Idle while draining: close once the output is out. */
			h->close_after = true;
			bufferevent_disable(c->bev, EV_READ);
			if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
				h1_linger(h);
			return;
		}
		h1_process_input(h);
		return;
	}
	if (!x->responded)
		return;
	if (!h->head_sent) {
		h->head_sent = true;
		h1_write_head(h, x);
		if (x->head_only || x->body == NULL) {
			h1_finish(h, true);
			return;
		}
	}
	h->waiting_body = false;
	h1_send_body(h, x);
}

static void
h1_start(struct http_exchange *x)
{
	conn_schedule(x->conn);
}

static void
h1_resume(struct http_exchange *x)
{
	struct h1_conn *h = x->stream;

	if (h->waiting_body)
		conn_schedule(x->conn);
}

static const struct http_frontend_ops h1_ops = {
	.start = h1_start,
	.resume = h1_resume,
};

static void
h1_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct h1_conn *h = c->proto_state;

	if (h->lingering) {
		evbuffer_drain(bufferevent_get_input(bev),
		    evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	h1_process_input(h);
}

static void
h1_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct h1_conn *h = c->proto_state;

	if (h->close_after) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			h1_linger(h);
		return;
	}
	if (h->cur != NULL && h->head_sent && !h->waiting_body)
		h1_pump(c);
}

static void
h1_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_TIMEOUT)
		log_debug("event=conn_timeout peer=%s", c->peer);
	else if (what & BEV_EVENT_ERROR)
		log_debug("event=conn_error peer=%s error=%s", c->peer,
		    strerror(EVUTIL_SOCKET_ERROR()));
	conn_close(c);
}

static void
h1_free(struct conn *c)
{
	struct h1_conn *h = c->proto_state;

	if (h == NULL)
		return;
	if (h->cur != NULL) {
		struct http_exchange *x = h->cur;

		h->cur = NULL;
		http_exchange_end(x, false);
	}
	pc_free(h);
	c->proto_state = NULL;
}

void
h1_conn_start(struct conn *c)
{
	struct h1_conn *h = pc_calloc(1, sizeof(*h));

	if (h == NULL) {
		conn_close(c);
		return;
	}
	h->c = c;
	c->proto = CONN_PROTO_H1;
	c->proto_state = h;
	c->proto_free = h1_free;
	c->proto_pump = h1_pump;
	bufferevent_setcb(c->bev, h1_read_cb, h1_write_cb, h1_event_cb, c);
	/* Stop reading once a whole head limit is buffered; pipelined
	 * requests wait there while one response is in progress. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, HTTP_MAX_HEAD_BYTES + 1);
	bufferevent_setwatermark(c->bev, EV_WRITE, H1_OUTPUT_HIGH / 2, 0);
	h1_reset_timeouts(h);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	h1_process_input(h);
}
