/* guard/defscan: poisoned tool, prompt and resource definitions (see defscan.h).
 *
 * How a definition is scored.  Every finding has a class and a weight;
 * the score is the sum, over classes, of the heaviest finding of each
 * class, plus a bonus when an instruction's parts are found together.  So
 * repeating one kind of phrase does not add up, and a long benign
 * description that happens to use several ordinary words does not either.
 *
 *   class           weight  finding
 *   invisible       10      unicode-tag, zero-width, bidi-control (4 when the text has right-to-left
 *                           letters and the control is not an override), variation-selectors
 *                   5       bidi-mark (no right-to-left text), format-character (soft hyphen...),
 *                           noncharacter, blank-glyph
 *                   2 / 1   private-use / byte-order-mark
 *   control         10      ansi-escape, control-character;  5  carriage-return (alone)
 *   homoglyph       10      homoglyph-name (a name or parameter with look-alike letters, or one that
 *                           folds to another server's name);  5  mixed-script (a word in prose)
 *   styled          1       styled-letters in prose (10, as homoglyph-name, in a name)
 *   marker          6 / 5   hidden-marker: chat-template token / pseudo-tag (<IMPORTANT>, <SYSTEM>)
 *                   3       hidden-marker: HTML comment, [SYSTEM]-style tag; role-tag at a line start
 *   concealment     5       "do not tell the user", "without informing", "secretly", "keep this hidden"
 *   override        6       "ignore previous instructions", "you are now", "system override"
 *   coercion        3       "before using any other tool", "always call this first", "will not work
 *                           unless", "otherwise ... will fail", "without asking for confirmation"
 *   directive       1 / 2   model-directive: "you must" / "note to the AI" (0 in server instructions,
 *                           which are written for the model)
 *   tampering       3       parameter-tampering: "set the recipient to", "always bcc", "send all
 *                           emails to", bcc: address
 *   sensitive       2 / 3   sensitive-file mentioned / read or sent (~/.ssh, id_rsa, .env, mcp.json,
 *                           .aws/credentials, /etc/passwd...);  7  sensitive-parameter (a parameter name
 *                           that says it holds a sensitive file's contents); none when its sentence
 *                           names it as refused ("... are rejected") and reads or sends nothing
 *   credential      3       credential-harvest: a credential read from the environment, config, files
 *   exfiltration    7       a sensitive file sent to a parameter, an address or this tool; the
 *                           model's context sent to a known collection host
 *                   6       the model's context (conversation, system prompt, other tools) sent to a
 *                           parameter, an address or a markdown image; a credential sent to an
 *                           address, or harvested and put into a parameter
 *                   5 / 4   file contents sent to an address / the context sent somewhere
 *                   3       file contents into a parameter (a sensitive file sent with no
 *                           destination named is what the tool does: "adds the key to the agent")
 *   destination     2 / 3   external-destination: an address, URL, IBAN or wallet data is sent or set
 *                           to / a known collection host or a markdown image
 *   exec            3 / 2   command-execution: curl | sh, reverse shell / rm -rf /, base64 -d
 *   shadowing       6       another server's tool named with shadowing phrasing ("instead of",
 *                           "when X is called", "must send") ; 4 with "also"-type phrasing or a plain-word
 *                           name ("the search tool"; a word with digits, k8s, is a word), or a near miss
 *                           of an identifier-like name (edit distance <= 2) with such phrasing; 2 named
 *                           without it; 1 name-lookalike (own name within distance 2 of another's).  A
 *                           longer identifier that starts with a name (wait_for_prompt) is not it
 *                           unless the rest is a name too (github.create_issue)
 *   param           4       hidden-parameter (sidenote, hidden_*); 3 context-parameter
 *                           (conversation_history...), prose-parameter-name (spaces, > 40 characters,
 *                           six words or more)
 *   misplaced       3       instruction-in-value: an instruction in an enum, default, name or key
 *   long            1 / 2   long-text: a description over 2,000 / 6,000 bytes (instructions: 8,000 / 20,000)
 *   encoded         2       encoded-blob: a long base64 run in prose that decodes to nothing readable
 *   decoded         3       encoded-text: a base64 or hex run (prose or value) that decodes to
 *                           readable text; that text is scanned as a string of its own, every
 *                           finding on the run
 *   limit           5       scan-limit: too deep, too many strings, a string cut
 *   quoted          1       quoted-phrase: a marker or instruction phrase quoted as an example after
 *                           "such as", "detects", "phrases like" (a detector describing itself)
 *
 * Bonus: +4 for each distinct pair (intent class, payload class) found
 * together, at most +8 (a directive does not pair with a sensitive file or
 * a destination alone: "you must give the path to ~/.kube/config").
 * Intent: marker, concealment, override, coercion, directive, tampering,
 * shadowing, decoded.  Payload: sensitive, credential, exfiltration,
 * destination, exec, shadowing.  "Together": in one sentence of one
 * string; a hidden marker, or encoded text, with anything in its string;
 * concealment with anything within 400 bytes of it.
 *
 * Verdict: suspicious from 5, poisoned from 10.  No single class but the
 * character classes reaches 10: one phrase ("IMPORTANT", "you must", a
 * mention of ~/.ssh) never makes a definition poisoned.  Markers,
 * concealment or coercion next to a sensitive file or an exfiltration do:
 * 5 + 2 + 4, 5 + 3 + 4, 3 + 3 + 4. */
#include "guard/defscan.h"

#include <errno.h>
#include <hs.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/map.h"
#include "base/mem.h"
#include "base/str.h"
#include "guard/defscan_rules.h"
#include "guard/defscan_text.h"

enum cls {
	C_INVISIBLE, C_CONTROL, C_HOMOGLYPH, C_STYLED, C_MARKER, C_CONCEAL, C_OVERRIDE, C_COERCE,
	C_DIRECTIVE, C_TAMPER, C_SENSITIVE, C_CREDENTIAL, C_EXFIL, C_DEST, C_EXEC, C_SHADOW, C_PARAM,
	C_MISPLACED, C_LONG, C_ENCODED, C_DECODED, C_LIMIT, C_QUOTED, C_N
};

static const bool g_intent[C_N] = {
	[C_MARKER] = true, [C_CONCEAL] = true, [C_OVERRIDE] = true, [C_COERCE] = true,
	[C_DIRECTIVE] = true, [C_TAMPER] = true, [C_SHADOW] = true, [C_DECODED] = true,
};
static const bool g_payload[C_N] = {
	[C_SENSITIVE] = true, [C_CREDENTIAL] = true, [C_EXFIL] = true, [C_DEST] = true,
	[C_EXEC] = true, [C_SHADOW] = true,
};

#define PAIR_BONUS 4
#define BONUS_MAX 8
#define CONCEAL_REACH 400

#define MAX_DEPTH 64
#define MAX_STRINGS 20000
#define MAX_BYTES (4u << 20)
#define MAX_FINDS 1024
#define MAX_ATOMS 8192
#define MAX_DECODED 4           /* encoded runs decoded per string */
#define DECODE_CAP 4096         /* bytes decoded per run */

enum slot { SL_PROSE, SL_NAME, SL_PARAM, SL_KEY, SL_VALUE };

struct atom {
	enum gd_def_atom kind;
	unsigned rule;
	size_t s, e;            /* folded text */
	unsigned sent;
	bool est;               /* s is an estimate (a rule without start tracking) */
};

struct ifind {
	const char *signal;
	enum cls cls;
	int weight;
	unsigned str, sent;
	size_t npos;
	unsigned order;
	struct gd_def_finding out;
};

struct name {
	char *fold;
	size_t len;
	const char *raw;        /* into names_seen (or the caller's list, during one scan) */
	size_t raw_off;
	bool ident;             /* has _ - . or a case step: not an ordinary word */
	size_t next;            /* the next name with the same folded form, or NO_NAME */
	unsigned char bag[16];  /* letters counted by (byte % 16): near names have near bags */
};

#define NO_NAME SIZE_MAX

struct gd_defscan {
	hs_database_t *db;
	hs_scratch_t *scratch;
	unsigned *max_width;    /* per rule without start tracking: its widest match */
	hs_database_t **exact;  /* per such rule: the pattern anchored at both ends, to find the start */
	struct gd_def_text text;
	struct atom *atoms;
	size_t n_atoms, cap_atoms;
	bool atoms_full;
	size_t *bounds;         /* sentence ends in the folded text */
	size_t n_bounds, cap_bounds;
	struct ifind *finds;
	size_t n_finds, cap_finds;
	struct name *names;
	size_t n_names, cap_names;
	/* the names are folded and indexed once per list: the list they came
	 * from is kept to tell the next one from it */
	struct mg_map index;            /* folded name -> 1 + its first entry */
	struct mg_buf names_seen;       /* the raw names, each NUL-terminated */
	size_t names_given;
	bool names_loaded;
};

struct scan {
	struct gd_defscan *d;
	char path[GD_DEF_PATH_MAX];
	size_t plen;
	unsigned str;
	size_t strings, bytes;
	bool stop, limit_seen;
	char own[128];
	size_t own_len;
	int cls_max[C_N];
	size_t dropped;
	bool instructions;
	int rc;
	/* the string being scanned */
	enum slot slot;
	bool in_key;
	const char *raw;
	size_t raw_len;
	bool intent_here;
	bool exact_spans;       /* findings not merged (the character layer) */
	bool span_fixed;        /* text decoded from a run: every finding is on the run */
	size_t span_off, span_len;
};

/* ---- the database ---------------------------------------------------- */

static struct gd_defscan *scanner_alloc(void)
{
	struct gd_defscan *d = MG_NEW(struct gd_defscan);

	mg_map_init(&d->index);
	mg_buf_init(&d->names_seen, 64u << 20);
	return d;
}

