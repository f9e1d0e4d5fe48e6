#include "cache/blobstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache/cache_dir.h"
#include "cache/hex_index.h"
#include "common/alloc.h"
#include "common/digest.h"
#include "common/error.h"
#include "common/log.h"

#define HEX_LEN HEX_INDEX_KEY_LEN

/* Initial hash buckets; the table doubles past one blob per bucket. */
#define BLOBSTORE_INITIAL_BUCKETS 1024

/* One committed blob, in the index by its hex digest and in LRU order. */
struct blob_entry {
	struct hex_index_node node;     /* first: entries are cast from nodes */
	uint64_t size;
	time_t last_use;        /* seconds; orders the index at open */
	time_t atime_written;   /* atime last stored on disk */
	unsigned pins;
};

struct blobstore {
	char *dir;
	char *blobs_dir;        /* DIR/blobs/sha256 */
	char *tmp_dir;          /* DIR/tmp */
	int lock_fd;
	struct hex_index index;

	uint64_t max_bytes;
	uint64_t bytes;
	uint64_t reserved;
	uint64_t pinned;
	uint64_t writers;
	uint64_t refs;
	uint64_t evictions;
	uint64_t commits;
	uint64_t mismatches;
	uint64_t aborts;
};

struct blob_ref {
	struct blobstore *bs;
	struct blob_entry *entry;
	int fd;
	uint64_t size;
	char digest[DIGEST_SHA256_BUFSIZE];
};

struct blob_writer {
	struct blobstore *bs;
	char digest[DIGEST_SHA256_BUFSIZE];
	char hex[HEX_LEN + 1];
	int64_t expected_size;
	uint64_t written;
	uint64_t reserved;
	int fd;
	uint64_t flushed;       /* bytes handed to writeback with sync_file_range */
	int err;                /* first write error; the writer is dead when set */
	struct sha256_stream *hash;
	char tmp_path[PATH_MAX];
};

/* Bytes written between two writeback starts (sync_file_range). */
#define BLOBSTORE_WRITEBACK_BYTES (8u << 20)

/* ---- index ---- */

static struct blob_entry *
entry_of(struct hex_index_node *node)
{
	return (struct blob_entry *)node;
}

static struct blob_entry *
index_find(const struct blobstore *bs, const char *hex)
{
	return entry_of(hex_index_find(&bs->index, hex));
}

/* Adds e as most recently used; hex_index_reserve() came first. */
static void
index_insert(struct blobstore *bs, struct blob_entry *e)
{
	hex_index_insert(&bs->index, &e->node);
	bs->bytes += e->size;
}

static void
index_delete(struct blobstore *bs, struct blob_entry *e)
{
	hex_index_remove(&bs->index, &e->node);
	bs->bytes -= e->size;
	pc_free(e);
}

static void
blob_path(const struct blobstore *bs, const char *hex, char *out, size_t size)
{
	/* Fits: blobstore_open checked the folder length against PATH_MAX. */
	snprintf(out, size, "%s/%.2s/%s", bs->blobs_dir, hex, hex);
}

/*
 * Deletes a committed blob file and its index entry; e must be unpinned.
 * Returns PC_ERR_IO when the file could not be deleted (the entry goes anyway).
 */
static int
remove_entry(struct blobstore *bs, struct blob_entry *e, const char *why)
{
	char path[PATH_MAX];
	int err = PC_OK;

	blob_path(bs, e->node.hex, path, sizeof(path));
	if (unlink(path) != 0 && errno != ENOENT) {
		log_warn("event=blob_unlink_failed digest=sha256:%s reason=%s "
		    "error=\"%s\"", e->node.hex, why, strerror(errno));
		err = PC_ERR_IO;
	} else {
		log_debug("event=blob_removed digest=sha256:%s size=%llu "
		    "reason=%s", e->node.hex, (unsigned long long)e->size, why);
	}
	index_delete(bs, e);
	return err;
}

/* ---- byte limit ---- */

/*
 * Makes room for need more bytes under max_bytes by evicting the least
 * recently used unpinned blobs. Evicts nothing when even evicting every
 * unpinned blob would not be enough.
 */
