/* Unit tests for src/mcp/lister: the client side of listing a peer
 * (initialize, every announced list, every page), against scripted
 * answers: the requests it sends, what it collects, and every way a peer
 * can get it wrong (errors, stray ids, garbage, bad shapes, cursors that
 * loop, caps on pages, items and bytes). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "mcp/lister.h"

/* Every line the lister queued since the last call, parsed, as an array. */
static json_t *sent(struct mcp_lister *l)
{
	size_t len;
	char *out = mcp_lister_take(l, &len);
	json_t *a = json_array();

	for (char *p = out; p && *p;) {
		char *nl = strchr(p, '\n');
		json_error_t je;
		json_t *v;

		assert_non_null(nl);    /* every line ends with a newline */
		v = json_loadb(p, (size_t)(nl - p), 0, &je);
		assert_non_null(v);
		json_array_append_new(a, v);
		p = nl + 1;
	}
	free(out);
	return a;
}

static int feed(struct mcp_lister *l, const char *s)
{
	return mcp_lister_feed(l, s, strlen(s));
}

/* Answer the request in flight with result text (the id filled in). */
static int answer(struct mcp_lister *l, const char *result)
{
	char line[8192];

	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":%s}",
		 (long long)l->wait_id, result);
	return feed(l, line);
}

/* The one request in a batch of sent lines (notifications aside). */
static json_t *the_request(json_t *lines)
{
	json_t *req = NULL, *v;
	size_t i;

	json_array_foreach(lines, i, v) {
		if (json_object_get(v, "id")) {
			assert_null(req);
			req = v;
		}
	}
	assert_non_null(req);
	return req;
}

static const char *method_of(json_t *req)
{
	return json_string_value(json_object_get(req, "method"));
}

static const char *cursor_of(json_t *req)
{
	return json_string_value(json_object_get(json_object_get(req, "params"), "cursor"));
}

static void start(struct mcp_lister *l, const struct mcp_lister_limits *lim)
{
	json_t *s, *req, *params;

	mcp_lister_init(l, lim, "unit", "1.0");
	assert_int_equal(mcp_lister_start(l), 0);
	assert_int_equal(mcp_lister_start(l), -EALREADY);
	s = sent(l);
	assert_int_equal(json_array_size(s), 1);
	req = the_request(s);
	assert_string_equal(method_of(req), "initialize");
	assert_int_equal(json_integer_value(json_object_get(req, "id")), 1);
	params = json_object_get(req, "params");
	assert_string_equal(json_string_value(json_object_get(params, "protocolVersion")),
			    "2025-11-25");
	assert_true(json_is_object(json_object_get(params, "capabilities")));
	assert_int_equal(json_object_size(json_object_get(params, "capabilities")), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(params, "clientInfo"),
							      "name")), "unit");
	json_decref(s);
}

#define ALL_CAPS "{\"capabilities\":{\"tools\":{},\"prompts\":{},\"resources\":{}}," \
		 "\"instructions\":\"Use me well.\",\"protocolVersion\":\"2025-11-25\"}"

