#ifndef PORTCULLIS_PROXY_UPSTREAM_AUTH_H
#define PORTCULLIS_PROXY_UPSTREAM_AUTH_H

#include <stddef.h>
#include <stdint.h>

/*
 * Credentials and registry tokens of one upstream: the part of the
 * upstream client (proxy/upstream.c) that needs no network. Only
 * upstream.c includes this header; other modules use proxy/upstream.h.
 */

struct token_entry;

/* Tokens by key, at most UPSTREAM_MAX_TOKENS. Zero-initialise before use. */
struct token_cache {
	struct token_entry *entries;
	size_t n_entries;
};

/*
 * Builds the cache key "realm \n service \n scope" (NULL parts are empty).
 * Returns a string to free with pc_free, or NULL when out of memory.
 */
char *token_key_build(const char *realm, const char *service, const char *scope);

/*
 * Returns the token cached under key if it stays valid for another
 * UPSTREAM_TOKEN_EXPIRY_SKEW_S seconds, or NULL. The string belongs to
 * the cache and lives until the next change to it.
 */
const char *token_cache_lookup(const struct token_cache *cache, const char *key);

/* Drops the entry for key if it still contains token, so a newer token stays. */
void token_cache_invalidate(struct token_cache *cache, const char *key, const char *token);

/*
 * Stores token under key for lifetime_s seconds, replacing an entry with
 * the same key. When the cache is full the entry closest to expiry goes.
 * Out of memory leaves the token uncached, which only costs a refetch.
 */
void token_cache_store(struct token_cache *cache, const char *key, const char *token,
    int64_t lifetime_s);

/* Frees every entry, wiping the tokens. */
void token_cache_clear(struct token_cache *cache);

/*
 * Parses a token endpoint response, {token | access_token, expires_in,
 * issued_at}. *lifetime_s is expires_in (at least
 * UPSTREAM_TOKEN_MIN_LIFETIME_S), minus the token's age when issued_at
 * lies in the past. Returns PC_OK, PC_ERR_INVALID for bad JSON, a missing
 * token or one with bytes outside visible ASCII, or PC_ERR_NOMEM.
 */
int token_response_parse(const char *body, size_t len, char **token, int64_t *lifetime_s);

/*
 * Reads a credentials file, one line "username:password" or a JSON object
 * {"username": .., "password": ..}, into the header line
 * "Authorization: Basic ..." (free with pc_free). Returns PC_OK, PC_ERR_IO,
 * PC_ERR_LIMIT past UPSTREAM_MAX_CREDENTIALS_FILE, PC_ERR_INVALID or
 * PC_ERR_NOMEM. The file's bytes are wiped from memory after use.
 */
int upstream_credentials_load(const char *path, char **header);

#endif
