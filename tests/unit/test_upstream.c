/*
 * Drives the upstream client on a real event_base against
 * tests/e2e/faultserver.py, started on 127.0.0.1 for this test group.
 * The fault server counts requests, token requests and the Authorization
 * header of each path, so the checks read what really went over the wire.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "proxy/upstream.h"

#define FAULTSERVER "tests/e2e/faultserver.py"
#define BLOB_SIZE (256 * 1024)
/* Upper bound on any single fetch in these tests, so a hang fails instead of blocking. */
#define FETCH_DEADLINE_MS 15000

struct server {
	pid_t pid;
	int port;
	int redirect_port;
	char dir[64];
	char blob_path[96];
	char manifest_path[96];
	char blob_digest[80];
	char manifest_digest[80];
	unsigned char *blob;
	char *manifest;
};

static struct server srv;

/* What the callbacks of one fetch saw. */
struct result {
	struct event_base *base;
	struct upstream_fetch *fetch;
	int headers_calls;
	int status;
	int64_t content_length;
	char content_type[128];
	char digest[80];
	char retry_after[32];
	char location[256];
	struct buf body;
	int data_calls;
	int done_calls;
	int err;
	bool had_response;
	char errmsg[512];
	/* behaviour knobs */
	bool cancel_in_data;
	bool fail_in_data;
	bool fail_in_headers;
	bool pause_first;
	bool count_only;   /* count body bytes without storing them */
	size_t body_bytes;
	int pending;   /* fetches still running; the loop stops at 0 */
	int *shared_pending;
};

/* ------------------------------------------------------------------ */
/* Fault server process and its control endpoints                      */
/* ------------------------------------------------------------------ */

static void
digest_of(const void *data, size_t len, char *out, size_t out_len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	size_t n;

	EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL);
	n = (size_t)snprintf(out, out_len, "sha256:");
	for (unsigned int i = 0; i < md_len && n + 2 < out_len; i++)
		n += (size_t)snprintf(out + n, out_len - n, "%02x", md[i]);
}

static void
write_file(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static size_t
collect_body(char *data, size_t size, size_t nmemb, void *userp)
{
	if (buf_append(userp, data, size * nmemb) != PC_OK)
		return 0;
	return size * nmemb;
}

/* Sends a control request to the fault server with blocking libcurl; returns the status. */
static long
control_request(int port, const char *method, const char *path, const char *body,
    const char *header, struct buf *reply)
{
	CURL *easy = curl_easy_init();
	struct curl_slist *headers = NULL;
	struct buf discard;
	char url[256];
	long status = 0;

	assert_non_null(easy);
	buf_init(&discard, 1 << 20);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL)
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
	if (header != NULL) {
		headers = curl_slist_append(NULL, header);
		curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	}
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, reply != NULL ? reply : &discard);
	assert_int_equal(curl_easy_perform(easy), CURLE_OK);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(easy);
	buf_free(&discard);
	return status;
}

static void
set_mode(const char *json)
{
	assert_int_equal(control_request(srv.port, "POST", "/_mode", json, NULL, NULL), 200);
}

/* Returns the fault server's /_stats document; free with json_decref. */
static json_t *
get_stats(void)
{
	struct buf reply;
	json_t *stats;

	buf_init(&reply, 1 << 20);
	assert_int_equal(control_request(srv.port, "GET", "/_stats", NULL, NULL, &reply), 200);
	stats = json_loadb(reply.data, reply.len, 0, NULL);
	buf_free(&reply);
	assert_non_null(stats);
	return stats;
}

static long
stat_token_requests(void)
{
	json_t *stats = get_stats();
	long n = (long)json_integer_value(json_object_get(stats, "token_requests"));

	json_decref(stats);
	return n;
}

static long
stat_path_count(const char *path)
{
	json_t *stats = get_stats();
	long n = (long)json_integer_value(json_object_get(json_object_get(stats, "paths"), path));

	json_decref(stats);
	return n;
}

/* Returns a copy of the last Authorization header seen on path, or NULL. */
static char *
stat_authorization(const char *path)
{
	json_t *stats = get_stats();
	const char *value = json_string_value(
	    json_object_get(json_object_get(stats, "authorization"), path));
	char *copy = value != NULL ? strdup(value) : NULL;

	json_decref(stats);
	return copy;
}

/*
 * Starts faultserver.py serving the test blob and manifest, over TLS when
 * tls_cert is set, and reads the two ports it prints. Returns 0 or -1.
 */
static int
spawn_faultserver(const char *tls_cert, const char *tls_key, pid_t *pid, int *port,
    int *redirect_port)
{
	int pipe_fds[2];
	FILE *out;
	char line[128];
	char manifest_arg[160];

	snprintf(manifest_arg, sizeof(manifest_arg), "latest=%s", srv.manifest_path);
	*port = 0;
	*redirect_port = 0;
	if (pipe(pipe_fds) != 0)
		return -1;
	*pid = fork();
	if (*pid < 0)
		return -1;
	if (*pid == 0) {
		dup2(pipe_fds[1], STDOUT_FILENO);
		close(pipe_fds[0]);
		close(pipe_fds[1]);
		if (tls_cert != NULL)
			execlp("python3", "python3", FAULTSERVER, "--blob", srv.blob_path,
			    "--manifest", manifest_arg, "--tls-cert", tls_cert, "--tls-key", tls_key,
			    (char *)NULL);
		else
			execlp("python3", "python3", FAULTSERVER, "--blob", srv.blob_path,
			    "--manifest", manifest_arg, (char *)NULL);
		_exit(127);
	}
	close(pipe_fds[1]);
	out = fdopen(pipe_fds[0], "r");
	while (out != NULL && fgets(line, sizeof(line), out) != NULL) {
		if (strncmp(line, "PORT ", 5) == 0)
			*port = (int)strtol(line + 5, NULL, 10);
		else if (strncmp(line, "REDIRECT_PORT ", 14) == 0)
			*redirect_port = (int)strtol(line + 14, NULL, 10);
		if (*port > 0 && *redirect_port > 0)
			break;
	}
	if (out != NULL)
		fclose(out);
	if (*port <= 0 || *redirect_port <= 0) {
		fprintf(stderr, "the fault server (%s) did not print its ports; "
		    "run the test from the repository root\n", FAULTSERVER);
		return -1;
	}
	return 0;
}

