/* mcpguard scan FILE.json: a saved list answer scanned for poisoned
 * definitions (guard/defscan). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fs.h"
#include "base/mem.h"
#include "cli/cli.h"
#include "guard/defscan.h"
#include "json/jx.h"

static const char scan_usage[] =
	"Usage: mcpguard scan FILE.json [--json]\n"
	"\n"
	"Scan a saved list answer for poisoned definitions: hidden instructions, concealment\n"
	"and coercion aimed at the model, references to credentials and sensitive files,\n"
	"exfiltration, shadowing of other tools, invisible or control characters,\n"
	"look-alike names (docs/security.md, \"Tool definitions (scanning)\").\n"
	"\n"
	"FILE (or - for standard input) is a JSON-RPC response to tools/list, prompts/list,\n"
	"resources/list, resources/templates/list or initialize, its result, or an array of\n"
	"tool definitions.  Every item is scanned, every string at any depth.\n"
	"\n"
	"  --json   One JSON object per definition that is not clean.\n"
	"\n"
	"Exit status: 0 all clean, 1 something suspicious or poisoned, 2 an error.\n"
	"(Scanning a catalog's servers, and scanning at list time in the gateway, come next.)\n";

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

int cli_scan(int argc, char **argv)
{
	static const struct { const char *key, *kind; } lists[] = {
		{ "tools", "tool" }, { "prompts", "prompt" }, { "resources", "resource" },
		{ "resourceTemplates", "resource-template" },
	};
	struct tally t = { 0 };
	const char *file = NULL;
	struct gd_defscan *d = NULL;
	char *text = NULL, err[256];
	size_t len = 0;
	json_error_t je;
	json_t *root = NULL, *res;
	int rc = CLI_USAGE;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(scan_usage, stdout);
			return CLI_OK;
		} else if (strcmp(argv[i], "--json") == 0) {
			t.json = true;
		} else if (!file && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)) {
			file = argv[i];
		} else {
			fprintf(stderr, "mcpguard: scan: unexpected '%s'\n\n%s", argv[i], scan_usage);
			return CLI_USAGE;
		}
	}
	if (!file) {
		fputs(scan_usage, stderr);
		return CLI_USAGE;
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
	if (gd_def_new(&d, err, sizeof(err))) {
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
	return rc;
}
