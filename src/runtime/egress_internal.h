/* Shared by the egress proxy's files: egress.c (the listener, limits,
 * decisions, closing) and egress_conn.c (one connection's life). */
#ifndef MG_RT_EGRESS_INTERNAL_H
#define MG_RT_EGRESS_INTERNAL_H

#include "base/list.h"
#include "runtime/egress.h"

struct eg_proxy {
	uv_loop_t *loop;
	uv_tcp_t listener;
	const struct eg_policy *policy;
	char *label;
	struct eg_limits lim;
	eg_decision_fn on_decision;
	void *ctx;
	struct mg_list conns;
	unsigned n_conns;
	unsigned n_turned_away;         /* over the cap, closing */
	struct eg_stats stats;
	bool closing, listener_closed;
	void (*closed)(void *ctx);
	void *closed_ctx;
};

/* Accept one connection from p's listener and serve it. */
void eg_conn_start(struct eg_proxy *p);
/* Close every connection (each leaves p's list when its handles close). */
void eg_conn_close_all(struct eg_proxy *p);

/* Count and log a decision, then tell the callback.  note: the range of an
 * internal address allowed because the allowlist names it (or NULL). */
void eg_report(struct eg_proxy *p, const struct eg_decision *d, const char *note);
/* Once closing and everything is released: free p, call closed. */
void eg_proxy_check_closed(struct eg_proxy *p);

#endif
