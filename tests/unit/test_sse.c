/* Unit tests for src/transport/sse.c, the text/event-stream parser: field
 * syntax, line ends (CRLF, CR, LF, mixed, split across chunks), multi-line
 * data, comments, id and retry, the byte order mark, caps, stopping and
 * restarting.  Every stream is also fed in every two-chunk split and byte
 * by byte, which must give the same events as one feed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"
#include "transport/sse.h"

/* Events as text: "type|id|data" per event, "!field" per oversize, each
 * followed by '\n' (data bytes are printed as they are). */
struct rec {
	struct mg_buf log;
	int n;
	int stop_at;            /* stop (return 9) at this callback; 0 never */
};

static int rec_stop(struct rec *r)
{
	r->n++;
	return r->stop_at && r->n == r->stop_at ? 9 : 0;
}

static int on_event(void *ctx, const struct tp_sse_event *ev)
{
	struct rec *r = ctx;

	assert_int_equal(ev->data[ev->len], '\0');
	assert_int_equal(ev->type[ev->type_len], '\0');
	mg_buf_add(&r->log, ev->type, ev->type_len);
	mg_buf_addf(&r->log, "|%s|", ev->id);
	mg_buf_add(&r->log, ev->data, ev->len);
	mg_buf_addc(&r->log, '\n');
	return rec_stop(r);
}

static int on_oversize(void *ctx, const char *field, size_t max)
{
	struct rec *r = ctx;

	mg_buf_addf(&r->log, "!%s %zu\n", field, max);
	return rec_stop(r);
}

static const struct tp_sse_ops ops = { on_event, on_oversize };

struct run {
	struct tp_sse p;
	struct rec r;
};

static void run_init(struct run *x, size_t max)
{
	memset(x, 0, sizeof(*x));
	mg_buf_init(&x->r.log, 1 << 20);
	tp_sse_init(&x->p, max, &ops, &x->r);
}

static void run_release(struct run *x)
{
	tp_sse_release(&x->p);
	mg_buf_release(&x->r.log);
}

/* Parse text (len bytes) with the cut points given, return the log. */
static char *parse_cut(const char *text, size_t len, size_t max, const size_t *cuts, size_t ncuts,
		       int64_t *retry, char *last_id)
{
	struct run x;
	size_t pos = 0;
	char *out;

	run_init(&x, max);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		assert_int_equal(tp_sse_feed(&x.p, text + pos, end - pos), 0);
		/* memory stays within the cap */
		assert_true(x.p.data.len <= max + 1);
		assert_true(!x.p.data.data || x.p.data.alloc <= max + 2);
		pos = end;
	}
	if (retry)
		*retry = x.p.retry_ms;
	if (last_id)
		snprintf(last_id, TP_SSE_ID_MAX + 1, "%s", x.p.last_id);
	out = mg_buf_detach(&x.r.log, NULL);
	run_release(&x);
	return out;
}

/* Check the log of text against want, for one feed, every split in two
 * and byte by byte. */
static void expect_len(const char *text, size_t len, size_t max, const char *want)
{
	char *got = parse_cut(text, len, max, NULL, 0, NULL, NULL);
	size_t *bytes;

	if (strcmp(got, want) != 0)
		fail_msg("one chunk:\n--- got\n%s--- want\n%s", got, want);
	free(got);
	for (size_t cut = 0; cut <= len; cut++) {
		got = parse_cut(text, len, max, &cut, 1, NULL, NULL);
		if (strcmp(got, want) != 0)
			fail_msg("split at %zu:\n--- got\n%s--- want\n%s", cut, got, want);
		free(got);
	}
	bytes = calloc(len + 1, sizeof(*bytes));
	for (size_t i = 0; i < len; i++)
		bytes[i] = i;
	got = parse_cut(text, len, max, bytes, len, NULL, NULL);
	if (strcmp(got, want) != 0)
		fail_msg("byte by byte:\n--- got\n%s--- want\n%s", got, want);
	free(got);
	free(bytes);
}

/* A literal with its exact length (it may hold a NUL). */
#define EXPECT_CAP(text, max, want) expect_len(text, sizeof(text) - 1, max, want)

static void expect(const char *text, const char *want)
{
	expect_len(text, strlen(text), 1024, want);
}

