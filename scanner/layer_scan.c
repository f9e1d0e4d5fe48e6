#include "scanner/layer_scan.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "scanner/decompress.h"

/* Uncompressed bytes handed to libarchive per read callback. */
#define WALK_BLOCK (256U * 1024U)

/* Most analyzers one walk runs; a longer list fails the scan. */
#define WALK_MAX_ANALYZERS 64

static _Thread_local const struct scan_limits *current_limits;

static const struct scan_limits default_limits = {
	.max_layer_bytes = SCAN_DEFAULT_MAX_LAYER_BYTES,
	.max_entries = SCAN_DEFAULT_MAX_ENTRIES,
	.max_file_bytes = SCAN_DEFAULT_MAX_FILE_BYTES,
	.max_path_len = SCAN_DEFAULT_MAX_PATH_LEN,
	.max_archive_depth = SCAN_DEFAULT_MAX_ARCHIVE_DEPTH,
	.max_ratio = SCAN_DEFAULT_MAX_RATIO,
	.ratio_min_bytes = SCAN_DEFAULT_RATIO_MIN_BYTES,
	.zstd_window_log_max = SCAN_DEFAULT_ZSTD_WINDOW_LOG_MAX,
};

void
scan_limits_default(struct scan_limits *limits)
{
	*limits = default_limits;
}

const struct scan_limits *
layer_scan_limits(void)
{
	return current_limits != NULL ? current_limits : &default_limits;
}

/* The state of one layer walk. */
struct walk {
	struct archive *archive;
	struct decompress *dec;
	const struct scan_limits *limits;
	struct layer_result *out;
	const struct analyzer *const *analyzers;
	size_t n_analyzers;

	unsigned char *block;    /* decoder output that libarchive parses */
	int dec_err;             /* the decoder's error, PC_OK otherwise */
	char *path;              /* normalised entry path */
	char *link;              /* normalised hardlink target */
	struct buf content;      /* capped content of the current entry */
	uint64_t entries;
	char message[512];

	/* Per entry: what each analyzer asked for. */
	enum analyzer_want want[WALK_MAX_ANALYZERS];
	size_t cap[WALK_MAX_ANALYZERS];
	struct analyzer_stream *stream[WALK_MAX_ANALYZERS];
};

static la_ssize_t
walk_read(struct archive *a, void *client, const void **buffer)
{
	struct walk *w = client;
	size_t got;

	w->dec_err = decompress_read(w->dec, w->block, WALK_BLOCK, &got);
	if (w->dec_err != PC_OK) {
		archive_set_error(a, EIO, "%s", decompress_message(w->dec));
		return -1;
	}
	*buffer = w->block;
	return (la_ssize_t)got;
}

/* Records a scan_error that ends the layer and returns err. */
static int
walk_fail(struct walk *w, int err, const char *message)
{
	int add = layer_result_add_error(w->out, "scan_error", message);

	return add == PC_ERR_NOMEM && err == PC_OK ? add : err;
}

/* Records a scan_error about one entry; the walk goes on. */
static int
walk_note(struct walk *w, const char *path, const char *detail)
{
	char quoted[256];

	log_quote(quoted, sizeof(quoted), path);
	snprintf(w->message, sizeof(w->message), "tar entry %s: %s", quoted,
	    detail);
	return layer_result_add_error(w->out, "scan_error", w->message);
}

/* Maps a failed libarchive call to an error code and a message. */
static int
walk_archive_error(struct walk *w, const char *during)
{
	if (w->dec_err != PC_OK) {
		snprintf(w->message, sizeof(w->message), "%s",
		    decompress_message(w->dec));
		return walk_fail(w, w->dec_err, w->message);
	}
	snprintf(w->message, sizeof(w->message), "corrupt tar stream %s: %s",
	    during, archive_error_string(w->archive) ?
	    archive_error_string(w->archive) : "unknown error");
	return walk_fail(w, PC_ERR_INVALID, w->message);
}

