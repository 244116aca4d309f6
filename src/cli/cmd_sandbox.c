/* mcpguard sandbox run: one command in the sandbox, the safe way to run
 * agent-written code.  The exit status passes through.  With --allow-host,
 * the egress proxy (runtime/egress.h) serves the sandbox's 127.0.0.1:3128
 * on the loop that waits for the sandbox. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "base/time.h"
#include "cli/cli.h"
#include "runtime/egress.h"
#include "runtime/sandbox.h"
#include "runtime/seccomp.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* Where the payload finds the egress proxy: its own loopback. */
#define EGRESS_PORT 3128
#define EGRESS_URL "http://127.0.0.1:3128"

static const char sandbox_usage[] =
	"Usage: mcpguard sandbox run [options] -- COMMAND [ARGS...]\n"
	"\n"
	"Run one command in mcpguard's sandbox: its own user, mount, PID, network, IPC,\n"
	"UTS and cgroup namespaces, an unprivileged host uid range, a read-only root\n"
	"(/usr and a curated /etc), a writable /workspace, a tmpfs /tmp, no\n"
	"capabilities, no_new_privs, a seccomp allowlist, and cgroup limits.\n"
	"The command's exit status is returned (128+N when killed by signal N;\n"
	"124 on timeout; 125 when the sandbox cannot be set up).  Without root the\n"
	"sandbox is rootless: your own ids inside and no cgroup limits (a warning says\n"
	"so).\n"
	"\n"
	"Options:\n"
	"  --network none         No network but loopback (the default).\n"
	"  --allow-host HOST:PORT Allow egress to HOST:PORT through mcpguard's filtering\n"
	"                         proxy (repeatable; '*.example.com:443' for subdomains,\n"
	"                         '[::1]:8080' for IPv6).  The proxy listens on the\n"
	"                         sandbox's 127.0.0.1:3128 and the command gets\n"
	"                         HTTP_PROXY/HTTPS_PROXY (and lower case) pointing\n"
	"                         there; NO_PROXY is left unset.  Names are resolved\n"
	"                         by mcpguard; internal addresses are refused unless\n"
	"                         written as an address here; cloud metadata always.\n"
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
	"                         duration, limits hit, peak memory, egress counts.\n"
	"  -h, --help             This help.\n";

struct sb_opts {
	struct sbx_config cfg;
	char **ro, **rw, **env, **allow;
	uint64_t timeout_ms;
	bool json, network_none;
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
			o->network_none = true;
		} else if (strcmp(a, "--allow-host") == 0) {
			o->allow = mg_strv_push(o->allow, v);
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
	/* With egress, HTTP clients find the proxy by these.  NO_PROXY stays
	 * unset: the sandbox's own loopback is then reached through the proxy
	 * too (and refused), which keeps "127.0.0.1:PORT" in --allow-host
	 * meaning the host's port; --env NO_PROXY=... changes that. */
	static const char *const proxy[] = { "HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
					     "https_proxy" };

	if (!o->env)
		o->env = mg_calloc(1, sizeof(char *));
	for (size_t i = 0; i < MG_ARRAY_LEN(dflt); i++) {
		char name[16];

		snprintf(name, sizeof(name), "%.*s", (int)strcspn(dflt[i], "="), dflt[i]);
		if (!env_has(o->env, name))
			o->env = mg_strv_push(o->env, dflt[i]);
	}
	for (size_t i = 0; o->allow && i < MG_ARRAY_LEN(proxy); i++) {
		char var[64];

		snprintf(var, sizeof(var), "%s=" EGRESS_URL, proxy[i]);
		if (!env_has(o->env, proxy[i]))
			o->env = mg_strv_push(o->env, var);
	}
}

/* Waiting for the sandbox on a libuv loop, which also runs the egress
 * proxy: the pidfd turns readable when init exits; the timer kills it at
 * the deadline. */
struct waiter {
	struct sbx_child *ch;
	uv_poll_t poll;
	uv_timer_t timer;
	struct eg_proxy *proxy;
	struct eg_stats egress;
	int status;
	bool timed_out, broken;
};

static void on_deadline(uv_timer_t *t)
{
	struct waiter *w = t->data;

	/* Killing PID 1 takes the whole namespace with it. */
	syscall(SYS_pidfd_send_signal, w->ch->pidfd, SIGKILL, NULL, 0);
	w->timed_out = true;
}

