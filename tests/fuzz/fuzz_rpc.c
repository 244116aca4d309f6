/* libFuzzer harness for JSON-RPC parsing (src/rpc/msg.c) and the line
 * builders.  Every message a peer sends goes through rpc_parse, so on any
 * input it must either refuse cleanly (-32700/-32600 with a reason, and an
 * id only when one was recoverable) or accept a message whose invariants
 * hold: the id text at id_span is exactly the id jansson saw, and an error,
 * result or request line built from the message is itself a message the
 * parser accepts with the same id bytes.  Seeds: tests/fuzz/corpus/rpc/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"
#include "rpc/msg.h"
#include "fuzz.h"



/* The text is a JSON string or integer equal to want (when want given). */
static void check_id_text(const char *text, size_t len, const json_t *want)
{
	json_t *v = json_loadb(text, len, JSON_DECODE_ANY, NULL);

	CHECK(v);
	CHECK(json_is_string(v) || json_is_integer(v));
	if (want)
		CHECK(json_equal(v, want));
	json_decref(v);
}

/* Parse a built line (without its newline) and return the message. */
static void reparse(struct mg_buf *b, struct rpc_msg *m, enum rpc_kind kind)
{
	char why[256];
	char *id_raw = NULL;
	int rc;

	CHECK(b->len > 0 && b->data[b->len - 1] == '\n');
	CHECK(!memchr(b->data, '\n', b->len - 1));
	rc = rpc_parse(b->data, b->len - 1, m, why, sizeof(why), &id_raw);
	if (rc) {
		fprintf(stderr, "built line refused (%d, %s): %s", rc, why, b->data);
		abort();
	}
	CHECK(m->kind == kind);
	free(id_raw);
}

/* A built line whose id is null: rpc_parse refuses null ids, so check it
 * with jansson: one JSON-RPC error object on one line. */
static void check_null_id_error(struct mg_buf *b, int code)
{
	json_t *v, *e;

	CHECK(b->len > 0 && b->data[b->len - 1] == '\n');
	CHECK(!memchr(b->data, '\n', b->len - 1));
	v = json_loadb(b->data, b->len - 1, JSON_REJECT_DUPLICATES, NULL);
	if (!v) {
		fprintf(stderr, "built line is not JSON: %s", b->data);
		abort();
	}
	CHECK(json_is_null(json_object_get(v, "id")));
	CHECK(!strcmp(json_string_value(json_object_get(v, "jsonrpc")), "2.0"));
	e = json_object_get(v, "error");
	CHECK(json_integer_value(json_object_get(e, "code")) == code);
	CHECK(json_is_string(json_object_get(e, "message")));
	json_decref(v);
}

