/* One connection through the egress proxy (see egress.h):
 *   HEAD     read the request head (capped, timed)
 *   RESOLVE  the name, in the libuv thread pool; every address checked
 *   CONNECT  to the checked addresses in turn, each with a timeout
 *   RELAY    bytes both ways, with backpressure and an idle timeout; for a
 *            plain HTTP request, the client's bytes only up to the end of
 *            its body: one request per connection, the rest is dropped
 *   ANSWER   a refusal was written; read and discard until EOF, briefly,
 *            so that the close does not reset the answer away
 * and then closes.  Side 0 is the sandbox's client, side 1 the upstream. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "base/list.h"
#include "base/log.h"
#include "base/mem.h"
#include "runtime/egress_http.h"
#include "runtime/egress_internal.h"

#define EG_ADDRS_MAX 8          /* checked addresses kept to try */
#define EG_READ_CHUNK (64 * 1024)
#define EG_LINGER_MS 2000
#define EG_TARGET_TEXT (EG_HOST_MAX + 16)
#define EG_ADDR_TEXT (INET6_ADDRSTRLEN + 16)

enum conn_state { ST_HEAD, ST_RESOLVE, ST_CONNECT, ST_RELAY, ST_ANSWER };

struct eg_conn {
	struct mg_list link;
	struct eg_proxy *p;
	uv_tcp_t side[2];
	uv_timer_t timer;
	uv_getaddrinfo_t gai;
	uv_connect_t connect_req;
	uv_shutdown_t shut_req[2];
	enum conn_state st;
	int open_handles;
	bool upstream_open, gai_busy, closing;
	bool eof[2], shut_sent[2], shut_done[2], paused[2];
	size_t queued[2];               /* bytes being written towards side i */
	struct eg_request req;
	struct eg_body body;            /* EG_REQ_FORWARD: where the request ends */
	char target[EG_TARGET_TEXT];
	char head[EG_HEAD_MAX];         /* the head, then scratch while answering */
	size_t head_len;
	struct sockaddr_storage addrs[EG_ADDRS_MAX];
	size_t n_addrs, next_addr;
	int last_err;                   /* of the last connect attempt */
	const char *internal_note;      /* an allowed internal literal's range */
};

struct write_req {
	uv_write_t req;
	struct eg_conn *c;
	int to;
	char *data;
	size_t len;
};

static void conn_close(struct eg_conn *c);
static void connect_next(struct eg_conn *c);
static void start_relay(struct eg_conn *c);

/* ---- decisions ---- */

static const char *method_of(const struct eg_conn *c)
{
	return c->req.method[0] ? c->req.method : "-";
}

static void decide(struct eg_conn *c, bool allowed, int status, const char *address,
		   const char *reason)
{
	struct eg_decision d = { c->p->label, method_of(c), c->target[0] ? c->target : "-",
				 allowed, status, address, reason };

	eg_report(c->p, &d, allowed ? c->internal_note : NULL);
}

static void format_addr(const struct sockaddr *sa, char *out, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(out, size, "[%s]:%u", ip, (unsigned)ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, size, "%s:%u", ip, (unsigned)ntohs(s4->sin_port));
	}
}

/* ---- freeing ---- */

static void maybe_free(struct eg_conn *c)
{
	struct eg_proxy *p = c->p;

	if (c->open_handles > 0 || c->gai_busy)
		return;
	mg_list_del(&c->link);
	p->n_conns--;
	free(c);
	eg_proxy_check_closed(p);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct eg_conn *c = h->data;

	c->open_handles--;
	maybe_free(c);
}

/* The upstream handle closes after a failed attempt too: then the next
 * address is tried. */
static void on_upstream_closed(uv_handle_t *h)
{
	struct eg_conn *c = h->data;

	c->open_handles--;
	c->upstream_open = false;
	if (!c->closing && c->st == ST_CONNECT)
		connect_next(c);
	else
		maybe_free(c);
}

static void conn_close(struct eg_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->side[0], on_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_handle_closed);
	if (c->upstream_open && !uv_is_closing((uv_handle_t *)&c->side[1]))
		uv_close((uv_handle_t *)&c->side[1], on_upstream_closed);
	if (c->gai_busy)
		uv_cancel((uv_req_t *)&c->gai);
}

/* ---- writing ---- */

static void on_written(uv_write_t *req, int status);

