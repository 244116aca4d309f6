/* libmicrohttpd driven from the libuv loop.
 *
 * MHD runs in external-epoll mode: its epoll fd sits in a uv_poll_t, and a
 * uv_timer_t follows MHD_get_timeout().  MHD's access handler protocol
 * (first call with no state, then once per body chunk, then a last call)
 * stays in this file.  Answers that are not ready at once suspend the
 * connection; queueing a response or stream data resumes it.  MHD only
 * allows MHD_queue_response from inside the access handler, so a late
 * answer is parked and queued on the call that follows the resume.
 *
 * The door: every TCP connection is accounted here (MHD's connection
 * notifications), per client address and in total, with its phase (no
 * request yet, head being read, request in progress, idle keep-alive) and
 * whether it has carried an authorised request ("established").  A head
 * has a deadline from the connection's start or from its request line; an
 * idle keep-alive connection has one from its last answer.  When the
 * connections of one address, or all of them, pass their caps, the oldest
 * connection that is neither established nor busy is shed (503, closed);
 * the last reserved_connections slots serve /health and established
 * clients only (the layer above asks tp_http_under_pressure).  A
 * connection is shed by writing a whole answer to its socket while MHD has
 * nothing to send on it and shutting it down: MHD then sees the end of the
 * stream and closes it as usual.  Framing that a front proxy could read
 * differently (two Content-Length, Content-Length with Transfer-Encoding,
 * a malformed header name, two Host) is refused with 400 and the
 * connection closed before its body is read. */
#include "transport/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "base/budget.h"
#include "base/buf.h"
#include "base/list.h"
#include "base/log.h"
#include "base/map.h"
#include "base/mem.h"
#include "base/time.h"
#include "transport/http_door.h"

#define STREAM_BLOCK (64 * 1024)
#define KEEPALIVE_MS 10000
/* Whole answers up to this size are copied into MHD; larger ones are read
 * from the exchange's queue, so that they count against the output budget
 * and can be dropped like a stream. */
#define ANSWER_COPY_MAX (16 * 1024)
/* A drained queue keeps storage up to this size for the next writes. */
#define QUEUE_KEEP_MAX (256 * 1024)
#define DEADLINE_MS 1000                /* the sweep of head and idle deadlines */
#define MHD_EXTRA 64                    /* shed connections MHD has not closed yet */
#define LOG_INTERVAL_MS 1000            /* one refusal line a second per status */

enum conn_phase {
	PH_FRESH,                       /* no request line yet (first request) */
	PH_HEAD,                        /* request line seen, head incomplete */
	PH_BUSY,                        /* head complete, until its answer is sent */
	PH_IDLE,                        /* keep-alive, between requests */
};

struct peer_count {
	size_t n;
};

/* One TCP connection (MHD's socket context). */
struct tp_http_conn {
	struct mg_list node;            /* s->conns */
	struct mg_list shed_node;       /* s->sheddable, oldest first; or empty */
	struct tp_http_server *srv;
	struct MHD_Connection *mhd;
	int fd;
	enum conn_phase phase;
	uint64_t since_ms;              /* when the phase began */
	char peer[64];
	struct peer_count *pc;
	bool established;               /* carried an authorised request */
	bool doomed;                    /* shut down by us; MHD closes it */
};

struct refusal_log {
	unsigned status;
	struct tp_door_ratelog rl;
};

struct tp_http_server {
	uv_loop_t *loop;
	struct MHD_Daemon *mhd;
	uv_poll_t poll;
	uv_timer_t timer;
	uv_timer_t keepalive;
	struct tp_http_config cfg;
	const struct tp_http_server_ops *ops;
	void *ctx;
	struct mg_list reqs;
	struct mg_list conns;           /* every connection */
	struct mg_list sheddable;       /* neither established nor busy, oldest first */
	struct mg_map peers;            /* address text -> struct peer_count */
	size_t live;                    /* connections not doomed */
	uv_timer_t deadlines;
	struct refusal_log logs[16];
	uint16_t port;
	int open_handles;
	bool kick;                      /* run MHD again as soon as possible */
	bool stopping;
	void (*stopped)(void *ctx);
	void *stopped_ctx;
};

