#include "proxy/registry.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "cache/manifest_cache.h"
#include "proxy/auth.h"
#include "proxy/registry_internal.h"
#include "proxy/upstream.h"

/* Largest tags/list or referrers body relayed from an upstream. */
#define REGISTRY_MAX_RELAY_BYTES (8u << 20)

int
registry_new(const struct registry_deps *deps, struct registry **out)
{
	struct registry *reg = pc_calloc(1, sizeof(*reg));

	if (reg == NULL)
		return PC_ERR_NOMEM;
	reg->route_ups = pc_calloc(deps->n_upstreams ? deps->n_upstreams : 1,
	    sizeof(*reg->route_ups));
	if (reg->route_ups == NULL) {
		pc_free(reg);
		return PC_ERR_NOMEM;
	}
	reg->base = deps->base;
	reg->upstreams = deps->upstreams;
	reg->n_upstreams = deps->n_upstreams;
	reg->blobs = deps->blobs;
	reg->manifests = deps->manifests;
	reg->gate = deps->gate;
	reg->gate_ops = deps->gate_ops;
	reg->auth = deps->auth;
	reg->tag_ttl_s = deps->tag_ttl_s;
	reg->offline = deps->offline;
	for (size_t i = 0; i < deps->n_upstreams; i++) {
		reg->route_ups[i].name = deps->upstreams[i].name;
		reg->route_ups[i].docker_hub = deps->upstreams[i].docker_hub;
	}
	*out = reg;
	return PC_OK;
}

void
registry_free(struct registry *reg)
{
	if (reg == NULL)
		return;
	registry_inflight_cancel_all(reg);
	pc_free(reg->route_ups);
	pc_free(reg);
}

void
registry_set_tag_ttl(struct registry *reg, unsigned tag_ttl_s)
{
	reg->tag_ttl_s = tag_ttl_s;
}

void
registry_set_offline(struct registry *reg, bool offline)
{
	reg->offline = offline;
}

void
registry_stats(const struct registry *reg, struct registry_stats *out)
{
	*out = reg->stats;
}

void
registry_common_headers(struct http_exchange *x)
{
	http_add_header(x, "Docker-Distribution-API-Version", "registry/2.0");
}

void
registry_error(struct http_exchange *x, int status, const char *code,
    const char *message)
{
	json_t *body = json_pack("{s:[{s:s, s:s}]}", "errors", "code", code,
	    "message", message);
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

	registry_common_headers(x);
	if (text == NULL)
		http_respond_bytes(x, status, "application/json", "{}", 2);
	else
		http_respond_bytes(x, status, "application/json", text, strlen(text));
	pc_free(text);
	json_decref(body);
}

void
registry_upstream_error(struct http_exchange *x, int status,
    const char *retry_after, const char *notfound_code, const char *what)
{
	char msg[300];

	http_exchange_log(x)->upstream_status = status;
	if (status == 404) {
		snprintf(msg, sizeof(msg), "%s not found upstream", what);
		registry_error(x, 404, notfound_code, msg);
	} else if (status == 429) {
		http_add_header(x, "Retry-After", retry_after != NULL ? retry_after : "30");
		snprintf(msg, sizeof(msg), "the upstream registry is rate-limiting "
		    "requests for %s; retry later", what);
		registry_error(x, 429, "TOOMANYREQUESTS", msg);
	} else if (status == 401 || status == 403) {
		snprintf(msg, sizeof(msg), "the upstream registry denied access to %s",
		    what);
		registry_error(x, 403, "DENIED", msg);
	} else {
		if (retry_after != NULL)
			http_add_header(x, "Retry-After", retry_after);
		if (status == 0)
			snprintf(msg, sizeof(msg), "the upstream registry is unreachable "
			    "for %s", what);
		else
			snprintf(msg, sizeof(msg), "the upstream registry failed for %s "
			    "(status %d)", what, status);
		registry_error(x, 503, "UNAVAILABLE", msg);
	}
}

void
registry_scope(const struct route *r, char *out, size_t outlen)
{
	snprintf(out, outlen, "repository:%s:pull", r->name);
}

static void
handle_ping(struct http_exchange *x)
{
	registry_common_headers(x);
	http_respond_bytes(x, 200, "application/json", "{}", 2);
}

/*
 * tags/list and referrers: relayed from the upstream with status, body
 * and Link header; a rewritten repository name is mapped back in Link.
 */