static int
make_room(struct blobstore *bs, uint64_t need)
{
	uint64_t used = bs->bytes + bs->reserved;
	uint64_t freeable = 0;
	uint64_t excess;
	struct blob_entry *e;

	if (bs->max_bytes == 0)
		return PC_OK;
	if (need > bs->max_bytes)
		return PC_ERR_NOSPACE;
	if (used <= bs->max_bytes - need)
		return PC_OK;
	excess = used - (bs->max_bytes - need);

	for (e = entry_of(bs->index.oldest); e != NULL && freeable < excess;
	    e = entry_of(e->node.lru_next)) {
		if (e->pins == 0)
			freeable += e->size;
	}
	if (freeable < excess)
		return PC_ERR_NOSPACE;

	e = entry_of(bs->index.oldest);
	while (e != NULL && bs->bytes + bs->reserved > bs->max_bytes - need) {
		struct blob_entry *next = entry_of(e->node.lru_next);

		if (e->pins == 0) {
			remove_entry(bs, e, "evicted");
			bs->evictions++;
		}
		e = next;
	}
	return PC_OK;
}

/* ---- open: scanning existing blobs ---- */

struct scan_item {
	struct blob_entry *entry;
};

static int
compare_last_use(const void *a, const void *b)
{
	const struct blob_entry *x = ((const struct scan_item *)a)->entry;
	const struct blob_entry *y = ((const struct scan_item *)b)->entry;

	if (x->last_use != y->last_use)
		return x->last_use < y->last_use ? -1 : 1;
	return memcmp(x->node.hex, y->node.hex, HEX_LEN);
}

struct scan_list {
	struct scan_item *items;
	size_t len;
	size_t cap;
};

static int
scan_list_add(struct scan_list *list, const char *hex, const struct stat *st)
{
	struct blob_entry *e;

	if (list->len == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 256;
		struct scan_item *items;

		items = pc_reallocarray(list->items, cap, sizeof(*items));
		if (items == NULL)
			return PC_ERR_NOMEM;
		list->items = items;
		list->cap = cap;
	}
	e = pc_calloc(1, sizeof(*e));
	if (e == NULL)
		return PC_ERR_NOMEM;
	memcpy(e->node.hex, hex, HEX_LEN + 1);
	e->size = (uint64_t)st->st_size;
	e->last_use = st->st_atime > st->st_mtime ? st->st_atime : st->st_mtime;
	e->atime_written = st->st_atime;
	list->items[list->len++].entry = e;
	return PC_OK;
}

/* Adds the valid blob files of one prefix folder, DIR/blobs/sha256/<prefix>. */
static int
scan_prefix_dir(struct blobstore *bs, const char *prefix,
    struct scan_list *list)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int err = PC_OK;

	snprintf(path, sizeof(path), "%s/%s", bs->blobs_dir, prefix);
	d = opendir(path);
	if (d == NULL) {
		log_warn("event=blobstore_dir_skipped dir=%s error=\"%s\"",
		    prefix, strerror(errno));
		return PC_OK;
	}

	while (err == PC_OK && (de = readdir(d)) != NULL) {
		const char *name = de->d_name;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (!hex_is_lower(name, HEX_LEN) || memcmp(name, prefix, 2) != 0) {
			char quoted[600];

			log_warn("event=blobstore_file_ignored dir=%s name=%s "
			    "reason=\"not a sha256 digest of this folder\"", prefix,
			    log_quote(quoted, sizeof(quoted), name));
			continue;
		}
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode)) {
			log_warn("event=blobstore_file_ignored dir=%s name=%s "
			    "reason=\"not a regular file\"", prefix, name);
			continue;
		}
		err = scan_list_add(list, name, &st);
	}
	closedir(d);
	return err;
}

static int
scan_blobs(struct blobstore *bs, struct scan_list *list)
{
	struct dirent *de;
	DIR *d;
	int err = PC_OK;

	d = opendir(bs->blobs_dir);
	if (d == NULL) {
		log_error("event=blobstore_open_failed dir=%s error=\"%s\"",
		    bs->blobs_dir, strerror(errno));
		return PC_ERR_IO;
	}
	while (err == PC_OK && (de = readdir(d)) != NULL) {
		const char *name = de->d_name;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (!hex_is_lower(name, 2)) {
			char quoted[600];

			log_warn("event=blobstore_file_ignored dir=. name=%s "
			    "reason=\"not a two-hex-digit prefix folder\"",
			    log_quote(quoted, sizeof(quoted), name));
			continue;
		}
		err = scan_prefix_dir(bs, name, list);
	}
	closedir(d);
	return err;
}

