/* mcpguard pins ls|diff|approve|reject|forget: the pin store (pins/store)
 * from the command line. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/mem.h"
#include "base/str.h"
#include "cli/cli.h"
#include "pins/diff.h"
#include "pins/store.h"

static const char pins_usage[] =
	"Usage: mcpguard pins ls [SERVER] [--json] [--pin-store DIR]\n"
	"       mcpguard pins diff SERVER[/NAME] [--full] [--pin-store DIR]\n"
	"       mcpguard pins approve SERVER[/NAME] [--hash HEX] [--pin-store DIR]\n"
	"       mcpguard pins reject SERVER[/NAME] [--pin-store DIR]\n"
	"       mcpguard pins forget SERVER[/NAME] [--pin-store DIR]\n"
	"\n"
	"Pins against rug pulls.  The gateway pins every tool, prompt, resource, resource\n"
	"template and the instructions of each server (the SHA-256 of their canonical JSON,\n"
	"RFC 8785) when it first sees them (gateway run --pin-mode tofu) or once you approve\n"
	"them (--pin-mode approve).  A definition that differs from its pin is quarantined:\n"
	"not listed, and a call to it refused, until you approve it here.  A running\n"
	"gateway watches the store and lists what you approved without a restart.\n"
	"\n"
	"  ls [SERVER]            Every item and its state: pinned, changed (differs from its\n"
	"                         pin, quarantined) or new (approve mode, not approved yet).\n"
	"  diff SERVER[/NAME]     What waits, field by field: the pinned value and the new one.\n"
	"  approve SERVER[/NAME]  Pin what waits (all of SERVER's, or NAME's).\n"
	"  reject SERVER[/NAME]   Drop what waits; that definition stays quarantined and is\n"
	"                         not reported again.\n"
	"  forget SERVER[/NAME]   Drop the pins: the next sight pins again (tofu) or waits for\n"
	"                         approval.  SERVER alone removes its file, a broken one too.\n"
	"\n"
	"NAME is a tool's name as the server gives it, or prompt/NAME, resource/URI,\n"
	"resource-template/TEMPLATE, instructions (tool/NAME for a tool named like those).\n"
	"\n"
	"  --pin-store DIR  The store (default $XDG_CONFIG_HOME/mcpguard/pins, one\n"
	"                   SERVER.json per server; docs/security.md, \"Pins\").\n"
	"  --json           ls: one JSON object per item.\n"
	"  --full           diff: values whole (default: cut to 400 bytes, a long text\n"
	"                   around where it changed).\n"
	"  --hash HEX       approve SERVER/NAME: only if what waits has a SHA-256 starting\n"
	"                   with HEX (8 or more digits, as diff prints them), so that what\n"
	"                   you approve is what you looked at.\n"
	"\n"
	"Exit status: 0 done; 1 nothing matched, or (ls) something waits for a decision;\n"
	"2 an error (a pin file that cannot be read is one: it is named).\n";

#define DIFF_WIDTH 400

struct opts {
	const char *cmd, *target, *dir, *hash;
	bool json, full;
};

/* Print text for a terminal: controls were escaped by JSON already; the
 * invisible and direction-changing characters a definition could use to
 * hide what it says are shown as \uXXXX. */
static void put_safe(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned cp = 0;

		if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0x8b || p[2] == 0x8c || p[2] == 0x8d ||
		    p[2] == 0x8e || p[2] == 0x8f || (p[2] >= 0xaa && p[2] <= 0xae)))
			cp = 0x2000 + (p[2] - 0x80);
		else if (p[0] == 0xe2 && p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)
			cp = 0x2040 + (p[2] - 0x80);
		else if (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
			cp = 0xfeff;
		if (cp) {
			fprintf(f, "\\u%04x", cp);
			p += 2;
		} else if (*p < 0x20 && *p != '\n') {
			fputc('?', f);
		} else {
			fputc(*p, f);
		}
	}
}

