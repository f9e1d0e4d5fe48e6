#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <openssl/evp.h>

#include "common/alloc.h"
#include "common/error.h"
#include "scanner/cvss.h"
#include "scanner/match.h"
#include "scanner/osv.h"
#include "scanner/vulndb.h"

/* LMDB key of one package: ecosystem, NUL, name. */
#define KEY_MAX (OSV_MAX_ID_BYTES + 1 + OSV_MAX_NAME_BYTES + 1)

struct vulndb_builder {
	json_t *records; /* id -> normalised record */
	size_t duplicates;
};

struct vulndb {
	MDB_env *env;
	MDB_dbi packages;
	json_t *info;
	char *path;
	struct stat st;
	/* Decoded values by "ECOSYSTEM\nNAME", so that a package (or a source
	 * shared by several binaries) is decoded once, not once per lookup. */
	pthread_mutex_t cache_lock;
	json_t *cache;
	size_t cache_bytes;
};

#define fail osv_set_reason

int
vulndb_pypi_normalize(const char *name, char *out, size_t outlen)
{
	size_t n = 0;

	for (const char *p = name; *p != '\0'; p++) {
		char c = *p;

		if (c == '-' || c == '_' || c == '.') {
			while (p[1] == '-' || p[1] == '_' || p[1] == '.')
				p++;
			c = '-';
		}
		if (n + 1 >= outlen)
			return PC_ERR_LIMIT;
		out[n++] = (char)tolower((unsigned char)c);
	}
	if (outlen == 0)
		return PC_ERR_LIMIT;
	out[n] = '\0';
	return PC_OK;
}

/* Builds the LMDB key of (ecosystem, name); returns its length or 0. */
static size_t
package_key(const char *ecosystem, const char *name, char *key)
{
	size_t elen = strlen(ecosystem);
	char norm[OSV_MAX_NAME_BYTES + 1];

	if (elen > OSV_MAX_ID_BYTES)
		return 0;
	if (strcmp(ecosystem, "PyPI") == 0) {
		if (vulndb_pypi_normalize(name, norm, sizeof(norm)) != PC_OK)
			return 0;
		name = norm;
	}
	if (strlen(name) > OSV_MAX_NAME_BYTES)
		return 0;
	memcpy(key, ecosystem, elen + 1);
	memcpy(key + elen + 1, name, strlen(name));
	return elen + 1 + strlen(name);
}

int
vulndb_builder_new(struct vulndb_builder **out)
{
	struct vulndb_builder *b = pc_calloc(1, sizeof(*b));

	*out = NULL;
	if (b == NULL)
		return PC_ERR_NOMEM;
	b->records = json_object();
	if (b->records == NULL) {
		pc_free(b);
		return PC_ERR_NOMEM;
	}
	*out = b;
	return PC_OK;
}

void
vulndb_builder_free(struct vulndb_builder *b)
{
	if (b == NULL)
		return;
	json_decref(b->records);
	pc_free(b);
}

size_t
vulndb_builder_records(const struct vulndb_builder *b)
{
	return json_object_size(b->records);
}

size_t
vulndb_builder_duplicates(const struct vulndb_builder *b)
{
	return b->duplicates;
}

int
vulndb_builder_add(struct vulndb_builder *b, const char *data, size_t len,
    char *reason, size_t reasonlen)
{
	json_t *rec, *old;
	const char *id;
	int err;

	err = osv_parse(data, len, &rec, reason, reasonlen);
	if (err != PC_OK)
		return err;
	id = json_string_value(json_object_get(rec, "id"));
	old = json_object_get(b->records, id);
	if (old != NULL) {
		b->duplicates++;
		/*
		 * OSV times are RFC 3339 in UTC, which compare as strings.
		 * NOTE: not exactly when the two differ in fractional seconds.
		 */
		if (strcmp(json_string_value(json_object_get(rec, "modified")),
		    json_string_value(json_object_get(old, "modified"))) <= 0) {
			json_decref(rec);
			return PC_OK;
		}
	} else if (json_object_size(b->records) >= VULNDB_MAX_RECORDS) {
		json_decref(rec);
		return fail(reason, reasonlen, PC_ERR_LIMIT,
		    "more than %d records", VULNDB_MAX_RECORDS);
	}
	if (json_object_set_new(b->records, id, rec) != 0)
		return PC_ERR_NOMEM;
	return PC_OK;
}

