#include "json/jx.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "base/str.h"

json_t *jx_parse(const char *raw, size_t len, json_error_t *err)
{
	/* jansson silently drops a NUL right after a number or literal, which
	 * the span scanner would not; JSON text never holds a raw NUL. */
	const char *nul = memchr(raw, '\0', len);

	if (nul) {
		if (err) {
			memset(err, 0, sizeof(*err));
			err->line = 1;
			err->column = (int)(nul - raw) + 1;
			err->position = (int)(nul - raw);
			snprintf(err->text, sizeof(err->text), "NUL byte in JSON text");
		}
		return NULL;
	}
	return json_loadb(raw, len, JSON_REJECT_DUPLICATES, err);
}

static int dump_cb(const char *buf, size_t size, void *data)
{
	return mg_buf_add(data, buf, size) ? -1 : 0;
}

int jx_dump_buf(const json_t *v, struct mg_buf *out)
{
	size_t before = out->len;

	if (json_dump_callback(v, dump_cb, out, JSON_COMPACT | JSON_ENCODE_ANY) < 0) {
		mg_buf_truncate(out, before);
		return -EMSGSIZE;
	}
	return 0;
}

char *jx_dump(const json_t *v, size_t *len)
{
	struct mg_buf b;

	mg_buf_init(&b, SIZE_MAX / 2);
	jx_dump_buf(v, &b);
	return mg_buf_detach(&b, len);
}

/* ---- scanner ---- */

struct scan {
	const char *p;
	const char *end;
};