struct tp_http_req {
	struct mg_list node;
	struct tp_http_server *srv;
	struct MHD_Connection *conn;
	struct tp_http_conn *tc;        /* its TCP connection */
	char *method;
	char *path;
	struct mg_buf body;
	void *data;
	struct MHD_Response *parked;    /* answer waiting for the handler */
	unsigned parked_status;
	struct mg_buf queue;            /* stream bytes MHD has not read yet */
	size_t qoff;                    /* read position in queue */
	struct mg_budget_user budget;   /* what queue holds, in cfg.budget */
	bool too_large;
	bool head_only;                 /* answered before its body was read */
	bool dispatched;
	bool answered;
	bool streaming;
	bool ended;
	bool suspended;
	bool is_sse;
	bool dropped;                   /* queue dropped over the budget: close */
};

static void schedule(struct tp_http_server *s);
static void resume(struct tp_http_req *r);
static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max);

/* ---- the output budget ---- */

/* This client has waited longest while the budget is full: drop what it
 * has not read and close its connection (MHD closes it once the reader
 * reports the error, or after a second if the client reads nothing). */
static void drop_queue(struct mg_budget_user *u)
{
	struct tp_http_req *r = mg_container_of(u, struct tp_http_req, budget);

	mg_warn("an HTTP client has not read the last %zu bytes sent to it; the output queued "
		"to clients is at its limit (--max-queued-output %zu MiB): closing its %s",
		u->held, u->b->max >> 20, r->streaming ? "event stream" : "connection");
	mg_budget_release(u, u->held);
	mg_buf_release(&r->queue);
	mg_buf_init(&r->queue, r->srv->cfg.stream_queue_max);
	r->qoff = 0;
	r->dropped = true;
	r->ended = true;
	MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, 1u);
	resume(r);
}

/* ---- suspend / resume ---- */

static void suspend(struct tp_http_req *r)
{
	if (!r->suspended) {
		MHD_suspend_connection(r->conn);
		r->suspended = true;
	}
}

static void resume(struct tp_http_req *r)
{
	if (r->suspended) {
		r->suspended = false;
		MHD_resume_connection(r->conn);
		schedule(r->srv);
	}
}

/* ---- responses ---- */

static void add_headers(struct MHD_Response *resp, const char *const *headers)
{
	for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
		MHD_add_response_header(resp, headers[i], headers[i + 1]);
}

/* Queue now when inside the handler, else park it and resume. */
static void deliver(struct tp_http_req *r, unsigned status, struct MHD_Response *resp,
		    bool now)
{
	r->answered = true;
	if (r->head_only)
		/* MHD will not read the body: nothing after it can be
		 * framed, so the connection ends with this answer. */
		MHD_add_response_header(resp, "Connection", "close");
	if (now) {
		MHD_queue_response(r->conn, status, resp);
		MHD_destroy_response(resp);
		return;
	}
	r->parked = resp;
	r->parked_status = status;
	resume(r);
}

/* The exchange whose access handler MHD is running: only it may queue a
 * response directly. */
static struct tp_http_req *in_handler;

