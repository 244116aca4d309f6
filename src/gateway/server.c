/* Server views: what each server offers (capabilities, tools, prompts,
 * resources, templates), from the disk cache or listed live.  Listing
 * reads every page a server returns.  A live listing that differs from
 * what clients were shown updates the cache and announces list_changed. */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "catalog/listcache.h"
#include "gateway/internal.h"

#define MAX_PAGES 1000          /* per list: stops a server that never ends */

static const struct {
	const char *method;
	const char *key;        /* array in the result and in the view */
	const char *cap;        /* capability that enables it */
} lists[] = {
	{ "tools/list", "tools", "tools" },
	{ "prompts/list", "prompts", "prompts" },
	{ "resources/list", "resources", "resources" },
	{ "resources/templates/list", "resourceTemplates", "resources" },
};

struct page_ctx {
	struct gw_upstream *up;
	size_t kind;
	unsigned pages;
};

void gw_server_load_cache(struct gw_server *srv)
{
	json_t *v = lc_load(srv->gw->cfg.cache_dir, srv->digest);

	if (!v)
		return;
	json_decref(srv->view);
	srv->view = v;
	srv->view_state = GW_VIEW_CACHED;
}

bool gw_server_has_cap(struct gw_server *srv, const char *cap)
{
	return json_object_get(jx_obj(srv->view, "capabilities"), cap) != NULL;
}

bool gw_discovery_running(struct gateway *gw)
{
	for (size_t i = 0; i < gw->n_servers; i++)
		if (gw->servers[i]->discovering)
			return true;
	return false;
}

static void discovery_over(struct gw_server *srv)
{
	srv->discovering = false;
	gw_agg_rebuild(srv->gw);
	gw_sessions_discovery_done(srv->gw);
}

size_t gw_discover_missing(struct gateway *gw, struct gw_session *s)
{
	size_t started = 0;

	for (size_t i = 0; i < gw->n_servers; i++) {
		struct gw_server *srv = gw->servers[i];
		struct gw_upstream *up;
		struct mg_err err;

		if (srv->discovering ||
		    (srv->view_state != GW_VIEW_NONE && srv->view_state != GW_VIEW_FAILED))
			continue;
		if (srv->def->lifecycle == CAT_PER_CALL) {
			up = gw_upstream_start(srv, GW_UP_DISCOVERY, s, NULL, &err);
			srv->discovery = up;
		} else {
			up = gw_instance_for(s, srv, &err);
		}
		if (!up) {
			srv->view_state = GW_VIEW_FAILED;
			continue;
		}
		/* Servers start in parallel; each lists itself once ready. */
		srv->discovering = true;
		up->list_refresh = true;
		started++;
	}
	return started;
}

static void list_page(struct gw_upstream *up, size_t kind, const char *cursor,
		      unsigned pages);

static void listing_done(struct gw_upstream *up)
{
	struct gw_server *srv = up->srv;
	bool changed;

	changed = !json_equal(srv->view, up->listing_view);
	json_decref(srv->view);
	srv->view = mg_steal(&up->listing_view);
	srv->view_state = GW_VIEW_LIVE;
	up->list_refresh = false;
	if (changed && lc_save(srv->gw->cfg.cache_dir, srv->digest, srv->view,
			       srv->gw->cfg.redact, srv->gw->cfg.redact_ctx))
		mg_debug("could not write the list cache for '%s'", srv->def->name);
	if (srv->discovery == up) {
		srv->discovery = NULL;
		gw_upstream_stop(up, "discovery finished");
	}
	discovery_over(srv);
	if (up->relist_pending && up->state == GW_UP_READY) {
		up->relist_pending = false;
		gw_server_refresh(srv, up);
	}
}

static void on_page(struct gw_call *c, struct rpc_msg *resp, const char *error)
{
	struct page_ctx *pc = c->internal_ctx;
	struct gw_upstream *up = pc->up;
	const char *key = lists[pc->kind].key;
	json_t *result, *items, *into;
	const char *next;

	if (!resp) {
		/* Timeout or a dying instance: give up this listing. */
		free(pc);
		if (--up->listing == 0) {
			json_decref(mg_steal(&up->listing_view));
			if (up->list_refresh) {
				up->list_refresh = false;
				gw_server_refresh(up->srv, NULL);
			}
		}
		return;
	}
	result = json_object_get(resp->root, "result");
	items = jx_arr(result, key);
	into = json_object_get(up->listing_view, key);
	if (resp->is_error)
		mg_warn("%s: %s failed: %s", up->label, lists[pc->kind].method,
			jx_str(jx_obj(resp->root, "error"), "message") ?: "error");
	else if (items)
		json_array_extend(into, items);
	next = resp->is_error ? NULL : jx_str(result, "nextCursor");
	/* Only an absent nextCursor ends a list; an empty string does not. */
	if (next && pc->pages + 1 < MAX_PAGES) {
		list_page(up, pc->kind, next, pc->pages + 1);
	} else {
		if (next)
			mg_warn("%s: %s returned more than %d pages; the rest is ignored",
				up->label, lists[pc->kind].method, MAX_PAGES);
		if (--up->listing == 0)
			listing_done(up);
	}
	free(pc);
}

static void list_page(struct gw_upstream *up, size_t kind, const char *cursor, unsigned pages)
{
	struct page_ctx *pc = MG_NEW(struct page_ctx);
	json_t *params = json_object();

	pc->up = up;
	pc->kind = kind;
	pc->pages = pages;
	if (cursor)
		json_object_set_new(params, "cursor", json_string(cursor));
	gw_call_internal(up, lists[kind].method, params, up->srv->timeout_ms, on_page, pc);
}

void gw_server_refresh(struct gw_server *srv, struct gw_upstream *up)
{
	json_t *info;

	if (!up) {
		/* An instance died before its listing finished. */
		if (srv->discovering) {
			if (srv->view_state == GW_VIEW_NONE)
				srv->view_state = GW_VIEW_FAILED;
			discovery_over(srv);
		}
		return;
	}
	if (up->listing) {
		up->relist_pending = true;
		return;
	}
	if (up->state != GW_UP_READY) {
		up->list_refresh = true;
		return;
	}
	info = up->init_result;
	up->listing_view = json_pack("{sosOss}", "serverInfo",
				     jx_obj(info, "serverInfo") ? json_incref(jx_obj(info, "serverInfo"))
								: json_object(),
				     "capabilities", up->caps, "protocolVersion", up->version);
	if (jx_str(info, "instructions"))
		json_object_set_new(up->listing_view, "instructions",
				    json_string(jx_str(info, "instructions")));
	for (size_t k = 0; k < MG_ARRAY_LEN(lists); k++) {
		json_object_set_new(up->listing_view, lists[k].key, json_array());
		if (json_object_get(up->caps, lists[k].cap))
			up->listing++;
	}
	if (up->listing == 0) {
		listing_done(up);
		return;
	}
	for (size_t k = 0; k < MG_ARRAY_LEN(lists); k++)
		if (json_object_get(up->caps, lists[k].cap))
			list_page(up, k, NULL, 0);
}
