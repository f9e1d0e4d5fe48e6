#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/error.h"
#include "proxy/www_auth.h"

static int
parse_str(struct www_auth *a, const char *value)
{
	return www_auth_parse(a, value, strlen(value));
}

static void
test_docker_hub_bearer(void **state)
{
	struct www_auth a = { 0 };
	struct www_auth_bearer b;

	assert_int_equal(parse_str(&a, "Bearer realm=\"https://auth.docker.io/token\","
	    "service=\"registry.docker.io\",scope=\"repository:library/debian:pull\""), PC_OK);
	assert_int_equal(a.n_challenges, 1);
	assert_string_equal(a.challenges[0].scheme, "bearer");
	assert_int_equal(www_auth_bearer(&a, &b), PC_OK);
	assert_string_equal(b.realm, "https://auth.docker.io/token");
	assert_string_equal(b.service, "registry.docker.io");
	assert_string_equal(b.scope, "repository:library/debian:pull");
	assert_null(b.error);
	www_auth_free(&a);
	assert_int_equal(a.n_challenges, 0);
	assert_null(a.challenges);
}

static void
test_ghcr_bearer(void **state)
{
	struct www_auth a = { 0 };
	struct www_auth_bearer b;

	assert_int_equal(parse_str(&a, "Bearer realm=\"https://ghcr.io/token\","
	    "service=\"ghcr.io\",scope=\"repository:user/image:pull\""), PC_OK);
	assert_int_equal(www_auth_bearer(&a, &b), PC_OK);
	assert_string_equal(b.realm, "https://ghcr.io/token");
	assert_string_equal(b.service, "ghcr.io");
	assert_string_equal(b.scope, "repository:user/image:pull");
	www_auth_free(&a);
}

static void
test_distribution_error_param(void **state)
{
	struct www_auth a = { 0 };
	struct www_auth_bearer b;

	/* distribution's token auth adds error= after a rejected token. */
	assert_int_equal(parse_str(&a, "Bearer realm=\"https://auth.example.com/token\","
	    "service=\"registry.example.com\",scope=\"repository:samalba/my-app:pull,push\","
	    "error=\"invalid_token\""), PC_OK);
	assert_int_equal(www_auth_bearer(&a, &b), PC_OK);
	assert_string_equal(b.scope, "repository:samalba/my-app:pull,push");
	assert_string_equal(b.error, "invalid_token");
	www_auth_free(&a);
}

static void
test_basic_realm(void **state)
{
	struct www_auth a = { 0 };
	struct www_auth_bearer b;
	const char *realm;

	/* distribution's htpasswd auth. */
	assert_int_equal(parse_str(&a, "Basic realm=\"Registry Realm\""), PC_OK);
	assert_int_equal(www_auth_basic(&a, &realm), PC_OK);
	assert_string_equal(realm, "Registry Realm");
	assert_int_equal(www_auth_bearer(&a, &b), PC_ERR_NOTFOUND);
	www_auth_free(&a);
}

static void
test_case_insensitive_names(void **state)
{
	struct www_auth a = { 0 };
	struct www_auth_bearer b;

	assert_int_equal(parse_str(&a, "BEARER Realm=\"https://r/t\",SERVICE=svc"), PC_OK);
	assert_int_equal(www_auth_bearer(&a, &b), PC_OK);
	assert_string_equal(b.realm, "https://r/t");
	assert_string_equal(b.service, "svc");
	assert_non_null(www_auth_find(&a, "Bearer"));
	www_auth_free(&a);
}

static void
test_quoted_commas_and_escapes(void **state)
{
	struct www_auth a = { 0 };
	const struct www_auth_challenge *c;

	assert_int_equal(parse_str(&a,
	    "Bearer realm=\"a,b\\\"c\\\\d\", scope=\"x, y\",empty=\"\""), PC_OK);
	assert_int_equal(a.n_challenges, 1);
	c = &a.challenges[0];
	assert_int_equal(c->n_params, 3);
	assert_string_equal(www_auth_param(c, "realm"), "a,b\"c\\d");
	assert_string_equal(www_auth_param(c, "scope"), "x, y");
	assert_string_equal(www_auth_param(c, "empty"), "");
	www_auth_free(&a);
}

static void
test_several_challenges(void **state)
{
	struct www_auth a = { 0 };
	const char *realm;
	struct www_auth_bearer b;

	assert_int_equal(parse_str(&a, "Newauth realm=\"apps\", type=1, "
	    "title=\"Login to \\\"apps\\\"\", Basic realm=\"simple\" ,, "
	    "Negotiate abc+/Def==, Bearer realm = \"https://r/t\" , service=s"), PC_OK);
	assert_int_equal(a.n_challenges, 4);
	assert_string_equal(a.challenges[0].scheme, "newauth");
	assert_int_equal(a.challenges[0].n_params, 3);
	assert_string_equal(www_auth_param(&a.challenges[0], "type"), "1");
	assert_string_equal(www_auth_param(&a.challenges[0], "title"), "Login to \"apps\"");
	assert_int_equal(www_auth_basic(&a, &realm), PC_OK);
	assert_string_equal(realm, "simple");
	assert_string_equal(a.challenges[2].scheme, "negotiate");
	assert_string_equal(a.challenges[2].token68, "abc+/Def==");
	assert_int_equal(a.challenges[2].n_params, 0);
	assert_int_equal(www_auth_bearer(&a, &b), PC_OK);
	assert_string_equal(b.realm, "https://r/t");
	assert_string_equal(b.service, "s");
	www_auth_free(&a);
}

