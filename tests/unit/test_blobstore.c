#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/blobstore.h"
#include "common/alloc.h"
#include "common/digest.h"
#include "common/error.h"
#include "tests/unit/tmpdir_fixture.h"

/* Fills buf with bytes that differ per seed, so blobs have distinct digests. */
static void
fill(unsigned char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)((i * 31 + seed * 7 + (i >> 8)) & 0xff);
}

/* Writes data in chunks of 1000 bytes and commits it. */
static int
store_blob(struct blobstore *bs, const void *data, size_t len,
    int64_t expected_size, char digest[DIGEST_SHA256_BUFSIZE])
{
	struct blob_writer *w = NULL;
	const unsigned char *p = data;
	int err;

	sha256_hex(data, len, digest);
	err = blobstore_writer_new(bs, digest, expected_size, &w);
	if (err != PC_OK)
		return err;
	for (size_t off = 0; off < len; off += 1000) {
		size_t n = len - off < 1000 ? len - off : 1000;

		err = blob_writer_write(w, p + off, n);
		if (err != PC_OK) {
			blob_writer_abort(w);
			return err;
		}
	}
	return blob_writer_commit(w, NULL);
}

static size_t
tmp_file_count(const struct tmpdir *f)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/tmp", f->dir);
	return tmpdir_count_files(path);
}

static void
blob_file_path(const struct tmpdir *f, const char *digest, char *out,
    size_t size)
{
	snprintf(out, size, "%s/blobs/sha256/%.2s/%s", f->dir, digest + 7,
	    digest + 7);
}

static void
assert_fd_content(int fd, const void *expected, size_t len)
{
	unsigned char *buf = malloc(len + 1);
	ssize_t n;

	assert_non_null(buf);
	n = pread(fd, buf, len + 1, 0);
	assert_int_equal(n, (ssize_t)len);
	assert_memory_equal(buf, expected, len);
	free(buf);
}

static void
test_commit_and_get(void **state)
{
	struct tmpdir *f = *state;
	struct blobstore *bs = NULL;
	struct blob_writer *w = NULL;
	struct blob_ref *ref = NULL;
	struct blobstore_stats st;
	unsigned char data[5000];
	char digest[DIGEST_SHA256_BUFSIZE];
	char path[PATH_MAX];
	uint64_t size = 0;
	struct stat sb;

	fill(data, sizeof(data), 1);
	sha256_hex(data, sizeof(data), digest);
	assert_int_equal(blobstore_open(f->dir, 0, &bs), PC_OK);

	assert_int_equal(blobstore_writer_new(bs, digest, sizeof(data), &w), PC_OK);
	assert_string_equal(blob_writer_digest(w), digest);
	assert_int_equal(blob_writer_write(w, data, 1234), PC_OK);
	assert_int_equal(blob_writer_write(w, data + 1234, 0), PC_OK);
	assert_int_equal(blob_writer_write(w, data + 1234, sizeof(data) - 1234),
	    PC_OK);
	assert_int_equal(blob_writer_size(w), sizeof(data));
	assert_int_equal(tmp_file_count(f), 1);
	assert_int_equal(blob_writer_commit(w, &ref), PC_OK);

	assert_non_null(ref);
	assert_int_equal(blob_ref_size(ref), sizeof(data));
	assert_string_equal(blob_ref_digest(ref), digest);
	assert_fd_content(blob_ref_fd(ref), data, sizeof(data));
	blob_ref_release(ref);

	assert_int_equal(tmp_file_count(f), 0);
	blob_file_path(f, digest, path, sizeof(path));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, sizeof(data));

	assert_int_equal(blobstore_stat(bs, digest, &size), PC_OK);
	assert_int_equal(size, sizeof(data));
	assert_int_equal(blobstore_get(bs, digest, &ref), PC_OK);
	assert_fd_content(blob_ref_fd(ref), data, sizeof(data));
	blob_ref_release(ref);

	blobstore_stats(bs, &st);
	assert_int_equal(st.blobs, 1);
	assert_int_equal(st.bytes, sizeof(data));
	assert_int_equal(st.reserved, 0);
	assert_int_equal(st.commits, 1);
	assert_int_equal(st.mismatches, 0);
	assert_int_equal(st.aborts, 0);
	assert_int_equal(st.writers, 0);
	assert_int_equal(st.pinned, 0);
	blobstore_close(bs);
}

