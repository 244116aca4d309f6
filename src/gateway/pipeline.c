/* The one checkpoint: every client request on its way to a server, and
 * every message on its way to a client, is offered to the registered checks
 * (guard/check.h) here, in order, before it leaves.  Edits are applied to
 * the bytes (later checks see them); a denial stops the message; a check
 * that answers pending holds it until it decides, and the later checks run
 * then; every finding is an audit record with the decision taken. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "gateway/internal.h"

#define MAX_HOLDS_PER_SESSION 256

/* A message a check holds, and where it goes once decided. */
struct gw_hold {
	struct gd_wait wait;            /* what the check keeps */
	struct mg_list node;            /* s->holds */
	struct gateway *gw;
	struct gw_session *s;
	size_t check;                   /* the check that answered pending */
	struct gd_msg m;                /* strings below owned; request_args a reference */
	char *method, *server, *name;
	char *line;
	size_t len;
	struct gw_wait_spec spec;
};

static const char *decision(enum gd_dir dir, enum gd_verdict v, const struct gd_out *o)
{
	if (v == GD_EDIT)
		return o->outcome ? o->outcome : "redacted";
	if (v == GD_DENY)
		return dir == GD_TO_SERVER ? "refused" : "blocked";
	if (v == GD_PENDING)
		return "held";
	return "logged";
}

static void audit_findings(struct gateway *gw, const struct gd_msg *m, const struct gd_out *o,
			   enum gd_verdict v)
{
	for (size_t i = 0; i < o->n_findings; i++) {
		const struct gd_finding *f = &o->findings[i];
		struct aud_record r = {
			.session = m->session,
			.server = m->server,
			.method = m->method,
			.name = m->name,
			.upstream_id = -1,
			.outcome = decision(m->dir, v, o),
			.check = f->check,
			.finding = f->kind,
			.detail = f->detail,
			.error = v == GD_DENY ? o->reason : NULL,
		};

		aud_write(gw->cfg.audit, &r);
		mg_info("%s %s %s %s%s%s: %s (%s)", decision(m->dir, v, o),
			m->dir == GD_TO_SERVER ? "a request to" : "a message from",
			m->server ? "server" : "the gateway", m->server ? m->server : "",
			m->method ? ", " : "", m->method ? m->method : "", f->kind, f->detail);
	}
	if (o->more_findings)
		mg_info("%s: %zu more findings in the same message", decision(m->dir, v, o), o->more_findings);
}

/* One check's outcome applied: edits spliced into the line.  The verdict
 * that stands (an edit that cannot be applied denies). */
static enum gd_verdict apply(struct gateway *gw, struct gd_check *c, struct gd_msg *m,
			     struct gd_out *o, char **line, size_t *len, char *reason, size_t reason_len)
{
	audit_findings(gw, m, o, o->verdict);
	if (o->verdict == GD_DENY) {
		snprintf(reason, reason_len, "%s", o->reason);
		return GD_DENY;
	}
	if (o->verdict == GD_EDIT) {
		struct mg_buf b;
		char *next;
		size_t n;

		mg_buf_init(&b, gw->cfg.max_message + 64);
		if (jx_splice(m->raw, m->len, o->edits, o->n_edits, &b) || mg_buf_addc(&b, '\n')) {
			mg_buf_release(&b);
			snprintf(reason, reason_len, "mcpguard could not rewrite this message (%s)", c->name);
			return GD_DENY;
		}
		next = mg_buf_detach(&b, &n);
		free(*line);
		*line = next;
		*len = n;
		m->raw = *line;
		m->len = n - 1;
	}
	return o->verdict;
}

static void hold_decide(struct gd_wait *w, struct gd_out *out);

/* What a check is handed as its wait: the gateway's spare hold, made
 * once and filled only when a check answers pending (then a new spare is
 * made for the next message), so no message pays for an allocation. */
static struct gw_hold *spare(struct gateway *gw)
{
	if (!gw->spare_hold) {
		gw->spare_hold = MG_NEW(struct gw_hold);
		gw->spare_hold->wait.decide = hold_decide;
		mg_list_init(&gw->spare_hold->node);
	}
	return gw->spare_hold;
}

/* The spare becomes the message's hold: it takes the line and copies
 * what the message's description points at. */
static void hold_fill(struct gw_hold *h, struct gateway *gw, const struct gd_msg *m, char *line,
		      size_t len, const struct gw_wait_spec *spec)
{
	h->gw = gw;
	h->s = spec->s;
	h->m = *m;
	h->method = m->method ? mg_strdup(m->method) : NULL;
	h->server = m->server ? mg_strdup(m->server) : NULL;
	h->name = m->name ? mg_strdup(m->name) : NULL;
	h->m.method = h->method;
	h->m.server = h->server;
	h->m.name = h->name;
	h->m.session = spec->s->id;
	h->m.request_args = json_incref((json_t *)(uintptr_t)m->request_args);
	h->line = line;
	h->len = len;
	h->spec = *spec;
	h->spec.ctx = spec->make ? spec->make(spec->s, spec->arg) : spec->arg;
	h->spec.arg = NULL;
	mg_list_add_tail(&spec->s->holds, &h->node);
	spec->s->n_holds++;
	gw->spare_hold = NULL;
}

