/* Unit tests for src/json: strict parsing and compact dumping, the raw-text
 * span scanner (jx_find, jx_array_each), splicing, quoting and the small
 * accessors; plus a property test that checks the scanner against jansson
 * on randomly generated documents written with random whitespace and
 * random (valid) escaping. */
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
#include "json/jx.h"

/* ---- helpers ---- */

/* Span text of path in raw, as a new string; NULL when jx_find fails
 * (then *rc holds its result). */
static char *find_text(const char *raw, const char *const *path, size_t depth, int *rc)
{
	struct jx_span sp = { 99, 99 };

	*rc = jx_find(raw, strlen(raw), path, depth, &sp);
	if (*rc)
		return NULL;
	assert_true(sp.off + sp.len <= strlen(raw));
	return mg_memdup0(raw + sp.off, sp.len);
}

/* jx_find must succeed with exactly want as the span text. */
static void expect_find(const char *raw, const char *const *path, size_t depth, const char *want)
{
	int rc;
	char *got = find_text(raw, path, depth, &rc);

	if (!got)
		fail_msg("jx_find in %s: rc %d, expected '%s'", raw, rc, want);
	if (strcmp(got, want) != 0) {
		char msg[512];
		snprintf(msg, sizeof(msg), "jx_find in %s: got '%s', expected '%s'", raw, got, want);
		free(got);
		fail_msg("%s", msg);
	}
	free(got);
}

static void expect_find_rc(const char *raw, const char *const *path, size_t depth, int want)
{
	int rc;
	char *got = find_text(raw, path, depth, &rc);

	if (got) {
		char msg[512];
		snprintf(msg, sizeof(msg), "jx_find in %s: got '%s', expected rc %d", raw, got, want);
		free(got);
		fail_msg("%s", msg);
	}
	if (rc != want)
		fail_msg("jx_find in %s: rc %d, expected %d", raw, rc, want);
}

#define P(...) ((const char *const[]){ __VA_ARGS__ })
#define FIND1(raw, k, want) expect_find(raw, P(k), 1, want)

/* ======================================================================
 * parse / dump
 * ====================================================================== */

static void test_parse_strict(void **state)
{
	json_error_t err;
	json_t *v;
	static const char *const bad[] = {
		"{\"a\":1,\"a\":2}",        /* duplicate keys */
		"{\"a\":1} x",              /* trailing data */
		"{\"a\":1}{}",              /* two values */
		"",                         /* nothing */
		"   ",
		"{\"a\":\"\xff\"}",         /* bad UTF-8 */
		"{\"a\":\"\xc3\"}",         /* truncated UTF-8 */
		"{\"a\":\"\\ud800\"}",      /* lone surrogate */
		"{\"a\":99999999999999999999}", /* integer out of range */
		"{\"a\":01}",
		"{\"a\":1,}",
		"{'a':1}",
		"{\"a\":NaN}",
		"[1,2",
	};

	v = jx_parse("{\"a\":1}", 7, &err);
	assert_non_null(v);
	assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
	json_decref(v);
	/* Surrounding whitespace is fine. */
	v = jx_parse(" [42] \n", 7, &err);
	assert_non_null(v);
	assert_true(json_is_array(v));
	json_decref(v);
	/* A message is an object or an array: bare scalars are refused. */
	v = jx_parse("42", 2, &err);
	assert_null(v);
	v = jx_parse("\"s\"", 3, &err);
	assert_null(v);
	/* Length is honoured: the tail past len is not read. */
	v = jx_parse("[1]garbage", 3, &err);
	assert_non_null(v);
	json_decref(v);

	for (size_t i = 0; i < MG_ARRAY_LEN(bad); i++) {
		v = jx_parse(bad[i], strlen(bad[i]), &err);
		if (v) {
			json_decref(v);
			fail_msg("jx_parse accepted %s", bad[i]);
		}
		assert_true(err.text[0] != '\0');
	}
}

/* jansson 2.14 drops a NUL byte that directly follows a number or a
 * literal ("[98\0,55]" loads as [98,55]), but the span scanner stops
 * there, so text jx_parse accepted could not be scanned: a member after
 * the NUL is "not found" although jansson has it.  JSON text never holds a
 * raw NUL, so the strict parser must refuse it (and the scanner then keeps
 * its promise of only seeing text the parser accepted). */
static void test_parse_rejects_nul(void **state)
{
	static const struct {
		const char *t;
		size_t n;
	} cases[] = {
		{ "[98\0,55]", 8 },
		{ "{\"a\":1\0}", 8 },
		{ "{\"a\":1\0,\"id\":5}", 15 },
		{ "{\"a\":true\0,\"id\":5}", 18 },
		{ "[1.5\0]", 6 },
		{ "{\"a\":1}\0", 8 },
		{ "\0{\"a\":1}", 8 },
	};

	for (size_t i = 0; i < MG_ARRAY_LEN(cases); i++) {
		json_error_t err;
		json_t *v = jx_parse(cases[i].t, cases[i].n, &err);

		if (v) {
			json_decref(v);
			fail_msg("jx_parse accepted a NUL byte (case %zu)", i);
		}
	}
}

/* Whatever jx_parse accepts, the scanner must agree with (the regression
 * that test_parse_rejects_nul pins down, seen from the scanner's side). */
static void test_parse_and_scanner_agree_on_nul(void **state)
{
	static const char t[] = "{\"a\":1\0,\"id\":5}";
	json_t *v = jx_parse(t, sizeof(t) - 1, NULL);
	struct jx_span sp;
	int rc;

	if (!v)
		return;         /* refused: nothing to scan */
	json_decref(v);
	rc = jx_find(t, sizeof(t) - 1, P("id"), 1, &sp);
	assert_int_equal(rc, 0);
	assert_int_equal(sp.len, 1);
	assert_int_equal(t[sp.off], '5');
}

