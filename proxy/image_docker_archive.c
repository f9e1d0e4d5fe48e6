#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "proxy/image_backend.h"

/*
 * The source docker-archive:FILE, a `docker save` or `skopeo copy
 * docker-archive:` tar. manifest.json names the config and the layer
 * members; the first image of the archive is used.
 */

/* Bytes copied per read when a member is extracted. */
#define ARCHIVE_COPY_CHUNK (256U * 1024U)

struct docker_archive {
	char *path;
};

/* The destination of an extracted member: a capped buffer or a file. */
struct member_sink {
	struct buf *buf;
	int fd;
	uint64_t max;
};

static int
copy_member(struct archive *a, const char *name, struct member_sink *sink,
    char *reason, size_t reasonlen)
{
	unsigned char *chunk = pc_malloc(ARCHIVE_COPY_CHUNK);
	uint64_t total = 0;
	la_ssize_t n;
	int err = PC_OK;

	if (chunk == NULL)
		return PC_ERR_NOMEM;
	while ((n = archive_read_data(a, chunk, ARCHIVE_COPY_CHUNK)) > 0) {
		total += (uint64_t)n;
		if (total > sink->max) {
			err = image_fail(PC_ERR_LIMIT, reason, reasonlen,
			    "archive member %s is larger than %llu bytes", name,
			    (unsigned long long)sink->max);
			break;
		}
		if (sink->buf != NULL) {
			err = buf_append(sink->buf, chunk, (size_t)n);
		} else if (write(sink->fd, chunk, (size_t)n) != n) {
			err = image_fail(errno == ENOSPC ? PC_ERR_NOSPACE : PC_ERR_IO,
			    reason, reasonlen, "writing a temporary layer file failed: %s",
			    strerror(errno));
		}
		if (err != PC_OK)
			break;
	}
	if (err == PC_OK && n < 0)
		err = image_fail(PC_ERR_INVALID, reason, reasonlen,
		    "reading archive member %s failed: %s", name,
		    archive_error_string(a));
	pc_free(chunk);
	return err;
}

/* Finds member name (normalised like layer paths) and copies it to sink. */
static int
extract_member(const char *path, const char *name, struct member_sink *sink,
    char *reason, size_t reasonlen)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char want[SCAN_DEFAULT_MAX_PATH_LEN + 1];
	char have[SCAN_DEFAULT_MAX_PATH_LEN + 1];
	int r;
	int err;

	if (a == NULL)
		return PC_ERR_NOMEM;
	if (layer_scan_normalize_path(name, want, sizeof(want)) != PC_OK) {
		archive_read_free(a);
		return image_fail(PC_ERR_INVALID, reason, reasonlen,
		    "invalid member name %.200s in manifest.json", name);
	}
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, ARCHIVE_COPY_CHUNK) != ARCHIVE_OK) {
		err = image_fail(PC_ERR_NOTFOUND, reason, reasonlen,
		    "cannot open %s: %s", path, archive_error_string(a));
		goto out;
	}
	for (;;) {
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF) {
			err = image_fail(PC_ERR_NOTFOUND, reason, reasonlen,
			    "%s has no member %s", path, want);
			goto out;
		}
		if (r < ARCHIVE_WARN) {
			err = image_fail(PC_ERR_INVALID, reason, reasonlen,
			    "%s is not a valid docker archive: %s", path,
			    archive_error_string(a));
			goto out;
		}
		if (layer_scan_normalize_path(archive_entry_pathname(e) ?
		    archive_entry_pathname(e) : "", have, sizeof(have)) == PC_OK &&
		    strcmp(have, want) == 0)
			break;
	}
	err = copy_member(a, want, sink, reason, reasonlen);
out:
	archive_read_free(a);
	return err;
}

/* Derives the sha256 digest from "blobs/sha256/<hex>" or "<hex>.tar". */
static void
digest_from_member(const char *member, char digest[DIGEST_SHA256_BUFSIZE])
{
	char candidate[DIGEST_SHA256_BUFSIZE + 16];
	size_t n = strlen(member);

	digest[0] = '\0';
	if (strncmp(member, "blobs/sha256/", 13) == 0)
		snprintf(candidate, sizeof(candidate), "sha256:%s", member + 13);
	else if (n == 64 + 4 && strcmp(member + 64, ".tar") == 0)
		snprintf(candidate, sizeof(candidate), "sha256:%.64s", member);
	else
		return;
	if (digest_is_sha256(candidate))
		memcpy(digest, candidate, DIGEST_SHA256_BUFSIZE);
}