static void
test_scheme_without_params(void **state)
{
	struct www_auth a = { 0 };

	assert_int_equal(parse_str(&a, "Negotiate, Basic"), PC_OK);
	assert_int_equal(a.n_challenges, 2);
	assert_string_equal(a.challenges[0].scheme, "negotiate");
	assert_string_equal(a.challenges[1].scheme, "basic");
	www_auth_free(&a);

	/* A trailing comma is an empty list element, which RFC 9110 allows. */
	assert_int_equal(parse_str(&a, "Bearer realm=x,"), PC_OK);
	assert_int_equal(a.n_challenges, 1);
	assert_int_equal(a.challenges[0].n_params, 1);
	www_auth_free(&a);
}

static void
test_two_header_lines_append(void **state)
{
	struct www_auth a = { 0 };
	const char *realm;
	struct www_auth_bearer b;

	assert_int_equal(parse_str(&a, "Basic realm=\"one\""), PC_OK);
	assert_int_equal(parse_str(&a, "Bearer realm=\"https://r/t\""), PC_OK);
	assert_int_equal(a.n_challenges, 2);
	assert_int_equal(www_auth_basic(&a, &realm), PC_OK);
	assert_int_equal(www_auth_bearer(&a, &b), PC_OK);

	/* A failed parse leaves the earlier challenges in place. */
	assert_int_equal(parse_str(&a, "Digest realm=\"x\", bad\x01"), PC_ERR_INVALID);
	assert_int_equal(a.n_challenges, 2);
	www_auth_free(&a);
}

static void
test_bearer_without_realm(void **state)
{
	struct www_auth a = { 0 };
	struct www_auth_bearer b;

	assert_int_equal(parse_str(&a, "Bearer service=\"x\""), PC_OK);
	assert_int_equal(www_auth_bearer(&a, &b), PC_ERR_INVALID);
	www_auth_free(&a);
}

static void
test_malformed_rejected(void **state)
{
	static const char *const cases[] = {
		"",
		"   ",
		",",
		"Bearer realm=\"unterminated",
		"Bearer realm=\"trailing backslash\\",
		"Bearer realm=,service=x",
		"Bearer realm=\"x\" service=y",
		"Bearer realm=\"x\",realm=\"y\"",
		"Bearer realm=\"ctl\x01\"",
		"Bearer realm=\"newline\nx\"",
		"Bearer =x",
		"\"Bearer\" realm=x",
		"Bearer realm=x;y",
		"Basic abc== def",
		"Bearer@ realm=x",
		"Bearer realm=\"a\"\"b\"",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct www_auth a = { 0 };
		int err = parse_str(&a, cases[i]);

		if (err != PC_ERR_INVALID)
			print_error("case %zu: \"%s\" returned %d\n", i, cases[i], err);
		assert_int_equal(err, PC_ERR_INVALID);
		assert_int_equal(a.n_challenges, 0);
		www_auth_free(&a);
	}
}

static void
test_embedded_nul_rejected(void **state)
{
	struct www_auth a = { 0 };
	const char value[] = "Bearer realm=\"a\0b\"";

	assert_int_equal(www_auth_parse(&a, value, sizeof(value) - 1), PC_ERR_INVALID);
	assert_int_equal(a.n_challenges, 0);
}

static void
test_oversized_header(void **state)
{
	struct www_auth a = { 0 };
	char *value = pc_malloc(WWW_AUTH_MAX_HEADER + 2);
	const char prefix[] = "Bearer realm=\"";
	size_t n_prefix = sizeof(prefix) - 1;

	/* A quoted realm that fills the value to exactly the limit is accepted. */
	assert_non_null(value);
	memcpy(value, prefix, n_prefix);
	memset(value + n_prefix, 'a', WWW_AUTH_MAX_HEADER - n_prefix - 1);
	value[WWW_AUTH_MAX_HEADER - 1] = '"';
	value[WWW_AUTH_MAX_HEADER] = '\0';
	assert_int_equal(www_auth_parse(&a, value, WWW_AUTH_MAX_HEADER), PC_OK);
	assert_int_equal(strlen(a.challenges[0].params[0].value),
	    WWW_AUTH_MAX_HEADER - n_prefix - 1);
	www_auth_free(&a);

	/* One byte more is rejected before parsing. */
	value[WWW_AUTH_MAX_HEADER - 1] = 'a';
	value[WWW_AUTH_MAX_HEADER] = '"';
	value[WWW_AUTH_MAX_HEADER + 1] = '\0';
	assert_int_equal(www_auth_parse(&a, value, WWW_AUTH_MAX_HEADER + 1), PC_ERR_LIMIT);
	assert_int_equal(a.n_challenges, 0);
	pc_free(value);
}

