/* runtime/sandbox: more processes in a running sandbox (sbx_exec).
 *
 * Root only (the sandbox maps ids and makes cgroups); every test builds
 * real sandboxes with the real seccomp programs.  What each exec'd process
 * must show: uid/gid 1000, no capability in any set, no_new_privs, both
 * seccomp filters, the first payload's PID, mount, network, IPC, UTS,
 * user and cgroup namespaces, the caller's stdio, its exit status; what
 * must fail clearly: a missing program, a bad cwd, an oversized request;
 * and what must be gone afterwards: every process and cgroup. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"
#include "runtime/sandbox.h"
#include "runtime/seccomp.h"
#include "testutil.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static struct sbx_filter g_filter;
static char *const g_env[] = { "PATH=/usr/bin:/bin", "HOME=/workspace", "LANG=C.UTF-8", NULL };

static int group_setup(void **state)
{
	struct mg_err err;

	if (geteuid() != 0) {
		fprintf(stderr, "test_sandbox_exec needs root\n");
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);      /* as the gateway does: payloads must not inherit it */
	if (sbx_filter_build(&g_filter, &err)) {
		fprintf(stderr, "sbx_filter_build: %s\n", err.msg);
		return -1;
	}
	sbx_sweep_leftovers();
	return 0;
}

static int group_teardown(void **state)
{
	sbx_filter_release(&g_filter);
	return 0;
}

/* A sandbox with an exec channel; argv NULL: hold. */
static void spawn(struct sbx_child *ch, char *const *argv, bool limits)
{
	struct sbx_config c;
	struct mg_err err;
	int rc;

	memset(&c, 0, sizeof(c));
	c.argv = argv;
	c.envp = g_env;
	c.fd_in = c.fd_out = c.fd_err = -1;
	c.filter = &g_filter;
	c.exec_channel = true;
	if (limits) {
		c.memory_bytes = 256ull << 20;
		c.pids_max = 64;
		c.cpus = 1;
	}
	rc = sbx_spawn(&c, ch, &err);
	if (rc)
		fail_msg("sbx_spawn: %s", err.msg);
	assert_true(ch->ctl_fd >= 0);
}

/* The sandbox's init exited: its status in waitid form. */
static int wait_init(struct sbx_child *ch, int timeout_ms)
{
	struct pollfd pf = { ch->pidfd, POLLIN, 0 };
	siginfo_t si;

	if (poll(&pf, 1, timeout_ms) != 1)
		fail_msg("the sandbox did not end within %d ms", timeout_ms);
	memset(&si, 0, sizeof(si));
	assert_int_equal(waitid((idtype_t)P_PIDFD, (id_t)ch->pidfd, &si, WEXITED), 0);
	return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}

static void end(struct sbx_child *ch)
{
	sbx_shutdown(ch);
	wait_init(ch, 10000);
	sbx_release(ch, NULL);
}

/* Everything fd says until EOF (capped), NUL-terminated; caller frees. */
static char *read_all(int fd, int timeout_ms)
{
	size_t cap = 65536, len = 0;
	char *buf = mg_malloc(cap);

	for (;;) {
		struct pollfd pf = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&pf, 1, timeout_ms) != 1)
			fail_msg("no EOF within %d ms (read so far: %.*s)", timeout_ms, (int)len, buf);
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n >= 0);
		if (n == 0)
			break;
		len += (size_t)n;
		assert_true(len < cap - 1);
	}
	buf[len] = '\0';
	return buf;
}

struct run {
	int status;
	pid_t pid;
	char *out, *err;
};

/* Run argv in the sandbox, stdin from `in` (NULL: /dev/null), collect
 * stdout and stderr, wait for the exit. */
static void run_in(struct sbx_child *ch, char *const *argv, const char *cwd, const char *in,
		   struct run *r)
{
	int o[2], e[2], i[2] = { -1, -1 };
	struct sbx_exec req = { .argv = argv, .envp = g_env, .cwd = cwd, .fd_in = -1 };
	struct sbx_proc p;
	struct mg_err err;