static void test_basic(void **state)
{
	expect("data: hello\n\n", "message||hello\n");
	expect("event: message\nid: 1\ndata: {\"jsonrpc\":\"2.0\"}\n\n",
	       "message|1|{\"jsonrpc\":\"2.0\"}\n");
	expect("event: endpoint\ndata: /message?sessionId=abc\n\n",
	       "endpoint||/message?sessionId=abc\n");
	/* two events, the type does not carry over, the id does */
	expect("event: a\nid: 7\ndata: x\n\ndata: y\n\n", "a|7|x\nmessage|7|y\n");
	/* no space after the colon; only one space is dropped */
	expect("data:x\n\ndata:  two\n\n", "message||x\nmessage|| two\n");
	/* an explicit empty event: type means message */
	expect("event:\ndata: z\n\n", "message||z\n");
	/* a field name with a space in it is not "data" */
	expect("data : no\ndata: yes\n\n", "message||yes\n");
}

static void test_line_ends(void **state)
{
	const char *want = "message|1|a\nmessage|1|b\n";

	expect("id: 1\ndata: a\n\ndata: b\n\n", want);
	expect("id: 1\r\ndata: a\r\n\r\ndata: b\r\n\r\n", want);
	expect("id: 1\rdata: a\r\rdata: b\r\r", want);
	expect("id: 1\r\ndata: a\r\rdata: b\n\r\n", want);
	/* CR then LF is one line end; LF then CR are two */
	expect("data: a\r\n\ndata: b\n\r", "message||a\nmessage||b\n");
	/* CRLF within data lines */
	expect("data: a\r\ndata: b\r\n\r\n", "message||a\nb\n");
}

static void test_multiline_data(void **state)
{
	expect("data: one\ndata: two\ndata: three\n\n", "message||one\ntwo\nthree\n");
	/* "data" alone is an empty line of data */
	expect("data: one\ndata\ndata: three\n\n", "message||one\n\nthree\n");
	/* an event with only empty data is dispatched with empty data (the
	 * 2025-11-25 priming event) */
	expect("id: p\ndata:\n\n", "message|p|\n");
	expect("data\ndata\n\n", "message||\n\n");
	/* data keeps colons and leading/trailing characters */
	expect("data: a: b :c \n\n", "message||a: b :c \n");
}

static void test_comments_and_unknown(void **state)
{
	expect(": keep-alive\n\n", "");
	expect(":\n:\n\n", "");
	expect(": c1\ndata: x\n: c2\n\n", "message||x\n");
	expect("foo: bar\ndata: x\nbaz\n\n", "message||x\n");
	/* a long unknown name, and one that starts like a known one */
	expect("datadatadata: q\ndatax: q\nidx: q\ndata: x\n\n", "message||x\n");
	/* no data: nothing dispatched */
	expect("event: foo\nid: 3\n\n", "");
}

static void test_id_and_retry(void **state)
{
	static const char nul_id[] = "id: good\ndata: 1\n\nid: b\0d\ndata: 2\n\n";
	int64_t retry;
	char last[TP_SSE_ID_MAX + 1];
	char *got;

	/* an id with a NUL is ignored, the previous one stays */
	expect_len(nul_id, sizeof(nul_id) - 1, 1024, "message|good|1\nmessage|good|2\n");
	/* "id" alone clears it */
	expect("id: 5\ndata: a\n\nid\ndata: b\n\n", "message|5|a\nmessage||b\n");
	/* the last event ID moves at the blank line even without data */
	got = parse_cut("id: 9\n\n", 7, 64, NULL, 0, NULL, last);
	assert_string_equal(got, "");
	assert_string_equal(last, "9");
	free(got);
	/* ... but not for an event the stream cut off */
	got = parse_cut("id: 1\ndata: a\n\nid: 2\ndata: b\n", 29, 64, NULL, 0, NULL, last);
	assert_string_equal(got, "message|1|a\n");
	assert_string_equal(last, "1");
	free(got);

	got = parse_cut("retry: 1500\n", 12, 64, NULL, 0, &retry, NULL);
	assert_int_equal(retry, 1500);
	free(got);
	got = parse_cut("retry: 1500\nretry: 12x\nretry:\nretry: -1\n", 40, 64, NULL, 0, &retry,
			NULL);
	assert_int_equal(retry, 1500);
	free(got);
	got = parse_cut("data: x\n", 8, 64, NULL, 0, &retry, NULL);
	assert_int_equal(retry, -1);
	free(got);
	got = parse_cut("retry: 99999999999999999999999\n", 31, 64, NULL, 0, &retry, NULL);
	assert_int_equal(retry, TP_SSE_RETRY_MAX);
	free(got);
}

