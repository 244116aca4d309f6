/* Unit tests for src/rpc: JSON-RPC message parsing and classification, the
 * error/result/request line builders, and the newline framer (including a
 * randomized comparison with a reference splitter). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"
#include "base/str.h"
#include "rpc/lines.h"
#include "rpc/msg.h"

/* ======================================================================
 * rpc_parse
 * ====================================================================== */

struct parsed {
	struct rpc_msg m;
	char why[256];
	char *id_raw;
	int rc;
};

static void parse(struct parsed *p, const char *text)
{
	memset(p, 0, sizeof(*p));
	p->id_raw = (char *)(uintptr_t)0x1; /* must be overwritten */
	p->rc = rpc_parse(text, strlen(text), &p->m, p->why, sizeof(p->why), &p->id_raw);
}

static void parsed_free(struct parsed *p)
{
	rpc_msg_release(&p->m);
	free(p->id_raw);
	p->id_raw = NULL;
}

static char *id_text(const struct rpc_msg *m)
{
	size_t n;
	const char *s = rpc_id_raw(m, &n);

	return mg_memdup0(s, n);
}

/* Parse text that must be rejected with code; check the message holds
 * nothing, the reason contains why_part, and the recovered id. */
static void expect_reject(const char *text, int code, const char *why_part, const char *id)
{
	struct parsed p;

	parse(&p, text);
	if (p.rc != code)
		fail_msg("%s: rc %d (%s), expected %d", text, p.rc, p.why, code);
	assert_null(p.m.root);
	assert_null(p.m.method);
	assert_null(p.m.id);
	assert_int_equal(p.m.kind, 0);
	if (why_part && !strstr(p.why, why_part))
		fail_msg("%s: reason '%s' lacks '%s'", text, p.why, why_part);
	assert_true(p.why[0] != '\0');
	if (id) {
		if (!p.id_raw || strcmp(p.id_raw, id) != 0)
			fail_msg("%s: id_raw %s, expected %s", text, p.id_raw ? p.id_raw : "NULL", id);
	} else if (p.id_raw) {
		fail_msg("%s: id_raw %s, expected none", text, p.id_raw);
	}
	parsed_free(&p);
}

static void test_parse_request(void **state)
{
	struct parsed p;
	const char *t = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}";
	char *id;

	parse(&p, t);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.m.kind, RPC_REQUEST);
	assert_string_equal(p.m.method, "tools/list");
	assert_non_null(p.m.id);
	assert_true(json_is_integer(p.m.id));
	assert_int_equal(json_integer_value(p.m.id), 1);
	assert_null(p.m.params);
	assert_false(p.m.is_error);
	assert_ptr_equal(p.m.raw, t);
	assert_int_equal(p.m.len, strlen(t));
	id = id_text(&p.m);
	assert_string_equal(id, "1");
	free(id);
	/* The id text is handed out on success too. */
	assert_non_null(p.id_raw);
	assert_string_equal(p.id_raw, "1");
	parsed_free(&p);

	parse(&p, "{\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{}},"
		  "\"id\":\"abc\",\"jsonrpc\":\"2.0\"}");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.m.kind, RPC_REQUEST);
	assert_string_equal(p.m.method, "tools/call");
	assert_true(json_is_object(p.m.params));
	assert_string_equal(json_string_value(json_object_get(p.m.params, "name")), "echo");
	assert_true(json_is_string(p.m.id));
	assert_string_equal(p.id_raw, "\"abc\"");
	parsed_free(&p);

	/* Empty params object, negative and zero ids. */
	parse(&p, "{\"jsonrpc\":\"2.0\",\"id\":-5,\"method\":\"ping\",\"params\":{}}");
	assert_int_equal(p.rc, 0);
	assert_int_equal(json_integer_value(p.m.id), -5);
	assert_string_equal(p.id_raw, "-5");
	parsed_free(&p);
	parse(&p, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"ping\"}");
	assert_int_equal(p.rc, 0);
	assert_string_equal(p.id_raw, "0");
	parsed_free(&p);
	/* An empty string id is an id. */
	parse(&p, "{\"jsonrpc\":\"2.0\",\"id\":\"\",\"method\":\"ping\"}");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.m.kind, RPC_REQUEST);
	assert_string_equal(p.id_raw, "\"\"");
	parsed_free(&p);
}

static void test_parse_notification(void **state)
{
	struct parsed p;

	parse(&p, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.m.kind, RPC_NOTIFICATION);
	assert_string_equal(p.m.method, "notifications/initialized");
	assert_null(p.m.id);
	assert_null(p.id_raw);
	parsed_free(&p);

	parse(&p, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
		  "\"params\":{\"progressToken\":3,\"progress\":0.5}}");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.m.kind, RPC_NOTIFICATION);
	assert_non_null(p.m.params);
	parsed_free(&p);
}