static int
start_server(void **state)
{
	uint32_t x = 2463534242u;

	/* Everything here talks to 127.0.0.1 directly, never through a configured proxy. */
	setenv("no_proxy", "127.0.0.1,localhost", 1);
	setenv("NO_PROXY", "127.0.0.1,localhost", 1);

	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(srv.dir, sizeof(srv.dir), "/tmp/test_upstream.XXXXXX");
	if (mkdtemp(srv.dir) == NULL)
		return -1;
	snprintf(srv.blob_path, sizeof(srv.blob_path), "%s/blob", srv.dir);
	snprintf(srv.manifest_path, sizeof(srv.manifest_path), "%s/manifest.json", srv.dir);

	/* Pseudo-random bytes (xorshift32), so the body has no runs a bug could hide in. */
	srv.blob = malloc(BLOB_SIZE);
	for (size_t i = 0; i < BLOB_SIZE; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		srv.blob[i] = (unsigned char)x;
	}
	write_file(srv.blob_path, srv.blob, BLOB_SIZE);
	digest_of(srv.blob, BLOB_SIZE, srv.blob_digest, sizeof(srv.blob_digest));
	srv.manifest = strdup("{\"schemaVersion\":2,"
	    "\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"}");
	write_file(srv.manifest_path, srv.manifest, strlen(srv.manifest));
	digest_of(srv.manifest, strlen(srv.manifest), srv.manifest_digest,
	    sizeof(srv.manifest_digest));

	return spawn_faultserver(NULL, NULL, &srv.pid, &srv.port, &srv.redirect_port);
}

static int
stop_server(void **state)
{
	char path[160];

	if (srv.pid > 0) {
		kill(srv.pid, SIGTERM);
		waitpid(srv.pid, NULL, 0);
	}
	unlink(srv.blob_path);
	unlink(srv.manifest_path);
	snprintf(path, sizeof(path), "%s/credentials", srv.dir);
	unlink(path);
	rmdir(srv.dir);
	free(srv.blob);
	free(srv.manifest);
	curl_global_cleanup();
	return 0;
}

/* Resets the fault server's mode and counters before each test. */
static int
reset_server(void **state)
{
	set_mode("{}");
	assert_int_equal(control_request(srv.port, "POST", "/_reset", "", NULL, NULL), 200);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Client fixture and callbacks                                        */
/* ------------------------------------------------------------------ */

struct fixture {
	struct event_base *base;
	struct upstream_client *client;
	struct upstream *upstream;
};

static void
fixture_open_url(struct fixture *fx, const struct upstream_config *extra, const char *url)
{
	struct upstream_config cfg = { 0 };

	if (extra != NULL)
		cfg = *extra;
	cfg.name = "fault";
	cfg.url = url;
	if (extra == NULL)
		cfg.tls_verify = true;
	fx->base = event_base_new();
	assert_non_null(fx->base);
	assert_int_equal(upstream_client_new(fx->base, &fx->client), PC_OK);
	assert_int_equal(upstream_new(fx->client, &cfg, &fx->upstream), PC_OK);
}

static void
fixture_open(struct fixture *fx, const struct upstream_config *extra)
{
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
	fixture_open_url(fx, extra, url);
}

static void
fixture_close(struct fixture *fx)
{
	upstream_client_free(fx->client);
	event_base_free(fx->base);
}

static void
result_init(struct result *res, struct fixture *fx)
{
	memset(res, 0, sizeof(*res));
	res->base = fx->base;
	res->err = 12345;
	res->pending = 1;
	buf_init(&res->body, 4 * BLOB_SIZE);
}

static void
copy_str(char *out, size_t len, const char *s)
{
	snprintf(out, len, "%s", s != NULL ? s : "");
}

static int
on_headers(void *arg, const struct upstream_response *r)
{
	struct result *res = arg;

	res->headers_calls++;
	res->status = r->status;
	res->content_length = r->content_length;
	copy_str(res->content_type, sizeof(res->content_type), r->content_type);
	copy_str(res->digest, sizeof(res->digest), r->digest);
	copy_str(res->retry_after, sizeof(res->retry_after), r->retry_after);
	copy_str(res->location, sizeof(res->location), r->location);
	return res->fail_in_headers ? -1 : 0;
}

static int
on_data(void *arg, const void *data, size_t len)
{
	struct result *res = arg;

	res->data_calls++;
	res->body_bytes += len;
	if (!res->count_only)
		assert_int_equal(buf_append(&res->body, data, len), PC_OK);
	if (res->cancel_in_data) {
		upstream_fetch_cancel(res->fetch);
		/* After a cancel no on_done may follow; count the fetch as ended here. */
		res->pending--;
		event_base_loopbreak(res->base);
		return 0;
	}
	if (res->fail_in_data)
		return -1;
	if (res->pause_first && res->data_calls == 1)
		return UPSTREAM_PAUSE;
	return 0;
}

static void
on_done(void *arg, int err, const struct upstream_response *r, const char *errmsg)
{
	struct result *res = arg;

	res->done_calls++;
	res->err = err;
	res->had_response = r != NULL;
	if (r != NULL && res->headers_calls == 0)
		res->status = r->status;
	copy_str(res->errmsg, sizeof(res->errmsg), errmsg);
	res->pending--;
	if (res->shared_pending != NULL)
		(*res->shared_pending)--;
	if (res->pending <= 0 && (res->shared_pending == NULL || *res->shared_pending <= 0))
		event_base_loopbreak(res->base);
}

static const struct upstream_callbacks callbacks = { on_headers, on_data, on_done };

struct deadline {
	struct event_base *base;
	bool expired;
};

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct deadline *d = arg;

	d->expired = true;
	event_base_loopbreak(d->base);
}

/* Runs the loop until a callback breaks it or ms pass; returns true if time ran out. */
static bool
run_loop(struct event_base *base, long ms)
{
	struct deadline d = { base, false };
	struct event *timer = evtimer_new(base, on_deadline, &d);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	assert_non_null(timer);
	evtimer_add(timer, &tv);
	event_base_dispatch(base);
	event_free(timer);
	return d.expired;
}

