/* The one checkpoint: every client request on its way to a server, and
 * every message on its way to a client, is offered to the registered checks
 * (guard/check.h) here, in order, before it leaves.  Edits are applied to
 * the bytes (later checks see them); a denial stops the message; every
 * finding is an audit record with the decision taken. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "gateway/internal.h"

static const char *decision(enum gd_dir dir, enum gd_verdict v)
{
	if (v == GD_EDIT)
		return "redacted";
	if (v == GD_DENY)
		return dir == GD_TO_SERVER ? "refused" : "blocked";
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
			.outcome = decision(m->dir, v),
			.check = f->check,
			.finding = f->kind,
			.detail = f->detail,
			.error = v == GD_DENY ? o->reason : NULL,
		};

		aud_write(gw->cfg.audit, &r);
		mg_info("%s %s %s %s%s%s: %s (%s)", decision(m->dir, v),
			m->dir == GD_TO_SERVER ? "a request to" : "a message from",
			m->server ? "server" : "the gateway", m->server ? m->server : "",
			m->method ? ", " : "", m->method ? m->method : "", f->kind, f->detail);
	}
	if (o->more_findings)
		mg_info("%s: %zu more findings in the same message", decision(m->dir, v), o->more_findings);
}

enum gd_verdict gw_pipeline_run(struct gateway *gw, struct gd_msg *m, char **line, size_t *len,
				char *reason, size_t reason_len)
{
	struct gd_out *o = &gw->check_out;
	enum gd_verdict result = GD_PASS;

	m->raw = *line;
	m->len = *len && (*line)[*len - 1] == '\n' ? *len - 1 : *len;
	for (size_t i = 0; i < gw->cfg.n_checks; i++) {
		struct gd_check *c = gw->cfg.checks[i];
		int rc;

		gd_out_reset(o);
		rc = c->run(c, m, o);
		if (rc < 0) {
			/* a check that cannot decide fails closed */
			gd_out_reset(o);
			gd_out_deny(o, "mcpguard could not check this message (%s: %s)", c->name,
				    strerror(-rc));
			gd_out_finding(o, c->name, "check-failed", strerror(-rc));
		}
		audit_findings(gw, m, o, o->verdict);
		if (o->verdict == GD_DENY) {
			snprintf(reason, reason_len, "%s", o->reason);
			result = GD_DENY;
			break;
		}
		if (o->verdict == GD_EDIT) {
			struct mg_buf b;
			char *next;
			size_t n;

			mg_buf_init(&b, gw->cfg.max_message + 64);
			if (jx_splice(m->raw, m->len, o->edits, o->n_edits, &b) || mg_buf_addc(&b, '\n')) {
				mg_buf_release(&b);
				snprintf(reason, reason_len, "mcpguard could not rewrite this message (%s)",
					 c->name);
				result = GD_DENY;
				break;
			}
			next = mg_buf_detach(&b, &n);
			free(*line);
			*line = next;
			*len = n;
			m->raw = *line;
			m->len = n - 1;
			result = GD_EDIT;
		}
	}
	gd_out_reset(o);
	return result;
}

void gw_pipeline_release(struct gateway *gw)
{
	gd_out_reset(&gw->check_out);
}