int tp_http_respond(struct tp_http_req *r, unsigned status, const char *content_type,
		    const char *body, size_t len, const char *const *headers)
{
	struct MHD_Response *resp;

	if (r->answered)
		return -EALREADY;
	if (len > ANSWER_COPY_MAX) {
		/* Large: from the queue, within the output budget. */
		if (mg_budget_charge(&r->budget, len))
			return -ENOBUFS;
		mg_buf_release(&r->queue);
		mg_buf_init(&r->queue, len);
		mg_buf_add(&r->queue, body, len);
		r->qoff = 0;
		resp = MHD_create_response_from_callback(len, STREAM_BLOCK, stream_reader, r, NULL);
	} else {
		resp = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
						       MHD_RESPMEM_MUST_COPY);
	}
	if (!resp)
		return -ENOMEM;
	if (content_type)
		MHD_add_response_header(resp, "Content-Type", content_type);
	add_headers(resp, headers);
	deliver(r, status, resp, in_handler == r);
	return 0;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct tp_http_req *r = cls;
	size_t avail = r->queue.len - r->qoff;

	if (r->dropped)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (avail) {
		size_t n = avail < max ? avail : max;

		memcpy(buf, r->queue.data + r->qoff, n);
		r->qoff += n;
		mg_budget_release(&r->budget, n);
		if (r->qoff == r->queue.len) {
			if (r->queue.alloc > QUEUE_KEEP_MAX) {
				mg_buf_release(&r->queue);
				mg_buf_init(&r->queue, r->srv->cfg.stream_queue_max);
			} else {
				mg_buf_reset(&r->queue);
			}
			r->qoff = 0;
		}
		return (ssize_t)n;
	}
	if (r->ended || !r->streaming)
		return MHD_CONTENT_READER_END_OF_STREAM;
	/* Nothing to send: sleep until tp_http_stream_write wakes us. */
	suspend(r);
	return 0;
}

int tp_http_stream_open(struct tp_http_req *r, unsigned status, const char *content_type,
			const char *const *headers)
{
	struct MHD_Response *resp;

	if (r->answered)
		return -EALREADY;
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_reader,
						 r, NULL);
	if (!resp)
		return -ENOMEM;
	content_type = content_type ? content_type : "text/event-stream";
	r->is_sse = strcmp(content_type, "text/event-stream") == 0;
	MHD_add_response_header(resp, "Content-Type", content_type);
	if (r->is_sse) {
		/* No proxy may buffer or transform an event stream. */
		MHD_add_response_header(resp, "Cache-Control", "no-cache, no-transform");
		MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	}
	add_headers(resp, headers);
	r->streaming = true;
	deliver(r, status, resp, in_handler == r);
	return 0;
}

int tp_http_stream_write(struct tp_http_req *r, const char *data, size_t len)
{
	int rc;

	if (!r->streaming || r->ended)
		return -EPIPE;
	if (r->qoff && r->qoff >= r->queue.len / 2) {
		mg_buf_consume(&r->queue, r->qoff);    /* compact, rarely */
		r->qoff = 0;
	}
	if (len > r->queue.max - r->queue.len || mg_budget_charge(&r->budget, len))
		return -ENOBUFS;
	rc = mg_buf_add(&r->queue, data, len);
	if (rc) {
		mg_budget_release(&r->budget, len);
		return -ENOBUFS;
	}
	if (!r->parked)
		resume(r);
	return 0;
}

void tp_http_stream_end(struct tp_http_req *r)
{
	if (!r->streaming || r->ended)
		return;
	r->ended = true;
	if (!r->parked)
		resume(r);
}

bool tp_http_is_streaming(const struct tp_http_req *r)
{
	return r->streaming && !r->ended;
}

size_t tp_http_stream_queued(const struct tp_http_req *r)
{
	return r->queue.len - r->qoff;
}

/* ---- accessors ---- */

const char *tp_http_method(const struct tp_http_req *r)
{
	return r->method;
}

const char *tp_http_path(const struct tp_http_req *r)
{
	return r->path;
}

