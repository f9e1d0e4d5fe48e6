/*
 * The gate: judges every image manifest before the registry responds with it.
 *
 * One job runs per verdict key (manifest digest, policy hash, database
 * version, repository), shared by every client waiting meanwhile. It looks
 * the verdict up in process memory, then in Redis. Otherwise it takes the
 * scan lock in Redis, so one replica of a fleet scans. It then fetches the
 * config and every layer through the registry's shared downloads, scans
 * each layer on the worker pool as its bytes arrive (or reuses its cached
 * result), builds the report, evaluates the policy and stores the verdict.
 * A client that waited manifest_wait gets the policy's `unscanned` result.
 * With `hold`, the blobs only this image needs keep their last byte until
 * the verdict and lose it on deny.
 */
#include "proxy/gate.h"

#include <dirent.h>
#include <sys/stat.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cache/redis.h"
#include "common/alloc.h"
#include "common/digest.h"
#include "common/error.h"
#include "common/log.h"
#include "policy/policy.h"
#include "proxy/gate_store.h"
#include "proxy/registry.h"
#include "scanner/layer_result.h"
#include "scanner/layer_scan.h"
#include "scanner/report.h"
#include "scanner/vulndb.h"
#include "scanner/workpool.h"

/* Largest verdict file of `portcullis cache import` loaded at start. */
#define GATE_MAX_VERDICT_FILE (16u << 20)
/* Layers one image may have before it is refused as unscannable. */
#define GATE_MAX_LAYERS 256
/* Largest image config blob read, in bytes. */
#define GATE_MAX_CONFIG_BYTES (4u << 20)
/* Interval at which a replica waiting on another's scan polls Redis. */
#define GATE_REMOTE_POLL_MS 500

#define MEDIA_TYPE_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MEDIA_TYPE_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

struct job;

struct layer_task {
	struct job *job;
	size_t index;
	char digest[DIGEST_MAX_LEN + 1];
	char media_type[256];
	struct registry_prefetch *prefetch;
	struct scan_source *src;
	int fd;
	bool submitted;       /* handed to the worker pool */
	bool done;
	int err;
	struct layer_result res;
	struct layer_task *next_done;  /* completion queue link */
};

struct gate_wait {
	struct gate_wait *next;
	struct job *job;
	gate_done_fn done;
	void *arg;
	struct event *timer;
	bool in_check;      /* gate_check() is still on the stack */
	bool delivered;     /* decided while in_check: gate_check frees it */
};

enum job_state {
	JOB_LOOKUP,      /* verdict lookup in memory and Redis */
	JOB_LOCK,        /* asking Redis for the scan lock */
	JOB_REMOTE,      /* another replica scans: poll Redis for the verdict */
	JOB_SCAN,        /* fetching and scanning */
	JOB_DONE,
};

struct job {
	struct job *next;
	struct gate *g;
	enum job_state state;
	char key[600];                 /* digest:policy hash:db version */
	char digest[DIGEST_MAX_LEN + 1];
	char *upstream;
	char *repository;
	char *reference;
	char *media_type;
	json_t *manifest;
	json_t *layers_meta;           /* [{"digest","size","media_type"}] */
	json_t *config;
	struct layer_task *tasks;
	size_t n_tasks;
	size_t n_done;
	size_t reused;
	struct registry_prefetch *config_fetch;
	int config_fd;
	bool config_done;
	char *config_error;
	struct gate_wait *waiters;
	struct event *poll;
	struct policy *policy;         /* the policy when the job started */
	int holds;                     /* blobs held for this job */
	int refs;                      /* callbacks in flight that name the job */
};

struct gate {
	struct event_base *base;
	struct registry *reg;
	struct redis *redis;
	struct gate_store *store;
	struct workpool *pool;
	struct policy *policy;
	struct policy **retired;       /* replaced policies jobs may still use */
	size_t n_retired;
	struct vulndb *db;
	struct vulndb **retired_dbs;
	size_t n_retired_dbs;
	char *db_path;
	unsigned manifest_wait_s;
	bool offline;
	bool closing;
	struct job *jobs;
	json_t *holds;                 /* digest -> pending jobs needing it */
	json_t *released;              /* digest -> true: an allowed image has it */
	json_t *denied;                /* digest -> true: only refused images have it */
	json_t *flipped;               /* decisions changed by the last re-evaluation */
	pthread_mutex_t lock;          /* guards done_head */
	struct layer_task *done_head;
	struct event *done_ev;
	struct event *counters_timer;
};

static void job_maybe_finish(struct job *job);
static void job_decide(struct job *job, json_t *verdict);

/* ---- keys and small helpers ---- */

static const char *
db_version(const struct gate *g)
{
	return g->db != NULL ? vulndb_version(g->db) : "none";
}

/*
 * The verdict key: manifest digest, policy hash, database version, and the
 * repository, because rules, overrides and exceptions can name
 * repositories, so one image can pass under one name and fail under another.
 */
static void
verdict_key(const struct gate *g, const char *digest, const char *repository,
    char *out, size_t outlen)
{
	snprintf(out, outlen, "%s:%s:%s:%s", digest, policy_hash(g->policy),
	    db_version(g), repository);
}

/* Layer results are keyed by layer digest and scanner version. */
static void
layer_key(const char *digest, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s:%s", digest, SCANNER_VERSION);
}

static bool
is_image_config(const char *mt)
{
	return mt != NULL && (strcmp(mt, MEDIA_TYPE_OCI_CONFIG) == 0 ||
	    strcmp(mt, MEDIA_TYPE_DOCKER_CONFIG) == 0);
}

/* ---- held blobs ---- */

static void
hold_add(struct gate *g, const char *digest, int delta)
{
	json_int_t n = json_integer_value(json_object_get(g->holds, digest)) + delta;

	if (n <= 0)
		json_object_del(g->holds, digest);
	else
		json_object_set_new(g->holds, digest, json_integer(n));
}

