#include "scanner/analyzers.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/error.h"
#include "scanner/text_utf8.h"

/*
 * OS identity from os-release(5) and the distribution release files.
 * Each file gives {"family", "version", "ecosystem", "from"}; the merge
 * picks the most specific one in the image view. The ecosystem is the
 * OSV ecosystem name of the release, or null when OSV has none.
 */

/* Release files are a few hundred bytes, so bytes past this cap are ignored. */
#define OS_RELEASE_MAX_BYTES (16U * 1024U)
/* Maximum length of an os-release value kept (NAME, VERSION_ID, ...). */
#define OS_VALUE_MAX 256U

struct os_file {
	const char *path;
	const char *from;
};

static const struct os_file os_files[] = {
	{"etc/os-release", "os-release"},
	{"usr/lib/os-release", "os-release"},
	{"etc/alpine-release", "alpine-release"},
	{"etc/debian_version", "debian_version"},
	{"etc/redhat-release", "redhat-release"},
	{"etc/centos-release", "centos-release"},
	{"etc/rocky-release", "rocky-release"},
	{"etc/almalinux-release", "almalinux-release"},
	{"etc/oracle-release", "oracle-release"},
	{"etc/fedora-release", "fedora-release"},
	{"etc/system-release", "system-release"},
	{"usr/lib/system-release", "system-release"},
};

static const struct os_file *
os_file_find(const char *path)
{
	for (size_t i = 0; i < sizeof(os_files) / sizeof(os_files[0]); i++) {
		if (strcmp(path, os_files[i].path) == 0)
			return &os_files[i];
	}
	return NULL;
}

static enum analyzer_want
os_wants(const struct scan_file *f, size_t *max_bytes)
{
	if (os_file_find(f->path) == NULL)
		return ANALYZER_SKIP;
	if (S_ISLNK(f->mode))
		return f->linkname != NULL ? ANALYZER_META : ANALYZER_SKIP;
	if (!S_ISREG(f->mode))
		return ANALYZER_SKIP;
	*max_bytes = OS_RELEASE_MAX_BYTES;
	return ANALYZER_CONTENT;
}

/* Debian code names, for testing images whose version is "trixie/sid". */
static const struct {
	const char *codename;
	const char *major;
} debian_codenames[] = {
	{"stretch", "9"}, {"buster", "10"}, {"bullseye", "11"},
	{"bookworm", "12"}, {"trixie", "13"}, {"forky", "14"},
	{"duke", "15"},
};

static const char *
debian_major_for_codename(const char *name, size_t len)
{
	size_t n = sizeof(debian_codenames) / sizeof(debian_codenames[0]);

	for (size_t i = 0; i < n; i++) {
		if (strlen(debian_codenames[i].codename) == len &&
		    strncmp(debian_codenames[i].codename, name, len) == 0)
			return debian_codenames[i].major;
	}
	return NULL;
}

/* Length of the leading run of digits of s. */
static size_t
digits_len(const char *s)
{
	size_t n = 0;

	while (isdigit((unsigned char)s[n]))
		n++;
	return n;
}

/*
 * Builds the OSV ecosystem for family and version into out, or leaves out
 * empty when the release has no OSV ecosystem.
 */
static void
os_ecosystem(const char *family, const char *version, char *out, size_t outlen)
{
	size_t major = version != NULL ? digits_len(version) : 0;
	size_t minor = 0;
	int m = (int)major;

	out[0] = '\0';
	if (version != NULL && version[major] == '.')
		minor = digits_len(version + major + 1);

	if (strcmp(family, "debian") == 0 && major == 0 && version != NULL) {
		const char *slash = strchr(version, '/');
		size_t len = slash != NULL ? (size_t)(slash - version) :
		    strlen(version);
		const char *codename_major = debian_major_for_codename(version,
		    len);

		if (codename_major != NULL)
			snprintf(out, outlen, "Debian:%s", codename_major);
		return;
	}
	if (major == 0)
		return;

	if (strcmp(family, "debian") == 0) {
		snprintf(out, outlen, "Debian:%.*s", m, version);
	} else if (strcmp(family, "alpine") == 0 && minor > 0) {
		snprintf(out, outlen, "Alpine:v%.*s", m + 1 + (int)minor, version);
	} else if (strcmp(family, "ubuntu") == 0 && minor > 0) {
		long year = strtol(version, NULL, 10);
		bool lts = year % 2 == 0 && minor == 2 &&
		    strncmp(version + major + 1, "04", 2) == 0;

		snprintf(out, outlen, "Ubuntu:%.*s%s", m + 1 + (int)minor,
		    version, lts ? ":LTS" : "");
	} else if (strcmp(family, "rocky") == 0) {
		snprintf(out, outlen, "Rocky Linux:%.*s", m, version);
	} else if (strcmp(family, "almalinux") == 0) {
		snprintf(out, outlen, "AlmaLinux:%.*s", m, version);
	} else if (strcmp(family, "rhel") == 0) {
		/*
		 * NOTE: OSV's Red Hat ecosystems add a product stream from the
		 * CPE ("Red Hat:enterprise_linux:9::baseos"); the matcher has
		 * to compare this value as a prefix.
		 */
		snprintf(out, outlen, "Red Hat:enterprise_linux:%.*s", m, version);
	} else if (strcmp(family, "fedora") == 0) {
		snprintf(out, outlen, "Fedora:%.*s", m, version);
	} else if (strcmp(family, "opensuse-leap") == 0 && minor > 0) {
		snprintf(out, outlen, "openSUSE:Leap %.*s", m + 1 + (int)minor,
		    version);
	}
}