const char *tp_http_header(const struct tp_http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *tp_http_query(const struct tp_http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *tp_http_body(const struct tp_http_req *r, size_t *len)
{
	*len = r->body.len;
	return r->body.data ? r->body.data : "";
}

bool tp_http_peer_is_loopback(const struct tp_http_req *r)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	if (!sa)
		return false;
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
	return false;
}

void tp_http_set_data(struct tp_http_req *r, void *data)
{
	r->data = data;
}

void *tp_http_get_data(const struct tp_http_req *r)
{
	return r->data;
}

/* ---- refusals: one log line a second per status, every one audited ---- */

static struct tp_door_ratelog *refusal_slot(struct tp_http_server *s, unsigned status)
{
	size_t n = MG_ARRAY_LEN(s->logs);

	for (size_t i = 0; i < n; i++) {
		if (s->logs[i].status == status || s->logs[i].status == 0) {
			s->logs[i].status = status;
			return &s->logs[i].rl;
		}
	}
	return &s->logs[n - 1].rl;      /* more kinds than slots: share the last */
}

static const char *tally(unsigned long more, unsigned status, char *out, size_t outsz)
{
	snprintf(out, outsz, " (and %lu more %u refusals since the last such line)", more, status);
	return out;
}

static void refused(struct tp_http_server *s, const char *method, const char *path,
		    const char *peer, unsigned status, const char *reason)
{
	struct tp_http_refusal rf = { method, NULL, peer, status, reason };
	char where[160], count[96];
	unsigned long more = 0;

	if (path) {
		tp_door_printable(path, where, sizeof(where));
		rf.path = where;
	}
	if (tp_door_ratelog_take(refusal_slot(s, status), mg_now_ms(), LOG_INTERVAL_MS, &more))
		mg_warn("http: refused %s%s%s from %s: %u, %s%s", method ? method : "a connection",
			rf.path ? " " : "", rf.path ? rf.path : "", peer ? peer : "?", status, reason,
			more ? tally(more, status, count, sizeof(count)) : "");
	if (s->ops->refused)
		s->ops->refused(s->ctx, &rf);
}

void tp_http_refused(struct tp_http_req *r, unsigned status, const char *reason)
{
	refused(r->srv, r->method, r->path, r->tc ? r->tc->peer : NULL, status, reason);
}

/* ---- connections: accounting, deadlines, shedding ---- */

static bool sheddable(const struct tp_http_conn *c)
{
	return !c->doomed && !c->established && c->phase != PH_BUSY;
}

/* On the list of sheddable connections, or off it, as the state says. */
static void refile(struct tp_http_conn *c)
{
	if (!mg_list_empty(&c->shed_node))
		mg_list_del(&c->shed_node);
	mg_list_init(&c->shed_node);
	if (sheddable(c))
		mg_list_add_tail(&c->srv->sheddable, &c->shed_node);
}

static void set_phase(struct tp_http_conn *c, enum conn_phase ph)
{
	c->phase = ph;
	c->since_ms = mg_now_ms();
	refile(c);
}

/* End a connection on which MHD has nothing to send: our answer (may be
 * NULL), then shutdown; MHD reads the end and closes it. */
static void doom(struct tp_http_conn *c, unsigned status, const char *reason)
{
	struct tp_http_server *s = c->srv;
	char msg[320];
	int n = 0;

	if (c->doomed)
		return;
	c->doomed = true;
	s->live--;
	refile(c);
	if (status) {
		n = snprintf(msg, sizeof(msg), "HTTP/1.1 %u %s\r\nConnection: close\r\n%s"
			     "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s\n", status,
			     status == 408 ? "Request Timeout" : "Service Unavailable",
			     status == 503 ? "Retry-After: 1\r\n" : "", strlen(reason) + 1, reason);
		if (n > 0 && (size_t)n < sizeof(msg))
			(void)!send(c->fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
		refused(s, NULL, NULL, c->peer, status, reason);
	}
	shutdown(c->fd, SHUT_RDWR);
	schedule(s);
}

static struct tp_http_conn *oldest_sheddable(struct tp_http_server *s, const struct peer_count *pc)
{
	struct mg_list *pos;

	for (pos = s->sheddable.next; pos != &s->sheddable; pos = pos->next) {
		struct tp_http_conn *c = mg_container_of(pos, struct tp_http_conn, shed_node);

		if (!pc || c->pc == pc)
			return c;
	}
	return NULL;
}

static size_t soft_limit(const struct tp_http_server *s)
{
	return s->cfg.max_connections - s->cfg.reserved_connections;
}

static void peer_text(struct MHD_Connection *mc, char *out, size_t outsz)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, outsz, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
			  (socklen_t)outsz);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			  out, (socklen_t)outsz);
}

