#include "cache/manifest_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache_dir.h"
#include "cache/hex_index.h"
#include "cache/names.h"
#include "common/alloc.h"
#include "common/error.h"
#include "common/log.h"

#define HEX_LEN HEX_INDEX_KEY_LEN

/* Initial hash buckets; the table doubles past one tag entry per bucket. */
#define TAG_INITIAL_BUCKETS 256

/* Number of keys in a tag file. */
#define TAG_FILE_KEYS 9

/* Highest valid accept class: every ACCEPT_* bit set. */
#define ACCEPT_ALL_BITS 0x3fu

/*
 * One tag entry. Its index key, the SHA-256 hex of the serialized key,
 * also names its file.
 */
struct tag_node {
	struct hex_index_node node;     /* first: nodes are cast back */
	char *upstream;
	char *repo;
	char *tag;
	unsigned accept_class;
	struct tag_entry entry;
};

struct manifest_cache {
	char *dir;
	char *manifests_dir;    /* DIR/manifests/sha256 */
	char *manifests_tmp;    /* DIR/manifests/tmp */
	char *tags_dir;         /* DIR/tags */
	char *tags_tmp;         /* DIR/tags/tmp */
	int lock_fd;
	struct hex_index tags;  /* in order of validation, oldest first */
	size_t max_tags;
};

/* ---- validation ---- */

static bool
is_restricted_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("!#$&-^_.+", c) != NULL;
}

/* Returns the length of the RFC 6838 restricted-name at s (1-127), or 0. */
static size_t
match_restricted_name(const char *s)
{
	size_t i = 0;
	char c = s[0];

	if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9')))
		return 0;
	while (s[i] != '\0' && is_restricted_name_char(s[i]) && i < 128)
		i++;
	return i <= 127 ? i : 0;
}

bool
media_type_is_valid(const char *media_type)
{
	size_t type_len;
	size_t subtype_len;

	if (media_type == NULL)
		return false;
	type_len = match_restricted_name(media_type);
	if (type_len == 0 || media_type[type_len] != '/')
		return false;
	subtype_len = match_restricted_name(media_type + type_len + 1);
	if (subtype_len == 0)
		return false;
	return media_type[type_len + 1 + subtype_len] == '\0';
}

bool
upstream_name_is_valid(const char *upstream)
{
	size_t len;

	if (upstream == NULL)
		return false;
	len = strnlen(upstream, UPSTREAM_NAME_MAX_LEN + 1);
	if (len == 0 || len > UPSTREAM_NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = upstream[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr(".:_[]-", c) != NULL))
			return false;
	}
	return true;
}

/* ---- open and close ---- */

static int
prepare_dirs(struct manifest_cache *mc)
{
	char lock_path[PATH_MAX];
	int err;

	err = cache_dir_make(mc->manifests_dir);
	if (err == PC_OK)
		err = cache_dir_make(mc->manifests_tmp);
	if (err == PC_OK)
		err = cache_dir_make(mc->tags_tmp);
	if (err != PC_OK)
		return err;

	snprintf(lock_path, sizeof(lock_path), "%s/manifest_cache.lock",
	    mc->dir);
	err = cache_dir_lock(lock_path, &mc->lock_fd);
	if (err != PC_OK)
		return err;

	err = cache_dir_empty(mc->manifests_tmp, NULL);
	if (err == PC_OK)
		err = cache_dir_empty(mc->tags_tmp, NULL);
	return err;
}

static void tag_node_free(struct tag_node *node);
static int load_tags(struct manifest_cache *mc);

/* Room left after the folder for "/manifests/sha256/<2>/<64>" and similar. */
#define MANIFEST_CACHE_PATH_SUFFIX_MAX 128

