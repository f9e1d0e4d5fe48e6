#include "proxy/service.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>

#include "cache/blobstore.h"
#include "cache/manifest_cache.h"
#include "cache/redis.h"
#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "proxy/admin.h"
#include "proxy/auth.h"
#include "proxy/gate.h"
#include "proxy/registry.h"
#include "proxy/route.h"
#include "proxy/server.h"
#include "proxy/upstream.h"
#include "proxy/version.h"

/* Seconds SIGTERM waits for requests in flight before exiting anyway. */
#define SERVICE_DRAIN_DEADLINE_S 30

struct upstream_health {
	struct service *svc;
	size_t index;
	struct upstream_fetch *probe;
	uint64_t probe_start_ns;
	bool up;
	bool probed;
	int last_status;
	double last_seconds;
	uint64_t probes;
	uint64_t failures;
};

struct service {
	struct config *cfg;
	const char *config_file;
	const void *flags;
	struct event_base *base;
	struct event *sig_term;
	struct event *sig_int;
	struct event *sig_hup;
	struct event *health_timer;
	struct upstream_client *uc;
	struct registry_upstream ups[CONFIG_MAX_UPSTREAMS];
	struct upstream_health health[CONFIG_MAX_UPSTREAMS];
	size_t n_ups;
	struct blobstore *blobs;
	struct manifest_cache *manifests;
	struct registry *reg;
	struct redis *redis;
	struct gate *gate;
	struct auth *auth;
	struct server *srv;
	struct admin *admin;
	time_t started;
	uint64_t reloads;
	uint64_t reload_failures;
	bool stopping;
};

/* ---- upstream health probes ---- */

static void
probe_done(void *arg, int err, const struct upstream_response *r,
    const char *errmsg)
{
	struct upstream_health *h = arg;
	bool was_up = h->up;

	h->probe = NULL;
	h->probes++;
	h->last_seconds = (double)(http_now_ns() - h->probe_start_ns) / 1e9;
	h->last_status = r != NULL ? r->status : 0;
	/* A registry responds to /v2/ with 200, or with 401 to request a token. */
	h->up = err == PC_OK && r != NULL && (r->status == 200 || r->status == 401);
	if (!h->up)
		h->failures++;
	if (!h->probed || was_up != h->up) {
		if (h->up)
			log_info("event=upstream_up name=%s status=%d", h->svc->ups[h->index].name,
			    h->last_status);
		else
			log_warn("event=upstream_down name=%s status=%d error=\"%s\"",
			    h->svc->ups[h->index].name, h->last_status,
			    errmsg != NULL ? errmsg : "unexpected status");
	}
	h->probed = true;
}

static const struct upstream_callbacks probe_callbacks = {
	.on_done = probe_done,
};

static void
health_tick(evutil_socket_t fd, short what, void *arg)
{
	struct service *svc = arg;
	struct upstream_request req = {"GET", "/v2/", NULL, NULL, 0};
	struct timeval tv = {(time_t)svc->cfg->health_interval_s, 0};

	for (size_t i = 0; i < svc->n_ups; i++) {
		struct upstream_health *h = &svc->health[i];

		if (h->probe != NULL || svc->ups[i].client == NULL)
			continue;
		h->probe_start_ns = http_now_ns();
		upstream_fetch(svc->ups[i].client, &req, &probe_callbacks, h, &h->probe);
	}
	evtimer_add(svc->health_timer, &tv);
}

/* ---- admin sources ---- */

