#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "scanner/layer_scan.h"

/*
 * Layers are written at test time with libarchive's writer (and gzip(1)
 * for multi-member streams) into a temporary folder, then scanned with a
 * recording analyzer defined here.
 */

enum compression { PLAIN, GZIP, ZSTD };

struct fixture_entry {
	const char *path;
	char type;            /* 'f' file, 'd' dir, 'l' symlink, 'h' hardlink */
	const char *data;     /* file content or link target */
	int64_t zero_bytes;   /* extra zero bytes appended to a file */
};

static char tmpdir[] = "/tmp/test_layer_scan.XXXXXX";
static int file_counter;

/* What the recording analyzer saw. */
struct seen {
	char paths[64][256];
	char links[64][256];
	size_t n;
	char content[256];
	size_t content_len;
	bool content_truncated;
	uint64_t stream_bytes;
	size_t stream_max_chunk;
	bool stream_complete;
	int stream_closes;
	unsigned depth_seen;
};

static struct seen seen;

static enum analyzer_want
record_wants(const struct scan_file *f, size_t *max_bytes)
{
	size_t n = strlen(f->path);

	if (n > 4 && strcmp(f->path + n - 4, ".txt") == 0) {
		*max_bytes = 16;
		return ANALYZER_CONTENT;
	}
	return ANALYZER_META;
}

static int
record_analyze(const struct scan_file *f, const unsigned char *data,
    size_t len, bool truncated, struct layer_result *res)
{
	if (seen.n < 64) {
		snprintf(seen.paths[seen.n], sizeof(seen.paths[0]), "%s", f->path);
		snprintf(seen.links[seen.n], sizeof(seen.links[0]), "%s",
		    f->linkname != NULL ? f->linkname : "");
		seen.n++;
	}
	if (data != NULL) {
		memcpy(seen.content, data, len < sizeof(seen.content) ? len :
		    sizeof(seen.content));
		seen.content_len = len;
		seen.content_truncated = truncated;
	}
	seen.depth_seen = layer_scan_limits()->max_archive_depth;
	return layer_result_set(res, f->path, "seen", json_true());
}

static const struct analyzer record_analyzer = {
	.name = "record",
	.wants = record_wants,
	.analyze = record_analyze,
};

struct analyzer_stream {
	int unused;
};

static struct analyzer_stream count_stream;

static enum analyzer_want
count_wants(const struct scan_file *f, size_t *max_bytes)
{
	return strncmp(f->path, "big/", 4) == 0 ? ANALYZER_STREAM :
	    ANALYZER_SKIP;
}

static struct analyzer_stream *
count_open(const struct scan_file *f)
{
	return &count_stream;
}

static int
count_data(struct analyzer_stream *st, const unsigned char *data, size_t len)
{
	seen.stream_bytes += len;
	if (len > seen.stream_max_chunk)
		seen.stream_max_chunk = len;
	return PC_OK;
}

static int
count_close(struct analyzer_stream *st, bool complete, struct layer_result *res)
{
	seen.stream_complete = complete;
	seen.stream_closes++;
	return PC_OK;
}

static const struct analyzer count_analyzer = {
	.name = "count",
	.wants = count_wants,
	.stream_open = count_open,
	.stream_data = count_data,
	.stream_close = count_close,
};

static const struct analyzer *const test_analyzers[] = {
	&record_analyzer,
	&count_analyzer,
	NULL,
};

static void
temp_path(char *out, size_t outlen, const char *suffix)
{
	snprintf(out, outlen, "%s/f%d%s", tmpdir, file_counter++, suffix);
}