/*
 * Handles ".wh.<name>" and ".wh..wh..opq" entries. Returns true when the
 * entry is a whiteout, which analyzers never see.
 */
static bool
walk_whiteout(struct walk *w, int *err)
{
	char *base = strrchr(w->path, '/');
	char *dir_end;

	base = base != NULL ? base + 1 : w->path;
	if (strncmp(base, ".wh.", 4) != 0)
		return false;

	*err = PC_OK;
	dir_end = base > w->path ? base - 1 : w->path;
	if (strcmp(base, ".wh..wh..opq") == 0) {
		*dir_end = '\0';
		*err = layer_result_add_opaque(w->out, w->path);
	} else if (strncmp(base, ".wh..wh.", 8) == 0 || base[4] == '\0') {
		/* aufs bookkeeping such as .wh..wh.plnk: nothing is hidden. */
	} else {
		memmove(base, base + 4, strlen(base + 4) + 1);
		*err = layer_result_add_whiteout(w->out, w->path);
	}
	return true;
}

/* Hands len bytes to every open stream in chunks of SCAN_STREAM_CHUNK. */
static int
walk_stream_feed(struct walk *w, const unsigned char *data, size_t len)
{
	while (len > 0) {
		size_t n = len < SCAN_STREAM_CHUNK ? len : SCAN_STREAM_CHUNK;

		for (size_t i = 0; i < w->n_analyzers; i++) {
			const struct analyzer *an = w->analyzers[i];

			if (w->stream[i] == NULL)
				continue;
			if (an->stream_data(w->stream[i], data, n) != PC_OK) {
				/* The analyzer gave up on this entry. */
				an->stream_close(w->stream[i], false, w->out);
				w->stream[i] = NULL;
			}
		}
		data += n;
		len -= n;
	}
	return PC_OK;
}

static int
walk_stream_close_all(struct walk *w, bool complete)
{
	int err = PC_OK;

	for (size_t i = 0; i < w->n_analyzers; i++) {
		int r;

		if (w->stream[i] == NULL)
			continue;
		r = w->analyzers[i]->stream_close(w->stream[i], complete, w->out);
		w->stream[i] = NULL;
		if (r == PC_ERR_NOMEM)
			err = r;
	}
	return err;
}

/* Zero-fills a sparse gap of gap bytes in the content and the streams. */
static int
walk_gap(struct walk *w, uint64_t gap, size_t content_cap, bool streaming)
{
	static const unsigned char zeros[4096];

	while (gap > 0) {
		size_t n = gap < sizeof(zeros) ? (size_t)gap : sizeof(zeros);
		size_t room = content_cap - w->content.len;

		if (room > 0 && buf_append(&w->content, zeros,
		    n < room ? n : room) != PC_OK)
			return PC_ERR_NOMEM;
		if (streaming)
			walk_stream_feed(w, zeros, n);
		gap -= n;
	}
	return PC_OK;
}

/*
 * Reads the entry's content once: up to content_cap bytes into
 * w->content, and up to read_cap bytes through the streams. Sets *whole
 * when every byte of the entry was read.
 */
static int
walk_read_content(struct walk *w, size_t content_cap, size_t read_cap,
    bool streaming, int64_t size, bool *whole)
{
	uint64_t pos = 0;
	const void *data;
	size_t len;
	la_int64_t offset;
	int r;
	int err;

	*whole = false;
	while (pos < read_cap) {
		r = archive_read_data_block(w->archive, &data, &len, &offset);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return walk_archive_error(w, "in file content");
		if (offset < 0 || (uint64_t)offset < pos)
			continue;
		if ((uint64_t)offset > pos) {
			uint64_t gap = (uint64_t)offset - pos;

			if (gap > read_cap - pos)
				gap = read_cap - pos;
			err = walk_gap(w, gap, content_cap, streaming);
			if (err != PC_OK)
				return err;
			pos += gap;
			if (pos >= read_cap)
				break;
		}
		if (len > read_cap - pos)
			len = (size_t)(read_cap - pos);
		if (w->content.len < content_cap) {
			size_t room = content_cap - w->content.len;

			if (buf_append(&w->content, data,
			    len < room ? len : room) != PC_OK)
				return PC_ERR_NOMEM;
		}
		if (streaming)
			walk_stream_feed(w, data, len);
		pos += len;
	}
	*whole = pos >= (uint64_t)(size > 0 ? size : 0);
	return PC_OK;
}