static void
start_fetch(struct fixture *fx, struct result *res, const char *method, const char *path,
    const char *scope)
{
	struct upstream_request req = { method, path, scope, NULL, 0 };

	assert_int_equal(upstream_fetch(fx->upstream, &req, &callbacks, res, &res->fetch), PC_OK);
	assert_non_null(res->fetch);
}

/* Fetches path and runs the loop until on_done. */
static void
fetch_and_wait(struct fixture *fx, struct result *res, const char *method, const char *path,
    const char *scope)
{
	start_fetch(fx, res, method, path, scope);
	assert_false(run_loop(fx->base, FETCH_DEADLINE_MS));
	assert_int_equal(res->done_calls, 1);
}

static void
blob_path(char *out, size_t len)
{
	snprintf(out, len, "/v2/library/test/blobs/%s", srv.blob_digest);
}

#define MANIFEST_PATH "/v2/library/test/manifests/latest"
#define SCOPE "repository:library/test:pull"

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

static void
test_get_manifest(void **state)
{
	struct fixture fx;
	struct result res;
	struct upstream_stats st;

	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);

	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.headers_calls, 1);
	assert_int_equal(res.status, 200);
	assert_string_equal(res.content_type, "application/vnd.oci.image.manifest.v1+json");
	assert_string_equal(res.digest, srv.manifest_digest);
	assert_int_equal(res.content_length, (int64_t)strlen(srv.manifest));
	assert_int_equal(res.body.len, strlen(srv.manifest));
	assert_memory_equal(res.body.data, srv.manifest, res.body.len);
	assert_non_null(strstr(res.location, MANIFEST_PATH));
	assert_string_equal(res.errmsg, "");

	upstream_stats(fx.upstream, &st);
	assert_int_equal(st.requests, 1);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.bytes, strlen(srv.manifest));
	assert_int_equal(st.token_fetches, 0);
	assert_string_equal(upstream_name(fx.upstream), "fault");
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_get_blob_whole(void **state)
{
	struct fixture fx;
	struct result res;
	char path[160];
	char digest[80];

	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	blob_path(path, sizeof(path));
	fetch_and_wait(&fx, &res, "GET", path, SCOPE);

	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.content_length, BLOB_SIZE);
	assert_int_equal(res.body.len, BLOB_SIZE);
	digest_of(res.body.data, res.body.len, digest, sizeof(digest));
	assert_string_equal(digest, srv.blob_digest);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_head_blob(void **state)
{
	struct fixture fx;
	struct result res;
	char path[160];

	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	blob_path(path, sizeof(path));
	fetch_and_wait(&fx, &res, "HEAD", path, SCOPE);

	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.content_length, BLOB_SIZE);
	assert_string_equal(res.digest, srv.blob_digest);
	assert_int_equal(res.data_calls, 0);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_range_and_accept_headers(void **state)
{
	struct fixture fx;
	struct result res;
	char path[160];
	const char *headers[] = { "Range: bytes=1000-", "Accept: */*" };
	struct upstream_request req = { "GET", path, SCOPE, headers, 2 };

	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	blob_path(path, sizeof(path));
	assert_int_equal(upstream_fetch(fx.upstream, &req, &callbacks, &res, NULL), PC_OK);
	assert_false(run_loop(fx.base, FETCH_DEADLINE_MS));

	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 206);
	assert_int_equal(res.body.len, BLOB_SIZE - 1000);
	assert_memory_equal(res.body.data, srv.blob + 1000, BLOB_SIZE - 1000);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_not_found_passes_through(void **state)
{
	struct fixture fx;
	struct result res;

	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", "/v2/library/test/manifests/nosuchtag", SCOPE);

	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 404);
	assert_string_equal(res.content_type, "application/json");
	assert_non_null(strstr(res.body.data, "MANIFEST_UNKNOWN"));
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_token_flow_reuses_token(void **state)
{
	struct fixture fx;
	struct result res;
	struct upstream_stats st;
	char path[160];
	char *auth;

	set_mode("{\"auth\": \"bearer\", \"expires_in\": 300}");
	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);
	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.headers_calls, 1);
	assert_int_equal(res.body.len, strlen(srv.manifest));
	assert_int_equal(stat_token_requests(), 1);
	assert_int_equal(stat_path_count(MANIFEST_PATH), 2);
	buf_free(&res.body);

	/* Same scope: the cached token goes out with the first request. */
	result_init(&res, &fx);
	blob_path(path, sizeof(path));
	fetch_and_wait(&fx, &res, "GET", path, SCOPE);
	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.body.len, BLOB_SIZE);
	assert_int_equal(stat_token_requests(), 1);
	assert_int_equal(stat_path_count(path), 1);
	auth = stat_authorization(path);
	assert_non_null(auth);
	assert_string_equal(auth, "Bearer tok-1-" SCOPE);
	free(auth);

	/* Another repository needs its own token. */
	buf_free(&res.body);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", "/v2/other/repo/manifests/latest",
	    "repository:other/repo:pull");
	assert_int_equal(res.status, 200);
	assert_int_equal(stat_token_requests(), 2);

	upstream_stats(fx.upstream, &st);
	assert_int_equal(st.token_fetches, 2);
	assert_int_equal(st.errors, 0);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_ping_without_scope_reuses_token(void **state)
{
	struct fixture fx;
	struct result res;

	set_mode("{\"auth\": \"bearer\", \"expires_in\": 300}");
	fixture_open(&fx, NULL);
	for (int i = 0; i < 3; i++) {
		result_init(&res, &fx);
		fetch_and_wait(&fx, &res, "GET", "/v2/", NULL);
		assert_int_equal(res.err, PC_OK);
		assert_int_equal(res.status, 200);
		buf_free(&res.body);
	}

	/* One 401 and one token for the first ping; the others reuse the token. */
	assert_int_equal(stat_token_requests(), 1);
	assert_int_equal(stat_path_count("/v2/"), 4);
	fixture_close(&fx);
}

