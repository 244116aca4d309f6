/* HTTP client for remote MCP servers: libcurl multi on the libuv loop.
 *
 * Plumbing (the libcurl "multi_socket" pattern): curl tells us which
 * sockets to watch (CURLMOPT_SOCKETFUNCTION -> one uv_poll_t per socket)
 * and when to wake it (CURLMOPT_TIMERFUNCTION -> curl_timer); both call
 * drive(), which runs curl_multi_socket_action and then collects finished
 * transfers.  Sockets are closed through CURLOPT_CLOSESOCKETFUNCTION so a
 * poll handle is always stopped before its fd is closed (and the number
 * reused elsewhere).
 *
 * Re-entrancy: curl forbids multi calls from its callbacks, and our
 * callers may call anything from theirs (on_message runs inside curl's
 * write callback).  So while c->busy is non-zero nothing is added to or
 * removed from the multi handle and nothing is freed: requests to start
 * wait on c->pending, aborted ones are flagged, and after() applies it all
 * once the outermost call returns.
 *
 * A request (struct req) is one logical HTTP exchange that may take several
 * attempts, each with a fresh easy handle: a POST (perhaps resumed by GETs
 * with Last-Event-ID), the GET stream (reconnected), the legacy SSE stream,
 * or the closing DELETE.  Lists by state: queued (legacy, waiting for the
 * endpoint), waiting (backoff, on retry_timer), pending (to add), active
 * (in the multi handle). */
#include "transport/http_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/list.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "json/jx.h"
#include "transport/sse.h"

#define ERRBODY_MAX 2048        /* start of an error body kept for the message */
#define DETAIL_MAX 200          /* characters of it shown */
#define SESSION_ID_MAX 256
#define VERSION_MAX 64
#define ENDPOINT_MAX 2048
#define RETRY_DEFAULT_MS 1000
#define BACKOFF_MAX_MS 30000
#define RETRY_MAX_MS 600000     /* retry: honoured up to 10 minutes */
#define RESUME_TRIES 5          /* resumptions in a row without an event */
#define MAX_HOST_CONNS 64
#define MAX_IDLE_CONNS 8
#define MAX_REDIRS 5

enum req_kind { RQ_POST, RQ_RESUME, RQ_LISTEN, RQ_LEGACY, RQ_DELETE };
enum req_state { RS_NONE, RS_QUEUED, RS_WAITING, RS_PENDING, RS_ACTIVE };
enum body_mode {
	M_UNKNOWN,      /* no body byte yet */
	M_JSON,         /* application/json: the whole body, capped */
	M_SSE,          /* text/event-stream: through the parser */
	M_KEEP,         /* error or unexpected body: keep its start */
	M_DISCARD,      /* not interesting (legacy 202, DELETE) */
};

struct req {
	struct mg_list node;
	struct tp_httpc *c;
	enum req_kind kind;
	enum req_state state;
	CURL *easy;
	struct curl_slist *hdrs;
	char **extra;           /* extra headers of a POST */
	char *body;             /* POST body (NUL-terminated copy) */
	size_t body_len;
	char *id;               /* id text of a request; NULL otherwise */
	size_t id_len;
	bool is_init;           /* the POST carries initialize */
	bool counted;           /* counts in c->inflight */
	uint64_t due;           /* RS_WAITING: uv_now() to start at */
	unsigned tries;         /* failed attempts in a row */
	struct tp_sse sse;      /* kept across attempts (last event id) */
	/* per attempt */
	long status;
	enum body_mode mode;
	bool bad_type;          /* 2xx with an unexpected Content-Type */
	bool sent_session;      /* the request carried Mcp-Session-Id */
	bool got_response;      /* a JSON-RPC response came on this stream */
	bool failed;            /* outcome already reported */
	bool aborted;           /* remove and free (deferred while busy) */
	uint64_t events0;       /* sse.events when the attempt started */
	uint64_t in_total;
	struct mg_buf in;
	char *sid;              /* Mcp-Session-Id of this response */
	char errbuf[CURL_ERROR_SIZE];
};

struct sock {
	uv_poll_t poll;
	struct tp_httpc *c;
	curl_socket_t fd;
	struct mg_list node;
};

struct tp_httpc {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t curl_timer;
	uv_timer_t retry_timer;
	int handles;            /* libuv handles not yet closed */
	struct mg_list socks;
	struct mg_list active, pending, waiting, queued;
	enum tp_httpc_kind kind;
	CURLU *urlh;
	char *url;
	char *scheme;
	char *post_url;         /* SSE: from the endpoint event */
	char **headers;
	size_t max_message;
	const struct tp_httpc_ops *ops;
	void *ctx;
	char *session_id;
	char *version;
	struct req *listen;
	struct req *legacy;
	size_t inflight;
	unsigned busy;
	bool listen_wanted;     /* tp_httpc_listen was called (once is enough) */
	bool dead;
	bool closing;
	bool torn_down;
	void (*closed_cb)(void *ctx);
};

static bool curl_ready;

int tp_httpc_global_init(void)
{
	const curl_version_info_data *v;

	if (curl_ready)
		return 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	v = curl_version_info(CURLVERSION_NOW);
	if (!v || v->version_num < 0x075500) {  /* CURLOPT_PROTOCOLS_STR */
		curl_global_cleanup();
		return -ENOTSUP;
	}
	curl_ready = true;
	return 0;
}

void tp_httpc_global_cleanup(void)
{
	if (!curl_ready)
		return;
	curl_global_cleanup();
	curl_ready = false;
}

static void *must(void *p)
{
	if (!p) {
		fprintf(stderr, "mcpguard: out of memory (libcurl)\n");
		abort();
	}
	return p;
}

/* ---- small text helpers ---- */

static bool is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/* Copy text for a log or error line: printable ASCII only, whitespace
 * runs collapsed, at most DETAIL_MAX characters. */
