/* guard/leak: secrets and credential shapes in text (see leak.h). */
#include "guard/leak.h"

#include <errno.h>
#include <hs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"
#include "base/str.h"

/* ---- the credential shapes ---------------------------------------------
 * Each is an anchor (a Vectorscan expression, reported with its leftmost
 * start) and a tail read here: [min, max] characters of one class.  A
 * tail longer than max is not the credential (a longer token of another
 * kind), so it is dropped.  `value_only` redacts the tail alone (the
 * anchor is a key name, useful context to keep). */
struct shape;
typedef bool (*shape_check)(const struct shape *p, const char *text, size_t len,
			    size_t start, size_t *end);

struct shape {
	const char *kind;
	const char *anchor;
	unsigned flags;
	const char *tail;       /* class of the tail, as ranges "A-Za-z0-9_-"; NULL: none */
	unsigned min, max;
	bool value_only;
	shape_check check;      /* optional: validate or reshape [start, *end) */
};

static bool check_jwt(const struct shape *p, const char *text, size_t len, size_t start, size_t *end);
static bool check_pem(const struct shape *p, const char *text, size_t len, size_t start, size_t *end);
static bool check_assignment(const struct shape *p, const char *text, size_t len, size_t start, size_t *end);
static bool check_url_password(const struct shape *p, const char *text, size_t len, size_t start, size_t *end);

#define ALNUM "A-Za-z0-9"
#define KEYWORDS "(?:password|passwd|pwd|passphrase|secret|secret[_-]?key|api[_-]?key|apikey|" \
		 "access[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret|private[_-]?token|" \
		 "refresh[_-]?token|bearer[_-]?token)"

static const struct shape g_shapes[] = {
	{ "aws-access-key", "\\b(?:AKIA|ASIA|ABIA|ACCA)", 0, "0-9A-Z", 16, 16, false, NULL },
	{ "aws-secret-key", "aws_?secret_?(?:access_?)?key[\"']?\\s{0,3}[:=]\\s{0,3}[\"']?",
	  HS_FLAG_CASELESS, ALNUM "/+", 40, 40, true, NULL },
	{ "gcp-api-key", "\\bAIza", 0, ALNUM "_-", 35, 35, false, NULL },
	{ "gcp-service-account-key", "\"private_key_id\"\\s{0,3}:\\s{0,3}\"", 0, "0-9a-f", 40, 40, true, NULL },
	{ "azure-storage-key", "AccountKey=", HS_FLAG_CASELESS, ALNUM "+/=", 86, 90, true, NULL },
	{ "azure-shared-access-key", "SharedAccessKey=", HS_FLAG_CASELESS, ALNUM "+/=", 43, 45, true, NULL },
	{ "github-token", "\\bgh[pousr]_", 0, ALNUM, 36, 36, false, NULL },
	{ "github-token", "\\bgithub_pat_", 0, ALNUM "_", 82, 82, false, NULL },
	{ "gitlab-token", "\\bglpat-", 0, ALNUM "_-", 20, 64, false, NULL },
	{ "slack-token", "\\bxox[abposr]-", 0, ALNUM "-", 10, 250, false, NULL },
	{ "slack-webhook", "https://hooks\\.slack\\.com/services/", 0, ALNUM "/", 20, 120, true, NULL },
	{ "stripe-key", "\\b[rs]k_(?:live|test)_", 0, ALNUM, 16, 128, false, NULL },
	{ "openai-key", "\\bsk-(?:proj|svcacct|admin)-", 0, ALNUM "_-", 40, 250, false, NULL },
	{ "openai-key", "\\bsk-", 0, ALNUM, 48, 48, false, NULL },
	{ "anthropic-key", "\\bsk-ant-(?:api|admin|oat)[0-9]{2}-", 0, ALNUM "_-", 32, 200, false, NULL },
	{ "npm-token", "\\bnpm_", 0, ALNUM, 36, 36, false, NULL },
	{ "huggingface-token", "\\bhf_", 0, "A-Za-z", 34, 34, false, NULL },
	{ "jwt", "\\beyJ", 0, ALNUM "_.-", 30, 8192, false, check_jwt },
	{ "private-key", "-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----", 0, NULL, 0, 0, false, check_pem },
	{ "password-assignment", "\\b" KEYWORDS "[\"']?\\s{0,3}[:=]\\s{0,3}[\"']?", HS_FLAG_CASELESS,
	  NULL, 8, 256, true, check_assignment },
	{ "url-password", "\\b[a-z][a-z0-9+.-]{1,20}://[^\\s/:@\"']{1,64}:", HS_FLAG_CASELESS,
	  NULL, 1, 256, true, check_url_password },
};

