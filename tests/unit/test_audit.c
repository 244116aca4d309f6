/* Unit tests for src/audit: the hash chain is written across restarts,
 * rotations and two writers of one file, and aud_verify finds an edited,
 * removed, inserted or moved record, and a cut tail against a kept head. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "base/buf.h"

static void write_n(struct aud_log *a, int n, const char *method)
{
	for (int i = 0; i < n; i++)
		aud_write(a, &(struct aud_record){ .session = "s1", .method = method, .upstream_id = -1,
						   .outcome = "ok" });
}

static char *log_path(const char *dir)
{
	struct mg_buf b;

	mg_buf_init(&b, 4096);
	mg_buf_addf(&b, "%s/audit.jsonl", dir);
	return mg_buf_detach(&b, NULL);
}

static char **read_lines(const char *path, size_t *n)
{
	char *text = NULL, **lines = NULL;
	size_t len;

	assert_int_equal(mg_read_file(path, 1 << 24, &text, &len), 0);
	*n = 0;
	for (char *p = text, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
		lines = mg_realloc(lines, (*n + 1) * sizeof(*lines));
		lines[(*n)++] = mg_strndup(p, (size_t)(nl - p));
	}
	free(text);
	return lines;
}

static void write_lines(const char *path, char **lines, size_t n)
{
	FILE *f = fopen(path, "w");

	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", lines[i]);
	fclose(f);
}

static void free_lines(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

static uint64_t broken_at(const char *path, const char *head)
{
	struct aud_verify v;

	assert_int_equal(aud_verify(path, head, &v), 0);
	return v.bad_line;
}

static void test_chain_intact_across_restarts_and_writers(void **state)
{
	char *dir = make_tmpdir(), *path = log_path(dir);
	struct aud_log *a = NULL, *b = NULL;
	struct aud_verify v;

	assert_int_equal(aud_open(&a, path, false), 0);
	write_n(a, 3, "tools/call");
	aud_close(a);
	/* a restart continues the chain; two writers of one file too */
	assert_int_equal(aud_open(&a, path, false), 0);
	assert_int_equal(aud_open(&b, path, false), 0);
	for (int i = 0; i < 5; i++) {
		write_n(a, 1, "a");
		write_n(b, 2, "b");
	}
	assert_int_equal(aud_verify(path, aud_head(b), &v), 0);
	assert_int_equal(v.bad_line, 0);
	assert_int_equal(v.records, 18);
	assert_string_equal(v.head, aud_head(b));
	aud_close(a);
	aud_close(b);
	mg_rm_rf(dir);
	free(path);
	free(dir);
}

static void test_tampering_found(void **state)
{
	char *dir = make_tmpdir(), *path = log_path(dir), head[AUD_HASH_HEX];
	struct aud_log *a = NULL;
	char **lines, **copy;
	size_t n;

	assert_int_equal(aud_open(&a, path, false), 0);
	write_n(a, 6, "tools/call");
	snprintf(head, sizeof(head), "%s", aud_head(a));
	aud_close(a);
	lines = read_lines(path, &n);
	assert_int_equal(n, 6);
	copy = mg_calloc(n + 1, sizeof(*copy));

	/* one byte edited in line 3: the chain breaks at line 4 */
	memcpy(copy, lines, n * sizeof(*copy));
	char *edited = mg_strdup(lines[2]), *ok = strstr(edited, "\"ok\"");
	ok[1] = 'O';
	copy[2] = edited;
	write_lines(path, copy, n);
	assert_int_equal(broken_at(path, NULL), 4);
	free(edited);

	/* line 2 deleted: broken at what is now line 2 */
	memcpy(copy, lines, n * sizeof(*copy));
	memmove(copy + 1, copy + 2, (n - 2) * sizeof(*copy));
	write_lines(path, copy, n - 1);
	assert_int_equal(broken_at(path, NULL), 2);

	/* lines 4 and 5 swapped */
	memcpy(copy, lines, n * sizeof(*copy));
	copy[3] = lines[4];
	copy[4] = lines[3];
	write_lines(path, copy, n);
	assert_int_equal(broken_at(path, NULL), 4);

	/* the first line removed: the chain no longer starts */
	write_lines(path, lines + 1, n - 1);
	assert_int_equal(broken_at(path, NULL), 1);

	/* the last line removed: unseen without a head, found with it */
	write_lines(path, lines, n - 1);
	assert_int_equal(broken_at(path, NULL), 0);
	assert_int_not_equal(broken_at(path, head), 0);

	/* intact again: fine with the head */
	write_lines(path, lines, n);
	assert_int_equal(broken_at(path, head), 0);

	free(copy);
	free_lines(lines, n);
	mg_rm_rf(dir);
	free(path);
	free(dir);
}

static void test_rotation_links_files(void **state)
{
	char *dir = make_tmpdir(), *path = log_path(dir);
	struct aud_log *a = NULL;
	struct aud_verify v;
	DIR *d;
	struct dirent *e;
	int files = 0;

	assert_int_equal(aud_open(&a, path, false), 0);
	aud_set_max_size(a, 600);
	write_n(a, 12, "tools/call");
	aud_close(a);
	d = opendir(dir);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		files++;
	}
	closedir(d);
	assert_true(files >= 2);
	assert_int_equal(aud_verify(path, NULL, &v), 0);
	assert_int_equal(v.bad_line, 0);
	assert_true(v.prev_file[0] != '\0');
	assert_true(v.prev_checked);
	mg_rm_rf(dir);
	free(path);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_intact_across_restarts_and_writers),
		cmocka_unit_test(test_tampering_found),
		cmocka_unit_test(test_rotation_links_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
