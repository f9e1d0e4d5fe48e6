/*
 * Manifests: by digest from the immutable manifest cache, by tag through
 * the tag cache keyed by the client's accept class. A tag older than
 * tag_ttl is revalidated with an upstream HEAD (free of Docker Hub pull
 * quota) and served stale when the upstream fails or rate-limits.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cache/manifest_cache.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/digest.h"
#include "common/error.h"
#include "common/log.h"
#include "proxy/cache_import.h"
#include "proxy/gate.h"
#include "proxy/registry_internal.h"
#include "proxy/upstream.h"

/* Most Accept header values merged from one request. */
#define MANIFEST_MAX_ACCEPT_VALUES 32
/* Longest Accept header sent upstream. */
#define MANIFEST_MAX_ACCEPT_BYTES 2048

enum mreq_phase {
	MREQ_REVALIDATE,   /* HEAD by tag to check a cached digest */
	MREQ_FETCH,        /* GET by tag or digest */
};

struct mreq {
	struct registry *reg;
	struct http_exchange *x;
	struct route r;
	unsigned accept_class;
	char accept[MANIFEST_MAX_ACCEPT_BYTES];
	enum mreq_phase phase;
	struct upstream_fetch *fetch;
	struct gate_wait *gate_wait;
	struct buf body;
	int status;
	char *content_type;
	char *digest_header;
	char *retry_after;
	bool too_large;
	bool have_stale;
	struct tag_entry stale;
	/* The manifest being served, once known. */
	char digest[DIGEST_MAX_LEN + 1];
	char *media_type;
	char *data;
	size_t len;
	const char *cache_result;
};

static void mreq_fetch(struct mreq *m, enum mreq_phase phase);

static void
mreq_free(struct mreq *m)
{
	buf_free(&m->body);
	pc_free(m->content_type);
	pc_free(m->digest_header);
	pc_free(m->retry_after);
	pc_free(m->media_type);
	pc_free(m->data);
	pc_free(m);
}

static void
mreq_on_abort(struct http_exchange *x, void *arg)
{
	struct mreq *m = arg;

	if (m->fetch != NULL)
		upstream_fetch_cancel(m->fetch);
	if (m->gate_wait != NULL)
		m->reg->gate_ops->cancel(m->gate_wait);
	mreq_free(m);
}

/* Ends the request: after this m is gone and x belongs to the front end. */
static void
mreq_detach(struct mreq *m)
{
	http_exchange_on_abort(m->x, NULL, NULL);
	mreq_free(m);
}

static bool
is_index_type(const char *mt)
{
	return strcmp(mt, MEDIA_TYPE_OCI_INDEX) == 0 ||
	    strcmp(mt, MEDIA_TYPE_DOCKER_LIST) == 0;
}

static void
respond_manifest(struct mreq *m, const char *verdict)
{
	struct http_exchange *x = m->x;
	const char *inm = http_request_header(http_exchange_request(x), "if-none-match");
	char etag[DIGEST_MAX_LEN + 3];
	struct http_log_fields *lf = http_exchange_log(x);

	lf->cache = m->cache_result;
	lf->verdict = verdict;
	snprintf(etag, sizeof(etag), "\"%s\"", m->digest);
	registry_common_headers(x);
	http_add_header(x, "Docker-Content-Digest", m->digest);
	http_add_header(x, "ETag", etag);
	if (inm != NULL && (strcmp(inm, etag) == 0 || strcmp(inm, m->digest) == 0)) {
		http_respond(x, 304, -1, NULL, NULL, NULL, NULL);
		mreq_detach(m);
		return;
	}
	http_respond_bytes(x, 200, m->media_type, m->data, m->len);
	mreq_detach(m);
}

static void
mreq_gate_done(void *arg, const struct gate_decision *d)
{
	struct mreq *m = arg;

	m->gate_wait = NULL;
	if (d->action == GATE_DENY) {
		m->reg->stats.denied++;
		http_exchange_log(m->x)->cache = m->cache_result;
		http_exchange_log(m->x)->verdict = d->verdict;
		registry_error(m->x, 403, "DENIED", d->message);
		mreq_detach(m);
		return;
	}
	respond_manifest(m, d->verdict);
}

