/* Unit tests for src/base: the capped buffer, the SipHash map, strict
 * parsers and glob, file helpers, error formatting, the intrusive list,
 * the clocks and the shared output budget. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/budget.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/list.h"
#include "base/map.h"
#include "base/mem.h"
#include "base/str.h"
#include "base/time.h"

/* ---- helpers ---- */

static char *join(const char *dir, const char *name)
{
	struct mg_buf b;

	mg_buf_init(&b, PATH_MAX);
	assert_int_equal(mg_buf_addf(&b, "%s/%s", dir, name), 0);
	return mg_buf_detach(&b, NULL);
}

/* Number of entries in a directory, "." and ".." excluded. */
static int count_entries(const char *dir)
{
	char cmd[PATH_MAX + 64];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

/* ======================================================================
 * buf
 * ====================================================================== */

static void test_buf_basic(void **state)
{
	struct mg_buf b;

	mg_buf_init(&b, 1024);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(mg_buf_adds(&b, "hello"), 0);
	assert_int_equal(mg_buf_addc(&b, ' '), 0);
	assert_int_equal(mg_buf_add(&b, "world!!", 5), 0);
	assert_int_equal(b.len, 11);
	assert_string_equal(b.data, "hello world");
	assert_int_equal(b.data[b.len], '\0');
	assert_true(b.alloc >= b.len + 1);
	mg_buf_release(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	/* Reusable after release. */
	assert_int_equal(mg_buf_adds(&b, "again"), 0);
	assert_string_equal(b.data, "again");
	mg_buf_release(&b);
}

static void test_buf_binary(void **state)
{
	struct mg_buf b;
	static const char bin[] = { 'a', '\0', 'b', '\0', '\xff' };

	mg_buf_init(&b, 64);
	assert_int_equal(mg_buf_add(&b, bin, sizeof(bin)), 0);
	assert_int_equal(b.len, sizeof(bin));
	assert_memory_equal(b.data, bin, sizeof(bin));
	assert_int_equal(b.data[b.len], '\0');
	/* A zero-length add is fine, even with a NULL pointer. */
	assert_int_equal(mg_buf_add(&b, NULL, 0), 0);
	assert_int_equal(b.len, sizeof(bin));
	mg_buf_release(&b);
}

static void test_buf_cap(void **state)
{
	struct mg_buf b;

	mg_buf_init(&b, 8);
	assert_int_equal(mg_buf_adds(&b, "12345678"), 0);
	assert_int_equal(b.len, 8);
	/* Full: every way of appending fails and leaves the content alone. */
	assert_int_equal(mg_buf_addc(&b, 'x'), -EMSGSIZE);
	assert_int_equal(mg_buf_adds(&b, "x"), -EMSGSIZE);
	assert_int_equal(mg_buf_add(&b, "xyz", 3), -EMSGSIZE);
	assert_int_equal(mg_buf_addf(&b, "%d", 7), -EMSGSIZE);
	assert_int_equal(mg_buf_reserve(&b, 1), -EMSGSIZE);
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "12345678");
	/* Nothing more is still fine. */
	assert_int_equal(mg_buf_add(&b, "", 0), 0);
	assert_int_equal(mg_buf_addf(&b, "%s", ""), 0);
	assert_int_equal(mg_buf_reserve(&b, 0), 0);
	assert_string_equal(b.data, "12345678");
	/* Never allocates more than the cap plus the NUL. */
	assert_true(b.alloc <= b.max + 1);
	mg_buf_release(&b);

	/* A partial fit is refused whole, not truncated. */
	mg_buf_init(&b, 8);
	assert_int_equal(mg_buf_adds(&b, "abcde"), 0);
	assert_int_equal(mg_buf_adds(&b, "fghi"), -EMSGSIZE);
	assert_string_equal(b.data, "abcde");
	assert_int_equal(mg_buf_addf(&b, "%s-%d", "zz", 42), -EMSGSIZE);
	assert_string_equal(b.data, "abcde");
	assert_int_equal(b.len, 5);
	assert_int_equal(mg_buf_adds(&b, "fgh"), 0);
	assert_string_equal(b.data, "abcdefgh");
	mg_buf_release(&b);
}

static void test_buf_cap_zero(void **state)
{
	struct mg_buf b;

	mg_buf_init(&b, 0);
	assert_int_equal(mg_buf_addc(&b, 'x'), -EMSGSIZE);
	assert_int_equal(b.len, 0);
	assert_int_equal(mg_buf_add(&b, "", 0), 0);
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	mg_buf_release(&b);
}

static void test_buf_cap_huge_request(void **state)
{
	struct mg_buf b;

	mg_buf_init(&b, 16);
	assert_int_equal(mg_buf_adds(&b, "ab"), 0);
	/* Sizes that would overflow len + n must not wrap around. */
	assert_int_equal(mg_buf_reserve(&b, SIZE_MAX), -EMSGSIZE);
	assert_int_equal(mg_buf_reserve(&b, SIZE_MAX - 1), -EMSGSIZE);
	assert_string_equal(b.data, "ab");
	mg_buf_release(&b);
}

static void test_buf_addf(void **state)
{
	struct mg_buf b;
	char big[3000];

	mg_buf_init(&b, 1 << 20);
	assert_int_equal(mg_buf_addf(&b, "%d-%s-%c", 42, "x", 'y'), 0);
	assert_string_equal(b.data, "42-x-y");
	assert_int_equal(mg_buf_addf(&b, "|%05u|%lld", 7u, -9223372036854775807LL - 1), 0);
	assert_string_equal(b.data, "42-x-y|00007|-9223372036854775808");
	assert_int_equal(b.len, strlen(b.data));
	/* Growth across the initial allocation. */
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	mg_buf_reset(&b);
	assert_int_equal(mg_buf_addf(&b, "[%s]", big), 0);
	assert_int_equal(b.len, sizeof(big) + 1);
	assert_int_equal(b.data[0], '[');
	assert_int_equal(b.data[b.len - 1], ']');
	assert_int_equal(b.data[b.len], '\0');
	/* An empty format on an empty buffer yields a valid empty string. */
	mg_buf_release(&b);
	mg_buf_init(&b, 10);
	assert_int_equal(mg_buf_addf(&b, "%s", ""), 0);
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	/* Exactly up to the cap. */
	assert_int_equal(mg_buf_addf(&b, "%010d", 5), 0);
	assert_string_equal(b.data, "0000000005");
	mg_buf_release(&b);
}

static void test_buf_grow_many(void **state)
{
	struct mg_buf b;
	const size_t n = 100000;

	mg_buf_init(&b, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(mg_buf_addc(&b, (char)('a' + i % 26)), 0);
	assert_int_equal(mg_buf_addc(&b, 'x'), -EMSGSIZE);
	assert_int_equal(b.len, n);
	assert_true(b.alloc <= n + 1);
	for (size_t i = 0; i < n; i++)
		if (b.data[i] != (char)('a' + i % 26))
			fail_msg("byte %zu differs", i);
	assert_int_equal(b.data[n], '\0');
	mg_buf_release(&b);
}

static void test_buf_consume(void **state)
{
	struct mg_buf b;

	mg_buf_init(&b, 64);
	/* Consuming an untouched buffer is harmless. */
	mg_buf_consume(&b, 0);
	mg_buf_consume(&b, 10);
	assert_int_equal(b.len, 0);
	assert_int_equal(mg_buf_adds(&b, "line one\nline two"), 0);
	mg_buf_consume(&b, 0);
	assert_string_equal(b.data, "line one\nline two");
	mg_buf_consume(&b, 9);
	assert_string_equal(b.data, "line two");
	assert_int_equal(b.len, 8);
	mg_buf_consume(&b, 5);
	assert_string_equal(b.data, "two");
	mg_buf_consume(&b, 3);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(mg_buf_adds(&b, "abc"), 0);
	mg_buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	/* Room is given back by consume: the cap is on the current length. */
	assert_int_equal(mg_buf_add(&b, "0123456789012345678901234567890123456789012345678901234567890123", 64), 0);
	assert_int_equal(mg_buf_addc(&b, 'x'), -EMSGSIZE);
	mg_buf_consume(&b, 60);
	assert_int_equal(mg_buf_adds(&b, "wxyz"), 0);
	assert_string_equal(b.data, "0123wxyz");
	mg_buf_release(&b);
}

static void test_buf_reset_keeps_storage(void **state)
{
	struct mg_buf b;
	char *p;
	size_t alloc;

	mg_buf_init(&b, 64);
	assert_int_equal(mg_buf_adds(&b, "abc"), 0);
	p = b.data;
	alloc = b.alloc;
	mg_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_ptr_equal(b.data, p);
	assert_int_equal(b.alloc, alloc);
	assert_string_equal(b.data, "");
	mg_buf_release(&b);
	/* Reset of a never-allocated buffer. */
	mg_buf_init(&b, 64);
	mg_buf_reset(&b);
	assert_null(b.data);
	mg_buf_release(&b);
}

static void test_buf_detach(void **state)
{
	struct mg_buf b;
	char *p;
	size_t len = 99;

	mg_buf_init(&b, 64);
	assert_int_equal(mg_buf_adds(&b, "payload"), 0);
	p = mg_buf_detach(&b, &len);
	assert_int_equal(len, 7);
	assert_string_equal(p, "payload");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.alloc, 0);
	assert_int_equal(b.max, 64);
	free(p);
	/* The buffer is usable again, with the same cap. */
	assert_int_equal(mg_buf_adds(&b, "again"), 0);
	p = mg_buf_detach(&b, NULL);
	assert_string_equal(p, "again");
	free(p);
	/* Detaching an empty buffer gives an allocated empty string. */
	len = 99;
	p = mg_buf_detach(&b, &len);
	assert_non_null(p);
	assert_int_equal(len, 0);
	assert_string_equal(p, "");
	free(p);
	mg_buf_release(&b);
}

static void test_buf_vaddf_helper(struct mg_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void test_buf_vaddf_helper(struct mg_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	assert_int_equal(mg_buf_vaddf(b, fmt, ap), 0);
	va_end(ap);
}

static void test_buf_vaddf(void **state)
{
	struct mg_buf b;

	mg_buf_init(&b, 64);
	test_buf_vaddf_helper(&b, "%s=%d;", "a", 1);
	test_buf_vaddf_helper(&b, "%s=%d;", "b", 2);
	assert_string_equal(b.data, "a=1;b=2;");
	mg_buf_release(&b);
}

/* ======================================================================
 * map
 * ====================================================================== */

static void test_map_basic(void **state)
{
	struct mg_map m;
	int a = 1, b = 2, c = 3;

	mg_map_init(&m);
	/* An empty map answers every question. */
	assert_null(mg_map_gets(&m, "x"));
	assert_null(mg_map_dels(&m, "x"));
	assert_int_equal(m.count, 0);

	assert_null(mg_map_puts(&m, "alpha", &a));
	assert_null(mg_map_puts(&m, "beta", &b));
	assert_int_equal(m.count, 2);
	assert_ptr_equal(mg_map_gets(&m, "alpha"), &a);
	assert_ptr_equal(mg_map_gets(&m, "beta"), &b);
	assert_null(mg_map_gets(&m, "gamma"));
	assert_null(mg_map_gets(&m, "alph"));
	assert_null(mg_map_gets(&m, "alphaa"));

	/* Replace returns the previous value and keeps the count. */
	assert_ptr_equal(mg_map_puts(&m, "alpha", &c), &a);
	assert_ptr_equal(mg_map_gets(&m, "alpha"), &c);
	assert_int_equal(m.count, 2);

	assert_ptr_equal(mg_map_dels(&m, "alpha"), &c);
	assert_null(mg_map_gets(&m, "alpha"));
	assert_null(mg_map_dels(&m, "alpha"));
	assert_int_equal(m.count, 1);
	assert_ptr_equal(mg_map_gets(&m, "beta"), &b);

	/* Re-insert after delete (into a tombstone). */
	assert_null(mg_map_puts(&m, "alpha", &a));
	assert_ptr_equal(mg_map_gets(&m, "alpha"), &a);
	assert_int_equal(m.count, 2);
	mg_map_release(&m);
	assert_int_equal(m.count, 0);
	assert_int_equal(m.cap, 0);
	/* Usable after release. */
	assert_null(mg_map_puts(&m, "z", &a));
	assert_ptr_equal(mg_map_gets(&m, "z"), &a);
	mg_map_release(&m);
}

static void test_map_keys_are_copied(void **state)
{
	struct mg_map m;
	char key[16];
	int v = 5;

	mg_map_init(&m);
	snprintf(key, sizeof(key), "tool-a");
	mg_map_puts(&m, key, &v);
	snprintf(key, sizeof(key), "tool-b");
	assert_null(mg_map_gets(&m, "tool-b"));
	assert_ptr_equal(mg_map_gets(&m, "tool-a"), &v);
	mg_map_release(&m);
}

static void test_map_binary_keys(void **state)
{
	struct mg_map m;
	int v1 = 1, v2 = 2, v3 = 3, v4 = 4;

	mg_map_init(&m);
	assert_null(mg_map_put(&m, "a\0b", 3, &v1));
	assert_null(mg_map_put(&m, "a\0c", 3, &v2));
	assert_null(mg_map_put(&m, "a", 1, &v3));
	assert_null(mg_map_put(&m, "", 0, &v4));
	assert_int_equal(m.count, 4);
	assert_ptr_equal(mg_map_get(&m, "a\0b", 3), &v1);
	assert_ptr_equal(mg_map_get(&m, "a\0c", 3), &v2);
	assert_ptr_equal(mg_map_get(&m, "a", 1), &v3);
	assert_ptr_equal(mg_map_get(&m, "", 0), &v4);
	assert_null(mg_map_get(&m, "a\0", 2));
	assert_null(mg_map_get(&m, "\0", 1));
	/* The iterator gives the exact length of binary keys. */
	{
		size_t it = 0, klen, seen = 0;
		const char *k;
		void *val;

		while (mg_map_next(&m, &it, &k, &klen, &val)) {
			if (val == &v1)
				assert_true(klen == 3 && memcmp(k, "a\0b", 3) == 0);
			else if (val == &v2)
				assert_true(klen == 3 && memcmp(k, "a\0c", 3) == 0);
			else if (val == &v3)
				assert_true(klen == 1 && k[0] == 'a');
			else if (val == &v4)
				assert_int_equal(klen, 0);
			else
				fail_msg("unexpected value");
			/* Keys are stored NUL-terminated. */
			assert_int_equal(k[klen], '\0');
			seen++;
		}
		assert_int_equal(seen, 4);
	}
	assert_ptr_equal(mg_map_del(&m, "", 0), &v4);
	assert_null(mg_map_get(&m, "", 0));
	mg_map_release(&m);
}

static void test_map_integer_keys(void **state)
{
	struct mg_map m;
	static const uint64_t keys[] = { 0, 1, 2, 255, 256, 0xffffffffull, 0x100000000ull,
					 UINT64_MAX, UINT64_MAX - 1, 1ull << 63 };
	int vals[MG_ARRAY_LEN(keys)];

	mg_map_init(&m);
	for (size_t i = 0; i < MG_ARRAY_LEN(keys); i++)
		assert_null(mg_map_puti(&m, keys[i], &vals[i]));
	assert_int_equal(m.count, MG_ARRAY_LEN(keys));
	for (size_t i = 0; i < MG_ARRAY_LEN(keys); i++)
		assert_ptr_equal(mg_map_geti(&m, keys[i]), &vals[i]);
	assert_null(mg_map_geti(&m, 3));
	assert_ptr_equal(mg_map_deli(&m, 0), &vals[0]);
	assert_null(mg_map_geti(&m, 0));
	assert_ptr_equal(mg_map_geti(&m, 1), &vals[1]);
	/* Integer keys are their 8 bytes. */
	{
		uint64_t k = 256;
		assert_ptr_equal(mg_map_get(&m, &k, sizeof(k)), &vals[4]);
	}
	mg_map_release(&m);
}

static void test_map_many_keys(void **state)
{
	struct mg_map m;
	const size_t n = 20000;
	char key[32];

	mg_map_init(&m);
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "key-%zu", i);
		assert_null(mg_map_puts(&m, key, (void *)(uintptr_t)(i + 1)));
	}
	assert_int_equal(m.count, n);
	/* Load factor stays under 3/4 and capacity is a power of two. */
	assert_true(m.used * 4 <= m.cap * 3);
	assert_int_equal(m.cap & (m.cap - 1), 0);
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "key-%zu", i);
		assert_ptr_equal(mg_map_gets(&m, key), (void *)(uintptr_t)(i + 1));
	}
	/* Delete the odd ones. */
	for (size_t i = 1; i < n; i += 2) {
		snprintf(key, sizeof(key), "key-%zu", i);
		assert_ptr_equal(mg_map_dels(&m, key), (void *)(uintptr_t)(i + 1));
	}
	assert_int_equal(m.count, n / 2);
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "key-%zu", i);
		if (i % 2)
			assert_null(mg_map_gets(&m, key));
		else
			assert_ptr_equal(mg_map_gets(&m, key), (void *)(uintptr_t)(i + 1));
	}
	/* Replace the evens, re-add the odds with other values. */
	for (size_t i = 0; i < n; i++) {
		void *old;

		snprintf(key, sizeof(key), "key-%zu", i);
		old = mg_map_puts(&m, key, (void *)(uintptr_t)(i + 100000));
		if (i % 2)
			assert_null(old);
		else
			assert_ptr_equal(old, (void *)(uintptr_t)(i + 1));
	}
	assert_int_equal(m.count, n);
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "key-%zu", i);
		assert_ptr_equal(mg_map_gets(&m, key), (void *)(uintptr_t)(i + 100000));
	}
	mg_map_release(&m);
}

