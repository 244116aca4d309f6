/* Client sessions: everything a client sends arrives here.  Requests are
 * answered by the gateway (initialize, ping, lists) or routed to one
 * server instance with the id, progress token and name rewritten in the
 * original bytes; notifications (cancel, roots changes) are mapped onto
 * the instances they concern; responses go back to the server that asked. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "base/time.h"
#include "gateway/internal.h"
#include "mcp/proto.h"

#define MAX_CALLS_PER_SESSION 4096
#define MAX_BACKLOG 1024        /* messages held while initialize waits */

char *gw_id_key(const json_t *id)
{
	struct mg_buf b;

	mg_buf_init(&b, 1 << 20);
	if (json_is_integer(id))
		mg_buf_addf(&b, "i:%lld", (long long)json_integer_value(id));
	else if (json_is_string(id))
		mg_buf_addf(&b, "s:%s", json_string_value(id));
	return mg_buf_detach(&b, NULL);
}

/* ---- session life ---- */

struct gw_session *gw_session_open(struct gateway *gw, const struct gw_session_ops *ops,
				   void *transport)
{
	struct gw_session *s = MG_NEW(struct gw_session);
	unsigned char rnd[8] = { 0 };

	s->gw = gw;
	s->ops = ops;
	s->transport = transport;
	s->log_level = -1;
	s->next_s2c_id = 1;
	/* Unguessable: the id also names the session in the audit log. */
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	snprintf(s->id, sizeof(s->id), "s%llu-%02x%02x%02x%02x%02x%02x%02x%02x",
		 (unsigned long long)++gw->session_seq, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
		 rnd[5], rnd[6], rnd[7]);
	s->slots = mg_calloc(gw->n_servers ? gw->n_servers : 1, sizeof(*s->slots));
	mg_map_init(&s->calls);
	mg_map_init(&s->s2c);
	mg_map_init(&s->subs);
	mg_list_init(&s->backlog);
	mg_list_init(&s->held);
	mg_list_init(&s->holds);
	mg_list_init(&s->listeners);
	mg_list_init(&s->bridges);
	s->req_log_level = -1;
	mg_list_add_tail(&gw->sessions, &s->node);
	return s;
}

bool gw_session_busy(const struct gw_session *s)
{
	return s->init_id || s->calls.count || !mg_list_empty(&s->backlog) ||
	       !mg_list_empty(&s->held);
}

static void become_modern(struct gw_session *s)
{
	/* 2026-07-28 clients receive no requests; a legacy server's requests
	 * go through the bridge (bridge.c). */
	s->modern = true;
	s->initialized = true;
	json_decref(s->client_caps);
	/* Servers may ask for what the bridge can turn into input_required
	 * (each request still declares what its client can answer). */
	s->client_caps = gw_relay_caps(NULL);
	free(s->version);
	s->version = mg_strdup("2026-07-28");
}

/* Before any initialize, a request that claims a protocol version in its
 * _meta is the stateless era (stdio: the first message pins it). */
static bool modern_claim(const char *line, size_t len)
{
	static const char *const cpath[] = { "params", "_meta",
					     "io.modelcontextprotocol/protocolVersion" };
	static const char *const mpath[] = { "method" };
	struct jx_span sp;

	if (jx_find(line, len, cpath, 3, &sp))
		return false;
	return jx_find(line, len, mpath, 1, &sp) != 0 || sp.len != 12 ||
	       memcmp(line + sp.off, "\"initialize\"", 12) != 0;
}

struct gw_session *gw_session_open_modern(struct gateway *gw, const struct gw_session_ops *ops,
					  void *transport)
{
	struct gw_session *s = gw_session_open(gw, ops, transport);

	become_modern(s);
	return s;
}

void gw_session_cancel(struct gw_session *s, const char *id_text, size_t len)
{
	json_error_t e;
	json_t *id = json_loadb(id_text, len, JSON_DECODE_ANY, &e);
	char *key;
	struct gw_call *c;

	if (gw_modern_stop_listen(s, id_text, len) || !id) {
		json_decref(id);
		return;
	}
	key = gw_id_key(id);
	json_decref(id);
	c = mg_map_gets(&s->calls, key);
	free(key);
	if (c)
		gw_call_cancel(c, "the client closed the request's stream");
}

