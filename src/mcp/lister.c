#include "mcp/lister.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "base/str.h"
#include "json/jx.h"
#include "mcp/proto.h"
#include "rpc/msg.h"

#define DEFAULT_PAGES 1000
#define DEFAULT_ITEMS 100000
#define DEFAULT_BYTES (256u << 20)
#define OUT_MAX (1u << 20)      /* what we send: small requests and answers */
#define PEER_TEXT_MAX 200       /* of a peer's string quoted in an error */

static const struct {
	const char *key, *method, *def_kind, *cap;
} lists[MCP_LIST_N] = {
	[MCP_LIST_TOOLS] = { "tools", "tools/list", "tool", "tools" },
	[MCP_LIST_PROMPTS] = { "prompts", "prompts/list", "prompt", "prompts" },
	[MCP_LIST_RESOURCES] = { "resources", "resources/list", "resource", "resources" },
	[MCP_LIST_TEMPLATES] = { "resourceTemplates", "resources/templates/list",
				 "resource-template", "resources" },
};

const char *mcp_list_key(enum mcp_list_kind k)
{
	return k < MCP_LIST_N ? lists[k].key : "?";
}

const char *mcp_list_method(enum mcp_list_kind k)
{
	return k < MCP_LIST_N ? lists[k].method : "?";
}

const char *mcp_list_def_kind(enum mcp_list_kind k)
{
	return k < MCP_LIST_N ? lists[k].def_kind : "?";
}

void mcp_lister_init(struct mcp_lister *l, const struct mcp_lister_limits *lim,
		     const char *client_name, const char *client_version)
{
	memset(l, 0, sizeof(*l));
	l->lim.max_pages = lim && lim->max_pages ? lim->max_pages : DEFAULT_PAGES;
	l->lim.max_items = lim && lim->max_items ? lim->max_items : DEFAULT_ITEMS;
	l->lim.max_bytes = lim && lim->max_bytes ? lim->max_bytes : DEFAULT_BYTES;
	l->next_id = 1;
	l->wait_kind = -1;
	for (size_t k = 0; k < MCP_LIST_N; k++)
		l->lists[k] = json_array();
	mg_buf_init(&l->out, OUT_MAX);
	mg_strlcpy(l->client_name, client_name ? client_name : "mcpguard", sizeof(l->client_name));
	mg_strlcpy(l->client_version, client_version ? client_version : "0",
		   sizeof(l->client_version));
}

void mcp_lister_release(struct mcp_lister *l)
{
	json_decref(l->init_result);
	for (size_t k = 0; k < MCP_LIST_N; k++)
		json_decref(l->lists[k]);
	free(l->cursor);
	mg_buf_release(&l->out);
	memset(l, 0, sizeof(*l));
}

