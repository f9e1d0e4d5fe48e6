#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "scanner/osv.h"

int
osv_set_reason(char *reason, size_t reasonlen, int err, const char *fmt, ...)
{
	va_list ap;

	if (reason != NULL && reasonlen > 0) {
		va_start(ap, fmt);
		vsnprintf(reason, reasonlen, fmt, ap);
		va_end(ap);
	}
	return err;
}

#define fail osv_set_reason

/*
 * Checks the nesting depth of a JSON text before jansson decodes it, because
 * jansson's own recursion limit is far above what an OSV record needs.
 * Brackets inside strings are skipped; the text is not otherwise validated.
 */
static bool
depth_within(const char *data, size_t len, int max_depth)
{
	int depth = 0;
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		char c = data[i];

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
			if (++depth > max_depth)
				return false;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return true;
}

/* A kept string: no NUL inside, no control characters, at most max bytes. */
static int
check_string(const json_t *value, const char *field, size_t max,
    char *reason, size_t reasonlen)
{
	const char *s;
	size_t len;

	if (!json_is_string(value))
		return fail(reason, reasonlen, PC_ERR_INVALID,
		    "%s is not a string", field);
	s = json_string_value(value);
	len = json_string_length(value);
	if (len > max)
		return fail(reason, reasonlen, PC_ERR_LIMIT,
		    "%s is longer than %zu bytes", field, max);
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return fail(reason, reasonlen, PC_ERR_INVALID,
			    "%s contains a control character", field);
	}
	return PC_OK;
}

/* Like check_string, and the string must not be empty. */
static int
check_token(const json_t *value, const char *field, size_t max,
    char *reason, size_t reasonlen)
{
	int err = check_string(value, field, max, reason, reasonlen);

	if (err == PC_OK && json_string_length(value) == 0)
		return fail(reason, reasonlen, PC_ERR_INVALID,
		    "%s is empty", field);
	return err;
}

static int
check_array(const json_t *value, const char *field, size_t max,
    char *reason, size_t reasonlen)
{
	if (!json_is_array(value))
		return fail(reason, reasonlen, PC_ERR_INVALID,
		    "%s is not an array", field);
	if (json_array_size(value) > max)
		return fail(reason, reasonlen, PC_ERR_LIMIT,
		    "%s has more than %zu entries", field, max);
	return PC_OK;
}

/* Copies the string members of src (an array, or NULL) into dst, unique. */
static int
add_ids(json_t *dst, const json_t *src, const char *field, const char *own_id,
    char *reason, size_t reasonlen)
{
	size_t i, j;
	json_t *item, *seen;
	int err;

	if (src == NULL)
		return PC_OK;
	err = check_array(src, field, OSV_MAX_ALIASES, reason, reasonlen);
	if (err != PC_OK)
		return err;
	json_array_foreach(src, i, item) {
		bool dup = strcmp(json_string_value(item) ? json_string_value(item) :
		    "", own_id) == 0;

		err = check_token(item, field, OSV_MAX_ID_BYTES, reason, reasonlen);
		if (err != PC_OK)
			return err;
		json_array_foreach(dst, j, seen) {
			if (json_equal(seen, item))
				dup = true;
		}
		if (dup)
			continue;
		if (json_array_size(dst) >= OSV_MAX_ALIASES)
			return fail(reason, reasonlen, PC_ERR_LIMIT,
			    "aliases and upstream have more than %d entries",
			    OSV_MAX_ALIASES);
		if (json_array_append(dst, item) != 0)
			return PC_ERR_NOMEM;
	}
	return PC_OK;
}

