/* mcpguard gateway run: flags (Docker's names), catalogs, and the stdio
 * transport that connects the gateway's own stdin/stdout to one session. */
#include <errno.h>
#include <sodium.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/budget.h"
#include "base/buf.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "catalog/catalog.h"
#include "cli/cli.h"
#include "cli/dbcache.h"
#include "gateway/gateway.h"
#include "guard/def_check.h"
#include "pins/pin_check.h"
#include "cli/secrets.h"
#include "cli/serve.h"
#include "guard/inject_check.h"

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
	"  --transport T             stdio (default): MCP over stdin/stdout, one client.\n"
	"                            streaming (also http, streamable, streamable-http):\n"
	"                            Streamable HTTP at /mcp.  sse: legacy HTTP+SSE at\n"
	"                            /sse and /messages.  'streaming,sse' serves both on\n"
	"                            one port.  /health answers without authentication.\n"
	"  --port N                  HTTP port (default 8811).\n"
	"  --host ADDR               Address to listen on (default 127.0.0.1).\n"
	"  --allow-unauthenticated   No bearer token (loopback development only).\n"
	"                            Otherwise clients send 'Authorization: Bearer T' with\n"
	"                            T from MCP_GATEWAY_AUTH_TOKEN, or a token generated\n"
	"                            and printed at start.\n"
	"  --session-idle-timeout D  Close HTTP sessions idle this long (default 30m).\n"
	"  --max-sessions N          Concurrent HTTP sessions (default 10000).\n"
	"  --http-max-connections N  TCP connections at once (default 4096; fitted to the\n"
	"                            open-file limit, whose soft value is raised to the\n"
	"                            hard one).  Past it a new connection gets 503.\n"
	"  --http-reserved-connections N  The last N of those serve only /health and\n"
	"                            clients already authorised on their connection or\n"
	"                            naming a live session; others get 503 with\n"
	"                            Retry-After, and idle unauthorised connections are\n"
	"                            closed, oldest first (default: an eighth).\n"
	"  --http-max-connections-per-address N  From one client address (default: half\n"
	"                            of --http-max-connections; on loopback every local\n"
	"                            client shares 127.0.0.1).\n"
	"  --http-header-timeout D   A request head must be complete this soon after the\n"
	"                            connection opens or its request line (default 10s).\n"
	"  --http-idle-timeout D     Close keep-alive connections idle this long, and any\n"
	"                            whose body or answer stalls this long (default 30s).\n"
	"\n"
	"Limits:\n"
	"  --timeout DURATION        Deadline of each request to a server (default 60s;\n"
	"                            catalog 'timeout:' overrides per server).\n"
	"  --startup-timeout DUR     Spawn to initialize answer (default 60s).\n"
	"  --human-timeout DUR       Sampling and elicitation wait on a person (default 10m).\n"
	"  --max-message-size SIZE   Largest JSON-RPC message in either direction\n"
	"                            (default 16m).\n"
	"  --page-size N             Items per list page sent to the client (default 500).\n"
	"  --max-instances N         Server instances running at once (default: derived\n"
	"                            from RLIMIT_NOFILE and memory, logged at start).\n"
	"                            Over it a call gets error -32010.\n"
	"  --max-instances-per-client N\n"
	"                            Of those, the instances of one client (one bearer\n"
	"                            token; stdio: the one client). Default: as many as\n"
	"                            --max-instances.\n"
	"  --reclaim-idle-after DUR  At a cap, first stop the idlest per-session instance\n"
	"                            of another session idle this long (default 1m; 0: any\n"
	"                            idle one; off: never).\n"
	"  --max-queued-output SIZE  Output queued to all clients together (default 256m;\n"
	"                            at least twice --max-message-size). Over it, the\n"
	"                            client that has waited longest without reading\n"
	"                            loses its stream.\n"
	"\n"
	"Sandbox (every local server runs in one; docs/security.md):\n"
	"  --cpus N                  CPUs per server sandbox (default 1; catalog 'cpus:').\n"
	"  --memory SIZE             Memory per server sandbox, swap included (default 2g;\n"
	"                            catalog 'memory:').\n"
	"  --pids N                  Processes and threads per server sandbox (default 512;\n"
	"                            catalog 'pids:').\n"
	"  --workspace-dir DIR       Where each server's persistent /workspace lives\n"
	"                            (default /var/lib/mcpguard/workspaces as root).\n"
	"  --allow-unsandboxed       Let servers marked 'sandbox: false' in the catalog run\n"
	"                            on the host, with a warning at each start.  Without\n"
	"                            this flag such servers do not start.\n"
	"\n"
	"Secrets (docs/security.md#secrets):\n"
	"  --block-secrets[=MODE]    Keep secrets and credentials out of what servers send to\n"
	"                            clients, and a server's secrets out of requests to other\n"
	"                            servers.  MODE: redact (default; '[REDACTED:kind]' in\n"
	"                            place), block (the message does not reach the client),\n"
	"                            log (recorded only), false (off).\n"
	"  --secrets FILE[:FILE]     .env files (NAME=value) searched first for the secrets\n"
	"                            the catalog names (repeatable); then the store\n"
	"                            ('mcpguard secret set'), then the environment.\n"
	"  --secret-store DIR        Where the encrypted store lives (default\n"
	"                            /etc/mcpguard as root, else ~/.config/mcpguard).\n"
	"\n"
	"Tool definitions (docs/security.md#tool-definitions-scanning):\n"
	"  --scan-definitions[=BOOL] Scan every tool, prompt and resource definition and the\n"
	"                            servers' instructions for poisoning before clients see\n"
	"                            them (default true).\n"
	"  --on-malicious=ACTIONS    What a definition that looks malicious gets: hide\n"
	"                            (default: not listed, calls refused with why), or any\n"
	"                            of sanitize,annotate,log (comma-separated).\n"
	"  --on-suspicious=ACTIONS   The same for a suspicious one (default sanitize,annotate:\n"
	"                            hidden characters removed, a warning the model reads).\n"
	"  --pin-mode=MODE           Pin every definition against rug pulls: tofu (default:\n"
	"                            pinned at first sight), approve (held until 'mcpguard\n"
	"                            pins approve'), off.  A changed definition is hidden,\n"
	"                            calls to it refused, until approved.\n"
	"  --pin-store DIR           Where the pins live (default\n"
	"                            $XDG_CONFIG_HOME/mcpguard/pins, ~/.config/mcpguard/pins).\n"
	"Results (docs/security.md#results-injected-instructions):\n"
	"  --inspect-results[=MODE]  Look for text aimed at the model in what servers send\n"
	"                            (injected instructions, hidden text, data-carrying\n"
	"                            image URLs).  MODE: annotate (default; a notice the\n"
	"                            model reads is added, invisible characters removed),\n"
	"                            block (a malicious result does not reach the client),\n"
	"                            log (recorded only), false (off).\n"
	"\n"
	"Audit and logs:\n"
	"  --log-calls[=BOOL]        Audit every request as one JSON line (default true),\n"
	"                            and print a summary of each tool call on stderr.\n"
	"  --audit-log FILE          Where the audit lines go\n"
	"                            (default $XDG_STATE_HOME/mcpguard/audit.jsonl).\n"
	"  --log-arguments           Include tool arguments in the audit log (secrets in\n"
	"                            them are redacted).\n"
	"  --audit-max-size SIZE     Rotate the audit log at this size (default 256m; 0:\n"
	"                            never).  Records are hash-chained across files:\n"
	"                            'mcpguard audit verify'.\n"
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
	"  --block-network           Accepted (Docker's); egress is always default-deny here.\n"
	"\n"
	"Docker flags accepted for compatibility but not acted on yet (a warning says so):\n"
	"  --verify-signatures --long-lived --watch\n"
	"  --registry --config --tools-config\n"
	"  --enable-all-servers --static --interceptor\n"
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
	struct serve_http_opts http;
	bool stdio;
	char *token;
	bool allow_unauthenticated;
	char **catalogs;
	char **servers;
	char **tools;
	char **env;
	struct gw_config cfg;
	char *audit_path;
	char *cache_dir;
	char *workspace_dir;
	char *npm_dir;
	bool no_cache;
	bool log_arguments;
	bool servers_given;
	char **secret_files;
	char *secret_store;
	uint64_t audit_max_size;
	bool block_secrets;
	enum gd_leak_mode leak_mode;
	bool scan_definitions;
	unsigned on_malicious, on_suspicious;
	bool pins;                      /* --pin-mode other than off */
	enum pin_mode pin_mode;
	char *pin_store;
	bool inspect_results;
	enum gd_inject_mode inject_mode;
	uint64_t max_queued;            /* --max-queued-output */
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