/* A peer's text in an error message: printable ASCII only, cut. */
static void peer_text(char *dst, size_t cap, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 4 < cap && i < PEER_TEXT_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		dst[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (n > PEER_TEXT_MAX && o + 4 < cap) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

static int fail(struct mcp_lister *l, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct mcp_lister *l, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->error, sizeof(l->error), fmt, ap);
	va_end(ap);
	l->state = MCP_LISTER_FAILED;
	l->wait_id = 0;
	/* nothing more is sent once the listing failed */
	mg_buf_reset(&l->out);
	return code;
}

/* Queue a request with the next id; params borrowed. */
static int request(struct mcp_lister *l, const char *method, const json_t *params, int kind)
{
	char id[24];
	int n = snprintf(id, sizeof(id), "%" PRId64, l->next_id);

	if (rpc_request_line(&l->out, id, (size_t)n, method, params))
		return fail(l, -EMSGSIZE, "cannot queue %s", method);
	l->wait_id = l->next_id++;
	l->wait_kind = kind;
	return 0;
}

int mcp_lister_start(struct mcp_lister *l)
{
	json_t *params;
	int rc;

	if (l->state != MCP_LISTER_IDLE)
		return -EALREADY;
	l->state = MCP_LISTER_RUNNING;
	params = json_pack("{sss{}s{ssss}}", "protocolVersion", MCP_LATEST_LEGACY, "capabilities",
			   "clientInfo", "name", l->client_name, "version", l->client_version);
	if (!params)
		return fail(l, -ENOMEM, "out of memory");
	rc = request(l, "initialize", params, -1);
	json_decref(params);
	return rc;
}

/* The next page of kind k (cursor NULL: the first), or the next list
 * announced, or done. */
static int ask_next(struct mcp_lister *l, int from, const char *cursor)
{
	json_t *params;
	int rc;

	if (cursor) {
		params = json_pack("{ss}", "cursor", cursor);
		if (!params)
			return fail(l, -ENOMEM, "out of memory");
		free(l->cursor);
		l->cursor = mg_strdup(cursor);
		rc = request(l, lists[from].method, params, from);
		json_decref(params);
		return rc;
	}
	free(mg_steal(&l->cursor));
	for (int k = from; k < MCP_LIST_N; k++) {
		if (!l->want[k])
			continue;
		params = json_object();
		rc = request(l, lists[k].method, params, k);
		json_decref(params);
		return rc;
	}
	l->state = MCP_LISTER_DONE;
	l->wait_id = 0;
	return 0;
}

static int on_initialize(struct mcp_lister *l, json_t *result)
{
	json_t *caps, *ins;

	if (!json_is_object(result))
		return fail(l, -EPROTO, "initialize: the result is not an object");
	caps = json_object_get(result, "capabilities");
	if (caps && !json_is_object(caps))
		return fail(l, -EPROTO, "initialize: capabilities is not an object");
	ins = json_object_get(result, "instructions");
	if (ins && !json_is_string(ins) && !json_is_null(ins))
		return fail(l, -EPROTO, "initialize: instructions is not a string");
	l->init_result = json_incref(result);
	for (size_t k = 0; k < MCP_LIST_N; k++) {
		json_t *c = json_object_get(caps, lists[k].cap);

		l->want[k] = c && !json_is_null(c) && !json_is_false(c);
	}
	if (mg_buf_adds(&l->out, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n"))
		return fail(l, -EMSGSIZE, "cannot queue notifications/initialized");
	return ask_next(l, 0, NULL);
}

static int on_page(struct mcp_lister *l, int k, json_t *result)
{
	const char *method = lists[k].method;
	json_t *items, *next, *item;
	size_t i, page = l->pages[k] + 1;

	if (!json_is_object(result))
		return fail(l, -EPROTO, "%s: page %zu: the result is not an object", method, page);
	items = json_object_get(result, lists[k].key);
	if (!json_is_array(items))
		return fail(l, -EPROTO, "%s: page %zu: no %s array", method, page, lists[k].key);
	if (json_array_size(items) > l->lim.max_items - l->items)
		return fail(l, -E2BIG, "%s: more than %zu definitions in all", method,
			    l->lim.max_items);
	json_array_foreach(items, i, item)
		if (!json_is_object(item))
			return fail(l, -EPROTO, "%s: page %zu: item %zu is not an object", method,
				    page, i);
	next = json_object_get(result, "nextCursor");
	if (next && !json_is_string(next) && !json_is_null(next))
		return fail(l, -EPROTO, "%s: page %zu: nextCursor is not a string", method, page);
	if (json_array_extend(l->lists[k], items))
		return fail(l, -ENOMEM, "out of memory");
	l->items += json_array_size(items);
	l->pages[k] = page;
	if (json_is_string(next)) {
		const char *c = json_string_value(next);
		size_t n = json_string_length(next);

		if (page >= l->lim.max_pages)
			return fail(l, -E2BIG, "%s: more than %zu pages", method, l->lim.max_pages);
		if (l->cursor && strcmp(l->cursor, c) == 0) {
			char t[PEER_TEXT_MAX + 8];

			peer_text(t, sizeof(t), c, n);
			return fail(l, -ELOOP, "%s: page %zu: nextCursor \"%s\" repeats the cursor "
				    "it was asked with", method, page, t);
		}
		return ask_next(l, k, c);
	}
	return ask_next(l, k + 1, NULL);
}

/* The peer asks us something: ping gets {}, the rest "method not found"
 * (we announced no capabilities). */
static int answer_peer(struct mcp_lister *l, struct rpc_msg *m)
{
	size_t idl;
	const char *id = rpc_id_raw(m, &idl);
	int rc;

	if (strcmp(m->method, "ping") == 0) {
		json_t *empty = json_object();

		rc = rpc_result_line(&l->out, id, idl, empty);
		json_decref(empty);
	} else {
		rc = rpc_error_line(&l->out, id, idl, RPC_METHOD_NOT_FOUND, "method not found",
				    NULL);
	}
	return rc ? fail(l, -EMSGSIZE, "cannot queue an answer to the peer") : 0;
}

static int on_response(struct mcp_lister *l, struct rpc_msg *m)
{
	const char *method = l->wait_kind < 0 ? "initialize" : lists[l->wait_kind].method;
	int kind = l->wait_kind;

	if (!json_is_integer(m->id) || json_integer_value(m->id) != l->wait_id || !l->wait_id) {
		char t[PEER_TEXT_MAX + 8];
		size_t idl;
		const char *id = rpc_id_raw(m, &idl);

		peer_text(t, sizeof(t), id ? id : "null", id ? idl : 4);
		return fail(l, -EPROTO, "answered a request that was not asked (id %s)", t);
	}
	l->wait_id = 0;
	if (m->is_error) {
		json_t *e = json_object_get(m->root, "error");
		const char *msg = jx_str(e, "message");
		json_t *code = json_object_get(e, "code");
		char t[PEER_TEXT_MAX + 8];

		peer_text(t, sizeof(t), msg ? msg : "error", msg ? strlen(msg) : 5);
		return fail(l, -EPROTO, "%s failed: %s (%" JSON_INTEGER_FORMAT ")", method, t,
			    json_is_integer(code) ? json_integer_value(code) : 0);
	}
	if (kind < 0)
		return on_initialize(l, json_object_get(m->root, "result"));
	return on_page(l, kind, json_object_get(m->root, "result"));
}

int mcp_lister_feed(struct mcp_lister *l, const char *line, size_t len)
{
	struct rpc_msg m;
	char why[256], *id_raw = NULL;
	int rc;

	if (l->state == MCP_LISTER_FAILED)
		return -EPROTO;
	if (len > l->lim.max_bytes - l->bytes)
		return fail(l, -E2BIG, "sent more than %zu bytes", l->lim.max_bytes);
	l->bytes += len;
	if (rpc_parse(line, len, &m, why, sizeof(why), &id_raw)) {
		char t[PEER_TEXT_MAX + 8], w[PEER_TEXT_MAX + 8];

		free(id_raw);
		/* jansson's reason quotes the line too */
		peer_text(w, sizeof(w), why, strlen(why));
		peer_text(t, sizeof(t), line, len);
		return fail(l, -EPROTO, "sent something that is not JSON-RPC (%s): %s", w, t);
	}
	free(id_raw);
	switch (m.kind) {
	case RPC_NOTIFICATION:
		rc = 0;
		break;
	case RPC_REQUEST:
		rc = answer_peer(l, &m);
		break;
	case RPC_RESPONSE:
		rc = l->state == MCP_LISTER_RUNNING ? on_response(l, &m)
			: fail(l, -EPROTO, "answered %s", l->state == MCP_LISTER_IDLE
			       ? "before anything was asked" : "after the listing was done");
		break;
	default:
		rc = fail(l, -EPROTO, "sent an unknown kind of message");
		break;
	}
	rpc_msg_release(&m);
	return rc;
}

void mcp_lister_oversize(struct mcp_lister *l, size_t max)
{
	if (l->state != MCP_LISTER_FAILED)
		fail(l, -EMSGSIZE, "sent a message over %zu bytes", max);
}

char *mcp_lister_take(struct mcp_lister *l, size_t *len)
{
	if (!l->out.len) {
		*len = 0;
		return NULL;
	}
	return mg_buf_detach(&l->out, len);
}

const char *mcp_lister_instructions(const struct mcp_lister *l)
{
	return jx_str(l->init_result, "instructions");
}
