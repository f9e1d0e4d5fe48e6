#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "scanner/analyzers.h"
#include "scanner/layer_scan.h"
#include "tests/unit/lang_fixture.h"

/* The sentinels that frame the module information in Go binaries. */
#define SENTINEL_START "0w\xaf\x0c\x92t\x08\x02\x41\xe1\xc1\x07\xe6\xd6\x18\xe6"
#define SENTINEL_END "\xf9\x32\x43\x31\x86\x18 r\x00\x82\x42\x10\x41\x16\xd8\xf2"

static const char modinfo_text[] =
    "path\texample.com/app/cmd/app\n"
    "mod\texample.com/app\tv1.4.0\th1:aaaa=\n"
    "dep\tgolang.org/x/net\tv0.1.0\th1:bbbb=\n"
    "=>\tgolang.org/x/net\tv0.17.0\th1:cccc=\n"
    "dep\tgithub.com/pkg/errors\tv0.9.1\th1:dddd=\n"
    "dep\texample.com/local\tv1.0.0\n"
    "=>\t../local\t(devel)\t\n"
    "dep\tgithub.com/last/one\tv2.0.0+incompatible\th1:eeee=\n"
    "build\t-compiler=gc\n"
    "build\t-ldflags=\"-s -w\"\n"
    "build\tGOOS=linux\n"
    "build\tvcs.revision=0123abcd\n";

static void
append_varint(struct buf *b, uint64_t v)
{
	unsigned char c;

	do {
		c = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v != 0)
			c |= 0x80;
		assert_int_equal(buf_append(b, &c, 1), PC_OK);
	} while (v != 0);
}

/* Appends a Go 1.18+ build info blob at the current, aligned, offset. */
static void
append_buildinfo(struct buf *b, const char *version, const char *modinfo,
    unsigned char flags)
{
	static const unsigned char zeros[16];
	unsigned char hdr[2] = { 8, 0 };

	assert_int_equal(b->len % 16, 0);
	hdr[1] = flags;
	assert_int_equal(buf_append(b, "\xff Go buildinf:", 14), PC_OK);
	assert_int_equal(buf_append(b, hdr, 2), PC_OK);
	assert_int_equal(buf_append(b, zeros, 16), PC_OK);
	append_varint(b, strlen(version));
	assert_int_equal(buf_append_str(b, version), PC_OK);
	append_varint(b, strlen(modinfo) + 32);
	assert_int_equal(buf_append(b, SENTINEL_START, 16), PC_OK);
	assert_int_equal(buf_append_str(b, modinfo), PC_OK);
	assert_int_equal(buf_append(b, SENTINEL_END, 16), PC_OK);
}

static void
append_zeros(struct buf *b, size_t n)
{
	while (n-- > 0)
		assert_int_equal(buf_append(b, "", 1), PC_OK);
}

static void
pad_to(struct buf *b, size_t offset)
{
	assert_true(b->len <= offset);
	append_zeros(b, offset - b->len);
}

/* An ELF-looking file: header magic, then padding up to body_offset. */
static void
elf_start(struct buf *b, size_t body_offset)
{
	buf_init(b, 64 << 20);
	assert_int_equal(buf_append(b, "\x7f" "ELF\x02\x01\x01", 7), PC_OK);
	pad_to(b, body_offset);
}

static struct scan_file
exec_file(const char *path, int64_t size)
{
	struct scan_file f;

	memset(&f, 0, sizeof(f));
	f.path = path;
	f.mode = S_IFREG | 0755;
	f.size = size;
	return f;
}

/* Streams data through the analyzer in chunks of the given size. */
static void
run_go(struct layer_result *res, const char *path, const unsigned char *data,
    size_t len, size_t chunk, bool complete)
{
	struct scan_file f = exec_file(path, (int64_t)len);
	struct analyzer_stream *st;
	size_t max = 0;
	size_t off;

	assert_int_equal(layer_result_init(res, NULL), PC_OK);
	assert_int_equal(analyzer_go.wants(&f, &max), ANALYZER_STREAM);
	st = analyzer_go.stream_open(&f);
	assert_non_null(st);
	for (off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		assert_int_equal(analyzer_go.stream_data(st, data + off, n),
		    PC_OK);
	}
	assert_int_equal(analyzer_go.stream_close(st, complete, res), PC_OK);
}

static json_t *
go_result(const struct layer_result *res, const char *path)
{
	return json_object_get(json_object_get(json_object_get(res->root,
	    "files"), path), "go");
}