/* Image manifests pass the gate first; indexes are gated per platform. */
static void
serve_manifest(struct mreq *m)
{
	struct gate_request gr;

	if (!accept_class_allows(m->accept_class, m->media_type)) {
		registry_error(m->x, 404, "MANIFEST_UNKNOWN",
		    "the manifest exists only in a media type the client did not "
		    "accept");
		mreq_detach(m);
		return;
	}
	if (m->reg->gate == NULL || is_index_type(m->media_type)) {
		respond_manifest(m, is_index_type(m->media_type) ? "-" : "allow");
		return;
	}
	memset(&gr, 0, sizeof(gr));
	gr.upstream = m->reg->upstreams[m->r.upstream].name;
	gr.repository = m->r.name;
	gr.reference = m->r.reference;
	gr.digest = m->digest;
	gr.media_type = m->media_type;
	gr.manifest = m->data;
	gr.manifest_len = m->len;
	gr.user = http_exchange_log(m->x)->user;
	m->gate_wait = m->reg->gate_ops->check(m->reg->gate, &gr, mreq_gate_done, m);
}

/* Loads digest from the manifest cache into m; PC_OK or PC_ERR_NOTFOUND. */
static int
load_cached(struct mreq *m, const char *digest)
{
	int err = manifest_cache_get(m->reg->manifests, digest, &m->media_type,
	    &m->data, &m->len);

	if (err == PC_OK)
		snprintf(m->digest, sizeof(m->digest), "%s", digest);
	return err;
}

/* Media type from the body when the upstream sent none or a generic one. */
static char *
media_type_from_body(const char *data, size_t len)
{
	json_t *doc = json_loadb(data, len, 0, NULL);
	const char *mt = json_string_value(json_object_get(doc, "mediaType"));
	char *out = NULL;

	if (mt != NULL)
		out = pc_strdup(mt);
	else if (json_is_array(json_object_get(doc, "manifests")))
		out = pc_strdup(MEDIA_TYPE_OCI_INDEX);
	else if (json_is_object(json_object_get(doc, "config")))
		out = pc_strdup(MEDIA_TYPE_OCI_MANIFEST);
	json_decref(doc);
	return out;
}

static char *
media_type_clean(const char *content_type)
{
	size_t len = strcspn(content_type, ";");

	while (len > 0 && (content_type[len - 1] == ' ' || content_type[len - 1] == '\t'))
		len--;
	return pc_strndup(content_type, len);
}

static void
mreq_fail_upstream(struct mreq *m, int status)
{
	m->reg->stats.upstream_errors++;
	registry_upstream_error(m->x, status, m->retry_after, "MANIFEST_UNKNOWN",
	    "the manifest");
	mreq_detach(m);
}

/* Serves the stale tag entry after an upstream failure, if there is one. */
static bool
mreq_serve_stale(struct mreq *m, int status, const char *why)
{
	char ref[200];

	if (!m->have_stale || load_cached(m, m->stale.digest) != PC_OK)
		return false;
	m->reg->stats.manifest_stale++;
	m->cache_result = "stale";
	log_warn("event=tag_served_stale name=%s ref=%s digest=%s upstream_status=%d "
	    "reason=%s", m->r.name, log_quote(ref, sizeof(ref), m->r.reference),
	    m->stale.digest, status, why);
	http_exchange_log(m->x)->upstream_status = status;
	serve_manifest(m);
	return true;
}

static void
mreq_revalidated(struct mreq *m, const struct upstream_response *r)
{
	struct registry *reg = m->reg;
	const char *up = reg->upstreams[m->r.upstream].name;

	http_exchange_log(m->x)->upstream_status = m->status;
	if (m->status == 200 && m->digest_header != NULL &&
	    strcmp(m->digest_header, m->stale.digest) == 0 &&
	    load_cached(m, m->stale.digest) == PC_OK) {
		tag_cache_touch(reg->manifests, up, m->r.name, m->r.reference,
		    m->accept_class, time(NULL));
		reg->stats.manifest_hits++;
		m->cache_result = "hit";
		serve_manifest(m);
		return;
	}
	if (m->status == 200) {
		/* The tag moved (or the digest is unknown): fetch it anew. */
		m->have_stale = false;
		mreq_fetch(m, MREQ_FETCH);
		return;
	}
	if (m->status == 404) {
		tag_cache_remove(reg->manifests, up, m->r.name, m->r.reference,
		    m->accept_class);
		registry_upstream_error(m->x, 404, NULL, "MANIFEST_UNKNOWN", "the manifest");
		mreq_detach(m);
		return;
	}
	if (!mreq_serve_stale(m, m->status, "revalidation failed"))
		mreq_fail_upstream(m, m->status);
}

