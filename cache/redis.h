#ifndef PORTCULLIS_CACHE_REDIS_H
#define PORTCULLIS_CACHE_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A Redis client on the event loop (hiredis async, libevent adapter) that
 * keeps itself connected: after a failure it reconnects with exponential
 * backoff (REDIS_BACKOFF_MIN_MS to REDIS_BACKOFF_MAX_MS). While it is down,
 * commands are refused at once with PC_ERR_AGAIN, so callers fall back to
 * their in-process state instead of waiting.
 *
 * URLs: redis://[:password@]host[:port][/db] and unix:/path/to/socket.
 */

#define REDIS_BACKOFF_MIN_MS 100
#define REDIS_BACKOFF_MAX_MS 5000
/* Commands waiting for a reply before new ones are refused. */
#define REDIS_MAX_PENDING 10000

struct event_base;
struct redis;
struct redisReply;

enum redis_state {
	REDIS_STATE_DISABLED,      /* no URL configured */
	REDIS_STATE_CONNECTING,
	REDIS_STATE_CONNECTED,
	REDIS_STATE_DOWN,          /* waiting to reconnect */
};

/*
 * Called with the reply, or reply NULL when the connection failed before
 * one arrived. The reply is freed when the callback returns.
 */
typedef void (*redis_reply_fn)(void *arg, struct redisReply *reply);

/* url NULL gives a disabled client whose commands all fail. */
int redis_new(struct event_base *base, const char *url, struct redis **out);
void redis_free(struct redis *r);

enum redis_state redis_state(const struct redis *r);
const char *redis_state_name(enum redis_state state);

/*
 * Sends a command given as argv (binary safe). Returns PC_OK when sent
 * (cb, if not NULL, runs exactly once later), PC_ERR_AGAIN when Redis is
 * not connected or too many commands wait, PC_ERR_NOMEM.
 */
int redis_command(struct redis *r, redis_reply_fn cb, void *arg, int argc,
    const char **argv, const size_t *argvlen);

/* Counters: commands sent, failed, reconnects. */
struct redis_stats {
	uint64_t commands;
	uint64_t failures;
	uint64_t reconnects;
	uint64_t pending;
};
void redis_stats(const struct redis *r, struct redis_stats *out);

#endif
