/* MCP over HTTP: sessions, streams and the checks at the door.
 *
 * A POST carrying a request becomes an exchange keyed by the request's id
 * text.  The message is handed up synchronously; if only its response came
 * back meanwhile, the answer is plain JSON, otherwise an event stream that
 * stays open until the response.  Messages tied to no open exchange go to
 * the session's GET stream, or wait (bounded) until one opens.  Every event
 * has an id "<stream>-<seq>" and a bounded copy is kept per session, so a
 * client whose stream broke can resume with Last-Event-ID. */
#include "transport/mcp_http.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/budget.h"
#include "base/buf.h"
#include "base/list.h"
#include "base/log.h"
#include "base/map.h"
#include "base/mem.h"
#include "base/str.h"
#include "base/time.h"
#include "json/jx.h"
#include "rpc/msg.h"
#include "transport/http_door.h"
#include "transport/http_server.h"

#define SWEEP_MS 5000
#define PENDING_MAX_BYTES (4u << 20)
#define MODERN_VERSION "2026-07-28"

enum bind_kind { BIND_EXCHANGE = 1, BIND_LISTEN, BIND_LEGACY_SSE };

struct binding {                        /* what an HTTP request is to us */
	enum bind_kind kind;
	struct tp_mcp_conn *conn;
	struct exchange *ex;
};

struct event {
	struct mg_list node;
	uint32_t stream;
	uint64_t seq;
	size_t len;
	char text[];                    /* the whole SSE event, id included */
};

struct exchange {
	struct tp_mcp_conn *conn;
	struct tp_http_req *req;        /* NULL while the client is away */
	char *rel;
	size_t rel_len;
	uint32_t stream;
	struct mg_buf early;            /* lines sent while the POST is handled */
	size_t early_count;
	bool decided;                   /* JSON or stream chosen */
	bool dispatching;               /* inside the upper layer's handling */
	struct tp_http_req *post;       /* the POST waiting for its first message */
	bool final_seen;
	bool modern;                    /* closing its stream cancels it */
};

struct tp_mcp_conn {
	struct mg_list node;
	struct tp_mcp_http *h;
	char id[65];
	bool legacy_sse;
	bool modern;                    /* stateless 2026-07-28 requests of one principal */
	bool closing;
	bool upper_closed;
	bool has_cred;
	unsigned char cred[32];
	void *upper;
	int nreqs;                      /* HTTP requests bound to us */
	struct tp_http_req *listen;
	uint32_t listen_stream;
	struct mg_map exchanges;        /* id text -> struct exchange */
	struct mg_list pending;         /* events waiting for a GET stream */
	size_t pending_bytes;
	struct mg_list replay;          /* recent events, for Last-Event-ID */
	size_t replay_bytes;
	bool replaying;                 /* replay is being read: keep it */
	struct mg_budget_user pending_budget, replay_budget;
	uint32_t next_stream;
	uint64_t next_seq;
	uint64_t last_active_ms;
};

struct tp_mcp_http {
	uv_loop_t *loop;
	struct tp_mcp_http_config cfg;
	const struct tp_mcp_http_ops *ops;
	void *ctx;
	struct tp_http_server *http;
	struct mg_map sessions;         /* id -> conn */
	struct mg_map principals;       /* credential hash -> modern conn */
	struct mg_list conns;
	struct mg_list closing;         /* conns whose upper close is due */
	uv_timer_t sweep;
	uv_timer_t reaper;
	bool stopping;
	void (*stopped)(void *ctx);
	void *stopped_ctx;
	int open_handles;
};

static void reap(uv_timer_t *t);

/* ---- small answers ---- */

/* A JSON-RPC error as an HTTP answer; id is the request's id text, or
 * NULL when the request could not be read that far.  A 4xx or 5xx is a
 * refusal at the door: logged (rate-limited) and audited. */
static void answer_error(struct tp_http_req *r, unsigned status, const char *id, size_t id_len,
			 int code, const char *msg, const char *const *headers)
{
	struct mg_buf b;

	mg_buf_init(&b, id_len + 4096);
	rpc_error_line(&b, id, id_len, code, msg, NULL);
	tp_http_respond(r, status, "application/json", b.data, b.len, headers);
	mg_buf_release(&b);
	if (status >= 400)
		tp_http_refused(r, status, msg);
}

static void answer_json_error(struct tp_http_req *r, unsigned status, int code, const char *msg,
			      const char *const *headers)
{
	answer_error(r, status, NULL, 0, code, msg, headers);
}

/* ---- checks at the door ---- */

static bool all_interfaces(const char *bind)
{
	return strcmp(bind, "0.0.0.0") == 0 || strcmp(bind, "::") == 0;
}

/* DNS rebinding: a page on evil.example can make a browser talk to
 * 127.0.0.1 under its own name.  On a loopback address, only loopback
 * names are valid Hosts; an Origin, when sent, must name the same host. */
static bool host_allowed(struct tp_mcp_http *h, const char *host)
{
	char want[128];
	static const char *const names[] = { "localhost", "127.0.0.1", "[::1]" };
	uint16_t port = tp_http_server_port(h->http);
	const char *bind = h->cfg.host;

	if (!host)
		return false;
	if (all_interfaces(bind))
		return true;    /* any name reaches us: the token protects */
	for (size_t i = 0; i < MG_ARRAY_LEN(names) + 1; i++) {
		const char *n = i < MG_ARRAY_LEN(names) ? names[i] : bind;

		snprintf(want, sizeof(want), "%s:%u", n, port);
		if (strcasecmp(host, want) == 0 || (port == 80 && strcasecmp(host, n) == 0))
			return true;
	}
	return false;
}