static void test_dump(void **state)
{
	json_t *v = json_pack("{s:[i,s,b,n],s:{s:f}}", "a", 1, "é\n", 1, "b", "c", 1.5);
	size_t len;
	char *s = jx_dump(v, &len);
	json_t *back;

	assert_non_null(s);
	assert_int_equal(len, strlen(s));
	/* Compact: no newline, no spaces after separators; UTF-8 kept. */
	assert_null(strchr(s, '\n'));
	assert_null(strstr(s, ": "));
	assert_null(strstr(s, ", "));
	assert_non_null(strstr(s, "\"é\\n\""));
	back = jx_parse(s, len, NULL);
	assert_non_null(back);
	assert_true(json_equal(v, back));
	json_decref(back);
	free(s);

	/* Scalars dump too (JSON_ENCODE_ANY). */
	{
		json_t *i = json_integer(-7);
		s = jx_dump(i, &len);
		assert_string_equal(s, "-7");
		free(s);
		json_decref(i);
	}
	json_decref(v);
}

static void test_dump_buf_cap(void **state)
{
	struct mg_buf b;
	json_t *v = json_pack("{s:s}", "key", "a fairly long value that will not fit");

	mg_buf_init(&b, 16);
	assert_int_equal(mg_buf_adds(&b, "prefix:"), 0);
	assert_int_equal(jx_dump_buf(v, &b), -EMSGSIZE);
	/* Unchanged and still NUL-terminated. */
	assert_int_equal(b.len, 7);
	assert_string_equal(b.data, "prefix:");
	json_decref(v);
	v = json_pack("[i]", 1);
	assert_int_equal(jx_dump_buf(v, &b), 0);
	assert_string_equal(b.data, "prefix:[1]");
	json_decref(v);
	mg_buf_release(&b);
}

/* ======================================================================
 * jx_find
 * ====================================================================== */

static void test_find_basic(void **state)
{
	const char *msg = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
			  "\"params\":{\"name\":\"echo\",\"arguments\":{\"x\":[1,2,{\"y\":null}]},"
			  "\"_meta\":{\"progressToken\":\"tok-1\"}}}";

	FIND1(msg, "jsonrpc", "\"2.0\"");
	FIND1(msg, "id", "7");
	FIND1(msg, "method", "\"tools/call\"");
	FIND1(msg, "params", "{\"name\":\"echo\",\"arguments\":{\"x\":[1,2,{\"y\":null}]},"
			     "\"_meta\":{\"progressToken\":\"tok-1\"}}");
	expect_find(msg, P("params", "name"), 2, "\"echo\"");
	expect_find(msg, P("params", "arguments"), 2, "{\"x\":[1,2,{\"y\":null}]}");
	expect_find(msg, P("params", "arguments", "x"), 3, "[1,2,{\"y\":null}]");
	expect_find(msg, P("params", "_meta", "progressToken"), 3, "\"tok-1\"");
	/* Depth 0: the whole value. */
	expect_find(msg, P("unused"), 0, msg);
	expect_find("[1, 2]  ", P("unused"), 0, "[1, 2]");
	expect_find("\"s\"\n", P("unused"), 0, "\"s\"");
	expect_find("12 ", P("unused"), 0, "12");
}

static void test_find_missing(void **state)
{
	const char *msg = "{\"a\":{\"b\":1},\"c\":[{\"d\":2}],\"s\":\"str\",\"n\":5,\"z\":null}";

	expect_find_rc(msg, P("nope"), 1, -ENOENT);
	expect_find_rc(msg, P("a", "nope"), 2, -ENOENT);
	expect_find_rc(msg, P("a", "b", "c"), 3, -ENOENT);      /* 1 is not an object */
	expect_find_rc(msg, P("c", "d"), 2, -ENOENT);           /* arrays are not searched */
	expect_find_rc(msg, P("s", "x"), 2, -ENOENT);
	expect_find_rc(msg, P("n", "x"), 2, -ENOENT);
	expect_find_rc(msg, P("z", "x"), 2, -ENOENT);
	expect_find_rc(msg, P("b"), 1, -ENOENT);                /* only at its level */
	expect_find_rc(msg, P("d"), 1, -ENOENT);
	expect_find_rc("{}", P("a"), 1, -ENOENT);
	expect_find_rc(" { } ", P("a"), 1, -ENOENT);
	expect_find_rc("{\"a\":{}}", P("a", "b"), 2, -ENOENT);
	/* A key never matches a prefix or an extension of itself. */
	expect_find_rc("{\"idx\":1,\"i\":2}", P("id"), 1, -ENOENT);
	FIND1("{\"idx\":1,\"i\":2,\"id\":3}", "id", "3");
	/* The empty key is a key like any other. */
	FIND1("{\"\":1,\"a\":2}", "", "1");
	expect_find_rc("{\"a\":2}", P(""), 1, -ENOENT);
}

static void test_find_top_not_object(void **state)
{
	/* A top-level value that is not an object cannot be searched. */
	expect_find_rc("[{\"id\":1}]", P("id"), 1, -EINVAL);
	expect_find_rc("\"id\"", P("id"), 1, -EINVAL);
	expect_find_rc("1", P("id"), 1, -EINVAL);
	expect_find_rc("", P("id"), 1, -EINVAL);
	expect_find_rc("   ", P("id"), 1, -EINVAL);
}

static void test_find_nested_same_key(void **state)
{
	/* Only the member at the requested level counts, wherever it sits. */
	FIND1("{\"params\":{\"id\":\"inner\"},\"id\":\"outer\"}", "id", "\"outer\"");
	FIND1("{\"a\":[{\"id\":1},{\"id\":2}],\"id\":3}", "id", "3");
	FIND1("{\"a\":\"\\\"id\\\":9\",\"id\":4}", "id", "4");
	expect_find("{\"x\":{\"y\":{\"id\":1}},\"y\":{\"id\":2}}", P("y", "id"), 2, "2");
	expect_find("{\"x\":{\"y\":{\"id\":1}},\"y\":{\"id\":2}}", P("x", "y", "id"), 3, "1");
}

