#include "runtime/binds.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/str.h"

/* Host paths no sandbox may see, nor any folder holding them: the
 * system's secrets, container engines (a socket there is root on the
 * host), kernel interfaces, and the gateway's own state. */
static const char *const system_sensitive[] = {
	"/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/sudoers.d", "/etc/ssh",
	"/etc/ssl/private", "/etc/mcpguard", "/var/run/docker.sock", "/run/docker.sock",
	"/run/containerd", "/var/run/containerd", "/run/podman", "/var/lib/docker",
	"/var/lib/containerd", "/run/user", "/var/lib/mcpguard",
	"/proc", "/sys", "/dev", "/boot",
};

/* Names that hold keys and tokens in a home folder (anywhere, in fact). */
static const char *const home_sensitive[] = {
	".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker", ".config/gcloud",
	".config/gh", ".password-store", ".netrc", ".git-credentials", ".npmrc", ".pypirc",
	".vault-token", ".terraform.d", ".local/share/keyrings", ".mcpguard",
	".config/mcpguard", ".local/state/mcpguard",
};

#define MAX_ENTRIES 4096        /* entries looked at per directory */

void rt_binds_release(struct rt_binds *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->v[i].host);
		free(b->v[i].inside);
	}
	free(b->v);
	b->v = NULL;
	b->n = 0;
}

