#include "proxy/cache_import.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache/blobstore.h"
#include "common/alloc.h"
#include "common/error.h"
#include "policy/policy.h"
#include "proxy/image_backend.h"
#include "proxy/image_fetch.h"
#include "scanner/layer_result.h"
#include "scanner/layer_scan.h"
#include "scanner/report.h"

/* Bytes read per step when a blob is copied into the store. */
#define IMPORT_COPY_CHUNK (256U * 1024U)

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"

/*
 * The Accept lists of real clients, as the manifest request of each sends
 * them. NULL stands for a client that sends no Accept header.
 * NOTE: the tag cache matches the accept class exactly, so a client whose
 * list gives another class (curl with one type, say) misses an imported
 * tag. Only skopeo's class is exercised by a test (tests/e2e/test_offline.sh);
 * the dockerd and go-containerregistry lists are not captured from them.
 */
static const char *const client_accept_lists[] = {
	/* containerd: one header, with a catch-all */
	"application/vnd.docker.distribution.manifest.v2+json, "
	"application/vnd.docker.distribution.manifest.list.v2+json, "
	"application/vnd.oci.image.manifest.v1+json, "
	"application/vnd.oci.image.index.v1+json, */*",
	/* dockerd, skopeo and podman: both manifest kinds, both index kinds
	 * and schema 1 */
	"application/vnd.oci.image.manifest.v1+json, "
	"application/vnd.docker.distribution.manifest.v2+json, "
	"application/vnd.docker.distribution.manifest.v1+prettyjws, "
	"application/vnd.docker.distribution.manifest.v1+json, "
	"application/vnd.docker.distribution.manifest.list.v2+json, "
	"application/vnd.oci.image.index.v1+json",
	/* go-containerregistry (crane): the same without schema 1 */
	"application/vnd.oci.image.index.v1+json, "
	"application/vnd.oci.image.manifest.v1+json, "
	"application/vnd.docker.distribution.manifest.list.v2+json, "
	"application/vnd.docker.distribution.manifest.v2+json",
	NULL,
};

size_t
cache_import_accept_classes(unsigned classes[CACHE_IMPORT_MAX_CLASSES])
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(client_accept_lists) /
	    sizeof(client_accept_lists[0]); i++) {
		const char *list = client_accept_lists[i];
		unsigned c = accept_class_from_headers(&list, list != NULL ? 1 : 0);
		bool seen = false;

		for (size_t j = 0; j < n; j++)
			seen = seen || classes[j] == c;
		if (!seen && n < CACHE_IMPORT_MAX_CLASSES)
			classes[n++] = c;
	}
	return n;
}

/* A first path component that names a registry host, as docker reads it. */
static bool
is_registry_host(const char *component, size_t len)
{
	return memchr(component, '.', len) != NULL ||
	    memchr(component, ':', len) != NULL ||
	    (len == 9 && memcmp(component, "localhost", 9) == 0);
}

int
cache_import_split_name(const char *ref, bool docker_hub,
    const char *default_tag, char repository[REPO_NAME_MAX_LEN + 1],
    char tag[TAG_MAX_LEN + 1], char *reason, size_t reasonlen)
{
	const char *name = ref;
	const char *slash = strchr(ref, '/');
	const char *colon;
	char buf[REPO_NAME_MAX_LEN + 1];
	size_t len;
	int n;

	if (slash != NULL && is_registry_host(ref, (size_t)(slash - ref)))
		name = slash + 1;
	colon = strrchr(name, ':');
	if (colon != NULL && strchr(colon, '/') != NULL)
		colon = NULL;
	len = colon != NULL ? (size_t)(colon - name) : strlen(name);
	if (len == 0 || len > REPO_NAME_MAX_LEN)
		return image_fail(PC_ERR_INVALID, reason, reasonlen,
		    "invalid image name \"%.300s\": expected NAME[:TAG]", ref);
	memcpy(buf, name, len);
	buf[len] = '\0';
	if (docker_hub && strchr(buf, '/') == NULL)
		n = snprintf(repository, REPO_NAME_MAX_LEN + 1, "library/%s", buf);
	else
		n = snprintf(repository, REPO_NAME_MAX_LEN + 1, "%s", buf);
	if (n < 0 || n > REPO_NAME_MAX_LEN || !repo_name_is_valid(repository))
		return image_fail(PC_ERR_INVALID, reason, reasonlen,
		    "invalid repository name \"%.300s\": use lower-case letters, "
		    "digits and . _ - / separators", buf);

	if (colon == NULL && default_tag == NULL) {
		tag[0] = '\0';
		return PC_OK;
	}
	n = snprintf(tag, TAG_MAX_LEN + 1, "%s", colon != NULL ? colon + 1 :
	    default_tag);
	if (n < 0 || n > TAG_MAX_LEN || !tag_is_valid(tag))
		return image_fail(PC_ERR_INVALID, reason, reasonlen,
		    "invalid tag \"%.200s\": expected [A-Za-z0-9_][A-Za-z0-9._-]{0,127}",
		    colon != NULL ? colon + 1 : default_tag);
	return PC_OK;
}