static void
job_hold_blobs(struct job *job, int delta)
{
	struct gate *g = job->g;
	const char *cfg = json_string_value(json_object_get(
	    json_object_get(job->manifest, "config"), "digest"));

	if (cfg != NULL)
		hold_add(g, cfg, delta);
	for (size_t i = 0; i < job->n_tasks; i++)
		hold_add(g, job->tasks[i].digest, delta);
	job->holds += delta;
}

/* Marks the job's blobs released (allow) or denied, then wakes streams. */
static void
job_settle_blobs(struct job *job, bool allowed)
{
	struct gate *g = job->g;
	json_t *digests = json_array();
	const char *cfg = json_string_value(json_object_get(
	    json_object_get(job->manifest, "config"), "digest"));
	size_t i;
	json_t *d;

	if (job->holds > 0)
		job_hold_blobs(job, -1);
	if (cfg != NULL)
		json_array_append_new(digests, json_string(cfg));
	for (i = 0; i < job->n_tasks; i++)
		json_array_append_new(digests, json_string(job->tasks[i].digest));
	json_array_foreach(digests, i, d) {
		const char *s = json_string_value(d);

		if (allowed) {
			json_object_set_new(g->released, s, json_true());
			json_object_del(g->denied, s);
		} else if (json_object_get(g->released, s) == NULL) {
			json_object_set_new(g->denied, s, json_true());
		}
		if (g->reg != NULL)
			registry_blob_wake(g->reg, s);
	}
	json_decref(digests);
}

static int
gate_blob_hold(struct gate *g, const char *digest)
{
	if (json_object_get(g->released, digest) != NULL)
		return 0;
	if (json_object_get(g->holds, digest) != NULL)
		return 1;
	if (json_object_get(g->denied, digest) != NULL)
		return -1;
	return 0;
}

/* ---- job life ---- */

static void
job_free(struct job *job)
{
	struct job **pp = &job->g->jobs;

	while (*pp != NULL && *pp != job)
		pp = &(*pp)->next;
	if (*pp == job)
		*pp = job->next;
	for (size_t i = 0; i < job->n_tasks; i++) {
		struct layer_task *t = &job->tasks[i];

		if (t->prefetch != NULL)
			registry_prefetch_cancel(t->prefetch);
		if (t->src != NULL)
			scan_source_free(t->src);
		if (t->fd >= 0)
			close(t->fd);
		layer_result_free(&t->res);
	}
	if (job->config_fetch != NULL)
		registry_prefetch_cancel(job->config_fetch);
	if (job->config_fd >= 0)
		close(job->config_fd);
	if (job->poll != NULL)
		event_free(job->poll);
	pc_free(job->tasks);
	pc_free(job->upstream);
	pc_free(job->repository);
	pc_free(job->reference);
	pc_free(job->media_type);
	pc_free(job->config_error);
	json_decref(job->manifest);
	json_decref(job->layers_meta);
	json_decref(job->config);
	pc_free(job);
}

static void
waiter_free(struct gate_wait *w)
{
	if (w->timer != NULL)
		event_free(w->timer);
	pc_free(w);
}

static void
waiter_unlink(struct gate_wait *w)
{
	struct gate_wait **pp = &w->job->waiters;

	while (*pp != NULL && *pp != w)
		pp = &(*pp)->next;
	if (*pp == w)
		*pp = w->next;
}

/* The job is finished with once it has a verdict and no scan running. */
static void
job_release_if_idle(struct job *job)
{
	if (job->state != JOB_DONE || job->waiters != NULL || job->refs > 0)
		return;
	for (size_t i = 0; i < job->n_tasks; i++) {
		if (job->tasks[i].submitted && !job->tasks[i].done)
			return;
	}
	job_free(job);
}

/* ---- decisions ---- */

static void
deliver(struct gate_wait *w, enum gate_action action, const char *message,
    const char *verdict)
{
	struct gate_decision d = {action, message, verdict};

	w->done(w->arg, &d);
}

static void
decide_waiters(struct job *job, json_t *verdict)
{
	struct gate *g = job->g;
	const char *decision = json_string_value(json_object_get(verdict, "decision"));
	const char *summary = json_string_value(json_object_get(verdict, "summary"));
	bool deny = decision != NULL && strcmp(decision, "deny") == 0;
	bool audit = policy_mode(job->policy) == POLICY_MODE_AUDIT;
	char message[1024];

	snprintf(message, sizeof(message), "denied by policy: %s; report %s on the "
	    "portcullis admin endpoint /reports/%s", summary ? summary : "",
	    job->digest, job->digest);
	while (job->waiters != NULL) {
		struct gate_wait *w = job->waiters;

		job->waiters = w->next;
		if (deny && !audit)
			deliver(w, GATE_DENY, message, "deny");
		else
			deliver(w, GATE_ALLOW, NULL, deny ? "audit" : "allow");
		if (w->in_check)
			w->delivered = true;
		else
			waiter_free(w);
	}
	(void)g;
}

static json_t *
recent_entry(const struct job *job, json_t *verdict)
{
	return json_pack("{s:s, s:s, s:s?, s:s?, s:O?, s:O?, s:O?, s:O?, s:O?}",
	    "digest", job->digest, "repository", job->repository,
	    "reference", job->reference, "upstream", job->upstream,
	    "decision", json_object_get(verdict, "decision"),
	    "mode", json_object_get(verdict, "mode"),
	    "score", json_object_get(verdict, "score"),
	    "summary", json_object_get(verdict, "summary"),
	    "evaluated_at", json_object_get(verdict, "evaluated_at"));
}

/* Ends the job with verdict (fresh or cached). */
static void
job_decide(struct job *job, json_t *verdict)
{
	const char *decision = json_string_value(json_object_get(verdict, "decision"));
	bool allowed = decision == NULL || strcmp(decision, "deny") != 0 ||
	    policy_mode(job->policy) == POLICY_MODE_AUDIT;

	job->state = JOB_DONE;
	job_settle_blobs(job, allowed);
	decide_waiters(job, verdict);
}