struct relay {
	struct registry *reg;
	struct http_exchange *x;
	struct upstream_fetch *fetch;
	struct route route;
	struct buf body;
	int status;
	char *content_type;
	char *link;
	char *filters;
	bool failed;
};

static void
relay_free(struct relay *rl)
{
	buf_free(&rl->body);
	pc_free(rl->content_type);
	pc_free(rl->link);
	pc_free(rl->filters);
	pc_free(rl);
}

static void
relay_on_abort(struct http_exchange *x, void *arg)
{
	struct relay *rl = arg;

	if (rl->fetch != NULL)
		upstream_fetch_cancel(rl->fetch);
	relay_free(rl);
}

static int
relay_on_headers(void *arg, const struct upstream_response *r)
{
	struct relay *rl = arg;
	const char *link = upstream_response_header(r, "link");
	const char *filters = upstream_response_header(r, "oci-filters-applied");

	rl->status = r->status;
	if (r->content_type != NULL)
		rl->content_type = pc_strdup(r->content_type);
	if (link != NULL)
		rl->link = pc_strdup(link);
	if (filters != NULL)
		rl->filters = pc_strdup(filters);
	return 0;
}

static int
relay_on_data(void *arg, const void *data, size_t len)
{
	struct relay *rl = arg;

	if (buf_append(&rl->body, data, len) != PC_OK) {
		rl->failed = true;
		return -1;
	}
	return 0;
}

/* Maps the upstream's Link path back to the name the client used. */
static void
relay_add_link(struct relay *rl)
{
	const struct route *r = &rl->route;
	char upstream_path[600];
	char client_path[600];
	char rewritten[2048];
	const char *at;

	snprintf(upstream_path, sizeof(upstream_path), "/v2/%s/", r->name);
	snprintf(client_path, sizeof(client_path), "/v2/%s%s/", r->prefix,
	    r->client_name);
	at = strstr(rl->link, upstream_path);
	if (at == NULL || strcmp(upstream_path, client_path) == 0) {
		http_add_header(rl->x, "Link", rl->link);
		return;
	}
	snprintf(rewritten, sizeof(rewritten), "%.*s%s%s",
	    (int)(at - rl->link), rl->link, client_path, at + strlen(upstream_path));
	http_add_header(rl->x, "Link", rewritten);
}

static void
relay_on_done(void *arg, int err, const struct upstream_response *r,
    const char *errmsg)
{
	struct relay *rl = arg;
	struct http_exchange *x = rl->x;
	const char *what = rl->route.kind == ROUTE_TAGS ? "the tag list" :
	    "the referrers list";

	rl->fetch = NULL;
	http_exchange_on_abort(x, NULL, NULL);
	if (err != PC_OK || rl->failed) {
		rl->reg->stats.upstream_errors++;
		log_warn("event=upstream_failed name=%s what=relay error=%s",
		    rl->route.name, errmsg != NULL ? errmsg : pc_strerror(err));
		registry_upstream_error(x, 0, NULL, "NAME_UNKNOWN", what);
	} else if (rl->status == 200) {
		http_exchange_log(x)->upstream_status = 200;
		registry_common_headers(x);
		if (rl->link != NULL)
			relay_add_link(rl);
		if (rl->filters != NULL)
			http_add_header(x, "OCI-Filters-Applied", rl->filters);
		http_respond_bytes(x, 200, rl->content_type != NULL ?
		    rl->content_type : "application/json", rl->body.data ?
		    rl->body.data : "", rl->body.len);
	} else {
		registry_upstream_error(x, rl->status, r ? r->retry_after : NULL,
		    rl->route.kind == ROUTE_TAGS ? "NAME_UNKNOWN" : "MANIFEST_UNKNOWN",
		    what);
	}
	relay_free(rl);
}

static const struct upstream_callbacks relay_callbacks = {
	.on_headers = relay_on_headers,
	.on_data = relay_on_data,
	.on_done = relay_on_done,
};

/* Builds the upstream path for a relayed request, keeping the query but
 * dropping ns, which only selects the upstream here. */
