/* Result-inspection figures: verdicts on a corpus, MB/s and microseconds
 * per typical result, through the check as the gateway runs it.
 *
 *   inject_bench [--show] [--seconds S] FILE...
 *
 * Each FILE is a JSON array of messages as tests/unit/data/ holds them:
 * {"source", "kind": "response"|"error"|"notification"|"request",
 * "method", "args", "result"|"error"|"params"}.  Every entry is made into
 * the JSON-RPC line a server sends and run through the check (block mode,
 * so the outcome says the verdict: pass clean, edit suspicious, deny
 * malicious); --show prints the findings of the ones that are not clean.
 * Then the whole set is run again and again for S seconds (default 2) on
 * one core, in annotate mode (the default), and the small messages (up to
 * 8 KiB, the typical tool result) are timed on their own; times are the
 * CPU time of the scanning thread. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/mem.h"
#include "guard/inject_check.h"

struct entry {
	const char *source, *method;
	enum gd_kind kind;
	json_t *args;
	char *line;
	size_t len;
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The CPU time of this thread: on a machine shared with other work the
 * figures then count what the scan costs, not the time others had the core. */
static double cpu_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The line a server would send for one corpus entry (caller frees). */
static char *entry_line(json_t *it, enum gd_kind *kind, size_t *len)
{
	const char *k = json_string_value(json_object_get(it, "kind"));
	json_t *msg = json_pack("{ss}", "jsonrpc", "2.0");
	char *line;

	if (!k)
		k = "response";
	if (strcmp(k, "notification") == 0 || strcmp(k, "request") == 0) {
		*kind = k[0] == 'n' ? GD_NOTIFICATION : GD_REQUEST;
		if (*kind == GD_REQUEST)
			json_object_set_new(msg, "id", json_integer(1));
		json_object_set(msg, "method", json_object_get(it, "method"));
		json_object_set(msg, "params", json_object_get(it, "params"));
	} else {
		*kind = GD_RESPONSE;
		json_object_set_new(msg, "id", json_integer(1));
		if (strcmp(k, "error") == 0)
			json_object_set(msg, "error", json_object_get(it, "error"));
		else
			json_object_set(msg, "result", json_object_get(it, "result"));
	}
	line = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	*len = line ? strlen(line) : 0;
	return line;
}

static enum gd_verdict run(struct gd_check *c, const struct entry *e, struct gd_out *o)
{
	struct gd_msg m = { .dir = GD_TO_CLIENT, .kind = e->kind, .raw = e->line, .len = e->len,
			    .method = e->method, .server = "corpus", .request_args = e->args };
	enum gd_verdict v;

	gd_out_reset(o);
	if (c->run(c, &m, o) != 0)
		return GD_DENY;
	v = o->verdict;
	return v;
}

int main(int argc, char **argv)
{
	struct entry *es = NULL;
	size_t n = 0, cap = 0, bytes = 0, counts[4] = { 0 }, small = 0, small_bytes = 0, rounds = 0;
	json_t **docs = mg_calloc((size_t)argc, sizeof(*docs));
	struct gd_check *block = NULL, *annotate = NULL;
	struct gd_out *o = mg_calloc(1, sizeof(*o));
	double seconds = 2, t0, t;
	bool show = false;
	char err[256];

	for (int i = 1; i < argc; i++) {
		json_error_t je;
		size_t k;
		json_t *it;

		if (strcmp(argv[i], "--show") == 0) {
			show = true;
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
			es[n].source = json_string_value(json_object_get(it, "source"));
			if (!es[n].source)      /* the attack corpus: what it is */
				es[n].source = json_string_value(json_object_get(it, "why"));
			es[n].method = json_string_value(json_object_get(it, "method"));
			es[n].args = json_object_get(it, "args");
			es[n].line = entry_line(it, &es[n].kind, &es[n].len);
			if (!es[n].source || !es[n].line) {
				fprintf(stderr, "%s: entry %zu lacks a source or a message\n", argv[i], k);
				return 1;
			}
			bytes += es[n].len;
			if (es[n].len <= 8192) {
				small++;
				small_bytes += es[n].len;
			}
			n++;
		}
	}
	if (n == 0) {
		fprintf(stderr, "usage: %s [--show] [--seconds S] FILE...\n", argv[0]);
		return 2;
	}
	t0 = now_s();
	if (gd_inject_check_new(&block, GD_INJECT_BLOCK, err, sizeof(err)) ||
	    gd_inject_check_new(&annotate, GD_INJECT_ANNOTATE, err, sizeof(err))) {
		fprintf(stderr, "gd_inject_check_new: %s\n", err);
		return 1;
	}
	/* the database compiles on each check's own thread: the first message waits */
	run(block, &es[0], o);
	run(annotate, &es[0], o);
	printf("pattern database ready %.1f ms after the checks were made (two checks at once)\n",
	       (now_s() - t0) * 1e3);
	for (size_t i = 0; i < n; i++) {
		enum gd_verdict v = run(block, &es[i], o);

		counts[v]++;
		if (show && v != GD_PASS) {
			printf("%-10s %s (%zu bytes)\n", v == GD_DENY ? "malicious" : "suspicious", es[i].source, es[i].len);
			for (size_t f = 0; f < o->n_findings; f++)
				printf("    %-22s %s\n", o->findings[f].kind, o->findings[f].detail);
		}
	}
	printf("messages: %zu (%zu bytes); %zu of them up to 8 KiB (%zu bytes)\n", n, bytes, small, small_bytes);
	printf("verdicts: %zu malicious, %zu suspicious, %zu clean\n", counts[GD_DENY], counts[GD_EDIT],
	       counts[GD_PASS]);
	t0 = cpu_s();
	do {
		for (size_t i = 0; i < n; i++)
			run(annotate, &es[i], o);
		rounds++;
		t = cpu_s() - t0;
	} while (t < seconds);
	printf("throughput: %.1f MB/s, %.0f messages/s (%zu rounds in %.2f s of CPU, one core)\n",
	       (double)(rounds * bytes) / t / 1e6, (double)(rounds * n) / t, rounds, t);
	if (small) {
		rounds = 0;
		t0 = cpu_s();
		do {
			for (size_t i = 0; i < n; i++)
				if (es[i].len <= 8192)
					run(annotate, &es[i], o);
			rounds++;
			t = cpu_s() - t0;
		} while (t < seconds);
		printf("typical results (up to 8 KiB, mean %zu bytes): %.1f us each, %.1f MB/s\n", small_bytes / small,
		       t / (double)(rounds * small) * 1e6, (double)(rounds * small_bytes) / t / 1e6);
	}
	gd_out_reset(o);
	free(o);
	block->free(block);
	annotate->free(annotate);
	for (size_t i = 0; i < n; i++)
		free(es[i].line);
	free(es);
	for (int i = 0; i < argc; i++)
		json_decref(docs[i]);
	free(docs);
	return 0;
}
