/* mcpguard audit verify: check the audit log's hash chain. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "base/buf.h"
#include "base/fs.h"
#include "base/mem.h"
#include "cli/cli.h"

static const char audit_usage[] =
	"Usage: mcpguard audit verify [FILE] [--head HASH]\n"
	"\n"
	"Check the audit log's hash chain: every record carries the BLAKE2b-256 hash of\n"
	"the one before and its number, so a record that was edited, removed, inserted\n"
	"or moved breaks the chain at the next one.  Exits 0 and prints the head (the\n"
	"last record's hash) when the chain holds; exits 1 naming the first broken line.\n"
	"\n"
	"  FILE         The log (default $XDG_STATE_HOME/mcpguard/audit.jsonl).\n"
	"  --head HASH  A head printed earlier (by this command, or by the gateway when it\n"
	"               stops), kept somewhere else: it must still be a record of the\n"
	"               file.  Only this finds records removed from the end.\n"
	"\n"
	"What the chain cannot prove: that a whole log was not replaced by a new,\n"
	"consistent one, or that its end was not cut, unless a head is kept elsewhere.\n";

char *cli_default_audit_path(void)
{
	char *state = mg_state_dir();
	struct mg_buf b;

	mg_buf_init(&b, PATH_MAX);
	mg_buf_addf(&b, "%s/audit.jsonl", state);
	free(state);
	return mg_buf_detach(&b, NULL);
}

int cli_audit(int argc, char **argv)
{
	const char *file = NULL, *head = NULL;
	char *dflt = NULL;
	struct aud_verify v;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(audit_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	if (strcmp(argv[1], "verify") != 0) {
		fprintf(stderr, "mcpguard: unknown audit command '%s'\n\n%s", argv[1], audit_usage);
		return CLI_USAGE;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(audit_usage, stdout);
			return CLI_OK;
		} else if (strcmp(argv[i], "--head") == 0 && i + 1 < argc) {
			head = argv[++i];
		} else if (argv[i][0] != '-' && !file) {
			file = argv[i];
		} else {
			fprintf(stderr, "mcpguard: audit verify: unexpected '%s'\n\n%s", argv[i], audit_usage);
			return CLI_USAGE;
		}
	}
	if (head && (strlen(head) != AUD_HASH_HEX - 1 || strspn(head, "0123456789abcdef") != strlen(head))) {
		fprintf(stderr, "mcpguard: --head: '%s' is not a hash (64 hex digits)\n", head);
		return CLI_USAGE;
	}
	if (!file)
		file = dflt = cli_default_audit_path();
	rc = aud_verify(file, head, &v);
	if (rc) {
		fprintf(stderr, "mcpguard: cannot read %s: %s\n", file, strerror(-rc));
		free(dflt);
		return CLI_FAIL;
	}
	if (v.bad_line) {
		fprintf(stderr, "mcpguard: %s: the chain is broken at %s\n", file, v.why);
		free(dflt);
		return CLI_FAIL;
	}
	printf("%s: %llu records, chain intact%s\n", file, (unsigned long long)v.records,
	       v.unchained ? " (after lines written before the chain began)" : "");
	if (v.unchained)
		printf("  %llu earlier lines carry no chain and are not covered\n",
		       (unsigned long long)v.unchained);
	if (v.prev_file[0])
		printf("  continues %s%s\n", v.prev_file, v.prev_checked ? " (its last record matches)"
		       : " (not found here: that link is not checked)");
	if (head)
		printf("  the head you kept is a record of this file\n");
	printf("head %s\n", v.head);
	free(dflt);
	return CLI_OK;
}