static void test_parse_response(void **state)
{
	struct parsed p;
	char *id;

	parse(&p, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"tools\":[]}}");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.m.kind, RPC_RESPONSE);
	assert_false(p.m.is_error);
	assert_null(p.m.method);
	assert_int_equal(json_integer_value(p.m.id), 3);
	parsed_free(&p);

	/* Any JSON value is a result, even null. */
	parse(&p, "{\"jsonrpc\":\"2.0\",\"id\":\"r\",\"result\":null}");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.m.kind, RPC_RESPONSE);
	assert_false(p.m.is_error);
	id = id_text(&p.m);
	assert_string_equal(id, "\"r\"");
	free(id);
	parsed_free(&p);

	parse(&p, "{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":{\"code\":-32601,\"message\":\"nope\"}}");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.m.kind, RPC_RESPONSE);
	assert_true(p.m.is_error);
	parsed_free(&p);

	parse(&p, "{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":{\"code\":1,\"message\":\"x\",\"data\":[1]}}");
	assert_int_equal(p.rc, 0);
	assert_true(p.m.is_error);
	parsed_free(&p);
}

static void test_parse_exact_id_text(void **state)
{
	static const struct {
		const char *text, *id;
	} cases[] = {
		{ "{\"jsonrpc\":\"2.0\",\"id\": 9007199254740993,\"method\":\"m\"}", "9007199254740993" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":9223372036854775807,\"method\":\"m\"}",
		  "9223372036854775807" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":-9223372036854775808,\"method\":\"m\"}",
		  "-9223372036854775808" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":\"x\\\"y\",\"method\":\"m\"}", "\"x\\\"y\"" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":\"\\u0041\\/\",\"method\":\"m\"}", "\"\\u0041\\/\"" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":\"é😀\",\"method\":\"m\"}", "\"é😀\"" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":\"}{][,:\",\"method\":\"m\"}", "\"}{][,:\"" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":\"a\\\\\",\"method\":\"m\"}", "\"a\\\\\"" },
		{ " { \"jsonrpc\" : \"2.0\" , \"id\" :\t 42 \r\n, \"method\":\"m\" } ", "42" },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":7}", "7" },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":{\"id\":99},\"id\":8}", "8" },
		{ "{\"jsonrpc\":\"2.0\",\"\\u0069d\":9,\"method\":\"m\"}", "9" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":{\"id\":11}}", "10" },
		{ "{\"result\":{\"id\":11},\"jsonrpc\":\"2.0\",\"id\":12}", "12" },
	};

	for (size_t i = 0; i < MG_ARRAY_LEN(cases); i++) {
		struct parsed p;
		char *id;

		parse(&p, cases[i].text);
		if (p.rc != 0)
			fail_msg("%s: rc %d (%s)", cases[i].text, p.rc, p.why);
		id = id_text(&p.m);
		if (strcmp(id, cases[i].id) != 0 || !p.id_raw || strcmp(p.id_raw, cases[i].id) != 0)
			fail_msg("%s: id '%s' / '%s', expected '%s'", cases[i].text, id,
				 p.id_raw ? p.id_raw : "NULL", cases[i].id);
		/* And it is the same id jansson saw. */
		{
			json_t *v = json_loadb(id, strlen(id), JSON_DECODE_ANY, NULL);
			assert_non_null(v);
			assert_true(json_equal(v, p.m.id));
			json_decref(v);
		}
		free(id);
		parsed_free(&p);
	}
}

static void test_parse_errors_parse(void **state)
{
	/* Not JSON: -32700 with a position. */
	expect_reject("{", RPC_PARSE_ERROR, "parse error at line 1 column", NULL);
	expect_reject("", RPC_PARSE_ERROR, "parse error", NULL);
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\"", RPC_PARSE_ERROR,
		      "parse error at line 1", NULL);
	expect_reject("{\"jsonrpc\":\"2.0\",\n\"id\":1,\n\"method\":}", RPC_PARSE_ERROR,
		      "parse error at line 3 column", NULL);
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\"} trailing", RPC_PARSE_ERROR,
		      "parse error", NULL);
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\"}{}", RPC_PARSE_ERROR, NULL,
		      NULL);
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}", RPC_PARSE_ERROR, NULL,
		      NULL);
	/* Duplicate keys are refused by the strict parser. */
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"m\"}", RPC_PARSE_ERROR,
		      "duplicate", NULL);
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\",\"method\":\"b\"}",
		      RPC_PARSE_ERROR, "duplicate", NULL);
	/* Integers beyond 64 bits. */
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":18446744073709551616,\"method\":\"m\"}",
		      RPC_PARSE_ERROR, NULL, NULL);
	/* Bare scalars are not JSON-RPC messages (and not accepted by the parser). */
	expect_reject("42", RPC_PARSE_ERROR, NULL, NULL);
	expect_reject("\"x\"", RPC_PARSE_ERROR, NULL, NULL);
	expect_reject("null", RPC_PARSE_ERROR, NULL, NULL);
}

