/*
 * portcullis serve: wires the configuration, the caches, the upstream
 * client, the registry handler, the listeners and the admin endpoints onto
 * one event loop, and handles SIGTERM (drain), SIGINT (drain) and SIGHUP
 * (reload).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>

#include "cache/blobstore.h"
#include "cache/manifest_cache.h"
#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"
#include "proxy/admin.h"
#include "proxy/commands.h"
#include "proxy/config.h"
#include "proxy/registry.h"
#include "proxy/route.h"
#include "proxy/server.h"
#include "proxy/service.h"
#include "proxy/upstream.h"
#include "proxy/version.h"

/* Seconds SIGTERM waits for requests in flight before exiting anyway. */
#define SERVE_DRAIN_DEADLINE_S 30

struct serve_flags {
	const char *config_file;
	const char *listen[CONFIG_MAX_LISTENERS];
	size_t n_listen;
	const char *upstream[CONFIG_MAX_UPSTREAMS];
	size_t n_upstream;
	const char *admin;
	const char *cache_dir;
	const char *redis;
	const char *policy;
	const char *db;
	const char *log_level;
	bool offline;
};

static void
serve_usage(FILE *out)
{
	fprintf(out,
	    "usage: portcullis serve -c FILE [flags]\n"
	    "       portcullis serve --listen ADDR --upstream [NAME=]URL [flags]\n\n"
	    "  -c, --config FILE       portcullis.yaml; the flags below override it\n"
	    "  --listen ADDR           registry listener (host:port, [v6]:port, :port);\n"
	    "                          may repeat\n"
	    "  --upstream [NAME=]URL   upstream registry; may repeat. NAME is what ?ns=\n"
	    "                          and /v2/NAME/... select (default: the URL's host);\n"
	    "                          the first upstream serves requests naming none\n"
	    "  --admin ADDR            admin listener (default 127.0.0.1:5001)\n"
	    "  --cache-dir DIR         blob store and manifest cache folder\n"
	    "  --redis URL             redis://host:port[/db] or unix:/path\n"
	    "  --policy FILE           policy.yaml\n"
	    "  --db PATH               vulnerability database (portcullis db import)\n"
	    "  --offline               never contact an upstream\n"
	    "  --log-level LEVEL       debug, info, warn or error\n");
}

static int
parse_flags(int argc, char **argv, struct serve_flags *fl)
{
	enum { OPT_LISTEN = 256, OPT_UPSTREAM, OPT_ADMIN, OPT_CACHE, OPT_REDIS,
	    OPT_POLICY, OPT_DB, OPT_OFFLINE, OPT_LOG };
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"listen", required_argument, NULL, OPT_LISTEN},
		{"upstream", required_argument, NULL, OPT_UPSTREAM},
		{"admin", required_argument, NULL, OPT_ADMIN},
		{"cache-dir", required_argument, NULL, OPT_CACHE},
		{"redis", required_argument, NULL, OPT_REDIS},
		{"policy", required_argument, NULL, OPT_POLICY},
		{"db", required_argument, NULL, OPT_DB},
		{"offline", no_argument, NULL, OPT_OFFLINE},
		{"log-level", required_argument, NULL, OPT_LOG},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': fl->config_file = optarg; break;
		case OPT_LISTEN:
			if (fl->n_listen >= CONFIG_MAX_LISTENERS) {
				fprintf(stderr, "portcullis serve: more than %d --listen\n",
				    CONFIG_MAX_LISTENERS);
				return 2;
			}
			fl->listen[fl->n_listen++] = optarg;
			break;
		case OPT_UPSTREAM:
			if (fl->n_upstream >= CONFIG_MAX_UPSTREAMS) {
				fprintf(stderr, "portcullis serve: more than %d --upstream\n",
				    CONFIG_MAX_UPSTREAMS);
				return 2;
			}
			fl->upstream[fl->n_upstream++] = optarg;
			break;
		case OPT_ADMIN: fl->admin = optarg; break;
		case OPT_CACHE: fl->cache_dir = optarg; break;
		case OPT_REDIS: fl->redis = optarg; break;
		case OPT_POLICY: fl->policy = optarg; break;
		case OPT_DB: fl->db = optarg; break;
		case OPT_OFFLINE: fl->offline = true; break;
		case OPT_LOG: fl->log_level = optarg; break;
		case 'h':
			serve_usage(stdout);
			return 0;
		default:
			serve_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "portcullis serve: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return -1;
}

