#ifndef PORTCULLIS_PROXY_GATE_STORE_H
#define PORTCULLIS_PROXY_GATE_STORE_H

/*
 * Where the gate keeps what it learned: verdicts, layer results, reports
 * and the list of recent decisions. Every value lives in process (capped,
 * oldest dropped first) and, when Redis is up, in Redis too, so replicas
 * share them and a restarted replica finds them again:
 *
 *   portcullis:verdict:<manifest>:<policy hash>:<db version>:<repository>
 *   portcullis:layer:<layer digest>:<scanner version>          layer result
 *   portcullis:report:<manifest>                               report + verdict
 *   portcullis:lock:<verdict key>                              scan lock
 *   portcullis:recent                                          list, newest first
 *   portcullis:stats                                           hash of counters
 */

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct redis;
struct gate_store;

/* Entries kept in process per kind. */
#define GATE_STORE_MAX_VERDICTS 10000
#define GATE_STORE_MAX_LAYERS 2000
#define GATE_STORE_MAX_REPORTS 1000
#define GATE_STORE_MAX_RECENT 1000
/* Seconds values live in Redis. */
#define GATE_STORE_TTL_S (30 * 86400)
/* Milliseconds a replica's scan lock lasts. */
#define GATE_STORE_LOCK_MS 600000

enum gate_store_kind {
	GATE_STORE_VERDICT,
	GATE_STORE_LAYER,
	GATE_STORE_REPORT,
};

int gate_store_new(struct redis *redis, struct gate_store **out);
void gate_store_free(struct gate_store *st);

/* Returns a new reference from process memory, or NULL. */
json_t *gate_store_get_local(struct gate_store *st, enum gate_store_kind kind,
    const char *key);

/*
 * Looks key up in process memory, then in Redis. cb runs exactly once
 * with a new reference or NULL; it may run before this returns.
 */
typedef void (*gate_store_fn)(void *arg, json_t *value);
void gate_store_get(struct gate_store *st, enum gate_store_kind kind,
    const char *key, gate_store_fn cb, void *arg);

/* Stores value (not stolen) in memory and, best effort, in Redis. */
void gate_store_put(struct gate_store *st, enum gate_store_kind kind,
    const char *key, json_t *value);

/*
 * Tries to take the scan lock of key in Redis. cb gets 1 when taken (or
 * Redis is not there: every replica then scans for itself), 0 when
 * another replica has it. It may run before this returns.
 */
typedef void (*gate_lock_fn)(void *arg, int taken);
void gate_store_lock(struct gate_store *st, const char *key, gate_lock_fn cb,
    void *arg);
void gate_store_unlock(struct gate_store *st, const char *key);

/* Prepends a decision summary to the recent list. */
void gate_store_add_recent(struct gate_store *st, json_t *summary);

/* Recent decisions from memory merged with Redis's list is not needed:
 * each replica lists what it decided plus what Redis holds. */
json_t *gate_store_recent(struct gate_store *st);

/* Adds n to a shared counter (Redis hash) and to the local one. */
void gate_store_count(struct gate_store *st, const char *name, long long n);

/* Local counters, plus the fleet totals last read from Redis. */
json_t *gate_store_counters(struct gate_store *st);

/* Asks Redis for the fleet totals (refreshes gate_store_counters). */
void gate_store_refresh_counters(struct gate_store *st);

/* Every report key kept in process memory (for re-evaluation). */
json_t *gate_store_report_keys(struct gate_store *st);

#endif
