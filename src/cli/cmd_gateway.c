/* mcpguard gateway run: flags (Docker's names), catalogs, and the stdio
 * transport that connects the gateway's own stdin/stdout to one session. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "catalog/catalog.h"
#include "cli/cli.h"
#include "gateway/gateway.h"
#include "transport/stream.h"

static const char gateway_usage[] =
	"Usage: mcpguard gateway run [options]\n"
	"\n"
	"Serve one MCP endpoint in front of the servers of one or more catalogs.\n"
	"Flag names follow 'docker mcp gateway run'; catalogs use Docker's catalog YAML.\n"
	"\n"
	"Servers:\n"
	"  --catalog FILE            Catalog file (repeatable; later ones win on equal names).\n"
	"                            Default: the built-in catalog (everything, memory).\n"
	"  --additional-catalog FILE Same as --catalog.\n"
	"  --servers A,B             Enable only these servers (repeatable). Default: all.\n"
	"  --tools PATTERN,...       Expose only matching tools: 'tool', 'server:tool',\n"
	"                            'server:*' ('*' and '?' are wildcards; repeatable).\n"
	"  --tool-prefix MODE        auto (prefix 'server__' when several servers are\n"
	"                            enabled), always, or never. Default: auto.\n"
	"\n"
	"Transport:\n"
	"  --transport stdio         MCP over stdin/stdout (the only transport so far).\n"
	"\n"
	"Limits:\n"
	"  --timeout DURATION        Deadline of each request to a server (default 60s;\n"
	"                            catalog 'timeout:' overrides per server).\n"
	"  --startup-timeout DUR     Spawn to initialize answer (default 60s).\n"
	"  --human-timeout DUR       Sampling and elicitation wait on a person (default 10m).\n"
	"  --max-message-size SIZE   Largest JSON-RPC message in either direction\n"
	"                            (default 16m).\n"
	"  --page-size N             Items per list page sent to the client (default 500).\n"
	"\n"
	"Audit and logs:\n"
	"  --log-calls[=BOOL]        Audit every request as one JSON line (default true),\n"
	"                            and print a summary of each tool call on stderr.\n"
	"  --audit-log FILE          Where the audit lines go\n"
	"                            (default $XDG_STATE_HOME/mcpguard/audit.jsonl).\n"
	"  --log-arguments           Include tool arguments in the audit log.\n"
	"  --verbose                 Debug logs, including servers' stderr.\n"
	"  --quiet                   Warnings and errors only.\n"
	"\n"
	"Other:\n"
	"  --cache-dir DIR           Where server lists are cached\n"
	"                            (default $XDG_CACHE_HOME/mcpguard).\n"
	"  --no-cache                Do not read or write the list cache.\n"
	"  --pass-env NAME           Also pass this variable of the gateway's environment\n"
	"                            to every server (repeatable).\n"
	"  -h, --help                This help.\n"
	"\n"
	"Docker flags accepted for compatibility but not acted on yet (a warning says so):\n"
	"  --port --host --block-secrets --block-network --verify-signatures --long-lived\n"
	"  --watch --cpus --memory --secrets --registry --config --tools-config\n"
	"  --enable-all-servers --static --interceptor --allow-unauthenticated\n"
	"\n"
	"Example (Claude Desktop, VS Code, Cursor...):\n"
	"  {\"command\": \"mcpguard\", \"args\": [\"gateway\", \"run\", \"--catalog\", \"my.yaml\"]}\n";

/* Variables a server gets from the gateway's environment by default:
 * enough to find programs and a home directory, nothing secret. */
static const char *const default_env[] = {
	"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
	NULL,
};

struct opts {
	char **catalogs;
	char **servers;
	char **tools;
	char **env;
	struct gw_config cfg;
	char *audit_path;
	char *cache_dir;
	bool no_cache;
	bool log_arguments;
	bool servers_given;
};

/* ---- flag parsing ---- */

struct flag_arg {
	const char *name;       /* "--timeout" */
	const char *value;      /* NULL when absent */
};