	assert_int_equal(pipe2(o, O_CLOEXEC), 0);
	assert_int_equal(pipe2(e, O_CLOEXEC), 0);
	if (in) {
		assert_int_equal(pipe2(i, O_CLOEXEC), 0);
		req.fd_in = i[0];
	}
	req.fd_out = o[1];
	req.fd_err = e[1];
	if (sbx_exec(ch, &req, &p, &err))
		fail_msg("sbx_exec %s: %s", argv[0], err.msg);
	/* The sandbox holds its own copies now. */
	close(o[1]);
	close(e[1]);
	if (in) {
		close(i[0]);
		assert_int_equal(write(i[1], in, strlen(in)), (ssize_t)strlen(in));
		close(i[1]);
	}
	assert_true(p.pid > 1);
	assert_true(p.status_fd >= 0);
	r->pid = p.pid;
	r->out = read_all(o[0], 20000);
	r->err = read_all(e[0], 20000);
	close(o[0]);
	close(e[0]);
	assert_int_equal(sbx_proc_wait(&p, &r->status, &err), 0);
	sbx_proc_release(&p);
	assert_int_equal(p.status_fd, -1);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

/* The value of "Name:" in a /proc/PID/status text, tabs and spaces
 * squeezed to one space. */
static char *status_field(const char *text, const char *name, char *out, size_t size)
{
	char key[64];
	const char *p;
	size_t k = 0;

	snprintf(key, sizeof(key), "\n%s:", name);
	p = strstr(text, key);
	if (!p)
		fail_msg("no %s in:\n%s", name, text);
	p += strlen(key);
	while (*p == '\t' || *p == ' ')
		p++;
	for (; *p && *p != '\n' && k + 1 < size; p++)
		if (!((*p == '\t' || *p == ' ') && k && out[k - 1] == ' '))
			out[k++] = *p == '\t' ? ' ' : *p;
	while (k && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
	return out;
}

static void expect_hardened(const char *status, const char *who)
{
	static const char *const zero_caps[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
	char v[128];

	assert_string_equal(status_field(status, "Uid", v, sizeof(v)), "1000 1000 1000 1000");
	assert_string_equal(status_field(status, "Gid", v, sizeof(v)), "1000 1000 1000 1000");
	assert_string_equal(status_field(status, "Groups", v, sizeof(v)), "1000");
	for (size_t i = 0; i < MG_ARRAY_LEN(zero_caps); i++)
		if (strcmp(status_field(status, zero_caps[i], v, sizeof(v)), "0000000000000000"))
			fail_msg("%s: %s is %s", who, zero_caps[i], v);
	assert_string_equal(status_field(status, "NoNewPrivs", v, sizeof(v)), "1");
	assert_string_equal(status_field(status, "Seccomp", v, sizeof(v)), "2");
	assert_string_equal(status_field(status, "Seccomp_filters", v, sizeof(v)), "2");
}

/* An exec'd process: uid 1000, no capabilities, no_new_privs, seccomp on,
 * rlimits, a session of its own, the default cwd, its own environment,
 * default signal dispositions (the gateway ignores SIGPIPE). */
static void test_exec_hardened(void **state)
{
	char *const cat[] = { "cat", "/proc/self/status", NULL };
	char *const sh[] = { "/bin/sh", "-c",
			     "pwd; ulimit -c; echo \"$HOME $PATH\"; "
			     "[ \"$(cut -d' ' -f6 /proc/self/stat)\" = \"$$\" ] || echo shared-session; "
			     "grep -E '^(SigIgn|SigBlk):' /proc/self/status", NULL };
	struct sbx_child ch;
	struct run r;

	spawn(&ch, NULL, false);
	run_in(&ch, cat, NULL, NULL, &r);
	assert_int_equal(r.status, 0);
	expect_hardened(r.out, "exec'd cat");
	run_free(&r);
	run_in(&ch, sh, NULL, NULL, &r);
	assert_int_equal(r.status, 0);
	/* The exec'd sh leads a session of its own: cut's sid is sh's pid. */
	if (strstr(r.out, "shared-session"))
		fail_msg("not a session leader:\n%s", r.out);
	if (!strstr(r.out, "/workspace\n0\n/workspace /usr/bin:/bin\n") ||
	    !strstr(r.out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"))
		fail_msg("unexpected:\n%s", r.out);
	run_free(&r);
	end(&ch);
}

/* Securebits, read with prctl(PR_GET_SECUREBITS) from inside (python's
 * ctypes), when a python is installed: NOROOT, KEEP_CAPS off and
 * NO_CAP_AMBIENT_RAISE, each locked. */
static void test_exec_securebits(void **state)
{
	char *const py[] = { "python3", "-c",
			     "import ctypes;print(hex(ctypes.CDLL(None).prctl(27,0,0,0,0)))", NULL };
	struct sbx_child ch;
	struct run r;

	if (access("/usr/bin/python3", X_OK) != 0) {
		print_message("note: no python3, securebits not read\n");
		return;
	}
	spawn(&ch, NULL, false);
	run_in(&ch, py, NULL, NULL, &r);
	assert_int_equal(r.status, 0);
	/* SECBIT_NOROOT|NOROOT_LOCKED|KEEP_CAPS_LOCKED|NO_CAP_AMBIENT_RAISE|_LOCKED */
	assert_string_equal(r.out, "0xe3\n");
	run_free(&r);
	end(&ch);
}

/* The payload itself gets the same, with and without the channel (init
 * installs seccomp and drops the bounding set for both). */
static void test_payload_hardened(void **state)
{
	char *const cat[] = { "cat", "/proc/self/status", NULL };
	struct sbx_config c;
	struct sbx_child ch;
	struct mg_err err;
	int o[2];

	for (int channel = 0; channel < 2; channel++) {
		char *out;

		assert_int_equal(pipe2(o, O_CLOEXEC), 0);
		memset(&c, 0, sizeof(c));
		c.argv = cat;
		c.envp = g_env;
		c.fd_in = -1;
		c.fd_out = o[1];
		c.fd_err = 2;
		c.filter = &g_filter;
		c.exec_channel = channel;
		if (sbx_spawn(&c, &ch, &err))
			fail_msg("sbx_spawn: %s", err.msg);
		close(o[1]);
		out = read_all(o[0], 20000);
		close(o[0]);
		assert_int_equal(wait_init(&ch, 10000), 0);
		sbx_release(&ch, NULL);
		expect_hardened(out, channel ? "payload (channel)" : "payload");
		free(out);
	}
}

/* Same PID, mount, network, IPC, UTS, user and cgroup namespaces as the
 * payload: it sees what the payload wrote in /tmp (a tmpfs of the
 * sandbox's own) and the payload itself in /proc. */
static void test_exec_same_namespaces(void **state)
{
	char *const payload[] = {
		"/bin/sh", "-c",
		"for n in pid mnt net ipc uts user cgroup; do readlink /proc/self/ns/$n; done "
		">/tmp/ns.tmp && mv /tmp/ns.tmp /tmp/ns && exec sleep 1000", NULL };
	/* The payload writes /tmp/ns, then execs sleep: wait (bounded) for
	 * both, as the file alone does not say that the exec is done. */
	char *const probe[] = {
		"/bin/sh", "-c",
		"i=0; until [ -e /tmp/ns ] && [ \"$(tr '\\0' ' ' </proc/2/cmdline)\" = 'sleep 1000 ' ]; do "
		"i=$((i + 1)); [ $i -lt 2000 ] || break; sleep 0.01; done; "
		"for n in pid mnt net ipc uts user cgroup; do readlink /proc/self/ns/$n; done "
		">/tmp/mine; cmp /tmp/ns /tmp/mine && tr '\\0' ' ' </proc/2/cmdline && echo && "
		"cat /proc/sys/kernel/hostname", NULL };
	char host_ns[64], path[64];
	struct sbx_child ch;
	struct run r;
	ssize_t n;

	spawn(&ch, payload, true);
	run_in(&ch, probe, "/tmp", NULL, &r);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "sleep 1000 \nsandbox\n");
	/* Not the host's: the sandbox's PID namespace is init's. */
	assert_true(r.pid > 2);
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)ch.pid);
	n = readlink(path, host_ns, sizeof(host_ns) - 1);
	assert_true(n > 0);
	host_ns[n] = '\0';
	run_free(&r);
	{
		char *const cat[] = { "head", "-n", "1", "/tmp/ns", NULL };

		run_in(&ch, cat, NULL, NULL, &r);
		assert_int_equal(r.status, 0);
		/* pid:[N] seen from inside is init's namespace seen from outside. */
		assert_int_equal(strncmp(r.out, host_ns, strlen(host_ns)), 0);
		run_free(&r);
	}
	/* Killing PID 1 ends the sandbox, payload and all. */
	syscall(SYS_pidfd_send_signal, ch.pidfd, SIGKILL, NULL, 0);
	wait_init(&ch, 10000);
	sbx_release(&ch, NULL);
}

/* stdin, stdout and stderr are the caller's fds; the exit status comes
 * back as waitpid would give it, by code and by signal. */
static void test_exec_stdio_and_status(void **state)
{
	char *const sh[] = { "/bin/sh", "-c", "tr a-z A-Z; echo to-err >&2; exit 7", NULL };
	char *const killself[] = { "/bin/sh", "-c", "kill -USR1 $$", NULL };
	struct sbx_child ch;
	struct run r;

	spawn(&ch, NULL, false);
	run_in(&ch, sh, NULL, "hello sandbox\n", &r);
	assert_true(WIFEXITED(r.status));
	assert_int_equal(WEXITSTATUS(r.status), 7);
	assert_string_equal(r.out, "HELLO SANDBOX\n");
	assert_string_equal(r.err, "to-err\n");
	run_free(&r);
	run_in(&ch, killself, NULL, NULL, &r);
	assert_true(WIFSIGNALED(r.status));
	assert_int_equal(WTERMSIG(r.status), SIGUSR1);
	run_free(&r);
	end(&ch);
}

/* A program that is not there, a cwd that is not there, and a request
 * over the cap fail with a message that says so; the sandbox serves on. */
static void test_exec_failures(void **state)
{
	char *const missing[] = { "no-such-program", NULL };
	char *const abs_missing[] = { "/usr/bin/no-such-program", "x", NULL };
	char *const ok[] = { "true", NULL };
	struct sbx_exec req = { .argv = missing, .envp = g_env, .fd_in = -1, .fd_out = -1,
				.fd_err = -1 };
	char **big = mg_calloc(2000, sizeof(char *));
	struct sbx_child ch;
	struct sbx_proc p;
	struct mg_err err;
	struct run r;
	int rc;

	spawn(&ch, NULL, false);
	rc = sbx_exec(&ch, &req, &p, &err);
	assert_int_equal(rc, -ENOENT);
	assert_string_equal(err.msg, "cannot run 'no-such-program': No such file or directory");
	assert_int_equal(p.status_fd, -1);
	req.argv = abs_missing;
	assert_int_equal(sbx_exec(&ch, &req, &p, &err), -ENOENT);
	assert_string_equal(err.msg,
			    "cannot run '/usr/bin/no-such-program': No such file or directory");
	req.argv = ok;
	req.cwd = "/no/such/dir";
	assert_int_equal(sbx_exec(&ch, &req, &p, &err), -ENOENT);
	assert_string_equal(err.msg, "cannot run 'true': sandbox: cannot change directory: "
			    "No such file or directory");
	req.cwd = NULL;
	big[0] = "true";
	for (int i = 1; i < 1999; i++)
		big[i] = "x";
	req.argv = big;
	assert_int_equal(sbx_exec(&ch, &req, &p, &err), -E2BIG);
	assert_non_null(strstr(err.msg, "more than 1024 arguments"));
	free(big);
	run_in(&ch, ok, NULL, NULL, &r);
	assert_int_equal(r.status, 0);
	run_free(&r);
	/* No channel, no exec. */
	end(&ch);
	req.argv = ok;
	assert_int_equal(sbx_exec(&ch, &req, &p, &err), -ENOTCONN);
}

/* Bind sources the caller opened and checked (bind_fds): the sandbox binds
 * those inodes and no other.  A path that leads elsewhere by the time the
 * sandbox opens it (swapped between the check and the build), or through
 * a symlink, is refused, naming the path. */
static void test_bind_sources_checked(void **state)
{
	char *dir = make_tmpdir(), a[256], b[256], link[256], spec[600], ls_arg[] = "/data";
	char *const ls[] = { "ls", ls_arg, NULL };
	char *ro[2] = { spec, NULL };
	struct sbx_config c;
	struct sbx_child ch;
	struct mg_err err;
	struct run r;
	int fd, fa;

	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(mkdir(a, 0755), 0);
	assert_int_equal(mkdir(b, 0755), 0);
	snprintf(spec, sizeof(spec), "%s/in-a", a);
	fd = open(spec, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(symlink(a, link), 0);
	fa = open(a, O_PATH | O_CLOEXEC);
	fd = open(b, O_PATH | O_CLOEXEC);
	assert_true(fa >= 0 && fd >= 0);

	memset(&c, 0, sizeof(c));
	c.envp = g_env;
	c.fd_in = c.fd_out = c.fd_err = -1;
	c.filter = &g_filter;
	c.exec_channel = true;
	c.ro_binds = ro;
	/* Checked: b; at the path now: a. */
	snprintf(spec, sizeof(spec), "%s:/data", a);
	c.bind_fds = &fd;
	assert_int_equal(sbx_spawn(&c, &ch, &err), -EACCES);
	assert_non_null(strstr(err.msg, a));
	assert_non_null(strstr(err.msg, "swapped while the sandbox was built"));
	/* A symlink on the path: not walked, even to what was checked. */
	snprintf(spec, sizeof(spec), "%s:/data", link);
	c.bind_fds = &fa;
	assert_int_equal(sbx_spawn(&c, &ch, &err), -ELOOP);
	assert_non_null(strstr(err.msg, link));
	/* What was checked is what is bound. */
	snprintf(spec, sizeof(spec), "%s:/data", a);
	assert_int_equal(sbx_spawn(&c, &ch, &err), 0);
	run_in(&ch, ls, NULL, NULL, &r);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "in-a\n");
	run_free(&r);
	end(&ch);
	close(fa);
	close(fd);
	mg_rm_rf(dir);
	free(dir);
}

/* Read one line from fd (the first read holds it whole: a short echo). */
static void expect_line(int fd, const char *line, int timeout_ms)
{
	struct pollfd pf = { fd, POLLIN, 0 };
	char buf[64];
	ssize_t n;

	if (poll(&pf, 1, timeout_ms) != 1)
		fail_msg("no '%s' within %d ms", line, timeout_ms);
	n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, line);
}

/* Several at once, each waited for on its own status fd, in any order;
 * sbx_proc_signal reaches the whole process group: the shell's background
 * sleep dies too, so the stdout both hold reaches EOF. */
static void test_exec_concurrent_and_signal(void **state)
{
	char *const sleeper[] = { "/bin/sh", "-c", "sleep 1000 & echo started; wait", NULL };
	struct sbx_exec req = { .argv = sleeper, .envp = g_env, .fd_in = -1, .fd_out = -1,
				.fd_err = -1 };
	struct sbx_proc p[5];
	struct sbx_child ch;
	struct mg_err err;
	int status, out[5];

	spawn(&ch, NULL, true);
	for (int i = 0; i < 5; i++) {
		int o[2];

		assert_int_equal(pipe2(o, O_CLOEXEC), 0);
		req.fd_out = o[1];
		if (sbx_exec(&ch, &req, &p[i], &err))
			fail_msg("sbx_exec: %s", err.msg);
		close(o[1]);
		out[i] = o[0];
		assert_int_equal(p[i].id, (uint32_t)(i + 1));
	}
	for (int i = 4; i >= 0; i--) {
		struct pollfd pf = { p[i].status_fd, POLLIN, 0 };
		char *rest;

		expect_line(out[i], "started\n", 10000);  /* the sleep is forked */
		assert_int_equal(poll(&pf, 1, 0), 0);   /* still running */
		assert_int_equal(sbx_proc_signal(&ch, &p[i], SIGTERM, &err), 0);
		assert_int_equal(sbx_proc_wait(&p[i], &status, &err), 0);
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGTERM);
		rest = read_all(out[i], 10000);         /* EOF: the sleep is gone too */
		assert_string_equal(rest, "");
		free(rest);
		close(out[i]);
		sbx_proc_release(&p[i]);
	}
	/* A signal for a process that is gone does nothing. */
	assert_int_equal(sbx_proc_signal(&ch, &p[0], SIGTERM, &err), 0);
	assert_int_equal(sbx_proc_signal(&ch, &p[0], 0, &err), -EINVAL);
	end(&ch);
}

