#include "proxy/auth.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "proxy/auth_internal.h"
#include "proxy/ratelimit.h"

#define MESSAGE_DENIED "requested access to the resource is denied"
/* Room for a kind prefix ("p:", "t:", "c:") before a user key. */
#define USER_KEY_BUFSIZE (AUTH_USER_BUFSIZE + 3)

static const char *const failure_names[AUTH_FAIL_COUNT] = {
	[AUTH_FAIL_MISSING] = "missing",
	[AUTH_FAIL_MALFORMED] = "malformed",
	[AUTH_FAIL_SCHEME] = "scheme",
	[AUTH_FAIL_UNKNOWN_USER] = "unknown_user",
	[AUTH_FAIL_BAD_PASSWORD] = "bad_password",
	[AUTH_FAIL_BAD_TOKEN] = "bad_token",
};

const char *
auth_failure_name(enum auth_failure reason)
{
	if ((unsigned)reason >= AUTH_FAIL_COUNT)
		return "unknown";
	return failure_names[reason];
}

static uint64_t
monotonic_ns(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
auth_config_init(struct auth_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->realm = AUTH_DEFAULT_REALM;
	cfg->scheme = AUTH_SCHEME_AUTO;
	cfg->cache_ttl_s = AUTH_DEFAULT_CACHE_TTL_S;
	cfg->cache_entries = AUTH_DEFAULT_CACHE_ENTRIES;
	cfg->rate.max_tracked = RATELIMIT_DEFAULT_MAX_ENTRIES;
	cfg->rate.idle_s = RATELIMIT_DEFAULT_IDLE_S;
}

static bool
valid_realm(const char *realm)
{
	size_t len = strlen(realm);

	if (len == 0 || len > AUTH_MAX_REALM_BYTES)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (realm[i] < 0x20 || realm[i] == 0x7f || realm[i] == '"' ||
		    realm[i] == '\\')
			return false;
	}
	return true;
}

/* Creates the rate tables that some limit needs. */
static int
make_limits(struct auth *a, const struct auth_rate_config *rate, char *errbuf,
    size_t errlen)
{
	struct ratelimit_class client = { rate->per_client_rps,
	    rate->per_client_burst, rate->per_client_streams };
	struct ratelimit_class user = { rate->per_user_rps, rate->per_user_burst,
	    rate->per_user_streams };
	int err = PC_OK;

	if (client.rps > 0 || client.max_streams > 0)
		err = ratelimit_new(&client, rate->max_tracked, rate->idle_s,
		    &a->clients);
	if (err == PC_OK && (user.rps > 0 || user.max_streams > 0))
		err = ratelimit_new(&user, rate->max_tracked, rate->idle_s, &a->users);
	if (err == PC_ERR_INVALID)
		snprintf(errbuf, errlen, "auth rate: a rate must be a number of "
		    "requests per second >= 0, with a burst of at least 1");
	else if (err != PC_OK)
		snprintf(errbuf, errlen, "auth rate: out of memory");
	return err;
}

static int
load_sources(struct auth *a, const struct auth_config *cfg, char *errbuf,
    size_t errlen)
{
	int err = PC_OK;

	if (cfg->htpasswd_file != NULL)
		err = htpasswd_load(cfg->htpasswd_file, &a->htpasswd, errbuf, errlen);
	if (err == PC_OK && cfg->tokens_file != NULL)
		err = tokens_load(cfg->tokens_file, &a->tokens, errbuf, errlen);
	if (err == PC_OK)
		err = auth_rules_new(cfg->rules, cfg->n_rules, &a->rules, errbuf,
		    errlen);
	if (err == PC_OK && a->htpasswd != NULL) {
		err = auth_cache_new(cfg->cache_entries, cfg->cache_ttl_s, &a->cache);
		if (err != PC_OK)
			snprintf(errbuf, errlen, "auth cache: out of memory");
	}
	if (err == PC_OK)
		err = make_limits(a, &cfg->rate, errbuf, errlen);
	return err;
}

