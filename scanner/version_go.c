/*
 * Go module versions, ordered as golang.org/x/mod/semver orders them:
 *
 *   vMAJOR[.MINOR[.PATCH[-prerelease][+build]]]
 *
 * The 'v' is required. "v1" and "v1.2" are shorthands for v1.0.0 and
 * v1.2.0 and take no prerelease or build. Numbers have no leading zeros
 * and no size limit. "+incompatible" is build metadata and so ignored,
 * and a pseudo-version such as v1.2.4-0.20191109021931-daa7c04131f5 is a
 * prerelease of v1.2.4, ordered by its identifiers like any other.
 */
#include "common/error.h"
#include "scanner/version_schemes.h"

static int
go_parse(const char *v, struct semver_parts *out)
{
	const char *p = v;

	if (*p != 'v')
		return PC_ERR_INVALID;
	p++;
	for (int k = 0; k < 3; k++) {
		size_t n = version_semver_parse_number(p);

		if (n == 0)
			return PC_ERR_INVALID;
		out->core[k] = p;
		out->core_len[k] = n;
		p += n;
		if (k == 2)
			break;
		if (*p == '\0') {
			/* Shorthand: the missing parts are zero. */
			for (int rest = k + 1; rest < 3; rest++) {
				out->core[rest] = "0";
				out->core_len[rest] = 1;
			}
			out->prerelease = NULL;
			out->prerelease_len = 0;
			return PC_OK;
		}
		if (*p != '.')
			return PC_ERR_INVALID;
		p++;
	}
	return version_semver_parse_tail(p, out);
}

int
version_go_validate(const char *v)
{
	struct semver_parts parts;

	return go_parse(v, &parts);
}

int
version_go_compare(const char *a, const char *b, int *result)
{
	struct semver_parts pa;
	struct semver_parts pb;

	if (go_parse(a, &pa) != PC_OK || go_parse(b, &pb) != PC_OK)
		return PC_ERR_INVALID;
	*result = version_semver_compare_parts(&pa, &pb);
	return PC_OK;
}
