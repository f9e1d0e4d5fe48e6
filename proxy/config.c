#include "proxy/config.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/util.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "common/yamltree.h"

enum opt_type {
	OPT_STRING,
	OPT_BOOL,
	OPT_UINT,      /* plain unsigned integer */
	OPT_SECONDS,   /* 20, "20s", "5m", "1h" */
	OPT_SIZE,      /* 1024, "500MiB", "20GB" */
	OPT_STRLIST,   /* list of strings */
};

enum opt_scope {
	SCOPE_TOP,
	SCOPE_LISTENER,
	SCOPE_UPSTREAM,
	SCOPE_AUTH_RULE,
};

/*
 * One configuration option. path is a JSON pointer into the YAML document
 * where "*" stands for a list index. For lists of strings offset points at
 * the array and count_offset at its length.
 */
struct option {
	const char *path;
	enum opt_type type;
	enum opt_scope scope;
	size_t offset;
	const char *def;
	uint64_t min;
	uint64_t max;
	bool reloadable;
	const char *help;
	size_t count_offset;
	size_t max_items;
};

#define TOP(f) SCOPE_TOP, offsetof(struct config, f)
#define LIS(f) SCOPE_LISTENER, offsetof(struct config_listener, f)
#define UPS(f) SCOPE_UPSTREAM, offsetof(struct config_upstream, f)
#define RULE(f) SCOPE_AUTH_RULE, offsetof(struct config_auth_rule, f)

