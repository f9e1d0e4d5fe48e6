#include "proxy/upstream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "proxy/upstream_auth.h"
#include "proxy/version.h"
#include "proxy/www_auth.h"

/*
 * Body bytes of a response that the client handles itself (a 401 before a
 * retry, a redirect) read and dropped so the connection can be reused.
 * A longer body aborts the transfer, which closes the connection.
 */
#define UPSTREAM_MAX_DRAIN_BYTES (64 * 1024)

/* Longest URL accepted from a config, a redirect or a token realm. */
#define UPSTREAM_MAX_URL_LEN 8192

/* Token refreshes and re-fetches after a 401, per fetch. */
#define UPSTREAM_MAX_AUTH_RETRIES 2

#define USER_AGENT "portcullis/" PORTCULLIS_VERSION

/* CURLOPT_PRIVATE of every easy handle points to a struct that starts with this. */
enum transfer_kind {
	TRANSFER_FETCH,
	TRANSFER_TOKEN,
};

struct upstream_client {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;        /* libcurl's single timeout */
	struct event *reap_event;   /* frees cancelled fetches outside libcurl callbacks */
	struct upstream *upstreams;
	struct upstream_fetch *reap;
};

/* libevent state of one socket libcurl asked us to watch. */
struct socket_watch {
	struct upstream_client *c;
	struct event *ev;
};

/* Scheme, host and port of a URL, for same-origin checks. */
struct origin {
	char scheme[8];
	char *host;
	long port;
};

struct token_request {
	enum transfer_kind kind;
	struct upstream *u;
	struct token_request *next;   /* in u->token_requests */
	char *key;
	char *realm;
	char *service;
	CURL *easy;
	struct curl_slist *headers;
	struct buf body;
	bool body_overflow;
	struct upstream_fetch *waiters;   /* linked through waiter_next */
	char errbuf[CURL_ERROR_SIZE];
};

struct upstream {
	struct upstream_client *c;
	struct upstream *next;
	char *name;
	char *base_url;         /* without a trailing slash */
	struct origin origin;
	char *ca_file;
	bool tls_verify;
	char **realm_hosts;
	size_t n_realm_hosts;
	long connect_timeout_ms;
	long header_timeout_ms;
	long stall_timeout_ms;
	bool http2;
	char *basic_header;     /* "Authorization: Basic ..." or NULL */
	bool basic_required;    /* the upstream sent a Basic challenge */
	char *auth_realm;       /* realm and service of the last token that worked */
	char *auth_service;
	struct token_cache tokens;
	struct token_request *token_requests;
	struct upstream_fetch *fetches;
	struct upstream_stats stats;
};

struct header_field {
	char *name;
	char *value;
};

struct response {
	struct upstream_response pub;
	struct header_field *fields;
	size_t n_fields;
	size_t header_bytes;
};

/* Handling of a response that the client processes itself instead of passing it on. */
enum intercept {
	INTERCEPT_NONE,
	INTERCEPT_REDIRECT,
	INTERCEPT_BEARER,
	INTERCEPT_BASIC,
	INTERCEPT_ERROR,
};

struct upstream_fetch {
	enum transfer_kind kind;
	struct upstream *u;
	struct upstream_client *c;
	struct upstream_fetch *prev;          /* in u->fetches */
	struct upstream_fetch *next;
	struct upstream_fetch *reap_next;     /* in c->reap after a cancel */
	struct upstream_fetch *waiter_next;   /* in waiting->waiters */
	struct token_request *waiting;        /* token request this fetch waits for */
	struct upstream_callbacks cb;
	void *arg;

	bool head;
	char *scope;
	char **lines;
	size_t n_lines;
	char *url;                /* target of the current attempt */

	CURL *easy;
	struct curl_slist *headers;
	char errbuf[CURL_ERROR_SIZE];
	struct event *kick;       /* deferred start or resume */
	struct event *header_timer;
	struct event *stall_timer; /* armed while body bytes are expected and not paused */
	bool start_pending;
	bool resume_pending;

	struct response resp;
	enum intercept intercept;
	int intercept_err;
	char *intercept_msg;
	char *location;           /* resolved redirect target */
	char *realm;              /* from the last Bearer challenge */
	char *service;
	char *challenge_scope;
	size_t drained;

	char *token;              /* token sent, or to send, with the attempt */
	char *token_key;
	bool fresh_token;         /* token came from a token request for this fetch */
	bool use_basic;
	int redirects;
	int auth_retries;

	bool final_headers;       /* on_headers was called */
	int header_err;           /* PC_ERR_LIMIT or PC_ERR_NOMEM while reading headers */
	bool paused;
	bool done_pending;        /* finished while paused; on_done waits for resume */
	int done_err;
	char *done_msg;
	int cancel_err;           /* UPSTREAM_CANCELLED once a callback returned -1 */
	bool cancelled;           /* upstream_fetch_cancel() was called */
	bool finishing;           /* on_done is running */
};

static void fetch_start_attempt(struct upstream_fetch *f);
static void fetch_finish(struct upstream_fetch *f, int err,
    const struct upstream_response *r, const char *errmsg);
static void check_multi_info(struct upstream_client *c);

static char *
strdup_or_null(const char *s)
{
	return s != NULL ? pc_strdup(s) : NULL;
}

/* ------------------------------------------------------------------ */
/* libcurl multi on libevent                                           */
/* ------------------------------------------------------------------ */

static void
on_socket_event(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_client *c = arg;
	int action = 0;
	int running;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(c->multi, fd, action, &running);
	check_multi_info(c);
}

/*
 * Watches fd as libcurl asks. On allocation failure it logs and returns 0
 * instead of -1, because -1 makes libcurl mark the whole multi handle dead;
 * the unwatched transfer then ends through its header or stall timer.
 */
static int
on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct upstream_client *c = userp;
	struct socket_watch *w = socketp;
	short kind;

	if (what == CURL_POLL_REMOVE) {
		if (w != NULL) {
			if (w->ev != NULL)
				event_free(w->ev);
			pc_free(w);
			curl_multi_assign(c->multi, fd, NULL);
		}
		return 0;
	}
	kind = EV_PERSIST;
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (w == NULL) {
		w = pc_calloc(1, sizeof(*w));
		if (w != NULL)
			w->ev = event_new(c->base, fd, kind, on_socket_event, c);
		if (w == NULL || w->ev == NULL) {
			pc_free(w);
			log_error("event=upstream_socket_watch_failed fd=%d error=\"out of memory\"",
			    (int)fd);
			return 0;
		}
		curl_multi_assign(c->multi, fd, w);
	} else {
		/* Reassigning a deleted event is allowed, also from inside its callback. */
		event_del(w->ev);
		event_assign(w->ev, c->base, fd, kind, on_socket_event, c);
	}
	event_add(w->ev, NULL);
	return 0;
}

