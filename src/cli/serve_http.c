/* The HTTP transports: Streamable HTTP at /mcp and legacy HTTP+SSE at /sse,
 * every HTTP session one gateway session.  SIGINT/SIGTERM end every session,
 * stop the servers, then the loop. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "audit/audit.h"
#include "base/log.h"
#include "base/mem.h"
#include "cli/serve.h"
#include "transport/mcp_http.h"

/* Descriptors the gateway keeps for itself beside HTTP connections:
 * servers' pipes, sandboxes, the audit log, libuv and MHD. */
#define FD_HEADROOM 256
#define MHD_EXTRA 64

struct http_run {
	uv_loop_t *loop;
	struct gateway *gw;
	struct aud_log *audit;
	struct tp_mcp_http *mcp;
	uv_signal_t sigint, sigterm;
	bool stopping;
};

static const char *const legacy_versions[] = {
	"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", NULL,
};

/* ---- gateway session <-> HTTP session ---- */

static int session_send(struct gw_session *s, struct gw_out *o)
{
	int rc = tp_mcp_conn_send(gw_session_transport(s), o->line, o->len, o->rel, o->rel_len,
				  o->final);

	free(o->line);
	return rc;
}

static void session_close(struct gw_session *s)
{
	tp_mcp_conn_close(gw_session_transport(s));
}

static const struct gw_session_ops session_ops = { session_send, session_close };

static void *conn_open(void *ctx, struct tp_mcp_conn *c, bool modern)
{
	struct http_run *r = ctx;
	struct gw_session *s = modern ? gw_session_open_modern(r->gw, &session_ops, c)
				      : gw_session_open(r->gw, &session_ops, c);
	char principal[33];

	/* The credential is the client: its instances count against
	 * --max-instances-per-client together. */
	tp_mcp_conn_principal(c, principal);
	gw_session_set_principal(s, principal);
	return s;
}

/* A POST body may be pretty-printed; upstream stdio framing wants one
 * line.  Raw CR and LF can only be whitespace in valid JSON (inside
 * strings they must be escaped), so turning them into spaces keeps the
 * meaning. */
static void conn_message(void *sess, const char *body, size_t len)
{
	char *flat;

	if (!memchr(body, '\n', len) && !memchr(body, '\r', len)) {
		gw_session_recv(sess, body, len);
		return;
	}
	flat = mg_memdup0(body, len);
	for (size_t i = 0; i < len; i++)
		if (flat[i] == '\n' || flat[i] == '\r')
			flat[i] = ' ';
	gw_session_recv(sess, flat, len);
	free(flat);
}

static void conn_close(void *sess)
{
	gw_session_close(sess);
}

static void conn_cancel(void *sess, const char *rel, size_t rel_len)
{
	gw_session_cancel(sess, rel, rel_len);
}

/* Every refusal at the door is an audit record (never the token). */
static void conn_refused(void *ctx, const struct tp_http_refusal *rf)
{
	struct http_run *r = ctx;
	struct aud_record a = { 0 };
	char method[200];

	if (!r->audit)
		return;
	if (rf->method)
		snprintf(method, sizeof(method), "http %s %s", rf->method,
			 rf->path ? rf->path : "");
	else
		snprintf(method, sizeof(method), "http connection");
	a.method = method;
	a.upstream_id = -1;
	a.outcome = "refused";
	a.error_code = (int)rf->status;
	a.error = rf->reason;
	a.peer = rf->peer;
	aud_write(r->audit, &a);
}

static const struct tp_mcp_http_ops mcp_ops = { conn_open, conn_message, conn_close,
						conn_cancel, conn_refused };

/* HTTP connections are descriptors: keep the connection cap below what
 * the open-file limit leaves after the headroom (the gateway raised the
 * soft limit to the hard one at start). */
static size_t fit_connections(size_t want)
{
	struct rlimit rl;
	size_t room;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return want;
	if (rl.rlim_cur == RLIM_INFINITY)
		return want;
	room = rl.rlim_cur > FD_HEADROOM + MHD_EXTRA + 16 ?
	       (size_t)rl.rlim_cur - FD_HEADROOM - MHD_EXTRA : 16;
	if (want > room) {
		mg_warn("http: %zu connections do not fit the open-file limit (%llu); serving at "
			"most %zu", want, (unsigned long long)rl.rlim_cur, room);
		return room;
	}
	return want;
}

static unsigned seconds(uint64_t ms)
{
	uint64_t s = (ms + 999) / 1000;

	return s > 86400 ? 86400 : (unsigned)s;
}

/* ---- stopping ---- */

static void signal_closed(uv_handle_t *h)
{
}

static void gateway_stopped(struct gateway *gw, void *ctx)
{
	struct http_run *r = ctx;

	uv_close((uv_handle_t *)&r->sigint, signal_closed);
	uv_close((uv_handle_t *)&r->sigterm, signal_closed);
}

static void http_stopped(void *ctx)
{
	struct http_run *r = ctx;

	r->mcp = NULL;
	gw_shutdown(r->gw, gateway_stopped, r);
}

static void on_signal(uv_signal_t *h, int sig)
{
	struct http_run *r = h->data;

	if (r->stopping)
		return;
	r->stopping = true;
	mg_info("%s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	tp_mcp_http_stop(r->mcp, http_stopped, r);
}

int cli_serve_http(uv_loop_t *loop, struct gateway *gw, const struct serve_http_opts *o)
{
	struct http_run r;
	struct mg_err err;
	struct tp_mcp_http_config cfg = {
		.host = o->host, .port = o->port, .streamable = o->streamable, .sse = o->sse,
		.token = o->token, .max_body = o->max_body, .max_sessions = o->max_sessions,
		.max_connections = fit_connections(o->max_connections),
		.reserved_connections = o->reserved_connections,
		.max_per_address = o->max_per_address,
		.header_timeout_s = seconds(o->header_timeout_ms),
		.idle_timeout_s = seconds(o->idle_timeout_ms),
		.stream_queue_max = 4 * gw_config_max_message(gw) + 65536,
		.replay_max = 256u << 10, .session_idle_ms = o->session_idle_ms,
		.versions = legacy_versions, .budget = o->budget,
	};

	memset(&r, 0, sizeof(r));
	r.loop = loop;
	r.gw = gw;
	r.audit = o->audit;
	if (cfg.reserved_connections >= cfg.max_connections)
		cfg.reserved_connections = cfg.max_connections / 8;
	if (cfg.max_per_address > cfg.max_connections)
		cfg.max_per_address = o->max_per_address == SIZE_MAX ? cfg.max_connections / 2 :
				      cfg.max_connections;
	if (tp_mcp_http_start(loop, &cfg, &mcp_ops, &r, &r.mcp, &err)) {
		fprintf(stderr, "mcpguard: %s\n", err.msg);
		return 1;
	}
	uv_signal_init(loop, &r.sigint);
	uv_signal_init(loop, &r.sigterm);
	r.sigint.data = r.sigterm.data = &r;
	uv_signal_start(&r.sigint, on_signal, SIGINT);
	uv_signal_start(&r.sigterm, on_signal, SIGTERM);
	mg_info("listening on http://%s%s%s:%u%s%s", strchr(o->host, ':') ? "[" : "", o->host,
		strchr(o->host, ':') ? "]" : "", tp_mcp_http_port(r.mcp),
		o->streamable ? " (Streamable HTTP at /mcp)" : "",
		o->sse ? " (HTTP+SSE at /sse)" : "");
	uv_run(loop, UV_RUN_DEFAULT);
	return 0;
}
