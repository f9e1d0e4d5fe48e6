#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/manifest_cache.h"
#include "common/alloc.h"
#include "common/digest.h"
#include "common/error.h"
#include "tests/unit/tmpdir_fixture.h"

#define MT_DOCKER_V2 "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST \
	"application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_V1 "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_V1_SIGNED \
	"application/vnd.docker.distribution.manifest.v1+prettyjws"

/* An OCI image manifest in the form registries serve. */
static const char oci_manifest[] =
    "{\"schemaVersion\":2,"
    "\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
    "\"digest\":\"sha256:"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\","
    "\"size\":0},"
    "\"layers\":[{\"mediaType\":"
    "\"application/vnd.oci.image.layer.v1.tar+gzip\","
    "\"digest\":\"sha256:"
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\","
    "\"size\":3}]}";

/* ---- manifests ---- */

static void
test_manifest_roundtrip(void **state)
{
	struct tmpdir *f = *state;
	struct manifest_cache *mc = NULL;
	char digest[DIGEST_SHA256_BUFSIZE];
	char *type = NULL;
	char *data = NULL;
	size_t len = 0;

	sha256_hex(oci_manifest, strlen(oci_manifest), digest);
	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	assert_int_equal(manifest_cache_get(mc, digest, &type, &data, &len),
	    PC_ERR_NOTFOUND);
	assert_int_equal(manifest_cache_put(mc, digest, MT_OCI_MANIFEST,
	    oci_manifest, strlen(oci_manifest)), PC_OK);
	/* Immutable: a second put of the same digest is a no-op. */
	assert_int_equal(manifest_cache_put(mc, digest, MT_OCI_MANIFEST,
	    oci_manifest, strlen(oci_manifest)), PC_OK);

	assert_int_equal(manifest_cache_get(mc, digest, &type, &data, &len),
	    PC_OK);
	assert_string_equal(type, MT_OCI_MANIFEST);
	assert_int_equal(len, strlen(oci_manifest));
	assert_memory_equal(data, oci_manifest, len);
	assert_int_equal(data[len], '\0');
	pc_free(type);
	pc_free(data);
	manifest_cache_close(mc);

	/* Survives a restart. */
	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	assert_int_equal(manifest_cache_get(mc, digest, &type, &data, &len),
	    PC_OK);
	assert_string_equal(type, MT_OCI_MANIFEST);
	assert_string_equal(data, oci_manifest);
	pc_free(type);
	pc_free(data);
	manifest_cache_close(mc);
}

static void
test_manifest_binary_body(void **state)
{
	struct tmpdir *f = *state;
	struct manifest_cache *mc = NULL;
	const char body[] = "line one\nline two\n\0after a NUL";
	char digest[DIGEST_SHA256_BUFSIZE];
	char *type = NULL;
	char *data = NULL;
	size_t len = 0;

	/* Newlines and NUL bytes inside the body survive the type header line. */
	sha256_hex(body, sizeof(body), digest);
	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	assert_int_equal(manifest_cache_put(mc, digest, MT_DOCKER_V2, body,
	    sizeof(body)), PC_OK);
	assert_int_equal(manifest_cache_get(mc, digest, &type, &data, &len),
	    PC_OK);
	assert_int_equal(len, sizeof(body));
	assert_memory_equal(data, body, sizeof(body));
	assert_string_equal(type, MT_DOCKER_V2);
	pc_free(type);
	pc_free(data);
	manifest_cache_close(mc);
}

static void
test_manifest_mismatch(void **state)
{
	struct tmpdir *f = *state;
	struct manifest_cache *mc = NULL;
	char digest[DIGEST_SHA256_BUFSIZE];
	char *type = NULL;
	char *data = NULL;
	size_t len = 0;
	char path[PATH_MAX];

	sha256_hex("other bytes", 11, digest);
	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	assert_int_equal(manifest_cache_put(mc, digest, MT_OCI_MANIFEST,
	    oci_manifest, strlen(oci_manifest)), PC_ERR_MISMATCH);
	assert_int_equal(manifest_cache_get(mc, digest, &type, &data, &len),
	    PC_ERR_NOTFOUND);
	assert_null(type);
	assert_null(data);
	snprintf(path, sizeof(path), "%s/manifests/tmp", f->dir);
	assert_int_equal(tmpdir_count_files(path), 0);
	manifest_cache_close(mc);
}

static void
test_manifest_size_limit(void **state)
{
	struct tmpdir *f = *state;
	struct manifest_cache *mc = NULL;
	char digest[DIGEST_SHA256_BUFSIZE];
	char *big = malloc(MANIFEST_MAX_BYTES + 1);

	assert_non_null(big);
	memset(big, ' ', MANIFEST_MAX_BYTES + 1);
	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);

	sha256_hex(big, MANIFEST_MAX_BYTES + 1, digest);
	assert_int_equal(manifest_cache_put(mc, digest, MT_OCI_MANIFEST, big,
	    MANIFEST_MAX_BYTES + 1), PC_ERR_LIMIT);

	/* Exactly at the cap is fine. */
	sha256_hex(big, MANIFEST_MAX_BYTES, digest);
	assert_int_equal(manifest_cache_put(mc, digest, MT_OCI_MANIFEST, big,
	    MANIFEST_MAX_BYTES), PC_OK);
	manifest_cache_close(mc);
	free(big);
}