static json_t *
os_result_new(const char *family, const char *version, const char *from)
{
	char ecosystem[128];

	os_ecosystem(family, version, ecosystem, sizeof(ecosystem));
	return json_pack("{s:s, s:s?, s:s?, s:s}", "family", family,
	    "version", version, "ecosystem",
	    ecosystem[0] != '\0' ? ecosystem : NULL, "from", from);
}

/*
 * Decodes one os-release value (after '=') into out: a value in double
 * quotes takes backslash escapes of ", \, $ and `; a value in single
 * quotes is literal; an unquoted value ends at the first blank. Returns
 * false when the quoting is not closed.
 */
static bool
os_release_unquote(const char *s, size_t len, char *out, size_t outlen)
{
	size_t o = 0;
	size_t i = 0;
	char quote = 0;

	if (len > 0 && (s[0] == '"' || s[0] == '\'')) {
		quote = s[0];
		i = 1;
	}
	for (; i < len; i++) {
		char c = s[i];

		if (quote != 0 && c == quote)
			break;
		if (quote == 0 && (c == ' ' || c == '\t'))
			break;
		if (quote == '"' && c == '\\' && i + 1 < len &&
		    strchr("\"\\$`", s[i + 1]) != NULL)
			c = s[++i];
		if (o + 1 < outlen)
			out[o++] = c;
	}
	out[o] = '\0';
	return quote == 0 || i < len;
}

struct os_release {
	char id[OS_VALUE_MAX];
	char id_like[OS_VALUE_MAX];
	char name[OS_VALUE_MAX];
	char version_id[OS_VALUE_MAX];
	char codename[OS_VALUE_MAX];
};

static void
os_release_line(const char *line, size_t len, struct os_release *rel)
{
	static const struct {
		const char *key;
		size_t offset;
	} keys[] = {
		{"ID", offsetof(struct os_release, id)},
		{"ID_LIKE", offsetof(struct os_release, id_like)},
		{"NAME", offsetof(struct os_release, name)},
		{"VERSION_ID", offsetof(struct os_release, version_id)},
		{"VERSION_CODENAME", offsetof(struct os_release, codename)},
	};
	const char *eq = memchr(line, '=', len);
	size_t key_len;

	if (eq == NULL)
		return;
	key_len = (size_t)(eq - line);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char *out = (char *)rel + keys[i].offset;

		if (strlen(keys[i].key) != key_len ||
		    strncmp(keys[i].key, line, key_len) != 0)
			continue;
		if (!os_release_unquote(eq + 1, len - key_len - 1, out,
		    OS_VALUE_MAX))
			out[0] = '\0';
		return;
	}
}

static void
lowercase(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* Parses os-release text; returns NULL when it names no distribution. */
static json_t *
os_release_parse(const char *data, size_t len)
{
	struct os_release rel;
	const char *p = data;
	const char *end = data + len;
	const char *family;
	const char *version;

	memset(&rel, 0, sizeof(rel));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl != NULL ? nl : end;

		const char *next = line_end + 1;

		while (p < line_end && (*p == ' ' || *p == '\t'))
			p++;
		while (line_end > p && (line_end[-1] == '\r' ||
		    line_end[-1] == ' ' || line_end[-1] == '\t'))
			line_end--;
		if (p < line_end && *p != '#')
			os_release_line(p, (size_t)(line_end - p), &rel);
		p = next;
	}

	text_utf8_sanitize(rel.id);
	text_utf8_sanitize(rel.id_like);
	text_utf8_sanitize(rel.name);
	text_utf8_sanitize(rel.version_id);
	text_utf8_sanitize(rel.codename);

	/* An image without ID still names itself through ID_LIKE or NAME. */
	if (rel.id[0] == '\0') {
		const char *src = rel.id_like[0] != '\0' ? rel.id_like : rel.name;

		snprintf(rel.id, sizeof(rel.id), "%.*s",
		    (int)strcspn(src, " \t"), src);
	}
	lowercase(rel.id);
	if (rel.id[0] == '\0')
		return NULL;
	family = rel.id;

	version = rel.version_id[0] != '\0' ? rel.version_id : NULL;
	if (version == NULL && rel.codename[0] != '\0' &&
	    strcmp(family, "debian") == 0) {
		json_t *os = os_result_new(family, NULL, "os-release");
		char ecosystem[128];

		/* Debian testing names its release only by code name. */
		os_ecosystem(family, rel.codename, ecosystem, sizeof(ecosystem));
		if (os != NULL && ecosystem[0] != '\0')
			json_object_set_new(os, "ecosystem", json_string(ecosystem));
		return os;
	}
	return os_result_new(family, version, "os-release");
}

