/*
 * HTTP/2 front end on nghttp2's server session: h2 over TLS (ALPN) and h2c
 * by prior knowledge on plain listeners. Each stream is one exchange; the
 * same handler as HTTP/1.1 serves it. Bytes move between the bufferevent
 * and the session with nghttp2_session_mem_recv/mem_send, so the session
 * never blocks and output is bounded by a high-water mark.
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <nghttp2/nghttp2.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "proxy/http_conn.h"

/* Output bytes queued before the session is asked for more frames. */
#define H2_OUTPUT_HIGH (512 * 1024)
/* Concurrent streams a client may open. */
#define H2_MAX_CONCURRENT_STREAMS 128
/* Streams a client may open over the life of a connection before GOAWAY;
 * bounds the cost of rapid-reset floods. */
#define H2_MAX_STREAMS_PER_CONN 100000

struct h2_stream {
	int32_t id;
	struct h2_conn *h;
	struct http_exchange *x;
	size_t head_bytes;     /* header bytes received, for the head limit */
	bool dispatched;
	bool deferred;         /* data provider returned NGHTTP2_ERR_DEFERRED */
	bool ended;            /* exchange ended */
};

struct h2_conn {
	struct conn *c;
	nghttp2_session *session;
	uint32_t streams_opened;
	bool goaway_sent;
};

static void h2_pump(struct conn *c);

static void
h2_stream_end_exchange(struct h2_stream *s, bool complete)
{
	struct http_exchange *x = s->x;

	if (s->ended || x == NULL)
		return;
	s->ended = true;
	s->x = NULL;
	http_exchange_end(x, complete);
}

