/* Catalog loader: Docker's catalog YAML read through libyaml's document API
 * and walked by a schema of our own (docs/catalog.md has every field).
 *
 * A load runs in three steps over the same text:
 *   1. prescan: libyaml's event parser checks syntax and refuses anchors,
 *      aliases, custom tags, NUL bytes in strings, deep nesting and huge node
 *      counts, before any tree is built (aliases are the billion-laughs
 *      vector: a 1 KiB file can name 10^9 nodes through them);
 *   2. yaml_parser_load builds the node tree;
 *   3. the walker turns it into struct cat_server values in a private
 *      catalog, which is merged into the caller's only when everything was
 *      valid, so a failed load never leaves a half-updated catalog. */
#include "catalog/catalog.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/map.h"
#include "base/mem.h"
#include "base/str.h"

#define CAT_MAX_BYTES ((size_t)4 << 20)
/* Real catalogs nest about 6 deep (registry > server > tools > item >
 * annotations); the cap only stops pathological input. */
#define CAT_MAX_DEPTH 64
/* Docker's full catalog, tool metadata included, is well under 10^5 nodes. */
#define CAT_MAX_NODES 1000000
#define CAT_NAME_MAX 64
#define YAML_STD_TAG "tag:yaml.org,2002:"

struct loader {
	const char *origin;
	const unsigned char *text;
	size_t len;
	struct mg_err *err;
	yaml_document_t doc;
	struct catalog out;     /* servers of this text only */
};

/* One server entry while its keys are read. */
struct entry {
	struct loader *ld;
	struct cat_server *s;
	yaml_node_t *key;       /* the server-name node, for messages */
	bool long_lived;
	bool lifecycle_given;
	bool remote;            /* type remote/poci, remote: or sseEndpoint: (no
				 * command of its own) */
	bool warned_template;
};

/* ---- messages ---- */

/* Copy s for a message, replacing control bytes (a catalog from elsewhere
 * must not be able to send escape sequences to the terminal) and cutting
 * long text. */
