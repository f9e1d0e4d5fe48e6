#include "scanner/analyzers.h"
#include "scanner/analyzer_error.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/error.h"

/*
 * npm packages, from two sources:
 *
 * Installed packages: the package.json at each package root, that is a
 * folder directly below node_modules (node_modules/<name>/package.json)
 * or below a scope folder there (node_modules/@scope/<name>/package.json),
 * at any nesting depth and in pnpm's node_modules/.pnpm store as well.
 * Manifests deeper inside a package (node_modules/rxjs/ajax/package.json)
 * only redirect module entry points and carry no version, so they are
 * not claimed. The package name comes from the manifest's "name". When it
 * differs from the folder name (an alias install such as
 * "tiny-ms": "npm:ms@2.0.0"), the folder name is kept in "alias".
 *
 * Lockfiles: package-lock.json outside node_modules. lockfileVersion 1
 * nests packages in a "dependencies" tree. Versions 2 and 3 key a
 * "packages" map by install path, and that map is read when a v2 file
 * carries both. npm's
 * hidden node_modules/.package-lock.json and lockfiles shipped inside
 * packages are skipped because they describe what the package roots
 * already report, or nothing installed at all.
 *
 * The application's own package.json outside node_modules is skipped: it
 * lists version ranges rather than installed versions, and the
 * application is not a registry package that advisories name.
 *
 * Result: files[path]["npm"] = {"packages": [{"type": "npm",
 * "ecosystem": "npm", "name", "version", "dev"?, "alias"?}]}.
 */

/* Read cap of one package.json; manifests are usually a few KiB. */
#define NPM_MANIFEST_MAX_BYTES (1024 * 1024)

/*
 * Read cap of one package-lock.json. A parsed jansson tree takes several
 * times the size of the text, so this also bounds memory.
 */
#define NPM_LOCKFILE_MAX_BYTES (16 * 1024 * 1024)

/* Nesting depth of JSON arrays and objects accepted before parsing. */
#define NPM_JSON_MAX_DEPTH 128

/* Packages reported from one lockfile; the rest is dropped with an error. */
#define NPM_LOCK_MAX_PACKAGES 100000

/* Maximum package name length: the npm registry rejects longer names. */
#define NPM_NAME_MAX_BYTES 214

enum npm_kind {
	NPM_NONE,
	NPM_MANIFEST,
	NPM_LOCKFILE,
};

/* Packages of one lockfile, deduplicated by "name@version". */
struct npm_lock {
	json_t *seen;       /* "name@version" -> package object */
	json_t *packages;   /* the same objects in file order */
	bool full;          /* NPM_LOCK_MAX_PACKAGES was reached */
};

/*
 * Finds path component i counted from the end (0 = last) and stores its
 * start and length. Returns false when the path has fewer components.
 */
static bool
component_from_end(const char *path, size_t i, const char **start,
    size_t *len)
{
	const char *end = path + strlen(path);
	const char *p = end;

	for (;;) {
		const char *seg_end = p;

		while (p > path && p[-1] != '/')
			p--;
		if (i == 0) {
			*start = p;
			*len = (size_t)(seg_end - p);
			return true;
		}
		if (p == path)
			return false;
		p--;
		i--;
	}
}

static bool
component_is(const char *path, size_t i, const char *name)
{
	const char *s;
	size_t len;

	return component_from_end(path, i, &s, &len) && len == strlen(name) &&
	    memcmp(s, name, len) == 0;
}

/*
 * Stores into out (size outlen) the package name that the install path of
 * a package.json implies, and returns whether the file is a package root.
 */
static bool
npm_root_name(const char *path, char *out, size_t outlen)
{
	const char *dir, *scope;
	size_t dir_len, scope_len;

	if (!component_is(path, 0, "package.json") ||
	    !component_from_end(path, 1, &dir, &dir_len) || dir_len == 0 ||
	    dir[0] == '.' || dir[0] == '@')
		return false;
	if (component_is(path, 2, "node_modules")) {
		snprintf(out, outlen, "%.*s", (int)dir_len, dir);
		return dir_len < outlen;
	}
	if (!component_from_end(path, 2, &scope, &scope_len) ||
	    scope_len < 2 || scope[0] != '@' ||
	    !component_is(path, 3, "node_modules"))
		return false;
	snprintf(out, outlen, "%.*s/%.*s", (int)scope_len, scope,
	    (int)dir_len, dir);
	return scope_len + 1 + dir_len < outlen;
}

static bool
path_has_component(const char *path, const char *name)
{
	size_t n = strlen(name);
	const char *p = path;

	while ((p = strstr(p, name)) != NULL) {
		bool starts = p == path || p[-1] == '/';
		bool ends = p[n] == '\0' || p[n] == '/';

		if (starts && ends)
			return true;
		p += n;
	}
	return false;
}