void *gw_session_transport(struct gw_session *s)
{
	return s->transport;
}

void gw_session_set_principal(struct gw_session *s, const char *principal)
{
	free(s->principal);
	s->principal = principal ? mg_strdup(principal) : NULL;
}

const char *gw_session_id(const struct gw_session *s)
{
	return s->id;
}

static void drop_shared_subscriptions(struct gw_session *s);

void gw_session_close(struct gw_session *s)
{
	struct gateway *gw = s->gw;
	struct mg_list *pos, *tmp;
	size_t it = 0;
	void *v;

	if (s->closed)
		return;
	s->closed = true;
	gw_bridges_release(s);
	/* The client is gone: nobody waits for these answers any more. */
	while (mg_map_next(&s->calls, &it, NULL, NULL, &v))
		gw_call_cancel(v, "client session closed");
	gw_s2c_session_closed(s);
	gw_pipeline_session_closed(s);  /* before the held output it may wait in */
	gw_modern_release(s);
	drop_shared_subscriptions(s);
	for (size_t i = 0; i < gw->n_servers; i++)
		gw_slot_release(&s->slots[i]);
	mg_list_each_safe(pos, tmp, &gw->instances) {
		struct gw_upstream *up = mg_container_of(pos, struct gw_upstream, node);

		if (up->owner == s) {
			up->owner = NULL;
			up->slot = NULL;        /* the slots go with the session */
			if (up->kind == GW_UP_CALL)
				gw_upstream_stop(up, "client session closed");
		}
	}
	mg_list_each_safe(pos, tmp, &s->backlog) {
		mg_list_del(pos);
		gw_backlog_free(mg_container_of(pos, struct gw_backlog, node));
	}
	mg_list_each_safe(pos, tmp, &s->held) {
		mg_list_del(pos);
		gw_backlog_free(mg_container_of(pos, struct gw_backlog, node));
	}
	mg_list_del(&s->node);
	free(s->principal);
	mg_map_release(&s->calls);
	mg_map_release(&s->s2c);
	mg_map_release(&s->subs);
	json_decref(s->client_caps);
	json_decref(s->client_info);
	free(s->version);
	free(s->init_id);
	free(s->slots);
	free(s);
	gw_maybe_finish_shutdown(gw);
}

/* ---- initialize ---- */

static void replay_backlog(struct gw_session *s)
{
	while (!mg_list_empty(&s->backlog) && !s->closed) {
		struct gw_backlog *m = mg_container_of(s->backlog.next, struct gw_backlog, node);

		mg_list_del(&m->node);
		s->backlog_len--;
		gw_session_recv(s, m->line, m->len);
		gw_backlog_free(m);
	}
}

void gw_session_answer_initialize(struct gw_session *s)
{
	json_t *result, *instructions;
	char *id = mg_steal(&s->init_id);

	if (!id)
		return;
	result = json_pack("{sssOs{ssssss}}", "protocolVersion", s->version, "capabilities",
			   gw_agg_capabilities(s->gw), "serverInfo", "name", "mcpguard", "title",
			   "mcpguard MCP gateway", "version", MG_VERSION);
	json_decref(json_object_get(result, "capabilities"));
	instructions = gw_agg_instructions(s->gw);
	if (instructions)
		json_object_set_new(result, "instructions", instructions);
	s->initialized = true;
	gw_session_result(s, id, s->init_id_len, result);
	aud_write(s->gw->cfg.audit, &(struct aud_record){
		.session = s->id, .method = "initialize", .upstream_id = -1,
		.duration_us = mg_now_us() - s->init_start_us,
		.outcome = s->last_code ? "error" : "ok", .bytes_out = s->last_bytes,
		.name = jx_str(s->client_info, "name"),
	});
	mg_info("session %s initialized (%s, protocol %s) in %.1f ms", s->id,
		jx_str(s->client_info, "name") ?: "unnamed client", s->version,
		(double)(mg_now_us() - s->init_start_us) / 1000.0);
	free(id);
	/* Messages sent right behind initialize see the complete lists. */
	replay_backlog(s);
}