static void test_find_escaped_keys(void **state)
{
	/* Keys are compared as jansson decodes them. */
	FIND1("{\"\\u0069d\":5}", "id", "5");
	FIND1("{\"i\\u0064\":5}", "id", "5");
	FIND1("{\"\\u0069\\u0064\":5}", "id", "5");
	FIND1("{\"\\u0049D\":1,\"id\":2}", "id", "2");          /* \u0049 is 'I' */
	FIND1("{\"a\\\"b\":1}", "a\"b", "1");
	FIND1("{\"a\\\\b\":1}", "a\\b", "1");
	FIND1("{\"a\\/b\":1}", "a/b", "1");
	FIND1("{\"a\\nb\":1}", "a\nb", "1");
	FIND1("{\"\\b\\f\\n\\r\\t\":1}", "\b\f\n\r\t", "1");
	FIND1("{\"caf\\u00e9\":1}", "café", "1");
	FIND1("{\"caf\\u00E9\":1}", "café", "1");
	FIND1("{\"\\u20ac\":1}", "€", "1");
	FIND1("{\"\\ud83d\\ude00\":1}", "😀", "1");
	FIND1("{\"x\\uD83D\\uDE00y\":1}", "x😀y", "1");
	/* Raw UTF-8 keys match without escapes. */
	FIND1("{\"😀\":1}", "😀", "1");
	/* An escaped key that decodes to something else does not match. */
	expect_find_rc("{\"\\u0069e\":5}", P("id"), 1, -ENOENT);
	expect_find_rc("{\"id\\u0000\":5}", P("id"), 1, -ENOENT);
	expect_find_rc("{\"\\\"id\\\"\":5}", P("id"), 1, -ENOENT);
	/* A key whose raw text equals the name but is escaped differently. */
	expect_find_rc("{\"i\\\\d\":5}", P("id"), 1, -ENOENT);
	/* Escaped keys at several levels of a path. */
	expect_find("{\"\\u0070arams\":{\"n\\u0061me\":\"t\"}}", P("params", "name"), 2, "\"t\"");
}

static void test_find_long_escaped_key(void **state)
{
	/* A long escaped key never matches a short name, and does not stop the
	 * scan of the members after it. */
	struct mg_buf b;

	mg_buf_init(&b, 1 << 16);
	mg_buf_adds(&b, "{\"");
	for (int i = 0; i < 400; i++)
		mg_buf_adds(&b, "\\u0061");
	mg_buf_adds(&b, "\":1,\"id\":2}");
	FIND1(b.data, "id", "2");
	expect_find_rc(b.data, P("a"), 1, -ENOENT);
	mg_buf_release(&b);
}

static void test_find_tricky_values(void **state)
{
	/* Strings holding structure characters, quotes and backslashes. */
	FIND1("{\"a\":\"}\",\"id\":1}", "id", "1");
	FIND1("{\"a\":\"{\",\"id\":1}", "id", "1");
	FIND1("{\"a\":\"]\",\"id\":1}", "id", "1");
	FIND1("{\"a\":\"[[[\",\"id\":1}", "id", "1");
	FIND1("{\"a\":\",\",\"id\":1}", "id", "1");
	FIND1("{\"a\":\":\",\"id\":1}", "id", "1");
	FIND1("{\"a\":\"\\\"\",\"id\":1}", "id", "1");
	FIND1("{\"a\":\"\\\\\",\"id\":1}", "id", "1");
	FIND1("{\"a\":\"\\\\\\\"\",\"id\":1}", "id", "1");
	FIND1("{\"a\":\"x\\\\\",\"id\":\"y\\\\\"}", "id", "\"y\\\\\"");
	FIND1("{\"a\":[\"}\",{\"b\":\"]\"}],\"id\":1}", "id", "1");
	FIND1("{\"a\":{\"\\\"}\":\"{\"},\"id\":1}", "id", "1");
	FIND1("{\"id\":\"x\\\"y\"}", "id", "\"x\\\"y\"");
	FIND1("{\"id\":\"\\u007d\"}", "id", "\"\\u007d\"");
	/* Values of every kind, including at the very end of the object. */
	FIND1("{\"id\":1}", "id", "1");
	FIND1("{\"id\":-0.5e+10}", "id", "-0.5e+10");
	FIND1("{\"id\":1E-3 }", "id", "1E-3");
	FIND1("{\"id\":true}", "id", "true");
	FIND1("{\"id\":false}", "id", "false");
	FIND1("{\"id\":null}", "id", "null");
	FIND1("{\"id\":null\n}", "id", "null");
	FIND1("{\"id\":9007199254740993}", "id", "9007199254740993");
	FIND1("{\"id\":[]}", "id", "[]");
	FIND1("{\"id\":{}}", "id", "{}");
	FIND1("{\"id\":\"\"}", "id", "\"\"");
	FIND1("{\"a\":true,\"id\":2}", "id", "2");
	FIND1("{\"a\":null,\"id\":2}", "id", "2");
	FIND1("{\"a\":-1.25,\"id\":2}", "id", "2");
	/* Whitespace everywhere. */
	FIND1(" \r\n\t{ \"a\" : 1 ,\n\t\"id\"\r\n:\t [ 1 , 2 ] \n}\n ", "id", "[ 1 , 2 ]");
	FIND1("{\"id\" :\"v\" }", "id", "\"v\"");
	/* Deep nesting before the member. */
	{
		struct mg_buf b;

		mg_buf_init(&b, 1 << 20);
		mg_buf_adds(&b, "{\"deep\":");
		for (int i = 0; i < 5000; i++)
			mg_buf_adds(&b, "[{\"k\":");
		mg_buf_adds(&b, "0");
		for (int i = 0; i < 5000; i++)
			mg_buf_adds(&b, "}]");
		mg_buf_adds(&b, ",\"id\":42}");
		FIND1(b.data, "id", "42");
		mg_buf_release(&b);
	}
}

