#include "scanner/analyzers.h"
#include "scanner/analyzer_error.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"

/*
 * Go binaries: the build information that the Go linker embeds in every
 * executable (what `go version -m` prints), read as the file streams by.
 *
 * The blob starts with the 14-byte magic "\xff Go buildinf:" at a 16-byte
 * aligned file offset. Byte 14 is the pointer size (4 or 8) and byte 15
 * contains flags. Since Go 1.18 flag 0x2 is set and two strings follow the
 * 32-byte header inline, each prefixed by its length as an unsigned
 * varint: the Go version ("go1.22.4") and the module information. The
 * module information is framed by two 16-byte sentinels and has one
 * tab-separated record a line:
 *
 *   path   <main package path>
 *   mod    <main module path> <version> [<sum>]
 *   dep    <module path> <version> [<sum>]
 *   =>     <replacement path> <version> [<sum>]   replaces the dep above
 *   build  <key>=<value>
 *
 * Result: files[path]["go"] = {"go_version", "path", "settings": {...},
 * "packages": [{"type": "go", "ecosystem": "Go", "name", "version"}]}.
 * Packages are the main module (unless its version is "(devel)"), every
 * dependency with its replacement applied, and "stdlib" at the toolchain
 * version ("go1.22.4" -> "v1.22.4"). A dependency replaced by a local
 * folder has no module version and is not reported.
 *
 * NOTE: binaries built before Go 1.18 keep pointers to the strings in the
 * header instead. Resolving them needs the ELF program headers, which a
 * single streaming pass has already passed, so such binaries only get an
 * "unsupported Go build info layout (Go < 1.18)" scan error.
 */

/*
 * Largest executable read; bigger files are skipped unseen.
 * NOTE: the tar walker streams at most its max_file_bytes (64 MiB by
 * default) of a file, so build info that a larger binary places beyond
 * that offset is not found.
 */
#define GO_BINARY_MAX_BYTES (512ULL * 1024 * 1024)

/* Smallest file that can hold an ELF header and the build info header. */
#define GO_BINARY_MIN_BYTES 64

/* Maximum length of the Go version string ("go1.22.4 X:boringcrypto"). */
#define GO_VERSION_MAX_BYTES 256

/* Maximum length of the module information string. */
#define GO_MODINFO_MAX_BYTES (1024 * 1024)

/* Build settings kept in the result; the rest is dropped. */
#define GO_MAX_SETTINGS 128

#define GO_MAGIC "\xff Go buildinf:"
#define GO_MAGIC_LEN 14
#define GO_ALIGN 16
#define GO_HEADER_LEN 32
#define GO_FLAG_INLINE 0x2
#define GO_SENTINEL_LEN 16
#define GO_VARINT_MAX_BYTES 10

enum go_phase {
	GO_ELF_CHECK,    /* waiting for the first 4 bytes */
	GO_SEARCH,       /* looking for the magic */
	GO_COLLECT,      /* reading the blob after a magic */
	GO_DONE,         /* found, or not an ELF file */
};

enum go_parse {
	GO_PARSE_MORE,         /* the blob needs more bytes */
	GO_PARSE_OK,
	GO_PARSE_OLD_LAYOUT,   /* pointer-based layout of Go < 1.18 */
	GO_PARSE_REJECT,       /* not build info: resume the search */
};

struct analyzer_stream {
	char *path;
	enum go_phase phase;
	uint64_t offset;                /* file offset of the next byte fed */
	unsigned char head[4];
	size_t head_len;
	unsigned char tail[GO_MAGIC_LEN];  /* last bytes before offset */
	size_t tail_len;
	struct buf blob;                /* bytes from the magic on */
	size_t blob_need;               /* bytes the parser waits for */
	const unsigned char *version;   /* inside blob once parsed */
	size_t version_len;
	const unsigned char *modinfo;
	size_t modinfo_len;
	bool found;                     /* the blob parsed completely */
	bool old_layout;
	bool nomem;
	char invalid[160];              /* why a plausible blob was rejected */
};