/* Send data (owned, malloc'd) towards side to. */
static int conn_send(struct eg_conn *c, int to, char *data, size_t len)
{
	struct write_req *w;
	uv_buf_t b = uv_buf_init(data, (unsigned)len);
	int rc;

	if (c->closing || len == 0) {
		free(data);
		return c->closing ? UV_ECANCELED : 0;
	}
	w = MG_NEW(struct write_req);
	*w = (struct write_req){ .c = c, .to = to, .data = data, .len = len };
	rc = uv_write(&w->req, (uv_stream_t *)&c->side[to], &b, 1, on_written);
	if (rc) {
		free(data);
		free(w);
		return rc;
	}
	c->queued[to] += len;
	return 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

static void resume(struct eg_conn *c, int side)
{
	if (c->paused[side] && !c->closing && !c->eof[side]) {
		c->paused[side] = false;
		if (uv_read_start((uv_stream_t *)&c->side[side], on_alloc, on_read))
			conn_close(c);
	}
}

static void on_written(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct eg_conn *c = w->c;
	int to = w->to;

	c->queued[to] -= w->len;
	free(w->data);
	free(w);
	if (status < 0) {
		if (status != UV_ECANCELED)
			conn_close(c);
		return;
	}
	if (c->st == ST_RELAY && c->queued[to] <= c->p->lim.queue_max / 2)
		resume(c, !to);
}

/* ---- answers ---- */

static void on_linger_timeout(uv_timer_t *t)
{
	conn_close(t->data);
}

static void on_answer_shut(uv_shutdown_t *req, int status)
{
	/* Reading on until EOF (or the linger timer) closes. */
}

/* Refuse: log, answer, then close once the client has read it. */
static void answer(struct eg_conn *c, int status, const char *reason)
{
	struct mg_buf out;
	char *text;
	size_t len;

	decide(c, false, status, NULL, reason);
	c->st = ST_ANSWER;
	if (c->closing)
		return;
	if (c->upstream_open && !uv_is_closing((uv_handle_t *)&c->side[1]))
		uv_close((uv_handle_t *)&c->side[1], on_upstream_closed);
	mg_buf_init(&out, 1024);
	if (eg_answer(status, reason, &out)) {
		mg_buf_release(&out);
		conn_close(c);
		return;
	}
	text = mg_buf_detach(&out, &len);
	if (conn_send(c, 0, text, len)) {
		conn_close(c);
		return;
	}
	c->shut_sent[0] = true;
	uv_read_stop((uv_stream_t *)&c->side[0]);
	if (uv_shutdown(&c->shut_req[0], (uv_stream_t *)&c->side[0], on_answer_shut) ||
	    uv_read_start((uv_stream_t *)&c->side[0], on_alloc, on_read)) {
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_linger_timeout, EG_LINGER_MS, 0);
}

/* ---- connecting ---- */

static void on_timer(uv_timer_t *t);

static void on_connected(uv_connect_t *req, int status)
{
	struct eg_conn *c = req->data;

	if (c->closing || status == UV_ECANCELED)
		return;
	uv_timer_stop(&c->timer);
	if (status < 0) {
		c->last_err = status;
		uv_close((uv_handle_t *)&c->side[1], on_upstream_closed);
		return;
	}
	start_relay(c);
}

static void connect_next(struct eg_conn *c)
{
	char addr[EG_ADDR_TEXT], why[EG_ADDR_TEXT + 96];
	const struct sockaddr *sa;
	int rc;

	if (c->next_addr >= c->n_addrs) {
		format_addr((struct sockaddr *)&c->addrs[c->n_addrs - 1], addr, sizeof(addr));
		snprintf(why, sizeof(why), "cannot connect to %s%s: %s", addr,
			 c->n_addrs > 1 ? " (and the other addresses)" : "",
			 uv_strerror(c->last_err));
		answer(c, c->last_err == UV_ETIMEDOUT ? 504 : 502, why);
		return;
	}
	sa = (const struct sockaddr *)&c->addrs[c->next_addr++];
	c->st = ST_CONNECT;
	if ((rc = uv_tcp_init(c->p->loop, &c->side[1])) != 0) {
		c->last_err = rc;
		c->next_addr = c->n_addrs;
		connect_next(c);
		return;
	}
	c->side[1].data = c;
	c->upstream_open = true;
	c->open_handles++;
	c->connect_req.data = c;
	if ((rc = uv_tcp_connect(&c->connect_req, &c->side[1], sa, on_connected)) != 0) {
		c->last_err = rc;
		uv_close((uv_handle_t *)&c->side[1], on_upstream_closed);
		return;
	}
	uv_timer_start(&c->timer, on_timer, c->p->lim.connect_timeout_ms, 0);
}

static void add_addr(struct eg_conn *c, int family, const unsigned char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(c->req.target.port);
		memcpy(&s4->sin_addr, ip, 4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(c->req.target.port);
		memcpy(&s6->sin6_addr, ip, 16);
	}
	for (size_t i = 0; i < c->n_addrs; i++)
		if (memcmp(&c->addrs[i], &ss, sizeof(ss)) == 0)
			return;
	if (c->n_addrs < EG_ADDRS_MAX)
		c->addrs[c->n_addrs++] = ss;
}

static const unsigned char *ai_ip(const struct addrinfo *ai)
{
	if (ai->ai_family == AF_INET)
		return (const unsigned char *)&((const struct sockaddr_in *)(const void *)
						ai->ai_addr)->sin_addr;
	return (const unsigned char *)&((const struct sockaddr_in6 *)(const void *)
					ai->ai_addr)->sin6_addr;
}

/* Every address the name has must be public: one internal answer is
 * enough to refuse (a name that resolves to both is a rebinding trick or
 * a misconfiguration, and the next lookup could pick either). */
static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct eg_conn *c = req->data;
	char why[EG_TARGET_TEXT + 128];
	const struct addrinfo *ai;

	c->gai_busy = false;
	if (c->closing || c->st != ST_RESOLVE) {
		uv_freeaddrinfo(res);
		maybe_free(c);
		return;
	}
	uv_timer_stop(&c->timer);
	if (status < 0) {
		snprintf(why, sizeof(why), "cannot resolve %s: %s", c->req.target.host,
			 uv_strerror(status));
		uv_freeaddrinfo(res);
		answer(c, 502, why);
		return;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		const char *range;
		char ip[INET6_ADDRSTRLEN];

		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (eg_addr_classify(ai->ai_family, ai_ip(ai), &range) != EG_ADDR_PUBLIC) {
			inet_ntop(ai->ai_family, ai_ip(ai), ip, sizeof(ip));
			snprintf(why, sizeof(why), "%s resolves to %s, %s", c->req.target.host, ip,
				 range);
			uv_freeaddrinfo(res);
			answer(c, 403, why);
			return;
		}
		add_addr(c, ai->ai_family, ai_ip(ai));
	}
	uv_freeaddrinfo(res);
	if (c->n_addrs == 0) {
		snprintf(why, sizeof(why), "%s has no IP address", c->req.target.host);
		answer(c, 502, why);
		return;
	}
	connect_next(c);
}