static void
mreq_fetched(struct mreq *m)
{
	struct registry *reg = m->reg;
	char computed[DIGEST_SHA256_BUFSIZE];
	const char *expected;
	int err;

	http_exchange_log(m->x)->upstream_status = m->status;
	if (m->status != 200) {
		if (m->status == 404 || !mreq_serve_stale(m, m->status, "fetch failed"))
			mreq_fail_upstream(m, m->status);
		return;
	}
	if (m->too_large) {
		registry_error(m->x, 503, "UNAVAILABLE",
		    "the upstream manifest is larger than the 4 MiB limit");
		mreq_detach(m);
		return;
	}

	sha256_hex(m->body.data ? m->body.data : "", m->body.len, computed);
	expected = m->r.by_digest ? m->r.reference : m->digest_header;
	if (expected != NULL && strcmp(expected, computed) != 0) {
		reg->stats.digest_mismatches++;
		log_warn("event=manifest_digest_mismatch name=%s expected=%s got=%s",
		    m->r.name, expected, computed);
		registry_error(m->x, 503, "UNAVAILABLE",
		    "the upstream sent a manifest that does not match its digest");
		mreq_detach(m);
		return;
	}

	m->media_type = m->content_type != NULL ? media_type_clean(m->content_type) : NULL;
	if (m->media_type == NULL || !media_type_is_valid(m->media_type) ||
	    strcmp(m->media_type, "application/json") == 0 ||
	    strcmp(m->media_type, "application/octet-stream") == 0) {
		pc_free(m->media_type);
		m->media_type = media_type_from_body(m->body.data, m->body.len);
	}
	if (m->media_type == NULL) {
		registry_error(m->x, 503, "UNAVAILABLE",
		    "the upstream sent a manifest without a media type");
		mreq_detach(m);
		return;
	}

	snprintf(m->digest, sizeof(m->digest), "%s", computed);
	m->len = m->body.len;
	m->data = buf_steal(&m->body);
	err = manifest_cache_put(reg->manifests, m->digest, m->media_type, m->data,
	    m->len);
	if (err != PC_OK)
		log_warn("event=manifest_cache_put_failed digest=%s error=%s",
		    m->digest, pc_strerror(err));
	if (!m->r.by_digest && err == PC_OK)
		tag_cache_put(reg->manifests, reg->upstreams[m->r.upstream].name,
		    m->r.name, m->r.reference, m->accept_class, m->digest,
		    m->media_type, m->len, time(NULL));
	reg->stats.manifest_misses++;
	m->cache_result = "miss";
	serve_manifest(m);
}

static int
mreq_on_headers(void *arg, const struct upstream_response *r)
{
	struct mreq *m = arg;

	m->status = r->status;
	if (r->content_type != NULL)
		m->content_type = pc_strdup(r->content_type);
	if (r->digest != NULL)
		m->digest_header = pc_strdup(r->digest);
	if (r->retry_after != NULL)
		m->retry_after = pc_strdup(r->retry_after);
	if (r->status == 200 && r->content_length > (int64_t)MANIFEST_MAX_BYTES) {
		m->too_large = true;
		return -1;
	}
	return 0;
}

static int
mreq_on_data(void *arg, const void *data, size_t len)
{
	struct mreq *m = arg;

	if (buf_append(&m->body, data, len) != PC_OK) {
		m->too_large = true;
		return -1;
	}
	return 0;
}

static void
mreq_on_done(void *arg, int err, const struct upstream_response *r,
    const char *errmsg)
{
	struct mreq *m = arg;

	m->fetch = NULL;
	if (err == UPSTREAM_CANCELLED && m->too_large) {
		m->status = 200;
		mreq_fetched(m);
		return;
	}
	if (err != PC_OK) {
		log_warn("event=upstream_failed name=%s ref=%s error=%s", m->r.name,
		    m->r.reference, errmsg != NULL ? errmsg : pc_strerror(err));
		if (!mreq_serve_stale(m, 0, "upstream unreachable"))
			mreq_fail_upstream(m, 0);
		return;
	}
	if (m->phase == MREQ_REVALIDATE)
		mreq_revalidated(m, r);
	else
		mreq_fetched(m);
}

static const struct upstream_callbacks mreq_callbacks = {
	.on_headers = mreq_on_headers,
	.on_data = mreq_on_data,
	.on_done = mreq_on_done,
};