int
auth_new(const struct auth_config *cfg, struct auth **out, char *errbuf,
    size_t errlen)
{
	const char *realm = cfg->realm != NULL ? cfg->realm : AUTH_DEFAULT_REALM;
	struct auth *a;
	int err;

	*out = NULL;
	if (!valid_realm(realm)) {
		snprintf(errbuf, errlen, "auth realm: must be 1 to %d printable ASCII "
		    "characters without '\"' or '\\'", AUTH_MAX_REALM_BYTES);
		return PC_ERR_INVALID;
	}
	a = pc_calloc(1, sizeof(*a));
	if (a == NULL) {
		snprintf(errbuf, errlen, "auth: out of memory");
		return PC_ERR_NOMEM;
	}
	if (pthread_mutex_init(&a->lock, NULL) != 0) {
		pc_free(a);
		snprintf(errbuf, errlen, "auth: cannot create a mutex");
		return PC_ERR_NOMEM;
	}
	snprintf(a->realm, sizeof(a->realm), "%s", realm);
	a->anonymous = cfg->anonymous;
	a->clock_ns = cfg->clock_ns != NULL ? cfg->clock_ns : monotonic_ns;
	a->clock_arg = cfg->clock_arg;

	err = load_sources(a, cfg, errbuf, errlen);
	if (err != PC_OK) {
		auth_free(a);
		return err;
	}
	a->scheme = cfg->scheme;
	if (a->scheme == AUTH_SCHEME_AUTO)
		a->scheme = a->htpasswd == NULL && a->tokens != NULL ?
		    AUTH_SCHEME_BEARER : AUTH_SCHEME_BASIC;
	*out = a;
	return PC_OK;
}

void
auth_free(struct auth *a)
{
	if (a == NULL)
		return;
	htpasswd_free(a->htpasswd);
	tokens_free(a->tokens);
	auth_rules_free(a->rules);
	auth_cache_free(a->cache);
	ratelimit_free(a->clients);
	ratelimit_free(a->users);
	pthread_mutex_destroy(&a->lock);
	pc_free(a);
}

bool
auth_requires_credentials(const struct auth *a)
{
	return a->htpasswd != NULL || a->tokens != NULL;
}

/* Logging of failures and refusals, at most AUTH_LOG_LINES_PER_S. */

static bool
log_allowed(struct auth *a, uint64_t now_ns, uint64_t *suppressed)
{
	bool allowed;

	pthread_mutex_lock(&a->lock);
	if (now_ns - a->log_window_ns >= 1000000000u || now_ns < a->log_window_ns) {
		a->log_window_ns = now_ns;
		a->log_lines = 0;
	}
	allowed = a->log_lines < AUTH_LOG_LINES_PER_S;
	if (allowed) {
		a->log_lines++;
		*suppressed = a->log_suppressed;
		a->log_suppressed = 0;
	} else {
		a->log_suppressed++;
	}
	pthread_mutex_unlock(&a->lock);
	return allowed;
}

static void
log_refusal(struct auth *a, const struct auth_result *res, const char *event,
    const char *reason, const char *repository, uint64_t now_ns)
{
	char user[2 * AUTH_USER_BUFSIZE];
	char repo[600];
	uint64_t suppressed = 0;

	if (!log_allowed(a, now_ns, &suppressed))
		return;
	if (suppressed > 0)
		log_warn("event=auth_log_suppressed count=%llu",
		    (unsigned long long)suppressed);
	log_quote(user, sizeof(user), res->user);
	log_quote(repo, sizeof(repo), repository != NULL ? repository : "-");
	log_warn("event=%s client=%s user=%s reason=%s repository=%s status=%d",
	    event, res->client, user, reason, repo, res->status);
}

/* Result helpers. */

static void
result_add_header(struct auth_result *res, const char *name,
    const char *value)
{
	struct auth_result_header *h;

	if (res->n_headers == AUTH_MAX_RESULT_HEADERS)
		return;
	h = &res->headers[res->n_headers++];
	h->name = name;
	snprintf(h->value, sizeof(h->value), "%s", value);
}