int gd_def_new(struct gd_defscan **out, char *err, size_t errlen)
{
	struct gd_defscan *d = scanner_alloc();
	const char **exprs = mg_calloc(gd_def_n_rules, sizeof(*exprs));
	unsigned *flags = mg_calloc(gd_def_n_rules, sizeof(*flags));
	unsigned *ids = mg_calloc(gd_def_n_rules, sizeof(*ids));
	hs_compile_error_t *cerr = NULL;
	int rc = 0;

	d->max_width = mg_calloc(gd_def_n_rules, sizeof(*d->max_width));
	for (size_t i = 0; i < gd_def_n_rules; i++) {
		bool nosom = gd_def_rules[i].flags & GD_DEF_NOSOM;

		exprs[i] = gd_def_rules[i].expr;
		flags[i] = (gd_def_rules[i].flags & ~GD_DEF_NOSOM) | (nosom ? 0 : HS_FLAG_SOM_LEFTMOST);
		ids[i] = (unsigned)i;
		if (nosom) {
			hs_expr_info_t *info = NULL;

			if (hs_expression_info(exprs[i], flags[i], &info, &cerr) != HS_SUCCESS) {
				snprintf(err, errlen, "definition pattern %zu: %s", i, cerr ? cerr->message : "invalid");
				hs_free_compile_error(cerr);
				rc = -EINVAL;
				goto out;
			}
			d->max_width[i] = info->max_width;
			free(info);
		}
	}
	d->exact = mg_calloc(gd_def_n_rules, sizeof(*d->exact));
	for (size_t i = 0; i < gd_def_n_rules; i++) {
		char *anchored;
		size_t l;

		if (!(gd_def_rules[i].flags & GD_DEF_NOSOM))
			continue;
		l = strlen(gd_def_rules[i].expr) + 8;
		anchored = mg_malloc(l);
		snprintf(anchored, l, "^(?:%s)$", gd_def_rules[i].expr);
		if (hs_compile(anchored, flags[i] | HS_FLAG_SINGLEMATCH, HS_MODE_BLOCK, NULL, &d->exact[i], &cerr) !=
			    HS_SUCCESS ||
		    hs_alloc_scratch(d->exact[i], &d->scratch) != HS_SUCCESS) {
			snprintf(err, errlen, "definition pattern %zu (anchored): %s", i, cerr ? cerr->message : "no scratch");
			hs_free_compile_error(cerr);
			free(anchored);
			rc = -EINVAL;
			goto out;
		}
		free(anchored);
	}
	if (hs_compile_multi(exprs, flags, ids, (unsigned)gd_def_n_rules, HS_MODE_BLOCK, NULL, &d->db, &cerr) !=
	    HS_SUCCESS) {
		snprintf(err, errlen, "definition pattern %d: %s", cerr ? cerr->expression : -1,
			 cerr ? cerr->message : "cannot compile");
		hs_free_compile_error(cerr);
		rc = -EINVAL;
		goto out;
	}
	if (hs_alloc_scratch(d->db, &d->scratch) != HS_SUCCESS) {
		snprintf(err, errlen, "cannot allocate scan space");
		rc = -ENOMEM;
		goto out;
	}
out:
	free(exprs);
	free(flags);
	free(ids);
	if (rc < 0)
		gd_def_free(d);
	else
		*out = d;
	return rc;
}

void gd_def_free(struct gd_defscan *d)
{
	if (!d)
		return;
	hs_free_scratch(d->scratch);
	hs_free_database(d->db);
	free(d->max_width);
	for (size_t i = 0; d->exact && i < gd_def_n_rules; i++)
		hs_free_database(d->exact[i]);
	free(d->exact);
	gd_def_text_release(&d->text);
	free(d->atoms);
	free(d->bounds);
	free(d->finds);
	for (size_t i = 0; i < d->cap_names; i++)
		free(d->names ? d->names[i].fold : NULL);
	free(d->names);
	mg_map_release(&d->index);
	mg_buf_release(&d->names_seen);
	free(d);
}

/* ---- keeping the built databases ------------------------------------- */

#define SAVED_MAGIC "MGDEFDB1"

void gd_def_rules_id(char out[33])
{
	unsigned char h[16];
	crypto_generichash_state st;
	const char *ver = hs_version();

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)ver, strlen(ver) + 1);
	for (size_t i = 0; i < gd_def_n_rules; i++) {
		const struct gd_def_rule *r = &gd_def_rules[i];

		crypto_generichash_update(&st, (const unsigned char *)&r->flags, sizeof(r->flags));
		crypto_generichash_update(&st, (const unsigned char *)r->expr, strlen(r->expr) + 1);
	}
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(out, 33, h, sizeof(h));
}