/* "fs/read_file" for a tool, "fs/prompt/x" otherwise: what this command
 * takes back. */
static void ref_of(const char *server, const char *key, char *out, size_t size)
{
	char k[1024];

	pin_printable(mg_starts_with(key, "tool/") ? key + 5 : key, k, sizeof(k));
	snprintf(out, size, "%s/%s", server, k);
}

static const char *state_of(const struct pin_item *it)
{
	if (it->has_pending)
		return it->has_pin ? "changed" : "new";
	return it->has_pin ? "pinned" : "rejected";
}

/* The item NAME means: its key as given, else as a tool's name. */
static struct pin_item *find_spec(const struct pin_server *s, const char *spec)
{
	char *key = pin_key_from_spec(spec);
	struct pin_item *it = pin_server_find(s, key);
	struct mg_buf b;

	free(key);
	if (it || mg_starts_with(spec, "tool/"))
		return it;
	mg_buf_init(&b, SIZE_MAX / 2);
	mg_buf_addf(&b, "tool/%s", spec);
	it = pin_server_find(s, b.data);
	mg_buf_release(&b);
	return it;
}

/* Split SERVER[/NAME]; server into buf.  0 or CLI_USAGE. */
static int split_target(const char *target, char *server, size_t size, const char **spec)
{
	const char *slash = target ? strchr(target, '/') : NULL;
	size_t n = slash ? (size_t)(slash - target) : target ? strlen(target) : 0;

	*spec = slash && slash[1] ? slash + 1 : NULL;
	if (n >= size) {
		fprintf(stderr, "mcpguard: pins: '%s' is not a server name\n", target);
		return CLI_USAGE;
	}
	memcpy(server, target, n);
	server[n] = '\0';
	if (!pin_server_name_ok(server)) {
		char p[160];

		pin_printable(server, p, sizeof(p));
		fprintf(stderr, "mcpguard: pins: '%s' is not a server name (letters, digits, '_', '.', "
			"'-'; a letter or digit first)\n", p);
		return CLI_USAGE;
	}
	return 0;
}

/* ---- ls ---- */

static void row_json(const struct pin_server *s, const struct pin_item *it)
{
	json_t *o = json_pack("{s:s,s:s,s:s}", "server", s->name, "item", it->key, "state",
			      state_of(it));
	json_t *rej = json_array();
	char t1[32], t2[32];
	char *text;

	if (it->has_pin) {
		pin_time_format(it->pinned_at, t1, sizeof(t1));
		json_object_set_new(o, "pinned", json_pack("{s:s,s:s,s:s}", "sha256", it->pin.sha256,
			"at", t1, "how", it->how == PIN_APPROVED ? "approved" : "first-sight"));
	} else {
		json_object_set_new(o, "pinned", json_null());
	}
	if (it->has_pending) {
		pin_time_format(it->first_seen, t1, sizeof(t1));
		pin_time_format(it->last_seen, t2, sizeof(t2));
		json_object_set_new(o, "pending", json_pack("{s:s,s:s,s:s}", "sha256",
			it->pending.sha256, "first_seen", t1, "last_seen", t2));
	} else {
		json_object_set_new(o, "pending", json_null());
	}
	for (size_t i = 0; i < it->n_rejected; i++)
		json_array_append_new(rej, json_string(it->rejected[i].sha256));
	json_object_set_new(o, "rejected", rej);
	text = json_dumps(o, JSON_COMPACT);
	puts(text);
	free(text);
	json_decref(o);
}

