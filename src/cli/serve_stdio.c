/* The stdio transport: the gateway's own stdin and stdout are one client
 * session.  Input ending lets owed answers drain, then the gateway stops. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "cli/cli.h"
#include "cli/serve.h"
#include "transport/stream.h"


struct stdio_run {
	uv_loop_t *loop;
	struct gateway *gw;
	struct gw_session *sess;
	struct tp_stream in;
	struct tp_stream out;
	uv_signal_t sigint, sigterm;
	uv_timer_t deferred;
	uv_timer_t drain;
	uv_shutdown_t shut;
	bool stopping;
	int open;
};

static void begin_stop(struct stdio_run *r);

static int stdin_line(struct tp_stream *s, const char *line, size_t len)
{
	struct stdio_run *r = s->owner;

	if (r->sess)
		gw_session_recv(r->sess, line, len);
	return r->stopping;
}

static int stdin_oversize(struct tp_stream *s, size_t max)
{
	struct stdio_run *r = s->owner;

	if (r->sess)
		gw_session_oversize(r->sess, max);
	return 0;
}

/* After the client's input ends, answers still owed to it are delivered
 * before the gateway stops (a client that wants it gone sooner closes its
 * end of stdout or sends a signal). */
static void drain_check(uv_timer_t *t)
{
	struct stdio_run *r = t->data;

	if (r->sess && gw_session_busy(r->sess))
		return;
	uv_timer_stop(t);
	begin_stop(r);
}

static void stdin_end(struct tp_stream *s, int status)
{
	struct stdio_run *r = s->owner;

	if (status != UV_EOF)
		mg_warn("reading stdin failed: %s", uv_strerror(status));
	uv_timer_start(&r->drain, drain_check, 0, 10);
}

static void handle_closed(uv_handle_t *h)
{
	struct stdio_run *r = h->data;

	r->open--;
}

static void stream_closed(struct tp_stream *s)
{
	struct stdio_run *r = s->owner;

	r->open--;
}

static const struct tp_stream_ops stdin_ops = {
	.on_line = stdin_line,
	.on_oversize = stdin_oversize,
	.on_end = stdin_end,
	.on_closed = stream_closed,
};

static int noop_line(struct tp_stream *s, const char *l, size_t n)
{
	return 0;
}

static int noop_oversize(struct tp_stream *s, size_t m)
{
	return 0;
}

static void noop_end(struct tp_stream *s, int st)
{
}

static const struct tp_stream_ops stdout_ops = {
	.on_line = noop_line,
	.on_oversize = noop_oversize,
	.on_end = noop_end,
	.on_closed = stream_closed,
};

static int session_send(struct gw_session *s, struct gw_out *o)
{
	struct stdio_run *r = gw_session_transport(s);

	return tp_stream_write_owned(&r->out, o->line, o->len);
}

static void session_close(struct gw_session *s)
{
	begin_stop(gw_session_transport(s));
}

static const struct gw_session_ops session_ops = {
	.send = session_send,
	.close = session_close,
};

static void stdout_flushed(uv_shutdown_t *req, int status)
{
	struct stdio_run *r = req->data;

	tp_stream_close(&r->out);
}

static void all_stopped(struct gateway *gw, void *ctx)
{
	struct stdio_run *r = ctx;

	/* Let queued answers reach the client before closing stdout. */
	r->shut.data = r;
	if (r->out.file_fd >= 0 || uv_shutdown(&r->shut, &r->out.u.stream, stdout_flushed))
		tp_stream_close(&r->out);
	tp_stream_close(&r->in);
	uv_close((uv_handle_t *)&r->sigint, handle_closed);
	uv_close((uv_handle_t *)&r->sigterm, handle_closed);
	uv_close((uv_handle_t *)&r->deferred, handle_closed);
	uv_close((uv_handle_t *)&r->drain, handle_closed);
}

/* Runs from the loop, never inside a callback that still uses the session. */
static void stop_now(uv_timer_t *t)
{
	struct stdio_run *r = t->data;
	struct gw_session *s = mg_steal(&r->sess);

	tp_stream_stop_read(&r->in);
	if (s)
		gw_session_close(s);
	gw_shutdown(r->gw, all_stopped, r);
}

static void begin_stop(struct stdio_run *r)
{
	if (r->stopping)
		return;
	r->stopping = true;
	uv_timer_stop(&r->drain);
	uv_timer_start(&r->deferred, stop_now, 0, 0);
}

static void on_signal(uv_signal_t *h, int sig)
{
	struct stdio_run *r = h->data;

	mg_info("%s received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	begin_stop(r);
}

int cli_serve_stdio(uv_loop_t *loop, struct gateway *gw, struct mg_budget *budget)
{
	struct stdio_run r;

	memset(&r, 0, sizeof(r));
	r.loop = loop;
	r.gw = gw;
	tp_stream_setup(&r.in, gw_config_max_message(gw), 0, &stdin_ops, &r);
	tp_stream_setup(&r.out, 64, 4 * gw_config_max_message(gw), &stdout_ops, &r);
	tp_stream_set_budget(&r.out, budget);
	if (tp_stream_open_fd(loop, &r.in, 0) || tp_stream_open_fd(loop, &r.out, 1)) {
		fprintf(stderr, "mcpguard: cannot use stdin/stdout for --transport stdio\n");
		return CLI_FAIL;
	}
	r.open = 6;
	uv_signal_init(loop, &r.sigint);
	uv_signal_init(loop, &r.sigterm);
	uv_timer_init(loop, &r.deferred);
	uv_timer_init(loop, &r.drain);
	r.sigint.data = r.sigterm.data = r.deferred.data = r.drain.data = &r;
	uv_signal_start(&r.sigint, on_signal, SIGINT);
	uv_signal_start(&r.sigterm, on_signal, SIGTERM);
	r.sess = gw_session_open(gw, &session_ops, &r);
	gw_session_set_principal(r.sess, "stdio");
	tp_stream_start_read(&r.in);
	uv_run(loop, UV_RUN_DEFAULT);
	return CLI_OK;
}

