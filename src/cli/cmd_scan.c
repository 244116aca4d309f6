/* mcpguard scan: a saved list answer, or every server of a catalog
 * (cli/scan_catalog.c), scanned for poisoned definitions (guard/defscan). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fs.h"
#include "base/mem.h"
#include "base/str.h"
#include "cli/cli.h"
#include "cli/dbcache.h"
#include "cli/scan.h"
#include "guard/defscan.h"
#include "json/jx.h"

static const char scan_usage[] =
	"Usage: mcpguard scan FILE.json [--json]\n"
	"       mcpguard scan --catalog FILE [--servers A,B] [--json] [options]\n"
	"\n"
	"Scan tool, prompt and resource definitions and server instructions for\n"
	"poisoning: hidden instructions, concealment and coercion aimed at the model,\n"
	"references to credentials and sensitive files, exfiltration, shadowing of other\n"
	"servers' tools, invisible or control characters, look-alike names\n"
	"(docs/security.md, \"Tool definitions (scanning)\").\n"
	"\n"
	"A saved answer: FILE (or - for standard input) is a JSON-RPC response to\n"
	"tools/list, prompts/list, resources/list, resources/templates/list or\n"
	"initialize, its result, or an array of tool definitions.  Every item is\n"
	"scanned, every string at any depth.\n"
	"\n"
	"A catalog: each selected server is started in its sandbox exactly as\n"
	"'mcpguard gateway run' starts it (a child gateway per server, the list cache\n"
	"off), listed whole (initialize instructions, every page of tools, prompts,\n"
	"resources and templates), and each definition scanned against the names of\n"
	"the other servers and of their tools and prompts (shadowing).  Each finding\n"
	"names the server, the item (kind and name), the field path, the signal, the\n"
	"byte span and the item's level (suspicious or malicious); a summary follows\n"
	"for each server.  A server that cannot be started or listed is reported with\n"
	"the reason and the end of its gateway's log; the others are still scanned.\n"
	"\n"
	"  --catalog FILE        Catalog file (repeatable; later ones win on equal names).\n"
	"  --servers A,B         Only these servers (repeatable). Default: all.\n"
	"  --timeout SECONDS     Deadline per server, from its start to its last list\n"
	"                        page (default 60; npx servers may install first).\n"
	"  --jobs N              Servers started at once (default 4).\n"
	"  --json                A saved answer: one JSON object per definition that is\n"
	"                        not clean.  A catalog: one JSON document (servers, their\n"
	"                        items with findings, a summary).\n"
	"\n"
	"Handed on to each server's gateway (see 'mcpguard gateway run --help'):\n"
	"  --workspace-dir DIR  --secrets FILE  --secret-store DIR  --audit-log FILE\n"
	"  --pass-env NAME  --cpus N  --memory SIZE  --pids N  --allow-unsandboxed  --verbose\n"
	"\n"
	"Exit status: 0 all clean, 1 something suspicious or malicious (\"poisoned\" in\n"
	"a saved answer's report), 2 an error (for a catalog: a server that could not\n"
	"be started or listed, even if others were scanned).\n";

#define FILE_MAX (64u << 20)

struct tally {
	size_t items, suspicious, poisoned;
	bool json;
};

static void show(struct tally *t, const char *kind, const char *name, const struct gd_def_result *r)
{
	t->items++;
	if (r->verdict == GD_DEF_CLEAN)
		return;
	if (r->verdict == GD_DEF_POISONED)
		t->poisoned++;
	else
		t->suspicious++;
	if (t->json) {
		json_t *o = json_pack("{sssssssi}", "kind", kind, "name", name, "verdict",
				      gd_def_verdict_name(r->verdict), "score", r->score);
		json_t *fs = json_array();
		char *text;

		for (size_t i = 0; i < r->n_findings; i++) {
			const struct gd_def_finding *f = &r->findings[i];

			json_array_append_new(fs, json_pack("{sssisssbsIsIss}", "signal", f->signal, "weight",
							    f->weight, "path", f->path, "in_key", f->in_key,
							    "off", (json_int_t)f->off, "len", (json_int_t)f->len,
							    "detail", f->detail));
		}
		json_object_set_new(o, "findings", fs);
		text = json_dumps(o, JSON_COMPACT);
		puts(text ? text : "{}");
		free(text);
		json_decref(o);
		return;
	}
	printf("%s %s: %s (score %d)\n", kind, name, gd_def_verdict_name(r->verdict), r->score);
	for (size_t i = 0; i < r->n_findings; i++) {
		const struct gd_def_finding *f = &r->findings[i];

		printf("  %s%s: %s (weight %d) at %zu+%zu%s%s%s\n", f->path, f->in_key ? " (name)" : "",
		       f->signal, f->weight, f->off, f->len, f->detail[0] ? " \"" : "", f->detail,
		       f->detail[0] ? "\"" : "");
	}
	if (r->more_findings)
		printf("  ... and %zu more findings\n", r->more_findings);
}

static int scan_list(struct gd_defscan *d, struct tally *t, const json_t *list, const char *kind)
{
	size_t i;
	json_t *def;

	json_array_foreach(list, i, def) {
		struct gd_def_result r;
		const char *name = jx_str(def, "name") ? jx_str(def, "name")
				   : jx_str(def, "uri") ? jx_str(def, "uri") : jx_str(def, "uriTemplate");
		char fallback[32];

		if (!name) {
			snprintf(fallback, sizeof(fallback), "#%zu", i);
			name = fallback;
		}
		if (gd_def_scan_tool(d, def, kind, NULL, &r)) {
			fprintf(stderr, "mcpguard: scan: %s %s is not a definition\n", kind, name);
			return -EINVAL;
		}
		show(t, kind, name, &r);
	}
	return 0;
}

/* Standard input may be a pipe or a socket: read it, do not open it. */
static int read_stdin(char **out, size_t *len)
{
	struct mg_buf b;
	char chunk[65536];
	ssize_t n;

	mg_buf_init(&b, FILE_MAX);
	while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || mg_buf_add(&b, chunk, (size_t)n)) {
			int rc = n < 0 ? -errno : -EFBIG;

			mg_buf_release(&b);
			return rc;
		}
	}
	*out = mg_buf_detach(&b, len);
	if (!*out)
		*out = mg_strdup("");
	return 0;
}

