#include "base/map.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/mem.h"

static char tomb_marker;
#define MG_MAP_TOMB (&tomb_marker)

/* ---- SipHash-1-3 (Aumasson & Bernstein), written from the paper. ---- */

static uint64_t sip_k0, sip_k1;
static int sip_seeded;

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                                   \
	do {                                                                       \
		v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);          \
		v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                             \
		v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                             \
		v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);          \
	} while (0)

static void sip_seed(void)
{
	uint64_t k[2] = { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull };

	/* A failure leaves the fixed key: still a good hash, only not secret. */
	if (getrandom(k, sizeof(k), GRND_NONBLOCK) != (ssize_t)sizeof(k)) {
		k[0] ^= (uint64_t)(uintptr_t)&k;
	}
	sip_k0 = k[0];
	sip_k1 = k[1];
	sip_seeded = 1;
}

uint64_t mg_hash(const void *p, size_t n)
{
	const unsigned char *in = p;
	uint64_t v0, v1, v2, v3, m, b = (uint64_t)n << 56;
	size_t i, tail = n & 7;

	if (!sip_seeded)
		sip_seed();
	v0 = 0x736f6d6570736575ull ^ sip_k0;
	v1 = 0x646f72616e646f6dull ^ sip_k1;
	v2 = 0x6c7967656e657261ull ^ sip_k0;
	v3 = 0x7465646279746573ull ^ sip_k1;
	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&m, in + i, 8);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t t = 0; t < tail; t++)
		b |= (uint64_t)in[i + t] << (8 * t);
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- map ---- */

void mg_map_init(struct mg_map *m)
{
	memset(m, 0, sizeof(*m));
}

void mg_map_release(struct mg_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != MG_MAP_TOMB)
			free(m->slots[i].key);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static struct mg_map_slot *find(const struct mg_map *m, const void *key, size_t klen,
				uint64_t h)
{
	size_t mask = m->cap - 1;

	if (!m->cap)
		return NULL;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct mg_map_slot *s = &m->slots[i];

		if (!s->key)
			return NULL;
		if (s->key != MG_MAP_TOMB && s->hash == h && s->klen == klen &&
		    memcmp(s->key, key, klen) == 0)
			return s;
	}
}

static void grow(struct mg_map *m)
{
	struct mg_map_slot *old = m->slots;
	size_t oldcap = m->cap;
	size_t cap = oldcap ? oldcap * 2 : 16;

	/* Rehash in place when most of the load is tombstones. */
	if (oldcap && m->count * 4 < oldcap)
		cap = oldcap;
	m->slots = mg_calloc(cap, sizeof(*m->slots));
	m->cap = cap;
	m->used = m->count;
	for (size_t i = 0; i < oldcap; i++) {
		struct mg_map_slot *s = &old[i];

		if (!s->key || s->key == MG_MAP_TOMB)
			continue;
		for (size_t j = s->hash & (cap - 1);; j = (j + 1) & (cap - 1)) {
			if (!m->slots[j].key) {
				m->slots[j] = *s;
				break;
			}
		}
	}
	free(old);
}

void *mg_map_get(const struct mg_map *m, const void *key, size_t klen)
{
	struct mg_map_slot *s = find(m, key, klen, mg_hash(key, klen));

	return s ? s->val : NULL;
}

void *mg_map_put(struct mg_map *m, const void *key, size_t klen, void *val)
{
	uint64_t h = mg_hash(key, klen);
	struct mg_map_slot *s = find(m, key, klen, h);
	size_t mask;

	if (s) {
		void *old = s->val;
		s->val = val;
		return old;
	}
	if ((m->used + 1) * 4 > m->cap * 3)
		grow(m);
	mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		s = &m->slots[i];
		if (!s->key || s->key == MG_MAP_TOMB) {
			if (!s->key)
				m->used++;
			s->key = mg_memdup0(key, klen);
			s->klen = klen;
			s->hash = h;
			s->val = val;
			m->count++;
			return NULL;
		}
	}
}

void *mg_map_del(struct mg_map *m, const void *key, size_t klen)
{
	struct mg_map_slot *s = find(m, key, klen, mg_hash(key, klen));
	void *val;

	if (!s)
		return NULL;
	val = s->val;
	free(s->key);
	s->key = MG_MAP_TOMB;
	s->val = NULL;
	m->count--;
	return val;
}

bool mg_map_next(const struct mg_map *m, size_t *iter, const char **key, size_t *klen,
		 void **val)
{
	while (*iter < m->cap) {
		struct mg_map_slot *s = &m->slots[(*iter)++];

		if (s->key && s->key != MG_MAP_TOMB) {
			if (key)
				*key = s->key;
			if (klen)
				*klen = s->klen;
			if (val)
				*val = s->val;
			return true;
		}
	}
	return false;
}