static void on_sandbox_exit(uv_poll_t *p, int status, int events)
{
	struct waiter *w = p->data;
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid((idtype_t)P_PIDFD, (id_t)w->ch->pidfd, &si, WEXITED | WNOHANG) < 0)
		w->status = 125;
	else if (si.si_pid == 0)
		return;         /* not yet */
	else if (w->broken)
		w->status = 125;
	else if (w->timed_out)
		w->status = 124;
	else
		w->status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	uv_close((uv_handle_t *)&w->poll, NULL);
	uv_close((uv_handle_t *)&w->timer, NULL);
	/* The payload is gone: so are its connections. */
	if (w->proxy) {
		eg_proxy_stats(w->proxy, &w->egress);
		eg_proxy_close(w->proxy, NULL, NULL);
		w->proxy = NULL;
	}
}

/* Run the egress proxy (with --allow-host) until the sandbox exits.
 * Returns the status to exit with. */
static int run_sandbox(struct sbx_child *ch, const struct sb_opts *o,
		       const struct eg_policy *pol, struct eg_stats *egress, bool *timed_out)
{
	const char *slash = strrchr(o->cfg.argv[0], '/');
	struct eg_proxy_config pcfg = { pol, slash ? slash + 1 : o->cfg.argv[0], { 0 }, NULL, NULL };
	struct waiter w = { .ch = ch, .status = 125 };
	struct mg_err err;
	uv_loop_t loop;
	int fd;

	uv_loop_init(&loop);
	uv_poll_init(&loop, &w.poll, ch->pidfd);
	uv_timer_init(&loop, &w.timer);
	w.poll.data = w.timer.data = &w;
	if (o->cfg.egress_port) {
		fd = ch->egress_fd;
		ch->egress_fd = -1;     /* the proxy owns it now */
		if (fd < 0 || eg_proxy_open(&loop, fd, &pcfg, &w.proxy, &err)) {
			fprintf(stderr, "mcpguard: %s\n", fd < 0 ? "the sandbox handed over no egress "
				"listener" : err.msg);
			syscall(SYS_pidfd_send_signal, ch->pidfd, SIGKILL, NULL, 0);
			w.broken = true;
		}
	}
	uv_poll_start(&w.poll, UV_READABLE, on_sandbox_exit);
	if (o->timeout_ms)
		uv_timer_start(&w.timer, on_deadline, o->timeout_ms, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop))
		mg_warn("sandbox: handles left on the loop");
	*egress = w.egress;
	*timed_out = w.timed_out;
	return w.status;
}

int cli_sandbox(int argc, char **argv)
{
	struct sb_opts o;
	struct sbx_filter filter;
	struct sbx_child ch;
	struct sbx_usage use;
	struct eg_policy pol = { 0 };
	struct eg_stats egress = { 0 };
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
	if (o.allow && o.network_none) {
		fprintf(stderr, "mcpguard: --network none and --allow-host conflict: --allow-host "
			"opens egress through the proxy, --network none forbids all\n");
		status = CLI_USAGE;
		goto out;
	}
	if (eg_policy_parse(&pol, o.allow, &err)) {
		fprintf(stderr, "mcpguard: %s\n", err.msg);
		status = CLI_USAGE;
		goto out;
	}
	if (o.allow)
		o.cfg.egress_port = EGRESS_PORT;
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
	status = run_sandbox(&ch, &o, &pol, &egress, &timed_out);
	sbx_release(&ch, &use);
	sbx_filter_release(&filter);
	if (o.json) {
		char eg[128] = "";

		if (o.allow)
			snprintf(eg, sizeof(eg), ",\"egress\":{\"allowed\":%llu,\"denied\":%llu,"
				 "\"failed\":%llu}", (unsigned long long)egress.allowed,
				 (unsigned long long)egress.denied, (unsigned long long)egress.failed);
		fprintf(stderr, "{\"exit_status\":%d,\"timed_out\":%s,\"oom_killed\":%s,"
			"\"pids_limit_hit\":%s,\"memory_peak_bytes\":%llu,\"duration_ms\":%.1f%s}\n",
			status, timed_out ? "true" : "false", use.oom_killed ? "true" : "false",
			use.pids_hit ? "true" : "false", (unsigned long long)use.memory_peak,
			(double)(mg_now_us() - t0) / 1000.0, eg);
	}
out:
	eg_policy_release(&pol);
	mg_strv_free(o.ro);
	mg_strv_free(o.rw);
	mg_strv_free(o.env);
	mg_strv_free(o.allow);
	return status;
}
