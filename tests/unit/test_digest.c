#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/digest.h"
#include "common/error.h"

/* SHA-256 of "", of "abc" and of one million 'a' bytes. */
#define SHA256_EMPTY \
	"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_ABC \
	"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA256_MILLION_A \
	"sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

#define HEX64 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define HEX128 HEX64 HEX64

struct digest_case {
	const char *input;
	int parse_result;
	bool valid;
};

static const struct digest_case digest_cases[] = {
	{"sha256:" HEX64, PC_OK, true},
	{"sha512:" HEX128, PC_ERR_UNSUPPORTED, true},
	{"sha256:" HEX64 "0", PC_ERR_INVALID, false},            /* 65 hex */
	{"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
	    PC_ERR_INVALID, false},                              /* 63 hex */
	{"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
	    PC_ERR_INVALID, false},                              /* upper case */
	{"sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    PC_ERR_INVALID, false},                              /* not hex */
	{"SHA256:" HEX64, PC_ERR_INVALID, false},
	{"sha256" HEX64, PC_ERR_INVALID, false},                 /* no colon */
	{"sha256::" HEX64, PC_ERR_INVALID, false},
	{" sha256:" HEX64, PC_ERR_INVALID, false},
	{"sha256:" HEX64 " ", PC_ERR_INVALID, false},
	{"sha256:" HEX64 "\n", PC_ERR_INVALID, false},
	{"sha512:" HEX64, PC_ERR_INVALID, false},                /* short sha512 */
	{"sha384:" HEX64, PC_ERR_INVALID, false},
	{"md5:d41d8cd98f00b204e9800998ecf8427e", PC_ERR_INVALID, false},
	{"sha256:", PC_ERR_INVALID, false},
	{":" HEX64, PC_ERR_INVALID, false},
	{"", PC_ERR_INVALID, false},
	{"sha256:../../../../etc/passwd", PC_ERR_INVALID, false},
};

static void
test_digest_table(void **state)
{
	for (size_t i = 0; i < sizeof(digest_cases) / sizeof(digest_cases[0]); i++) {
		const struct digest_case *c = &digest_cases[i];
		char algo[DIGEST_ALGO_BUFSIZE];
		char hex[DIGEST_SHA256_HEX_BUFSIZE];

		print_message("case %zu: %s\n", i, c->input);
		assert_int_equal(digest_parse(c->input, algo, hex), c->parse_result);
		assert_int_equal(digest_is_valid(c->input), c->valid);
		assert_int_equal(digest_is_sha256(c->input),
		    c->parse_result == PC_OK);
		if (c->parse_result == PC_OK) {
			assert_string_equal(algo, "sha256");
			assert_string_equal(hex, c->input + 7);
		} else if (c->parse_result == PC_ERR_UNSUPPORTED) {
			assert_string_equal(algo, "sha512");
			assert_string_equal(hex, "");
		} else {
			assert_string_equal(algo, "");
			assert_string_equal(hex, "");
		}
	}
}

static void
test_digest_null_outputs(void **state)
{
	assert_int_equal(digest_parse("sha256:" HEX64, NULL, NULL), PC_OK);
	assert_int_equal(digest_parse(NULL, NULL, NULL), PC_ERR_INVALID);
	assert_false(digest_is_valid(NULL));
	assert_false(digest_is_sha256(NULL));
}

static void
test_sha256_vectors(void **state)
{
	char out[DIGEST_SHA256_BUFSIZE];
	char *million;

	sha256_hex("", 0, out);
	assert_string_equal(out, SHA256_EMPTY);
	sha256_hex("abc", 3, out);
	assert_string_equal(out, SHA256_ABC);

	million = pc_malloc(1000000);
	assert_non_null(million);
	memset(million, 'a', 1000000);
	sha256_hex(million, 1000000, out);
	assert_string_equal(out, SHA256_MILLION_A);
	assert_true(digest_is_sha256(out));
	pc_free(million);
}

static void
test_sha256_stream_chunks(void **state)
{
	struct sha256_stream *s = NULL;
	char out[DIGEST_SHA256_BUFSIZE];
	char chunk[1000];

	memset(chunk, 'a', sizeof(chunk));
	assert_int_equal(sha256_stream_new(&s), PC_OK);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(sha256_stream_update(s, chunk, sizeof(chunk)), PC_OK);
	assert_int_equal(sha256_stream_update(s, chunk, 0), PC_OK);
	assert_int_equal(sha256_stream_final(s, out), PC_OK);
	assert_string_equal(out, SHA256_MILLION_A);

	/* A finished stream takes no more data. */
	assert_int_equal(sha256_stream_update(s, "x", 1), PC_ERR_INVALID);
	assert_int_equal(sha256_stream_final(s, out), PC_ERR_INVALID);
	sha256_stream_free(s);
	sha256_stream_free(NULL);
}

static void
test_sha256_stream_nomem(void **state)
{
	struct sha256_stream *s = (struct sha256_stream *)&s;

	pc_alloc_fail_after(0);
	assert_int_equal(sha256_stream_new(&s), PC_ERR_NOMEM);
	pc_alloc_fail_after(-1);
	assert_null(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest_table),
		cmocka_unit_test(test_digest_null_outputs),
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_sha256_stream_chunks),
		cmocka_unit_test(test_sha256_stream_nomem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
