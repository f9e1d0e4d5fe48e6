#include "scanner/analyzers.h"

#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "scanner/pkgdb_text.h"
#include "scanner/text_utf8.h"

/*
 * Installed Alpine packages from the apk-tools database
 * (lib/apk/db/installed, or usr/lib/apk/db/installed since apk-tools 3).
 * Each record is a block of "X:value" lines ended by a blank line; the
 * analyzer keeps P (name), V (version), A (architecture) and o (origin,
 * the source package that Alpine's advisories name).
 */

/* Read cap for the database; the F:/R: file lists make it a few MiB. */
#define APK_DB_MAX_BYTES (64U << 20)
/* Records parsed from one database; the rest is reported as an error. */
#define APK_MAX_RECORDS 100000U
/* Maximum length of a P, V, A or o value; longer records are skipped. */
#define APK_MAX_FIELD_LEN 512U

static enum analyzer_want
apk_wants(const struct scan_file *f, size_t *max_bytes)
{
	if (!S_ISREG(f->mode))
		return ANALYZER_SKIP;
	if (strcmp(f->path, "lib/apk/db/installed") != 0 &&
	    strcmp(f->path, "usr/lib/apk/db/installed") != 0)
		return ANALYZER_SKIP;
	*max_bytes = APK_DB_MAX_BYTES;
	return ANALYZER_CONTENT;
}

struct apk_record {
	char name[APK_MAX_FIELD_LEN];
	char version[APK_MAX_FIELD_LEN];
	char arch[APK_MAX_FIELD_LEN];
	char origin[APK_MAX_FIELD_LEN];
	bool too_long;
};

static void
apk_line(struct apk_record *rec, const char *line, size_t len)
{
	char *out;

	if (len < 2 || line[1] != ':')
		return;
	switch (line[0]) {
	case 'P':
		out = rec->name;
		break;
	case 'V':
		out = rec->version;
		break;
	case 'A':
		out = rec->arch;
		break;
	case 'o':
		out = rec->origin;
		break;
	default:
		return;
	}
	len -= 2;
	while (len > 0 && line[2 + len - 1] == '\r')
		len--;
	if (len >= APK_MAX_FIELD_LEN) {
		rec->too_long = true;
		return;
	}
	memcpy(out, line + 2, len);
	out[len] = '\0';
	text_utf8_sanitize(out);
}

static void
apk_parse_line(void *ctx, const char *line, size_t len)
{
	apk_line(ctx, line, len);
}

static int
apk_record_end(void *ctx, json_t *packages)
{
	struct apk_record *rec = ctx;
	json_t *pkg;
	int err = PC_OK;

	if (rec->name[0] != '\0' && rec->version[0] != '\0' && !rec->too_long) {
		pkg = json_pack("{s:s, s:s, s:s, s:s*, s:s, s:s}", "type", "apk",
		    "name", rec->name, "version", rec->version, "arch",
		    rec->arch[0] != '\0' ? rec->arch : NULL, "source_name",
		    rec->origin[0] != '\0' ? rec->origin : rec->name,
		    "source_version", rec->version);
		if (pkg == NULL || json_array_append_new(packages, pkg) != 0)
			err = PC_ERR_NOMEM;
	}
	memset(rec, 0, sizeof(*rec));
	return err;
}

static int
apk_analyze(const struct scan_file *f, const unsigned char *data, size_t len,
    bool truncated, struct layer_result *res)
{
	struct apk_record rec;
	struct pkgdb_parser parser = {apk_parse_line, apk_record_end, &rec};

	memset(&rec, 0, sizeof(rec));
	return pkgdb_analyze(res, f->path, "apk", "apk database",
	    (const char *)data, len, truncated, APK_MAX_RECORDS, &parser);
}

const struct analyzer analyzer_apk = {
	.name = "apk",
	.wants = apk_wants,
	.analyze = apk_analyze,
};
