/* Helpers shared by the unit tests (included after cmocka.h). */
#ifndef MG_TESTUTIL_H
#define MG_TESTUTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "base/mem.h"

static int testutil_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* rm -rf, without following symlinks. */
static inline void rm_rf(const char *path)
{
	nftw(path, testutil_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new empty directory under /tmp; caller frees (and removes). */
static inline char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/mg-unit-XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return mg_strdup(d);
}

#endif
