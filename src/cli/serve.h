/* The transports a gateway can serve its clients on.  Each runs the loop
 * until the gateway has stopped, and returns an exit status. */
#ifndef MG_CLI_SERVE_H
#define MG_CLI_SERVE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/budget.h"
#include "gateway/gateway.h"

/* budget: all output queued to clients (--max-queued-output), or NULL. */
int cli_serve_stdio(uv_loop_t *loop, struct gateway *gw, struct mg_budget *budget);

struct serve_http_opts {
	const char *host;
	uint16_t port;
	bool streamable;                /* /mcp */
	bool sse;                       /* /sse and /messages */
	const char *token;              /* NULL: no authentication */
	uint64_t session_idle_ms;
	size_t max_sessions;
	size_t max_body;
	struct mg_budget *budget;       /* all output queued to clients, or NULL */
	size_t max_connections;         /* TCP connections at once */
	size_t reserved_connections;    /* of those, kept for /health and established clients */
	size_t max_per_address;         /* TCP connections from one client address */
	uint64_t header_timeout_ms;     /* a request head must arrive this soon */
	uint64_t idle_timeout_ms;       /* keep-alive connections idle this long are closed */
	struct aud_log *audit;          /* refusals at the door; may be NULL (borrowed) */
};

int cli_serve_http(uv_loop_t *loop, struct gateway *gw, const struct serve_http_opts *o);

#endif
