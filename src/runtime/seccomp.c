#include "runtime/seccomp.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"

/*
 * Program A: what a sandboxed process may call.
 *
 * Start: the unconditional allow list of Docker's default profile
 * (moby/profiles seccomp/default.json), native x86_64 names only.  Left
 * out on purpose, and so answered EPERM by the default action:
 *
 *  - Everything Docker opens only to a capability.  The sandbox holds no
 *    capability, and these are the kernel surface an escape goes through:
 *      mount umount2 pivot_root move_mount open_tree fsopen fsconfig
 *      fsmount fspick mount_setattr chroot    (rebuild the view of the fs)
 *      unshare setns, clone with CLONE_NEW*   (a nested user namespace
 *        hands back a full capability set inside it, and with it mount,
 *        AF_PACKET, netfilter and the rest; pitfall 5)
 *      ptrace process_vm_readv/writev kcmp pidfd_getfd process_madvise
 *        (read or steer another process of the same uid, e.g. the
 *        session init with its control socket)
 *      bpf perf_event_open userfaultfd       (the usual kernel exploit
 *        primitives: verifier bugs, perf races, uffd-stalled copies)
 *      io_uring_setup/enter/register          (runs I/O that seccomp never
 *        sees; blocked by Docker since 2023; pitfall 7)
 *      add_key keyctl request_key             (keyring is not namespaced)
 *      settimeofday clock_settime adjtimex clock_adjtime (time is global)
 *      init_module finit_module delete_module kexec_load kexec_file_load
 *        reboot swapon swapoff acct quotactl quotactl_fd syslog vhangup
 *        iopl ioperm lookup_dcookie sethostname setdomainname
 *      open_by_handle_at name_to_handle_at    (the "shocker" breakout:
 *        open any inode of a mount by handle, past every bind and chroot)
 *      mbind set_mempolicy get_mempolicy move_pages (NUMA, CAP_SYS_NICE)
 *      fanotify_init (and so fanotify_mark, useless without it)
 *      modify_ldt                             (16-bit segments: espfix and
 *        other LDT bugs; no 64-bit runtime needs it)
 *  - 32-bit-only names (socketcall, ipc, *_time64, ...): they do not
 *    resolve on x86_64 and are skipped.
 *  - clone3: its flags sit in memory that BPF cannot read, so it cannot be
 *    checked for namespace flags; ENOSYS (not EPERM) makes glibc fall
 *    back to clone, whose flags are in a register.
 *
 * Syscalls newer than this libseccomp (2.5.4 stops at futex_requeue, 456)
 * would fall to EPERM, and a newer libc falls back only on ENOSYS
 * (pitfall 13); the late_x86_64 table below gives the numbers of the few
 * harmless ones that Docker allows.
 */