static int put_db(struct mg_buf *b, const hs_database_t *db)
{
	char *bytes = NULL;
	size_t len = 0;
	uint64_t n;
	int rc = 0;

	if (db && hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
		return -ENOMEM;
	n = len;
	if (mg_buf_add(b, &n, sizeof(n)) || (len && mg_buf_add(b, bytes, len)))
		rc = -ENOMEM;
	free(bytes);
	return rc;
}

int gd_def_save(const struct gd_defscan *d, char **out, size_t *len)
{
	struct mg_buf b;
	char id[33];
	uint32_t n = (uint32_t)gd_def_n_rules;
	int rc;

	mg_buf_init(&b, 256u << 20);
	gd_def_rules_id(id);
	rc = mg_buf_add(&b, SAVED_MAGIC, 8) || mg_buf_add(&b, id, 32) || mg_buf_add(&b, &n, sizeof(n))
		? -ENOMEM : put_db(&b, d->db);
	for (size_t i = 0; !rc && i < gd_def_n_rules; i++) {
		uint32_t w = d->max_width[i];

		rc = mg_buf_add(&b, &w, sizeof(w)) ? -ENOMEM : put_db(&b, d->exact[i]);
	}
	if (!rc) {
		unsigned char sum[16];

		/* a damaged file is never handed to the engine */
		crypto_generichash(sum, sizeof(sum), (const unsigned char *)b.data, b.len, NULL, 0);
		rc = mg_buf_add(&b, sum, sizeof(sum)) ? -ENOMEM : 0;
	}
	if (rc) {
		mg_buf_release(&b);
		return rc;
	}
	*out = mg_buf_detach(&b, len);
	return 0;
}

struct reader {
	const char *p;
	size_t left;
};

static bool take(struct reader *r, void *out, size_t n)
{
	if (r->left < n)
		return false;
	memcpy(out, r->p, n);
	r->p += n;
	r->left -= n;
	return true;
}

/* One database (or none: length 0).  0 or -ESTALE. */
static int take_db(struct reader *r, hs_database_t **db, hs_scratch_t **scratch)
{
	uint64_t n;

	if (!take(r, &n, sizeof(n)) || n > r->left)
		return -ESTALE;
	if (n == 0)
		return 0;
	if (hs_deserialize_database(r->p, (size_t)n, db) != HS_SUCCESS ||
	    hs_alloc_scratch(*db, scratch) != HS_SUCCESS)
		return -ESTALE;
	r->p += n;
	r->left -= n;
	return 0;
}

int gd_def_load(struct gd_defscan **out, const char *data, size_t len)
{
	struct reader r = { data, len };
	struct gd_defscan *d;
	char magic[8], id[33], want[33];
	uint32_t n;
	int rc = 0;

	unsigned char sum[16];

	if (len < sizeof(sum))
		return -ESTALE;
	crypto_generichash(sum, sizeof(sum), (const unsigned char *)data, len - sizeof(sum), NULL, 0);
	if (sodium_memcmp(sum, data + len - sizeof(sum), sizeof(sum)) != 0)
		return -ESTALE;
	r.left -= sizeof(sum);
	gd_def_rules_id(want);
	id[32] = '\0';
	if (!take(&r, magic, 8) || memcmp(magic, SAVED_MAGIC, 8) != 0 || !take(&r, id, 32) ||
	    strcmp(id, want) != 0 || !take(&r, &n, sizeof(n)) || n != gd_def_n_rules)
		return -ESTALE;
	d = scanner_alloc();
	d->max_width = mg_calloc(gd_def_n_rules, sizeof(*d->max_width));
	d->exact = mg_calloc(gd_def_n_rules, sizeof(*d->exact));
	rc = take_db(&r, &d->db, &d->scratch);
	if (!rc && !d->db)
		rc = -ESTALE;
	for (size_t i = 0; !rc && i < gd_def_n_rules; i++) {
		uint32_t w;

		if (!take(&r, &w, sizeof(w)))
			rc = -ESTALE;
		else
			d->max_width[i] = w;
		if (!rc)
			rc = take_db(&r, &d->exact[i], &d->scratch);
		if (!rc && !d->exact[i] && (gd_def_rules[i].flags & GD_DEF_NOSOM))
			rc = -ESTALE;
	}
	if (!rc && r.left)
		rc = -ESTALE;
	if (rc) {
		gd_def_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

const char *gd_def_verdict_name(enum gd_def_verdict v)
{
	switch (v) {
	case GD_DEF_CLEAN:
		return "clean";
	case GD_DEF_SUSPICIOUS:
		return "suspicious";
	case GD_DEF_POISONED:
		return "poisoned";
	default:
		return "?";
	}
}

/* ---- findings ---------------------------------------------------------- */

static unsigned sentence_of(const struct gd_defscan *d, size_t pos)
{
	size_t lo = 0, hi = d->n_bounds;

	while (lo < hi) {       /* the number of sentence ends before pos */
		size_t mid = (lo + hi) / 2;

		if (d->bounds[mid] < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (unsigned)lo;
}

static void copy_detail(char *dst, size_t cap, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < cap; i++)
		dst[o++] = (s[i] == '\n' || s[i] == '\t') ? ' ' : s[i];
	while (o > 0 && (((unsigned char)dst[o - 1] & 0xc0) == 0x80 || (unsigned char)dst[o - 1] >= 0xc0)) {
		/* never end inside a character */
		size_t k = o - 1;

		while (k > 0 && ((unsigned char)dst[k] & 0xc0) == 0x80)
			k--;
		{
			unsigned char lead = (unsigned char)dst[k];
			size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;

			if (o - k == want)
				break;
			o = k;
		}
	}
	dst[o] = '\0';
}

/* Record a finding on [off, off+len) of the current string; npos: where in
 * the folded text (for "together"). */
static void find(struct scan *sc, const char *signal, enum cls cls, int weight, size_t off, size_t len,
		 size_t npos, const char *detail, size_t detail_len)
{
	struct gd_defscan *d = sc->d;
	unsigned sent = sentence_of(d, npos);
	struct ifind *f;

	if (weight <= 0)
		return;
	if (sc->span_fixed) {
		off = sc->span_off;
		len = sc->span_len;
	}
	if (weight > sc->cls_max[cls])
		sc->cls_max[cls] = weight;
	if (g_intent[cls] && cls != C_SHADOW && cls != C_DECODED)
		sc->intent_here = true;
	for (size_t k = d->n_finds; k > 0 && d->n_finds - k < 16; k--) {   /* one per signal and sentence */
		struct ifind *p = &d->finds[k - 1];

		if (p->str != sc->str)
			break;
		if (p->signal == signal && p->sent == sent && p->out.in_key == sc->in_key && !sc->exact_spans) {
			size_t end = off + len > p->out.off + p->out.len ? off + len : p->out.off + p->out.len;

			if (off < p->out.off)
				p->out.off = off;
			p->out.len = end - p->out.off;
			if (weight > p->weight) {
				p->weight = p->out.weight = weight;
				copy_detail(p->out.detail, sizeof(p->out.detail), detail, detail_len);
			}
			return;
		}
	}
	if (d->n_finds == MAX_FINDS) {
		sc->dropped++;
		return;
	}
	if (d->n_finds == d->cap_finds) {
		d->cap_finds = d->cap_finds ? d->cap_finds * 2 : 32;
		d->finds = mg_realloc(d->finds, d->cap_finds * sizeof(*d->finds));
	}
	f = &d->finds[d->n_finds];
	memset(f, 0, sizeof(*f));
	f->signal = signal;
	f->cls = cls;
	f->weight = weight;
	f->str = sc->str;
	f->sent = sent;
	f->npos = npos;
	f->order = (unsigned)d->n_finds;
	f->out.signal = signal;
	f->out.weight = weight;
	memcpy(f->out.path, sc->path, sc->plen + 1);
	f->out.in_key = sc->in_key;
	f->out.off = off;
	f->out.len = len;
	copy_detail(f->out.detail, sizeof(f->out.detail), detail ? detail : "", detail ? detail_len : 0);
	d->n_finds++;
}

/* A finding on folded span [ns, ne). */
static void find_n(struct scan *sc, const char *signal, enum cls cls, int weight, size_t ns, size_t ne)
{
	const struct gd_def_text *t = &sc->d->text;
	size_t off, len;

	gd_def_text_span(t, ns, ne, &off, &len);
	find(sc, signal, cls, weight, off, len, ns, t->norm + ns, ne > ns ? ne - ns : 0);
}

static void limit(struct scan *sc, const char *what)
{
	if (!sc->limit_seen) {
		sc->limit_seen = true;
		find(sc, "scan-limit", C_LIMIT, 5, 0, 0, 0, what, strlen(what));
	}
}

/* ---- the character layer ---------------------------------------------- */

static void char_findings(struct scan *sc)
{
	const struct gd_def_text *t = &sc->d->text;
	bool named = sc->slot == SL_NAME || sc->slot == SL_PARAM;

	for (size_t i = 0; i < t->n_hits; i++) {
		const struct gd_def_char_hit *h = &t->hits[i];
		const char *sig = gd_def_char_sig_name(h->sig);
		enum cls cls = C_INVISIBLE;
		int w = 10;
		char det[96];

		switch (h->sig) {
		case GD_DEF_CH_TAG: case GD_DEF_CH_ZERO_WIDTH: case GD_DEF_CH_VARIATION:
			break;
		case GD_DEF_CH_BIDI:
			w = (h->cp == 0x202d || h->cp == 0x202e || !t->rtl) ? 10 : 4;
			break;
		case GD_DEF_CH_BIDI_MARK: case GD_DEF_CH_FORMAT: case GD_DEF_CH_NONCHAR: case GD_DEF_CH_BLANK:
			w = 5;
			break;
		case GD_DEF_CH_PRIVATE:
			w = 2;
			break;
		case GD_DEF_CH_BOM:
			w = 1;
			break;
		case GD_DEF_CH_ANSI: case GD_DEF_CH_CONTROL:
			cls = C_CONTROL;
			break;
		case GD_DEF_CH_CR:
			cls = C_CONTROL;
			w = 5;
			break;
		case GD_DEF_CH_MIXED:
			cls = C_HOMOGLYPH;
			w = named || sc->slot == SL_KEY ? 10 : 5;
			if (named || sc->slot == SL_KEY)
				sig = "homoglyph-name";
			break;
		case GD_DEF_CH_CONFUSABLE:
			cls = C_HOMOGLYPH;
			w = named ? 10 : 0;
			sig = "homoglyph-name";
			break;
		case GD_DEF_CH_STYLED:
			cls = named ? C_HOMOGLYPH : C_STYLED;
			w = named ? 10 : 1;
			if (named)
				sig = "homoglyph-name";
			break;
		default:
			w = 0;
			break;
		}
		if (h->sig == GD_DEF_CH_TAG)
			snprintf(det, sizeof(det), "%u tag characters: %s", h->count, h->hidden);
		else if (h->sig >= GD_DEF_CH_MIXED)
			snprintf(det, sizeof(det), "%s", h->hidden);
		else
			snprintf(det, sizeof(det), "U+%04X x%u", (unsigned)h->cp, h->count);
		sc->exact_spans = true;
		find(sc, sig, cls, w, h->off, h->len, 0, det, strlen(det));
		sc->exact_spans = false;
	}
	if (t->more_hits)
		limit(sc, "too many invisible characters");
}

/* ---- phrase atoms --------------------------------------------------------- */

static int on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
		    void *ctx)
{
	struct gd_defscan *d = ctx;

	if (d->n_atoms == MAX_ATOMS) {
		d->atoms_full = true;
		return 1;
	}
	if (d->n_atoms == d->cap_atoms) {
		d->cap_atoms = d->cap_atoms ? d->cap_atoms * 2 : 64;
		d->atoms = mg_realloc(d->atoms, d->cap_atoms * sizeof(*d->atoms));
	}
	if (gd_def_rules[id].flags & GD_DEF_NOSOM) {
		unsigned w = d->max_width[id];

		from = w < to ? to - w : 0;
	}
	d->atoms[d->n_atoms++] = (struct atom){ .kind = gd_def_rules[id].atom, .rule = id, .s = (size_t)from,
						.e = (size_t)to,
						.est = (gd_def_rules[id].flags & GD_DEF_NOSOM) != 0 };
	return 0;
}

static int atom_cmp(const void *a, const void *b)
{
	const struct atom *x = a, *y = b;

	if ((x->kind == GD_DEF_A_N) != (y->kind == GD_DEF_A_N))
		return x->kind == GD_DEF_A_N ? 1 : -1;
	if (x->s != y->s)
		return x->s < y->s ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->e > y->e ? -1 : x->e < y->e;
}

static void sentences(struct gd_defscan *d)
{
	const char *n = d->text.norm;
	size_t len = d->text.len;

	d->n_bounds = 0;
	for (size_t i = 0; i < len; i++) {
		bool end = n[i] == '\n' ||
			   ((n[i] == '.' || n[i] == '!' || n[i] == '?' || n[i] == ';') &&
			    (i + 1 == len || n[i + 1] == ' ' || n[i + 1] == '\n'));

		if (!end)
			continue;
		if (d->n_bounds == d->cap_bounds) {
			d->cap_bounds = d->cap_bounds ? d->cap_bounds * 2 : 32;
			d->bounds = mg_realloc(d->bounds, d->cap_bounds * sizeof(*d->bounds));
		}
		d->bounds[d->n_bounds++] = i;
	}
}

static int on_exact(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
		    void *ctx)
{
	*(bool *)ctx = true;
	return 1;
}

/* The leftmost word start from which the rule matches up to a->e exactly. */
static void exact_start(const struct gd_defscan *d, struct atom *a)
{
	const char *n = d->text.norm;

	for (size_t p = a->s; p < a->e; p++) {
		bool hit = false;

		if (p > 0 && n[p - 1] != ' ' && n[p - 1] != '\n' && n[p - 1] != '(' && n[p - 1] != '"' &&
		    n[p - 1] != '\'' && n[p - 1] != '<' && n[p - 1] != '[' && n[p - 1] != '>')
			continue;
		hs_scan(d->exact[a->rule], n + p, (unsigned)(a->e - p), 0, d->scratch, on_exact, &hit);
		if (hit) {
			a->s = p;
			return;
		}
	}
}

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* Finish an atom: an estimated start no earlier than its sentence; the
 * host of a URL and both parts of an address read here.  False: not one. */
static bool fix_atom(const struct gd_defscan *d, struct atom *a)
{
	const char *n = d->text.norm;
	size_t len = d->text.len;

	if (a->est && a->e > 0) {
		unsigned k = sentence_of(d, a->e - 1);
		size_t from = k > 0 ? d->bounds[k - 1] + 1 : 0;

		if (a->s < from)
			a->s = from;
		while (a->s < a->e && (n[a->s] == ' ' || n[a->s] == '\n'))
			a->s++;
		exact_start(d, a);
	}
	if (a->kind == GD_DEF_A_URL) {
		while (a->e < len && a->e - a->s < 300 && host_char(n[a->e]))
			a->e++;
		while (a->e > a->s && n[a->e - 1] == '.')
			a->e--;
	} else if (a->kind == GD_DEF_A_EMAIL) {
		size_t at = a->s + 1, dots = 0;

		while (a->s > 0 && at - a->s < 64 && (host_char(n[a->s - 1]) || n[a->s - 1] == '_' ||
						       n[a->s - 1] == '%' || n[a->s - 1] == '+'))
			a->s--;
		while (a->s < at && n[a->s] == '.')
			a->s++;
		a->e = at + 1;
		while (a->e < len && a->e - at < 254 && host_char(n[a->e]))
			dots += n[a->e++] == '.';
		while (a->e > at + 1 && n[a->e - 1] == '.')
			a->e--, dots--;
		if (dots == 0 || a->s == at)
			return false;
	}
	return true;
}

static int est_cmp(const void *a, const void *b)
{
	const struct atom *x = a, *y = b;

	if (x->rule != y->rule)
		return x->rule < y->rule ? -1 : 1;
	return x->e < y->e ? -1 : x->e > y->e;
}

/* A rule without start tracking reports every end of a match; of ends
 * that overlap, only the last is refined (the others would give the same
 * start). */
static void sort_ends(struct gd_defscan *d)
{
	size_t n = 0;

	if (d->n_atoms < 2)
		return;
	qsort(d->atoms, d->n_atoms, sizeof(*d->atoms), est_cmp);
	for (size_t i = 0; i < d->n_atoms; i++) {
		struct atom *a = &d->atoms[i];

		if (a->est && i + 1 < d->n_atoms && d->atoms[i + 1].rule == a->rule && d->atoms[i + 1].s <= a->e)
			continue;       /* a later end of the same match */
		d->atoms[n++] = *a;
	}
	d->n_atoms = n;
}

static int collect_atoms(struct scan *sc)
{
	struct gd_defscan *d = sc->d;
	size_t n = 0;

	d->n_atoms = 0;
	d->atoms_full = false;
	if (d->text.len == 0)
		return 0;
	if (hs_scan(d->db, d->text.norm, (unsigned)d->text.len, 0, d->scratch, on_match, d) != HS_SUCCESS &&
	    !d->atoms_full)
		return -EIO;
	if (d->atoms_full)
		limit(sc, "too many phrase matches");
	sort_ends(d);
	for (size_t i = 0; i < d->n_atoms; i++)
		if (!fix_atom(d, &d->atoms[i]))
			d->atoms[i].kind = GD_DEF_A_N;
	if (d->n_atoms > 1)
		qsort(d->atoms, d->n_atoms, sizeof(*d->atoms), atom_cmp);
	while (d->n_atoms > 0 && d->atoms[d->n_atoms - 1].kind == GD_DEF_A_N)
		d->n_atoms--;
	/* one atom per kind and overlapping span */
	for (size_t i = 0; i < d->n_atoms; i++) {
		struct atom *a = &d->atoms[i];
		bool merged = false;

		for (size_t k = n; k > 0 && d->atoms[k - 1].e + 1 >= a->s; k--) {
			struct atom *p = &d->atoms[k - 1];

			if (p->kind == a->kind && (p->e >= a->s || (a->kind == GD_DEF_A_SENS && a->s == p->e + 1 &&
							       (d->text.norm[p->e] == '/' || d->text.norm[p->e] == '\\')))) {
				if (a->e > p->e)
					p->e = a->e;
				merged = true;
				break;
			}
		}
		if (!merged)
			d->atoms[n++] = *a;
	}
	d->n_atoms = n;
	if (n > 1)
		qsort(d->atoms, d->n_atoms, sizeof(*d->atoms), atom_cmp);
	for (size_t i = 0; i < d->n_atoms; i++)
		d->atoms[i].sent = sentence_of(d, d->atoms[i].s);
	return 0;
}

static bool starts(const char *s, size_t n, size_t at, const char *w)
{
	size_t l = strlen(w);

	return at + l <= n && memcmp(s + at, w, l) == 0;
}

/* The host of a URL or an e-mail address at [s, e) is a placeholder. */
static bool example_host(const char *norm, size_t s, size_t e)
{
	static const char *const hosts[] = {
		"example.com", "example.org", "example.net", "localhost", "yourdomain", "your-domain", "mydomain",
		"domain.com", "company.com", "acme.com", "email.com", "test.com", "foo.com", "bar.com",
	};
	static const char *const tails[] = { ".example", ".test", ".invalid", ".localhost", ".local" };
	const char *at = memchr(norm + s, '@', e - s), *sl = NULL;
	size_t hs, hl;

	for (size_t i = s; i + 2 < e && !sl; i++)
		if (norm[i] == ':' && norm[i + 1] == '/' && norm[i + 2] == '/')
			sl = norm + i + 3;
	hs = (size_t)((at ? at + 1 : sl ? sl : norm + s) - norm);
	hl = e - hs;
	if (hl >= 4 && (memcmp(norm + hs, "127.", 4) == 0 || memcmp(norm + hs, "0.0.", 4) == 0))
		return true;
	for (size_t i = 0; i < MG_ARRAY_LEN(hosts); i++) {
		size_t l = strlen(hosts[i]);

		for (size_t k = hs; k + l <= hs + hl; k++)
			if (memcmp(norm + k, hosts[i], l) == 0)
				return true;
	}
	for (size_t i = 0; i < MG_ARRAY_LEN(tails); i++) {
		size_t l = strlen(tails[i]);

		if (hl >= l && memcmp(norm + hs + hl - l, tails[i], l) == 0)
			return true;
	}
	return false;
}

/* The word before folded position s, skipping one determiner: is it a
 * preposition that makes what follows a destination ("add it to ~/.ssh")? */
static bool destination_before(const char *norm, size_t s)
{
	static const char *const dets[] = { "the", "your", "their", "a", "my", "user's", "our" };
	static const char *const preps[] = { "to", "into", "in", "inside", "within", "under" };
	size_t e = s, b;

	for (int round = 0; round < 2; round++) {
		while (e > 0 && norm[e - 1] == ' ')
			e--;
		b = e;
		while (b > 0 && norm[b - 1] != ' ' && norm[b - 1] != '\n')
			b--;
		for (size_t i = 0; i < MG_ARRAY_LEN(preps); i++)
			if (e - b == strlen(preps[i]) && memcmp(norm + b, preps[i], e - b) == 0)
				return true;
		bool det = false;

		for (size_t i = 0; i < MG_ARRAY_LEN(dets); i++)
			det |= e - b == strlen(dets[i]) && memcmp(norm + b, dets[i], e - b) == 0;
		if (!det)
			return false;
		e = b;
	}
	return false;
}

/* "add an entry to the client's configuration (mcp.json)": a preposition
 * between the verb at v and the object at o makes the object where things go. */
static bool preposition_between(const char *norm, size_t v, size_t o)
{
	static const char *const preps[] = { " to ", " into ", " in ", " inside ", " within " };

	for (size_t i = 0; i < MG_ARRAY_LEN(preps); i++) {
		size_t l = strlen(preps[i]);

		for (size_t k = v; k + l <= o + 1; k++)
			if (memcmp(norm + k, preps[i], l) == 0)
				return true;
	}
	return false;
}

/* C checks on a sensitive-file atom; false drops it. */
static bool sens_ok(const char *norm, size_t len, struct atom *a)
{
	unsigned sub = gd_def_rules[a->rule].sub;

	switch (sub) {
	case GD_DEF_S_SSH_KEY:
		return !starts(norm, len, a->e, ".pub");
	case GD_DEF_S_ENV: {
		const char *dot = memchr(norm + a->s, '.', a->e - a->s);

		if (dot)
			a->s = (size_t)(dot - norm);
		return !(starts(norm, len, a->e, ".example") || starts(norm, len, a->e, ".sample") ||
			 starts(norm, len, a->e, ".template") || starts(norm, len, a->e, ".dist") ||
			 starts(norm, len, a->e, ".defaults") || starts(norm, len, a->e, ".tpl"));
	}
	case GD_DEF_S_CERT: {
		size_t b = a->s + 1, k = b;     /* the file's base name before the extension */
		bool keep = false;
		static const char *const names[] = { "server", "private", "priv", "tls", "ssl", "client", "domain" };

		while (k > 0 && (norm[k - 1] == '_' || norm[k - 1] == '-' || (norm[k - 1] >= 'a' && norm[k - 1] <= 'z') ||
				 (norm[k - 1] >= '0' && norm[k - 1] <= '9')))
			k--;
		for (size_t i = k; i + 3 <= b; i++)
			keep |= memcmp(norm + i, "key", 3) == 0 || (i + 4 <= b && memcmp(norm + i, "priv", 4) == 0);
		for (size_t i = 0; i < MG_ARRAY_LEN(names); i++)
			keep |= b - k == strlen(names[i]) && memcmp(norm + k, names[i], b - k) == 0;
		if (keep)
			a->s = k;
		return keep;
	}
	default:
		return true;
	}
}

static const char *atom_signal(enum gd_def_atom k, enum cls *cls)
{
	switch (k) {
	case GD_DEF_A_MARKER: case GD_DEF_A_TOKEN: case GD_DEF_A_COMMENT: case GD_DEF_A_BRACKET:
		*cls = C_MARKER;
		return "hidden-marker";
	case GD_DEF_A_ROLE:
		*cls = C_MARKER;
		return "role-tag";
	case GD_DEF_A_NOTE_AI: case GD_DEF_A_DIRECTIVE:
		*cls = C_DIRECTIVE;
		return "model-directive";
	case GD_DEF_A_CONCEAL:
		*cls = C_CONCEAL;
		return "concealment";
	case GD_DEF_A_OVERRIDE:
		*cls = C_OVERRIDE;
		return "override";
	case GD_DEF_A_COERCE: case GD_DEF_A_CONSENT:
		*cls = C_COERCE;
		return "coercion";
	case GD_DEF_A_TAMPER: case GD_DEF_A_BCC:
		*cls = C_TAMPER;
		return "parameter-tampering";
	case GD_DEF_A_EXEC:
		*cls = C_EXEC;
		return "command-execution";
	default:
		return NULL;
	}
}

/* A phrase given as an example of what something detects or warns about
 * ("flags phrases such as 'ignore previous instructions'", "hidden
 * <IMPORTANT> tags"): in quotes or named as a tag, after a mention cue in
 * its sentence. */
static bool quoted_mention(const struct gd_defscan *d, const struct atom *a)
{
	const char *n = d->text.norm;
	size_t len = d->text.len;
	bool cue = false, quoted, tag;

	for (size_t i = 0; i < d->n_atoms && !cue; i++)
		cue = d->atoms[i].kind == GD_DEF_A_MENTION && d->atoms[i].sent == a->sent && d->atoms[i].e <= a->s;
	if (!cue)
		return false;
	quoted = a->s > 0 && a->e < len && (n[a->s - 1] == '\'' || n[a->s - 1] == '"') && n[a->e] == n[a->s - 1];
	tag = (a->kind == GD_DEF_A_MARKER || a->kind == GD_DEF_A_BRACKET || a->kind == GD_DEF_A_TOKEN) &&
	      (starts(n, len, a->e, " tag") || starts(n, len, a->e, " marker") || starts(n, len, a->e, " block"));
	return quoted || tag;
}

/* Findings that one pattern makes by itself. */
static void direct_findings(struct scan *sc)
{
	const struct gd_defscan *d = sc->d;

	for (size_t i = 0; i < d->n_atoms; i++) {
		const struct atom *a = &d->atoms[i];
		enum cls cls = C_N;
		const char *sig = atom_signal(a->kind, &cls);
		int w = gd_def_rules[a->rule].weight;

		if (!sig)
			continue;
		if (sc->instructions && cls == C_DIRECTIVE)
			continue;       /* instructions are written to the model */
		if (a->kind == GD_DEF_A_BCC && example_host(d->text.norm, a->s, a->e))
			continue;
		if (quoted_mention(d, a)) {
			find_n(sc, "quoted-phrase", C_QUOTED, 1, a->s, a->e);
			continue;
		}
		find_n(sc, sig, cls, w, a->s, a->e);
	}
}

struct group {
	bool read, flow, sink, dest, drop, source, contents;
	bool refused;           /* "... are rejected": a file named there is not read */
	bool image;             /* a markdown image: the client fetches it, no verb needed */
	bool tamper;            /* "set the recipient to": a literal after it is a destination */
	size_t flow_s;          /* the first flow verb */
};

/* An instruction's parts found in one sentence. */
static void combine(struct scan *sc)
{
	struct gd_defscan *d = sc->d;
	const char *norm = d->text.norm;
	size_t len = d->text.len;
	bool ident = sc->slot == SL_PARAM || sc->slot == SL_KEY;

	for (size_t i = 0, j; i < d->n_atoms; i = j) {
		unsigned sent = d->atoms[i].sent;
		struct group g = { .flow_s = SIZE_MAX };

		for (j = i; j < d->n_atoms && d->atoms[j].sent == sent; j++) {
			const struct atom *a = &d->atoms[j];

			switch (a->kind) {
			case GD_DEF_A_READ:
				g.read = true;
				break;
			case GD_DEF_A_FLOW:
				g.flow = true;
				if (a->s < g.flow_s)
					g.flow_s = a->s;
				break;
			case GD_DEF_A_SINK:
				g.sink = true;
				break;
			case GD_DEF_A_URL: case GD_DEF_A_EMAIL:
				g.dest |= !example_host(norm, a->s, a->e);
				break;
			case GD_DEF_A_DROP:
				g.drop = true;
				g.image |= norm[a->s] == '!';
				break;
			case GD_DEF_A_TAMPER: case GD_DEF_A_BCC:
				g.tamper = true;
				break;
			case GD_DEF_A_ACCOUNT:
				g.dest = true;
				break;
			case GD_DEF_A_SOURCE:
				g.source = true;
				break;
			case GD_DEF_A_CONTENTS:
				g.contents = true;
				break;
			case GD_DEF_A_REFUSED:
				g.refused = true;
				break;
			default:
				break;
			}
		}
		bool out = g.sink || g.dest || g.drop;

		for (size_t k = i; k < j; k++) {
			struct atom *a = &d->atoms[k];
			size_t fs;

			if (a->kind == GD_DEF_A_SENS && !sens_ok(norm, len, a))
				continue;
			fs = g.flow_s < a->s ? g.flow_s : a->s;
			switch (a->kind) {
			case GD_DEF_A_SENS: {
				bool to_it = destination_before(norm, a->s) ||
					     (g.flow_s < a->s && preposition_between(norm, g.flow_s, a->s));
				bool sent_out = g.flow && !to_it;
				unsigned sub = gd_def_rules[a->rule].sub;
				int w;

				/* named as what the tool refuses, and nothing is read or
				 * sent in that sentence: a safety statement */
				if (g.refused && !g.read && !g.flow)
					break;
				if (ident) {
					if (g.read || g.contents)
						find_n(sc, "sensitive-parameter", C_SENSITIVE, 7, a->s, a->e);
					else
						find_n(sc, "sensitive-file", C_SENSITIVE, 2, a->s, a->e);
					break;
				}
				if (sub == GD_DEF_S_PERSIST)
					w = g.flow || g.read ? 3 : 2;
				else
					w = g.read || sent_out ? 3 : 2;
				find_n(sc, "sensitive-file", C_SENSITIVE, w, a->s, a->e);
				/* into a parameter, to an address or this tool; "adds the key
				 * to the agent", "uploads .env to Vercel" is what the tool does */
				if (sent_out && out && sub != GD_DEF_S_PERSIST)
					find_n(sc, "exfiltration", C_EXFIL, 7, fs, a->e);
				break;
			}
			case GD_DEF_A_CRED:
				if (g.read && g.source) {
					find_n(sc, "credential-harvest", C_CREDENTIAL, 3, a->s, a->e);
					if (g.flow && g.sink)   /* ... and put it into a parameter */
						find_n(sc, "exfiltration", C_EXFIL, 6, fs, a->e);
				}
				if (g.flow && (g.dest || g.drop))
					find_n(sc, "exfiltration", C_EXFIL, 6, fs, a->e);
				break;
			case GD_DEF_A_CONTEXT:
				/* sent somewhere; or the subject of a sending verb before it
				 * ("include the chat history"), not an object returned
				 * ("get the history, and include the replies") */
				if (g.drop && (g.flow || g.image))     /* to a collection host */
					find_n(sc, "exfiltration", C_EXFIL, 7, fs, a->e);
				else if ((g.flow && out) || g.image)
					find_n(sc, "exfiltration", C_EXFIL, 6, fs, a->e);
				else if (g.flow && g.flow_s < a->s)
					find_n(sc, "exfiltration", C_EXFIL, 4, fs, a->e);
				break;
			case GD_DEF_A_CONTENTS:
				if (g.flow && (g.dest || g.drop))
					find_n(sc, "exfiltration", C_EXFIL, 5, fs, a->e);
				else if (g.flow && g.sink)
					find_n(sc, "exfiltration", C_EXFIL, 3, fs, a->e);
				break;
			case GD_DEF_A_URL: case GD_DEF_A_EMAIL:
				if ((g.flow || g.tamper) && !example_host(norm, a->s, a->e))
					find_n(sc, "external-destination", C_DEST, 2, a->s, a->e);
				break;
			case GD_DEF_A_ACCOUNT:
				if (g.flow || g.tamper)
					find_n(sc, "external-destination", C_DEST, 2, a->s, a->e);
				break;
			case GD_DEF_A_DROP:
				find_n(sc, "external-destination", C_DEST, 3, a->s, a->e);
				break;
			default:
				break;
			}
		}
	}
}

/* ---- shadowing ------------------------------------------------------------- */

static bool tok_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
	       (unsigned char)c >= 0x80;
}

static bool sep(char c)
{
	return c == '_' || c == '-' || c == '.';
}

static bool word_token(const char *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!(t[i] >= 'a' && t[i] <= 'z'))
			return false;
	return true;
}

/* What clients and gateways put before a tool's name: mcp_, mcp__server__,
 * mcp_tool_, functions., tool_ (or another server's name: checked by the caller). */
static bool known_prefix(const char *t, size_t n)
{
	static const char *const prefixes[] = { "mcp", "functions", "tool", "tools", "default_api" };

	for (size_t i = 0; i < MG_ARRAY_LEN(prefixes); i++) {
		size_t l = strlen(prefixes[i]);

		if (n >= l && memcmp(t, prefixes[i], l) == 0 && (n == l || sep(t[l])))
			return true;
	}
	return false;
}


/* A plain word ("search", "github") is a name only when the text says so:
 * "the search tool", "github server". */
static bool tool_word_after(const char *norm, size_t len, size_t e)
{
	static const char *const words[] = { "tool", "tools", "server", "servers", "function", "mcp", "plugin",
					     "integration", "connector" };

	if (e >= len || norm[e] != ' ')
		return false;
	for (size_t i = 0; i < MG_ARRAY_LEN(words); i++) {
		size_t l = strlen(words[i]);

		if (e + 1 + l <= len && memcmp(norm + e + 1, words[i], l) == 0 &&
		    (e + 1 + l == len || !(tok_char(norm[e + 1 + l]) && norm[e + 1 + l] != '.')))
			return true;
	}
	return false;
}

static void bag_of(const char *fold, size_t len, unsigned char bag[16])
{
	memset(bag, 0, 16);
	for (size_t i = 0; i < len; i++)
		if (bag[(unsigned char)fold[i] % 16] < 255)
			bag[(unsigned char)fold[i] % 16]++;
}

/* One edit changes the bags' distance by at most 2: two edits, 4. */
static bool bags_near(const unsigned char *a, const unsigned char *b)
{
	unsigned dist = 0;

	for (size_t i = 0; i < 16; i++)
		dist += (unsigned)(a[i] > b[i] ? a[i] - b[i] : b[i] - a[i]);
	return dist <= 4;
}

/* A name equal to the definition's own is not another's. */
static bool is_own(const struct scan *sc, const struct name *nm)
{
	return nm->len == sc->own_len && memcmp(nm->fold, sc->own, nm->len) == 0;
}

static size_t chain(const struct gd_defscan *d, const char *t, size_t n)
{
	size_t first = (size_t)(uintptr_t)mg_map_get(&d->index, t, n);

	return first ? first - 1 : NO_NAME;
}

/* t[0..n), without separators at either end, is one of the other names. */
static bool other_name(const struct scan *sc, const char *t, size_t n)
{
	const struct gd_defscan *d = sc->d;

	while (n > 0 && sep(t[n - 1]))
		n--;
	while (n > 0 && sep(t[0]))
		t++, n--;
	for (size_t k = chain(d, t, n); k != NO_NAME; k = d->names[k].next)
		if (!is_own(sc, &d->names[k]))
			return true;
	return false;
}

/* The other names token t may be, found through the index instead of a
 * walk over every name: 2 for the name itself, perhaps namespaced
 * (server.tool, server__tool, mcp_tool_send_email for an identifier-like
 * name, another server's name before it); 1 for a near miss of an
 * identifier-like name by an identifier-like token.  k[] ascending. */
#define MAX_CANDS 64

struct cands {
	size_t k[MAX_CANDS];
	int m[MAX_CANDS];
	size_t n;
};

static void cand_add(struct cands *c, size_t k, int m)
{
	for (size_t i = 0; i < c->n; i++) {
		if (c->k[i] == k) {
			if (m > c->m[i])
				c->m[i] = m;
			return;
		}
	}
	if (c->n < MAX_CANDS) {
		c->k[c->n] = k;
		c->m[c->n++] = m;
	}
}

static void gather(const struct scan *sc, const char *t, size_t tl, struct cands *c)
{
	const struct gd_defscan *d = sc->d;

	c->n = 0;
	for (size_t k = chain(d, t, tl); k != NO_NAME; k = d->names[k].next)
		cand_add(c, k, 2);                      /* the name itself */
	for (size_t p = 1; p + 1 < tl; p++) {
		if (!sep(t[p]))
			continue;
		/* prefix_name: a client's prefix, or another server's */
		for (size_t k = chain(d, t + p + 1, tl - p - 1); k != NO_NAME; k = d->names[k].next)
			if (d->names[k].ident && (known_prefix(t, p) || (p >= 2 && other_name(sc, t, p))))
				cand_add(c, k, 2);
		/* name.tool, name__tool, name_tool when the rest is a name too:
		 * "wait_for_prompt" is not the tool wait_for */
		for (size_t k = chain(d, t, p); k != NO_NAME; k = d->names[k].next)
			if ((d->names[k].ident || t[p] == '.' || (t[p] == '_' && t[p + 1] == '_')) &&
			    other_name(sc, t + p, tl - p))
				cand_add(c, k, 2);
	}
	/* a near miss of an identifier-like name by an identifier-like token */
	if (tl >= 5 && !word_token(t, tl)) {
		unsigned char bag[16];

		bag_of(t, tl, bag);
		for (size_t k = 0; k < d->n_names; k++) {
			const struct name *nm = &d->names[k];

			if (nm->ident && nm->len >= 5 && (tl > nm->len ? tl - nm->len : nm->len - tl) <= 2 &&
			    bags_near(bag, nm->bag) && gd_def_levenshtein(t, tl, nm->fold, nm->len, 2) <= 2)
				cand_add(c, k, 1);
		}
	}
	/* in the order of the list, as a walk over it would find them; not
	 * the definition's own name */
	for (size_t i = 1; i < c->n; i++)
		for (size_t j = i; j > 0 && c->k[j - 1] > c->k[j]; j--) {
			size_t tk = c->k[j];
			int tm = c->m[j];

			c->k[j] = c->k[j - 1];
			c->m[j] = c->m[j - 1];
			c->k[j - 1] = tk;
			c->m[j - 1] = tm;
		}
	for (size_t i = 0; i < c->n;) {
		if (is_own(sc, &d->names[c->k[i]])) {
			memmove(c->k + i, c->k + i + 1, (c->n - i - 1) * sizeof(c->k[0]));
			memmove(c->m + i, c->m + i + 1, (c->n - i - 1) * sizeof(c->m[0]));
			c->n--;
		} else {
			i++;
		}
	}
}

static void shadowing(struct scan *sc)
{
	struct gd_defscan *d = sc->d;
	const char *norm = d->text.norm;
	size_t len = d->text.len;
	struct seen {
		size_t name;
		unsigned sent;
	} seen[32];
	size_t n_seen = 0;
	struct cands cands;

	if (d->n_names == 0)
		return;
	for (size_t i = 0; i < len;) {
		size_t s, e;

		while (i < len && !tok_char(norm[i]))
			i++;
		s = i;
		while (i < len && tok_char(norm[i]))
			i++;
		e = i;
		while (s < e && sep(norm[s]))
			s++;
		while (e > s && sep(norm[e - 1]))
			e--;
		if (e - s < 3)
			continue;
		if (e - s == sc->own_len && memcmp(norm + s, sc->own, sc->own_len) == 0)
			continue;
		gather(sc, norm + s, e - s, &cands);
		for (size_t ci = 0; ci < cands.n; ci++) {
			size_t k = cands.k[ci];
			const struct name *nm = &d->names[k];
			int m = cands.m[ci];
			unsigned sent;
			bool strong = false, weak = false, dup = false;
			int w;

			if (!m || (m == 2 && !nm->ident && !tool_word_after(norm, len, e) && e - s == nm->len))
				continue;
			sent = sentence_of(d, s);
			for (size_t q = 0; q < n_seen && !dup; q++)
				dup = seen[q].name == k && seen[q].sent == sent;
			if (dup)
				continue;
			if (n_seen < MG_ARRAY_LEN(seen))
				seen[n_seen++] = (struct seen){ k, sent };
			for (size_t q = 0; q < d->n_atoms; q++) {
				if (d->atoms[q].sent != sent)
					continue;
				strong |= d->atoms[q].kind == GD_DEF_A_CUE || d->atoms[q].kind == GD_DEF_A_COERCE ||
					  d->atoms[q].kind == GD_DEF_A_TAMPER;
				weak |= d->atoms[q].kind == GD_DEF_A_CUE_WEAK || d->atoms[q].kind == GD_DEF_A_DIRECTIVE;
			}
			if (m == 2 && nm->ident)
				w = strong ? 6 : weak ? 4 : 2;
			else if (m == 2)
				w = strong ? 4 : 0;
			else    /* a near miss: neighbours like get_branch and git_branch are common */
				w = strong ? 4 : 0;
			if (w > 0) {
				size_t off, olen;
				char det[80];

				gd_def_text_span(&d->text, s, e, &off, &olen);
				snprintf(det, sizeof(det), "%s: %s", m == 2 ? "names" : "near", nm->raw);
				find(sc, "shadowing", C_SHADOW, w, off, olen, s, det, strlen(det));
			}
		}
	}
}

/* ---- structure --------------------------------------------------------------- */

/* words (space-separated, whole) occur in the folded text */
static bool has_words(const char *norm, size_t len, const char *w)
{
	size_t l = strlen(w);

	for (size_t i = 0; i + l <= len; i++)
		if (memcmp(norm + i, w, l) == 0 && (i == 0 || norm[i - 1] == ' ') &&
		    (i + l == len || norm[i + l] == ' '))
			return true;
	return false;
}

static void param_name(struct scan *sc)
{
	const struct gd_def_text *t = &sc->d->text;
	static const char *const hidden[] = {
		"sidenote", "side note", "sidenotes", "hidden instructions", "hidden context", "hidden note",
		"hidden notes", "hidden prompt", "hidden message", "hidden payload", "hidden command",
		"hidden parameter", "hidden param", "hidden input", "hidden data", "do not show", "dont show", "not for user",
		"ai only", "llm only", "model only", "assistant only", "for ai", "for the ai", "note to ai",
		"secret instructions", "internal instructions",
	};
	static const char *const context[] = {
		"conversation history", "chat history", "message history", "previous messages", "all messages",
		"full conversation", "entire conversation", "chain of thought", "tools list", "available tools",
		"other tools", "user history", "prior messages", "conversation log", "chat log", "system instructions",
		"your instructions", "context dump",
	};
	size_t words = t->len ? 1 : 0;
	bool prose = false;

	for (size_t i = 0; i < MG_ARRAY_LEN(hidden); i++) {
		if (has_words(t->norm, t->len, hidden[i])) {
			find(sc, "hidden-parameter", C_PARAM, 4, 0, sc->raw_len, 0, hidden[i], strlen(hidden[i]));
			break;
		}
	}
	for (size_t i = 0; i < MG_ARRAY_LEN(context); i++) {
		if (has_words(t->norm, t->len, context[i])) {
			find(sc, "context-parameter", C_PARAM, 3, 0, sc->raw_len, 0, context[i], strlen(context[i]));
			break;
		}
	}
	for (size_t i = 0; i < t->len; i++)
		words += t->norm[i] == ' ';
	for (size_t i = 0; i < sc->raw_len; i++)
		prose |= sc->raw[i] == ' ' || strchr(",;:!?()'\"<>", sc->raw[i]) != NULL;
	if (prose || sc->raw_len > 40 || words >= 6)
		find(sc, "prose-parameter-name", C_PARAM, 3, 0, sc->raw_len, 0, t->norm, t->len);
}

static void encoded_blobs(struct scan *sc)
{
	const char *s = sc->raw;
	size_t n = sc->raw_len;

	for (size_t i = 0; i < n;) {
		size_t b = i;
		bool up = false, lo = false, dig = false;

		while (i < n && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
				 (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '/' || s[i] == '=' ||
				 s[i] == '_' || s[i] == '-')) {
			up |= s[i] >= 'A' && s[i] <= 'Z';
			lo |= s[i] >= 'a' && s[i] <= 'z';
			dig |= s[i] >= '0' && s[i] <= '9';
			i++;
		}
		if (i - b >= 80 && up && lo && dig && mg_entropy(s + b, i - b) >= 4.5) {
			find(sc, "encoded-blob", C_ENCODED, 2, b, i - b, 0, s + b, i - b);
			return;
		}
		if (i == b)
			i++;
	}
}

/* ---- encoded runs ---------------------------------------------------------------- */

static bool b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
	       c == '_' || c == '-' || c == '=';
}

