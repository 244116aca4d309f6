/* pins/pin_check: the definition check that pins what servers say about
 * themselves and quarantines what changed (a "rug pull").
 *
 * Every tool, prompt, resource, resource template and instructions text
 * a server lists is reviewed (guard/check.h, struct gd_def_check) against
 * the pin store (pins/store.h):
 *   the same as its pin (SHA-256 of the canonical JSON)   keep;
 *   never seen, mode tofu                                  pin it ("first-sight"), keep;
 *   never seen, mode approve                               record it as pending, withhold
 *                                                          until `mcpguard pins approve`;
 *   different from its pin                                 record it as pending, withhold
 *                                                          (finding "definition-changed"
 *                                                          with the changed paths);
 *   a definition that was rejected                         withhold, nothing recorded;
 *   the server's pin file cannot be read                   withhold, saying so.
 * The store's folder is the watched path: an approval from the CLI (or
 * another gateway) makes the gateway call reload and review again.  What
 * the check writes changes that folder too; reviews are idempotent (a
 * pending definition seen again is not rewritten within a minute), so that
 * second round writes nothing. */
#ifndef MG_PINS_PIN_CHECK_H
#define MG_PINS_PIN_CHECK_H

#include "base/err.h"
#include "guard/check.h"

enum pin_mode { PIN_MODE_TOFU, PIN_MODE_APPROVE };

/* A check on the store in dir (NULL: pin_store_default_dir()), made
 * (0700) if missing.  0 or -errno with err. */
int pin_check_new(struct gd_def_check **out, const char *dir, enum pin_mode mode,
		  struct mg_err *err);
/* "tofu" / "approve" -> mode.  0 or -EINVAL. */
int pin_mode_parse(const char *s, enum pin_mode *out);

#endif