static bool origin_allowed(struct tp_mcp_http *h, const char *origin, const char *host)
{
	const char *rest;

	if (!origin)
		return true;            /* not a browser */
	/* This endpoint speaks plain HTTP: an https:// origin is another
	 * origin, even with the same host and port. */
	if (!mg_starts_with(origin, "http://"))
		return false;
	rest = origin + 7;
	/* Same origin, or another name of this same loopback endpoint. */
	return (host && strcasecmp(rest, host) == 0) ||
	       (!all_interfaces(h->cfg.host) && host_allowed(h, rest));
}

static void cred_hash(const char *auth, unsigned char out[32])
{
	crypto_generichash(out, 32, (const unsigned char *)(auth ? auth : ""),
			   auth ? strlen(auth) : 0, NULL, 0);
}

static bool authorized(struct tp_mcp_http *h, struct tp_http_req *r)
{
	const char *auth = tp_http_header(r, "Authorization");
	size_t tl;

	if (!h->cfg.token)
		return true;
	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	auth += 7;
	tl = strlen(h->cfg.token);
	return strlen(auth) == tl &&
	       sodium_memcmp(auth, h->cfg.token, tl) == 0;     /* constant time */
}

/* Called with the head complete, before the body is read. */
static bool door(struct tp_mcp_http *h, struct tp_http_req *r)
{
	static const char *const www[] = { "WWW-Authenticate", "Bearer realm=\"mcpguard\"", NULL };
	const char *host = tp_http_header(r, "Host");

	if (!host_allowed(h, host) || !origin_allowed(h, tp_http_header(r, "Origin"), host)) {
		answer_json_error(r, 403, -32600, "Forbidden: Host or Origin not allowed",
				  NULL);
		return false;
	}
	if (!authorized(h, r)) {
		answer_json_error(r, 401, -32600,
				  "Unauthorized: send 'Authorization: Bearer <token>'", www);
		return false;
	}
	return true;
}

static bool accepts(struct tp_http_req *r, const char *type)
{
	const char *a = tp_http_header(r, "Accept");

	return !a || strstr(a, type) || strstr(a, "*/*");
}

static bool version_ok(struct tp_mcp_http *h, const char *v)
{
	for (size_t i = 0; h->cfg.versions && h->cfg.versions[i]; i++)
		if (strcmp(h->cfg.versions[i], v) == 0)
			return true;
	return false;
}

/* ---- events held for a session, in the output budget ---- */

static void free_events(struct mg_list *l);

/* The budget is full and these have waited longest: a resuming client
 * will miss them (its stream itself goes on). */
static void drop_replay(struct mg_budget_user *u)
{
	struct tp_mcp_conn *c = mg_container_of(u, struct tp_mcp_conn, replay_budget);

	if (c->replaying)
		return;                 /* being sent right now */
	mg_info("session %.8s: dropping %zu bytes of events kept for resumption (the output "
		"queued to clients is at its limit, --max-queued-output)", c->id, c->replay_bytes);
	free_events(&c->replay);
	c->replay_bytes = 0;
	mg_budget_release(u, u->held);
}

static void drop_pending(struct mg_budget_user *u)
{
	struct tp_mcp_conn *c = mg_container_of(u, struct tp_mcp_conn, pending_budget);

	mg_warn("session %.8s: no GET stream open; dropping %zu bytes of messages waiting for one "
		"(the output queued to clients is at its limit, --max-queued-output)", c->id,
		c->pending_bytes);
	free_events(&c->pending);
	c->pending_bytes = 0;
	mg_budget_release(u, u->held);
}

/* ---- sessions ---- */

static struct tp_mcp_conn *conn_new(struct tp_mcp_http *h, struct tp_http_req *r, bool legacy,
				    bool modern)
{
	struct tp_mcp_conn *c = MG_NEW(struct tp_mcp_conn);
	unsigned char rnd[32];

	c->h = h;
	c->legacy_sse = legacy;
	c->modern = modern;
	/* 256 random bits: a session id is unguessable, and bound to the
	 * credential that opened it. */
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(c->id, sizeof(c->id), rnd, sizeof(rnd));
	if (h->cfg.token) {
		c->has_cred = true;
		cred_hash(tp_http_header(r, "Authorization"), c->cred);
	} else if (modern) {
		cred_hash(NULL, c->cred);       /* one anonymous principal */
	}
	mg_map_init(&c->exchanges);
	mg_list_init(&c->pending);
	mg_list_init(&c->replay);
	mg_budget_join(h->cfg.budget, &c->pending_budget, drop_pending);
	mg_budget_join(h->cfg.budget, &c->replay_budget, drop_replay);
	c->next_stream = 1;
	c->last_active_ms = mg_now_ms();
	if (modern)
		mg_map_put(&h->principals, c->cred, sizeof(c->cred), c);
	else
		mg_map_puts(&h->sessions, c->id, c);
	mg_list_add_tail(&h->conns, &c->node);
	c->upper = h->ops->open(h->ctx, c, modern);
	return c;
}

static struct tp_mcp_conn *conn_find(struct tp_mcp_http *h, struct tp_http_req *r,
				     const char *sid)
{
	struct tp_mcp_conn *c = sid ? mg_map_gets(&h->sessions, sid) : NULL;
	unsigned char cred[32];

	if (!c || c->closing)
		return NULL;
	if (c->has_cred) {
		cred_hash(tp_http_header(r, "Authorization"), cred);
		if (sodium_memcmp(cred, c->cred, sizeof(cred)) != 0)
			return NULL;    /* another credential: as if unknown */
	}
	c->last_active_ms = mg_now_ms();
	return c;
}