static void
relay_path(const struct route *r, const struct http_request *req, char *out,
    size_t outlen)
{
	struct buf q;
	const char *p = req->query;

	buf_init(&q, 4096);
	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (!(len >= 3 && strncmp(p, "ns=", 3) == 0)) {
			if (q.len > 0)
				buf_append(&q, "&", 1);
			buf_append(&q, p, len);
		}
		p = end ? end + 1 : NULL;
	}
	if (r->kind == ROUTE_TAGS)
		snprintf(out, outlen, "/v2/%s/tags/list%s%s", r->name,
		    q.len ? "?" : "", q.len ? q.data : "");
	else
		snprintf(out, outlen, "/v2/%s/referrers/%s%s%s", r->name, r->reference,
		    q.len ? "?" : "", q.len ? q.data : "");
	buf_free(&q);
}

static void
handle_tags_offline(struct registry *reg, struct http_exchange *x,
    const struct route *r)
{
	json_t *tags = NULL;
	json_t *body;
	char *text;

	if (tag_cache_list(reg->manifests, reg->upstreams[r->upstream].name,
	    r->name, &tags) != PC_OK || json_array_size(tags) == 0) {
		json_decref(tags);
		registry_error(x, 404, "NAME_UNKNOWN",
		    "repository not in the cache of this offline proxy");
		return;
	}
	body = json_pack("{s:s, s:o}", "name", r->client_name, "tags", tags);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	registry_common_headers(x);
	if (text == NULL)
		registry_error(x, 500, "UNKNOWN", "out of memory");
	else
		http_respond_bytes(x, 200, "application/json", text, strlen(text));
	pc_free(text);
	json_decref(body);
}

static void
handle_relay(struct registry *reg, struct http_exchange *x, const struct route *r)
{
	struct relay *rl;
	char path[1200];
	char scope[400];
	const char *headers[1] = {"Accept: application/json"};
	struct upstream_request req;

	if (strcmp(http_exchange_request(x)->method, "GET") != 0 &&
	    strcmp(http_exchange_request(x)->method, "HEAD") != 0) {
		registry_error(x, 405, "UNSUPPORTED", "this registry is read-only");
		return;
	}
	if (reg->offline || reg->upstreams[r->upstream].client == NULL) {
		if (r->kind == ROUTE_TAGS)
			handle_tags_offline(reg, x, r);
		else
			registry_error(x, 404, "MANIFEST_UNKNOWN",
			    "referrers are not available on this offline proxy");
		return;
	}
	rl = pc_calloc(1, sizeof(*rl));
	if (rl == NULL) {
		registry_error(x, 500, "UNKNOWN", "out of memory");
		return;
	}
	rl->reg = reg;
	rl->x = x;
	rl->route = *r;
	buf_init(&rl->body, REGISTRY_MAX_RELAY_BYTES);
	relay_path(r, http_exchange_request(x), path, sizeof(path));
	registry_scope(r, scope, sizeof(scope));
	req.method = "GET";
	req.path = path;
	req.scope = scope;
	req.headers = headers;
	req.n_headers = 1;
	if (r->kind == ROUTE_REFERRERS)
		headers[0] = "Accept: " MEDIA_TYPE_OCI_INDEX;
	if (upstream_fetch(reg->upstreams[r->upstream].client, &req,
	    &relay_callbacks, rl, &rl->fetch) != PC_OK) {
		relay_free(rl);
		registry_error(x, 500, "UNKNOWN", "cannot start the upstream request");
		return;
	}
	http_exchange_on_abort(x, relay_on_abort, rl);
}

/*
 * Authenticates and authorises the request when access control is on.
 * Returns true when the request may go on; otherwise the error response
 * has been sent.
 */
static bool
registry_authorize(struct registry *reg, struct http_exchange *x,
    const struct route *r, struct auth_result *res_out)
{
	const struct http_request *req = http_exchange_request(x);
	struct http_log_fields *lf = http_exchange_log(x);
	struct auth_result res;
	const char *repository = NULL;
	char scoped[ROUTE_NAME_MAX * 2];

	if (reg->auth == NULL)
		return true;
	if (r->kind == ROUTE_MANIFEST || r->kind == ROUTE_BLOB ||
	    r->kind == ROUTE_TAGS || r->kind == ROUTE_REFERRERS) {
		/* Rules name repositories as the client sees them. */
		snprintf(scoped, sizeof(scoped), "%s", r->name);
		repository = scoped;
	}
	if (auth_check(reg->auth, req, repository, req->client_subject, &res) == AUTH_OK) {
		snprintf(lf->user, sizeof(lf->user), "%s", res.user);
		*res_out = res;
		return true;
	}
	snprintf(lf->user, sizeof(lf->user), "%s", res.user);
	for (size_t i = 0; i < res.n_headers; i++)
		http_add_header(x, res.headers[i].name, res.headers[i].value);
	registry_error(x, res.status, res.code != NULL ? res.code : "UNKNOWN",
	    res.message);
	return false;
}

