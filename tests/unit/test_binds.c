/* Unit tests for src/runtime/binds.c (what a sandboxed server may see of
 * the host) and the spec checks of src/runtime/npm.c (refused before any
 * install is tried). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/str.h"
#include "runtime/binds.h"
#include "runtime/npm.h"

static char *dir;               /* a fake home with keys, and a project */

static char *at(const char *rel)
{
	static char buf[8][PATH_MAX];
	static int n;
	char *b = buf[n++ % 8];

	snprintf(b, PATH_MAX, "%s/%s", dir, rel);
	return b;
}

static void touch(const char *p)
{
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fclose(f);
}

static int setup(void **state)
{
	dir = make_tmpdir();
	assert_int_equal(mg_mkdir_p(at("home/.ssh"), 0700), 0);
	touch(at("home/.ssh/id_ed25519"));
	assert_int_equal(mg_mkdir_p(at("home/project/node_modules/pkg/dist"), 0755), 0);
	touch(at("home/project/node_modules/pkg/dist/index.js"));
	assert_int_equal(mg_mkdir_p(at("home/project/data"), 0755), 0);
	assert_int_equal(mg_mkdir_p(at("home/.aws"), 0700), 0);
	assert_int_equal(mg_mkdir_p(at("tool/bin"), 0755), 0);
	touch(at("tool/bin/prog"));
	chmod(at("tool/bin/prog"), 0755);
	assert_int_equal(mg_mkdir_p(at("users/alice/.ssh"), 0700), 0);
	setenv("HOME", at("home"), 1);
	return 0;
}

static int teardown(void **state)
{
	mg_rm_rf(dir);
	free(dir);
	return 0;
}

static void refused(const char *path, const char *why)
{
	struct mg_err err;

	assert_int_equal(rt_bind_allowed(path, &err), -EACCES);
	if (!strstr(err.msg, why))
		fail_msg("'%s' refused with '%s', expected '%s'", path, err.msg, why);
}

static void test_sensitive_paths_refused(void **state)
{
	refused(at("home/.ssh"), "lies in a .ssh folder");
	refused(at("home/.ssh/id_ed25519"), "lies in a .ssh folder");
	refused(at("home/.aws"), ".aws");
	refused(at("home"), "home folder");                    /* $HOME itself */
	refused(at("users"), "would show");                    /* a folder of homes */
	refused("/", "would show");
	refused("/etc", "would show /etc/shadow");
	refused("/etc/shadow", "is or lies in /etc/shadow");
	refused("/proc", "/proc");
	refused("/root", "home folder");
	if (access("/var/run/docker.sock", F_OK) == 0)
		refused("/var/run", "docker.sock");
}

static void test_ordinary_paths_allowed(void **state)
{
	struct mg_err err;

	assert_int_equal(rt_bind_allowed(at("home/project"), &err), 0);
	assert_int_equal(rt_bind_allowed(at("home/project/data"), &err), 0);
	assert_int_equal(rt_bind_allowed("/usr", &err), 0);
	assert_int_equal(rt_bind_allowed(at("nothing-here"), &err), -ENOENT);
}

static void test_volume_parse(void **state)
{
	struct mg_err err;
	struct rt_bind b;
	char spec[PATH_MAX + 64];

	snprintf(spec, sizeof(spec), "%s:/data", at("home/project/data"));
	assert_int_equal(rt_volume_parse(spec, &b, &err), 0);
	assert_string_equal(b.inside, "/data");
	assert_false(b.rw);                                     /* read-only unless :rw */
	free(b.host);
	free(b.inside);
	snprintf(spec, sizeof(spec), "%s:/data:rw", at("home/project/data"));
	assert_int_equal(rt_volume_parse(spec, &b, &err), 0);
	assert_true(b.rw);
	free(b.host);
	free(b.inside);
	assert_int_equal(rt_volume_parse("~/.ssh:/keys", &b, &err), -EACCES);
	assert_int_equal(rt_volume_parse("~/project:/p:rx", &b, &err), -EINVAL);
	assert_int_equal(rt_volume_parse("named-volume:/data", &b, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "absolute"));
	assert_int_equal(rt_volume_parse("/tmp:relative", &b, &err), -EINVAL);
	assert_int_equal(rt_volume_parse("/tmp:/", &b, &err), -EINVAL);
	assert_int_equal(rt_volume_parse("/tmp:/a/../etc", &b, &err), -EINVAL);
}