/* Flags that take a value.  Docker's flags we accept but do not act on
 * yet come in two lists: with a value, and switches. */
static const char *const value_flags[] = {
	"--catalog", "--additional-catalog", "--servers", "--tools", "--tool-prefix",
	"--transport", "--timeout", "--startup-timeout", "--human-timeout",
	"--max-message-size", "--page-size", "--audit-log", "--cache-dir", "--pass-env",
	"--port", "--host", "--session-idle-timeout", "--max-sessions", "--cpus", "--memory",
	"--pids", "--workspace-dir", "--secrets", "--secret-store", "--audit-max-size",
	"--max-instances", "--max-instances-per-client", "--reclaim-idle-after", "--max-queued-output",
	"--http-max-connections", "--http-reserved-connections",
	"--http-max-connections-per-address", "--http-header-timeout", "--http-idle-timeout",
	"--on-malicious", "--on-suspicious", "--pin-mode", "--pin-store", NULL,
};
static const char *const ignored_value_flags[] = {
	"--registry", "--config",
	"--tools-config", "--interceptor", "--additional-registry", "--additional-config",
	"--additional-tools-config", "--profile", "--oci-ref", "--mcp-registry", "--log", NULL,
};
static const char *const ignored_switches[] = {
	"--verify-signatures", "--long-lived", "--watch",
	"--enable-all-servers", "--static", "--dry-run", "--debug-dns", NULL,
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

/* stdio, or HTTP transports (comma-separated to serve several on one
 * port), with Docker's names. */
static int transport_flag(struct opts *o, const char *value)
{
	char **v = mg_split_csv(value);
	int rc = 0;

	o->stdio = false;
	o->http.streamable = o->http.sse = false;
	for (size_t i = 0; v[i] && !rc; i++) {
		if (strcmp(v[i], "stdio") == 0)
			o->stdio = true;
		else if (strcmp(v[i], "sse") == 0)
			o->http.sse = true;
		else if (strcmp(v[i], "streaming") == 0 || strcmp(v[i], "http") == 0 ||
			 strcmp(v[i], "streamable") == 0 || strcmp(v[i], "streamable-http") == 0)
			o->http.streamable = true;
		else
			rc = -EINVAL;
	}
	if (!rc && o->stdio && (o->http.sse || o->http.streamable))
		rc = -EINVAL;
	if (!rc && !o->stdio && !o->http.sse && !o->http.streamable)
		rc = -EINVAL;
	mg_strv_free(v);
	if (rc)
		fprintf(stderr, "mcpguard: --transport: '%s' is not stdio, streaming, sse or "
			"streaming,sse\n", value);
	return rc;
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
		return transport_flag(o, f->value);
	} else if (strcmp(f->name, "--port") == 0) {
		if (mg_parse_u64(f->value, &u) || u > 65535)
			goto bad;
		o->http.port = (uint16_t)u;
	} else if (strcmp(f->name, "--host") == 0) {
		o->http.host = f->value;
	} else if (strcmp(f->name, "--allow-unauthenticated") == 0) {
		if (parse_bool(f->value, &o->allow_unauthenticated))
			goto bad;
	} else if (strcmp(f->name, "--session-idle-timeout") == 0) {
		return duration_flag(f, &o->http.session_idle_ms);
	} else if (strcmp(f->name, "--max-sessions") == 0) {
		if (mg_parse_u64(f->value, &u) || u == 0 || u > 1000000)
			goto bad;
		o->http.max_sessions = (size_t)u;
	} else if (strcmp(f->name, "--http-max-connections") == 0 ||
		   strcmp(f->name, "--http-reserved-connections") == 0 ||
		   strcmp(f->name, "--http-max-connections-per-address") == 0) {
		if (mg_parse_u64(f->value, &u) || u > 1000000 ||
		    (u == 0 && strcmp(f->name, "--http-reserved-connections") != 0))
			goto bad;
		if (strcmp(f->name, "--http-max-connections") == 0)
			o->http.max_connections = (size_t)u;
		else if (strcmp(f->name, "--http-reserved-connections") == 0)
			o->http.reserved_connections = (size_t)u;
		else
			o->http.max_per_address = (size_t)u;
	} else if (strcmp(f->name, "--http-header-timeout") == 0) {
		return duration_flag(f, &o->http.header_timeout_ms);
	} else if (strcmp(f->name, "--http-idle-timeout") == 0) {
		return duration_flag(f, &o->http.idle_timeout_ms);
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
	} else if (strcmp(f->name, "--max-instances") == 0) {
		if (mg_parse_u64(f->value, &u) || u == 0 || u > 1000000)
			goto bad;
		o->cfg.max_instances = (size_t)u;
	} else if (strcmp(f->name, "--max-instances-per-client") == 0) {
		if (mg_parse_u64(f->value, &u) || u == 0 || u > 1000000)
			goto bad;
		o->cfg.max_instances_per_client = (size_t)u;
	} else if (strcmp(f->name, "--reclaim-idle-after") == 0) {
		if (strcmp(f->value, "off") == 0)
			o->cfg.reclaim_idle_ms = GW_RECLAIM_NEVER;
		else if (mg_parse_duration_ms(f->value, &o->cfg.reclaim_idle_ms) ||
			 o->cfg.reclaim_idle_ms == GW_RECLAIM_NEVER)
			goto bad;
	} else if (strcmp(f->name, "--max-queued-output") == 0) {
		if (mg_parse_size(f->value, &u) || u < (1u << 20) || u > (1ull << 40))
			goto bad;
		o->max_queued = u;
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
	} else if (strcmp(f->name, "--cpus") == 0) {
		char *end = NULL;

		o->cfg.cpus = strtod(f->value, &end);
		if (!end || *end || !(o->cfg.cpus >= 0.01 && o->cfg.cpus <= 1024))
			goto bad;
	} else if (strcmp(f->name, "--memory") == 0) {
		if (mg_parse_size(f->value, &u) || u < (16u << 20))
			goto bad;
		o->cfg.memory_bytes = u;
	} else if (strcmp(f->name, "--pids") == 0) {
		if (mg_parse_u64(f->value, &u) || u < 8 || u > 1000000)
			goto bad;
		o->cfg.pids = (unsigned)u;
	} else if (strcmp(f->name, "--workspace-dir") == 0) {
		free(o->workspace_dir);
		o->workspace_dir = mg_strdup(f->value);
	} else if (strcmp(f->name, "--allow-unsandboxed") == 0) {
		if (parse_bool(f->value, &o->cfg.allow_unsandboxed))
			goto bad;
	} else if (strcmp(f->name, "--block-network") == 0) {
		/* Docker's opt-in egress filtering is mcpguard's default. */
		mg_debug("--block-network: egress is default-deny for every server anyway");
	} else if (strcmp(f->name, "--block-secrets") == 0) {
		o->block_secrets = true;
		if (f->value && strcmp(f->value, "true") != 0 && strcmp(f->value, "1") != 0) {
			if (strcmp(f->value, "false") == 0 || strcmp(f->value, "0") == 0 ||
			    strcmp(f->value, "off") == 0)
				o->block_secrets = false;
			else if (gd_leak_mode_parse(f->value, &o->leak_mode))
				goto bad;
		}
	} else if (strcmp(f->name, "--scan-definitions") == 0) {
		if (parse_bool(f->value, &o->scan_definitions))
			goto bad;
	} else if (strcmp(f->name, "--pin-mode") == 0) {
		o->pins = strcmp(f->value, "off") != 0;
		if (o->pins && pin_mode_parse(f->value, &o->pin_mode))
			goto bad;
	} else if (strcmp(f->name, "--pin-store") == 0) {
		free(o->pin_store);
		o->pin_store = mg_strdup(f->value);
	} else if (strcmp(f->name, "--on-malicious") == 0) {
		if (gd_def_actions_parse(f->value, &o->on_malicious))
			goto bad;
	} else if (strcmp(f->name, "--on-suspicious") == 0) {
		if (gd_def_actions_parse(f->value, &o->on_suspicious))
			goto bad;
	} else if (strcmp(f->name, "--inspect-results") == 0) {
		o->inspect_results = true;
		if (f->value && strcmp(f->value, "true") != 0 && strcmp(f->value, "1") != 0) {
			if (strcmp(f->value, "false") == 0 || strcmp(f->value, "0") == 0 ||
			    strcmp(f->value, "off") == 0)
				o->inspect_results = false;
			else if (gd_inject_mode_parse(f->value, &o->inject_mode))
				goto bad;
		}
	} else if (strcmp(f->name, "--secrets") == 0) {
		char **parts = mg_split_csv(f->value);

		/* Docker's form is a colon-separated search path */
		for (size_t i = 0; parts[i]; i++) {
			char *p = parts[i], *colon;

			while (p) {
				colon = strchr(p, ':');
				if (colon)
					*colon = '\0';
				if (strcmp(p, "docker-desktop") == 0)
					mg_warn("--secrets docker-desktop: Docker Desktop's store is not "
						"reachable here; use 'mcpguard secret set'");
				else if (*p)
					o->secret_files = mg_strv_push(o->secret_files, p);
				p = colon ? colon + 1 : NULL;
			}
		}
		mg_strv_free(parts);
	} else if (strcmp(f->name, "--audit-max-size") == 0) {
		if (mg_parse_size(f->value, &o->audit_max_size))
			goto bad;
	} else if (strcmp(f->name, "--secret-store") == 0) {
		free(o->secret_store);
		o->secret_store = mg_strdup(f->value);
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
	} else if (in_list(ignored_value_flags, f->name) || in_list(ignored_switches, f->name)) {
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
		for (size_t k = 0; ignored_value_flags[k]; k++)
			needs = needs || is_flag(argv[i], ignored_value_flags[k]);
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

/* ---- the command ---- */

static bool loopback(const char *host)
{
	return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0 ||
	       strcmp(host, "localhost") == 0 || mg_starts_with(host, "127.");
}

/* Safe by default: a token is required unless the operator turns it off,
 * and then only loopback makes sense. */
static void http_token(struct opts *o)
{
	const char *env = getenv("MCP_GATEWAY_AUTH_TOKEN");
	unsigned char rnd[24];
	char hex[49];

	if (o->allow_unauthenticated) {
		if (!loopback(o->http.host))
			mg_warn("--allow-unauthenticated on %s: anyone who can reach this address "
				"can use every tool", o->http.host);
		o->http.token = NULL;
		return;
	}
	if (env && *env) {
		o->http.token = env;
		return;
	}
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	o->token = mg_strdup(hex);
	o->http.token = o->token;
	mg_info("no MCP_GATEWAY_AUTH_TOKEN set; clients must send 'Authorization: Bearer %s'",
		hex);
}

static void opts_release(struct opts *o)
{
	free(o->token);
	mg_strv_free(o->catalogs);
	mg_strv_free(o->servers);
	mg_strv_free(o->tools);
	mg_strv_free(o->env);
	free(o->audit_path);
	free(o->cache_dir);
	free(o->workspace_dir);
	free(o->npm_dir);
	mg_strv_free(o->secret_files);
	free(o->secret_store);
	free(o->pin_store);
}

/* Secrets never reach a log line, an audit record or the list cache:
 * each passes the secrets check's redaction first. */
static bool redact_text(void *ctx, const char *text, size_t len, struct mg_buf *out)
{
	return gd_leak_check_filter(ctx, text, len, out) > 0;
}

static bool redact_log(void *ctx, const char *line, char *out, size_t outlen)
{
	struct mg_buf b;
	bool hit;

	mg_buf_init(&b, outlen - 1);
	hit = gd_leak_check_filter(ctx, line, strlen(line), &b) > 0;
	if (hit)
		mg_strlcpy(out, b.data, outlen);
	mg_buf_release(&b);
	return hit;
}

/* Where servers' workspaces and npx packages live.  As root: system
 * folders (the sandboxes' ids must reach them; a 0700 home is in the way). */
static void sandbox_dirs(struct opts *o)
{
	struct mg_buf b;
	char *base;

	if (!o->workspace_dir) {
		base = geteuid() == 0 ? mg_strdup("/var/lib/mcpguard") : mg_state_dir();
		mg_buf_init(&b, PATH_MAX);
		mg_buf_addf(&b, "%s/workspaces", base);
		o->workspace_dir = mg_buf_detach(&b, NULL);
		free(base);
	}
	o->npm_dir = geteuid() == 0 ? mg_strdup("/var/cache/mcpguard") : mg_cache_dir();
	o->cfg.workspace_dir = o->workspace_dir;
	o->cfg.npm_dir = o->npm_dir;
}

/* Every instance and client connection is a few file descriptors: take
 * all the process may have.  The limits (--max-instances, the reserve)
 * are worked out from what this gives. */
static void raise_nofile(void)
{
	struct rlimit rl;
	rlim_t was;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= rl.rlim_max)
		return;
	was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		mg_debug("RLIMIT_NOFILE raised from %llu to its hard limit %llu",
			 (unsigned long long)was, (unsigned long long)rl.rlim_max);
}

/* Large buffers (messages, queued output) are mapped and unmapped on
 * their own.  glibc's default raises the threshold after the first such
 * free, and from then on serves them from the heap, which keeps freed
 * megabytes resident: the output budget would then bound what is queued,
 * but not the memory the gateway holds. */
static void tune_malloc(void)
{
#ifdef __GLIBC__
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
}

static int run(struct opts *o)
{
	struct catalog cat;
	struct gateway *gw = NULL;
	struct aud_log *audit = NULL;
	struct cli_secrets secrets = { 0 };
	struct gd_check *leak = NULL, *inject = NULL, *checks[4];
	struct gd_def_check *scan = NULL, *pin = NULL, *def_checks[4];
	size_t n_checks = 0, n_def_checks = 0;
	struct mg_budget queued;
	struct mg_err err;
	uv_loop_t loop;
	char *state = NULL, *path = NULL;
	int rc = CLI_FAIL;

	raise_nofile();
	tune_malloc();
	mg_budget_init(&queued, (size_t)o->max_queued);
	o->http.budget = &queued;
	catalog_init(&cat);
	uv_loop_init(&loop);
	if (load_catalogs(&cat, o->catalogs))
		goto out;
	if (cli_secrets_load(&secrets, &cat, o->secret_files, o->secret_store, &err)) {
		fprintf(stderr, "mcpguard: %s\n", err.msg);
		goto out;
	}
	o->cfg.secrets = secrets.list;
	o->cfg.n_secrets = secrets.n_values;
	/* The secrets check is built before anything is logged that could
	 * carry a value, and filters the log from here on. */
	if (cli_secrets_check(&secrets, o->block_secrets ? o->leak_mode : GD_LEAK_LOG, &leak, &err)) {
		fprintf(stderr, "mcpguard: %s\n", err.msg);
		goto out;
	}
	mg_log_set_filter(redact_log, leak);
	o->cfg.redact = redact_text;
	o->cfg.redact_ctx = leak;
	/* The checks every message passes, in order. */
	if (o->block_secrets)
		checks[n_checks++] = leak;
	if (o->inspect_results) {
		char why[256];

		if (gd_inject_check_new(&inject, o->inject_mode, why, sizeof(why))) {
			fprintf(stderr, "mcpguard: the result inspection does not start: %s\n", why);
			goto out;
		}
		checks[n_checks++] = inject;
	}
	o->cfg.checks = checks;
	o->cfg.n_checks = n_checks;
	/* The checks every definition a server lists passes, in order: the
	 * pins see what the server sent, the scanner after them. */
	if (o->pins) {
		if (pin_check_new(&pin, o->pin_store, o->pin_mode, &err)) {
			fprintf(stderr, "mcpguard: %s\n", err.msg);
			goto out;
		}
		def_checks[n_def_checks++] = pin;
	}
	if (o->scan_definitions) {
		char why[256], *kept = NULL;
		size_t kept_len = 0;
		int bad;

		cli_dbcache_read(&kept, &kept_len);
		bad = gd_def_check_new(&scan, o->on_malicious, o->on_suspicious, kept, kept_len, why,
				       sizeof(why));
		free(kept);
		if (bad) {
			fprintf(stderr, "mcpguard: the definition scanner failed to start: %s\n", why);
			goto out;
		}
		def_checks[n_def_checks++] = scan;
	}
	o->cfg.def_checks = def_checks;
	o->cfg.n_def_checks = n_def_checks;
	if (o->cfg.log_calls) {
		if (!o->audit_path)
			path = cli_default_audit_path();
		if (aud_open(&audit, o->audit_path ? o->audit_path : path, o->log_arguments)) {
			fprintf(stderr, "mcpguard: cannot open the audit log %s: %s\n",
				o->audit_path ? o->audit_path : path, strerror(errno));
			goto out;
		}
	}
	aud_set_filter(audit, redact_text, leak);
	aud_set_max_size(audit, o->audit_max_size);
	o->cfg.audit = audit;
	o->cfg.tool_patterns = o->tools;
	if (!o->no_cache && !o->cache_dir)
		o->cache_dir = mg_cache_dir();
	o->cfg.cache_dir = o->no_cache ? NULL : o->cache_dir;
	sandbox_dirs(o);
	for (size_t i = 0; default_env[i]; i++)
		o->env = mg_strv_push(o->env, default_env[i]);
	o->cfg.base_env = o->env;
	if (gw_create(&gw, &loop, &o->cfg, &cat, o->servers_given ? o->servers : NULL, &err)) {
		fprintf(stderr, "mcpguard: %s\n", err.msg);
		goto out;
	}
	mg_info("gateway ready on %s: %zu server%s%s%s", o->stdio ? "stdio" : "HTTP",
		gw_server_count(gw), gw_server_count(gw) == 1 ? "" : "s",
		audit ? ", audit log " : "", audit ? aud_path(audit) : "");
	if (o->stdio) {
		rc = cli_serve_stdio(&loop, gw, &queued);
	} else {
		http_token(o);
		o->http.audit = audit;
		rc = cli_serve_http(&loop, gw, &o->http);
	}
	if (queued.evictions || queued.peak > queued.max / 2)
		mg_info("output queued to clients peaked at %zu KiB of %zu KiB "
			"(--max-queued-output); %llu queue%s dropped to stay within it",
			queued.peak >> 10, queued.max >> 10, (unsigned long long)queued.evictions,
			queued.evictions == 1 ? "" : "s");
out:
	gw_free(gw);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop))
		mg_debug("loop closed with handles still open");
	if (aud_head(audit))
		mg_info("audit log head %s (keep it elsewhere: 'mcpguard audit verify %s --head HASH' then "
			"also finds records cut from the end)", aud_head(audit), aud_path(audit));
	aud_close(audit);
	mg_log_set_filter(NULL, NULL);
	if (leak)
		leak->free(leak);
	if (scan) {
		cli_dbcache_write(scan);
		scan->free(scan);
	}
	if (pin)
		pin->free(pin);
	if (inject)
		inject->free(inject);
	cli_secrets_release(&secrets);
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
	o.cfg.cpus = 1;
	o.cfg.memory_bytes = 2ull << 30;
	o.cfg.pids = 512;
	o.block_secrets = true;
	o.audit_max_size = 256ull << 20;
	o.leak_mode = GD_LEAK_REDACT;
	o.scan_definitions = true;
	o.pins = true;
	o.pin_mode = PIN_MODE_TOFU;
	o.on_malicious = GD_ACT_MALICIOUS_DEFAULT | GD_ACT_LOG;
	o.on_suspicious = GD_ACT_SUSPICIOUS_DEFAULT | GD_ACT_LOG;
	o.inspect_results = true;
	o.inject_mode = GD_INJECT_ANNOTATE;
	o.cfg.reclaim_idle_ms = 60000;
	o.max_queued = 256u << 20;
	o.stdio = true;
	o.http.host = "127.0.0.1";
	o.http.port = 8811;
	o.http.session_idle_ms = 30 * 60 * 1000;
	o.http.max_sessions = 10000;
	o.http.max_body = o.cfg.max_message;
	o.http.max_connections = 4096;
	o.http.reserved_connections = SIZE_MAX;         /* an eighth, unless given */
	o.http.max_per_address = SIZE_MAX;              /* half, unless given */
	o.http.header_timeout_ms = 10000;
	o.http.idle_timeout_ms = 30000;
	rc = parse_args(argc - 2, argv + 2, &o);
	o.http.max_body = o.cfg.max_message;
	if (rc == 0 && o.max_queued < 2 * (uint64_t)o.cfg.max_message) {
		/* One largest message must fit while another is still queued. */
		fprintf(stderr, "mcpguard: --max-queued-output must be at least twice "
			"--max-message-size (%zu bytes)\n", o.cfg.max_message);
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = run(&o);
	else
		rc = rc > 0 ? CLI_OK : CLI_USAGE;
	opts_release(&o);
	return rc;
}