/* Records a verdict this replica computed. */
static void
job_record(struct job *job, json_t *report, json_t *verdict)
{
	struct gate *g = job->g;
	const char *decision = json_string_value(json_object_get(verdict, "decision"));
	bool audit = policy_mode(job->policy) == POLICY_MODE_AUDIT;
	json_t *record;
	json_t *entry;
	char name[64];
	char ref[200];

	json_object_set_new(verdict, "report_id", json_string(job->digest));
	json_object_set_new(verdict, "repository", json_string(job->repository));
	json_object_set_new(verdict, "upstream", json_string(job->upstream));
	gate_store_put(g->store, GATE_STORE_VERDICT, job->key, verdict);

	record = json_pack("{s:O, s:O, s:O?, s:{s:s, s:s, s:s?, s:s?, s:O}}",
	    "verdict", verdict, "report", report, "config", job->config,
	    "image", "digest", job->digest,
	    "repository", job->repository, "reference", job->reference,
	    "upstream", job->upstream, "layers", job->layers_meta);
	if (record != NULL) {
		gate_store_put(g->store, GATE_STORE_REPORT, job->digest, record);
		json_decref(record);
	}
	entry = recent_entry(job, verdict);
	if (entry != NULL) {
		gate_store_add_recent(g->store, entry);
		json_decref(entry);
	}
	snprintf(name, sizeof(name), "verdicts_%s", decision ? decision : "unknown");
	gate_store_count(g->store, name, 1);
	gate_store_count(g->store, "scans", 1);
	if (audit && decision != NULL && strcmp(decision, "deny") == 0) {
		gate_store_count(g->store, "audit_denies", 1);
		log_warn("event=audit_deny name=%s ref=%s digest=%s summary=\"%s\"",
		    job->repository, log_quote(ref, sizeof(ref), job->reference),
		    job->digest, json_string_value(json_object_get(verdict, "summary")));
	}
	{
		json_t *blocked = json_object_get(verdict, "blocked_by");
		char *blocked_text = json_array_size(blocked) > 0 ?
		    json_dumps(blocked, JSON_COMPACT) : NULL;

		log_info("event=verdict name=%s ref=%s digest=%s decision=%s score=%.1f "
		    "blocked_by=%s layers=%zu reused=%zu", job->repository,
		    log_quote(ref, sizeof(ref), job->reference), job->digest,
		    decision ? decision : "-",
		    json_number_value(json_object_get(verdict, "score")),
		    blocked_text ? blocked_text : "-", job->n_tasks, job->reused);
		pc_free(blocked_text);
	}
	gate_store_unlock(g->store, job->key);
}

/* All layers and the config are in: report, policy, verdict. */
static void
job_evaluate(struct job *job)
{
	struct gate *g = job->g;
	json_t **layers = pc_calloc(job->n_tasks ? job->n_tasks : 1, sizeof(*layers));
	struct report_image img;
	json_t *report = NULL;
	json_t *verdict = NULL;
	int64_t size = 0;
	size_t i;
	json_t *l;
	char platform[64] = "";
	int err;

	if (layers == NULL) {
		log_error("event=gate_failed digest=%s error=\"out of memory\"", job->digest);
		return;
	}
	for (i = 0; i < job->n_tasks; i++)
		layers[i] = job->tasks[i].res.root;
	json_array_foreach(job->layers_meta, i, l)
		size += json_integer_value(json_object_get(l, "size"));
	size += json_integer_value(json_object_get(json_object_get(job->manifest,
	    "config"), "size"));
	if (job->config != NULL)
		snprintf(platform, sizeof(platform), "%s/%s",
		    json_string_value(json_object_get(job->config, "os")) ?: "linux",
		    json_string_value(json_object_get(job->config, "architecture")) ?: "amd64");

	memset(&img, 0, sizeof(img));
	img.repository = job->repository;
	img.reference = job->reference;
	img.digest = job->digest;
	img.media_type = job->media_type;
	img.platform = platform[0] ? platform : NULL;
	img.size = size;
	img.config = job->config;
	img.layers = job->layers_meta;
	err = report_build(&img, layers, job->n_tasks, g->db, &report);
	pc_free(layers);
	if (err == PC_OK && job->config_error != NULL) {
		json_array_append_new(json_object_get(report, "errors"), json_pack(
		    "{s:s, s:s}", "kind", "scan_error", "message", job->config_error));
	}
	if (err == PC_OK)
		err = policy_evaluate(job->policy, report, job->repository, time(NULL),
		    &verdict);
	if (err != PC_OK) {
		/* A report that cannot be built is a failed scan: refuse. */
		log_error("event=gate_failed digest=%s error=\"%s\"", job->digest,
		    pc_strerror(err));
		verdict = json_pack("{s:s, s:s, s:f, s:s}", "decision", "deny",
		    "mode", policy_mode(job->policy) == POLICY_MODE_AUDIT ? "audit" : "enforce",
		    "score", 0.0, "summary", "the image could not be scanned");
		if (report == NULL)
			report = json_object();
	}
	job_record(job, report, verdict);
	job_decide(job, verdict);
	json_decref(report);
	json_decref(verdict);
}

static void
job_maybe_finish(struct job *job)
{
	if (job->state != JOB_SCAN || job->n_done < job->n_tasks || !job->config_done)
		return;
	job_evaluate(job);
}

/* ---- layer scanning ---- */

static void
scan_worker(void *arg)
{
	struct layer_task *t = arg;
	struct gate *g = t->job->g;

	t->err = layer_scan_run(t->src, t->media_type, t->digest, NULL, &t->res);
	pthread_mutex_lock(&g->lock);
	t->next_done = g->done_head;
	g->done_head = t;
	pthread_mutex_unlock(&g->lock);
	event_active(g->done_ev, EV_READ, 1);
}