static void
assert_go_package(json_t *packages, const char *name, const char *version)
{
	json_t *pkg = lang_package_find(packages, name, version);

	if (pkg == NULL)
		fail_msg("package %s %s not found", name, version);
	assert_string_equal(json_string_value(json_object_get(pkg, "type")),
	    "go");
	assert_string_equal(json_string_value(json_object_get(pkg,
	    "ecosystem")), "Go");
}

static void
assert_handcrafted_result(const struct layer_result *res)
{
	json_t *go = go_result(res, "usr/local/bin/app");
	json_t *packages = json_object_get(go, "packages");
	json_t *settings = json_object_get(go, "settings");

	assert_non_null(go);
	assert_string_equal(json_string_value(json_object_get(go,
	    "go_version")), "go1.22.4 X:boringcrypto");
	assert_string_equal(json_string_value(json_object_get(go, "path")),
	    "example.com/app/cmd/app");
	assert_int_equal(json_array_size(packages), 5);
	assert_go_package(packages, "example.com/app", "v1.4.0");
	assert_go_package(packages, "golang.org/x/net", "v0.17.0");
	assert_go_package(packages, "github.com/pkg/errors", "v0.9.1");
	assert_go_package(packages, "github.com/last/one",
	    "v2.0.0+incompatible");
	assert_go_package(packages, "stdlib", "v1.22.4");
	assert_null(lang_package_find(packages, "golang.org/x/net", "v0.1.0"));
	assert_string_equal(json_string_value(json_object_get(settings,
	    "GOOS")), "linux");
	assert_string_equal(json_string_value(json_object_get(settings,
	    "-ldflags")), "\"-s -w\"");
	assert_string_equal(json_string_value(json_object_get(settings,
	    "vcs.revision")), "0123abcd");
	assert_int_equal(lang_error_count(res), 0);
}

/*
 * A file with an unaligned copy of the magic and an aligned one whose
 * pointer size is invalid before the real blob, as a binary that embeds
 * the magic string in its read-only data has.
 */
static void
handcrafted_binary(struct buf *b)
{
	elf_start(b, 4096 + 3);
	assert_int_equal(buf_append(b, "\xff Go buildinf:\x08\x02", 16),
	    PC_OK);
	pad_to(b, 8192);
	assert_int_equal(buf_append(b, "\xff Go buildinf:\x00\x02", 16),
	    PC_OK);
	pad_to(b, 3 * 4096 + 48);
	append_buildinfo(b, "go1.22.4 X:boringcrypto", modinfo_text, 0x2);
	append_zeros(b, 777);
}

static void
test_wants_executables(void **state)
{
	struct scan_file f;
	size_t max = 0;

	(void)state;
	f = exec_file("usr/local/bin/app", 10 << 20);
	assert_int_equal(analyzer_go.wants(&f, &max), ANALYZER_STREAM);
	f.mode = S_IFREG | 0644;
	assert_int_equal(analyzer_go.wants(&f, &max), ANALYZER_SKIP);
	f.mode = S_IFREG | 0700;
	assert_int_equal(analyzer_go.wants(&f, &max), ANALYZER_STREAM);
	f.mode = S_IFREG | 0701;
	assert_int_equal(analyzer_go.wants(&f, &max), ANALYZER_STREAM);
	f.size = 10;
	assert_int_equal(analyzer_go.wants(&f, &max), ANALYZER_SKIP);
	f.size = (int64_t)8 << 30;
	assert_int_equal(analyzer_go.wants(&f, &max), ANALYZER_SKIP);
	f = exec_file("usr/local/bin", 4096);
	f.mode = S_IFDIR | 0755;
	assert_int_equal(analyzer_go.wants(&f, &max), ANALYZER_SKIP);
	f = exec_file("usr/bin/app", 4096);
	f.mode = S_IFLNK | 0777;
	assert_int_equal(analyzer_go.wants(&f, &max), ANALYZER_SKIP);
}

static void
test_handcrafted_every_chunk_size(void **state)
{
	static const size_t sizes[] = { 4096, 65536, 1 << 20, 100000 };
	struct buf b;
	size_t chunk;
	size_t i;

	(void)state;
	handcrafted_binary(&b);
	for (chunk = 1; chunk <= 80; chunk++) {
		struct layer_result res;

		run_go(&res, "usr/local/bin/app", (unsigned char *)b.data,
		    b.len, chunk, true);
		assert_handcrafted_result(&res);
		layer_result_free(&res);
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct layer_result res;

		run_go(&res, "usr/local/bin/app", (unsigned char *)b.data,
		    b.len, sizes[i], true);
		assert_handcrafted_result(&res);
		layer_result_free(&res);
	}
	buf_free(&b);
}