static void test_every_list_every_page(void **state)
{
	struct mcp_lister l;
	json_t *s, *req;

	start(&l, NULL);
	assert_int_equal(answer(&l, ALL_CAPS), 0);
	s = sent(&l);
	/* notifications/initialized first, then the first list */
	assert_int_equal(json_array_size(s), 2);
	assert_string_equal(method_of(json_array_get(s, 0)), "notifications/initialized");
	assert_null(json_object_get(json_array_get(s, 0), "id"));
	req = the_request(s);
	assert_string_equal(method_of(req), "tools/list");
	assert_null(cursor_of(req));
	json_decref(s);

	assert_int_equal(answer(&l, "{\"tools\":[{\"name\":\"a\"},{\"name\":\"b\"}],\"nextCursor\":\"p2\"}"), 0);
	s = sent(&l);
	req = the_request(s);
	assert_string_equal(method_of(req), "tools/list");
	assert_string_equal(cursor_of(req), "p2");
	json_decref(s);
	/* an empty cursor is a cursor too; only an absent (or null) one ends */
	assert_int_equal(answer(&l, "{\"tools\":[{\"name\":\"c\"}],\"nextCursor\":\"\"}"), 0);
	s = sent(&l);
	assert_string_equal(cursor_of(the_request(s)), "");
	json_decref(s);
	assert_int_equal(answer(&l, "{\"tools\":[],\"nextCursor\":null}"), 0);
	s = sent(&l);
	req = the_request(s);
	assert_string_equal(method_of(req), "prompts/list");
	assert_null(cursor_of(req));
	json_decref(s);
	assert_int_equal(answer(&l, "{\"prompts\":[{\"name\":\"p\"}]}"), 0);
	s = sent(&l);
	assert_string_equal(method_of(the_request(s)), "resources/list");
	json_decref(s);
	assert_int_equal(answer(&l, "{\"resources\":[{\"uri\":\"x://1\",\"name\":\"one\"}]}"), 0);
	s = sent(&l);
	assert_string_equal(method_of(the_request(s)), "resources/templates/list");
	json_decref(s);
	assert_int_equal(l.state, MCP_LISTER_RUNNING);
	assert_int_equal(answer(&l, "{\"resourceTemplates\":[{\"uriTemplate\":\"x://{id}\",\"name\":\"t\"}]}"), 0);
	assert_int_equal(l.state, MCP_LISTER_DONE);
	assert_null(mcp_lister_take(&l, &(size_t){ 0 }));

	assert_int_equal(json_array_size(l.lists[MCP_LIST_TOOLS]), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(l.lists[MCP_LIST_TOOLS], 2), "name")), "c");
	assert_int_equal(l.pages[MCP_LIST_TOOLS], 3);
	assert_int_equal(json_array_size(l.lists[MCP_LIST_PROMPTS]), 1);
	assert_int_equal(json_array_size(l.lists[MCP_LIST_RESOURCES]), 1);
	assert_int_equal(json_array_size(l.lists[MCP_LIST_TEMPLATES]), 1);
	assert_int_equal(l.items, 6);
	assert_string_equal(mcp_lister_instructions(&l), "Use me well.");
	/* a stray answer after the end is an error */
	assert_int_equal(feed(&l, "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}}"), -EPROTO);
	assert_int_equal(l.state, MCP_LISTER_FAILED);
	assert_non_null(strstr(l.error, "after the listing was done"));
	mcp_lister_release(&l);
}

/* Only the lists the capabilities announce are asked for. */
static void test_capabilities_choose(void **state)
{
	struct mcp_lister l;
	json_t *s;

	start(&l, NULL);
	assert_int_equal(answer(&l, "{\"capabilities\":{\"tools\":{},\"prompts\":null}}"), 0);
	s = sent(&l);
	assert_string_equal(method_of(the_request(s)), "tools/list");
	json_decref(s);
	assert_int_equal(answer(&l, "{\"tools\":[]}"), 0);
	assert_int_equal(l.state, MCP_LISTER_DONE);
	assert_null(mcp_lister_instructions(&l));
	mcp_lister_release(&l);

	/* no capabilities at all: done once initialized */
	start(&l, NULL);
	assert_int_equal(answer(&l, "{\"protocolVersion\":\"2025-11-25\"}"), 0);
	s = sent(&l);
	assert_int_equal(json_array_size(s), 1);
	assert_string_equal(method_of(json_array_get(s, 0)), "notifications/initialized");
	json_decref(s);
	assert_int_equal(l.state, MCP_LISTER_DONE);
	mcp_lister_release(&l);

	/* resources alone: resources, then templates */
	start(&l, NULL);
	assert_int_equal(answer(&l, "{\"capabilities\":{\"resources\":{\"subscribe\":true}}}"), 0);
	s = sent(&l);
	assert_string_equal(method_of(the_request(s)), "resources/list");
	json_decref(s);
	assert_int_equal(answer(&l, "{\"resources\":[]}"), 0);
	s = sent(&l);
	assert_string_equal(method_of(the_request(s)), "resources/templates/list");
	json_decref(s);
	assert_int_equal(answer(&l, "{\"resourceTemplates\":[]}"), 0);
	assert_int_equal(l.state, MCP_LISTER_DONE);
	mcp_lister_release(&l);
}

/* The peer's requests are answered, its notifications ignored; the
 * listing goes on. */