static enum analyzer_want
go_wants(const struct scan_file *f, size_t *max_bytes)
{
	if (!S_ISREG(f->mode) || (f->mode & 0111) == 0)
		return ANALYZER_SKIP;
	if (f->size < GO_BINARY_MIN_BYTES ||
	    (uint64_t)f->size > GO_BINARY_MAX_BYTES)
		return ANALYZER_SKIP;
	return ANALYZER_STREAM;
}

static struct analyzer_stream *
go_stream_open(const struct scan_file *f)
{
	struct analyzer_stream *st = pc_calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->path = pc_strdup(f->path);
	if (st->path == NULL) {
		pc_free(st);
		return NULL;
	}
	buf_init(&st->blob, GO_HEADER_LEN + 2 * GO_VARINT_MAX_BYTES +
	    GO_VERSION_MAX_BYTES + GO_MODINFO_MAX_BYTES);
	st->phase = GO_ELF_CHECK;
	return st;
}

/*
 * Decodes an unsigned LEB128 varint at *off. Returns 1 when complete,
 * 0 when more bytes are needed, -1 when it overflows 64 bits.
 */
static int
varint_decode(const unsigned char *p, size_t len, size_t *off,
    uint64_t *value)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < GO_VARINT_MAX_BYTES; i++) {
		unsigned char b;

		if (*off + i >= len)
			return 0;
		b = p[*off + i];
		if (i == GO_VARINT_MAX_BYTES - 1 && b > 1)
			return -1;
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if ((b & 0x80) == 0) {
			*off += i + 1;
			*value = v;
			return 1;
		}
	}
	return -1;
}

/*
 * Reads one length-prefixed string at *off of the blob. Returns
 * GO_PARSE_OK with *s and *n set, GO_PARSE_MORE with blob_need raised, or
 * GO_PARSE_REJECT with the reason in st->invalid.
 */
static enum go_parse
blob_string(struct analyzer_stream *st, size_t *off, uint64_t max,
    const char *what, const unsigned char **s, size_t *n)
{
	const unsigned char *p = (const unsigned char *)st->blob.data;
	uint64_t len;
	int r = varint_decode(p, st->blob.len, off, &len);

	if (r == 0) {
		st->blob_need = st->blob.len + 1;
		return GO_PARSE_MORE;
	}
	if (r < 0) {
		snprintf(st->invalid, sizeof(st->invalid), "%s length is not "
		    "a valid varint", what);
		return GO_PARSE_REJECT;
	}
	if (len > max) {
		snprintf(st->invalid, sizeof(st->invalid), "%s length %llu "
		    "exceeds %llu bytes", what, (unsigned long long)len,
		    (unsigned long long)max);
		return GO_PARSE_REJECT;
	}
	if (*off + len > st->blob.len) {
		st->blob_need = *off + (size_t)len;
		return GO_PARSE_MORE;
	}
	*s = p + *off;
	*n = (size_t)len;
	*off += (size_t)len;
	return GO_PARSE_OK;
}

/* Checks the blob collected so far; see enum go_parse. */
static enum go_parse
blob_parse(struct analyzer_stream *st)
{
	const unsigned char *p = (const unsigned char *)st->blob.data;
	size_t off = GO_HEADER_LEN;
	enum go_parse r;

	if (st->blob.len < GO_HEADER_LEN) {
		st->blob_need = GO_HEADER_LEN;
		return GO_PARSE_MORE;
	}
	if (p[14] != 4 && p[14] != 8)
		return GO_PARSE_REJECT;
	if ((p[15] & GO_FLAG_INLINE) == 0)
		return GO_PARSE_OLD_LAYOUT;

	r = blob_string(st, &off, GO_VERSION_MAX_BYTES, "Go version",
	    &st->version, &st->version_len);
	if (r != GO_PARSE_OK)
		return r;
	if (st->version_len < 2 || (memcmp(st->version, "go", 2) != 0 &&
	    (st->version_len < 5 || memcmp(st->version, "devel", 5) != 0))) {
		snprintf(st->invalid, sizeof(st->invalid), "Go version "
		    "string does not start with \"go\" or \"devel\"");
		return GO_PARSE_REJECT;
	}
	return blob_string(st, &off, GO_MODINFO_MAX_BYTES,
	    "module information", &st->modinfo, &st->modinfo_len);
}