static void conn_started(struct tp_http_server *s, struct MHD_Connection *mc, void **sock_ctx)
{
	struct tp_http_conn *c = MG_NEW(struct tp_http_conn);
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct tp_http_conn *victim;

	c->srv = s;
	c->mhd = mc;
	c->fd = ci ? ci->connect_fd : -1;
	peer_text(mc, c->peer, sizeof(c->peer));
	c->pc = mg_map_gets(&s->peers, c->peer);
	if (!c->pc) {
		c->pc = MG_NEW(struct peer_count);
		mg_map_puts(&s->peers, c->peer, c->pc);
	}
	c->pc->n++;
	mg_list_add_tail(&s->conns, &c->node);
	mg_list_init(&c->shed_node);
	s->live++;
	set_phase(c, PH_FRESH);
	*sock_ctx = c;
	if (s->stopping) {
		doom(c, 503, "the gateway is stopping");
		return;
	}
	/* One address past its cap: its oldest idle connection goes (the
	 * new one itself when it has no other). */
	if (c->pc->n > s->cfg.max_per_address) {
		victim = oldest_sheddable(s, c->pc);
		doom(victim ? victim : c, 503, "too many connections from this address");
		if (c->doomed)
			return;
	}
	/* Past the soft limit: shed the oldest connection that carries
	 * nothing; the reserve then holds established clients. */
	while (s->live > soft_limit(s) && (victim = oldest_sheddable(s, NULL)) && victim != c)
		doom(victim, 503, "too many connections; an idle one was closed");
	if (s->live > s->cfg.max_connections)
		doom(c, 503, "too many connections");
}

static void conn_closed(struct tp_http_server *s, struct tp_http_conn *c)
{
	if (!c)
		return;
	if (!c->doomed)
		s->live--;
	if (!mg_list_empty(&c->shed_node))
		mg_list_del(&c->shed_node);
	mg_list_del(&c->node);
	if (--c->pc->n == 0)
		free(mg_map_dels(&s->peers, c->peer));
	free(c);
}

static void notify_connection(void *cls, struct MHD_Connection *mc, void **sock_ctx,
			      enum MHD_ConnectionNotificationCode toe)
{
	struct tp_http_server *s = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		conn_started(s, mc, sock_ctx);
	else if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
		conn_closed(s, *sock_ctx);
}

static struct tp_http_conn *conn_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* The request line is in: the head's deadline starts now (on a new
 * connection it started with the connection). */
static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *mc)
{
	struct tp_http_conn *c = conn_of(mc);

	if (c && c->phase != PH_FRESH)
		set_phase(c, PH_HEAD);
	else if (c)
		c->phase = PH_HEAD;     /* keeps the connection's start as since */
	return NULL;
}

static void on_deadlines(uv_timer_t *t)
{
	struct tp_http_server *s = t->data;
	uint64_t now = mg_now_ms();
	uint64_t head_ms = (uint64_t)s->cfg.header_timeout_s * 1000;
	uint64_t idle_ms = (uint64_t)s->cfg.idle_timeout_s * 1000;
	struct mg_list *pos, *tmp;

	mg_list_each_safe(pos, tmp, &s->conns) {
		struct tp_http_conn *c = mg_container_of(pos, struct tp_http_conn, node);

		if (c->doomed)
			continue;
		if ((c->phase == PH_FRESH || c->phase == PH_HEAD) && head_ms &&
		    now - c->since_ms > head_ms)
			doom(c, 408, "the request head did not arrive in time");
		else if (c->phase == PH_IDLE && idle_ms && now - c->since_ms > idle_ms)
			doom(c, 0, NULL);       /* an ordinary keep-alive close */
	}
}

bool tp_http_under_pressure(const struct tp_http_req *r)
{
	return r->srv->live > soft_limit(r->srv);
}

void tp_http_set_established(struct tp_http_req *r)
{
	if (r->tc && !r->tc->established) {
		r->tc->established = true;
		refile(r->tc);
	}
}

bool tp_http_is_established(const struct tp_http_req *r)
{
	return r->tc && r->tc->established;
}

const char *tp_http_peer(const struct tp_http_req *r)
{
	return r->tc ? r->tc->peer : "?";
}

/* ---- MHD callbacks ---- */

struct head_scan {
	struct tp_door_head h;
};