/* Split "--name=value" or take the next argument. */
static int take_value(int argc, char **argv, int *i, struct flag_arg *f, bool needs)
{
	const char *eq = strchr(argv[*i], '=');
	static char name[64];

	if (eq) {
		size_t n = (size_t)(eq - argv[*i]);

		if (n >= sizeof(name))
			return -EINVAL;
		memcpy(name, argv[*i], n);
		name[n] = '\0';
		f->name = name;
		f->value = eq + 1;
		return 0;
	}
	f->name = argv[*i];
	f->value = NULL;
	if (needs) {
		if (*i + 1 >= argc)
			return -EINVAL;
		f->value = argv[++*i];
	}
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!v || strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
		*out = true;
		return 0;
	}
	if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

static char **push_csv(char **v, const char *csv)
{
	char **items = mg_split_csv(csv);

	if (!v)
		v = mg_calloc(1, sizeof(char *));
	for (size_t i = 0; items[i]; i++)
		v = mg_strv_push(v, items[i]);
	mg_strv_free(items);
	return v;
}

static bool is_flag(const char *arg, const char *name)
{
	size_t n = strlen(name);

	return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

static const char *const value_flags[] = {
	"--catalog", "--additional-catalog", "--servers", "--tools", "--tool-prefix",
	"--transport", "--timeout", "--startup-timeout", "--human-timeout",
	"--max-message-size", "--page-size", "--audit-log", "--cache-dir", "--pass-env",
	"--port", "--host", "--cpus", "--memory", "--secrets", "--registry", "--config",
	"--tools-config", "--interceptor", "--additional-registry", "--additional-config",
	"--additional-tools-config", "--profile", "--oci-ref", "--mcp-registry", "--log",
	NULL,
};
static const char *const ignored_flags[] = {
	"--port", "--host", "--cpus", "--memory", "--secrets", "--registry", "--config",
	"--tools-config", "--interceptor", "--additional-registry", "--additional-config",
	"--additional-tools-config", "--profile", "--oci-ref", "--mcp-registry", "--log",
	"--block-secrets", "--block-network", "--verify-signatures", "--long-lived", "--watch",
	"--enable-all-servers", "--static", "--allow-unauthenticated", "--dry-run",
	"--debug-dns", NULL,
};

static bool in_list(const char *const *list, const char *name)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(list[i], name) == 0)
			return true;
	return false;
}

static int duration_flag(const struct flag_arg *f, uint64_t *out)
{
	if (mg_parse_duration_ms(f->value, out) || *out == 0) {
		fprintf(stderr, "mcpguard: %s: '%s' is not a duration (e.g. 60s, 500ms, 10m)\n",
			f->name, f->value);
		return -EINVAL;
	}
	return 0;
}