static void test_parse_errors_invalid(void **state)
{
	/* Batches. */
	expect_reject("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\"}]", RPC_INVALID_REQUEST,
		      "batch", NULL);
	expect_reject("[]", RPC_INVALID_REQUEST, "batch", NULL);
	/* jsonrpc member: the id is still recovered for the answer. */
	expect_reject("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"m\"}", RPC_INVALID_REQUEST,
		      "jsonrpc", "1");
	expect_reject("{\"jsonrpc\":2.0,\"id\":\"q\",\"method\":\"m\"}", RPC_INVALID_REQUEST,
		      "jsonrpc", "\"q\"");
	expect_reject("{\"id\":5,\"method\":\"m\"}", RPC_INVALID_REQUEST, "jsonrpc", "5");
	expect_reject("{\"jsonrpc\":\"2.0 \",\"id\":5,\"method\":\"m\"}", RPC_INVALID_REQUEST,
		      "jsonrpc", "5");
	expect_reject("{\"jsonrpc\":null,\"method\":\"m\"}", RPC_INVALID_REQUEST, "jsonrpc",
		      NULL);
	/* id types. */
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"m\"}", RPC_INVALID_REQUEST,
		      "id must be", NULL);
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"m\"}", RPC_INVALID_REQUEST,
		      "id must be", NULL);
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"m\"}",
		      RPC_INVALID_REQUEST, "id must be", NULL);
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"m\"}", RPC_INVALID_REQUEST,
		      "id must be", NULL);
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"m\"}", RPC_INVALID_REQUEST,
		      "id must be", NULL);
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1e2,\"method\":\"m\"}", RPC_INVALID_REQUEST,
		      "id must be", NULL);
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}", RPC_INVALID_REQUEST,
		      "id must be", NULL);
	/* method. */
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", RPC_INVALID_REQUEST,
		      "method must be a string", "1");
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":null}", RPC_INVALID_REQUEST,
		      "method must be a string", "1");
	expect_reject("{\"jsonrpc\":\"2.0\",\"method\":[\"m\"]}", RPC_INVALID_REQUEST,
		      "method must be a string", NULL);
	/* params. */
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":[1,2]}",
		      RPC_INVALID_REQUEST, "params must be an object", "1");
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":\"x\"}",
		      RPC_INVALID_REQUEST, "params must be an object", "1");
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":null}",
		      RPC_INVALID_REQUEST, "params must be an object", "1");
	expect_reject("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":7}", RPC_INVALID_REQUEST,
		      "params must be an object", NULL);
	/* A request with a result or an error. */
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"result\":{}}",
		      RPC_INVALID_REQUEST, "no result or error", "1");
	expect_reject("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"error\":{\"code\":1}}",
		      RPC_INVALID_REQUEST, "no result or error", NULL);
	/* Responses. */
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{\"code\":1,"
		      "\"message\":\"x\"}}", RPC_INVALID_REQUEST, NULL, "1");
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1}", RPC_INVALID_REQUEST, "neither", "1");
	expect_reject("{\"jsonrpc\":\"2.0\"}", RPC_INVALID_REQUEST, "neither", NULL);
	expect_reject("{\"jsonrpc\":\"2.0\",\"result\":{}}", RPC_INVALID_REQUEST, "neither", NULL);
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":\"bad\"}", RPC_INVALID_REQUEST,
		      "malformed error", "1");
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"message\":\"x\"}}",
		      RPC_INVALID_REQUEST, "malformed error", "1");
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":\"1\"}}",
		      RPC_INVALID_REQUEST, "malformed error", "1");
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1.5}}",
		      RPC_INVALID_REQUEST, "malformed error", "1");
	expect_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":null}", RPC_INVALID_REQUEST,
		      "malformed error", "1");
}

/* The reason given for a parse error is sent back to the client inside the
 * error response, so it must be valid UTF-8 whatever the input was: jansson
 * quotes the text near the error, and a cut multi-byte character there
 * made rpc_error_line refuse the reason, so the client got no answer at
 * all.  (A typo like "C:\Élise" in a path is enough.) */
static void test_parse_error_reason_is_utf8(void **state)
{
	static const char *const inputs[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":{\"path\":\"C:\\\xc3\x89lise\"}}",
		"{\"\\u00\xd0\x96\":1}",
		"{\"id\":1,\"x\":\"\\ud83d\\ude0\xd0\x97\"}",
		"{\"id\":tru\xc3\xa9}",
		"{\"id\":1,\"x\":\"\xff\"}",
	};

	for (size_t i = 0; i < MG_ARRAY_LEN(inputs); i++) {
		struct mg_buf b;
		struct parsed p;
		int rc;

		parse(&p, inputs[i]);
		assert_int_equal(p.rc, RPC_PARSE_ERROR);
		mg_buf_init(&b, 4096);
		rc = rpc_error_line(&b, NULL, 0, p.rc, p.why, NULL);
		mg_buf_release(&b);
		if (rc != 0)
			fail_msg("input #%zu: no error response can carry the reason '%s' (rc %d)", i,
				 p.why, rc);
		parsed_free(&p);
	}
}

