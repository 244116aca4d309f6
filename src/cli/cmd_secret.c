/* mcpguard secret set|ls|rm: the encrypted secret store (catalog/secrets). */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/mem.h"
#include "base/str.h"
#include "catalog/catalog.h"
#include "catalog/secrets.h"
#include "cli/cli.h"

static const char secret_usage[] =
	"Usage: mcpguard secret set NAME [--store DIR]\n"
	"       mcpguard secret ls [--store DIR] [--catalog FILE]... [--json]\n"
	"       mcpguard secret rm NAME [--store DIR]\n"
	"\n"
	"The gateway's secret store, encrypted at rest (libsodium secretbox).  A catalog\n"
	"entry's 'secrets: [{name: NAME, env: VAR}]' puts the secret into that server's\n"
	"environment only; ${NAME} in a remote server's headers takes it too.\n"
	"\n"
	"  set NAME       Read the value from standard input (a prompt with echo off on a\n"
	"                 terminal; otherwise everything read, one trailing newline cut).\n"
	"                 Never give a value as an argument: argv is visible to every user.\n"
	"  ls             Names, the servers that use them (from the catalogs), and dates;\n"
	"                 never values.\n"
	"  rm NAME        Remove a secret.\n"
	"\n"
	"  --store DIR    The store's folder (default /etc/mcpguard as root, else\n"
	"                 $XDG_CONFIG_HOME/mcpguard).  The key is DIR/secrets.key (0600),\n"
	"                 made on first use; with MCPGUARD_SECRETS_PASSPHRASE set when the\n"
	"                 store is made, the key is derived from it (Argon2id) instead.\n"
	"  --catalog FILE Catalogs whose servers 'ls' lists as owners (default: built-in).\n"
	"  --json         One JSON object per secret.\n";

#define VALUE_MAX (1u << 20)

static int read_value(const char *name, struct mg_buf *out)
{
	bool tty = isatty(STDIN_FILENO);
	struct termios old, quiet;
	char chunk[4096];
	ssize_t n;

	if (tty) {
		fprintf(stderr, "Value for %s: ", name);
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		}
	}
	while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) > 0) {
		if (mg_buf_add(out, chunk, (size_t)n)) {
			fprintf(stderr, "mcpguard: the value is larger than %u bytes\n", VALUE_MAX);
			n = -1;
			break;
		}
		if (tty && memchr(chunk, '\n', (size_t)n))
			break;
	}
	sodium_memzero(chunk, sizeof(chunk));
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (n < 0)
		return -EIO;
	if (out->len && out->data[out->len - 1] == '\n')
		mg_buf_truncate(out, out->len - 1);
	if (out->len && out->data[out->len - 1] == '\r')
		mg_buf_truncate(out, out->len - 1);
	if (out->len == 0) {
		fprintf(stderr, "mcpguard: no value read for %s (nothing was stored)\n", name);
		return -EINVAL;
	}
	return 0;
}

static void owners_of(const struct catalog *cat, const char *name, struct mg_buf *out)
{
	for (size_t i = 0; i < cat->n_servers; i++) {
		const struct cat_server *s = &cat->servers[i];
		bool uses = false;
		char ref[140];

		for (size_t k = 0; k < s->n_secrets && !uses; k++)
			uses = s->secrets[k].name && strcmp(s->secrets[k].name, name) == 0;
		snprintf(ref, sizeof(ref), "${%s}", name);
		for (size_t k = 0; s->remote_headers && s->remote_headers[k] && !uses; k++)
			uses = strstr(s->remote_headers[k], ref) != NULL;
		if (uses)
			mg_buf_addf(out, "%s%s", out->len ? "," : "", s->name);
	}
}