int
manifest_cache_open(const char *dir, struct manifest_cache **out)
{
	struct manifest_cache *mc;
	int err;

	*out = NULL;
	if (strlen(dir) + MANIFEST_CACHE_PATH_SUFFIX_MAX >= PATH_MAX)
		return PC_ERR_LIMIT;

	mc = pc_calloc(1, sizeof(*mc));
	if (mc == NULL)
		return PC_ERR_NOMEM;
	mc->lock_fd = -1;
	mc->max_tags = TAG_CACHE_MAX_ENTRIES;
	mc->dir = pc_strdup(dir);
	mc->manifests_dir = cache_path_join(dir, "manifests/sha256");
	mc->manifests_tmp = cache_path_join(dir, "manifests/tmp");
	mc->tags_dir = cache_path_join(dir, "tags");
	mc->tags_tmp = cache_path_join(dir, "tags/tmp");
	if (mc->dir == NULL || mc->manifests_dir == NULL ||
	    mc->manifests_tmp == NULL || mc->tags_dir == NULL ||
	    mc->tags_tmp == NULL ||
	    hex_index_init(&mc->tags, TAG_INITIAL_BUCKETS) != PC_OK) {
		err = PC_ERR_NOMEM;
		goto out;
	}

	err = prepare_dirs(mc);
	if (err != PC_OK)
		goto out;
	err = load_tags(mc);
	if (err != PC_OK)
		goto out;

	log_info("event=manifest_cache_open dir=%s tags=%zu", dir, mc->tags.count);
	*out = mc;
out:
	if (err != PC_OK)
		manifest_cache_close(mc);
	return err;
}

void
manifest_cache_close(struct manifest_cache *mc)
{
	if (mc == NULL)
		return;
	while (mc->tags.oldest != NULL) {
		struct tag_node *node = (struct tag_node *)mc->tags.oldest;

		hex_index_remove(&mc->tags, &node->node);
		tag_node_free(node);
	}
	hex_index_free(&mc->tags);
	if (mc->lock_fd >= 0)
		close(mc->lock_fd);
	pc_free(mc->dir);
	pc_free(mc->manifests_dir);
	pc_free(mc->manifests_tmp);
	pc_free(mc->tags_dir);
	pc_free(mc->tags_tmp);
	pc_free(mc);
}

/* ---- manifests ---- */

static void
manifest_path(const struct manifest_cache *mc, const char *hex, char *out,
    size_t size)
{
	snprintf(out, size, "%s/%.2s/%s", mc->manifests_dir, hex, hex);
}

int
manifest_cache_put(struct manifest_cache *mc, const char *digest,
    const char *media_type, const void *data, size_t len)
{
	char actual[DIGEST_SHA256_BUFSIZE];
	char hex[HEX_LEN + 1];
	char path[PATH_MAX];
	struct cache_part parts[3];
	int err;

	err = digest_parse(digest, NULL, hex);
	if (err != PC_OK)
		return err;
	if (!media_type_is_valid(media_type))
		return PC_ERR_INVALID;
	if (len > MANIFEST_MAX_BYTES)
		return PC_ERR_LIMIT;
	sha256_hex(data, len, actual);
	if (strcmp(actual, digest) != 0)
		return PC_ERR_MISMATCH;

	manifest_path(mc, hex, path, sizeof(path));
	if (access(path, F_OK) == 0)
		return PC_OK;

	snprintf(path, sizeof(path), "%s/%.2s", mc->manifests_dir, hex);
	err = cache_dir_make(path);
	if (err != PC_OK)
		return err;
	manifest_path(mc, hex, path, sizeof(path));

	parts[0] = (struct cache_part){media_type, strlen(media_type)};
	parts[1] = (struct cache_part){"\n", 1};
	parts[2] = (struct cache_part){data, len};
	err = cache_file_replace(mc->manifests_tmp, path, parts, 3);
	if (err != PC_OK)
		log_error("event=manifest_write_failed digest=%s error=\"%s\"",
		    digest, pc_strerror(err));
	return err;
}

/*
 * Reads a whole file of at most max bytes into a new NUL-terminated
 * buffer. Returns PC_OK, PC_ERR_NOTFOUND, PC_ERR_LIMIT, PC_ERR_IO or
 * PC_ERR_NOMEM.
 */
static int
read_small_file(const char *path, size_t max, char **data_out, size_t *len_out)
{
	struct stat st;
	char *data = NULL;
	size_t done = 0;
	int fd;
	int err;

	*data_out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? PC_ERR_NOTFOUND : PC_ERR_IO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		err = PC_ERR_IO;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		err = PC_ERR_LIMIT;
		goto out;
	}
	data = pc_malloc((size_t)st.st_size + 1);
	if (data == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, data + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (done != (size_t)st.st_size) {
		err = PC_ERR_IO;
		goto out;
	}
	data[done] = '\0';
	*data_out = data;
	*len_out = done;
	data = NULL;
	err = PC_OK;
out:
	pc_free(data);
	close(fd);
	return err;
}

