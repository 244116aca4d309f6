#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
	fprintf(stderr, "mcpguard: out of memory (allocating %zu bytes)\n", n);
	abort();
}

void *mg_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *mg_calloc(size_t count, size_t n)
{
	void *p = calloc(count ? count : 1, n ? n : 1);
	if (!p)
		oom(count * n);
	return p;
}

void *mg_realloc(void *old, size_t n)
{
	void *p = realloc(old, n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

char *mg_strdup(const char *s)
{
	return mg_memdup0(s, strlen(s));
}

char *mg_strndup(const char *s, size_t n)
{
	return mg_memdup0(s, strnlen(s, n));
}

char *mg_memdup0(const void *src, size_t n)
{
	char *p = mg_malloc(n + 1);
	memcpy(p, src, n);
	p[n] = '\0';
	return p;
}
