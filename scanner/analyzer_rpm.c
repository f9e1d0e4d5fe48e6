#include "scanner/analyzers.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"
#include "scanner/text_utf8.h"

/*
 * Installed rpm packages from the SQLite rpm database (rpmdb.sqlite, used
 * by rpm >= 4.16: RHEL 9, Fedora >= 33, Rocky and AlmaLinux 9). Its
 * Packages table contains one rpm header blob per package: a big-endian
 * index count and data size, then 16-byte index entries (tag, type,
 * offset, count) and the data area they point into.
 *
 * The BerkeleyDB (var/lib/rpm/Packages, EL <= 8) and NDB (Packages.db,
 * SUSE) formats are not parsed: they add an error of kind "unsupported",
 * so that policy can tell an image with unlisted packages from one with
 * none.
 *
 * NOTE: the database is opened immutable, so rows still in an
 * rpmdb.sqlite-wal file beside it are not seen. rpm checkpoints the WAL
 * when it exits, so image builds normally leave it empty.
 */

/*
 * Read cap for rpmdb.sqlite, set well above the database size of large
 * EL9 images (an estimate).
 */
#define RPMDB_MAX_BYTES (256U << 20)
/* Packages read from one database; the rest is reported as an error. */
#define RPMDB_MAX_PACKAGES 100000U
/* Index entries in one header; rpm itself caps this at 0xffff. */
#define RPM_HEADER_MAX_INDEX 0xffffU
/*
 * SQLite virtual machine steps, in units of RPMDB_PROGRESS_OPS, allowed
 * for reading one database; a hostile schema cannot run longer.
 */
#define RPMDB_MAX_PROGRESS_CALLS 20000U
#define RPMDB_PROGRESS_OPS 10000
/* Maximum length of a string tag value kept. */
#define RPM_MAX_STRING 1024U

#define RPMTAG_NAME 1000U
#define RPMTAG_VERSION 1001U
#define RPMTAG_RELEASE 1002U
#define RPMTAG_EPOCH 1003U
#define RPMTAG_ARCH 1022U
#define RPMTAG_SOURCERPM 1044U

#define RPM_INT32_TYPE 4U
#define RPM_STRING_TYPE 6U
#define RPM_I18NSTRING_TYPE 9U

enum rpmdb_format {
	RPMDB_SQLITE,
	RPMDB_BDB,
	RPMDB_NDB,
};

static const struct {
	const char *path;
	enum rpmdb_format format;
} rpmdb_files[] = {
	{"var/lib/rpm/rpmdb.sqlite", RPMDB_SQLITE},
	{"usr/lib/sysimage/rpm/rpmdb.sqlite", RPMDB_SQLITE},
	{"var/lib/rpm/Packages", RPMDB_BDB},
	{"usr/lib/sysimage/rpm/Packages", RPMDB_BDB},
	{"var/lib/rpm/Packages.db", RPMDB_NDB},
	{"usr/lib/sysimage/rpm/Packages.db", RPMDB_NDB},
};

static bool
rpmdb_find(const char *path, enum rpmdb_format *format)
{
	for (size_t i = 0; i < sizeof(rpmdb_files) / sizeof(rpmdb_files[0]);
	    i++) {
		if (strcmp(path, rpmdb_files[i].path) == 0) {
			*format = rpmdb_files[i].format;
			return true;
		}
	}
	return false;
}