/* Indexes the committed blobs, oldest use first, so LRU order survives. */
static int
load_index(struct blobstore *bs)
{
	struct scan_list list = {0};
	size_t i = 0;
	int err;

	err = scan_blobs(bs, &list);
	if (err != PC_OK)
		goto out;

	if (list.len > 0)
		qsort(list.items, list.len, sizeof(list.items[0]),
		    compare_last_use);
	for (i = 0; i < list.len; i++) {
		err = hex_index_reserve(&bs->index);
		if (err != PC_OK)
			goto out;
		index_insert(bs, list.items[i].entry);
	}
	err = PC_OK;
out:
	/* Entries from i on were not handed to the index. */
	for (; i < list.len; i++)
		pc_free(list.items[i].entry);
	pc_free(list.items);
	return err;
}

/* ---- open and close ---- */

static int
prepare_dirs(struct blobstore *bs)
{
	char lock_path[PATH_MAX];
	size_t removed = 0;
	int err;

	err = cache_dir_make(bs->blobs_dir);
	if (err == PC_OK)
		err = cache_dir_make(bs->tmp_dir);
	if (err != PC_OK)
		return err;

	snprintf(lock_path, sizeof(lock_path), "%s/blobstore.lock", bs->dir);
	err = cache_dir_lock(lock_path, &bs->lock_fd);
	if (err != PC_OK)
		return err;

	err = cache_dir_empty(bs->tmp_dir, &removed);
	if (removed > 0)
		log_info("event=blobstore_tmp_cleared dir=%s files=%zu",
		    bs->tmp_dir, removed);
	return err;
}

/* Room left for "/<2 hex>/<64 hex>" and a temporary name after the folder. */
#define BLOBSTORE_PATH_SUFFIX_MAX 96

int
blobstore_open(const char *dir, uint64_t max_bytes, struct blobstore **out)
{
	struct blobstore *bs;
	int err;

	*out = NULL;
	if (strlen(dir) + strlen("/blobs/sha256") + BLOBSTORE_PATH_SUFFIX_MAX >=
	    PATH_MAX)
		return PC_ERR_LIMIT;

	bs = pc_calloc(1, sizeof(*bs));
	if (bs == NULL)
		return PC_ERR_NOMEM;
	bs->lock_fd = -1;
	bs->max_bytes = max_bytes;
	bs->dir = pc_strdup(dir);
	bs->blobs_dir = cache_path_join(dir, "blobs/sha256");
	bs->tmp_dir = cache_path_join(dir, "tmp");
	if (bs->dir == NULL || bs->blobs_dir == NULL || bs->tmp_dir == NULL ||
	    hex_index_init(&bs->index, BLOBSTORE_INITIAL_BUCKETS) != PC_OK) {
		err = PC_ERR_NOMEM;
		goto out;
	}

	err = prepare_dirs(bs);
	if (err != PC_OK)
		goto out;
	err = load_index(bs);
	if (err != PC_OK)
		goto out;

	/* A smaller limit than last time: shrink to it now. */
	if (max_bytes != 0 && bs->bytes > max_bytes)
		make_room(bs, 0);

	log_info("event=blobstore_open dir=%s blobs=%zu bytes=%llu max_bytes=%llu",
	    dir, bs->index.count, (unsigned long long)bs->bytes,
	    (unsigned long long)max_bytes);
	*out = bs;
	err = PC_OK;
out:
	if (err != PC_OK)
		blobstore_close(bs);
	return err;
}

void
blobstore_close(struct blobstore *bs)
{
	if (bs == NULL)
		return;
	if (bs->refs > 0 || bs->writers > 0)
		log_error("event=blobstore_close_busy dir=%s refs=%llu writers=%llu",
		    bs->dir, (unsigned long long)bs->refs,
		    (unsigned long long)bs->writers);

	while (bs->index.oldest != NULL) {
		struct blob_entry *e = entry_of(bs->index.oldest);

		hex_index_remove(&bs->index, &e->node);
		pc_free(e);
	}
	hex_index_free(&bs->index);
	if (bs->lock_fd >= 0)
		close(bs->lock_fd);
	pc_free(bs->dir);
	pc_free(bs->blobs_dir);
	pc_free(bs->tmp_dir);
	pc_free(bs);
}

/* ---- lookups ---- */

