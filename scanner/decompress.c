#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_createDStream_advanced, custom allocator */

#include "scanner/decompress.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <isa-l/igzip_lib.h>
#include <openssl/evp.h>
#include <zstd.h>

#include "common/alloc.h"
#include "common/error.h"

struct decompress {
	struct scan_source *src;
	const struct scan_limits *limits;
	enum decompress_kind kind;

	EVP_MD_CTX *sha256;
	unsigned char *in;
	size_t in_len;   /* valid bytes in in[] */
	size_t in_pos;   /* bytes of in[] already consumed */
	bool src_eof;

	struct inflate_state *gzip;
	bool gzip_member_done;   /* between two members, or before the first */
	bool gzip_any_member;

	ZSTD_DStream *zstd;
	size_t zstd_hint;        /* last ZSTD_decompressStream result */

	uint64_t compressed;
	uint64_t uncompressed;
	char message[256];
};

static void *
zstd_alloc(void *opaque, size_t size)
{
	return pc_malloc(size);
}

static void
zstd_free(void *opaque, void *ptr)
{
	pc_free(ptr);
}

static int fail(struct decompress *d, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
fail(struct decompress *d, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->message, sizeof(d->message), fmt, ap);
	va_end(ap);
	return err;
}

int
decompress_new(struct scan_source *src, const struct scan_limits *limits,
    struct decompress **out)
{
	struct decompress *d = pc_calloc(1, sizeof(*d));

	*out = NULL;
	if (d == NULL)
		return PC_ERR_NOMEM;
	d->src = src;
	d->limits = limits;
	d->in = pc_malloc(DECOMPRESS_INPUT_BUFFER);
	d->sha256 = EVP_MD_CTX_new();
	if (d->in == NULL || d->sha256 == NULL ||
	    EVP_DigestInit_ex(d->sha256, EVP_sha256(), NULL) != 1) {
		decompress_free(d);
		return PC_ERR_NOMEM;
	}
	*out = d;
	return PC_OK;
}

void
decompress_free(struct decompress *d)
{
	if (d == NULL)
		return;
	EVP_MD_CTX_free(d->sha256);
	pc_free(d->in);
	pc_free(d->gzip);
	ZSTD_freeDStream(d->zstd);
	pc_free(d);
}

/* Refills in[] from the source once it is consumed; sets src_eof at end. */
static int
fill_input(struct decompress *d)
{
	size_t got;
	int err;

	if (d->in_pos < d->in_len || d->src_eof)
		return PC_OK;
	err = scan_source_read(d->src, d->in, DECOMPRESS_INPUT_BUFFER, &got);
	if (err == PC_ERR_TRUNCATED)
		return fail(d, err, "%s", "the layer file is shorter than announced");
	if (err != PC_OK)
		return fail(d, err, "reading the layer failed: %s", pc_strerror(err));
	d->in_pos = 0;
	d->in_len = got;
	if (got == 0) {
		d->src_eof = true;
		return PC_OK;
	}
	if (EVP_DigestUpdate(d->sha256, d->in, got) != 1)
		return fail(d, PC_ERR_NOMEM, "%s", "SHA-256 update failed");
	d->compressed += got;
	return PC_OK;
}

static enum decompress_kind
kind_from_media_type(const char *media_type, bool *known)
{
	size_t n = media_type != NULL ? strlen(media_type) : 0;

	*known = true;
	if (n >= 5 && (strcmp(media_type + n - 5, "+gzip") == 0 ||
	    strcmp(media_type + n - 5, ".gzip") == 0))
		return DECOMPRESS_GZIP;
	if (n >= 5 && strcmp(media_type + n - 5, "+zstd") == 0)
		return DECOMPRESS_ZSTD;
	if (n >= 3 && strcmp(media_type + n - 3, "tar") == 0)
		return DECOMPRESS_NONE;
	*known = false;
	return DECOMPRESS_NONE;
}

static int
start_gzip(struct decompress *d)
{
	d->gzip = pc_malloc(sizeof(*d->gzip));
	if (d->gzip == NULL)
		return fail(d, PC_ERR_NOMEM, "%s", "out of memory for gzip state");
	isal_inflate_init(d->gzip);
	d->gzip->crc_flag = ISAL_GZIP;
	d->gzip_member_done = true;
	return PC_OK;
}

