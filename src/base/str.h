/* Small string helpers and strict number/size/duration parsing. */
#ifndef MG_STR_H
#define MG_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Copy with truncation; always NUL-terminates; returns strlen(src). */
size_t mg_strlcpy(char *dst, const char *src, size_t size);
bool mg_starts_with(const char *s, const char *prefix);
bool mg_ends_with(const char *s, const char *suffix);
bool mg_streq(const char *a, const char *b); /* NULL-safe */

/* Strict parsers: whole string, no sign surprises.  0 or -EINVAL/-ERANGE. */
int mg_parse_i64(const char *s, int64_t *out);
int mg_parse_u64(const char *s, uint64_t *out);
/* "16m", "512k", "1g", "100" (bytes).  Binary multiples. */
int mg_parse_size(const char *s, uint64_t *out);
/* "60s", "500ms", "2m", "1h", "30" (seconds) -> milliseconds. */
int mg_parse_duration_ms(const char *s, uint64_t *out);

/* Split a comma-separated list into a NULL-terminated array of trimmed,
 * non-empty strings.  Caller frees with mg_strv_free. */
char **mg_split_csv(const char *s);
size_t mg_strv_len(char *const *v);
void mg_strv_free(char **v);
/* Append a copy of s to a NULL-terminated vector (realloc'd). */
char **mg_strv_push(char **v, const char *s);

/* Shannon entropy of the bytes, in bits per byte (0 for none). */
double mg_entropy(const void *data, size_t n);
/* The value of one hex digit, or -1. */
int mg_hexval(int c);
/* Glob match supporting '*' (any run) and '?' (one char). */
bool mg_glob_match(const char *pattern, const char *s);

#endif