/* ---- copying blobs into the store ---- */

/*
 * An import in progress: the opened image, the manifest to store and what
 * was copied.
 */
struct import {
	struct blobstore *bs;
	struct manifest_cache *mc;
	const struct cache_import_options *opts;
	struct cache_import_result *res;
	struct image *img;
	char *layout_dir;          /* the folder of an OCI layout source */
	char *manifest;            /* manifest bytes as stored */
	size_t manifest_len;
	char *reason;
	size_t reasonlen;
};

/* A byte stream copied into the store: a file or an archive member. */
struct blob_input {
	int fd;                    /* read(2) from here unless archive is set */
	struct archive *archive;   /* archive_read_data() of the current member */
	unsigned char head[4];     /* the first bytes, for the compression */
	size_t head_len;
	uint64_t total;            /* bytes copied */
};

static ssize_t
input_read(struct blob_input *in, void *buf, size_t len)
{
	ssize_t n;

	if (in->archive != NULL)
		return (ssize_t)archive_read_data(in->archive, buf, len);
	do
		n = read(in->fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

/*
 * Copies the input into a new blob writer of digest and commits it, which
 * checks the expected size (-1: unknown) and the digest.
 */
static int
copy_to_store(struct import *im, struct blob_input *in, const char *digest,
    int64_t size, const char *what)
{
	struct blob_writer *w = NULL;
	unsigned char *chunk = pc_malloc(IMPORT_COPY_CHUNK);
	ssize_t n;
	int err;

	if (chunk == NULL)
		return PC_ERR_NOMEM;
	err = blobstore_writer_new(im->bs, digest, size, &w);
	if (err != PC_OK) {
		image_fail(err, im->reason, im->reasonlen, "cannot store %s %s: %s",
		    what, digest, pc_strerror(err));
		goto out;
	}
	while ((n = input_read(in, chunk, IMPORT_COPY_CHUNK)) > 0) {
		if (in->head_len < sizeof(in->head)) {
			size_t take = sizeof(in->head) - in->head_len;

			if (take > (size_t)n)
				take = (size_t)n;
			memcpy(in->head + in->head_len, chunk, take);
			in->head_len += take;
		}
		err = blob_writer_write(w, chunk, (size_t)n);
		if (err != PC_OK)
			break;
		in->total += (uint64_t)n;
	}
	if (err == PC_OK && n < 0)
		err = image_fail(PC_ERR_IO, im->reason, im->reasonlen,
		    "reading %s %s failed: %s", what, digest, in->archive != NULL ?
		    archive_error_string(in->archive) : strerror(errno));
	else if (err != PC_OK)
		image_fail(err, im->reason, im->reasonlen,
		    "cannot store %s %s: %s%s", what, digest, pc_strerror(err),
		    err == PC_ERR_LIMIT ? " (the blob is larger than its descriptor "
		    "says)" : "");
	if (err != PC_OK) {
		blob_writer_abort(w);
		goto out;
	}
	err = blob_writer_commit(w, NULL);
	if (err != PC_OK) {
		image_fail(err, im->reason, im->reasonlen,
		    "%s %s failed verification: %s: its content does not match its "
		    "digest or size", what, digest, pc_strerror(err));
		goto out;
	}
	im->res->blobs_copied++;
	im->res->bytes_copied += in->total;
out:
	pc_free(chunk);
	return err;
}

/*
 * Returns true, and counts the blob, when the store already has digest.
 * Commit checked its digest, so it is not copied again.
 */
static bool
store_has(struct import *im, const char *digest)
{
	if (blobstore_stat(im->bs, digest, NULL) != PC_OK)
		return false;
	im->res->blobs_present++;
	return true;
}

/*
 * Sets the folder of an "oci:DIR[:TAG]" source. image_open() splits the
 * same way: the part after the last ':' is a tag unless it contains a '/'
 * or DIR alone is a folder.
 */
static int
set_layout_dir(struct import *im)
{
	const char *spec = im->opts->source + strlen("oci:");
	const char *colon = strrchr(spec, ':');
	struct stat st;

	if (colon != NULL && strchr(colon, '/') == NULL &&
	    !(stat(spec, &st) == 0 && S_ISDIR(st.st_mode)))
		im->layout_dir = pc_strndup(spec, (size_t)(colon - spec));
	else
		im->layout_dir = pc_strdup(spec);
	return im->layout_dir != NULL ? PC_OK : PC_ERR_NOMEM;
}

static const char *
layout_dir(const struct import *im)
{
	return im->layout_dir;
}

static int
layout_blob_path(const struct import *im, const char *digest, char *path,
    size_t pathlen)
{
	int n = snprintf(path, pathlen, "%s/blobs/sha256/%s", layout_dir(im),
	    digest + 7);

	if (n < 0 || (size_t)n >= pathlen)
		return image_fail(PC_ERR_LIMIT, im->reason, im->reasonlen,
		    "layout path too long: %.200s", layout_dir(im));
	return PC_OK;
}

/* Copies blobs/sha256/<hex> of an OCI layout into the store. */
static int
copy_layout_blob(struct import *im, const char *digest, int64_t size,
    const char *what)
{
	struct blob_input in;
	char path[4096];
	int err;

	if (store_has(im, digest))
		return PC_OK;
	err = layout_blob_path(im, digest, path, sizeof(path));
	if (err != PC_OK)
		return err;
	memset(&in, 0, sizeof(in));
	in.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (in.fd < 0)
		return image_fail(errno == ENOENT ? PC_ERR_NOTFOUND : PC_ERR_IO,
		    im->reason, im->reasonlen, "cannot open %s %s: %s", what, path,
		    strerror(errno));
	err = copy_to_store(im, &in, digest, size, what);
	close(in.fd);
	return err;
}

static int
copy_oci_layout(struct import *im)
{
	struct image *img = im->img;
	char path[4096];
	struct buf b;
	int err;

	err = set_layout_dir(im);
	if (err == PC_OK)
		err = copy_layout_blob(im, img->config_digest, img->config_size,
		    "config");
	for (size_t i = 0; err == PC_OK && i < img->n_layers; i++)
		err = copy_layout_blob(im, img->layers[i].digest,
		    img->layers[i].size, "layer");
	if (err != PC_OK)
		return err;

	/* The manifest bytes exactly as in the layout; the cache checks them. */
	err = layout_blob_path(im, img->digest, path, sizeof(path));
	if (err != PC_OK)
		return err;
	buf_init(&b, MANIFEST_MAX_BYTES);
	err = image_read_file(path, &b, im->reason, im->reasonlen);
	if (err == PC_OK) {
		im->manifest_len = b.len;
		im->manifest = buf_steal(&b);
		if (im->manifest == NULL)
			err = PC_ERR_NOMEM;
	}
	buf_free(&b);
	return err;
}

/* ---- docker-archive: copy the members, make a manifest ---- */

/* The OCI layer media type that matches the first bytes of a layer. */
static const char *
layer_media_type(const unsigned char *head, size_t len)
{
	static const unsigned char gzip_magic[] = {0x1f, 0x8b};
	static const unsigned char zstd_magic[] = {0x28, 0xb5, 0x2f, 0xfd};

	if (len >= sizeof(gzip_magic) && memcmp(head, gzip_magic,
	    sizeof(gzip_magic)) == 0)
		return MT_OCI_LAYER "+gzip";
	if (len >= sizeof(zstd_magic) && memcmp(head, zstd_magic,
	    sizeof(zstd_magic)) == 0)
		return MT_OCI_LAYER "+zstd";
	return MT_OCI_LAYER;
}

/* Reads the size and first bytes of a blob the store already has. */
static int
stored_blob_head(struct import *im, const char *digest, struct blob_input *in)
{
	struct blob_ref *ref = NULL;
	ssize_t n;
	int err = blobstore_get(im->bs, digest, &ref);

	if (err != PC_OK)
		return image_fail(err, im->reason, im->reasonlen,
		    "cannot read blob %s from the store: %s", digest,
		    pc_strerror(err));
	in->total = blob_ref_size(ref);
	n = pread(blob_ref_fd(ref), in->head, sizeof(in->head), 0);
	in->head_len = n > 0 ? (size_t)n : 0;
	blob_ref_release(ref);
	return PC_OK;
}

/*
 * The digest of layer i of a docker archive: from its member name, or
 * else the config's diff_id, which equals the digest of an uncompressed
 * layer, the form `docker save` and skopeo write.
 */
static int
archive_layer_digest(struct import *im, size_t i)
{
	struct image_layer *l = &im->img->layers[i];
	const char *diff_id;

	if (l->digest[0] != '\0')
		return PC_OK;
	diff_id = json_string_value(json_array_get(json_object_get(
	    json_object_get(im->img->config, "rootfs"), "diff_ids"), i));
	if (diff_id == NULL || !digest_is_sha256(diff_id))
		return image_fail(PC_ERR_INVALID, im->reason, im->reasonlen,
		    "cannot tell the digest of layer %zu (%.200s): its name contains "
		    "none and the config has no sha256 diff_id for it", i + 1,
		    l->member);
	snprintf(l->digest, sizeof(l->digest), "%s", diff_id);
	return PC_OK;
}

/*
 * Returns true when the normalised member name is one a docker archive
 * gives the blob digest: <hex>, <hex>.json or blobs/sha256/<hex>.
 */
static bool
member_is_blob(const char *member, const char *digest)
{
	const char *hex = digest + 7;
	size_t hexlen = strlen(hex);

	if (strncmp(member, "blobs/sha256/", 13) == 0)
		return strcmp(member + 13, hex) == 0;
	return strncmp(member, hex, hexlen) == 0 &&
	    (strcmp(member + hexlen, ".json") == 0 || member[hexlen] == '\0');
}

/*
 * Copies the layer members that match the normalised entry name into the
 * store, once, and records their digest, size and media type.
 */
static int
take_archive_layer(struct import *im, struct archive *a,
    struct archive_entry *e, const char *name, bool *done)
{
	struct image *img = im->img;
	struct blob_input in;
	char member[SCAN_DEFAULT_MAX_PATH_LEN + 1];
	size_t first = img->n_layers;
	int err;

	memset(&in, 0, sizeof(in));
	for (size_t i = 0; i < img->n_layers; i++) {
		if (done[i] || layer_scan_normalize_path(img->layers[i].member,
		    member, sizeof(member)) != PC_OK || strcmp(member, name) != 0)
			continue;
		if (first == img->n_layers) {
			first = i;
			err = archive_layer_digest(im, i);
			if (err != PC_OK)
				return err;
			in.archive = a;
			if (store_has(im, img->layers[i].digest))
				err = stored_blob_head(im, img->layers[i].digest, &in);
			else
				err = copy_to_store(im, &in, img->layers[i].digest,
				    archive_entry_size_is_set(e) ?
				    (int64_t)archive_entry_size(e) : -1, "layer");
			if (err != PC_OK)
				return err;
		} else {
			memcpy(img->layers[i].digest, img->layers[first].digest,
			    sizeof(img->layers[i].digest));
		}
		img->layers[i].size = (int64_t)in.total;
		pc_free(img->layers[i].media_type);
		img->layers[i].media_type = pc_strdup(layer_media_type(in.head,
		    in.head_len));
		if (img->layers[i].media_type == NULL)
			return PC_ERR_NOMEM;
		done[i] = true;
	}
	return PC_OK;
}

/* The path of a docker-archive source, after the "docker-archive:" prefix. */
static const char *
archive_path(const struct import *im)
{
	return im->opts->source + strlen("docker-archive:");
}

/* Copies the config and every layer member in one pass over the archive. */
static int
copy_archive_members(struct import *im, bool *done, bool *config_done)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char name[SCAN_DEFAULT_MAX_PATH_LEN + 1];
	int r;
	int err = PC_OK;

	if (a == NULL)
		return PC_ERR_NOMEM;
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, archive_path(im), IMPORT_COPY_CHUNK) !=
	    ARCHIVE_OK) {
		err = image_fail(PC_ERR_NOTFOUND, im->reason, im->reasonlen,
		    "cannot open %s: %s", archive_path(im), archive_error_string(a));
		goto out;
	}
	while (err == PC_OK && (r = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN) {
			err = image_fail(PC_ERR_INVALID, im->reason, im->reasonlen,
			    "%s is not a valid docker archive: %s", archive_path(im),
			    archive_error_string(a));
			break;
		}
		if (archive_entry_filetype(e) != AE_IFREG ||
		    layer_scan_normalize_path(archive_entry_pathname(e) != NULL ?
		    archive_entry_pathname(e) : "", name, sizeof(name)) != PC_OK)
			continue;
		if (!*config_done && member_is_blob(name, im->img->config_digest)) {
			struct blob_input in;

			memset(&in, 0, sizeof(in));
			in.archive = a;
			*config_done = true;
			if (!store_has(im, im->img->config_digest))
				err = copy_to_store(im, &in, im->img->config_digest,
				    im->img->config_size, "config");
			continue;
		}
		err = take_archive_layer(im, a, e, name, done);
	}
