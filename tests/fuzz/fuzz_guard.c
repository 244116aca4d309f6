/* libFuzzer harness for the secrets check (src/guard/leak*.c) and the
 * string walker it rides on (jx_strings, jx_unescape).  Every message a
 * server sends passes it, so on any input:
 *   - jx_strings never crashes and every span it gives lies in the text and
 *     starts and ends with a quote;
 *   - gd_leak_scan never crashes, and its hits lie in the text, sorted and
 *     disjoint;
 *   - when jansson accepts the input as a message, the check's edits, applied
 *     with jx_splice, give a document jansson accepts again, and in it the
 *     known secret is gone: no string of the result holds it, decoded.
 * The known secret is fixed; the fuzzer finds ways to hide it.
 * Seeds: tests/fuzz/corpus/guard/. */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"
#include "guard/leak.h"
#include "guard/leak_check.h"
#include "json/jx.h"
#include "fuzz.h"

#define SECRET "Fz-s3cret-V4lue/9"

static struct gd_leak *g_leak;
static struct gd_check *g_check;

static void setup(void)
{
	static const char *const owners[] = { "owner", NULL };
	static char *const *const owner_list[] = { (char *const *)owners };
	struct gd_secret s = { "FUZZ", SECRET, sizeof(SECRET) - 1 };
	char err[256];

	if (g_check)
		return;
	CHECK(gd_leak_new(&g_leak, &s, 1, NULL, err, sizeof(err)) == 0);
	CHECK(gd_leak_check_new(&g_check, &s, owner_list, 1, GD_LEAK_REDACT, err, sizeof(err)) == 0);
}

struct span_ctx {
	const char *raw;
	size_t len;
};

static int span_cb(void *ctx, const struct jx_span *tok, bool is_key, const struct jx_span *key)
{
	struct span_ctx *c = ctx;
	struct mg_buf b;

	CHECK(tok->off + tok->len <= c->len && tok->len >= 2);
	CHECK(c->raw[tok->off] == '"' && c->raw[tok->off + tok->len - 1] == '"');
	if (key)
		CHECK(key->off + key->len <= tok->off);
	mg_buf_init(&b, c->len + 16);
	(void)jx_unescape(c->raw + tok->off + 1, tok->len - 2, &b);
	mg_buf_release(&b);
	return 0;
}

/* Is the secret in any string of v (decoded by jansson)? */
static bool holds_secret(const json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_string(v))
		return memmem(json_string_value(v), json_string_length(v), SECRET, sizeof(SECRET) - 1) != NULL;
	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			if (holds_secret(x))
				return true;
	}
	if (json_is_object(v)) {
		json_object_foreach((json_t *)(uintptr_t)v, k, x)
			if (strstr(k, SECRET) || holds_secret(x))
				return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *raw = (const char *)data;
	struct gd_hit hits[32];
	json_error_t je;
	json_t *root;
	int n;

	setup();
	n = gd_leak_scan(g_leak, raw, size, hits, 32);
	CHECK(n >= 0 || n == -E2BIG);
	for (int i = 0; i < n; i++) {
		CHECK(hits[i].off + hits[i].len <= size && hits[i].len > 0);
		if (i)
			CHECK(hits[i].off > hits[i - 1].off + hits[i - 1].len - 1);
	}
	root = jx_parse(raw, size, &je);
	if (!root)
		return 0;
	{
		struct span_ctx c = { raw, size };

		CHECK(jx_strings(raw, size, span_cb, &c) == 0);
	}
	struct gd_msg m = { .dir = GD_TO_CLIENT, .kind = GD_RESPONSE, .raw = raw, .len = size,
			    .server = "other" };
	struct gd_out *o = mg_calloc(1, sizeof(*o));
	int rc = g_check->run(g_check, &m, o);

	if (rc == 0 && o->verdict == GD_EDIT) {
		struct mg_buf b;
		json_t *after;

		mg_buf_init(&b, size * 4 + 1024);
		CHECK(jx_splice(raw, size, o->edits, o->n_edits, &b) == 0);
		after = jx_parse(b.data, b.len, &je);
		CHECK(after != NULL);
		/* a secret split over a JSON escape is still found: it is gone */
		CHECK(!holds_secret(after));
		json_decref(after);
		mg_buf_release(&b);
	} else if (rc == 0 && o->verdict == GD_PASS && o->n_findings == 0) {
		CHECK(!holds_secret(root));
	}
	gd_out_reset(o);
	free(o);
	json_decref(root);
	return 0;
}
