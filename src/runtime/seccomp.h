/* Seccomp filters of the Linux sandbox.
 *
 * Two classic-BPF programs, compiled once with libseccomp when the gateway
 * starts (compiling costs about a millisecond, too much per spawn) and
 * installed by each sandbox child right before exec:
 *
 *   A  default-deny allowlist (EPERM), modelled on Docker's default profile
 *      without anything Docker opens only to a capability: no namespaces,
 *      mounts, ptrace, keyrings, io_uring, bpf, perf, module or time
 *      setting; argument checks on clone, socket, socketpair, personality
 *      and mknod; clone3 answers ENOSYS so that libc falls back to clone.
 *      Native architecture only: any other (i386 int 0x80, x32) kills the
 *      process.
 *   B  default-allow denylist: the terminal-injection ioctls TIOCSTI and
 *      TIOCLINUX answer EPERM.
 *
 * The kernel runs every installed program and the strictest verdict wins,
 * so B can stay a plain denylist without weakening A. */
#ifndef MG_RT_SECCOMP_H
#define MG_RT_SECCOMP_H

#include <linux/filter.h>

#include "base/err.h"

struct sbx_filter {
	struct sock_fprog a;    /* allowlist; .filter owned by the struct */
	struct sock_fprog b;    /* denylist; .filter owned by the struct */
};

/* Compile both programs into memory owned by f.  0, or a negative errno
 * with err saying which step or rule failed.  f is left released on
 * failure.  Not for the sandbox child: it allocates. */
int sbx_filter_build(struct sbx_filter *f, struct mg_err *err);
/* Free the programs; f may be zeroed or already released. */
void sbx_filter_release(struct sbx_filter *f);
/* In the sandbox child, as the last step before execve.  Sets
 * PR_SET_NO_NEW_PRIVS (idempotent; the kernel requires it without
 * CAP_SYS_ADMIN), then installs B, then A.  Async-signal-safe: only
 * prctl, no allocation, so it is safe between fork and exec.  0, or a
 * negative errno; after a failure the child may hold B without A and
 * must _exit, never exec. */
int sbx_filter_install(const struct sbx_filter *f);

#endif