static void bind_req(struct tp_http_req *r, enum bind_kind kind, struct tp_mcp_conn *c,
		     struct exchange *ex)
{
	struct binding *b = MG_NEW(struct binding);

	b->kind = kind;
	b->conn = c;
	b->ex = ex;
	tp_http_set_data(r, b);
	c->nreqs++;
}

static void free_events(struct mg_list *l)
{
	struct mg_list *pos, *tmp;

	mg_list_each_safe(pos, tmp, l) {
		mg_list_del(pos);
		free(mg_container_of(pos, struct event, node));
	}
}

static void exchange_free(struct exchange *ex)
{
	mg_buf_release(&ex->early);
	free(ex->rel);
	free(ex);
}

static void conn_maybe_free(struct tp_mcp_conn *c)
{
	size_t it = 0;
	void *v;

	if (!c->closing || !c->upper_closed || c->nreqs > 0)
		return;
	while (mg_map_next(&c->exchanges, &it, NULL, NULL, &v))
		exchange_free(v);
	mg_map_release(&c->exchanges);
	free_events(&c->pending);
	free_events(&c->replay);
	mg_budget_leave(&c->pending_budget);
	mg_budget_leave(&c->replay_budget);
	mg_list_del(&c->node);
	free(c);
}

void tp_mcp_conn_close(struct tp_mcp_conn *c)
{
	struct tp_mcp_http *h = c->h;
	size_t it = 0;
	void *v;

	if (c->closing)
		return;
	c->closing = true;
	if (c->modern) {
		if (mg_map_get(&h->principals, c->cred, sizeof(c->cred)) == c)
			mg_map_del(&h->principals, c->cred, sizeof(c->cred));
	} else {
		mg_map_dels(&h->sessions, c->id);
	}
	if (c->listen)
		tp_http_stream_end(c->listen);
	while (mg_map_next(&c->exchanges, &it, NULL, NULL, &v)) {
		struct exchange *ex = v;

		if (ex->req && tp_http_is_streaming(ex->req))
			tp_http_stream_end(ex->req);
	}
	/* The upper layer hears of it from the loop, not from inside
	 * whatever call closed the session. */
	mg_list_del(&c->node);
	mg_list_add_tail(&h->closing, &c->node);
	uv_timer_start(&h->reaper, reap, 0, 0);
}

const char *tp_mcp_conn_id(const struct tp_mcp_conn *c)
{
	return c->id;
}

void tp_mcp_conn_principal(const struct tp_mcp_conn *c, char out[33])
{
	if (!c->h->cfg.token)
		snprintf(out, 33, "anonymous");
	else
		sodium_bin2hex(out, 33, c->cred, 16);
}

size_t tp_mcp_http_sessions(const struct tp_mcp_http *h)
{
	return h->sessions.count;
}

uint16_t tp_mcp_http_port(const struct tp_mcp_http *h)
{
	return tp_http_server_port(h->http);
}

/* ---- events ---- */

static void keep_for_replay(struct tp_mcp_conn *c, struct event *e)
{
	if (e->len > c->h->cfg.replay_max || mg_budget_charge(&c->replay_budget, e->len)) {
		free(e);                /* not kept: resuming cannot repeat it */
		return;
	}
	mg_list_add_tail(&c->replay, &e->node);
	c->replay_bytes += e->len;
	while (c->replay_bytes > c->h->cfg.replay_max && !mg_list_empty(&c->replay)) {
		struct event *old = mg_container_of(c->replay.next, struct event, node);

		mg_list_del(&old->node);
		c->replay_bytes -= old->len;
		mg_budget_release(&c->replay_budget, old->len);
		free(old);
	}
}

/* Format one SSE event.  A message never holds a raw newline once framed,
 * but one from an HTTP upstream may be pretty-printed: each line becomes a
 * data: line, which the client joins back with "\n". */
static struct event *make_event(struct tp_mcp_conn *c, uint32_t stream, const char *line,
				size_t len, bool with_id)
{
	struct mg_buf b;
	struct event *e;
	uint64_t seq = ++c->next_seq;

	mg_buf_init(&b, len * 2 + 128);
	if (with_id)
		mg_buf_addf(&b, "id: %u-%llu\n", stream, (unsigned long long)seq);
	mg_buf_adds(&b, "event: message\n");
	for (const char *p = line, *end = line + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		mg_buf_adds(&b, "data: ");
		mg_buf_add(&b, p, n);
		mg_buf_addc(&b, '\n');
		p += n + (nl ? 1 : 0);
	}
	mg_buf_addc(&b, '\n');
	e = mg_malloc(sizeof(*e) + b.len);
	e->stream = stream;
	e->seq = seq;
	e->len = b.len;
	memcpy(e->text, b.data, b.len);
	mg_buf_release(&b);
	return e;
}

/* Write to a live stream; a client that does not read loses the stream. */
static void write_event(struct tp_http_req *r, const struct event *e)
{
	if (r && tp_http_stream_write(r, e->text, e->len) == -ENOBUFS) {
		mg_warn("an MCP client does not read its event stream; closing it");
		tp_http_stream_end(r);
	}
}

static void send_on_stream(struct tp_mcp_conn *c, struct tp_http_req *r, uint32_t stream,
			   const char *line, size_t len)
{
	struct event *e = make_event(c, stream, line, len, !c->legacy_sse);

	write_event(r, e);
	if (c->legacy_sse)
		free(e);
	else
		keep_for_replay(c, e);
}