static void
mreq_fetch(struct mreq *m, enum mreq_phase phase)
{
	struct registry *reg = m->reg;
	struct upstream_request req;
	char path[600];
	char scope[400];
	const char *headers[1];
	int err;

	m->phase = phase;
	m->status = 0;
	buf_reset(&m->body);
	pc_free(m->content_type);
	pc_free(m->digest_header);
	m->content_type = NULL;
	m->digest_header = NULL;

	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", m->r.name, m->r.reference);
	registry_scope(&m->r, scope, sizeof(scope));
	req.method = phase == MREQ_REVALIDATE ? "HEAD" : "GET";
	req.path = path;
	req.scope = scope;
	req.headers = headers;
	req.n_headers = 0;
	if (m->accept[0] != '\0') {
		headers[0] = m->accept;
		req.n_headers = 1;
	}
	err = upstream_fetch(reg->upstreams[m->r.upstream].client, &req,
	    &mreq_callbacks, m, &m->fetch);
	if (err != PC_OK) {
		registry_error(m->x, 500, "UNKNOWN", "cannot start the upstream request");
		mreq_detach(m);
	}
}

/* Merges the client's Accept fields into one header line for upstream. */
static void
collect_accept(struct mreq *m, const struct http_request *req)
{
	const char *values[MANIFEST_MAX_ACCEPT_VALUES];
	size_t n = http_request_headers(req, "accept", values,
	    MANIFEST_MAX_ACCEPT_VALUES);
	size_t used;

	if (n > MANIFEST_MAX_ACCEPT_VALUES)
		n = MANIFEST_MAX_ACCEPT_VALUES;
	m->accept_class = accept_class_from_headers(values, n);
	m->accept[0] = '\0';
	if (n == 0)
		return;
	used = (size_t)snprintf(m->accept, sizeof(m->accept), "Accept: ");
	for (size_t i = 0; i < n && used < sizeof(m->accept); i++)
		used += (size_t)snprintf(m->accept + used, sizeof(m->accept) - used,
		    "%s%s", i > 0 ? ", " : "", values[i]);
}

static void
handle_cached_tag(struct mreq *m)
{
	struct registry *reg = m->reg;
	time_t now = time(NULL);
	time_t checked = m->stale.validated_at > m->stale.fetched_at ?
	    m->stale.validated_at : m->stale.fetched_at;

	if (reg->offline || now - checked < (time_t)reg->tag_ttl_s ||
	    reg->upstreams[m->r.upstream].client == NULL) {
		if (load_cached(m, m->stale.digest) == PC_OK) {
			reg->stats.manifest_hits++;
			m->cache_result = "hit";
			serve_manifest(m);
			return;
		}
		m->have_stale = false;
		if (reg->offline) {
			registry_error(m->x, 404, "MANIFEST_UNKNOWN",
			    "the image was not imported into this offline proxy");
			mreq_detach(m);
			return;
		}
		mreq_fetch(m, MREQ_FETCH);
		return;
	}
	mreq_fetch(m, MREQ_REVALIDATE);
}

/*
 * Offline, a tag imported for other clients' accept classes serves this
 * client too when its manifest's media type is one the client accepts:
 * there is no upstream whose response could differ by class.
 */
static bool
offline_tag_lookup(struct mreq *m, const char *upstream)
{
	unsigned classes[CACHE_IMPORT_MAX_CLASSES];
	size_t n = cache_import_accept_classes(classes);

	for (size_t i = 0; i < n; i++) {
		if (tag_cache_get(m->reg->manifests, upstream, m->r.name, m->r.reference,
		    classes[i], &m->stale) == PC_OK &&
		    accept_class_allows(m->accept_class, m->stale.media_type))
			return true;
	}
	return false;
}

void
registry_handle_manifest(struct registry *reg, struct http_exchange *x,
    const struct route *r)
{
	struct mreq *m = pc_calloc(1, sizeof(*m));
	const char *up = reg->upstreams[r->upstream].name;

	if (m == NULL) {
		registry_error(x, 500, "UNKNOWN", "out of memory");
		return;
	}
	m->reg = reg;
	m->x = x;
	m->r = *r;
	m->cache_result = "-";
	buf_init(&m->body, MANIFEST_MAX_BYTES);
	collect_accept(m, http_exchange_request(x));
	http_exchange_on_abort(x, mreq_on_abort, m);

	if (r->by_digest) {
		if (load_cached(m, r->reference) == PC_OK) {
			reg->stats.manifest_hits++;
			m->cache_result = "hit";
			serve_manifest(m);
			return;
		}
	} else if (tag_cache_get(reg->manifests, up, r->name, r->reference,
	    m->accept_class, &m->stale) == PC_OK ||
	    (reg->offline && offline_tag_lookup(m, up))) {
		m->have_stale = true;
		handle_cached_tag(m);
		return;
	}

	if (reg->offline || reg->upstreams[r->upstream].client == NULL) {
		registry_error(x, 404, "MANIFEST_UNKNOWN",
		    "the image was not imported into this offline proxy");
		mreq_detach(m);
		return;
	}
	mreq_fetch(m, MREQ_FETCH);
}
