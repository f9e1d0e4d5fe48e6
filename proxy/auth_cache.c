#include "proxy/auth_internal.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/alloc.h"
#include "common/error.h"

/*
 * A small array searched from end to end: at AUTH_MAX_CACHE_ENTRIES it is
 * still far cheaper than one bcrypt. The least recently used entry makes
 * room for a new one.
 */
struct cache_entry {
	unsigned char key[AUTH_SHA256_BYTES];
	uint64_t expires_ns;
	uint64_t used_ns;
	bool valid;
};

struct auth_cache {
	struct cache_entry *entries;
	size_t n;
	uint64_t ttl_ns;
	unsigned char secret[AUTH_SHA256_BYTES];
};

int
auth_cache_new(unsigned entries, unsigned ttl_s, struct auth_cache **out)
{
	struct auth_cache *c;

	*out = NULL;
	if (entries == 0 || ttl_s == 0)
		return PC_OK;
	if (entries > AUTH_MAX_CACHE_ENTRIES)
		entries = AUTH_MAX_CACHE_ENTRIES;
	c = pc_calloc(1, sizeof(*c));
	if (c == NULL)
		return PC_ERR_NOMEM;
	c->entries = pc_calloc(entries, sizeof(*c->entries));
	if (c->entries == NULL) {
		pc_free(c);
		return PC_ERR_NOMEM;
	}
	c->n = entries;
	c->ttl_ns = (uint64_t)ttl_s * 1000000000u;
	if (RAND_bytes(c->secret, sizeof(c->secret)) != 1) {
		auth_cache_free(c);
		return PC_ERR_NOMEM;
	}
	*out = c;
	return PC_OK;
}

void
auth_cache_free(struct auth_cache *c)
{
	if (c == NULL)
		return;
	OPENSSL_cleanse(c->entries, c->n * sizeof(*c->entries));
	OPENSSL_cleanse(c->secret, sizeof(c->secret));
	pc_free(c->entries);
	pc_free(c);
}

int
auth_cache_key(const struct auth_cache *c, const char *user,
    const char *password, unsigned char key[AUTH_SHA256_BYTES])
{
	/* The NUL after the user keeps "ab"+"c" apart from "a"+"bc". */
	const void *parts[] = { c->secret, user, password };
	size_t lens[] = { sizeof(c->secret), strlen(user) + 1, strlen(password) };

	return auth_sha256(parts, lens, 3, key);
}

bool
auth_cache_lookup(struct auth_cache *c,
    const unsigned char key[AUTH_SHA256_BYTES], uint64_t now_ns)
{
	for (size_t i = 0; i < c->n; i++) {
		struct cache_entry *e = &c->entries[i];

		if (!e->valid || memcmp(e->key, key, AUTH_SHA256_BYTES) != 0)
			continue;
		if (now_ns >= e->expires_ns) {
			e->valid = false;
			return false;
		}
		e->used_ns = now_ns;
		return true;
	}
	return false;
}

void
auth_cache_insert(struct auth_cache *c,
    const unsigned char key[AUTH_SHA256_BYTES], uint64_t now_ns)
{
	struct cache_entry *victim = &c->entries[0];

	for (size_t i = 0; i < c->n; i++) {
		struct cache_entry *e = &c->entries[i];

		if (!e->valid || now_ns >= e->expires_ns ||
		    memcmp(e->key, key, AUTH_SHA256_BYTES) == 0) {
			victim = e;
			break;
		}
		if (e->used_ns < victim->used_ns)
			victim = e;
	}
	memcpy(victim->key, key, AUTH_SHA256_BYTES);
	victim->expires_ns = now_ns + c->ttl_ns;
	victim->used_ns = now_ns;
	victim->valid = true;
}

size_t
auth_cache_count(const struct auth_cache *c, uint64_t now_ns)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n; i++) {
		if (c->entries[i].valid && now_ns < c->entries[i].expires_ns)
			n++;
	}
	return n;
}
