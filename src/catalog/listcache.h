/* The on-disk cache of what each server offers (capabilities, tools,
 * prompts, resources, templates), keyed by a digest of the server's
 * definition.  With it, a gateway start answers initialize and tools/list
 * at once and starts servers only when a call needs them.  A cache file
 * that cannot be read or parsed is ignored, never trusted half-way. */
#ifndef MG_LISTCACHE_H
#define MG_LISTCACHE_H

#include <jansson.h>

#include "base/buf.h"

#include "catalog/catalog.h"

/* Hex BLAKE2b-256 over everything in the definition that can change what
 * the server offers (command, env, cwd, secret names, image). */
void cat_server_digest(const struct cat_server *s, char out[65]);

/* Load the cached view for digest from dir (NULL dir: no cache).  Returns
 * a new reference or NULL. */
json_t *lc_load(const char *dir, const char *digest);
/* Store view (borrowed).  0 or -errno; failures only cost a slower start. */
int lc_save(const char *dir, const char *digest, const json_t *view, mg_text_filter filter,
	    void *filter_ctx);

#endif