/* Host pids of everything under pid (its children, recursively). */
static size_t descendants(pid_t pid, pid_t *out, size_t cap, size_t n)
{
	char path[64], buf[4096], *s, *save = NULL;
	int fd;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return n;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return n;
	buf[len] = '\0';
	for (s = strtok_r(buf, " \n", &save); s && n < cap; s = strtok_r(NULL, " \n", &save)) {
		out[n++] = (pid_t)strtol(s, NULL, 10);
		n = descendants(out[n - 1], out, cap, n);
	}
	return n;
}

/* The start time of pid (field 22 of /proc/PID/stat, clock ticks after
 * boot), 0 once it is gone: with the pid it names one process, not a
 * later one that got the same pid. */
static unsigned long long start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long t = 0;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');          /* the name may hold spaces and parentheses */
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		t = strtoull(p + 1, NULL, 10);
	return t;
}

static bool alive(pid_t pid, unsigned long long start)
{
	return start_time(pid) == start;
}

/* Nothing remains: a hold sandbox ends when the channel closes, one with a
 * payload when the payload exits; what sbx_exec started dies with it (its
 * status says SIGKILL), and its cgroups go with sbx_release. */
static void test_nothing_left(void **state)
{
	char *const sleeper[] = { "/bin/sh", "-c", "sleep 1000 & sleep 1000", NULL };
	char *const payload[] = { "/bin/sh", "-c", "read x || :", NULL };
	struct sbx_exec req = { .argv = sleeper, .envp = g_env, .fd_in = -1, .fd_out = -1,
				.fd_err = -1 };
	pid_t inside[64];
	unsigned long long started[64];
	struct sbx_child ch;
	struct sbx_proc p;
	struct mg_err err;
	char cg[3][4096];
	size_t n;
	int status;

	for (int mode = 0; mode < 2; mode++) {
		int in[2] = { -1, -1 };

		if (mode == 0) {
			spawn(&ch, NULL, true);
		} else {
			struct sbx_config c;

			assert_int_equal(pipe2(in, O_CLOEXEC), 0);
			memset(&c, 0, sizeof(c));
			c.argv = payload;
			c.envp = g_env;
			c.fd_in = in[0];
			c.fd_out = c.fd_err = -1;
			c.filter = &g_filter;
			c.exec_channel = true;
			c.pids_max = 64;
			c.memory_bytes = 256ull << 20;
			if (sbx_spawn(&c, &ch, &err))
				fail_msg("sbx_spawn: %s", err.msg);
			close(in[0]);
		}
		if (sbx_exec(&ch, &req, &p, &err))
			fail_msg("sbx_exec: %s", err.msg);
		for (int tries = 0; tries < 200; tries++) {
			n = descendants(ch.pid, inside, MG_ARRAY_LEN(inside), 0);
			if (n >= (mode ? 4u : 3u))
				break;
			usleep(10000);
		}
		assert_true(n >= (mode ? 4u : 3u));
		for (size_t i = 0; i < n; i++) {
			started[i] = start_time(inside[i]);
			assert_true(started[i] != 0);
		}
		for (int i = 0; i < 3; i++)
			snprintf(cg[i], sizeof(cg[i]), "%s", ch.cgroups[i] ? ch.cgroups[i] : "");
		assert_true(cg[0][0] && cg[1][0]);
		if (mode == 0)
			sbx_shutdown(&ch);      /* hold: closing the channel ends it */
		else
			close(in[1]);           /* the payload reads EOF and exits */
		assert_int_equal(wait_init(&ch, 10000), 0);
		assert_int_equal(sbx_proc_wait(&p, &status, &err), 0);
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGKILL);
		sbx_proc_release(&p);
		sbx_release(&ch, NULL);
		for (size_t i = 0; i < n; i++)
			for (int tries = 0; alive(inside[i], started[i]) && tries < 200; tries++)
				usleep(10000);
		for (size_t i = 0; i < n; i++)
			if (alive(inside[i], started[i]))
				fail_msg("process %d is still there", (int)inside[i]);
		for (int i = 0; i < 3; i++)
			if (cg[i][0] && access(cg[i], F_OK) == 0)
				fail_msg("cgroup %s is still there", cg[i]);
	}
}

