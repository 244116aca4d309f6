/* mcpguard logs: read the audit log, filtered, optionally following it. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/str.h"
#include "cli/cli.h"
#include "json/jx.h"

static const char logs_usage[] =
	"Usage: mcpguard logs [options]\n"
	"\n"
	"Show the audit log: one line per request and per decision of a check.\n"
	"\n"
	"  --file FILE         The log (default $XDG_STATE_HOME/mcpguard/audit.jsonl).\n"
	"  --session S         Only this client session.\n"
	"  --server S          Only this server.\n"
	"  --tool T            Only this tool, prompt or URI ('*' and '?' are wildcards).\n"
	"  --decision D        Only this outcome: ok, error, tool_error, timeout, cancelled,\n"
	"                      refused, redacted, blocked, logged... (comma-separated).\n"
	"  --since DURATION    Only the last DURATION (e.g. 10m, 2h).\n"
	"  --follow, -f        Keep reading as records are added.\n"
	"  --json              The records as they are (JSON lines).\n";

struct filter {
	const char *session, *server, *tool;
	char **decisions;
	char since[40];                 /* RFC 3339, compared as text */
	bool json;
};

static bool wanted(const struct filter *f, const json_t *r)
{
	const char *t = jx_str(r, "time");

	if (f->session && !mg_streq(jx_str(r, "session"), f->session))
		return false;
	if (f->server && !mg_streq(jx_str(r, "server"), f->server))
		return false;
	if (f->tool && (!jx_str(r, "name") || !mg_glob_match(f->tool, jx_str(r, "name"))))
		return false;
	if (f->decisions) {
		bool any = false;

		for (size_t i = 0; f->decisions[i] && !any; i++)
			any = mg_streq(jx_str(r, "outcome"), f->decisions[i]);
		if (!any)
			return false;
	}
	return !f->since[0] || (t && strcmp(t, f->since) >= 0);
}

static void show(const struct filter *f, const char *line, size_t len)
{
	json_error_t je;
	json_t *r = jx_parse(line, len, &je);

	if (!r) {
		fprintf(stderr, "mcpguard: logs: skipping a line that is not a record: %.60s\n", line);
		return;
	}
	if (wanted(f, r)) {
		if (f->json) {
			fwrite(line, 1, len, stdout);
			fputc('\n', stdout);
		} else {
			const char *finding = jx_str(r, "finding"), *err = jx_str(r, "error");

			printf("%s  %-10s %-14s %-22s %s", jx_str(r, "time") ? jx_str(r, "time") : "-",
			       jx_str(r, "outcome") ? jx_str(r, "outcome") : "-",
			       jx_str(r, "server") ? jx_str(r, "server") : "(gateway)",
			       jx_str(r, "method") ? jx_str(r, "method") : "-",
			       jx_str(r, "name") ? jx_str(r, "name") : "");
			if (finding)
				printf("  [%s: %s%s%s]", jx_str(r, "check") ? jx_str(r, "check") : "check", finding,
				       jx_str(r, "detail") ? ", " : "", jx_str(r, "detail") ? jx_str(r, "detail") : "");
			else if (json_is_number(json_object_get(r, "duration_ms")))
				printf("  %.2f ms", json_number_value(json_object_get(r, "duration_ms")));
			if (err)
				printf("  %s", err);
			putchar('\n');
		}
	}
	json_decref(r);
}

/* Show every complete line from the current position; returns the bytes
 * of an unfinished last line left in buf. */
static void drain(const struct filter *f, FILE *in, char **buf, size_t *cap)
{
	ssize_t n;

	while ((n = getline(buf, cap, in)) > 0) {
		if ((*buf)[n - 1] != '\n') {
			/* a record being written: read it again once it is whole */
			fseeko(in, -(off_t)n, SEEK_CUR);
			break;
		}
		(*buf)[--n] = '\0';
		if (n)
			show(f, *buf, (size_t)n);
	}
	clearerr(in);
	fflush(stdout);
}

int cli_logs(int argc, char **argv)
{
	struct filter f = { 0 };
	const char *file = NULL;
	char *dflt = NULL, *line = NULL;
	size_t cap = 0;
	bool follow = false;
	FILE *in;
	int rc = CLI_OK;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(logs_usage, stdout);
			return CLI_OK;
		} else if (strcmp(a, "--follow") == 0 || strcmp(a, "-f") == 0) {
			follow = true;
		} else if (strcmp(a, "--json") == 0) {
			f.json = true;
		} else if (v && strcmp(a, "--file") == 0) {
			file = v, i++;
		} else if (v && strcmp(a, "--session") == 0) {
			f.session = v, i++;
		} else if (v && strcmp(a, "--server") == 0) {
			f.server = v, i++;
		} else if (v && strcmp(a, "--tool") == 0) {
			f.tool = v, i++;
		} else if (v && strcmp(a, "--decision") == 0) {
			mg_strv_free(f.decisions);
			f.decisions = mg_split_csv(v), i++;
		} else if (v && strcmp(a, "--since") == 0) {
			uint64_t ms;
			time_t t;
			struct tm tm;

			if (mg_parse_duration_ms(v, &ms)) {
				fprintf(stderr, "mcpguard: --since: '%s' is not a duration (e.g. 10m, 2h)\n", v);
				return CLI_USAGE;
			}
			t = time(NULL) - (time_t)(ms / 1000);
			gmtime_r(&t, &tm);
			strftime(f.since, sizeof(f.since), "%Y-%m-%dT%H:%M:%S", &tm);
			i++;
		} else {
			fprintf(stderr, "mcpguard: logs: unexpected '%s'\n\n%s", a, logs_usage);
			mg_strv_free(f.decisions);
			return CLI_USAGE;
		}
	}
	if (!file)
		file = dflt = cli_default_audit_path();
	in = fopen(file, "re");
	if (!in) {
		fprintf(stderr, "mcpguard: cannot read the audit log %s: %s\n", file, strerror(errno));
		rc = CLI_FAIL;
		goto out;
	}
	drain(&f, in, &line, &cap);
	if (follow) {
		int ino = inotify_init1(IN_CLOEXEC);
		char ev[4096];

		if (ino < 0 || inotify_add_watch(ino, file, IN_MODIFY | IN_MOVE_SELF | IN_DELETE_SELF) < 0) {
			fprintf(stderr, "mcpguard: cannot follow %s: %s\n", file, strerror(errno));
			rc = CLI_FAIL;
		} else {
			ssize_t n;

			while ((n = read(ino, ev, sizeof(ev))) > 0) {
				const struct inotify_event *e = (const void *)ev;

				drain(&f, in, &line, &cap);
				if (e->mask & (IN_MOVE_SELF | IN_DELETE_SELF)) {
					fprintf(stderr, "mcpguard: %s was rotated or removed; stopped\n", file);
					break;
				}
			}
		}
		if (ino >= 0)
			close(ino);
	}
	fclose(in);
out:
	free(line);
	free(dflt);
	mg_strv_free(f.decisions);
	return rc;
}
