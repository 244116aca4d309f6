/* gateway/agg.c through the gateway's internal API: names, prefixes,
 * collisions, filters, routes by URI, pages and cursors, merged
 * capabilities; gateway/limits.c: the instance caps and the fd reserve;
 * the checkpoint (pending checks, a response's request arguments).
 * Server views and instances are set by hand; no process is started. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "gateway/internal.h"

struct fx {
	uv_loop_t loop;
	struct catalog cat;
	struct gateway *gw;
	char *patterns[4];
};

static const char catalog_text[] =
	"registry:\n"
	"  alpha:\n"
	"    command: [/bin/true]\n"
	"  beta:\n"
	"    command: [/bin/true]\n"
	"  gamma:\n"
	"    command: [/bin/true]\n"
	"    prefix: g\n"
	"    tools: [keep]\n";

/* Definition checks the next setup_gw hands the gateway. */
static struct gd_def_check *const *g_def_checks;
static size_t g_n_def_checks;

static struct fx *setup_gw(enum gw_prefix_mode mode, char **patterns, size_t page)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct gw_config cfg = {
		.prefix = mode, .tool_patterns = patterns, .page_size = page,
		.max_message = 1 << 20, .timeout_ms = 1000, .startup_timeout_ms = 1000,
		.human_timeout_ms = 1000, .def_checks = g_def_checks, .n_def_checks = g_n_def_checks,
	};
	struct mg_err err;

	uv_loop_init(&f->loop);
	catalog_init(&f->cat);
	assert_int_equal(catalog_load_string(&f->cat, catalog_text, strlen(catalog_text), "t", &err), 0);
	assert_int_equal(gw_create(&f->gw, &f->loop, &cfg, &f->cat, NULL, &err), 0);
	return f;
}

static void teardown_gw(struct fx *f)
{
	gw_free(f->gw);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	catalog_release(&f->cat);
	free(f);
}

static void set_view(struct gateway *gw, size_t i, const char *json)
{
	json_error_t e;
	json_t *v = json_loads(json, 0, &e);

	assert_non_null(v);
	json_decref(gw->servers[i]->view);
	gw->servers[i]->view = v;
	gw->servers[i]->view_state = GW_VIEW_LIVE;
}

static json_t *names_of(struct gateway *gw, enum gw_list_kind k)
{
	json_t *out = json_array(), *item;
	size_t i;

	json_array_foreach(gw->agg.lists[k], i, item)
		json_array_append(out, json_object_get(item, "name"));
	return out;
}

static void assert_names(struct gateway *gw, enum gw_list_kind k, const char *expect)
{
	json_t *n = names_of(gw, k);
	char *got = json_dumps(n, JSON_COMPACT);

	assert_string_equal(got, expect);
	free(got);
	json_decref(n);
}

