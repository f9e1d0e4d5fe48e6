#ifndef PORTCULLIS_CACHE_BLOBSTORE_H
#define PORTCULLIS_CACHE_BLOBSTORE_H

#include <stddef.h>
#include <stdint.h>

/*
 * A content-addressed blob store on local disk with a byte limit and least
 * recently used eviction.
 *
 * Layout under the store folder DIR:
 *
 *   DIR/blobs/sha256/<first 2 hex>/<64 hex>   committed blobs
 *   DIR/tmp/<random>                          blobs being written
 *   DIR/blobstore.lock                        flock(2) held while open
 *
 * A blob file exists under its digest name only after its SHA-256 matched
 * that digest and its data reached the disk (fdatasync before rename), so a
 * crash leaves either the whole blob or nothing under that name. The rename
 * itself is not made durable with a directory fsync: after a crash a blob
 * committed just before may be missing, and is fetched again.
 *
 * Threads: every blobstore_*, blob_writer_* and blob_ref_release() call
 * must come from one thread (the network thread), because the index has no
 * lock. The file descriptors that blob_ref_fd() and
 * blob_writer_open_reader() hand out may be read with pread(2) or
 * sendfile(2) from any thread while that thread works on.
 *
 * Byte limit: committed blobs plus the reservations of writers in progress
 * stay at or below max_bytes. A writer with a known size reserves it at
 * creation. A writer with an unknown size grows its reservation as bytes
 * arrive. Making room evicts least recently used blobs, where use means a
 * blobstore_get() or a commit. A pinned blob (one with a live blob_ref) and
 * a blob being written are never evicted.
 */

struct blobstore;
struct blob_ref;
struct blob_writer;

/*
 * Opens or creates the store in dir: creates the folders, takes the lock
 * (PC_ERR_AGAIN when another process holds it), deletes every file in
 * DIR/tmp, and indexes the committed blobs by size and last use (the later
 * of atime and mtime). A file whose name is not a valid sha256 hex digest,
 * or that sits in the wrong prefix folder, is logged and ignored. Contents
 * are not re-hashed at open. When the existing blobs exceed max_bytes, the
 * least recently used ones are evicted at once. max_bytes 0 means no limit.
 * Returns PC_OK, PC_ERR_AGAIN, PC_ERR_IO, PC_ERR_NOMEM, or PC_ERR_LIMIT
 * when dir is too long for the paths below it.
 */
int blobstore_open(const char *dir, uint64_t max_bytes, struct blobstore **out);

/*
 * Closes the store and releases the lock. Every blob_ref and blob_writer
 * must have been released, committed or aborted first; leftovers are
 * logged and their memory is lost. NULL is a no-op.
 */
void blobstore_close(struct blobstore *bs);

/*
 * Opens the blob named by digest and pins it until blob_ref_release().
 * Marks it used for LRU order: in memory at once, and on disk as the file's
 * atime at most once per BLOBSTORE_ATIME_INTERVAL, so the order survives a
 * restart. Returns PC_OK, PC_ERR_INVALID for a malformed digest,
 * PC_ERR_UNSUPPORTED for a valid non-sha256 digest, PC_ERR_NOTFOUND,
 * PC_ERR_IO or PC_ERR_NOMEM.
 */
int blobstore_get(struct blobstore *bs, const char *digest,
    struct blob_ref **out);

/* Seconds between two on-disk atime updates of one blob by blobstore_get. */
#define BLOBSTORE_ATIME_INTERVAL 3600

/*
 * Looks a blob up without pinning it or marking it used. Returns PC_OK
 * with *size set (size may be NULL), PC_ERR_INVALID, PC_ERR_UNSUPPORTED or
 * PC_ERR_NOTFOUND.
 */
int blobstore_stat(struct blobstore *bs, const char *digest, uint64_t *size);

/*
 * Deletes a committed blob. Returns PC_OK, PC_ERR_AGAIN while it is pinned,
 * PC_ERR_NOTFOUND, PC_ERR_INVALID, PC_ERR_UNSUPPORTED or PC_ERR_IO (the
 * index entry is gone even then).
 */
int blobstore_remove(struct blobstore *bs, const char *digest);