/* The text a run at raw [off, off+len) decodes to, read as one more string
 * whose findings all sit on the run: hidden text is an intent of its own
 * (it pairs with what it says, as a hidden marker does). */
static void scan_decoded(struct scan *sc, const char *txt, size_t n, size_t off, size_t len)
{
	struct gd_defscan *d = sc->d;
	char det[80];

	if (gd_def_text_fold(&d->text, txt, n, 0) < 0)
		return;
	sc->str++;
	sc->span_fixed = true;
	sc->span_off = off;
	sc->span_len = len;
	sentences(d);
	if (collect_atoms(sc) < 0) {
		sc->rc = -EIO;
		goto out;
	}
	snprintf(det, sizeof(det), "decodes to: %.*s", (int)(n < 60 ? n : 60), txt);
	find(sc, "encoded-text", C_DECODED, 3, off, len, 0, det, strlen(det));
	direct_findings(sc);
	combine(sc);
	shadowing(sc);
out:
	sc->span_fixed = false;
}

/* Base64 and hex runs of the current string that decode to readable text;
 * how many were scanned. */
static size_t decoded_runs(struct scan *sc)
{
	const char *s = sc->raw;
	size_t n = sc->raw_len, found = 0;
	char *buf = NULL;

	for (size_t i = 0; i < n && found < MAX_DECODED && !sc->rc;) {
		size_t b = i, l;

		while (i < n && b64_char(s[i]))
			i++;
		if (i - b >= 24) {
			if (!buf)
				buf = mg_malloc(DECODE_CAP);
			l = gd_def_decode_text(s + b, i - b, buf, DECODE_CAP);
			if (l) {
				scan_decoded(sc, buf, l, b, i - b);
				found++;
			}
		}
		if (i == b)
			i++;
	}
	free(buf);
	return found;
}

