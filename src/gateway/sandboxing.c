/* Every local server runs in a sandbox (runtime/sandbox.c).  What each one
 * gets is worked out once, when the gateway starts, and logged:
 *   - its command, with npx resolved to a package installed on the host
 *     (runtime/npm.c) and the program's absolute path;
 *   - read-only binds of what the command needs, read-write binds of the
 *     folders it names, the catalog's volumes; sensitive paths refused
 *     (runtime/binds.c), and checked again on what is opened at every
 *     instance start (gw_sandbox_spawn);
 *   - a persistent /workspace of its own, owned by the server's ids;
 *   - limits: the server's memory/cpus/pids, else the gateway's flags.
 * A server that asks for no sandbox (sandbox: false) runs on the host only
 * when the gateway was started with --allow-unsandboxed, with a warning at
 * every start.  A server whose sandbox cannot be prepared does not start,
 * and every attempt says why. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "base/buf.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "gateway/internal.h"
#include "runtime/binds.h"
#include "runtime/egress.h"
#include "runtime/npm.h"

#define EGRESS_PORT 3128        /* the proxy inside: http://127.0.0.1:3128 */

struct gw_sandbox {
	char **argv;                    /* the command to run inside */
	char **ro, **rw;                /* bind specs */
	struct rt_binds binds;          /* the same, as validated (owners, types) */
	char *workspace;                /* host folder bound at /workspace */
	struct rt_bind ws;              /* it, as validated (ws.host: workspace) */
	bool ws_volume;                 /* a volume: the path rules apply */
	char *path_env;                 /* PATH inside */
	struct sbx_config cfg;          /* binds, limits, filter; the rest per start */
	bool egress;                    /* allowHosts: egress through the proxy */
	struct eg_policy policy;
};

/* Programs are looked up in the gateway's own PATH. */
static const char *host_path(void)
{
	const char *p = getenv("PATH");

	return p ? p : "/usr/local/bin:/usr/bin:/bin";
}

/* The server's own folder, owned by its ids, kept between runs. */
static int make_workspace(struct gw_server *srv, struct gw_sandbox *sb, struct mg_err *err)
{
	const char *root = srv->gw->cfg.workspace_dir;
	uid_t uid = sbx_slot_uid(sb->cfg.slot);
	char *real;
	struct mg_buf b;
	struct stat st;
	int rc;

	if (!root)
		return 0;               /* a fresh tmpfs each time */
	mg_buf_init(&b, 8192);
	mg_buf_addf(&b, "%s/%s", root, srv->def->name);
	sb->workspace = mg_buf_detach(&b, NULL);
	if ((rc = mg_mkdir_p(root, 0700)))
		return mg_err_set(err, rc, "cannot create %s: %s", root, strerror(-rc));
	if (mkdir(sb->workspace, 0700) < 0 && errno != EEXIST)
		return mg_err_set(err, -errno, "cannot create %s: %s", sb->workspace,
				  strerror(errno));
	if (lstat(sb->workspace, &st) < 0 || !S_ISDIR(st.st_mode))
		return mg_err_set(err, -ENOTDIR, "%s is not a folder", sb->workspace);
	/* Without root the sandbox runs with the user's own ids, who owns
	 * the folder already. */
	if (geteuid() == 0 && st.st_uid != uid && chown(sb->workspace, uid, uid) < 0)
		return mg_err_set(err, -errno, "cannot give %s to the server's ids: %s",
				  sb->workspace, strerror(errno));
	/* Its real path and owner, as they are now: what every instance
	 * must find there (gw_sandbox_spawn). */
	if (!(real = realpath(sb->workspace, NULL)) || lstat(real, &st) < 0) {
		rc = mg_err_set(err, -errno, "%s: %s", sb->workspace, strerror(errno));
		free(real);
		return rc;
	}
	free(sb->workspace);
	sb->workspace = real;
	sb->ws = (struct rt_bind){ sb->workspace, NULL, true, st.st_uid, st.st_gid,
				   st.st_mode & S_IFMT };
	return 0;
}

