/* mcpguard: a secure gateway for the Model Context Protocol. */
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
	"Usage: mcpguard <command> [options]\n"
	"\n"
	"A secure gateway for the Model Context Protocol: one MCP endpoint in front of\n"
	"many MCP servers, with every call checked and written down.\n"
	"\n"
	"Commands:\n"
	"  gateway run    Run the gateway (a drop-in for 'docker mcp gateway run')\n"
	"  sandbox run    Run one command in the sandbox (agent-written code)\n"
	"  secret         Keep secrets for servers in an encrypted store (set, ls, rm)\n"
	"  logs           Show the audit log (filters, --follow)\n"
	"  audit verify   Check the audit log's hash chain\n"
	"  scan           Scan a catalog's servers (--catalog FILE) or a saved list\n"
	"                 answer (FILE) for poisoned tool definitions\n"
	"  pins           Pinned definitions: what changed since approved (ls, diff,\n"
	"                 approve, reject, forget)\n"
	"  version        Print the version\n"
	"\n"
	"Run 'mcpguard <command> --help' for the options of a command.\n"
	"Documentation: README.md and docs/ in the source tree.\n";

int main(int argc, char **argv)
{
	if (sodium_init() < 0) {
		fprintf(stderr, "mcpguard: cannot initialise libsodium\n");
		return CLI_FAIL;
	}
	/* A closed client pipe must be an error return, not a dead gateway. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	if (strcmp(argv[1], "gateway") == 0)
		return cli_gateway(argc - 1, argv + 1);
	if (strcmp(argv[1], "sandbox") == 0)
		return cli_sandbox(argc - 1, argv + 1);
	if (strcmp(argv[1], "audit") == 0)
		return cli_audit(argc - 1, argv + 1);
	if (strcmp(argv[1], "scan") == 0)
		return cli_scan(argc - 1, argv + 1);
	if (strcmp(argv[1], "pins") == 0)
		return cli_pins(argc - 1, argv + 1);
	if (strcmp(argv[1], "logs") == 0)
		return cli_logs(argc - 1, argv + 1);
	if (strcmp(argv[1], "secret") == 0)
		return cli_secret(argc - 1, argv + 1);
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0)
		return cli_version(argc - 1, argv + 1);
	fprintf(stderr, "mcpguard: unknown command '%s'\n\n%s", argv[1], usage);
	return CLI_USAGE;
}
