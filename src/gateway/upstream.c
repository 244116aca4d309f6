/* Upstream instances: one running server process and its MCP session.
 *
 * Life of an instance: spawn -> initialize (gateway's own request) ->
 * notifications/initialized -> READY (queued calls flow) -> stop (stdin
 * closed, then SIGTERM, then SIGKILL) or crash.  It is freed only when the
 * process has been reaped and every libuv handle is closed. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "base/time.h"
#include "gateway/internal.h"
#include "json/jx.h"
#include "mcp/proto.h"

#define STOP_GRACE_MS 2000
#define STDOUT_GRACE_MS 500
#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS 30000
#define QUEUE_FACTOR 4          /* output queue cap = 4 x max message */

static void up_finalize(struct gw_upstream *up);

/* The part of a client's capabilities that the gateway can relay to a
 * server: requests the server may send back (roots, sampling,
 * elicitation).  Experimental and task capabilities are not relayed. */
json_t *gw_relay_caps(const json_t *client_caps)
{
	static const char *const keys[] = { "roots", "sampling", "elicitation" };
	json_t *caps = json_object();

	for (size_t i = 0; i < MG_ARRAY_LEN(keys); i++) {
		json_t *v = client_caps ? jx_obj(client_caps, keys[i]) : NULL;

		if (!client_caps)
			json_object_set_new(caps, keys[i], json_object());
		else if (v)
			json_object_set_new(caps, keys[i], json_deep_copy(v));
	}
	return caps;
}

void gw_upstream_handle_closed(struct gw_upstream *up)
{
	if (--up->open_handles == 0) {
		struct gateway *gw = up->gw;

		mg_list_del(&up->node);
		mg_map_release(&up->pending);
		json_decref(up->init_caps);
		json_decref(up->client_info);
		json_decref(up->caps);
		json_decref(up->init_result);
		json_decref(up->listing_view);
		free(up->version);
		free(up->exit_reason);
		free(up->principal);
		free(up);
		gw_maybe_finish_shutdown(gw);
	}
}

static void stream_closed(struct tp_stream *s)
{
	gw_upstream_handle_closed(s->owner);
}

static void child_closed(struct rt_child *c)
{
	gw_upstream_handle_closed(c->data);
}

static void remote_closed(void *ctx)
{
	gw_upstream_handle_closed(ctx);
}

/* ---- stdout: JSON-RPC from the server ---- */

static int out_line(struct tp_stream *s, const char *line, size_t len)
{
	struct gw_upstream *up = s->owner;
	struct rpc_msg m;
	char why[160];
	char *id_raw = NULL;
	int code;

	if (up->state == GW_UP_GONE)
		return 1;
	code = rpc_parse(line, len, &m, why, sizeof(why), &id_raw);
	free(id_raw);
	if (code) {
		/* Servers must not write anything else to stdout, but many log
		 * there by mistake: skip the line and keep the session. */
		mg_warn("%s wrote a non-JSON-RPC line to stdout (skipped: %s): %.120s",
			up->label, why, line);
		return 0;
	}
	if (m.kind == RPC_RESPONSE)
		gw_call_complete(up, &m);
	else
		gw_relay_from_upstream(up, &m);
	rpc_msg_release(&m);
	return up->state == GW_UP_GONE;
}

static int out_oversize(struct tp_stream *s, size_t max)
{
	struct gw_upstream *up = s->owner;
	char why[128];

	/* A message we cannot read may be a response we cannot attribute:
	 * treat it as a protocol violation, fail what is in flight, restart. */
	snprintf(why, sizeof(why), "sent a message larger than the %zu byte cap", max);
	mg_warn("%s %s; stopping it", up->label, why);
	gw_call_fail_all(up, "too_large", why);
	gw_upstream_stop(up, why);
	return 0;
}

static void out_end(struct tp_stream *s, int status)
{
	struct gw_upstream *up = s->owner;

	/* Usually the process is exiting and its pidfd fires a moment later
	 * with the real reason; the sweep stops a server that merely closed
	 * its stdout after a grace period. */
	up->stdout_closed_ms = mg_now_ms();
	if (up->child.exited)
		up_finalize(up);
}

static const struct tp_stream_ops out_ops = {
	.on_line = out_line,
	.on_oversize = out_oversize,
	.on_end = out_end,
	.on_closed = stream_closed,
};

/* ---- stderr: free-form log lines ---- */