static enum npm_kind
npm_classify(const char *path)
{
	char name[NPM_NAME_MAX_BYTES + 1];

	if (npm_root_name(path, name, sizeof(name)))
		return NPM_MANIFEST;
	if (component_is(path, 0, "package-lock.json") &&
	    !path_has_component(path, "node_modules"))
		return NPM_LOCKFILE;
	return NPM_NONE;
}

static enum analyzer_want
npm_wants(const struct scan_file *f, size_t *max_bytes)
{
	if (!S_ISREG(f->mode))
		return ANALYZER_SKIP;
	switch (npm_classify(f->path)) {
	case NPM_MANIFEST:
		*max_bytes = NPM_MANIFEST_MAX_BYTES;
		return ANALYZER_CONTENT;
	case NPM_LOCKFILE:
		*max_bytes = NPM_LOCKFILE_MAX_BYTES;
		return ANALYZER_CONTENT;
	case NPM_NONE:
		break;
	}
	return ANALYZER_SKIP;
}

/*
 * Returns the deepest nesting of arrays and objects in JSON text, or
 * stops early once it passes limit. Brackets inside strings do not count.
 */
static size_t
json_text_depth(const unsigned char *data, size_t len, size_t limit)
{
	size_t depth = 0, max = 0;
	bool in_string = false;
	size_t i;

	for (i = 0; i < len && max <= limit; i++) {
		unsigned char c = data[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				max = depth;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return max;
}

/*
 * Parses JSON text after the size and depth checks. Returns the root, or
 * NULL after recording why in res (*err is set to the recording's result).
 */
static json_t *
npm_load(const struct scan_file *f, const unsigned char *data, size_t len,
    bool truncated, struct layer_result *res, int *err)
{
	json_error_t jerr;
	json_t *root;

	if (truncated) {
		*err = analyzer_error(res, "npm", f->path, "file is larger "
		    "than the %zu byte read cap, not parsed", len);
		return NULL;
	}
	if (json_text_depth(data, len, NPM_JSON_MAX_DEPTH) >
	    NPM_JSON_MAX_DEPTH) {
		*err = analyzer_error(res, "npm", f->path, "JSON nesting "
		    "deeper than %d levels, not parsed", NPM_JSON_MAX_DEPTH);
		return NULL;
	}
	root = json_loadb((const char *)data, len, 0, &jerr);
	if (root == NULL) {
		*err = analyzer_error(res, "npm", f->path, "invalid JSON at "
		    "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		*err = analyzer_error(res, "npm", f->path,
		    "JSON root is not an object");
		return NULL;
	}
	*err = PC_OK;
	return root;
}

static json_t *
npm_package_new(const char *name, const char *version)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "type", "npm", "ecosystem",
	    "npm", "name", name, "version", version);
}

static bool
npm_name_valid(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= NPM_NAME_MAX_BYTES;
}

static int
npm_analyze_manifest(const struct scan_file *f, json_t *root,
    struct layer_result *res)
{
	char dir_name[NPM_NAME_MAX_BYTES + 1];
	const char *name = json_string_value(json_object_get(root, "name"));
	const char *version = json_string_value(json_object_get(root,
	    "version"));
	json_t *pkg;

	if (!npm_root_name(f->path, dir_name, sizeof(dir_name)))
		return PC_OK;
	/* A root without a version is a placeholder, not a package. */
	if (version == NULL || version[0] == '\0')
		return PC_OK;
	if (name == NULL || !npm_name_valid(name))
		name = dir_name;

	pkg = npm_package_new(name, version);
	if (pkg == NULL)
		return PC_ERR_NOMEM;
	if (strcmp(name, dir_name) != 0 &&
	    json_object_set_new(pkg, "alias", json_string(dir_name)) != 0) {
		json_decref(pkg);
		return PC_ERR_NOMEM;
	}
	return layer_result_set(res, f->path, "npm",
	    json_pack("{s:[o]}", "packages", pkg));
}

/* Adds one package to the lockfile set; a non-dev copy clears "dev". */
static int
lock_add(struct npm_lock *lock, const char *name, const char *version,
    bool dev)
{
	char key[NPM_NAME_MAX_BYTES + 256];
	json_t *pkg;
	int n;

	if (!npm_name_valid(name) || version[0] == '\0')
		return PC_OK;
	n = snprintf(key, sizeof(key), "%s@%s", name, version);
	if (n < 0 || (size_t)n >= sizeof(key))
		return PC_OK;

	pkg = json_object_get(lock->seen, key);
	if (pkg != NULL) {
		if (!dev)
			json_object_del(pkg, "dev");
		return PC_OK;
	}
	if (json_array_size(lock->packages) >= NPM_LOCK_MAX_PACKAGES) {
		lock->full = true;
		return PC_OK;
	}
	pkg = npm_package_new(name, version);
	if (pkg == NULL)
		return PC_ERR_NOMEM;
	if (dev && json_object_set_new(pkg, "dev", json_true()) != 0) {
		json_decref(pkg);
		return PC_ERR_NOMEM;
	}
	if (json_array_append_new(lock->packages, pkg) != 0)
		return PC_ERR_NOMEM;
	return json_object_set(lock->seen, key, pkg) == 0 ? PC_OK :
	    PC_ERR_NOMEM;
}