static const char *printable(char *dst, size_t size, const char *s)
{
	size_t i = 0;

	for (; s[i] && i + 4 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		dst[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	if (s[i]) {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
	return dst;
}

static int failv(struct loader *ld, const yaml_mark_t *m, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
static int failv(struct loader *ld, const yaml_mark_t *m, int code, const char *fmt, va_list ap)
{
	char msg[400];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* libyaml counts lines and columns from 0; editors count from 1. */
	return mg_err_set(ld->err, code, "%s:%zu:%zu: %s", ld->origin, m->line + 1,
			  m->column + 1, msg);
}

static int fail_mark(struct loader *ld, const yaml_mark_t *m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail_mark(struct loader *ld, const yaml_mark_t *m, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = failv(ld, m, -EINVAL, fmt, ap);
	va_end(ap);
	return rc;
}

static int fail(struct loader *ld, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct loader *ld, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = failv(ld, &n->start_mark, -EINVAL, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- nodes ---- */

static yaml_node_t *node_at(struct loader *ld, yaml_node_item_t i)
{
	return yaml_document_get_node(&ld->doc, i);
}

static const char *sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE)
		return false;
	if (mg_streq((const char *)n->tag, YAML_NULL_TAG))
		return true;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = sval(n);
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

static bool is_string(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && !is_null(n);
}

static const char *kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return is_null(n) ? "nothing" : "a single value";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_NO_NODE:
	default:
		return "nothing";
	}
}

static size_t n_items(const yaml_node_t *seq)
{
	return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

static size_t n_pairs(const yaml_node_t *map)
{
	return (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
}

/* YAML 1.1 booleans, which Docker's catalogs (read by Go's yaml) may use.
 * Quoted text is a string in YAML, so "yes" in quotes is not a boolean. */
static int parse_bool(const yaml_node_t *n, bool *out)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES",
					   "on",   "On",   "ON",   "y",   "Y" };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO",
					  "off",   "Off",   "OFF",   "n",  "N" };

	if (n->type != YAML_SCALAR_NODE ||
	    (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE &&
	     !mg_streq((const char *)n->tag, YAML_BOOL_TAG)))
		return -EINVAL;
	for (size_t i = 0; i < MG_ARRAY_LEN(yes); i++) {
		if (!strcmp(sval(n), yes[i]) || !strcmp(sval(n), no[i])) {
			*out = !strcmp(sval(n), yes[i]);
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- step 1: prescan with the event parser ---- */

/* Whether line (0-based) is indented with a tab.  libyaml's marks count
 * characters, not bytes, so the line is found by counting newlines. */
static bool tab_indent(const struct loader *ld, size_t line)
{
	size_t i = 0;

	for (size_t l = 0; l < line && i < ld->len; i++)
		if (ld->text[i] == '\n')
			l++;
	for (; i < ld->len && (ld->text[i] == ' ' || ld->text[i] == '\t'); i++)
		if (ld->text[i] == '\t')
			return true;
	return false;
}

static int syntax_error(struct loader *ld, const yaml_parser_t *p)
{
	yaml_mark_t m = p->problem_mark;
	const char *hint;

	if (p->error == YAML_MEMORY_ERROR)
		return mg_err_set(ld->err, -ENOMEM, "%s: out of memory while parsing YAML",
				  ld->origin);
	if (p->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset, not a mark: count lines. */
		m.line = m.column = 0;
		for (size_t i = 0; i < p->problem_offset && i < ld->len; i++) {
			m.column++;
			if (ld->text[i] == '\n') {
				m.line++;
				m.column = 0;
			}
		}
		if (p->problem_value < 0)
			return fail_mark(ld, &m, "invalid YAML text: %s; a catalog is UTF-8",
					 p->problem ? p->problem : "bad input");
		return fail_mark(ld, &m, "invalid YAML text: %s (0x%x); a catalog is UTF-8",
				 p->problem ? p->problem : "bad input", (unsigned)p->problem_value);
	}
	/* The commonest mistake gets a plain hint: libyaml only says the
	 * character "cannot start any token". */
	hint = tab_indent(ld, m.line) ? "; YAML does not allow tabs for indentation" : "";
	if (p->context)
		return fail_mark(ld, &m, "YAML syntax error: %s (%s at line %zu, column %zu)%s",
				 p->problem ? p->problem : "invalid YAML", p->context,
				 p->context_mark.line + 1, p->context_mark.column + 1, hint);
	return fail_mark(ld, &m, "YAML syntax error: %s%s", p->problem ? p->problem : "invalid YAML",
			 hint);
}

/* Only YAML's own core tags (!!str, !!int, ...): anything else asks for a
 * type we would not honour. */
static bool tag_allowed(const yaml_char_t *tag)
{
	static const char *const ok[] = { "str", "int", "bool", "float", "null", "seq", "map" };
	const char *t = (const char *)tag;

	if (!t)
		return true;
	if (!mg_starts_with(t, YAML_STD_TAG))
		return false;
	for (size_t i = 0; i < MG_ARRAY_LEN(ok); i++)
		if (!strcmp(t + strlen(YAML_STD_TAG), ok[i]))
			return true;
	return false;
}

struct scan_state {
	int depth;
	int docs;
	size_t nodes;
};

static int check_node_event(struct loader *ld, const yaml_event_t *ev, const yaml_char_t *anchor,
			    const yaml_char_t *tag)
{
	char buf[CAT_NAME_MAX + 4];

	if (anchor)
		return fail_mark(ld, &ev->start_mark,
				 "anchors (&%s) are not allowed in a catalog; write the value out",
				 printable(buf, sizeof(buf), (const char *)anchor));
	if (!tag_allowed(tag))
		return fail_mark(ld, &ev->start_mark,
				 "tag '%s' is not allowed in a catalog; only YAML's standard tags "
				 "(!!str, !!int, !!bool, ...) are",
				 printable(buf, sizeof(buf), (const char *)tag));
	return 0;
}

static int check_event(struct loader *ld, const yaml_event_t *ev, struct scan_state *st)
{
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return fail_mark(ld, &ev->start_mark,
				 "aliases (*name) are not allowed in a catalog; write the value out");
	case YAML_SCALAR_EVENT:
		/* An escaped \0 would silently cut a C string (an argument, say) short. */
		if (strlen((const char *)ev->data.scalar.value) != ev->data.scalar.length)
			return fail_mark(ld, &ev->start_mark, "strings must not contain NUL bytes");
		st->nodes++;
		return check_node_event(ld, ev, ev->data.scalar.anchor, ev->data.scalar.tag);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (++st->depth > CAT_MAX_DEPTH)
			return fail_mark(ld, &ev->start_mark, "nesting deeper than %d levels",
					 CAT_MAX_DEPTH);
		st->nodes++;
		if (ev->type == YAML_SEQUENCE_START_EVENT)
			return check_node_event(ld, ev, ev->data.sequence_start.anchor,
						ev->data.sequence_start.tag);
		return check_node_event(ld, ev, ev->data.mapping_start.anchor,
					ev->data.mapping_start.tag);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		st->depth--;
		return 0;
	case YAML_DOCUMENT_START_EVENT:
		if (++st->docs > 1)
			return fail_mark(ld, &ev->start_mark,
					 "a catalog is one YAML document; found a second one");
		return 0;
	case YAML_NO_EVENT:
	case YAML_STREAM_START_EVENT:
	case YAML_STREAM_END_EVENT:
	case YAML_DOCUMENT_END_EVENT:
	default:
		return 0;
	}
}

static int prescan(struct loader *ld)
{
	struct scan_state st = { 0 };
	yaml_parser_t p;
	yaml_event_t ev;
	bool end = false;
	int rc = 0;

	if (!yaml_parser_initialize(&p))
		return mg_err_set(ld->err, -ENOMEM, "%s: out of memory", ld->origin);
	yaml_parser_set_input_string(&p, ld->text, ld->len);
	while (!end && !rc) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = syntax_error(ld, &p);
			break;
		}
		rc = check_event(ld, &ev, &st);
		if (!rc && st.nodes > CAT_MAX_NODES)
			rc = fail_mark(ld, &ev.start_mark, "more than %d YAML nodes", CAT_MAX_NODES);
		end = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return rc;
}

/* ---- names ---- */

/* Server names become tool-name prefixes joined with "__", so "__" inside a
 * name, or a trailing '_' (name "a_" + tool "b" = "a___b"), would make the
 * split of a prefixed name ambiguous. */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CAT_NAME_MAX || strstr(s, "__") || s[n - 1] == '_')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return false;
	}
	return true;
}

/* Environment names: anything execve accepts, i.e. non-empty without '='. */
static bool env_name_ok(const char *s)
{
	return *s && !strchr(s, '=');
}

/* ---- servers ---- */

static void env_release(struct cat_env *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
}

static void server_release(struct cat_server *s)
{
	free(s->name);
	free(s->title);
	free(s->description);
	free(s->image);
	mg_strv_free(s->command);
	env_release(s->env, s->n_env);
	for (size_t i = 0; i < s->n_secrets; i++) {
		free(s->secrets[i].name);
		free(s->secrets[i].env);
	}
	free(s->secrets);
	mg_strv_free(s->tools);
	free(s->prefix);
	free(s->cwd);
	free(s->source);
	free(s->remote_url);
	mg_strv_free(s->remote_headers);
	mg_strv_free(s->volumes);
	mg_strv_free(s->allow_hosts);
	memset(s, 0, sizeof(*s));
}

/* Walk a mapping: keys must be plain values and appear once (libyaml
 * accepts duplicates; Go's yaml, hence Docker, rejects them, and "last one
 * wins" would hide a mistake). where prefixes messages. */
typedef int (*pair_fn)(void *ctx, yaml_node_t *key, yaml_node_t *val);

static int each_pair(struct loader *ld, yaml_node_t *map, const char *where, pair_fn fn,
		     void *ctx)
{
	char buf[CAT_NAME_MAX + 4];
	struct mg_map seen;
	int rc = 0;

	mg_map_init(&seen);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top && !rc; p++) {
		yaml_node_t *k = node_at(ld, p->key), *v = node_at(ld, p->value);
		yaml_node_t *first;

		if (!is_string(k)) {
			rc = fail(ld, k, "%sexpected a key name, found %s", where, kind(k));
			break;
		}
		first = mg_map_gets(&seen, sval(k));
		if (first) {
			rc = fail(ld, k, "%skey '%s' appears twice (first at line %zu)", where,
				  printable(buf, sizeof(buf), sval(k)), first->start_mark.line + 1);
			break;
		}
		mg_map_puts(&seen, sval(k), k);
		rc = fn(ctx, k, v);
	}
	mg_map_release(&seen);
	return rc;
}

