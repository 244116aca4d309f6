/* runtime/proc and transport/stream: spawn real processes, move framed
 * lines through their pipes, see exit statuses and signals. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "runtime/proc.h"
#include "transport/stream.h"

struct run {
	uv_loop_t loop;
	struct rt_child child;
	struct tp_stream in, out;
	int exited, status, sig;
	int closed;
	char lines[8][64];
	int n_lines;
	int oversize;
	int ended;
};

static char *const env[] = { "PATH=/usr/bin:/bin", NULL };

static void on_exit_cb(struct rt_child *c, int status, int sig)
{
	struct run *r = c->data;

	r->exited = 1;
	r->status = status;
	r->sig = sig;
}

static void on_closed(struct rt_child *c)
{
	struct run *r = c->data;

	r->closed++;
}

static int spawn(struct run *r, char *const *argv, struct mg_err *err)
{
	struct rt_spawn sp = { argv, env, NULL, NULL };
	int rc;

	memset(r, 0, sizeof(*r));
	uv_loop_init(&r->loop);
	rc = rt_child_spawn(&r->loop, &r->child, &sp, on_exit_cb, err);
	r->child.data = r;
	return rc;
}

static void run_until_exit(struct run *r)
{
	for (int i = 0; i < 2000 && !r->exited; i++)
		uv_run(&r->loop, UV_RUN_ONCE);
}

static void finish(struct run *r)
{
	rt_child_close(&r->child, on_closed);
	uv_run(&r->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&r->loop), 0);
}

static void test_exit_status(void **state)
{
	char *argv[] = { "sh", "-c", "exit 3", NULL };
	struct mg_err err;
	struct run r;

	assert_int_equal(spawn(&r, argv, &err), 0);
	assert_true(r.child.pid > 0);
	run_until_exit(&r);
	assert_true(r.exited);
	assert_int_equal(r.status, 3);
	assert_int_equal(r.sig, 0);
	finish(&r);
	assert_int_equal(r.closed, 1);
}

static void test_exec_failure_is_explained(void **state)
{
	char *argv[] = { "no-such-program-mcpguard", NULL };
	struct mg_err err;
	struct run r;

	assert_int_equal(spawn(&r, argv, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "cannot run 'no-such-program-mcpguard'"));
	assert_non_null(strstr(err.msg, "No such file or directory"));
	uv_loop_close(&r.loop);
}

/* Read fd into buf (NUL-terminated) until it holds until (NULL: EOF);
 * fails the test if that does not come within timeout_ms. */
static size_t read_until(int fd, char *buf, size_t cap, const char *until, int timeout_ms)
{
	size_t len = 0;

	buf[0] = '\0';
	while (!until || !strstr(buf, until)) {
		struct pollfd pf = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&pf, 1, timeout_ms) != 1)
			fail_msg("nothing within %d ms (read so far: '%s')", timeout_ms, buf);
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n >= 0);
		if (n == 0) {
			if (until)
				fail_msg("EOF before '%s' (read: '%s')", until, buf);
			break;
		}
		len += (size_t)n;
		buf[len] = '\0';
		assert_true(len < cap - 1);
	}
	return len;
}

static void test_signal_group(void **state)
{
	/* The shell starts a child in the same group (and says so once it
	 * has): signalling the group ends both, so the pipe's write end, which
	 * both hold, closes. */
	char *argv[] = { "sh", "-c", "sleep 30 & echo $!; wait", NULL };
	struct mg_err err;
	struct run r;
	char out[64];

	assert_int_equal(spawn(&r, argv, &err), 0);
	read_until(r.child.fd_out, out, sizeof(out), "\n", 10000);
	rt_child_signal(&r.child, SIGTERM);
	run_until_exit(&r);
	assert_true(r.exited);
	assert_int_equal(r.sig, SIGTERM);
	/* EOF: the background sleep is gone too (it would hold the pipe for
	 * 30 s). */
	read_until(r.child.fd_out, out, sizeof(out), NULL, 10000);
	finish(&r);
}

static void test_environment_is_exactly_given(void **state)
{
	/* env itself, no shell in between (sh adds PWD, and bash SHLVL and _
	 * too, so a count of variables told a leaked one from those only
	 * under bash): it prints exactly what it was given. */
	char *argv[] = { "env", NULL };
	struct mg_err err;
	struct run r;
	char out[4096];

	setenv("MCPGUARD_TEST_SECRET", "do-not-leak", 1);
	assert_int_equal(spawn(&r, argv, &err), 0);
	read_until(r.child.fd_out, out, sizeof(out), NULL, 10000);
	run_until_exit(&r);
	assert_int_equal(r.status, 0);
	assert_string_equal(out, "PATH=/usr/bin:/bin\n");
	finish(&r);
	unsetenv("MCPGUARD_TEST_SECRET");
}