static void queue_pending(struct tp_mcp_conn *c, const char *line, size_t len)
{
	struct event *e = mg_malloc(sizeof(*e) + len);

	if (c->pending_bytes + len > PENDING_MAX_BYTES) {
		mg_warn("session %.8s: no GET stream open and %u bytes waiting; dropping a message",
			c->id, PENDING_MAX_BYTES);
		free(e);
		return;
	}
	if (mg_budget_charge(&c->pending_budget, len)) {
		mg_warn("session %.8s: no GET stream open, and the output queued to clients is at "
			"its limit (--max-queued-output); dropping a message", c->id);
		free(e);
		return;
	}
	e->len = len;
	memcpy(e->text, line, len);
	mg_list_add_tail(&c->pending, &e->node);
	c->pending_bytes += len;
}

static void finish_exchange(struct tp_mcp_conn *c, struct exchange *ex)
{
	mg_map_del(&c->exchanges, ex->rel, ex->rel_len);
	if (ex->req) {
		struct binding *b = tp_http_get_data(ex->req);

		if (b)
			b->ex = NULL;
		if (tp_http_is_streaming(ex->req))
			tp_http_stream_end(ex->req);
	}
	exchange_free(ex);
}

static void answer_exchange(struct tp_mcp_conn *c, struct tp_http_req *r, struct exchange *ex);

int tp_mcp_conn_send(struct tp_mcp_conn *c, const char *line, size_t len, const char *rel,
		     size_t rel_len, bool final)
{
	struct exchange *ex = rel ? mg_map_get(&c->exchanges, rel, rel_len) : NULL;

	if (c->closing)
		return -EPIPE;
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (ex && !ex->decided) {
		/* The answer's form is open: the response alone is plain JSON
		 * (with a status mapped from a modern error); anything before
		 * it makes an event stream. */
		mg_buf_add(&ex->early, line, len);
		mg_buf_addc(&ex->early, '\n');
		ex->early_count++;
		ex->final_seen = ex->final_seen || final;
		if (!ex->dispatching && ex->post)
			answer_exchange(c, ex->post, ex);
		return 0;
	}
	if (ex) {
		send_on_stream(c, ex->req, ex->stream, line, len);
		if (final)
			finish_exchange(c, ex);
		return 0;
	}
	if (c->listen)
		send_on_stream(c, c->listen, c->listen_stream, line, len);
	else
		queue_pending(c, line, len);
	return 0;
}

/* ---- POST /mcp ---- */

static const char *const *session_header(struct tp_mcp_conn *c, const char **hdr)
{
	hdr[0] = "Mcp-Session-Id";
	hdr[1] = c->id;
	hdr[2] = NULL;
	return hdr;
}

/* Answer a POSTed request once it has been handed up. */
/* Modern HTTP maps some JSON-RPC errors to statuses (2026-07-28
 * transports: 400 for bad params, headers, capabilities or versions, 404
 * for a method the server does not have). */
static unsigned modern_status(const char *json, size_t len)
{
	static const char *const path[] = { "error", "code" };
	struct jx_span sp;
	int64_t code;
	char num[24];

	if (jx_find(json, len, path, 2, &sp) || sp.len >= sizeof(num))
		return 200;
	memcpy(num, json + sp.off, sp.len);
	num[sp.len] = '\0';
	if (mg_parse_i64(num, &code))
		return 200;
	if (code == -32601)
		return 404;
	if (code == -32602 || code == -32020 || code == -32021 || code == -32022)
		return 400;
	return 200;
}

static void answer_exchange(struct tp_mcp_conn *c, struct tp_http_req *r, struct exchange *ex)
{
	const char *hdr[3] = { NULL };

	ex->decided = true;
	ex->post = NULL;
	if (!c->modern)
		session_header(c, hdr);
	if (ex->final_seen && ex->early_count == 1) {
		/* Only the response: plain JSON. */
		size_t n = ex->early.len;

		while (n && ex->early.data[n - 1] == '\n')
			n--;
		if (tp_http_respond(r, c->modern ? modern_status(ex->early.data, n) : 200,
				    "application/json", ex->early.data, n, hdr) == -ENOBUFS) {
			char msg[200];

			snprintf(msg, sizeof(msg), "mcpguard: the answer (%zu bytes) does not fit "
				 "the output queued to clients, at its limit "
				 "(--max-queued-output)", n);
			answer_error(r, 503, ex->rel, ex->rel_len, RPC_GW_LIMIT, msg,
				     hdr[0] ? hdr : NULL);
		}
		ex->req = r;            /* so that its binding lets go of ex */
		finish_exchange(c, ex);
		return;
	}
	tp_http_stream_open(r, 200, "text/event-stream", hdr[0] ? hdr : NULL);
	ex->req = r;
	if (!tp_http_get_data(r))
		bind_req(r, BIND_EXCHANGE, c, ex);
	for (const char *p = ex->early.data, *end = p + ex->early.len; p && p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		send_on_stream(c, r, ex->stream, p, (size_t)(nl - p));
		p = nl + 1;
	}
	mg_buf_release(&ex->early);
	if (ex->final_seen)
		finish_exchange(c, ex);
}

struct peek {
	bool request;
	bool initialize;
	struct jx_span id;
	struct jx_span method;          /* with quotes */
	struct jx_span claim;           /* params._meta protocolVersion; len 0 = none */
};

/* What a body is, from the one strict parse (the gateway's parse of the
 * same bytes cannot disagree).  A body that fails it is answered here:
 * 400 with the JSON-RPC error, naming the id only when it is known. */
static bool classify(struct tp_http_req *r, const char *body, size_t len, struct peek *p)
{
	struct tp_door_msg dm;

	memset(p, 0, sizeof(*p));
	if (tp_door_classify(body, len, &dm)) {
		answer_error(r, 400, dm.id.len ? body + dm.id.off : NULL, dm.id.len, dm.code, dm.why,
			     NULL);
		return false;
	}
	p->request = dm.kind == RPC_REQUEST;
	p->initialize = dm.initialize;
	p->id = dm.id;
	p->method = dm.method;
	p->claim = dm.claim;
	return true;
}

