/* What the definition checks cost at list time, through the gateway's own
 * rebuild (gateway/agg.c and review.c), no process started:
 *
 *   listtime_bench [--tools N] [--servers S] [--rounds R] FILE...
 *
 * The definitions of the FILEs (JSON arrays of {"kind", "def"} entries,
 * as tests/unit/data/ holds; tools only) are dealt out to S servers until
 * there are N tools (names made unique), and the aggregated lists are
 * rebuilt R times in each of four ways:
 *   none     no definition check (the gateway's aggregation alone);
 *   cold     the scanner, nothing reviewed before (every definition scanned);
 *   warm     the scanner, the same views again (outcomes remembered);
 *   one      the scanner, one definition changed each round.
 * Printed: milliseconds per rebuild (median of R) and per 1,000 tools. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "catalog/catalog.h"
#include "gateway/internal.h"
#include "guard/def_check.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return v[n / 2];
}

static json_t *load_tools(char **files, int n)
{
	json_t *out = json_array();

	for (int i = 0; i < n; i++) {
		json_error_t e;
		json_t *a = json_load_file(files[i], 0, &e), *x;
		size_t k;

		if (!json_is_array(a)) {
			fprintf(stderr, "listtime_bench: %s: %s\n", files[i], e.text);
			exit(2);
		}
		json_array_foreach(a, k, x)
			if (strcmp(json_string_value(json_object_get(x, "kind")) ?: "", "tool") == 0 &&
			    json_is_object(json_object_get(x, "def")))
				json_array_append(out, json_object_get(x, "def"));
		json_decref(a);
	}
	return out;
}

struct fx {
	uv_loop_t loop;
	struct catalog cat;
	struct gateway *gw;
};

static void setup(struct fx *f, size_t servers, struct gd_def_check **defs, size_t n_defs)
{
	struct mg_buf b;
	struct gw_config cfg = {
		.prefix = GW_PREFIX_AUTO, .page_size = 100, .max_message = 1 << 20,
		.timeout_ms = 1000, .startup_timeout_ms = 1000, .human_timeout_ms = 1000,
		.def_checks = defs, .n_def_checks = n_defs,
	};
	struct mg_err err;

	mg_buf_init(&b, 1 << 20);
	mg_buf_adds(&b, "registry:\n");
	for (size_t i = 0; i < servers; i++)
		mg_buf_addf(&b, "  srv%zu:\n    command: [/bin/true]\n", i);
	uv_loop_init(&f->loop);
	catalog_init(&f->cat);
	if (catalog_load_string(&f->cat, b.data, b.len, "bench", &err) ||
	    gw_create(&f->gw, &f->loop, &cfg, &f->cat, NULL, &err)) {
		fprintf(stderr, "listtime_bench: %s\n", err.msg);
		exit(2);
	}
	mg_buf_release(&b);
}

static void teardown(struct fx *f)
{
	gw_free(f->gw);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	uv_loop_close(&f->loop);
	catalog_release(&f->cat);
}

/* Deal n tools out to the servers' views. */
static void set_views(struct gateway *gw, const json_t *pool, size_t n, unsigned salt)
{
	size_t servers = gw->n_servers;

	for (size_t s = 0; s < servers; s++) {
		json_decref(gw->servers[s]->view);
		gw->servers[s]->view = json_pack("{s{s{}}s[]}", "capabilities", "tools", "tools");
		gw->servers[s]->view_state = GW_VIEW_LIVE;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_deep_copy(json_array_get(pool, i % json_array_size(pool)));
		char name[96];

		snprintf(name, sizeof(name), "%.60s_%zu", json_string_value(json_object_get(t, "name")) ?: "t", i);
		json_object_set_new(t, "name", json_string(name));
		if (i == 0 && salt) {
			char d[64];

			snprintf(d, sizeof(d), "Changed %u times.", salt);
			json_object_set_new(t, "description", json_string(d));
		}
		json_array_append_new(json_object_get(gw->servers[i % servers]->view, "tools"), t);
	}
}

static double run(const char *what, const json_t *pool, size_t n, size_t servers, int rounds,
		  bool scan)
{
	double *ms = mg_calloc((size_t)rounds, sizeof(double)), m;
	struct gd_def_check *c = NULL;
	struct fx f;
	char err[256];

	if (scan && gd_def_check_new(&c, GD_ACT_MALICIOUS_DEFAULT | GD_ACT_LOG,
				     GD_ACT_SUSPICIOUS_DEFAULT | GD_ACT_LOG, NULL, 0, err, sizeof(err))) {
		fprintf(stderr, "listtime_bench: %s\n", err);
		exit(2);
	}
	for (int r = 0; r < rounds; r++) {
		double t0;

		if (r == 0 || strcmp(what, "cold") == 0 || strcmp(what, "none") == 0) {
			if (r)
				teardown(&f);
			setup(&f, servers, scan ? &c : NULL, scan ? 1 : 0);
			set_views(f.gw, pool, n, 0);
			if (strcmp(what, "warm") == 0 || strcmp(what, "one") == 0)
				gw_agg_rebuild(f.gw);   /* the first sight, not timed */
		}
		if (strcmp(what, "one") == 0)
			set_views(f.gw, pool, n, (unsigned)r + 1);
		t0 = now_ms();
		gw_agg_rebuild(f.gw);
		ms[r] = now_ms() - t0;
	}
	if (json_array_size(f.gw->agg.lists[GW_LIST_TOOLS]) + json_array_size(pool) < n)
		fprintf(stderr, "listtime_bench: fewer tools listed than served\n");
	printf("%-5s %5zu tools listed of %zu, %zu servers: %8.3f ms per rebuild, %8.3f ms per 1,000 tools\n",
	       what, json_array_size(f.gw->agg.lists[GW_LIST_TOOLS]), n, servers,
	       m = median(ms, (size_t)rounds), median(ms, (size_t)rounds) * 1000.0 / (double)n);
	teardown(&f);
	if (c)
		c->free(c);
	free(ms);
	return m;
}

int main(int argc, char **argv)
{
	size_t n = 1000, servers = 10;
	int rounds = 15, i = 1;
	json_t *pool;
	double none, cold;

	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (i + 1 >= argc)
			break;
		if (strcmp(argv[i], "--tools") == 0)
			n = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--servers") == 0)
			servers = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--rounds") == 0)
			rounds = (int)strtol(argv[i + 1], NULL, 10);
	}
	if (i >= argc || !n || !servers || rounds < 1) {
		fprintf(stderr, "usage: listtime_bench [--tools N] [--servers S] [--rounds R] FILE...\n");
		return 2;
	}
	mg_log_set_level(MG_LOG_ERROR);
	pool = load_tools(argv + i, argc - i);
	if (!json_array_size(pool)) {
		fprintf(stderr, "listtime_bench: no tools in the files\n");
		return 2;
	}
	printf("definitions at list time: %zu distinct tool definitions dealt out to %zu tools\n",
	       json_array_size(pool), n);
	none = run("none", pool, n, servers, rounds, false);
	cold = run("cold", pool, n, servers, rounds, true);
	run("warm", pool, n, servers, rounds, true);
	run("one", pool, n, servers, rounds, true);
	printf("scanning at first sight adds %.3f ms per 1,000 tools to the rebuild\n",
	       (cold - none) * 1000.0 / (double)n);
	json_decref(pool);
	return 0;
}