/*
 * Splits a manifest file into its media type line and body and checks
 * both. Returns PC_OK with the offset of the body, or PC_ERR_INVALID.
 */
static int
split_manifest_file(char *raw, size_t raw_len, const char *digest,
    size_t *body_off)
{
	char actual[DIGEST_SHA256_BUFSIZE];
	char *nl = memchr(raw, '\n', raw_len);

	if (nl == NULL)
		return PC_ERR_INVALID;
	*nl = '\0';
	if (!media_type_is_valid(raw))
		return PC_ERR_INVALID;
	*body_off = (size_t)(nl + 1 - raw);
	sha256_hex(raw + *body_off, raw_len - *body_off, actual);
	if (strcmp(actual, digest) != 0)
		return PC_ERR_INVALID;
	return PC_OK;
}

int
manifest_cache_get(struct manifest_cache *mc, const char *digest,
    char **media_type, char **data, size_t *len)
{
	char hex[HEX_LEN + 1];
	char path[PATH_MAX];
	char *raw = NULL;
	size_t raw_len = 0;
	size_t body_off = 0;
	int err;

	*media_type = NULL;
	*data = NULL;
	*len = 0;
	err = digest_parse(digest, NULL, hex);
	if (err != PC_OK)
		return err;

	manifest_path(mc, hex, path, sizeof(path));
	err = read_small_file(path, MANIFEST_MAX_BYTES + MEDIA_TYPE_MAX_LEN + 1,
	    &raw, &raw_len);
	if (err == PC_ERR_NOTFOUND)
		return err;
	if (err == PC_OK)
		err = split_manifest_file(raw, raw_len, digest, &body_off);
	if (err == PC_ERR_INVALID || err == PC_ERR_LIMIT) {
		log_error("event=manifest_damaged digest=%s action=deleted", digest);
		unlink(path);
		err = PC_ERR_NOTFOUND;
	}
	if (err != PC_OK)
		goto out;

	*media_type = pc_strdup(raw);
	*data = pc_malloc(raw_len - body_off + 1);
	if (*media_type == NULL || *data == NULL) {
		pc_free(*media_type);
		pc_free(*data);
		*media_type = NULL;
		*data = NULL;
		err = PC_ERR_NOMEM;
		goto out;
	}
	memcpy(*data, raw + body_off, raw_len - body_off + 1);
	*len = raw_len - body_off;
out:
	pc_free(raw);
	return err;
}

/* ---- Accept negotiation ---- */

static const struct {
	const char *media_type;
	unsigned bit;
} accept_types[] = {
	{"application/vnd.docker.distribution.manifest.v2+json", ACCEPT_DOCKER_V2},
	{"application/vnd.docker.distribution.manifest.list.v2+json",
	    ACCEPT_DOCKER_LIST},
	{"application/vnd.oci.image.manifest.v1+json", ACCEPT_OCI_MANIFEST},
	{"application/vnd.oci.image.index.v1+json", ACCEPT_OCI_INDEX},
	{"application/vnd.docker.distribution.manifest.v1+json", ACCEPT_DOCKER_V1},
	{"application/vnd.docker.distribution.manifest.v1+prettyjws",
	    ACCEPT_DOCKER_V1},
	{"*/*", ACCEPT_ANY},
	{"application/*", ACCEPT_ANY},
};

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Returns the ACCEPT_* bit of the media type s[0..len), or 0 if unknown. */
static unsigned
media_type_bit(const char *s, size_t len)
{
	for (size_t i = 0; i < sizeof(accept_types) / sizeof(accept_types[0]); i++) {
		const char *t = accept_types[i].media_type;

		if (strlen(t) == len && strncasecmp(s, t, len) == 0)
			return accept_types[i].bit;
	}
	return 0;
}

/*
 * Parses an HTTP qvalue, "0" ["." 0*3DIGIT] or "1" ["." 0*3"0"]. Returns
 * true when valid, and then sets *zero to whether the value equals 0.
 */
