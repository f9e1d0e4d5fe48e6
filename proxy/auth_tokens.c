#include "proxy/auth_internal.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "common/alloc.h"
#include "common/error.h"

/*
 * A tokens file is either one JSON object, {"name": "token", ...}, or
 * lines of "name token" separated by spaces or tabs, with blank lines and
 * lines starting with '#' ignored. Only the SHA-256 of each token is kept.
 */

struct token_entry {
	char *name;
	unsigned char digest[AUTH_SHA256_BYTES];
};

struct tokens {
	struct token_entry *entries;
	size_t n;
	size_t cap;
};

/* Names are visible ASCII without ':', so they can be Basic user names. */
static bool
valid_name(const char *s, size_t len)
{
	if (len == 0 || len > AUTH_MAX_NAME_BYTES)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == ':')
			return false;
	}
	return true;
}

static bool
valid_token(const char *s, size_t len)
{
	if (len < AUTH_MIN_TOKEN_BYTES || len > AUTH_MAX_TOKEN_BYTES)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	}
	return true;
}

/* Adds one entry; where is "file:line" or "file: name", for messages. */
static int
add_token(struct tokens *t, const char *where, const char *name,
    size_t name_len, const char *token, size_t token_len, char *errbuf,
    size_t errlen)
{
	const void *parts[] = { token };
	size_t lens[] = { token_len };
	struct token_entry *e;

	if (!valid_name(name, name_len)) {
		snprintf(errbuf, errlen, "%s: invalid token name: expected 1 to %d "
		    "visible ASCII characters without ':'", where, AUTH_MAX_NAME_BYTES);
		return PC_ERR_INVALID;
	}
	if (!valid_token(token, token_len)) {
		snprintf(errbuf, errlen, "%s: invalid token for \"%.*s\": expected %d "
		    "to %d visible ASCII characters", where, (int)name_len, name,
		    AUTH_MIN_TOKEN_BYTES, AUTH_MAX_TOKEN_BYTES);
		return PC_ERR_INVALID;
	}
	if (t->n == AUTH_MAX_ENTRIES) {
		snprintf(errbuf, errlen, "%s: more than %d tokens", where,
		    AUTH_MAX_ENTRIES);
		return PC_ERR_LIMIT;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap != 0 ? t->cap * 2 : 16;
		struct token_entry *entries = pc_reallocarray(t->entries, cap,
		    sizeof(*entries));

		if (entries == NULL)
			goto nomem;
		t->entries = entries;
		t->cap = cap;
	}

	e = &t->entries[t->n];
	memset(e, 0, sizeof(*e));
	e->name = pc_strndup(name, name_len);
	if (e->name == NULL || auth_sha256(parts, lens, 1, e->digest) != PC_OK) {
		pc_free(e->name);
		goto nomem;
	}
	t->n++;
	return PC_OK;
nomem:
	snprintf(errbuf, errlen, "%s: out of memory", where);
	return PC_ERR_NOMEM;
}

static int
parse_json(const char *path, const char *data, size_t len, struct tokens *t,
    char *errbuf, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *name;
	json_t *value;
	int err = PC_OK;

	if (root == NULL || !json_is_object(root)) {
		snprintf(errbuf, errlen, "%s:%d: invalid JSON: %s", path,
		    root == NULL ? jerr.line : 1,
		    root == NULL ? jerr.text : "expected one object of name: token");
		json_decref(root);
		return PC_ERR_INVALID;
	}
	json_object_foreach(root, name, value) {
		char where[300];

		snprintf(where, sizeof(where), "%s: token \"%.64s\"", path, name);
		if (!json_is_string(value)) {
			snprintf(errbuf, errlen, "%s: the value must be a string", where);
			err = PC_ERR_INVALID;
			break;
		}
		err = add_token(t, where, name, strlen(name), json_string_value(value),
		    json_string_length(value), errbuf, errlen);
		if (err != PC_OK)
			break;
	}
	json_decref(root);
	return err;
}

static int
parse_line(const char *where, const char *p, size_t len, struct tokens *t,
    char *errbuf, size_t errlen)
{
	size_t i = 0;
	size_t name_start;
	size_t name_len;
	size_t token_start;
	size_t token_len;

	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	name_start = i;
	while (i < len && p[i] != ' ' && p[i] != '\t')
		i++;
	name_len = i - name_start;
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	token_start = i;
	while (i < len && p[i] != ' ' && p[i] != '\t')
		i++;
	token_len = i - token_start;
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;

	if (token_len == 0 || i != len) {
		snprintf(errbuf, errlen, "%s: invalid line: expected \"name token\"",
		    where);
		return PC_ERR_INVALID;
	}
	return add_token(t, where, p + name_start, name_len, p + token_start,
	    token_len, errbuf, errlen);
}