static void
test_param_and_challenge_limits(void **state)
{
	struct www_auth a = { 0 };
	char value[2048];
	size_t len = 0;

	len += (size_t)snprintf(value + len, sizeof(value) - len, "Bearer realm=r");
	for (int i = 1; i < WWW_AUTH_MAX_PARAMS; i++)
		len += (size_t)snprintf(value + len, sizeof(value) - len, ",p%d=v", i);
	assert_int_equal(parse_str(&a, value), PC_OK);
	assert_int_equal(a.challenges[0].n_params, WWW_AUTH_MAX_PARAMS);
	www_auth_free(&a);
	snprintf(value + len, sizeof(value) - len, ",extra=v");
	assert_int_equal(parse_str(&a, value), PC_ERR_LIMIT);
	assert_int_equal(a.n_challenges, 0);

	len = 0;
	for (int i = 0; i < WWW_AUTH_MAX_CHALLENGES; i++)
		len += (size_t)snprintf(value + len, sizeof(value) - len, "S%d, ", i);
	assert_int_equal(parse_str(&a, value), PC_OK);
	assert_int_equal(a.n_challenges, WWW_AUTH_MAX_CHALLENGES);
	assert_int_equal(parse_str(&a, "One"), PC_ERR_LIMIT);
	assert_int_equal(a.n_challenges, WWW_AUTH_MAX_CHALLENGES);
	www_auth_free(&a);
}

static void
test_allocation_failures_unwind(void **state)
{
	static const char value[] = "Bearer realm=\"https://auth.docker.io/token\","
	    "service=\"registry.docker.io\",scope=\"repository:library/debian:pull\", "
	    "Basic realm=\"x\"";

	for (long n = 0; n < 64; n++) {
		struct www_auth a = { 0 };
		int err;

		pc_alloc_fail_after(n);
		err = parse_str(&a, value);
		pc_alloc_fail_after(-1);
		if (err == PC_OK) {
			assert_int_equal(a.n_challenges, 2);
			www_auth_free(&a);
			return;
		}
		assert_int_equal(err, PC_ERR_NOMEM);
		assert_int_equal(a.n_challenges, 0);
		assert_null(a.challenges);
	}
	fail_msg("parse still failed after 64 allocations");
}

/*
 * Mutates real headers at random (byte flips, cuts, inserted quotes,
 * backslashes and commas) with a fixed seed. Every result must be one of
 * the documented codes, and under AddressSanitizer nothing may leak or
 * read out of bounds.
 */
static void
test_random_mutations(void **state)
{
	static const char *const seeds[] = {
		"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
		    "scope=\"repository:library/debian:pull\"",
		"Basic realm=\"Registry Realm\", Negotiate abc==, Bearer realm=r,error=\"invalid_token\"",
		"Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\"",
	};
	static const char specials[] = "\"\\,= \t=;@\x01\x7f\xff";
	uint32_t x = 88172645u;
	char value[512];

	for (int round = 0; round < 20000; round++) {
		const char *seed = seeds[round % 3];
		size_t len = strlen(seed);
		struct www_auth a = { 0 };
		int err;

		memcpy(value, seed, len);
		for (int edit = 0; edit < 1 + round % 4; edit++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			value[x % len] = specials[(x >> 8) % (sizeof(specials) - 1)];
		}
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		if (round % 5 == 0)
			len = x % (len + 1);

		err = www_auth_parse(&a, value, len);
		if (err != PC_OK && err != PC_ERR_INVALID && err != PC_ERR_LIMIT)
			fail_msg("round %d: unexpected error %d", round, err);
		if (err != PC_OK)
			assert_int_equal(a.n_challenges, 0);
		for (size_t i = 0; i < a.n_challenges; i++)
			assert_non_null(a.challenges[i].scheme);
		www_auth_free(&a);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker_hub_bearer),
		cmocka_unit_test(test_ghcr_bearer),
		cmocka_unit_test(test_distribution_error_param),
		cmocka_unit_test(test_basic_realm),
		cmocka_unit_test(test_case_insensitive_names),
		cmocka_unit_test(test_quoted_commas_and_escapes),
		cmocka_unit_test(test_several_challenges),
		cmocka_unit_test(test_scheme_without_params),
		cmocka_unit_test(test_two_header_lines_append),
		cmocka_unit_test(test_bearer_without_realm),
		cmocka_unit_test(test_malformed_rejected),
		cmocka_unit_test(test_embedded_nul_rejected),
		cmocka_unit_test(test_oversized_header),
		cmocka_unit_test(test_param_and_challenge_limits),
		cmocka_unit_test(test_allocation_failures_unwind),
		cmocka_unit_test(test_random_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
