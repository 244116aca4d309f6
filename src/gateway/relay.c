/* Messages from servers to clients: notifications (progress, logs,
 * resource updates, list changes, cancellations) and server-to-client
 * requests (sampling, elicitation, roots).  Each reaches only the session
 * that owns the instance, or for a shared instance the session whose call
 * is in flight there: one session's traffic never leaks into another's. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/time.h"
#include "gateway/internal.h"
#include "mcp/proto.h"

/* Sessions an instance talks to: its owner, or the sessions with calls in
 * flight on a shared instance.  Returns how many were put in out. */
static size_t target_sessions(struct gw_upstream *up, struct gw_session **out, size_t max)
{
	size_t n = 0, it = 0;
	void *v;

	if (up->owner) {
		out[0] = up->owner;
		return 1;
	}
	while (n < max && mg_map_next(&up->pending, &it, NULL, NULL, &v)) {
		struct gw_call *c = v;
		bool seen = false;

		for (size_t i = 0; i < n; i++)
			seen = seen || out[i] == c->sess;
		if (c->sess && !c->sess->closed && !seen)
			out[n++] = c->sess;
	}
	return n;
}

/* Forward a server message as it is, tied to the session's call in flight
 * on that instance when there is exactly one. */
static void send_copy(struct gw_session *s, struct gw_upstream *up, const struct rpc_msg *m)
{
	char *line = mg_malloc(m->len + 1);
	struct gw_call *c = up ? gw_related_call(up, s) : NULL;

	memcpy(line, m->raw, m->len);
	line[m->len] = '\n';
	gw_session_emit(s, line, m->len + 1, c ? c->client_id : NULL, c ? c->client_id_len : 0, false,
			&(struct gw_origin){ up ? up->srv->def->name : NULL, m->method, NULL,
					      c ? c->arguments : NULL });
}

/* Answer a server's request ourselves (ping, refusals). */
static void answer_upstream(struct gw_upstream *up, const struct rpc_msg *m, json_t *result,
			    int code, const char *msg)
{
	size_t idl;
	const char *id = rpc_id_raw(m, &idl);

	gw_upstream_reply(up, id, idl, result, code, msg);
	json_decref(result);
}

static void s2c_free(struct gw_s2c *e);

static void on_server_request(struct gw_upstream *up, struct rpc_msg *m)
{
	struct gw_session *targets[2];
	struct gw_session *s;
	const char *cap = mcp_request_capability(m->method);
	struct gw_s2c *e;
	struct jx_edit edit;
	struct mg_buf b;
	char idtext[24], msg[256];
	size_t idl, n, len;
	const char *id;
	char *line;

	if (strcmp(m->method, "ping") == 0) {
		answer_upstream(up, m, json_object(), 0, NULL);
		return;
	}
	n = target_sessions(up, targets, 2);
	if (n != 1) {
		snprintf(msg, sizeof(msg), n ? "mcpguard: %s from a shared server instance is ambiguous "
			 "(several sessions use it); declare the server per-session"
			 : "mcpguard: no client session is waiting on this server for %s",
			 m->method);
		answer_upstream(up, m, NULL, RPC_INTERNAL_ERROR, msg);
		return;
	}
	s = targets[0];
	if (s->modern) {
		if (!gw_bridge_server_request(up, s, m)) {
			snprintf(msg, sizeof(msg), "the client did not declare %s for this request",
				 cap ? cap : m->method);
			answer_upstream(up, m, NULL, RPC_METHOD_NOT_FOUND, msg);
		}
		return;
	}
	if (cap && !json_object_get(s->client_caps, cap)) {
		snprintf(msg, sizeof(msg), "the client does not support %s", cap);
		answer_upstream(up, m, NULL, RPC_METHOD_NOT_FOUND, msg);
		return;
	}
	e = MG_NEW(struct gw_s2c);
	id = rpc_id_raw(m, &idl);
	e->up = up;
	e->up_id = mg_memdup0(id, idl);
	e->up_id_len = idl;
	e->sess_id = s->next_s2c_id++;
	e->method = mg_strdup(m->method);
	e->deadline_ms = mg_now_ms() + (cap && strcmp(cap, "roots") != 0
					? s->gw->cfg.human_timeout_ms : up->srv->timeout_ms);
	mg_map_puti(&s->s2c, (uint64_t)e->sess_id, e);
	snprintf(idtext, sizeof(idtext), "%lld", (long long)e->sess_id);
	edit = (struct jx_edit){ m->id_span, idtext, strlen(idtext) };
	mg_buf_init(&b, m->len + 32);
	jx_splice(m->raw, m->len, &edit, 1, &b);
	mg_buf_addc(&b, '\n');
	line = mg_buf_detach(&b, &len);
	{
		/* The request the server asks on behalf of, when it is clear. */
		struct gw_call *c = gw_related_call(up, s);

		if (gw_session_emit(s, line, len, c ? c->client_id : NULL, c ? c->client_id_len : 0,
				    false, &(struct gw_origin){ up->srv->def->name, m->method, NULL,
								c ? c->arguments : NULL })
		    == -EACCES) {
			/* a check stopped it: the server hears so at once */
			mg_map_deli(&s->s2c, (uint64_t)e->sess_id);
			s2c_free(e);
			answer_upstream(up, m, NULL, RPC_INTERNAL_ERROR,
					"mcpguard blocked this request: a check stopped it "
					"(the audit log says why)");
		}
	}
}

