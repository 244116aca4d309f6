/* guard/defscan: scanning what a server says about itself, for poisoning.
 *
 * A tool, prompt, resource or resource-template definition (as a server
 * lists it) or a server's `instructions` text is read whole: every string
 * at any depth, member names too (name, title, description, each
 * property's name, description, title, enum and const values, defaults
 * and examples in inputSchema and outputSchema, annotations, _meta), each
 * with its JSON path.  What is looked for, each a named finding with the
 * span of the string it is in and a weight:
 *   - characters a reader does not see or misreads (Unicode tags,
 *     zero-width and format characters, bidi controls, variation-selector
 *     runs, ANSI escapes, C0/C1 controls) and names written with
 *     look-alike letters of another script;
 *   - hidden-instruction markers (<IMPORTANT>, <SYSTEM>, HTML comments,
 *     chat-template tokens, role tags at a line start);
 *   - phrasing aimed at the model: concealment from the user, overriding
 *     earlier instructions, coercion ("before using any other tool"),
 *     tampering with another call's parameters;
 *   - what the instruction touches: sensitive files and credentials,
 *     data flowing into a parameter or to an address (exfiltration),
 *     other servers' and tools' names (shadowing);
 *   - schema shape: hidden-looking or prose parameter names, instructions
 *     where only values belong (enum, default, a member name), very long
 *     texts;
 *   - base64 and hex runs that decode to readable text: the text is
 *     scanned too, and its findings reported on the run.
 * The phrase patterns run in one Vectorscan database on a folded copy of
 * each string (see defscan_text.h); the rest is C.  Findings combine into
 * a score (weights and reasons in defscan.c and docs/security.md): one
 * weak signal never makes a definition poisoned; invisible characters do,
 * and so do an instruction's parts found together (a hidden marker and a
 * sensitive file, concealment and exfiltration, ...).
 *
 * Pure: no I/O, no globals.  A struct gd_defscan is used by one thread at
 * a time (it owns its scratch space and text buffers). */
#ifndef MG_GUARD_DEFSCAN_H
#define MG_GUARD_DEFSCAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum gd_def_verdict { GD_DEF_CLEAN, GD_DEF_SUSPICIOUS, GD_DEF_POISONED };

/* Score thresholds (inclusive). */
#define GD_DEF_SUSPICIOUS_AT 5
#define GD_DEF_POISONED_AT 10

#define GD_DEF_PATH_MAX 160
#define GD_DEF_MAX_FINDINGS 32

struct gd_def_finding {
	const char *signal;             /* static: "hidden-marker", "unicode-tag", ... */
	int weight;
	char path[GD_DEF_PATH_MAX];     /* e.g. inputSchema.properties.sidenote.description; "..." when cut */
	bool in_key;                    /* the span is in the member name at path, not its value */
	size_t off, len;                /* bytes of that string */
	char detail[72];                /* the words matched (folded), the code point, or decoded hidden text */
};

struct gd_def_result {
	enum gd_def_verdict verdict;
	int score;
	/* the heaviest findings, in the order found */
	struct gd_def_finding findings[GD_DEF_MAX_FINDINGS];
	size_t n_findings;
	size_t more_findings;           /* found but not kept here */
	size_t strings;                 /* strings scanned */
	bool truncated;                 /* a limit stopped the walk (itself a finding) */
};

struct gd_defscan;

/* Compile the pattern database.  0, -EINVAL (err says which pattern) or -ENOMEM. */
int gd_def_new(struct gd_defscan **out, char *err, size_t errlen);
void gd_def_free(struct gd_defscan *d);

/* Scan one definition.  kind: "tool", "prompt", "resource" or
 * "resource-template" ("resourceTemplate" too).  other_names: the names of
 * every other server and of their tools and prompts, NULL-terminated (may
 * be NULL), as the servers spell them (unprefixed); a name equal to the
 * definition's own name is skipped.  Leave out the names the definition's
 * own server also has: a tool may name its siblings ("call list_files
 * before read_file") without shadowing anything.  res is
 * filled in whole.  0, or -EINVAL (def not an object, unknown kind), or
 * -EIO (the pattern engine failed); res is then not to be trusted. */
int gd_def_scan_tool(struct gd_defscan *d, const json_t *def, const char *kind,
		     const char *const *other_names, struct gd_def_result *res);

/* Scan a server's instructions (initialize result) the same way; path
 * "instructions". */
int gd_def_scan_instructions(struct gd_defscan *d, const char *text, size_t len,
			     const char *const *other_names, struct gd_def_result *res);

const char *gd_def_verdict_name(enum gd_def_verdict v);

/* The built databases as bytes, to keep (building them takes most of a
 * second, several under sanitizers) and load again.  gd_def_save: *out
 * allocated, the caller frees; 0 or -ENOMEM.  gd_def_load: bytes from
 * gd_def_save of the same rules and pattern engine; -ESTALE for anything
 * else (build with gd_def_new then).  gd_def_rules_id: 32 hex digits that
 * name these rules on this engine, for a file name. */
int gd_def_save(const struct gd_defscan *d, char **out, size_t *len);
int gd_def_load(struct gd_defscan **out, const char *data, size_t len);
void gd_def_rules_id(char out[33]);

#endif
