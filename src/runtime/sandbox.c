/* The sandbox, step by step.  Each step names what it stops.
 *
 * Parent (the gateway, root): clone3 into new namespaces, map the child's
 * ids to a host range of its own, put it in its cgroups, then let it go.
 * Child (PID 1 of the new PID namespace, "init"): build a private root,
 * pivot into it, confine itself (bounding set, securebits, rlimits,
 * seccomp: what everything it starts inherits), start the payload, reap,
 * exit with the payload's status.
 * Payload: a session of its own, its stdio and nothing else, uid 1000 with
 * no capability, no_new_privs, exec.
 *
 * Further processes in a running sandbox (sbx_exec, sandbox_exec.c) are
 * started the same way by the same init: the gateway sends it a request
 * over a socket it kept, and init launches it exactly like the payload.
 * Why through init, not setns(2) from a forked gateway: a setns'd process
 * is made of the gateway's memory and fds, needs a second fork to be in
 * the PID namespace, must be written into three cgroups and must chroot
 * into init's root, all of it per exec and all of it from the gateway;
 * through init, nothing of the gateway enters a sandbox after its set-up,
 * everything inside descends from init (which reaps and reports), and an
 * exec costs one vfork of a small process.
 *
 * Why vfork (CLONE_VM|CLONE_VFORK) for every launch: the child borrows
 * init's memory until it execs, so there is no page table to copy and no
 * copy-on-write fault to take (each costs 15-20 us on the project's VM).
 * What the child changes is per task: credentials, securebits, seccomp,
 * rlimits (own signal struct), session, fd table (own copy).  It writes to
 * shared memory only its own stack below init's frame, errno, `environ`
 * (init never reads it) and `launch_failed`, which init reads afterwards.
 *
 * Between clone and exec only async-signal-safe calls are made: the child
 * shares nothing with the gateway but a copy of its memory, and another
 * thread may have held a lock (malloc's) when the copy was taken.  For the
 * same reason ids are changed with raw syscalls: glibc's setresuid and
 * friends would try to signal the gateway's other threads (set*id applies
 * to every thread) under a lock such a thread may have held. */
#include "runtime/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/securebits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "runtime/sandbox_cgroup.h"
#include "runtime/sandbox_ctl.h"
#include "runtime/sandbox_idmap.h"
#include "runtime/seccomp.h"

#define ROOT_DIR "/run/mcpguard/sandbox-root"
/* Each sandbox maps to 65536 host ids of its own, far from real users:
 * files it creates on a bind are owned by nobody the host knows, and a
 * fork bomb's RLIMIT_NPROC (counted per host uid) stays its own. */
#define UID_BASE 0x40000000u
#define UID_RANGE 65536u
#define SLOTS 4096u
/* Slots from here on are named (sbx_named_slot): every sandbox of one
 * server shares its ids, so that its persistent workspace stays its own
 * across instances and restarts.  Slots below are one sandbox's each. */
#define NAMED_SLOTS_FROM 2048u
#define SBX_UID 1000u                   /* the payload's id inside */
/* Paths built in the child: ROOT_DIR plus a path inside.  Small on
 * purpose: every stack page the child touches is a copy-on-write fault. */
#define PATH_IN_ROOT 1024

static unsigned char slot_used[SLOTS];
static unsigned slot_next;

extern char **environ;

/* ---- child: failure reports ---- */

struct report {
	int step;
	int err;
	int bind;               /* ST_BIND, ST_WORKSPACE: the source's index, or -1 */
};

enum {
	ST_GO, ST_GROUPS, ST_ROOTID, ST_DEATHSIG, ST_HOST, ST_PRIVATE, ST_ROOT, ST_USR, ST_ETC,
	ST_WORKSPACE, ST_TMP, ST_DEV, ST_PROC, ST_BIND, ST_LO, ST_PIVOT, ST_REMOUNT, ST_CGNS,
	ST_FORK, ST_CAPS, ST_SECBITS, ST_SETUID, ST_NNP, ST_RLIMIT, ST_SECCOMP, ST_CHDIR, ST_EXEC,
	ST_EGRESS_LISTEN, ST_STDIO, ST_INIT, ST_REQUEST,
	ST_EGRESS_FD, ST_READY,                 /* messages, not failures */
};

static const char *const step_names[] = {
	[ST_GO] = "wait for the gateway", [ST_GROUPS] = "drop supplementary groups",
	[ST_ROOTID] = "become root in the namespace", [ST_DEATHSIG] = "watch the gateway",
	[ST_HOST] = "set the hostname", [ST_PRIVATE] = "make mounts private",
	[ST_ROOT] = "build the root", [ST_USR] = "bind /usr", [ST_ETC] = "write /etc",
	[ST_WORKSPACE] = "bind the workspace", [ST_TMP] = "mount /tmp", [ST_DEV] = "build /dev",
	[ST_PROC] = "mount /proc", [ST_BIND] = "bind a path", [ST_LO] = "bring up loopback",
	[ST_PIVOT] = "pivot into the root", [ST_REMOUNT] = "remount the root read-only",
	[ST_CGNS] = "enter a cgroup namespace", [ST_FORK] = "start the payload",
	[ST_CAPS] = "drop capabilities", [ST_SECBITS] = "lock securebits",
	[ST_SETUID] = "drop to the sandbox user", [ST_NNP] = "set no_new_privs",
	[ST_RLIMIT] = "set rlimits", [ST_SECCOMP] = "install seccomp",
	[ST_CHDIR] = "change directory", [ST_EXEC] = "exec the payload",
	[ST_EGRESS_LISTEN] = "open the egress listener", [ST_STDIO] = "set up stdio",
	[ST_INIT] = "watch its processes", [ST_REQUEST] = "read the exec request",
	[ST_EGRESS_FD] = "pass the egress listener", [ST_READY] = "report ready",
};

const int sbx_step_exec = ST_EXEC;

const char *sbx_step_name(int step)
{
	return step >= 0 && (size_t)step < MG_ARRAY_LEN(step_names) && step_names[step]
		? step_names[step] : "set up";
}

/* The bind source being opened or mounted (its index in child_args), for
 * a failure report; the child's own copy. */
static int failing_bind = -1;

static void __attribute__((noreturn)) die(int fd, int step)
{
	struct report r = { step, errno, failing_bind };

	if (write(fd, &r, sizeof(r)) < 0) {
		/* nothing left to tell it with */
	}
	_exit(127);
}

#define CHECK(expr, step) do { if ((expr) < 0) die(a->report, (step)); } while (0)

/* ---- child: filesystem ---- */

#define MAX_BINDS 256

