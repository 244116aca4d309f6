/* The egress proxy: the only way out of a sandbox's network namespace.
 * The sandbox's init listens on its own 127.0.0.1:PORT and hands the
 * listening socket over (sbx_child.egress_fd); this proxy accepts on it
 * from the gateway's libuv loop and serves HTTP proxy requests: CONNECT
 * host:port (a tunnel) and plain http:// requests in absolute form
 * (forwarded with Connection: close, one per connection: only the checked
 * request and its body go upstream, what follows is dropped, and the
 * connection closes after the response).  Each request is checked against the
 * allowlist (egress_policy.h); names are resolved here, never in the
 * sandbox, and every address is checked: one internal address refuses the
 * whole name (DNS rebinding).  An address written exactly in the allowlist
 * is the operator's choice and may be internal, never a cloud metadata
 * endpoint.  The connection goes to an address that was checked.  Every
 * decision is logged (info when allowed, warning when not) and can be
 * reported to a callback. */
#ifndef MG_RT_EGRESS_H
#define MG_RT_EGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/err.h"
#include "runtime/egress_policy.h"

struct eg_limits {
	unsigned max_conns;             /* at once (64); more are accepted and closed */
	uint64_t head_timeout_ms;       /* for the request head (10 s): then 408 */
	uint64_t connect_timeout_ms;    /* resolution, and each address tried (10 s): 504 */
	uint64_t idle_timeout_ms;       /* no byte either way (10 min): closed */
	size_t queue_max;               /* bytes queued towards one side before the
					 * other side is no longer read (1 MiB) */
};

struct eg_decision {
	const char *label;              /* the proxy's label */
	const char *method;             /* "-" when no request line was read */
	const char *target;             /* "host:port", or "-" */
	bool allowed;
	int status;                     /* 200 when allowed, else the answer sent
					 * (503: over the cap, closed unanswered) */
	const char *address;            /* "addr:port" connected to, or NULL */
	const char *reason;             /* why refused or failed, or NULL */
};

typedef void (*eg_decision_fn)(void *ctx, const struct eg_decision *d);

struct eg_proxy_config {
	const struct eg_policy *policy; /* borrowed: must outlive the proxy */
	const char *label;              /* copied; names the sandbox in logs */
	struct eg_limits limits;        /* zero fields take the defaults */
	eg_decision_fn on_decision;     /* optional, called after the log line */
	void *ctx;
};

struct eg_stats {
	uint64_t allowed;               /* tunnels opened, requests forwarded */
	uint64_t denied;                /* refused: policy, address, syntax, limits */
	uint64_t failed;                /* allowed but unreachable (502, 504) */
	unsigned conns;                 /* open now */
};

struct eg_proxy;

/* Serve the listening TCP socket listen_fd (owned: closed on failure too)
 * on loop.  0, or -errno with err. */
int eg_proxy_open(uv_loop_t *loop, int listen_fd, const struct eg_proxy_config *cfg,
		  struct eg_proxy **out, struct mg_err *err);
void eg_proxy_stats(const struct eg_proxy *p, struct eg_stats *s);
/* Stop accepting and close every connection; closed(ctx) (may be NULL)
 * runs from the loop once every handle is released, and p is freed. */
void eg_proxy_close(struct eg_proxy *p, void (*closed)(void *ctx), void *ctx);

#endif
