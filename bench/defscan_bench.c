/* Definition scanner figures: verdicts on a corpus and definitions scanned
 * per second.
 *
 *   defscan_bench [--show | --show-from SCORE] [--scores] [--seconds S] FILE...
 *
 * Each FILE is a JSON array of {"server", "kind", "def"} entries (kind
 * "instructions": def is the text), or {"package", "version", "kind",
 * "def"} ({"text"} for instructions) as benign-npm.json has them, as
 * tests/unit/data/ holds.  Every definition is scanned with the names of
 * the other servers and of their definitions (not a name its own server
 * also has, nor its "siblings"; and an entry's own "others", if any) as the
 * names to shadow; the verdicts are counted (--show prints every finding
 * of the ones that are not clean, --show-from those of the ones that score
 * at least SCORE, --scores one line per definition), then
 * the whole set is scanned again and again for S seconds (default 2) on
 * one core. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/mem.h"
#include "guard/defscan.h"

struct entry {
	const char *server, *kind;
	json_t *def;
	json_t *extra;          /* "others": more names to shadow (optional) */
	json_t *siblings;       /* "siblings": names its server has outside the corpus (optional) */
	const char **others;
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int scan_one(struct gd_defscan *d, const struct entry *e, struct gd_def_result *r)
{
	if (strcmp(e->kind, "instructions") == 0)
		return gd_def_scan_instructions(d, json_string_value(e->def), json_string_length(e->def), e->others, r);
	return gd_def_scan_tool(d, e->def, e->kind, e->others, r);
}

static size_t def_bytes(const struct entry *e)
{
	char *s = json_dumps(e->def, JSON_COMPACT | JSON_ENCODE_ANY);
	size_t n = s ? strlen(s) : 0;

	free(s);
	return n;
}

struct owned {
	const char *name, *server;
};

static int owned_cmp(const void *a, const void *b)
{
	const struct owned *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->server, y->server);
}

/* A name the entry's own server also has is its own (never another's to
 * shadow); idx: every (name, server), sorted. */
static bool own_name(const struct owned *idx, size_t n, const char *server, const char *name)
{
	struct owned key = { name, server };

	return bsearch(&key, idx, n, sizeof(*idx), owned_cmp) != NULL;
}

