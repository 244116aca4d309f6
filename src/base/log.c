#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum mg_log_level min_level = MG_LOG_INFO;
static mg_log_filter filter;
static void *filter_ctx;

void mg_log_set_filter(mg_log_filter f, void *ctx)
{
	filter = f;
	filter_ctx = ctx;
}

void mg_log_set_level(enum mg_log_level lvl)
{
	min_level = lvl;
}

enum mg_log_level mg_log_get_level(void)
{
	return min_level;
}

void mg_log(enum mg_log_level lvl, const char *fmt, ...)
{
	static const char *const tag[] = { "debug", "info", "warning", "error", "" };
	char msg[2048], filtered[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (lvl < min_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (filter && filter(filter_ctx, msg, filtered, sizeof(filtered)))
		memcpy(msg, filtered, sizeof(msg));
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	/* One fprintf per line so that concurrent writers do not interleave. */
	if (lvl == MG_LOG_INFO)
		fprintf(stderr, "%02d:%02d:%02d.%03ld mcpguard: %s\n", tm.tm_hour, tm.tm_min,
			tm.tm_sec, ts.tv_nsec / 1000000, msg);
	else
		fprintf(stderr, "%02d:%02d:%02d.%03ld mcpguard: %s: %s\n", tm.tm_hour, tm.tm_min,
			tm.tm_sec, ts.tv_nsec / 1000000, tag[lvl], msg);
}
