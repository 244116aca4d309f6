/* What mcpguard knows about the MCP protocol itself: revisions, method
 * classes, log levels.  No I/O and no gateway state here. */
#ifndef MG_MCP_PROTO_H
#define MG_MCP_PROTO_H

#include <stdbool.h>

#define MCP_LATEST_LEGACY "2025-11-25"

/* Is v a revision of the legacy (initialize) era that mcpguard speaks? */
bool mcp_legacy_version_known(const char *v);
/* Version to answer a legacy initialize with: the client's if known, else
 * the newest legacy revision. */
const char *mcp_negotiate_legacy(const char *requested);

/* How the gateway handles a client-to-server method. */
enum mcp_route {
	MCP_ROUTE_UNKNOWN = 0,
	MCP_ROUTE_LOCAL,        /* answered by the gateway (initialize, ping, setLevel) */
	MCP_ROUTE_LIST,         /* aggregated list */
	MCP_ROUTE_TOOL,         /* by params.name in the tool table */
	MCP_ROUTE_PROMPT,       /* by params.name in the prompt table */
	MCP_ROUTE_URI,          /* by params.uri */
	MCP_ROUTE_COMPLETION,   /* by params.ref */
};
enum mcp_route mcp_route_of(const char *method);

/* The client capability a server-to-client request needs ("sampling",
 * "elicitation", "roots"), or NULL for one that needs none. */
const char *mcp_request_capability(const char *method);

/* RFC 5424 levels as MCP names them: 0 = debug ... 7 = emergency; -1 if
 * unknown. */
int mcp_log_level(const char *name);

#endif