static void sanitize(const char *s, size_t n, char *out, size_t size)
{
	size_t o = 0;
	bool space = true;      /* drop leading spaces */

	for (size_t i = 0; i < n && o + 4 < size && o < DETAIL_MAX; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= ' ' || ch == 0x7f) {
			if (!space)
				out[o++] = ' ';
			space = true;
			continue;
		}
		out[o++] = ch < 0x80 ? (char)ch : '?';
		space = false;
	}
	while (o && out[o - 1] == ' ')
		o--;
	if (o >= DETAIL_MAX && o + 4 < size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* Media type of a Content-Type value, case-insensitively. */
static bool media_is(const char *ct, const char *type)
{
	size_t n = strlen(type);

	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return strncasecmp(ct, type, n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

static bool is_tchar(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Headers the transport writes itself. */
static const char *const managed[] = {
	"accept", "content-type", "mcp-session-id", "mcp-protocol-version", "last-event-id",
	"host", "content-length", "transfer-encoding", "expect", "connection",
};

static int check_header(const char *h, struct mg_err *err)
{
	const char *colon = strchr(h, ':'), *v;
	size_t name_len;

	if (!colon || colon == h)
		return mg_err_set(err, -EINVAL, "header '%.40s' is not 'Name: value'", h);
	name_len = (size_t)(colon - h);
	for (const char *p = h; p < colon; p++)
		if (!is_tchar(*p))
			return mg_err_set(err, -EINVAL, "header name '%.*s' is not a token",
					  (int)(name_len > 40 ? 40 : name_len), h);
	for (size_t i = 0; i < MG_ARRAY_LEN(managed); i++)
		if (name_len == strlen(managed[i]) && strncasecmp(h, managed[i], name_len) == 0)
			return mg_err_set(err, -EINVAL,
					  "header %.*s is set by the transport, not by configuration",
					  (int)name_len, h);
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	if (!*v)
		return mg_err_set(err, -EINVAL, "header %.*s has an empty value", (int)name_len, h);
	for (; *v; v++) {
		unsigned char ch = (unsigned char)*v;

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return mg_err_set(err, -EINVAL, "header %.*s holds a control character",
					  (int)name_len, h);
	}
	return 0;
}

static int check_headers(char *const *v, struct mg_err *err)
{
	int rc;

	for (size_t i = 0; v && v[i]; i++)
		if ((rc = check_header(v[i], err)))
			return rc;
	return 0;
}

static char **strv_copy(char *const *v)
{
	char **out = NULL;

	for (size_t i = 0; v && v[i]; i++)
		out = mg_strv_push(out, v[i]);
	return out;
}

/* Visible ASCII (0x21-0x7E), 1..max bytes: safe inside a header value. */
static bool visible_ascii(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static const char *const path_id[] = { "id" };
static const char *const path_method[] = { "method" };
static const char *const path_result[] = { "result" };
static const char *const path_error[] = { "error" };

/* A JSON-RPC response with a non-null id?  The text is the server's and
 * unvalidated; jx_find is memory-safe on any input. */
static bool is_response(const char *s, size_t n)
{
	struct jx_span sp, x;

	if (jx_find(s, n, path_id, 1, &sp) || sp.len == 0 ||
	    (sp.len == 4 && memcmp(s + sp.off, "null", 4) == 0))
		return false;
	return jx_find(s, n, path_result, 1, &x) == 0 || jx_find(s, n, path_error, 1, &x) == 0;
}

/* ---- requests ---- */

static void after(struct tp_httpc *c);
static void arm_retry(struct tp_httpc *c);

static const struct tp_sse_ops sse_ops;

static struct req *req_new(struct tp_httpc *c, enum req_kind kind)
{
	struct req *r = MG_NEW(struct req);

	mg_list_init(&r->node);
	r->c = c;
	r->kind = kind;
	tp_sse_init(&r->sse, c->max_message, &sse_ops, r);
	mg_buf_init(&r->in, 0);
	return r;
}

static void req_free(struct req *r)
{
	struct tp_httpc *c = r->c;

	mg_list_del(&r->node);
	if (r->easy)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->hdrs);
	mg_strv_free(r->extra);
	free(r->body);
	free(r->id);
	free(r->sid);
	tp_sse_release(&r->sse);
	mg_buf_release(&r->in);
	if (r->counted)
		c->inflight--;
	if (c->listen == r)
		c->listen = NULL;
	if (c->legacy == r)
		c->legacy = NULL;
	free(r);
}

/* Drop a request.  In the multi handle and busy: flag it, after() frees. */
static void req_abort(struct req *r)
{
	struct tp_httpc *c = r->c;

	if (r->state == RS_ACTIVE) {
		r->aborted = true;
		if (c->busy)
			return;
		curl_multi_remove_handle(c->multi, r->easy);
	}
	req_free(r);
}

static void put(struct req *r, enum req_state state, struct mg_list *list)
{
	mg_list_del(&r->node);
	r->state = state;
	mg_list_add_tail(list, &r->node);
}

/* Start now (or as soon as not busy), or after delay_ms. */
static void schedule(struct req *r, uint64_t delay_ms)
{
	struct tp_httpc *c = r->c;

	if (delay_ms == 0) {
		put(r, RS_PENDING, &c->pending);
		return;
	}
	r->due = uv_now(c->loop) + delay_ms;
	put(r, RS_WAITING, &c->waiting);
	arm_retry(c);
}

static uint64_t backoff_ms(uint64_t base, unsigned tries)
{
	uint64_t d = base ? base : RETRY_DEFAULT_MS;

	for (unsigned i = 1; i < tries && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	return d < BACKOFF_MAX_MS || base > BACKOFF_MAX_MS ? d : BACKOFF_MAX_MS;
}

static uint64_t retry_base(const struct req *r)
{
	if (r->sse.retry_ms < 0)
		return RETRY_DEFAULT_MS;
	return r->sse.retry_ms < RETRY_MAX_MS ? (uint64_t)r->sse.retry_ms : RETRY_MAX_MS;
}

/* The stream's last event id, if it can go back in a Last-Event-ID
 * header (the server chose it: visible ASCII only). */
static const char *resume_id(const struct req *r)
{
	const char *id = r->sse.last_id;

	return visible_ascii(id, strlen(id), TP_SSE_ID_MAX) ? id : NULL;
}

static void fail_req(struct req *r, long status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Report that a POST got no response (once per request). */
static void fail_req(struct req *r, long status, const char *fmt, ...)
{
	struct tp_httpc *c = r->c;
	char why[512];
	va_list ap;

	if (r->failed || r->aborted || c->closing || c->dead)
		return;
	r->failed = true;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (r->id)
		mg_debug("http: request %.*s failed: %s", (int)r->id_len, r->id, why);
	else
		mg_debug("http: POST of a notification or response failed: %s", why);
	c->ops->on_post_error(c->ctx, r->id, r->id ? r->id_len : 0, (int)status, why);
}

/* The connection is unusable: tell the owner once; after() aborts all. */
static void conn_dead(struct tp_httpc *c, const char *why)
{
	if (c->dead || c->closing)
		return;
	c->dead = true;
	mg_warn("http: connection closed: %s", why);
	c->ops->on_closed(c->ctx, why);
}

static void deliver(struct req *r, const char *json, size_t len)
{
	struct tp_httpc *c = r->c;

	if (r->aborted || c->closing || c->dead)
		return;
	if (len > c->max_message)      /* cannot happen: both paths are capped */
		return;
	c->ops->on_message(c->ctx, json, len, (int)r->status);
}

/* ---- curl callbacks: headers and bodies ---- */

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
	static const char name[] = "mcp-session-id:";
	struct req *r = ud;
	size_t len = size * n, vlen;
	const char *v;

	if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
		/* a new response (after a 1xx or a redirect) */
		free(mg_steal(&r->sid));
		return len;
	}
	if (!r->is_init || len < sizeof(name) - 1 || strncasecmp(buf, name, sizeof(name) - 1))
		return len;
	v = buf + sizeof(name) - 1;
	vlen = len - (sizeof(name) - 1);
	while (vlen && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' ' ||
			v[vlen - 1] == '\t'))
		vlen--;
	if (!visible_ascii(v, vlen, SESSION_ID_MAX)) {
		mg_warn("http: ignoring an Mcp-Session-Id that is not 1..%d visible ASCII characters",
			SESSION_ID_MAX);
		return len;
	}
	free(r->sid);
	r->sid = mg_strndup(v, vlen);
	return len;
}

/* The response's status and Content-Type are known: choose how to read
 * the body, and take the session id from an initialize response. */
static void decide_mode(struct req *r)
{
	struct tp_httpc *c = r->c;
	const char *ct = NULL;
	long st = 0;
	bool ok, sse, json;

	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
	curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct);
	r->status = st;
	ok = st >= 200 && st < 300;
	sse = media_is(ct, "text/event-stream");
	json = media_is(ct, "application/json");
	if (ok && r->sid && c->kind == TP_HTTPC_STREAMABLE) {
		free(c->session_id);
		c->session_id = mg_steal(&r->sid);
	}
	switch (r->kind) {
	case RQ_POST:
		/* 202 Accepted: whatever body comes with it means nothing */
		if (c->kind == TP_HTTPC_SSE || st == 202 || st == 204)
			r->mode = ok ? M_DISCARD : M_KEEP;
		else if (json)
			r->mode = M_JSON;
		else if (ok && sse)
			r->mode = M_SSE;
		else
			r->mode = M_KEEP;
		break;
	case RQ_RESUME:
	case RQ_LISTEN:
	case RQ_LEGACY:
		r->mode = ok && sse ? M_SSE : M_KEEP;
		break;
	case RQ_DELETE:
	default:
		r->mode = M_DISCARD;
		break;
	}
	r->bad_type = ok && r->mode == M_KEEP;
	mg_buf_release(&r->in);
	mg_buf_init(&r->in, r->mode == M_JSON ? c->max_message : ERRBODY_MAX);
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
	struct req *r = ud;
	struct tp_httpc *c = r->c;
	size_t len = size * n, room;

	if (r->aborted || c->closing || c->dead)
		return 0;
	if (r->mode == M_UNKNOWN)
		decide_mode(r);
	r->in_total += len;
	switch (r->mode) {
	case M_JSON:
		if (mg_buf_add(&r->in, p, len)) {
			fail_req(r, r->status, "response body over %zu bytes", c->max_message);
			return 0;
		}
		return len;
	case M_SSE:
		return tp_sse_feed(&r->sse, p, len) ? 0 : len;
	case M_KEEP:
		room = r->in.max - r->in.len;
		mg_buf_add(&r->in, p, len < room ? len : room);
		return r->in_total > c->max_message ? 0 : len;
	case M_UNKNOWN:
	case M_DISCARD:
	default:
		return r->in_total > c->max_message ? 0 : len;
	}
}

/* ---- SSE events ---- */

/* HTTP+SSE: the endpoint event names the URL to POST to. */
static int legacy_endpoint(struct req *r, const char *s, size_t n)
{
	static const CURLUPart parts[] = { CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT };
	struct tp_httpc *c = r->c;
	char *rel = NULL, *full = NULL, *a = NULL, *b = NULL;
	CURLU *u = NULL;
	const char *bad = NULL;
	int rc = 1;

	if (c->post_url) {
		mg_debug("http: ignoring a second endpoint event");
		return 0;
	}
	while (n && (*s == ' ' || *s == '\t' || *s == '\n')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n'))
		n--;
	if (!visible_ascii(s, n, ENDPOINT_MAX)) {
		conn_dead(c, "HTTP+SSE endpoint event does not hold a URL");
		return 1;
	}
	rel = mg_strndup(s, n);
	u = must(curl_url_dup(c->urlh));
	if (curl_url_set(u, CURLUPART_URL, rel, 0) != CURLUE_OK) {
		bad = "is not a valid URL";
		goto out;
	}
	/* Same origin as the SSE URL, or a server could send our headers
	 * (credentials) anywhere. */
	for (size_t i = 0; i < MG_ARRAY_LEN(parts) && !bad; i++) {
		if (curl_url_get(u, parts[i], &a, CURLU_DEFAULT_PORT) != CURLUE_OK ||
		    curl_url_get(c->urlh, parts[i], &b, CURLU_DEFAULT_PORT) != CURLUE_OK ||
		    strcasecmp(a, b) != 0)
			bad = "is not on the SSE URL's origin";
		curl_free(mg_steal(&a));
		curl_free(mg_steal(&b));
	}
	if (bad)
		goto out;
	if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
		bad = "cannot be resolved";
		goto out;
	}
	c->post_url = mg_strdup(full);
	mg_debug("http: HTTP+SSE endpoint received");
	/* Messages waiting for it go now. */
	while (!mg_list_empty(&c->queued)) {
		struct req *q = mg_container_of(c->queued.next, struct req, node);

		schedule(q, 0);
	}
	rc = 0;
out:
	if (bad) {
		char msg[512], clean[DETAIL_MAX + 8];

		sanitize(rel, strlen(rel), clean, sizeof(clean));
		snprintf(msg, sizeof(msg), "HTTP+SSE endpoint '%s' %s", clean, bad);
		conn_dead(c, msg);
	}
	curl_free(full);
	curl_url_cleanup(u);
	free(rel);
	return rc;
}

static int sse_event(void *ctx, const struct tp_sse_event *ev)
{
	struct req *r = ctx;
	struct tp_httpc *c = r->c;

	if (r->aborted || c->closing || c->dead)
		return 1;
	if (r->kind == RQ_LEGACY && tp_sse_is_type(ev, "endpoint"))
		return legacy_endpoint(r, ev->data, ev->len);
	if (!tp_sse_is_type(ev, "message")) {
		mg_debug("http: ignoring an SSE event that is not of type message");
		return 0;
	}
	if (is_blank(ev->data, ev->len))
		return 0;       /* a priming event (2025-11-25) */
	if ((r->kind == RQ_POST || r->kind == RQ_RESUME) && is_response(ev->data, ev->len))
		r->got_response = true;
	deliver(r, ev->data, ev->len);
	return r->aborted || c->closing || c->dead ? 1 : 0;
}

static int sse_oversize(void *ctx, const char *field, size_t max)
{
	struct req *r = ctx;
	struct tp_httpc *c = r->c;
	char why[128];

	snprintf(why, sizeof(why), "SSE event %s over %zu bytes", field, max);
	switch (r->kind) {
	case RQ_LISTEN:
		mg_warn("http: GET stream: %s, skipped", why);
		return 0;
	case RQ_LEGACY:
		conn_dead(c, why);
		return 1;
	case RQ_POST:
	case RQ_RESUME:
	case RQ_DELETE:
	default:
		if (!r->got_response)
			fail_req(r, r->status, "%s", why);
		return 1;
	}
}

static const struct tp_sse_ops sse_ops = { sse_event, sse_oversize };

/* ---- starting an attempt ---- */

static int closesocket_cb(void *clientp, curl_socket_t fd);

static struct curl_slist *hdr_add(struct curl_slist *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static struct curl_slist *hdr_add(struct curl_slist *l, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return must(curl_slist_append(l, line));
}

static struct curl_slist *build_headers(struct req *r)
{
	struct tp_httpc *c = r->c;
	struct curl_slist *l = NULL;
	bool streamable = c->kind == TP_HTTPC_STREAMABLE;

	switch (r->kind) {
	case RQ_POST:
		l = hdr_add(l, "Accept: application/json, text/event-stream");
		l = hdr_add(l, "Content-Type: application/json");
		l = hdr_add(l, "Expect:");      /* no 100-continue round trip */
		break;
	case RQ_RESUME:
	case RQ_LISTEN:
	case RQ_LEGACY:
		l = hdr_add(l, "Accept: text/event-stream");
		l = hdr_add(l, "Cache-Control: no-cache");
		if (r->kind != RQ_LEGACY && resume_id(r))
			l = hdr_add(l, "Last-Event-ID: %s", resume_id(r));
		break;
	case RQ_DELETE:
	default:
		break;
	}
	r->sent_session = streamable && c->session_id;
	if (r->sent_session)
		l = hdr_add(l, "Mcp-Session-Id: %s", c->session_id);
	if (streamable && c->version)
		l = hdr_add(l, "MCP-Protocol-Version: %s", c->version);
	for (size_t i = 0; c->headers && c->headers[i]; i++)
		l = must(curl_slist_append(l, c->headers[i]));
	for (size_t i = 0; r->extra && r->extra[i]; i++)
		l = must(curl_slist_append(l, r->extra[i]));
	return l;
}

/* A fresh easy handle for the next attempt. */
static int easy_setup(struct req *r)
{
	struct tp_httpc *c = r->c;
	CURL *e;
	CURLcode rc = CURLE_OK;

	if (r->easy)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->hdrs);
	r->easy = e = must(curl_easy_init());
	r->status = 0;
	r->mode = M_UNKNOWN;
	r->bad_type = false;
	r->got_response = false;
	r->in_total = 0;
	r->errbuf[0] = '\0';
	free(mg_steal(&r->sid));
	mg_buf_release(&r->in);
	tp_sse_restart(&r->sse);
	r->events0 = r->sse.events;
	r->hdrs = build_headers(r);

#define SET(opt, val)                                                         \
	do {                                                                  \
		if (rc == CURLE_OK)                                           \
			rc = curl_easy_setopt(e, opt, val);                   \
	} while (0)
	SET(CURLOPT_URL, r->kind == RQ_POST && c->kind == TP_HTTPC_SSE ? c->post_url : c->url);
	SET(CURLOPT_PRIVATE, r);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)TP_HTTPC_CONNECT_TIMEOUT_MS);
	SET(CURLOPT_USERAGENT, "mcpguard/" MG_VERSION);
	SET(CURLOPT_HTTPHEADER, r->hdrs);
	SET(CURLOPT_WRITEFUNCTION, on_write);
	SET(CURLOPT_WRITEDATA, r);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, r);
	SET(CURLOPT_CLOSESOCKETFUNCTION, closesocket_cb);
	SET(CURLOPT_CLOSESOCKETDATA, c);
	SET(CURLOPT_ERRORBUFFER, r->errbuf);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_TCP_KEEPIDLE, 30L);
	SET(CURLOPT_TCP_KEEPINTVL, 15L);
	SET(CURLOPT_PIPEWAIT, 1L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	/* Peer and host verification are libcurl's defaults and stay on. */
	switch (r->kind) {
	case RQ_POST:
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDS, r->body);
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
		SET(CURLOPT_FOLLOWLOCATION, 0L);
		break;
	case RQ_DELETE:
		SET(CURLOPT_CUSTOMREQUEST, "DELETE");
		SET(CURLOPT_FOLLOWLOCATION, 0L);
		SET(CURLOPT_TIMEOUT_MS, (long)TP_HTTPC_DELETE_TIMEOUT_MS);
		SET(CURLOPT_CONNECTTIMEOUT_MS, (long)TP_HTTPC_DELETE_TIMEOUT_MS);
		break;
	case RQ_RESUME:
	case RQ_LISTEN:
	case RQ_LEGACY:
	default:
		SET(CURLOPT_HTTPGET, 1L);
		SET(CURLOPT_FOLLOWLOCATION, 1L);
		SET(CURLOPT_MAXREDIRS, (long)MAX_REDIRS);
		SET(CURLOPT_REDIR_PROTOCOLS_STR, c->scheme);
		break;
	}