static int err_line(struct tp_stream *s, const char *line, size_t len)
{
	struct gw_upstream *up = s->owner;

	mg_debug("[%s] %.*s", up->label, (int)(len > 1000 ? 1000 : len), line);
	snprintf(up->stderr_tail, sizeof(up->stderr_tail), "%.*s", (int)len, line);
	return 0;
}

static int err_oversize(struct tp_stream *s, size_t max)
{
	return 0;
}

static void err_end(struct tp_stream *s, int status)
{
	tp_stream_close(s);
}

static const struct tp_stream_ops err_ops = {
	.on_line = err_line,
	.on_oversize = err_oversize,
	.on_end = err_end,
	.on_closed = stream_closed,
};

/* ---- stdin: our writes ---- */

static int in_line(struct tp_stream *s, const char *line, size_t len)
{
	return 0;
}

static void in_end(struct tp_stream *s, int status)
{
}

static const struct tp_stream_ops in_ops = {
	.on_line = in_line,
	.on_oversize = err_oversize,
	.on_end = in_end,
	.on_closed = stream_closed,
};

int gw_upstream_write(struct gw_upstream *up, char *line, size_t len)
{
	int rc;

	if (up->state == GW_UP_GONE || up->state == GW_UP_STOPPING ||
	    (!up->http && up->in.closing)) {
		free(line);
		return -EPIPE;
	}
	if (!up->http)
		return tp_stream_write_owned(&up->in, line, len);
	rc = tp_httpc_send(up->http, line, len && line[len - 1] == '\n' ? len - 1 : len, NULL);
	free(line);
	return rc;
}

int gw_upstream_notify(struct gw_upstream *up, const char *method, const json_t *params)
{
	struct mg_buf b;
	char *line;
	size_t len;

	mg_buf_init(&b, up->gw->cfg.max_message);
	if (rpc_request_line(&b, NULL, 0, method, params)) {
		mg_buf_release(&b);
		return -EMSGSIZE;
	}
	line = mg_buf_detach(&b, &len);
	return gw_upstream_write(up, line, len);
}

int gw_upstream_reply(struct gw_upstream *up, const char *id, size_t id_len,
		      const json_t *result, int code, const char *msg)
{
	struct mg_buf b;
	char *line;
	size_t len;
	int rc;

	mg_buf_init(&b, up->gw->cfg.max_message);
	rc = result ? rpc_result_line(&b, id, id_len, result)
		    : rpc_error_line(&b, id, id_len, code, msg, NULL);
	if (rc) {
		mg_buf_release(&b);
		return rc;
	}
	line = mg_buf_detach(&b, &len);
	return gw_upstream_write(up, line, len);
}

/* ---- exit, crash, restart ---- */

static void slot_failed(struct gw_slot *slot, const char *reason)
{
	uint64_t delay = 0;

	slot->failures++;
	/* The first failure restarts at the next request; repeated ones back
	 * off exponentially so a crash loop cannot burn the machine. */
	if (slot->failures > 1) {
		delay = BACKOFF_FIRST_MS << (slot->failures > 9 ? 7 : slot->failures - 2);
		if (delay > BACKOFF_MAX_MS)
			delay = BACKOFF_MAX_MS;
	}
	slot->retry_at_ms = mg_now_ms() + delay;
	free(slot->last_error);
	slot->last_error = mg_strdup(reason);
}

/* Both the process is reaped and its stdout is drained: nothing more can
 * arrive.  Fail what is left, detach from the slot, close handles. */
static void up_finalize(struct gw_upstream *up)
{
	bool unexpected = !up->expected_exit;
	const char *reason = up->exit_reason ? up->exit_reason : "exited";

	if (up->state == GW_UP_GONE)
		return;
	if (!up->http && !up->out.ended && !up->out.closing)
		return;
	up->state = GW_UP_GONE;
	gw_limits_uncount(up);
	if (unexpected)
		mg_warn("%s %s%s%s", up->label, reason, up->stderr_tail[0] ? "; last stderr: " : "",
			up->stderr_tail);
	gw_call_fail_all(up, unexpected ? "crashed" : "stopped", reason);
	gw_s2c_forget_upstream(up->gw, up);
	if (up->slot) {
		if (up->slot->up == up)
			up->slot->up = NULL;
		if (unexpected)
			slot_failed(up->slot, reason);
	}
	if (up->srv->discovery == up)
		up->srv->discovery = NULL;
	if (up->list_refresh) {
		up->list_refresh = false;
		gw_server_refresh(up->srv, NULL);      /* abandoned discovery */
	}
	if (up->http_modern)
		tp_httpc_close(mg_steal(&up->http_modern), remote_closed);
	if (up->http) {
		tp_httpc_close(mg_steal(&up->http), remote_closed);
		return;
	}
	tp_stream_close(&up->in);
	tp_stream_close(&up->out);
	tp_stream_close(&up->err);
	gw_sandbox_detach(up);
	rt_child_close(&up->child, child_closed);
}

