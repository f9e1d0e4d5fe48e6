#include "scanner/analyzers.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "scanner/analyzer_error.h"
#include "scanner/layer_scan.h"

/*
 * Java archives (.jar, .war, .ear, .par), read as zip files from memory
 * with libarchive. Each archive yields packages from, in order of trust:
 *
 * 1. every META-INF/maven/<group>/<artifact>/pom.properties in it, one
 *    package each. Shaded jars carry one per bundled library, and each is
 *    reported with its own version, never with the outer jar's;
 * 2. if there is none, META-INF/MANIFEST.MF (main section);
 * 3. then the file name pattern <artifact>-<version>.jar.
 *
 * Archives nested in archives (WEB-INF/lib/x.jar, BOOT-INF/lib/x.jar, an
 * .ear's modules) are read the same way, up to JAVA_MAX_NESTING_DEPTH
 * levels below the file and within a budget of decompressed bytes for the
 * whole file.
 *
 * Result: files[path]["java"] = {"packages": [{"type": "maven",
 * "ecosystem": "Maven", "name": "<group>:<artifact>", "version",
 * "jar_path"}]}, where jar_path names the archive that contains the
 * metadata: "srv/app.war" or "srv/app.war!WEB-INF/lib/x.jar".
 */

/*
 * Read cap of an archive in the image and of one nested archive. The scan
 * limit max_file_bytes (scanner/layer_scan.h) lowers it when smaller.
 */
#define JAVA_ARCHIVE_MAX_BYTES (32U * 1024 * 1024)

/*
 * Levels of archives inside the file that are opened (a jar in a war is
 * level 1). The scan limit max_archive_depth lowers it when smaller.
 */
#define JAVA_MAX_NESTING_DEPTH 3

/*
 * Decompressed bytes read from all entries of one file, nested archives
 * and their metadata included. A zip bomb stops here.
 */
#define JAVA_TOTAL_BYTES_BUDGET (128U * 1024 * 1024)

/* Zip entries visited in one file, across all nesting levels. */
#define JAVA_MAX_ENTRIES 200000

/* Read cap of one pom.properties. */
#define JAVA_POM_MAX_BYTES (64 * 1024)

/* Read cap of one MANIFEST.MF; OSGi export lists make some large. */
#define JAVA_MANIFEST_MAX_BYTES (1024 * 1024)

/* Scan errors recorded for one file; later ones are dropped. */
#define JAVA_MAX_ERRORS 16

/* Maximum length of a group, artifact or version from any source. */
#define JAVA_FIELD_MAX_BYTES 256

/* Zip entry names longer than this are cut in jar paths and messages. */
#define JAVA_ENTRY_NAME_MAX_BYTES 1024

/* The scan of one file in the image. */
struct java_scan {
	struct layer_result *res;
	json_t *packages;
	json_t *seen;              /* "name\nversion\njar_path" keys */
	uint64_t budget;           /* decompressed bytes left to read */
	size_t entries;            /* entries visited so far */
	unsigned max_depth;
	size_t nested_max_bytes;
	unsigned errors;
	bool stopped;              /* a file-wide limit was hit */
};

/* Coordinates found in one archive's metadata, before validation. */
struct java_coords {
	char group[JAVA_FIELD_MAX_BYTES + 1];
	char artifact[JAVA_FIELD_MAX_BYTES + 1];
	char version[JAVA_FIELD_MAX_BYTES + 1];
};

