/*
 * Blobs. A cached blob is served from its file (sendfile on plain TCP).
 * A miss starts one upstream GET per digest (an "inflight"), however many
 * clients ask at once: every client gets its response headers as soon as
 * the upstream's arrive and streams from the growing temporary file. The
 * last byte of a full-blob stream is held back until the digest is
 * verified and the blob committed. So a mismatch or a cut upstream aborts
 * every stream before its end, and no client takes a bad blob for a whole
 * one.
 *
 * When the blob store has no room (or the disk fills up mid-way) the
 * inflight streams through without caching: bytes are kept in memory
 * until every client has read them, with the upstream paused while the
 * buffer is full.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cache/blobstore.h"
#include "common/alloc.h"
#include "common/digest.h"
#include "common/error.h"
#include "common/log.h"
#include <event2/event.h>

#include "proxy/auth.h"
#include "proxy/gate.h"
#include "proxy/registry_internal.h"
#include "proxy/upstream.h"

/* Bytes buffered in memory for clients of a blob that is not cached. */
#define PASSTHROUGH_MAX_BUFFER (8u << 20)
/* Size of one memory chunk of a passthrough stream. */
#define PASSTHROUGH_CHUNK (256u << 10)

enum inflight_state {
	INFLIGHT_WAIT_HEADERS,
	INFLIGHT_STREAMING,
	INFLIGHT_COMPLETE,
	INFLIGHT_FAILED,
};

struct mem_chunk {
	struct mem_chunk *next;
	uint64_t offset;    /* blob offset of data[0] */
	size_t len;
	char data[PASSTHROUGH_CHUNK];
};

struct blob_stream;

/* A non-HTTP consumer of a blob: the gate scanning it as it arrives. */
struct registry_prefetch {
	struct registry_prefetch *next;
	struct registry *reg;
	struct inflight *in;          /* NULL once done or for a cached blob */
	struct registry_prefetch_callbacks cb;
	void *arg;
	bool started;
	struct event *deferred;       /* cached blobs report from the loop */
	int cached_fd;
	uint64_t cached_size;
};

struct inflight {
	struct inflight *next;
	struct registry *reg;
	char digest[DIGEST_MAX_LEN + 1];
	struct route route;
	enum inflight_state state;
	struct upstream_fetch *fetch;
	struct blob_writer *writer;
	int64_t size;              /* from Content-Length; -1 unknown */
	uint64_t written;          /* bytes received from upstream */
	uint64_t file_bytes;       /* bytes of them in the temporary file */
	int upstream_status;
	char *retry_after;
	char *error;
	struct blob_stream *streams;   /* clients attached */
	/* Passthrough, when the blob store cannot take the blob. */
	bool passthrough;
	bool paused;
	struct sha256_stream *sha;
	struct mem_chunk *chunks;
	struct mem_chunk *last_chunk;
	size_t buffered;
	int busy;                  /* > 0 while inside a callback: never free */
	struct registry_prefetch *watchers;
};

/* One client's response body from a cached or in-flight blob. */
struct blob_stream {
	struct blob_stream *next;
	struct blob_stream *prev;
	struct blob_stream *all_next;  /* every open stream, for gate wake-ups */
	struct blob_stream *all_prev;
	struct registry *reg;
	struct http_exchange *x;
	struct inflight *in;       /* NULL for a cached blob */
	struct blob_ref *ref;      /* cached blob */
	int fd;                    /* reader fd, -1 when not open */
	uint64_t off;              /* next blob offset to send */
	uint64_t end;              /* one past the last offset to send */
	uint64_t size;             /* whole blob size */
	bool waiting;              /* returned HTTP_BODY_AGAIN */
	bool pending;              /* attached before the upstream headers */
	bool head_only;
	bool coalesced;            /* joined a download another client started */
	struct auth_result *held;  /* blob-stream slot of the access control */
	char range[64];            /* the client's Range header */
};

static void inflight_release_if_done(struct inflight *in);
static void inflight_start_streams(struct inflight *in);

static struct inflight *
inflight_find(struct registry *reg, const char *digest)
{
	for (struct inflight *in = reg->inflight; in != NULL; in = in->next) {
		if (strcmp(in->digest, digest) == 0 &&
		    (in->state == INFLIGHT_WAIT_HEADERS || in->state == INFLIGHT_STREAMING))
			return in;
	}
	return NULL;
}

static void
inflight_unlink(struct inflight *in)
{
	struct inflight **pp = &in->reg->inflight;

	while (*pp != NULL && *pp != in)
		pp = &(*pp)->next;
	if (*pp == in)
		*pp = in->next;
}

