/* pins/pin_check: pinned definitions, changed ones quarantined (see
 * pin_check.h). */
#include "pins/pin_check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/map.h"
#include "base/mem.h"
#include "base/str.h"
#include "json/canon.h"
#include "pins/diff.h"
#include "pins/store.h"

#define CHECK_NAME "pins"

struct pin_check {
	struct gd_def_check base;       /* first: the gateway holds this */
	struct pin_store *st;
	enum pin_mode mode;
	struct mg_map cache;            /* server name -> struct pin_server * (owned) */
	bool load_failed;               /* a file could not be read since the last reload */
};

enum outcome { OUT_KEEP, OUT_PINNED, OUT_NEW, OUT_CHANGED, OUT_REJECTED };

static enum outcome classify(const struct pin_item *it, const char *sha)
{
	if (it && it->has_pin && strcmp(it->pin.sha256, sha) == 0)
		return OUT_KEEP;
	if (it && pin_item_is_rejected(it, sha))
		return OUT_REJECTED;
	if (!it || !it->has_pin)
		return OUT_NEW;
	return OUT_CHANGED;
}

/* ---- the cache of servers' files ---- */

static void cache_put(struct pin_check *pc, struct pin_server *s)
{
	pin_server_free(mg_map_puts(&pc->cache, s->name, s));
}

static void cache_clear(struct pin_check *pc)
{
	const char *k;
	size_t klen;
	void *v;

	for (size_t i = 0; mg_map_next(&pc->cache, &i, &k, &klen, &v);)
		pin_server_free(v);
	mg_map_release(&pc->cache);
	mg_map_init(&pc->cache);
}

static struct pin_server *server_of(struct pin_check *pc, const char *name, struct mg_err *err)
{
	struct pin_server *s = mg_map_gets(&pc->cache, name);

	if (s)
		return s;
	if (pin_store_load(pc->st, name, &s, err)) {
		pc->load_failed = true;
		return NULL;            /* not cached: read again next time */
	}
	cache_put(pc, s);
	return s;
}

/* ---- deciding under the store's lock ---- */

struct decide {
	struct pin_check *pc;
	const char *key, *sha;
	const json_t *def;
	enum outcome outcome;
	json_t *pinned;                 /* for a change: the pinned definition (a reference) */
};

/* The same decision as on the cached copy, made again on the file as it
 * is now (another process may have pinned, approved or rejected since). */
static int decide(void *ctx, struct pin_server *s, struct mg_err *err)
{
	struct decide *x = ctx;
	struct pin_item *it = pin_server_find(s, x->key);
	int64_t now = pin_now();

	x->outcome = classify(it, x->sha);
	switch (x->outcome) {
	case OUT_NEW:
		it = pin_server_item(s, x->key);
		if (x->pc->mode == PIN_MODE_TOFU) {
			pin_item_set_pin(it, x->sha, x->def, PIN_FIRST_SIGHT, now);
			x->outcome = OUT_PINNED;
			return 1;
		}
		return pin_item_set_pending(it, x->sha, x->def, now) ? 1 : 0;
	case OUT_CHANGED:
		x->pinned = json_incref(it->pin.def);
		return pin_item_set_pending(it, x->sha, x->def, now) ? 1 : 0;
	case OUT_KEEP:
	case OUT_REJECTED:
	case OUT_PINNED:
	default:
		return 0;
	}
}

/* ---- what clients and the audit log are told ---- */

/* "fs/read_file" for a tool, "fs/prompt/x", "fs/instructions" otherwise:
 * what the CLI takes. */
static void ref_of(const char *server, const char *key, char *out, size_t size)
{
	char k[400];

	pin_printable(mg_starts_with(key, "tool/") ? key + 5 : key, k, sizeof(k));
	snprintf(out, size, "%s/%s", server, k);
}

