#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>

int mg_err_set(struct mg_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}
