/* Allocation wrappers.  mcpguard treats running out of memory as fatal:
 * every buffer that untrusted input can grow has a cap chosen at creation
 * (see buf.h), so an allocation failure means the host itself is out of
 * memory and no request can be served correctly anyway. */
#ifndef MG_MEM_H
#define MG_MEM_H

#include <stddef.h>

/* Never return NULL; abort with a message on failure.  Free with free(). */
void *mg_malloc(size_t n);
void *mg_calloc(size_t count, size_t n);
void *mg_realloc(void *p, size_t n);
char *mg_strdup(const char *s);
char *mg_strndup(const char *s, size_t n);
/* Copy n bytes into a new buffer with a trailing NUL (not counted). */
char *mg_memdup0(const void *p, size_t n);

/* Hand a pointer over to a new owner and clear the old reference. */
static inline void *mg_steal(void *pp)
{
	void **p = pp;
	void *v = *p;
	*p = NULL;
	return v;
}

#define MG_NEW(type) ((type *)mg_calloc(1, sizeof(type)))
#define MG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