static const struct rt_bind *find(const struct rt_binds *b, const char *host)
{
	char real[PATH_MAX];

	assert_non_null(realpath(host, real));
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->v[i].host, real) == 0)
			return &b->v[i];
	return NULL;
}

static void test_command_binds(void **state)
{
	char *argv[] = { at("tool/bin/prog"), at("home/project/node_modules/pkg/dist/index.js"),
			 at("home/project/data"), "--flag", NULL };
	struct rt_binds b = { NULL, 0 };
	struct mg_err err;
	const struct rt_bind *x;
	char *argv0 = NULL;

	assert_int_equal(rt_command_binds(argv, "/usr/bin", NULL, &b, &argv0, &err), 0);
	assert_string_equal(argv0, at("tool/bin/prog"));
	x = find(&b, at("tool"));                       /* the prefix around bin/ */
	assert_non_null(x);
	assert_false(x->rw);
	x = find(&b, at("home/project/node_modules"));  /* the whole tree, for its deps */
	assert_non_null(x);
	assert_false(x->rw);
	x = find(&b, at("home/project/data"));          /* a folder it is given */
	assert_non_null(x);
	assert_true(x->rw);
	assert_null(find(&b, at("home/project")));
	free(argv0);
	rt_binds_release(&b);
}

static void test_command_binds_refuse(void **state)
{
	char *with_keys[] = { "/bin/cat", at("home/.ssh/id_ed25519"), NULL };
	char *opt_keys[] = { "/bin/cat", NULL, NULL };
	char *missing[] = { "no-such-program-here", NULL };
	struct rt_binds b = { NULL, 0 };
	struct mg_err err;
	char *argv0 = NULL, opt[PATH_MAX + 16];

	assert_int_equal(rt_command_binds(with_keys, "/usr/bin", NULL, &b, &argv0, &err), -EACCES);
	free(argv0);
	rt_binds_release(&b);
	snprintf(opt, sizeof(opt), "--key=%s", at("home/.ssh/id_ed25519"));
	opt_keys[1] = opt;
	assert_int_equal(rt_command_binds(opt_keys, "/usr/bin", NULL, &b, &argv0, &err), -EACCES);
	free(argv0);
	rt_binds_release(&b);
	assert_int_equal(rt_command_binds(missing, "/usr/bin", NULL, &b, &argv0, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "not found"));
	rt_binds_release(&b);
}

static void test_covered_binds_merge(void **state)
{
	struct rt_binds b = { NULL, 0 };

	rt_binds_add(&b, at("home/project"), NULL, false);
	rt_binds_add(&b, at("home/project/node_modules"), NULL, false);  /* covered */
	rt_binds_add(&b, at("home/project/data"), NULL, true);           /* rw: its own */
	assert_int_equal(b.n, 2);
	rt_binds_release(&b);
}

/* ---- rt_bind_open: what is opened, at every instance start ---- */

/* A volume validated as at the gateway's start (owner and type recorded). */
static struct rt_bind validated(const char *host)
{
	char spec[PATH_MAX + 16];
	struct mg_err err;
	struct rt_bind b;

	snprintf(spec, sizeof(spec), "%s:/data:rw", host);
	if (rt_volume_parse(spec, &b, &err))
		fail_msg("%s: %s", spec, err.msg);
	return b;
}

static void release_bind(struct rt_bind *b)
{
	free(b->host);
	free(b->inside);
}

static size_t open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* b must be refused at an instance start, with a message naming its
 * path and saying why. */
static void open_refused(const struct rt_bind *b, int code, const char *why)
{
	struct mg_err err;
	struct stat st;
	int fd = 7;

	assert_int_equal(rt_bind_open(b, true, &fd, &st, &err), code);
	assert_int_equal(fd, -1);
	if (!strstr(err.msg, b->host) || !strstr(err.msg, why))
		fail_msg("'%s' refused with '%s', expected '%s'", b->host, err.msg, why);
}