static void warn_key(struct entry *e, const yaml_node_t *k, const char *what)
{
	char buf[CAT_NAME_MAX + 4];

	mg_warn("%s:%zu: server %s: key '%s' %s", e->ld->origin, k->start_mark.line + 1,
		e->s->name, printable(buf, sizeof(buf), sval(k)), what);
}

/* Docker expands {{server.key}} from user config; we pass text unchanged,
 * which a server would receive literally, so say so once per server. */
static void check_template(struct entry *e, const yaml_node_t *n, const char *field)
{
	if (e->warned_template || !strstr(sval(n), "{{"))
		return;
	e->warned_template = true;
	mg_warn("%s:%zu: server %s: '%s' uses a Docker template ({{...}}), which mcpguard "
		"does not expand; the text is passed as is",
		e->ld->origin, n->start_mark.line + 1, e->s->name, field);
}

static int f_string(struct entry *e, yaml_node_t *v, const char *key, char **dst)
{
	if (!is_string(v))
		return fail(e->ld, v, "server '%s': '%s' must be a string, found %s", e->s->name,
			    key, kind(v));
	*dst = mg_strdup(sval(v));
	return 0;
}

static int f_duration(struct entry *e, yaml_node_t *v, const char *key, uint64_t *dst)
{
	char buf[CAT_NAME_MAX + 4];

	if (!is_string(v))
		return fail(e->ld, v, "server '%s': '%s' must be a duration such as 60s or 500ms, "
			    "found %s", e->s->name, key, kind(v));
	if (mg_parse_duration_ms(sval(v), dst))
		return fail(e->ld, v, "server '%s': '%s' must be a duration such as 60s, 500ms, "
			    "2m or 1h, not '%s'", e->s->name, key,
			    printable(buf, sizeof(buf), sval(v)));
	return 0;
}

static int f_command(struct entry *e, yaml_node_t *v)
{
	size_t n = 0;

	if (v->type != YAML_SEQUENCE_NODE)
		return fail(e->ld, v, "server '%s': 'command' must be a list of strings "
			    "(program first), found %s", e->s->name, kind(v));
	if (n_items(v) == 0)
		return 0; /* as if absent: the no-command check decides */
	e->s->command = mg_calloc(n_items(v) + 1, sizeof(char *));
	for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top;
	     i++) {
		yaml_node_t *a = node_at(e->ld, *i);

		if (!is_string(a))
			return fail(e->ld, a, "server '%s': 'command' must be a list of strings, "
				    "found %s in it", e->s->name, kind(a));
		if (n == 0 && !*sval(a))
			return fail(e->ld, a, "server '%s': the first element of 'command' (the "
				    "program) is empty", e->s->name);
		check_template(e, a, "command");
		e->s->command[n++] = mg_strdup(sval(a));
	}
	return 0;
}

static int add_env(struct entry *e, struct mg_map *seen, yaml_node_t *at, const char *name,
		   yaml_node_t *val)
{
	char buf[CAT_NAME_MAX + 4];
	struct cat_env *d;

	if (!env_name_ok(name))
		return fail(e->ld, at, "server '%s': environment variable name '%s' is empty or "
			    "contains '='", e->s->name, printable(buf, sizeof(buf), name));
	if (mg_map_gets(seen, name))
		return fail(e->ld, at, "server '%s': environment variable '%s' is set twice",
			    e->s->name, printable(buf, sizeof(buf), name));
	if (val && val->type != YAML_SCALAR_NODE)
		return fail(e->ld, val, "server '%s': the value of environment variable '%s' "
			    "must be a string, found %s", e->s->name,
			    printable(buf, sizeof(buf), name), kind(val));
	mg_map_puts(seen, name, e);
	d = &e->s->env[e->s->n_env++];
	d->name = mg_strdup(name);
	/* A null value (VAR: with nothing after it) is the empty string. */
	d->value = mg_strdup(val && !is_null(val) ? sval(val) : "");
	if (val && *d->value)
		check_template(e, val, "env");
	return 0;
}

struct env_map_ctx {
	struct entry *e;
	struct mg_map *seen;
};

static int env_map_pair(void *ctx, yaml_node_t *k, yaml_node_t *v)
{
	struct env_map_ctx *c = ctx;

	return add_env(c->e, c->seen, k, sval(k), v);
}

/* Docker's form: - {name: NAME, value: VALUE} */
static int env_item(struct entry *e, struct mg_map *seen, yaml_node_t *it)
{
	yaml_node_t *name = NULL, *value = NULL;

	if (it->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = it->data.mapping.pairs.start;
		     p < it->data.mapping.pairs.top; p++) {
			yaml_node_t *k = node_at(e->ld, p->key);

			if (is_string(k) && !strcmp(sval(k), "name"))
				name = node_at(e->ld, p->value);
			else if (is_string(k) && !strcmp(sval(k), "value"))
				value = node_at(e->ld, p->value);
		}
	}
	if (!name || !is_string(name))
		return fail(e->ld, it, "server '%s': each 'env' entry must be a mapping with "
			    "'name' (a string) and 'value'", e->s->name);
	return add_env(e, seen, name, sval(name), value);
}

