#include "proxy/upstream_auth.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"
#include "proxy/upstream.h"

/* Maximum length of the realm, service or scope in a cache key. */
#define TOKEN_KEY_PART_MAX 8192

struct token_entry {
	struct token_entry *next;
	char *key;          /* realm \n service \n scope */
	char *token;
	int64_t expires_ms; /* monotonic clock */
};

static int64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *
token_key_build(const char *realm, const char *service, const char *scope)
{
	struct buf key;

	buf_init(&key, 3 * TOKEN_KEY_PART_MAX);
	if (buf_printf(&key, "%s\n%s\n%s", realm, service != NULL ? service : "",
	    scope != NULL ? scope : "") != PC_OK) {
		buf_free(&key);
		return NULL;
	}
	return buf_steal(&key);
}

static void
token_entry_free(struct token_entry *t)
{
	pc_free(t->key);
	if (t->token != NULL) {
		OPENSSL_cleanse(t->token, strlen(t->token));
		pc_free(t->token);
	}
	pc_free(t);
}

const char *
token_cache_lookup(const struct token_cache *cache, const char *key)
{
	int64_t now = monotonic_ms();

	for (const struct token_entry *t = cache->entries; t != NULL; t = t->next) {
		if (strcmp(t->key, key) == 0 &&
		    now + UPSTREAM_TOKEN_EXPIRY_SKEW_S * 1000 < t->expires_ms)
			return t->token;
	}
	return NULL;
}

void
token_cache_invalidate(struct token_cache *cache, const char *key, const char *token)
{
	for (struct token_entry **p = &cache->entries; *p != NULL; p = &(*p)->next) {
		struct token_entry *t = *p;

		if (strcmp(t->key, key) == 0 && strcmp(t->token, token) == 0) {
			*p = t->next;
			token_entry_free(t);
			cache->n_entries--;
			return;
		}
	}
}

void
token_cache_store(struct token_cache *cache, const char *key, const char *token,
    int64_t lifetime_s)
{
	struct token_entry *t;

	for (struct token_entry **p = &cache->entries; *p != NULL; p = &(*p)->next) {
		if (strcmp((*p)->key, key) == 0) {
			t = *p;
			*p = t->next;
			token_entry_free(t);
			cache->n_entries--;
			break;
		}
	}
	if (cache->n_entries >= UPSTREAM_MAX_TOKENS) {
		struct token_entry **oldest = &cache->entries;

		for (struct token_entry **p = &cache->entries; *p != NULL; p = &(*p)->next) {
			if ((*p)->expires_ms < (*oldest)->expires_ms)
				oldest = p;
		}
		t = *oldest;
		*oldest = t->next;
		token_entry_free(t);
		cache->n_entries--;
	}

	t = pc_calloc(1, sizeof(*t));
	if (t == NULL)
		return;
	t->key = pc_strdup(key);
	t->token = pc_strdup(token);
	if (t->key == NULL || t->token == NULL) {
		token_entry_free(t);
		return;
	}
	t->expires_ms = monotonic_ms() + lifetime_s * 1000;
	t->next = cache->entries;
	cache->entries = t;
	cache->n_entries++;
}

/*
 * Parses an RFC 3339 time such as "2026-12-04T20:31:07Z" or
 * "2026-12-04T20:31:07.123456789+01:00" into seconds since the epoch.
 */
static bool
rfc3339_parse(const char *s, time_t *out)
{
	struct tm tm = { 0 };
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	long offset = 0;

	if (p == NULL)
		return false;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		char *end;
		long hours = strtol(p + 1, &end, 10);
		long minutes;

		if (end != p + 3 || *end != ':' || hours > 23)
			return false;
		minutes = strtol(end + 1, &end, 10);
		if (*end != '\0' || minutes > 59)
			return false;
		offset = sign * (hours * 3600 + minutes * 60);
	} else if ((*p != 'Z' && *p != 'z') || p[1] != '\0') {
		return false;
	}
	*out = timegm(&tm) - offset;
	return true;
}

/* Bytes allowed in a token: visible ASCII, so it cannot break the header line. */
static bool
token_is_valid(const char *token)
{
	if (token[0] == '\0')
		return false;
	for (const char *p = token; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	}
	return true;
}

/*
 * The lifetime counts from issued_at when that lies in the past, so a
 * token the endpoint handed out earlier is not kept too long.
 */
