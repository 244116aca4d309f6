/* runtime/egress: the allowlist (parsing and matching), address classes,
 * the request-head parser and the forwarded head, then the proxy itself on
 * a real loop: a listener on 127.0.0.1:0 in this process, a target server
 * on 127.0.0.1 (a thread: echo, or a one-shot HTTP answer that records the
 * head it got), and clients in threads with blocking sockets.  Nothing
 * here leaves loopback: every name or address that is not ours is refused
 * before any connection is made. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "runtime/egress.h"
#include "runtime/egress_http.h"

/* ---- the allowlist ---- */

static int parse_one(const char *spec, struct eg_policy *pol, struct mg_err *err)
{
	char *specs[] = { (char *)(uintptr_t)spec, NULL };

	return eg_policy_parse(pol, specs, err);
}

static void test_policy_good(void **state)
{
	static const struct { const char *spec, *host; unsigned port; bool wild, ip; } ok[] = {
		{ "api.github.com:443", "api.github.com", 443, false, false },
		{ "*.example.com:443", "example.com", 443, true, false },
		{ "Example.COM.:80", "example.com", 80, false, false },
		{ "[::1]:8080", "::1", 8080, false, true },
		{ "[2001:DB8:0::1]:443", "2001:db8::1", 443, false, true },
		{ "10.0.0.5:5432", "10.0.0.5", 5432, false, true },
		{ "registry.npmjs.org:443/https", "registry.npmjs.org", 443, false, false },
		{ "db.internal:5432/tcp", "db.internal", 5432, false, false },
		{ "under_score.example.com:65535", "under_score.example.com", 65535, false, false },
		{ "localhost:1", "localhost", 1, false, false },
	};
	struct mg_err err;

	for (size_t i = 0; i < MG_ARRAY_LEN(ok); i++) {
		struct eg_policy pol;

		err.msg[0] = '\0';
		if (parse_one(ok[i].spec, &pol, &err))
			fail_msg("%s: %s", ok[i].spec, err.msg);
		assert_int_equal(pol.n, 1);
		assert_string_equal(pol.rules[0].t.host, ok[i].host);
		assert_int_equal(pol.rules[0].t.port, ok[i].port);
		assert_int_equal(pol.rules[0].wildcard, ok[i].wild);
		assert_int_equal(pol.rules[0].t.is_ip, ok[i].ip);
		eg_policy_release(&pol);
	}
}

#define L63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static void test_policy_bad(void **state)
{
	static const struct { const char *spec, *why; } bad[] = {
		{ "example.com", "port is required" },
		{ "example.com:", "port must be" },
		{ "example.com:*", "any port" },
		{ "*:443", "every host" },
		{ "example.com:0", "port must be" },
		{ "example.com:65536", "port must be" },
		{ "example.com:0443", "port must be" },
		{ "example.com:+443", "port must be" },
		{ "foo.*.com:443", "first label" },
		{ "*example.com:443", "wildcard is written" },
		{ "**.example.com:443", "wildcard is written" },
		{ "*.:443", "empty host" },
		{ "::1:443", "brackets" },
		{ "[::1]", "port is required" },
		{ "[fe80::1%eth0]:443", "zone" },
		{ "[::g]:443", "IPv6" },
		{ "[1.2.3.4]:443", "IPv6" },
		{ "127.1:80", "IPv4" },
		{ "1.2.3.04:80", "IPv4" },
		{ "256.1.1.1:80", "IPv4" },
		{ "0x7f000001:80", "host name" },
		{ "-bad.com:80", "host name" },
		{ "bad-.com:80", "host name" },
		{ "a..b:80", "host name" },
		{ ".a.b:80", "host name" },
		{ "exa mple.com:80", "host name" },
		{ "*.1.2.3.4:80", "wildcard needs" },
		{ "host:443/udp", "suffix" },
		{ "host:443/", "suffix" },
		{ ":443", "empty host" },
		{ "", "port is required" },
		{ L63 "." L63 "." L63 "." L63 ":80", "too long" },
		{ L63 "a.com:80", "host name" },
	};
	struct mg_err err;

	for (size_t i = 0; i < MG_ARRAY_LEN(bad); i++) {
		struct eg_policy pol;

		err.msg[0] = '\0';
		if (parse_one(bad[i].spec, &pol, &err) != -EINVAL)
			fail_msg("accepted '%s'", bad[i].spec);
		assert_int_equal(pol.n, 0);
		if (bad[i].why && !strstr(err.msg, bad[i].why))
			fail_msg("'%s': %s", bad[i].spec, err.msg);
		if (!strstr(err.msg, bad[i].spec))
			fail_msg("the error does not name the spec: %s", err.msg);
		eg_policy_release(&pol);
	}
}

static bool allows(const struct eg_policy *pol, const char *host, unsigned port)
{
	struct eg_target t;

	assert_int_equal(eg_host_parse(host, strlen(host), &t, NULL), 0);
	t.port = (uint16_t)port;
	return eg_policy_match(pol, &t) != NULL;
}

static void test_policy_match(void **state)
{
	char *specs[] = { "*.example.com:443", "api.github.com:443", "10.0.0.5:5432",
			  "[2001:db8::1]:443", "[::ffff:127.0.0.1]:80", "Trailing.Dot.:8080", NULL };
	struct eg_policy pol;
	struct mg_err err;

	assert_int_equal(eg_policy_parse(&pol, specs, &err), 0);
	assert_int_equal(pol.n, 6);
	assert_true(allows(&pol, "a.example.com", 443));
	assert_true(allows(&pol, "A.B.Example.Com.", 443));
	assert_false(allows(&pol, "example.com", 443));          /* not the apex */
	assert_false(allows(&pol, "badexample.com", 443));
	assert_false(allows(&pol, "a.example.com.evil.net", 443));
	assert_false(allows(&pol, "a.example.com", 80));         /* the port counts */
	assert_true(allows(&pol, "api.github.com", 443));
	assert_false(allows(&pol, "github.com", 443));
	assert_false(allows(&pol, "x.api.github.com", 443));
	assert_true(allows(&pol, "10.0.0.5", 5432));
	assert_false(allows(&pol, "10.0.0.6", 5432));
	assert_false(allows(&pol, "10.0.0.5", 5433));
	assert_true(allows(&pol, "[2001:DB8:0:0::1]", 443));     /* any spelling */
	assert_false(allows(&pol, "[2001:db8::2]", 443));
	assert_true(allows(&pol, "[::ffff:127.0.0.1]", 80));
	assert_false(allows(&pol, "127.0.0.1", 80));             /* not the same literal */
	assert_true(allows(&pol, "trailing.dot", 8080));
	eg_policy_release(&pol);

	/* An empty list allows nothing. */
	char *none[] = { NULL };

	assert_int_equal(eg_policy_parse(&pol, none, &err), 0);
	assert_false(allows(&pol, "a.example.com", 443));
	eg_policy_release(&pol);
}

