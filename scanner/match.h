#ifndef PORTCULLIS_SCANNER_MATCH_H
#define PORTCULLIS_SCANNER_MATCH_H

#include <stdbool.h>

#include <jansson.h>

#include "scanner/version.h"

struct vulndb;

/*
 * Matching of an image's packages against the vulnerability database, with
 * OSV semantics: an advisory affects a package version when one of its
 * affected entries for that package lists the version in "versions" or
 * contains it in a range. The events of a range are sorted by version,
 * with "introduced": "0" first, and walked. An introduced event opens the
 * range and a fixed event closes it (the fixed version is not affected).
 * A last_affected event closes it after that version, and a version at or
 * above every limit is outside the range.
 */

#define MATCH_MAX_PACKAGES 200000 /* packages in one call */
#define MATCH_MAX_ERRORS 100      /* error objects in one result */

/* The outcome of match_affected for one affected entry. */
struct match_check {
	bool affected;
	/* Lowest fixed event above the version, in a range that contains
	 * it; NULL when no such event exists. Points into the entry. */
	const char *fixed;
	/* The first event version that does not parse under the scheme, or
	 * NULL. The range holding it was skipped. Points into the entry. */
	const char *bad_event;
};

/*
 * Maps an OSV ecosystem to its version scheme: Debian and Ubuntu deb,
 * Alpine apk, Red Hat, Rocky Linux, AlmaLinux, Fedora, SUSE and openSUSE
 * rpm, npm and crates.io semver, Go go, PyPI pep440, Maven maven. The part
 * before the first ':' names the ecosystem ("Debian:12" is Debian).
 * Returns PC_OK or PC_ERR_UNSUPPORTED.
 */
int match_scheme(const char *ecosystem, enum version_scheme *scheme);

/*
 * Evaluates one affected entry (the "affected" items of a vulndb ENTRY)
 * for version under scheme. SEMVER ranges use VERSION_SEMVER unless scheme
 * is VERSION_GO; Go versions compare with a "v" added where missing. A
 * SemVer version of one or two numbers ("1.0") counts as "1.0.0".
 * Returns PC_OK; PC_ERR_INVALID when version does not parse under the
 * scheme; PC_ERR_UNSUPPORTED when the scheme has no implementation.
 */
int match_affected(const json_t *affected, enum version_scheme scheme,
    const char *version, struct match_check *check);

/*
 * Sorts the events of range (an OSV range object, modified in place) by
 * version under scheme, as match_affected would, and marks it with
 * "sorted": true so that matching skips the sort. Returns PC_OK;
 * PC_ERR_INVALID when an event version does not parse (range unchanged);
 * PC_ERR_NOMEM.
 */
int match_range_sort(json_t *range, enum version_scheme scheme);

/*
 * Matches packages (an array of image package objects, see
 * scanner/layer_result.h) of an image with OS identity os (an object with
 * "ecosystem" or "family" and "version"; NULL or JSON null when unknown)
 * against db.
 *
 * Distro packages (deb, apk, rpm) are looked up in the OS ecosystem. They
 * match by source name and source version when the package has them, else
 * by their own. rpm packages are also looked up by binary name. Language packages
 * use their "ecosystem" or the one of their type (pypi PyPI, npm npm, go
 * Go, maven Maven). A Go toolchain version "go1.22.3" is read as "1.22.3".
 *
 * Advisories matched for one package that share an id or alias (a DSA and
 * the CVEs it fixes) collapse into one finding: its id is a matched
 * advisory id, preferring one that is not a CVE id, and its aliases are
 * every other id of the group. The finding's fixed version is the highest
 * of the group's fixed versions, or null when one advisory has none.
 *
 * Stores in *findings a new array of finding objects (see the image
 * report: id, aliases, package, version, source_name?, source_version?,
 * ecosystem, type, fixed, severity, cvss_score, cvss_vector?, summary,
 * layer?, path?), in package order and by id within a package, and in
 * *errors a new array of {"kind": "match_error", "message", "layer"?}
 * objects: packages without a name or version, versions that do not parse
 * under their scheme, ecosystems without a version scheme, and advisory
 * event versions that do not parse. Returns PC_OK, PC_ERR_INVALID
 * (packages is not an array), PC_ERR_LIMIT or PC_ERR_NOMEM; the outputs
 * are NULL on error.
 */
int match_packages(struct vulndb *db, const json_t *os, const json_t *packages,
    json_t **findings, json_t **errors);

#endif