static void
inflight_free(struct inflight *in)
{
	struct mem_chunk *c = in->chunks;

	inflight_unlink(in);
	in->reg->stats.inflight_blobs--;
	if (in->fetch != NULL)
		upstream_fetch_cancel(in->fetch);
	if (in->writer != NULL)
		blob_writer_abort(in->writer);
	while (c != NULL) {
		struct mem_chunk *next = c->next;

		pc_free(c);
		c = next;
	}
	sha256_stream_free(in->sha);
	pc_free(in->retry_after);
	pc_free(in->error);
	pc_free(in);
}

static void
inflight_wake(struct inflight *in)
{
	for (struct blob_stream *s = in->streams; s != NULL; s = s->next) {
		if (s->waiting) {
			s->waiting = false;
			http_exchange_resume(s->x);
		}
	}
}

static void
inflight_fail(struct inflight *in, const char *why)
{
	if (in->state == INFLIGHT_FAILED)
		return;
	log_warn("event=blob_fetch_failed digest=%s name=%s received=%llu "
	    "reason=\"%s\"", in->digest, in->route.name,
	    (unsigned long long)in->written, why);
	in->state = INFLIGHT_FAILED;
	in->error = pc_strdup(why);
	in->reg->stats.upstream_errors++;
	if (in->writer != NULL) {
		blob_writer_abort(in->writer);
		in->writer = NULL;
	}
	inflight_start_streams(in);
	inflight_wake(in);
}


/* ---- prefetch watchers ---- */

static void
watcher_unlink(struct registry_prefetch *w)
{
	struct registry_prefetch **pp;

	if (w->in == NULL)
		return;
	pp = &w->in->watchers;
	while (*pp != NULL && *pp != w)
		pp = &(*pp)->next;
	if (*pp == w)
		*pp = w->next;
	w->in = NULL;
}

static void
watchers_done(struct inflight *in, int err)
{
	in->busy++;
	while (in->watchers != NULL) {
		struct registry_prefetch *w = in->watchers;

		watcher_unlink(w);
		w->cb.on_done(w->arg, err);
		pc_free(w);
	}
	in->busy--;
}

static void
watchers_start(struct inflight *in)
{
	in->busy++;
	/* Look the list up anew each time: a callback may cancel watchers. */
	for (;;) {
		struct registry_prefetch *w = in->watchers;
		int fd;

		while (w != NULL && w->started)
			w = w->next;
		if (w == NULL)
			break;
		w->started = true;
		fd = in->writer != NULL ? blob_writer_open_reader(in->writer) : -1;
		if (fd < 0) {
			watcher_unlink(w);
			w->cb.on_done(w->arg, in->passthrough ? PC_ERR_NOSPACE : PC_ERR_IO);
			pc_free(w);
			continue;
		}
		w->cb.on_start(w->arg, fd, in->size);
		if (in->file_bytes > 0 && w->in == in)
			w->cb.on_progress(w->arg, in->file_bytes);
	}
	in->busy--;
}

static void
watchers_progress(struct inflight *in)
{
	for (struct registry_prefetch *w = in->watchers; w != NULL; w = w->next) {
		if (w->started)
			w->cb.on_progress(w->arg, in->file_bytes);
	}
}

/* ---- body source of one stream ---- */

static const char *
stream_digest(const struct blob_stream *s)
{
	return s->in != NULL ? s->in->digest : blob_ref_digest(s->ref);
}

/*
 * One past the last offset s may send now, or UINT64_MAX when the stream
 * must be aborted because only refused images need the blob.
 */
static uint64_t
stream_ready_end(const struct blob_stream *s)
{
	const struct inflight *in = s->in;
	struct registry *reg = s->reg;
	uint64_t ready = s->end;
	int hold = 0;

	if (in != NULL && in->state != INFLIGHT_COMPLETE) {
		ready = in->written;
		/* Hold the blob's last byte until its digest is verified. */
		if (in->size > 0 && ready >= (uint64_t)in->size)
			ready = (uint64_t)in->size - 1;
	}
	if (reg->gate != NULL && reg->gate_ops->blob_hold != NULL && s->size > 0 &&
	    s->end == s->size && ready >= s->size - 1)
		hold = reg->gate_ops->blob_hold(reg->gate, stream_digest(s));
	if (hold < 0)
		return UINT64_MAX;
	if (hold > 0 && ready > s->size - 1)
		ready = s->size - 1;
	return ready < s->end ? ready : s->end;
}

