/* catalog/secrets: the gateway's secret store, encrypted at rest.
 *
 * One file, secrets.enc, in the store's folder (as root /etc/mcpguard,
 * else $XDG_CONFIG_HOME/mcpguard): a header, then the names, values and
 * dates as JSON sealed with libsodium's secretbox (XSalsa20-Poly1305,
 * authenticated: a changed byte or a wrong key is an error, never
 * garbage).  The key is 32 random bytes in secrets.key (mode 0600, made
 * on first use), or, when MCPGUARD_SECRETS_PASSPHRASE is set, derived from
 * the passphrase with Argon2id and a salt kept in the header.  Writes are
 * atomic (temporary file, fsync, rename). */
#ifndef MG_CATALOG_SECRETS_H
#define MG_CATALOG_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct sec_store;

struct sec_entry {
	char *name;
	char *value;            /* NUL-terminated; len bytes */
	size_t len;
	int64_t created, updated;       /* Unix seconds */
};

/* The default folder for this user (caller frees). */
char *sec_store_default_dir(void);
/* Open (or, with create, make on first use) the store in dir.  A store
 * that exists but does not open with this key or passphrase is -EACCES
 * with a message that says so.  0 or -errno with err. */
int sec_store_open(struct sec_store **out, const char *dir, bool create, struct mg_err *err);
void sec_store_close(struct sec_store *st);
/* Names must match [A-Za-z_][A-Za-z0-9_.-]{0,127}. */
int sec_store_set(struct sec_store *st, const char *name, const char *value, size_t len,
		  struct mg_err *err);
/* -ENOENT when there is no such secret. */
int sec_store_rm(struct sec_store *st, const char *name, struct mg_err *err);
/* Entries in name order; valid until the next change or close. */
size_t sec_store_count(const struct sec_store *st);
const struct sec_entry *sec_store_at(const struct sec_store *st, size_t i);
const struct sec_entry *sec_store_get(const struct sec_store *st, const char *name);
bool sec_name_ok(const char *name);

#endif