/* An O_RDONLY descriptor of the blob, owned by ref: do not close it. */
int blob_ref_fd(const struct blob_ref *ref);
uint64_t blob_ref_size(const struct blob_ref *ref);
/* The "sha256:<hex>" digest of the blob, valid until release. */
const char *blob_ref_digest(const struct blob_ref *ref);

/* Unpins the blob and closes its descriptor. NULL is a no-op. */
void blob_ref_release(struct blob_ref *ref);

/*
 * Starts writing the blob named by digest into a new file in DIR/tmp.
 * expected_size is the size announced by the manifest or the upstream, or
 * -1 when unknown. A known size is reserved at once, evicting least
 * recently used unpinned blobs as needed. Another writer of the same digest
 * may run at the same time (see blob_writer_commit). Returns PC_OK,
 * PC_ERR_INVALID (malformed digest, or expected_size below -1),
 * PC_ERR_UNSUPPORTED (non-sha256 digest), PC_ERR_NOSPACE when room cannot
 * be made (the caller then streams through without caching), PC_ERR_IO or
 * PC_ERR_NOMEM.
 */
int blobstore_writer_new(struct blobstore *bs, const char *digest,
    int64_t expected_size, struct blob_writer **out);

/*
 * Appends len bytes and feeds them to the SHA-256. Returns PC_OK on
 * success and PC_ERR_LIMIT when the total would pass the expected size.
 * Returns PC_ERR_NOSPACE when the disk, a quota or the file size limit is
 * full (ENOSPC, EDQUOT, EFBIG), or when a writer of unknown size finds no
 * room under the byte limit. Any other failure is PC_ERR_IO. After any
 * error the writer is dead: later writes return the same error, and the
 * caller must abort it (or commit, which fails with that error). Part of
 * the failed write may have reached the file, and blob_writer_size()
 * counts it.
 */
int blob_writer_write(struct blob_writer *w, const void *data, size_t len);

/*
 * Opens a new O_RDONLY descriptor on the file being written, so a client
 * can stream the blob while it grows. The caller owns and closes it. It
 * stays valid after commit or abort because the inode lives until the last
 * descriptor closes. Only the first blob_writer_size() bytes are written.
 * Returns the descriptor, or -1 with errno set.
 */
int blob_writer_open_reader(struct blob_writer *w);

/* Bytes written to the file so far. */
uint64_t blob_writer_size(const struct blob_writer *w);

/* The digest the writer was created for. */
const char *blob_writer_digest(const struct blob_writer *w);

/*
 * Finishes the blob: checks the size against the expected size (when
 * known) and the SHA-256 against the digest, flushes the data with
 * fdatasync(2), and renames the file into place. If the same digest was
 * committed meanwhile, the new file is dropped and the existing blob is
 * used. On success returns PC_OK and, when ref_out is not NULL, a pinned
 * reference. Otherwise deletes the file and returns the writer's earlier
 * error, PC_ERR_TRUNCATED (fewer bytes than expected), PC_ERR_MISMATCH,
 * PC_ERR_NOSPACE, PC_ERR_IO or PC_ERR_NOMEM. Frees w in every case.
 * One exception: when the blob is in place but the reference cannot be
 * made (PC_ERR_NOMEM, or PC_ERR_IO from open), the blob stays committed
 * and *ref_out is NULL; blobstore_get() can retry.
 */
int blob_writer_commit(struct blob_writer *w, struct blob_ref **ref_out);

/*
 * Deletes the file being written, frees its reservation and w. NULL is a
 * no-op.
 */
void blob_writer_abort(struct blob_writer *w);

struct blobstore_stats {
	uint64_t blobs;       /* committed blobs in the index */
	uint64_t bytes;       /* their total size */
	uint64_t reserved;    /* bytes reserved by writers in progress */
	uint64_t max_bytes;   /* the byte limit, 0 for none */
	uint64_t pinned;      /* blobs with at least one live blob_ref */
	uint64_t writers;     /* writers in progress */
	uint64_t evictions;   /* blobs evicted to make room */
	uint64_t commits;     /* successful commits, including already present */
	uint64_t mismatches;  /* commits that failed the digest check */
	uint64_t aborts;      /* writers aborted, or failing commit otherwise */
};

/* Fills st with counters since open. */
void blobstore_stats(const struct blobstore *bs, struct blobstore_stats *st);

#endif
