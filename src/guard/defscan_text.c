/* guard/defscan_text: invisible characters, look-alikes and the folded
 * text the phrase patterns read (see defscan_text.h). */
#include "guard/defscan_text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

static const char *const g_sig_names[GD_DEF_CH_N] = {
	[GD_DEF_CH_TAG] = "unicode-tag",
	[GD_DEF_CH_ZERO_WIDTH] = "zero-width",
	[GD_DEF_CH_BOM] = "byte-order-mark",
	[GD_DEF_CH_BIDI] = "bidi-control",
	[GD_DEF_CH_BIDI_MARK] = "bidi-mark",
	[GD_DEF_CH_FORMAT] = "format-character",
	[GD_DEF_CH_VARIATION] = "variation-selectors",
	[GD_DEF_CH_NONCHAR] = "noncharacter",
	[GD_DEF_CH_PRIVATE] = "private-use",
	[GD_DEF_CH_BLANK] = "blank-glyph",
	[GD_DEF_CH_ANSI] = "ansi-escape",
	[GD_DEF_CH_CONTROL] = "control-character",
	[GD_DEF_CH_CR] = "carriage-return",
	[GD_DEF_CH_MIXED] = "mixed-script",
	[GD_DEF_CH_CONFUSABLE] = "confusable-letters",
	[GD_DEF_CH_STYLED] = "styled-letters",
};

const char *gd_def_char_sig_name(enum gd_def_char_sig s)
{
	return (unsigned)s < GD_DEF_CH_N ? g_sig_names[s] : "?";
}

/* ---- code points ------------------------------------------------------- */