/* Churn: insert and delete many distinct keys with few live at a time.
 * Tombstones must be recycled (no unbounded growth, no endless probing). */
static void test_map_tombstone_churn(void **state)
{
	struct mg_map m;
	const size_t n = 200000;
	char key[32];
	size_t maxcap = 0;

	mg_map_init(&m);
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "req-%zu", i);
		assert_null(mg_map_puts(&m, key, (void *)(uintptr_t)(i + 1)));
		if (i >= 4) {
			snprintf(key, sizeof(key), "req-%zu", i - 4);
			assert_ptr_equal(mg_map_dels(&m, key), (void *)(uintptr_t)(i - 3));
		}
		assert_true(m.used * 4 <= m.cap * 3);
		assert_true(m.used < m.cap);
		if (m.cap > maxcap)
			maxcap = m.cap;
	}
	assert_int_equal(m.count, 4);
	assert_true(maxcap <= 64);
	for (size_t i = n - 4; i < n; i++) {
		snprintf(key, sizeof(key), "req-%zu", i);
		assert_ptr_equal(mg_map_gets(&m, key), (void *)(uintptr_t)(i + 1));
	}
	/* Absent keys are still answered (the probe finds an empty slot). */
	assert_null(mg_map_gets(&m, "req-0"));
	assert_null(mg_map_gets(&m, "never"));
	mg_map_release(&m);
}

