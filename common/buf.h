#ifndef PORTCULLIS_COMMON_BUF_H
#define PORTCULLIS_COMMON_BUF_H

#include <stddef.h>

/*
 * A growable byte buffer with a hard cap. The caller owns the struct;
 * buf_free() releases the storage. data is always NUL-terminated after
 * len bytes, so text can be used as a C string.
 */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;  /* appends beyond max bytes fail with PC_ERR_LIMIT */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);

/* Each returns PC_OK, PC_ERR_LIMIT or PC_ERR_NOMEM; b is unchanged on error. */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Hands the storage to the caller (free with pc_free) and resets b. */
char *buf_steal(struct buf *b);

#endif