static int f_env(struct entry *e, yaml_node_t *v)
{
	struct mg_map seen;
	int rc = 0;

	if (v->type == YAML_SCALAR_NODE)
		return fail(e->ld, v, "server '%s': 'env' must be a list of {name, value} or a "
			    "mapping NAME: value, found %s", e->s->name, kind(v));
	mg_map_init(&seen);
	if (v->type == YAML_MAPPING_NODE) {
		struct env_map_ctx c = { e, &seen };
		char where[CAT_NAME_MAX + 16];

		snprintf(where, sizeof(where), "server '%s': ", e->s->name);
		e->s->env = mg_calloc(n_pairs(v) + 1, sizeof(*e->s->env));
		rc = each_pair(e->ld, v, where, env_map_pair, &c);
	} else {
		e->s->env = mg_calloc(n_items(v) + 1, sizeof(*e->s->env));
		for (yaml_node_item_t *i = v->data.sequence.items.start;
		     i < v->data.sequence.items.top && !rc; i++)
			rc = env_item(e, &seen, node_at(e->ld, *i));
	}
	mg_map_release(&seen);
	return rc;
}

/* Pick name and env out of one `secrets:` item; example and description are
 * documentation; anything else gets a warning. */
static int secret_keys(struct entry *e, yaml_node_t *it, yaml_node_t **name, yaml_node_t **env)
{
	for (yaml_node_pair_t *p = it->data.mapping.pairs.start; p < it->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node_at(e->ld, p->key);

		if (!is_string(k))
			return fail(e->ld, k, "server '%s': expected a key name in 'secrets', "
				    "found %s", e->s->name, kind(k));
		if (!strcmp(sval(k), "name"))
			*name = node_at(e->ld, p->value);
		else if (!strcmp(sval(k), "env"))
			*env = node_at(e->ld, p->value);
		else if (strcmp(sval(k), "example") && strcmp(sval(k), "description"))
			warn_key(e, k, "in 'secrets' is unknown and is ignored");
	}
	return 0;
}

static int secret_item(struct entry *e, yaml_node_t *it)
{
	yaml_node_t *name = NULL, *env = NULL;
	struct cat_secret *d;
	int rc;

	if (it->type != YAML_MAPPING_NODE)
		return fail(e->ld, it, "server '%s': each 'secrets' entry must be a mapping with "
			    "'name' and 'env', found %s", e->s->name, kind(it));
	rc = secret_keys(e, it, &name, &env);
	if (rc)
		return rc;
	if (!name || !is_string(name) || !*sval(name))
		return fail(e->ld, it, "server '%s': a 'secrets' entry needs 'name' (the secret, "
			    "e.g. github.personal_access_token)", e->s->name);
	if (!env || !is_string(env) || !env_name_ok(sval(env)))
		return fail(e->ld, it, "server '%s': a 'secrets' entry needs 'env' (the variable "
			    "to pass the secret in: a name without '=')", e->s->name);
	d = &e->s->secrets[e->s->n_secrets++];
	d->name = mg_strdup(sval(name));
	d->env = mg_strdup(sval(env));
	return 0;
}

static int f_secrets(struct entry *e, yaml_node_t *v)
{
	int rc = 0;

	if (v->type != YAML_SEQUENCE_NODE)
		return fail(e->ld, v, "server '%s': 'secrets' must be a list of {name, env}, "
			    "found %s", e->s->name, kind(v));
	e->s->secrets = mg_calloc(n_items(v) + 1, sizeof(*e->s->secrets));
	for (yaml_node_item_t *i = v->data.sequence.items.start;
	     i < v->data.sequence.items.top && !rc; i++)
		rc = secret_item(e, node_at(e->ld, *i));
	return rc;
}

/* The name of one `tools:` item: a plain name, or Docker's tool object. */
static yaml_node_t *tool_name(struct entry *e, yaml_node_t *it)
{
	if (is_string(it))
		return it;
	if (it->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = it->data.mapping.pairs.start; p < it->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node_at(e->ld, p->key);

		if (is_string(k) && !strcmp(sval(k), "name"))
			return node_at(e->ld, p->value);
	}
	return NULL;
}

static int f_tools(struct entry *e, yaml_node_t *v)
{
	size_t n = 0;

	if (v->type != YAML_SEQUENCE_NODE)
		return fail(e->ld, v, "server '%s': 'tools' must be a list of tool names or "
			    "{name: ...} objects, found %s", e->s->name, kind(v));
	/* An empty list says nothing about the tools (Docker writes tools: [] for
	 * servers whose tools it has not listed), so it does not hide them all. */
	if (n_items(v) == 0)
		return 0;
	e->s->tools = mg_calloc(n_items(v) + 1, sizeof(char *));
	for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top;
	     i++) {
		yaml_node_t *it = node_at(e->ld, *i), *name = tool_name(e, it);

		if (!name || !is_string(name) || !*sval(name))
			return fail(e->ld, it, "server '%s': each 'tools' entry must be a tool "
				    "name or a mapping with 'name'", e->s->name);
		e->s->tools[n++] = mg_strdup(sval(name));
	}
	return 0;
}

/* A list of non-empty strings (a single string is taken as a list of one). */
static int f_string_list(struct entry *e, yaml_node_t *v, const char *key, char ***dst)
{
	if (is_string(v) && *sval(v)) {
		*dst = mg_strv_push(mg_calloc(1, sizeof(char *)), sval(v));
		return 0;
	}
	if (v->type != YAML_SEQUENCE_NODE)
		return fail(e->ld, v, "server '%s': '%s' must be a list of strings, found %s",
			    e->s->name, key, kind(v));
	mg_strv_free(*dst);
	*dst = mg_calloc(1, sizeof(char *));
	for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top;
	     i++) {
		yaml_node_t *a = node_at(e->ld, *i);

		if (!is_string(a) || !*sval(a))
			return fail(e->ld, a, "server '%s': '%s' must be a list of non-empty "
				    "strings, found %s in it", e->s->name, key, kind(a));
		check_template(e, a, key);
		*dst = mg_strv_push(*dst, sval(a));
	}
	return 0;
}