static void date(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int list(struct sec_store *st, char **catalogs, bool json)
{
	struct catalog cat;
	struct mg_err err;

	catalog_init(&cat);
	if (!catalogs || !catalogs[0]) {
		const char *text = catalog_builtin_default();

		catalog_load_string(&cat, text, strlen(text), "built-in catalog", &err);
	}
	for (size_t i = 0; catalogs && catalogs[i]; i++) {
		if (catalog_load_file(&cat, catalogs[i], &err)) {
			fprintf(stderr, "mcpguard: %s\n", err.msg);
			catalog_release(&cat);
			return CLI_FAIL;
		}
	}
	if (!json)
		printf("%-40s %-24s %-20s %s\n", "NAME", "USED BY", "CREATED", "UPDATED");
	for (size_t i = 0; i < sec_store_count(st); i++) {
		const struct sec_entry *e = sec_store_at(st, i);
		char created[32], updated[32];
		struct mg_buf owners;

		mg_buf_init(&owners, 4096);
		owners_of(&cat, e->name, &owners);
		date(e->created, created, sizeof(created));
		date(e->updated, updated, sizeof(updated));
		if (json)
			printf("{\"name\":\"%s\",\"used_by\":\"%s\",\"created\":\"%s\",\"updated\":\"%s\"}\n",
			       e->name, owners.len ? owners.data : "", created, updated);
		else
			printf("%-40s %-24s %-20s %s\n", e->name, owners.len ? owners.data : "-", created,
			       updated);
		mg_buf_release(&owners);
	}
	catalog_release(&cat);
	return CLI_OK;
}

int cli_secret(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL, *name = NULL, *store = NULL;
	char **catalogs = NULL, *dir;
	bool json = false;
	struct sec_store *st = NULL;
	struct mg_err err;
	int rc = CLI_USAGE;

	if (!cmd || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(secret_usage, cmd ? stdout : stderr);
		return cmd ? CLI_OK : CLI_USAGE;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(secret_usage, stdout);
			return CLI_OK;
		} else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc) {
			store = argv[++i];
		} else if (strcmp(argv[i], "--catalog") == 0 && i + 1 < argc) {
			catalogs = mg_strv_push(catalogs ? catalogs : mg_calloc(1, sizeof(char *)), argv[++i]);
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (argv[i][0] != '-' && !name) {
			name = argv[i];
		} else {
			fprintf(stderr, "mcpguard: secret %s: unexpected '%s'%s\n\n%s", cmd, argv[i],
				strchr(argv[i], '=') || name ? " (values are read from standard input, "
				"never from arguments)" : "", secret_usage);
			goto out;
		}
	}
	if ((strcmp(cmd, "set") == 0 || strcmp(cmd, "rm") == 0) != (name != NULL) ||
	    (strcmp(cmd, "set") != 0 && strcmp(cmd, "rm") != 0 && strcmp(cmd, "ls") != 0)) {
		fprintf(stderr, "mcpguard: secret: %s\n\n%s", name || strcmp(cmd, "ls") == 0
			? "'ls' takes no name" : "which secret? (secret set NAME)", secret_usage);
		goto out;
	}
	if (name && !sec_name_ok(name)) {
		fprintf(stderr, "mcpguard: '%s' is not a secret name (letters, digits, '_', '.', '-'; "
			"a letter or '_' first)\n", name);
		goto out;
	}
	dir = store ? mg_strdup(store) : sec_store_default_dir();
	if (sec_store_open(&st, dir, strcmp(cmd, "set") == 0, &err)) {
		fprintf(stderr, "mcpguard: %s\n", err.msg);
		free(dir);
		rc = CLI_FAIL;
		goto out;
	}
	free(dir);
	rc = CLI_FAIL;
	if (strcmp(cmd, "set") == 0) {
		struct mg_buf v;

		mg_buf_init(&v, VALUE_MAX);
		if (read_value(name, &v) == 0) {
			if (sec_store_set(st, name, v.data, v.len, &err))
				fprintf(stderr, "mcpguard: %s\n", err.msg);
			else
				rc = CLI_OK;
		}
		if (v.data)
			sodium_memzero(v.data, v.len);
		mg_buf_release(&v);
		if (rc == CLI_OK)
			fprintf(stderr, "mcpguard: secret '%s' stored\n", name);
	} else if (strcmp(cmd, "rm") == 0) {
		if (sec_store_rm(st, name, &err))
			fprintf(stderr, "mcpguard: %s\n", err.msg);
		else
			rc = CLI_OK;
	} else {
		rc = list(st, catalogs, json);
	}
out:
	sec_store_close(st);
	mg_strv_free(catalogs);
	return rc;
}