static void test_map_iterate(void **state)
{
	struct mg_map m;
	const size_t n = 500;
	char key[32];
	unsigned char seen[500] = { 0 };
	size_t it = 0, klen, count = 0;
	const char *k;
	void *v;

	mg_map_init(&m);
	/* Iterating an empty map. */
	assert_false(mg_map_next(&m, &it, &k, &klen, &v));
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		mg_map_puts(&m, key, (void *)(uintptr_t)i);
	}
	it = 0;
	while (mg_map_next(&m, &it, &k, &klen, &v)) {
		size_t i = (uintptr_t)v;

		assert_true(i < n);
		snprintf(key, sizeof(key), "k%zu", i);
		assert_int_equal(klen, strlen(key));
		assert_memory_equal(k, key, klen);
		assert_int_equal(seen[i], 0);
		seen[i] = 1;
		count++;
	}
	assert_int_equal(count, n);
	/* NULL out-parameters are allowed. */
	it = 0;
	count = 0;
	while (mg_map_next(&m, &it, NULL, NULL, NULL))
		count++;
	assert_int_equal(count, n);
	mg_map_release(&m);
}

static void test_map_iterate_with_delete(void **state)
{
	struct mg_map m;
	const size_t n = 1000;
	char key[32];
	unsigned char seen[1000] = { 0 };
	size_t it = 0, klen, count = 0;
	const char *k;
	void *v;

	mg_map_init(&m);
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		mg_map_puts(&m, key, (void *)(uintptr_t)i);
	}
	/* Delete every even entry as it is visited; each is seen exactly once. */
	while (mg_map_next(&m, &it, &k, &klen, &v)) {
		size_t i = (uintptr_t)v;

		assert_int_equal(seen[i], 0);
		seen[i] = 1;
		count++;
		if (i % 2 == 0) {
			char copy[32];

			assert_true(klen < sizeof(copy));
			memcpy(copy, k, klen);
			assert_ptr_equal(mg_map_del(&m, copy, klen), v);
		}
	}
	assert_int_equal(count, n);
	assert_int_equal(m.count, n / 2);
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		if (i % 2 == 0)
			assert_null(mg_map_gets(&m, key));
		else
			assert_ptr_equal(mg_map_gets(&m, key), (void *)(uintptr_t)i);
	}
	/* Then delete everything while iterating. */
	it = 0;
	count = 0;
	while (mg_map_next(&m, &it, &k, &klen, &v)) {
		char copy[32];

		memcpy(copy, k, klen);
		assert_ptr_equal(mg_map_del(&m, copy, klen), v);
		count++;
	}
	assert_int_equal(count, n / 2);
	assert_int_equal(m.count, 0);
	it = 0;
	assert_false(mg_map_next(&m, &it, NULL, NULL, NULL));
	mg_map_release(&m);
}

