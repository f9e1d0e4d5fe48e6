#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>

#include "common/alloc.h"
#include "common/error.h"
#include "proxy/auth.h"
#include "proxy/http.h"
#include "proxy/ratelimit.h"
#include "tests/unit/tmpdir_fixture.h"

#define SECOND_NS 1000000000ull

static uint64_t fake_now_ns;

static uint64_t
fake_clock(void *arg)
{
	return fake_now_ns;
}

/* A request with up to four headers, as the HTTP front ends build it. */
struct test_request {
	struct http_request req;
	struct http_header headers[4];
	char names[4][32];
};

static void
request_init(struct test_request *t, const char *peer)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->req.method, sizeof(t->req.method), "GET");
	t->req.path = "/v2/";
	t->req.peer = peer;
	t->req.proto = "HTTP/1.1";
	t->req.headers = t->headers;
}

static void
request_add(struct test_request *t, const char *name, const char *value)
{
	size_t i = t->req.n_headers++;

	assert_true(i < 4);
	snprintf(t->names[i], sizeof(t->names[i]), "%s", name);
	t->headers[i].name = t->names[i];
	t->headers[i].value = (char *)value;
}

/* Builds "Basic base64(user:password)" into out; len covers NUL bytes. */
static void
basic_header(char *out, size_t outlen, const char *credentials, size_t len)
{
	unsigned char encoded[4096];

	assert_true(len / 3 * 4 + 8 < sizeof(encoded));
	EVP_EncodeBlock(encoded, (const unsigned char *)credentials, (int)len);
	snprintf(out, outlen, "Basic %s", encoded);
}

static void
run_htpasswd(const char *file, const char *flags, const char *user,
    const char *password)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "htpasswd %s -b '%s' '%s' '%s' 2>/dev/null",
	    flags, file, user, password);
	/* htpasswd comes with apache2-utils (scripts/install-deps.sh). */
	assert_int_equal(system(cmd), 0);
}

static void
path_in(const struct tmpdir *t, const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", t->dir, name);
}

/* alice:wonderland and bob:builder-pass, bcrypt at the lowest cost. */
static void
write_htpasswd(const struct tmpdir *t, char *path, size_t pathlen)
{
	path_in(t, "htpasswd", path, pathlen);
	run_htpasswd(path, "-c -B -C 4", "alice", "wonderland");
	run_htpasswd(path, "-B -C 4", "bob", "builder-pass");
}

static void
write_tokens(const struct tmpdir *t, char *path, size_t pathlen)
{
	path_in(t, "tokens", path, pathlen);
	tmpdir_write_file(path, "# CI machines\n"
	    "ci-build  tok-build-0123456789abcdef\n"
	    "\n"
	    "ci-deploy\ttok-deploy-0123456789abcdef\r\n");
}

static struct auth *
auth_make(const struct auth_config *cfg)
{
	char errbuf[512] = "";
	struct auth *a = NULL;

	if (auth_new(cfg, &a, errbuf, sizeof(errbuf)) != PC_OK)
		fail_msg("auth_new: %s", errbuf);
	return a;
}

static int
auth_load_error(const struct auth_config *cfg, char *errbuf, size_t errlen)
{
	struct auth *a = NULL;
	int err = auth_new(cfg, &a, errbuf, errlen);

	assert_null(a);
	return err;
}

static void
config_with_clock(struct auth_config *cfg)
{
	auth_config_init(cfg);
	cfg->clock_ns = fake_clock;
	fake_now_ns = 1000 * SECOND_NS;
}

/* Sets the fake clock and, as requested, the two credential files. */
static char htpasswd_path[128];
static char tokens_path[128];

static void
config_with_files(const struct tmpdir *t, struct auth_config *cfg,
    bool htpasswd, bool tokens)
{
	config_with_clock(cfg);
	if (htpasswd) {
		write_htpasswd(t, htpasswd_path, sizeof(htpasswd_path));
		cfg->htpasswd_file = htpasswd_path;
	}
	if (tokens) {
		write_tokens(t, tokens_path, sizeof(tokens_path));
		cfg->tokens_file = tokens_path;
	}
}

static enum auth_outcome
check_basic(struct auth *a, const char *peer, const char *user,
    const char *password, const char *repository, struct auth_result *res)
{
	struct test_request t;
	char credentials[600];
	char header[1024];

	snprintf(credentials, sizeof(credentials), "%s:%s", user, password);
	basic_header(header, sizeof(header), credentials, strlen(credentials));
	request_init(&t, peer);
	request_add(&t, "authorization", header);
	return auth_check(a, &t.req, repository, NULL, res);
}

static enum auth_outcome
check_header(struct auth *a, const char *value, struct auth_result *res)
{
	struct test_request t;

	request_init(&t, "192.0.2.7:40000");
	request_add(&t, "authorization", value);
	return auth_check(a, &t.req, "library/alpine", NULL, res);
}

static enum auth_outcome
check_anonymous(struct auth *a, const char *peer, const char *repository,
    const char *subject, struct auth_result *res)
{
	struct test_request t;

	request_init(&t, peer);
	return auth_check(a, &t.req, repository, subject, res);
}

static const char *
result_header(const struct auth_result *res, const char *name)
{
	for (size_t i = 0; i < res->n_headers; i++) {
		if (strcmp(res->headers[i].name, name) == 0)
			return res->headers[i].value;
	}
	return NULL;
}

static json_int_t
stat_get(struct auth *a, const char *section, const char *key)
{
	json_t *stats = auth_stats(a);
	json_t *node;
	json_int_t value;

	assert_non_null(stats);
	node = section != NULL ? json_object_get(stats, section) : stats;
	assert_non_null(node);
	node = json_object_get(node, key);
	assert_true(json_is_integer(node));
	value = json_integer_value(node);
	json_decref(stats);
	return value;
}

/* htpasswd */

static void
test_htpasswd_valid_password(void **state)
{
	struct tmpdir *t = *state;
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;

	config_with_files(t, &cfg, true, false);
	a = auth_make(&cfg);

	assert_int_equal(check_basic(a, "192.0.2.1:5000", "alice", "wonderland",
	    "library/alpine", &res), AUTH_OK);
	assert_int_equal(res.status, 200);
	assert_null(res.code);
	assert_int_equal(res.identity, AUTH_ID_PASSWORD);
	assert_string_equal(res.user, "alice");
	assert_string_equal(res.client, "192.0.2.1");
	assert_int_equal(res.n_headers, 0);
	assert_true(auth_requires_credentials(a));

	assert_int_equal(check_basic(a, "192.0.2.1:5000", "bob", "builder-pass",
	    NULL, &res), AUTH_OK);
	assert_string_equal(res.user, "bob");
	assert_int_equal(stat_get(a, NULL, "authenticated"), 2);
	auth_free(a);
}

static void
test_htpasswd_wrong_password(void **state)
{
	struct tmpdir *t = *state;
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;

	config_with_files(t, &cfg, true, false);
	a = auth_make(&cfg);

	assert_int_equal(check_basic(a, "192.0.2.1:5000", "alice", "Wonderland",
	    "library/alpine", &res), AUTH_CHALLENGE);
	assert_int_equal(res.status, 401);
	assert_string_equal(res.code, "UNAUTHORIZED");
	assert_string_equal(res.message, "invalid username or password");
	assert_string_equal(result_header(&res, "WWW-Authenticate"),
	    "Basic realm=\"portcullis\"");
	assert_string_equal(res.user, "alice");

	/* An empty password is a wrong password too. */
	assert_int_equal(check_basic(a, "192.0.2.1:5000", "alice", "",
	    NULL, &res), AUTH_CHALLENGE);
	assert_int_equal(stat_get(a, "auth_failures", "bad_password"), 2);
	assert_int_equal(stat_get(a, NULL, "authenticated"), 0);
	auth_free(a);
}

static void
test_htpasswd_unknown_user(void **state)
{
	struct tmpdir *t = *state;
	struct auth_config cfg;
	struct auth_result unknown;
	struct auth_result wrong;
	struct auth *a;

	config_with_files(t, &cfg, true, false);
	a = auth_make(&cfg);

	assert_int_equal(check_basic(a, "192.0.2.1:5000", "mallory", "wonderland",
	    "library/alpine", &unknown), AUTH_CHALLENGE);
	assert_int_equal(check_basic(a, "192.0.2.1:5000", "alice", "nope",
	    "library/alpine", &wrong), AUTH_CHALLENGE);
	/* The response does not tell an unknown user from a wrong password. */
	assert_int_equal(unknown.status, wrong.status);
	assert_string_equal(unknown.code, wrong.code);
	assert_string_equal(unknown.message, wrong.message);
	assert_string_equal(result_header(&unknown, "WWW-Authenticate"),
	    result_header(&wrong, "WWW-Authenticate"));
	assert_int_equal(stat_get(a, "auth_failures", "unknown_user"), 1);
	assert_int_equal(stat_get(a, "auth_failures", "bad_password"), 1);
	auth_free(a);
}