/* Copies the address of peer ("1.2.3.4:5", "[::1]:5") without its port. */
static void
client_address(const char *peer, char *out, size_t outlen)
{
	const char *end;

	if (peer == NULL || peer[0] == '\0') {
		snprintf(out, outlen, "-");
		return;
	}
	if (peer[0] == '[') {
		end = strchr(peer, ']');
		if (end != NULL) {
			snprintf(out, outlen, "%.*s", (int)(end - peer - 1), peer + 1);
			return;
		}
	}
	end = strrchr(peer, ':');
	if (end != NULL && strchr(peer, ':') == end)
		snprintf(out, outlen, "%.*s", (int)(end - peer), peer);
	else
		snprintf(out, outlen, "%s", peer);
}

static void
result_init(struct auth_result *res, const char *peer)
{
	memset(res, 0, sizeof(*res));
	res->outcome = AUTH_OK;
	res->identity = AUTH_ID_ANONYMOUS;
	res->status = 200;
	snprintf(res->user, sizeof(res->user), "-");
	client_address(peer, res->client, sizeof(res->client));
}

static void
result_limited(struct auth_result *res, unsigned retry_after_s,
    const char *message)
{
	char seconds[16];

	res->outcome = AUTH_RATE_LIMITED;
	res->status = 429;
	res->code = "TOOMANYREQUESTS";
	snprintf(seconds, sizeof(seconds), "%u", retry_after_s);
	result_add_header(res, "Retry-After", seconds);
	snprintf(res->message, sizeof(res->message), "%s; retry after %u s",
	    message, retry_after_s);
}

static void
result_challenge(const struct auth *a, struct auth_result *res,
    enum auth_failure reason, bool bearer_rejected)
{
	static const char *const messages[AUTH_FAIL_COUNT] = {
		[AUTH_FAIL_MISSING] = "authentication required",
		[AUTH_FAIL_MALFORMED] = "malformed credentials",
		[AUTH_FAIL_SCHEME] = "unsupported authorization scheme",
		[AUTH_FAIL_UNKNOWN_USER] = "invalid username or password",
		[AUTH_FAIL_BAD_PASSWORD] = "invalid username or password",
		[AUTH_FAIL_BAD_TOKEN] = "invalid token",
	};

	char value[AUTH_HEADER_VALUE_BUFSIZE];

	res->outcome = AUTH_CHALLENGE;
	res->status = 401;
	res->code = "UNAUTHORIZED";
	snprintf(res->message, sizeof(res->message), "%s", messages[reason]);
	if (a->scheme == AUTH_SCHEME_BEARER)
		snprintf(value, sizeof(value), "Bearer realm=\"%s\"%s", a->realm,
		    bearer_rejected ? ",error=\"invalid_token\"" : "");
	else
		snprintf(value, sizeof(value), "Basic realm=\"%s\"", a->realm);
	result_add_header(res, "WWW-Authenticate", value);
}

static void
result_unavailable(struct auth_result *res)
{
	res->outcome = AUTH_UNAVAILABLE;
	res->status = 503;
	res->code = "UNAVAILABLE";
	snprintf(res->message, sizeof(res->message),
	    "out of memory while checking credentials; retry later");
}


/* Rate limits. */

static void
user_key(const struct auth_result *res, char *out, size_t outlen)
{
	char kind = res->identity == AUTH_ID_PASSWORD ? 'p' :
	    res->identity == AUTH_ID_TOKEN ? 't' : 'c';

	/* The kind keeps a token and a user of the same name apart. */
	snprintf(out, outlen, "%c:%s", kind, res->user);
}

static void
count_limit(struct auth *a, enum ratelimit_verdict v, uint64_t *counter)
{
	if (v == RATELIMIT_FULL)
		a->counters.limited_capacity++;
	else if (v == RATELIMIT_LIMITED)
		(*counter)++;
}

