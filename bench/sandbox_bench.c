/*
 * sandbox_bench: sandbox creation and exec, mcpguard side by side with
 * bwrap, unshare and nsenter doing comparable work, in one run.
 *
 *   sandbox_bench [--rounds N] [--warmup N] [--only LABEL,...] [--seed N]
 *
 * Every round runs each variant once, in a shuffled order (so that a noisy
 * second hits every variant alike), after --warmup unrecorded rounds.  Each
 * sample is the wall time (CLOCK_MONOTONIC) from the start of the work to
 * the moment its last process has been reaped.  Every payload is
 * /bin/true, with stdio on /dev/null.
 *
 * Creation (a new sandbox, its first process, until everything exited):
 *   mcpguard           sbx_spawn + wait: 7 namespaces, ids mapped to a host
 *                      range, private root, curated /etc, /dev, masked
 *                      /proc, loopback, capabilities dropped, securebits,
 *                      uid 1000, no_new_privs, rlimits, seccomp
 *   mcpguard-cgroups   the same with memory, pids and cpu cgroup limits
 *   bwrap              bwrap with the same namespaces, ro /usr, /proc,
 *                      /dev, tmpfs /tmp and /workspace, --cap-drop ALL,
 *                      uid 1000, --die-with-parent, --new-session and
 *                      mcpguard's two seccomp programs (--add-seccomp-fd)
 *   unshare            unshare --user --map-root-user --pid --fork --net
 *                      --ipc --uts --mount: namespaces only
 * Exec (one more process in a sandbox that is already running):
 *   mcpguard-exec      sbx_exec + sbx_proc_wait into a running sandbox,
 *                      with the payload's full hardening
 *   nsenter-unshare    nsenter -t PID -U -m -p -n -i -u
 *                      --preserve-credentials into a running unshare sandbox
 *   nsenter-bwrap      the same (plus -r -w) into a running bwrap sandbox
 * Floor, and what taking process creation off the path could buy:
 *   host               posix_spawn + waitpid of /bin/true on the host
 *   host-vfork         vfork + _exit + waitpid: process creation alone
 *   host-vfork-exec    vfork, stdio placed, execve /bin/true, waitpid: how
 *                      the sandbox's init starts a process, without hardening
 *   host-prespawned    /bin/true exec'd by a process created ahead of time
 *                      (clone(CLONE_VM), stdio placed, blocked on a pipe;
 *                      a "zygote"): only the wake-up, exec and exit timed
 *   host-prefork       the same with an own address space (fork): its exec
 *                      also tears down the copy
 *   mcpguard-exec-noent  sbx_exec of a program that does not exist: the
 *                      round trip to init, vfork, the full hardening under
 *                      seccomp, a failing execve and the report, i.e. all
 *                      mcpguard adds to an exec, without the program
 *
 * Output: one JSON line per variant on stdout (label, group, n, min, p50,
 * p90, p99, mean, in ms), a table on stderr.  Exit status 1 only when a
 * variant failed to run (never for slow figures).  Root only.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/sandbox.h"
#include "runtime/seccomp.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

#define TRUE_BIN "/bin/true"
#define FD_SECCOMP_A 10         /* where bwrap finds the two programs */
#define FD_SECCOMP_B 11
#define FD_INFO 12

static struct sbx_filter g_filter;
static int g_null = -1;
static int g_bpf[2] = { -1, -1 };
static char *const g_env[] = { "PATH=/usr/bin:/bin", "HOME=/workspace", "LANG=C.UTF-8", NULL };

struct variant;
typedef int (*run_fn)(struct variant *v);