static int
replace_string(char **slot, const char *value)
{
	char *copy = pc_strdup(value);

	if (copy == NULL)
		return PC_ERR_NOMEM;
	pc_free(*slot);
	*slot = copy;
	return PC_OK;
}

/* Command-line flags override the file: lists given on the command line
 * replace the file's lists. */
static int
apply_flags(struct config *cfg, const struct serve_flags *fl)
{
	char err[256];

	if (fl->n_listen > 0) {
		config_clear_listeners(cfg);
		for (size_t i = 0; i < fl->n_listen; i++) {
			if (config_add_listener_arg(cfg, fl->listen[i]) != PC_OK)
				return PC_ERR_NOMEM;
		}
	}
	if (fl->n_upstream > 0) {
		config_clear_upstreams(cfg);
		for (size_t i = 0; i < fl->n_upstream; i++) {
			if (config_add_upstream_arg(cfg, fl->upstream[i], err, sizeof(err)) != PC_OK) {
				fprintf(stderr, "portcullis serve: %s\n", err);
				return PC_ERR_INVALID;
			}
		}
	}
	if ((fl->admin && replace_string(&cfg->admin_address, fl->admin) != PC_OK) ||
	    (fl->cache_dir && replace_string(&cfg->cache_dir, fl->cache_dir) != PC_OK) ||
	    (fl->redis && replace_string(&cfg->redis_url, fl->redis) != PC_OK) ||
	    (fl->policy && replace_string(&cfg->policy_file, fl->policy) != PC_OK) ||
	    (fl->db && replace_string(&cfg->db_path, fl->db) != PC_OK) ||
	    (fl->log_level && replace_string(&cfg->log_level, fl->log_level) != PC_OK))
		return PC_ERR_NOMEM;
	if (fl->offline)
		cfg->offline = true;
	return PC_OK;
}

/* Loads the file (if any), applies the flags, validates. 0, or 2 on error. */
static int
build_config(const struct serve_flags *fl, struct config *cfg)
{
	int problems = 0;

	if (config_init(cfg) != PC_OK)
		return 2;
	if (fl->config_file != NULL &&
	    config_load_file(cfg, fl->config_file, stderr, &problems) != PC_OK) {
		fprintf(stderr, "portcullis serve: %d problem(s) in %s\n", problems,
		    fl->config_file);
		return 2;
	}
	if (apply_flags(cfg, fl) != PC_OK)
		return 2;
	problems = 0;
	if (config_validate(cfg, stderr, &problems) != PC_OK)
		return 2;
	return 0;
}

int
cmd_serve(int argc, char **argv)
{
	struct serve_flags fl;
	struct config cfg;
	int rc;

	memset(&fl, 0, sizeof(fl));
	rc = parse_flags(argc, argv, &fl);
	if (rc >= 0)
		return rc;
	rc = build_config(&fl, &cfg);
	if (rc != 0) {
		config_free(&cfg);
		return rc;
	}
	rc = service_run(&cfg, fl.config_file, (const void *)&fl);
	config_free(&cfg);
	return rc;
}

/* Reload entry for the service: rebuilds the configuration the same way. */
int
serve_reload_config(const void *flags, struct config *cfg)
{
	return build_config(flags, cfg) == 0 ? PC_OK : PC_ERR_INVALID;
}

static void
config_usage(FILE *out)
{
	fprintf(out, "usage: portcullis config check -c FILE\n"
	    "       portcullis config reference\n");
}

int
cmd_config(int argc, char **argv)
{
	struct config cfg;
	const char *file = NULL;
	int problems = 0;

	if (argc >= 2 && strcmp(argv[1], "reference") == 0) {
		config_print_reference(stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "check") != 0) {
		config_usage(stderr);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
		    i + 1 < argc)
			file = argv[++i];
		else if (file == NULL && argv[i][0] != '-')
			file = argv[i];
		else {
			config_usage(stderr);
			return 2;
		}
	}
	if (file == NULL) {
		config_usage(stderr);
		return 2;
	}
	config_init(&cfg);
	config_load_file(&cfg, file, stdout, &problems);
	/* source is set once the YAML parsed: then check the whole file. */
	if (cfg.source != NULL)
		config_validate(&cfg, stdout, &problems);
	config_free(&cfg);
	if (problems > 0) {
		printf("%s: %d problem(s)\n", file, problems);
		return 2;
	}
	printf("%s: ok\n", file);
	return 0;
}