static void test_prefixes_and_collisions(void **state)
{
	struct fx *f = setup_gw(GW_PREFIX_AUTO, NULL, 100);
	struct gateway *gw = f->gw;
	struct gw_entry *e;

	set_view(gw, 0, "{\"capabilities\":{\"tools\":{}},\"tools\":[{\"name\":\"echo\",\"inputSchema\":{\"type\":\"object\"}},{\"name\":\"a.b c\"}]}");
	set_view(gw, 1, "{\"capabilities\":{\"tools\":{}},\"tools\":[{\"name\":\"echo\"}]}");
	set_view(gw, 2, "{\"capabilities\":{\"tools\":{}},\"tools\":[{\"name\":\"keep\"},{\"name\":\"drop\"}]}");
	gw_agg_rebuild(gw);
	/* Several servers: prefixed; invalid characters become '_'; gamma's
	 * explicit prefix and its tools: allowlist apply. */
	assert_names(gw, GW_LIST_TOOLS, "[\"alpha__echo\",\"alpha__a_b_c\",\"beta__echo\",\"g__keep\"]");
	e = mg_map_gets(&gw->agg.tools, "alpha__a_b_c");
	assert_non_null(e);
	assert_string_equal(e->orig, "a.b c");
	assert_string_equal(e->srv->def->name, "alpha");
	/* The rest of each item is untouched. */
	assert_string_equal(json_string_value(json_object_get(json_object_get(
		json_array_get(gw->agg.lists[GW_LIST_TOOLS], 0), "inputSchema"), "type")), "object");
	teardown_gw(f);

	f = setup_gw(GW_PREFIX_NEVER, NULL, 100);
	gw = f->gw;
	set_view(gw, 0, "{\"tools\":[{\"name\":\"echo\"}]}");
	set_view(gw, 1, "{\"tools\":[{\"name\":\"echo\"},{\"name\":\"other\"}]}");
	gw_agg_rebuild(gw);
	/* The collision drops beta's echo, not the gateway. */
	assert_names(gw, GW_LIST_TOOLS, "[\"echo\",\"other\"]");
	e = mg_map_gets(&gw->agg.tools, "echo");
	assert_string_equal(e->srv->def->name, "alpha");
	teardown_gw(f);
}

static void test_long_names(void **state)
{
	struct fx *f = setup_gw(GW_PREFIX_ALWAYS, NULL, 100);
	struct gateway *gw = f->gw;
	char view[512];
	const char *a, *b;

	snprintf(view, sizeof(view), "{\"tools\":[{\"name\":\"%s\"},{\"name\":\"%sX\"}]}",
		 "a_tool_name_that_goes_on_and_on_and_on_well_past_the_limit_of_64",
		 "a_tool_name_that_goes_on_and_on_and_on_well_past_the_limit_of_64");
	set_view(gw, 0, view);
	gw_agg_rebuild(gw);
	a = json_string_value(json_object_get(json_array_get(gw->agg.lists[0], 0), "name"));
	b = json_string_value(json_object_get(json_array_get(gw->agg.lists[0], 1), "name"));
	assert_int_equal(strlen(a), 64);
	assert_int_equal(strlen(b), 64);
	assert_string_not_equal(a, b);          /* the hash suffix keeps them apart */
	assert_memory_equal(a, "alpha__a_tool_name", 18);
	teardown_gw(f);
}

static void test_tool_patterns(void **state)
{
	char *pats[] = { "alpha:ec*", "beta__other", "gamma:*", NULL };
	struct fx *f = setup_gw(GW_PREFIX_AUTO, pats, 100);
	struct gateway *gw = f->gw;

	set_view(gw, 0, "{\"tools\":[{\"name\":\"echo\"},{\"name\":\"skip\"}]}");
	set_view(gw, 1, "{\"tools\":[{\"name\":\"echo\"},{\"name\":\"other\"}]}");
	set_view(gw, 2, "{\"tools\":[{\"name\":\"keep\"},{\"name\":\"drop\"}]}");
	gw_agg_rebuild(gw);
	assert_names(gw, GW_LIST_TOOLS, "[\"alpha__echo\",\"beta__other\",\"g__keep\"]");
	teardown_gw(f);
}

