#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "proxy/image_backend.h"
#include "proxy/www_auth.h"
#include "scanner/workpool.h"

/*
 * The source HOST[:PORT]/NAME[:TAG|@DIGEST]: a registry over the OCI
 * distribution API with libcurl's easy interface. Anonymous Bearer token
 * auth is done when the registry requests it. A layer is written to an
 * unlinked temporary file while a worker thread scans it through a
 * growing source, so the scan ends shortly after the download.
 */

#define REGISTRY_MAX_NAME 255U           /* repository name, bytes */
#define REGISTRY_MAX_HOST 255U           /* host[:port], bytes */
#define REGISTRY_MAX_TAG 128U            /* tag, bytes */
#define REGISTRY_MAX_HEADER_BYTES (64U * 1024U) /* all header lines */
#define REGISTRY_MAX_TOKEN_RESPONSE (64U * 1024U)
#define REGISTRY_MAX_ERROR_BODY 512U     /* error body kept for messages */
#define REGISTRY_MAX_REDIRECTS 5L
#define REGISTRY_CONNECT_TIMEOUT_S 15L
#define REGISTRY_STALL_TIMEOUT_S 60L     /* no byte for this long aborts */
#define REGISTRY_API_TIMEOUT_S 120L      /* whole manifest or token request */

#define ACCEPT_MANIFESTS "Accept: " \
	"application/vnd.oci.image.manifest.v1+json, " \
	"application/vnd.oci.image.index.v1+json, " \
	"application/vnd.docker.distribution.manifest.v2+json, " \
	"application/vnd.docker.distribution.manifest.list.v2+json"

struct registry {
	CURL *curl;
	char base[16 + REGISTRY_MAX_HOST];  /* "https://host:port" */
	char *name;
	char *auth;                         /* "Authorization: Bearer ..." */
	bool tried_token;
	bool curl_initialised;              /* curl_global_init() succeeded */
	struct workpool *pool;
};

struct response {
	long status;
	char content_type[256];
	char docker_digest[DIGEST_MAX_LEN + 1];
	struct www_auth challenges;
	size_t header_bytes;
	bool header_overflow;
};

/* Destination of a response body: a capped buffer, or a file and a source. */
struct body {
	CURL *curl;
	struct buf *buf;
	int fd;
	struct scan_source *src;
	uint64_t written;
	uint64_t max;
	atomic_bool *abort;
	int err;
	char error_text[REGISTRY_MAX_ERROR_BODY];
	size_t error_len;
};

static bool
header_is(const char *line, size_t len, const char *name, const char **value,
    size_t *value_len)
{
	size_t n = strlen(name);

	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return false;
	*value = line + n + 1;
	*value_len = len - n - 1;
	while (*value_len > 0 && (**value == ' ' || **value == '\t')) {
		(*value)++;
		(*value_len)--;
	}
	while (*value_len > 0 && isspace((unsigned char)(*value)[*value_len - 1]))
		(*value_len)--;
	return true;
}

static size_t
on_header(char *line, size_t size, size_t n, void *arg)
{
	struct response *resp = arg;
	size_t len = size * n;
	const char *v;
	size_t vlen;

	resp->header_bytes += len;
	if (resp->header_bytes > REGISTRY_MAX_HEADER_BYTES) {
		resp->header_overflow = true;
		return 0;
	}
	/* A new status line starts the headers of the next response. */
	if (len > 5 && strncmp(line, "HTTP/", 5) == 0) {
		www_auth_free(&resp->challenges);
		resp->content_type[0] = '\0';
		resp->docker_digest[0] = '\0';
	} else if (header_is(line, len, "Content-Type", &v, &vlen)) {
		snprintf(resp->content_type, sizeof(resp->content_type), "%.*s",
		    (int)vlen, v);
		resp->content_type[strcspn(resp->content_type, "; ")] = '\0';
	} else if (header_is(line, len, "Docker-Content-Digest", &v, &vlen)) {
		snprintf(resp->docker_digest, sizeof(resp->docker_digest), "%.*s",
		    (int)vlen, v);
	} else if (header_is(line, len, "WWW-Authenticate", &v, &vlen)) {
		/* An unparsable challenge shows up later as a failed 401. */
		www_auth_parse(&resp->challenges, v, vlen);
	}
	return len;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t len = size * n;
	long status = 0;

	curl_easy_getinfo(b->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		size_t room = sizeof(b->error_text) - 1 - b->error_len;
		size_t take = len < room ? len : room;

		memcpy(b->error_text + b->error_len, data, take);
		b->error_len += take;
		while (b->error_len > 0 &&
		    isspace((unsigned char)b->error_text[b->error_len - 1]))
			b->error_len--;
		b->error_text[b->error_len] = '\0';
		return len;
	}
	if (b->abort != NULL && atomic_load(b->abort))
		return 0;
	if (b->written + len > b->max) {
		b->err = PC_ERR_LIMIT;
		return 0;
	}
	if (b->buf != NULL) {
		b->err = buf_append(b->buf, data, len);
		if (b->err != PC_OK)
			return 0;
	} else {
		size_t off = 0;

		while (off < len) {
			ssize_t w = write(b->fd, data + off, len - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				b->err = errno == ENOSPC ? PC_ERR_NOSPACE : PC_ERR_IO;
				return 0;
			}
			off += (size_t)w;
		}
		scan_source_growing_update(b->src, b->written + len);
	}
	b->written += len;
	return len;
}