static void row_text(const struct pin_server *s, const struct pin_item *it)
{
	char item[1024], when[32] = "-", state[40], sha[64];

	pin_printable(it->key, item, sizeof(item));
	if (it->has_pin)
		pin_time_format(it->pinned_at, when, sizeof(when));
	snprintf(state, sizeof(state), "%s", state_of(it));
	if (it->has_pending && it->has_pin)
		snprintf(sha, sizeof(sha), "%.12s -> %.12s", it->pin.sha256, it->pending.sha256);
	else
		snprintf(sha, sizeof(sha), "%.12s", it->has_pending ? it->pending.sha256
			 : it->has_pin ? it->pin.sha256 : "-");
	printf("%-16s %-36s %-9s %-24s %-11s %s", s->name, item, state, when,
	       it->has_pin ? (it->how == PIN_APPROVED ? "approved" : "first-sight") : "-", sha);
	if (it->n_rejected)
		printf("  (%zu rejected)", it->n_rejected);
	putchar('\n');
}

static int cmd_ls(struct pin_store *st, const struct opts *o)
{
	char server[128], **servers = NULL;
	const char *spec;
	struct mg_buf waiting;
	struct mg_err err;
	size_t n_wait = 0, n_items = 0;
	bool failed = false;
	int rc;

	if (o->target) {
		if ((rc = split_target(o->target, server, sizeof(server), &spec)))
			return rc;
		if (spec) {
			fprintf(stderr, "mcpguard: pins ls takes a server, not an item (try pins diff %s)\n",
				o->target);
			return CLI_USAGE;
		}
		servers = mg_strv_push(mg_calloc(1, sizeof(char *)), server);
	} else if (pin_store_servers(st, &servers, &err)) {
		fprintf(stderr, "mcpguard: %s\n", err.msg);
		return CLI_USAGE;
	}
	mg_buf_init(&waiting, 4096);
	if (!o->json)
		printf("%-16s %-36s %-9s %-24s %-11s %s\n", "SERVER", "ITEM", "STATE", "PINNED", "HOW",
		       "SHA256");
	for (size_t i = 0; servers[i]; i++) {
		struct pin_server *s;

		if (pin_store_load(st, servers[i], &s, &err)) {
			fprintf(stderr, "mcpguard: %s\n", err.msg);
			failed = true;
			continue;
		}
		if (!s->exists && o->target)
			fprintf(stderr, "mcpguard: no pins for server '%s' in %s\n", s->name,
				pin_store_dir(st));
		for (size_t k = 0; k < s->n_items; k++) {
			const struct pin_item *it = &s->items[k];

			n_items++;
			if (o->json)
				row_json(s, it);
			else
				row_text(s, it);
			if (it->has_pending) {
				char ref[1200];

				ref_of(s->name, it->key, ref, sizeof(ref));
				if (n_wait++ < 8)
					mg_buf_addf(&waiting, "%s%s (%s)", n_wait > 1 ? ", " : "", ref,
						    state_of(it));
			}
		}
		pin_server_free(s);
	}
	mg_strv_free(servers);
	if (n_wait)
		fprintf(stderr, "mcpguard: %zu definition%s wait%s for a decision: %s%s; see "
			"'mcpguard pins diff SERVER', then approve or reject\n", n_wait,
			n_wait == 1 ? "" : "s", n_wait == 1 ? "s" : "", waiting.data,
			n_wait > 8 ? ", ..." : "");
	else if (n_items == 0 && !failed && !o->target)
		fprintf(stderr, "mcpguard: no pins in %s yet\n", pin_store_dir(st));
	mg_buf_release(&waiting);
	if (failed)
		return CLI_USAGE;
	return n_wait || n_items == 0 ? CLI_FAIL : CLI_OK;
}

/* ---- diff ---- */

static void show_value(const char *sign, const char *v)
{
	printf("    %s ", sign);
	put_safe(stdout, v);
	putchar('\n');
}

