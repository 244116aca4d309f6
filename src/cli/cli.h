/* Subcommands.  Each returns the process exit status. */
#ifndef MG_CLI_H
#define MG_CLI_H

int cli_gateway(int argc, char **argv);
int cli_version(int argc, char **argv);
int cli_sandbox(int argc, char **argv);
int cli_secret(int argc, char **argv);

/* Exit statuses shared by all commands. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

#endif