static const char *const allow_names[] = {
	/* Process life, threads, exec.  clone is below with its flag check. */
	"execve", "execveat", "exit", "exit_group", "fork", "vfork",
	"wait4", "waitid", "set_tid_address", "set_robust_list",
	"get_robust_list", "rseq", "restart_syscall", "arch_prctl",
	"get_thread_area", "set_thread_area", "prctl", "seccomp",
	"capget", "capset", "landlock_create_ruleset", "landlock_add_rule",
	"landlock_restrict_self", "pidfd_open", "pidfd_send_signal",
	"process_mrelease",
	/* Identity: without capabilities these only move between ids the
	 * process already holds. */
	"getpid", "getppid", "gettid", "getuid", "geteuid", "getgid",
	"getegid", "getresuid", "getresgid", "getgroups", "setuid", "setgid",
	"setreuid", "setregid", "setresuid", "setresgid", "setfsuid",
	"setfsgid", "setgroups", "getpgid", "getpgrp", "setpgid", "getsid",
	"setsid",
	/* Scheduling, limits, accounting (real-time and raising limits still
	 * need capabilities the sandbox lacks). */
	"sched_yield", "sched_getaffinity", "sched_setaffinity",
	"sched_getattr", "sched_setattr", "sched_getparam", "sched_setparam",
	"sched_getscheduler", "sched_setscheduler", "sched_get_priority_max",
	"sched_get_priority_min", "sched_rr_get_interval", "getpriority",
	"setpriority", "ioprio_get", "ioprio_set", "getrlimit", "setrlimit",
	"prlimit64", "getrusage", "times", "sysinfo", "uname", "getcpu",
	"getrandom",
	/* Memory. */
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mincore",
	"msync", "mlock", "mlock2", "mlockall", "munlock", "munlockall",
	"membarrier", "memfd_create", "memfd_secret", "remap_file_pages",
	"pkey_alloc", "pkey_free", "pkey_mprotect", "map_shadow_stack",
	"mseal",
	/* Signals and timers. */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending",
	"rt_sigsuspend", "rt_sigtimedwait", "rt_sigqueueinfo",
	"rt_tgsigqueueinfo", "sigaltstack", "kill", "tgkill", "tkill",
	"pause", "alarm", "getitimer", "setitimer", "signalfd", "signalfd4",
	"timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
	"timer_settime", "timerfd_create", "timerfd_gettime",
	"timerfd_settime", "clock_gettime", "clock_getres", "clock_nanosleep",
	"nanosleep", "gettimeofday", "time",
	/* Waiting for events. */
	"poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1",
	"epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd",
	"eventfd2", "futex", "futex_waitv", "futex_wake", "futex_wait",
	"futex_requeue", "inotify_init", "inotify_init1", "inotify_add_watch",
	"inotify_rm_watch",
	/* File descriptors and I/O.  ioctl is allowed here; program B takes
	 * out the terminal-injection requests. */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv",
	"pwritev", "preadv2", "pwritev2", "lseek", "close", "close_range",
	"dup", "dup2", "dup3", "pipe", "pipe2", "fcntl", "ioctl", "flock",
	"fsync", "fdatasync", "syncfs", "sync", "sync_file_range",
	"readahead", "fadvise64", "fallocate", "ftruncate", "truncate",
	"sendfile", "splice", "tee", "vmsplice", "copy_file_range",
	"cachestat", "io_setup", "io_destroy", "io_submit", "io_cancel",
	"io_getevents", "io_pgetevents",
	/* Paths, metadata, directories. */
	"open", "openat", "openat2", "creat", "access", "faccessat",
	"faccessat2", "stat", "fstat", "lstat", "newfstatat", "statx",
	"statfs", "fstatfs", "getdents", "getdents64", "getcwd", "chdir",
	"fchdir", "mkdir", "mkdirat", "rmdir", "rename", "renameat",
	"renameat2", "link", "linkat", "unlink", "unlinkat", "symlink",
	"symlinkat", "readlink", "readlinkat", "chmod", "fchmod", "fchmodat",
	"fchmodat2", "chown", "fchown", "lchown", "fchownat", "umask",
	"utime", "utimes", "utimensat", "futimesat", "statmount", "listmount",
	/* Extended attributes. */
	"getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr",
	"fsetxattr", "listxattr", "llistxattr", "flistxattr", "removexattr",
	"lremovexattr", "fremovexattr", "getxattrat", "setxattrat",
	"listxattrat", "removexattrat",
	/* Sockets once created (socket and socketpair are below with their
	 * family checks). */
	"bind", "connect", "listen", "accept", "accept4", "getsockname",
	"getpeername", "getsockopt", "setsockopt", "shutdown", "sendto",
	"recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
	/* System V and POSIX IPC (private to the sandbox's IPC namespace). */
	"shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop",
	"semctl", "msgget", "msgsnd", "msgrcv", "msgctl", "mq_open",
	"mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify",
	"mq_getsetattr",
};

/* Numbers (x86_64 ABI, fixed forever) of allowed syscalls that
 * libseccomp 2.5.4 cannot name.  Used only when the name does not
 * resolve; a newer libseccomp resolves them itself. */
#if defined(__x86_64__) && !defined(__ILP32__)
static const struct {
	const char *name;
	int nr;
} late_x86_64[] = {
	{ "statmount", 457 },   { "listmount", 458 },     { "mseal", 462 },
	{ "setxattrat", 463 },  { "getxattrat", 464 },    { "listxattrat", 465 },
	{ "removexattrat", 466 },
};
#endif

