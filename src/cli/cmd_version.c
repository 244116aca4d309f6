#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>
#include <yaml.h>

#include "cli/cli.h"

int cli_version(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		puts("Usage: mcpguard version\n\nPrint the version of mcpguard and of the "
		     "libraries it runs on.");
		return CLI_OK;
	}
	printf("mcpguard %s (%s)\n", MG_VERSION, MG_GIT_REV);
	printf("MCP protocol: 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05\n");
	printf("libuv %s, jansson %s, libyaml %s, libsodium %s\n", uv_version_string(),
	       JANSSON_VERSION, yaml_get_version_string(), sodium_version_string());
	return CLI_OK;
}