struct variant {
	const char *label;
	const char *group;              /* create, exec, floor */
	const char *tool;               /* a peer's binary, checked before the run */
	run_fn setup, run, teardown;
	run_fn prepare;                 /* before each run, not timed */
	bool on, broken;
	double *ms;
	size_t n;
	/* state of the running sandbox for exec variants */
	struct sbx_child sb;
	pid_t outer;                    /* the tool that holds a peer sandbox */
	pid_t zygote;                   /* host-pre*: the waiting process */
	int go;                         /* host-pre*: write end of its pipe */
	char target[16];                /* its pid, for nsenter -t */
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* posix_spawn argv with stdio on /dev/null (and the seccomp programs on
 * FD_SECCOMP_A/B for bwrap); *pid set.  0 or -1. */
static int spawn_quiet(char *const *argv, bool bpf, int info_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	int rc;

	posix_spawn_file_actions_init(&fa);
	for (int fd = 0; fd < 3; fd++)
		posix_spawn_file_actions_adddup2(&fa, g_null, fd);
	if (bpf) {
		/* bwrap reads each program to EOF: rewind the shared offset. */
		lseek(g_bpf[0], 0, SEEK_SET);
		lseek(g_bpf[1], 0, SEEK_SET);
		posix_spawn_file_actions_adddup2(&fa, g_bpf[0], FD_SECCOMP_A);
		posix_spawn_file_actions_adddup2(&fa, g_bpf[1], FD_SECCOMP_B);
	}
	if (info_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, info_fd, FD_INFO);
	rc = posix_spawn(pid, argv[0], &fa, NULL, argv, g_env);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) {
		fprintf(stderr, "sandbox_bench: cannot start %s: %s\n", argv[0], strerror(rc));
		return -1;
	}
	return 0;
}

static int wait_ok(pid_t pid, const char *what)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	fprintf(stderr, "sandbox_bench: %s ended with status 0x%x\n", what, st);
	return -1;
}

static int run_argv(char *const *argv, bool bpf)
{
	pid_t pid;

	if (spawn_quiet(argv, bpf, -1, &pid))
		return -1;
	return wait_ok(pid, argv[0]);
}

/* ---- floor ---- */

static int run_host(struct variant *v)
{
	static char *const argv[] = { TRUE_BIN, NULL };

	return run_argv(argv, false);
}

static int run_host_vfork(struct variant *v)
{
	pid_t pid;

	(void)v;
	pid = vfork();
	if (pid == 0)
		_exit(0);
	return pid < 0 ? -1 : wait_ok(pid, "vfork");
}

static int run_host_vfork_exec(struct variant *v)
{
	static char *const argv[] = { TRUE_BIN, NULL };
	pid_t pid;

	(void)v;
	pid = vfork();
	if (pid == 0) {
		for (int fd = 0; fd < 3; fd++)
			dup2(g_null, fd);
		execve(argv[0], argv, g_env);
		_exit(127);
	}
	return pid < 0 ? -1 : wait_ok(pid, "vfork+exec");
}

/* A process made ahead of time that execs /bin/true when told to. */
static int zygote_go = -1, zygote_ready = -1;

static int zygote_main(void *arg)
{
	static char *const argv[] = { TRUE_BIN, NULL };
	char c;

	(void)arg;
	for (int fd = 0; fd < 3; fd++)
		dup2(g_null, fd);
	if (write(zygote_ready, "r", 1) != 1 || read(zygote_go, &c, 1) != 1)
		_exit(126);
	execve(argv[0], argv, g_env);
	_exit(127);
}

static int prepare_zygote(struct variant *v, bool own_mm)
{
	static char stack[64 * 1024] __attribute__((aligned(16)));
	int go[2], ready[2];
	char c;

	if (pipe2(go, O_CLOEXEC))
		return -1;
	if (pipe2(ready, O_CLOEXEC)) {
		close(go[0]);
		close(go[1]);
		return -1;
	}
	zygote_go = go[0];
	zygote_ready = ready[1];
	if (own_mm) {
		v->zygote = fork();
		if (v->zygote == 0)
			_exit(zygote_main(NULL));
	} else {
		v->zygote = clone(zygote_main, stack + sizeof(stack), CLONE_VM | SIGCHLD, NULL);
	}
	close(go[0]);
	close(ready[1]);
	v->go = go[1];
	/* Timed from here on: it is created and waiting. */
	if (v->zygote < 0 || read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		return -1;
	}
	close(ready[0]);
	return 0;
}

