/* The catalog compiled into the binary, used when no --catalog is given.
 * Both servers need only Node.js (npx) and are pinned to an exact version,
 * so that what runs does not change under the user between two starts.
 * Like every server they run sandboxed: installed once on the host, run
 * with node inside, each with a persistent /workspace of its own. */
#include "catalog/catalog.h"

static const char builtin_catalog[] =
	"# mcpguard built-in catalog (Docker's catalog format; see docs/catalog.md)\n"
	"name: mcpguard-default\n"
	"displayName: mcpguard built-in servers\n"
	"registry:\n"
	"  everything:\n"
	"    title: Everything\n"
	"    description: >-\n"
	"      Reference MCP server that exercises every feature of the protocol\n"
	"      (tools, resources, prompts, sampling, elicitation, logging, progress);\n"
	"      useful to try a client against the gateway.\n"
	"    command: [npx, -y, \"@modelcontextprotocol/server-everything@2026.8.31\"]\n"
	"  memory:\n"
	"    title: Memory\n"
	"    description: >-\n"
	"      Knowledge-graph memory (entities, relations, observations) kept in a\n"
	"      local JSON file, from the official reference servers.\n"
	"    command: [npx, -y, \"@modelcontextprotocol/server-memory@2026.8.31\"]\n"
	"    env:\n"
	"      - name: MEMORY_FILE_PATH\n"
	"        value: /workspace/memory.jsonl   # its own folder, kept between runs\n";

const char *catalog_builtin_default(void)
{
	return builtin_catalog;
}