static void go_feed(struct analyzer_stream *st, const unsigned char *data,
    size_t len);

/*
 * Drops the current candidate and searches again from the byte after its
 * magic. The rejected blob is at most a few hundred bytes, because the
 * parser requests bytes only as it needs them, so the recursion is short.
 */
static void
candidate_reject(struct analyzer_stream *st)
{
	size_t len = st->blob.len;
	uint64_t start = st->offset - len;
	char *bytes = buf_steal(&st->blob);

	st->phase = GO_SEARCH;
	st->tail_len = 0;
	st->offset = start + 1;
	if (bytes != NULL && len > 1)
		go_feed(st, (const unsigned char *)bytes + 1, len - 1);
	else
		st->offset = start + len;
	pc_free(bytes);
}

/* Appends to the blob only what the parser needs; returns bytes used. */
static size_t
go_collect(struct analyzer_stream *st, const unsigned char *data, size_t len)
{
	size_t take = st->blob_need > st->blob.len ?
	    st->blob_need - st->blob.len : 0;
	enum go_parse r;

	if (take > len)
		take = len;
	if (take > 0 && buf_append(&st->blob, data, take) != PC_OK) {
		st->nomem = true;
		st->phase = GO_DONE;
		return len;
	}
	st->offset += take;
	if (st->blob.len < st->blob_need)
		return take;

	r = blob_parse(st);
	if (r == GO_PARSE_OK) {
		st->found = true;
		st->phase = GO_DONE;
	} else if (r == GO_PARSE_OLD_LAYOUT) {
		st->old_layout = true;
		candidate_reject(st);
	} else if (r == GO_PARSE_REJECT) {
		candidate_reject(st);
	}
	return take;
}

static void
collect_start(struct analyzer_stream *st)
{
	buf_reset(&st->blob);
	st->blob_need = GO_HEADER_LEN;
	st->phase = GO_COLLECT;
	st->tail_len = 0;
}

/*
 * Looks for a magic that starts in the saved tail and ends in data.
 * Returns true after moving the tail bytes from the magic on into the
 * blob and entering GO_COLLECT.
 */
static bool
search_tail(struct analyzer_stream *st, const unsigned char *data, size_t len)
{
	unsigned char join[2 * GO_MAGIC_LEN];
	uint64_t tail_off = st->offset - st->tail_len;
	size_t extra = len < GO_MAGIC_LEN ? len : GO_MAGIC_LEN;
	size_t join_len = st->tail_len + extra;
	size_t i;

	if (st->tail_len == 0)
		return false;
	memcpy(join, st->tail, st->tail_len);
	memcpy(join + st->tail_len, data, extra);
	for (i = 0; i < st->tail_len; i++) {
		size_t keep;

		if ((tail_off + i) % GO_ALIGN != 0 ||
		    i + GO_MAGIC_LEN > join_len ||
		    memcmp(join + i, GO_MAGIC, GO_MAGIC_LEN) != 0)
			continue;
		keep = st->tail_len - i;
		collect_start(st);
		/* keep < GO_MAGIC_LEN fits in the blob's first allocation. */
		if (buf_append(&st->blob, join + i, keep) != PC_OK) {
			st->nomem = true;
			st->phase = GO_DONE;
		}
		return true;
	}
	return false;
}

/* Keeps the last bytes of the stream so a magic split by a chunk is found. */
static void
tail_update(struct analyzer_stream *st, const unsigned char *data, size_t len)
{
	if (len >= GO_MAGIC_LEN) {
		memcpy(st->tail, data + len - GO_MAGIC_LEN, GO_MAGIC_LEN);
		st->tail_len = GO_MAGIC_LEN;
		return;
	}
	if (st->tail_len + len > GO_MAGIC_LEN) {
		size_t drop = st->tail_len + len - GO_MAGIC_LEN;

		memmove(st->tail, st->tail + drop, st->tail_len - drop);
		st->tail_len -= drop;
	}
	memcpy(st->tail + st->tail_len, data, len);
	st->tail_len += len;
}

