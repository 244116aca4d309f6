#include "base/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"

void mg_buf_init(struct mg_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->max = max;
}

void mg_buf_release(struct mg_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
}

int mg_buf_reserve(struct mg_buf *b, size_t n)
{
	size_t want, alloc;

	if (n > b->max - b->len)
		return -EMSGSIZE;
	want = b->len + n + 1;
	if (want <= b->alloc)
		return 0;
	alloc = b->alloc ? b->alloc : 64;
	while (alloc < want)
		alloc = alloc > SIZE_MAX / 2 ? want : alloc * 2;
	if (alloc > b->max + 1)
		alloc = b->max + 1;
	b->data = mg_realloc(b->data, alloc);
	b->alloc = alloc;
	return 0;
}

int mg_buf_add(struct mg_buf *b, const void *p, size_t n)
{
	int rc = mg_buf_reserve(b, n);

	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int mg_buf_adds(struct mg_buf *b, const char *s)
{
	return mg_buf_add(b, s, strlen(s));
}

int mg_buf_addc(struct mg_buf *b, char c)
{
	return mg_buf_add(b, &c, 1);
}

int mg_buf_vaddf(struct mg_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n, rc;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return -EINVAL;
	rc = mg_buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int mg_buf_addf(struct mg_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = mg_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void mg_buf_consume(struct mg_buf *b, size_t n)
{
	if (n >= b->len) {
		mg_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

char *mg_buf_detach(struct mg_buf *b, size_t *len)
{
	char *p = b->data ? b->data : mg_memdup0("", 0);

	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	return p;
}