static enum MHD_Result head_field(void *cls, enum MHD_ValueKind kind, const char *key,
				  size_t key_size, const char *value, size_t value_size)
{
	struct head_scan *hs = cls;

	return tp_door_head_field(&hs->h, key, key_size, value, value_size) ? MHD_NO : MHD_YES;
}

static void refuse_text(struct tp_http_req *r, unsigned status, const char *reason)
{
	char msg[200];
	int n = snprintf(msg, sizeof(msg), "%s\n", reason);

	tp_http_respond(r, status, "text/plain", msg, (size_t)n, NULL);
	tp_http_refused(r, status, reason);
}

/* The head is complete: check its framing, then let the layer above look
 * at it (the door) before any body is read. */
static void head_complete(struct tp_http_server *s, struct tp_http_req *r, const char *version)
{
	struct head_scan hs;
	char msg[96];

	tp_door_head_init(&hs.h);
	MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, head_field, &hs);
	if (tp_door_head_end(&hs.h, strcmp(version, "HTTP/1.1") == 0)) {
		refuse_text(r, hs.h.status, hs.h.reason);
		return;
	}
	if (hs.h.content_length && hs.h.length > s->cfg.max_body) {
		snprintf(msg, sizeof(msg), "request body larger than %zu bytes", s->cfg.max_body);
		refuse_text(r, 413, msg);
		return;
	}
	if (s->ops->on_head)
		s->ops->on_head(s->ctx, r);
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version,
				      const char *upload, size_t *upload_size, void **con_cls)
{
	struct tp_http_server *s = cls;
	struct tp_http_req *r = *con_cls;

	if (!r) {
		r = MG_NEW(struct tp_http_req);
		r->srv = s;
		r->conn = conn;
		r->tc = conn_of(conn);
		r->method = mg_strdup(method);
		r->path = mg_strdup(url);
		mg_buf_init(&r->body, s->cfg.max_body);
		mg_buf_init(&r->queue, s->cfg.stream_queue_max);
		mg_budget_join(s->cfg.budget, &r->budget, drop_queue);
		mg_list_add_tail(&s->reqs, &r->node);
		*con_cls = r;
		if (r->tc)
			set_phase(r->tc, PH_BUSY);
		r->head_only = true;
		in_handler = r;
		head_complete(s, r, version);
		in_handler = NULL;
		r->head_only = false;
		return MHD_YES;
	}
	if (*upload_size) {
		/* Over the cap: stop keeping it, answer 413 once it is read. */
		if (!r->too_large && !r->answered && mg_buf_add(&r->body, upload, *upload_size)) {
			r->too_large = true;
			mg_buf_release(&r->body);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	in_handler = r;
	if (r->parked) {
		MHD_queue_response(conn, r->parked_status, r->parked);
		MHD_destroy_response(r->parked);
		r->parked = NULL;
	} else if (r->answered) {
		/* answered at the head; MHD has it */
	} else if (!r->dispatched) {
		r->dispatched = true;
		if (r->too_large) {
			char msg[96];

			snprintf(msg, sizeof(msg), "request body larger than %zu bytes",
				 s->cfg.max_body);
			refuse_text(r, 413, msg);
		} else {
			s->ops->on_request(s->ctx, r);
		}
		if (!r->answered)
			suspend(r);
	} else if (!r->answered) {
		suspend(r);
	}
	in_handler = NULL;
	return MHD_YES;
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			      enum MHD_RequestTerminationCode toe)
{
	struct tp_http_server *s = cls;
	struct tp_http_req *r = *con_cls;
	struct tp_http_conn *c = conn_of(conn);

	if (c && !c->doomed) {
		if (!r && c->phase == PH_HEAD &&
		    (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ||
		     toe == MHD_REQUEST_TERMINATED_WITH_ERROR)) {
			/* MHD answered the head itself (malformed request line
			 * or header, head too large, HTTP version). */
			const union MHD_ConnectionInfo *ci =
				MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);

			refused(s, NULL, NULL, c->peer, ci ? ci->http_status : 400,
				"malformed or oversized request head (answered by libmicrohttpd)");
		}
		set_phase(c, PH_IDLE);
	}
	if (!r)
		return;
	*con_cls = NULL;
	mg_list_del(&r->node);
	if (r->dispatched)
		s->ops->on_done(s->ctx, r, toe != MHD_REQUEST_TERMINATED_COMPLETED_OK);
	if (r->parked)
		MHD_destroy_response(r->parked);
	mg_budget_leave(&r->budget);
	mg_buf_release(&r->body);
	mg_buf_release(&r->queue);
	free(r->method);
	free(r->path);
	free(r);
}

/* ---- driving MHD from the loop ---- */

static void on_timer(uv_timer_t *t);

static void run_mhd(struct tp_http_server *s)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (!s->mhd)
		return;
	s->kick = false;
	MHD_run(s->mhd);
	uv_timer_stop(&s->timer);
	/* A connection resumed from inside this run (an answer written to a
	 * sleeping stream by another request's handler) is only picked up by
	 * the next run: do not let MHD's own timeout replace that. */
	if (s->kick)
		uv_timer_start(&s->timer, on_timer, 0, 0);
	else if (MHD_get_timeout(s->mhd, &ms) == MHD_YES)
		uv_timer_start(&s->timer, on_timer, ms, 0);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	run_mhd(p->data);
}