/* Asks every analyzer about the entry; returns the content caps needed. */
static void
walk_ask(struct walk *w, const struct scan_file *f, size_t *content_cap,
    bool *streaming, bool *any)
{
	*content_cap = 0;
	*streaming = false;
	*any = false;
	for (size_t i = 0; i < w->n_analyzers; i++) {
		size_t cap = 0;

		w->want[i] = w->analyzers[i]->wants(f, &cap);
		w->stream[i] = NULL;
		if (w->want[i] == ANALYZER_CONTENT) {
			if (cap > w->limits->max_file_bytes)
				cap = w->limits->max_file_bytes;
			if (cap > *content_cap)
				*content_cap = cap;
		}
		if (w->want[i] == ANALYZER_STREAM)
			*streaming = true;
		w->cap[i] = cap;
		if (w->want[i] != ANALYZER_SKIP)
			*any = true;
	}
}

/* Runs analyze() of META and CONTENT analyzers after the content is read. */
static int
walk_analyze(struct walk *w, const struct scan_file *f)
{
	for (size_t i = 0; i < w->n_analyzers; i++) {
		const struct analyzer *an = w->analyzers[i];
		const unsigned char *data = NULL;
		size_t len = 0;
		bool truncated = false;
		int r;

		if (w->want[i] == ANALYZER_CONTENT) {
			data = (const unsigned char *)w->content.data;
			len = w->content.len < w->cap[i] ? w->content.len : w->cap[i];
			truncated = (int64_t)len < f->size;
		} else if (w->want[i] != ANALYZER_META) {
			continue;
		}
		r = an->analyze(f, data, len, truncated, w->out);
		if (r != PC_OK) {
			char detail[128];

			/* Out of memory ends the layer; other failures skip the entry. */
			snprintf(detail, sizeof(detail), "analyzer %s failed: %s",
			    an->name, pc_strerror(r));
			if (walk_note(w, f->path, detail) != PC_OK || r == PC_ERR_NOMEM)
				return PC_ERR_NOMEM;
		}
	}
	return PC_OK;
}

static int
walk_open_streams(struct walk *w, const struct scan_file *f)
{
	for (size_t i = 0; i < w->n_analyzers; i++) {
		if (w->want[i] != ANALYZER_STREAM)
			continue;
		w->stream[i] = w->analyzers[i]->stream_open(f);
	}
	return PC_OK;
}

/* Fills f from the entry; hardlink targets are normalised like paths. */
static void
walk_fill_file(struct walk *w, struct archive_entry *e, struct scan_file *f)
{
	const char *hard = archive_entry_hardlink(e);

	memset(f, 0, sizeof(*f));
	f->path = w->path;
	f->mode = archive_entry_mode(e);
	f->size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
	f->uid = (uid_t)archive_entry_uid(e);
	f->gid = (gid_t)archive_entry_gid(e);
	f->linkname = archive_entry_symlink(e);
	if (hard != NULL) {
		if (layer_scan_normalize_path(hard, w->link,
		    w->limits->max_path_len + 1) == PC_OK)
			f->linkname = w->link;
		else
			f->linkname = hard;
	}
}

static int
walk_content(struct walk *w, const struct scan_file *f, size_t content_cap,
    bool streaming)
{
	size_t read_cap = content_cap;
	bool whole = true;
	int err = PC_OK;

	buf_reset(&w->content);
	if (streaming) {
		walk_open_streams(w, f);
		read_cap = w->limits->max_file_bytes;
	}
	if (S_ISREG(f->mode) && f->size > 0 && read_cap > 0)
		err = walk_read_content(w, content_cap, read_cap, streaming,
		    f->size, &whole);
	if (streaming) {
		int r = walk_stream_close_all(w, err == PC_OK && whole);

		if (err == PC_OK)
			err = r;
	}
	if (err != PC_OK)
		return err;
	return walk_analyze(w, f);
}