/* ---- one string ------------------------------------------------------------------ */

/* Letters, digits, _ - . and nothing else: read as words split at them. */
static bool identifier(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '-' || s[i] == '.' || (unsigned char)s[i] >= 0x80))
			return false;
	return true;
}

static void scan_string(struct scan *sc, const char *s, size_t n, enum slot slot, bool in_key)
{
	struct gd_defscan *d = sc->d;
	size_t use = n;
	unsigned flags = 0;
	size_t finds_before = d->n_finds;
	bool exfil_here = false;

	if (sc->stop || sc->rc)
		return;
	sc->strings++;
	sc->bytes += n;
	if (sc->strings > MAX_STRINGS || sc->bytes > MAX_BYTES) {
		limit(sc, "definition too large");
		sc->stop = true;
		return;
	}
	if (n == 0)
		return;
	sc->str++;
	sc->slot = slot;
	sc->in_key = in_key;
	sc->raw = s;
	sc->intent_here = false;
	if (use > GD_DEF_TEXT_MAX) {
		use = GD_DEF_TEXT_MAX;
		while (use > 0 && ((unsigned char)s[use] & 0xc0) == 0x80)
			use--;
		limit(sc, "string cut");
	}
	sc->raw_len = use;
	if ((slot == SL_PARAM || slot == SL_KEY || slot == SL_NAME) && identifier(s, use))
		flags = GD_DEF_TEXT_IDENT;
	if (gd_def_text_fold(&d->text, s, use, flags) < 0) {
		sc->rc = -E2BIG;
		return;
	}
	sentences(d);
	char_findings(sc);
	if (collect_atoms(sc) < 0) {
		sc->rc = -EIO;
		return;
	}
	direct_findings(sc);
	combine(sc);
	if (!flags)
		shadowing(sc);
	if (slot == SL_PARAM)
		param_name(sc);
	if (slot == SL_PROSE) {
		size_t l1 = sc->instructions ? 8000 : 2000, l2 = sc->instructions ? 20000 : 6000;

		if (n > l1)
			find(sc, "long-text", C_LONG, n > l2 ? 2 : 1, 0, n, 0, "", 0);
	}
	if ((slot == SL_PROSE || slot == SL_VALUE) && decoded_runs(sc) == 0 && slot == SL_PROSE)
		encoded_blobs(sc);      /* a blob that says nothing readable */
	if (sc->rc)
		return;
	for (size_t i = finds_before; i < d->n_finds; i++)
		exfil_here |= d->finds[i].cls == C_EXFIL && d->finds[i].weight >= 3;
	if (slot != SL_PROSE && (sc->intent_here || exfil_here))
		find(sc, "instruction-in-value", C_MISPLACED, 3, 0, use, 0, d->text.norm,
		     d->text.len);
}

