#ifndef PORTCULLIS_SCANNER_VERSION_H
#define PORTCULLIS_SCANNER_VERSION_H

/*
 * Version ordering of each package ecosystem, for matching installed
 * packages against advisory ranges. One implementation file per scheme
 * (scanner/version_deb.c, version_apk.c, ...).
 */
enum version_scheme {
	VERSION_DEB,     /* dpkg: Debian, Ubuntu */
	VERSION_APK,     /* apk-tools: Alpine */
	VERSION_RPM,     /* rpmvercmp with epoch: RHEL, Fedora, SUSE */
	VERSION_SEMVER,  /* SemVer 2.0 as node-semver reads it: npm, crates.io */
	VERSION_GO,      /* golang.org/x/mod/semver: Go modules */
	VERSION_PEP440,  /* PEP 440: PyPI */
	VERSION_MAVEN,   /* Maven ComparableVersion */
};

/*
 * Maximum length of a version string in bytes, without the NUL. Longer
 * strings are invalid in every scheme, which bounds the time and stack of
 * each comparison. node-semver applies the same 256-byte cap.
 */
#define VERSION_MAX_LEN 256

/* Parses "deb", "apk", "rpm", "semver", "go", "pep440" or "maven". */
int version_scheme_parse(const char *name, enum version_scheme *scheme);
const char *version_scheme_name(enum version_scheme scheme);

/*
 * Compares a and b under scheme and stores -1, 0 or 1 in *result.
 * Returns PC_OK, or PC_ERR_INVALID when either string is not a valid
 * version of that scheme (the result is then unset). maven can also
 * return PC_ERR_NOMEM, because it parses on the heap.
 *
 * The exception is apk: like apk-tools, it orders strings that
 * version_validate() rejects instead of failing (see version_apk.c), and
 * returns PC_ERR_INVALID only for NULL, empty or over-long strings.
 */
int version_compare(enum version_scheme scheme, const char *a, const char *b,
    int *result);

/* Returns PC_OK when v is a valid version of scheme, else PC_ERR_INVALID. */
int version_validate(enum version_scheme scheme, const char *v);

#endif