static bool
method_is_read(const char *method)
{
	return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

void
registry_handle(struct http_exchange *x, void *arg)
{
	struct registry *reg = arg;
	const struct http_request *req = http_exchange_request(x);
	struct http_log_fields *lf = http_exchange_log(x);
	struct route r;
	struct auth_result who;
	struct auth_result *held = NULL;

	reg->stats.requests++;
	route_parse(req->path, req->query, reg->route_ups, reg->n_upstreams, &r);
	snprintf(lf->name, sizeof(lf->name), "%s", r.name[0] ? r.name : "-");
	snprintf(lf->reference, sizeof(lf->reference), "%s",
	    r.reference[0] ? r.reference : "-");
	if (!registry_authorize(reg, x, &r, &who))
		return;
	if (reg->auth != NULL && r.kind == ROUTE_BLOB && strcmp(req->method, "GET") == 0) {
		/* Concurrent blob downloads count against the client and user. */
		if (auth_stream_acquire(reg->auth, &who) != AUTH_OK) {
			for (size_t i = 0; i < who.n_headers; i++)
				http_add_header(x, who.headers[i].name, who.headers[i].value);
			registry_error(x, who.status, who.code ? who.code : "TOOMANYREQUESTS",
			    who.message);
			return;
		}
		held = pc_malloc(sizeof(*held));
		if (held == NULL) {
			auth_stream_release(reg->auth, &who);
			registry_error(x, 503, "UNAVAILABLE", "out of memory");
			return;
		}
		*held = who;
	}

	if (r.kind == ROUTE_UPLOAD || r.kind == ROUTE_CATALOG ||
	    (r.kind != ROUTE_ERROR && !method_is_read(req->method))) {
		http_add_header(x, "Allow", "GET, HEAD");
		registry_error(x, 405, "UNSUPPORTED",
		    "this registry is a read-only pull-through cache");
		return;
	}
	if (r.by_ns)
		http_add_header(x, "OCI-Namespace", reg->upstreams[r.upstream >= 0 ?
		    r.upstream : 0].name);

	switch (r.kind) {
	case ROUTE_PING:
		handle_ping(x);
		break;
	case ROUTE_MANIFEST:
		registry_handle_manifest(reg, x, &r);
		break;
	case ROUTE_BLOB:
		registry_handle_blob(reg, x, &r, held);
		held = NULL;
		break;
	case ROUTE_TAGS:
	case ROUTE_REFERRERS:
		handle_relay(reg, x, &r);
		break;
	case ROUTE_ERROR:
		registry_error(x, r.error_status, r.error_code, r.error_message);
		break;
	case ROUTE_CATALOG:
	case ROUTE_UPLOAD:
		break;
	}
	if (held != NULL) {
		auth_stream_release(reg->auth, held);
		pc_free(held);
	}
}

int
registry_parse_range(const char *value, uint64_t size, uint64_t *start,
    uint64_t *end)
{
	const char *spec;
	const char *dash;
	uint64_t a;
	uint64_t b;

	if (value == NULL || strncmp(value, "bytes=", 6) != 0)
		return 200;
	spec = value + 6;
	while (*spec == ' ')
		spec++;
	if (strchr(spec, ',') != NULL)
		return 200;  /* several ranges: a full 200 is allowed */
	dash = strchr(spec, '-');
	if (dash == NULL)
		return 200;

	if (dash == spec) {
		/* bytes=-S: the last S bytes */
		if (http_parse_u64(dash + 1, strlen(dash + 1), &b) != PC_OK)
			return 200;
		if (b == 0 || size == 0)
			return 416;
		*start = b >= size ? 0 : size - b;
		*end = size - 1;
		return 206;
	}
	if (http_parse_u64(spec, (size_t)(dash - spec), &a) != PC_OK)
		return 200;
	if (dash[1] == '\0') {
		b = UINT64_MAX;
	} else if (http_parse_u64(dash + 1, strlen(dash + 1), &b) != PC_OK || b < a) {
		return 200;
	}
	if (a >= size)
		return 416;
	*start = a;
	*end = b >= size ? size - 1 : b;
	return 206;
}