static void
test_commit_unknown_size(void **state)
{
	struct tmpdir *f = *state;
	struct blobstore *bs = NULL;
	struct blobstore_stats st;
	unsigned char data[2500];
	char digest[DIGEST_SHA256_BUFSIZE];
	uint64_t size = 0;

	fill(data, sizeof(data), 2);
	assert_int_equal(blobstore_open(f->dir, 10000, &bs), PC_OK);
	assert_int_equal(store_blob(bs, data, sizeof(data), -1, digest), PC_OK);
	assert_int_equal(blobstore_stat(bs, digest, &size), PC_OK);
	assert_int_equal(size, sizeof(data));
	blobstore_stats(bs, &st);
	assert_int_equal(st.bytes, sizeof(data));
	assert_int_equal(st.reserved, 0);
	blobstore_close(bs);
}

static void
test_empty_blob(void **state)
{
	struct tmpdir *f = *state;
	struct blobstore *bs = NULL;
	struct blob_ref *ref = NULL;
	char digest[DIGEST_SHA256_BUFSIZE];

	assert_int_equal(blobstore_open(f->dir, 0, &bs), PC_OK);
	assert_int_equal(store_blob(bs, "", 0, 0, digest), PC_OK);
	assert_int_equal(blobstore_get(bs, digest, &ref), PC_OK);
	assert_int_equal(blob_ref_size(ref), 0);
	blob_ref_release(ref);
	blobstore_close(bs);
}

static void
test_digest_mismatch(void **state)
{
	struct tmpdir *f = *state;
	struct blobstore *bs = NULL;
	struct blob_writer *w = NULL;
	struct blob_ref *ref = (struct blob_ref *)&ref;
	struct blobstore_stats st;
	unsigned char data[3000];
	char digest[DIGEST_SHA256_BUFSIZE];

	fill(data, sizeof(data), 3);
	sha256_hex(data, sizeof(data), digest);
	data[1500] ^= 1;

	assert_int_equal(blobstore_open(f->dir, 0, &bs), PC_OK);
	assert_int_equal(blobstore_writer_new(bs, digest, sizeof(data), &w), PC_OK);
	assert_int_equal(blob_writer_write(w, data, sizeof(data)), PC_OK);
	assert_int_equal(blob_writer_commit(w, &ref), PC_ERR_MISMATCH);
	assert_null(ref);

	assert_int_equal(blobstore_stat(bs, digest, NULL), PC_ERR_NOTFOUND);
	assert_int_equal(tmp_file_count(f), 0);
	blobstore_stats(bs, &st);
	assert_int_equal(st.blobs, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.reserved, 0);
	assert_int_equal(st.mismatches, 1);
	assert_int_equal(st.commits, 0);
	blobstore_close(bs);
}

static void
test_short_write_truncated(void **state)
{
	struct tmpdir *f = *state;
	struct blobstore *bs = NULL;
	struct blob_writer *w = NULL;
	struct blobstore_stats st;
	unsigned char data[3000];
	char digest[DIGEST_SHA256_BUFSIZE];

	fill(data, sizeof(data), 4);
	sha256_hex(data, sizeof(data), digest);

	assert_int_equal(blobstore_open(f->dir, 0, &bs), PC_OK);
	assert_int_equal(blobstore_writer_new(bs, digest, sizeof(data), &w), PC_OK);
	assert_int_equal(blob_writer_write(w, data, sizeof(data) - 1), PC_OK);
	assert_int_equal(blob_writer_commit(w, NULL), PC_ERR_TRUNCATED);

	assert_int_equal(blobstore_stat(bs, digest, NULL), PC_ERR_NOTFOUND);
	assert_int_equal(tmp_file_count(f), 0);
	blobstore_stats(bs, &st);
	assert_int_equal(st.aborts, 1);
	assert_int_equal(st.reserved, 0);
	assert_int_equal(st.writers, 0);
	blobstore_close(bs);
}