static int prepare_prespawned(struct variant *v)
{
	return prepare_zygote(v, false);
}

static int prepare_prefork(struct variant *v)
{
	return prepare_zygote(v, true);
}

static int run_zygote(struct variant *v)
{
	int rc = write(v->go, "g", 1) == 1 ? 0 : -1;

	close(v->go);
	v->go = -1;
	if (wait_ok(v->zygote, "zygote"))
		rc = -1;
	v->zygote = -1;
	return rc;
}

/* ---- creation ---- */

static int mg_create(bool cgroups)
{
	static char *const argv[] = { TRUE_BIN, NULL };
	struct sbx_config c;
	struct sbx_child ch;
	struct mg_err err;
	siginfo_t si;
	int rc;

	memset(&c, 0, sizeof(c));
	c.argv = argv;
	c.envp = g_env;
	c.fd_in = c.fd_out = c.fd_err = g_null;
	c.filter = &g_filter;
	if (cgroups) {
		c.memory_bytes = 512ull << 20;
		c.pids_max = 256;
		c.cpus = 1;
	}
	if (sbx_spawn(&c, &ch, &err)) {
		fprintf(stderr, "sandbox_bench: sbx_spawn: %s\n", err.msg);
		return -1;
	}
	memset(&si, 0, sizeof(si));
	rc = waitid((idtype_t)P_PIDFD, (id_t)ch.pidfd, &si, WEXITED);
	sbx_release(&ch, NULL);
	if (rc < 0 || si.si_code != CLD_EXITED || si.si_status != 0) {
		fprintf(stderr, "sandbox_bench: sandbox ended with code %d status %d\n", si.si_code,
			si.si_status);
		return -1;
	}
	return 0;
}

static int run_mg(struct variant *v)
{
	return mg_create(false);
}

static int run_mg_cg(struct variant *v)
{
	return mg_create(true);
}

#define BWRAP_COMMON                                                                     \
	"/usr/bin/bwrap", "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", \
	"--unshare-uts", "--unshare-cgroup", "--uid", "1000", "--gid", "1000", "--hostname",  \
	"sandbox", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--ro-bind",     \
	"/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",      \
	"--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", \
	"--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/workspace", "--chdir", "/workspace",  \
	"--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--add-seccomp-fd", "10",           \
	"--add-seccomp-fd", "11"

static int run_bwrap(struct variant *v)
{
	static char *const argv[] = { BWRAP_COMMON, TRUE_BIN, NULL };

	return run_argv(argv, true);
}

#define UNSHARE_COMMON                                                                  \
	"/usr/bin/unshare", "--user", "--map-root-user", "--pid", "--fork", "--net", "--ipc", \
	"--uts", "--mount"

static int run_unshare(struct variant *v)
{
	static char *const argv[] = { UNSHARE_COMMON, TRUE_BIN, NULL };

	return run_argv(argv, false);
}

/* ---- exec in a running sandbox ---- */