/* Searches data for an aligned magic; returns the bytes consumed. */
static size_t
go_search(struct analyzer_stream *st, const unsigned char *data, size_t len)
{
	const unsigned char *p = data;
	const unsigned char *end = data + len;

	if (search_tail(st, data, len))
		return 0;
	while (p < end) {
		const unsigned char *hit = memmem(p, (size_t)(end - p),
		    GO_MAGIC, GO_MAGIC_LEN);
		size_t pos;

		if (hit == NULL)
			break;
		pos = (size_t)(hit - data);
		if ((st->offset + pos) % GO_ALIGN == 0) {
			st->offset += pos;
			collect_start(st);
			return pos;
		}
		p = hit + 1;
	}
	tail_update(st, data, len);
	st->offset += len;
	return len;
}

static void
go_feed(struct analyzer_stream *st, const unsigned char *data, size_t len)
{
	while (len > 0 && st->phase != GO_DONE) {
		size_t used = 0;

		switch (st->phase) {
		case GO_ELF_CHECK:
			while (st->head_len < sizeof(st->head) &&
			    used < len)
				st->head[st->head_len++] = data[used++];
			if (st->head_len < sizeof(st->head))
				break;
			st->phase = memcmp(st->head, "\x7f" "ELF", 4) == 0 ?
			    GO_SEARCH : GO_DONE;
			/* The search scans the header bytes again. */
			used = 0;
			break;
		case GO_SEARCH:
			used = go_search(st, data, len);
			break;
		case GO_COLLECT:
			used = go_collect(st, data, len);
			break;
		case GO_DONE:
			break;
		}
		if (st->phase == GO_ELF_CHECK)
			st->offset += used;
		data += used;
		len -= used;
	}
}

static int
go_stream_data(struct analyzer_stream *st, const unsigned char *data,
    size_t len)
{
	go_feed(st, data, len);
	return PC_OK;
}

/* Module paths, versions and build settings keys are printable ASCII. */
static bool
field_valid(const unsigned char *s, size_t n, bool allow_space)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] > '~' || s[i] < ' ' || (s[i] == ' ' && !allow_space))
			return false;
	}
	return true;
}

/* Reads a decimal number of at most 9 digits at *p. */
static bool
parse_number(const char **p, unsigned long *value)
{
	const char *s = *p;
	unsigned long v = 0;
	size_t digits = 0;

	while (*s >= '0' && *s <= '9' && digits < 9) {
		v = v * 10 + (unsigned long)(*s - '0');
		s++;
		digits++;
	}
	if (digits == 0 || (*s >= '0' && *s <= '9'))
		return false;
	*p = s;
	*value = v;
	return true;
}

/*
 * Converts a Go toolchain version to the semantic version that Go
 * advisories use for the standard library: "go1.22.4" -> "v1.22.4",
 * "go1.20" -> "v1.20.0", "go1.22rc1" -> "v1.22.0-rc.1". Experiment
 * suffixes (" X:boringcrypto", "-X:...") are dropped. Returns false for
 * development builds and anything else.
 */
static bool
go_stdlib_version(const unsigned char *version, size_t len, char *out,
    size_t outlen)
{
	char v[GO_VERSION_MAX_BYTES + 1];
	unsigned long major, minor, patch = 0, pre = 0;
	const char *pre_kind = NULL;
	const char *p;
	char *cut;
	int n;

	memcpy(v, version, len);
	v[len] = '\0';
	cut = strchr(v, ' ');
	if (cut != NULL)
		*cut = '\0';
	cut = strstr(v, "-X:");
	if (cut != NULL)
		*cut = '\0';
	if (strncmp(v, "go", 2) != 0)
		return false;
	p = v + 2;
	if (!parse_number(&p, &major) || *p++ != '.' ||
	    !parse_number(&p, &minor))
		return false;
	if (*p == '.') {
		p++;
		if (!parse_number(&p, &patch))
			return false;
	}
	if (strncmp(p, "rc", 2) == 0 || strncmp(p, "beta", 4) == 0) {
		pre_kind = p[0] == 'r' ? "rc" : "beta";
		p += strlen(pre_kind);
		if (!parse_number(&p, &pre))
			return false;
	}
	if (*p != '\0')
		return false;
	if (pre_kind != NULL)
		n = snprintf(out, outlen, "v%lu.%lu.%lu-%s.%lu", major, minor,
		    patch, pre_kind, pre);
	else
		n = snprintf(out, outlen, "v%lu.%lu.%lu", major, minor, patch);
	return n > 0 && (size_t)n < outlen;
}