static void
task_finished(struct layer_task *t)
{
	struct job *job = t->job;
	struct gate *g = job->g;

	t->done = true;
	job->n_done++;
	if (t->err == PC_OK) {
		char key[DIGEST_MAX_LEN + 32];

		layer_key(t->digest, key, sizeof(key));
		gate_store_put(g->store, GATE_STORE_LAYER, key, t->res.root);
	}
	else
		log_warn("event=layer_scan_failed digest=%s layer=%s error=%s",
		    job->digest, t->digest, pc_strerror(t->err));
	gate_store_count(g->store, "layers_scanned", 1);
	job_maybe_finish(job);
}

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gate *g = arg;
	struct layer_task *list;

	pthread_mutex_lock(&g->lock);
	list = g->done_head;
	g->done_head = NULL;
	pthread_mutex_unlock(&g->lock);
	while (list != NULL) {
		struct layer_task *next = list->next_done;
		struct job *job = list->job;

		job->refs++;
		task_finished(list);
		job->refs--;
		job_release_if_idle(job);
		list = next;
	}
}

static void
task_on_start(void *arg, int fd, int64_t size)
{
	struct layer_task *t = arg;

	t->fd = fd;
	t->src = scan_source_growing_new(fd);
	if (t->src == NULL || workpool_submit(t->job->g->pool, scan_worker, t) != PC_OK) {
		t->err = PC_ERR_NOMEM;
		return;
	}
	t->submitted = true;
}

static void
task_on_progress(void *arg, uint64_t available)
{
	struct layer_task *t = arg;

	if (t->src != NULL)
		scan_source_growing_update(t->src, available);
}

static void
task_on_done(void *arg, int err)
{
	struct layer_task *t = arg;

	t->prefetch = NULL;
	if (t->src != NULL && t->submitted) {
		/* The worker reports when it has read to the end or failed. */
		scan_source_growing_finish(t->src, err);
		return;
	}
	/* Never started: the fetch failed before the first byte. */
	layer_result_add_error(&t->res, "scan_error", err == PC_ERR_NOTFOUND ?
	    "layer not found upstream" : "layer could not be fetched");
	t->err = err != PC_OK ? err : PC_ERR_IO;
	t->job->refs++;
	task_finished(t);
	t->job->refs--;
	job_release_if_idle(t->job);
}

static const struct registry_prefetch_callbacks task_callbacks = {
	.on_start = task_on_start,
	.on_progress = task_on_progress,
	.on_done = task_on_done,
};

static void
task_start_scan(struct layer_task *t)
{
	struct job *job = t->job;
	int err = registry_prefetch_blob(job->g->reg, job->upstream, job->repository,
	    t->digest, &task_callbacks, t, &t->prefetch);

	if (err != PC_OK) {
		t->prefetch = NULL;
		layer_result_add_error(&t->res, "scan_error", "layer could not be fetched");
		t->err = err;
		task_finished(t);
	}
}

static void
task_cached(void *arg, json_t *value)
{
	struct layer_task *t = arg;
	struct job *job = t->job;

	if (job->g->closing) {
		job->refs--;
		json_decref(value);
		return;
	}
	if (value != NULL && json_is_object(value)) {
		layer_result_free(&t->res);
		t->res.root = value;
		t->done = true;
		job->n_done++;
		job->reused++;
		gate_store_count(job->g->store, "layers_reused", 1);
		job_maybe_finish(job);
	} else {
		json_decref(value);
		task_start_scan(t);
	}
	job->refs--;
	job_release_if_idle(job);
}

/* ---- the config blob ---- */

static void
config_on_start(void *arg, int fd, int64_t size)
{
	struct job *job = arg;

	job->config_fd = fd;
}

static void
config_on_progress(void *arg, uint64_t available)
{
}

static void
config_on_done(void *arg, int err)
{
	struct job *job = arg;
	char *buf = NULL;
	size_t len = 0;
	json_error_t jerr;

	job->config_fetch = NULL;
	job->config_done = true;
	if (err == PC_OK && job->config_fd >= 0) {
		buf = pc_malloc(GATE_MAX_CONFIG_BYTES);
		while (buf != NULL && len < GATE_MAX_CONFIG_BYTES) {
			ssize_t n = pread(job->config_fd, buf + len, GATE_MAX_CONFIG_BYTES - len,
			    (off_t)len);

			if (n <= 0)
				break;
			len += (size_t)n;
		}
		if (buf != NULL)
			job->config = json_loadb(buf, len, 0, &jerr);
		pc_free(buf);
	}
	if (job->config == NULL)
		job->config_error = pc_strdup(err == PC_OK ?
		    "the image config is not valid JSON" : "the image config could not be fetched");
	job->refs++;
	job_maybe_finish(job);
	job->refs--;
	job_release_if_idle(job);
}

static const struct registry_prefetch_callbacks config_callbacks = {
	.on_start = config_on_start,
	.on_progress = config_on_progress,
	.on_done = config_on_done,
};

static void
job_start_scan(struct job *job)
{
	struct gate *g = job->g;
	const char *cfg = json_string_value(json_object_get(json_object_get(job->manifest,
	    "config"), "digest"));

	job->state = JOB_SCAN;
	log_info("event=scan_started name=%s digest=%s layers=%zu", job->repository,
	    job->digest, job->n_tasks);
	if (registry_prefetch_blob(g->reg, job->upstream, job->repository, cfg,
	    &config_callbacks, job, &job->config_fetch) != PC_OK) {
		job->config_fetch = NULL;
		job->config_done = true;
		job->config_error = pc_strdup("the image config could not be fetched");
	}
	for (size_t i = 0; i < job->n_tasks; i++) {
		char key[DIGEST_MAX_LEN + 32];

		layer_key(job->tasks[i].digest, key, sizeof(key));
		job->refs++;
		gate_store_get(g->store, GATE_STORE_LAYER, key, task_cached, &job->tasks[i]);
	}
	job_maybe_finish(job);
}

