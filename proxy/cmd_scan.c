#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "policy/policy.h"
#include "proxy/commands.h"
#include "proxy/image_fetch.h"
#include "proxy/scan_table.h"
#include "scanner/report.h"
#include "scanner/vulndb.h"

/*
 * portcullis scan [--format table|json] [--db PATH] [--policy FILE]
 *                 [--plain-http] [--platform OS/ARCH] IMAGE
 *
 * Scans every layer of IMAGE, builds the image report and, with --policy,
 * its verdict. Exit status: 0 scanned (and allowed), 1 denied by the
 * policy, 2 usage or runtime error.
 */

#define SCAN_EXIT_OK 0
#define SCAN_EXIT_DENIED 1
#define SCAN_EXIT_ERROR 2

struct scan_args {
	const char *format;
	const char *db_path;
	const char *policy_path;
	const char *platform;
	bool plain_http;
	const char *repository;   /* name the policy judges; NULL: the image's */
	const char *image;
};

static void
scan_usage(FILE *out)
{
	fprintf(out,
	    "usage: portcullis scan [--format table|json] [--db PATH] "
	    "[--policy FILE] [--plain-http] [--platform OS/ARCH]\n"
	    "                       [--repository NAME] IMAGE\n\n"
	    "IMAGE is one of:\n"
	    "  oci:DIR[:TAG]                          an OCI image layout\n"
	    "  docker-archive:FILE                    a docker save archive\n"
	    "  [http://]HOST[:PORT]/NAME[:TAG|@DIGEST] an image in a registry\n\n"
	    "  --format table|json  output: a table for people (default) or the "
	    "image report\n"
	    "  --db PATH            vulnerability database from 'portcullis db "
	    "import';\n"
	    "                       without it no vulnerabilities are matched\n"
	    "  --policy FILE        evaluate the policy; exit 1 when it denies "
	    "the image\n"
	    "  --plain-http         talk to the registry over http:// "
	    "(loopback registries)\n"
	    "  --platform OS/ARCH   platform to pick from a multi-platform image "
	    "(default linux/<host>)\n"
	    "  --repository NAME    repository name the policy judges (local "
	    "images have none)\n\n"
	    "Exit status: 0 scanned and allowed, 1 denied by the policy, "
	    "2 error.\n");
}

static int
parse_args(int argc, char **argv, struct scan_args *a)
{
	static const struct option options[] = {
		{"format", required_argument, NULL, 'f'},
		{"db", required_argument, NULL, 'd'},
		{"policy", required_argument, NULL, 'p'},
		{"platform", required_argument, NULL, 'P'},
		{"plain-http", no_argument, NULL, 'k'},
		{"repository", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->format = "table";
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'f': a->format = optarg; break;
		case 'd': a->db_path = optarg; break;
		case 'p': a->policy_path = optarg; break;
		case 'P': a->platform = optarg; break;
		case 'k': a->plain_http = true; break;
		case 'r': a->repository = optarg; break;
		case 'h':
			scan_usage(stdout);
			return 1;
		default:
			scan_usage(stderr);
			return -1;
		}
	}
	if (strcmp(a->format, "table") != 0 && strcmp(a->format, "json") != 0) {
		fprintf(stderr, "portcullis scan: invalid --format '%s': use table "
		    "or json\n", a->format);
		return -1;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "portcullis scan: expected one IMAGE argument\n\n");
		scan_usage(stderr);
		return -1;
	}
	a->image = argv[optind];
	return 0;
}

static void
progress(bool on, size_t i, size_t n, const struct image_layer *l)
{
	if (!on)
		return;
	if (l == NULL) {
		fprintf(stderr, "\r\033[K");
		return;
	}
	fprintf(stderr, "\r\033[Kscanning layer %zu/%zu %.19s", i + 1, n,
	    l->digest[0] != '\0' ? l->digest : "(unnamed)");
	if (l->size >= 0)
		fprintf(stderr, " (%.1f MB)", (double)l->size / 1e6);
	fflush(stderr);
}

/* Scans every layer into results[]; returns PC_OK or the first error. */
static int
scan_layers(struct image *img, json_t **results, bool show_progress)
{
	struct scan_limits limits;
	char reason[1024];
	int err = PC_OK;

	scan_limits_default(&limits);
	for (size_t i = 0; i < img->n_layers && err == PC_OK; i++) {
		struct layer_result res;

		progress(show_progress, i, img->n_layers, &img->layers[i]);
		err = layer_result_init(&res, img->layers[i].digest[0] != '\0' ?
		    img->layers[i].digest : NULL);
		if (err != PC_OK)
			break;
		err = image_scan_layer(img, i, &limits, &res, reason, sizeof(reason));
		if (err != PC_OK) {
			const json_t *errors = json_object_get(res.root, "errors");
			const char *m = json_string_value(json_object_get(
			    json_array_get(errors, json_array_size(errors) - 1),
			    "message"));

			progress(show_progress, 0, 0, NULL);
			fprintf(stderr, "portcullis scan: layer %zu (%s): %s\n", i + 1,
			    img->layers[i].digest[0] != '\0' ? img->layers[i].digest :
			    "unnamed", reason[0] != '\0' ? reason : m != NULL ? m :
			    pc_strerror(err));
		}
		results[i] = res.root;
	}
	progress(show_progress, 0, 0, NULL);
	return err;
}