/* Copies passthrough bytes at s->off from memory. */
static ssize_t
stream_read_memory(struct blob_stream *s, char *buf, size_t len)
{
	for (struct mem_chunk *c = s->in->chunks; c != NULL; c = c->next) {
		if (s->off >= c->offset && s->off < c->offset + c->len) {
			size_t at = (size_t)(s->off - c->offset);
			size_t n = c->len - at;

			if (n > len)
				n = len;
			memcpy(buf, c->data + at, n);
			return (ssize_t)n;
		}
	}
	return HTTP_BODY_ERROR;  /* inflight_trim keeps every unread chunk */
}

static void inflight_trim(struct inflight *in);

static ssize_t
blob_stream_read(void *ctx, char *buf, size_t len)
{
	struct blob_stream *s = ctx;
	uint64_t ready;
	ssize_t n;

	if (s->off >= s->end)
		return 0;
	if (s->in != NULL && s->in->state == INFLIGHT_FAILED)
		return HTTP_BODY_ERROR;
	ready = stream_ready_end(s);
	if (ready == UINT64_MAX) {
		log_warn("event=blob_stream_aborted digest=%s reason=\"denied by policy\"",
		    stream_digest(s));
		return HTTP_BODY_ERROR;
	}
	if (s->off >= ready) {
		s->waiting = true;
		return HTTP_BODY_AGAIN;
	}
	if (len > ready - s->off)
		len = (size_t)(ready - s->off);

	if (s->in != NULL && s->off >= s->in->file_bytes) {
		n = stream_read_memory(s, buf, len);
	} else {
		if (s->in != NULL && len > s->in->file_bytes - s->off)
			len = (size_t)(s->in->file_bytes - s->off);
		do {
			n = pread(s->fd, buf, len, (off_t)s->off);
		} while (n < 0 && errno == EINTR);
		if (n <= 0) {
			log_warn("event=blob_read_failed digest=%s error=%s",
			    s->in ? s->in->digest : blob_ref_digest(s->ref),
			    n == 0 ? "unexpected end of file" : strerror(errno));
			return HTTP_BODY_ERROR;
		}
	}
	if (n > 0) {
		s->off += (uint64_t)n;
		if (s->in != NULL) {
			s->reg->stats.bytes_from_upstream += (uint64_t)n;
			if (s->in->passthrough)
				inflight_trim(s->in);
		} else {
			s->reg->stats.bytes_from_cache += (uint64_t)n;
		}
	}
	return n;
}

static int
blob_stream_file(void *ctx, size_t max, int *fd, off_t *offset, size_t *length)
{
	struct blob_stream *s = ctx;
	uint64_t ready;
	uint64_t n;

	if (s->off >= s->end || s->fd < 0)
		return 0;
	if (s->in != NULL && (s->in->state == INFLIGHT_FAILED || s->off >= s->in->file_bytes))
		return 0;  /* read() reports the failure or serves memory */
	ready = stream_ready_end(s);
	if (ready == UINT64_MAX || ready <= s->off)
		return 0;  /* read() reports the abort or the wait */
	if (s->in != NULL && ready > s->in->file_bytes)
		ready = s->in->file_bytes;
	n = ready - s->off;
	if (n > max)
		n = max;
	*fd = s->fd;
	*offset = (off_t)s->off;
	*length = (size_t)n;
	if (s->in != NULL)
		s->reg->stats.bytes_from_upstream += n;
	else
		s->reg->stats.bytes_from_cache += n;
	s->off += n;
	return 1;
}

static void
blob_stream_free(void *ctx)
{
	struct blob_stream *s = ctx;
	struct inflight *in = s->in;

	if (s->all_prev != NULL)
		s->all_prev->all_next = s->all_next;
	else if (s->reg->streams == s)
		s->reg->streams = s->all_next;
	if (s->all_next != NULL)
		s->all_next->all_prev = s->all_prev;
	if (in != NULL) {
		if (s->prev != NULL)
			s->prev->next = s->next;
		else
			in->streams = s->next;
		if (s->next != NULL)
			s->next->prev = s->prev;
	}
	if (s->held != NULL) {
		auth_stream_release(s->reg->auth, s->held);
		pc_free(s->held);
	}
	if (s->fd >= 0 && s->ref == NULL)
		close(s->fd);
	if (s->ref != NULL)
		blob_ref_release(s->ref);
	pc_free(s);
	if (in != NULL) {
		if (in->passthrough)
			inflight_trim(in);
		inflight_release_if_done(in);
	}
}

static const struct http_body_ops blob_stream_ops = {
	.read = blob_stream_read,
	.file = blob_stream_file,
	.free = blob_stream_free,
};