static void test_map_hash(void **state)
{
	/* Stable within the process, sensitive to every byte and to length. */
	assert_true(mg_hash("abc", 3) == mg_hash("abc", 3));
	assert_true(mg_hash("abc", 3) != mg_hash("abd", 3));
	assert_true(mg_hash("", 0) != mg_hash("\0", 1));
	assert_true(mg_hash("\0", 1) != mg_hash("\0\0", 2));
	assert_true(mg_hash("12345678", 8) != mg_hash("123456789", 9));
	assert_true(mg_hash("1234567812345678", 16) != mg_hash("1234567812345679", 16));
	/* Not trivially dependent on a prefix. */
	assert_true(mg_hash("aaaaaaaab", 9) != mg_hash("aaaaaaaac", 9));
}

/* ======================================================================
 * str
 * ====================================================================== */

static void test_str_strlcpy(void **state)
{
	char d[6];

	memset(d, 'x', sizeof(d));
	assert_int_equal(mg_strlcpy(d, "abc", sizeof(d)), 3);
	assert_string_equal(d, "abc");
	assert_int_equal(mg_strlcpy(d, "abcdefgh", sizeof(d)), 8);
	assert_string_equal(d, "abcde");
	assert_int_equal(mg_strlcpy(d, "abcde", sizeof(d)), 5);
	assert_string_equal(d, "abcde");
	assert_int_equal(mg_strlcpy(d, "", sizeof(d)), 0);
	assert_string_equal(d, "");
	/* size 0 writes nothing. */
	d[0] = 'Q';
	assert_int_equal(mg_strlcpy(d, "abc", 0), 3);
	assert_int_equal(d[0], 'Q');
	assert_int_equal(mg_strlcpy(d, "abc", 1), 3);
	assert_string_equal(d, "");
}

static void test_str_predicates(void **state)
{
	assert_true(mg_starts_with("tools/list", "tools/"));
	assert_true(mg_starts_with("abc", ""));
	assert_true(mg_starts_with("abc", "abc"));
	assert_false(mg_starts_with("ab", "abc"));
	assert_false(mg_starts_with("xabc", "abc"));
	assert_true(mg_ends_with("file.yaml", ".yaml"));
	assert_true(mg_ends_with("abc", ""));
	assert_true(mg_ends_with("abc", "abc"));
	assert_false(mg_ends_with("bc", "abc"));
	assert_false(mg_ends_with("abcx", "abc"));
	assert_true(mg_streq("a", "a"));
	assert_false(mg_streq("a", "b"));
	assert_false(mg_streq("a", NULL));
	assert_false(mg_streq(NULL, "a"));
	assert_true(mg_streq(NULL, NULL));
	assert_false(mg_streq("", NULL));
	assert_true(mg_streq("", ""));
}

