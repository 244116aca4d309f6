/* libmicrohttpd driven from the libuv loop.
 *
 * MHD runs in external-epoll mode: its epoll fd sits in a uv_poll_t, and a
 * uv_timer_t follows MHD_get_timeout().  MHD's access handler protocol
 * (first call with no state, then once per body chunk, then a last call)
 * stays in this file.  Answers that are not ready at once suspend the
 * connection; queueing a response or stream data resumes it.  MHD only
 * allows MHD_queue_response from inside the access handler, so a late
 * answer is parked and queued on the call that follows the resume. */
#include "transport/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "base/budget.h"
#include "base/buf.h"
#include "base/list.h"
#include "base/log.h"
#include "base/mem.h"

#define STREAM_BLOCK (64 * 1024)
#define KEEPALIVE_MS 10000
/* Whole answers up to this size are copied into MHD; larger ones are read
 * from the exchange's queue, so that they count against the output budget
 * and can be dropped like a stream. */
#define ANSWER_COPY_MAX (16 * 1024)
/* A drained queue keeps storage up to this size for the next writes. */
#define QUEUE_KEEP_MAX (256 * 1024)

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

/* ---- MHD callbacks ---- */

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
		r->method = mg_strdup(method);
		r->path = mg_strdup(url);
		mg_buf_init(&r->body, s->cfg.max_body);
		mg_buf_init(&r->queue, s->cfg.stream_queue_max);
		mg_budget_join(s->cfg.budget, &r->budget, drop_queue);
		mg_list_add_tail(&s->reqs, &r->node);
		*con_cls = r;
		return MHD_YES;
	}
	if (*upload_size) {
		/* Over the cap: stop keeping it, answer 413 once it is read. */
		if (!r->too_large && mg_buf_add(&r->body, upload, *upload_size)) {
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
	} else if (!r->dispatched) {
		r->dispatched = true;
		if (r->too_large) {
			char msg[96];
			int n = snprintf(msg, sizeof(msg), "request body larger than %zu bytes\n",
					 s->cfg.max_body);

			tp_http_respond(r, 413, "text/plain", msg, (size_t)n, NULL);
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
	mg_list_init(&s->reqs);
	s->mhd = MHD_start_daemon(flags, cfg->port, NULL, NULL, access_handler, s,
				  MHD_OPTION_SOCK_ADDR, sa,
				  MHD_OPTION_NOTIFY_COMPLETED, request_completed, s,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024,
				  MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s,
				  MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
				  MHD_OPTION_END);
	if (!s->mhd) {
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
	s->poll.data = s->timer.data = s->keepalive.data = s;
	s->open_handles = 3;
	uv_poll_start(&s->poll, UV_READABLE, on_poll);
	uv_timer_start(&s->keepalive, on_keepalive, KEEPALIVE_MS, KEEPALIVE_MS);
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

		free(s);
		if (done)
			done(ctx);
	}
}

void tp_http_server_stop(struct tp_http_server *s, void (*done)(void *ctx), void *ctx)
{
	struct mg_list *pos, *tmp;

	if (s->stopping)
		return;
	s->stopping = true;
	s->stopped = done;
	s->stopped_ctx = ctx;
	/* MHD may not stop with suspended connections: wake them all, end
	 * every stream, and let MHD close them (on_done runs for each). */
	mg_list_each_safe(pos, tmp, &s->reqs) {
		struct tp_http_req *r = mg_container_of(pos, struct tp_http_req, node);

		r->ended = true;
		resume(r);
	}
	MHD_run(s->mhd);
	MHD_stop_daemon(s->mhd);
	s->mhd = NULL;
	uv_close((uv_handle_t *)&s->poll, handle_closed);
	uv_close((uv_handle_t *)&s->timer, handle_closed);
	uv_close((uv_handle_t *)&s->keepalive, handle_closed);
}