static void
test_htpasswd_missing_credentials(void **state)
{
	struct tmpdir *t = *state;
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;

	config_with_files(t, &cfg, true, false);
	cfg.realm = "registry.example";
	a = auth_make(&cfg);

	assert_int_equal(check_anonymous(a, "[2001:db8::1]:443", NULL, NULL, &res),
	    AUTH_CHALLENGE);
	assert_int_equal(res.status, 401);
	assert_string_equal(res.code, "UNAUTHORIZED");
	assert_string_equal(res.message, "authentication required");
	assert_string_equal(result_header(&res, "WWW-Authenticate"),
	    "Basic realm=\"registry.example\"");
	assert_string_equal(res.client, "2001:db8::1");
	assert_string_equal(res.user, "-");
	assert_int_equal(stat_get(a, "auth_failures", "missing"), 1);
	auth_free(a);
}

static void
test_htpasswd_cache_hit_and_expiry(void **state)
{
	struct tmpdir *t = *state;
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;

	config_with_files(t, &cfg, true, false);
	cfg.cache_ttl_s = 30;
	a = auth_make(&cfg);

	for (int i = 0; i < 5; i++)
		assert_int_equal(check_basic(a, "192.0.2.1:1", "alice", "wonderland",
		    "library/alpine", &res), AUTH_OK);
	assert_int_equal(stat_get(a, "cache", "misses"), 1);
	assert_int_equal(stat_get(a, "cache", "hits"), 4);
	assert_int_equal(stat_get(a, "cache", "entries"), 1);

	/* A wrong password is never served from the cache. */
	assert_int_equal(check_basic(a, "192.0.2.1:1", "alice", "wonderlanD",
	    "library/alpine", &res), AUTH_CHALLENGE);
	assert_int_equal(stat_get(a, "cache", "hits"), 4);

	fake_now_ns += 31 * SECOND_NS;
	assert_int_equal(stat_get(a, "cache", "entries"), 0);
	assert_int_equal(check_basic(a, "192.0.2.1:1", "alice", "wonderland",
	    "library/alpine", &res), AUTH_OK);
	assert_int_equal(stat_get(a, "cache", "misses"), 3);
	auth_free(a);
}

static void
test_htpasswd_cache_off(void **state)
{
	struct tmpdir *t = *state;
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;

	config_with_files(t, &cfg, true, false);
	cfg.cache_ttl_s = 0;
	a = auth_make(&cfg);
	for (int i = 0; i < 2; i++)
		assert_int_equal(check_basic(a, "192.0.2.1:1", "alice", "wonderland",
		    NULL, &res), AUTH_OK);
	assert_int_equal(stat_get(a, "cache", "hits"), 0);
	assert_int_equal(stat_get(a, "cache", "misses"), 0);
	auth_free(a);
}

static void
test_htpasswd_malformed_file(void **state)
{
	static const struct {
		const char *content;
		const char *expected;
	} cases[] = {
		{ "alice\n", "htpasswd:1: invalid entry: expected user:hash" },
		{ "# comment\n\n:$2y$04$abcdefghijklmnopqrstuu5Ei0TByhUb5b0LW0VM2dWFnRvBFcWy6\n",
		  "htpasswd:3: invalid user name" },
		{ "alice:$2y$04$short\n", "htpasswd:1: user \"alice\" has a malformed bcrypt" },
		{ "a:$2y$04$abcdefghijklmnopqrstuu5Ei0TByhUb5b0LW0VM2dWFnRvBFcWy6 \n",
		  "htpasswd:1: user \"a\" has a malformed bcrypt" },
		{ "a:$2x$04$abcdefghijklmnopqrstuu5Ei0TByhUb5b0LW0VM2dWFnRvBFcWy6\n",
		  "htpasswd:1: user \"a\" has a legacy bcrypt ($2x$)" },
		{ "a:$2y$04$abcdefghijklmnopqrstuu5Ei0TByhUb5b0LW0VM2dWFnRvBF!Wy6\n",
		  "htpasswd:1: user \"a\" has a malformed bcrypt" },
		{ "a:$2y$99$abcdefghijklmnopqrstuu5Ei0TByhUb5b0LW0VM2dWFnRvBFcWy6\n",
		  "htpasswd:1: user \"a\" has bcrypt cost 99" },
		{ "", "htpasswd: no entries" },
		{ "# only a comment\n", "htpasswd: no entries" },
		{ "a:$2y$04$abcdefghijklmnopqrstuu5Ei0TByhUb5b0LW0VM2dWFnRvBFcWy6\n"
		  "a:$2y$04$abcdefghijklmnopqrstuu5Ei0TByhUb5b0LW0VM2dWFnRvBFcWy6\n",
		  "htpasswd: user \"a\" is listed twice" },
		{ "a\tb:$2y$04$abcdefghijklmnopqrstuu5Ei0TByhUb5b0LW0VM2dWFnRvBFcWy6\n",
		  "htpasswd:1: invalid user name" },
	};
	struct tmpdir *t = *state;
	struct auth_config cfg;
	char path[128];
	char errbuf[512];

	path_in(t, "htpasswd", path, sizeof(path));
	auth_config_init(&cfg);
	cfg.htpasswd_file = path;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tmpdir_write_file(path, cases[i].content);
		errbuf[0] = '\0';
		assert_int_equal(auth_load_error(&cfg, errbuf, sizeof(errbuf)),
		    PC_ERR_INVALID);
		if (strstr(errbuf, cases[i].expected) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, errbuf,
			    cases[i].expected);
	}

	/* A missing file is an I/O error that names the file. */
	path_in(t, "absent", path, sizeof(path));
	assert_int_equal(auth_load_error(&cfg, errbuf, sizeof(errbuf)), PC_ERR_IO);
	assert_non_null(strstr(errbuf, "absent: cannot open"));

	/* A FIFO or a folder is rejected at once instead of blocking. */
	path_in(t, "fifo", path, sizeof(path));
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(auth_load_error(&cfg, errbuf, sizeof(errbuf)),
	    PC_ERR_INVALID);
	assert_non_null(strstr(errbuf, "fifo: not a regular file"));
	cfg.htpasswd_file = t->dir;
	assert_int_equal(auth_load_error(&cfg, errbuf, sizeof(errbuf)),
	    PC_ERR_INVALID);
	assert_non_null(strstr(errbuf, "not a regular file"));
}

static void
test_htpasswd_embedded_nul_in_file(void **state)
{
	struct tmpdir *t = *state;
	struct auth_config cfg;
	char path[128];
	char errbuf[512];
	FILE *fp;

	path_in(t, "htpasswd", path, sizeof(path));
	fp = fopen(path, "w");
	assert_non_null(fp);
	fwrite("ok:x\nbad\0user:x\n", 1, 16, fp);
	fclose(fp);
	auth_config_init(&cfg);
	cfg.htpasswd_file = path;
	assert_int_equal(auth_load_error(&cfg, errbuf, sizeof(errbuf)),
	    PC_ERR_INVALID);
	/* The first line fails first: "x" is not bcrypt. */
	assert_non_null(strstr(errbuf, "htpasswd:1:"));

	fp = fopen(path, "w");
	assert_non_null(fp);
	fwrite("bad\0user:x\n", 1, 11, fp);
	fclose(fp);
	assert_int_equal(auth_load_error(&cfg, errbuf, sizeof(errbuf)),
	    PC_ERR_INVALID);
	assert_non_null(strstr(errbuf, "htpasswd:1: NUL byte in line"));
}

