/* The sandbox: one process tree in its own user, mount, PID, network, IPC,
 * UTS and cgroup namespaces, mapped to an unprivileged host uid range of
 * its own, on a private root (tmpfs + read-only /usr and a curated /etc,
 * a writable /workspace, a tmpfs /tmp, a minimal /dev, a masked /proc),
 * with every capability dropped, no_new_privs, a seccomp allowlist and
 * cgroup limits.  The recipe and the attack each step stops:
 * ../shared/reference/linux-sandboxing.md §4, and the comments in
 * sandbox.c.
 *
 * The child that is created is the sandbox's PID 1 (a tiny init): it sets
 * everything up, starts the payload, reaps, and exits with the payload's
 * status; when it exits, the kernel kills whatever else is left inside.
 *
 * With an exec channel (sbx_config.exec_channel), init also keeps a socket
 * to the gateway and starts further processes in the running sandbox on
 * request (sbx_exec), each hardened exactly like the payload.  Lifetime:
 *   - with a payload (argv set): the sandbox lives while the payload lives;
 *     when it exits, everything started by sbx_exec dies with it;
 *   - without one (argv NULL, "hold"): the sandbox lives until the gateway
 *     closes the channel (sbx_shutdown, sbx_release, or its own death). */
#ifndef MG_RT_SANDBOX_H
#define MG_RT_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

struct sbx_filter;

struct sbx_config {
	char *const *argv;              /* the payload; argv[0] resolved in PATH inside */
	char *const *envp;              /* its whole environment */
	const char *cwd;                /* inside the sandbox (default /workspace) */
	const char *workspace;          /* host dir bound at /workspace (rw); NULL: tmpfs */
	char *const *ro_binds;          /* "host[:inside]" read-only; NULL-terminated;
					 * each path under 990 bytes */
	char *const *rw_binds;          /* "host[:inside]" read-write */
	/* NULL, or the bind sources opened and checked by the caller
	 * (rt_bind_open, without following symlinks): one fd for each
	 * ro_binds entry, then each rw_binds entry, then the workspace (when
	 * set).  The sandbox binds exactly these inodes, reached again
	 * without symlinks; the caller closes them after sbx_spawn.  Without
	 * them sbx_spawn opens the paths (following symlinks) once and binds
	 * what it opened. */
	const int *bind_fds;
	uint64_t memory_bytes;          /* 0: no limit (memory + swap together) */
	unsigned pids_max;              /* 0: no limit */
	double cpus;                    /* 0: no limit */
	int fd_in, fd_out, fd_err;      /* become the payload's 0, 1, 2 (-1: /dev/null;
					 * unused without a payload) */
	unsigned egress_port;           /* !0: a listener on the sandbox's 127.0.0.1:port,
					 * handed back in sbx_child.egress_fd */
	const struct sbx_filter *filter;/* NULL: no seccomp (tests only) */
	bool named_slot;                /* use slot (from sbx_named_slot), shared */
	unsigned slot;
	bool exec_channel;              /* keep a channel for sbx_exec; with argv
					 * NULL the sandbox waits for execs ("hold") */
};

struct sbx_child {
	pid_t pid;                      /* init, in the host pid namespace */
	int pidfd;
	char *cgroups[3];               /* memory, pids, cpu dirs we made (or NULL) */
	int alive_fd;                   /* closing it tells the sandbox the gateway is gone */
	int egress_fd;                  /* the egress listener (owned), or -1 */
	unsigned slot;
	int ctl_fd;                     /* the exec channel (owned), or -1 */
	uint32_t exec_seq;              /* the last id given to an sbx_exec */
};

/* Create the sandbox and start the payload.  Root only.  0, or -errno with
 * err saying which step failed (the child reports its own failures). */
int sbx_spawn(const struct sbx_config *c, struct sbx_child *out, struct mg_err *err);

struct sbx_usage {
	uint64_t memory_peak;           /* bytes, memory + swap */
	bool oom_killed;                /* the memory limit was hit */
	bool pids_hit;                  /* a fork was refused at pids_max */
	uint64_t cpu_ns;
};

/* The id slot of every sandbox of one name (a server), and the host uid
 * its payloads run as (to own its persistent workspace). */
unsigned sbx_named_slot(const char *name);
uid_t sbx_slot_uid(unsigned slot);

/* ---- more processes in a running sandbox (exec_channel) ----
 *
 * Each one is started by the sandbox's init, in the payload's namespaces,
 * root and cgroups, after the same steps as the payload: own session,
 * stdio, every other fd closed, capabilities and bounding set dropped,
 * securebits locked, uid/gid 1000, no_new_privs, rlimits, cwd, seccomp,
 * its own environment.  Calls on one sandbox must not overlap (one thread). */

struct sbx_exec {
	char *const *argv;              /* argv[0] resolved in envp's PATH inside */
	char *const *envp;              /* its whole environment */
	const char *cwd;                /* inside (default /workspace) */
	int fd_in, fd_out, fd_err;      /* become its 0, 1, 2 (-1: /dev/null); the
					 * caller keeps its own copies */
};

struct sbx_proc {
	pid_t pid;                      /* in the sandbox's PID namespace */
	uint32_t id;                    /* this sandbox's name for it */
	int status_fd;                  /* readable once it has exited (owned) */
};

/* Start a process in the running sandbox and wait until it has exec'd.
 * 0 with *out filled, or -errno with err saying which step failed ("cannot
 * run 'x': No such file or directory").  argv, envp and cwd together are
 * capped at 64 KiB, 1024 arguments, 1024 variables; 64 processes at once. */
int sbx_exec(struct sbx_child *sb, const struct sbx_exec *req, struct sbx_proc *out,
	     struct mg_err *err);
/* Wait for its exit (poll status_fd first to avoid blocking).  0 with
 * *status in waitpid(2) form; if the sandbox ended first, the process died
 * with it and *status says killed by SIGKILL.  -errno on a broken channel. */
int sbx_proc_wait(struct sbx_proc *p, int *status, struct mg_err *err);
/* Send sig to its process group (it is a session leader).  Nothing
 * happens if it has already exited. */
int sbx_proc_signal(struct sbx_child *sb, const struct sbx_proc *p, int sig,
		    struct mg_err *err);
/* Close status_fd; the process runs on. */
void sbx_proc_release(struct sbx_proc *p);
/* Close the exec channel: a "hold" sandbox ends (its init exits and the
 * kernel kills everything inside); one with a payload keeps running it. */
void sbx_shutdown(struct sbx_child *sb);

/* After the child exited: read what the cgroups saw, then remove them. */
void sbx_release(struct sbx_child *c, struct sbx_usage *usage);
/* Remove cgroups left by an earlier gateway that died (SIGKILL): those
 * whose sandbox's init is gone, not those of gateways still running. */
void sbx_sweep_leftovers(void);

#endif
