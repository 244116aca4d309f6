/* Gateway creation, the deadline sweep, and shutdown. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "base/time.h"
#include "catalog/listcache.h"
#include "gateway/internal.h"

#define SWEEP_MS 100


/* The gateway keeps its own copy of each definition it runs. */


static void sweep_cb(uv_timer_t *t)
{
	struct gateway *gw = t->data;
	uint64_t now = mg_now_ms();

	gw_calls_sweep(gw, now);
	gw_s2c_sweep(gw, now);
	gw_bridges_sweep(gw, now);
	gw_upstreams_sweep(gw, now);
}

/* Can this entry run here?  Explains why not. */
static bool runnable(const struct cat_server *s)
{
	if (s->remote_url)
		return true;
	if (s->command && s->command[0]) {
		if (s->image)
			mg_info("server '%s': running its command natively; image '%s' is not used",
				s->name, s->image);
		return true;
	}
	if (s->image)
		mg_warn("server '%s' is skipped: it only gives image '%s', which needs a container "
			"runtime; give it a 'command:' to run it natively", s->name, s->image);
	else
		mg_warn("server '%s' is skipped: it has no command (remote servers are not "
			"supported yet)", s->name);
	return false;
}

const struct gw_secret *gw_secret_find(struct gateway *gw, const char *name)
{
	for (size_t i = 0; name && i < gw->cfg.n_secrets; i++)
		if (strcmp(gw->cfg.secrets[i].name, name) == 0)
			return &gw->cfg.secrets[i];
	return NULL;
}

static void add_server(struct gateway *gw, const struct cat_server *def)
{
	struct gw_server *srv = MG_NEW(struct gw_server);

	srv->gw = gw;
	srv->idx = gw->n_servers;
	srv->def = cat_server_dup(def);
	cat_server_digest(srv->def, srv->digest);
	srv->timeout_ms = def->timeout_ms ? def->timeout_ms : gw->cfg.timeout_ms;
	srv->startup_timeout_ms = def->startup_timeout_ms ? def->startup_timeout_ms
							   : gw->cfg.startup_timeout_ms;
	mg_map_init(&srv->subs);
	for (size_t i = 0; i < def->n_secrets; i++)
		if (!gw_secret_find(gw, def->secrets[i].name))
			mg_warn("server '%s': secret '%s' has no value, so %s is not set (set it with "
				"'mcpguard secret set %s', a --secrets file or the environment)", def->name,
				def->secrets[i].name ? def->secrets[i].name : "?",
				def->secrets[i].env ? def->secrets[i].env : "its variable",
				def->secrets[i].name ? def->secrets[i].name : "NAME");
	gw->servers = mg_realloc(gw->servers, (gw->n_servers + 1) * sizeof(srv));
	gw->servers[gw->n_servers++] = srv;
}

static void set_prefixes(struct gateway *gw)
{
	bool prefix = gw->cfg.prefix == GW_PREFIX_ALWAYS ||
		      (gw->cfg.prefix == GW_PREFIX_AUTO && gw->n_servers > 1);

	for (size_t i = 0; i < gw->n_servers; i++) {
		struct gw_server *srv = gw->servers[i];

		if (srv->def->prefix)
			srv->prefix = mg_strdup(srv->def->prefix);
		else
			srv->prefix = mg_strdup(prefix ? srv->def->name : "");
	}
}

static void setup_sandboxes(struct gateway *gw)
{
	struct mg_err err;
	bool any = false;

	for (size_t i = 0; i < gw->n_servers; i++)
		any = any || (gw->servers[i]->def->command && !gw->servers[i]->def->remote_url);
	if (!any)
		return;
	if (geteuid() == 0)
		sbx_sweep_leftovers();
	if (sbx_filter_build(&gw->filter, &err) == 0)
		gw->filter_ok = true;
	else
		mg_warn("cannot build the seccomp filter: %s", err.msg);
	for (size_t i = 0; i < gw->n_servers; i++)
		gw_sandbox_prepare(gw->servers[i]);
}