static json_t *
stats_upstreams(struct service *svc)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < svc->n_ups; i++) {
		struct upstream_health *h = &svc->health[i];
		struct upstream_stats us;
		json_t *o;

		memset(&us, 0, sizeof(us));
		if (svc->ups[i].client != NULL)
			upstream_stats(svc->ups[i].client, &us);
		o = json_pack("{s:s, s:s, s:b, s:i, s:f, s:I, s:I, s:I, s:I, s:I, s:I}",
		    "name", svc->ups[i].name,
		    "url", i < svc->cfg->n_upstreams ? svc->cfg->upstreams[i].url : "-",
		    "up", h->up, "last_status", h->last_status,
		    "last_probe_seconds", h->last_seconds,
		    "probes", (json_int_t)h->probes,
		    "probe_failures", (json_int_t)h->failures,
		    "requests", (json_int_t)us.requests,
		    "errors", (json_int_t)us.errors,
		    "bytes", (json_int_t)us.bytes,
		    "token_fetches", (json_int_t)us.token_fetches);
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *service_stats_base(struct service *svc);

static json_t *
service_stats(void *arg)
{
	struct service *svc = arg;
	json_t *out = service_stats_base(svc);
	struct redis_stats rst;

	redis_stats(svc->redis, &rst);
	json_object_set_new(out, "redis", json_pack("{s:s, s:b, s:I, s:I, s:I}",
	    "state", redis_state_name(redis_state(svc->redis)),
	    "degraded", svc->cfg->redis_url != NULL &&
	    redis_state(svc->redis) != REDIS_STATE_CONNECTED,
	    "commands", (json_int_t)rst.commands, "failures", (json_int_t)rst.failures,
	    "reconnects", (json_int_t)rst.reconnects));
	if (svc->gate != NULL)
		json_object_set_new(out, "gate", gate_stats(svc->gate));
	if (svc->auth != NULL)
		json_object_set_new(out, "auth", auth_stats(svc->auth));
	return out;
}

static json_t *
service_verdicts(void *arg, const char *decision, const char *repo, size_t limit)
{
	struct service *svc = arg;

	return gate_verdicts(svc->gate, decision, repo, limit);
}

static json_t *
service_report(void *arg, const char *digest)
{
	struct service *svc = arg;

	return gate_report(svc->gate, digest);
}

static json_t *
service_stats_base(struct service *svc)
{
	struct registry_stats rs;
	struct blobstore_stats bs;
	struct server_counters sc;

	registry_stats(svc->reg, &rs);
	blobstore_stats(svc->blobs, &bs);
	server_counters(svc->srv, &sc);
	return json_pack("{s:s, s:I, s:b, "
	    "s:{s:I, s:I, s:I, s:I}, "
	    "s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, "
	    "s:{s:I, s:I}, "
	    "s:o}",
	    "version", PORTCULLIS_VERSION,
	    "uptime_seconds", (json_int_t)(time(NULL) - svc->started),
	    "offline", svc->cfg->offline,
	    "connections",
	    "accepted", (json_int_t)sc.connections_accepted,
	    "open", (json_int_t)sc.connections_open,
	    "rejected", (json_int_t)sc.connections_rejected,
	    "tls_handshake_failures", (json_int_t)sc.tls_handshake_failures,
	    "cache",
	    "requests", (json_int_t)rs.requests,
	    "manifest_hits", (json_int_t)rs.manifest_hits,
	    "manifest_misses", (json_int_t)rs.manifest_misses,
	    "manifest_stale", (json_int_t)rs.manifest_stale,
	    "blob_hits", (json_int_t)rs.blob_hits,
	    "blob_misses", (json_int_t)rs.blob_misses,
	    "blob_coalesced", (json_int_t)rs.blob_coalesced,
	    "bytes_from_cache", (json_int_t)rs.bytes_from_cache,
	    "bytes_from_upstream", (json_int_t)rs.bytes_from_upstream,
	    "blobs_stored", (json_int_t)bs.blobs,
	    "bytes_stored", (json_int_t)bs.bytes,
	    "max_bytes", (json_int_t)bs.max_bytes,
	    "evictions", (json_int_t)bs.evictions,
	    "digest_mismatches", (json_int_t)rs.digest_mismatches,
	    "passthrough_blobs", (json_int_t)rs.passthrough,
	    "config",
	    "reloads", (json_int_t)svc->reloads,
	    "reload_failures", (json_int_t)svc->reload_failures,
	    "upstreams", stats_upstreams(svc));
}

static bool
service_ready(void *arg, const char **why)
{
	struct service *svc = arg;

	if (svc->stopping) {
		*why = "shutting down";
		return false;
	}
	if (svc->cfg->redis_url != NULL &&
	    redis_state(svc->redis) != REDIS_STATE_CONNECTED) {
		*why = "redis is not reachable; verdicts are kept in process";
		return false;
	}
	return true;
}

/* ---- signals ---- */

static void
drained(void *arg)
{
	struct service *svc = arg;

	log_info("event=stopped");
	event_base_loopexit(svc->base, NULL);
}

static void
on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct service *svc = arg;

	if (svc->stopping) {
		log_warn("event=stop_forced signal=%d", (int)sig);
		event_base_loopexit(svc->base, NULL);
		return;
	}
	svc->stopping = true;
	log_info("event=stopping signal=%s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	if (svc->health_timer != NULL)
		evtimer_del(svc->health_timer);
	server_drain(svc->srv, SERVICE_DRAIN_DEADLINE_S, drained, svc);
}

static void
apply_log_level(const char *name)
{
	enum log_level level;

	if (name != NULL && log_level_parse(name, &level) == 0)
		log_set_level(level);
}

static void
on_reload_signal(evutil_socket_t sig, short what, void *arg)
{
	struct service *svc = arg;
	struct config fresh;
	struct config *cfg = svc->cfg;
	char errbuf[512];

	log_info("event=reloading file=%s", svc->config_file ? svc->config_file : "-");
	if (serve_reload_config(svc->flags, &fresh) != PC_OK) {
		svc->reload_failures++;
		log_error("event=reload_failed reason=\"invalid configuration, "
		    "keeping the running one\"");
		config_free(&fresh);
		return;
	}
	if (server_reload(svc->srv, fresh.listeners, fresh.n_listeners,
	    fresh.idle_timeout_s, fresh.write_timeout_s, fresh.access_log,
	    fresh.max_connections, errbuf, sizeof(errbuf)) != PC_OK) {
		svc->reload_failures++;
		log_error("event=reload_tls_failed error=\"%s\"", errbuf);
	}
	cfg->idle_timeout_s = fresh.idle_timeout_s;
	cfg->write_timeout_s = fresh.write_timeout_s;
	cfg->access_log = fresh.access_log;
	cfg->max_connections = fresh.max_connections;
	cfg->tag_ttl_s = fresh.tag_ttl_s;
	cfg->health_interval_s = fresh.health_interval_s;
	cfg->manifest_wait_s = fresh.manifest_wait_s;
	cfg->offline = fresh.offline;
	registry_set_tag_ttl(svc->reg, cfg->tag_ttl_s);
	registry_set_offline(svc->reg, cfg->offline);
	apply_log_level(fresh.log_level);
	if (admin_set_token_file(svc->admin, fresh.admin_token_file) != PC_OK)
		log_error("event=reload_admin_token_failed file=%s",
		    fresh.admin_token_file);
	if (fresh.n_listeners != cfg->n_listeners || fresh.n_upstreams != cfg->n_upstreams)
		log_warn("event=reload_partial reason=\"listeners and upstreams "
		    "change only on restart\"");
	if (fresh.cache_max_bytes != cfg->cache_max_bytes ||
	    strcmp(fresh.cache_dir, cfg->cache_dir) != 0 ||
	    fresh.upstream_connect_timeout_s != cfg->upstream_connect_timeout_s ||
	    fresh.upstream_header_timeout_s != cfg->upstream_header_timeout_s)
		log_warn("event=reload_partial reason=\"cache and upstream timeout "
		    "settings change only on restart\"");
	if (svc->gate != NULL && fresh.policy_file != NULL &&
	    gate_reload(svc->gate, fresh.policy_file, fresh.db_path,
	    fresh.manifest_wait_s, errbuf, sizeof(errbuf)) != PC_OK) {
		svc->reload_failures++;
		log_error("event=reload_policy_failed error=\"%s\"", errbuf);
	}
	svc->reloads++;
	config_free(&fresh);
	log_info("event=reloaded");
}

/* ---- start-up ---- */

static int
start_upstreams(struct service *svc)
{
	struct config *cfg = svc->cfg;
	int err;

	svc->n_ups = cfg->n_upstreams;
	if (cfg->offline && cfg->n_upstreams == 0) {
		/* Offline with no upstream named: serve what was imported for
		 * docker.io, the name cache import uses by default. */
		svc->ups[0].name = "docker.io";
		svc->ups[0].docker_hub = true;
		svc->health[0].svc = svc;
		svc->n_ups = 1;
		return PC_OK;
	}
	if (!cfg->offline) {
		err = upstream_client_new(svc->base, &svc->uc);
		if (err != PC_OK) {
			log_error("event=start_failed reason=\"cannot set up the upstream client\"");
			return err;
		}
	}
	for (size_t i = 0; i < cfg->n_upstreams; i++) {
		struct config_upstream *cu = &cfg->upstreams[i];
		struct upstream_config uc;
		char host[256] = "";

		config_url_host(cu->url, host, sizeof(host));
		svc->ups[i].name = cu->name;
		svc->ups[i].docker_hub = cu->docker_hub || route_is_docker_hub_host(host) ||
		    route_is_docker_hub_host(cu->name);
		svc->health[i].svc = svc;
		svc->health[i].index = i;
		if (cfg->offline)
			continue;
		memset(&uc, 0, sizeof(uc));
		uc.name = cu->name;
		uc.url = cu->url;
		uc.ca_file = cu->ca_file;
		uc.tls_verify = cu->tls_verify;
		uc.credentials_file = cu->credentials_file;
		uc.realm_hosts = (const char *const *)cu->realm_hosts;
		uc.n_realm_hosts = cu->n_realm_hosts;
		if (svc->ups[i].docker_hub && cu->n_realm_hosts == 0) {
			/* Docker Hub serves its tokens from another host. */
			static const char *const hub_realms[] = {"auth.docker.io"};

			uc.realm_hosts = hub_realms;
			uc.n_realm_hosts = 1;
		}
		uc.connect_timeout_ms = (long)cfg->upstream_connect_timeout_s * 1000;
		uc.header_timeout_ms = (long)cfg->upstream_header_timeout_s * 1000;
		uc.http2 = cu->http2;
		err = upstream_new(svc->uc, &uc, &svc->ups[i].client);
		if (err != PC_OK) {
			log_error("event=start_failed upstream=%s reason=\"%s\"", cu->name,
			    pc_strerror(err));
			return err;
		}
		log_info("event=upstream name=%s url=%s docker_hub=%s", cu->name, cu->url,
		    svc->ups[i].docker_hub ? "yes" : "no");
	}
	return PC_OK;
}

static int
start_listeners(struct service *svc)
{
	struct config *cfg = svc->cfg;
	struct listener_opts opts = {registry_handle, svc->reg, cfg->idle_timeout_s,
	    cfg->write_timeout_s, cfg->access_log};
	struct admin_source src = {svc, service_stats, service_ready,
	    svc->gate != NULL ? service_verdicts : NULL,
	    svc->gate != NULL ? service_report : NULL};
	char errbuf[512];
	int err;

	err = server_new(svc->base, cfg->max_connections, &svc->srv);
	if (err != PC_OK)
		return err;
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		err = server_listen(svc->srv, &cfg->listeners[i], &opts, errbuf,
		    sizeof(errbuf));
		if (err != PC_OK) {
			log_error("event=start_failed reason=\"%s\"", errbuf);
			return err;
		}
	}
	err = admin_new(&src, &svc->admin);
	if (err != PC_OK)
		return err;
	if (cfg->admin_token_file != NULL &&
	    admin_set_token_file(svc->admin, cfg->admin_token_file) != PC_OK) {
		log_error("event=start_failed reason=\"cannot read admin token file %s\"",
		    cfg->admin_token_file);
		return PC_ERR_IO;
	}
	if (cfg->admin_address != NULL && cfg->admin_address[0] != '\0') {
		struct config_listener al;
		struct listener_opts aopts = {admin_handle, svc->admin, cfg->idle_timeout_s,
		    cfg->write_timeout_s, false};

		memset(&al, 0, sizeof(al));
		al.address = cfg->admin_address;
		err = server_listen(svc->srv, &al, &aopts, errbuf, sizeof(errbuf));
		if (err != PC_OK) {
			log_error("event=start_failed reason=\"admin: %s\"", errbuf);
			return err;
		}
	}
	return PC_OK;
}