/* Parses digest into hex; PC_OK, PC_ERR_INVALID or PC_ERR_UNSUPPORTED. */
static int
parse_sha256(const char *digest, char hex[HEX_LEN + 1])
{
	return digest_parse(digest, NULL, hex);
}

/* Finds the entry of digest; PC_OK, PC_ERR_NOTFOUND or a parse error. */
static int
lookup(const struct blobstore *bs, const char *digest, struct blob_entry **out)
{
	char hex[HEX_LEN + 1];
	int err;

	*out = NULL;
	err = parse_sha256(digest, hex);
	if (err != PC_OK)
		return err;
	*out = index_find(bs, hex);
	return *out != NULL ? PC_OK : PC_ERR_NOTFOUND;
}

static void
mark_used(struct blobstore *bs, struct blob_entry *e, int fd)
{
	time_t now = time(NULL);

	hex_index_touch(&bs->index, &e->node);
	e->last_use = now;

	/*
	 * Store the use as atime, which noatime and relatime mounts would not
	 * do on a read, but only now and then: each update dirties the inode.
	 */
	if (now - e->atime_written >= BLOBSTORE_ATIME_INTERVAL) {
		struct timespec times[2] = {
			{.tv_sec = now, .tv_nsec = 0},
			{.tv_sec = 0, .tv_nsec = UTIME_OMIT},
		};

		if (futimens(fd, times) == 0)
			e->atime_written = now;
		else
			log_debug("event=blob_atime_failed digest=sha256:%s "
			    "error=\"%s\"", e->node.hex, strerror(errno));
	}
}

static void
pin(struct blobstore *bs, struct blob_entry *e)
{
	if (e->pins++ == 0)
		bs->pinned++;
	bs->refs++;
}

/* Opens the file of e and returns a new pinned reference. */
static int
ref_new(struct blobstore *bs, struct blob_entry *e, struct blob_ref **out)
{
	char path[PATH_MAX];
	struct blob_ref *ref;
	struct stat st;
	int fd;

	*out = NULL;
	blob_path(bs, e->node.hex, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;

		log_warn("event=blob_open_failed digest=sha256:%s error=\"%s\"",
		    e->node.hex, strerror(saved));
		if (saved != ENOENT)
			return PC_ERR_IO;
		/* Deleted behind the store's back; live refs keep the entry. */
		if (e->pins == 0)
			index_delete(bs, e);
		return PC_ERR_NOTFOUND;
	}
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != e->size) {
		/* Changed behind the store's back: it can no longer be trusted. */
		log_warn("event=blob_size_changed digest=sha256:%s expected=%llu",
		    e->node.hex, (unsigned long long)e->size);
		close(fd);
		if (e->pins == 0)
			remove_entry(bs, e, "size_changed");
		return PC_ERR_NOTFOUND;
	}

	ref = pc_calloc(1, sizeof(*ref));
	if (ref == NULL) {
		close(fd);
		return PC_ERR_NOMEM;
	}
	ref->bs = bs;
	ref->entry = e;
	ref->fd = fd;
	ref->size = e->size;
	snprintf(ref->digest, sizeof(ref->digest), "sha256:%s", e->node.hex);
	pin(bs, e);
	*out = ref;
	return PC_OK;
}

int
blobstore_get(struct blobstore *bs, const char *digest, struct blob_ref **out)
{
	struct blob_entry *e;
	int err;

	*out = NULL;
	err = lookup(bs, digest, &e);
	if (err != PC_OK)
		return err;
	err = ref_new(bs, e, out);
	if (err != PC_OK)
		return err;
	mark_used(bs, e, (*out)->fd);
	return PC_OK;
}

int
blobstore_stat(struct blobstore *bs, const char *digest, uint64_t *size)
{
	struct blob_entry *e;
	int err;

	err = lookup(bs, digest, &e);
	if (err != PC_OK)
		return err;
	if (size != NULL)
		*size = e->size;
	return PC_OK;
}

int
blobstore_remove(struct blobstore *bs, const char *digest)
{
	struct blob_entry *e;
	int err;

	err = lookup(bs, digest, &e);
	if (err != PC_OK)
		return err;
	if (e->pins > 0)
		return PC_ERR_AGAIN;
	return remove_entry(bs, e, "removed");
}

int
blob_ref_fd(const struct blob_ref *ref)
{
	return ref->fd;
}

