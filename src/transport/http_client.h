/* HTTP client for remote MCP servers, on the gateway's libuv loop, with
 * libcurl's multi interface (curl_multi_socket_action driven by uv_poll_t
 * and uv_timer_t).  One struct tp_httpc is one logical MCP connection to
 * one URL, in one of two transports:
 *
 *   TP_HTTPC_STREAMABLE  Streamable HTTP (2025-03-26 and later, including
 *       the stateless 2026-07-28 era).  Every message is its own POST with
 *       Accept: application/json, text/event-stream.  The answer is 202
 *       (notifications, responses), one application/json message, or a
 *       text/event-stream of messages ending with the response.  The
 *       Mcp-Session-Id of the response carrying the initialize result is
 *       sent on every later request, with MCP-Protocol-Version once set.
 *       tp_httpc_listen() opens the GET stream for server-initiated
 *       messages.  A POST stream cut before its response that carried event
 *       ids is resumed with GET + Last-Event-ID (2025-11-25 polling), after
 *       the server's retry: delay.  tp_httpc_close() DELETEs the session.
 *   TP_HTTPC_SSE  HTTP+SSE (2024-11-05).  open() GETs the URL; the first
 *       event, "endpoint", names the POST URL (resolved against the SSE URL
 *       and required to be of the same origin).  Messages sent before it
 *       arrives wait (within the in-flight cap).  Every server message
 *       comes on that one stream; POSTs are answered 202.
 *
 * The module never parses JSON beyond locating "id", "method", "result" and
 * "error" (json/jx.h): deciding what a message means is the caller's job.
 * Which transport a server speaks is also the caller's call (MCP spec
 * 2025-03-26 "backwards compatibility": POST initialize first; on 400, 404
 * or 405 without a JSON-RPC error body, close and open TP_HTTPC_SSE).
 *
 * Limits: every JSON body and every SSE event is capped at max_message
 * (over it: on_post_error for a POST, the event skipped on the GET stream,
 * on_closed on the legacy stream); at most TP_HTTPC_MAX_INFLIGHT POSTs at
 * once; connecting times out after TP_HTTPC_CONNECT_TIMEOUT_MS; there is no
 * total timeout on any request (SSE streams live long; the gateway keeps
 * its own deadlines and calls tp_httpc_cancel).  TLS peer and host
 * verification are always on.  POSTs never follow redirects (the error
 * says so); GET streams follow up to 5, never to another scheme.
 *
 * Threading: everything runs on the loop's thread.  libcurl is initialised
 * by the first tp_httpc_open() (or tp_httpc_global_init(), before any
 * thread is started); call tp_httpc_global_cleanup() once at exit, after
 * every connection has been freed.
 *
 * Callbacks may call any function of this module, including
 * tp_httpc_close(); the object is only ever freed from the loop, never
 * while one of its callbacks is on the stack. */
#ifndef MG_TP_HTTP_CLIENT_H
#define MG_TP_HTTP_CLIENT_H

#include <stddef.h>
#include <uv.h>

#include "base/err.h"

#define TP_HTTPC_MAX_INFLIGHT 256       /* POSTs (and their resumptions) */
#define TP_HTTPC_CONNECT_TIMEOUT_MS 10000
#define TP_HTTPC_DELETE_TIMEOUT_MS 3000 /* the DELETE sent by close */

struct tp_httpc;

enum tp_httpc_kind {
	TP_HTTPC_STREAMABLE,
	TP_HTTPC_SSE,   /* 2024-11-05 HTTP+SSE */
};

struct tp_httpc_ops {
	/* One JSON-RPC message from the server (response, notification or
	 * request), whether it came as an application/json body, an SSE event
	 * on a POST's response, on the GET stream or on the legacy stream.
	 * json is NUL-terminated and valid during the call only; it is the
	 * server's bytes, not validated.  http_status is the status of the
	 * HTTP response that carried it: 200 normally, 4xx/5xx when a POST's
	 * error response carried a JSON-RPC error with an id. */
	void (*on_message)(void *ctx, const char *json, size_t len, int http_status);
	/* A POST got no JSON-RPC response back: an HTTP error (4xx/5xx without
	 * a JSON-RPC error that has an id), a redirect, an unexpected content
	 * type, an oversized body, a transport error, or an SSE stream that
	 * ended (and could not be resumed) before the response.  id_json is
	 * the id text of the request as the caller wrote it; NULL (id_len 0)
	 * when the POST carried a notification or a response, for logging.
	 * http_status is 0 for transport errors.  why is one readable line
	 * (it includes error.message of an id-less JSON-RPC error body).  Not
	 * called for requests given to tp_httpc_cancel. */
	void (*on_post_error)(void *ctx, const char *id_json, size_t id_len, int http_status,
			      const char *why);
	/* The connection is unusable: the legacy SSE stream ended or broke,
	 * its endpoint was invalid, or the server answered 404 to a request
	 * carrying the session id (the session expired: initialize again on a
	 * new connection).  Called at most once, never after tp_httpc_close;
	 * every transfer is aborted and the caller fails whatever it still
	 * waits for (no on_post_error follows).  Later sends fail with
	 * -EPIPE; the caller still calls tp_httpc_close. */
	void (*on_closed)(void *ctx, const char *why);
};