static enum analyzer_want
rpm_wants(const struct scan_file *f, size_t *max_bytes)
{
	enum rpmdb_format format;

	if (!S_ISREG(f->mode) || !rpmdb_find(f->path, &format))
		return ANALYZER_SKIP;
	if (format != RPMDB_SQLITE)
		return ANALYZER_META;
	*max_bytes = RPMDB_MAX_BYTES;
	return ANALYZER_CONTENT;
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

struct rpm_header_fields {
	char name[RPM_MAX_STRING];
	char version[RPM_MAX_STRING];
	char release[RPM_MAX_STRING];
	char arch[RPM_MAX_STRING];
	char sourcerpm[RPM_MAX_STRING];
	bool has_epoch;
	uint32_t epoch;
};

/*
 * Copies the NUL-terminated string at offset of the data area into out.
 * Returns false when it starts outside the data area, runs past its end
 * or does not fit.
 */
static bool
rpm_string(const unsigned char *store, size_t dl, uint32_t offset, char *out)
{
	const unsigned char *nul;
	size_t len;

	if (offset >= dl)
		return false;
	nul = memchr(store + offset, '\0', dl - offset);
	if (nul == NULL)
		return false;
	len = (size_t)(nul - (store + offset));
	if (len >= RPM_MAX_STRING)
		return false;
	memcpy(out, store + offset, len + 1);
	text_utf8_sanitize(out);
	return true;
}

/*
 * Parses one header blob as stored in the Packages table (no lead, no
 * magic). Every offset is checked against the data area. Returns PC_OK or
 * PC_ERR_INVALID.
 */
static int
rpm_header_parse(const unsigned char *blob, size_t len,
    struct rpm_header_fields *out)
{
	uint32_t il;
	uint32_t dl;
	const unsigned char *store;

	memset(out, 0, sizeof(*out));
	if (len < 8)
		return PC_ERR_INVALID;
	il = be32(blob);
	dl = be32(blob + 4);
	if (il == 0 || il > RPM_HEADER_MAX_INDEX ||
	    (uint64_t)il * 16 + dl > len - 8)
		return PC_ERR_INVALID;
	store = blob + 8 + (size_t)il * 16;

	for (uint32_t i = 0; i < il; i++) {
		const unsigned char *entry = blob + 8 + (size_t)i * 16;
		uint32_t tag = be32(entry);
		uint32_t type = be32(entry + 4);
		uint32_t offset = be32(entry + 8);
		uint32_t count = be32(entry + 12);
		char *dst = NULL;

		switch (tag) {
		case RPMTAG_NAME:
			dst = out->name;
			break;
		case RPMTAG_VERSION:
			dst = out->version;
			break;
		case RPMTAG_RELEASE:
			dst = out->release;
			break;
		case RPMTAG_ARCH:
			dst = out->arch;
			break;
		case RPMTAG_SOURCERPM:
			dst = out->sourcerpm;
			break;
		case RPMTAG_EPOCH:
			if (type != RPM_INT32_TYPE || count < 1 || offset > dl ||
			    dl - offset < 4)
				return PC_ERR_INVALID;
			out->has_epoch = true;
			out->epoch = be32(store + offset);
			continue;
		default:
			continue;
		}
		if (type != RPM_STRING_TYPE && type != RPM_I18NSTRING_TYPE)
			return PC_ERR_INVALID;
		if (!rpm_string(store, dl, offset, dst))
			return PC_ERR_INVALID;
	}
	if (out->name[0] == '\0' || out->version[0] == '\0')
		return PC_ERR_INVALID;
	return PC_OK;
}

/*
 * Splits "name-version-release.src.rpm" into the source name and
 * "version-release". Returns false when the file name has another shape.
 */
static bool
sourcerpm_split(const char *srpm, char *name, char *version)
{
	size_t len = strlen(srpm);
	const char *suffix = NULL;
	const char *rel_dash = NULL;
	const char *ver_dash = NULL;

	if (len > 8 && strcmp(srpm + len - 8, ".src.rpm") == 0)
		suffix = srpm + len - 8;
	else if (len > 10 && strcmp(srpm + len - 10, ".nosrc.rpm") == 0)
		suffix = srpm + len - 10;
	if (suffix == NULL)
		return false;
	for (const char *p = suffix - 1; p > srpm; p--) {
		if (*p != '-')
			continue;
		if (rel_dash == NULL) {
			rel_dash = p;
		} else {
			ver_dash = p;
			break;
		}
	}
	if (ver_dash == NULL || ver_dash == srpm)
		return false;
	snprintf(name, RPM_MAX_STRING, "%.*s", (int)(ver_dash - srpm), srpm);
	snprintf(version, RPM_MAX_STRING, "%.*s", (int)(suffix - ver_dash - 1),
	    ver_dash + 1);
	return true;
}

/* Builds the package JSON; NULL for gpg-pubkey entries or out of memory. */
static json_t *
rpm_package(const struct rpm_header_fields *h, int *err)
{
	char version[3 * RPM_MAX_STRING + 16];
	char epoch[16] = "";
	char source_name[RPM_MAX_STRING];
	char source_evr[RPM_MAX_STRING];
	char source_version[3 * RPM_MAX_STRING + 16];
	json_t *pkg;

	*err = PC_OK;
	/* rpm stores imported signing keys as pseudo-packages "gpg-pubkey". */
	if (strcmp(h->name, "gpg-pubkey") == 0)
		return NULL;

	if (h->has_epoch && h->epoch != 0)
		snprintf(epoch, sizeof(epoch), "%u:", h->epoch);
	if (h->release[0] != '\0')
		snprintf(version, sizeof(version), "%s%s-%s", epoch, h->version,
		    h->release);
	else
		snprintf(version, sizeof(version), "%s%s", epoch, h->version);

	if (sourcerpm_split(h->sourcerpm, source_name, source_evr)) {
		snprintf(source_version, sizeof(source_version), "%s%s", epoch,
		    source_evr);
	} else {
		snprintf(source_name, sizeof(source_name), "%s", h->name);
		snprintf(source_version, sizeof(source_version), "%s", version);
	}

	pkg = json_pack("{s:s, s:s, s:s, s:s*, s:s, s:s}", "type", "rpm",
	    "name", h->name, "version", version, "arch",
	    h->arch[0] != '\0' ? h->arch : NULL, "source_name", source_name,
	    "source_version", source_version);
	if (pkg == NULL)
		*err = PC_ERR_NOMEM;
	return pkg;
}

/*
 * Writes data to a new private temporary file and stores its path in
 * path_out (size RPM_MAX_STRING). Returns PC_OK, PC_ERR_IO or
 * PC_ERR_NOSPACE.
 */
static int
rpmdb_write_temp(const unsigned char *data, size_t len, char *path_out)
{
	const char *dir = getenv("TMPDIR");
	size_t done = 0;
	int fd;

	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	if (snprintf(path_out, RPM_MAX_STRING, "%s/portcullis-rpmdb-XXXXXX",
	    dir) >= (int)RPM_MAX_STRING)
		return PC_ERR_IO;
	fd = mkstemp(path_out);
	if (fd < 0)
		return PC_ERR_IO;
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int saved = errno;

			close(fd);
			unlink(path_out);
			return saved == ENOSPC ? PC_ERR_NOSPACE : PC_ERR_IO;
		}
		done += (size_t)n;
	}
	if (close(fd) != 0) {
		unlink(path_out);
		return PC_ERR_IO;
	}
	return PC_OK;
}