static void show_pending(const struct pin_server *s, const struct pin_item *it, size_t width)
{
	char ref[1200], t1[32], t2[32], t3[32];

	ref_of(s->name, it->key, ref, sizeof(ref));
	pin_time_format(it->first_seen, t1, sizeof(t1));
	pin_time_format(it->last_seen, t2, sizeof(t2));
	if (!it->has_pin) {
		char *text = json_dumps(it->pending.def, JSON_INDENT(2) | JSON_SORT_KEYS |
					JSON_ENCODE_ANY);

		printf("%s: new, not approved yet\n", ref);
		printf("  pending %s (first seen %s, last seen %s)\n", it->pending.sha256, t1, t2);
		printf("  definition:\n");
		for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
			nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			printf("    ");
			put_safe(stdout, line);
			putchar('\n');
			if (!nl)
				break;
		}
		free(text);
		return;
	}
	pin_time_format(it->pinned_at, t3, sizeof(t3));
	printf("%s: changed since it was pinned\n", ref);
	printf("  pinned  %s (%s, %s)\n", it->pin.sha256, t3,
	       it->how == PIN_APPROVED ? "approved" : "first sight");
	printf("  pending %s (first seen %s, last seen %s)\n", it->pending.sha256, t1, t2);
	{
		struct pin_diff d;

		if (pin_diff(it->pin.def, it->pending.def, width, &d)) {
			printf("  (cannot compare them)\n");
			pin_diff_release(&d);
			return;
		}
		for (size_t i = 0; i < d.n; i++) {
			const struct pin_change *c = &d.changes[i];
			static const char *const what[] = { "added", "removed", "changed" };

			printf("  ");
			put_safe(stdout, pin_change_path(c));
			printf(" %s:\n", what[c->kind]);
			if (c->old_value)
				show_value("-", c->old_value);
			if (c->new_value)
				show_value("+", c->new_value);
		}
		if (d.more)
			printf("  ... and %zu more changes\n", d.more);
		pin_diff_release(&d);
	}
}

static int load_target(struct pin_store *st, const struct opts *o, struct pin_server **s,
		       const char **spec)
{
	char server[128];
	struct mg_err err;
	int rc;

	if (!o->target) {
		fprintf(stderr, "mcpguard: pins %s: which server? (pins %s SERVER[/NAME])\n\n%s", o->cmd,
			o->cmd, pins_usage);
		return CLI_USAGE;
	}
	if ((rc = split_target(o->target, server, sizeof(server), spec)))
		return rc;
	if (pin_store_load(st, server, s, &err)) {
		fprintf(stderr, "mcpguard: %s\n", err.msg);
		return CLI_USAGE;
	}
	if (!(*s)->exists) {
		fprintf(stderr, "mcpguard: no pins for server '%s' in %s\n", server, pin_store_dir(st));
		pin_server_free(*s);
		*s = NULL;
		return CLI_FAIL;
	}
	return 0;
}

static int no_item(const struct pin_server *s, const char *spec)
{
	char p[1024];

	pin_printable(spec, p, sizeof(p));
	fprintf(stderr, "mcpguard: server '%s' has no pinned item '%s' (see mcpguard pins ls %s)\n",
		s->name, p, s->name);
	return CLI_FAIL;
}

static int cmd_diff(struct pin_store *st, const struct opts *o)
{
	struct pin_server *s;
	const char *spec;
	size_t shown = 0;
	int rc;

	if ((rc = load_target(st, o, &s, &spec)))
		return rc;
	if (spec) {
		struct pin_item *it = find_spec(s, spec);

		if (!it) {
			rc = no_item(s, spec);
		} else if (!it->has_pending) {
			char ref[1200], t[32];

			ref_of(s->name, it->key, ref, sizeof(ref));
			pin_time_format(it->pinned_at, t, sizeof(t));
			fprintf(stderr, "mcpguard: %s: nothing waits; %s\n", ref, it->has_pin
				? "its pin is what the server lists" : "only rejected definitions");
			rc = CLI_FAIL;
		} else {
			show_pending(s, it, o->full ? 0 : DIFF_WIDTH);
			shown++;
		}
	} else {
		for (size_t i = 0; i < s->n_items; i++) {
			if (!s->items[i].has_pending)
				continue;
			if (shown++)
				putchar('\n');
			show_pending(s, &s->items[i], o->full ? 0 : DIFF_WIDTH);
		}
		if (!shown) {
			fprintf(stderr, "mcpguard: nothing of server '%s' waits for a decision\n", s->name);
			rc = CLI_FAIL;
		}
	}
	pin_server_free(s);
	return rc;
}

