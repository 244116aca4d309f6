#include "catalog/listcache.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/fs.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "json/jx.h"

#define LC_FORMAT 1
#define LC_MAX_FILE (64u << 20)

static void add_strv(json_t *o, const char *key, char *const *v)
{
	json_t *a = json_array();

	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	json_object_set_new(o, key, a);
}

void cat_server_digest(const struct cat_server *s, char out[65])
{
	unsigned char h[32];
	json_t *o = json_object(), *env = json_array(), *sec = json_array();
	char *text;
	size_t len;

	json_object_set_new(o, "name", json_string(s->name));
	add_strv(o, "command", s->command);
	for (size_t i = 0; i < s->n_env; i++)
		json_array_append_new(env, json_pack("[ss]", s->env[i].name,
						     s->env[i].value ? s->env[i].value : ""));
	json_object_set_new(o, "env", env);
	for (size_t i = 0; i < s->n_secrets; i++)
		json_array_append_new(sec, json_pack("[ss]", s->secrets[i].name ? s->secrets[i].name : "",
						     s->secrets[i].env ? s->secrets[i].env : ""));
	json_object_set_new(o, "secrets", sec);
	if (s->cwd)
		json_object_set_new(o, "cwd", json_string(s->cwd));
	if (s->image)
		json_object_set_new(o, "image", json_string(s->image));
	if (s->remote_url) {
		json_object_set_new(o, "remote", json_string(s->remote_url));
		json_object_set_new(o, "remote_sse", json_boolean(s->remote_sse));
		add_strv(o, "remote_headers", s->remote_headers);
	}
	/* JSON_SORT_KEYS makes the text canonical for our own input. */
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	len = strlen(text);
	crypto_generichash(h, sizeof(h), (const unsigned char *)text, len, NULL, 0);
	sodium_bin2hex(out, 65, h, sizeof(h));
	free(text);
	json_decref(o);
}

static int cache_path(char *buf, size_t size, const char *dir, const char *digest)
{
	int n = snprintf(buf, size, "%s/lists/%s.json", dir, digest);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

json_t *lc_load(const char *dir, const char *digest)
{
	char path[PATH_MAX];
	char *text = NULL;
	size_t len;
	json_t *v = NULL;
	json_error_t jerr;

	if (!dir || cache_path(path, sizeof(path), dir, digest))
		return NULL;
	if (mg_read_file(path, LC_MAX_FILE, &text, &len))
		return NULL;
	v = jx_parse(text, len, &jerr);
	free(text);
	if (!v || json_integer_value(json_object_get(v, "format")) != LC_FORMAT ||
	    !mg_streq(jx_str(v, "digest"), digest)) {
		mg_debug("ignoring unreadable list cache %s", path);
		json_decref(v);
		return NULL;
	}
	return v;
}

int lc_save(const char *dir, const char *digest, const json_t *view, mg_text_filter filter,
	    void *filter_ctx)
{
	char path[PATH_MAX], sub[PATH_MAX];
	json_t *copy;
	char *text;
	size_t len;
	int rc;

	if (!dir)
		return 0;
	if (cache_path(path, sizeof(path), dir, digest) ||
	    snprintf(sub, sizeof(sub), "%s/lists", dir) >= (int)sizeof(sub))
		return -ENAMETOOLONG;
	if ((rc = mg_mkdir_p(sub, 0700)))
		return rc;
	copy = json_deep_copy(view);
	json_object_set_new(copy, "format", json_integer(LC_FORMAT));
	json_object_set_new(copy, "digest", json_string(digest));
	text = jx_dump(copy, &len);
	if (filter) {
		struct mg_buf b;

		mg_buf_init(&b, LC_MAX_FILE);
		if (filter(filter_ctx, text, len, &b)) {
			free(text);
			text = mg_buf_detach(&b, &len);
		} else {
			mg_buf_release(&b);
		}
	}
	rc = mg_write_file_atomic(path, text, len, 0600);
	free(text);
	json_decref(copy);
	return rc;
}