static int setup_mg_exec(struct variant *v)
{
	struct sbx_config c;
	struct mg_err err;

	memset(&c, 0, sizeof(c));
	c.envp = g_env;                 /* no argv: the sandbox waits for execs */
	c.fd_in = c.fd_out = c.fd_err = g_null;
	c.filter = &g_filter;
	c.exec_channel = true;
	if (sbx_spawn(&c, &v->sb, &err)) {
		fprintf(stderr, "sandbox_bench: sbx_spawn (hold): %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int run_mg_exec(struct variant *v)
{
	static char *const argv[] = { TRUE_BIN, NULL };
	struct sbx_exec req = { .argv = argv, .envp = g_env, .fd_in = g_null,
				.fd_out = g_null, .fd_err = g_null };
	struct sbx_proc p;
	struct mg_err err;
	int status = -1;

	if (sbx_exec(&v->sb, &req, &p, &err)) {
		fprintf(stderr, "sandbox_bench: sbx_exec: %s\n", err.msg);
		return -1;
	}
	if (sbx_proc_wait(&p, &status, &err))
		fprintf(stderr, "sandbox_bench: sbx_proc_wait: %s\n", err.msg);
	sbx_proc_release(&p);
	return status == 0 ? 0 : -1;
}

static int run_mg_exec_noent(struct variant *v)
{
	static char *const argv[] = { "/nonexistent/true", NULL };
	struct sbx_exec req = { .argv = argv, .envp = g_env, .fd_in = g_null,
				.fd_out = g_null, .fd_err = g_null };
	struct sbx_proc p;
	struct mg_err err;

	if (sbx_exec(&v->sb, &req, &p, &err) == -ENOENT)
		return 0;
	fprintf(stderr, "sandbox_bench: sbx_exec of a missing program did not fail with "
		"ENOENT\n");
	sbx_proc_release(&p);
	return -1;
}

static int teardown_mg_exec(struct variant *v)
{
	siginfo_t si;

	sbx_shutdown(&v->sb);
	memset(&si, 0, sizeof(si));
	waitid((idtype_t)P_PIDFD, (id_t)v->sb.pidfd, &si, WEXITED);
	sbx_release(&v->sb, NULL);
	return 0;
}

/* The pid of the only child of pid (the sandbox's first process), once
 * it has exec'd the sleep. */
static int child_of(pid_t pid, char *out, size_t size)
{
	char path[64], buf[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	for (int tries = 0; tries < 2000; tries++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = '\0';
			snprintf(out, size, "%.*s", (int)strspn(buf, "0123456789"), buf);
			usleep(20000);  /* let it exec */
			return 0;
		}
		usleep(1000);
	}
	return -1;
}

static int setup_nsenter_unshare(struct variant *v)
{
	static char *const argv[] = { UNSHARE_COMMON, "--mount-proc", "/bin/sleep", "100000",
				      NULL };

	if (spawn_quiet(argv, false, -1, &v->outer))
		return -1;
	return child_of(v->outer, v->target, sizeof(v->target));
}

static int run_nsenter_unshare(struct variant *v)
{
	char *const argv[] = { "/usr/bin/nsenter", "-t", v->target, "-U", "-m", "-p", "-n", "-i",
			       "-u", "--preserve-credentials", TRUE_BIN, NULL };

	return run_argv(argv, false);
}

/* bwrap says its sandbox's pid on --info-fd: {"child-pid": N}. */
static int setup_nsenter_bwrap(struct variant *v)
{
	static char *const argv[] = { BWRAP_COMMON, "--info-fd", "12", "/bin/sleep", "100000",
				      NULL };
	char buf[256], *p;
	int pfd[2];
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	if (spawn_quiet(argv, true, pfd[1], &v->outer)) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	close(pfd[1]);
	n = read(pfd[0], buf, sizeof(buf) - 1);
	close(pfd[0]);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "\"child-pid\":");
	if (!p)
		return -1;
	p += strlen("\"child-pid\":");
	while (*p == ' ')
		p++;
	snprintf(v->target, sizeof(v->target), "%.*s", (int)strspn(p, "0123456789"), p);
	usleep(20000);
	return 0;
}

static int run_nsenter_bwrap(struct variant *v)
{
	char *const argv[] = { "/usr/bin/nsenter", "-t", v->target, "-U", "-m", "-p", "-n", "-i",
			       "-u", "-r", "-w", "--preserve-credentials", TRUE_BIN, NULL };

	return run_argv(argv, false);
}

static int teardown_outer(struct variant *v)
{
	if (v->outer > 0) {
		kill(v->outer, SIGKILL);
		waitpid(v->outer, NULL, 0);
	}
	return 0;
}

/* ---- the run ---- */

static struct variant variants[] = {
	{ .label = "host", .group = "floor", .run = run_host },
	{ .label = "host-vfork", .group = "floor", .run = run_host_vfork },
	{ .label = "host-vfork-exec", .group = "floor", .run = run_host_vfork_exec },
	{ .label = "host-prespawned", .group = "floor", .prepare = prepare_prespawned,
	  .run = run_zygote },
	{ .label = "host-prefork", .group = "floor", .prepare = prepare_prefork, .run = run_zygote },
	{ .label = "mcpguard", .group = "create", .run = run_mg },
	{ .label = "mcpguard-cgroups", .group = "create", .run = run_mg_cg },
	{ .label = "bwrap", .group = "create", .tool = "/usr/bin/bwrap", .run = run_bwrap },
	{ .label = "unshare", .group = "create", .tool = "/usr/bin/unshare", .run = run_unshare },
	{ .label = "mcpguard-exec", .group = "exec", .setup = setup_mg_exec, .run = run_mg_exec,
	  .teardown = teardown_mg_exec },
	{ .label = "mcpguard-exec-noent", .group = "exec", .setup = setup_mg_exec,
	  .run = run_mg_exec_noent, .teardown = teardown_mg_exec },
	{ .label = "nsenter-unshare", .group = "exec", .tool = "/usr/bin/nsenter", .setup = setup_nsenter_unshare,
	  .run = run_nsenter_unshare, .teardown = teardown_outer },
	{ .label = "nsenter-bwrap", .group = "exec", .tool = "/usr/bin/bwrap", .setup = setup_nsenter_bwrap,
	  .run = run_nsenter_bwrap, .teardown = teardown_outer },
};
#define NV (sizeof(variants) / sizeof(variants[0]))

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank. */
static double pct(const double *sorted, size_t n, double p)
{
	size_t k = (size_t)ceil(p / 100.0 * (double)n);

	return sorted[k ? k - 1 : 0];
}

static uint64_t rng = 88172645463325252ull;

static unsigned next_rand(unsigned bound)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % bound);
}