static void on_child_exit(struct rt_child *c, int status, int sig)
{
	struct gw_upstream *up = c->data;
	char buf[160];

	if (c->usage.oom_killed)
		snprintf(buf, sizeof(buf), "was killed: it reached its sandbox's memory limit");
	else if (sig)
		snprintf(buf, sizeof(buf), "was killed by signal %d (%s)", sig, strsignal(sig));
	else if (c->sandboxed && status > 128 && status < 128 + 65)
		snprintf(buf, sizeof(buf), "was killed by signal %d (%s)", status - 128,
			 strsignal(status - 128));
	else
		snprintf(buf, sizeof(buf), "exited with status %d", status);
	if (c->usage.pids_hit)
		mg_warn("%s reached its sandbox's process limit", up->label);
	if (!up->exit_reason)
		up->exit_reason = mg_strdup(buf);
	/* Whatever the leader left behind (npx's node child) goes too. */
	rt_child_signal(c, SIGKILL);
	if (!up->out.reading && !up->out.ended)
		tp_stream_close(&up->out);     /* never opened: nothing to drain */
	if (up->out.ended || up->out.closing)
		up_finalize(up);
}

void gw_upstream_stop(struct gw_upstream *up, const char *why)
{
	if (up->state == GW_UP_STOPPING || up->state == GW_UP_GONE)
		return;
	mg_debug("stopping %s: %s", up->label, why);
	up->state = GW_UP_STOPPING;
	gw_limits_uncount(up);
	up->expected_exit = true;
	if (!up->exit_reason)
		up->exit_reason = mg_strdup(why);
	if (up->slot && up->slot->up == up)
		up->slot->up = NULL;
	gw_call_fail_all(up, "stopped", why);
	if (up->http) {
		up_finalize(up);        /* ends the HTTP session (DELETE) */
		return;
	}
	/* MCP stdio shutdown: close stdin, wait, SIGTERM, wait, SIGKILL. */
	tp_stream_close(&up->in);
	up->stop_stage = 0;
	up->stop_deadline_ms = mg_now_ms() + STOP_GRACE_MS;
}

/* Called from the gateway's sweep timer: escalate stops. */
void gw_upstreams_sweep(struct gateway *gw, uint64_t now)
{
	struct mg_list *pos, *tmp;

	mg_list_each_safe(pos, tmp, &gw->instances) {
		struct gw_upstream *up = mg_container_of(pos, struct gw_upstream, node);

		if (!up->http && up->stdout_closed_ms && !up->child.exited && up->state != GW_UP_GONE &&
		    up->state != GW_UP_STOPPING && now - up->stdout_closed_ms > STDOUT_GRACE_MS)
			gw_upstream_stop(up, "closed its stdout");
		if (up->http || up->state != GW_UP_STOPPING || up->child.exited ||
		    now < up->stop_deadline_ms)
			continue;
		rt_child_signal(&up->child, up->stop_stage == 0 ? SIGTERM : SIGKILL);
		up->stop_stage++;
		up->stop_deadline_ms = now + STOP_GRACE_MS;
	}
}

/* ---- start ---- */

