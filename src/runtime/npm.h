/* Servers started with npx.  Inside a sandbox there is no network and no
 * writable npm cache, so `npx -y PKG@VER ARGS...` cannot work there as it
 * does on a desktop.  Instead the package is installed once on the host,
 * by npm with install scripts off (nothing of the package runs outside the
 * sandbox), into mcpguard's cache, and its program is run with node inside
 * the sandbox, its node_modules tree bound read-only. */
#ifndef MG_RT_NPM_H
#define MG_RT_NPM_H

#include <stdbool.h>

#include "base/err.h"

/* argv starts with npx (or "npm exec"). */
bool rt_npx_is(char *const *argv);

/* Resolve an npx command to the argv that runs the installed package
 * (node ENTRY ARGS... or ENTRY ARGS...), installing it into
 * cache_root/npm/<spec> first if needed (blocking, up to a few minutes;
 * logs what it does).  path_env finds npm and node.  0 and *out (free with
 * mg_strv_free), or -errno with err: an npx option not understood, a spec
 * that is not a registry package, npm failing (its last lines). */
int rt_npx_resolve(char *const *argv, const char *cache_root, const char *path_env,
		   char ***out, struct mg_err *err);

#endif