/* Maps a GHSA severity word (any case) to a report severity word. */
static const char *
severity_word(const char *word)
{
	static const char *const map[][2] = {
		{"critical", "critical"}, {"high", "high"}, {"moderate", "medium"},
		{"medium", "medium"}, {"low", "low"},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcasecmp(word, map[i][0]) == 0)
			return map[i][1];
	}
	return "unknown";
}

/*
 * Computes the severity fields of a severity[] list (see vulndb.h) and sets
 * them on dst: "severity", and "cvss_score" and "cvss_vector" when a vector
 * scores.
 */
static int
severity_set(json_t *dst, const json_t *list, const char *word)
{
	static const char *const types[] = {"CVSS_V3", "CVSS_V4"};
	const char *rating = "unknown";

	for (size_t t = 0; t < 2; t++) {
		const json_t *item;
		size_t i;

		json_array_foreach(list, i, item) {
			const char *type = json_string_value(json_object_get(item,
			    "type"));
			const char *vector = json_string_value(json_object_get(item,
			    "score"));
			double score;

			if (type == NULL || strcmp(type, types[t]) != 0 ||
			    cvss_score(vector, &score, &rating) != PC_OK)
				continue;
			if (strcmp(rating, "none") == 0)
				rating = "low";
			if (json_object_set_new(dst, "severity", json_string(rating)) ||
			    json_object_set_new(dst, "cvss_score", json_real(score)) ||
			    json_object_set_new(dst, "cvss_vector", json_string(vector)))
				return PC_ERR_NOMEM;
			return PC_OK;
		}
	}
	if (word != NULL)
		rating = severity_word(word);
	return json_object_set_new(dst, "severity", json_string(rating)) == 0 ?
	    PC_OK : PC_ERR_NOMEM;
}

/*
 * Stores in *out the versions of the affected entry aff that its ranges do
 * not contain, or NULL when none remain. A list without ranges, or in an
 * ecosystem whose ordering is not implemented, is kept whole.
 */