static void on_initialized(struct gw_call *c, struct rpc_msg *resp, const char *error)
{
	struct gw_upstream *up = c->internal_ctx;
	json_t *result;
	const char *version;

	if (up->state == GW_UP_GONE)
		return;         /* the exit path reports and counts the failure */
	if (!resp || resp->is_error) {
		char why[600];
		const char *msg = resp ? jx_str(jx_obj(resp->root, "error"), "message") : error;

		snprintf(why, sizeof(why), "initialize failed: %s", msg ? msg : "error");
		mg_warn("%s %s", up->label, why);
		free(up->exit_reason);
		up->exit_reason = mg_strdup(why);
		if (up->slot)
			slot_failed(up->slot, why);
		up->expected_exit = true;      /* already reported */
		gw_upstream_stop(up, why);
		if (up->list_refresh) {
			up->list_refresh = false;
			gw_server_refresh(up->srv, NULL);
		}
		return;
	}
	result = json_object_get(resp->root, "result");
	version = jx_str(result, "protocolVersion");
	if (!mcp_legacy_version_known(version))
		mg_warn("%s answered with protocol version %s; continuing", up->label,
			version ? version : "(none)");
	up->version = mg_strdup(version ? version : MCP_LATEST_LEGACY);
	up->init_result = json_incref(result);
	up->caps = json_incref(jx_obj(result, "capabilities"));
	if (!up->caps)
		up->caps = json_object();
	gw_upstream_notify(up, "notifications/initialized", NULL);
	up->state = GW_UP_READY;
	up->ready_ms = mg_now_ms();
	if (up->http) {
		tp_httpc_set_protocol_version(up->http, up->version);
		tp_httpc_listen(up->http);
	}
	if (up->slot)
		up->slot->failures = 0;
	mg_info("%s ready in %llu ms (%s)", up->label,
		(unsigned long long)(up->ready_ms - up->spawned_ms),
		jx_str(jx_obj(result, "serverInfo"), "name") ?: "unnamed server");
	if (up->owner && up->owner->log_level >= 0 && json_object_get(up->caps, "logging")) {
		static const char *const names[] = { "debug", "info", "notice", "warning",
						     "error", "critical", "alert", "emergency" };
		json_t *p = json_pack("{ss}", "level", names[up->owner->log_level]);

		gw_call_internal(up, "logging/setLevel", p, up->srv->timeout_ms, NULL, NULL);
	}
	if (!json_is_object(up->srv->view) || up->srv->view_state != GW_VIEW_LIVE ||
	    up->list_refresh)
		gw_server_refresh(up->srv, up);
	gw_call_flush_waiting(up);
}

static char **build_env(struct gw_server *srv)
{
	char **env = mg_calloc(1, sizeof(char *));
	struct mg_buf b;

	for (size_t i = 0; srv->gw->cfg.base_env && srv->gw->cfg.base_env[i]; i++) {
		const char *v = getenv(srv->gw->cfg.base_env[i]);

		if (!v)
			continue;
		mg_buf_init(&b, 65536);
		mg_buf_addf(&b, "%s=%s", srv->gw->cfg.base_env[i], v);
		env = mg_strv_push(env, b.data);
		mg_buf_release(&b);
	}
	for (size_t i = 0; i < srv->def->n_env; i++) {
		mg_buf_init(&b, 65536);
		mg_buf_addf(&b, "%s=%s", srv->def->env[i].name,
			    srv->def->env[i].value ? srv->def->env[i].value : "");
		env = mg_strv_push(env, b.data);
		mg_buf_release(&b);
	}
	/* its own secrets, in its environment only (never in argv) */
	for (size_t i = 0; i < srv->def->n_secrets; i++) {
		const struct gw_secret *sec = gw_secret_find(srv->gw, srv->def->secrets[i].name);

		if (!sec || !srv->def->secrets[i].env)
			continue;
		mg_buf_init(&b, sec->len + 256);
		mg_buf_addf(&b, "%s=", srv->def->secrets[i].env);
		mg_buf_add(&b, sec->value, sec->len);
		env = mg_strv_push(env, b.data);
		sodium_memzero(b.data, b.len);
		mg_buf_release(&b);
	}
	return env;
}

static int open_streams(struct gw_upstream *up, struct mg_err *err)
{
	size_t max = up->gw->cfg.max_message;
	struct { struct tp_stream *s; const struct tp_stream_ops *ops; int *fd; size_t cap; } io[] = {
		{ &up->in, &in_ops, &up->child.fd_in, 64 },
		{ &up->out, &out_ops, &up->child.fd_out, max },
		{ &up->err, &err_ops, &up->child.fd_err, 64 * 1024 },
	};
	int rc = 0;

	/* Initialise every handle first, so that each one can be closed the
	 * same way whatever fails next. */
	for (size_t i = 0; i < MG_ARRAY_LEN(io); i++) {
		tp_stream_setup(io[i].s, io[i].cap, max * QUEUE_FACTOR, io[i].ops, up);
		uv_pipe_init(up->gw->loop, tp_stream_pipe(io[i].s), 0);
		io[i].s->u.handle.data = io[i].s;
		up->open_handles++;
	}
	for (size_t i = 0; i < MG_ARRAY_LEN(io); i++) {
		int r = rc ? 0 : uv_pipe_open(tp_stream_pipe(io[i].s), *io[i].fd);

		if (r || rc) {
			close(*io[i].fd);
			if (!rc)
				rc = mg_err_set(err, r, "cannot watch pipe: %s", uv_strerror(r));
		}
		*io[i].fd = -1;
	}
	if (rc)
		return rc;
	tp_stream_start_read(&up->out);
	tp_stream_start_read(&up->err);
	return 0;
}

