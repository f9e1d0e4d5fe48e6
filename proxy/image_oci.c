#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "proxy/image_backend.h"

/* The source oci:DIR[:TAG], an OCI image layout on disk. */

#define OCI_REF_NAME "org.opencontainers.image.ref.name"

struct oci_layout {
	char *dir;
};

/* Builds DIR/blobs/sha256/<hex> for a sha256 digest. */
static int
blob_path(const struct oci_layout *o, const char *digest, char *out,
    size_t outlen)
{
	int n = snprintf(out, outlen, "%s/blobs/sha256/%s", o->dir, digest + 7);

	return n > 0 && (size_t)n < outlen ? PC_OK : PC_ERR_LIMIT;
}

/* Reads a blob of at most max bytes and checks it against its descriptor. */
static int
read_blob(const struct oci_layout *o, const char *digest, int64_t size,
    size_t max, struct buf *b, char *reason, size_t reasonlen)
{
	char path[4096];
	int err;

	buf_init(b, max);
	if (blob_path(o, digest, path, sizeof(path)) != PC_OK)
		return image_fail(PC_ERR_LIMIT, reason, reasonlen,
		    "layout path too long");
	err = image_read_file(path, b, reason, reasonlen);
	if (err != PC_OK)
		return err;
	if (size >= 0 && (uint64_t)size != b->len)
		return image_fail(PC_ERR_MISMATCH, reason, reasonlen,
		    "blob %s has %zu bytes, its descriptor says %lld", digest, b->len,
		    (long long)size);
	return image_verify_digest(b->data != NULL ? b->data : "", b->len, digest,
	    "blob", reason, reasonlen);
}

/* Finds the index.json descriptor for tag, or the only one without a tag. */
static int
find_descriptor(const json_t *index, const char *tag, const json_t **desc,
    char *reason, size_t reasonlen)
{
	const json_t *manifests = json_object_get(index, "manifests");
	size_t i;
	json_t *d;

	if (!json_is_array(manifests) || json_array_size(manifests) == 0)
		return image_fail(PC_ERR_NOTFOUND, reason, reasonlen,
		    "index.json lists no manifests");
	if (tag == NULL) {
		if (json_array_size(manifests) > 1)
			return image_fail(PC_ERR_INVALID, reason, reasonlen,
			    "the layout contains %zu images: name one as oci:DIR:TAG",
			    json_array_size(manifests));
		*desc = json_array_get(manifests, 0);
		return PC_OK;
	}
	json_array_foreach(manifests, i, d) {
		const char *name = json_string_value(json_object_get(
		    json_object_get(d, "annotations"), OCI_REF_NAME));

		if (name != NULL && strcmp(name, tag) == 0) {
			*desc = d;
			return PC_OK;
		}
	}
	return image_fail(PC_ERR_NOTFOUND, reason, reasonlen,
	    "no image tagged %.200s in index.json", tag);
}

/*
 * Follows desc through nested indexes to an image manifest and takes it.
 * depth counts the indexes passed.
 */
static int
take_descriptor(struct image *img, const struct oci_layout *o,
    const json_t *desc, const struct image_options *opts, unsigned depth,
    char *reason, size_t reasonlen)
{
	char digest[DIGEST_SHA256_BUFSIZE];
	const char *mt = json_string_value(json_object_get(desc, "mediaType"));
	json_t *doc = NULL;
	struct buf b;
	int64_t size;
	int err;

	err = image_descriptor(desc, digest, &size, reason, reasonlen);
	if (err != PC_OK)
		return err;
	err = read_blob(o, digest, size, IMAGE_MAX_MANIFEST_BYTES, &b, reason,
	    reasonlen);
	if (err == PC_OK)
		err = image_parse_json(&b, "the manifest", &doc, reason, reasonlen);
	buf_free(&b);
	if (err != PC_OK)
		goto out;
	if (mt == NULL)
		mt = json_string_value(json_object_get(doc, "mediaType"));

	if (image_is_index(mt) || json_is_array(json_object_get(doc, "manifests"))) {
		const json_t *next;

		if (depth >= IMAGE_MAX_INDEX_DEPTH) {
			err = image_fail(PC_ERR_LIMIT, reason, reasonlen,
			    "image indexes nested deeper than %u", IMAGE_MAX_INDEX_DEPTH);
			goto out;
		}
		err = image_pick_platform(doc, opts, &next, reason, reasonlen);
		if (err == PC_OK)
			err = take_descriptor(img, o, next, opts, depth + 1, reason,
			    reasonlen);
		goto out;
	}

	img->digest = pc_strdup(digest);
	err = img->digest != NULL ? image_take_manifest(img, doc, mt, reason,
	    reasonlen) : PC_ERR_NOMEM;
out:
	json_decref(doc);
	return err;
}

