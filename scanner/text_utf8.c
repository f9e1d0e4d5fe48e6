#include "scanner/text_utf8.h"

#include <stdint.h>

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t
sequence_length(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1fU;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0fU;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07U;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fU);
	}
	/* Overlong three- and four-byte forms, surrogates, beyond U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

void
text_utf8_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t n = 0;

	while (p[n] != '\0')
		n++;
	for (size_t i = 0; i < n;) {
		size_t len = sequence_length(p + i, n - i);

		if (len == 0) {
			p[i++] = '?';
			continue;
		}
		i += len;
	}
}