/* One module record of the module information, before replacement. */
struct go_module {
	const unsigned char *path;
	size_t path_len;
	const unsigned char *version;
	size_t version_len;
	bool present;
};

static int
packages_add(json_t *packages, const unsigned char *path, size_t path_len,
    const char *version)
{
	json_t *pkg = json_pack("{s:s, s:s, s:s%, s:s}", "type", "go",
	    "ecosystem", "Go", "name", (const char *)path, path_len,
	    "version", version);

	if (pkg == NULL)
		return PC_ERR_NOMEM;
	return json_array_append_new(packages, pkg) == 0 ? PC_OK :
	    PC_ERR_NOMEM;
}

/*
 * Adds a module to packages unless it has no registry version: "(devel)"
 * marks a main module built from a work tree or a local replacement.
 */
static int
module_add(json_t *packages, const struct go_module *m)
{
	char version[GO_VERSION_MAX_BYTES + 1];

	if (!m->present || !field_valid(m->path, m->path_len, false) ||
	    !field_valid(m->version, m->version_len, false) ||
	    m->version_len > GO_VERSION_MAX_BYTES)
		return PC_OK;
	memcpy(version, m->version, m->version_len);
	version[m->version_len] = '\0';
	if (strcmp(version, "(devel)") == 0)
		return PC_OK;
	return packages_add(packages, m->path, m->path_len, version);
}

/* Splits a line at tabs into at most max fields; returns the count. */
static size_t
line_fields(const unsigned char *line, size_t len,
    const unsigned char **field, size_t *field_len, size_t max)
{
	size_t n = 0;
	size_t start = 0;
	size_t i;

	for (i = 0; i <= len && n < max; i++) {
		if (i < len && line[i] != '\t')
			continue;
		field[n] = line + start;
		field_len[n] = i - start;
		n++;
		start = i + 1;
	}
	return n;
}

static void
module_set(struct go_module *m, const unsigned char **field,
    const size_t *field_len, size_t n)
{
	m->present = true;
	m->path = field[1];
	m->path_len = field_len[1];
	m->version = n > 2 ? field[2] : field[1];
	m->version_len = n > 2 ? field_len[2] : 0;
}

static int
setting_add(json_t *settings, const unsigned char *s, size_t len)
{
	const unsigned char *eq = memchr(s, '=', len);
	char key[128];
	size_t key_len;
	json_t *value;

	if (eq == NULL || json_object_size(settings) >= GO_MAX_SETTINGS)
		return PC_OK;
	key_len = (size_t)(eq - s);
	if (key_len >= sizeof(key) || !field_valid(s, key_len, false) ||
	    (len > key_len + 1 &&
	    !field_valid(eq + 1, len - key_len - 1, true)))
		return PC_OK;
	memcpy(key, s, key_len);
	key[key_len] = '\0';
	value = json_stringn((const char *)eq + 1, len - key_len - 1);
	if (value == NULL)
		return PC_ERR_NOMEM;
	return json_object_set_new(settings, key, value) == 0 ? PC_OK :
	    PC_ERR_NOMEM;
}

/* Handles one modinfo line; dep and its replacement wait in *dep, *repl. */
static int
modinfo_line(json_t *result, json_t *packages, const unsigned char *line,
    size_t len, struct go_module *dep, struct go_module *repl)
{
	const unsigned char *field[4];
	size_t field_len[4];
	size_t n = line_fields(line, len, field, field_len, 4);
	int err = PC_OK;

#define IS(word) (field_len[0] == strlen(word) && \
	memcmp(field[0], word, field_len[0]) == 0)
	if (n < 2)
		return PC_OK;
	if (IS("path") && field_valid(field[1], field_len[1], false)) {
		json_t *path = json_stringn((const char *)field[1],
		    field_len[1]);

		if (path == NULL || json_object_set_new(result, "path",
		    path) != 0)
			err = PC_ERR_NOMEM;
	} else if (IS("mod")) {
		struct go_module main_module;

		module_set(&main_module, field, field_len, n);
		err = module_add(packages, &main_module);
	} else if (IS("dep")) {
		err = module_add(packages, repl->present ? repl : dep);
		module_set(dep, field, field_len, n);
		repl->present = false;
	} else if (IS("=>") && dep->present) {
		module_set(repl, field, field_len, n);
	} else if (IS("build")) {
		err = setting_add(json_object_get(result, "settings"),
		    field[1], len - (size_t)(field[1] - line));
	}
