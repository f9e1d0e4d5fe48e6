#ifndef PORTCULLIS_CACHE_CACHE_DIR_H
#define PORTCULLIS_CACHE_CACHE_DIR_H

#include <stddef.h>

/*
 * File system helpers shared by the blob store and the manifest cache:
 * folder creation, the exclusive folder lock, temporary files and atomic
 * replacement. Internal to cache/. Each returns an enum pc_err.
 */

/* Returns "dir/name" in a new string (pc_free it), NULL when out of memory. */
char *cache_path_join(const char *dir, const char *name);

/* Creates path and its missing parents with mode 0755, like mkdir -p. */
int cache_dir_make(const char *path);

/*
 * Opens or creates the lock file path and takes an exclusive flock(2) on
 * it without waiting. Returns PC_OK with *fd_out set (closing it releases
 * the lock), PC_ERR_AGAIN when another open file description holds the
 * lock (another process, or the same store opened twice), or PC_ERR_IO.
 */
int cache_dir_lock(const char *path, int *fd_out);

/*
 * Deletes every entry of the folder path except subfolders, which are
 * logged and left alone. Sets *removed (may be NULL) to the count.
 * Returns PC_OK or PC_ERR_IO.
 */
int cache_dir_empty(const char *path, size_t *removed);

/*
 * Creates a new file with a random name in tmp_dir (O_RDWR, O_EXCL, mode
 * 0644 before umask) and writes its path into path_out. Returns PC_OK with
 * *fd_out set, PC_ERR_LIMIT when the path does not fit in path_size, or
 * PC_ERR_NOSPACE / PC_ERR_IO.
 */
int cache_tmp_open(const char *tmp_dir, char *path_out, size_t path_size,
    int *fd_out);

/*
 * Writes all len bytes, retrying short writes and EINTR. Sets *written
 * (may be NULL) to the bytes that reached the file, also on failure.
 * Returns PC_OK or the error of cache_errno_to_err().
 */
int cache_write_full(int fd, const void *data, size_t len, size_t *written);

/* Maps ENOSPC, EDQUOT and EFBIG to PC_ERR_NOSPACE, others to PC_ERR_IO. */
int cache_errno_to_err(int errnum);

/*
 * Replaces final_path with a file holding the concatenation of the parts:
 * writes a temporary file in tmp_dir, flushes it with fdatasync(2) and
 * renames it over final_path, so readers see the old or the new content
 * and never a mix. Returns PC_OK, PC_ERR_NOSPACE, PC_ERR_IO or
 * PC_ERR_LIMIT (path too long); the temporary file is gone on error.
 */
struct cache_part {
	const void *data;
	size_t len;
};
int cache_file_replace(const char *tmp_dir, const char *final_path,
    const struct cache_part *parts, size_t nparts);

#endif
