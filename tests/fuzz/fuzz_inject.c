/* libFuzzer harness for result inspection (src/guard/inject*.c).  A result
 * comes from a server, so on any input:
 *   - scanning it as one text never fails, the result is consistent (at
 *     most GD_INJ_MAX_FINDINGS findings, each named, weighted, inside the
 *     text, NUL-terminated; the verdict the one the score gives), and the
 *     prefilter changes nothing: the same score with it off;
 *   - stripping never grows the text, and what it leaves has nothing more
 *     to strip;
 *   - as the text of a tools/call result, and as a whole message when
 *     jansson takes it, the check in each mode returns 0, and its edits
 *     give valid JSON; a clean message has no finding and no edit.
 * Seeds: tests/fuzz/corpus/inject/. */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "guard/inject.h"
#include "guard/inject_check.h"
#include "json/jx.h"
#include "fuzz.h"

static struct gd_inj *g_d;
static struct gd_check *g_c[3];
static struct gd_inj_result g_on, g_off;

static void check_result(const struct gd_inj_result *r, size_t len)
{
	enum gd_inj_verdict v = r->score >= GD_INJ_MALICIOUS_AT ? GD_INJ_MALICIOUS
				: r->score >= GD_INJ_SUSPICIOUS_AT ? GD_INJ_SUSPICIOUS : GD_INJ_CLEAN;

	CHECK(r->verdict == v);
	CHECK(r->n_findings <= GD_INJ_MAX_FINDINGS);
	for (size_t i = 0; i < r->n_findings; i++) {
		const struct gd_inj_finding *f = &r->findings[i];

		CHECK(f->signal && f->signal[0]);
		CHECK(f->weight > 0);
		CHECK(f->off + f->len <= len);
		CHECK(memchr(f->detail, '\0', sizeof(f->detail)) != NULL);
		CHECK(memchr(f->where, '\0', sizeof(f->where)) != NULL);
	}
}

static void run_check(const char *raw, size_t len, enum gd_kind kind)
{
	for (int mode = 0; mode < 3; mode++) {
		struct gd_msg m = { .dir = GD_TO_CLIENT, .kind = kind, .raw = raw, .len = len,
				    .method = "tools/call", .server = "fuzz" };
		struct gd_out *o = calloc(1, sizeof(*o));
		struct mg_buf b;

		CHECK(o != NULL);
		CHECK(g_c[mode]->run(g_c[mode], &m, o) == 0);
		if (o->verdict == GD_PASS && mode != GD_INJECT_LOG)
			CHECK(o->n_edits == 0);
		if (o->verdict == GD_EDIT) {
			json_error_t je;
			json_t *j;

			mg_buf_init(&b, 1u << 26);
			CHECK(jx_splice(raw, len, o->edits, o->n_edits, &b) == 0);
			j = jx_parse(b.data, b.len, &je);
			CHECK(j != NULL);
			json_decref(j);
			mg_buf_release(&b);
		}
		gd_out_reset(o);
		free(o);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The database takes a second or more to compile under the sanitizers: once, before
 * the first input (a check compiles on its thread: a first message waits). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char first[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[]}}";
	char err[256];

	CHECK(gd_inj_new(&g_d, err, sizeof(err)) == 0);
	for (int i = 0; i < 3; i++)
		CHECK(gd_inject_check_new(&g_c[i], (enum gd_inject_mode)i, err, sizeof(err)) == 0);
	run_check(first, sizeof(first) - 1, GD_RESPONSE);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct mg_buf a, b, q;

	if (size > (1u << 20))
		return 0;
	gd_inj_set_prefilter(g_d, true);
	CHECK(gd_inj_scan(g_d, s, size, NULL, &g_on) == 0);
	check_result(&g_on, size);
	gd_inj_set_prefilter(g_d, false);
	CHECK(gd_inj_scan(g_d, s, size, NULL, &g_off) == 0);
	gd_inj_set_prefilter(g_d, true);
	CHECK(g_on.score == g_off.score);

	/* as a tools/call result's text (valid UTF-8 only: jansson's rule) */
	mg_buf_init(&q, 1u << 26);
	mg_buf_adds(&q, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[{\"type\":\"text\",\"text\":");
	mg_buf_init(&a, 1u << 24);
	mg_buf_init(&b, 1u << 24);
	CHECK(gd_inj_strip(g_d, s, size, &a) >= 0);
	CHECK(a.len <= size);
	if (jx_quote(s, size, &q) == 0) {
		/* in UTF-8 (what a JSON string holds) nothing is left to strip;
		 * invalid bytes may join into a character once what sat between
		 * them is gone */
		CHECK(gd_inj_strip(g_d, a.data ? a.data : "", a.len, &b) == 0);
		json_error_t je;
		json_t *j;

		mg_buf_adds(&q, "}]}}");
		/* what the gateway forwards has passed jansson (no \u0000) */
		if ((j = jx_parse(q.data, q.len, &je)) != NULL) {
			json_decref(j);
			run_check(q.data, q.len, GD_RESPONSE);
		}
	}
	mg_buf_release(&a);
	mg_buf_release(&b);
	mg_buf_release(&q);
	/* as a whole message */
	{
		json_error_t je;
		json_t *j = jx_parse(s, size, &je);

		if (j) {
			run_check(s, size, GD_RESPONSE);
			json_decref(j);
		}
	}
	return 0;
}
