/* Helpers shared by the unit tests (included after cmocka.h). */
#ifndef MG_TESTUTIL_H
#define MG_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "base/fs.h"
#include "base/mem.h"

/* A new empty directory under /tmp; caller frees (and removes: mg_rm_rf). */
static inline char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/mg-unit-XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return mg_strdup(d);
}

#endif