void gw_sessions_discovery_done(struct gateway *gw)
{
	struct mg_list *pos, *tmp;

	if (gw_discovery_running(gw))
		return;
	mg_list_each_safe(pos, tmp, &gw->sessions) {
		struct gw_session *s = mg_container_of(pos, struct gw_session, node);

		if (s->awaiting_discovery) {
			s->awaiting_discovery = false;
			replay_backlog(s);
		} else {
			gw_session_answer_initialize(s);
		}
	}
}

static void on_initialize(struct gw_session *s, struct rpc_msg *m, const char *id, size_t idl)
{
	json_t *caps = jx_obj(m->params, "capabilities");

	if (s->initialized || s->init_id) {
		gw_session_error(s, id, idl, RPC_INVALID_REQUEST, "session already initialized",
				 NULL);
		return;
	}
	s->init_start_us = mg_now_us();
	s->client_caps = caps ? json_deep_copy(caps) : json_object();
	s->client_info = json_incref(jx_obj(m->params, "clientInfo"));
	s->version = mg_strdup(mcp_negotiate_legacy(jx_str(m->params, "protocolVersion")));
	s->init_id = mg_memdup0(id, idl);
	s->init_id_len = idl;
	/* With no cached view of a server, learn it now: the answer waits for
	 * it so that capabilities are honest. */
	gw_discover_missing(s->gw, s);
	if (!gw_discovery_running(s->gw))
		gw_session_answer_initialize(s);
}

static void on_set_level(struct gw_session *s, struct rpc_msg *m, const char *id, size_t idl)
{
	const char *name = jx_str(m->params, "level");
	int level = mcp_log_level(name);

	if (level < 0) {
		gw_session_error(s, id, idl, RPC_INVALID_PARAMS, "unknown log level", NULL);
		return;
	}
	s->log_level = level;
	/* The session's own instances produce only what it wants; the
	 * gateway filters what shared instances send. */
	for (size_t i = 0; i < s->gw->n_servers; i++) {
		struct gw_upstream *up = s->slots[i].up;

		if (up && up->state == GW_UP_READY && json_object_get(up->caps, "logging"))
			gw_call_internal(up, "logging/setLevel", json_pack("{ss}", "level", name),
					 up->srv->timeout_ms, NULL, NULL);
	}
	gw_session_result(s, id, idl, json_object());
}

/* ---- routing ---- */

struct route {
	struct gw_server *srv;
	const char *exposed;    /* name as the client gave it (tools, prompts) */
	const char *orig;       /* name to send upstream */
	const char *uri;
};

static int find_route(struct gw_session *s, struct rpc_msg *m, enum mcp_route kind,
		      struct route *r, const char **why)
{
	struct gateway *gw = s->gw;
	struct gw_entry *e;
	const char *name = jx_str(m->params, "name");
	json_t *ref;

	memset(r, 0, sizeof(*r));
	switch (kind) {
	case MCP_ROUTE_TOOL:
	case MCP_ROUTE_PROMPT:
		e = name ? mg_map_gets(kind == MCP_ROUTE_TOOL ? &gw->agg.tools : &gw->agg.prompts,
				       name) : NULL;
		if (!e) {
			*why = gw_withheld(gw, kind == MCP_ROUTE_TOOL ? GW_LIST_TOOLS : GW_LIST_PROMPTS,
					   name);
			if (!*why)
				*why = kind == MCP_ROUTE_TOOL ? "Unknown tool" : "Unknown prompt";
			return RPC_INVALID_PARAMS;
		}
		r->srv = e->srv;
		r->exposed = e->name;
		r->orig = e->orig;
		return 0;
	case MCP_ROUTE_URI:
		r->uri = jx_str(m->params, "uri");
		*why = gw_withheld(gw, GW_LIST_RESOURCES, r->uri);
		if (*why)
			return MCP_RESOURCE_NOT_FOUND;
		r->srv = r->uri ? gw_route_uri(gw, r->uri) : NULL;
		if (!r->srv) {
			*why = "Resource not found";
			return r->uri ? MCP_RESOURCE_NOT_FOUND : RPC_INVALID_PARAMS;
		}
		return 0;
	case MCP_ROUTE_COMPLETION:
		ref = jx_obj(m->params, "ref");
		if (mg_streq(jx_str(ref, "type"), "ref/prompt")) {
			e = jx_str(ref, "name") ? mg_map_gets(&gw->agg.prompts, jx_str(ref, "name"))
						: NULL;
			if (e) {
				r->srv = e->srv;
				r->exposed = e->name;
				r->orig = e->orig;
				return 0;
			}
		} else if (mg_streq(jx_str(ref, "type"), "ref/resource") && jx_str(ref, "uri")) {
			r->srv = gw_route_uri(gw, jx_str(ref, "uri"));
			if (r->srv)
				return 0;
		}
		*why = "Unknown completion reference";
		return RPC_INVALID_PARAMS;
	case MCP_ROUTE_UNKNOWN:
	case MCP_ROUTE_LOCAL:
	case MCP_ROUTE_LIST:
	default:
		*why = "Method not found";
		return RPC_METHOD_NOT_FOUND;
	}
}