/* The head is in: policy, then addresses. */
static void check_request(struct eg_conn *c)
{
	const struct eg_target *t = &c->req.target;
	struct addrinfo hints;
	char why[EG_TARGET_TEXT + 96];
	const char *range;
	int rc;

	eg_target_format(t, c->target, sizeof(c->target));
	if (!eg_policy_match(c->p->policy, t)) {
		snprintf(why, sizeof(why), "%s is not in the allowlist", c->target);
		answer(c, 403, why);
		return;
	}
	if (t->is_ip) {
		/* Only an exact rule matches an address: the operator named it. */
		enum eg_addr_class k = eg_addr_classify(t->family, t->ip, &range);

		if (k == EG_ADDR_METADATA) {
			snprintf(why, sizeof(why), "%s is a cloud metadata address", t->host);
			answer(c, 403, why);
			return;
		}
		c->internal_note = k == EG_ADDR_INTERNAL ? range : NULL;
		add_addr(c, t->family, t->ip);
		connect_next(c);
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	c->gai.data = c;
	rc = uv_getaddrinfo(c->p->loop, &c->gai, on_resolved, t->host, NULL, &hints);
	if (rc) {
		snprintf(why, sizeof(why), "cannot resolve %s: %s", t->host, uv_strerror(rc));
		answer(c, 502, why);
		return;
	}
	c->gai_busy = true;
	c->st = ST_RESOLVE;
	uv_timer_start(&c->timer, on_timer, c->p->lim.connect_timeout_ms, 0);
}

/* ---- relaying ---- */

static void on_idle(struct eg_conn *c)
{
	mg_debug("egress [%s]: %s %s closed after %llu ms idle", c->p->label, method_of(c),
		 c->target, (unsigned long long)c->p->lim.idle_timeout_ms);
	conn_close(c);
}

static void on_timer(uv_timer_t *t)
{
	struct eg_conn *c = t->data;
	char why[EG_TARGET_TEXT + 64];

	switch (c->st) {
	case ST_HEAD:
		snprintf(why, sizeof(why), "no complete request head within %llu ms",
			 (unsigned long long)c->p->lim.head_timeout_ms);
		answer(c, 408, why);
		break;
	case ST_RESOLVE:
		snprintf(why, sizeof(why), "resolving %s timed out", c->req.target.host);
		uv_cancel((uv_req_t *)&c->gai);
		answer(c, 504, why);
		break;
	case ST_CONNECT:
		/* This address is dead: on to the next (on_upstream_closed). */
		c->last_err = UV_ETIMEDOUT;
		uv_close((uv_handle_t *)&c->side[1], on_upstream_closed);
		break;
	case ST_RELAY:
		on_idle(c);
		break;
	case ST_ANSWER:
	default:
		conn_close(c);
		break;
	}
}

static void on_shut(uv_shutdown_t *req, int status)
{
	struct eg_conn *c = req->data;
	int side = req == &c->shut_req[0] ? 0 : 1;

	if (status == UV_ECANCELED)
		return;
	c->shut_done[side] = true;
	/* A forwarded request ends with its response; a tunnel when both
	 * directions have ended. */
	if (status < 0 || (c->req.kind == EG_REQ_FORWARD && side == 0) ||
	    (c->shut_done[0] && c->shut_done[1]))
		conn_close(c);
}

/* Side from sent EOF: pass it on to the other side once its queue drains. */
static void half_close(struct eg_conn *c, int from)
{
	int to = !from;

	c->eof[from] = true;
	if (c->shut_sent[to])
		return;
	c->shut_sent[to] = true;
	c->shut_req[to].data = c;
	if (uv_shutdown(&c->shut_req[to], (uv_stream_t *)&c->side[to], on_shut))
		conn_close(c);
}

/* Bytes from the client after the head of a plain HTTP request (data
 * owned): the part that belongs to its body goes upstream, whatever
 * follows is dropped, so that one checked request is all the upstream ever
 * gets from this connection.  The count forwarded, or -1: close (malformed
 * chunked framing, or a failed write). */
static ssize_t forward_body(struct eg_conn *c, char *data, size_t n)
{
	size_t used;
	int rc = eg_body_feed(&c->body, data, n, &used);

	if (rc < 0) {
		mg_warn("egress [%s]: %s %s: malformed chunked request body: connection closed",
			c->p->label, method_of(c), c->target);
		free(data);
		return -1;
	}
	if (rc == 1 && used < n)
		mg_debug("egress [%s]: %s %s: %zu bytes after the request dropped (one request "
			 "per connection)", c->p->label, method_of(c), c->target, n - used);
	if (used == 0) {
		free(data);
		return 0;
	}
	return conn_send(c, 1, data, used) ? -1 : (ssize_t)used;
}

static bool is_scratch(const struct eg_conn *c, const char *base)
{
	return base >= c->head && base < c->head + sizeof(c->head);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct eg_conn *c = h->data;

	if (c->st == ST_HEAD)
		*buf = uv_buf_init(c->head + c->head_len, (unsigned)(sizeof(c->head) - c->head_len));
	else if (c->st == ST_ANSWER)
		*buf = uv_buf_init(c->head, sizeof(c->head));
	else
		*buf = uv_buf_init(mg_malloc(EG_READ_CHUNK), EG_READ_CHUNK);
}

static void read_head(struct eg_conn *c, size_t n)
{
	int rc;

	c->head_len += n;
	rc = eg_parse_request(c->head, c->head_len, &c->req);
	if (rc == -EAGAIN)
		return;
	uv_read_stop((uv_stream_t *)&c->side[0]);
	uv_timer_stop(&c->timer);
	if (rc) {
		answer(c, c->req.status, c->req.why);
		return;
	}
	check_request(c);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct eg_conn *c = s->data;
	int from = s == (uv_stream_t *)&c->side[0] ? 0 : 1;
	char *owned = buf->base && !is_scratch(c, buf->base) ? buf->base : NULL;

	if (c->closing || n <= 0 || c->st != ST_RELAY)
		free(owned);
	if (c->closing)
		return;
	if (c->st == ST_HEAD) {
		if (n > 0)
			read_head(c, (size_t)n);
		else if (n < 0)
			conn_close(c);  /* gone before asking anything */
		return;
	}
	if (c->st == ST_ANSWER) {
		if (n < 0)
			conn_close(c);
		return;
	}
	if (c->st != ST_RELAY || n == 0)
		return;
	if (n < 0) {
		uv_read_stop(s);
		if (n == UV_EOF)
			half_close(c, from);
		else
			conn_close(c);
		return;
	}
	if (from == 0 && c->req.kind == EG_REQ_FORWARD) {
		ssize_t sent = forward_body(c, owned, (size_t)n);

		if (sent < 0) {
			conn_close(c);
			return;
		}
		if (sent > 0)
			uv_timer_start(&c->timer, on_timer, c->p->lim.idle_timeout_ms, 0);
	} else {
		uv_timer_start(&c->timer, on_timer, c->p->lim.idle_timeout_ms, 0);
		if (conn_send(c, !from, owned, (size_t)n)) {
			conn_close(c);
			return;
		}
	}
	if (c->queued[!from] > c->p->lim.queue_max) {
		uv_read_stop(s);
		c->paused[from] = true;
	}
}

/* Connected: tell the client (CONNECT) or send the request (plain HTTP),
 * then whatever followed the head, then relay.  After a CONNECT, bytes the
 * client sent before the 200 (a TLS ClientHello, say) are the tunnel's:
 * they were held until now and go to the checked destination only.  After
 * a plain request's head, only its body goes on. */
static void start_relay(struct eg_conn *c)
{
	static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	char addr[EG_ADDR_TEXT];
	struct sockaddr_storage *sa = &c->addrs[c->next_addr - 1];
	size_t rest = c->head_len - c->req.head_len;
	struct mg_buf out;
	char *text;
	size_t len;
	int rc;

	format_addr((struct sockaddr *)sa, addr, sizeof(addr));
	c->st = ST_RELAY;
	decide(c, true, 200, addr, NULL);
	uv_tcp_nodelay(&c->side[0], 1);
	uv_tcp_nodelay(&c->side[1], 1);
	mg_buf_init(&out, EG_HEAD_MAX + 1024);
	if (c->req.kind == EG_REQ_CONNECT) {
		rc = conn_send(c, 0, mg_memdup0(established, sizeof(established) - 1),
			       sizeof(established) - 1);
	} else {
		rc = eg_rewrite_request(c->head, &c->req, &out);
		if (!rc) {
			text = mg_buf_detach(&out, &len);
			rc = conn_send(c, 1, text, len);
		}
	}
	mg_buf_release(&out);
	if (c->req.kind == EG_REQ_FORWARD) {
		eg_body_init(&c->body, &c->req);
		if (!rc && rest && forward_body(c, mg_memdup0(c->head + c->req.head_len, rest),
						rest) < 0)
			rc = UV_EPROTO;
	} else if (!rc && rest) {
		rc = conn_send(c, 1, mg_memdup0(c->head + c->req.head_len, rest), rest);
	}
	if (!rc)
		rc = uv_read_start((uv_stream_t *)&c->side[0], on_alloc, on_read);
	if (!rc)
		rc = uv_read_start((uv_stream_t *)&c->side[1], on_alloc, on_read);
	if (rc) {
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_timer, c->p->lim.idle_timeout_ms, 0);
}

/* ---- the proxy's side ---- */

void eg_conn_start(struct eg_proxy *p)
{
	struct eg_conn *c = MG_NEW(struct eg_conn);

	c->p = p;
	mg_list_add_tail(&p->conns, &c->link);
	p->n_conns++;
	uv_tcp_init(p->loop, &c->side[0]);
	uv_timer_init(p->loop, &c->timer);
	c->side[0].data = c->timer.data = c;
	c->open_handles = 2;
	if (uv_accept((uv_stream_t *)&p->listener, (uv_stream_t *)&c->side[0]) ||
	    uv_read_start((uv_stream_t *)&c->side[0], on_alloc, on_read)) {
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_timer, p->lim.head_timeout_ms, 0);
}

void eg_conn_close_all(struct eg_proxy *p)
{
	struct mg_list *pos, *tmp;

	mg_list_each_safe(pos, tmp, &p->conns)
		conn_close(mg_container_of(pos, struct eg_conn, link));
}