static void test_pages_and_cursors(void **state)
{
	struct fx *f = setup_gw(GW_PREFIX_NEVER, NULL, 2);
	struct gateway *gw = f->gw;
	json_t *params = json_object(), *res;
	const char *err = NULL, *cursor;
	char *saved;

	set_view(gw, 0, "{\"tools\":[{\"name\":\"t1\"},{\"name\":\"t2\"},{\"name\":\"t3\"}]}");
	gw_agg_rebuild(gw);
	assert_int_equal(gw_agg_page(gw, GW_LIST_TOOLS, params, &res, &err), 0);
	assert_int_equal(json_array_size(json_object_get(res, "tools")), 2);
	cursor = json_string_value(json_object_get(res, "nextCursor"));
	assert_non_null(cursor);
	saved = strdup(cursor);
	json_decref(res);
	json_object_set_new(params, "cursor", json_string(saved));
	assert_int_equal(gw_agg_page(gw, GW_LIST_TOOLS, params, &res, &err), 0);
	assert_int_equal(json_array_size(json_object_get(res, "tools")), 1);
	assert_null(json_object_get(res, "nextCursor"));
	json_decref(res);
	/* A forged cursor and a stale one are refused. */
	json_object_set_new(params, "cursor", json_string("not-a-cursor"));
	assert_int_not_equal(gw_agg_page(gw, GW_LIST_TOOLS, params, &res, &err), 0);
	assert_non_null(strstr(err, "Invalid cursor"));
	set_view(gw, 0, "{\"tools\":[{\"name\":\"t1\"}]}");
	gw_agg_rebuild(gw);
	json_object_set_new(params, "cursor", json_string(saved));
	assert_int_not_equal(gw_agg_page(gw, GW_LIST_TOOLS, params, &res, &err), 0);
	assert_non_null(strstr(err, "changed"));
	free(saved);
	json_decref(params);
	teardown_gw(f);
}

static void test_uri_routes_and_capabilities(void **state)
{
	struct fx *f = setup_gw(GW_PREFIX_AUTO, NULL, 100);
	struct gateway *gw = f->gw;
	json_t *caps;

	set_view(gw, 0, "{\"capabilities\":{\"resources\":{\"subscribe\":true}},"
		 "\"resources\":[{\"uri\":\"file:///a\"}],"
		 "\"resourceTemplates\":[{\"uriTemplate\":\"db://{table}/rows\"}]}");
	set_view(gw, 1, "{\"capabilities\":{\"resources\":{},\"completions\":{}},"
		 "\"resources\":[{\"uri\":\"file:///a\"},{\"uri\":\"file:///b\"}],"
		 "\"resourceTemplates\":[{\"uriTemplate\":\"db://users/{id}\"}]}");
	gw_agg_rebuild(gw);
	assert_string_equal(gw_route_uri(gw, "file:///a")->def->name, "alpha"); /* first wins */
	assert_string_equal(gw_route_uri(gw, "file:///b")->def->name, "beta");
	/* The longest literal prefix of a template decides. */
	assert_string_equal(gw_route_uri(gw, "db://users/7")->def->name, "beta");
	assert_string_equal(gw_route_uri(gw, "db://orders/rows")->def->name, "alpha");
	assert_null(gw_route_uri(gw, "http://elsewhere/"));     /* two candidates: refuse */
	caps = gw_agg_capabilities(gw);
	assert_true(json_is_true(json_object_get(json_object_get(caps, "resources"), "subscribe")));
	assert_non_null(json_object_get(caps, "completions"));
	assert_null(json_object_get(caps, "prompts"));
	assert_null(json_object_get(caps, "logging"));
	assert_non_null(json_object_get(caps, "tools"));
	json_decref(caps);
	teardown_gw(f);
}

/* ---- limits.c ---- */

static const struct gw_session_ops no_ops;

static struct gw_session *session_of(struct gateway *gw, const char *principal)
{
	struct gw_session *s = gw_session_open(gw, &no_ops, NULL);

	gw_session_set_principal(s, principal);
	return s;
}

/* An instance as the gateway counts it, without a process. */
static struct gw_upstream *fake_instance(struct gateway *gw, struct gw_session *owner,
					 enum gw_up_kind kind)
{
	struct gw_upstream *up = MG_NEW(struct gw_upstream);

	up->gw = gw;
	up->srv = gw->servers[0];
	up->owner = owner;
	up->kind = kind;
	up->state = GW_UP_READY;
	mg_map_init(&up->pending);
	mg_list_init(&up->waiting);
	mg_list_init(&up->node);
	gw_limits_count(up);
	return up;
}

