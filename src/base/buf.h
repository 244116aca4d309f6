/* Capped byte buffer.  The cap is chosen at init; appending past it fails
 * with -EMSGSIZE and leaves the buffer unchanged, so input from a peer can
 * never make the gateway grow memory without bound. */
#ifndef MG_BUF_H
#define MG_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct mg_buf {
	char *data;     /* always NUL-terminated when non-NULL */
	size_t len;
	size_t alloc;
	size_t max;     /* hard cap on len */
};

void mg_buf_init(struct mg_buf *b, size_t max);
/* Free the storage; the buffer can be reused after mg_buf_init. */
void mg_buf_release(struct mg_buf *b);
/* Keep the storage, forget the content. */
static inline void mg_buf_reset(struct mg_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}
/* Cut back to len bytes (len <= b->len), e.g. to undo a failed append. */
static inline void mg_buf_truncate(struct mg_buf *b, size_t len)
{
	b->len = len;
	if (b->data)
		b->data[len] = '\0';
}
/* Ensure room for n more bytes (within the cap).  0 or -EMSGSIZE. */
int mg_buf_reserve(struct mg_buf *b, size_t n);
int mg_buf_add(struct mg_buf *b, const void *p, size_t n);
int mg_buf_adds(struct mg_buf *b, const char *s);
int mg_buf_addc(struct mg_buf *b, char c);
int mg_buf_addf(struct mg_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int mg_buf_vaddf(struct mg_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Drop the first n bytes. */
void mg_buf_consume(struct mg_buf *b, size_t n);
/* Take the storage (caller frees; NUL-terminated) and reset the buffer. */
char *mg_buf_detach(struct mg_buf *b, size_t *len);

/* A filter over text about to be written somewhere (the redaction of
 * secrets from logs, audit records, cache files): appends the text to use
 * to out and returns true, or returns false to keep the text as it is. */
typedef bool (*mg_text_filter)(void *ctx, const char *text, size_t len, struct mg_buf *out);

#endif