out:
	archive_read_free(a);
	return err;
}

/* Builds the OCI image manifest of the copied config and layers. */
static int
make_archive_manifest(struct import *im)
{
	struct image *img = im->img;
	json_t *layers = json_array();
	json_t *doc;
	char digest[DIGEST_SHA256_BUFSIZE];

	for (size_t i = 0; layers != NULL && i < img->n_layers; i++) {
		if (json_array_append_new(layers, json_pack("{s:s, s:s, s:I}",
		    "mediaType", img->layers[i].media_type,
		    "digest", img->layers[i].digest,
		    "size", (json_int_t)img->layers[i].size)) != 0) {
			json_decref(layers);
			return PC_ERR_NOMEM;
		}
	}
	doc = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}",
	    "schemaVersion", 2, "mediaType", MT_OCI_MANIFEST,
	    "config", "mediaType", MT_OCI_CONFIG, "digest", img->config_digest,
	    "size", (json_int_t)img->config_size, "layers", layers);
	if (doc == NULL)
		return PC_ERR_NOMEM;
	im->manifest = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (im->manifest == NULL)
		return PC_ERR_NOMEM;
	im->manifest_len = strlen(im->manifest);

	/* From here on the image is the one the manifest describes. */
	sha256_hex(im->manifest, im->manifest_len, digest);
	pc_free(img->digest);
	pc_free(img->media_type);
	img->digest = pc_strdup(digest);
	img->media_type = pc_strdup(MT_OCI_MANIFEST);
	return img->digest != NULL && img->media_type != NULL ? PC_OK :
	    PC_ERR_NOMEM;
}

