/* The request head a sandboxed program sends to the egress proxy.  Strict
 * on purpose: a plain HTTP request is forwarded, so anything the proxy and
 * the server could read differently (bare LF, folded lines, duplicate or
 * conflicting framing) is refused rather than interpreted. */
#include "runtime/egress_http.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/mem.h"
#include "base/str.h"

#define CONN_TOKENS_MAX 32

struct span {
	const char *p;
	size_t n;
};

static const char *const forward_methods[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH",
					       "OPTIONS" };

static int refuse(struct eg_request *req, int status, const char *why)
{
	req->status = status;
	req->why = why;
	return -EPROTO;
}

static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)p[i]))
			return false;
	return true;
}

static bool span_ieq(struct span s, const char *lit)
{
	return s.n == strlen(lit) && strncasecmp(s.p, lit, s.n) == 0;
}

static struct span trim_ows(const char *p, size_t n)
{
	while (n && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return (struct span){ p, n };
}

/* Next line of the head at *pos (lines end with CRLF; the head was checked
 * to hold no other CR or LF).  False at the blank line. */
static bool next_line(const char *head, size_t head_len, size_t *pos, struct span *line)
{
	const char *p = head + *pos, *crlf = memmem(p, head_len - *pos, "\r\n", 2);

	line->p = p;
	line->n = (size_t)(crlf - p);
	*pos += line->n + 2;
	return line->n > 0;
}

/* No NUL, and CR only before LF, LF only after CR (a CR last in buf may
 * still get its LF). */
static bool bytes_ok(const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (b[i] == '\0')
			return false;
		if (b[i] == '\r' && i + 1 < n && b[i + 1] != '\n')
			return false;
		if (b[i] == '\n' && (i == 0 || b[i - 1] != '\r'))
			return false;
	}
	return true;
}

/* ---- the target ---- */

/* "host[:port]" or "[v6][:port]"; port 0 when absent. */
static int parse_authority(struct span a, bool port_required, struct eg_request *req)
{
	size_t host_n = a.n;
	const char *why = NULL, *colon = NULL;

	if (a.n && a.p[0] == '[') {
		const char *close = memchr(a.p, ']', a.n);

		if (!close)
			return refuse(req, 400, "unclosed '[' in the host");
		host_n = (size_t)(close - a.p) + 1;
		if (host_n < a.n && a.p[host_n] != ':')
			return refuse(req, 400, "bad characters after the IPv6 address");
		colon = host_n < a.n ? a.p + host_n : NULL;
	} else {
		colon = memchr(a.p, ':', a.n);
		if (colon && memchr(colon + 1, ':', (size_t)(a.p + a.n - colon - 1)))
			return refuse(req, 400, "more than one ':' (IPv6 addresses go in brackets)");
		if (colon)
			host_n = (size_t)(colon - a.p);
	}
	if (host_n == 0)
		return refuse(req, 400, "no host");
	if (eg_host_parse(a.p, host_n, &req->target, &why))
		return refuse(req, 400, why);
	req->target.port = 0;
	if (!colon) {
		if (port_required)
			return refuse(req, 400, "CONNECT needs host:port");
		req->target.port = 80;
		return 0;
	}
	if (eg_port_parse(colon + 1, (size_t)(a.p + a.n - colon - 1), &req->target.port))
		return refuse(req, 400, "bad port");
	return 0;
}