/* Sends the head of a blob response for size bytes and starts s. */
static void
stream_respond(struct blob_stream *s, uint64_t size, const char *cache)
{
	struct http_exchange *x = s->x;
	char etag[DIGEST_MAX_LEN + 3];
	char content_range[96];
	uint64_t start = 0;
	uint64_t last = size ? size - 1 : 0;
	const char *digest = s->in != NULL ? s->in->digest : blob_ref_digest(s->ref);
	int status = registry_parse_range(s->range[0] ? s->range : NULL, size,
	    &start, &last);

	http_exchange_log(x)->cache = cache;
	if (s->in != NULL)
		http_exchange_log(x)->upstream_status = s->in->upstream_status;
	registry_common_headers(x);
	snprintf(etag, sizeof(etag), "\"%s\"", digest);
	http_add_header(x, "Docker-Content-Digest", digest);
	http_add_header(x, "ETag", etag);
	http_add_header(x, "Accept-Ranges", "bytes");
	http_add_header(x, "Cache-Control", "max-age=31536000");
	if (status == 416) {
		snprintf(content_range, sizeof(content_range), "bytes */%llu",
		    (unsigned long long)size);
		http_add_header(x, "Content-Range", content_range);
		blob_stream_free(s);
		registry_error(x, 416, "BLOB_UNKNOWN", "requested range not satisfiable");
		return;
	}
	http_add_header(x, "Content-Type", "application/octet-stream");
	s->size = size;
	if (status == 206) {
		snprintf(content_range, sizeof(content_range), "bytes %llu-%llu/%llu",
		    (unsigned long long)start, (unsigned long long)last,
		    (unsigned long long)size);
		http_add_header(x, "Content-Range", content_range);
		s->off = start;
		s->end = last + 1;
	} else {
		s->off = 0;
		s->end = size;
	}
	http_respond(x, status, (int64_t)(s->end - s->off), &blob_stream_ops, s,
	    NULL, NULL);
}

/* ---- the inflight ---- */

static void
inflight_release_if_done(struct inflight *in)
{
	if (in->streams != NULL || in->watchers != NULL || in->busy > 0)
		return;
	if (in->state == INFLIGHT_COMPLETE || in->state == INFLIGHT_FAILED)
		inflight_free(in);
}

/* Responds to every client that attached before the upstream headers. */
static void
inflight_start_streams(struct inflight *in)
{
	struct blob_stream *s = in->streams;

	in->busy++;
	while (s != NULL) {
		struct blob_stream *next = s->next;

		if (s->pending) {
			s->pending = false;
			if (in->state == INFLIGHT_FAILED) {
				struct http_exchange *x = s->x;
				int status = in->upstream_status == 200 ? 0 :
				    in->upstream_status;

				blob_stream_free(s);
				registry_upstream_error(x, status, in->retry_after,
				    "BLOB_UNKNOWN", "the blob");
			} else if (in->size < 0 && in->state != INFLIGHT_COMPLETE) {
				s->pending = true;  /* size known only at the end */
			} else {
				uint64_t size = in->size >= 0 ? (uint64_t)in->size : in->written;

				if (s->fd < 0 && !in->passthrough && in->writer != NULL)
					s->fd = blob_writer_open_reader(in->writer);
				stream_respond(s, size, s->coalesced ? "coalesced" : "miss");
			}
		}
		s = next;
	}
	in->busy--;
}

static int
inflight_passthrough_start(struct inflight *in)
{
	int err = sha256_stream_new(&in->sha);

	if (err != PC_OK)
		return err;
	if (in->file_bytes > 0) {
		/* The disk filled up mid-way: hash what the file already holds. */
		int fd = blob_writer_open_reader(in->writer);
		char buf[65536];
		uint64_t off = 0;

		while (fd >= 0 && off < in->file_bytes) {
			ssize_t n = pread(fd, buf, sizeof(buf), (off_t)off);

			if (n <= 0)
				break;
			sha256_stream_update(in->sha, buf, (size_t)n);
			off += (uint64_t)n;
		}
		if (fd >= 0)
			close(fd);
		if (off != in->file_bytes)
			return PC_ERR_IO;
	}
	if (in->writer != NULL) {
		/* Streams keep their open reader fds on the unlinked file. */
		blob_writer_abort(in->writer);
		in->writer = NULL;
	}
	in->passthrough = true;
	in->reg->stats.passthrough++;
	watchers_done(in, PC_ERR_NOSPACE);
	log_warn("event=blob_passthrough digest=%s reason=\"no room in the blob "
	    "store\" cached_bytes=%llu", in->digest,
	    (unsigned long long)in->file_bytes);
	return PC_OK;
}