#undef SET
	return rc == CURLE_OK ? 0 : -EINVAL;
}

/* ---- the multi handle on the loop ---- */

static void handle_closed(struct tp_httpc *c);

static void sock_closed(uv_handle_t *h)
{
	struct sock *sk = h->data;
	struct tp_httpc *c = sk->c;

	free(sk);
	handle_closed(c);
}

static void sock_close(struct sock *sk)
{
	if (uv_is_closing((uv_handle_t *)&sk->poll))
		return;
	mg_list_del(&sk->node);
	uv_close((uv_handle_t *)&sk->poll, sock_closed);
}

static void process_done(struct tp_httpc *c);

static void drive(struct tp_httpc *c, curl_socket_t fd, int flags)
{
	int running;

	if (!c->multi)
		return;
	c->busy++;
	curl_multi_socket_action(c->multi, fd, flags, &running);
	process_done(c);
	c->busy--;
	after(c);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
	struct sock *sk = h->data;
	int flags = 0;

	if (status < 0)
		flags |= CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	drive(sk->c, sk->fd, flags);
}

static int socket_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct tp_httpc *c = userp;
	struct sock *sk = socketp;
	int events = 0, rc;

	if (what == CURL_POLL_REMOVE) {
		if (sk)
			sock_close(sk);
		return 0;
	}
	if (!sk) {
		sk = MG_NEW(struct sock);
		sk->c = c;
		sk->fd = fd;
		if ((rc = uv_poll_init_socket(c->loop, &sk->poll, fd)) != 0) {
			mg_warn("http: cannot watch a socket: %s", uv_strerror(rc));
			free(sk);
			return -1;
		}
		sk->poll.data = sk;
		c->handles++;
		mg_list_add_tail(&c->socks, &sk->node);
		curl_multi_assign(c->multi, fd, sk);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&sk->poll, events, poll_cb);
	return 0;
}

