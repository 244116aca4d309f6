/* Unit tests for the log reader of `mcpguard scan --catalog`
 * (src/cli/scan_catalog.c, scan_log_*): from a child gateway's log lines,
 * whether it started and listed the server, and if not, why. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cli/scan.h"

static void lines(struct scan_log *st, const char *name, const char *const *v)
{
	scan_log_init(st);
	for (size_t i = 0; v[i]; i++)
		scan_log_line(st, name, v[i], strlen(v[i]));
}

#define READY "01:02:03.456 mcpguard: server 'mem' (session instance #1) ready in 271 ms (memory-server)"

static void test_ready_is_listed(void **state)
{
	static const char *const v[] = {
		"01:02:03.400 mcpguard: limits: at most 376 server instances",
		"01:02:03.401 mcpguard: server 'mem' runs sandboxed: /usr/bin/node; network: none",
		"01:02:03.402 mcpguard: gateway ready on stdio: 1 server",
		READY,
		/* harmless after ready */
		"01:02:03.460 mcpguard: warning: server 'mem' (session instance #1) answered with protocol version 2024-11-05; continuing",
		"01:02:03.461 mcpguard: warning: server 'mem' (session instance #1) wrote a non-JSON-RPC line to stdout (skipped: x): hello",
		"01:02:03.462 mcpguard: warning: server 'mem': secret 'k' has no value, so K is not set",
		"01:02:03.463 mcpguard: warning: egress [mem]: refused CONNECT example.com:443: not allowed (403)",
		"01:02:03.470 mcpguard: session s1 initialized (mcpguard-scan, protocol 2025-11-25) in 300 ms",
		NULL,
	};
	struct scan_log st;

	lines(&st, "mem", v);
	assert_true(st.ready);
	assert_null(scan_log_failure(&st));
}

static void test_not_started(void **state)
{
	static const char *const v[] = {
		"01:02:03.400 mcpguard: warning: server 'bad' cannot run in its sandbox: cannot run '/x': not found in PATH",
		"01:02:03.401 mcpguard: gateway ready on stdio: 1 server",
		"01:02:03.402 mcpguard: warning: server 'bad' (session instance #1) cannot start: cannot run '/x': not found in PATH",
		NULL,
	};
	static const char *const crash[] = {
		"01:02:03.400 mcpguard: warning: WARNING: server 'c' runs WITHOUT a sandbox: it can read and change",
		"01:02:03.402 mcpguard: warning: server 'c' (session instance #1) exited with status 1; last stderr: Error: \x1b[31mno token",
		"01:02:03.403 mcpguard: warning: server 'c' (session instance #2) exited with status 1; last stderr: again",
		NULL,
	};
	static const char *const usage[] = {
		"mcpguard: unknown option '--bogus' (see 'mcpguard gateway run --help')",
		NULL,
	};
	static const char *const silent[] = { "01:02:03.402 mcpguard: gateway ready on stdio: 1 server", NULL };
	struct scan_log st;

	/* an instance's own warning says most; the first one */
	lines(&st, "bad", v);
	assert_false(st.ready);
	assert_string_equal(scan_log_failure(&st), "server 'bad' (session instance #1) cannot start: "
			    "cannot run '/x': not found in PATH");
	lines(&st, "c", crash);
	assert_string_equal(scan_log_failure(&st), "server 'c' (session instance #1) exited with "
			    "status 1; last stderr: Error: ?[31mno token");
	/* without an instance's warning, the first one naming the server */
	lines(&st, "c", (const char *const[]){ crash[0], NULL });
	assert_non_null(strstr(scan_log_failure(&st), "runs WITHOUT a sandbox"));
	lines(&st, "x", usage);
	assert_string_equal(scan_log_failure(&st), "unknown option '--bogus' (see 'mcpguard gateway "
			    "run --help')");
	lines(&st, "x", silent);
	assert_non_null(strstr(scan_log_failure(&st), "did not log that it started"));
}

static void test_failed_after_ready(void **state)
{
	static const char *const v[] = {
		READY,
		"01:02:03.500 mcpguard: warning: server 'mem' (session instance #1): prompts/list failed: boom",
		"01:02:03.501 mcpguard: warning: server 'mem' (session instance #1) was killed by signal 9 (Killed)",
		NULL,
	};
	static const char *const died[] = {
		READY,
		"01:02:03.501 mcpguard: warning: server 'mem' (session instance #1) was killed: it reached its sandbox's memory limit",
		NULL,
	};
	struct scan_log st;

	lines(&st, "mem", v);
	assert_true(st.ready);
	assert_string_equal(scan_log_failure(&st),
			    "server 'mem' (session instance #1): prompts/list failed: boom");
	lines(&st, "mem", died);
	assert_non_null(strstr(scan_log_failure(&st), "memory limit"));
}

/* Lines about another server, the server's own stderr relayed at debug
 * level, and lines that are not log lines say nothing about this one. */
static void test_other_lines(void **state)
{
	static const char *const v[] = {
		"01:02:03.400 mcpguard: server 'mem2' (session instance #1) ready in 3 ms (x)",
		"01:02:03.401 mcpguard: debug: [server 'mem' (session instance #1)] server 'mem' (session instance #1) ready in 1 ms",
		"server 'mem' (session instance #1) ready in 1 ms",
		"1:02:03.401 mcpguard: server 'mem' (session instance #1) ready in 1 ms",
		"==123==ERROR: AddressSanitizer: heap-use-after-free",
		NULL,
	};
	static const char *const other[] = {
		READY,
		"01:02:03.500 mcpguard: warning: server 'mem2' (session instance #1): tools/list failed: boom",
		"01:02:03.501 mcpguard: error: something else",
		NULL,
	};
	struct scan_log st;

	lines(&st, "mem", v);
	assert_false(st.ready);
	assert_non_null(strstr(scan_log_failure(&st), "did not log that it started"));
	lines(&st, "mem", other);
	assert_null(scan_log_failure(&st));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_is_listed),
		cmocka_unit_test(test_not_started),
		cmocka_unit_test(test_failed_after_ready),
		cmocka_unit_test(test_other_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