struct child_args {
	const struct sbx_config *c;
	/* Bind sources (ro, rw, workspace), opened while the child still has
	 * the gateway's host ids: the sandbox's own ids may not walk to them
	 * (a 0700 folder on the way).  Bound through /proc/self/fd/N.  The
	 * child opens them itself, in its own mount namespace (a bind of a
	 * mount of another namespace is refused), and each must be the inode
	 * the gateway opened and checked: src_dev/src_ino. */
	int bind_fds[MAX_BINDS + 1];
	dev_t src_dev[MAX_BINDS + 1];
	ino_t src_ino[MAX_BINDS + 1];
	/* The same binds as detached idmapped trees made by the gateway
	 * (sandbox_idmap.c), or -1 for a plain bind. */
	int tree_fds[MAX_BINDS + 1];
	int sync;                       /* read end: "go" from the parent */
	int report;                     /* write end, CLOEXEC: failures, then the exec channel */
	int alive;                      /* read end: HUP when the gateway is gone */
	bool rootless;                  /* the gateway is not root: see sbx_spawn */
};

/* Set in the child (its own copy of memory): read by drop_privileges in
 * every process init starts. */
static bool child_rootless;
static bool warned_rootless;    /* the gateway's: said once */

static size_t count(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

/* Open bind source n at host in the child and make sure it is what the
 * gateway opened (the same inode): a folder swapped between the two opens
 * is refused (ESTALE).  When the gateway checked its sources, the walk
 * follows no symlink either. */
static int open_bind_source(struct child_args *a, size_t n, const char *host)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC,
				.resolve = a->c->bind_fds ? RESOLVE_NO_SYMLINKS |
					   RESOLVE_NO_MAGICLINKS : 0 };
	struct stat st;

	failing_bind = (int)n;
	if (a->tree_fds[n] >= 0) {
		a->bind_fds[n] = -1;    /* the tree is its source */
		return 0;
	}
	a->bind_fds[n] = (int)syscall(SYS_openat2, AT_FDCWD, host, &how, sizeof(how));
	if (a->bind_fds[n] < 0 || fstat(a->bind_fds[n], &st) < 0)
		return -1;
	if (st.st_dev != a->src_dev[n] || st.st_ino != a->src_ino[n]) {
		errno = ESTALE;
		return -1;
	}
	return 0;
}

/* In the child, before it takes the sandbox's ids: fds of every bind
 * source (opened in its own mount namespace, so that they can be bound). */
static int open_bind_sources(struct child_args *a)
{
	const struct sbx_config *c = a->c;
	char *const *lists[2] = { c->ro_binds, c->rw_binds };
	char host[4096];
	size_t n = 0;

	for (size_t l = 0; l < 2; l++) {
		for (size_t i = 0; lists[l] && lists[l][i]; i++) {
			if (sbx_spec_host(lists[l][i], host, sizeof(host)) == NULL ||
			    open_bind_source(a, n++, host) < 0)
				return -1;
		}
	}
	if (c->workspace && open_bind_source(a, n, c->workspace) < 0)
		return -1;
	failing_bind = -1;
	return 0;
}

/* ROOT_DIR + inside, without snprintf (not async-signal-safe). */
static int path_in_root(char *out, const char *inside)
{
	size_t r = sizeof(ROOT_DIR) - 1, n = strlen(inside);

	if (r + n >= PATH_IN_ROOT) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(out, ROOT_DIR, r);
	memcpy(out + r, inside, n + 1);
	return 0;
}