static const struct option options[] = {
	{"/listen/*/address", OPT_STRING, LIS(address), NULL, 0, 0, false,
	    "Address of a registry listener: host:port, [v6]:port or :port."},
	{"/listen/*/tls/cert", OPT_STRING, LIS(tls_cert), NULL, 0, 0, true,
	    "PEM certificate chain; the listener speaks TLS (ALPN h2, http/1.1) when set."},
	{"/listen/*/tls/key", OPT_STRING, LIS(tls_key), NULL, 0, 0, true,
	    "PEM private key of the certificate."},
	{"/listen/*/tls/client_ca", OPT_STRING, LIS(tls_client_ca), NULL, 0, 0, true,
	    "CA bundle that client certificates are verified against (mTLS)."},
	{"/listen/*/tls/client_required", OPT_BOOL, LIS(tls_client_required), "false",
	    0, 0, true, "Reject TLS clients without a valid certificate."},

	{"/upstreams/*/name", OPT_STRING, UPS(name), NULL, 0, 0, false,
	    "Registry name that ?ns= and the /v2/<name>/ path prefix select; "
	    "defaults to the URL's host."},
	{"/upstreams/*/url", OPT_STRING, UPS(url), NULL, 0, 0, false,
	    "Base URL of the upstream registry, e.g. https://registry-1.docker.io."},
	{"/upstreams/*/ca_file", OPT_STRING, UPS(ca_file), NULL, 0, 0, false,
	    "CA bundle for the upstream's TLS certificate."},
	{"/upstreams/*/tls_verify", OPT_BOOL, UPS(tls_verify), "true", 0, 0, false,
	    "Verify the upstream's TLS certificate."},
	{"/upstreams/*/credentials_file", OPT_STRING, UPS(credentials_file), NULL,
	    0, 0, false, "File holding username:password for the upstream."},
	{"/upstreams/*/realm_hosts", OPT_STRLIST, UPS(realm_hosts), NULL, 0, 0,
	    false, "Extra hosts allowed as token realms (e.g. auth.docker.io).",
	    offsetof(struct config_upstream, n_realm_hosts), CONFIG_MAX_REALM_HOSTS},
	{"/upstreams/*/docker_hub", OPT_BOOL, UPS(docker_hub), NULL, 0, 0, false,
	    "Treat as Docker Hub: one-component names get library/. Docker Hub "
	    "names and hosts (docker.io, registry-1.docker.io) always are."},
	{"/upstreams/*/http2", OPT_BOOL, UPS(http2), "true", 0, 0, false,
	    "Offer HTTP/2 to the upstream over TLS."},

	{"/auth/htpasswd", OPT_STRING, TOP(auth_htpasswd), NULL, 0, 0, false,
	    "htpasswd file with bcrypt entries (htpasswd -B); clients must log in."},
	{"/auth/tokens_file", OPT_STRING, TOP(auth_tokens_file), NULL, 0, 0, false,
	    "File of static bearer tokens, one \"name token\" per line."},
	{"/auth/realm", OPT_STRING, TOP(auth_realm), NULL, 0, 0, false,
	    "Realm named in the 401 challenge."},
	{"/auth/anonymous", OPT_BOOL, TOP(auth_anonymous), "false", 0, 0, false,
	    "Let requests without credentials through as the anonymous user."},
	{"/auth/rules/*/users", OPT_STRLIST, RULE(users), NULL, 0, 0, false,
	    "User or token name globs the rule applies to.",
	    offsetof(struct config_auth_rule, n_users), CONFIG_MAX_RULE_GLOBS},
	{"/auth/rules/*/subjects", OPT_STRLIST, RULE(subjects), NULL, 0, 0, false,
	    "Client certificate subject globs (RFC 2253, \"CN=ci,O=Example\").",
	    offsetof(struct config_auth_rule, n_subjects), CONFIG_MAX_RULE_GLOBS},
	{"/auth/rules/*/repositories", OPT_STRLIST, RULE(repositories), NULL, 0, 0,
	    false, "Repository globs the rule allows (or denies).",
	    offsetof(struct config_auth_rule, n_repositories), CONFIG_MAX_RULE_GLOBS},
	{"/auth/rules/*/anonymous", OPT_BOOL, RULE(anonymous), "false", 0, 0, false,
	    "The rule also applies to clients without credentials."},
	{"/auth/rules/*/deny", OPT_BOOL, RULE(deny), "false", 0, 0, false,
	    "The rule refuses instead of allowing."},
	{"/auth/rate/per_client_rps", OPT_UINT, TOP(rate_per_client_rps), "0", 0,
	    1000000, false, "Requests per second per client address; 0: no limit."},
	{"/auth/rate/per_client_burst", OPT_UINT, TOP(rate_per_client_burst), "0", 0,
	    1000000, false, "Burst above per_client_rps."},
	{"/auth/rate/per_user_rps", OPT_UINT, TOP(rate_per_user_rps), "0", 0, 1000000,
	    false, "Requests per second per user; 0: no limit."},
	{"/auth/rate/per_user_burst", OPT_UINT, TOP(rate_per_user_burst), "0", 0,
	    1000000, false, "Burst above per_user_rps."},
	{"/auth/rate/per_client_streams", OPT_UINT, TOP(rate_per_client_streams), "0",
	    0, 100000, false, "Concurrent blob downloads per client; 0: no limit."},
	{"/auth/rate/per_user_streams", OPT_UINT, TOP(rate_per_user_streams), "0", 0,
	    100000, false, "Concurrent blob downloads per user; 0: no limit."},

	{"/admin/address", OPT_STRING, TOP(admin_address), "127.0.0.1:5001", 0, 0,
	    false, "Address of the admin listener (health, stats, metrics, reports)."},
	{"/admin/token_file", OPT_STRING, TOP(admin_token_file), NULL, 0, 0, true,
	    "File holding the bearer token the admin endpoints require."},

	{"/cache/dir", OPT_STRING, TOP(cache_dir), "/var/cache/portcullis", 0, 0,
	    false, "Folder of the blob store and the manifest cache."},
	{"/cache/max_bytes", OPT_SIZE, TOP(cache_max_bytes), "20GiB", 1 << 20,
	    UINT64_MAX, false, "Byte limit of the blob store (LRU eviction)."},
	{"/cache/tag_ttl", OPT_SECONDS, TOP(tag_ttl_s), "300", 0, 86400 * 30, true,
	    "Age after which a cached tag is revalidated upstream with a HEAD."},

	{"/redis/url", OPT_STRING, TOP(redis_url), NULL, 0, 0, false,
	    "Redis for verdicts and shared state: redis://host:port[/db] or "
	    "unix:/path. Without it verdicts stay in process."},
	{"/policy", OPT_STRING, TOP(policy_file), NULL, 0, 0, true,
	    "Policy file (policy.yaml)."},
	{"/db", OPT_STRING, TOP(db_path), NULL, 0, 0, true,
	    "Vulnerability database made by 'portcullis db import'."},

	{"/scan/workers", OPT_UINT, TOP(scan_workers), "2", 1, 64, false,
	    "Scan worker threads."},
	{"/scan/manifest_wait", OPT_SECONDS, TOP(manifest_wait_s), "20", 0, 300,
	    true, "How long a manifest request waits for a verdict."},
	{"/offline", OPT_BOOL, TOP(offline), "false", 0, 0, true,
	    "Never contact an upstream: serve what the cache holds."},

	{"/server/idle_timeout", OPT_SECONDS, TOP(idle_timeout_s), "60", 1, 3600,
	    true, "Close client connections idle (or sending a head) this long."},
	{"/server/write_timeout", OPT_SECONDS, TOP(write_timeout_s), "120", 1, 3600,
	    true, "Close client connections that read nothing for this long."},
	{"/server/max_connections", OPT_UINT, TOP(max_connections), "4096", 1,
	    1000000, true, "Client connections served at once."},
	{"/server/upstream_connect_timeout", OPT_SECONDS,
	    TOP(upstream_connect_timeout_s), "10", 1, 300, false,
	    "Time allowed to connect to an upstream."},
	{"/server/upstream_header_timeout", OPT_SECONDS,
	    TOP(upstream_header_timeout_s), "25", 1, 600, false,
	    "Time allowed for an upstream's response headers."},
	{"/server/health_interval", OPT_SECONDS, TOP(health_interval_s), "30", 1,
	    3600, true, "Interval of the upstream health probes."},

	{"/log/level", OPT_STRING, TOP(log_level), "info", 0, 0, true,
	    "debug, info, warn or error."},
	{"/log/access", OPT_BOOL, TOP(access_log), "true", 0, 0, true,
	    "One access log line per request."},
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static void *
scope_base(struct config *cfg, enum opt_scope scope, size_t index)
{
	switch (scope) {
	case SCOPE_TOP:
		return cfg;
	case SCOPE_LISTENER:
		return &cfg->listeners[index];
	case SCOPE_UPSTREAM:
		return &cfg->upstreams[index];
	case SCOPE_AUTH_RULE:
		return &cfg->auth_rules[index];
	}
	return NULL;
}

int
config_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {
		{"", 1}, {"B", 1}, {"K", 1000}, {"KB", 1000}, {"KiB", 1024},
		{"M", 1000000}, {"MB", 1000000}, {"MiB", 1 << 20},
		{"G", 1000000000}, {"GB", 1000000000}, {"GiB", 1 << 30},
		{"T", 1000000000000ULL}, {"TB", 1000000000000ULL},
		{"TiB", 1ULL << 40},
	};
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return PC_ERR_INVALID;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return PC_ERR_INVALID;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			if (v > UINT64_MAX / units[i].mult)
				return PC_ERR_INVALID;
			*out = v * units[i].mult;
			return PC_OK;
		}
	}
	return PC_ERR_INVALID;
}