/* Replace folder (the user's) by a symlink to target, as its owner could. */
static void swap_for_symlink(const char *folder, const char *target)
{
	char old[PATH_MAX];

	snprintf(old, sizeof(old), "%s.before", folder);
	assert_int_equal(rename(folder, old), 0);
	assert_int_equal(symlink(target, folder), 0);
}

static void test_bind_open_unchanged(void **state)
{
	struct rt_bind b;
	struct mg_err err;
	struct stat st, now;
	int fd;

	assert_int_equal(mg_mkdir_p(at("race/same"), 0755), 0);
	b = validated(at("race/same"));
	assert_int_equal(rt_bind_open(&b, true, &fd, &st, &err), 0);
	assert_true(fd >= 0);
	assert_int_equal(stat(b.host, &now), 0);
	assert_true(st.st_dev == now.st_dev && st.st_ino == now.st_ino);
	assert_int_equal(fcntl(fd, F_GETFL) & O_PATH, O_PATH);
	close(fd);
	release_bind(&b);
}

static void test_bind_open_symlink_last(void **state)
{
	struct rt_bind b;
	struct mg_err start;

	assert_int_equal(mg_mkdir_p(at("race/last"), 0755), 0);
	assert_int_equal(mg_mkdir_p(at("race/secret"), 0700), 0);
	touch(at("race/secret/root-only"));
	b = validated(at("race/last"));
	swap_for_symlink(b.host, at("race/secret"));
	open_refused(&b, -EACCES, "a symlink on its path now leads to");
	release_bind(&b);

	/* To /etc: the words of the gateway's start for /etc. */
	assert_int_equal(mg_mkdir_p(at("race/etc"), 0755), 0);
	b = validated(at("race/etc"));
	swap_for_symlink(b.host, "/etc");
	assert_int_equal(rt_bind_allowed("/etc", &start), -EACCES);
	open_refused(&b, -EACCES, strstr(start.msg, "it would show"));
	open_refused(&b, -EACCES, "leads to /etc");
	release_bind(&b);
}

static void test_bind_open_symlink_middle(void **state)
{
	char mid[PATH_MAX];
	struct rt_bind b;

	/* race/mid/leaf validated; then mid becomes a symlink to a folder that
	 * holds another leaf. */
	assert_int_equal(mg_mkdir_p(at("race/mid/leaf"), 0755), 0);
	assert_int_equal(mg_mkdir_p(at("race/decoy/leaf"), 0700), 0);
	b = validated(at("race/mid/leaf"));
	mg_strlcpy(mid, at("race/mid"), sizeof(mid));
	swap_for_symlink(mid, at("race/decoy"));
	open_refused(&b, -EACCES, "a symlink on its path now leads to");
	open_refused(&b, -EACCES, "decoy/leaf");
	release_bind(&b);
}

static void test_bind_open_swapped_owner(void **state)
{
	char old[PATH_MAX];
	struct rt_bind b;

	if (geteuid() != 0)
		skip();         /* needs a folder of another user's */
	/* Validated: a folder of nobody's.  Then, with no symlink anywhere,
	 * the path holds a root-owned 0700 folder. */
	assert_int_equal(mg_mkdir_p(at("race/owner"), 0755), 0);
	assert_int_equal(chown(at("race/owner"), 65534, 65534), 0);
	b = validated(at("race/owner"));
	assert_int_equal((int)b.uid, 65534);
	snprintf(old, sizeof(old), "%s.before", b.host);
	assert_int_equal(rename(b.host, old), 0);
	assert_int_equal(mkdir(b.host, 0700), 0);
	open_refused(&b, -EACCES, "belongs to uid 0 gid 0 now, not to uid 65534 gid 65534");
	release_bind(&b);
}