static bool
parse_qvalue(const char *s, size_t len, bool *zero)
{
	size_t i;

	if (len == 0 || (s[0] != '0' && s[0] != '1'))
		return false;
	*zero = s[0] == '0';
	if (len == 1)
		return true;
	if (s[1] != '.' || len > 5)
		return false;
	for (i = 2; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (s[i] != '0') {
			if (s[0] == '1')
				return false;
			*zero = false;
		}
	}
	return true;
}

/* Trims optional white space from both ends of s[*start..*end). */
static void
trim_ows(const char *s, size_t *start, size_t *end)
{
	while (*start < *end && is_ows(s[*start]))
		(*start)++;
	while (*end > *start && is_ows(s[*end - 1]))
		(*end)--;
}

/*
 * Returns the end of the parameter or element starting at pos: the next
 * ';' or ',' (per stop) outside a quoted string, or end.
 */
static size_t
scan_to(const char *s, size_t pos, size_t end, const char *stop)
{
	bool quoted = false;

	for (; pos < end; pos++) {
		char c = s[pos];

		if (quoted) {
			if (c == '\\' && pos + 1 < end)
				pos++;
			else if (c == '"')
				quoted = false;
		} else if (c == '"') {
			quoted = true;
		} else if (strchr(stop, c) != NULL) {
			break;
		}
	}
	return pos;
}

/*
 * Returns false when the parameters in s[pos..end) (each starting with
 * ';') carry a q of 0 or an invalid q.
 */
static bool
params_accept(const char *s, size_t pos, size_t end)
{
	while (pos < end) {
		size_t next = scan_to(s, pos + 1, end, ";");
		size_t start = pos + 1;
		size_t stop = next;
		size_t name_end;
		bool zero = false;

		trim_ows(s, &start, &stop);
		name_end = start;
		while (name_end < stop && s[name_end] != '=')
			name_end++;
		if (name_end - start == 1 && (s[start] == 'q' || s[start] == 'Q') &&
		    name_end < stop) {
			size_t value_start = name_end + 1;

			if (!parse_qvalue(s + value_start, stop - value_start, &zero) ||
			    zero)
				return false;
		}
		pos = next;
	}
	return true;
}

/* Returns the bit of one element "type/subtype *( OWS ; OWS param )". */
static unsigned
element_bit(const char *s, size_t start, size_t end)
{
	size_t type_start;
	size_t type_end;

	trim_ows(s, &start, &end);
	type_end = scan_to(s, start, end, ";");
	if (!params_accept(s, type_end, end))
		return 0;

	type_start = start;
	trim_ows(s, &type_start, &type_end);
	return media_type_bit(s + type_start, type_end - type_start);
}

unsigned
accept_class_from_headers(const char *const *accept_values, size_t n)
{
	unsigned accept_class = 0;
	size_t ranges = 0;

	if (n == 0)
		return ACCEPT_DOCKER_V2 | ACCEPT_DOCKER_V1;

	for (size_t h = 0; h < n && ranges < ACCEPT_MAX_MEDIA_RANGES; h++) {
		const char *s = accept_values[h];
		size_t end;
		size_t pos = 0;

		if (s == NULL)
			continue;
		end = strlen(s);
		while (pos <= end && ranges < ACCEPT_MAX_MEDIA_RANGES) {
			size_t stop = scan_to(s, pos, end, ",");

			if (stop > pos) {
				accept_class |= element_bit(s, pos, stop);
				ranges++;
			}
			pos = stop + 1;
		}
	}
	return accept_class;
}

bool
accept_class_allows(unsigned accept_class, const char *media_type)
{
	size_t start = 0;
	size_t end;
	unsigned bit;

	if (media_type == NULL)
		return false;
	if (accept_class & ACCEPT_ANY)
		return true;
	end = strcspn(media_type, ";");
	trim_ows(media_type, &start, &end);
	bit = media_type_bit(media_type + start, end - start);
	/* A wildcard range passed as media_type names no concrete type. */
	return bit != 0 && bit != ACCEPT_ANY && (accept_class & bit) != 0;
}

/* ---- tag cache: index ---- */

/*
 * Validates the key parts and computes the SHA-256 hex of the serialized
 * key "upstream\nrepo\ntag\naccept_class". No part can contain a newline,
 * so the serialization is unambiguous.
 */