/* mkdir -p of p's parents inside the root (p is a path_in_root result). */
static int mkdir_parents(char *p)
{
	for (char *s = p + sizeof(ROOT_DIR); *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return 0;
}

static int mkdir_in_root(const char *inside, mode_t mode)
{
	char p[PATH_IN_ROOT];

	if (path_in_root(p, inside))
		return -1;
	/* Parents only when missing: most mount points sit at the top. */
	if (mkdir(p, mode) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT || mkdir_parents(p))
		return -1;
	return mkdir(p, mode) < 0 && errno != EEXIST ? -1 : 0;
}

/* Create a file inside the root (a mount point, or one to fill); its fd
 * with O_WRONLY|O_TRUNC, or -1. */
static int create_in_root(const char *inside)
{
	char p[PATH_IN_ROOT];
	int fd;

	if (path_in_root(p, inside))
		return -1;
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0 || errno != ENOENT || mkdir_parents(p))
		return fd;
	return open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

static int touch_in_root(const char *inside)
{
	int fd = create_in_root(inside);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int write_in_root(const char *inside, const char *text)
{
	int fd = create_in_root(inside), rc;

	if (fd < 0)
		return -1;
	rc = write(fd, text, strlen(text)) < 0 ? -1 : 0;
	close(fd);
	return rc;
}

static int set_attr(const char *path, unsigned flags, uint64_t set, uint64_t clr)
{
	struct mount_attr ma;

	memset(&ma, 0, sizeof(ma));
	ma.attr_set = set;
	ma.attr_clr = clr;
	return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &ma, sizeof(ma));
}

/* Make the mount at path and every mount under it nosuid, nodev and,
 * unless rw, read-only, leaving their other flags alone: mount_setattr(2)
 * never has to restate the flags the kernel locked when the mounts came
 * from a more privileged namespace (a remount that dropped them failed
 * with EPERM), and one call covers the submounts, which a remount of the
 * top left as they were.  rw makes only the top writable: a read-only
 * submount stays so. */
static int lock_down(const char *path, bool rw, bool noexec)
{
	if (set_attr(path, AT_RECURSIVE, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
		     (rw ? 0 : MOUNT_ATTR_RDONLY) | (noexec ? MOUNT_ATTR_NOEXEC : 0), 0) < 0)
		return -1;
	return rw ? set_attr(path, 0, 0, MOUNT_ATTR_RDONLY) : 0;
}

/* Mount host src, or the detached tree (an idmapped copy, when >= 0), at
 * inside (creating the mount point), read-only unless rw. */
static int bind_tree_in_root(const char *src, int tree, const char *inside, bool rw)
{
	char dst[PATH_IN_ROOT];
	struct stat st;

	if ((tree >= 0 ? fstat(tree, &st) : stat(src, &st)) < 0 || path_in_root(dst, inside))
		return -1;
	if (S_ISDIR(st.st_mode) ? mkdir_in_root(inside, 0755) : touch_in_root(inside))
		return -1;
	if (tree >= 0 ? syscall(SYS_move_mount, tree, "", AT_FDCWD, dst,
				MOVE_MOUNT_F_EMPTY_PATH) < 0
		      : mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -1;
	return lock_down(dst, rw, false);
}

/* Bind host src at inside (creating the mount point), read-only unless rw.
 * nosuid and nodev always, on submounts too: a setuid binary or a device
 * node on a bound path must not regain power inside. */
static int bind_in_root(const char *src, const char *inside, bool rw)
{
	return bind_tree_in_root(src, -1, inside, rw);
}

/* "/proc/self/fd/N", without snprintf (not async-signal-safe). */
static void fd_path(char out[32], int fd)
{
	static const char prefix[] = "/proc/self/fd/";
	char digits[12];
	size_t n = 0;

	do
		digits[n++] = (char)('0' + fd % 10);
	while ((fd /= 10) > 0 && n < sizeof(digits));
	memcpy(out, prefix, sizeof(prefix) - 1);
	for (size_t i = 0; i < n; i++)
		out[sizeof(prefix) - 1 + i] = digits[n - 1 - i];
	out[sizeof(prefix) - 1 + n] = '\0';
}

/* "host[:inside]", host opened beforehand as fd (open_bind_sources), or
 * given as an idmapped tree. */
static int bind_spec(const char *spec, int fd, int tree, bool rw)
{
	char host[PATH_IN_ROOT], src[32];
	const char *inside = sbx_spec_host(spec, host, sizeof(host));

	if (!inside)
		return -1;
	fd_path(src, fd);
	return bind_tree_in_root(src, tree, inside, rw);
}

static const char etc_passwd[] =
	"root:x:0:0:root:/root:/bin/sh\n"
	"sandbox:x:1000:1000:sandbox:/workspace:/bin/sh\n"
	"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
static const char etc_group[] = "root:x:0:\nsandbox:x:1000:\nnogroup:x:65534:\n";
static const char etc_hosts[] = "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost\n";
static const char etc_nsswitch[] = "passwd: files\ngroup: files\nhosts: files\n";

/* A curated /etc: our own user list (the host's user names stay out), no
 * resolver (no network), and only what programs need to run: the dynamic
 * linker's cache, TLS roots, time zone.  A missing host entry is skipped
 * (the bind's stat fails with ENOENT). */
static int build_etc(void)
{
	static const char *const from_host[] = {
		"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/ssl",
		"/etc/ca-certificates", "/etc/localtime", "/etc/alternatives", "/etc/mime.types",
	};

	if (mkdir_in_root("/etc", 0755) || write_in_root("/etc/passwd", etc_passwd) ||
	    write_in_root("/etc/group", etc_group) || write_in_root("/etc/hosts", etc_hosts) ||
	    write_in_root("/etc/nsswitch.conf", etc_nsswitch) ||
	    touch_in_root("/etc/resolv.conf") || write_in_root("/etc/hostname", "sandbox\n"))
		return -1;
	for (size_t i = 0; i < MG_ARRAY_LEN(from_host); i++)
		if (bind_in_root(from_host[i], from_host[i], false) < 0 && errno != ENOENT)
			return -1;
	return 0;
}

/* A minimal /dev: device nodes cannot be made in a user namespace, so the
 * harmless ones are bound from the host; never the host's whole /dev. */
static int build_dev(void)
{
	static const char *const nodes[][2] = {
		{ "/dev/null", ROOT_DIR "/dev/null" }, { "/dev/zero", ROOT_DIR "/dev/zero" },
		{ "/dev/full", ROOT_DIR "/dev/full" }, { "/dev/random", ROOT_DIR "/dev/random" },
		{ "/dev/urandom", ROOT_DIR "/dev/urandom" }, { "/dev/tty", ROOT_DIR "/dev/tty" },
	};
	static const char *const links[][2] = {
		{ "/proc/self/fd", ROOT_DIR "/dev/fd" }, { "/proc/self/fd/0", ROOT_DIR "/dev/stdin" },
		{ "/proc/self/fd/1", ROOT_DIR "/dev/stdout" },
		{ "/proc/self/fd/2", ROOT_DIR "/dev/stderr" },
		{ "pts/ptmx", ROOT_DIR "/dev/ptmx" },
	};

	if (mkdir_in_root("/dev", 0755) ||
	    mount("tmpfs", ROOT_DIR "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0)
		return -1;
	for (size_t i = 0; i < MG_ARRAY_LEN(nodes); i++) {
		int fd = open(nodes[i][1], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (fd < 0)
			return -1;
		close(fd);
		if (mount(nodes[i][0], nodes[i][1], NULL, MS_BIND, NULL) < 0)
			return -1;
	}
	for (size_t i = 0; i < MG_ARRAY_LEN(links); i++)
		if (symlink(links[i][0], links[i][1]) < 0)
			return -1;
	if (mkdir(ROOT_DIR "/dev/shm", 01777) < 0 || mkdir(ROOT_DIR "/dev/pts", 0755) < 0 ||
	    mount("tmpfs", ROOT_DIR "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=16m"))
		return -1;
	/* A pty of its own; not fatal where devpts cannot be mounted. */
	mount("devpts", ROOT_DIR "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	      "newinstance,ptmxmode=0666,mode=620");
	return 0;
}

/* /proc of the new PID namespace, with Docker's masked and read-only
 * paths: no kernel memory, keyring or scheduler internals, and no writes
 * to kernel settings (/proc/sys) even for root inside. */
static int build_proc(void)
{
	static const char *const ro[] = {
		ROOT_DIR "/proc/sys", ROOT_DIR "/proc/sysrq-trigger", ROOT_DIR "/proc/irq",
		ROOT_DIR "/proc/bus", ROOT_DIR "/proc/fs",
	};
	static const char *const masked[] = {
		ROOT_DIR "/proc/kcore", ROOT_DIR "/proc/keys", ROOT_DIR "/proc/timer_list",
		ROOT_DIR "/proc/sched_debug", ROOT_DIR "/proc/latency_stats",
		ROOT_DIR "/proc/acpi", ROOT_DIR "/proc/scsi",
	};

	if (mkdir_in_root("/proc", 0555) ||
	    mount("proc", ROOT_DIR "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return -1;
	for (size_t i = 0; i < MG_ARRAY_LEN(ro); i++) {
		/* The bind fails with ENOENT where the kernel lacks the entry. */
		if (mount(ro[i], ro[i], NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			return -1;
		}
		if (lock_down(ro[i], false, true) < 0)
			return -1;
	}
	for (size_t i = 0; i < MG_ARRAY_LEN(masked); i++) {
		struct stat st;

		if (stat(masked[i], &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) ? mount("tmpfs", masked[i], "tmpfs", MS_RDONLY, "size=0") < 0
					: mount(ROOT_DIR "/dev/null", masked[i], NULL, MS_BIND, NULL) < 0)
			return -1;
	}
	return 0;
}

/* The egress door: a TCP listener on the sandbox's own loopback, handed
 * to the gateway (SCM_RIGHTS over the report socket).  The gateway accepts
 * on it from its own loop, so every connection the payload makes to the
 * proxy address lands in the gateway's filtering proxy; nothing else in
 * the sandbox's network namespace leads out. */
static int send_egress_listener(struct child_args *a)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(a->c->egress_port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct report r = { ST_EGRESS_FD, 0, -1 };
	struct iovec iov = { &r, sizeof(r) };
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = -1;

	if (fd < 0)
		return -1;
	memset(u.buf, 0, sizeof(u.buf));
	u.h.cmsg_level = SOL_SOCKET;
	u.h.cmsg_type = SCM_RIGHTS;
	u.h.cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(&u.h), &fd, sizeof(int));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 && listen(fd, 64) == 0 &&
	    sendmsg(a->report, &m, MSG_NOSIGNAL) == (ssize_t)sizeof(r))
		rc = 0;
	close(fd);      /* the gateway holds its own copy now */
	return rc;
}

/* A fresh network namespace has lo down: even 127.0.0.1 fails without it. */
static int loopback_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	if (s < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
	return rc;
}

static void build_root(struct child_args *a)
{
	const struct sbx_config *c = a->c;
	size_t n_ro = count(c->ro_binds), n_rw = count(c->rw_binds);
	static const char *const links[][2] = {
		{ "usr/bin", ROOT_DIR "/bin" }, { "usr/sbin", ROOT_DIR "/sbin" },
		{ "usr/lib", ROOT_DIR "/lib" }, { "usr/lib64", ROOT_DIR "/lib64" },
	};

	/* The host's mounts must not see ours, nor ours theirs, and
	 * pivot_root refuses a shared root. */
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), ST_PRIVATE);
	/* Without root the host may have no ROOT_DIR to mount on: a tmpfs
	 * over /run (in this mount namespace only) gives one. */
	if (access(ROOT_DIR, F_OK) < 0) {
		CHECK(mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k"),
		      ST_ROOT);
		CHECK(mkdir("/run/mcpguard", 0755), ST_ROOT);
		CHECK(mkdir(ROOT_DIR, 0755), ST_ROOT);
	}
	CHECK(mount("tmpfs", ROOT_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m"),
	      ST_ROOT);
	for (size_t i = 0; i < MG_ARRAY_LEN(links); i++)
		CHECK(symlink(links[i][0], links[i][1]), ST_ROOT);
	CHECK(bind_in_root("/usr", "/usr", false), ST_USR);
	CHECK(build_etc(), ST_ETC);
	CHECK(mkdir(ROOT_DIR "/workspace", 0777), ST_WORKSPACE);
	if (c->workspace) {
		char src[32];

		failing_bind = (int)(n_ro + n_rw);
		fd_path(src, a->bind_fds[n_ro + n_rw]);
		CHECK(bind_tree_in_root(src, a->tree_fds[n_ro + n_rw], "/workspace", true),
		      ST_WORKSPACE);
		failing_bind = -1;
	} else {
		CHECK(mount("tmpfs", ROOT_DIR "/workspace", "tmpfs", MS_NOSUID | MS_NODEV,
			    "mode=0777,size=256m"), ST_WORKSPACE);
	}
	CHECK(mkdir(ROOT_DIR "/tmp", 01777), ST_TMP);
	CHECK(mount("tmpfs", ROOT_DIR "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m"),
	      ST_TMP);
	CHECK(build_dev(), ST_DEV);
	CHECK(build_proc(), ST_PROC);
	for (size_t i = 0; i < n_ro; i++) {
		failing_bind = (int)i;
		CHECK(bind_spec(c->ro_binds[i], a->bind_fds[i], a->tree_fds[i], false), ST_BIND);
	}
	for (size_t i = 0; i < n_rw; i++) {
		failing_bind = (int)(n_ro + i);
		CHECK(bind_spec(c->rw_binds[i], a->bind_fds[n_ro + i], a->tree_fds[n_ro + i], true),
		      ST_BIND);
	}
	failing_bind = -1;
	CHECK(mkdir(ROOT_DIR "/root", 0700), ST_ROOT);
}

static void enter_root(struct child_args *a)
{
	CHECK(chdir(ROOT_DIR), ST_PIVOT);
	CHECK(syscall(SYS_pivot_root, ".", "."), ST_PIVOT);
	/* The old root is stacked under the new one: detach it, so that no
	 * path leads back to the host's files. */
	CHECK(umount2(".", MNT_DETACH), ST_PIVOT);
	CHECK(chdir("/"), ST_PIVOT);
	CHECK(mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
		    NULL), ST_REMOUNT);
}

/* ---- a launched process (the payload, or one asked for by sbx_exec) ----
 *
 * Runs in a vfork child of init, on init's memory: on failure it records
 * the step in launch_failed (which init reads once the child is gone) and
 * leaves with _exit; it never returns. */

struct launch {
	char *const *argv;
	char *const *envp;
	const char *cwd;
	int fd[3];                      /* become 0, 1, 2; -1: /dev/null */
};

static volatile struct report launch_failed;

static void __attribute__((noreturn)) launch_fail(int step)
{
	launch_failed.err = errno;
	launch_failed.step = step;
	_exit(127);
}

#define LCHECK(expr, step) do { if ((expr) < 0) launch_fail(step); } while (0)

/* Put src[0..2] at 0..2 without one clobbering another: a source that
 * sits below 3 at the wrong place is moved up first. */
static int place_stdio(const int src[3])
{
	int fd[3];

	for (int i = 0; i < 3; i++) {
		fd[i] = src[i] >= 0 ? src[i] : open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd[i] >= 0 && fd[i] < 3 && fd[i] != i)
			fd[i] = fcntl(fd[i], F_DUPFD_CLOEXEC, 3);
		if (fd[i] < 0)
			return -1;
	}
	for (int i = 0; i < 3; i++)
		if (fd[i] == i ? fcntl(i, F_SETFD, 0) < 0 : dup2(fd[i], i) < 0)
			return -1;
	return 0;
}

/* What init's own state already holds for every process it starts (see
 * confine_init) is not repeated here: bounding and ambient sets, locked
 * securebits, rlimits and seccomp are inherited across vfork and exec. */
static void drop_privileges(void)
{
	gid_t g = SBX_UID;
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	/* With SECBIT_KEEP_CAPS off and locked, leaving uid 0 empties the
	 * permitted and effective sets. */
	if (!child_rootless)    /* else refused: setgroups is "deny" */
		LCHECK(syscall(SYS_setgroups, 1, &g), ST_SETUID);
	LCHECK(syscall(SYS_setresgid, SBX_UID, SBX_UID, SBX_UID), ST_SETUID);
	LCHECK(syscall(SYS_setresuid, SBX_UID, SBX_UID, SBX_UID), ST_SETUID);
	memset(data, 0, sizeof(data));
	LCHECK(syscall(SYS_capset, &hdr, data), ST_CAPS);      /* belt and braces */
	LCHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), ST_NNP);
}

/* Signals init forwards (a graceful stop from the gateway). */
static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

static void __attribute__((noreturn)) run_payload(const struct launch *l)
{
	struct sigaction dfl;
	sigset_t none;

	/* Signals are blocked (init blocked them before vfork): init's
	 * handlers go before anything can be delivered here. */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (size_t i = 0; i < MG_ARRAY_LEN(forwarded); i++)
		sigaction(forwarded[i], &dfl, NULL);
	/* A session of its own: a TIOCSTI into our terminal needs a
	 * controlling tty it no longer has (seccomp refuses it too), and
	 * sbx_proc_signal reaches what it starts through its group. */
	setsid();
	LCHECK(place_stdio(l->fd), ST_STDIO);
	/* Nothing of init's stays open: the channel, other processes' stdio. */
	syscall(SYS_close_range, 3u, ~0u, 0u);
	drop_privileges();
	LCHECK(chdir(l->cwd ? l->cwd : "/workspace"), ST_CHDIR);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	environ = (char **)(uintptr_t)l->envp;  /* execvpe searches environ's PATH */
	execvpe(l->argv[0], l->argv, l->envp);
	launch_fail(ST_EXEC);
}

/* Start l; its pid, or -1 with launch_failed saying why (the child, if
 * any, reaped). */
static pid_t launch(const struct launch *l)
{
	sigset_t all, old;
	pid_t pid;

	/* No handler of init's may run in the child, on init's stack. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	launch_failed.step = -1;
	pid = vfork();
	if (pid == 0)
		run_payload(l);
	if (pid < 0) {
		launch_failed.err = errno;
		launch_failed.step = ST_FORK;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* The child's set*id on the shared memory reset its dumpable flag to
	 * the host's fs.suid_dumpable: init's, too. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (pid > 0 && launch_failed.step >= 0) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		pid = -1;
	}
	return pid;
}

/* ---- init: PID 1 ---- */

static volatile pid_t init_payload;     /* 0: no payload ("hold"): forward to all */

/* The gateway's SIGTERM (a graceful stop) reaches init, which the kernel
 * shields from signals it has no handler for: pass it on to the payload's
 * whole process group, or to everything inside when there is no payload. */
static void forward_signal(int sig)
{
	kill(init_payload > 0 ? -init_payload : -1, sig);
}

static void __attribute__((noreturn)) exit_like(int status)
{
	if (WIFSIGNALED(status))
		_exit(128 + WTERMSIG(status));
	_exit(WEXITSTATUS(status));
}

/* Processes started by sbx_exec, alive. */
static struct exec_slot {
	pid_t pid;                      /* 0: free */
	uint32_t id;
	int status_fd;
} execs[SBX_EXEC_MAX];

static void proc_send(int fd, int kind, pid_t pid, int step, int value)
{
	struct sbx_proc_msg m = { kind, pid, step, value };

	/* Never blocks: the socket holds at most two of these.  A gateway
	 * that closed its end just misses them. */
	send(fd, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Reap whatever exited: report sbx_exec'd processes, leave with the
 * payload.  Orphans that ended up with init are reaped silently. */
static void reap(int sfd)
{
	struct signalfd_siginfo si;
	int status;
	pid_t pid;

	while (read(sfd, &si, sizeof(si)) > 0)
		;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == init_payload)
			exit_like(status);
		for (size_t i = 0; i < SBX_EXEC_MAX; i++) {
			if (execs[i].pid != pid)
				continue;
			proc_send(execs[i].status_fd, SBX_PROC_EXITED, pid, 0, status);
			close(execs[i].status_fd);
			execs[i].pid = 0;
			break;
		}
	}
}

/* One request, read into static memory (init may not allocate). */
static union {
	struct sbx_ctl_req h;
	char buf[sizeof(struct sbx_ctl_req) + SBX_CTL_BYTES_MAX];
} req_msg;
static char *req_argv[SBX_CTL_ARGS_MAX + 1], *req_envp[SBX_CTL_ENV_MAX + 1];

/* Split the strings after the header into cwd, argv and envp; 0 when they
 * are exactly what the header says, -1 otherwise. */
static int parse_exec(size_t n, const char **cwd)
{
	const struct sbx_ctl_req *h = &req_msg.h;
	char *p = req_msg.buf + sizeof(*h), *end = req_msg.buf + n;

	if (h->argc < 1 || h->argc > SBX_CTL_ARGS_MAX || h->envc > SBX_CTL_ENV_MAX)
		return -1;
	for (uint32_t k = 0; k < 1 + h->argc + h->envc; k++) {
		char *nul = p < end ? memchr(p, '\0', (size_t)(end - p)) : NULL;

		if (!nul)
			return -1;
		if (k == 0)
			*cwd = p;
		else if (k <= h->argc)
			req_argv[k - 1] = p;
		else
			req_envp[k - 1 - h->argc] = p;
		p = nul + 1;
	}
	req_argv[h->argc] = NULL;
	req_envp[h->envc] = NULL;
	return p == end ? 0 : -1;
}

static struct exec_slot *find_exec(uint32_t id)
{
	for (size_t i = 0; i < SBX_EXEC_MAX; i++)
		if (execs[i].pid > 0 && execs[i].id == id)
			return &execs[i];
	return NULL;
}

static void do_exec(int status_fd, const int stdio[3], size_t n)
{
	struct launch l = { req_argv, req_envp, NULL, { stdio[0], stdio[1], stdio[2] } };
	struct exec_slot *slot = NULL;
	pid_t pid;

	for (size_t i = 0; !slot && i < SBX_EXEC_MAX; i++)
		if (execs[i].pid == 0)
			slot = &execs[i];
	if (parse_exec(n, &l.cwd) < 0) {
		proc_send(status_fd, SBX_PROC_FAILED, 0, ST_REQUEST, EINVAL);
	} else if (!slot || find_exec(req_msg.h.id)) {
		proc_send(status_fd, SBX_PROC_FAILED, 0, ST_FORK, slot ? EEXIST : EAGAIN);
	} else if ((pid = launch(&l)) < 0) {
		proc_send(status_fd, SBX_PROC_FAILED, 0, launch_failed.step, launch_failed.err);
	} else {
		proc_send(status_fd, SBX_PROC_STARTED, pid, 0, 0);
		*slot = (struct exec_slot){ pid, req_msg.h.id, status_fd };
		return;
	}
	close(status_fd);
}

/* Read and serve one request.  0 when the channel is closed. */
static int serve_one(int ctl)
{
	union { struct cmsghdr h; char buf[CMSG_SPACE(4 * sizeof(int))]; } u;
	struct iovec iov = { req_msg.buf, sizeof(req_msg.buf) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf) };
	int fds[4] = { -1, -1, -1, -1 }, stdio[3] = { -1, -1, -1 }, nfds = 0, k = 1;
	struct cmsghdr *h;
	ssize_t n;

	n = recvmsg(ctl, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n == 0)
		return 0;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 1 : 0;
	for (h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (h->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
			if (nfds < 4)
				fds[nfds++] = fd;
			else
				close(fd);
		}
	}
	if ((size_t)n >= sizeof(req_msg.h) && !(m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		if (req_msg.h.op == SBX_CTL_SIGNAL && nfds == 0) {
			struct exec_slot *s = find_exec(req_msg.h.id);

			if (s && req_msg.h.sig > 0 && req_msg.h.sig < NSIG)
				kill(-s->pid, req_msg.h.sig);
			return 1;
		}
		for (int i = 0; i < 3; i++)
			if (req_msg.h.fds & (1u << i))
				stdio[i] = k < nfds ? fds[k++] : -2;
		if (req_msg.h.op == SBX_CTL_EXEC && nfds >= 1 && k == nfds &&
		    stdio[0] != -2 && stdio[1] != -2 && stdio[2] != -2) {
			do_exec(fds[0], stdio, (size_t)n);
			fds[0] = -1;    /* kept in execs[], or closed */
		}
	}
	/* A malformed request: nothing starts; whoever waits on its status
	 * socket sees it close. */
	for (int i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return 1;
}

/* With an exec channel: wait for exits and requests until the payload
 * exits (or, without one, until the gateway closes the channel). */
static void __attribute__((noreturn)) serve(struct child_args *a, int sfd)
{
	int ctl = a->report;

	for (;;) {
		struct pollfd pf[2] = { { sfd, POLLIN, 0 }, { ctl, POLLIN, 0 } };

		if (poll(pf, ctl >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(125);
		}
		if (pf[0].revents)
			reap(sfd);
		if (ctl >= 0 && pf[1].revents && !serve_one(ctl)) {
			if (!init_payload)
				_exit(0);       /* hold: the channel's end is the sandbox's */
			close(ctl);
			ctl = -1;
		}
	}
}

static void set_limits(struct child_args *a)
{
	const struct sbx_config *c = a->c;
	struct rlimit core = { 0, 0 }, files = { 4096, 4096 },
		      fsize = { 1ull << 30, 1ull << 30 };

	/* No core dumps (they carry memory, secrets included); a cap on open
	 * files and on the size of one file.  Memory and processes are the
	 * cgroup's job: RLIMIT_AS would break JITs such as V8. */
	CHECK(setrlimit(RLIMIT_CORE, &core), ST_RLIMIT);
	if (setrlimit(RLIMIT_NOFILE, &files) < 0) {
		getrlimit(RLIMIT_NOFILE, &files);      /* cannot raise: keep the hard limit */
		files.rlim_cur = files.rlim_max;
		CHECK(setrlimit(RLIMIT_NOFILE, &files), ST_RLIMIT);
	}
	CHECK(setrlimit(RLIMIT_FSIZE, &fsize), ST_RLIMIT);
	/* Per host uid: a named slot's uid is shared by all its sandboxes,
	 * whose pids cgroups bound each one instead. */
	if (c->pids_max && !c->named_slot && !a->rootless) {
		struct rlimit np = { c->pids_max, c->pids_max };

		CHECK(setrlimit(RLIMIT_NPROC, &np), ST_RLIMIT);
	}
}

/* What every process in the sandbox inherits from init, done once here
 * rather than in each launch: a launch then costs a vfork and a dozen
 * syscalls, and init itself, which holds the channel, runs confined.
 * Init keeps its effective capabilities (a launch needs CAP_SETUID and
 * CAP_SETGID to reach uid 1000, and init must signal anything inside);
 * nothing it starts can regain one. */
static void confine_init(struct child_args *a)
{
	int rc;

	/* The bounding set (it needs CAP_SETPCAP, which we still have), so
	 * that no exec can ever regain a capability.  Numbers past the
	 * kernel's last capability answer EINVAL, and so do all after them. */
	for (int cap = 0; cap <= 63; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
			continue;
		if (errno != EINVAL || cap == 0)
			die(a->report, ST_CAPS);
		break;
	}
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), ST_CAPS);
	/* uid 0 inside must never mean capabilities again (setuid binaries,
	 * file capabilities), leaving uid 0 must drop them (no KEEP_CAPS),
	 * and nothing may undo that. */
	CHECK(prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
		    SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
		    SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED, 0, 0, 0), ST_SECBITS);
	set_limits(a);
	/* seccomp last, and once: loading a filter into the kernel costs
	 * 0.3-0.8 ms here, inheriting it nothing.  What init and a launch
	 * still call after this (poll, recvmsg, vfork, wait4, kill, set*id,
	 * capset, close_range, execve...) is on the allowlist;
	 * tests/unit/test_sandbox_exec.c runs it all under the filter. */
	if (a->c->filter && (rc = sbx_filter_install(a->c->filter)) < 0) {
		errno = -rc;
		die(a->report, ST_SECCOMP);
	}
}

/* PID 1: start the payload, reap everything, leave with its status.  When
 * PID 1 exits the kernel kills the rest of the namespace. */
static void __attribute__((noreturn)) be_init(struct child_args *a)
{
	const struct sbx_config *c = a->c;
	struct launch first = { c->argv, c->envp, c->cwd, { 0, 1, 2 } };
	struct report ready = { ST_READY, 0, -1 };
	struct sigaction sa;
	sigset_t chld;
	int status = 0, sfd = -1;
	pid_t pid;

	/* Init's memory is a copy of the gateway's, and its fds include the
	 * channel: nothing it starts may read them through /proc. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* The gateway's handlers and ignored signals stay out: they would run
	 * gateway code here, and an ignored SIGPIPE would pass to payloads.
	 * The raw call, because glibc refuses to touch its own two real-time
	 * signals, which a parent may have left ignored too. */
	for (int sig = 1; sig < NSIG; sig++) {
		struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } k;

		memset(&k, 0, sizeof(k));       /* SIG_DFL */
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, &k, NULL, sizeof(k.mask));
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward_signal;
	sa.sa_flags = SA_RESTART;
	for (size_t i = 0; i < MG_ARRAY_LEN(forwarded); i++)
		sigaction(forwarded[i], &sa, NULL);
	if (c->exec_channel) {
		/* Exits arrive as readable data next to the channel's requests. */
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		sigprocmask(SIG_BLOCK, &chld, NULL);
		sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
		CHECK(sfd, ST_INIT);
	}
	confine_init(a);
	if (c->argv) {
		pid = launch(&first);
		if (pid < 0) {
			errno = launch_failed.err;
			die(a->report, launch_failed.step);
		}
		init_payload = pid;
	}
	if (c->exec_channel) {
		CHECK(write(a->report, &ready, sizeof(ready)), ST_READY);
		serve(a, sfd);
	}
	close(a->report);       /* EOF for the gateway: the payload runs */
	for (;;) {
		pid = waitpid(-1, &status, 0);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			_exit(125);
		if (pid == init_payload)
			exit_like(status);
	}
}

static int child_main(struct child_args *a)
{
	const struct sbx_config *c = a->c;
	struct pollfd pf = { a->alive, 0, 0 };
	int stdio[3] = { c->argv ? c->fd_in : -1, c->argv ? c->fd_out : -1,
			 c->argv ? c->fd_err : -1 };
	char go;

	if (read(a->sync, &go, 1) != 1)
		die(a->report, ST_GO);  /* the gateway died before letting us go */
	close(a->sync);
	CHECK(open_bind_sources(a), ST_BIND);
	child_rootless = a->rootless;
	/* Root's supplementary groups (maybe gid 0) survive a user namespace
	 * unless dropped: a payload could read root-group files.  Without
	 * root only the user's own ids are mapped: it stays uid 1000 inside,
	 * with every capability in its namespaces until the payload drops
	 * them (capset), and its groups cannot be changed ("deny"). */
	if (!a->rootless) {
		CHECK(syscall(SYS_setgroups, 0, NULL), ST_GROUPS);
		CHECK(syscall(SYS_setresgid, 0, 0, 0), ST_ROOTID);
		CHECK(syscall(SYS_setresuid, 0, 0, 0), ST_ROOTID);
	}
	/* Die with the gateway.  After the id changes, which clear it; the
	 * poll catches a gateway that died before the prctl. */
	CHECK(prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), ST_DEATHSIG);
	if (poll(&pf, 1, 0) > 0)
		_exit(127);
	/* The cgroup namespace now, after the gateway put us in our cgroups:
	 * the payload sees its own cgroup as the root. */
	CHECK(unshare(CLONE_NEWCGROUP), ST_CGNS);
	CHECK(sethostname("sandbox", 7), ST_HOST);
	build_root(a);
	CHECK(loopback_up(), ST_LO);
	if (c->egress_port)
		CHECK(send_egress_listener(a), ST_EGRESS_LISTEN);
	enter_root(a);
	/* Init's own 0, 1, 2 are the payload's (or /dev/null): whatever the
	 * channel brings later lands above them. */
	CHECK(place_stdio(stdio), ST_STDIO);
	/* Nothing of the gateway's stays open in here but the report socket. */
	if (a->report > 3)
		syscall(SYS_close_range, 3u, (unsigned)a->report - 1, 0u);
	syscall(SYS_close_range, (unsigned)a->report + 1, ~0u, 0u);
	be_init(a);
}