#define N_SHAPES MG_ARRAY_LEN(g_shapes)

static const char *const g_kinds[] = {
	"aws-access-key", "aws-secret-key", "gcp-api-key", "gcp-service-account-key",
	"azure-storage-key", "azure-shared-access-key", "github-token", "gitlab-token",
	"slack-token", "slack-webhook", "stripe-key", "openai-key", "anthropic-key",
	"npm-token", "huggingface-token", "jwt", "private-key", "password-assignment",
	"url-password", NULL,
};

const char *const *gd_leak_pattern_kinds(void)
{
	return g_kinds;
}

/* ---- the database -------------------------------------------------------- */

struct needle {                 /* one expression of the database */
	int secret;             /* index, or -1: shapes[shape] */
	unsigned shape;
	const char *encoding;
};

struct gd_leak {
	hs_database_t *db;
	hs_scratch_t *scratch;
	struct needle *needles;
	size_t n_needles;
	char **names;           /* copies of the secrets' names */
	size_t n_secrets;
	uint8_t tails[N_SHAPES][32];    /* tail classes as bitmaps */
};

static void class_set(uint8_t *bits, const char *spec)
{
	for (size_t i = 0; spec[i]; i++) {
		unsigned char a = (unsigned char)spec[i], b = a;

		if (spec[i + 1] == '-' && spec[i + 2]) {
			b = (unsigned char)spec[i + 2];
			i += 2;
		}
		for (unsigned c = a; c <= b; c++)
			bits[c >> 3] |= (uint8_t)(1u << (c & 7));
	}
}

static inline bool class_has(const uint8_t *bits, unsigned char c)
{
	return bits[c >> 3] & (1u << (c & 7));
}

/* Vectorscan expression matching exactly these bytes. */
static char *literal_expr(const char *s, size_t n)
{
	char *e = mg_malloc(n * 4 + 1);

	for (size_t i = 0; i < n; i++)
		snprintf(e + i * 4, 5, "\\x%02x", (unsigned char)s[i]);
	e[n * 4] = '\0';
	return e;
}

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The base64 characters that depend only on s when s starts `align`
 * bytes into a 3-byte group (the groups s shares with unknown bytes are
 * left out).  Empty when s covers no whole group. */
static void b64_core(struct mg_buf *out, const char *s, size_t n, unsigned align, const char *abc)
{
	size_t skip = (3 - align) % 3;

	for (size_t i = skip; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)(unsigned char)s[i] << 16 | (uint32_t)(unsigned char)s[i + 1] << 8 |
			     (unsigned char)s[i + 2];
		char q[4] = { abc[v >> 18], abc[(v >> 12) & 63], abc[(v >> 6) & 63], abc[v & 63] };

		mg_buf_add(out, q, 4);
	}
}

static void hex_enc(struct mg_buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mg_buf_addf(out, "%02x", (unsigned char)s[i]);
}

static void percent_enc(struct mg_buf *out, const char *s, size_t n, bool form)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~')
			mg_buf_addc(out, (char)c);
		else if (form && c == ' ')
			mg_buf_addc(out, '+');
		else
			mg_buf_addf(out, "%%%02X", c);
	}
}

/* As JSON.stringify writes a string's inside (ascii_only: as Python's
 * json.dumps, every non-ASCII code point as \uXXXX; slash: '/' as PHP's
 * json_encode writes it, "\/"). */
static void json_enc(struct mg_buf *out, const char *s, size_t n, bool ascii_only, bool slash)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\' || (slash && c == '/'))
			mg_buf_addf(out, "\\%c", c);
		else if (c == '\n')
			mg_buf_adds(out, "\\n");
		else if (c == '\t')
			mg_buf_adds(out, "\\t");
		else if (c == '\r')
			mg_buf_adds(out, "\\r");
		else if (c < 0x20)
			mg_buf_addf(out, "\\u%04x", c);
		else if (c >= 0x80 && ascii_only) {
			/* decode one UTF-8 sequence; anything malformed is kept */
			unsigned len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
			uint32_t cp = len == 4 ? c & 7 : len == 3 ? c & 15 : c & 31;

			if (len == 1 || i + len > n) {
				mg_buf_addc(out, (char)c);
				continue;
			}
			for (unsigned k = 1; k < len; k++)
				cp = cp << 6 | ((unsigned char)s[i + k] & 63);
			i += len - 1;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				mg_buf_addf(out, "\\u%04x\\u%04x", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
			} else {
				mg_buf_addf(out, "\\u%04x", cp);
			}
		} else {
			mg_buf_addc(out, (char)c);
		}
	}
}

