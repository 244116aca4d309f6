/* Starting and supervising server processes.  The child gets three pipes
 * (stdin, stdout, stderr), a clean environment, its own session and
 * process group, and dies with the gateway (PR_SET_PDEATHSIG).  Exit is
 * watched through a pidfd on the loop, so there is no global SIGCHLD
 * handler to steal libuv's children. */
#ifndef MG_RT_PROC_H
#define MG_RT_PROC_H

#include <stdbool.h>
#include <sys/types.h>
#include <uv.h>

#include "base/err.h"
#include "runtime/sandbox.h"

struct rt_spawn {
	char *const *argv;      /* argv[0] is looked up in PATH of envp */
	char *const *envp;      /* complete environment of the child */
	const char *cwd;        /* NULL = inherit (in a sandbox: /workspace) */
	/* Non-NULL: start the child in a sandbox made from this (its argv,
	 * envp, cwd and stdio fds are taken from here and the pipes). */
	const struct sbx_config *sandbox;
};

struct rt_child;
typedef void (*rt_exit_cb)(struct rt_child *c, int exit_status, int term_signal);
typedef void (*rt_closed_cb)(struct rt_child *c);

struct rt_child {
	pid_t pid;
	int pidfd;
	/* Parent ends of the child's stdio; the caller takes them over
	 * (and sets them to -1 here). */
	int fd_in, fd_out, fd_err;
	uv_poll_t poll;
	rt_exit_cb on_exit;
	rt_closed_cb on_closed;
	void *data;
	bool exited;
	bool closing;
	bool sandboxed;
	struct sbx_child *sbx;          /* the sandbox (owned) until it exited */
	struct sbx_usage usage;         /* what its cgroups saw, once exited */
};

/* Start a child.  0, or a negative errno with err explaining (including an
 * exec failure in the child, e.g. "npx: No such file or directory"). */
int rt_child_spawn(uv_loop_t *loop, struct rt_child *c, const struct rt_spawn *sp,
		   rt_exit_cb on_exit, struct mg_err *err);
/* Signal the child's whole process group (no-op after exit); in a
 * sandbox, its init, which passes the signal on (SIGKILL ends the whole
 * sandbox). */
void rt_child_signal(struct rt_child *c, int sig);
/* Release the watcher; on_closed runs from the loop.  Call after exit or
 * to abandon a child (it is killed first if still running). */
void rt_child_close(struct rt_child *c, rt_closed_cb on_closed);

#endif