static int
tag_key_hex(const char *upstream, const char *repo, const char *tag,
    unsigned accept_class, char key_hex[HEX_LEN + 1])
{
	char key[UPSTREAM_NAME_MAX_LEN + REPO_NAME_MAX_LEN + TAG_MAX_LEN + 16];
	char digest[DIGEST_SHA256_BUFSIZE];
	int n;

	if (!upstream_name_is_valid(upstream) || !repo_name_is_valid(repo) ||
	    !tag_is_valid(tag) || accept_class > ACCEPT_ALL_BITS)
		return PC_ERR_INVALID;
	n = snprintf(key, sizeof(key), "%s\n%s\n%s\n%u", upstream, repo, tag,
	    accept_class);
	if (n < 0 || (size_t)n >= sizeof(key))
		return PC_ERR_INVALID;
	sha256_hex(key, (size_t)n, digest);
	memcpy(key_hex, digest + 7, HEX_LEN + 1);
	return PC_OK;
}

static struct tag_node *
tag_find(const struct manifest_cache *mc, const char *key_hex)
{
	return (struct tag_node *)hex_index_find(&mc->tags, key_hex);
}

/* Finds the node of a key; PC_OK, PC_ERR_NOTFOUND or PC_ERR_INVALID. */
static int
tag_lookup(const struct manifest_cache *mc, const char *upstream,
    const char *repo, const char *tag, unsigned accept_class,
    struct tag_node **out)
{
	char key_hex[HEX_LEN + 1];
	int err;

	*out = NULL;
	err = tag_key_hex(upstream, repo, tag, accept_class, key_hex);
	if (err != PC_OK)
		return err;
	*out = tag_find(mc, key_hex);
	return *out != NULL ? PC_OK : PC_ERR_NOTFOUND;
}

static void
tag_node_free(struct tag_node *node)
{
	if (node == NULL)
		return;
	pc_free(node->upstream);
	pc_free(node->repo);
	pc_free(node->tag);
	pc_free(node);
}

static int
tag_node_new(const char *upstream, const char *repo, const char *tag,
    unsigned accept_class, const char *key_hex, struct tag_node **out)
{
	struct tag_node *node;

	*out = NULL;
	node = pc_calloc(1, sizeof(*node));
	if (node == NULL)
		return PC_ERR_NOMEM;
	memcpy(node->node.hex, key_hex, HEX_LEN + 1);
	node->upstream = pc_strdup(upstream);
	node->repo = pc_strdup(repo);
	node->tag = pc_strdup(tag);
	node->accept_class = accept_class;
	if (node->upstream == NULL || node->repo == NULL || node->tag == NULL) {
		tag_node_free(node);
		return PC_ERR_NOMEM;
	}
	*out = node;
	return PC_OK;
}

static void
tag_file_path(const struct manifest_cache *mc, const char *key_hex, char *out,
    size_t size)
{
	snprintf(out, size, "%s/%s.json", mc->tags_dir, key_hex);
}

/* Deletes the node and its file. */
static void
tag_remove_node(struct manifest_cache *mc, struct tag_node *node)
{
	char path[PATH_MAX];

	tag_file_path(mc, node->node.hex, path, sizeof(path));
	if (unlink(path) != 0 && errno != ENOENT)
		log_warn("event=tag_unlink_failed file=%s error=\"%s\"", path,
		    strerror(errno));
	hex_index_remove(&mc->tags, &node->node);
	tag_node_free(node);
}

/* Drops the least recently validated entries beyond mc->max_tags. */
static void
tag_enforce_limit(struct manifest_cache *mc)
{
	while (mc->tags.count > mc->max_tags) {
		struct tag_node *oldest = (struct tag_node *)mc->tags.oldest;

		log_debug("event=tag_evicted repository=%s tag=%s", oldest->repo,
		    oldest->tag);
		tag_remove_node(mc, oldest);
	}
}

/* ---- tag cache: files ---- */

