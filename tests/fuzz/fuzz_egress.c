/* libFuzzer harness for the egress proxy's parsers (src/runtime/
 * egress_http.c, egress_policy.c): a sandboxed program, hostile by
 * assumption, writes the request head byte by byte, and allowlists come
 * from catalogs.  Byte 0 chooses: odd, the rest is an allowlist (one spec
 * per line); even, the rest is a request head.  Checked for a head:
 *   - a complete head is at most EG_HEAD_MAX bytes and ends with a blank
 *     line; every shorter prefix is "read more", and the head alone parses
 *     to the same request;
 *   - a refusal has a status the proxy answers with and a reason, and
 *     the answer fits its buffer;
 *   - a forwarded request's new head fits its cap, is in origin form,
 *     has exactly one Host, no Proxy-* or hop-by-hop header, CRLF lines
 *     only, and ends with "Connection: close" and the blank line;
 *   - what follows its head is cut at the same place (the body's end: one
 *     request per connection) whether it arrives whole, byte by byte or in
 *     two pieces; never past what was given; Content-Length exactly.
 * For an allowlist: every rule allows its own host (a subdomain, for a
 * wildcard), and each error names its spec.  Seeds: tests/fuzz/corpus/egress/. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "runtime/egress_http.h"
#include "runtime/egress_policy.h"
#include "fuzz.h"

static bool line_starts(const char *line, const char *prefix)
{
	return strncasecmp(line, prefix, strlen(prefix)) == 0;
}

static void check_forwarded(const char *out, size_t len, const struct eg_request *req)
{
	static const char tail[] = "Connection: close\r\n\r\n";
	size_t hosts = 0, ml = strlen(req->method);
	const char *p = out, *end = out + len;

	CHECK(len > ml + 2 && memcmp(out, req->method, ml) == 0 && out[ml] == ' ' &&
	      out[ml + 1] == '/');
	CHECK(len >= sizeof(tail) - 1 && memcmp(end - (sizeof(tail) - 1), tail, sizeof(tail) - 1) == 0);
	CHECK(memmem(out, len, "\r\n\r\n", 4) == end - 4);
	for (size_t i = 0; i < len; i++) {
		CHECK(out[i] != '\0');
		CHECK(out[i] != '\n' || (i > 0 && out[i - 1] == '\r'));
		CHECK(out[i] != '\r' || (i + 1 < len && out[i + 1] == '\n'));
	}
	p = (const char *)memmem(p, (size_t)(end - p), "\r\n", 2) + 2;        /* skip the request line */
	while (p < end - 2) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);

		CHECK(eol);
		hosts += line_starts(p, "host:");
		CHECK(!line_starts(p, "proxy-") && !line_starts(p, "keep-alive:") &&
		      !line_starts(p, "te:") && !line_starts(p, "upgrade:"));
		CHECK(!line_starts(p, "connection:") || eol + 4 == end);
		p = eol + 2;
	}
	CHECK(hosts == 1);
}

/* Feed rest in pieces of step bytes (0: whole): the result and the bytes
 * that belong to the body. */
static int feed_body(const struct eg_request *req, const char *rest, size_t n, size_t step,
		     size_t *used)
{
	struct eg_body b;
	size_t off = 0;
	int rc = 0;

	eg_body_init(&b, req);
	*used = 0;
	do {
		size_t k = step && n - off > step ? step : n - off, u;

		rc = eg_body_feed(&b, rest + off, k, &u);
		CHECK(u <= k);
		CHECK(rc != 0 || u == k);
		*used += u;
		off += k;
	} while (rc == 0 && off < n);
	if (rc == 1) {
		size_t again;

		CHECK(eg_body_feed(&b, rest, n, &again) == 1 && again == 0);
	}
	return rc;
}