/* ---- address classes ---- */

static enum eg_addr_class classify(const char *text, const char **why)
{
	unsigned char ip[16];
	int family = strchr(text, ':') ? AF_INET6 : AF_INET;

	assert_int_equal(inet_pton(family, text, ip), 1);
	return eg_addr_classify(family, ip, why);
}

static void test_addr_classes(void **state)
{
	static const struct { const char *ip; enum eg_addr_class k; const char *why; } cases[] = {
		{ "0.0.0.0", EG_ADDR_INTERNAL, "this network" },
		{ "0.255.1.1", EG_ADDR_INTERNAL, "this network" },
		{ "10.0.0.1", EG_ADDR_INTERNAL, "private" },
		{ "10.255.255.255", EG_ADDR_INTERNAL, "private" },
		{ "100.64.0.1", EG_ADDR_INTERNAL, "shared" },
		{ "100.127.255.255", EG_ADDR_INTERNAL, "shared" },
		{ "100.63.255.255", EG_ADDR_PUBLIC, "public" },
		{ "100.128.0.0", EG_ADDR_PUBLIC, "public" },
		{ "127.0.0.1", EG_ADDR_INTERNAL, "loopback" },
		{ "127.255.255.254", EG_ADDR_INTERNAL, "loopback" },
		{ "169.254.0.1", EG_ADDR_INTERNAL, "link-local" },
		{ "169.254.169.254", EG_ADDR_METADATA, "metadata" },
		{ "169.254.170.2", EG_ADDR_METADATA, "metadata" },
		{ "169.254.170.23", EG_ADDR_METADATA, "metadata" },
		{ "100.100.100.200", EG_ADDR_METADATA, "metadata" },
		{ "172.16.0.1", EG_ADDR_INTERNAL, "private" },
		{ "172.31.255.255", EG_ADDR_INTERNAL, "private" },
		{ "172.15.255.255", EG_ADDR_PUBLIC, "public" },
		{ "172.32.0.0", EG_ADDR_PUBLIC, "public" },
		{ "192.0.0.8", EG_ADDR_INTERNAL, "IETF" },
		{ "192.0.1.1", EG_ADDR_PUBLIC, "public" },
		{ "192.168.1.1", EG_ADDR_INTERNAL, "private" },
		{ "198.18.0.1", EG_ADDR_INTERNAL, "benchmarking" },
		{ "198.19.255.255", EG_ADDR_INTERNAL, "benchmarking" },
		{ "198.20.0.0", EG_ADDR_PUBLIC, "public" },
		{ "224.0.0.1", EG_ADDR_INTERNAL, "multicast" },
		{ "239.255.255.255", EG_ADDR_INTERNAL, "multicast" },
		{ "240.0.0.1", EG_ADDR_INTERNAL, "reserved" },
		{ "255.255.255.255", EG_ADDR_INTERNAL, "broadcast" },
		{ "1.1.1.1", EG_ADDR_PUBLIC, "public" },
		{ "8.8.8.8", EG_ADDR_PUBLIC, "public" },
		{ "93.184.215.14", EG_ADDR_PUBLIC, "public" },
		{ "223.255.255.255", EG_ADDR_PUBLIC, "public" },
		{ "::", EG_ADDR_INTERNAL, "unspecified" },
		{ "::1", EG_ADDR_INTERNAL, "loopback" },
		{ "::2", EG_ADDR_INTERNAL, "IPv4-compatible" },
		{ "::8.8.8.8", EG_ADDR_INTERNAL, "IPv4-compatible" },
		{ "fc00::1", EG_ADDR_INTERNAL, "unique local" },
		{ "fdff:ffff::1", EG_ADDR_INTERNAL, "unique local" },
		{ "fd00:ec2::254", EG_ADDR_METADATA, "metadata" },
		{ "fd00:ec2::23", EG_ADDR_METADATA, "metadata" },
		{ "fe80::1", EG_ADDR_INTERNAL, "link-local" },
		{ "febf::1", EG_ADDR_INTERNAL, "link-local" },
		{ "fec0::1", EG_ADDR_INTERNAL, "site-local" },
		{ "ff02::1", EG_ADDR_INTERNAL, "multicast" },
		{ "100::1", EG_ADDR_INTERNAL, "discard" },
		{ "2001:db8::1", EG_ADDR_INTERNAL, "documentation" },
		/* IPv4 inside IPv6: mapped, NAT64, 6to4 lead where the IPv4 does. */
		{ "::ffff:127.0.0.1", EG_ADDR_INTERNAL, "loopback" },
		{ "::ffff:10.1.2.3", EG_ADDR_INTERNAL, "private" },
		{ "::ffff:169.254.169.254", EG_ADDR_METADATA, "metadata" },
		{ "::ffff:100.100.100.200", EG_ADDR_METADATA, "metadata" },
		{ "::ffff:8.8.8.8", EG_ADDR_PUBLIC, "public" },
		{ "64:ff9b::7f00:1", EG_ADDR_INTERNAL, "loopback" },
		{ "64:ff9b::192.168.0.1", EG_ADDR_INTERNAL, "private" },
		{ "64:ff9b::169.254.169.254", EG_ADDR_METADATA, "metadata" },
		{ "64:ff9b::8.8.8.8", EG_ADDR_PUBLIC, "public" },
		{ "64:ff9b:1::1", EG_ADDR_INTERNAL, "NAT64" },
		{ "2002:7f00:1::", EG_ADDR_INTERNAL, "loopback" },
		{ "2002:a9fe:a9fe::1", EG_ADDR_METADATA, "metadata" },
		{ "2002:0808:0808::1", EG_ADDR_PUBLIC, "public" },
		{ "2606:4700:4700::1111", EG_ADDR_PUBLIC, "public" },
		{ "2a00:1450:4001:80b::200e", EG_ADDR_PUBLIC, "public" },
	};

	for (size_t i = 0; i < MG_ARRAY_LEN(cases); i++) {
		const char *why = NULL;
		enum eg_addr_class k = classify(cases[i].ip, &why);

		if (k != cases[i].k || !strstr(why, cases[i].why))
			fail_msg("%s: class %d (%s), expected %d (%s)", cases[i].ip, k, why, cases[i].k,
				 cases[i].why);
	}
	assert_int_equal(eg_addr_classify(AF_UNIX, (const unsigned char *)"", NULL), EG_ADDR_INTERNAL);
}

