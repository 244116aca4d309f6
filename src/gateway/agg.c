/* Aggregation: one set of tools, prompts, resources and templates built
 * from every server's view.  Names get a server prefix when several
 * servers are enabled (`server__tool`), are kept within
 * ^[A-Za-z0-9_-]{1,64}$, and a collision drops the later entry with a
 * warning instead of failing the gateway.  Clients get the lists in pages
 * with opaque cursors. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "gateway/internal.h"

#define NAME_MAX_LEN 64

static const char *const list_keys[] = { "tools", "prompts", "resources", "resourceTemplates" };
static const char *const changed_methods[] = {
	"notifications/tools/list_changed", "notifications/prompts/list_changed",
	"notifications/resources/list_changed", "notifications/resources/list_changed",
};

void gw_agg_init(struct gw_agg *a)
{
	memset(a, 0, sizeof(*a));
	for (size_t k = 0; k < 4; k++)
		a->lists[k] = json_array();
	mg_map_init(&a->tools);
	mg_map_init(&a->prompts);
	mg_map_init(&a->uris);
	mg_map_init(&a->warned);
	mg_map_init(&a->withheld);
}

static void free_entries(struct mg_map *m)
{
	size_t it = 0;
	void *v;

	while (mg_map_next(m, &it, NULL, NULL, &v)) {
		struct gw_entry *e = v;

		free(e->name);
		free(e->orig);
		free(e);
	}
	mg_map_release(m);
}

static void release_withheld(struct gw_agg *a)
{
	size_t it = 0;
	void *v;

	while (mg_map_next(&a->withheld, &it, NULL, NULL, &v))
		free(v);
	mg_map_release(&a->withheld);
	mg_map_init(&a->withheld);
}

static void release_routes(struct gw_agg *a)
{
	release_withheld(a);
	for (size_t k = 0; k < 4; k++)
		json_decref(mg_steal(&a->lists[k]));
	free_entries(&a->tools);
	free_entries(&a->prompts);
	mg_map_release(&a->uris);
	for (size_t i = 0; i < a->n_tmpls; i++)
		free(a->tmpls[i].tmpl);
	free(mg_steal(&a->tmpls));
	a->n_tmpls = 0;
}

void gw_agg_release(struct gw_agg *a)
{
	release_routes(a);
	mg_map_release(&a->warned);
}

/* ---- names ---- */

static bool name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* prefix__orig, with characters outside [A-Za-z0-9_-] replaced by '_'
 * and names over 64 characters shortened to 55 plus '_' and 8 hex digits
 * of a hash of the full name, so that they stay distinct.  Caller frees. */
static char *expose_name(const char *prefix, const char *orig)
{
	struct mg_buf b;
	char *name;
	size_t len;

	mg_buf_init(&b, 4096);
	if (prefix && *prefix)
		mg_buf_addf(&b, "%s__", prefix);
	mg_buf_adds(&b, orig);
	name = mg_buf_detach(&b, &len);
	for (size_t i = 0; i < len; i++)
		if (!name_char_ok(name[i]))
			name[i] = '_';
	if (len == 0) {
		free(name);
		return mg_strdup("_");
	}
	if (len > NAME_MAX_LEN) {
		unsigned char h[4];

		crypto_generichash(h, sizeof(h), (const unsigned char *)name, len, NULL, 0);
		snprintf(name + 55, len - 55 + 1, "_%02x%02x%02x%02x", h[0], h[1], h[2], h[3]);
	}
	return name;
}

/* Rebuilds happen often; say each collision once. */
static void warn_once(struct gw_agg *a, const char *what, const char *name, const char *server)
{
	char key[512];

	snprintf(key, sizeof(key), "%s|%s|%s", what, name, server);
	if (mg_map_gets(&a->warned, key))
		return;
	mg_map_puts(&a->warned, key, (void *)1);
	mg_warn("%s collision: '%s' from server '%s' is dropped (the name is already taken "
		"by another server; give one of them a prefix to keep both)", what, name, server);
}

/* ---- tool filter (--tools and the catalog's tools: allowlist) ---- */