/* jansson drops a NUL byte right after a number or literal, so it accepted
 * {"jsonrpc":"2.0","method":"m","a":1<NUL>,"id":5} as a request with id 5
 * while the span scanner could not find the id: the message was classified
 * as a request with an empty id span, and the gateway then spliced its own
 * id in at offset 0 and answered errors with "id":, (invalid JSON).  Such
 * input must be refused as a parse error, or, if accepted, carry the right
 * id text. */
static void test_parse_nul_byte(void **state)
{
	static const struct {
		const char *t;
		size_t n;
		const char *id;
	} cases[] = {
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"a\":1\0,\"id\":5}", 44, "5" },
		{ "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"a\":null\0,\"id\":\"q\"}", 49, "\"q\"" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":7\0,\"result\":{}}", 37, "7" },
	};

	for (size_t i = 0; i < MG_ARRAY_LEN(cases); i++) {
		struct rpc_msg m;
		char why[128];
		char *id_raw = NULL;
		int rc = rpc_parse(cases[i].t, cases[i].n, &m, why, sizeof(why), &id_raw);

		assert_int_equal(memchr(cases[i].t, '\0', cases[i].n) != NULL, 1);
		if (rc == 0) {
			size_t n;
			const char *id = rpc_id_raw(&m, &n);
			bool ok = n == strlen(cases[i].id) && memcmp(id, cases[i].id, n) == 0;

			rpc_msg_release(&m);
			free(id_raw);
			if (!ok)
				fail_msg("case %zu: accepted with id text '%.*s', expected '%s'", i,
					 (int)n, id, cases[i].id);
		} else {
			free(id_raw);
			assert_int_equal(rc, RPC_PARSE_ERROR);
		}
	}
}

static void test_parse_small_why(void **state)
{
	struct rpc_msg m;
	char why[8];
	char *id_raw;
	const char *t = "[1]";

	memset(why, 'x', sizeof(why));
	assert_int_equal(rpc_parse(t, strlen(t), &m, why, sizeof(why), &id_raw),
			 RPC_INVALID_REQUEST);
	assert_int_equal(strlen(why), sizeof(why) - 1);
	assert_null(id_raw);
	t = "{";
	assert_int_equal(rpc_parse(t, strlen(t), &m, why, sizeof(why), &id_raw), RPC_PARSE_ERROR);
	assert_int_equal(strlen(why), sizeof(why) - 1);
}

static void test_parse_len_bound(void **state)
{
	/* Only len bytes are read; what follows may be anything. */
	static const char text[] = "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"ping\"}{garbage";
	size_t len = strlen(text) - strlen("{garbage");
	struct rpc_msg m;
	char why[64];
	char *id_raw;
	size_t n;
	const char *id;

	assert_int_equal(rpc_parse(text, len, &m, why, sizeof(why), &id_raw), 0);
	assert_int_equal(m.kind, RPC_REQUEST);
	id = rpc_id_raw(&m, &n);
	assert_int_equal(n, 2);
	assert_memory_equal(id, "12", 2);
	free(id_raw);
	rpc_msg_release(&m);
	assert_null(m.root);
	/* Release twice is harmless. */
	rpc_msg_release(&m);
}

/* ======================================================================
 * line builders
 * ====================================================================== */

/* The line (with its newline) is a valid JSON object; returns it parsed. */
static json_t *line_json(const struct mg_buf *b, size_t from)
{
	json_error_t err;
	json_t *v;

	assert_true(b->len > from);
	assert_int_equal(b->data[b->len - 1], '\n');
	assert_null(memchr(b->data + from, '\n', b->len - from - 1));
	v = json_loadb(b->data + from, b->len - from - 1, JSON_REJECT_DUPLICATES, &err);
	if (!v)
		fail_msg("not JSON (%s): %s", err.text, b->data + from);
	return v;
}

static void test_error_line(void **state)
{
	struct mg_buf b;
	json_t *v, *data;

	mg_buf_init(&b, 4096);
	assert_int_equal(rpc_error_line(&b, "7", 1, RPC_METHOD_NOT_FOUND, "Method not found", NULL),
			 0);
	assert_string_equal(b.data, "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32601,"
				    "\"message\":\"Method not found\"}}\n");
	mg_buf_reset(&b);

	/* No id: null. */
	assert_int_equal(rpc_error_line(&b, NULL, 0, RPC_PARSE_ERROR, "bad", NULL), 0);
	assert_string_equal(b.data, "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,"
				    "\"message\":\"bad\"}}\n");
	mg_buf_reset(&b);

	/* The id bytes are copied exactly; the message is escaped; data is added. */
	data = json_pack("{s:s,s:i}", "reason", "x\"y", "n", 3);
	assert_int_equal(rpc_error_line(&b, "\"a\\u0041\\\"\"", 11, MCP_RESOURCE_NOT_FOUND,
					"line1\nline2 \"quoted\" \\ é", data), 0);
	assert_true(mg_starts_with(b.data, "{\"jsonrpc\":\"2.0\",\"id\":\"a\\u0041\\\"\","));
	v = line_json(&b, 0);
	assert_string_equal(json_string_value(json_object_get(v, "id")), "aA\"");
	{
		json_t *e = json_object_get(v, "error");
		assert_int_equal(json_integer_value(json_object_get(e, "code")), -32002);
		assert_string_equal(json_string_value(json_object_get(e, "message")),
				    "line1\nline2 \"quoted\" \\ é");
		assert_true(json_equal(json_object_get(e, "data"), data));
	}
	json_decref(v);
	json_decref(data);

	/* Appends after existing content. */
	mg_buf_reset(&b);
	mg_buf_adds(&b, "prev\n");
	assert_int_equal(rpc_error_line(&b, "1", 1, RPC_INTERNAL_ERROR, "x", NULL), 0);
	assert_true(mg_starts_with(b.data, "prev\n{"));
	v = line_json(&b, 5);
	json_decref(v);
	mg_buf_release(&b);
}

