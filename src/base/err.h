/* Error detail for operations whose failure a person must understand
 * (configuration, catalogs, policy).  Functions return a negative errno and
 * fill a struct mg_err with the human-readable reason. */
#ifndef MG_ERR_H
#define MG_ERR_H

#include <stddef.h>

struct mg_err {
	char msg[512];
};

/* Format into err (may be NULL) and return code, so callers can write
 *   return mg_err_set(err, -EINVAL, "bad value %s", v);            */
int mg_err_set(struct mg_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
