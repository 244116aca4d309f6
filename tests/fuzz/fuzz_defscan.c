/* libFuzzer harness for the definition scanner (src/guard/defscan*.c).
 * A definition comes from a server, so on any input:
 *   - folding never crashes, every folded byte maps into the string, in
 *     order, and every character hit lies in the string;
 *   - scanning a definition (the input as JSON, when jansson takes it) and
 *     scanning the input as a server's instructions never fail, and their
 *     results are consistent: at most GD_DEF_MAX_FINDINGS findings, each
 *     named, weighted and NUL-terminated, spans of the instructions inside
 *     them, and the verdict the one the score gives;
 *   - decoding the input as an encoded run stays in the buffer and gives
 *     back only readable text.
 * Seeds: tests/fuzz/corpus/defscan/. */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "guard/defscan.h"
#include "guard/defscan_text.h"
#include "fuzz.h"

static struct gd_defscan *g_d;
static struct gd_def_text g_t;

static void check_result(const struct gd_def_result *r, size_t text_len, bool instructions)
{
	enum gd_def_verdict v = r->score >= GD_DEF_POISONED_AT ? GD_DEF_POISONED
			      : r->score >= GD_DEF_SUSPICIOUS_AT ? GD_DEF_SUSPICIOUS : GD_DEF_CLEAN;

	CHECK(r->verdict == v);
	CHECK(r->n_findings <= GD_DEF_MAX_FINDINGS);
	for (size_t i = 0; i < r->n_findings; i++) {
		const struct gd_def_finding *f = &r->findings[i];

		CHECK(f->signal && f->signal[0]);
		CHECK(f->weight > 0);
		CHECK(memchr(f->path, '\0', sizeof(f->path)) != NULL);
		CHECK(memchr(f->detail, '\0', sizeof(f->detail)) != NULL);
		if (instructions)
			CHECK(f->off + f->len <= text_len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const others[] = { "send_email", "email", "read_file", "search", "mcp-x.tool", NULL };
	const char *s = (const char *)data;
	struct gd_def_result r;
	json_t *j;
	char err[256];

	if (!g_d)
		CHECK(gd_def_new(&g_d, err, sizeof(err)) == 0);
	if (size > GD_DEF_TEXT_MAX)
		return 0;
	CHECK(gd_def_text_fold(&g_t, s, size, size & 1 ? GD_DEF_TEXT_IDENT : 0) == 0);
	for (size_t i = 0; i < g_t.len; i++) {
		CHECK(g_t.ostart[i] <= g_t.oend[i] && g_t.oend[i] <= size);
		CHECK(i == 0 || g_t.ostart[i - 1] <= g_t.ostart[i]);
	}
	for (size_t i = 0; i < g_t.n_hits; i++)
		CHECK(g_t.hits[i].off + g_t.hits[i].len <= size);
	{
		char dec[96];
		size_t n = gd_def_decode_text(s, size, dec, sizeof(dec));

		CHECK(n == 0 || (n >= GD_DEF_DECODE_MIN && n <= sizeof(dec)));
		for (size_t i = 0; i < n; i++)
			CHECK((dec[i] >= 0x20 && dec[i] <= 0x7e) || dec[i] == '\t' || dec[i] == '\n');
	}

	CHECK(gd_def_scan_instructions(g_d, s, size, others, &r) == 0);
	check_result(&r, size, true);

	j = json_loadb(s, size, JSON_ALLOW_NUL, NULL);
	if (j) {
		int rc = gd_def_scan_tool(g_d, j, "tool", others, &r);

		if (json_is_object(j)) {
			CHECK(rc == 0);
			check_result(&r, 0, false);
		} else {
			CHECK(rc == -EINVAL);
		}
		json_decref(j);
	}
	return 0;
}
