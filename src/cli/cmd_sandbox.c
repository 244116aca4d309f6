/* mcpguard sandbox run: one command in the sandbox, the safe way to run
 * agent-written code.  The exit status passes through. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "base/time.h"
#include "cli/cli.h"
#include "runtime/sandbox.h"
#include "runtime/seccomp.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static const char sandbox_usage[] =
	"Usage: mcpguard sandbox run [options] -- COMMAND [ARGS...]\n"
	"\n"
	"Run one command in mcpguard's sandbox: its own user, mount, PID, network, IPC,\n"
	"UTS and cgroup namespaces, an unprivileged host uid range, a read-only root\n"
	"(/usr and a curated /etc), a writable /workspace, a tmpfs /tmp, no\n"
	"capabilities, no_new_privs, a seccomp allowlist, and cgroup limits.\n"
	"The command's exit status is returned (128+N when killed by signal N;\n"
	"124 on timeout; 125 when the sandbox cannot be set up).  Needs root.\n"
	"\n"
	"Options:\n"
	"  --network none         No network but loopback (the default).\n"
	"  --allow-host HOST:PORT Egress through the filtering proxy (not available yet).\n"
	"  --memory SIZE          Memory and swap together (default 512m; 0: no limit).\n"
	"  --cpus N               CPU time, in CPUs (default 1; 0: no limit).\n"
	"  --pids N               Processes and threads (default 256; 0: no limit).\n"
	"  --timeout DURATION     Kill everything after this long (default: none).\n"
	"  --workdir DIR          Host directory bound read-write as /workspace\n"
	"                         (default: an empty tmpfs).\n"
	"  --ro PATH[:INSIDE]     Bind a host path read-only (repeatable).\n"
	"  --rw PATH[:INSIDE]     Bind a host path read-write (repeatable).\n"
	"  --env NAME=VALUE       Set a variable for the command (repeatable); it gets\n"
	"                         PATH, HOME=/workspace, TMPDIR=/tmp, LANG otherwise.\n"
	"  --json                 Report on stderr, as one JSON line: exit status,\n"
	"                         duration, limits hit, peak memory.\n"
	"  -h, --help             This help.\n";

struct sb_opts {
	struct sbx_config cfg;
	char **ro, **rw, **env;
	uint64_t timeout_ms;
	bool json;
};

static int flag_value(int argc, char **argv, int *i, const char **v)
{
	if (*i + 1 >= argc) {
		fprintf(stderr, "mcpguard: %s needs a value\n", argv[*i]);
		return -EINVAL;
	}
	*v = argv[++*i];
	return 0;
}

static int parse(int argc, char **argv, struct sb_opts *o, int *cmd)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v;
		uint64_t u;

		if (strcmp(a, "--") == 0) {
			*cmd = i + 1;
			return i + 1 < argc ? 0 : -EINVAL;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(sandbox_usage, stdout);
			return 1;
		}
		if (strcmp(a, "--json") == 0) {
			o->json = true;
			continue;
		}
		if (flag_value(argc, argv, &i, &v))
			return -EINVAL;
		if (strcmp(a, "--network") == 0 && strcmp(v, "none") == 0) {
			continue;
		} else if (strcmp(a, "--allow-host") == 0) {
			fprintf(stderr, "mcpguard: --allow-host needs the egress proxy, which is not "
				"built yet; the sandbox has no network\n");
			return -ENOTSUP;
		} else if (strcmp(a, "--memory") == 0 && !mg_parse_size(v, &u)) {
			o->cfg.memory_bytes = u;
		} else if (strcmp(a, "--pids") == 0 && !mg_parse_u64(v, &u) && u < 1000000) {
			o->cfg.pids_max = (unsigned)u;
		} else if (strcmp(a, "--cpus") == 0) {
			char *end;

			o->cfg.cpus = strtod(v, &end);
			if (*end || o->cfg.cpus < 0 || o->cfg.cpus > 1024)
				goto bad;
		} else if (strcmp(a, "--timeout") == 0 && !mg_parse_duration_ms(v, &u)) {
			o->timeout_ms = u;
		} else if (strcmp(a, "--workdir") == 0) {
			o->cfg.workspace = v;
		} else if (strcmp(a, "--ro") == 0) {
			o->ro = mg_strv_push(o->ro, v);
		} else if (strcmp(a, "--rw") == 0) {
			o->rw = mg_strv_push(o->rw, v);
		} else if (strcmp(a, "--env") == 0 && strchr(v, '=')) {
			o->env = mg_strv_push(o->env, v);
		} else {
			goto bad;
		}
		continue;
bad:
		fprintf(stderr, "mcpguard: %s: invalid value '%s' (see 'mcpguard sandbox run "
			"--help')\n", a, v);
		return -EINVAL;
	}
	fprintf(stderr, "mcpguard: give the command after '--'\n");
	return -EINVAL;
}

static bool env_has(char **env, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
			return true;
	return false;
}

static void default_env(struct sb_opts *o)
{
	static const char *const dflt[] = { "PATH=/usr/local/bin:/usr/bin:/bin",
					    "HOME=/workspace", "TMPDIR=/tmp", "LANG=C.UTF-8" };

	if (!o->env)
		o->env = mg_calloc(1, sizeof(char *));
	for (size_t i = 0; i < MG_ARRAY_LEN(dflt); i++) {
		char name[16];

		snprintf(name, sizeof(name), "%.*s", (int)strcspn(dflt[i], "="), dflt[i]);
		if (!env_has(o->env, name))
			o->env = mg_strv_push(o->env, dflt[i]);
	}
}

/* Wait for the sandbox, killing it at the deadline.  Returns the status
 * to exit with. */