/* ---- the request head ---- */

static int parse(const char *head, struct eg_request *req)
{
	return eg_parse_request(head, strlen(head), req);
}

static void expect_refused(const char *head, int status, const char *why)
{
	struct eg_request req;

	if (parse(head, &req) != -EPROTO || req.status != status ||
	    (why && !strstr(req.why, why)))
		fail_msg("%s: status %d (%s), expected %d (%s)", head, req.status,
			 req.why ? req.why : "-", status, why ? why : "-");
}

static void test_parse_good(void **state)
{
	struct eg_request req;
	const char *get = "GET http://Example.com:8080/a/b?c=d HTTP/1.1\r\nHost: x\r\n\r\nBODY";

	assert_int_equal(parse("CONNECT api.github.com:443 HTTP/1.1\r\n"
			       "Host: api.github.com:443\r\n\r\n", &req), 0);
	assert_int_equal(req.kind, EG_REQ_CONNECT);
	assert_string_equal(req.method, "CONNECT");
	assert_string_equal(req.target.host, "api.github.com");
	assert_int_equal(req.target.port, 443);

	assert_int_equal(parse("CONNECT [::1]:8443 HTTP/1.0\r\n\r\n", &req), 0);
	assert_true(req.target.is_ip);
	assert_int_equal(req.target.family, AF_INET6);
	assert_string_equal(req.target.host, "::1");

	assert_int_equal(parse(get, &req), 0);
	assert_int_equal(req.kind, EG_REQ_FORWARD);
	assert_string_equal(req.target.host, "example.com");
	assert_int_equal(req.target.port, 8080);
	assert_int_equal(req.head_len, strlen(get) - 4);
	assert_memory_equal(get + req.path_off, "/a/b?c=d", req.path_len);

	assert_int_equal(parse("POST http://1.2.3.4 HTTP/1.1\r\nContent-Length: 3\r\n"
			       "Content-Length: 3\r\n\r\n", &req), 0);
	assert_int_equal(req.target.port, 80);
	assert_int_equal(req.path_len, 0);
	assert_int_equal(parse("GET HTTP://h.example?x HTTP/1.1\r\n"
			       "Transfer-Encoding: Chunked\r\n\r\n", &req), 0);
	assert_int_equal(parse("OPTIONS http://[2001:db8::1]:81/ HTTP/1.1\r\nX: a\tb \r\n"
			       "Empty:\r\n\r\n", &req), 0);
	assert_int_equal(req.target.port, 81);

	/* Not complete yet: read more. */
	assert_int_equal(parse("", &req), -EAGAIN);
	assert_int_equal(parse("CONNECT a.b:443 HTTP/1.1\r\n", &req), -EAGAIN);
	assert_int_equal(parse("CONNECT a.b:443 HTTP/1.1\r\n\r", &req), -EAGAIN);
}