/* Writes the file of node with the values of entry, atomically. */
static int
tag_write(struct manifest_cache *mc, const struct tag_node *node,
    const struct tag_entry *entry)
{
	char path[PATH_MAX];
	struct cache_part part;
	json_t *root;
	char *text = NULL;
	int err;

	root = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:I}",
	    "upstream", node->upstream, "repository", node->repo, "tag",
	    node->tag, "accept_class", (json_int_t)node->accept_class, "digest",
	    entry->digest, "media_type", entry->media_type, "size",
	    (json_int_t)entry->size, "fetched_at", (json_int_t)entry->fetched_at,
	    "validated_at", (json_int_t)entry->validated_at);
	if (root == NULL)
		return PC_ERR_NOMEM;
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (text == NULL)
		return PC_ERR_NOMEM;

	tag_file_path(mc, node->node.hex, path, sizeof(path));
	part = (struct cache_part){text, strlen(text)};
	err = cache_file_replace(mc->tags_tmp, path, &part, 1);
	if (err != PC_OK)
		log_error("event=tag_write_failed repository=%s tag=%s error=\"%s\"",
		    node->repo, node->tag, pc_strerror(err));
	pc_free(text);
	return err;
}

static bool
entry_is_valid(const struct tag_entry *entry)
{
	return digest_is_valid(entry->digest) &&
	    media_type_is_valid(entry->media_type) &&
	    entry->size <= MANIFEST_MAX_BYTES && entry->fetched_at >= 0 &&
	    entry->validated_at >= 0;
}

/*
 * Parses one tag file into a new node. Returns PC_OK, PC_ERR_INVALID when
 * the content is malformed or does not belong under the name key_hex, or
 * PC_ERR_NOMEM.
 */
static int
tag_parse(const char *text, size_t len, const char *key_hex,
    struct tag_node **out)
{
	const char *upstream, *repo, *tag, *digest, *media_type;
	json_int_t accept_class, size, fetched_at, validated_at;
	char actual_hex[HEX_LEN + 1];
	struct tag_entry entry;
	json_error_t jerr;
	json_t *root;
	int err;

	*out = NULL;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return json_error_code(&jerr) == json_error_out_of_memory ?
		    PC_ERR_NOMEM : PC_ERR_INVALID;
	/*
	 * JSON_STRICT would catch extra keys, but it allocates and reports an
	 * allocation failure as bad input, so the key count is checked instead.
	 */
	if (json_object_size(root) != TAG_FILE_KEYS ||
	    json_unpack_ex(root, &jerr, 0,
	    "{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:I}", "upstream",
	    &upstream, "repository", &repo, "tag", &tag, "accept_class",
	    &accept_class, "digest", &digest, "media_type", &media_type, "size",
	    &size, "fetched_at", &fetched_at, "validated_at",
	    &validated_at) != 0 || accept_class < 0 ||
	    accept_class > ACCEPT_ALL_BITS || size < 0 ||
	    strlen(digest) > DIGEST_MAX_LEN ||
	    strlen(media_type) > MEDIA_TYPE_MAX_LEN) {
		err = PC_ERR_INVALID;
		goto out;
	}

	memset(&entry, 0, sizeof(entry));
	snprintf(entry.digest, sizeof(entry.digest), "%s", digest);
	snprintf(entry.media_type, sizeof(entry.media_type), "%s", media_type);
	entry.size = (uint64_t)size;
	entry.fetched_at = (time_t)fetched_at;
	entry.validated_at = (time_t)validated_at;
	err = tag_key_hex(upstream, repo, tag, (unsigned)accept_class, actual_hex);
	if (err != PC_OK || strcmp(actual_hex, key_hex) != 0 ||
	    !entry_is_valid(&entry)) {
		err = PC_ERR_INVALID;
		goto out;
	}

	err = tag_node_new(upstream, repo, tag, (unsigned)accept_class, key_hex,
	    out);
	if (err == PC_OK)
		(*out)->entry = entry;
out:
	json_decref(root);
	return err;
}

static bool
is_tag_file_name(const char *name)
{
	char hex[HEX_LEN + 1];

	if (strlen(name) != HEX_LEN + 5 || strcmp(name + HEX_LEN, ".json") != 0)
		return false;
	memcpy(hex, name, HEX_LEN);
	hex[HEX_LEN] = '\0';
	return hex_is_lower(hex, HEX_LEN);
}

