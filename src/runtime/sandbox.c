/* The sandbox, step by step.  Each step names what it stops.
 *
 * Parent (the gateway, root): clone3 into new namespaces, map the child's
 * ids to a host range of its own, put it in its cgroups, then let it go.
 * Child (PID 1 of the new PID namespace): build a private root, pivot into
 * it, fork the payload, reap, exit with the payload's status.
 * Payload: drop every privilege, lock it, install seccomp, exec.
 *
 * Between clone and exec only async-signal-safe calls are made: the child
 * shares nothing with the gateway but a copy of its memory, and another
 * thread may have held a lock (malloc's) when the copy was taken. */
#include "runtime/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
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
#define CG_PREFIX "mcpguard-sbx-"

static const char *const cg_controllers[3] = { "memory", "pids", "cpu" };
static unsigned char slot_used[SLOTS];
static unsigned slot_next;

extern char **environ;

/* ---- child: failure reports ---- */

struct report {
	int step;
	int err;
};

static const char *const step_names[] = {
	"wait for the gateway", "drop supplementary groups", "become root in the namespace",
	"watch the gateway", "set the hostname", "make mounts private", "build the root",
	"bind /usr", "write /etc", "bind the workspace", "mount /tmp", "build /dev",
	"mount /proc", "bind a path", "bring up loopback", "pivot into the root",
	"remount the root read-only", "enter a cgroup namespace", "start the payload",
	"drop capabilities", "lock securebits", "drop to the sandbox user", "set no_new_privs",
	"set rlimits", "install seccomp", "change directory", "exec the payload",
	"open the egress listener", "pass the egress listener",
};
enum {
	ST_GO, ST_GROUPS, ST_ROOTID, ST_DEATHSIG, ST_HOST, ST_PRIVATE, ST_ROOT, ST_USR, ST_ETC,
	ST_WORKSPACE, ST_TMP, ST_DEV, ST_PROC, ST_BIND, ST_LO, ST_PIVOT, ST_REMOUNT, ST_CGNS,
	ST_FORK, ST_CAPS, ST_SECBITS, ST_SETUID, ST_NNP, ST_RLIMIT, ST_SECCOMP, ST_CHDIR, ST_EXEC,
	ST_EGRESS_LISTEN, ST_EGRESS_FD,        /* the last: a message, not a failure */
};

static void __attribute__((noreturn)) die(int fd, int step)
{
	struct report r = { step, errno };

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
	 * (a 0700 folder on the way).  Bound through /proc/self/fd/N. */
	int bind_fds[MAX_BINDS + 1];
	int sync;                       /* read end: "go" from the parent */
	int report;                     /* write end, CLOEXEC: failures */
	int alive;                      /* read end: HUP when the gateway is gone */
};

static size_t count(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
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
			const char *spec = lists[l][i], *colon = strchr(spec, ':');
			size_t len = colon ? (size_t)(colon - spec) : strlen(spec);

			if (len >= sizeof(host)) {
				errno = ENAMETOOLONG;
				return -1;
			}
			memcpy(host, spec, len);
			host[len] = '\0';
			if ((a->bind_fds[n++] = open(host, O_PATH | O_CLOEXEC)) < 0)
				return -1;
		}
	}
	if (c->workspace && (a->bind_fds[n++] = open(c->workspace, O_PATH | O_CLOEXEC)) < 0)
		return -1;
	return 0;
}

static void path_in_root(char *out, size_t size, const char *inside)
{
	snprintf(out, size, "%s%s", ROOT_DIR, inside);
}

static int mkdir_in_root(const char *inside, mode_t mode)
{
	char p[4096];

	path_in_root(p, sizeof(p), inside);
	for (char *s = p + strlen(ROOT_DIR) + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return mkdir(p, mode) < 0 && errno != EEXIST ? -1 : 0;
}

static int touch_in_root(const char *inside)
{
	char p[4096], parent[4096];
	const char *slash = strrchr(inside, '/');
	int fd;

	if (slash && slash != inside) {
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - inside), inside);
		if (mkdir_in_root(parent, 0755))
			return -1;
	}
	path_in_root(p, sizeof(p), inside);
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int write_in_root(const char *inside, const char *text)
{
	char p[4096];
	int fd, rc;

	path_in_root(p, sizeof(p), inside);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	rc = write(fd, text, strlen(text)) < 0 ? -1 : 0;
	close(fd);
	return rc;
}