/* A temporary file, unlinked at once, that disappears when closed. */
static int
temp_file(char *reason, size_t reasonlen, int *fd)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];

	snprintf(path, sizeof(path), "%s/portcullis-layer.XXXXXX",
	    dir != NULL && dir[0] != '\0' ? dir : "/tmp");
	*fd = mkstemp(path);
	if (*fd < 0)
		return image_fail(PC_ERR_IO, reason, reasonlen,
		    "cannot create a temporary file in %s: %s",
		    dir != NULL ? dir : "/tmp", strerror(errno));
	unlink(path);
	return PC_OK;
}

/*
 * Compares an uncompressed layer's digest with the config's diff_id: for
 * a plain tar the two are the same hash.
 */
static int
check_diff_id(const struct image *img, size_t i, struct layer_result *out,
    char *reason, size_t reasonlen)
{
	const json_t *diff_ids = json_object_get(json_object_get(img->config,
	    "rootfs"), "diff_ids");
	const char *want = json_string_value(json_array_get(diff_ids, i));
	const char *got = json_string_value(json_object_get(out->root, "digest"));
	const char *kind = json_string_value(json_object_get(json_object_get(
	    out->root, "stats"), "compression"));

	if (want == NULL || got == NULL || kind == NULL ||
	    strcmp(kind, "none") != 0 || strcmp(want, got) == 0)
		return PC_OK;
	image_fail(PC_ERR_MISMATCH, reason, reasonlen,
	    "layer %zu digest %s does not match the config's diff_id %s", i + 1,
	    got, want);
	layer_result_add_error(out, "scan_error", reason);
	return PC_ERR_MISMATCH;
}