static void
test_manifest_invalid_input(void **state)
{
	struct tmpdir *f = *state;
	struct manifest_cache *mc = NULL;
	char digest[DIGEST_SHA256_BUFSIZE];
	const char *sha512 = "sha512:"
	    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
	    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
	const char *bad_types[] = {
		"", "application", "application/", "/json", "a/b/c",
		"application/json; charset=utf-8", "application/json\n",
		"text plain/x", "-a/b",
	};
	char *type = NULL;
	char *data = NULL;
	size_t len = 0;

	sha256_hex("{}", 2, digest);
	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
		print_message("media type %zu: \"%s\"\n", i, bad_types[i]);
		assert_int_equal(manifest_cache_put(mc, digest, bad_types[i], "{}",
		    2), PC_ERR_INVALID);
	}
	assert_int_equal(manifest_cache_put(mc, digest, NULL, "{}", 2),
	    PC_ERR_INVALID);
	assert_int_equal(manifest_cache_put(mc, "sha256:00", MT_OCI_MANIFEST,
	    "{}", 2), PC_ERR_INVALID);
	assert_int_equal(manifest_cache_put(mc, sha512, MT_OCI_MANIFEST, "{}", 2),
	    PC_ERR_UNSUPPORTED);
	assert_int_equal(manifest_cache_get(mc, "latest", &type, &data, &len),
	    PC_ERR_INVALID);
	assert_int_equal(manifest_cache_get(mc, sha512, &type, &data, &len),
	    PC_ERR_UNSUPPORTED);
	manifest_cache_close(mc);
}

static void
test_manifest_damaged_file(void **state)
{
	struct tmpdir *f = *state;
	struct manifest_cache *mc = NULL;
	char digest[DIGEST_SHA256_BUFSIZE];
	char path[PATH_MAX];
	char *type = NULL;
	char *data = NULL;
	size_t len = 0;

	sha256_hex(oci_manifest, strlen(oci_manifest), digest);
	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	assert_int_equal(manifest_cache_put(mc, digest, MT_OCI_MANIFEST,
	    oci_manifest, strlen(oci_manifest)), PC_OK);
	snprintf(path, sizeof(path), "%s/manifests/sha256/%.2s/%s", f->dir,
	    digest + 7, digest + 7);

	/* A flipped body byte: the digest check on read catches it. */
	tmpdir_write_file(path, MT_OCI_MANIFEST "\n{\"schemaVersion\":3}");
	assert_int_equal(manifest_cache_get(mc, digest, &type, &data, &len),
	    PC_ERR_NOTFOUND);
	assert_int_equal(access(path, F_OK), -1);

	/* No type line at all. */
	assert_int_equal(manifest_cache_put(mc, digest, MT_OCI_MANIFEST,
	    oci_manifest, strlen(oci_manifest)), PC_OK);
	tmpdir_write_file(path, "no newline here");
	assert_int_equal(manifest_cache_get(mc, digest, &type, &data, &len),
	    PC_ERR_NOTFOUND);

	/* A broken type line in front of the right body. */
	tmpdir_write_file(path, "not a type\n");
	{
		FILE *fp = fopen(path, "a");

		assert_non_null(fp);
		fputs(oci_manifest, fp);
		fclose(fp);
	}
	assert_int_equal(manifest_cache_get(mc, digest, &type, &data, &len),
	    PC_ERR_NOTFOUND);
	assert_null(type);
	assert_null(data);
	manifest_cache_close(mc);
}

static void
test_open_locked(void **state)
{
	struct tmpdir *f = *state;
	struct manifest_cache *mc = NULL;
	struct manifest_cache *second = NULL;

	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	assert_int_equal(manifest_cache_open(f->dir, &second), PC_ERR_AGAIN);
	assert_null(second);
	manifest_cache_close(mc);
	assert_int_equal(manifest_cache_open(f->dir, &second), PC_OK);
	manifest_cache_close(second);
}

/* ---- Accept negotiation ---- */

struct accept_case {
	const char *name;
	const char *headers[8];
	size_t n;
	unsigned expected;
};

#define ALL_FOUR \
	(ACCEPT_DOCKER_V2 | ACCEPT_DOCKER_LIST | ACCEPT_OCI_MANIFEST | \
	    ACCEPT_OCI_INDEX)