/* A read-only remount must keep the flags the kernel locked when the
 * mount came from a more privileged namespace, or it fails with EPERM. */
static unsigned long locked_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;

	if (statvfs(path, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

/* Bind host src at inside (creating the mount point), read-only unless rw.
 * nosuid and nodev always: a setuid binary or a device node on a bound
 * path must not regain power inside. */
static int bind_in_root(const char *src, const char *inside, bool rw)
{
	char dst[4096];
	struct stat st;

	if (stat(src, &st) < 0)
		return -1;
	if (S_ISDIR(st.st_mode) ? mkdir_in_root(inside, 0755) : touch_in_root(inside))
		return -1;
	path_in_root(dst, sizeof(dst), inside);
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -1;
	return mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV |
		     (rw ? 0 : MS_RDONLY) | locked_flags(dst), NULL);
}

/* "host[:inside]", host opened by the gateway as fd. */
static int bind_spec(const char *spec, int fd, bool rw)
{
	char host[4096], src[64];
	const char *colon = strchr(spec, ':');
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec);

	if (n >= sizeof(host))
		return -1;
	memcpy(host, spec, n);
	host[n] = '\0';
	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	return bind_in_root(src, colon ? colon + 1 : host, rw);
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
 * linker's cache, TLS roots, time zone. */
static int build_etc(void)
{
	static const char *const from_host[] = {
		"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/ssl",
		"/etc/ca-certificates", "/etc/localtime", "/etc/alternatives", "/etc/mime.types",
	};

	if (mkdir_in_root("/etc", 0755) || write_in_root("/etc/passwd", etc_passwd) ||
	    write_in_root("/etc/group", etc_group) || write_in_root("/etc/hosts", etc_hosts) ||
	    write_in_root("/etc/nsswitch.conf", etc_nsswitch) ||
	    write_in_root("/etc/resolv.conf", "") || write_in_root("/etc/hostname", "sandbox\n"))
		return -1;
	for (size_t i = 0; i < MG_ARRAY_LEN(from_host); i++)
		if (access(from_host[i], F_OK) == 0 && bind_in_root(from_host[i], from_host[i], false))
			return -1;
	return 0;
}

/* A minimal /dev: device nodes cannot be made in a user namespace, so the
 * harmless ones are bound from the host; never the host's whole /dev. */
static int build_dev(void)
{
	static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
	static const char *const links[][2] = {
		{ "/proc/self/fd", "/dev/fd" }, { "/proc/self/fd/0", "/dev/stdin" },
		{ "/proc/self/fd/1", "/dev/stdout" }, { "/proc/self/fd/2", "/dev/stderr" },
		{ "pts/ptmx", "/dev/ptmx" },
	};
	char p[4096], host[64];

	path_in_root(p, sizeof(p), "/dev");
	if (mkdir_in_root("/dev", 0755) ||
	    mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0)
		return -1;
	for (size_t i = 0; i < MG_ARRAY_LEN(nodes); i++) {
		char inside[64];

		snprintf(host, sizeof(host), "/dev/%s", nodes[i]);
		snprintf(inside, sizeof(inside), "/dev/%s", nodes[i]);
		if (touch_in_root(inside))
			return -1;
		path_in_root(p, sizeof(p), inside);
		if (mount(host, p, NULL, MS_BIND, NULL) < 0)
			return -1;
	}
	for (size_t i = 0; i < MG_ARRAY_LEN(links); i++) {
		path_in_root(p, sizeof(p), links[i][1]);
		if (symlink(links[i][0], p) < 0)
			return -1;
	}
	if (mkdir_in_root("/dev/shm", 01777) || mkdir_in_root("/dev/pts", 0755))
		return -1;
	path_in_root(p, sizeof(p), "/dev/shm");
	if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=16m") < 0)
		return -1;
	/* A pty of its own; not fatal where devpts cannot be mounted. */
	path_in_root(p, sizeof(p), "/dev/pts");
	mount("devpts", p, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620");
	return 0;
}

/* /proc of the new PID namespace, with Docker's masked and read-only
 * paths: no kernel memory, keyring or scheduler internals, and no writes
 * to kernel settings (/proc/sys) even for root inside. */
static int build_proc(void)
{
	static const char *const ro[] = { "/proc/sys", "/proc/sysrq-trigger", "/proc/irq",
					  "/proc/bus", "/proc/fs" };
	static const char *const masked[] = { "/proc/kcore", "/proc/keys", "/proc/timer_list",
					      "/proc/sched_debug", "/proc/latency_stats",
					      "/proc/acpi", "/proc/scsi" };
	char p[4096], dn[4096];

	path_in_root(p, sizeof(p), "/proc");
	if (mkdir_in_root("/proc", 0555) ||
	    mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return -1;
	for (size_t i = 0; i < MG_ARRAY_LEN(ro); i++) {
		path_in_root(p, sizeof(p), ro[i]);
		if (access(p, F_OK) < 0)
			continue;
		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
			  MS_NOEXEC, NULL) < 0)
			return -1;
	}
	path_in_root(dn, sizeof(dn), "/dev/null");
	for (size_t i = 0; i < MG_ARRAY_LEN(masked); i++) {
		struct stat st;

		path_in_root(p, sizeof(p), masked[i]);
		if (stat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) ? mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0") < 0
					: mount(dn, p, NULL, MS_BIND, NULL) < 0)
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
	struct report r = { ST_EGRESS_FD, 0 };
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
		{ "usr/bin", "/bin" }, { "usr/sbin", "/sbin" }, { "usr/lib", "/lib" },
		{ "usr/lib64", "/lib64" },
	};
	char p[4096];

	/* The host's mounts must not see ours, nor ours theirs, and
	 * pivot_root refuses a shared root. */
	CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), ST_PRIVATE);
	CHECK(mount("tmpfs", ROOT_DIR, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m"),
	      ST_ROOT);
	for (size_t i = 0; i < MG_ARRAY_LEN(links); i++) {
		path_in_root(p, sizeof(p), links[i][1]);
		CHECK(symlink(links[i][0], p), ST_ROOT);
	}
	CHECK(bind_in_root("/usr", "/usr", false), ST_USR);
	CHECK(build_etc(), ST_ETC);
	if (c->workspace) {
		char src[64];

		snprintf(src, sizeof(src), "/proc/self/fd/%d", a->bind_fds[n_ro + n_rw]);
		CHECK(bind_in_root(src, "/workspace", true), ST_WORKSPACE);
	} else {
		CHECK(mkdir_in_root("/workspace", 0777), ST_WORKSPACE);
		path_in_root(p, sizeof(p), "/workspace");
		CHECK(mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0777,size=256m"),
		      ST_WORKSPACE);
	}
	CHECK(mkdir_in_root("/tmp", 01777), ST_TMP);
	path_in_root(p, sizeof(p), "/tmp");
	CHECK(mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m"), ST_TMP);
	CHECK(build_dev(), ST_DEV);
	CHECK(build_proc(), ST_PROC);
	for (size_t i = 0; i < n_ro; i++)
		CHECK(bind_spec(c->ro_binds[i], a->bind_fds[i], false), ST_BIND);
	for (size_t i = 0; i < n_rw; i++)
		CHECK(bind_spec(c->rw_binds[i], a->bind_fds[n_ro + i], true), ST_BIND);
	CHECK(mkdir_in_root("/root", 0700), ST_ROOT);
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

/* ---- child: the payload ---- */

static void drop_privileges(struct child_args *a)
{
	gid_t g = SBX_UID;
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	/* The bounding set first (it needs CAP_SETPCAP, which we still
	 * have), so that no exec can ever regain a capability. */
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			die(a->report, ST_CAPS);
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), ST_CAPS);
	/* uid 0 inside must never mean capabilities again (setuid binaries,
	 * file capabilities), and nothing may undo that. */
	CHECK(prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
		    SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
		    SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED, 0, 0, 0), ST_SECBITS);
	CHECK(setgroups(1, &g), ST_SETUID);
	CHECK(setresgid(SBX_UID, SBX_UID, SBX_UID), ST_SETUID);
	CHECK(setresuid(SBX_UID, SBX_UID, SBX_UID), ST_SETUID);
	memset(data, 0, sizeof(data));
	CHECK(syscall(SYS_capset, &hdr, data), ST_CAPS);       /* belt and braces */
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), ST_NNP);
}

