#include "runtime/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* In the child, between fork and exec: async-signal-safe calls only.  On
 * failure, report errno through the CLOEXEC pipe and exit. */
static void __attribute__((noreturn))
child_exec(const struct rt_spawn *sp, int in, int out, int errfd, int report)
{
	sigset_t all;
	int e;

	/* Die with the gateway: a server must never outlive its supervisor. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		goto fail;
	/* The parent may have exited between fork and prctl. */
	if (getppid() == 1)
		_exit(127);
	/* Own session and process group: terminal signals meant for the
	 * gateway do not hit servers directly, and the gateway can stop a
	 * server together with everything it started (npx -> node). */
	setsid();
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
		goto fail;
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if (sp->cwd && chdir(sp->cwd) < 0)
		goto fail;
	/* Every fd above 2 except the report pipe (CLOEXEC) goes, however
	 * high: a server must not inherit another server's pipes. */
	if (report > 3)
		syscall(SYS_close_range, 3u, (unsigned)report - 1, 0u);
	syscall(SYS_close_range, (unsigned)report + 1, ~0u, 0u);
	execvpe(sp->argv[0], sp->argv, sp->envp);
fail:
	e = errno;
	if (write(report, &e, sizeof(e)) < 0) {
		/* nothing more to do */
	}
	_exit(127);
}

static int spawn_sandboxed(struct rt_child *c, const struct rt_spawn *sp, int in, int out,
			   int errfd, struct mg_err *err)
{
	struct sbx_config cfg = *sp->sandbox;
	int rc;

	cfg.argv = sp->argv;
	cfg.envp = sp->envp;
	cfg.cwd = sp->cwd;
	cfg.fd_in = in;
	cfg.fd_out = out;
	cfg.fd_err = errfd;
	c->sbx = MG_NEW(struct sbx_child);
	rc = sbx_spawn(&cfg, c->sbx, err);
	if (rc) {
		free(mg_steal(&c->sbx));
		return rc;
	}
	c->sandboxed = true;
	c->pid = c->sbx->pid;
	c->pidfd = c->sbx->pidfd;       /* ours to watch and close */
	c->sbx->pidfd = -1;
	return 0;
}

static void release_sandbox(struct rt_child *c)
{
	if (!c->sbx)
		return;
	sbx_release(c->sbx, &c->usage);
	free(mg_steal(&c->sbx));
}

static void on_pidfd(uv_poll_t *p, int status, int events)
{
	struct rt_child *c = p->data;
	siginfo_t si;
	int code = 0, sig = 0;

	memset(&si, 0, sizeof(si));
	if (waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOHANG) < 0 ||
	    si.si_pid == 0)
		return;
	if (si.si_code == CLD_EXITED)
		code = si.si_status;
	else
		sig = si.si_status;
	c->exited = true;
	uv_poll_stop(&c->poll);
	release_sandbox(c);     /* the usage is known from here on */
	if (c->on_exit)
		c->on_exit(c, code, sig);
}

int rt_child_spawn(uv_loop_t *loop, struct rt_child *c, const struct rt_spawn *sp,
		   rt_exit_cb on_exit, struct mg_err *err)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, er[2] = { -1, -1 }, rep[2] = { -1, -1 };
	int child_errno = 0, rc = 0;
	ssize_t n;
	pid_t pid;

	memset(c, 0, sizeof(*c));
	c->pid = -1;
	c->pidfd = c->fd_in = c->fd_out = c->fd_err = -1;
	c->on_exit = on_exit;
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(er, O_CLOEXEC) ||
	    pipe2(rep, O_CLOEXEC)) {
		rc = mg_err_set(err, -errno, "cannot create pipes: %s", strerror(errno));
		goto out;
	}
	if (sp->sandbox) {
		rc = spawn_sandboxed(c, sp, in[0], out[1], er[1], err);
		if (rc)
			goto out;
		goto watch;
	}
	pid = fork();
	if (pid < 0) {
		rc = mg_err_set(err, -errno, "fork failed: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		child_exec(sp, in[0], out[1], er[1], rep[1]);
	close_fd(&rep[1]);
	do
		n = read(rep[0], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(child_errno)) {
		waitpid(pid, NULL, 0);
		rc = mg_err_set(err, -child_errno, "cannot run '%s': %s", sp->argv[0],
				strerror(child_errno));
		goto out;
	}
	c->pid = pid;
	c->pidfd = sys_pidfd_open(pid);
	if (c->pidfd < 0) {
		rc = mg_err_set(err, -errno, "pidfd_open failed: %s", strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto out;
	}
watch:
	uv_poll_init(loop, &c->poll, c->pidfd);
	c->poll.data = c;
	uv_poll_start(&c->poll, UV_READABLE, on_pidfd);
	c->fd_in = in[1];
	c->fd_out = out[0];
	c->fd_err = er[0];
	in[1] = out[0] = er[0] = -1;
out:
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&er[0]);
	close_fd(&er[1]);
	close_fd(&rep[0]);
	close_fd(&rep[1]);
	return rc;
}

void rt_child_signal(struct rt_child *c, int sig)
{
	if (c->pid <= 0)
		return;
	if (c->sandboxed) {
		/* PID 1 of the sandbox: it passes signals on; once it is
		 * gone, the kernel has ended everything inside. */
		if (!c->exited)
			syscall(SYS_pidfd_send_signal, c->pidfd, sig, NULL, 0);
		return;
	}
	/* Members of the group may outlive the leader (npx's node child);
	 * the group id stays reserved while any member lives. */
	if (kill(-c->pid, sig) < 0 && !c->exited)
		kill(c->pid, sig);
}

static void poll_closed(uv_handle_t *h)
{
	struct rt_child *c = h->data;

	if (!c->exited && c->pid > 0)
		waitpid(c->pid, NULL, 0);
	release_sandbox(c);
	close_fd(&c->pidfd);
	if (c->on_closed)
		c->on_closed(c);
}

void rt_child_close(struct rt_child *c, rt_closed_cb on_closed)
{
	if (c->closing)
		return;
	c->closing = true;
	c->on_closed = on_closed;
	close_fd(&c->fd_in);
	close_fd(&c->fd_out);
	close_fd(&c->fd_err);
	if (c->pidfd < 0) {
		if (on_closed)
			on_closed(c);
		return;
	}
	if (!c->exited)
		rt_child_signal(c, SIGKILL);
	uv_close((uv_handle_t *)&c->poll, poll_closed);
}