uint64_t
blob_ref_size(const struct blob_ref *ref)
{
	return ref->size;
}

const char *
blob_ref_digest(const struct blob_ref *ref)
{
	return ref->digest;
}

void
blob_ref_release(struct blob_ref *ref)
{
	struct blobstore *bs;

	if (ref == NULL)
		return;
	bs = ref->bs;
	close(ref->fd);
	if (--ref->entry->pins == 0)
		bs->pinned--;
	bs->refs--;
	pc_free(ref);
}

/* ---- writers ---- */

static void
writer_free(struct blob_writer *w, bool remove_file)
{
	struct blobstore *bs = w->bs;

	if (w->fd >= 0)
		close(w->fd);
	if (remove_file && unlink(w->tmp_path) != 0 && errno != ENOENT)
		log_warn("event=blob_tmp_unlink_failed path=%s error=\"%s\"",
		    w->tmp_path, strerror(errno));
	bs->reserved -= w->reserved;
	bs->writers--;
	sha256_stream_free(w->hash);
	pc_free(w);
}

int
blobstore_writer_new(struct blobstore *bs, const char *digest,
    int64_t expected_size, struct blob_writer **out)
{
	struct blob_writer *w;
	char hex[HEX_LEN + 1];
	int err;

	*out = NULL;
	err = parse_sha256(digest, hex);
	if (err != PC_OK)
		return err;
	if (expected_size < -1)
		return PC_ERR_INVALID;
	if (expected_size >= 0) {
		err = make_room(bs, (uint64_t)expected_size);
		if (err != PC_OK)
			return err;
	}

	w = pc_calloc(1, sizeof(*w));
	if (w == NULL)
		return PC_ERR_NOMEM;
	w->bs = bs;
	w->fd = -1;
	w->expected_size = expected_size;
	memcpy(w->hex, hex, sizeof(hex));
	snprintf(w->digest, sizeof(w->digest), "sha256:%s", hex);
	bs->writers++;
	if (expected_size >= 0) {
		w->reserved = (uint64_t)expected_size;
		bs->reserved += w->reserved;
	}

	err = sha256_stream_new(&w->hash);
	if (err != PC_OK)
		goto out;
	err = cache_tmp_open(bs->tmp_dir, w->tmp_path, sizeof(w->tmp_path),
	    &w->fd);
	if (err != PC_OK) {
		log_error("event=blob_tmp_open_failed dir=%s error=\"%s\"",
		    bs->tmp_dir, pc_strerror(err));
		w->tmp_path[0] = '\0';
		goto out;
	}
	*out = w;
out:
	if (err != PC_OK)
		writer_free(w, false);
	return err;
}

int
blob_writer_write(struct blob_writer *w, const void *data, size_t len)
{
	size_t done = 0;
	int err;

	if (w->err != PC_OK)
		return w->err;
	if (len == 0)
		return PC_OK;

	if (w->expected_size >= 0) {
		if (len > (uint64_t)w->expected_size - w->written) {
			w->err = PC_ERR_LIMIT;
			return w->err;
		}
	} else if (w->written + len > w->reserved) {
		/* Unknown size: grow the reservation to what has arrived. */
		uint64_t more = w->written + len - w->reserved;

		err = make_room(w->bs, more);
		if (err != PC_OK) {
			w->err = err;
			return err;
		}
		w->reserved += more;
		w->bs->reserved += more;
	}

	err = cache_write_full(w->fd, data, len, &done);
	w->written += done;
	if (err != PC_OK) {
		w->err = err;
		return err;
	}
	if (w->written - w->flushed >= BLOBSTORE_WRITEBACK_BYTES) {
		/* Start writeback now, without waiting, so the fdatasync at
		 * commit finds little left to write and the loop does not stall. */
		sync_file_range(w->fd, (off64_t)w->flushed, (off64_t)(w->written - w->flushed),
		    SYNC_FILE_RANGE_WRITE);
		w->flushed = w->written;
	}
	err = sha256_stream_update(w->hash, data, len);
	if (err != PC_OK)
		w->err = err;
	return err;
}

int
blob_writer_open_reader(struct blob_writer *w)
{
	return open(w->tmp_path, O_RDONLY | O_CLOEXEC);
}

uint64_t
blob_writer_size(const struct blob_writer *w)
{
	return w->written;
}