/* ---- approve, reject, forget ---- */

struct change {
	const struct opts *o;
	const char *spec;
	int what;                       /* 0 approve, 1 reject, 2 forget */
	struct mg_buf done;             /* lines to print */
	size_t n;
	bool no_such;
};

static void note(struct change *c, const char *server, const struct pin_item *it, const char *sha)
{
	static const char *const verbs[] = { "approved", "rejected", "forgot" };
	static const char *const after[] = { "", ": it stays quarantined",
					     ": the next sight pins it again" };
	char ref[1200];

	ref_of(server, it->key, ref, sizeof(ref));
	mg_buf_addf(&c->done, "%s %s", verbs[c->what], ref);
	if (sha)
		mg_buf_addf(&c->done, " (sha256 %.12s)", sha);
	mg_buf_addf(&c->done, "%s\n", after[c->what]);
	c->n++;
}

static int apply_one(struct change *c, struct pin_server *s, struct pin_item *it, struct mg_err *err)
{
	int64_t now = pin_now();
	char sha[65] = "";

	switch (c->what) {
	case 0:
		if (!it->has_pending)
			return 0;
		if (c->o->hash && !mg_starts_with(it->pending.sha256, c->o->hash)) {
			char ref[1200];

			ref_of(s->name, it->key, ref, sizeof(ref));
			return mg_err_set(err, -ESTALE, "what waits for %s is %.16s..., not %s: it "
					  "changed since you looked; see 'mcpguard pins diff %s' again",
					  ref, it->pending.sha256, c->o->hash, ref);
		}
		mg_strlcpy(sha, it->pending.sha256, sizeof(sha));
		pin_item_approve(it, now);
		note(c, s->name, it, sha);
		return 1;
	case 1:
		if (!it->has_pending)
			return 0;
		mg_strlcpy(sha, it->pending.sha256, sizeof(sha));
		pin_item_reject(it, now);
		note(c, s->name, it, sha);
		return 1;
	default:
		note(c, s->name, it, NULL);
		pin_server_drop(s, it->key);
		return 1;
	}
}

static int change_fn(void *ctx, struct pin_server *s, struct mg_err *err)
{
	struct change *c = ctx;
	int rc, changed = 0;

	mg_buf_reset(&c->done);
	c->n = 0;
	c->no_such = false;
	if (c->spec) {
		struct pin_item *it = find_spec(s, c->spec);

		if (!it) {
			c->no_such = true;
			return 0;
		}
		return apply_one(c, s, it, err);
	}
	for (size_t i = 0; i < s->n_items;) {
		size_t before = s->n_items;

		if ((rc = apply_one(c, s, &s->items[i], err)) < 0)
			return rc;
		changed |= rc;
		if (s->n_items == before)       /* forget drops the item in place */
			i++;
	}
	return changed;
}