static void
test_stdlib_versions(void **state)
{
	static const struct {
		const char *go;
		const char *stdlib;
	} cases[] = {
		{ "go1.22.4", "v1.22.4" },
		{ "go1.20", "v1.20.0" },
		{ "go1.22rc1", "v1.22.0-rc.1" },
		{ "go1.21beta2", "v1.21.0-beta.2" },
		{ "go1.21.0-X:nocoverageredesign", "v1.21.0" },
		{ "go1.19.8 X:boringcrypto,arenas", "v1.19.8" },
		{ "devel go1.23-abcdef Tue", NULL },
		{ "go1.x", NULL },
		{ "go1.2.3.4", NULL },
		{ "go11111111111.1", NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct layer_result res;
		struct buf b;
		json_t *packages;
		json_t *stdlib = NULL;
		size_t j;
		json_t *pkg;

		elf_start(&b, 64);
		append_buildinfo(&b, cases[i].go,
		    "path\tx\nmod\tx\t(devel)\t\n", 0x2);
		run_go(&res, "bin/x", (unsigned char *)b.data, b.len, 4096,
		    true);
		packages = json_object_get(go_result(&res, "bin/x"),
		    "packages");
		assert_non_null(packages);
		json_array_foreach(packages, j, pkg) {
			if (strcmp(json_string_value(json_object_get(pkg,
			    "name")), "stdlib") == 0)
				stdlib = pkg;
		}
		if (cases[i].stdlib == NULL) {
			assert_null(stdlib);
			assert_int_equal(json_array_size(packages), 0);
		} else {
			assert_non_null(stdlib);
			assert_string_equal(json_string_value(json_object_get(
			    stdlib, "version")), cases[i].stdlib);
			assert_int_equal(json_array_size(packages), 1);
		}
		layer_result_free(&res);
		buf_free(&b);
	}
}

static void
test_old_layout_reported(void **state)
{
	struct layer_result res;
	struct buf b;

	(void)state;
	elf_start(&b, 256);
	assert_int_equal(buf_append(&b, "\xff Go buildinf:\x08\x00", 16),
	    PC_OK);
	append_zeros(&b, 200);
	run_go(&res, "bin/old", (unsigned char *)b.data, b.len, 64, true);
	assert_null(go_result(&res, "bin/old"));
	assert_int_equal(lang_error_count(&res), 1);
	assert_true(lang_error_contains(&res,
	    "unsupported Go build info layout (Go < 1.18)"));
	assert_true(lang_error_contains(&res, "bin/old"));
	layer_result_free(&res);
	buf_free(&b);
}

static void
test_oversized_varints(void **state)
{
	static const unsigned char overflow[] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
	};
	struct layer_result res;
	struct buf b;

	(void)state;
	elf_start(&b, 256);
	assert_int_equal(buf_append(&b, "\xff Go buildinf:\x08\x02", 16),
	    PC_OK);
	append_zeros(&b, 16);
	assert_int_equal(buf_append(&b, overflow, sizeof(overflow)), PC_OK);
	append_zeros(&b, 100);
	run_go(&res, "bin/v1", (unsigned char *)b.data, b.len, 7, true);
	assert_null(go_result(&res, "bin/v1"));
	assert_true(lang_error_contains(&res, "not a valid varint"));
	layer_result_free(&res);
	buf_free(&b);

	elf_start(&b, 256);
	assert_int_equal(buf_append(&b, "\xff Go buildinf:\x08\x02", 16),
	    PC_OK);
	append_zeros(&b, 16);
	append_varint(&b, 8);
	assert_int_equal(buf_append_str(&b, "go1.22.0"), PC_OK);
	append_varint(&b, (uint64_t)1 << 40);
	append_zeros(&b, 100);
	run_go(&res, "bin/v2", (unsigned char *)b.data, b.len, 4096, true);
	assert_null(go_result(&res, "bin/v2"));
	assert_true(lang_error_contains(&res, "module information length"));
	assert_true(lang_error_contains(&res, "exceeds"));
	layer_result_free(&res);
	buf_free(&b);
}

