#ifndef PORTCULLIS_COMMON_DIGEST_H
#define PORTCULLIS_COMMON_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Content digests in the OCI form "<algorithm>:<encoded>". Two algorithms
 * are recognised, both with lower-case hex only, as the OCI image spec
 * registers them:
 *
 *   sha256:<64 hex>    the one portcullis stores and verifies
 *   sha512:<128 hex>   valid syntax, but no store accepts it
 *
 * Anything else (upper-case hex, other algorithms, wrong length, spaces)
 * is invalid. The functions keep no state and are safe from any thread.
 */

/* Maximum length of a valid digest: "sha512:" and 128 hex, without the NUL. */
#define DIGEST_MAX_LEN 135

/* Buffer size for a "sha256:<64 hex>" string including its NUL. */
#define DIGEST_SHA256_BUFSIZE 72

/* Buffer sizes for digest_parse(): the algorithm name and the sha256 hex. */
#define DIGEST_ALGO_BUFSIZE 8
#define DIGEST_SHA256_HEX_BUFSIZE 65

/*
 * Splits s into its algorithm and its hex. Returns PC_OK for a valid sha256
 * digest (algo_out "sha256", hex_out the 64 hex digits), PC_ERR_UNSUPPORTED
 * for a valid sha512 digest (algo_out "sha512", hex_out empty), and
 * PC_ERR_INVALID for anything else (both outputs empty). algo_out has room
 * for DIGEST_ALGO_BUFSIZE bytes and hex_out for DIGEST_SHA256_HEX_BUFSIZE.
 * Either may be NULL.
 */
int digest_parse(const char *s, char *algo_out, char *hex_out);

/* Returns true for a syntactically valid sha256 or sha512 digest. */
bool digest_is_valid(const char *s);

/* Returns true for a valid sha256 digest, the only kind the stores accept. */
bool digest_is_sha256(const char *s);

/*
 * Writes "sha256:<hex of SHA-256(data)>" and its NUL into out. When OpenSSL
 * fails (out of memory), out is the empty string, which equals no digest.
 */
void sha256_hex(const void *data, size_t len, char out[DIGEST_SHA256_BUFSIZE]);

/*
 * Incremental SHA-256 over a stream, for callers that must check a body
 * they do not keep in one piece (e.g. a blob streamed through without
 * caching). An opaque handle: one per stream, one thread at a time.
 */
struct sha256_stream;

/* Returns PC_OK or PC_ERR_NOMEM. */
int sha256_stream_new(struct sha256_stream **out);

/*
 * Returns PC_OK, PC_ERR_INVALID if the stream was already finished, or
 * PC_ERR_NOMEM if OpenSSL fails.
 */
int sha256_stream_update(struct sha256_stream *s, const void *data,
    size_t len);

/*
 * Finishes the stream and writes "sha256:<hex>" into out. Later updates
 * fail. Returns PC_OK, PC_ERR_INVALID if the stream was already finished,
 * or PC_ERR_NOMEM if OpenSSL fails.
 */
int sha256_stream_final(struct sha256_stream *s,
    char out[DIGEST_SHA256_BUFSIZE]);

/* Frees s; NULL is a no-op. */
void sha256_stream_free(struct sha256_stream *s);

#endif
