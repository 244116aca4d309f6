/* Catalogs: Docker's MCP catalog YAML (`registry: {NAME: {...}}`), read
 * into typed server definitions.  Keys of Docker's format that mcpguard does
 * not act on yet are accepted with a warning; unknown keys too.  See
 * docs/catalog.md for every field. */
#ifndef MG_CATALOG_H
#define MG_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

enum cat_lifecycle {
	CAT_PER_SESSION = 0,    /* default: one instance per client session */
	CAT_PER_CALL,           /* a fresh instance for every call */
	CAT_SHARED,             /* one instance for every session */
};

struct cat_env {
	char *name;
	char *value;
};

struct cat_secret {
	char *name;             /* e.g. "github.personal_access_token" */
	char *env;              /* variable to inject it as */
};

struct cat_server {
	char *name;             /* registry key */
	char *title;            /* may be NULL */
	char *description;      /* may be NULL */
	char *image;            /* Docker image (needs a container runtime); may be NULL */
	char **command;         /* argv, NULL-terminated; NULL if absent */
	struct cat_env *env;    /* n_env entries */
	size_t n_env;
	struct cat_secret *secrets;
	size_t n_secrets;
	char **tools;           /* allowlist of tool names from `tools:`; NULL = all */
	char *prefix;           /* explicit tool/prompt name prefix; may be NULL */
	char *cwd;              /* working directory; may be NULL */
	enum cat_lifecycle lifecycle;
	bool lifecycle_set;     /* given explicitly (lifecycle: or longLived:) */
	uint64_t timeout_ms;    /* per-request deadline; 0 = gateway default */
	uint64_t startup_timeout_ms; /* 0 = gateway default */
	char *source;           /* "file:line" where it was defined, for messages */
	/* Remote servers (Docker's remote: {url, transport_type, headers} or
	 * sseEndpoint:): reached over HTTP instead of started. */
	char *remote_url;       /* NULL for a local server */
	bool remote_sse;        /* the legacy HTTP+SSE transport (2024-11-05) */
	char **remote_headers;  /* "Name: value", NULL-terminated; may be NULL */
	/* The sandbox every local server runs in (docs/catalog.md). */
	char **volumes;         /* "host:inside[:ro|rw]" as written; may be NULL */
	char **allow_hosts;     /* egress "host:port" (Docker's /http|/https|/tcp cut) */
	bool disable_network;   /* no egress even with allow_hosts */
	bool unsandboxed;       /* sandbox: false (runs only with --allow-unsandboxed) */
	uint64_t memory_bytes;  /* memory:; 0 = the gateway's --memory */
	double cpus;            /* cpus:; 0 = the gateway's --cpus */
	unsigned pids;          /* pids:; 0 = the gateway's --pids */
};

struct catalog {
	struct cat_server *servers;     /* in file order; later files may replace */
	size_t n_servers;
};

void catalog_init(struct catalog *c);
void catalog_release(struct catalog *c);

/* Load a catalog file and merge it into c (an entry with a name already
 * present replaces it, as in Docker: the last catalog wins).  Warnings go to
 * the log.  0, or a negative errno with err describing the problem
 * (file:line:column: message). */
int catalog_load_file(struct catalog *c, const char *path, struct mg_err *err);
/* The same from memory; origin names it in messages. */
int catalog_load_string(struct catalog *c, const char *text, size_t len, const char *origin,
			struct mg_err *err);
/* The catalog compiled into the binary (used when no --catalog is given). */
const char *catalog_builtin_default(void);

/* A deep copy of one server definition, and its release. */
struct cat_server *cat_server_dup(const struct cat_server *s);
void cat_server_free(struct cat_server *s);

const struct cat_server *catalog_find(const struct catalog *c, const char *name);
const char *cat_lifecycle_name(enum cat_lifecycle lc);

#endif
