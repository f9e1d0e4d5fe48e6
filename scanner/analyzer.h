#ifndef PORTCULLIS_SCANNER_ANALYZER_H
#define PORTCULLIS_SCANNER_ANALYZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "scanner/layer_result.h"

/*
 * The contract between the tar walker (scanner/layer_scan.c) and the
 * analyzers (scanner/analyzer_*.c). The walker reads each tar entry once;
 * an analyzer claims entries by path and mode and receives their content.
 */

/* One tar entry, as the walker hands it over. */
struct scan_file {
	const char *path;      /* normalised: no leading "./" or "/" */
	mode_t mode;           /* file type and permission bits */
	int64_t size;          /* bytes of content in the tar entry */
	const char *linkname;  /* symlink or hardlink target, else NULL */
	uid_t uid;
	gid_t gid;
};

enum analyzer_want {
	ANALYZER_SKIP = 0,     /* not interested in this entry */
	ANALYZER_META,         /* metadata only: analyze() gets no data */
	ANALYZER_CONTENT,      /* whole content up to *max_bytes, one call */
	ANALYZER_STREAM,       /* content in chunks through stream() */
};

struct analyzer_stream;

struct analyzer {
	const char *name;

	/*
	 * Decides from path and mode alone whether the analyzer wants the
	 * entry. For ANALYZER_CONTENT it sets *max_bytes to its read cap;
	 * longer files are handed over cut, with truncated set.
	 */
	enum analyzer_want (*wants)(const struct scan_file *f, size_t *max_bytes);

	/* Called once per wanted entry (META and CONTENT). */
	int (*analyze)(const struct scan_file *f, const unsigned char *data,
	    size_t len, bool truncated, struct layer_result *res);

	/*
	 * STREAM analyzers: stream_open() per entry, stream_data() per chunk
	 * in order, stream_close() at the end of the entry (also when the
	 * layer fails; complete is false then). NULL for other analyzers.
	 */
	struct analyzer_stream *(*stream_open)(const struct scan_file *f);
	int (*stream_data)(struct analyzer_stream *st, const unsigned char *data,
	    size_t len);
	int (*stream_close)(struct analyzer_stream *st, bool complete,
	    struct layer_result *res);
};

/* The analyzers compiled in, NULL-terminated, in the order they run. */
extern const struct analyzer *const scanner_analyzers[];

#endif