static int
start_auth(struct service *svc)
{
	struct config *cfg = svc->cfg;
	struct auth_config ac;
	struct auth_rule rules[CONFIG_MAX_AUTH_RULES];
	char errbuf[512];
	int err;

	if (cfg->auth_htpasswd == NULL && cfg->auth_tokens_file == NULL &&
	    cfg->n_auth_rules == 0 && cfg->rate_per_client_rps == 0 &&
	    cfg->rate_per_user_rps == 0 && cfg->rate_per_client_streams == 0 &&
	    cfg->rate_per_user_streams == 0)
		return PC_OK;
	auth_config_init(&ac);
	ac.htpasswd_file = cfg->auth_htpasswd;
	ac.tokens_file = cfg->auth_tokens_file;
	if (cfg->auth_realm != NULL)
		ac.realm = cfg->auth_realm;
	ac.anonymous = cfg->auth_anonymous || (cfg->auth_htpasswd == NULL &&
	    cfg->auth_tokens_file == NULL);
	for (size_t i = 0; i < cfg->n_auth_rules; i++) {
		const struct config_auth_rule *cr = &cfg->auth_rules[i];

		memset(&rules[i], 0, sizeof(rules[i]));
		rules[i].users = (const char *const *)cr->users;
		rules[i].n_users = cr->n_users;
		rules[i].subjects = (const char *const *)cr->subjects;
		rules[i].n_subjects = cr->n_subjects;
		rules[i].repositories = (const char *const *)cr->repositories;
		rules[i].n_repositories = cr->n_repositories;
		rules[i].anonymous = cr->anonymous;
		rules[i].deny = cr->deny;
	}
	ac.rules = rules;
	ac.n_rules = cfg->n_auth_rules;
	ac.rate.per_client_rps = cfg->rate_per_client_rps;
	ac.rate.per_client_burst = cfg->rate_per_client_burst ? cfg->rate_per_client_burst :
	    cfg->rate_per_client_rps;
	ac.rate.per_user_rps = cfg->rate_per_user_rps;
	ac.rate.per_user_burst = cfg->rate_per_user_burst ? cfg->rate_per_user_burst :
	    cfg->rate_per_user_rps;
	ac.rate.per_client_streams = cfg->rate_per_client_streams;
	ac.rate.per_user_streams = cfg->rate_per_user_streams;
	err = auth_new(&ac, &svc->auth, errbuf, sizeof(errbuf));
	if (err != PC_OK)
		log_error("event=start_failed reason=\"%s\"", errbuf);
	else
		log_info("event=auth_enabled htpasswd=%s tokens=%s rules=%zu",
		    cfg->auth_htpasswd ? cfg->auth_htpasswd : "-",
		    cfg->auth_tokens_file ? cfg->auth_tokens_file : "-", cfg->n_auth_rules);
	return err;
}