static int
parse_seconds(const char *s, uint64_t *out)
{
	unsigned long long v;
	uint64_t mult = 1;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return PC_ERR_INVALID;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return PC_ERR_INVALID;
	if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
		mult = 1;
	else if (strcmp(end, "m") == 0)
		mult = 60;
	else if (strcmp(end, "h") == 0)
		mult = 3600;
	else
		return PC_ERR_INVALID;
	if (v > UINT64_MAX / mult)
		return PC_ERR_INVALID;
	*out = v * mult;
	return PC_OK;
}

/* Converts a scalar given as text (default or flag) and stores it. */
static int
option_store_text(const struct option *opt, void *base, const char *text,
    char *why, size_t whylen)
{
	char *p = (char *)base + opt->offset;
	uint64_t v;
	int err;

	switch (opt->type) {
	case OPT_STRING: {
		char **slot = (char **)p;
		char *copy = pc_strdup(text);

		if (copy == NULL)
			return PC_ERR_NOMEM;
		pc_free(*slot);
		*slot = copy;
		return PC_OK;
	}
	case OPT_BOOL:
		if (strcmp(text, "true") == 0)
			*(bool *)p = true;
		else if (strcmp(text, "false") == 0)
			*(bool *)p = false;
		else {
			snprintf(why, whylen, "expected true or false, got \"%s\"", text);
			return PC_ERR_INVALID;
		}
		return PC_OK;
	case OPT_UINT:
	case OPT_SECONDS:
	case OPT_SIZE:
		if (opt->type == OPT_SIZE)
			err = config_parse_size(text, &v);
		else if (opt->type == OPT_SECONDS)
			err = parse_seconds(text, &v);
		else
			err = config_parse_size(text, &v) == PC_OK && strspn(text,
			    "0123456789") == strlen(text) ? PC_OK : PC_ERR_INVALID;
		if (err != PC_OK) {
			snprintf(why, whylen, "invalid %s \"%s\"",
			    opt->type == OPT_SIZE ? "size (e.g. 500MiB)" :
			    opt->type == OPT_SECONDS ? "duration (e.g. 30s, 5m)" :
			    "number", text);
			return PC_ERR_INVALID;
		}
		if (v < opt->min || (opt->max != 0 && v > opt->max)) {
			snprintf(why, whylen, "%s is out of range [%llu, %llu]", text,
			    (unsigned long long)opt->min, (unsigned long long)opt->max);
			return PC_ERR_INVALID;
		}
		if (opt->type == OPT_SIZE)
			*(uint64_t *)p = v;
		else
			*(unsigned *)p = (unsigned)v;
		return PC_OK;
	case OPT_STRLIST:
		break;
	}
	snprintf(why, whylen, "expected a list");
	return PC_ERR_INVALID;
}