/* p is dir or lies inside it. */
static bool within(const char *p, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return true;
	return strncmp(p, dir, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

static bool exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

/* One of home_sensitive as a run of p's components ("/x/.ssh/id" has .ssh). */
static const char *sensitive_component(const char *p)
{
	for (size_t i = 0; i < MG_ARRAY_LEN(home_sensitive); i++) {
		const char *name = home_sensitive[i], *s = p;
		size_t n = strlen(name);

		while ((s = strstr(s, name)) != NULL) {
			if (s > p && s[-1] == '/' && (s[n] == '\0' || s[n] == '/'))
				return name;
			s++;
		}
	}
	return NULL;
}

/* rel, relative to the folder open as at, exists (as lstat sees it). */
static bool exists_at(int at, const char *rel)
{
	struct stat st;

	return fstatat(at, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* A sensitive name directly in the folder open as at (whose real path
 * is real), or in its entry sub: the path found (in buf), or NULL. */
static const char *sensitive_child(int at, const char *real, const char *sub, char *buf,
				   size_t size)
{
	const char *top = strcmp(real, "/") ? real : "";
	char rel[NAME_MAX + 64];

	for (size_t i = 0; i < MG_ARRAY_LEN(home_sensitive); i++) {
		if (sub)
			snprintf(rel, sizeof(rel), "%s/%s", sub, home_sensitive[i]);
		else
			snprintf(rel, sizeof(rel), "%s", home_sensitive[i]);
		if (exists_at(at, rel) && (size_t)snprintf(buf, size, "%s/%s", top, rel) < size)
			return buf;
	}
	return NULL;
}

/* A folder of folders (/home): the homes in it are looked at too. */
static const char *sensitive_grandchild(int at, const char *real, char *buf, size_t size)
{
	int fd = openat(at, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	const char *found = NULL;
	struct dirent *e;
	size_t seen = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while (!found && (e = readdir(d)) != NULL && seen++ < MAX_ENTRIES) {
		struct stat st;

		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		found = sensitive_child(dirfd(d), real, e->d_name, buf, size);
	}
	closedir(d);
	return found;
}

/* A home folder as a whole: /root, /home/NAME, $HOME. */
static bool is_home(const char *real)
{
	const char *home = getenv("HOME");
	char rhome[PATH_MAX];

	if (!strcmp(real, "/root") || !strcmp(real, "/home"))
		return true;
	if (mg_starts_with(real, "/home/") && !strchr(real + 6, '/'))
		return true;
	return home && realpath(home, rhome) && !strcmp(real, rhome) && strcmp(rhome, "/");
}

/* The rules of rt_bind_allowed, on what is open as fd: real is its real
 * path, name the path to name in a refusal. */
static int policy_check(const char *name, const char *real, int fd, bool dir,
			struct mg_err *err)
{
	char buf[PATH_MAX];
	const char *found;

	for (size_t i = 0; i < MG_ARRAY_LEN(system_sensitive); i++) {
		const char *s = system_sensitive[i];

		if (within(real, s))
			return mg_err_set(err, -EACCES, "%s is refused: it is or lies in %s, which "
					  "no sandbox may see", name, s);
		if (within(s, real) && exists(s))
			return mg_err_set(err, -EACCES, "%s is refused: it would show %s to the "
					  "sandbox", name, s);
	}
	if (is_home(real))
		return mg_err_set(err, -EACCES, "%s is refused: it is a home folder; bind the "
				  "folder inside it that the server needs", name);
	if ((found = sensitive_component(real)))
		return mg_err_set(err, -EACCES, "%s is refused: it lies in a %s folder (keys or "
				  "credentials)", name, found);
	if (dir && ((found = sensitive_child(fd, real, NULL, buf, sizeof(buf))) ||
		    (found = sensitive_grandchild(fd, real, buf, sizeof(buf)))))
		return mg_err_set(err, -EACCES, "%s is refused: it would show %s (keys or "
				  "credentials) to the sandbox; bind a folder inside it instead",
				  name, found);
	return 0;
}

/* Open path (absolute) as O_PATH without following a symlink in any of
 * its components, nor a magic link (/proc/self/fd/N): the walk can only
 * reach what the path names.  *real: the real path of what was opened.
 * 0, or -errno (-ELOOP: a symlink is on the path; -ENOSYS: no openat2)
 * with err naming name. */
static int open_real(const char *name, const char *path, int *fd, struct stat *st,
		     char real[PATH_MAX], struct mg_err *err)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC,
				.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
	char link[32];
	ssize_t n;
	int rc;

	*fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	if (*fd < 0) {
		rc = -errno;
		if (rc == -ENOSYS)
			return mg_err_set(err, rc, "cannot check %s: this kernel has no openat2(2) "
					  "(Linux 5.6 or later is needed to open bind sources "
					  "safely)", name);
		if (rc == -ELOOP)
			return mg_err_set(err, rc, "%s is refused: a symlink is on its path", name);
		return mg_err_set(err, rc, "%s: %s", name, strerror(-rc));
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", *fd);
	if (fstat(*fd, st) < 0 || (n = readlink(link, real, PATH_MAX)) < 0) {
		rc = mg_err_set(err, -errno, "cannot check %s: %s", name, strerror(errno));
		goto fail;
	}
	if (n >= PATH_MAX) {
		rc = mg_err_set(err, -ENAMETOOLONG, "cannot check %s: its path is too long", name);
		goto fail;
	}
	real[n] = '\0';
	return 0;
fail:
	close(*fd);
	*fd = -1;
	return rc;
}

/* Check host (named name) and, when rec is given, record what it is: its
 * real path and what was opened (owner, type). */
static int check_path(const char *name, const char *host, struct rt_bind *rec,
		      struct mg_err *err)
{
	char path[PATH_MAX], real[PATH_MAX];
	struct stat st;
	int fd, rc;

	if (!realpath(host, path))
		return mg_err_set(err, -errno, "%s: %s", name, strerror(errno));
	if ((rc = open_real(name, path, &fd, &st, real, err)))
		return rc;
	rc = policy_check(name, real, fd, S_ISDIR(st.st_mode), err);
	close(fd);
	if (!rc && rec) {
		rec->host = mg_strdup(real);
		rec->uid = st.st_uid;
		rec->gid = st.st_gid;
		rec->type = st.st_mode & S_IFMT;
	}
	return rc;
}

int rt_bind_allowed(const char *host, struct mg_err *err)
{
	return check_path(host, host, NULL, err);
}

static const char *type_name(mode_t type)
{
	switch (type) {
	case S_IFDIR: return "folder";
	case S_IFREG: return "file";
	default: return "special file";
	}
}

/* host could not be opened for a symlink on its path: the message of the
 * gateway's start for where it leads now, or that it was swapped. */
static int symlink_refused(const char *host, struct mg_err *err)
{
	char target[PATH_MAX];
	struct mg_err why;
	const char *reason;

	if (!realpath(host, target))
		return mg_err_set(err, -EACCES, "%s is refused: a symlink is on its path now, "
				  "leading nowhere (%s); there was none when the gateway started",
				  host, strerror(errno));
	if (rt_bind_allowed(target, &why) == -EACCES &&
	    (reason = strstr(why.msg, " is refused: ")))
		return mg_err_set(err, -EACCES, "%s is refused: %s (a symlink on its path, made "
				  "since the gateway started, leads to %s)", host,
				  reason + strlen(" is refused: "), target);
	return mg_err_set(err, -EACCES, "%s is refused: a symlink on its path now leads to %s; "
			  "there was none when the gateway started", host, target);
}

int rt_bind_open(const struct rt_bind *b, bool policy, int *out, struct stat *st,
		 struct mg_err *err)
{
	char real[PATH_MAX];
	int fd, rc;

	*out = -1;
	if ((rc = open_real(b->host, b->host, &fd, st, real, err)))
		return rc == -ELOOP ? symlink_refused(b->host, err) : rc;
	/* No symlink was followed: only a rename on the way (racing this
	 * open) or a removal makes the two differ. */
	if (strcmp(real, b->host) != 0) {
		rc = mg_err_set(err, -EACCES, "%s is refused: it was moved while it was opened "
				"(to %s)", b->host, real);
		goto fail;
	}
	if (b->type && (st->st_mode & S_IFMT) != b->type) {
		rc = mg_err_set(err, -EACCES, "%s is refused: it is a %s now, not the %s it was "
				"when the gateway started", b->host,
				type_name(st->st_mode & S_IFMT), type_name(b->type));
		goto fail;
	}
	if (b->type && (st->st_uid != b->uid || st->st_gid != b->gid)) {
		rc = mg_err_set(err, -EACCES, "%s is refused: it belongs to uid %u gid %u now, not "
				"to uid %u gid %u as when the gateway started", b->host,
				(unsigned)st->st_uid, (unsigned)st->st_gid, (unsigned)b->uid,
				(unsigned)b->gid);
		goto fail;
	}
	if (policy && (rc = policy_check(b->host, real, fd, S_ISDIR(st->st_mode), err)))
		goto fail;
	*out = fd;
	return 0;
fail:
	close(fd);
	return rc;
}

int rt_binds_open(const struct rt_binds *b, int *fds, struct mg_err *err)
{
	size_t n = 0;
	int rc = 0;

	/* The order of rt_binds_specs: the read-only ones, then read-write. */
	for (int rw = 0; rw < 2 && !rc; rw++) {
		for (size_t i = 0; i < b->n && !rc; i++) {
			struct stat st;

			if (b->v[i].rw != (rw == 1))
				continue;
			if (!(rc = rt_bind_open(&b->v[i], true, &fds[n], &st, err)))
				n++;
		}
	}
	while (rc && n > 0)
		close(fds[--n]);
	return rc;
}

static bool covered(const struct rt_binds *b, const char *host, const char *inside, bool rw)
{
	for (size_t i = 0; i < b->n; i++) {
		const struct rt_bind *x = &b->v[i];

		/* A bind of the same tree at the same place covers host when
		 * it grants at least as much.  (A rw folder inside a ro tree
		 * is a bind of its own, mounted on top.) */
		if (within(host, x->host) && strcmp(x->host, x->inside) == 0 &&
		    strcmp(host, inside) == 0 && (x->rw || !rw))
			return true;
	}
	return false;
}

void rt_binds_add(struct rt_binds *b, const char *host, const char *inside, bool rw)
{
	char real[PATH_MAX];
	const char *h = realpath(host, real) ? real : host;
	const char *in = inside && strcmp(inside, host) ? inside : h;
	struct rt_bind *x;
	struct stat st;

	if (covered(b, h, in, rw))
		return;
	b->v = mg_realloc(b->v, (b->n + 1) * sizeof(*b->v));
	x = &b->v[b->n++];
	memset(x, 0, sizeof(*x));
	x->host = mg_strdup(h);
	x->inside = mg_strdup(in);
	x->rw = rw;
	/* What every sandbox must find there (rt_bind_open). */
	if (lstat(h, &st) == 0) {
		x->uid = st.st_uid;
		x->gid = st.st_gid;
		x->type = st.st_mode & S_IFMT;
	}
}

int rt_volume_parse(const char *spec, struct rt_bind *out, struct mg_err *err)
{
	char *copy = mg_strdup(spec), *host = copy, *inside, *mode, *expanded = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	inside = strchr(copy, ':');
	if (!inside || inside == copy || inside[1] != '/') {
		rc = mg_err_set(err, -EINVAL, "volume '%s': expected host:inside[:ro|rw] with an "
				"absolute path inside", spec);
		goto out;
	}
	*inside++ = '\0';
	mode = strchr(inside, ':');
	if (mode) {
		*mode++ = '\0';
		if (strcmp(mode, "ro") && strcmp(mode, "rw")) {
			rc = mg_err_set(err, -EINVAL, "volume '%s': the mode must be ro or rw", spec);
			goto out;
		}
	}
	if (strncmp(host, "~/", 2) == 0 && getenv("HOME")) {
		size_t n = strlen(getenv("HOME")) + strlen(host);

		expanded = mg_calloc(1, n);
		snprintf(expanded, n, "%s%s", getenv("HOME"), host + 1);
		host = expanded;
	}
	if (host[0] != '/') {
		rc = mg_err_set(err, -EINVAL, "volume '%s': the host path must be absolute (named "
				"volumes need Docker)", spec);
		goto out;
	}
	if (strstr(inside, "/..") || strcmp(inside, "/") == 0) {
		rc = mg_err_set(err, -EINVAL, "volume '%s': the path inside must be a plain "
				"absolute path below /", spec);
		goto out;
	}
	if ((rc = check_path(host, host, out, err)))
		goto out;
	out->inside = mg_strdup(inside);
	out->rw = mode && strcmp(mode, "rw") == 0;
out:
	free(expanded);
	free(copy);
	return rc;
}

/* The outermost node_modules folder p lies in, if any. */
static bool node_modules_root(const char *p, char *out, size_t size)
{
	const char *s = strstr(p, "/node_modules/");

	if (!s)
		return false;
	snprintf(out, size, "%.*s", (int)(s - p + strlen("/node_modules")), p);
	return true;
}

static bool under_usr(const char *p)
{
	return within(p, "/usr");
}

/* Bind, read-only, the tree a file needs: its node_modules, else its
 * folder (for a program, the install prefix around its bin/).  Both the
 * path as given and its real location, so that symlinks resolve inside. */
static int add_tree(struct rt_binds *out, const char *path, bool program, struct mg_err *err)
{
	char real[PATH_MAX], dir[PATH_MAX];
	const char *forms[2] = { path, real };
	int rc;

	if (!realpath(path, real))
		return 0;
	for (size_t i = 0; i < 2; i++) {
		const char *p = forms[i];
		char *slash;

		if (p[0] != '/' || under_usr(p))
			continue;
		if (!node_modules_root(p, dir, sizeof(dir))) {
			mg_strlcpy(dir, p, sizeof(dir));
			slash = strrchr(dir, '/');
			*(slash == dir ? slash + 1 : slash) = '\0';
			if (program && mg_ends_with(dir, "/bin") && strlen(dir) > 4)
				dir[strlen(dir) - 4] = '\0';
		}
		if ((rc = rt_bind_allowed(dir, err)))
			return rc;
		rt_binds_add(out, dir, dir, false);
	}
	return 0;
}

/* An argument naming an existing path: "/x", "./x", "../x", or "--o=/x". */
static const char *path_in_arg(const char *a)
{
	const char *eq = a[0] == '-' ? strchr(a, '=') : NULL;

	if (eq)
		a = eq + 1;
	if (a[0] == '/' || strncmp(a, "./", 2) == 0 || strncmp(a, "../", 3) == 0)
		return exists(a) ? a : NULL;
	return NULL;
}

/* The program's absolute path (not resolved further), or NULL. */
static char *find_program(const char *name, const char *path_env)
{
	char *copy, *save = NULL, buf[PATH_MAX], *found = NULL;

	if (name[0] == '/')
		return access(name, X_OK) == 0 ? mg_strdup(name) : NULL;
	if (strchr(name, '/'))
		return realpath(name, NULL);
	copy = mg_strdup(path_env ? path_env : "/usr/local/bin:/usr/bin:/bin");
	for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		if (d[0] == '/' && (size_t)snprintf(buf, sizeof(buf), "%s/%s", d, name) < sizeof(buf) &&
		    access(buf, X_OK) == 0)
			found = mg_strdup(buf);
	}
	free(copy);
	return found;
}

int rt_command_binds(char *const *argv, const char *path_env, const char *cwd,
		     struct rt_binds *out, char **argv0, struct mg_err *err)
{
	char *prog;
	int rc;

	*argv0 = NULL;
	if (!argv || !argv[0])
		return mg_err_set(err, -EINVAL, "no command");
	prog = find_program(argv[0], path_env);
	if (!prog)
		return mg_err_set(err, -ENOENT, "cannot run '%s': not found in PATH", argv[0]);
	if ((rc = add_tree(out, prog, true, err))) {
		free(prog);
		return rc;
	}
	*argv0 = prog;
	for (size_t i = 1; argv[i]; i++) {
		const char *p = path_in_arg(argv[i]);
		struct stat st;

		if (!p || stat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && !strstr(p, "/node_modules")) {
			if ((rc = rt_bind_allowed(p, err)))
				return rc;
			if (!under_usr(p))
				rt_binds_add(out, p, p[0] == '/' ? p : NULL, true);
		} else if ((rc = add_tree(out, p, false, err))) {
			return rc;
		}
	}
	if (cwd) {
		if ((rc = rt_bind_allowed(cwd, err)))
			return rc;
		if (!under_usr(cwd))
			rt_binds_add(out, cwd, cwd[0] == '/' ? cwd : NULL, false);
	}
	return 0;
}

char **rt_binds_specs(const struct rt_binds *b, bool rw)
{
	char **v = mg_calloc(1, sizeof(char *));
	char buf[2 * PATH_MAX + 2];

	for (size_t i = 0; i < b->n; i++) {
		if (b->v[i].rw != rw)
			continue;
		snprintf(buf, sizeof(buf), "%s:%s", b->v[i].host, b->v[i].inside);
		v = mg_strv_push(v, buf);
	}
	return v;
}