static void
test_htpasswd_rejects_other_hashes(void **state)
{
	static const struct {
		const char *flags;
		const char *kind;
	} cases[] = {
		{ "-m", "an MD5 (apr1) hash" },
		{ "-s", "a SHA-1 hash" },
		{ "-p", "a plain-text or DES-crypt hash" },
		{ "-d", "a plain-text or DES-crypt hash" },
		{ "-2", "a SHA-256-crypt hash" },
		{ "-5", "a SHA-512-crypt hash" },
	};
	struct tmpdir *t = *state;
	struct auth_config cfg;
	char path[128];
	char errbuf[512];

	path_in(t, "htpasswd", path, sizeof(path));
	auth_config_init(&cfg);
	cfg.htpasswd_file = path;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char flags[32];

		/* Line 1 is bcrypt, so the error must name line 2. */
		run_htpasswd(path, "-c -B -C 4", "good", "pw");
		snprintf(flags, sizeof(flags), "%s", cases[i].flags);
		run_htpasswd(path, flags, "legacy", "pw");
		assert_int_equal(auth_load_error(&cfg, errbuf, sizeof(errbuf)),
		    PC_ERR_INVALID);
		if (strstr(errbuf, "htpasswd:2: user \"legacy\" has") == NULL ||
		    strstr(errbuf, cases[i].kind) == NULL ||
		    strstr(errbuf, "htpasswd -B") == NULL)
			fail_msg("%s: unexpected error \"%s\"", cases[i].flags, errbuf);
	}
}

static void
test_htpasswd_bcrypt_variants(void **state)
{
	struct tmpdir *t = *state;
	char path[128];
	char line[256];
	char content[512] = "";
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;
	FILE *fp;

	/* htpasswd writes $2y$; $2b$ and $2a$ hash "pw" the same way. */
	path_in(t, "htpasswd", path, sizeof(path));
	run_htpasswd(path, "-c -B -C 4", "y", "pw");
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_non_null(fgets(line, sizeof(line), fp));
	fclose(fp);
	assert_memory_equal(line, "y:$2y$04$", 9);
	snprintf(content, sizeof(content), "%sb:$2b$%sa:$2a$%s", line, line + 6,
	    line + 6);
	tmpdir_write_file(path, content);

	config_with_clock(&cfg);
	cfg.htpasswd_file = path;
	a = auth_make(&cfg);
	assert_int_equal(check_basic(a, "192.0.2.1:1", "y", "pw", NULL, &res),
	    AUTH_OK);
	assert_int_equal(check_basic(a, "192.0.2.1:1", "b", "pw", NULL, &res),
	    AUTH_OK);
	assert_int_equal(check_basic(a, "192.0.2.1:1", "a", "pw", NULL, &res),
	    AUTH_OK);
	assert_int_equal(check_basic(a, "192.0.2.1:1", "a", "pw2", NULL, &res),
	    AUTH_CHALLENGE);
	auth_free(a);
}

/* Tokens */

static void
test_tokens_bearer_and_basic(void **state)
{
	struct tmpdir *t = *state;
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;

	config_with_files(t, &cfg, false, true);
	a = auth_make(&cfg);

	assert_int_equal(check_header(a, "Bearer tok-build-0123456789abcdef", &res),
	    AUTH_OK);
	assert_int_equal(res.identity, AUTH_ID_TOKEN);
	assert_string_equal(res.user, "ci-build");
	assert_int_equal(check_header(a, "bearer   tok-deploy-0123456789abcdef  ",
	    &res), AUTH_OK);
	assert_string_equal(res.user, "ci-deploy");

	/* Basic works with the token's name as user and the token as password. */
	assert_int_equal(check_basic(a, "192.0.2.1:1", "ci-deploy",
	    "tok-deploy-0123456789abcdef", NULL, &res), AUTH_OK);
	assert_int_equal(res.identity, AUTH_ID_TOKEN);
	assert_string_equal(res.user, "ci-deploy");
	assert_int_equal(check_basic(a, "192.0.2.1:1", "ci-build",
	    "tok-deploy-0123456789abcdef", NULL, &res), AUTH_CHALLENGE);
	assert_string_equal(res.message, "invalid token");
	auth_free(a);
}

static void
test_tokens_bad_token_challenge(void **state)
{
	struct tmpdir *t = *state;
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;

	config_with_files(t, &cfg, false, true);
	a = auth_make(&cfg);

	assert_int_equal(check_header(a, "Bearer tok-build-0123456789abcdeF", &res),
	    AUTH_CHALLENGE);
	assert_int_equal(res.status, 401);
	assert_string_equal(res.message, "invalid token");
	assert_string_equal(result_header(&res, "WWW-Authenticate"),
	    "Bearer realm=\"portcullis\",error=\"invalid_token\"");
	assert_string_equal(res.user, "-");

	/* A prefix of a valid token is not a token. */
	assert_int_equal(check_header(a, "Bearer tok-build-0123456789abcde", &res),
	    AUTH_CHALLENGE);
	assert_int_equal(check_anonymous(a, "192.0.2.1:1", NULL, NULL, &res),
	    AUTH_CHALLENGE);
	assert_string_equal(result_header(&res, "WWW-Authenticate"),
	    "Bearer realm=\"portcullis\"");
	assert_int_equal(stat_get(a, "auth_failures", "bad_token"), 2);
	assert_int_equal(stat_get(a, "auth_failures", "missing"), 1);
	auth_free(a);
}

static void
test_tokens_json_file(void **state)
{
	struct tmpdir *t = *state;
	char path[128];
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;

	path_in(t, "tokens.json", path, sizeof(path));
	tmpdir_write_file(path, "\n  {\"robot\": \"json-token-0123456789\",\n"
	    "   \"scanner\": \"json-token-abcdefghij\"}\n");
	config_with_clock(&cfg);
	cfg.tokens_file = path;
	a = auth_make(&cfg);
	assert_int_equal(check_header(a, "Bearer json-token-abcdefghij", &res),
	    AUTH_OK);
	assert_string_equal(res.user, "scanner");
	auth_free(a);
}

static void
test_tokens_invalid_files(void **state)
{
	static const struct {
		const char *content;
		const char *expected;
	} cases[] = {
		{ "name\n", "tokens:1: invalid line: expected \"name token\"" },
		{ "a tok-0123456789abcdef extra\n", "tokens:1: invalid line" },
		{ "short abc\n", "tokens:1: invalid token for \"short\": expected 16" },
		{ "na:me tok-0123456789abcdef\n", "tokens:1: invalid token name" },
		{ "a tok-0123456789abcdef\na tok-fedcba9876543210\n",
		  "token name \"a\" is listed twice" },
		{ "a tok-0123456789abcdef\nb tok-0123456789abcdef\n",
		  "tokens \"a\" and \"b\" are equal" },
		{ "# nothing\n", "tokens: no tokens" },
		{ "{\"a\": 5}", "tokens: token \"a\": the value must be a string" },
		{ "{\"a\": \"tok-0123456789abcdef\"", "tokens:1: invalid JSON" },
		{ "{\"a\": \"x\", \"a\": \"y\"}", "tokens:1: invalid JSON" },
		{ "{\"a\": \"tok with spaces 0123\"}", "invalid token for \"a\"" },
	};
	struct tmpdir *t = *state;
	struct auth_config cfg;
	char path[128];
	char errbuf[512];

	path_in(t, "tokens", path, sizeof(path));
	auth_config_init(&cfg);
	cfg.tokens_file = path;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tmpdir_write_file(path, cases[i].content);
		errbuf[0] = '\0';
		assert_int_not_equal(auth_load_error(&cfg, errbuf, sizeof(errbuf)),
		    PC_OK);
		if (strstr(errbuf, cases[i].expected) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, errbuf,
			    cases[i].expected);
		/* The message never repeats a token. */
		assert_null(strstr(errbuf, "0123456789abcdef"));
	}
}

static void
test_scheme_basic_with_both_files(void **state)
{
	struct tmpdir *t = *state;
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;

	config_with_files(t, &cfg, true, true);
	a = auth_make(&cfg);

	assert_int_equal(check_anonymous(a, "192.0.2.1:1", NULL, NULL, &res),
	    AUTH_CHALLENGE);
	assert_string_equal(result_header(&res, "WWW-Authenticate"),
	    "Basic realm=\"portcullis\"");
	assert_int_equal(check_header(a, "Bearer tok-build-0123456789abcdef", &res),
	    AUTH_OK);
	assert_int_equal(check_basic(a, "192.0.2.1:1", "alice", "wonderland", NULL,
	    &res), AUTH_OK);
	assert_int_equal(check_basic(a, "192.0.2.1:1", "ci-build",
	    "tok-build-0123456789abcdef", NULL, &res), AUTH_OK);
	assert_int_equal(res.identity, AUTH_ID_TOKEN);
	auth_free(a);

	/* The scheme can be forced. */
	cfg.scheme = AUTH_SCHEME_BEARER;
	a = auth_make(&cfg);
	assert_int_equal(check_anonymous(a, "192.0.2.1:1", NULL, NULL, &res),
	    AUTH_CHALLENGE);
	assert_string_equal(result_header(&res, "WWW-Authenticate"),
	    "Bearer realm=\"portcullis\"");
	auth_free(a);
}

