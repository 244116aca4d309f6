/* JSON-RPC 2.0 messages: parse and classify one framed message, build
 * error responses.  A message keeps its original bytes next to the parsed
 * tree so that forwarding can splice instead of re-serialising. */
#ifndef MG_RPC_MSG_H
#define MG_RPC_MSG_H

#include <jansson.h>
#include <stdbool.h>

#include "base/buf.h"
#include "json/jx.h"

/* JSON-RPC and MCP error codes used by the gateway. */
enum {
	RPC_PARSE_ERROR = -32700,
	RPC_INVALID_REQUEST = -32600,
	RPC_METHOD_NOT_FOUND = -32601,
	RPC_INVALID_PARAMS = -32602,
	RPC_INTERNAL_ERROR = -32603,
	MCP_RESOURCE_NOT_FOUND = -32002,       /* legacy only */
	MCP_HEADER_MISMATCH = -32020,          /* 2026-07-28 */
	MCP_MISSING_CAPABILITY = -32021,
	MCP_UNSUPPORTED_VERSION = -32022,
	/* mcpguard's own, in JSON-RPC's implementation-defined range: a
	 * resource limit of the gateway was reached (docs/security.md#limits) */
	RPC_GW_LIMIT = -32010,
};

enum rpc_kind { RPC_REQUEST = 1, RPC_NOTIFICATION, RPC_RESPONSE };

struct rpc_msg {
	json_t *root;           /* owned */
	const char *raw;        /* borrowed: the framed bytes */
	size_t len;
	enum rpc_kind kind;
	const char *method;     /* requests and notifications; borrowed from root */
	json_t *id;             /* requests and responses; borrowed from root */
	struct jx_span id_span; /* where the id value sits in raw */
	json_t *params;         /* may be NULL */
	bool is_error;          /* responses */
};

/* Parse and validate.  On failure returns the JSON-RPC error code to answer
 * with (-32700 or -32600), fills why, and m holds nothing.  When the id
 * could be recovered, *id_raw receives its text (caller frees) so the error
 * can carry it. */
int rpc_parse(const char *raw, size_t len, struct rpc_msg *m, char *why, size_t whylen,
	      char **id_raw);
void rpc_msg_release(struct rpc_msg *m);

/* Raw text of the id (exact bytes as received). */
static inline const char *rpc_id_raw(const struct rpc_msg *m, size_t *len)
{
	*len = m->id_span.len;
	return m->raw + m->id_span.off;
}

/* Append an error response line (with trailing newline) to out.  id_raw is
 * the exact id text or NULL for null; data may be NULL (borrowed). */
int rpc_error_line(struct mg_buf *out, const char *id_raw, size_t id_len, int code,
		   const char *message, const json_t *data);
/* Append {"jsonrpc":"2.0","id":<id_raw>,"result":<result>}\n. */
int rpc_result_line(struct mg_buf *out, const char *id_raw, size_t id_len,
		    const json_t *result);
/* Append a request or notification line; id_raw NULL for a notification. */
int rpc_request_line(struct mg_buf *out, const char *id_raw, size_t id_len,
		     const char *method, const json_t *params);

#endif