static int
start_zstd(struct decompress *d)
{
	ZSTD_customMem mem = {zstd_alloc, zstd_free, NULL};
	size_t r;

	d->zstd = ZSTD_createDStream_advanced(mem);
	if (d->zstd == NULL)
		return fail(d, PC_ERR_NOMEM, "%s", "out of memory for zstd state");
	r = ZSTD_DCtx_setParameter(d->zstd, ZSTD_d_windowLogMax,
	    (int)d->limits->zstd_window_log_max);
	if (ZSTD_isError(r))
		return fail(d, PC_ERR_INVALID, "invalid zstd window limit: %s",
		    ZSTD_getErrorName(r));
	return PC_OK;
}

int
decompress_start(struct decompress *d, const char *media_type)
{
	static const unsigned char gzip_magic[] = {0x1f, 0x8b};
	static const unsigned char zstd_magic[] = {0x28, 0xb5, 0x2f, 0xfd};
	bool known;
	size_t n;
	int err;

	d->kind = kind_from_media_type(media_type, &known);
	err = fill_input(d);
	if (err != PC_OK)
		return err;

	/* The magic number wins over the media type when they disagree. */
	n = d->in_len;
	if (n >= 2 && memcmp(d->in, gzip_magic, 2) == 0)
		d->kind = DECOMPRESS_GZIP;
	else if (n >= 4 && memcmp(d->in, zstd_magic, 4) == 0)
		d->kind = DECOMPRESS_ZSTD;
	else if (n >= 3 && memcmp(d->in, "BZh", 3) == 0)
		return fail(d, PC_ERR_UNSUPPORTED, "%s",
		    "bzip2 layers are not supported");
	else if (n >= 6 && memcmp(d->in, "\xfd" "7zXZ\0", 6) == 0)
		return fail(d, PC_ERR_UNSUPPORTED, "%s",
		    "xz layers are not supported");
	else if (n >= 512)
		d->kind = DECOMPRESS_NONE;
	/* Otherwise the input is too short to tell, so the media type decides. */

	if (d->kind == DECOMPRESS_GZIP)
		return start_gzip(d);
	if (d->kind == DECOMPRESS_ZSTD)
		return start_zstd(d);
	return PC_OK;
}

/* Starts the next gzip member, or skips the zero padding after the last. */
static int
gzip_next_member(struct decompress *d, bool *end)
{
	*end = false;
	while (d->in_pos < d->in_len && d->in[d->in_pos] == 0 &&
	    d->gzip_any_member)
		d->in_pos++;
	if (d->in_pos == d->in_len) {
		*end = d->src_eof;
		if (*end && !d->gzip_any_member)
			return fail(d, PC_ERR_TRUNCATED, "%s",
			    "empty gzip stream");
		return PC_OK;
	}
	if (d->in[d->in_pos] != 0x1f)
		return fail(d, PC_ERR_INVALID, "%s", d->gzip_any_member ?
		    "invalid data after the end of the gzip stream" :
		    "invalid gzip header");
	isal_inflate_reset(d->gzip);
	d->gzip->crc_flag = ISAL_GZIP;
	d->gzip_member_done = false;
	d->gzip_any_member = true;
	return PC_OK;
}

static const char *
isal_error_name(int ret)
{
	switch (ret) {
	case ISAL_INVALID_BLOCK: return "invalid deflate block";
	case ISAL_INVALID_SYMBOL: return "invalid deflate symbol";
	case ISAL_INVALID_LOOKBACK: return "invalid deflate distance";
	case ISAL_INVALID_WRAPPER: return "invalid gzip header";
	case ISAL_UNSUPPORTED_METHOD: return "unsupported gzip method";
	case ISAL_INCORRECT_CHECKSUM: return "gzip CRC mismatch";
	case ISAL_NEED_DICT: return "deflate stream needs a dictionary";
	default: return "gzip decoder error";
	}
}

static int
read_gzip(struct decompress *d, unsigned char *out, size_t cap, size_t *got)
{
	struct inflate_state *st = d->gzip;
	bool end;
	int err;
	int ret;

	*got = 0;
	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	while (*got == 0) {
		err = fill_input(d);
		if (err != PC_OK)
			return err;
		if (d->gzip_member_done) {
			err = gzip_next_member(d, &end);
			if (err != PC_OK || end)
				return err;
			if (d->gzip_member_done)
				continue;
		}

		st->next_in = d->in + d->in_pos;
		st->avail_in = (uint32_t)(d->in_len - d->in_pos);
		st->next_out = out;
		st->avail_out = (uint32_t)cap;
		ret = isal_inflate(st);
		d->in_pos = (size_t)(st->next_in - d->in);
		*got = cap - st->avail_out;
		if (ret != ISAL_DECOMP_OK)
			return fail(d, PC_ERR_INVALID, "corrupt gzip data: %s",
			    isal_error_name(ret));
		if (st->block_state == ISAL_BLOCK_FINISH)
			d->gzip_member_done = true;
		else if (*got == 0 && d->src_eof && d->in_pos == d->in_len)
			return fail(d, PC_ERR_TRUNCATED, "%s",
			    "truncated gzip stream: the data ends inside a member");
	}
	return PC_OK;
}