static bool
is_blank_or_comment(const char *p, size_t len)
{
	size_t i = 0;

	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i == len || p[i] == '#';
}

static int
parse_lines(const char *path, char *data, size_t len, struct tokens *t,
    char *errbuf, size_t errlen)
{
	char *p = data;
	char *end = data + len;
	int lineno = 0;

	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *next = nl != NULL ? nl + 1 : end;
		size_t llen = (size_t)((nl != NULL ? nl : end) - p);
		char where[300];
		int err;

		lineno++;
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		if (memchr(p, '\0', llen) != NULL) {
			snprintf(errbuf, errlen, "%s: NUL byte in line", where);
			return PC_ERR_INVALID;
		}
		if (llen > 0 && p[llen - 1] == '\r')
			llen--;
		if (!is_blank_or_comment(p, llen)) {
			err = parse_line(where, p, llen, t, errbuf, errlen);
			if (err != PC_OK)
				return err;
		}
		p = next;
	}
	return PC_OK;
}

static int
check_duplicates(const char *path, const struct tokens *t, char *errbuf,
    size_t errlen)
{
	/* Quadratic, but bounded by AUTH_MAX_ENTRIES and run once at load. */
	for (size_t i = 0; i < t->n; i++) {
		for (size_t j = i + 1; j < t->n; j++) {
			if (strcmp(t->entries[i].name, t->entries[j].name) == 0) {
				snprintf(errbuf, errlen, "%s: token name \"%s\" is listed "
				    "twice", path, t->entries[i].name);
				return PC_ERR_INVALID;
			}
			if (memcmp(t->entries[i].digest, t->entries[j].digest,
			    AUTH_SHA256_BYTES) == 0) {
				snprintf(errbuf, errlen, "%s: tokens \"%s\" and \"%s\" are "
				    "equal: give each client its own", path,
				    t->entries[i].name, t->entries[j].name);
				return PC_ERR_INVALID;
			}
		}
	}
	return PC_OK;
}

int
tokens_load(const char *path, struct tokens **out, char *errbuf,
    size_t errlen)
{
	struct tokens *t = NULL;
	char *data = NULL;
	size_t len = 0;
	size_t i = 0;
	int err;

	*out = NULL;
	err = auth_read_file(path, &data, &len, errbuf, errlen);
	if (err != PC_OK)
		return err;
	t = pc_calloc(1, sizeof(*t));
	if (t == NULL) {
		snprintf(errbuf, errlen, "%s: out of memory", path);
		err = PC_ERR_NOMEM;
		goto out;
	}

	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' ||
	    data[i] == '\n'))
		i++;
	if (i < len && data[i] == '{')
		err = parse_json(path, data, len, t, errbuf, errlen);
	else
		err = parse_lines(path, data, len, t, errbuf, errlen);
	if (err == PC_OK)
		err = check_duplicates(path, t, errbuf, errlen);
	if (err == PC_OK && t->n == 0) {
		snprintf(errbuf, errlen, "%s: no tokens", path);
		err = PC_ERR_INVALID;
	}
	if (err != PC_OK)
		goto out;
	*out = t;
	t = NULL;
out:
	auth_free_secret(data, len);
	tokens_free(t);
	return err;
}

void
tokens_free(struct tokens *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++)
		pc_free(t->entries[i].name);
	pc_free(t->entries);
	pc_free(t);
}

const char *
tokens_find(const struct tokens *t, const char *name, const char *token,
    size_t len)
{
	const void *parts[] = { token };
	size_t lens[] = { len };
	unsigned char digest[AUTH_SHA256_BYTES];
	const char *found = NULL;

	if (len < AUTH_MIN_TOKEN_BYTES || len > AUTH_MAX_TOKEN_BYTES)
		return NULL;
	if (auth_sha256(parts, lens, 1, digest) != PC_OK)
		return NULL;
	/* Every entry is compared, so the time does not tell which matched. */
	for (size_t i = 0; i < t->n; i++) {
		bool equal = CRYPTO_memcmp(digest, t->entries[i].digest,
		    AUTH_SHA256_BYTES) == 0;

		if (equal && (name == NULL || strcmp(name, t->entries[i].name) == 0))
			found = t->entries[i].name;
	}
	return found;
}
