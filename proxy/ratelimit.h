#ifndef PORTCULLIS_PROXY_RATELIMIT_H
#define PORTCULLIS_PROXY_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Request rates and concurrent streams per key (a client address or a
 * user), for the access-control module. Each key gets a token bucket that
 * refills at rps tokens per second up to burst, and a count of open
 * streams. The table tracks at most max_entries keys: a key with no open
 * stream is evicted when it has been idle long enough for its bucket to be
 * full again, or earlier, least recently used first, when the table is full.
 * Keys with open streams are never evicted.
 *
 * Not thread-safe: the caller serialises every call on one table. Times
 * are nanoseconds of a monotonic clock that the caller supplies, so tests
 * can inject a fake one.
 */

/* Default and largest number of keys one table tracks. */
#define RATELIMIT_DEFAULT_MAX_ENTRIES 65536
#define RATELIMIT_MAX_ENTRIES (1u << 22)
/* Maximum key length, in bytes without the NUL. */
#define RATELIMIT_KEY_MAX 1024
/* Default idle time after which a key with a full bucket is forgotten. */
#define RATELIMIT_DEFAULT_IDLE_S 300
/* Maximum idle time before a key is forgotten, in seconds: one year. */
#define RATELIMIT_MAX_IDLE_S (86400.0 * 365)
/* Maximum idle keys one call evicts, so that every call is bounded. */
#define RATELIMIT_SWEEP_PER_CALL 4
/* Maximum Retry-After returned, in seconds: one day. */
#define RATELIMIT_MAX_RETRY_AFTER_S 86400

struct ratelimit_class {
	double rps;            /* refill rate; 0 turns the request limit off */
	unsigned burst;        /* bucket size, at least 1 when rps > 0 */
	unsigned max_streams;  /* concurrent streams per key; 0: no limit */
};

enum ratelimit_verdict {
	RATELIMIT_OK,
	RATELIMIT_LIMITED,  /* over the rate or the stream limit */
	RATELIMIT_FULL,     /* a new key, and every tracked key has a stream open */
};

struct ratelimit;

/*
 * Creates a table for keys of class cls. max_entries is clamped to
 * [1, RATELIMIT_MAX_ENTRIES]. Returns PC_OK, PC_ERR_INVALID for rps < 0,
 * a non-finite rps or a zero burst with rps > 0, or PC_ERR_NOMEM. The
 * caller frees *out with ratelimit_free().
 */
int ratelimit_new(const struct ratelimit_class *cls, size_t max_entries,
    unsigned idle_s, struct ratelimit **out);

void ratelimit_free(struct ratelimit *rl);

/*
 * Takes one token from key's bucket. On RATELIMIT_LIMITED *retry_after_s
 * is the whole number of seconds, at least 1, until a token is back.
 * Also returns RATELIMIT_LIMITED for a key longer than RATELIMIT_KEY_MAX
 * and RATELIMIT_FULL when the key cannot be tracked (see above) or memory
 * ran out; *retry_after_s is 1 then.
 */
enum ratelimit_verdict ratelimit_take(struct ratelimit *rl, const char *key,
    uint64_t now_ns, unsigned *retry_after_s);

/*
 * Opens a stream for key unless it has max_streams open already. Every
 * RATELIMIT_OK must be paired with one ratelimit_stream_release().
 */
enum ratelimit_verdict ratelimit_stream_acquire(struct ratelimit *rl,
    const char *key, uint64_t now_ns);

/* Closes a stream of key; a key with no open stream is left unchanged. */
void ratelimit_stream_release(struct ratelimit *rl, const char *key,
    uint64_t now_ns);

/* Returns the number of tracked keys. */
size_t ratelimit_count(const struct ratelimit *rl);

/* Returns the number of open streams over all keys. */
uint64_t ratelimit_streams(const struct ratelimit *rl);

#endif
