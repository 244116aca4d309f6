/* In-flight requests.  Each call gets a fresh integer id on its upstream
 * (client ids never travel upstream) and remembers the client's exact id
 * text, so the response carries it back byte for byte: string or integer,
 * any precision.  Every call has a deadline and ends exactly once: with the
 * server's response, a gateway error, or a cancellation. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/time.h"
#include "gateway/internal.h"

#define HARD_DEADLINE_FACTOR 10 /* progress extends a deadline up to this */
/* A result that follows its last progress notification closely is held
 * back this long.  The TypeScript SDK client handles notifications a
 * microtask later than responses, so when both arrive in one read it drops
 * the last progress; servers rarely write them together, but a gateway
 * that reads both at once would. */
#define PROGRESS_GAP_US 2000

struct gw_call *gw_call_new(struct gw_session *s, const char *method)
{
	struct gw_call *c = MG_NEW(struct gw_call);

	mg_list_init(&c->node);
	c->sess = s;
	c->method = mg_strdup(method);
	c->start_us = mg_now_us();
	return c;
}

void gw_call_free(struct gw_call *c)
{
	if (c->bridge)
		gw_bridge_call_done(c);
	mg_list_del(&c->node);
	free(c->key);
	free(c->client_id);
	free(c->client_token);
	free(c->method);
	free(c->name);
	free(c->up_name);
	free(c->line);
	free(c->modern_name);
	json_decref(c->client_caps);
	json_decref(c->arguments);
	free(c);
}

int64_t gw_call_register(struct gw_upstream *up, struct gw_call *c, uint64_t timeout_ms)
{
	uint64_t now = mg_now_ms();

	c->up = up;
	c->up_id = up->next_id++;
	c->deadline_ms = now + timeout_ms;
	c->hard_deadline_ms = now + timeout_ms * HARD_DEADLINE_FACTOR;
	mg_map_puti(&up->pending, (uint64_t)c->up_id, c);
	gw_limits_used(up);
	if (c->sess && c->key)
		mg_map_puts(&c->sess->calls, c->key, c);
	return c->up_id;
}

/* Progress shows the server is working: give it another full timeout,
 * within the hard maximum. */
void gw_call_touch(struct gw_call *c)
{
	uint64_t t = mg_now_ms() + (c->up ? c->up->srv->timeout_ms : 0);

	c->deadline_ms = t < c->hard_deadline_ms ? t : c->hard_deadline_ms;
}

struct gw_call *gw_related_call(struct gw_upstream *up, struct gw_session *s)
{
	struct gw_call *found = NULL;
	size_t it = 0;
	void *v;

	while (mg_map_next(&up->pending, &it, NULL, NULL, &v)) {
		struct gw_call *c = v;

		if (c->sess != s || !c->client_id)
			continue;
		if (found)
			return NULL;            /* several: the message is unrelated */
		found = c;
	}
	return found;
}

struct gw_call *gw_call_by_token(struct gw_upstream *up, int64_t token)
{
	return mg_map_geti(&up->pending, (uint64_t)token);
}

/* Take the call out of every index; it then belongs to the caller. */
static void unlink_call(struct gw_call *c)
{
	if (c->up && c->up_id && mg_map_deli(&c->up->pending, (uint64_t)c->up_id))
		gw_limits_used(c->up);
	if (c->sess && c->key && mg_map_gets(&c->sess->calls, c->key) == c)
		mg_map_dels(&c->sess->calls, c->key);
	mg_list_del(&c->node);
}

/* A per-call instance has done its one job. */
static void release_instance(struct gw_upstream *up)
{
	if (up && up->kind == GW_UP_CALL && up->pending.count == 0)
		gw_upstream_stop(up, "call finished");
}

static void finish(struct gw_call *c, const char *outcome, int code, const char *error,
		   uint64_t bytes_out)
{
	struct gateway *gw = c->up ? c->up->gw : c->sess ? c->sess->gw : NULL;
	uint64_t dur = mg_now_us() - c->start_us;
	struct aud_record r = {
		.session = c->sess ? c->sess->id : NULL,
		.server = c->up ? c->up->srv->def->name : NULL,
		.method = c->method,
		.name = c->name,
		.upstream_name = c->up_name,
		.upstream_id = c->up_id ? c->up_id : -1,
		.duration_us = dur,
		.outcome = outcome,
		.error_code = code,
		.error = error,
		.bytes_in = c->bytes_in,
		.bytes_out = bytes_out,
		.arguments = c->arguments,
	};

	if (!gw || !c->sess)
		return;         /* the gateway's own requests are not audited */
	aud_write(gw->cfg.audit, &r);
	if (gw->cfg.log_calls && strcmp(c->method, "tools/call") == 0)
		mg_info("> %s %s on %s: %s in %.2f ms%s%s", c->method, c->name ? c->name : "",
			r.server ? r.server : "gateway", outcome, (double)dur / 1000.0,
			error ? ": " : "", error ? error : "");
}