static bool
has_suffix_nocase(const char *s, const char *suffix)
{
	size_t n = strlen(s);
	size_t m = strlen(suffix);

	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static bool
is_java_archive(const char *name)
{
	return has_suffix_nocase(name, ".jar") ||
	    has_suffix_nocase(name, ".war") ||
	    has_suffix_nocase(name, ".ear") ||
	    has_suffix_nocase(name, ".par");
}

static enum analyzer_want
java_wants(const struct scan_file *f, size_t *max_bytes)
{
	if (!S_ISREG(f->mode) || !is_java_archive(f->path))
		return ANALYZER_SKIP;
	*max_bytes = JAVA_ARCHIVE_MAX_BYTES;
	return ANALYZER_CONTENT;
}

static int java_error(struct java_scan *scan, const char *jar_path,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Records a scan error for jar_path unless JAVA_MAX_ERRORS were recorded. */
static int
java_error(struct java_scan *scan, const char *jar_path, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	if (scan->errors >= JAVA_MAX_ERRORS)
		return PC_OK;
	scan->errors++;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	return analyzer_error(scan->res, "java", jar_path, "%s", reason);
}

/* Group ids, artifact ids and versions: printable ASCII, no spaces. */
static bool
coord_valid(const char *s)
{
	size_t n = strlen(s);
	size_t i;

	if (n == 0 || n > JAVA_FIELD_MAX_BYTES)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	}
	/* An unexpanded Maven property is no version. */
	return strstr(s, "${") == NULL;
}

/* Artifact ids as Maven accepts them: letters, digits, '.', '_', '-'. */
static bool
artifact_id_valid(const char *s)
{
	size_t i;

	if (s[0] == '\0' || strlen(s) > JAVA_FIELD_MAX_BYTES)
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '_' && s[i] != '-')
			return false;
	}
	return true;
}

static void
field_copy(char *dst, const char *src, size_t len)
{
	if (len > JAVA_FIELD_MAX_BYTES)
		len = JAVA_FIELD_MAX_BYTES;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Adds a package unless the same name and version came from jar_path. */
static int
java_package_add(struct java_scan *scan, const char *group,
    const char *artifact, const char *version, const char *jar_path)
{
	char name[2 * JAVA_FIELD_MAX_BYTES + 2];
	struct buf key;
	json_t *pkg;
	int err;

	if (!coord_valid(artifact) || !coord_valid(version) ||
	    (group[0] != '\0' && !coord_valid(group)))
		return PC_OK;
	if (group[0] != '\0')
		snprintf(name, sizeof(name), "%s:%s", group, artifact);
	else
		snprintf(name, sizeof(name), "%s", artifact);

	buf_init(&key, SIZE_MAX);
	err = buf_printf(&key, "%s\n%s\n%s", name, version, jar_path);
	if (err != PC_OK || json_object_get(scan->seen, key.data) != NULL)
		goto out;
	err = PC_ERR_NOMEM;
	if (json_object_set_new(scan->seen, key.data, json_true()) != 0)
		goto out;
	pkg = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "maven",
	    "ecosystem", "Maven", "name", name, "version", version,
	    "jar_path", jar_path);
	if (pkg != NULL && json_array_append_new(scan->packages, pkg) == 0)
		err = PC_OK;
out:
	buf_free(&key);
	return err;
}

/*
 * Returns the start of the line after the one at p and stores the length
 * of the line at p, without its end, in *len. Line ends are "\r\n", "\n"
 * or a bare "\r".
 */
