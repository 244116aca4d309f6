/* The gateway: client sessions on one side, upstream server instances on
 * the other, and the routing between them.  Transports hand it framed
 * lines through a session; it never touches sockets itself. */
#ifndef MG_GATEWAY_H
#define MG_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "audit/audit.h"
#include "base/buf.h"
#include "base/err.h"
#include "catalog/catalog.h"

enum gw_prefix_mode { GW_PREFIX_AUTO, GW_PREFIX_ALWAYS, GW_PREFIX_NEVER };

struct gw_config {
	enum gw_prefix_mode prefix;
	char **tool_patterns;           /* --tools; NULL = all (borrowed) */
	size_t page_size;               /* items per list page to the client */
	size_t max_message;             /* bytes per JSON-RPC message, each direction */
	uint64_t timeout_ms;            /* default per-request deadline */
	uint64_t startup_timeout_ms;    /* spawn to initialize result */
	uint64_t human_timeout_ms;      /* sampling / elicitation wait on a person */
	const char *cache_dir;          /* NULL: no list cache (borrowed) */
	struct aud_log *audit;          /* may be NULL (borrowed) */
	bool log_calls;                 /* human summary of each call on stderr */
	char *const *base_env;          /* variables passed from the gateway's own
					   environment to servers (borrowed) */
	/* Sandboxes (every local server runs in one). */
	bool allow_unsandboxed;         /* servers with sandbox: false may run */
	uint64_t memory_bytes;          /* default limits; a server's own win */
	double cpus;
	unsigned pids;
	const char *workspace_dir;      /* one persistent folder per server; NULL:
					   a temporary /workspace (borrowed) */
	const char *npm_dir;            /* where npx packages are installed */
	/* What every message passes before it leaves (gateway/pipeline.c), in
	 * order; owned by the caller, alive as long as the gateway. */
	struct gd_check *const *checks;
	size_t n_checks;
	/* What every definition a server lists, and its instructions, pass
	 * before clients see them (gateway/review.c), in order; owned by the
	 * caller, alive as long as the gateway. */
	struct gd_def_check *const *def_checks;
	size_t n_def_checks;
	/* Secret values the gateway may hand to servers: a catalog entry's
	 * `secrets:` go into that server's environment, ${NAME} in a remote
	 * server's headers takes them too (borrowed). */
	const struct gw_secret *secrets;
	size_t n_secrets;
	mg_text_filter redact;          /* what is written to the list cache passes it */
	void *redact_ctx;
	/* Server instances (docs/security.md#limits). */
	size_t max_instances;           /* 0: derived from RLIMIT_NOFILE and memory */
	size_t max_instances_per_client;/* 0: as many as max_instances */
	uint64_t reclaim_idle_ms;       /* a per-session instance idle this long may be
					   stopped to make room; GW_RECLAIM_NEVER */
};

struct gw_secret {
	const char *name;
	const char *value;
	size_t len;
};

#define GW_RECLAIM_NEVER UINT64_MAX

struct gateway;
struct gw_session;
struct gd_check;
struct gd_def_check;

/* A message to a client, and what it belongs to: rel is the exact id text
 * of the client request it concerns (its response, its progress, a
 * server request it caused) or NULL; final marks that request's response.
 * HTTP transports route by it; stdio ignores it. */
struct gw_out {
	char *line;                     /* ends with '\n'; owned by the receiver */
	size_t len;
	const char *rel;
	size_t rel_len;
	bool final;
};

/* How the gateway reaches a client.  send takes ownership of out->line and
 * returns 0 or a negative errno (the session is then considered broken and
 * closed).  close asks the transport to shut the session down; it calls
 * gw_session_close later, from the loop. */
struct gw_session_ops {
	int (*send)(struct gw_session *s, struct gw_out *out);
	void (*close)(struct gw_session *s);
};

/* Create a gateway for the servers in cat selected by names (NULL = every
 * server of the catalog).  Servers that cannot run here (image-only) are
 * reported and skipped.  0 or -errno with err. */
int gw_create(struct gateway **out, uv_loop_t *loop, const struct gw_config *cfg,
	      const struct catalog *cat, char *const *names, struct mg_err *err);
/* Stop every instance; done runs once all processes are gone. */
void gw_shutdown(struct gateway *gw, void (*done)(struct gateway *gw, void *ctx), void *ctx);
void gw_free(struct gateway *gw);
size_t gw_server_count(const struct gateway *gw);
size_t gw_config_max_message(const struct gateway *gw);

struct gw_session *gw_session_open(struct gateway *gw, const struct gw_session_ops *ops,
				   void *transport_ctx);
/* A session for the stateless 2026-07-28 requests of one principal: no
 * initialize; every request validated on its own _meta. */
struct gw_session *gw_session_open_modern(struct gateway *gw, const struct gw_session_ops *ops,
					  void *transport_ctx);
/* The client gave up the request with this exact id text (2026-07-28 over
 * HTTP: it closed the request's stream). */
void gw_session_cancel(struct gw_session *s, const char *id_text, size_t len);
void *gw_session_transport(struct gw_session *s);
/* Who the session's client is (the bearer credential's digest over HTTP,
 * "stdio"): the principal its instances count against (copied). */
void gw_session_set_principal(struct gw_session *s, const char *principal);
const char *gw_session_id(const struct gw_session *s);
/* One framed message from the client (valid during the call). */
void gw_session_recv(struct gw_session *s, const char *line, size_t len);
/* Does the session still wait for answers (initialize, calls in flight,
 * output held back)?  A transport whose input ended lets these finish. */
bool gw_session_busy(const struct gw_session *s);
/* The client sent a message over the size cap (already discarded). */
void gw_session_oversize(struct gw_session *s, size_t max);
/* The transport is gone: cancel the session's calls, stop its instances,
 * free it (later, from the loop). */
void gw_session_close(struct gw_session *s);

#endif
