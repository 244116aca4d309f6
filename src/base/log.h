/* Human-readable log lines on stderr.  Machine-readable records go to the
 * audit log (audit/), never here. */
#ifndef MG_LOG_H
#define MG_LOG_H
#include <stdbool.h>
#include <stddef.h>

enum mg_log_level { MG_LOG_DEBUG, MG_LOG_INFO, MG_LOG_WARN, MG_LOG_ERROR, MG_LOG_QUIET };

void mg_log_set_level(enum mg_log_level lvl);
enum mg_log_level mg_log_get_level(void);
/* A filter every line passes before it is written (e.g. the redaction of
 * secrets): it writes the line to use into out (cap outlen) and returns
 * true, or false to keep the line as it is.  NULL: none. */
typedef bool (*mg_log_filter)(void *ctx, const char *line, char *out, size_t outlen);
void mg_log_set_filter(mg_log_filter f, void *ctx);
void mg_log(enum mg_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define mg_debug(...) mg_log(MG_LOG_DEBUG, __VA_ARGS__)
#define mg_info(...) mg_log(MG_LOG_INFO, __VA_ARGS__)
#define mg_warn(...) mg_log(MG_LOG_WARN, __VA_ARGS__)
#define mg_error(...) mg_log(MG_LOG_ERROR, __VA_ARGS__)

#endif