/* Rules */

static void
test_rules_globs_and_order(void **state)
{
	static const char *const alice[] = { "alice" };
	static const char *const ci[] = { "ci-*" };
	static const char *const library[] = { "library/*" };
	static const char *const secret[] = { "library/secret*" };
	static const char *const team[] = { "team/app", "team/tools/*" };
	const struct auth_rule rules[] = {
		{ .users = ci, .n_users = 1, .repositories = secret,
		  .n_repositories = 1, .deny = true },
		{ .users = ci, .n_users = 1, .repositories = library,
		  .n_repositories = 1 },
		{ .users = alice, .n_users = 1, .repositories = team,
		  .n_repositories = 2 },
	};
	struct tmpdir *t = *state;
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;

	config_with_files(t, &cfg, true, true);
	cfg.rules = rules;
	cfg.n_rules = 3;
	a = auth_make(&cfg);

	assert_int_equal(check_basic(a, "192.0.2.1:1", "alice", "wonderland",
	    "team/app", &res), AUTH_OK);
	assert_int_equal(check_basic(a, "192.0.2.1:1", "alice", "wonderland",
	    "team/tools/a/b", &res), AUTH_OK);
	assert_int_equal(check_basic(a, "192.0.2.1:1", "alice", "wonderland",
	    "team/app2", &res), AUTH_DENIED);
	assert_int_equal(check_basic(a, "192.0.2.1:1", "alice", "wonderland",
	    "library/alpine", &res), AUTH_DENIED);
	assert_int_equal(res.status, 403);
	assert_string_equal(res.code, "DENIED");
	assert_int_equal(res.n_headers, 0);

	/* bob matches no rule: denied everywhere, but the ping still works. */
	assert_int_equal(check_basic(a, "192.0.2.1:1", "bob", "builder-pass",
	    "team/app", &res), AUTH_DENIED);
	assert_int_equal(check_basic(a, "192.0.2.1:1", "bob", "builder-pass",
	    NULL, &res), AUTH_OK);

	/* The deny rule comes first, so it wins over the broader allow. */
	assert_int_equal(check_header(a, "Bearer tok-build-0123456789abcdef", &res),
	    AUTH_OK);
	{
		struct test_request req;

		request_init(&req, "192.0.2.1:1");
		request_add(&req, "authorization", "Bearer tok-build-0123456789abcdef");
		assert_int_equal(auth_check(a, &req.req, "library/secrets", NULL,
		    &res), AUTH_DENIED);
		assert_int_equal(auth_check(a, &req.req, "library/debian", NULL,
		    &res), AUTH_OK);
		assert_int_equal(auth_check(a, &req.req, "team/app", NULL, &res),
		    AUTH_DENIED);
	}
	assert_int_equal(stat_get(a, NULL, "denied"), 5);
	auth_free(a);
}

static void
test_rules_same_denial_for_missing(void **state)
{
	static const char *const alice[] = { "alice" };
	static const char *const mine[] = { "alice/*" };
	const struct auth_rule rules[] = {
		{ .users = alice, .n_users = 1, .repositories = mine,
		  .n_repositories = 1 },
	};
	struct tmpdir *t = *state;
	struct auth_config cfg;
	struct auth_result existing;
	struct auth_result missing;
	struct auth *a;

	config_with_files(t, &cfg, true, false);
	cfg.rules = rules;
	cfg.n_rules = 1;
	a = auth_make(&cfg);

	/* A name that an upstream serves, and a name that no upstream has. */
	assert_int_equal(check_basic(a, "192.0.2.1:1", "bob", "builder-pass",
	    "library/alpine", &existing), AUTH_DENIED);
	assert_int_equal(check_basic(a, "192.0.2.1:1", "bob", "builder-pass",
	    "no/such/repository-4711", &missing), AUTH_DENIED);
	assert_int_equal(existing.status, missing.status);
	assert_string_equal(existing.code, missing.code);
	assert_string_equal(existing.message, missing.message);
	assert_string_equal(existing.message,
	    "requested access to the resource is denied");
	assert_int_equal(existing.n_headers, missing.n_headers);
	assert_null(strstr(existing.message, "alpine"));
	auth_free(a);
}

static void
test_rules_anonymous_access(void **state)
{
	static const char *const public_repos[] = { "public/*" };
	static const char *const everyone[] = { "*" };
	static const char *const all[] = { "*" };
	const struct auth_rule rules[] = {
		{ .anonymous = true, .repositories = public_repos,
		  .n_repositories = 1 },
		{ .users = everyone, .n_users = 1, .repositories = all,
		  .n_repositories = 1 },
	};
	struct tmpdir *t = *state;
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;

	config_with_files(t, &cfg, true, false);
	cfg.anonymous = true;
	cfg.rules = rules;
	cfg.n_rules = 2;
	a = auth_make(&cfg);

	assert_int_equal(check_anonymous(a, "192.0.2.1:1", "public/tools", NULL,
	    &res), AUTH_OK);
	assert_int_equal(res.identity, AUTH_ID_ANONYMOUS);
	assert_int_equal(check_anonymous(a, "192.0.2.1:1", NULL, NULL, &res),
	    AUTH_OK);
	/* "*" in users matches no anonymous client: it gets the challenge. */
	assert_int_equal(check_anonymous(a, "192.0.2.1:1", "private/tools", NULL,
	    &res), AUTH_CHALLENGE);
	assert_string_equal(result_header(&res, "WWW-Authenticate"),
	    "Basic realm=\"portcullis\"");
	assert_int_equal(check_basic(a, "192.0.2.1:1", "bob", "builder-pass",
	    "private/tools", &res), AUTH_OK);
	auth_free(a);
}

static void
test_no_credentials_configured(void **state)
{
	static const char *const cn[] = { "CN=ops,*" };
	static const char *const all[] = { "*" };
	const struct auth_rule rules[] = {
		{ .subjects = cn, .n_subjects = 1, .repositories = all,
		  .n_repositories = 1 },
	};
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;

	config_with_clock(&cfg);
	a = auth_make(&cfg);
	assert_false(auth_requires_credentials(a));
	assert_int_equal(check_anonymous(a, "192.0.2.1:1", "library/alpine", NULL,
	    &res), AUTH_OK);
	/* Basic has nothing to check against. */
	assert_int_equal(check_header(a, "Basic YTpi", &res), AUTH_CHALLENGE);
	assert_int_equal(stat_get(a, "auth_failures", "scheme"), 1);
	auth_free(a);

	/* With rules but no files, an anonymous denial is a 403. */
	cfg.rules = rules;
	cfg.n_rules = 1;
	a = auth_make(&cfg);
	assert_int_equal(check_anonymous(a, "192.0.2.1:1", "library/alpine", NULL,
	    &res), AUTH_DENIED);
	assert_int_equal(res.status, 403);
	assert_int_equal(check_anonymous(a, "192.0.2.1:1", "library/alpine",
	    "CN=ops,O=Example", &res), AUTH_OK);
	auth_free(a);
}

static void
test_rules_invalid(void **state)
{
	static const char *const users[] = { "alice" };
	static const char *const empty[] = { "" };
	static const char *const all[] = { "*" };
	struct auth_rule rule = { 0 };
	struct auth_config cfg;
	char errbuf[256];

	auth_config_init(&cfg);
	cfg.rules = &rule;
	cfg.n_rules = 1;

	rule.repositories = all;
	rule.n_repositories = 1;
	assert_int_equal(auth_load_error(&cfg, errbuf, sizeof(errbuf)),
	    PC_ERR_INVALID);
	assert_non_null(strstr(errbuf, "auth rule 1: names no users"));

	rule.users = users;
	rule.n_users = 1;
	rule.n_repositories = 0;
	assert_int_equal(auth_load_error(&cfg, errbuf, sizeof(errbuf)),
	    PC_ERR_INVALID);
	assert_non_null(strstr(errbuf, "names no repositories"));

	rule.repositories = empty;
	rule.n_repositories = 1;
	assert_int_equal(auth_load_error(&cfg, errbuf, sizeof(errbuf)),
	    PC_ERR_INVALID);
	assert_non_null(strstr(errbuf, "repositories entry 1 is empty"));

	cfg.n_rules = AUTH_MAX_RULES + 1;
	assert_int_equal(auth_load_error(&cfg, errbuf, sizeof(errbuf)),
	    PC_ERR_LIMIT);

	cfg.n_rules = 0;
	cfg.realm = "bad\"realm";
	assert_int_equal(auth_load_error(&cfg, errbuf, sizeof(errbuf)),
	    PC_ERR_INVALID);
	assert_non_null(strstr(errbuf, "auth realm"));
}

