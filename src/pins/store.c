/* pins/store: the durable pin store (see store.h). */
#include "pins/store.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fs.h"
#include "base/mem.h"
#include "base/str.h"
#include "json/canon.h"

#define FORMAT 1
#define LAST_SEEN_STEP_MS 60000

void (*pin_store_test_before_rename)(const char *tmp_path);

struct pin_store {
	char *dir;
};

/* ---- names, keys, times ---- */

bool pin_server_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return false;
	}
	return true;
}

void pin_printable(const char *s, char *out, size_t size)
{
	size_t i = 0;

	if (!size)
		return;
	for (; s && *s && i + 1 < size; s++)
		out[i++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	out[i] = '\0';
}

static const struct {
	enum gd_def_kind kind;
	const char *prefix;     /* with the slash; instructions: the whole key */
	const char *label;
} kinds[] = {
	{ GD_DEF_TOOL, "tool/", "tool" },
	{ GD_DEF_PROMPT, "prompt/", "prompt" },
	{ GD_DEF_RESOURCE, "resource/", "resource" },
	{ GD_DEF_TEMPLATE, "resource-template/", "resource template" },
	{ GD_DEF_INSTRUCTIONS, "instructions", "instructions" },
};

char *pin_key(enum gd_def_kind kind, const char *name)
{
	struct mg_buf b;

	mg_buf_init(&b, SIZE_MAX / 2);
	for (size_t i = 0; i < MG_ARRAY_LEN(kinds); i++) {
		if (kinds[i].kind != kind)
			continue;
		mg_buf_adds(&b, kinds[i].prefix);
		if (kind != GD_DEF_INSTRUCTIONS)
			mg_buf_adds(&b, name ? name : "");
		return mg_buf_detach(&b, NULL);
	}
	mg_buf_addf(&b, "definition/%s", name ? name : "");
	return mg_buf_detach(&b, NULL);
}

/* The kind of a key, or -1. */
static int key_kind(const char *key)
{
	for (size_t i = 0; i < MG_ARRAY_LEN(kinds); i++) {
		if (kinds[i].kind == GD_DEF_INSTRUCTIONS ? strcmp(key, "instructions") == 0
		    : mg_starts_with(key, kinds[i].prefix))
			return (int)i;
	}
	return -1;
}

char *pin_key_from_spec(const char *spec)
{
	struct mg_buf b;

	if (key_kind(spec) >= 0)
		return mg_strdup(spec);
	mg_buf_init(&b, SIZE_MAX / 2);
	mg_buf_addf(&b, "tool/%s", spec);
	return mg_buf_detach(&b, NULL);
}

void pin_key_describe(const char *key, char *out, size_t size)
{
	int k = key_kind(key);
	char name[400];

	if (k < 0) {
		pin_printable(key, name, sizeof(name));
		snprintf(out, size, "'%s'", name);
	} else if (kinds[k].kind == GD_DEF_INSTRUCTIONS) {
		snprintf(out, size, "the instructions");
	} else {
		pin_printable(key + strlen(kinds[k].prefix), name, sizeof(name));
		snprintf(out, size, "%s '%s'", kinds[k].label, name);
	}
}

int64_t pin_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pin_time_format(int64_t ms, char *out, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* "2026-11-28T12:00:00.123Z" or without the fraction. */
static int time_parse(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	unsigned ms = 0;
	int used = 0, n;

	if (!s)
		return -EINVAL;
	n = sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec, &used);
	if (n != 6 || used != 19)
		return -EINVAL;
	s += used;
	if (*s == '.') {
		int digits = 0;

		for (s++; *s >= '0' && *s <= '9'; s++, digits++)
			if (digits < 3)
				ms = ms * 10 + (unsigned)(*s - '0');
		if (digits == 0)
			return -EINVAL;
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (strcmp(s, "Z") != 0 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = (int64_t)timegm(&tm) * 1000 + ms;
	return 0;
}

/* ---- the store ---- */

char *pin_store_default_dir(void)
{
	char *base = mg_config_dir();
	struct mg_buf b;

	mg_buf_init(&b, PATH_MAX);
	mg_buf_addf(&b, "%s/pins", base);
	free(base);
	return mg_buf_detach(&b, NULL);
}

int pin_store_open(struct pin_store **out, const char *dir, bool create, struct mg_err *err)
{
	struct pin_store *st;
	struct stat sb;
	int rc;

	*out = NULL;
	st = MG_NEW(struct pin_store);
	st->dir = dir ? mg_strdup(dir) : pin_store_default_dir();
	if (strlen(st->dir) > PATH_MAX - 100) {
		rc = mg_err_set(err, -ENAMETOOLONG, "pin store %s: the path is too long", st->dir);
		goto fail;
	}
	if (create && (rc = mg_mkdir_p(st->dir, 0700))) {
		mg_err_set(err, rc, "pin store %s: cannot make the folder: %s", st->dir, strerror(-rc));
		goto fail;
	}
	if (stat(st->dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode)) {
			rc = mg_err_set(err, -ENOTDIR, "pin store %s is not a folder", st->dir);
			goto fail;
		}
		if (sb.st_mode & 022) {
			rc = mg_err_set(err, -EPERM, "pin store %s is writable by other users (mode %04o): "
					"anyone could approve a definition; chmod 700 it", st->dir,
					(unsigned)(sb.st_mode & 07777));
			goto fail;
		}
	} else if (errno != ENOENT) {
		rc = -errno;
		mg_err_set(err, rc, "pin store %s: %s", st->dir, strerror(-rc));
		goto fail;
	}
	*out = st;
	return 0;
fail:
	pin_store_close(st);
	return rc;
}

void pin_store_close(struct pin_store *st)
{
	if (!st)
		return;
	free(st->dir);
	free(st);
}

const char *pin_store_dir(const struct pin_store *st)
{
	return st->dir;
}

char *pin_store_path(const struct pin_store *st, const char *server)
{
	struct mg_buf b;

	mg_buf_init(&b, PATH_MAX);
	mg_buf_addf(&b, "%s/%s.json", st->dir, server);
	return mg_buf_detach(&b, NULL);
}

/* ---- servers and items ---- */

static void def_release(struct pin_def *d)
{
	json_decref(d->def);
	memset(d, 0, sizeof(*d));
}

static void item_release(struct pin_item *it)
{
	free(it->key);
	free(it->text);
	def_release(&it->pin);
	def_release(&it->pending);
}

void pin_server_free(struct pin_server *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_items; i++)
		item_release(&s->items[i]);
	free(s->items);
	free(s->name);
	free(s->text);
	free(s);
}

static size_t item_index(const struct pin_server *s, const char *key, bool *found)
{
	size_t lo = 0, hi = s->n_items;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->items[mid].key, key);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

struct pin_item *pin_server_find(const struct pin_server *s, const char *key)
{
	bool found;
	size_t i = item_index(s, key, &found);

	return found ? &s->items[i] : NULL;
}

struct pin_item *pin_server_item(struct pin_server *s, const char *key)
{
	bool found;
	size_t i = item_index(s, key, &found);

	if (found)
		return &s->items[i];
	s->items = mg_realloc(s->items, (s->n_items + 1) * sizeof(*s->items));
	memmove(&s->items[i + 1], &s->items[i], (s->n_items - i) * sizeof(*s->items));
	memset(&s->items[i], 0, sizeof(s->items[i]));
	s->items[i].key = mg_strdup(key);
	s->n_items++;
	return &s->items[i];
}

bool pin_server_drop(struct pin_server *s, const char *key)
{
	bool found;
	size_t i = item_index(s, key, &found);

	if (!found)
		return false;
	item_release(&s->items[i]);
	memmove(&s->items[i], &s->items[i + 1], (s->n_items - i - 1) * sizeof(*s->items));
	s->n_items--;
	return true;
}

static void touch(struct pin_item *it)
{
	free(it->text);
	it->text = NULL;
}

static void def_set(struct pin_def *d, const char *sha256, const json_t *def)
{
	json_t *copy = json_deep_copy(def);

	def_release(d);
	mg_strlcpy(d->sha256, sha256, sizeof(d->sha256));
	d->def = copy;
}

void pin_item_set_pin(struct pin_item *it, const char *sha256, const json_t *def,
		      enum pin_how how, int64_t now)
{
	touch(it);
	def_set(&it->pin, sha256, def);
	it->has_pin = true;
	it->pinned_at = now;
	it->how = how;
}

bool pin_item_set_pending(struct pin_item *it, const char *sha256, const json_t *def,
			  int64_t now)
{
	if (it->has_pending && strcmp(it->pending.sha256, sha256) == 0) {
		if (now - it->last_seen < LAST_SEEN_STEP_MS)
			return false;
		touch(it);
		it->last_seen = now;
		return true;
	}
	touch(it);
	def_set(&it->pending, sha256, def);
	it->has_pending = true;
	it->first_seen = it->last_seen = now;
	return true;
}

int pin_item_approve(struct pin_item *it, int64_t now)
{
	if (!it->has_pending)
		return -ENOENT;
	touch(it);
	def_release(&it->pin);
	it->pin = it->pending;
	memset(&it->pending, 0, sizeof(it->pending));
	it->has_pending = false;
	it->has_pin = true;
	it->pinned_at = now;
	it->how = PIN_APPROVED;
	return 0;
}

int pin_item_reject(struct pin_item *it, int64_t now)
{
	if (!it->has_pending)
		return -ENOENT;
	touch(it);
	if (!pin_item_is_rejected(it, it->pending.sha256)) {
		if (it->n_rejected == PIN_MAX_REJECTED) {
			memmove(&it->rejected[0], &it->rejected[1],
				(PIN_MAX_REJECTED - 1) * sizeof(it->rejected[0]));
			it->n_rejected--;
		}
		mg_strlcpy(it->rejected[it->n_rejected].sha256, it->pending.sha256,
			   sizeof(it->rejected[0].sha256));
		it->rejected[it->n_rejected++].at = now;
	}
	def_release(&it->pending);
	it->has_pending = false;
	return 0;
}

bool pin_item_is_rejected(const struct pin_item *it, const char *sha256)
{
	for (size_t i = 0; i < it->n_rejected; i++)
		if (strcmp(it->rejected[i].sha256, sha256) == 0)
			return true;
	return false;
}

/* ---- reading a file ---- */

struct reader {
	const char *path;
	struct mg_err *err;
};

#define BAD(r, ...) bad(r, __VA_ARGS__)

__attribute__((format(printf, 2, 3)))
static int bad(struct reader *r, const char *fmt, ...)
{
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return mg_err_set(r->err, -EINVAL, "pin file %s: %s", r->path, why);
}

static bool sha_ok(const char *s)
{
	if (!s || strlen(s) != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static int read_time(struct reader *r, const json_t *o, const char *member, const char *what,
		     const char *key, int64_t *out)
{
	const char *s = json_string_value(json_object_get(o, member));

	if (time_parse(s, out))
		return BAD(r, "%s.%s of %s is not an RFC 3339 UTC time", what, member, key);
	return 0;
}

static int read_def(struct reader *r, const json_t *o, const char *what, const char *key,
		    struct pin_def *d)
{
	const char *sha = json_string_value(json_object_get(o, "sha256"));
	json_t *def = json_object_get(o, "definition");
	char h[65];
	int rc;

	if (!json_is_object(o))
		return BAD(r, "%s of %s is not an object", what, key);
	if (!sha_ok(sha))
		return BAD(r, "%s.sha256 of %s is not 64 lower-case hex digits", what, key);
	if (!def)
		return BAD(r, "%s of %s has no definition", what, key);
	if ((rc = mg_canon_sha256_hex(def, h)))
		return BAD(r, "%s.definition of %s has no canonical form (%s)", what, key, strerror(-rc));
	if (strcmp(h, sha) != 0)
		return BAD(r, "%s.definition of %s does not match its sha256 (edited by hand?)", what,
			   key);
	mg_strlcpy(d->sha256, sha, sizeof(d->sha256));
	d->def = json_incref(def);
	return 0;
}

static int read_item(struct reader *r, const char *key, const json_t *o, struct pin_item *it)
{
	json_t *pin = json_object_get(o, "pinned"), *pend = json_object_get(o, "pending");
	json_t *rej = json_object_get(o, "rejected");
	int rc;

	if (key_kind(key) < 0)
		return BAD(r, "item '%s' is not tool/, prompt/, resource/, resource-template/ or "
			   "instructions", key);
	if (!json_is_object(o))
		return BAD(r, "item %s is not an object", key);
	if (pin) {
		const char *how = json_string_value(json_object_get(pin, "how"));

		if ((rc = read_def(r, pin, "pinned", key, &it->pin)) ||
		    (rc = read_time(r, pin, "at", "pinned", key, &it->pinned_at)))
			return rc;
		if (mg_streq(how, "first-sight"))
			it->how = PIN_FIRST_SIGHT;
		else if (mg_streq(how, "approved"))
			it->how = PIN_APPROVED;
		else
			return BAD(r, "pinned.how of %s is not \"first-sight\" or \"approved\"", key);
		it->has_pin = true;
	}
	if (pend) {
		if ((rc = read_def(r, pend, "pending", key, &it->pending)) ||
		    (rc = read_time(r, pend, "first_seen", "pending", key, &it->first_seen)) ||
		    (rc = read_time(r, pend, "last_seen", "pending", key, &it->last_seen)))
			return rc;
		it->has_pending = true;
	}
	if (rej && !json_is_array(rej))
		return BAD(r, "rejected of %s is not an array", key);
	for (size_t i = 0; i < json_array_size(rej); i++) {
		json_t *x = json_array_get(rej, i);
		const char *sha = json_string_value(json_object_get(x, "sha256"));

		if (!sha_ok(sha))
			return BAD(r, "rejected[%zu].sha256 of %s is not 64 lower-case hex digits", i, key);
		if (it->n_rejected == PIN_MAX_REJECTED)
			return BAD(r, "%s has more than %d rejected hashes", key, PIN_MAX_REJECTED);
		if ((rc = read_time(r, x, "at", "rejected[]", key, &it->rejected[it->n_rejected].at)))
			return rc;
		mg_strlcpy(it->rejected[it->n_rejected++].sha256, sha, 65);
	}
	return 0;
}

static int from_json(struct reader *r, const json_t *doc, struct pin_server *s)
{
	json_t *fmt = json_object_get(doc, "mcpguard-pins"), *items, *v;
	const char *server = json_string_value(json_object_get(doc, "server")), *key;
	int rc;

	if (!json_is_object(doc) || !json_is_integer(fmt))
		return BAD(r, "not a pin file (no \"mcpguard-pins\" format number)");
	if (json_integer_value(fmt) != FORMAT)
		return BAD(r, "format %lld, and this mcpguard reads format %d (written by a newer "
			   "one?)", (long long)json_integer_value(fmt), FORMAT);
	if (!mg_streq(server, s->name))
		return BAD(r, "holds the pins of server '%s', not of '%s'", server ? server : "?",
			   s->name);
	items = json_object_get(doc, "items");
	if (!json_is_object(items))
		return BAD(r, "\"items\" is not an object");
	json_object_foreach(items, key, v) {
		if ((rc = read_item(r, key, v, pin_server_item(s, key))))
			return rc;
	}
	return 0;
}

static int read_all(int fd, size_t max, struct mg_buf *b)
{
	char chunk[65536];

	mg_buf_init(b, max);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if (mg_buf_add(b, chunk, (size_t)n))
			return -EFBIG;
	}
}

/* The file's bytes, as they are now (mode checked): *text NULL when there
 * is no file.  0 or -errno with err. */
static int read_text(const char *path, char **text, size_t *len, struct mg_err *err)
{
	struct mg_buf b = { 0 };
	struct stat sb;
	int fd, rc = 0;

	*text = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0) {
		rc = -errno;
		return mg_err_set(err, rc, "pin file %s: %s", path, strerror(-rc));
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		rc = mg_err_set(err, -EINVAL, "pin file %s is not a regular file", path);
		goto out;
	}
	if (sb.st_mode & 022) {
		rc = mg_err_set(err, -EPERM, "pin file %s is writable by other users (mode %04o); "
				"chmod 600 it", path, (unsigned)(sb.st_mode & 07777));
		goto out;
	}
	if ((rc = read_all(fd, PIN_FILE_MAX, &b))) {
		if (rc == -EFBIG)
			mg_err_set(err, rc, "pin file %s is larger than %u MiB", path, PIN_FILE_MAX >> 20);
		else
			mg_err_set(err, rc, "pin file %s: %s", path, strerror(-rc));
		goto out;
	}
	*text = mg_buf_detach(&b, len);
	if (!*text)
		*text = mg_strdup("");
out:
	close(fd);
	mg_buf_release(&b);
	return rc;
}

/* Parse a file's text (taken) into a new server. */
static int parse_text(const char *server, const char *path, char *text, size_t len,
		      struct pin_server **out, struct mg_err *err)
{
	struct pin_server *s = MG_NEW(struct pin_server);
	struct reader r = { .path = path, .err = err };
	json_error_t jerr;
	json_t *doc = NULL;
	int rc = 0;

	s->name = mg_strdup(server);
	s->exists = text != NULL;
	s->text = text;
	s->text_len = len;
	if (!text)
		goto done;
	if (len == 0) {
		rc = BAD(&r, "empty (cut short?)");
		goto done;
	}
	if (memchr(text, '\0', len)) {
		rc = BAD(&r, "holds a NUL byte (damaged?)");
		goto done;
	}
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!doc) {
		rc = BAD(&r, "line %d, column %d: %s%s", jerr.line, jerr.column, jerr.text,
			 jerr.position >= (int)len ? " (cut short?)" : "");
		goto done;
	}
	rc = from_json(&r, doc, s);
done:
	json_decref(doc);
	if (rc) {
		pin_server_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int pin_store_load(struct pin_store *st, const char *server, struct pin_server **out,
		   struct mg_err *err)
{
	char *path, *text;
	size_t len;
	int rc;

	*out = NULL;
	if (!pin_server_name_ok(server))
		return mg_err_set(err, -EINVAL, "'%s' is not a server name", server ? server : "");
	path = pin_store_path(st, server);
	rc = read_text(path, &text, &len, err);
	if (rc == 0)
		rc = parse_text(server, path, text, len, out, err);
	free(path);
	return rc;
}

/* ---- writing ---- */

static json_t *def_json(const struct pin_def *d)
{
	return json_pack("{s:s,s:O}", "sha256", d->sha256, "definition", d->def);
}

static json_t *set_time(json_t *o, const char *member, int64_t ms)
{
	char t[32];

	pin_time_format(ms, t, sizeof(t));
	json_object_set_new(o, member, json_string(t));
	return o;
}

/* One item as compact JSON: "key":{...} (kept until the item changes). */
static const char *item_text(struct pin_item *it)
{
	json_t *o, *k;
	char *v;
	struct mg_buf b;

	if (it->text)
		return it->text;
	o = json_object();
	if (it->has_pin) {
		json_t *p = set_time(def_json(&it->pin), "at", it->pinned_at);

		json_object_set_new(p, "how", json_string(it->how == PIN_APPROVED ? "approved"
							  : "first-sight"));
		json_object_set_new(o, "pinned", p);
	}
	if (it->has_pending)
		json_object_set_new(o, "pending", set_time(set_time(def_json(&it->pending),
			"first_seen", it->first_seen), "last_seen", it->last_seen));
	if (it->n_rejected) {
		json_t *a = json_array();

		for (size_t i = 0; i < it->n_rejected; i++)
			json_array_append_new(a, set_time(json_pack("{s:s}", "sha256",
				it->rejected[i].sha256), "at", it->rejected[i].at));
		json_object_set_new(o, "rejected", a);
	}
	k = json_string(it->key);
	mg_buf_init(&b, SIZE_MAX / 2);
	v = json_dumps(k, JSON_ENCODE_ANY);
	mg_buf_adds(&b, v);
	free(v);
	v = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	mg_buf_addf(&b, ":%s", v);
	free(v);
	json_decref(k);
	json_decref(o);
	it->text = mg_buf_detach(&b, NULL);
	return it->text;
}

/* The file: a header line, one line per item, the close. */
static char *file_text(struct pin_server *s, size_t *len)
{
	struct mg_buf b;
	json_t *name = json_string(s->name);
	char *v = json_dumps(name, JSON_ENCODE_ANY);

	mg_buf_init(&b, SIZE_MAX / 2);
	mg_buf_addf(&b, "{\"mcpguard-pins\":%d,\"server\":%s,\"items\":{\n", FORMAT, v);
	free(v);
	json_decref(name);
	for (size_t i = 0; i < s->n_items; i++) {
		mg_buf_adds(&b, item_text(&s->items[i]));
		mg_buf_adds(&b, i + 1 < s->n_items ? ",\n" : "\n");
	}
	mg_buf_adds(&b, "}}\n");
	return mg_buf_detach(&b, len);
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Temporary files of this server left by a writer that died (under the
 * lock, any is stale): <server>.json.tmp.<digits>. */
static void remove_stale(const struct pin_store *st, const char *server)
{
	char prefix[128];
	DIR *d = opendir(st->dir);
	struct dirent *e;

	if (!d)
		return;
	snprintf(prefix, sizeof(prefix), "%s.json.tmp.", server);
	while ((e = readdir(d))) {
		const char *rest;

		if (!mg_starts_with(e->d_name, prefix))
			continue;
		rest = e->d_name + strlen(prefix);
		if (*rest && strspn(rest, "0123456789") == strlen(rest))
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

static int write_server(struct pin_store *st, struct pin_server *s, struct mg_err *err)
{
	size_t len;
	char *text = file_text(s, &len);
	char *path = pin_store_path(st, s->name), tmp[PATH_MAX] = "";
	bool renamed = false;
	int fd = -1, rc = 0;

	if (len > PIN_FILE_MAX) {
		rc = mg_err_set(err, -EFBIG, "pin file %s would be larger than %u MiB", path,
				PIN_FILE_MAX >> 20);
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = -errno;
		mg_err_set(err, rc, "pin file %s: cannot write %s: %s", path, tmp, strerror(-rc));
		goto out;
	}
	if ((rc = mg_write_all(fd, text, len)) || (fsync(fd) < 0 && (rc = -errno))) {
		mg_err_set(err, rc, "pin file %s: cannot write %s: %s", path, tmp, strerror(-rc));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		mg_err_set(err, rc, "pin file %s: cannot write %s: %s", path, tmp, strerror(-rc));
		goto out;
	}
	fd = -1;
	if (pin_store_test_before_rename)
		pin_store_test_before_rename(tmp);
	if (rename(tmp, path) < 0) {
		rc = -errno;
		mg_err_set(err, rc, "pin file %s: cannot rename %s over it: %s", path, tmp,
			   strerror(-rc));
		goto out;
	}
	renamed = true;
	free(s->text);
	s->text = mg_steal(&text);
	s->text_len = len;
	s->exists = true;
	if ((rc = sync_dir(st->dir)))
		mg_err_set(err, rc, "pin store %s: cannot sync the folder: %s", st->dir, strerror(-rc));
out:
	if (fd >= 0)
		close(fd);
	if (rc && tmp[0] && !renamed)
		unlink(tmp);
	free(text);
	free(path);
	return rc;
}

/* The store's lock, held until the fd is closed.  fd or -errno. */
static int lock_store(struct pin_store *st, struct mg_err *err)
{
	char path[PATH_MAX];
	int fd, rc;

	if ((rc = mg_mkdir_p(st->dir, 0700)))
		return mg_err_set(err, rc, "pin store %s: cannot make the folder: %s", st->dir,
				  strerror(-rc));
	snprintf(path, sizeof(path), "%s/.lock", st->dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = -errno;
		return mg_err_set(err, rc, "pin store %s: cannot open its lock %s: %s", st->dir, path,
				  strerror(-rc));
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		rc = -errno;
		close(fd);
		return mg_err_set(err, rc, "pin store %s: cannot lock %s: %s", st->dir, path,
				  strerror(-rc));
	}
	return fd;
}

int pin_store_update_cached(struct pin_store *st, const char *server, struct pin_server **sp,
			    pin_update_fn fn, void *ctx, struct mg_err *err)
{
	struct pin_server *s = *sp;
	char *path = NULL, *text = NULL;
	size_t len = 0;
	int lock = -1, rc, wrc;

	*sp = NULL;
	if (!pin_server_name_ok(server)) {
		rc = mg_err_set(err, -EINVAL, "'%s' is not a server name", server ? server : "");
		goto out;
	}
	if ((lock = rc = lock_store(st, err)) < 0)
		goto out;
	path = pin_store_path(st, server);
	if ((rc = read_text(path, &text, &len, err)))
		goto out;
	/* the copy in hand is good when the file is still what it was read
	 * or written as (byte for byte); otherwise read it again */
	if (!s || strcmp(s->name, server) != 0 || s->exists != (text != NULL) ||
	    (text && (len != s->text_len || memcmp(text, s->text, len) != 0))) {
		pin_server_free(s);
		s = NULL;
		if ((rc = parse_text(server, path, mg_steal(&text), len, &s, err)))
			goto out;
	}
	rc = fn(ctx, s, err);
	if (rc <= 0)
		goto out;
	remove_stale(st, server);
	if (s->n_items) {
		wrc = write_server(st, s, err);
	} else {
		wrc = unlink(path) < 0 && errno != ENOENT ? -errno : 0;
		if (wrc)
			mg_err_set(err, wrc, "pin file %s: cannot remove it: %s", path, strerror(-wrc));
		else
			wrc = sync_dir(st->dir);
		s->exists = false;
		free(s->text);
		s->text = NULL;
		s->text_len = 0;
	}
	if (wrc)
		rc = wrc;
out:
	if (lock >= 0)
		close(lock);
	free(text);
	free(path);
	if (rc >= 0)
		*sp = s;
	else
		pin_server_free(s);     /* changed in memory, maybe not on disk */
	return rc;
}

int pin_store_update(struct pin_store *st, const char *server, pin_update_fn fn, void *ctx,
		     struct pin_server **out, struct mg_err *err)
{
	struct pin_server *s = NULL;
	int rc = pin_store_update_cached(st, server, &s, fn, ctx, err);

	if (out)
		*out = s;
	else
		pin_server_free(s);
	return rc;
}

int pin_store_remove(struct pin_store *st, const char *server, struct mg_err *err)
{
	char *path;
	int lock, rc = 0;

	if (!pin_server_name_ok(server))
		return mg_err_set(err, -EINVAL, "'%s' is not a server name", server ? server : "");
	if ((lock = lock_store(st, err)) < 0)
		return lock;
	path = pin_store_path(st, server);
	if (unlink(path) < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			mg_err_set(err, rc, "no pins for server '%s' in %s", server, st->dir);
		else
			mg_err_set(err, rc, "pin file %s: cannot remove it: %s", path, strerror(-rc));
	} else {
		remove_stale(st, server);
		sync_dir(st->dir);
	}
	free(path);
	close(lock);
	return rc;
}

static int strv_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int pin_store_servers(struct pin_store *st, char ***out, struct mg_err *err)
{
	char **v = mg_calloc(1, sizeof(char *));
	DIR *d = opendir(st->dir);
	struct dirent *e;

	*out = NULL;
	if (!d) {
		int rc = -errno;

		if (rc == -ENOENT) {
			*out = v;
			return 0;
		}
		mg_strv_free(v);
		return mg_err_set(err, rc, "pin store %s: %s", st->dir, strerror(-rc));
	}
	while ((e = readdir(d))) {
		char name[256];
		size_t n = strlen(e->d_name);

		if (n <= 5 || !mg_ends_with(e->d_name, ".json") || n - 5 >= sizeof(name))
			continue;
		memcpy(name, e->d_name, n - 5);
		name[n - 5] = '\0';
		if (pin_server_name_ok(name))
			v = mg_strv_push(v, name);
	}
	closedir(d);
	qsort(v, mg_strv_len(v), sizeof(char *), strv_cmp);
	*out = v;
	return 0;
}