static void
test_overlong_write_limit(void **state)
{
	struct tmpdir *f = *state;
	struct blobstore *bs = NULL;
	struct blob_writer *w = NULL;
	struct blobstore_stats st;
	unsigned char data[3000];
	char digest[DIGEST_SHA256_BUFSIZE];

	fill(data, sizeof(data), 5);
	sha256_hex(data, 2000, digest);

	assert_int_equal(blobstore_open(f->dir, 0, &bs), PC_OK);
	assert_int_equal(blobstore_writer_new(bs, digest, 2000, &w), PC_OK);
	assert_int_equal(blob_writer_write(w, data, 1500), PC_OK);
	assert_int_equal(blob_writer_write(w, data + 1500, 501), PC_ERR_LIMIT);
	assert_int_equal(blob_writer_size(w), 1500);
	/* The writer is dead: even a fitting write fails now. */
	assert_int_equal(blob_writer_write(w, data + 1500, 500), PC_ERR_LIMIT);
	assert_int_equal(blob_writer_commit(w, NULL), PC_ERR_LIMIT);

	assert_int_equal(blobstore_stat(bs, digest, NULL), PC_ERR_NOTFOUND);
	assert_int_equal(tmp_file_count(f), 0);
	blobstore_stats(bs, &st);
	assert_int_equal(st.aborts, 1);
	blobstore_close(bs);
}

static void
test_reader_while_growing(void **state)
{
	struct tmpdir *f = *state;
	struct blobstore *bs = NULL;
	struct blob_writer *w = NULL;
	unsigned char data[4000];
	char digest[DIGEST_SHA256_BUFSIZE];
	int fd;

	fill(data, sizeof(data), 6);
	sha256_hex(data, sizeof(data), digest);
	assert_int_equal(blobstore_open(f->dir, 0, &bs), PC_OK);
	assert_int_equal(blobstore_writer_new(bs, digest, sizeof(data), &w), PC_OK);

	assert_int_equal(blob_writer_write(w, data, 1000), PC_OK);
	fd = blob_writer_open_reader(w);
	assert_true(fd >= 0);
	assert_fd_content(fd, data, 1000);

	assert_int_equal(blob_writer_write(w, data + 1000, 2000), PC_OK);
	assert_fd_content(fd, data, 3000);
	assert_int_equal(blob_writer_write(w, data + 3000, 1000), PC_OK);
	assert_int_equal(blob_writer_commit(w, NULL), PC_OK);

	/* The descriptor follows the inode through the rename. */
	assert_fd_content(fd, data, sizeof(data));
	close(fd);
	blobstore_close(bs);
}

static void
test_reader_after_abort(void **state)
{
	struct tmpdir *f = *state;
	struct blobstore *bs = NULL;
	struct blob_writer *w = NULL;
	unsigned char data[2000];
	char digest[DIGEST_SHA256_BUFSIZE];
	int fd;

	fill(data, sizeof(data), 7);
	sha256_hex(data, sizeof(data), digest);
	assert_int_equal(blobstore_open(f->dir, 0, &bs), PC_OK);
	assert_int_equal(blobstore_writer_new(bs, digest, -1, &w), PC_OK);
	assert_int_equal(blob_writer_write(w, data, 1200), PC_OK);
	fd = blob_writer_open_reader(w);
	assert_true(fd >= 0);
	blob_writer_abort(w);

	assert_int_equal(tmp_file_count(f), 0);
	assert_fd_content(fd, data, 1200);
	close(fd);
	assert_int_equal(blobstore_stat(bs, digest, NULL), PC_ERR_NOTFOUND);
	blobstore_close(bs);
}