/* Reads one tag file; a bad file is logged and skipped, so only NOMEM fails. */
static int
load_tag_file(struct manifest_cache *mc, const char *name,
    struct tag_node **out)
{
	char key_hex[HEX_LEN + 1];
	char path[PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	int err;

	*out = NULL;
	memcpy(key_hex, name, HEX_LEN);
	key_hex[HEX_LEN] = '\0';
	tag_file_path(mc, key_hex, path, sizeof(path));

	err = read_small_file(path, TAG_FILE_MAX_BYTES, &text, &len);
	if (err == PC_OK)
		err = tag_parse(text, len, key_hex, out);
	pc_free(text);
	if (err == PC_ERR_NOMEM)
		return err;
	if (err != PC_OK)
		log_warn("event=tag_file_ignored file=%s error=\"%s\"", name,
		    pc_strerror(err));
	return PC_OK;
}

static int
compare_validated(const void *a, const void *b)
{
	const struct tag_node *x = *(struct tag_node *const *)a;
	const struct tag_node *y = *(struct tag_node *const *)b;

	if (x->entry.validated_at != y->entry.validated_at)
		return x->entry.validated_at < y->entry.validated_at ? -1 : 1;
	return memcmp(x->node.hex, y->node.hex, HEX_LEN);
}

static int
collect_tag_files(struct manifest_cache *mc, struct tag_node ***nodes_out,
    size_t *len_out)
{
	struct tag_node **nodes = NULL;
	size_t len = 0;
	size_t cap = 0;
	struct dirent *de;
	DIR *d;
	int err = PC_OK;

	d = opendir(mc->tags_dir);
	if (d == NULL) {
		log_error("event=manifest_cache_open_failed dir=%s error=\"%s\"",
		    mc->tags_dir, strerror(errno));
		return PC_ERR_IO;
	}
	while (err == PC_OK && (de = readdir(d)) != NULL) {
		struct tag_node *node = NULL;

		if (de->d_name[0] == '.' || strcmp(de->d_name, "tmp") == 0)
			continue;
		if (!is_tag_file_name(de->d_name)) {
			char quoted[600];

			log_warn("event=tag_file_ignored file=%s "
			    "error=\"not a tag file name\"",
			    log_quote(quoted, sizeof(quoted), de->d_name));
			continue;
		}
		if (len == cap) {
			struct tag_node **grown;

			cap = cap ? cap * 2 : 256;
			grown = pc_reallocarray(nodes, cap, sizeof(*nodes));
			if (grown == NULL) {
				err = PC_ERR_NOMEM;
				break;
			}
			nodes = grown;
		}
		err = load_tag_file(mc, de->d_name, &node);
		if (node != NULL)
			nodes[len++] = node;
	}
	closedir(d);
	*nodes_out = nodes;
	*len_out = len;
	return err;
}

/* Loads every tag file, oldest validation first, so LRU order survives. */
static int
load_tags(struct manifest_cache *mc)
{
	struct tag_node **nodes = NULL;
	size_t len = 0;
	size_t i = 0;
	int err;

	err = collect_tag_files(mc, &nodes, &len);
	if (err != PC_OK)
		goto out;
	if (len > 0)
		qsort(nodes, len, sizeof(*nodes), compare_validated);
	for (i = 0; i < len; i++) {
		err = hex_index_reserve(&mc->tags);
		if (err != PC_OK)
			goto out;
		hex_index_insert(&mc->tags, &nodes[i]->node);
	}
	tag_enforce_limit(mc);
	err = PC_OK;
out:
	/* Nodes from i on were not handed to the index. */
	for (; i < len; i++)
		tag_node_free(nodes[i]);
	pc_free(nodes);
	return err;
}

/* ---- tag cache: public functions ---- */

int
tag_cache_put(struct manifest_cache *mc, const char *upstream,
    const char *repo, const char *tag, unsigned accept_class,
    const char *digest, const char *media_type, uint64_t size,
    time_t fetched_at)
{
	char key_hex[HEX_LEN + 1];
	struct tag_entry entry;
	struct tag_node *node;
	struct tag_node *fresh = NULL;
	int err;

	err = tag_key_hex(upstream, repo, tag, accept_class, key_hex);
	if (err != PC_OK)
		return err;
	if (!digest_is_valid(digest) || !media_type_is_valid(media_type) ||
	    fetched_at < 0)
		return PC_ERR_INVALID;
	if (size > MANIFEST_MAX_BYTES)
		return PC_ERR_LIMIT;

	memset(&entry, 0, sizeof(entry));
	snprintf(entry.digest, sizeof(entry.digest), "%s", digest);
	snprintf(entry.media_type, sizeof(entry.media_type), "%s", media_type);
	entry.size = size;
	entry.fetched_at = fetched_at;
	entry.validated_at = fetched_at;

	node = tag_find(mc, key_hex);
	if (node == NULL) {
		err = hex_index_reserve(&mc->tags);
		if (err == PC_OK)
			err = tag_node_new(upstream, repo, tag, accept_class,
			    key_hex, &fresh);
		if (err != PC_OK)
			return err;
		node = fresh;
	}

	err = tag_write(mc, node, &entry);
	if (err != PC_OK) {
		tag_node_free(fresh);
		return err;
	}
	node->entry = entry;
	if (fresh != NULL) {
		hex_index_insert(&mc->tags, &fresh->node);
		tag_enforce_limit(mc);
	} else {
		hex_index_touch(&mc->tags, &node->node);
	}
	return PC_OK;
}

int
tag_cache_get(struct manifest_cache *mc, const char *upstream,
    const char *repo, const char *tag, unsigned accept_class,
    struct tag_entry *out)
{
	struct tag_node *node;
	int err;