/* ---- parent ---- */

static int map_ids(pid_t pid, unsigned slot, bool rootless, struct mg_err *err)
{
	char path[64], map[64];
	int rc;

	/* Never host uid 0: inside, root owns nothing of the host's.
	 * Without root, only the gateway user's own ids can be mapped: they
	 * are uid and gid 1000 inside, and setgroups is refused for good. */
	if (rootless) {
		snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
		if ((rc = mg_write_text(path, "deny")))
			return mg_err_set(err, rc, "cannot deny setgroups: %s", strerror(-rc));
		snprintf(map, sizeof(map), "%u %u 1\n", SBX_UID, (unsigned)geteuid());
	} else {
		snprintf(map, sizeof(map), "0 %u %u\n", UID_BASE + slot * UID_RANGE, UID_RANGE);
	}
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	if ((rc = mg_write_text(path, map)))
		return mg_err_set(err, rc, "cannot write uid_map: %s", strerror(-rc));
	if (rootless)
		snprintf(map, sizeof(map), "%u %u 1\n", SBX_UID, (unsigned)getegid());
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	if ((rc = mg_write_text(path, map)))
		return mg_err_set(err, rc, "cannot write gid_map: %s", strerror(-rc));
	return 0;
}

/* One message from the child; an fd that comes with it is kept in *fd. */
static ssize_t read_report(int sock, struct report *rep, int *fd)
{
	union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
	struct iovec iov = { rep, sizeof(*rep) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *h;
	ssize_t n;

	do
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	for (h = n > 0 ? CMSG_FIRSTHDR(&m) : NULL; h; h = CMSG_NXTHDR(&m, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS ||
		    h->cmsg_len != CMSG_LEN(sizeof(int)))
			continue;
		if (*fd >= 0)
			close(*fd);
		memcpy(fd, CMSG_DATA(h), sizeof(int));
	}
	return n;
}

unsigned sbx_named_slot(const char *name)
{
	uint32_t h = 2166136261u;       /* FNV-1a: stable across runs */

	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return NAMED_SLOTS_FROM + h % (SLOTS - NAMED_SLOTS_FROM);
}

uid_t sbx_slot_uid(unsigned slot)
{
	return (uid_t)(UID_BASE + slot * UID_RANGE + SBX_UID);
}

static int alloc_slot(const struct sbx_config *c, unsigned *slot)
{
	if (c->named_slot) {
		if (c->slot < NAMED_SLOTS_FROM || c->slot >= SLOTS)
			return -EINVAL;
		*slot = c->slot;
		return 0;
	}
	for (unsigned i = 0; i < NAMED_SLOTS_FROM; i++) {
		unsigned s = (slot_next + i) % NAMED_SLOTS_FROM;

		if (!slot_used[s]) {
			slot_used[s] = 1;
			slot_next = s + 1;
			*slot = s;
			return 0;
		}
	}
	return -EAGAIN;
}

/* The host path of bind source i (ro binds, rw binds, the workspace),
 * for a message. */
static const char *source_path(const struct sbx_config *c, int i, char *buf, size_t size)
{
	size_t n_ro = count(c->ro_binds), n_rw = count(c->rw_binds), k = (size_t)i;

	if (i < 0)
		return NULL;
	if (k < n_ro)
		return sbx_spec_host(c->ro_binds[k], buf, size) ? buf : NULL;
	if (k < n_ro + n_rw)
		return sbx_spec_host(c->rw_binds[k - n_ro], buf, size) ? buf : NULL;
	return k == n_ro + n_rw ? c->workspace : NULL;
}

/* The bind sources in the gateway: the caller's checked fds
 * (c->bind_fds), else opened here; what the child must find again is
 * recorded in a.  src[] gets n fds (own[i]: opened here). */
static int open_sources(const struct sbx_config *c, struct child_args *a, int *src, bool *own,
			size_t n, struct mg_err *err)
{
	char host[4096];

	for (size_t i = 0; i < n; i++) {
		const char *path = source_path(c, (int)i, host, sizeof(host));
		struct stat st;

		own[i] = !c->bind_fds;
		src[i] = c->bind_fds ? c->bind_fds[i] : path ? open(path, O_PATH | O_CLOEXEC) : -1;
		if (src[i] < 0 || fstat(src[i], &st) < 0)
			return mg_err_set(err, -errno, "sandbox: cannot open %s: %s",
					  path ? path : "a bind source", strerror(errno));
		a->src_dev[i] = st.st_dev;
		a->src_ino[i] = st.st_ino;
	}
	return 0;
}

static pid_t clone_child(int *pidfd)
{
	struct clone_args ca;

	memset(&ca, 0, sizeof(ca));
	/* Every namespace but the cgroup one (entered later, once the
	 * gateway has placed the child in its cgroups). */
	ca.flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC |
		   CLONE_NEWUTS | CLONE_PIDFD;
	ca.pidfd = (uint64_t)(uintptr_t)pidfd;
	ca.exit_signal = SIGCHLD;
	return (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
}

int sbx_spawn(const struct sbx_config *c, struct sbx_child *out, struct mg_err *err)
{
	int sync[2] = { -1, -1 }, report[2] = { -1, -1 }, alive[2] = { -1, -1 };
	int src[MAX_BINDS + 1];
	bool own[MAX_BINDS + 1];
	size_t n_src = count(c->ro_binds) + count(c->rw_binds) + (c->workspace ? 1 : 0);
	struct child_args a;
	struct report rep;
	char host[4096];
	ssize_t n;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->pid = -1;
	out->pidfd = -1;
	out->alive_fd = -1;
	out->egress_fd = -1;
	out->ctl_fd = -1;
	if (!c->argv && !c->exec_channel)
		return mg_err_set(err, -EINVAL, "the sandbox needs a command or an exec channel");
	/* Without root: the user's own ids only, and no cgroup limits. */
	a.rootless = geteuid() != 0;
	if (a.rootless && (c->memory_bytes || c->pids_max || c->cpus) && !warned_rootless) {
		warned_rootless = true;
		mg_warn("not root: sandboxes run with your own ids and without cgroup limits "
			"(memory, pids, cpus are not enforced); run as root to enforce them");
	}
	if (!a.rootless && (rc = mg_mkdir_p(ROOT_DIR, 0755)))
		return mg_err_set(err, rc, "cannot create %s: %s", ROOT_DIR, strerror(-rc));
	if (count(c->ro_binds) + count(c->rw_binds) + 1 > MAX_BINDS)
		return mg_err_set(err, -E2BIG, "too many binds (at most %d)", MAX_BINDS - 1);
	for (size_t i = 0; i < MG_ARRAY_LEN(a.tree_fds); i++)
		a.tree_fds[i] = -1;
	for (size_t i = 0; i < n_src; i++)
		own[i] = false;
	if (alloc_slot(c, &out->slot))
		return mg_err_set(err, -EAGAIN, "too many sandboxes");
	/* Every source once, here: the idmapped trees are made from these
	 * fds and the child binds only these inodes. */
	if ((rc = open_sources(c, &a, src, own, n_src, err)))
		goto fail;
	/* As root, folders of the user's appear as the sandbox user's own. */
	if (!a.rootless && (rc = sbx_idmap_trees(c, src, sbx_slot_uid(out->slot),
						 (gid_t)sbx_slot_uid(out->slot), a.tree_fds,
						 MG_ARRAY_LEN(a.tree_fds), err)))
		goto fail;
	/* report: a datagram socket, so that the child can hand over an fd. */
	if (pipe2(sync, O_CLOEXEC) || pipe2(alive, O_CLOEXEC) ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report)) {
		rc = mg_err_set(err, -errno, "cannot create pipes: %s", strerror(errno));
		goto fail;
	}
	a.c = c;
	a.sync = sync[0];
	a.report = report[1];
	a.alive = alive[0];
	out->pid = clone_child(&out->pidfd);
	if (out->pid == 0) {
		close(sync[1]);
		close(report[0]);
		close(alive[1]);
		_exit(child_main(&a));
	}
	if (out->pid < 0) {
		rc = mg_err_set(err, -errno, "cannot create the namespaces: %s", strerror(errno));
		goto fail;
	}
	close(report[1]);
	report[1] = -1;
	if ((rc = map_ids(out->pid, out->slot, a.rootless, err)) ||
	    (!a.rootless && (rc = sbx_cg_attach(c, out->pid, out->cgroups, err))))
		goto kill;
	if (write(sync[1], "g", 1) != 1) {
		rc = mg_err_set(err, -errno, "cannot release the sandbox: %s", strerror(errno));
		goto kill;
	}
	/* Without a channel, EOF: the payload is exec'd.  With one, "ready"
	 * (the payload, if any, is exec'd) and the socket stays as the
	 * channel.  A report: which step failed and why (or the egress
	 * listener, passed along). */
	while ((n = read_report(report[0], &rep, &out->egress_fd)) == (ssize_t)sizeof(rep) &&
	       rep.step == ST_EGRESS_FD)
		;
	if (n == (ssize_t)sizeof(rep) && rep.step == ST_READY && c->exec_channel) {
		out->ctl_fd = report[0];
		report[0] = -1;
	} else if (n == (ssize_t)sizeof(rep) && rep.err == ESTALE &&
		   source_path(c, rep.bind, host, sizeof(host))) {
		rc = mg_err_set(err, -EACCES, "sandbox: %s is refused: it was swapped while the "
				"sandbox was built (not what was checked)",
				source_path(c, rep.bind, host, sizeof(host)));
		waitpid(out->pid, NULL, 0);
		goto release;
	} else if (n == (ssize_t)sizeof(rep) && source_path(c, rep.bind, host, sizeof(host))) {
		rc = mg_err_set(err, -rep.err, "sandbox: cannot bind %s: %s",
				source_path(c, rep.bind, host, sizeof(host)), strerror(rep.err));
		waitpid(out->pid, NULL, 0);
		goto release;
	} else if (n == (ssize_t)sizeof(rep)) {
		rc = mg_err_set(err, -rep.err, rep.step == ST_EXEC ? "cannot run '%s': %s"
				: "sandbox: cannot %s: %s",
				rep.step == ST_EXEC ? c->argv[0] : sbx_step_name(rep.step),
				strerror(rep.err));
		waitpid(out->pid, NULL, 0);
		goto release;
	} else if (c->exec_channel) {
		rc = mg_err_set(err, -EIO, "sandbox: init ended before it was ready");
		goto kill;
	}
	/* The gateway keeps the write end of "alive": the sandbox sees it
	 * close if the gateway dies even before PDEATHSIG was set. */
	close(alive[0]);
	alive[0] = -1;
	out->alive_fd = alive[1];
	alive[1] = -1;
	goto out;
kill:
	kill(out->pid, SIGKILL);
	waitpid(out->pid, NULL, 0);
release:
	sbx_release(out, NULL);
	goto out;
fail:
	if (out->slot < NAMED_SLOTS_FROM)
		slot_used[out->slot] = 0;
out:
	sbx_idmap_close(a.tree_fds, MG_ARRAY_LEN(a.tree_fds));  /* the child has its copies */
	for (size_t i = 0; i < n_src; i++)
		if (own[i] && src[i] >= 0)
			close(src[i]);
	for (int i = 0; i < 2; i++) {
		if (sync[i] >= 0)
			close(sync[i]);
		if (report[i] >= 0)
			close(report[i]);
		if (alive[i] >= 0)
			close(alive[i]);
	}
	return rc;
}

void sbx_release(struct sbx_child *ch, struct sbx_usage *u)
{
	sbx_cg_release(ch->cgroups, u);
	if (ch->alive_fd > 0)
		close(ch->alive_fd);
	ch->alive_fd = -1;
	if (ch->egress_fd >= 0)
		close(ch->egress_fd);
	ch->egress_fd = -1;
	if (ch->ctl_fd >= 0)
		close(ch->ctl_fd);
	ch->ctl_fd = -1;
	if (ch->pidfd >= 0)
		close(ch->pidfd);
	ch->pidfd = -1;
	if (ch->slot < NAMED_SLOTS_FROM)
		slot_used[ch->slot] = 0;
}
