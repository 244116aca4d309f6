/* MRTR bridge: a 2026-07-28 client in front of a legacy server.
 *
 * A legacy server asks its client things mid-call (sampling/createMessage,
 * elicitation/create, roots/list) with requests of its own.  A 2026-07-28
 * client cannot receive requests: it expects the call to end with an
 * input_required result and to retry the call with inputResponses and the
 * requestState it was given.  The bridge keeps the server's call open,
 * answers the client with input_required (inputRequests built from the
 * server's pending requests, and a sealed requestState), and on the retry
 * answers the server's requests and re-attaches the call to the retry's id.
 *
 * requestState is "mg1." + base64url(nonce || secretbox(JSON)): encrypted
 * and authenticated with a per-process key, bound to the session
 * (principal), the method and name, one round, and an expiry.  A tampered,
 * replayed or stale state is refused with -32602. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "base/time.h"
#include "gateway/internal.h"
#include "mcp/proto.h"

#define STATE_PREFIX "mg1."

struct pending_input {
	struct mg_list node;
	char key[16];                   /* the inputRequests key, "r1" ... */
	char *up_id;                    /* the server's request id text */
	size_t up_id_len;
	json_t *request;                /* {method, params} */
};

struct gw_bridge {
	struct mg_list node;            /* s->bridges */
	char id[33];
	struct gw_session *sess;
	struct gw_call *call;           /* the server's call, kept open; NULL once done */
	char *method;
	char *name;                     /* tool or prompt name, or uri */
	json_t *caps;                   /* client capabilities of the last request */
	struct mg_list inputs;          /* server requests not yet answered */
	unsigned next_key;
	unsigned round;                 /* the round the current requestState names */
	uint64_t expires_ms;
	char *final;                    /* the server's response, if it came while away */
	size_t final_len;
	bool attached;                  /* a client request waits on the call */
};

static unsigned char seal_key[crypto_secretbox_KEYBYTES];
static bool seal_key_ready;

static void key_init(void)
{
	if (!seal_key_ready) {
		crypto_secretbox_keygen(seal_key);
		seal_key_ready = true;
	}
}