static int apply_flag(struct opts *o, const struct flag_arg *f)
{
	uint64_t u;
	bool b;

	if (strcmp(f->name, "--catalog") == 0 || strcmp(f->name, "--additional-catalog") == 0) {
		o->catalogs = push_csv(o->catalogs, f->value);
	} else if (strcmp(f->name, "--servers") == 0) {
		o->servers = push_csv(o->servers, f->value);
		o->servers_given = true;
	} else if (strcmp(f->name, "--tools") == 0) {
		o->tools = push_csv(o->tools, f->value);
	} else if (strcmp(f->name, "--pass-env") == 0) {
		o->env = mg_strv_push(o->env, f->value);
	} else if (strcmp(f->name, "--tool-prefix") == 0) {
		if (strcmp(f->value, "auto") == 0)
			o->cfg.prefix = GW_PREFIX_AUTO;
		else if (strcmp(f->value, "always") == 0)
			o->cfg.prefix = GW_PREFIX_ALWAYS;
		else if (strcmp(f->value, "never") == 0)
			o->cfg.prefix = GW_PREFIX_NEVER;
		else
			goto bad;
	} else if (strcmp(f->name, "--transport") == 0) {
		if (strcmp(f->value, "stdio") != 0) {
			fprintf(stderr, "mcpguard: --transport %s is not available yet; use stdio\n",
				f->value);
			return -ENOTSUP;
		}
	} else if (strcmp(f->name, "--timeout") == 0) {
		return duration_flag(f, &o->cfg.timeout_ms);
	} else if (strcmp(f->name, "--startup-timeout") == 0) {
		return duration_flag(f, &o->cfg.startup_timeout_ms);
	} else if (strcmp(f->name, "--human-timeout") == 0) {
		return duration_flag(f, &o->cfg.human_timeout_ms);
	} else if (strcmp(f->name, "--max-message-size") == 0) {
		if (mg_parse_size(f->value, &u) || u < 1024 || u > (1ull << 31))
			goto bad;
		o->cfg.max_message = (size_t)u;
	} else if (strcmp(f->name, "--page-size") == 0) {
		if (mg_parse_u64(f->value, &u) || u > 100000)
			goto bad;
		o->cfg.page_size = (size_t)u;
	} else if (strcmp(f->name, "--audit-log") == 0) {
		free(o->audit_path);
		o->audit_path = mg_strdup(f->value);
	} else if (strcmp(f->name, "--cache-dir") == 0) {
		free(o->cache_dir);
		o->cache_dir = mg_strdup(f->value);
	} else if (strcmp(f->name, "--no-cache") == 0) {
		o->no_cache = true;
	} else if (strcmp(f->name, "--log-calls") == 0) {
		if (parse_bool(f->value, &b))
			goto bad;
		o->cfg.log_calls = b;
	} else if (strcmp(f->name, "--log-arguments") == 0) {
		if (parse_bool(f->value, &o->log_arguments))
			goto bad;
	} else if (strcmp(f->name, "--verbose") == 0) {
		mg_log_set_level(MG_LOG_DEBUG);
	} else if (strcmp(f->name, "--quiet") == 0) {
		mg_log_set_level(MG_LOG_WARN);
	} else if (in_list(ignored_flags, f->name)) {
		mg_warn("%s is accepted for compatibility with Docker's gateway but not supported "
			"yet; ignored", f->name);
	} else {
		fprintf(stderr, "mcpguard: unknown option '%s' (see 'mcpguard gateway run --help')\n",
			f->name);
		return -EINVAL;
	}
	return 0;
bad:
	fprintf(stderr, "mcpguard: %s: invalid value '%s'\n", f->name, f->value ? f->value : "");
	return -EINVAL;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	for (int i = 0; i < argc; i++) {
		struct flag_arg f;
		bool needs = false;

		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(gateway_usage, stdout);
			return 1;
		}
		for (size_t k = 0; value_flags[k]; k++)
			needs = needs || is_flag(argv[i], value_flags[k]);
		if (take_value(argc, argv, &i, &f, needs && !strchr(argv[i], '='))) {
			fprintf(stderr, "mcpguard: %s needs a value\n", argv[i]);
			return -EINVAL;
		}
		if (apply_flag(o, &f))
			return -EINVAL;
	}
	return 0;
}

/* ---- catalogs ---- */

/* A relative catalog name that is not a file here may be one of Docker's
 * (~/.docker/mcp/catalogs/NAME), as 'docker mcp gateway run' resolves it. */
static char *resolve_catalog(const char *name)
{
	const char *home = getenv("HOME");
	char path[PATH_MAX];

	if (access(name, R_OK) == 0 || name[0] == '/' || !home)
		return mg_strdup(name);
	snprintf(path, sizeof(path), "%s/.docker/mcp/catalogs/%s", home, name);
	return mg_strdup(access(path, R_OK) == 0 ? path : name);
}

static int load_catalogs(struct catalog *cat, char **files)
{
	struct mg_err err;

	if (!files || !files[0]) {
		const char *text = catalog_builtin_default();

		if (catalog_load_string(cat, text, strlen(text), "built-in catalog", &err)) {
			fprintf(stderr, "mcpguard: %s\n", err.msg);
			return -EINVAL;
		}
		return 0;
	}
	for (size_t i = 0; files[i]; i++) {
		char *path = resolve_catalog(files[i]);
		int rc = catalog_load_file(cat, path, &err);

		free(path);
		if (rc) {
			fprintf(stderr, "mcpguard: %s\n", err.msg);
			return rc;
		}
	}
	return 0;
}

/* ---- the stdio transport: our stdin/stdout are one client session ---- */

struct stdio_run {
	uv_loop_t *loop;
	struct gateway *gw;
	struct gw_session *sess;
	struct tp_stream in;
	struct tp_stream out;
	uv_signal_t sigint, sigterm;
	uv_timer_t deferred;
	uv_timer_t drain;
	uv_shutdown_t shut;
	bool stopping;
	int open;
};

static void begin_stop(struct stdio_run *r);