struct builder {
	char **exprs;
	unsigned *flags;
	unsigned *ids;
	struct needle *needles;
	size_t n, alloc;
};

static void add_expr(struct builder *b, char *expr, unsigned flags, struct needle nd)
{
	if (b->n == b->alloc) {
		b->alloc = b->alloc ? b->alloc * 2 : 64;
		b->exprs = mg_realloc(b->exprs, b->alloc * sizeof(*b->exprs));
		b->flags = mg_realloc(b->flags, b->alloc * sizeof(*b->flags));
		b->ids = mg_realloc(b->ids, b->alloc * sizeof(*b->ids));
		b->needles = mg_realloc(b->needles, b->alloc * sizeof(*b->needles));
	}
	b->exprs[b->n] = expr;
	b->flags[b->n] = flags | HS_FLAG_SOM_LEFTMOST;
	b->ids[b->n] = (unsigned)b->n;
	b->needles[b->n] = nd;
	b->n++;
}

/* One expression per distinct form of the secret. */
static void add_secret(struct builder *b, int idx, const char *v, size_t n)
{
	struct {
		const char *encoding;
		unsigned flags;
		struct mg_buf text;
	} forms[13];
	size_t k = 0;

	for (size_t i = 0; i < MG_ARRAY_LEN(forms); i++)
		mg_buf_init(&forms[i].text, 64 * n + 64);
#define FORM(enc, fl) (forms[k].encoding = (enc), forms[k].flags = (fl), &forms[k++].text)
	mg_buf_add(FORM("plain", 0), v, n);
	json_enc(FORM("json", 0), v, n, false, false);
	json_enc(FORM("json", 0), v, n, true, false);
	json_enc(FORM("json", 0), v, n, false, true);
	percent_enc(FORM("percent", HS_FLAG_CASELESS), v, n, false);
	percent_enc(FORM("percent", HS_FLAG_CASELESS), v, n, true);
	hex_enc(FORM("hex", HS_FLAG_CASELESS), v, n);
	for (unsigned a = 0; a < 3; a++)
		b64_core(FORM("base64", 0), v, n, a, b64_std);
	for (unsigned a = 0; a < 3; a++)
		b64_core(FORM("base64url", 0), v, n, a, b64_url);
#undef FORM
	for (size_t i = 0; i < k; i++) {
		bool dup = forms[i].text.len < GD_LEAK_MIN_SECRET;

		for (size_t j = 0; j < i && !dup; j++)
			dup = forms[j].text.len == forms[i].text.len &&
			      memcmp(forms[j].text.data, forms[i].text.data, forms[i].text.len) == 0;
		if (!dup)
			add_expr(b, literal_expr(forms[i].text.data, forms[i].text.len), forms[i].flags,
				 (struct needle){ .secret = idx, .encoding = forms[i].encoding });
	}
	for (size_t i = 0; i < MG_ARRAY_LEN(forms); i++)
		mg_buf_release(&forms[i].text);
}