static void test_parse_refused(void **state)
{
	char big[EG_HEAD_MAX + 64];
	struct mg_buf many;
	struct eg_request req;

	expect_refused("HELLO\r\n\r\n", 400, "request line");
	expect_refused("GET /index.html HTTP/1.1\r\nHost: a.b\r\n\r\n", 400, "absolute");
	expect_refused("GET * HTTP/1.1\r\n\r\n", 400, "absolute");
	expect_refused("GET https://a.b/ HTTP/1.1\r\n\r\n", 400, "CONNECT");
	expect_refused("GET ftp://a.b/ HTTP/1.1\r\n\r\n", 400, "http://");
	expect_refused("GET http://user:pw@a.b/ HTTP/1.1\r\n\r\n", 400, "credentials");
	expect_refused("GET http://a.b/#x HTTP/1.1\r\n\r\n", 400, "fragment");
	expect_refused("GET http://a.b:/ HTTP/1.1\r\n\r\n", 400, "port");
	expect_refused("GET http://a.b:99999/ HTTP/1.1\r\n\r\n", 400, "port");
	expect_refused("GET http:/// HTTP/1.1\r\n\r\n", 400, "no host");
	expect_refused("GET http://127.1/ HTTP/1.1\r\n\r\n", 400, "IPv4");
	expect_refused("GET http://[::1/ HTTP/1.1\r\n\r\n", 400, "unclosed");
	expect_refused("GET http://[::1]x/ HTTP/1.1\r\n\r\n", 400, "after the IPv6");
	expect_refused("CONNECT a.b HTTP/1.1\r\n\r\n", 400, "host:port");
	expect_refused("CONNECT a.b:443:1 HTTP/1.1\r\n\r\n", 400, "more than one");
	expect_refused("CONNECT ::1:443 HTTP/1.1\r\n\r\n", 400, "brackets");
	expect_refused("CONNECT  a.b:443 HTTP/1.1\r\n\r\n", 400, "request line");
	expect_refused("CONNECT a.b:443 HTTP/1.1 \r\n\r\n", 400, "request line");
	expect_refused("CONNECT a.b:443 http/1.1\r\n\r\n", 400, "request line");
	expect_refused("CONNECT a.b:443 HTTP/1.1\n\n", 400, "bare");
	expect_refused("CONNECT a.b:443 HTTP/1.1\r\nX: y\n\r\n\r\n", 400, "bare");
	expect_refused("CONNECT a.b:443\r HTTP/1.1\r\n\r\n", 400, "bare");
	expect_refused("CONNECT a.b:443 HTTP/1.1\r\nX: y\r\n z\r\n\r\n", 400, "folded");
	expect_refused("CONNECT a.b:443 HTTP/1.1\r\nX : y\r\n\r\n", 400, "header line");
	expect_refused("CONNECT a.b:443 HTTP/1.1\r\nNoColon\r\n\r\n", 400, "header line");
	expect_refused("CONNECT a.b:443 HTTP/1.1\r\n: y\r\n\r\n", 400, "header line");
	expect_refused("CONNECT a.b:443 HTTP/1.1\r\nX: \x01\r\n\r\n", 400, "control");
	expect_refused("CONNECT a.b:443 HTTP/1.1\r\nConnection: a b\r\n\r\n", 400, "Connection");
	expect_refused("\r\n\r\n", 400, "empty");
	expect_refused("GET http://a.b/\x7f HTTP/1.1\r\n\r\n", 400, "characters");
	expect_refused("POST http://a.b/ HTTP/1.1\r\nContent-Length: 1\r\n"
		       "Content-Length: 2\r\n\r\n", 400, "conflicting");
	expect_refused("POST http://a.b/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400,
		       "Content-Length");
	expect_refused("POST http://a.b/ HTTP/1.1\r\nContent-Length: 1\r\n"
		       "Transfer-Encoding: chunked\r\n\r\n", 400, "both");
	expect_refused("POST http://a.b/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		       501, "chunked");
	expect_refused("POST http://a.b/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
		       "Transfer-Encoding: chunked\r\n\r\n", 501, "chunked");
	expect_refused("TRACE http://a.b/ HTTP/1.1\r\n\r\n", 405, "method");
	expect_refused("get http://a.b/ HTTP/1.1\r\n\r\n", 405, "method");
	expect_refused("PROPFIND http://a.b/ HTTP/1.1\r\n\r\n", 405, "method");
	expect_refused("CONNECT a.b:443 HTTP/2.0\r\n\r\n", 505, "HTTP/1");

	/* No blank line within the cap: 431, however the bytes arrive. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "CONNECT a.b:443 HTTP/1.1\r\nX: ", 29);
	assert_int_equal(eg_parse_request(big, EG_HEAD_MAX - 1, &req), -EAGAIN);
	assert_int_equal(eg_parse_request(big, EG_HEAD_MAX, &req), -EPROTO);
	assert_int_equal(req.status, 431);
	assert_int_equal(eg_parse_request(big, sizeof(big), &req), -EPROTO);
	assert_int_equal(req.status, 431);
	/* A blank line just past the cap is still too late. */
	memcpy(big + EG_HEAD_MAX - 2, "\r\n\r\n", 4);
	assert_int_equal(eg_parse_request(big, EG_HEAD_MAX + 2, &req), -EPROTO);
	assert_int_equal(req.status, 431);
	memcpy(big + EG_HEAD_MAX - 4, "\r\n\r\n", 4);
	assert_int_equal(eg_parse_request(big, EG_HEAD_MAX, &req), 0);

	mg_buf_init(&many, EG_HEAD_MAX);
	assert_int_equal(mg_buf_adds(&many, "CONNECT a.b:443 HTTP/1.1\r\n"), 0);
	for (int i = 0; i <= EG_HEADERS_MAX; i++)
		assert_int_equal(mg_buf_addf(&many, "X%d: y\r\n", i), 0);
	assert_int_equal(mg_buf_adds(&many, "\r\n"), 0);
	expect_refused(many.data, 431, "too many headers");
	mg_buf_release(&many);
}

static void test_rewrite(void **state)
{
	const char *head =
		"GET http://Example.com:8080/a?b HTTP/1.1\r\n"
		"Host: evil.example\r\n"
		"Proxy-Authorization: Basic c2VjcmV0\r\n"
		"Proxy-Connection: keep-alive\r\n"
		"Connection: keep-alive, X-Hop, Content-Length\r\n"
		"Keep-Alive: 300\r\n"
		"TE: trailers\r\n"
		"Upgrade: websocket\r\n"
		"X-Hop: 1\r\n"
		"Content-Length: 0\r\n"
		"Accept: */*\r\n"
		"User-Agent: t\r\n\r\n";
	struct eg_request req;
	struct mg_buf out;

	assert_int_equal(parse(head, &req), 0);
	mg_buf_init(&out, EG_HEAD_MAX + 1024);
	assert_int_equal(eg_rewrite_request(head, &req, &out), 0);
	assert_string_equal(out.data, "GET /a?b HTTP/1.1\r\n"
			    "Host: example.com:8080\r\n"
			    "Content-Length: 0\r\n"
			    "Accept: */*\r\n"
			    "User-Agent: t\r\n"
			    "Connection: close\r\n\r\n");
	mg_buf_release(&out);

	head = "HEAD http://[::1]?q HTTP/1.0\r\n\r\n";
	assert_int_equal(parse(head, &req), 0);
	mg_buf_init(&out, 1024);
	assert_int_equal(eg_rewrite_request(head, &req, &out), 0);
	assert_string_equal(out.data, "HEAD /?q HTTP/1.0\r\nHost: [::1]\r\nConnection: close\r\n\r\n");
	mg_buf_release(&out);

	/* Over the output cap: nothing appended. */
	mg_buf_init(&out, 16);
	assert_int_equal(eg_rewrite_request(head, &req, &out), -EMSGSIZE);
	assert_int_equal(out.len, 0);
	mg_buf_release(&out);

	mg_buf_init(&out, 1024);
	assert_int_equal(eg_answer(403, "nope", &out), 0);
	assert_string_equal(out.data, "HTTP/1.1 403 Forbidden\r\n"
			    "Content-Type: text/plain; charset=utf-8\r\n"
			    "Content-Length: 22\r\nConnection: close\r\n\r\n"
			    "mcpguard egress: nope\n");
	mg_buf_release(&out);
}

/* ---- the proxy on a real loop ---- */

#define WAIT_MS 5000

static int listen_local(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static int connect_local(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool wait_readable(int fd, int ms)
{
	struct pollfd pf = { fd, POLLIN, 0 };

	return poll(&pf, 1, ms) > 0;
}

/* Read until needle (when given) or EOF; NUL-terminated; the count. */
static size_t read_some(int fd, char *out, size_t cap, const char *needle)
{
	size_t n = 0;

	while (n + 1 < cap && wait_readable(fd, WAIT_MS)) {
		ssize_t r = read(fd, out + n, cap - 1 - n);

		if (r <= 0)
			break;
		n += (size_t)r;
		out[n] = '\0';
		if (needle && strstr(out, needle))
			break;
	}
	out[n] = '\0';
	return n;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		assert_true(w > 0);
		p += w;
		n -= (size_t)w;
	}
}

/* The target: one connection at a time.  A request starting "GET " gets a
 * short answer (and its head is kept); anything else is echoed to EOF.
 * With record, everything the connection brings until EOF is kept in
 * head, then answered like a GET. */
struct target {
	int fd, port;
	pthread_t th;
	volatile bool stop;
	bool record;
	pthread_mutex_t mu;
	char head[4096];
	int conns;
};

static void serve_one(struct target *t, int s)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n"
				 "\r\nhello";
	char buf[65536];
	ssize_t n;

	if (t->record) {
		read_some(s, buf, sizeof(t->head), NULL);
		pthread_mutex_lock(&t->mu);
		mg_strlcpy(t->head, buf, sizeof(t->head));
		pthread_mutex_unlock(&t->mu);
		write_all(s, ok, sizeof(ok) - 1);
		return;
	}
	n = wait_readable(s, WAIT_MS) ? read(s, buf, sizeof(buf) - 1) : -1;

	if (n > 4 && memcmp(buf, "GET ", 4) == 0) {
		buf[n] = '\0';
		if (!strstr(buf, "\r\n\r\n"))
			read_some(s, buf + n, sizeof(buf) - (size_t)n, "\r\n\r\n");
		pthread_mutex_lock(&t->mu);
		mg_strlcpy(t->head, buf, sizeof(t->head));
		pthread_mutex_unlock(&t->mu);
		write_all(s, ok, sizeof(ok) - 1);
		return;
	}
	while (n > 0) {
		write_all(s, buf, (size_t)n);
		n = wait_readable(s, WAIT_MS) ? read(s, buf, sizeof(buf)) : -1;
	}
}

static void *target_main(void *arg)
{
	struct target *t = arg;

	while (!t->stop) {
		int s;

		if (!wait_readable(t->fd, 50))
			continue;
		s = accept4(t->fd, NULL, NULL, SOCK_CLOEXEC);
		if (s < 0)
			continue;
		pthread_mutex_lock(&t->mu);
		t->conns++;
		pthread_mutex_unlock(&t->mu);
		serve_one(t, s);
		close(s);
	}
	return NULL;
}

static int target_conns(struct target *t)
{
	int n;

	pthread_mutex_lock(&t->mu);
	n = t->conns;
	pthread_mutex_unlock(&t->mu);
	return n;
}

/* A client runs in a thread while the test thread runs the loop. */
struct env;
struct client {
	struct env *e;
	void (*fn)(struct client *);
	const char *req;
	char resp[16384];
	size_t resp_len;
	pthread_t th;
	bool signalled;         /* fn woke the loop itself */
	int fd;                 /* a connection made before fn runs (limits_client) */
};

struct env {
	uv_loop_t loop;
	uv_async_t done;
	struct eg_proxy *proxy;
	struct eg_policy pol;
	int port;
	struct target tgt;
	int decisions;
	struct eg_decision last;
	char last_reason[512], last_address[128], last_target[300];
	bool closed;
};

static void on_decision(void *ctx, const struct eg_decision *d)
{
	struct env *e = ctx;

	e->decisions++;
	e->last = *d;
	snprintf(e->last_reason, sizeof(e->last_reason), "%s", d->reason ? d->reason : "");
	snprintf(e->last_address, sizeof(e->last_address), "%s", d->address ? d->address : "");
	snprintf(e->last_target, sizeof(e->last_target), "%s", d->target);
}

static void on_done(uv_async_t *a)
{
	uv_stop(a->loop);
}

static void *client_main(void *arg)
{
	struct client *c = arg;

	c->fn(c);
	if (!c->signalled)
		uv_async_send(&c->e->done);
	return NULL;
}

/* Run fn in a thread; the loop runs until it is done. */
static void run_client(struct env *e, struct client *c)
{
	c->e = e;
	c->resp[0] = '\0';
	c->resp_len = 0;
	assert_int_equal(pthread_create(&c->th, NULL, client_main, c), 0);
	uv_run(&e->loop, UV_RUN_DEFAULT);
	pthread_join(c->th, NULL);
}

/* Send the request, read the answer to EOF. */
static void plain_client(struct client *c)
{
	int fd = connect_local(c->e->port);

	assert_true(fd >= 0);
	write_all(fd, c->req, strlen(c->req));
	c->resp_len = read_some(fd, c->resp, sizeof(c->resp), NULL);
	close(fd);
}

/* CONNECT, then "ping" through the tunnel, half-close, read to EOF. */
static void tunnel_client(struct client *c)
{
	int fd = connect_local(c->e->port);
	size_t n;

	assert_true(fd >= 0);
	write_all(fd, c->req, strlen(c->req));
	n = read_some(fd, c->resp, sizeof(c->resp), "\r\n\r\n");
	if (strncmp(c->resp, "HTTP/1.1 200 ", 13) == 0) {
		write_all(fd, "ping", 4);
		shutdown(fd, SHUT_WR);
	}
	c->resp_len = n + read_some(fd, c->resp + n, sizeof(c->resp) - n, NULL);
	close(fd);
}

static void env_open(struct env *e, char **specs, const struct eg_limits *lim)
{
	struct eg_proxy_config cfg = { &e->pol, "test", { 0 }, on_decision, e };
	struct mg_err err;
	int fd;

	memset(e, 0, sizeof(*e));
	assert_int_equal(uv_loop_init(&e->loop), 0);
	assert_int_equal(uv_async_init(&e->loop, &e->done, on_done), 0);
	if (lim)
		cfg.limits = *lim;
	assert_int_equal(eg_policy_parse(&e->pol, specs, &err), 0);
	fd = listen_local(&e->port);
	if (eg_proxy_open(&e->loop, fd, &cfg, &e->proxy, &err))
		fail_msg("%s", err.msg);
}

static void on_proxy_closed(void *ctx)
{
	struct env *e = ctx;

	e->closed = true;
}

static void env_close(struct env *e)
{
	eg_proxy_close(e->proxy, on_proxy_closed, e);
	uv_close((uv_handle_t *)&e->done, NULL);
	uv_run(&e->loop, UV_RUN_DEFAULT);
	assert_true(e->closed);
	assert_int_equal(uv_loop_close(&e->loop), 0);
	eg_policy_release(&e->pol);
}

static void target_start_as(struct target *t, bool record)
{
	memset(t, 0, sizeof(*t));
	t->record = record;
	pthread_mutex_init(&t->mu, NULL);
	t->fd = listen_local(&t->port);
	assert_int_equal(pthread_create(&t->th, NULL, target_main, t), 0);
}

static void target_start(struct target *t)
{
	target_start_as(t, false);
}

static void target_stop(struct target *t)
{
	t->stop = true;
	pthread_join(t->th, NULL);
	close(t->fd);
	pthread_mutex_destroy(&t->mu);
}

/* A port with nothing listening on it (bound, then closed). */
static int dead_port(void)
{
	int port, fd = listen_local(&port);

	close(fd);
	return port;
}

static void expect_answer(struct env *e, const char *req, int status, const char *reason)
{
	struct client c = { .fn = plain_client, .req = req };
	char line[64];
	int before = e->decisions;

	run_client(e, &c);
	snprintf(line, sizeof(line), "HTTP/1.1 %d ", status);
	if (strncmp(c.resp, line, strlen(line)) != 0)
		fail_msg("%s: got %s", req, c.resp);
	assert_int_equal(e->decisions, before + 1);
	assert_false(e->last.allowed);
	assert_int_equal(e->last.status, status);
	if (!strstr(e->last_reason, reason) || !strstr(c.resp, reason))
		fail_msg("%s: reason '%s', expected '%s'", req, e->last_reason, reason);
	assert_non_null(strstr(c.resp, "Connection: close\r\n"));
}

static void test_proxy(void **state)
{
	char specs_buf[4][64], *specs[5], req[512];
	struct client c = { 0 };
	struct env e;
	struct target *t;
	struct eg_stats st;
	int dead = dead_port(), conns;

	/* The target first: the policy names its port. */
	struct target tgt;

	target_start(&tgt);
	snprintf(specs_buf[0], sizeof(specs_buf[0]), "127.0.0.1:%d", tgt.port);
	snprintf(specs_buf[1], sizeof(specs_buf[1]), "localhost:%d", tgt.port);
	snprintf(specs_buf[2], sizeof(specs_buf[2]), "169.254.169.254:80");
	snprintf(specs_buf[3], sizeof(specs_buf[3]), "127.0.0.1:%d", dead);
	for (int i = 0; i < 4; i++)
		specs[i] = specs_buf[i];
	specs[4] = NULL;
	env_open(&e, specs, NULL);
	t = &tgt;

	/* CONNECT to a listed literal (internal, but named exactly). */
	snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n", t->port);
	c = (struct client){ .fn = tunnel_client, .req = req };
	run_client(&e, &c);
	assert_string_equal(c.resp, "HTTP/1.1 200 Connection established\r\n\r\nping");
	assert_true(e.last.allowed);
	assert_int_equal(e.last.status, 200);
	snprintf(req, sizeof(req), "127.0.0.1:%d", t->port);
	assert_string_equal(e.last_address, req);
	assert_string_equal(e.last_target, req);

	/* A plain GET: origin form upstream, proxy and hop-by-hop headers gone. */
	snprintf(req, sizeof(req), "GET http://127.0.0.1:%d/path?q=1 HTTP/1.1\r\nHost: other\r\n"
		 "Proxy-Authorization: Basic c2VjcmV0\r\nProxy-Connection: keep-alive\r\n"
		 "Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nAccept: */*\r\n\r\n", t->port);
	c = (struct client){ .fn = plain_client, .req = req };
	run_client(&e, &c);
	assert_non_null(strstr(c.resp, "HTTP/1.1 200 OK\r\n"));
	assert_true(c.resp_len >= 5 && strcmp(c.resp + c.resp_len - 5, "hello") == 0);
	assert_true(e.last.allowed);
	pthread_mutex_lock(&t->mu);
	snprintf(req, sizeof(req), "GET /path?q=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
		 "Accept: */*\r\nConnection: close\r\n\r\n", t->port);
	assert_string_equal(t->head, req);
	pthread_mutex_unlock(&t->mu);

	/* Refusals: none of them reaches the target. */
	conns = target_conns(t);
	snprintf(req, sizeof(req), "CONNECT localhost:%d HTTP/1.1\r\n\r\n", t->port);
	expect_answer(&e, req, 403, "resolves to");
	assert_true(strstr(e.last_reason, "loopback") != NULL);
	snprintf(req, sizeof(req), "GET http://localhost:%d/ HTTP/1.1\r\n\r\n", t->port);
	expect_answer(&e, req, 403, "loopback");
	expect_answer(&e, "CONNECT example.com:443 HTTP/1.1\r\n\r\n", 403,
		      "example.com:443 is not in the allowlist");
	snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n", t->port + 1);
	expect_answer(&e, req, 403, "not in the allowlist");
	snprintf(req, sizeof(req), "CONNECT [::ffff:127.0.0.1]:%d HTTP/1.1\r\n\r\n", t->port);
	expect_answer(&e, req, 403, "not in the allowlist");
	expect_answer(&e, "CONNECT 169.254.169.254:80 HTTP/1.1\r\n\r\n", 403, "metadata");
	expect_answer(&e, "GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\n\r\n", 403,
		      "metadata");
	expect_answer(&e, "HELLO\r\n\r\n", 400, "request line");
	expect_answer(&e, "GET /index.html HTTP/1.1\r\n\r\n", 400, "absolute");
	expect_answer(&e, "TRACE http://a.b/ HTTP/1.1\r\n\r\n", 405, "method");
	assert_int_equal(target_conns(t), conns);

	/* A listed address where nothing listens: 502. */
	snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n", dead);
	expect_answer(&e, req, 502, "cannot connect to 127.0.0.1");

	/* An oversized head: 431. */
	{
		char *big = mg_malloc(EG_HEAD_MAX + 100);

		memset(big, 'a', EG_HEAD_MAX + 99);
		memcpy(big, "CONNECT a.b:443 HTTP/1.1\r\nX: ", 29);
		big[EG_HEAD_MAX + 99] = '\0';
		expect_answer(&e, big, 431, "8 KiB");
		free(big);
	}

	eg_proxy_stats(e.proxy, &st);
	assert_int_equal(st.allowed, 2);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.denied, 11);
	env_close(&e);
	target_stop(t);
}