static const char *
next_line(const char *p, const char *end, size_t *len)
{
	const char *start = p;

	while (p < end && *p != '\r' && *p != '\n')
		p++;
	*len = (size_t)(p - start);
	if (p < end && *p == '\r') {
		p++;
		if (p < end && *p == '\n')
			p++;
	} else if (p < end) {
		p++;
	}
	return p;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes one escape of java.util.Properties at s[*i] (just after the
 * backslash) and returns the byte it stands for. A \uXXXX outside
 * printable ASCII becomes '?'.
 */
static char
property_unescape(const char *s, size_t len, size_t *i)
{
	char c = s[*i];
	unsigned v = 0;
	size_t k;

	(*i)++;
	switch (c) {
	case 't':
		return '\t';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 'f':
		return '\f';
	case 'u':
		for (k = 0; k < 4; k++) {
			int h = *i + k < len ? hex_value(s[*i + k]) : -1;

			if (h < 0)
				return '?';
			v = v * 16 + (unsigned)h;
		}
		*i += 4;
		return v >= 0x20 && v < 0x7f ? (char)v : '?';
	default:
		return c;
	}
}

/* Stores key and value of one logical properties line into coords. */
static void
property_line(const char *s, size_t len, struct java_coords *coords)
{
	char key[32], value[JAVA_FIELD_MAX_BYTES + 1];
	size_t i = 0, k = 0, v = 0;

	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\f'))
		i++;
	if (i == len || s[i] == '#' || s[i] == '!')
		return;
	while (i < len && s[i] != '=' && s[i] != ':' && s[i] != ' ' &&
	    s[i] != '\t' && s[i] != '\f') {
		char c = s[i++];

		if (c == '\\' && i < len)
			c = property_unescape(s, len, &i);
		if (k < sizeof(key) - 1)
			key[k++] = c;
	}
	key[k] = '\0';
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\f'))
		i++;
	if (i < len && (s[i] == '=' || s[i] == ':'))
		i++;
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\f'))
		i++;
	while (i < len && v < sizeof(value) - 1) {
		char c = s[i++];

		if (c == '\\' && i < len)
			c = property_unescape(s, len, &i);
		value[v++] = c;
	}
	value[v] = '\0';
	while (v > 0 && (value[v - 1] == ' ' || value[v - 1] == '\t'))
		value[--v] = '\0';

	if (strcmp(key, "groupId") == 0)
		field_copy(coords->group, value, v);
	else if (strcmp(key, "artifactId") == 0)
		field_copy(coords->artifact, value, v);
	else if (strcmp(key, "version") == 0)
		field_copy(coords->version, value, v);
}

/* Whether a properties line ends in an odd number of backslashes. */
static bool
line_continues(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && s[len - 1 - n] == '\\')
		n++;
	return n % 2 == 1;
}

/*
 * Parses pom.properties as java.util.Properties reads it: comments start
 * with '#' or '!', the key ends at '=', ':' or white space, and a line
 * ending in a backslash continues on the next one.
 */
static int
pom_parse(const char *text, size_t len, struct java_coords *coords)
{
	const char *p = text, *end;
	struct buf logical;
	int err = PC_OK;

	memset(coords, 0, sizeof(*coords));
	if (len == 0)
		return PC_OK;
	end = text + len;
	buf_init(&logical, JAVA_POM_MAX_BYTES);
	while (p < end) {
		const char *line = p;
		size_t n;
		bool more;

		p = next_line(p, end, &n);
		if (logical.len > 0) {
			while (n > 0 && (*line == ' ' || *line == '\t')) {
				line++;
				n--;
			}
		}
		more = line_continues(line, n);
		err = buf_append(&logical, line, more ? n - 1 : n);
		if (err != PC_OK)
			goto out;
		if (more && p < end)
			continue;
		property_line(logical.data, logical.len, coords);
		buf_reset(&logical);
	}
out:
	buf_free(&logical);
	return err == PC_ERR_LIMIT ? PC_OK : err;
}

enum manifest_key {
	MF_IMPL_TITLE,
	MF_IMPL_VERSION,
	MF_IMPL_VENDOR_ID,
	MF_SPEC_TITLE,
	MF_SPEC_VERSION,
	MF_BUNDLE_SYMBOLIC_NAME,
	MF_BUNDLE_VERSION,
	MF_KEY_COUNT,
};

static const char *const manifest_key_names[MF_KEY_COUNT] = {
	[MF_IMPL_TITLE] = "Implementation-Title",
	[MF_IMPL_VERSION] = "Implementation-Version",
	[MF_IMPL_VENDOR_ID] = "Implementation-Vendor-Id",
	[MF_SPEC_TITLE] = "Specification-Title",
	[MF_SPEC_VERSION] = "Specification-Version",
	[MF_BUNDLE_SYMBOLIC_NAME] = "Bundle-SymbolicName",
	[MF_BUNDLE_VERSION] = "Bundle-Version",
};

/* The main section attributes of a manifest that name the archive. */
struct manifest {
	struct buf value[MF_KEY_COUNT];
	bool too_long[MF_KEY_COUNT];
};

static void
manifest_init(struct manifest *mf)
{
	size_t i;

	for (i = 0; i < MF_KEY_COUNT; i++) {
		buf_init(&mf->value[i], JAVA_FIELD_MAX_BYTES);
		mf->too_long[i] = false;
	}
}