static ssize_t
h2_data_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
    size_t length, uint32_t *data_flags, nghttp2_data_source *source,
    void *user_data)
{
	struct h2_stream *s = source->ptr;
	struct http_exchange *x = s->x;
	ssize_t n;

	if (x == NULL)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	n = x->body->read(x->body_ctx, (char *)buf, length);
	if (n == HTTP_BODY_AGAIN) {
		s->deferred = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	if (n < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  /* RST_STREAM */
	x->body_bytes += (uint64_t)n;
	if (n == 0) {
		if (x->content_length >= 0 &&
		    x->body_bytes != (uint64_t)x->content_length)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
	}
	return n;
}

static void
h2_submit_response(struct h2_stream *s)
{
	struct http_exchange *x = s->x;
	nghttp2_nv nv[HTTP_MAX_RESPONSE_HEADERS + 2];
	char status[8];
	char length[24];
	size_t n = 0;
	nghttp2_data_provider prd;
	int rv;

	snprintf(status, sizeof(status), "%d", x->status);
	nv[n++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)status, 7,
	    strlen(status), NGHTTP2_NV_FLAG_NONE};
	for (size_t i = 0; i < x->n_out; i++) {
		/* HTTP/2 field names are lower case; http_add_header keeps the
		 * spelling HTTP/1.1 clients are used to, so lower it here. */
		for (char *p = x->out[i].name; *p != '\0'; p++) {
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		}
		nv[n++] = (nghttp2_nv){(uint8_t *)x->out[i].name,
		    (uint8_t *)x->out[i].value, strlen(x->out[i].name),
		    strlen(x->out[i].value), NGHTTP2_NV_FLAG_NONE};
	}
	if (x->content_length >= 0) {
		snprintf(length, sizeof(length), "%lld", (long long)x->content_length);
		nv[n++] = (nghttp2_nv){(uint8_t *)"content-length",
		    (uint8_t *)length, 14, strlen(length), NGHTTP2_NV_FLAG_NONE};
	}

	if (x->head_only || x->body == NULL) {
		rv = nghttp2_submit_response(s->h->session, s->id, nv, n, NULL);
	} else {
		prd.source.ptr = s;
		prd.read_callback = h2_data_read;
		rv = nghttp2_submit_response(s->h->session, s->id, nv, n, &prd);
	}
	if (rv != 0) {
		log_debug("event=h2_submit_failed stream=%d error=%s", s->id,
		    nghttp2_strerror(rv));
		nghttp2_submit_rst_stream(s->h->session, NGHTTP2_FLAG_NONE, s->id,
		    NGHTTP2_INTERNAL_ERROR);
	}
}

static void
h2_start(struct http_exchange *x)
{
	struct h2_stream *s = x->stream;

	h2_submit_response(s);
	conn_schedule(x->conn);
}

static void
h2_resume(struct http_exchange *x)
{
	struct h2_stream *s = x->stream;

	if (s->deferred) {
		s->deferred = false;
		nghttp2_session_resume_data(s->h->session, s->id);
		conn_schedule(x->conn);
	}
}

static const struct http_frontend_ops h2_ops = {
	.start = h2_start,
	.resume = h2_resume,
};

static int
h2_on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame,
    void *user_data)
{
	struct h2_conn *h = user_data;
	struct h2_stream *s;

	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	if (++h->streams_opened > H2_MAX_STREAMS_PER_CONN) {
		if (!h->goaway_sent) {
			h->goaway_sent = true;
			nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE,
			    nghttp2_session_get_last_proc_stream_id(session),
			    NGHTTP2_ENHANCE_YOUR_CALM, NULL, 0);
		}
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	s = pc_calloc(1, sizeof(*s));
	if (s == NULL)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	s->id = frame->hd.stream_id;
	s->h = h;
	s->x = http_exchange_new(h->c, &h2_ops, s);
	if (s->x == NULL) {
		pc_free(s);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	s->x->req.proto = "HTTP/2";
	nghttp2_session_set_stream_user_data(session, s->id, s);
	return 0;
}

static int
h2_on_header(nghttp2_session *session, const nghttp2_frame *frame,
    const uint8_t *name, size_t namelen, const uint8_t *value, size_t valuelen,
    uint8_t flags, void *user_data)
{
	struct h2_stream *s;
	struct http_request *req;

	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (s == NULL || s->x == NULL)
		return 0;
	req = &s->x->req;
	s->head_bytes += namelen + valuelen + 32;
	if (s->head_bytes > HTTP_MAX_HEAD_BYTES)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;

	if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
		if (valuelen == 0 || valuelen >= sizeof(req->method))
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		memcpy(req->method, value, valuelen);
		req->method[valuelen] = '\0';
	} else if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
		if (valuelen > HTTP_MAX_TARGET_BYTES || req->target != NULL ||
		    valuelen == 0 || value[0] != '/')
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		if (http_request_set_target(req, (const char *)value, valuelen) != PC_OK)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	} else if (namelen == 10 && memcmp(name, ":authority", 10) == 0) {
		if (http_request_add_header(req, "host", 4, (const char *)value,
		    valuelen) != PC_OK)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	} else if (namelen > 0 && name[0] != ':') {
		if (http_request_add_header(req, (const char *)name, namelen,
		    (const char *)value, valuelen) != PC_OK)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	return 0;
}

static int
h2_on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
    void *user_data)
{
	struct h2_stream *s;

	if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
		return 0;
	if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (s == NULL || s->x == NULL || s->dispatched)
		return 0;
	if (s->x->req.method[0] == '\0' || s->x->req.target == NULL) {
		nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id,
		    NGHTTP2_PROTOCOL_ERROR);
		return 0;
	}
	s->dispatched = true;
	http_exchange_dispatch(s->x);
	return 0;
}

static int
h2_on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
    const uint8_t *data, size_t len, void *user_data)
{
	/* Request bodies are not used by a read-only registry: drop them. */
	return 0;
}

static int
h2_on_stream_close(nghttp2_session *session, int32_t stream_id,
    uint32_t error_code, void *user_data)
{
	struct h2_stream *s = nghttp2_session_get_stream_user_data(session, stream_id);

	if (s == NULL)
		return 0;
	nghttp2_session_set_stream_user_data(session, stream_id, NULL);
	h2_stream_end_exchange(s, error_code == NGHTTP2_NO_ERROR && s->x != NULL &&
	    s->x->responded);
	pc_free(s);
	return 0;
}