static void fake_free(struct gw_upstream *up)
{
	gw_limits_uncount(up);
	mg_map_release(&up->pending);
	free(up->principal);
	free(up);
}

static void test_limits(void **state)
{
	struct fx *f = setup_gw(GW_PREFIX_AUTO, NULL, 0);
	struct gateway *gw = f->gw;
	struct gw_server *srv = gw->servers[0];
	struct gw_session *p1 = session_of(gw, "p"), *p2 = session_of(gw, "p");
	struct gw_session *q = session_of(gw, "q"), *r = session_of(gw, "r");
	struct gw_upstream *a, *b;
	struct mg_err err;

	/* Derived from RLIMIT_NOFILE and memory when not given. */
	assert_true(gw->max_instances >= 1);
	assert_int_equal(gw->max_per_client, gw->max_instances);
	assert_true(gw->fd_reserve >= gw->nofile / 10);
	gw->max_instances = 2;
	gw->max_per_client = 1;
	gw->cfg.reclaim_idle_ms = GW_RECLAIM_NEVER;

	a = fake_instance(gw, p1, GW_UP_SESSION);
	assert_int_equal(gw->live, 1);
	assert_string_equal(a->principal, "p");
	assert_int_equal(gw_limits_admit(srv, GW_UP_SESSION, p2, &err), -EDQUOT);
	assert_string_equal(gw->refused, "max-instances-per-client");
	assert_string_equal(err.msg, "server 'alpha' cannot start: this client runs 1 server "
			    "instances, its limit (--max-instances-per-client)");
	assert_int_equal(gw_limits_admit(srv, GW_UP_CALL, q, &err), 0);
	assert_null(gw->refused);
	b = fake_instance(gw, q, GW_UP_CALL);
	assert_int_equal(gw_limits_admit(srv, GW_UP_SESSION, r, &err), -EDQUOT);
	assert_string_equal(gw->refused, "max-instances");
	assert_string_equal(err.msg, "server 'alpha' cannot start: the gateway runs 2 server "
			    "instances, its limit (--max-instances)");
	/* The gateway's own instances are not refused by the caps... */
	assert_int_equal(gw_limits_admit(srv, GW_UP_SHARED, NULL, &err), 0);
	assert_int_equal(gw_limits_admit(srv, GW_UP_DISCOVERY, r, &err), 0);
	/* ...but by the file descriptors, as everything. */
	gw->nofile = gw->fd_reserve + 40;
	gw->fds_counted_ms = 0;
	assert_int_equal(gw_limits_admit(srv, GW_UP_SHARED, NULL, &err), -EDQUOT);
	assert_string_equal(gw->refused, "file-descriptors");
	assert_non_null(strstr(err.msg, "file descriptors open and keeps"));
	assert_non_null(strstr(err.msg, "(RLIMIT_NOFILE)"));
	gw->nofile = 0;                 /* unknown: not checked */

	/* Stopping or gone: no longer counted (once). */
	gw_limits_uncount(a);
	gw_limits_uncount(a);
	assert_int_equal(gw->live, 1);
	assert_null(mg_map_gets(&gw->principals, "p"));
	assert_int_equal(gw_limits_admit(srv, GW_UP_SESSION, p2, &err), 0);
	fake_free(a);
	fake_free(b);
	assert_int_equal(gw->live, 0);
	assert_int_equal(gw->principals.count, 0);
	gw_session_close(p1);
	gw_session_close(p2);
	gw_session_close(q);
	gw_session_close(r);
	teardown_gw(f);
}

/* ---- the checkpoint: a check that holds messages (pending) ---- */

struct pend_check {
	struct gd_check base;
	struct gd_wait *waits[8];
	size_t n;
	int abandoned;
};

static int pend_run(struct gd_check *c, const struct gd_msg *m, struct gd_out *out)
{
	struct pend_check *pc = (struct pend_check *)c;

	if (memmem(m->raw, m->len, "hold-me", 7)) {
		assert_non_null(out->wait);
		pc->waits[pc->n++] = out->wait;
		out->verdict = GD_PENDING;
	}
	return 0;
}

