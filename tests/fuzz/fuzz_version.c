/*
 * libFuzzer target for version ordering: the input is split at its first
 * NUL byte into two versions, and version_compare() and
 * version_validate() run under every scheme. A comparison that succeeds
 * both ways must give opposite results, and a version must equal itself.
 * Built and run by tests/fuzz/run.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/error.h"
#include "scanner/version.h"
#include "tests/fuzz/fuzz_util.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum version_scheme schemes[] = {
		VERSION_DEB, VERSION_APK, VERSION_RPM, VERSION_SEMVER,
		VERSION_GO, VERSION_PEP440, VERSION_MAVEN,
	};
	char *a, *b;

	if (fuzz_split_nul(data, size, &a, &b) != 0)
		return 0;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		int ab, ba, aa;

		version_validate(schemes[i], a);
		version_validate(schemes[i], b);
		if (version_compare(schemes[i], a, b, &ab) == PC_OK &&
		    version_compare(schemes[i], b, a, &ba) == PC_OK &&
		    ab != -ba) {
			fprintf(stderr, "%s: compare(a, b) = %d but compare(b, a) "
			    "= %d\n", version_scheme_name(schemes[i]), ab, ba);
			abort();
		}
		if (version_compare(schemes[i], a, a, &aa) == PC_OK && aa != 0) {
			fprintf(stderr, "%s: compare(a, a) = %d\n",
			    version_scheme_name(schemes[i]), aa);
			abort();
		}
	}
	free(a);
	free(b);
	return 0;
}
