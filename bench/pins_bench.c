/* Pin check figures: what pinning costs at list time.
 *
 *   pins_bench [--dir DIR] FILE...
 *
 * Each FILE is a JSON array of {"server", "kind", "def"} entries, as
 * tests/unit/data/ holds.  In a fresh store (a new folder under DIR,
 * default build/bench, so on the checkout's disk: every write is fsynced):
 *   first sight   every definition reviewed once in tofu mode (one locked,
 *                 fsynced write each);
 *   restart       a new check on that store reviews them all again (each
 *                 server's file read once, every hash compared: all kept);
 *   repeat        the same check again and again (files cached);
 *   changed       every definition altered (a word added to its
 *                 description): each recorded as pending and withheld;
 *   canonical     RFC 8785 form and SHA-256 alone, MB/s of canonical text. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/fs.h"
#include "base/mem.h"
#include "json/canon.h"
#include "pins/pin_check.h"

struct entry {
	const char *server;
	enum gd_def_kind kind;
	const char *name;
	json_t *def;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int kind_of(const char *k, enum gd_def_kind *out)
{
	static const char *const names[] = { "tool", "prompt", "resource", "resource-template",
					      "instructions" };

	for (int i = 0; i < 5; i++)
		if (k && strcmp(k, names[i]) == 0) {
			*out = (enum gd_def_kind)i;
			return 0;
		}
	return -EINVAL;
}

static const char *name_of(const struct entry *e)
{
	const char *key = e->kind == GD_DEF_RESOURCE ? "uri" : e->kind == GD_DEF_TEMPLATE
		? "uriTemplate" : "name";
	const char *n = json_string_value(json_object_get(e->def, key));

	return e->kind == GD_DEF_INSTRUCTIONS ? "instructions" : n ? n : "?";
}

/* Review every entry; counts of each action. */
static double run(struct gd_def_check *c, const struct entry *es, size_t n, size_t counts[3])
{
	double t0 = now_s();

	for (size_t i = 0; i < n; i++) {
		struct gd_def d = { .server = es[i].server, .kind = es[i].kind, .name = es[i].name,
				    .def = es[i].def };
		struct gd_def_out out;

		memset(&out, 0, sizeof(out));
		if (c->review(c, &d, &out))
			counts[GD_DEF_WITHHOLD]++;
		else
			counts[out.action]++;
		gd_def_out_reset(&out);
	}
	return now_s() - t0;
}

static void report(const char *what, double s, size_t n, const size_t counts[3])
{
	printf("%-12s %6zu reviews in %8.1f ms: %8.3f ms each, %9.0f per second "
	       "(kept %zu, withheld %zu)\n", what, n, s * 1e3, s * 1e3 / (double)n, (double)n / s,
	       counts[GD_DEF_KEEP], counts[GD_DEF_WITHHOLD]);
}

int main(int argc, char **argv)
{
	const char *base = "build/bench";
	struct entry *es = NULL;
	size_t n = 0, counts[3];
	json_t **docs = mg_calloc((size_t)argc, sizeof(json_t *));
	int nd = 0;
	struct gd_def_check *c;
	struct mg_err err;
	char dir[4096];
	double s;

	for (int i = 1; i < argc; i++) {
		json_error_t je;
		json_t *doc;

		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
			base = argv[++i];
			continue;
		}
		doc = json_load_file(argv[i], 0, &je);
		if (!json_is_array(doc)) {
			fprintf(stderr, "%s: %s\n", argv[i], doc ? "not an array" : je.text);
			return 2;
		}
		docs[nd++] = doc;
		es = mg_realloc(es, (n + json_array_size(doc)) * sizeof(*es));
		for (size_t k = 0; k < json_array_size(doc); k++) {
			json_t *it = json_array_get(doc, k);
			struct entry *e = &es[n];

			e->server = json_string_value(json_object_get(it, "server"));
			e->def = json_object_get(it, "def");
			if (!e->server || !e->def ||
			    kind_of(json_string_value(json_object_get(it, "kind")), &e->kind)) {
				fprintf(stderr, "%s: entry %zu lacks server, kind or def\n", argv[i], k);
				return 2;
			}
			e->name = name_of(e);
			n++;
		}
	}
	if (!n) {
		fprintf(stderr, "usage: pins_bench [--dir DIR] FILE...\n");
		return 2;
	}
	mg_mkdir_p(base, 0700);
	snprintf(dir, sizeof(dir), "%s/pins-XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror(dir);
		return 2;
	}
	printf("%zu definitions, store %s\n", n, dir);

	if (pin_check_new(&c, dir, PIN_MODE_TOFU, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 2;
	}
	memset(counts, 0, sizeof(counts));
	report("first sight", run(c, es, n, counts), n, counts);
	c->free(c);

	pin_check_new(&c, dir, PIN_MODE_TOFU, &err);
	memset(counts, 0, sizeof(counts));
	report("restart", run(c, es, n, counts), n, counts);
	{
		size_t rounds = 0;
		double t = 0;

		memset(counts, 0, sizeof(counts));
		while (t < 1.0) {
			t += run(c, es, n, counts);
			rounds++;
		}
		report("repeat", t, n * rounds, counts);
	}

	/* every definition changed: a word more in its description */
	for (size_t i = 0; i < n; i++) {
		json_t *d = json_deep_copy(es[i].def);

		if (json_is_object(d)) {
			const char *desc = json_string_value(json_object_get(d, "description"));
			char *more = mg_calloc(1, (desc ? strlen(desc) : 0) + 16);

			snprintf(more, (desc ? strlen(desc) : 0) + 16, "%s changed", desc ? desc : "");
			json_object_set_new(d, "description", json_string(more));
			free(more);
		} else {
			d = json_sprintf("%s changed", json_string_value(d));
		}
		es[i].def = d;          /* the docs keep the originals */
	}
	memset(counts, 0, sizeof(counts));
	s = run(c, es, n, counts);
	report("changed", s, n, counts);
	c->free(c);

	{
		struct mg_buf b;
		size_t bytes = 0, rounds = 0;
		unsigned char h[32];
		double t0 = now_s();

		mg_buf_init(&b, 1 << 26);
		for (size_t i = 0; i < n; i++)
			mg_canon(es[i].def, &b);
		bytes = b.len;
		mg_buf_release(&b);
		while (now_s() - t0 < 1.0) {
			for (size_t i = 0; i < n; i++)
				mg_canon_sha256(es[i].def, h);
			rounds++;
		}
		s = now_s() - t0;
		printf("canonical    %zu bytes of canonical JSON per round: %.1f MB/s, %.0f definitions "
		       "per second\n", bytes, (double)(bytes * rounds) / s / 1e6,
		       (double)(n * rounds) / s);
	}
	for (size_t i = 0; i < n; i++)
		json_decref(es[i].def);
	for (int i = 0; i < nd; i++)
		json_decref(docs[i]);
	free(docs);
	free(es);
	mg_rm_rf(dir);
	return 0;
}