static void
manifest_free(struct manifest *mf)
{
	size_t i;

	for (i = 0; i < MF_KEY_COUNT; i++)
		buf_free(&mf->value[i]);
}

/* Returns the attribute, or "" when it is missing or too long. */
static const char *
manifest_get(const struct manifest *mf, enum manifest_key key)
{
	if (mf->too_long[key] || mf->value[key].len == 0)
		return "";
	return mf->value[key].data;
}

static int
manifest_append(struct manifest *mf, int key, const char *s, size_t len)
{
	int err;

	if (key < 0)
		return PC_OK;
	err = buf_append(&mf->value[key], s, len);
	if (err == PC_ERR_LIMIT) {
		mf->too_long[key] = true;
		return PC_OK;
	}
	return err;
}

/*
 * Parses the main section of a manifest: "Name: value" lines up to the
 * first empty line, where a line starting with one space continues the
 * value before it.
 */
static int
manifest_parse(const char *text, size_t len, struct manifest *mf)
{
	const char *p = text, *end;
	int key = -1;
	int err;

	if (len == 0)
		return PC_OK;
	end = text + len;
	while (p < end) {
		const char *line = p;
		const char *colon;
		size_t n, i;

		p = next_line(p, end, &n);
		if (n == 0)
			break;
		if (line[0] == ' ') {
			err = manifest_append(mf, key, line + 1, n - 1);
			if (err != PC_OK)
				return err;
			continue;
		}
		key = -1;
		colon = memchr(line, ':', n);
		if (colon == NULL)
			continue;
		for (i = 0; i < MF_KEY_COUNT; i++) {
			size_t k = strlen(manifest_key_names[i]);

			if ((size_t)(colon - line) == k &&
			    strncasecmp(line, manifest_key_names[i], k) == 0 &&
			    mf->value[i].len == 0)
				key = (int)i;
		}
		colon++;
		while (colon < line + n && *colon == ' ')
			colon++;
		err = manifest_append(mf, key, colon,
		    (size_t)(line + n - colon));
		if (err != PC_OK)
			return err;
	}
	return PC_OK;
}

/* Returns the last component of a jar path ("a.war!WEB-INF/lib/x.jar"). */
static const char *
archive_base_name(const char *jar_path)
{
	const char *slash = strrchr(jar_path, '/');
	const char *bang = strrchr(jar_path, '!');
	const char *base = jar_path;

	if (slash != NULL && slash + 1 > base)
		base = slash + 1;
	if (bang != NULL && bang + 1 > base)
		base = bang + 1;
	return base;
}

/*
 * Splits a file name of the form <artifact>-<version>.<ext> at the last
 * '-' that a digit follows: "log4j-1.2-api-2.17.1.jar" gives
 * "log4j-1.2-api" and "2.17.1". Leaves both empty when there is none.
 */
static void
coords_from_file_name(const char *jar_path, char *artifact, char *version)
{
	const char *base = archive_base_name(jar_path);
	const char *dot = strrchr(base, '.');
	const char *end = dot != NULL ? dot : base + strlen(base);
	const char *p;

	artifact[0] = '\0';
	version[0] = '\0';
	for (p = end - 1; p > base; p--) {
		if (*p == '-' && p + 1 < end && isdigit((unsigned char)p[1]))
			break;
	}
	if (p <= base)
		return;
	field_copy(artifact, base, (size_t)(p - base));
	field_copy(version, p + 1, (size_t)(end - p - 1));
}

/*
 * Derives coordinates from manifest attributes, falling back to the file
 * name. The version is Implementation-Version, Bundle-Version or
 * Specification-Version. The artifact is a title that is a valid artifact
 * id, else the file name's, else the last segment of Bundle-SymbolicName.
 * The group is Implementation-Vendor-Id, else Bundle-SymbolicName without
 * its last segment.
 *
 * NOTE: without pom.properties these are guesses. An OSGi symbolic name
 * is often not group and artifact ("org.apache.commons.lang3" belongs to
 * org.apache.commons:commons-lang3), so such names may match no advisory.
 */
