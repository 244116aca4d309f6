/* The secrets of one gateway run (cli/secrets.c): their values, their
 * owners, and the leak check that keeps them with their owners. */
#ifndef MG_CLI_SECRETS_H
#define MG_CLI_SECRETS_H

#include "base/err.h"
#include "catalog/catalog.h"
#include "gateway/gateway.h"
#include "guard/leak_check.h"

struct cli_secrets {
	char **names;           /* every secret a catalog entry names */
	char ***owners;         /* per name: the servers that name it */
	size_t n;
	struct gw_secret *list; /* those with a value (names borrowed from names) */
	char **values;
	size_t n_values;
};

/* Find the value of every secret cat names (--secrets files, then the
 * store in store_dir or its default, then the environment).  A secret
 * with no value is left out (the gateway warns).  0 or -errno with err
 * (an unreadable file, a store that does not open). */
int cli_secrets_load(struct cli_secrets *cs, const struct catalog *cat, char *const *files,
		     const char *store_dir, struct mg_err *err);
/* The leak check for these secrets. */
int cli_secrets_check(struct cli_secrets *cs, enum gd_leak_mode mode, struct gd_check **out,
		      struct mg_err *err);
void cli_secrets_release(struct cli_secrets *cs);

#endif
