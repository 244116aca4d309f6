/* MCP over HTTP, the server side: Streamable HTTP at one path (POST, GET,
 * DELETE with Mcp-Session-Id sessions, answers as JSON or per-request
 * event streams, resumption with Last-Event-ID) and the legacy HTTP+SSE
 * transport (GET /sse, POST /messages).  It owns the security checks at the
 * door: bearer token, Host and Origin (DNS rebinding), body and queue caps.
 * It frames messages and routes them to the right stream; what a message
 * means is the layer above's business. */
#ifndef MG_TP_MCP_HTTP_H
#define MG_TP_MCP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/budget.h"
#include "base/err.h"
#include "transport/http_server.h"

struct tp_mcp_http;
struct tp_mcp_conn;             /* one client session */

struct tp_mcp_http_ops {
	/* A client session starts; return the upper layer's state for it.
	 * modern: the stateless 2026-07-28 requests of one principal (one such
	 * session per credential), rather than an initialize-based session. */
	void *(*open)(void *ctx, struct tp_mcp_conn *c, bool modern);
	/* One message from the client (valid during the call). */
	void (*message)(void *sess, const char *line, size_t len);
	/* The session is over (DELETE, expiry, its stream closed, stop).
	 * Called from the loop, never inside tp_mcp_conn_send. */
	void (*close)(void *sess);
	/* 2026-07-28: the client closed a request's stream before its answer
	 * (that is the cancel).  rel: the request's id text. */
	void (*cancel)(void *sess, const char *rel, size_t rel_len);
	/* A request or connection refused at the door (already answered), for
	 * the audit log; ctx is tp_mcp_http_start's.  May be NULL. */
	void (*refused)(void *ctx, const struct tp_http_refusal *rf);
};

struct tp_mcp_http_config {
	const char *host;               /* bind address (default 127.0.0.1) */
	uint16_t port;
	bool streamable;                /* serve Streamable HTTP at /mcp */
	bool sse;                       /* serve legacy HTTP+SSE at /sse, /messages */
	const char *token;              /* bearer token; NULL = no authentication */
	size_t max_body;                /* 413 beyond */
	size_t max_sessions;
	size_t max_connections;         /* TCP connections; past it, 503 */
	size_t reserved_connections;    /* the last ones: /health and established clients */
	size_t max_per_address;         /* TCP connections from one client address */
	unsigned header_timeout_s;      /* a request head must arrive this soon */
	unsigned idle_timeout_s;        /* idle keep-alive connections are closed */
	size_t stream_queue_max;        /* per stream */
	size_t replay_max;              /* bytes of events kept per session for resumption */
	uint64_t session_idle_ms;       /* sessions idle this long are closed */
	const char *const *versions;    /* valid MCP-Protocol-Version values */
	struct mg_budget *budget;       /* all output queued to clients, or NULL */
};

int tp_mcp_http_start(uv_loop_t *loop, const struct tp_mcp_http_config *cfg,
		      const struct tp_mcp_http_ops *ops, void *ctx, struct tp_mcp_http **out,
		      struct mg_err *err);
uint16_t tp_mcp_http_port(const struct tp_mcp_http *h);
size_t tp_mcp_http_sessions(const struct tp_mcp_http *h);
/* End every session (ops->close for each), stop listening, then done. */
void tp_mcp_http_stop(struct tp_mcp_http *h, void (*done)(void *ctx), void *ctx);

/* Send one message to the session's client.  rel/rel_len: the exact id
 * text of the client request it belongs to (its response, its progress, a
 * request it caused), or NULL; final: this is that request's response. */
int tp_mcp_conn_send(struct tp_mcp_conn *c, const char *line, size_t len, const char *rel,
		     size_t rel_len, bool final);
/* End the session from the server side (ops->close follows, later). */
void tp_mcp_conn_close(struct tp_mcp_conn *c);
const char *tp_mcp_conn_id(const struct tp_mcp_conn *c);
/* Who the session's client is: a digest of its bearer credential (32 hex
 * digits), or "anonymous" without authentication. */
void tp_mcp_conn_principal(const struct tp_mcp_conn *c, char out[33]);

#endif