	err = tag_lookup(mc, upstream, repo, tag, accept_class, &node);
	if (err != PC_OK)
		return err;
	*out = node->entry;
	return PC_OK;
}

int
tag_cache_touch(struct manifest_cache *mc, const char *upstream,
    const char *repo, const char *tag, unsigned accept_class,
    time_t revalidated_at)
{
	struct tag_entry entry;
	struct tag_node *node;
	int err;

	if (revalidated_at < 0)
		return PC_ERR_INVALID;
	err = tag_lookup(mc, upstream, repo, tag, accept_class, &node);
	if (err != PC_OK)
		return err;

	entry = node->entry;
	entry.validated_at = revalidated_at;
	err = tag_write(mc, node, &entry);
	if (err != PC_OK)
		return err;
	node->entry = entry;
	hex_index_touch(&mc->tags, &node->node);
	return PC_OK;
}

int
tag_cache_remove(struct manifest_cache *mc, const char *upstream,
    const char *repo, const char *tag, unsigned accept_class)
{
	struct tag_node *node;
	int err;

	err = tag_lookup(mc, upstream, repo, tag, accept_class, &node);
	if (err != PC_OK)
		return err;
	tag_remove_node(mc, node);
	return PC_OK;
}

static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
tag_cache_list(struct manifest_cache *mc, const char *upstream,
    const char *repo, json_t **tags)
{
	const char **names = NULL;
	size_t len = 0;
	json_t *array = NULL;
	int err;

	*tags = NULL;
	if (!upstream_name_is_valid(upstream) || !repo_name_is_valid(repo))
		return PC_ERR_INVALID;

	names = pc_reallocarray(NULL, mc->tags.count ? mc->tags.count : 1,
	    sizeof(*names));
	if (names == NULL)
		return PC_ERR_NOMEM;
	for (struct hex_index_node *it = mc->tags.oldest; it != NULL;
	    it = it->lru_next) {
		const struct tag_node *node = (const struct tag_node *)it;

		if (strcmp(node->upstream, upstream) == 0 &&
		    strcmp(node->repo, repo) == 0)
			names[len++] = node->tag;
	}
	qsort(names, len, sizeof(*names), compare_strings);

	array = json_array();
	if (array == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < len; i++) {
		/* One entry per accept class: skip the repeats. */
		if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
			continue;
		if (json_array_append_new(array, json_string(names[i])) != 0) {
			err = PC_ERR_NOMEM;
			goto out;
		}
	}
	*tags = array;
	array = NULL;
	err = PC_OK;
out:
	json_decref(array);
	pc_free(names);
	return err;
}

size_t
tag_cache_count(const struct manifest_cache *mc)
{
	return mc->tags.count;
}

void
tag_cache_set_limit(struct manifest_cache *mc, size_t max_entries)
{
	mc->max_tags = max_entries > 0 ? max_entries : 1;
	tag_enforce_limit(mc);
}