static void skip_ws(struct scan *s)
{
	while (s->p < s->end &&
	       (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* At an opening quote: move past the closing quote. */
static int skip_string(struct scan *s)
{
	s->p++;
	while (s->p < s->end) {
		char c = *s->p++;

		if (c == '"')
			return 0;
		if (c == '\\') {
			if (s->p >= s->end)
				return -EINVAL;
			s->p++;
		}
	}
	return -EINVAL;
}

/* Skip one value of any kind without recursion. */
static int skip_value(struct scan *s)
{
	int depth = 0;

	skip_ws(s);
	if (s->p >= s->end)
		return -EINVAL;
	do {
		if (s->p >= s->end)
			return -EINVAL;
		switch (*s->p) {
		case '"':
			if (skip_string(s))
				return -EINVAL;
			break;
		case '{':
		case '[':
			depth++;
			s->p++;
			break;
		case '}':
		case ']':
			depth--;
			s->p++;
			break;
		default:
			if (depth == 0) {
				/* number or literal: runs to a delimiter */
				while (s->p < s->end && !strchr(",}] \t\r\n", *s->p))
					s->p++;
				return 0;
			}
			s->p++;
			break;
		}
	} while (depth > 0);
	return depth == 0 ? 0 : -EINVAL;
}

static int read_u4(const char *p, const char *end, unsigned *out)
{
	unsigned v = 0;

	if (end - p < 4)
		return -EINVAL;
	for (int i = 0; i < 4; i++) {
		int h = mg_hexval(p[i]);
		if (h < 0)
			return -EINVAL;
		v = (v << 4) | (unsigned)h;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Does the string token at s->p (a key) equal name?  Advances past it.
 * Keys with escapes are decoded first, so "\u0069d" matches "id" exactly
 * as jansson saw it: the scanner and the parser never disagree. */
static int key_equals(struct scan *s, const char *name, bool *eq)
{
	const char *start = s->p + 1;
	char dec[256];
	size_t n = 0, nlen = strlen(name);

	if (skip_string(s))
		return -EINVAL;
	const char *stop = s->p - 1;    /* closing quote */
	if (!memchr(start, '\\', (size_t)(stop - start))) {
		*eq = (size_t)(stop - start) == nlen && memcmp(start, name, nlen) == 0;
		return 0;
	}
	for (const char *p = start; p < stop;) {
		unsigned cp;

		if (n + 4 > sizeof(dec)) {      /* longer than any name we look for */
			*eq = false;
			return 0;
		}
		if (*p != '\\') {
			dec[n++] = *p++;
			continue;
		}
		p++;
		switch (*p) {
		case 'u':
			if (read_u4(p + 1, stop, &cp))
				return -EINVAL;
			p += 5;
			if (cp >= 0xd800 && cp <= 0xdbff && stop - p >= 6 && p[0] == '\\' &&
			    p[1] == 'u') {
				unsigned lo;
				if (read_u4(p + 2, stop, &lo))
					return -EINVAL;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			n += put_utf8(dec + n, cp);
			break;
		case 'b': dec[n++] = '\b'; p++; break;
		case 'f': dec[n++] = '\f'; p++; break;
		case 'n': dec[n++] = '\n'; p++; break;
		case 'r': dec[n++] = '\r'; p++; break;
		case 't': dec[n++] = '\t'; p++; break;
		default: dec[n++] = *p++; break;    /* \" \\ \/ */
		}
	}
	*eq = n == nlen && memcmp(dec, name, nlen) == 0;
	return 0;
}

/* With s->p at '{': find member name, leave s->p at its value. */
static int find_member(struct scan *s, const char *name)
{
	s->p++;
	for (;;) {
		bool eq;

		skip_ws(s);
		if (s->p >= s->end)
			return -EINVAL;
		if (*s->p == '}')
			return -ENOENT;
		if (*s->p != '"' || key_equals(s, name, &eq))
			return -EINVAL;
		skip_ws(s);
		if (s->p >= s->end || *s->p != ':')
			return -EINVAL;
		s->p++;
		skip_ws(s);
		if (eq)
			return 0;
		if (skip_value(s))
			return -EINVAL;
		skip_ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == '}')
			return -ENOENT;
		return -EINVAL;
	}
}

int jx_find(const char *raw, size_t len, const char *const *path, size_t depth,
	    struct jx_span *out)
{
	struct scan s = { raw, raw + len };
	const char *start;
	int rc;

	for (size_t i = 0; i < depth; i++) {
		skip_ws(&s);
		if (s.p >= s.end || *s.p != '{')
			return i ? -ENOENT : -EINVAL;
		rc = find_member(&s, path[i]);
		if (rc)
			return rc;
	}
	start = s.p;
	if (skip_value(&s))
		return -EINVAL;
	out->off = (size_t)(start - raw);
	out->len = (size_t)(s.p - start);
	return 0;
}

int jx_array_each(const char *raw, const struct jx_span *array,
		  int (*cb)(void *ctx, size_t index, const struct jx_span *elem), void *ctx)
{
	struct scan s = { raw + array->off, raw + array->off + array->len };
	size_t index = 0;

	skip_ws(&s);
	if (s.p >= s.end || *s.p != '[')
		return -EINVAL;
	s.p++;
	skip_ws(&s);
	if (s.p < s.end && *s.p == ']')
		return 0;
	for (;;) {
		struct jx_span el;
		const char *start;
		int rc;

		skip_ws(&s);
		start = s.p;
		if (skip_value(&s))
			return -EINVAL;
		el.off = (size_t)(start - raw);
		el.len = (size_t)(s.p - start);
		rc = cb(ctx, index++, &el);
		if (rc)
			return rc;
		skip_ws(&s);
		if (s.p < s.end && *s.p == ',') {
			s.p++;
			continue;
		}
		return s.p < s.end && *s.p == ']' ? 0 : -EINVAL;
	}
}

int jx_splice(const char *raw, size_t len, const struct jx_edit *edits, size_t n,
	      struct mg_buf *out)
{
	size_t pos = 0;
	int rc;

	for (size_t i = 0; i < n; i++) {
		const struct jx_edit *e = &edits[i];

		if (e->at.off < pos || e->at.off > len || e->at.len > len - e->at.off)
			return -EINVAL;
		if ((rc = mg_buf_add(out, raw + pos, e->at.off - pos)) ||
		    (rc = mg_buf_add(out, e->text, e->text_len)))
			return rc;
		pos = e->at.off + e->at.len;
	}
	return mg_buf_add(out, raw + pos, len - pos);
}

int jx_strings(const char *raw, size_t len,
	       int (*cb)(void *ctx, const struct jx_span *tok, bool is_key, const struct jx_span *key),
	       void *ctx)
{
	struct scan s = { raw, raw + len };
	struct mg_buf stack;            /* 'o' or 'a' per open container */
	struct jx_span key = { 0, 0 };
	bool want_key = false;
	int rc = 0;

	mg_buf_init(&stack, len + 1);
	while (s.p < s.end && rc == 0) {
		char c = *s.p;
		bool in_obj = stack.len && stack.data[stack.len - 1] == 'o';

		switch (c) {
		case '"': {
			struct jx_span tok = { (size_t)(s.p - raw), 0 };

			if (skip_string(&s)) {
				rc = -EINVAL;
				break;
			}
			tok.len = (size_t)(s.p - raw) - tok.off;
			if (in_obj && want_key) {
				key = tok;
				rc = cb(ctx, &tok, true, NULL);
			} else {
				rc = cb(ctx, &tok, false, in_obj ? &key : NULL);
			}
			continue;
		}
		case '{':
		case '[':
			if (mg_buf_addc(&stack, c == '{' ? 'o' : 'a')) {
				rc = -EINVAL;
				break;
			}
			want_key = c == '{';
			break;
		case '}':
		case ']':
			if (!stack.len) {
				rc = -EINVAL;
				break;
			}
			mg_buf_truncate(&stack, stack.len - 1);
			want_key = false;
			break;
		case ',':
			want_key = in_obj;
			break;
		case ':':
			want_key = false;
			break;
		default:
			break;
		}
		s.p++;
	}
	mg_buf_release(&stack);
	return rc;
}

int jx_unescape(const char *str, size_t n, struct mg_buf *out)
{
	const char *p = str, *end = str + n;
	int rc = 0;

	while (p < end && rc == 0) {
		const char *bs = memchr(p, '\\', (size_t)(end - p));
		unsigned cp, lo;
		char u[4];

		if (!bs)
			return mg_buf_add(out, p, (size_t)(end - p));
		if ((rc = mg_buf_add(out, p, (size_t)(bs - p))))
			break;
		if (bs + 1 >= end)
			return -EINVAL;
		p = bs + 2;
		switch (bs[1]) {
		case '"': rc = mg_buf_addc(out, '"'); break;
		case '\\': rc = mg_buf_addc(out, '\\'); break;
		case '/': rc = mg_buf_addc(out, '/'); break;
		case 'b': rc = mg_buf_addc(out, '\b'); break;
		case 'f': rc = mg_buf_addc(out, '\f'); break;
		case 'n': rc = mg_buf_addc(out, '\n'); break;
		case 'r': rc = mg_buf_addc(out, '\r'); break;
		case 't': rc = mg_buf_addc(out, '\t'); break;
		case 'u':
			if (read_u4(p, end, &cp))
				return -EINVAL;
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
			    read_u4(p + 2, end, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			rc = mg_buf_add(out, u, put_utf8(u, cp));
			break;
		default:
			return -EINVAL;
		}
	}
	return rc;
}

int jx_quote(const char *str, size_t n, struct mg_buf *out)
{
	json_t *j = json_stringn(str, n);
	int rc;

	if (!j)
		return -EINVAL;        /* not valid UTF-8 */
	rc = jx_dump_buf(j, out);
	json_decref(j);
	return rc;
}

const char *jx_str(const json_t *obj, const char *key)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

json_t *jx_obj(const json_t *obj, const char *key)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_object(v) ? v : NULL;
}

json_t *jx_arr(const json_t *obj, const char *key)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_array(v) ? v : NULL;
}

bool jx_bool(const json_t *obj, const char *key, bool dflt)
{
	json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

	return json_is_boolean(v) ? json_is_true(v) : dflt;
}