static void check_built_lines(const struct rpc_msg *m)
{
	struct mg_buf b;
	struct rpc_msg r;
	size_t idl = 0;
	const char *id = m->id ? rpc_id_raw(m, &idl) : NULL;

	mg_buf_init(&b, 2 * m->len + 4096);

	/* Error response carrying the id: same id bytes back. */
	if (id) {
		CHECK(rpc_error_line(&b, id, idl, RPC_INVALID_PARAMS, "fuzz \"message\"\n", m->params) == 0);
		reparse(&b, &r, RPC_RESPONSE);
		CHECK(r.is_error);
		CHECK(json_equal(r.id, m->id));
		CHECK(r.id_span.len == idl && memcmp(r.raw + r.id_span.off, id, idl) == 0);
		rpc_msg_release(&r);
		mg_buf_reset(&b);

		/* Result response. */
		{
			json_t *res = m->params ? json_incref(m->params) : json_object();

			CHECK(rpc_result_line(&b, id, idl, res) == 0);
			reparse(&b, &r, RPC_RESPONSE);
			CHECK(!r.is_error);
			CHECK(json_equal(r.id, m->id));
			CHECK(json_equal(json_object_get(r.root, "result"), res));
			rpc_msg_release(&r);
			mg_buf_reset(&b);
			json_decref(res);
		}
	}
	/* Request or notification with the same method and params. */
	if (m->method) {
		CHECK(rpc_request_line(&b, id, idl, m->method, m->params) == 0);
		reparse(&b, &r, m->kind);
		CHECK(strcmp(r.method, m->method) == 0);
		CHECK((!r.params && !m->params) || json_equal(r.params, m->params));
		if (id)
			CHECK(json_equal(r.id, m->id));
		rpc_msg_release(&r);
		mg_buf_reset(&b);
	}
	/* Error with a null id: always valid. */
	CHECK(rpc_error_line(&b, NULL, 0, RPC_PARSE_ERROR, "x", NULL) == 0);
	check_null_id_error(&b, RPC_PARSE_ERROR);
	mg_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *raw = (const char *)data;
	struct rpc_msg m;
	char why[256];
	char *id_raw = (char *)(uintptr_t)1;
	int rc;

	memset(why, 0, sizeof(why));
	rc = rpc_parse(raw, size, &m, why, sizeof(why), &id_raw);
	if (rc == 0) {
		CHECK(m.root && m.raw == raw && m.len == size);
		CHECK(m.kind == RPC_REQUEST || m.kind == RPC_NOTIFICATION || m.kind == RPC_RESPONSE);
		CHECK(!m.params || m.kind == RPC_RESPONSE || json_is_object(m.params));
		switch (m.kind) {
		case RPC_REQUEST:
		case RPC_RESPONSE:
			CHECK(m.id && (json_is_string(m.id) || json_is_integer(m.id)));
			CHECK(m.id_span.len > 0 && m.id_span.off + m.id_span.len <= size);
			check_id_text(raw + m.id_span.off, m.id_span.len, m.id);
			CHECK(id_raw && strlen(id_raw) == m.id_span.len &&
			      memcmp(id_raw, raw + m.id_span.off, m.id_span.len) == 0);
			CHECK(m.kind == RPC_RESPONSE ? !m.method : m.method != NULL);
			break;
		case RPC_NOTIFICATION:
		default:
			CHECK(!m.id && !id_raw && m.method);
			break;
		}
		/* Only 0 or the kind's own members. */
		if (m.kind == RPC_RESPONSE)
			CHECK(!!json_object_get(m.root, "error") == m.is_error);
		else
			CHECK(!json_object_get(m.root, "result") && !json_object_get(m.root, "error"));
		CHECK(!strcmp(json_string_value(json_object_get(m.root, "jsonrpc")), "2.0"));
		check_built_lines(&m);
		rpc_msg_release(&m);
	} else {
		struct mg_buf b;

		CHECK(rc == RPC_PARSE_ERROR || rc == RPC_INVALID_REQUEST);
		CHECK(!m.root && !m.method && !m.id && m.kind == 0);
		CHECK(why[0] != '\0' && memchr(why, '\0', sizeof(why)));
		/* An id is only recovered from a message that parsed. */
		if (id_raw) {
			CHECK(rc == RPC_INVALID_REQUEST);
			check_id_text(id_raw, strlen(id_raw), NULL);
		}
		/* The answer the gateway would send is valid JSON-RPC, reason and
		 * all (the reason may quote the input). */
		mg_buf_init(&b, 8192);
		CHECK(rpc_error_line(&b, id_raw, id_raw ? strlen(id_raw) : 0, rc, why, NULL) == 0);
		if (id_raw) {
			struct rpc_msg r;

			reparse(&b, &r, RPC_RESPONSE);
			CHECK(r.is_error);
			CHECK(json_integer_value(json_object_get(json_object_get(r.root, "error"), "code")) == rc);
			CHECK(r.id_span.len == strlen(id_raw) &&
			      !memcmp(r.raw + r.id_span.off, id_raw, r.id_span.len));
			rpc_msg_release(&r);
		} else {
			check_null_id_error(&b, rc);
		}
		mg_buf_release(&b);
	}
	free(id_raw);
	return 0;
}