static int stdin_line(struct tp_stream *s, const char *line, size_t len)
{
	struct stdio_run *r = s->owner;

	if (r->sess)
		gw_session_recv(r->sess, line, len);
	return r->stopping;
}

static int stdin_oversize(struct tp_stream *s, size_t max)
{
	struct stdio_run *r = s->owner;

	if (r->sess)
		gw_session_oversize(r->sess, max);
	return 0;
}

/* After the client's input ends, answers still owed to it are delivered
 * before the gateway stops (a client that wants it gone sooner closes its
 * end of stdout or sends a signal). */
static void drain_check(uv_timer_t *t)
{
	struct stdio_run *r = t->data;

	if (r->sess && gw_session_busy(r->sess))
		return;
	uv_timer_stop(t);
	begin_stop(r);
}

static void stdin_end(struct tp_stream *s, int status)
{
	struct stdio_run *r = s->owner;

	if (status != UV_EOF)
		mg_warn("reading stdin failed: %s", uv_strerror(status));
	uv_timer_start(&r->drain, drain_check, 0, 10);
}

static void handle_closed(uv_handle_t *h)
{
	struct stdio_run *r = h->data;

	r->open--;
}

static void stream_closed(struct tp_stream *s)
{
	struct stdio_run *r = s->owner;

	r->open--;
}

static const struct tp_stream_ops stdin_ops = {
	.on_line = stdin_line,
	.on_oversize = stdin_oversize,
	.on_end = stdin_end,
	.on_closed = stream_closed,
};

static int noop_line(struct tp_stream *s, const char *l, size_t n)
{
	return 0;
}

static int noop_oversize(struct tp_stream *s, size_t m)
{
	return 0;
}

static void noop_end(struct tp_stream *s, int st)
{
}

static const struct tp_stream_ops stdout_ops = {
	.on_line = noop_line,
	.on_oversize = noop_oversize,
	.on_end = noop_end,
	.on_closed = stream_closed,
};

static int session_send(struct gw_session *s, char *line, size_t len)
{
	struct stdio_run *r = gw_session_transport(s);

	return tp_stream_write_owned(&r->out, line, len);
}

static void session_close(struct gw_session *s)
{
	begin_stop(gw_session_transport(s));
}

static const struct gw_session_ops session_ops = {
	.send = session_send,
	.close = session_close,
};

static void stdout_flushed(uv_shutdown_t *req, int status)
{
	struct stdio_run *r = req->data;

	tp_stream_close(&r->out);
}

static void all_stopped(struct gateway *gw, void *ctx)
{
	struct stdio_run *r = ctx;

	/* Let queued answers reach the client before closing stdout. */
	r->shut.data = r;
	if (r->out.file_fd >= 0 || uv_shutdown(&r->shut, &r->out.u.stream, stdout_flushed))
		tp_stream_close(&r->out);
	tp_stream_close(&r->in);
	uv_close((uv_handle_t *)&r->sigint, handle_closed);
	uv_close((uv_handle_t *)&r->sigterm, handle_closed);
	uv_close((uv_handle_t *)&r->deferred, handle_closed);
	uv_close((uv_handle_t *)&r->drain, handle_closed);
}

/* Runs from the loop, never inside a callback that still uses the session. */
static void stop_now(uv_timer_t *t)
{
	struct stdio_run *r = t->data;
	struct gw_session *s = mg_steal(&r->sess);

	tp_stream_stop_read(&r->in);
	if (s)
		gw_session_close(s);
	gw_shutdown(r->gw, all_stopped, r);
}

static void begin_stop(struct stdio_run *r)
{
	if (r->stopping)
		return;
	r->stopping = true;
	uv_timer_stop(&r->drain);
	uv_timer_start(&r->deferred, stop_now, 0, 0);
}