static void test_find_malformed(void **state)
{
	/* Never trusted text: every answer is an error, none is a crash. */
	static const char *const bad[] = {
		"{",
		"{\"",
		"{\"a",
		"{\"a\"",
		"{\"a\":",
		"{\"a\" 1}",
		"{a:1}",
		"{\"a\":\"unterminated}",
		"{\"a\":\"x\\",
		"{\"a\":[1,2}",
		"{\"a\":1 \"id\":2}",
		"{\"a\":{\"b\":1}",
		"{\"a\":[[[[",
		"{\"a\":1,",
		"{\"a\":1,}",
		"{,\"id\":1}",
		"{\"\\u00",
		"{\"\\u00zz\":1}",
		"{\"\\",
	};

	for (size_t i = 0; i < MG_ARRAY_LEN(bad); i++) {
		struct jx_span sp;
		int rc = jx_find(bad[i], strlen(bad[i]), P("id"), 1, &sp);

		if (rc != -EINVAL && rc != -ENOENT)
			fail_msg("jx_find on %s: rc %d", bad[i], rc);
		/* Every prefix of it too. */
		for (size_t n = 0; n < strlen(bad[i]); n++) {
			rc = jx_find(bad[i], n, P("id"), 1, &sp);
			if (rc == 0 && sp.off + sp.len > n)
				fail_msg("span past the end for %.*s", (int)n, bad[i]);
		}
	}
	/* A member found before the damage is still reported (the scanner
	 * only runs on text jansson accepted). */
	FIND1("{\"id\":1,", "id", "1");
}

static void test_find_len_bound(void **state)
{
	/* The scanner reads only len bytes: the text need not be terminated. */
	static const char text[] = "{\"a\":1,\"id\":22}XXXXXXXX";
	struct jx_span sp;

	assert_int_equal(jx_find(text, 15, P("id"), 1, &sp), 0);
	assert_int_equal(sp.off, 12);
	assert_int_equal(sp.len, 2);
	/* Cut inside the value: a number runs to the end of the text. */
	assert_true(jx_find(text, 13, P("id"), 1, &sp) != 0 || sp.off + sp.len <= 13);
	/* Cut before the key. */
	assert_int_equal(jx_find(text, 7, P("id"), 1, &sp), -EINVAL);
}

/* ======================================================================
 * jx_array_each
 * ====================================================================== */

struct collect {
	char *items[64];
	size_t n;
	size_t stop_at;         /* stop with 7 at this index, if non-zero */
	const char *raw;
};

static int collect_cb(void *ctx, size_t index, const struct jx_span *el)
{
	struct collect *c = ctx;

	assert_int_equal(index, c->n);
	assert_true(c->n < MG_ARRAY_LEN(c->items));
	c->items[c->n++] = mg_memdup0(c->raw + el->off, el->len);
	if (c->stop_at && index + 1 == c->stop_at)
		return 7;
	return 0;
}

static void collect_free(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->items[i]);
}

static void expect_elems(const char *raw, const char *const *path, size_t depth,
			 const char *const *want, size_t n)
{
	struct jx_span sp;
	struct collect c;

	memset(&c, 0, sizeof(c));
	c.raw = raw;
	if (depth) {
		assert_int_equal(jx_find(raw, strlen(raw), path, depth, &sp), 0);
	} else {
		sp.off = 0;
		sp.len = strlen(raw);
	}
	assert_int_equal(jx_array_each(raw, &sp, collect_cb, &c), 0);
	assert_int_equal(c.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(c.items[i], want[i]);
	collect_free(&c);
}

static void test_array_each(void **state)
{
	expect_elems("[]", NULL, 0, NULL, 0);
	expect_elems(" [ \n ] ", NULL, 0, NULL, 0);
	expect_elems("[1]", NULL, 0, P("1"), 1);
	expect_elems("[1,2,3]", NULL, 0, P("1", "2", "3"), 3);
	expect_elems("[ 1 ,\n2\t, 3 ]", NULL, 0, P("1", "2", "3"), 3);
	expect_elems("[\"a,b\",\"]\",\"[\",\"\\\"\",\"\\\\\"]", NULL, 0,
		     P("\"a,b\"", "\"]\"", "\"[\"", "\"\\\"\"", "\"\\\\\""), 5);
	expect_elems("[[1,[2]],{\"a\":[3,{\"b\":\"]}\"}]},[],{}]", NULL, 0,
		     P("[1,[2]]", "{\"a\":[3,{\"b\":\"]}\"}]}", "[]", "{}"), 4);
	expect_elems("[true,false,null,-1.5e3,0]", NULL, 0,
		     P("true", "false", "null", "-1.5e3", "0"), 5);
	expect_elems("{\"result\":{\"tools\":[{\"name\":\"a\"},{\"name\":\"b\"}]}}",
		     P("result", "tools"), 2, P("{\"name\":\"a\"}", "{\"name\":\"b\"}"), 2);
}

static void test_array_each_stop_and_errors(void **state)
{
	const char *raw = "[10,20,30,40]";
	struct jx_span sp = { 0, strlen(raw) };
	struct collect c;

	memset(&c, 0, sizeof(c));
	c.raw = raw;
	c.stop_at = 2;
	assert_int_equal(jx_array_each(raw, &sp, collect_cb, &c), 7);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.items[1], "20");
	collect_free(&c);

	/* Not an array, or a broken one. */
	{
		static const char *const bad[] = { "{}", "\"[1]\"", "1", "", "[", "[1,", "[1 2]",
						   "[1,]", "[\"x]", "[{]", "[1}" };

		for (size_t i = 0; i < MG_ARRAY_LEN(bad); i++) {
			struct jx_span s2 = { 0, strlen(bad[i]) };
			int rc;

			memset(&c, 0, sizeof(c));
			c.raw = bad[i];
			rc = jx_array_each(bad[i], &s2, collect_cb, &c);
			collect_free(&c);
			if (rc != -EINVAL)
				fail_msg("jx_array_each on %s: rc %d", bad[i], rc);
		}
	}
	/* Text jansson would refuse: any answer, but within the span. */
	{
		static const char *const odd[] = { "[,1]", "[,]", "[1,,2]", "[:]", "[\"a\":1]" };

		for (size_t i = 0; i < MG_ARRAY_LEN(odd); i++) {
			struct jx_span s2 = { 0, strlen(odd[i]) };

			memset(&c, 0, sizeof(c));
			c.raw = odd[i];
			(void)jx_array_each(odd[i], &s2, collect_cb, &c);
			for (size_t k = 0; k < c.n; k++)
				assert_true(strlen(c.items[k]) <= s2.len);
			collect_free(&c);
		}
	}
	/* The span bounds the scan: a valid array followed by junk. */
	{
		const char *t = "[1,2]]]";
		struct jx_span s3 = { 0, 5 };

		memset(&c, 0, sizeof(c));
		c.raw = t;
		assert_int_equal(jx_array_each(t, &s3, collect_cb, &c), 0);
		assert_int_equal(c.n, 2);
		collect_free(&c);
	}
}

