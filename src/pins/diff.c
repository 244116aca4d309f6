/* pins/diff: field-by-field differences of two definitions (see diff.h). */
#include "pins/diff.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"
#include "json/canon.h"
#include "json/jx.h"

#define VALUE_MAX (64u << 20)   /* canonical text of one value */
#define PATH_MAX_LEN 4096

struct walk {
	struct pin_diff *d;
	size_t width;
	struct mg_buf path;
};

static int canon_text(const json_t *v, char **out, size_t *len)
{
	struct mg_buf b;
	int rc;

	mg_buf_init(&b, VALUE_MAX);
	rc = mg_canon(v, &b);
	if (rc) {
		mg_buf_release(&b);
		return rc;
	}
	*out = mg_buf_detach(&b, len);
	if (!*out)
		*out = mg_strdup("");
	return 0;
}

/* Back up to the start of a UTF-8 sequence. */
static size_t utf8_floor(const char *s, size_t i)
{
	while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
		i--;
	return i;
}

/* s[from..] cut to about width bytes, "..." marking each cut. */
static char *shorten(const char *s, size_t len, size_t from, size_t width)
{
	struct mg_buf b;
	size_t end = len;

	if (!width || len <= width)
		return mg_strdup(s);
	mg_buf_init(&b, len + 8);
	if (from) {
		from = utf8_floor(s, from);
		mg_buf_adds(&b, "...");
	}
	if (len - from > width)
		end = utf8_floor(s, from + width);
	mg_buf_add(&b, s + from, end - from);
	if (end < len)
		mg_buf_adds(&b, "...");
	return mg_buf_detach(&b, NULL);
}

static int add(struct walk *w, enum pin_change_kind kind, const json_t *old, const json_t *new)
{
	struct pin_change *c;
	char *o = NULL, *n = NULL;
	size_t olen = 0, nlen = 0, from = 0;
	int rc = 0;

	if (w->d->n == PIN_DIFF_MAX) {
		w->d->more++;
		return 0;
	}
	if ((old && (rc = canon_text(old, &o, &olen))) || (new && (rc = canon_text(new, &n, &nlen)))) {
		free(o);
		return rc;
	}
	/* two long strings: start near where they part */
	if (o && n && json_is_string(old) && json_is_string(new) && w->width &&
	    (olen > w->width || nlen > w->width)) {
		size_t p = 0;

		while (p < olen && p < nlen && o[p] == n[p])
			p++;
		if (p > w->width / 4)
			from = p - w->width / 4;
	}
	if (!w->d->changes)
		w->d->changes = mg_calloc(PIN_DIFF_MAX, sizeof(*w->d->changes));
	c = &w->d->changes[w->d->n++];
	c->path = mg_strdup(w->path.data ? w->path.data : "");
	c->kind = kind;
	c->old_value = o ? shorten(o, olen, from, w->width) : NULL;
	c->new_value = n ? shorten(n, nlen, from, w->width) : NULL;
	free(o);
	free(n);
	return 0;
}

static bool plain_word(const char *k, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = k[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '$' || c == '@'))
			return false;
	}
	return true;
}

/* Append .key (or ["key"]) to the path; the old length goes to *mark. */
static int push_key(struct walk *w, const char *k, size_t len, size_t *mark)
{
	*mark = w->path.len;
	if (plain_word(k, len)) {
		if ((w->path.len && mg_buf_addc(&w->path, '.')) || mg_buf_add(&w->path, k, len))
			goto long_path;
		return 0;
	}
	if (mg_buf_addc(&w->path, '[') || jx_quote(k, len, &w->path) || mg_buf_addc(&w->path, ']'))
		goto long_path;
	return 0;
long_path:
	mg_buf_truncate(&w->path, *mark);
	return -ENAMETOOLONG;
}

static int walk(struct walk *w, const json_t *old, const json_t *new, int depth);

struct key {
	const char *k;
	size_t len;
};