static void
write_entry(struct archive *a, const struct fixture_entry *fe)
{
	struct archive_entry *e = archive_entry_new();
	size_t len = fe->data != NULL ? strlen(fe->data) : 0;
	static const char zeros[65536];

	archive_entry_set_pathname(e, fe->path);
	archive_entry_set_mtime(e, 1700000000, 0);
	switch (fe->type) {
	case 'd':
		archive_entry_set_filetype(e, AE_IFDIR);
		archive_entry_set_perm(e, 0755);
		break;
	case 'l':
		archive_entry_set_filetype(e, AE_IFLNK);
		archive_entry_set_perm(e, 0777);
		archive_entry_set_symlink(e, fe->data);
		break;
	case 'h':
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_hardlink(e, fe->data);
		break;
	default:
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)len + fe->zero_bytes);
		break;
	}
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	if (fe->type == 'f') {
		int64_t left = fe->zero_bytes;

		if (len > 0)
			assert_int_equal(archive_write_data(a, fe->data, len),
			    (la_ssize_t)len);
		while (left > 0) {
			size_t n = left < (int64_t)sizeof(zeros) ? (size_t)left :
			    sizeof(zeros);

			assert_int_equal(archive_write_data(a, zeros, n),
			    (la_ssize_t)n);
			left -= (int64_t)n;
		}
	}
	archive_entry_free(e);
}

/* Writes a pax tar of entries to out, compressed as asked. */
static void
make_layer(char *out, size_t outlen, enum compression c,
    const struct fixture_entry *entries, size_t n)
{
	struct archive *a = archive_write_new();

	temp_path(out, outlen, c == GZIP ? ".tar.gz" : c == ZSTD ? ".tar.zst" :
	    ".tar");
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	if (c == GZIP)
		assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	if (c == ZSTD)
		assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, out), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++)
		write_entry(a, &entries[i]);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static void
sha256_file(const char *path, char out[80])
{
	unsigned char data[65536];
	unsigned char md[32];
	unsigned int mdlen;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = fread(data, 1, sizeof(data), f)) > 0)
		EVP_DigestUpdate(ctx, data, n);
	fclose(f);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	memcpy(out, "sha256:", 8);
	for (int i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

/* Scans the file at path; returns the scan's error code. */
static int
scan_file_at(const char *path, const char *media_type, const char *digest,
    const struct scan_limits *limits, struct layer_result *res)
{
	int fd = open(path, O_RDONLY);
	struct scan_source *src;
	int err;

	assert_true(fd >= 0);
	src = scan_source_fd_new(fd);
	assert_non_null(src);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(layer_result_init(res, NULL), PC_OK);
	err = layer_scan_run_with(src, media_type, digest, limits, res,
	    test_analyzers);
	scan_source_free(src);
	close(fd);
	return err;
}

static bool
seen_path(const char *path)
{
	for (size_t i = 0; i < seen.n; i++) {
		if (strcmp(seen.paths[i], path) == 0)
			return true;
	}
	return false;
}

static const char *
seen_link(const char *path)
{
	for (size_t i = 0; i < seen.n; i++) {
		if (strcmp(seen.paths[i], path) == 0)
			return seen.links[i];
	}
	return NULL;
}

static bool
array_has(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	}
	return false;
}

/* True when some error message of res contains needle. */
static bool
error_contains(struct layer_result *res, const char *needle)
{
	json_t *errors = json_object_get(res->root, "errors");
	size_t i;
	json_t *v;

	json_array_foreach(errors, i, v) {
		const char *m = json_string_value(json_object_get(v, "message"));

		if (m != NULL && strstr(m, needle) != NULL &&
		    strcmp(json_string_value(json_object_get(v, "kind")),
		    "scan_error") == 0)
			return true;
	}
	return false;
}

static json_int_t
stat_int(struct layer_result *res, const char *key)
{
	return json_integer_value(json_object_get(json_object_get(res->root,
	    "stats"), key));
}

static const struct fixture_entry basic_entries[] = {
	{"./", 'd', NULL, 0},
	{"./etc/", 'd', NULL, 0},
	{"./etc/os-release", 'l', "../usr/lib/os-release", 0},
	{"./usr/lib/os-release", 'f', "ID=debian\nVERSION_ID=\"12\"\n", 0},
	{"/abs//double///slash", 'f', "x", 0},
	{"./notes.txt", 'f', "hello, layer", 0},
	{"./usr/bin/python3", 'h', "./usr/lib/os-release", 0},
};