static void on_signal(uv_signal_t *h, int sig)
{
	struct stdio_run *r = h->data;

	mg_info("%s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	begin_stop(r);
}

static int run_stdio(uv_loop_t *loop, struct gateway *gw)
{
	struct stdio_run r;

	memset(&r, 0, sizeof(r));
	r.loop = loop;
	r.gw = gw;
	tp_stream_setup(&r.in, gw_config_max_message(gw), 0, &stdin_ops, &r);
	tp_stream_setup(&r.out, 64, 4 * gw_config_max_message(gw), &stdout_ops, &r);
	if (tp_stream_open_fd(loop, &r.in, 0) || tp_stream_open_fd(loop, &r.out, 1)) {
		fprintf(stderr, "mcpguard: cannot use stdin/stdout for --transport stdio\n");
		return CLI_FAIL;
	}
	r.open = 6;
	uv_signal_init(loop, &r.sigint);
	uv_signal_init(loop, &r.sigterm);
	uv_timer_init(loop, &r.deferred);
	uv_timer_init(loop, &r.drain);
	r.sigint.data = r.sigterm.data = r.deferred.data = r.drain.data = &r;
	uv_signal_start(&r.sigint, on_signal, SIGINT);
	uv_signal_start(&r.sigterm, on_signal, SIGTERM);
	r.sess = gw_session_open(gw, &session_ops, &r);
	tp_stream_start_read(&r.in);
	uv_run(loop, UV_RUN_DEFAULT);
	return CLI_OK;
}

/* ---- the command ---- */

static void opts_release(struct opts *o)
{
	mg_strv_free(o->catalogs);
	mg_strv_free(o->servers);
	mg_strv_free(o->tools);
	mg_strv_free(o->env);
	free(o->audit_path);
	free(o->cache_dir);
}

static int run(struct opts *o)
{
	struct catalog cat;
	struct gateway *gw = NULL;
	struct aud_log *audit = NULL;
	struct mg_err err;
	uv_loop_t loop;
	char *state = NULL, *path = NULL;
	int rc = CLI_FAIL;

	catalog_init(&cat);
	uv_loop_init(&loop);
	if (load_catalogs(&cat, o->catalogs))
		goto out;
	if (o->cfg.log_calls) {
		if (!o->audit_path) {
			struct mg_buf b;

			state = mg_state_dir();
			mg_buf_init(&b, PATH_MAX);
			mg_buf_addf(&b, "%s/audit.jsonl", state);
			path = mg_buf_detach(&b, NULL);
		}
		if (aud_open(&audit, o->audit_path ? o->audit_path : path, o->log_arguments)) {
			fprintf(stderr, "mcpguard: cannot open the audit log %s: %s\n",
				o->audit_path ? o->audit_path : path, strerror(errno));
			goto out;
		}
	}
	o->cfg.audit = audit;
	o->cfg.tool_patterns = o->tools;
	if (!o->no_cache && !o->cache_dir)
		o->cache_dir = mg_cache_dir();
	o->cfg.cache_dir = o->no_cache ? NULL : o->cache_dir;
	for (size_t i = 0; default_env[i]; i++)
		o->env = mg_strv_push(o->env, default_env[i]);
	o->cfg.base_env = o->env;
	if (gw_create(&gw, &loop, &o->cfg, &cat, o->servers_given ? o->servers : NULL, &err)) {
		fprintf(stderr, "mcpguard: %s\n", err.msg);
		goto out;
	}
	mg_info("gateway ready on stdio: %zu server%s%s%s", gw_server_count(gw),
		gw_server_count(gw) == 1 ? "" : "s", audit ? ", audit log " : "",
		audit ? aud_path(audit) : "");
	rc = run_stdio(&loop, gw);
out:
	gw_free(gw);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop))
		mg_debug("loop closed with handles still open");
	aud_close(audit);
	catalog_release(&cat);
	free(state);
	free(path);
	return rc;
}

int cli_gateway(int argc, char **argv)
{
	struct opts o;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(gateway_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	if (strcmp(argv[1], "run") != 0) {
		fprintf(stderr, "mcpguard: unknown gateway command '%s'\n\n%s", argv[1],
			gateway_usage);
		return CLI_USAGE;
	}
	memset(&o, 0, sizeof(o));
	o.cfg.prefix = GW_PREFIX_AUTO;
	o.cfg.page_size = 500;
	o.cfg.max_message = 16u << 20;
	o.cfg.timeout_ms = 60000;
	o.cfg.startup_timeout_ms = 60000;
	o.cfg.human_timeout_ms = 600000;
	o.cfg.log_calls = true;
	rc = parse_args(argc - 2, argv + 2, &o);
	if (rc == 0)
		rc = run(&o);
	else
		rc = rc > 0 ? CLI_OK : CLI_USAGE;
	opts_release(&o);
	return rc;
}