static int
inflight_buffer(struct inflight *in, const char *data, size_t len)
{
	while (len > 0) {
		struct mem_chunk *c = in->last_chunk;
		size_t n;

		if (c == NULL || c->len == PASSTHROUGH_CHUNK) {
			c = pc_malloc(sizeof(*c));
			if (c == NULL)
				return PC_ERR_NOMEM;
			c->next = NULL;
			c->offset = in->written;
			c->len = 0;
			if (in->last_chunk != NULL)
				in->last_chunk->next = c;
			else
				in->chunks = c;
			in->last_chunk = c;
		}
		n = PASSTHROUGH_CHUNK - c->len;
		if (n > len)
			n = len;
		memcpy(c->data + c->len, data, n);
		c->len += n;
		data += n;
		len -= n;
		in->written += n;
		in->buffered += n;
	}
	return PC_OK;
}

/* Drops memory chunks every stream has passed; resumes a paused upstream. */
static void
inflight_trim(struct inflight *in)
{
	uint64_t low = in->written;

	for (struct blob_stream *s = in->streams; s != NULL; s = s->next) {
		if (!s->pending && s->off < low)
			low = s->off;
		if (s->pending)
			low = 0;
	}
	while (in->chunks != NULL &&
	    in->chunks->offset + in->chunks->len <= low &&
	    in->chunks != in->last_chunk) {
		struct mem_chunk *c = in->chunks;

		in->chunks = c->next;
		in->buffered -= c->len;
		pc_free(c);
	}
	if (in->paused && in->buffered < PASSTHROUGH_MAX_BUFFER / 2 &&
	    in->fetch != NULL) {
		in->paused = false;
		upstream_fetch_resume(in->fetch);
	}
}

static int
inflight_on_headers(void *arg, const struct upstream_response *r)
{
	struct inflight *in = arg;
	int err;

	in->upstream_status = r->status;
	if (r->retry_after != NULL)
		in->retry_after = pc_strdup(r->retry_after);
	if (r->status != 200) {
		in->state = INFLIGHT_FAILED;
		in->reg->stats.upstream_errors++;
		inflight_start_streams(in);
		watchers_done(in, r->status == 404 ? PC_ERR_NOTFOUND : PC_ERR_UPSTREAM);
		return -1;
	}
	in->size = r->content_length;
	in->state = INFLIGHT_STREAMING;
	err = blobstore_writer_new(in->reg->blobs, in->digest, in->size, &in->writer);
	if (err == PC_ERR_NOSPACE || err == PC_ERR_IO) {
		in->writer = NULL;
		if (inflight_passthrough_start(in) != PC_OK)
			return -1;
	} else if (err != PC_OK) {
		log_warn("event=blob_writer_failed digest=%s error=%s", in->digest,
		    pc_strerror(err));
		return -1;
	}
	inflight_start_streams(in);
	watchers_start(in);
	return 0;
}

static int
inflight_on_data(void *arg, const void *data, size_t len)
{
	struct inflight *in = arg;
	int err;

	if (in->size >= 0 && in->written + len > (uint64_t)in->size) {
		inflight_fail(in, "upstream sent more bytes than its Content-Length");
		return -1;
	}
	if (!in->passthrough) {
		err = blob_writer_write(in->writer, data, len);
		if (err == PC_OK) {
			in->written += len;
			in->file_bytes = in->written;
			inflight_wake(in);
			watchers_progress(in);
			return 0;
		}
		if (err != PC_ERR_NOSPACE || inflight_passthrough_start(in) != PC_OK) {
			inflight_fail(in, pc_strerror(err));
			return -1;
		}
	}
	sha256_stream_update(in->sha, data, len);
	if (inflight_buffer(in, data, len) != PC_OK) {
		inflight_fail(in, "out of memory buffering a blob");
		return -1;
	}
	inflight_wake(in);
	if (in->buffered >= PASSTHROUGH_MAX_BUFFER) {
		in->paused = true;
		return UPSTREAM_PAUSE;
	}
	return 0;
}