static int
read_zstd(struct decompress *d, unsigned char *out, size_t cap, size_t *got)
{
	ZSTD_inBuffer in;
	ZSTD_outBuffer o = {out, cap, 0};
	size_t r;
	int err;

	while (o.pos == 0) {
		err = fill_input(d);
		if (err != PC_OK)
			return err;
		in.src = d->in;
		in.size = d->in_len;
		in.pos = d->in_pos;
		if (d->src_eof && in.pos == in.size) {
			/* Zero means the last frame ended and is flushed. */
			if (d->zstd_hint != 0)
				return fail(d, PC_ERR_TRUNCATED, "%s",
				    "truncated zstd stream: the data ends inside a frame");
			break;
		}
		r = ZSTD_decompressStream(d->zstd, &o, &in);
		d->in_pos = in.pos;
		if (ZSTD_isError(r))
			return fail(d, PC_ERR_INVALID, "corrupt zstd data: %s",
			    ZSTD_getErrorName(r));
		d->zstd_hint = r;
	}
	*got = o.pos;
	return PC_OK;
}

static int
read_plain(struct decompress *d, unsigned char *out, size_t cap, size_t *got)
{
	size_t n;
	int err;

	*got = 0;
	err = fill_input(d);
	if (err != PC_OK)
		return err;
	n = d->in_len - d->in_pos;
	if (n > cap)
		n = cap;
	memcpy(out, d->in + d->in_pos, n);
	d->in_pos += n;
	*got = n;
	return PC_OK;
}

static int
check_limits(struct decompress *d)
{
	const struct scan_limits *l = d->limits;

	if (d->uncompressed > l->max_layer_bytes) {
		snprintf(d->message, sizeof(d->message),
		    "the layer expands to more than %llu bytes (max_layer_bytes)",
		    (unsigned long long)l->max_layer_bytes);
		return PC_ERR_LIMIT;
	}
	if (d->kind != DECOMPRESS_NONE && d->uncompressed > l->ratio_min_bytes &&
	    d->uncompressed / (d->compressed ? d->compressed : 1) > l->max_ratio) {
		snprintf(d->message, sizeof(d->message),
		    "the layer expands more than %u times its compressed size "
		    "(max_ratio)", l->max_ratio);
		return PC_ERR_LIMIT;
	}
	return PC_OK;
}

int
decompress_read(struct decompress *d, unsigned char *out, size_t cap,
    size_t *got)
{
	int err;

	*got = 0;
	switch (d->kind) {
	case DECOMPRESS_GZIP:
		err = read_gzip(d, out, cap, got);
		break;
	case DECOMPRESS_ZSTD:
		err = read_zstd(d, out, cap, got);
		break;
	default:
		err = read_plain(d, out, cap, got);
		break;
	}
	if (err != PC_OK)
		return err;
	d->uncompressed += *got;
	return check_limits(d);
}

enum decompress_kind
decompress_kind(const struct decompress *d)
{
	return d->kind;
}

const char *
decompress_kind_name(enum decompress_kind kind)
{
	switch (kind) {
	case DECOMPRESS_GZIP: return "gzip";
	case DECOMPRESS_ZSTD: return "zstd";
	default: return "none";
	}
}

const char *
decompress_message(const struct decompress *d)
{
	return d->message;
}

uint64_t
decompress_compressed_bytes(const struct decompress *d)
{
	return d->compressed;
}

uint64_t
decompress_uncompressed_bytes(const struct decompress *d)
{
	return d->uncompressed;
}

int
decompress_digest(struct decompress *d, char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	size_t pos;

	if (outlen < 8 + 64 + 1)
		return PC_ERR_LIMIT;
	if (EVP_DigestFinal_ex(d->sha256, md, &len) != 1 || len != 32)
		return PC_ERR_NOMEM;
	memcpy(out, "sha256:", 7);
	pos = 7;
	for (unsigned int i = 0; i < len; i++) {
		snprintf(out + pos, 3, "%02x", md[i]);
		pos += 2;
	}
	out[pos] = '\0';
	return PC_OK;
}