/* One UTF-8 sequence at s[i]; malformed bytes decode as U+FFFD, one byte. */
static uint32_t utf8_at(const unsigned char *s, size_t n, size_t i, size_t *len)
{
	unsigned char c = s[i];
	unsigned need;
	uint32_t cp, min;

	*len = 1;
	if (c < 0x80)
		return c;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		need = 2, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 3, cp = c & 0x07, min = 0x10000;
	else
		return 0xfffd;
	for (unsigned k = 1; k <= need; k++) {
		if (i + k >= n || (s[i + k] & 0xc0) != 0x80)
			return 0xfffd;
		cp = cp << 6 | (s[i + k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0xfffd;
	*len = need + 1;
	return cp;
}

static bool in(uint32_t cp, uint32_t lo, uint32_t hi)
{
	return cp >= lo && cp <= hi;
}

static bool rtl_letter(uint32_t cp)
{
	return in(cp, 0x0590, 0x08ff) || in(cp, 0xfb1d, 0xfdff) || in(cp, 0xfe70, 0xfefc) ||
	       in(cp, 0x10800, 0x10fff) || in(cp, 0x1e800, 0x1efff);
}

/* Scripts where joiners and zero-width spaces are part of ordinary
 * writing (shaping, word division without spaces). */
static bool joining_script(uint32_t cp)
{
	return rtl_letter(cp) || in(cp, 0x0900, 0x0dff) || in(cp, 0x0e00, 0x0eff) || in(cp, 0x0f00, 0x0fff) ||
	       in(cp, 0x1000, 0x109f) || in(cp, 0x1780, 0x17ff) || in(cp, 0x1800, 0x18af) ||
	       in(cp, 0x3040, 0x30ff) || in(cp, 0x3400, 0x9fff) || in(cp, 0xac00, 0xd7af);
}

static bool emoji_like(uint32_t cp)
{
	return in(cp, 0x1f000, 0x1faff) || in(cp, 0x2600, 0x27bf) || in(cp, 0x2300, 0x23ff) ||
	       in(cp, 0x2b00, 0x2bff) || cp == 0xfe0f || cp == 0x20e3 || in(cp, 0x2190, 0x21ff) ||
	       cp == 0x00a9 || cp == 0x00ae || in(cp, 0x2100, 0x214f);
}

static bool variation_selector(uint32_t cp)
{
	return in(cp, 0xfe00, 0xfe0f) || in(cp, 0xe0100, 0xe01ef);
}

static bool cyr_greek_arm(uint32_t cp)
{
	return in(cp, 0x0370, 0x03ff) || in(cp, 0x0400, 0x052f) || in(cp, 0x0530, 0x058f) ||
	       in(cp, 0x1f00, 0x1fff) || in(cp, 0x1c80, 0x1c8f) || in(cp, 0x2de0, 0x2dff) ||
	       in(cp, 0xa640, 0xa69f);
}

/* Letters of other scripts that are drawn like a Latin letter. */
static char confusable(uint32_t cp)
{
	static const struct {
		uint16_t cp;
		char to;
	} map[] = {
		/* Cyrillic */
		{ 0x0405, 's' }, { 0x0406, 'i' }, { 0x0408, 'j' }, { 0x0410, 'a' }, { 0x0412, 'b' },
		{ 0x0415, 'e' }, { 0x041a, 'k' }, { 0x041c, 'm' }, { 0x041d, 'h' }, { 0x041e, 'o' },
		{ 0x0420, 'p' }, { 0x0421, 'c' }, { 0x0422, 't' }, { 0x0423, 'y' }, { 0x0425, 'x' },
		{ 0x0430, 'a' }, { 0x0435, 'e' }, { 0x043a, 'k' }, { 0x043e, 'o' }, { 0x0440, 'p' },
		{ 0x0441, 'c' }, { 0x0443, 'y' }, { 0x0445, 'x' }, { 0x0455, 's' }, { 0x0456, 'i' },
		{ 0x0458, 'j' }, { 0x0461, 'w' }, { 0x04ae, 'y' }, { 0x04af, 'y' }, { 0x04ba, 'h' },
		{ 0x04bb, 'h' }, { 0x04c0, 'l' }, { 0x04cf, 'l' }, { 0x0500, 'd' }, { 0x0501, 'd' },
		{ 0x051a, 'q' }, { 0x051b, 'q' }, { 0x051c, 'w' }, { 0x051d, 'w' },
		/* Greek */
		{ 0x0391, 'a' }, { 0x0392, 'b' }, { 0x0395, 'e' }, { 0x0396, 'z' }, { 0x0397, 'h' },
		{ 0x0399, 'i' }, { 0x039a, 'k' }, { 0x039c, 'm' }, { 0x039d, 'n' }, { 0x039f, 'o' },
		{ 0x03a1, 'p' }, { 0x03a4, 't' }, { 0x03a5, 'y' }, { 0x03a7, 'x' }, { 0x03b1, 'a' },
		{ 0x03b5, 'e' }, { 0x03b9, 'i' }, { 0x03ba, 'k' }, { 0x03bd, 'v' }, { 0x03bf, 'o' },
		{ 0x03c1, 'p' }, { 0x03c5, 'u' }, { 0x03c7, 'x' }, { 0x03f2, 'c' }, { 0x03f3, 'j' },
		/* Armenian */
		{ 0x054d, 'u' }, { 0x0555, 'o' }, { 0x0570, 'h' }, { 0x0578, 'n' }, { 0x057d, 'u' },
		{ 0x0581, 'g' }, { 0x0585, 'o' },
		/* Latin letters outside the common blocks that read as ASCII */
		{ 0x0131, 'i' }, { 0x0251, 'a' }, { 0x0261, 'g' }, { 0x0269, 'i' }, { 0x026a, 'i' },
		{ 0x0299, 'b' }, { 0x029c, 'h' }, { 0x1d00, 'a' }, { 0x1d04, 'c' }, { 0x1d05, 'd' },
		{ 0x1d07, 'e' }, { 0x1d0b, 'k' }, { 0x1d0d, 'm' }, { 0x1d0f, 'o' }, { 0x1d18, 'p' },
		{ 0x1d1b, 't' }, { 0x1d1c, 'u' }, { 0x1d20, 'v' }, { 0x1d21, 'w' }, { 0x1d22, 'z' },
	};
	size_t lo = 0, hi = MG_ARRAY_LEN(map);

	if (cp > 0xffff)
		return 0;
	while (lo < hi) {       /* the table is sorted within blocks: search linearly */
		if (map[lo].cp == cp)
			return map[lo].to;
		lo++;
	}
	return 0;
}

/* Fullwidth, mathematical, circled and squared letters and digits. */
static char styled(uint32_t cp)
{
	if (in(cp, 0xff21, 0xff3a))
		return (char)('a' + (cp - 0xff21));
	if (in(cp, 0xff41, 0xff5a))
		return (char)('a' + (cp - 0xff41));
	if (in(cp, 0xff10, 0xff19))
		return (char)('0' + (cp - 0xff10));
	if (in(cp, 0x1d400, 0x1d6a3))
		return (char)('a' + (cp - 0x1d400) % 52 % 26);
	if (in(cp, 0x1d7ce, 0x1d7ff))
		return (char)('0' + (cp - 0x1d7ce) % 10);
	if (in(cp, 0x24b6, 0x24cf))
		return (char)('a' + (cp - 0x24b6));
	if (in(cp, 0x24d0, 0x24e9))
		return (char)('a' + (cp - 0x24d0));
	if (in(cp, 0x1f130, 0x1f149))
		return (char)('a' + (cp - 0x1f130));
	if (in(cp, 0x1f150, 0x1f169))
		return (char)('a' + (cp - 0x1f150));
	if (in(cp, 0x1f170, 0x1f189))
		return (char)('a' + (cp - 0x1f170));
	return 0;
}

/* Latin-1 and Latin Extended-A letters without their accents ('?': not a letter). */
static const char g_latin1[] = "aaaaaaaceeeeiiiidnooooo?ouuuuytsaaaaaaaceeeeiiiidnooooo?ouuuuyty";
static const char g_ext_a[] = "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiiiijjkkkllllllllll"
			      "nnnnnnnnnoooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";
_Static_assert(sizeof(g_latin1) == 65, "Latin-1 table");
_Static_assert(sizeof(g_ext_a) == 129, "Latin Extended-A table");

static char latin_fold(uint32_t cp)
{
	if (in(cp, 0xc0, 0xff))
		return g_latin1[cp - 0xc0] == '?' ? 0 : g_latin1[cp - 0xc0];
	if (in(cp, 0x100, 0x17f))
		return g_ext_a[cp - 0x100];
	return 0;
}

static bool latin_letter(uint32_t cp)
{
	return (cp < 0x80 && ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')) || latin_fold(cp) ||
	       in(cp, 0x180, 0x24f) || in(cp, 0x1e00, 0x1eff);
}

enum inv { INV_NONE = -1 };

/* The invisible class of cp before context is looked at, or INV_NONE. */
static int invisible(uint32_t cp)
{
	if (in(cp, 0xe0000, 0xe007f))
		return GD_DEF_CH_TAG;
	if (in(cp, 0x200b, 0x200d) || in(cp, 0x2060, 0x2064) || cp == 0xfeff || cp == 0x034f ||
	    cp == 0x180e || cp == 0x17b4 || cp == 0x17b5)
		return GD_DEF_CH_ZERO_WIDTH;
	if (in(cp, 0x202a, 0x202e) || in(cp, 0x2066, 0x2069))
		return GD_DEF_CH_BIDI;
	if (cp == 0x200e || cp == 0x200f || cp == 0x061c)
		return GD_DEF_CH_BIDI_MARK;
	if (cp == 0x00ad || in(cp, 0x0600, 0x0605) || cp == 0x06dd || cp == 0x070f || in(cp, 0x0890, 0x0891) ||
	    cp == 0x08e2 || in(cp, 0x206a, 0x206f) || in(cp, 0xfff9, 0xfffb) || cp == 0x110bd ||
	    cp == 0x110cd || in(cp, 0x13430, 0x1343f) || in(cp, 0x1bca0, 0x1bca3) || in(cp, 0x1d173, 0x1d17a))
		return GD_DEF_CH_FORMAT;
	if (cp == 0x115f || cp == 0x1160 || cp == 0x3164 || cp == 0xffa0 || cp == 0x2800)
		return GD_DEF_CH_BLANK;
	if (in(cp, 0xfdd0, 0xfdef) || (cp & 0xfffe) == 0xfffe)
		return GD_DEF_CH_NONCHAR;
	if (in(cp, 0xe000, 0xf8ff) || in(cp, 0xf0000, 0x10ffff))
		return GD_DEF_CH_PRIVATE;
	return INV_NONE;
}

static bool space_cp(uint32_t cp)
{
	return cp == ' ' || cp == '\t' || cp == 0xa0 || cp == 0x1680 || in(cp, 0x2000, 0x200a) || cp == 0x202f ||
	       cp == 0x205f || cp == 0x3000 || cp == 0x85;
}

/* A character that belongs to a word (letters and digits of any script,
 * combining marks), roughly: what is not ASCII punctuation, space,
 * general punctuation, symbols or emoji. */
static bool word_cp(uint32_t cp)
{
	if (cp < 0x80)
		return (cp >= '0' && cp <= '9') || ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') || cp == '_';
	if (cp < 0xc0 || cp == 0xd7 || cp == 0xf7)
		return false;
	if (in(cp, 0x2000, 0x2bff) || in(cp, 0x3000, 0x303f) || in(cp, 0xfe30, 0xfe4f) ||
	    in(cp, 0xff00, 0xff0f) || in(cp, 0xff1a, 0xff20) || in(cp, 0xff3b, 0xff40) || in(cp, 0xff5b, 0xff65) ||
	    in(cp, 0x1f000, 0x1faff) || variation_selector(cp) || invisible(cp) != INV_NONE)
		return false;
	return true;
}

/* Fold a visible code point to one ASCII byte, or 0 (kept as it is). */
static char fold_cp(uint32_t cp)
{
	char c;

	if (cp < 0x80)
		return (cp >= 'A' && cp <= 'Z') ? (char)(cp | 0x20) : (char)cp;
	if ((c = latin_fold(cp)) || (c = confusable(cp)) || (c = styled(cp)))
		return c;
	switch (cp) {
	case 0x2018: case 0x2019: case 0x201a: case 0x201b: case 0x2032: case 0x02bc: case 0xff07:
		return '\'';
	case 0x201c: case 0x201d: case 0x201e: case 0x201f: case 0x2033: case 0xff02:
		return '"';
	case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014: case 0x2015: case 0x2212:
	case 0xfe58: case 0xfe63: case 0xff0d:
		return '-';
	case 0x2039: case 0x2329: case 0x27e8: case 0x3008: case 0xfe64: case 0xff1c:
		return '<';
	case 0x203a: case 0x232a: case 0x27e9: case 0x3009: case 0xfe65: case 0xff1e:
		return '>';
	case 0xff0e: case 0x2024:
		return '.';
	case 0xff0f: case 0x2044: case 0x2215:
		return '/';
	case 0xff1a:
		return ':';
	case 0xff5e:
		return '~';
	default:
		break;
	}
	if (in(cp, 0xff01, 0xff5e))     /* the rest of fullwidth ASCII */
		return (char)(cp - 0xfee0);
	return 0;
}

/* ---- the folded text ---------------------------------------------------- */

struct cps {
	uint32_t *cp;
	uint32_t *off;          /* byte offset of each; off[n] = the string's length */
	size_t n;
};

struct fold {
	struct gd_def_text *t;
	const unsigned char *s;
	size_t slen;
	unsigned flags;
	char pending;           /* 0, ' ' or '\n': white space to write before the next byte */
	size_t pend_start, pend_end;
};

static void grow(struct gd_def_text *t, size_t need)
{
	if (need <= t->cap)
		return;
	size_t cap = t->cap ? t->cap : 256;

	while (cap < need)
		cap *= 2;
	t->norm = mg_realloc(t->norm, cap + 1);
	t->ostart = mg_realloc(t->ostart, cap * sizeof(*t->ostart));
	t->oend = mg_realloc(t->oend, cap * sizeof(*t->oend));
	t->cap = cap;
}

static void put_raw(struct fold *f, char c, size_t start, size_t end)
{
	struct gd_def_text *t = f->t;

	grow(t, t->len + 1);
	t->norm[t->len] = c;
	t->ostart[t->len] = (uint32_t)start;
	t->oend[t->len] = (uint32_t)end;
	t->len++;
}

static void put(struct fold *f, char c, size_t start, size_t end)
{
	if (f->pending) {
		if (f->t->len > 0)
			put_raw(f, f->pending, f->pend_start, f->pend_end);
		f->pending = 0;
	}
	put_raw(f, c, start, end);
}

static void space(struct fold *f, char kind, size_t start, size_t end)
{
	if (!f->pending) {
		f->pending = kind;
		f->pend_start = start;
	} else if (kind == '\n') {
		f->pending = '\n';
	}
	f->pend_end = end;
}

static void add_hit(struct gd_def_text *t, enum gd_def_char_sig sig, size_t off, size_t len, uint32_t cp)
{
	struct gd_def_char_hit *h = t->n_hits ? &t->hits[t->n_hits - 1] : NULL;

	if (h && h->sig == sig && h->off + h->len == off && sig != GD_DEF_CH_MIXED && sig != GD_DEF_CH_STYLED &&
	    sig != GD_DEF_CH_CONFUSABLE) {
		h->len += len;
		h->count++;
		return;
	}
	if (t->n_hits == GD_DEF_TEXT_MAX_HITS) {
		t->more_hits++;
		return;
	}
	if (t->n_hits == t->hits_cap) {
		t->hits_cap = t->hits_cap ? t->hits_cap * 2 : 8;
		t->hits = mg_realloc(t->hits, t->hits_cap * sizeof(*t->hits));
	}
	t->hits[t->n_hits++] = (struct gd_def_char_hit){ .sig = sig, .off = off, .len = len, .cp = cp, .count = 1 };
}

static void hit_text(struct gd_def_char_hit *h, const unsigned char *s)
{
	size_t n = h->len < sizeof(h->hidden) - 1 ? h->len : sizeof(h->hidden) - 1;

	while (n > 0 && n < h->len && (s[h->off + n] & 0xc0) == 0x80)  /* whole characters only */
		n--;
	memcpy(h->hidden, s + h->off, n);
	h->hidden[n] = '\0';
}

/* ESC at s[i] (or C1 CSI): the length of the whole sequence. */
static size_t ansi_len(const unsigned char *s, size_t n, size_t i, bool c1)
{
	size_t j = i + (c1 ? 2 : 1);

	if (!c1) {
		if (j >= n)
			return 1;
		if (s[j] == '[') {
			j++;
		} else if (s[j] == ']' || s[j] == 'P' || s[j] == 'X' || s[j] == '^' || s[j] == '_') {
			/* a string, to BEL or ESC \ */
			for (j++; j < n && j - i < 4096; j++) {
				if (s[j] == 0x07)
					return j + 1 - i;
				if (s[j] == 0x1b && j + 1 < n && s[j + 1] == '\\')
					return j + 2 - i;
			}
			return j - i;
		} else {
			return s[j] >= 0x20 && s[j] < 0x7f ? 2 : 1;
		}
	}
	while (j < n && s[j] >= 0x30 && s[j] <= 0x3f)
		j++;
	while (j < n && s[j] >= 0x20 && s[j] <= 0x2f)
		j++;
	if (j < n && s[j] >= 0x40 && s[j] <= 0x7e)
		j++;
	return j - i;
}

static void decode_all(struct gd_def_text *t, struct cps *c, const unsigned char *s, size_t n)
{
	size_t i = 0, k = 0;

	c->cp = mg_malloc((n + 1) * sizeof(*c->cp));
	c->off = mg_malloc((n + 1) * sizeof(*c->off));
	t->rtl = false;
	while (i < n) {
		size_t l;
		uint32_t cp = utf8_at(s, n, i, &l);

		c->cp[k] = cp;
		c->off[k] = (uint32_t)i;
		t->rtl |= rtl_letter(cp);
		k++;
		i += l;
	}
	c->off[k] = (uint32_t)n;
	c->cp[k] = 0;
	c->n = k;
}

/* Words: mixed scripts, look-alike-only words, styled letters. */
static void scan_words(struct gd_def_text *t, const struct cps *c, const unsigned char *s)
{
	size_t k = 0;

	while (k < c->n) {
		if (!word_cp(c->cp[k])) {
			k++;
			continue;
		}
		size_t start = k;
		unsigned latin = 0, foreign = 0, look = 0, style = 0, other = 0;

		for (; k < c->n && (word_cp(c->cp[k]) || invisible(c->cp[k]) == GD_DEF_CH_ZERO_WIDTH); k++) {
			uint32_t cp = c->cp[k];

			if (cp < 0x80 ? (((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')) : latin_letter(cp))
				latin++;
			else if (cyr_greek_arm(cp)) {
				foreign++;
				look += confusable(cp) != 0;
			} else if (styled(cp)) {
				style++;
			} else if (cp >= 0x80 && confusable(cp)) {
				look++;
				latin++;        /* IPA and small capitals: Latin script */
			} else if (cp >= 0x80) {
				other++;
			}
		}
		size_t off = c->off[start], len = c->off[k] - off;

		if (latin && foreign && look)
			add_hit(t, GD_DEF_CH_MIXED, off, len, c->cp[start]);
		else if (!latin && foreign && look == foreign && !other && foreign >= 2)
			add_hit(t, GD_DEF_CH_CONFUSABLE, off, len, c->cp[start]);
		if (style)
			add_hit(t, GD_DEF_CH_STYLED, off, len, c->cp[start]);
		if (t->n_hits && t->hits[t->n_hits - 1].off == off && t->hits[t->n_hits - 1].sig >= GD_DEF_CH_MIXED)
			hit_text(&t->hits[t->n_hits - 1], s);
	}
}

static bool ident_break(const struct fold *f, uint32_t cp)
{
	const struct gd_def_text *t = f->t;
	char prev;

	if (!(f->flags & GD_DEF_TEXT_IDENT) || t->len == 0 || f->pending)
		return false;
	prev = t->norm[t->len - 1];
	return cp >= 'A' && cp <= 'Z' && ((prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9'));
}

/* &lt; &gt; &#60; &#62; &#x3c; &#x3e; at s[i]: the character and the length. */
static char entity(const unsigned char *s, size_t n, size_t i, size_t *len)
{
	static const struct {
		const char *e;
		char c;
	} ents[] = { { "&lt;", '<' }, { "&gt;", '>' }, { "&#60;", '<' }, { "&#62;", '>' },
		     { "&#x3c;", '<' }, { "&#x3e;", '>' } };

	for (size_t k = 0; k < MG_ARRAY_LEN(ents); k++) {
		size_t l = strlen(ents[k].e);

		if (i + l <= n && strncasecmp((const char *)s + i, ents[k].e, l) == 0) {
			*len = l;
			return ents[k].c;
		}
	}
	return 0;
}

int gd_def_text_fold(struct gd_def_text *t, const char *str, size_t n, unsigned flags)
{
	const unsigned char *s = (const unsigned char *)str;
	struct fold f = { .t = t, .s = s, .slen = n, .flags = flags };
	struct cps c;

	t->len = 0;
	t->n_hits = 0;
	t->more_hits = 0;
	if (n > GD_DEF_TEXT_MAX)
		return -E2BIG;
	grow(t, n + 16);
	decode_all(t, &c, s, n);
	for (size_t k = 0; k < c.n; k++) {
		uint32_t cp = c.cp[k];
		size_t off = c.off[k], end = c.off[k + 1];
		int inv = invisible(cp);
		char ch;

		if (cp == 0x1b || cp == 0x9b) {
			size_t l = ansi_len(s, n, off, cp == 0x9b);

			add_hit(t, GD_DEF_CH_ANSI, off, l, cp);
			space(&f, ' ', off, off + l);
			while (k + 1 < c.n && c.off[k + 1] < off + l)
				k++;
			continue;
		}
		if (cp == '\r') {
			if (k + 1 >= c.n || c.cp[k + 1] != '\n')
				add_hit(t, GD_DEF_CH_CR, off, 1, cp);
			space(&f, '\n', off, end);
			continue;
		}
		if (cp == '\n' || cp == 0x2028 || cp == 0x2029 || cp == 0x0b || cp == 0x0c) {
			if (cp == 0x0b || cp == 0x0c)
				add_hit(t, GD_DEF_CH_CONTROL, off, end - off, cp);
			space(&f, '\n', off, end);
			continue;
		}
		if (cp < 0x20 || cp == 0x7f || in(cp, 0x80, 0x9f)) {
			if (cp != '\t') {
				add_hit(t, GD_DEF_CH_CONTROL, off, end - off, cp);
			}
			space(&f, ' ', off, end);
			continue;
		}
		if (space_cp(cp)) {
			space(&f, ' ', off, end);
			continue;
		}
		if (cp == 0x1f3f4) {    /* a subdivision flag: tags spelling a region, then CANCEL TAG */
			size_t j = k + 1;

			while (j < c.n && j - k <= 7 && (in(c.cp[j], 0xe0030, 0xe0039) || in(c.cp[j], 0xe0061, 0xe007a)))
				j++;
			if (j > k + 2 && j < c.n && c.cp[j] == 0xe007f) {
				for (size_t b = off; b < c.off[j + 1]; b++)
					put(&f, (char)s[b], off, c.off[j + 1]);
				k = j;
				continue;
			}
		}
		if (variation_selector(cp)) {
			size_t j = k;

			while (j < c.n && variation_selector(c.cp[j]))
				j++;
			if (j - k >= 2) {
				add_hit(t, GD_DEF_CH_VARIATION, off, c.off[j] - off, cp);
				t->hits[t->n_hits - 1].count = (unsigned)(j - k);
			}
			k = j - 1;
			continue;
		}
		if (inv == GD_DEF_CH_TAG) {
			size_t before = t->n_hits ? t->hits[t->n_hits - 1].off + t->hits[t->n_hits - 1].len : (size_t)-1;
			bool cont = t->n_hits && t->hits[t->n_hits - 1].sig == GD_DEF_CH_TAG && before == off;

			add_hit(t, GD_DEF_CH_TAG, off, end - off, cp);
			if (!cont)
				space(&f, '\n', off, off);
			if (in(cp, 0xe0020, 0xe007e)) {
				struct gd_def_char_hit *h = &t->hits[t->n_hits - 1];
				size_t hl = strlen(h->hidden);
				char a = (char)(cp - 0xe0000);

				if (h->sig == GD_DEF_CH_TAG && hl + 1 < sizeof(h->hidden)) {
					h->hidden[hl] = a;
					h->hidden[hl + 1] = '\0';
				}
				if (a == ' ')
					space(&f, ' ', off, end);
				else
					put(&f, (a >= 'A' && a <= 'Z') ? (char)(a | 0x20) : a, off, end);
			}
			if (k + 1 >= c.n || invisible(c.cp[k + 1]) != GD_DEF_CH_TAG)
				space(&f, '\n', end, end);
			continue;
		}
		if (inv != INV_NONE) {
			uint32_t prev = k > 0 ? c.cp[k - 1] : 0, next = k + 1 < c.n ? c.cp[k + 1] : 0;
			bool ok = false;

			if (cp == 0x200d && (emoji_like(prev) || in(prev, 0x1f3fb, 0x1f3ff)) && emoji_like(next))
				ok = true;
			else if ((cp == 0x200c || cp == 0x200d || cp == 0x200b || cp == 0x2060) &&
				 (joining_script(prev) || joining_script(next)))
				ok = true;
			else if (inv == GD_DEF_CH_BIDI_MARK && t->rtl)
				ok = true;
			else if (cp == 0xfeff && k == 0)
				inv = GD_DEF_CH_BOM;
			else if (inv == GD_DEF_CH_BLANK && (joining_script(prev) || joining_script(next)))
				ok = true;
			if (!ok)
				add_hit(t, (enum gd_def_char_sig)inv, off, end - off, cp);
			if (inv == GD_DEF_CH_PRIVATE || inv == GD_DEF_CH_NONCHAR || inv == GD_DEF_CH_BLANK)
				space(&f, ' ', off, end);
			continue;               /* dropped from the folded text */
		}
		if (cp == '*' || cp == '`')
			continue;
		if (cp == '&') {
			size_t l = 0;
			char e = entity(s, n, off, &l);

			if (e) {
				put(&f, e, off, off + l);
				while (k + 1 < c.n && c.off[k + 1] < off + l)
					k++;
				continue;
			}
		}
		if ((flags & GD_DEF_TEXT_IDENT) && (cp == '_' || cp == '-' || cp == '.')) {
			space(&f, ' ', off, end);
			continue;
		}
		if (ident_break(&f, cp))
			space(&f, ' ', off, off);
		if (cp == 0x2026) {
			put(&f, '.', off, end);
			put(&f, '.', off, end);
			put(&f, '.', off, end);
			continue;
		}
		ch = fold_cp(cp);
		if (ch) {
			put(&f, ch, off, end);
		} else {
			for (size_t b = off; b < end; b++)
				put(&f, (char)s[b], off, end);
		}
	}
	scan_words(t, &c, s);
	/* the tag hits' text is already set; the others show their characters */
	for (size_t i = 0; i < t->n_hits; i++)
		if (t->hits[i].sig != GD_DEF_CH_TAG && t->hits[i].sig < GD_DEF_CH_MIXED)
			t->hits[i].hidden[0] = '\0';
	free(c.cp);
	free(c.off);
	t->norm[t->len] = '\0';
	return 0;
}

void gd_def_text_span(const struct gd_def_text *t, size_t nstart, size_t nend, size_t *off, size_t *len)
{
	if (t->len == 0 || nstart >= t->len) {
		*off = 0;
		*len = 0;
		return;
	}
	if (nend > t->len)
		nend = t->len;
	if (nend <= nstart)
		nend = nstart + 1;
	*off = t->ostart[nstart];
	*len = t->oend[nend - 1] > *off ? t->oend[nend - 1] - *off : 0;
}

void gd_def_text_release(struct gd_def_text *t)
{
	free(t->norm);
	free(t->ostart);
	free(t->oend);
	free(t->hits);
	memset(t, 0, sizeof(*t));
}

/* ---- names ---------------------------------------------------------------- */

size_t gd_def_levenshtein(const char *a, size_t an, const char *b, size_t bn, size_t max)
{
	size_t prev[130], cur[130];

	if ((an > bn ? an - bn : bn - an) > max || bn >= MG_ARRAY_LEN(prev))
		return max + 1;
	for (size_t j = 0; j <= bn; j++)
		prev[j] = j;
	for (size_t i = 1; i <= an; i++) {
		size_t row_min;

		cur[0] = i;
		row_min = cur[0];
		for (size_t j = 1; j <= bn; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
			if (cur[j] < row_min)
				row_min = cur[j];
		}
		if (row_min > max)
			return max + 1;
		memcpy(prev, cur, (bn + 1) * sizeof(*cur));
	}
	return prev[bn] <= max ? prev[bn] : max + 1;
}

size_t gd_def_fold_name(const char *str, size_t n, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, o = 0;

	if (outlen == 0)
		return 0;
	while (i < n && o + 1 < outlen) {
		size_t l;
		uint32_t cp = utf8_at(s, n, i, &l);
		char c = fold_cp(cp);

		if (c) {
			out[o++] = c;
		} else if (invisible(cp) == INV_NONE && !variation_selector(cp) && cp >= 0x20 && cp != 0x7f &&
			   !in(cp, 0x80, 0x9f)) {
			if (o + l >= outlen)
				break;
			memcpy(out + o, s + i, l);
			o += l;
		}
		i += l;
	}
	out[o] = '\0';
	return o;
}

/* ---- encoded text ------------------------------------------------------ */

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

static int hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool readable(const char *t, size_t n)
{
	size_t spaces = 0, letters = 0;

	if (n < GD_DEF_DECODE_MIN)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];

		if ((c < 0x20 && c != '\t' && c != '\n') || c > 0x7e)
			return false;
		spaces += c == ' ';
		letters += (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
	}
	return spaces >= 3 && letters * 2 >= n;
}

size_t gd_def_decode_text(const char *str, size_t n, char *out, size_t cap)
{
	const unsigned char *s = (const unsigned char *)str;
	bool hex = n >= 32 && n % 2 == 0;
	size_t o = 0;

	for (size_t i = 0; i < n && hex; i++)
		hex = hex_val(s[i]) >= 0;
	if (hex) {
		for (size_t i = 0; i + 1 < n && o < cap; i += 2)
			out[o++] = (char)(hex_val(s[i]) << 4 | hex_val(s[i + 1]));
		return readable(out, o) ? o : 0;
	}
	while (n > 0 && s[n - 1] == '=')
		n--;
	if (n < 24 || n % 4 == 1)
		return 0;
	{
		uint32_t acc = 0;
		unsigned bits = 0;

		for (size_t i = 0; i < n && o < cap; i++) {
			int v = b64_val(s[i]);

			if (v < 0)
				return 0;
			acc = (acc << 6 | (uint32_t)v) & 0xffffff;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				out[o++] = (char)(acc >> bits & 0xff);
			}
		}
	}
	return readable(out, o) ? o : 0;
}