/* Argument checks.  Every compare of an int argument is MASKED_EQ on the
 * low 32 bits: the kernel truncates int arguments, while BPF compares all
 * 64, so an LT/GT or plain EQ rule is fooled or bypassed by junk in the
 * high half (socket((1<<32)|AF_VSOCK) passed Docker's "< 38 || > 40"
 * form; pitfall 6).  libseccomp takes one compare per argument. */
#define LO32(n, v) { .arg = (n), .op = SCMP_CMP_MASKED_EQ, .datum_a = 0xffffffffu, .datum_b = (v) }
#define MASKED(n, m, v) { .arg = (n), .op = SCMP_CMP_MASKED_EQ, .datum_a = (m), .datum_b = (v) }

/* Namespace flags of clone: CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|
 * NEWPID|NEWNET, Docker's 0x7E020000.  (CLONE_NEWTIME exists only for
 * clone3 and unshare, both refused.) */
#define CLONE_NS_FLAGS                                                         \
	(CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |         \
	 CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)
_Static_assert(CLONE_NS_FLAGS == 0x7E020000, "clone namespace flags");

#define SOCK_TYPE_BITS 0xf      /* the kernel's SOCK_TYPE_MASK */
/* TCP or UDP, by default protocol (0) or by name: no raw, ping, SCTP,
 * L2TP, MPTCP or SOCK_PACKET. */
#define INET_SOCKET(fam, type, proto)                                          \
	{ "socket", 3, { LO32(0, fam), MASKED(1, SOCK_TYPE_BITS, type), LO32(2, proto) } }

struct arg_rule {
	const char *name;
	unsigned n;
	struct scmp_arg_cmp cmp[3];
};

static const struct arg_rule allow_args[] = {
	/* Threads and fork, never new namespaces (pitfall 5). */
	{ "clone", 1, { MASKED(0, CLONE_NS_FLAGS, 0) } },

	/* socket: an explicit set of (family, type, protocol).  Every other
	 * family is refused: AF_VSOCK reaches a host agent past any netns,
	 * AF_PACKET and AF_ALG are classic exploit surfaces, and asking for
	 * an unloaded family or protocol makes the kernel load its module
	 * (sctp, l2tp, tipc, rds, dccp...), which then becomes attack
	 * surface.  The type check keeps out (AF_INET, SOCK_PACKET), which
	 * the kernel silently turns into an AF_PACKET socket. */
	{ "socket", 1, { LO32(0, AF_UNIX) } },
	/* Netlink for routing info only (getifaddrs, os.networkInterfaces). */
	{ "socket", 2, { LO32(0, AF_NETLINK), LO32(2, NETLINK_ROUTE) } },
	INET_SOCKET(AF_INET, SOCK_STREAM, 0),
	INET_SOCKET(AF_INET, SOCK_STREAM, IPPROTO_TCP),
	INET_SOCKET(AF_INET, SOCK_DGRAM, 0),
	INET_SOCKET(AF_INET, SOCK_DGRAM, IPPROTO_UDP),
	INET_SOCKET(AF_INET6, SOCK_STREAM, 0),
	INET_SOCKET(AF_INET6, SOCK_STREAM, IPPROTO_TCP),
	INET_SOCKET(AF_INET6, SOCK_DGRAM, 0),
	INET_SOCKET(AF_INET6, SOCK_DGRAM, IPPROTO_UDP),
	/* socketpair makes sense for AF_UNIX only; any other family would
	 * again autoload a module (socketpair(AF_TIPC) loads tipc). */
	{ "socketpair", 1, { LO32(0, AF_UNIX) } },

	/* personality: the harmless values only (Docker's set: PER_LINUX,
	 * PER_LINUX32, UNAME26 and the 0xffffffff query).  Others turn off
	 * ASLR (ADDR_NO_RANDOMIZE) or map page 0 (MMAP_PAGE_ZERO) for a
	 * NULL-dereference exploit. */
	{ "personality", 1, { LO32(0, PER_LINUX) } },
	{ "personality", 1, { LO32(0, PER_LINUX32) } },
	{ "personality", 1, { LO32(0, UNAME26) } },
	{ "personality", 1, { LO32(0, PER_LINUX32 | UNAME26) } },
	{ "personality", 1, { LO32(0, 0xffffffffu) } },

	/* mknod: FIFOs, sockets and regular files (mkfifo), never device
	 * nodes, which would give raw access to a disk or to kernel memory
	 * if a capability ever leaked in. */
	{ "mknod", 1, { MASKED(1, S_IFMT, 0) } },
	{ "mknod", 1, { MASKED(1, S_IFMT, S_IFREG) } },
	{ "mknod", 1, { MASKED(1, S_IFMT, S_IFIFO) } },
	{ "mknod", 1, { MASKED(1, S_IFMT, S_IFSOCK) } },
	{ "mknodat", 1, { MASKED(2, S_IFMT, 0) } },
	{ "mknodat", 1, { MASKED(2, S_IFMT, S_IFREG) } },
	{ "mknodat", 1, { MASKED(2, S_IFMT, S_IFIFO) } },
	{ "mknodat", 1, { MASKED(2, S_IFMT, S_IFSOCK) } },
};