static void
apply_defaults(struct config *cfg, enum opt_scope scope, size_t index)
{
	char why[128];

	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (options[i].scope != scope || options[i].def == NULL)
			continue;
		option_store_text(&options[i], scope_base(cfg, scope, index),
		    options[i].def, why, sizeof(why));
	}
}

int
config_init(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	apply_defaults(cfg, SCOPE_TOP, 0);
	if (cfg->cache_dir == NULL || cfg->log_level == NULL)
		return PC_ERR_NOMEM;
	return PC_OK;
}

static void
free_scope(void *base, enum opt_scope scope)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		char *p = (char *)base + options[i].offset;

		if (options[i].scope != scope)
			continue;
		if (options[i].type == OPT_STRING) {
			pc_free(*(char **)p);
			*(char **)p = NULL;
		} else if (options[i].type == OPT_STRLIST) {
			size_t *count = (size_t *)((char *)base + options[i].count_offset);

			for (size_t k = 0; k < *count; k++)
				pc_free(((char **)p)[k]);
			*count = 0;
		}
	}
}

void
config_clear_listeners(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_listeners; i++)
		free_scope(&cfg->listeners[i], SCOPE_LISTENER);
	memset(cfg->listeners, 0, sizeof(cfg->listeners));
	cfg->n_listeners = 0;
}

void
config_clear_upstreams(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_upstreams; i++)
		free_scope(&cfg->upstreams[i], SCOPE_UPSTREAM);
	memset(cfg->upstreams, 0, sizeof(cfg->upstreams));
	cfg->n_upstreams = 0;
}

void
config_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_listeners; i++)
		free_scope(&cfg->listeners[i], SCOPE_LISTENER);
	for (size_t i = 0; i < cfg->n_upstreams; i++)
		free_scope(&cfg->upstreams[i], SCOPE_UPSTREAM);
	for (size_t i = 0; i < cfg->n_auth_rules; i++)
		free_scope(&cfg->auth_rules[i], SCOPE_AUTH_RULE);
	free_scope(cfg, SCOPE_TOP);
	pc_free(cfg->source);
	memset(cfg, 0, sizeof(*cfg));
}

/* Writes pointer into out with each list index replaced by "*". */
static void
pointer_pattern(const char *pointer, char *out, size_t outlen, size_t *index)
{
	size_t o = 0;

	*index = 0;
	for (const char *p = pointer; *p != '\0' && o + 2 < outlen;) {
		if (*p == '/' && isdigit((unsigned char)p[1])) {
			const char *q = p + 1;

			while (isdigit((unsigned char)*q))
				q++;
			if (*q == '/' || *q == '\0') {
				*index = (size_t)strtoul(p + 1, NULL, 10);
				out[o++] = '/';
				out[o++] = '*';
				p = q;
				continue;
			}
		}
		out[o++] = *p++;
	}
	out[o] = '\0';
}

