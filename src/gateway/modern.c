/* The stateless 2026-07-28 era on the client side.
 *
 * A modern client has no session and no initialize: every request carries
 * its protocol version and capabilities in _meta.  The transport groups the
 * requests of one principal into one gateway session (so per-session server
 * instances keep state for that principal).  Here: _meta validation,
 * server/discover, the methods the era removed, list results with
 * resultType/ttlMs/cacheScope, subscriptions/listen, and the decoration of
 * results from servers that answer in the legacy way. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "gateway/internal.h"
#include "mcp/proto.h"

#define MODERN_VERSION "2026-07-28"

static const char *const removed[] = {
	"initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe",
	"notifications/initialized",
};

json_t *gw_modern_supported(void)
{
	return json_pack("[ss]", MODERN_VERSION, MCP_LATEST_LEGACY);
}

/* ttlMs and cacheScope: the aggregate changes whenever a server does, so
 * nothing is fresh for long; what a principal sees may depend on it. */
static void cache_hints(json_t *result)
{
	json_object_set_new(result, "resultType", json_string("complete"));
	json_object_set_new(result, "ttlMs", json_integer(0));
	json_object_set_new(result, "cacheScope", json_string("private"));
}

static void discover(struct gw_session *s, const char *id, size_t idl)
{
	json_t *r = json_object(), *instructions = gw_agg_instructions(s->gw);

	json_object_set_new(r, "supportedVersions", gw_modern_supported());
	json_object_set_new(r, "capabilities", gw_agg_capabilities(s->gw));
	if (instructions)
		json_object_set_new(r, "instructions", instructions);
	cache_hints(r);
	json_object_set_new(r, "_meta", json_pack("{s{ssss}}", "io.modelcontextprotocol/serverInfo",
						  "name", "mcpguard", "version", MG_VERSION));
	gw_session_result(s, id, idl, r);
}

static void list(struct gw_session *s, struct rpc_msg *m, const char *id, size_t idl,
		 enum gw_list_kind kind)
{
	json_t *result;
	const char *why;

	if (gw_agg_page(s->gw, kind, m->params, &result, &why)) {
		gw_session_error(s, id, idl, RPC_INVALID_PARAMS, why, NULL);
		return;
	}
	cache_hints(result);
	gw_session_result(s, id, idl, result);
}

/* ---- subscriptions/listen ---- */

struct gw_listener {
	struct mg_list node;
	char *rel;                      /* the listen request's id text */
	size_t rel_len;
	bool want[3];                   /* tools, prompts, resources list changes */
};

static const char *const want_keys[] = { "toolsListChanged", "promptsListChanged",
					  "resourcesListChanged" };

/* The subscription id is the listen request's id, as the client sent it. */
static json_t *subscription_id(const struct gw_listener *l)
{
	json_error_t e;

	return json_loadb(l->rel, l->rel_len, JSON_DECODE_ANY, &e);
}

static void listen_start(struct gw_session *s, struct rpc_msg *m, const char *id, size_t idl)
{
	json_t *n = jx_obj(m->params, "notifications"), *honoured = json_object(), *params;
	struct gw_listener *l = MG_NEW(struct gw_listener);

	l->rel = mg_memdup0(id, idl);
	l->rel_len = idl;
	for (size_t k = 0; k < 3; k++) {
		l->want[k] = jx_bool(n, want_keys[k], false);
		if (l->want[k])
			json_object_set_new(honoured, want_keys[k], json_true());
	}
	/* Resource subscriptions over listen are not relayed yet: they are left
	 * out of the acknowledged set, which tells the client so. */
	mg_list_add_tail(&s->listeners, &l->node);
	params = json_pack("{sos{so}}", "notifications", honoured, "_meta",
			   "io.modelcontextprotocol/subscriptionId", subscription_id(l));
	gw_session_notify_rel(s, "notifications/subscriptions/acknowledged", params, l->rel,
			      l->rel_len);
}

static void listener_free(struct gw_listener *l)
{
	mg_list_del(&l->node);
	free(l->rel);
	free(l);
}

bool gw_modern_stop_listen(struct gw_session *s, const char *rel, size_t rel_len)
{
	struct mg_list *pos, *tmp;

	mg_list_each_safe(pos, tmp, &s->listeners) {
		struct gw_listener *l = mg_container_of(pos, struct gw_listener, node);

		if (l->rel_len == rel_len && memcmp(l->rel, rel, rel_len) == 0) {
			listener_free(l);
			return true;
		}
	}
	return false;
}

void gw_modern_release(struct gw_session *s)
{
	while (!mg_list_empty(&s->listeners))
		listener_free(mg_container_of(s->listeners.next, struct gw_listener, node));
}

/* The aggregate changed: tell the listeners that asked, tagged with their
 * subscription id (the listen request's id). */
void gw_modern_lists_changed(struct gw_session *s, const bool changed[3], const char *const *methods)
{
	struct mg_list *pos, *tmp;

	mg_list_each_safe(pos, tmp, &s->listeners) {
		struct gw_listener *l = mg_container_of(pos, struct gw_listener, node);

		for (size_t k = 0; k < 3; k++) {
			if (!changed[k] || !l->want[k])
				continue;
			gw_session_notify_rel(s, methods[k],
					      json_pack("{s{so}}", "_meta",
							"io.modelcontextprotocol/subscriptionId",
							subscription_id(l)),
					      l->rel, l->rel_len);
		}
	}
}

