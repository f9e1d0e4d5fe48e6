#ifndef PORTCULLIS_PROXY_ADMIN_H
#define PORTCULLIS_PROXY_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "proxy/http.h"

/*
 * The admin listener: /healthz, /readyz, /stats (JSON), /metrics
 * (Prometheus text format), /verdicts and /reports/<digest> when a gate is
 * configured. A bearer token, when set, is required on everything but
 * /healthz.
 */

struct admin;

/* Health of one upstream, from the periodic probe of its /v2/. */
struct admin_upstream_health {
	const char *name;
	bool up;
	int last_status;
	double last_seconds;
	uint64_t probes;
	uint64_t failures;
};

/*
 * The sources /stats reads. stats() fills a JSON object with sections
 * ("requests", "cache", "upstreams", ...); metrics are derived from the
 * same object, so both always agree.
 */
struct admin_source {
	void *arg;
	json_t *(*stats)(void *arg);
	bool (*ready)(void *arg, const char **why);
	/* Optional: GET /verdicts and /reports/<digest>. */
	json_t *(*verdicts)(void *arg, const char *decision, const char *repo,
	    size_t limit);
	json_t *(*report)(void *arg, const char *digest);
};

int admin_new(const struct admin_source *src, struct admin **out);
void admin_free(struct admin *a);

/* Reads the token file; NULL turns the token off. Returns PC_OK or an error. */
int admin_set_token_file(struct admin *a, const char *path);

/* The http_handler_fn of the admin listener; arg is the admin. */
void admin_handle(struct http_exchange *x, void *arg);

/*
 * Renders a stats object as Prometheus text; the caller frees the result.
 * Returns NULL when memory runs out; past 4 MiB the text ends after the
 * last whole line.
 */
char *admin_metrics_text(const json_t *stats);

#endif