/* Stop watching an fd before it is closed, so that the loop never holds a
 * watcher on a number that may already belong to someone else. */
static int closesocket_cb(void *clientp, curl_socket_t fd)
{
	struct tp_httpc *c = clientp;
	struct mg_list *pos, *tmp;

	mg_list_each_safe(pos, tmp, &c->socks) {
		struct sock *sk = mg_container_of(pos, struct sock, node);

		if (sk->fd == fd)
			sock_close(sk);
	}
	return close(fd);
}

static void curl_timer_fired(uv_timer_t *t)
{
	drive(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static int timer_cb(CURLM *m, long ms, void *userp)
{
	struct tp_httpc *c = userp;

	if (c->torn_down)
		return 0;
	if (ms < 0)
		uv_timer_stop(&c->curl_timer);
	else
		uv_timer_start(&c->curl_timer, curl_timer_fired, (uint64_t)ms, 0);
	return 0;
}

static void retry_fired(uv_timer_t *t)
{
	struct tp_httpc *c = t->data;
	uint64_t now = uv_now(c->loop);
	struct mg_list *pos, *tmp;

	mg_list_each_safe(pos, tmp, &c->waiting) {
		struct req *r = mg_container_of(pos, struct req, node);

		if (r->due <= now)
			schedule(r, 0);
	}
	arm_retry(c);
	after(c);
}

static void arm_retry(struct tp_httpc *c)
{
	uint64_t now = uv_now(c->loop), first = UINT64_MAX;
	struct mg_list *pos;

	if (c->torn_down)
		return;
	for (pos = c->waiting.next; pos != &c->waiting; pos = pos->next) {
		struct req *r = mg_container_of(pos, struct req, node);

		if (r->due < first)
			first = r->due;
	}
	if (first == UINT64_MAX)
		uv_timer_stop(&c->retry_timer);
	else
		uv_timer_start(&c->retry_timer, retry_fired, first > now ? first - now : 0, 0);
}

/* ---- outcomes ---- */

/* error.message of a JSON error body, or the start of a text body. */
static void body_detail(const struct req *r, char *out, size_t size)
{
	const char *msg = NULL;
	json_t *root, *e;

	out[0] = '\0';
	if (!r->in.len)
		return;
	root = jx_parse(r->in.data, r->in.len, NULL);
	if (root) {
		e = jx_obj(root, "error");
		msg = e ? jx_str(e, "message") : jx_str(root, "error");
		if (!msg)
			msg = jx_str(root, "message");
	}
	if (msg)
		sanitize(msg, strlen(msg), out, size);
	else if (!root)
		sanitize(r->in.data, r->in.len, out, size);
	json_decref(root);
}

static const char *transport_error(const struct req *r, CURLcode res)
{
	return r->errbuf[0] ? r->errbuf : curl_easy_strerror(res);
}

/* A POST answered with a 4xx/5xx. */
static void http_error(struct req *r, long st)
{
	struct tp_httpc *c = r->c;
	char detail[DETAIL_MAX + 8];

	if (r->mode == M_JSON && r->in.len && is_response(r->in.data, r->in.len)) {
		/* A JSON-RPC error the caller can relay as it is. */
		deliver(r, r->in.data, r->in.len);
		r->failed = true;
	} else {
		body_detail(r, detail, sizeof(detail));
		fail_req(r, st, "HTTP %ld%s%s", st, detail[0] ? ": " : "", detail);
	}
	if (st == 404 && r->sent_session) {
		free(mg_steal(&c->session_id));
		conn_dead(c, "the server does not know the session any more (HTTP 404)");
	}
}

/* Can a POST stream cut before its response be resumed (GET with
 * Last-Event-ID, 2025-11-25)?  If so, schedule the resumption. */
static bool try_resume(struct req *r)
{
	struct tp_httpc *c = r->c;

	if (c->kind != TP_HTTPC_STREAMABLE || !r->id || !resume_id(r) || r->got_response)
		return false;
	if (r->sse.events > r->events0)
		r->tries = 0;   /* the stream moved on: not a failure */
	else if (++r->tries > RESUME_TRIES)
		return false;
	if (r->kind == RQ_POST) {
		r->kind = RQ_RESUME;
		free(mg_steal(&r->body));
		mg_strv_free(mg_steal(&r->extra));
	}
	mg_debug("http: resuming the stream of request %.*s after event %s", (int)r->id_len,
		 r->id, r->sse.last_id);
	schedule(r, r->tries ? backoff_ms(retry_base(r), r->tries) : retry_base(r));
	return true;
}

/* A POST or a resumption finished: did the response come? */
static bool post_done(struct req *r, CURLcode res)
{
	struct tp_httpc *c = r->c;
	long st = r->status;
	char *loc = NULL;
	char clean[DETAIL_MAX + 8];

	if (r->failed)
		return false;
	if (st == 0) {
		if (try_resume(r))
			return true;
		fail_req(r, 0, "%s", res == CURLE_OK ? "no HTTP response" : transport_error(r, res));
		return false;
	}
	if (st >= 300 && st < 400) {
		curl_easy_getinfo(r->easy, CURLINFO_REDIRECT_URL, &loc);
		sanitize(loc ? loc : "", loc ? strlen(loc) : 0, clean, sizeof(clean));
		fail_req(r, st, "HTTP %ld redirect%s%s not followed: POSTs are never redirected",
			 st, clean[0] ? " to " : "", clean);
		return false;
	}
	if (st < 200 || st >= 300) {
		http_error(r, st);
		return false;
	}
	if (c->kind == TP_HTTPC_SSE)
		return false;   /* accepted; the answer comes on the stream */
	switch (r->mode) {
	case M_JSON:
		if (res != CURLE_OK)
			fail_req(r, st, "%s", transport_error(r, res));
		else if (!is_blank(r->in.data, r->in.len))
			deliver(r, r->in.data, r->in.len);
		else if (r->id)
			fail_req(r, st, "empty application/json response");
		return false;
	case M_SSE:
		if (r->got_response || !r->id)
			return false;
		if (try_resume(r))
			return true;
		if (res != CURLE_OK)
			fail_req(r, st, "SSE stream broke before the response: %s",
				 transport_error(r, res));
		else
			fail_req(r, st, "SSE stream ended before the response");
		return false;
	case M_KEEP: {
		const char *ct = NULL;

		curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct);
		sanitize(ct ? ct : "", ct ? strlen(ct) : 0, clean, sizeof(clean));
		fail_req(r, st, "unexpected Content-Type '%s' (HTTP %ld)", clean, st);
		return false;
	}
	case M_UNKNOWN:
	case M_DISCARD:
	default:
		/* No body.  202 for a request is odd but not ours to judge: the
		 * answer may still come on the GET stream; the caller's deadline
		 * decides. */
		if (r->kind == RQ_RESUME) {
			if (try_resume(r))
				return true;
			fail_req(r, st, "resumed SSE stream had no body");
		} else if (res != CURLE_OK && r->id) {
			fail_req(r, st, "%s", transport_error(r, res));
		} else if (r->id && st != 202 && st != 204) {
			fail_req(r, st, "HTTP %ld without a response body", st);
		}
		return false;
	}
}

/* The GET stream ended: reconnect, or stop for good. */
static bool listen_done(struct req *r, CURLcode res)
{
	struct tp_httpc *c = r->c;
	long st = r->status;
	char detail[DETAIL_MAX + 8];

	if (st == 405) {
		mg_debug("http: the server offers no GET stream (405)");
		return false;
	}
	if (st == 404 && r->sent_session) {
		free(mg_steal(&c->session_id));
		conn_dead(c, "the server does not know the session any more (HTTP 404)");
		return false;
	}
	if (st >= 200 && st < 300 && r->mode == M_SSE) {
		/* The stream ran and ended (server polling, a proxy's idle cut or
		 * a drop): come back after retry:, backing off if it brought
		 * nothing. */
		r->tries = r->sse.events > r->events0 ? 0 : r->tries + 1;
		schedule(r, r->tries ? backoff_ms(retry_base(r), r->tries) : retry_base(r));
		return true;
	}
	if (st == 0 || st >= 500 || st == 408 || st == 429) {
		r->tries++;
		mg_debug("http: GET stream failed (%s), retrying",
			 st ? "server error" : transport_error(r, res));
		schedule(r, backoff_ms(retry_base(r), r->tries));
		return true;
	}
	body_detail(r, detail, sizeof(detail));
	mg_warn("http: GET stream refused with HTTP %ld%s%s; not retried", st,
		detail[0] ? ": " : "", detail);
	return false;
}

static void legacy_done(struct req *r, CURLcode res)
{
	struct tp_httpc *c = r->c;
	char why[512], detail[DETAIL_MAX + 8];
	long st = r->status;

	body_detail(r, detail, sizeof(detail));
	if (st == 0)
		snprintf(why, sizeof(why), "HTTP+SSE stream failed: %s", transport_error(r, res));
	else if (st < 200 || st >= 300)
		snprintf(why, sizeof(why), "HTTP+SSE GET answered HTTP %ld%s%s", st,
			 detail[0] ? ": " : "", detail);
	else if (r->mode != M_SSE)
		snprintf(why, sizeof(why), "HTTP+SSE GET did not answer with text/event-stream");
	else if (res != CURLE_OK)
		snprintf(why, sizeof(why), "HTTP+SSE stream broke: %s", transport_error(r, res));
	else
		snprintf(why, sizeof(why), "HTTP+SSE stream ended");
	if (!c->post_url && st >= 200 && st < 300 && r->mode == M_SSE)
		snprintf(why + strlen(why), sizeof(why) - strlen(why),
			 " before the endpoint event");
	conn_dead(c, why);
}

/* A transfer finished.  Either reschedules r or frees it. */
static void req_done(struct req *r, CURLcode res)
{
	struct tp_httpc *c = r->c;
	long st = 0;
	bool again = false;

	if (r->aborted || c->closing || c->dead) {
		req_free(r);
		return;
	}
	if (r->mode == M_UNKNOWN) {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
		if (st)
			decide_mode(r);
	}
	switch (r->kind) {
	case RQ_POST:
	case RQ_RESUME:
		again = post_done(r, res);
		break;
	case RQ_LISTEN:
		again = listen_done(r, res);
		break;
	case RQ_LEGACY:
		legacy_done(r, res);
		break;
	case RQ_DELETE:
	default:
		if (res != CURLE_OK)
			mg_debug("http: DELETE of the session failed: %s", transport_error(r, res));
		break;
	}
	if (!again)
		req_free(r);
}

static void process_done(struct tp_httpc *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left))) {
		CURL *e = m->easy_handle;
		CURLcode res = m->data.result;
		char *priv = NULL;
		struct req *r;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
		r = (struct req *)(void *)priv;
		curl_multi_remove_handle(c->multi, e);
		mg_list_del(&r->node);
		r->state = RS_NONE;
		req_done(r, res);
	}
}

