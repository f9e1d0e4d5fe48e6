/*
 * portcullis vercmp SCHEME A B: prints "<", "=" or ">" for the order of
 * two versions under one scheme of scanner/version.h. Exits 0 on a
 * comparison and 2 on a usage error or an invalid version.
 */
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "proxy/commands.h"
#include "scanner/version.h"

#define VERCMP_SCHEMES "deb apk rpm semver go pep440 maven"

static void
vercmp_usage(FILE *out)
{
	fprintf(out, "usage: portcullis vercmp SCHEME A B\n\n"
	    "Prints <, = or > for the order of versions A and B.\n"
	    "SCHEME is one of: " VERCMP_SCHEMES "\n");
}

/* Prints s to out with bytes outside printable ASCII as \xNN escapes. */
static void
print_escaped(FILE *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '\\')
			fputc(*p, out);
		else
			fprintf(out, "\\x%02x", *p);
	}
}

static int
check_version(enum version_scheme scheme, const char *v)
{
	if (version_validate(scheme, v) == PC_OK)
		return PC_OK;

	fprintf(stderr, "portcullis vercmp: invalid %s version '",
	    version_scheme_name(scheme));
	print_escaped(stderr, v);
	if (strlen(v) > VERSION_MAX_LEN)
		fprintf(stderr, "': longer than %d bytes\n", VERSION_MAX_LEN);
	else
		fprintf(stderr, "'\n");
	return PC_ERR_INVALID;
}

int
cmd_vercmp(int argc, char **argv)
{
	enum version_scheme scheme;
	int result = 0;
	int err;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		vercmp_usage(stdout);
		return 0;
	}
	if (argc != 4) {
		vercmp_usage(stderr);
		return 2;
	}
	if (version_scheme_parse(argv[1], &scheme) != PC_OK) {
		fprintf(stderr, "portcullis vercmp: unknown version scheme '");
		print_escaped(stderr, argv[1]);
		fprintf(stderr, "', expected one of: " VERCMP_SCHEMES "\n");
		return 2;
	}
	if (check_version(scheme, argv[2]) != PC_OK ||
	    check_version(scheme, argv[3]) != PC_OK)
		return 2;
	err = version_compare(scheme, argv[2], argv[3], &result);
	if (err != PC_OK) {
		fprintf(stderr, "portcullis vercmp: comparing '%s' and '%s' "
		    "failed: %s\n", argv[2], argv[3], pc_strerror(err));
		return 2;
	}
	if (result < 0)
		puts("<");
	else if (result > 0)
		puts(">");
	else
		puts("=");
	return 0;
}