static void test_bom(void **state)
{
	expect("\xEF\xBB\xBF" "data: a\n\n", "message||a\n");
	/* only at the very start: later it is part of a field name */
	expect("\xEF\xBB\xBF" "data: a\n\n\xEF\xBB\xBF" "data: b\n\n", "message||a\n");
	expect("\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\n", "");
	/* a partial BOM is content (here: an unknown field) */
	expect("\xEF\xBB" "data: a\n\ndata: b\n\n", "message||b\n");
	expect("\xEF" "\n" "data: b\n\n", "message||b\n");
	/* a BOM byte sequence inside data is kept */
	expect("data: \xEF\xBB\xBF" "x\n\n", "message||\xEF\xBB\xBFx\n");
}

static void test_oversize(void **state)
{
	char big[200];

	/* exactly at the cap is fine; one over is not */
	EXPECT_CAP("data: 12345678\n\n", 8, "message||12345678\n");
	EXPECT_CAP("data: 123456789\n\ndata: ok\n\n", 8, "!data 8\nmessage||ok\n");
	/* the cap is on joined data, newlines included */
	EXPECT_CAP("data: 1234\ndata: 567\n\n", 8, "message||1234\n567\n");
	EXPECT_CAP("data: 1234\ndata: 5678\n\n", 8, "!data 8\n");
	/* reported once per event, the rest of the event is skipped */
	EXPECT_CAP("data: 123456789\ndata: 123456789\nevent: x\n\ndata: a\n\n", 8,
		   "!data 8\nmessage||a\n");
	/* cap 0: only empty data passes */
	EXPECT_CAP("data:\n\ndata: x\n\n", 0, "message||\n!data 0\n");
	/* type and id caps */
	memset(big, 'e', sizeof(big));
	{
		char text[400];
		int n;

		n = snprintf(text, sizeof(text), "event: %.*s\ndata: x\n\ndata: y\n\n",
			     TP_SSE_TYPE_MAX + 1, big);
		expect_len(text, (size_t)n, 64, "!event 64\nmessage||y\n");
		n = snprintf(text, sizeof(text), "event: %.*s\ndata: x\n\n", TP_SSE_TYPE_MAX,
			     big);
		{
			char want[200];

			snprintf(want, sizeof(want), "%.*s||x\n", TP_SSE_TYPE_MAX, big);
			expect_len(text, (size_t)n, 64, want);
		}
	}
	{
		char text[700];
		int n;

		memset(big, 'i', sizeof(big));
		n = snprintf(text, sizeof(text), "id: 1\ndata: a\n\nid: %.*s%.*s\ndata: x\n\ndata: y\n\n",
			     200, big, TP_SSE_ID_MAX - 200 + 1, big);
		/* the long id never becomes the last event ID */
		expect_len(text, (size_t)n, 64, "message|1|a\n!id 256\nmessage|1|y\n");
	}
}

static void test_huge_event_bounded(void **state)
{
	struct run x;
	char chunk[4096];

	memset(chunk, 'z', sizeof(chunk));
	run_init(&x, 1000);
	assert_int_equal(tp_sse_feed(&x.p, "data: ", 6), 0);
	for (int i = 0; i < 1000; i++) {      /* 4 MB in one data line */
		assert_int_equal(tp_sse_feed(&x.p, chunk, sizeof(chunk)), 0);
		assert_true(x.p.data.alloc <= 1002);
	}
	assert_int_equal(tp_sse_feed(&x.p, "\n\ndata: ok\n\n", 12), 0);
	assert_string_equal(x.r.log.data, "!data 1000\nmessage||ok\n");
	run_release(&x);
}

static void test_end_of_stream(void **state)
{
	/* an event without its blank line is not dispatched */
	expect("data: a\n\ndata: b\n", "message||a\n");
	expect("data: a\n\ndata: b", "message||a\n");
}

