/* More processes in a running sandbox: the gateway's side of the exec
 * channel (the init side, and why the design, are in sandbox.c; the wire
 * format in sandbox_ctl.h). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/mem.h"
#include "runtime/sandbox.h"
#include "runtime/sandbox_ctl.h"

static size_t count_strings(char *const *v, size_t *bytes)
{
	size_t n = 0;

	for (; v && v[n]; n++)
		*bytes += strlen(v[n]) + 1;
	return n;
}

/* The request: header, then cwd, argv, envp.  Caller frees *msg. */
static int build_request(const struct sbx_exec *req, uint32_t id, char **msg, size_t *len,
			 struct mg_err *err)
{
	const char *cwd = req->cwd ? req->cwd : "/workspace";
	size_t bytes = strlen(cwd) + 1, argc, envc;
	struct sbx_ctl_req h;
	char *p;

	argc = count_strings(req->argv, &bytes);
	envc = count_strings(req->envp, &bytes);
	if (argc == 0)
		return mg_err_set(err, -EINVAL, "sbx_exec: no command");
	if (argc > SBX_CTL_ARGS_MAX || envc > SBX_CTL_ENV_MAX || bytes > SBX_CTL_BYTES_MAX)
		return mg_err_set(err, -E2BIG, "cannot run '%s': more than %u arguments, %u "
				  "variables or %u bytes of them", req->argv[0], SBX_CTL_ARGS_MAX,
				  SBX_CTL_ENV_MAX, SBX_CTL_BYTES_MAX);
	memset(&h, 0, sizeof(h));
	h.op = SBX_CTL_EXEC;
	h.id = id;
	h.argc = (uint32_t)argc;
	h.envc = (uint32_t)envc;
	h.fds = (req->fd_in >= 0 ? 1u : 0) | (req->fd_out >= 0 ? 2u : 0) |
		(req->fd_err >= 0 ? 4u : 0);
	*len = sizeof(h) + bytes;
	*msg = p = mg_malloc(*len);
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	memcpy(p, cwd, strlen(cwd) + 1);
	p += strlen(cwd) + 1;
	for (size_t i = 0; i < argc; i++) {
		memcpy(p, req->argv[i], strlen(req->argv[i]) + 1);
		p += strlen(req->argv[i]) + 1;
	}
	for (size_t i = 0; i < envc; i++) {
		memcpy(p, req->envp[i], strlen(req->envp[i]) + 1);
		p += strlen(req->envp[i]) + 1;
	}
	return 0;
}