/* ======================================================================
 * jx_splice
 * ====================================================================== */

static void test_splice(void **state)
{
	const char *raw = "{\"id\":7,\"params\":{\"_meta\":{\"progressToken\":\"t\"},\"name\":\"x__y\"}}";
	struct jx_span id, tok, name;
	struct mg_buf out;
	json_t *v;

	assert_int_equal(jx_find(raw, strlen(raw), P("id"), 1, &id), 0);
	assert_int_equal(jx_find(raw, strlen(raw), P("params", "_meta", "progressToken"), 3, &tok), 0);
	assert_int_equal(jx_find(raw, strlen(raw), P("params", "name"), 2, &name), 0);
	{
		struct jx_edit e[] = {
			{ id, "\"client-id\"", 11 },
			{ tok, "123", 3 },
			{ name, "\"y\"", 3 },
		};

		mg_buf_init(&out, 4096);
		assert_int_equal(jx_splice(raw, strlen(raw), e, 3, &out), 0);
		assert_string_equal(out.data, "{\"id\":\"client-id\",\"params\":{\"_meta\":"
					      "{\"progressToken\":123},\"name\":\"y\"}}");
		v = jx_parse(out.data, out.len, NULL);
		assert_non_null(v);
		json_decref(v);
		mg_buf_release(&out);
	}
	/* No edits: a copy. */
	mg_buf_init(&out, 4096);
	assert_int_equal(jx_splice(raw, strlen(raw), NULL, 0, &out), 0);
	assert_string_equal(out.data, raw);
	mg_buf_release(&out);
	/* Appends to what the buffer holds. */
	mg_buf_init(&out, 4096);
	mg_buf_adds(&out, ">>");
	assert_int_equal(jx_splice("abc", 3, NULL, 0, &out), 0);
	assert_string_equal(out.data, ">>abc");
	mg_buf_release(&out);
}

static void test_splice_edges(void **state)
{
	struct mg_buf out;
	const char *raw = "0123456789";

	/* Edits at the very start and end, inserts, adjacent spans, deletes. */
	{
		struct jx_edit e[] = {
			{ { 0, 0 }, "<", 1 },           /* insert at start */
			{ { 0, 2 }, "AB", 2 },          /* replace 01 */
			{ { 2, 1 }, "", 0 },            /* delete 2 (adjacent) */
			{ { 5, 0 }, "+", 1 },           /* insert before 5 */
			{ { 5, 0 }, "-", 1 },           /* second insert at the same place */
			{ { 9, 1 }, "NINE", 4 },        /* replace last */
			{ { 10, 0 }, ">", 1 },          /* insert at end */
		};

		mg_buf_init(&out, 64);
		assert_int_equal(jx_splice(raw, 10, e, MG_ARRAY_LEN(e), &out), 0);
		assert_string_equal(out.data, "<AB34+-5678NINE>");
		mg_buf_release(&out);
	}
	/* Replace everything. */
	{
		struct jx_edit e = { { 0, 10 }, "x", 1 };

		mg_buf_init(&out, 64);
		assert_int_equal(jx_splice(raw, 10, &e, 1, &out), 0);
		assert_string_equal(out.data, "x");
		mg_buf_release(&out);
	}
	/* Output cap. */
	{
		struct jx_edit e = { { 3, 1 }, "a long replacement", 18 };

		mg_buf_init(&out, 20);
		assert_int_equal(jx_splice(raw, 10, &e, 1, &out), -EMSGSIZE);
		mg_buf_release(&out);
		mg_buf_init(&out, 27);
		assert_int_equal(jx_splice(raw, 10, &e, 1, &out), 0);
		assert_int_equal(out.len, 27);
		mg_buf_release(&out);
	}
}

static void test_splice_bad_edits(void **state)
{
	struct mg_buf out;
	const char *raw = "0123456789";
	static const struct {
		struct jx_edit e[2];
		size_t n;
	} bad[] = {
		/* overlapping */
		{ { { { 2, 4 }, "a", 1 }, { { 4, 2 }, "b", 1 } }, 2 },
		/* unsorted */
		{ { { { 6, 1 }, "a", 1 }, { { 2, 1 }, "b", 1 } }, 2 },
		/* past the end */
		{ { { { 9, 2 }, "a", 1 } }, 1 },
		{ { { { 11, 0 }, "a", 1 } }, 1 },
		/* the second one overlaps an insert-less replace */
		{ { { { 0, 10 }, "a", 1 }, { { 9, 0 }, "b", 1 } }, 2 },
	};

	for (size_t i = 0; i < MG_ARRAY_LEN(bad); i++) {
		mg_buf_init(&out, 1024);
		if (jx_splice(raw, 10, bad[i].e, bad[i].n, &out) != -EINVAL)
			fail_msg("bad edit set %zu accepted", i);
		mg_buf_release(&out);
	}
}