static int add_volumes(struct gw_server *srv, struct rt_binds *binds, struct mg_err *err)
{
	for (size_t i = 0; srv->def->volumes && srv->def->volumes[i]; i++) {
		const char *v = srv->def->volumes[i];
		struct rt_bind b;
		int rc;

		if (strstr(v, "{{"))
			return mg_err_set(err, -EINVAL, "volume '%s' is a Docker template, which "
					  "mcpguard does not expand; write the paths", v);
		if ((rc = rt_volume_parse(v, &b, err)))
			return rc;
		if (strcmp(b.inside, "/workspace") == 0) {
			/* The server's workspace is this folder instead. */
			free(srv->sandbox->workspace);
			srv->sandbox->workspace = mg_steal(&b.host);
			srv->sandbox->ws = b;
			srv->sandbox->ws.host = srv->sandbox->workspace;
			srv->sandbox->ws.inside = NULL;
			srv->sandbox->ws_volume = true;
		} else {
			rt_binds_add(binds, b.host, b.inside, b.rw);
		}
		free(b.host);
		free(b.inside);
	}
	return 0;
}

/* allowHosts: one listener in the sandbox, served by a proxy per instance. */
static int setup_egress(struct gw_server *srv, struct gw_sandbox *sb, struct mg_err *err)
{
	char **hosts = srv->def->allow_hosts;
	int rc;

	if (!hosts || !hosts[0])
		return 0;
	if (srv->def->disable_network) {
		mg_warn("server '%s': disableNetwork wins over allowHosts: no network",
			srv->def->name);
		return 0;
	}
	if ((rc = eg_policy_parse(&sb->policy, hosts, err)))
		return rc;
	sb->egress = true;
	sb->cfg.egress_port = EGRESS_PORT;
	mg_info("server '%s' may reach %zu host pattern%s through the egress proxy",
		srv->def->name, mg_strv_len(hosts), mg_strv_len(hosts) == 1 ? "" : "s");
	return 0;
}

static int prepare(struct gw_server *srv, struct gw_sandbox *sb, struct mg_err *err)
{
	const struct gw_config *cfg = &srv->gw->cfg;
	struct rt_binds binds = { NULL, 0 };
	char **resolved = NULL, *argv0 = NULL;
	struct mg_buf b;
	int rc;

	sb->cfg.named_slot = true;
	sb->cfg.slot = sbx_named_slot(srv->def->name);
	sb->cfg.memory_bytes = srv->def->memory_bytes ? srv->def->memory_bytes
						      : cfg->memory_bytes;
	sb->cfg.cpus = srv->def->cpus ? srv->def->cpus : cfg->cpus;
	sb->cfg.pids_max = srv->def->pids ? srv->def->pids : cfg->pids;
	sb->cfg.filter = srv->gw->filter_ok ? &srv->gw->filter : NULL;
	if (!sb->cfg.filter)
		return mg_err_set(err, -ENOSYS, "the seccomp filter could not be built");
	if (rt_npx_is(srv->def->command)) {
		if (!cfg->npm_dir)
			return mg_err_set(err, -EINVAL, "npx servers need a cache folder");
		if ((rc = rt_npx_resolve(srv->def->command, cfg->npm_dir, host_path(),
					 &resolved, err)))
			return rc;
	}
	rc = rt_command_binds(resolved ? resolved : srv->def->command, host_path(),
			      srv->def->cwd, &binds, &argv0, err);
	if (!rc)
		rc = make_workspace(srv, sb, err);
	if (!rc)
		rc = add_volumes(srv, &binds, err);
	if (rc)
		goto out;
	sb->argv = mg_calloc(1, sizeof(char *));
	sb->argv = mg_strv_push(sb->argv, argv0);
	for (char *const *a = (resolved ? resolved : srv->def->command) + 1; *a; a++)
		sb->argv = mg_strv_push(sb->argv, *a);
	sb->ro = rt_binds_specs(&binds, false);
	sb->rw = rt_binds_specs(&binds, true);
	sb->cfg.ro_binds = sb->ro;
	sb->cfg.rw_binds = sb->rw;
	sb->cfg.workspace = sb->workspace;
	/* The program's folder first, so that what it starts by name (node
	 * from a #! line) is found inside too. */
	mg_buf_init(&b, 65536);
	mg_buf_addf(&b, "%.*s:/usr/local/bin:/usr/bin:/bin", (int)(strrchr(argv0, '/') - argv0),
		    argv0);
	sb->path_env = mg_buf_detach(&b, NULL);
	if ((rc = setup_egress(srv, sb, err)))
		goto out;
	mg_info("server '%s' runs sandboxed: %s; workspace %s; %zu read-only and %zu writable "
		"binds; memory %llu MiB, cpus %.2g, pids %u; network: %s", srv->def->name,
		sb->argv[0], sb->workspace ? sb->workspace : "(temporary)", mg_strv_len(sb->ro),
		mg_strv_len(sb->rw), (unsigned long long)(sb->cfg.memory_bytes >> 20),
		sb->cfg.cpus, sb->cfg.pids_max, sb->egress ? "only through the egress proxy"
		: "none");
	for (size_t i = 0; i < binds.n; i++)
		mg_debug("server '%s': bind %s at %s (%s)", srv->def->name, binds.v[i].host,
			 binds.v[i].inside, binds.v[i].rw ? "rw" : "ro");
	sb->binds = binds;              /* checked again at each start */
	binds = (struct rt_binds){ NULL, 0 };
out:
	mg_strv_free(resolved);
	free(argv0);
	rt_binds_release(&binds);
	return rc;
}

