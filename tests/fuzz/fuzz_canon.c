/* libFuzzer harness for RFC 8785 canonical JSON (src/json/canon.c) and the
 * pins' field-by-field diff (src/pins/diff.c), both run on definitions
 * servers send.  The input is two JSON texts, split at a point its first
 * byte chooses; for each that jansson accepts:
 *   - the canonical form exists, is JSON (jansson refuses only integers
 *     past int64, which ECMAScript writes out up to 1e21), and is its own
 *     canonical form;
 *   - mg_canon_sha256 is the SHA-256 of those bytes;
 *   - the diff of a value with itself, and with its canonical form read
 *     back, is empty;
 * and for the pair: the diff is empty exactly when the canonical forms are
 * equal, every shortened value is valid UTF-8, and the summary fits.
 * Seeds: tests/fuzz/corpus/canon/. */
#include <jansson.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "json/canon.h"
#include "pins/diff.h"
#include "fuzz.h"

static json_t *parse_err(const char *s, size_t n, json_error_t *e)
{
	if (memchr(s, '\0', n))
		return NULL;
	return json_loadb(s, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, e);
}

static json_t *parse(const char *s, size_t n)
{
	json_error_t e;

	return parse_err(s, n, &e);
}

static void utf8_ok(const char *s)
{
	json_t *j;

	if (!s)
		return;
	j = json_string(s);
	CHECK(j != NULL);
	json_decref(j);
}

/* Canonical text of v (caller releases b). */
static void canon_of(const json_t *v, struct mg_buf *b)
{
	mg_buf_init(b, 1u << 26);
	CHECK(mg_canon(v, b) == 0);
}

static void one(const json_t *v)
{
	struct mg_buf c, c2;
	unsigned char h[32], h2[32];
	struct pin_diff d;
	json_error_t e;
	json_t *back;

	canon_of(v, &c);
	back = parse_err(c.data ? c.data : "", c.len, &e);
	if (!back) {
		CHECK(strstr(e.text, "too big") != NULL);
		mg_buf_release(&c);
		return;
	}
	canon_of(back, &c2);
	CHECK(c.len == c2.len && memcmp(c.data, c2.data, c.len) == 0);
	CHECK(mg_canon_sha256(v, h) == 0);
	crypto_hash_sha256(h2, (const unsigned char *)c.data, c.len);
	CHECK(memcmp(h, h2, 32) == 0);
	CHECK(pin_diff(v, v, 0, &d) == 0 && d.n == 0 && d.more == 0);
	pin_diff_release(&d);
	CHECK(pin_diff(v, back, 0, &d) == 0 && d.n == 0 && d.more == 0);
	pin_diff_release(&d);
	json_decref(back);
	mg_buf_release(&c);
	mg_buf_release(&c2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	size_t n, split;
	json_t *a, *b;

	if (size < 1 || size > 1 << 16)
		return 0;
	n = size - 1;
	split = n * data[0] / 255;
	a = parse(s, split);
	b = parse(s + split, n - split);
	if (a)
		one(a);
	if (b)
		one(b);
	if (a && b) {
		struct mg_buf ca, cb;
		struct pin_diff d;
		char sum[512];
		bool same;

		canon_of(a, &ca);
		canon_of(b, &cb);
		same = ca.len == cb.len && memcmp(ca.data, cb.data, ca.len) == 0;
		CHECK(pin_diff(a, b, data[0] % 64, &d) == 0);
		CHECK((d.n == 0) == same);
		for (size_t i = 0; i < d.n; i++) {
			utf8_ok(d.changes[i].old_value);
			utf8_ok(d.changes[i].new_value);
			CHECK(d.changes[i].old_value || d.changes[i].new_value);
		}
		pin_diff_summary(&d, sum, 1 + data[0] % sizeof(sum));
		CHECK(strlen(sum) < 1 + data[0] % sizeof(sum));
		CHECK(same || data[0] % sizeof(sum) < 12 || sum[0]);
		pin_diff_release(&d);
		mg_buf_release(&ca);
		mg_buf_release(&cb);
	}
	json_decref(a);
	json_decref(b);
	return 0;
}