static int
walk_entry(struct walk *w, struct archive_entry *e)
{
	const char *raw = archive_entry_pathname(e);
	struct scan_file f;
	size_t content_cap;
	bool streaming;
	bool any;
	int err;

	if (++w->entries > w->limits->max_entries) {
		snprintf(w->message, sizeof(w->message),
		    "the layer has more than %llu entries (max_entries)",
		    (unsigned long long)w->limits->max_entries);
		return walk_fail(w, PC_ERR_LIMIT, w->message);
	}
	if (raw == NULL)
		raw = archive_entry_pathname_utf8(e);
	if (raw == NULL)
		return walk_note(w, "", "path cannot be read, entry skipped");

	err = layer_scan_normalize_path(raw, w->path, w->limits->max_path_len + 1);
	if (err == PC_ERR_INVALID)
		return walk_note(w, raw,
		    "path escapes the layer root, entry skipped");
	if (err == PC_ERR_LIMIT) {
		snprintf(w->message, sizeof(w->message),
		    "a tar entry path is longer than %zu bytes (max_path_len)",
		    w->limits->max_path_len);
		return walk_fail(w, PC_ERR_LIMIT, w->message);
	}
	if (w->path[0] == '\0' || walk_whiteout(w, &err))
		return err;

	walk_fill_file(w, e, &f);
	walk_ask(w, &f, &content_cap, &streaming, &any);
	if (!any)
		return PC_OK;
	return walk_content(w, &f, content_cap, streaming);
}

static int
walk_entries(struct walk *w)
{
	struct archive_entry *e;
	int r;
	int err;

	for (;;) {
		r = archive_read_next_header(w->archive, &e);
		if (r == ARCHIVE_EOF)
			return PC_OK;
		if (r < ARCHIVE_WARN)
			return walk_archive_error(w, "at an entry header");
		err = walk_entry(w, e);
		if (err != PC_OK)
			return err;
	}
}

/* Reads the compressed stream to its end, so the digest covers it all. */
static int
walk_drain(struct walk *w)
{
	size_t got;

	do {
		w->dec_err = decompress_read(w->dec, w->block, WALK_BLOCK, &got);
		if (w->dec_err != PC_OK)
			return walk_fail(w, w->dec_err, decompress_message(w->dec));
	} while (got > 0);
	return PC_OK;
}

static bool
digest_is_valid_sha256(const char *digest)
{
	if (strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != 7 + 64)
		return false;
	for (const char *p = digest + 7; *p != '\0'; p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	}
	return true;
}

static int
walk_check_digest(struct walk *w, const char *expected)
{
	char digest[80];
	json_t *root = w->out->root;
	int err;

	err = decompress_digest(w->dec, digest, sizeof(digest));
	if (err != PC_OK)
		return walk_fail(w, err, "computing the layer digest failed");
	if (expected != NULL && strcmp(expected, digest) != 0) {
		snprintf(w->message, sizeof(w->message),
		    "layer digest mismatch: expected %s, computed %s",
		    expected, digest);
		return walk_fail(w, PC_ERR_MISMATCH, w->message);
	}
	if (!json_is_string(json_object_get(root, "digest")) &&
	    json_object_set_new(root, "digest", json_string(digest)) != 0)
		return PC_ERR_NOMEM;
	return PC_OK;
}

static int
walk_open(struct walk *w)
{
	w->archive = archive_read_new();
	if (w->archive == NULL)
		return PC_ERR_NOMEM;
	if (archive_read_support_format_tar(w->archive) != ARCHIVE_OK ||
	    archive_read_support_format_gnutar(w->archive) != ARCHIVE_OK)
		return PC_ERR_UNSUPPORTED;
	if (archive_read_open(w->archive, w, NULL, walk_read, NULL) !=
	    ARCHIVE_OK)
		return walk_archive_error(w, "at its start");
	return PC_OK;
}