/*
 * Builds the "file:" URI that opens path read-only and immutable, so that
 * SQLite neither locks nor looks for a journal or WAL file beside it.
 */
static int
rpmdb_uri(const char *path, struct buf *uri)
{
	static const char hex[] = "0123456789ABCDEF";
	int err = buf_append_str(uri, "file:");

	for (const char *p = path; err == PC_OK && *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '/' || c == '-' || c == '_' || c == '.' ||
		    (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z'))
			err = buf_append(uri, p, 1);
		else
			err = buf_printf(uri, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
	if (err == PC_OK)
		err = buf_append_str(uri, "?immutable=1");
	return err;
}

struct rpmdb_counts {
	size_t packages;
	size_t invalid;
	bool limit;
};

static int
rpmdb_read_rows(sqlite3 *db, json_t *packages, struct rpmdb_counts *counts)
{
	sqlite3_stmt *stmt = NULL;
	struct rpm_header_fields *h = pc_malloc(sizeof(*h));
	int rc;
	int err = PC_OK;

	if (h == NULL)
		return PC_ERR_NOMEM;
	if (sqlite3_prepare_v2(db, "SELECT blob FROM Packages", -1, &stmt,
	    NULL) != SQLITE_OK) {
		err = PC_ERR_INVALID;
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const unsigned char *blob = sqlite3_column_blob(stmt, 0);
		int blob_len = sqlite3_column_bytes(stmt, 0);
		json_t *pkg;

		if (counts->packages + counts->invalid >= RPMDB_MAX_PACKAGES) {
			counts->limit = true;
			break;
		}
		if (blob == NULL || blob_len <= 0 ||
		    rpm_header_parse(blob, (size_t)blob_len, h) != PC_OK) {
			counts->invalid++;
			continue;
		}
		pkg = rpm_package(h, &err);
		if (err != PC_OK)
			goto out;
		if (pkg == NULL)
			continue;
		if (json_array_append_new(packages, pkg) != 0) {
			err = PC_ERR_NOMEM;
			goto out;
		}
		counts->packages++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = rc == SQLITE_NOMEM ? PC_ERR_NOMEM : PC_ERR_INVALID;
out:
	sqlite3_finalize(stmt);
	pc_free(h);
	return err;
}

/* Aborts the running statement once its step budget is spent. */
static int
rpmdb_progress(void *arg)
{
	unsigned *calls = arg;

	return ++*calls > RPMDB_MAX_PROGRESS_CALLS;
}

/*
 * Checks that Packages is a plain table: an image could ship a view or a
 * virtual table in its place, which would run code of its own design.
 */
static int
rpmdb_check_schema(sqlite3 *db)
{
	sqlite3_stmt *stmt = NULL;
	int err = PC_ERR_INVALID;

	if (sqlite3_prepare_v2(db, "SELECT type, sql FROM sqlite_master "
	    "WHERE name = 'Packages'", -1, &stmt, NULL) != SQLITE_OK)
		return PC_ERR_INVALID;
	if (sqlite3_step(stmt) == SQLITE_ROW) {
		const char *type = (const char *)sqlite3_column_text(stmt, 0);
		const char *sql = (const char *)sqlite3_column_text(stmt, 1);

		if (type != NULL && strcmp(type, "table") == 0 && sql != NULL &&
		    strncasecmp(sql, "CREATE TABLE", 12) == 0)
			err = PC_OK;
	}
	sqlite3_finalize(stmt);
	return err;
}

/* Opens the database copy read-only and lists its packages. */
static int
rpmdb_read(const char *path, json_t *packages, struct rpmdb_counts *counts)
{
	struct buf uri;
	sqlite3 *db = NULL;
	unsigned progress_calls = 0;
	int err;

	buf_init(&uri, 2 * RPM_MAX_STRING + 32);
	err = rpmdb_uri(path, &uri);
	if (err != PC_OK)
		goto out;
	if (sqlite3_open_v2(uri.data, &db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
		err = PC_ERR_INVALID;
		goto out;
	}
	sqlite3_progress_handler(db, RPMDB_PROGRESS_OPS, rpmdb_progress,
	    &progress_calls);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	err = rpmdb_check_schema(db);
	if (err == PC_OK)
		err = rpmdb_read_rows(db, packages, counts);
out:
	sqlite3_close(db);
	buf_free(&uri);
	return err;
}

/* Adds an error; message is repaired in place if cut mid-character. */
static int
rpm_add_error(struct layer_result *res, const char *kind, char *message)
{
	text_utf8_sanitize(message);
	return layer_result_add_error(res, kind, message);
}

static int
rpm_analyze_sqlite(const struct scan_file *f, const unsigned char *data,
    size_t len, bool truncated, struct layer_result *res)
{
	char tmp[RPM_MAX_STRING];
	char message[1024];
	struct rpmdb_counts counts = {0};
	json_t *packages = NULL;
	int err;

	if (truncated) {
		snprintf(message, sizeof(message), "rpm database %s is larger "
		    "than %u bytes: packages not listed", f->path,
		    RPMDB_MAX_BYTES);
		return rpm_add_error(res, "limit", message);
	}

	err = rpmdb_write_temp(data, len, tmp);
	if (err != PC_OK) {
		char quoted[RPM_MAX_STRING + 8];

		log_warn("event=rpmdb_temp_failed path=%s error=\"%s\"",
		    log_quote(quoted, sizeof(quoted), tmp), pc_strerror(err));
		snprintf(message, sizeof(message), "rpm database %s could not "
		    "be copied to a temporary file: %s", f->path,
		    pc_strerror(err));
		return rpm_add_error(res, "scan_error", message);
	}
	packages = json_array();
	if (packages == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	err = rpmdb_read(tmp, packages, &counts);
	if (err == PC_ERR_NOMEM)
		goto out;
	if (err != PC_OK) {
		snprintf(message, sizeof(message), "rpm database %s is not a "
		    "readable SQLite rpm database: packages not listed",
		    f->path);
		err = rpm_add_error(res, "scan_error", message);
		goto out;
	}
	if (counts.invalid > 0) {
		snprintf(message, sizeof(message), "rpm database %s has %zu "
		    "invalid package headers: those packages are not listed",
		    f->path, counts.invalid);
		err = rpm_add_error(res, "scan_error", message);
	}
	if (err == PC_OK && counts.limit) {
		snprintf(message, sizeof(message), "rpm database %s has more "
		    "than %u packages: the rest are not listed", f->path,
		    RPMDB_MAX_PACKAGES);
		err = rpm_add_error(res, "limit", message);
	}
	if (err != PC_OK)
		goto out;
	err = layer_result_set(res, f->path, "rpm",
	    json_pack("{s:O}", "packages", packages));
out:
	json_decref(packages);
	unlink(tmp);
	return err;
}

static int
rpm_analyze(const struct scan_file *f, const unsigned char *data, size_t len,
    bool truncated, struct layer_result *res)
{
	enum rpmdb_format format;
	char message[1024];

	if (!rpmdb_find(f->path, &format))
		return PC_OK;
	if (format == RPMDB_SQLITE)
		return rpm_analyze_sqlite(f, data, len, truncated, res);

	snprintf(message, sizeof(message), "rpm database %s: unsupported rpm "
	    "database format (%s): packages not listed", f->path,
	    format == RPMDB_BDB ? "BerkeleyDB" : "NDB");
	return rpm_add_error(res, "unsupported", message);
}

const struct analyzer analyzer_rpm = {
	.name = "rpm",
	.wants = rpm_wants,
	.analyze = rpm_analyze,
};
