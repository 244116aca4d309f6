#include "runtime/npm.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "base/time.h"

#define INSTALL_TIMEOUT_MS (5 * 60 * 1000)
#define OUTPUT_MAX 8192         /* npm's output kept for an error message */

extern char **environ;

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

bool rt_npx_is(char *const *argv)
{
	if (!argv || !argv[0])
		return false;
	if (strcmp(base_name(argv[0]), "npx") == 0)
		return true;
	return strcmp(base_name(argv[0]), "npm") == 0 && argv[1] && strcmp(argv[1], "exec") == 0;
}

struct npx_cmd {
	const char *spec;       /* PKG[@VER] */
	const char *bin;        /* -p PKG CMD: the program; else NULL */
	char *const *args;      /* after the package (or program) */
	char name[256];         /* PKG without the version */
};

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-' || c == '~';
}

/* A registry package: [@scope/]name[@version-or-range]; no git, URL, path
 * or alias spec (those would fetch what the catalog does not pin). */
static int parse_spec(struct npx_cmd *x, struct mg_err *err)
{
	const char *s = x->spec, *p = s, *at;

	if (*p == '@') {
		p++;
		while (name_char(*p))
			p++;
		if (*p != '/' || p == s + 1)
			goto bad;
		p++;
	}
	at = p;
	while (name_char(*p))
		p++;
	if (p == at || (size_t)(p - s) >= sizeof(x->name))
		goto bad;
	snprintf(x->name, sizeof(x->name), "%.*s", (int)(p - s), s);
	if (*p == '@') {
		for (p++; *p; p++)
			if (!name_char(*p) && !strchr("^<>=*+ |", *p))
				goto bad;
	} else if (*p) {
		goto bad;
	}
	return 0;
bad:
	return mg_err_set(err, -EINVAL, "npx package '%s' is not a registry package name "
			  "([@scope/]name[@version]); git, URL, path and alias specs are not "
			  "installed for a sandbox", s);
}

static int parse_npx(char *const *argv, struct npx_cmd *x, struct mg_err *err)
{
	size_t i = strcmp(base_name(argv[0]), "npm") == 0 ? 2 : 1;
	const char *pkg = NULL;

	memset(x, 0, sizeof(*x));
	for (; argv[i] && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-y") || !strcmp(a, "--yes") || !strcmp(a, "--quiet") ||
		    !strcmp(a, "-q") || !strcmp(a, "--no-install"))
			continue;
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if ((!strcmp(a, "-p") || !strcmp(a, "--package")) && argv[i + 1]) {
			pkg = argv[++i];
			continue;
		}
		if (mg_starts_with(a, "--package=")) {
			pkg = a + strlen("--package=");
			continue;
		}
		return mg_err_set(err, -EINVAL, "npx option '%s' is not understood in a sandboxed "
				  "server; run the package's program with node instead", a);
	}
	if (!argv[i])
		return mg_err_set(err, -EINVAL, "npx without a package");
	x->spec = pkg ? pkg : argv[i];
	x->bin = pkg ? argv[i] : NULL;
	x->args = argv + i + 1;
	return parse_spec(x, err);
}