static void
coords_from_manifest(const struct manifest *mf, const char *jar_path,
    struct java_coords *c)
{
	char file_artifact[JAVA_FIELD_MAX_BYTES + 1];
	char file_version[JAVA_FIELD_MAX_BYTES + 1];
	char bsn[JAVA_FIELD_MAX_BYTES + 1];
	const char *title = manifest_get(mf, MF_IMPL_TITLE);
	const char *spec_title = manifest_get(mf, MF_SPEC_TITLE);
	const char *last_dot;
	const char *v;

	memset(c, 0, sizeof(*c));
	coords_from_file_name(jar_path, file_artifact, file_version);
	field_copy(bsn, manifest_get(mf, MF_BUNDLE_SYMBOLIC_NAME),
	    strcspn(manifest_get(mf, MF_BUNDLE_SYMBOLIC_NAME), "; "));
	last_dot = strrchr(bsn, '.');

	v = manifest_get(mf, MF_IMPL_VERSION);
	if (v[0] == '\0')
		v = manifest_get(mf, MF_BUNDLE_VERSION);
	if (v[0] == '\0')
		v = manifest_get(mf, MF_SPEC_VERSION);
	if (v[0] == '\0')
		v = file_version;
	field_copy(c->version, v, strlen(v));

	if (artifact_id_valid(title))
		field_copy(c->artifact, title, strlen(title));
	else if (artifact_id_valid(spec_title))
		field_copy(c->artifact, spec_title, strlen(spec_title));
	else if (file_artifact[0] != '\0')
		field_copy(c->artifact, file_artifact, strlen(file_artifact));
	else if (last_dot != NULL && artifact_id_valid(last_dot + 1))
		field_copy(c->artifact, last_dot + 1, strlen(last_dot + 1));

	v = manifest_get(mf, MF_IMPL_VENDOR_ID);
	if (coord_valid(v))
		field_copy(c->group, v, strlen(v));
	else if (last_dot != NULL && last_dot > bsn)
		field_copy(c->group, bsn, (size_t)(last_dot - bsn));
}

/* Whether name is META-INF/maven/<group>/<artifact>/pom.properties. */
static bool
is_pom_properties(const char *name)
{
	static const char prefix[] = "META-INF/maven/";
	const char *group = name + sizeof(prefix) - 1;
	const char *artifact, *file;

	if (strncmp(name, prefix, sizeof(prefix) - 1) != 0)
		return false;
	artifact = strchr(group, '/');
	if (artifact == NULL || artifact == group)
		return false;
	artifact++;
	file = strchr(artifact, '/');
	if (file == NULL || file == artifact)
		return false;
	return strcmp(file, "/pom.properties") == 0;
}

/*
 * Reads the current entry's data into out, at most cap bytes. Sets *cut
 * when the entry is longer. Returns PC_OK, PC_ERR_LIMIT when the file's
 * budget of decompressed bytes ran out, PC_ERR_INVALID when libarchive
 * failed (the message is recorded), or PC_ERR_NOMEM.
 */
static int
entry_read(struct java_scan *scan, struct archive *a, const char *jar_path,
    const char *name, size_t cap, struct buf *out, bool *cut)
{
	char chunk[16384];
	int err;

	*cut = false;
	for (;;) {
		la_ssize_t n = archive_read_data(a, chunk, sizeof(chunk));

		if (n == 0)
			return PC_OK;
		if (n < 0) {
			err = java_error(scan, jar_path, "cannot read entry "
			    "%s: %s", name, archive_error_string(a) != NULL ?
			    archive_error_string(a) : "unknown error");
			return err != PC_OK ? err : PC_ERR_INVALID;
		}
		if ((uint64_t)n > scan->budget) {
			scan->stopped = true;
			scan->budget = 0;
			err = java_error(scan, jar_path, "decompressed entries "
			    "exceed the budget of %u bytes for one file, the "
			    "rest is not read", JAVA_TOTAL_BYTES_BUDGET);
			return err != PC_OK ? err : PC_ERR_LIMIT;
		}
		scan->budget -= (uint64_t)n;
		if (out->len + (size_t)n > cap) {
			*cut = true;
			return buf_append(out, chunk, cap - out->len);
		}
		err = buf_append(out, chunk, (size_t)n);
		if (err != PC_OK)
			return err;
	}
}