static void
check_basic(enum compression c, const char *media_type)
{
	struct layer_result res;
	char path[512];
	char digest[80];

	make_layer(path, sizeof(path), c, basic_entries,
	    sizeof(basic_entries) / sizeof(basic_entries[0]));
	sha256_file(path, digest);
	assert_int_equal(scan_file_at(path, media_type, digest, NULL, &res),
	    PC_OK);

	assert_true(seen_path("etc"));
	assert_true(seen_path("etc/os-release"));
	assert_string_equal(seen_link("etc/os-release"), "../usr/lib/os-release");
	assert_true(seen_path("usr/lib/os-release"));
	assert_true(seen_path("abs/double/slash"));
	assert_string_equal(seen_link("usr/bin/python3"), "usr/lib/os-release");
	assert_false(seen_path(""));
	assert_int_equal(seen.content_len, strlen("hello, layer"));
	assert_memory_equal(seen.content, "hello, layer", seen.content_len);
	assert_false(seen.content_truncated);
	assert_int_equal(seen.depth_seen, SCAN_DEFAULT_MAX_ARCHIVE_DEPTH);

	assert_string_equal(json_string_value(json_object_get(res.root,
	    "digest")), digest);
	assert_int_equal(stat_int(&res, "entries"), 7);
	assert_true(stat_int(&res, "bytes") >= 7 * 512);
	assert_int_equal(json_array_size(json_object_get(res.root, "errors")), 0);
	assert_non_null(json_object_get(json_object_get(json_object_get(res.root,
	    "files"), "notes.txt"), "seen"));
	layer_result_free(&res);
}

static void
test_plain_tar(void **state)
{
	check_basic(PLAIN, "application/vnd.oci.image.layer.v1.tar");
}

static void
test_gzip_tar(void **state)
{
	check_basic(GZIP, "application/vnd.oci.image.layer.v1.tar+gzip");
}

static void
test_zstd_tar(void **state)
{
	check_basic(ZSTD, "application/vnd.oci.image.layer.v1.tar+zstd");
}

static void
test_docker_media_type(void **state)
{
	check_basic(GZIP, "application/vnd.docker.image.rootfs.diff.tar.gzip");
}

static void
test_sniff_wrong_media_type(void **state)
{
	/* The magic number decides when the media type is wrong or missing. */
	check_basic(ZSTD, "application/vnd.oci.image.layer.v1.tar+gzip");
	check_basic(GZIP, "application/vnd.oci.image.layer.v1.tar");
	check_basic(PLAIN, "application/vnd.oci.image.layer.v1.tar+zstd");
	check_basic(GZIP, NULL);
	check_basic(ZSTD, "application/octet-stream");
}

static void
test_whiteouts_and_opaque(void **state)
{
	static const struct fixture_entry entries[] = {
		{"./usr/bin/.wh.curl", 'f', "", 0},
		{"./.wh.top", 'f', "", 0},
		{"./app/node_modules/.wh..wh..opq", 'f', "", 0},
		{"./.wh..wh..opq", 'f', "", 0},
		{"./.wh..wh.plnk", 'd', NULL, 0},
		{"./usr/bin/kept", 'f', "k", 0},
	};
	struct layer_result res;
	char path[512];

	make_layer(path, sizeof(path), GZIP, entries, 6);
	assert_int_equal(scan_file_at(path, NULL, NULL, NULL, &res), PC_OK);

	json_t *wh = json_object_get(res.root, "whiteouts");
	json_t *opq = json_object_get(res.root, "opaque");

	assert_int_equal(json_array_size(wh), 2);
	assert_true(array_has(wh, "usr/bin/curl"));
	assert_true(array_has(wh, "top"));
	assert_int_equal(json_array_size(opq), 2);
	assert_true(array_has(opq, "app/node_modules"));
	assert_true(array_has(opq, ""));
	assert_int_equal(seen.n, 1);
	assert_true(seen_path("usr/bin/kept"));
	layer_result_free(&res);
}

static void
test_dotdot_paths(void **state)
{
	static const struct fixture_entry entries[] = {
		{"../etc/evil", 'f', "x", 0},
		{"a/../../escape", 'f', "x", 0},
		{"a/b/../c", 'f', "x", 0},
		{"./ok", 'f', "x", 0},
	};
	struct layer_result res;
	char path[512];

	make_layer(path, sizeof(path), PLAIN, entries, 4);
	assert_int_equal(scan_file_at(path, NULL, NULL, NULL, &res), PC_OK);
	assert_int_equal(seen.n, 2);
	assert_true(seen_path("a/c"));
	assert_true(seen_path("ok"));
	assert_true(error_contains(&res, "../etc/evil"));
	assert_true(error_contains(&res, "a/../../escape"));
	assert_true(error_contains(&res, "escapes the layer root"));
	assert_int_equal(json_array_size(json_object_get(res.root, "errors")), 2);
	layer_result_free(&res);
}