/* Program B: terminal injection.  TIOCSTI pushes bytes into the input of
 * the terminal the sandbox shares with whoever runs it, who then
 * executes them (CVE-2016-7545, CVE-2017-5226 in bwrap, CVE-2019-10063
 * in flatpak, which compared all 64 bits).  TIOCLINUX can read the
 * screen and paste the selection.  The kernel takes the request number
 * as unsigned int, so the compare looks at the low 32 bits only. */
static const struct arg_rule deny_args[] = {
	{ "ioctl", 1, { LO32(1, TIOCSTI) } },
	{ "ioctl", 1, { LO32(1, TIOCLINUX) } },
};

/* A syscall number for this architecture, or -1 if unknown here.  Names
 * of other architectures resolve to negative pseudo numbers. */
static int resolve(const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr >= 0)
		return nr;
#if defined(__x86_64__) && !defined(__ILP32__)
	for (size_t i = 0; i < MG_ARRAY_LEN(late_x86_64); i++)
		if (!strcmp(late_x86_64[i].name, name))
			return late_x86_64[i].nr;
#endif
	return -1;
}

static int add_arg_rules(scmp_filter_ctx ctx, uint32_t action, const struct arg_rule *r,
			 size_t count, struct mg_err *err)
{
	for (size_t i = 0; i < count; i++) {
		int nr = resolve(r[i].name);
		int rc;

		/* These are old syscalls; not knowing one means a broken
		 * libseccomp, and a missing deny rule must not pass silently. */
		if (nr < 0)
			return mg_err_set(err, -ENOSYS, "seccomp: libseccomp does not know %s",
					  r[i].name);
		rc = seccomp_rule_add_exact_array(ctx, action, nr, r[i].n, r[i].cmp);
		if (rc < 0)
			return mg_err_set(err, rc, "seccomp: rule %zu for %s: %s", i, r[i].name,
					  strerror(-rc));
	}
	return 0;
}

static scmp_filter_ctx new_ctx(uint32_t def_action, struct mg_err *err)
{
	scmp_filter_ctx ctx = seccomp_init(def_action);
	int rc;

	if (!ctx) {
		mg_err_set(err, -ENOMEM, "seccomp: seccomp_init failed");
		return NULL;
	}
	/* seccomp_init holds the native architecture only.  Any other one
	 * (an i386 int 0x80, an x32 call with bit 30 set) is a second,
	 * unfiltered syscall table: kill the whole process, not a thread. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	/* Binary search over syscall numbers instead of a linear chain:
	 * Node and Python make many syscalls, each runs the filter. */
	if (!rc)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (rc < 0) {
		seccomp_release(ctx);
		mg_err_set(err, rc, "seccomp: filter attributes: %s", strerror(-rc));
		return NULL;
	}
	return ctx;
}

/* Export ctx as classic BPF into a fresh buffer.  libseccomp 2.5.4 can
 * only write to an fd (seccomp_export_bpf_mem came in 2.6.0), so it goes
 * through a memfd, which has no size limit unlike a pipe. */
static int export_prog(scmp_filter_ctx ctx, struct sock_fprog *out, const char *which,
		       struct mg_err *err)
{
	struct sock_filter *insns = NULL;
	size_t got = 0;
	off_t size;
	int fd, rc;