void gw_call_send(struct gw_call *c, char *line, size_t len)
{
	struct gw_upstream *up = c->up;
	int rc;

	c->bytes_in = c->bytes_in ? c->bytes_in : len;
	if (up->state == GW_UP_STARTING && strcmp(c->method, "initialize") != 0) {
		c->line = line;
		c->line_len = len;
		mg_list_add_tail(&up->waiting, &c->node);
		return;
	}
	rc = gw_upstream_write(up, line, len);
	if (rc)
		gw_call_fail(c, "unavailable", "cannot write to server '%s': %s",
			     up->srv->def->name, rc == -ENOBUFS ? "it is not reading its input"
							       : strerror(-rc));
}

void gw_call_flush_waiting(struct gw_upstream *up)
{
	struct mg_list *pos, *tmp;

	mg_list_each_safe(pos, tmp, &up->waiting) {
		struct gw_call *c = mg_container_of(pos, struct gw_call, node);

		mg_list_del(&c->node);
		if (c->modern_name) {
			char *name = mg_steal(&c->modern_name);

			gw_remote_send_modern(c, mg_steal(&c->line), c->line_len, *name ? name : NULL);
			free(name);
		} else {
			gw_call_send(c, mg_steal(&c->line), c->line_len);
		}
	}
}

void gw_call_internal(struct gw_upstream *up, const char *method, json_t *params,
		      uint64_t timeout_ms, gw_internal_cb cb, void *ctx)
{
	struct gw_call *c = gw_call_new(NULL, method);
	struct mg_buf b;
	char id[24];
	char *line;
	size_t len;

	c->internal = cb;
	c->internal_ctx = ctx;
	gw_call_register(up, c, timeout_ms);
	snprintf(id, sizeof(id), "%lld", (long long)c->up_id);
	mg_buf_init(&b, up->gw->cfg.max_message);
	if (rpc_request_line(&b, id, strlen(id), method, params)) {
		mg_buf_release(&b);
		json_decref(params);
		gw_call_fail(c, "too_large", "request too large");
		return;
	}
	json_decref(params);
	line = mg_buf_detach(&b, &len);
	/* Internal requests without a callback (setLevel) are fire-and-forget
	 * from the gateway's point of view but still get an id and deadline:
	 * mark them so that their answer is swallowed. */
	if (!cb)
		c->cancelled = true;
	gw_call_send(c, line, len);
}

static void send_error(struct gw_call *c, int code, const char *msg, const char *reason)
{
	json_t *data;

	if (!c->sess || c->cancelled || !c->client_id || gw_bridge_detached(c))
		return;         /* (a detached bridged call has no request to answer) */
	data = json_pack("{ssss}", "gateway", "mcpguard", "reason", reason);
	if (c->up)
		json_object_set_new(data, "server", json_string(c->up->srv->def->name));
	gw_session_error(c->sess, c->client_id, c->client_id_len, code, msg, data);
	json_decref(data);
}

void gw_call_fail(struct gw_call *c, const char *reason, const char *fmt, ...)
{
	struct gw_upstream *up = c->up;
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	unlink_call(c);
	if (c->internal) {
		c->internal(c, NULL, msg);
	} else {
		send_error(c, RPC_INTERNAL_ERROR, msg, reason);
		finish(c, reason, RPC_INTERNAL_ERROR, msg, 0);
	}
	gw_call_free(c);
	release_instance(up);
}

void gw_call_fail_all(struct gw_upstream *up, const char *reason, const char *why)
{
	const char *k;
	size_t kl, it = 0;
	void *v;

	/* Failing a call may not add calls to this instance (it is stopping),
	 * so iterating while deleting is safe. */
	while (mg_map_next(&up->pending, &it, &k, &kl, &v)) {
		struct gw_call *c = v;

		if (strcmp(reason, "crashed") == 0)
			gw_call_fail(c, reason, "server '%s' %s before answering %s",
				     up->srv->def->name, why, c->method);
		else
			gw_call_fail(c, reason, "server '%s' cannot answer %s: %s",
				     up->srv->def->name, c->method, why);
	}
}

static int cmp_edit(const void *a, const void *b)
{
	const struct jx_edit *x = a, *y = b;

	return x->at.off < y->at.off ? -1 : x->at.off > y->at.off;
}

