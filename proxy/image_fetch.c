#include "proxy/image_fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/error.h"
#include "proxy/image_backend.h"

#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

int
image_fail(int err, char *reason, size_t reasonlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, reasonlen, fmt, ap);
	va_end(ap);
	return err;
}

int
image_read_file(const char *path, struct buf *b, char *reason,
    size_t reasonlen)
{
	char chunk[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int err = PC_OK;

	if (fd < 0)
		return image_fail(errno == ENOENT ? PC_ERR_NOTFOUND : PC_ERR_IO,
		    reason, reasonlen, "cannot open %s: %s", path, strerror(errno));
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = image_fail(PC_ERR_IO, reason, reasonlen,
			    "reading %s failed: %s", path, strerror(errno));
			break;
		}
		err = buf_append(b, chunk, (size_t)n);
		if (err == PC_ERR_LIMIT) {
			image_fail(err, reason, reasonlen,
			    "%s is larger than %zu bytes", path, b->max);
			break;
		}
		if (err != PC_OK)
			break;
	}
	close(fd);
	return err;
}

int
image_parse_json(const struct buf *b, const char *what, json_t **out,
    char *reason, size_t reasonlen)
{
	json_error_t jerr;

	*out = json_loadb(b->data != NULL ? b->data : "", b->len,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (*out == NULL)
		return image_fail(PC_ERR_INVALID, reason, reasonlen,
		    "invalid JSON in %s at line %d: %s", what, jerr.line, jerr.text);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return image_fail(PC_ERR_INVALID, reason, reasonlen,
		    "%s is not a JSON object", what);
	}
	return PC_OK;
}

bool
image_is_index(const char *media_type)
{
	return media_type != NULL && (strcmp(media_type, OCI_INDEX) == 0 ||
	    strcmp(media_type, DOCKER_LIST) == 0);
}

bool
image_is_manifest(const char *media_type)
{
	return media_type != NULL && (strcmp(media_type, OCI_MANIFEST) == 0 ||
	    strcmp(media_type, DOCKER_MANIFEST) == 0);
}

/* Maps uname(2) machine names to the GOARCH names that images use. */
static const char *
host_architecture(void)
{
	static const struct {
		const char *machine;
		const char *arch;
	} map[] = {
		{"x86_64", "amd64"}, {"aarch64", "arm64"}, {"armv7l", "arm"},
		{"armv6l", "arm"}, {"i686", "386"}, {"i386", "386"},
		{"ppc64le", "ppc64le"}, {"s390x", "s390x"}, {"riscv64", "riscv64"},
	};
	struct utsname u;

	if (uname(&u) == 0) {
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
			if (strcmp(u.machine, map[i].machine) == 0)
				return map[i].arch;
		}
	}
	return "amd64";
}

static bool
platform_matches(const json_t *platform, const char *os, const char *arch,
    const char *variant)
{
	const char *p_os = json_string_value(json_object_get(platform, "os"));
	const char *p_arch = json_string_value(json_object_get(platform,
	    "architecture"));
	const char *p_variant = json_string_value(json_object_get(platform,
	    "variant"));

	if (p_os == NULL || p_arch == NULL || strcmp(p_os, os) != 0 ||
	    strcmp(p_arch, arch) != 0)
		return false;
	return variant == NULL || (p_variant != NULL &&
	    strcmp(p_variant, variant) == 0);
}

/* Lists the platforms of an index into reason, for the error message. */
static void
list_platforms(const json_t *manifests, char *reason, size_t reasonlen)
{
	size_t used = strlen(reason);
	size_t i;
	json_t *d;

	json_array_foreach(manifests, i, d) {
		const json_t *p = json_object_get(d, "platform");
		const char *os = json_string_value(json_object_get(p, "os"));
		const char *arch = json_string_value(json_object_get(p,
		    "architecture"));

		if (os == NULL || arch == NULL || used + 2 >= reasonlen)
			continue;
		snprintf(reason + used, reasonlen - used, " %s/%s", os, arch);
		used = strlen(reason);
	}
}