static void set_limits(struct child_args *a)
{
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
	if (a->c->pids_max && !a->c->named_slot) {
		struct rlimit np = { a->c->pids_max, a->c->pids_max };

		CHECK(setrlimit(RLIMIT_NPROC, &np), ST_RLIMIT);
	}
}

static void __attribute__((noreturn)) run_payload(struct child_args *a)
{
	const struct sbx_config *c = a->c;

	/* A session of its own: a TIOCSTI into our terminal needs a
	 * controlling tty it no longer has (seccomp refuses it too). */
	setsid();
	drop_privileges(a);
	set_limits(a);
	CHECK(chdir(c->cwd ? c->cwd : "/workspace"), ST_CHDIR);
	/* seccomp last: everything above needed syscalls it refuses. */
	if (c->filter)
		CHECK(sbx_filter_install(c->filter), ST_SECCOMP);
	environ = (char **)(uintptr_t)c->envp;
	execvp(c->argv[0], c->argv);
	die(a->report, ST_EXEC);
}

static volatile pid_t init_payload;

/* The gateway's SIGTERM (a graceful stop) reaches init, which the kernel
 * shields from signals it has no handler for: pass it on to the payload's
 * whole process group. */
static void forward_signal(int sig)
{
	if (init_payload > 0)
		kill(-init_payload, sig);
}