int gw_create(struct gateway **out, uv_loop_t *loop, const struct gw_config *cfg,
	      const struct catalog *cat, char *const *names, struct mg_err *err)
{
	struct gateway *gw = MG_NEW(struct gateway);
	int rc;

	gw->loop = loop;
	gw->cfg = *cfg;
	mg_list_init(&gw->sessions);
	mg_list_init(&gw->instances);
	gw_agg_init(&gw->agg);
	if (names) {
		for (size_t i = 0; names[i]; i++) {
			const struct cat_server *s = catalog_find(cat, names[i]);

			if (!s) {
				gw_free(gw);
				return mg_err_set(err, -ENOENT,
						  "server '%s' is not in the catalog (see 'mcpguard "
						  "gateway run --help' for --catalog)", names[i]);
			}
			if (runnable(s))
				add_server(gw, s);
		}
	} else {
		for (size_t i = 0; i < cat->n_servers; i++)
			if (runnable(&cat->servers[i]))
				add_server(gw, &cat->servers[i]);
	}
	set_prefixes(gw);
	gw_limits_init(gw);
	setup_sandboxes(gw);
	for (size_t i = 0; i < gw->n_servers; i++)
		gw_server_load_cache(gw->servers[i]);
	rc = gw_review_start(gw, err);
	if (rc) {
		gw_free(gw);
		return rc;
	}
	gw_agg_rebuild(gw);
	uv_timer_init(loop, &gw->sweep);
	gw->sweep.data = gw;
	uv_timer_start(&gw->sweep, sweep_cb, SWEEP_MS, SWEEP_MS);
	uv_unref((uv_handle_t *)&gw->sweep);
	uv_timer_init(loop, &gw->release);
	gw->release.data = gw;
	*out = gw;
	return 0;
}

size_t gw_server_count(const struct gateway *gw)
{
	return gw->n_servers;
}

size_t gw_config_max_message(const struct gateway *gw)
{
	return gw->cfg.max_message;
}

void gw_maybe_finish_shutdown(struct gateway *gw)
{
	void (*done)(struct gateway *, void *) = gw->shutdown_done;

	if (!gw->shutting_down || !done || !mg_list_empty(&gw->instances) ||
	    !mg_list_empty(&gw->sessions))
		return;
	gw->shutdown_done = NULL;
	uv_timer_stop(&gw->sweep);
	uv_timer_stop(&gw->release);
	done(gw, gw->shutdown_ctx);
}

void gw_shutdown(struct gateway *gw, void (*done)(struct gateway *gw, void *ctx), void *ctx)
{
	struct mg_list *pos, *tmp;

	gw->shutting_down = true;
	gw->shutdown_done = done;
	gw->shutdown_ctx = ctx;
	mg_list_each_safe(pos, tmp, &gw->instances)
		gw_upstream_stop(mg_container_of(pos, struct gw_upstream, node),
				 "the gateway is shutting down");
	/* Keep the sweep alive: it escalates stops to SIGTERM and SIGKILL. */
	uv_ref((uv_handle_t *)&gw->sweep);
	gw_maybe_finish_shutdown(gw);
}

static void timer_closed(uv_handle_t *h)
{
	struct gateway *gw = h->data;

	if (--gw->open_timers == 0)
		free(gw);
}

void gw_free(struct gateway *gw)
{
	if (!gw)
		return;
	if (gw->rereview.loop)
		gw_review_release(gw);
	for (size_t i = 0; i < gw->n_servers; i++) {
		struct gw_server *srv = gw->servers[i];

		free(srv->shared.last_error);
		json_decref(srv->view);
		json_decref(srv->instructions);
		mg_map_release(&srv->subs);
		free(srv->prefix);
		gw_sandbox_release(srv);
		cat_server_free(srv->def);
		free(srv);
	}
	free(gw->servers);
	gw_pipeline_release(gw);
	gw_limits_release(gw);
	sbx_filter_release(&gw->filter);
	gw_agg_release(&gw->agg);
	if (gw->rereview.loop) {
		gw->open_timers++;
		uv_close((uv_handle_t *)&gw->rereview, timer_closed);
	}
	if (gw->sweep.loop) {
		gw->open_timers += 2;   /* the last close callback frees */
		uv_close((uv_handle_t *)&gw->sweep, timer_closed);
		uv_close((uv_handle_t *)&gw->release, timer_closed);
	}
	if (gw->open_timers)
		return;
	free(gw);
}
