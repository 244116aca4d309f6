#include "base/str.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

size_t mg_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

bool mg_starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool mg_ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

bool mg_streq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

int mg_parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

int mg_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Parse "<digits><suffix>" and look the suffix up in a table. */
static int parse_scaled(const char *s, const char *const *suffixes, const uint64_t *mult,
			size_t n, uint64_t *out)
{
	char num[32];
	size_t i = 0;
	uint64_t v;

	if (!s)
		return -EINVAL;
	while (isdigit((unsigned char)s[i]) && i < sizeof(num) - 1) {
		num[i] = s[i];
		i++;
	}
	num[i] = '\0';
	if (i == 0 || mg_parse_u64(num, &v))
		return -EINVAL;
	for (size_t k = 0; k < n; k++) {
		if (strcasecmp(s + i, suffixes[k]) == 0) {
			if (mult[k] && v > UINT64_MAX / mult[k])
				return -ERANGE;
			*out = v * mult[k];
			return 0;
		}
	}
	return -EINVAL;
}

int mg_parse_size(const char *s, uint64_t *out)
{
	static const char *const suf[] = { "", "b", "k", "kb", "kib", "m", "mb", "mib",
					   "g", "gb", "gib" };
	static const uint64_t mult[] = { 1, 1, 1ull << 10, 1ull << 10, 1ull << 10, 1ull << 20,
					 1ull << 20, 1ull << 20, 1ull << 30, 1ull << 30, 1ull << 30 };

	return parse_scaled(s, suf, mult, MG_ARRAY_LEN(suf), out);
}

int mg_parse_duration_ms(const char *s, uint64_t *out)
{
	static const char *const suf[] = { "", "ms", "s", "m", "h" };
	static const uint64_t mult[] = { 1000, 1, 1000, 60000, 3600000 };

	return parse_scaled(s, suf, mult, MG_ARRAY_LEN(suf), out);
}

size_t mg_strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

char **mg_strv_push(char **v, const char *s)
{
	size_t n = mg_strv_len(v);

	v = mg_realloc(v, (n + 2) * sizeof(*v));
	v[n] = mg_strdup(s);
	v[n + 1] = NULL;
	return v;
}

void mg_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

char **mg_split_csv(const char *s)
{
	char **v = mg_calloc(1, sizeof(*v));
	const char *p = s;

	while (p && *p) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		const char *a = p, *b = end;

		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		if (b > a) {
			char *item = mg_memdup0(a, (size_t)(b - a));
			v = mg_strv_push(v, item);
			free(item);
		}
		p = comma ? comma + 1 : end;
	}
	return v;
}

bool mg_glob_match(const char *pat, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s) {
		if (*pat == '*') {
			star = pat++;
			resume = s;
		} else if (*pat == '?' || *pat == *s) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

int mg_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

double mg_entropy(const void *data, size_t n)
{
	const unsigned char *s = data;
	unsigned count[256] = { 0 };
	double h = 0;

	for (size_t i = 0; i < n; i++)
		count[s[i]]++;
	for (unsigned c = 0; c < 256; c++) {
		if (count[c]) {
			double p = (double)count[c] / (double)n;

			h -= p * log2(p);
		}
	}
	return h;
}
