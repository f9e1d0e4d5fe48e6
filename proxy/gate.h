#ifndef PORTCULLIS_PROXY_GATE_H
#define PORTCULLIS_PROXY_GATE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/*
 * The seam between serving and judging: the registry consults the gate on
 * every image manifest (not on indexes, which pass) before it responds to
 * a GET or HEAD of it.
 */

struct gate;
struct gate_wait;

struct gate_request {
	const char *upstream;     /* configured upstream name */
	const char *repository;   /* canonical repository name */
	const char *reference;    /* tag or digest the client asked for */
	const char *digest;       /* manifest digest */
	const char *media_type;
	const char *manifest;     /* manifest bytes */
	size_t manifest_len;
	const char *user;         /* authenticated user, or NULL */
};

enum gate_action {
	GATE_ALLOW,   /* serve the manifest */
	GATE_DENY,    /* 403 DENIED with message */
	GATE_HOLD,    /* serve, but hold back the end of this image's blobs */
};

struct gate_decision {
	enum gate_action action;
	const char *message;   /* one line for the client on deny */
	const char *verdict;   /* for the access log: allow, deny, hold, audit */
};

typedef void (*gate_done_fn)(void *arg, const struct gate_decision *d);

/*
 * The operations the registry calls; the gate module (proxy/gate.c)
 * provides one implementation. Without a gate every image passes.
 */
struct gate_ops {
	/*
	 * Asks for a decision. done may run before check() returns, in which
	 * case NULL is returned; otherwise the returned handle stays valid
	 * until done runs or cancel() is called.
	 */
	struct gate_wait *(*check)(struct gate *g, const struct gate_request *req,
	    gate_done_fn done, void *arg);
	/* Drops a pending check; done will not run. */
	void (*cancel)(struct gate_wait *w);
	/*
	 * Whether streams of blob digest may send their last byte: 0 yes, 1
	 * hold it (an image that needs the blob is still being judged), -1
	 * abort (only denied images need it). The gate calls
	 * registry_blob_wake() when the result changes.
	 */
	int (*blob_hold)(struct gate *g, const char *digest);
};

/*
 * The gate of portcullis (proxy/gate.c): every image manifest is judged
 * once per manifest digest, policy hash, database version and repository.
 * Its layers are fetched through the registry's shared downloads and
 * scanned as they stream on a pool of worker threads. Layer results are
 * cached by layer digest and scanner version, and verdicts by their key,
 * in Redis when it is up and in process always. So a new image on a known
 * base scans only its new layers, and a policy or database change
 * re-evaluates images without fetching anything.
 */
struct event_base;
struct registry;
struct redis;

struct gate_config {
	struct event_base *base;
	struct redis *redis;          /* may be NULL or down */
	const char *policy_file;
	const char *db_path;          /* NULL: no vulnerability matching */
	unsigned manifest_wait_s;     /* used unless the policy sets its own */
	unsigned workers;             /* scan threads */
	bool offline;
	const char *cache_dir;        /* its verdicts/ folder contains imported verdicts */
};

int gate_new(const struct gate_config *cfg, struct gate **out, char *errbuf,
    size_t errlen);

/* The registry the gate prefetches blobs through; set once, before use. */
void gate_set_registry(struct gate *g, struct registry *reg);

/* Makes callbacks that arrive during shutdown do nothing. */
void gate_mark_closing(struct gate *g);

void gate_free(struct gate *g);

/* The operations the registry calls. */
extern const struct gate_ops gate_ops_default;

/*
 * Loads the policy and database again (after SIGHUP or a new database
 * file). On success the cached verdicts of known images are evaluated
 * anew in the background and images whose decision flipped are logged
 * and listed in gate_stats(). On failure the old ones stay.
 */
int gate_reload(struct gate *g, const char *policy_file, const char *db_path,
    unsigned manifest_wait_s, char *errbuf, size_t errlen);

/* Reloads the database when its file changed; call periodically. */
void gate_check_db(struct gate *g);

/* {"scans", "layers_scanned", "layers_reused", "verdicts": {...}, ...} */
json_t *gate_stats(struct gate *g);

/* Recent decisions, newest first; decision and repository may be NULL. */
json_t *gate_verdicts(struct gate *g, const char *decision,
    const char *repository, size_t limit);

/* The full report and verdict of a manifest digest, or NULL. */
json_t *gate_report(struct gate *g, const char *digest);

#endif