static void pend_abandon(struct gd_check *c, struct gd_wait *w)
{
	struct pend_check *pc = (struct pend_check *)c;

	for (size_t i = 0; i < pc->n; i++)
		if (pc->waits[i] == w)
			pc->waits[i] = NULL;
	pc->abandoned++;
}

static void decide(struct pend_check *pc, size_t i, enum gd_verdict v)
{
	struct gd_out *o = mg_calloc(1, sizeof(*o));
	struct gd_wait *w = pc->waits[i];

	assert_non_null(w);
	pc->waits[i] = NULL;
	o->verdict = v;
	if (v == GD_DENY)
		gd_out_deny(o, "a person said no");
	gd_wait_decide(w, o);
	gd_out_reset(o);
	free(o);
}

struct sent {
	char lines[8][512];
	size_t n;
};

static int record_send(struct gw_session *s, struct gw_out *out)
{
	struct sent *t = gw_session_transport(s);

	snprintf(t->lines[t->n++ % 8], sizeof(t->lines[0]), "%.*s", (int)out->len, out->line);
	free(out->line);
	return 0;
}

static void no_close(struct gw_session *s)
{
}

static const struct gw_session_ops record_ops = { record_send, no_close };

static void test_pending_checks(void **state)
{
	struct pend_check pc = { { "pend", pend_run, pend_abandon, NULL }, { 0 }, 0, 0 };
	struct gd_check *checks[] = { &pc.base };
	struct fx *f = setup_gw(GW_PREFIX_AUTO, NULL, 0);
	struct gateway *gw = f->gw;
	struct sent t = { .n = 0 };
	struct gw_session *s;
	const char *call = "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\","
			   "\"params\":{\"name\":\"alpha__t\",\"arguments\":{\"x\":\"hold-me\"}}}";

	gw->cfg.checks = checks;
	gw->cfg.n_checks = 1;
	set_view(gw, 0, "{\"tools\":[{\"name\":\"t\",\"inputSchema\":{\"type\":\"object\"}}]}");
	gw_agg_rebuild(gw);
	s = gw_session_open(gw, &record_ops, &t);

	/* To the client: a held message holds back what follows it. */
	gw_session_notify(s, "notifications/message", json_pack("{ss}", "data", "hold-me 1"));
	gw_session_notify(s, "notifications/message", json_pack("{ss}", "data", "after 1"));
	assert_int_equal(t.n, 0);
	assert_int_equal(pc.n, 1);
	decide(&pc, 0, GD_PASS);
	assert_int_equal(t.n, 2);
	assert_non_null(strstr(t.lines[0], "hold-me 1"));
	assert_non_null(strstr(t.lines[1], "after 1"));

	/* Denied: a notification leaves a gap, a response becomes the refusal. */
	gw_session_notify(s, "notifications/message", json_pack("{ss}", "data", "hold-me 2"));
	gw_session_result(s, "7", 1, json_pack("{ss}", "text", "hold-me 3"));
	gw_session_notify(s, "notifications/message", json_pack("{ss}", "data", "after 2"));
	assert_int_equal(t.n, 2);
	decide(&pc, 2, GD_DENY);   /* the response first: still behind the first */
	assert_int_equal(t.n, 2);
	decide(&pc, 1, GD_DENY);
	assert_int_equal(t.n, 4);
	assert_non_null(strstr(t.lines[2], "\"id\":7"));
	assert_non_null(strstr(t.lines[2], "a person said no"));
	assert_null(strstr(t.lines[2], "hold-me"));
	assert_non_null(strstr(t.lines[3], "after 2"));

	/* To a server: a held request starts nothing; denied, the client gets
	 * a tool error with the reason. */
	pc.n = 0;
	gw_session_recv(s, call, strlen(call));
	assert_int_equal(pc.n, 1);
	assert_int_equal(gw->live, 0);
	assert_true(mg_list_empty(&gw->instances));
	decide(&pc, 0, GD_DENY);
	assert_int_equal(t.n, 5);
	assert_non_null(strstr(t.lines[4], "\"id\":5"));
	assert_non_null(strstr(t.lines[4], "\"isError\":true"));
	assert_non_null(strstr(t.lines[4], "a person said no"));

	/* The client cancels a request a check holds: the check lets go of it,
	 * and nothing is answered. */
	pc.n = 0;
	gw_session_recv(s, call, strlen(call));
	assert_int_equal(pc.n, 1);
	{
		const char *cancel = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
				     "\"params\":{\"requestId\":5}}";

		gw_session_recv(s, cancel, strlen(cancel));
	}
	assert_int_equal(pc.abandoned, 1);
	assert_null(pc.waits[0]);
	assert_int_equal(t.n, 5);

	/* The session goes while a request and a message wait: the check is
	 * told to let go of both; nothing leaks (ASan). */
	pc.n = 0;
	gw_session_recv(s, call, strlen(call));
	gw_session_notify(s, "notifications/message", json_pack("{ss}", "data", "hold-me 4"));
	assert_int_equal(pc.n, 2);
	gw_session_close(s);
	assert_int_equal(pc.abandoned, 3);
	assert_null(pc.waits[0]);
	assert_null(pc.waits[1]);
	teardown_gw(f);
}