/* Hand a POSTed request up; answer at once if something came back,
 * otherwise wait for its first message with the connection asleep. */
static void dispatch_exchange(struct tp_mcp_http *h, struct tp_mcp_conn *c, struct tp_http_req *r,
			      struct exchange *ex, const char *body, size_t len)
{
	mg_map_put(&c->exchanges, ex->rel, ex->rel_len, ex);
	ex->dispatching = true;
	h->ops->message(c->upper, body, len);
	ex->dispatching = false;
	if (c->closing) {
		ex->decided = true;
		finish_exchange(c, ex);
		answer_json_error(r, 404, -32600, "Session closed", NULL);
		return;
	}
	if (ex->early_count) {
		answer_exchange(c, r, ex);
		return;
	}
	ex->post = r;
	bind_req(r, BIND_EXCHANGE, c, ex);
}

/* Does header value v equal the JSON string at span sp (quotes included)?
 * Values outside visible ASCII come base64-encoded as =?base64?...?=. */
static bool header_matches(const char *v, const char *body, const struct jx_span *sp)
{
	json_error_t e;
	json_t *j = json_loadb(body + sp->off, sp->len, JSON_DECODE_ANY, &e);
	bool ok = false;

	if (json_is_string(j)) {
		const char *s = json_string_value(j);

		if (mg_starts_with(v, "=?base64?") && mg_ends_with(v, "?=")) {
			unsigned char dec[1024];
			size_t n = 0, vl = strlen(v);

			ok = sodium_base642bin(dec, sizeof(dec) - 1, v + 9, vl - 11, NULL, &n, NULL,
					       sodium_base64_VARIANT_ORIGINAL) == 0 &&
			     n == strlen(s) && memcmp(dec, s, n) == 0;
		} else {
			ok = strcmp(v, s) == 0;
		}
	}
	json_decref(j);
	return ok;
}

static void modern_header_error(struct tp_http_req *r, const char *body, const struct peek *pk,
				const char *what)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "Header mismatch: %s", what);
	answer_error(r, 400, pk->id.len ? body + pk->id.off : NULL, pk->id.len, -32020, msg, NULL);
}

/* A stateless request: headers must mirror the body (-32020), then it
 * joins its principal's modern session as an exchange. */
static void post_modern(struct tp_mcp_http *h, struct tp_http_req *r, const char *body,
			size_t len, const struct peek *pk, const char *version)
{
	static const char *const npath[] = { "params", "name" };
	static const char *const upath[] = { "params", "uri" };
	const char *mh = tp_http_header(r, "Mcp-Method");
	const char *nh = tp_http_header(r, "Mcp-Name");
	unsigned char cred[32];
	struct tp_mcp_conn *c;
	struct exchange *ex;
	struct jx_span sp;

	if (pk->claim.len && (!version || !header_matches(version, body, &pk->claim))) {
		modern_header_error(r, body, pk, "MCP-Protocol-Version must equal "
				    "_meta io.modelcontextprotocol/protocolVersion");
		return;
	}
	if (mh && pk->method.len && !header_matches(mh, body, &pk->method)) {
		modern_header_error(r, body, pk, "Mcp-Method must equal the method");
		return;
	}
	if (nh && (jx_find(body, len, npath, 2, &sp) == 0 || jx_find(body, len, upath, 2, &sp) == 0) &&
	    !header_matches(nh, body, &sp)) {
		modern_header_error(r, body, pk, "Mcp-Name must equal params.name or params.uri");
		return;
	}
	cred_hash(h->cfg.token ? tp_http_header(r, "Authorization") : NULL, cred);
	c = mg_map_get(&h->principals, cred, sizeof(cred));
	if (!c || c->closing)
		c = conn_new(h, r, false, true);
	c->last_active_ms = mg_now_ms();
	if (!pk->request) {
		h->ops->message(c->upper, body, len);
		tp_http_respond(r, 202, NULL, "", 0, NULL);
		return;
	}
	if (mg_map_get(&c->exchanges, body + pk->id.off, pk->id.len)) {
		answer_json_error(r, 400, -32600, "a request with this id is still in flight", NULL);
		return;
	}
	ex = MG_NEW(struct exchange);
	ex->conn = c;
	ex->modern = true;
	ex->rel = mg_memdup0(body + pk->id.off, pk->id.len);
	ex->rel_len = pk->id.len;
	ex->stream = c->next_stream++;
	mg_buf_init(&ex->early, h->cfg.stream_queue_max);
	dispatch_exchange(h, c, r, ex, body, len);
}

/* A version claim naming a legacy revision (a gateway speaking to us over
 * its legacy session may send one) stays on the legacy path. */
static bool claims_legacy(struct tp_mcp_http *h, const char *body, const struct jx_span *claim)
{
	for (size_t i = 0; h->cfg.versions && h->cfg.versions[i]; i++) {
		size_t n = strlen(h->cfg.versions[i]);

		if (claim->len == n + 2 && memcmp(body + claim->off + 1, h->cfg.versions[i], n) == 0)
			return true;
	}
	return false;
}