static const char *const pass_values[] = {
	"--workspace-dir", "--secrets", "--secret-store", "--audit-log", "--pass-env", "--cpus",
	"--memory", "--pids", NULL,
};
static const char *const pass_switches[] = { "--allow-unsandboxed", "--verbose", NULL };

/* "--name=value" or "--name value": the value, or NULL when arg is not
 * --name.  *i moves past a separate value; *missing says it is absent. */
static const char *flag_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0 || (argv[*i][n] != '\0' && argv[*i][n] != '='))
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

static char **push_csv(char **v, const char *csv)
{
	char **items = mg_split_csv(csv);

	if (!v)
		v = mg_calloc(1, sizeof(char *));
	for (size_t i = 0; items[i]; i++)
		v = mg_strv_push(v, items[i]);
	mg_strv_free(items);
	return v;
}

int cli_scan(int argc, char **argv)
{
	static const struct { const char *key, *kind; } lists[] = {
		{ "tools", "tool" }, { "prompts", "prompt" }, { "resources", "resource" },
		{ "resourceTemplates", "resource-template" },
	};
	struct tally t = { 0 };
	struct scan_catalog_opts co = { .timeout_ms = 60000, .jobs = 4 };
	const char *file = NULL, *v, *catalog_only = NULL;
	struct gd_defscan *d = NULL;
	char *text = NULL, err[256];
	size_t len = 0;
	json_error_t je;
	json_t *root = NULL, *res;
	uint64_t u;
	int rc = CLI_USAGE;

	for (int i = 1; i < argc; i++) {
		bool missing = false, matched = false;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(scan_usage, stdout);
			rc = CLI_OK;
			goto out;
		} else if (strcmp(argv[i], "--json") == 0) {
			t.json = true;
			co.json = true;
		} else if ((v = flag_value(argc, argv, &i, "--catalog", &missing))) {
			co.catalogs = push_csv(co.catalogs, v);
		} else if ((v = flag_value(argc, argv, &i, "--servers", &missing))) {
			co.servers = push_csv(co.servers, v);
			catalog_only = "--servers";
		} else if ((v = flag_value(argc, argv, &i, "--timeout", &missing))) {
			if (mg_parse_duration_ms(v, &co.timeout_ms) || co.timeout_ms < 1000 ||
			    co.timeout_ms > 24ull * 3600 * 1000) {
				fprintf(stderr, "mcpguard: scan: --timeout: '%s' is not a number of "
					"seconds from 1 to 86400 (or a duration: 90s, 5m)\n", v);
				goto out;
			}
			catalog_only = "--timeout";
		} else if ((v = flag_value(argc, argv, &i, "--jobs", &missing))) {
			if (mg_parse_u64(v, &u) || u == 0 || u > 64) {
				fprintf(stderr, "mcpguard: scan: --jobs: '%s' is not from 1 to 64\n", v);
				goto out;
			}
			co.jobs = (unsigned)u;
			catalog_only = "--jobs";
		} else if (!missing) {
			for (size_t k = 0; pass_values[k] && !matched && !missing; k++) {
				int at = i;

				if ((v = flag_value(argc, argv, &i, pass_values[k], &missing))) {
					/* handed on as given, checked by the child */
					co.pass = mg_strv_push(co.pass, argv[at]);
					if (at != i)
						co.pass = mg_strv_push(co.pass, v);
					matched = true;
					catalog_only = pass_values[k];
				}
			}
			for (size_t k = 0; pass_switches[k] && !matched; k++) {
				if (strcmp(argv[i], pass_switches[k]) == 0) {
					co.pass = mg_strv_push(co.pass, argv[i]);
					matched = true;
					catalog_only = pass_switches[k];
				}
			}
			if (!matched && !missing && !file &&
			    (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)) {
				file = argv[i];
			} else if (!matched && !missing) {
				fprintf(stderr, "mcpguard: scan: unexpected '%s'\n\n%s", argv[i],
					scan_usage);
				goto out;
			}
		}
		if (missing) {
			fprintf(stderr, "mcpguard: scan: %s needs a value\n", argv[i]);
			goto out;
		}
	}
	if (co.catalogs && file) {
		fprintf(stderr, "mcpguard: scan: give a FILE or --catalog, not both\n");
		goto out;
	}
	if (co.catalogs) {
		rc = cli_scan_catalog(&co);
		goto out;
	}
	if (catalog_only) {
		fprintf(stderr, "mcpguard: scan: %s goes with --catalog\n", catalog_only);
		goto out;
	}
	if (!file) {
		fputs(scan_usage, stderr);
		goto out;
	}
	rc = strcmp(file, "-") == 0 ? read_stdin(&text, &len) : mg_read_file(file, FILE_MAX, &text, &len);
	if (rc) {
		fprintf(stderr, "mcpguard: scan: cannot read %s: %s\n", file, strerror(-rc));
		rc = CLI_USAGE;
		goto out;
	}
	rc = CLI_USAGE;
	root = jx_parse(text, len, &je);
	if (!root) {
		fprintf(stderr, "mcpguard: scan: %s:%d:%d: %s\n", file, je.line, je.column, je.text);
		goto out;
	}
	if (cli_dbcache_scanner(&d, err, sizeof(err))) {
		fprintf(stderr, "mcpguard: scan: %s\n", err);
		goto out;
	}
	res = json_object_get(root, "result") ? json_object_get(root, "result") : root;
	if (json_is_array(res)) {
		if (scan_list(d, &t, res, "tool"))
			goto out;
	} else if (json_is_object(res)) {
		bool any = false;

		for (size_t k = 0; k < MG_ARRAY_LEN(lists); k++) {
			json_t *l = json_object_get(res, lists[k].key);

			if (!json_is_array(l))
				continue;
			any = true;
			if (scan_list(d, &t, l, lists[k].kind))
				goto out;
		}
		if (jx_str(res, "instructions")) {
			struct gd_def_result r;
			const char *ins = jx_str(res, "instructions");

			any = true;
			if (gd_def_scan_instructions(d, ins, strlen(ins), NULL, &r) == 0)
				show(&t, "instructions", jx_str(jx_obj(res, "serverInfo"), "name") ?: "server", &r);
		}
		if (!any) {
			fprintf(stderr, "mcpguard: scan: %s holds no tools, prompts, resources, templates "
				"or instructions\n", file);
			goto out;
		}
	} else {
		fprintf(stderr, "mcpguard: scan: %s is not a list answer\n", file);
		goto out;
	}
	if (!t.json)
		printf("%zu definitions: %zu clean, %zu suspicious, %zu poisoned\n", t.items,
		       t.items - t.suspicious - t.poisoned, t.suspicious, t.poisoned);
	rc = t.suspicious || t.poisoned ? CLI_FAIL : CLI_OK;
out:
	gd_def_free(d);
	json_decref(root);
	free(text);
	mg_strv_free(co.catalogs);
	mg_strv_free(co.servers);
	mg_strv_free(co.pass);
	return rc;
}