void gw_sandbox_prepare(struct gw_server *srv)
{
	struct mg_err err;

	if (srv->def->remote_url || !srv->def->command)
		return;
	if (srv->def->unsandboxed) {
		if (!srv->gw->cfg.allow_unsandboxed) {
			mg_err_set(&err, -EPERM, "it asks to run without a sandbox (sandbox: false, "
				   "%s), which needs the gateway flag --allow-unsandboxed",
				   srv->def->source ? srv->def->source : "catalog");
			srv->sandbox_error = mg_strdup(err.msg);
			mg_warn("server '%s' will not start: %s", srv->def->name, err.msg);
		} else {
			mg_warn("WARNING: server '%s' runs WITHOUT a sandbox: it can read and change "
				"everything this gateway's user can (sandbox: false, %s; allowed by "
				"--allow-unsandboxed)", srv->def->name,
				srv->def->source ? srv->def->source : "catalog");
		}
		return;
	}
	srv->sandbox = MG_NEW(struct gw_sandbox);
	if (prepare(srv, srv->sandbox, &err)) {
		srv->sandbox_error = mg_strdup(err.msg);
		mg_warn("server '%s' cannot run in its sandbox: %s", srv->def->name, err.msg);
	}
}

void gw_sandbox_release(struct gw_server *srv)
{
	struct gw_sandbox *sb = srv->sandbox;

	free(mg_steal(&srv->sandbox_error));
	if (!sb)
		return;
	if (sb->egress)
		eg_policy_release(&sb->policy);
	mg_strv_free(sb->argv);
	mg_strv_free(sb->ro);
	mg_strv_free(sb->rw);
	rt_binds_release(&sb->binds);
	free(sb->workspace);
	free(sb->path_env);
	free(sb);
	srv->sandbox = NULL;
}

/* The environment inside: the server's, with a home, PATH and user of
 * the sandbox's own. */
static char **sandbox_env(const struct gw_sandbox *sb, char **env)
{
	static const char *const own[] = { "HOME=/workspace", "TMPDIR=/tmp", "USER=sandbox",
					   "LOGNAME=sandbox" };
	static const char *const proxy[] = { "HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
					     "https_proxy" };
	char **out = mg_calloc(1, sizeof(char *));
	struct mg_buf b;

	for (size_t i = 0; env[i]; i++) {
		bool replaced = mg_starts_with(env[i], "PATH=");

		for (size_t k = 0; k < MG_ARRAY_LEN(own); k++)
			replaced = replaced || !strncmp(env[i], own[k], strcspn(own[k], "=") + 1);
		for (size_t k = 0; sb->egress && k < MG_ARRAY_LEN(proxy); k++)
			replaced = replaced || (mg_starts_with(env[i], proxy[k]) &&
						env[i][strlen(proxy[k])] == '=');
		if (!replaced)
			out = mg_strv_push(out, env[i]);
	}
	for (size_t k = 0; k < MG_ARRAY_LEN(own); k++)
		out = mg_strv_push(out, own[k]);
	mg_buf_init(&b, 70000);
	mg_buf_addf(&b, "PATH=%s", sb->path_env);
	out = mg_strv_push(out, b.data);
	/* Programs that honour the usual variables find the proxy; the
	 * others find no way out at all. */
	for (size_t k = 0; sb->egress && k < MG_ARRAY_LEN(proxy); k++) {
		mg_buf_reset(&b);
		mg_buf_addf(&b, "%s=http://127.0.0.1:%d", proxy[k], EGRESS_PORT);
		out = mg_strv_push(out, b.data);
	}
	mg_buf_release(&b);
	return out;
}

