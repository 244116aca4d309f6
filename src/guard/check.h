/* guard/check: the contract between the gateway's one checkpoint
 * (gateway/pipeline.c) and the checks that inspect what passes it.
 *
 * Every message a client sends towards a server, and every message the
 * gateway sends to a client (results, errors, notifications, server
 * requests, and the gateway's own answers), is offered to each registered
 * check in order before it leaves.  A check reads the message's bytes and
 * answers:
 *   pass   nothing to do;
 *   edit   byte spans of the message to replace (a check re-encodes only
 *          the strings it changes, so the rest stays the original bytes);
 *   deny   the message must not leave; reason is what the client reads;
 *   pending  the check answers later (a person's approval, an interceptor):
 *          it keeps out->wait and calls gd_wait_decide once, from the loop,
 *          with the outcome run would have given.  The message waits (and
 *          on a client's stream, what follows it waits behind it).
 * Later checks see the edited bytes.  Findings (what was seen, never a
 * secret's value) go to the audit log with the decision taken.
 *
 * Checks are made by the command that runs the gateway and handed to it;
 * the gateway never calls one by name.  A check does no I/O. */
#ifndef MG_GUARD_CHECK_H
#define MG_GUARD_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "json/jx.h"

enum gd_dir { GD_TO_SERVER, GD_TO_CLIENT };
enum gd_kind { GD_REQUEST = 1, GD_NOTIFICATION, GD_RESPONSE };
enum gd_verdict { GD_PASS, GD_EDIT, GD_DENY, GD_PENDING };

struct gd_msg {
	enum gd_dir dir;
	enum gd_kind kind;
	const char *raw;        /* one JSON-RPC message, valid JSON, no newline */
	size_t len;
	const char *method;     /* its method; for a response, the request's (may be NULL) */
	const char *server;     /* the server it goes to or comes from; NULL: the gateway */
	const char *name;       /* tool or prompt name, or URI, when known */
	const char *session;
	/* For a response (and what a server sends during the call it
	 * answers): the arguments of the client's request (params.arguments),
	 * or NULL.  What the user asked for, e.g. the hosts a URL may name. */
	const json_t *request_args;
};

#define GD_MAX_EDITS 256
#define GD_MAX_FINDINGS 16

struct gd_finding {
	char check[24];
	char kind[64];          /* a secret's name or a pattern's kind */
	char detail[192];       /* e.g. the encoding it was found in; for a
				   definition: the field path and the words */
};

struct gd_out;

/* A message held by a check that answered pending (the gateway owns it). */
struct gd_wait {
	void (*decide)(struct gd_wait *w, struct gd_out *out);
};

struct gd_out {
	enum gd_verdict verdict;
	struct gd_wait *wait;   /* for a pending answer: keep it, decide it later */
	struct jx_edit edits[GD_MAX_EDITS];     /* sorted by offset, disjoint; texts owned */
	size_t n_edits;
	const char *outcome;    /* an edit's name in the audit (static; NULL: "redacted") */
	char reason[512];
	struct gd_finding findings[GD_MAX_FINDINGS];
	size_t n_findings;
	size_t more_findings;   /* findings past the array */
};

struct gd_check {
	const char *name;
	/* Inspect m; fill out (verdict starts as pass).  0 or -errno (the
	 * message is then denied: a check that cannot decide fails closed). */
	int (*run)(struct gd_check *c, const struct gd_msg *m, struct gd_out *out);
	/* A message this check holds became moot (its client went away): forget
	 * w, never decide it.  Needed by a check that answers pending. */
	void (*abandon)(struct gd_check *c, struct gd_wait *w);
	void (*free)(struct gd_check *c);
};

/* A pending check's answer: out filled as run would fill it (pass, edit or
 * deny); the gateway applies it and resets out (the edits' texts are
 * freed; out itself stays the check's).  Once per wait, from the loop,
 * never from inside run. */