/* Many bytes through a tunnel with a small queue: reading pauses and
 * resumes, and every byte arrives in order. */
#define BULK (4u << 20)

static void bulk_client(struct client *c)
{
	int fd = connect_local(c->e->port);
	unsigned char *out = mg_malloc(BULK), *in = mg_malloc(BULK);
	size_t sent = 0, got = 0;
	char head[128];

	assert_true(fd >= 0);
	for (size_t i = 0; i < BULK; i++)
		out[i] = (unsigned char)(i * 7 + i / 251);
	write_all(fd, c->req, strlen(c->req));
	read_some(fd, head, sizeof(head), "\r\n\r\n");
	assert_string_equal(head, "HTTP/1.1 200 Connection established\r\n\r\n");
	while (got < BULK) {
		struct pollfd pf = { fd, (short)(POLLIN | (sent < BULK ? POLLOUT : 0)), 0 };
		ssize_t n;

		assert_true(poll(&pf, 1, WAIT_MS) > 0);
		if ((pf.revents & POLLOUT) && sent < BULK) {
			n = send(fd, out + sent, BULK - sent > 65536 ? 65536 : BULK - sent,
				 MSG_DONTWAIT);
			if (n > 0)
				sent += (size_t)n;
		}
		if (pf.revents & POLLIN) {
			n = recv(fd, in + got, BULK - got, MSG_DONTWAIT);
			assert_true(n > 0);
			got += (size_t)n;
		}
	}
	assert_memory_equal(in, out, BULK);
	snprintf(c->resp, sizeof(c->resp), "ok");
	free(out);
	free(in);
	close(fd);
}

