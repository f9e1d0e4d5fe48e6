#include "scanner/merge.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"

/* Maximum length of a merged in-image path; longer paths are dropped. */
#define MERGE_MAX_PATH 4096U

/*
 * Writes path without leading "./" and "/" and without trailing "/" into
 * out. Returns false when it does not fit.
 */
static bool
path_normalize(const char *path, char *out)
{
	size_t len;

	for (;;) {
		if (path[0] == '/')
			path++;
		else if (path[0] == '.' && path[1] == '/')
			path += 2;
		else
			break;
	}
	if (strcmp(path, ".") == 0)
		path = "";
	len = strlen(path);
	while (len > 0 && path[len - 1] == '/')
		len--;
	if (len >= MERGE_MAX_PATH)
		return false;
	memcpy(out, path, len);
	out[len] = '\0';
	return true;
}

/* Builds a set (object of true) of the normalized strings in arr. */
static json_t *
marker_set(const json_t *arr)
{
	json_t *set = json_object();
	char path[MERGE_MAX_PATH];
	size_t i;
	json_t *item;

	if (set == NULL)
		return NULL;
	json_array_foreach(arr, i, item) {
		if (!json_is_string(item) ||
		    !path_normalize(json_string_value(item), path))
			continue;
		if (json_object_set_new(set, path, json_true()) != 0) {
			json_decref(set);
			return NULL;
		}
	}
	return set;
}

/*
 * Tells whether path is hidden by the markers of a higher layer: it is a
 * whiteout itself, or one of its parent directories is a whiteout or an
 * opaque directory.
 */
static bool
path_hidden(const char *path, const json_t *whiteouts, const json_t *opaque)
{
	char prefix[MERGE_MAX_PATH];
	size_t len = strlen(path);

	if (json_object_get(whiteouts, path) != NULL ||
	    json_object_get(opaque, "") != NULL)
		return true;
	memcpy(prefix, path, len + 1);
	for (size_t i = 0; i < len; i++) {
		if (path[i] != '/')
			continue;
		prefix[i] = '\0';
		if (json_object_get(whiteouts, prefix) != NULL ||
		    json_object_get(opaque, prefix) != NULL)
			return true;
		prefix[i] = '/';
	}
	return false;
}