static const struct accept_case accept_cases[] = {
	{"containerd resolve, one comma-joined header",
	    {MT_DOCKER_V2 ", " MT_DOCKER_LIST ", " MT_OCI_MANIFEST ", "
	    MT_OCI_INDEX ", */*"}, 1, ALL_FOUR | ACCEPT_ANY},
	{"containerd fetch by digest",
	    {MT_OCI_MANIFEST ", */*"}, 1, ACCEPT_OCI_MANIFEST | ACCEPT_ANY},
	{"dockerd, one header line per type",
	    {MT_DOCKER_V2, MT_DOCKER_LIST, MT_OCI_MANIFEST, MT_OCI_INDEX,
	    MT_DOCKER_V1_SIGNED}, 5, ALL_FOUR | ACCEPT_DOCKER_V1},
	{"no Accept header", {NULL}, 0, ACCEPT_DOCKER_V2 | ACCEPT_DOCKER_V1},
	{"empty header", {""}, 1, 0},
	{"only commas and spaces", {" , ,, "}, 1, 0},
	{"unknown type", {"text/html"}, 1, 0},
	{"q=0 removes a type",
	    {MT_OCI_INDEX ";q=0, " MT_OCI_MANIFEST}, 1, ACCEPT_OCI_MANIFEST},
	{"q=0.000 is zero too", {MT_OCI_INDEX "; q=0.000"}, 1, 0},
	{"Q=0 upper case", {MT_OCI_INDEX ";Q=0"}, 1, 0},
	{"q=0.001 still accepts", {MT_OCI_INDEX ";q=0.001"}, 1, ACCEPT_OCI_INDEX},
	{"q=1 and q=1.000", {MT_OCI_INDEX ";q=1, " MT_DOCKER_V2 ";q=1.000"}, 1,
	    ACCEPT_OCI_INDEX | ACCEPT_DOCKER_V2},
	{"invalid q values", {MT_OCI_INDEX ";q=2, " MT_DOCKER_V2 ";q=0.5000, "
	    MT_OCI_MANIFEST ";q=abc, " MT_DOCKER_LIST ";q=1.5"}, 1, 0},
	{"*/* with q=0", {"*/*;q=0"}, 1, 0},
	{"application/* is any", {"application/*"}, 1, ACCEPT_ANY},
	{"case-insensitive names",
	    {"Application/VND.OCI.Image.Manifest.v1+JSON"}, 1,
	    ACCEPT_OCI_MANIFEST},
	{"parameters ignored",
	    {MT_OCI_MANIFEST "; charset=utf-8 ; q=0.8"}, 1, ACCEPT_OCI_MANIFEST},
	{"quoted comma in a parameter",
	    {"text/plain; x=\"a," MT_OCI_INDEX "\", " MT_DOCKER_V2}, 1,
	    ACCEPT_DOCKER_V2},
	{"tabs and spaces", {"\t" MT_DOCKER_LIST "\t,\t" MT_DOCKER_V1 " "}, 1,
	    ACCEPT_DOCKER_LIST | ACCEPT_DOCKER_V1},
	{"NULL header value skipped", {NULL, MT_DOCKER_V2}, 2, ACCEPT_DOCKER_V2},
	{"prefix of a type is not the type",
	    {"application/vnd.oci.image.manifest.v1+jso"}, 1, 0},
};

static void
test_accept_class_table(void **state)
{
	for (size_t i = 0; i < sizeof(accept_cases) / sizeof(accept_cases[0]);
	    i++) {
		const struct accept_case *c = &accept_cases[i];

		print_message("case %zu: %s\n", i, c->name);
		assert_int_equal(accept_class_from_headers(c->headers, c->n),
		    c->expected);
	}
}

static void
test_accept_range_limit(void **state)
{
	char *header;
	size_t len = 0;
	const char *values[1];

	/* ACCEPT_MAX_MEDIA_RANGES ranges of junk push a real type past the cap. */
	header = malloc(ACCEPT_MAX_MEDIA_RANGES * 4 + sizeof(MT_OCI_INDEX) + 1);
	assert_non_null(header);
	for (int i = 0; i < ACCEPT_MAX_MEDIA_RANGES; i++) {
		memcpy(header + len, "a/b,", 4);
		len += 4;
	}
	memcpy(header + len, MT_OCI_INDEX, sizeof(MT_OCI_INDEX));
	values[0] = header;
	assert_int_equal(accept_class_from_headers(values, 1), 0);

	/* One range fewer leaves room for it. */
	values[0] = header + 4;
	assert_int_equal(accept_class_from_headers(values, 1), ACCEPT_OCI_INDEX);
	free(header);
}

