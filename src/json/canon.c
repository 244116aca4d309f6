/* json/canon: RFC 8785 canonical JSON (see canon.h). */
#include "json/canon.h"

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

/* Where the canonical bytes go: a capped buffer or a running hash. */
struct sink {
	struct mg_buf *buf;
	crypto_hash_sha256_state *hash;
};

static int put(struct sink *s, const void *p, size_t n)
{
	if (s->buf)
		return mg_buf_add(s->buf, p, n);
	crypto_hash_sha256_update(s->hash, p, n);
	return 0;
}

/* ---- numbers ---- */

/* x > 0 rounded to p significant digits (correctly, by printf): digits
 * into d (p of them, no dot), the decimal exponent of the first into *e. */
static void round_digits(double x, int p, char *d, int *e)
{
	char t[48];
	int n = snprintf(t, sizeof(t), "%.*e", p - 1, x), j = 0, i = 0;
	bool neg = false;

	for (; i < n && t[i] != 'e'; i++)
		if (t[i] != '.')
			d[j++] = t[i];
	d[j] = '\0';
	*e = 0;
	if (t[i] == 'e') {
		i++;
		neg = t[i] == '-';
		for (i++; i < n; i++)
			*e = *e * 10 + (t[i] - '0');
	}
	if (neg)
		*e = -*e;
}

/* Do the p digits d with exponent e read back as x? */
static bool reads_back(const char *d, int e, double x)
{
	char t[48];

	snprintf(t, sizeof(t), "%c.%se%d", d[0], d + 1, e);
	return strtod(t, NULL) == x;
}

/* d plus or minus one unit in its last place, keeping p digits: the
 * exponent moves when it carries past the first digit (99..9 + 1 is
 * 10..0 one decade up) or borrows from a leading 1 (10..0 - 1 is 99..9
 * one decade down). */
static void step(char *d, int *e, int dir)
{
	size_t p = strlen(d);
	ssize_t i = (ssize_t)p - 1;

	if (dir > 0) {
		while (i >= 0 && d[i] == '9')
			d[i--] = '0';
		if (i < 0) {
			d[0] = '1';
			(*e)++;
		} else {
			d[i]++;
		}
		return;
	}
	while (i > 0 && d[i] == '0')
		d[i--] = '9';
	if (i == 0 && d[0] == '1') {    /* the rest were zeros, now nines */
		d[0] = '9';
		(*e)--;
	} else {
		d[i]--;
	}
}

/* The shortest digits s (k of them) and the exponent n of ECMAScript's
 * Number::toString step 5 for x > 0: s x 10^(n-k) == x, k minimal, and of
 * the k-digit candidates the closest to x.  printf gives the closest k-digit
 * decimal; when it does not read back but the next one on the other side
 * of x does (the rounding interval is lopsided at a power of two), that
 * one is the answer. */
static void shortest(double x, char *s, int *k, int *n)
{
	char d[24], alt[24];
	int e = 0, ae;

	for (int p = 1; p <= 17; p++) {
		round_digits(x, p, d, &e);
		if (reads_back(d, e, x))
			goto found;
		for (int dir = -1; dir <= 1; dir += 2) {
			memcpy(alt, d, sizeof(d));
			ae = e;
			step(alt, &ae, dir);
			if (reads_back(alt, ae, x)) {
				memcpy(d, alt, sizeof(d));
				e = ae;
				goto found;
			}
		}
	}
	round_digits(x, 17, d, &e);     /* 17 digits always read back */
found:
	*k = (int)strlen(d);
	while (*k > 1 && d[*k - 1] == '0')
		d[--*k] = '\0';
	memcpy(s, d, (size_t)*k + 1);
	*n = e + 1;
}

int mg_canon_number(double v, char *out, size_t size)
{
	char s[24], t[40];
	int k, n, len = 0;

	if (!isfinite(v) || size < 32)
		return -EINVAL;
	if (v == 0) {                   /* +0 and -0 */
		snprintf(out, size, "0");
		return 0;
	}
	if (v < 0)
		t[len++] = '-';
	shortest(fabs(v), s, &k, &n);
	if (k <= n && n <= 21) {        /* 1500, 1e20 written out */
		memcpy(t + len, s, (size_t)k);
		len += k;
		for (int i = 0; i < n - k; i++)
			t[len++] = '0';
	} else if (0 < n && n <= 21) {  /* 12.5 */
		memcpy(t + len, s, (size_t)n);
		len += n;
		t[len++] = '.';
		memcpy(t + len, s + n, (size_t)(k - n));
		len += k - n;
	} else if (-6 < n && n <= 0) {  /* 0.00125 */
		t[len++] = '0';
		t[len++] = '.';
		for (int i = 0; i < -n; i++)
			t[len++] = '0';
		memcpy(t + len, s, (size_t)k);
		len += k;
	} else {                        /* 1e+21, 1.5e-7 */
		t[len++] = s[0];
		if (k > 1) {
			t[len++] = '.';
			memcpy(t + len, s + 1, (size_t)(k - 1));
			len += k - 1;
		}
		len += snprintf(t + len, sizeof(t) - (size_t)len, "e%c%d", n - 1 > 0 ? '+' : '-',
				abs(n - 1));
	}
	t[len] = '\0';
	snprintf(out, size, "%s", t);
	return 0;
}

