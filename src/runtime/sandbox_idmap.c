#include "runtime/sandbox_idmap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "base/mem.h"

/* One user namespace per (owner, sandbox user): its maps say "the
 * owner's ids are the sandbox user's".  Made once and kept (an fd each);
 * named slots make the same pairs come back. */
struct userns {
	uid_t owner, uid;
	gid_t group, gid;
	int fd;
};

#define USERNS_CACHE 64

static struct userns cache[USERNS_CACHE];
static size_t cache_n, cache_next;

static int write_map(pid_t pid, const char *file, unsigned from, unsigned to)
{
	char path[64], map[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	snprintf(map, sizeof(map), "%u %u 1\n", from, to);
	return mg_write_text(path, map);
}

/* A child that unshares its user namespace and waits; we write its maps
 * and keep a handle on the namespace, then let it go. */
static int make_userns(uid_t owner, gid_t group, uid_t uid, gid_t gid, struct mg_err *err)
{
	int ready[2], fd = -1, rc;
	char path[64], c;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return mg_err_set(err, -errno, "cannot create a pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		if (unshare(CLONE_NEWUSER) == 0 && write(ready[1], "u", 1) == 1)
			pause();
		_exit(1);
	}
	close(ready[1]);
	if (pid < 0) {
		close(ready[0]);
		return mg_err_set(err, -errno, "cannot fork: %s", strerror(errno));
	}
	if (read(ready[0], &c, 1) != 1)
		rc = mg_err_set(err, -EPERM, "cannot create a user namespace for an idmapped bind");
	else if ((rc = write_map(pid, "uid_map", (unsigned)owner, (unsigned)uid)) ||
		 (rc = write_map(pid, "gid_map", (unsigned)group, (unsigned)gid)))
		mg_err_set(err, rc, "cannot map ids for an idmapped bind: %s", strerror(-rc));
	if (!rc) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			rc = mg_err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
	}
	close(ready[0]);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return rc ? rc : fd;
}

static int userns_for(uid_t owner, gid_t group, uid_t uid, gid_t gid, struct mg_err *err)
{
	struct userns *u;
	int fd;

	for (size_t i = 0; i < cache_n; i++)
		if (cache[i].owner == owner && cache[i].group == group && cache[i].uid == uid &&
		    cache[i].gid == gid)
			return cache[i].fd;
	if ((fd = make_userns(owner, group, uid, gid, err)) < 0)
		return fd;
	if (cache_n < USERNS_CACHE) {
		u = &cache[cache_n++];
	} else {
		u = &cache[cache_next++ % USERNS_CACHE];
		close(u->fd);
	}
	*u = (struct userns){ owner, uid, group, gid, fd };
	return fd;
}

/* The host path of "host[:inside]" into host; returns the path inside
 * (host itself when no inside is given), or NULL (ENAMETOOLONG).  Only
 * strchr and memcpy: the sandbox child calls it too. */
const char *sbx_spec_host(const char *spec, char *host, size_t size)
{
	const char *colon = strchr(spec, ':');
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec);

	if (n >= size) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	memcpy(host, spec, n);
	host[n] = '\0';
	return colon ? colon + 1 : host;
}

/* An idmapped copy of the tree at src (an fd of host): its owner, the
 * opened inode's, is the sandbox user. */
static int idmapped_tree(int src, const char *host, uid_t uid, gid_t gid, struct mg_err *err)
{
	struct mount_attr ma;
	struct stat st;
	int ns, tree;

	if (fstat(src, &st) < 0)
		return mg_err_set(err, -errno, "cannot show %s in the sandbox: %s", host,
				  strerror(errno));
	if ((ns = userns_for(st.st_uid, st.st_gid, uid, gid, err)) < 0)
		return ns;
	tree = (int)syscall(SYS_open_tree, src, "",
			    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
	if (tree < 0)
		return mg_err_set(err, -errno, "cannot open %s as a mount tree: %s", host,
				  strerror(errno));
	memset(&ma, 0, sizeof(ma));
	ma.attr_set = MOUNT_ATTR_IDMAP;
	ma.userns_fd = (uint64_t)ns;
	if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &ma,
		    sizeof(ma)) < 0) {
		mg_debug("%s cannot be idmapped (%s): bound as it is", host, strerror(errno));
		close(tree);
		return -1;
	}
	return tree;
}

int sbx_idmap_trees(const struct sbx_config *c, const int *src, uid_t uid, gid_t gid,
		    int *trees, size_t max, struct mg_err *err)
{
	char *const *lists[2] = { c->ro_binds, c->rw_binds };
	char host[4096];
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < max; i++)
		trees[i] = -1;
	for (size_t l = 0; l < 2; l++) {
		for (size_t i = 0; lists[l] && lists[l][i]; i++) {
			struct stat st;
			int t = -1;

			if (n >= max) {
				rc = mg_err_set(err, -E2BIG, "too many binds");
				goto fail;
			}
			if (!sbx_spec_host(lists[l][i], host, sizeof(host))) {
				rc = mg_err_set(err, -ENAMETOOLONG, "bind path too long");
				goto fail;
			}
			/* Programs and packages owned by root stay plain. */
			if (l == 1 || (fstat(src[n], &st) == 0 && st.st_uid != 0)) {
				t = idmapped_tree(src[n], host, uid, gid, err);
				if (t < -1) {
					rc = t;
					goto fail;
				}
			}
			trees[n++] = t;
		}
	}
	/* The workspace last: a folder given with --workdir is the user's;
	 * one the gateway made for a server is already the sandbox user's. */
	if (c->workspace && n < max) {
		struct stat st;

		if (fstat(src[n], &st) == 0 && st.st_uid != uid) {
			int t = idmapped_tree(src[n], c->workspace, uid, gid, err);

			if (t < -1) {
				rc = t;
				goto fail;
			}
			trees[n] = t;
		}
	}
	return 0;
fail:
	sbx_idmap_close(trees, max);
	return rc;
}

void sbx_idmap_close(int *trees, size_t max)
{
	for (size_t i = 0; i < max; i++) {
		if (trees[i] >= 0)
			close(trees[i]);
		trees[i] = -1;
	}
}