static void
test_accept_class_allows(void **state)
{
	unsigned containerd = ALL_FOUR | ACCEPT_ANY;
	unsigned no_oci = ACCEPT_DOCKER_V2 | ACCEPT_DOCKER_LIST;

	assert_true(accept_class_allows(containerd, MT_OCI_INDEX));
	assert_true(accept_class_allows(containerd, "application/x-unknown"));
	assert_true(accept_class_allows(no_oci, MT_DOCKER_V2));
	assert_true(accept_class_allows(no_oci, MT_DOCKER_LIST));
	assert_false(accept_class_allows(no_oci, MT_OCI_MANIFEST));
	assert_false(accept_class_allows(no_oci, MT_OCI_INDEX));
	assert_false(accept_class_allows(no_oci, MT_DOCKER_V1));
	assert_true(accept_class_allows(ACCEPT_DOCKER_V1, MT_DOCKER_V1));
	assert_true(accept_class_allows(ACCEPT_DOCKER_V1, MT_DOCKER_V1_SIGNED));
	assert_true(accept_class_allows(ACCEPT_OCI_MANIFEST,
	    "APPLICATION/vnd.oci.image.manifest.v1+json; charset=utf-8"));
	assert_false(accept_class_allows(ACCEPT_OCI_MANIFEST, "*/*"));
	assert_false(accept_class_allows(0, MT_DOCKER_V2));
	assert_false(accept_class_allows(containerd, NULL));
}

static void
test_media_type_and_upstream_names(void **state)
{
	assert_true(media_type_is_valid(MT_DOCKER_LIST));
	assert_true(media_type_is_valid("application/json"));
	assert_false(media_type_is_valid("application/json;x=y"));
	assert_false(media_type_is_valid(NULL));

	assert_true(upstream_name_is_valid("docker.io"));
	assert_true(upstream_name_is_valid("127.0.0.1:5000"));
	assert_true(upstream_name_is_valid("[::1]:5000"));
	assert_true(upstream_name_is_valid("hub_mirror-2"));
	assert_false(upstream_name_is_valid(""));
	assert_false(upstream_name_is_valid("a/b"));
	assert_false(upstream_name_is_valid("a b"));
	assert_false(upstream_name_is_valid("a\nb"));
	assert_false(upstream_name_is_valid(NULL));
}

/* ---- tags ---- */

static void
put_tag(struct manifest_cache *mc, const char *repo, const char *tag,
    unsigned accept_class, const char *content, time_t at)
{
	char digest[DIGEST_SHA256_BUFSIZE];

	sha256_hex(content, strlen(content), digest);
	assert_int_equal(tag_cache_put(mc, "docker.io", repo, tag, accept_class,
	    digest, MT_DOCKER_LIST, strlen(content), at), PC_OK);
}

static void
test_tag_put_get_touch(void **state)
{
	struct tmpdir *f = *state;
	struct manifest_cache *mc = NULL;
	struct tag_entry e;
	char d1[DIGEST_SHA256_BUFSIZE];
	char d2[DIGEST_SHA256_BUFSIZE];
	unsigned docker = ACCEPT_DOCKER_V2 | ACCEPT_DOCKER_LIST;
	unsigned oci = ACCEPT_OCI_MANIFEST;

	sha256_hex("index", 5, d1);
	sha256_hex("amd64 manifest", 14, d2);
	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	assert_int_equal(tag_cache_get(mc, "docker.io", "library/alpine",
	    "3.19", docker, &e), PC_ERR_NOTFOUND);

	/* The same tag resolves differently per accept class. */
	assert_int_equal(tag_cache_put(mc, "docker.io", "library/alpine", "3.19",
	    docker, d1, MT_DOCKER_LIST, 5, 1000), PC_OK);
	assert_int_equal(tag_cache_put(mc, "docker.io", "library/alpine", "3.19",
	    oci, d2, MT_OCI_MANIFEST, 14, 1001), PC_OK);
	assert_int_equal(tag_cache_count(mc), 2);

	assert_int_equal(tag_cache_get(mc, "docker.io", "library/alpine", "3.19",
	    docker, &e), PC_OK);
	assert_string_equal(e.digest, d1);
	assert_string_equal(e.media_type, MT_DOCKER_LIST);
	assert_int_equal(e.size, 5);
	assert_int_equal(e.fetched_at, 1000);
	assert_int_equal(e.validated_at, 1000);
	assert_int_equal(tag_cache_get(mc, "docker.io", "library/alpine", "3.19",
	    oci, &e), PC_OK);
	assert_string_equal(e.digest, d2);
	assert_int_equal(tag_cache_get(mc, "quay.io", "library/alpine", "3.19",
	    oci, &e), PC_ERR_NOTFOUND);

	/* A revalidation keeps fetched_at. */
	assert_int_equal(tag_cache_touch(mc, "docker.io", "library/alpine",
	    "3.19", docker, 2000), PC_OK);
	assert_int_equal(tag_cache_get(mc, "docker.io", "library/alpine", "3.19",
	    docker, &e), PC_OK);
	assert_int_equal(e.fetched_at, 1000);
	assert_int_equal(e.validated_at, 2000);
	assert_int_equal(tag_cache_touch(mc, "docker.io", "library/alpine",
	    "edge", docker, 2000), PC_ERR_NOTFOUND);

	/* A new digest replaces the entry. */
	assert_int_equal(tag_cache_put(mc, "docker.io", "library/alpine", "3.19",
	    docker, d2, MT_DOCKER_V2, 14, 3000), PC_OK);
	assert_int_equal(tag_cache_get(mc, "docker.io", "library/alpine", "3.19",
	    docker, &e), PC_OK);
	assert_string_equal(e.digest, d2);
	assert_string_equal(e.media_type, MT_DOCKER_V2);
	assert_int_equal(e.fetched_at, 3000);
	assert_int_equal(e.validated_at, 3000);
	assert_int_equal(tag_cache_count(mc), 2);

	assert_int_equal(tag_cache_remove(mc, "docker.io", "library/alpine",
	    "3.19", oci), PC_OK);
	assert_int_equal(tag_cache_remove(mc, "docker.io", "library/alpine",
	    "3.19", oci), PC_ERR_NOTFOUND);
	assert_int_equal(tag_cache_count(mc), 1);
	manifest_cache_close(mc);
}

