/* pins/store: the pin store, what each server's definitions looked like
 * when they were approved, durable across runs and shared between a
 * running gateway and the CLI.
 *
 * One file per server, DIR/<server>.json (DIR defaults to
 * $XDG_CONFIG_HOME/mcpguard/pins; folder 0700, files 0600), written with
 * one line per item (any JSON of this shape is read):
 *
 *   { "mcpguard-pins": 1, "server": "fs",
 *     "items": {
 *       "tool/read_file": {
 *         "pinned":  { "sha256": H, "at": T, "how": "first-sight"|"approved",
 *                      "definition": {...} },
 *         "pending": { "sha256": H, "first_seen": T, "last_seen": T,
 *                      "definition": {...} },
 *         "rejected": [ { "sha256": H, "at": T } ] } } }
 *
 * An item is keyed by kind and name: tool/NAME, prompt/NAME, resource/URI,
 * resource-template/TEMPLATE, instructions.  H is the SHA-256 of the
 * definition's canonical JSON (json/canon, RFC 8785), T an RFC 3339 UTC
 * time.  "pinned" is the approved definition, "pending" a different one
 * seen since (what approve promotes and reject drops), "rejected" the
 * hashes refused, kept so that they stay quarantined without being
 * reported as new again.
 *
 * Each change is a read-modify-write of one file under an exclusive
 * flock(2) of DIR/.lock, written to a temporary file, fsynced, renamed
 * over the old one, and the folder fsynced: readers never see half a file
 * and a crash leaves the old one.  Reading takes no lock.  A file that
 * cannot be read, does not parse, has a hash that does not match its
 * definition, or is writable by others is an error naming the file,
 * never an empty store: the pin check withholds that server's definitions
 * until it is fixed (or forgotten). */
#ifndef MG_PINS_STORE_H
#define MG_PINS_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "guard/check.h"

#define PIN_FILE_MAX (16u << 20)        /* one server's file */
#define PIN_MAX_REJECTED 32             /* per item; the oldest go first */

enum pin_how { PIN_FIRST_SIGHT, PIN_APPROVED };

struct pin_def {
	char sha256[65];
	json_t *def;            /* owned */
};

struct pin_reject {
	char sha256[65];
	int64_t at;             /* ms since the epoch */
};

struct pin_item {
	char *key;              /* owned */
	bool has_pin;
	struct pin_def pin;
	int64_t pinned_at;
	enum pin_how how;
	bool has_pending;
	struct pin_def pending;
	int64_t first_seen, last_seen;
	struct pin_reject rejected[PIN_MAX_REJECTED];
	size_t n_rejected;
	char *text;             /* its line in the file, kept until it changes (store.c's;
				   change items only with the functions below) */
};

/* One server's file. */
struct pin_server {
	char *name;
	bool exists;            /* the file was there */
	struct pin_item *items; /* sorted by key (strcmp) */
	size_t n_items;
	char *text;             /* the file's bytes as read or written (owned) */
	size_t text_len;
};

struct pin_store;

/* The default folder (caller frees). */
char *pin_store_default_dir(void);
/* A store in dir (NULL: the default).  With create, the folder is made
 * (0700).  A folder that is not there is an empty store.  0 or -errno. */
int pin_store_open(struct pin_store **out, const char *dir, bool create, struct mg_err *err);
void pin_store_close(struct pin_store *st);
const char *pin_store_dir(const struct pin_store *st);
/* The file of a server (caller frees). */
char *pin_store_path(const struct pin_store *st, const char *server);

/* Read a server's file.  No file: 0 with an empty server (exists false).
 * 0 or -errno with err naming the file. */
int pin_store_load(struct pin_store *st, const char *server, struct pin_server **out,
		   struct mg_err *err);
/* Change a server's file: under the lock, read it, call fn, and when fn
 * returns > 0 write the result (a server left with no items has its file
 * removed).  fn returns > 0 (changed), 0 (nothing to write) or -errno
 * (nothing written; passed on).  With out, the server as it is afterwards
 * is handed over (caller frees).  fn's value, or -errno with err. */
typedef int (*pin_update_fn)(void *ctx, struct pin_server *s, struct mg_err *err);
int pin_store_update(struct pin_store *st, const char *server, pin_update_fn fn, void *ctx,
		     struct pin_server **out, struct mg_err *err);
/* The same on a copy in hand (*s, from a load or an earlier update, or
 * NULL): when the file is still byte for byte what *s was read or written
 * as, fn works on *s without parsing the file again (a gateway pinning a
 * server's tools one by one pays one write each, not one parse of the
 * growing file each).  *s is replaced by the server as it is afterwards,
 * or NULL after an error. */
int pin_store_update_cached(struct pin_store *st, const char *server, struct pin_server **s,
			    pin_update_fn fn, void *ctx, struct mg_err *err);
/* Remove a server's file, read or not (a broken one too).  -ENOENT when
 * there is none. */
int pin_store_remove(struct pin_store *st, const char *server, struct mg_err *err);
/* The servers that have a file, sorted; NULL-terminated (mg_strv_free). */
int pin_store_servers(struct pin_store *st, char ***out, struct mg_err *err);

void pin_server_free(struct pin_server *s);
struct pin_item *pin_server_find(const struct pin_server *s, const char *key);
/* Find or add (empty). */
struct pin_item *pin_server_item(struct pin_server *s, const char *key);
/* Drop an item; false when there was none. */
bool pin_server_drop(struct pin_server *s, const char *key);

/* Item changes; def is copied (deep), now is ms since the epoch. */
void pin_item_set_pin(struct pin_item *it, const char *sha256, const json_t *def,
		      enum pin_how how, int64_t now);
/* Record def as pending: a new one replaces the one before; the same one
 * only moves last_seen, and only when it is older than a minute (false:
 * nothing to write, so a review does not rewrite the file each time). */
bool pin_item_set_pending(struct pin_item *it, const char *sha256, const json_t *def,
			  int64_t now);
/* Promote the pending definition to the pin (approved).  -ENOENT: none. */
int pin_item_approve(struct pin_item *it, int64_t now);
/* Drop the pending definition and remember its hash.  -ENOENT: none. */
int pin_item_reject(struct pin_item *it, int64_t now);
bool pin_item_is_rejected(const struct pin_item *it, const char *sha256);

/* ---- keys and names ---- */

/* Item key of a definition ("tool/read_file", "instructions"); caller
 * frees. */
char *pin_key(enum gd_def_kind kind, const char *name);
/* The key a person means by NAME in SERVER/NAME: "prompt/x",
 * "resource/URI", "resource-template/T", "tool/x" and "instructions" as
 * they are, anything else a tool's name.  Caller frees. */
char *pin_key_from_spec(const char *spec);
/* "tool 'read_file'", "the instructions", for messages (control
 * characters shown as '?'). */
void pin_key_describe(const char *key, char *out, size_t size);
/* Server names as the catalog allows them (a safe file name). */
bool pin_server_name_ok(const char *name);
/* Copy s with control characters as '?' (for messages and terminals). */
void pin_printable(const char *s, char *out, size_t size);

/* ms since the epoch, now; and as RFC 3339 (out: 32 bytes). */
int64_t pin_now(void);
void pin_time_format(int64_t ms, char *out, size_t size);

/* Tests only: called after the temporary file is written and synced,
 * before the rename (a test's child _exits here to play a crash). */
extern void (*pin_store_test_before_rename)(const char *tmp_path);

#endif