static void
inflight_complete(struct inflight *in)
{
	char computed[DIGEST_SHA256_BUFSIZE];
	int err;

	if (in->size >= 0 && in->written != (uint64_t)in->size) {
		inflight_fail(in, "upstream body shorter than its Content-Length");
		return;
	}
	if (in->passthrough) {
		sha256_stream_final(in->sha, computed);
		if (strcmp(computed, in->digest) != 0) {
			in->reg->stats.digest_mismatches++;
			inflight_fail(in, "blob does not match its digest");
			return;
		}
	} else {
		err = blob_writer_commit(in->writer, NULL);
		in->writer = NULL;
		if (err == PC_ERR_MISMATCH) {
			in->reg->stats.digest_mismatches++;
			inflight_fail(in, "blob does not match its digest");
			return;
		}
		if (err != PC_OK) {
			inflight_fail(in, pc_strerror(err));
			return;
		}
	}
	if (in->size < 0)
		in->size = (int64_t)in->written;
	in->state = INFLIGHT_COMPLETE;
	watchers_done(in, PC_OK);
	log_debug("event=blob_cached digest=%s bytes=%llu passthrough=%s",
	    in->digest, (unsigned long long)in->written,
	    in->passthrough ? "yes" : "no");
	inflight_start_streams(in);
	inflight_wake(in);
}

static void
inflight_on_done(void *arg, int err, const struct upstream_response *r,
    const char *errmsg)
{
	struct inflight *in = arg;

	in->fetch = NULL;
	in->busy++;
	if (in->state == INFLIGHT_FAILED) {
		inflight_start_streams(in);
	} else if (err == PC_OK) {
		inflight_complete(in);
	} else {
		inflight_fail(in, errmsg != NULL ? errmsg : pc_strerror(err));
	}
	in->busy--;
	inflight_release_if_done(in);
}

static const struct upstream_callbacks inflight_callbacks = {
	.on_headers = inflight_on_headers,
	.on_data = inflight_on_data,
	.on_done = inflight_on_done,
};

/* Fills req for a blob of r; path and scope are the caller's buffers. */
static void
blob_request(const struct route *r, const char *method, char *path,
    size_t pathlen, char *scope, size_t scopelen, struct upstream_request *req)
{
	snprintf(path, pathlen, "/v2/%s/blobs/%s", r->name, r->reference);
	registry_scope(r, scope, scopelen);
	req->method = method;
	req->path = path;
	req->scope = scope;
	req->headers = NULL;
	req->n_headers = 0;
}

static struct inflight *
inflight_start(struct registry *reg, const struct route *r)
{
	struct inflight *in = pc_calloc(1, sizeof(*in));
	struct upstream_request req;
	char path[600];
	char scope[400];

	if (in == NULL)
		return NULL;
	in->reg = reg;
	in->route = *r;
	in->size = -1;
	snprintf(in->digest, sizeof(in->digest), "%s", r->reference);
	blob_request(r, "GET", path, sizeof(path), scope, sizeof(scope), &req);
	if (upstream_fetch(reg->upstreams[r->upstream].client, &req,
	    &inflight_callbacks, in, &in->fetch) != PC_OK) {
		pc_free(in);
		return NULL;
	}
	in->next = reg->inflight;
	reg->inflight = in;
	reg->stats.inflight_blobs++;
	return in;
}

void
registry_inflight_cancel_all(struct registry *reg)
{
	while (reg->inflight != NULL) {
		struct inflight *in = reg->inflight;

		/* Streams are gone with their exchanges before this runs. */
		in->streams = NULL;
		inflight_free(in);
	}
}

/* ---- HEAD of an uncached blob: relayed from an upstream HEAD ---- */

struct blob_head {
	struct registry *reg;
	struct http_exchange *x;
	struct upstream_fetch *fetch;
	char digest[DIGEST_MAX_LEN + 1];
};

static void
blob_head_abort(struct http_exchange *x, void *arg)
{
	struct blob_head *h = arg;

	if (h->fetch != NULL)
		upstream_fetch_cancel(h->fetch);
	pc_free(h);
}

static void
blob_head_done(void *arg, int err, const struct upstream_response *r,
    const char *errmsg)
{
	struct blob_head *h = arg;
	struct http_exchange *x = h->x;
	char etag[DIGEST_MAX_LEN + 3];

	h->fetch = NULL;
	http_exchange_on_abort(x, NULL, NULL);
	http_exchange_log(x)->cache = "miss";
	if (err != PC_OK || r == NULL) {
		registry_upstream_error(x, 0, NULL, "BLOB_UNKNOWN", "the blob");
	} else if (r->status == 200 && r->content_length >= 0) {
		http_exchange_log(x)->upstream_status = 200;
		registry_common_headers(x);
		snprintf(etag, sizeof(etag), "\"%s\"", h->digest);
		http_add_header(x, "Docker-Content-Digest", h->digest);
		http_add_header(x, "ETag", etag);
		http_add_header(x, "Accept-Ranges", "bytes");
		http_add_header(x, "Content-Type", "application/octet-stream");
		http_respond(x, 200, r->content_length, NULL, NULL, NULL, NULL);
	} else {
		registry_upstream_error(x, r->status == 200 ? 0 : r->status,
		    r->retry_after, "BLOB_UNKNOWN", "the blob");
	}
	pc_free(h);
}