int gd_leak_new(struct gd_leak **out, const struct gd_secret *secrets, size_t n,
		size_t *skipped, char *err, size_t errlen)
{
	struct builder b = { 0 };
	struct gd_leak *l = MG_NEW(struct gd_leak);
	hs_compile_error_t *cerr = NULL;
	size_t short_ones = 0;
	int rc = 0;

	for (unsigned i = 0; i < N_SHAPES; i++) {
		add_expr(&b, mg_strdup(g_shapes[i].anchor), g_shapes[i].flags,
			 (struct needle){ .secret = -1, .shape = i });
		if (g_shapes[i].tail)
			class_set(l->tails[i], g_shapes[i].tail);
	}
	l->names = mg_calloc(n ? n : 1, sizeof(*l->names));
	l->n_secrets = n;
	for (size_t i = 0; i < n; i++) {
		l->names[i] = mg_strdup(secrets[i].name);
		if (secrets[i].len < GD_LEAK_MIN_SECRET) {
			short_ones++;
			continue;
		}
		add_secret(&b, (int)i, secrets[i].value, secrets[i].len);
	}
	if (hs_compile_multi((const char *const *)b.exprs, b.flags, b.ids, (unsigned)b.n, HS_MODE_BLOCK,
			     NULL, &l->db, &cerr) != HS_SUCCESS) {
		const char *what = cerr && cerr->expression >= 0 && (size_t)cerr->expression < N_SHAPES
			? g_shapes[cerr->expression].kind : "a secret";

		snprintf(err, errlen, "%s: %s", what, cerr ? cerr->message : "cannot compile");
		hs_free_compile_error(cerr);
		rc = -EINVAL;
		goto out;
	}
	if (hs_alloc_scratch(l->db, &l->scratch) != HS_SUCCESS) {
		snprintf(err, errlen, "cannot allocate scan space");
		rc = -ENOMEM;
		goto out;
	}
	l->needles = mg_steal(&b.needles);
	l->n_needles = b.n;
	if (skipped)
		*skipped = short_ones;
out:
	for (size_t i = 0; i < b.n; i++)
		free(b.exprs[i]);
	free(b.exprs);
	free(b.flags);
	free(b.ids);
	free(b.needles);
	if (rc < 0)
		gd_leak_free(l);
	else
		*out = l;
	return rc;
}

void gd_leak_free(struct gd_leak *l)
{
	if (!l)
		return;
	hs_free_scratch(l->scratch);
	hs_free_database(l->db);
	for (size_t i = 0; i < l->n_secrets; i++)
		free(l->names[i]);
	free(l->names);
	free(l->needles);
	free(l);
}

static bool b64_byte(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/' || c == '-' || c == '_';
}

/* ---- shape checks --------------------------------------------------------- */

/* a.b.c: identifiers joined by dots (code, not a value) */
static bool dotted_name(const char *v, size_t n)
{
	bool dot = false, start = true;

	for (size_t i = 0; i < n; i++) {
		char c = v[i];

		if (c == '.') {
			if (start)
				return false;
			dot = start = true;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
			start = false;
		} else if (c >= '0' && c <= '9') {
			if (start)
				return false;
		} else {
			return false;
		}
	}
	return dot && !start;
}

