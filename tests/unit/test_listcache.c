/* Unit tests for src/catalog/listcache.c: the server definition digest and
 * the on-disk list cache (round trip, and every way a cache file can be
 * wrong, which must make it ignored rather than trusted). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/mem.h"
#include "catalog/catalog.h"
#include "catalog/listcache.h"
#include "json/jx.h"

/* ---- helpers ---- */

static char *pathf(const char *a, const char *b, const char *c)
{
	struct mg_buf buf;

	mg_buf_init(&buf, PATH_MAX);
	mg_buf_addf(&buf, "%s/%s%s", a, b, c);
	return mg_buf_detach(&buf, NULL);
}

static char *cache_file(const char *dir, const char *digest)
{
	struct mg_buf buf;

	mg_buf_init(&buf, PATH_MAX);
	mg_buf_addf(&buf, "%s/lists/%s.json", dir, digest);
	return mg_buf_detach(&buf, NULL);
}

static void write_text(const char *path, const char *text)
{
	assert_int_equal(mg_write_file_atomic(path, text, strlen(text), 0600), 0);
}

/* A definition with every digest-relevant field set. */
struct def {
	struct cat_server s;
	char *cmd[4];
	struct cat_env env[2];
	struct cat_secret sec[1];
	char *tools[2];
};

static void def_init(struct def *d)
{
	memset(d, 0, sizeof(*d));
	d->cmd[0] = "node";
	d->cmd[1] = "/opt/files/index.js";
	d->cmd[2] = "--root";
	d->cmd[3] = NULL;
	d->env[0] = (struct cat_env){ "LOG_LEVEL", "info" };
	d->env[1] = (struct cat_env){ "MODE", "ro" };
	d->sec[0] = (struct cat_secret){ "files.token", "FILES_TOKEN" };
	d->tools[0] = "read_file";
	d->tools[1] = NULL;
	d->s.name = "files";
	d->s.title = "Files";
	d->s.description = "Read and write files";
	d->s.command = d->cmd;
	d->s.env = d->env;
	d->s.n_env = 2;
	d->s.secrets = d->sec;
	d->s.n_secrets = 1;
	d->s.tools = d->tools;
	d->s.cwd = "/srv";
	d->s.source = "catalog.yaml:3";
}

static void digest_of(const struct cat_server *s, char out[65])
{
	memset(out, 'Z', 65);
	cat_server_digest(s, out);
}

/* ======================================================================
 * digest
 * ====================================================================== */