/* An absolute http:// URL: the authority, then path and query. */
static int parse_url(struct span t, size_t t_off, struct eg_request *req)
{
	static const char http[] = "http://", https[] = "https://";
	size_t a_end = sizeof(http) - 1;

	if (memchr(t.p, '#', t.n))
		return refuse(req, 400, "a fragment ('#') in the request URL");
	if (t.n >= sizeof(https) - 1 && strncasecmp(t.p, https, sizeof(https) - 1) == 0)
		return refuse(req, 400, "https:// URLs go through CONNECT");
	if (t.n < sizeof(http) - 1 || strncasecmp(t.p, http, sizeof(http) - 1) != 0)
		return refuse(req, 400, t.p[0] == '/' || t.p[0] == '*'
			      ? "not a proxy request: the URL must be absolute (http://host/...)"
			      : "only http:// URLs are forwarded");
	while (a_end < t.n && t.p[a_end] != '/' && t.p[a_end] != '?')
		a_end++;
	if (memchr(t.p, '@', a_end))
		return refuse(req, 400, "credentials in the URL are not accepted");
	req->path_off = t_off + a_end;
	req->path_len = t.n - a_end;
	return parse_authority((struct span){ t.p + sizeof(http) - 1, a_end - (sizeof(http) - 1) },
			       false, req);
}

/* ---- the request line ---- */

static int parse_request_line(struct span l, struct eg_request *req, struct span *method,
			      struct span *target)
{
	const char *sp1 = memchr(l.p, ' ', l.n), *sp2, *v;
	size_t vn;

	if (!sp1)
		return refuse(req, 400, "bad request line");
	*method = (struct span){ l.p, (size_t)(sp1 - l.p) };
	sp2 = memchr(sp1 + 1, ' ', (size_t)(l.p + l.n - sp1 - 1));
	if (!sp2 || !is_token(method->p, method->n))
		return refuse(req, 400, "bad request line");
	*target = (struct span){ sp1 + 1, (size_t)(sp2 - sp1 - 1) };
	if (target->n == 0)
		return refuse(req, 400, "bad request line");
	for (size_t i = 0; i < target->n; i++)
		if ((unsigned char)target->p[i] <= 0x20 || (unsigned char)target->p[i] >= 0x7f)
			return refuse(req, 400, "bad characters in the request target");
	snprintf(req->method, sizeof(req->method), "%.*s", (int)method->n, method->p);
	v = sp2 + 1;
	vn = (size_t)(l.p + l.n - v);
	req->version_off = (size_t)(v - l.p);
	if (vn == 8 && (memcmp(v, "HTTP/1.1", 8) == 0 || memcmp(v, "HTTP/1.0", 8) == 0))
		return 0;
	if (vn == 8 && memcmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9' && v[6] == '.' &&
	    v[7] >= '0' && v[7] <= '9')
		return refuse(req, 505, "only HTTP/1.0 and HTTP/1.1 are spoken here");
	return refuse(req, 400, "bad request line");
}

/* ---- headers ---- */

struct framing {
	struct span length;     /* Content-Length value, if any */
	unsigned te;            /* Transfer-Encoding headers */
	bool te_chunked;        /* ... and the last said exactly "chunked" */
	unsigned conn_tokens;
};

static int count_conn_tokens(struct span v, struct framing *f, struct eg_request *req)
{
	size_t i = 0;

	while (i <= v.n) {
		size_t start = i;
		struct span tok;

		while (i < v.n && v.p[i] != ',')
			i++;
		tok = trim_ows(v.p + start, i - start);
		i++;
		if (tok.n == 0)
			continue;
		if (!is_token(tok.p, tok.n))
			return refuse(req, 400, "bad Connection header");
		if (++f->conn_tokens > CONN_TOKENS_MAX)
			return refuse(req, 400, "too many Connection options");
	}
	return 0;
}

