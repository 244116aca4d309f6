/* guard/defscan_text: the character layer of definition scanning.
 *
 * One pass over a UTF-8 string does two things:
 *   - finds what a person reading the text would not see or would misread:
 *     Unicode tag characters (decoded: the hidden ASCII is given back),
 *     zero-width and other invisible format characters, bidi controls,
 *     runs of variation selectors, private-use and noncharacters, ANSI
 *     escape sequences, C0/C1 controls and a lone carriage return, words
 *     that mix Latin letters with look-alikes from another script, and
 *     "styled" letters (fullwidth, mathematical, circled);
 *   - writes the folded text the phrase patterns run on: ASCII lower
 *     case, look-alike letters and styled letters mapped to their Latin
 *     letter, accents dropped from Latin-1 letters, typographic quotes and
 *     dashes made ASCII, every run of white space one space (or one
 *     newline), invisible characters and escape sequences removed (tag
 *     characters decoded in their place), `*` and backquotes (markdown
 *     emphasis) dropped, &lt; and &gt; decoded.  Each folded byte records
 *     the span of the original bytes it came from, so a match in the
 *     folded text is reported on the original.
 * With GD_DEF_TEXT_IDENT (member names and identifier-like names) `_`,
 * `-` and `.` become spaces and a lower-to-upper case step starts a new
 * word, so `content_from_reading_ssh_id_rsa` reads as words.
 *
 * Pure: no I/O, no globals. */
#ifndef MG_GUARD_DEFSCAN_TEXT_H
#define MG_GUARD_DEFSCAN_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gd_def_char_sig {
	GD_DEF_CH_TAG,          /* U+E0000-E007F outside an emoji flag sequence */
	GD_DEF_CH_ZERO_WIDTH,   /* U+200B-200D, 2060-2064, FEFF past the start, 034F, 180E, 17B4/5 */
	GD_DEF_CH_BOM,          /* U+FEFF as the first character */
	GD_DEF_CH_BIDI,         /* embeddings, overrides, isolates U+202A-202E, 2066-2069 */
	GD_DEF_CH_BIDI_MARK,    /* LRM, RLM, ALM in a string without right-to-left letters */
	GD_DEF_CH_FORMAT,       /* other format characters (Cf): soft hyphen, interlinear annotation... */
	GD_DEF_CH_VARIATION,    /* two or more variation selectors in a row (data hidden in them) */
	GD_DEF_CH_NONCHAR,      /* noncharacters U+FDD0-FDEF, U+xxFFFE/F */
	GD_DEF_CH_PRIVATE,      /* private-use code points */
	GD_DEF_CH_BLANK,        /* characters drawn as nothing: Hangul fillers, braille blank */
	GD_DEF_CH_ANSI,         /* an escape sequence (ESC [ ... final, ESC ] ... BEL/ST, ESC x) or a C1 CSI */
	GD_DEF_CH_CONTROL,      /* C0 other than tab, newline and carriage return; DEL; C1 */
	GD_DEF_CH_CR,           /* a carriage return not followed by a newline */
	GD_DEF_CH_MIXED,        /* a word with Latin letters and look-alike letters of another script */
	GD_DEF_CH_CONFUSABLE,   /* a word made only of look-alike letters that reads as Latin */
	GD_DEF_CH_STYLED,       /* fullwidth, mathematical or circled letters */
	GD_DEF_CH_N
};

/* What each is called in findings. */
const char *gd_def_char_sig_name(enum gd_def_char_sig s);

struct gd_def_char_hit {
	enum gd_def_char_sig sig;
	size_t off, len;        /* bytes of the original string (a run of one kind is one hit) */
	uint32_t cp;            /* the first code point of the run */
	unsigned count;         /* code points in the run */
	char hidden[64];        /* GD_DEF_CH_TAG: the decoded text (truncated); else the word or "" */
};

#define GD_DEF_TEXT_IDENT 1u

struct gd_def_text {
	char *norm;             /* the folded text, NUL-terminated */
	uint32_t *ostart;       /* per folded byte: original start */
	uint32_t *oend;         /* per folded byte: original end */
	size_t len;
	size_t cap;
	struct gd_def_char_hit *hits;
	size_t n_hits, hits_cap;
	size_t more_hits;       /* past GD_DEF_TEXT_MAX_HITS */
	bool rtl;               /* the string has right-to-left letters */
};

#define GD_DEF_TEXT_MAX_HITS 64
/* Strings longer than this are scanned up to it (the caller flags it). */
#define GD_DEF_TEXT_MAX (256u << 10)

/* Fold s[0..n) into t (reused across calls: storage grows, never shrinks).
 * 0 or -E2BIG (n > GD_DEF_TEXT_MAX). */
int gd_def_text_fold(struct gd_def_text *t, const char *s, size_t n, unsigned flags);
void gd_def_text_release(struct gd_def_text *t);

/* Map a span of the folded text back to the original string. */
void gd_def_text_span(const struct gd_def_text *t, size_t nstart, size_t nend, size_t *off, size_t *len);

/* Edit distance between a and b, or max + 1 when it is larger than max
 * (computed only as far as needed). */
size_t gd_def_levenshtein(const char *a, size_t an, const char *b, size_t bn, size_t max);

/* Fold one name for comparison (lower case, look-alikes and styled letters
 * to Latin, invisible characters dropped) into out (NUL-terminated,
 * truncated to outlen - 1).  Returns the folded length. */
size_t gd_def_fold_name(const char *s, size_t n, char *out, size_t outlen);

/* Decode a run of base64 (standard or URL-safe, padding optional) or of
 * hex digits, s[0..n), into out (at most cap bytes: a longer run is decoded
 * that far), when what it decodes to is readable text: printable ASCII,
 * tab and newline only, at least GD_DEF_DECODE_MIN bytes, three spaces or
 * more and letters for at least half.  A hex run is at least 32 digits, a
 * base64 run at least 24 characters.  Returns the decoded length, or 0
 * when s is not such a run or does not decode to text (a key, a digest,
 * an image, an identifier). */
#define GD_DEF_DECODE_MIN 16
size_t gd_def_decode_text(const char *s, size_t n, char *out, size_t cap);

#endif