static void post_mcp(struct tp_mcp_http *h, struct tp_http_req *r)
{
	const char *ctype = tp_http_header(r, "Content-Type");
	const char *sid = tp_http_header(r, "Mcp-Session-Id");
	const char *version = tp_http_header(r, "MCP-Protocol-Version");
	struct tp_mcp_conn *c;
	struct exchange *ex;
	struct peek pk;
	const char *body;
	size_t len;

	body = tp_http_body(r, &len);
	if (!ctype || !mg_starts_with(ctype, "application/json")) {
		answer_json_error(r, 415, -32600, "Content-Type must be application/json", NULL);
		return;
	}
	if (!accepts(r, "application/json") && !accepts(r, "text/event-stream")) {
		answer_json_error(r, 406, -32600,
				  "Accept must list application/json and text/event-stream", NULL);
		return;
	}
	if (!classify(r, body, len, &pk))
		return;
	/* The body decides the era: a protocolVersion claim in _meta is the
	 * stateless 2026-07-28 protocol; a modern header without one is a
	 * modern request missing its _meta. */
	if ((pk.claim.len && !claims_legacy(h, body, &pk.claim)) ||
	    (!pk.initialize && version && strcmp(version, MODERN_VERSION) == 0)) {
		post_modern(h, r, body, len, &pk, version);
		return;
	}
	if (pk.initialize && !sid) {
		if (h->sessions.count >= h->cfg.max_sessions) {
			answer_json_error(r, 503, -32600, "too many sessions", NULL);
			return;
		}
		c = conn_new(h, r, false, false);
	} else if (pk.initialize) {
		answer_json_error(r, 400, -32600, "Bad Request: the session is already initialized",
				  NULL);
		return;
	} else if (!sid) {
		answer_json_error(r, 400, -32600, "Bad Request: Mcp-Session-Id header is required",
				  NULL);
		return;
	} else if (!(c = conn_find(h, r, sid)) || c->legacy_sse) {
		answer_json_error(r, 404, -32600, "Session not found", NULL);
		return;
	} else if (version && !version_ok(h, version)) {
		answer_json_error(r, 400, -32600, "Bad Request: unsupported MCP-Protocol-Version",
				  NULL);
		return;
	}
	if (!pk.request) {
		h->ops->message(c->upper, body, len);
		tp_http_respond(r, 202, NULL, "", 0, NULL);
		return;
	}
	if (mg_map_get(&c->exchanges, body + pk.id.off, pk.id.len)) {
		answer_json_error(r, 400, -32600, "a request with this id is still in flight", NULL);
		return;
	}
	ex = MG_NEW(struct exchange);
	ex->conn = c;
	ex->rel = mg_memdup0(body + pk.id.off, pk.id.len);
	ex->rel_len = pk.id.len;
	ex->stream = c->next_stream++;
	mg_buf_init(&ex->early, h->cfg.stream_queue_max);
	dispatch_exchange(h, c, r, ex, body, len);
}

/* ---- GET /mcp and DELETE /mcp ---- */

static void resume_stream(struct tp_mcp_conn *c, struct tp_http_req *r, const char *last)
{
	unsigned stream;
	unsigned long long seq;
	struct mg_list *pos;
	size_t it = 0;
	void *v;
	const char *hdr[3];

	if (sscanf(last, "%u-%llu", &stream, &seq) != 2) {
		answer_json_error(r, 400, -32600, "Bad Request: malformed Last-Event-ID", NULL);
		return;
	}
	tp_http_stream_open(r, 200, "text/event-stream", session_header(c, hdr));
	c->replaying = true;
	for (pos = c->replay.next; pos != &c->replay; pos = pos->next) {
		struct event *e = mg_container_of(pos, struct event, node);

		if (e->stream == stream && e->seq > seq)
			tp_http_stream_write(r, e->text, e->len);
	}
	c->replaying = false;
	/* The request whose stream broke is still running: carry on here. */
	while (mg_map_next(&c->exchanges, &it, NULL, NULL, &v)) {
		struct exchange *ex = v;

		if (ex->stream == stream && ex->decided && !ex->req) {
			ex->req = r;
			bind_req(r, BIND_EXCHANGE, c, ex);
			return;
		}
	}
	if (stream == c->listen_stream && !c->listen) {
		c->listen = r;
		bind_req(r, BIND_LISTEN, c, NULL);
		return;
	}
	tp_http_stream_end(r);          /* nothing more will come on it */
}

static void get_mcp(struct tp_mcp_http *h, struct tp_http_req *r)
{
	struct tp_mcp_conn *c;
	const char *sid = tp_http_header(r, "Mcp-Session-Id");
	const char *last = tp_http_header(r, "Last-Event-ID");
	const char *hdr[3];
	struct mg_list *pos, *tmp, waiting;

	if (!accepts(r, "text/event-stream")) {
		answer_json_error(r, 406, -32600, "Accept must list text/event-stream", NULL);
		return;
	}
	if (!sid) {
		answer_json_error(r, 400, -32600, "Bad Request: Mcp-Session-Id header is required",
				  NULL);
		return;
	}
	if (!(c = conn_find(h, r, sid)) || c->legacy_sse) {
		answer_json_error(r, 404, -32600, "Session not found", NULL);
		return;
	}
	if (last) {
		resume_stream(c, r, last);
		return;
	}
	if (c->listen) {
		answer_json_error(r, 409, -32600, "Conflict: this session already has a GET stream",
				  NULL);
		return;
	}
	tp_http_stream_open(r, 200, "text/event-stream", session_header(c, hdr));
	c->listen = r;
	c->listen_stream = c->next_stream++;
	bind_req(r, BIND_LISTEN, c, NULL);
	/* Taken out first: sending charges the budget, which may drop them. */
	mg_list_init(&waiting);
	mg_list_each_safe(pos, tmp, &c->pending) {
		mg_list_del(pos);
		mg_list_add_tail(&waiting, pos);
	}
	mg_budget_release(&c->pending_budget, c->pending_bytes);
	c->pending_bytes = 0;
	mg_list_each_safe(pos, tmp, &waiting) {
		struct event *e = mg_container_of(pos, struct event, node);

		mg_list_del(pos);
		send_on_stream(c, r, c->listen_stream, e->text, e->len);
		free(e);
	}
}

