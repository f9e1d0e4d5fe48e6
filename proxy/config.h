#ifndef PORTCULLIS_PROXY_CONFIG_H
#define PORTCULLIS_PROXY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * The server configuration: portcullis.yaml, then command-line flags on
 * top. One typed option table (config.c) drives validation, defaults,
 * bounds and the reference in docs/configuration.md.
 */

/* Most listeners and upstreams one configuration may name. */
#define CONFIG_MAX_LISTENERS 16
#define CONFIG_MAX_UPSTREAMS 32
#define CONFIG_MAX_REALM_HOSTS 8
#define CONFIG_MAX_AUTH_RULES 64
#define CONFIG_MAX_RULE_GLOBS 16

struct config_listener {
	char *address;        /* "127.0.0.1:5000", "[::1]:5000", ":5000" */
	char *tls_cert;       /* PEM certificate chain; NULL for plain TCP */
	char *tls_key;
	char *tls_client_ca;  /* verify client certificates against this CA */
	bool tls_client_required;
};

struct config_upstream {
	char *name;           /* registry name selected by ns= or a path prefix */
	char *url;            /* "https://registry-1.docker.io" */
	char *ca_file;
	bool tls_verify;
	char *credentials_file;
	char *realm_hosts[CONFIG_MAX_REALM_HOSTS];
	size_t n_realm_hosts;
	bool docker_hub;      /* one-component names get "library/" */
	bool http2;
};

/* One authorisation rule: who (users, certificate subjects) may pull what. */
struct config_auth_rule {
	char *users[CONFIG_MAX_RULE_GLOBS];
	size_t n_users;
	char *subjects[CONFIG_MAX_RULE_GLOBS];
	size_t n_subjects;
	char *repositories[CONFIG_MAX_RULE_GLOBS];
	size_t n_repositories;
	bool anonymous;
	bool deny;
};

struct config {
	struct config_listener listeners[CONFIG_MAX_LISTENERS];
	size_t n_listeners;
	struct config_upstream upstreams[CONFIG_MAX_UPSTREAMS];
	size_t n_upstreams;

	char *auth_htpasswd;       /* bcrypt htpasswd file; NULL: no passwords */
	char *auth_tokens_file;
	char *auth_realm;
	bool auth_anonymous;
	struct config_auth_rule auth_rules[CONFIG_MAX_AUTH_RULES];
	size_t n_auth_rules;
	unsigned rate_per_client_rps;
	unsigned rate_per_client_burst;
	unsigned rate_per_user_rps;
	unsigned rate_per_user_burst;
	unsigned rate_per_client_streams;
	unsigned rate_per_user_streams;

	char *admin_address;       /* "127.0.0.1:5001"; NULL: no admin listener */
	char *admin_token_file;

	char *cache_dir;
	uint64_t cache_max_bytes;
	unsigned tag_ttl_s;

	char *redis_url;           /* redis://host:port/db or unix:/path */
	char *policy_file;
	char *db_path;

	unsigned manifest_wait_s;
	unsigned scan_workers;
	bool offline;

	unsigned idle_timeout_s;
	unsigned write_timeout_s;
	unsigned upstream_connect_timeout_s;
	unsigned upstream_header_timeout_s;
	unsigned max_connections;
	unsigned health_interval_s;
	char *log_level;
	bool access_log;

	char *source;              /* file it came from, or NULL */
};

/* Fills cfg with the defaults of the option table. */
int config_init(struct config *cfg);
void config_free(struct config *cfg);

/*
 * Loads path over cfg. Every problem is written to errors (one
 * "file:line: message" per line) and counted in *problems; returns PC_OK
 * only when there were none.
 */
int config_load_file(struct config *cfg, const char *path, FILE *errors,
    int *problems);

/* Adds an upstream from "[NAME=]URL"; the name defaults to the URL host. */
int config_add_upstream_arg(struct config *cfg, const char *arg, char *err,
    size_t errlen);

/* Drops every listener or upstream, before flags replace the file's. */
void config_clear_listeners(struct config *cfg);
void config_clear_upstreams(struct config *cfg);

/* Adds a plain listener for ADDR. */
int config_add_listener_arg(struct config *cfg, const char *address);

/* Checks cross-field rules (at least one listener and upstream, ...). */
int config_validate(const struct config *cfg, FILE *errors, int *problems);

/* Prints the option table as a Markdown reference. */
void config_print_reference(FILE *out);

/* Host of a URL ("https://host:5000/x" -> "host:5000"), into out. */
int config_url_host(const char *url, char *out, size_t outlen);

/* Parses "10GiB", "500MB", "1024" into bytes. */
int config_parse_size(const char *s, uint64_t *out);

#endif