/* ---- the walk ------------------------------------------------------------------- */

static bool ident_key(const char *k)
{
	if (!*k)
		return false;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') || *k == '_' ||
		      *k == '$' || *k == '-'))
			return false;
	return true;
}

/* Append a path segment; returns the length to restore. */
static size_t push(struct scan *sc, const char *key, long index)
{
	size_t old = sc->plen, room = sizeof(sc->path) - sc->plen;
	int w;

	if (index >= 0)
		w = snprintf(sc->path + sc->plen, room, "[%ld]", index);
	else if (ident_key(key))
		w = snprintf(sc->path + sc->plen, room, "%s%s", sc->plen ? "." : "", key);
	else {
		char q[48];
		size_t o = 0;

		for (size_t i = 0; key[i] && o + 1 < sizeof(q); i++)
			q[o++] = (key[i] == '"' || key[i] == '\\' || (unsigned char)key[i] < 0x20) ? '?' : key[i];
		q[o] = '\0';
		w = snprintf(sc->path + sc->plen, room, "[\"%s%s\"]", q, strlen(key) > o ? "..." : "");
	}
	if (w < 0 || (size_t)w >= room) {
		sc->plen = sizeof(sc->path) - 4;
		memcpy(sc->path + sc->plen, "...", 4);
		sc->plen += 3;
	} else {
		sc->plen += (size_t)w;
	}
	return old;
}