static int
copy_docker_archive(struct import *im)
{
	struct image *img = im->img;
	bool *done = pc_calloc(img->n_layers + 1, sizeof(*done));
	bool config_done = false;
	int err;

	if (done == NULL)
		return PC_ERR_NOMEM;
	err = copy_archive_members(im, done, &config_done);
	if (err == PC_OK && !config_done)
		err = image_fail(PC_ERR_NOTFOUND, im->reason, im->reasonlen,
		    "%s has no config member named after %s (<hex>.json or "
		    "blobs/sha256/<hex>)", archive_path(im), img->config_digest);
	for (size_t i = 0; err == PC_OK && i < img->n_layers; i++) {
		if (!done[i])
			err = image_fail(PC_ERR_NOTFOUND, im->reason, im->reasonlen,
			    "%s has no layer member %.200s", archive_path(im),
			    img->layers[i].member);
	}
	pc_free(done);
	return err == PC_OK ? make_archive_manifest(im) : err;
}

/* ---- scanning from the store ---- */

/* Scans layer i from its stored blob into out (initialised by the caller). */
static int
scan_stored_layer(struct import *im, size_t i, const struct scan_limits *limits,
    struct layer_result *out)
{
	const struct image_layer *l = &im->img->layers[i];
	struct blob_ref *ref = NULL;
	struct scan_source *src;
	json_int_t scanned;
	int err;