const char *
blob_writer_digest(const struct blob_writer *w)
{
	return w->digest;
}

/* Checks size and digest of a finished write. */
static int
writer_verify(struct blob_writer *w)
{
	char actual[DIGEST_SHA256_BUFSIZE];
	int err;

	if (w->err != PC_OK)
		return w->err;
	if (w->expected_size >= 0 && w->written != (uint64_t)w->expected_size) {
		log_warn("event=blob_truncated digest=%s size=%llu expected=%lld",
		    w->digest, (unsigned long long)w->written,
		    (long long)w->expected_size);
		return PC_ERR_TRUNCATED;
	}
	err = sha256_stream_final(w->hash, actual);
	if (err != PC_OK)
		return err;
	if (strcmp(actual, w->digest) != 0) {
		log_warn("event=blob_digest_mismatch digest=%s actual=%s size=%llu",
		    w->digest, actual, (unsigned long long)w->written);
		return PC_ERR_MISMATCH;
	}
	return PC_OK;
}

/* Flushes and renames the verified file into place and indexes it. */
static int
writer_install(struct blob_writer *w, struct blob_entry **entry_out)
{
	struct blobstore *bs = w->bs;
	char path[PATH_MAX];
	struct blob_entry *e;
	int err;

	if (fdatasync(w->fd) != 0) {
		err = cache_errno_to_err(errno);
		log_error("event=blob_sync_failed digest=%s error=\"%s\"",
		    w->digest, strerror(errno));
		return err;
	}
	if (hex_index_reserve(&bs->index) != PC_OK)
		return PC_ERR_NOMEM;
	e = pc_calloc(1, sizeof(*e));
	if (e == NULL)
		return PC_ERR_NOMEM;

	snprintf(path, sizeof(path), "%s/%.2s", bs->blobs_dir, w->hex);
	err = cache_dir_make(path);
	if (err != PC_OK)
		goto out;
	blob_path(bs, w->hex, path, sizeof(path));
	if (rename(w->tmp_path, path) != 0) {
		err = cache_errno_to_err(errno);
		log_error("event=blob_rename_failed digest=%s error=\"%s\"",
		    w->digest, strerror(errno));
		goto out;
	}

	memcpy(e->node.hex, w->hex, sizeof(e->node.hex));
	e->size = w->written;
	e->last_use = time(NULL);
	e->atime_written = e->last_use;
	/* The reservation becomes committed bytes. */
	bs->reserved -= w->reserved;
	w->reserved = 0;
	index_insert(bs, e);
	*entry_out = e;
	e = NULL;
	err = PC_OK;
out:
	pc_free(e);
	return err;
}

int
blob_writer_commit(struct blob_writer *w, struct blob_ref **ref_out)
{
	struct blobstore *bs = w->bs;
	struct blob_entry *e;
	bool remove_file = true;
	int err;

	if (ref_out != NULL)
		*ref_out = NULL;

	err = writer_verify(w);
	if (err != PC_OK)
		goto out;

	e = index_find(bs, w->hex);
	if (e != NULL) {
		/* Another writer of this digest won: keep its file, drop ours. */
		hex_index_touch(&bs->index, &e->node);
	} else {
		err = writer_install(w, &e);
		if (err != PC_OK)
			goto out;
		remove_file = false;
	}
	bs->commits++;
	log_debug("event=blob_committed digest=%s size=%llu", w->digest,
	    (unsigned long long)e->size);

	if (ref_out != NULL)
		err = ref_new(bs, e, ref_out);
out:
	if (err == PC_ERR_MISMATCH)
		bs->mismatches++;
	else if (err != PC_OK && remove_file)
		bs->aborts++;
	writer_free(w, remove_file);
	return err;
}

void
blob_writer_abort(struct blob_writer *w)
{
	if (w == NULL)
		return;
	w->bs->aborts++;
	writer_free(w, true);
}

void
blobstore_stats(const struct blobstore *bs, struct blobstore_stats *st)
{
	st->blobs = bs->index.count;
	st->bytes = bs->bytes;
	st->reserved = bs->reserved;
	st->max_bytes = bs->max_bytes;
	st->pinned = bs->pinned;
	st->writers = bs->writers;
	st->evictions = bs->evictions;
	st->commits = bs->commits;
	st->mismatches = bs->mismatches;
	st->aborts = bs->aborts;
}