static void check_body(const struct eg_request *req, const char *rest, size_t n)
{
	size_t whole, bytes, split;
	int rc = feed_body(req, rest, n, 0, &whole);

	CHECK(rc == 1 || rc == 0 || rc == -EPROTO);
	CHECK(whole <= n);
	CHECK(feed_body(req, rest, n, 1, &bytes) == rc && bytes == whole);
	CHECK(feed_body(req, rest, n, n / 2 + 1, &split) == rc && split == whole);
	if (!req->chunked)
		CHECK(rc == 1 ? whole == (req->has_length ? req->content_length : 0)
			      : whole == n && req->has_length && req->content_length > n);
	if (req->chunked && rc == 1)
		CHECK(whole >= 5 && memcmp(rest + whole - 4, "\r\n\r\n", 4) == 0);
}

static void check_request(const char *data, size_t size)
{
	static const char *const statuses = "400 405 431 501 505";
	struct eg_request req, again;
	struct mg_buf out;
	char status[8];
	int rc = eg_parse_request(data, size, &req);

	if (rc == -EAGAIN) {
		CHECK(size < EG_HEAD_MAX);
		return;
	}
	if (rc == -EPROTO) {
		snprintf(status, sizeof(status), "%d", req.status);
		CHECK(req.why && req.why[0] && strstr(statuses, status));
		mg_buf_init(&out, 1024);
		CHECK(eg_answer(req.status, req.why, &out) == 0);
		mg_buf_release(&out);
		return;
	}
	CHECK(rc == 0);
	CHECK(req.head_len >= 4 && req.head_len <= size && req.head_len <= EG_HEAD_MAX);
	CHECK(memcmp(data + req.head_len - 4, "\r\n\r\n", 4) == 0);
	CHECK(req.target.host[0] && req.target.port);
	CHECK((req.kind == EG_REQ_CONNECT) == (strcmp(req.method, "CONNECT") == 0));
	eg_addr_classify(req.target.family, req.target.ip, NULL);
	/* The head alone gives the same request; any shorter prefix: more. */
	CHECK(eg_parse_request(data, req.head_len, &again) == 0);
	CHECK(again.head_len == req.head_len && again.target.port == req.target.port &&
	      strcmp(again.target.host, req.target.host) == 0);
	for (size_t cut = req.head_len > 64 ? req.head_len - 64 : 0; cut < req.head_len; cut++)
		CHECK(eg_parse_request(data, cut, &again) == -EAGAIN);
	if (req.kind != EG_REQ_FORWARD)
		return;
	mg_buf_init(&out, EG_HEAD_MAX + 1024);
	CHECK(eg_rewrite_request(data, &req, &out) == 0);
	check_forwarded(out.data, out.len, &req);
	mg_buf_release(&out);
	check_body(&req, data + req.head_len, size - req.head_len);
}

static void check_policy(const char *data, size_t size)
{
	char *text = mg_memdup0(data, size), **specs = NULL, *save = NULL;
	struct eg_policy pol;
	struct mg_err err = { { 0 } };
	size_t n = 0;

	if (memchr(data, '\0', size)) {
		free(text);
		return;
	}
	specs = mg_calloc(1, sizeof(char *));
	for (char *s = strtok_r(text, "\n", &save); s && n < 64; s = strtok_r(NULL, "\n", &save))
		specs = mg_strv_push(specs, s), n++;
	if (eg_policy_parse(&pol, specs, &err) == 0) {
		CHECK(pol.n == n);
		for (size_t i = 0; i < pol.n; i++) {
			struct eg_target t = pol.rules[i].t;

			CHECK(t.host[0] && t.port);
			if (pol.rules[i].wildcard) {
				CHECK(!t.is_ip && strlen(t.host) < sizeof(t.host) - 2);
				memmove(t.host + 2, t.host, strlen(t.host) + 1);
				memcpy(t.host, "x.", 2);
			}
			CHECK(eg_policy_match(&pol, &t) != NULL);
		}
	} else {
		CHECK(err.msg[0] && pol.n == 0 && strstr(err.msg, "allowed host '"));
	}
	eg_policy_release(&pol);
	mg_strv_free(specs);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mg_log_set_level(MG_LOG_QUIET);
	if (size == 0)
		return 0;
	if (data[0] & 1)
		check_policy((const char *)data + 1, size - 1);
	else
		check_request((const char *)data + 1, size - 1);
	return 0;
}
