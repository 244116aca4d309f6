/* The pieces of the HTTP door that need no socket: the strict check of a
 * request head's framing headers (what libmicrohttpd lets through but a
 * front proxy may read differently), the one parse that decides what a
 * POSTed body is, and a log that says a refusal once a second, not once
 * per attempt.  Fuzzed by tests/fuzz/fuzz_http.c. */
#ifndef MG_TP_HTTP_DOOR_H
#define MG_TP_HTTP_DOOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json/jx.h"
#include "rpc/msg.h"

/* ---- request heads (RFC 9112 §3.2, §5, §6.1, §6.3; RFC 9110 §5.5, §7.2) ---- */

struct tp_door_head {
	unsigned content_length;        /* how many of each were seen */
	unsigned transfer_encoding;
	unsigned host;
	uint64_t length;                /* the Content-Length value */
	unsigned status;                /* 0 while acceptable, else 400 or 501 */
	const char *reason;             /* static text, when status != 0 */
};

void tp_door_head_init(struct tp_door_head *h);
/* One header line as the server parsed it (name and value with their
 * lengths, so a NUL inside shows).  Returns h->status. */
unsigned tp_door_head_field(struct tp_door_head *h, const char *name, size_t name_len,
			    const char *value, size_t value_len);
/* After the last field: the checks that need all of them.  http11: the
 * request line said HTTP/1.1 (Host is then required).  Returns h->status. */
unsigned tp_door_head_end(struct tp_door_head *h, bool http11);

/* ---- POSTed bodies ---- */

struct tp_door_msg {
	int code;                       /* 0, or RPC_PARSE_ERROR / RPC_INVALID_REQUEST */
	char why[200];                  /* when code != 0 */
	enum rpc_kind kind;             /* when code == 0 */
	struct jx_span id;              /* the id's exact text; len 0: none or unknown */
	struct jx_span method;          /* with its quotes; len 0: none */
	struct jx_span claim;           /* params._meta protocolVersion claim; len 0: none */
	bool initialize;
};

/* The one parse (strict jansson, as the gateway does it) that decides
 * what a body is: a request, notification or response, or an error to
 * answer with, whose id is known only when the body was valid JSON with a
 * string or integer id.  Always fills out; returns out->code. */
int tp_door_classify(const char *body, size_t len, struct tp_door_msg *out);

/* ---- rate-limited lines ---- */

struct tp_door_ratelog {
	uint64_t last_ms;               /* when the last line was written */
	unsigned long suppressed;       /* left out since */
	bool used;
};

/* Should a line be written now (at most one per interval_ms)?  When it
 * returns true, *suppressed is how many were left out before this one
 * (and the count restarts); when false, this one is counted. */
bool tp_door_ratelog_take(struct tp_door_ratelog *l, uint64_t now_ms, uint64_t interval_ms,
			  unsigned long *suppressed);

/* Copy untrusted text (a path, a peer) into out for a log line or an audit
 * record: printable ASCII only (others become '?'), cut with "..." to fit. */
void tp_door_printable(const char *in, char *out, size_t outsz);

#endif