static int wait_for(struct sbx_child *ch, uint64_t timeout_ms, bool *timed_out)
{
	uint64_t deadline = timeout_ms ? mg_now_ms() + timeout_ms : 0;
	struct pollfd pf = { ch->pidfd, POLLIN, 0 };
	siginfo_t si;

	for (;;) {
		int wait = deadline ? (int)(deadline > mg_now_ms() ? deadline - mg_now_ms() : 0) : -1;
		int n = poll(&pf, 1, wait);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 && !*timed_out) {
			/* Killing PID 1 takes the whole namespace with it. */
			syscall(SYS_pidfd_send_signal, ch->pidfd, SIGKILL, NULL, 0);
			*timed_out = true;
			deadline = 0;
			continue;
		}
		break;
	}
	memset(&si, 0, sizeof(si));
	if (waitid((idtype_t)P_PIDFD, (id_t)ch->pidfd, &si, WEXITED) < 0)
		return 125;
	if (*timed_out)
		return 124;
	return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}

int cli_sandbox(int argc, char **argv)
{
	struct sb_opts o;
	struct sbx_filter filter;
	struct sbx_child ch;
	struct sbx_usage use;
	struct mg_err err;
	uint64_t t0;
	bool timed_out = false;
	int cmd = 0, rc, status = 125;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(sandbox_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	if (strcmp(argv[1], "run") != 0) {
		fprintf(stderr, "mcpguard: unknown sandbox command '%s'\n\n%s", argv[1], sandbox_usage);
		return CLI_USAGE;
	}
	memset(&o, 0, sizeof(o));
	o.cfg.memory_bytes = 512ull << 20;
	o.cfg.pids_max = 256;
	o.cfg.cpus = 1;
	rc = parse(argc - 2, argv + 2, &o, &cmd);
	if (rc) {
		status = rc > 0 ? CLI_OK : CLI_USAGE;
		goto out;
	}
	default_env(&o);
	o.cfg.argv = argv + 2 + cmd;
	o.cfg.envp = o.env;
	o.cfg.ro_binds = o.ro;
	o.cfg.rw_binds = o.rw;
	o.cfg.fd_in = 0;
	o.cfg.fd_out = 1;
	o.cfg.fd_err = 2;
	if (sbx_filter_build(&filter, &err)) {
		fprintf(stderr, "mcpguard: %s\n", err.msg);
		goto out;
	}
	o.cfg.filter = &filter;
	sbx_sweep_leftovers();
	t0 = mg_now_us();
	if (sbx_spawn(&o.cfg, &ch, &err)) {
		fprintf(stderr, "mcpguard: %s\n", err.msg);
		sbx_filter_release(&filter);
		goto out;
	}
	status = wait_for(&ch, o.timeout_ms, &timed_out);
	sbx_release(&ch, &use);
	sbx_filter_release(&filter);
	if (o.json)
		fprintf(stderr, "{\"exit_status\":%d,\"timed_out\":%s,\"oom_killed\":%s,"
			"\"pids_limit_hit\":%s,\"memory_peak_bytes\":%llu,\"duration_ms\":%.1f}\n",
			status, timed_out ? "true" : "false", use.oom_killed ? "true" : "false",
			use.pids_hit ? "true" : "false", (unsigned long long)use.memory_peak,
			(double)(mg_now_us() - t0) / 1000.0);
out:
	mg_strv_free(o.ro);
	mg_strv_free(o.rw);
	mg_strv_free(o.env);
	return status;
}