/* CONNECT, see 200, then report (the test closes the proxy meanwhile) and
 * wait for EOF. */
static void held_client(struct client *c)
{
	int fd = connect_local(c->e->port);
	char head[128];

	assert_true(fd >= 0);
	write_all(fd, c->req, strlen(c->req));
	read_some(fd, head, sizeof(head), "\r\n\r\n");
	assert_string_equal(head, "HTTP/1.1 200 Connection established\r\n\r\n");
	c->signalled = true;
	uv_async_send(&c->e->done);
	c->resp_len = read_some(fd, c->resp, sizeof(c->resp), NULL);
	snprintf(c->resp, sizeof(c->resp), "%s", c->resp_len == 0 ? "eof" : "data");
	close(fd);
}

static void test_proxy_bulk_and_close(void **state)
{
	struct eg_limits lim = { .queue_max = 16 * 1024 };
	char spec[64], *specs[] = { spec, NULL }, req[128];
	struct client c = { 0 };
	struct target tgt;
	struct env e;

	target_start(&tgt);
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", tgt.port);
	env_open(&e, specs, &lim);
	snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n", tgt.port);
	c = (struct client){ .fn = bulk_client, .req = req };
	run_client(&e, &c);
	assert_string_equal(c.resp, "ok");

	/* Closing the proxy closes an open tunnel. */
	c = (struct client){ .fn = held_client, .req = req, .e = &e };
	assert_int_equal(pthread_create(&c.th, NULL, client_main, &c), 0);
	uv_run(&e.loop, UV_RUN_DEFAULT);        /* until the tunnel is up */
	env_close(&e);
	pthread_join(c.th, NULL);
	assert_string_equal(c.resp, "eof");
	target_stop(&tgt);
}