/* Takes one request from the client's or the user's bucket. */
static bool
check_rate(struct auth *a, struct auth_result *res, bool per_user,
    uint64_t now_ns)
{
	struct ratelimit *table = per_user ? a->users : a->clients;
	char key[USER_KEY_BUFSIZE];
	enum ratelimit_verdict v;
	unsigned retry_after_s = 1;

	if (table == NULL || (per_user && res->identity == AUTH_ID_ANONYMOUS))
		return true;
	if (per_user)
		user_key(res, key, sizeof(key));
	else
		snprintf(key, sizeof(key), "%s", res->client);

	pthread_mutex_lock(&a->lock);
	v = ratelimit_take(table, key, now_ns, &retry_after_s);
	count_limit(a, v, per_user ? &a->counters.limited_user :
	    &a->counters.limited_client);
	pthread_mutex_unlock(&a->lock);
	if (v == RATELIMIT_OK)
		return true;

	if (v == RATELIMIT_FULL)
		result_limited(res, retry_after_s, "too many clients are active");
	else if (per_user)
		result_limited(res, retry_after_s, "too many requests for this user");
	else
		result_limited(res, retry_after_s, "too many requests from this client");
	log_refusal(a, res, "rate_limited", v == RATELIMIT_FULL ? "capacity" :
	    per_user ? "user" : "client", NULL, now_ns);
	return false;
}

/* The request flow. */

static void
refuse_credentials(struct auth *a, struct auth_result *res,
    const struct auth_credentials *cred, const char *repository,
    uint64_t now_ns)
{
	pthread_mutex_lock(&a->lock);
	a->counters.failures[cred->reason]++;
	pthread_mutex_unlock(&a->lock);
	result_challenge(a, res, cred->reason, cred->bearer_rejected);

	/* Every pull starts with an anonymous ping: not worth a warning. */
	if (cred->reason == AUTH_FAIL_MISSING)
		log_debug("event=auth_challenge client=%s reason=missing",
		    res->client);
	else
		log_refusal(a, res, "auth_failure", auth_failure_name(cred->reason),
		    repository, now_ns);
}

static void
refuse_repository(struct auth *a, struct auth_result *res,
    const char *repository, uint64_t now_ns)
{
	struct auth_credentials cred = { PC_ERR_DENIED, AUTH_FAIL_MISSING, false };

	/* An anonymous client may have a login that would be allowed. */
	if (res->identity == AUTH_ID_ANONYMOUS && auth_requires_credentials(a)) {
		refuse_credentials(a, res, &cred, repository, now_ns);
		return;
	}
	pthread_mutex_lock(&a->lock);
	a->counters.denied++;
	pthread_mutex_unlock(&a->lock);
	res->outcome = AUTH_DENIED;
	res->status = 403;
	res->code = "DENIED";
	snprintf(res->message, sizeof(res->message), "%s", MESSAGE_DENIED);
	log_refusal(a, res, "auth_denied", "rule", repository, now_ns);
}

enum auth_outcome
auth_check(struct auth *a, const struct http_request *req,
    const char *repository, const char *client_subject,
    struct auth_result *res)
{
	uint64_t now_ns = a->clock_ns(a->clock_arg);
	struct auth_credentials cred;

	result_init(res, req->peer);
	/* Before any bcrypt, so a flood of guesses is cut off cheaply. */
	if (!check_rate(a, res, false, now_ns))
		return res->outcome;

	auth_authenticate(a, req, client_subject, res, now_ns, &cred);
	if (cred.err == PC_ERR_NOMEM) {
		result_unavailable(res);
		log_error("event=auth_error client=%s error=\"%s\"", res->client,
		    pc_strerror(PC_ERR_NOMEM));
		return res->outcome;
	}
	if (cred.err != PC_OK) {
		refuse_credentials(a, res, &cred, repository, now_ns);
		return res->outcome;
	}
	if (res->identity != AUTH_ID_ANONYMOUS) {
		pthread_mutex_lock(&a->lock);
		a->counters.authenticated++;
		pthread_mutex_unlock(&a->lock);
	}

	if (!check_rate(a, res, true, now_ns))
		return res->outcome;
	if (repository != NULL &&
	    !auth_rules_allow(a->rules, res->identity, res->user, repository))
		refuse_repository(a, res, repository, now_ns);
	return res->outcome;
}

/* Blob streams. */