static void
test_tag_persists_across_reopen(void **state)
{
	struct tmpdir *f = *state;
	struct manifest_cache *mc = NULL;
	struct tag_entry e;
	char digest[DIGEST_SHA256_BUFSIZE];
	char path[PATH_MAX];

	sha256_hex("index", 5, digest);
	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	assert_int_equal(tag_cache_put(mc, "127.0.0.1:5000", "team/app", "v1.2.3",
	    ACCEPT_OCI_INDEX | ACCEPT_ANY, digest, MT_OCI_INDEX, 5, 1700000000),
	    PC_OK);
	assert_int_equal(tag_cache_touch(mc, "127.0.0.1:5000", "team/app",
	    "v1.2.3", ACCEPT_OCI_INDEX | ACCEPT_ANY, 1700000500), PC_OK);
	put_tag(mc, "team/app", "v1.2.4", ACCEPT_OCI_INDEX, "x", 5);
	put_tag(mc, "team/app", "gone", ACCEPT_OCI_INDEX, "y", 6);
	assert_int_equal(tag_cache_remove(mc, "docker.io", "team/app", "gone",
	    ACCEPT_OCI_INDEX), PC_OK);
	manifest_cache_close(mc);

	snprintf(path, sizeof(path), "%s/tags", f->dir);
	assert_int_equal(tmpdir_count_files(path), 2);
	snprintf(path, sizeof(path), "%s/tags/tmp", f->dir);
	assert_int_equal(tmpdir_count_files(path), 0);

	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	assert_int_equal(tag_cache_count(mc), 2);
	assert_int_equal(tag_cache_get(mc, "127.0.0.1:5000", "team/app",
	    "v1.2.3", ACCEPT_OCI_INDEX | ACCEPT_ANY, &e), PC_OK);
	assert_string_equal(e.digest, digest);
	assert_string_equal(e.media_type, MT_OCI_INDEX);
	assert_int_equal(e.size, 5);
	assert_int_equal(e.fetched_at, 1700000000);
	assert_int_equal(e.validated_at, 1700000500);
	assert_int_equal(tag_cache_get(mc, "docker.io", "team/app", "gone",
	    ACCEPT_OCI_INDEX, &e), PC_ERR_NOTFOUND);
	manifest_cache_close(mc);
}

static void
test_tag_file_format(void **state)
{
	struct tmpdir *f = *state;
	struct manifest_cache *mc = NULL;
	char digest[DIGEST_SHA256_BUFSIZE];
	char path[PATH_MAX];
	struct dirent *de;
	json_error_t jerr;
	json_t *root;
	DIR *d;

	sha256_hex("index", 5, digest);
	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	assert_int_equal(tag_cache_put(mc, "docker.io", "library/debian",
	    "bookworm", ACCEPT_DOCKER_V2, digest, MT_DOCKER_V2, 5, 42), PC_OK);
	manifest_cache_close(mc);

	snprintf(path, sizeof(path), "%s/tags", f->dir);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_type == DT_REG)
			break;
	}
	assert_non_null(de);
	assert_int_equal(strlen(de->d_name), 64 + 5);
	snprintf(path, sizeof(path), "%s/tags/%s", f->dir, de->d_name);
	closedir(d);

	root = json_load_file(path, 0, &jerr);
	assert_non_null(root);
	assert_string_equal(json_string_value(json_object_get(root, "upstream")),
	    "docker.io");
	assert_string_equal(json_string_value(json_object_get(root,
	    "repository")), "library/debian");
	assert_string_equal(json_string_value(json_object_get(root, "tag")),
	    "bookworm");
	assert_int_equal(json_integer_value(json_object_get(root,
	    "accept_class")), ACCEPT_DOCKER_V2);
	assert_string_equal(json_string_value(json_object_get(root, "digest")),
	    digest);
	assert_int_equal(json_integer_value(json_object_get(root, "size")), 5);
	assert_int_equal(json_integer_value(json_object_get(root,
	    "fetched_at")), 42);
	assert_int_equal(json_integer_value(json_object_get(root,
	    "validated_at")), 42);
	json_decref(root);
}

