/* The exec channel between the gateway (sandbox_exec.c) and the sandbox's
 * init (sandbox.c): internal to runtime/.
 *
 * Requests go gateway -> init over the SOCK_SEQPACKET socket that carried
 * init's set-up reports (one request per message, so no framing).  An exec
 * request carries, by SCM_RIGHTS, first the gateway's end of a fresh
 * SOCK_SEQPACKET pair (the process's status socket) and then the stdio fds
 * named in `fds`.  Init answers on that status socket only: STARTED (or
 * FAILED, with the step), then EXITED.  Init never reads anything but the
 * channel and never blocks on a status socket (MSG_DONTWAIT: it holds at
 * most two small messages). */
#ifndef MG_RT_SANDBOX_CTL_H
#define MG_RT_SANDBOX_CTL_H

#include <stdint.h>

#define SBX_CTL_EXEC 1
#define SBX_CTL_SIGNAL 2

#define SBX_CTL_BYTES_MAX 65536u        /* cwd, argv and envp strings of one request */
#define SBX_CTL_ARGS_MAX 1024u
#define SBX_CTL_ENV_MAX 1024u
#define SBX_EXEC_MAX 64u                /* processes started by sbx_exec alive at once */

struct sbx_ctl_req {
	uint32_t op;                    /* SBX_CTL_* */
	uint32_t id;                    /* the gateway's name for the process */
	uint32_t argc, envc;            /* exec: argc >= 1 */
	uint32_t fds;                   /* exec: bit i set: stdio fd i was passed */
	int32_t sig;                    /* signal: the signal */
};      /* exec: then cwd, argv[0..argc), envp[0..envc), each NUL-terminated,
	 * filling the rest of the message exactly */

#define SBX_PROC_STARTED 1
#define SBX_PROC_FAILED 2
#define SBX_PROC_EXITED 3

struct sbx_proc_msg {
	int32_t kind;                   /* SBX_PROC_* */
	int32_t pid;                    /* inside the sandbox */
	int32_t step;                   /* FAILED: the step (see sbx_step_name) */
	int32_t value;                  /* FAILED: errno; EXITED: waitpid status */
};

/* The name of a set-up or launch step, for "cannot <name>: <error>". */
const char *sbx_step_name(int step);
/* The step whose failure means "no such program" (argv[0] did not exec). */
extern const int sbx_step_exec;

#endif
