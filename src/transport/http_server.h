/* An HTTP/1.1 server on the libuv loop: libmicrohttpd in external-epoll
 * mode, with no thread of its own.  It knows nothing of MCP: it hands the
 * layer above one exchange per request (method, path, headers, a capped
 * body) and offers two ways to answer: a whole response, or a stream
 * (Server-Sent Events) written piece by piece with a capped queue. */
#ifndef MG_TP_HTTP_SERVER_H
#define MG_TP_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/budget.h"
#include "base/err.h"

struct tp_http_server;
struct tp_http_req;

struct tp_http_refusal {
	const char *method;             /* "POST"...; NULL: a connection, before any request */
	const char *path;               /* printable, cut; NULL with method */
	const char *peer;               /* client address */
	unsigned status;                /* what the client got (0: closed) */
	const char *reason;
};

struct tp_http_server_ops {
	/* Headers and body are complete.  Answer now or later with
	 * tp_http_respond or tp_http_stream_open. */
	void (*on_request)(void *ctx, struct tp_http_req *r);
	/* The exchange is over (answered and sent, or the client went away);
	 * r is freed after this returns.  aborted: the peer left before the
	 * end (for a stream: the client closed it). */
	void (*on_done)(void *ctx, struct tp_http_req *r, bool aborted);
	/* The head is complete and its framing sound; the body is not read
	 * yet.  Answering now refuses the request (the connection closes
	 * after the answer).  May be NULL. */
	void (*on_head)(void *ctx, struct tp_http_req *r);
	/* A refusal at the door (by this layer or the one above), for the
	 * audit log.  May be NULL. */
	void (*refused)(void *ctx, const struct tp_http_refusal *rf);
};

struct tp_http_config {
	const char *host;               /* address to bind, e.g. "127.0.0.1" */
	uint16_t port;                  /* 0: any free port */
	size_t max_body;                /* larger bodies get 413 */
	size_t max_connections;         /* beyond: a new connection gets 503 */
	size_t reserved_connections;    /* the last ones: established clients, /health */
	size_t max_per_address;         /* connections from one client address */
	size_t stream_queue_max;        /* bytes queued on one stream */
	unsigned header_timeout_s;      /* a head must be complete this soon (0: none) */
	unsigned idle_timeout_s;        /* keep-alive and stalled connections are closed */
	struct mg_budget *budget;       /* shared by all queued output, or NULL */
};

int tp_http_server_start(uv_loop_t *loop, const struct tp_http_config *cfg,
			 const struct tp_http_server_ops *ops, void *ctx,
			 struct tp_http_server **out, struct mg_err *err);
uint16_t tp_http_server_port(const struct tp_http_server *s);
/* Stop accepting, end every exchange (on_done runs for each), free. */
void tp_http_server_stop(struct tp_http_server *s, void (*done)(void *ctx), void *ctx);

/* ---- one exchange ---- */

const char *tp_http_method(const struct tp_http_req *r);
const char *tp_http_path(const struct tp_http_req *r);
/* Header or query argument by name (case-insensitive header names). */
const char *tp_http_header(const struct tp_http_req *r, const char *name);
const char *tp_http_query(const struct tp_http_req *r, const char *name);
const char *tp_http_body(const struct tp_http_req *r, size_t *len);
bool tp_http_peer_is_loopback(const struct tp_http_req *r);
const char *tp_http_peer(const struct tp_http_req *r);
/* More connections than max - reserved are open: serve only /health and
 * established clients. */
bool tp_http_under_pressure(const struct tp_http_req *r);
/* The connection carried an authorised request: it is never shed. */
void tp_http_set_established(struct tp_http_req *r);
bool tp_http_is_established(const struct tp_http_req *r);
/* Log (rate-limited) and report a refusal the caller has answered. */
void tp_http_refused(struct tp_http_req *r, unsigned status, const char *reason);
void tp_http_set_data(struct tp_http_req *r, void *data);
void *tp_http_get_data(const struct tp_http_req *r);

/* Answer with a whole body (copied).  headers: "Name", "value" pairs,
 * NULL-terminated; may be NULL.  -ENOBUFS: a large body does not fit the
 * output budget (nothing was sent; answer something smaller). */
int tp_http_respond(struct tp_http_req *r, unsigned status, const char *content_type,
		    const char *body, size_t len, const char *const *headers);
/* Start a stream (text/event-stream unless content_type says otherwise)
 * with status and headers; then write pieces.  Writes over the queue cap
 * or the output budget fail with -ENOBUFS; a stream whose client waited
 * longest while the budget was full is dropped (writes then fail with
 * -EPIPE, and the exchange ends as aborted).  tp_http_stream_end finishes it after the queue
 * drains. */
int tp_http_stream_open(struct tp_http_req *r, unsigned status, const char *content_type,
			const char *const *headers);
int tp_http_stream_write(struct tp_http_req *r, const char *data, size_t len);
void tp_http_stream_end(struct tp_http_req *r);
bool tp_http_is_streaming(const struct tp_http_req *r);
size_t tp_http_stream_queued(const struct tp_http_req *r);

#endif