static int java_scan_archive(struct java_scan *scan, const unsigned char *data,
    size_t len, const char *jar_path, unsigned depth);

/* Reads a nested archive entry and scans it one level deeper. */
static int
nested_scan(struct java_scan *scan, struct archive *a, const char *jar_path,
    const char *name, unsigned depth)
{
	struct buf content, child_path;
	bool cut;
	int err;

	if (depth + 1 > scan->max_depth)
		return java_error(scan, jar_path, "nested archive %s is more "
		    "than %u levels deep, not read", name, scan->max_depth);

	buf_init(&content, scan->nested_max_bytes);
	buf_init(&child_path, SIZE_MAX);
	err = entry_read(scan, a, jar_path, name, scan->nested_max_bytes,
	    &content, &cut);
	if (err == PC_ERR_LIMIT || err == PC_ERR_INVALID) {
		err = PC_OK;
		goto out;
	}
	if (err != PC_OK)
		goto out;
	if (cut) {
		err = java_error(scan, jar_path, "nested archive %s is larger "
		    "than %zu bytes, not read", name, scan->nested_max_bytes);
		goto out;
	}
	err = buf_printf(&child_path, "%s!%s", jar_path, name);
	if (err != PC_OK)
		goto out;
	/* An empty entry has no storage; libarchive still gets a pointer. */
	err = java_scan_archive(scan, content.data != NULL ?
	    (const unsigned char *)content.data : (const unsigned char *)"",
	    content.len, child_path.data, depth + 1);
out:
	buf_free(&content);
	buf_free(&child_path);
	return err;
}

/* Handles one pom.properties or MANIFEST.MF entry. */
static int
metadata_read(struct java_scan *scan, struct archive *a, const char *jar_path,
    const char *name, struct manifest *mf, bool *have_manifest,
    bool *have_pom)
{
	bool pom = is_pom_properties(name);
	struct java_coords coords;
	struct buf text;
	bool cut;
	int err;

	buf_init(&text, pom ? JAVA_POM_MAX_BYTES : JAVA_MANIFEST_MAX_BYTES);
	err = entry_read(scan, a, jar_path, name, text.max, &text, &cut);
	if (err == PC_ERR_LIMIT || err == PC_ERR_INVALID) {
		err = PC_OK;
		goto out;
	}
	if (err != PC_OK)
		goto out;

	if (!pom) {
		/* A cut manifest still has its main section first. */
		*have_manifest = true;
		err = manifest_parse(text.data, text.len, mf);
		goto out;
	}
	err = pom_parse(text.data, text.len, &coords);
	if (err != PC_OK || !coord_valid(coords.group) ||
	    !coord_valid(coords.artifact) || !coord_valid(coords.version))
		goto out;
	*have_pom = true;
	err = java_package_add(scan, coords.group, coords.artifact,
	    coords.version, jar_path);
out:
	buf_free(&text);
	return err;
}

/*
 * Visits the entries of one open archive and stops at the first fatal
 * error. Sets *readable once an entry header or the clean end was read.
 */