/* host:inside[:ro|rw]; the host side is checked when the gateway starts
 * (it may not exist yet when the catalog is written). */
static int f_volumes(struct entry *e, yaml_node_t *v)
{
	int rc = f_string_list(e, v, "volumes", &e->s->volumes);

	for (size_t i = 0; !rc && e->s->volumes[i]; i++) {
		const char *x = e->s->volumes[i], *c = strchr(x, ':');

		if (strstr(x, "{{"))
			continue;       /* a template: refused when the server starts */
		if (!c || c == x || c[1] != '/' || (x[0] != '/' && x[0] != '~'))
			return fail(e->ld, v, "server '%s': volume '%s' must be host:inside[:ro|rw] "
				    "with absolute paths (named volumes need Docker)", e->s->name, x);
	}
	return rc;
}

/* Docker's host:port[/http|/https|/tcp]: every kind goes through the
 * gateway's proxy (HTTP CONNECT carries TLS and plain TCP alike). */
static int f_allow_hosts(struct entry *e, yaml_node_t *v)
{
	int rc = f_string_list(e, v, "allowHosts", &e->s->allow_hosts);

	for (size_t i = 0; !rc && e->s->allow_hosts[i]; i++) {
		char *x = e->s->allow_hosts[i], *slash = strrchr(x, '/');

		if (slash && (!strcmp(slash, "/http") || !strcmp(slash, "/https") ||
			      !strcmp(slash, "/tcp")))
			*slash = '\0';
		if (!strrchr(x, ':'))
			return fail(e->ld, v, "server '%s': allowHosts entry '%s' needs a port "
				    "(host:port)", e->s->name, x);
	}
	return rc;
}

static int f_disable_network(struct entry *e, yaml_node_t *v)
{
	if (parse_bool(v, &e->s->disable_network))
		return fail(e->ld, v, "server '%s': 'disableNetwork' must be true or false",
			    e->s->name);
	return 0;
}

static int f_sandbox(struct entry *e, yaml_node_t *v)
{
	bool on;

	if (parse_bool(v, &on))
		return fail(e->ld, v, "server '%s': 'sandbox' must be true or false", e->s->name);
	e->s->unsandboxed = !on;
	return 0;
}

static int f_memory(struct entry *e, yaml_node_t *v)
{
	if (!is_string(v) || mg_parse_size(sval(v), &e->s->memory_bytes) ||
	    e->s->memory_bytes < (16u << 20))
		return fail(e->ld, v, "server '%s': 'memory' must be a size of at least 16m, such "
			    "as 512m or 2g", e->s->name);
	return 0;
}

static int f_cpus(struct entry *e, yaml_node_t *v)
{
	char *end = NULL;

	if (is_string(v))
		e->s->cpus = strtod(sval(v), &end);
	if (!end || *end || !(e->s->cpus >= 0.01 && e->s->cpus <= 1024))
		return fail(e->ld, v, "server '%s': 'cpus' must be a number of CPUs such as 1 "
			    "or 0.5", e->s->name);
	return 0;
}

static int f_pids(struct entry *e, yaml_node_t *v)
{
	uint64_t n = 0;

	if (!is_string(v) || mg_parse_u64(sval(v), &n) || n < 8 || n > 1000000)
		return fail(e->ld, v, "server '%s': 'pids' must be a number of processes and "
			    "threads from 8 to 1000000", e->s->name);
	e->s->pids = (unsigned)n;
	return 0;
}

static int f_long_lived(struct entry *e, yaml_node_t *v)
{
	if (parse_bool(v, &e->long_lived))
		return fail(e->ld, v, "server '%s': 'longLived' must be true or false",
			    e->s->name);
	return 0;
}

static int f_lifecycle(struct entry *e, yaml_node_t *v)
{
	static const enum cat_lifecycle all[] = { CAT_PER_SESSION, CAT_PER_CALL, CAT_SHARED };

	for (size_t i = 0; is_string(v) && i < MG_ARRAY_LEN(all); i++) {
		if (!strcmp(sval(v), cat_lifecycle_name(all[i]))) {
			e->s->lifecycle = all[i];
			e->lifecycle_given = true;
			return 0;
		}
	}
	return fail(e->ld, v, "server '%s': 'lifecycle' must be per-session, per-call or shared",
		    e->s->name);
}

static int f_type(struct entry *e, yaml_node_t *v)
{
	if (is_string(v) && !strcmp(sval(v), "server"))
		return 0;
	if (is_string(v) && !strcmp(sval(v), "remote")) {
		e->remote = true;
		return 0;
	}
	if (is_string(v) && !strcmp(sval(v), "poci")) {
		e->remote = true;
		mg_warn("%s:%zu: server %s: type 'poci' is not supported yet; the server cannot be "
			"started", e->ld->origin, v->start_mark.line + 1, e->s->name);
		return 0;
	}
	return fail(e->ld, v, "server '%s': 'type' must be server, remote or poci", e->s->name);
}

static int f_prefix(struct entry *e, yaml_node_t *v)
{
	char buf[CAT_NAME_MAX + 4];

	if (!is_string(v))
		return fail(e->ld, v, "server '%s': 'prefix' must be a string, found %s",
			    e->s->name, kind(v));
	if (!name_ok(sval(v)))
		return fail(e->ld, v, "server '%s': 'prefix' '%s' is not valid: use 1-64 letters, "
			    "digits, '_', '.' or '-', starting with a letter or digit, without '__' "
			    "or a trailing '_' (tool names are joined to it with '__')",
			    e->s->name, printable(buf, sizeof(buf), sval(v)));
	e->s->prefix = mg_strdup(sval(v));
	return 0;
}