/* ident. ident( ident= at the start: code (this.x, getKey(), a===b) */
static bool code_start(const char *v, size_t n)
{
	size_t i = 0;

	if (n == 0 || !((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= 'A' && v[0] <= 'Z') || v[0] == '_'))
		return false;
	while (i < n && ((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
			 (v[i] >= '0' && v[i] <= '9') || v[i] == '_'))
		i++;
	return i < n && (v[i] == '.' || v[i] == '(' || v[i] == '=' || v[i] == '?');
}

/* A value that reads like a real secret: long enough, varied, with a
 * digit or a symbol (refreshToken, isPublicClient are code), and not a
 * placeholder, a variable, a call or a sentence. */
static bool secret_like(const char *v, size_t n)
{
	static const char *const placeholders[] = {
		"xxxx", "****", "....", "example", "changeme", "placeholder", "redacted", "your", "<", ">",
		"${", "{{", "%(", "$(", "(", ")", "[", "]", "null", "undefined", "none", "true", "false",
		"password", "secret", "token",
	};
	bool lower = false, digit = false, upper = false, symbol = false;

	if (n < 8)
		return false;
	for (size_t i = 0; i < n; i++) {
		lower |= v[i] >= 'a' && v[i] <= 'z';
		upper |= v[i] >= 'A' && v[i] <= 'Z';
		digit |= v[i] >= '0' && v[i] <= '9';
		symbol |= strchr("!#$%*+/=?@^~-", v[i]) != NULL;
	}
	if (!lower && !digit)
		return false;           /* YOUR_API_KEY, ******** */
	if (!digit && !symbol)
		return false;
	for (size_t i = 0; i < MG_ARRAY_LEN(placeholders); i++) {
		size_t pl = strlen(placeholders[i]);

		for (size_t j = 0; j + pl <= n; j++)
			if (strncasecmp(v + j, placeholders[i], pl) == 0)
				return false;
	}
	if (v[0] == '$' || v[0] == '%')
		return false;           /* $PASSWORD, %PASSWORD% */
	if (dotted_name(v, n) || code_start(v, n))
		return false;           /* process.env.API_KEY, this.secret === x */
	return mg_entropy(v, n) >= (lower + upper + digit >= 2 ? 3.0 : 3.5);
}

/* A random token's tail has no long run of one character; documentation
 * examples do (ghp_PersonalAccessToken0124567890000000). */
static bool random_tail(const char *t, size_t n)
{
	size_t run = 1;

	for (size_t i = 1; i < n; i++) {
		run = t[i] == t[i - 1] ? run + 1 : 1;
		if (run >= 6)
			return false;
	}
	return true;
}

static bool value_byte(unsigned char c)
{
	return c > 0x20 && c != 0x7f && c != '"' && c != '\'' && c != '`' && c != '&' && c != ';' &&
	       c != ',' && c != '<' && c != '>' && c != '\\';
}

static bool check_assignment(const struct shape *p, const char *text, size_t len, size_t start, size_t *end)
{
	size_t e = *end;

	while (e < len && e - *end < p->max && value_byte((unsigned char)text[e]))
		e++;
	/* a sentence ending in a full stop is not part of the value */
	while (e > *end && (text[e - 1] == '.' || text[e - 1] == ':'))
		e--;
	if (e - *end < p->min || !secret_like(text + *end, e - *end))
		return false;
	*end = e;
	return true;
}

static bool check_url_password(const struct shape *p, const char *text, size_t len, size_t start, size_t *end)
{
	size_t e = *end;

	while (e < len && e - *end < p->max && text[e] != '@' && text[e] != '/' &&
	       value_byte((unsigned char)text[e]))
		e++;
	if (e >= len || text[e] != '@' || e == *end)
		return false;
	/* user:pass@ with an obvious placeholder or a word stays */
	if (!secret_like(text + *end, e - *end))
		return false;
	*end = e;
	return true;
}

#define JWT_SAMPLE_PAYLOAD "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"

static bool check_jwt(const struct shape *p, const char *text, size_t len, size_t start, size_t *end)
{
	size_t dots[3], nd = 0;

	for (size_t i = start; i < *end; i++)
		if (text[i] == '.' && nd < 3)
			dots[nd++] = i;
	if (nd != 2)
		return false;
	/* header.payload.signature, the payload a JSON object too */
	if (!(dots[0] - start >= 10 && dots[1] - dots[0] > 10 && *end - dots[1] > 10 &&
	      strncmp(text + dots[0] + 1, "eyJ", 3) == 0))
		return false;
	/* the specification's and jwt.io's sample token ({"sub":"1234567890",
	 * "name":"John Doe","iat":1516239022}) is documentation, not a secret */
	return !(dots[1] - dots[0] - 1 == strlen(JWT_SAMPLE_PAYLOAD) &&
		 memcmp(text + dots[0] + 1, JWT_SAMPLE_PAYLOAD, strlen(JWT_SAMPLE_PAYLOAD)) == 0);
}

/* From BEGIN to the end of its END line; a key cut short is still a key,
 * so without an END everything to the end of the text goes. */
static bool check_pem(const struct shape *p, const char *text, size_t len, size_t start, size_t *end)
{
	const char *e;
	size_t at = *end, body = 0;

	/* a key has a body: base64 (or an encrypted key's headers) follows,
	 * not a quote of the marker in code ("-----BEGIN PRIVATE KEY-----") */
	while (at < len && (text[at] == '\r' || text[at] == '\n' || text[at] == ' ' || text[at] == '\\'))
		at += text[at] == '\\' && at + 1 < len ? 2 : 1;   /* also an escaped \n */
	while (at < len && body < 16 && (b64_byte((unsigned char)text[at]) || text[at] == '=' || text[at] == ':'))
		at++, body++;
	if (body < 16)
		return false;
	e = memmem(text + *end, len - *end, "-----END", 8);

	if (!e) {
		*end = len;
		return true;
	}
	e += 8;
	e = memmem(e, len - (size_t)(e - text), "-----", 5);
	*end = e ? (size_t)(e - text) + 5 : len;
	return true;
}

/* ---- scanning --------------------------------------------------------------- */

#define RAW_MAX 4096            /* needle hits per scan before giving up */

struct scan {
	struct gd_leak *l;
	const char *text;
	size_t len;
	struct gd_hit *raw;
	size_t n, alloc;
	bool overflow;
};

static void shape_hit(struct scan *sc, unsigned si, size_t from, size_t to)
{
	const struct shape *p = &g_shapes[si];
	size_t start = from, end = to;

	if (p->tail) {
		const uint8_t *cls = sc->l->tails[si];

		while (end < sc->len && end - to < p->max && class_has(cls, (unsigned char)sc->text[end]))
			end++;
		if (end - to < p->min)
			return;
		if (end < sc->len && class_has(cls, (unsigned char)sc->text[end]))
			return;         /* longer than this kind's tokens */
		if (!random_tail(sc->text + to, end - to))
			return;
	}
	if (p->check && !p->check(p, sc->text, sc->len, start, &end))
		return;
	if (p->value_only)
		start = to;
	if (end <= start)
		return;
	sc->raw[sc->n++] = (struct gd_hit){ start, end - start, -1, p->kind, NULL };
}


static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
		    unsigned int flags, void *ctx)
{
	struct scan *sc = ctx;
	const struct needle *nd = &sc->l->needles[id];

	if (sc->n == sc->alloc) {
		if (sc->alloc >= RAW_MAX) {
			sc->overflow = true;
			return 1;       /* stop */
		}
		sc->alloc = sc->alloc ? sc->alloc * 2 : 16;
		sc->raw = mg_realloc(sc->raw, sc->alloc * sizeof(*sc->raw));
	}
	if (nd->secret < 0) {
		shape_hit(sc, nd->shape, (size_t)from, (size_t)to);
		return 0;
	}
	size_t s = (size_t)from, e = (size_t)to;

	if (nd->encoding[0] == 'b') {
		/* the groups shared with neighbouring bytes go too */
		for (unsigned k = 0; k < 4 && s > 0 && b64_byte((unsigned char)sc->text[s - 1]); k++)
			s--;
		for (unsigned k = 0; k < 4 && e < sc->len && b64_byte((unsigned char)sc->text[e]); k++)
			e++;
		while (e < sc->len && sc->text[e] == '=' && e - (size_t)to < 6)
			e++;
	}
	sc->raw[sc->n++] = (struct gd_hit){ s, e - s, nd->secret, sc->l->names[nd->secret], nd->encoding };
	return 0;
}