static void
test_concurrent_writers_same_digest(void **state)
{
	struct tmpdir *f = *state;
	struct blobstore *bs = NULL;
	struct blob_writer *w1 = NULL;
	struct blob_writer *w2 = NULL;
	struct blob_ref *ref = NULL;
	struct blobstore_stats st;
	unsigned char data[6000];
	char digest[DIGEST_SHA256_BUFSIZE];
	char path[PATH_MAX];

	fill(data, sizeof(data), 8);
	sha256_hex(data, sizeof(data), digest);
	assert_int_equal(blobstore_open(f->dir, 0, &bs), PC_OK);
	assert_int_equal(blobstore_writer_new(bs, digest, sizeof(data), &w1), PC_OK);
	assert_int_equal(blobstore_writer_new(bs, digest, sizeof(data), &w2), PC_OK);

	/* Interleave the two streams, as two upstream fetches would. */
	for (size_t off = 0; off < sizeof(data); off += 1500) {
		assert_int_equal(blob_writer_write(w1, data + off, 1500), PC_OK);
		assert_int_equal(blob_writer_write(w2, data + off, 1500), PC_OK);
	}
	blobstore_stats(bs, &st);
	assert_int_equal(st.writers, 2);
	assert_int_equal(st.reserved, 2 * sizeof(data));

	assert_int_equal(blob_writer_commit(w1, NULL), PC_OK);
	assert_int_equal(blob_writer_commit(w2, &ref), PC_OK);
	assert_non_null(ref);
	assert_fd_content(blob_ref_fd(ref), data, sizeof(data));
	blob_ref_release(ref);

	blob_file_path(f, digest, path, sizeof(path));
	{
		int fd = open(path, O_RDONLY);

		assert_true(fd >= 0);
		assert_fd_content(fd, data, sizeof(data));
		close(fd);
	}
	assert_int_equal(tmp_file_count(f), 0);
	blobstore_stats(bs, &st);
	assert_int_equal(st.blobs, 1);
	assert_int_equal(st.bytes, sizeof(data));
	assert_int_equal(st.reserved, 0);
	assert_int_equal(st.commits, 2);
	blobstore_close(bs);
}

static void
test_lru_eviction_order(void **state)
{
	struct tmpdir *f = *state;
	struct blobstore *bs = NULL;
	struct blob_ref *ref = NULL;
	struct blobstore_stats st;
	unsigned char data[5][100];
	char digest[5][DIGEST_SHA256_BUFSIZE];

	for (unsigned i = 0; i < 5; i++)
		fill(data[i], sizeof(data[i]), 10 + i);
	assert_int_equal(blobstore_open(f->dir, 300, &bs), PC_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_blob(bs, data[i], 100, 100, digest[i]), PC_OK);

	/* Use blob 0, so blob 1 becomes the least recently used. */
	assert_int_equal(blobstore_get(bs, digest[0], &ref), PC_OK);
	blob_ref_release(ref);

	assert_int_equal(store_blob(bs, data[3], 100, 100, digest[3]), PC_OK);
	assert_int_equal(blobstore_stat(bs, digest[1], NULL), PC_ERR_NOTFOUND);
	assert_int_equal(blobstore_stat(bs, digest[0], NULL), PC_OK);
	assert_int_equal(blobstore_stat(bs, digest[2], NULL), PC_OK);
	assert_int_equal(blobstore_stat(bs, digest[3], NULL), PC_OK);

	/* Unknown size: the reservation grows with the data and evicts blob 2. */
	assert_int_equal(store_blob(bs, data[4], 100, -1, digest[4]), PC_OK);
	assert_int_equal(blobstore_stat(bs, digest[2], NULL), PC_ERR_NOTFOUND);
	assert_int_equal(blobstore_stat(bs, digest[0], NULL), PC_OK);

	blobstore_stats(bs, &st);
	assert_int_equal(st.evictions, 2);
	assert_int_equal(st.blobs, 3);
	assert_int_equal(st.bytes, 300);
	blobstore_close(bs);
}