static const struct option *
find_option(const char *pattern)
{
	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (strcmp(options[i].path, pattern) == 0)
			return &options[i];
	}
	return NULL;
}

/* True when pattern is a proper prefix (a section) of some option path. */
static bool
is_section(const char *pattern)
{
	size_t len = strlen(pattern);

	for (size_t i = 0; i < N_OPTIONS; i++) {
		if (strncmp(options[i].path, pattern, len) == 0 &&
		    options[i].path[len] == '/')
			return true;
	}
	return false;
}

static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a);
	size_t lb = strlen(b);
	size_t row[64];

	if (la >= 63 || lb >= 63)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = prev + cost;

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

/* Finds the valid key at the level of pattern closest to its last token. */
static void
suggest_key(const char *pattern, char *out, size_t outlen)
{
	const char *slash = strrchr(pattern, '/');
	size_t parent_len = slash != NULL ? (size_t)(slash - pattern) : 0;
	const char *key = slash != NULL ? slash + 1 : pattern;
	size_t best = SIZE_MAX;

	out[0] = '\0';
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const char *path = options[i].path;
		const char *tok;
		const char *tok_end;
		char cand[64];
		size_t d;

		if (strncmp(path, pattern, parent_len) != 0 || path[parent_len] != '/')
			continue;
		tok = path + parent_len + 1;
		tok_end = strchr(tok, '/');
		if (tok_end == NULL)
			tok_end = tok + strlen(tok);
		if ((size_t)(tok_end - tok) >= sizeof(cand))
			continue;
		memcpy(cand, tok, (size_t)(tok_end - tok));
		cand[tok_end - tok] = '\0';
		d = edit_distance(key, cand);
		if (d < best) {
			best = d;
			snprintf(out, outlen, "%s", cand);
		}
	}
	if (best > 3)
		out[0] = '\0';
}

struct loader {
	struct config *cfg;
	const struct yamltree *tree;
	FILE *errors;
	int problems;
	int err;          /* PC_ERR_NOMEM once an allocation failed */
};