static int
versions_prune(const json_t *aff, const char *ecosystem, json_t **out)
{
	const json_t *versions = json_object_get(aff, "versions");
	const json_t *item;
	enum version_scheme scheme;
	json_t *kept, *ranges_only;
	size_t i;
	int err = PC_OK;

	*out = NULL;
	if (versions == NULL)
		return PC_OK;
	if (json_object_get(aff, "ranges") == NULL ||
	    match_scheme(ecosystem, &scheme) != PC_OK) {
		*out = json_incref((json_t *)versions);
		return PC_OK;
	}
	/* Evaluate the ranges alone: the list would contain its own items. */
	kept = json_array();
	ranges_only = json_pack("{sO}", "ranges", json_object_get(aff, "ranges"));
	if (kept == NULL || ranges_only == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	json_array_foreach(versions, i, item) {
		struct match_check check;
		int rc = match_affected(ranges_only, scheme, json_string_value(item),
		    &check);

		if (rc == PC_OK && check.affected && check.bad_event == NULL)
			continue;
		if (json_array_append(kept, (json_t *)item) != 0) {
			err = PC_ERR_NOMEM;
			goto out;
		}
	}
	if (json_array_size(kept) > 0) {
		*out = kept;
		kept = NULL;
	}
out:
	json_decref(kept);
	json_decref(ranges_only);
	return err;
}

/*
 * Copies the ranges of aff with their events sorted by version, so that
 * matching skips the sort. A range whose events do not all parse stays
 * as it is and is reported when a package meets it.
 */
static int
ranges_sorted(const json_t *aff, const char *ecosystem, json_t **out)
{
	json_t *ranges = json_deep_copy(json_object_get(aff, "ranges")), *range;
	enum version_scheme scheme;
	size_t i;

	*out = ranges;
	if (ranges == NULL)
		return PC_ERR_NOMEM;
	if (match_scheme(ecosystem, &scheme) != PC_OK)
		return PC_OK;
	json_array_foreach(ranges, i, range) {
		if (match_range_sort(range, scheme) == PC_ERR_NOMEM)
			return PC_ERR_NOMEM;
	}
	return PC_OK;
}

/* Builds the stored form of one affected entry (see vulndb.h). */
static int
affected_slim(const json_t *aff, json_t **out)
{
	const char *ecosystem = json_string_value(json_object_get(aff,
	    "ecosystem"));
	json_t *slim = json_object(), *versions, *ranges = NULL;
	int err = slim != NULL ? PC_OK : PC_ERR_NOMEM;

	*out = NULL;
	if (err == PC_OK && json_object_get(aff, "ranges") != NULL) {
		err = ranges_sorted(aff, ecosystem, &ranges);
		if (err == PC_OK && json_object_set(slim, "ranges", ranges) != 0)
			err = PC_ERR_NOMEM;
	}
	if (err == PC_OK && json_object_get(aff, "versions") != NULL) {
		/* Prune against the sorted ranges, which evaluate faster. */
		if (json_object_set(slim, "versions",
		    json_object_get(aff, "versions")) != 0)
			err = PC_ERR_NOMEM;
		if (err == PC_OK)
			err = versions_prune(slim, ecosystem, &versions);
		if (err == PC_OK && versions == NULL)
			json_object_del(slim, "versions");
		else if (err == PC_OK &&
		    json_object_set_new(slim, "versions", versions) != 0)
			err = PC_ERR_NOMEM;
	}
	if (err == PC_OK && json_object_get(aff, "severity") != NULL)
		err = severity_set(slim, json_object_get(aff, "severity"), NULL);
	json_decref(ranges);
	if (err != PC_OK) {
		json_decref(slim);
		return err;
	}
	*out = slim;
	return PC_OK;
}

/* Builds an ENTRY without its affected list from a normalised record. */
static int
entry_new(const json_t *rec, json_t **out)
{
	json_t *entry;
	int err;

	*out = NULL;
	entry = json_pack("{sOsOsO}", "id", json_object_get(rec, "id"),
	    "aliases", json_object_get(rec, "aliases"),
	    "modified", json_object_get(rec, "modified"));
	if (entry == NULL)
		return PC_ERR_NOMEM;
	err = severity_set(entry, json_object_get(rec, "severity"),
	    json_string_value(json_object_get(rec, "database_severity")));
	if (err == PC_OK && json_object_get(rec, "summary") != NULL &&
	    json_object_set(entry, "summary", json_object_get(rec, "summary")))
		err = PC_ERR_NOMEM;
	if (err != PC_OK) {
		json_decref(entry);
		return err;
	}
	*out = entry;
	return PC_OK;
}

/* Index of everything the file will hold, built before writing. */
struct layout {
	json_t *packages;   /* "ECOSYSTEM\nNAME" -> array of ENTRY */
	json_t *ecosystems; /* ecosystem -> record count */
	char version[7 + 2 * 32 + 1];
};

static int
count_ecosystem(struct layout *l, const char *ecosystem, json_t *seen)
{
	json_t *count;

	if (json_object_get(seen, ecosystem) != NULL)
		return PC_OK;
	if (json_object_set_new(seen, ecosystem, json_true()) != 0)
		return PC_ERR_NOMEM;
	count = json_object_get(l->ecosystems, ecosystem);
	if (count == NULL)
		return json_object_set_new(l->ecosystems, ecosystem,
		    json_integer(1)) == 0 ? PC_OK : PC_ERR_NOMEM;
	return json_integer_set(count, json_integer_value(count) + 1) == 0 ?
	    PC_OK : PC_ERR_NOMEM;
}

/* Adds the entries of one record to the package index. */
static int
layout_add(struct layout *l, const json_t *rec)
{
	json_t *per_package = json_object(), *seen = json_object();
	json_t *aff, *entry, *slim;
	const char *mapkey;
	char key[KEY_MAX];
	size_t i;
	int err = PC_OK;

	if (per_package == NULL || seen == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	json_array_foreach(json_object_get(rec, "affected"), i, aff) {
		const char *ecosystem = json_string_value(json_object_get(aff,
		    "ecosystem"));
		size_t klen = package_key(ecosystem, json_string_value(
		    json_object_get(aff, "name")), key);

		if (klen == 0)
			continue;
		key[strlen(ecosystem)] = '\n';
		key[klen] = '\0';
		err = count_ecosystem(l, ecosystem, seen);
		if (err != PC_OK)
			goto out;
		entry = json_object_get(per_package, key);
		if (entry == NULL) {
			err = entry_new(rec, &entry);
			if (err == PC_OK && (json_object_set_new(per_package, key,
			    entry) || json_object_set_new(entry, "affected",
			    json_array())))
				err = PC_ERR_NOMEM;
			if (err != PC_OK)
				goto out;
		}
		err = affected_slim(aff, &slim);
		if (err == PC_OK && json_array_append_new(json_object_get(entry,
		    "affected"), slim) != 0)
			err = PC_ERR_NOMEM;
		if (err != PC_OK)
			goto out;
	}
	json_object_foreach(per_package, mapkey, entry) {
		json_t *list = json_object_get(l->packages, mapkey);

		if (list == NULL) {
			list = json_array();
			if (list == NULL || json_object_set_new(l->packages, mapkey,
			    list) != 0) {
				err = PC_ERR_NOMEM;
				goto out;
			}
		}
		if (json_array_append(list, entry) != 0) {
			err = PC_ERR_NOMEM;
			goto out;
		}
	}
out:
	json_decref(per_package);
	json_decref(seen);
	return err;
}

static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Builds the layout: package index, counts and version hash, in id order. */
static int
layout_build(const struct vulndb_builder *b, struct layout *l)
{
	size_t n = json_object_size(b->records), i = 0;
	const char **ids = pc_calloc(n + 1, sizeof(*ids));
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char digest[32];
	const char *id;
	json_t *rec;
	int err = PC_OK;

	l->packages = json_object();
	l->ecosystems = json_object();
	if (ids == NULL || md == NULL || l->packages == NULL ||
	    l->ecosystems == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	json_object_foreach(b->records, id, rec)
		ids[i++] = id;
	qsort(ids, n, sizeof(*ids), compare_strings);
	for (i = 0; i < n; i++) {
		char *text;

		rec = json_object_get(b->records, ids[i]);
		text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
		if (text == NULL) {
			err = PC_ERR_NOMEM;
			goto out;
		}
		EVP_DigestUpdate(md, text, strlen(text));
		EVP_DigestUpdate(md, "\n", 1);
		pc_free(text);
		err = layout_add(l, rec);
		if (err != PC_OK)
			goto out;
	}
	EVP_DigestFinal_ex(md, digest, NULL);
	memcpy(l->version, "sha256:", 7);
	for (i = 0; i < sizeof(digest); i++)
		snprintf(l->version + 7 + 2 * i, 3, "%02x", digest[i]);
out:
	EVP_MD_CTX_free(md);
	pc_free(ids);
	return err;
}

static int
lmdb_fail(char *reason, size_t reasonlen, int rc, const char *what,
    const char *path)
{
	int err = rc == MDB_MAP_FULL || rc == ENOSPC ? PC_ERR_NOSPACE : PC_ERR_IO;

	return fail(reason, reasonlen, err, "%s %s: %s", what, path,
	    mdb_strerror(rc));
}

static int
put_json(MDB_txn *txn, MDB_dbi dbi, const char *key, size_t klen,
    const json_t *value, int *rc)
{
	char *text = json_dumps(value, JSON_COMPACT);
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
	MDB_val v;

	if (text == NULL)
		return PC_ERR_NOMEM;
	v.mv_size = strlen(text);
	v.mv_data = text;
	*rc = mdb_put(txn, dbi, &k, &v, 0);
	pc_free(text);
	return *rc == 0 ? PC_OK : PC_ERR_IO;
}

/* Writes the layout into the open environment in one transaction. */
static int
layout_write(MDB_env *env, const struct layout *l, const json_t *info,
    const char *path, char *reason, size_t reasonlen)
{
	MDB_txn *txn = NULL;
	MDB_dbi packages, meta;
	const char *mapkey;
	json_t *list;
	char key[KEY_MAX];
	int rc, err;

	rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "packages", MDB_CREATE, &packages);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &meta);
	if (rc != 0)
		goto fail;
	json_object_foreach((json_t *)l->packages, mapkey, list) {
		size_t klen = strlen(mapkey);

		memcpy(key, mapkey, klen);
		key[strcspn(mapkey, "\n")] = '\0';
		err = put_json(txn, packages, key, klen, list, &rc);
		if (err == PC_ERR_NOMEM) {
			mdb_txn_abort(txn);
			return err;
		}
		if (rc != 0)
			goto fail;
	}
	err = put_json(txn, meta, "info", 4, info, &rc);
	if (err == PC_ERR_NOMEM) {
		mdb_txn_abort(txn);
		return err;
	}
	if (rc == 0) {
		rc = mdb_txn_commit(txn);
		txn = NULL;
	}
	if (rc == 0)
		rc = mdb_env_sync(env, 1);
	if (rc == 0)
		return PC_OK;
fail:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return lmdb_fail(reason, reasonlen, rc, "cannot write", path);
}

/* Estimates the map size: values are written once, pages add overhead. */
static size_t
map_size(const struct layout *l)
{
	const char *mapkey;
	json_t *list;
	size_t total = 16u << 20;

	json_object_foreach((json_t *)l->packages, mapkey, list) {
		char *text = json_dumps(list, JSON_COMPACT);

		total += strlen(mapkey) + 64 + (text ? strlen(text) * 2 : 4096);
		pc_free(text);
	}
	return total;
}

static json_t *
info_new(const struct layout *l, size_t records)
{
	char now[32];
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_pack("{sisssssIsIsO}", "format", VULNDB_FORMAT,
	    "version", l->version, "imported", now,
	    "records", (json_int_t)records,
	    "packages", (json_int_t)json_object_size(l->packages),
	    "ecosystems", l->ecosystems);
}

/* Flushes the folder holding path, so the rename survives a crash. */
static void
sync_parent(const char *path)
{
	char *copy = pc_strdup(path);
	int fd;

	if (copy == NULL)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	pc_free(copy);
}

int
vulndb_builder_write(struct vulndb_builder *b, const char *path, char *reason,
    size_t reasonlen)
{
	struct layout l = {0};
	MDB_env *env = NULL;
	json_t *info = NULL;
	char tmp[PATH_MAX], lock[PATH_MAX + 8];
	int rc, err;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", path,
	    (long)getpid()) >= sizeof(tmp))
		return fail(reason, reasonlen, PC_ERR_INVALID, "path %s is too long",
		    path);
	snprintf(lock, sizeof(lock), "%s-lock", tmp);
	err = layout_build(b, &l);
	if (err == PC_OK) {
		info = info_new(&l, json_object_size(b->records));
		if (info == NULL)
			err = PC_ERR_NOMEM;
	}
	if (err != PC_OK)
		goto out;
	unlink(tmp);
	rc = mdb_env_create(&env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(env, 2);
	if (rc == 0)
		rc = mdb_env_set_mapsize(env, map_size(&l));
	if (rc == 0)
		rc = mdb_env_open(env, tmp, MDB_NOSUBDIR | MDB_NOSYNC, 0644);
	if (rc != 0) {
		err = lmdb_fail(reason, reasonlen, rc, "cannot create", tmp);
		goto out;
	}
	err = layout_write(env, &l, info, tmp, reason, reasonlen);
	mdb_env_close(env);
	env = NULL;
	if (err == PC_OK && rename(tmp, path) != 0)
		err = fail(reason, reasonlen, errno == ENOSPC ? PC_ERR_NOSPACE :
		    PC_ERR_IO, "cannot rename %s to %s: %s", tmp, path,
		    strerror(errno));
	if (err == PC_OK)
		sync_parent(path);
out:
	if (env != NULL)
		mdb_env_close(env);
	unlink(lock);
	if (err != PC_OK)
		unlink(tmp);
	if (err == PC_ERR_NOMEM)
		fail(reason, reasonlen, err, "out of memory");
	json_decref(info);
	json_decref(l.packages);
	json_decref(l.ecosystems);
	return err;
}

