#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/blobstore.h"
#include "cache/manifest_cache.h"
#include "common/digest.h"
#include "common/error.h"
#include "proxy/cache_import.h"
#include "tests/unit/tmpdir_fixture.h"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_V2 "application/vnd.docker.distribution.manifest.v2+json"

struct split_case {
	const char *ref;
	bool docker_hub;
	const char *default_tag;
	int err;
	const char *repository;   /* expected on PC_OK */
	const char *tag;
};

static const struct split_case split_cases[] = {
	{"debian", true, "latest", PC_OK, "library/debian", "latest"},
	{"debian:bookworm", true, "latest", PC_OK, "library/debian", "bookworm"},
	{"debian", false, "latest", PC_OK, "debian", "latest"},
	{"team/base:v1", true, "latest", PC_OK, "team/base", "v1"},
	/* A first component with '.', ':' or "localhost" is a host. */
	{"docker.io/library/debian:12", true, NULL, PC_OK, "library/debian", "12"},
	{"registry.example.com/team/base:v1", true, NULL, PC_OK, "team/base", "v1"},
	{"127.0.0.1:5000/app:1.0", false, NULL, PC_OK, "app", "1.0"},
	{"localhost/app", false, "latest", PC_OK, "app", "latest"},
	{"example.com/debian", true, NULL, PC_OK, "library/debian", ""},
	/* A ':' before the last '/' belongs to the host, not a tag. */
	{"host:5000/a/b", false, "x", PC_OK, "a/b", "x"},
	{"Debian:1", true, NULL, PC_ERR_INVALID, NULL, NULL},
	{"debian:-bad", true, NULL, PC_ERR_INVALID, NULL, NULL},
	{"debian:", true, NULL, PC_ERR_INVALID, NULL, NULL},
	{":tag", true, NULL, PC_ERR_INVALID, NULL, NULL},
	{"", true, "latest", PC_ERR_INVALID, NULL, NULL},
	{"a//b", false, NULL, PC_ERR_INVALID, NULL, NULL},
	{"example.com/", false, NULL, PC_ERR_INVALID, NULL, NULL},
};

static void
test_split_name_table(void **state)
{
	for (size_t i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
		const struct split_case *c = &split_cases[i];
		char repository[REPO_NAME_MAX_LEN + 1];
		char tag[TAG_MAX_LEN + 1];
		char reason[256] = "";
		int err = cache_import_split_name(c->ref, c->docker_hub,
		    c->default_tag, repository, tag, reason, sizeof(reason));

		print_message("case %zu: %s\n", i, c->ref);
		assert_int_equal(err, c->err);
		if (err != PC_OK) {
			assert_true(reason[0] != '\0');
			continue;
		}
		assert_string_equal(repository, c->repository);
		assert_string_equal(tag, c->tag);
	}
}

static void
test_split_name_length_limits(void **state)
{
	char ref[REPO_NAME_MAX_LEN + TAG_MAX_LEN + 8];
	char repository[REPO_NAME_MAX_LEN + 1];
	char tag[TAG_MAX_LEN + 1];
	char reason[256];

	/* A one-component name of the maximum length fits without library/. */
	memset(ref, 'a', REPO_NAME_MAX_LEN);
	ref[REPO_NAME_MAX_LEN] = '\0';
	assert_int_equal(cache_import_split_name(ref, false, NULL, repository, tag,
	    reason, sizeof(reason)), PC_OK);
	assert_int_equal(strlen(repository), REPO_NAME_MAX_LEN);

	/* With library/ in front it no longer does. */
	assert_int_equal(cache_import_split_name(ref, true, NULL, repository, tag,
	    reason, sizeof(reason)), PC_ERR_INVALID);

	/* One byte more is too long even without it. */
	memset(ref, 'a', REPO_NAME_MAX_LEN + 1);
	ref[REPO_NAME_MAX_LEN + 1] = '\0';
	assert_int_equal(cache_import_split_name(ref, false, NULL, repository, tag,
	    reason, sizeof(reason)), PC_ERR_INVALID);

	/* Tags: 128 characters pass, 129 fail. */
	memcpy(ref, "a:", 2);
	memset(ref + 2, 't', TAG_MAX_LEN);
	ref[2 + TAG_MAX_LEN] = '\0';
	assert_int_equal(cache_import_split_name(ref, false, NULL, repository, tag,
	    reason, sizeof(reason)), PC_OK);
	assert_int_equal(strlen(tag), TAG_MAX_LEN);
	ref[2 + TAG_MAX_LEN] = 't';
	ref[3 + TAG_MAX_LEN] = '\0';
	assert_int_equal(cache_import_split_name(ref, false, NULL, repository, tag,
	    reason, sizeof(reason)), PC_ERR_INVALID);
}