/* Client certificates */

static void
test_mtls_subject_identity(void **state)
{
	static const char *const build[] = { "CN=build-*,O=Example" };
	static const char *const all[] = { "*" };
	const struct auth_rule rules[] = {
		{ .subjects = build, .n_subjects = 1, .repositories = all,
		  .n_repositories = 1 },
	};
	struct tmpdir *t = *state;
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;

	config_with_files(t, &cfg, true, false);
	cfg.rules = rules;
	cfg.n_rules = 1;
	a = auth_make(&cfg);

	assert_int_equal(check_anonymous(a, "192.0.2.1:1", "library/alpine",
	    "CN=build-7,O=Example", &res), AUTH_OK);
	assert_int_equal(res.identity, AUTH_ID_CERTIFICATE);
	assert_string_equal(res.user, "CN=build-7,O=Example");

	/* A subject no rule names is denied, not challenged. */
	assert_int_equal(check_anonymous(a, "192.0.2.1:1", "library/alpine",
	    "CN=laptop,O=Example", &res), AUTH_DENIED);

	/* A subject is not a user name: alice has no rule. */
	assert_int_equal(check_basic(a, "192.0.2.1:1", "alice", "wonderland",
	    "library/alpine", &res), AUTH_DENIED);

	/* A failing Authorization header is not rescued by the certificate. */
	{
		struct test_request req;

		request_init(&req, "192.0.2.1:1");
		request_add(&req, "authorization", "Basic !!!!");
		assert_int_equal(auth_check(a, &req.req, "library/alpine",
		    "CN=build-7,O=Example", &res), AUTH_CHALLENGE);
	}

	/* Control characters and overlong subjects are malformed. */
	assert_int_equal(check_anonymous(a, "192.0.2.1:1", "library/alpine",
	    "CN=build-7\n,O=Example", &res), AUTH_CHALLENGE);
	{
		char subject[AUTH_MAX_SUBJECT_BYTES + 2];

		memset(subject, 'A', sizeof(subject) - 1);
		subject[sizeof(subject) - 1] = '\0';
		assert_int_equal(check_anonymous(a, "192.0.2.1:1", "library/alpine",
		    subject, &res), AUTH_CHALLENGE);
	}
	assert_int_equal(stat_get(a, "auth_failures", "malformed"), 3);
	auth_free(a);
}

/* Client certificates from a real TLS handshake */

static void
make_certificates(const struct tmpdir *t)
{
	char cmd[2048];

	/* A CA with a server and a client certificate, and a stranger. */
	snprintf(cmd, sizeof(cmd), "cd '%s' && { "
	    "K='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'; "
	    "openssl req -x509 $K -keyout ca.key -out ca.pem -subj '/CN=Test CA' "
	    "-days 2 && "
	    "openssl req $K -keyout server.key -out server.csr -subj '/CN=localhost' && "
	    "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
	    "-CAcreateserial -out server.pem -days 2 && "
	    "openssl req $K -keyout client.key -out client.csr "
	    "-subj '/O=Example/CN=build-7' && "
	    "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key "
	    "-CAcreateserial -out client.pem -days 2 && "
	    "openssl req -x509 $K -keyout other.key -out other.pem "
	    "-subj '/O=Example/CN=build-8' -days 2; } >/dev/null 2>&1", t->dir);
	assert_int_equal(system(cmd), 0);
}

static int
verify_accept_all(int preverified, X509_STORE_CTX *ctx)
{
	return 1;
}

static SSL_CTX *
tls_context(const struct tmpdir *t, bool server, const char *cert_name,
    bool accept_any)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() :
	    TLS_client_method());
	char cert[128];
	char key[128];
	char ca[128];

	assert_non_null(ctx);
	if (cert_name != NULL) {
		snprintf(cert, sizeof(cert), "%s/%s.pem", t->dir, cert_name);
		snprintf(key, sizeof(key), "%s/%s.key", t->dir, cert_name);
		assert_int_equal(SSL_CTX_use_certificate_file(ctx, cert,
		    SSL_FILETYPE_PEM), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, key,
		    SSL_FILETYPE_PEM), 1);
	}
	if (server) {
		/* As the listener does it: verify clients against the CA. */
		snprintf(ca, sizeof(ca), "%s/ca.pem", t->dir);
		assert_int_equal(SSL_CTX_load_verify_locations(ctx, ca, NULL), 1);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER,
		    accept_any ? verify_accept_all : NULL);
	}
	return ctx;
}

/* Runs a handshake over a BIO pair and returns the server's end. */
static SSL *
tls_handshake(const struct tmpdir *t, const char *client_cert,
    bool accept_any)
{
	SSL_CTX *server_ctx = tls_context(t, true, "server", accept_any);
	SSL_CTX *client_ctx = tls_context(t, false, client_cert, false);
	SSL *server = SSL_new(server_ctx);
	SSL *client = SSL_new(client_ctx);
	BIO *server_bio = NULL;
	BIO *client_bio = NULL;
	bool done = false;

	assert_non_null(server);
	assert_non_null(client);
	assert_int_equal(BIO_new_bio_pair(&server_bio, 0, &client_bio, 0), 1);
	SSL_set_bio(server, server_bio, server_bio);
	SSL_set_bio(client, client_bio, client_bio);
	SSL_set_accept_state(server);
	SSL_set_connect_state(client);
	for (int i = 0; i < 100 && !done; i++) {
		int c = SSL_do_handshake(client);
		int s = SSL_do_handshake(server);

		done = c == 1 && s == 1;
	}
	assert_true(done);
	SSL_free(client);
	SSL_CTX_free(client_ctx);
	SSL_CTX_free(server_ctx);
	return server;
}

static void
test_tls_client_subject(void **state)
{
	static const char *const build[] = { "CN=build-*,O=Example" };
	static const char *const all[] = { "*" };
	const struct auth_rule rules[] = {
		{ .subjects = build, .n_subjects = 1, .repositories = all,
		  .n_repositories = 1 },
	};
	struct tmpdir *t = *state;
	char subject[AUTH_USER_BUFSIZE];
	char small[8];
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;
	SSL *ssl;

	make_certificates(t);
	ssl = tls_handshake(t, "client", false);
	assert_int_equal(auth_tls_client_subject(ssl, subject, sizeof(subject)),
	    PC_OK);
	assert_string_equal(subject, "CN=build-7,O=Example");
	assert_int_equal(auth_tls_client_subject(ssl, small, sizeof(small)),
	    PC_ERR_LIMIT);
	assert_string_equal(small, "");
	SSL_free(ssl);

	/* The subject is what auth_check() matches the rules against. */
	config_with_clock(&cfg);
	cfg.rules = rules;
	cfg.n_rules = 1;
	a = auth_make(&cfg);
	assert_int_equal(check_anonymous(a, "192.0.2.1:1", "library/alpine",
	    subject, &res), AUTH_OK);
	assert_int_equal(res.identity, AUTH_ID_CERTIFICATE);
	auth_free(a);

	/* No client certificate. */
	ssl = tls_handshake(t, NULL, false);
	assert_int_equal(auth_tls_client_subject(ssl, subject, sizeof(subject)),
	    PC_ERR_NOTFOUND);
	SSL_free(ssl);

	/* A certificate from another CA, let through by a lax callback. */
	ssl = tls_handshake(t, "other", true);
	assert_int_equal(auth_tls_client_subject(ssl, subject, sizeof(subject)),
	    PC_ERR_NOTFOUND);
	SSL_free(ssl);
}

/* Hostile Authorization headers */

