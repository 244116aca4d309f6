#ifndef MG_TIME_H
#define MG_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic clock in milliseconds / microseconds. */
uint64_t mg_now_ms(void);
uint64_t mg_now_us(void);
/* Wall clock as RFC 3339 UTC with milliseconds, e.g. 2026-11-28T12:00:00.123Z */
void mg_wall_rfc3339(char *out, size_t size);

#endif