int
image_pick_platform(const json_t *index, const struct image_options *opts,
    const json_t **desc, char *reason, size_t reasonlen)
{
	const json_t *manifests = json_object_get(index, "manifests");
	char want[64];
	char *arch;
	char *variant;
	size_t i;
	json_t *d;

	if (!json_is_array(manifests))
		return image_fail(PC_ERR_INVALID, reason, reasonlen,
		    "image index has no manifests array");
	snprintf(want, sizeof(want), "%s", opts->platform != NULL ?
	    opts->platform : "linux");
	arch = strchr(want, '/');
	if (arch != NULL)
		*arch++ = '\0';
	else
		arch = (char *)host_architecture();
	variant = strchr(arch, '/');
	if (variant != NULL)
		*variant++ = '\0';

	json_array_foreach(manifests, i, d) {
		if (platform_matches(json_object_get(d, "platform"), want, arch,
		    variant)) {
			*desc = d;
			return PC_OK;
		}
	}
	image_fail(PC_ERR_NOTFOUND, reason, reasonlen,
	    "the image index has no %s/%s manifest; it has:", want, arch);
	list_platforms(manifests, reason, reasonlen);
	return PC_ERR_NOTFOUND;
}

int
image_descriptor(const json_t *desc, char digest[DIGEST_SHA256_BUFSIZE],
    int64_t *size, char *reason, size_t reasonlen)
{
	const char *d = json_string_value(json_object_get(desc, "digest"));
	const json_t *s = json_object_get(desc, "size");

	if (d == NULL || !json_is_integer(s) || json_integer_value(s) < 0)
		return image_fail(PC_ERR_INVALID, reason, reasonlen,
		    "descriptor without a valid digest and size");
	if (!digest_is_sha256(d))
		return image_fail(digest_is_valid(d) ? PC_ERR_UNSUPPORTED :
		    PC_ERR_INVALID, reason, reasonlen,
		    "unsupported or invalid digest %.140s: only sha256 is supported",
		    d);
	snprintf(digest, DIGEST_SHA256_BUFSIZE, "%s", d);
	*size = (int64_t)json_integer_value(s);
	return PC_OK;
}

static int
take_layer(struct image_layer *layer, const json_t *desc, char *reason,
    size_t reasonlen)
{
	const char *mt = json_string_value(json_object_get(desc, "mediaType"));
	int err;

	err = image_descriptor(desc, layer->digest, &layer->size, reason,
	    reasonlen);
	if (err != PC_OK)
		return err;
	if (mt != NULL && strstr(mt, "nondistributable") == NULL &&
	    strstr(mt, "foreign") == NULL && strstr(mt, "tar") == NULL)
		return image_fail(PC_ERR_UNSUPPORTED, reason, reasonlen,
		    "layer %s has media type %.100s, which is not a tar layer",
		    layer->digest, mt);
	if (mt != NULL && (layer->media_type = pc_strdup(mt)) == NULL)
		return PC_ERR_NOMEM;
	return PC_OK;
}

int
image_take_manifest(struct image *img, json_t *manifest,
    const char *media_type, char *reason, size_t reasonlen)
{
	const json_t *layers = json_object_get(manifest, "layers");
	const char *mt = media_type;
	size_t i;
	json_t *d;
	int err;

	if (mt == NULL)
		mt = json_string_value(json_object_get(manifest, "mediaType"));
	if (mt == NULL)
		mt = OCI_MANIFEST;
	if (json_integer_value(json_object_get(manifest, "schemaVersion")) != 2)
		return image_fail(PC_ERR_UNSUPPORTED, reason, reasonlen,
		    "only schema version 2 manifests are supported");
	if (!json_is_array(layers))
		return image_fail(PC_ERR_INVALID, reason, reasonlen,
		    "manifest has no layers array");
	if (json_array_size(layers) > IMAGE_MAX_LAYERS)
		return image_fail(PC_ERR_LIMIT, reason, reasonlen,
		    "manifest lists %zu layers, more than %u", json_array_size(layers),
		    IMAGE_MAX_LAYERS);
	err = image_descriptor(json_object_get(manifest, "config"),
	    img->config_digest, &img->config_size, reason, reasonlen);
	if (err != PC_OK)
		return err;

	img->layers = pc_calloc(json_array_size(layers) + 1, sizeof(*img->layers));
	img->media_type = pc_strdup(mt);
	if (img->layers == NULL || img->media_type == NULL)
		return PC_ERR_NOMEM;
	json_array_foreach(layers, i, d) {
		err = take_layer(&img->layers[i], d, reason, reasonlen);
		if (err != PC_OK)
			return err;
		img->n_layers++;
	}
	img->manifest = json_incref(manifest);
	return PC_OK;
}