static void test_digest_format_and_stability(void **state)
{
	struct def d, d2;
	char a[65], b[65];

	def_init(&d);
	digest_of(&d.s, a);
	assert_int_equal(strlen(a), 64);
	for (int i = 0; i < 64; i++)
		assert_true((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
	digest_of(&d.s, b);
	assert_string_equal(a, b);
	/* Another definition with equal content (other storage) agrees. */
	def_init(&d2);
	{
		char name[] = "files", c0[] = "node";

		d2.s.name = name;
		d2.cmd[0] = c0;
		digest_of(&d2.s, b);
	}
	assert_string_equal(a, b);
}

static void test_digest_sensitive(void **state)
{
	struct def d;
	char base[65], x[65];
	int n = 0;

	def_init(&d);
	digest_of(&d.s, base);

#define EXPECT_CHANGE(what, mutate)                                                    \
	do {                                                                               \
		def_init(&d);                                                              \
		mutate;                                                                    \
		digest_of(&d.s, x);                                                        \
		if (strcmp(base, x) == 0)                                                  \
			fail_msg("digest did not change with %s", what);                   \
		n++;                                                                       \
	} while (0)

	EXPECT_CHANGE("name", d.s.name = "files2");
	EXPECT_CHANGE("command[0]", d.cmd[0] = "nodejs");
	EXPECT_CHANGE("command[2]", d.cmd[2] = "--rootx");
	EXPECT_CHANGE("command shorter", d.cmd[2] = NULL);
	EXPECT_CHANGE("command order", (d.cmd[0] = "/opt/files/index.js", d.cmd[1] = "node"));
	EXPECT_CHANGE("command absent", d.s.command = NULL);
	EXPECT_CHANGE("argument split", (d.cmd[1] = "/opt/files/index.js --root", d.cmd[2] = NULL));
	EXPECT_CHANGE("env value", d.env[0].value = "debug");
	EXPECT_CHANGE("env name", d.env[0].name = "LOGLEVEL");
	EXPECT_CHANGE("env removed", d.s.n_env = 1);
	EXPECT_CHANGE("env none", d.s.n_env = 0);
	EXPECT_CHANGE("env order", (d.env[0] = (struct cat_env){ "MODE", "ro" },
				    d.env[1] = (struct cat_env){ "LOG_LEVEL", "info" }));
	EXPECT_CHANGE("env name/value boundary", (d.env[0].name = "LOG_LEVELi",
						  d.env[0].value = "nfo"));
	EXPECT_CHANGE("cwd", d.s.cwd = "/srv2");
	EXPECT_CHANGE("cwd absent", d.s.cwd = NULL);
	EXPECT_CHANGE("cwd empty", d.s.cwd = "");
	EXPECT_CHANGE("image", d.s.image = "mcp/files:latest");
	EXPECT_CHANGE("secret name", d.sec[0].name = "files.other");
	EXPECT_CHANGE("secret env", d.sec[0].env = "TOKEN");
	EXPECT_CHANGE("secret removed", d.s.n_secrets = 0);
#undef EXPECT_CHANGE
	assert_int_equal(n, 20);
}

static void test_digest_insensitive(void **state)
{
	struct def d;
	char base[65], x[65];
	char *other_tools[] = { "write_file", NULL };

	def_init(&d);
	digest_of(&d.s, base);

#define EXPECT_SAME(what, mutate)                                                      \
	do {                                                                               \
		def_init(&d);                                                              \
		mutate;                                                                    \
		digest_of(&d.s, x);                                                        \
		if (strcmp(base, x) != 0)                                                  \
			fail_msg("digest changed with %s", what);                          \
	} while (0)

	EXPECT_SAME("title", d.s.title = "Other title");
	EXPECT_SAME("no title", d.s.title = NULL);
	EXPECT_SAME("description", d.s.description = "Something else entirely");
	EXPECT_SAME("no description", d.s.description = NULL);
	EXPECT_SAME("source", d.s.source = "other.yaml:99");
	EXPECT_SAME("tools allowlist", d.s.tools = other_tools);
	EXPECT_SAME("prefix", d.s.prefix = "fs");
	EXPECT_SAME("lifecycle", (d.s.lifecycle = CAT_SHARED, d.s.lifecycle_set = true));
	EXPECT_SAME("timeouts", (d.s.timeout_ms = 1234, d.s.startup_timeout_ms = 99));
#undef EXPECT_SAME
}

static void test_digest_from_catalog(void **state)
{
	static const char y1[] =
		"registry:\n"
		"  files:\n"
		"    title: Files\n"
		"    description: Read and write files\n"
		"    command: [node, /opt/files/index.js]\n"
		"    env: {LOG_LEVEL: info}\n"
		"    cwd: /srv\n"
		"  memory:\n"
		"    command: [npx, -y, server-memory]\n";
	static const char y2[] =
		"registry:\n"
		"  files:\n"
		"    title: Files (renamed)\n"
		"    description: A new description\n"
		"    command: [node, /opt/files/index.js]\n"
		"    env:\n"
		"      - name: LOG_LEVEL\n"
		"        value: info\n"
		"    cwd: /srv\n"
		"  memory:\n"
		"    command: [npx, -y, server-memory]\n"
		"    env: {DEBUG: '1'}\n";
	struct catalog c1, c2;
	struct mg_err err;
	char f1[65], f2[65], m1[65], m2[65];

	catalog_init(&c1);
	catalog_init(&c2);
	assert_int_equal(catalog_load_string(&c1, y1, strlen(y1), "y1", &err), 0);
	assert_int_equal(catalog_load_string(&c2, y2, strlen(y2), "y2", &err), 0);
	cat_server_digest(catalog_find(&c1, "files"), f1);
	cat_server_digest(catalog_find(&c2, "files"), f2);
	cat_server_digest(catalog_find(&c1, "memory"), m1);
	cat_server_digest(catalog_find(&c2, "memory"), m2);
	/* Same definition written differently, with other title/description. */
	assert_string_equal(f1, f2);
	/* An env variable added. */
	assert_string_not_equal(m1, m2);
	assert_string_not_equal(f1, m1);
	catalog_release(&c1);
	catalog_release(&c2);
}

/* ======================================================================
 * cache files
 * ====================================================================== */

static json_t *sample_view(void)
{
	json_t *v = json_loads("{\"capabilities\":{\"tools\":{\"listChanged\":true}},"
			       "\"serverInfo\":{\"name\":\"files\",\"version\":\"1.0\"},"
			       "\"tools\":[{\"name\":\"read_file\",\"inputSchema\":{\"type\":\"object\"}}],"
			       "\"prompts\":[],\"big\":9007199254740993,\"text\":\"é\\n😀\"}",
			       0, NULL);

	assert_non_null(v);
	return v;
}

static void test_roundtrip(void **state)
{
	char *dir = make_tmpdir();
	struct def d;
	char dg[65];
	json_t *view = sample_view(), *copy = json_deep_copy(view), *back;
	char *file, *lists;
	struct stat st;

	def_init(&d);
	cat_server_digest(&d.s, dg);
	/* Nothing cached yet. */
	assert_null(lc_load(dir, dg));
	assert_int_equal(lc_save(dir, dg, view, NULL, NULL), 0);
	/* The caller's view is borrowed, not changed. */
	assert_true(json_equal(view, copy));
	assert_null(json_object_get(view, "format"));

	back = lc_load(dir, dg);
	assert_non_null(back);
	assert_int_equal(json_integer_value(json_object_get(back, "format")), 1);
	assert_string_equal(jx_str(back, "digest"), dg);
	json_object_del(back, "format");
	json_object_del(back, "digest");
	assert_true(json_equal(back, view));
	json_decref(back);

	/* Private permissions. */
	file = cache_file(dir, dg);
	lists = pathf(dir, "lists", "");
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(lists, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);

	/* Saving again replaces. */
	json_object_set_new(view, "tools", json_array());
	assert_int_equal(lc_save(dir, dg, view, NULL, NULL), 0);
	back = lc_load(dir, dg);
	assert_non_null(back);
	assert_int_equal(json_array_size(json_object_get(back, "tools")), 0);
	json_decref(back);

	/* Another digest is another file. */
	{
		char other[65];

		d.s.cwd = "/elsewhere";
		cat_server_digest(&d.s, other);
		assert_string_not_equal(other, dg);
		assert_null(lc_load(dir, other));
	}

	free(file);
	free(lists);
	json_decref(view);
	json_decref(copy);
	mg_rm_rf(dir);
	free(dir);
}

static void test_save_overrides_stale_markers(void **state)
{
	char *dir = make_tmpdir();
	json_t *view = json_pack("{s:i,s:s,s:[]}", "format", 99, "digest", "not-this", "tools");
	json_t *back;
	const char *dg = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

	assert_int_equal(lc_save(dir, dg, view, NULL, NULL), 0);
	back = lc_load(dir, dg);
	assert_non_null(back);
	assert_int_equal(json_integer_value(json_object_get(back, "format")), 1);
	assert_string_equal(jx_str(back, "digest"), dg);
	json_decref(back);
	json_decref(view);
	mg_rm_rf(dir);
	free(dir);
}

static void test_no_dir(void **state)
{
	json_t *view = sample_view();

	assert_null(lc_load(NULL, "abc"));
	assert_int_equal(lc_save(NULL, "abc", view, NULL, NULL), 0);
	json_decref(view);
}

static void test_nested_dir_created(void **state)
{
	char *dir = make_tmpdir();
	char *deep = pathf(dir, "a/b/c", "");
	json_t *view = sample_view(), *back;
	const char *dg = "feed";

	assert_int_equal(lc_save(deep, dg, view, NULL, NULL), 0);
	back = lc_load(deep, dg);
	assert_non_null(back);
	json_decref(back);
	json_decref(view);
	free(deep);
	mg_rm_rf(dir);
	free(dir);
}

static void test_bad_files_ignored(void **state)
{
	char *dir = make_tmpdir();
	const char *dg = "aaaa";
	char *file = cache_file(dir, dg);
	char *lists = pathf(dir, "lists", "");
	static const char *const bad[] = {
		"",
		"not json",
		"{\"format\":1,\"digest\":\"aaaa\",\"tools\":[",           /* truncated */
		"{\"format\":1,\"digest\":\"aaaa\"} trailing",
		"{\"format\":1,\"digest\":\"bbbb\",\"tools\":[]}",       /* wrong digest */
		"{\"format\":1,\"digest\":\"aaaa \",\"tools\":[]}",
		"{\"format\":1,\"digest\":\"AAAA\",\"tools\":[]}",
		"{\"format\":1,\"tools\":[]}",                           /* no digest */
		"{\"format\":1,\"digest\":null,\"tools\":[]}",
		"{\"format\":1,\"digest\":7,\"tools\":[]}",
		"{\"format\":2,\"digest\":\"aaaa\",\"tools\":[]}",       /* wrong format */
		"{\"format\":0,\"digest\":\"aaaa\",\"tools\":[]}",
		"{\"format\":\"1\",\"digest\":\"aaaa\",\"tools\":[]}",
		"{\"format\":1.0,\"digest\":\"aaaa\",\"tools\":[]}",
		"{\"digest\":\"aaaa\",\"tools\":[]}",                    /* no format */
		"[{\"format\":1,\"digest\":\"aaaa\"}]",                  /* not an object */
		"{\"format\":1,\"digest\":\"aaaa\",\"digest\":\"aaaa\"}", /* duplicate key */
		"{\"format\":1,\"digest\":\"aaaa\",\"x\":\"\xff\"}",     /* bad UTF-8 */
	};

	/* Quiet: ignored files are logged at debug level only. */
	mg_log_set_level(MG_LOG_WARN);
	assert_int_equal(mkdir(lists, 0700), 0);
	for (size_t i = 0; i < MG_ARRAY_LEN(bad); i++) {
		json_t *v;

		write_text(file, bad[i]);
		v = lc_load(dir, dg);
		if (v) {
			json_decref(v);
			fail_msg("cache file #%zu accepted: %s", i, bad[i]);
		}
	}
	/* The good form of the same file is accepted (the test is meaningful). */
	write_text(file, "{\"format\":1,\"digest\":\"aaaa\",\"tools\":[]}");
	{
		json_t *v = lc_load(dir, dg);
		assert_non_null(v);
		json_decref(v);
	}
	/* A file saved under one digest and copied to another's name. */
	{
		json_t *view = sample_view();
		char *other = cache_file(dir, "cccc");
		char *text = NULL;
		size_t len;

		assert_int_equal(lc_save(dir, dg, view, NULL, NULL), 0);
		assert_int_equal(mg_read_file(file, 1 << 20, &text, &len), 0);
		assert_int_equal(mg_write_file_atomic(other, text, len, 0600), 0);
		assert_null(lc_load(dir, "cccc"));
		free(text);
		free(other);
		json_decref(view);
	}
	/* A directory where the file should be. */
	assert_int_equal(unlink(file), 0);
	assert_int_equal(mkdir(file, 0700), 0);
	assert_null(lc_load(dir, dg));
	free(file);
	free(lists);
	mg_rm_rf(dir);
	free(dir);
}

static void test_save_errors(void **state)
{
	char *dir = make_tmpdir();
	char *lists = pathf(dir, "lists", "");
	json_t *view = sample_view();
	int fd;

	/* "lists" is a file: the save fails (it only costs a slower start). */
	fd = open(lists, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_true(lc_save(dir, "abcd", view, NULL, NULL) < 0);
	assert_null(lc_load(dir, "abcd"));
	/* Paths too long for the system. */
	{
		char *lng = mg_malloc(PATH_MAX + 2);

		memset(lng, 'd', PATH_MAX + 1);
		lng[0] = '/';
		lng[PATH_MAX + 1] = '\0';
		assert_int_equal(lc_save(lng, "abcd", view, NULL, NULL), -ENAMETOOLONG);
		assert_null(lc_load(lng, "abcd"));
		free(lng);
	}
	json_decref(view);
	free(lists);
	mg_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest_format_and_stability),
		cmocka_unit_test(test_digest_sensitive),
		cmocka_unit_test(test_digest_insensitive),
		cmocka_unit_test(test_digest_from_catalog),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_save_overrides_stale_markers),
		cmocka_unit_test(test_no_dir),
		cmocka_unit_test(test_nested_dir_created),
		cmocka_unit_test(test_bad_files_ignored),
		cmocka_unit_test(test_save_errors),
	};

	if (sodium_init() < 0)
		return 1;
	mg_log_set_level(MG_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
