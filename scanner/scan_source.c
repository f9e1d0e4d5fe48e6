#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "scanner/layer_scan.h"

/*
 * A complete file is read with pread() from offset 0 without locking. A
 * growing file adds a mutex and a condition variable: the writer publishes
 * how many bytes are on disk, and the reader never reads past that count.
 */
struct scan_source {
	int fd;
	uint64_t offset;
	bool growing;

	pthread_mutex_t lock;
	pthread_cond_t more;
	uint64_t available;
	bool finished;
	int finish_err;
};

static struct scan_source *
source_new(int fd, bool growing)
{
	struct scan_source *s = pc_calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->fd = fd;
	s->growing = growing;
	if (growing) {
		if (pthread_mutex_init(&s->lock, NULL) != 0) {
			pc_free(s);
			return NULL;
		}
		if (pthread_cond_init(&s->more, NULL) != 0) {
			pthread_mutex_destroy(&s->lock);
			pc_free(s);
			return NULL;
		}
	}
	return s;
}

struct scan_source *
scan_source_fd_new(int fd)
{
	return source_new(fd, false);
}

struct scan_source *
scan_source_growing_new(int fd)
{
	return source_new(fd, true);
}

void
scan_source_growing_update(struct scan_source *s, uint64_t bytes_available)
{
	pthread_mutex_lock(&s->lock);
	if (bytes_available > s->available && !s->finished) {
		s->available = bytes_available;
		pthread_cond_signal(&s->more);
	}
	pthread_mutex_unlock(&s->lock);
}

void
scan_source_growing_finish(struct scan_source *s, int err)
{
	pthread_mutex_lock(&s->lock);
	if (!s->finished) {
		s->finished = true;
		s->finish_err = err;
		pthread_cond_signal(&s->more);
	}
	pthread_mutex_unlock(&s->lock);
}

/* Waits until bytes past the read offset exist or the stream ended. */
static int
growing_wait(struct scan_source *s, size_t len, size_t *allowed)
{
	int err = PC_OK;

	pthread_mutex_lock(&s->lock);
	while (s->available <= s->offset && !s->finished)
		pthread_cond_wait(&s->more, &s->lock);
	if (s->finished && s->finish_err != PC_OK) {
		err = s->finish_err;
	} else {
		uint64_t left = s->available - s->offset;

		*allowed = left < len ? (size_t)left : len;
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

int
scan_source_read(struct scan_source *s, void *buf, size_t len, size_t *got)
{
	size_t allowed = len;
	ssize_t n;
	int err;

	*got = 0;
	if (s->growing) {
		err = growing_wait(s, len, &allowed);
		if (err != PC_OK)
			return err;
		if (allowed == 0)
			return PC_OK;
	}

	do {
		n = pread(s->fd, buf, allowed, (off_t)s->offset);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return PC_ERR_IO;
	/* A growing file shorter than announced was cut by its writer. */
	if (s->growing && n == 0)
		return PC_ERR_TRUNCATED;
	s->offset += (uint64_t)n;
	*got = (size_t)n;
	return PC_OK;
}

void
scan_source_free(struct scan_source *s)
{
	if (s == NULL)
		return;
	if (s->growing) {
		pthread_cond_destroy(&s->more);
		pthread_mutex_destroy(&s->lock);
	}
	pc_free(s);
}