static int cmd_change(struct pin_store *st, const struct opts *o, int what)
{
	struct change c = { .o = o, .what = what };
	char server[128];
	struct pin_server *after = NULL;
	struct mg_err err;
	int rc;

	if (!o->target) {
		fprintf(stderr, "mcpguard: pins %s: which server? (pins %s SERVER[/NAME])\n\n%s", o->cmd,
			o->cmd, pins_usage);
		return CLI_USAGE;
	}
	if ((rc = split_target(o->target, server, sizeof(server), &c.spec)))
		return rc;
	if (o->hash && (what != 0 || !c.spec)) {
		fprintf(stderr, "mcpguard: --hash goes with pins approve SERVER/NAME\n");
		return CLI_USAGE;
	}
	if (o->hash && (strlen(o->hash) < 8 || strlen(o->hash) > 64 ||
			strspn(o->hash, "0123456789abcdef") != strlen(o->hash))) {
		fprintf(stderr, "mcpguard: --hash: '%s' is not 8 to 64 lower-case hex digits\n", o->hash);
		return CLI_USAGE;
	}
	if (what == 2 && !c.spec) {
		if (pin_store_remove(st, server, &err)) {
			fprintf(stderr, "mcpguard: %s\n", err.msg);
			return CLI_FAIL;
		}
		printf("forgot every pin of %s: the next sight pins again\n", server);
		return CLI_OK;
	}
	if (!pin_store_dir(st) || access(pin_store_dir(st), F_OK) != 0) {
		fprintf(stderr, "mcpguard: no pins for server '%s' in %s\n", server, pin_store_dir(st));
		return CLI_FAIL;
	}
	mg_buf_init(&c.done, 1 << 20);
	rc = pin_store_update(st, server, change_fn, &c, &after, &err);
	if (rc < 0) {
		fprintf(stderr, "mcpguard: %s\n", err.msg);
		rc = rc == -ESTALE ? CLI_FAIL : CLI_USAGE;
	} else if (c.n) {
		fputs(c.done.data, stdout);
		rc = CLI_OK;
	} else if (!after || !after->exists) {
		fprintf(stderr, "mcpguard: no pins for server '%s' in %s\n", server, pin_store_dir(st));
		rc = CLI_FAIL;
	} else if (c.no_such) {
		rc = no_item(after, c.spec);
	} else {
		fprintf(stderr, "mcpguard: nothing %s waits for a decision\n", c.spec ? "of that item"
			: "of that server");
		rc = CLI_FAIL;
	}
	pin_server_free(after);
	mg_buf_release(&c.done);
	return rc;
}

int cli_pins(int argc, char **argv)
{
	struct opts o = { .cmd = argc > 1 ? argv[1] : NULL };
	struct pin_store *st = NULL;
	struct mg_err err;
	int rc;

	if (!o.cmd || strcmp(o.cmd, "--help") == 0 || strcmp(o.cmd, "-h") == 0) {
		fputs(pins_usage, o.cmd ? stdout : stderr);
		return o.cmd ? CLI_OK : CLI_USAGE;
	}
	if (strcmp(o.cmd, "ls") && strcmp(o.cmd, "diff") && strcmp(o.cmd, "approve") &&
	    strcmp(o.cmd, "reject") && strcmp(o.cmd, "forget")) {
		fprintf(stderr, "mcpguard: unknown pins command '%s'\n\n%s", o.cmd, pins_usage);
		return CLI_USAGE;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(pins_usage, stdout);
			return CLI_OK;
		} else if (strcmp(argv[i], "--pin-store") == 0 && i + 1 < argc) {
			o.dir = argv[++i];
		} else if (strcmp(argv[i], "--hash") == 0 && i + 1 < argc && !strcmp(o.cmd, "approve")) {
			o.hash = argv[++i];
		} else if (strcmp(argv[i], "--json") == 0 && !strcmp(o.cmd, "ls")) {
			o.json = true;
		} else if (strcmp(argv[i], "--full") == 0 && !strcmp(o.cmd, "diff")) {
			o.full = true;
		} else if (argv[i][0] != '-' && !o.target) {
			o.target = argv[i];
		} else {
			fprintf(stderr, "mcpguard: pins %s: unexpected '%s'\n\n%s", o.cmd, argv[i],
				pins_usage);
			return CLI_USAGE;
		}
	}
	if (pin_store_open(&st, o.dir, false, &err)) {
		fprintf(stderr, "mcpguard: %s\n", err.msg);
		return CLI_USAGE;
	}
	if (strcmp(o.cmd, "ls") == 0)
		rc = cmd_ls(st, &o);
	else if (strcmp(o.cmd, "diff") == 0)
		rc = cmd_diff(st, &o);
	else
		rc = cmd_change(st, &o, strcmp(o.cmd, "approve") == 0 ? 0
				: strcmp(o.cmd, "reject") == 0 ? 1 : 2);
	pin_store_close(st);
	return rc;
}
