/*
 * libFuzzer target for the OS analyzers and the secrets scanner: dpkg
 * status files, the apk installed database, os-release and distribution
 * release files, and any text file for secrets. The first input byte
 * picks the analyzer and path, and the second the chunk size of the
 * secrets stream. The rest is the file content, handed over as the tar
 * walker does: cut to the analyzer's read cap with truncated set, or
 * streamed in chunks. For the symlink case the content is the link target instead.
 * Built and run by tests/fuzz/run.sh.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "common/error.h"
#include "scanner/analyzers.h"
#include "tests/fuzz/fuzz_util.h"

static const struct {
	const struct analyzer *analyzer;
	const char *path;
	mode_t type;
} cases[] = {
	{&analyzer_dpkg, "var/lib/dpkg/status", S_IFREG},
	{&analyzer_dpkg, "var/lib/dpkg/status.d/libc6", S_IFREG},
	{&analyzer_apk, "lib/apk/db/installed", S_IFREG},
	{&analyzer_os, "etc/os-release", S_IFREG},
	{&analyzer_os, "usr/lib/os-release", S_IFREG},
	{&analyzer_os, "etc/alpine-release", S_IFREG},
	{&analyzer_os, "etc/debian_version", S_IFREG},
	{&analyzer_os, "etc/redhat-release", S_IFREG},
	{&analyzer_os, "etc/system-release", S_IFREG},
	{&analyzer_os, "etc/os-release", S_IFLNK},
	{&analyzer_secrets, "app/.env", S_IFREG},
	{&analyzer_secrets, "root/.ssh/id_rsa", S_IFREG},
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static void
run_stream(const struct analyzer *an, const struct scan_file *f,
    const uint8_t *content, size_t len, size_t chunk, struct layer_result *res)
{
	struct analyzer_stream *st = an->stream_open(f);

	if (st == NULL)
		return;
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		if (an->stream_data(st, content + off, n) != PC_OK) {
			an->stream_close(st, false, res);
			return;
		}
	}
	an->stream_close(st, true, res);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct analyzer *an;
	struct layer_result res;
	struct scan_file f = {0};
	char *linkname = NULL;
	const uint8_t *content = data + 2;
	size_t len = size - 2;
	size_t max = 0;
	size_t k;

	if (size < 2)
		return 0;
	k = data[0] % N_CASES;
	an = cases[k].analyzer;
	f.path = cases[k].path;
	f.mode = cases[k].type | 0644;
	f.size = (int64_t)len;
	if (S_ISLNK(f.mode)) {
		linkname = fuzz_strndup(content, len);
		f.linkname = linkname;
		f.size = 0;
	}
	if (layer_result_init(&res, NULL) != PC_OK) {
		free(linkname);
		return 0;
	}
	switch (an->wants(&f, &max)) {
	case ANALYZER_CONTENT:
		an->analyze(&f, content, len < max ? len : max, len > max, &res);
		break;
	case ANALYZER_META:
		an->analyze(&f, NULL, 0, false, &res);
		break;
	case ANALYZER_STREAM:
		run_stream(an, &f, content, len, (size_t)data[1] * 64 + 1, &res);
		break;
	case ANALYZER_SKIP:
		break;
	}
	layer_result_free(&res);
	free(linkname);
	return 0;
}