static void
test_truncated_binary(void **state)
{
	struct layer_result res;
	struct buf b;

	(void)state;
	elf_start(&b, 1024);
	append_buildinfo(&b, "go1.22.4", modinfo_text, 0x2);
	/* Cut the file in the middle of the module information. */
	run_go(&res, "bin/cut", (unsigned char *)b.data, b.len - 100, 1000,
	    true);
	assert_null(go_result(&res, "bin/cut"));
	assert_true(lang_error_contains(&res, "truncated"));
	layer_result_free(&res);

	/* A layer that failed mid-file records nothing for the file. */
	run_go(&res, "bin/cut", (unsigned char *)b.data, b.len - 100, 1000,
	    false);
	assert_null(go_result(&res, "bin/cut"));
	assert_int_equal(lang_error_count(&res), 0);
	layer_result_free(&res);

	/* An ELF header alone is no Go binary and no error. */
	run_go(&res, "bin/tiny", (unsigned char *)b.data, 64, 5, true);
	assert_null(go_result(&res, "bin/tiny"));
	assert_int_equal(lang_error_count(&res), 0);
	layer_result_free(&res);
	buf_free(&b);
}

static void
test_not_elf_ignored(void **state)
{
	struct layer_result res;
	struct buf b;

	(void)state;
	elf_start(&b, 64);
	append_buildinfo(&b, "go1.22.4", modinfo_text, 0x2);
	memcpy(b.data, "#!/bin/sh\n", 4);
	run_go(&res, "bin/script", (unsigned char *)b.data, b.len, 3, true);
	assert_null(go_result(&res, "bin/script"));
	assert_int_equal(lang_error_count(&res), 0);
	layer_result_free(&res);
	buf_free(&b);
}

static void
test_many_decoy_magics(void **state)
{
	struct layer_result res;
	struct buf b;
	size_t i;

	(void)state;
	elf_start(&b, 64);
	/* Plausible headers with a Go version that is no Go version. */
	for (i = 0; i < 8192; i++) {
		assert_int_equal(buf_append(&b, "\xff Go buildinf:\x08\x02",
		    16), PC_OK);
		append_zeros(&b, 16);
		append_varint(&b, 4);
		assert_int_equal(buf_append(&b, "xxxx", 4), PC_OK);
		pad_to(&b, (b.len + 15) / 16 * 16);
	}
	append_buildinfo(&b, "go1.22.4 X:boringcrypto", modinfo_text, 0x2);
	run_go(&res, "usr/local/bin/app", (unsigned char *)b.data, b.len,
	    65536, true);
	assert_handcrafted_result(&res);
	layer_result_free(&res);
	buf_free(&b);
}

static void
test_modinfo_without_sentinels(void **state)
{
	struct layer_result res;
	struct buf b;
	static const unsigned char zeros[16];

	(void)state;
	elf_start(&b, 64);
	assert_int_equal(buf_append(&b, "\xff Go buildinf:\x08\x02", 16),
	    PC_OK);
	assert_int_equal(buf_append(&b, zeros, 16), PC_OK);
	append_varint(&b, 8);
	assert_int_equal(buf_append_str(&b, "go1.22.1"), PC_OK);
	append_varint(&b, 10);
	assert_int_equal(buf_append_str(&b, "dep\tx\tv1\n\n"), PC_OK);
	run_go(&res, "bin/s", (unsigned char *)b.data, b.len, 4096, true);
	/* Too short to hold sentinels: only the toolchain is known. */
	assert_int_equal(json_array_size(json_object_get(go_result(&res,
	    "bin/s"), "packages")), 1);
	assert_go_package(json_object_get(go_result(&res, "bin/s"),
	    "packages"), "stdlib", "v1.22.1");
	layer_result_free(&res);
	buf_free(&b);
}

static int
write_text(const char *dir, const char *name, const char *text)
{
	char path[1024];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	if (fp == NULL)
		return -1;
	fputs(text, fp);
	return fclose(fp);
}

/* Writes a module zip of the Go module proxy protocol with libarchive. */
static void
write_module_zip(const char *zip_path, const char *prefix,
    const char *const *names, const char *const *texts, size_t n)
{
	struct archive *a = archive_write_new();
	size_t i;

	assert_non_null(a);
	assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, zip_path), ARCHIVE_OK);
	for (i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		char name[1024];

		snprintf(name, sizeof(name), "%s/%s", prefix, names[i]);
		archive_entry_set_pathname(e, name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)strlen(texts[i]));
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		assert_int_equal(archive_write_data(a, texts[i],
		    strlen(texts[i])), (la_ssize_t)strlen(texts[i]));
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/*
 * Lays out a file-based module proxy with one version of a module:
 * <proxy>/<module>/@v/{list,<v>.info,<v>.mod,<v>.zip}.
 */
