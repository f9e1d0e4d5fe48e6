#include "proxy/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "proxy/auth.h"
#include "proxy/config.h"
#include "proxy/http_conn.h"

/* The HTTP/2 client connection preface (RFC 9113, 3.4). */
static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN 24

/* Most listeners of one server (registry and admin together). */
#define SERVER_MAX_LISTENERS 20
/* Time a TLS handshake may take. */
#define SERVER_TLS_HANDSHAKE_TIMEOUT_S 10

struct listener {
	struct server *srv;
	struct evconnlistener *evl;
	SSL_CTX *ssl_ctx;
	struct conn_settings settings;
	char address[128];
};

struct server {
	struct event_base *base;
	struct listener listeners[SERVER_MAX_LISTENERS];
	size_t n_listeners;
	struct conn *conns;
	unsigned max_connections;
	struct server_counters counters;
	bool draining;
	struct event *drain_timer;
	void (*drain_done)(void *arg);
	void *drain_arg;
	time_t last_limit_log;
};

static void conn_deferred_cb(evutil_socket_t fd, short what, void *arg);

int
server_new(struct event_base *base, unsigned max_connections,
    struct server **out)
{
	struct server *srv = pc_calloc(1, sizeof(*srv));

	if (srv == NULL)
		return PC_ERR_NOMEM;
	srv->base = base;
	srv->max_connections = max_connections;
	*out = srv;
	return PC_OK;
}

static void
conn_reap(struct conn *c)
{
	struct server *srv = c->server;

	if (c->proto_free != NULL)
		c->proto_free(c);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->counters.connections_open--;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	event_free(c->deferred);
	pc_free(c);

	if (srv->draining && srv->conns == NULL && srv->drain_done != NULL) {
		void (*done)(void *) = srv->drain_done;

		srv->drain_done = NULL;
		done(srv->drain_arg);
	}
}

void
server_free(struct server *srv)
{
	if (srv == NULL)
		return;
	while (srv->conns != NULL)
		conn_reap(srv->conns);
	for (size_t i = 0; i < srv->n_listeners; i++) {
		if (srv->listeners[i].evl != NULL)
			evconnlistener_free(srv->listeners[i].evl);
		if (srv->listeners[i].ssl_ctx != NULL)
			SSL_CTX_free(srv->listeners[i].ssl_ctx);
	}
	if (srv->drain_timer != NULL)
		event_free(srv->drain_timer);
	pc_free(srv);
}

void
conn_close(struct conn *c)
{
	if (c->closing)
		return;
	log_debug("event=conn_close peer=%s pending_output=%zu", c->peer,
	    c->bev != NULL ? evbuffer_get_length(bufferevent_get_output(c->bev)) : 0);
	c->closing = true;
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_active(c->deferred, EV_TIMEOUT, 1);
}

void
conn_schedule(struct conn *c)
{
	if (!c->closing)
		event_active(c->deferred, EV_TIMEOUT, 1);
}

bool
conn_server_draining(const struct conn *c)
{
	return c->server->draining;
}

static void
conn_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->closing) {
		conn_reap(c);
		return;
	}
	if (c->proto_pump != NULL)
		c->proto_pump(c);
}

/* Plain TCP: the first bytes tell HTTP/2 prior knowledge from HTTP/1.1. */
static void
detect_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char head[H2_PREFACE_LEN];
	size_t n = evbuffer_get_length(in);

	if (n > H2_PREFACE_LEN)
		n = H2_PREFACE_LEN;
	evbuffer_copyout(in, head, n);
	if (n > 0 && (head[0] < 'A' || head[0] > 'Z')) {
		/* Not an HTTP method: most often a TLS ClientHello sent to a
		 * plain listener. Closing at once lets the client fall back. */
		log_debug("event=conn_not_http peer=%s first_byte=0x%02x", c->peer,
		    (unsigned char)head[0]);
		conn_close(c);
		return;
	}
	if (memcmp(head, h2_preface, n) != 0) {
		h1_conn_start(c);
		return;
	}
	if (n == H2_PREFACE_LEN)
		h2_conn_start(c);
}

static void
detect_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		const unsigned char *alpn = NULL;
		unsigned alpn_len = 0;
		SSL *ssl = bufferevent_openssl_get_ssl(bev);

		SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
		if (auth_tls_client_subject(ssl, c->client_subject,
		    sizeof(c->client_subject)) != PC_OK)
			c->client_subject[0] = '\0';
		if (alpn_len == 2 && memcmp(alpn, "h2", 2) == 0)
			h2_conn_start(c);
		else
			h1_conn_start(c);
		return;
	}
	if (c->tls) {
		unsigned long e = bufferevent_get_openssl_error(bev);

		c->server->counters.tls_handshake_failures++;
		log_debug("event=tls_handshake_failed peer=%s error=%s", c->peer,
		    e != 0 ? ERR_reason_error_string(e) : "closed");
	}
	conn_close(c);
}