/* ---- requests ---- */

/* Validate _meta; answer locally what the gateway answers.  Returns true
 * when the request is done with, false when it is to be routed (then
 * s->req_log_level holds the request's log level, -1 for none). */
bool gw_modern_request(struct gw_session *s, struct rpc_msg *m, const char *id, size_t idl)
{
	json_t *meta = jx_obj(m->params, "_meta");
	const char *version = jx_str(meta, "io.modelcontextprotocol/protocolVersion");
	json_t *caps = jx_obj(meta, "io.modelcontextprotocol/clientCapabilities");
	enum mcp_route route = mcp_route_of(m->method);

	if (!version || !caps) {
		gw_session_error(s, id, idl, RPC_INVALID_PARAMS,
				 "Invalid params: _meta must carry io.modelcontextprotocol/"
				 "protocolVersion and io.modelcontextprotocol/clientCapabilities",
				 NULL);
		return true;
	}
	if (strcmp(version, MODERN_VERSION) != 0) {
		json_t *data = json_pack("{soss}", "supported", gw_modern_supported(), "requested",
					 version);

		gw_session_error(s, id, idl, MCP_UNSUPPORTED_VERSION,
				 "Unsupported protocol version", data);
		json_decref(data);
		return true;
	}
	for (size_t i = 0; i < MG_ARRAY_LEN(removed); i++) {
		if (strcmp(m->method, removed[i]) == 0) {
			gw_session_error(s, id, idl, RPC_METHOD_NOT_FOUND,
					 "Method not found (removed in 2026-07-28)", NULL);
			return true;
		}
	}
	s->req_log_level = mcp_log_level(jx_str(meta, "io.modelcontextprotocol/logLevel"));
	if (strcmp(m->method, "server/discover") == 0) {
		discover(s, id, idl);
	} else if (strcmp(m->method, "subscriptions/listen") == 0) {
		listen_start(s, m, id, idl);
	} else if (route == MCP_ROUTE_LIST) {
		list(s, m, id, idl, strcmp(m->method, "tools/list") == 0 ? GW_LIST_TOOLS
			: strcmp(m->method, "prompts/list") == 0 ? GW_LIST_PROMPTS
			: strcmp(m->method, "resources/list") == 0 ? GW_LIST_RESOURCES
			: GW_LIST_TEMPLATES);
	} else if (route == MCP_ROUTE_TOOL || route == MCP_ROUTE_PROMPT || route == MCP_ROUTE_URI ||
		   route == MCP_ROUTE_COMPLETION) {
		/* A retry carrying the gateway's own requestState continues a
		 * bridged call; any other state belongs to the server. */
		return gw_bridge_retry(s, m, id, idl) != 0;
	} else {
		gw_session_error(s, id, idl, RPC_METHOD_NOT_FOUND, "Method not found", NULL);
	}
	return true;
}

/* ---- results from servers, for modern clients ---- */

/* Add what a modern result must carry and a legacy server leaves out, and
 * translate legacy errors, by splicing the server's bytes.  Returns 0 and
 * fills out, or -ENOENT when nothing needs changing. */
int gw_modern_fix_response(const struct rpc_msg *m, const char *method, struct jx_edit *edits,
			   size_t *n, struct mg_buf *scratch)
{
	static const char *const rpath[] = { "result" };
	static const char *const cpath[] = { "error", "code" };
	static const char *const ipath[] = { "result", "_meta", "io.modelcontextprotocol/serverInfo" };
	struct jx_span info;
	json_t *result = json_object_get(m->root, "result");
	json_t *error = json_object_get(m->root, "error");
	struct jx_span sp;
	bool cacheable = strcmp(method, "resources/read") == 0;

	if (error) {
		/* Legacy "resource not found" is -32602 in 2026-07-28. */
		if (json_integer_value(json_object_get(error, "code")) == MCP_RESOURCE_NOT_FOUND &&
		    jx_find(m->raw, m->len, cpath, 2, &sp) == 0) {
			edits[(*n)++] = (struct jx_edit){ sp, "-32602", 6 };
			return 0;
		}
		return -ENOENT;
	}
	if (!json_is_object(result) || jx_find(m->raw, m->len, rpath, 1, &sp) ||
	    m->raw[sp.off] != '{')
		return -ENOENT;
	/* The client talks to mcpguard: a server's self-description in the
	 * result's _meta is replaced by the gateway's. */
	if (jx_find(m->raw, m->len, ipath, 3, &info) == 0) {
		static const char own[] = "{\"name\":\"mcpguard\",\"version\":\"" MG_VERSION "\"}";

		edits[(*n)++] = (struct jx_edit){ info, own, sizeof(own) - 1 };
	}
	if (!json_object_get(result, "resultType"))
		mg_buf_adds(scratch, "\"resultType\":\"complete\",");
	if (cacheable && !json_object_get(result, "ttlMs"))
		mg_buf_adds(scratch, "\"ttlMs\":0,");
	if (cacheable && !json_object_get(result, "cacheScope"))
		mg_buf_adds(scratch, "\"cacheScope\":\"private\",");
	if (!scratch->len)
		return 0;
	if (json_object_size(result) == 0)
		mg_buf_truncate(scratch, scratch->len - 1);     /* no member follows */
	edits[(*n)++] = (struct jx_edit){ { sp.off + 1, 0 }, scratch->data, scratch->len };
	return 0;
}