static void
test_token_expiry_counts_from_issued_at(void **state)
{
	struct fixture fx;
	struct result res;

	/*
	 * Issued 40 s ago with expires_in 60: 20 s are left, less than the
	 * 30 s refresh margin, so the next fetch must get a new token.
	 */
	set_mode("{\"auth\": \"bearer\", \"expires_in\": 60, \"issued_ago\": 40}");
	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);
	assert_int_equal(res.status, 200);
	assert_int_equal(stat_token_requests(), 1);
	buf_free(&res.body);

	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);
	assert_int_equal(res.status, 200);
	assert_int_equal(stat_token_requests(), 2);
	buf_free(&res.body);

	/* Issued 20 s ago: 40 s are left, so the token is reused. */
	set_mode("{\"auth\": \"bearer\", \"expires_in\": 60, \"issued_ago\": 20}");
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", "/v2/other/repo/manifests/latest",
	    "repository:other/repo:pull");
	assert_int_equal(res.status, 200);
	assert_int_equal(stat_token_requests(), 3);
	buf_free(&res.body);

	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", "/v2/other/repo/manifests/latest",
	    "repository:other/repo:pull");
	assert_int_equal(res.status, 200);
	assert_int_equal(stat_token_requests(), 3);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_token_requests_coalesce(void **state)
{
	struct fixture fx;
	struct result res[5];
	int pending = 5;
	char path[160];

	set_mode("{\"auth\": \"bearer\"}");
	fixture_open(&fx, NULL);
	blob_path(path, sizeof(path));
	for (int i = 0; i < 5; i++) {
		result_init(&res[i], &fx);
		res[i].shared_pending = &pending;
		start_fetch(&fx, &res[i], "GET", path, SCOPE);
	}
	assert_false(run_loop(fx.base, FETCH_DEADLINE_MS));
	assert_int_equal(pending, 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(res[i].err, PC_OK);
		assert_int_equal(res[i].status, 200);
		assert_int_equal(res[i].body.len, BLOB_SIZE);
		buf_free(&res[i].body);
	}
	assert_int_equal(stat_token_requests(), 1);
	fixture_close(&fx);
}

static void
test_invalid_token_retried_once(void **state)
{
	struct fixture fx;
	struct result res;

	set_mode("{\"auth\": \"bearer\", \"expires_in\": 300}");
	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);
	assert_int_equal(res.status, 200);
	assert_int_equal(stat_token_requests(), 1);
	buf_free(&res.body);

	/* The server revokes its tokens, so the cached one now gets invalid_token. */
	set_mode("{\"auth\": \"bearer\", \"revoke_tokens\": true}");
	assert_int_equal(control_request(srv.port, "POST", "/_reset", "", NULL, NULL), 200);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);
	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.headers_calls, 1);
	assert_int_equal(stat_token_requests(), 1);
	assert_int_equal(stat_path_count(MANIFEST_PATH), 2);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_rejected_tokens_report_401(void **state)
{
	struct fixture fx;
	struct result res;

	set_mode("{\"auth\": \"bearer\", \"reject_tokens\": true}");
	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);

	/* First request, then one retry per token: two tokens, three requests. */
	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 401);
	assert_int_equal(res.headers_calls, 1);
	assert_non_null(strstr(res.body.data, "UNAUTHORIZED"));
	assert_int_equal(stat_token_requests(), 2);
	assert_int_equal(stat_path_count(MANIFEST_PATH), 3);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_insufficient_scope_not_retried(void **state)
{
	struct fixture fx;
	struct result res;

	set_mode("{\"auth\": \"bearer\", \"insufficient_scope\": true}");
	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);

	/* A fresh token with the right scope was refused, so a second one would be too. */
	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 401);
	assert_int_equal(stat_token_requests(), 1);
	assert_int_equal(stat_path_count(MANIFEST_PATH), 2);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_foreign_realm_rejected(void **state)
{
	struct fixture fx;
	struct result res;
	char mode[256];

	/* "localhost" is not the upstream's host "127.0.0.1", even if it resolves there. */
	snprintf(mode, sizeof(mode),
	    "{\"auth\": \"bearer\", \"realm\": \"http://localhost:%d/token\"}", srv.port);
	set_mode(mode);
	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);

	assert_int_equal(res.err, PC_ERR_UPSTREAM);
	assert_int_equal(res.headers_calls, 0);
	assert_true(res.had_response);
	assert_int_equal(res.status, 401);
	assert_non_null(strstr(res.errmsg, "realm"));
	assert_non_null(strstr(res.errmsg, "localhost"));
	assert_int_equal(stat_token_requests(), 0);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_listed_realm_host_accepted(void **state)
{
	struct fixture fx;
	struct result res;
	struct upstream_config cfg = { 0 };
	const char *hosts[] = { "localhost" };
	char mode[256];

	snprintf(mode, sizeof(mode),
	    "{\"auth\": \"bearer\", \"realm\": \"http://localhost:%d/token\"}", srv.port);
	set_mode(mode);
	cfg.realm_hosts = hosts;
	cfg.n_realm_hosts = 1;
	fixture_open(&fx, &cfg);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);

	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 200);
	assert_int_equal(stat_token_requests(), 1);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_redirect_drops_authorization(void **state)
{
	struct fixture fx;
	struct result res;
	struct upstream_stats st;
	char path[160];
	char target[160];
	char *auth;
	json_t *stats;

	set_mode("{\"auth\": \"bearer\", \"redirect\": true}");
	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	blob_path(path, sizeof(path));
	fetch_and_wait(&fx, &res, "GET", path, SCOPE);

	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.body.len, BLOB_SIZE);
	assert_memory_equal(res.body.data, srv.blob, BLOB_SIZE);
	snprintf(target, sizeof(target), "http://127.0.0.1:%d/_redirected/%s",
	    srv.redirect_port, srv.blob_digest);
	assert_string_equal(res.location, target);

	/* The upstream got the token; the redirect target got no Authorization. */
	auth = stat_authorization(path);
	assert_non_null(auth);
	assert_true(strncmp(auth, "Bearer ", 7) == 0);
	free(auth);
	stats = get_stats();
	assert_int_equal(json_integer_value(json_object_get(stats, "redirect_rejected")), 0);
	json_decref(stats);
	snprintf(target, sizeof(target), "/_redirected/%s", srv.blob_digest);
	assert_int_equal(stat_path_count(target), 1);
	assert_null(stat_authorization(target));

	upstream_stats(fx.upstream, &st);
	assert_int_equal(st.redirects, 1);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_relative_redirect_keeps_auth(void **state)
{
	struct fixture fx;
	struct result res;
	char *auth;

	set_mode("{\"auth\": \"bearer\", \"paths\": {\"/v2/library/test/manifests/old\": "
	    "{\"redirect_to\": \"latest\"}}}");
	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", "/v2/library/test/manifests/old", SCOPE);

	/* "latest" resolves against .../manifests/old to .../manifests/latest. */
	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 200);
	assert_string_equal(res.digest, srv.manifest_digest);
	assert_non_null(strstr(res.location, MANIFEST_PATH));

	/* Same scheme, host and port: the token goes along. */
	auth = stat_authorization(MANIFEST_PATH);
	assert_non_null(auth);
	assert_true(strncmp(auth, "Bearer ", 7) == 0);
	free(auth);
	assert_int_equal(stat_token_requests(), 1);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_redirect_loop_stops(void **state)
{
	struct fixture fx;
	struct result res;
	struct upstream_stats st;

	set_mode("{\"paths\": {\"/v2/loop/manifests/x\": {\"redirect_to\": \"/v2/loop/manifests/x\"}}}");
	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", "/v2/loop/manifests/x", NULL);

	/* The hop after the last one followed comes back to the caller as is. */
	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 307);
	assert_int_equal(stat_path_count("/v2/loop/manifests/x"), UPSTREAM_MAX_REDIRECTS + 1);
	upstream_stats(fx.upstream, &st);
	assert_int_equal(st.redirects, UPSTREAM_MAX_REDIRECTS);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_redirect_target_rejects_auth(void **state)
{
	char path[160];

	/* The check above can fail: the redirect target does reject Authorization. */
	snprintf(path, sizeof(path), "/_redirected/%s", srv.blob_digest);
	assert_int_equal(control_request(srv.redirect_port, "GET", path, NULL,
	    "Authorization: Bearer x", NULL), 400);
	assert_int_equal(control_request(srv.redirect_port, "GET", path, NULL, NULL, NULL), 200);
}

