#ifndef PORTCULLIS_SCANNER_DECOMPRESS_H
#define PORTCULLIS_SCANNER_DECOMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "scanner/layer_scan.h"

/*
 * The decoder of layer blobs: pulls compressed bytes from a scan_source,
 * hashes them with SHA-256 and inflates them with ISA-L (gzip, several
 * members allowed) or libzstd (zstd, several frames allowed), or passes
 * plain tar through. The compression is sniffed from the first bytes;
 * the media type only matters when the bytes carry no known magic number.
 */

enum decompress_kind {
	DECOMPRESS_NONE,
	DECOMPRESS_GZIP,
	DECOMPRESS_ZSTD,
};

/* Size of the compressed input buffer; output is read in caller chunks. */
#define DECOMPRESS_INPUT_BUFFER (256U * 1024U)

struct decompress;

/* Returns PC_OK or PC_ERR_NOMEM; *out is freed with decompress_free(). */
int decompress_new(struct scan_source *src, const struct scan_limits *limits,
    struct decompress **out);
void decompress_free(struct decompress *d);

/*
 * Reads the first bytes and picks the decoder. Returns PC_OK, the
 * source's error, or PC_ERR_UNSUPPORTED for bzip2 and xz input.
 */
int decompress_start(struct decompress *d, const char *media_type);

/*
 * Fills out with up to cap uncompressed bytes; *got is 0 only at the end
 * of the stream. Returns PC_OK or an error with a message available from
 * decompress_message(): PC_ERR_TRUNCATED, PC_ERR_INVALID, PC_ERR_LIMIT,
 * PC_ERR_NOMEM or the source's error.
 */
int decompress_read(struct decompress *d, unsigned char *out, size_t cap,
    size_t *got);

enum decompress_kind decompress_kind(const struct decompress *d);
const char *decompress_kind_name(enum decompress_kind kind);
const char *decompress_message(const struct decompress *d);
uint64_t decompress_compressed_bytes(const struct decompress *d);
uint64_t decompress_uncompressed_bytes(const struct decompress *d);

/*
 * Writes "sha256:<hex>" of every compressed byte read so far into out
 * (at least 72 bytes). Call once, after the end of the stream.
 */
int decompress_digest(struct decompress *d, char *out, size_t outlen);

#endif