/* A span whose end overflows size_t must be refused as invalid, not
 * passed on to memcpy with a huge length. */
static void test_splice_span_overflow(void **state)
{
	struct mg_buf out;
	const char *raw = "0123456789";
	struct jx_edit e = { { SIZE_MAX, 2 }, "x", 1 };
	int rc;

	mg_buf_init(&out, 1024);
	rc = jx_splice(raw, 10, &e, 1, &out);
	mg_buf_release(&out);
	assert_int_equal(rc, -EINVAL);
}

/* ======================================================================
 * jx_quote
 * ====================================================================== */

static void expect_quote(const char *s, size_t n, const char *want)
{
	struct mg_buf b;

	mg_buf_init(&b, 1024);
	assert_int_equal(jx_quote(s, n, &b), 0);
	assert_string_equal(b.data, want);
	assert_int_equal(b.len, strlen(want));
	mg_buf_release(&b);
}

static void test_quote(void **state)
{
	struct mg_buf b;

	expect_quote("", 0, "\"\"");
	expect_quote("plain", 5, "\"plain\"");
	expect_quote("a\"b\\c/d", 7, "\"a\\\"b\\\\c/d\"");
	expect_quote("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
	expect_quote("\x01\x1f", 2, "\"\\u0001\\u001F\"");
	expect_quote("\x7f", 1, "\"\x7f\"");
	/* UTF-8 is kept as is. */
	expect_quote("café €😀", strlen("café €😀"), "\"café €😀\"");
	/* Embedded NUL (explicit length). */
	expect_quote("a\0b", 3, "\"a\\u0000b\"");
	/* Only n bytes are quoted. */
	expect_quote("abcdef", 3, "\"abc\"");

	/* Invalid UTF-8 is refused and the buffer is left alone. */
	{
		static const char *const bad[] = {
			"\xff", "\xc3", "\xc3\x28", "\xe2\x82", "\xed\xa0\x80" /* surrogate */,
			"\xc0\xaf" /* overlong */, "\xf4\x90\x80\x80" /* > U+10FFFF */, "ok\x80",
		};

		mg_buf_init(&b, 1024);
		mg_buf_adds(&b, "keep");
		for (size_t i = 0; i < MG_ARRAY_LEN(bad); i++) {
			if (jx_quote(bad[i], strlen(bad[i]), &b) != -EINVAL)
				fail_msg("jx_quote accepted bad UTF-8 #%zu", i);
			assert_string_equal(b.data, "keep");
		}
		/* A cut in the middle of a character is invalid too. */
		assert_int_equal(jx_quote("é", 1, &b), -EINVAL);
		assert_string_equal(b.data, "keep");
		mg_buf_release(&b);
	}
	/* Cap. */
	mg_buf_init(&b, 6);
	mg_buf_adds(&b, "ab");
	assert_int_equal(jx_quote("xyz", 3, &b), -EMSGSIZE);
	assert_string_equal(b.data, "ab");
	assert_int_equal(jx_quote("xy", 2, &b), 0);
	assert_string_equal(b.data, "ab\"xy\"");
	mg_buf_release(&b);
}

static void test_quote_roundtrip(void **state)
{
	/* Whatever is quoted parses back to the same bytes. */
	char s[256];
	struct mg_buf b;

	for (int i = 1; i < 128; i++)
		s[i - 1] = (char)i;
	s[127] = '\0';
	mg_buf_init(&b, 4096);
	assert_int_equal(jx_quote(s, 127, &b), 0);
	{
		json_t *v = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);

		assert_non_null(v);
		assert_true(json_is_string(v));
		assert_int_equal(json_string_length(v), 127);
		assert_memory_equal(json_string_value(v), s, 127);
		json_decref(v);
	}
	mg_buf_release(&b);
}

/* ======================================================================
 * accessors
 * ====================================================================== */

static void test_accessors(void **state)
{
	json_t *o = json_pack("{s:s,s:{},s:[],s:b,s:b,s:i,s:n}", "s", "str", "o", "a", "t", 1,
			      "f", 0, "i", 3, "z");
	json_t *arr = json_array();

	assert_string_equal(jx_str(o, "s"), "str");
	assert_null(jx_str(o, "o"));
	assert_null(jx_str(o, "missing"));
	assert_null(jx_str(NULL, "s"));
	assert_null(jx_str(arr, "s"));
	assert_ptr_equal(jx_obj(o, "o"), json_object_get(o, "o"));
	assert_null(jx_obj(o, "a"));
	assert_null(jx_obj(o, "z"));
	assert_null(jx_obj(NULL, "o"));
	assert_ptr_equal(jx_arr(o, "a"), json_object_get(o, "a"));
	assert_null(jx_arr(o, "o"));
	assert_null(jx_arr(NULL, "a"));
	assert_true(jx_bool(o, "t", false));
	assert_false(jx_bool(o, "f", true));
	assert_true(jx_bool(o, "i", true));     /* not a boolean: default */
	assert_false(jx_bool(o, "i", false));
	assert_true(jx_bool(o, "missing", true));
	assert_true(jx_bool(NULL, "t", true));
	assert_false(jx_bool(o, "z", false));
	json_decref(arr);
	json_decref(o);
}

/* ======================================================================
 * property test: the scanner agrees with jansson
 * ====================================================================== */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static unsigned rndn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* Pieces that keys and strings are made of: structure characters, escapes
 * that must happen, multi-byte UTF-8. */