static void
test_normalize_path_table(void **state)
{
	static const struct {
		const char *in;
		const char *out;
		int err;
	} cases[] = {
		{"./a/b", "a/b", PC_OK},
		{"/a//b/", "a/b", PC_OK},
		{"./", "", PC_OK},
		{".", "", PC_OK},
		{"a/./b/./", "a/b", PC_OK},
		{"a/b/../../c", "c", PC_OK},
		{"..", NULL, PC_ERR_INVALID},
		{"a/../..", NULL, PC_ERR_INVALID},
		{"/../x", NULL, PC_ERR_INVALID},
		{"a/\xff\xfe/b", "a/?" "?/b", PC_OK},
		{"caf\xc3\xa9", "caf\xc3\xa9", PC_OK},
		{"\xc0\xaf", "?" "?", PC_OK},
		{"0123456789", NULL, PC_ERR_LIMIT},
		{"012345678", "012345678", PC_OK},
	};
	char out[10];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int err = layer_scan_normalize_path(cases[i].in, out, sizeof(out));

		assert_int_equal(err, cases[i].err);
		if (cases[i].out != NULL)
			assert_string_equal(out, cases[i].out);
	}
}

static void
truncate_file(const char *path, double fraction)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, (off_t)((double)st.st_size * fraction)),
	    0);
}

/* A layer with enough incompressible content that a cut lands in data. */
static void
make_random_layer(char *path, size_t len, enum compression c)
{
	static char text[200001];
	struct fixture_entry entries[2] = {
		{"./random.bin", 'f', text, 0},
		{"./after", 'f', "after", 0},
	};
	unsigned int x = 12345;

	for (size_t i = 0; i < sizeof(text) - 1; i++) {
		x = x * 1103515245u + 12345u;
		text[i] = (char)('A' + (x >> 16) % 26);
	}
	text[sizeof(text) - 1] = '\0';
	make_layer(path, len, c, entries, 2);
}

static void
test_truncated_gzip(void **state)
{
	struct layer_result res;
	char path[512];

	make_random_layer(path, sizeof(path), GZIP);
	truncate_file(path, 0.5);
	assert_int_equal(scan_file_at(path, NULL, NULL, NULL, &res),
	    PC_ERR_TRUNCATED);
	assert_true(error_contains(&res, "truncated gzip"));
	layer_result_free(&res);
}

static void
test_truncated_zstd(void **state)
{
	struct layer_result res;
	char path[512];

	make_random_layer(path, sizeof(path), ZSTD);
	truncate_file(path, 0.5);
	assert_int_equal(scan_file_at(path, NULL, NULL, NULL, &res),
	    PC_ERR_TRUNCATED);
	assert_true(error_contains(&res, "truncated zstd"));
	layer_result_free(&res);
}

static void
corrupt_file(const char *path, off_t at, size_t n)
{
	int fd = open(path, O_WRONLY);
	unsigned char junk[64];

	assert_true(fd >= 0);
	assert_true(n <= sizeof(junk));
	memset(junk, 0xa5, n);
	assert_int_equal(pwrite(fd, junk, n, at), (ssize_t)n);
	close(fd);
}