	err = blobstore_get(im->bs, l->digest, &ref);
	if (err != PC_OK)
		return image_fail(err, im->reason, im->reasonlen,
		    "cannot read layer %s from the store: %s", l->digest,
		    pc_strerror(err));
	src = scan_source_fd_new(blob_ref_fd(ref));
	if (src == NULL) {
		blob_ref_release(ref);
		return PC_ERR_NOMEM;
	}
	err = layer_scan_run(src, l->media_type, l->digest, limits, out);
	scan_source_free(src);
	blob_ref_release(ref);
	if (err != PC_OK) {
		const json_t *errors = json_object_get(out->root, "errors");
		const char *m = json_string_value(json_object_get(json_array_get(
		    errors, json_array_size(errors) - 1), "message"));

		return image_fail(err, im->reason, im->reasonlen,
		    "scanning layer %zu (%s) failed: %s", i + 1, l->digest,
		    m != NULL ? m : pc_strerror(err));
	}
	scanned = json_integer_value(json_object_get(json_object_get(out->root,
	    "stats"), "compressed_bytes"));
	if (l->size >= 0 && scanned != l->size)
		return image_fail(PC_ERR_MISMATCH, im->reason, im->reasonlen,
		    "layer %s has %lld bytes, its manifest says %lld", l->digest,
		    (long long)scanned, (long long)l->size);
	return PC_OK;
}

