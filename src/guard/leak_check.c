/* guard/leak_check: secrets and credentials kept out of what leaves the
 * gateway (see leak_check.h). */
#include "guard/leak_check.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"
#include "base/str.h"

#define CHECK "secrets"
#define MAX_HITS 64

struct leak_check {
	struct gd_check base;
	struct gd_leak *leak;
	enum gd_leak_mode mode;
	char ***owners;                 /* per secret, NULL-terminated copies */
	size_t n;
	struct mg_buf dec, blob, red, quoted, pct[2];
	size_t *map[2];                 /* percent-decoded byte -> byte before */
	size_t map_alloc[2];
	struct gd_hit hits[MAX_HITS], more[MAX_HITS];
};

struct walk {
	struct leak_check *lc;
	const struct gd_msg *m;
	struct gd_out *out;
};

int gd_leak_mode_parse(const char *s, enum gd_leak_mode *out)
{
	if (strcmp(s, "redact") == 0)
		*out = GD_LEAK_REDACT;
	else if (strcmp(s, "block") == 0)
		*out = GD_LEAK_BLOCK;
	else if (strcmp(s, "log") == 0)
		*out = GD_LEAK_LOG;
	else
		return -EINVAL;
	return 0;
}

static bool owns(const struct leak_check *lc, int secret, const char *server)
{
	if (!server)
		return false;
	for (char **o = lc->owners[secret]; o && *o; o++)
		if (strcmp(*o, server) == 0)
			return true;
	return false;
}

/* Scan text; -E2BIG (more needles than a scan follows) or a full array is
 * one hit over the whole text. */
static int scan_into(struct leak_check *lc, const char *text, size_t len, struct gd_hit *hits)
{
	int n = gd_leak_scan(lc->leak, text, len, hits, MAX_HITS);

	/* more hits than kept (MAX_HITS means some may be missing): the
	 * whole string goes, never a part of what it holds */
	if (n == -E2BIG || n == MAX_HITS) {
		hits[0] = (struct gd_hit){ 0, len, -1, "many-secrets", NULL };
		n = 1;
	}
	return n;
}

/* Percent-decode text into out, with map[i] the offset in text of the
 * byte out[i] came from (map[out->len] = len).  0: nothing decoded. */
static int pct_decode(struct leak_check *lc, unsigned lvl, const char *text, size_t len)
{
	struct mg_buf *out = &lc->pct[lvl];
	size_t changed = 0;

	mg_buf_reset(out);
	if (lc->map_alloc[lvl] < len + 1) {
		lc->map_alloc[lvl] = len + 1;
		lc->map[lvl] = mg_realloc(lc->map[lvl], (len + 1) * sizeof(size_t));
	}
	for (size_t i = 0; i < len;) {
		int hi = i + 2 < len && text[i] == '%' ? mg_hexval(text[i + 1]) : -1;
		int lo = hi >= 0 ? mg_hexval(text[i + 2]) : -1;

		lc->map[lvl][out->len] = i;
		if (lo >= 0) {
			mg_buf_addc(out, (char)(hi << 4 | lo));
			i += 3;
			changed++;
		} else {
			changed += text[i] == '+';
			mg_buf_addc(out, text[i] == '+' ? ' ' : text[i]);
			i++;
		}
	}
	lc->map[lvl][out->len] = len;
	return changed > 0;
}

/* Add hits found in a decoded form, mapped back to the text's bytes. */
static size_t add_mapped(struct gd_hit *all, size_t n, const struct gd_hit *h, int m,
			 const size_t *map, const size_t *map2)
{
	for (int i = 0; i < m && n < MAX_HITS; i++) {
		size_t a = map[h[i].off], b = map[h[i].off + h[i].len];

		if (map2) {
			a = map2[a];
			b = map2[b];
		}
		all[n] = h[i];
		all[n].off = a;
		all[n].len = b - a;
		n++;
	}
	return n;
}

