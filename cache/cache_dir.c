#include "cache/cache_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"

/* Attempts at a fresh random temporary name before giving up. */
#define CACHE_TMP_NAME_ATTEMPTS 16

int
cache_errno_to_err(int errnum)
{
	if (errnum == ENOSPC || errnum == EDQUOT || errnum == EFBIG)
		return PC_ERR_NOSPACE;
	return PC_ERR_IO;
}

static int
make_one_dir(const char *path)
{
	struct stat st;
	char quoted[PATH_MAX + 8];

	if (mkdir(path, 0755) == 0)
		return PC_OK;
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return PC_OK;
	log_error("event=cache_mkdir_failed path=%s error=\"%s\"",
	    log_quote(quoted, sizeof(quoted), path), strerror(errno));
	return PC_ERR_IO;
}

int
cache_dir_make(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strnlen(path, sizeof(buf));
	int err;

	if (len == 0 || len >= sizeof(buf))
		return PC_ERR_LIMIT;
	memcpy(buf, path, len + 1);

	/* Create each parent in turn, skipping the leading slash. */
	for (size_t i = 1; i < len; i++) {
		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		err = make_one_dir(buf);
		buf[i] = '/';
		if (err != PC_OK)
			return err;
	}
	return make_one_dir(buf);
}

int
cache_dir_lock(const char *path, int *fd_out)
{
	char quoted[PATH_MAX + 8];
	int fd;

	*fd_out = -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_error("event=cache_lock_failed path=%s error=\"%s\"",
		    log_quote(quoted, sizeof(quoted), path), strerror(errno));
		return PC_ERR_IO;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int saved = errno;

		close(fd);
		if (saved == EWOULDBLOCK)
			return PC_ERR_AGAIN;
		log_error("event=cache_lock_failed path=%s error=\"%s\"",
		    log_quote(quoted, sizeof(quoted), path), strerror(saved));
		return PC_ERR_IO;
	}
	*fd_out = fd;
	return PC_OK;
}

int
cache_dir_empty(const char *path, size_t *removed)
{
	char quoted[PATH_MAX + 8];
	struct dirent *de;
	size_t count = 0;
	DIR *d;
	int dfd;
	int err = PC_OK;

	if (removed != NULL)
		*removed = 0;
	d = opendir(path);
	if (d == NULL) {
		log_error("event=cache_opendir_failed path=%s error=\"%s\"",
		    log_quote(quoted, sizeof(quoted), path), strerror(errno));
		return PC_ERR_IO;
	}
	dfd = dirfd(d);

	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0) {
			count++;
			continue;
		}
		/* EISDIR on Linux, EPERM elsewhere: a folder someone put here. */
		log_warn("event=cache_tmp_entry_kept dir=%s name=%s error=\"%s\"",
		    log_quote(quoted, sizeof(quoted), path), de->d_name,
		    strerror(errno));
		if (errno != EISDIR && errno != EPERM)
			err = PC_ERR_IO;
	}
	closedir(d);
	if (removed != NULL)
		*removed = count;
	return err;
}

int
cache_tmp_open(const char *tmp_dir, char *path_out, size_t path_size,
    int *fd_out)
{
	unsigned char rnd[8];
	int n;

	*fd_out = -1;
	for (int attempt = 0; attempt < CACHE_TMP_NAME_ATTEMPTS; attempt++) {
		int fd;

		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return PC_ERR_IO;
		n = snprintf(path_out, path_size,
		    "%s/%02x%02x%02x%02x%02x%02x%02x%02x", tmp_dir, rnd[0],
		    rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
		if (n < 0 || (size_t)n >= path_size)
			return PC_ERR_LIMIT;

		fd = open(path_out, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0) {
			*fd_out = fd;
			return PC_OK;
		}
		if (errno != EEXIST)
			return cache_errno_to_err(errno);
	}
	return PC_ERR_IO;
}

int
cache_write_full(int fd, const void *data, size_t len, size_t *written)
{
	const char *p = data;
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (written != NULL)
				*written = done;
			return cache_errno_to_err(errno);
		}
		done += (size_t)n;
	}
	if (written != NULL)
		*written = done;
	return PC_OK;
}

int
cache_file_replace(const char *tmp_dir, const char *final_path,
    const struct cache_part *parts, size_t nparts)
{
	char tmp_path[PATH_MAX];
	int fd = -1;
	int err;

	err = cache_tmp_open(tmp_dir, tmp_path, sizeof(tmp_path), &fd);
	if (err != PC_OK)
		return err;

	for (size_t i = 0; i < nparts; i++) {
		err = cache_write_full(fd, parts[i].data, parts[i].len, NULL);
		if (err != PC_OK)
			goto out;
	}
	if (fdatasync(fd) != 0) {
		err = cache_errno_to_err(errno);
		goto out;
	}
	if (rename(tmp_path, final_path) != 0) {
		err = cache_errno_to_err(errno);
		goto out;
	}
	err = PC_OK;
out:
	close(fd);
	if (err != PC_OK)
		unlink(tmp_path);
	return err;
}

char *
cache_path_join(const char *dir, const char *name)
{
	size_t len = strlen(dir) + 1 + strlen(name) + 1;
	char *path = pc_malloc(len);

	if (path != NULL)
		snprintf(path, len, "%s/%s", dir, name);
	return path;
}