static void test_str_parse_i64(void **state)
{
	int64_t v;

	assert_int_equal(mg_parse_i64("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(mg_parse_i64("-1", &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(mg_parse_i64("1234567", &v), 0);
	assert_int_equal(v, 1234567);
	assert_int_equal(mg_parse_i64("9223372036854775807", &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(mg_parse_i64("-9223372036854775808", &v), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(mg_parse_i64("007", &v), 0);
	assert_int_equal(v, 7);

	assert_int_equal(mg_parse_i64("9223372036854775808", &v), -ERANGE);
	assert_int_equal(mg_parse_i64("-9223372036854775809", &v), -ERANGE);
	assert_int_equal(mg_parse_i64("99999999999999999999999", &v), -ERANGE);

	assert_int_equal(mg_parse_i64(NULL, &v), -EINVAL);
	assert_int_equal(mg_parse_i64("", &v), -EINVAL);
	assert_int_equal(mg_parse_i64("-", &v), -EINVAL);
	assert_int_equal(mg_parse_i64(" 1", &v), -EINVAL);
	assert_int_equal(mg_parse_i64("\t1", &v), -EINVAL);
	assert_int_equal(mg_parse_i64("1 ", &v), -EINVAL);
	assert_int_equal(mg_parse_i64("1\n", &v), -EINVAL);
	assert_int_equal(mg_parse_i64("12a", &v), -EINVAL);
	assert_int_equal(mg_parse_i64("a12", &v), -EINVAL);
	assert_int_equal(mg_parse_i64("0x10", &v), -EINVAL);
	assert_int_equal(mg_parse_i64("1.5", &v), -EINVAL);
	assert_int_equal(mg_parse_i64("1e3", &v), -EINVAL);
	assert_int_equal(mg_parse_i64("--1", &v), -EINVAL);
}

static void test_str_parse_u64(void **state)
{
	uint64_t v;

	assert_int_equal(mg_parse_u64("0", &v), 0);
	assert_true(v == 0);
	assert_int_equal(mg_parse_u64("42", &v), 0);
	assert_true(v == 42);
	assert_int_equal(mg_parse_u64("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(mg_parse_u64("18446744073709551616", &v), -ERANGE);
	assert_int_equal(mg_parse_u64("99999999999999999999999", &v), -ERANGE);

	/* No sign surprises: strtoull would turn "-1" into UINT64_MAX. */
	assert_int_equal(mg_parse_u64("-1", &v), -EINVAL);
	assert_int_equal(mg_parse_u64("+1", &v), -EINVAL);
	assert_int_equal(mg_parse_u64("-0", &v), -EINVAL);
	assert_int_equal(mg_parse_u64(NULL, &v), -EINVAL);
	assert_int_equal(mg_parse_u64("", &v), -EINVAL);
	assert_int_equal(mg_parse_u64(" 1", &v), -EINVAL);
	assert_int_equal(mg_parse_u64("1 ", &v), -EINVAL);
	assert_int_equal(mg_parse_u64("1x", &v), -EINVAL);
	assert_int_equal(mg_parse_u64("0x1", &v), -EINVAL);
	assert_int_equal(mg_parse_u64("1.0", &v), -EINVAL);
}

static void test_str_parse_size(void **state)
{
	uint64_t v;

	assert_int_equal(mg_parse_size("10", &v), 0);
	assert_true(v == 10);
	assert_int_equal(mg_parse_size("0", &v), 0);
	assert_true(v == 0);
	assert_int_equal(mg_parse_size("10b", &v), 0);
	assert_true(v == 10);
	assert_int_equal(mg_parse_size("512k", &v), 0);
	assert_true(v == 512u * 1024);
	assert_int_equal(mg_parse_size("16m", &v), 0);
	assert_true(v == 16u << 20);
	assert_int_equal(mg_parse_size("1g", &v), 0);
	assert_true(v == 1u << 30);
	assert_int_equal(mg_parse_size("4kb", &v), 0);
	assert_true(v == 4096);
	assert_int_equal(mg_parse_size("4KiB", &v), 0);
	assert_true(v == 4096);
	assert_int_equal(mg_parse_size("2MB", &v), 0);
	assert_true(v == 2u << 20);
	assert_int_equal(mg_parse_size("3G", &v), 0);
	assert_true(v == 3ull << 30);
	assert_int_equal(mg_parse_size("1gib", &v), 0);
	assert_true(v == 1ull << 30);
	assert_int_equal(mg_parse_size("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(mg_parse_size("17179869183g", &v), 0);
	assert_true(v == 17179869183ull << 30);

	/* Overflow of the multiplication. */
	assert_int_equal(mg_parse_size("17179869184g", &v), -ERANGE);
	assert_int_equal(mg_parse_size("18446744073709551615k", &v), -ERANGE);
	/* Overflow of the number itself: an error either way. */
	assert_true(mg_parse_size("18446744073709551616", &v) < 0);
	assert_true(mg_parse_size("123456789012345678901234567890123456789m", &v) < 0);

	assert_int_equal(mg_parse_size(NULL, &v), -EINVAL);
	assert_int_equal(mg_parse_size("", &v), -EINVAL);
	assert_int_equal(mg_parse_size("m", &v), -EINVAL);
	assert_int_equal(mg_parse_size("k16", &v), -EINVAL);
	assert_int_equal(mg_parse_size("1.5m", &v), -EINVAL);
	assert_int_equal(mg_parse_size("16 m", &v), -EINVAL);
	assert_int_equal(mg_parse_size(" 16m", &v), -EINVAL);
	assert_int_equal(mg_parse_size("16m ", &v), -EINVAL);
	assert_int_equal(mg_parse_size("16mm", &v), -EINVAL);
	assert_int_equal(mg_parse_size("16t", &v), -EINVAL);
	assert_int_equal(mg_parse_size("-1k", &v), -EINVAL);
	assert_int_equal(mg_parse_size("+1k", &v), -EINVAL);
	assert_int_equal(mg_parse_size("0x10", &v), -EINVAL);
	assert_int_equal(mg_parse_size("1s", &v), -EINVAL);
}

static void test_str_parse_duration(void **state)
{
	uint64_t v;

	assert_int_equal(mg_parse_duration_ms("60s", &v), 0);
	assert_true(v == 60000);
	assert_int_equal(mg_parse_duration_ms("500ms", &v), 0);
	assert_true(v == 500);
	assert_int_equal(mg_parse_duration_ms("2m", &v), 0);
	assert_true(v == 120000);
	assert_int_equal(mg_parse_duration_ms("1h", &v), 0);
	assert_true(v == 3600000);
	assert_int_equal(mg_parse_duration_ms("30", &v), 0);
	assert_true(v == 30000);
	assert_int_equal(mg_parse_duration_ms("0", &v), 0);
	assert_true(v == 0);
	assert_int_equal(mg_parse_duration_ms("0ms", &v), 0);
	assert_true(v == 0);
	assert_int_equal(mg_parse_duration_ms("10S", &v), 0);
	assert_true(v == 10000);
	assert_int_equal(mg_parse_duration_ms("7MS", &v), 0);
	assert_true(v == 7);
	assert_int_equal(mg_parse_duration_ms("18446744073709551615ms", &v), 0);
	assert_true(v == UINT64_MAX);

	assert_int_equal(mg_parse_duration_ms("18446744073709551615", &v), -ERANGE);
	assert_int_equal(mg_parse_duration_ms("5124095576031h", &v), -ERANGE);
	assert_int_equal(mg_parse_duration_ms("5124095576030h", &v), 0);
	assert_true(v == 5124095576030ull * 3600000ull);

	assert_int_equal(mg_parse_duration_ms(NULL, &v), -EINVAL);
	assert_int_equal(mg_parse_duration_ms("", &v), -EINVAL);
	assert_int_equal(mg_parse_duration_ms("s", &v), -EINVAL);
	assert_int_equal(mg_parse_duration_ms("ms", &v), -EINVAL);
	assert_int_equal(mg_parse_duration_ms("1.5s", &v), -EINVAL);
	assert_int_equal(mg_parse_duration_ms("1d", &v), -EINVAL);
	assert_int_equal(mg_parse_duration_ms("-1s", &v), -EINVAL);
	assert_int_equal(mg_parse_duration_ms("1 s", &v), -EINVAL);
	assert_int_equal(mg_parse_duration_ms("1sec", &v), -EINVAL);
	assert_int_equal(mg_parse_duration_ms("1m30s", &v), -EINVAL);
	assert_int_equal(mg_parse_duration_ms("1k", &v), -EINVAL);
}

static void check_strv(char **v, const char *const *want, size_t n)
{
	assert_non_null(v);
	assert_int_equal(mg_strv_len(v), n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(v[i], want[i]);
	assert_null(v[n]);
	mg_strv_free(v);
}

static void test_str_split_csv(void **state)
{
	{
		static const char *const w[] = { "a", "b", "c" };
		check_strv(mg_split_csv("a,b,c"), w, 3);
	}
	{
		static const char *const w[] = { "a", "b c", "d" };
		check_strv(mg_split_csv("  a ,\tb c\t,, ,d  ,"), w, 3);
	}
	{
		static const char *const w[] = { "single" };
		check_strv(mg_split_csv("single"), w, 1);
		check_strv(mg_split_csv(" single "), w, 1);
		check_strv(mg_split_csv(",single,"), w, 1);
	}
	check_strv(mg_split_csv(""), NULL, 0);
	check_strv(mg_split_csv(",,,"), NULL, 0);
	check_strv(mg_split_csv("  ,  , "), NULL, 0);
	check_strv(mg_split_csv(NULL), NULL, 0);
}

static void test_str_strv(void **state)
{
	char **v = NULL;

	assert_int_equal(mg_strv_len(NULL), 0);
	v = mg_strv_push(v, "one");
	v = mg_strv_push(v, "two");
	v = mg_strv_push(v, "");
	assert_int_equal(mg_strv_len(v), 3);
	assert_string_equal(v[0], "one");
	assert_string_equal(v[1], "two");
	assert_string_equal(v[2], "");
	assert_null(v[3]);
	mg_strv_free(v);
	mg_strv_free(NULL);
}

static void test_str_glob(void **state)
{
	static const struct {
		const char *pat, *s;
		bool match;
	} cases[] = {
		{ "", "", true },
		{ "", "a", false },
		{ "a", "", false },
		{ "*", "", true },
		{ "*", "anything", true },
		{ "**", "x", true },
		{ "?", "", false },
		{ "?", "a", true },
		{ "?", "ab", false },
		{ "abc", "abc", true },
		{ "abc", "abd", false },
		{ "abc", "ab", false },
		{ "ab", "abc", false },
		{ "a*b", "ab", true },
		{ "a*b", "axxxb", true },
		{ "a*b", "axxxc", false },
		{ "a*b", "abxb", true },
		{ "a*b", "abxbx", false },
		{ "*.txt", "notes.txt", true },
		{ "*.txt", "notes.txt.bak", false },
		{ "*.txt", ".txt", true },
		{ "a?c", "abc", true },
		{ "a?c", "ac", false },
		{ "*a", "bba", true },
		{ "*ab", "aab", true },
		{ "*ab", "aaba", false },
		{ "a*b*c", "abcbc", true },
		{ "a*b*c", "acbcb", false },
		{ "github__*", "github__create_issue", true },
		{ "github__*", "gitlab__create_issue", false },
		{ "*__delete_*", "fs__delete_file", true },
		{ "*__delete_*", "fs__read_file", false },
		{ "*?", "", false },
		{ "*?", "a", true },
		{ "?*?", "a", false },
		{ "?*?", "ab", true },
		{ "a**b", "ab", true },
		{ "*x*y*", "--x--y--", true },
		{ "*x*y*", "--y--x--", false },
	};

	for (size_t i = 0; i < MG_ARRAY_LEN(cases); i++)
		if (mg_glob_match(cases[i].pat, cases[i].s) != cases[i].match)
			fail_msg("glob '%s' vs '%s': expected %s", cases[i].pat, cases[i].s,
				 cases[i].match ? "match" : "no match");
}

static void test_str_glob_long(void **state)
{
	/* Backtracking stays linear-ish: a classic bad case for naive matchers. */
	char s[4001], pat[64];

	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	snprintf(pat, sizeof(pat), "*a*a*a*a*a*a*a*b");
	assert_false(mg_glob_match(pat, s));
	snprintf(pat, sizeof(pat), "*a*a*a*a*a*a*a*a");
	assert_true(mg_glob_match(pat, s));
}

/* ======================================================================
 * fs
 * ====================================================================== */

static void write_raw(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(mg_write_all(fd, data, len), 0);
	close(fd);
}

static void test_fs_read_file(void **state)
{
	char *dir = make_tmpdir();
	char *path = join(dir, "f");
	char *out = NULL;
	size_t len = 0;
	static const char bin[] = "a\0b\nc";

	write_raw(path, bin, sizeof(bin) - 1);
	assert_int_equal(mg_read_file(path, 5, &out, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(out, bin, 5);
	assert_int_equal(out[5], '\0');
	free(out);
	out = NULL;
	/* One byte over the cap. */
	assert_int_equal(mg_read_file(path, 4, &out, &len), -EFBIG);
	assert_null(out);
	assert_int_equal(mg_read_file(path, 0, &out, &len), -EFBIG);
	assert_null(out);

	/* Empty file. */
	write_raw(path, "", 0);
	assert_int_equal(mg_read_file(path, 0, &out, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(out, "");
	free(out);
	out = NULL;

	/* Missing file and a directory. */
	assert_int_equal(mg_read_file("/nonexistent/mg/file", 100, &out, &len), -ENOENT);
	assert_null(out);
	assert_int_equal(mg_read_file(dir, 100, &out, &len), -EISDIR);
	assert_null(out);

	free(path);
	mg_rm_rf(dir);
	free(dir);
}

static void test_fs_read_file_large(void **state)
{
	char *dir = make_tmpdir();
	char *path = join(dir, "big");
	const size_t n = 200000; /* several read chunks */
	char *data = mg_malloc(n), *out = NULL;
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i * 7 + 3);
	write_raw(path, data, n);
	assert_int_equal(mg_read_file(path, n, &out, &len), 0);
	assert_int_equal(len, n);
	assert_memory_equal(out, data, n);
	free(out);
	out = NULL;
	assert_int_equal(mg_read_file(path, n - 1, &out, &len), -EFBIG);
	assert_null(out);
	assert_int_equal(mg_read_file(path, 65536, &out, &len), -EFBIG);
	assert_null(out);
	free(data);
	free(path);
	mg_rm_rf(dir);
	free(dir);
}

static void test_fs_write_atomic(void **state)
{
	char *dir = make_tmpdir();
	char *path = join(dir, "state.json");
	char *out = NULL;
	size_t len;
	struct stat st;

	assert_int_equal(mg_write_file_atomic(path, "{\"a\":1}", 7, 0600), 0);
	assert_int_equal(mg_read_file(path, 1024, &out, &len), 0);
	assert_int_equal(len, 7);
	assert_string_equal(out, "{\"a\":1}");
	free(out);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Overwrite with shorter content: no stale tail. */
	assert_int_equal(mg_write_file_atomic(path, "x", 1, 0600), 0);
	assert_int_equal(mg_read_file(path, 1024, &out, &len), 0);
	assert_int_equal(len, 1);
	assert_string_equal(out, "x");
	free(out);
	/* Empty content. */
	assert_int_equal(mg_write_file_atomic(path, "", 0, 0600), 0);
	assert_int_equal(mg_read_file(path, 1024, &out, &len), 0);
	assert_int_equal(len, 0);
	free(out);
	/* No temporary file left behind. */
	assert_int_equal(count_entries(dir), 1);

	/* Into a missing directory: fails cleanly. */
	{
		char *bad = join(dir, "missing/file");
		assert_int_equal(mg_write_file_atomic(bad, "x", 1, 0600), -ENOENT);
		free(bad);
	}
	/* Onto a directory: rename fails, the temp file is removed. */
	{
		char *sub = join(dir, "sub");
		assert_int_equal(mkdir(sub, 0700), 0);
		assert_true(mg_write_file_atomic(sub, "x", 1, 0600) < 0);
		assert_int_equal(count_entries(dir), 2);
		free(sub);
	}
	free(path);
	mg_rm_rf(dir);
	free(dir);
}

static void test_fs_mkdir_p(void **state)
{
	char *dir = make_tmpdir();
	char *deep = join(dir, "a/b/c/d");
	char *slash = join(dir, "x/y/");
	char *file = join(dir, "file");
	char *under_file = join(dir, "file/sub");
	struct stat st;

	assert_int_equal(mg_mkdir_p(deep, 0700), 0);
	assert_int_equal(stat(deep, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* Again: already there is fine. */
	assert_int_equal(mg_mkdir_p(deep, 0700), 0);
	assert_int_equal(mg_mkdir_p(dir, 0700), 0);
	/* Trailing slash. */
	assert_int_equal(mg_mkdir_p(slash, 0700), 0);
	assert_int_equal(stat(slash, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* Root. */
	assert_int_equal(mg_mkdir_p("/", 0700), 0);
	/* A component that is a file. */
	write_raw(file, "x", 1);
	assert_int_equal(mg_mkdir_p(under_file, 0700), -ENOTDIR);
	/* Too long. */
	{
		char *lng = mg_malloc(PATH_MAX + 10);
		memset(lng, 'a', PATH_MAX + 9);
		lng[0] = '/';
		lng[PATH_MAX + 9] = '\0';
		assert_int_equal(mg_mkdir_p(lng, 0700), -ENAMETOOLONG);
		free(lng);
	}
	free(deep);
	free(slash);
	free(file);
	free(under_file);
	mg_rm_rf(dir);
	free(dir);
}

/* mkdir -p on a path that exists as a regular file must fail (as mkdir -p
 * does: "File exists"); reporting success makes the caller believe it has
 * a directory there. */
static void test_fs_mkdir_p_existing_file(void **state)
{
	char *dir = make_tmpdir();
	char *file = join(dir, "file");

	int rc;

	write_raw(file, "x", 1);
	rc = mg_mkdir_p(file, 0700);
	free(file);
	mg_rm_rf(dir);
	free(dir);
	assert_int_equal(rc, -EEXIST);
}

static void test_fs_write_all_pipe(void **state)
{
	int p[2];
	char buf[16] = { 0 };

	assert_int_equal(pipe(p), 0);
	assert_int_equal(mg_write_all(p[1], "hello", 5), 0);
	assert_int_equal(mg_write_all(p[1], "", 0), 0);
	assert_int_equal(read(p[0], buf, sizeof(buf)), 5);
	assert_string_equal(buf, "hello");
	close(p[0]);
	/* Broken pipe: an error, not a crash (SIGPIPE ignored here). */
	{
		void (*old)(int) = signal(SIGPIPE, SIG_IGN);
		assert_int_equal(mg_write_all(p[1], "x", 1), -EPIPE);
		signal(SIGPIPE, old);
	}
	close(p[1]);
	assert_int_equal(mg_write_all(-1, "x", 1), -EBADF);
}

static void restore_env(const char *name, char *saved)
{
	if (saved) {
		setenv(name, saved, 1);
		free(saved);
	} else {
		unsetenv(name);
	}
}

static char *save_env(const char *name)
{
	const char *v = getenv(name);

	return v ? mg_strdup(v) : NULL;
}

static void test_fs_xdg_dirs(void **state)
{
	char *home = save_env("HOME"), *cache = save_env("XDG_CACHE_HOME"),
	     *st = save_env("XDG_STATE_HOME");
	char *d;

	setenv("HOME", "/home/u", 1);
	setenv("XDG_CACHE_HOME", "/var/cache/x", 1);
	setenv("XDG_STATE_HOME", "/var/state/y", 1);
	d = mg_cache_dir();
	assert_string_equal(d, "/var/cache/x/mcpguard");
	free(d);
	d = mg_state_dir();
	assert_string_equal(d, "/var/state/y/mcpguard");
	free(d);
	/* Relative XDG values are ignored (as the spec says). */
	setenv("XDG_CACHE_HOME", "rel/cache", 1);
	setenv("XDG_STATE_HOME", "", 1);
	d = mg_cache_dir();
	assert_string_equal(d, "/home/u/.cache/mcpguard");
	free(d);
	d = mg_state_dir();
	assert_string_equal(d, "/home/u/.local/state/mcpguard");
	free(d);
	/* No HOME either. */
	unsetenv("XDG_CACHE_HOME");
	unsetenv("HOME");
	d = mg_cache_dir();
	assert_string_equal(d, "/tmp/.cache/mcpguard");
	free(d);
	restore_env("HOME", home);
	restore_env("XDG_CACHE_HOME", cache);
	restore_env("XDG_STATE_HOME", st);
}

/* ======================================================================
 * err, list, time, mem
 * ====================================================================== */

static void test_err_set(void **state)
{
	struct mg_err err;
	char long_arg[1000];

	memset(&err, 0, sizeof(err));
	assert_int_equal(mg_err_set(&err, -EINVAL, "bad value %s at %d", "x", 3), -EINVAL);
	assert_string_equal(err.msg, "bad value x at 3");
	assert_int_equal(mg_err_set(NULL, -ENOENT, "ignored %d", 1), -ENOENT);
	/* Truncated, still NUL-terminated. */
	memset(long_arg, 'z', sizeof(long_arg) - 1);
	long_arg[sizeof(long_arg) - 1] = '\0';
	assert_int_equal(mg_err_set(&err, -E2BIG, "%s", long_arg), -E2BIG);
	assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
}

struct item {
	int v;
	struct mg_list node;
};

static void test_list(void **state)
{
	struct mg_list head, *pos, *tmp;
	struct item items[5];
	int sum = 0, n = 0;

	mg_list_init(&head);
	assert_true(mg_list_empty(&head));
	for (int i = 0; i < 5; i++) {
		items[i].v = i;
		mg_list_add_tail(&head, &items[i].node);
	}
	assert_false(mg_list_empty(&head));
	/* In insertion order. */
	mg_list_each_safe(pos, tmp, &head) {
		struct item *it = mg_container_of(pos, struct item, node);
		assert_int_equal(it->v, n);
		n++;
	}
	assert_int_equal(n, 5);
	/* Delete odd ones while iterating. */
	mg_list_each_safe(pos, tmp, &head) {
		struct item *it = mg_container_of(pos, struct item, node);
		if (it->v % 2)
			mg_list_del(pos);
	}
	mg_list_each_safe(pos, tmp, &head) {
		sum += mg_container_of(pos, struct item, node)->v;
	}
	assert_int_equal(sum, 0 + 2 + 4);
	/* A deleted node points at itself; deleting twice is safe. */
	assert_ptr_equal(items[1].node.next, &items[1].node);
	mg_list_del(&items[1].node);
	mg_list_del(&items[0].node);
	mg_list_del(&items[2].node);
	mg_list_del(&items[4].node);
	assert_true(mg_list_empty(&head));
}

static void test_time(void **state)
{
	uint64_t a = mg_now_us(), b, ms1, ms2;
	char ts[64];
	struct timespec d = { 0, 2 * 1000 * 1000 };

	nanosleep(&d, NULL);
	b = mg_now_us();
	assert_true(b >= a + 2000);
	ms1 = mg_now_ms();
	nanosleep(&d, NULL);
	ms2 = mg_now_ms();
	assert_true(ms2 >= ms1 + 2);

	mg_wall_rfc3339(ts, sizeof(ts));
	/* 2026-11-28T12:00:00.123Z */
	assert_int_equal(strlen(ts), 24);
	assert_int_equal(ts[4], '-');
	assert_int_equal(ts[7], '-');
	assert_int_equal(ts[10], 'T');
	assert_int_equal(ts[13], ':');
	assert_int_equal(ts[16], ':');
	assert_int_equal(ts[19], '.');
	assert_int_equal(ts[23], 'Z');
	for (int i = 0; i < 23; i++)
		if (i != 4 && i != 7 && i != 10 && i != 13 && i != 16 && i != 19)
			assert_true(ts[i] >= '0' && ts[i] <= '9');
	/* Small output buffers are truncated, not overrun. */
	{
		char small[8];
		memset(small, 'x', sizeof(small));
		mg_wall_rfc3339(small, sizeof(small));
		assert_int_equal(strlen(small), 7);
	}
}

static void test_mem(void **state)
{
	char *p = mg_memdup0("ab\0cd", 5);
	char *q;
	int *z;

	assert_memory_equal(p, "ab\0cd", 5);
	assert_int_equal(p[5], '\0');
	free(p);
	p = mg_strndup("abcdef", 3);
	assert_string_equal(p, "abc");
	free(p);
	p = mg_strndup("ab", 10);
	assert_string_equal(p, "ab");
	q = mg_steal(&p);
	assert_null(p);
	assert_string_equal(q, "ab");
	free(q);
	z = mg_calloc(4, sizeof(*z));
	for (int i = 0; i < 4; i++)
		assert_int_equal(z[i], 0);
	free(z);
	/* Zero-size allocations give a usable pointer. */
	p = mg_malloc(0);
	assert_non_null(p);
	free(p);
}

/* ---- budget ---- */

struct budget_fx {
	struct mg_budget_user u;
	int evicted;
	bool busy;                      /* cannot drop anything right now */
};

static void budget_drop(struct mg_budget_user *u)
{
	struct budget_fx *f = mg_container_of(u, struct budget_fx, u);

	f->evicted++;
	if (!f->busy)
		mg_budget_release(u, u->held);
}

static void test_budget_basics(void **state)
{
	struct mg_budget b;
	struct budget_fx a = { 0 }, none = { 0 };

	mg_budget_init(&b, 100);
	mg_budget_join(NULL, &none.u, budget_drop);
	assert_int_equal(mg_budget_charge(&none.u, 1000), 0);  /* not counted */
	mg_budget_join(&b, &a.u, budget_drop);
	assert_int_equal(mg_budget_charge(&a.u, 60), 0);
	assert_int_equal(mg_budget_charge(&a.u, 40), 0);
	assert_int_equal(b.used, 100);
	mg_budget_release(&a.u, 30);
	assert_int_equal(a.u.held, 70);
	mg_budget_release(&a.u, 500);                           /* at most what it holds */
	assert_int_equal(a.u.held, 0);
	assert_int_equal(b.used, 0);
	assert_int_equal(b.peak, 100);
	assert_int_equal(mg_budget_charge(&a.u, 101), -ENOBUFS);  /* never fits */
	assert_int_equal(a.evicted, 0);
	assert_int_equal(mg_budget_charge(&a.u, 20), 0);
	mg_budget_leave(&a.u);                                  /* gives back what it held */
	assert_int_equal(b.used, 0);
	assert_true(mg_list_empty(&b.users));
	mg_budget_leave(&none.u);

	mg_budget_init(&b, 0);                                  /* no budget */
	mg_budget_join(&b, &a.u, budget_drop);
	assert_int_equal(mg_budget_charge(&a.u, SIZE_MAX / 2), 0);
	mg_budget_leave(&a.u);
}

/* The user that has waited longest goes first; fresher ones are kept. */
static void test_budget_evicts_stalest(void **state)
{
	struct mg_budget b;
	struct budget_fx old = { 0 }, mid = { 0 }, fresh = { 0 }, fixed = { 0 };

	mg_budget_init(&b, 100);
	mg_budget_join(&b, &old.u, budget_drop);
	mg_budget_join(&b, &mid.u, budget_drop);
	mg_budget_join(&b, &fresh.u, budget_drop);
	mg_budget_join(&b, &fixed.u, NULL);                     /* never evicted */
	assert_int_equal(mg_budget_charge(&old.u, 30), 0);
	assert_int_equal(mg_budget_charge(&mid.u, 30), 0);
	assert_int_equal(mg_budget_charge(&fixed.u, 30), 0);
	old.u.since_ms = 100;
	mid.u.since_ms = 200;
	fixed.u.since_ms = 1;
	assert_int_equal(mg_budget_charge(&fresh.u, 20), 0);    /* 90 + 20: old goes */
	assert_int_equal(old.evicted, 1);
	assert_int_equal(old.u.held, 0);
	assert_int_equal(mid.evicted, 0);
	assert_int_equal(b.used, 80);
	assert_int_equal(b.evictions, 1);

	/* A user that cannot drop now is tried once, then the next one. */
	fresh.u.since_ms = 150;
	fresh.busy = true;
	assert_int_equal(mg_budget_charge(&old.u, 40), 0);      /* 80 + 40: fresh, then mid */
	assert_int_equal(fresh.evicted, 1);
	assert_int_equal(mid.evicted, 1);
	assert_int_equal(b.used, 90);

	/* When the one charging has waited longest, it loses what it holds
	 * and the charge fails; the others keep theirs. */
	old.u.since_ms = 1;
	fresh.busy = false;
	fresh.u.since_ms = 300;
	assert_int_equal(mg_budget_charge(&old.u, 50), -ENOBUFS);
	assert_int_equal(old.evicted, 1 + 1);
	assert_int_equal(old.u.held, 0);
	assert_int_equal(fresh.evicted, 1);
	assert_int_equal(fresh.u.held, 20);

	/* Only what cannot be evicted is left: the charge fails. */
	mg_budget_release(&fresh.u, 20);
	assert_int_equal(mg_budget_charge(&fresh.u, 71), -ENOBUFS);
	assert_int_equal(fixed.u.held, 30);
	mg_budget_leave(&old.u);
	mg_budget_leave(&mid.u);
	mg_budget_leave(&fresh.u);
	mg_budget_leave(&fixed.u);
	assert_int_equal(b.used, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_basic),
		cmocka_unit_test(test_buf_binary),
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_buf_cap_zero),
		cmocka_unit_test(test_buf_cap_huge_request),
		cmocka_unit_test(test_buf_addf),
		cmocka_unit_test(test_buf_grow_many),
		cmocka_unit_test(test_buf_consume),
		cmocka_unit_test(test_buf_reset_keeps_storage),
		cmocka_unit_test(test_buf_detach),
		cmocka_unit_test(test_buf_vaddf),
		cmocka_unit_test(test_map_basic),
		cmocka_unit_test(test_map_keys_are_copied),
		cmocka_unit_test(test_map_binary_keys),
		cmocka_unit_test(test_map_integer_keys),
		cmocka_unit_test(test_map_many_keys),
		cmocka_unit_test(test_map_tombstone_churn),
		cmocka_unit_test(test_map_iterate),
		cmocka_unit_test(test_map_iterate_with_delete),
		cmocka_unit_test(test_map_hash),
		cmocka_unit_test(test_str_strlcpy),
		cmocka_unit_test(test_str_predicates),
		cmocka_unit_test(test_str_parse_i64),
		cmocka_unit_test(test_str_parse_u64),
		cmocka_unit_test(test_str_parse_size),
		cmocka_unit_test(test_str_parse_duration),
		cmocka_unit_test(test_str_split_csv),
		cmocka_unit_test(test_str_strv),
		cmocka_unit_test(test_str_glob),
		cmocka_unit_test(test_str_glob_long),
		cmocka_unit_test(test_fs_read_file),
		cmocka_unit_test(test_fs_read_file_large),
		cmocka_unit_test(test_fs_write_atomic),
		cmocka_unit_test(test_fs_mkdir_p),
		cmocka_unit_test(test_fs_mkdir_p_existing_file),
		cmocka_unit_test(test_fs_write_all_pipe),
		cmocka_unit_test(test_fs_xdg_dirs),
		cmocka_unit_test(test_err_set),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_mem),
		cmocka_unit_test(test_budget_basics),
		cmocka_unit_test(test_budget_evicts_stalest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
