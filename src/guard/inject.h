/* guard/inject: text aimed at the model in what servers send back.
 *
 * A tool result, prompt, resource, error message, log line or sampling
 * request is data for the model, but its text can be written to steer it:
 * "ignore all previous instructions", chat-template tokens and role tags
 * that fake a new turn, a request to call a tool or to send the
 * conversation somewhere, a markdown image whose URL carries data to a
 * host the user never named (fetched as soon as the answer is shown), or
 * text the user cannot see (Unicode tags, zero-width characters, bidi
 * controls, ANSI escapes).  This module scores one message's strings for
 * that, string by string:
 *
 *   - the character layer is guard/defscan_text (invisible characters
 *     found, tag characters decoded, look-alike letters folded), so a
 *     phrase written with invisible or look-alike characters is found, and
 *     the evasion itself is a finding;
 *   - the phrases run in one Vectorscan database on the folded text;
 *   - markdown images and links, and <img src>, are parsed on the original
 *     bytes: a URL whose query or path carries data (long base64, hex or
 *     percent-encoded text, placeholders for the model to fill in, words
 *     like conversation or password) to a host the request did not name.
 *
 * Results are long real-world texts (web pages, code, logs, READMEs,
 * emails, articles about prompt injection), so one phrase is weak: where
 * it stands counts (at a line start, inside a hidden marker, an HTML
 * comment or invisible text: stronger; quoted, in a code block, after
 * "for example", or in a text that discusses prompt injection: a mention),
 * and signals combine (an instruction next to a tool call, an exfiltration
 * or a data-carrying URL).  The score is the sum over classes of each
 * class's heaviest finding, plus a bonus for an instruction paired with a
 * payload; weights and reasons in inject.c and docs/security.md.
 *
 * Pure: no I/O, no globals.  A struct gd_inj is used by one thread at a
 * time (it owns its scratch space and buffers). */
#ifndef MG_GUARD_INJECT_H
#define MG_GUARD_INJECT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

enum gd_inj_verdict { GD_INJ_CLEAN, GD_INJ_SUSPICIOUS, GD_INJ_MALICIOUS };

/* Score thresholds (inclusive). */
#define GD_INJ_SUSPICIOUS_AT 5
#define GD_INJ_MALICIOUS_AT 10

#define GD_INJ_MAX_FINDINGS 32
#define GD_INJ_MAX_HOSTS 64

/* Internal classes (each counts once, at its heaviest finding). */
enum gd_inj_class {
	GD_INJ_C_INVISIBLE, GD_INJ_C_CONTROL, GD_INJ_C_EVASION, GD_INJ_C_HIDDEN, GD_INJ_C_MARKER,
	GD_INJ_C_ROLE, GD_INJ_C_OVERRIDE, GD_INJ_C_ADDRESS, GD_INJ_C_CONCEAL, GD_INJ_C_TOOLCALL,
	GD_INJ_C_EXFIL, GD_INJ_C_URL, GD_INJ_C_DEST, GD_INJ_C_QUOTED, GD_INJ_C_LIMIT, GD_INJ_C_N
};

struct gd_inj_finding {
	const char *signal;             /* static: "override", "unicode-tag", "exfil-url", ... */
	int weight;
	unsigned str;                   /* which string of the message (the caller's index) */
	size_t off, len;                /* bytes of that string */
	char where[24];                 /* the caller's label: the member's name */
	char detail[96];                /* the words matched (folded), the host, the hidden text */
};

/* Hosts the user named: in the arguments of the request a result
 * answers.  A URL to one of them (or to a subdomain of one, or to a host
 * of the same registered domain) carries nothing the user did not mean
 * to send there. */
struct gd_inj_hosts {
	char host[GD_INJ_MAX_HOSTS][96];
	size_t n;
};

struct gd_inj_result {
	enum gd_inj_verdict verdict;
	int score;
	/* the heaviest findings, in the order found */
	struct gd_inj_finding findings[GD_INJ_MAX_FINDINGS];
	size_t n_findings;
	size_t more_findings;           /* found but not kept here */
	size_t strings, bytes;          /* scanned */
	bool strip;                     /* some string holds characters gd_inj_strip removes */
	bool hidden_text;               /* Unicode tag characters were decoded */
	bool concealed;                 /* an instruction in a comment, hidden element or marker block */
	/* the sums, while a message is scanned */
	int cls[GD_INJ_C_N];
	unsigned pairs;                 /* (instruction class, payload class) pairs seen together */
};

struct gd_inj;

/* Compile the pattern database.  0, -EINVAL (err says which pattern) or -ENOMEM. */
int gd_inj_new(struct gd_inj **out, char *err, size_t errlen);
void gd_inj_free(struct gd_inj *d);

/* Collect the hosts in text (URLs, e-mail addresses, bare domain names)
 * into h (lower case, deduplicated, at most GD_INJ_MAX_HOSTS). */
void gd_inj_hosts_add(struct gd_inj_hosts *h, const char *text, size_t len);

/* One message: begin, then each of its strings, then end (sets verdict
 * and score).  str is the caller's index of the string, where its label
 * (copied, may be NULL); hosts may be NULL.  0, or -EIO (the pattern
 * engine failed; res is then not to be trusted). */
void gd_inj_begin(struct gd_inj_result *res);
int gd_inj_text(struct gd_inj *d, const char *s, size_t n, unsigned str, const char *where,
		const struct gd_inj_hosts *hosts, struct gd_inj_result *res);
void gd_inj_end(struct gd_inj_result *res);

/* The three in one, for a single text. */
int gd_inj_scan(struct gd_inj *d, const char *s, size_t n, const struct gd_inj_hosts *hosts,
		struct gd_inj_result *res);

/* Write s without what a reader does not see (Unicode tags, zero-width
 * and other invisible format characters, bidi controls, variation-selector
 * runs, ANSI escape sequences, control characters other than tab and
 * newline, a carriage return not followed by a newline) into out.  Returns how many spans were
 * removed (0: out holds s unchanged), or -EMSGSIZE. */
int gd_inj_strip(struct gd_inj *d, const char *s, size_t n, struct mg_buf *out);

const char *gd_inj_verdict_name(enum gd_inj_verdict v);

/* 0: s is plain ASCII with no trigger for any finding, so no part of it
 * can give one (a whole message with no escape in it is cleared by one
 * call); 1: scan it; -EIO. */
int gd_inj_prefilter(struct gd_inj *d, const char *s, size_t n);

/* The prefilter that lets plain ASCII strings without a trigger skip the
 * scan (on by default).  Off gives the same verdicts, slower: for tests. */
void gd_inj_set_prefilter(struct gd_inj *d, bool on);

#endif