static void on_timer(uv_timer_t *t)
{
	run_mhd(t->data);
}

static void schedule(struct tp_http_server *s)
{
	s->kick = true;
	uv_timer_stop(&s->timer);
	uv_timer_start(&s->timer, on_timer, 0, 0);
}

/* Comments on idle event streams keep proxies from closing them and find
 * clients that went away while their connection slept. */
static void on_keepalive(uv_timer_t *t)
{
	struct tp_http_server *s = t->data;
	struct mg_list *pos, *tmp;

	mg_list_each_safe(pos, tmp, &s->reqs) {
		struct tp_http_req *r = mg_container_of(pos, struct tp_http_req, node);

		if (r->is_sse && tp_http_is_streaming(r) && tp_http_stream_queued(r) == 0)
			tp_http_stream_write(r, ":\n\n", 3);
	}
}

int tp_http_server_start(uv_loop_t *loop, const struct tp_http_config *cfg,
			 const struct tp_http_server_ops *ops, void *ctx,
			 struct tp_http_server **out, struct mg_err *err)
{
	struct tp_http_server *s = MG_NEW(struct tp_http_server);
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;
	struct sockaddr *sa;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO;

	memset(&a4, 0, sizeof(a4));
	memset(&a6, 0, sizeof(a6));
	if (inet_pton(AF_INET, cfg->host, &a4.sin_addr) == 1) {
		a4.sin_family = AF_INET;
		a4.sin_port = htons(cfg->port);
		sa = (struct sockaddr *)&a4;
	} else if (inet_pton(AF_INET6, cfg->host, &a6.sin6_addr) == 1) {
		a6.sin6_family = AF_INET6;
		a6.sin6_port = htons(cfg->port);
		sa = (struct sockaddr *)&a6;
		flags |= MHD_USE_IPv6;
	} else {
		free(s);
		return mg_err_set(err, -EINVAL, "'%s' is not an IP address to listen on", cfg->host);
	}
	s->loop = loop;
	s->cfg = *cfg;
	s->ops = ops;
	s->ctx = ctx;
	if (s->cfg.max_connections < 2)
		s->cfg.max_connections = 2;
	if (s->cfg.reserved_connections >= s->cfg.max_connections)
		s->cfg.reserved_connections = s->cfg.max_connections / 2;
	if (!s->cfg.max_per_address)
		s->cfg.max_per_address = s->cfg.max_connections;
	mg_list_init(&s->reqs);
	mg_list_init(&s->conns);
	mg_list_init(&s->sheddable);
	mg_map_init(&s->peers);
	/* Not MHD_OPTION_LISTENING_ADDRESS_REUSE: it sets SO_REUSEPORT, which
	 * lets another process of the same user bind this port and take a
	 * share of its connections.  MHD's default is SO_REUSEADDR only.
	 * Its connection limit sits above ours: connections we shed count
	 * there until it has closed them.  Its idle timeout covers a body or
	 * an answer that stops moving; the deadlines of heads and keep-alive
	 * connections are ours (they do not restart with each byte). */
	s->mhd = MHD_start_daemon(flags, cfg->port, NULL, NULL, access_handler, s,
				  MHD_OPTION_SOCK_ADDR, sa,
				  MHD_OPTION_NOTIFY_COMPLETED, request_completed, s,
				  MHD_OPTION_NOTIFY_CONNECTION, notify_connection, s,
				  MHD_OPTION_URI_LOG_CALLBACK, uri_seen, s,
				  MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned)(s->cfg.max_connections + MHD_EXTRA),
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024,
				  MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.idle_timeout_s,
				  MHD_OPTION_END);
	if (!s->mhd) {
		mg_map_release(&s->peers);
		free(s);
		return mg_err_set(err, -EADDRINUSE, "cannot listen on %s:%u (address in use, or "
				  "not allowed)", cfg->host, cfg->port);
	}
	info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : cfg->port;
	info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	uv_poll_init(loop, &s->poll, info->epoll_fd);
	uv_timer_init(loop, &s->timer);
	uv_timer_init(loop, &s->keepalive);
	uv_timer_init(loop, &s->deadlines);
	s->poll.data = s->timer.data = s->keepalive.data = s->deadlines.data = s;
	s->open_handles = 4;
	uv_poll_start(&s->poll, UV_READABLE, on_poll);
	uv_timer_start(&s->keepalive, on_keepalive, KEEPALIVE_MS, KEEPALIVE_MS);
	uv_timer_start(&s->deadlines, on_deadlines, DEADLINE_MS, DEADLINE_MS);
	schedule(s);
	*out = s;
	return 0;
}