static void
test_pinned_never_evicted(void **state)
{
	struct tmpdir *f = *state;
	struct blobstore *bs = NULL;
	struct blob_ref *ref_a = NULL;
	struct blob_ref *ref_b = NULL;
	struct blob_writer *w = NULL;
	struct blobstore_stats st;
	unsigned char a[100], b[100], c[100], d[100];
	char da[DIGEST_SHA256_BUFSIZE], db[DIGEST_SHA256_BUFSIZE];
	char dc[DIGEST_SHA256_BUFSIZE], dd[DIGEST_SHA256_BUFSIZE];

	fill(a, 100, 20);
	fill(b, 100, 21);
	fill(c, 100, 22);
	fill(d, 100, 23);
	assert_int_equal(blobstore_open(f->dir, 200, &bs), PC_OK);
	assert_int_equal(store_blob(bs, a, 100, 100, da), PC_OK);
	assert_int_equal(store_blob(bs, b, 100, 100, db), PC_OK);

	/* a is the oldest but pinned, so b must go. */
	assert_int_equal(blobstore_get(bs, da, &ref_a), PC_OK);
	assert_int_equal(blobstore_get(bs, db, &ref_b), PC_OK);
	blob_ref_release(ref_b);
	assert_int_equal(blobstore_remove(bs, da), PC_ERR_AGAIN);
	assert_int_equal(store_blob(bs, c, 100, 100, dc), PC_OK);
	assert_int_equal(blobstore_stat(bs, da, NULL), PC_OK);
	assert_int_equal(blobstore_stat(bs, db, NULL), PC_ERR_NOTFOUND);

	/* With a pinned and c being written over, nothing may be evicted. */
	assert_int_equal(blobstore_get(bs, dc, &ref_b), PC_OK);
	sha256_hex(d, 100, dd);
	assert_int_equal(blobstore_writer_new(bs, dd, 100, &w), PC_ERR_NOSPACE);
	assert_null(w);
	blobstore_stats(bs, &st);
	assert_int_equal(st.pinned, 2);
	assert_int_equal(st.blobs, 2);

	/* The pinned descriptor still reads the whole blob. */
	assert_fd_content(blob_ref_fd(ref_a), a, 100);
	blob_ref_release(ref_a);
	blob_ref_release(ref_b);
	assert_int_equal(store_blob(bs, d, 100, 100, dd), PC_OK);
	assert_int_equal(blobstore_stat(bs, da, NULL), PC_ERR_NOTFOUND);
	blobstore_close(bs);
}

static void
test_reservation_nospace(void **state)
{
	struct tmpdir *f = *state;
	struct blobstore *bs = NULL;
	struct blob_writer *w1 = NULL;
	struct blob_writer *w2 = NULL;
	struct blob_writer *w3 = NULL;
	struct blobstore_stats st;
	unsigned char a[100];
	char da[DIGEST_SHA256_BUFSIZE];
	char digest[DIGEST_SHA256_BUFSIZE];

	fill(a, 100, 30);
	sha256_hex("x", 1, digest);
	assert_int_equal(blobstore_open(f->dir, 250, &bs), PC_OK);
	assert_int_equal(store_blob(bs, a, 100, 100, da), PC_OK);

	/* Larger than the whole limit: refused without evicting anything. */
	assert_int_equal(blobstore_writer_new(bs, digest, 251, &w1), PC_ERR_NOSPACE);
	assert_int_equal(blobstore_stat(bs, da, NULL), PC_OK);

	/* Reservations of writers in progress count against the limit. */
	assert_int_equal(blobstore_writer_new(bs, digest, 150, &w1), PC_OK);
	blobstore_stats(bs, &st);
	assert_int_equal(st.reserved, 150);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(blobstore_writer_new(bs, digest, 100, &w2), PC_OK);
	assert_int_equal(blobstore_stat(bs, da, NULL), PC_ERR_NOTFOUND);
	assert_int_equal(blobstore_writer_new(bs, digest, 1, &w3), PC_ERR_NOSPACE);
	assert_null(w3);

	/* A writer of unknown size fails its write, not its creation. */
	blob_writer_abort(w2);
	w2 = NULL;
	assert_int_equal(blobstore_writer_new(bs, digest, -1, &w2), PC_OK);
	assert_int_equal(blob_writer_write(w2, a, 100), PC_OK);
	assert_int_equal(blob_writer_write(w2, a, 1), PC_ERR_NOSPACE);
	assert_int_equal(blob_writer_size(w2), 100);
	blob_writer_abort(w2);
	blob_writer_abort(w1);

	blobstore_stats(bs, &st);
	assert_int_equal(st.reserved, 0);
	assert_int_equal(st.writers, 0);
	assert_int_equal(st.aborts, 3);
	assert_int_equal(tmp_file_count(f), 0);
	blobstore_close(bs);
}

