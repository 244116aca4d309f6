/* pins/diff: what changed between a pinned definition and a new one,
 * field by field.
 *
 * Objects are compared member by member and arrays element by element,
 * down to the values that differ; each difference is a path
 * ("description", "inputSchema.properties.extra", "inputSchema.required[1]",
 * a member whose name is not a plain word as ["a b"]) and whether it was
 * added, removed or changed, with the old and new values as canonical JSON
 * (json/canon), shortened to a width when asked: a long string keeps the
 * neighbourhood of its first difference.  The CLI prints the list; the pin
 * check's quarantine reason carries the summary (the paths). */
#ifndef MG_PINS_DIFF_H
#define MG_PINS_DIFF_H

#include <jansson.h>
#include <stddef.h>

/* Changes kept; past this, only counted. */
#define PIN_DIFF_MAX 256

enum pin_change_kind { PIN_ADDED, PIN_REMOVED, PIN_CHANGED };

struct pin_change {
	char *path;             /* "" for the whole value; owned */
	enum pin_change_kind kind;
	char *old_value;        /* canonical JSON, shortened; NULL when added; owned */
	char *new_value;        /* NULL when removed; owned */
};

struct pin_diff {
	struct pin_change *changes;     /* in member-name order, depth first */
	size_t n;
	size_t more;                    /* changes past PIN_DIFF_MAX */
};

/* Compare old and new (both borrowed).  width 0 keeps values whole;
 * otherwise each is cut to about width bytes (UTF-8 kept whole, "..."
 * marks a cut).  0 or -errno (a value with no canonical form); d is
 * always safe to release. */
int pin_diff(const json_t *old, const json_t *new, size_t width, struct pin_diff *d);
void pin_diff_release(struct pin_diff *d);
/* The paths, each with " added" / " removed" when it was: "description,
 * inputSchema.properties.extra added" (the whole value is "value"); cut
 * to fit size with ", and N more".  Nothing changed: "". */
void pin_diff_summary(const struct pin_diff *d, char *out, size_t size);
/* The path as printed ("value" for the whole one). */
const char *pin_change_path(const struct pin_change *c);

#endif
