#ifndef PORTCULLIS_SCANNER_LAYER_SCAN_H
#define PORTCULLIS_SCANNER_LAYER_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "scanner/analyzer.h"
#include "scanner/layer_result.h"

/*
 * Streaming scan of one layer blob: decompression (gzip through ISA-L,
 * zstd through libzstd, plain tar), SHA-256 of the compressed bytes, and a
 * tar walk with libarchive that hands every entry to the analyzers.
 *
 * The bytes come from a scan_source, which is either a complete file or a
 * file that another thread is still writing (a blob being downloaded).
 */

/* Default limits, each a field of struct scan_limits. */
#define SCAN_DEFAULT_MAX_LAYER_BYTES (32ULL << 30)  /* uncompressed, per layer */
#define SCAN_DEFAULT_MAX_ENTRIES 2000000ULL         /* tar entries per layer */
#define SCAN_DEFAULT_MAX_FILE_BYTES (64U << 20)     /* read from one file */
#define SCAN_DEFAULT_MAX_PATH_LEN 4096U             /* bytes, after normalising */
#define SCAN_DEFAULT_MAX_ARCHIVE_DEPTH 4U           /* jar in jar in ... */
#define SCAN_DEFAULT_MAX_RATIO 2000U                /* uncompressed / compressed */
#define SCAN_DEFAULT_RATIO_MIN_BYTES (256ULL << 20) /* ratio checked above this */
#define SCAN_DEFAULT_ZSTD_WINDOW_LOG_MAX 27U        /* 128 MiB window */

/* Chunk size handed to ANALYZER_STREAM analyzers. */
#define SCAN_STREAM_CHUNK (64U * 1024U)

struct scan_limits {
	/* Uncompressed bytes of one layer, tar headers and padding included. */
	uint64_t max_layer_bytes;
	/* Tar entries in one layer, whiteouts and directories included. */
	uint64_t max_entries;
	/* Content bytes read from one file; the rest is skipped unseen. */
	size_t max_file_bytes;
	/* Length in bytes of a normalised entry path; longer paths fail. */
	size_t max_path_len;
	/* Nesting depth of archives inside archives (jar in jar). */
	unsigned max_archive_depth;
	/*
	 * Ratio of uncompressed to compressed bytes, checked once the
	 * uncompressed count passes ratio_min_bytes. gzip cannot exceed
	 * about 1032:1, so the check mainly bounds zstd.
	 */
	unsigned max_ratio;
	uint64_t ratio_min_bytes;
	/* Largest zstd window accepted, as log2 of bytes (10..31). */
	unsigned zstd_window_log_max;
};

/* Fills *limits with the SCAN_DEFAULT_* values. */
void scan_limits_default(struct scan_limits *limits);

/*
 * Returns the limits of the layer scan running on the calling thread, or
 * the defaults outside a scan. Analyzers read max_archive_depth and
 * max_file_bytes from here when they open nested archives.
 */
const struct scan_limits *layer_scan_limits(void);

/* A pull-based byte source that the scan reads from its own thread. */
struct scan_source;

/*
 * Wraps a complete file, read with pread() from offset 0. The caller keeps
 * ownership of fd. Returns NULL when out of memory.
 */
struct scan_source *scan_source_fd_new(int fd);

/*
 * Wraps a file that another thread is still writing. Reads block until
 * scan_source_growing_update() announces more bytes or
 * scan_source_growing_finish() ends the stream. The caller keeps fd.
 */
struct scan_source *scan_source_growing_new(int fd);

/*
 * Announces that the first bytes_available bytes of the file are written.
 * Safe from any thread, never blocks on the reader; a smaller value than
 * before is ignored.
 */
void scan_source_growing_update(struct scan_source *s, uint64_t bytes_available);

/*
 * Ends the stream: err PC_OK means the file is complete at the last
 * announced size, any other code makes pending and later reads fail with
 * it (the download failed). Safe from any thread, never blocks.
 */
void scan_source_growing_finish(struct scan_source *s, int err);

/*
 * Reads up to len bytes at the current position into buf, blocking on a
 * growing source. *got is 0 at the end of the stream. Returns PC_OK,
 * PC_ERR_IO or the error given to scan_source_growing_finish().
 */
int scan_source_read(struct scan_source *s, void *buf, size_t len, size_t *got);

/* Frees the source; the file descriptor stays open. */
void scan_source_free(struct scan_source *s);

/*
 * Scans one layer on the calling thread with the analyzers in
 * scanner_analyzers[]. media_type may be NULL or anything: magic numbers
 * decide when they contradict it. expected_digest ("sha256:<hex>") may be
 * NULL; a mismatch fails the scan with PC_ERR_MISMATCH. limits NULL means
 * the defaults. out must be initialised (layer_result_init); the scan adds
 * the findings, "stats" (entries, bytes, compressed_bytes, compression,
 * seconds) and "digest" when it was unset.
 *
 * Returns PC_OK, or an error after adding a "scan_error" entry to out that
 * describes the failure: PC_ERR_LIMIT, PC_ERR_TRUNCATED, PC_ERR_INVALID
 * (corrupt data), PC_ERR_MISMATCH, PC_ERR_UNSUPPORTED (compression),
 * PC_ERR_NOMEM, PC_ERR_IO or the source's error.
 */
int layer_scan_run(struct scan_source *src, const char *media_type,
    const char *expected_digest, const struct scan_limits *limits,
    struct layer_result *out);

/* Same as layer_scan_run() with the NULL-terminated analyzer list given. */
int layer_scan_run_with(struct scan_source *src, const char *media_type,
    const char *expected_digest, const struct scan_limits *limits,
    struct layer_result *out, const struct analyzer *const *analyzers);

/*
 * Normalises a tar entry path into out (size outlen): drops "./", leading
 * "/" and empty components, resolves ".." inside the path and replaces
 * bytes that are not valid UTF-8 with '?'. The root itself becomes "".
 * Returns PC_OK, PC_ERR_INVALID when ".." climbs above the root, or
 * PC_ERR_LIMIT when the result needs outlen bytes or more.
 * NOTE: ".." is resolved lexically, so "a/b/../c" becomes "a/c" even when
 * a layer makes "a/b" a symlink and a runtime would resolve it elsewhere.
 */
int layer_scan_normalize_path(const char *path, char *out, size_t outlen);

#endif