int
image_verify_digest(const void *data, size_t len, const char *expected,
    const char *what, char *reason, size_t reasonlen)
{
	char got[DIGEST_SHA256_BUFSIZE];

	sha256_hex(data, len, got);
	if (strcmp(got, expected) != 0)
		return image_fail(PC_ERR_MISMATCH, reason, reasonlen,
		    "%s digest mismatch: expected %s, computed %s", what, expected,
		    got);
	return PC_OK;
}

int
image_take_config(struct image *img, const struct buf *body, char *reason,
    size_t reasonlen)
{
	const char *os;
	const char *arch;
	const char *variant;
	int err;

	if (img->config_digest[0] != '\0') {
		err = image_verify_digest(body->data, body->len, img->config_digest,
		    "config", reason, reasonlen);
		if (err != PC_OK)
			return err;
	} else {
		sha256_hex(body->data != NULL ? body->data : "", body->len,
		    img->config_digest);
	}
	if (img->config_size >= 0 && img->manifest != NULL &&
	    (uint64_t)img->config_size != body->len)
		return image_fail(PC_ERR_MISMATCH, reason, reasonlen,
		    "config size mismatch: manifest says %lld, blob has %zu bytes",
		    (long long)img->config_size, body->len);
	img->config_size = (int64_t)body->len;
	err = image_parse_json(body, "the image config", &img->config, reason,
	    reasonlen);
	if (err != PC_OK)
		return err;

	os = json_string_value(json_object_get(img->config, "os"));
	arch = json_string_value(json_object_get(img->config, "architecture"));
	variant = json_string_value(json_object_get(img->config, "variant"));
	if (os != NULL && arch != NULL)
		snprintf(img->platform, sizeof(img->platform), "%s/%s%s%s", os, arch,
		    variant != NULL ? "/" : "", variant != NULL ? variant : "");
	return PC_OK;
}

int
image_check_layer_size(const struct image *img, size_t i,
    struct layer_result *out, char *reason, size_t reasonlen)
{
	const struct image_layer *l = &img->layers[i];
	json_t *stats = json_object_get(out->root, "stats");
	json_int_t got = json_integer_value(json_object_get(stats,
	    "compressed_bytes"));

	if (l->size < 0 || got == l->size)
		return PC_OK;
	image_fail(PC_ERR_MISMATCH, reason, reasonlen,
	    "layer %s size mismatch: manifest says %lld bytes, blob has %lld",
	    l->digest, (long long)l->size, (long long)got);
	layer_result_add_error(out, "scan_error", reason);
	return PC_ERR_MISMATCH;
}

int
image_open(const char *ref, const struct image_options *opts,
    struct image **out, char *reason, size_t reasonlen)
{
	struct image *img;
	int err;

	*out = NULL;
	reason[0] = '\0';
	if (strlen(ref) > IMAGE_MAX_REFERENCE_LEN)
		return image_fail(PC_ERR_INVALID, reason, reasonlen,
		    "image reference longer than %u bytes", IMAGE_MAX_REFERENCE_LEN);
	img = pc_calloc(1, sizeof(*img));
	if (img == NULL)
		return PC_ERR_NOMEM;
	img->config_size = -1;

	if (strncmp(ref, "oci:", 4) == 0)
		err = image_open_oci(ref + 4, opts, img, reason, reasonlen);
	else if (strncmp(ref, "docker-archive:", 15) == 0)
		err = image_open_docker_archive(ref + 15, opts, img, reason,
		    reasonlen);
	else
		err = image_open_registry(ref, opts, img, reason, reasonlen);

	if (err != PC_OK) {
		if (err == PC_ERR_NOMEM && reason[0] == '\0')
			image_fail(err, reason, reasonlen, "out of memory");
		image_free(img);
		return err;
	}
	*out = img;
	return PC_OK;
}

int
image_scan_layer(struct image *img, size_t i, const struct scan_limits *limits,
    struct layer_result *out, char *reason, size_t reasonlen)
{
	reason[0] = '\0';
	return img->backend->scan_layer(img, i, limits, out, reason, reasonlen);
}

void
image_free(struct image *img)
{
	if (img == NULL)
		return;
	if (img->backend != NULL && img->backend->free != NULL)
		img->backend->free(img->backend_data);
	for (size_t i = 0; i < img->n_layers; i++) {
		pc_free(img->layers[i].media_type);
		pc_free(img->layers[i].member);
	}
	pc_free(img->layers);
	json_decref(img->manifest);
	json_decref(img->config);
	pc_free(img->repository);
	pc_free(img->reference);
	pc_free(img->digest);
	pc_free(img->media_type);
	pc_free(img);
}
