#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/error.h"
#include "proxy/http_conn.h"

/* The parser reads only the peer, and access_log off keeps the log quiet. */
static struct conn_settings settings = {.access_log = false};
static struct conn test_conn = {.settings = &settings, .peer = "127.0.0.1:40000"};

/* Parses len bytes of text as a request head into a new exchange. */
static int
parse_bytes(const char *text, size_t len, struct http_exchange **out)
{
	struct http_exchange *x = http_exchange_new(&test_conn, NULL, NULL);
	char *copy = malloc(len + 1);
	int status;

	assert_non_null(x);
	assert_non_null(copy);
	memcpy(copy, text, len);
	copy[len] = '\0';
	status = h1_parse_head(x, copy, len);
	free(copy);
	*out = x;
	return status;
}

static int
parse(const char *text, struct http_exchange **out)
{
	return parse_bytes(text, strlen(text), out);
}

/* Returns the status h1_parse_head gives text and frees the exchange. */
static int
parse_status(const char *text)
{
	struct http_exchange *x;
	int status = parse(text, &x);

	http_exchange_end(x, false);
	return status;
}

static int
parse_status_bytes(const char *text, size_t len)
{
	struct http_exchange *x;
	int status = parse_bytes(text, len, &x);

	http_exchange_end(x, false);
	return status;
}

static void
test_parse_get_with_headers(void **state)
{
	struct http_exchange *x;

	assert_int_equal(parse("GET /v2/ HTTP/1.1\r\n"
	    "Host: 127.0.0.1:5000\r\n"
	    "User-Agent: docker/24.0.7 go/go1.20.10\r\n"
	    "Accept-Encoding: gzip\r\n"
	    "\r\n", &x), 0);
	assert_string_equal(x->req.method, "GET");
	assert_string_equal(x->req.target, "/v2/");
	assert_string_equal(x->req.path, "/v2/");
	assert_null(x->req.query);
	assert_string_equal(x->req.proto, "HTTP/1.1");
	assert_int_equal(x->req.n_headers, 3);
	assert_string_equal(http_request_header(&x->req, "host"), "127.0.0.1:5000");
	assert_string_equal(http_request_header(&x->req, "user-agent"),
	    "docker/24.0.7 go/go1.20.10");
	assert_string_equal(http_request_header(&x->req, "accept-encoding"), "gzip");
	assert_null(http_request_header(&x->req, "authorization"));
	assert_string_equal(x->req.peer, "127.0.0.1:40000");
	http_exchange_end(x, false);
}

static void
test_parse_head_request(void **state)
{
	struct http_exchange *x;

	assert_int_equal(parse("HEAD /v2/library/alpine/manifests/latest HTTP/1.1\r\n"
	    "Host: localhost\r\n\r\n", &x), 0);
	assert_string_equal(x->req.method, "HEAD");
	assert_string_equal(x->req.path, "/v2/library/alpine/manifests/latest");
	http_exchange_end(x, false);
}

static void
test_parse_http10(void **state)
{
	struct http_exchange *x;

	assert_int_equal(parse("GET /v2/ HTTP/1.0\r\n\r\n", &x), 0);
	assert_string_equal(x->req.proto, "HTTP/1.0");
	assert_int_equal(x->req.n_headers, 0);
	http_exchange_end(x, false);
}

static void
test_parse_header_names_lowercased(void **state)
{
	struct http_exchange *x;

	assert_int_equal(parse("GET / HTTP/1.1\r\n"
	    "HOST: a\r\n"
	    "X-Custom-HEADER: Value Kept\r\n"
	    "\r\n", &x), 0);
	assert_string_equal(x->req.headers[0].name, "host");
	assert_string_equal(x->req.headers[1].name, "x-custom-header");
	/* Values keep their case. */
	assert_string_equal(x->req.headers[1].value, "Value Kept");
	http_exchange_end(x, false);
}