static int
start_gate(struct service *svc)
{
	struct config *cfg = svc->cfg;
	struct gate_config gc;
	char errbuf[512];
	int err;

	err = redis_new(svc->base, cfg->redis_url, &svc->redis);
	if (err != PC_OK) {
		log_error("event=start_failed reason=\"invalid redis URL %s: expected "
		    "redis://host:port[/db] or unix:/path\"", cfg->redis_url);
		return err;
	}
	if (cfg->policy_file == NULL) {
		log_warn("event=no_policy reason=\"no policy configured: every image "
		    "passes unscanned\"");
		return PC_OK;
	}
	memset(&gc, 0, sizeof(gc));
	gc.base = svc->base;
	gc.redis = svc->redis;
	gc.policy_file = cfg->policy_file;
	gc.db_path = cfg->db_path;
	gc.manifest_wait_s = cfg->manifest_wait_s;
	gc.workers = cfg->scan_workers;
	gc.offline = cfg->offline;
	gc.cache_dir = cfg->cache_dir;
	err = gate_new(&gc, &svc->gate, errbuf, sizeof(errbuf));
	if (err != PC_OK)
		log_error("event=start_failed reason=\"%s\"", errbuf);
	return err;
}

static int
start_caches(struct service *svc)
{
	int err = blobstore_open(svc->cfg->cache_dir, svc->cfg->cache_max_bytes,
	    &svc->blobs);

	if (err != PC_OK) {
		log_error("event=start_failed reason=\"cannot open the blob store in %s: "
		    "%s\"", svc->cfg->cache_dir, pc_strerror(err));
		return err;
	}
	err = manifest_cache_open(svc->cfg->cache_dir, &svc->manifests);
	if (err != PC_OK)
		log_error("event=start_failed reason=\"cannot open the manifest cache in "
		    "%s: %s\"", svc->cfg->cache_dir, pc_strerror(err));
	return err;
}

