#ifndef PORTCULLIS_PROXY_SERVER_H
#define PORTCULLIS_PROXY_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "proxy/http.h"

/*
 * Listeners and client connections on one libevent loop: plain TCP and
 * TLS, protocol detection (ALPN h2 or http/1.1 on TLS, the HTTP/2 client
 * preface for h2c on plain TCP), connection limits, graceful drain.
 */

struct event_base;
struct server;
struct config_listener;

struct server_counters {
	uint64_t connections_accepted;
	uint64_t connections_rejected;  /* over max_connections */
	uint64_t connections_open;
	uint64_t tls_handshake_failures;
};

struct listener_opts {
	http_handler_fn handler;
	void *handler_arg;
	unsigned idle_timeout_s;
	unsigned write_timeout_s;
	bool access_log;
};

int server_new(struct event_base *base, unsigned max_connections,
    struct server **out);
void server_free(struct server *srv);

/*
 * Binds a listener. cfg supplies the address and TLS files; errors are
 * written to errbuf. Returns PC_OK, PC_ERR_INVALID (bad address or TLS
 * files) or PC_ERR_IO (bind failed).
 */
int server_listen(struct server *srv, const struct config_listener *cfg,
    const struct listener_opts *opts, char *errbuf, size_t errlen);

/*
 * Applies reloadable settings: timeouts, access log, connection limit, and
 * TLS certificates reread from their files (new connections use them,
 * open ones keep theirs). Listener i of cfgs matches the i-th
 * server_listen() call.
 */
int server_reload(struct server *srv, const struct config_listener *cfgs,
    size_t n, unsigned idle_timeout_s, unsigned write_timeout_s,
    bool access_log, unsigned max_connections, char *errbuf, size_t errlen);

/*
 * Stops accepting, ends keep-alive and sends HTTP/2 GOAWAY, and calls done
 * once every connection has closed (or after deadline_s seconds).
 */
void server_drain(struct server *srv, unsigned deadline_s,
    void (*done)(void *arg), void *arg);

void server_counters(const struct server *srv, struct server_counters *out);

#endif
