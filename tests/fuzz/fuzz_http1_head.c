/*
 * libFuzzer target for HTTP/1.1 request heads: h1_parse_head() on the
 * input, copied into a NUL-terminated buffer as the connection code
 * hands it over, then the header lookups a handler makes. Built and run
 * by tests/fuzz/run.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "proxy/http_conn.h"
#include "tests/fuzz/fuzz_util.h"

/* The parser reads only the peer, and access_log off keeps the log quiet. */
static struct conn_settings settings = {.access_log = false};
static struct conn fuzz_conn = {.settings = &settings, .peer = "127.0.0.1:40000"};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_exchange *x = http_exchange_new(&fuzz_conn, NULL, NULL);
	char *head = fuzz_strndup(data, size);

	if (x != NULL && head != NULL && h1_parse_head(x, head, size) == 0) {
		http_request_header(&x->req, "host");
		http_request_header(&x->req, "authorization");
		http_request_header(&x->req, "range");
	}
	free(head);
	if (x != NULL)
		http_exchange_end(x, false);
	return 0;
}