static void
proxy_add_module(const char *proxy, const char *module, const char *version,
    const char *declared_path, const char *package)
{
	char dir[1024], name[256], gomod[256], source[256], prefix[512];
	char zip_path[1200], info[256];
	const char *names[2] = { "go.mod", name };
	const char *texts[2] = { gomod, source };
	char command[1200];

	snprintf(dir, sizeof(dir), "%s/%s/@v", proxy, module);
	snprintf(command, sizeof(command), "mkdir -p '%s'", dir);
	assert_int_equal(system(command), 0);
	snprintf(gomod, sizeof(gomod), "module %s\n\ngo 1.18\n",
	    declared_path);
	snprintf(name, sizeof(name), "%s.go", package);
	snprintf(source, sizeof(source), "package %s\n\n"
	    "func Name() string { return \"%s\" }\n", package, module);
	assert_int_equal(write_text(dir, "list", version), 0);
	snprintf(info, sizeof(info), "{\"Version\":\"%s\","
	    "\"Time\":\"2024-01-02T03:04:05Z\"}", version);
	snprintf(prefix, sizeof(prefix), "%s.info", version);
	assert_int_equal(write_text(dir, prefix, info), 0);
	snprintf(prefix, sizeof(prefix), "%s.mod", version);
	assert_int_equal(write_text(dir, prefix, gomod), 0);
	snprintf(prefix, sizeof(prefix), "%s@%s", module, version);
	snprintf(zip_path, sizeof(zip_path), "%s/%s.zip", dir, version);
	write_module_zip(zip_path, prefix, names, texts, 2);
}

/*
 * Builds a real binary with the Go toolchain, offline: its dependencies
 * come from a module proxy laid out in a temporary folder.
 */
static void
test_real_go_binary(void **state)
{
	char dir[] = "/tmp/portcullis-go-XXXXXX";
	char proxy[512], app[512], command[4096], version[64];
	struct layer_result res;
	json_t *go, *packages;
	unsigned char *data;
	size_t len;
	FILE *fp;

	(void)state;
	if (system("go version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "skipped: no Go toolchain on PATH; install "
		    "golang-go to build the real binary fixture\n");
		skip();
	}
	assert_non_null(mkdtemp(dir));
	snprintf(proxy, sizeof(proxy), "%s/proxy", dir);
	snprintf(app, sizeof(app), "%s/app", dir);
	proxy_add_module(proxy, "example.com/dep", "v1.2.3",
	    "example.com/dep", "dep");
	/* A fork keeps the module path of the module it replaces. */
	proxy_add_module(proxy, "example.com/fork", "v1.3.0",
	    "example.com/old", "old");
	snprintf(command, sizeof(command), "mkdir -p '%s'", app);
	assert_int_equal(system(command), 0);
	assert_int_equal(write_text(app, "go.mod",
	    "module example.com/hello\n\ngo 1.18\n\n"
	    "require (\n\texample.com/dep v1.2.3\n\texample.com/old v1.0.0\n)\n\n"
	    "replace example.com/old v1.0.0 => example.com/fork v1.3.0\n"), 0);
	assert_int_equal(write_text(app, "main.go",
	    "package main\n\nimport (\n\t\"example.com/dep\"\n"
	    "\t\"example.com/old\"\n)\n\n"
	    "func main() { println(dep.Name(), old.Name()) }\n"), 0);

	snprintf(command, sizeof(command),
	    "cd '%s' && env GOPROXY='file://%s' GOSUMDB=off GOFLAGS=-mod=mod "
	    "GOTOOLCHAIN=local GOPATH='%s/gopath' GOCACHE='%s/cache' "
	    "GOENV=off CGO_ENABLED=0 go build -buildvcs=false -o hello . "
	    ">'%s/build.log' 2>&1", app, proxy, dir, dir, dir);
	if (system(command) != 0) {
		snprintf(command, sizeof(command), "cat '%s/build.log' >&2",
		    dir);
		(void)system(command);
		fail_msg("go build failed in %s", app);
	}
	snprintf(command, sizeof(command), "env GOTOOLCHAIN=local go env "
	    "GOVERSION");
	fp = popen(command, "r");
	assert_non_null(fp);
	assert_non_null(fgets(version, sizeof(version), fp));
	pclose(fp);
	version[strcspn(version, "\n")] = '\0';

	snprintf(command, sizeof(command), "%s/hello", app);
	data = lang_fixture_read(command, &len);
	run_go(&res, "app/hello", data, len, 65536, true);
	go = go_result(&res, "app/hello");
	assert_non_null(go);
	assert_string_equal(json_string_value(json_object_get(go,
	    "go_version")), version);
	assert_string_equal(json_string_value(json_object_get(go, "path")),
	    "example.com/hello");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    go, "settings"), "CGO_ENABLED")), "0");
	packages = json_object_get(go, "packages");
	/* The main module is "(devel)" and not reported. */
	assert_int_equal(json_array_size(packages), 3);
	assert_go_package(packages, "example.com/dep", "v1.2.3");
	assert_go_package(packages, "example.com/fork", "v1.3.0");
	assert_null(lang_package_find(packages, "example.com/old", "v1.0.0"));
	snprintf(command, sizeof(command), "v%s", version + 2);
	assert_go_package(packages, "stdlib", command);
	assert_int_equal(lang_error_count(&res), 0);
	layer_result_free(&res);
	free(data);

	snprintf(command, sizeof(command), "chmod -R u+w '%s' && rm -rf '%s'",
	    dir, dir);
	assert_int_equal(system(command), 0);
}