/* One GET with the current credentials; fills resp and body. */
static int
http_get(struct registry *r, const char *url, const char *accept,
    struct body *body, struct response *resp, long timeout_s, char *reason,
    size_t reasonlen)
{
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;

	www_auth_free(&resp->challenges);
	memset(resp, 0, sizeof(*resp));
	body->curl = r->curl;
	headers = curl_slist_append(headers, "Accept-Encoding: identity");
	if (accept != NULL)
		headers = curl_slist_append(headers, accept);
	if (r->auth != NULL)
		headers = curl_slist_append(headers, r->auth);
	if (headers == NULL)
		return PC_ERR_NOMEM;

	curl_easy_reset(r->curl);
	curl_easy_setopt(r->curl, CURLOPT_URL, url);
	curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(r->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(r->curl, CURLOPT_MAXREDIRS, REGISTRY_MAX_REDIRECTS);
	curl_easy_setopt(r->curl, CURLOPT_CONNECTTIMEOUT, REGISTRY_CONNECT_TIMEOUT_S);
	curl_easy_setopt(r->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(r->curl, CURLOPT_LOW_SPEED_TIME, REGISTRY_STALL_TIMEOUT_S);
	curl_easy_setopt(r->curl, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(r->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->curl, CURLOPT_USERAGENT, "portcullis-scan");
	curl_easy_setopt(r->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(r->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(r->curl, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(r->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(r->curl, CURLOPT_WRITEDATA, body);
	rc = curl_easy_perform(r->curl);
	curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_slist_free_all(headers);

	if (body->err == PC_ERR_LIMIT)
		return image_fail(PC_ERR_LIMIT, reason, reasonlen,
		    "%s: the response is larger than %llu bytes", url,
		    (unsigned long long)body->max);
	if (body->err != PC_OK)
		return image_fail(body->err, reason, reasonlen,
		    "%s: storing the response failed: %s", url,
		    pc_strerror(body->err));
	if (resp->header_overflow)
		return image_fail(PC_ERR_LIMIT, reason, reasonlen,
		    "%s: response headers larger than %u bytes", url,
		    REGISTRY_MAX_HEADER_BYTES);
	if (rc != CURLE_OK)
		return image_fail(PC_ERR_UPSTREAM, reason, reasonlen, "%s: %s%s", url,
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc),
		    rc == CURLE_SSL_CONNECT_ERROR && strncmp(url, "https:", 6) == 0 ?
		    " (for a registry that speaks plain HTTP, add --plain-http)" : "");
	return PC_OK;
}

/* Fetches an anonymous Bearer token for the challenge in resp. */
static int
fetch_token(struct registry *r, const struct response *resp, char *reason,
    size_t reasonlen)
{
	struct www_auth_bearer bearer;
	struct response token_resp = {0};
	struct buf b;
	struct body body = {.fd = -1, .max = REGISTRY_MAX_TOKEN_RESPONSE};
	char scope[REGISTRY_MAX_NAME + 32];
	char *url = NULL;
	size_t url_len;
	char *service = NULL;
	char *esc_scope = NULL;
	json_t *doc = NULL;
	const char *token;
	int err;

	if (www_auth_bearer(&resp->challenges, &bearer) != PC_OK)
		return image_fail(PC_ERR_DENIED, reason, reasonlen,
		    "the registry requires authentication that is not anonymous "
		    "Bearer tokens");
	snprintf(scope, sizeof(scope), "repository:%s:pull", r->name);
	esc_scope = curl_easy_escape(r->curl, scope, 0);
	if (bearer.service != NULL)
		service = curl_easy_escape(r->curl, bearer.service, 0);
	buf_init(&b, REGISTRY_MAX_TOKEN_RESPONSE);
	body.buf = &b;
	if (esc_scope == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	url_len = strlen(bearer.realm) + strlen(esc_scope) + 32 +
	    (service != NULL ? strlen(service) : 0);
	url = pc_malloc(url_len);
	if (url == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	snprintf(url, url_len, "%s%cscope=%s%s%s", bearer.realm,
	    strchr(bearer.realm, '?') != NULL ? '&' : '?', esc_scope,
	    service != NULL ? "&service=" : "", service != NULL ? service : "");

	err = http_get(r, url, NULL, &body, &token_resp, REGISTRY_API_TIMEOUT_S,
	    reason, reasonlen);
	if (err == PC_OK && token_resp.status != 200)
		err = image_fail(PC_ERR_DENIED, reason, reasonlen,
		    "token request to %s failed with HTTP %ld", bearer.realm,
		    token_resp.status);
	if (err == PC_OK)
		err = image_parse_json(&b, "the token response", &doc, reason,
		    reasonlen);
	if (err != PC_OK)
		goto out;
	token = json_string_value(json_object_get(doc, "token"));
	if (token == NULL)
		token = json_string_value(json_object_get(doc, "access_token"));
	if (token == NULL || strpbrk(token, "\r\n") != NULL) {
		err = image_fail(PC_ERR_DENIED, reason, reasonlen,
		    "the token response from %s has no usable token", bearer.realm);
		goto out;
	}
	pc_free(r->auth);
	r->auth = pc_malloc(strlen(token) + 32);
	if (r->auth == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	snprintf(r->auth, strlen(token) + 32, "Authorization: Bearer %s", token);
out:
	json_decref(doc);
	www_auth_free(&token_resp.challenges);
	buf_free(&b);
	pc_free(url);
	curl_free(esc_scope);
	curl_free(service);
	return err;
}

static void
body_restart(struct body *body)
{
	if (body->buf != NULL)
		buf_reset(body->buf);
	body->written = 0;
	body->err = PC_OK;
	body->error_len = 0;
	body->error_text[0] = '\0';
}

/*
 * GETs url; on a 401 fetches a token once and retries. Any status other
 * than 200 is an error with the registry's error text in reason.
 */
static int
registry_get(struct registry *r, const char *url, const char *accept,
    struct body *body, struct response *resp, long timeout_s, char *reason,
    size_t reasonlen)
{
	int err;

	err = http_get(r, url, accept, body, resp, timeout_s, reason, reasonlen);
	if (err == PC_OK && resp->status == 401 && !r->tried_token) {
		r->tried_token = true;
		err = fetch_token(r, resp, reason, reasonlen);
		if (err != PC_OK)
			return err;
		body_restart(body);
		err = http_get(r, url, accept, body, resp, timeout_s, reason,
		    reasonlen);
	}
	if (err != PC_OK || resp->status == 200)
		return err;
	if (resp->status == 401 || resp->status == 403)
		err = PC_ERR_DENIED;
	else if (resp->status == 404)
		err = PC_ERR_NOTFOUND;
	else
		err = PC_ERR_UPSTREAM;
	return image_fail(err, reason, reasonlen, "%s: HTTP %ld %.300s", url,
	    resp->status, body->error_text);
}

static int
registry_get_small(struct registry *r, const char *url, const char *accept,
    struct buf *b, struct response *resp, char *reason, size_t reasonlen)
{
	struct body body = {.buf = b, .fd = -1, .max = b->max};

	return registry_get(r, url, accept, &body, resp, REGISTRY_API_TIMEOUT_S,
	    reason, reasonlen);
}

/* The state shared by the download (calling thread) and the scan (worker). */
struct layer_job {
	struct scan_source *src;
	const char *media_type;
	const char *digest;
	const struct scan_limits *limits;
	struct layer_result *out;
	int err;
	atomic_bool failed;
	bool done;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static void
layer_job_run(void *arg)
{
	struct layer_job *job = arg;
	int err = layer_scan_run(job->src, job->media_type, job->digest,
	    job->limits, job->out);

	if (err != PC_OK)
		atomic_store(&job->failed, true);
	pthread_mutex_lock(&job->lock);
	job->err = err;
	job->done = true;
	pthread_cond_signal(&job->cond);
	pthread_mutex_unlock(&job->lock);
}

static int
make_temp_file(int *fd, char *reason, size_t reasonlen)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];

	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	snprintf(path, sizeof(path), "%s/portcullis-blob.XXXXXX", dir);
	*fd = mkstemp(path);
	if (*fd < 0)
		return image_fail(PC_ERR_IO, reason, reasonlen,
		    "cannot create a temporary file in %s: %s", dir, strerror(errno));
	unlink(path);
	return PC_OK;
}

static int
download_layer(struct registry *r, const struct image_layer *l,
    struct layer_job *job, int fd, char *reason, size_t reasonlen)
{
	struct response resp = {0};
	struct body body = {.fd = fd, .src = job->src, .abort = &job->failed};
	char url[sizeof(r->base) + REGISTRY_MAX_NAME + DIGEST_MAX_LEN + 32];
	int err;

	body.max = l->size >= 0 ? (uint64_t)l->size : job->limits->max_layer_bytes;
	snprintf(url, sizeof(url), "%s/v2/%s/blobs/%s", r->base, r->name,
	    l->digest);
	err = registry_get(r, url, NULL, &body, &resp, 0, reason, reasonlen);
	www_auth_free(&resp.challenges);
	return err;
}

static int
registry_scan_layer(struct image *img, size_t i,
    const struct scan_limits *limits, struct layer_result *out, char *reason,
    size_t reasonlen)
{
	struct registry *r = img->backend_data;
	const struct image_layer *l = &img->layers[i];
	struct layer_job job = {
		.media_type = l->media_type, .digest = l->digest,
		.limits = limits, .out = out,
		.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
	};
	int fd = -1;
	bool scan_failed_first;
	int download_err;
	int err;

	err = make_temp_file(&fd, reason, reasonlen);
	if (err != PC_OK)
		return err;
	job.src = scan_source_growing_new(fd);
	if (job.src == NULL) {
		close(fd);
		return PC_ERR_NOMEM;
	}
	err = workpool_submit(r->pool, layer_job_run, &job);
	if (err != PC_OK) {
		scan_source_free(job.src);
		close(fd);
		return err;
	}

	download_err = download_layer(r, l, &job, fd, reason, reasonlen);
	/* Before finish() the scan can only fail on its own data. */
	scan_failed_first = atomic_load(&job.failed);
	scan_source_growing_finish(job.src, download_err == PC_OK ? PC_OK :
	    PC_ERR_UPSTREAM);
	pthread_mutex_lock(&job.lock);
	while (!job.done)
		pthread_cond_wait(&job.cond, &job.lock);
	pthread_mutex_unlock(&job.lock);
	scan_source_free(job.src);
	close(fd);

	if (download_err != PC_OK && !scan_failed_first)
		return download_err;
	if (job.err != PC_OK) {
		const json_t *errors = json_object_get(out->root, "errors");
		const char *m = json_string_value(json_object_get(json_array_get(
		    errors, json_array_size(errors) - 1), "message"));

		snprintf(reason, reasonlen, "%s", m != NULL ? m : "scan failed");
		return job.err;
	}
	return image_check_layer_size(img, i, out, reason, reasonlen);
}

static void
registry_free(void *data)
{
	struct registry *r = data;

	if (r == NULL)
		return;
	workpool_free(r->pool);
	if (r->curl != NULL)
		curl_easy_cleanup(r->curl);
	if (r->curl_initialised)
		curl_global_cleanup();
	pc_free(r->name);
	pc_free(r->auth);
	pc_free(r);
}

static const struct image_backend registry_backend = {
	.scan_layer = registry_scan_layer,
	.free = registry_free,
};

static bool
valid_name(const char *s, size_t len)
{
	if (len == 0 || len > REGISTRY_MAX_NAME)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!(islower((unsigned char)c) || isdigit((unsigned char)c) ||
		    c == '.' || c == '_' || c == '-' || c == '/'))
			return false;
	}
	return isalnum((unsigned char)s[0]) && isalnum((unsigned char)s[len - 1]);
}

static bool
valid_tag(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > REGISTRY_MAX_TAG || !(isalnum((unsigned char)s[0]) ||
	    s[0] == '_'))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!(isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '_' ||
		    s[i] == '-'))
			return false;
	}
	return true;
}

static bool
valid_host(const char *s, size_t len)
{
	if (len == 0 || len > REGISTRY_MAX_HOST)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!(isalnum((unsigned char)c) || c == '.' || c == '-' || c == ':' ||
		    c == '[' || c == ']'))
			return false;
	}
	return true;
}

/* Splits [scheme://]HOST[:PORT]/NAME[:TAG|@DIGEST] into r and img. */
static int
parse_reference(const char *ref, const struct image_options *opts,
    struct registry *r, struct image *img, char *reason, size_t reasonlen)
{
	const char *scheme = opts->plain_http ? "http" : "https";
	const char *slash;
	const char *at;
	const char *colon;
	const char *name;
	size_t name_len;

	if (strncmp(ref, "http://", 7) == 0) {
		scheme = "http";
		ref += 7;
	} else if (strncmp(ref, "https://", 8) == 0) {
		ref += 8;
	} else if (strncmp(ref, "docker://", 9) == 0) {
		ref += 9;
	}
	slash = strchr(ref, '/');
	if (slash == NULL || !valid_host(ref, (size_t)(slash - ref)))
		return image_fail(PC_ERR_INVALID, reason, reasonlen,
		    "invalid image %.200s: expected oci:DIR[:TAG], "
		    "docker-archive:FILE or HOST[:PORT]/NAME[:TAG|@DIGEST]", ref);
	snprintf(r->base, sizeof(r->base), "%s://%.*s", scheme,
	    (int)(slash - ref), ref);

	name = slash + 1;
	at = strchr(name, '@');
	colon = strrchr(name, ':');
	if (at != NULL) {
		name_len = (size_t)(at - name);
		img->reference = pc_strdup(at + 1);
		if (img->reference != NULL && !digest_is_sha256(img->reference))
			return image_fail(PC_ERR_INVALID, reason, reasonlen,
			    "invalid digest %.140s: expected sha256:<64 hex digits>",
			    at + 1);
	} else if (colon != NULL && strchr(colon, '/') == NULL) {
		name_len = (size_t)(colon - name);
		img->reference = pc_strdup(colon + 1);
		if (img->reference != NULL && !valid_tag(img->reference))
			return image_fail(PC_ERR_INVALID, reason, reasonlen,
			    "invalid tag %.140s", colon + 1);
	} else {
		name_len = strlen(name);
		img->reference = pc_strdup("latest");
	}
	if (img->reference == NULL)
		return PC_ERR_NOMEM;
	if (!valid_name(name, name_len))
		return image_fail(PC_ERR_INVALID, reason, reasonlen,
		    "invalid repository name %.*s: lower-case letters, digits and "
		    "._-/ only", (int)(name_len < 200 ? name_len : 200), name);
	r->name = pc_strndup(name, name_len);
	img->repository = pc_strndup(name, name_len);
	return r->name != NULL && img->repository != NULL ? PC_OK : PC_ERR_NOMEM;
}

/* Fetches a manifest or index by reference and verifies its digest. */
static int
fetch_manifest(struct registry *r, const char *reference, struct buf *b,
    struct response *resp, char digest[DIGEST_SHA256_BUFSIZE], char *reason,
    size_t reasonlen)
{
	char url[sizeof(r->base) + REGISTRY_MAX_NAME + DIGEST_MAX_LEN + 32];
	int err;

	buf_reset(b);
	snprintf(url, sizeof(url), "%s/v2/%s/manifests/%s", r->base, r->name,
	    reference);
	err = registry_get_small(r, url, ACCEPT_MANIFESTS, b, resp, reason,
	    reasonlen);
	if (err != PC_OK)
		return err;
	sha256_hex(b->data != NULL ? b->data : "", b->len, digest);
	if (strncmp(reference, "sha256:", 7) == 0 && strcmp(reference, digest) != 0)
		return image_fail(PC_ERR_MISMATCH, reason, reasonlen,
		    "manifest digest mismatch: requested %s, received %s",
		    reference, digest);
	if (resp->docker_digest[0] != '\0' &&
	    strcmp(resp->docker_digest, digest) != 0)
		return image_fail(PC_ERR_MISMATCH, reason, reasonlen,
		    "manifest digest mismatch: Docker-Content-Digest %s, received %s",
		    resp->docker_digest, digest);
	return PC_OK;
}

/* Resolves the reference through indexes down to an image manifest. */
static int
resolve_manifest(struct registry *r, struct image *img,
    const struct image_options *opts, char *reason, size_t reasonlen)
{
	struct response resp = {0};
	char digest[DIGEST_SHA256_BUFSIZE];
	char next[DIGEST_SHA256_BUFSIZE];
	const char *reference = img->reference;
	json_t *doc = NULL;
	struct buf b;
	int err = PC_OK;

	buf_init(&b, IMAGE_MAX_MANIFEST_BYTES);
	for (unsigned depth = 0; err == PC_OK; depth++) {
		const char *mt;
		const json_t *desc;
		int64_t size;

		json_decref(doc);
		doc = NULL;
		err = fetch_manifest(r, reference, &b, &resp, digest, reason,
		    reasonlen);
		if (err == PC_OK)
			err = image_parse_json(&b, "the manifest", &doc, reason,
			    reasonlen);
		if (err != PC_OK)
			break;
		mt = resp.content_type[0] != '\0' ? resp.content_type :
		    json_string_value(json_object_get(doc, "mediaType"));
		if (!image_is_index(mt) &&
		    !json_is_array(json_object_get(doc, "manifests"))) {
			img->digest = pc_strdup(digest);
			err = img->digest != NULL ? image_take_manifest(img, doc,
			    image_is_manifest(mt) ? mt : NULL, reason, reasonlen) :
			    PC_ERR_NOMEM;
			break;
		}
		if (depth >= IMAGE_MAX_INDEX_DEPTH) {
			err = image_fail(PC_ERR_LIMIT, reason, reasonlen,
			    "image indexes nested deeper than %u", IMAGE_MAX_INDEX_DEPTH);
			break;
		}
		err = image_pick_platform(doc, opts, &desc, reason, reasonlen);
		if (err == PC_OK)
			err = image_descriptor(desc, next, &size, reason, reasonlen);
		reference = next;
	}
	json_decref(doc);
	www_auth_free(&resp.challenges);
	buf_free(&b);
	return err;
}

static int
fetch_config(struct registry *r, struct image *img, char *reason,
    size_t reasonlen)
{
	struct response resp = {0};
	char url[sizeof(r->base) + REGISTRY_MAX_NAME + DIGEST_MAX_LEN + 32];
	struct buf b;
	int err;

	buf_init(&b, IMAGE_MAX_CONFIG_BYTES);
	snprintf(url, sizeof(url), "%s/v2/%s/blobs/%s", r->base, r->name,
	    img->config_digest);
	err = registry_get_small(r, url, NULL, &b, &resp, reason, reasonlen);
	if (err == PC_OK)
		err = image_take_config(img, &b, reason, reasonlen);
	www_auth_free(&resp.challenges);
	buf_free(&b);
	return err;
}

/* GET /v2/: checks that this is a registry and gets a token if requested. */
static int
ping(struct registry *r, char *reason, size_t reasonlen)
{
	struct response resp = {0};
	char url[sizeof(r->base) + 8];
	struct buf b;
	int err;

	buf_init(&b, REGISTRY_MAX_ERROR_BODY * 8);
	snprintf(url, sizeof(url), "%s/v2/", r->base);
	err = registry_get_small(r, url, NULL, &b, &resp, reason, reasonlen);
	if (err == PC_ERR_NOTFOUND)
		image_fail(err, reason, reasonlen,
		    "%s does not serve the registry API (GET /v2/ returned 404)",
		    r->base);
	www_auth_free(&resp.challenges);
	buf_free(&b);
	return err;
}

int
image_open_registry(const char *ref, const struct image_options *opts,
    struct image *img, char *reason, size_t reasonlen)
{
	struct registry *r = pc_calloc(1, sizeof(*r));
	int err;

	if (r == NULL)
		return PC_ERR_NOMEM;
	img->backend = &registry_backend;
	img->backend_data = r;
	err = parse_reference(ref, opts, r, img, reason, reasonlen);
	if (err != PC_OK)
		return err;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return image_fail(PC_ERR_NOMEM, reason, reasonlen,
		    "libcurl initialisation failed");
	r->curl_initialised = true;
	r->curl = curl_easy_init();
	r->pool = workpool_new(1);
	if (r->curl == NULL || r->pool == NULL)
		return PC_ERR_NOMEM;

	err = ping(r, reason, reasonlen);
	if (err == PC_OK)
		err = resolve_manifest(r, img, opts, reason, reasonlen);
	if (err == PC_OK)
		err = fetch_config(r, img, reason, reasonlen);
	return err;
}