static const struct upstream_callbacks blob_head_callbacks = {
	.on_done = blob_head_done,
};

static void
blob_head_upstream(struct registry *reg, struct http_exchange *x,
    const struct route *r)
{
	struct blob_head *h = pc_calloc(1, sizeof(*h));
	struct upstream_request req;
	char path[600];
	char scope[400];

	if (h == NULL) {
		registry_error(x, 500, "UNKNOWN", "out of memory");
		return;
	}
	h->reg = reg;
	h->x = x;
	snprintf(h->digest, sizeof(h->digest), "%s", r->reference);
	blob_request(r, "HEAD", path, sizeof(path), scope, sizeof(scope), &req);
	if (upstream_fetch(reg->upstreams[r->upstream].client, &req,
	    &blob_head_callbacks, h, &h->fetch) != PC_OK) {
		pc_free(h);
		registry_error(x, 500, "UNKNOWN", "cannot start the upstream request");
		return;
	}
	http_exchange_on_abort(x, blob_head_abort, h);
}

/* ---- entry point ---- */

static struct blob_stream *
stream_new(struct registry *reg, struct http_exchange *x)
{
	struct blob_stream *s = pc_calloc(1, sizeof(*s));
	const char *range = http_request_header(http_exchange_request(x), "range");

	if (s == NULL)
		return NULL;
	s->reg = reg;
	s->x = x;
	s->fd = -1;
	s->head_only = strcmp(http_exchange_request(x)->method, "HEAD") == 0;
	if (range != NULL)
		snprintf(s->range, sizeof(s->range), "%s", range);
	s->all_next = reg->streams;
	if (reg->streams != NULL)
		reg->streams->all_prev = s;
	reg->streams = s;
	return s;
}

static void
stream_abort_pending(struct http_exchange *x, void *arg)
{
	/* The client left before the upstream headers arrived. */
	blob_stream_free(arg);
}

/* Gives the access-control slot back when no stream takes it. */
static void
held_release(struct registry *reg, struct auth_result *held)
{
	if (held != NULL) {
		auth_stream_release(reg->auth, held);
		pc_free(held);
	}
}

void
registry_handle_blob(struct registry *reg, struct http_exchange *x,
    const struct route *r, struct auth_result *held)
{
	struct blob_ref *ref = NULL;
	struct blob_stream *s;
	struct inflight *in;
	int err = blobstore_get(reg->blobs, r->reference, &ref);

	if (err == PC_OK) {
		s = stream_new(reg, x);
		if (s == NULL) {
			blob_ref_release(ref);
			held_release(reg, held);
			registry_error(x, 500, "UNKNOWN", "out of memory");
			return;
		}
		s->held = held;
		reg->stats.blob_hits++;
		s->ref = ref;
		s->fd = blob_ref_fd(ref);
		stream_respond(s, blob_ref_size(ref), "hit");
		return;
	}
	if (err == PC_ERR_UNSUPPORTED) {
		held_release(reg, held);
		registry_error(x, 400, "DIGEST_INVALID",
		    "only sha256 digests are supported");
		return;
	}

	in = inflight_find(reg, r->reference);
	if (in == NULL && (reg->offline || reg->upstreams[r->upstream].client == NULL)) {
		held_release(reg, held);
		registry_error(x, 404, "BLOB_UNKNOWN",
		    "the blob was not imported into this offline proxy");
		return;
	}
	if (in == NULL && strcmp(http_exchange_request(x)->method, "HEAD") == 0) {
		held_release(reg, held);
		blob_head_upstream(reg, x, r);
		return;
	}
	if (in != NULL && in->passthrough) {
		/* Earlier bytes of a passthrough blob are gone: fetch again. */
		in = NULL;
	}

	s = stream_new(reg, x);
	if (s == NULL) {
		held_release(reg, held);
		registry_error(x, 500, "UNKNOWN", "out of memory");
		return;
	}
	s->held = held;
	if (in == NULL) {
		in = inflight_start(reg, r);
		if (in == NULL) {
			blob_stream_free(s);
			registry_error(x, 500, "UNKNOWN", "cannot start the upstream request");
			return;
		}
		reg->stats.blob_misses++;
	} else {
		reg->stats.blob_coalesced++;
		s->coalesced = true;
	}

	s->in = in;
	s->next = in->streams;
	if (in->streams != NULL)
		in->streams->prev = s;
	in->streams = s;
	s->pending = true;
	if (in->state == INFLIGHT_STREAMING && in->size >= 0) {
		inflight_start_streams(in);
		return;
	}
	http_exchange_on_abort(x, stream_abort_pending, s);
}