uint16_t tp_http_server_port(const struct tp_http_server *s)
{
	return s->port;
}

static void handle_closed(uv_handle_t *h)
{
	struct tp_http_server *s = h->data;

	if (--s->open_handles == 0) {
		void (*done)(void *) = s->stopped;
		void *ctx = s->stopped_ctx;

		mg_map_release(&s->peers);
		free(s);
		if (done)
			done(ctx);
	}
}

static bool any_suspended(struct tp_http_server *s)
{
	struct mg_list *pos;

	for (pos = s->reqs.next; pos != &s->reqs; pos = pos->next)
		if (mg_container_of(pos, struct tp_http_req, node)->suspended)
			return true;
	return false;
}

void tp_http_server_stop(struct tp_http_server *s, void (*done)(void *ctx), void *ctx)
{
	static const char stopping[] = "the gateway is stopping\n";
	struct mg_list *pos, *tmp;

	if (s->stopping)
		return;
	s->stopping = true;
	s->stopped = done;
	s->stopped_ctx = ctx;
	/* MHD aborts when stopped with suspended connections: every request
	 * still waiting gets its answer (503), every stream ends, and MHD
	 * runs until none sleeps (on_done runs for each as MHD closes). */
	mg_list_each_safe(pos, tmp, &s->reqs) {
		struct tp_http_req *r = mg_container_of(pos, struct tp_http_req, node);

		r->ended = true;
		if (!r->answered && r->dispatched)
			tp_http_respond(r, 503, "text/plain", stopping, sizeof(stopping) - 1, NULL);
		resume(r);
	}
	for (int i = 0; i < 16; i++) {
		MHD_run(s->mhd);
		if (!any_suspended(s))
			break;
		mg_list_each_safe(pos, tmp, &s->reqs)
			resume(mg_container_of(pos, struct tp_http_req, node));
	}
	if (any_suspended(s))
		mg_error("http: a connection is still suspended at stop");
	else
		MHD_stop_daemon(s->mhd);
	s->mhd = NULL;
	uv_close((uv_handle_t *)&s->poll, handle_closed);
	uv_close((uv_handle_t *)&s->timer, handle_closed);
	uv_close((uv_handle_t *)&s->keepalive, handle_closed);
	uv_close((uv_handle_t *)&s->deadlines, handle_closed);
}
