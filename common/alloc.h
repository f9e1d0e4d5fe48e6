#ifndef PORTCULLIS_COMMON_ALLOC_H
#define PORTCULLIS_COMMON_ALLOC_H

#include <stddef.h>

/*
 * Every allocation of portcullis goes through these wrappers, so a unit
 * test can make the Nth allocation fail and check that error paths unwind.
 * They return NULL on failure, like malloc(3); pc_free(NULL) is a no-op.
 * pc_alloc_init() routes jansson's allocations through them as well.
 */
void *pc_malloc(size_t size);
void *pc_calloc(size_t nmemb, size_t size);
void *pc_realloc(void *ptr, size_t size);
char *pc_strdup(const char *s);
char *pc_strndup(const char *s, size_t n);
void pc_free(void *ptr);

/* Allocation with overflow check of nmemb * size; NULL on overflow. */
void *pc_reallocarray(void *ptr, size_t nmemb, size_t size);

void pc_alloc_init(void);

/*
 * Test hook: after n more successful allocations every allocation fails,
 * until pc_alloc_fail_after(-1) turns failures off again.
 */
void pc_alloc_fail_after(long n);

#endif
