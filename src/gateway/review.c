/* Definitions offered to the definition checks (guard/check.h) before a
 * client can see them.  Aggregation (agg.c) asks gw_review for every tool,
 * prompt, resource and template a server lists, and for its instructions;
 * each registered check answers keep, replace or withhold, in order.  An
 * outcome is remembered by a digest of what was reviewed (server, kind,
 * name, the definition, the names of the other servers), so a rebuild
 * asks again only about what changed and a finding is reported once.
 * When a check's watched path changes (a pin approved from another
 * process), the check reloads; if its state moved, every outcome is
 * forgotten and the lists are rebuilt, which tells clients list_changed
 * where they differ. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "gateway/internal.h"

#define REVIEW_COALESCE_MS 50

struct gw_outcome {
	json_t *item;           /* what clients see; NULL: withheld */
	char *reason;           /* withheld: what a call is answered */
	unsigned mark;          /* the rebuild that last used it */
};

struct gw_watch {
	uv_fs_event_t ev;
	struct gateway *gw;
};

static const char *const kind_keys[] = { "tool", "prompt", "resource", "template",
					 "instructions" };

/* ---- other servers' names, per server ---- */

static void add_names(struct gw_names *n, size_t owner, const char *name)
{
	if (!name || !*name)
		return;
	if (n->len == n->cap) {
		n->cap = n->cap ? n->cap * 2 : 64;
		n->name = mg_realloc(n->name, n->cap * sizeof(*n->name));
		n->owner = mg_realloc(n->owner, n->cap * sizeof(*n->owner));
	}
	n->name[n->len] = name;
	n->owner[n->len++] = owner;
}

/* (owner, name) pairs, for "does server i have this name too". */
static void pair_key(size_t owner, const char *name, struct mg_buf *b)
{
	b->len = 0;
	mg_buf_add(b, &owner, sizeof(owner));
	mg_buf_adds(b, name);
}

/* Every server's and every listed tool's and prompt's name, then for
 * server i the ones another server has and i has not, and a digest of
 * that set (an outcome depends on it: shadowing). */
static void names_build(struct gateway *gw)
{
	struct gw_names *n = &gw->review_names;
	struct mg_map pairs;
	struct mg_buf key;

	n->len = 0;
	mg_map_init(&pairs);
	mg_buf_init(&key, 4096);
	for (size_t i = 0; i < gw->n_servers; i++) {
		struct gw_server *srv = gw->servers[i];
		static const char *const keys[] = { "tools", "prompts" };

		add_names(n, i, srv->def->name);
		for (size_t k = 0; k < 2; k++) {
			size_t j;
			json_t *item;

			json_array_foreach(jx_arr(srv->view, keys[k]), j, item)
				add_names(n, i, jx_str(item, "name"));
		}
	}
	for (size_t j = 0; j < n->len; j++) {
		pair_key(n->owner[j], n->name[j], &key);
		mg_map_put(&pairs, key.data, key.len, &pairs);
	}
	for (size_t i = 0; i < gw->n_servers; i++) {
		struct gw_server *srv = gw->servers[i];
		crypto_generichash_state h;
		size_t m = 0;

		srv->other_names = mg_realloc(srv->other_names, (n->len + 1) * sizeof(char *));
		crypto_generichash_init(&h, NULL, 0, sizeof(srv->names_digest));
		for (size_t j = 0; j < n->len; j++) {
			if (n->owner[j] == i)
				continue;
			pair_key(i, n->name[j], &key);
			if (mg_map_get(&pairs, key.data, key.len))
				continue;
			srv->other_names[m++] = n->name[j];
			crypto_generichash_update(&h, (const unsigned char *)n->name[j],
						  strlen(n->name[j]) + 1);
		}
		srv->other_names[m] = NULL;
		crypto_generichash_final(&h, srv->names_digest, sizeof(srv->names_digest));
	}
	mg_buf_release(&key);
	mg_map_release(&pairs);
}

void gw_review_begin(struct gateway *gw)
{
	if (!gw->cfg.n_def_checks)
		return;
	gw->review_mark++;
	names_build(gw);
}

