#include "cache/redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"

/* Longest Redis URL accepted. */
#define REDIS_URL_MAX 1024

struct redis {
	struct event_base *base;
	redisAsyncContext *ac;
	enum redis_state state;
	char host[256];
	int port;
	char unix_path[512];
	char password[256];
	int db;
	unsigned backoff_ms;
	struct event *retry;
	struct redis_stats stats;
	bool closing;
};

struct pending {
	struct redis *r;
	redis_reply_fn cb;
	void *arg;
};

static void redis_connect(struct redis *r);

const char *
redis_state_name(enum redis_state state)
{
	switch (state) {
	case REDIS_STATE_DISABLED: return "disabled";
	case REDIS_STATE_CONNECTING: return "connecting";
	case REDIS_STATE_CONNECTED: return "connected";
	case REDIS_STATE_DOWN: return "down";
	}
	return "unknown";
}

static int
parse_url(struct redis *r, const char *url)
{
	const char *p;
	const char *at;
	const char *slash;
	const char *colon;
	char *end;

	if (strlen(url) > REDIS_URL_MAX)
		return PC_ERR_INVALID;
	if (strncmp(url, "unix:", 5) == 0) {
		p = url + 5;
		if (strncmp(p, "//", 2) == 0)
			p += 2;
		if (*p != '/' || strlen(p) >= sizeof(r->unix_path))
			return PC_ERR_INVALID;
		snprintf(r->unix_path, sizeof(r->unix_path), "%s", p);
		return PC_OK;
	}
	if (strncmp(url, "redis://", 8) != 0)
		return PC_ERR_INVALID;
	p = url + 8;
	at = strrchr(p, '@');
	if (at != NULL) {
		const char *pw = memchr(p, ':', (size_t)(at - p));

		pw = pw != NULL ? pw + 1 : p;
		if ((size_t)(at - pw) >= sizeof(r->password))
			return PC_ERR_INVALID;
		memcpy(r->password, pw, (size_t)(at - pw));
		r->password[at - pw] = '\0';
		p = at + 1;
	}
	slash = strchr(p, '/');
	colon = memchr(p, ':', slash ? (size_t)(slash - p) : strlen(p));
	r->port = 6379;
	if (colon != NULL) {
		long port = strtol(colon + 1, &end, 10);

		if (port <= 0 || port > 65535 || (end != slash && *end != '\0'))
			return PC_ERR_INVALID;
		r->port = (int)port;
	}
	{
		size_t hl = strlen(p);

		if (colon != NULL)
			hl = (size_t)(colon - p);
		else if (slash != NULL)
			hl = (size_t)(slash - p);
		if (hl == 0 || hl >= sizeof(r->host))
			return PC_ERR_INVALID;
		memcpy(r->host, p, hl);
		r->host[hl] = '\0';
	}
	if (slash != NULL && slash[1] != '\0') {
		long db = strtol(slash + 1, &end, 10);

		if (db < 0 || db > 1000000 || *end != '\0')
			return PC_ERR_INVALID;
		r->db = (int)db;
	}
	return PC_OK;
}

static void
schedule_retry(struct redis *r)
{
	struct timeval tv;

	if (r->closing)
		return;
	r->state = REDIS_STATE_DOWN;
	tv.tv_sec = r->backoff_ms / 1000;
	tv.tv_usec = (suseconds_t)(r->backoff_ms % 1000) * 1000;
	evtimer_add(r->retry, &tv);
	r->backoff_ms *= 2;
	if (r->backoff_ms > REDIS_BACKOFF_MAX_MS)
		r->backoff_ms = REDIS_BACKOFF_MAX_MS;
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct redis *r = ac->data;

	if (status != REDIS_OK) {
		log_warn("event=redis_connect_failed error=\"%s\" retry_ms=%u",
		    ac->errstr, r->backoff_ms);
		r->ac = NULL;  /* hiredis frees the context after this callback */
		schedule_retry(r);
		return;
	}
	log_info("event=redis_connected");
	r->state = REDIS_STATE_CONNECTED;
	r->backoff_ms = REDIS_BACKOFF_MIN_MS;
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct redis *r = ac->data;

	r->ac = NULL;
	if (r->closing)
		return;
	log_warn("event=redis_disconnected error=\"%s\" retry_ms=%u",
	    status == REDIS_OK ? "closed" : ac->errstr, r->backoff_ms);
	schedule_retry(r);
}