static int cmp_edit(const void *a, const void *b)
{
	const struct jx_edit *x = a, *y = b;

	return x->at.off < y->at.off ? -1 : x->at.off > y->at.off;
}

/* Build the upstream request: the original bytes with the id, the
 * progress token and (for prefixed names) the name replaced. */
static int build_upstream_line(struct gw_session *s, struct rpc_msg *m, struct gw_call *c,
			       const struct route *r, struct mg_buf *out)
{
	static const char *const tok_path[] = { "params", "_meta", "progressToken" };
	static const char *const name_path[] = { "params", "name" };
	static const char *const ref_name_path[] = { "params", "ref", "name" };
	struct jx_edit edits[3];
	struct jx_span sp;
	struct mg_buf quoted;
	char idtext[24];
	size_t n = 0;
	int rc;

	snprintf(idtext, sizeof(idtext), "%lld", (long long)c->up_id);
	edits[n++] = (struct jx_edit){ m->id_span, idtext, strlen(idtext) };
	if (jx_find(m->raw, m->len, tok_path, 3, &sp) == 0) {
		c->client_token = mg_memdup0(m->raw + sp.off, sp.len);
		c->client_token_len = sp.len;
		edits[n++] = (struct jx_edit){ sp, idtext, strlen(idtext) };
	}
	mg_buf_init(&quoted, 4096);
	if (r->orig && strcmp(r->orig, r->exposed) != 0) {
		const char *const *path = strcmp(m->method, "completion/complete") == 0
			? ref_name_path : name_path;

		if (jx_find(m->raw, m->len, path, strcmp(m->method, "completion/complete") == 0 ? 3 : 2,
			    &sp) == 0 && jx_quote(r->orig, strlen(r->orig), &quoted) == 0)
			edits[n++] = (struct jx_edit){ sp, quoted.data, quoted.len };
	}
	qsort(edits, n, sizeof(edits[0]), cmp_edit);
	rc = jx_splice(m->raw, m->len, edits, n, out);
	if (!rc)
		rc = mg_buf_addc(out, '\n');
	mg_buf_release(&quoted);
	return rc;
}

static void track_subscription(struct gw_session *s, struct rpc_msg *m, struct gw_server *srv,
			       const char *uri)
{
	if (strcmp(m->method, "resources/subscribe") == 0)
		mg_map_puts(&s->subs, uri, srv);
	else if (strcmp(m->method, "resources/unsubscribe") == 0)
		mg_map_dels(&s->subs, uri);
}

/* Shared instances serve many sessions: subscribe upstream on the first
 * subscriber of a URI, unsubscribe after the last.  Returns true when the
 * request was answered here. */
static bool shared_subscription(struct gw_session *s, struct rpc_msg *m, struct gw_server *srv,
				const char *uri, const char *id, size_t idl)
{
	bool sub = strcmp(m->method, "resources/subscribe") == 0;
	uintptr_t n;

	if (srv->def->lifecycle != CAT_SHARED || (!sub && strcmp(m->method, "resources/unsubscribe")))
		return false;
	n = (uintptr_t)mg_map_gets(&srv->subs, uri);
	if (sub && mg_map_gets(&s->subs, uri))
		goto local;                     /* this session already has it */
	if (!sub && !mg_map_gets(&s->subs, uri))
		goto local;
	n = sub ? n + 1 : n - 1;
	if (n)
		mg_map_puts(&srv->subs, uri, (void *)n);
	else
		mg_map_dels(&srv->subs, uri);
	track_subscription(s, m, srv, uri);
	if ((sub && n == 1) || (!sub && n == 0))
		return false;                   /* first or last: tell the server */
local:
	track_subscription(s, m, srv, uri);
	gw_session_result(s, id, idl, json_object());
	return true;
}