static void tell(const struct gd_def *d, const char *key, enum outcome o, const json_t *pinned,
		 struct gd_def_out *out)
{
	bool instr = d->kind == GD_DEF_INSTRUCTIONS;
	const char *it = instr ? "they" : "it", *is = instr ? "are" : "is";
	char what[420], ref[480], paths[512], detail[192];
	size_t fixed;

	if (instr)
		snprintf(what, sizeof(what), "the instructions");
	else
		pin_key_describe(key, what, sizeof(what));
	ref_of(d->server, key, ref, sizeof(ref));
	if (o == OUT_REJECTED) {
		gd_def_out_finding(out, CHECK_NAME, "definition-rejected", "%s: a rejected definition",
				   what);
		gd_def_out_withhold(out, "%s of server '%s' match%s a rejected definition; %s "
				    "stay%s quarantined (`mcpguard pins forget %s` to decide again)",
				    what, d->server, instr ? "" : "es", it, instr ? "" : "s", ref);
		return;
	}
	if (o == OUT_NEW) {
		gd_def_out_finding(out, CHECK_NAME, "definition-new", "%s: not approved yet", what);
		gd_def_out_withhold(out, "%s of server '%s' %s new and not approved yet; %s %s withheld. "
				    "See `mcpguard pins diff %s`; allow %s with `mcpguard pins approve %s`",
				    what, d->server, is, it, is, ref, instr ? "them" : "it", ref);
		return;
	}
	/* changed: the paths, in what room the rest leaves (of the reason, and
	 * of the finding's detail) */
	paths[0] = detail[0] = '\0';
	if (!instr) {
		struct pin_diff diff;
		size_t room = sizeof(detail) - strlen(what) - 2;

		fixed = strlen(what) + strlen(d->server) + 2 * strlen(ref) + 160;
		if (pin_diff(pinned, d->def, 0, &diff) == 0) {
			pin_diff_summary(&diff, paths, fixed < sizeof(out->reason) - 40
					 ? sizeof(out->reason) - fixed : 40);
			if (strlen(what) + 16 < sizeof(detail))
				pin_diff_summary(&diff, detail, room);
		}
		pin_diff_release(&diff);
	}
	gd_def_out_finding(out, CHECK_NAME, "definition-changed", "%s: %s", what,
			   detail[0] ? detail : "changed");
	gd_def_out_withhold(out, "%s of server '%s' changed since %s %s pinned%s%s%s; %s %s "
			    "quarantined. See `mcpguard pins diff %s`; allow %s with "
			    "`mcpguard pins approve %s`", what, d->server, it, instr ? "were" : "was",
			    paths[0] ? " (" : "", paths, paths[0] ? ")" : "", it, is, ref,
			    instr ? "them" : "it", ref);
}

static int review(struct gd_def_check *c, const struct gd_def *d, struct gd_def_out *out)
{
	struct pin_check *pc = (struct pin_check *)c;
	struct decide x = { .pc = pc, .def = d->def };
	struct pin_server *s, *after = NULL;
	struct mg_err err = { { 0 } };
	char sha[65], what[420], *key;
	int rc;

	if (!d->server || !d->def)
		return -EINVAL;
	if ((rc = mg_canon_sha256_hex(d->def, sha)))
		return rc;
	key = pin_key(d->kind, d->name);
	x.key = key;
	x.sha = sha;
	s = server_of(pc, d->server, &err);
	if (!s) {
		gd_def_out_finding(out, CHECK_NAME, "pin-store-unreadable", "%.180s", err.msg);
		gd_def_out_withhold(out, "the definitions of server '%s' are withheld: %s. Fix or "
				    "remove that file (`mcpguard pins forget %s` removes it; what the "
				    "server lists is then pinned again)", d->server, err.msg, d->server);
		goto out;
	}
	x.outcome = classify(pin_server_find(s, key), sha);
	if (x.outcome == OUT_KEEP)
		goto out;
	if (x.outcome != OUT_REJECTED) {
		after = mg_map_dels(&pc->cache, d->server);     /* s: taken, and given back */
		rc = pin_store_update_cached(pc->st, d->server, &after, decide, &x, &err);
		if (rc < 0) {
			gd_def_out_finding(out, CHECK_NAME, "pin-store-unwritable", "%.180s", err.msg);
			pin_key_describe(key, what, sizeof(what));
			gd_def_out_withhold(out, "%s of server '%s' cannot be checked against its pin "
					    "(%s); withheld", what, d->server, err.msg);
			rc = 0;
			goto out;
		}
		rc = 0;
		cache_put(pc, after);
	}
	if (x.outcome != OUT_KEEP && x.outcome != OUT_PINNED)
		tell(d, key, x.outcome, x.pinned, out);
out:
	json_decref(x.pinned);
	free(key);
	return rc;
}