/* ---- lookup, lock, remote wait ---- */

static void job_poll_remote(evutil_socket_t fd, short what, void *arg);

static void
remote_verdict(void *arg, json_t *verdict)
{
	struct job *job = arg;
	struct timeval tv = {0, GATE_REMOTE_POLL_MS * 1000};

	if (job->g->closing) {
		job->refs--;
		json_decref(verdict);
		return;
	}
	if (verdict != NULL) {
		job_decide(job, verdict);
		json_decref(verdict);
	} else if (redis_state(job->g->redis) != REDIS_STATE_CONNECTED) {
		/* The replica we waited for cannot tell us: scan here. */
		job_start_scan(job);
	} else {
		if (job->poll == NULL)
			job->poll = evtimer_new(job->g->base, job_poll_remote, job);
		evtimer_add(job->poll, &tv);
	}
	job->refs--;
	job_release_if_idle(job);
}

static void
job_poll_remote(evutil_socket_t fd, short what, void *arg)
{
	struct job *job = arg;

	job->refs++;
	gate_store_get(job->g->store, GATE_STORE_VERDICT, job->key, remote_verdict, job);
}

static void
lock_result(void *arg, int taken)
{
	struct job *job = arg;

	if (job->g->closing) {
		job->refs--;
		return;
	}
	if (taken) {
		job_start_scan(job);
		job->refs--;
		job_release_if_idle(job);
		return;
	}
	log_info("event=scan_elsewhere digest=%s reason=\"another replica has the "
	    "scan lock\"", job->digest);
	job->state = JOB_REMOTE;
	/* remote_verdict takes over this callback's reference. */
	remote_verdict(job, NULL);
}

static void
lookup_result(void *arg, json_t *verdict)
{
	struct job *job = arg;

	if (job->g->closing) {
		job->refs--;
		json_decref(verdict);
		return;
	}
	if (verdict != NULL) {
		gate_store_count(job->g->store, "verdicts_cached", 1);
		job_decide(job, verdict);
		json_decref(verdict);
		job->refs--;
		job_release_if_idle(job);
		return;
	}
	job->state = JOB_LOCK;
	/* lock_result takes over this callback's reference. */
	gate_store_lock(job->g->store, job->key, lock_result, job);
}

/* ---- entry points ---- */

static int
job_parse_manifest(struct job *job, const struct gate_request *req)
{
	json_t *layers;
	json_t *l;
	size_t i;

	job->manifest = json_loadb(req->manifest, req->manifest_len, 0, NULL);
	layers = json_object_get(job->manifest, "layers");
	if (!json_is_array(layers) || json_array_size(layers) > GATE_MAX_LAYERS)
		return PC_ERR_INVALID;
	job->n_tasks = json_array_size(layers);
	job->tasks = pc_calloc(job->n_tasks ? job->n_tasks : 1, sizeof(*job->tasks));
	job->layers_meta = json_array();
	if (job->tasks == NULL || job->layers_meta == NULL)
		return PC_ERR_NOMEM;
	json_array_foreach(layers, i, l) {
		struct layer_task *t = &job->tasks[i];
		const char *d = json_string_value(json_object_get(l, "digest"));
		const char *mt = json_string_value(json_object_get(l, "mediaType"));

		t->job = job;
		t->index = i;
		t->fd = -1;
		if (d == NULL || !digest_is_sha256(d))
			return PC_ERR_INVALID;
		snprintf(t->digest, sizeof(t->digest), "%s", d);
		snprintf(t->media_type, sizeof(t->media_type), "%s", mt ? mt : "");
		if (layer_result_init(&t->res, d) != PC_OK)
			return PC_ERR_NOMEM;
		json_array_append_new(job->layers_meta, json_pack("{s:s, s:I, s:s}",
		    "digest", d, "size", json_integer_value(json_object_get(l, "size")),
		    "media_type", t->media_type));
	}
	return PC_OK;
}

static struct job *
job_new(struct gate *g, const struct gate_request *req, const char *key)
{
	struct job *job = pc_calloc(1, sizeof(*job));

	if (job == NULL)
		return NULL;
	job->g = g;
	job->config_fd = -1;
	snprintf(job->key, sizeof(job->key), "%s", key);
	snprintf(job->digest, sizeof(job->digest), "%s", req->digest);
	job->upstream = pc_strdup(req->upstream);
	job->repository = pc_strdup(req->repository);
	job->reference = pc_strdup(req->reference);
	job->media_type = pc_strdup(req->media_type);
	job->policy = g->policy;
	if (job->upstream == NULL || job->repository == NULL || job->reference == NULL ||
	    job->media_type == NULL || job_parse_manifest(job, req) != PC_OK) {
		job_free(job);
		return NULL;
	}
	job->next = g->jobs;
	g->jobs = job;
	job_hold_blobs(job, 1);
	return job;
}

static void
waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct gate_wait *w = arg;
	struct job *job = w->job;
	enum policy_unscanned u = policy_unscanned(job->policy);

	waiter_unlink(w);
	log_info("event=manifest_wait_expired name=%s digest=%s unscanned=%s",
	    job->repository, job->digest, u == POLICY_UNSCANNED_HOLD ? "hold" :
	    u == POLICY_UNSCANNED_DENY ? "deny" : "allow");
	if (u == POLICY_UNSCANNED_DENY)
		deliver(w, GATE_DENY, "image scan in progress; retry in a few seconds",
		    "unscanned");
	else if (u == POLICY_UNSCANNED_ALLOW)
		deliver(w, GATE_ALLOW, NULL, "unscanned");
	else
		deliver(w, GATE_HOLD, NULL, "hold");
	waiter_free(w);
	job_release_if_idle(job);
}

static unsigned
gate_wait_seconds(const struct gate *g)
{
	bool is_set = false;
	int s = policy_manifest_wait(g->policy, &is_set);

	return is_set && s >= 0 ? (unsigned)s : g->manifest_wait_s;
}