/* Outcomes no rebuild used since the last one are dropped. */
void gw_review_end(struct gateway *gw)
{
	size_t it = 0;
	const char *key;
	size_t klen;
	void *v;

	if (!gw->cfg.n_def_checks)
		return;
	while (mg_map_next(&gw->reviews, &it, &key, &klen, &v)) {
		struct gw_outcome *o = v;

		if (o->mark == gw->review_mark)
			continue;
		mg_map_del(&gw->reviews, key, klen);
		json_decref(o->item);
		free(o->reason);
		free(o);
	}
	for (size_t i = 0; i < gw->n_servers; i++)
		free(mg_steal(&gw->servers[i]->other_names));
}

static void forget_all(struct gateway *gw)
{
	size_t it = 0;
	void *v;

	while (mg_map_next(&gw->reviews, &it, NULL, NULL, &v)) {
		struct gw_outcome *o = v;

		json_decref(o->item);
		free(o->reason);
		free(o);
	}
	mg_map_release(&gw->reviews);
	mg_map_init(&gw->reviews);
}

/* ---- one review ---- */

static int digest_key(struct gw_server *srv, enum gd_def_kind kind, const char *name,
		      const json_t *item, char out[33])
{
	unsigned char d[16];
	crypto_generichash_state h;
	char *text = json_dumps(item, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

	if (!text)
		return -ENOMEM;
	crypto_generichash_init(&h, NULL, 0, sizeof(d));
	crypto_generichash_update(&h, (const unsigned char *)srv->def->name,
				  strlen(srv->def->name) + 1);
	crypto_generichash_update(&h, (const unsigned char *)kind_keys[kind],
				  strlen(kind_keys[kind]) + 1);
	crypto_generichash_update(&h, (const unsigned char *)name, strlen(name) + 1);
	crypto_generichash_update(&h, srv->names_digest, sizeof(srv->names_digest));
	crypto_generichash_update(&h, (const unsigned char *)text, strlen(text));
	crypto_generichash_final(&h, d, sizeof(d));
	free(text);
	sodium_bin2hex(out, 33, d, sizeof(d));
	return 0;
}

static const char *outcome_name(enum gd_def_action a)
{
	return a == GD_DEF_WITHHOLD ? "withheld" : a == GD_DEF_REPLACE ? "changed" : "listed";
}

static void report(struct gateway *gw, struct gw_server *srv, const struct gd_def *d,
		   const struct gd_def_out *o)
{
	const char *what = gd_def_kind_name(d->kind);

	for (size_t i = 0; i < o->n_findings; i++) {
		const struct gd_finding *f = &o->findings[i];
		struct aud_record r = {
			.server = srv->def->name,
			.method = "definition",
			.name = d->name,
			.upstream_id = -1,
			.outcome = outcome_name(o->action),
			.check = f->check,
			.finding = f->kind,
			.detail = f->detail,
			.error = o->action == GD_DEF_WITHHOLD ? o->reason : NULL,
		};

		aud_write(gw->cfg.audit, &r);
		mg_warn("server '%s', %s '%s': %s: %s%s%s", srv->def->name, what, d->name, f->check,
			f->kind, f->detail[0] ? ": " : "", f->detail);
	}
	if (o->more_findings)
		mg_warn("server '%s', %s '%s': %zu more findings", srv->def->name, what, d->name,
			o->more_findings);
	if (o->action == GD_DEF_WITHHOLD)
		mg_warn("server '%s', %s '%s' is not listed: %s", srv->def->name, what, d->name,
			o->reason);
	else if (o->action == GD_DEF_REPLACE && o->n_findings)
		mg_warn("server '%s', %s '%s' is listed changed (see the findings above)",
			srv->def->name, what, d->name);
}

/* Run every check on item; the outcome (new). */
static struct gw_outcome *run_checks(struct gateway *gw, struct gw_server *srv,
				     enum gd_def_kind kind, const char *name, json_t *item)
{
	struct gw_outcome *res = MG_NEW(struct gw_outcome);
	struct gd_def_out o;
	json_t *cur = json_incref(item);

	memset(&o, 0, sizeof(o));
	for (size_t i = 0; i < gw->cfg.n_def_checks && cur; i++) {
		struct gd_def_check *c = gw->cfg.def_checks[i];
		struct gd_def d = {
			.server = srv->def->name,
			.kind = kind,
			.name = name,
			.def = cur,
			.other_names = (const char *const *)srv->other_names,
			.names_id = srv->names_digest,
		};
		int rc;

		gd_def_out_reset(&o);
		rc = c->review(c, &d, &o);
		if (rc) {
			gd_def_out_withhold(&o, "%s '%s' of server '%s' could not be checked by %s: %s",
					    gd_def_kind_name(kind), name, srv->def->name, c->name,
					    strerror(-rc));
		}
		report(gw, srv, &d, &o);
		if (o.action == GD_DEF_WITHHOLD) {
			res->reason = mg_strdup(o.reason);
			json_decref(mg_steal(&cur));
		} else if (o.action == GD_DEF_REPLACE && o.replacement) {
			json_decref(cur);
			cur = mg_steal(&o.replacement);
		}
	}
	gd_def_out_reset(&o);
	res->item = cur;
	return res;
}

json_t *gw_review(struct gateway *gw, struct gw_server *srv, enum gd_def_kind kind,
		  const char *name, json_t *item, const char **reason)
{
	struct gw_outcome *o;
	char key[33];

	*reason = NULL;
	if (!gw->cfg.n_def_checks)
		return json_incref(item);
	if (digest_key(srv, kind, name, item, key)) {
		*reason = "the gateway ran out of memory while checking it";
		return NULL;
	}
	o = mg_map_gets(&gw->reviews, key);
	if (!o) {
		o = run_checks(gw, srv, kind, name, item);
		mg_map_puts(&gw->reviews, key, o);
	}
	o->mark = gw->review_mark;
	*reason = o->reason;
	return json_incref(o->item);
}

/* ---- watching what the checks keep ---- */

static void rereview_cb(uv_timer_t *t)
{
	struct gateway *gw = t->data;
	bool moved = false;

	for (size_t i = 0; i < gw->cfg.n_def_checks; i++) {
		struct gd_def_check *c = gw->cfg.def_checks[i];

		if (c->reload && c->reload(c))
			moved = true;
	}
	if (!moved || gw->shutting_down)
		return;
	mg_info("definition checks: their state changed; reviewing every definition again");
	forget_all(gw);
	gw_agg_rebuild(gw);
}

static void watch_cb(uv_fs_event_t *ev, const char *file, int events, int status)
{
	struct gw_watch *w = ev->data;

	(void)file;
	(void)events;
	if (status < 0)
		return;
	/* One write is several events (a temporary file, a rename). */
	if (!uv_is_active((uv_handle_t *)&w->gw->rereview))
		uv_timer_start(&w->gw->rereview, rereview_cb, REVIEW_COALESCE_MS, 0);
}

int gw_review_start(struct gateway *gw, struct mg_err *err)
{
	mg_map_init(&gw->reviews);
	uv_timer_init(gw->loop, &gw->rereview);
	gw->rereview.data = gw;
	for (size_t i = 0; i < gw->cfg.n_def_checks; i++) {
		struct gd_def_check *c = gw->cfg.def_checks[i];
		const char *path = c->watch ? c->watch(c) : NULL;
		struct gw_watch *w;
		int rc;

		if (!path)
			continue;
		if (gw->n_watches == sizeof(gw->watches) / sizeof(gw->watches[0]))
			return mg_err_set(err, -E2BIG, "too many definition checks watch a path");
		w = MG_NEW(struct gw_watch);
		w->gw = gw;
		uv_fs_event_init(gw->loop, &w->ev);
		w->ev.data = w;
		rc = uv_fs_event_start(&w->ev, watch_cb, path, 0);
		gw->watches[gw->n_watches++] = w;
		if (rc)
			return mg_err_set(err, rc, "cannot watch %s (for %s): %s", path, c->name,
					  uv_strerror(rc));
		uv_unref((uv_handle_t *)&w->ev);
	}
	uv_unref((uv_handle_t *)&gw->rereview);
	return 0;
}

static void watch_closed(uv_handle_t *h)
{
	free(h->data);
}

void gw_review_release(struct gateway *gw)
{
	forget_all(gw);
	mg_map_release(&gw->reviews);
	for (size_t i = 0; i < gw->n_watches; i++)
		uv_close((uv_handle_t *)&gw->watches[i]->ev, watch_closed);
	gw->n_watches = 0;
	free(mg_steal(&gw->review_names.name));
	free(mg_steal(&gw->review_names.owner));
	for (size_t i = 0; i < gw->n_servers; i++)
		free(mg_steal(&gw->servers[i]->other_names));
}