/* ---- remote servers over HTTP ---- */

static void remote_message_modern(void *ctx, const char *json, size_t len, int status);
static void send_legacy_claim(struct gw_call *c, char *line, size_t len);
static char **expand_headers(struct gateway *gw, char *const *in);

static void remote_message(void *ctx, const char *json, size_t len, int status)
{
	struct gw_upstream *up = ctx;
	struct rpc_msg m;
	char why[160];
	char *id_raw = NULL;

	if (up->state == GW_UP_GONE)
		return;
	if (rpc_parse(json, len, &m, why, sizeof(why), &id_raw)) {
		free(id_raw);
		mg_warn("%s sent something that is not JSON-RPC (skipped: %s)", up->label, why);
		return;
	}
	free(id_raw);
	if (m.kind == RPC_RESPONSE)
		gw_call_complete(up, &m);
	else
		gw_relay_from_upstream(up, &m);
	rpc_msg_release(&m);
}

static void remote_post_error(void *ctx, const char *id, size_t id_len, int status,
			      const char *why)
{
	struct gw_upstream *up = ctx;
	char num[24];
	int64_t v;
	struct gw_call *c;

	if (!id || id_len >= sizeof(num)) {
		mg_warn("%s: a message was refused (HTTP %d): %s", up->label, status, why);
		return;
	}
	memcpy(num, id, id_len);
	num[id_len] = '\0';
	if (mg_parse_i64(num, &v) || !(c = mg_map_geti(&up->pending, (uint64_t)v)))
		return;
	if (c->sent_modern && up->srv->remote_era == 0 &&
	    (status == 400 || status == 404 || status == 405) && c->line) {
		/* No modern answer: a legacy server.  Say it once, then use its
		 * session for this and every later modern request. */
		mg_info("%s does not speak 2026-07-28 (HTTP %d); using its 2025-11-25 session",
			up->label, status);
		up->srv->remote_era = -1;
		c->sent_modern = false;
		send_legacy_claim(c, mg_steal(&c->line), c->line_len);
		return;
	}
	if (status)
		gw_call_fail(c, "unavailable", "server '%s' answered %s with HTTP %d: %s",
			     up->srv->def->name, c->method, status, why);
	else
		gw_call_fail(c, "unavailable", "server '%s' cannot be reached for %s: %s",
			     up->srv->def->name, c->method, why);
}

static void remote_lost(void *ctx, const char *why)
{
	struct gw_upstream *up = ctx;

	if (!up->exit_reason)
		up->exit_reason = mg_strdup(why);
	up_finalize(up);
}

static const struct tp_httpc_ops remote_ops = {
	remote_message, remote_post_error, remote_lost,
};

/* The stateless connection: its answers prove the server modern. */
static void remote_message_modern(void *ctx, const char *json, size_t len, int status)
{
	struct gw_upstream *up = ctx;

	if (up->srv->remote_era == 0 && status == 200) {
		mg_info("%s speaks 2026-07-28: stateless requests go to it as they are", up->label);
		up->srv->remote_era = 1;
	}
	remote_message(ctx, json, len, status);
}

static void remote_modern_lost(void *ctx, const char *why)
{
	struct gw_upstream *up = ctx;

	mg_warn("%s: stateless connection lost: %s", up->label, why);
}

static const struct tp_httpc_ops remote_modern_ops = {
	remote_message_modern, remote_post_error, remote_modern_lost,
};

/* The legacy session's negotiated version replaces the client's 2026-07-28
 * claim, so that a server that checks the header against the body sees
 * them agree. */