static int
start_signals(struct service *svc)
{
	struct timeval now = {0, 0};

	svc->sig_term = evsignal_new(svc->base, SIGTERM, on_stop_signal, svc);
	svc->sig_int = evsignal_new(svc->base, SIGINT, on_stop_signal, svc);
	svc->sig_hup = evsignal_new(svc->base, SIGHUP, on_reload_signal, svc);
	svc->health_timer = evtimer_new(svc->base, health_tick, svc);
	if (svc->sig_term == NULL || svc->sig_int == NULL || svc->sig_hup == NULL ||
	    svc->health_timer == NULL)
		return PC_ERR_NOMEM;
	evsignal_add(svc->sig_term, NULL);
	evsignal_add(svc->sig_int, NULL);
	evsignal_add(svc->sig_hup, NULL);
	if (!svc->cfg->offline)
		evtimer_add(svc->health_timer, &now);
	return PC_OK;
}

static void
service_free(struct service *svc)
{
	/* Connections first: their exchanges reference the registry. Redis
	 * next: its pending callbacks run now, while the gate still exists
	 * (marked closing, so they do nothing). */
	server_free(svc->srv);
	if (svc->gate != NULL)
		gate_mark_closing(svc->gate);
	redis_free(svc->redis);
	gate_free(svc->gate);
	registry_free(svc->reg);
	auth_free(svc->auth);
	admin_free(svc->admin);
	for (size_t i = 0; i < svc->n_ups; i++) {
		if (svc->health[i].probe != NULL)
			upstream_fetch_cancel(svc->health[i].probe);
	}
	if (svc->uc != NULL)
		upstream_client_free(svc->uc);
	if (svc->manifests != NULL)
		manifest_cache_close(svc->manifests);
	if (svc->blobs != NULL)
		blobstore_close(svc->blobs);
	if (svc->sig_term != NULL)
		event_free(svc->sig_term);
	if (svc->sig_int != NULL)
		event_free(svc->sig_int);
	if (svc->sig_hup != NULL)
		event_free(svc->sig_hup);
	if (svc->health_timer != NULL)
		event_free(svc->health_timer);
	if (svc->base != NULL)
		event_base_free(svc->base);
}