#define TAG_JSON_AB \
	"{\"upstream\":\"docker.io\",\"repository\":\"a\"," \
	"\"tag\":\"b\",\"accept_class\":1,\"digest\":\"sha256:" \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"," \
	"\"media_type\":\"" MT_DOCKER_V2 "\",\"size\":0,\"fetched_at\":1," \
	"\"validated_at\":1"

/* Writes content as the tag file of ("docker.io", "a", "b", class 1). */
static void
write_tag_file_ab(const struct tmpdir *f, const char *content)
{
	const char key[] = "docker.io\na\nb\n1";
	char key_digest[DIGEST_SHA256_BUFSIZE];
	char path[PATH_MAX];

	sha256_hex(key, strlen(key), key_digest);
	snprintf(path, sizeof(path), "%s/tags/%s.json", f->dir, key_digest + 7);
	tmpdir_write_file(path, content);
}

static void
test_tag_file_by_hand(void **state)
{
	struct tmpdir *f = *state;
	struct manifest_cache *mc = NULL;
	struct tag_entry e;

	/* The documented format, written by hand, loads. */
	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	manifest_cache_close(mc);
	write_tag_file_ab(f, TAG_JSON_AB "}");
	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	assert_int_equal(tag_cache_get(mc, "docker.io", "a", "b", 1, &e), PC_OK);
	assert_int_equal(e.fetched_at, 1);
	manifest_cache_close(mc);

	/* An unknown key makes the file invalid. */
	write_tag_file_ab(f, TAG_JSON_AB ",\"extra\":1}");
	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	assert_int_equal(tag_cache_get(mc, "docker.io", "a", "b", 1, &e),
	    PC_ERR_NOTFOUND);
	manifest_cache_close(mc);

	/* So does a duplicate key. */
	write_tag_file_ab(f, TAG_JSON_AB ",\"size\":0}");
	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	assert_int_equal(tag_cache_count(mc), 0);
	manifest_cache_close(mc);
}

static void
test_tag_bad_files_ignored(void **state)
{
	struct tmpdir *f = *state;
	struct manifest_cache *mc = NULL;
	struct tag_entry e;
	char path[PATH_MAX];
	char big[TAG_FILE_MAX_BYTES + 2];
	char *hex = "0000000000000000000000000000000000000000000000000000000000000000";

	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	put_tag(mc, "library/alpine", "latest", ACCEPT_DOCKER_V2, "a", 1);
	manifest_cache_close(mc);

	/* Garbage JSON, a valid entry under the wrong file name, oversize. */
	snprintf(path, sizeof(path), "%s/tags/%s.json", f->dir, hex);
	tmpdir_write_file(path, "{not json");
	snprintf(path, sizeof(path), "%s/tags/%.63s1.json", f->dir, hex);
	tmpdir_write_file(path, TAG_JSON_AB "}");
	snprintf(path, sizeof(path), "%s/tags/%.63s2.json", f->dir, hex);
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	tmpdir_write_file(path, big);
	snprintf(path, sizeof(path), "%s/tags/README", f->dir);
	tmpdir_write_file(path, "not a tag file");
	snprintf(path, sizeof(path), "%s/tags/tmp/leftover", f->dir);
	tmpdir_write_file(path, "partial");

	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	assert_int_equal(tag_cache_count(mc), 1);
	assert_int_equal(tag_cache_get(mc, "docker.io", "library/alpine",
	    "latest", ACCEPT_DOCKER_V2, &e), PC_OK);
	assert_int_equal(tag_cache_get(mc, "docker.io", "a", "b", 1, &e),
	    PC_ERR_NOTFOUND);
	snprintf(path, sizeof(path), "%s/tags/tmp", f->dir);
	assert_int_equal(tmpdir_count_files(path), 0);
	manifest_cache_close(mc);
}