static const char *watch(struct gd_def_check *c)
{
	return pin_store_dir(((struct pin_check *)c)->st);
}

static bool same_def(bool has_a, const struct pin_def *a, bool has_b, const struct pin_def *b)
{
	return has_a == has_b && (!has_a || strcmp(a->sha256, b->sha256) == 0);
}

/* The same decisions follow from a and b (times aside). */
static bool same_server(const struct pin_server *a, const struct pin_server *b)
{
	if (a->exists != b->exists || a->n_items != b->n_items)
		return false;
	for (size_t i = 0; i < a->n_items; i++) {
		const struct pin_item *x = &a->items[i], *y = &b->items[i];

		if (strcmp(x->key, y->key) != 0 || !same_def(x->has_pin, &x->pin, y->has_pin, &y->pin) ||
		    !same_def(x->has_pending, &x->pending, y->has_pending, &y->pending) ||
		    x->n_rejected != y->n_rejected)
			return false;
		for (size_t r = 0; r < x->n_rejected; r++)
			if (strcmp(x->rejected[r].sha256, y->rejected[r].sha256) != 0)
				return false;
	}
	return true;
}

/* The files read again; true when one says something the cached copy did
 * not (an approval from the CLI), not when it holds what this check wrote. */
static bool reload(struct gd_def_check *c)
{
	struct pin_check *pc = (struct pin_check *)c;
	bool moved = pc->load_failed;
	struct mg_map fresh;
	const char *k;
	size_t klen;
	void *v;

	pc->load_failed = false;
	mg_map_init(&fresh);
	for (size_t i = 0; mg_map_next(&pc->cache, &i, &k, &klen, &v);) {
		struct pin_server *now = NULL;
		struct mg_err err;

		if (pin_store_load(pc->st, ((struct pin_server *)v)->name, &now, &err)) {
			moved = true;
			continue;
		}
		moved = moved || !same_server(v, now);
		mg_map_puts(&fresh, now->name, now);
	}
	/* what is known now is the files as they are */
	cache_clear(pc);
	mg_map_release(&pc->cache);
	pc->cache = fresh;
	return moved;
}

static void check_free(struct gd_def_check *c)
{
	struct pin_check *pc = (struct pin_check *)c;

	if (!pc)
		return;
	cache_clear(pc);
	mg_map_release(&pc->cache);
	pin_store_close(pc->st);
	free(pc);
}

int pin_check_new(struct gd_def_check **out, const char *dir, enum pin_mode mode,
		  struct mg_err *err)
{
	struct pin_check *pc = MG_NEW(struct pin_check);
	int rc;

	*out = NULL;
	if ((rc = pin_store_open(&pc->st, dir, true, err))) {
		free(pc);
		return rc;
	}
	pc->mode = mode;
	mg_map_init(&pc->cache);
	pc->base.name = CHECK_NAME;
	pc->base.review = review;
	pc->base.watch = watch;
	pc->base.reload = reload;
	pc->base.free = check_free;
	*out = &pc->base;
	return 0;
}

int pin_mode_parse(const char *s, enum pin_mode *out)
{
	if (mg_streq(s, "tofu"))
		*out = PIN_MODE_TOFU;
	else if (mg_streq(s, "approve"))
		*out = PIN_MODE_APPROVE;
	else
		return -EINVAL;
	return 0;
}