/* One datagram to init, with fds attached (nfds may be 0). */
static int send_request(int ctl, const void *msg, size_t len, const int *fds, int nfds)
{
	union { struct cmsghdr h; char buf[CMSG_SPACE(4 * sizeof(int))]; } u;
	struct iovec iov = { (void *)(uintptr_t)msg, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > 0) {
		memset(u.buf, 0, sizeof(u.buf));
		m.msg_control = u.buf;
		m.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		u.h.cmsg_level = SOL_SOCKET;
		u.h.cmsg_type = SCM_RIGHTS;
		u.h.cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(&u.h), fds, (size_t)nfds * sizeof(int));
	}
	do
		n = sendmsg(ctl, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

static ssize_t recv_msg(int fd, struct sbx_proc_msg *m)
{
	ssize_t n;

	do
		n = recv(fd, m, sizeof(*m), 0);
	while (n < 0 && errno == EINTR);
	return n;
}

int sbx_exec(struct sbx_child *sb, const struct sbx_exec *req, struct sbx_proc *out,
	     struct mg_err *err)
{
	int st[2] = { -1, -1 }, fds[4], nfds = 0, rc;
	struct sbx_proc_msg m;
	char *msg = NULL;
	size_t len = 0;
	ssize_t n;

	out->pid = -1;
	out->id = 0;
	out->status_fd = -1;
	if (sb->ctl_fd < 0)
		return mg_err_set(err, -ENOTCONN, "sbx_exec: the sandbox has no exec channel");
	if (!req->argv || !req->argv[0])
		return mg_err_set(err, -EINVAL, "sbx_exec: no command");
	if ((rc = build_request(req, sb->exec_seq + 1, &msg, &len, err)))
		return rc;
	/* The process's own status socket: init answers there, so that
	 * every process can be waited for (or polled) on its own. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, st)) {
		rc = mg_err_set(err, -errno, "sbx_exec: socketpair: %s", strerror(errno));
		goto out;
	}
	fds[nfds++] = st[1];
	if (req->fd_in >= 0)
		fds[nfds++] = req->fd_in;
	if (req->fd_out >= 0)
		fds[nfds++] = req->fd_out;
	if (req->fd_err >= 0)
		fds[nfds++] = req->fd_err;
	rc = send_request(sb->ctl_fd, msg, len, fds, nfds);
	close(st[1]);
	st[1] = -1;
	if (rc) {
		rc = mg_err_set(err, rc, "cannot run '%s': the sandbox is gone (%s)", req->argv[0],
				strerror(-rc));
		goto out;
	}
	sb->exec_seq++;
	n = recv_msg(st[0], &m);
	if (n != (ssize_t)sizeof(m) || (m.kind != SBX_PROC_STARTED && m.kind != SBX_PROC_FAILED)) {
		rc = mg_err_set(err, n < 0 ? -errno : -ESRCH, "cannot run '%s': the sandbox "
				"ended or refused the request", req->argv[0]);
		goto out;
	}
	if (m.kind == SBX_PROC_FAILED) {
		int e = m.value > 0 ? m.value : EIO;

		if (m.step == sbx_step_exec)
			rc = mg_err_set(err, -e, "cannot run '%s': %s", req->argv[0], strerror(e));
		else
			rc = mg_err_set(err, -e, "cannot run '%s': sandbox: cannot %s: %s",
					req->argv[0], sbx_step_name(m.step), strerror(e));
		goto out;
	}
	out->pid = m.pid;
	out->id = sb->exec_seq;
	out->status_fd = st[0];
	st[0] = -1;
out:
	if (st[0] >= 0)
		close(st[0]);
	free(msg);
	return rc;
}

int sbx_proc_wait(struct sbx_proc *p, int *status, struct mg_err *err)
{
	struct sbx_proc_msg m;
	ssize_t n;

	if (p->status_fd < 0)
		return mg_err_set(err, -EBADF, "sbx_proc_wait: no such process");
	n = recv_msg(p->status_fd, &m);
	if (n == 0) {
		/* Init is gone without a word: the namespace took it along. */
		*status = SIGKILL;
		return 0;
	}
	if (n != (ssize_t)sizeof(m) || m.kind != SBX_PROC_EXITED)
		return mg_err_set(err, n < 0 ? -errno : -EPROTO, "sbx_proc_wait: bad status from "
				  "the sandbox");
	*status = m.value;
	return 0;
}

int sbx_proc_signal(struct sbx_child *sb, const struct sbx_proc *p, int sig, struct mg_err *err)
{
	struct sbx_ctl_req h;
	int rc;

	if (sb->ctl_fd < 0)
		return mg_err_set(err, -ENOTCONN, "sbx_proc_signal: the sandbox has no exec channel");
	if (sig <= 0 || sig >= NSIG)
		return mg_err_set(err, -EINVAL, "sbx_proc_signal: bad signal %d", sig);
	memset(&h, 0, sizeof(h));
	h.op = SBX_CTL_SIGNAL;
	h.id = p->id;
	h.sig = sig;
	rc = send_request(sb->ctl_fd, &h, sizeof(h), NULL, 0);
	if (rc)
		return mg_err_set(err, rc, "sbx_proc_signal: the sandbox is gone (%s)",
				  strerror(-rc));
	return 0;
}

void sbx_proc_release(struct sbx_proc *p)
{
	if (p->status_fd >= 0)
		close(p->status_fd);
	p->status_fd = -1;
}

void sbx_shutdown(struct sbx_child *sb)
{
	if (sb->ctl_fd < 0)
		return;
	/* shutdown, not only close: a copy of the fd that a fork of the
	 * gateway still holds must not keep the sandbox alive. */
	shutdown(sb->ctl_fd, SHUT_RDWR);
	close(sb->ctl_fd);
	sb->ctl_fd = -1;
}
