#include "mcp/proto.h"

#include <string.h>

#include "base/mem.h"

static const char *const legacy_versions[] = {
	"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05",
};

bool mcp_legacy_version_known(const char *v)
{
	for (size_t i = 0; v && i < MG_ARRAY_LEN(legacy_versions); i++)
		if (strcmp(v, legacy_versions[i]) == 0)
			return true;
	return false;
}

const char *mcp_negotiate_legacy(const char *requested)
{
	for (size_t i = 0; requested && i < MG_ARRAY_LEN(legacy_versions); i++)
		if (strcmp(requested, legacy_versions[i]) == 0)
			return legacy_versions[i];
	return MCP_LATEST_LEGACY;
}

static const struct {
	const char *method;
	enum mcp_route route;
} routes[] = {
	{ "initialize", MCP_ROUTE_LOCAL },
	{ "ping", MCP_ROUTE_LOCAL },
	{ "logging/setLevel", MCP_ROUTE_LOCAL },
	{ "tools/list", MCP_ROUTE_LIST },
	{ "prompts/list", MCP_ROUTE_LIST },
	{ "resources/list", MCP_ROUTE_LIST },
	{ "resources/templates/list", MCP_ROUTE_LIST },
	{ "tools/call", MCP_ROUTE_TOOL },
	{ "prompts/get", MCP_ROUTE_PROMPT },
	{ "resources/read", MCP_ROUTE_URI },
	{ "resources/subscribe", MCP_ROUTE_URI },
	{ "resources/unsubscribe", MCP_ROUTE_URI },
	{ "completion/complete", MCP_ROUTE_COMPLETION },
};

enum mcp_route mcp_route_of(const char *method)
{
	for (size_t i = 0; method && i < MG_ARRAY_LEN(routes); i++)
		if (strcmp(method, routes[i].method) == 0)
			return routes[i].route;
	return MCP_ROUTE_UNKNOWN;
}

const char *mcp_request_capability(const char *method)
{
	if (strcmp(method, "sampling/createMessage") == 0)
		return "sampling";
	if (strcmp(method, "elicitation/create") == 0)
		return "elicitation";
	if (strcmp(method, "roots/list") == 0)
		return "roots";
	return NULL;
}

int mcp_log_level(const char *name)
{
	static const char *const levels[] = { "debug", "info", "notice", "warning",
					      "error", "critical", "alert", "emergency" };

	for (int i = 0; name && i < (int)MG_ARRAY_LEN(levels); i++)
		if (strcmp(name, levels[i]) == 0)
			return i;
	return -1;
}
