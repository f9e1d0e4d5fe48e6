#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/error.h"

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
buf_free(struct buf *b)
{
	pc_free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

static int
buf_reserve(struct buf *b, size_t extra)
{
	size_t need;
	size_t cap;
	char *data;

	if (extra > b->max || b->len > b->max - extra)
		return PC_ERR_LIMIT;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return PC_OK;

	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	data = pc_realloc(b->data, cap);
	if (data == NULL)
		return PC_ERR_NOMEM;
	b->data = data;
	b->cap = cap;
	return PC_OK;
}

int
buf_append(struct buf *b, const void *data, size_t len)
{
	int err = buf_reserve(b, len);

	if (err != PC_OK)
		return err;
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return PC_OK;
}

int
buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	int err;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return PC_ERR_INVALID;

	err = buf_reserve(b, (size_t)n);
	if (err != PC_OK)
		return err;

	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return PC_OK;
}

char *
buf_steal(struct buf *b)
{
	char *data = b->data;

	if (data == NULL)
		data = pc_strdup("");
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return data;
}
