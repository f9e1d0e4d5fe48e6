#include <string.h>

#include "common/error.h"
#include "scanner/version.h"
#include "scanner/version_schemes.h"

struct scheme_ops {
	const char *name;
	int (*compare)(const char *a, const char *b, int *result);
	int (*validate)(const char *v);
};

/* Indexed by enum version_scheme. */
static const struct scheme_ops schemes[] = {
	[VERSION_DEB] = {"deb", version_deb_compare, version_deb_validate},
	[VERSION_APK] = {"apk", version_apk_compare, version_apk_validate},
	[VERSION_RPM] = {"rpm", version_rpm_compare, version_rpm_validate},
	[VERSION_SEMVER] = {"semver", version_semver_compare,
	    version_semver_validate},
	[VERSION_GO] = {"go", version_go_compare, version_go_validate},
	[VERSION_PEP440] = {"pep440", version_pep440_compare,
	    version_pep440_validate},
	[VERSION_MAVEN] = {"maven", version_maven_compare,
	    version_maven_validate},
};

#define SCHEME_COUNT (sizeof(schemes) / sizeof(schemes[0]))

int
version_scheme_parse(const char *name, enum version_scheme *scheme)
{
	if (name == NULL)
		return PC_ERR_INVALID;
	for (size_t i = 0; i < SCHEME_COUNT; i++) {
		if (strcmp(name, schemes[i].name) == 0) {
			*scheme = (enum version_scheme)i;
			return PC_OK;
		}
	}
	return PC_ERR_INVALID;
}

const char *
version_scheme_name(enum version_scheme scheme)
{
	if ((size_t)scheme >= SCHEME_COUNT)
		return "unknown";
	return schemes[scheme].name;
}

/* Checks what every scheme requires: present, not empty, not over the cap. */
static int
check_length(const char *v)
{
	if (v == NULL || v[0] == '\0')
		return PC_ERR_INVALID;
	if (strnlen(v, VERSION_MAX_LEN + 1) > VERSION_MAX_LEN)
		return PC_ERR_INVALID;
	return PC_OK;
}

int
version_compare(enum version_scheme scheme, const char *a, const char *b,
    int *result)
{
	if ((size_t)scheme >= SCHEME_COUNT)
		return PC_ERR_INVALID;
	if (check_length(a) != PC_OK || check_length(b) != PC_OK)
		return PC_ERR_INVALID;
	return schemes[scheme].compare(a, b, result);
}

int
version_validate(enum version_scheme scheme, const char *v)
{
	if ((size_t)scheme >= SCHEME_COUNT)
		return PC_ERR_INVALID;
	if (check_length(v) != PC_OK)
		return PC_ERR_INVALID;
	return schemes[scheme].validate(v);
}

int
version_digits_compare(const char *a, size_t alen, const char *b, size_t blen)
{
	while (alen > 0 && *a == '0') {
		a++;
		alen--;
	}
	while (blen > 0 && *b == '0') {
		b++;
		blen--;
	}
	if (alen != blen)
		return alen < blen ? -1 : 1;
	if (alen == 0)
		return 0;
	return version_sign(memcmp(a, b, alen));
}

int
version_bytes_compare(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int diff = n > 0 ? memcmp(a, b, n) : 0;

	if (diff != 0)
		return version_sign(diff);
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return 0;
}

int
version_sign(int x)
{
	return (x > 0) - (x < 0);
}