static void drop_shared_subscriptions(struct gw_session *s)
{
	const char *uri;
	size_t it = 0;
	void *v;

	while (mg_map_next(&s->subs, &it, &uri, NULL, &v)) {
		struct gw_server *srv = v;
		uintptr_t n;

		if (srv->def->lifecycle != CAT_SHARED)
			continue;
		n = (uintptr_t)mg_map_gets(&srv->subs, uri);
		if (n > 1)
			mg_map_puts(&srv->subs, uri, (void *)(n - 1));
		else
			mg_map_dels(&srv->subs, uri);
	}
}

static void forward_now(struct gw_session *s, struct rpc_msg *m, const struct route *r,
			const char *id, size_t idl);

/* A request that a check stopped: a tool error the client can show for
 * tools/call, an invalid-params error otherwise. */
static void refuse(struct gw_session *s, const char *method, const char *id, size_t idl,
		   const char *reason)
{
	if (strcmp(method, "tools/call") == 0) {
		gw_session_result(s, id, idl, json_pack("{s[{ssss}]sb}", "content", "type", "text",
							"text", reason, "isError", 1));
	} else {
		json_t *data = json_pack("{ssss}", "gateway", "mcpguard", "reason", "refused");

		gw_session_error(s, id, idl, RPC_INVALID_PARAMS, reason, data);
		json_decref(data);
	}
}

/* Checked bytes go on: parsed again when a check edited them. */
static void forward_checked(struct gw_session *s, struct rpc_msg *m, const struct route *r,
			    const char *id, size_t idl, enum gd_verdict v, const char *line, size_t len)
{
	struct rpc_msg edited;
	char why[128], *idr = NULL;

	if (v != GD_EDIT) {
		forward_now(s, m, r, id, idl);
		return;
	}
	if (rpc_parse(line, len - 1, &edited, why, sizeof(why), &idr)) {
		free(idr);
		refuse(s, m->method, id, idl, "mcpguard could not rewrite this request");
		return;
	}
	forward_now(s, &edited, r, id, idl);
	rpc_msg_release(&edited);
}

/* A request a check holds: what it needs to go on later (the route's
 * names copied; the aggregate may change meanwhile). */
struct held_request {
	struct gw_server *srv;
	char *exposed, *orig, *uri, *id, *method;
	size_t idl;
	char *key;                      /* canonical id, for a client's cancel */
};

struct held_arg {
	const struct route *r;
	const char *id, *method;
	size_t idl;
	const json_t *id_value;
};

static void *held_make(struct gw_session *s, void *arg)
{
	struct held_arg *a = arg;
	struct held_request *h = MG_NEW(struct held_request);

	h->srv = a->r->srv;
	h->exposed = a->r->exposed ? mg_strdup(a->r->exposed) : NULL;
	h->orig = a->r->orig ? mg_strdup(a->r->orig) : NULL;
	h->uri = a->r->uri ? mg_strdup(a->r->uri) : NULL;
	h->id = mg_memdup0(a->id, a->idl);
	h->idl = a->idl;
	h->method = mg_strdup(a->method);
	h->key = gw_id_key(a->id_value);
	return h;
}

static void held_free(void *ctx)
{
	struct held_request *h = ctx;

	free(h->exposed);
	free(h->orig);
	free(h->uri);
	free(h->id);
	free(h->method);
	free(h->key);
	free(h);
}