static void report(struct loader *ld, const char *pointer, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
report(struct loader *ld, const char *pointer, const char *fmt, ...)
{
	va_list ap;

	fprintf(ld->errors, "%s:%d: ", ld->tree->path,
	    yamltree_line(ld->tree, pointer));
	va_start(ap, fmt);
	vfprintf(ld->errors, fmt, ap);
	va_end(ap);
	fputc('\n', ld->errors);
	ld->problems++;
}

static const char *
display_key(const char *pointer)
{
	return pointer[0] == '/' ? pointer + 1 : pointer;
}

static int
ensure_element(struct loader *ld, enum opt_scope scope, size_t index)
{
	size_t *count;
	size_t max;

	if (scope == SCOPE_LISTENER) {
		count = &ld->cfg->n_listeners;
		max = CONFIG_MAX_LISTENERS;
	} else if (scope == SCOPE_UPSTREAM) {
		count = &ld->cfg->n_upstreams;
		max = CONFIG_MAX_UPSTREAMS;
	} else if (scope == SCOPE_AUTH_RULE) {
		count = &ld->cfg->n_auth_rules;
		max = CONFIG_MAX_AUTH_RULES;
	} else {
		return PC_OK;
	}
	if (index >= max)
		return PC_ERR_LIMIT;
	while (*count <= index) {
		apply_defaults(ld->cfg, scope, *count);
		(*count)++;
	}
	return PC_OK;
}

static void
load_strlist(struct loader *ld, const struct option *opt, void *base,
    const char *pointer, json_t *node)
{
	char **arr = (char **)((char *)base + opt->offset);
	size_t *count = (size_t *)((char *)base + opt->count_offset);
	size_t i;
	json_t *item;

	if (!json_is_array(node)) {
		report(ld, pointer, "%s: expected a list of strings", display_key(pointer));
		return;
	}
	json_array_foreach(node, i, item) {
		if (!json_is_string(item)) {
			report(ld, pointer, "%s: list items must be strings", display_key(pointer));
			return;
		}
		if (*count >= opt->max_items) {
			report(ld, pointer, "%s: more items than the limit", display_key(pointer));
			return;
		}
		arr[*count] = pc_strdup(json_string_value(item));
		if (arr[*count] == NULL) {
			ld->err = PC_ERR_NOMEM;
			return;
		}
		(*count)++;
	}
}

static void
load_leaf(struct loader *ld, const struct option *opt, size_t index,
    const char *pointer, json_t *node)
{
	char number[64];
	const char *text;
	char why[256] = "";
	void *base;
	int err;

	if (ensure_element(ld, opt->scope, index) != PC_OK) {
		report(ld, pointer, "%s: too many list entries", display_key(pointer));
		return;
	}
	base = scope_base(ld->cfg, opt->scope, index);
	if (opt->type == OPT_STRLIST) {
		load_strlist(ld, opt, base, pointer, node);
		return;
	}
	if (json_is_null(node)) {
		return;  /* "key:" with no value keeps the default */
	} else if (json_is_string(node)) {
		text = json_string_value(node);
	} else if (json_is_integer(node)) {
		if (json_integer_value(node) < 0) {
			report(ld, pointer, "%s: must not be negative", display_key(pointer));
			return;
		}
		snprintf(number, sizeof(number), "%lld", (long long)json_integer_value(node));
		text = number;
	} else if (json_is_boolean(node)) {
		text = json_is_true(node) ? "true" : "false";
	} else if (json_is_real(node)) {
		report(ld, pointer, "%s: expected a whole number, a size or a duration, "
		    "not a fraction", display_key(pointer));
		return;
	} else {
		report(ld, pointer, "%s: expected a scalar value", display_key(pointer));
		return;
	}
	if (opt->type == OPT_STRING && !json_is_string(node)) {
		report(ld, pointer, "%s: expected a string", display_key(pointer));
		return;
	}
	if (opt->type == OPT_BOOL && !json_is_boolean(node)) {
		report(ld, pointer, "%s: expected true or false", display_key(pointer));
		return;
	}
	err = option_store_text(opt, base, text, why, sizeof(why));
	if (err == PC_ERR_NOMEM)
		ld->err = PC_ERR_NOMEM;
	else if (err != PC_OK)
		report(ld, pointer, "%s: %s", display_key(pointer), why);
}

static void
load_node(struct loader *ld, const char *pointer, json_t *node)
{
	char pattern[512];
	char child[512];
	char suggestion[64];
	const struct option *opt;
	size_t index;

	pointer_pattern(pointer, pattern, sizeof(pattern), &index);
	opt = find_option(pattern);
	if (opt != NULL) {
		load_leaf(ld, opt, index, pointer, node);
		return;
	}
	if (pattern[0] != '\0' && !is_section(pattern)) {
		suggest_key(pattern, suggestion, sizeof(suggestion));
		if (suggestion[0] != '\0')
			report(ld, pointer, "unknown key '%s'; did you mean '%s'?",
			    display_key(pointer), suggestion);
		else
			report(ld, pointer, "unknown key '%s'", display_key(pointer));
		return;
	}

	if (json_is_object(node)) {
		const char *key;
		json_t *value;

		json_object_foreach(node, key, value) {
			/* Keys are names: a '/' or '~' would be read as a path,
			 * and a number as a list index. */
			if (key[0] == '\0' || strpbrk(key, "/~") != NULL ||
			    strspn(key, "0123456789") == strlen(key)) {
				report(ld, pointer, "invalid key \"%.100s\" in %s", key,
				    pointer[0] ? display_key(pointer) : "the top level");
				continue;
			}
			snprintf(child, sizeof(child), "%s/%s", pointer, key);
			load_node(ld, child, value);
		}
	} else if (json_is_array(node)) {
		size_t i;
		json_t *value;
		char star[512];

		snprintf(star, sizeof(star), "%s/*", pattern);
		if (!is_section(star)) {
			report(ld, pointer, "%s: expected a mapping, not a list", display_key(pointer));
			return;
		}
		json_array_foreach(node, i, value) {
			snprintf(child, sizeof(child), "%s/%zu", pointer, i);
			if (!json_is_object(value)) {
				report(ld, child, "%s: expected a mapping",
				    display_key(child));
				continue;
			}
			load_node(ld, child, value);
		}
	} else if (!json_is_null(node)) {
		report(ld, pointer, "%s: expected a mapping", display_key(pointer));
	}
}

static int
derive_upstream_defaults(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_upstreams; i++) {
		struct config_upstream *u = &cfg->upstreams[i];
		char host[256];

		if (u->url == NULL || config_url_host(u->url, host, sizeof(host)) != PC_OK)
			continue;
		if (u->name == NULL && (u->name = pc_strdup(host)) == NULL)
			return PC_ERR_NOMEM;
	}
	return PC_OK;
}