/* Each egress decision is a line of the audit log too. */
static void egress_decided(void *ctx, const struct eg_decision *d)
{
	struct gw_upstream *up = ctx;
	char method[48];
	struct aud_record r = { 0 };

	snprintf(method, sizeof(method), "egress %s", d->method);
	r.session = up->owner ? up->owner->id : NULL;
	r.server = up->srv->def->name;
	r.method = method;
	r.name = d->target;
	r.upstream_id = -1;
	r.outcome = d->allowed ? "ok" : d->status == 502 || d->status == 504 ? "error" : "refused";
	r.error_code = d->allowed ? 0 : d->status;
	r.error = d->reason;
	aud_write(up->gw->cfg.audit, &r);
}

static void egress_closed(void *ctx)
{
	gw_upstream_handle_closed(ctx);
}

int gw_sandbox_attach(struct gw_upstream *up, struct mg_err *err)
{
	struct gw_sandbox *sb = up->srv->sandbox;
	struct eg_proxy_config cfg = { 0 };
	int fd, rc;

	if (!sb || !sb->egress || !up->child.sbx)
		return 0;
	fd = up->child.sbx->egress_fd;
	up->child.sbx->egress_fd = -1;
	cfg.policy = &sb->policy;
	cfg.label = up->label;
	cfg.on_decision = egress_decided;
	cfg.ctx = up;
	rc = eg_proxy_open(up->gw->loop, fd, &cfg, &up->egress, err);
	if (!rc)
		up->open_handles++;
	return rc;
}

void gw_sandbox_detach(struct gw_upstream *up)
{
	if (up->egress)
		eg_proxy_close(mg_steal(&up->egress), egress_closed, up);
}

/* Every bind source of this start, opened and checked again (a folder's
 * owner may have swapped it since the gateway started: rt_bind_open) into
 * fds[], in the order the sandbox takes them; their count, or -errno with
 * err naming the server and the path (none left open). */
static int open_binds(struct gw_server *srv, int *fds, struct mg_err *err)
{
	struct gw_sandbox *sb = srv->sandbox;
	size_t n = sb->binds.n;
	struct mg_err why;
	struct stat st;
	int rc;

	if ((rc = rt_binds_open(&sb->binds, fds, &why)))
		goto refused;
	if (sb->workspace && (rc = rt_bind_open(&sb->ws, sb->ws_volume, &fds[n], &st, &why))) {
		while (n > 0)
			close(fds[--n]);
		goto refused;
	}
	return (int)(sb->workspace ? n + 1 : n);
refused:
	return mg_err_set(err, rc, "server '%s' cannot run in its sandbox: %s", srv->def->name,
			  why.msg);
}

int gw_sandbox_spawn(struct gw_upstream *up, char **env, rt_exit_cb on_exit, struct mg_err *err)
{
	struct gw_server *srv = up->srv;
	struct rt_spawn sp = { srv->def->command, env, srv->def->cwd, NULL };
	char **inside_env = NULL;
	int *fds = NULL, n = 0, rc;

	if (srv->sandbox_error)
		return mg_err_set(err, -EPERM, "%s", srv->sandbox_error);
	if (srv->sandbox) {
		fds = mg_calloc(srv->sandbox->binds.n + 1, sizeof(int));
		if ((n = open_binds(srv, fds, err)) < 0) {
			free(fds);
			return n;
		}
		inside_env = sandbox_env(srv->sandbox, env);
		sp.argv = srv->sandbox->argv;
		sp.envp = inside_env;
		sp.sandbox = &srv->sandbox->cfg;
		srv->sandbox->cfg.bind_fds = fds;
	} else {
		mg_warn("%s starts WITHOUT a sandbox (sandbox: false)", up->label);
	}
	rc = rt_child_spawn(srv->gw->loop, &up->child, &sp, on_exit, err);
	if (srv->sandbox)
		srv->sandbox->cfg.bind_fds = NULL;
	while (n > 0)
		close(fds[--n]);
	free(fds);
	mg_strv_free(inside_env);
	return rc;
}
