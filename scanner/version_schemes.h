#ifndef PORTCULLIS_SCANNER_VERSION_SCHEMES_H
#define PORTCULLIS_SCANNER_VERSION_SCHEMES_H

#include <stddef.h>

/*
 * The per-scheme functions behind scanner/version.h. version.c calls them
 * only with non-NULL, non-empty strings of at most VERSION_MAX_LEN bytes.
 * Each compare function stores -1, 0 or 1 in *result and returns PC_OK,
 * or PC_ERR_INVALID when a or b is not valid in its scheme (maven also
 * PC_ERR_NOMEM). Each validate
 * function returns PC_OK or PC_ERR_INVALID.
 */
int version_deb_compare(const char *a, const char *b, int *result);
int version_deb_validate(const char *v);

int version_apk_compare(const char *a, const char *b, int *result);
int version_apk_validate(const char *v);

int version_rpm_compare(const char *a, const char *b, int *result);
int version_rpm_validate(const char *v);

int version_semver_compare(const char *a, const char *b, int *result);
int version_semver_validate(const char *v);

int version_go_compare(const char *a, const char *b, int *result);
int version_go_validate(const char *v);

int version_pep440_compare(const char *a, const char *b, int *result);
int version_pep440_validate(const char *v);

int version_maven_compare(const char *a, const char *b, int *result);
int version_maven_validate(const char *v);

/*
 * A SemVer 2.0 version split into its parts, as pointers into the parsed
 * string. Shared by the semver and go schemes, which differ only in the
 * prefix and in the shorthands that go accepts.
 */
struct semver_parts {
	const char *core[3];      /* major, minor, patch digits */
	size_t core_len[3];
	const char *prerelease;   /* after '-', without it; NULL when absent */
	size_t prerelease_len;
};

/*
 * Parses a numeric identifier of SemVer at s: "0" or a digit run without
 * a leading zero. Returns the number of bytes, or 0 when s does not start
 * with one.
 */
size_t version_semver_parse_number(const char *s);

/*
 * Parses what follows the version core, [-prerelease][+build], up to the
 * end of s into out->prerelease. Identifiers are non-empty runs of
 * [0-9A-Za-z-] separated by '.', and numeric prerelease identifiers have
 * no leading zeros. Returns PC_OK or PC_ERR_INVALID.
 */
int version_semver_parse_tail(const char *s, struct semver_parts *out);

/*
 * Orders two parsed versions by SemVer precedence: the core numerically,
 * then a version without prerelease above one with, then identifier by
 * identifier. Build metadata plays no part. Returns -1, 0 or 1.
 */
int version_semver_compare_parts(const struct semver_parts *a,
    const struct semver_parts *b);

/*
 * Compares two runs of ASCII digits as unsigned decimal numbers of any
 * length: leading zeros are ignored, then the longer run is larger, then
 * the bytes decide. An empty run counts as zero. Returns -1, 0 or 1.
 */
int version_digits_compare(const char *a, size_t alen, const char *b,
    size_t blen);

/* Returns -1, 0 or 1 for the byte order of two strings of given lengths. */
int version_bytes_compare(const char *a, size_t alen, const char *b,
    size_t blen);

/* Returns -1, 0 or 1 from the sign of x. */
int version_sign(int x);

/* ASCII classes that do not depend on the C locale. */
static inline int
version_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static inline int
version_is_lower(int c)
{
	return c >= 'a' && c <= 'z';
}

static inline int
version_is_alpha(int c)
{
	return version_is_lower(c) || (c >= 'A' && c <= 'Z');
}

static inline int
version_is_alnum(int c)
{
	return version_is_digit(c) || version_is_alpha(c);
}

static inline int
version_to_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

#endif
