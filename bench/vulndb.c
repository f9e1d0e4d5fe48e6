/*
 * Vulnerability database benchmark: import, open and matching.
 *
 *   vulndb [SOURCE...]
 *
 * Run from the repository root. Imports tests/data/osv plus every SOURCE
 * (OSV .json files, folders or .zip archives) into a temporary database,
 * then measures:
 *   - import: wall seconds, records, file size;
 *   - open: vulndb_open + vulndb_close, first and median of BENCH_OPENS;
 *   - match: match_packages on the packages of a real dpkg status file
 *     (tests/data/bench/dpkg-status, read by the dpkg analyzer) plus the
 *     npm and PyPI packages of tests/data/bench/lang-packages.json, once
 *     right after open (every lookup decodes) and then BENCH_RUNS times
 *     (decoded lookups cached), with the median wall and CPU time.
 * Prints key=value lines and the targets: open under 50 ms, 1,000
 * packages under 5 ms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/error.h"
#include "scanner/analyzers.h"
#include "scanner/layer_result.h"
#include "scanner/match.h"
#include "scanner/osv.h"
#include "scanner/vulndb.h"

#define BENCH_OPENS 21
#define BENCH_RUNS 101
#define BENCH_DPKG "tests/data/bench/dpkg-status"
#define BENCH_LANG "tests/data/bench/lang-packages.json"
#define BENCH_OSV "tests/data/osv"

static double
now_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), compare_doubles);
	return v[n / 2];
}

struct import_count {
	struct vulndb_builder *builder;
	size_t rejected;
};

static int
add_record(void *ctx, const char *origin, const char *data, size_t len)
{
	struct import_count *count = ctx;
	char reason[256];

	if (data == NULL || vulndb_builder_add(count->builder, data, len, reason,
	    sizeof(reason)) != PC_OK)
		count->rejected++;
	return PC_OK;
}

static int
import(const char *path, char **sources, int nsources)
{
	struct import_count count = {0};
	char reason[256];
	struct stat st;
	double t0 = now_ms(CLOCK_MONOTONIC), t1;
	int err;

	err = vulndb_builder_new(&count.builder);
	err = err ? err : osv_source_walk(BENCH_OSV, add_record, &count, reason,
	    sizeof(reason));
	for (int i = 0; i < nsources && err == PC_OK; i++)
		err = osv_source_walk(sources[i], add_record, &count, reason,
		    sizeof(reason));
	if (err == PC_OK)
		err = vulndb_builder_write(count.builder, path, reason,
		    sizeof(reason));
	t1 = now_ms(CLOCK_MONOTONIC);
	if (err != PC_OK) {
		fprintf(stderr, "vulndb: import failed: %s\n", reason);
		vulndb_builder_free(count.builder);
		return err;
	}
	stat(path, &st);
	printf("import records=%zu rejected=%zu seconds=%.3f file_bytes=%lld\n",
	    vulndb_builder_records(count.builder), count.rejected,
	    (t1 - t0) / 1e3, (long long)st.st_size);
	vulndb_builder_free(count.builder);
	return PC_OK;
}

static int
bench_open(const char *path)
{
	double times[BENCH_OPENS], first = 0;
	struct vulndb *db;
	char reason[256];

	for (int i = 0; i < BENCH_OPENS; i++) {
		double t0 = now_ms(CLOCK_MONOTONIC);

		if (vulndb_open(path, &db, reason, sizeof(reason)) != PC_OK) {
			fprintf(stderr, "vulndb: %s\n", reason);
			return PC_ERR_IO;
		}
		vulndb_close(db);
		times[i] = now_ms(CLOCK_MONOTONIC) - t0;
		if (i == 0)
			first = times[0];
	}
	printf("open first_ms=%.3f median_ms=%.3f target_ms=50 met=%s\n", first,
	    median(times, BENCH_OPENS), first < 50.0 ? "yes" : "no");
	return PC_OK;
}

/* Reads the dpkg status file through the dpkg analyzer, as a scan would. */
static json_t *
load_packages(void)
{
	struct scan_file f = {.path = "var/lib/dpkg/status", .mode = 0100644};
	struct layer_result res;
	json_t *all = NULL, *lang;
	char *data = NULL;
	long len;
	FILE *in = fopen(BENCH_DPKG, "rb");

	if (in == NULL || fseek(in, 0, SEEK_END) != 0 || (len = ftell(in)) < 0 ||
	    fseek(in, 0, SEEK_SET) != 0)
		goto out;
	data = pc_malloc((size_t)len + 1);
	if (data == NULL || fread(data, 1, (size_t)len, in) != (size_t)len)
		goto out;
	f.size = len;
	if (layer_result_init(&res, NULL) != PC_OK)
		goto out;
	if (analyzer_dpkg.analyze(&f, (const unsigned char *)data, (size_t)len,
	    false, &res) == PC_OK) {
		all = json_deep_copy(json_object_get(json_object_get(json_object_get(
		    json_object_get(res.root, "files"), f.path), "dpkg"),
		    "packages"));
	}
	layer_result_free(&res);
	lang = json_load_file(BENCH_LANG, 0, NULL);
	if (all == NULL || json_array_extend(all, lang) != 0) {
		json_decref(all);
		all = NULL;
	}
	json_decref(lang);
out:
	if (in != NULL)
		fclose(in);
	pc_free(data);
	return all;
}

