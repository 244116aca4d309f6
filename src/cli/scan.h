/* cli/scan: `mcpguard scan --catalog FILE`: every selected server of a
 * catalog started in its sandbox exactly as the gateway runs it, listed
 * whole, and each definition scanned (guard/defscan).
 *
 * scan is a client of the gateway: for each server it runs this binary
 * (/proc/self/exe) as `gateway run --catalog FILE --servers NAME
 * --no-cache --block-secrets=log --inspect-results=false
 * --scan-definitions=false --pin-mode off`
 * over pipes, lists it with mcp/lister, and reads the child's log to learn
 * whether the gateway started and listed the server (an MCP client is told
 * nothing when a server fails: the gateway's lists are then just empty).
 * Children run in parallel, a few at a time, each with a deadline. */
#ifndef MG_CLI_SCAN_H
#define MG_CLI_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct scan_catalog_opts {
	char **catalogs;        /* --catalog files, in order (at least one) */
	char **servers;         /* --servers, or NULL for every server */
	char **pass;            /* flags handed on to each child gateway */
	uint64_t timeout_ms;    /* per server, from start to its last list page */
	unsigned jobs;          /* children at once */
	bool json;
};

/* Run the scan and print the report.  Returns the exit status: 0 all
 * clean, 1 something suspicious or malicious, 2 an error (a server that
 * could not be started or listed, or bad options). */
int cli_scan_catalog(const struct scan_catalog_opts *o);

/* ---- reading the child gateway's log (exposed for the unit tests) ----
 *
 * Lines look like "HH:MM:SS.mmm mcpguard: [warning: |error: ]message";
 * usage and setup errors are "mcpguard: message" without a time.  For a
 * server NAME the gateway logs "server 'NAME' (<kind> instance #N) ready
 * in ..." once it answered initialize; before that, warnings naming the
 * server say why it did not start.  After it, a warning about one of its
 * instances means the listing may be incomplete (a list request failed,
 * too many pages, the instance died), except the ones known to be
 * harmless (a protocol version note, a non-JSON-RPC line skipped). */
struct scan_log {
	bool ready;
	char before[512];       /* first warning about one of its instances before ready */
	char about[512];        /* first other warning or error naming it */
	char error[512];        /* first error line of the gateway */
	char after[512];        /* first failure after ready */
};

void scan_log_init(struct scan_log *st);
void scan_log_line(struct scan_log *st, const char *name, const char *line, size_t len);
/* Why the server is not to be trusted as listed, or NULL if the log says
 * it was started and listed. */
const char *scan_log_failure(const struct scan_log *st);

#endif