/* Copies the first line of data, trimmed, into out. */
static void
first_line(const char *data, size_t len, char *out, size_t outlen)
{
	size_t n = 0;

	while (n < len && data[n] != '\n' && data[n] != '\r' && data[n] != '\0')
		n++;
	while (n > 0 && (data[n - 1] == ' ' || data[n - 1] == '\t'))
		n--;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, data, n);
	out[n] = '\0';
	text_utf8_sanitize(out);
}

/* Maps the product name of a redhat-release style line to an os-release ID. */
static const char *
redhat_family(const char *name)
{
	static const struct {
		const char *prefix;
		const char *family;
	} names[] = {
		{"Red Hat Enterprise Linux", "rhel"},
		{"Rocky Linux", "rocky"},
		{"AlmaLinux", "almalinux"},
		{"CentOS", "centos"},
		{"Fedora", "fedora"},
		{"Oracle Linux", "ol"},
		{"Amazon Linux", "amzn"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strncmp(name, names[i].prefix, strlen(names[i].prefix)) == 0)
			return names[i].family;
	}
	return NULL;
}

/* Parses "Rocky Linux release 9.3 (Blue Onyx)" and its kin. */
static json_t *
redhat_release_parse(const char *line, const char *from)
{
	const char *rel = strstr(line, " release ");
	const char *family = redhat_family(line);
	char version[OS_VALUE_MAX];

	if (rel == NULL || family == NULL)
		return NULL;
	rel += strlen(" release ");
	snprintf(version, sizeof(version), "%.*s", (int)strcspn(rel, " \t("),
	    rel);
	if (version[0] == '\0')
		return NULL;
	return os_result_new(family, version, from);
}

static json_t *
release_file_parse(const struct os_file *file, const char *data, size_t len)
{
	char line[OS_VALUE_MAX];

	if (strcmp(file->from, "os-release") == 0)
		return os_release_parse(data, len);

	first_line(data, len, line, sizeof(line));
	if (line[0] == '\0')
		return NULL;
	if (strcmp(file->from, "alpine-release") == 0)
		return os_result_new("alpine", line, file->from);
	if (strcmp(file->from, "debian_version") == 0)
		return os_result_new("debian", line, file->from);
	return redhat_release_parse(line, file->from);
}

/*
 * Resolves a symlink target against the directory of path into out, as an
 * in-image path without a leading "/". Returns false when the target
 * climbs above the root or does not fit.
 */
static bool
link_resolve(const char *path, const char *target, char *out, size_t outlen)
{
	size_t len = 0;
	const char *p = target;

	out[0] = '\0';
	if (target[0] != '/') {
		const char *slash = strrchr(path, '/');

		len = slash != NULL ? (size_t)(slash - path) : 0;
		if (len >= outlen)
			return false;
		memcpy(out, path, len);
		out[len] = '\0';
	}
	while (*p != '\0') {
		size_t seg = strcspn(p, "/");

		if (seg == 0 || (seg == 1 && p[0] == '.')) {
			/* empty or "." component */
		} else if (seg == 2 && p[0] == '.' && p[1] == '.') {
			char *up;

			if (len == 0)
				return false;
			up = strrchr(out, '/');
			len = up != NULL ? (size_t)(up - out) : 0;
			out[len] = '\0';
		} else {
			if (len + (len > 0) + seg >= outlen)
				return false;
			if (len > 0)
				out[len++] = '/';
			memcpy(out + len, p, seg);
			len += seg;
			out[len] = '\0';
		}
		p += seg;
		if (*p == '/')
			p++;
	}
	return len > 0;
}

static int
os_analyze(const struct scan_file *f, const unsigned char *data, size_t len,
    bool truncated, struct layer_result *res)
{
	const struct os_file *file = os_file_find(f->path);
	json_t *os;

	if (file == NULL)
		return PC_OK;

	if (S_ISLNK(f->mode)) {
		char target[1024];

		if (f->linkname == NULL ||
		    !link_resolve(f->path, f->linkname, target, sizeof(target)))
			return PC_OK;
		text_utf8_sanitize(target);
		os = json_pack("{s:s, s:s}", "link", target, "from", file->from);
		return os != NULL ? layer_result_set(res, f->path, "os", os) :
		    PC_ERR_NOMEM;
	}

	os = release_file_parse(file, (const char *)data, len);
	if (os == NULL)
		return PC_OK;
	return layer_result_set(res, f->path, "os", os);
}

const struct analyzer analyzer_os = {
	.name = "os",
	.wants = os_wants,
	.analyze = os_analyze,
};
