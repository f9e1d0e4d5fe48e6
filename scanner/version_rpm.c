/*
 * RPM versions, ordered as rpm 4.18 orders an epoch-version-release:
 *
 *   [epoch:]version[-release]
 *
 * The epoch ends at the first ':' and is a decimal number (missing means
 * 0). The release starts after the last '-'. Version and release contain
 * letters, digits and the characters "._+~^". Each part is compared with
 * rpmvercmp(), which compares runs of digits or of letters one by one.
 * Any other character only separates runs. Digits beat letters and
 * leading zeros do not count. '~' sorts before everything, even the end
 * of the string, and '^' sorts after the end but before any further run.
 *
 * A version without a release sorts before the same version with any
 * release, as rpm.labelCompare() of the Python bindings does when the
 * release is None. librpm's own rpmverCmp() treats a missing release as
 * matching every release, which is not a total order, so it is not used.
 */
#include <string.h>

#include "common/error.h"
#include "scanner/version_schemes.h"

struct rpm_version {
	const char *epoch;
	size_t epoch_len;
	const char *version;
	size_t version_len;
	const char *release;   /* NULL when the string has no release */
	size_t release_len;
};

static int
is_part_char(int c)
{
	return version_is_alnum(c) || (c != '\0' && strchr("._+~^", c));
}

static int
check_part(const char *s, size_t len)
{
	if (len == 0)
		return PC_ERR_INVALID;
	for (size_t i = 0; i < len; i++) {
		if (!is_part_char(s[i]))
			return PC_ERR_INVALID;
	}
	return PC_OK;
}

static int
rpm_parse(const char *v, struct rpm_version *out)
{
	const char *colon = strchr(v, ':');
	const char *rest = v;
	const char *dash;

	out->epoch = "0";
	out->epoch_len = 1;
	if (colon != NULL) {
		if (colon == v)
			return PC_ERR_INVALID;
		for (const char *p = v; p < colon; p++) {
			if (!version_is_digit(*p))
				return PC_ERR_INVALID;
		}
		out->epoch = v;
		out->epoch_len = (size_t)(colon - v);
		rest = colon + 1;
	}

	dash = strrchr(rest, '-');
	out->version = rest;
	out->version_len = dash != NULL ? (size_t)(dash - rest) : strlen(rest);
	out->release = dash != NULL ? dash + 1 : NULL;
	out->release_len = dash != NULL ? strlen(dash + 1) : 0;
	if (check_part(out->version, out->version_len) != PC_OK)
		return PC_ERR_INVALID;
	if (dash != NULL && check_part(out->release, out->release_len) != PC_OK)
		return PC_ERR_INVALID;
	return PC_OK;
}

/* Returns s[i], or NUL past the end, so the loop reads like rpmvercmp. */
static int
char_at(const char *s, size_t len, size_t i)
{
	return i < len ? (unsigned char)s[i] : '\0';
}

static size_t
skip_separators(const char *s, size_t len, size_t i)
{
	while (i < len && !version_is_alnum(s[i]) && s[i] != '~' && s[i] != '^')
		i++;
	return i;
}

/* Compares one alphanumeric run at a[*i] and b[*j] and advances both. */
static int
compare_run(const char *a, size_t alen, size_t *i, const char *b,
    size_t blen, size_t *j)
{
	size_t as = *i;
	size_t bs = *j;
	int numeric = version_is_digit(a[as]);

	if (numeric) {
		while (*i < alen && version_is_digit(a[*i]))
			(*i)++;
		while (*j < blen && version_is_digit(b[*j]))
			(*j)++;
	} else {
		while (*i < alen && version_is_alpha(a[*i]))
			(*i)++;
		while (*j < blen && version_is_alpha(b[*j]))
			(*j)++;
	}

	/* b has a run of the other kind here: digits beat letters. */
	if (*j == bs)
		return numeric ? 1 : -1;
	if (numeric)
		return version_digits_compare(a + as, *i - as, b + bs, *j - bs);
	return version_bytes_compare(a + as, *i - as, b + bs, *j - bs);
}

static int
rpmvercmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0;
	size_t j = 0;

	while (i < alen || j < blen) {
		int ca;
		int cb;
		int diff;

		i = skip_separators(a, alen, i);
		j = skip_separators(b, blen, j);
		ca = char_at(a, alen, i);
		cb = char_at(b, blen, j);

		if (ca == '~' || cb == '~') {
			if (ca != '~')
				return 1;
			if (cb != '~')
				return -1;
			i++;
			j++;
			continue;
		}

		if (ca == '^' || cb == '^') {
			if (ca == '\0')
				return -1;
			if (cb == '\0')
				return 1;
			if (ca != '^')
				return 1;
			if (cb != '^')
				return -1;
			i++;
			j++;
			continue;
		}

		if (ca == '\0' || cb == '\0')
			break;
		diff = compare_run(a, alen, &i, b, blen, &j);
		if (diff != 0)
			return diff;
	}
	if (i >= alen && j >= blen)
		return 0;
	return i >= alen ? -1 : 1;
}

int
version_rpm_validate(const char *v)
{
	struct rpm_version parsed;

	return rpm_parse(v, &parsed);
}

int
version_rpm_compare(const char *a, const char *b, int *result)
{
	struct rpm_version va;
	struct rpm_version vb;
	int diff;

	if (rpm_parse(a, &va) != PC_OK || rpm_parse(b, &vb) != PC_OK)
		return PC_ERR_INVALID;

	diff = rpmvercmp(va.epoch, va.epoch_len, vb.epoch, vb.epoch_len);
	if (diff == 0)
		diff = rpmvercmp(va.version, va.version_len, vb.version,
		    vb.version_len);
	if (diff == 0 && (va.release != NULL || vb.release != NULL)) {
		if (va.release == NULL)
			diff = -1;
		else if (vb.release == NULL)
			diff = 1;
		else
			diff = rpmvercmp(va.release, va.release_len,
			    vb.release, vb.release_len);
	}
	*result = diff;
	return PC_OK;
}