static int
entries_walk(struct java_scan *scan, struct archive *a, const char *jar_path,
    unsigned depth, struct manifest *mf, bool *have_pom, bool *readable)
{
	bool have_manifest = false;
	char name[JAVA_ENTRY_NAME_MAX_BYTES + 1];
	struct archive_entry *entry;
	int err = PC_OK;

	while (err == PC_OK && !scan->stopped) {
		int r = archive_read_next_header(a, &entry);
		const char *raw;

		if (r == ARCHIVE_EOF) {
			*readable = true;
			break;
		}
		if (++scan->entries > JAVA_MAX_ENTRIES) {
			scan->stopped = true;
			return java_error(scan, jar_path, "more than %d zip "
			    "entries, the rest is not read", JAVA_MAX_ENTRIES);
		}
		if (r == ARCHIVE_RETRY)
			continue;
		if (r < ARCHIVE_WARN)
			return java_error(scan, jar_path,
			    "invalid zip archive: %s",
			    archive_error_string(a) != NULL ?
			    archive_error_string(a) : "unknown error");
		*readable = true;
		raw = archive_entry_pathname(entry);
		if (raw == NULL)
			raw = archive_entry_pathname_utf8(entry);
		if (raw == NULL || archive_entry_filetype(entry) == AE_IFDIR)
			continue;
		/* Names end up in JSON strings: valid UTF-8 only. */
		snprintf(name, sizeof(name), "%s", raw);
		analyzer_text_clean(name);

		if (is_pom_properties(name) ||
		    (!have_manifest && strcasecmp(name,
		    "META-INF/MANIFEST.MF") == 0))
			err = metadata_read(scan, a, jar_path, name, mf,
			    &have_manifest, have_pom);
		else if (is_java_archive(name))
			err = nested_scan(scan, a, jar_path, name, depth);
	}
	return err;
}

/*
 * Scans one archive held in memory: its own metadata gives packages with
 * this jar_path, and nested archives are scanned recursively.
 */
static int
java_scan_archive(struct java_scan *scan, const unsigned char *data,
    size_t len, const char *jar_path, unsigned depth)
{
	struct java_coords coords;
	struct manifest mf;
	struct archive *a;
	bool have_pom = false, readable = false;
	int err;

	a = archive_read_new();
	if (a == NULL)
		return PC_ERR_NOMEM;
	manifest_init(&mf);
	if (archive_read_support_format_zip(a) != ARCHIVE_OK) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
		err = java_error(scan, jar_path, "not a readable zip "
		    "archive: %s", archive_error_string(a) != NULL ?
		    archive_error_string(a) : "unknown error");
		goto out;
	}

	err = entries_walk(scan, a, jar_path, depth, &mf, &have_pom,
	    &readable);
	/* The file name of an archive that is no zip names no package. */
	if (err != PC_OK || have_pom || !readable)
		goto out;
	coords_from_manifest(&mf, jar_path, &coords);
	err = java_package_add(scan, coords.group, coords.artifact,
	    coords.version, jar_path);
out:
	manifest_free(&mf);
	archive_read_free(a);
	return err;
}

static int
java_analyze(const struct scan_file *f, const unsigned char *data, size_t len,
    bool truncated, struct layer_result *res)
{
	const struct scan_limits *limits = layer_scan_limits();
	struct java_scan scan;
	int err;

	memset(&scan, 0, sizeof(scan));
	scan.res = res;
	scan.budget = JAVA_TOTAL_BYTES_BUDGET;
	scan.max_depth = JAVA_MAX_NESTING_DEPTH;
	if (limits->max_archive_depth < scan.max_depth)
		scan.max_depth = limits->max_archive_depth;
	scan.nested_max_bytes = JAVA_ARCHIVE_MAX_BYTES;
	if (limits->max_file_bytes < scan.nested_max_bytes)
		scan.nested_max_bytes = limits->max_file_bytes;
	scan.packages = json_array();
	scan.seen = json_object();
	if (scan.packages == NULL || scan.seen == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}

	if (truncated) {
		err = java_error(&scan, f->path, "archive is larger than the "
		    "%zu byte read cap, only entries within it are read", len);
		if (err != PC_OK)
			goto out;
	}
	err = java_scan_archive(&scan, data, len, f->path, 0);
	if (err != PC_OK || json_array_size(scan.packages) == 0)
		goto out;
	err = layer_result_set(res, f->path, "java",
	    json_pack("{s:O}", "packages", scan.packages));
out:
	json_decref(scan.packages);
	json_decref(scan.seen);
	return err;
}

const struct analyzer analyzer_java = {
	.name = "java",
	.wants = java_wants,
	.analyze = java_analyze,
};
