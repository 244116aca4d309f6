/* The secrets a gateway run knows, and the leak check built from them.
 *
 * A secret named by a catalog entry (`secrets: [{name, env}]`, or ${NAME}
 * in a remote server's headers) takes its value from, in this order:
 *   1. the --secrets files (.env lines NAME=value), the first that has it;
 *   2. the encrypted store (mcpguard secret set NAME);
 *   3. the gateway's own environment variable NAME.
 * Its owners are the servers that name it. */
#include "cli/secrets.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "catalog/secrets.h"

/* The ${NAME}s in a remote server's headers. */
static void header_names(const struct cat_server *s, void (*add)(struct cli_secrets *, const char *,
								 const char *), struct cli_secrets *cs)
{
	for (size_t i = 0; s->remote_headers && s->remote_headers[i]; i++) {
		for (const char *p = s->remote_headers[i]; (p = strstr(p, "${"));) {
			const char *end = strchr(p + 2, '}');
			char name[129];

			if (!end)
				break;
			if ((size_t)(end - p - 2) < sizeof(name)) {
				snprintf(name, sizeof(name), "%.*s", (int)(end - p - 2), p + 2);
				if (sec_name_ok(name))
					add(cs, name, s->name);
			}
			p = end + 1;
		}
	}
}

static void add_owner(struct cli_secrets *cs, const char *name, const char *server)
{
	size_t i;

	for (i = 0; i < cs->n && strcmp(cs->names[i], name) != 0; i++)
		;
	if (i == cs->n) {
		cs->names = mg_realloc(cs->names, (cs->n + 1) * sizeof(*cs->names));
		cs->owners = mg_realloc(cs->owners, (cs->n + 1) * sizeof(*cs->owners));
		cs->names[cs->n] = mg_strdup(name);
		cs->owners[cs->n] = mg_calloc(1, sizeof(char *));
		cs->n++;
	}
	for (char **o = cs->owners[i]; *o; o++)
		if (strcmp(*o, server) == 0)
			return;
	cs->owners[i] = mg_strv_push(cs->owners[i], server);
}

/* NAME=value from a .env file: comments, blank lines and `export ` skipped;
 * single or double quotes around the value taken off. */
static int from_file(const char *path, const char *name, char **value, size_t *len,
		     struct mg_err *err)
{
	char *text = NULL, *line, *save = NULL;
	size_t tl;
	int rc = mg_read_file(path, 1u << 20, &text, &tl);

	if (rc)
		return mg_err_set(err, rc, "--secrets %s: %s", path, strerror(-rc));
	rc = -ENOENT;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq, *v;
		size_t vl;

		while (*line == ' ' || *line == '\t')
			line++;
		if (mg_starts_with(line, "export "))
			line += 7;
		if (*line == '#' || !(eq = strchr(line, '=')))
			continue;
		if ((size_t)(eq - line) != strlen(name) || strncmp(line, name, (size_t)(eq - line)) != 0)
			continue;
		v = eq + 1;
		vl = strlen(v);
		if (vl && v[vl - 1] == '\r')
			vl--;
		if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
			v++;
			vl -= 2;
		}
		*value = mg_memdup0(v, vl);
		*len = vl;
		rc = 0;
		break;
	}
	sodium_memzero(text, tl);
	free(text);
	return rc;
}

int cli_secrets_load(struct cli_secrets *cs, const struct catalog *cat, char *const *files,
		     const char *store_dir, struct mg_err *err)
{
	struct sec_store *st = NULL;
	char *dir = store_dir ? mg_strdup(store_dir) : sec_store_default_dir();
	int rc = 0;

	memset(cs, 0, sizeof(*cs));
	for (size_t i = 0; i < cat->n_servers; i++) {
		const struct cat_server *s = &cat->servers[i];

		for (size_t k = 0; k < s->n_secrets; k++)
			if (s->secrets[k].name)
				add_owner(cs, s->secrets[k].name, s->name);
		header_names(s, add_owner, cs);
	}
	cs->list = mg_calloc(cs->n + 1, sizeof(*cs->list));
	cs->values = mg_calloc(cs->n + 1, sizeof(*cs->values));
	for (size_t i = 0; i < cs->n && rc == 0; i++) {
		const char *name = cs->names[i];
		char *value = NULL;
		size_t len = 0;

		for (size_t f = 0; files && files[f] && !value; f++) {
			rc = from_file(files[f], name, &value, &len, err);
			if (rc == -ENOENT)
				rc = 0;
		}
		if (rc)
			break;
		if (!value && !st) {
			rc = sec_store_open(&st, dir, false, err);
			if (rc)
				break;
		}
		if (!value) {
			const struct sec_entry *e = sec_store_get(st, name);

			if (e) {
				value = mg_memdup0(e->value, e->len);
				len = e->len;
			}
		}
		if (!value && getenv(name)) {
			value = mg_strdup(getenv(name));
			len = strlen(value);
		}
		if (!value)
			continue;
		cs->values[cs->n_values] = value;
		cs->list[cs->n_values++] = (struct gw_secret){ name, value, len };
	}
	sec_store_close(st);
	free(dir);
	if (rc)
		cli_secrets_release(cs);
	return rc;
}

int cli_secrets_check(struct cli_secrets *cs, enum gd_leak_mode mode, struct gd_check **out,
		      struct mg_err *err)
{
	struct gd_secret *s = mg_calloc(cs->n_values + 1, sizeof(*s));
	char ***owners = mg_calloc(cs->n_values + 1, sizeof(*owners));
	char msg[256] = "";
	int rc;

	for (size_t i = 0; i < cs->n_values; i++) {
		s[i] = (struct gd_secret){ cs->list[i].name, cs->list[i].value, cs->list[i].len };
		for (size_t k = 0; k < cs->n; k++)
			if (cs->names[k] == cs->list[i].name)
				owners[i] = cs->owners[k];
		if (cs->list[i].len < GD_LEAK_MIN_SECRET)
			mg_warn("secret '%s' is shorter than %d bytes: it is passed on, but not looked for "
				"in what servers send (it would match ordinary text)", cs->list[i].name,
				GD_LEAK_MIN_SECRET);
	}
	rc = gd_leak_check_new(out, s, (char *const *const *)owners, cs->n_values, mode, msg,
			       sizeof(msg));
	if (rc)
		mg_err_set(err, rc, "cannot build the secrets check: %s", msg);
	free(s);
	free(owners);
	return rc;
}

void cli_secrets_release(struct cli_secrets *cs)
{
	for (size_t i = 0; i < cs->n_values; i++) {
		sodium_memzero(cs->values[i], cs->list[i].len);
		free(cs->values[i]);
	}
	for (size_t i = 0; i < cs->n; i++) {
		free(cs->names[i]);
		mg_strv_free(cs->owners[i]);
	}
	free(cs->values);
	free(cs->list);
	free(cs->names);
	free(cs->owners);
	memset(cs, 0, sizeof(*cs));
}
