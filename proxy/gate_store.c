#include "proxy/gate_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cache/redis.h"
#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"

/* Largest value read back from Redis, in bytes. */
#define GATE_STORE_MAX_VALUE (64u << 20)

struct gate_store {
	struct redis *redis;
	json_t *maps[3];      /* kind -> {key: value} */
	json_t *order[3];     /* kind -> [keys], oldest first, for eviction */
	json_t *recent;       /* newest first */
	json_t *counters;     /* local */
	json_t *fleet;        /* last HGETALL of portcullis:stats */
};

static const char *const prefixes[] = {
	"portcullis:verdict:", "portcullis:layer:", "portcullis:report:",
};
static const size_t caps[] = {
	GATE_STORE_MAX_VERDICTS, GATE_STORE_MAX_LAYERS, GATE_STORE_MAX_REPORTS,
};

int
gate_store_new(struct redis *redis, struct gate_store **out)
{
	struct gate_store *st = pc_calloc(1, sizeof(*st));

	if (st == NULL)
		return PC_ERR_NOMEM;
	st->redis = redis;
	for (int i = 0; i < 3; i++) {
		st->maps[i] = json_object();
		st->order[i] = json_array();
	}
	st->recent = json_array();
	st->counters = json_object();
	st->fleet = json_object();
	*out = st;
	return PC_OK;
}

void
gate_store_free(struct gate_store *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < 3; i++) {
		json_decref(st->maps[i]);
		json_decref(st->order[i]);
	}
	json_decref(st->recent);
	json_decref(st->counters);
	json_decref(st->fleet);
	pc_free(st);
}

static void
local_put(struct gate_store *st, enum gate_store_kind kind, const char *key,
    json_t *value)
{
	json_t *map = st->maps[kind];
	json_t *order = st->order[kind];

	if (json_object_get(map, key) == NULL) {
		json_array_append_new(order, json_string(key));
		while (json_array_size(order) > caps[kind]) {
			json_object_del(map, json_string_value(json_array_get(order, 0)));
			json_array_remove(order, 0);
		}
	}
	json_object_set(map, key, value);
}

json_t *
gate_store_get_local(struct gate_store *st, enum gate_store_kind kind,
    const char *key)
{
	return json_incref(json_object_get(st->maps[kind], key));
}

struct get_ctx {
	struct gate_store *st;
	enum gate_store_kind kind;
	char *key;
	gate_store_fn cb;
	void *arg;
};

static void
get_reply(void *arg, struct redisReply *reply)
{
	struct get_ctx *g = arg;
	json_t *value = NULL;

	if (reply != NULL && reply->type == REDIS_REPLY_STRING &&
	    (size_t)reply->len <= GATE_STORE_MAX_VALUE) {
		value = json_loadb(reply->str, (size_t)reply->len, 0, NULL);
		if (value != NULL)
			local_put(g->st, g->kind, g->key, value);
	}
	g->cb(g->arg, value);
	pc_free(g->key);
	pc_free(g);
}

static char *
redis_key(enum gate_store_kind kind, const char *key)
{
	size_t len = strlen(prefixes[kind]) + strlen(key) + 1;
	char *out = pc_malloc(len);

	if (out != NULL)
		snprintf(out, len, "%s%s", prefixes[kind], key);
	return out;
}

void
gate_store_get(struct gate_store *st, enum gate_store_kind kind,
    const char *key, gate_store_fn cb, void *arg)
{
	json_t *value = gate_store_get_local(st, kind, key);
	struct get_ctx *g;
	char *rkey;
	const char *argv[2];

	if (value != NULL || redis_state(st->redis) != REDIS_STATE_CONNECTED) {
		cb(arg, value);
		return;
	}
	g = pc_calloc(1, sizeof(*g));
	rkey = redis_key(kind, key);
	if (g == NULL || rkey == NULL || (g->key = pc_strdup(key)) == NULL) {
		pc_free(g);
		pc_free(rkey);
		cb(arg, NULL);
		return;
	}
	g->st = st;
	g->kind = kind;
	g->cb = cb;
	g->arg = arg;
	argv[0] = "GET";
	argv[1] = rkey;
	if (redis_command(st->redis, get_reply, g, 2, argv, NULL) != PC_OK) {
		pc_free(g->key);
		pc_free(g);
		cb(arg, NULL);
	}
	pc_free(rkey);
}

void
gate_store_put(struct gate_store *st, enum gate_store_kind kind,
    const char *key, json_t *value)
{
	char *text;
	char *rkey;
	char ttl[24];
	const char *argv[5];
	size_t lens[5];

	local_put(st, kind, key, value);
	if (redis_state(st->redis) != REDIS_STATE_CONNECTED)
		return;
	text = json_dumps(value, JSON_COMPACT);
	rkey = redis_key(kind, key);
	if (text != NULL && rkey != NULL) {
		snprintf(ttl, sizeof(ttl), "%d", GATE_STORE_TTL_S);
		argv[0] = "SET";
		argv[1] = rkey;
		argv[2] = text;
		argv[3] = "EX";
		argv[4] = ttl;
		for (int i = 0; i < 5; i++)
			lens[i] = strlen(argv[i]);
		redis_command(st->redis, NULL, NULL, 5, argv, lens);
	}
	pc_free(text);
	pc_free(rkey);
}