static void test_peer_requests(void **state)
{
	struct mcp_lister l;
	json_t *s, *v;

	start(&l, NULL);
	assert_int_equal(feed(&l, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":\"hi\"}}"), 0);
	assert_int_equal(feed(&l, "{\"jsonrpc\":\"2.0\",\"id\":\"p-1\",\"method\":\"ping\"}"), 0);
	assert_int_equal(feed(&l, "{\"jsonrpc\":\"2.0\",\"id\":77,\"method\":\"sampling/createMessage\",\"params\":{}}"), 0);
	s = sent(&l);
	assert_int_equal(json_array_size(s), 2);
	v = json_array_get(s, 0);
	assert_string_equal(json_string_value(json_object_get(v, "id")), "p-1");
	assert_true(json_is_object(json_object_get(v, "result")));
	v = json_array_get(s, 1);
	assert_int_equal(json_integer_value(json_object_get(v, "id")), 77);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "error"), "code")), -32601);
	json_decref(s);
	assert_int_equal(l.state, MCP_LISTER_RUNNING);
	assert_int_equal(answer(&l, "{\"capabilities\":{}}"), 0);
	assert_int_equal(l.state, MCP_LISTER_DONE);
	mcp_lister_release(&l);
}

/* Start, answer initialize with all capabilities, return with tools/list
 * in flight. */
static void at_tools(struct mcp_lister *l, const struct mcp_lister_limits *lim)
{
	start(l, lim);
	assert_int_equal(answer(l, ALL_CAPS), 0);
	json_decref(sent(l));
}

static void expect_failed(struct mcp_lister *l, int rc, int want, const char *words)
{
	assert_int_equal(rc, want);
	assert_int_equal(l->state, MCP_LISTER_FAILED);
	if (!strstr(l->error, words))
		fail_msg("error \"%s\" lacks \"%s\"", l->error, words);
	/* nothing more is sent, and every later line is refused */
	assert_null(mcp_lister_take(l, &(size_t){ 0 }));
	assert_int_equal(feed(l, "{\"jsonrpc\":\"2.0\",\"method\":\"x\"}"), -EPROTO);
	mcp_lister_release(l);
}

static void test_peer_errors(void **state)
{
	struct mcp_lister l;
	char big[600];

	at_tools(&l, NULL);
	expect_failed(&l, feed(&l, "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32603,\"message\":\"boom\"}}"),
		      -EPROTO, "tools/list failed: boom (-32603)");

	start(&l, NULL);
	expect_failed(&l, feed(&l, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32600,\"message\":\"no\"}}"),
		      -EPROTO, "initialize failed: no");

	at_tools(&l, NULL);
	expect_failed(&l, feed(&l, "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"tools\":[]}}"), -EPROTO,
		      "answered a request that was not asked (id 7)");

	at_tools(&l, NULL);
	expect_failed(&l, feed(&l, "{\"jsonrpc\":\"2.0\",\"id\":\"2\",\"result\":{\"tools\":[]}}"), -EPROTO,
		      "not asked (id \"2\")");

	/* garbage, quoted printable: control characters never reach a terminal */
	at_tools(&l, NULL);
	expect_failed(&l, feed(&l, "not json \x1b[31mred"), -EPROTO, "not JSON-RPC");
	at_tools(&l, NULL);
	assert_int_equal(feed(&l, "\x1b[2J"), -EPROTO);
	assert_null(strchr(l.error, '\x1b'));
	mcp_lister_release(&l);
	/* jansson's reason quotes the line as well (found by fuzz_lister) */
	at_tools(&l, NULL);
	assert_int_equal(feed(&l, "\x7f"), -EPROTO);
	assert_null(strchr(l.error, '\x7f'));
	mcp_lister_release(&l);
	/* a peer's long message is cut */
	at_tools(&l, NULL);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(feed(&l, big), -EPROTO);
	assert_non_null(strstr(l.error, "xxx..."));
	assert_true(strlen(l.error) < sizeof(l.error) - 1);
	mcp_lister_release(&l);

	at_tools(&l, NULL);
	mcp_lister_oversize(&l, 1024);
	expect_failed(&l, l.state == MCP_LISTER_FAILED ? -EMSGSIZE : 0, -EMSGSIZE, "over 1024 bytes");
}