static int
apply_markers(json_t *acc, const json_t *layer)
{
	json_t *whiteouts = marker_set(json_object_get(layer, "whiteouts"));
	json_t *opaque = marker_set(json_object_get(layer, "opaque"));
	const char *path;
	json_t *value;
	void *tmp;
	int err = PC_OK;

	if (whiteouts == NULL || opaque == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	if (json_object_size(whiteouts) == 0 && json_object_size(opaque) == 0)
		goto out;
	json_object_foreach_safe(acc, tmp, path, value) {
		if (path_hidden(path, whiteouts, opaque))
			json_object_del(acc, path);
	}
out:
	json_decref(whiteouts);
	json_decref(opaque);
	return err;
}

static int
write_files(json_t *acc, const json_t *layer)
{
	const json_t *digest = json_object_get(layer, "digest");
	const json_t *files = json_object_get(layer, "files");
	char path[MERGE_MAX_PATH];
	const char *key;
	json_t *entry;

	json_object_foreach((json_t *)files, key, entry) {
		json_t *slot;

		if (!json_is_object(entry) || !path_normalize(key, path))
			continue;
		slot = json_pack("{s:O?, s:O}", "layer",
		    json_is_string(digest) ? digest : NULL, "entry", entry);
		if (slot == NULL || json_object_set_new(acc, path, slot) != 0)
			return PC_ERR_NOMEM;
	}
	return PC_OK;
}

static int
compare_paths(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Returns the keys of acc, sorted, in an array the caller frees. */
static const char **
sorted_paths(const json_t *acc, size_t *count)
{
	size_t n = json_object_size(acc);
	const char **paths = pc_calloc(n > 0 ? n : 1, sizeof(*paths));
	const char *key;
	json_t *value;
	size_t i = 0;

	if (paths == NULL)
		return NULL;
	json_object_foreach((json_t *)acc, key, value)
		paths[i++] = key;
	qsort(paths, n, sizeof(*paths), compare_paths);
	*count = n;
	return paths;
}

/* Preference of a release file; lower is better. */
static int
os_rank(const char *path, const char *from)
{
	static const char *const specific[] = {
		"alpine-release", "rocky-release", "almalinux-release",
		"oracle-release", "centos-release", "fedora-release",
	};

	if (strcmp(path, "etc/os-release") == 0)
		return 0;
	if (strcmp(from, "os-release") == 0)
		return 1;
	for (size_t i = 0; i < sizeof(specific) / sizeof(specific[0]); i++) {
		if (strcmp(from, specific[i]) == 0)
			return 2;
	}
	if (strcmp(from, "redhat-release") == 0)
		return 3;
	if (strcmp(from, "system-release") == 0)
		return 4;
	return 5;
}

/* Follows "link" results through the view; NULL when the chain breaks. */
static const json_t *
os_resolve(const json_t *acc, const json_t *os)
{
	for (unsigned hops = 0; os != NULL && hops <= MERGE_MAX_LINK_HOPS;
	    hops++) {
		const char *link = json_string_value(json_object_get(os, "link"));
		const json_t *slot;

		if (link == NULL)
			return os;
		slot = json_object_get(acc, link);
		os = json_object_get(json_object_get(slot, "entry"), "os");
	}
	return NULL;
}

/*
 * Picks the best OS result, and fills a missing version from another
 * release file of the same family (os-release of Debian testing has no
 * VERSION_ID, etc/debian_version has).
 */
static json_t *
merge_os(const json_t *acc, const char **paths, size_t n)
{
	const json_t *best = NULL;
	const json_t *fallback = NULL;
	int best_rank = 100;
	int fallback_rank = 100;
	json_t *os;

	for (size_t i = 0; i < n; i++) {
		const json_t *slot = json_object_get(acc, paths[i]);
		const json_t *found = json_object_get(json_object_get(slot,
		    "entry"), "os");
		const char *from = json_string_value(json_object_get(found,
		    "from"));
		const json_t *resolved = os_resolve(acc, found);
		int rank;

		if (resolved == NULL || from == NULL ||
		    !json_is_string(json_object_get(resolved, "family")))
			continue;
		rank = os_rank(paths[i], from);
		if (rank < best_rank) {
			best = resolved;
			best_rank = rank;
		}
	}
	if (best == NULL)
		return json_null();

	for (size_t i = 0; i < n &&
	    !json_is_string(json_object_get(best, "version")); i++) {
		const json_t *slot = json_object_get(acc, paths[i]);
		const json_t *found = os_resolve(acc, json_object_get(
		    json_object_get(slot, "entry"), "os"));
		const char *from = json_string_value(json_object_get(found,
		    "from"));
		int rank;

		if (found == NULL || from == NULL ||
		    !json_is_string(json_object_get(found, "version")) ||
		    !json_equal(json_object_get(found, "family"),
		    json_object_get(best, "family")))
			continue;
		rank = os_rank(paths[i], from);
		if (rank < fallback_rank) {
			fallback = found;
			fallback_rank = rank;
		}
	}

	os = json_pack("{s:O, s:O?, s:O?, s:O?}", "family",
	    json_object_get(best, "family"), "version",
	    json_object_get(best, "version"), "ecosystem",
	    json_object_get(best, "ecosystem"), "from",
	    json_object_get(best, "from"));
	if (os == NULL || fallback == NULL)
		return os;
	if (json_object_set(os, "version",
	    json_object_get(fallback, "version")) != 0 ||
	    (!json_is_string(json_object_get(os, "ecosystem")) &&
	    json_object_set(os, "ecosystem",
	    json_object_get(fallback, "ecosystem")) != 0)) {
		json_decref(os);
		return NULL;
	}
	return os;
}

static bool
os_package_type(const char *type)
{
	return type != NULL && (strcmp(type, "deb") == 0 ||
	    strcmp(type, "apk") == 0 || strcmp(type, "rpm") == 0);
}

/* Copies src and adds "path" and "layer". */
static json_t *
tagged_copy(const json_t *src, const char *path, const json_t *layer)
{
	json_t *copy = json_copy((json_t *)src);

	if (copy == NULL)
		return NULL;
	if (json_object_set_new(copy, "path", json_string(path)) != 0 ||
	    json_object_set_new(copy, "layer",
	    layer != NULL ? json_copy((json_t *)layer) : json_null()) != 0) {
		json_decref(copy);
		return NULL;
	}
	return copy;
}

static const char *
field(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL ? s : "";
}

struct merge_out {
	json_t *packages;
	json_t *seen;       /* dedupe keys of packages */
	json_t *secrets;
	json_t *files;
	const json_t *ecosystem;
};

static int
merge_package(struct merge_out *out, const json_t *pkg, const char *path,
    const json_t *layer)
{
	char key[4 * 1024 + MERGE_MAX_PATH];
	const char *type = json_string_value(json_object_get(pkg, "type"));
	json_t *copy;

	if (!json_is_object(pkg) || type == NULL)
		return PC_OK;
	snprintf(key, sizeof(key), "%.1000s\x1f%.1000s\x1f%.1000s\x1f%.1000s\x1f%s",
	    type, field(pkg, "name"), field(pkg, "version"), field(pkg, "arch"),
	    path);
	if (json_object_get(out->seen, key) != NULL)
		return PC_OK;
	/* The key never leaves this set, so a cut character does not matter. */
	if (json_object_set_new_nocheck(out->seen, key, json_true()) != 0)
		return PC_ERR_NOMEM;

	copy = tagged_copy(pkg, path, layer);
	if (copy == NULL)
		return PC_ERR_NOMEM;
	if (os_package_type(type) && json_object_get(copy, "ecosystem") == NULL &&
	    json_object_set_new(copy, "ecosystem", out->ecosystem != NULL ?
	    json_copy((json_t *)out->ecosystem) : json_null()) != 0) {
		json_decref(copy);
		return PC_ERR_NOMEM;
	}
	return json_array_append_new(out->packages, copy) == 0 ? PC_OK :
	    PC_ERR_NOMEM;
}

static int
append_tagged(json_t *arr, const json_t *item, const char *path,
    const json_t *layer)
{
	json_t *copy;

	if (!json_is_object(item))
		return PC_OK;
	copy = tagged_copy(item, path, layer);
	if (copy == NULL)
		return PC_ERR_NOMEM;
	return json_array_append_new(arr, copy) == 0 ? PC_OK : PC_ERR_NOMEM;
}

/* Collects packages, secrets and file findings of one path of the view. */
static int
merge_entry(struct merge_out *out, const char *path, const json_t *slot)
{
	const json_t *entry = json_object_get(slot, "entry");
	const json_t *layer = json_object_get(slot, "layer");
	const char *key;
	json_t *value;
	size_t i;
	json_t *item;
	int err = PC_OK;

	json_object_foreach((json_t *)entry, key, value) {
		json_t *packages = json_object_get(value, "packages");

		json_array_foreach(packages, i, item) {
			err = merge_package(out, item, path, layer);
			if (err != PC_OK)
				return err;
		}
	}
	json_array_foreach(json_object_get(entry, "secrets"), i, item) {
		err = append_tagged(out->secrets, item, path, layer);
		if (err != PC_OK)
			return err;
	}
	return append_tagged(out->files, json_object_get(entry, "file"), path,
	    layer);
}

static int
merge_errors(json_t *const *layers, size_t n, json_t *errors)
{
	for (size_t l = 0; l < n; l++) {
		const json_t *digest = json_object_get(layers[l], "digest");
		size_t i;
		json_t *item;

		json_array_foreach(json_object_get(layers[l], "errors"), i, item) {
			json_t *copy;

			if (!json_is_object(item))
				continue;
			copy = json_copy(item);
			if (copy == NULL || json_object_set_new(copy, "layer",
			    json_is_string(digest) ? json_copy((json_t *)digest) :
			    json_null()) != 0 ||
			    json_array_append_new(errors, copy) != 0)
				return PC_ERR_NOMEM;
		}
	}
	return PC_OK;
}

/* Turns the merged file map into the view. */
static int
merge_view(const json_t *acc, json_t *const *layers, size_t n, json_t *view)
{
	struct merge_out out;
	size_t count = 0;
	const char **paths = sorted_paths(acc, &count);
	json_t *os;
	int err = PC_OK;

	memset(&out, 0, sizeof(out));
	out.seen = json_object();
	if (paths == NULL || out.seen == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	os = merge_os(acc, paths, count);
	if (os == NULL || json_object_set_new(view, "os", os) != 0) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	out.ecosystem = json_object_get(os, "ecosystem");
	out.packages = json_object_get(view, "packages");
	out.secrets = json_object_get(view, "secrets");
	out.files = json_object_get(view, "files");

	for (size_t i = 0; i < count && err == PC_OK; i++)
		err = merge_entry(&out, paths[i], json_object_get(acc, paths[i]));
	if (err == PC_OK)
		err = merge_errors(layers, n, json_object_get(view, "errors"));
out:
	json_decref(out.seen);
	pc_free(paths);
	return err;
}

int
image_merge(json_t *const *layers, size_t n, json_t **view)
{
	json_t *acc = json_object();
	json_t *result = NULL;
	int err = PC_OK;

	*view = NULL;
	if (acc == NULL)
		return PC_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!json_is_object(layers[i])) {
			err = PC_ERR_INVALID;
			goto out;
		}
		err = apply_markers(acc, layers[i]);
		if (err == PC_OK)
			err = write_files(acc, layers[i]);
		if (err != PC_OK)
			goto out;
	}

	result = json_pack("{s:n, s:[], s:[], s:[], s:[]}", "os", "packages",
	    "secrets", "files", "errors");
	if (result == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	err = merge_view(acc, layers, n, result);
	if (err != PC_OK) {
		json_decref(result);
		goto out;
	}
	*view = result;
out:
	json_decref(acc);
	return err;
}
