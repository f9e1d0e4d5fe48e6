/*
 * portcullis db import --out PATH SOURCE...: builds the vulnerability
 * database from OSV records. Each SOURCE is a .json file, a folder searched
 * recursively for *.json, or a .zip archive of records as OSV publishes
 * them per ecosystem. Invalid records are reported on standard error by id
 * (or file name) and skipped. Exits 0 when the database was written, 2 on
 * a usage error, an unreadable source, no valid record, or a failed write.
 *
 * portcullis db info [--json] PATH: prints the version, import time and
 * record counts per ecosystem of a database.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/error.h"
#include "proxy/commands.h"
#include "scanner/osv.h"
#include "scanner/vulndb.h"

struct import_stats {
	struct vulndb_builder *builder;
	size_t files;
	size_t invalid;
	size_t skipped;
};

static void
db_usage(FILE *out)
{
	fprintf(out, "usage: portcullis db import --out PATH SOURCE...\n"
	    "       portcullis db info [--json] PATH\n\n"
	    "import  builds the vulnerability database at PATH from OSV records.\n"
	    "        SOURCE is an OSV .json file, a folder searched recursively\n"
	    "        for .json files, or a .zip archive of OSV records.\n"
	    "info    prints the version, import time and record counts of PATH.\n");
}

/* Names a rejected record by its id when the JSON has one, else by origin. */
static void
report_record(const char *origin, const char *data, size_t len,
    const char *what, const char *reason)
{
	json_t *root = NULL;
	const char *id = NULL;

	if (data != NULL && len <= OSV_MAX_RECORD_BYTES) {
		root = json_loadb(data, len, 0, NULL);
		id = json_string_value(json_object_get(root, "id"));
	}
	if (id != NULL && strlen(id) <= OSV_MAX_ID_BYTES)
		fprintf(stderr, "portcullis db import: %s record %s (%s): %s\n",
		    what, id, origin, reason);
	else
		fprintf(stderr, "portcullis db import: %s record in %s: %s\n",
		    what, origin, reason);
	json_decref(root);
}

static int
import_one(void *ctx, const char *origin, const char *data, size_t len)
{
	struct import_stats *st = ctx;
	char reason[512];
	int err;

	st->files++;
	if (data == NULL) {
		snprintf(reason, sizeof(reason),
		    "file of %zu bytes is larger than the limit of %u bytes", len,
		    OSV_MAX_RECORD_BYTES);
		report_record(origin, NULL, 0, "invalid", reason);
		st->invalid++;
		return PC_OK;
	}
	err = vulndb_builder_add(st->builder, data, len, reason, sizeof(reason));
	if (err == PC_ERR_NOMEM || (err == PC_ERR_LIMIT &&
	    vulndb_builder_records(st->builder) >= VULNDB_MAX_RECORDS))
		return err;
	if (err == PC_ERR_UNSUPPORTED) {
		report_record(origin, data, len, "skipped", reason);
		st->skipped++;
	} else if (err != PC_OK) {
		report_record(origin, data, len, "invalid", reason);
		st->invalid++;
	}
	return PC_OK;
}

static int
db_import(int argc, char **argv)
{
	struct import_stats st = {0};
	const char *out = NULL;
	char reason[512];
	int i, err, status = 2;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
			out = argv[++i];
		} else {
			fprintf(stderr, "portcullis db import: unknown option '%s'\n\n",
			    argv[i]);
			db_usage(stderr);
			return 2;
		}
	}
	if (out == NULL || i == argc) {
		fprintf(stderr, "portcullis db import: %s\n\n", out == NULL ?
		    "missing --out PATH" : "missing SOURCE");
		db_usage(stderr);
		return 2;
	}
	if (vulndb_builder_new(&st.builder) != PC_OK) {
		fprintf(stderr, "portcullis db import: out of memory\n");
		return 2;
	}
	for (; i < argc; i++) {
		reason[0] = '\0';
		err = osv_source_walk(argv[i], import_one, &st, reason,
		    sizeof(reason));
		if (err != PC_OK) {
			fprintf(stderr, "portcullis db import: %s\n", reason[0] ?
			    reason : pc_strerror(err));
			goto out;
		}
	}
	if (vulndb_builder_records(st.builder) == 0) {
		fprintf(stderr, "portcullis db import: no valid record in %zu "
		    "files; %s was not written\n", st.files, out);
		goto out;
	}
	err = vulndb_builder_write(st.builder, out, reason, sizeof(reason));
	if (err != PC_OK) {
		fprintf(stderr, "portcullis db import: %s\n", reason);
		goto out;
	}
	printf("imported %zu records from %zu files into %s: %zu invalid, "
	    "%zu skipped, %zu repeated ids\n", vulndb_builder_records(st.builder),
	    st.files, out, st.invalid, st.skipped,
	    vulndb_builder_duplicates(st.builder));
	status = 0;
out:
	vulndb_builder_free(st.builder);
	return status;
}

static void
print_info(const char *path, const json_t *info)
{
	const char *eco;
	json_t *count;

	printf("path: %s\n", path);
	printf("version: %s\n",
	    json_string_value(json_object_get(info, "version")));
	printf("imported: %s\n",
	    json_string_value(json_object_get(info, "imported")));
	printf("records: %lld\n",
	    (long long)json_integer_value(json_object_get(info, "records")));
	printf("packages: %lld\n",
	    (long long)json_integer_value(json_object_get(info, "packages")));
	printf("ecosystems:\n");
	json_object_foreach((json_t *)json_object_get(info, "ecosystems"), eco,
	    count)
		printf("  %s: %lld\n", eco, (long long)json_integer_value(count));
}

static int
db_info(int argc, char **argv)
{
	struct vulndb *db;
	const char *path;
	char reason[512];
	bool as_json = argc == 3 && strcmp(argv[1], "--json") == 0;

	if (argc != 2 && !as_json) {
		db_usage(stderr);
		return 2;
	}
	path = argv[argc - 1];
	if (vulndb_open(path, &db, reason, sizeof(reason)) != PC_OK) {
		fprintf(stderr, "portcullis db info: %s\n", reason);
		return 2;
	}
	if (as_json)
		json_dumpf(vulndb_info(db), stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	else
		print_info(path, vulndb_info(db));
	if (as_json)
		printf("\n");
	vulndb_close(db);
	return 0;
}

int
cmd_db(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		db_usage(stdout);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "import") == 0)
		return db_import(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "info") == 0)
		return db_info(argc - 1, argv + 1);
	db_usage(stderr);
	return 2;
}