/* PID 1: start the payload, reap everything, leave with its status.  When
 * PID 1 exits the kernel kills the rest of the namespace. */
static void __attribute__((noreturn)) be_init(struct child_args *a)
{
	static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
	struct sigaction sa;
	pid_t payload, pid;
	int status = 0;

	payload = fork();
	if (payload < 0)
		die(a->report, ST_FORK);
	if (payload == 0)
		run_payload(a);
	init_payload = payload;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward_signal;
	sa.sa_flags = SA_RESTART;
	for (size_t i = 0; i < MG_ARRAY_LEN(forwarded); i++)
		sigaction(forwarded[i], &sa, NULL);
	close(a->report);       /* EOF for the gateway once the payload execs */
	/* Init shares its uid with nothing else, but its memory and fds must
	 * not be readable through /proc by anything it starts. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	for (;;) {
		pid = waitpid(-1, &status, 0);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			_exit(125);
		if (pid == payload)
			break;
	}
	if (WIFSIGNALED(status))
		_exit(128 + WTERMSIG(status));
	_exit(WEXITSTATUS(status));
}

static int child_main(struct child_args *a)
{
	const struct sbx_config *c = a->c;
	struct pollfd pf = { a->alive, 0, 0 };
	char go;

	if (read(a->sync, &go, 1) != 1)
		die(a->report, ST_GO);  /* the gateway died before letting us go */
	close(a->sync);
	CHECK(open_bind_sources(a), ST_BIND);
	/* Root's supplementary groups (maybe gid 0) survive a user namespace
	 * unless dropped: a payload could read root-group files. */
	CHECK(setgroups(0, NULL), ST_GROUPS);
	CHECK(setresgid(0, 0, 0), ST_ROOTID);
	CHECK(setresuid(0, 0, 0), ST_ROOTID);
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
	dup2(c->fd_in, 0);
	dup2(c->fd_out, 1);
	dup2(c->fd_err, 2);
	/* Nothing of the gateway's stays open in here but the report pipe. */
	if (a->report > 3)
		syscall(SYS_close_range, 3u, (unsigned)a->report - 1, 0u);
	syscall(SYS_close_range, (unsigned)a->report + 1, ~0u, 0u);
	be_init(a);
}

/* ---- parent ---- */

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int map_ids(pid_t pid, unsigned slot, struct mg_err *err)
{
	char path[64], map[64];
	int rc;

	/* Never host uid 0: inside, root owns nothing of the host's. */
	snprintf(map, sizeof(map), "0 %u %u\n", UID_BASE + slot * UID_RANGE, UID_RANGE);
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	if ((rc = write_text(path, map)))
		return mg_err_set(err, rc, "cannot write uid_map: %s", strerror(-rc));
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	if ((rc = write_text(path, map)))
		return mg_err_set(err, rc, "cannot write gid_map: %s", strerror(-rc));
	return 0;
}