static bool pattern_matches(const char *pat, const char *server, const char *tool)
{
	const char *colon = strchr(pat, ':');

	if (colon) {
		char srvpat[256];
		size_t n = (size_t)(colon - pat);

		if (n >= sizeof(srvpat))
			return false;
		memcpy(srvpat, pat, n);
		srvpat[n] = '\0';
		return mg_glob_match(srvpat, server) && mg_glob_match(colon + 1, tool);
	}
	return mg_glob_match(pat, tool);
}

bool gw_tool_allowed(struct gateway *gw, struct gw_server *srv, const char *tool)
{
	char **allow = srv->def->tools;
	char *const *pats = gw->cfg.tool_patterns;
	bool ok;

	if (allow) {
		ok = false;
		for (size_t i = 0; allow[i] && !ok; i++)
			ok = strcmp(allow[i], tool) == 0;
		if (!ok)
			return false;
	}
	if (!pats || !pats[0])
		return true;
	for (size_t i = 0; pats[i]; i++) {
		char *exposed;

		if (pattern_matches(pats[i], srv->def->name, tool))
			return true;
		exposed = expose_name(srv->prefix, tool);
		ok = !strchr(pats[i], ':') && mg_glob_match(pats[i], exposed);
		free(exposed);
		if (ok)
			return true;
	}
	return false;
}

/* ---- rebuild ---- */

static const enum gd_def_kind def_kinds[] = { GD_DEF_TOOL, GD_DEF_PROMPT, GD_DEF_RESOURCE,
					       GD_DEF_TEMPLATE };
static const char *const withheld_keys[] = { "tool", "prompt", "uri", "template" };

static void withhold(struct gw_agg *a, size_t k, const char *name, const char *reason)
{
	char key[1100];

	snprintf(key, sizeof(key), "%s:%s", withheld_keys[k], name);
	free(mg_map_puts(&a->withheld, key, mg_strdup(reason)));
}

const char *gw_withheld(struct gateway *gw, enum gw_list_kind k, const char *name)
{
	char key[1100];

	if (!name || (size_t)snprintf(key, sizeof(key), "%s:%s", withheld_keys[k], name) >= sizeof(key))
		return NULL;
	return mg_map_gets(&gw->agg.withheld, key);
}

/* What the definition checks let clients see of item (a new reference),
 * or NULL (withheld: recorded under the name clients would use). */
static json_t *reviewed(struct gateway *gw, struct gw_server *srv, size_t k, const char *name,
			const char *exposed, json_t *item)
{
	const char *reason;
	json_t *r = gw_review(gw, srv, def_kinds[k], name, item, &reason);

	if (!r)
		withhold(&gw->agg, k, exposed, reason);
	return r;
}

static void add_named(struct gateway *gw, struct gw_server *srv, json_t *items, size_t k,
		      struct mg_map *routes, json_t *out)
{
	size_t i;
	json_t *item;

	json_array_foreach(items, i, item) {
		const char *orig = jx_str(item, "name");
		struct gw_entry *e;
		json_t *copy, *seen;
		char *name;

		if (!orig)
			continue;
		if (k == GW_LIST_TOOLS && !gw_tool_allowed(gw, srv, orig))
			continue;
		name = expose_name(srv->prefix, orig);
		e = mg_map_gets(routes, name);
		if (e) {
			warn_once(&gw->agg, k == GW_LIST_TOOLS ? "tool name" : "prompt name", name,
				  srv->def->name);
			free(name);
			continue;
		}
		seen = reviewed(gw, srv, k, orig, name, item);
		if (!seen) {
			free(name);
			continue;
		}
		e = MG_NEW(struct gw_entry);
		e->srv = srv;
		e->name = name;
		e->orig = mg_strdup(orig);
		mg_map_puts(routes, name, e);
		copy = json_copy(seen);
		json_decref(seen);
		json_object_set_new(copy, "name", json_string(name));
		json_array_append_new(out, copy);
	}
}

static void add_resources(struct gateway *gw, struct gw_server *srv, json_t *items, json_t *out)
{
	size_t i;
	json_t *item, *seen;

	json_array_foreach(items, i, item) {
		const char *uri = jx_str(item, "uri");

		if (!uri)
			continue;
		if (mg_map_gets(&gw->agg.uris, uri)) {
			warn_once(&gw->agg, "resource URI", uri, srv->def->name);
			continue;
		}
		seen = reviewed(gw, srv, GW_LIST_RESOURCES, uri, uri, item);
		if (!seen)
			continue;
		mg_map_puts(&gw->agg.uris, uri, srv);
		json_array_append_new(out, seen);
	}
}

