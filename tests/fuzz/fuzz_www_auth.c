/*
 * libFuzzer target for WWW-Authenticate values: the input is split at NUL
 * bytes into header values, each given to www_auth_parse() on one struct
 * as the upstream client collects several header lines, then the Bearer
 * and Basic lookups the client makes. Built and run by tests/fuzz/run.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proxy/www_auth.h"
#include "tests/fuzz/fuzz_util.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct www_auth a = {0};
	struct www_auth_bearer bearer;
	const char *realm;
	size_t off = 0;

	for (;;) {
		const uint8_t *nul = memchr(data + off, '\0', size - off);
		size_t len = nul != NULL ? (size_t)(nul - (data + off)) : size - off;

		www_auth_parse(&a, (const char *)data + off, len);
		if (nul == NULL)
			break;
		off += len + 1;
	}
	www_auth_bearer(&a, &bearer);
	www_auth_basic(&a, &realm);
	www_auth_find(&a, "negotiate");
	for (size_t i = 0; i < a.n_challenges; i++)
		www_auth_param(&a.challenges[i], "scope");
	www_auth_free(&a);
	return 0;
}