static void
test_429_retry_after(void **state)
{
	struct fixture fx;
	struct result res;

	set_mode("{\"status\": 429, \"retry_after\": 7}");
	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);

	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 429);
	assert_string_equal(res.retry_after, "7");
	assert_non_null(strstr(res.body.data, "TOOMANYREQUESTS"));
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_503_passes_through(void **state)
{
	struct fixture fx;
	struct result res;

	set_mode("{\"status\": 503}");
	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "HEAD", MANIFEST_PATH, SCOPE);

	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 503);
	assert_string_equal(res.retry_after, "");
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_body_cut_truncated(void **state)
{
	struct fixture fx;
	struct result res;
	struct upstream_stats st;
	char path[160];

	set_mode("{\"cut_after\": 1000}");
	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	blob_path(path, sizeof(path));
	fetch_and_wait(&fx, &res, "GET", path, SCOPE);

	assert_int_equal(res.err, PC_ERR_TRUNCATED);
	assert_int_equal(res.headers_calls, 1);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.content_length, BLOB_SIZE);
	assert_int_equal(res.body.len, 1000);
	assert_memory_equal(res.body.data, srv.blob, 1000);
	assert_true(res.had_response);
	assert_true(strlen(res.errmsg) > 0);
	upstream_stats(fx.upstream, &st);
	assert_int_equal(st.errors, 1);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_chunked_body(void **state)
{
	struct fixture fx;
	struct result res;
	char path[160];

	set_mode("{\"chunked\": true}");
	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	blob_path(path, sizeof(path));
	fetch_and_wait(&fx, &res, "GET", path, SCOPE);

	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.content_length, -1);
	assert_int_equal(res.body.len, BLOB_SIZE);
	assert_memory_equal(res.body.data, srv.blob, BLOB_SIZE);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_corrupt_body_passed_as_is(void **state)
{
	struct fixture fx;
	struct result res;
	char path[160];
	char digest[80];

	/* The client hands bytes on unverified; digest checks belong to the caller. */
	set_mode("{\"corrupt\": true}");
	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	blob_path(path, sizeof(path));
	fetch_and_wait(&fx, &res, "GET", path, SCOPE);

	assert_int_equal(res.err, PC_OK);
	assert_string_equal(res.digest, srv.blob_digest);
	assert_int_equal(res.body.len, BLOB_SIZE);
	assert_int_equal((unsigned char)res.body.data[0], srv.blob[0] ^ 0xFF);
	assert_memory_equal(res.body.data + 1, srv.blob + 1, BLOB_SIZE - 1);
	digest_of(res.body.data, res.body.len, digest, sizeof(digest));
	assert_string_not_equal(digest, srv.blob_digest);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_header_limits(void **state)
{
	struct fixture fx;
	struct result res;
	char mode[64];

	/*
	 * The manifest response has five fixed header lines (Server, Date,
	 * Content-Type, Docker-Content-Digest, Content-Length) plus the fillers.
	 * Exactly UPSTREAM_MAX_HEADERS lines pass, one more is rejected.
	 */
	snprintf(mode, sizeof(mode), "{\"extra_headers\": %d}", UPSTREAM_MAX_HEADERS - 5);
	set_mode(mode);
	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);
	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 200);
	buf_free(&res.body);

	snprintf(mode, sizeof(mode), "{\"extra_headers\": %d}", UPSTREAM_MAX_HEADERS - 4);
	set_mode(mode);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);
	assert_int_equal(res.err, PC_ERR_LIMIT);
	buf_free(&res.body);

	set_mode("{\"extra_headers\": 2000}");
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);
	assert_int_equal(res.err, PC_ERR_LIMIT);
	assert_int_equal(res.headers_calls, 0);
	assert_non_null(strstr(res.errmsg, "exceed"));
	buf_free(&res.body);
	fixture_close(&fx);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