static const char *const pieces[] = {
	"a", "b", "id", "x", "Z", "0", " ", "\"", "\\", "/", "{", "}", "[", "]", ":", ",",
	"\n", "\t", "\x01", "\x1f", "\x7f", "é", "€", "😀", "\\u", "'", "method", "params",
};

static json_t *gen_string(void)
{
	struct mg_buf b;
	unsigned n = rndn(6);
	json_t *s;

	mg_buf_init(&b, 1024);
	for (unsigned i = 0; i < n; i++)
		mg_buf_adds(&b, pieces[rndn(MG_ARRAY_LEN(pieces))]);
	s = json_stringn(b.data ? b.data : "", b.len);
	mg_buf_release(&b);
	assert_non_null(s);
	return s;
}

static json_t *gen_value(int depth)
{
	unsigned kind = rndn(depth > 3 ? 6 : 8);

	switch (kind) {
	case 0:
		return json_null();
	case 1:
		return json_boolean(rndn(2));
	case 2: {
		static const json_int_t edge[] = { 0, -1, 1, INT64_MAX, INT64_MIN, 9007199254740993LL };
		return json_integer(rndn(3) ? (json_int_t)(rnd() >> (1 + rndn(63))) * (rndn(2) ? 1 : -1)
					    : edge[rndn(MG_ARRAY_LEN(edge))]);
	}
	case 3: {
		double d = (double)(int64_t)rnd() / (double)(1ull << rndn(63));
		return json_real(d);
	}
	case 4:
	case 5:
		return gen_string();
	case 6: {
		json_t *a = json_array();
		unsigned n = rndn(5);
		for (unsigned i = 0; i < n; i++)
			json_array_append_new(a, gen_value(depth + 1));
		return a;
	}
	default: {
		json_t *o = json_object();
		unsigned n = rndn(6);
		for (unsigned i = 0; i < n; i++) {
			json_t *k = gen_string();
			json_object_set_new(o, json_string_value(k), gen_value(depth + 1));
			json_decref(k);
		}
		return o;
	}
	}
}

static void emit_ws(struct mg_buf *b)
{
	static const char *const ws[] = { "", "", "", " ", "\t", "\n", "\r\n", "  \n\t" };

	mg_buf_adds(b, ws[rndn(MG_ARRAY_LEN(ws))]);
}

static void emit_u(struct mg_buf *b, unsigned cp)
{
	mg_buf_addf(b, rndn(2) ? "\\u%04x" : "\\u%04X", cp);
}

/* Decode one UTF-8 sequence (the input is valid). */
static unsigned utf8_next(const unsigned char **pp)
{
	const unsigned char *p = *pp;
	unsigned cp;

	if (p[0] < 0x80) {
		cp = p[0];
		*pp += 1;
	} else if (p[0] < 0xe0) {
		cp = ((p[0] & 0x1fu) << 6) | (p[1] & 0x3fu);
		*pp += 2;
	} else if (p[0] < 0xf0) {
		cp = ((p[0] & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) | (p[2] & 0x3fu);
		*pp += 3;
	} else {
		cp = ((p[0] & 0x07u) << 18) | ((p[1] & 0x3fu) << 12) | ((p[2] & 0x3fu) << 6) |
		     (p[3] & 0x3fu);
		*pp += 4;
	}
	return cp;
}

/* A string written with a random choice among the valid spellings of each
 * character. */
static void emit_string(struct mg_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	mg_buf_addc(b, '"');
	while (p < end) {
		const unsigned char *start = p;
		unsigned cp = utf8_next(&p);
		bool esc = rndn(4) == 0;

		if (cp == '"' || cp == '\\') {
			if (esc)
				emit_u(b, cp);
			else
				mg_buf_addf(b, "\\%c", (char)cp);
		} else if (cp < 0x20) {
			static const char ctl[] = "\b\f\n\r\t", letter[] = "bfnrt";
			const char *shorts = cp ? strchr(ctl, (int)cp) : NULL;

			if (shorts && !esc)
				mg_buf_addf(b, "\\%c", letter[shorts - ctl]);
			else
				emit_u(b, cp);
		} else if (cp == '/' && esc) {
			mg_buf_adds(b, rndn(2) ? "\\/" : "\\u002f");
		} else if (esc && cp >= 0x10000) {
			unsigned v = cp - 0x10000;
			emit_u(b, 0xd800 + (v >> 10));
			emit_u(b, 0xdc00 + (v & 0x3ff));
		} else if (esc) {
			emit_u(b, cp);
		} else {
			mg_buf_add(b, start, (size_t)(p - start));
		}
	}
	mg_buf_addc(b, '"');
}

static void emit_value(struct mg_buf *b, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *x;
		bool first = true;

		mg_buf_addc(b, '{');
		emit_ws(b);
		json_object_foreach((json_t *)(uintptr_t)v, k, x) {
			if (!first) {
				mg_buf_addc(b, ',');
				emit_ws(b);
			}
			first = false;
			emit_string(b, k, strlen(k));
			emit_ws(b);
			mg_buf_addc(b, ':');
			emit_ws(b);
			emit_value(b, x);
			emit_ws(b);
		}
		mg_buf_addc(b, '}');
		break;
	}
	case JSON_ARRAY:
		mg_buf_addc(b, '[');
		emit_ws(b);
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i) {
				mg_buf_addc(b, ',');
				emit_ws(b);
			}
			emit_value(b, json_array_get(v, i));
			emit_ws(b);
		}
		mg_buf_addc(b, ']');
		break;
	case JSON_STRING:
		emit_string(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		mg_buf_addf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL: {
		char num[64];

		snprintf(num, sizeof(num), rndn(2) ? "%.17g" : "%.17e", json_real_value(v));
		mg_buf_adds(b, num);
		if (!strpbrk(num, ".eE"))
			mg_buf_adds(b, ".0");
		break;
	}
	case JSON_TRUE:
		mg_buf_adds(b, "true");
		break;
	case JSON_FALSE:
		mg_buf_adds(b, "false");
		break;
	case JSON_NULL:
	default:
		mg_buf_adds(b, "null");
		break;
	}
}