static void pop(struct scan *sc, size_t old)
{
	sc->plen = old;
	sc->path[old] = '\0';
}

static bool prose_key(const char *k)
{
	static const char *const keys[] = {
		"description", "title", "instructions", "summary", "help", "text", "comment", "$comment",
		"markdownDescription", "message", "hint", "usage", "note", "notes", "details", "label",
		"x-description", "errorMessage", "deprecationMessage", "prompt", "instruction",
	};

	for (size_t i = 0; i < MG_ARRAY_LEN(keys); i++)
		if (strcmp(k, keys[i]) == 0)
			return true;
	return false;
}

/* arg_elem: v is an element of a prompt's "arguments"; arg_member: v is a
 * member of such an element (its "name" is a parameter name). */
static void walk(struct scan *sc, const json_t *v, const char *key, int depth, bool props, bool arg_elem,
		 bool arg_member)
{
	if (sc->stop || sc->rc)
		return;
	if (depth > MAX_DEPTH) {
		limit(sc, "nested too deep");
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *m;

		json_object_foreach((json_t *)(uintptr_t)v, k, m) {
			size_t old = push(sc, k, -1);

			scan_string(sc, k, strlen(k), props ? SL_PARAM : SL_KEY, true);
			walk(sc, m, k, depth + 1, strcmp(k, "properties") == 0 && json_is_object(m), false, arg_elem);
			pop(sc, old);
			if (sc->stop || sc->rc)
				break;
		}
		break;
	}
	case JSON_ARRAY:
		for (size_t i = 0; i < json_array_size(v) && !sc->stop && !sc->rc; i++) {
			size_t old = push(sc, NULL, (long)i);

			walk(sc, json_array_get(v, i), key, depth + 1, false, key && strcmp(key, "arguments") == 0,
			     false);
			pop(sc, old);
		}
		break;
	case JSON_STRING: {
		enum slot slot = SL_VALUE;

		if (key && prose_key(key))
			slot = SL_PROSE;
		else if (key && strcmp(key, "name") == 0)
			slot = arg_member ? SL_PARAM : SL_NAME;
		scan_string(sc, json_string_value(v), json_string_length(v), slot, false);
		break;
	}
	default:
		break;
	}
}