static void
set_times(const char *path, time_t t)
{
	struct timespec times[2] = {{.tv_sec = t}, {.tv_sec = t}};

	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

static void
test_reopen_indexes_existing(void **state)
{
	struct tmpdir *f = *state;
	struct blobstore *bs = NULL;
	struct blobstore *second = NULL;
	struct blobstore_stats st;
	unsigned char data[3][100];
	char digest[3][DIGEST_SHA256_BUFSIZE];
	char path[PATH_MAX];
	uint64_t size = 0;

	assert_int_equal(blobstore_open(f->dir, 0, &bs), PC_OK);
	/* The folder is locked while open. */
	assert_int_equal(blobstore_open(f->dir, 0, &second), PC_ERR_AGAIN);
	assert_null(second);
	for (unsigned i = 0; i < 3; i++) {
		fill(data[i], 100, 40 + i);
		assert_int_equal(store_blob(bs, data[i], 100, 100, digest[i]), PC_OK);
	}
	blobstore_close(bs);

	/* Last use on disk: blob 2 oldest, then 0, then 1. */
	blob_file_path(f, digest[2], path, sizeof(path));
	set_times(path, 1000000000);
	blob_file_path(f, digest[0], path, sizeof(path));
	set_times(path, 1100000000);
	blob_file_path(f, digest[1], path, sizeof(path));
	set_times(path, 1200000000);

	/* Leftovers of a crash and files that are not blobs. */
	snprintf(path, sizeof(path), "%s/tmp/0123456789abcdef", f->dir);
	tmpdir_write_file(path, "partial");
	snprintf(path, sizeof(path), "%s/tmp/another", f->dir);
	tmpdir_write_file(path, "partial");
	snprintf(path, sizeof(path), "%s/blobs/sha256/%.2s/not-a-digest", f->dir,
	    digest[0] + 7);
	tmpdir_write_file(path, "junk");
	snprintf(path, sizeof(path), "%s/blobs/sha256/zz", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);

	/* Re-open with room for two: the least recently used blob 2 goes. */
	assert_int_equal(blobstore_open(f->dir, 200, &bs), PC_OK);
	assert_int_equal(tmp_file_count(f), 0);
	assert_int_equal(blobstore_stat(bs, digest[2], NULL), PC_ERR_NOTFOUND);
	assert_int_equal(blobstore_stat(bs, digest[0], &size), PC_OK);
	assert_int_equal(size, 100);
	assert_int_equal(blobstore_stat(bs, digest[1], &size), PC_OK);
	blobstore_stats(bs, &st);
	assert_int_equal(st.blobs, 2);
	assert_int_equal(st.bytes, 200);
	assert_int_equal(st.evictions, 1);

	/* Ignored files stay where they are. */
	snprintf(path, sizeof(path), "%s/blobs/sha256/%.2s/not-a-digest", f->dir,
	    digest[0] + 7);
	assert_int_equal(access(path, F_OK), 0);
	blobstore_close(bs);
}

static void
test_misplaced_blob_ignored(void **state)
{
	struct tmpdir *f = *state;
	struct blobstore *bs = NULL;
	unsigned char data[100];
	char digest[DIGEST_SHA256_BUFSIZE];
	char from[PATH_MAX];
	char to[PATH_MAX];
	char dir[PATH_MAX / 2];

	fill(data, 100, 50);
	assert_int_equal(blobstore_open(f->dir, 0, &bs), PC_OK);
	assert_int_equal(store_blob(bs, data, 100, 100, digest), PC_OK);
	blobstore_close(bs);

	/* A blob in a prefix folder that does not match its name. */
	blob_file_path(f, digest, from, sizeof(from));
	snprintf(dir, sizeof(dir), "%s/blobs/sha256/%s", f->dir,
	    strncmp(digest + 7, "00", 2) == 0 ? "01" : "00");
	mkdir(dir, 0755);
	snprintf(to, sizeof(to), "%s/%s", dir, digest + 7);
	assert_int_equal(rename(from, to), 0);

	assert_int_equal(blobstore_open(f->dir, 0, &bs), PC_OK);
	assert_int_equal(blobstore_stat(bs, digest, NULL), PC_ERR_NOTFOUND);
	blobstore_close(bs);
}

static void
test_file_deleted_behind_back(void **state)
{
	struct tmpdir *f = *state;
	struct blobstore *bs = NULL;
	struct blob_ref *ref = NULL;
	unsigned char data[100];
	char digest[DIGEST_SHA256_BUFSIZE];
	char path[PATH_MAX];

	fill(data, 100, 51);
	assert_int_equal(blobstore_open(f->dir, 0, &bs), PC_OK);
	assert_int_equal(store_blob(bs, data, 100, 100, digest), PC_OK);
	blob_file_path(f, digest, path, sizeof(path));
	assert_int_equal(unlink(path), 0);

	assert_int_equal(blobstore_get(bs, digest, &ref), PC_ERR_NOTFOUND);
	assert_null(ref);
	assert_int_equal(blobstore_stat(bs, digest, NULL), PC_ERR_NOTFOUND);
	blobstore_close(bs);
}

static void
test_disk_full_efbig(void **state)
{
	struct tmpdir *f = *state;
	struct blobstore *bs = NULL;
	struct blob_writer *w = NULL;
	struct rlimit saved;
	struct rlimit small;
	unsigned char chunk[16384];
	char digest[DIGEST_SHA256_BUFSIZE];
	void (*old_handler)(int);
	int err = PC_OK;
	int writes = 0;

	fill(chunk, sizeof(chunk), 60);
	sha256_hex("any", 3, digest);
	assert_int_equal(blobstore_open(f->dir, 0, &bs), PC_OK);
	assert_int_equal(blobstore_writer_new(bs, digest, -1, &w), PC_OK);

	/* A 40000-byte file size limit makes write(2) fail with EFBIG. */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	small = saved;
	small.rlim_cur = 40000;
	old_handler = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	while (writes < 10 && err == PC_OK) {
		err = blob_writer_write(w, chunk, sizeof(chunk));
		writes++;
	}
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, old_handler);

	assert_int_equal(err, PC_ERR_NOSPACE);
	assert_int_equal(blob_writer_size(w), 40000);
	/* The writer stays dead. */
	assert_int_equal(blob_writer_write(w, chunk, 1), PC_ERR_NOSPACE);
	blob_writer_abort(w);
	assert_int_equal(tmp_file_count(f), 0);
	assert_int_equal(blobstore_stat(bs, digest, NULL), PC_ERR_NOTFOUND);
	blobstore_close(bs);
}

