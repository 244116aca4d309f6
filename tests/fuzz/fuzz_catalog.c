/* libFuzzer harness for the catalog loader (src/catalog/catalog.c).
 * Catalog files can come from anywhere (a colleague, a download), so the
 * loader must refuse bad input cleanly: no crash, no leak, no sanitizer
 * report, an error message that names the place, and on success a catalog
 * whose invariants hold.  Seeds: tests/fuzz/corpus/catalog/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "catalog/catalog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct catalog *c)
{
	for (size_t i = 0; i < c->n_servers; i++) {
		const struct cat_server *s = &c->servers[i];

		/* Names are unique: a second load replaced, never duplicated. */
		if (!s->name || !s->source || catalog_find(c, s->name) != s)
			abort();
		if (strstr(s->name, "__") || (s->command && !s->command[0]))
			abort();
		for (size_t k = 0; k < s->n_env; k++)
			if (!s->env[k].name || !s->env[k].value || strchr(s->env[k].name, '='))
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char origin[] = "fuzz.yaml";
	struct catalog c;
	struct mg_err err = { { 0 } };
	size_t n;

	/* Unknown keys warn on stderr; thousands of runs would drown the output. */
	mg_log_set_level(MG_LOG_QUIET);
	catalog_init(&c);
	if (catalog_load_string(&c, (const char *)data, size, origin, &err) == 0) {
		n = c.n_servers;
		check(&c);
		/* The same text again: every entry replaces itself. */
		if (catalog_load_string(&c, (const char *)data, size, origin, &err) != 0 ||
		    c.n_servers != n)
			abort();
		check(&c);
	} else if (strncmp(err.msg, origin, strlen(origin)) != 0) {
		abort(); /* every error names the file */
	}
	catalog_release(&c);
	return 0;
}
