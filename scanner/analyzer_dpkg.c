#include "scanner/analyzers.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/error.h"
#include "scanner/pkgdb_text.h"
#include "scanner/text_utf8.h"

/*
 * Installed Debian packages from var/lib/dpkg/status and from the one-file-
 * per-package var/lib/dpkg/status.d/ of distroless images. The format is
 * deb822: stanzas of "Field: value" lines separated by blank lines, with
 * continuation lines that start with a space or a tab.
 */

/* Read cap for var/lib/dpkg/status, well above a desktop install (estimated). */
#define DPKG_STATUS_MAX_BYTES (64U << 20)
/* Read cap for one status.d file, which contains one or a few stanzas. */
#define DPKG_STATUS_D_MAX_BYTES (1U << 20)
/* Stanzas parsed from one file; the rest is reported as an error. */
#define DPKG_MAX_STANZAS 100000U
/* Maximum length of a Package, Version, Architecture, Status or Source value. */
#define DPKG_MAX_FIELD_LEN 1024U

#define DPKG_STATUS_PATH "var/lib/dpkg/status"
#define DPKG_STATUS_D_DIR "var/lib/dpkg/status.d/"

static bool
has_suffix(const char *s, const char *suffix)
{
	size_t len = strlen(s);
	size_t slen = strlen(suffix);

	return len >= slen && strcmp(s + len - slen, suffix) == 0;
}

static enum analyzer_want
dpkg_wants(const struct scan_file *f, size_t *max_bytes)
{
	const char *name;

	if (!S_ISREG(f->mode))
		return ANALYZER_SKIP;
	if (strcmp(f->path, DPKG_STATUS_PATH) == 0) {
		*max_bytes = DPKG_STATUS_MAX_BYTES;
		return ANALYZER_CONTENT;
	}
	if (strncmp(f->path, DPKG_STATUS_D_DIR, strlen(DPKG_STATUS_D_DIR)) != 0)
		return ANALYZER_SKIP;
	name = f->path + strlen(DPKG_STATUS_D_DIR);
	if (name[0] == '\0' || strchr(name, '/') != NULL ||
	    has_suffix(name, ".md5sums"))
		return ANALYZER_SKIP;
	*max_bytes = DPKG_STATUS_D_MAX_BYTES;
	return ANALYZER_CONTENT;
}

/* The fields of one stanza that the analyzer keeps, NUL-terminated. */
struct dpkg_stanza {
	char package[DPKG_MAX_FIELD_LEN];
	char version[DPKG_MAX_FIELD_LEN];
	char arch[DPKG_MAX_FIELD_LEN];
	char status[DPKG_MAX_FIELD_LEN];
	char source[DPKG_MAX_FIELD_LEN];
	bool has_status;
	bool too_long;
};

/* Copies value (trimmed) into out; flags the stanza when it does not fit. */
static void
field_copy(struct dpkg_stanza *st, char *out, const char *value, size_t len)
{
	while (len > 0 && (*value == ' ' || *value == '\t')) {
		value++;
		len--;
	}
	while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t' ||
	    value[len - 1] == '\r'))
		len--;
	if (len >= DPKG_MAX_FIELD_LEN) {
		st->too_long = true;
		len = DPKG_MAX_FIELD_LEN - 1;
	}
	memcpy(out, value, len);
	out[len] = '\0';
	text_utf8_sanitize(out);
}

static void
dpkg_field(struct dpkg_stanza *st, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	size_t name_len;
	const char *value;
	size_t value_len;
	char *out = NULL;

	if (colon == NULL)
		return;
	name_len = (size_t)(colon - line);
	value = colon + 1;
	value_len = len - name_len - 1;

	/* Field names are case-insensitive in deb822. */
	if (name_len == 7 && strncasecmp(line, "Package", 7) == 0)
		out = st->package;
	else if (name_len == 7 && strncasecmp(line, "Version", 7) == 0)
		out = st->version;
	else if (name_len == 12 && strncasecmp(line, "Architecture", 12) == 0)
		out = st->arch;
	else if (name_len == 6 && strncasecmp(line, "Source", 6) == 0)
		out = st->source;
	else if (name_len == 6 && strncasecmp(line, "Status", 6) == 0) {
		out = st->status;
		st->has_status = true;
	}
	if (out != NULL)
		field_copy(st, out, value, value_len);
}

