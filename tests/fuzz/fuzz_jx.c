/* libFuzzer harness for the raw-text JSON scanner (src/json/jx.c).  The
 * gateway forwards the original bytes of every message and splices in only
 * what it changes, at spans found by jx_find; if the scanner and jansson
 * ever disagree about where a member's value is, the gateway rewrites the
 * wrong bytes.  Checks, on any input:
 *   - jx_find and jx_array_each never crash and never return a span outside
 *     the text, whatever the text (the gateway only scans text jansson
 *     accepted, but the scanner must still be memory-safe);
 *   - when jansson accepts the input, every member of every object (to a
 *     depth) is found by jx_find at a span whose text parses to a value
 *     json_equal to jansson's, likewise every array element by
 *     jx_array_each, and multi-step paths agree with single steps;
 *   - replacing a member's span with jx_splice yields a document jansson
 *     parses to the original with that one member changed;
 *   - jx_quote of valid UTF-8 parses back to the same bytes.
 * Seeds: tests/fuzz/corpus/jx/. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"
#include "json/jx.h"
#include "fuzz.h"



/* key_equals() gives up on keys that decode to more than 252 bytes ("longer
 * than any name we look for"); the gateway only looks for short fixed names,
 * so longer keys are not checked. */
#define MAX_KEY 252
#define MAX_DEPTH 32

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* ---- memory safety on arbitrary text ---- */

struct bounds {
	size_t lo, hi;
	size_t n;
};

static int bounds_cb(void *ctx, size_t index, const struct jx_span *el)
{
	struct bounds *b = ctx;

	CHECK(index == b->n);
	CHECK(el->off >= b->lo && el->off + el->len <= b->hi);
	b->n++;
	return 0;
}

static void scan_anything(const char *raw, size_t size)
{
	static const char *const p1[] = { "id" };
	static const char *const p2[] = { "params", "name" };
	static const char *const p3[] = { "params", "_meta", "progressToken" };
	static const char *const p4[] = { "result", "tools" };
	static const char *const p5[] = { "" };
	static const struct {
		const char *const *path;
		size_t depth;
	} paths[] = { { p1, 1 }, { p2, 2 }, { p3, 3 }, { p4, 2 }, { p5, 1 }, { p1, 0 } };

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct jx_span sp;
		int rc = jx_find(raw, size, paths[i].path, paths[i].depth, &sp);

		CHECK(rc == 0 || rc == -ENOENT || rc == -EINVAL);
		if (rc == 0) {
			struct bounds b = { sp.off, sp.off + sp.len, 0 };

			CHECK(sp.off <= size && sp.len <= size - sp.off);
			rc = jx_array_each(raw, &sp, bounds_cb, &b);
			CHECK(rc == 0 || rc == -EINVAL);
		}
	}
	{
		struct jx_span all = { 0, size };
		struct bounds b = { 0, size, 0 };
		int rc = jx_array_each(raw, &all, bounds_cb, &b);

		CHECK(rc == 0 || rc == -EINVAL);
	}
}

/* ---- agreement with jansson ---- */

static void check_span(const char *text, size_t len, const json_t *want, int depth);

struct each_ctx {
	const char *text;
	const json_t *arr;
	size_t n;
	int depth;
};

static int each_cb(void *ctx, size_t index, const struct jx_span *el)
{
	struct each_ctx *c = ctx;

	CHECK(index == c->n && index < json_array_size(c->arr));
	check_span(c->text + el->off, el->len, json_array_get(c->arr, index), c->depth + 1);
	c->n++;
	return 0;
}

/* text[0, len) is exactly the JSON value want. */
static void check_span(const char *text, size_t len, const json_t *want, int depth)
{
	json_error_t err;
	json_t *got;

	CHECK(len > 0 && !is_ws(text[0]) && !is_ws(text[len - 1]));
	got = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
	if (!got || !json_equal(got, want)) {
		fprintf(stderr, "span '%.*s' %s\n", (int)len, text,
			got ? "parses to another value" : err.text);
		abort();
	}
	json_decref(got);
	if (depth >= MAX_DEPTH)
		return;

	if (json_is_object(want)) {
		const char *k;
		json_t *x;

		json_object_foreach((json_t *)(uintptr_t)want, k, x) {
			const char *path[2] = { k, NULL };
			struct jx_span sp;
			int rc;

			if (strlen(k) > MAX_KEY)
				continue;
			rc = jx_find(text, len, path, 1, &sp);
			if (rc) {
				fprintf(stderr, "key '%s' not found (%d) in '%.*s'\n", k, rc, (int)len,
					text);
				abort();
			}
			CHECK(sp.off <= len && sp.len <= len - sp.off);
			check_span(text + sp.off, sp.len, x, depth + 1);
			if (json_is_object(x)) {
				const char *k2;
				json_t *x2;

				json_object_foreach(x, k2, x2) {
					struct jx_span sp2, sp3;

					if (strlen(k2) > MAX_KEY)
						continue;
					path[1] = k2;
					CHECK(jx_find(text, len, path, 2, &sp2) == 0);
					CHECK(jx_find(text + sp.off, sp.len, &path[1], 1, &sp3) == 0);
					CHECK(sp2.off == sp.off + sp3.off && sp2.len == sp3.len);
				}
			}
		}
	} else if (json_is_array(want)) {
		struct each_ctx c = { text, want, 0, depth };
		struct jx_span all = { 0, len };

		CHECK(jx_array_each(text, &all, each_cb, &c) == 0);
		CHECK(c.n == json_array_size(want));
	}
}

/* Replace each top-level member (up to a few) with [0] and compare. */
static void check_splice(const char *raw, size_t size, const json_t *root)
{
	const char *k;
	json_t *x;
	int done = 0;

	json_object_foreach((json_t *)(uintptr_t)root, k, x) {
		const char *path[1] = { k };
		struct jx_span sp;
		struct jx_edit e;
		struct mg_buf out;
		json_t *got, *want;

		if (done++ >= 8)
			break;
		if (strlen(k) > MAX_KEY || jx_find(raw, size, path, 1, &sp))
			continue;
		e = (struct jx_edit){ sp, "[0]", 3 };
		mg_buf_init(&out, size + 16);
		CHECK(jx_splice(raw, size, &e, 1, &out) == 0);
		got = jx_parse(out.data, out.len, NULL);
		CHECK(got);
		want = json_deep_copy(root);
		json_object_set_new(want, k, json_pack("[i]", 0));
		CHECK(json_equal(got, want));
		json_decref(got);
		json_decref(want);
		mg_buf_release(&out);
	}
}

static void check_quote(const char *raw, size_t size)
{
	json_t *s = json_stringn(raw, size);
	struct mg_buf b;
	json_t *back;

	if (!s)
		return;
	mg_buf_init(&b, 6 * size + 16);
	CHECK(jx_quote(raw, size, &b) == 0);
	back = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	CHECK(back && json_is_string(back) && json_string_length(back) == size &&
	      memcmp(json_string_value(back), raw, size) == 0);
	json_decref(back);
	json_decref(s);
	mg_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *raw = (const char *)data;
	json_t *root;

	scan_anything(raw, size);

	root = jx_parse(raw, size, NULL);
	if (root) {
		size_t lo = 0, hi = size;

		while (lo < hi && is_ws(raw[lo]))
			lo++;
		while (hi > lo && is_ws(raw[hi - 1]))
			hi--;
		check_span(raw + lo, hi - lo, root, 0);
		if (json_is_object(root))
			check_splice(raw, size, root);
		json_decref(root);
	}
	check_quote(raw, size);
	return 0;
}
