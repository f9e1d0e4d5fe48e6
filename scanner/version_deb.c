/*
 * Debian package versions, ordered as dpkg 1.21 orders them:
 *
 *   [epoch:]upstream[-revision]
 *
 * The epoch ends at the first ':' and is a decimal number up to INT_MAX.
 * The revision starts after the last '-'. A missing epoch is 0 and a
 * missing revision compares equal to "0".
 *
 * dpkg only warns about an upstream part that does not start with a digit
 * and about characters outside its alphabet, then compares anyway. Here
 * both make the version invalid, so a corrupt string cannot be matched.
 */
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "common/error.h"
#include "scanner/version_schemes.h"

/* The three parts of a version, as pointers into the original string. */
struct deb_version {
	const char *epoch;
	size_t epoch_len;
	const char *upstream;
	size_t upstream_len;
	const char *revision;  /* "" when the version has none */
	size_t revision_len;
};

static bool
is_upstream_char(int c)
{
	return version_is_alnum(c) || (c != '\0' && strchr(".-+~:", c));
}

static bool
is_revision_char(int c)
{
	return version_is_alnum(c) || (c != '\0' && strchr(".+~", c));
}

/* Epochs above INT_MAX make dpkg fail with "epoch in version is too big". */
static bool
epoch_fits_int(const char *epoch, size_t len)
{
	static const char int_max[] = "2147483647";

	_Static_assert(INT_MAX == 2147483647, "epoch limit assumes 32-bit int");
	return version_digits_compare(epoch, len, int_max,
	    sizeof(int_max) - 1) <= 0;
}

static int
deb_parse(const char *v, struct deb_version *out)
{
	const char *colon = strchr(v, ':');
	const char *rest = v;

	out->epoch = "0";
	out->epoch_len = 1;
	if (colon != NULL) {
		if (colon == v)
			return PC_ERR_INVALID;
		for (const char *p = v; p < colon; p++) {
			if (!version_is_digit(*p))
				return PC_ERR_INVALID;
		}
		if (!epoch_fits_int(v, (size_t)(colon - v)))
			return PC_ERR_INVALID;
		out->epoch = v;
		out->epoch_len = (size_t)(colon - v);
		rest = colon + 1;
	}

	const char *dash = strrchr(rest, '-');
	size_t rest_len = strlen(rest);

	out->upstream = rest;
	out->upstream_len = dash != NULL ? (size_t)(dash - rest) : rest_len;
	out->revision = dash != NULL ? dash + 1 : "";
	out->revision_len = dash != NULL ? rest_len - out->upstream_len - 1 : 0;
	if (out->upstream_len == 0 || (dash != NULL && out->revision_len == 0))
		return PC_ERR_INVALID;
	if (!version_is_digit(out->upstream[0]))
		return PC_ERR_INVALID;
	for (size_t i = 0; i < out->upstream_len; i++) {
		if (!is_upstream_char(out->upstream[i]))
			return PC_ERR_INVALID;
	}
	for (size_t i = 0; i < out->revision_len; i++) {
		if (!is_revision_char(out->revision[i]))
			return PC_ERR_INVALID;
	}
	return PC_OK;
}

/*
 * Weight of one character in a non-digit run: '~' sorts before the end of
 * the string, which sorts before letters, which sort before other symbols.
 */
static int
char_order(const char *s, size_t i, size_t len)
{
	int c;

	if (i >= len)
		return 0;
	c = (unsigned char)s[i];
	if (version_is_digit(c))
		return 0;
	if (version_is_alpha(c))
		return c;
	if (c == '~')
		return -1;
	return c + 256;
}

/*
 * Compares one part (upstream or revision) by alternating runs: a run of
 * non-digits compared character by character with char_order(), then a
 * run of digits compared as a number of any length.
 */
static int
compare_part(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0;
	size_t j = 0;

	while (i < alen || j < blen) {
		while ((i < alen && !version_is_digit(a[i])) ||
		    (j < blen && !version_is_digit(b[j]))) {
			int ac = char_order(a, i, alen);
			int bc = char_order(b, j, blen);

			if (ac != bc)
				return ac < bc ? -1 : 1;
			if (i < alen)
				i++;
			if (j < blen)
				j++;
		}

		size_t as = i;
		size_t bs = j;
		int diff;

		while (i < alen && version_is_digit(a[i]))
			i++;
		while (j < blen && version_is_digit(b[j]))
			j++;
		diff = version_digits_compare(a + as, i - as, b + bs, j - bs);
		if (diff != 0)
			return diff;
	}
	return 0;
}

int
version_deb_validate(const char *v)
{
	struct deb_version parsed;

	return deb_parse(v, &parsed);
}

int
version_deb_compare(const char *a, const char *b, int *result)
{
	struct deb_version va;
	struct deb_version vb;
	int diff;

	if (deb_parse(a, &va) != PC_OK || deb_parse(b, &vb) != PC_OK)
		return PC_ERR_INVALID;

	diff = version_digits_compare(va.epoch, va.epoch_len, vb.epoch,
	    vb.epoch_len);
	if (diff == 0)
		diff = compare_part(va.upstream, va.upstream_len, vb.upstream,
		    vb.upstream_len);
	if (diff == 0)
		diff = compare_part(va.revision, va.revision_len, vb.revision,
		    vb.revision_len);
	*result = diff;
	return PC_OK;
}