int
config_load_file(struct config *cfg, const char *path, FILE *errors,
    int *problems)
{
	struct yamltree tree;
	struct loader ld = {cfg, &tree, errors, 0};
	char errbuf[512];
	int err;

	*problems = 0;
	err = yamltree_load_file(path, &tree, errbuf, sizeof(errbuf));
	if (err != PC_OK) {
		fprintf(errors, "%s\n", errbuf);
		*problems = 1;
		return err;
	}
	if (!json_is_object(tree.root)) {
		fprintf(errors, "%s:1: the configuration must be a mapping\n", path);
		yamltree_free(&tree);
		*problems = 1;
		return PC_ERR_INVALID;
	}
	load_node(&ld, "", tree.root);
	yamltree_free(&tree);
	if (ld.err == PC_OK)
		ld.err = derive_upstream_defaults(cfg);
	pc_free(cfg->source);
	cfg->source = pc_strdup(path);
	if (ld.err == PC_OK && cfg->source == NULL)
		ld.err = PC_ERR_NOMEM;
	if (ld.err != PC_OK) {
		fprintf(errors, "%s: out of memory while loading\n", path);
		*problems = ld.problems + 1;
		return ld.err;
	}
	*problems = ld.problems;
	return ld.problems == 0 ? PC_OK : PC_ERR_INVALID;
}

int
config_url_host(const char *url, char *out, size_t outlen)
{
	const char *p = strstr(url, "://");
	size_t len;

	if (p == NULL)
		return PC_ERR_INVALID;
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return PC_ERR_INVALID;
	p += 3;
	len = strcspn(p, "/?#");
	if (len == 0 || len >= outlen || memchr(p, '@', len) != NULL)
		return PC_ERR_INVALID;
	memcpy(out, p, len);
	out[len] = '\0';
	return PC_OK;
}

int
config_add_upstream_arg(struct config *cfg, const char *arg, char *err,
    size_t errlen)
{
	const char *eq = strchr(arg, '=');
	const char *url = arg;
	struct config_upstream *u;
	char host[256];

	if (eq != NULL && strstr(arg, "://") > eq)
		url = eq + 1;
	else
		eq = NULL;
	if (eq == arg) {
		snprintf(err, errlen, "invalid upstream \"%s\": the name before '=' "
		    "is empty", arg);
		return PC_ERR_INVALID;
	}
	if (config_url_host(url, host, sizeof(host)) != PC_OK) {
		snprintf(err, errlen, "invalid upstream URL \"%s\": expected "
		    "[NAME=]http(s)://host[:port]", arg);
		return PC_ERR_INVALID;
	}
	if (cfg->n_upstreams >= CONFIG_MAX_UPSTREAMS) {
		snprintf(err, errlen, "more than %d upstreams", CONFIG_MAX_UPSTREAMS);
		return PC_ERR_LIMIT;
	}
	apply_defaults(cfg, SCOPE_UPSTREAM, cfg->n_upstreams);
	u = &cfg->upstreams[cfg->n_upstreams++];
	u->url = pc_strdup(url);
	u->name = eq != NULL ? pc_strndup(arg, (size_t)(eq - arg)) : pc_strdup(host);
	if (u->url == NULL || u->name == NULL)
		return PC_ERR_NOMEM;
	return PC_OK;
}

int
config_add_listener_arg(struct config *cfg, const char *address)
{
	struct config_listener *l;

	if (cfg->n_listeners >= CONFIG_MAX_LISTENERS)
		return PC_ERR_LIMIT;
	apply_defaults(cfg, SCOPE_LISTENER, cfg->n_listeners);
	l = &cfg->listeners[cfg->n_listeners++];
	l->address = pc_strdup(address);
	return l->address != NULL ? PC_OK : PC_ERR_NOMEM;
}