static struct gate_wait *
gate_check(struct gate *g, const struct gate_request *req, gate_done_fn done,
    void *arg)
{
	char key[600];
	json_t *verdict;
	struct job *job;
	struct gate_wait *w;
	struct timeval tv = {(time_t)gate_wait_seconds(g), 0};
	json_t *m;
	const char *cfg_type;
	bool image;
	struct gate_decision allow = {GATE_ALLOW, NULL, "allow"};

	/* The cached verdict first: it needs only the digest. */
	verdict_key(g, req->digest, req->repository, key, sizeof(key));
	verdict = gate_store_get_local(g->store, GATE_STORE_VERDICT, key);
	if (verdict != NULL) {
		struct job tmp;

		memset(&tmp, 0, sizeof(tmp));
		tmp.policy = g->policy;
		snprintf(tmp.digest, sizeof(tmp.digest), "%s", req->digest);
		w = pc_calloc(1, sizeof(*w));
		if (w != NULL) {
			w->done = done;
			w->arg = arg;
			tmp.waiters = w;
			decide_waiters(&tmp, verdict);
		}
		json_decref(verdict);
		return NULL;
	}

	m = json_loadb(req->manifest, req->manifest_len, 0, NULL);
	cfg_type = json_string_value(json_object_get(json_object_get(m, "config"),
	    "mediaType"));
	image = is_image_config(cfg_type);
	json_decref(m);
	if (!image) {
		/* Signatures, attestations and other artifacts are not images. */
		allow.verdict = "-";
		done(arg, &allow);
		return NULL;
	}

	for (job = g->jobs; job != NULL; job = job->next) {
		if (strcmp(job->key, key) == 0 && job->state != JOB_DONE)
			break;
	}
	w = pc_calloc(1, sizeof(*w));
	if (w == NULL) {
		struct gate_decision deny = {GATE_DENY, "out of memory", "deny"};

		done(arg, &deny);
		return NULL;
	}
	w->done = done;
	w->arg = arg;
	w->in_check = true;
	if (job == NULL) {
		job = job_new(g, req, key);
		if (job == NULL) {
			struct gate_decision deny = {GATE_DENY,
			    "the image manifest could not be read for scanning", "deny"};

			pc_free(w);
			done(arg, &deny);
			return NULL;
		}
		w->job = job;
		w->next = job->waiters;
		job->waiters = w;
		job->refs += 2;  /* one for this call, one for the lookup callback */
		gate_store_get(g->store, GATE_STORE_VERDICT, key, lookup_result, job);
		job->refs--;
		/* Released below (or by the timer and the verdict) when idle. */
	} else {
		w->job = job;
		w->next = job->waiters;
		job->waiters = w;
	}
	w->in_check = false;
	if (w->delivered) {
		/* The verdict was already known: delivered during this call. */
		waiter_free(w);
		job_release_if_idle(job);
		return NULL;
	}
	w->timer = evtimer_new(g->base, waiter_timeout, w);
	if (w->timer != NULL)
		evtimer_add(w->timer, &tv);
	return w;
}

static void
gate_cancel(struct gate_wait *w)
{
	struct job *job = w->job;

	waiter_unlink(w);
	waiter_free(w);
	job_release_if_idle(job);
}

static int
gate_ops_blob_hold(struct gate *g, const char *digest)
{
	return gate_blob_hold(g, digest);
}

const struct gate_ops gate_ops_default = {
	.check = gate_check,
	.cancel = gate_cancel,
	.blob_hold = gate_ops_blob_hold,
};

/* ---- set-up, reload, re-evaluation ---- */

static int
gate_open_db(const char *path, struct vulndb **out, char *errbuf, size_t errlen)
{
	char reason[256] = "";
	int err;

	*out = NULL;
	if (path == NULL)
		return PC_OK;
	err = vulndb_open(path, out, reason, sizeof(reason));
	if (err != PC_OK)
		snprintf(errbuf, errlen, "cannot open vulnerability database %s: %s", path,
		    reason[0] ? reason : pc_strerror(err));
	return err;
}

static void
counters_tick(evutil_socket_t fd, short what, void *arg)
{
	struct gate *g = arg;
	struct timeval tv = {5, 0};

	gate_store_refresh_counters(g->store);
	gate_check_db(g);
	evtimer_add(g->counters_timer, &tv);
}

/*
 * Loads the verdicts `portcullis cache import` wrote to DIR/verdicts, so an
 * imported image is judged before its first pull. A verdict counts only
 * under the policy and database it was made with, like any other.
 */
static void
load_import_verdicts(struct gate *g, const char *cache_dir)
{
	char dir[4096];
	char path[4352];
	DIR *d;
	struct dirent *e;
	size_t loaded = 0;

	snprintf(dir, sizeof(dir), "%s/verdicts", cache_dir);
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		json_error_t jerr;
		json_t *record;
		json_t *verdict;
		const char *digest;
		const char *ph;
		const char *dv;
		char key[600];
		struct stat st;

		if (e->d_name[0] == '.' || strstr(e->d_name, ".json") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) != 0 || st.st_size > GATE_MAX_VERDICT_FILE) {
			log_warn("event=import_verdict_skipped file=%s reason=\"unreadable or "
			    "larger than 16 MiB\"", path);
			continue;
		}
		record = json_load_file(path, 0, &jerr);
		verdict = json_object_get(record, "verdict");
		digest = json_string_value(json_object_get(json_object_get(record, "image"),
		    "digest"));
		ph = json_string_value(json_object_get(verdict, "policy_hash"));
		dv = json_string_value(json_object_get(verdict, "db_version"));
		if (!json_is_object(verdict) || digest == NULL || ph == NULL) {
			log_warn("event=import_verdict_skipped file=%s reason=\"not a verdict "
			    "record\"", path);
			json_decref(record);
			continue;
		}
		snprintf(key, sizeof(key), "%s:%s:%s:%s", digest, ph, dv ? dv : "none",
		    json_string_value(json_object_get(json_object_get(record, "image"),
		    "repository")) ?: "-");
		gate_store_put(g->store, GATE_STORE_VERDICT, key, verdict);
		gate_store_put(g->store, GATE_STORE_REPORT, digest, record);
		json_decref(record);
		loaded++;
	}
	closedir(d);
	if (loaded > 0)
		log_info("event=import_verdicts_loaded count=%zu dir=%s", loaded, dir);
}

