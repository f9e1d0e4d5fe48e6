/*
 * libFuzzer target for OSV records: osv_parse on the input, then, for a
 * record that parses, match_affected of every affected entry against a
 * few versions of its ecosystem's scheme, and match_range_sort of every
 * range, as the import does. tests/fuzz/run.sh builds and runs it on a
 * seed corpus. To build and run it by hand from the repository root after
 * `make`:
 *
 *   clang -std=c11 -D_GNU_SOURCE -I. -g -O1 \
 *     -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *     $(pkg-config --cflags jansson) \
 *     tests/fuzz/fuzz_osv.c build/libportcullis.a \
 *     $(pkg-config --libs libevent libevent_openssl libevent_pthreads \
 *       libnghttp2 libcurl openssl libarchive libisal libzstd sqlite3 \
 *       jansson yaml-0.1 lmdb hiredis) -lcrypt -lpthread -lm \
 *     -o fuzz_osv
 *   ./fuzz_osv -max_len=65536 CORPUS_DIR tests/data/osv/npm
 */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "scanner/match.h"
#include "scanner/osv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Installed versions tried against every affected entry. */
static const char *const versions[] = {
	"0", "1.0.0", "1.2.3-rc.1", "2.36-9+deb12u7", "1:9.2p1-2", "v1.22.0",
	"3.2.0", "1.36.1-r15", "0.12.01",
};

static void
exercise(json_t *rec)
{
	const json_t *aff, *range;
	size_t i, j;

	json_array_foreach(json_object_get(rec, "affected"), i, aff) {
		const char *ecosystem = json_string_value(json_object_get(aff,
		    "ecosystem"));
		enum version_scheme scheme;
		struct match_check check;

		if (match_scheme(ecosystem, &scheme) != 0)
			continue;
		for (j = 0; j < sizeof(versions) / sizeof(versions[0]); j++)
			match_affected(aff, scheme, versions[j], &check);
		json_array_foreach(json_object_get(aff, "ranges"), j, range) {
			json_t *copy = json_deep_copy(range);

			match_range_sort(copy, scheme);
			json_decref(copy);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char reason[256];
	json_t *rec;

	if (osv_parse((const char *)data, size, &rec, reason, sizeof(reason)) == 0) {
		exercise(rec);
		json_decref(rec);
	}
	return 0;
}
