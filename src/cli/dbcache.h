/* cli/dbcache: the definition scanner's built pattern database, kept in
 * the cache folder between runs ($XDG_CACHE_HOME/mcpguard/defscan-ID.hsdb,
 * ID naming the rules and the engine), so a gateway or a scan does not
 * spend most of a second building it each time it starts.  A missing,
 * stale or damaged file only means it is built again. */
#ifndef MG_CLI_DBCACHE_H
#define MG_CLI_DBCACHE_H

#include <stddef.h>

struct gd_def_check;

/* What an earlier run kept (*data allocated), or -ENOENT. */
int cli_dbcache_read(char **data, size_t *len);
/* Keep c's database if this run built it.  Quietly does nothing when it
 * cannot (a read-only home). */
void cli_dbcache_write(struct gd_def_check *c);
/* A scanner of one's own (mcpguard scan): loaded from what an earlier run
 * kept, else built, and then kept.  0, or gd_def_new's error. */
struct gd_defscan;
int cli_dbcache_scanner(struct gd_defscan **out, char *err, size_t errlen);

#endif