static void
test_corrupt_zstd(void **state)
{
	struct layer_result res;
	char tar[512];
	char path[512];
	char cmd[2048];
	struct stat st;

	/* zstd(1) adds a content checksum, so any damage is detected. */
	make_random_layer(tar, sizeof(tar), PLAIN);
	temp_path(path, sizeof(path), ".tar.zst");
	snprintf(cmd, sizeof(cmd), "zstd -q -c %s > %s", tar, path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(stat(path, &st), 0);
	corrupt_file(path, st.st_size / 2, 64);
	assert_int_equal(scan_file_at(path, NULL, NULL, NULL, &res),
	    PC_ERR_INVALID);
	assert_true(error_contains(&res, "corrupt zstd"));
	layer_result_free(&res);
}

static void
test_corrupt_gzip(void **state)
{
	struct layer_result res;
	char path[512];
	struct stat st;

	make_random_layer(path, sizeof(path), GZIP);
	assert_int_equal(stat(path, &st), 0);
	corrupt_file(path, st.st_size / 2, 64);
	assert_int_equal(scan_file_at(path, NULL, NULL, NULL, &res),
	    PC_ERR_INVALID);
	assert_true(error_contains(&res, "corrupt gzip"));
	layer_result_free(&res);
}

static void
test_gzip_bomb_hits_limit(void **state)
{
	static const struct fixture_entry entries[] = {
		{"./zeros", 'f', "", 64LL << 20},
	};
	struct scan_limits limits;
	struct layer_result res;
	char path[512];
	struct stat st;

	make_layer(path, sizeof(path), GZIP, entries, 1);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size < (1 << 20));
	scan_limits_default(&limits);
	limits.max_layer_bytes = 8 << 20;
	assert_int_equal(scan_file_at(path, NULL, NULL, &limits, &res),
	    PC_ERR_LIMIT);
	assert_true(error_contains(&res, "max_layer_bytes"));
	layer_result_free(&res);
}

static void
test_ratio_limit(void **state)
{
	static const struct fixture_entry entries[] = {
		{"./zeros", 'f', "", 64LL << 20},
	};
	struct scan_limits limits;
	struct layer_result res;
	char path[512];

	make_layer(path, sizeof(path), ZSTD, entries, 1);
	scan_limits_default(&limits);
	limits.ratio_min_bytes = 1 << 20;
	limits.max_ratio = 100;
	assert_int_equal(scan_file_at(path, NULL, NULL, &limits, &res),
	    PC_ERR_LIMIT);
	assert_true(error_contains(&res, "max_ratio"));
	layer_result_free(&res);
}

static void
test_too_many_entries(void **state)
{
	struct fixture_entry entries[100];
	char names[100][16];
	struct scan_limits limits;
	struct layer_result res;
	char path[512];

	for (int i = 0; i < 100; i++) {
		snprintf(names[i], sizeof(names[i]), "f%d", i);
		entries[i] = (struct fixture_entry){names[i], 'f', "x", 0};
	}
	make_layer(path, sizeof(path), GZIP, entries, 100);
	scan_limits_default(&limits);
	limits.max_entries = 10;
	assert_int_equal(scan_file_at(path, NULL, NULL, &limits, &res),
	    PC_ERR_LIMIT);
	assert_true(error_contains(&res, "max_entries"));
	assert_int_equal(seen.n, 10);
	layer_result_free(&res);
}

static void
test_path_too_long(void **state)
{
	static char long_name[300];
	struct fixture_entry entries[1] = {{long_name, 'f', "x", 0}};
	struct scan_limits limits;
	struct layer_result res;
	char path[512];

	memset(long_name, 'a', sizeof(long_name) - 1);
	make_layer(path, sizeof(path), PLAIN, entries, 1);
	scan_limits_default(&limits);
	limits.max_path_len = 200;
	assert_int_equal(scan_file_at(path, NULL, NULL, &limits, &res),
	    PC_ERR_LIMIT);
	assert_true(error_contains(&res, "max_path_len"));
	layer_result_free(&res);
}

static void
test_wrong_digest(void **state)
{
	struct layer_result res;
	char path[512];
	const char *wrong = "sha256:"
	    "0000000000000000000000000000000000000000000000000000000000000000";

	make_layer(path, sizeof(path), GZIP, basic_entries, 3);
	assert_int_equal(scan_file_at(path, NULL, wrong, NULL, &res),
	    PC_ERR_MISMATCH);
	assert_true(error_contains(&res, "digest mismatch"));
	layer_result_free(&res);

	assert_int_equal(scan_file_at(path, NULL, "sha512:abcd", NULL, &res),
	    PC_ERR_UNSUPPORTED);
	layer_result_free(&res);
	assert_int_equal(scan_file_at(path, NULL, "sha256:ABC", NULL, &res),
	    PC_ERR_INVALID);
	layer_result_free(&res);
}

