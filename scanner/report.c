#include "scanner/report.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"
#include "scanner/image_config.h"
#include "scanner/layer_result.h"
#include "scanner/match.h"
#include "scanner/merge.h"
#include "scanner/vulndb.h"

int
report_severity_rank(const char *severity)
{
	static const char *const words[] = {"low", "medium", "high", "critical"};

	for (int i = 0; severity != NULL && i < 4; i++) {
		if (strcmp(severity, words[i]) == 0)
			return i + 1;
	}
	return 0;
}

/* qsort order of findings: severity, CVSS score (both descending), id. */
static int
compare_vulnerabilities(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a;
	const json_t *y = *(const json_t *const *)b;
	int rx = report_severity_rank(json_string_value(json_object_get(x,
	    "severity")));
	int ry = report_severity_rank(json_string_value(json_object_get(y,
	    "severity")));
	double sx = json_number_value(json_object_get(x, "cvss_score"));
	double sy = json_number_value(json_object_get(y, "cvss_score"));
	const char *ix = json_string_value(json_object_get(x, "id"));
	const char *iy = json_string_value(json_object_get(y, "id"));
	int c;

	if (rx != ry)
		return ry - rx;
	if (sx != sy)
		return sy > sx ? 1 : -1;
	c = strcmp(ix != NULL ? ix : "", iy != NULL ? iy : "");
	if (c != 0)
		return c;
	/* Then package, version and path, so duplicates sit side by side. */
	for (const char *const *key = (const char *const[]){"package", "ecosystem",
	    "version", "path", NULL}; *key != NULL; key++) {
		const char *vx = json_string_value(json_object_get(x, *key));
		const char *vy = json_string_value(json_object_get(y, *key));

		c = strcmp(vx != NULL ? vx : "", vy != NULL ? vy : "");
		if (c != 0)
			return c;
	}
	return 0;
}

static bool
same_string(const json_t *a, const json_t *b, const char *key)
{
	const char *x = json_string_value(json_object_get(a, key));
	const char *y = json_string_value(json_object_get(b, key));

	return (x == NULL && y == NULL) || (x != NULL && y != NULL && strcmp(x, y) == 0);
}

static bool
from_lockfile(const json_t *finding)
{
	static const char *const lockfiles[] = {
		"package-lock.json", "npm-shrinkwrap.json", NULL,
	};
	const char *path = json_string_value(json_object_get(finding, "path"));
	const char *base = path != NULL ? strrchr(path, '/') : NULL;

	base = base != NULL ? base + 1 : path;
	for (size_t i = 0; base != NULL && lockfiles[i] != NULL; i++) {
		if (strcmp(base, lockfiles[i]) == 0)
			return true;
	}
	return false;
}

/*
 * True when b repeats a: the same advisory on the same package and version,
 * and b comes from a lockfile that lists a package already found installed.
 * Installed copies at several paths stay separate findings.
 */
static bool
same_finding(const json_t *b, const json_t *a)
{
	return from_lockfile(b) && same_string(a, b, "id") &&
	    same_string(a, b, "ecosystem") && same_string(a, b, "package") &&
	    same_string(a, b, "version");
}

/* Returns a new array with the items of arr sorted worst first, each
 * finding once. */
static json_t *
sort_vulnerabilities(const json_t *arr)
{
	size_t n = json_array_size(arr);
	json_t **items = pc_reallocarray(NULL, n + 1, sizeof(*items));
	json_t *sorted = json_array();

	if (items == NULL || sorted == NULL) {
		pc_free(items);
		json_decref(sorted);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		items[i] = json_array_get(arr, i);
	qsort(items, n, sizeof(*items), compare_vulnerabilities);
	for (size_t i = 0; i < n; i++) {
		/* A lockfile entry for an installed package is no new finding;
		 * lockfile paths sort after node_modules ones. */
		if (i > 0 && same_finding(items[i], items[i - 1]))
			continue;
		if (json_array_append(sorted, items[i]) != 0) {
			json_decref(sorted);
			sorted = NULL;
			break;
		}
	}
	pc_free(items);
	return sorted;
}

static json_t *
image_object(const struct report_image *img)
{
	const json_t *created = json_object_get(img->config, "created");

	return json_pack("{s:s?, s:s?, s:s?, s:s?, s:I, s:O, s:s?}",
	    "repository", img->repository, "reference", img->reference,
	    "digest", img->digest, "media_type", img->media_type,
	    "size", (json_int_t)img->size,
	    "created", json_is_string(created) ? created : json_null(),
	    "platform", img->platform);
}

/* Matches the view's packages and appends match errors to errors. */
static int
match_view(struct vulndb *db, const json_t *view, json_t *errors,
    json_t **vulnerabilities)
{
	json_t *found = NULL;
	json_t *match_errors = NULL;
	int err;

	if (db == NULL) {
		*vulnerabilities = json_array();
		return *vulnerabilities != NULL ? PC_OK : PC_ERR_NOMEM;
	}
	err = match_packages(db, json_object_get(view, "os"),
	    json_object_get(view, "packages"), &found, &match_errors);
	if (err != PC_OK)
		return err;
	*vulnerabilities = sort_vulnerabilities(found);
	if (*vulnerabilities == NULL ||
	    json_array_extend(errors, match_errors) != 0)
		err = PC_ERR_NOMEM;
	json_decref(found);
	json_decref(match_errors);
	return err;
}

int
report_build(const struct report_image *img, json_t *const *layers, size_t n,
    struct vulndb *db, json_t **report)
{
	json_t *view = NULL;
	json_t *config = NULL;
	json_t *vulnerabilities = NULL;
	json_t *errors;
	int err;

	*report = NULL;
	err = image_merge(layers, n, &view);
	if (err != PC_OK)
		return err;
	err = image_config_analyze(img->config, &config);
	if (err != PC_OK)
		goto out;
	errors = json_object_get(view, "errors");
	if (!json_is_array(errors)) {
		err = PC_ERR_INVALID;
		goto out;
	}
	err = match_view(db, view, errors, &vulnerabilities);
	if (err != PC_OK)
		goto out;

	*report = json_pack("{s:o, s:O, s:O, s:o, s:O, s:O, s:o, s:O, s:o, "
	    "s:s, s:s?}",
	    "image", image_object(img),
	    "os", json_object_get(view, "os") ? json_object_get(view, "os") :
	    json_null(),
	    "packages", json_object_get(view, "packages"),
	    "vulnerabilities", vulnerabilities,
	    "secrets", json_object_get(view, "secrets"),
	    "files", json_object_get(view, "files"),
	    "config", config,
	    "errors", errors,
	    "layers", img->layers != NULL ? json_incref((json_t *)img->layers) :
	    json_array(),
	    "scanner_version", SCANNER_VERSION,
	    "db_version", db != NULL ? vulndb_version(db) : NULL);
	vulnerabilities = NULL;
	config = NULL;
	if (*report == NULL)
		err = PC_ERR_NOMEM;
out:
	json_decref(view);
	json_decref(config);
	json_decref(vulnerabilities);
	return err;
}