static void held_done(struct gw_session *s, void *ctx, enum gd_verdict v, char *line, size_t len,
		      const char *reason)
{
	struct held_request *h = ctx;
	struct route r = { h->srv, h->exposed, h->orig, h->uri };
	struct rpc_msg m;
	char why[128], *idr = NULL;

	if (v == GD_DENY)
		refuse(s, h->method, h->id, h->idl, reason);
	else if (rpc_parse(line, len - 1, &m, why, sizeof(why), &idr) == 0) {
		/* the id of the parsed bytes, not the copy: spans point into line */
		size_t idl;
		const char *id = rpc_id_raw(&m, &idl);

		forward_now(s, &m, &r, id, idl);
		rpc_msg_release(&m);
	} else {
		free(idr);
		refuse(s, h->method, h->id, h->idl, "mcpguard could not rewrite this request");
	}
	free(line);
	held_free(h);
}

/* Through the checkpoint first: a refused request never reaches the
 * server (nor starts an instance); an edited one goes on as edited; one a
 * check holds goes on when it decides. */
static void forward(struct gw_session *s, struct rpc_msg *m, const struct route *r,
		    const char *id, size_t idl)
{
	struct gd_msg gm = {
		.dir = GD_TO_SERVER,
		.kind = GD_REQUEST,
		.method = m->method,
		.server = r->srv->def->name,
		.name = r->exposed ? r->exposed : r->uri,
		.session = s->id,
	};
	struct held_arg arg = { r, id, m->method, idl, m->id };
	struct gw_wait_spec spec = { s, held_make, &arg, held_done, held_free, NULL };
	char reason[512];
	char *copy;
	size_t len = m->len + 1;
	enum gd_verdict v;

	if (!s->gw->cfg.n_checks) {
		forward_now(s, m, r, id, idl);
		return;
	}
	copy = mg_malloc(len + 1);
	memcpy(copy, m->raw, m->len);
	copy[m->len] = '\n';
	copy[len] = '\0';
	v = gw_pipeline_run(s->gw, &gm, &copy, &len, reason, sizeof(reason), &spec);
	if (v == GD_DENY)
		refuse(s, m->method, id, idl, reason);
	else if (v != GD_PENDING)
		forward_checked(s, m, r, id, idl, v, copy, len);
	s->request_held = v == GD_PENDING;
	free(copy);
}

static void forward_now(struct gw_session *s, struct rpc_msg *m, const struct route *r,
			const char *id, size_t idl)
{
	struct gw_upstream *up;
	struct gw_call *c;
	struct mg_err err;
	struct mg_buf b;
	char *line;
	size_t len;

	if (r->uri && shared_subscription(s, m, r->srv, r->uri, id, idl))
		return;
	s->gw->refused = NULL;
	up = gw_instance_for(s, r->srv, &err);
	if (!up) {
		const char *limit = mg_steal(&s->gw->refused);
		json_t *data = json_pack("{ssssss}", "gateway", "mcpguard", "server",
					 r->srv->def->name, "reason",
					 limit ? "limit" : "unavailable");

		/* Over a limit of the gateway: its own code, naming the limit. */
		if (limit)
			json_object_set_new(data, "limit", json_string(limit));
		gw_session_error(s, id, idl, limit ? RPC_GW_LIMIT : RPC_INTERNAL_ERROR, err.msg,
				 data);
		json_decref(data);
		return;
	}
	c = gw_call_new(s, m->method);
	c->key = gw_id_key(m->id);
	c->client_id = mg_memdup0(id, idl);
	c->client_id_len = idl;
	c->bytes_in = m->len;
	if (r->exposed)
		c->name = mg_strdup(r->exposed);
	else if (r->uri)
		c->name = mg_strdup(r->uri);
	if (r->orig && r->exposed && strcmp(r->orig, r->exposed) != 0)
		c->up_name = mg_strdup(r->orig);
	c->arguments = json_incref(json_object_get(m->params, "arguments"));
	c->log_level = s->modern ? s->req_log_level : -1;
	if (s->modern)
		c->client_caps = json_incref(jx_obj(jx_obj(m->params, "_meta"),
						    "io.modelcontextprotocol/clientCapabilities"));
	if (r->uri)
		track_subscription(s, m, r->srv, r->uri);
	gw_call_register(up, c, r->srv->timeout_ms);
	mg_buf_init(&b, s->gw->cfg.max_message + 64);
	if (build_upstream_line(s, m, c, r, &b)) {
		mg_buf_release(&b);
		gw_call_fail(c, "too_large", "request too large to forward");
		return;
	}
	line = mg_buf_detach(&b, &len);
	if (s->modern && up->http)
		gw_remote_send_modern(c, line, len, r->orig ? r->orig : r->uri);
	else
		gw_call_send(c, line, len);
}

