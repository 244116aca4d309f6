/* What a sandboxed server may see of the host: the paths its command line
 * needs (derived, read-only unless it names a directory to work in), the
 * catalog's `volumes:`, and the refusal of sensitive host paths (keys,
 * credentials, container engine sockets, the system's secrets) whichever
 * way they are asked for.  See docs/security.md, "What a server sees". */
#ifndef MG_RT_BINDS_H
#define MG_RT_BINDS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "base/err.h"

struct rt_bind {
	char *host;             /* absolute, resolved (realpath) */
	char *inside;           /* absolute path inside the sandbox */
	bool rw;
	/* What host was when it was validated, which every sandbox must find
	 * there again (rt_bind_open): owner and file type (S_IFDIR...; 0:
	 * not recorded, not compared). */
	uid_t uid;
	gid_t gid;
	mode_t type;
};

struct rt_binds {
	struct rt_bind *v;
	size_t n;
};

void rt_binds_release(struct rt_binds *b);

/* Parse a Docker volume "host:inside[:ro|rw]" (read-only unless ":rw").
 * The host path must exist and pass rt_bind_allowed; a leading "~/" is the
 * gateway user's home.  0, or -errno with err saying what is wrong. */
int rt_volume_parse(const char *spec, struct rt_bind *out, struct mg_err *err);

/* May host (an existing path) be shown to a sandbox?  Refused: a path that
 * is, lies inside or contains a sensitive one (~/.ssh, cloud credential
 * folders, /etc/shadow, docker.sock, ...; for a directory, its entries and
 * their entries are looked at).  The rules are applied to what the
 * resolved path opens (its real path, its entries).  0, or -EACCES with
 * err naming it. */
int rt_bind_allowed(const char *host, struct mg_err *err);

/* Open b->host for a sandbox being built, and check what was opened, not
 * the path that was named (at every instance start: a folder's owner may
 * have swapped it, or a folder on its path, since it was validated):
 *   - the path is walked without following any symlink, in any component,
 *     nor any magic link (openat2 RESOLVE_NO_SYMLINKS|NO_MAGICLINKS; b->host
 *     is a real path, so a symlink on it now was put there since);
 *   - the opened fd's real path (/proc/self/fd/N) must be b->host;
 *   - the opened inode must still have the owner and type recorded in b
 *     (so an idmap made from it maps the owner that was validated);
 *   - with policy, the rules of rt_bind_allowed hold on what was opened.
 * *fd: an O_PATH|O_CLOEXEC fd of it (the caller closes it), *st its
 * fstat.  0, or -errno with err naming b->host, in the words of the
 * gateway's start when the same rule refuses it (-EACCES), or -ENOSYS
 * when the kernel lacks openat2 (Linux < 5.6). */
int rt_bind_open(const struct rt_bind *b, bool policy, int *fd, struct stat *st,
		 struct mg_err *err);

/* rt_bind_open (with the policy) of every bind of b, in the order of
 * rt_binds_specs (the read-only ones, then the read-write ones), into
 * fds[0..b->n).  All or none: on an error, none is left open. */
int rt_binds_open(const struct rt_binds *b, int *fds, struct mg_err *err);

/* The binds a command needs to run in the sandbox, added to out:
 * - the program's install prefix when it lies outside /usr (node from a
 *   tarball, a virtualenv), read-only;
 * - for each argument naming an existing path (also after "--opt="): a
 *   file's folder, or the whole node_modules tree it is in, read-only; a
 *   directory read-write (the command gives the server that folder);
 * - cwd, read-only.
 * Each bind keeps the host path inside.  *argv0 receives the program's
 * absolute path (caller frees).  0, or -errno with err (a path refused, a
 * program not found). */
int rt_command_binds(char *const *argv, const char *path_env, const char *cwd,
		     struct rt_binds *out, char **argv0, struct mg_err *err);

/* Add one bind, skipping what an existing bind already covers the same
 * way.  host is resolved here. */
void rt_binds_add(struct rt_binds *b, const char *host, const char *inside, bool rw);

/* "host:inside" strings of the read-only (rw false) or read-write binds,
 * NULL-terminated, for struct sbx_config.  Caller frees (mg_strv_free). */
char **rt_binds_specs(const struct rt_binds *b, bool rw);

#endif