enum auth_outcome
auth_stream_acquire(struct auth *a, struct auth_result *res)
{
	char key[USER_KEY_BUFSIZE];
	enum ratelimit_verdict v = RATELIMIT_OK;
	bool per_user = false;
	uint64_t now_ns;

	if (res->outcome != AUTH_OK || res->stream_held)
		return res->outcome;
	now_ns = a->clock_ns(a->clock_arg);
	user_key(res, key, sizeof(key));

	pthread_mutex_lock(&a->lock);
	if (a->clients != NULL)
		v = ratelimit_stream_acquire(a->clients, res->client, now_ns);
	if (v == RATELIMIT_OK && a->users != NULL &&
	    res->identity != AUTH_ID_ANONYMOUS) {
		v = ratelimit_stream_acquire(a->users, key, now_ns);
		per_user = true;
		if (v != RATELIMIT_OK && a->clients != NULL)
			ratelimit_stream_release(a->clients, res->client, now_ns);
	}
	if (v == RATELIMIT_OK)
		a->counters.open_streams++;
	count_limit(a, v, &a->counters.limited_streams);
	pthread_mutex_unlock(&a->lock);

	if (v == RATELIMIT_OK) {
		res->stream_held = true;
		return AUTH_OK;
	}
	result_limited(res, AUTH_STREAM_RETRY_AFTER_S, v == RATELIMIT_FULL ?
	    "too many clients are active" : per_user ?
	    "too many concurrent blob downloads for this user" :
	    "too many concurrent blob downloads from this client");
	log_refusal(a, res, "rate_limited", v == RATELIMIT_FULL ? "capacity" :
	    "streams", NULL, now_ns);
	return res->outcome;
}

void
auth_stream_release(struct auth *a, struct auth_result *res)
{
	char key[USER_KEY_BUFSIZE];
	uint64_t now_ns;

	if (!res->stream_held)
		return;
	now_ns = a->clock_ns(a->clock_arg);
	user_key(res, key, sizeof(key));
	pthread_mutex_lock(&a->lock);
	if (a->clients != NULL)
		ratelimit_stream_release(a->clients, res->client, now_ns);
	if (a->users != NULL && res->identity != AUTH_ID_ANONYMOUS)
		ratelimit_stream_release(a->users, key, now_ns);
	a->counters.open_streams--;
	pthread_mutex_unlock(&a->lock);
	res->stream_held = false;
}

/* Statistics. */

static json_t *
failures_json(const struct auth_counters *c)
{
	json_t *o = json_object();

	for (int i = 0; o != NULL && i < AUTH_FAIL_COUNT; i++) {
		if (json_object_set_new(o, failure_names[i],
		    json_integer((json_int_t)c->failures[i])) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

json_t *
auth_stats(struct auth *a)
{
	struct auth_counters c;
	size_t cache_entries = 0;
	size_t clients = 0;
	size_t users = 0;
	uint64_t now_ns = a->clock_ns(a->clock_arg);
	json_t *failures;

	pthread_mutex_lock(&a->lock);
	c = a->counters;
	if (a->cache != NULL)
		cache_entries = auth_cache_count(a->cache, now_ns);
	if (a->clients != NULL)
		clients = ratelimit_count(a->clients);
	if (a->users != NULL)
		users = ratelimit_count(a->users);
	pthread_mutex_unlock(&a->lock);

	failures = failures_json(&c);
	if (failures == NULL)
		return NULL;
	return json_pack("{s:I, s:o, s:I, s:{s:I, s:I, s:I, s:I}, "
	    "s:{s:I, s:I, s:I}, s:I, s:I, s:I}",
	    "authenticated", (json_int_t)c.authenticated,
	    "auth_failures", failures,
	    "denied", (json_int_t)c.denied,
	    "rate_limited",
	    "client", (json_int_t)c.limited_client,
	    "user", (json_int_t)c.limited_user,
	    "streams", (json_int_t)c.limited_streams,
	    "capacity", (json_int_t)c.limited_capacity,
	    "cache",
	    "hits", (json_int_t)c.cache_hits,
	    "misses", (json_int_t)c.cache_misses,
	    "entries", (json_int_t)cache_entries,
	    "tracked_clients", (json_int_t)clients,
	    "tracked_users", (json_int_t)users,
	    "open_streams", (json_int_t)c.open_streams);
}
