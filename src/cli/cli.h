/* Subcommands.  Each returns the process exit status. */
#ifndef MG_CLI_H
#define MG_CLI_H

int cli_gateway(int argc, char **argv);
int cli_version(int argc, char **argv);
int cli_sandbox(int argc, char **argv);
int cli_secret(int argc, char **argv);
int cli_audit(int argc, char **argv);
int cli_logs(int argc, char **argv);
int cli_scan(int argc, char **argv);
int cli_pins(int argc, char **argv);
/* $XDG_STATE_HOME/mcpguard/audit.jsonl (caller frees). */
char *cli_default_audit_path(void);

/* Exit statuses shared by all commands. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

#endif