static void
test_accept_classes_distinct(void **state)
{
	unsigned classes[CACHE_IMPORT_MAX_CLASSES];
	size_t n = cache_import_accept_classes(classes);

	assert_true(n >= 3);
	assert_true(n <= CACHE_IMPORT_MAX_CLASSES);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = i + 1; j < n; j++)
			assert_true(classes[i] != classes[j]);
	}
}

static void
test_accept_classes_cover_clients(void **state)
{
	const char *none = NULL;
	unsigned no_accept = accept_class_from_headers(&none, 0);
	unsigned classes[CACHE_IMPORT_MAX_CLASSES];
	size_t n = cache_import_accept_classes(classes);
	size_t oci = 0;
	size_t docker = 0;
	bool has_no_accept = false;

	for (size_t i = 0; i < n; i++) {
		oci += accept_class_allows(classes[i], MT_OCI_MANIFEST);
		docker += accept_class_allows(classes[i], MT_DOCKER_V2);
		has_no_accept = has_no_accept || classes[i] == no_accept;
	}
	/* An OCI manifest is stored for every class but the no-Accept one. */
	assert_true(has_no_accept);
	assert_int_equal(oci, n - 1);
	assert_int_equal(docker, n);
	/* The richest class, containerd's, comes first and takes any type. */
	assert_true(classes[0] & ACCEPT_ANY);
}

/* ---- importing a small OCI layout made here ---- */

#define OS_RELEASE "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian 12\"\n"

/* How the layout differs from a valid one. */
enum layout_fault {
	LAYOUT_VALID,
	LAYOUT_SIZE_LARGER,    /* the layer descriptor names one byte more */
	LAYOUT_SIZE_SMALLER,   /* ... one byte less */
	LAYOUT_LAYER_CHANGED,  /* the layer file has one byte changed */
	LAYOUT_LAYER_MISSING,  /* the layer file is absent */
};

static void
write_bytes(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Writes data as blobs/sha256/<hex> of the layout and returns its digest. */
static void
write_blob(const char *layout, const void *data, size_t len,
    char digest[DIGEST_SHA256_BUFSIZE])
{
	char path[512];

	sha256_hex(data, len, digest);
	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", layout, digest + 7);
	write_bytes(path, data, len);
}

/* An uncompressed tar layer with one file, etc/os-release. */
static size_t
make_layer(unsigned char *buf, size_t bufsize)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t used = 0;

	assert_non_null(a);
	assert_non_null(e);
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, buf, bufsize, &used),
	    ARCHIVE_OK);
	archive_entry_set_pathname(e, "etc/os-release");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)strlen(OS_RELEASE));
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, OS_RELEASE, strlen(OS_RELEASE)),
	    (la_ssize_t)strlen(OS_RELEASE));
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_entry_free(e);
	archive_write_free(a);
	return used;
}

/* Builds an OCI layout tagged "v1" in DIR/layout with the given fault. */
static void
make_layout(const char *dir, enum layout_fault fault, char *layout,
    size_t layoutlen, char manifest_digest[DIGEST_SHA256_BUFSIZE])
{
	static unsigned char layer[64 * 1024];
	char layer_digest[DIGEST_SHA256_BUFSIZE];
	char config_digest[DIGEST_SHA256_BUFSIZE];
	char config[512];
	char manifest[1024];
	char index[512];
	char path[512];
	size_t layer_len = make_layer(layer, sizeof(layer));
	long long layer_size = (long long)layer_len;

	snprintf(layout, layoutlen, "%s/layout", dir);
	assert_int_equal(mkdir(layout, 0755), 0);
	snprintf(path, sizeof(path), "%s/blobs", layout);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/blobs/sha256", layout);
	assert_int_equal(mkdir(path, 0755), 0);

	write_blob(layout, layer, layer_len, layer_digest);
	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", layout, layer_digest + 7);
	if (fault == LAYOUT_LAYER_CHANGED) {
		layer[600] ^= 0x01;
		write_bytes(path, layer, layer_len);
	}
	if (fault == LAYOUT_LAYER_MISSING)
		assert_int_equal(unlink(path), 0);
	if (fault == LAYOUT_SIZE_LARGER)
		layer_size++;
	if (fault == LAYOUT_SIZE_SMALLER)
		layer_size--;

	snprintf(config, sizeof(config), "{\"architecture\":\"amd64\",\"os\":"
	    "\"linux\",\"config\":{\"User\":\"1000\"},\"rootfs\":{\"type\":"
	    "\"layers\",\"diff_ids\":[\"%s\"]}}", layer_digest);
	write_blob(layout, config, strlen(config), config_digest);
	snprintf(manifest, sizeof(manifest), "{\"schemaVersion\":2,\"mediaType\":"
	    "\"" MT_OCI_MANIFEST "\",\"config\":{\"mediaType\":"
	    "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
	    "\"size\":%zu},\"layers\":[{\"mediaType\":"
	    "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\","
	    "\"size\":%lld}]}", config_digest, strlen(config), layer_digest,
	    layer_size);
	write_blob(layout, manifest, strlen(manifest), manifest_digest);
	snprintf(index, sizeof(index), "{\"schemaVersion\":2,\"manifests\":[{"
	    "\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,"
	    "\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"}}]}",
	    manifest_digest, strlen(manifest));
	snprintf(path, sizeof(path), "%s/index.json", layout);
	tmpdir_write_file(path, index);
}