/*
 * Tells whether a Status value ("want flag status") means the package is
 * on disk. A stanza without Status (distroless status.d) counts as
 * installed.
 */
static bool
dpkg_installed(const struct dpkg_stanza *st)
{
	char want[32] = "";
	char state[32] = "";

	if (!st->has_status)
		return true;
	if (sscanf(st->status, "%31s %*31s %31s", want, state) < 1)
		return false;
	if (strcmp(want, "deinstall") == 0 || strcmp(want, "purge") == 0)
		return false;
	if (strcmp(state, "not-installed") == 0 ||
	    strcmp(state, "config-files") == 0)
		return false;
	return true;
}

/* Turns a finished stanza into a package, or NULL when it is skipped. */
static json_t *
dpkg_package(const struct dpkg_stanza *st, int *err)
{
	char source_name[DPKG_MAX_FIELD_LEN];
	char source_version[DPKG_MAX_FIELD_LEN];
	json_t *pkg;

	*err = PC_OK;
	if (st->package[0] == '\0' || st->version[0] == '\0' || st->too_long ||
	    !dpkg_installed(st))
		return NULL;

	/* "Source: name" or "Source: name (version)" for binNMUs and renames. */
	snprintf(source_name, sizeof(source_name), "%s", st->package);
	snprintf(source_version, sizeof(source_version), "%s", st->version);
	if (st->source[0] != '\0') {
		size_t n = strcspn(st->source, " (");
		const char *open = strchr(st->source, '(');

		snprintf(source_name, sizeof(source_name), "%.*s", (int)n,
		    st->source);
		if (open != NULL) {
			const char *close = strchr(open, ')');
			size_t vlen = close != NULL ? (size_t)(close - open - 1) :
			    strlen(open + 1);

			snprintf(source_version, sizeof(source_version), "%.*s",
			    (int)vlen, open + 1);
		}
	}

	pkg = json_pack("{s:s, s:s, s:s, s:s*, s:s, s:s}", "type", "deb",
	    "name", st->package, "version", st->version, "arch",
	    st->arch[0] != '\0' ? st->arch : NULL, "source_name", source_name,
	    "source_version", source_version);
	if (pkg == NULL)
		*err = PC_ERR_NOMEM;
	return pkg;
}

static void
dpkg_line(void *ctx, const char *line, size_t len)
{
	/* Continuation lines only extend fields that are not kept. */
	if (line[0] != ' ' && line[0] != '\t')
		dpkg_field(ctx, line, len);
}

static int
dpkg_stanza_end(void *ctx, json_t *packages)
{
	struct dpkg_stanza *st = ctx;
	int err;
	json_t *pkg = dpkg_package(st, &err);

	memset(st, 0, sizeof(*st));
	if (pkg == NULL)
		return err;
	return json_array_append_new(packages, pkg) == 0 ? PC_OK :
	    PC_ERR_NOMEM;
}

static int
dpkg_analyze(const struct scan_file *f, const unsigned char *data, size_t len,
    bool truncated, struct layer_result *res)
{
	struct dpkg_stanza *st = pc_calloc(1, sizeof(*st));
	struct pkgdb_parser parser = {dpkg_line, dpkg_stanza_end, st};
	int err;

	if (st == NULL)
		return PC_ERR_NOMEM;
	err = pkgdb_analyze(res, f->path, "dpkg", "dpkg database",
	    (const char *)data, len, truncated, DPKG_MAX_STANZAS, &parser);
	pc_free(st);
	return err;
}

const struct analyzer analyzer_dpkg = {
	.name = "dpkg",
	.wants = dpkg_wants,
	.analyze = dpkg_analyze,
};