/* Moves frames from the session to the output buffer, up to the mark. */
static void
h2_flush(struct h2_conn *h)
{
	struct evbuffer *out = bufferevent_get_output(h->c->bev);

	while (evbuffer_get_length(out) < H2_OUTPUT_HIGH) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(h->session, &data);

		if (n < 0) {
			log_debug("event=h2_send_failed peer=%s error=%s", h->c->peer,
			    nghttp2_strerror((int)n));
			conn_close(h->c);
			return;
		}
		if (n == 0)
			break;
		evbuffer_add(out, data, (size_t)n);
	}
	if (!nghttp2_session_want_read(h->session) &&
	    !nghttp2_session_want_write(h->session) &&
	    evbuffer_get_length(out) == 0)
		conn_close(h->c);
}

static void
h2_pump(struct conn *c)
{
	struct h2_conn *h = c->proto_state;

	if (c->closing || h == NULL)
		return;
	if (conn_server_draining(c) && !h->goaway_sent) {
		h->goaway_sent = true;
		nghttp2_submit_shutdown_notice(h->session);
		nghttp2_submit_goaway(h->session, NGHTTP2_FLAG_NONE,
		    nghttp2_session_get_last_proc_stream_id(h->session),
		    NGHTTP2_NO_ERROR, NULL, 0);
	}
	h2_flush(h);
}

static void
h2_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct h2_conn *h = c->proto_state;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (evbuffer_get_length(in) > 0 && !c->closing) {
		size_t len = evbuffer_get_contiguous_space(in);
		unsigned char *data = evbuffer_pullup(in, (ev_ssize_t)len);
		ssize_t n = nghttp2_session_mem_recv(h->session, data, len);

		if (n < 0) {
			log_debug("event=h2_recv_failed peer=%s error=%s", c->peer,
			    nghttp2_strerror((int)n));
			conn_close(c);
			return;
		}
		evbuffer_drain(in, (size_t)n);
	}
	h2_flush(h);
}

static void
h2_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (!c->closing)
		h2_flush(c->proto_state);
}

static void
h2_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		log_debug("event=conn_closed peer=%s reason=%s", c->peer,
		    (what & BEV_EVENT_TIMEOUT) ? "timeout" : "error");
	conn_close(c);
}

static void
h2_free(struct conn *c)
{
	struct h2_conn *h = c->proto_state;

	if (h == NULL)
		return;
	/* Deleting the session closes every stream: h2_on_stream_close ends
	 * their exchanges. */
	nghttp2_session_del(h->session);
	pc_free(h);
	c->proto_state = NULL;
}

static int
h2_session_new(struct h2_conn *h)
{
	nghttp2_session_callbacks *cbs;
	nghttp2_option *opt;
	int rv;

	if (nghttp2_session_callbacks_new(&cbs) != 0)
		return PC_ERR_NOMEM;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, h2_on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, h2_on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, h2_on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, h2_on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, h2_on_stream_close);

	if (nghttp2_option_new(&opt) != 0) {
		nghttp2_session_callbacks_del(cbs);
		return PC_ERR_NOMEM;
	}
	nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
	rv = nghttp2_session_server_new2(&h->session, cbs, h, opt);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cbs);
	return rv == 0 ? PC_OK : PC_ERR_NOMEM;
}

void
h2_conn_start(struct conn *c)
{
	struct h2_conn *h = pc_calloc(1, sizeof(*h));
	nghttp2_settings_entry settings[] = {
		{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_CONCURRENT_STREAMS},
		{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
		{NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, HTTP_MAX_HEAD_BYTES},
	};
	struct timeval idle = {(time_t)c->settings->idle_timeout_s * 4, 0};
	struct timeval wr = {(time_t)c->settings->write_timeout_s, 0};

	if (h == NULL || (h->c = c, h2_session_new(h)) != PC_OK) {
		pc_free(h);
		conn_close(c);
		return;
	}
	c->proto = CONN_PROTO_H2;
	c->proto_state = h;
	c->proto_free = h2_free;
	c->proto_pump = h2_pump;
	nghttp2_submit_settings(h->session, NGHTTP2_FLAG_NONE, settings,
	    sizeof(settings) / sizeof(settings[0]));
	bufferevent_setcb(c->bev, h2_read_cb, h2_write_cb, h2_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, H2_OUTPUT_HIGH / 2, 0);
	/* Streams can wait long for a blob: the idle limit is generous. */
	bufferevent_set_timeouts(c->bev, &idle, &wr);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	h2_read_cb(c->bev, c);
}