static void
test_tag_invalid_input(void **state)
{
	struct tmpdir *f = *state;
	struct manifest_cache *mc = NULL;
	struct tag_entry e;
	json_t *tags = NULL;
	char digest[DIGEST_SHA256_BUFSIZE];

	sha256_hex("x", 1, digest);
	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	assert_int_equal(tag_cache_put(mc, "", "a", "b", 1, digest, MT_DOCKER_V2,
	    1, 1), PC_ERR_INVALID);
	assert_int_equal(tag_cache_put(mc, "up/stream", "a", "b", 1, digest,
	    MT_DOCKER_V2, 1, 1), PC_ERR_INVALID);
	assert_int_equal(tag_cache_put(mc, "hub", "A", "b", 1, digest,
	    MT_DOCKER_V2, 1, 1), PC_ERR_INVALID);
	assert_int_equal(tag_cache_put(mc, "hub", "a", ".b", 1, digest,
	    MT_DOCKER_V2, 1, 1), PC_ERR_INVALID);
	assert_int_equal(tag_cache_put(mc, "hub", "a", "b", 0x40, digest,
	    MT_DOCKER_V2, 1, 1), PC_ERR_INVALID);
	assert_int_equal(tag_cache_put(mc, "hub", "a", "b", 1, "sha256:1",
	    MT_DOCKER_V2, 1, 1), PC_ERR_INVALID);
	assert_int_equal(tag_cache_put(mc, "hub", "a", "b", 1, digest, "json",
	    1, 1), PC_ERR_INVALID);
	assert_int_equal(tag_cache_put(mc, "hub", "a", "b", 1, digest,
	    MT_DOCKER_V2, 1, -1), PC_ERR_INVALID);
	assert_int_equal(tag_cache_put(mc, "hub", "a", "b", 1, digest,
	    MT_DOCKER_V2, MANIFEST_MAX_BYTES + 1, 1), PC_ERR_LIMIT);
	assert_int_equal(tag_cache_get(mc, "hub", "a", "b\n", 1, &e),
	    PC_ERR_INVALID);
	assert_int_equal(tag_cache_touch(mc, "hub", "a", "b", 1, -5),
	    PC_ERR_INVALID);
	assert_int_equal(tag_cache_list(mc, "hub", "a//b", &tags),
	    PC_ERR_INVALID);
	assert_null(tags);
	assert_int_equal(tag_cache_count(mc), 0);
	manifest_cache_close(mc);
}