static void
test_invalid_digests(void **state)
{
	struct tmpdir *f = *state;
	struct blobstore *bs = NULL;
	struct blob_writer *w = NULL;
	struct blob_ref *ref = NULL;
	const char *sha512 = "sha512:"
	    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
	    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
	char digest[DIGEST_SHA256_BUFSIZE];

	sha256_hex("x", 1, digest);
	assert_int_equal(blobstore_open(f->dir, 0, &bs), PC_OK);
	assert_int_equal(blobstore_get(bs, "sha256:abc", &ref), PC_ERR_INVALID);
	assert_int_equal(blobstore_get(bs, "../../etc/passwd", &ref), PC_ERR_INVALID);
	assert_int_equal(blobstore_get(bs, sha512, &ref), PC_ERR_UNSUPPORTED);
	assert_int_equal(blobstore_stat(bs, "", NULL), PC_ERR_INVALID);
	assert_int_equal(blobstore_remove(bs, "sha256:"), PC_ERR_INVALID);
	assert_int_equal(blobstore_remove(bs, digest), PC_ERR_NOTFOUND);
	assert_int_equal(blobstore_writer_new(bs, "sha256:", 1, &w), PC_ERR_INVALID);
	assert_int_equal(blobstore_writer_new(bs, sha512, 1, &w), PC_ERR_UNSUPPORTED);
	assert_int_equal(blobstore_writer_new(bs, digest, -2, &w), PC_ERR_INVALID);
	assert_null(w);
	assert_null(ref);
	assert_int_equal(tmp_file_count(f), 0);
	blobstore_close(bs);
}

static void
test_remove_blob(void **state)
{
	struct tmpdir *f = *state;
	struct blobstore *bs = NULL;
	struct blob_ref *ref = NULL;
	struct blobstore_stats st;
	unsigned char data[100];
	char digest[DIGEST_SHA256_BUFSIZE];
	char path[PATH_MAX];

	fill(data, 100, 70);
	assert_int_equal(blobstore_open(f->dir, 0, &bs), PC_OK);
	assert_int_equal(store_blob(bs, data, 100, 100, digest), PC_OK);
	assert_int_equal(blobstore_get(bs, digest, &ref), PC_OK);
	assert_int_equal(blobstore_remove(bs, digest), PC_ERR_AGAIN);
	blob_ref_release(ref);
	assert_int_equal(blobstore_remove(bs, digest), PC_OK);
	assert_int_equal(blobstore_remove(bs, digest), PC_ERR_NOTFOUND);
	blob_file_path(f, digest, path, sizeof(path));
	assert_int_equal(access(path, F_OK), -1);
	blobstore_stats(bs, &st);
	assert_int_equal(st.blobs, 0);
	assert_int_equal(st.bytes, 0);
	blobstore_close(bs);
}