test_header_timeout(void **state)
{
	struct fixture fx;
	struct result res;
	struct upstream_config cfg = { 0 };
	int64_t start;

	set_mode("{\"delay_headers\": 3}");
	cfg.header_timeout_ms = 300;
	fixture_open(&fx, &cfg);
	result_init(&res, &fx);
	start = now_ms();
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);

	assert_int_equal(res.err, PC_ERR_TIMEOUT);
	assert_false(res.had_response);
	assert_int_equal(res.headers_calls, 0);
	assert_non_null(strstr(res.errmsg, "300 ms"));
	assert_true(now_ms() - start < 2000);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_stalled_body_times_out(void **state)
{
	struct fixture fx;
	struct result res;
	struct upstream_config cfg = { 0 };
	char path[160];

	set_mode("{\"stall_after\": 1000, \"stall_seconds\": 6}");
	cfg.stall_timeout_ms = 1000;
	fixture_open(&fx, &cfg);
	result_init(&res, &fx);
	blob_path(path, sizeof(path));
	fetch_and_wait(&fx, &res, "GET", path, SCOPE);

	assert_int_equal(res.err, PC_ERR_TIMEOUT);
	assert_int_equal(res.headers_calls, 1);
	assert_int_equal(res.body.len, 1000);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_cancel_inside_on_data(void **state)
{
	struct fixture fx;
	struct result res;
	struct result next;
	char path[160];

	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	res.cancel_in_data = true;
	blob_path(path, sizeof(path));
	start_fetch(&fx, &res, "GET", path, SCOPE);
	assert_false(run_loop(fx.base, FETCH_DEADLINE_MS));
	assert_int_equal(res.data_calls, 1);

	/* Let the loop run on: no callback of the cancelled fetch may follow. */
	assert_true(run_loop(fx.base, 300));
	assert_int_equal(res.data_calls, 1);
	assert_int_equal(res.done_calls, 0);

	/* The client goes on working. */
	result_init(&next, &fx);
	fetch_and_wait(&fx, &next, "GET", path, SCOPE);
	assert_int_equal(next.err, PC_OK);
	assert_int_equal(next.body.len, BLOB_SIZE);
	buf_free(&res.body);
	buf_free(&next.body);
	fixture_close(&fx);
}

static void
test_callback_cancel_reports_cancelled(void **state)
{
	struct fixture fx;
	struct result res;
	char path[160];

	fixture_open(&fx, NULL);
	blob_path(path, sizeof(path));

	result_init(&res, &fx);
	res.fail_in_data = true;
	fetch_and_wait(&fx, &res, "GET", path, SCOPE);
	assert_int_equal(res.err, UPSTREAM_CANCELLED);
	assert_int_equal(res.data_calls, 1);
	buf_free(&res.body);

	result_init(&res, &fx);
	res.fail_in_headers = true;
	fetch_and_wait(&fx, &res, "GET", path, SCOPE);
	assert_int_equal(res.err, UPSTREAM_CANCELLED);
	assert_int_equal(res.headers_calls, 1);
	assert_int_equal(res.data_calls, 0);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_cancel_before_start(void **state)
{
	struct fixture fx;
	struct result res;

	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	start_fetch(&fx, &res, "GET", MANIFEST_PATH, SCOPE);
	upstream_fetch_cancel(res.fetch);
	assert_true(run_loop(fx.base, 300));
	assert_int_equal(res.headers_calls, 0);
	assert_int_equal(res.done_calls, 0);
	assert_int_equal(stat_path_count(MANIFEST_PATH), 0);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
on_resume_timer(evutil_socket_t fd, short what, void *arg)
{
	struct result *res = arg;

	/* Still paused: nothing arrived since the first chunk. */
	assert_int_equal(res->data_calls, 1);
	assert_int_equal(res->done_calls, 0);
	upstream_fetch_resume(res->fetch);
	/* Resume defers delivery to the loop. */
	assert_int_equal(res->data_calls, 1);
}

static void
test_pause_and_resume(void **state)
{
	struct fixture fx;
	struct result res;
	struct upstream_config cfg = { 0 };
	struct event *timer;
	struct timeval tv = { 1, 500000 };
	char path[160];

	/* Paused longer than the stall timeout: a paused body must not time out. */
	cfg.stall_timeout_ms = 1000;
	fixture_open(&fx, &cfg);
	result_init(&res, &fx);
	res.pause_first = true;
	blob_path(path, sizeof(path));
	start_fetch(&fx, &res, "GET", path, SCOPE);
	timer = evtimer_new(fx.base, on_resume_timer, &res);
	evtimer_add(timer, &tv);
	assert_false(run_loop(fx.base, FETCH_DEADLINE_MS));
	event_free(timer);

	assert_int_equal(res.done_calls, 1);
	assert_int_equal(res.err, PC_OK);
	assert_true(res.data_calls > 1);
	assert_int_equal(res.body.len, BLOB_SIZE);
	assert_memory_equal(res.body.data, srv.blob, BLOB_SIZE);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
write_credentials(const char *text, char *path, size_t len)
{
	snprintf(path, len, "%s/credentials", srv.dir);
	write_file(path, text, strlen(text));
}

static void
test_basic_auth_with_credentials(void **state)
{
	struct fixture fx;
	struct result res;
	struct upstream_config cfg = { 0 };
	char creds[160];
	char *auth;

	set_mode("{\"auth\": \"basic\", \"basic_user\": \"alice\", \"basic_password\": \"s3:cr=t\"}");
	write_credentials("alice:s3:cr=t\n", creds, sizeof(creds));
	cfg.credentials_file = creds;
	fixture_open(&fx, &cfg);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);
	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 200);
	auth = stat_authorization(MANIFEST_PATH);
	assert_non_null(auth);
	assert_string_equal(auth, "Basic YWxpY2U6czM6Y3I9dA==");
	free(auth);
	buf_free(&res.body);

	/* Once the upstream asked for Basic, later requests send it at once. */
	assert_int_equal(control_request(srv.port, "POST", "/_reset", "", NULL, NULL), 200);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);
	assert_int_equal(res.status, 200);
	assert_int_equal(stat_path_count(MANIFEST_PATH), 1);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_basic_auth_without_credentials(void **state)
{
	struct fixture fx;
	struct result res;

	set_mode("{\"auth\": \"basic\", \"basic_user\": \"alice\", \"basic_password\": \"x\"}");
	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);
	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 401);
	assert_int_equal(stat_path_count(MANIFEST_PATH), 1);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_token_endpoint_credentials(void **state)
{
	struct fixture fx;
	struct result res;
	struct upstream_config cfg = { 0 };
	char creds[160];

	set_mode("{\"auth\": \"bearer\", \"token_user\": \"bob\", \"token_password\": \"pw\"}");
	write_credentials("{\"username\": \"bob\", \"password\": \"pw\"}", creds, sizeof(creds));
	cfg.credentials_file = creds;
	fixture_open(&fx, &cfg);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);
	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 200);
	buf_free(&res.body);
	fixture_close(&fx);

	/* Wrong credentials: the token endpoint's 401 ends the fetch as denied. */
	write_credentials("bob:wrong", creds, sizeof(creds));
	fixture_open(&fx, &cfg);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);
	assert_int_equal(res.err, PC_ERR_DENIED);
	assert_int_equal(res.headers_calls, 0);
	assert_non_null(strstr(res.errmsg, "status 401"));
	assert_null(strstr(res.errmsg, "wrong"));
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_connect_refused(void **state)
{
	struct event_base *base = event_base_new();
	struct upstream_client *client;
	struct upstream *u;
	struct upstream_config cfg = { 0 };
	struct fixture fx;
	struct result res;
	char url[64];

	/* Port 1 (tcpmux) is privileged and normally has no listener. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", 1);
	cfg.url = url;
	assert_int_equal(upstream_client_new(base, &client), PC_OK);
	assert_int_equal(upstream_new(client, &cfg, &u), PC_OK);
	fx.base = base;
	fx.client = client;
	fx.upstream = u;
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, NULL);
	assert_int_equal(res.err, PC_ERR_UPSTREAM);
	assert_false(res.had_response);
	assert_true(strlen(res.errmsg) > 0);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_free_with_fetch_in_flight(void **state)
{
	struct fixture fx;
	struct result res;

	set_mode("{\"delay_headers\": 1}");
	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	start_fetch(&fx, &res, "GET", MANIFEST_PATH, SCOPE);
	assert_true(run_loop(fx.base, 200));
	fixture_close(&fx);
	assert_int_equal(res.done_calls, 0);
	assert_int_equal(res.headers_calls, 0);
	buf_free(&res.body);
}

static void
test_invalid_requests_rejected(void **state)
{
	struct fixture fx;
	struct result res;
	const char *auth_header[] = { "Authorization: Bearer x" };
	const char *encoding_header[] = { "accept-encoding: gzip" };
	const char *broken_header[] = { "Accept application/json" };
	const char *crlf_header[] = { "Accept: a\r\nX-Evil: 1" };
	char long_scope[UPSTREAM_MAX_SCOPE_LEN + 2];
	const struct upstream_request cases[] = {
		{ "GET", MANIFEST_PATH, long_scope, NULL, 0 },
		{ "POST", MANIFEST_PATH, NULL, NULL, 0 },
		{ NULL, MANIFEST_PATH, NULL, NULL, 0 },
		{ "GET", "v2/no-slash", NULL, NULL, 0 },
		{ "GET", "/v2/a b", NULL, NULL, 0 },
		{ "GET", MANIFEST_PATH, NULL, auth_header, 1 },
		{ "GET", MANIFEST_PATH, NULL, encoding_header, 1 },
		{ "GET", MANIFEST_PATH, NULL, broken_header, 1 },
		{ "GET", MANIFEST_PATH, NULL, crlf_header, 1 },
	};

	memset(long_scope, 'a', sizeof(long_scope) - 1);
	long_scope[sizeof(long_scope) - 1] = '\0';
	fixture_open(&fx, NULL);
	result_init(&res, &fx);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct upstream_fetch *f = (struct upstream_fetch *)&res;

		assert_int_equal(upstream_fetch(fx.upstream, &cases[i], &callbacks, &res, &f),
		    PC_ERR_INVALID);
		assert_null(f);
	}
	assert_true(run_loop(fx.base, 100));
	assert_int_equal(res.done_calls, 0);
	buf_free(&res.body);
	fixture_close(&fx);
}

static void
test_upstream_config_errors(void **state)
{
	struct event_base *base = event_base_new();
	struct upstream_client *client;
	struct upstream *u;
	struct upstream_config cfg = { 0 };
	const char *bad_hosts[] = { "evil.example/path" };
	char creds[160];
	static const char *const bad_urls[] = {
		"ftp://example.com", "not a url", "https://example.com/v2",
		"https://user@example.com", "https://example.com?x=1",
	};

	assert_int_equal(upstream_client_new(base, &client), PC_OK);
	for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
		cfg.url = bad_urls[i];
		assert_int_equal(upstream_new(client, &cfg, &u), PC_ERR_INVALID);
		assert_null(u);
	}
	cfg.url = "https://registry.example.com/";
	assert_int_equal(upstream_new(client, &cfg, &u), PC_OK);
	assert_string_equal(upstream_name(u), "registry.example.com");
	upstream_free(u);

	cfg.realm_hosts = bad_hosts;
	cfg.n_realm_hosts = 1;
	assert_int_equal(upstream_new(client, &cfg, &u), PC_ERR_INVALID);
	cfg.realm_hosts = NULL;
	cfg.n_realm_hosts = 0;

	snprintf(creds, sizeof(creds), "%s/no-such-file", srv.dir);
	cfg.credentials_file = creds;
	assert_int_equal(upstream_new(client, &cfg, &u), PC_ERR_IO);
	write_credentials("no colon here", creds, sizeof(creds));
	assert_int_equal(upstream_new(client, &cfg, &u), PC_ERR_INVALID);
	write_credentials(":empty-user", creds, sizeof(creds));
	assert_int_equal(upstream_new(client, &cfg, &u), PC_ERR_INVALID);
	write_credentials("{\"username\": \"x\"}", creds, sizeof(creds));
	assert_int_equal(upstream_new(client, &cfg, &u), PC_ERR_INVALID);
	write_credentials("a:b\nc:d\n", creds, sizeof(creds));
	assert_int_equal(upstream_new(client, &cfg, &u), PC_ERR_INVALID);
	{
		char big[UPSTREAM_MAX_CREDENTIALS_FILE + 10];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		big[1] = ':';
		write_credentials(big, creds, sizeof(creds));
		assert_int_equal(upstream_new(client, &cfg, &u), PC_ERR_LIMIT);
	}
	write_credentials("user:pass\r\n", creds, sizeof(creds));
	assert_int_equal(upstream_new(client, &cfg, &u), PC_OK);
	upstream_client_free(client);
	event_base_free(base);
}

static void
test_tls_verification(void **state)
{
	struct fixture fx;
	struct result res;
	struct upstream_config cfg = { 0 };
	char cert[160];
	char key[160];
	char cmd[640];
	char url[64];
	pid_t pid;
	int port;
	int redirect_port;

	snprintf(cert, sizeof(cert), "%s/cert.pem", srv.dir);
	snprintf(key, sizeof(key), "%s/key.pem", srv.dir);
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec "
	    "-pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout %s -out %s -days 1 "
	    "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1", key, cert);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(spawn_faultserver(cert, key, &pid, &port, &redirect_port), 0);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);

	/* The upstream's own CA file verifies it; h2 is offered, http/1.1 chosen. */
	cfg.ca_file = cert;
	cfg.tls_verify = true;
	cfg.http2 = true;
	fixture_open_url(&fx, &cfg, url);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);
	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.body.len, strlen(srv.manifest));
	buf_free(&res.body);
	fixture_close(&fx);

	/* Without it the self-signed certificate fails verification. */
	cfg.ca_file = NULL;
	fixture_open_url(&fx, &cfg, url);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);
	assert_int_equal(res.err, PC_ERR_UPSTREAM);
	assert_false(res.had_response);
	assert_non_null(strstr(res.errmsg, "certificate"));
	buf_free(&res.body);
	fixture_close(&fx);

	/* tls_verify off accepts it. */
	cfg.tls_verify = false;
	fixture_open_url(&fx, &cfg, url);
	result_init(&res, &fx);
	fetch_and_wait(&fx, &res, "GET", MANIFEST_PATH, SCOPE);
	assert_int_equal(res.err, PC_OK);
	assert_int_equal(res.status, 200);
	buf_free(&res.body);
	fixture_close(&fx);

	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	unlink(cert);
	unlink(key);
}