int main(int argc, char **argv)
{
	struct entry *es = NULL;
	size_t n = 0, cap = 0, bytes = 0, counts[3] = { 0 };
	json_t **docs = mg_calloc((size_t)argc, sizeof(*docs));
	struct gd_defscan *d = NULL;
	struct gd_def_result r;
	double seconds = 2, t0, t;
	bool show = false;
	char err[256];
	size_t rounds = 0, n_idx = 0;
	bool scores = false;
	int show_from = GD_DEF_SUSPICIOUS_AT;
	struct owned *idx;

	for (int i = 1; i < argc; i++) {
		json_error_t je;
		size_t k;
		json_t *it;

		if (strcmp(argv[i], "--show") == 0) {
			show = true;
			continue;
		}
		if (strcmp(argv[i], "--show-from") == 0 && i + 1 < argc) {
			show = true;
			show_from = (int)strtol(argv[++i], NULL, 10);
			continue;
		}
		if (strcmp(argv[i], "--scores") == 0) {
			scores = true;
			continue;
		}
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			seconds = strtod(argv[++i], NULL);
			continue;
		}
		docs[i] = json_load_file(argv[i], 0, &je);
		if (!json_is_array(docs[i])) {
			fprintf(stderr, "%s: %s\n", argv[i], je.text);
			return 1;
		}
		json_array_foreach(docs[i], k, it) {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				es = mg_realloc(es, cap * sizeof(*es));
			}
			es[n].server = json_string_value(json_object_get(it, "server"));
			if (!es[n].server)
				es[n].server = json_string_value(json_object_get(it, "package"));
			es[n].kind = json_string_value(json_object_get(it, "kind"));
			es[n].def = json_object_get(it, "def");
			if (!es[n].def)
				es[n].def = json_object_get(it, "text");
			es[n].extra = json_object_get(it, "others");
			es[n].siblings = json_object_get(it, "siblings");
			if (!es[n].server || !es[n].kind || !es[n].def) {
				fprintf(stderr, "%s: entry %zu lacks server, kind or def\n", argv[i], k);
				return 1;
			}
			n++;
		}
	}
	if (n == 0) {
		fprintf(stderr, "usage: %s [--show | --show-from SCORE] [--scores] [--seconds S] FILE...\n", argv[0]);
		return 2;
	}
	/* the names every definition may shadow: the other servers' */
	{
		size_t icap = n + 1;

		for (size_t i = 0; i < n; i++)
			icap += json_array_size(es[i].siblings);
		idx = mg_calloc(icap, sizeof(*idx));
		for (size_t i = 0; i < n; i++) {
			const char *nm = json_is_object(es[i].def) ? json_string_value(json_object_get(es[i].def, "name")) : NULL;

			if (nm)
				idx[n_idx++] = (struct owned){ nm, es[i].server };
			for (size_t q = 0; q < json_array_size(es[i].siblings); q++)
				if (json_is_string(json_array_get(es[i].siblings, q)))
					idx[n_idx++] = (struct owned){ json_string_value(json_array_get(es[i].siblings, q)),
								       es[i].server };
		}
		qsort(idx, n_idx, sizeof(*idx), owned_cmp);
	}
	for (size_t i = 0; i < n; i++) {
		size_t m = 0;
		const char *last = NULL;

		es[i].others = mg_calloc(2 * n + json_array_size(es[i].extra) + 1, sizeof(char *));
		for (size_t q = 0; q < json_array_size(es[i].extra); q++)
			if (json_is_string(json_array_get(es[i].extra, q)))
				es[i].others[m++] = json_string_value(json_array_get(es[i].extra, q));
		for (size_t j = 0; j < n; j++) {
			const char *nm = json_is_object(es[j].def) ? json_string_value(json_object_get(es[j].def, "name")) : NULL;
			bool dup = false;

			if (strcmp(es[j].server, es[i].server) == 0 || (nm && own_name(idx, n_idx, es[i].server, nm)))
				continue;
			dup = last && strcmp(last, es[j].server) == 0;  /* a server's entries are together */
			for (size_t q = 0; q < m && !dup; q++)
				dup = strcmp(es[i].others[q], es[j].server) == 0;
			if (!dup)
				es[i].others[m++] = es[j].server;
			last = es[j].server;
			if (nm)
				es[i].others[m++] = nm;
		}
	}
	t0 = now_s();
	if (gd_def_new(&d, err, sizeof(err)) != 0) {
		fprintf(stderr, "gd_def_new: %s\n", err);
		return 1;
	}
	printf("pattern database built in %.0f ms\n", (now_s() - t0) * 1e3);
	for (size_t i = 0; i < n; i++) {
		const char *nm = json_is_object(es[i].def) ? json_string_value(json_object_get(es[i].def, "name")) : "";
		int rc = scan_one(d, &es[i], &r);

		if (rc != 0) {
			fprintf(stderr, "%s/%s: scan failed: %s\n", es[i].server, nm, strerror(-rc));
			return 1;
		}
		counts[r.verdict]++;
		bytes += def_bytes(&es[i]);
		if (scores)
			printf("%-10s %3d %s/%s %s\n", gd_def_verdict_name(r.verdict), r.score, es[i].server, nm ? nm : "",
			       es[i].kind);
		if (show && r.score >= show_from) {
			printf("%-10s %s/%s %s score %d\n", gd_def_verdict_name(r.verdict), es[i].server, nm ? nm : "",
			       es[i].kind, r.score);
			for (size_t f = 0; f < r.n_findings; f++)
				printf("    %-22s %2d %s%s @%zu+%zu  %s\n", r.findings[f].signal, r.findings[f].weight,
				       r.findings[f].path, r.findings[f].in_key ? " (key)" : "", r.findings[f].off,
				       r.findings[f].len, r.findings[f].detail);
		}
	}
	printf("definitions: %zu (%zu bytes as compact JSON)\n", n, bytes);
	printf("verdicts: %zu poisoned, %zu suspicious, %zu clean\n", counts[GD_DEF_POISONED],
	       counts[GD_DEF_SUSPICIOUS], counts[GD_DEF_CLEAN]);
	t0 = now_s();
	do {
		for (size_t i = 0; i < n; i++)
			scan_one(d, &es[i], &r);
		rounds++;
		t = now_s() - t0;
	} while (t < seconds);
	printf("throughput: %.0f definitions/s, %.1f MB/s (%zu rounds in %.2f s, one core)\n",
	       (double)(rounds * n) / t, (double)(rounds * bytes) / t / 1e6, rounds, t);
	gd_def_free(d);
	for (size_t i = 0; i < n; i++)
		free(es[i].others);
	free(es);
	free(idx);
	for (int i = 0; i < argc; i++)
		json_decref(docs[i]);
	free(docs);
	return 0;
}