static void
test_many_blobs_grow_index(void **state)
{
	struct tmpdir *f = *state;
	struct blobstore *bs = NULL;
	struct blobstore_stats st;
	char digests[1100][DIGEST_SHA256_BUFSIZE];
	char text[32];

	/* More blobs than the 1024 initial hash buckets, before and after reopen. */
	assert_int_equal(blobstore_open(f->dir, 0, &bs), PC_OK);
	for (int i = 0; i < 1100; i++) {
		int n = snprintf(text, sizeof(text), "blob %d", i);

		assert_int_equal(store_blob(bs, text, (size_t)n, n, digests[i]),
		    PC_OK);
	}
	blobstore_close(bs);

	assert_int_equal(blobstore_open(f->dir, 0, &bs), PC_OK);
	blobstore_stats(bs, &st);
	assert_int_equal(st.blobs, 1100);
	for (int i = 0; i < 1100; i++)
		assert_int_equal(blobstore_stat(bs, digests[i], NULL), PC_OK);
	blobstore_close(bs);
}

static void
test_allocation_failures_unwind(void **state)
{
	struct tmpdir *f = *state;
	unsigned char data[3000];
	char digest[DIGEST_SHA256_BUFSIZE];

	fill(data, sizeof(data), 80);
	/* Create the folders first, so tmp/ can be checked after every round. */
	{
		struct blobstore *bs = NULL;

		assert_int_equal(blobstore_open(f->dir, 0, &bs), PC_OK);
		blobstore_close(bs);
	}
	for (long n = 0; n < 64; n++) {
		struct blobstore *bs = NULL;
		struct blob_ref *ref = NULL;
		int err;

		pc_alloc_fail_after(n);
		err = blobstore_open(f->dir, 0, &bs);
		if (err == PC_OK) {
			err = store_blob(bs, data, sizeof(data), sizeof(data),
			    digest);
			if (err == PC_OK)
				err = blobstore_get(bs, digest, &ref);
			blob_ref_release(ref);
		}
		pc_alloc_fail_after(-1);
		if (bs != NULL) {
			struct blobstore_stats st;

			blobstore_stats(bs, &st);
			assert_int_equal(st.writers, 0);
			assert_int_equal(st.reserved, 0);
			assert_int_equal(st.pinned, 0);
		}
		blobstore_close(bs);
		assert_int_equal(tmp_file_count(f), 0);
		if (err == PC_OK)
			return;
		assert_int_equal(err, PC_ERR_NOMEM);
	}
	fail_msg("still failing after 64 allocations");
}

#define DIR_TEST(fn) \
	cmocka_unit_test_setup_teardown(fn, tmpdir_setup, tmpdir_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		DIR_TEST(test_commit_and_get),
		DIR_TEST(test_commit_unknown_size),
		DIR_TEST(test_empty_blob),
		DIR_TEST(test_digest_mismatch),
		DIR_TEST(test_short_write_truncated),
		DIR_TEST(test_overlong_write_limit),
		DIR_TEST(test_reader_while_growing),
		DIR_TEST(test_reader_after_abort),
		DIR_TEST(test_concurrent_writers_same_digest),
		DIR_TEST(test_lru_eviction_order),
		DIR_TEST(test_pinned_never_evicted),
		DIR_TEST(test_reservation_nospace),
		DIR_TEST(test_reopen_indexes_existing),
		DIR_TEST(test_misplaced_blob_ignored),
		DIR_TEST(test_file_deleted_behind_back),
		DIR_TEST(test_disk_full_efbig),
		DIR_TEST(test_invalid_digests),
		DIR_TEST(test_remove_blob),
		DIR_TEST(test_many_blobs_grow_index),
		DIR_TEST(test_allocation_failures_unwind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