static void
format_peer(const struct sockaddr *sa, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(out, outlen, "%s:%u", host, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(out, outlen, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(out, outlen, "unix");
	}
}

static void
accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
    int socklen, void *arg)
{
	struct listener *l = arg;
	struct server *srv = l->srv;
	struct conn *c;
	int one = 1;

	if (srv->counters.connections_open >= srv->max_connections || srv->draining) {
		time_t now = time(NULL);

		srv->counters.connections_rejected++;
		if (now != srv->last_limit_log) {
			srv->last_limit_log = now;
			log_warn("event=connection_rejected reason=%s limit=%u",
			    srv->draining ? "draining" : "max_connections",
			    srv->max_connections);
		}
		evutil_closesocket(fd);
		return;
	}

	c = pc_calloc(1, sizeof(*c));
	if (c == NULL) {
		evutil_closesocket(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->server = srv;
	c->base = srv->base;
	c->settings = &l->settings;
	format_peer(sa, c->peer, sizeof(c->peer));
	c->deferred = event_new(srv->base, -1, 0, conn_deferred_cb, c);

	if (l->ssl_ctx != NULL) {
		SSL *ssl = SSL_new(l->ssl_ctx);

		c->tls = true;
		if (ssl != NULL)
			c->bev = bufferevent_openssl_socket_new(srv->base, fd, ssl,
			    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL && ssl != NULL)
			SSL_free(ssl);
	} else {
		c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	if (c->bev == NULL || c->deferred == NULL) {
		if (c->bev == NULL)
			evutil_closesocket(fd);
		else
			bufferevent_free(c->bev);
		if (c->deferred != NULL)
			event_free(c->deferred);
		pc_free(c);
		return;
	}

	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->counters.connections_accepted++;
	srv->counters.connections_open++;

	if (c->tls) {
		struct timeval hs = {SERVER_TLS_HANDSHAKE_TIMEOUT_S, 0};

		bufferevent_setcb(c->bev, NULL, NULL, detect_event_cb, c);
		bufferevent_set_timeouts(c->bev, &hs, &hs);
		bufferevent_enable(c->bev, EV_READ);
	} else {
		struct timeval idle = {(time_t)l->settings.idle_timeout_s, 0};

		bufferevent_setcb(c->bev, detect_read_cb, NULL, detect_event_cb, c);
		bufferevent_set_timeouts(c->bev, &idle, NULL);
		bufferevent_enable(c->bev, EV_READ);
	}
}

static int
alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char ours[] = "\x02h2\x08http/1.1";

	if (SSL_select_next_proto((unsigned char **)out, outlen, ours,
	    sizeof(ours) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	return SSL_TLSEXT_ERR_OK;
}

static int
tls_context_new(const struct config_listener *cfg, SSL_CTX **out, char *errbuf,
    size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		snprintf(errbuf, errlen, "cannot create a TLS context");
		return PC_ERR_NOMEM;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
		snprintf(errbuf, errlen, "cannot load TLS certificate %s: %s",
		    cfg->tls_cert, ERR_reason_error_string(ERR_get_error()));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(errbuf, errlen, "cannot load TLS key %s: %s", cfg->tls_key,
		    ERR_reason_error_string(ERR_get_error()));
		goto fail;
	}
	if (cfg->tls_client_ca != NULL) {
		int mode = SSL_VERIFY_PEER;

		if (SSL_CTX_load_verify_locations(ctx, cfg->tls_client_ca, NULL) != 1) {
			snprintf(errbuf, errlen, "cannot load client CA %s: %s",
			    cfg->tls_client_ca, ERR_reason_error_string(ERR_get_error()));
			goto fail;
		}
		if (cfg->tls_client_required)
			mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		SSL_CTX_set_verify(ctx, mode, NULL);
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select_cb, NULL);
	*out = ctx;
	return PC_OK;
fail:
	SSL_CTX_free(ctx);
	return PC_ERR_INVALID;
}

static int
parse_listen_address(const char *address, struct sockaddr_storage *ss,
    int *sslen)
{
	char buf[160];

	if (address[0] == ':') {
		snprintf(buf, sizeof(buf), "0.0.0.0%s", address);
		address = buf;
	}
	*sslen = (int)sizeof(*ss);
	memset(ss, 0, sizeof(*ss));
	if (evutil_parse_sockaddr_port(address, (struct sockaddr *)ss, sslen) != 0)
		return PC_ERR_INVALID;
	if (((struct sockaddr_in *)ss)->sin_port == 0)
		return PC_ERR_INVALID;
	return PC_OK;
}

int
server_listen(struct server *srv, const struct config_listener *cfg,
    const struct listener_opts *opts, char *errbuf, size_t errlen)
{
	struct listener *l;
	struct sockaddr_storage ss;
	int sslen;
	int err;

	if (srv->n_listeners >= SERVER_MAX_LISTENERS) {
		snprintf(errbuf, errlen, "too many listeners");
		return PC_ERR_LIMIT;
	}
	if (parse_listen_address(cfg->address, &ss, &sslen) != PC_OK) {
		snprintf(errbuf, errlen, "invalid listen address \"%s\": expected "
		    "host:port, [v6]:port or :port", cfg->address);
		return PC_ERR_INVALID;
	}
	l = &srv->listeners[srv->n_listeners];
	memset(l, 0, sizeof(*l));
	l->srv = srv;
	snprintf(l->address, sizeof(l->address), "%s", cfg->address);
	l->settings.handler = opts->handler;
	l->settings.handler_arg = opts->handler_arg;
	l->settings.idle_timeout_s = opts->idle_timeout_s;
	l->settings.write_timeout_s = opts->write_timeout_s;
	l->settings.access_log = opts->access_log;

	if (cfg->tls_cert != NULL) {
		err = tls_context_new(cfg, &l->ssl_ctx, errbuf, errlen);
		if (err != PC_OK)
			return err;
	}
	l->evl = evconnlistener_new_bind(srv->base, accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    1024, (struct sockaddr *)&ss, sslen);
	if (l->evl == NULL) {
		snprintf(errbuf, errlen, "cannot listen on %s: %s", cfg->address,
		    strerror(errno));
		if (l->ssl_ctx != NULL)
			SSL_CTX_free(l->ssl_ctx);
		return PC_ERR_IO;
	}
	srv->n_listeners++;
	log_info("event=listen addr=%s tls=%s", cfg->address,
	    l->ssl_ctx != NULL ? "yes" : "no");
	return PC_OK;
}

int
server_reload(struct server *srv, const struct config_listener *cfgs, size_t n,
    unsigned idle_timeout_s, unsigned write_timeout_s, bool access_log,
    unsigned max_connections, char *errbuf, size_t errlen)
{
	int result = PC_OK;

	srv->max_connections = max_connections;
	for (size_t i = 0; i < srv->n_listeners; i++) {
		struct listener *l = &srv->listeners[i];

		l->settings.idle_timeout_s = idle_timeout_s;
		l->settings.write_timeout_s = write_timeout_s;
		l->settings.access_log = access_log;
		if (i < n && l->ssl_ctx != NULL && cfgs[i].tls_cert != NULL) {
			SSL_CTX *fresh = NULL;

			if (tls_context_new(&cfgs[i], &fresh, errbuf, errlen) != PC_OK) {
				result = PC_ERR_INVALID;
				continue;
			}
			/* Open connections hold references to the old context. */
			SSL_CTX_free(l->ssl_ctx);
			l->ssl_ctx = fresh;
			log_info("event=tls_reloaded addr=%s", l->address);
		}
	}
	return result;
}

static void
drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	log_warn("event=drain_timeout open_connections=%llu",
	    (unsigned long long)srv->counters.connections_open);
	if (srv->drain_done != NULL) {
		void (*done)(void *) = srv->drain_done;

		srv->drain_done = NULL;
		done(srv->drain_arg);
	}
}

void
server_drain(struct server *srv, unsigned deadline_s, void (*done)(void *arg),
    void *arg)
{
	struct timeval tv = {(time_t)deadline_s, 0};

	srv->draining = true;
	srv->drain_done = done;
	srv->drain_arg = arg;
	for (size_t i = 0; i < srv->n_listeners; i++)
		evconnlistener_disable(srv->listeners[i].evl);

	for (struct conn *c = srv->conns; c != NULL; c = c->next) {
		if (c->proto == CONN_PROTO_DETECT)
			conn_close(c);
		else
			conn_schedule(c);
	}
	if (srv->conns == NULL) {
		srv->drain_done = NULL;
		done(arg);
		return;
	}
	srv->drain_timer = evtimer_new(srv->base, drain_timeout_cb, srv);
	if (srv->drain_timer != NULL)
		evtimer_add(srv->drain_timer, &tv);
}

void
server_counters(const struct server *srv, struct server_counters *out)
{
	*out = srv->counters;
}