static void test_bad_shapes(void **state)
{
	static const struct { const char *result, *words; } bad[] = {
		{ "[]", "the result is not an object" },
		{ "{}", "no tools array" },
		{ "{\"tools\":{}}", "no tools array" },
		{ "{\"tools\":[{\"name\":\"a\"},\"b\"]}", "item 1 is not an object" },
		{ "{\"tools\":[],\"nextCursor\":5}", "nextCursor is not a string" },
	};
	struct mcp_lister l;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		at_tools(&l, NULL);
		expect_failed(&l, answer(&l, bad[i].result), -EPROTO, bad[i].words);
	}
	/* a NUL in a string never gets past the strict parse */
	at_tools(&l, NULL);
	expect_failed(&l, answer(&l, "{\"tools\":[],\"nextCursor\":\"a\\u0000b\"}"), -EPROTO,
		      "not JSON-RPC");
	start(&l, NULL);
	expect_failed(&l, answer(&l, "{\"capabilities\":{},\"instructions\":7}"), -EPROTO,
		      "instructions is not a string");
	start(&l, NULL);
	expect_failed(&l, answer(&l, "{\"capabilities\":[]}"), -EPROTO,
		      "capabilities is not an object");
	start(&l, NULL);
	expect_failed(&l, answer(&l, "\"x\""), -EPROTO, "initialize: the result is not an object");
	/* nothing was kept of a failed page */
	at_tools(&l, NULL);
	assert_int_equal(answer(&l, "{\"tools\":[{\"name\":\"a\"},1]}"), -EPROTO);
	assert_int_equal(json_array_size(l.lists[MCP_LIST_TOOLS]), 0);
	mcp_lister_release(&l);
}

static void test_cursor_loops_and_caps(void **state)
{
	struct mcp_lister l;
	struct mcp_lister_limits lim = { .max_pages = 3 };
	json_t *s;

	/* the same cursor again: the peer would make us loop */
	at_tools(&l, NULL);
	assert_int_equal(answer(&l, "{\"tools\":[],\"nextCursor\":\"same\"}"), 0);
	json_decref(sent(&l));
	expect_failed(&l, answer(&l, "{\"tools\":[],\"nextCursor\":\"same\"}"), -ELOOP,
		      "nextCursor \"same\" repeats");

	/* alternating cursors end at the page cap */
	at_tools(&l, &lim);
	assert_int_equal(answer(&l, "{\"tools\":[{}],\"nextCursor\":\"a\"}"), 0);
	json_decref(sent(&l));
	assert_int_equal(answer(&l, "{\"tools\":[{}],\"nextCursor\":\"b\"}"), 0);
	s = sent(&l);
	assert_string_equal(cursor_of(the_request(s)), "b");
	json_decref(s);
	expect_failed(&l, answer(&l, "{\"tools\":[{}],\"nextCursor\":\"a\"}"), -E2BIG,
		      "tools/list: more than 3 pages");
	/* the last page of a list may be at the cap */
	at_tools(&l, &lim);
	assert_int_equal(answer(&l, "{\"tools\":[],\"nextCursor\":\"a\"}"), 0);
	assert_int_equal(answer(&l, "{\"tools\":[],\"nextCursor\":\"b\"}"), 0);
	assert_int_equal(answer(&l, "{\"tools\":[]}"), 0);
	s = sent(&l);
	assert_int_equal(json_array_size(s), 3);
	assert_string_equal(method_of(json_array_get(s, 2)), "prompts/list");
	json_decref(s);
	mcp_lister_release(&l);

	/* items, over all lists together */
	lim = (struct mcp_lister_limits){ .max_items = 3 };
	at_tools(&l, &lim);
	assert_int_equal(answer(&l, "{\"tools\":[{},{}]}"), 0);
	expect_failed(&l, answer(&l, "{\"prompts\":[{},{}]}"), -E2BIG, "more than 3 definitions");
	at_tools(&l, &lim);
	assert_int_equal(answer(&l, "{\"tools\":[{},{},{}]}"), 0);
	assert_int_equal(l.state, MCP_LISTER_RUNNING);
	mcp_lister_release(&l);

	/* bytes read, notifications included */
	lim = (struct mcp_lister_limits){ .max_bytes = 400 };
	at_tools(&l, &lim);
	for (int i = 0; i < 10 && l.state == MCP_LISTER_RUNNING; i++)
		feed(&l, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"data\":\"0123456789\"}}");
	expect_failed(&l, -E2BIG, -E2BIG, "more than 400 bytes");
}

static void test_names(void **state)
{
	assert_string_equal(mcp_list_key(MCP_LIST_TEMPLATES), "resourceTemplates");
	assert_string_equal(mcp_list_method(MCP_LIST_TEMPLATES), "resources/templates/list");
	assert_string_equal(mcp_list_def_kind(MCP_LIST_TEMPLATES), "resource-template");
	assert_string_equal(mcp_list_def_kind(MCP_LIST_TOOLS), "tool");
	assert_string_equal(mcp_list_key(MCP_LIST_N), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_list_every_page),
		cmocka_unit_test(test_capabilities_choose),
		cmocka_unit_test(test_peer_requests),
		cmocka_unit_test(test_peer_errors),
		cmocka_unit_test(test_bad_shapes),
		cmocka_unit_test(test_cursor_loops_and_caps),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
