/* Hash map from byte-string keys to pointers (open addressing, linear
 * probing, tombstones).  Keys are copied; values are borrowed.  The hash is
 * SipHash-1-3 with a per-process random key, so peers that choose names
 * (tool names, ids) cannot force collisions. */
#ifndef MG_MAP_H
#define MG_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mg_map_slot {
	char *key;      /* NULL = empty; MG_MAP_TOMB = deleted */
	size_t klen;
	uint64_t hash;
	void *val;
};

struct mg_map {
	struct mg_map_slot *slots;
	size_t cap;     /* power of two or 0 */
	size_t count;   /* live entries */
	size_t used;    /* live + tombstones */
};

void mg_map_init(struct mg_map *m);
/* Free keys and slots; values are the caller's. */
void mg_map_release(struct mg_map *m);

void *mg_map_get(const struct mg_map *m, const void *key, size_t klen);
/* Insert or replace; returns the previous value or NULL. */
void *mg_map_put(struct mg_map *m, const void *key, size_t klen, void *val);
/* Remove; returns the removed value or NULL. */
void *mg_map_del(struct mg_map *m, const void *key, size_t klen);

static inline void *mg_map_gets(const struct mg_map *m, const char *k);
static inline void *mg_map_puts(struct mg_map *m, const char *k, void *v);
static inline void *mg_map_dels(struct mg_map *m, const char *k);
static inline void *mg_map_geti(const struct mg_map *m, uint64_t k);
static inline void *mg_map_puti(struct mg_map *m, uint64_t k, void *v);
static inline void *mg_map_deli(struct mg_map *m, uint64_t k);

/* Iteration: for (size_t i = 0; mg_map_next(m, &i, &k, &kl, &v);) ...
 * Deleting the current entry during iteration is allowed. */
bool mg_map_next(const struct mg_map *m, size_t *iter, const char **key, size_t *klen,
		 void **val);

uint64_t mg_hash(const void *p, size_t n);

#include <string.h>
static inline void *mg_map_gets(const struct mg_map *m, const char *k)
{
	return mg_map_get(m, k, strlen(k));
}
static inline void *mg_map_puts(struct mg_map *m, const char *k, void *v)
{
	return mg_map_put(m, k, strlen(k), v);
}
static inline void *mg_map_dels(struct mg_map *m, const char *k)
{
	return mg_map_del(m, k, strlen(k));
}
static inline void *mg_map_geti(const struct mg_map *m, uint64_t k)
{
	return mg_map_get(m, &k, sizeof(k));
}
static inline void *mg_map_puti(struct mg_map *m, uint64_t k, void *v)
{
	return mg_map_put(m, &k, sizeof(k), v);
}
static inline void *mg_map_deli(struct mg_map *m, uint64_t k)
{
	return mg_map_del(m, &k, sizeof(k));
}

#endif