static void test_error_line_roundtrip(void **state)
{
	/* An error line for a parsed request is a response the parser accepts,
	 * with the same id text. */
	static const char *const reqs[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":9007199254740993,\"method\":\"m\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":\"x\\\"y\",\"method\":\"m\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":\"\\ud83d\\ude00\",\"method\":\"m\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":-1,\"method\":\"m\"}",
	};

	for (size_t i = 0; i < MG_ARRAY_LEN(reqs); i++) {
		struct parsed req, resp;
		struct mg_buf b;
		size_t n;
		const char *id = NULL;
		char *id2;

		parse(&req, reqs[i]);
		assert_int_equal(req.rc, 0);
		id = rpc_id_raw(&req.m, &n);
		mg_buf_init(&b, 4096);
		assert_int_equal(rpc_error_line(&b, id, n, RPC_INVALID_PARAMS, "bad params", NULL), 0);
		b.data[--b.len] = '\0'; /* drop the newline */
		parse(&resp, b.data);
		assert_int_equal(resp.rc, 0);
		assert_int_equal(resp.m.kind, RPC_RESPONSE);
		assert_true(resp.m.is_error);
		assert_true(json_equal(resp.m.id, req.m.id));
		id2 = id_text(&resp.m);
		assert_int_equal(strlen(id2), n);
		assert_memory_equal(id2, id, n);
		free(id2);
		parsed_free(&resp);
		parsed_free(&req);
		mg_buf_release(&b);
	}
}

static void test_error_line_bad_message(void **state)
{
	struct mg_buf b;

	mg_buf_init(&b, 4096);
	mg_buf_adds(&b, "keep");
	assert_true(rpc_error_line(&b, "1", 1, -1, "bad \xff utf8", NULL) != 0);
	assert_int_equal(b.len, 4);
	mg_buf_release(&b);
}

/* When a builder fails, the buffer must be exactly as before: the same
 * length and, as struct mg_buf promises, NUL-terminated there. */
static void test_builders_restore_buffer_on_failure(void **state)
{
	struct mg_buf b;
	json_t *big = json_pack("{s:s}", "k", "a value that does not fit in the small cap");
	int rcs[3];
	size_t strlens[3];

	mg_buf_init(&b, 48);
	mg_buf_adds(&b, "keep");
	rcs[0] = rpc_error_line(&b, "1", 1, -32603, "a message that is too long to fit",
					 NULL);
	strlens[0] = strlen(b.data);
	rcs[1] = rpc_result_line(&b, "1", 1, big);
	strlens[1] = strlen(b.data);
	rcs[2] = rpc_request_line(&b, "1", 1, "tools/call", big);
	strlens[2] = strlen(b.data);
	json_decref(big);
	assert_int_equal(b.len, 4);
	mg_buf_release(&b);
	for (int i = 0; i < 3; i++) {
		assert_true(rcs[i] < 0);
		if (strlens[i] != 4)
			fail_msg("builder %d left %zu bytes of text in a 4-byte buffer", i, strlens[i]);
	}
}

static void test_result_line(void **state)
{
	struct mg_buf b;
	json_t *r = json_pack("{s:[]}", "tools");
	json_t *v;

	mg_buf_init(&b, 4096);
	assert_int_equal(rpc_result_line(&b, "\"id-1\"", 6, r), 0);
	assert_string_equal(b.data, "{\"jsonrpc\":\"2.0\",\"id\":\"id-1\",\"result\":{\"tools\":[]}}\n");
	mg_buf_reset(&b);
	assert_int_equal(rpc_result_line(&b, NULL, 0, r), 0);
	v = line_json(&b, 0);
	assert_true(json_is_null(json_object_get(v, "id")));
	json_decref(v);
	mg_buf_reset(&b);
	/* Exact big-number id. */
	assert_int_equal(rpc_result_line(&b, "9007199254740993", 16, r), 0);
	assert_non_null(strstr(b.data, "\"id\":9007199254740993,"));
	v = line_json(&b, 0);
	json_decref(v);
	json_decref(r);
	mg_buf_release(&b);
}