/* ---- the checkpoint: a response carries its request's arguments ---- */

struct args_check {
	struct gd_check base;
	char seen[8][128];
	size_t n;
	bool hold;
	struct gd_wait *wait;
};

static int args_run(struct gd_check *c, const struct gd_msg *m, struct gd_out *out)
{
	struct args_check *ac = (struct args_check *)c;
	char *d = m->request_args ? json_dumps(m->request_args, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	snprintf(ac->seen[ac->n++ % 8], sizeof(ac->seen[0]), "%s", d ? d : "(none)");
	free(d);
	if (ac->hold && out->wait) {
		ac->wait = out->wait;
		out->verdict = GD_PENDING;
	}
	return 0;
}

static void args_abandon(struct gd_check *c, struct gd_wait *w)
{
}

static void test_response_carries_request_args(void **state)
{
	struct args_check first = { { "first", args_run, args_abandon, NULL }, { { 0 } }, 0, true, NULL };
	struct args_check second = { { "second", args_run, args_abandon, NULL }, { { 0 } }, 0, false, NULL };
	struct gd_check *checks[] = { &first.base, &second.base };
	struct fx *f = setup_gw(GW_PREFIX_AUTO, NULL, 0);
	struct gateway *gw = f->gw;
	struct sent t = { .n = 0 };
	struct gw_session *s;
	struct gw_upstream *up;
	struct gw_call *c;
	struct rpc_msg m;
	char why[128], *idr = NULL, line[160];
	int64_t id;

	gw->cfg.checks = checks;
	gw->cfg.n_checks = 2;
	s = gw_session_open(gw, &record_ops, &t);
	up = fake_instance(gw, s, GW_UP_SESSION);
	c = gw_call_new(s, "tools/call");
	c->key = mg_strdup("n:9");
	c->client_id = mg_strdup("9");
	c->client_id_len = 1;
	c->name = mg_strdup("alpha__fetch");
	c->arguments = json_pack("{ss}", "url", "https://example.org/page");
	id = gw_call_register(up, c, 1000);
	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"content\":[]}}",
		 (long long)id);
	assert_int_equal(rpc_parse(line, strlen(line), &m, why, sizeof(why), &idr), 0);
	/* the response reaches the checks with the request's arguments; the
	 * first holds it, and the call (and its arguments) is gone before it
	 * decides: the second check still sees them (the hold keeps a reference) */
	gw_call_complete(up, &m);
	rpc_msg_release(&m);
	free(idr);
	assert_int_equal(first.n, 1);
	assert_string_equal(first.seen[0], "{\"url\":\"https://example.org/page\"}");
	assert_int_equal(t.n, 0);
	{
		struct gd_out *o = mg_calloc(1, sizeof(*o));

		o->verdict = GD_PASS;
		gd_wait_decide(first.wait, o);
		gd_out_reset(o);
		free(o);
	}
	assert_int_equal(second.n, 1);
	assert_string_equal(second.seen[0], "{\"url\":\"https://example.org/page\"}");
	assert_int_equal(t.n, 1);
	assert_non_null(strstr(t.lines[0], "\"id\":9"));
	/* a message the gateway makes itself has none */
	first.hold = false;
	gw_session_notify(s, "notifications/message", json_pack("{ss}", "data", "x"));
	assert_string_equal(first.seen[1], "(none)");
	gw_session_close(s);
	fake_free(up);
	teardown_gw(f);
}