/* ---- deferred work and teardown ---- */

static void abort_list(struct mg_list *list)
{
	struct mg_list *pos, *tmp;

	mg_list_each_safe(pos, tmp, list) {
		struct req *r = mg_container_of(pos, struct req, node);

		if (r->kind != RQ_DELETE)
			req_abort(r);
	}
}

static void abort_all(struct tp_httpc *c)
{
	abort_list(&c->queued);
	abort_list(&c->waiting);
	abort_list(&c->pending);
	abort_list(&c->active);
	arm_retry(c);
}

static void timer_closed(uv_handle_t *h)
{
	handle_closed(h->data);
}

static void teardown(struct tp_httpc *c)
{
	struct mg_list *pos, *tmp;

	c->torn_down = true;
	/* May call socket_cb (REMOVE) and closesocket_cb: c is still whole. */
	curl_multi_cleanup(c->multi);
	c->multi = NULL;
	mg_list_each_safe(pos, tmp, &c->socks)
		sock_close(mg_container_of(pos, struct sock, node));
	uv_close((uv_handle_t *)&c->curl_timer, timer_closed);
	uv_close((uv_handle_t *)&c->retry_timer, timer_closed);
}

static void handle_closed(struct tp_httpc *c)
{
	void (*cb)(void *ctx) = c->closed_cb;
	void *ctx = c->ctx;

	if (--c->handles > 0 || !c->torn_down)
		return;
	curl_url_cleanup(c->urlh);
	free(c->url);
	free(c->scheme);
	free(c->post_url);
	mg_strv_free(c->headers);
	free(c->session_id);
	free(c->version);
	free(c);
	if (cb)
		cb(ctx);
}