static void test_stop(void **state)
{
	static const char text[] = "data: a\n\ndata: b\n\ndata: c\n\n";
	struct run x;

	run_init(&x, 64);
	x.r.stop_at = 2;
	assert_int_equal(tp_sse_feed(&x.p, text, sizeof(text) - 1), 9);
	assert_string_equal(x.r.log.data, "message||a\nmessage||b\n");
	run_release(&x);

	run_init(&x, 4);
	x.r.stop_at = 1;
	assert_int_equal(tp_sse_feed(&x.p, "data: 123456\n\n", 14), 9);
	assert_string_equal(x.r.log.data, "!data 4\n");
	run_release(&x);
}

static void test_restart(void **state)
{
	struct run x;

	run_init(&x, 64);
	assert_int_equal(tp_sse_feed(&x.p, "retry: 50\nid: 4\ndata: a\n\nid: 5\ndata: cut", 40), 0);
	assert_string_equal(x.p.last_id, "4");
	tp_sse_restart(&x.p);
	/* the cut event is gone, the id and retry are kept, a BOM is
	 * expected again, a pending CR is forgotten */
	assert_int_equal(tp_sse_feed(&x.p, "\xEF\xBB\xBF" "data: b\n\n", 12), 0);
	assert_string_equal(x.r.log.data, "message|4|a\nmessage|4|b\n");
	assert_int_equal(x.p.retry_ms, 50);
	run_release(&x);

	run_init(&x, 64);
	assert_int_equal(tp_sse_feed(&x.p, "data: a\r", 8), 0);
	tp_sse_restart(&x.p);
	assert_int_equal(tp_sse_feed(&x.p, "\ndata: b\n\n", 10), 0);
	assert_string_equal(x.r.log.data, "message||b\n");
	run_release(&x);
}

static void test_is_type(void **state)
{
	struct tp_sse_event ev = { "message", 7, "", 0, "" };
	struct tp_sse_event nul = { "message\0x", 9, "", 0, "" };

	assert_true(tp_sse_is_type(&ev, "message"));
	assert_false(tp_sse_is_type(&ev, "endpoint"));
	assert_false(tp_sse_is_type(&nul, "message"));
	/* a NUL inside the event type does not pass for "message" */
	{
		static const char text[] = "event: message\0x\ndata: q\n\n";
		static const char want[] = "message\0x||q\n";
		struct run x;

		run_init(&x, 64);
		assert_int_equal(tp_sse_feed(&x.p, text, sizeof(text) - 1), 0);
		assert_int_equal(x.r.log.len, sizeof(want) - 1);
		assert_memory_equal(x.r.log.data, want, sizeof(want) - 1);
		run_release(&x);
	}
}

/* Random streams from a small alphabet, random chunking: same events as
 * one feed. */
static void test_random_chunks(void **state)
{
	static const char *const pieces[] = {
		"data: ", "data:", "data", "id: ", "id:", "event: ", "retry: ", ":", " ",
		"x", "yz", "0", "12", "\r", "\n", "\r\n", "\xEF\xBB\xBF", "\xEF",
	};
	unsigned seed = 12345;

	for (int iter = 0; iter < 2000; iter++) {
		char text[256];
		size_t len = 0, cuts[16], ncuts;
		char *one, *many;
		int64_t r1, r2;
		char l1[TP_SSE_ID_MAX + 1], l2[TP_SSE_ID_MAX + 1];

		while (len < 200) {
			const char *p;

			seed = seed * 1103515245u + 12345u;
			p = pieces[(seed >> 16) % MG_ARRAY_LEN(pieces)];
			memcpy(text + len, p, strlen(p));
			len += strlen(p);
		}
		ncuts = (seed >> 8) % 16;
		for (size_t i = 0; i < ncuts; i++) {
			seed = seed * 1103515245u + 12345u;
			cuts[i] = (seed >> 16) % (len + 1);
		}
		for (size_t i = 1; i < ncuts; i++)     /* sort */
			for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
				size_t t = cuts[j];

				cuts[j] = cuts[j - 1];
				cuts[j - 1] = t;
			}
		one = parse_cut(text, len, 8, NULL, 0, &r1, l1);
		many = parse_cut(text, len, 8, cuts, ncuts, &r2, l2);
		assert_string_equal(one, many);
		assert_int_equal(r1, r2);
		assert_string_equal(l1, l2);
		free(one);
		free(many);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_multiline_data),
		cmocka_unit_test(test_comments_and_unknown),
		cmocka_unit_test(test_id_and_retry),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_huge_event_bounded),
		cmocka_unit_test(test_end_of_stream),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_is_type),
		cmocka_unit_test(test_random_chunks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