int
gate_new(const struct gate_config *cfg, struct gate **out, char *errbuf,
    size_t errlen)
{
	struct gate *g = pc_calloc(1, sizeof(*g));
	struct timeval tv = {1, 0};
	int err;

	if (g == NULL)
		return PC_ERR_NOMEM;
	g->base = cfg->base;
	g->redis = cfg->redis;
	g->manifest_wait_s = cfg->manifest_wait_s;
	g->offline = cfg->offline;
	pthread_mutex_init(&g->lock, NULL);
	g->holds = json_object();
	g->released = json_object();
	g->denied = json_object();
	g->flipped = json_array();
	err = policy_load(cfg->policy_file, &g->policy, errbuf, errlen);
	if (err == PC_OK)
		err = gate_open_db(cfg->db_path, &g->db, errbuf, errlen);
	if (err == PC_OK && cfg->db_path != NULL &&
	    (g->db_path = pc_strdup(cfg->db_path)) == NULL)
		err = PC_ERR_NOMEM;
	if (err == PC_OK)
		err = gate_store_new(cfg->redis, &g->store);
	if (err == PC_OK) {
		g->pool = workpool_new(cfg->workers ? cfg->workers : 2);
		g->done_ev = event_new(g->base, -1, 0, done_cb, g);
		g->counters_timer = evtimer_new(g->base, counters_tick, g);
		if (g->pool == NULL || g->done_ev == NULL || g->counters_timer == NULL)
			err = PC_ERR_NOMEM;
	}
	if (err != PC_OK) {
		gate_free(g);
		return err;
	}
	if (cfg->cache_dir != NULL)
		load_import_verdicts(g, cfg->cache_dir);
	evtimer_add(g->counters_timer, &tv);
	log_info("event=gate_ready policy=%s policy_hash=%s db=%s db_version=%s",
	    cfg->policy_file, policy_hash(g->policy), cfg->db_path ? cfg->db_path : "-",
	    db_version(g));
	*out = g;
	return PC_OK;
}

void
gate_set_registry(struct gate *g, struct registry *reg)
{
	g->reg = reg;
}

void
gate_mark_closing(struct gate *g)
{
	g->closing = true;
}

void
gate_free(struct gate *g)
{
	if (g == NULL)
		return;
	g->closing = true;
	/* Unblock scans waiting for bytes, then wait for the workers. */
	for (struct job *job = g->jobs; job != NULL; job = job->next) {
		for (size_t i = 0; i < job->n_tasks; i++) {
			if (job->tasks[i].src != NULL)
				scan_source_growing_finish(job->tasks[i].src, PC_ERR_IO);
		}
	}
	workpool_free(g->pool);
	while (g->jobs != NULL) {
		struct job *job = g->jobs;

		while (job->waiters != NULL) {
			struct gate_wait *w = job->waiters;

			job->waiters = w->next;
			waiter_free(w);
		}
		job_free(job);
	}
	if (g->done_ev != NULL)
		event_free(g->done_ev);
	if (g->counters_timer != NULL)
		event_free(g->counters_timer);
	gate_store_free(g->store);
	policy_free(g->policy);
	for (size_t i = 0; i < g->n_retired; i++)
		policy_free(g->retired[i]);
	pc_free(g->retired);
	if (g->db != NULL)
		vulndb_close(g->db);
	for (size_t i = 0; i < g->n_retired_dbs; i++)
		vulndb_close(g->retired_dbs[i]);
	pc_free(g->retired_dbs);
	pc_free(g->db_path);
	json_decref(g->holds);
	json_decref(g->released);
	json_decref(g->denied);
	json_decref(g->flipped);
	pthread_mutex_destroy(&g->lock);
	pc_free(g);
}

/* Rebuilds the verdict of one known image from cached layer results. */
static void
reevaluate_one(struct gate *g, const char *digest)
{
	json_t *record = gate_store_get_local(g->store, GATE_STORE_REPORT, digest);
	json_t *image = json_object_get(record, "image");
	json_t *layers_meta = json_object_get(image, "layers");
	const char *old = json_string_value(json_object_get(json_object_get(record,
	    "verdict"), "decision"));
	const char *repo = json_string_value(json_object_get(image, "repository"));
	size_t n = json_array_size(layers_meta);
	json_t **layers = pc_calloc(n ? n : 1, sizeof(*layers));
	struct report_image img;
	json_t *report = NULL;
	json_t *verdict = NULL;
	char key[600];
	size_t i;
	json_t *l;
	bool complete = layers != NULL && repo != NULL;

	json_array_foreach(layers_meta, i, l) {
		char lkey[DIGEST_MAX_LEN + 32];
		const char *d = json_string_value(json_object_get(l, "digest"));

		if (layers == NULL || d == NULL) {
			complete = false;
			break;
		}
		layer_key(d, lkey, sizeof(lkey));
		layers[i] = gate_store_get_local(g->store, GATE_STORE_LAYER, lkey);
		if (layers[i] == NULL)
			complete = false;
	}
	if (complete) {
		memset(&img, 0, sizeof(img));
		img.repository = repo;
		img.reference = json_string_value(json_object_get(image, "reference"));
		img.digest = digest;
		img.config = json_object_get(record, "config");
		img.layers = layers_meta;
		if (report_build(&img, layers, n, g->db, &report) == PC_OK &&
		    policy_evaluate(g->policy, report, repo, time(NULL), &verdict) == PC_OK) {
			const char *now = json_string_value(json_object_get(verdict, "decision"));

			json_object_set_new(verdict, "report_id", json_string(digest));
			json_object_set_new(verdict, "repository", json_string(repo));
			verdict_key(g, digest, repo, key, sizeof(key));
			gate_store_put(g->store, GATE_STORE_VERDICT, key, verdict);
			if (old != NULL && now != NULL && strcmp(old, now) != 0) {
				log_warn("event=verdict_flipped name=%s digest=%s from=%s to=%s",
				    repo, digest, old, now);
				json_array_append_new(g->flipped, json_pack("{s:s, s:s, s:s, s:s}",
				    "digest", digest, "repository", repo, "from", old, "to", now));
			}
			json_object_set(record, "verdict", verdict);
			json_object_set(record, "report", report);
			gate_store_put(g->store, GATE_STORE_REPORT, digest, record);
		}
	}
	if (layers != NULL) {
		for (i = 0; i < n; i++)
			json_decref(layers[i]);
	}
	pc_free(layers);
	json_decref(report);
	json_decref(verdict);
	json_decref(record);
}

