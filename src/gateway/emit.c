/* Sending to clients: every message the gateway sends to a client session
 * leaves through gw_session_emit: the checkpoint (pipeline.c) first, then
 * the order of messages is kept (output held back after progress) and the
 * line goes to the session's transport. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "base/time.h"
#include "gateway/internal.h"
#include "json/jx.h"

static void hold_line(struct gw_session *s, struct gw_out *o)
{
	struct gw_backlog *b = mg_malloc(sizeof(*b) + o->len);

	b->len = o->len;
	memcpy(b->line, o->line, o->len);
	b->rel = o->rel ? mg_memdup0(o->rel, o->rel_len) : NULL;
	b->rel_len = o->rel_len;
	b->final = o->final;
	b->waiting = false;
	free(o->line);
	mg_list_add_tail(&s->held, &b->node);
}

void gw_backlog_free(struct gw_backlog *b)
{
	free(b->rel);
	free(b);
}

void gw_session_hold(struct gw_session *s, uint64_t us)
{
	uint64_t until = mg_now_us() + us;

	if (until > s->hold_until_us)
		s->hold_until_us = until;
	if (!uv_is_active((uv_handle_t *)&s->gw->release))
		uv_timer_start(&s->gw->release, gw_sessions_release_held, us / 1000 + 1, 0);
}

static int send_now(struct gw_session *s, struct gw_out *o)
{
	int rc = s->ops->send(s, o);

	if (rc) {
		mg_warn("session %s: cannot deliver a message (%s); closing it", s->id,
			strerror(-rc));
		s->ops->close(s);
	}
	return rc;
}

/* Send what is held, in order, up to a message a check still holds. */
static void release_session(struct gw_session *s)
{
	while (!mg_list_empty(&s->held) && !s->closed) {
		struct gw_backlog *b = mg_container_of(s->held.next, struct gw_backlog, node);
		struct gw_out o;

		if (b->waiting)
			break;
		o = (struct gw_out){ mg_memdup0(b->line, b->len), b->len, b->rel, b->rel_len, b->final };
		mg_list_del(&b->node);
		send_now(s, &o);
		gw_backlog_free(b);
	}
}

void gw_sessions_release_held(uv_timer_t *t)
{
	struct gateway *gw = t->data;
	uint64_t now = mg_now_us(), wait = 0;
	struct mg_list *pos, *tmp;

	mg_list_each_safe(pos, tmp, &gw->sessions) {
		struct gw_session *s = mg_container_of(pos, struct gw_session, node);

		if (now < s->hold_until_us) {
			uint64_t w = s->hold_until_us - now;
			wait = !wait || w < wait ? w : wait;
			continue;
		}
		release_session(s);
	}
	if (wait)
		uv_timer_start(t, gw_sessions_release_held, wait / 1000 + 1, 0);
}

/* The answer a client gets instead of a response that a check stopped: a
 * tool error it can show for tools/call, a JSON-RPC error otherwise. */
static char *refusal(struct gw_session *s, const char *rel, size_t rel_len, const char *method,
		     const char *reason, size_t *len)
{
	struct mg_buf b;
	json_t *r;

	mg_buf_init(&b, rel_len + (1 << 20));   /* any id the client sent fits */
	if (method && strcmp(method, "tools/call") == 0) {
		r = json_pack("{s[{ssss}]sb}", "content", "type", "text", "text", reason, "isError", 1);
		rpc_result_line(&b, rel, rel_len, r);
		json_decref(r);
	} else {
		r = json_pack("{ssss}", "gateway", "mcpguard", "reason", "blocked");
		rpc_error_line(&b, rel, rel_len, RPC_INTERNAL_ERROR, reason, r);
		json_decref(r);
	}
	s->last_code = RPC_INTERNAL_ERROR;
	mg_strlcpy(s->last_error, reason, sizeof(s->last_error));
	return mg_buf_detach(&b, len);
}

static bool has_member(const char *line, size_t len, const char *name)
{
	const char *path[] = { name };
	struct jx_span sp;

	return jx_find(line, len, path, 1, &sp) == 0;
}

/* A message to a client that a check holds: its place in the session's
 * output (what follows waits behind it), and the method it answers. */
struct emit_wait {
	struct gw_backlog *slot;
	char *method;
};

struct emit_arg {
	const char *rel, *method;
	size_t rel_len;
	bool final;
};

static void *emit_make(struct gw_session *s, void *arg)
{
	struct emit_arg *a = arg;
	struct emit_wait *w = MG_NEW(struct emit_wait);
	struct gw_backlog *b = mg_malloc(sizeof(*b));

	b->len = 0;
	b->rel = a->rel ? mg_memdup0(a->rel, a->rel_len) : NULL;
	b->rel_len = a->rel_len;
	b->final = a->final;
	b->waiting = true;
	mg_list_add_tail(&s->held, &b->node);
	w->slot = b;
	w->method = a->method ? mg_strdup(a->method) : NULL;
	return w;
}

static void emit_wait_free(void *ctx)
{
	struct emit_wait *w = ctx;

	free(w->method);
	free(w);
}

/* Decided: the message (or the refusal of a response) takes its place in
 * the output; a stopped notification or request leaves only a gap. */