static void delete_mcp(struct tp_mcp_http *h, struct tp_http_req *r)
{
	struct tp_mcp_conn *c;
	const char *sid = tp_http_header(r, "Mcp-Session-Id");

	if (!sid) {
		answer_json_error(r, 400, -32600, "Bad Request: Mcp-Session-Id header is required",
				  NULL);
		return;
	}
	if (!(c = conn_find(h, r, sid))) {
		answer_json_error(r, 404, -32600, "Session not found", NULL);
		return;
	}
	tp_mcp_conn_close(c);
	tp_http_respond(r, 200, NULL, "", 0, NULL);
}

/* ---- legacy HTTP+SSE (2024-11-05): GET /sse, POST /messages ---- */

static void open_legacy_sse(struct tp_mcp_http *h, struct tp_http_req *r)
{
	struct tp_mcp_conn *c;
	char ev[160];
	int n;

	if (h->sessions.count >= h->cfg.max_sessions) {
		answer_json_error(r, 503, -32600, "too many sessions", NULL);
		return;
	}
	c = conn_new(h, r, true, false);
	tp_http_stream_open(r, 200, "text/event-stream", NULL);
	c->listen = r;
	bind_req(r, BIND_LEGACY_SSE, c, NULL);
	n = snprintf(ev, sizeof(ev), "event: endpoint\ndata: /messages?sessionId=%s\n\n", c->id);
	tp_http_stream_write(r, ev, (size_t)n);
}

static void post_legacy_message(struct tp_mcp_http *h, struct tp_http_req *r)
{
	struct tp_mcp_conn *c;
	const char *sid = tp_http_query(r, "sessionId");
	const char *body;
	struct peek pk;
	size_t len;

	if (!sid) {
		answer_json_error(r, 400, -32600, "Bad Request: sessionId is required", NULL);
		return;
	}
	if (!(c = conn_find(h, r, sid)) || !c->legacy_sse) {
		answer_json_error(r, 404, -32600, "Session not found", NULL);
		return;
	}
	body = tp_http_body(r, &len);
	if (!classify(r, body, len, &pk))
		return;
	h->ops->message(c->upper, body, len);
	tp_http_respond(r, 202, "text/plain", "Accepted", 8, NULL);
}

/* ---- dispatch ---- */

static void on_request(void *ctx, struct tp_http_req *r)
{
	struct tp_mcp_http *h = ctx;
	const char *path = tp_http_path(r), *method = tp_http_method(r);
	static const char *const allow[] = { "Allow", "GET, POST, DELETE", NULL };

	if (h->stopping) {
		answer_json_error(r, 503, -32600, "the gateway is stopping", NULL);
		return;
	}
	if (strcmp(path, "/health") == 0) {
		tp_http_respond(r, 200, "application/json", "{\"status\":\"ok\"}", 15, NULL);
		return;
	}
	if (h->cfg.streamable && strcmp(path, "/mcp") == 0) {
		const char *v = tp_http_header(r, "MCP-Protocol-Version");

		if (strcmp(method, "POST") != 0 && v && strcmp(v, MODERN_VERSION) == 0)
			answer_json_error(r, 405, -32600, "Method not allowed: 2026-07-28 is POST only",
					  allow);
		else if (strcmp(method, "POST") == 0)
			post_mcp(h, r);
		else if (strcmp(method, "GET") == 0)
			get_mcp(h, r);
		else if (strcmp(method, "DELETE") == 0)
			delete_mcp(h, r);
		else
			answer_json_error(r, 405, -32600, "Method not allowed", allow);
	} else if (h->cfg.sse && strcmp(path, "/sse") == 0 && strcmp(method, "GET") == 0) {
		open_legacy_sse(h, r);
	} else if (h->cfg.sse && strcmp(path, "/messages") == 0 && strcmp(method, "POST") == 0) {
		post_legacy_message(h, r);
	} else {
		answer_json_error(r, 404, -32600, "Not found", NULL);
	}
}

static void h_cancel(struct tp_mcp_conn *c, struct exchange *ex)
{
	char *rel = mg_memdup0(ex->rel, ex->rel_len);
	size_t rl = ex->rel_len;

	finish_exchange(c, ex);
	if (c->h->ops->cancel)
		c->h->ops->cancel(c->upper, rel, rl);
	free(rel);
}

static void on_done(void *ctx, struct tp_http_req *r, bool aborted)
{
	struct binding *b = tp_http_get_data(r);
	struct tp_mcp_conn *c;

	if (!b)
		return;
	c = b->conn;
	switch (b->kind) {
	case BIND_EXCHANGE:
		if (b->ex && b->ex->post == r) {
			/* Gone before anything came back. */
			b->ex->post = NULL;
			b->ex->decided = true;
			if (b->ex->modern && !c->closing)
				h_cancel(c, b->ex);
		} else if (b->ex && b->ex->req == r) {
			b->ex->req = NULL;
			/* 2026-07-28: closing the stream is the cancel.  Legacy:
			 * a dropped stream is not; the client may resume. */
			if (b->ex->modern && !c->closing) {
				struct exchange *ex = b->ex;

				h_cancel(c, ex);
			}
		}
		break;
	case BIND_LISTEN:
		if (c->listen == r)
			c->listen = NULL;
		break;
	case BIND_LEGACY_SSE:
		if (c->listen == r)
			c->listen = NULL;
		tp_mcp_conn_close(c);   /* that stream is the session */
		break;
	default:
		break;
	}
	free(b);
	c->nreqs--;
	conn_maybe_free(c);
}

/* Does the request name a live session of its credential (or, stateless,
 * its principal's)?  Those are served when connections run short. */
