#include "rpc/msg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"

static const char *const id_path[] = { "id" };

void rpc_msg_release(struct rpc_msg *m)
{
	json_decref(m->root);
	memset(m, 0, sizeof(*m));
}

static int fail(struct rpc_msg *m, char *why, size_t whylen, int code, const char *text)
{
	snprintf(why, whylen, "%s", text);
	rpc_msg_release(m);
	return code;
}

int rpc_parse(const char *raw, size_t len, struct rpc_msg *m, char *why, size_t whylen,
	      char **id_raw)
{
	json_error_t jerr;
	json_t *v, *result, *error;
	const char *ver;

	memset(m, 0, sizeof(*m));
	*id_raw = NULL;
	m->root = jx_parse(raw, len, &jerr);
	if (!m->root) {
		snprintf(why, whylen, "parse error at line %d column %d: %s", jerr.line,
			 jerr.column, jerr.text);
		/* jansson quotes the input near the error, possibly a cut UTF-8
		 * sequence; the reason goes back to the client as a JSON string. */
		for (char *p = why; *p; p++)
			if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
				*p = '?';
		return RPC_PARSE_ERROR;
	}
	m->raw = raw;
	m->len = len;
	if (json_is_array(m->root))
		return fail(m, why, whylen, RPC_INVALID_REQUEST,
			    "JSON-RPC batches are not supported (removed in MCP 2025-06-18)");
	if (!json_is_object(m->root))
		return fail(m, why, whylen, RPC_INVALID_REQUEST, "message is not a JSON object");

	v = json_object_get(m->root, "id");
	if (v && (json_is_string(v) || json_is_integer(v))) {
		if (jx_find(raw, len, id_path, 1, &m->id_span) != 0)
			return fail(m, why, whylen, RPC_PARSE_ERROR, "cannot locate the id");
		*id_raw = mg_memdup0(raw + m->id_span.off, m->id_span.len);
	}

	ver = jx_str(m->root, "jsonrpc");
	if (!ver || strcmp(ver, "2.0") != 0)
		goto invalid_version;
	m->method = jx_str(m->root, "method");
	m->params = json_object_get(m->root, "params");
	result = json_object_get(m->root, "result");
	error = json_object_get(m->root, "error");
	if (v && !json_is_string(v) && !json_is_integer(v)) {
		free(mg_steal(id_raw));
		return fail(m, why, whylen, RPC_INVALID_REQUEST,
			    "id must be a string or an integer");
	}
	if (json_object_get(m->root, "method")) {
		if (!m->method)
			return fail(m, why, whylen, RPC_INVALID_REQUEST, "method must be a string");
		if (result || error)
			return fail(m, why, whylen, RPC_INVALID_REQUEST,
				    "a request carries no result or error");
		if (m->params && !json_is_object(m->params))
			return fail(m, why, whylen, RPC_INVALID_REQUEST,
				    "params must be an object");
		m->kind = v ? RPC_REQUEST : RPC_NOTIFICATION;
		m->id = v;
		return 0;
	}
	if (!v || (!result == !error))
		return fail(m, why, whylen, RPC_INVALID_REQUEST,
			    "neither a request, a notification nor a response");
	if (error && (!json_is_object(error) || !json_is_integer(json_object_get(error, "code"))))
		return fail(m, why, whylen, RPC_INVALID_REQUEST, "malformed error object");
	m->kind = RPC_RESPONSE;
	m->id = v;
	m->is_error = error != NULL;
	return 0;

invalid_version:
	return fail(m, why, whylen, RPC_INVALID_REQUEST, "jsonrpc must be \"2.0\"");
}

static int open_line(struct mg_buf *out, const char *id_raw, size_t id_len)
{
	int rc = mg_buf_adds(out, "{\"jsonrpc\":\"2.0\",\"id\":");

	if (!rc)
		rc = id_raw ? mg_buf_add(out, id_raw, id_len) : mg_buf_adds(out, "null");
	return rc;
}

int rpc_error_line(struct mg_buf *out, const char *id_raw, size_t id_len, int code,
		   const char *message, const json_t *data)
{
	size_t before = out->len;
	int rc;

	if ((rc = open_line(out, id_raw, id_len)) ||
	    (rc = mg_buf_addf(out, ",\"error\":{\"code\":%d,\"message\":", code)) ||
	    (rc = jx_quote(message, strlen(message), out)))
		goto out;
	if (data && ((rc = mg_buf_adds(out, ",\"data\":")) || (rc = jx_dump_buf(data, out))))
		goto out;
	rc = mg_buf_adds(out, "}}\n");
out:
	if (rc)
		mg_buf_truncate(out, before);
	return rc;
}

int rpc_result_line(struct mg_buf *out, const char *id_raw, size_t id_len,
		    const json_t *result)
{
	size_t before = out->len;
	int rc;

	if ((rc = open_line(out, id_raw, id_len)) || (rc = mg_buf_adds(out, ",\"result\":")) ||
	    (rc = jx_dump_buf(result, out)) || (rc = mg_buf_adds(out, "}\n")))
		mg_buf_truncate(out, before);
	return rc;
}

int rpc_request_line(struct mg_buf *out, const char *id_raw, size_t id_len,
		     const char *method, const json_t *params)
{
	size_t before = out->len;
	int rc = mg_buf_adds(out, "{\"jsonrpc\":\"2.0\"");

	if (!rc && id_raw)
		rc = mg_buf_adds(out, ",\"id\":") || mg_buf_add(out, id_raw, id_len);
	if (!rc)
		rc = mg_buf_adds(out, ",\"method\":") || jx_quote(method, strlen(method), out);
	if (!rc && params)
		rc = mg_buf_adds(out, ",\"params\":") || jx_dump_buf(params, out);
	if (!rc)
		rc = mg_buf_adds(out, "}\n");
	if (rc) {
		mg_buf_truncate(out, before);
		return -EMSGSIZE;
	}
	return 0;
}