/* The "layers" list of the report and the image size. */
static json_t *
layer_list(const struct image *img, int64_t *size)
{
	json_t *list = json_array();

	*size = img->config_size > 0 ? img->config_size : 0;
	for (size_t i = 0; list != NULL && i < img->n_layers; i++) {
		const struct image_layer *l = &img->layers[i];

		if (json_array_append_new(list, json_pack("{s:s, s:I, s:s?}",
		    "digest", l->digest, "size", (json_int_t)l->size,
		    "media_type", l->media_type)) != 0) {
			json_decref(list);
			return NULL;
		}
		*size += l->size > 0 ? l->size : 0;
	}
	return list;
}

static int
build_report(struct image *img, json_t **results, struct vulndb *db,
    json_t **report)
{
	struct report_image ri;
	int64_t size;
	json_t *layers = layer_list(img, &size);
	int err;

	if (layers == NULL)
		return PC_ERR_NOMEM;
	memset(&ri, 0, sizeof(ri));
	ri.repository = img->repository;
	ri.reference = img->reference;
	ri.digest = img->digest;
	ri.media_type = img->media_type;
	ri.platform = img->platform[0] != '\0' ? img->platform : NULL;
	ri.size = size;
	ri.config = img->config;
	ri.layers = layers;
	err = report_build(&ri, results, img->n_layers, db, report);
	json_decref(layers);
	return err;
}

static int
load_inputs(const struct scan_args *a, struct policy **policy,
    struct vulndb **db)
{
	char reason[1024];
	int err;

	if (a->policy_path != NULL) {
		err = policy_load(a->policy_path, policy, reason, sizeof(reason));
		if (err != PC_OK) {
			fprintf(stderr, "portcullis scan: %s\n", reason);
			return err;
		}
	}
	if (a->db_path != NULL) {
		err = vulndb_open(a->db_path, db, reason, sizeof(reason));
		if (err != PC_OK) {
			fprintf(stderr, "portcullis scan: cannot open the vulnerability "
			    "database %s: %s\n", a->db_path, reason);
			return err;
		}
	}
	return PC_OK;
}

/* Adds the verdict to the report and sets *status to the exit status. */
static int
apply_policy(const struct policy *policy, const char *repository,
    json_t *report, int *status)
{
	json_t *verdict = NULL;
	const char *decision;
	int err;

	*status = SCAN_EXIT_OK;
	if (policy == NULL)
		return PC_OK;
	err = policy_evaluate(policy, report, repository, time(NULL), &verdict);
	if (err != PC_OK)
		return err;
	decision = json_string_value(json_object_get(verdict, "decision"));
	if (decision != NULL && strcmp(decision, "deny") == 0 &&
	    policy_mode(policy) == POLICY_MODE_ENFORCE)
		*status = SCAN_EXIT_DENIED;
	return json_object_set_new(report, "verdict", verdict) == 0 ? PC_OK :
	    PC_ERR_NOMEM;
}

static int
write_output(const struct scan_args *a, const json_t *report)
{
	if (strcmp(a->format, "json") == 0) {
		if (json_dumpf(report, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) !=
		    0)
			return PC_ERR_IO;
		fputc('\n', stdout);
	} else {
		scan_table_print(stdout, report, a->db_path != NULL);
	}
	return fflush(stdout) == 0 ? PC_OK : PC_ERR_IO;
}

int
cmd_scan(int argc, char **argv)
{
	struct scan_args a;
	struct image_options opts;
	struct policy *policy = NULL;
	struct vulndb *db = NULL;
	struct image *img = NULL;
	json_t **results = NULL;
	json_t *report = NULL;
	char reason[1024];
	int status = SCAN_EXIT_ERROR;
	int r = parse_args(argc, argv, &a);
	int err;

	if (r != 0)
		return r > 0 ? SCAN_EXIT_OK : SCAN_EXIT_ERROR;
	if (load_inputs(&a, &policy, &db) != PC_OK)
		goto out;

	memset(&opts, 0, sizeof(opts));
	opts.plain_http = a.plain_http;
	opts.platform = a.platform;
	err = image_open(a.image, &opts, &img, reason, sizeof(reason));
	if (err != PC_OK) {
		fprintf(stderr, "portcullis scan: %s: %s\n", a.image,
		    reason[0] != '\0' ? reason : pc_strerror(err));
		goto out;
	}
	results = pc_calloc(img->n_layers + 1, sizeof(*results));
	if (results == NULL)
		goto out;
	if (scan_layers(img, results, isatty(STDERR_FILENO) == 1) != PC_OK)
		goto out;

	err = build_report(img, results, db, &report);
	if (err == PC_OK)
		err = apply_policy(policy, a.repository, report, &status);
	if (err == PC_OK)
		err = write_output(&a, report);
	if (err != PC_OK) {
		fprintf(stderr, "portcullis scan: building the report failed: %s\n",
		    pc_strerror(err));
		status = SCAN_EXIT_ERROR;
	}
out:
	for (size_t i = 0; results != NULL && i < img->n_layers; i++)
		json_decref(results[i]);
	pc_free(results);
	json_decref(report);
	image_free(img);
	if (db != NULL)
		vulndb_close(db);
	if (policy != NULL)
		policy_free(policy);
	return status;
}