/* Opens the environment read-only; without a lock file on a read-only disk. */
static int
env_open(const char *path, MDB_env **out)
{
	MDB_env *env;
	int rc;

	rc = mdb_env_create(&env);
	if (rc != 0)
		return rc;
	mdb_env_set_maxdbs(env, 2);
	rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOTLS,
	    0644);
	if (rc == EACCES || rc == EROFS) {
		/* The file is never written in place, so readers need no lock. */
		mdb_env_close(env);
		rc = mdb_env_create(&env);
		if (rc != 0)
			return rc;
		mdb_env_set_maxdbs(env, 2);
		rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOSUBDIR |
		    MDB_NOTLS | MDB_NOLOCK, 0644);
	}
	if (rc != 0) {
		mdb_env_close(env);
		return rc;
	}
	*out = env;
	return 0;
}

/* Opens the named databases and reads the info record. */
static int
db_load(struct vulndb *db, char *reason, size_t reasonlen)
{
	MDB_txn *txn;
	MDB_dbi meta;
	MDB_val k = {.mv_size = 4, .mv_data = "info"}, v;
	json_error_t jerr;
	int rc;

	rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return lmdb_fail(reason, reasonlen, rc, "cannot read", db->path);
	rc = mdb_dbi_open(txn, "packages", 0, &db->packages);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "meta", 0, &meta);
	if (rc == 0)
		rc = mdb_get(txn, meta, &k, &v);
	if (rc == 0)
		db->info = json_loadb(v.mv_data, v.mv_size, 0, &jerr);
	/* Commit, not abort: dbi handles opened here stay valid after it. */
	mdb_txn_commit(txn);
	if (rc != 0)
		return fail(reason, reasonlen, PC_ERR_INVALID,
		    "%s is not a portcullis vulnerability database: %s", db->path,
		    mdb_strerror(rc));
	if (!json_is_object(db->info) ||
	    json_integer_value(json_object_get(db->info, "format")) !=
	    VULNDB_FORMAT ||
	    !json_is_string(json_object_get(db->info, "version")))
		return fail(reason, reasonlen, PC_ERR_INVALID,
		    "%s has an unknown format; import it again with this version",
		    db->path);
	return PC_OK;
}