int
service_run(struct config *cfg, const char *config_file, const void *flags)
{
	struct service svc;
	struct registry_deps deps;
	int err;

	memset(&svc, 0, sizeof(svc));
	svc.cfg = cfg;
	svc.config_file = config_file;
	svc.flags = flags;
	svc.started = time(NULL);
	apply_log_level(cfg->log_level);
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();

	svc.base = event_base_new();
	if (svc.base == NULL) {
		log_error("event=start_failed reason=\"cannot create the event loop\"");
		return 2;
	}
	err = start_caches(&svc);
	if (err == PC_OK)
		err = start_upstreams(&svc);
	if (err == PC_OK)
		err = start_gate(&svc);
	if (err == PC_OK)
		err = start_auth(&svc);
	if (err == PC_OK) {
		memset(&deps, 0, sizeof(deps));
		deps.base = svc.base;
		deps.upstreams = svc.ups;
		deps.n_upstreams = svc.n_ups;
		deps.blobs = svc.blobs;
		deps.manifests = svc.manifests;
		deps.tag_ttl_s = cfg->tag_ttl_s;
		deps.offline = cfg->offline;
		deps.gate = svc.gate;
		deps.auth = svc.auth;
		deps.gate_ops = svc.gate != NULL ? &gate_ops_default : NULL;
		err = registry_new(&deps, &svc.reg);
		if (err == PC_OK && svc.gate != NULL)
			gate_set_registry(svc.gate, svc.reg);
	}
	if (err == PC_OK)
		err = start_listeners(&svc);
	if (err == PC_OK)
		err = start_signals(&svc);
	if (err != PC_OK) {
		service_free(&svc);
		return 2;
	}

	log_info("event=started version=%s listeners=%zu upstreams=%zu cache_dir=%s "
	    "offline=%s", PORTCULLIS_VERSION, cfg->n_listeners, cfg->n_upstreams,
	    cfg->cache_dir, cfg->offline ? "yes" : "no");
	event_base_dispatch(svc.base);
	service_free(&svc);
	return 0;
}