/* The sweep at a gateway's start takes the groups of sandboxes that are
 * gone, never those of another gateway's running sandbox, even while one
 * is still empty (made, its child not attached yet): two gateways
 * starting at once (mcpguard scan runs several) lost a server to that. */
static void test_sweep_spares_live_groups(void **state)
{
	struct sbx_child ch;
	char base[4096], live[4200], dead[4200], *slash;
	pid_t gone = fork();

	if (gone == 0)
		_exit(0);
	assert_true(gone > 0);
	assert_int_equal(waitpid(gone, NULL, 0), gone);
	spawn(&ch, NULL, true);
	assert_non_null(ch.cgroups[1]);
	snprintf(base, sizeof(base), "%s", ch.cgroups[1]);
	slash = strrchr(base, '/');
	assert_non_null(slash);
	*slash = '\0';
	/* empty groups named after a live process (this one) and a dead one */
	snprintf(live, sizeof(live), "%s/mcpguard-sbx-%d", base, (int)getpid());
	snprintf(dead, sizeof(dead), "%s/mcpguard-sbx-%d", base, (int)gone);
	assert_int_equal(mkdir(live, 0755), 0);
	assert_int_equal(mkdir(dead, 0755), 0);
	sbx_sweep_leftovers();
	assert_int_equal(access(live, F_OK), 0);
	assert_int_equal(access(ch.cgroups[1], F_OK), 0);
	assert_int_equal(access(dead, F_OK), -1);
	assert_int_equal(rmdir(live), 0);
	sbx_shutdown(&ch);
	assert_int_equal(wait_init(&ch, 10000), 0);
	sbx_release(&ch, NULL);
}