static int
oci_scan_layer(struct image *img, size_t i, const struct scan_limits *limits,
    struct layer_result *out, char *reason, size_t reasonlen)
{
	const struct oci_layout *o = img->backend_data;
	const struct image_layer *l = &img->layers[i];
	struct scan_source *src;
	char path[4096];
	int fd;
	int err;

	if (blob_path(o, l->digest, path, sizeof(path)) != PC_OK)
		return image_fail(PC_ERR_LIMIT, reason, reasonlen,
		    "layout path too long");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;

		err = image_fail(saved == ENOENT ? PC_ERR_NOTFOUND : PC_ERR_IO,
		    reason, reasonlen, "cannot open layer blob %s: %s", path,
		    strerror(saved));
		layer_result_add_error(out, "scan_error", reason);
		return err;
	}
	src = scan_source_fd_new(fd);
	if (src == NULL) {
		close(fd);
		return PC_ERR_NOMEM;
	}
	err = layer_scan_run(src, l->media_type, l->digest, limits, out);
	scan_source_free(src);
	close(fd);
	if (err == PC_OK)
		err = image_check_layer_size(img, i, out, reason, reasonlen);
	return err;
}

static void
oci_free(void *data)
{
	struct oci_layout *o = data;

	if (o == NULL)
		return;
	pc_free(o->dir);
	pc_free(o);
}

static const struct image_backend oci_backend = {
	.scan_layer = oci_scan_layer,
	.free = oci_free,
};

/*
 * Splits "DIR[:TAG]": the part after the last ':' is a tag unless it
 * contains a '/' (then the ':' belongs to the folder name) or DIR alone
 * is a folder.
 */
static int
split_spec(const char *spec, struct oci_layout *o, char **tag)
{
	const char *colon = strrchr(spec, ':');
	struct stat st;

	*tag = NULL;
	if (colon != NULL && strchr(colon, '/') == NULL &&
	    !(stat(spec, &st) == 0 && S_ISDIR(st.st_mode))) {
		o->dir = pc_strndup(spec, (size_t)(colon - spec));
		*tag = pc_strdup(colon + 1);
		return o->dir != NULL && *tag != NULL ? PC_OK : PC_ERR_NOMEM;
	}
	o->dir = pc_strdup(spec);
	return o->dir != NULL ? PC_OK : PC_ERR_NOMEM;
}

int
image_open_oci(const char *spec, const struct image_options *opts,
    struct image *img, char *reason, size_t reasonlen)
{
	struct oci_layout *o = pc_calloc(1, sizeof(*o));
	const json_t *desc = NULL;
	json_t *index = NULL;
	char path[4096];
	char *tag = NULL;
	struct buf b;
	int err;

	buf_init(&b, IMAGE_MAX_MANIFEST_BYTES);
	if (o == NULL)
		return PC_ERR_NOMEM;
	img->backend = &oci_backend;
	img->backend_data = o;
	err = split_spec(spec, o, &tag);
	if (err != PC_OK)
		goto out;
	if (o->dir[0] == '\0') {
		err = image_fail(PC_ERR_INVALID, reason, reasonlen,
		    "oci: needs a folder, as in oci:DIR[:TAG]");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/index.json", o->dir);
	err = image_read_file(path, &b, reason, reasonlen);
	if (err == PC_OK)
		err = image_parse_json(&b, "index.json", &index, reason, reasonlen);
	if (err == PC_OK)
		err = find_descriptor(index, tag, &desc, reason, reasonlen);
	if (err == PC_OK)
		err = take_descriptor(img, o, desc, opts, 0, reason, reasonlen);
	if (err != PC_OK)
		goto out;

	buf_free(&b);
	err = read_blob(o, img->config_digest, img->config_size,
	    IMAGE_MAX_CONFIG_BYTES, &b, reason, reasonlen);
	if (err == PC_OK)
		err = image_take_config(img, &b, reason, reasonlen);
	if (err != PC_OK)
		goto out;
	/* A layout names no repository; --repository can supply one. */
	img->reference = tag;
	tag = NULL;
out:
	buf_free(&b);
	json_decref(index);
	pc_free(tag);
	return err;
}