#undef IS
	return err;
}

static int
modinfo_parse(json_t *result, json_t *packages, const unsigned char *mod,
    size_t len)
{
	struct go_module dep = { 0 }, repl = { 0 };
	const unsigned char *end;
	int err;

	/* As in debug/buildinfo, the sentinels frame a newline-ended text. */
	if (len < 2 * GO_SENTINEL_LEN + 1 ||
	    mod[len - GO_SENTINEL_LEN - 1] != '\n')
		return PC_OK;
	mod += GO_SENTINEL_LEN;
	len -= 2 * GO_SENTINEL_LEN;
	end = mod + len;
	while (mod < end) {
		const unsigned char *nl = memchr(mod, '\n',
		    (size_t)(end - mod));
		size_t line_len = nl != NULL ? (size_t)(nl - mod) :
		    (size_t)(end - mod);

		err = modinfo_line(result, packages, mod, line_len, &dep,
		    &repl);
		if (err != PC_OK)
			return err;
		mod += line_len + 1;
	}
	return module_add(packages, repl.present ? &repl : &dep);
}

static json_t *
go_result_new(const struct analyzer_stream *st)
{
	bool printable = field_valid(st->version, st->version_len, true);
	char stdlib[64];
	json_t *result, *packages;

	result = json_pack("{s:s%, s:{}, s:[]}", "go_version",
	    printable ? (const char *)st->version : "",
	    printable ? st->version_len : 0, "settings", "packages");
	if (result == NULL)
		return NULL;
	packages = json_object_get(result, "packages");
	if (modinfo_parse(result, packages, st->modinfo, st->modinfo_len) !=
	    PC_OK)
		goto fail;
	if (go_stdlib_version(st->version, st->version_len, stdlib,
	    sizeof(stdlib)) &&
	    packages_add(packages, (const unsigned char *)"stdlib", 6,
	    stdlib) != PC_OK)
		goto fail;
	return result;
fail:
	json_decref(result);
	return NULL;
}

/* Whether the blob being collected has a valid Go 1.18+ header. */
static bool
blob_plausible(const struct analyzer_stream *st)
{
	const unsigned char *p = (const unsigned char *)st->blob.data;

	return st->blob.len >= GO_HEADER_LEN && (p[14] == 4 || p[14] == 8) &&
	    (p[15] & GO_FLAG_INLINE) != 0;
}

static int
go_stream_close(struct analyzer_stream *st, bool complete,
    struct layer_result *res)
{
	int err = PC_OK;

	if (st->nomem) {
		err = PC_ERR_NOMEM;
	} else if (st->found) {
		json_t *result = go_result_new(st);

		err = result != NULL ?
		    layer_result_set(res, st->path, "go", result) :
		    PC_ERR_NOMEM;
	} else if (!complete) {
		err = PC_OK;
	} else if (st->phase == GO_COLLECT && blob_plausible(st)) {
		err = analyzer_error(res, "go", st->path, "Go build info is "
		    "truncated at the end of the file");
	} else if (st->old_layout) {
		err = analyzer_error(res, "go", st->path, "unsupported Go "
		    "build info layout (Go < 1.18)");
	} else if (st->invalid[0] != '\0') {
		err = analyzer_error(res, "go", st->path,
		    "invalid Go build info: %s", st->invalid);
	}
	buf_free(&st->blob);
	pc_free(st->path);
	pc_free(st);
	return err;
}

const struct analyzer analyzer_go = {
	.name = "go",
	.wants = go_wants,
	.stream_open = go_stream_open,
	.stream_data = go_stream_data,
	.stream_close = go_stream_close,
};