static void
test_allocation_failures_unwind(void **state)
{
	struct upstream_config cfg = { 0 };
	char path[160];
	long n;

	/* Token flow plus a redirect walks most allocation sites of a fetch. */
	set_mode("{\"auth\": \"bearer\", \"redirect\": true}");
	blob_path(path, sizeof(path));
	cfg.header_timeout_ms = 1000;
	cfg.connect_timeout_ms = 500;
	cfg.tls_verify = true;
	for (n = 0; n < 2000; n++) {
		struct fixture fx;
		struct result res;
		int err;

		fixture_open(&fx, &cfg);
		result_init(&res, &fx);
		res.count_only = true;
		pc_alloc_fail_after(n);
		err = upstream_fetch(fx.upstream, &(struct upstream_request){ "GET", path, SCOPE,
		    NULL, 0 }, &callbacks, &res, &res.fetch);
		if (err == PC_OK)
			assert_false(run_loop(fx.base, FETCH_DEADLINE_MS));
		pc_alloc_fail_after(-1);

		if (err != PC_OK) {
			assert_int_equal(err, PC_ERR_NOMEM);
			assert_int_equal(res.done_calls, 0);
		} else {
			assert_int_equal(res.done_calls, 1);
		}
		fixture_close(&fx);
		buf_free(&res.body);
		if (err == PC_OK && res.err == PC_OK && res.status == 200 &&
		    res.body_bytes == BLOB_SIZE)
			break;
	}
	assert_true(n < 2000);
	assert_true(n > 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_get_manifest, reset_server),
		cmocka_unit_test_setup(test_get_blob_whole, reset_server),
		cmocka_unit_test_setup(test_head_blob, reset_server),
		cmocka_unit_test_setup(test_range_and_accept_headers, reset_server),
		cmocka_unit_test_setup(test_not_found_passes_through, reset_server),
		cmocka_unit_test_setup(test_token_flow_reuses_token, reset_server),
		cmocka_unit_test_setup(test_ping_without_scope_reuses_token, reset_server),
		cmocka_unit_test_setup(test_token_expiry_counts_from_issued_at, reset_server),
		cmocka_unit_test_setup(test_token_requests_coalesce, reset_server),
		cmocka_unit_test_setup(test_invalid_token_retried_once, reset_server),
		cmocka_unit_test_setup(test_rejected_tokens_report_401, reset_server),
		cmocka_unit_test_setup(test_insufficient_scope_not_retried, reset_server),
		cmocka_unit_test_setup(test_foreign_realm_rejected, reset_server),
		cmocka_unit_test_setup(test_listed_realm_host_accepted, reset_server),
		cmocka_unit_test_setup(test_redirect_drops_authorization, reset_server),
		cmocka_unit_test_setup(test_redirect_target_rejects_auth, reset_server),
		cmocka_unit_test_setup(test_relative_redirect_keeps_auth, reset_server),
		cmocka_unit_test_setup(test_redirect_loop_stops, reset_server),
		cmocka_unit_test_setup(test_429_retry_after, reset_server),
		cmocka_unit_test_setup(test_503_passes_through, reset_server),
		cmocka_unit_test_setup(test_body_cut_truncated, reset_server),
		cmocka_unit_test_setup(test_chunked_body, reset_server),
		cmocka_unit_test_setup(test_corrupt_body_passed_as_is, reset_server),
		cmocka_unit_test_setup(test_header_limits, reset_server),
		cmocka_unit_test_setup(test_header_timeout, reset_server),
		cmocka_unit_test_setup(test_stalled_body_times_out, reset_server),
		cmocka_unit_test_setup(test_cancel_inside_on_data, reset_server),
		cmocka_unit_test_setup(test_callback_cancel_reports_cancelled, reset_server),
		cmocka_unit_test_setup(test_cancel_before_start, reset_server),
		cmocka_unit_test_setup(test_pause_and_resume, reset_server),
		cmocka_unit_test_setup(test_basic_auth_with_credentials, reset_server),
		cmocka_unit_test_setup(test_basic_auth_without_credentials, reset_server),
		cmocka_unit_test_setup(test_token_endpoint_credentials, reset_server),
		cmocka_unit_test_setup(test_connect_refused, reset_server),
		cmocka_unit_test_setup(test_free_with_fetch_in_flight, reset_server),
		cmocka_unit_test_setup(test_invalid_requests_rejected, reset_server),
		cmocka_unit_test_setup(test_upstream_config_errors, reset_server),
		cmocka_unit_test_setup(test_tls_verification, reset_server),
		cmocka_unit_test_setup(test_allocation_failures_unwind, reset_server),
	};

	return cmocka_run_group_tests(tests, start_server, stop_server);
}
