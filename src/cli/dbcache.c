/* cli/dbcache: the scanner's database kept between runs (see dbcache.h). */
#include "cli/dbcache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "base/log.h"
#include "guard/def_check.h"
#include "guard/defscan.h"

#define DBCACHE_MAX (256u << 20)

static char *cache_path(void)
{
	char *dir = mg_cache_dir(), *path = NULL, id[33];

	gd_def_rules_id(id);
	if (asprintf(&path, "%s/defscan-%s.hsdb", dir, id) < 0)
		path = NULL;
	free(dir);
	return path;
}

int cli_dbcache_read(char **data, size_t *len)
{
	char *path = cache_path();
	int rc = path ? mg_read_file(path, DBCACHE_MAX, data, len) : -ENOMEM;

	free(path);
	return rc;
}

static void keep(const char *data, size_t len)
{
	char *path = cache_path(), *slash = path ? strrchr(path, '/') : NULL;

	if (slash) {
		*slash = '\0';
		if (mg_mkdir_p(path, 0700) == 0) {
			*slash = '/';
			if (mg_write_file_atomic(path, data, len, 0600))
				mg_debug("could not keep the scanner's database in %s", path);
		}
	}
	free(path);
}

void cli_dbcache_write(struct gd_def_check *c)
{
	char *data = NULL;
	size_t len = 0;

	if (!c || gd_def_check_save(c, &data, &len))
		return;
	keep(data, len);
	free(data);
}

int cli_dbcache_scanner(struct gd_defscan **out, char *err, size_t errlen)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	if (cli_dbcache_read(&data, &len) == 0 && gd_def_load(out, data, len) == 0) {
		free(data);
		return 0;
	}
	free(data);
	data = NULL;
	rc = gd_def_new(out, err, errlen);
	if (rc == 0 && gd_def_save(*out, &data, &len) == 0)
		keep(data, len);
	free(data);
	return rc;
}