/* Scans every layer, builds the report and, with a policy, the verdict. */
static int
scan_image(struct import *im, json_t **layers_meta)
{
	struct image *img = im->img;
	struct cache_import_result *res = im->res;
	json_t **results = pc_calloc(img->n_layers + 1, sizeof(*results));
	struct scan_limits limits;
	struct report_image ri;
	int64_t size = img->config_size > 0 ? img->config_size : 0;
	int err = PC_OK;

	*layers_meta = json_array();
	if (results == NULL || *layers_meta == NULL) {
		pc_free(results);
		return PC_ERR_NOMEM;
	}
	scan_limits_default(&limits);
	for (size_t i = 0; err == PC_OK && i < img->n_layers; i++) {
		const struct image_layer *l = &img->layers[i];
		struct layer_result lr;

		err = layer_result_init(&lr, l->digest);
		if (err != PC_OK)
			break;
		err = scan_stored_layer(im, i, &limits, &lr);
		results[i] = lr.root;

		/* The report's "layers" entry; the sizes add up to the image size. */
		if (err == PC_OK && json_array_append_new(*layers_meta, json_pack(
		    "{s:s, s:I, s:s?}", "digest", l->digest, "size",
		    (json_int_t)l->size, "media_type", l->media_type)) != 0)
			err = PC_ERR_NOMEM;
		size += l->size > 0 ? l->size : 0;
	}
	if (err == PC_OK) {
		memset(&ri, 0, sizeof(ri));
		ri.repository = res->repository;
		ri.reference = res->tag;
		ri.digest = img->digest;
		ri.media_type = img->media_type;
		ri.platform = img->platform[0] != '\0' ? img->platform : NULL;
		ri.size = size;
		ri.config = img->config;
		ri.layers = *layers_meta;
		err = report_build(&ri, results, img->n_layers, im->opts->db,
		    &res->report);
		if (err != PC_OK)
			image_fail(err, im->reason, im->reasonlen,
			    "building the image report failed: %s", pc_strerror(err));
	}
	if (err == PC_OK && im->opts->policy != NULL) {
		err = policy_evaluate(im->opts->policy, res->report, res->repository,
		    time(NULL), &res->verdict);
		if (err != PC_OK)
			image_fail(err, im->reason, im->reasonlen,
			    "evaluating the policy failed: %s", pc_strerror(err));
	}
	/* The gate adds the same three keys to the verdicts it records. */
	if (err == PC_OK && res->verdict != NULL &&
	    (json_object_set_new(res->verdict, "report_id",
	    json_string(img->digest)) != 0 ||
	    json_object_set_new(res->verdict, "repository",
	    json_string(res->repository)) != 0 ||
	    json_object_set_new(res->verdict, "upstream",
	    json_string(im->opts->upstream)) != 0))
		err = PC_ERR_NOMEM;
	for (size_t i = 0; i < img->n_layers; i++)
		json_decref(results[i]);
	pc_free(results);
	return err;
}