/*
 * lockfileVersion 2 and 3: "packages" maps install paths to entries. ""
 * is the application, paths without node_modules/ are workspace folders,
 * and "link": true entries point at those folders.
 */
static int
lock_walk_packages(struct npm_lock *lock, json_t *packages)
{
	const char *key;
	json_t *entry;
	int err;

	json_object_foreach(packages, key, entry) {
		const char *marker = "node_modules/";
		const char *last = NULL, *p = key;
		const char *name, *version;

		while ((p = strstr(p, marker)) != NULL) {
			last = p + strlen(marker);
			p = last;
		}
		if (last == NULL || !json_is_object(entry) ||
		    json_is_true(json_object_get(entry, "link")))
			continue;
		version = json_string_value(json_object_get(entry, "version"));
		if (version == NULL)
			continue;
		name = json_string_value(json_object_get(entry, "name"));
		if (name == NULL)
			name = last;
		err = lock_add(lock, name, version,
		    json_is_true(json_object_get(entry, "dev")));
		if (err != PC_OK)
			return err;
	}
	return PC_OK;
}

/*
 * Adds a lockfileVersion 1 entry. Its version is a registry version, an
 * alias "npm:<name>@<version>", or a git, file or URL source, which no
 * registry advisory covers and is skipped.
 */
static int
lock_add_v1(struct npm_lock *lock, const char *name, const char *version,
    bool dev)
{
	char real[NPM_NAME_MAX_BYTES + 1];
	const char *at;
	size_t n;

	if (strncmp(version, "npm:", 4) != 0) {
		if (strchr(version, ':') != NULL ||
		    strchr(version, '/') != NULL)
			return PC_OK;
		return lock_add(lock, name, version, dev);
	}
	version += 4;
	at = strrchr(version, '@');
	if (at == NULL || at == version)
		return PC_OK;
	n = (size_t)(at - version);
	if (n >= sizeof(real))
		return PC_OK;
	memcpy(real, version, n);
	real[n] = '\0';
	return lock_add(lock, real, at + 1, dev);
}

/* lockfileVersion 1: "dependencies" nests by install location. */
static int
lock_walk_dependencies(struct npm_lock *lock, json_t *deps)
{
	const char *name;
	json_t *entry;
	int err;

	json_object_foreach(deps, name, entry) {
		const char *version;
		json_t *nested;

		if (!json_is_object(entry))
			continue;
		version = json_string_value(json_object_get(entry, "version"));
		if (version != NULL) {
			err = lock_add_v1(lock, name, version,
			    json_is_true(json_object_get(entry, "dev")));
			if (err != PC_OK)
				return err;
		}
		/* Recursion depth is bounded by NPM_JSON_MAX_DEPTH. */
		nested = json_object_get(entry, "dependencies");
		if (json_is_object(nested)) {
			err = lock_walk_dependencies(lock, nested);
			if (err != PC_OK)
				return err;
		}
	}
	return PC_OK;
}

static int
npm_analyze_lockfile(const struct scan_file *f, json_t *root,
    struct layer_result *res)
{
	struct npm_lock lock;
	json_t *packages = json_object_get(root, "packages");
	json_t *deps = json_object_get(root, "dependencies");
	int err;

	lock.seen = json_object();
	lock.packages = json_array();
	lock.full = false;
	if (lock.seen == NULL || lock.packages == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}

	if (json_is_object(packages)) {
		err = lock_walk_packages(&lock, packages);
	} else if (json_is_object(deps)) {
		err = lock_walk_dependencies(&lock, deps);
	} else {
		err = analyzer_error(res, "npm", f->path, "neither "
		    "\"packages\" nor \"dependencies\" is an object, no "
		    "packages read");
		goto out;
	}
	if (err != PC_OK)
		goto out;

	if (lock.full) {
		err = analyzer_error(res, "npm", f->path, "more than %d "
		    "packages, the rest is not reported",
		    NPM_LOCK_MAX_PACKAGES);
		if (err != PC_OK)
			goto out;
	}
	err = layer_result_set(res, f->path, "npm",
	    json_pack("{s:O}", "packages", lock.packages));
out:
	json_decref(lock.seen);
	json_decref(lock.packages);
	return err;
}

static int
npm_analyze(const struct scan_file *f, const unsigned char *data, size_t len,
    bool truncated, struct layer_result *res)
{
	enum npm_kind kind = npm_classify(f->path);
	json_t *root;
	int err;

	if (kind == NPM_NONE)
		return PC_OK;
	root = npm_load(f, data, len, truncated, res, &err);
	if (root == NULL)
		return err;
	if (kind == NPM_MANIFEST)
		err = npm_analyze_manifest(f, root, res);
	else
		err = npm_analyze_lockfile(f, root, res);
	json_decref(root);
	return err;
}

const struct analyzer analyzer_npm = {
	.name = "npm",
	.wants = npm_wants,
	.analyze = npm_analyze,
};