static void problem(FILE *errors, int *problems, const char *source,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
problem(FILE *errors, int *problems, const char *source, const char *fmt, ...)
{
	va_list ap;

	fprintf(errors, "%s: ", source != NULL ? source : "command line");
	va_start(ap, fmt);
	vfprintf(errors, fmt, ap);
	va_end(ap);
	fputc('\n', errors);
	(*problems)++;
}

/* Checks a listen address the way the server parses it. */
static bool
listen_address_is_valid(const char *address)
{
	struct sockaddr_storage ss;
	char buf[160];
	int len = (int)sizeof(ss);

	if (address[0] == ':') {
		snprintf(buf, sizeof(buf), "0.0.0.0%s", address);
		address = buf;
	}
	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(address, (struct sockaddr *)&ss, &len) != 0)
		return false;
	return ((struct sockaddr_in *)&ss)->sin_port != 0;
}

/* True for 127.0.0.0/8, [::1] and localhost listen addresses. */
static bool
address_is_loopback(const char *address)
{
	return strncmp(address, "127.", 4) == 0 || strncmp(address, "[::1]:", 6) == 0 ||
	    strncmp(address, "localhost:", 10) == 0;
}

int
config_validate(const struct config *cfg, FILE *errors, int *problems)
{
	enum log_level level;
	const char *src = cfg->source;

	if (cfg->n_listeners == 0)
		problem(errors, problems, src, "no listener: set listen or --listen");
	if (cfg->n_upstreams == 0 && !cfg->offline)
		problem(errors, problems, src,
		    "no upstream: set upstreams or --upstream");
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const struct config_listener *l = &cfg->listeners[i];

		if (l->address == NULL)
			problem(errors, problems, src, "listener without an address");
		else if (!listen_address_is_valid(l->address))
			problem(errors, problems, src, "listener address \"%s\" is invalid: "
			    "expected host:port, [v6]:port or :port with a port from 1 to "
			    "65535", l->address);
		if ((l->tls_cert == NULL) != (l->tls_key == NULL))
			problem(errors, problems, src,
			    "listener %s: tls needs both cert and key",
			    l->address ? l->address : "?");
		if (l->tls_client_ca != NULL && l->tls_cert == NULL)
			problem(errors, problems, src,
			    "listener %s: client_ca needs a TLS listener",
			    l->address ? l->address : "?");
	}
	for (size_t i = 0; i < cfg->n_upstreams; i++) {
		const struct config_upstream *u = &cfg->upstreams[i];
		char host[256];

		if (u->url == NULL || config_url_host(u->url, host, sizeof(host)) != PC_OK)
			problem(errors, problems, src,
			    "upstream %s: missing or invalid url (http(s)://host[:port])",
			    u->name ? u->name : "?");
		if (u->name != NULL && u->name[0] == '\0')
			problem(errors, problems, src, "upstream %s: empty name",
			    u->url ? u->url : "?");
		for (size_t j = 0; j < i; j++) {
			if (u->name && cfg->upstreams[j].name &&
			    strcmp(u->name, cfg->upstreams[j].name) == 0)
				problem(errors, problems, src,
				    "two upstreams are named %s", u->name);
		}
	}
	if (cfg->admin_address != NULL && cfg->admin_address[0] != '\0' &&
	    cfg->admin_token_file == NULL && !address_is_loopback(cfg->admin_address))
		problem(errors, problems, src, "the admin listener %s is reachable beyond "
		    "loopback: set admin/token_file", cfg->admin_address);
	if (log_level_parse(cfg->log_level, &level) != 0)
		problem(errors, problems, src,
		    "log level \"%s\" is not one of debug, info, warn, error",
		    cfg->log_level);
	return *problems == 0 ? PC_OK : PC_ERR_INVALID;
}

void
config_print_reference(FILE *out)
{
	static const char *const type_names[] = {
		"string", "bool", "integer", "duration", "size", "list of strings",
	};

	fprintf(out, "| key | type | default | reloadable | meaning |\n");
	fprintf(out, "| --- | --- | --- | --- | --- |\n");
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option *o = &options[i];

		fprintf(out, "| `%s` | %s | %s | %s | %s |\n", display_key(o->path),
		    type_names[o->type], o->def ? o->def : "-",
		    o->reloadable ? "yes" : "no", o->help);
	}
}