static void
test_multi_member_gzip(void **state)
{
	struct layer_result res;
	char tar[512];
	char gz[512];
	char digest[80];
	char cmd[4096];
	struct stat st;

	make_layer(tar, sizeof(tar), PLAIN, basic_entries,
	    sizeof(basic_entries) / sizeof(basic_entries[0]));
	assert_int_equal(stat(tar, &st), 0);
	temp_path(gz, sizeof(gz), ".tar.gz");
	/* Three members split at odd offsets, one in the middle of a header. */
	snprintf(cmd, sizeof(cmd),
	    "head -c 700 %s | gzip -c > %s && "
	    "tail -c +701 %s | head -c 1500 | gzip -c >> %s && "
	    "tail -c +2201 %s | gzip -c >> %s",
	    tar, gz, tar, gz, tar, gz);
	assert_int_equal(system(cmd), 0);
	sha256_file(gz, digest);

	assert_int_equal(scan_file_at(gz, NULL, digest, NULL, &res), PC_OK);
	assert_int_equal(stat_int(&res, "entries"), 7);
	assert_int_equal(stat_int(&res, "bytes"), st.st_size);
	assert_true(seen_path("notes.txt"));
	layer_result_free(&res);
}

static void
test_trailing_garbage_gzip(void **state)
{
	struct layer_result res;
	char path[512];
	char cmd[1024];

	make_layer(path, sizeof(path), GZIP, basic_entries, 3);
	snprintf(cmd, sizeof(cmd), "printf 'garbage' >> %s", path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(scan_file_at(path, NULL, NULL, NULL, &res),
	    PC_ERR_INVALID);
	assert_true(error_contains(&res, "after the end of the gzip stream"));
	layer_result_free(&res);
}

static void
test_stream_and_content_caps(void **state)
{
	static const struct fixture_entry entries[] = {
		{"./big/blob", 'f', "head", 300000},
		{"./long.txt", 'f', "0123456789abcdefXYZ", 0},
	};
	struct scan_limits limits;
	struct layer_result res;
	char path[512];

	make_layer(path, sizeof(path), GZIP, entries, 2);
	assert_int_equal(scan_file_at(path, NULL, NULL, NULL, &res), PC_OK);
	assert_int_equal(seen.stream_bytes, 300004);
	assert_true(seen.stream_max_chunk <= SCAN_STREAM_CHUNK);
	assert_true(seen.stream_complete);
	assert_int_equal(seen.stream_closes, 1);
	assert_int_equal(seen.content_len, 16);
	assert_memory_equal(seen.content, "0123456789abcdef", 16);
	assert_true(seen.content_truncated);
	layer_result_free(&res);

	/* max_file_bytes cuts streams too, and the close then reports incomplete. */
	scan_limits_default(&limits);
	limits.max_file_bytes = 100000;
	assert_int_equal(scan_file_at(path, NULL, NULL, &limits, &res), PC_OK);
	assert_int_equal(seen.stream_bytes, 100000);
	assert_false(seen.stream_complete);
	assert_true(seen_path("long.txt"));
	layer_result_free(&res);
}

static void
test_not_a_tar(void **state)
{
	struct layer_result res;
	char path[512];
	char cmd[1024];

	temp_path(path, sizeof(path), ".gz");
	snprintf(cmd, sizeof(cmd),
	    "head -c 5000 /dev/urandom | gzip -c > %s", path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(scan_file_at(path, NULL, NULL, NULL, &res),
	    PC_ERR_INVALID);
	assert_true(error_contains(&res, "corrupt tar"));
	layer_result_free(&res);

	temp_path(path, sizeof(path), ".bz2");
	snprintf(cmd, sizeof(cmd), "printf 'BZh91AY&SY' > %s", path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(scan_file_at(path, NULL, NULL, NULL, &res),
	    PC_ERR_UNSUPPORTED);
	layer_result_free(&res);
}

struct feeder {
	const char *from;
	int fd;
	struct scan_source *src;
	int finish_err;
	size_t stop_at;
};

/* Copies the layer into the growing file 997 bytes at a time. */
static void *
feeder_run(void *arg)
{
	struct feeder *fe = arg;
	int in = open(fe->from, O_RDONLY);
	char data[997];
	uint64_t total = 0;
	ssize_t n;

	while ((n = read(in, data, sizeof(data))) > 0) {
		if (fe->stop_at > 0 && total >= fe->stop_at)
			break;
		if (write(fe->fd, data, (size_t)n) != n)
			break;
		total += (uint64_t)n;
		scan_source_growing_update(fe->src, total);
		if (total % 7 == 0)
			usleep(100);
	}
	close(in);
	scan_source_growing_finish(fe->src, fe->finish_err);
	return NULL;
}

static int
scan_growing(const char *layer, int finish_err, size_t stop_at,
    struct layer_result *res, const char *digest)
{
	char grow[512];
	struct feeder fe;
	pthread_t thread;
	int err;

	temp_path(grow, sizeof(grow), ".partial");
	fe.from = layer;
	fe.fd = open(grow, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fe.fd >= 0);
	fe.src = scan_source_growing_new(fe.fd);
	assert_non_null(fe.src);
	fe.finish_err = finish_err;
	fe.stop_at = stop_at;
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(layer_result_init(res, NULL), PC_OK);
	assert_int_equal(pthread_create(&thread, NULL, feeder_run, &fe), 0);
	err = layer_scan_run_with(fe.src, NULL, digest, NULL, res,
	    test_analyzers);
	pthread_join(thread, NULL);
	scan_source_free(fe.src);
	close(fe.fd);
	return err;
}

static void
test_growing_source(void **state)
{
	struct layer_result res;
	char path[512];
	char digest[80];

	make_random_layer(path, sizeof(path), GZIP);
	sha256_file(path, digest);
	assert_int_equal(scan_growing(path, PC_OK, 0, &res, digest), PC_OK);
	assert_true(seen_path("random.bin"));
	assert_true(seen_path("after"));
	assert_int_equal(stat_int(&res, "entries"), 2);
	layer_result_free(&res);

	/* A download that fails part way fails the scan with its error. */
	assert_int_equal(scan_growing(path, PC_ERR_UPSTREAM, 20000, &res, NULL),
	    PC_ERR_UPSTREAM);
	assert_true(error_contains(&res, "reading the layer failed"));
	layer_result_free(&res);

	/* A download that ends early but claims success is truncated. */
	assert_int_equal(scan_growing(path, PC_OK, 20000, &res, NULL),
	    PC_ERR_TRUNCATED);
	layer_result_free(&res);
}

static void
test_limits_outside_scan(void **state)
{
	struct scan_limits limits;

	scan_limits_default(&limits);
	assert_int_equal(layer_scan_limits()->max_entries, limits.max_entries);
	assert_int_equal(layer_scan_limits()->max_archive_depth,
	    SCAN_DEFAULT_MAX_ARCHIVE_DEPTH);
}


static unsigned int mutation_seed = 20261204;

static unsigned int
next_random(void)
{
	mutation_seed = mutation_seed * 1103515245u + 12345u;
	return mutation_seed >> 8;
}

static void
write_bytes(const char *path, const unsigned char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static size_t
read_bytes(const char *path, unsigned char *data, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(data, 1, cap, f);
	assert_true(feof(f));
	fclose(f);
	return n;
}

/* The scan either succeeds or records a scan_error: never anything else. */
static void
scan_must_fail_cleanly(const char *path, const struct analyzer *const *list)
{
	struct layer_result res;
	int fd = open(path, O_RDONLY);
	struct scan_source *src = scan_source_fd_new(fd);
	int err;

	assert_non_null(src);
	assert_int_equal(layer_result_init(&res, NULL), PC_OK);
	memset(&seen, 0, sizeof(seen));
	err = layer_scan_run_with(src, NULL, NULL, NULL, &res, list);
	if (err != PC_OK)
		assert_true(json_array_size(json_object_get(res.root, "errors")) > 0);
	layer_result_free(&res);
	scan_source_free(src);
	close(fd);
}

static const struct fixture_entry rich_entries[] = {
	{"./etc/os-release", 'l', "../usr/lib/os-release", 0},
	{"./usr/lib/os-release", 'f', "ID=debian\nVERSION_ID=\"12\"\n", 0},
	{"./var/lib/dpkg/status", 'f', "Package: bash\nStatus: install ok "
	    "installed\nVersion: 5.2-1\nArchitecture: amd64\n\n", 0},
	{"./etc/app.env", 'f', "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n", 0},
	{"./notes.txt", 'f', "hello, layer", 0},
	{"./big/blob", 'f', "head", 70000},
	{"./usr/bin/.wh.old", 'f', "", 0},
};

/*
 * Random byte changes and cuts of real plain, gzip and zstd layers, run
 * through the test analyzers and through every compiled-in analyzer.
 */
static void
test_mutated_layers_fail_cleanly(void **state)
{
	static unsigned char orig[1 << 20];
	static unsigned char copy[1 << 20];
	const enum compression kinds[] = {PLAIN, GZIP, ZSTD};
	char path[512];
	char mutated[512];

	temp_path(mutated, sizeof(mutated), ".mutated");
	for (size_t k = 0; k < 3; k++) {
		size_t len;

		make_layer(path, sizeof(path), kinds[k], rich_entries,
		    sizeof(rich_entries) / sizeof(rich_entries[0]));
		len = read_bytes(path, orig, sizeof(orig));
		for (int iter = 0; iter < 150; iter++) {
			size_t n = len;
			int changes = 1 + (int)(next_random() % 8);

			memcpy(copy, orig, len);
			for (int c = 0; c < changes; c++) {
				/* Most changes land in the first 4 KiB: headers. */
				size_t span = next_random() % 4 == 0 ? len :
				    (len < 4096 ? len : 4096);

				copy[next_random() % span] = (unsigned char)next_random();
			}
			if (iter % 5 == 0)
				n = next_random() % len;
			write_bytes(mutated, copy, n);
			scan_must_fail_cleanly(mutated, iter % 2 == 0 ?
			    test_analyzers : scanner_analyzers);
		}
	}
}


/* Every allocation failure point of a scan unwinds with PC_ERR_NOMEM. */
static void
test_allocation_failures_unwind(void **state)
{
	struct layer_result res;
	char path[512];
	int fd;
	int err = PC_ERR_NOMEM;

	make_layer(path, sizeof(path), GZIP, rich_entries,
	    sizeof(rich_entries) / sizeof(rich_entries[0]));
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	for (long n = 0; n < 5000 && err != PC_OK; n++) {
		struct scan_source *src = scan_source_fd_new(fd);

		assert_non_null(src);
		assert_int_equal(layer_result_init(&res, NULL), PC_OK);
		pc_alloc_fail_after(n);
		err = layer_scan_run_with(src, NULL, NULL, NULL, &res,
		    scanner_analyzers);
		pc_alloc_fail_after(-1);
		assert_true(err == PC_OK || err == PC_ERR_NOMEM);
		layer_result_free(&res);
		scan_source_free(src);
	}
	assert_int_equal(err, PC_OK);
	close(fd);
}

static int
setup_all(void **state)
{
	pc_alloc_init();
	return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int
teardown_all(void **state)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_tar),
		cmocka_unit_test(test_gzip_tar),
		cmocka_unit_test(test_zstd_tar),
		cmocka_unit_test(test_docker_media_type),
		cmocka_unit_test(test_sniff_wrong_media_type),
		cmocka_unit_test(test_whiteouts_and_opaque),
		cmocka_unit_test(test_dotdot_paths),
		cmocka_unit_test(test_normalize_path_table),
		cmocka_unit_test(test_truncated_gzip),
		cmocka_unit_test(test_truncated_zstd),
		cmocka_unit_test(test_corrupt_zstd),
		cmocka_unit_test(test_corrupt_gzip),
		cmocka_unit_test(test_gzip_bomb_hits_limit),
		cmocka_unit_test(test_ratio_limit),
		cmocka_unit_test(test_too_many_entries),
		cmocka_unit_test(test_path_too_long),
		cmocka_unit_test(test_wrong_digest),
		cmocka_unit_test(test_multi_member_gzip),
		cmocka_unit_test(test_trailing_garbage_gzip),
		cmocka_unit_test(test_stream_and_content_caps),
		cmocka_unit_test(test_not_a_tar),
		cmocka_unit_test(test_growing_source),
		cmocka_unit_test(test_limits_outside_scan),
		cmocka_unit_test(test_mutated_layers_fail_cleanly),
		cmocka_unit_test(test_allocation_failures_unwind),
	};

	return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
