/* libFuzzer harness for the list collector (src/mcp/lister.c), which
 * reads what a child gateway (and through it, a server) answers to
 * `mcpguard scan --catalog`.  Layout of an input: byte 0 chooses the caps
 * (pages 1..8, items 1..32), the rest is the peer's stream, one line per
 * '\n'.  So that answers can match the request in flight, each '@' in a
 * line becomes the id the lister waits for.  On any input:
 *   - what the lister sends is whole lines, each one JSON object;
 *   - a feed fails exactly when the state is FAILED, with a printable
 *     error, after which nothing is sent and every line is refused;
 *   - while running, one request is in flight; once done, none;
 *   - the lists hold only objects, no more than the item cap in all, no
 *     list more pages than the page cap, and items counts them.
 * Seeds: tests/fuzz/corpus/lister/. */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "mcp/lister.h"
#include "fuzz.h"

static void check_sent(struct mcp_lister *l)
{
	size_t len;
	char *out = mcp_lister_take(l, &len);

	if (!out)
		return;
	CHECK(len > 0 && out[len - 1] == '\n');
	for (char *p = out; *p;) {
		char *nl = strchr(p, '\n');
		json_error_t je;
		json_t *v;

		CHECK(nl);
		v = json_loadb(p, (size_t)(nl - p), 0, &je);
		CHECK(json_is_object(v));
		json_decref(v);
		p = nl + 1;
	}
	free(out);
}

static void check_state(struct mcp_lister *l, int rc)
{
	size_t items = 0;

	CHECK((rc < 0) == (l->state == MCP_LISTER_FAILED));
	if (l->state == MCP_LISTER_FAILED) {
		CHECK(l->error[0]);
		for (const char *p = l->error; *p; p++)
			CHECK(*p >= 0x20 && *p < 0x7f);
		CHECK(l->out.len == 0);
	}
	if (l->state == MCP_LISTER_RUNNING)
		CHECK(l->wait_id > 0);
	if (l->state == MCP_LISTER_DONE)
		CHECK(l->wait_id == 0);
	for (size_t k = 0; k < MCP_LIST_N; k++) {
		size_t i;
		json_t *d;

		CHECK(json_is_array(l->lists[k]));
		CHECK(l->pages[k] <= l->lim.max_pages);
		json_array_foreach(l->lists[k], i, d)
			CHECK(json_is_object(d));
		items += json_array_size(l->lists[k]);
	}
	CHECK(items == l->items && items <= l->lim.max_items);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mcp_lister_limits lim;
	struct mcp_lister l;
	struct mg_buf line;
	const char *p, *end;

	if (size < 1)
		return 0;
	lim = (struct mcp_lister_limits){ .max_pages = 1 + (data[0] & 7),
					  .max_items = 1 + (data[0] >> 3) };
	mcp_lister_init(&l, &lim, "fuzz", "1");
	CHECK(mcp_lister_start(&l) == 0);
	check_sent(&l);
	check_state(&l, 0);
	mg_buf_init(&line, 1 << 20);
	for (p = (const char *)data + 1, end = (const char *)data + size; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		bool failed = l.state == MCP_LISTER_FAILED;
		int rc;

		mg_buf_reset(&line);
		for (size_t i = 0; i < n; i++) {
			if (p[i] == '@')
				mg_buf_addf(&line, "%lld", (long long)l.wait_id);
			else
				mg_buf_addc(&line, p[i]);
		}
		rc = mcp_lister_feed(&l, line.data ? line.data : "", line.len);
		if (failed)
			CHECK(rc < 0);
		check_state(&l, rc);
		check_sent(&l);
		p += n + (nl ? 1 : 0);
	}
	mg_buf_release(&line);
	mcp_lister_release(&l);
	return 0;
}
