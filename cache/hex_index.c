#include "cache/hex_index.h"

#include <string.h>

#include "common/alloc.h"
#include "common/error.h"

static size_t
hex_hash(const char *hex)
{
	size_t h = 0;

	for (int i = 0; i < 16; i++) {
		char c = hex[i];

		h = (h << 4) | (size_t)(c <= '9' ? c - '0' : c - 'a' + 10);
	}
	return h;
}

static struct hex_index_node **
bucket_of(const struct hex_index *ix, const char *hex)
{
	return &ix->buckets[hex_hash(hex) & (ix->nbuckets - 1)];
}

bool
hex_is_lower(const char *s, size_t len)
{
	if (strnlen(s, len + 1) != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

int
hex_index_init(struct hex_index *ix, size_t nbuckets)
{
	memset(ix, 0, sizeof(*ix));
	ix->buckets = pc_calloc(nbuckets, sizeof(*ix->buckets));
	if (ix->buckets == NULL)
		return PC_ERR_NOMEM;
	ix->nbuckets = nbuckets;
	return PC_OK;
}

void
hex_index_free(struct hex_index *ix)
{
	pc_free(ix->buckets);
	ix->buckets = NULL;
	ix->nbuckets = 0;
	ix->count = 0;
	ix->oldest = NULL;
	ix->newest = NULL;
}

struct hex_index_node *
hex_index_find(const struct hex_index *ix, const char *hex)
{
	struct hex_index_node *node = *bucket_of(ix, hex);

	while (node != NULL && memcmp(node->hex, hex, HEX_INDEX_KEY_LEN) != 0)
		node = node->hash_next;
	return node;
}

int
hex_index_reserve(struct hex_index *ix)
{
	struct hex_index_node **old = ix->buckets;
	size_t old_n = ix->nbuckets;

	if (ix->count < ix->nbuckets)
		return PC_OK;
	ix->buckets = pc_calloc(old_n * 2, sizeof(*ix->buckets));
	if (ix->buckets == NULL) {
		ix->buckets = old;
		return PC_ERR_NOMEM;
	}
	ix->nbuckets = old_n * 2;

	for (size_t i = 0; i < old_n; i++) {
		struct hex_index_node *node = old[i];

		while (node != NULL) {
			struct hex_index_node *next = node->hash_next;
			struct hex_index_node **b = bucket_of(ix, node->hex);

			node->hash_next = *b;
			*b = node;
			node = next;
		}
	}
	pc_free(old);
	return PC_OK;
}

static void
lru_unlink(struct hex_index *ix, struct hex_index_node *node)
{
	if (node->lru_prev != NULL)
		node->lru_prev->lru_next = node->lru_next;
	else
		ix->oldest = node->lru_next;
	if (node->lru_next != NULL)
		node->lru_next->lru_prev = node->lru_prev;
	else
		ix->newest = node->lru_prev;
	node->lru_prev = NULL;
	node->lru_next = NULL;
}

static void
lru_append(struct hex_index *ix, struct hex_index_node *node)
{
	node->lru_prev = ix->newest;
	node->lru_next = NULL;
	if (ix->newest != NULL)
		ix->newest->lru_next = node;
	else
		ix->oldest = node;
	ix->newest = node;
}

void
hex_index_insert(struct hex_index *ix, struct hex_index_node *node)
{
	struct hex_index_node **b = bucket_of(ix, node->hex);

	node->hash_next = *b;
	*b = node;
	lru_append(ix, node);
	ix->count++;
}

void
hex_index_remove(struct hex_index *ix, struct hex_index_node *node)
{
	struct hex_index_node **pp = bucket_of(ix, node->hex);

	while (*pp != node)
		pp = &(*pp)->hash_next;
	*pp = node->hash_next;
	node->hash_next = NULL;
	lru_unlink(ix, node);
	ix->count--;
}

void
hex_index_touch(struct hex_index *ix, struct hex_index_node *node)
{
	lru_unlink(ix, node);
	lru_append(ix, node);
}