static void test_request_line(void **state)
{
	struct mg_buf b;
	json_t *params = json_pack("{s:s}", "level", "info");
	struct parsed p;

	mg_buf_init(&b, 4096);
	assert_int_equal(rpc_request_line(&b, "5", 1, "logging/setLevel", params), 0);
	assert_string_equal(b.data, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"logging/setLevel\","
				    "\"params\":{\"level\":\"info\"}}\n");
	b.data[--b.len] = '\0';
	parse(&p, b.data);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.m.kind, RPC_REQUEST);
	parsed_free(&p);
	mg_buf_reset(&b);

	/* Notification without params. */
	assert_int_equal(rpc_request_line(&b, NULL, 0, "notifications/initialized", NULL), 0);
	assert_string_equal(b.data,
			    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
	b.data[--b.len] = '\0';
	parse(&p, b.data);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.m.kind, RPC_NOTIFICATION);
	parsed_free(&p);
	mg_buf_reset(&b);

	/* A method name that needs escaping. */
	assert_int_equal(rpc_request_line(&b, "\"s\"", 3, "a\"b\\c", NULL), 0);
	assert_string_equal(b.data, "{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"a\\\"b\\\\c\"}\n");
	mg_buf_reset(&b);
	/* Invalid UTF-8 method: refused, buffer unchanged. */
	mg_buf_adds(&b, "keep");
	assert_true(rpc_request_line(&b, "1", 1, "bad\xff", NULL) < 0);
	assert_int_equal(b.len, 4);
	json_decref(params);
	mg_buf_release(&b);
}

/* ======================================================================
 * lines framer
 * ====================================================================== */

struct rec {
	char *lines[256];
	size_t lens[256];
	size_t n;
	size_t oversize;
	size_t oversize_max;
	size_t stop_after_lines;        /* return 1 from on_line after this many */
	size_t stop_after_oversize;
	struct rpc_lines *l;
};

static int rec_line(void *ctx, const char *line, size_t len)
{
	struct rec *r = ctx;

	assert_true(r->n < MG_ARRAY_LEN(r->lines));
	assert_null(memchr(line, '\n', len));
	assert_true(len > 0);
	assert_true(len <= r->l->partial.max);
	r->lines[r->n] = mg_memdup0(line, len);
	r->lens[r->n] = len;
	r->n++;
	return r->stop_after_lines && r->n >= r->stop_after_lines;
}

static int rec_oversize(void *ctx, size_t max)
{
	struct rec *r = ctx;

	r->oversize++;
	r->oversize_max = max;
	return r->stop_after_oversize && r->oversize >= r->stop_after_oversize;
}

static const struct rpc_lines_ops rec_ops = { rec_line, rec_oversize };

static void rec_init(struct rec *r, struct rpc_lines *l, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->l = l;
	rpc_lines_init(l, max, &rec_ops, r);
}

static void rec_free(struct rec *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->lines[i]);
	r->n = 0;
	rpc_lines_release(r->l);
}

