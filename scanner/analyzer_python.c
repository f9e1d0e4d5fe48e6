#include "scanner/analyzers.h"
#include "scanner/analyzer_error.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"

/*
 * Python distributions installed by pip, setuptools or a distro package.
 * Claimed files:
 *
 *   <name>-<version>.dist-info/METADATA   wheels (PEP 376, PEP 566)
 *   <name>.egg-info/PKG-INFO              setuptools, `setup.py install`
 *   <name>.egg-info/METADATA              setuptools >= 70 writes this too
 *   <name>.egg-info                       a plain file: distutils, Debian
 *   EGG-INFO/PKG-INFO                     unpacked .egg directories
 *
 * All of them are RFC 822 style header blocks. Only the header section is
 * read: it ends at the first empty line, and what follows is the long
 * description. Line ends are "\r\n", "\n" or a bare "\r", as Python's
 * email.feedparser splits them. A line that starts with a space or a tab
 * continues the previous header. A line that is neither a header nor a
 * continuation ends the header section, as it does in feedparser.
 *
 * Result: files[path]["python"] = {"packages": [{"type": "pypi",
 * "ecosystem": "PyPI", "name", "raw_name", "version"}]}, where name is
 * the PEP 503 normalised form of raw_name.
 */

/* Read cap of a metadata file; the headers come first and are small. */
#define PYTHON_METADATA_MAX_BYTES (1024 * 1024)

/* Header fields (folded lines count once) before the file is rejected. */
#define PYTHON_MAX_HEADERS 4096

/* Longest Name or Version value kept, after unfolding. */
#define PYTHON_FIELD_MAX_BYTES 1024

struct python_headers {
	struct buf name;
	struct buf version;
	bool have_name;
	bool have_version;
	bool ended;         /* the empty line after the headers was seen */
	size_t count;
};

static bool
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s);
	size_t m = strlen(suffix);

	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static enum analyzer_want
python_wants(const struct scan_file *f, size_t *max_bytes)
{
	const char *path = f->path;
	bool match;

	if (!S_ISREG(f->mode))
		return ANALYZER_SKIP;
	match = has_suffix(path, ".dist-info/METADATA") ||
	    has_suffix(path, ".egg-info/PKG-INFO") ||
	    has_suffix(path, ".egg-info/METADATA") ||
	    has_suffix(path, ".egg-info") ||
	    strcmp(path, "EGG-INFO/PKG-INFO") == 0 ||
	    has_suffix(path, "/EGG-INFO/PKG-INFO");
	if (!match)
		return ANALYZER_SKIP;
	*max_bytes = PYTHON_METADATA_MAX_BYTES;
	return ANALYZER_CONTENT;
}

/* Length of the line ending at p: 2 for "\r\n", 1 for "\n" or "\r", else 0. */
static size_t
eol_len(const unsigned char *p, const unsigned char *end)
{
	if (p >= end)
		return 0;
	if (*p == '\r')
		return (p + 1 < end && p[1] == '\n') ? 2 : 1;
	return *p == '\n' ? 1 : 0;
}

/*
 * Splits a header line into name and value. A header name is one or more
 * printable ASCII bytes other than ':' and space, then ':'.
 */
static bool
header_split(const unsigned char *line, size_t len, size_t *name_len,
    size_t *value_off)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (line[i] == ':')
			break;
		if (line[i] <= ' ' || line[i] > '~')
			return false;
	}
	if (i == 0 || i == len)
		return false;
	*name_len = i;
	*value_off = i + 1;
	return true;
}

/* Appends a value fragment, unfolding: fragments are joined by one space. */
static int
field_append(struct buf *field, const unsigned char *s, size_t len)
{
	int err;

	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0)
		return PC_OK;
	if (field->len > 0) {
		err = buf_append(field, " ", 1);
		if (err != PC_OK)
			return err;
	}
	return buf_append(field, s, len);
}

/*
 * Feeds one line of the header section. *current is the field that the
 * previous header line started (NULL when it is not one we keep), so
 * continuation lines land in it.
 */
static int
headers_line(struct python_headers *h, const unsigned char *line, size_t len,
    struct buf **current)
{
	size_t name_len, value_off;

	if (len == 0) {
		h->ended = true;
		return PC_OK;
	}
	if (line[0] == ' ' || line[0] == '\t')
		return *current != NULL ? field_append(*current, line, len) :
		    PC_OK;
	if (!header_split(line, len, &name_len, &value_off)) {
		h->ended = true;
		return PC_OK;
	}
	if (++h->count > PYTHON_MAX_HEADERS)
		return PC_ERR_LIMIT;