static int hit_by_off(const void *a, const void *b)
{
	const struct gd_hit *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* Every hit in text: as it is, and percent-decoded once and twice (a
 * value hidden in a URL inside a URL).  Overlaps merged. */
static int scan(struct leak_check *lc, const char *text, size_t len)
{
	int n = scan_into(lc, text, len, lc->hits), m;
	size_t total;

	if (n < 0 || !memchr(text, '%', len) || !pct_decode(lc, 0, text, len))
		return n;
	total = (size_t)n;
	m = scan_into(lc, lc->pct[0].data, lc->pct[0].len, lc->more);
	if (m < 0)
		return m;
	total = add_mapped(lc->hits, total, lc->more, m, lc->map[0], NULL);
	if (memchr(lc->pct[0].data, '%', lc->pct[0].len) &&
	    pct_decode(lc, 1, lc->pct[0].data, lc->pct[0].len)) {
		m = scan_into(lc, lc->pct[1].data, lc->pct[1].len, lc->more);
		if (m < 0)
			return m;
		total = add_mapped(lc->hits, total, lc->more, m, lc->map[1], lc->map[0]);
	}
	if (total >= MAX_HITS) {
		lc->hits[0] = (struct gd_hit){ 0, len, -1, "many-secrets", NULL };
		return 1;
	}
	if (total > 1) {
		size_t k = 0;

		qsort(lc->hits, total, sizeof(*lc->hits), hit_by_off);
		for (size_t i = 1; i < total; i++) {
			struct gd_hit *p = &lc->hits[k];

			if (lc->hits[i].off <= p->off + p->len) {
				size_t e = lc->hits[i].off + lc->hits[i].len;

				if (e > p->off + p->len)
					p->len = e - p->off;
			} else {
				lc->hits[++k] = lc->hits[i];
			}
		}
		total = k + 1;
	}
	return (int)total;
}

/* Members whose value is base64 of binary content: an embedded
 * resource's blob, an image's or audio's data. */
static bool is_blob_key(const struct gd_msg *m, const struct jx_span *key)
{
	return key && ((key->len == 6 && memcmp(m->raw + key->off, "\"blob\"", 6) == 0) ||
		       (key->len == 6 && memcmp(m->raw + key->off, "\"data\"", 6) == 0));
}

/* Replace the string token tok with the redacted text (re-encoded as a
 * JSON string, or as base64 again for a blob). */
static int redact_token(struct walk *w, const struct jx_span *tok, const char *text, size_t len,
			int n, bool blob)
{
	struct leak_check *lc = w->lc;
	int rc;

	mg_buf_reset(&lc->red);
	mg_buf_reset(&lc->quoted);
	if ((rc = gd_leak_redact(text, len, lc->hits, (size_t)n, &lc->red)))
		return rc;
	if (blob) {
		size_t b64len = sodium_base64_encoded_len(lc->red.len, sodium_base64_VARIANT_ORIGINAL);

		if ((rc = mg_buf_reserve(&lc->quoted, b64len + 2)))
			return rc;
		lc->quoted.data[0] = '"';
		sodium_bin2base64(lc->quoted.data + 1, b64len, (const unsigned char *)lc->red.data,
				  lc->red.len, sodium_base64_VARIANT_ORIGINAL);
		lc->quoted.len = 1 + strlen(lc->quoted.data + 1);
		mg_buf_addc(&lc->quoted, '"');
	} else if ((rc = jx_quote(lc->red.data, lc->red.len, &lc->quoted))) {
		/* the text is not UTF-8 after all: the whole string goes */
		mg_buf_reset(&lc->quoted);
		rc = mg_buf_adds(&lc->quoted, "\"[REDACTED]\"");
	}
	return rc ? rc : gd_out_edit(w->out, tok->off, tok->len, lc->quoted.data, lc->quoted.len);
}

/* What the hits in one string mean for the message. */
static int judge(struct walk *w, const struct jx_span *tok, const char *text, size_t len, int n,
		 bool blob)
{
	struct leak_check *lc = w->lc;
	const struct gd_msg *m = w->m;
	bool to_client = m->dir == GD_TO_CLIENT;

	for (int i = 0; i < n; i++) {
		const struct gd_hit *h = &lc->hits[i];
		char detail[64];

		snprintf(detail, sizeof(detail), "%s%s%s", h->encoding ? h->encoding : "pattern",
			 blob ? ", in a blob" : "", to_client ? "" : ", in a request");
		if (!to_client) {
			bool many = h->secret < 0 && strcmp(h->kind, "many-secrets") == 0;

			if (many && lc->mode != GD_LEAK_LOG) {
				gd_out_finding(w->out, CHECK, h->kind, detail);
				gd_out_deny(w->out, "mcpguard refused this request: it carries more secret-like "
					    "values than can be checked one by one");
				return 1;
			}
			if (h->secret < 0 || owns(lc, h->secret, m->server)) {
				if (h->secret < 0)
					gd_out_finding(w->out, CHECK, h->kind, detail);
				continue;
			}
			gd_out_finding(w->out, CHECK, h->kind, detail);
			if (lc->mode == GD_LEAK_LOG)
				continue;
			gd_out_deny(w->out, "mcpguard refused this request: it carries the secret '%s' "
				    "(%s), which server '%s' does not own", h->kind,
				    h->encoding ? h->encoding : "as it is", m->server ? m->server : "?");
			return 1;
		}
		gd_out_finding(w->out, CHECK, h->kind, detail);
	}
	if (!to_client || lc->mode == GD_LEAK_LOG)
		return 0;
	if (lc->mode == GD_LEAK_BLOCK) {
		const struct gd_hit *h = &lc->hits[0];
		char what[160], from[96] = "";

		snprintf(what, sizeof(what), h->secret >= 0 ? "the secret '%s'" : "a credential (%s)", h->kind);
		if (m->server)
			snprintf(from, sizeof(from), " of server '%s'", m->server);
		gd_out_deny(w->out, "mcpguard blocked this %s%s: it carried %s",
			    m->kind == GD_RESPONSE ? "result" : "message", from, what);
		return 1;
	}
	return redact_token(w, tok, text, len, n, blob);
}

/* A base64 value is judged on what it decodes to, and redacted there:
 * the blob stays valid base64.  1: it was (hits or not); 0: not base64. */
static int on_blob(struct walk *w, const struct jx_span *tok, const char *text, size_t len, int *rc)
{
	struct leak_check *lc = w->lc;
	size_t bin_len = 0;
	char *bin;
	int n;

	if (len < 16 || len % 4 != 0)
		return 0;
	mg_buf_reset(&lc->blob);
	if (mg_buf_reserve(&lc->blob, len) != 0 ||
	    sodium_base642bin((unsigned char *)lc->blob.data, len, text, len, NULL, &bin_len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		return 0;
	n = scan(lc, lc->blob.data, bin_len);
	if (n <= 0) {
		*rc = n;
		return 1;
	}
	/* the blob's bytes outlive the next scan: keep a copy */
	bin = mg_memdup0(lc->blob.data, bin_len);
	*rc = judge(w, tok, bin, bin_len, n, true);
	free(bin);
	return 1;
}

static int on_string(void *ctx, const struct jx_span *tok, bool is_key, const struct jx_span *key)
{
	struct walk *w = ctx;
	struct leak_check *lc = w->lc;
	const char *text = w->m->raw + tok->off + 1;
	size_t len = tok->len - 2;
	int n, rc = 0;

	if (memchr(text, '\\', len)) {
		mg_buf_reset(&lc->dec);
		if (jx_unescape(text, len, &lc->dec))
			return -EINVAL;
		text = lc->dec.data;
		len = lc->dec.len;
	}
	if (!is_key && is_blob_key(w->m, key) && on_blob(w, tok, text, len, &rc))
		return rc;
	n = scan(lc, text, len);
	if (n <= 0)
		return n;
	return judge(w, tok, text, len, n, false);
}

/* A message with no escape, no percent sign and no base64 member holds
 * every string's bytes as they are: one scan of the whole message finds
 * all that the walk would (a hit sends it down the walk, which decides). */
static bool clean_at_once(struct leak_check *lc, const struct gd_msg *m)
{
	struct gd_hit h;

	return !memchr(m->raw, '\\', m->len) && !memchr(m->raw, '%', m->len) &&
	       !memmem(m->raw, m->len, "\"blob\"", 6) && !memmem(m->raw, m->len, "\"data\"", 6) &&
	       gd_leak_scan(lc->leak, m->raw, m->len, &h, 1) == 0;
}

static int leak_run(struct gd_check *c, const struct gd_msg *m, struct gd_out *out)
{
	struct walk w = { (struct leak_check *)c, m, out };
	int rc;

	if (clean_at_once(w.lc, m))
		return 0;
	rc = jx_strings(m->raw, m->len, on_string, &w);

	return rc < 0 ? rc : 0;
}

static void leak_free(struct gd_check *c)
{
	struct leak_check *lc = (struct leak_check *)c;

	if (!lc)
		return;
	gd_leak_free(lc->leak);
	for (size_t i = 0; i < lc->n; i++) {
		for (char **o = lc->owners[i]; o && *o; o++)
			free(*o);
		free(lc->owners[i]);
	}
	free(lc->owners);
	mg_buf_release(&lc->dec);
	mg_buf_release(&lc->blob);
	mg_buf_release(&lc->red);
	mg_buf_release(&lc->quoted);
	for (int i = 0; i < 2; i++) {
		mg_buf_release(&lc->pct[i]);
		free(lc->map[i]);
	}
	free(lc);
}

int gd_leak_check_new(struct gd_check **out, const struct gd_secret *secrets,
		      char *const *const *owners, size_t n, enum gd_leak_mode mode,
		      char *err, size_t errlen)
{
	struct leak_check *lc = MG_NEW(struct leak_check);
	int rc;

	lc->base.name = CHECK;
	lc->base.run = leak_run;
	lc->base.free = leak_free;
	lc->mode = mode;
	lc->n = n;
	lc->owners = mg_calloc(n ? n : 1, sizeof(*lc->owners));
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;

		while (owners && owners[i] && owners[i][k])
			k++;
		lc->owners[i] = mg_calloc(k + 1, sizeof(char *));
		for (size_t j = 0; j < k; j++)
			lc->owners[i][j] = mg_strdup(owners[i][j]);
	}
	/* scratch sized for the largest message the gateway forwards */
	mg_buf_init(&lc->dec, (size_t)1 << 31);
	mg_buf_init(&lc->blob, (size_t)1 << 31);
	mg_buf_init(&lc->red, (size_t)1 << 31);
	mg_buf_init(&lc->quoted, (size_t)1 << 31);
	mg_buf_init(&lc->pct[0], (size_t)1 << 31);
	mg_buf_init(&lc->pct[1], (size_t)1 << 31);
	if ((rc = gd_leak_new(&lc->leak, secrets, n, NULL, err, errlen))) {
		leak_free(&lc->base);
		return rc;
	}
	*out = &lc->base;
	return 0;
}

int gd_leak_check_filter(struct gd_check *c, const char *text, size_t len, struct mg_buf *out)
{
	struct leak_check *lc = (struct leak_check *)c;
	int n = scan(lc, text, len);

	if (n <= 0)
		return n;
	if (gd_leak_redact(text, len, lc->hits, (size_t)n, out))
		return -EMSGSIZE;
	return n;
}