static void
on_timer_event(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_client *c = arg;
	int running;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_multi_info(c);
}

static int
on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct upstream_client *c = userp;
	struct timeval tv;

	if (timeout_ms < 0)
		return evtimer_del(c->timer);
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(c->timer, &tv);
}

/* ------------------------------------------------------------------ */
/* URLs, origins, credentials                                          */
/* ------------------------------------------------------------------ */

/* Fills o from an absolute http or https URL. */
static int
origin_parse(const char *url, struct origin *o)
{
	CURLU *h = curl_url();
	char *scheme = NULL;
	char *host = NULL;
	char *port = NULL;
	int err = PC_ERR_INVALID;

	memset(o, 0, sizeof(*o));
	if (h == NULL)
		return PC_ERR_NOMEM;
	if (strlen(url) > UPSTREAM_MAX_URL_LEN)
		goto out;
	if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
		goto out;
	if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
		goto out;
	snprintf(o->scheme, sizeof(o->scheme), "%s", scheme);
	for (char *p = o->scheme; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	o->port = strtol(port, NULL, 10);
	o->host = pc_strdup(host);
	if (o->host == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	err = PC_OK;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(h);
	return err;
}

static bool
origin_equal(const struct origin *a, const struct origin *b)
{
	return strcmp(a->scheme, b->scheme) == 0 && strcasecmp(a->host, b->host) == 0 &&
	    a->port == b->port;
}

/* Returns true if url has the upstream's scheme, host and port. */
static bool
url_is_upstream_origin(const struct upstream *u, const char *url)
{
	struct origin o;
	bool same;

	if (origin_parse(url, &o) != PC_OK)
		return false;
	same = origin_equal(&o, &u->origin);
	pc_free(o.host);
	return same;
}

/*
 * Resolves location against base into an absolute http(s) URL. Returns
 * PC_OK, PC_ERR_INVALID or PC_ERR_NOMEM.
 */
static int
url_resolve(const char *base, const char *location, char **out)
{
	CURLU *h = curl_url();
	char *url = NULL;
	struct origin o;
	int err = PC_ERR_INVALID;

	*out = NULL;
	if (h == NULL)
		return PC_ERR_NOMEM;
	if (strlen(location) > UPSTREAM_MAX_URL_LEN)
		goto out;
	if (curl_url_set(h, CURLUPART_URL, base, 0) != CURLUE_OK ||
	    curl_url_set(h, CURLUPART_URL, location, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_URL, &url, 0) != CURLUE_OK)
		goto out;
	err = origin_parse(url, &o);
	if (err != PC_OK)
		goto out;
	pc_free(o.host);
	*out = pc_strdup(url);
	err = *out == NULL ? PC_ERR_NOMEM : PC_OK;
out:
	curl_free(url);
	curl_url_cleanup(h);
	return err;
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

static void
response_reset(struct response *r)
{
	for (size_t i = 0; i < r->n_fields; i++) {
		pc_free(r->fields[i].name);
		pc_free(r->fields[i].value);
	}
	pc_free(r->fields);
	memset(r, 0, sizeof(*r));
	r->pub.content_length = -1;
}

const char *
upstream_response_header(const struct upstream_response *r, const char *name)
{
	/* Every upstream_response handed out is the first member of a struct response. */
	const struct response *resp = (const struct response *)r;

	for (size_t i = 0; i < resp->n_fields; i++) {
		if (strcasecmp(resp->fields[i].name, name) == 0)
			return resp->fields[i].value;
	}
	return NULL;
}

/* Adds one "Name: value" line (CRLF already stripped) to r. */
static int
response_add_field(struct response *r, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	const char *value;
	const char *end = line + len;
	struct header_field *grown;
	struct header_field field;

	if (colon == NULL || colon == line)
		return PC_OK; /* not a header field, so it is skipped */
	if (r->n_fields >= UPSTREAM_MAX_HEADERS)
		return PC_ERR_LIMIT;
	value = colon + 1;
	while (value < end && (*value == ' ' || *value == '\t'))
		value++;
	while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	field.name = pc_strndup(line, (size_t)(colon - line));
	field.value = pc_strndup(value, (size_t)(end - value));
	grown = pc_reallocarray(r->fields, r->n_fields + 1, sizeof(*grown));
	if (field.name == NULL || field.value == NULL || grown == NULL) {
		pc_free(field.name);
		pc_free(field.value);
		if (grown != NULL)
			r->fields = grown;
		return PC_ERR_NOMEM;
	}
	r->fields = grown;
	r->fields[r->n_fields++] = field;
	return PC_OK;
}

/* Points the public fields of r at its headers once the block is complete. */
static void
response_publish(struct response *r, const char *url)
{
	const char *length;

	r->pub.content_type = upstream_response_header(&r->pub, "Content-Type");
	r->pub.digest = upstream_response_header(&r->pub, "Docker-Content-Digest");
	r->pub.retry_after = upstream_response_header(&r->pub, "Retry-After");
	r->pub.location = url;
	r->pub.content_length = -1;
	length = upstream_response_header(&r->pub, "Content-Length");
	if (length != NULL && upstream_response_header(&r->pub, "Transfer-Encoding") == NULL) {
		char *end;
		long long n;

		errno = 0;
		n = strtoll(length, &end, 10);
		if (errno == 0 && end != length && *end == '\0' && n >= 0)
			r->pub.content_length = n;
	}
}

/* ------------------------------------------------------------------ */
/* Fetch: response classification and libcurl callbacks               */
/* ------------------------------------------------------------------ */

static void
fetch_set_intercept_error(struct upstream_fetch *f, int err, const char *msg)
{
	pc_free(f->intercept_msg);
	f->intercept_msg = pc_strdup(msg);
	f->intercept_err = err;
	f->intercept = INTERCEPT_ERROR;
}

/* Returns true if realm is a URL the upstream's credentials may go to. */
static bool
realm_is_allowed(const struct upstream *u, const char *realm)
{
	struct origin o;
	bool allowed = false;

	if (origin_parse(realm, &o) != PC_OK)
		return false;
	/* Credentials for an https upstream never travel in clear text. */
	if (strcmp(u->origin.scheme, "https") == 0 && strcmp(o.scheme, "https") != 0)
		goto out;
	if (strcasecmp(o.host, u->origin.host) == 0) {
		allowed = true;
		goto out;
	}
	for (size_t i = 0; i < u->n_realm_hosts; i++) {
		if (strcasecmp(o.host, u->realm_hosts[i]) == 0) {
			allowed = true;
			goto out;
		}
	}
out:
	pc_free(o.host);
	return allowed;
}

/* Sets f->intercept for a 401 that the client handles itself. */
static void
fetch_classify_401(struct upstream_fetch *f)
{
	struct www_auth challenges = { 0 };
	struct www_auth_bearer bearer;
	const char *basic_realm;
	struct response *r = &f->resp;

	if (f->auth_retries >= UPSTREAM_MAX_AUTH_RETRIES || !url_is_upstream_origin(f->u, f->url))
		return;
	for (size_t i = 0; i < r->n_fields; i++) {
		if (strcasecmp(r->fields[i].name, "WWW-Authenticate") == 0)
			www_auth_parse(&challenges, r->fields[i].value, strlen(r->fields[i].value));
	}

	if (www_auth_bearer(&challenges, &bearer) == PC_OK) {
		if (f->fresh_token && bearer.error != NULL &&
		    strcmp(bearer.error, "insufficient_scope") == 0)
			goto out;
		if (!realm_is_allowed(f->u, bearer.realm)) {
			char msg[512];
			char realm[256];

			log_quote(realm, sizeof(realm), bearer.realm);
			snprintf(msg, sizeof(msg), "upstream %s: token realm %s is not on the "
			    "upstream's host or in its realm_hosts (an https upstream also needs an "
			    "https realm); add the realm host to realm_hosts to trust it",
			    f->u->name, realm);
			fetch_set_intercept_error(f, PC_ERR_UPSTREAM, msg);
			goto out;
		}
		pc_free(f->realm);
		pc_free(f->service);
		pc_free(f->challenge_scope);
		f->realm = pc_strdup(bearer.realm);
		f->service = strdup_or_null(bearer.service);
		f->challenge_scope = strdup_or_null(bearer.scope);
		if (f->realm == NULL || (bearer.service != NULL && f->service == NULL) ||
		    (bearer.scope != NULL && f->challenge_scope == NULL)) {
			fetch_set_intercept_error(f, PC_ERR_NOMEM,
			    "out of memory while handling a token challenge");
			goto out;
		}
		f->intercept = INTERCEPT_BEARER;
	} else if (www_auth_basic(&challenges, &basic_realm) == PC_OK) {
		f->u->basic_required = true;
		if (f->u->basic_header != NULL && !f->use_basic)
			f->intercept = INTERCEPT_BASIC;
	}
out:
	www_auth_free(&challenges);
}

static void
fetch_classify_redirect(struct upstream_fetch *f)
{
	const char *location = upstream_response_header(&f->resp.pub, "Location");
	int err;

	if (location == NULL || f->redirects >= UPSTREAM_MAX_REDIRECTS)
		return;
	pc_free(f->location);
	err = url_resolve(f->url, location, &f->location);
	if (err == PC_OK)
		f->intercept = INTERCEPT_REDIRECT;
	else if (err == PC_ERR_NOMEM)
		fetch_set_intercept_error(f, PC_ERR_NOMEM,
		    "out of memory while following a redirect");
}

/*
 * Restarts the stall timer. libcurl's low-speed limit is not used because
 * it averages over several seconds, so it cannot catch a short stall.
 */
static void
fetch_arm_stall_timer(struct upstream_fetch *f)
{
	struct timeval tv;

	tv.tv_sec = f->u->stall_timeout_ms / 1000;
	tv.tv_usec = (f->u->stall_timeout_ms % 1000) * 1000;
	evtimer_add(f->stall_timer, &tv);
}

/* Handles the end of a header block; returns false to abort the transfer. */
static bool
fetch_headers_complete(struct upstream_fetch *f)
{
	int status = f->resp.pub.status;

	if (status < 200)
		return true; /* 1xx: the real response follows */
	evtimer_del(f->header_timer);
	fetch_arm_stall_timer(f);
	response_publish(&f->resp, f->url);

	f->intercept = INTERCEPT_NONE;
	switch (status) {
	case 301:
	case 302:
	case 303:
	case 307:
	case 308:
		fetch_classify_redirect(f);
		break;
	case 401:
		fetch_classify_401(f);
		break;
	default:
		break;
	}
	if (f->intercept != INTERCEPT_NONE)
		return true;

	f->final_headers = true;
	if (f->cb.on_headers != NULL && f->cb.on_headers(f->arg, &f->resp.pub) != 0)
		f->cancel_err = UPSTREAM_CANCELLED;
	return !f->cancelled && f->cancel_err == 0;
}

static size_t
on_curl_header(char *line, size_t size, size_t nitems, void *userp)
{
	struct upstream_fetch *f = userp;
	size_t len = size * nitems;
	size_t text_len = len;

	if (f->cancelled || f->cancel_err != 0)
		return 0;
	if (f->final_headers)
		return len; /* trailers after a chunked body */
	while (text_len > 0 && (line[text_len - 1] == '\n' || line[text_len - 1] == '\r'))
		text_len--;

	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		const char *space = memchr(line, ' ', text_len);
		char *end;
		long status;

		response_reset(&f->resp);
		if (space == NULL)
			return 0;
		status = strtol(space + 1, &end, 10);
		if (end != space + 4 || status < 100 || status > 999)
			return 0;
		f->resp.pub.status = (int)status;
		f->resp.header_bytes = len;
		return len;
	}
	if (text_len == 0)
		return fetch_headers_complete(f) ? len : 0;

	f->resp.header_bytes += len;
	if (f->resp.header_bytes > UPSTREAM_MAX_HEADER_BYTES) {
		f->header_err = PC_ERR_LIMIT;
		return 0;
	}
	/* obs-fold continuation lines (RFC 9112 section 5.2) are dropped. */
	if (line[0] == ' ' || line[0] == '\t')
		return len;
	f->header_err = response_add_field(&f->resp, line, text_len);
	if (f->header_err != PC_OK)
		return 0;
	return len;
}

static size_t
on_curl_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct upstream_fetch *f = userp;
	size_t len = size * nmemb;
	int rc = 0;

	if (f->cancelled || f->cancel_err != 0)
		return 0;
	if (f->intercept != INTERCEPT_NONE) {
		f->drained += len;
		return f->drained > UPSTREAM_MAX_DRAIN_BYTES ? 0 : len;
	}
	if (!f->final_headers)
		return 0;
	if (f->paused)
		return CURL_WRITEFUNC_PAUSE; /* libcurl keeps these bytes for the resume */

	fetch_arm_stall_timer(f);
	f->u->stats.bytes += len;
	if (f->cb.on_data != NULL)
		rc = f->cb.on_data(f->arg, data, len);
	if (f->cancelled)
		return 0;
	if (rc == UPSTREAM_PAUSE) {
		f->paused = true;
		evtimer_del(f->stall_timer);
		curl_easy_pause(f->easy, CURLPAUSE_RECV);
	} else if (rc != 0) {
		f->cancel_err = UPSTREAM_CANCELLED;
		return 0;
	}
	return len;
}

/* ------------------------------------------------------------------ */
/* Fetch: attempts                                                     */
/* ------------------------------------------------------------------ */

#define SETOPT(easy, opt, value) \
	do { \
		if (curl_easy_setopt((easy), (opt), (value)) != CURLE_OK) \
			goto setopt_failed; \
	} while (0)

/* Sets the options every upstream request shares: timeouts, TLS, protocols. */
static int
easy_set_common(CURL *easy, const struct upstream *u, bool upstream_origin, char *errbuf)
{
	SETOPT(easy, CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(easy, CURLOPT_NOSIGNAL, 1L);
	SETOPT(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(easy, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(easy, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	SETOPT(easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	SETOPT(easy, CURLOPT_USERAGENT, USER_AGENT);
	/* Large reads: a blob in 16 KiB pieces costs a write and a poll each. */
	SETOPT(easy, CURLOPT_BUFFERSIZE, UPSTREAM_READ_BUFFER);
	SETOPT(easy, CURLOPT_CONNECTTIMEOUT_MS, u->connect_timeout_ms);
	SETOPT(easy, CURLOPT_HTTP_VERSION,
	    u->http2 ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
	SETOPT(easy, CURLOPT_SSL_VERIFYPEER, u->tls_verify ? 1L : 0L);
	SETOPT(easy, CURLOPT_SSL_VERIFYHOST, u->tls_verify ? 2L : 0L);
	/* The upstream's CA file only applies to the upstream, not to a CDN it redirects to. */
	if (upstream_origin && u->ca_file != NULL)
		SETOPT(easy, CURLOPT_CAINFO, u->ca_file);
	return PC_OK;
setopt_failed:
	return PC_ERR_UPSTREAM;
}

static int
slist_append(struct curl_slist **list, const char *line)
{
	struct curl_slist *grown = curl_slist_append(*list, line);

	if (grown == NULL)
		return PC_ERR_NOMEM;
	*list = grown;
	return PC_OK;
}

/*
 * Picks a cached token for the attempt when the upstream's realm is known.
 * A request without a scope (the /v2/ ping) uses the token cached for an
 * empty scope.
 */
static void
fetch_pick_cached_token(struct upstream_fetch *f)
{
	struct upstream *u = f->u;
	const char *token;
	char *key;

	if (f->token != NULL || u->auth_realm == NULL)
		return;
	key = token_key_build(u->auth_realm, u->auth_service, f->scope);
	if (key == NULL)
		return;
	token = token_cache_lookup(&u->tokens, key);
	if (token == NULL || (f->token = pc_strdup(token)) == NULL) {
		pc_free(key);
		return;
	}
	pc_free(f->token_key);
	f->token_key = key;
	f->fresh_token = false;
}

static int
fetch_build_headers(struct upstream_fetch *f, bool upstream_origin)
{
	struct buf auth;
	int err = PC_OK;

	for (size_t i = 0; i < f->n_lines && err == PC_OK; i++)
		err = slist_append(&f->headers, f->lines[i]);
	if (err == PC_OK)
		err = slist_append(&f->headers, "Accept-Encoding: identity");
	if (err != PC_OK || !upstream_origin)
		return err;

	if (f->token != NULL) {
		buf_init(&auth, UPSTREAM_MAX_TOKEN_RESPONSE + 64);
		err = buf_printf(&auth, "Authorization: Bearer %s", f->token);
		if (err == PC_OK)
			err = slist_append(&f->headers, auth.data);
		OPENSSL_cleanse(auth.data, auth.len);
		buf_free(&auth);
	} else if ((f->use_basic || f->u->basic_required) && f->u->basic_header != NULL) {
		err = slist_append(&f->headers, f->u->basic_header);
		f->use_basic = true;
	}
	return err;
}

static int
fetch_setup_easy(struct upstream_fetch *f)
{
	struct upstream *u = f->u;
	bool upstream_origin = url_is_upstream_origin(u, f->url);
	int err;

	f->easy = curl_easy_init();
	if (f->easy == NULL)
		return PC_ERR_NOMEM;
	if (upstream_origin)
		fetch_pick_cached_token(f);
	err = fetch_build_headers(f, upstream_origin);
	if (err != PC_OK)
		return err;
	err = easy_set_common(f->easy, u, upstream_origin, f->errbuf);
	if (err != PC_OK)
		return err;
	SETOPT(f->easy, CURLOPT_URL, f->url);
	SETOPT(f->easy, CURLOPT_PRIVATE, (void *)f);
	SETOPT(f->easy, CURLOPT_HTTPHEADER, f->headers);
	SETOPT(f->easy, CURLOPT_HEADERFUNCTION, on_curl_header);
	SETOPT(f->easy, CURLOPT_HEADERDATA, (void *)f);
	SETOPT(f->easy, CURLOPT_WRITEFUNCTION, on_curl_write);
	SETOPT(f->easy, CURLOPT_WRITEDATA, (void *)f);
	if (f->head)
		SETOPT(f->easy, CURLOPT_NOBODY, 1L);
	else
		SETOPT(f->easy, CURLOPT_HTTPGET, 1L);
	return PC_OK;
setopt_failed:
	return PC_ERR_UPSTREAM;
}

/* Removes and frees the attempt's easy handle, if any. */
static void
fetch_release_transfer(struct upstream_fetch *f)
{
	if (f->easy != NULL) {
		curl_multi_remove_handle(f->c->multi, f->easy);
		curl_easy_cleanup(f->easy);
		f->easy = NULL;
	}
	curl_slist_free_all(f->headers);
	f->headers = NULL;
}

static void
fetch_start_attempt(struct upstream_fetch *f)
{
	struct timeval tv;
	int err;

	fetch_release_transfer(f);
	response_reset(&f->resp);
	f->intercept = INTERCEPT_NONE;
	f->drained = 0;
	f->errbuf[0] = '\0';

	err = fetch_setup_easy(f);
	if (err != PC_OK) {
		fetch_finish(f, err, NULL, "failed to set up the upstream request");
		return;
	}
	if (curl_multi_add_handle(f->c->multi, f->easy) != CURLM_OK) {
		fetch_finish(f, PC_ERR_UPSTREAM, NULL, "failed to start the upstream request");
		return;
	}
	f->u->stats.requests++;
	tv.tv_sec = f->u->header_timeout_ms / 1000;
	tv.tv_usec = (f->u->header_timeout_ms % 1000) * 1000;
	evtimer_add(f->header_timer, &tv);
}

static void
on_stall_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_fetch *f = arg;
	char msg[256];
	char url[160];

	log_quote(url, sizeof(url), f->url);
	snprintf(msg, sizeof(msg), "response body from %s stalled: no bytes for %ld ms", url,
	    f->u->stall_timeout_ms);
	fetch_finish(f, PC_ERR_TIMEOUT, f->final_headers ? &f->resp.pub : NULL, msg);
}

static void
on_header_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_fetch *f = arg;
	char msg[256];
	char url[160];

	log_quote(url, sizeof(url), f->url);
	snprintf(msg, sizeof(msg), "no response headers from %s within %ld ms", url,
	    f->u->header_timeout_ms);
	fetch_finish(f, PC_ERR_TIMEOUT, NULL, msg);
}

/* ------------------------------------------------------------------ */
/* Token requests                                                      */
/* ------------------------------------------------------------------ */

static size_t
on_token_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct token_request *tr = userp;
	size_t len = size * nmemb;

	if (buf_append(&tr->body, data, len) != PC_OK) {
		tr->body_overflow = true;
		return 0;
	}
	return len;
}

static int
token_request_url(CURL *easy, const char *realm, const char *service, const char *scope,
    char **out)
{
	struct buf url;
	char *escaped;
	int err;

	buf_init(&url, 3 * UPSTREAM_MAX_URL_LEN);
	err = buf_append_str(&url, realm);
	if (err == PC_OK && service != NULL) {
		escaped = curl_easy_escape(easy, service, 0);
		err = escaped == NULL ? PC_ERR_NOMEM :
		    buf_printf(&url, "%cservice=%s", strchr(realm, '?') ? '&' : '?', escaped);
		curl_free(escaped);
	}
	if (err == PC_OK && scope != NULL && scope[0] != '\0') {
		escaped = curl_easy_escape(easy, scope, 0);
		err = escaped == NULL ? PC_ERR_NOMEM :
		    buf_printf(&url, "%cscope=%s",
			(strchr(realm, '?') || service != NULL) ? '&' : '?', escaped);
		curl_free(escaped);
	}
	if (err != PC_OK) {
		buf_free(&url);
		return err;
	}
	*out = buf_steal(&url);
	return PC_OK;
}

static void
token_request_free(struct token_request *tr)
{
	if (tr->easy != NULL) {
		curl_multi_remove_handle(tr->u->c->multi, tr->easy);
		curl_easy_cleanup(tr->easy);
	}
	curl_slist_free_all(tr->headers);
	buf_free(&tr->body);
	pc_free(tr->key);
	pc_free(tr->realm);
	pc_free(tr->service);
	pc_free(tr);
}

/* Creates and starts the token request for key; the caller adds waiters. */
static int
token_request_start(struct upstream *u, const char *key, const char *realm,
    const char *service, const char *scope, struct token_request **out)
{
	struct token_request *tr = pc_calloc(1, sizeof(*tr));
	char *url = NULL;
	int err = PC_ERR_NOMEM;

	if (tr == NULL)
		return PC_ERR_NOMEM;
	tr->kind = TRANSFER_TOKEN;
	tr->u = u;
	buf_init(&tr->body, UPSTREAM_MAX_TOKEN_RESPONSE);
	tr->key = pc_strdup(key);
	tr->realm = pc_strdup(realm);
	tr->service = strdup_or_null(service);
	tr->easy = curl_easy_init();
	if (tr->key == NULL || tr->realm == NULL || (service != NULL && tr->service == NULL) ||
	    tr->easy == NULL)
		goto out;
	err = token_request_url(tr->easy, realm, service, scope, &url);
	if (err != PC_OK)
		goto out;
	err = slist_append(&tr->headers, "Accept-Encoding: identity");
	if (err == PC_OK && u->basic_header != NULL)
		err = slist_append(&tr->headers, u->basic_header);
	if (err != PC_OK)
		goto out;
	err = easy_set_common(tr->easy, u, url_is_upstream_origin(u, realm), tr->errbuf);
	if (err != PC_OK)
		goto out;
	err = PC_ERR_UPSTREAM;
	SETOPT(tr->easy, CURLOPT_URL, url);
	SETOPT(tr->easy, CURLOPT_PRIVATE, (void *)tr);
	SETOPT(tr->easy, CURLOPT_HTTPHEADER, tr->headers);
	SETOPT(tr->easy, CURLOPT_HTTPGET, 1L);
	SETOPT(tr->easy, CURLOPT_WRITEFUNCTION, on_token_write);
	SETOPT(tr->easy, CURLOPT_WRITEDATA, (void *)tr);
	SETOPT(tr->easy, CURLOPT_TIMEOUT_MS, u->connect_timeout_ms + u->header_timeout_ms);
	if (curl_multi_add_handle(u->c->multi, tr->easy) != CURLM_OK)
		goto out;

	u->stats.requests++;
	u->stats.token_fetches++;
	tr->next = u->token_requests;
	u->token_requests = tr;
	log_debug("event=upstream_token_request upstream=%s", u->name);
	*out = tr;
	tr = NULL;
	err = PC_OK;
	goto out;
setopt_failed:
	err = PC_ERR_UPSTREAM;
out:
	pc_free(url);
	if (tr != NULL)
		token_request_free(tr);
	return err;
}

/*
 * Gets a token for f's last Bearer challenge: from the cache when another
 * fetch already refreshed it, else from a token request that f waits for.
 */
static void
fetch_request_token(struct upstream_fetch *f)
{
	struct upstream *u = f->u;
	const char *scope = f->scope != NULL ? f->scope : f->challenge_scope;
	const char *cached;
	struct token_request *tr;
	char *key = token_key_build(f->realm, f->service, scope);
	int err;

	if (key == NULL) {
		fetch_finish(f, PC_ERR_NOMEM, &f->resp.pub, "out of memory");
		return;
	}
	if (f->token != NULL) {
		token_cache_invalidate(&u->tokens, f->token_key, f->token);
		cached = token_cache_lookup(&u->tokens, key);
		if (cached != NULL && strcmp(cached, f->token) == 0)
			cached = NULL;
	} else {
		cached = token_cache_lookup(&u->tokens, key);
	}
	pc_free(f->token);
	f->token = NULL;
	pc_free(f->token_key);
	f->token_key = key;
	f->auth_retries++;
	log_debug("event=upstream_auth_retry upstream=%s attempt=%d", u->name, f->auth_retries);

	if (cached != NULL) {
		f->token = pc_strdup(cached);
		f->fresh_token = true;
		if (f->token == NULL)
			fetch_finish(f, PC_ERR_NOMEM, &f->resp.pub, "out of memory");
		else
			fetch_start_attempt(f);
		return;
	}
	for (tr = u->token_requests; tr != NULL; tr = tr->next) {
		if (strcmp(tr->key, key) == 0)
			break;
	}
	if (tr == NULL) {
		err = token_request_start(u, key, f->realm, f->service, scope, &tr);
		if (err != PC_OK) {
			fetch_finish(f, err, &f->resp.pub, "failed to start the token request");
			return;
		}
	}
	f->waiting = tr;
	f->waiter_next = tr->waiters;
	tr->waiters = f;
}

static void
token_request_unlink(struct token_request *tr)
{
	for (struct token_request **p = &tr->u->token_requests; *p != NULL; p = &(*p)->next) {
		if (*p == tr) {
			*p = tr->next;
			return;
		}
	}
}

static void
token_request_done(struct token_request *tr, CURLcode code)
{
	struct upstream *u = tr->u;
	struct upstream_fetch *f;
	char msg[CURL_ERROR_SIZE + 256];
	char *token = NULL;
	int64_t lifetime = 0;
	long status = 0;
	char realm[160];
	int err;

	token_request_unlink(tr);
	curl_easy_getinfo(tr->easy, CURLINFO_RESPONSE_CODE, &status);
	log_quote(realm, sizeof(realm), tr->realm);
	if (code != CURLE_OK) {
		err = code == CURLE_OPERATION_TIMEDOUT ? PC_ERR_TIMEOUT : PC_ERR_UPSTREAM;
		snprintf(msg, sizeof(msg), "token request to %s failed: %s", realm,
		    tr->body_overflow ? "response too large" :
		    tr->errbuf[0] != '\0' ? tr->errbuf : curl_easy_strerror(code));
	} else if (status != 200) {
		err = status == 401 || status == 403 ? PC_ERR_DENIED : PC_ERR_UPSTREAM;
		snprintf(msg, sizeof(msg), "token request to %s failed with status %ld%s", realm,
		    status, err == PC_ERR_DENIED ? "; check the upstream's credentials" : "");
	} else {
		err = token_response_parse(tr->body.data != NULL ? tr->body.data : "", tr->body.len,
		    &token, &lifetime);
		snprintf(msg, sizeof(msg), "token response from %s is invalid JSON or has no token",
		    realm);
	}
	if (err == PC_OK) {
		token_cache_store(&u->tokens, tr->key, token, lifetime);
		if (u->auth_realm == NULL || strcmp(u->auth_realm, tr->realm) != 0 ||
		    (u->auth_service == NULL) != (tr->service == NULL) ||
		    (tr->service != NULL && strcmp(u->auth_service, tr->service) != 0)) {
			pc_free(u->auth_realm);
			pc_free(u->auth_service);
			u->auth_realm = pc_strdup(tr->realm);
			u->auth_service = strdup_or_null(tr->service);
		}
	} else {
		log_debug("event=upstream_token_failed upstream=%s status=%ld", u->name, status);
	}

	/* A waiter's on_done may cancel other waiters, which unlinks them from tr. */
	while ((f = tr->waiters) != NULL) {
		tr->waiters = f->waiter_next;
		f->waiting = NULL;
		f->waiter_next = NULL;
		if (err != PC_OK) {
			fetch_finish(f, err, &f->resp.pub, msg);
			continue;
		}
		f->token = pc_strdup(token);
		f->fresh_token = true;
		if (f->token == NULL)
			fetch_finish(f, PC_ERR_NOMEM, &f->resp.pub, "out of memory");
		else
			fetch_start_attempt(f);
	}
	if (token != NULL) {
		OPENSSL_cleanse(token, strlen(token));
		pc_free(token);
	}
	token_request_free(tr);
}

/* ------------------------------------------------------------------ */
/* Fetch: completion                                                   */
/* ------------------------------------------------------------------ */

/* Maps a finished transfer's libcurl result to an error and message. */
static int
fetch_result(struct upstream_fetch *f, CURLcode code, char *msg, size_t msg_len)
{
	const char *detail = f->errbuf[0] != '\0' ? f->errbuf : curl_easy_strerror(code);
	char url[160];

	log_quote(url, sizeof(url), f->url);
	if (f->header_err == PC_ERR_LIMIT) {
		snprintf(msg, msg_len, "response headers from %s exceed %d bytes or %d lines",
		    url, UPSTREAM_MAX_HEADER_BYTES, UPSTREAM_MAX_HEADERS);
		return PC_ERR_LIMIT;
	}
	if (f->header_err != PC_OK) {
		snprintf(msg, msg_len, "out of memory while reading response headers from %s", url);
		return f->header_err;
	}
	if (code == CURLE_OK) {
		if (f->final_headers)
			return PC_OK;
		snprintf(msg, msg_len, "no response from %s", url);
		return PC_ERR_UPSTREAM;
	}
	if (code == CURLE_OPERATION_TIMEDOUT) {
		snprintf(msg, msg_len, "request to %s timed out: %s", url, detail);
		return PC_ERR_TIMEOUT;
	}
	if (f->final_headers) {
		snprintf(msg, msg_len, "response body from %s cut short: %s", url, detail);
		return PC_ERR_TRUNCATED;
	}
	snprintf(msg, msg_len, "request to %s failed: %s", url, detail);
	return PC_ERR_UPSTREAM;
}

static void
fetch_done(struct upstream_fetch *f, CURLcode code)
{
	char msg[CURL_ERROR_SIZE + 256];
	int err;

	evtimer_del(f->header_timer);
	evtimer_del(f->stall_timer);
	if (f->cancel_err != 0) {
		fetch_finish(f, f->cancel_err, f->final_headers ? &f->resp.pub : NULL, NULL);
		return;
	}
	switch (f->intercept) {
	case INTERCEPT_REDIRECT:
		log_debug("event=upstream_redirect upstream=%s status=%d hop=%d", f->u->name,
		    f->resp.pub.status, f->redirects + 1);
		pc_free(f->url);
		f->url = f->location;
		f->location = NULL;
		f->redirects++;
		f->u->stats.redirects++;
		fetch_start_attempt(f);
		return;
	case INTERCEPT_BEARER:
		fetch_release_transfer(f);
		fetch_request_token(f);
		return;
	case INTERCEPT_BASIC:
		f->use_basic = true;
		f->auth_retries++;
		fetch_start_attempt(f);
		return;
	case INTERCEPT_ERROR:
		fetch_finish(f, f->intercept_err, &f->resp.pub, f->intercept_msg);
		return;
	case INTERCEPT_NONE:
		break;
	}

	err = fetch_result(f, code, msg, sizeof(msg));
	if (f->paused) {
		/* on_done waits until the caller resumes and takes any held bytes. */
		f->done_pending = true;
		f->done_err = err;
		pc_free(f->done_msg);
		f->done_msg = err != PC_OK ? pc_strdup(msg) : NULL;
		return;
	}
	fetch_finish(f, err, f->final_headers ? &f->resp.pub : NULL, err != PC_OK ? msg : NULL);
}

static void
check_multi_info(struct upstream_client *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
		enum transfer_kind *kind = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&kind);
		if (kind == NULL)
			continue;
		if (*kind == TRANSFER_TOKEN) {
			token_request_done((struct token_request *)kind, m->data.result);
		} else {
			struct upstream_fetch *f = (struct upstream_fetch *)kind;

			if (!f->cancelled && !f->done_pending)
				fetch_done(f, m->data.result);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Fetch: lifecycle                                                    */
/* ------------------------------------------------------------------ */

static void
fetch_unlink(struct upstream_fetch *f)
{
	struct upstream *u = f->u;

	if (f->prev != NULL)
		f->prev->next = f->next;
	else if (u->fetches == f)
		u->fetches = f->next;
	if (f->next != NULL)
		f->next->prev = f->prev;
	f->prev = NULL;
	f->next = NULL;

	if (f->waiting != NULL) {
		for (struct upstream_fetch **p = &f->waiting->waiters; *p != NULL;
		    p = &(*p)->waiter_next) {
			if (*p == f) {
				*p = f->waiter_next;
				break;
			}
		}
		f->waiting = NULL;
	}
	if (f->kick != NULL)
		event_del(f->kick);
	if (f->header_timer != NULL)
		event_del(f->header_timer);
	if (f->stall_timer != NULL)
		event_del(f->stall_timer);
}

static void
fetch_free(struct upstream_fetch *f)
{
	fetch_release_transfer(f);
	if (f->kick != NULL)
		event_free(f->kick);
	if (f->header_timer != NULL)
		event_free(f->header_timer);
	if (f->stall_timer != NULL)
		event_free(f->stall_timer);
	response_reset(&f->resp);
	for (size_t i = 0; i < f->n_lines; i++)
		pc_free(f->lines[i]);
	pc_free(f->lines);
	pc_free(f->scope);
	pc_free(f->url);
	pc_free(f->intercept_msg);
	pc_free(f->location);
	pc_free(f->realm);
	pc_free(f->service);
	pc_free(f->challenge_scope);
	if (f->token != NULL) {
		OPENSSL_cleanse(f->token, strlen(f->token));
		pc_free(f->token);
	}
	pc_free(f->token_key);
	pc_free(f->done_msg);
	pc_free(f);
}

static void
fetch_finish(struct upstream_fetch *f, int err, const struct upstream_response *r,
    const char *errmsg)
{
	f->finishing = true;
	fetch_unlink(f);
	fetch_release_transfer(f);
	if (err != PC_OK && err != UPSTREAM_CANCELLED)
		f->u->stats.errors++;
	if (f->cb.on_done != NULL)
		f->cb.on_done(f->arg, err, r, errmsg);
	fetch_free(f);
}

static void
fetch_resume_now(struct upstream_fetch *f)
{
	f->paused = false;
	if (!f->done_pending)
		fetch_arm_stall_timer(f);
	if (f->easy != NULL)
		curl_easy_pause(f->easy, CURLPAUSE_CONT); /* may call on_data with held bytes */
	if (f->cancelled)
		return;
	if (f->cancel_err != 0) {
		fetch_finish(f, f->cancel_err, &f->resp.pub, NULL);
		return;
	}
	if (f->done_pending && !f->paused)
		fetch_finish(f, f->done_err, &f->resp.pub, f->done_msg);
}

static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_fetch *f = arg;

	if (f->start_pending) {
		f->start_pending = false;
		fetch_start_attempt(f);
		return;
	}
	if (f->resume_pending) {
		f->resume_pending = false;
		if (f->paused)
			fetch_resume_now(f);
	}
}

static void
on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_client *c = arg;
	struct upstream_fetch *f;

	while ((f = c->reap) != NULL) {
		c->reap = f->reap_next;
		fetch_free(f);
	}
}

/* Copies the request into f; rejects headers the client sets itself. */
static int
fetch_copy_request(struct upstream_fetch *f, const struct upstream_request *req)
{
	struct buf url;
	int err;

	if (req->method == NULL || req->path == NULL || req->path[0] != '/')
		return PC_ERR_INVALID;
	if (strcmp(req->method, "HEAD") == 0)
		f->head = true;
	else if (strcmp(req->method, "GET") != 0)
		return PC_ERR_INVALID;
	if (strpbrk(req->path, " \r\n") != NULL)
		return PC_ERR_INVALID;
	if (req->scope != NULL && strlen(req->scope) > UPSTREAM_MAX_SCOPE_LEN)
		return PC_ERR_INVALID;

	buf_init(&url, UPSTREAM_MAX_URL_LEN);
	err = buf_printf(&url, "%s%s", f->u->base_url, req->path);
	if (err != PC_OK) {
		buf_free(&url);
		return err == PC_ERR_LIMIT ? PC_ERR_INVALID : err;
	}
	f->url = buf_steal(&url);
	if (req->scope != NULL && (f->scope = pc_strdup(req->scope)) == NULL)
		return PC_ERR_NOMEM;

	f->lines = pc_calloc(req->n_headers + 1, sizeof(*f->lines));
	if (f->lines == NULL)
		return PC_ERR_NOMEM;
	for (size_t i = 0; i < req->n_headers; i++) {
		const char *line = req->headers[i];
		const char *colon = strchr(line, ':');

		if (colon == NULL || colon == line || strpbrk(line, "\r\n") != NULL ||
		    strncasecmp(line, "Authorization:", 14) == 0 ||
		    strncasecmp(line, "Accept-Encoding:", 16) == 0 ||
		    strncasecmp(line, "Host:", 5) == 0)
			return PC_ERR_INVALID;
		f->lines[i] = pc_strdup(line);
		if (f->lines[i] == NULL)
			return PC_ERR_NOMEM;
		f->n_lines++;
	}
	return PC_OK;
}

int
upstream_fetch(struct upstream *u, const struct upstream_request *req,
    const struct upstream_callbacks *cb, void *arg, struct upstream_fetch **out)
{
	struct upstream_fetch *f = pc_calloc(1, sizeof(*f));
	int err;

	if (out != NULL)
		*out = NULL;
	if (f == NULL)
		return PC_ERR_NOMEM;
	f->kind = TRANSFER_FETCH;
	f->u = u;
	f->c = u->c;
	if (cb != NULL)
		f->cb = *cb;
	f->arg = arg;
	response_reset(&f->resp);
	err = fetch_copy_request(f, req);
	if (err != PC_OK)
		goto fail;
	f->kick = event_new(u->c->base, -1, 0, on_kick, f);
	f->header_timer = evtimer_new(u->c->base, on_header_timeout, f);
	f->stall_timer = evtimer_new(u->c->base, on_stall_timeout, f);
	if (f->kick == NULL || f->header_timer == NULL || f->stall_timer == NULL) {
		err = PC_ERR_NOMEM;
		goto fail;
	}

	/* Start from the loop: callbacks of other fetches may be running now. */
	f->start_pending = true;
	event_active(f->kick, 0, 0);
	f->next = u->fetches;
	if (u->fetches != NULL)
		u->fetches->prev = f;
	u->fetches = f;
	if (out != NULL)
		*out = f;
	return PC_OK;
fail:
	fetch_free(f);
	return err;
}

void
upstream_fetch_cancel(struct upstream_fetch *f)
{
	if (f == NULL || f->cancelled || f->finishing)
		return;
	f->cancelled = true;
	memset(&f->cb, 0, sizeof(f->cb));
	fetch_unlink(f);
	/* libcurl forbids removing a handle from inside its callbacks, so free later. */
	f->reap_next = f->c->reap;
	f->c->reap = f;
	event_active(f->c->reap_event, 0, 0);
}

void
upstream_fetch_resume(struct upstream_fetch *f)
{
	if (f->cancelled || !f->paused || f->resume_pending)
		return;
	f->resume_pending = true;
	event_active(f->kick, 0, 0);
}

/* ------------------------------------------------------------------ */
/* Client and upstreams                                                */
/* ------------------------------------------------------------------ */

int
upstream_client_new(struct event_base *base, struct upstream_client **out)
{
	struct upstream_client *c;

	*out = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return PC_ERR_UPSTREAM;
	c = pc_calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail;
	c->base = base;
	c->multi = curl_multi_init();
	c->timer = evtimer_new(base, on_timer_event, c);
	c->reap_event = event_new(base, -1, 0, on_reap, c);
	if (c->multi == NULL || c->timer == NULL || c->reap_event == NULL)
		goto fail;
	if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX) != CURLM_OK)
		goto fail;
	*out = c;
	return PC_OK;
fail:
	if (c != NULL) {
		if (c->multi != NULL)
			curl_multi_cleanup(c->multi);
		if (c->timer != NULL)
			event_free(c->timer);
		if (c->reap_event != NULL)
			event_free(c->reap_event);
		pc_free(c);
	}
	curl_global_cleanup();
	return PC_ERR_NOMEM;
}

void
upstream_client_free(struct upstream_client *c)
{
	if (c == NULL)
		return;
	while (c->upstreams != NULL)
		upstream_free(c->upstreams);
	on_reap(-1, 0, c);
	curl_multi_cleanup(c->multi);
	event_free(c->timer);
	event_free(c->reap_event);
	pc_free(c);
	curl_global_cleanup();
}

static int
upstream_copy_config(struct upstream *u, const struct upstream_config *cfg)
{
	size_t len;
	int err;

	if (cfg->url == NULL)
		return PC_ERR_INVALID;
	err = origin_parse(cfg->url, &u->origin);
	if (err != PC_OK)
		return err;
	len = strlen(cfg->url);
	while (len > 0 && cfg->url[len - 1] == '/')
		len--;
	u->base_url = pc_strndup(cfg->url, len);
	u->name = pc_strdup(cfg->name != NULL ? cfg->name : u->origin.host);
	u->ca_file = strdup_or_null(cfg->ca_file);
	if (u->base_url == NULL || u->name == NULL || (cfg->ca_file != NULL && u->ca_file == NULL))
		return PC_ERR_NOMEM;
	/* A base URL with a path, query or user info would change every request URL. */
	if (strstr(u->base_url, "://") == NULL || strchr(strstr(u->base_url, "://") + 3, '/') ||
	    strpbrk(u->base_url, "?#@") != NULL)
		return PC_ERR_INVALID;

	u->realm_hosts = pc_calloc(cfg->n_realm_hosts + 1, sizeof(*u->realm_hosts));
	if (u->realm_hosts == NULL)
		return PC_ERR_NOMEM;
	for (size_t i = 0; i < cfg->n_realm_hosts; i++) {
		if (cfg->realm_hosts[i] == NULL || cfg->realm_hosts[i][0] == '\0' ||
		    strpbrk(cfg->realm_hosts[i], "/:@ ") != NULL)
			return PC_ERR_INVALID;
		u->realm_hosts[i] = pc_strdup(cfg->realm_hosts[i]);
		if (u->realm_hosts[i] == NULL)
			return PC_ERR_NOMEM;
		u->n_realm_hosts++;
	}
	u->tls_verify = cfg->tls_verify;
	u->http2 = cfg->http2;
	u->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms :
	    UPSTREAM_DEFAULT_CONNECT_TIMEOUT_MS;
	u->header_timeout_ms = cfg->header_timeout_ms > 0 ? cfg->header_timeout_ms :
	    UPSTREAM_DEFAULT_HEADER_TIMEOUT_MS;
	u->stall_timeout_ms = cfg->stall_timeout_ms > 0 ? cfg->stall_timeout_ms :
	    UPSTREAM_DEFAULT_STALL_TIMEOUT_MS;
	if (cfg->credentials_file != NULL)
		return upstream_credentials_load(cfg->credentials_file, &u->basic_header);
	return PC_OK;
}

static void
upstream_release(struct upstream *u)
{
	while (u->fetches != NULL) {
		struct upstream_fetch *f = u->fetches;

		fetch_unlink(f);
		fetch_free(f);
	}
	while (u->token_requests != NULL) {
		struct token_request *tr = u->token_requests;

		u->token_requests = tr->next;
		token_request_free(tr);
	}
	token_cache_clear(&u->tokens);
	for (size_t i = 0; i < u->n_realm_hosts; i++)
		pc_free(u->realm_hosts[i]);
	pc_free(u->realm_hosts);
	if (u->basic_header != NULL) {
		OPENSSL_cleanse(u->basic_header, strlen(u->basic_header));
		pc_free(u->basic_header);
	}
	pc_free(u->origin.host);
	pc_free(u->name);
	pc_free(u->base_url);
	pc_free(u->ca_file);
	pc_free(u->auth_realm);
	pc_free(u->auth_service);
	pc_free(u);
}

int
upstream_new(struct upstream_client *c, const struct upstream_config *cfg,
    struct upstream **out)
{
	struct upstream *u = pc_calloc(1, sizeof(*u));
	int err;

	*out = NULL;
	if (u == NULL)
		return PC_ERR_NOMEM;
	u->c = c;
	err = upstream_copy_config(u, cfg);
	if (err != PC_OK) {
		upstream_release(u);
		return err;
	}
	u->next = c->upstreams;
	c->upstreams = u;
	*out = u;
	return PC_OK;
}

void
upstream_free(struct upstream *u)
{
	struct upstream_client *c;

	if (u == NULL)
		return;
	c = u->c;
	for (struct upstream **p = &c->upstreams; *p != NULL; p = &(*p)->next) {
		if (*p == u) {
			*p = u->next;
			break;
		}
	}
	/* Cancelled fetches of u still in the reap list go now, while u exists. */
	for (struct upstream_fetch **p = &c->reap; *p != NULL;) {
		struct upstream_fetch *f = *p;

		if (f->u == u) {
			*p = f->reap_next;
			fetch_free(f);
		} else {
			p = &f->reap_next;
		}
	}
	upstream_release(u);
}

const char *
upstream_name(const struct upstream *u)
{
	return u->name;
}

void
upstream_stats(const struct upstream *u, struct upstream_stats *st)
{
	*st = u->stats;
}