/* ---- names ---------------------------------------------------------------------- */

/* A name with _ - . or a case step is an identifier; a word, digits or not
 * (context7, k8s, ec2), reads as a word in prose. */
static bool ident_name(const char *s)
{
	for (size_t i = 0; s[i]; i++) {
		if (s[i] == '_' || s[i] == '-' || s[i] == '.')
			return true;
		if (i > 0 && s[i] >= 'A' && s[i] <= 'Z' && s[i - 1] >= 'a' && s[i - 1] <= 'z')
			return true;
	}
	return false;
}

/* The list is the one loaded last: the same names in the same order. */
static bool names_same(const struct gd_defscan *d, const char *const *names)
{
	const char *p = d->names_seen.data, *end = p + d->names_seen.len;
	size_t i = 0;

	if (!d->names_loaded)
		return false;
	for (; names && names[i]; i++) {
		size_t l = strlen(names[i]);

		if (i >= d->names_given || (size_t)(end - p) < l + 1 || memcmp(p, names[i], l + 1) != 0)
			return false;
		p += l + 1;
	}
	return i == d->names_given;
}

/* A server or tool called by what every MCP text talks about ("mcp",
 * "tools", "api"): naming it is not naming another server. */
static bool generic_name(const char *fold, size_t len)
{
	static const char *const words[] = { "mcp", "tool", "tools", "server", "servers", "api",
					     "function", "functions", "plugin", "connector",
					     "integration", "client", "default_api" };

	for (size_t i = 0; i < MG_ARRAY_LEN(words); i++)
		if (strlen(words[i]) == len && memcmp(words[i], fold, len) == 0)
			return true;
	return false;
}

/* Fold and index the other names (once per list: the gateway hands the
 * same list for every definition of a server). */
static void load_names(struct scan *sc, const char *const *names)
{
	struct gd_defscan *d = sc->d;

	if (names_same(d, names))
		return;
	d->n_names = 0;
	d->names_given = 0;
	d->names_seen.len = 0;
	mg_map_release(&d->index);
	mg_map_init(&d->index);
	d->names_loaded = true;
	for (size_t i = 0; names && names[i]; i++) {
		char buf[256];
		size_t l = gd_def_fold_name(names[i], strlen(names[i]), buf, sizeof(buf)), first;
		struct name *nm;

		size_t at = d->names_seen.len;

		d->names_given++;
		if (mg_buf_add(&d->names_seen, names[i], strlen(names[i]) + 1))
			d->names_loaded = false;        /* too many to remember: load again next time */
		if (l < 3 || generic_name(buf, l))
			continue;
		if (d->n_names == d->cap_names) {
			size_t old = d->cap_names;

			d->cap_names = d->cap_names ? d->cap_names * 2 : 16;
			d->names = mg_realloc(d->names, d->cap_names * sizeof(*d->names));
			memset(d->names + old, 0, (d->cap_names - old) * sizeof(*d->names));
		}
		nm = &d->names[d->n_names];
		free(nm->fold);
		nm->fold = mg_strdup(buf);
		nm->len = l;
		nm->raw = names[i];
		nm->raw_off = at;
		nm->ident = ident_name(names[i]);
		bag_of(buf, l, nm->bag);
		first = (size_t)(uintptr_t)mg_map_get(&d->index, buf, l);
		nm->next = first ? first - 1 : NO_NAME;
		mg_map_put(&d->index, buf, l, (void *)(uintptr_t)(d->n_names + 1));
		d->n_names++;
	}
	/* kept for the next call: the names point into the copy, not the
	 * caller's list */
	for (size_t k = 0; d->names_loaded && k < d->n_names; k++)
		d->names[k].raw = d->names_seen.data + d->names[k].raw_off;
}

/* The definition's own name against the others: look-alikes. */
static void own_name(struct scan *sc, const char *raw)
{
	struct gd_defscan *d = sc->d;
	size_t old = push(sc, "name", -1);
	unsigned char bag[16];

	sc->str++;
	sc->in_key = false;
	d->n_bounds = 0;
	bag_of(sc->own, sc->own_len, bag);
	for (size_t i = 0; sc->own_len >= 5 && i < d->n_names; i++) {
		const struct name *nm = &d->names[i];
		size_t diff = nm->len > sc->own_len ? nm->len - sc->own_len : sc->own_len - nm->len;
		char det[80];

		/* (a name that folds to this one's is not another's: see is_own) */
		if (nm->ident && nm->len >= 5 && diff <= 2 && !is_own(sc, nm) && bags_near(bag, nm->bag) &&
		    gd_def_levenshtein(sc->own, sc->own_len, nm->fold, nm->len, 2) <= 2) {
			snprintf(det, sizeof(det), "near %s", nm->raw);
			find(sc, "name-lookalike", C_SHADOW, 1, 0, strlen(raw), 0, det, strlen(det));
		}
	}
	pop(sc, old);
}

/* ---- the result ------------------------------------------------------------------- */

static int by_weight(const void *a, const void *b)
{
	const struct ifind *x = *(const struct ifind *const *)a, *y = *(const struct ifind *const *)b;

	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int by_order(const void *a, const void *b)
{
	const struct ifind *x = *(const struct ifind *const *)a, *y = *(const struct ifind *const *)b;

	return x->order < y->order ? -1 : x->order > y->order;
}

static void finish(struct scan *sc, struct gd_def_result *res)
{
	struct gd_defscan *d = sc->d;
	bool pair[C_N][C_N] = { { false } };
	int score = 0, bonus = 0;
	size_t keep;
	struct ifind **order;

	for (int c = 0; c < C_N; c++)
		score += sc->cls_max[c];
	for (size_t i = 0; i < d->n_finds; i++) {
		const struct ifind *a = &d->finds[i];

		if (!g_intent[a->cls])
			continue;
		for (size_t j = 0; j < d->n_finds; j++) {
			const struct ifind *b = &d->finds[j];
			size_t dist;

			if (!g_payload[b->cls] || b->cls == a->cls || b->str != a->str || pair[a->cls][b->cls])
				continue;
			/* "you must set the path to ~/.kube/config" is guidance: a bare
			 * directive pairs only with what is sent or harvested */
			if (a->cls == C_DIRECTIVE && (b->cls == C_SENSITIVE || b->cls == C_DEST))
				continue;
			dist = a->npos > b->npos ? a->npos - b->npos : b->npos - a->npos;
			if (a->sent == b->sent || a->cls == C_MARKER || a->cls == C_DECODED ||
			    (a->cls == C_CONCEAL && dist <= CONCEAL_REACH)) {
				pair[a->cls][b->cls] = true;
				if (b->cls == C_SHADOW && g_payload[a->cls])
					pair[b->cls][a->cls] = true;    /* one pair, not two */
				bonus += PAIR_BONUS;
			}
		}
	}
	score += bonus < BONUS_MAX ? bonus : BONUS_MAX;
	res->score = score;
	res->verdict = score >= GD_DEF_POISONED_AT ? GD_DEF_POISONED
		     : score >= GD_DEF_SUSPICIOUS_AT ? GD_DEF_SUSPICIOUS : GD_DEF_CLEAN;
	res->strings = sc->strings;
	res->truncated = sc->limit_seen;
	order = mg_calloc(d->n_finds ? d->n_finds : 1, sizeof(*order));
	for (size_t i = 0; i < d->n_finds; i++)
		order[i] = &d->finds[i];
	qsort(order, d->n_finds, sizeof(*order), by_weight);
	keep = d->n_finds < GD_DEF_MAX_FINDINGS ? d->n_finds : GD_DEF_MAX_FINDINGS;
	qsort(order, keep, sizeof(*order), by_order);
	for (size_t i = 0; i < keep; i++)
		res->findings[i] = order[i]->out;
	res->n_findings = keep;
	res->more_findings = d->n_finds - keep + sc->dropped;
	free(order);
}

static void scan_init(struct scan *sc, struct gd_defscan *d, struct gd_def_result *res)
{
	memset(sc, 0, sizeof(*sc));
	memset(res, 0, sizeof(*res));
	sc->d = d;
	d->n_finds = 0;
	d->n_bounds = 0;
	d->n_atoms = 0;
}

int gd_def_scan_tool(struct gd_defscan *d, const json_t *def, const char *kind,
		     const char *const *other_names, struct gd_def_result *res)
{
	static const char *const kinds[] = { "tool", "prompt", "resource", "resource-template", "resourceTemplate" };
	struct scan sc;
	const json_t *name;
	bool known = false;

	scan_init(&sc, d, res);
	for (size_t i = 0; kind && i < MG_ARRAY_LEN(kinds); i++)
		known |= strcmp(kind, kinds[i]) == 0;
	if (!known || !json_is_object(def))
		return -EINVAL;
	name = json_object_get(def, "name");
	if (json_is_string(name))
		sc.own_len = gd_def_fold_name(json_string_value(name), json_string_length(name), sc.own,
					      sizeof(sc.own));
	load_names(&sc, other_names);
	if (sc.own_len)
		own_name(&sc, json_string_value(name));
	walk(&sc, def, NULL, 0, false, false, false);
	if (sc.rc)
		return sc.rc;
	finish(&sc, res);
	return 0;
}

int gd_def_scan_instructions(struct gd_defscan *d, const char *text, size_t len,
			     const char *const *other_names, struct gd_def_result *res)
{
	struct scan sc;

	scan_init(&sc, d, res);
	sc.instructions = true;
	load_names(&sc, other_names);
	push(&sc, "instructions", -1);
	scan_string(&sc, text ? text : "", text ? len : 0, SL_PROSE, false);
	if (sc.rc)
		return sc.rc;
	finish(&sc, res);
	return 0;
}