/* Many in a row: no fd, slot or zombie piles up in init or here. */
static void test_exec_many(void **state)
{
	char *const t[] = { "/bin/true", NULL };
	char *const ls[] = { "ls", "/proc/1/fd", NULL };
	struct sbx_exec req = { .argv = t, .envp = g_env, .fd_in = -1, .fd_out = -1,
				.fd_err = -1 };
	struct sbx_child ch;
	struct sbx_proc p;
	struct mg_err err;
	struct run r;
	int fds_before = 0, fds_after = 0, status;
	DIR *d;

	d = opendir("/proc/self/fd");
	while (d && readdir(d))
		fds_before++;
	closedir(d);
	spawn(&ch, NULL, true);
	for (int i = 0; i < 150; i++) {     /* more than the 64 slots */
		if (sbx_exec(&ch, &req, &p, &err))
			fail_msg("sbx_exec %d: %s", i, err.msg);
		assert_int_equal(sbx_proc_wait(&p, &status, &err), 0);
		assert_int_equal(status, 0);
		sbx_proc_release(&p);
	}
	/* Init's fds are not readable from inside (it is not dumpable and
	 * runs as another uid). */
	run_in(&ch, ls, NULL, NULL, &r);
	assert_int_not_equal(r.status, 0);
	assert_non_null(strstr(r.err, "Permission denied"));
	run_free(&r);
	end(&ch);
	d = opendir("/proc/self/fd");
	while (d && readdir(d))
		fds_after++;
	closedir(d);
	assert_int_equal(fds_before, fds_after);
}