/* Imports DIR/layout as team/app into the caches in DIR/cache. */
static int
import_layout(const char *dir, enum layout_fault fault, char *reason,
    size_t reasonlen, struct tag_entry *tag_out, int *tag_err,
    char manifest_digest[DIGEST_SHA256_BUFSIZE])
{
	struct cache_import_options opts;
	struct cache_import_result res;
	struct blobstore *bs = NULL;
	struct manifest_cache *mc = NULL;
	unsigned classes[CACHE_IMPORT_MAX_CLASSES];
	char layout[256];
	char source[300];
	char cache[256];
	char verdicts[300];
	int err;

	make_layout(dir, fault, layout, sizeof(layout), manifest_digest);
	snprintf(source, sizeof(source), "oci:%s:v1", layout);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	snprintf(verdicts, sizeof(verdicts), "%s/verdicts", cache);
	assert_int_equal(blobstore_open(cache, 0, &bs), PC_OK);
	assert_int_equal(manifest_cache_open(cache, &mc), PC_OK);

	memset(&opts, 0, sizeof(opts));
	opts.source = source;
	opts.upstream = "docker.io";
	opts.docker_hub = true;
	opts.as = "team/app";
	opts.verdict_dir = verdicts;
	err = cache_import_run(bs, mc, &opts, &res, reason, reasonlen);
	if (err == PC_OK) {
		assert_string_equal(res.repository, "team/app");
		assert_string_equal(res.tag, "v1");
		assert_string_equal(res.digest, manifest_digest);
		assert_int_equal(res.blobs_copied, 2);
		assert_int_equal(access(res.verdict_path, R_OK), 0);
		assert_string_equal(json_string_value(json_object_get(json_object_get(
		    res.report, "os"), "family")), "debian");
		assert_null(res.verdict);
		json_decref(res.report);
	}
	cache_import_accept_classes(classes);
	*tag_err = tag_cache_get(mc, "docker.io", "team/app", "v1", classes[0],
	    tag_out);
	manifest_cache_close(mc);
	blobstore_close(bs);
	return err;
}

static void
test_import_valid_layout(void **state)
{
	struct tmpdir *t = *state;
	struct tag_entry tag;
	char digest[DIGEST_SHA256_BUFSIZE];
	char reason[512] = "";
	int tag_err;

	assert_int_equal(import_layout(t->dir, LAYOUT_VALID, reason,
	    sizeof(reason), &tag, &tag_err, digest), PC_OK);
	assert_int_equal(tag_err, PC_OK);
	assert_string_equal(tag.digest, digest);
	assert_string_equal(tag.media_type, MT_OCI_MANIFEST);
}

/* Each damaged layout fails with its error and leaves no tag behind. */
static void
check_rejected(void **state, enum layout_fault fault, int want_err,
    const char *message)
{
	struct tmpdir *t = *state;
	struct tag_entry tag;
	char digest[DIGEST_SHA256_BUFSIZE];
	char reason[512] = "";
	int tag_err;

	assert_int_equal(import_layout(t->dir, fault, reason, sizeof(reason), &tag,
	    &tag_err, digest), want_err);
	print_message("reason: %s\n", reason);
	assert_non_null(strstr(reason, message));
	assert_int_equal(tag_err, PC_ERR_NOTFOUND);
}

static void
test_import_size_larger(void **state)
{
	check_rejected(state, LAYOUT_SIZE_LARGER, PC_ERR_TRUNCATED,
	    "failed verification");
}

static void
test_import_size_smaller(void **state)
{
	check_rejected(state, LAYOUT_SIZE_SMALLER, PC_ERR_LIMIT,
	    "larger than its descriptor");
}

static void
test_import_layer_changed(void **state)
{
	check_rejected(state, LAYOUT_LAYER_CHANGED, PC_ERR_MISMATCH,
	    "failed verification");
}

static void
test_import_layer_missing(void **state)
{
	check_rejected(state, LAYOUT_LAYER_MISSING, PC_ERR_NOTFOUND,
	    "cannot open layer");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_name_table),
		cmocka_unit_test(test_split_name_length_limits),
		cmocka_unit_test(test_accept_classes_distinct),
		cmocka_unit_test(test_accept_classes_cover_clients),
		cmocka_unit_test_setup_teardown(test_import_valid_layout,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_import_size_larger,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_import_size_smaller,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_import_layer_changed,
		    tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_import_layer_missing,
		    tmpdir_setup, tmpdir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