static void expect_lines(struct rec *r, const char *const *want, size_t n)
{
	if (r->n != n)
		fail_msg("got %zu lines, expected %zu", r->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(r->lines[i], want[i]);
}

#define L(...) ((const char *const[]){ __VA_ARGS__ })

/* Feed text in chunks of the given size (0 = all at once). */
static int feed_chunks(struct rpc_lines *l, const char *text, size_t len, size_t chunk)
{
	int rc = 0;

	if (!chunk)
		return rpc_lines_feed(l, text, len);
	for (size_t i = 0; i < len && !rc; i += chunk)
		rc = rpc_lines_feed(l, text + i, len - i < chunk ? len - i : chunk);
	return rc;
}

static void test_lines_basic(void **state)
{
	struct rpc_lines l;
	struct rec r;

	for (size_t chunk = 0; chunk <= 7; chunk++) {
		const char *t = "{\"a\":1}\n{\"b\":2}\nlast\n";

		rec_init(&r, &l, 64);
		assert_int_equal(feed_chunks(&l, t, strlen(t), chunk), 0);
		expect_lines(&r, L("{\"a\":1}", "{\"b\":2}", "last"), 3);
		assert_int_equal(r.oversize, 0);
		rec_free(&r);
	}
	/* A line is delivered only once its newline arrives. */
	rec_init(&r, &l, 64);
	assert_int_equal(rpc_lines_feed(&l, "one\ntw", 6), 0);
	expect_lines(&r, L("one"), 1);
	assert_int_equal(rpc_lines_feed(&l, "o", 1), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(rpc_lines_feed(&l, "\nthree", 6), 0);
	expect_lines(&r, L("one", "two"), 2);
	assert_int_equal(rpc_lines_feed(&l, "", 0), 0);
	assert_int_equal(rpc_lines_feed(&l, "\n", 1), 0);
	expect_lines(&r, L("one", "two", "three"), 3);
	rec_free(&r);
}

static void test_lines_byte_by_byte(void **state)
{
	struct rpc_lines l;
	struct rec r;
	const char *t = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n\n"
			"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";

	rec_init(&r, &l, 128);
	for (size_t i = 0; i < strlen(t); i++)
		assert_int_equal(rpc_lines_feed(&l, t + i, 1), 0);
	expect_lines(&r, L("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
			   "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"), 2);
	rec_free(&r);
}

static void test_lines_crlf_and_empty(void **state)
{
	struct rpc_lines l;
	struct rec r;

	for (size_t chunk = 0; chunk <= 3; chunk++) {
		const char *t = "\n\r\n\n a\r\nb\r\r\nc\rd\n\r\n\r\r\n";

		rec_init(&r, &l, 64);
		assert_int_equal(feed_chunks(&l, t, strlen(t), chunk), 0);
		/* Only one trailing CR is removed; inner CRs stay; empty lines
		 * (after the CR is removed) are skipped. */
		expect_lines(&r, L(" a", "b\r", "c\rd", "\r"), 4);
		rec_free(&r);
	}
	/* CR and LF in different chunks. */
	rec_init(&r, &l, 64);
	assert_int_equal(rpc_lines_feed(&l, "xyz\r", 4), 0);
	assert_int_equal(rpc_lines_feed(&l, "\n", 1), 0);
	expect_lines(&r, L("xyz"), 1);
	rec_free(&r);
}

static void test_lines_binary(void **state)
{
	struct rpc_lines l;
	struct rec r;

	rec_init(&r, &l, 64);
	assert_int_equal(rpc_lines_feed(&l, "a\0b\n\0\n", 6), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.lens[0], 3);
	assert_memory_equal(r.lines[0], "a\0b", 3);
	assert_int_equal(r.lens[1], 1);
	rec_free(&r);
}

static void test_lines_cap(void **state)
{
	struct rpc_lines l;
	struct rec r;

	for (size_t chunk = 0; chunk <= 10; chunk++) {
		/* Exactly the cap: accepted. cap+1: reported once, then the next
		 * line is delivered. */
		const char *t = "12345678\n123456789\nok\n";

		rec_init(&r, &l, 8);
		assert_int_equal(feed_chunks(&l, t, strlen(t), chunk), 0);
		expect_lines(&r, L("12345678", "ok"), 2);
		assert_int_equal(r.oversize, 1);
		assert_int_equal(r.oversize_max, 8);
		rec_free(&r);
	}
	/* An exact-cap line ending with CRLF, where the CR is past the cap, is
	 * not asserted either way; one with a CR inside the cap is fine. */
	rec_init(&r, &l, 8);
	assert_int_equal(rpc_lines_feed(&l, "1234567\r\n", 9), 0);
	expect_lines(&r, L("1234567"), 1);
	rec_free(&r);
}

static void test_lines_oversize_many_chunks(void **state)
{
	struct rpc_lines l;
	struct rec r;
	char chunk[10];

	memset(chunk, 'x', sizeof(chunk));
	rec_init(&r, &l, 64);
	assert_int_equal(rpc_lines_feed(&l, "first\nxx", 8), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(rpc_lines_feed(&l, chunk, sizeof(chunk)), 0);
	/* Reported once, as soon as the cap is passed; memory handed back. */
	assert_int_equal(r.oversize, 1);
	assert_true(l.discarding);
	assert_null(l.partial.data);
	assert_int_equal(rpc_lines_feed(&l, "xxx\nok", 6), 0);
	assert_false(l.discarding);
	assert_int_equal(rpc_lines_feed(&l, "\n", 1), 0);
	expect_lines(&r, L("first", "ok"), 2);
	assert_int_equal(r.oversize, 1);
	/* A second oversize line is reported again. */
	for (int i = 0; i < 10; i++)
		assert_int_equal(rpc_lines_feed(&l, chunk, sizeof(chunk)), 0);
	assert_int_equal(rpc_lines_feed(&l, "\nend\n", 5), 0);
	assert_int_equal(r.oversize, 2);
	expect_lines(&r, L("first", "ok", "end"), 3);
	rec_free(&r);

	/* Oversize detected when the newline arrives (partial + tail too big). */
	rec_init(&r, &l, 8);
	assert_int_equal(rpc_lines_feed(&l, "12345", 5), 0);
	assert_int_equal(rpc_lines_feed(&l, "6789\nok\n", 8), 0);
	assert_int_equal(r.oversize, 1);
	expect_lines(&r, L("ok"), 1);
	/* And the partial buffer starts clean afterwards. */
	assert_int_equal(rpc_lines_feed(&l, "ab", 2), 0);
	assert_int_equal(rpc_lines_feed(&l, "c\n", 2), 0);
	expect_lines(&r, L("ok", "abc"), 2);
	rec_free(&r);
}

static void test_lines_stop(void **state)
{
	struct rpc_lines l;
	struct rec r;

	/* Fast path stop. */
	rec_init(&r, &l, 64);
	r.stop_after_lines = 2;
	assert_int_equal(rpc_lines_feed(&l, "a\nb\nc\n", 6), 1);
	expect_lines(&r, L("a", "b"), 2);
	rec_free(&r);
	/* Slow path stop (line completed from the partial buffer). */
	rec_init(&r, &l, 64);
	r.stop_after_lines = 1;
	assert_int_equal(rpc_lines_feed(&l, "ab", 2), 0);
	assert_int_equal(rpc_lines_feed(&l, "c\nd\n", 4), 1);
	expect_lines(&r, L("abc"), 1);
	rec_free(&r);
	/* Oversize stop, fast path and partial path. */
	rec_init(&r, &l, 4);
	r.stop_after_oversize = 1;
	assert_int_equal(rpc_lines_feed(&l, "123456\nok\n", 10), 1);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.oversize, 1);
	rec_free(&r);
	rec_init(&r, &l, 4);
	r.stop_after_oversize = 1;
	assert_int_equal(rpc_lines_feed(&l, "123456", 6), 1);
	assert_int_equal(r.oversize, 1);
	rec_free(&r);
	rec_init(&r, &l, 4);
	r.stop_after_oversize = 1;
	assert_int_equal(rpc_lines_feed(&l, "123", 3), 0);
	assert_int_equal(rpc_lines_feed(&l, "456\nok\n", 7), 1);
	assert_int_equal(r.n, 0);
	rec_free(&r);
}

/* Reference: what a trivially correct framer would deliver. */
static void reference(const char *t, size_t len, size_t cap, struct rec *out)
{
	size_t start = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i <= len; i++) {
		size_t seg;

		if (i < len && t[i] != '\n')
			continue;
		seg = i - start;
		if (seg > cap) {
			out->oversize++;
		} else if (i < len) {
			size_t n = seg;
			if (n && t[start + n - 1] == '\r')
				n--;
			if (n) {
				out->lines[out->n] = mg_memdup0(t + start, n);
				out->lens[out->n] = n;
				out->n++;
			}
		}
		start = i + 1;
	}
}

static void test_lines_random_vs_reference(void **state)
{
	uint64_t x = 0x12345678abcdefull;
	static const char alphabet[] = "ab\r\n\n{\"";

	for (int round = 0; round < 20000; round++) {
		char text[80];
		size_t len, cap, pos = 0;
		struct rpc_lines l;
		struct rec r, ref;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		len = x % sizeof(text);
		cap = 1 + (x >> 8) % 12;
		for (size_t i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			text[i] = alphabet[x % (sizeof(alphabet) - 1)];
		}
		rec_init(&r, &l, cap);
		while (pos < len) {
			size_t n;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			n = 1 + x % 9;
			if (n > len - pos)
				n = len - pos;
			assert_int_equal(rpc_lines_feed(&l, text + pos, n), 0);
			pos += n;
		}
		reference(text, len, cap, &ref);
		if (r.n != ref.n || r.oversize != ref.oversize)
			fail_msg("round %d (cap %zu, '%.*s'): %zu lines/%zu oversize, reference "
				 "%zu/%zu", round, cap, (int)len, text, r.n, r.oversize, ref.n,
				 ref.oversize);
		for (size_t i = 0; i < r.n; i++) {
			assert_int_equal(r.lens[i], ref.lens[i]);
			assert_memory_equal(r.lines[i], ref.lines[i], r.lens[i]);
		}
		for (size_t i = 0; i < ref.n; i++)
			free(ref.lines[i]);
		rec_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_request),
		cmocka_unit_test(test_parse_notification),
		cmocka_unit_test(test_parse_response),
		cmocka_unit_test(test_parse_exact_id_text),
		cmocka_unit_test(test_parse_errors_parse),
		cmocka_unit_test(test_parse_errors_invalid),
		cmocka_unit_test(test_parse_error_reason_is_utf8),
		cmocka_unit_test(test_parse_nul_byte),
		cmocka_unit_test(test_parse_small_why),
		cmocka_unit_test(test_parse_len_bound),
		cmocka_unit_test(test_error_line),
		cmocka_unit_test(test_error_line_roundtrip),
		cmocka_unit_test(test_error_line_bad_message),
		cmocka_unit_test(test_builders_restore_buffer_on_failure),
		cmocka_unit_test(test_result_line),
		cmocka_unit_test(test_request_line),
		cmocka_unit_test(test_lines_basic),
		cmocka_unit_test(test_lines_byte_by_byte),
		cmocka_unit_test(test_lines_crlf_and_empty),
		cmocka_unit_test(test_lines_binary),
		cmocka_unit_test(test_lines_cap),
		cmocka_unit_test(test_lines_oversize_many_chunks),
		cmocka_unit_test(test_lines_stop),
		cmocka_unit_test(test_lines_random_vs_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