/* ---- definition checks (review.c) ---- */

struct rev_check {
	struct gd_def_check base;
	char dir[64];
	unsigned reviews, reloads;
	bool moved;                     /* what reload answers */
	char seen_others[512];          /* alpha's other_names at its last review */
};

static int rev_review(struct gd_def_check *c, const struct gd_def *d, struct gd_def_out *o)
{
	struct rev_check *rc = (struct rev_check *)c;
	const char *desc = json_string_value(json_object_get(d->def, "description"));

	rc->reviews++;
	if (strcmp(d->server, "alpha") == 0 && d->kind == GD_DEF_TOOL) {
		size_t at = 0;

		for (size_t i = 0; d->other_names[i] && at < sizeof(rc->seen_others); i++)
			at += (size_t)snprintf(rc->seen_others + at, sizeof(rc->seen_others) - at, "%s,",
					       d->other_names[i]);
	}
	if (d->kind == GD_DEF_INSTRUCTIONS && strstr(json_string_value(d->def), "evil")) {
		gd_def_out_withhold(o, "instructions withheld");
		return 0;
	}
	if (strncmp(d->name, "bad", 3) == 0) {
		gd_def_out_finding(o, "rev", "bad-name", "name %s", d->name);
		gd_def_out_withhold(o, "%s '%s' of server '%s' is withheld by the test",
				    gd_def_kind_name(d->kind), d->name, d->server);
	} else if (desc && strcmp(desc, "fix me") == 0) {
		json_t *r = json_deep_copy(d->def);

		json_object_set_new(r, "description", json_string("fixed"));
		gd_def_out_replace(o, r);
	} else if (strcmp(d->name, "broken") == 0) {
		return -EIO;
	}
	return 0;
}

static const char *rev_watch(struct gd_def_check *c)
{
	return ((struct rev_check *)c)->dir;
}

static bool rev_reload(struct gd_def_check *c)
{
	struct rev_check *rc = (struct rev_check *)c;

	rc->reloads++;
	return rc->moved;
}

