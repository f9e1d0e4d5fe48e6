/*
 * Layer scan throughput, one mode per run so that each gets its own peak
 * memory figure:
 *
 *   scan portcullis FILE...   layer_scan_run() with every analyzer
 *   scan libarchive FILE...   libarchive with its own gzip filter, listing
 *                             the entries (headers read, content skipped)
 *
 * Prints one line of key=value fields: mode, layers, compressed bytes,
 * entries, seconds, throughput in MB/s of compressed input, and the peak
 * resident size (getrusage ru_maxrss). bench/scan.sh runs the modes side
 * by side with `igzip -dc` and prints the ratios.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "scanner/layer_scan.h"

/* Bytes per read of libarchive's own file reader. */
#define BENCH_LIBARCHIVE_BLOCK (64 * 1024)

struct totals {
	unsigned long long compressed;
	unsigned long long entries;
};

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
run_portcullis(const char *path, struct totals *t)
{
	struct layer_result res;
	struct scan_source *src;
	int fd = open(path, O_RDONLY);
	int err;

	if (fd < 0) {
		perror(path);
		return PC_ERR_IO;
	}
	src = scan_source_fd_new(fd);
	err = src != NULL ? layer_result_init(&res, NULL) : PC_ERR_NOMEM;
	if (err == PC_OK) {
		json_t *stats;

		err = layer_scan_run(src, NULL, NULL, NULL, &res);
		stats = json_object_get(res.root, "stats");
		t->compressed += (unsigned long long)json_integer_value(
		    json_object_get(stats, "compressed_bytes"));
		t->entries += (unsigned long long)json_integer_value(
		    json_object_get(stats, "entries"));
		if (err != PC_OK) {
			char *errors = json_dumps(json_object_get(res.root, "errors"),
			    JSON_COMPACT);

			fprintf(stderr, "%s: %s\n", path, errors != NULL ? errors : "");
			pc_free(errors);
		}
		layer_result_free(&res);
	}
	scan_source_free(src);
	close(fd);
	return err;
}

static int
run_libarchive(const char *path, struct totals *t)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct stat st;
	int r;

	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, BENCH_LIBARCHIVE_BLOCK) !=
	    ARCHIVE_OK) {
		fprintf(stderr, "%s: %s\n", path, archive_error_string(a));
		archive_read_free(a);
		return PC_ERR_IO;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK ||
	    r == ARCHIVE_WARN)
		t->entries++;
	if (r != ARCHIVE_EOF)
		fprintf(stderr, "%s: %s\n", path, archive_error_string(a));
	archive_read_free(a);
	if (stat(path, &st) == 0)
		t->compressed += (unsigned long long)st.st_size;
	return r == ARCHIVE_EOF ? PC_OK : PC_ERR_INVALID;
}

int
main(int argc, char **argv)
{
	struct totals t = {0, 0};
	struct rusage ru;
	double start;
	double seconds;
	int err = PC_OK;

	if (argc < 3 || (strcmp(argv[1], "portcullis") != 0 &&
	    strcmp(argv[1], "libarchive") != 0)) {
		fprintf(stderr, "usage: scan portcullis|libarchive LAYER...\n");
		return 2;
	}
	pc_alloc_init();
	start = now_seconds();
	for (int i = 2; i < argc && err == PC_OK; i++) {
		if (strcmp(argv[1], "portcullis") == 0)
			err = run_portcullis(argv[i], &t);
		else
			err = run_libarchive(argv[i], &t);
	}
	seconds = now_seconds() - start;
	getrusage(RUSAGE_SELF, &ru);
	printf("mode=%s layers=%d compressed_bytes=%llu entries=%llu "
	    "seconds=%.3f mb_per_s=%.1f maxrss_kib=%ld\n", argv[1], argc - 2,
	    t.compressed, t.entries, seconds,
	    seconds > 0 ? (double)t.compressed / 1e6 / seconds : 0.0, ru.ru_maxrss);
	return err == PC_OK ? 0 : 1;
}
