#ifndef PORTCULLIS_CACHE_HEX_INDEX_H
#define PORTCULLIS_CACHE_HEX_INDEX_H

#include <stdbool.h>
#include <stddef.h>

/*
 * An intrusive hash table keyed by 64 lower-case hex digits (a SHA-256),
 * combined with a list in least recently used order. The blob store and
 * the tag cache embed a struct hex_index_node in their entries. The keys
 * are SHA-256 outputs, so their first 16 hex digits serve as the hash and
 * no input can force collisions. Internal to cache/; not thread-safe.
 */

#define HEX_INDEX_KEY_LEN 64

struct hex_index_node {
	char hex[HEX_INDEX_KEY_LEN + 1];
	struct hex_index_node *hash_next;
	struct hex_index_node *lru_prev;   /* toward the least recently used */
	struct hex_index_node *lru_next;
};

struct hex_index {
	struct hex_index_node **buckets;
	size_t nbuckets;                   /* a power of two */
	size_t count;
	struct hex_index_node *oldest;
	struct hex_index_node *newest;
};

/* Returns PC_OK or PC_ERR_NOMEM. nbuckets must be a power of two. */
int hex_index_init(struct hex_index *ix, size_t nbuckets);

/* Frees the bucket array; the nodes belong to the caller. */
void hex_index_free(struct hex_index *ix);

struct hex_index_node *hex_index_find(const struct hex_index *ix,
    const char *hex);

/*
 * Grows the table, if needed, so that one more node keeps the load at one
 * node per bucket or less. Returns PC_OK or PC_ERR_NOMEM; call it before
 * hex_index_insert(), which cannot fail.
 */
int hex_index_reserve(struct hex_index *ix);

/* Adds node (hex set, not yet present) as the most recently used. */
void hex_index_insert(struct hex_index *ix, struct hex_index_node *node);

/* Takes node out of the table and the list; the caller frees it. */
void hex_index_remove(struct hex_index *ix, struct hex_index_node *node);

/* Moves node to the most recently used end. */
void hex_index_touch(struct hex_index *ix, struct hex_index_node *node);

/* Returns true when s is exactly len lower-case hex digits. */
bool hex_is_lower(const char *s, size_t len);

#endif