/* Requests the gateway answers itself are audited here; forwarded ones
 * when their call ends (call.c). */
static void audit_local(struct gw_session *s, struct rpc_msg *m, uint64_t start_us)
{
	struct aud_record r = {
		.session = s->id,
		.method = m->method,
		.name = jx_str(m->params, "name") ?: jx_str(m->params, "uri"),
		.upstream_id = -1,
		.duration_us = mg_now_us() - start_us,
		.outcome = s->last_code ? "error" : "ok",
		.error_code = s->last_code,
		.error = s->last_code ? s->last_error : NULL,
		.bytes_in = m->len,
		.bytes_out = s->last_bytes,
	};

	aud_write(s->gw->cfg.audit, &r);
}

static void handle_request(struct gw_session *s, struct rpc_msg *m);

static void on_request(struct gw_session *s, struct rpc_msg *m)
{
	uint64_t start = mg_now_us();
	size_t calls = s->calls.count;

	s->last_code = 0;
	s->last_bytes = 0;
	s->last_error[0] = '\0';
	s->request_held = false;
	handle_request(s, m);
	/* Not forwarded (no new call): answered or refused here.  A request a
	 * check holds is audited when it goes on (or by the check). */
	if (s->calls.count == calls && !(strcmp(m->method, "initialize") == 0 && s->init_id) &&
	    !s->request_held)
		audit_local(s, m, start);
}

static void handle_request(struct gw_session *s, struct rpc_msg *m)
{
	enum mcp_route kind = mcp_route_of(m->method);
	const char *id, *why = NULL;
	struct route r;
	json_t *result;
	size_t idl;
	char *key;
	int code;

	id = rpc_id_raw(m, &idl);
	key = gw_id_key(m->id);
	if (mg_map_gets(&s->calls, key)) {
		free(key);
		gw_session_error(s, id, idl, RPC_INVALID_REQUEST,
				 "a request with this id is still in flight", NULL);
		return;
	}
	free(key);
	if (s->calls.count >= MAX_CALLS_PER_SESSION) {
		gw_session_error(s, id, idl, RPC_INTERNAL_ERROR,
				 "mcpguard: too many requests in flight for this session", NULL);
		return;
	}
	if (s->modern && gw_modern_request(s, m, id, idl))
		return;
	if (kind == MCP_ROUTE_LOCAL) {
		if (strcmp(m->method, "initialize") == 0)
			on_initialize(s, m, id, idl);
		else if (strcmp(m->method, "ping") == 0)
			gw_session_result(s, id, idl, json_object());
		else
			on_set_level(s, m, id, idl);
		return;
	}
	if (kind == MCP_ROUTE_LIST) {
		enum gw_list_kind lk = strcmp(m->method, "tools/list") == 0 ? GW_LIST_TOOLS
			: strcmp(m->method, "prompts/list") == 0 ? GW_LIST_PROMPTS
			: strcmp(m->method, "resources/list") == 0 ? GW_LIST_RESOURCES
			: GW_LIST_TEMPLATES;

		if (gw_agg_page(s->gw, lk, m->params, &result, &why))
			gw_session_error(s, id, idl, RPC_INVALID_PARAMS, why, NULL);
		else
			gw_session_result(s, id, idl, result);
		return;
	}
	code = find_route(s, m, kind, &r, &why);
	if (code) {
		json_t *data = NULL;

		if (kind == MCP_ROUTE_URI && jx_str(m->params, "uri"))
			data = json_pack("{ss}", "uri", jx_str(m->params, "uri"));
		if ((kind == MCP_ROUTE_TOOL || kind == MCP_ROUTE_PROMPT) &&
		    !gw_withheld(s->gw, kind == MCP_ROUTE_TOOL ? GW_LIST_TOOLS : GW_LIST_PROMPTS,
				 jx_str(m->params, "name"))) {
			char msg[300];

			snprintf(msg, sizeof(msg), "%s: %.200s", why,
				 jx_str(m->params, "name") ?: "(no name given)");
			gw_session_error(s, id, idl, code, msg, NULL);
		} else {
			gw_session_error(s, id, idl, code, why, data);
		}
		json_decref(data);
		return;
	}
	forward(s, m, &r, id, idl);
}