/* Apply what was deferred while busy: drop aborted transfers, start
 * pending ones, tear down once closed and idle. */
static void after(struct tp_httpc *c)
{
	struct mg_list *pos, *tmp;

	if (c->busy || c->torn_down)
		return;
	c->busy++;
	for (;;) {
		struct req *r;

		if (c->dead || c->closing)
			abort_all(c);
		mg_list_each_safe(pos, tmp, &c->active) {
			r = mg_container_of(pos, struct req, node);
			if (r->aborted) {
				curl_multi_remove_handle(c->multi, r->easy);
				req_free(r);
			}
		}
		if (mg_list_empty(&c->pending))
			break;
		r = mg_container_of(c->pending.next, struct req, node);
		if (easy_setup(r) == 0 && curl_multi_add_handle(c->multi, r->easy) == CURLM_OK) {
			put(r, RS_ACTIVE, &c->active);
			continue;
		}
		/* Only a libcurl without the options we need gets here. */
		mg_list_del(&r->node);
		r->state = RS_NONE;
		if (r->kind == RQ_LEGACY)
			conn_dead(c, "cannot start the HTTP+SSE stream");
		else
			fail_req(r, 0, "cannot start the HTTP request");
		req_free(r);
	}
	c->busy--;
	if (c->closing && mg_list_empty(&c->active) && mg_list_empty(&c->pending))
		teardown(c);
}