/* ---- storing the manifest, the tag and the verdict file ---- */

static int
store_manifest_and_tag(struct import *im)
{
	struct cache_import_result *res = im->res;
	unsigned classes[CACHE_IMPORT_MAX_CLASSES];
	size_t n = cache_import_accept_classes(classes);
	time_t now = time(NULL);
	int err;

	err = manifest_cache_put(im->mc, im->img->digest, im->img->media_type,
	    im->manifest, im->manifest_len);
	if (err != PC_OK)
		return image_fail(err, im->reason, im->reasonlen,
		    "storing manifest %s failed: %s", im->img->digest,
		    pc_strerror(err));
	for (size_t i = 0; i < n; i++) {
		if (!accept_class_allows(classes[i], im->img->media_type))
			continue;
		err = tag_cache_put(im->mc, im->opts->upstream, res->repository,
		    res->tag, classes[i], im->img->digest, im->img->media_type,
		    im->manifest_len, now);
		if (err != PC_OK)
			return image_fail(err, im->reason, im->reasonlen,
			    "storing tag %s:%s failed: %s", res->repository, res->tag,
			    pc_strerror(err));
		res->tag_classes++;
	}
	if (res->tag_classes == 0)
		return image_fail(PC_ERR_UNSUPPORTED, im->reason, im->reasonlen,
		    "no client accepts the manifest media type %s",
		    im->img->media_type);
	return PC_OK;
}

/*
 * Writes {"verdict", "report", "config", "image"} to
 * DIR/<manifest digest>.json through a temporary file and rename(2), the
 * record the gate keeps per image.
 */
static int
write_verdict_file(struct import *im, json_t *layers_meta)
{
	struct cache_import_result *res = im->res;
	const char *dir = im->opts->verdict_dir;
	char tmp[4096];
	json_t *record;
	char *text = NULL;
	size_t len;
	int fd = -1;
	int err = PC_OK;

	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return image_fail(PC_ERR_IO, im->reason, im->reasonlen,
		    "cannot create %s: %s", dir, strerror(errno));
	snprintf(res->verdict_path, sizeof(res->verdict_path), "%s/%s.json", dir,
	    im->img->digest);
	snprintf(tmp, sizeof(tmp), "%s/.import.XXXXXX", dir);
	record = json_pack("{s:O?, s:O, s:O?, s:{s:s, s:s, s:s, s:s, s:O}}",
	    "verdict", res->verdict, "report", res->report, "config",
	    im->img->config, "image", "digest", im->img->digest,
	    "repository", res->repository, "reference", res->tag,
	    "upstream", im->opts->upstream, "layers", layers_meta);
	if (record != NULL)
		text = json_dumps(record, JSON_INDENT(2));
	json_decref(record);
	if (text == NULL)
		return PC_ERR_NOMEM;
	len = strlen(text);
	fd = mkstemp(tmp);
	if (fd < 0) {
		err = image_fail(PC_ERR_IO, im->reason, im->reasonlen,
		    "cannot create a file in %s: %s", dir, strerror(errno));
		goto out;
	}
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0 ||
	    rename(tmp, res->verdict_path) != 0) {
		err = image_fail(PC_ERR_IO, im->reason, im->reasonlen,
		    "writing %s failed: %s", res->verdict_path, strerror(errno));
		unlink(tmp);
	}
