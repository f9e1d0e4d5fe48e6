#ifndef PORTCULLIS_PROXY_GATE_H
#define PORTCULLIS_PROXY_GATE_H

#include <stddef.h>

/*
 * The seam between serving and judging: the registry asks the gate about
 * every image manifest (not about indexes, which pass) before it answers a
 * GET or HEAD of it.
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
 * What the registry calls; the gate module (proxy/gate.c) provides one
 * implementation. Without a gate every image passes.
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
};

#endif