/* ---- prefetch ---- */

static void
prefetch_cached_cb(evutil_socket_t fd, short what, void *arg)
{
	struct registry_prefetch *w = arg;

	event_free(w->deferred);
	w->deferred = NULL;
	w->cb.on_start(w->arg, w->cached_fd, (int64_t)w->cached_size);
	w->cb.on_progress(w->arg, w->cached_size);
	w->cb.on_done(w->arg, PC_OK);
	pc_free(w);
}

static void
prefetch_late_start_cb(evutil_socket_t fd, short what, void *arg)
{
	struct registry_prefetch *w = arg;
	struct inflight *in = w->in;

	event_free(w->deferred);
	w->deferred = NULL;
	if (in != NULL && !w->started)
		watchers_start(in);
}

static int
prefetch_from_cache(struct registry *reg, const char *digest,
    struct registry_prefetch *w)
{
	struct blob_ref *ref;
	struct timeval now = {0, 0};

	if (blobstore_get(reg->blobs, digest, &ref) != PC_OK)
		return PC_ERR_NOTFOUND;
	w->cached_fd = dup(blob_ref_fd(ref));
	w->cached_size = blob_ref_size(ref);
	blob_ref_release(ref);
	if (w->cached_fd < 0)
		return PC_ERR_IO;
	w->deferred = evtimer_new(reg->base, prefetch_cached_cb, w);
	if (w->deferred == NULL) {
		close(w->cached_fd);
		return PC_ERR_NOMEM;
	}
	evtimer_add(w->deferred, &now);
	return PC_OK;
}

int
registry_prefetch_blob(struct registry *reg, const char *upstream,
    const char *repository, const char *digest,
    const struct registry_prefetch_callbacks *cb, void *arg,
    struct registry_prefetch **out)
{
	struct registry_prefetch *w = pc_calloc(1, sizeof(*w));
	struct inflight *in;
	struct route r;
	int err;

	if (w == NULL)
		return PC_ERR_NOMEM;
	w->reg = reg;
	w->cb = *cb;
	w->arg = arg;
	w->cached_fd = -1;
	err = prefetch_from_cache(reg, digest, w);
	if (err == PC_OK) {
		*out = w;
		return PC_OK;
	}

	memset(&r, 0, sizeof(r));
	r.kind = ROUTE_BLOB;
	r.upstream = -1;
	for (size_t i = 0; i < reg->n_upstreams; i++) {
		if (strcmp(reg->upstreams[i].name, upstream) == 0)
			r.upstream = (int)i;
	}
	if (r.upstream < 0 || reg->offline || reg->upstreams[r.upstream].client == NULL) {
		pc_free(w);
		return PC_ERR_NOTFOUND;
	}
	snprintf(r.name, sizeof(r.name), "%s", repository);
	snprintf(r.reference, sizeof(r.reference), "%s", digest);
	r.by_digest = true;

	in = inflight_find(reg, digest);
	if (in != NULL && in->passthrough)
		in = NULL;
	if (in == NULL) {
		in = inflight_start(reg, &r);
		if (in == NULL) {
			pc_free(w);
			return PC_ERR_NOMEM;
		}
		reg->stats.blob_misses++;
	}
	w->in = in;
	w->next = in->watchers;
	in->watchers = w;
	if (in->state == INFLIGHT_STREAMING) {
		/* Headers are in already: start from the loop, not from here. */
		struct timeval now = {0, 0};

		w->deferred = evtimer_new(reg->base, prefetch_late_start_cb, w);
		if (w->deferred != NULL)
			evtimer_add(w->deferred, &now);
	}
	*out = w;
	return PC_OK;
}

void
registry_prefetch_cancel(struct registry_prefetch *w)
{
	struct inflight *in = w->in;

	if (w->deferred != NULL)
		event_free(w->deferred);
	if (w->cached_fd >= 0 && in == NULL)
		close(w->cached_fd);
	watcher_unlink(w);
	pc_free(w);
	if (in != NULL)
		inflight_release_if_done(in);
}

void
registry_blob_wake(struct registry *reg, const char *digest)
{
	for (struct blob_stream *s = reg->streams; s != NULL; s = s->all_next) {
		if (s->waiting && strcmp(stream_digest(s), digest) == 0) {
			s->waiting = false;
			http_exchange_resume(s->x);
		}
	}
}