/* The cap on connections, and the head timeout: a, already accepted (the
 * proxy is at its cap), says nothing; b comes over the cap. */
static void limits_client(struct client *c)
{
	int a = c->fd, b;
	char buf[512];

	b = connect_local(c->e->port);
	assert_true(b >= 0);
	assert_int_equal(read_some(b, buf, sizeof(buf), NULL), 0);      /* closed at once */
	close(b);
	read_some(a, c->resp, sizeof(c->resp), NULL);                  /* 408 in time */
	close(a);
}

static void test_proxy_limits(void **state)
{
	struct eg_limits lim = { .max_conns = 1, .head_timeout_ms = 500 };
	char *specs[] = { NULL };
	struct client c = { .fn = limits_client };
	struct eg_stats st;
	struct env e;

	env_open(&e, specs, &lim);
	/* a first, and the loop run until the proxy has taken it in. */
	c.fd = connect_local(e.port);
	assert_true(c.fd >= 0);
	for (int i = 0; i < 100 && (eg_proxy_stats(e.proxy, &st), st.conns == 0); i++)
		uv_run(&e.loop, UV_RUN_ONCE);
	assert_int_equal(st.conns, 1);
	run_client(&e, &c);
	assert_true(strncmp(c.resp, "HTTP/1.1 408 ", 13) == 0);
	assert_non_null(strstr(c.resp, "no complete request head within 500 ms"));
	eg_proxy_stats(e.proxy, &st);
	assert_int_equal(st.denied, 2);
	assert_int_equal(st.allowed, 0);
	env_close(&e);
}

