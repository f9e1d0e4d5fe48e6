#include "common/alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Allocations left before failures start; negative means never fail. */
static atomic_long allocs_until_failure = -1;

static int
alloc_should_fail(void)
{
	long left = atomic_load(&allocs_until_failure);

	if (left < 0)
		return 0;
	if (left == 0)
		return 1;
	atomic_fetch_sub(&allocs_until_failure, 1);
	return 0;
}

void
pc_alloc_fail_after(long n)
{
	atomic_store(&allocs_until_failure, n);
}

void *
pc_malloc(size_t size)
{
	if (alloc_should_fail())
		return NULL;
	return malloc(size ? size : 1);
}

void *
pc_calloc(size_t nmemb, size_t size)
{
	if (alloc_should_fail())
		return NULL;
	return calloc(nmemb ? nmemb : 1, size ? size : 1);
}

void *
pc_realloc(void *ptr, size_t size)
{
	if (alloc_should_fail())
		return NULL;
	return realloc(ptr, size ? size : 1);
}

void *
pc_reallocarray(void *ptr, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		return NULL;
	return pc_realloc(ptr, nmemb * size);
}

char *
pc_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *copy = pc_malloc(len + 1);

	if (copy == NULL)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	return copy;
}

char *
pc_strdup(const char *s)
{
	return pc_strndup(s, SIZE_MAX);
}

void
pc_free(void *ptr)
{
	free(ptr);
}

void
pc_alloc_init(void)
{
	json_set_alloc_funcs(pc_malloc, pc_free);
}