static void emit_done(struct gw_session *s, void *ctx, enum gd_verdict v, char *line, size_t len,
		      const char *reason)
{
	struct emit_wait *w = ctx;
	struct gw_backlog *slot = w->slot;

	if (v == GD_DENY) {
		free(line);
		line = slot->final ? refusal(s, slot->rel, slot->rel_len, w->method, reason, &len) : NULL;
	}
	if (line) {
		struct gw_backlog *b = mg_malloc(sizeof(*b) + len);

		b->len = len;
		memcpy(b->line, line, len);
		b->rel = mg_steal(&slot->rel);
		b->rel_len = slot->rel_len;
		b->final = slot->final;
		b->waiting = false;
		mg_list_add_tail(&slot->node, &b->node);        /* just before the slot */
		free(line);
	}
	mg_list_del(&slot->node);
	gw_backlog_free(slot);
	emit_wait_free(w);
	if (mg_now_us() >= s->hold_until_us)
		release_session(s);
}


int gw_session_emit(struct gw_session *s, char *line, size_t len, const char *rel, size_t rel_len,
		    bool final, const struct gw_origin *from)
{
	struct gw_out o;

	if (s->closed) {
		free(line);
		return -EPIPE;
	}
	if (s->gw->cfg.n_checks) {
		struct gd_msg m = {
			.dir = GD_TO_CLIENT,
			.kind = final ? GD_RESPONSE
				: has_member(line, len, "id") ? GD_REQUEST : GD_NOTIFICATION,
			.method = from ? from->method : NULL,
			.server = from ? from->server : NULL,
			.name = from ? from->name : NULL,
			.session = s->id,
			.request_args = from ? from->args : NULL,
		};
		char reason[512], method[96];
		struct emit_arg arg = { rel, NULL, rel_len, final };
		struct gw_wait_spec spec = { s, emit_make, &arg, emit_done, emit_wait_free, NULL };
		enum gd_verdict v;

		if (!m.method && m.kind != GD_RESPONSE) {
			/* a notification or request: its own method */
			const char *path[] = { "method" };
			struct jx_span sp;

			if (jx_find(line, len, path, 1, &sp) == 0 && sp.len > 2 && sp.len < 96) {
				snprintf(method, sizeof(method), "%.*s", (int)sp.len - 2, line + sp.off + 1);
				m.method = method;
			}
		}
		arg.method = m.method;
		/* a server's request waits on the client: the server cannot be
		 * told "later", so its requests are not held */
		v = gw_pipeline_run(s->gw, &m, &line, &len, reason, sizeof(reason),
				    m.kind == GD_REQUEST ? NULL : &spec);
		if (v == GD_PENDING)
			return 0;
		if (v == GD_DENY) {
			free(line);
			if (!final)
				return -EACCES;
			line = refusal(s, rel, rel_len, m.method, reason, &len);
		}
	}
	o = (struct gw_out){ line, len, rel, rel_len, final };
	if (!mg_list_empty(&s->held) || mg_now_us() < s->hold_until_us) {
		hold_line(s, &o);               /* keep the order of messages */
		return 0;
	}
	return send_now(s, &o);
}

int gw_session_send_rel(struct gw_session *s, char *line, size_t len, const char *rel,
			size_t rel_len, bool final)
{
	return gw_session_emit(s, line, len, rel, rel_len, final, NULL);
}

int gw_session_send(struct gw_session *s, char *line, size_t len)
{
	return gw_session_send_rel(s, line, len, NULL, 0, false);
}

void gw_session_error(struct gw_session *s, const char *id, size_t id_len, int code,
		      const char *msg, const json_t *data)
{
	struct mg_buf b;
	char *line;
	size_t len;

	mg_buf_init(&b, id_len + (1 << 20));   /* any id the client sent fits */
	if (rpc_error_line(&b, id, id_len, code, msg, data)) {
		mg_buf_release(&b);
		return;
	}
	line = mg_buf_detach(&b, &len);
	s->last_code = code;
	snprintf(s->last_error, sizeof(s->last_error), "%s", msg);
	s->last_bytes = len;
	gw_session_send_rel(s, line, len, id, id_len, id != NULL);
}

void gw_session_result(struct gw_session *s, const char *id, size_t id_len, json_t *result)
{
	struct mg_buf b;
	char *line;
	size_t len;

	mg_buf_init(&b, s->gw->cfg.max_message);
	if (rpc_result_line(&b, id, id_len, result)) {
		mg_buf_release(&b);
		json_decref(result);
		gw_session_error(s, id, id_len, RPC_INTERNAL_ERROR,
				 "mcpguard: result larger than the message size cap", NULL);
		return;
	}
	json_decref(result);
	line = mg_buf_detach(&b, &len);
	s->last_code = 0;
	s->last_bytes = len;
	gw_session_send_rel(s, line, len, id, id_len, true);
}

void gw_session_notify_rel(struct gw_session *s, const char *method, json_t *params,
			   const char *rel, size_t rel_len)
{
	struct mg_buf b;
	char *line;
	size_t len;

	mg_buf_init(&b, s->gw->cfg.max_message);
	if (rpc_request_line(&b, NULL, 0, method, params) == 0) {
		line = mg_buf_detach(&b, &len);
		gw_session_send_rel(s, line, len, rel, rel_len, false);
	} else {
		mg_buf_release(&b);
	}
	json_decref(params);
}

void gw_session_notify(struct gw_session *s, const char *method, json_t *params)
{
	gw_session_notify_rel(s, method, params, NULL, 0);
}

