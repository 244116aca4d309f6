/* The egress proxy (see egress.h): the listener handed over by the
 * sandbox, the cap on connections, decisions (log lines, counts, the
 * callback) and closing.  A connection's life is in egress_conn.c. */
#include "runtime/egress.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "runtime/egress_internal.h"

/* ---- decisions ---- */

void eg_report(struct eg_proxy *p, const struct eg_decision *d, const char *note)
{
	if (d->allowed) {
		p->stats.allowed++;
		mg_info("egress [%s]: allowed %s %s via %s%s%s%s", p->label, d->method, d->target,
			d->address, note ? " (" : "", note ? note : "", note ? ", listed explicitly)" : "");
	} else {
		bool failed = d->status == 502 || d->status == 504;

		if (failed)
			p->stats.failed++;
		else
			p->stats.denied++;
		mg_warn("egress [%s]: %s %s %s: %s (%d)", p->label, failed ? "failed" : "refused",
			d->method, d->target, d->reason, d->status);
	}
	if (p->on_decision)
		p->on_decision(p->ctx, d);
}

/* ---- closing ---- */

void eg_proxy_check_closed(struct eg_proxy *p)
{
	void (*closed)(void *ctx) = p->closed;
	void *ctx = p->closed_ctx;

	if (!p->closing || !p->listener_closed || p->n_conns || p->n_turned_away)
		return;
	free(p->label);
	free(p);
	if (closed)
		closed(ctx);
}

/* ---- accepting ---- */

static void on_turned_away_closed(uv_handle_t *h)
{
	struct eg_proxy *p = h->data;

	free(h);
	p->n_turned_away--;
	eg_proxy_check_closed(p);
}

/* Over the cap: accept (so the backlog does not fill) and close at once. */
static void turn_away(struct eg_proxy *p)
{
	uv_tcp_t *t = MG_NEW(uv_tcp_t);
	char why[64];
	struct eg_decision d = { p->label, "-", "-", false, 503, NULL, why };

	uv_tcp_init(p->loop, t);
	t->data = p;
	uv_accept((uv_stream_t *)&p->listener, (uv_stream_t *)t);
	p->n_turned_away++;
	snprintf(why, sizeof(why), "too many connections (%u open): closed unanswered", p->n_conns);
	eg_report(p, &d, NULL);
	uv_close((uv_handle_t *)t, on_turned_away_closed);
}

static void on_accept(uv_stream_t *l, int status)
{
	struct eg_proxy *p = l->data;

	if (status < 0 || p->closing) {
		if (status < 0)
			mg_warn("egress [%s]: accept failed: %s", p->label, uv_strerror(status));
		return;
	}
	if (p->n_conns >= p->lim.max_conns)
		turn_away(p);
	else
		eg_conn_start(p);
}

/* ---- the proxy ---- */

static void set_limits(struct eg_limits *l, const struct eg_limits *in)
{
	*l = *in;
	if (!l->max_conns)
		l->max_conns = 64;
	if (!l->head_timeout_ms)
		l->head_timeout_ms = 10000;
	if (!l->connect_timeout_ms)
		l->connect_timeout_ms = 10000;
	if (!l->idle_timeout_ms)
		l->idle_timeout_ms = 10 * 60 * 1000;
	if (!l->queue_max)
		l->queue_max = 1024 * 1024;
}

static void on_listener_closed(uv_handle_t *h)
{
	struct eg_proxy *p = h->data;

	p->listener_closed = true;
	eg_proxy_check_closed(p);
}

int eg_proxy_open(uv_loop_t *loop, int listen_fd, const struct eg_proxy_config *cfg,
		  struct eg_proxy **out, struct mg_err *err)
{
	struct eg_proxy *p;
	int rc, listening = 0, type = 0;
	socklen_t len = sizeof(listening);

	*out = NULL;
	if (getsockopt(listen_fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening ||
	    (len = sizeof(type), getsockopt(listen_fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) ||
	    type != SOCK_STREAM) {
		close(listen_fd);
		return mg_err_set(err, -EINVAL, "egress proxy: fd %d is not a listening TCP socket",
				  listen_fd);
	}
	p = MG_NEW(struct eg_proxy);
	p->loop = loop;
	p->policy = cfg->policy;
	p->label = mg_strdup(cfg->label ? cfg->label : "sandbox");
	set_limits(&p->lim, &cfg->limits);
	p->on_decision = cfg->on_decision;
	p->ctx = cfg->ctx;
	mg_list_init(&p->conns);
	uv_tcp_init(loop, &p->listener);
	p->listener.data = p;
	if ((rc = uv_tcp_open(&p->listener, listen_fd)) != 0)
		close(listen_fd);
	else
		rc = uv_listen((uv_stream_t *)&p->listener, 64, on_accept);
	if (rc) {
		mg_err_set(err, rc, "egress proxy: cannot listen: %s", uv_strerror(rc));
		eg_proxy_close(p, NULL, NULL);
		return rc;
	}
	*out = p;
	return 0;
}

void eg_proxy_stats(const struct eg_proxy *p, struct eg_stats *s)
{
	*s = p->stats;
	s->conns = p->n_conns;
}

void eg_proxy_close(struct eg_proxy *p, void (*closed)(void *ctx), void *ctx)
{
	if (p->closing)
		return;
	p->closing = true;
	p->closed = closed;
	p->closed_ctx = ctx;
	uv_close((uv_handle_t *)&p->listener, on_listener_closed);
	eg_conn_close_all(p);
}
