/* Unit tests for src/transport/http_door.c: the framing check of request
 * heads, the classification of POSTed bodies, the refusal log's rate
 * limit and the printable copy of untrusted text. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "transport/http_door.h"

/* A head from "Name: value" lines (value after ": "), NULL-terminated. */
static unsigned head(bool http11, const char *const *lines)
{
	struct tp_door_head h;

	tp_door_head_init(&h);
	for (size_t i = 0; lines[i]; i++) {
		const char *colon = strchr(lines[i], ':');
		const char *v = colon + 1;

		while (*v == ' ')
			v++;
		tp_door_head_field(&h, lines[i], (size_t)(colon - lines[i]), v, strlen(v));
	}
	return tp_door_head_end(&h, http11);
}

static void test_head_ok(void **state)
{
	assert_int_equal(head(true, (const char *const[]){ "Host: a", "Content-Length: 12",
							   "Content-Type: application/json", NULL }), 0);
	assert_int_equal(head(true, (const char *const[]){ "Host: a", "transfer-encoding: Chunked",
							   NULL }), 0);
	assert_int_equal(head(false, (const char *const[]){ NULL }), 0);
}

static void test_head_refused(void **state)
{
	assert_int_equal(head(true, (const char *const[]){ "Host: a", "Content-Length: 5",
							   "Transfer-Encoding: chunked", NULL }), 400);
	assert_int_equal(head(true, (const char *const[]){ "Host: a", "Content-Length: 0",
							   "Content-Length: 0", NULL }), 400);
	assert_int_equal(head(true, (const char *const[]){ "Host: a", "Transfer-Encoding : chunked",
							   NULL }), 400);
	assert_int_equal(head(true, (const char *const[]){ "Host: a", "Host: b", NULL }), 400);
	assert_int_equal(head(true, (const char *const[]){ "Content-Length: 1", NULL }), 400);
	assert_int_equal(head(true, (const char *const[]){ "Host: a", "Content-Length: +1", NULL }),
			 400);
	assert_int_equal(head(true, (const char *const[]){ "Host: a",
							   "Transfer-Encoding: gzip, chunked", NULL }),
			 501);
	assert_int_equal(head(true, (const char *const[]){ "Host: a", "X-A: a\tb\x01", NULL }), 400);
}

static void test_head_nul_in_value(void **state)
{
	struct tp_door_head h;

	tp_door_head_init(&h);
	assert_int_equal(tp_door_head_field(&h, "X-A", 3, "a\0b", 3), 400);
	assert_non_null(h.reason);
	/* The first refusal stays. */
	assert_int_equal(tp_door_head_field(&h, "Host", 4, "a", 1), 400);
	assert_string_equal(h.reason, "control character in a header value");
}

static int classify(const char *body, struct tp_door_msg *m)
{
	return tp_door_classify(body, strlen(body), m);
}

static void test_classify(void **state)
{
	struct tp_door_msg m;
	const char *b;

	b = "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"initialize\",\"params\":{}}";
	assert_int_equal(classify(b, &m), 0);
	assert_int_equal(m.kind, RPC_REQUEST);
	assert_true(m.initialize);
	assert_int_equal(m.id.len, 3);
	assert_memory_equal(b + m.id.off, "\"x\"", 3);
	assert_memory_equal(b + m.method.off, "\"initialize\"", 12);

	b = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"_meta\":"
	    "{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}";
	assert_int_equal(classify(b, &m), 0);
	assert_memory_equal(b + m.claim.off, "\"2026-07-28\"", 12);

	assert_int_equal(classify("{\"jsonrpc\":\"2.0\",\"method\":\"n\"}", &m), 0);
	assert_int_equal(m.kind, RPC_NOTIFICATION);
	assert_int_equal(m.id.len, 0);
}

static void test_classify_refused(void **state)
{
	static const char *const parse_errors[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}x",
		"{\"jsonrpc\":\"2.0\",\"id\":9,\"id\":10,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\",\"params\":{\"s\":\"\xff\"}}",
		"{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\",\"params\":{\"n\":1e999}}",
		"",
	};
	static const char *const invalid[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}",
		"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]",
	};
	struct tp_door_msg m;
	const char *b;

	for (size_t i = 0; i < sizeof(parse_errors) / sizeof(*parse_errors); i++) {
		assert_int_equal(classify(parse_errors[i], &m), RPC_PARSE_ERROR);
		assert_int_equal(m.id.len, 0);
		assert_true(m.why[0] != '\0');
	}
	for (size_t i = 0; i < sizeof(invalid) / sizeof(*invalid); i++) {
		assert_int_equal(classify(invalid[i], &m), RPC_INVALID_REQUEST);
		assert_int_equal(m.id.len, 0);
	}
	/* Valid JSON with a usable id: the error names it. */
	b = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":5}";
	assert_int_equal(classify(b, &m), RPC_INVALID_REQUEST);
	assert_int_equal(m.id.len, 1);
	assert_int_equal(b[m.id.off], '7');
}

static void test_ratelog(void **state)
{
	struct tp_door_ratelog l = { 0 };
	unsigned long more = 99;

	assert_true(tp_door_ratelog_take(&l, 5000, 1000, &more));
	assert_int_equal(more, 0);
	assert_false(tp_door_ratelog_take(&l, 5100, 1000, &more));
	assert_false(tp_door_ratelog_take(&l, 5999, 1000, &more));
	assert_true(tp_door_ratelog_take(&l, 6000, 1000, &more));
	assert_int_equal(more, 2);
	assert_false(tp_door_ratelog_take(&l, 6001, 1000, &more));
}

static void test_printable(void **state)
{
	char out[8];

	tp_door_printable("/mcp", out, sizeof(out));
	assert_string_equal(out, "/mcp");
	tp_door_printable("/a\"b\x01\xc3", out, sizeof(out));
	assert_string_equal(out, "/a?b??");
	tp_door_printable("/0123456789", out, sizeof(out));
	assert_string_equal(out, "/012...");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head_ok),
		cmocka_unit_test(test_head_refused),
		cmocka_unit_test(test_head_nul_in_value),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_classify_refused),
		cmocka_unit_test(test_ratelog),
		cmocka_unit_test(test_printable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