static int f_image(struct entry *e, yaml_node_t *v)
{
	return f_string(e, v, "image", &e->s->image);
}

static int f_title(struct entry *e, yaml_node_t *v)
{
	return f_string(e, v, "title", &e->s->title);
}

static int f_description(struct entry *e, yaml_node_t *v)
{
	return f_string(e, v, "description", &e->s->description);
}

static int f_cwd(struct entry *e, yaml_node_t *v)
{
	return f_string(e, v, "cwd", &e->s->cwd);
}

static int f_timeout(struct entry *e, yaml_node_t *v)
{
	return f_duration(e, v, "timeout", &e->s->timeout_ms);
}

static int f_startup_timeout(struct entry *e, yaml_node_t *v)
{
	return f_duration(e, v, "startupTimeout", &e->s->startup_timeout_ms);
}

/* Docker calls a server remote when it has remote.url or sseEndpoint, with
 * or without type: remote; such an entry needs no command. */
static int remote_url(struct entry *e, yaml_node_t *v)
{
	const char *u;

	if (!is_string(v))
		return fail(e->ld, v, "server '%s': the remote url must be a string, found %s",
			    e->s->name, kind(v));
	u = sval(v);
	if (!mg_starts_with(u, "https://") && !mg_starts_with(u, "http://"))
		return fail(e->ld, v, "server '%s': the remote url must start with https:// "
			    "(or http://)", e->s->name);
	free(e->s->remote_url);
	e->s->remote_url = mg_strdup(u);
	e->remote = true;
	return 0;
}

static int remote_transport(struct entry *e, yaml_node_t *v)
{
	static const char *const streamable[] = { "http", "streamable", "streaming",
						  "streamable-http" };

	if (is_string(v) && strcmp(sval(v), "sse") == 0) {
		e->s->remote_sse = true;
		return 0;
	}
	for (size_t i = 0; is_string(v) && i < MG_ARRAY_LEN(streamable); i++)
		if (strcmp(sval(v), streamable[i]) == 0)
			return 0;
	return fail(e->ld, v, "server '%s': 'transport_type' must be sse, http, streamable, "
		    "streaming or streamable-http", e->s->name);
}

static int remote_header(void *ctx, yaml_node_t *k, yaml_node_t *v)
{
	struct entry *e = ctx;
	struct mg_buf b;

	if (!is_string(v))
		return fail(e->ld, v, "server '%s': remote header '%s' must be a string",
			    e->s->name, sval(k));
	mg_buf_init(&b, 16384);
	mg_buf_addf(&b, "%s: %s", sval(k), sval(v));
	if (!e->s->remote_headers)
		e->s->remote_headers = mg_calloc(1, sizeof(char *));
	e->s->remote_headers = mg_strv_push(e->s->remote_headers, b.data);
	mg_buf_release(&b);
	return 0;
}

static int remote_pair(void *ctx, yaml_node_t *k, yaml_node_t *v)
{
	struct entry *e = ctx;
	char where[CAT_NAME_MAX + 32];

	if (is_null(v))
		return 0;
	if (!strcmp(sval(k), "url"))
		return remote_url(e, v);
	if (!strcmp(sval(k), "transport_type"))
		return remote_transport(e, v);
	if (!strcmp(sval(k), "headers")) {
		if (v->type != YAML_MAPPING_NODE)
			return fail(e->ld, v, "server '%s': remote 'headers' must be a mapping "
				    "Name: value", e->s->name);
		snprintf(where, sizeof(where), "server '%s': remote headers: ", e->s->name);
		return each_pair(e->ld, v, where, remote_header, e);
	}
	warn_key(e, k, "is unknown in 'remote' and is ignored");
	return 0;
}

static int f_remote(struct entry *e, yaml_node_t *v)
{
	char where[CAT_NAME_MAX + 16];

	if (v->type != YAML_MAPPING_NODE)
		return fail(e->ld, v, "server '%s': 'remote' must be a mapping {url, "
			    "transport_type, headers}", e->s->name);
	snprintf(where, sizeof(where), "server '%s': ", e->s->name);
	return each_pair(e->ld, v, where, remote_pair, e);
}

/* Docker's older spelling of a remote server over legacy SSE. */
static int f_sse_endpoint(struct entry *e, yaml_node_t *v)
{
	e->s->remote_sse = true;
	return remote_url(e, v);
}

enum field_kind {
	FK_READ,        /* read by fn */
	FK_QUIET,       /* Docker's descriptive keys: accepted without a word */
	FK_LATER,       /* Docker keys that change behaviour and we do not act on
			 * yet: a warning (fn, if any, only notes the key) */
};

struct field {
	const char *key;
	enum field_kind kind;
	int (*fn)(struct entry *e, yaml_node_t *v);
};

static const struct field fields[] = {
	{ "command", FK_READ, f_command },
	{ "env", FK_READ, f_env },
	{ "secrets", FK_READ, f_secrets },
	{ "longLived", FK_READ, f_long_lived },
	{ "prefix", FK_READ, f_prefix },
	{ "tools", FK_READ, f_tools },
	{ "image", FK_READ, f_image },
	{ "title", FK_READ, f_title },
	{ "description", FK_READ, f_description },
	{ "type", FK_READ, f_type },
	{ "lifecycle", FK_READ, f_lifecycle },
	{ "timeout", FK_READ, f_timeout },
	{ "startupTimeout", FK_READ, f_startup_timeout },
	{ "cwd", FK_READ, f_cwd },
	{ "name", FK_QUIET, NULL },
	{ "icon", FK_QUIET, NULL },
	{ "readme", FK_QUIET, NULL },
	{ "metadata", FK_QUIET, NULL },
	{ "dateAdded", FK_QUIET, NULL },
	{ "ref", FK_QUIET, NULL },
	{ "toolsUrl", FK_QUIET, NULL },
	{ "source", FK_QUIET, NULL },
	{ "upstream", FK_QUIET, NULL },
	{ "example", FK_QUIET, NULL },
	{ "volumes", FK_READ, f_volumes },
	{ "allowHosts", FK_READ, f_allow_hosts },
	{ "disableNetwork", FK_READ, f_disable_network },
	{ "sandbox", FK_READ, f_sandbox },
	{ "memory", FK_READ, f_memory },
	{ "cpus", FK_READ, f_cpus },
	{ "pids", FK_READ, f_pids },
	{ "user", FK_LATER, NULL },
	{ "extraHosts", FK_LATER, NULL },
	{ "config", FK_LATER, NULL },
	{ "oauth", FK_LATER, NULL },
	{ "remote", FK_READ, f_remote },
	{ "sseEndpoint", FK_READ, f_sse_endpoint },
	{ "policy", FK_LATER, NULL },
};