static void stop_loop(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* Run the loop until the check reloaded n times (or 5 s went by). */
static void wait_reloads(struct fx *f, struct rev_check *rc, unsigned n)
{
	uv_timer_t guard;

	uv_timer_init(&f->loop, &guard);
	uv_timer_start(&guard, stop_loop, 5000, 0);
	while (rc->reloads < n && uv_is_active((uv_handle_t *)&guard))
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(rc->reloads, n);
}

static void test_definition_checks(void **state)
{
	struct rev_check rc = { .base = { "rev", rev_review, rev_watch, rev_reload, NULL } };
	struct gd_def_check *defs[] = { &rc.base };
	struct fx *f;
	struct gateway *gw;
	unsigned before;
	char file[96];
	FILE *fp;

	(void)state;
	snprintf(rc.dir, sizeof(rc.dir), "/tmp/mg-review-XXXXXX");
	assert_non_null(mkdtemp(rc.dir));
	g_def_checks = defs;
	g_n_def_checks = 1;
	f = setup_gw(GW_PREFIX_AUTO, NULL, 100);
	g_def_checks = NULL;
	g_n_def_checks = 0;
	gw = f->gw;
	set_view(gw, 0, "{\"instructions\":\"be nice\",\"tools\":[{\"name\":\"ok\"},{\"name\":\"bad1\"},"
			"{\"name\":\"fixit\",\"description\":\"fix me\"},{\"name\":\"broken\"}],"
			"\"resources\":[{\"uri\":\"bad://x\",\"name\":\"bad-res\"},{\"uri\":\"x://ok\",\"name\":\"r\"}]}");
	set_view(gw, 1, "{\"instructions\":\"evil\",\"tools\":[{\"name\":\"ok\"},{\"name\":\"send\"}]}");
	gw_agg_rebuild(gw);
	/* withheld: not listed, not routed, the reason kept for the refusal;
	 * a check that fails withholds too */
	assert_names(gw, GW_LIST_TOOLS, "[\"alpha__ok\",\"alpha__fixit\",\"beta__ok\",\"beta__send\"]");
	assert_null(mg_map_gets(&gw->agg.tools, "alpha__bad1"));
	assert_string_equal(gw_withheld(gw, GW_LIST_TOOLS, "alpha__bad1"),
			    "tool 'bad1' of server 'alpha' is withheld by the test");
	assert_non_null(strstr(gw_withheld(gw, GW_LIST_TOOLS, "alpha__broken"), "could not be checked"));
	assert_null(gw_withheld(gw, GW_LIST_TOOLS, "alpha__ok"));
	assert_non_null(gw_withheld(gw, GW_LIST_RESOURCES, "bad://x"));
	/* replaced: the client sees the replacement, under the exposed name */
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(gw->agg.lists[GW_LIST_TOOLS], 1), "description")), "fixed");
	/* instructions: alpha's kept, beta's withheld */
	{
		json_t *ins = gw_agg_instructions(gw);

		assert_string_equal(json_string_value(ins), "## alpha\nbe nice");
		json_decref(ins);
	}
	/* alpha's review saw the other servers' names, not its own ("ok") */
	assert_string_equal(rc.seen_others, "beta,send,gamma,");
	/* the same views again: nothing is reviewed again */
	before = rc.reviews;
	gw_agg_rebuild(gw);
	assert_int_equal(rc.reviews, before);
	/* one definition changes: only it is reviewed */
	set_view(gw, 1, "{\"instructions\":\"evil\",\"tools\":[{\"name\":\"ok\",\"description\":\"new\"},{\"name\":\"send\"}]}");
	gw_agg_rebuild(gw);
	assert_int_equal(rc.reviews, before + 1);
	/* a change in the watched folder: reload; unmoved state keeps the
	 * outcomes, moved state has everything reviewed again */
	snprintf(file, sizeof(file), "%s/a", rc.dir);
	fp = fopen(file, "w");
	assert_non_null(fp);
	fclose(fp);
	wait_reloads(f, &rc, 1);
	assert_int_equal(rc.reviews, before + 1);
	rc.moved = true;
	fp = fopen(file, "w");
	assert_non_null(fp);
	fputs("x", fp);
	fclose(fp);
	wait_reloads(f, &rc, 2);
	assert_true(rc.reviews > before + 1);
	teardown_gw(f);
	unlink(file);
	rmdir(rc.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefixes_and_collisions),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_tool_patterns),
		cmocka_unit_test(test_pages_and_cursors),
		cmocka_unit_test(test_uri_routes_and_capabilities),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_pending_checks),
		cmocka_unit_test(test_response_carries_request_args),
		cmocka_unit_test(test_definition_checks),
	};

	if (sodium_init() < 0)
		return 1;
	mg_log_set_level(MG_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