static void add_templates(struct gateway *gw, struct gw_server *srv, json_t *items, json_t *out)
{
	size_t i;
	json_t *item, *seen;

	json_array_foreach(items, i, item) {
		const char *t = jx_str(item, "uriTemplate");
		struct gw_tmpl *tm;

		if (!t)
			continue;
		seen = reviewed(gw, srv, GW_LIST_TEMPLATES, t, t, item);
		if (!seen)
			continue;
		gw->agg.tmpls = mg_realloc(gw->agg.tmpls, (gw->agg.n_tmpls + 1) * sizeof(*tm));
		tm = &gw->agg.tmpls[gw->agg.n_tmpls++];
		tm->srv = srv;
		tm->tmpl = mg_strdup(t);
		tm->literal_len = strcspn(t, "{");
		json_array_append_new(out, seen);
	}
}

static void review_instructions(struct gateway *gw, struct gw_server *srv)
{
	json_t *text = json_object_get(srv->view, "instructions");
	const char *reason;

	json_decref(mg_steal(&srv->instructions));
	if (json_is_string(text) && json_string_length(text))
		srv->instructions = gw_review(gw, srv, GD_DEF_INSTRUCTIONS, "instructions", text,
					      &reason);
}

void gw_agg_rebuild(struct gateway *gw)
{
	struct gw_agg *a = &gw->agg;
	json_t *old[4];
	bool changed[4], any = false;
	struct mg_list *pos, *tmp;

	for (size_t k = 0; k < 4; k++)
		old[k] = json_incref(a->lists[k]);
	release_routes(a);
	for (size_t k = 0; k < 4; k++)
		a->lists[k] = json_array();
	gw_review_begin(gw);
	for (size_t i = 0; i < gw->n_servers; i++) {
		struct gw_server *srv = gw->servers[i];
		json_t *v = srv->view;

		review_instructions(gw, srv);
		if (!v)
			continue;
		add_named(gw, srv, jx_arr(v, "tools"), GW_LIST_TOOLS, &a->tools, a->lists[0]);
		add_named(gw, srv, jx_arr(v, "prompts"), GW_LIST_PROMPTS, &a->prompts, a->lists[1]);
		add_resources(gw, srv, jx_arr(v, "resources"), a->lists[2]);
		add_templates(gw, srv, jx_arr(v, "resourceTemplates"), a->lists[3]);
	}
	gw_review_end(gw);
	for (size_t k = 0; k < 4; k++) {
		changed[k] = !json_equal(old[k], a->lists[k]);
		any = any || changed[k];
		json_decref(old[k]);
	}
	if (!any)
		return;
	a->generation++;
	/* Tell every initialized client; resources and templates share one
	 * notification. */
	mg_list_each_safe(pos, tmp, &gw->sessions) {
		struct gw_session *s = mg_container_of(pos, struct gw_session, node);

		bool c3[3] = { changed[0], changed[1], changed[2] || changed[3] };

		if (s->modern) {
			gw_modern_lists_changed(s, c3, changed_methods);
			continue;
		}
		if (!s->initialized)
			continue;
		for (size_t k = 0; k < 3; k++) {
			bool c = k == 2 ? changed[2] || changed[3] : changed[k];

			if (c)
				gw_session_notify(s, changed_methods[k], NULL);
		}
	}
}

/* ---- routing by URI ---- */

struct gw_server *gw_route_uri(struct gateway *gw, const char *uri)
{
	struct gw_server *srv = mg_map_gets(&gw->agg.uris, uri), *only = NULL;
	size_t best = 0, n = 0;

	if (srv)
		return srv;
	/* The template with the longest literal prefix of the URI wins. */
	for (size_t i = 0; i < gw->agg.n_tmpls; i++) {
		struct gw_tmpl *t = &gw->agg.tmpls[i];

		if (strcmp(t->tmpl, uri) == 0)
			return t->srv;
		if (t->literal_len >= best && strncmp(t->tmpl, uri, t->literal_len) == 0 &&
		    (t->literal_len > best || !srv)) {
			best = t->literal_len;
			srv = t->srv;
		}
	}
	if (srv && best > 0)
		return srv;
	/* A URI no list mentions (servers may serve more than they list):
	 * only unambiguous when one server offers resources at all. */
	for (size_t i = 0; i < gw->n_servers; i++) {
		if (gw_server_has_cap(gw->servers[i], "resources")) {
			only = gw->servers[i];
			n++;
		}
	}
	return n == 1 ? only : NULL;
}