/* The egress listener still comes back with an exec channel, and a
 * process started later reaches it on the sandbox's loopback. */
static void test_exec_egress(void **state)
{
	char *const py[] = { "python3", "-c",
			     "import socket;socket.create_connection(('127.0.0.1',3128)).sendall(b'hi')",
			     NULL };
	struct sbx_config c;
	struct sbx_child ch;
	struct mg_err err;
	struct run r;
	char buf[8] = "";
	int conn;

	if (access("/usr/bin/python3", X_OK) != 0) {
		print_message("note: no python3, egress not tried\n");
		return;
	}
	memset(&c, 0, sizeof(c));
	c.envp = g_env;
	c.filter = &g_filter;
	c.exec_channel = true;
	c.egress_port = 3128;
	if (sbx_spawn(&c, &ch, &err))
		fail_msg("sbx_spawn: %s", err.msg);
	assert_true(ch.egress_fd >= 0);
	run_in(&ch, py, NULL, NULL, &r);
	assert_int_equal(r.status, 0);
	run_free(&r);
	conn = accept(ch.egress_fd, NULL, NULL);
	assert_true(conn >= 0);
	assert_int_equal(read(conn, buf, sizeof(buf) - 1), 2);
	assert_string_equal(buf, "hi");
	close(conn);
	end(&ch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_hardened),
		cmocka_unit_test(test_exec_securebits),
		cmocka_unit_test(test_payload_hardened),
		cmocka_unit_test(test_exec_same_namespaces),
		cmocka_unit_test(test_exec_stdio_and_status),
		cmocka_unit_test(test_exec_failures),
		cmocka_unit_test(test_bind_sources_checked),
		cmocka_unit_test(test_exec_concurrent_and_signal),
		cmocka_unit_test(test_nothing_left),
		cmocka_unit_test(test_exec_many),
		cmocka_unit_test(test_sweep_spares_live_groups),
		cmocka_unit_test(test_exec_egress),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
