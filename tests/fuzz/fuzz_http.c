/* libFuzzer harness for the HTTP request path that is ours
 * (src/transport/http_door.c): the framing check of a request head and the
 * parse that decides what a POSTed body is.  libmicrohttpd itself is not
 * driven here (its socket loop is not cheap to run per input); the input is
 * a raw request, split the way MHD hands it to us: the request line, then
 * header lines cut at the first colon (the name as written, the value
 * without surrounding blanks, NUL bytes kept), then the body.
 *
 * Invariants: a head is refused (400/501, with a reason) exactly when the
 * harness's own reading of RFC 9112 finds it ambiguous; a body is either
 * classified with spans that hold what jansson saw, or refused with -32700
 * or -32600 and an error line that is one valid JSON-RPC error naming the
 * id only when the id was valid.  Seeds: tests/fuzz/corpus/http/. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "rpc/msg.h"
#include "transport/http_door.h"
#include "fuzz.h"

struct seen {
	unsigned cl, te, host;
	bool bad_name, bad_value, bad_cl, bad_te;
};

static bool tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is(const char *p, size_t n, const char *want)
{
	return n == strlen(want) && strncasecmp(p, want, n) == 0;
}

/* The harness's own verdict on one field, independent of the code. */
static void judge(struct seen *s, const char *name, size_t nl, const char *val, size_t vl)
{
	if (nl == 0)
		s->bad_name = true;
	for (size_t i = 0; i < nl; i++)
		if (!tchar((unsigned char)name[i]))
			s->bad_name = true;
	for (size_t i = 0; i < vl; i++) {
		unsigned char c = (unsigned char)val[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			s->bad_value = true;
	}
	if (is(name, nl, "Content-Length")) {
		s->cl++;
		if (vl == 0 || vl > 18)
			s->bad_cl = true;
		for (size_t i = 0; i < vl; i++)
			if (val[i] < '0' || val[i] > '9')
				s->bad_cl = true;
	} else if (is(name, nl, "Transfer-Encoding")) {
		s->te++;
		if (!is(val, vl, "chunked"))
			s->bad_te = true;
	} else if (is(name, nl, "Host")) {
		s->host++;
	}
}

static void fuzz_head(const char *head, size_t len)
{
	struct tp_door_head h;
	struct seen s = { 0 };
	const char *p = head, *end = head + len;
	bool http11 = false, first = true, any_bad = false;
	unsigned st;
	char line[96];

	tp_door_head_init(&h);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *colon;

		if (le > p && le[-1] == '\r')
			le--;
		if (first) {
			size_t n = (size_t)(le - p);
			char *copy = malloc(n + 1);

			first = false;
			http11 = n >= 8 && memcmp(le - 8, "HTTP/1.1", 8) == 0;
			memcpy(copy, p, n);
			copy[n] = '\0';
			tp_door_printable(copy, line, sizeof(line));
			CHECK(strlen(line) < sizeof(line));
			for (size_t i = 0; line[i]; i++)
				CHECK(line[i] >= 0x20 && line[i] < 0x7f && line[i] != '"');
			free(copy);
		} else if ((colon = memchr(p, ':', (size_t)(le - p)))) {
			const char *v = colon + 1, *ve = le;

			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			if (!any_bad) {
				judge(&s, p, (size_t)(colon - p), v, (size_t)(ve - v));
				any_bad = s.bad_name || s.bad_value || s.bad_cl || s.bad_te ||
					  s.cl > 1 || s.te > 1 || s.host > 1;
			}
			st = tp_door_head_field(&h, p, (size_t)(colon - p), v, (size_t)(ve - v));
			CHECK(st == 0 || st == 400 || st == 501);
			CHECK(!st == !any_bad);
		}
		p = nl ? nl + 1 : end;
	}
	st = tp_door_head_end(&h, http11);
	CHECK(st == 0 || st == 400 || st == 501);
	CHECK(!st || h.reason);
	CHECK(!st == !(any_bad || (s.cl && s.te) || (http11 && !s.host)));
	if (!st && s.cl)
		CHECK(h.content_length == 1);
}

static void check_span_id(const char *body, size_t len, const struct jx_span *sp)
{
	json_t *v;

	CHECK(sp->off + sp->len <= len);
	v = json_loadb(body + sp->off, sp->len, JSON_DECODE_ANY, NULL);
	CHECK(v && (json_is_string(v) || json_is_integer(v)));
	json_decref(v);
}

static void fuzz_body(const char *body, size_t len)
{
	struct tp_door_msg dm;
	struct mg_buf b;
	json_t *line, *id;
	int code = tp_door_classify(body, len, &dm);

	CHECK(code == dm.code);
	if (code == 0) {
		CHECK(dm.kind == RPC_REQUEST || dm.kind == RPC_NOTIFICATION ||
		      dm.kind == RPC_RESPONSE);
		if (dm.kind != RPC_NOTIFICATION)
			check_span_id(body, len, &dm.id);
		else
			CHECK(dm.id.len == 0);
		if (dm.method.len) {
			CHECK(dm.method.off + dm.method.len <= len);
			CHECK(body[dm.method.off] == '"');
		}
		CHECK(!dm.initialize || dm.kind == RPC_REQUEST);
		return;
	}
	CHECK(code == RPC_PARSE_ERROR || code == RPC_INVALID_REQUEST);
	CHECK(memchr(dm.why, '\0', sizeof(dm.why)) && dm.why[0]);
	if (dm.id.len)
		check_span_id(body, len, &dm.id);
	/* The answer the door sends: one JSON-RPC error, id as known. */
	mg_buf_init(&b, dm.id.len + 4096);
	CHECK(rpc_error_line(&b, dm.id.len ? body + dm.id.off : NULL, dm.id.len, code, dm.why,
			     NULL) == 0);
	line = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
	CHECK(line);
	id = json_object_get(line, "id");
	CHECK(id && (dm.id.len ? !json_is_null(id) : json_is_null(id)));
	CHECK(json_integer_value(json_object_get(json_object_get(line, "error"), "code")) == code);
	json_decref(line);
	mg_buf_release(&b);
}

/* The refusal log: over any run of times, what it lets through plus what
 * it counts as left out is everything. */
static void fuzz_ratelog(const uint8_t *data, size_t size)
{
	struct tp_door_ratelog l = { 0 };
	unsigned long passed = 0, counted = 0, more;
	uint64_t now = 0;

	for (size_t i = 0; i < size && i < 64; i++) {
		now += data[i] * 17u;
		if (tp_door_ratelog_take(&l, now, 1000, &more)) {
			passed++;
			counted += more;
		}
	}
	CHECK(passed + counted + l.suppressed == (size < 64 ? size : 64));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *sep = NULL;
	size_t head_len = size;

	for (size_t i = 0; i + 3 < size; i++) {
		if (memcmp(in + i, "\r\n\r\n", 4) == 0) {
			sep = in + i;
			break;
		}
	}
	if (sep)
		head_len = (size_t)(sep - in);
	fuzz_head(in, head_len);
	if (sep)
		fuzz_body(sep + 4, size - head_len - 4);
	else
		fuzz_body(in, size);
	fuzz_ratelog(data, size);
	return 0;
}