/* The gateway's own cgroup in a v1 hierarchy (from /proc/self/cgroup). */
static int own_cgroup(const char *controller, char *out, size_t size)
{
	char *text = NULL, *line, *save = NULL, *save2 = NULL;
	size_t len;
	int rc = -ENOENT;

	if (mg_read_file("/proc/self/cgroup", 65536, &text, &len))
		return -ENOENT;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		char list[256];

		if (!c2 || (size_t)(c2 - c1 - 1) >= sizeof(list))
			continue;
		memcpy(list, c1 + 1, (size_t)(c2 - c1 - 1));
		list[c2 - c1 - 1] = '\0';
		for (char *s = strtok_r(list, ",", &save2); s; s = strtok_r(NULL, ",", &save2)) {
			if (strcmp(s, controller) == 0) {
				snprintf(out, size, "/sys/fs/cgroup/%s%s", controller,
					 strcmp(c2 + 1, "/") == 0 ? "" : c2 + 1);
				rc = 0;
			}
		}
	}
	free(text);
	return rc;
}

static int cg_write(const char *dir, const char *file, const char *value)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return -ENAMETOOLONG;
	return write_text(path, value);
}

/* cgroup v1 (this host has no v2 memory controller): a group per
 * controller under the gateway's own, limits set, the child attached
 * before it may run anything. */