static void
test_parse_ows_trimmed(void **state)
{
	struct http_exchange *x;

	assert_int_equal(parse("GET / HTTP/1.1\r\n"
	    "Accept:   \t application/json \t \r\n"
	    "X-Empty:\r\n"
	    "X-Blank: \t \r\n"
	    "X-Inner:  a  b\tc \r\n"
	    "X-Tight:v\r\n"
	    "\r\n", &x), 0);
	assert_string_equal(http_request_header(&x->req, "accept"), "application/json");
	assert_string_equal(http_request_header(&x->req, "x-empty"), "");
	assert_string_equal(http_request_header(&x->req, "x-blank"), "");
	assert_string_equal(http_request_header(&x->req, "x-inner"), "a  b\tc");
	assert_string_equal(http_request_header(&x->req, "x-tight"), "v");
	http_exchange_end(x, false);
}

static void
test_parse_accept_lines_in_order(void **state)
{
	struct http_exchange *x;
	const char *values[8];

	/* dockerd sends one Accept line per media type. */
	assert_int_equal(parse("GET /v2/x/manifests/1 HTTP/1.1\r\n"
	    "Host: a\r\n"
	    "Accept: application/vnd.oci.image.index.v1+json\r\n"
	    "accept: application/vnd.docker.distribution.manifest.v2+json\r\n"
	    "X-Other: 1\r\n"
	    "ACCEPT: application/vnd.oci.image.manifest.v1+json, */*\r\n"
	    "\r\n", &x), 0);
	assert_int_equal(http_request_headers(&x->req, "accept", values, 8), 3);
	assert_string_equal(values[0], "application/vnd.oci.image.index.v1+json");
	assert_string_equal(values[1],
	    "application/vnd.docker.distribution.manifest.v2+json");
	assert_string_equal(values[2], "application/vnd.oci.image.manifest.v1+json, */*");
	assert_string_equal(http_request_header(&x->req, "accept"),
	    "application/vnd.oci.image.index.v1+json");

	/* With a smaller array the count still covers every line. */
	values[1] = NULL;
	assert_int_equal(http_request_headers(&x->req, "accept", values, 1), 3);
	assert_string_equal(values[0], "application/vnd.oci.image.index.v1+json");
	assert_null(values[1]);

	assert_int_equal(http_request_headers(&x->req, "range", values, 8), 0);
	http_exchange_end(x, false);
}

static void
test_parse_query_split(void **state)
{
	struct http_exchange *x;

	assert_int_equal(parse("GET /v2/x/tags/list?n=10&last=v1 HTTP/1.1\r\n\r\n", &x), 0);
	assert_string_equal(x->req.target, "/v2/x/tags/list?n=10&last=v1");
	assert_string_equal(x->req.path, "/v2/x/tags/list");
	assert_string_equal(x->req.query, "n=10&last=v1");
	http_exchange_end(x, false);

	assert_int_equal(parse("GET /v2/? HTTP/1.1\r\n\r\n", &x), 0);
	assert_string_equal(x->req.path, "/v2/");
	assert_non_null(x->req.query);
	assert_string_equal(x->req.query, "");
	http_exchange_end(x, false);
}

static void
test_set_target_directly(void **state)
{
	struct http_request req;

	memset(&req, 0, sizeof(req));
	assert_int_equal(http_request_set_target(&req, "/a?b?c=1", 8), PC_OK);
	assert_string_equal(req.target, "/a?b?c=1");
	assert_string_equal(req.path, "/a");
	assert_string_equal(req.query, "b?c=1");
	pc_free(req.target);
	pc_free(req.path);
	pc_free(req.query);

	/* Only len bytes count, even when more follow. */
	memset(&req, 0, sizeof(req));
	assert_int_equal(http_request_set_target(&req, "/v2/x?ns=quay", 5), PC_OK);
	assert_string_equal(req.target, "/v2/x");
	assert_string_equal(req.path, "/v2/x");
	assert_null(req.query);
	pc_free(req.target);
	pc_free(req.path);
}

static void
test_parse_bare_lf(void **state)
{
	struct http_exchange *x;

	assert_int_equal(parse("GET /v2/ HTTP/1.1\nHost: a\nAccept: b\n\n", &x), 0);
	assert_string_equal(x->req.proto, "HTTP/1.1");
	assert_string_equal(http_request_header(&x->req, "host"), "a");
	assert_string_equal(http_request_header(&x->req, "accept"), "b");
	http_exchange_end(x, false);

	assert_int_equal(parse("GET /v2/ HTTP/1.1\r\nHost: a\n\r\n", &x), 0);
	assert_string_equal(http_request_header(&x->req, "host"), "a");
	http_exchange_end(x, false);
}

