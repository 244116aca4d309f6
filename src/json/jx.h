/* JSON helpers on top of jansson, and a span scanner over raw JSON text.
 *
 * The gateway parses each message once (jansson, strict: duplicate keys,
 * bad UTF-8, trailing data and out-of-range numbers are rejected) to decide
 * what to do with it, but forwards the *original bytes*, splicing in only
 * what it changes (an id, a progress token, a tool name).  Re-serialising
 * would cost time on large results and change how numbers are spelled.
 * The scanner finds the byte span of a member's value by key path; it is
 * only ever run on text that jansson has already accepted. */
#ifndef MG_JX_H
#define MG_JX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

/* Strict parse of exactly one JSON value.  NULL on error with err filled. */
json_t *jx_parse(const char *raw, size_t len, json_error_t *err);
/* Compact serialisation (no newlines, UTF-8 kept).  Caller frees. */
char *jx_dump(const json_t *v, size_t *len);
/* Append compact serialisation to a buffer.  0 or -EMSGSIZE/-ENOMEM. */
int jx_dump_buf(const json_t *v, struct mg_buf *out);

struct jx_span {
	size_t off;
	size_t len;     /* 0 = absent */
};

/* Find the value of members raw.path[0].path[1]... (objects only).
 * 0 and *out set, -ENOENT when absent (or a step is not an object),
 * -EINVAL on malformed text. */
int jx_find(const char *raw, size_t len, const char *const *path, size_t depth,
	    struct jx_span *out);
/* Spans of the elements of the array whose span is given.  Calls cb for
 * each element in order; stops and returns cb's value if non-zero. */
int jx_array_each(const char *raw, const struct jx_span *array,
		  int (*cb)(void *ctx, size_t index, const struct jx_span *elem), void *ctx);

struct jx_edit {
	struct jx_span at;      /* span to replace (len 0 with off = insert) */
	const char *text;
	size_t text_len;
};
/* Write raw with the edits applied (edits sorted by offset, disjoint). */
int jx_splice(const char *raw, size_t len, const struct jx_edit *edits, size_t n,
	      struct mg_buf *out);

/* Every string token of raw (valid JSON, as jansson accepted it), in
 * document order: tok is its span with the quotes; key is the span of the
 * member name when the string is a member's value (NULL in arrays and at
 * the top), and is_key says the token is itself a member name.  Stops and
 * returns cb's value if non-zero; -EINVAL on malformed text. */
int jx_strings(const char *raw, size_t len,
	       int (*cb)(void *ctx, const struct jx_span *tok, bool is_key, const struct jx_span *key),
	       void *ctx);
/* Decode the inside of a JSON string token (no quotes) into out.
 * 0, -EINVAL (a bad escape) or -EMSGSIZE. */
int jx_unescape(const char *s, size_t n, struct mg_buf *out);

/* JSON-encode a C string (with quotes) into out. */
int jx_quote(const char *s, size_t n, struct mg_buf *out);

/* Small accessors that tolerate NULL and wrong types. */
const char *jx_str(const json_t *obj, const char *key);
json_t *jx_obj(const json_t *obj, const char *key);
json_t *jx_arr(const json_t *obj, const char *key);
bool jx_bool(const json_t *obj, const char *key, bool dflt);

#endif