	*current = NULL;
	if (name_len == 4 && strncasecmp((const char *)line, "Name", 4) == 0 &&
	    !h->have_name) {
		h->have_name = true;
		*current = &h->name;
	} else if (name_len == 7 &&
	    strncasecmp((const char *)line, "Version", 7) == 0 &&
	    !h->have_version) {
		h->have_version = true;
		*current = &h->version;
	}
	if (*current == NULL)
		return PC_OK;
	return field_append(*current, line + value_off, len - value_off);
}

static int
headers_parse(struct python_headers *h, const unsigned char *data, size_t len)
{
	const unsigned char *p = data;
	const unsigned char *end;
	struct buf *current = NULL;
	int err;

	if (len == 0)
		return PC_OK;
	end = data + len;
	/* A UTF-8 byte order mark is not part of the first header name. */
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end && !h->ended) {
		const unsigned char *line = p;
		size_t n;

		while (p < end && *p != '\r' && *p != '\n')
			p++;
		err = headers_line(h, line, (size_t)(p - line), &current);
		if (err != PC_OK)
			return err;
		n = eol_len(p, end);
		p += n;
	}
	return PC_OK;
}

/* PEP 503: lower case, and every run of '-', '_' and '.' becomes one '-'. */
static char *
python_normalize_name(const char *raw)
{
	size_t n = strlen(raw);
	char *out = pc_malloc(n + 1);
	size_t o = 0;
	size_t i;

	if (out == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		char c = raw[i];

		if (c == '-' || c == '_' || c == '.') {
			if (o == 0 || out[o - 1] != '-')
				out[o++] = '-';
			continue;
		}
		out[o++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[o] = '\0';
	return out;
}

/* Name and Version are ASCII in every installable distribution. */
static bool
is_printable_ascii(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] < ' ' || s[i] > '~')
			return false;
	}
	return true;
}

static int
python_store(const struct scan_file *f, const char *raw_name,
    const char *version, struct layer_result *res)
{
	char *name = python_normalize_name(raw_name);
	json_t *pkg;

	if (name == NULL)
		return PC_ERR_NOMEM;
	pkg = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "pypi",
	    "ecosystem", "PyPI", "name", name, "raw_name", raw_name,
	    "version", version);
	pc_free(name);
	if (pkg == NULL)
		return PC_ERR_NOMEM;
	return layer_result_set(res, f->path, "python",
	    json_pack("{s:[o]}", "packages", pkg));
}

static int
python_analyze(const struct scan_file *f, const unsigned char *data,
    size_t len, bool truncated, struct layer_result *res)
{
	struct python_headers h;
	int err;

	memset(&h, 0, sizeof(h));
	buf_init(&h.name, PYTHON_FIELD_MAX_BYTES);
	buf_init(&h.version, PYTHON_FIELD_MAX_BYTES);

	err = headers_parse(&h, data, len);
	if (err == PC_ERR_LIMIT) {
		err = analyzer_error(res, "python", f->path, "metadata has "
		    "more than %d header fields or a Name or Version longer "
		    "than %d bytes, file skipped", PYTHON_MAX_HEADERS,
		    PYTHON_FIELD_MAX_BYTES);
		goto out;
	}
	if (err != PC_OK)
		goto out;

	if (h.name.len == 0 || h.version.len == 0) {
		const char *reason = h.name.len == 0 ?
		    "missing Name header, file skipped" :
		    "missing Version header, file skipped";

		if (truncated && !h.ended)
			reason = "metadata headers exceed the read cap, "
			    "file skipped";
		err = analyzer_error(res, "python", f->path, "%s", reason);
		goto out;
	}
	if (!is_printable_ascii(h.name.data, h.name.len) ||
	    !is_printable_ascii(h.version.data, h.version.len)) {
		err = analyzer_error(res, "python", f->path, "Name or "
		    "Version contains bytes other than printable ASCII, file "
		    "skipped");
		goto out;
	}
	err = python_store(f, h.name.data, h.version.data, res);
out:
	buf_free(&h.name);
	buf_free(&h.version);
	return err;
}

const struct analyzer analyzer_python = {
	.name = "python",
	.wants = python_wants,
	.analyze = python_analyze,
};
