/*
 * pidfd_shim: LD_PRELOAD library that lets mcpguard run under valgrind
 * 3.19 (Debian 12), which does not know pidfd_open(2) and answers ENOSYS,
 * so the gateway cannot start any server there.
 *
 * Only for bench/run.sh's instruction counts.  It stands in for the two
 * calls the gateway makes,
 *   syscall(SYS_pidfd_open, pid, 0)   -> an eventfd that becomes readable
 *                                        when the child exits (a helper
 *                                        thread waits with WNOWAIT, so the
 *                                        child is not reaped here)
 *   waitid(P_PIDFD, fd, ...)          -> waitid(P_PID, pid, ...)
 * only when the real pidfd_open answers ENOSYS.  Neither is on the per-call
 * path, so the counts per echo are unaffected.
 *
 * Build: cc -O2 -shared -fPIC -o pidfd_shim.so pidfd_shim.c -ldl -lpthread
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define MAX_FD 4096

static pid_t fd_pid[MAX_FD];    /* emulated pidfd -> pid, 0 when none */

struct watch {
	int fd;
	pid_t pid;
};

static void *watcher(void *arg)
{
	struct watch w = *(struct watch *)arg;
	siginfo_t si;
	uint64_t one = 1;

	free(arg);
	while (waitid(P_PID, (id_t)w.pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;
	if (write(w.fd, &one, sizeof(one)) < 0) {
		/* the gateway closed it already */
	}
	return NULL;
}

static int fake_pidfd_open(pid_t pid)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct watch *w;
	pthread_t t;

	if (fd < 0)
		return -1;
	if (fd >= MAX_FD) {
		close(fd);
		errno = EMFILE;
		return -1;
	}
	w = malloc(sizeof(*w));
	if (!w) {
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	w->fd = fd;
	w->pid = pid;
	fd_pid[fd] = pid;
	if (pthread_create(&t, NULL, watcher, w)) {
		free(w);
		fd_pid[fd] = 0;
		close(fd);
		errno = EAGAIN;
		return -1;
	}
	pthread_detach(t);
	return fd;
}

long syscall(long n, ...)
{
	static long (*real)(long, ...);
	long a[6];
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (!real)
		real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	if (n == SYS_pidfd_open) {
		long fd = real(n, a[0], a[1], a[2], a[3], a[4], a[5]);

		if (fd >= 0 || errno != ENOSYS)
			return fd;      /* a valgrind that knows pidfd_open */
		return fake_pidfd_open((pid_t)a[0]);
	}
	return real(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}

int waitid(idtype_t type, id_t id, siginfo_t *info, int options)
{
	static int (*real)(idtype_t, id_t, siginfo_t *, int);

	if (!real)
		real = (int (*)(idtype_t, id_t, siginfo_t *, int))dlsym(RTLD_NEXT, "waitid");
	if ((int)type == P_PIDFD && id < MAX_FD && fd_pid[id] > 0) {
		int rc = real(P_PID, (id_t)fd_pid[id], info, options);

		if (rc == 0 && info->si_pid != 0 && !(options & WNOWAIT))
			fd_pid[id] = 0;         /* reaped: the fd may be reused */
		return rc;
	}
	return real(type, id, info, options);
}
