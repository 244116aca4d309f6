/* cgroup v1 limits of a sandbox (internal to the sandbox). */
#ifndef MG_RT_SANDBOX_CGROUP_H
#define MG_RT_SANDBOX_CGROUP_H

#include <sys/types.h>

#include "base/err.h"
#include "runtime/sandbox.h"

/* Make the memory (+swap), pids and cpu groups c asks for, under the
 * gateway's own, and put child in them.  dirs[] (memory, pids, cpu)
 * receives what was made, for sbx_cg_release even after a failure.  0, or
 * -errno with err. */
int sbx_cg_attach(const struct sbx_config *c, pid_t child, char *dirs[3], struct mg_err *err);
/* Read what the groups saw into u (may be NULL), remove and free them. */
void sbx_cg_release(char *dirs[3], struct sbx_usage *u);

#endif
