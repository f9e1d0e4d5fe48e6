#include <stdbool.h>
#include <string.h>

#include "common/error.h"
#include "scanner/layer_scan.h"

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t
utf8_sequence_length(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* Replaces every byte that starts no valid UTF-8 sequence with '?'. */
static void
utf8_sanitize(char *s, size_t len)
{
	unsigned char *p = (unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t n = utf8_sequence_length(p + i, len - i);

		if (n == 0) {
			p[i] = '?';
			n = 1;
		}
		i += n;
	}
}

int
layer_scan_normalize_path(const char *path, char *out, size_t outlen)
{
	const char *p = path;
	size_t len = 0;

	if (outlen == 0)
		return PC_ERR_LIMIT;
	out[0] = '\0';
	while (*p != '\0') {
		const char *start;
		size_t n;

		while (*p == '/')
			p++;
		start = p;
		while (*p != '\0' && *p != '/')
			p++;
		n = (size_t)(p - start);
		if (n == 0 || (n == 1 && start[0] == '.'))
			continue;

		if (n == 2 && start[0] == '.' && start[1] == '.') {
			char *slash;

			if (len == 0)
				return PC_ERR_INVALID;
			slash = memrchr(out, '/', len);
			len = slash != NULL ? (size_t)(slash - out) : 0;
			out[len] = '\0';
			continue;
		}

		if (len + (len > 0 ? 1 : 0) + n >= outlen)
			return PC_ERR_LIMIT;
		if (len > 0)
			out[len++] = '/';
		memcpy(out + len, start, n);
		len += n;
		out[len] = '\0';
	}
	utf8_sanitize(out, len);
	return PC_OK;
}