/* Which of two hits at one offset names the leak: a known secret, then a
 * specific shape, then a generic one (an assignment, a URL password). */
static int hit_rank(const struct gd_hit *h)
{
	if (h->secret >= 0)
		return 0;
	return strcmp(h->kind, "password-assignment") == 0 || strcmp(h->kind, "url-password") == 0 ? 2 : 1;
}

static int hit_cmp(const void *a, const void *b)
{
	const struct gd_hit *x = a, *y = b;
	int rx = hit_rank(x), ry = hit_rank(y);

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	if (rx != ry)
		return rx < ry ? -1 : 1;
	return x->len > y->len ? -1 : x->len < y->len;
}

int gd_leak_scan(struct gd_leak *l, const char *text, size_t len, struct gd_hit *hits, size_t max)
{
	struct scan sc = { .l = l, .text = text, .len = len };
	size_t n = 0;
	int rc;

	if (len > UINT32_MAX)
		return -E2BIG;
	rc = hs_scan(l->db, text ? text : "", (unsigned)len, 0, l->scratch, on_match, &sc);
	if (sc.overflow) {
		rc = -E2BIG;
		goto out;
	}
	if (rc != HS_SUCCESS) {
		rc = -EIO;
		goto out;
	}
	if (sc.n > 1)
		qsort(sc.raw, sc.n, sizeof(*sc.raw), hit_cmp);
	for (size_t i = 0; i < sc.n; i++) {
		struct gd_hit *h = &sc.raw[i];

		if (n > 0 && h->off <= hits[n - 1].off + hits[n - 1].len) {
			size_t e = h->off + h->len, pe = hits[n - 1].off + hits[n - 1].len;

			if (e > pe)
				hits[n - 1].len = e - hits[n - 1].off;
			continue;
		}
		if (n == max)
			break;
		hits[n++] = *h;
	}
	rc = (int)n;
out:
	free(sc.raw);
	return rc;
}

int gd_leak_redact(const char *text, size_t len, const struct gd_hit *hits, size_t n, struct mg_buf *out)
{
	size_t at = 0;
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = mg_buf_add(out, text + at, hits[i].off - at);
		if (rc == 0)
			rc = mg_buf_addf(out, "[REDACTED:%s]", hits[i].kind);
		at = hits[i].off + hits[i].len;
	}
	if (rc == 0)
		rc = mg_buf_add(out, text + at, len - at);
	return rc;
}