/* ---- streams over a real pipe: cat echoes our lines back ---- */

static int got_line(struct tp_stream *s, const char *line, size_t len)
{
	struct run *r = s->owner;

	if (r->n_lines < 8)
		snprintf(r->lines[r->n_lines++], 64, "%.*s", (int)len, line);
	return 0;
}

static int got_oversize(struct tp_stream *s, size_t max)
{
	struct run *r = s->owner;

	r->oversize++;
	return 0;
}

static void got_end(struct tp_stream *s, int status)
{
	struct run *r = s->owner;

	r->ended = status == UV_EOF ? 1 : -1;
}

static void stream_closed(struct tp_stream *s)
{
	struct run *r = s->owner;

	r->closed++;
}

static const struct tp_stream_ops ops = { got_line, got_oversize, got_end, stream_closed };

static void open_pipe(struct run *r, struct tp_stream *s, int *fd, size_t max)
{
	tp_stream_setup(s, max, 1 << 20, &ops, r);
	assert_int_equal(uv_pipe_init(&r->loop, tp_stream_pipe(s), 0), 0);
	assert_int_equal(uv_pipe_open(tp_stream_pipe(s), *fd), 0);
	s->u.handle.data = s;
	*fd = -1;
}

static void test_lines_through_cat(void **state)
{
	char *argv[] = { "cat", NULL };
	struct mg_err err;
	struct run r;
	char big[200];

	assert_int_equal(spawn(&r, argv, &err), 0);
	open_pipe(&r, &r.in, &r.child.fd_in, 64);
	open_pipe(&r, &r.out, &r.child.fd_out, 64);
	tp_stream_start_read(&r.out);
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	assert_int_equal(tp_stream_write(&r.in, "{\"a\":1}\n", 8), 0);
	assert_int_equal(tp_stream_write(&r.in, big, sizeof(big)), 0);    /* over the cap */
	assert_int_equal(tp_stream_write(&r.in, "second\r\n\nthird\n", 15), 0);
	for (int i = 0; i < 200 && r.n_lines < 3; i++)
		uv_run(&r.loop, UV_RUN_ONCE);
	assert_int_equal(r.n_lines, 3);
	assert_string_equal(r.lines[0], "{\"a\":1}");
	assert_string_equal(r.lines[1], "second");
	assert_string_equal(r.lines[2], "third");
	assert_int_equal(r.oversize, 1);
	tp_stream_close(&r.in);                 /* cat sees EOF and exits */
	for (int i = 0; i < 200 && (!r.ended || !r.exited); i++)
		uv_run(&r.loop, UV_RUN_ONCE);
	assert_int_equal(r.ended, 1);
	assert_int_equal(r.status, 0);
	tp_stream_close(&r.out);
	finish(&r);
	assert_int_equal(r.closed, 3);
}

static void test_output_queue_cap(void **state)
{
	/* sleep never reads: once the pipe is full, writes queue up to the
	 * cap, and the next one is refused instead of growing memory.  It
	 * never ends by itself either: it is killed below. */
	char *argv[] = { "sleep", "1000", NULL };
	char *chunk = calloc(1, 256 * 1024);
	struct mg_err err;
	struct run r;
	int rc = 0, n = 0;

	assert_int_equal(spawn(&r, argv, &err), 0);
	open_pipe(&r, &r.in, &r.child.fd_in, 64);
	while (n < 100 && (rc = tp_stream_write(&r.in, chunk, 256 * 1024)) == 0)
		n++;
	assert_int_equal(rc, -ENOBUFS);
	assert_true(r.in.queued <= r.in.queue_max);
	free(chunk);
	tp_stream_close(&r.in);
	rt_child_signal(&r.child, SIGKILL);
	run_until_exit(&r);
	finish(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_status),
		cmocka_unit_test(test_exec_failure_is_explained),
		cmocka_unit_test(test_signal_group),
		cmocka_unit_test(test_environment_is_exactly_given),
		cmocka_unit_test(test_lines_through_cat),
		cmocka_unit_test(test_output_queue_cap),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
