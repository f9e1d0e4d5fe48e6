/*
 * libFuzzer target for the language analyzers (python, npm, go, java).
 * The first input byte picks the analyzer and file kind, the second the
 * chunk size of the Go stream; the rest is the file content.
 * tests/fuzz/run.sh builds and runs it on a seed corpus. To build and run
 * it by hand from the repository root after `make`:
 *
 *   clang -std=c11 -D_GNU_SOURCE -I. -g -O1 \
 *     -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 *     $(pkg-config --cflags jansson libarchive) \
 *     tests/fuzz/fuzz_analyzer_lang.c build/libportcullis.a \
 *     $(pkg-config --libs libevent libevent_openssl libevent_pthreads \
 *       libnghttp2 libcurl openssl libarchive libisal libzstd sqlite3 \
 *       jansson yaml-0.1 lmdb hiredis) -lcrypt -lpthread -lm \
 *     -o fuzz_analyzer_lang
 *   ./fuzz_analyzer_lang -max_len=65536 CORPUS_DIR
 *
 * For coverage, build the library with clang and instrumentation first:
 *
 *   make BUILD=build-fuzz CC=clang OPT="-O1 -g" SANITIZE="-fsanitize=\
 *     address,undefined -fno-sanitize-recover=undefined \
 *     -fsanitize=fuzzer-no-link" build-fuzz/libportcullis.a
 *
 * and link build-fuzz/libportcullis.a instead.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "scanner/analyzers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {
		"a.dist-info/METADATA", "node_modules/x/package.json",
		"package-lock.json", "bin/app", "lib/a.jar",
	};
	const struct analyzer *an[] = { &analyzer_python, &analyzer_npm,
	    &analyzer_npm, &analyzer_go, &analyzer_java };
	struct layer_result res;
	struct scan_file f;
	size_t max = 0, k;

	if (size < 2)
		return 0;
	k = data[0] % 5;
	memset(&f, 0, sizeof(f));
	f.path = paths[k];
	f.mode = S_IFREG | 0755;
	f.size = (int64_t)(size - 2);
	if (layer_result_init(&res, NULL) != 0)
		return 0;
	if (k == 3) {
		struct analyzer_stream *st;
		size_t chunk = (size_t)data[1] + 1, off;

		if (an[k]->wants(&f, &max) != ANALYZER_STREAM) {
			layer_result_free(&res);
			return 0;
		}
		st = an[k]->stream_open(&f);
		for (off = 2; off < size; off += chunk) {
			size_t n = size - off < chunk ? size - off : chunk;
			an[k]->stream_data(st, data + off, n);
		}
		an[k]->stream_close(st, true, &res);
	} else {
		an[k]->wants(&f, &max);
		an[k]->analyze(&f, data + 2, size - 2, false, &res);
	}
	layer_result_free(&res);
	return 0;
}