static void
test_parse_stops_at_empty_line(void **state)
{
	struct http_exchange *x;

	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\nnot a header\r\n", &x), 0);
	assert_int_equal(x->req.n_headers, 1);
	http_exchange_end(x, false);
}

static void
test_parse_obs_fold_rejected(void **state)
{
	assert_int_equal(parse_status("GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET / HTTP/1.1\r\nX-A: one\r\n\ttwo\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), 400);
}

static void
test_parse_space_before_colon_rejected(void **state)
{
	/* HTTP/1.1 servers must reject whitespace before the colon with 400. */
	assert_int_equal(parse_status("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET / HTTP/1.1\r\nX Y: a\r\n\r\n"), 400);
}

static void
test_parse_bad_header_lines(void **state)
{
	assert_int_equal(parse_status("GET / HTTP/1.1\r\nHost a\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET / HTTP/1.1\r\n: a\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET / HTTP/1.1\r\nX(Y): a\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET / HTTP/1.1\r\nX\"Y: a\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET / HTTP/1.1\r\nX\xc3\xa9: a\r\n\r\n"), 400);
}

static void
test_parse_control_bytes_rejected(void **state)
{
	static const char nul_value[] = "GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n";
	static const char nul_target[] = "GET /a\0b HTTP/1.1\r\n\r\n";

	assert_int_equal(parse_status("GET / HTTP/1.1\r\nX-A: a\x01" "b\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET / HTTP/1.1\r\nX-A: a\x7f" "b\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET / HTTP/1.1\r\nX-A: a\x1b[31m\r\n\r\n"), 400);
	assert_int_equal(parse_status_bytes(nul_value, sizeof(nul_value) - 1), 400);
	assert_int_equal(parse_status_bytes(nul_target, sizeof(nul_target) - 1), 400);
	assert_int_equal(parse_status("GET /a\x01 HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET /a\x7f HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET /\xc3\xa9 HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET /a\tb HTTP/1.1\r\n\r\n"), 400);
}

static void
test_parse_nul_in_token_rejected(void **state)
{
	static const char nul_name[] = "GET / HTTP/1.1\r\nHost\0x: a\r\n\r\n";
	static const char nul_method[] = "GET\0X / HTTP/1.1\r\n\r\n";

	/* A NUL would cut the stored name or method short. */
	assert_int_equal(parse_status_bytes(nul_name, sizeof(nul_name) - 1), 400);
	assert_int_equal(parse_status_bytes(nul_method, sizeof(nul_method) - 1), 400);
}

static void
test_parse_obs_text_value_kept(void **state)
{
	struct http_exchange *x;

	/* Bytes 0x80-0xff are obs-text, which a field value may carry. */
	assert_int_equal(parse("GET / HTTP/1.1\r\nX-Name: caf\xc3\xa9\r\n\r\n", &x), 0);
	assert_string_equal(http_request_header(&x->req, "x-name"), "caf\xc3\xa9");
	http_exchange_end(x, false);
}

static void
test_parse_missing_version(void **state)
{
	assert_int_equal(parse_status("GET /\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET\r\n\r\n"), 400);
	assert_int_not_equal(parse_status("GET / \r\n\r\n"), 0);
}

static void
test_parse_bad_versions(void **state)
{
	assert_int_not_equal(parse_status("GET / HTTP/1.1 \r\n\r\n"), 0);
	assert_int_not_equal(parse_status("GET / http/1.1\r\n\r\n"), 0);
	assert_int_not_equal(parse_status("GET / HTTP/1\r\n\r\n"), 0);
	assert_int_not_equal(parse_status("GET / HTTP/1.1x\r\n\r\n"), 0);
	assert_int_not_equal(parse_status("GET / HTTP/1.1 extra\r\n\r\n"), 0);
}

static void
test_parse_http2_version_505(void **state)
{
	assert_int_equal(parse_status("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
	assert_int_equal(parse_status("GET / HTTP/3.0\r\n\r\n"), 505);
}

static void
test_parse_target_length(void **state)
{
	const size_t head_max = HTTP_MAX_TARGET_BYTES + 64;
	char *head = malloc(head_max);
	char *target = malloc(HTTP_MAX_TARGET_BYTES + 2);
	struct http_exchange *x;

	assert_non_null(head);
	assert_non_null(target);
	memset(target, 'a', HTTP_MAX_TARGET_BYTES + 1);
	target[0] = '/';

	/* Exactly the limit is accepted. */
	target[HTTP_MAX_TARGET_BYTES] = '\0';
	snprintf(head, head_max, "GET %s HTTP/1.1\r\n\r\n", target);
	assert_int_equal(parse(head, &x), 0);
	assert_int_equal(strlen(x->req.target), HTTP_MAX_TARGET_BYTES);
	http_exchange_end(x, false);

	/* One byte more is 414 URI Too Long. */
	target[HTTP_MAX_TARGET_BYTES] = 'a';
	target[HTTP_MAX_TARGET_BYTES + 1] = '\0';
	snprintf(head, head_max, "GET %s HTTP/1.1\r\n\r\n", target);
	assert_int_equal(parse_status(head), 414);
	free(target);
	free(head);
}

static void
test_parse_too_many_headers(void **state)
{
	const size_t head_max = (HTTP_MAX_HEADERS + 2) * 32 + 64;
	char *head = malloc(head_max);
	struct http_exchange *x;
	size_t len;

	assert_non_null(head);
	len = (size_t)snprintf(head, head_max, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < HTTP_MAX_HEADERS; i++)
		len += (size_t)snprintf(head + len, head_max - len, "X-H%d: %d\r\n", i, i);
	snprintf(head + len, head_max - len, "\r\n");
	assert_int_equal(parse(head, &x), 0);
	assert_int_equal(x->req.n_headers, HTTP_MAX_HEADERS);
	http_exchange_end(x, false);

	/* One more than the limit is 431 Request Header Fields Too Large. */
	len += (size_t)snprintf(head + len, head_max - len, "X-Last: 1\r\n\r\n");
	assert_int_equal(parse_status(head), 431);
	free(head);
}

static void
test_parse_method_length(void **state)
{
	struct http_exchange *x;

	/* The method buffer takes 15 characters, and longer methods get 501. */
	assert_int_equal(parse("ABCDEFGHIJKLMNO / HTTP/1.1\r\n\r\n", &x), 0);
	assert_string_equal(x->req.method, "ABCDEFGHIJKLMNO");
	http_exchange_end(x, false);
	assert_int_equal(parse_status("ABCDEFGHIJKLMNOP / HTTP/1.1\r\n\r\n"), 501);
	assert_int_equal(parse_status("MKACTIVITYMKACTIVITYMKACTIVITY / HTTP/1.1\r\n\r\n"),
	    501);
}

static void
test_parse_bad_methods(void **state)
{
	assert_int_equal(parse_status("GE(T / HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(parse_status("G\x01T / HTTP/1.1\r\n\r\n"), 400);
	assert_int_not_equal(parse_status(" / HTTP/1.1\r\n\r\n"), 0);
	assert_int_equal(parse_status("GET  / HTTP/1.1\r\n\r\n"), 400);
}

static void
test_parse_target_must_start_with_slash(void **state)
{
	assert_int_equal(parse_status("GET v2/ HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(parse_status("OPTIONS * HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET http://127.0.0.1/v2/ HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(parse_status("CONNECT 127.0.0.1:443 HTTP/1.1\r\n\r\n"), 400);
	assert_int_equal(parse_status("GET ?x=1 HTTP/1.1\r\n\r\n"), 400);
}

static void
test_parse_incomplete_heads(void **state)
{
	assert_int_equal(parse_status(""), 400);
	assert_int_equal(parse_status("\r\n"), 400);
	assert_int_equal(parse_status("GET / HTTP/1.1"), 400);
	assert_int_equal(parse_status("GET / HTTP/1.1\r\n"), 400);
	assert_int_equal(parse_status("GET / HTTP/1.1\r\nHost: a\r\n"), 400);
	assert_int_equal(parse_status("GET / HTTP/1.1\r\nHost: a"), 400);
}

static void
test_parse_allocation_failures(void **state)
{
	static const char head[] = "GET /v2/x/manifests/1?ns=quay HTTP/1.1\r\n"
	    "Host: a\r\nAccept: b\r\nAccept: c\r\n\r\n";

	for (long n = 0; n < 64; n++) {
		struct http_exchange *x = http_exchange_new(&test_conn, NULL, NULL);
		char copy[sizeof(head)];
		int status;

		assert_non_null(x);
		memcpy(copy, head, sizeof(head));
		pc_alloc_fail_after(n);
		status = h1_parse_head(x, copy, sizeof(head) - 1);
		pc_alloc_fail_after(-1);
		http_exchange_end(x, false);
		if (status == 0)
			return;
		/* An allocation failure is a server error, never a 4xx. */
		assert_int_equal(status, 500);
	}
	fail_msg("parse still failed after 64 allocations");
}

static void
test_parse_u64_values(void **state)
{
	uint64_t v;

	assert_int_equal(http_parse_u64("0", 1, &v), PC_OK);
	assert_int_equal(v, 0);
	assert_int_equal(http_parse_u64("1234", 4, &v), PC_OK);
	assert_int_equal(v, 1234);
	assert_int_equal(http_parse_u64("007", 3, &v), PC_OK);
	assert_int_equal(v, 7);
	assert_int_equal(http_parse_u64("18446744073709551615", 20, &v), PC_OK);
	assert_int_equal(v, UINT64_MAX);
	/* Only len bytes are read. */
	assert_int_equal(http_parse_u64("12345", 2, &v), PC_OK);
	assert_int_equal(v, 12);
	assert_int_equal(http_parse_u64("12x", 2, &v), PC_OK);
	assert_int_equal(v, 12);
}

static void
test_parse_u64_rejects(void **state)
{
	static const char *const bad[] = {
		"", "+1", "-1", "-0", " 1", "1 ", "1\t", "0x10", "1e3", "1.0", "1,000",
		"abc", "18446744073709551616", "18446744073709551620",
		"99999999999999999999", "184467440737095516150",
		"123456789012345678901234567890",
	};
	uint64_t v = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (http_parse_u64(bad[i], strlen(bad[i]), &v) != PC_ERR_INVALID)
			fail_msg("\"%s\" was accepted", bad[i]);
		assert_int_equal(v, 42);
	}
	assert_int_equal(http_parse_u64("5", 0, &v), PC_ERR_INVALID);
	assert_int_equal(v, 42);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_get_with_headers),
		cmocka_unit_test(test_parse_head_request),
		cmocka_unit_test(test_parse_http10),
		cmocka_unit_test(test_parse_header_names_lowercased),
		cmocka_unit_test(test_parse_ows_trimmed),
		cmocka_unit_test(test_parse_accept_lines_in_order),
		cmocka_unit_test(test_parse_query_split),
		cmocka_unit_test(test_set_target_directly),
		cmocka_unit_test(test_parse_bare_lf),
		cmocka_unit_test(test_parse_stops_at_empty_line),
		cmocka_unit_test(test_parse_obs_fold_rejected),
		cmocka_unit_test(test_parse_space_before_colon_rejected),
		cmocka_unit_test(test_parse_bad_header_lines),
		cmocka_unit_test(test_parse_control_bytes_rejected),
		cmocka_unit_test(test_parse_nul_in_token_rejected),
		cmocka_unit_test(test_parse_obs_text_value_kept),
		cmocka_unit_test(test_parse_missing_version),
		cmocka_unit_test(test_parse_bad_versions),
		cmocka_unit_test(test_parse_http2_version_505),
		cmocka_unit_test(test_parse_target_length),
		cmocka_unit_test(test_parse_too_many_headers),
		cmocka_unit_test(test_parse_method_length),
		cmocka_unit_test(test_parse_bad_methods),
		cmocka_unit_test(test_parse_target_must_start_with_slash),
		cmocka_unit_test(test_parse_incomplete_heads),
		cmocka_unit_test(test_parse_allocation_failures),
		cmocka_unit_test(test_parse_u64_values),
		cmocka_unit_test(test_parse_u64_rejects),
	};

	pc_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