/* Writes a plain tar layer with one executable at path to a temp file. */
static int
layer_with_file(const char *path, const void *data, size_t len, char *tmp)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	int fd;

	assert_non_null(a);
	assert_non_null(e);
	fd = mkstemp(tmp);
	assert_true(fd >= 0);
	assert_int_equal(archive_write_set_format_pax_restricted(a),
	    ARCHIVE_OK);
	assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0755);
	archive_entry_set_size(e, (la_int64_t)len);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, data, len), (la_ssize_t)len);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(e);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* The tar walker hands the binary over in chunks through stream_data(). */
static void
test_through_layer_walker(void **state)
{
	static const struct analyzer *const only_go[] = { &analyzer_go, NULL };
	char tmp[] = "/tmp/portcullis-go-layer-XXXXXX";
	struct scan_source *src;
	struct layer_result res;
	struct buf b;
	int fd;

	(void)state;
	/* The blob starts 48 bytes before the end of the first 64 KiB. */
	elf_start(&b, 65536 - 48);
	append_buildinfo(&b, "go1.22.4 X:boringcrypto", modinfo_text, 0x2);
	pad_to(&b, 200000);
	fd = layer_with_file("./usr/local/bin/app", b.data, b.len, tmp);
	src = scan_source_fd_new(fd);
	assert_non_null(src);
	assert_int_equal(layer_result_init(&res, NULL), PC_OK);
	assert_int_equal(layer_scan_run_with(src, NULL, NULL, NULL, &res,
	    only_go), PC_OK);
	assert_handcrafted_result(&res);
	layer_result_free(&res);
	scan_source_free(src);
	close(fd);
	unlink(tmp);
	buf_free(&b);
}

static void
test_allocation_failures(void **state)
{
	struct buf b;
	long n;

	(void)state;
	handcrafted_binary(&b);
	for (n = 0; n < 60; n++) {
		struct scan_file f = exec_file("bin/app", (int64_t)b.len);
		struct analyzer_stream *st;
		struct layer_result res;
		int err;

		assert_int_equal(layer_result_init(&res, NULL), PC_OK);
		pc_alloc_fail_after(n);
		st = analyzer_go.stream_open(&f);
		if (st != NULL) {
			assert_int_equal(analyzer_go.stream_data(st,
			    (unsigned char *)b.data, b.len), PC_OK);
			err = analyzer_go.stream_close(st, true, &res);
			assert_true(err == PC_OK || err == PC_ERR_NOMEM);
		}
		pc_alloc_fail_after(-1);
		layer_result_free(&res);
	}
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wants_executables),
		cmocka_unit_test(test_handcrafted_every_chunk_size),
		cmocka_unit_test(test_stdlib_versions),
		cmocka_unit_test(test_old_layout_reported),
		cmocka_unit_test(test_oversized_varints),
		cmocka_unit_test(test_truncated_binary),
		cmocka_unit_test(test_not_elf_ignored),
		cmocka_unit_test(test_many_decoy_magics),
		cmocka_unit_test(test_modinfo_without_sentinels),
		cmocka_unit_test(test_real_go_binary),
		cmocka_unit_test(test_through_layer_walker),
		cmocka_unit_test(test_allocation_failures),
	};

	pc_alloc_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