out:
	if (fd >= 0)
		close(fd);
	pc_free(text);
	return err;
}

/* Sets the repository and tag to store from --as or the source. */
static int
choose_name(struct import *im)
{
	const struct cache_import_options *o = im->opts;
	struct cache_import_result *res = im->res;
	const char *source_tag = im->img->reference != NULL &&
	    tag_is_valid(im->img->reference) ? im->img->reference : "latest";
	bool is_archive = strncmp(o->source, "docker-archive:", 15) == 0;

	if (o->as != NULL)
		return cache_import_split_name(o->as, o->docker_hub, source_tag,
		    res->repository, res->tag, im->reason, im->reasonlen);
	/* An archive without RepoTags may report its path as the repository. */
	if (!is_archive || im->img->repository == NULL ||
	    strcmp(im->img->repository, archive_path(im)) == 0)
		return image_fail(PC_ERR_INVALID, im->reason, im->reasonlen,
		    "%s names no repository: give one with --as NAME[:TAG]",
		    is_archive ? "the archive's manifest.json" : "an OCI layout");
	return cache_import_split_name(im->img->repository, o->docker_hub,
	    source_tag, res->repository, res->tag, im->reason, im->reasonlen);
}

int
cache_import_run(struct blobstore *bs, struct manifest_cache *mc,
    const struct cache_import_options *opts, struct cache_import_result *res,
    char *reason, size_t reasonlen)
{
	struct import im;
	struct image_options io;
	json_t *layers_meta = NULL;
	bool is_archive = strncmp(opts->source, "docker-archive:", 15) == 0;
	int err;

	memset(res, 0, sizeof(*res));
	memset(&im, 0, sizeof(im));
	im.bs = bs;
	im.mc = mc;
	im.opts = opts;
	im.res = res;
	im.reason = reason;
	im.reasonlen = reasonlen;
	reason[0] = '\0';
	if (!is_archive && strncmp(opts->source, "oci:", 4) != 0)
		return image_fail(PC_ERR_INVALID, reason, reasonlen,
		    "invalid source %.300s: expected oci:DIR[:TAG] or "
		    "docker-archive:FILE", opts->source);

	memset(&io, 0, sizeof(io));
	io.platform = opts->platform;
	err = image_open(opts->source, &io, &im.img, reason, reasonlen);
	if (err != PC_OK)
		goto out;
	err = choose_name(&im);
	if (err == PC_OK)
		err = is_archive ? copy_docker_archive(&im) : copy_oci_layout(&im);
	if (err == PC_OK)
		err = scan_image(&im, &layers_meta);
	if (err == PC_OK)
		err = store_manifest_and_tag(&im);
	if (err == PC_OK)
		err = write_verdict_file(&im, layers_meta);
	if (err != PC_OK)
		goto out;

	snprintf(res->digest, sizeof(res->digest), "%s", im.img->digest);
	snprintf(res->media_type, sizeof(res->media_type), "%s",
	    im.img->media_type);
	res->layers = im.img->n_layers;
out:
	if (err != PC_OK) {
		if (reason[0] == '\0')
			image_fail(err, reason, reasonlen, "%s", pc_strerror(err));
		json_decref(res->report);
		json_decref(res->verdict);
		res->report = NULL;
		res->verdict = NULL;
	}
	json_decref(layers_meta);
	pc_free(im.layout_dir);
	pc_free(im.manifest);
	image_free(im.img);
	return err;
}
