/* libFuzzer harness for the SSE parser (src/transport/sse.c).  Every remote
 * MCP server's text/event-stream body goes through it, and the server
 * controls both the bytes and, through timing, where chunks are cut.
 * Layout of an input: byte 0 chooses the data cap (0..63), byte 1 a stop
 * point (stop after that many callbacks; 0 or >= 32 never), bytes 2..9 a
 * cycle of chunk sizes (0..31; zero-length feeds included, the last of
 * the cycle at least 1), the rest is the stream.  What the parser reports
 * must be exactly what a plain reference parser computes from the whole
 * stream at once (split into lines first, then fields, as the standard
 * describes it): the same events (type, data, last event ID) and oversize
 * reports in the same order, the same retry time, and memory never over
 * the cap.  Seeds: tests/fuzz/corpus/sse/. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"
#include "transport/sse.h"
#include "fuzz.h"



/* A log of callbacks, one record per callback:
 *   'E' type_len(8 bytes) type id '\0' len(8 bytes) data   for an event,
 *   'O' field '\0'                             for an oversize report. */
struct log {
	struct mg_buf b;
	size_t n;
};

static void log_event(struct log *l, const char *type, size_t type_len, const char *id,
		      const char *d, size_t len)
{
	uint64_t n64 = len, t64 = type_len;

	CHECK(mg_buf_addc(&l->b, 'E') == 0);
	CHECK(mg_buf_add(&l->b, &t64, sizeof(t64)) == 0);
	CHECK(mg_buf_add(&l->b, type, type_len) == 0);
	CHECK(mg_buf_add(&l->b, id, strlen(id) + 1) == 0);
	CHECK(mg_buf_add(&l->b, &n64, sizeof(n64)) == 0);
	CHECK(mg_buf_add(&l->b, d, len) == 0);
	l->n++;
}

static void log_oversize(struct log *l, const char *field)
{
	CHECK(mg_buf_addc(&l->b, 'O') == 0);
	CHECK(mg_buf_add(&l->b, field, strlen(field) + 1) == 0);
	l->n++;
}

/* ---- the parser under test ---- */

struct run {
	struct log log;
	struct tp_sse *p;
	size_t stop_after;
	bool stopped;
};

static int stop_here(struct run *r)
{
	if (r->stop_after && r->log.n == r->stop_after) {
		r->stopped = true;
		return 7;
	}
	return 0;
}

static int on_event(void *ctx, const struct tp_sse_event *ev)
{
	struct run *r = ctx;

	CHECK(!r->stopped);
	CHECK(ev->len <= r->p->max);
	CHECK(ev->data[ev->len] == '\0');
	CHECK(ev->type_len <= TP_SSE_TYPE_MAX && ev->type_len > 0);
	CHECK(ev->type[ev->type_len] == '\0');
	CHECK(strlen(ev->id) <= TP_SSE_ID_MAX);
	CHECK(tp_sse_is_type(ev, "message") ==
	      (ev->type_len == 7 && memcmp(ev->type, "message", 7) == 0));
	log_event(&r->log, ev->type, ev->type_len, ev->id, ev->data, ev->len);
	return stop_here(r);
}

static int on_oversize(void *ctx, const char *field, size_t max)
{
	struct run *r = ctx;

	CHECK(!r->stopped);
	if (strcmp(field, "data") == 0)
		CHECK(max == r->p->max);
	else if (strcmp(field, "event") == 0)
		CHECK(max == TP_SSE_TYPE_MAX);
	else
		CHECK(strcmp(field, "id") == 0 && max == TP_SSE_ID_MAX);
	log_oversize(&r->log, field);
	return stop_here(r);
}

static const struct tp_sse_ops ops = { on_event, on_oversize };

/* ---- the reference: whole stream, lines first ---- */

struct ref {
	struct log log;
	size_t max;
	char *data;             /* joined data with a "\n" after each line */
	size_t data_len;
	char type[TP_SSE_TYPE_MAX + 1];
	size_t type_len;
	char id_buf[TP_SSE_ID_MAX + 1];
	char last_id[TP_SSE_ID_MAX + 1];
	int64_t retry;
	bool oversize;
};

static void ref_over(struct ref *f, const char *field)
{
	if (!f->oversize)
		log_oversize(&f->log, field);
	f->oversize = true;
}

static bool is_name(const char *line, size_t name_len, const char *name)
{
	return name_len == strlen(name) && memcmp(line, name, name_len) == 0;
}

/* One line; complete = it had a line end (else it is the stream's cut-off
 * tail, which can only cross a cap). */