/* ---- pages ---- */

static void encode_cursor(uint32_t gen, uint64_t offset, char out[25])
{
	unsigned char raw[12];

	memcpy(raw, &gen, 4);
	memcpy(raw + 4, &offset, 8);
	sodium_bin2hex(out, 25, raw, sizeof(raw));
}

static int decode_cursor(const char *s, uint32_t *gen, uint64_t *offset)
{
	unsigned char raw[12];
	size_t n;

	if (strlen(s) != 24 ||
	    sodium_hex2bin(raw, sizeof(raw), s, 24, NULL, &n, NULL) || n != sizeof(raw))
		return -EINVAL;
	memcpy(gen, raw, 4);
	memcpy(offset, raw + 4, 8);
	return 0;
}

int gw_agg_page(struct gateway *gw, enum gw_list_kind kind, const json_t *params,
		json_t **result, const char **error)
{
	json_t *all = gw->agg.lists[kind], *page;
	size_t total = json_array_size(all), size = gw->cfg.page_size;
	const char *cursor = jx_str(params, "cursor");
	uint64_t offset = 0;
	uint32_t gen = 0;
	char next[25];

	if (cursor) {
		if (decode_cursor(cursor, &gen, &offset)) {
			*error = "Invalid cursor";
			return -EINVAL;
		}
		if (gen != gw->agg.generation) {
			*error = "Invalid cursor: the list changed since it was issued; list again "
				 "from the start";
			return -ESTALE;
		}
		if (offset > total) {
			*error = "Invalid cursor";
			return -EINVAL;
		}
	}
	if (!size)
		size = total ? total : 1;
	page = json_array();
	for (size_t i = (size_t)offset; i < total && i < offset + size; i++)
		json_array_append(page, json_array_get(all, i));
	*result = json_object();
	json_object_set_new(*result, list_keys[kind], page);
	if (offset + size < total) {
		encode_cursor(gw->agg.generation, offset + size, next);
		json_object_set_new(*result, "nextCursor", json_string(next));
	}
	return 0;
}

/* ---- capabilities and instructions ---- */

json_t *gw_agg_capabilities(struct gateway *gw)
{
	bool prompts = false, resources = false, subscribe = false, completions = false,
	     logging = false;
	json_t *caps = json_object();

	for (size_t i = 0; i < gw->n_servers; i++) {
		json_t *c = jx_obj(gw->servers[i]->view, "capabilities");

		prompts = prompts || json_object_get(c, "prompts");
		resources = resources || json_object_get(c, "resources");
		subscribe = subscribe || jx_bool(jx_obj(c, "resources"), "subscribe", false);
		completions = completions || json_object_get(c, "completions");
		logging = logging || json_object_get(c, "logging");
	}
	/* The gateway announces list changes itself (servers come and go,
	 * caches are refreshed), whatever the servers declare. */
	json_object_set_new(caps, "tools", json_pack("{sb}", "listChanged", 1));
	if (prompts)
		json_object_set_new(caps, "prompts", json_pack("{sb}", "listChanged", 1));
	if (resources)
		json_object_set_new(caps, "resources",
				    json_pack("{sbsb}", "listChanged", 1, "subscribe", subscribe));
	if (completions)
		json_object_set_new(caps, "completions", json_object());
	if (logging)
		json_object_set_new(caps, "logging", json_object());
	return caps;
}

json_t *gw_agg_instructions(struct gateway *gw)
{
	struct mg_buf b;
	json_t *out;

	mg_buf_init(&b, 1 << 20);
	for (size_t i = 0; i < gw->n_servers; i++) {
		const char *text = json_string_value(gw->servers[i]->instructions);

		if (!text || !*text)
			continue;
		if (gw->n_servers == 1) {
			mg_buf_adds(&b, text);
			break;
		}
		mg_buf_addf(&b, "%s## %s\n%s", b.len ? "\n\n" : "", gw->servers[i]->def->name, text);
	}
	out = b.len ? json_stringn(b.data, b.len) : NULL;
	mg_buf_release(&b);
	return out;
}