static bool has_session(struct tp_mcp_http *h, struct tp_http_req *r)
{
	const char *sid = tp_http_header(r, "Mcp-Session-Id");
	unsigned char cred[32];
	struct tp_mcp_conn *c;

	if (!sid)
		sid = tp_http_query(r, "sessionId");
	if (sid && conn_find(h, r, sid))
		return true;
	cred_hash(h->cfg.token ? tp_http_header(r, "Authorization") : NULL, cred);
	c = mg_map_get(&h->principals, cred, sizeof(cred));
	return c && !c->closing;
}

/* The head is in, the body not yet: refusals here cost no body. */
static void on_head(void *ctx, struct tp_http_req *r)
{
	static const char *const retry[] = { "Retry-After", "1", NULL };
	struct tp_mcp_http *h = ctx;

	if (h->stopping) {
		answer_json_error(r, 503, -32600, "the gateway is stopping", retry);
		return;
	}
	if (strcmp(tp_http_path(r), "/health") == 0)
		return;
	if (!door(h, r))
		return;
	if (tp_http_under_pressure(r) && !tp_http_is_established(r) && !has_session(h, r)) {
		answer_json_error(r, 503, -32600, "too many connections: retry later", retry);
		return;
	}
	tp_http_set_established(r);
}

static void on_refused(void *ctx, const struct tp_http_refusal *rf)
{
	struct tp_mcp_http *h = ctx;

	if (h->ops->refused)
		h->ops->refused(h->ctx, rf);
}

static const struct tp_http_server_ops http_ops = { on_request, on_done, on_head, on_refused };

/* ---- timers: upper closes, idle expiry ---- */

static void reap(uv_timer_t *t)
{
	struct tp_mcp_http *h = t->data;

	while (!mg_list_empty(&h->closing)) {
		struct tp_mcp_conn *c = mg_container_of(h->closing.next, struct tp_mcp_conn, node);

		mg_list_del(&c->node);
		mg_list_init(&c->node);
		c->upper_closed = true;
		h->ops->close(c->upper);
		conn_maybe_free(c);
	}
}

static void sweep(uv_timer_t *t)
{
	struct tp_mcp_http *h = t->data;
	uint64_t now = mg_now_ms();
	struct mg_list *pos, *tmp;

	mg_list_each_safe(pos, tmp, &h->conns) {
		struct tp_mcp_conn *c = mg_container_of(pos, struct tp_mcp_conn, node);

		if (!c->listen && c->nreqs == 0 && now - c->last_active_ms > h->cfg.session_idle_ms) {
			mg_info("session %.8s... idle for %llu s; closing it", c->id,
				(unsigned long long)(now - c->last_active_ms) / 1000);
			tp_mcp_conn_close(c);
		}
	}
}

int tp_mcp_http_start(uv_loop_t *loop, const struct tp_mcp_http_config *cfg,
		      const struct tp_mcp_http_ops *ops, void *ctx, struct tp_mcp_http **out,
		      struct mg_err *err)
{
	struct tp_mcp_http *h = MG_NEW(struct tp_mcp_http);
	struct tp_http_config hc = {
		.host = cfg->host, .port = cfg->port, .max_body = cfg->max_body,
		.max_connections = cfg->max_connections,
		.reserved_connections = cfg->reserved_connections,
		.max_per_address = cfg->max_per_address,
		.stream_queue_max = cfg->stream_queue_max,
		.header_timeout_s = cfg->header_timeout_s, .idle_timeout_s = cfg->idle_timeout_s,
		.budget = cfg->budget,
	};
	int rc;

	h->loop = loop;
	h->cfg = *cfg;
	h->ops = ops;
	h->ctx = ctx;
	mg_map_init(&h->sessions);
	mg_map_init(&h->principals);
	mg_list_init(&h->conns);
	mg_list_init(&h->closing);
	rc = tp_http_server_start(loop, &hc, &http_ops, h, &h->http, err);
	if (rc) {
		mg_map_release(&h->sessions);
		mg_map_release(&h->principals);
		free(h);
		return rc;
	}
	uv_timer_init(loop, &h->sweep);
	uv_timer_init(loop, &h->reaper);
	h->sweep.data = h->reaper.data = h;
	uv_timer_start(&h->sweep, sweep, SWEEP_MS, SWEEP_MS);
	*out = h;
	return 0;
}

static void mcp_handle_closed(uv_handle_t *hd)
{
	struct tp_mcp_http *h = hd->data;

	if (--h->open_handles == 0 && !h->http) {
		void (*done)(void *) = h->stopped;
		void *ctx = h->stopped_ctx;

		mg_map_release(&h->sessions);
		mg_map_release(&h->principals);
		free(h);
		if (done)
			done(ctx);
	}
}

static void http_stopped(void *ctx)
{
	struct tp_mcp_http *h = ctx;

	h->http = NULL;
	reap(&h->reaper);               /* upper closes still due */
	h->open_handles = 2;
	uv_close((uv_handle_t *)&h->sweep, mcp_handle_closed);
	uv_close((uv_handle_t *)&h->reaper, mcp_handle_closed);
}

void tp_mcp_http_stop(struct tp_mcp_http *h, void (*done)(void *ctx), void *ctx)
{
	struct mg_list *pos, *tmp;

	if (h->stopping)
		return;
	h->stopping = true;
	h->stopped = done;
	h->stopped_ctx = ctx;
	mg_list_each_safe(pos, tmp, &h->conns)
		tp_mcp_conn_close(mg_container_of(pos, struct tp_mcp_conn, node));
	reap(&h->reaper);
	tp_http_server_stop(h->http, http_stopped, h);
}