static void
test_hostile_authorization_headers(void **state)
{
	struct tmpdir *t = *state;
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;
	char header[1024];
	char *huge;
	static const char *const malformed[] = {
		"Basic",
		"Basic ",
		"Basic !!!!",
		"Basic YWxpY2U",            /* no padding */
		"Basic YWxp=2U6",           /* '=' inside */
		"Basic YWxpY2U=",           /* "alice": no ':' */
		"Basic ====",
		"Basic YW\x01xp",
		"Basic YWxpY2U6d29uZGVybGFuZA==\x7f",
		"Bearer",
	};

	config_with_files(t, &cfg, true, true);
	a = auth_make(&cfg);

	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		if (check_header(a, malformed[i], &res) != AUTH_CHALLENGE)
			fail_msg("\"%s\" was accepted", malformed[i]);
		assert_int_equal(res.status, 401);
	}
	assert_int_equal(stat_get(a, "auth_failures", "malformed"),
	    (json_int_t)(sizeof(malformed) / sizeof(malformed[0])));

	/* An unknown scheme is a scheme failure. */
	assert_int_equal(check_header(a, "Digest username=\"alice\"", &res),
	    AUTH_CHALLENGE);
	assert_int_equal(check_header(a, "Basicx YWxpY2U6d29uZGVybGFuZA==", &res),
	    AUTH_CHALLENGE);
	assert_int_equal(stat_get(a, "auth_failures", "scheme"), 2);

	/* A NUL byte inside the decoded credentials. */
	basic_header(header, sizeof(header), "alice\0x:wonderland", 18);
	assert_int_equal(check_header(a, header, &res), AUTH_CHALLENGE);
	basic_header(header, sizeof(header), "alice:wonderland\0junk", 21);
	assert_int_equal(check_header(a, header, &res), AUTH_CHALLENGE);
	/* Control characters in the user name. */
	basic_header(header, sizeof(header), "al\nice:wonderland", 17);
	assert_int_equal(check_header(a, header, &res), AUTH_CHALLENGE);
	assert_string_equal(res.message, "malformed credentials");
	/* Empty and overlong user names. */
	basic_header(header, sizeof(header), ":wonderland", 11);
	assert_int_equal(check_header(a, header, &res), AUTH_CHALLENGE);
	{
		char user[AUTH_MAX_NAME_BYTES + 20];

		memset(user, 'u', AUTH_MAX_NAME_BYTES + 1);
		memcpy(user + AUTH_MAX_NAME_BYTES + 1, ":pw", 4);
		basic_header(header, sizeof(header), user, strlen(user));
		assert_int_equal(check_header(a, header, &res), AUTH_CHALLENGE);
	}

	/* A header far over the limit, made of valid base64. */
	huge = malloc(AUTH_MAX_AUTHORIZATION_BYTES * 4);
	assert_non_null(huge);
	memcpy(huge, "Basic ", 6);
	memset(huge + 6, 'A', AUTH_MAX_AUTHORIZATION_BYTES * 4 - 7);
	huge[AUTH_MAX_AUTHORIZATION_BYTES * 4 - 1] = '\0';
	assert_int_equal(check_header(a, huge, &res), AUTH_CHALLENGE);
	assert_string_equal(res.message, "malformed credentials");
	/* Just under the limit it is decoded, and its NUL bytes rejected. */
	huge[AUTH_MAX_AUTHORIZATION_BYTES - 2] = '\0';
	assert_int_equal(check_header(a, huge, &res), AUTH_CHALLENGE);
	free(huge);

	/* Two Authorization headers: neither is trusted. */
	{
		struct test_request req;

		basic_header(header, sizeof(header), "alice:wonderland", 16);
		request_init(&req, "192.0.2.1:1");
		request_add(&req, "authorization", header);
		request_add(&req, "authorization", header);
		assert_int_equal(auth_check(a, &req.req, NULL, NULL, &res),
		    AUTH_CHALLENGE);
		assert_string_equal(res.message, "malformed credentials");
	}

	/* The good header still works after all that. */
	basic_header(header, sizeof(header), "alice:wonderland", 16);
	assert_int_equal(check_header(a, header, &res), AUTH_OK);
	auth_free(a);
}

static void
test_hostile_peer_strings(void **state)
{
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;

	config_with_clock(&cfg);
	a = auth_make(&cfg);
	assert_int_equal(check_anonymous(a, NULL, NULL, NULL, &res), AUTH_OK);
	assert_string_equal(res.client, "-");
	assert_int_equal(check_anonymous(a, "", NULL, NULL, &res), AUTH_OK);
	assert_string_equal(res.client, "-");
	assert_int_equal(check_anonymous(a, "[::1", NULL, NULL, &res), AUTH_OK);
	assert_string_equal(res.client, "[::1");
	assert_int_equal(check_anonymous(a, "unix", NULL, NULL, &res), AUTH_OK);
	assert_string_equal(res.client, "unix");
	auth_free(a);
}

/* Rate limits */

static void
test_rate_client_bucket(void **state)
{
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;

	config_with_clock(&cfg);
	cfg.rate.per_client_rps = 2;
	cfg.rate.per_client_burst = 3;
	a = auth_make(&cfg);

	for (int i = 0; i < 3; i++)
		assert_int_equal(check_anonymous(a, "192.0.2.1:1", "x/y", NULL, &res),
		    AUTH_OK);
	assert_int_equal(check_anonymous(a, "192.0.2.1:2", "x/y", NULL, &res),
	    AUTH_RATE_LIMITED);
	assert_int_equal(res.status, 429);
	assert_string_equal(res.code, "TOOMANYREQUESTS");
	assert_string_equal(result_header(&res, "Retry-After"), "1");
	assert_non_null(strstr(res.message, "too many requests from this client"));

	/* Another address has its own bucket. */
	assert_int_equal(check_anonymous(a, "192.0.2.2:1", "x/y", NULL, &res),
	    AUTH_OK);

	/* Half a second at 2 per second gives one token back. */
	fake_now_ns += SECOND_NS / 2;
	assert_int_equal(check_anonymous(a, "192.0.2.1:1", "x/y", NULL, &res),
	    AUTH_OK);
	assert_int_equal(check_anonymous(a, "192.0.2.1:1", "x/y", NULL, &res),
	    AUTH_RATE_LIMITED);

	/* A long pause refills to the burst, not beyond. */
	fake_now_ns += 3600 * SECOND_NS;
	for (int i = 0; i < 3; i++)
		assert_int_equal(check_anonymous(a, "192.0.2.1:1", "x/y", NULL, &res),
		    AUTH_OK);
	assert_int_equal(check_anonymous(a, "192.0.2.1:1", "x/y", NULL, &res),
	    AUTH_RATE_LIMITED);
	assert_int_equal(stat_get(a, "rate_limited", "client"), 3);
	auth_free(a);
}

static void
test_rate_retry_after_rounds_up(void **state)
{
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;

	config_with_clock(&cfg);
	cfg.rate.per_client_rps = 0.3;
	cfg.rate.per_client_burst = 1;
	a = auth_make(&cfg);

	assert_int_equal(check_anonymous(a, "192.0.2.1:1", NULL, NULL, &res),
	    AUTH_OK);
	/* 1 / 0.3 = 3.33 s until the next token: Retry-After is 4. */
	assert_int_equal(check_anonymous(a, "192.0.2.1:1", NULL, NULL, &res),
	    AUTH_RATE_LIMITED);
	assert_string_equal(result_header(&res, "Retry-After"), "4");
	fake_now_ns += 3 * SECOND_NS;
	assert_int_equal(check_anonymous(a, "192.0.2.1:1", NULL, NULL, &res),
	    AUTH_RATE_LIMITED);
	assert_string_equal(result_header(&res, "Retry-After"), "1");
	fake_now_ns += SECOND_NS / 2;
	assert_int_equal(check_anonymous(a, "192.0.2.1:1", NULL, NULL, &res),
	    AUTH_OK);
	auth_free(a);
}

