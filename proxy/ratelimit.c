#include "proxy/ratelimit.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/rand.h>

#include "common/alloc.h"
#include "common/error.h"

#define NS_PER_S 1000000000.0

struct rl_entry {
	struct rl_entry *hash_next;
	/* Recency list, most recent first; linked only while streams == 0. */
	struct rl_entry *prev;
	struct rl_entry *next;
	uint64_t hash;
	double tokens;
	uint64_t last_ns;
	unsigned streams;
	char key[];
};

struct ratelimit {
	struct ratelimit_class cls;
	struct rl_entry **buckets;
	size_t n_buckets;      /* a power of two */
	size_t count;
	size_t max_entries;
	uint64_t idle_ns;
	uint64_t streams;
	struct rl_entry *head;
	struct rl_entry *tail;
	uint64_t seed[2];      /* SipHash key, random per table */
};

/*
 * SipHash-2-4 (Aumasson and Bernstein, 2012) with a random key, so a
 * client cannot choose addresses or names that collide in the table.
 */
#define ROTL64(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

static void
sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL64(v[1], 13);
	v[1] ^= v[0];
	v[0] = ROTL64(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL64(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = ROTL64(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = ROTL64(v[1], 17);
	v[1] ^= v[2];
	v[2] = ROTL64(v[2], 32);
}

static uint64_t
load_le64(const unsigned char *p, size_t n)
{
	uint64_t x = 0;

	for (size_t i = 0; i < n; i++)
		x |= (uint64_t)p[i] << (8 * i);
	return x;
}

static uint64_t
siphash(const uint64_t key[2], const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t v[4] = {
		key[0] ^ 0x736f6d6570736575ULL, key[1] ^ 0x646f72616e646f6dULL,
		key[0] ^ 0x6c7967656e657261ULL, key[1] ^ 0x7465646279746573ULL,
	};
	size_t whole = len - len % 8;
	uint64_t m;

	for (size_t i = 0; i < whole; i += 8) {
		m = load_le64(p + i, 8);
		v[3] ^= m;
		sip_round(v);
		sip_round(v);
		v[0] ^= m;
	}
	m = load_le64(p + whole, len % 8) | ((uint64_t)(len & 0xff) << 56);
	v[3] ^= m;
	sip_round(v);
	sip_round(v);
	v[0] ^= m;
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static uint64_t
idle_threshold_ns(const struct ratelimit_class *cls, unsigned idle_s)
{
	double idle = idle_s;

	/* An entry forgotten before its bucket is full would get tokens back. */
	if (cls->rps > 0 && (double)cls->burst / cls->rps > idle)
		idle = ceil((double)cls->burst / cls->rps);
	/* A tiny rate must not overflow the conversion to nanoseconds. */
	if (idle > RATELIMIT_MAX_IDLE_S)
		idle = RATELIMIT_MAX_IDLE_S;
	return (uint64_t)(idle * NS_PER_S);
}

int
ratelimit_new(const struct ratelimit_class *cls, size_t max_entries,
    unsigned idle_s, struct ratelimit **out)
{
	struct ratelimit *rl;
	size_t n = 1;

	*out = NULL;
	if (!isfinite(cls->rps) || cls->rps < 0 || (cls->rps > 0 && cls->burst == 0))
		return PC_ERR_INVALID;
	if (max_entries == 0)
		max_entries = 1;
	if (max_entries > RATELIMIT_MAX_ENTRIES)
		max_entries = RATELIMIT_MAX_ENTRIES;
	while (n < max_entries)
		n <<= 1;

	rl = pc_calloc(1, sizeof(*rl));
	if (rl == NULL)
		return PC_ERR_NOMEM;
	rl->buckets = pc_calloc(n, sizeof(*rl->buckets));
	if (rl->buckets == NULL) {
		pc_free(rl);
		return PC_ERR_NOMEM;
	}
	rl->cls = *cls;
	rl->n_buckets = n;
	rl->max_entries = max_entries;
	rl->idle_ns = idle_threshold_ns(cls, idle_s);
	if (RAND_bytes((unsigned char *)rl->seed, sizeof(rl->seed)) != 1) {
		/* NOTE: without randomness the table still works, but a client
		 * that knows this fixed key could pick colliding names. */
		rl->seed[0] = 0x0123456789abcdefULL;
		rl->seed[1] = (uint64_t)(uintptr_t)rl;
	}
	*out = rl;
	return PC_OK;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	for (size_t i = 0; i < rl->n_buckets; i++) {
		struct rl_entry *e = rl->buckets[i];

		while (e != NULL) {
			struct rl_entry *next = e->hash_next;

			pc_free(e);
			e = next;
		}
	}
	pc_free(rl->buckets);
	pc_free(rl);
}

static void
list_unlink(struct ratelimit *rl, struct rl_entry *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		rl->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		rl->tail = e->prev;
	e->prev = NULL;
	e->next = NULL;
}

static void
list_push_head(struct ratelimit *rl, struct rl_entry *e)
{
	e->prev = NULL;
	e->next = rl->head;
	if (rl->head != NULL)
		rl->head->prev = e;
	else
		rl->tail = e;
	rl->head = e;
}

static void
entry_remove(struct ratelimit *rl, struct rl_entry *e)
{
	struct rl_entry **pp = &rl->buckets[e->hash & (rl->n_buckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hash_next;
	*pp = e->hash_next;
	list_unlink(rl, e);
	rl->count--;
	pc_free(e);
}

/* Forgets up to RATELIMIT_SWEEP_PER_CALL entries idle for idle_ns or more. */
static void
sweep_idle(struct ratelimit *rl, uint64_t now_ns)
{
	for (int i = 0; i < RATELIMIT_SWEEP_PER_CALL && rl->tail != NULL; i++) {
		struct rl_entry *e = rl->tail;

		if (now_ns < e->last_ns || now_ns - e->last_ns < rl->idle_ns)
			break;
		entry_remove(rl, e);
	}
}

static struct rl_entry *
entry_find(struct ratelimit *rl, const char *key, size_t len, uint64_t hash)
{
	struct rl_entry *e = rl->buckets[hash & (rl->n_buckets - 1)];

	for (; e != NULL; e = e->hash_next) {
		if (e->hash == hash && strncmp(e->key, key, len + 1) == 0)
			return e;
	}
	return NULL;
}

/*
 * Finds or adds key. A new entry starts with a full bucket. Returns NULL
 * when the table is full of entries with open streams, or on no memory.
 */
static struct rl_entry *
entry_get(struct ratelimit *rl, const char *key, size_t len, uint64_t now_ns)
{
	uint64_t hash = siphash(rl->seed, key, len);
	struct rl_entry *e;
	size_t slot;

	sweep_idle(rl, now_ns);
	e = entry_find(rl, key, len, hash);
	if (e != NULL)
		return e;
	if (rl->count >= rl->max_entries) {
		/* NOTE: an evicted client that returns at once gets a full bucket. */
		if (rl->tail == NULL)
			return NULL;
		entry_remove(rl, rl->tail);
	}

	e = pc_calloc(1, sizeof(*e) + len + 1);
	if (e == NULL)
		return NULL;
	memcpy(e->key, key, len);
	e->hash = hash;
	e->tokens = rl->cls.burst;
	e->last_ns = now_ns;
	slot = hash & (rl->n_buckets - 1);
	e->hash_next = rl->buckets[slot];
	rl->buckets[slot] = e;
	list_push_head(rl, e);
	rl->count++;
	return e;
}

/* Moves e to the recent end of the list, when it is on the list. */
static void
entry_touch(struct ratelimit *rl, struct rl_entry *e)
{
	if (e->streams > 0)
		return;
	list_unlink(rl, e);
	list_push_head(rl, e);
}

static void
bucket_refill(const struct ratelimit *rl, struct rl_entry *e, uint64_t now_ns)
{
	if (now_ns > e->last_ns) {
		e->tokens += (double)(now_ns - e->last_ns) / NS_PER_S * rl->cls.rps;
		if (e->tokens > rl->cls.burst)
			e->tokens = rl->cls.burst;
	}
	e->last_ns = now_ns > e->last_ns ? now_ns : e->last_ns;
}

/* Finds or adds the entry of key and refills its bucket. */
static enum ratelimit_verdict
entry_for_key(struct ratelimit *rl, const char *key, uint64_t now_ns,
    struct rl_entry **out)
{
	size_t len = strnlen(key, RATELIMIT_KEY_MAX + 1);

	*out = NULL;
	if (len > RATELIMIT_KEY_MAX)
		return RATELIMIT_LIMITED;
	*out = entry_get(rl, key, len, now_ns);
	if (*out == NULL)
		return RATELIMIT_FULL;
	bucket_refill(rl, *out, now_ns);
	return RATELIMIT_OK;
}

enum ratelimit_verdict
ratelimit_take(struct ratelimit *rl, const char *key, uint64_t now_ns,
    unsigned *retry_after_s)
{
	enum ratelimit_verdict v;
	struct rl_entry *e;
	double wait_s;

	*retry_after_s = 1;
	if (rl->cls.rps <= 0)
		return RATELIMIT_OK;
	v = entry_for_key(rl, key, now_ns, &e);
	if (v != RATELIMIT_OK)
		return v;

	entry_touch(rl, e);
	if (e->tokens >= 1.0) {
		e->tokens -= 1.0;
		return RATELIMIT_OK;
	}
	wait_s = ceil((1.0 - e->tokens) / rl->cls.rps);
	if (wait_s < 1)
		wait_s = 1;
	if (wait_s > RATELIMIT_MAX_RETRY_AFTER_S)
		wait_s = RATELIMIT_MAX_RETRY_AFTER_S;
	*retry_after_s = (unsigned)wait_s;
	return RATELIMIT_LIMITED;
}

enum ratelimit_verdict
ratelimit_stream_acquire(struct ratelimit *rl, const char *key,
    uint64_t now_ns)
{
	enum ratelimit_verdict v;
	struct rl_entry *e;

	if (rl->cls.max_streams == 0)
		return RATELIMIT_OK;
	v = entry_for_key(rl, key, now_ns, &e);
	if (v != RATELIMIT_OK)
		return v;
	if (e->streams >= rl->cls.max_streams) {
		entry_touch(rl, e);
		return RATELIMIT_LIMITED;
	}
	if (e->streams == 0)
		list_unlink(rl, e);
	e->streams++;
	rl->streams++;
	return RATELIMIT_OK;
}

void
ratelimit_stream_release(struct ratelimit *rl, const char *key,
    uint64_t now_ns)
{
	size_t len = strnlen(key, RATELIMIT_KEY_MAX + 1);
	struct rl_entry *e;

	if (rl->cls.max_streams == 0 || len > RATELIMIT_KEY_MAX)
		return;
	e = entry_find(rl, key, len, siphash(rl->seed, key, len));
	if (e == NULL || e->streams == 0)
		return;
	bucket_refill(rl, e, now_ns);
	e->streams--;
	rl->streams--;
	if (e->streams == 0)
		list_push_head(rl, e);
}

size_t
ratelimit_count(const struct ratelimit *rl)
{
	return rl->count;
}

uint64_t
ratelimit_streams(const struct ratelimit *rl)
{
	return rl->streams;
}