static int put_number(struct sink *s, const json_t *v)
{
	char t[40];
	int rc;

	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		/* |i| < 2^53: exactly what the double would print */
		if (i > -(1LL << 53) && i < (1LL << 53)) {
			rc = snprintf(t, sizeof(t), "%lld", (long long)i);
			return put(s, t, (size_t)rc);
		}
		rc = mg_canon_number((double)i, t, sizeof(t));
	} else {
		rc = mg_canon_number(json_real_value(v), t, sizeof(t));
	}
	return rc ? rc : put(s, t, strlen(t));
}

/* ---- strings ---- */

static int put_string(struct sink *s, const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;
	int rc;

	if ((rc = put(s, "\"", 1)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		char esc[6] = { '\\', 0 };
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
			break;
		}
		if ((rc = put(s, p + run, i - run)) || (rc = put(s, esc, elen)))
			return rc;
		run = i + 1;
	}
	if ((rc = put(s, p + run, n - run)))
		return rc;
	return put(s, "\"", 1);
}

/* ---- member order: UTF-16 code units of the names ---- */

struct u16_iter {
	const unsigned char *p, *end;
	unsigned low;           /* a low surrogate still to come, or 0 */
};

/* The next UTF-16 code unit, or -1 at the end.  Bytes that are not
 * UTF-8 (jansson refuses them; only _nocheck calls make such strings)
 * count as one unit each, so the order stays total. */
static long u16_next(struct u16_iter *it)
{
	unsigned c, cp, need;

	if (it->low) {
		c = it->low;
		it->low = 0;
		return c;
	}
	if (it->p == it->end)
		return -1;
	c = *it->p++;
	if (c < 0x80)
		return c;
	need = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
	cp = c & (0x3fu >> need);
	if (need == 0 || (size_t)(it->end - it->p) < need)
		return c;
	for (unsigned i = 0; i < need; i++)
		cp = (cp << 6) | (it->p[i] & 0x3fu);
	it->p += need;
	if (cp < 0x10000)
		return cp;
	cp -= 0x10000;
	it->low = 0xdc00 + (cp & 0x3ff);
	return 0xd800 + (cp >> 10);
}

struct member {
	const char *key;
	size_t len;
	json_t *value;
};

static int member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	struct u16_iter i = { (const unsigned char *)x->key, (const unsigned char *)x->key + x->len, 0 };
	struct u16_iter j = { (const unsigned char *)y->key, (const unsigned char *)y->key + y->len, 0 };

	for (;;) {
		long u = u16_next(&i), v = u16_next(&j);

		if (u != v)
			return u < v ? -1 : 1;
		if (u < 0)
			return 0;
	}
}

/* ---- values ---- */

static int put_value(struct sink *s, const json_t *v, int depth)
{
	struct member *m = NULL;
	size_t n = 0, len;
	const char *key;
	json_t *val;
	int rc = 0;

	if (!v)
		return -EINVAL;
	if (depth > MG_CANON_MAX_DEPTH)
		return -ELOOP;
	switch (json_typeof(v)) {
	case JSON_NULL:
		return put(s, "null", 4);
	case JSON_TRUE:
		return put(s, "true", 4);
	case JSON_FALSE:
		return put(s, "false", 5);
	case JSON_INTEGER:
	case JSON_REAL:
		return put_number(s, v);
	case JSON_STRING:
		return put_string(s, json_string_value(v), json_string_length(v));
	case JSON_ARRAY:
		if ((rc = put(s, "[", 1)))
			return rc;
		for (size_t i = 0; i < json_array_size(v); i++) {
			if ((i && (rc = put(s, ",", 1))) ||
			    (rc = put_value(s, json_array_get(v, i), depth + 1)))
				return rc;
		}
		return put(s, "]", 1);
	case JSON_OBJECT:
		m = mg_calloc(json_object_size(v) + 1, sizeof(*m));
		/* jansson's macros take a non-const object; nothing is changed */
		json_object_keylen_foreach((json_t *)(uintptr_t)v, key, len, val)
			m[n++] = (struct member){ key, len, val };
		qsort(m, n, sizeof(*m), member_cmp);
		if ((rc = put(s, "{", 1)))
			goto out;
		for (size_t i = 0; i < n; i++) {
			if ((i && (rc = put(s, ",", 1))) || (rc = put_string(s, m[i].key, m[i].len)) ||
			    (rc = put(s, ":", 1)) || (rc = put_value(s, m[i].value, depth + 1)))
				goto out;
		}
		rc = put(s, "}", 1);
		goto out;
	default:
		return -EINVAL;
	}
out:
	free(m);
	return rc;
}

int mg_canon(const json_t *v, struct mg_buf *out)
{
	struct sink s = { .buf = out };
	size_t before = out->len;
	int rc = put_value(&s, v, 0);

	if (rc)
		mg_buf_truncate(out, before);
	return rc;
}

int mg_canon_sha256(const json_t *v, unsigned char out[32])
{
	crypto_hash_sha256_state st;
	struct sink s = { .hash = &st };
	int rc;

	crypto_hash_sha256_init(&st);
	rc = put_value(&s, v, 0);
	crypto_hash_sha256_final(&st, out);
	if (rc)
		memset(out, 0, 32);
	return rc;
}

int mg_canon_sha256_hex(const json_t *v, char out[65])
{
	unsigned char h[32];
	int rc = mg_canon_sha256(v, h);

	out[0] = '\0';
	if (rc)
		return rc;
	sodium_bin2hex(out, 65, h, sizeof(h));
	return 0;
}