static int entry_pair(void *ctx, yaml_node_t *k, yaml_node_t *v)
{
	struct entry *e = ctx;

	for (size_t i = 0; i < MG_ARRAY_LEN(fields); i++) {
		const struct field *f = &fields[i];

		if (strcmp(sval(k), f->key))
			continue;
		if (f->kind == FK_LATER)
			warn_key(e, k, "is not supported yet and is ignored");
		/* key: with nothing after it is YAML's null: the same as leaving it out. */
		if (!f->fn || is_null(v))
			return 0;
		return f->fn(e, v);
	}
	warn_key(e, k, "is unknown and is ignored");
	return 0;
}

static int finish_entry(struct entry *e)
{
	struct cat_server *s = e->s;

	if (e->lifecycle_given && e->long_lived && s->lifecycle != CAT_PER_SESSION)
		mg_warn("%s:%zu: server %s: 'lifecycle: %s' overrides 'longLived: true'",
			e->ld->origin, e->key->start_mark.line + 1, s->name,
			cat_lifecycle_name(s->lifecycle));
	/* longLived: false is Docker's default, not a request for per-call:
	 * it leaves the choice to the gateway. */
	if (!e->lifecycle_given && e->long_lived)
		s->lifecycle = CAT_PER_SESSION;
	s->lifecycle_set = e->lifecycle_given || e->long_lived;
	if (!s->command && !s->image && !e->remote)
		return fail(e->ld, e->key, "server '%s' has no command: give 'command:' (a list: "
			    "the program, then its arguments) or 'image:'", s->name);
	return 0;
}

static int check_server_name(struct loader *ld, yaml_node_t *k)
{
	char buf[CAT_NAME_MAX + 4];

	if (name_ok(sval(k)))
		return 0;
	return fail(ld, k, "server name '%s' is not valid: use 1-64 letters, digits, '_', '.' "
		    "or '-', starting with a letter or digit, without '__' or a trailing '_' "
		    "(tool names are joined to it with '__')",
		    printable(buf, sizeof(buf), sval(k)));
}

/* "file:line" of a node; the path may be long, hence a buffer of its own. */
static char *source_of(const struct loader *ld, const yaml_node_t *n)
{
	struct mg_buf b;

	mg_buf_init(&b, strlen(ld->origin) + 32);
	mg_buf_addf(&b, "%s:%zu", ld->origin, n->start_mark.line + 1);
	return mg_buf_detach(&b, NULL);
}

static int registry_pair(void *ctx, yaml_node_t *k, yaml_node_t *v)
{
	struct loader *ld = ctx;
	struct cat_server s = { 0 };
	struct entry e = { .ld = ld, .s = &s, .key = k };
	char where[CAT_NAME_MAX + 16];
	int rc;

	rc = check_server_name(ld, k);
	if (rc)
		return rc;
	if (v->type != YAML_MAPPING_NODE)
		return fail(ld, v, "server '%s': expected a mapping of fields (command:, "
			    "image:, ...), found %s", sval(k), kind(v));
	s.name = mg_strdup(sval(k));
	s.source = source_of(ld, k);
	snprintf(where, sizeof(where), "server '%s': ", s.name);
	rc = each_pair(ld, v, where, entry_pair, &e);
	if (!rc)
		rc = finish_entry(&e);
	if (rc) {
		server_release(&s);
		return rc;
	}
	/* Room for every pair was reserved in walk_root. */
	ld->out.servers[ld->out.n_servers++] = s;
	return 0;
}

struct root_ctx {
	yaml_node_t *registry;
};

static int root_pair(void *ctx, yaml_node_t *k, yaml_node_t *v)
{
	struct root_ctx *r = ctx;

	/* name, displayName, version, description...: about the catalog, not for us. */
	if (!strcmp(sval(k), "registry"))
		r->registry = v;
	return 0;
}

static int walk_root(struct loader *ld)
{
	yaml_node_t *root = yaml_document_get_root_node(&ld->doc);
	struct root_ctx r = { NULL };
	yaml_mark_t start = { 0 };
	int rc;

	if (!root)
		return fail_mark(ld, &start, "the catalog is empty: expected a mapping with "
				 "'registry:' (server name -> server entry)");
	if (root->type != YAML_MAPPING_NODE)
		return fail(ld, root, "expected a mapping with 'registry:' at the top level, "
			    "found %s", kind(root));
	rc = each_pair(ld, root, "", root_pair, &r);
	if (rc)
		return rc;
	if (!r.registry)
		return fail(ld, root, "no 'registry:' key: a catalog is a mapping with 'registry:' "
			    "(server name -> server entry)");
	if (is_null(r.registry))
		return 0;
	if (r.registry->type != YAML_MAPPING_NODE)
		return fail(ld, r.registry, "'registry' must be a mapping of server names to "
			    "server entries, found %s", kind(r.registry));
	ld->out.servers = mg_calloc(n_pairs(r.registry) + 1, sizeof(struct cat_server));
	return each_pair(ld, r.registry, "", registry_pair, ld);
}

/* ---- merge and the API ---- */