static void test_bind_open_checks_what_is_open(void **state)
{
	struct rt_bind b;
	struct mg_err err;
	struct stat st;
	int fd;

	/* A folder that now holds keys: the path rules, on what is opened. */
	assert_int_equal(mg_mkdir_p(at("race/keys"), 0755), 0);
	b = validated(at("race/keys"));
	assert_int_equal(mg_mkdir_p(at("race/keys/.ssh"), 0700), 0);
	open_refused(&b, -EACCES, "would show");
	/* The gateway's own workspace is not held to the path rules. */
	assert_int_equal(rt_bind_open(&b, false, &fd, &st, &err), 0);
	close(fd);
	release_bind(&b);

	/* A folder that is a file now. */
	assert_int_equal(mg_mkdir_p(at("race/type"), 0755), 0);
	b = validated(at("race/type"));
	assert_int_equal(rmdir(b.host), 0);
	touch(b.host);
	open_refused(&b, -EACCES, "is a file now, not the folder");
	release_bind(&b);

	/* Gone. */
	assert_int_equal(mg_mkdir_p(at("race/gone"), 0755), 0);
	b = validated(at("race/gone"));
	assert_int_equal(rmdir(b.host), 0);
	open_refused(&b, -ENOENT, "No such file");
	release_bind(&b);
}

static void test_binds_open_all_or_none(void **state)
{
	struct rt_binds b = { NULL, 0 };
	struct mg_err err;
	size_t before;
	int fds[3];

	assert_int_equal(mg_mkdir_p(at("race/all/a"), 0755), 0);
	assert_int_equal(mg_mkdir_p(at("race/all/b"), 0755), 0);
	assert_int_equal(mg_mkdir_p(at("race/all/c"), 0755), 0);
	rt_binds_add(&b, at("race/all/a"), "/a", true);
	rt_binds_add(&b, at("race/all/b"), "/b", false);
	rt_binds_add(&b, at("race/all/c"), "/c", false);
	assert_int_equal(rt_binds_open(&b, fds, &err), 0);
	/* The order of rt_binds_specs: read-only first. */
	for (int i = 0; i < 3; i++) {
		char link[64], real[PATH_MAX];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fds[i]);
		n = readlink(link, real, sizeof(real) - 1);
		assert_true(n > 0);
		real[n] = '\0';
		assert_true(mg_ends_with(real, i == 0 ? "/b" : i == 1 ? "/c" : "/a"));
		close(fds[i]);
	}
	before = open_fds();
	swap_for_symlink(at("race/all/c"), at("race/all/a"));
	assert_int_equal(rt_binds_open(&b, fds, &err), -EACCES);
	assert_non_null(strstr(err.msg, at("race/all/c")));
	assert_int_equal(open_fds(), before);
	rt_binds_release(&b);
}

static void test_npx_specs(void **state)
{
	char *git[] = { "npx", "-y", "git+https://example.com/x.git", NULL };
	char *path[] = { "npx", "./local", NULL };
	char *opt[] = { "npx", "--registry=http://evil", "pkg", NULL };
	char *shell[] = { "npx", "-c", "rm -rf /", NULL };
	char *none[] = { "npx", "-y", NULL };
	char **out = NULL;
	struct mg_err err;

	assert_true(rt_npx_is(git));
	assert_false(rt_npx_is((char *[]){ "node", "x.js", NULL }));
	assert_true(rt_npx_is((char *[]){ "/usr/bin/npm", "exec", "pkg", NULL }));
	assert_int_equal(rt_npx_resolve(git, dir, NULL, &out, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not a registry package"));
	assert_int_equal(rt_npx_resolve(path, dir, NULL, &out, &err), -EINVAL);
	assert_int_equal(rt_npx_resolve(opt, dir, NULL, &out, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not understood"));
	assert_int_equal(rt_npx_resolve(shell, dir, NULL, &out, &err), -EINVAL);
	assert_int_equal(rt_npx_resolve(none, dir, NULL, &out, &err), -EINVAL);
	assert_null(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sensitive_paths_refused),
		cmocka_unit_test(test_ordinary_paths_allowed),
		cmocka_unit_test(test_volume_parse),
		cmocka_unit_test(test_command_binds),
		cmocka_unit_test(test_command_binds_refuse),
		cmocka_unit_test(test_covered_binds_merge),
		cmocka_unit_test(test_bind_open_unchanged),
		cmocka_unit_test(test_bind_open_symlink_last),
		cmocka_unit_test(test_bind_open_symlink_middle),
		cmocka_unit_test(test_bind_open_swapped_owner),
		cmocka_unit_test(test_bind_open_checks_what_is_open),
		cmocka_unit_test(test_binds_open_all_or_none),
		cmocka_unit_test(test_npx_specs),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
