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
 * status; when it exits, the kernel kills whatever else is left inside. */
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
	char *const *ro_binds;          /* "host[:inside]" read-only; NULL-terminated */
	char *const *rw_binds;          /* "host[:inside]" read-write */
	uint64_t memory_bytes;          /* 0: no limit (memory + swap together) */
	unsigned pids_max;              /* 0: no limit */
	double cpus;                    /* 0: no limit */
	int fd_in, fd_out, fd_err;      /* become the payload's 0, 1, 2 */
	unsigned egress_port;           /* !0: a listener on the sandbox's 127.0.0.1:port,
					 * handed back in sbx_child.egress_fd */
	const struct sbx_filter *filter;/* NULL: no seccomp (tests only) */
	bool named_slot;                /* use slot (from sbx_named_slot), shared */
	unsigned slot;
};

struct sbx_child {
	pid_t pid;                      /* init, in the host pid namespace */
	int pidfd;
	char *cgroups[3];               /* memory, pids, cpu dirs we made (or NULL) */
	int alive_fd;                   /* closing it tells the sandbox the gateway is gone */
	int egress_fd;                  /* the egress listener (owned), or -1 */
	unsigned slot;
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

/* After the child exited: read what the cgroups saw, then remove them. */
void sbx_release(struct sbx_child *c, struct sbx_usage *usage);
/* Remove cgroups left by an earlier gateway that died (SIGKILL). */
void sbx_sweep_leftovers(void);

#endif
