#ifndef PORTCULLIS_SCANNER_ANALYZERS_H
#define PORTCULLIS_SCANNER_ANALYZERS_H

#include "scanner/analyzer.h"

/*
 * The analyzers compiled in. Each one stores its findings in the layer
 * result under files[path][key]; the key is given with each analyzer.
 */

/*
 * OS identity, key "os": os-release files and the distribution release
 * files (alpine-release, debian_version, redhat-release and its kin).
 * A symlinked release file gets {"link": "<target path>"} so that the
 * merge can resolve it against the image view.
 */
extern const struct analyzer analyzer_os;

/* dpkg database, key "dpkg": {"packages": [...]}. */
extern const struct analyzer analyzer_dpkg;

/* apk database, key "apk": {"packages": [...]}. */
extern const struct analyzer analyzer_apk;

/*
 * rpm database, key "rpm": {"packages": [...]} from rpmdb.sqlite. The
 * BerkeleyDB and NDB formats add an error of kind "unsupported".
 */
extern const struct analyzer analyzer_rpm;

/* Risky file modes, key "file": setuid, setgid, world-writable. */
extern const struct analyzer analyzer_files;

/* Secrets in text files, key "secrets": an array of redacted findings. */
extern const struct analyzer analyzer_secrets;

/*
 * Python distributions, key "python": {"packages": [...]} from
 * *.dist-info/METADATA, *.egg-info/PKG-INFO, *.egg-info files and
 * EGG-INFO/PKG-INFO. Names are PEP 503 normalised; "raw_name" keeps the
 * name as written.
 */
extern const struct analyzer analyzer_python;

/*
 * npm, key "npm": {"packages": [...]} from each package root
 * node_modules/[@scope/]<name>/package.json, and from package-lock.json
 * files outside node_modules (lockfile versions 1, 2 and 3). The
 * application's own package.json outside node_modules is not read.
 */
extern const struct analyzer analyzer_npm;

/*
 * Go binaries, key "go": {"go_version", "path", "packages": [...],
 * "settings": {...}} from the build information of executable ELF files
 * built by Go 1.18 or later. Older layouts add a scan_error.
 */
extern const struct analyzer analyzer_go;

/*
 * Java archives, key "java": {"packages": [...]} from .jar, .war, .ear
 * and .par files: pom.properties, else MANIFEST.MF, else the file name,
 * with nested archives read recursively. Each package has "jar_path",
 * e.g. "app.war!WEB-INF/lib/x.jar".
 */
extern const struct analyzer analyzer_java;

#endif
