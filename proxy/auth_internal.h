#ifndef PORTCULLIS_PROXY_AUTH_INTERNAL_H
#define PORTCULLIS_PROXY_AUTH_INTERNAL_H

/* Shared by auth.c, auth_htpasswd.c, auth_tokens.c and auth_rules.c. */

#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>

#include "proxy/auth.h"

#define AUTH_SHA256_BYTES 32

struct auth_counters {
	uint64_t authenticated;
	uint64_t failures[AUTH_FAIL_COUNT];
	uint64_t denied;
	uint64_t limited_client;
	uint64_t limited_user;
	uint64_t limited_streams;
	uint64_t limited_capacity;
	uint64_t cache_hits;
	uint64_t cache_misses;
	uint64_t open_streams;
};

struct auth {
	char realm[AUTH_MAX_REALM_BYTES + 1];
	enum auth_challenge_scheme scheme;   /* BASIC or BEARER, never AUTO */
	bool anonymous;
	struct htpasswd *htpasswd;
	struct tokens *tokens;
	struct auth_rules *rules;
	uint64_t (*clock_ns)(void *arg);
	void *clock_arg;

	/* Everything below is guarded by lock. */
	pthread_mutex_t lock;
	struct auth_cache *cache;
	struct ratelimit *clients;
	struct ratelimit *users;
	struct auth_counters counters;
	uint64_t log_window_ns;
	unsigned log_lines;
	uint64_t log_suppressed;
};

/* The outcome of reading the client's credentials. */
struct auth_credentials {
	int err;                    /* PC_OK, PC_ERR_DENIED or PC_ERR_NOMEM */
	enum auth_failure reason;   /* when err is PC_ERR_DENIED */
	bool bearer_rejected;       /* a Bearer token was presented and failed */
};

/*
 * Reads the credentials of req, or takes client_subject when there are
 * none, and verifies them. Sets res->identity and res->user (the claimed
 * user also on failure, for the log) and fills *cred.
 */
void auth_authenticate(struct auth *a, const struct http_request *req,
    const char *client_subject, struct auth_result *res, uint64_t now_ns,
    struct auth_credentials *cred);

/* Reads path whole, refusing files over AUTH_MAX_FILE_BYTES. */
int auth_read_file(const char *path, char **out, size_t *len, char *errbuf,
    size_t errlen);

/* Overwrites and frees a buffer that held secrets. */
void auth_free_secret(char *data, size_t len);

/* Writes SHA-256 of the concatenation of the parts into out. */
int auth_sha256(const void *const *parts, const size_t *lens, size_t n,
    unsigned char out[AUTH_SHA256_BYTES]);

/* The htpasswd file: users and bcrypt hashes, immutable after loading. */
struct htpasswd;

int htpasswd_load(const char *path, struct htpasswd **out, char *errbuf,
    size_t errlen);
void htpasswd_free(struct htpasswd *h);
bool htpasswd_has_user(const struct htpasswd *h, const char *user);

/*
 * Verifies password for user with bcrypt. Returns PC_OK on a match,
 * PC_ERR_DENIED on a wrong password, PC_ERR_NOTFOUND for an unknown user
 * (after hashing against a dummy entry of the same cost, so both take the
 * same time), or PC_ERR_NOMEM.
 */
int htpasswd_verify(const struct htpasswd *h, const char *user,
    const char *password);

/* The tokens file: names and SHA-256 of their tokens. */
struct tokens;

int tokens_load(const char *path, struct tokens **out, char *errbuf,
    size_t errlen);
void tokens_free(struct tokens *t);

/*
 * Returns the name of the token equal to token (len bytes), or NULL. When
 * name is not NULL, only the token of that name is accepted. Compares in
 * time independent of where the tokens differ.
 */
const char *tokens_find(const struct tokens *t, const char *name,
    const char *token, size_t len);

/* Authorisation rules, copied from the configuration. */
struct auth_rules;

int auth_rules_new(const struct auth_rule *rules, size_t n,
    struct auth_rules **out, char *errbuf, size_t errlen);
void auth_rules_free(struct auth_rules *r);
size_t auth_rules_count(const struct auth_rules *r);

/* True when the first rule matching identity and repository allows. */
bool auth_rules_allow(const struct auth_rules *r, enum auth_identity kind,
    const char *name, const char *repository);

/*
 * The cache of successful password verifications, keyed by a SHA-256 of a
 * random secret, the user and the password. It never stores a password,
 * and its keys cannot be tested offline without the secret. The caller
 * serialises access.
 */
struct auth_cache;

int auth_cache_new(unsigned entries, unsigned ttl_s, struct auth_cache **out);
void auth_cache_free(struct auth_cache *c);

/* Derives the cache key of a user and password. */
int auth_cache_key(const struct auth_cache *c, const char *user,
    const char *password, unsigned char key[AUTH_SHA256_BYTES]);

bool auth_cache_lookup(struct auth_cache *c,
    const unsigned char key[AUTH_SHA256_BYTES], uint64_t now_ns);
void auth_cache_insert(struct auth_cache *c,
    const unsigned char key[AUTH_SHA256_BYTES], uint64_t now_ns);
size_t auth_cache_count(const struct auth_cache *c, uint64_t now_ns);

/* Decodes standard base64 with padding; rejects anything else. */
int auth_base64_decode(const char *in, size_t len, unsigned char *out,
    size_t outcap, size_t *outlen);

#endif