static inline void gd_wait_decide(struct gd_wait *w, struct gd_out *out)
{
	w->decide(w, out);
}

/* Helpers for checks.  gd_out_edit copies text; -E2BIG past GD_MAX_EDITS. */
int gd_out_edit(struct gd_out *o, size_t off, size_t len, const char *text, size_t text_len);
void gd_out_finding(struct gd_out *o, const char *check, const char *kind, const char *detail);
void gd_out_deny(struct gd_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Free the edit texts and reset to pass. */
void gd_out_reset(struct gd_out *o);

/* ---- Definitions: what servers say about themselves ----
 *
 * Every tool, prompt, resource and resource-template definition a server
 * lists, and its initialize `instructions`, is offered to each registered
 * definition check (gw_config.def_checks) in order before clients can see
 * it.  A check answers:
 *   keep      list it as it is;
 *   replace   list `replacement` instead (a sanitized or annotated copy);
 *   withhold  do not list it, and answer a call to it with `reason`
 *             (a definition held for approval, a poisoned one).
 * Later checks see the replacement; a withheld definition goes no further.
 * The gateway remembers each outcome for the same definition (and the same
 * names of other servers) and offers it again only after the check's
 * watched path changed; so a check is asked once per definition it has not
 * seen, and its findings are audited once.  A definition check may read
 * and write its own small files (a pin store), synchronously. */
enum gd_def_kind { GD_DEF_TOOL, GD_DEF_PROMPT, GD_DEF_RESOURCE, GD_DEF_TEMPLATE,
		   GD_DEF_INSTRUCTIONS };
enum gd_def_action { GD_DEF_KEEP, GD_DEF_REPLACE, GD_DEF_WITHHOLD };

struct gd_def {
	const char *server;             /* the catalog name of the server */
	enum gd_def_kind kind;
	const char *name;               /* tool or prompt name (the server's own), URI,
					   URI template; "instructions" */
	const json_t *def;              /* as listed (for instructions: a JSON string) */
	/* Names of the other servers and their tools and prompts (the names
	 * this server also has left out), NULL-terminated; and 16 bytes that
	 * are the same exactly when the names are (a check may prepare them
	 * once per set). */
	const char *const *other_names;
	const unsigned char *names_id;
};

struct gd_def_out {
	enum gd_def_action action;      /* starts as keep */
	json_t *replacement;            /* replace: the new definition (the gateway takes it) */
	char reason[512];               /* withhold: what a call to it is answered */
	struct gd_finding findings[GD_MAX_FINDINGS];
	size_t n_findings;
	size_t more_findings;
};

struct gd_def_check {
	const char *name;
	/* Review d; fill out.  0 or -errno (the definition is then withheld: a
	 * check that cannot decide fails closed). */
	int (*review)(struct gd_def_check *c, const struct gd_def *d, struct gd_def_out *out);
	/* A file or folder whose change means earlier answers may be stale (a
	 * pin approved from another process); NULL: none.  The gateway watches
	 * it (events are coalesced) and calls reload: true when the state read
	 * now differs from what the check knew (its own writes during review
	 * are not a change), and the gateway then reviews everything again.
	 * review must not write when nothing changed, or watching would loop. */
	const char *(*watch)(struct gd_def_check *c);
	bool (*reload)(struct gd_def_check *c);
	void (*free)(struct gd_def_check *c);
};

/* Names of the kinds as findings and messages spell them: "tool", "prompt",
 * "resource", "resource template", "instructions". */
const char *gd_def_kind_name(enum gd_def_kind k);
void gd_def_out_finding(struct gd_def_out *o, const char *check, const char *kind,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void gd_def_out_withhold(struct gd_def_out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Replace with r (taken; a previous replacement is dropped). */
void gd_def_out_replace(struct gd_def_out *o, json_t *r);
void gd_def_out_reset(struct gd_def_out *o);

#endif