static char *seal(const struct gw_bridge *b)
{
	unsigned char nonce[crypto_secretbox_NONCEBYTES];
	json_t *o = json_pack("{sssssIsIssss}", "b", b->id, "s", b->sess->id, "r",
			      (json_int_t)b->round, "x", (json_int_t)b->expires_ms, "m", b->method,
			      "n", b->name);
	char *plain = json_dumps(o, JSON_COMPACT);
	size_t pl = strlen(plain), cl = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + pl;
	unsigned char *box = mg_malloc(cl);
	size_t outlen = sodium_base64_ENCODED_LEN(cl, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = mg_malloc(strlen(STATE_PREFIX) + outlen);

	key_init();
	randombytes_buf(nonce, sizeof(nonce));
	memcpy(box, nonce, sizeof(nonce));
	crypto_secretbox_easy(box + sizeof(nonce), (unsigned char *)plain, pl, nonce, seal_key);
	memcpy(out, STATE_PREFIX, strlen(STATE_PREFIX));
	sodium_bin2base64(out + strlen(STATE_PREFIX), outlen, box, cl,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(plain, pl);
	free(plain);
	free(box);
	json_decref(o);
	return out;
}

/* The bridge a state names, or NULL (with why) when it is not valid for
 * this session, method and round. */
static struct gw_bridge *unseal(struct gw_session *s, const char *state, const char *method,
				const char *name, const char **why)
{
	unsigned char bin[4096], plain[4096];
	size_t bl, n = strlen(STATE_PREFIX);
	json_error_t e;
	json_t *o = NULL;
	struct gw_bridge *b = NULL;
	struct mg_list *pos;

	*why = "Invalid params: requestState is not valid (tampered, expired or used)";
	key_init();
	if (sodium_base642bin(bin, sizeof(bin), state + n, strlen(state + n), NULL, &bl, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
	    bl < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES ||
	    crypto_secretbox_open_easy(plain, bin + crypto_secretbox_NONCEBYTES,
				       bl - crypto_secretbox_NONCEBYTES, bin, seal_key))
		return NULL;
	o = json_loadb((char *)plain, bl - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES,
		       0, &e);
	if (!o || !mg_streq(jx_str(o, "s"), s->id) || !mg_streq(jx_str(o, "m"), method) ||
	    !mg_streq(jx_str(o, "n"), name) ||
	    json_integer_value(json_object_get(o, "x")) < (json_int_t)mg_now_ms())
		goto out;
	for (pos = s->bridges.next; pos != &s->bridges; pos = pos->next) {
		struct gw_bridge *c = mg_container_of(pos, struct gw_bridge, node);

		if (mg_streq(c->id, jx_str(o, "b")) &&
		    (json_int_t)c->round == json_integer_value(json_object_get(o, "r")))
			b = c;
	}
out:
	json_decref(o);
	return b;
}

/* ---- life of a bridge ---- */

static void input_free(struct pending_input *p)
{
	mg_list_del(&p->node);
	free(p->up_id);
	json_decref(p->request);
	free(p);
}

static void bridge_free(struct gw_bridge *b)
{
	while (!mg_list_empty(&b->inputs))
		input_free(mg_container_of(b->inputs.next, struct pending_input, node));
	if (b->call)
		b->call->bridge = NULL;
	mg_list_del(&b->node);
	json_decref(b->caps);
	free(b->method);
	free(b->name);
	free(b->final);
	free(b);
}

/* Give up: the server's open requests get an error, its call is cancelled. */
static void bridge_abandon(struct gw_bridge *b, const char *why)
{
	struct gw_call *c = b->call;

	while (!mg_list_empty(&b->inputs)) {
		struct pending_input *p = mg_container_of(b->inputs.next, struct pending_input, node);

		if (c && c->up)
			gw_upstream_reply(c->up, p->up_id, p->up_id_len, NULL, RPC_INTERNAL_ERROR, why);
		input_free(p);
	}
	b->call = NULL;
	if (c) {
		c->bridge = NULL;
		gw_call_cancel(c, why);
	}
	bridge_free(b);
}

void gw_bridges_release(struct gw_session *s)
{
	while (!mg_list_empty(&s->bridges))
		bridge_abandon(mg_container_of(s->bridges.next, struct gw_bridge, node),
			       "mcpguard: the client session closed");
}

void gw_bridges_sweep(struct gateway *gw, uint64_t now)
{
	struct mg_list *spos, *stmp;

	mg_list_each_safe(spos, stmp, &gw->sessions) {
		struct gw_session *s = mg_container_of(spos, struct gw_session, node);
		struct mg_list *pos, *tmp;

		mg_list_each_safe(pos, tmp, &s->bridges) {
			struct gw_bridge *b = mg_container_of(pos, struct gw_bridge, node);

			if (!b->attached && now > b->expires_ms)
				bridge_abandon(b, "mcpguard: the client did not retry in time");
		}
	}
}

/* ---- answering the client ---- */

/* End the client's request with input_required and detach the server's
 * call from it until the retry. */
static void ask_client(struct gw_bridge *b)
{
	struct gw_call *c = b->call;
	struct gw_session *s = b->sess;
	json_t *result = json_object(), *reqs = json_object();
	struct mg_list *pos;
	char *state;

	for (pos = b->inputs.next; pos != &b->inputs; pos = pos->next) {
		struct pending_input *p = mg_container_of(pos, struct pending_input, node);

		json_object_set(reqs, p->key, p->request);
	}
	b->round++;
	b->expires_ms = mg_now_ms() + s->gw->cfg.human_timeout_ms;
	state = seal(b);
	json_object_set_new(result, "resultType", json_string("input_required"));
	json_object_set_new(result, "inputRequests", reqs);
	json_object_set_new(result, "requestState", json_string(state));
	free(state);
	b->attached = false;
	/* The client's request ends here; the server's call lives on. */
	if (c->key && mg_map_gets(&s->calls, c->key) == c)
		mg_map_dels(&s->calls, c->key);
	c->deadline_ms = c->hard_deadline_ms = b->expires_ms + c->up->srv->timeout_ms;
	gw_session_result(s, c->client_id, c->client_id_len, result);
}

bool gw_bridge_server_request(struct gw_upstream *up, struct gw_session *s, struct rpc_msg *m)
{
	struct gw_call *c = gw_related_call(up, s);
	const char *cap = mcp_request_capability(m->method);
	struct gw_bridge *b;
	struct pending_input *p;
	const char *id;
	size_t idl;

	if (!c || !cap || !c->client_caps || !json_object_get(c->client_caps, cap))
		return false;   /* the relay refuses it as the client cannot answer */
	b = c->bridge;
	if (!b) {
		unsigned char rnd[16];

		b = MG_NEW(struct gw_bridge);
		randombytes_buf(rnd, sizeof(rnd));
		sodium_bin2hex(b->id, sizeof(b->id), rnd, sizeof(rnd));
		b->sess = s;
		b->call = c;
		b->method = mg_strdup(c->method);
		b->name = mg_strdup(c->name ? c->name : "");   /* as the client names it */
		b->attached = true;
		mg_list_init(&b->inputs);
		mg_list_add_tail(&s->bridges, &b->node);
		c->bridge = b;
	}
	p = MG_NEW(struct pending_input);
	snprintf(p->key, sizeof(p->key), "r%u", ++b->next_key);
	id = rpc_id_raw(m, &idl);
	p->up_id = mg_memdup0(id, idl);
	p->up_id_len = idl;
	p->request = json_pack("{sssO?}", "method", m->method, "params", m->params);
	if (!p->request)
		p->request = json_pack("{ss}", "method", m->method);
	mg_list_add_tail(&b->inputs, &p->node);
	if (b->attached)
		ask_client(b);
	return true;
}

/* The server answered while the client was away: keep the answer for the
 * retry.  Returns true when the response was taken. */
bool gw_bridge_complete(struct gw_call *c, struct rpc_msg *m)
{
	struct gw_bridge *b = c->bridge;

	if (!b || b->attached)
		return false;
	b->final = mg_memdup0(m->raw, m->len);
	b->final_len = m->len;
	b->call = NULL;
	c->bridge = NULL;
	return true;
}

/* ---- the retry ---- */

/* Deliver the response the server gave while the client was away. */
static void deliver_final(struct gw_session *s, struct gw_bridge *b, const char *id, size_t idl)
{
	static const char *const id_path[] = { "id" };
	struct jx_edit e;
	struct mg_buf buf;
	char *line;
	size_t len;

	mg_buf_init(&buf, b->final_len + idl + 2);
	if (jx_find(b->final, b->final_len, id_path, 1, &e.at) == 0) {
		e.text = id;
		e.text_len = idl;
		jx_splice(b->final, b->final_len, &e, 1, &buf);
		mg_buf_addc(&buf, '\n');
		line = mg_buf_detach(&buf, &len);
		gw_session_send_rel(s, line, len, id, idl, true);
	} else {
		mg_buf_release(&buf);
	}
}

int gw_bridge_retry(struct gw_session *s, struct rpc_msg *m, const char *id, size_t idl)
{
	const char *state = jx_str(m->params, "requestState");
	json_t *responses = json_object_get(m->params, "inputResponses");
	struct gw_bridge *b;
	struct gw_call *c;
	struct mg_list *pos, *tmp;
	const char *why;
	json_error_t e;
	json_t *jid;

	if (!state || strncmp(state, STATE_PREFIX, strlen(STATE_PREFIX)) != 0)
		return 0;       /* not ours: a modern server's own state passes */
	b = unseal(s, state, m->method,
		   jx_str(m->params, "name") ?: jx_str(m->params, "uri") ?: "", &why);
	if (!b) {
		gw_session_error(s, id, idl, RPC_INVALID_PARAMS, why, NULL);
		return 1;
	}
	if (responses && !json_is_object(responses)) {
		gw_session_error(s, id, idl, RPC_INVALID_PARAMS,
				 "Invalid params: inputResponses must be an object", NULL);
		return 1;
	}
	if (b->final) {
		deliver_final(s, b, id, idl);
		bridge_free(b);
		return 1;
	}
	c = b->call;
	if (!c) {
		bridge_free(b);
		gw_session_error(s, id, idl, RPC_INTERNAL_ERROR, "mcpguard: the call has ended", NULL);
		return 1;
	}
	/* Answer what the client answered; ask again for the rest. */
	mg_list_each_safe(pos, tmp, &b->inputs) {
		struct pending_input *p = mg_container_of(pos, struct pending_input, node);
		json_t *r = json_object_get(responses, p->key);

		if (!json_is_object(r))
			continue;
		gw_upstream_reply(c->up, p->up_id, p->up_id_len, r, 0, NULL);
		input_free(p);
	}
	/* Re-attach the server's call to the retry's id. */
	free(c->client_id);
	free(c->key);
	c->client_id = mg_memdup0(id, idl);
	c->client_id_len = idl;
	jid = json_loadb(id, idl, JSON_DECODE_ANY, &e);
	c->key = gw_id_key(jid);
	json_decref(jid);
	mg_map_puts(&s->calls, c->key, c);
	c->deadline_ms = mg_now_ms() + c->up->srv->timeout_ms;
	c->hard_deadline_ms = c->deadline_ms + c->up->srv->timeout_ms * 9;
	json_decref(c->client_caps);
	c->client_caps = json_incref(jx_obj(jx_obj(m->params, "_meta"),
					    "io.modelcontextprotocol/clientCapabilities"));
	b->attached = true;
	if (!mg_list_empty(&b->inputs))
		ask_client(b);
	return 1;
}

bool gw_bridge_detached(const struct gw_call *c)
{
	return c->bridge && !c->bridge->attached;
}

/* A bridged call ended attached (the server answered the retry): done. */
void gw_bridge_call_done(struct gw_call *c)
{
	if (c->bridge)
		bridge_free(c->bridge);
}