/* ---- public ---- */

int tp_httpc_open(uv_loop_t *loop, const char *url, enum tp_httpc_kind kind,
		  char *const *headers, size_t max_message, const struct tp_httpc_ops *ops,
		  void *ctx, struct tp_httpc **out, struct mg_err *err)
{
	struct tp_httpc *c;
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *canon = NULL;
	int rc;

	*out = NULL;
	if (kind != TP_HTTPC_STREAMABLE && kind != TP_HTTPC_SSE)
		return mg_err_set(err, -EINVAL, "unknown HTTP transport kind");
	if (!max_message || !ops || !ops->on_message || !ops->on_post_error || !ops->on_closed)
		return mg_err_set(err, -EINVAL, "HTTP client: missing callback or cap");
	if ((rc = check_headers(headers, err)))
		return rc;
	if ((rc = tp_httpc_global_init()))
		return mg_err_set(err, rc, "cannot initialise libcurl");
	u = must(curl_url());
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &canon, 0) != CURLUE_OK) {
		rc = mg_err_set(err, -EINVAL, "'%s' is not a valid http(s) URL", url);
		goto fail;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		rc = mg_err_set(err, -EINVAL, "'%s': only http:// and https:// are supported", url);
		goto fail;
	}
	c = MG_NEW(struct tp_httpc);
	c->loop = loop;
	c->kind = kind;
	c->urlh = mg_steal(&u);
	c->url = mg_strdup(canon);
	c->scheme = mg_strdup(scheme);
	c->headers = strv_copy(headers);
	c->max_message = max_message;
	c->ops = ops;
	c->ctx = ctx;
	mg_list_init(&c->socks);
	mg_list_init(&c->active);
	mg_list_init(&c->pending);
	mg_list_init(&c->waiting);
	mg_list_init(&c->queued);
	c->multi = must(curl_multi_init());
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)MAX_HOST_CONNS);
	curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)MAX_HOST_CONNS);
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)MAX_IDLE_CONNS);
	uv_timer_init(loop, &c->curl_timer);
	uv_timer_init(loop, &c->retry_timer);
	c->curl_timer.data = c;
	c->retry_timer.data = c;
	c->handles = 2;
	if (kind == TP_HTTPC_SSE) {
		c->legacy = req_new(c, RQ_LEGACY);
		schedule(c->legacy, 0);
		after(c);
	}
	*out = c;
	rc = 0;