static void
test_rate_per_user_across_clients(void **state)
{
	struct tmpdir *t = *state;
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;
	struct test_request req;

	config_with_files(t, &cfg, false, true);
	cfg.rate.per_user_rps = 1;
	cfg.rate.per_user_burst = 2;
	a = auth_make(&cfg);

	request_init(&req, "192.0.2.1:1");
	request_add(&req, "authorization", "Bearer tok-build-0123456789abcdef");
	assert_int_equal(auth_check(a, &req.req, NULL, NULL, &res), AUTH_OK);
	req.req.peer = "192.0.2.2:1";
	assert_int_equal(auth_check(a, &req.req, NULL, NULL, &res), AUTH_OK);
	req.req.peer = "192.0.2.3:1";
	assert_int_equal(auth_check(a, &req.req, NULL, NULL, &res),
	    AUTH_RATE_LIMITED);
	assert_non_null(strstr(res.message, "too many requests for this user"));
	assert_string_equal(res.user, "ci-build");

	/* The other token is a different user. */
	assert_int_equal(check_header(a, "Bearer tok-deploy-0123456789abcdef",
	    &res), AUTH_OK);
	assert_int_equal(stat_get(a, "rate_limited", "user"), 1);
	assert_int_equal(stat_get(a, NULL, "tracked_users"), 2);
	auth_free(a);
}

static void
test_rate_limit_before_bcrypt(void **state)
{
	struct tmpdir *t = *state;
	struct auth_config cfg;
	struct auth_result res;
	struct auth *a;

	config_with_files(t, &cfg, true, false);
	cfg.rate.per_client_rps = 1;
	cfg.rate.per_client_burst = 2;
	a = auth_make(&cfg);

	for (int i = 0; i < 2; i++)
		assert_int_equal(check_basic(a, "192.0.2.9:1", "alice", "guess",
		    NULL, &res), AUTH_CHALLENGE);
	/* The third guess is cut off before any password is checked. */
	assert_int_equal(check_basic(a, "192.0.2.9:1", "alice", "wonderland",
	    NULL, &res), AUTH_RATE_LIMITED);
	assert_int_equal(stat_get(a, "auth_failures", "bad_password"), 2);
	assert_int_equal(stat_get(a, "cache", "misses"), 2);
	auth_free(a);
}

static void
test_stream_limits(void **state)
{
	struct tmpdir *t = *state;
	struct auth_config cfg;
	struct auth_result first;
	struct auth_result second;
	struct auth_result third;
	struct auth_result other;
	struct auth *a;

	config_with_files(t, &cfg, false, true);
	cfg.rate.per_client_streams = 2;
	cfg.rate.per_user_streams = 3;
	a = auth_make(&cfg);

	assert_int_equal(check_header(a, "Bearer tok-build-0123456789abcdef",
	    &first), AUTH_OK);
	second = first;
	third = first;
	assert_int_equal(auth_stream_acquire(a, &first), AUTH_OK);
	assert_true(first.stream_held);
	assert_int_equal(auth_stream_acquire(a, &second), AUTH_OK);
	assert_int_equal(auth_stream_acquire(a, &third), AUTH_RATE_LIMITED);
	assert_false(third.stream_held);
	assert_int_equal(third.status, 429);
	assert_string_equal(third.code, "TOOMANYREQUESTS");
	assert_string_equal(result_header(&third, "Retry-After"), "2");
	assert_non_null(strstr(third.message, "from this client"));
	assert_int_equal(stat_get(a, NULL, "open_streams"), 2);

	/* The same user from another address: one stream left for the user. */
	{
		struct test_request req;
		struct auth_result fourth;

		request_init(&req, "192.0.2.50:1");
		request_add(&req, "authorization", "Bearer tok-build-0123456789abcdef");
		assert_int_equal(auth_check(a, &req.req, NULL, NULL, &other), AUTH_OK);
		fourth = other;
		assert_int_equal(auth_stream_acquire(a, &other), AUTH_OK);
		assert_int_equal(auth_stream_acquire(a, &fourth), AUTH_RATE_LIMITED);
		assert_non_null(strstr(fourth.message, "for this user"));
		/* The client's slot taken for the user check was given back. */
		auth_stream_release(a, &other);
		assert_int_equal(stat_get(a, NULL, "open_streams"), 2);
	}

	auth_stream_release(a, &first);
	assert_false(first.stream_held);
	auth_stream_release(a, &first);
	assert_int_equal(stat_get(a, NULL, "open_streams"), 1);
	assert_int_equal(check_header(a, "Bearer tok-build-0123456789abcdef",
	    &third), AUTH_OK);
	assert_int_equal(auth_stream_acquire(a, &third), AUTH_OK);
	auth_stream_release(a, &second);
	auth_stream_release(a, &third);
	assert_int_equal(stat_get(a, NULL, "open_streams"), 0);
	assert_int_equal(stat_get(a, "rate_limited", "streams"), 2);

	/* A refused result cannot open a stream. */
	assert_int_equal(check_header(a, "Bearer nope-nope-nope-nope-nope", &other),
	    AUTH_CHALLENGE);
	assert_int_equal(auth_stream_acquire(a, &other), AUTH_CHALLENGE);
	auth_free(a);
}

static void
test_tracked_clients_eviction(void **state)
{
	struct auth_config cfg;
	struct auth_result res;
	struct auth_result held[2];
	struct auth *a;

	config_with_clock(&cfg);
	cfg.rate.per_client_rps = 1;
	cfg.rate.per_client_burst = 1;
	cfg.rate.per_client_streams = 1;
	cfg.rate.max_tracked = 2;
	cfg.rate.idle_s = 60;
	a = auth_make(&cfg);

	assert_int_equal(check_anonymous(a, "192.0.2.1:1", NULL, NULL, &res),
	    AUTH_OK);
	assert_int_equal(check_anonymous(a, "192.0.2.2:1", NULL, NULL, &res),
	    AUTH_OK);
	assert_int_equal(stat_get(a, NULL, "tracked_clients"), 2);

	/* A third client evicts the least recently used, 192.0.2.1. */
	assert_int_equal(check_anonymous(a, "192.0.2.3:1", NULL, NULL, &res),
	    AUTH_OK);
	assert_int_equal(stat_get(a, NULL, "tracked_clients"), 2);
	assert_int_equal(check_anonymous(a, "192.0.2.2:1", NULL, NULL, &res),
	    AUTH_RATE_LIMITED);
	assert_int_equal(check_anonymous(a, "192.0.2.1:1", NULL, NULL, &res),
	    AUTH_OK);

	/* Idle clients are forgotten after idle_s. */
	fake_now_ns += 61 * SECOND_NS;
	assert_int_equal(check_anonymous(a, "192.0.2.4:1", NULL, NULL, &res),
	    AUTH_OK);
	assert_int_equal(stat_get(a, NULL, "tracked_clients"), 1);

	/* Clients with an open stream are never evicted. */
	assert_int_equal(check_anonymous(a, "192.0.2.5:1", NULL, NULL, &held[0]),
	    AUTH_OK);
	assert_int_equal(auth_stream_acquire(a, &held[0]), AUTH_OK);
	fake_now_ns += SECOND_NS;
	assert_int_equal(check_anonymous(a, "192.0.2.6:1", NULL, NULL, &held[1]),
	    AUTH_OK);
	assert_int_equal(auth_stream_acquire(a, &held[1]), AUTH_OK);
	fake_now_ns += 600 * SECOND_NS;
	assert_int_equal(check_anonymous(a, "192.0.2.7:1", NULL, NULL, &res),
	    AUTH_RATE_LIMITED);
	assert_non_null(strstr(res.message, "too many clients are active"));
	assert_int_equal(stat_get(a, "rate_limited", "capacity"), 1);
	assert_int_equal(stat_get(a, NULL, "tracked_clients"), 2);

	auth_stream_release(a, &held[0]);
	assert_int_equal(check_anonymous(a, "192.0.2.7:1", NULL, NULL, &res),
	    AUTH_OK);
	auth_stream_release(a, &held[1]);
	auth_free(a);
}