static void
on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct pending *p = privdata;
	struct redis *r = p->r;

	r->stats.pending--;
	if (reply == NULL || ((redisReply *)reply)->type == REDIS_REPLY_ERROR)
		r->stats.failures++;
	if (p->cb != NULL)
		p->cb(p->arg, reply);
	pc_free(p);
}

static void
send_setup(struct redis *r)
{
	char db[16];

	if (r->password[0] != '\0')
		redisAsyncCommand(r->ac, NULL, NULL, "AUTH %s", r->password);
	if (r->db != 0) {
		snprintf(db, sizeof(db), "%d", r->db);
		redisAsyncCommand(r->ac, NULL, NULL, "SELECT %s", db);
	}
}

static void
redis_connect(struct redis *r)
{
	redisAsyncContext *ac;

	r->state = REDIS_STATE_CONNECTING;
	if (r->unix_path[0] != '\0')
		ac = redisAsyncConnectUnix(r->unix_path);
	else
		ac = redisAsyncConnect(r->host, r->port);
	if (ac == NULL || ac->err) {
		log_warn("event=redis_connect_failed error=\"%s\" retry_ms=%u",
		    ac ? ac->errstr : "out of memory", r->backoff_ms);
		if (ac != NULL)
			redisAsyncFree(ac);
		schedule_retry(r);
		return;
	}
	ac->data = r;
	r->ac = ac;
	redisLibeventAttach(ac, r->base);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	send_setup(r);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct redis *r = arg;

	r->stats.reconnects++;
	redis_connect(r);
}

int
redis_new(struct event_base *base, const char *url, struct redis **out)
{
	struct redis *r = pc_calloc(1, sizeof(*r));

	if (r == NULL)
		return PC_ERR_NOMEM;
	r->base = base;
	r->backoff_ms = REDIS_BACKOFF_MIN_MS;
	r->state = REDIS_STATE_DISABLED;
	*out = r;
	if (url == NULL)
		return PC_OK;
	if (parse_url(r, url) != PC_OK) {
		pc_free(r);
		*out = NULL;
		return PC_ERR_INVALID;
	}
	r->retry = evtimer_new(base, on_retry, r);
	if (r->retry == NULL) {
		pc_free(r);
		*out = NULL;
		return PC_ERR_NOMEM;
	}
	redis_connect(r);
	return PC_OK;
}

void
redis_free(struct redis *r)
{
	if (r == NULL)
		return;
	r->closing = true;
	if (r->ac != NULL) {
		redisAsyncContext *ac = r->ac;

		r->ac = NULL;
		/* Pending callbacks run now with a NULL reply. */
		redisAsyncFree(ac);
	}
	if (r->retry != NULL)
		event_free(r->retry);
	pc_free(r);
}

enum redis_state
redis_state(const struct redis *r)
{
	return r != NULL ? r->state : REDIS_STATE_DISABLED;
}

int
redis_command(struct redis *r, redis_reply_fn cb, void *arg, int argc,
    const char **argv, const size_t *argvlen)
{
	struct pending *p;

	if (r == NULL || r->state != REDIS_STATE_CONNECTED || r->ac == NULL)
		return PC_ERR_AGAIN;
	if (r->stats.pending >= REDIS_MAX_PENDING)
		return PC_ERR_AGAIN;
	p = pc_malloc(sizeof(*p));
	if (p == NULL)
		return PC_ERR_NOMEM;
	p->r = r;
	p->cb = cb;
	p->arg = arg;
	if (redisAsyncCommandArgv(r->ac, on_reply, p, argc, argv, argvlen) != REDIS_OK) {
		pc_free(p);
		r->stats.failures++;
		return PC_ERR_AGAIN;
	}
	r->stats.commands++;
	r->stats.pending++;
	return PC_OK;
}

void
redis_stats(const struct redis *r, struct redis_stats *out)
{
	if (r == NULL) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = r->stats;
}