static int parse_header(struct span l, struct framing *f, struct eg_request *req)
{
	const char *colon = memchr(l.p, ':', l.n);
	struct span name, value;

	if (l.p[0] == ' ' || l.p[0] == '\t')
		return refuse(req, 400, "folded header lines are not accepted");
	if (!colon || !is_token(l.p, (size_t)(colon - l.p)))
		return refuse(req, 400, "bad header line");
	name = (struct span){ l.p, (size_t)(colon - l.p) };
	value = trim_ows(colon + 1, (size_t)(l.p + l.n - colon - 1));
	for (size_t i = 0; i < value.n; i++) {
		unsigned char c = (unsigned char)value.p[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return refuse(req, 400, "control characters in a header");
	}
	if (span_ieq(name, "content-length")) {
		if (value.n == 0 || value.n > 18)
			return refuse(req, 400, "bad Content-Length");
		for (size_t i = 0; i < value.n; i++)
			if (value.p[i] < '0' || value.p[i] > '9')
				return refuse(req, 400, "bad Content-Length");
		if (f->length.p && (f->length.n != value.n || memcmp(f->length.p, value.p, value.n)))
			return refuse(req, 400, "conflicting Content-Length headers");
		f->length = value;
	} else if (span_ieq(name, "transfer-encoding")) {
		f->te++;
		f->te_chunked = span_ieq(value, "chunked");
	} else if (span_ieq(name, "connection")) {
		return count_conn_tokens(value, f, req);
	}
	return 0;
}

static bool is_forward_method(struct span m)
{
	for (size_t i = 0; i < MG_ARRAY_LEN(forward_methods); i++)
		if (m.n == strlen(forward_methods[i]) && memcmp(m.p, forward_methods[i], m.n) == 0)
			return true;
	return false;
}

int eg_parse_request(const char *buf, size_t len, struct eg_request *req)
{
	size_t scan = len < EG_HEAD_MAX ? len : EG_HEAD_MAX, pos = 0, headers = 0;
	const char *end = memmem(buf, scan, "\r\n\r\n", 4);
	struct span line, method, target;
	struct framing f;
	int rc;

	memset(req, 0, sizeof(*req));
	memset(&f, 0, sizeof(f));
	if (!bytes_ok(buf, end ? (size_t)(end - buf) + 4 : scan))
		return refuse(req, 400, "bare CR, LF or NUL in the request head");
	if (!end)
		return len < EG_HEAD_MAX ? -EAGAIN
		       : refuse(req, 431, "request head over 8 KiB");
	req->head_len = (size_t)(end - buf) + 4;
	if (!next_line(buf, req->head_len, &pos, &line))
		return refuse(req, 400, "empty request line");
	if ((rc = parse_request_line(line, req, &method, &target)))
		return rc;
	while (next_line(buf, req->head_len, &pos, &line)) {
		if (++headers > EG_HEADERS_MAX)
			return refuse(req, 431, "too many headers");
		if ((rc = parse_header(line, &f, req)))
			return rc;
	}
	if (method.n == 7 && memcmp(method.p, "CONNECT", 7) == 0) {
		req->kind = EG_REQ_CONNECT;
		return parse_authority(target, true, req);
	}
	if (!is_forward_method(method))
		return refuse(req, 405, "method not allowed through this proxy");
	req->kind = EG_REQ_FORWARD;
	if ((rc = parse_url(target, (size_t)(target.p - buf), req)))
		return rc;
	if (f.te && f.length.p)
		return refuse(req, 400, "both Transfer-Encoding and Content-Length");
	if (f.te > 1 || (f.te && !f.te_chunked))
		return refuse(req, 501, "only the chunked transfer coding is forwarded");
	req->chunked = f.te_chunked;
	if (f.length.p) {
		req->has_length = true;
		for (size_t i = 0; i < f.length.n; i++)         /* at most 18 digits */
			req->content_length = req->content_length * 10 +
					      (uint64_t)(f.length.p[i] - '0');
	}
	return 0;
}

/* ---- the body of a forwarded request ---- */

enum {
	CH_SIZE,                /* hex digits of a chunk size */
	CH_EXT,                 /* after the size: extensions, to CR */
	CH_SIZE_LF,             /* LF of the size line */
	CH_DATA,                /* chunk data */
	CH_DATA_CR, CH_DATA_LF, /* CRLF after the data */
	CH_TRAILER_START,       /* a trailer line, or the final CRLF */
	CH_TRAILER,             /* a trailer line, to CR */
	CH_TRAILER_LF,
	CH_END_LF,              /* LF of the final CRLF */
};

#define CH_SIZE_DIGITS 15       /* < 2^60: no overflow, far above any cap */

void eg_body_init(struct eg_body *b, const struct eg_request *req)
{
	memset(b, 0, sizeof(*b));
	b->chunked = req->kind == EG_REQ_FORWARD && req->chunked;
	b->state = CH_SIZE;
	if (!b->chunked) {
		b->left = req->kind == EG_REQ_FORWARD && req->has_length ? req->content_length : 0;
		b->done = b->left == 0;
	}
}

/* A byte allowed in a chunk extension or a trailer line: visible, SP, HTAB
 * or obs-text; never CR, LF, NUL or another control. */
static bool line_byte(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* One byte of chunked framing (not data).  0, or -EPROTO. */
static int chunk_byte(struct eg_body *b, unsigned char c)
{
	int v;

	if (b->state != CH_DATA && ++b->line > EG_HEAD_MAX)
		return -EPROTO;
	switch (b->state) {
	case CH_SIZE:
		if ((v = mg_hexval(c)) >= 0) {
			if (++b->digits > CH_SIZE_DIGITS)
				return -EPROTO;
			b->left = b->left * 16 + (uint64_t)v;
			return 0;
		}
		if (b->digits == 0 || (c != ';' && c != ' ' && c != '\t' && c != '\r'))
			return -EPROTO;
		b->state = c == '\r' ? CH_SIZE_LF : CH_EXT;
		return 0;
	case CH_EXT:
		if (c == '\r')
			b->state = CH_SIZE_LF;
		else if (!line_byte(c))
			return -EPROTO;
		return 0;
	case CH_SIZE_LF:
		if (c != '\n')
			return -EPROTO;
		b->state = b->left ? CH_DATA : CH_TRAILER_START;
		b->line = b->left ? 0 : b->line;        /* the trailers share the cap */
		return 0;
	case CH_DATA_CR:
		if (c != '\r')
			return -EPROTO;
		b->state = CH_DATA_LF;
		return 0;
	case CH_DATA_LF:
		if (c != '\n')
			return -EPROTO;
		b->state = CH_SIZE;
		b->digits = 0;
		b->line = 0;
		return 0;
	case CH_TRAILER_START:
		if (c == '\r') {
			b->state = CH_END_LF;
			return 0;
		}
		if (c == ' ' || c == '\t' || c == ':' || !line_byte(c))
			return -EPROTO;        /* folded, nameless or bad */
		b->state = CH_TRAILER;
		return 0;
	case CH_TRAILER:
		if (c == '\r')
			b->state = CH_TRAILER_LF;
		else if (!line_byte(c))
			return -EPROTO;
		return 0;
	case CH_TRAILER_LF:
		if (c != '\n')
			return -EPROTO;
		b->state = CH_TRAILER_START;
		return 0;
	case CH_END_LF:
		if (c != '\n')
			return -EPROTO;
		b->done = true;
		return 0;
	default:
		return -EPROTO;
	}
}

int eg_body_feed(struct eg_body *b, const char *p, size_t n, size_t *used)
{
	size_t i = 0;

	*used = 0;
	if (b->done)
		return 1;
	if (!b->chunked) {
		*used = b->left < n ? (size_t)b->left : n;
		b->left -= *used;
		b->done = b->left == 0;
		return b->done ? 1 : 0;
	}
	while (i < n && !b->done) {
		if (b->state == CH_DATA) {
			size_t k = b->left < n - i ? (size_t)b->left : n - i;

			i += k;
			b->left -= k;
			if (b->left == 0)
				b->state = CH_DATA_CR;
			continue;
		}
		if (chunk_byte(b, (unsigned char)p[i])) {
			*used = i;
			return -EPROTO;
		}
		i++;
	}
	*used = i;
	return b->done ? 1 : 0;
}

/* ---- the forwarded head ---- */

static bool dropped(struct span name, const struct span *tokens, size_t n_tokens)
{
	static const char *const hop[] = { "host", "connection", "keep-alive", "te", "upgrade" };

	if (name.n >= 6 && strncasecmp(name.p, "proxy-", 6) == 0)
		return true;
	for (size_t i = 0; i < MG_ARRAY_LEN(hop); i++)
		if (span_ieq(name, hop[i]))
			return true;
	/* Connection may name more hop-by-hop headers, but never the body's
	 * framing: dropping that would let the rest of the body be read as
	 * another request. */
	if (span_ieq(name, "content-length") || span_ieq(name, "transfer-encoding"))
		return false;
	for (size_t i = 0; i < n_tokens; i++)
		if (name.n == tokens[i].n && strncasecmp(name.p, tokens[i].p, name.n) == 0)
			return true;
	return false;
}

static size_t connection_tokens(const char *head, size_t head_len, struct span *tokens)
{
	size_t pos = 0, n = 0;
	struct span line;

	next_line(head, head_len, &pos, &line);
	while (next_line(head, head_len, &pos, &line)) {
		const char *colon = memchr(line.p, ':', line.n);
		struct span v;

		if (!colon || !span_ieq((struct span){ line.p, (size_t)(colon - line.p) }, "connection"))
			continue;
		v = (struct span){ colon + 1, (size_t)(line.p + line.n - colon - 1) };
		for (size_t i = 0; i <= v.n && n < CONN_TOKENS_MAX;) {
			size_t start = i;

			while (i < v.n && v.p[i] != ',')
				i++;
			tokens[n] = trim_ows(v.p + start, i - start);
			n += tokens[n].n > 0;
			i++;
		}
	}
	return n;
}

int eg_rewrite_request(const char *head, const struct eg_request *req, struct mg_buf *out)
{
	struct span tokens[CONN_TOKENS_MAX], line;
	size_t n_tokens = connection_tokens(head, req->head_len, tokens), start = out->len, pos = 0;
	const struct eg_target *t = &req->target;
	bool v6 = t->is_ip && t->family == AF_INET6;
	int rc;

	rc = mg_buf_addf(out, "%s %s%.*s %.8s\r\nHost: %s%s%s", req->method,
			 req->path_len && head[req->path_off] == '/' ? "" : "/", (int)req->path_len,
			 head + req->path_off, head + req->version_off, v6 ? "[" : "", t->host,
			 v6 ? "]" : "");
	if (!rc && t->port != 80)
		rc = mg_buf_addf(out, ":%u", (unsigned)t->port);
	if (!rc)
		rc = mg_buf_adds(out, "\r\n");
	next_line(head, req->head_len, &pos, &line);
	while (!rc && next_line(head, req->head_len, &pos, &line)) {
		const char *colon = memchr(line.p, ':', line.n);

		if (dropped((struct span){ line.p, (size_t)(colon - line.p) }, tokens, n_tokens))
			continue;
		if (!(rc = mg_buf_add(out, line.p, line.n)))
			rc = mg_buf_adds(out, "\r\n");
	}
	if (!rc)
		rc = mg_buf_adds(out, "Connection: close\r\n\r\n");
	if (rc)
		mg_buf_truncate(out, start);
	return rc;
}

/* ---- answers ---- */

const char *eg_status_text(int status)
{
	switch (status) {
	case 200: return "Connection established";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

int eg_answer(int status, const char *reason, struct mg_buf *out)
{
	char body[400];
	int n = snprintf(body, sizeof(body), "mcpguard egress: %s\n", reason);
	size_t start = out->len;
	int rc;

	if (n < 0 || (size_t)n >= sizeof(body))
		n = (int)sizeof(body) - 1;
	rc = mg_buf_addf(out, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
			 "Content-Length: %d\r\n%sConnection: close\r\n\r\n%.*s", status,
			 eg_status_text(status), n,
			 status == 405 ? "Allow: CONNECT, GET, HEAD, POST, PUT, DELETE, PATCH, "
			 "OPTIONS\r\n" : "", n, body);
	if (rc)
		mg_buf_truncate(out, start);
	return rc;
}
