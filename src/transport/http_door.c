#include "transport/http_door.h"

#include <string.h>
#include <strings.h>

#include "base/mem.h"

/* ---- request heads ---- */

void tp_door_head_init(struct tp_door_head *h)
{
	memset(h, 0, sizeof(*h));
}

static unsigned head_fail(struct tp_door_head *h, unsigned status, const char *reason)
{
	if (!h->status) {
		h->status = status;
		h->reason = reason;
	}
	return h->status;
}

/* RFC 9110 §5.6.2 token characters. */
static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool name_is(const char *name, size_t len, const char *want)
{
	return len == strlen(want) && strncasecmp(name, want, len) == 0;
}

unsigned tp_door_head_field(struct tp_door_head *h, const char *name, size_t name_len,
			    const char *value, size_t value_len)
{
	if (h->status)
		return h->status;
	if (!name || name_len == 0)
		return head_fail(h, 400, "empty header name");
	for (size_t i = 0; i < name_len; i++)
		if (!is_tchar((unsigned char)name[i]))
			/* "Transfer-Encoding :" is not Transfer-Encoding to
			 * us, but may be to a proxy in front (§5.1). */
			return head_fail(h, 400, "malformed header name");
	for (size_t i = 0; value && i < value_len; i++) {
		unsigned char c = (unsigned char)value[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return head_fail(h, 400, "control character in a header value");
	}
	if (name_is(name, name_len, "Content-Length")) {
		uint64_t v = 0;

		if (++h->content_length > 1)
			return head_fail(h, 400, "more than one Content-Length");
		if (!value || value_len == 0 || value_len > 18)
			return head_fail(h, 400, "malformed Content-Length");
		for (size_t i = 0; i < value_len; i++) {
			if (value[i] < '0' || value[i] > '9')
				return head_fail(h, 400, "malformed Content-Length");
			v = v * 10 + (uint64_t)(value[i] - '0');
		}
		h->length = v;
	} else if (name_is(name, name_len, "Transfer-Encoding")) {
		if (++h->transfer_encoding > 1)
			return head_fail(h, 400, "more than one Transfer-Encoding");
		/* Only chunked alone: anything else is a coding we cannot
		 * frame the way a proxy would (RFC 9112 §6.1). */
		if (!value || !name_is(value, value_len, "chunked"))
			return head_fail(h, 501, "transfer coding other than chunked");
	} else if (name_is(name, name_len, "Host")) {
		if (++h->host > 1)
			return head_fail(h, 400, "more than one Host");
	}
	return 0;
}

unsigned tp_door_head_end(struct tp_door_head *h, bool http11)
{
	if (h->status)
		return h->status;
	if (h->content_length && h->transfer_encoding)
		return head_fail(h, 400, "both Content-Length and Transfer-Encoding");
	if (http11 && !h->host)
		return head_fail(h, 400, "HTTP/1.1 request without Host");
	return 0;
}

/* ---- POSTed bodies ---- */

int tp_door_classify(const char *body, size_t len, struct tp_door_msg *out)
{
	static const char *const id_path[] = { "id" };
	static const char *const mpath[] = { "method" };
	static const char *const cpath[] = { "params", "_meta",
					     "io.modelcontextprotocol/protocolVersion" };
	struct rpc_msg m;
	char *id_raw = NULL;
	int code;

	memset(out, 0, sizeof(*out));
	code = rpc_parse(body, len, &m, out->why, sizeof(out->why), &id_raw);
	if (code) {
		out->code = code;
		/* The body was valid JSON with a usable id: the error names it.
		 * The scanner agrees with jansson on valid text. */
		if (id_raw && jx_find(body, len, id_path, 1, &out->id) != 0)
			out->id = (struct jx_span){ 0, 0 };
		free(id_raw);
		return code;
	}
	free(id_raw);
	out->kind = m.kind;
	if (m.kind == RPC_REQUEST || m.kind == RPC_RESPONSE)
		out->id = m.id_span;
	if (m.kind != RPC_RESPONSE && jx_find(body, len, mpath, 1, &out->method) != 0)
		out->method = (struct jx_span){ 0, 0 };
	if (jx_find(body, len, cpath, 3, &out->claim) != 0)
		out->claim = (struct jx_span){ 0, 0 };
	out->initialize = m.kind == RPC_REQUEST && strcmp(m.method, "initialize") == 0;
	rpc_msg_release(&m);
	return 0;
}

/* ---- rate-limited lines ---- */

bool tp_door_ratelog_take(struct tp_door_ratelog *l, uint64_t now_ms, uint64_t interval_ms,
			  unsigned long *suppressed)
{
	if (l->used && now_ms - l->last_ms < interval_ms) {
		l->suppressed++;
		return false;
	}
	*suppressed = l->suppressed;
	l->suppressed = 0;
	l->last_ms = now_ms;
	l->used = true;
	return true;
}

void tp_door_printable(const char *in, char *out, size_t outsz)
{
	size_t i = 0;

	if (!outsz)
		return;
	for (; in && in[i] && i + 1 < outsz; i++) {
		unsigned char c = (unsigned char)in[i];

		out[i] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
	}
	out[i] = '\0';
	if (in && in[i] && outsz >= 4)
		memcpy(out + outsz - 4, "...", 4);
}