static void
reevaluate_all(struct gate *g)
{
	json_t *keys = gate_store_report_keys(g->store);
	size_t i;
	json_t *k;

	json_array_clear(g->flipped);
	json_array_foreach(keys, i, k)
		reevaluate_one(g, json_string_value(k));
	log_info("event=reevaluated images=%zu flipped=%zu", json_array_size(keys),
	    json_array_size(g->flipped));
	json_decref(keys);
}

static int
retire(void ***list, size_t *n, void *item)
{
	void **grown = pc_reallocarray(*list, *n + 1, sizeof(*grown));

	if (grown == NULL)
		return PC_ERR_NOMEM;
	grown[(*n)++] = item;
	*list = grown;
	return PC_OK;
}

int
gate_reload(struct gate *g, const char *policy_file, const char *db_path,
    unsigned manifest_wait_s, char *errbuf, size_t errlen)
{
	struct policy *policy = NULL;
	struct vulndb *db = NULL;
	int err = policy_load(policy_file, &policy, errbuf, errlen);

	if (err == PC_OK)
		err = gate_open_db(db_path, &db, errbuf, errlen);
	if (err != PC_OK) {
		policy_free(policy);
		return err;
	}
	/* Jobs in flight keep using what they started with. */
	if (retire((void ***)&g->retired, &g->n_retired, g->policy) != PC_OK ||
	    (g->db != NULL && retire((void ***)&g->retired_dbs, &g->n_retired_dbs,
	    g->db) != PC_OK)) {
		policy_free(policy);
		if (db != NULL)
			vulndb_close(db);
		return PC_ERR_NOMEM;
	}
	g->policy = policy;
	g->db = db;
	pc_free(g->db_path);
	g->db_path = db_path != NULL ? pc_strdup(db_path) : NULL;
	g->manifest_wait_s = manifest_wait_s;
	log_info("event=gate_reloaded policy_hash=%s db_version=%s", policy_hash(policy),
	    db_version(g));
	reevaluate_all(g);
	return PC_OK;
}

void
gate_check_db(struct gate *g)
{
	struct vulndb *db = NULL;
	char errbuf[300];

	if (g->db == NULL || g->db_path == NULL || !vulndb_changed(g->db))
		return;
	if (gate_open_db(g->db_path, &db, errbuf, sizeof(errbuf)) != PC_OK) {
		log_warn("event=db_reload_failed error=\"%s\"", errbuf);
		return;
	}
	if (retire((void ***)&g->retired_dbs, &g->n_retired_dbs, g->db) != PC_OK) {
		vulndb_close(db);
		return;
	}
	g->db = db;
	log_info("event=db_reloaded db_version=%s", db_version(g));
	reevaluate_all(g);
}

json_t *
gate_stats(struct gate *g)
{
	json_t *out = gate_store_counters(g->store);
	const json_t *info = g->db != NULL ? vulndb_info(g->db) : NULL;
	size_t pending = 0;

	for (struct job *job = g->jobs; job != NULL; job = job->next)
		pending += job->state != JOB_DONE;
	json_object_set_new(out, "jobs_in_progress", json_integer((json_int_t)pending));
	json_object_set_new(out, "blobs_held", json_integer((json_int_t)json_object_size(g->holds)));
	json_object_set_new(out, "policy_hash", json_string(policy_hash(g->policy)));
	json_object_set_new(out, "db_version", json_string(db_version(g)));
	if (info != NULL) {
		const char *imported = json_string_value(json_object_get(info, "imported"));
		struct tm tm;

		json_object_set_new(out, "db", json_deep_copy(info));
		memset(&tm, 0, sizeof(tm));
		if (imported != NULL && strptime(imported, "%Y-%m-%dT%H:%M:%SZ", &tm) != NULL)
			json_object_set_new(out, "db_age_seconds",
			    json_integer((json_int_t)(time(NULL) - timegm(&tm))));
	}
	json_object_set(out, "flipped", g->flipped);
	json_object_set_new(out, "redis", json_string(redis_state_name(redis_state(g->redis))));
	return out;
}

json_t *
gate_verdicts(struct gate *g, const char *decision, const char *repository,
    size_t limit)
{
	json_t *all = gate_store_recent(g->store);
	json_t *out = json_array();
	size_t i;
	json_t *v;

	json_array_foreach(all, i, v) {
		const char *d = json_string_value(json_object_get(v, "decision"));
		const char *r = json_string_value(json_object_get(v, "repository"));

		if (json_array_size(out) >= limit)
			break;
		if (decision != NULL && (d == NULL || strcmp(d, decision) != 0))
			continue;
		if (repository != NULL && (r == NULL || strcmp(r, repository) != 0))
			continue;
		json_array_append(out, v);
	}
	json_decref(all);
	return out;
}

json_t *
gate_report(struct gate *g, const char *digest)
{
	return gate_store_get_local(g->store, GATE_STORE_REPORT, digest);
}