static void check_span(const char *raw, size_t off, size_t len, const json_t *want);

struct each_ctx {
	const char *raw;
	const json_t *arr;
	size_t n;
};

static int each_check(void *ctx, size_t index, const struct jx_span *el)
{
	struct each_ctx *c = ctx;

	assert_int_equal(index, c->n);
	assert_true(index < json_array_size(c->arr));
	check_span(c->raw, el->off, el->len, json_array_get(c->arr, index));
	c->n++;
	return 0;
}

/* The text at raw[off, off+len) is the JSON value want; check it and,
 * recursively, every member and element the scanner can find in it. */
static void check_span(const char *raw, size_t off, size_t len, const json_t *want)
{
	const char *text = raw + off;
	json_error_t err;
	json_t *got = json_loadb(text, len, JSON_DECODE_ANY, &err);

	if (!got || !json_equal(got, want))
		fail_msg("span '%.*s' does not parse to the expected value (%s)", (int)len, text,
			 got ? "differs" : err.text);
	json_decref(got);
	/* No whitespace at the edges of a span. */
	assert_true(len > 0);
	assert_true(!strchr(" \t\r\n", text[0]) && !strchr(" \t\r\n", text[len - 1]));

	if (json_is_object(want)) {
		const char *k;
		json_t *x;
		struct jx_span sp;

		json_object_foreach((json_t *)(uintptr_t)want, k, x) {
			const char *path[2] = { k, NULL };

			if (jx_find(text, len, path, 1, &sp) != 0)
				fail_msg("key '%s' not found in '%.*s'", k, (int)len, text);
			assert_true(sp.off + sp.len <= len);
			check_span(text, sp.off, sp.len, x);
			/* Two-step paths agree with one step at a time. */
			if (json_is_object(x)) {
				const char *k2;
				json_t *x2;

				json_object_foreach(x, k2, x2) {
					struct jx_span sp2, sp3;

					path[1] = k2;
					assert_int_equal(jx_find(text, len, path, 2, &sp2), 0);
					assert_int_equal(jx_find(text + sp.off, sp.len, &path[1], 1, &sp3), 0);
					assert_int_equal(sp2.off, sp.off + sp3.off);
					assert_int_equal(sp2.len, sp3.len);
				}
			}
		}
		/* A key that is not there. */
		{
			const char *missing[] = { "\x01missing" };
			assert_int_equal(jx_find(text, len, missing, 1, &sp), -ENOENT);
		}
	} else if (json_is_array(want)) {
		struct each_ctx c = { text, want, 0 };
		struct jx_span all = { 0, len };

		assert_int_equal(jx_array_each(text, &all, each_check, &c), 0);
		assert_int_equal(c.n, json_array_size(want));
	}
}

static void test_property_scanner_vs_jansson(void **state)
{
	const int rounds = 3000;

	for (int r = 0; r < rounds; r++) {
		json_t *doc = json_object();
		unsigned n = 1 + rndn(8);
		struct mg_buf b;
		json_t *parsed;
		json_error_t err;

		for (unsigned i = 0; i < n; i++) {
			json_t *k = gen_string();
			json_object_set_new(doc, json_string_value(k), gen_value(0));
			json_decref(k);
		}
		mg_buf_init(&b, 1 << 22);
		emit_ws(&b);
		emit_value(&b, doc);
		emit_ws(&b);
		/* The generator writes valid JSON for the same document. */
		parsed = jx_parse(b.data, b.len, &err);
		if (!parsed || !json_equal(parsed, doc))
			fail_msg("generator bug (round %d): %s: %s", r, parsed ? "differs" : err.text,
				 b.data);
		json_decref(parsed);
		{
			size_t lead = strspn(b.data, " \t\r\n");
			size_t trail = b.len;

			while (trail > lead && strchr(" \t\r\n", b.data[trail - 1]))
				trail--;
			check_span(b.data, lead, trail - lead, doc);
		}
		/* And jansson's own compact and indented spellings. */
		{
			static const size_t flags[] = { JSON_COMPACT, JSON_INDENT(2) | JSON_SORT_KEYS,
							JSON_ENSURE_ASCII | JSON_ESCAPE_SLASH,
							JSON_INDENT(1) | JSON_ENSURE_ASCII };
			char *s = json_dumps(doc, flags[rndn(MG_ARRAY_LEN(flags))]);

			assert_non_null(s);
			check_span(s, 0, strlen(s), doc);
			free(s);
		}
		mg_buf_release(&b);
		json_decref(doc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_strict),
		cmocka_unit_test(test_parse_rejects_nul),
		cmocka_unit_test(test_parse_and_scanner_agree_on_nul),
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_dump_buf_cap),
		cmocka_unit_test(test_find_basic),
		cmocka_unit_test(test_find_missing),
		cmocka_unit_test(test_find_top_not_object),
		cmocka_unit_test(test_find_nested_same_key),
		cmocka_unit_test(test_find_escaped_keys),
		cmocka_unit_test(test_find_long_escaped_key),
		cmocka_unit_test(test_find_tricky_values),
		cmocka_unit_test(test_find_malformed),
		cmocka_unit_test(test_find_len_bound),
		cmocka_unit_test(test_array_each),
		cmocka_unit_test(test_array_each_stop_and_errors),
		cmocka_unit_test(test_splice),
		cmocka_unit_test(test_splice_edges),
		cmocka_unit_test(test_splice_bad_edits),
		cmocka_unit_test(test_splice_span_overflow),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_quote_roundtrip),
		cmocka_unit_test(test_accessors),
		cmocka_unit_test(test_property_scanner_vs_jansson),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
