/* Idmapped binds (internal to the sandbox).  As root, a sandbox's ids are a
 * host range of its own, so a folder of the user's bound into it would be
 * "other" to the server: unreadable if 0700, unwritable, and what it wrote
 * would belong to a uid nobody knows.  An idmapped mount shows the bind's
 * owner (uid and gid of its top) as the sandbox user (1000 inside), and
 * what the server creates lands on disk as that owner.  Other owners in
 * the tree stay "other" (nobody inside). */
#ifndef MG_RT_SANDBOX_IDMAP_H
#define MG_RT_SANDBOX_IDMAP_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/err.h"
#include "runtime/sandbox.h"

/* For each bind of c (ro ones, then rw, as in the config, then the
 * workspace when it is not the sandbox user's already), a detached,
 * idmapped copy of the host tree (open_tree + mount_setattr), or -1 for a
 * plain bind: read-only binds owned by root (programs, packages) stay
 * plain; read-write binds and others' read-only ones are idmapped.  Made
 * from src[], the sources already opened (and checked) in that order,
 * never from their paths: the owner mapped is the opened inode's.  The
 * sandbox user's host ids are uid/gid.  trees[] has max entries, -1 where
 * none.  A tree that cannot be idmapped (a filesystem without support)
 * falls back to a plain bind.  0, or -errno with err. */
int sbx_idmap_trees(const struct sbx_config *c, const int *src, uid_t uid, gid_t gid,
		    int *trees, size_t max, struct mg_err *err);
/* The host path of a bind spec "host[:inside]" copied into host; returns
 * the path inside (host itself when none is given), or NULL with errno
 * ENAMETOOLONG.  Async-signal-safe. */
const char *sbx_spec_host(const char *spec, char *host, size_t size);

/* Close them, all max entries (the sandbox holds its own copies once it
 * runs). */
void sbx_idmap_close(int *trees, size_t max);

#endif
