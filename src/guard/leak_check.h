/* guard/leak_check: the leak and exfiltration check (--block-secrets).
 *
 * Towards a client, every string of the message (keys too, at any depth;
 * an embedded resource's base64 `blob` decoded) is searched for the
 * values of every secret the gateway knows, in each encoding guard/leak
 * knows, and for credential shapes.  Towards a server, a secret that the
 * server does not own refuses the message; credential shapes are only
 * recorded there. */
#ifndef MG_GUARD_LEAK_CHECK_H
#define MG_GUARD_LEAK_CHECK_H

#include "guard/check.h"
#include "guard/leak.h"

enum gd_leak_mode {
	GD_LEAK_REDACT,         /* replace each hit with [REDACTED:kind] (default) */
	GD_LEAK_BLOCK,          /* the message does not leave; the client reads why */
	GD_LEAK_LOG,            /* recorded only */
};

/* owners[i]: the servers that may receive secrets[i] (NULL-terminated,
 * borrowed only during the call).  0 or -errno with err. */
int gd_leak_check_new(struct gd_check **out, const struct gd_secret *secrets,
		      char *const *const *owners, size_t n, enum gd_leak_mode mode,
		      char *err, size_t errlen);
/* The mode's name for flags: "redact", "block", "log"; -EINVAL otherwise. */
int gd_leak_mode_parse(const char *s, enum gd_leak_mode *out);

/* Redact text in place of any output that must not carry a secret (log
 * lines, audit records, cache files): out gets text with hits replaced.
 * Returns how many hits (0: out untouched). */
int gd_leak_check_filter(struct gd_check *c, const char *text, size_t len, struct mg_buf *out);

#endif
