#include "common/digest.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"

#define SHA256_HEX_LEN 64
#define SHA512_HEX_LEN 128

struct sha256_stream {
	EVP_MD_CTX *ctx;
	bool finished;
};

static bool
is_lower_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

static bool
matches_algo(const char *s, const char *algo, size_t hex_len)
{
	size_t algo_len = strlen(algo);

	if (strncmp(s, algo, algo_len) != 0 || s[algo_len] != ':')
		return false;
	s += algo_len + 1;
	/* strnlen stops at the NUL, so an overlong string is caught here. */
	if (strnlen(s, hex_len + 1) != hex_len)
		return false;
	return is_lower_hex(s, hex_len);
}

int
digest_parse(const char *s, char *algo_out, char *hex_out)
{
	if (algo_out != NULL)
		algo_out[0] = '\0';
	if (hex_out != NULL)
		hex_out[0] = '\0';
	if (s == NULL)
		return PC_ERR_INVALID;

	if (matches_algo(s, "sha256", SHA256_HEX_LEN)) {
		if (algo_out != NULL)
			memcpy(algo_out, "sha256", sizeof("sha256"));
		if (hex_out != NULL) {
			memcpy(hex_out, s + 7, SHA256_HEX_LEN);
			hex_out[SHA256_HEX_LEN] = '\0';
		}
		return PC_OK;
	}

	if (matches_algo(s, "sha512", SHA512_HEX_LEN)) {
		if (algo_out != NULL)
			memcpy(algo_out, "sha512", sizeof("sha512"));
		return PC_ERR_UNSUPPORTED;
	}
	return PC_ERR_INVALID;
}

bool
digest_is_valid(const char *s)
{
	return digest_parse(s, NULL, NULL) != PC_ERR_INVALID;
}

bool
digest_is_sha256(const char *s)
{
	return digest_parse(s, NULL, NULL) == PC_OK;
}

static void
format_sha256(const unsigned char *md, char out[DIGEST_SHA256_BUFSIZE])
{
	static const char hex[] = "0123456789abcdef";

	memcpy(out, "sha256:", 7);
	for (size_t i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[7 + 2 * i + 1] = hex[md[i] & 0x0f];
	}
	out[7 + SHA256_HEX_LEN] = '\0';
}

void
sha256_hex(const void *data, size_t len, char out[DIGEST_SHA256_BUFSIZE])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1) {
		/* Out of memory inside OpenSSL: an empty string matches no digest. */
		out[0] = '\0';
		return;
	}
	format_sha256(md, out);
}

int
sha256_stream_new(struct sha256_stream **out)
{
	struct sha256_stream *s;

	*out = NULL;
	s = pc_calloc(1, sizeof(*s));
	if (s == NULL)
		return PC_ERR_NOMEM;
	s->ctx = EVP_MD_CTX_new();
	if (s->ctx == NULL || EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
		sha256_stream_free(s);
		return PC_ERR_NOMEM;
	}
	*out = s;
	return PC_OK;
}

int
sha256_stream_update(struct sha256_stream *s, const void *data, size_t len)
{
	if (s->finished)
		return PC_ERR_INVALID;
	if (len == 0)
		return PC_OK;
	if (EVP_DigestUpdate(s->ctx, data, len) != 1)
		return PC_ERR_NOMEM;
	return PC_OK;
}

int
sha256_stream_final(struct sha256_stream *s, char out[DIGEST_SHA256_BUFSIZE])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if (s->finished)
		return PC_ERR_INVALID;
	s->finished = true;
	if (EVP_DigestFinal_ex(s->ctx, md, &md_len) != 1)
		return PC_ERR_NOMEM;
	format_sha256(md, out);
	return PC_OK;
}

void
sha256_stream_free(struct sha256_stream *s)
{
	if (s == NULL)
		return;
	EVP_MD_CTX_free(s->ctx);
	pc_free(s);
}