static void
test_ratelimit_table_direct(void **state)
{
	struct ratelimit_class cls = { .rps = 10, .burst = 1 };
	struct ratelimit *rl = NULL;
	char key[RATELIMIT_KEY_MAX + 2];
	unsigned retry = 0;

	assert_int_equal(ratelimit_new(&cls, 4, 1, &rl), PC_OK);
	assert_int_equal(ratelimit_take(rl, "k", 0, &retry), RATELIMIT_OK);
	assert_int_equal(ratelimit_take(rl, "k", 1, &retry), RATELIMIT_LIMITED);
	assert_int_equal(retry, 1);
	/* A clock that goes backwards takes nothing and gives nothing. */
	assert_int_equal(ratelimit_take(rl, "k", 0, &retry), RATELIMIT_LIMITED);
	assert_int_equal(ratelimit_take(rl, "k", SECOND_NS / 10 + 1, &retry),
	    RATELIMIT_OK);

	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	assert_int_equal(ratelimit_take(rl, key, SECOND_NS, &retry),
	    RATELIMIT_LIMITED);
	assert_int_equal(ratelimit_count(rl), 1);

	/* Many keys through a table of four stay at four. */
	for (int i = 0; i < 1000; i++) {
		char name[16];

		snprintf(name, sizeof(name), "key-%d", i);
		assert_int_equal(ratelimit_take(rl, name, SECOND_NS, &retry),
		    RATELIMIT_OK);
	}
	assert_int_equal(ratelimit_count(rl), 4);
	ratelimit_free(rl);

	/* Extreme rates stay within range: Retry-After stops at one day. */
	cls.rps = 1e-300;
	assert_int_equal(ratelimit_new(&cls, 4, 1, &rl), PC_OK);
	assert_int_equal(ratelimit_take(rl, "k", 0, &retry), RATELIMIT_OK);
	assert_int_equal(ratelimit_take(rl, "k", 0, &retry), RATELIMIT_LIMITED);
	assert_int_equal(retry, RATELIMIT_MAX_RETRY_AFTER_S);
	ratelimit_free(rl);
	cls.rps = 1e300;
	assert_int_equal(ratelimit_new(&cls, 4, 1, &rl), PC_OK);
	assert_int_equal(ratelimit_take(rl, "k", 0, &retry), RATELIMIT_OK);
	assert_int_equal(ratelimit_take(rl, "k", 1, &retry), RATELIMIT_OK);
	ratelimit_free(rl);

	cls.rps = 10;
	cls.burst = 0;
	assert_int_equal(ratelimit_new(&cls, 4, 1, &rl), PC_ERR_INVALID);
	cls.rps = -1;
	cls.burst = 1;
	assert_int_equal(ratelimit_new(&cls, 4, 1, &rl), PC_ERR_INVALID);
}

static void
test_invalid_rate_config(void **state)
{
	struct auth_config cfg;
	char errbuf[256];

	auth_config_init(&cfg);
	cfg.rate.per_client_rps = 5;
	cfg.rate.per_client_burst = 0;
	assert_int_equal(auth_load_error(&cfg, errbuf, sizeof(errbuf)),
	    PC_ERR_INVALID);
	assert_non_null(strstr(errbuf, "auth rate"));
}

/* Statistics */

static void
test_stats_shape(void **state)
{
	struct auth_config cfg;
	struct auth *a;
	json_t *stats;
	json_t *failures;

	config_with_clock(&cfg);
	a = auth_make(&cfg);
	stats = auth_stats(a);
	assert_non_null(stats);
	failures = json_object_get(stats, "auth_failures");
	assert_non_null(failures);
	for (int i = 0; i < AUTH_FAIL_COUNT; i++)
		assert_non_null(json_object_get(failures, auth_failure_name(i)));
	assert_string_equal(auth_failure_name(AUTH_FAIL_BAD_PASSWORD),
	    "bad_password");
	assert_string_equal(auth_failure_name(AUTH_FAIL_COUNT), "unknown");
	assert_non_null(json_object_get(stats, "rate_limited"));
	assert_non_null(json_object_get(stats, "cache"));
	assert_non_null(json_object_get(stats, "denied"));
	json_decref(stats);
	auth_free(a);
}

/* Concurrent callers share the cache, the tables and the counters. */
#define THREAD_COUNT 4
#define THREAD_ROUNDS 300

struct thread_arg {
	struct auth *a;
	char peer[32];
	int failures;
};

static void *
thread_main(void *p)
{
	struct thread_arg *arg = p;

	for (int i = 0; i < THREAD_ROUNDS; i++) {
		struct auth_result res;

		if (check_basic(arg->a, arg->peer, "alice", "wonderland",
		    "library/alpine", &res) != AUTH_OK ||
		    auth_stream_acquire(arg->a, &res) != AUTH_OK) {
			arg->failures++;
			continue;
		}
		auth_stream_release(arg->a, &res);
	}
	return NULL;
}

static void
test_concurrent_checks(void **state)
{
	struct tmpdir *t = *state;
	struct auth_config cfg;
	struct thread_arg args[THREAD_COUNT];
	pthread_t threads[THREAD_COUNT];
	struct auth *a;

	config_with_files(t, &cfg, true, false);
	cfg.clock_ns = NULL;
	cfg.rate.per_client_streams = 1;
	cfg.rate.per_user_streams = THREAD_COUNT;
	a = auth_make(&cfg);

	for (int i = 0; i < THREAD_COUNT; i++) {
		args[i].a = a;
		args[i].failures = 0;
		snprintf(args[i].peer, sizeof(args[i].peer), "192.0.2.%d:1", i + 1);
		assert_int_equal(pthread_create(&threads[i], NULL, thread_main,
		    &args[i]), 0);
	}
	for (int i = 0; i < THREAD_COUNT; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
	}
	assert_int_equal(stat_get(a, NULL, "authenticated"),
	    THREAD_COUNT * THREAD_ROUNDS);
	assert_int_equal(stat_get(a, NULL, "open_streams"), 0);
	assert_int_equal(stat_get(a, "cache", "hits") +
	    stat_get(a, "cache", "misses"), THREAD_COUNT * THREAD_ROUNDS);
	auth_free(a);
}

/* Allocation failures unwind without leaks or crashes. */
static void
test_auth_new_allocation_failures(void **state)
{
	static const char *const users[] = { "ci-*" };
	static const char *const repos[] = { "library/*", "team/*" };
	const struct auth_rule rules[] = {
		{ .users = users, .n_users = 1, .repositories = repos,
		  .n_repositories = 2 },
	};
	struct tmpdir *t = *state;
	struct auth_config cfg;
	struct auth_result res;
	bool done = false;

	config_with_files(t, &cfg, true, true);
	cfg.rules = rules;
	cfg.n_rules = 1;
	cfg.rate.per_client_rps = 100;
	cfg.rate.per_client_burst = 100;
	cfg.rate.per_user_streams = 4;

	for (long n = 0; n < 500 && !done; n++) {
		struct auth *a = NULL;
		char errbuf[256];
		int err;

		pc_alloc_fail_after(n);
		err = auth_new(&cfg, &a, errbuf, sizeof(errbuf));
		if (err == PC_OK) {
			/* Requests under memory pressure fail cleanly too. */
			enum auth_outcome o = check_basic(a, "192.0.2.1:1", "alice",
			    "wonderland", "library/x", &res);

			assert_true(o == AUTH_DENIED || o == AUTH_UNAVAILABLE ||
			    o == AUTH_RATE_LIMITED);
			pc_alloc_fail_after(-1);
			auth_free(a);
			done = n > 0 && o == AUTH_DENIED;
			continue;
		}
		pc_alloc_fail_after(-1);
		assert_null(a);
		assert_true(err == PC_ERR_NOMEM || err == PC_ERR_INVALID);
	}
	pc_alloc_fail_after(-1);
	assert_true(done);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_htpasswd_valid_password,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_htpasswd_wrong_password,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_htpasswd_unknown_user,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_htpasswd_missing_credentials,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_htpasswd_cache_hit_and_expiry,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_htpasswd_cache_off,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_htpasswd_malformed_file,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_htpasswd_embedded_nul_in_file,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_htpasswd_rejects_other_hashes,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_htpasswd_bcrypt_variants,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_tokens_bearer_and_basic,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_tokens_bad_token_challenge,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_tokens_json_file,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_tokens_invalid_files,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_scheme_basic_with_both_files,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_rules_globs_and_order,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_rules_same_denial_for_missing,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_rules_anonymous_access,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_no_credentials_configured),
		cmocka_unit_test(test_rules_invalid),
		cmocka_unit_test_setup_teardown(test_mtls_subject_identity,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_tls_client_subject,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_hostile_authorization_headers,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_hostile_peer_strings),
		cmocka_unit_test(test_rate_client_bucket),
		cmocka_unit_test(test_rate_retry_after_rounds_up),
		cmocka_unit_test_setup_teardown(test_rate_per_user_across_clients,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit_before_bcrypt,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_stream_limits,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_tracked_clients_eviction),
		cmocka_unit_test(test_ratelimit_table_direct),
		cmocka_unit_test(test_invalid_rate_config),
		cmocka_unit_test(test_stats_shape),
		cmocka_unit_test_setup_teardown(test_concurrent_checks,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_auth_new_allocation_failures,
		    tmpdir_setup, tmpdir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
