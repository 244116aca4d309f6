/* json/canon: the JSON Canonicalization Scheme (RFC 8785) of a jansson
 * value, and its SHA-256.
 *
 * Two definitions that mean the same JSON have the same canonical bytes,
 * whatever member order, whitespace, escapes or number spellings a server
 * used: members sorted by the UTF-16 code units of their names, strings
 * with only the escapes RFC 8785 allows (\" \\ \b \f \n \r \t and \u00xx,
 * lower-case, for the other controls; everything else as UTF-8), numbers
 * as ECMAScript's Number::toString prints them (the shortest digits that
 * read back to the same double; exponent form from 1e21 up and below
 * 1e-6; -0 as 0).  Integers jansson holds as json_integer are exact when
 * |v| < 2^53 and go through the double they round to otherwise, as a
 * JavaScript peer would read them.  The pin store (pins/) hashes this.
 * The text is JSON, but not always JSON jansson reads back: ECMAScript
 * writes integral values up to 1e21 in full (1e20 is
 * 100000000000000000000), past jansson's int64 integers.  It is for
 * hashing and comparing, not for storing. */
#ifndef MG_JSON_CANON_H
#define MG_JSON_CANON_H

#include <jansson.h>
#include <stddef.h>

#include "base/buf.h"

/* Deeper nesting is refused (jansson's parser stops at 2048). */
#define MG_CANON_MAX_DEPTH 2048

/* Append the canonical form of v to out; on failure out is as it was.
 * 0, -EMSGSIZE (past out's cap), -EINVAL (NaN or infinity, or v NULL),
 * -ELOOP (nested deeper than MG_CANON_MAX_DEPTH, or a cycle). */
int mg_canon(const json_t *v, struct mg_buf *out);
/* SHA-256 of the canonical form, computed as it is produced (no cap).
 * 0, -EINVAL or -ELOOP. */
int mg_canon_sha256(const json_t *v, unsigned char out[32]);
/* The same as 64 lower-case hex digits and a NUL. */
int mg_canon_sha256_hex(const json_t *v, char out[65]);
/* ECMAScript Number::toString of a finite double into out (at least 32
 * bytes).  0 or -EINVAL (NaN, infinity, or out too small). */
int mg_canon_number(double v, char *out, size_t n);

#endif