int
token_response_parse(const char *body, size_t len, char **token, int64_t *lifetime_s)
{
	json_t *root = json_loadb(body, len, 0, NULL);
	const char *value;
	json_t *expires;
	const char *issued;
	int64_t lifetime = UPSTREAM_TOKEN_MIN_LIFETIME_S;
	time_t issued_at;
	int err = PC_ERR_INVALID;

	if (!json_is_object(root))
		goto out;
	value = json_string_value(json_object_get(root, "token"));
	if (value == NULL || value[0] == '\0')
		value = json_string_value(json_object_get(root, "access_token"));
	if (value == NULL || !token_is_valid(value))
		goto out;

	expires = json_object_get(root, "expires_in");
	if (json_is_integer(expires) && json_integer_value(expires) > lifetime)
		lifetime = json_integer_value(expires);
	issued = json_string_value(json_object_get(root, "issued_at"));
	if (issued != NULL && rfc3339_parse(issued, &issued_at)) {
		int64_t age = (int64_t)(time(NULL) - issued_at);

		if (age > 0 && age < lifetime)
			lifetime -= age;
	}
	*token = pc_strdup(value);
	if (*token == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	*lifetime_s = lifetime;
	err = PC_OK;
out:
	json_decref(root);
	return err;
}

void
token_cache_clear(struct token_cache *cache)
{
	while (cache->entries != NULL) {
		struct token_entry *t = cache->entries;

		cache->entries = t->next;
		token_entry_free(t);
	}
	cache->n_entries = 0;
}

/* Builds "Authorization: Basic base64(user:password)" into *out. */
static int
basic_header_build(const char *user, const char *password, char **out)
{
	static const char prefix[] = "Authorization: Basic ";
	struct buf plain;
	unsigned char *encoded = NULL;
	size_t encoded_len;
	int err;

	buf_init(&plain, UPSTREAM_MAX_CREDENTIALS_FILE);
	err = buf_printf(&plain, "%s:%s", user, password);
	if (err != PC_OK)
		goto out;
	encoded_len = sizeof(prefix) + 4 * ((plain.len + 2) / 3);
	encoded = pc_malloc(encoded_len);
	if (encoded == NULL) {
		err = PC_ERR_NOMEM;
		goto out;
	}
	memcpy(encoded, prefix, sizeof(prefix) - 1);
	EVP_EncodeBlock(encoded + sizeof(prefix) - 1, (const unsigned char *)plain.data,
	    (int)plain.len);
	*out = (char *)encoded;
	encoded = NULL;
out:
	if (plain.data != NULL)
		OPENSSL_cleanse(plain.data, plain.len);
	buf_free(&plain);
	pc_free(encoded);
	return err;
}

/* Splits a credentials file: "user:password" on its first line, or JSON. */
static int
credentials_parse(char *text, size_t len, char **header)
{
	json_t *root = NULL;
	const char *user;
	const char *password;
	int err;

	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' ||
	    text[len - 1] == ' ' || text[len - 1] == '\t'))
		text[--len] = '\0';
	if (len > 0 && text[0] == '{') {
		root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
		user = json_string_value(json_object_get(root, "username"));
		password = json_string_value(json_object_get(root, "password"));
	} else {
		char *colon = memchr(text, ':', len);

		if (memchr(text, '\n', len) != NULL || colon == NULL) {
			err = PC_ERR_INVALID;
			goto out;
		}
		*colon = '\0';
		user = text;
		password = colon + 1;
	}
	if (user == NULL || password == NULL || user[0] == '\0' || strchr(user, ':') != NULL) {
		err = PC_ERR_INVALID;
		goto out;
	}
	err = basic_header_build(user, password, header);
out:
	json_decref(root);
	return err;
}

int
upstream_credentials_load(const char *path, char **header)
{
	FILE *fp = fopen(path, "rb");
	char text[UPSTREAM_MAX_CREDENTIALS_FILE + 1];
	size_t len;
	int err;

	if (fp == NULL)
		return PC_ERR_IO;
	len = fread(text, 1, sizeof(text), fp);
	if (ferror(fp)) {
		err = PC_ERR_IO;
		goto out;
	}
	if (len > UPSTREAM_MAX_CREDENTIALS_FILE) {
		err = PC_ERR_LIMIT;
		goto out;
	}
	text[len] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		err = PC_ERR_INVALID;
		goto out;
	}
	err = credentials_parse(text, len, header);
out:
	OPENSSL_cleanse(text, sizeof(text));
	fclose(fp);
	return err;
}