static int key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	int c = memcmp(x->k, y->k, x->len < y->len ? x->len : y->len);

	return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int walk_object(struct walk *w, const json_t *old, const json_t *new, int depth)
{
	size_t n = 0, len, mark;
	struct key *keys = mg_calloc(json_object_size(old) + json_object_size(new) + 1, sizeof(*keys));
	const char *k;
	json_t *v;
	int rc = 0;

	json_object_keylen_foreach((json_t *)(uintptr_t)old, k, len, v)
		keys[n++] = (struct key){ k, len };
	json_object_keylen_foreach((json_t *)(uintptr_t)new, k, len, v)
		if (!json_object_getn(old, k, len))
			keys[n++] = (struct key){ k, len };
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (size_t i = 0; i < n && !rc; i++) {
		json_t *o = json_object_getn(old, keys[i].k, keys[i].len);
		json_t *nv = json_object_getn(new, keys[i].k, keys[i].len);

		if ((rc = push_key(w, keys[i].k, keys[i].len, &mark)))
			break;
		if (!o)
			rc = add(w, PIN_ADDED, NULL, nv);
		else if (!nv)
			rc = add(w, PIN_REMOVED, o, NULL);
		else
			rc = walk(w, o, nv, depth + 1);
		mg_buf_truncate(&w->path, mark);
	}
	free(keys);
	return rc;
}

static int walk_array(struct walk *w, const json_t *old, const json_t *new, int depth)
{
	size_t no = json_array_size(old), nn = json_array_size(new), mark;
	int rc = 0;

	for (size_t i = 0; i < (no > nn ? no : nn) && !rc; i++) {
		mark = w->path.len;
		if (mg_buf_addf(&w->path, "[%zu]", i))
			return -ENAMETOOLONG;
		if (i >= no)
			rc = add(w, PIN_ADDED, NULL, json_array_get(new, i));
		else if (i >= nn)
			rc = add(w, PIN_REMOVED, json_array_get(old, i), NULL);
		else
			rc = walk(w, json_array_get(old, i), json_array_get(new, i), depth + 1);
		mg_buf_truncate(&w->path, mark);
	}
	return rc;
}

/* Equal as canonical JSON (1 and 1.0 are the same number). */
static int same(const json_t *a, const json_t *b, bool *eq)
{
	char *x = NULL, *y = NULL;
	size_t xl, yl;
	int rc;

	if ((rc = canon_text(a, &x, &xl)) || (rc = canon_text(b, &y, &yl))) {
		free(x);
		return rc;
	}
	*eq = xl == yl && memcmp(x, y, xl) == 0;
	free(x);
	free(y);
	return 0;
}

static int walk(struct walk *w, const json_t *old, const json_t *new, int depth)
{
	bool eq;
	int rc;

	if (depth > MG_CANON_MAX_DEPTH)
		return -ELOOP;
	if ((rc = same(old, new, &eq)) || eq)
		return rc;
	if (json_is_object(old) && json_is_object(new))
		return walk_object(w, old, new, depth);
	if (json_is_array(old) && json_is_array(new))
		return walk_array(w, old, new, depth);
	return add(w, PIN_CHANGED, old, new);
}

int pin_diff(const json_t *old, const json_t *new, size_t width, struct pin_diff *d)
{
	struct walk w = { .d = d, .width = width };
	int rc;

	memset(d, 0, sizeof(*d));
	if (!old || !new)
		return -EINVAL;
	mg_buf_init(&w.path, PATH_MAX_LEN);
	rc = walk(&w, old, new, 0);
	mg_buf_release(&w.path);
	return rc;
}

void pin_diff_release(struct pin_diff *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->changes[i].path);
		free(d->changes[i].old_value);
		free(d->changes[i].new_value);
	}
	free(d->changes);
	memset(d, 0, sizeof(*d));
}

const char *pin_change_path(const struct pin_change *c)
{
	return c->path[0] ? c->path : "value";
}

void pin_diff_summary(const struct pin_diff *d, char *out, size_t size)
{
	static const char *const suffix[] = { " added", " removed", "" };
	size_t len = 0, total = d->n + d->more;

	if (!size)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < d->n; i++) {
		char piece[PATH_MAX_LEN + 16], tail[48];
		size_t plen, left = total - i - 1;

		plen = (size_t)snprintf(piece, sizeof(piece), "%s%s%s", i ? ", " : "",
					pin_change_path(&d->changes[i]), suffix[d->changes[i].kind]);
		/* room for this piece and, if more follow, for ", and N more" */
		snprintf(tail, sizeof(tail), ", and %zu more", left);
		if (len + plen + (left ? strlen(tail) : 0) >= size) {
			snprintf(tail, sizeof(tail), "%sand %zu more", i ? ", " : "", left + 1);
			if (len + strlen(tail) < size)
				snprintf(out + len, size - len, "%s", tail);
			return;
		}
		memcpy(out + len, piece, plen + 1);
		len += plen;
	}
	if (d->more && len + 24 < size)
		snprintf(out + len, size - len, ", and %zu more", d->more);
}