static void s2c_free(struct gw_s2c *e)
{
	free(e->up_id);
	free(e->method);
	free(e);
}

/* Reply to the server on behalf of a client that cannot. */
static void s2c_fail(struct gw_s2c *e, const char *why)
{
	if (e->up)
		gw_upstream_reply(e->up, e->up_id, e->up_id_len, NULL, RPC_INTERNAL_ERROR, why);
}

static void notify_client_cancelled(struct gw_session *s, struct gw_s2c *e, const char *why)
{
	gw_session_notify(s, "notifications/cancelled",
			  json_pack("{sIss}", "requestId", (json_int_t)e->sess_id, "reason", why));
}

void gw_relay_client_response(struct gw_session *s, struct rpc_msg *m)
{
	static const char *const id_path[] = { "id" };
	struct gw_s2c *e;
	struct jx_edit edit;
	struct mg_buf b;
	char *line;
	size_t len;

	if (!json_is_integer(m->id) ||
	    !(e = mg_map_deli(&s->s2c, (uint64_t)json_integer_value(m->id)))) {
		mg_debug("session %s answered an unknown request; dropped", s->id);
		return;
	}
	if (e->up && jx_find(m->raw, m->len, id_path, 1, &edit.at) == 0) {
		edit.text = e->up_id;
		edit.text_len = e->up_id_len;
		mg_buf_init(&b, m->len + e->up_id_len + 2);
		if (jx_splice(m->raw, m->len, &edit, 1, &b) == 0 && mg_buf_addc(&b, '\n') == 0) {
			line = mg_buf_detach(&b, &len);
			gw_upstream_write(e->up, line, len);
		} else {
			mg_buf_release(&b);
			s2c_fail(e, "mcpguard: the client's answer is too large");
		}
	}
	s2c_free(e);
}

void gw_s2c_forget_upstream(struct gateway *gw, struct gw_upstream *up)
{
	struct mg_list *pos, *tmp;

	mg_list_each_safe(pos, tmp, &gw->sessions) {
		struct gw_session *s = mg_container_of(pos, struct gw_session, node);
		size_t it = 0;
		void *v;

		while (mg_map_next(&s->s2c, &it, NULL, NULL, &v)) {
			struct gw_s2c *e = v;

			if (e->up != up)
				continue;
			mg_map_deli(&s->s2c, (uint64_t)e->sess_id);
			notify_client_cancelled(s, e, "the server stopped");
			s2c_free(e);
		}
	}
}

void gw_s2c_session_closed(struct gw_session *s)
{
	size_t it = 0;
	void *v;

	while (mg_map_next(&s->s2c, &it, NULL, NULL, &v)) {
		s2c_fail(v, "mcpguard: the client session closed");
		s2c_free(v);
	}
}

void gw_s2c_sweep(struct gateway *gw, uint64_t now)
{
	struct mg_list *pos, *tmp;

	mg_list_each_safe(pos, tmp, &gw->sessions) {
		struct gw_session *s = mg_container_of(pos, struct gw_session, node);
		size_t it = 0;
		void *v;

		while (mg_map_next(&s->s2c, &it, NULL, NULL, &v)) {
			struct gw_s2c *e = v;

			if (now < e->deadline_ms)
				continue;
			mg_map_deli(&s->s2c, (uint64_t)e->sess_id);
			s2c_fail(e, "mcpguard: the client did not answer in time");
			notify_client_cancelled(s, e, "timeout");
			s2c_free(e);
		}
	}
}

/* ---- notifications ---- */