/* Validates severity[] (at field) and returns a copy in *out, or NULL. */
static int
parse_severity(const json_t *src, const char *field, json_t **out,
    char *reason, size_t reasonlen)
{
	size_t i;
	json_t *item, *copy;
	int err;

	*out = NULL;
	if (src == NULL)
		return PC_OK;
	err = check_array(src, field, OSV_MAX_SEVERITY, reason, reasonlen);
	if (err != PC_OK)
		return err;
	json_array_foreach(src, i, item) {
		json_t *type = json_object_get(item, "type");
		json_t *score = json_object_get(item, "score");

		if (!json_is_object(item))
			return fail(reason, reasonlen, PC_ERR_INVALID,
			    "%s[%zu] is not an object", field, i);
		err = check_token(type, "severity type", OSV_MAX_ID_BYTES,
		    reason, reasonlen);
		if (err == PC_OK)
			err = check_token(score, "severity score",
			    OSV_MAX_TEXT_BYTES, reason, reasonlen);
		if (err != PC_OK)
			return err;
	}
	if (json_array_size(src) == 0)
		return PC_OK;
	copy = json_deep_copy(src);
	if (copy == NULL)
		return PC_ERR_NOMEM;
	/* Drop any member other than type and score. */
	json_array_foreach(copy, i, item) {
		json_t *slim = json_pack("{sOsO}", "type",
		    json_object_get(item, "type"), "score",
		    json_object_get(item, "score"));

		if (slim == NULL || json_array_set_new(copy, i, slim) != 0) {
			json_decref(copy);
			return PC_ERR_NOMEM;
		}
	}
	*out = copy;
	return PC_OK;
}

static const char *const event_kinds[] = {
	"introduced", "fixed", "last_affected", "limit",
};

/* Validates one event object: exactly one known member, a version string. */
static int
check_event(const json_t *event, char *reason, size_t reasonlen)
{
	const char *key;
	json_t *value;
	int err;

	if (!json_is_object(event) || json_object_size(event) != 1)
		return fail(reason, reasonlen, PC_ERR_INVALID,
		    "an event is not an object with exactly one member");
	json_object_foreach((json_t *)event, key, value) {
		bool known = false;

		for (size_t k = 0; k < sizeof(event_kinds) / sizeof(event_kinds[0]);
		    k++)
			known = known || strcmp(key, event_kinds[k]) == 0;
		if (!known)
			return fail(reason, reasonlen, PC_ERR_INVALID,
			    "unknown event kind \"%.64s\"", key);
		err = check_token(value, "event version", OSV_MAX_ID_BYTES,
		    reason, reasonlen);
		if (err != PC_OK)
			return err;
	}
	return PC_OK;
}

/*
 * Validates one range. Sets *keep when its type is ECOSYSTEM or SEMVER,
 * the types that version ordering can evaluate.
 */
static int
check_range(const json_t *range, bool *keep, char *reason, size_t reasonlen)
{
	json_t *type = json_object_get(range, "type");
	json_t *events = json_object_get(range, "events");
	json_t *event;
	bool introduced = false;
	size_t i;
	int err;

	if (!json_is_object(range))
		return fail(reason, reasonlen, PC_ERR_INVALID,
		    "a range is not an object");
	err = check_token(type, "range type", OSV_MAX_ID_BYTES, reason,
	    reasonlen);
	if (err != PC_OK)
		return err;
	if (events == NULL)
		return fail(reason, reasonlen, PC_ERR_INVALID,
		    "a range has no events");
	err = check_array(events, "events", OSV_MAX_EVENTS, reason, reasonlen);
	if (err != PC_OK)
		return err;
	json_array_foreach(events, i, event) {
		err = check_event(event, reason, reasonlen);
		if (err != PC_OK)
			return err;
		introduced = introduced ||
		    json_object_get(event, "introduced") != NULL;
	}
	if (!introduced)
		return fail(reason, reasonlen, PC_ERR_INVALID,
		    "a range has no introduced event");
	*keep = strcmp(json_string_value(type), "ECOSYSTEM") == 0 ||
	    strcmp(json_string_value(type), "SEMVER") == 0;
	return PC_OK;
}

/* Validates ranges[] of one affected entry and appends the kept ones. */
static int
parse_ranges(const json_t *src, json_t *dst, char *reason, size_t reasonlen)
{
	json_t *range, *slim;
	bool keep = false;
	size_t i;
	int err;

	if (src == NULL)
		return PC_OK;
	err = check_array(src, "ranges", OSV_MAX_RANGES, reason, reasonlen);
	if (err != PC_OK)
		return err;
	json_array_foreach(src, i, range) {
		err = check_range(range, &keep, reason, reasonlen);
		if (err != PC_OK)
			return err;
		if (!keep)
			continue;
		slim = json_pack("{sOsO}", "type", json_object_get(range, "type"),
		    "events", json_object_get(range, "events"));
		if (slim == NULL || json_array_append_new(dst, slim) != 0)
			return PC_ERR_NOMEM;
	}
	return PC_OK;
}