/* Run npm install into dir, its output kept for a failure message. */
static int npm_install(const char *spec, const char *dir, const char *path_env,
		       struct mg_err *err)
{
	char *const argv[] = { "npm", "install", "--prefix", (char *)(uintptr_t)dir, "--no-save",
			       "--ignore-scripts", "--no-audit", "--no-fund", "--no-package-lock",
			       "--no-update-notifier", "--loglevel=error", (char *)(uintptr_t)spec,
			       NULL };
	char out[OUTPUT_MAX + 1];
	size_t used = 0;
	uint64_t deadline = mg_now_ms() + INSTALL_TIMEOUT_MS;
	int pfd[2], status = 0, rc = 0;
	bool timed_out = false;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return mg_err_set(err, -errno, "cannot create a pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return mg_err_set(err, -errno, "cannot fork: %s", strerror(errno));
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		if (path_env)
			setenv("PATH", path_env, 1);
		execvp(argv[0], argv);
		dprintf(2, "cannot run npm: %s\n", strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		struct pollfd p = { pfd[0], POLLIN, 0 };
		uint64_t now = mg_now_ms();
		ssize_t n;

		if (now >= deadline) {
			kill(pid, SIGKILL);
			timed_out = true;
			break;
		}
		if (poll(&p, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			break;
		if (used == OUTPUT_MAX) {       /* keep the tail */
			memmove(out, out + OUTPUT_MAX / 2, OUTPUT_MAX / 2);
			used = OUTPUT_MAX / 2;
		}
		n = read(pfd[0], out + used, OUTPUT_MAX - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	close(pfd[0]);
	out[used] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (timed_out)
		rc = mg_err_set(err, -ETIMEDOUT, "npm install %s took longer than %d s", spec,
				INSTALL_TIMEOUT_MS / 1000);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		rc = mg_err_set(err, -EIO, "npm install %s failed: %s", spec,
				used ? out + (used > 300 ? used - 300 : 0) : "(no output)");
	return rc;
}

/* The program of an installed package: bin (string or object). */
static int find_entry(const struct npx_cmd *x, const char *pkg_dir, char **entry,
		      struct mg_err *err)
{
	char path[2 * PATH_MAX], real[PATH_MAX], real_pkg[PATH_MAX], *text = NULL;
	const char *unscoped = strchr(x->name, '/') ? strchr(x->name, '/') + 1 : x->name;
	const char *rel = NULL;
	json_t *pj = NULL, *bin;
	json_error_t je;
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "%s/package.json", pkg_dir);
	if ((rc = mg_read_file(path, 1 << 20, &text, &len)))
		return mg_err_set(err, rc, "cannot read %s: %s", path, strerror(-rc));
	pj = json_loadb(text, len, 0, &je);
	free(text);
	bin = json_object_get(pj, "bin");
	if (json_is_string(bin)) {
		rel = json_string_value(bin);
	} else if (json_is_object(bin)) {
		rel = json_string_value(json_object_get(bin, x->bin ? x->bin : unscoped));
		if (!rel && !x->bin && json_object_size(bin) == 1)
			rel = json_string_value(json_object_iter_value(json_object_iter(bin)));
	}
	if (!rel) {
		rc = mg_err_set(err, -ENOENT, "package %s has no program%s%s to run", x->name,
				x->bin ? " named " : "", x->bin ? x->bin : "");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", pkg_dir, rel);
	if (!realpath(path, real) || !realpath(pkg_dir, real_pkg) ||
	    strncmp(real, real_pkg, strlen(real_pkg)) != 0) {
		rc = mg_err_set(err, -ENOENT, "package %s: its program %s is missing or lies "
				"outside the package", x->name, rel);
		goto out;
	}
	*entry = mg_strdup(real);
out:
	json_decref(pj);
	return rc;
}

/* Node programs run with node (the bin's #! line says which interpreter). */
static bool is_node_program(const char *entry)
{
	char head[256];
	ssize_t n;
	int fd;

	if (mg_ends_with(entry, ".js") || mg_ends_with(entry, ".mjs") ||
	    mg_ends_with(entry, ".cjs"))
		return true;
	fd = open(entry, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, head, sizeof(head) - 1);
	close(fd);
	if (n < 2)
		return false;
	head[n] = '\0';
	head[strcspn(head, "\n")] = '\0';
	return strncmp(head, "#!", 2) == 0 && strstr(head, "node");
}

int rt_npx_resolve(char *const *argv, const char *cache_root, const char *path_env,
		   char ***out, struct mg_err *err)
{
	struct npx_cmd x;
	char dir[PATH_MAX], tmp[PATH_MAX + 32], pkg_dir[PATH_MAX + 300], *entry = NULL, *p;
	struct stat st;
	int rc;

	*out = NULL;
	if ((rc = parse_npx(argv, &x, err)))
		return rc;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/npm/%s", cache_root, x.spec) >= sizeof(dir))
		return mg_err_set(err, -ENAMETOOLONG, "cache path too long");
	for (p = dir + strlen(cache_root) + 5; *p; p++)
		if (*p == '/')
			*p = '+';       /* one folder per spec */
	snprintf(pkg_dir, sizeof(pkg_dir), "%s/node_modules/%s", dir, x.name);
	if (stat(pkg_dir, &st) < 0) {
		if (!strchr(x.spec + 1, '@'))
			mg_warn("npx package %s has no version: the version installed now is kept "
				"until %s is removed; pin one (%s@X.Y.Z)", x.spec, dir, x.spec);
		mg_info("installing %s with npm into %s (once; install scripts off)", x.spec, dir);
		snprintf(tmp, sizeof(tmp), "%s.tmp-%d", dir, (int)getpid());
		mg_rm_rf(tmp);
		if ((rc = mg_mkdir_p(tmp, 0755)))
			return mg_err_set(err, rc, "cannot create %s: %s", tmp, strerror(-rc));
		if ((rc = npm_install(x.spec, tmp, path_env, err))) {
			mg_rm_rf(tmp);
			return rc;
		}
		/* Whole or not at all: a half install is never used. */
		if (rename(tmp, dir) < 0) {
			rc = -errno;
			mg_rm_rf(tmp);
			if (stat(pkg_dir, &st) < 0)     /* not installed by another gateway */
				return mg_err_set(err, rc, "cannot move %s into place: %s", tmp,
						  strerror(-rc));
		}
	}
	if ((rc = find_entry(&x, pkg_dir, &entry, err)))
		return rc;
	*out = mg_calloc(1, sizeof(char *));
	if (is_node_program(entry))
		*out = mg_strv_push(*out, "node");
	*out = mg_strv_push(*out, entry);
	for (size_t i = 0; x.args[i]; i++)
		*out = mg_strv_push(*out, x.args[i]);
	free(entry);
	return 0;
}