fail:
	curl_free(scheme);
	curl_free(host);
	curl_free(canon);
	curl_url_cleanup(u);
	return rc;
}

int tp_httpc_send(struct tp_httpc *c, const char *json, size_t len, char *const *extra_headers)
{
	struct jx_span sm, si;
	struct req *r;
	int rc;

	if (c->closing || c->dead)
		return -EPIPE;
	if (check_headers(extra_headers, NULL))
		return -EINVAL;
	if (c->inflight >= TP_HTTPC_MAX_INFLIGHT)
		return -ENOBUFS;
	rc = jx_find(json, len, path_method, 1, &sm);
	if (rc == -EINVAL)
		return -EINVAL;
	r = req_new(c, RQ_POST);
	r->body = mg_memdup0(json, len);
	r->body_len = len;
	r->extra = strv_copy(extra_headers);
	if (rc == 0 && jx_find(json, len, path_id, 1, &si) == 0 && si.len &&
	    !(si.len == 4 && memcmp(json + si.off, "null", 4) == 0)) {
		r->id = mg_memdup0(json + si.off, si.len);
		r->id_len = si.len;
	}
	r->is_init = rc == 0 && sm.len == strlen("\"initialize\"") &&
		     memcmp(json + sm.off, "\"initialize\"", sm.len) == 0;
	r->counted = true;
	c->inflight++;
	if (c->kind == TP_HTTPC_SSE && !c->post_url)
		put(r, RS_QUEUED, &c->queued);
	else
		schedule(r, 0);
	after(c);
	return 0;
}

void tp_httpc_set_protocol_version(struct tp_httpc *c, const char *version)
{
	if (version && !visible_ascii(version, strlen(version), VERSION_MAX)) {
		mg_warn("http: ignoring a protocol version that is not a short visible ASCII token");
		return;
	}
	free(c->version);
	c->version = version ? mg_strdup(version) : NULL;
}

void tp_httpc_listen(struct tp_httpc *c)
{
	if (c->kind != TP_HTTPC_STREAMABLE || c->closing || c->dead || c->listen_wanted)
		return;
	c->listen_wanted = true;
	c->listen = req_new(c, RQ_LISTEN);
	schedule(c->listen, 0);
	after(c);
}

int tp_httpc_cancel(struct tp_httpc *c, const char *id_json, size_t id_len)
{
	struct mg_list *lists[] = { &c->active, &c->pending, &c->waiting, &c->queued };

	for (size_t i = 0; i < MG_ARRAY_LEN(lists); i++) {
		struct mg_list *pos, *tmp;

		mg_list_each_safe(pos, tmp, lists[i]) {
			struct req *r = mg_container_of(pos, struct req, node);

			if (r->id && !r->aborted && r->id_len == id_len &&
			    memcmp(r->id, id_json, id_len) == 0) {
				req_abort(r);
				arm_retry(c);
				after(c);
				return 0;
			}
		}
	}
	return -ENOENT;
}

void tp_httpc_close(struct tp_httpc *c, void (*closed)(void *ctx))
{
	if (c->closing)
		return;
	c->closing = true;
	c->closed_cb = closed;
	/* after() aborts everything else. */
	if (c->kind == TP_HTTPC_STREAMABLE && c->session_id && !c->dead)
		schedule(req_new(c, RQ_DELETE), 0);
	after(c);
}

const char *tp_httpc_session_id(const struct tp_httpc *c)
{
	return c->session_id;
}