int
vulndb_open(const char *path, struct vulndb **out, char *reason,
    size_t reasonlen)
{
	struct vulndb *db;
	int rc, err;

	*out = NULL;
	db = pc_calloc(1, sizeof(*db));
	if (db == NULL)
		return PC_ERR_NOMEM;
	pthread_mutex_init(&db->cache_lock, NULL);
	db->path = pc_strdup(path);
	db->cache = json_object();
	if (db->path == NULL || db->cache == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	if (stat(path, &db->st) != 0) {
		err = fail(reason, reasonlen, errno == ENOENT ? PC_ERR_NOTFOUND :
		    PC_ERR_IO, "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	rc = env_open(path, &db->env);
	if (rc != 0) {
		err = fail(reason, reasonlen, rc == MDB_INVALID ||
		    rc == MDB_VERSION_MISMATCH ? PC_ERR_INVALID : PC_ERR_IO,
		    "cannot open %s: %s", path, mdb_strerror(rc));
		goto out;
	}
	err = db_load(db, reason, reasonlen);
out:
	if (err != PC_OK) {
		vulndb_close(db);
		return err;
	}
	*out = db;
	return PC_OK;
}

void
vulndb_close(struct vulndb *db)
{
	if (db == NULL)
		return;
	if (db->env != NULL)
		mdb_env_close(db->env);
	json_decref(db->info);
	json_decref(db->cache);
	pthread_mutex_destroy(&db->cache_lock);
	pc_free(db->path);
	pc_free(db);
}

/* Cost charged to the cache for remembering a package without advisories. */
#define CACHE_MISS_BYTES 64

/* Returns a new reference to the cached value of ckey (JSON null for a
 * package without advisories), or NULL. */
static json_t *
cache_get(struct vulndb *db, const char *ckey)
{
	json_t *entries;

	pthread_mutex_lock(&db->cache_lock);
	entries = json_incref(json_object_get(db->cache, ckey));
	pthread_mutex_unlock(&db->cache_lock);
	return entries;
}

/* Caches entries (size bytes encoded); starts over when the cache is full. */
static void
cache_put(struct vulndb *db, const char *ckey, json_t *entries, size_t size)
{
	pthread_mutex_lock(&db->cache_lock);
	if (db->cache_bytes + size > VULNDB_CACHE_MAX_BYTES) {
		json_object_clear(db->cache);
		db->cache_bytes = 0;
	}
	/* Out of memory here only costs a later decode. */
	if (json_object_set(db->cache, ckey, entries) == 0)
		db->cache_bytes += size;
	pthread_mutex_unlock(&db->cache_lock);
}

int
vulndb_lookup(struct vulndb *db, const char *ecosystem, const char *name,
    json_t **entries)
{
	char key[KEY_MAX], ckey[KEY_MAX + 1];
	size_t elen = strlen(ecosystem);
	MDB_val k, v;
	MDB_txn *txn;
	json_error_t jerr;
	int rc, err = PC_OK;

	*entries = NULL;
	k.mv_size = package_key(ecosystem, name, key);
	k.mv_data = key;
	if (k.mv_size == 0)
		return PC_OK;
	memcpy(ckey, key, k.mv_size);
	ckey[elen] = '\n';
	ckey[k.mv_size] = '\0';
	*entries = cache_get(db, ckey);
	if (json_is_null(*entries)) {
		json_decref(*entries);
		*entries = NULL;
		return PC_OK;
	}
	if (*entries != NULL)
		return PC_OK;

	rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return rc == ENOMEM ? PC_ERR_NOMEM : PC_ERR_IO;
	rc = mdb_get(txn, db->packages, &k, &v);
	if (rc == 0) {
		*entries = json_loadb(v.mv_data, v.mv_size, 0, &jerr);
		if (*entries == NULL)
			err = PC_ERR_INVALID;
		else
			cache_put(db, ckey, *entries, v.mv_size);
	} else if (rc == MDB_NOTFOUND) {
		/* Most packages have no advisory: remember that as well. */
		cache_put(db, ckey, json_null(), CACHE_MISS_BYTES + k.mv_size);
	} else {
		err = PC_ERR_IO;
	}
	mdb_txn_abort(txn);
	return err;
}

const json_t *
vulndb_info(const struct vulndb *db)
{
	return db->info;
}

const char *
vulndb_version(const struct vulndb *db)
{
	return json_string_value(json_object_get(db->info, "version"));
}

bool
vulndb_changed(const struct vulndb *db)
{
	struct stat st;

	if (stat(db->path, &st) != 0)
		return false;
	return st.st_dev != db->st.st_dev || st.st_ino != db->st.st_ino ||
	    st.st_size != db->st.st_size ||
	    st.st_mtim.tv_sec != db->st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != db->st.st_mtim.tv_nsec;
}