/* Docker's rule: a later catalog's entry replaces an earlier one of the same
 * name.  It keeps the earlier one's place, so listings stay stable.  Takes
 * the servers out of add. */
static void merge(struct catalog *c, struct catalog *add)
{
	struct mg_map index;    /* name -> position + 1 (positions survive realloc) */
	size_t n = c->n_servers;

	mg_map_init(&index);
	for (size_t i = 0; i < n; i++)
		mg_map_puts(&index, c->servers[i].name, (void *)(uintptr_t)(i + 1));
	c->servers = mg_realloc(c->servers, (n + add->n_servers + 1) * sizeof(*c->servers));
	for (size_t i = 0; i < add->n_servers; i++) {
		uintptr_t at = (uintptr_t)mg_map_gets(&index, add->servers[i].name);

		if (at) {
			server_release(&c->servers[at - 1]);
			c->servers[at - 1] = add->servers[i];
		} else {
			c->servers[c->n_servers++] = add->servers[i];
		}
	}
	free(add->servers);
	add->servers = NULL;
	add->n_servers = 0;
	mg_map_release(&index);
}

static int load_tree(struct loader *ld)
{
	yaml_parser_t p;
	int rc;

	if (!yaml_parser_initialize(&p))
		return mg_err_set(ld->err, -ENOMEM, "%s: out of memory", ld->origin);
	yaml_parser_set_input_string(&p, ld->text, ld->len);
	/* On failure libyaml frees the half-built document itself. */
	rc = yaml_parser_load(&p, &ld->doc) ? 0 : syntax_error(ld, &p);
	yaml_parser_delete(&p);
	if (rc)
		return rc;
	rc = walk_root(ld);
	yaml_document_delete(&ld->doc);
	return rc;
}

int catalog_load_string(struct catalog *c, const char *text, size_t len, const char *origin,
			struct mg_err *err)
{
	struct loader ld = { .origin = origin ? origin : "<string>",
			     .text = (const unsigned char *)text, .len = len, .err = err };
	int rc;

	if (len > CAT_MAX_BYTES)
		return mg_err_set(err, -EFBIG, "%s: the catalog is larger than the %zu MiB limit",
				  ld.origin, CAT_MAX_BYTES >> 20);
	catalog_init(&ld.out);
	rc = prescan(&ld);
	if (!rc)
		rc = load_tree(&ld);
	if (!rc)
		merge(c, &ld.out);
	catalog_release(&ld.out);
	return rc;
}

int catalog_load_file(struct catalog *c, const char *path, struct mg_err *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = mg_read_file(path, CAT_MAX_BYTES, &text, &len);
	if (rc == -EFBIG)
		return mg_err_set(err, rc, "%s: the catalog is larger than the %zu MiB limit", path,
				  CAT_MAX_BYTES >> 20);
	if (rc)
		return mg_err_set(err, rc, "%s: cannot read the catalog: %s", path, strerror(-rc));
	rc = catalog_load_string(c, text, len, path, err);
	free(text);
	return rc;
}

void catalog_init(struct catalog *c)
{
	c->servers = NULL;
	c->n_servers = 0;
}

static char **copy_strv(char **v)
{
	char **out = NULL;

	if (!v)
		return NULL;
	out = mg_calloc(1, sizeof(char *));
	for (size_t i = 0; v[i]; i++)
		out = mg_strv_push(out, v[i]);
	return out;
}

struct cat_server *cat_server_dup(const struct cat_server *s)
{
	struct cat_server *d = MG_NEW(struct cat_server);

	*d = *s;
	d->name = mg_strdup(s->name);
	d->title = s->title ? mg_strdup(s->title) : NULL;
	d->description = s->description ? mg_strdup(s->description) : NULL;
	d->image = s->image ? mg_strdup(s->image) : NULL;
	d->prefix = s->prefix ? mg_strdup(s->prefix) : NULL;
	d->cwd = s->cwd ? mg_strdup(s->cwd) : NULL;
	d->source = s->source ? mg_strdup(s->source) : NULL;
	d->command = copy_strv(s->command);
	d->remote_url = s->remote_url ? mg_strdup(s->remote_url) : NULL;
	d->remote_headers = copy_strv(s->remote_headers);
	d->tools = copy_strv(s->tools);
	d->volumes = copy_strv(s->volumes);
	d->allow_hosts = copy_strv(s->allow_hosts);
	d->env = mg_calloc(s->n_env ? s->n_env : 1, sizeof(*d->env));
	for (size_t i = 0; i < s->n_env; i++) {
		d->env[i].name = mg_strdup(s->env[i].name);
		d->env[i].value = s->env[i].value ? mg_strdup(s->env[i].value) : NULL;
	}
	d->secrets = mg_calloc(s->n_secrets ? s->n_secrets : 1, sizeof(*d->secrets));
	for (size_t i = 0; i < s->n_secrets; i++) {
		d->secrets[i].name = s->secrets[i].name ? mg_strdup(s->secrets[i].name) : NULL;
		d->secrets[i].env = s->secrets[i].env ? mg_strdup(s->secrets[i].env) : NULL;
	}
	return d;
}

void cat_server_free(struct cat_server *s)
{
	if (!s)
		return;
	server_release(s);
	free(s);
}

void catalog_release(struct catalog *c)
{
	for (size_t i = 0; i < c->n_servers; i++)
		server_release(&c->servers[i]);
	free(c->servers);
	catalog_init(c);
}

const struct cat_server *catalog_find(const struct catalog *c, const char *name)
{
	for (size_t i = 0; name && i < c->n_servers; i++)
		if (!strcmp(c->servers[i].name, name))
			return &c->servers[i];
	return NULL;
}

const char *cat_lifecycle_name(enum cat_lifecycle lc)
{
	switch (lc) {
	case CAT_PER_SESSION:
		return "per-session";
	case CAT_PER_CALL:
		return "per-call";
	case CAT_SHARED:
		return "shared";
	default:
		return "unknown";
	}
}