static int attach_cgroups(const struct sbx_config *c, struct sbx_child *ch, struct mg_err *err)
{
	char base[3072], dir[4096], val[64], pid[32];
	int rc;

	snprintf(pid, sizeof(pid), "%d", (int)ch->pid);
	for (size_t i = 0; i < MG_ARRAY_LEN(cg_controllers); i++) {
		const char *ctl = cg_controllers[i];

		if ((strcmp(ctl, "memory") == 0 && !c->memory_bytes) ||
		    (strcmp(ctl, "pids") == 0 && !c->pids_max) || (strcmp(ctl, "cpu") == 0 && !c->cpus))
			continue;
		if (own_cgroup(ctl, base, sizeof(base)))
			return mg_err_set(err, -ENOENT, "no %s cgroup controller is mounted", ctl);
		snprintf(dir, sizeof(dir), "%s/" CG_PREFIX "%d", base, (int)ch->pid);
		if (mkdir(dir, 0755) < 0)
			return mg_err_set(err, -errno, "cannot create cgroup %s: %s", dir,
					  strerror(errno));
		ch->cgroups[i] = mg_strdup(dir);
		if (strcmp(ctl, "memory") == 0) {
			snprintf(val, sizeof(val), "%llu", (unsigned long long)c->memory_bytes);
			rc = cg_write(dir, "memory.limit_in_bytes", val);
			/* Swap counts too, or the limit leaks into swap (where
			 * the kernel has swap accounting at all). */
			if (!rc)
				cg_write(dir, "memory.memsw.limit_in_bytes", val);
		} else if (strcmp(ctl, "pids") == 0) {
			snprintf(val, sizeof(val), "%u", c->pids_max);
			rc = cg_write(dir, "pids.max", val);
		} else {
			snprintf(val, sizeof(val), "%lld", (long long)(c->cpus * 100000.0));
			rc = cg_write(dir, "cpu.cfs_period_us", "100000");
			if (!rc)
				rc = cg_write(dir, "cpu.cfs_quota_us", val);
		}
		if (!rc)
			rc = cg_write(dir, "cgroup.procs", pid);
		if (rc)
			return mg_err_set(err, rc, "cannot set up cgroup %s: %s", dir, strerror(-rc));
	}
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
	struct child_args a;
	struct report rep;
	ssize_t n;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->pid = -1;
	out->pidfd = -1;
	out->alive_fd = -1;
	out->egress_fd = -1;
	if (geteuid() != 0)
		return mg_err_set(err, -EPERM, "the sandbox needs root (to map ids and set cgroups)");
	if ((rc = mg_mkdir_p(ROOT_DIR, 0755)))
		return mg_err_set(err, rc, "cannot create %s: %s", ROOT_DIR, strerror(-rc));
	if (count(c->ro_binds) + count(c->rw_binds) + 1 > MAX_BINDS)
		return mg_err_set(err, -E2BIG, "too many binds (at most %d)", MAX_BINDS - 1);
	if (alloc_slot(c, &out->slot))
		return mg_err_set(err, -EAGAIN, "too many sandboxes");
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
	if ((rc = map_ids(out->pid, out->slot, err)) || (rc = attach_cgroups(c, out, err)))
		goto kill;
	if (write(sync[1], "g", 1) != 1) {
		rc = mg_err_set(err, -errno, "cannot release the sandbox: %s", strerror(errno));
		goto kill;
	}
	/* EOF: the payload is exec'd.  A report: which step failed and why
	 * (or the egress listener, passed along). */
	while ((n = read_report(report[0], &rep, &out->egress_fd)) == (ssize_t)sizeof(rep) &&
	       rep.step == ST_EGRESS_FD)
		;
	if (n == (ssize_t)sizeof(rep)) {
		const char *step = rep.step >= 0 && (size_t)rep.step < MG_ARRAY_LEN(step_names)
			? step_names[rep.step] : "set up";

		rc = mg_err_set(err, -rep.err, rep.step == ST_EXEC ? "cannot run '%s': %s"
				: "sandbox: cannot %s: %s", rep.step == ST_EXEC ? c->argv[0] : step,
				strerror(rep.err));
		waitpid(out->pid, NULL, 0);
		goto release;
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

static uint64_t read_u64(const char *dir, const char *file)
{
	char path[4096], *text = NULL;
	size_t len;
	uint64_t v = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (mg_read_file(path, 4096, &text, &len) == 0) {
		text[strcspn(text, "\n")] = '\0';
		mg_parse_u64(text, &v);
	}
	free(text);
	return v;
}

static bool file_has(const char *dir, const char *file, const char *word)
{
	char path[4096], *text = NULL, *p;
	size_t len;
	bool hit = false;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (mg_read_file(path, 65536, &text, &len) == 0 && (p = strstr(text, word))) {
		uint64_t n = 0;
		char num[24];
		size_t k = 0;

		p += strlen(word);
		while (*p == ' ')
			p++;
		while (k < sizeof(num) - 1 && p[k] >= '0' && p[k] <= '9') {
			num[k] = p[k];
			k++;
		}
		num[k] = '\0';
		hit = mg_parse_u64(num, &n) == 0 && n > 0;
	}
	free(text);
	return hit;
}

void sbx_release(struct sbx_child *ch, struct sbx_usage *u)
{
	if (u)
		memset(u, 0, sizeof(*u));
	for (size_t i = 0; i < MG_ARRAY_LEN(ch->cgroups); i++) {
		char *dir = ch->cgroups[i];

		if (!dir)
			continue;
		if (u && i == 0) {
			u->memory_peak = read_u64(dir, "memory.memsw.max_usage_in_bytes");
			if (!u->memory_peak)
				u->memory_peak = read_u64(dir, "memory.max_usage_in_bytes");
			u->oom_killed = file_has(dir, "memory.oom_control", "\noom_kill ");
		}
		if (u && i == 1)
			u->pids_hit = file_has(dir, "pids.events", "max ");
		if (rmdir(dir) < 0 && errno != ENOENT)
			mg_warn("cannot remove cgroup %s: %s", dir, strerror(errno));
		free(dir);
		ch->cgroups[i] = NULL;
	}
	if (ch->alive_fd > 0)
		close(ch->alive_fd);
	ch->alive_fd = -1;
	if (ch->egress_fd >= 0)
		close(ch->egress_fd);
	ch->egress_fd = -1;
	if (ch->pidfd >= 0)
		close(ch->pidfd);
	ch->pidfd = -1;
	if (ch->slot < NAMED_SLOTS_FROM)
		slot_used[ch->slot] = 0;
}

void sbx_sweep_leftovers(void)
{
	for (size_t i = 0; i < MG_ARRAY_LEN(cg_controllers); i++) {
		char base[3072], dir[4096];
		struct dirent *e;
		DIR *d;

		if (own_cgroup(cg_controllers[i], base, sizeof(base)) || !(d = opendir(base)))
			continue;
		while ((e = readdir(d)))
			if (mg_starts_with(e->d_name, CG_PREFIX)) {
				snprintf(dir, sizeof(dir), "%s/%s", base, e->d_name);
				if (rmdir(dir) == 0)
					mg_info("removed cgroup %s left by an earlier run", dir);
			}
		closedir(d);
	}
}
