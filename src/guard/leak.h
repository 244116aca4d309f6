/* guard/leak: finds secrets in text, for redaction or blocking.
 *
 * Two kinds of needles, in one Vectorscan (Hyperscan) database compiled
 * once:
 *   - the values of the secrets the gateway knows, in every form a server
 *     could hand them back in: as they are, JSON-escaped, percent-encoded
 *     (component and form style), hex, base64 and base64url at each of the
 *     three byte alignments (so a value inside a larger encoded blob is
 *     found too);
 *   - the shapes of well-known credentials (cloud keys, tokens, PEM private
 *     keys, `password=`-style assignments with an entropy check).
 * Vectorscan reports where a needle starts; the shapes' variable tails are
 * read here in C, so a scan costs one pass and a callback per hit.
 *
 * Pure: no I/O, no globals.  A struct gd_leak is used by one thread at a
 * time (it owns its scratch space). */
#ifndef MG_GUARD_LEAK_H
#define MG_GUARD_LEAK_H

#include <stdbool.h>
#include <stddef.h>

struct mg_buf;

struct gd_secret {
	const char *name;       /* what a redaction says: [REDACTED:name] */
	const char *value;
	size_t len;             /* of value; values under GD_LEAK_MIN_SECRET are not looked for */
};

/* Shorter values would match ordinary text: they are left out (and
 * gd_leak_new says how many were). */
#define GD_LEAK_MIN_SECRET 8

struct gd_hit {
	size_t off, len;        /* bytes of the scanned text */
	int secret;             /* index into the secrets given, or -1: a pattern */
	const char *kind;       /* the secret's name, or the pattern's kind */
	const char *encoding;   /* "plain", "json", "percent", "hex", "base64", "base64url"; NULL for patterns */
};

struct gd_leak;

/* Compile the database for these secrets (copied; may be 0 of them) and
 * the built-in patterns.  *skipped (may be NULL) gets the number of values
 * too short to look for.  0, -EINVAL (a pattern did not compile: err says
 * why) or -ENOMEM. */
int gd_leak_new(struct gd_leak **out, const struct gd_secret *secrets, size_t n,
		size_t *skipped, char *err, size_t errlen);
void gd_leak_free(struct gd_leak *l);

/* Find what leaks in text[0..len): hits sorted by offset, overlaps merged
 * (the first needle's kind wins), at most max of them.  Returns how many
 * (0: clean) or -errno.  More than max hits: the first max, and the
 * return value is max. */
int gd_leak_scan(struct gd_leak *l, const char *text, size_t len,
		 struct gd_hit *hits, size_t max);

/* Append text to out with every hit replaced by "[REDACTED:kind]".
 * 0 or -EMSGSIZE (out's cap). */
int gd_leak_redact(const char *text, size_t len, const struct gd_hit *hits, size_t n,
		   struct mg_buf *out);

/* The built-in pattern kinds, NULL-terminated (for docs and tests). */
const char *const *gd_leak_pattern_kinds(void);

#endif