/* Does a tools/call result report a tool error?  (Audit only.) */
static bool tool_error(const struct rpc_msg *m)
{
	json_t *r = json_object_get(m->root, "result");

	return json_is_true(json_object_get(r, "isError"));
}

void gw_call_complete(struct gw_upstream *up, struct rpc_msg *m)
{
	static const char *const id_path[] = { "id" };
	struct gw_call *c;
	struct jx_edit edits[3];
	struct jx_span id_span;
	struct mg_buf b, scratch;
	size_t n = 1;
	char *line;
	size_t len;
	int rc;

	edits[0].at = m->id_span;
	if (!json_is_integer(m->id) ||
	    !(c = mg_map_geti(&up->pending, (uint64_t)json_integer_value(m->id)))) {
		mg_debug("%s answered an unknown or finished request; dropped", up->label);
		return;
	}
	unlink_call(c);
	if (c->internal) {
		c->internal(c, m, NULL);
		goto out;
	}
	if (gw_bridge_detached(c) && gw_bridge_complete(c, m))
		goto out;       /* kept for the client's retry */
	if (c->cancelled || !c->sess || c->sess->closed)
		goto out;
	/* Splice the client's id into the server's bytes: nothing else of the
	 * response is touched (a modern client may need a field or two added). */
	edits[0].text = c->client_id;
	edits[0].text_len = c->client_id_len;
	mg_buf_init(&scratch, 256);
	if (c->sess->modern)
		gw_modern_fix_response(m, c->method, edits, &n, &scratch);
	qsort(edits, n, sizeof(edits[0]), cmp_edit);
	mg_buf_init(&b, m->len + c->client_id_len + scratch.len + 2);
	if (jx_find(m->raw, m->len, id_path, 1, &id_span) ||
	    jx_splice(m->raw, m->len, edits, n, &b) || mg_buf_addc(&b, '\n')) {
		mg_buf_release(&b);
		mg_buf_release(&scratch);
		send_error(c, RPC_INTERNAL_ERROR, "mcpguard: cannot relay the response", "internal");
		finish(c, "error", RPC_INTERNAL_ERROR, "cannot relay response", 0);
		goto out;
	}
	mg_buf_release(&scratch);
	line = mg_buf_detach(&b, &len);
	if (c->last_progress_us && mg_now_us() - c->last_progress_us < PROGRESS_GAP_US)
		gw_session_hold(c->sess, PROGRESS_GAP_US);
	rc = gw_session_emit(c->sess, line, len, c->client_id, c->client_id_len, true,
			     &(struct gw_origin){ up->srv->def->name, c->method, c->name, c->arguments });
	if (m->is_error) {
		json_t *e = json_object_get(m->root, "error");

		finish(c, "error", (int)json_integer_value(json_object_get(e, "code")),
		       jx_str(e, "message"), len);
	} else {
		finish(c, rc ? "undelivered" : tool_error(m) ? "tool_error" : "ok", 0, NULL, len);
	}
out:
	gw_call_free(c);
	release_instance(up);
}

/* Tell the server to stop working on a request it has seen (a queued one
 * is simply dropped). */
static void cancel_upstream(struct gw_call *c, const char *reason)
{
	struct gw_upstream *up = c->up;
	json_t *p;

	if (!up || !mg_list_empty(&c->node) || up->state != GW_UP_READY)
		return;
	p = json_pack("{sI}", "requestId", (json_int_t)c->up_id);
	if (reason)
		json_object_set_new(p, "reason", json_string(reason));
	gw_upstream_notify(up, "notifications/cancelled", p);
	json_decref(p);
}

void gw_call_cancel(struct gw_call *c, const char *reason)
{
	struct gw_upstream *up = c->up;

	cancel_upstream(c, reason);
	unlink_call(c);
	c->cancelled = true;
	finish(c, "cancelled", 0, reason, 0);
	gw_call_free(c);
	release_instance(up);
}

void gw_calls_sweep(struct gateway *gw, uint64_t now)
{
	struct mg_list *pos, *tmp;

	mg_list_each_safe(pos, tmp, &gw->instances) {
		struct gw_upstream *up = mg_container_of(pos, struct gw_upstream, node);
		size_t it = 0;
		void *v;

		while (mg_map_next(&up->pending, &it, NULL, NULL, &v)) {
			struct gw_call *c = v;
			uint64_t secs;

			if (now < c->deadline_ms)
				continue;
			secs = (c->deadline_ms - c->start_us / 1000 + 500) / 1000;
			if (strcmp(c->method, "initialize") != 0)
				cancel_upstream(c, "timeout");
			gw_call_fail(c, "timeout", "server '%s' did not answer %s within %llu s",
				     up->srv->def->name, c->method, (unsigned long long)secs);
		}
	}
}