static double
seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) +
	    (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static int
walk_stats(struct walk *w, const struct timespec *start)
{
	json_t *stats = json_pack("{s:I, s:I, s:I, s:s, s:f}",
	    "entries", (json_int_t)w->entries,
	    "bytes", (json_int_t)decompress_uncompressed_bytes(w->dec),
	    "compressed_bytes", (json_int_t)decompress_compressed_bytes(w->dec),
	    "compression", decompress_kind_name(decompress_kind(w->dec)),
	    "seconds", seconds_since(start));

	if (stats == NULL || json_object_set_new(w->out->root, "stats", stats) != 0)
		return PC_ERR_NOMEM;
	return PC_OK;
}

static int
walk_setup(struct walk *w, struct scan_source *src, const char *media_type,
    const char *expected_digest)
{
	int err;

	if (expected_digest != NULL && !digest_is_valid_sha256(expected_digest)) {
		snprintf(w->message, sizeof(w->message),
		    "unsupported or invalid layer digest %.100s: expected "
		    "sha256:<64 lower-case hex digits>", expected_digest);
		return walk_fail(w, strncmp(expected_digest, "sha256:", 7) == 0 ?
		    PC_ERR_INVALID : PC_ERR_UNSUPPORTED, w->message);
	}
	w->block = pc_malloc(WALK_BLOCK);
	w->path = pc_malloc(w->limits->max_path_len + 1);
	w->link = pc_malloc(w->limits->max_path_len + 1);
	if (w->block == NULL || w->path == NULL || w->link == NULL)
		return walk_fail(w, PC_ERR_NOMEM, "out of memory");
	err = decompress_new(src, w->limits, &w->dec);
	if (err != PC_OK)
		return walk_fail(w, err, "out of memory");
	err = decompress_start(w->dec, media_type);
	if (err != PC_OK)
		return walk_fail(w, err, decompress_message(w->dec));
	return walk_open(w);
}

int
layer_scan_run_with(struct scan_source *src, const char *media_type,
    const char *expected_digest, const struct scan_limits *limits,
    struct layer_result *out, const struct analyzer *const *analyzers)
{
	struct walk w;
	struct timespec start;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &start);
	memset(&w, 0, sizeof(w));
	w.limits = limits != NULL ? limits : &default_limits;
	w.out = out;
	w.analyzers = analyzers;
	while (analyzers[w.n_analyzers] != NULL)
		w.n_analyzers++;
	buf_init(&w.content, w.limits->max_file_bytes);
	current_limits = w.limits;

	if (w.n_analyzers > WALK_MAX_ANALYZERS)
		err = walk_fail(&w, PC_ERR_LIMIT,
		    "more analyzers than WALK_MAX_ANALYZERS are compiled in");
	else
		err = walk_setup(&w, src, media_type, expected_digest);
	if (err == PC_OK)
		err = walk_entries(&w);
	if (err == PC_OK)
		err = walk_drain(&w);
	if (err == PC_OK)
		err = walk_check_digest(&w, expected_digest);
	if (w.dec != NULL && walk_stats(&w, &start) != PC_OK && err == PC_OK)
		err = PC_ERR_NOMEM;

	walk_stream_close_all(&w, false);
	current_limits = NULL;
	if (w.archive != NULL)
		archive_read_free(w.archive);
	decompress_free(w.dec);
	buf_free(&w.content);
	pc_free(w.block);
	pc_free(w.path);
	pc_free(w.link);
	return err;
}

int
layer_scan_run(struct scan_source *src, const char *media_type,
    const char *expected_digest, const struct scan_limits *limits,
    struct layer_result *out)
{
	return layer_scan_run_with(src, media_type, expected_digest, limits, out,
	    scanner_analyzers);
}
