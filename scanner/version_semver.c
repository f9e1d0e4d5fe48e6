/*
 * SemVer 2.0 versions as node-semver 7 reads them in strict mode:
 *
 *   [=][v]MAJOR.MINOR.PATCH[-prerelease][+build]
 *
 * Numeric parts have no leading zeros, and node-semver rejects a core
 * number above Number.MAX_SAFE_INTEGER (2^53 - 1), so this scheme does too.
 * Build metadata is checked for syntax but ignored in the order. The '='
 * prefix is what node-semver's loose mode and semver.clean() strip.
 *
 * NOTE: numeric prerelease identifiers compare exactly here, at any
 * length. node-semver compares them as JavaScript numbers, so two above
 * 2^53 that differ only in the low digits compare equal there.
 */
#include <string.h>

#include "common/error.h"
#include "scanner/version_schemes.h"

/* Number.MAX_SAFE_INTEGER, the largest core number node-semver accepts. */
#define SEMVER_MAX_SAFE_INTEGER "9007199254740991"

size_t
version_semver_parse_number(const char *s)
{
	size_t n = 0;

	if (s[0] == '0')
		return version_is_digit(s[1]) ? 0 : 1;
	while (version_is_digit(s[n]))
		n++;
	return n;
}

static int
is_identifier_char(int c)
{
	return version_is_alnum(c) || c == '-';
}

/*
 * Checks a dot-separated identifier list of len bytes. Numeric
 * identifiers must not have leading zeros when numeric_rule is set.
 */
static int
check_identifiers(const char *s, size_t len, int numeric_rule)
{
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			if (!is_identifier_char(s[i]))
				return PC_ERR_INVALID;
			continue;
		}

		size_t id_len = i - start;
		size_t digits = 0;

		if (id_len == 0)
			return PC_ERR_INVALID;
		while (digits < id_len && version_is_digit(s[start + digits]))
			digits++;
		if (numeric_rule && digits == id_len && id_len > 1 &&
		    s[start] == '0')
			return PC_ERR_INVALID;
		start = i + 1;
	}
	return PC_OK;
}

int
version_semver_parse_tail(const char *s, struct semver_parts *out)
{
	const char *plus = strchr(s, '+');
	size_t len = plus != NULL ? (size_t)(plus - s) : strlen(s);

	out->prerelease = NULL;
	out->prerelease_len = 0;
	if (len > 0) {
		if (s[0] != '-')
			return PC_ERR_INVALID;
		out->prerelease = s + 1;
		out->prerelease_len = len - 1;
		if (check_identifiers(s + 1, len - 1, 1) != PC_OK)
			return PC_ERR_INVALID;
	}
	if (plus != NULL && check_identifiers(plus + 1, strlen(plus + 1), 0) !=
	    PC_OK)
		return PC_ERR_INVALID;
	return PC_OK;
}

/* Returns the length of the identifier at s, up to '.' or end. */
static size_t
identifier_length(const char *s, size_t avail)
{
	size_t n = 0;

	while (n < avail && s[n] != '.')
		n++;
	return n;
}

static int
all_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (!version_is_digit(s[i]))
			return 0;
	}
	return 1;
}

/*
 * Numeric identifiers compare as numbers and sort below alphanumeric
 * ones, which compare in ASCII order. With equal leading identifiers the
 * longer list is larger.
 */
static int
compare_prerelease(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0;
	size_t j = 0;

	while (i < alen && j < blen) {
		size_t an = identifier_length(a + i, alen - i);
		size_t bn = identifier_length(b + j, blen - j);
		int a_num = all_digits(a + i, an);
		int b_num = all_digits(b + j, bn);
		int diff;

		if (a_num && b_num)
			diff = version_digits_compare(a + i, an, b + j, bn);
		else if (a_num != b_num)
			diff = a_num ? -1 : 1;
		else
			diff = version_bytes_compare(a + i, an, b + j, bn);
		if (diff != 0)
			return diff;
		i += an + 1;
		j += bn + 1;
	}
	if (i < alen)
		return 1;
	if (j < blen)
		return -1;
	return 0;
}

int
version_semver_compare_parts(const struct semver_parts *a,
    const struct semver_parts *b)
{
	for (int k = 0; k < 3; k++) {
		int diff = version_digits_compare(a->core[k], a->core_len[k],
		    b->core[k], b->core_len[k]);

		if (diff != 0)
			return diff;
	}
	if (a->prerelease == NULL || b->prerelease == NULL) {
		if (a->prerelease == b->prerelease)
			return 0;
		return a->prerelease == NULL ? 1 : -1;
	}
	return compare_prerelease(a->prerelease, a->prerelease_len,
	    b->prerelease, b->prerelease_len);
}

static int
semver_parse(const char *v, struct semver_parts *out)
{
	const char *p = v;
	static const size_t max_len = sizeof(SEMVER_MAX_SAFE_INTEGER) - 1;

	if (*p == '=')
		p++;
	if (*p == 'v')
		p++;
	for (int k = 0; k < 3; k++) {
		size_t n = version_semver_parse_number(p);

		if (n == 0)
			return PC_ERR_INVALID;
		if (version_digits_compare(p, n, SEMVER_MAX_SAFE_INTEGER,
		    max_len) > 0)
			return PC_ERR_INVALID;
		out->core[k] = p;
		out->core_len[k] = n;
		p += n;
		if (k < 2) {
			if (*p != '.')
				return PC_ERR_INVALID;
			p++;
		}
	}
	return version_semver_parse_tail(p, out);
}

int
version_semver_validate(const char *v)
{
	struct semver_parts parts;

	return semver_parse(v, &parts);
}

int
version_semver_compare(const char *a, const char *b, int *result)
{
	struct semver_parts pa;
	struct semver_parts pb;

	if (semver_parse(a, &pa) != PC_OK || semver_parse(b, &pb) != PC_OK)
		return PC_ERR_INVALID;
	*result = version_semver_compare_parts(&pa, &pb);
	return PC_OK;
}
