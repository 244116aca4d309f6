/* guard/check: helpers for the checks' outcomes (see check.h). */
#include "guard/check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

int gd_out_edit(struct gd_out *o, size_t off, size_t len, const char *text, size_t text_len)
{
	size_t at = o->n_edits;

	if (o->n_edits == GD_MAX_EDITS)
		return -E2BIG;
	/* keep them sorted: checks add in document order, so this is a
	 * short walk back at most */
	while (at > 0 && o->edits[at - 1].at.off > off) {
		o->edits[at] = o->edits[at - 1];
		at--;
	}
	o->edits[at] = (struct jx_edit){ { off, len }, mg_memdup0(text, text_len), text_len };
	o->n_edits++;
	if (o->verdict == GD_PASS)
		o->verdict = GD_EDIT;
	return 0;
}

void gd_out_finding(struct gd_out *o, const char *check, const char *kind, const char *detail)
{
	struct gd_finding *f;

	for (size_t i = 0; i < o->n_findings; i++) {
		f = &o->findings[i];
		if (strcmp(f->check, check) == 0 && strcmp(f->kind, kind) == 0 &&
		    strcmp(f->detail, detail ? detail : "") == 0)
			return;         /* once per message */
	}
	if (o->n_findings == GD_MAX_FINDINGS) {
		o->more_findings++;
		return;
	}
	f = &o->findings[o->n_findings++];
	snprintf(f->check, sizeof(f->check), "%s", check);
	snprintf(f->kind, sizeof(f->kind), "%s", kind);
	snprintf(f->detail, sizeof(f->detail), "%s", detail ? detail : "");
}

void gd_out_deny(struct gd_out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->reason, sizeof(o->reason), fmt, ap);
	va_end(ap);
	o->verdict = GD_DENY;
}

void gd_out_reset(struct gd_out *o)
{
	for (size_t i = 0; i < o->n_edits; i++)
		free((char *)(uintptr_t)o->edits[i].text);
	o->n_edits = 0;
	o->outcome = NULL;
	o->n_findings = 0;
	o->more_findings = 0;
	o->reason[0] = '\0';
	o->verdict = GD_PASS;
	o->wait = NULL;
}

/* ---- definition checks ---- */

const char *gd_def_kind_name(enum gd_def_kind k)
{
	static const char *const names[] = { "tool", "prompt", "resource", "resource template",
					      "instructions" };

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "definition";
}

void gd_def_out_finding(struct gd_def_out *o, const char *check, const char *kind,
			const char *fmt, ...)
{
	struct gd_finding *f;
	va_list ap;

	if (o->n_findings == GD_MAX_FINDINGS) {
		o->more_findings++;
		return;
	}
	f = &o->findings[o->n_findings++];
	snprintf(f->check, sizeof(f->check), "%s", check);
	snprintf(f->kind, sizeof(f->kind), "%s", kind);
	va_start(ap, fmt);
	vsnprintf(f->detail, sizeof(f->detail), fmt, ap);
	va_end(ap);
}

void gd_def_out_withhold(struct gd_def_out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->reason, sizeof(o->reason), fmt, ap);
	va_end(ap);
	json_decref(o->replacement);
	o->replacement = NULL;
	o->action = GD_DEF_WITHHOLD;
}

void gd_def_out_replace(struct gd_def_out *o, json_t *r)
{
	json_decref(o->replacement);
	o->replacement = r;
	o->action = GD_DEF_REPLACE;
}

void gd_def_out_reset(struct gd_def_out *o)
{
	json_decref(o->replacement);
	memset(o, 0, sizeof(*o));
}