static void send_legacy_claim(struct gw_call *c, char *line, size_t len)
{
	static const char *const cpath[] = { "params", "_meta",
					     "io.modelcontextprotocol/protocolVersion" };
	struct gw_upstream *up = c->up;
	struct jx_edit e;
	struct mg_buf b;
	char ver[64];
	size_t n;

	if (jx_find(line, len, cpath, 3, &e.at) == 0) {
		snprintf(ver, sizeof(ver), "\"%s\"", up->version ? up->version : MCP_LATEST_LEGACY);
		e.text = ver;
		e.text_len = strlen(ver);
		mg_buf_init(&b, len + 64);
		if (jx_splice(line, len, &e, 1, &b) == 0) {
			free(line);
			line = mg_buf_detach(&b, &n);
			len = n;
		} else {
			mg_buf_release(&b);
		}
	}
	gw_call_send(c, line, len);
}

void gw_remote_send_modern(struct gw_call *c, char *line, size_t len, const char *name)
{
	struct gw_upstream *up = c->up;
	char method_h[160], name_h[600];
	char *headers[3] = { method_h, NULL, NULL };
	struct mg_err err;
	int rc;

	if (up->state == GW_UP_STARTING) {
		/* Decide once the server is up (and its era may be known). */
		c->line = line;
		c->line_len = len;
		c->modern_name = mg_strdup(name ? name : "");
		mg_list_add_tail(&up->waiting, &c->node);
		return;
	}
	if (up->srv->remote_era < 0) {
		send_legacy_claim(c, line, len);
		return;
	}
	if (!up->http_modern) {
		char **hdrs = expand_headers(up->gw, up->srv->def->remote_headers);

		rc = tp_httpc_open(up->gw->loop, up->srv->def->remote_url, TP_HTTPC_STREAMABLE,
				   hdrs, up->gw->cfg.max_message, &remote_modern_ops, up,
				   &up->http_modern, &err);
		mg_strv_free(hdrs);
		if (rc) {
			send_legacy_claim(c, line, len);
			return;
		}
		up->open_handles++;
		tp_httpc_set_protocol_version(up->http_modern, "2026-07-28");
	}
	snprintf(method_h, sizeof(method_h), "Mcp-Method: %s", c->method);
	if (name && strlen(name) < sizeof(name_h) - 12) {
		snprintf(name_h, sizeof(name_h), "Mcp-Name: %s", name);
		headers[1] = name_h;
	}
	c->sent_modern = true;
	if (up->srv->remote_era == 0) {
		c->line = mg_memdup0(line, len);       /* to fall back with */
		c->line_len = len;
	}
	rc = tp_httpc_send(up->http_modern, line, len && line[len - 1] == '\n' ? len - 1 : len,
			   headers);
	free(line);
	if (rc)
		gw_call_fail(c, "unavailable", "cannot send to server '%s': %s",
			     up->srv->def->name, strerror(-rc));
}

/* Header values may name a secret or the gateway's environment (${NAME}),
 * as Docker's catalogs name secrets: the value never appears in the
 * catalog itself. */
static char **expand_headers(struct gateway *gw, char *const *in)
{
	char **out = mg_calloc(1, sizeof(char *));

	for (size_t i = 0; in && in[i]; i++) {
		struct mg_buf b;

		mg_buf_init(&b, 65536);
		for (const char *p = in[i]; *p;) {
			const char *end;

			if (p[0] == '$' && p[1] == '{' && (end = strchr(p + 2, '}'))) {
				char name[128];
				const char *v;

				const struct gw_secret *sec;

				snprintf(name, sizeof(name), "%.*s", (int)(end - p - 2), p + 2);
				if ((sec = gw_secret_find(gw, name))) {
					mg_buf_add(&b, sec->value, sec->len);
				} else {
					v = getenv(name);
					mg_buf_adds(&b, v ? v : "");
				}
				p = end + 1;
			} else {
				mg_buf_addc(&b, *p++);
			}
		}
		out = mg_strv_push(out, b.data ? b.data : "");
		mg_buf_release(&b);
	}
	return out;
}

static int open_remote(struct gw_upstream *up, struct mg_err *err)
{
	const struct cat_server *d = up->srv->def;
	char **headers = expand_headers(up->gw, d->remote_headers);
	int rc;

	rc = tp_httpc_open(up->gw->loop, d->remote_url, d->remote_sse ? TP_HTTPC_SSE
								   : TP_HTTPC_STREAMABLE,
			   headers, up->gw->cfg.max_message, &remote_ops, up, &up->http, err);
	mg_strv_free(headers);
	return rc;
}