/* Runs one match; stores wall and CPU milliseconds. */
static int
match_once(struct vulndb *db, const json_t *os, const json_t *pkgs,
    double *wall, double *cpu, size_t *nfindings, size_t *nerrors)
{
	double w0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	json_t *findings, *errors;
	int err = match_packages(db, os, pkgs, &findings, &errors);

	*wall = now_ms(CLOCK_MONOTONIC) - w0;
	*cpu = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
	if (err != PC_OK)
		return err;
	*nfindings = json_array_size(findings);
	*nerrors = json_array_size(errors);
	json_decref(findings);
	json_decref(errors);
	return PC_OK;
}

static int
bench_match(const char *path)
{
	double wall[BENCH_RUNS], cpu[BENCH_RUNS], cold_wall, cold_cpu;
	json_t *pkgs = load_packages();
	json_t *os = json_pack("{ssssss}", "family", "debian", "version", "12",
	    "ecosystem", "Debian:12");
	struct vulndb *db = NULL;
	size_t nfindings = 0, nerrors = 0, n;
	char reason[256];
	int err;

	if (pkgs == NULL || os == NULL) {
		fprintf(stderr, "vulndb: cannot read %s or %s\n", BENCH_DPKG,
		    BENCH_LANG);
		err = PC_ERR_IO;
		goto out;
	}
	n = json_array_size(pkgs);
	err = vulndb_open(path, &db, reason, sizeof(reason));
	if (err == PC_OK)
		err = match_once(db, os, pkgs, &cold_wall, &cold_cpu, &nfindings,
		    &nerrors);
	for (int i = 0; i < BENCH_RUNS && err == PC_OK; i++)
		err = match_once(db, os, pkgs, &wall[i], &cpu[i], &nfindings,
		    &nerrors);
	if (err != PC_OK) {
		fprintf(stderr, "vulndb: match failed: %s\n", pc_strerror(err));
		goto out;
	}
	printf("match packages=%zu findings=%zu errors=%zu\n", n, nfindings,
	    nerrors);
	printf("match cold wall_ms=%.3f cpu_ms=%.3f\n", cold_wall, cold_cpu);
	printf("match warm runs=%d median_wall_ms=%.3f median_cpu_ms=%.3f "
	    "packages_per_second=%.0f target_ms=5 met=%s\n", BENCH_RUNS,
	    median(wall, BENCH_RUNS), median(cpu, BENCH_RUNS),
	    (double)n / (median(wall, BENCH_RUNS) / 1e3),
	    median(wall, BENCH_RUNS) < 5.0 ? "yes" : "no");
out:
	vulndb_close(db);
	json_decref(pkgs);
	json_decref(os);
	return err;
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/bench-vulndb.XXXXXX", path[64];
	int err;

	pc_alloc_init();
	if (mkdtemp(dir) == NULL) {
		perror("vulndb: mkdtemp");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/osv.db", dir);
	err = import(path, argv + 1, argc - 1);
	if (err == PC_OK)
		err = bench_open(path);
	if (err == PC_OK)
		err = bench_match(path);
	unlink(path);
	snprintf(path, sizeof(path), "%s/osv.db-lock", dir);
	unlink(path);
	rmdir(dir);
	return err == PC_OK ? 0 : 1;
}