static void
test_tag_list_sorted_unique(void **state)
{
	struct tmpdir *f = *state;
	struct manifest_cache *mc = NULL;
	json_t *tags = NULL;
	const char *expected[] = {"1.0", "10", "9", "Latest", "_x", "latest"};

	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	assert_int_equal(tag_cache_list(mc, "docker.io", "library/busybox",
	    &tags), PC_OK);
	assert_int_equal(json_array_size(tags), 0);
	json_decref(tags);

	put_tag(mc, "library/busybox", "latest", ACCEPT_DOCKER_V2, "a", 1);
	put_tag(mc, "library/busybox", "latest", ACCEPT_OCI_INDEX, "b", 2);
	put_tag(mc, "library/busybox", "9", ACCEPT_DOCKER_V2, "c", 3);
	put_tag(mc, "library/busybox", "10", ACCEPT_DOCKER_V2, "d", 4);
	put_tag(mc, "library/busybox", "Latest", ACCEPT_DOCKER_V2, "e", 5);
	put_tag(mc, "library/busybox", "_x", ACCEPT_DOCKER_V2, "f", 6);
	put_tag(mc, "library/busybox", "1.0", ACCEPT_ANY, "g", 7);
	put_tag(mc, "library/alpine", "other", ACCEPT_DOCKER_V2, "h", 8);
	assert_int_equal(tag_cache_put(mc, "quay.io", "library/busybox",
	    "quay-only", ACCEPT_DOCKER_V2, "sha256:"
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    MT_DOCKER_V2, 0, 9), PC_OK);

	assert_int_equal(tag_cache_list(mc, "docker.io", "library/busybox",
	    &tags), PC_OK);
	assert_int_equal(json_array_size(tags), 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(json_string_value(json_array_get(tags, i)),
		    expected[i]);
	json_decref(tags);
	manifest_cache_close(mc);
}

static void
test_tag_limit_evicts_oldest(void **state)
{
	struct tmpdir *f = *state;
	struct manifest_cache *mc = NULL;
	struct tag_entry e;
	char path[PATH_MAX];

	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	put_tag(mc, "r", "t1", ACCEPT_DOCKER_V2, "1", 100);
	put_tag(mc, "r", "t2", ACCEPT_DOCKER_V2, "2", 200);
	put_tag(mc, "r", "t3", ACCEPT_DOCKER_V2, "3", 300);
	/* t1 revalidated: t2 is now the least recently validated. */
	assert_int_equal(tag_cache_touch(mc, "docker.io", "r", "t1",
	    ACCEPT_DOCKER_V2, 400), PC_OK);

	tag_cache_set_limit(mc, 2);
	assert_int_equal(tag_cache_count(mc), 2);
	assert_int_equal(tag_cache_get(mc, "docker.io", "r", "t2",
	    ACCEPT_DOCKER_V2, &e), PC_ERR_NOTFOUND);

	put_tag(mc, "r", "t4", ACCEPT_DOCKER_V2, "4", 500);
	assert_int_equal(tag_cache_count(mc), 2);
	assert_int_equal(tag_cache_get(mc, "docker.io", "r", "t3",
	    ACCEPT_DOCKER_V2, &e), PC_ERR_NOTFOUND);
	assert_int_equal(tag_cache_get(mc, "docker.io", "r", "t1",
	    ACCEPT_DOCKER_V2, &e), PC_OK);
	assert_int_equal(tag_cache_get(mc, "docker.io", "r", "t4",
	    ACCEPT_DOCKER_V2, &e), PC_OK);
	manifest_cache_close(mc);

	/* Evicted entries are gone from disk too. */
	snprintf(path, sizeof(path), "%s/tags", f->dir);
	assert_int_equal(tmpdir_count_files(path), 2);
}

static void
test_many_tags_grow_index(void **state)
{
	struct tmpdir *f = *state;
	struct manifest_cache *mc = NULL;
	struct tag_entry e;
	char tag[32];

	/* More entries than the 256 initial hash buckets, and again at open. */
	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	for (int i = 0; i < 600; i++) {
		snprintf(tag, sizeof(tag), "v%d", i);
		put_tag(mc, "many", tag, ACCEPT_DOCKER_V2, tag, i);
	}
	manifest_cache_close(mc);

	assert_int_equal(manifest_cache_open(f->dir, &mc), PC_OK);
	assert_int_equal(tag_cache_count(mc), 600);
	for (int i = 0; i < 600; i++) {
		snprintf(tag, sizeof(tag), "v%d", i);
		assert_int_equal(tag_cache_get(mc, "docker.io", "many", tag,
		    ACCEPT_DOCKER_V2, &e), PC_OK);
		assert_int_equal(e.fetched_at, i);
	}
	manifest_cache_close(mc);
}

static void
test_allocation_failures_unwind(void **state)
{
	struct tmpdir *f = *state;
	char digest[DIGEST_SHA256_BUFSIZE];

	sha256_hex(oci_manifest, strlen(oci_manifest), digest);
	for (long n = 0; n < 200; n++) {
		struct manifest_cache *mc = NULL;
		struct tag_entry e;
		json_t *tags = NULL;
		char *type = NULL;
		char *data = NULL;
		size_t len = 0;
		int err;

		pc_alloc_fail_after(n);
		err = manifest_cache_open(f->dir, &mc);
		if (err == PC_OK)
			err = manifest_cache_put(mc, digest, MT_OCI_MANIFEST,
			    oci_manifest, strlen(oci_manifest));
		if (err == PC_OK)
			err = manifest_cache_get(mc, digest, &type, &data, &len);
		if (err == PC_OK)
			err = tag_cache_put(mc, "docker.io", "library/alpine",
			    "latest", ACCEPT_OCI_MANIFEST, digest, MT_OCI_MANIFEST,
			    len, 1);
		if (err == PC_OK)
			err = tag_cache_touch(mc, "docker.io", "library/alpine",
			    "latest", ACCEPT_OCI_MANIFEST, 2);
		if (err == PC_OK)
			err = tag_cache_list(mc, "docker.io", "library/alpine",
			    &tags);
		pc_alloc_fail_after(-1);

		pc_free(type);
		pc_free(data);
		json_decref(tags);
		if (mc != NULL && err == PC_OK) {
			assert_int_equal(tag_cache_get(mc, "docker.io",
			    "library/alpine", "latest", ACCEPT_OCI_MANIFEST, &e),
			    PC_OK);
			assert_int_equal(e.validated_at, 2);
		}
		manifest_cache_close(mc);
		if (err == PC_OK)
			return;
		assert_int_equal(err, PC_ERR_NOMEM);
	}
	fail_msg("still failing after 200 allocations");
}

#define DIR_TEST(fn) \
	cmocka_unit_test_setup_teardown(fn, tmpdir_setup, tmpdir_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		DIR_TEST(test_manifest_roundtrip),
		DIR_TEST(test_manifest_binary_body),
		DIR_TEST(test_manifest_mismatch),
		DIR_TEST(test_manifest_size_limit),
		DIR_TEST(test_manifest_invalid_input),
		DIR_TEST(test_manifest_damaged_file),
		DIR_TEST(test_open_locked),
		cmocka_unit_test(test_accept_class_table),
		cmocka_unit_test(test_accept_range_limit),
		cmocka_unit_test(test_accept_class_allows),
		cmocka_unit_test(test_media_type_and_upstream_names),
		DIR_TEST(test_tag_put_get_touch),
		DIR_TEST(test_tag_persists_across_reopen),
		DIR_TEST(test_tag_file_format),
		DIR_TEST(test_tag_file_by_hand),
		DIR_TEST(test_tag_bad_files_ignored),
		DIR_TEST(test_tag_invalid_input),
		DIR_TEST(test_tag_list_sorted_unique),
		DIR_TEST(test_tag_limit_evicts_oldest),
		DIR_TEST(test_many_tags_grow_index),
		DIR_TEST(test_allocation_failures_unwind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