static int
docker_archive_scan_layer(struct image *img, size_t i,
    const struct scan_limits *limits, struct layer_result *out, char *reason,
    size_t reasonlen)
{
	const struct docker_archive *da = img->backend_data;
	struct image_layer *l = &img->layers[i];
	struct member_sink sink = {NULL, -1, limits->max_layer_bytes};
	struct scan_source *src = NULL;
	const char *digest;
	int err;

	err = temp_file(reason, reasonlen, &sink.fd);
	if (err == PC_OK)
		err = extract_member(da->path, l->member, &sink, reason, reasonlen);
	if (err != PC_OK) {
		layer_result_add_error(out, "scan_error", reason);
		goto out;
	}
	src = scan_source_fd_new(sink.fd);
	if (src == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	err = layer_scan_run(src, l->media_type,
	    l->digest[0] != '\0' ? l->digest : NULL, limits, out);
	if (err == PC_OK)
		err = check_diff_id(img, i, out, reason, reasonlen);

	digest = json_string_value(json_object_get(out->root, "digest"));
	if (digest != NULL && l->digest[0] == '\0')
		snprintf(l->digest, sizeof(l->digest), "%s", digest);
	l->size = json_integer_value(json_object_get(json_object_get(out->root,
	    "stats"), "compressed_bytes"));
out:
	scan_source_free(src);
	if (sink.fd >= 0)
		close(sink.fd);
	return err;
}

static void
docker_archive_free(void *data)
{
	struct docker_archive *da = data;

	if (da == NULL)
		return;
	pc_free(da->path);
	pc_free(da);
}

static const struct image_backend docker_archive_backend = {
	.scan_layer = docker_archive_scan_layer,
	.free = docker_archive_free,
};

/* Sets repository and reference from "name:tag" of RepoTags. */
static int
take_repo_tag(struct image *img, const char *repo_tag, const char *path)
{
	const char *colon = repo_tag != NULL ? strrchr(repo_tag, ':') : NULL;

	if (repo_tag == NULL)
		return PC_OK;  /* an untagged archive names no repository */
	if (colon == NULL || strchr(colon, '/') != NULL) {
		img->repository = pc_strdup(repo_tag);
		return img->repository != NULL ? PC_OK : PC_ERR_NOMEM;
	}
	img->repository = pc_strndup(repo_tag, (size_t)(colon - repo_tag));
	img->reference = pc_strdup(colon + 1);
	return img->repository != NULL && img->reference != NULL ? PC_OK :
	    PC_ERR_NOMEM;
}

static int
take_layers(struct image *img, const json_t *layers, char *reason,
    size_t reasonlen)
{
	size_t i;
	json_t *v;

	if (!json_is_array(layers))
		return image_fail(PC_ERR_INVALID, reason, reasonlen,
		    "manifest.json has no Layers array");
	if (json_array_size(layers) > IMAGE_MAX_LAYERS)
		return image_fail(PC_ERR_LIMIT, reason, reasonlen,
		    "manifest.json lists more than %u layers", IMAGE_MAX_LAYERS);
	img->layers = pc_calloc(json_array_size(layers) + 1, sizeof(*img->layers));
	if (img->layers == NULL)
		return PC_ERR_NOMEM;
	json_array_foreach(layers, i, v) {
		struct image_layer *l = &img->layers[i];

		if (!json_is_string(v))
			return image_fail(PC_ERR_INVALID, reason, reasonlen,
			    "manifest.json has a layer that is not a string");
		l->member = pc_strdup(json_string_value(v));
		if (l->member == NULL)
			return PC_ERR_NOMEM;
		l->size = -1;
		digest_from_member(l->member, l->digest);
		img->n_layers++;
	}
	return PC_OK;
}

/* Reads manifest.json and returns its first image object (a new reference). */
static int
read_manifest(const char *path, json_t **image, char *reason,
    size_t reasonlen)
{
	struct buf b;
	struct member_sink sink = {&b, -1, IMAGE_MAX_MANIFEST_BYTES};
	json_error_t jerr;
	json_t *doc;
	int err;

	buf_init(&b, IMAGE_MAX_MANIFEST_BYTES);
	err = extract_member(path, "manifest.json", &sink, reason, reasonlen);
	if (err != PC_OK) {
		buf_free(&b);
		return err;
	}
	doc = json_loadb(b.data != NULL ? b.data : "", b.len,
	    JSON_REJECT_DUPLICATES, &jerr);
	buf_free(&b);
	if (doc == NULL)
		return image_fail(PC_ERR_INVALID, reason, reasonlen,
		    "invalid JSON in manifest.json at line %d: %s", jerr.line,
		    jerr.text);
	if (!json_is_object(json_array_get(doc, 0))) {
		json_decref(doc);
		return image_fail(PC_ERR_INVALID, reason, reasonlen,
		    "manifest.json is not an array of images");
	}
	*image = json_incref(json_array_get(doc, 0));
	json_decref(doc);
	return PC_OK;
}

int
image_open_docker_archive(const char *path, const struct image_options *opts,
    struct image *img, char *reason, size_t reasonlen)
{
	struct docker_archive *da = pc_calloc(1, sizeof(*da));
	struct buf b;
	struct member_sink sink = {&b, -1, IMAGE_MAX_CONFIG_BYTES};
	json_t *entry = NULL;
	const char *config;
	int err;

	buf_init(&b, IMAGE_MAX_CONFIG_BYTES);
	if (da == NULL || (da->path = pc_strdup(path)) == NULL) {
		pc_free(da);
		return PC_ERR_NOMEM;
	}
	img->backend = &docker_archive_backend;
	img->backend_data = da;

	err = read_manifest(path, &entry, reason, reasonlen);
	if (err != PC_OK)
		goto out;
	config = json_string_value(json_object_get(entry, "Config"));
	if (config == NULL) {
		err = image_fail(PC_ERR_INVALID, reason, reasonlen,
		    "manifest.json names no Config");
		goto out;
	}
	err = take_layers(img, json_object_get(entry, "Layers"), reason,
	    reasonlen);
	if (err == PC_OK)
		err = extract_member(path, config, &sink, reason, reasonlen);
	if (err != PC_OK)
		goto out;

	/* "<hex>.json" and "blobs/sha256/<hex>" name the config's digest. */
	digest_from_member(config, img->config_digest);
	if (img->config_digest[0] == '\0' && strlen(config) == 64 + 5 &&
	    strcmp(config + 64, ".json") == 0)
		snprintf(img->config_digest, sizeof(img->config_digest),
		    "sha256:%.64s", config);
	if (!digest_is_sha256(img->config_digest))
		img->config_digest[0] = '\0';
	err = image_take_config(img, &b, reason, reasonlen);
	if (err != PC_OK)
		goto out;
	img->digest = pc_strdup(img->config_digest);
	err = img->digest != NULL ? take_repo_tag(img, json_string_value(
	    json_array_get(json_object_get(entry, "RepoTags"), 0)), path) :
	    PC_ERR_NOMEM;
out:
	buf_free(&b);
	json_decref(entry);
	return err;
}