static void on_progress(struct gw_upstream *up, struct rpc_msg *m)
{
	static const char *const tok_path[] = { "params", "progressToken" };
	json_t *tok = json_object_get(m->params, "progressToken");
	struct gw_call *c;
	struct jx_edit edit;
	struct mg_buf b;
	char *line;
	size_t len;

	if (!json_is_integer(tok) || !(c = gw_call_by_token(up, json_integer_value(tok))) ||
	    !c->client_token || !c->sess || c->cancelled) {
		mg_debug("%s sent progress for an unknown token; dropped", up->label);
		return;
	}
	gw_call_touch(c);
	if (jx_find(m->raw, m->len, tok_path, 2, &edit.at))
		return;
	edit.text = c->client_token;
	edit.text_len = c->client_token_len;
	mg_buf_init(&b, m->len + c->client_token_len + 2);
	if (jx_splice(m->raw, m->len, &edit, 1, &b) || mg_buf_addc(&b, '\n')) {
		mg_buf_release(&b);
		return;
	}
	line = mg_buf_detach(&b, &len);
	gw_session_emit(c->sess, line, len, c->client_id, c->client_id_len, false,
			&(struct gw_origin){ up->srv->def->name, m->method, c->name, c->arguments });
	/* the gap before the result is counted from when the progress left,
	 * after the checks (which may take a while on a long message) */
	c->last_progress_us = mg_now_us();
}

static void on_log(struct gw_upstream *up, struct rpc_msg *m)
{
	struct gw_session *targets[64];
	int level = mcp_log_level(jx_str(m->params, "level"));
	size_t n = target_sessions(up, targets, MG_ARRAY_LEN(targets));

	if (n == 0) {
		mg_debug("[%s] log: %.300s", up->label, m->raw);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct gw_call *c;

		if (targets[i]->modern) {
			/* 2026-07-28: only for a request that set a logLevel, on
			 * that request's stream. */
			c = gw_related_call(up, targets[i]);
			if (c && c->log_level >= 0 && level >= c->log_level)
				send_copy(targets[i], up, m);
		} else if (targets[i]->log_level < 0 || level >= targets[i]->log_level) {
			send_copy(targets[i], up, m);
		}
	}
}

static void on_resource_updated(struct gw_upstream *up, struct rpc_msg *m)
{
	const char *uri = jx_str(m->params, "uri");
	struct mg_list *pos, *tmp;

	if (up->owner) {
		send_copy(up->owner, up, m);
		return;
	}
	/* Shared instance: every session subscribed to that URI. */
	mg_list_each_safe(pos, tmp, &up->gw->sessions) {
		struct gw_session *s = mg_container_of(pos, struct gw_session, node);

		if (uri && mg_map_gets(&s->subs, uri) == up->srv)
			send_copy(s, up, m);
	}
}

static void on_server_cancelled(struct gw_upstream *up, struct rpc_msg *m)
{
	json_t *rid = json_object_get(m->params, "requestId");
	char *want = rid ? json_dumps(rid, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	struct mg_list *pos, *tmp;

	if (!want)
		return;
	mg_list_each_safe(pos, tmp, &up->gw->sessions) {
		struct gw_session *s = mg_container_of(pos, struct gw_session, node);
		size_t it = 0;
		void *v;

		while (mg_map_next(&s->s2c, &it, NULL, NULL, &v)) {
			struct gw_s2c *e = v;

			if (e->up != up || strcmp(e->up_id, want) != 0)
				continue;
			mg_map_deli(&s->s2c, (uint64_t)e->sess_id);
			notify_client_cancelled(s, e, jx_str(m->params, "reason") ?: "cancelled");
			s2c_free(e);
		}
	}
	free(want);
}

static void on_server_notification(struct gw_upstream *up, struct rpc_msg *m)
{
	const char *method = m->method;

	if (strcmp(method, "notifications/progress") == 0)
		on_progress(up, m);
	else if (strcmp(method, "notifications/message") == 0)
		on_log(up, m);
	else if (strcmp(method, "notifications/resources/updated") == 0)
		on_resource_updated(up, m);
	else if (strcmp(method, "notifications/tools/list_changed") == 0 ||
		 strcmp(method, "notifications/prompts/list_changed") == 0 ||
		 strcmp(method, "notifications/resources/list_changed") == 0)
		gw_server_refresh(up->srv, up);
	else if (strcmp(method, "notifications/cancelled") == 0)
		on_server_cancelled(up, m);
	else if (up->owner)
		send_copy(up->owner, up, m);
}

void gw_relay_from_upstream(struct gw_upstream *up, struct rpc_msg *m)
{
	if (m->kind == RPC_REQUEST)
		on_server_request(up, m);
	else if (m->kind == RPC_NOTIFICATION)
		on_server_notification(up, m);
}
