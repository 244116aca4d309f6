/* guard/def_check: the definition scanner (guard/defscan) as a definition
 * check (guard/check.h): what a server lists about itself is scanned
 * before clients see it, and each level of verdict gets its actions:
 *   hide      withheld: not listed, a call to it is refused with why;
 *   sanitize  invisible and control characters (Unicode tags, zero-width
 *             and format characters, bidi controls, variation-selector
 *             runs, ANSI escapes, C0/C1 controls) removed from every
 *             string and member name;
 *   annotate  `_meta["mcpguard/scan"]` says the level and the signals, and
 *             the description starts with a warning the model reads;
 *   log       findings recorded only (always done for a level that has
 *             any action).
 * Defaults: malicious (the scanner's "poisoned") hide; suspicious
 * sanitize and annotate.  Clean definitions are listed untouched. */
#ifndef MG_GUARD_DEF_CHECK_H
#define MG_GUARD_DEF_CHECK_H

#include "guard/check.h"

#define GD_ACT_HIDE 1u
#define GD_ACT_SANITIZE 2u
#define GD_ACT_ANNOTATE 4u
#define GD_ACT_LOG 8u

#define GD_ACT_MALICIOUS_DEFAULT GD_ACT_HIDE
#define GD_ACT_SUSPICIOUS_DEFAULT (GD_ACT_SANITIZE | GD_ACT_ANNOTATE)

/* The key of the annotation in _meta. */
#define GD_DEF_META_KEY "mcpguard/scan"

/* 0 or -errno with err (the pattern database failed to compile).  saved:
 * what gd_def_check_save gave an earlier run (may be NULL; copied), tried
 * before building the database anew. */
int gd_def_check_new(struct gd_def_check **out, unsigned on_malicious, unsigned on_suspicious,
		     const char *saved, size_t saved_len, char *err, size_t errlen);
/* The database as bytes to keep for the next run, when this run built it
 * (*out allocated); -EEXIST when it was loaded from what was kept. */
int gd_def_check_save(struct gd_def_check *c, char **out, size_t *len);

/* "hide", "sanitize,annotate", "log": a comma-separated list of actions
 * (hide excludes the others but log).  0 or -EINVAL. */
int gd_def_actions_parse(const char *s, unsigned *out);

/* A copy of v with invisible and control characters removed from every
 * string and member name; *removed says how many runs went.  NULL when a
 * string could not be read whole (more runs than the text layer keeps:
 * nothing of it is to be trusted). */
json_t *gd_def_sanitized(const json_t *v, size_t *removed);

#endif