static bool listed(const char *csv, const char *label)
{
	size_t n = strlen(label);

	for (const char *p = csv; p && *p;) {
		size_t k = strcspn(p, ",");

		if (k == n && strncmp(p, label, n) == 0)
			return true;
		p += k + (p[k] == ',');
	}
	return false;
}

static int write_prog(const struct sock_fprog *prog, const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	size_t len = prog->len * sizeof(prog->filter[0]);

	if (fd < 0 || write(fd, prog->filter, len) != (ssize_t)len)
		return -1;
	return fd;
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

static const struct variant *find(const char *label)
{
	for (size_t i = 0; i < NV; i++)
		if (strcmp(variants[i].label, label) == 0 && variants[i].on && !variants[i].broken)
			return &variants[i];
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned rounds = 200, warmup = 20;
	const char *only = NULL;
	unsigned order[NV];
	struct mg_err err;
	double host50 = 0, bwrap50 = 0;
	int status = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
			rounds = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc)
			warmup = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			only = argv[++i];
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			rng = strtoull(argv[++i], NULL, 10) | 1;
		else {
			fprintf(stderr, "usage: sandbox_bench [--rounds N] [--warmup N] "
				"[--only LABEL,...] [--seed N]\n");
			return 2;
		}
	}
	if (geteuid() != 0 || rounds == 0) {
		fprintf(stderr, "sandbox_bench: needs root and at least one round\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	g_null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (sbx_filter_build(&g_filter, &err)) {
		fprintf(stderr, "sandbox_bench: %s\n", err.msg);
		return 1;
	}
	g_bpf[0] = write_prog(&g_filter.a, "seccomp-a");
	g_bpf[1] = write_prog(&g_filter.b, "seccomp-b");
	if (g_null < 0 || g_bpf[0] < 0 || g_bpf[1] < 0) {
		fprintf(stderr, "sandbox_bench: set up: %s\n", strerror(errno));
		return 1;
	}
	sbx_sweep_leftovers();
	for (size_t i = 0; i < NV; i++) {
		struct variant *v = &variants[i];

		order[i] = (unsigned)i;
		v->on = !only || listed(only, v->label);
		if (v->on && v->tool && access(v->tool, X_OK) < 0) {
			fprintf(stderr, "sandbox_bench: %s: tool missing, skipped\n", v->label);
			v->on = false;
		}
		if (!v->on)
			continue;
		v->ms = calloc(rounds, sizeof(double));
		if (v->setup && v->setup(v)) {
			fprintf(stderr, "sandbox_bench: %s: set up failed\n", v->label);
			v->broken = true;
			status = 1;
		}
	}
	for (unsigned r = 0; r < warmup + rounds; r++) {
		for (size_t i = NV - 1; i > 0; i--) {
			unsigned j = next_rand((unsigned)i + 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		for (size_t k = 0; k < NV; k++) {
			struct variant *v = &variants[order[k]];
			double t0;

			if (!v->on || v->broken)
				continue;
			if (v->prepare && v->prepare(v)) {
				fprintf(stderr, "sandbox_bench: %s: cannot prepare round %u\n",
					v->label, r);
				v->broken = true;
				status = 1;
				continue;
			}
			t0 = now_ms();
			if (v->run(v)) {
				fprintf(stderr, "sandbox_bench: %s failed in round %u\n", v->label, r);
				v->broken = true;
				status = 1;
				continue;
			}
			if (r >= warmup)
				v->ms[v->n++] = now_ms() - t0;
		}
	}
	for (size_t i = 0; i < NV; i++)
		if (variants[i].on && variants[i].teardown)
			variants[i].teardown(&variants[i]);
	for (size_t i = 0; i < NV; i++) {
		struct variant *v = &variants[i];

		if (v->on && !v->broken && v->n)
			qsort(v->ms, v->n, sizeof(double), cmp_double);
	}
	if (find("host"))
		host50 = pct(find("host")->ms, find("host")->n, 50);
	if (find("bwrap"))
		bwrap50 = pct(find("bwrap")->ms, find("bwrap")->n, 50);
	fprintf(stderr, "%-20s %-7s %5s %8s %8s %8s %8s %8s %8s %8s\n", "variant", "group", "n",
		"min", "p50", "p90", "p99", "mean", "x bwrap", "x host");
	for (size_t i = 0; i < NV; i++) {
		struct variant *v = &variants[i];
		double sum = 0, p50;

		if (!v->on || v->broken || !v->n)
			continue;
		for (size_t k = 0; k < v->n; k++)
			sum += v->ms[k];
		p50 = pct(v->ms, v->n, 50);
		fprintf(stderr, "%-20s %-7s %5zu %8.3f %8.3f %8.3f %8.3f %8.3f %8.2f %8.2f\n",
			v->label, v->group, v->n, v->ms[0], p50, pct(v->ms, v->n, 90),
			pct(v->ms, v->n, 99), sum / (double)v->n, ratio(p50, bwrap50),
			ratio(p50, host50));
		printf("{\"label\":\"%s\",\"group\":\"%s\",\"n\":%zu,\"min_ms\":%.4f,"
		       "\"p50_ms\":%.4f,\"p90_ms\":%.4f,\"p99_ms\":%.4f,\"mean_ms\":%.4f}\n",
		       v->label, v->group, v->n, v->ms[0], p50, pct(v->ms, v->n, 90),
		       pct(v->ms, v->n, 99), sum / (double)v->n);
		free(v->ms);
	}
	sbx_filter_release(&g_filter);
	return status;
}