static const char *kind_name(enum gw_up_kind k)
{
	switch (k) {
	case GW_UP_SESSION: return "session";
	case GW_UP_SHARED: return "shared";
	case GW_UP_CALL: return "call";
	case GW_UP_DISCOVERY: return "discovery";
	default: return "?";
	}
}

struct gw_upstream *gw_upstream_start(struct gw_server *srv, enum gw_up_kind kind,
				      struct gw_session *owner, struct gw_slot *slot,
				      struct mg_err *err)
{
	struct gateway *gw = srv->gw;
	struct gw_upstream *up;
	char **env;
	json_t *params;
	int rc;

	if (gw->shutting_down) {
		mg_err_set(err, -ESHUTDOWN, "the gateway is shutting down");
		return NULL;
	}
	/* Over a limit is the client's answer, not the server's failure:
	 * no backoff. */
	if (gw_limits_admit(srv, kind, owner, err))
		return NULL;
	up = MG_NEW(struct gw_upstream);
	up->gw = gw;
	up->srv = srv;
	up->kind = kind;
	up->owner = owner;
	up->slot = slot;
	up->state = GW_UP_STARTING;
	up->next_id = 1;
	mg_map_init(&up->pending);
	mg_list_init(&up->waiting);
	mg_list_init(&up->node);
	snprintf(up->label, sizeof(up->label), "server '%s' (%s instance #%llu)", srv->def->name,
		 kind_name(kind), (unsigned long long)++gw->instance_seq);
	if (srv->def->remote_url) {
		rc = open_remote(up, err);
	} else {
		env = build_env(srv);
		rc = gw_sandbox_spawn(up, env, on_child_exit, err);
		mg_strv_free(env);
	}
	if (rc) {
		mg_warn("%s cannot start: %s", up->label, err ? err->msg : "error");
		if (slot)
			slot_failed(slot, err ? err->msg : "cannot start");
		mg_map_release(&up->pending);
		free(up);
		return NULL;
	}
	up->child.data = up;
	up->open_handles = 1;
	mg_list_add_tail(&gw->instances, &up->node);
	gw_limits_count(up);
	up->spawned_ms = mg_now_ms();
	if (slot)
		slot->up = up;
	if (!up->http && (open_streams(up, err) || gw_sandbox_attach(up, err))) {
		gw_upstream_stop(up, err->msg);
		return NULL;
	}
	if (up->http)
		mg_debug("%s: connecting to %s", up->label, srv->def->remote_url);
	else
		mg_debug("%s started: pid %d", up->label, (int)up->child.pid);
	up->init_caps = gw_relay_caps(owner ? owner->client_caps : NULL);
	up->client_info = owner && owner->client_info ? json_incref(owner->client_info)
		: json_pack("{ssss}", "name", "mcpguard", "version", MG_VERSION);
	params = json_pack("{sssOsO}", "protocolVersion", MCP_LATEST_LEGACY, "capabilities",
			   up->init_caps, "clientInfo", up->client_info);
	gw_call_internal(up, "initialize", params, srv->startup_timeout_ms, on_initialized, up);
	return up;
}

struct gw_upstream *gw_instance_for(struct gw_session *s, struct gw_server *srv,
				    struct mg_err *err)
{
	struct gw_slot *slot = NULL;
	enum gw_up_kind kind = GW_UP_SESSION;
	uint64_t now = mg_now_ms();

	switch (srv->def->lifecycle) {
	case CAT_PER_CALL:
		return gw_upstream_start(srv, GW_UP_CALL, s, NULL, err);
	case CAT_SHARED:
		slot = &srv->shared;
		kind = GW_UP_SHARED;
		break;
	case CAT_PER_SESSION:
	default:
		slot = &s->slots[srv->idx];
		break;
	}
	if (slot->up)
		return slot->up;
	if (now < slot->retry_at_ms) {
		mg_err_set(err, -EAGAIN, "server '%s' is failing (next start in %llu ms): %s",
			   srv->def->name, (unsigned long long)(slot->retry_at_ms - now),
			   slot->last_error ? slot->last_error : "unknown error");
		return NULL;
	}
	return gw_upstream_start(srv, kind, kind == GW_UP_SHARED ? NULL : s, slot, err);
}

void gw_slot_release(struct gw_slot *slot)
{
	if (slot->up)
		gw_upstream_stop(slot->up, "no longer needed");
	slot->up = NULL;
	free(mg_steal(&slot->last_error));
}
