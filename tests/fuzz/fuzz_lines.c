/* libFuzzer harness for the newline framer (src/rpc/lines.c).  The framer
 * sits on every pipe and socket the gateway reads, so a peer controls both
 * the bytes and (through timing) how they are cut into chunks.  Layout of
 * an input: byte 0 chooses the cap (1..64), byte 1 a stop point, bytes
 * 2..9 a cycle of chunk sizes (0..31; zero-length feeds included, but the
 * last of the cycle is at least 1), the rest
 * is the stream.  What the framer delivers must be exactly what a trivial
 * reference splitter computes from the whole stream: the same lines in the
 * same order, none containing '\n', none longer than the cap, one oversize
 * report per line over the cap, and the partial buffer never over the cap.
 * Seeds: tests/fuzz/corpus/lines/. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"
#include "rpc/lines.h"
#include "fuzz.h"



struct rec {
	struct mg_buf lines;    /* each line followed by '\n' */
	size_t n;
	size_t oversize;
	size_t cap;
	size_t stop_after;      /* 0 = never stop */
	int stopped;
};

static int on_line(void *ctx, const char *line, size_t len)
{
	struct rec *r = ctx;

	CHECK(!r->stopped);
	CHECK(len > 0 && len <= r->cap);
	CHECK(!memchr(line, '\n', len));
	CHECK(mg_buf_add(&r->lines, line, len) == 0 && mg_buf_addc(&r->lines, '\n') == 0);
	r->n++;
	if (r->stop_after && r->n + r->oversize >= r->stop_after) {
		r->stopped = 1;
		return 1;
	}
	return 0;
}

static int on_oversize(void *ctx, size_t max)
{
	struct rec *r = ctx;

	CHECK(!r->stopped);
	CHECK(max == r->cap);
	r->oversize++;
	if (r->stop_after && r->n + r->oversize >= r->stop_after) {
		r->stopped = 1;
		return 2;
	}
	return 0;
}

static const struct rpc_lines_ops ops = { on_line, on_oversize };

/* The reference: split the whole stream at '\n'.  A complete line over the
 * cap, or a final unterminated one over it, is one oversize event; other
 * complete lines lose one trailing '\r' and are delivered unless empty.
 * Events are recorded in order (line text, or an empty record with
 * oversize set) so that a stop can be checked too. */
struct event {
	size_t off, len;
	int oversize;
};

static size_t reference(const char *t, size_t len, size_t cap, struct event *ev)
{
	size_t start = 0, n = 0;

	for (size_t i = 0; i <= len; i++) {
		size_t seg;

		if (i < len && t[i] != '\n')
			continue;
		seg = i - start;
		if (seg > cap) {
			ev[n++] = (struct event){ start, seg, 1 };
		} else if (i < len) {
			size_t k = seg;

			if (k && t[start + k - 1] == '\r')
				k--;
			if (k)
				ev[n++] = (struct event){ start, k, 0 };
		}
		start = i + 1;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpc_lines l;
	struct rec r;
	uint8_t chunks[8];
	const char *stream;
	size_t len, pos = 0, k = 0, nev, want_lines = 0, want_over = 0;
	struct event *ev;
	int rc = 0;

	if (size < 10)
		return 0;
	memset(&r, 0, sizeof(r));
	r.cap = 1 + data[0] % 64;
	r.stop_after = data[1] < 32 ? data[1] : 0;
	memcpy(chunks, data + 2, sizeof(chunks));
	stream = (const char *)data + 10;
	len = size - 10;
	mg_buf_init(&r.lines, 2 * len + 16);
	rpc_lines_init(&l, r.cap, &ops, &r);

	while (pos < len && !rc) {
		size_t n = fuzz_chunk(chunks, &k, len - pos);

		rc = rpc_lines_feed(&l, stream + pos, n);
		pos += n;
		/* Memory stays bounded by the cap whatever the peer sends. */
		CHECK(l.partial.len <= r.cap);
		CHECK(!l.partial.data || l.partial.alloc <= r.cap + 1);
	}
	CHECK(!rc == !r.stopped);
	CHECK(rc == 0 || rc == 1 || rc == 2);

	ev = mg_calloc(len + 1, sizeof(*ev));
	nev = reference(stream, len, r.cap, ev);
	if (r.stopped) {
		/* Stopped at event number stop_after: exactly the events before. */
		CHECK(r.stop_after <= nev);
		nev = r.stop_after;
		CHECK(rc == (ev[nev - 1].oversize ? 2 : 1));
	}
	{
		size_t off = 0;

		for (size_t i = 0; i < nev; i++) {
			if (ev[i].oversize) {
				want_over++;
				continue;
			}
			want_lines++;
			CHECK(off + ev[i].len + 1 <= r.lines.len);
			CHECK(memcmp(r.lines.data + off, stream + ev[i].off, ev[i].len) == 0);
			CHECK(r.lines.data[off + ev[i].len] == '\n');
			off += ev[i].len + 1;
		}
		CHECK(off == r.lines.len);
	}
	CHECK(r.n == want_lines);
	CHECK(r.oversize == want_over);

	free(ev);
	rpc_lines_release(&l);
	mg_buf_release(&r.lines);
	return 0;
}