static void hold_free(struct gw_hold *h)
{
	mg_list_del(&h->node);
	h->s->n_holds--;
	free(h->line);
	free(h->method);
	free(h->server);
	free(h->name);
	json_decref((json_t *)(uintptr_t)h->m.request_args);
	free(h);
}

/* Checks from..n_checks on the message.  With a hold (a message already
 * waiting) a pending answer keeps waiting in it; without one, a hold is
 * made if the caller can wait (spec), else pending is a denial. */
static enum gd_verdict run_from(struct gateway *gw, struct gd_msg *m, char **line, size_t *len,
				char *reason, size_t reason_len, size_t from,
				const struct gw_wait_spec *spec, struct gw_hold **hold)
{
	struct gd_out *o = &gw->check_out;
	enum gd_verdict result = GD_PASS, v;

	m->raw = *line;
	m->len = *len && (*line)[*len - 1] == '\n' ? *len - 1 : *len;
	for (size_t i = from; i < gw->cfg.n_checks; i++) {
		struct gd_check *c = gw->cfg.checks[i];
		struct gw_hold *h = *hold;
		int rc;

		gd_out_reset(o);
		if (!h && spec && spec->s->n_holds < MAX_HOLDS_PER_SESSION)
			h = spare(gw);
		o->wait = h ? &h->wait : NULL;
		rc = c->run(c, m, o);
		if (rc < 0) {
			/* a check that cannot decide fails closed */
			gd_out_reset(o);
			gd_out_deny(o, "mcpguard could not check this message (%s: %s)", c->name,
				    strerror(-rc));
			gd_out_finding(o, c->name, "check-failed", strerror(-rc));
		}
		if (o->verdict == GD_PENDING && (!h || !c->abandon)) {
			gd_out_reset(o);
			gd_out_deny(o, "mcpguard could not hold this message for %s (%s)", c->name,
				    h ? "the check cannot let go of it" : !spec ? "this message cannot wait"
				    : "too many messages of this session wait already");
		}
		if (o->verdict == GD_PENDING) {
			audit_findings(gw, m, o, GD_PENDING);
			if (!*hold) {
				hold_fill(h, gw, m, *line, *len, spec);
				*line = NULL;
			}
			h->check = i;
			*hold = h;
			gd_out_reset(o);
			return GD_PENDING;
		}
		v = apply(gw, c, m, o, line, len, reason, reason_len);
		if (v == GD_DENY) {
			result = GD_DENY;
			break;
		}
		if (v == GD_EDIT)
			result = GD_EDIT;
	}
	gd_out_reset(o);
	return result;
}

enum gd_verdict gw_pipeline_run(struct gateway *gw, struct gd_msg *m, char **line, size_t *len,
				char *reason, size_t reason_len, const struct gw_wait_spec *spec)
{
	struct gw_hold *hold = NULL;

	return run_from(gw, m, line, len, reason, reason_len, 0, spec, &hold);
}

/* A held message's check decided: the rest of the checks run, then the
 * caller that waits gets the verdict and the bytes. */
static void hold_decide(struct gd_wait *w, struct gd_out *out)
{
	struct gw_hold *h = mg_container_of(w, struct gw_hold, wait);
	struct gateway *gw = h->gw;
	struct gd_check *c = gw->cfg.checks[h->check];
	char reason[512] = "";
	enum gd_verdict v;
	char *line;
	size_t len;

	h->m.raw = h->line;
	h->m.len = h->len - 1;
	if (out->verdict == GD_PENDING) {
		gd_out_reset(out);
		gd_out_deny(out, "mcpguard: %s decided nothing", c->name);
	}
	v = apply(gw, c, &h->m, out, &h->line, &h->len, reason, sizeof(reason));
	gd_out_reset(out);
	if (v != GD_DENY) {
		struct gw_hold *again = h;

		v = run_from(gw, &h->m, &h->line, &h->len, reason, sizeof(reason), h->check + 1,
			     &h->spec, &again);
		if (v == GD_PENDING)
			return;                 /* a later check holds it now */
	}
	line = mg_steal(&h->line);
	len = h->len;
	{
		struct gw_wait_spec spec = h->spec;

		hold_free(h);
		spec.done(spec.s, spec.ctx, v, line, len, reason);
	}
}

static void let_go(struct gw_hold *h)
{
	struct gd_check *c = h->gw->cfg.checks[h->check];

	c->abandon(c, &h->wait);
	if (h->spec.ctx_free)
		h->spec.ctx_free(h->spec.ctx);
	hold_free(h);
}

bool gw_pipeline_drop(struct gw_session *s, bool (*match)(const struct gw_wait_spec *spec, void *arg),
		      void *arg)
{
	struct mg_list *pos, *tmp;

	mg_list_each_safe(pos, tmp, &s->holds) {
		struct gw_hold *h = mg_container_of(pos, struct gw_hold, node);

		if (match(&h->spec, arg)) {
			let_go(h);
			return true;
		}
	}
	return false;
}

void gw_pipeline_session_closed(struct gw_session *s)
{
	struct mg_list *pos, *tmp;

	mg_list_each_safe(pos, tmp, &s->holds)
		let_go(mg_container_of(pos, struct gw_hold, node));
}

void gw_pipeline_release(struct gateway *gw)
{
	gd_out_reset(&gw->check_out);
	free(gw->spare_hold);
	gw->spare_hold = NULL;
}
