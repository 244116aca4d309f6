/* Leak scanner figures: throughput per core, and hits on a corpus of real,
 * benign text (false positives).
 *
 *   leak_bench [--secrets N] [--show] DIR...
 *
 * Reads every regular file under each DIR (up to 64 MiB in all; files
 * over 4 MiB are skipped), scans it with N known secrets (default 100,
 * random 24-character values) and every built-in pattern, and prints the
 * hits by kind, then the throughput of repeated scans of the corpus in
 * 64 KiB strings (what a large tool result is).  --show prints each hit
 * with its context. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/buf.h"
#include "base/fs.h"
#include "base/mem.h"
#include "guard/leak.h"

#define CORPUS_MAX (64u << 20)
#define FILE_MAX (4u << 20)
#define CHUNK (64u << 10)

struct corpus {
	struct mg_buf text;
	size_t files;
};

static void walk(struct corpus *c, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) && c->text.len < CORPUS_MAX) {
		char path[4096];
		struct stat st;

		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			walk(c, path);
		} else if (S_ISREG(st.st_mode) && st.st_size > 0 && (size_t)st.st_size <= FILE_MAX &&
			   c->text.len + (size_t)st.st_size + 1 <= CORPUS_MAX) {
			FILE *f = fopen(path, "rb");
			size_t at = c->text.len;

			if (!f)
				continue;
			if (mg_buf_reserve(&c->text, (size_t)st.st_size + 1) == 0) {
				size_t n = fread(c->text.data + at, 1, (size_t)st.st_size, f);

				c->text.len += n;
				c->text.data[c->text.len++] = '\n';
				c->text.data[c->text.len] = '\0';
				c->files++;
			}
			fclose(f);
		}
	}
	closedir(d);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct corpus c = { .files = 0 };
	struct gd_secret *secrets;
	char **values;
	size_t n_secrets = 100, total_hits = 0;
	bool show = false;
	struct gd_leak *l = NULL;
	char err[256];
	struct gd_hit hits[256];
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--secrets") == 0 && i + 1 < argc)
			n_secrets = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--show") == 0)
			show = true;
		else
			break;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: %s [--secrets N] [--show] DIR...\n", argv[0]);
		return 2;
	}
	mg_buf_init(&c.text, CORPUS_MAX + 1);
	for (; i < argc; i++)
		walk(&c, argv[i]);
	secrets = mg_calloc(n_secrets ? n_secrets : 1, sizeof(*secrets));
	values = mg_calloc(n_secrets ? n_secrets : 1, sizeof(*values));
	srand(42);
	for (size_t k = 0; k < n_secrets; k++) {
		static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

		values[k] = mg_malloc(25);
		for (int j = 0; j < 24; j++)
			values[k][j] = abc[rand() % 62];
		values[k][24] = '\0';
		secrets[k] = (struct gd_secret){ "SECRET", values[k], 24 };
	}
	double t0 = now_s();

	if (gd_leak_new(&l, secrets, n_secrets, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "leak_bench: %s\n", err);
		return 1;
	}
	printf("compile: %zu secrets + patterns in %.1f ms\n", n_secrets, (now_s() - t0) * 1e3);
	printf("corpus: %zu files, %.1f MiB\n", c.files, (double)c.text.len / (1 << 20));

	/* false positives: every hit on the corpus, by kind */
	const char *const *kinds = gd_leak_pattern_kinds();
	size_t by_kind[64] = { 0 };

	for (size_t at = 0; at < c.text.len; at += CHUNK) {
		size_t len = c.text.len - at < CHUNK ? c.text.len - at : CHUNK;
		int n = gd_leak_scan(l, c.text.data + at, len, hits, MG_ARRAY_LEN(hits));

		for (int h = 0; h < n; h++) {
			for (size_t k = 0; kinds[k]; k++)
				if (strcmp(kinds[k], hits[h].kind) == 0)
					by_kind[k]++;
			total_hits++;
			if (show) {
				size_t o = hits[h].off, s = o > 40 ? o - 40 : 0;
				size_t hl = hits[h].len < 80 ? hits[h].len : 80;
				size_t e = o + hl + 40 < len ? o + hl + 40 : len;

				printf("  %s: ", hits[h].kind);
				for (size_t x = s; x < e; x++) {
					char ch = c.text.data[at + x];
					putchar(ch == '\n' ? ' ' : ch);
				}
				putchar('\n');
			}
		}
	}
	printf("hits on the corpus: %zu\n", total_hits);
	for (size_t k = 0; kinds[k]; k++)
		if (by_kind[k])
			printf("  %-26s %zu\n", kinds[k], by_kind[k]);

	/* throughput: the corpus scanned again and again for at least 2 s */
	size_t bytes = 0;
	double t1 = now_s(), el;

	do {
		for (size_t at = 0; at < c.text.len; at += CHUNK) {
			size_t len = c.text.len - at < CHUNK ? c.text.len - at : CHUNK;

			gd_leak_scan(l, c.text.data + at, len, hits, MG_ARRAY_LEN(hits));
			bytes += len;
		}
		el = now_s() - t1;
	} while (el < 2.0);
	printf("throughput: %.0f MB/s on one core (%zu secrets, every pattern, %u KiB strings)\n",
	       (double)bytes / el / 1e6, n_secrets, CHUNK >> 10);

	gd_leak_free(l);
	for (size_t k = 0; k < n_secrets; k++)
		free(values[k]);
	free(values);
	free(secrets);
	mg_buf_release(&c.text);
	return 0;
}