/* Send the request (all of it in one write), half-close, read to EOF. */
static void pipelined_client(struct client *c)
{
	int fd = connect_local(c->e->port);

	assert_true(fd >= 0);
	write_all(fd, c->req, strlen(c->req));
	shutdown(fd, SHUT_WR);
	c->resp_len = read_some(fd, c->resp, sizeof(c->resp), NULL);
	close(fd);
}

/* What the target got from one connection carrying req. */
static void forwarded(struct env *e, struct target *t, const char *req, char *got, size_t size)
{
	struct client c = { .fn = pipelined_client, .req = req };
	int before = e->decisions;

	run_client(e, &c);
	assert_non_null(strstr(c.resp, "HTTP/1.1 200 OK\r\n"));
	assert_true(c.resp_len >= 5 && strcmp(c.resp + c.resp_len - 5, "hello") == 0);
	assert_int_equal(e->decisions, before + 1);     /* one request, one decision */
	pthread_mutex_lock(&t->mu);
	mg_strlcpy(got, t->head, size);
	pthread_mutex_unlock(&t->mu);
}

/* A plain HTTP request is forwarded alone: bytes after it (a second
 * request with its own method, Host and Proxy-Authorization, pipelined in
 * the same write) never reach the upstream, whatever the body's framing.
 * After a CONNECT, the bytes that follow belong to the tunnel and go to
 * the checked destination only. */
static void test_proxy_one_request_per_connection(void **state)
{
	char spec[64], *specs[] = { spec, NULL }, req[1024], want[1024], got[4096];
	struct client c = { 0 };
	struct target tgt, echo;
	struct env e;
	int conns;

	target_start_as(&tgt, true);
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", tgt.port);
	env_open(&e, specs, NULL);

	/* No body: the request ends with its head. */
	snprintf(req, sizeof(req), "GET http://127.0.0.1:%d/first HTTP/1.1\r\nHost: x\r\n\r\n"
		 "GET http://127.0.0.1:%d/second HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
		 "Proxy-Authorization: Basic c2VjcmV0\r\n\r\n", tgt.port, tgt.port, tgt.port);
	forwarded(&e, &tgt, req, got, sizeof(got));
	snprintf(want, sizeof(want), "GET /first HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
		 "Connection: close\r\n\r\n", tgt.port);
	assert_string_equal(got, want);

	/* Content-Length: that many bytes, then nothing. */
	snprintf(req, sizeof(req), "POST http://127.0.0.1:%d/p HTTP/1.1\r\nContent-Length: 4\r\n"
		 "\r\nbodyDELETE http://127.0.0.1:%d/all HTTP/1.1\r\n\r\n", tgt.port, tgt.port);
	forwarded(&e, &tgt, req, got, sizeof(got));
	snprintf(want, sizeof(want), "POST /p HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
		 "Content-Length: 4\r\nConnection: close\r\n\r\nbody", tgt.port);
	assert_string_equal(got, want);

	/* Chunked: through the last chunk and the trailers, then nothing. */
	snprintf(req, sizeof(req), "PUT http://127.0.0.1:%d/c HTTP/1.1\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n4;x=y\r\nbody\r\nA\r\n0123456789\r\n"
		 "0\r\nX-Trailer: 1\r\n\r\nGET http://127.0.0.1:%d/after HTTP/1.1\r\n\r\n",
		 tgt.port, tgt.port);
	forwarded(&e, &tgt, req, got, sizeof(got));
	snprintf(want, sizeof(want), "PUT /c HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
		 "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n4;x=y\r\nbody\r\n"
		 "A\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n", tgt.port);
	assert_string_equal(got, want);

	/* Malformed chunked framing: the connection ends there; what was
	 * forwarded stops before it. */
	snprintf(req, sizeof(req), "POST http://127.0.0.1:%d/bad HTTP/1.1\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n4\nbody\r\n0\r\n\r\n"
		 "GET http://127.0.0.1:%d/after HTTP/1.1\r\n\r\n", tgt.port, tgt.port);
	c = (struct client){ .fn = pipelined_client, .req = req };
	run_client(&e, &c);
	pthread_mutex_lock(&tgt.mu);
	assert_null(strstr(tgt.head, "/after"));
	assert_null(strstr(tgt.head, "body"));
	pthread_mutex_unlock(&tgt.mu);
	env_close(&e);
	target_stop(&tgt);

	/* CONNECT: bytes sent before the 200 (a TLS ClientHello, or anything)
	 * go through the tunnel to the checked destination; a refused CONNECT
	 * takes its pipelined bytes with it. */
	target_start(&echo);
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", echo.port);
	env_open(&e, specs, NULL);
	snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\nearly bytes", echo.port);
	c = (struct client){ .fn = pipelined_client, .req = req };
	run_client(&e, &c);
	assert_string_equal(c.resp, "HTTP/1.1 200 Connection established\r\n\r\nearly bytes");
	conns = target_conns(&echo);
	snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n"
		 "CONNECT 127.0.0.1:%d HTTP/1.1\r\n\r\n", echo.port + 1, echo.port);
	expect_answer(&e, req, 403, "not in the allowlist");
	assert_int_equal(target_conns(&echo), conns);
	env_close(&e);
	target_stop(&echo);
}

static void test_proxy_open_rejects(void **state)
{
	struct eg_policy pol = { 0 };
	struct eg_proxy_config cfg = { &pol, "x", { 0 }, NULL, NULL };
	struct eg_proxy *p = (struct eg_proxy *)1;
	struct mg_err err;
	uv_loop_t loop;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	uv_loop_init(&loop);
	assert_int_equal(eg_proxy_open(&loop, fd, &cfg, &p, &err), -EINVAL);
	assert_null(p);
	assert_non_null(strstr(err.msg, "not a listening TCP socket"));
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_good),
		cmocka_unit_test(test_policy_bad),
		cmocka_unit_test(test_policy_match),
		cmocka_unit_test(test_addr_classes),
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_rewrite),
		cmocka_unit_test(test_proxy),
		cmocka_unit_test(test_proxy_bulk_and_close),
		cmocka_unit_test(test_proxy_limits),
		cmocka_unit_test(test_proxy_one_request_per_connection),
		cmocka_unit_test(test_proxy_open_rejects),
	};

	signal(SIGPIPE, SIG_IGN);
	mg_log_set_level(MG_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