	fd = memfd_create("mg-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return mg_err_set(err, -errno, "seccomp: memfd_create: %s", strerror(errno));
	rc = seccomp_export_bpf(ctx, fd);
	if (rc < 0) {
		mg_err_set(err, rc, "seccomp: export of program %s: %s", which, strerror(-rc));
		goto out;
	}
	size = lseek(fd, 0, SEEK_END);
	if (size < 0) {
		rc = mg_err_set(err, -errno, "seccomp: lseek: %s", strerror(errno));
		goto out;
	}
	/* The kernel refuses programs over BPF_MAXINSNS; say so here, at
	 * gateway start, rather than in every sandbox child. */
	if (size == 0 || (size_t)size % sizeof(struct sock_filter) ||
	    (size_t)size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		rc = mg_err_set(err, -E2BIG, "seccomp: program %s has a bad size (%lld bytes)",
				which, (long long)size);
		goto out;
	}
	insns = mg_malloc((size_t)size);
	while (got < (size_t)size) {
		ssize_t n = pread(fd, (char *)insns + got, (size_t)size - got,
				  (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = mg_err_set(err, n < 0 ? -errno : -EIO,
					"seccomp: reading program %s back", which);
			goto out;
		}
		got += (size_t)n;
	}
	out->len = (unsigned short)((size_t)size / sizeof(struct sock_filter));
	out->filter = mg_steal(&insns);
	rc = 0;
out:
	free(insns);
	close(fd);
	return rc;
}

static int build_a(struct sock_fprog *out, struct mg_err *err)
{
	scmp_filter_ctx ctx;
	int rc = 0;

	ctx = new_ctx(SCMP_ACT_ERRNO(EPERM), err);
	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < MG_ARRAY_LEN(allow_names); i++) {
		int nr = resolve(allow_names[i]);

		if (nr < 0) {
			mg_debug("seccomp: %s unknown to libseccomp, left denied", allow_names[i]);
			continue;
		}
		rc = seccomp_rule_add_exact(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc < 0) {
			mg_err_set(err, rc, "seccomp: allow %s: %s", allow_names[i], strerror(-rc));
			goto out;
		}
	}
	rc = add_arg_rules(ctx, SCMP_ACT_ALLOW, allow_args, MG_ARRAY_LEN(allow_args), err);
	if (rc < 0)
		goto out;
	/* ENOSYS so that glibc (pthread_create, posix_spawn, fork in 2.34+)
	 * falls back to clone, which the rule above checks. */
	rc = seccomp_rule_add_exact(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc < 0) {
		mg_err_set(err, rc, "seccomp: clone3 rule: %s", strerror(-rc));
		goto out;
	}
	rc = export_prog(ctx, out, "A", err);
out:
	seccomp_release(ctx);
	return rc;
}

static int build_b(struct sock_fprog *out, struct mg_err *err)
{
	scmp_filter_ctx ctx;
	int rc;

	ctx = new_ctx(SCMP_ACT_ALLOW, err);
	if (!ctx)
		return -ENOMEM;
	rc = add_arg_rules(ctx, SCMP_ACT_ERRNO(EPERM), deny_args, MG_ARRAY_LEN(deny_args), err);
	if (!rc)
		rc = export_prog(ctx, out, "B", err);
	seccomp_release(ctx);
	return rc;
}

int sbx_filter_build(struct sbx_filter *f, struct mg_err *err)
{
	int rc;

	memset(f, 0, sizeof(*f));
	rc = build_a(&f->a, err);
	if (!rc)
		rc = build_b(&f->b, err);
	if (rc)
		sbx_filter_release(f);
	return rc;
}

void sbx_filter_release(struct sbx_filter *f)
{
	free(f->a.filter);
	free(f->b.filter);
	memset(f, 0, sizeof(*f));
}

int sbx_filter_install(const struct sbx_filter *f)
{
	if (!f->a.filter || !f->b.filter)
		return -EINVAL;
	/* Without no_new_privs the kernel lets only CAP_SYS_ADMIN install a
	 * filter, and a setuid binary run later could be confused by one. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0)
		return -errno;
	/* B first, so that installing it never depends on what A allows. */
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &f->b, 0L, 0L) < 0)
		return -errno;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &f->a, 0L, 0L) < 0)
		return -errno;
	return 0;
}