static int
parse_versions(const json_t *src, json_t **out, char *reason,
    size_t reasonlen)
{
	json_t *item;
	size_t i;
	int err;

	*out = NULL;
	if (src == NULL)
		return PC_OK;
	err = check_array(src, "versions", OSV_MAX_VERSIONS, reason, reasonlen);
	if (err != PC_OK)
		return err;
	json_array_foreach(src, i, item) {
		err = check_token(item, "versions entry", OSV_MAX_ID_BYTES, reason,
		    reasonlen);
		if (err != PC_OK)
			return err;
	}
	if (json_array_size(src) > 0)
		*out = json_incref((json_t *)src);
	return PC_OK;
}

/*
 * Validates one affected entry and stores the normalised entry in *out, or
 * NULL when nothing in it can match (no package, or GIT ranges only).
 */
static int
parse_affected(const json_t *src, json_t **out, char *reason,
    size_t reasonlen)
{
	json_t *package = json_object_get(src, "package");
	json_t *ranges = NULL, *versions = NULL, *severity = NULL, *entry;
	int err;

	*out = NULL;
	if (!json_is_object(src))
		return fail(reason, reasonlen, PC_ERR_INVALID,
		    "an affected entry is not an object");
	if (package == NULL)
		return PC_OK;
	if (!json_is_object(package))
		return fail(reason, reasonlen, PC_ERR_INVALID,
		    "affected package is not an object");
	err = check_token(json_object_get(package, "ecosystem"),
	    "package ecosystem", OSV_MAX_ID_BYTES, reason, reasonlen);
	if (err == PC_OK)
		err = check_token(json_object_get(package, "name"),
		    "package name", OSV_MAX_NAME_BYTES, reason, reasonlen);
	if (err != PC_OK)
		return err;

	ranges = json_array();
	if (ranges == NULL)
		return PC_ERR_NOMEM;
	err = parse_ranges(json_object_get(src, "ranges"), ranges, reason,
	    reasonlen);
	if (err == PC_OK)
		err = parse_versions(json_object_get(src, "versions"), &versions,
		    reason, reasonlen);
	if (err == PC_OK)
		err = parse_severity(json_object_get(src, "severity"),
		    "affected severity", &severity, reason, reasonlen);
	if (err != PC_OK || (json_array_size(ranges) == 0 && versions == NULL))
		goto out;

	entry = json_pack("{sOsO}", "ecosystem",
	    json_object_get(package, "ecosystem"), "name",
	    json_object_get(package, "name"));
	if (entry == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	if ((json_array_size(ranges) > 0 &&
	    json_object_set(entry, "ranges", ranges) != 0) ||
	    (versions != NULL && json_object_set(entry, "versions", versions) != 0) ||
	    (severity != NULL && json_object_set(entry, "severity", severity) != 0)) {
		json_decref(entry);
		err = PC_ERR_NOMEM;
		goto out;
	}
	*out = entry;
out:
	json_decref(ranges);
	json_decref(versions);
	json_decref(severity);
	return err;
}

static int
parse_affected_list(const json_t *src, json_t *dst, char *reason,
    size_t reasonlen)
{
	json_t *item, *entry;
	size_t i;
	int err;

	if (src == NULL)
		return PC_OK;
	err = check_array(src, "affected", OSV_MAX_AFFECTED, reason, reasonlen);
	if (err != PC_OK)
		return err;
	json_array_foreach(src, i, item) {
		err = parse_affected(item, &entry, reason, reasonlen);
		if (err != PC_OK)
			return err;
		if (entry != NULL && json_array_append_new(dst, entry) != 0)
			return PC_ERR_NOMEM;
	}
	return PC_OK;
}

/* Copies the optional string member key of src into dst when present. */
static int
copy_text(json_t *dst, const json_t *src, const char *key, size_t max,
    char *reason, size_t reasonlen)
{
	json_t *value = json_object_get(src, key);
	int err;

	if (value == NULL || json_is_null(value))
		return PC_OK;
	err = check_string(value, key, max, reason, reasonlen);
	if (err != PC_OK)
		return err;
	return json_object_set(dst, key, value) == 0 ? PC_OK : PC_ERR_NOMEM;
}

/* Validates the top-level members and fills the normalised record. */
static int
parse_root(const json_t *root, json_t *rec, char *reason, size_t reasonlen)
{
	json_t *id = json_object_get(root, "id");
	json_t *aliases, *affected, *severity, *dbsev;
	int err;

	err = check_token(id, "id", OSV_MAX_ID_BYTES, reason, reasonlen);
	if (err == PC_OK)
		err = check_token(json_object_get(root, "modified"), "modified",
		    OSV_MAX_ID_BYTES, reason, reasonlen);
	if (err != PC_OK)
		return err;
	if (json_object_set(rec, "id", id) != 0 ||
	    json_object_set(rec, "modified", json_object_get(root, "modified")))
		return PC_ERR_NOMEM;
	if (json_object_get(root, "withdrawn") != NULL)
		return fail(reason, reasonlen, PC_ERR_UNSUPPORTED,
		    "record is withdrawn");

	aliases = json_array();
	if (aliases == NULL || json_object_set_new(rec, "aliases", aliases) != 0)
		return PC_ERR_NOMEM;
	err = add_ids(aliases, json_object_get(root, "aliases"), "aliases",
	    json_string_value(id), reason, reasonlen);
	if (err == PC_OK)
		err = add_ids(aliases, json_object_get(root, "upstream"), "upstream",
		    json_string_value(id), reason, reasonlen);
	if (err == PC_OK)
		err = copy_text(rec, root, "summary", OSV_MAX_TEXT_BYTES, reason,
		    reasonlen);
	if (err == PC_OK)
		err = parse_severity(json_object_get(root, "severity"), "severity",
		    &severity, reason, reasonlen);
	if (err != PC_OK)
		return err;
	if (severity != NULL && json_object_set_new(rec, "severity", severity))
		return PC_ERR_NOMEM;

	dbsev = json_object_get(json_object_get(root, "database_specific"),
	    "severity");
	if (json_is_string(dbsev) &&
	    check_token(dbsev, "database_specific severity", OSV_MAX_ID_BYTES,
	    NULL, 0) == PC_OK &&
	    json_object_set(rec, "database_severity", dbsev) != 0)
		return PC_ERR_NOMEM;

	affected = json_array();
	if (affected == NULL || json_object_set_new(rec, "affected", affected))
		return PC_ERR_NOMEM;
	err = parse_affected_list(json_object_get(root, "affected"), affected,
	    reason, reasonlen);
	if (err != PC_OK)
		return err;
	if (json_array_size(affected) == 0)
		return fail(reason, reasonlen, PC_ERR_UNSUPPORTED,
		    "no affected package with ECOSYSTEM or SEMVER ranges or "
		    "a versions list");
	return PC_OK;
}

int
osv_parse(const char *data, size_t len, json_t **out, char *reason,
    size_t reasonlen)
{
	json_error_t jerr;
	json_t *root = NULL, *rec = NULL;
	int err;

	*out = NULL;
	if (len > OSV_MAX_RECORD_BYTES)
		return fail(reason, reasonlen, PC_ERR_LIMIT,
		    "record is larger than %u bytes", OSV_MAX_RECORD_BYTES);
	if (!depth_within(data, len, OSV_MAX_DEPTH))
		return fail(reason, reasonlen, PC_ERR_LIMIT,
		    "JSON nesting is deeper than %d levels", OSV_MAX_DEPTH);
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	/*
	 * jansson leaves the error text empty when its lexer allocation fails.
	 * NOTE: it reports some other allocation failures as syntax errors,
	 * which then come back as PC_ERR_INVALID.
	 */
	if (root == NULL && (json_error_code(&jerr) == json_error_out_of_memory ||
	    jerr.text[0] == '\0'))
		return fail(reason, reasonlen, PC_ERR_NOMEM, "out of memory");
	if (root == NULL)
		return fail(reason, reasonlen, PC_ERR_INVALID,
		    "invalid JSON at line %d column %d: %s", jerr.line,
		    jerr.column, jerr.text);
	if (!json_is_object(root)) {
		err = fail(reason, reasonlen, PC_ERR_INVALID,
		    "record is not a JSON object");
		goto out;
	}
	rec = json_object();
	if (rec == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	err = parse_root(root, rec, reason, reasonlen);
	if (err == PC_ERR_NOMEM)
		fail(reason, reasonlen, err, "out of memory");
	if (err == PC_OK) {
		*out = rec;
		rec = NULL;
	}
out:
	json_decref(rec);
	json_decref(root);
	return err;
}

static bool
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* State shared by the folder and archive walks. */
struct walk {
	int (*fn)(void *ctx, const char *origin, const char *data, size_t len);
	void *ctx;
	char *reason;
	size_t reasonlen;
	size_t files;
};

static int
walk_count(struct walk *w)
{
	if (++w->files > OSV_MAX_SOURCE_FILES)
		return fail(w->reason, w->reasonlen, PC_ERR_LIMIT,
		    "more than %d files in one source", OSV_MAX_SOURCE_FILES);
	return PC_OK;
}

/* Reads one regular file of at most OSV_MAX_RECORD_BYTES and calls fn. */
static int
walk_file(struct walk *w, const char *path)
{
	struct stat st;
	char *data = NULL;
	size_t got = 0;
	int fd, err;

	err = walk_count(w);
	if (err != PC_OK)
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		err = fail(w->reason, w->reasonlen, PC_ERR_IO,
		    "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if ((unsigned long long)st.st_size > OSV_MAX_RECORD_BYTES) {
		err = w->fn(w->ctx, path, NULL, (size_t)st.st_size);
		goto out;
	}
	data = pc_malloc((size_t)st.st_size + 1);
	if (data == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, data + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = fail(w->reason, w->reasonlen, PC_ERR_IO,
			    "cannot read %s: %s", path,
			    n == 0 ? "file shrank while reading" : strerror(errno));
			goto out;
		}
		got += (size_t)n;
	}
	err = w->fn(w->ctx, path, data, got);
out:
	if (fd >= 0)
		close(fd);
	pc_free(data);
	return err;
}

static int walk_path(struct walk *w, const char *path, int depth,
    bool top);

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the entries of a folder, sorted, so imports are reproducible. */
static int
list_dir(struct walk *w, const char *path, char ***names, size_t *count)
{
	DIR *dir = opendir(path);
	struct dirent *ent;
	char **list = NULL, **grown;
	size_t n = 0, cap = 0;
	int err = PC_OK;

	if (dir == NULL)
		return fail(w->reason, w->reasonlen, PC_ERR_IO,
		    "cannot open folder %s: %s", path, strerror(errno));
	while ((ent = readdir(dir)) != NULL) {
		if (ent->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = pc_reallocarray(list, cap, sizeof(*list));
			if (grown == NULL) {
				err = PC_ERR_NOMEM;
				break;
			}
			list = grown;
		}
		list[n] = pc_strdup(ent->d_name);
		if (list[n] == NULL) {
			err = PC_ERR_NOMEM;
			break;
		}
		n++;
	}
	closedir(dir);
	if (n > 0)
		qsort(list, n, sizeof(*list), compare_names);
	*names = list;
	*count = n;
	return err;
}

static int
walk_dir(struct walk *w, const char *path, int depth)
{
	char **names = NULL;
	size_t count = 0;
	int err;

	if (depth > OSV_MAX_DIR_DEPTH)
		return fail(w->reason, w->reasonlen, PC_ERR_LIMIT,
		    "folder %s is nested deeper than %d levels", path,
		    OSV_MAX_DIR_DEPTH);
	err = list_dir(w, path, &names, &count);
	for (size_t i = 0; i < count && err == PC_OK; i++) {
		size_t len = strlen(path) + strlen(names[i]) + 2;
		char *child = pc_malloc(len);

		if (child == NULL) {
			err = PC_ERR_NOMEM;
			break;
		}
		snprintf(child, len, "%s/%s", path, names[i]);
		err = walk_path(w, child, depth + 1, false);
		pc_free(child);
	}
	for (size_t i = 0; i < count; i++)
		pc_free(names[i]);
	pc_free(names);
	return err;
}

/* Reads the current archive entry into memory, capped, and calls fn. */
static int
walk_zip_entry(struct walk *w, struct archive *ar, const char *origin)
{
	struct buf data;
	char chunk[64 * 1024];
	size_t total = 0;
	int err = PC_OK;

	buf_init(&data, OSV_MAX_RECORD_BYTES);
	for (;;) {
		la_ssize_t n = archive_read_data(ar, chunk, sizeof(chunk));

		if (n < 0) {
			err = fail(w->reason, w->reasonlen, PC_ERR_INVALID,
			    "cannot read %s: %s", origin, archive_error_string(ar));
			goto out;
		}
		if (n == 0)
			break;
		total += (size_t)n;
		if (err == PC_OK)
			err = buf_append(&data, chunk, (size_t)n);
		if (err == PC_ERR_NOMEM)
			goto out;
		/* Past the cap, keep reading only to report the real size. */
		if (total > OSV_MAX_RECORD_BYTES * 2ull)
			break;
	}
	if (err == PC_ERR_LIMIT)
		err = w->fn(w->ctx, origin, NULL, total);
	else
		err = w->fn(w->ctx, origin, data.data, data.len);
out:
	buf_free(&data);
	return err;
}

static int
walk_zip(struct walk *w, const char *path)
{
	struct archive *ar = archive_read_new();
	struct archive_entry *entry;
	char origin[PATH_MAX + OSV_MAX_NAME_BYTES];
	int err = PC_OK, rc;

	if (ar == NULL)
		return PC_ERR_NOMEM;
	archive_read_support_format_zip(ar);
	if (archive_read_open_filename(ar, path, 64 * 1024) != ARCHIVE_OK) {
		err = fail(w->reason, w->reasonlen, PC_ERR_INVALID,
		    "cannot open %s as a zip archive: %s", path,
		    archive_error_string(ar));
		goto out;
	}
	while ((rc = archive_read_next_header(ar, &entry)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(entry);
		la_int64_t size = archive_entry_size(entry);

		if (name == NULL || archive_entry_filetype(entry) != AE_IFREG ||
		    !has_suffix(name, ".json"))
			continue;
		err = walk_count(w);
		if (err != PC_OK)
			goto out;
		snprintf(origin, sizeof(origin), "%s:%s", path, name);
		if (archive_entry_size_is_set(entry) &&
		    (unsigned long long)size > OSV_MAX_RECORD_BYTES)
			err = w->fn(w->ctx, origin, NULL, (size_t)size);
		else
			err = walk_zip_entry(w, ar, origin);
		if (err != PC_OK)
			goto out;
	}
	if (rc != ARCHIVE_EOF)
		err = fail(w->reason, w->reasonlen, PC_ERR_INVALID,
		    "cannot read %s: %s", path, archive_error_string(ar));
out:
	archive_read_free(ar);
	return err;
}

static int
walk_path(struct walk *w, const char *path, int depth, bool top)
{
	struct stat st;

	if ((top ? stat(path, &st) : lstat(path, &st)) != 0)
		return fail(w->reason, w->reasonlen, PC_ERR_IO, "cannot read %s: %s",
		    path, strerror(errno));
	/* Below the top, follow a symbolic link to a file but not to a folder. */
	if (S_ISLNK(st.st_mode) && (stat(path, &st) != 0 || S_ISDIR(st.st_mode)))
		return PC_OK;
	if (S_ISDIR(st.st_mode))
		return walk_dir(w, path, depth);
	if (!S_ISREG(st.st_mode))
		return PC_OK;
	if (has_suffix(path, ".zip"))
		return walk_zip(w, path);
	if (has_suffix(path, ".json"))
		return walk_file(w, path);
	if (top)
		return fail(w->reason, w->reasonlen, PC_ERR_INVALID,
		    "%s is neither a .json file, a folder nor a .zip archive",
		    path);
	return PC_OK;
}

int
osv_source_walk(const char *path,
    int (*fn)(void *ctx, const char *origin, const char *data, size_t len),
    void *ctx, char *reason, size_t reasonlen)
{
	struct walk w = {
		.fn = fn, .ctx = ctx, .reason = reason, .reasonlen = reasonlen,
	};

	return walk_path(&w, path, 0, true);
}