/* Initialise libcurl (idempotent; 0 or -EIO).  tp_httpc_open() calls it. */
int tp_httpc_global_init(void);
/* Release libcurl's global state; only when no connection is left. */
void tp_httpc_global_cleanup(void);

/* Create a connection.  url: http:// or https:// (the MCP endpoint for
 * STREAMABLE, the SSE endpoint for SSE).  headers: "Name: value" strings
 * sent on every request (e.g. Authorization), NULL-terminated, may be
 * NULL; copied.  Headers the transport manages (Accept, Content-Type,
 * Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID, Host,
 * Content-Length, Transfer-Encoding, Expect) are refused, as are names
 * that are not tokens and values that are empty or hold CR, LF or NUL.
 * max_message caps one message (> 0).  ops and ctx are borrowed until
 * the closed callback of tp_httpc_close has run.  0 and *out set, or a
 * negative errno with err explaining.  For SSE the GET starts at once;
 * for STREAMABLE nothing is sent until the first message. */
int tp_httpc_open(uv_loop_t *loop, const char *url, enum tp_httpc_kind kind,
		  char *const *headers, size_t max_message, const struct tp_httpc_ops *ops,
		  void *ctx, struct tp_httpc **out, struct mg_err *err);

/* POST one JSON-RPC message (request, notification, or response to a
 * server request); json is copied.  A message with "method" and a non-null
 * "id" is a request: its id text is what on_post_error and tp_httpc_cancel
 * use; "method": "initialize" marks the response whose Mcp-Session-Id is
 * kept.  extra_headers (e.g. "Mcp-Method: tools/call", "Mcp-Name: x" in the
 * 2026-07-28 era) are checked as in open and may be NULL.  0, -EINVAL (bad
 * header, malformed JSON), -ENOBUFS (TP_HTTPC_MAX_INFLIGHT reached) or
 * -EPIPE (closing or closed).  The outcome arrives through on_message /
 * on_post_error. */
int tp_httpc_send(struct tp_httpc *c, const char *json, size_t len, char *const *extra_headers);

/* After initialize: the MCP-Protocol-Version header to send on every later
 * request (visible ASCII, at most 64 bytes; anything else is ignored with a
 * warning).  NULL stops sending it. */
void tp_httpc_set_protocol_version(struct tp_httpc *c, const char *version);

/* Open the GET stream for server-initiated messages (STREAMABLE only; a
 * no-op for SSE, whose stream is always open).  Call it once initialize
 * has been answered (the stream needs the session id).  405 means the
 * server does not offer one: fine, nothing more happens; other 4xx stop
 * it with a warning.  Drops are reconnected with Last-Event-ID after the
 * server's retry: time (default 1 s, at most 10 min), failures (5xx, 408,
 * 429, transport errors) with exponential backoff up to 30 s, for as long
 * as the connection lives.  Idempotent. */
void tp_httpc_listen(struct tp_httpc *c);

/* Abort the POST (or its resumption) that carries the request with this id
 * text (the bytes of the "id" value as sent).  In Streamable HTTP closing
 * the stream is how a 2026-07-28 client cancels; earlier revisions also
 * want notifications/cancelled, which is the caller's to send.  0, or
 * -ENOENT when no such request is in flight. */
int tp_httpc_cancel(struct tp_httpc *c, const char *id_json, size_t id_len);

/* Abort everything and free c.  For STREAMABLE with a session a DELETE is
 * sent first (fire and forget, at most TP_HTTPC_DELETE_TIMEOUT_MS).  No
 * callback of ops runs after this call.  closed (may be NULL) runs from
 * the loop once every curl and libuv handle is gone and c is freed. */
void tp_httpc_close(struct tp_httpc *c, void (*closed)(void *ctx));

/* The session id the server gave (NULL: none yet, or stateless). */
const char *tp_httpc_session_id(const struct tp_httpc *c);

#endif