/* ---- notifications from the client ---- */

static bool is_held_request(const struct gw_wait_spec *spec, void *key)
{
	return spec->done == held_done && strcmp(((struct held_request *)spec->ctx)->key, key) == 0;
}

static void on_cancelled(struct gw_session *s, struct rpc_msg *m)
{
	json_t *rid = json_object_get(m->params, "requestId");
	struct gw_call *c;
	char *key;

	if (!rid)
		return;
	key = gw_id_key(rid);
	c = mg_map_gets(&s->calls, key);
	if (c)
		gw_call_cancel(c, jx_str(m->params, "reason"));
	else
		gw_pipeline_drop(s, is_held_request, key);  /* still waiting on a check */
	free(key);
}

static void on_roots_changed(struct gw_session *s)
{
	for (size_t i = 0; i < s->gw->n_servers; i++) {
		struct gw_upstream *up = s->slots[i].up;

		if (up && up->state == GW_UP_READY)
			gw_upstream_notify(up, "notifications/roots/list_changed", NULL);
	}
}

static void on_notification(struct gw_session *s, struct rpc_msg *m)
{
	if (strcmp(m->method, "notifications/cancelled") == 0)
		on_cancelled(s, m);
	else if (strcmp(m->method, "notifications/roots/list_changed") == 0)
		on_roots_changed(s);
	/* notifications/initialized and anything else need no action. */
}

void gw_session_recv(struct gw_session *s, const char *line, size_t len)
{
	struct rpc_msg m;
	char why[200];
	char *id_raw = NULL;
	int code;

	if (s->closed)
		return;
	if (!s->modern && !s->initialized && !s->init_id && modern_claim(line, len))
		become_modern(s);
	if (s->modern && !s->awaiting_discovery && gw_discover_missing(s->gw, s) &&
	    gw_discovery_running(s->gw))
		s->awaiting_discovery = true;  /* no initialize: the first request waits */
	if (s->init_id || s->awaiting_discovery) {
		/* The servers are being listed: hold what comes meanwhile. */
		struct gw_backlog *b;

		if (s->backlog_len >= MAX_BACKLOG) {
			/* Answered with its id: over HTTP an answer without one
			 * reaches no request. */
			struct rpc_msg bm;
			char bwhy[8];
			char *bid = NULL;

			if (rpc_parse(line, len, &bm, bwhy, sizeof(bwhy), &bid) == 0)
				rpc_msg_release(&bm);
			gw_session_error(s, bid, bid ? strlen(bid) : 0, RPC_INTERNAL_ERROR,
					 "mcpguard: too many messages before initialize completed",
					 NULL);
			free(bid);
			return;
		}
		b = mg_malloc(sizeof(*b) + len);
		b->rel = NULL;
		b->len = len;
		memcpy(b->line, line, len);
		mg_list_add_tail(&s->backlog, &b->node);
		s->backlog_len++;
		return;
	}
	code = rpc_parse(line, len, &m, why, sizeof(why), &id_raw);
	if (code) {
		gw_session_error(s, id_raw, id_raw ? strlen(id_raw) : 0, code, why, NULL);
		free(id_raw);
		return;
	}
	free(id_raw);
	switch (m.kind) {
	case RPC_REQUEST:
		on_request(s, &m);
		break;
	case RPC_NOTIFICATION:
		on_notification(s, &m);
		break;
	case RPC_RESPONSE:
		gw_relay_client_response(s, &m);
		break;
	default:
		break;
	}
	rpc_msg_release(&m);
}

void gw_session_oversize(struct gw_session *s, size_t max)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "message larger than the %zu byte limit was discarded", max);
	mg_warn("session %s: %s", s->id, msg);
	gw_session_error(s, NULL, 0, RPC_INVALID_REQUEST, msg, NULL);
}