struct lock_ctx {
	gate_lock_fn cb;
	void *arg;
};

static void
lock_reply(void *arg, struct redisReply *reply)
{
	struct lock_ctx *l = arg;
	int taken;

	if (reply == NULL)
		taken = 1;  /* Redis went away: scan locally */
	else
		taken = reply->type == REDIS_REPLY_STATUS;  /* OK; nil when held */
	l->cb(l->arg, taken);
	pc_free(l);
}

void
gate_store_lock(struct gate_store *st, const char *key, gate_lock_fn cb,
    void *arg)
{
	struct lock_ctx *l;
	char rkey[600];
	char ms[24];
	const char *argv[6];

	if (redis_state(st->redis) != REDIS_STATE_CONNECTED) {
		cb(arg, 1);
		return;
	}
	l = pc_malloc(sizeof(*l));
	if (l == NULL) {
		cb(arg, 1);
		return;
	}
	l->cb = cb;
	l->arg = arg;
	snprintf(rkey, sizeof(rkey), "portcullis:lock:%s", key);
	snprintf(ms, sizeof(ms), "%d", GATE_STORE_LOCK_MS);
	argv[0] = "SET";
	argv[1] = rkey;
	argv[2] = "1";
	argv[3] = "NX";
	argv[4] = "PX";
	argv[5] = ms;
	if (redis_command(st->redis, lock_reply, l, 6, argv, NULL) != PC_OK) {
		pc_free(l);
		cb(arg, 1);
	}
}

void
gate_store_unlock(struct gate_store *st, const char *key)
{
	char rkey[600];
	const char *argv[2];

	snprintf(rkey, sizeof(rkey), "portcullis:lock:%s", key);
	argv[0] = "DEL";
	argv[1] = rkey;
	redis_command(st->redis, NULL, NULL, 2, argv, NULL);
}

void
gate_store_add_recent(struct gate_store *st, json_t *summary)
{
	char *text;
	char max[24];
	const char *argv[4];

	json_array_insert(st->recent, 0, summary);
	while (json_array_size(st->recent) > GATE_STORE_MAX_RECENT)
		json_array_remove(st->recent, json_array_size(st->recent) - 1);
	if (redis_state(st->redis) != REDIS_STATE_CONNECTED)
		return;
	text = json_dumps(summary, JSON_COMPACT);
	if (text == NULL)
		return;
	argv[0] = "LPUSH";
	argv[1] = "portcullis:recent";
	argv[2] = text;
	redis_command(st->redis, NULL, NULL, 3, argv, NULL);
	snprintf(max, sizeof(max), "%d", GATE_STORE_MAX_RECENT - 1);
	argv[0] = "LTRIM";
	argv[1] = "portcullis:recent";
	argv[2] = "0";
	argv[3] = max;
	redis_command(st->redis, NULL, NULL, 4, argv, NULL);
	pc_free(text);
}

json_t *
gate_store_recent(struct gate_store *st)
{
	return json_incref(st->recent);
}

void
gate_store_count(struct gate_store *st, const char *name, long long n)
{
	json_t *v = json_object_get(st->counters, name);
	char by[24];
	const char *argv[4];

	json_object_set_new(st->counters, name,
	    json_integer((v ? json_integer_value(v) : 0) + n));
	snprintf(by, sizeof(by), "%lld", n);
	argv[0] = "HINCRBY";
	argv[1] = "portcullis:stats";
	argv[2] = name;
	argv[3] = by;
	redis_command(st->redis, NULL, NULL, 4, argv, NULL);
}

static void
counters_reply(void *arg, struct redisReply *reply)
{
	struct gate_store *st = arg;
	json_t *fleet;

	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY)
		return;
	fleet = json_object();
	for (size_t i = 0; i + 1 < reply->elements; i += 2) {
		struct redisReply *k = reply->element[i];
		struct redisReply *v = reply->element[i + 1];

		if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING)
			json_object_set_new(fleet, k->str, json_integer(strtoll(v->str, NULL, 10)));
	}
	json_decref(st->fleet);
	st->fleet = fleet;
}

void
gate_store_refresh_counters(struct gate_store *st)
{
	const char *argv[2] = {"HGETALL", "portcullis:stats"};

	redis_command(st->redis, counters_reply, st, 2, argv, NULL);
}

json_t *
gate_store_counters(struct gate_store *st)
{
	json_t *out = json_deep_copy(st->counters);

	json_object_set(out, "fleet", st->fleet);
	return out;
}

json_t *
gate_store_report_keys(struct gate_store *st)
{
	return json_deep_copy(st->order[GATE_STORE_REPORT]);
}
