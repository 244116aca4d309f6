/* The egress proxy's HTTP: parsing the request head a sandboxed program
 * sends (untrusted input: fuzzed by tests/fuzz/fuzz_egress.c), the head
 * forwarded upstream for a plain HTTP request, and the short answers.
 * Pure: no I/O. */
#ifndef MG_RT_EGRESS_HTTP_H
#define MG_RT_EGRESS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "runtime/egress_policy.h"

#define EG_HEAD_MAX 8192        /* request line + headers + blank line */
#define EG_HEADERS_MAX 100
#define EG_METHOD_MAX 15

enum eg_req_kind {
	EG_REQ_CONNECT,         /* CONNECT host:port: a tunnel */
	EG_REQ_FORWARD,         /* GET http://host[:port]/path: forwarded */
};

struct eg_request {
	enum eg_req_kind kind;
	char method[EG_METHOD_MAX + 1];
	struct eg_target target;        /* port 80 when a URL has none */
	size_t head_len;                /* through the blank line */
	/* EG_REQ_FORWARD: path and query of the URL within the head (may be
	 * empty, or start with '?'), and the version ("HTTP/1.x"). */
	size_t path_off, path_len;
	size_t version_off;
	/* EG_REQ_FORWARD: the body's framing (neither: no body). */
	bool chunked;
	bool has_length;
	uint64_t content_length;
	/* On -EPROTO: the status to answer and a static reason. */
	int status;
	const char *why;
};

/* Parse the head at the start of buf[0..len).  0: complete (req filled,
 * req->head_len bytes used; what follows is body or tunnel data).
 * -EAGAIN: no blank line yet and len < EG_HEAD_MAX: read more.  -EPROTO:
 * refused, req->status and req->why say why: 400 bad syntax (bare CR or
 * LF, obs-fold, bad tokens, a URL that is not http://, credentials in the
 * URL, an origin-form target: this is a proxy), 405 a method other than
 * CONNECT, GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, 431 no blank
 * line within EG_HEAD_MAX bytes or too many headers, 501 a transfer
 * coding other than chunked, 505 an HTTP version other than 1.0/1.1. */
int eg_parse_request(const char *buf, size_t len, struct eg_request *req);

/* The head to send upstream for an EG_REQ_FORWARD request parsed from
 * head: origin form, Host from the URL, the Proxy-* and hop-by-hop headers
 * (Connection, Keep-Alive, TE, Upgrade and those Connection names, except
 * the body's framing) dropped, "Connection: close" added.  Appended to
 * out; 0 or -EMSGSIZE (out's cap). */
int eg_rewrite_request(const char *head, const struct eg_request *req, struct mg_buf *out);

/* Where the body of a forwarded request ends, so that exactly one request
 * goes upstream: what follows it on the connection (a second request, with
 * its own method, Host and Proxy-Authorization) is never forwarded.  The
 * body is Content-Length bytes, or chunked (RFC 9112 7.1: hex sizes with
 * optional extensions, data, CRLF; the last chunk; trailer lines; CRLF),
 * or nothing.  Parsed strictly (CRLF only, no bare CR or LF, no signs,
 * prefixes or spaces in a size, no folded trailers, a size line and the
 * trailers capped at EG_HEAD_MAX), since the server must find the same
 * end.  The bytes themselves are forwarded as they are. */
struct eg_body {
	uint64_t left;                  /* Content-Length, or chunk data, to go */
	unsigned state;                 /* chunked: where in the framing */
	size_t line;                    /* chunked: bytes of the size line or trailers */
	unsigned digits;                /* chunked: of the current size */
	bool chunked, done;
};

void eg_body_init(struct eg_body *b, const struct eg_request *req);
/* The next n bytes after the head (or after what was fed before): *used
 * of them belong to the body.  1: the body is complete (nothing after
 * *used is forwarded), 0: all n used, more to come, -EPROTO: malformed
 * chunked framing (*used: the bytes before the fault). */
int eg_body_feed(struct eg_body *b, const char *p, size_t n, size_t *used);

/* A complete answer with status, closing the connection, and a one-line
 * plain-text body "mcpguard egress: <reason>".  Appended to out; 0 or
 * -EMSGSIZE. */
int eg_answer(int status, const char *reason, struct mg_buf *out);
const char *eg_status_text(int status);

#endif