static void ref_line(struct ref *f, const char *line, size_t len, bool complete)
{
	const char *colon, *val;
	size_t name_len, vlen;

	if (complete && len == 0) {
		memcpy(f->last_id, f->id_buf, sizeof(f->last_id));
		if (!f->oversize && f->data_len > 0) {
			if (f->type_len)
				log_event(&f->log, f->type, f->type_len, f->last_id, f->data,
					  f->data_len - 1);
			else
				log_event(&f->log, "message", 7, f->last_id, f->data,
					  f->data_len - 1);
		}
		f->data_len = 0;
		f->type_len = 0;
		f->oversize = false;
		return;
	}
	if (len == 0 || line[0] == ':')
		return;
	colon = memchr(line, ':', len);
	if (!colon && !complete)
		return;                 /* the name is not even complete */
	name_len = colon ? (size_t)(colon - line) : len;
	val = colon ? colon + 1 : line + len;
	vlen = (size_t)(line + len - val);
	if (vlen && val[0] == ' ') {
		val++;
		vlen--;
	}
	if (is_name(line, name_len, "data")) {
		if (f->oversize)
			return;
		if (f->data_len + vlen + (complete ? 1 : 0) > f->max + 1) {
			ref_over(f, "data");
			return;
		}
		if (complete) {
			memcpy(f->data + f->data_len, val, vlen);
			f->data_len += vlen;
			f->data[f->data_len++] = '\n';
		}
	} else if (is_name(line, name_len, "event")) {
		if (f->oversize)
			return;
		if (vlen > TP_SSE_TYPE_MAX) {
			ref_over(f, "event");
			return;
		}
		if (complete) {
			memcpy(f->type, val, vlen);
			f->type_len = vlen;
		}
	} else if (is_name(line, name_len, "id")) {
		if (vlen > TP_SSE_ID_MAX) {
			ref_over(f, "id");
			return;
		}
		if (complete && !memchr(val, '\0', vlen)) {
			memcpy(f->id_buf, val, vlen);
			f->id_buf[vlen] = '\0';
		}
	} else if (is_name(line, name_len, "retry") && complete && vlen) {
		uint64_t acc = 0;

		for (size_t i = 0; i < vlen; i++) {
			if (val[i] < '0' || val[i] > '9')
				return;
			acc = acc * 10 + (uint64_t)(val[i] - '0');
			if (acc > TP_SSE_RETRY_MAX)
				acc = TP_SSE_RETRY_MAX;
		}
		f->retry = (int64_t)acc;
	}
}

static void reference(struct ref *f, const char *t, size_t len)
{
	size_t pos = 0;

	if (len >= 3 && memcmp(t, "\xEF\xBB\xBF", 3) == 0)
		pos = 3;
	while (pos < len) {
		size_t i = pos;

		while (i < len && t[i] != '\n' && t[i] != '\r')
			i++;
		if (i == len) {
			ref_line(f, t + pos, i - pos, false);
			break;
		}
		ref_line(f, t + pos, i - pos, true);
		pos = i + 1;
		if (t[i] == '\r' && pos < len && t[pos] == '\n')
			pos++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_sse p;
	struct run r;
	struct ref f;
	uint8_t chunks[8];
	const char *stream;
	size_t len, pos = 0, k = 0;
	int rc = 0;

	if (size < 10)
		return 0;
	stream = (const char *)data + 10;
	len = size - 10;
	memset(&r, 0, sizeof(r));
	memset(&f, 0, sizeof(f));
	f.max = data[0] % 64;
	r.stop_after = data[1] < 32 ? data[1] : 0;
	memcpy(chunks, data + 2, sizeof(chunks));
	r.p = &p;
	mg_buf_init(&r.log.b, SIZE_MAX / 2);
	mg_buf_init(&f.log.b, SIZE_MAX / 2);
	tp_sse_init(&p, f.max, &ops, &r);

	while (pos < len && !rc) {
		size_t n = fuzz_chunk(chunks, &k, len - pos);

		rc = tp_sse_feed(&p, stream + pos, n);
		pos += n;
		/* Memory stays bounded by the cap whatever the peer sends. */
		CHECK(p.data.len <= f.max + 1);
		CHECK(!p.data.data || p.data.alloc <= f.max + 2);
	}
	CHECK(rc == 0 || rc == 7);
	CHECK((rc == 7) == r.stopped);

	f.data = mg_malloc(f.max + 2);
	f.retry = -1;
	reference(&f, stream, len);
	if (r.stopped) {
		/* Stopped at callback number stop_after: exactly the prefix. */
		CHECK(r.log.n == r.stop_after && f.log.n >= r.stop_after);
		CHECK(r.log.b.len <= f.log.b.len);
		CHECK(memcmp(r.log.b.data, f.log.b.data, r.log.b.len) == 0);
	} else {
		CHECK(r.log.n == f.log.n);
		CHECK(r.log.b.len == f.log.b.len);
		CHECK(r.log.b.len == 0 || memcmp(r.log.b.data, f.log.b.data, r.log.b.len) == 0);
		CHECK(p.retry_ms == f.retry);
	}

	/* A restart keeps the last event ID and forgets the partial event. */
	if (!r.stopped) {
		char keep[TP_SSE_ID_MAX + 1];

		memcpy(keep, p.last_id, sizeof(keep));
		tp_sse_restart(&p);
		CHECK(strcmp(keep, p.last_id) == 0 && p.data.len == 0);
	}

	free(f.data);
	tp_sse_release(&p);
	mg_buf_release(&r.log.b);
	mg_buf_release(&f.log.b);
	return 0;
}
