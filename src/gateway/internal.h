/* Gateway internals shared by the files of src/gateway/.
 *
 *   session.c   requests and notifications from a client
 *   emit.c      sending to clients
 *   relay.c     messages from an upstream instance back to clients
 *   upstream.c  instance lifecycle: spawn, initialize, stop, crash, restart
 *   call.c      in-flight requests: ids, deadlines, completion, audit
 *   agg.c       aggregation: names, routes, pages, capabilities
 *   server.c    per-server views (cache / live) and list refresh
 *   sandboxing.c  how each local server runs: its sandbox, binds, limits
 *   gateway.c   creation, shutdown, the deadline sweep
 */
#ifndef MG_GATEWAY_INTERNAL_H
#define MG_GATEWAY_INTERNAL_H

#include <jansson.h>

#include "base/list.h"
#include "base/map.h"
#include "gateway/gateway.h"
#include "guard/check.h"
#include "rpc/msg.h"
#include "runtime/proc.h"
#include "runtime/seccomp.h"
#include "transport/http_client.h"
#include "transport/stream.h"

/* ---- per-server view: what the server offers ---- */

enum gw_view_state {
	GW_VIEW_NONE,           /* nothing known yet */
	GW_VIEW_CACHED,         /* from the disk cache, not confirmed this run */
	GW_VIEW_LIVE,           /* listed from a running instance this run */
	GW_VIEW_FAILED,         /* discovery failed; see last_error */
};

/* Where one instance lives and how it fails: per (session, server) for
 * per-session servers, per server for shared ones. */
struct gw_slot {
	struct gw_upstream *up;         /* current instance or NULL */
	unsigned failures;              /* consecutive failed starts or crashes */
	uint64_t retry_at_ms;           /* no new start before this */
	char *last_error;
};

struct gw_server {
	struct gateway *gw;
	size_t idx;
	struct cat_server *def;         /* copy owned by the gateway */
	char digest[65];
	char *prefix;                   /* "" when names are not prefixed */
	uint64_t timeout_ms;
	uint64_t startup_timeout_ms;
	enum gw_view_state view_state;
	json_t *view;                   /* {serverInfo, capabilities, tools, ...} */
	bool discovering;               /* a list refresh is running */
	struct gw_slot shared;          /* shared lifecycle */
	struct gw_upstream *discovery;  /* per-call servers: instance used to list */
	struct mg_map subs;             /* shared instance: uri -> refcount */
	int remote_era;                 /* remote: 1 speaks 2026-07-28, -1 does not, 0 unknown */
	struct gw_sandbox *sandbox;     /* local servers: how they run (sandboxing.c) */
	char *sandbox_error;            /* why the server cannot start, or NULL */
	/* review.c: during a rebuild, the names of the other servers and their
	 * tools and prompts (into the views), and a digest of them */
	const char **other_names;
	unsigned char names_digest[16];
	json_t *instructions;           /* reviewed instructions, or NULL */
};

/* ---- an upstream instance ---- */

enum gw_up_kind { GW_UP_SESSION, GW_UP_SHARED, GW_UP_CALL, GW_UP_DISCOVERY };
enum gw_up_state { GW_UP_STARTING, GW_UP_READY, GW_UP_STOPPING, GW_UP_GONE };

struct gw_upstream {
	struct mg_list node;            /* gw->instances */
	struct gateway *gw;
	struct gw_server *srv;
	struct gw_session *owner;       /* session kinds and per-call; else NULL */
	struct gw_slot *slot;           /* NULL for per-call and discovery */
	enum gw_up_kind kind;
	enum gw_up_state state;
	char label[96];                 /* "memory#3" for logs */
	struct rt_child child;          /* local servers */
	struct tp_stream in, out, err;
	struct eg_proxy *egress;        /* its sandbox's way out (allowHosts) */
	struct tp_httpc *http;          /* remote servers */
	struct tp_httpc *http_modern;   /* remote: stateless 2026-07-28 requests */
	int open_handles;               /* freed when it reaches 0 */
	int64_t next_id;
	struct mg_map pending;          /* upstream id -> struct gw_call */
	struct mg_list waiting;         /* calls queued until READY */
	json_t *init_caps;              /* client capabilities sent upstream */
	json_t *client_info;
	json_t *caps;                   /* server capabilities */
	json_t *init_result;            /* the server's initialize result */
	char *version;                  /* negotiated protocol version */
	uint64_t spawned_ms;
	uint64_t ready_ms;
	uint64_t stop_deadline_ms;
	uint64_t stdout_closed_ms;      /* EOF on its stdout, 0 = not yet */
	int stop_stage;                 /* 0 stdin closed, 1 SIGTERM, 2 SIGKILL */
	char stderr_tail[512];          /* last stderr line, for error messages */
	char *exit_reason;
	bool expected_exit;             /* we asked it to stop */
	bool list_refresh;              /* refresh the server view once ready */
	bool relist_pending;            /* list_changed arrived while listing */
	int listing;                    /* outstanding list requests */
	json_t *listing_view;           /* view being assembled */
	char *principal;                /* its client's, when counted per client */
	bool counted;                   /* in gw->live (limits.c) */
	uint64_t used_seq;              /* order of last use, for the idlest first */
	uint64_t used_ms;               /* last call sent or ended */
};

/* ---- an in-flight request ---- */

struct gw_call;
struct gw_hold;
typedef void (*gw_internal_cb)(struct gw_call *c, struct rpc_msg *resp, const char *error);

struct gw_call {
	struct mg_list node;            /* up->waiting while queued */
	struct gw_upstream *up;
	struct gw_session *sess;        /* NULL for the gateway's own requests */
	int64_t up_id;                  /* 0 until sent */
	char *key;                      /* canonical client id (session map key) */
	char *client_id;                /* exact id text from the client */
	size_t client_id_len;
	char *client_token;             /* exact progressToken text, or NULL */
	size_t client_token_len;
	char *method;
	char *name;                     /* exposed tool/prompt name or URI */
	char *up_name;                  /* name sent upstream if different */
	json_t *arguments;              /* for the audit log (with --log-arguments) */
	char *line;                     /* request to send once the instance is up */
	size_t line_len;
	uint64_t start_us;
	uint64_t deadline_ms;
	uint64_t hard_deadline_ms;
	uint64_t bytes_in;
	uint64_t last_progress_us;      /* when progress was last relayed */
	int log_level;                  /* modern: _meta logLevel of the request, -1 = none */
	bool sent_modern;               /* remote: sent as a stateless request */
	struct gw_bridge *bridge;       /* modern client, legacy server asking (bridge.c) */
	json_t *client_caps;            /* modern: the request's clientCapabilities */
	char *modern_name;              /* remote: deferred stateless request's Mcp-Name */
	gw_internal_cb internal;        /* gateway's own request */
	void *internal_ctx;
	bool cancelled;
};

/* ---- a server-to-client request in flight ---- */

struct gw_s2c {
	struct gw_upstream *up;         /* NULL once the instance is gone */
	char *up_id;                    /* the upstream's id text */
	size_t up_id_len;
	int64_t sess_id;                /* id used towards the client */
	uint64_t deadline_ms;
	char *method;
};

/* ---- a client session ---- */

struct gw_session {
	struct mg_list node;            /* gw->sessions */
	struct gateway *gw;
	const struct gw_session_ops *ops;
	void *transport;
	char id[40];
	bool initialized;               /* initialize answered */
	bool modern;                    /* 2026-07-28: one principal's stateless requests */
	bool awaiting_discovery;        /* modern: requests held until servers are listed */
	int req_log_level;              /* modern: the request being routed, -1 = none */
	struct mg_list listeners;       /* modern: subscriptions/listen streams */
	struct mg_list bridges;         /* modern: calls waiting for a retry (bridge.c) */
	bool closed;
	json_t *client_caps;
	json_t *client_info;
	char *version;
	int log_level;                  /* -1: not set */
	char *init_id;                  /* initialize waiting for discovery */
	size_t init_id_len;
	uint64_t init_start_us;
	char *principal;                /* its client (gw_session_set_principal) */
	struct gw_slot *slots;          /* per server (per-session lifecycle) */
	struct mg_map calls;            /* canonical client id -> gw_call */
	struct mg_map s2c;              /* our id towards the client -> gw_s2c */
	int64_t next_s2c_id;
	struct mg_map subs;             /* subscribed uris -> server */
	struct mg_list held;            /* outgoing messages held back (gw_backlog) */
	uint64_t hold_until_us;
	struct mg_list holds;           /* messages a check holds (pipeline.c) */
	size_t n_holds;
	bool request_held;              /* the request being handled waits on a check */
	struct mg_list backlog;         /* messages that arrived before initialize
					   was answered (struct gw_backlog) */
	size_t backlog_len;
	int last_code;                  /* last error code sent (0 = result) */
	char last_error[256];           /* and its message, for the audit log */
	uint64_t last_bytes;            /* size of the last message sent */
};

struct gw_backlog {
	struct mg_list node;
	char *rel;                      /* held output: what it belongs to */
	size_t rel_len;
	bool final;
	bool waiting;                   /* a check holds it: what follows waits */
	size_t len;
	char line[];
};

/* ---- aggregation ---- */

struct gw_entry {                       /* an exposed tool or prompt */
	struct gw_server *srv;
	char *name;                     /* as the client sees it */
	char *orig;                     /* as the server named it */
};

struct gw_tmpl {
	struct gw_server *srv;
	char *tmpl;                     /* uriTemplate */
	size_t literal_len;             /* length of the part before the first '{' */
};

struct gw_agg {
	uint32_t generation;
	json_t *lists[4];               /* tools, prompts, resources, templates */
	struct mg_map tools;            /* exposed name -> gw_entry */
	struct mg_map prompts;
	struct mg_map uris;             /* resource uri -> gw_server */
	struct gw_tmpl *tmpls;
	size_t n_tmpls;
	struct mg_map warned;           /* collision warnings already printed */
	struct mg_map withheld;         /* "tool:NAME", "prompt:NAME", "uri:URI" ->
					   why it is not listed (owned) */
};

enum gw_list_kind { GW_LIST_TOOLS, GW_LIST_PROMPTS, GW_LIST_RESOURCES, GW_LIST_TEMPLATES };

/* Every server's and listed tool's and prompt's name, and whose (review.c). */
struct gw_names {
	const char **name;
	size_t *owner;
	size_t len, cap;
};

struct gw_watch;

struct gateway {
	uv_loop_t *loop;
	struct gw_config cfg;
	struct gw_server **servers;
	size_t n_servers;
	struct gw_agg agg;
	struct mg_list sessions;
	struct mg_list instances;
	uint64_t session_seq;
	uint64_t instance_seq;
	uv_timer_t sweep;
	uv_timer_t release;             /* sends held messages (session.c) */
	int open_timers;
	bool shutting_down;
	struct sbx_filter filter;       /* seccomp, built once */
	bool filter_ok;
	struct gd_out check_out;        /* the checks' outcome, reused (pipeline.c) */
	struct gw_hold *spare_hold;     /* the next wait handed to a check (pipeline.c) */
	void (*shutdown_done)(struct gateway *gw, void *ctx);
	void *shutdown_ctx;
	/* limits.c */
	size_t max_instances;
	size_t max_per_client;
	size_t live;                    /* instances counted against the caps */
	struct mg_map principals;       /* principal -> its instances (uintptr_t) */
	uint64_t nofile;                /* RLIMIT_NOFILE */
	uint64_t fd_reserve;            /* file descriptors no start may take */
	uint64_t fds_counted;           /* open at the last count of /proc/self/fd */
	uint64_t fds_counted_ms;
	uint64_t fds_added;             /* by starts since */
	uint64_t use_seq;
	const char *refused;            /* the limit the last refused start met */
	uint64_t refusals;
	uint64_t refusal_logged_ms;
	/* review.c */
	struct mg_map reviews;          /* digest -> gw_outcome */
	unsigned review_mark;
	struct gw_names review_names;
	uv_timer_t rereview;            /* coalesces watch events */
	struct gw_watch *watches[8];
	size_t n_watches;
};

/* review.c: the definition checks.  Around a rebuild: begin, then
 * gw_review for each definition (a new reference to what clients see, or
 * NULL with *reason: withheld; reason lives until the next rebuild), end. */
int gw_review_start(struct gateway *gw, struct mg_err *err);
void gw_review_release(struct gateway *gw);
void gw_review_begin(struct gateway *gw);
json_t *gw_review(struct gateway *gw, struct gw_server *srv, enum gd_def_kind kind,
		  const char *name, json_t *item, const char **reason);
void gw_review_end(struct gateway *gw);
/* Why a definition clients would call by this name is not listed, or NULL. */
const char *gw_withheld(struct gateway *gw, enum gw_list_kind k, const char *name);

/* sandboxing.c */
/* Work out how a local server runs (logged); on failure, sandbox_error. */
void gw_sandbox_prepare(struct gw_server *srv);
void gw_sandbox_release(struct gw_server *srv);
/* Start the instance's process: in its sandbox, or on the host for an
 * allowed sandbox: false. */
int gw_sandbox_spawn(struct gw_upstream *up, char **env, rt_exit_cb on_exit,
		     struct mg_err *err);
/* Once the instance counts its handles: its egress proxy, if any (one more
 * handle); detach closes it. */
int gw_sandbox_attach(struct gw_upstream *up, struct mg_err *err);
void gw_sandbox_detach(struct gw_upstream *up);

/* gateway.c */
void gw_maybe_finish_shutdown(struct gateway *gw);
const struct gw_secret *gw_secret_find(struct gateway *gw, const char *name);

/* limits.c */
void gw_limits_init(struct gateway *gw);
void gw_limits_release(struct gateway *gw);
/* May an instance of srv of this kind start for owner?  At a cap, the
 * idlest per-session instance of another session is stopped to make room.
 * 0, or -EDQUOT with err ("server 'x' cannot start: ...") and gw->refused
 * naming the limit ("max-instances", "max-instances-per-client",
 * "file-descriptors"). */
int gw_limits_admit(struct gw_server *srv, enum gw_up_kind kind, struct gw_session *owner,
		    struct mg_err *err);
/* The instance runs / no longer runs (stopping or gone); idempotent. */
void gw_limits_count(struct gw_upstream *up);
void gw_limits_uncount(struct gw_upstream *up);
/* A call was sent to it or ended. */
void gw_limits_used(struct gw_upstream *up);

/* agg.c */
void gw_agg_init(struct gw_agg *a);
void gw_agg_release(struct gw_agg *a);
/* Rebuild from the server views; tells sessions about changed lists. */
void gw_agg_rebuild(struct gateway *gw);
struct gw_server *gw_route_uri(struct gateway *gw, const char *uri);
/* Answer a list request (cursor handling included) into out. */
int gw_agg_page(struct gateway *gw, enum gw_list_kind kind, const json_t *params,
		json_t **result, const char **error);
json_t *gw_agg_capabilities(struct gateway *gw);
json_t *gw_agg_instructions(struct gateway *gw);
bool gw_tool_allowed(struct gateway *gw, struct gw_server *srv, const char *tool);

/* server.c */
void gw_server_load_cache(struct gw_server *srv);
/* Start discovery for servers with no view; returns how many run. */
size_t gw_discover_missing(struct gateway *gw, struct gw_session *s);
bool gw_discovery_running(struct gateway *gw);
/* An instance became ready or announced a list change: list it again. */
void gw_server_refresh(struct gw_server *srv, struct gw_upstream *up);
bool gw_server_has_cap(struct gw_server *srv, const char *cap);

/* upstream.c */
struct gw_upstream *gw_upstream_start(struct gw_server *srv, enum gw_up_kind kind,
				      struct gw_session *owner, struct gw_slot *slot,
				      struct mg_err *err);
/* The instance for a request from s to srv, starting one if needed. */
struct gw_upstream *gw_instance_for(struct gw_session *s, struct gw_server *srv,
				    struct mg_err *err);
void gw_upstream_stop(struct gw_upstream *up, const char *why);
/* One of the instance's handles was released; the last frees it. */
void gw_upstream_handle_closed(struct gw_upstream *up);
/* A 2026-07-28 client's request to a remote server: stateless when the
 * server speaks that era (learned on first use), else over the legacy
 * session with the version claim rewritten.  Takes line. */
void gw_remote_send_modern(struct gw_call *c, char *line, size_t len, const char *name);
int gw_upstream_write(struct gw_upstream *up, char *line, size_t len);
/* Build and send a notification / an answer to one of the server's own
 * requests (result borrowed; NULL: an error with code and msg). */
int gw_upstream_notify(struct gw_upstream *up, const char *method, const json_t *params);
int gw_upstream_reply(struct gw_upstream *up, const char *id, size_t id_len,
		      const json_t *result, int code, const char *msg);
void gw_slot_release(struct gw_slot *slot);
void gw_upstreams_sweep(struct gateway *gw, uint64_t now_ms);
json_t *gw_relay_caps(const json_t *client_caps);

/* call.c */
struct gw_call *gw_call_new(struct gw_session *s, const char *method);
/* Give c a fresh upstream id on up and start its deadline. */
int64_t gw_call_register(struct gw_upstream *up, struct gw_call *c, uint64_t timeout_ms);
/* Send the request line (owned) now, or queue it until up is ready.  On a
 * write failure the call fails (the client gets an error). */
void gw_call_send(struct gw_call *c, char *line, size_t len);
/* Send an internal request of the gateway (initialize, list pages). */
void gw_call_internal(struct gw_upstream *up, const char *method, json_t *params,
		      uint64_t timeout_ms, gw_internal_cb cb, void *ctx);
/* Flush queued calls of an instance that became ready. */
void gw_call_flush_waiting(struct gw_upstream *up);
/* Fail a call with a gateway error and free it. */
void gw_call_fail(struct gw_call *c, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Fail every call of an instance (it crashed or stopped). */
void gw_call_fail_all(struct gw_upstream *up, const char *reason, const char *why);
/* A response for up_id arrived. */
void gw_call_complete(struct gw_upstream *up, struct rpc_msg *m);
void gw_call_cancel(struct gw_call *c, const char *reason);
void gw_call_free(struct gw_call *c);
void gw_calls_sweep(struct gateway *gw, uint64_t now_ms);
struct gw_call *gw_call_by_token(struct gw_upstream *up, int64_t token);
void gw_call_touch(struct gw_call *c);
/* The client request a message of up to s concerns: the only call of s in
 * flight on up, or NULL when there is none or several. */
struct gw_call *gw_related_call(struct gw_upstream *up, struct gw_session *s);

/* pipeline.c */
/* How a caller waits for a message a check holds.  When a check answers
 * pending, make(arg) turns the caller's arg (valid during the call only)
 * into the wait's ctx; done gets ctx, the verdict and the line (owned)
 * once the checks have decided, exactly once; if the session closes
 * first, ctx_free(ctx) runs instead. */
struct gw_wait_spec {
	struct gw_session *s;
	void *(*make)(struct gw_session *s, void *arg);
	void *arg;
	void (*done)(struct gw_session *s, void *ctx, enum gd_verdict v, char *line, size_t len,
		     const char *reason);
	void (*ctx_free)(void *ctx);
	void *ctx;                      /* set from make() */
};
/* Offer a message about to leave (line owned, with its newline) to every
 * check.  m's raw/len are set here.  On GD_EDIT the line and its length
 * are the edited bytes; on GD_DENY reason says why (the caller answers or
 * drops); on GD_PENDING the line was taken (*line is NULL) and spec.done
 * comes later.  Without a spec (the caller cannot wait), pending denies. */
enum gd_verdict gw_pipeline_run(struct gateway *gw, struct gd_msg *m, char **line, size_t *len,
				char *reason, size_t reason_len, const struct gw_wait_spec *spec);
/* Let go of the first message s has waiting whose spec match() accepts
 * (the check abandons it; ctx_free runs; done never does).  true if one was. */
bool gw_pipeline_drop(struct gw_session *s, bool (*match)(const struct gw_wait_spec *spec, void *arg),
		      void *arg);
/* The session closes: every message it has waiting is let go. */
void gw_pipeline_session_closed(struct gw_session *s);
void gw_pipeline_release(struct gateway *gw);

/* emit.c: everything sent to a client leaves through these */
/* Where a message to a client comes from: a server (its name), and the
 * method and name of the request it concerns.  NULL: the gateway. */
struct gw_origin {
	const char *server;
	const char *method;
	const char *name;
	const json_t *args;     /* the client request's arguments (for the checks), or NULL */
};
/* Send to s through the checkpoint.  -EACCES: a check stopped a message
 * that is no response (dropped; a response is replaced by the refusal). */
int gw_session_emit(struct gw_session *s, char *line, size_t len, const char *rel, size_t rel_len,
		    bool final, const struct gw_origin *from);
int gw_session_send(struct gw_session *s, char *line, size_t len);
/* The same for a message that belongs to a client request (see gw_out). */
int gw_session_send_rel(struct gw_session *s, char *line, size_t len, const char *rel,
			size_t rel_len, bool final);
/* Hold what is sent to s for the next us microseconds (order kept). */
void gw_session_hold(struct gw_session *s, uint64_t us);
void gw_sessions_release_held(uv_timer_t *t);
void gw_backlog_free(struct gw_backlog *b);
/* Build and send an error / result / notification to the session. */
void gw_session_error(struct gw_session *s, const char *id, size_t id_len, int code,
		      const char *msg, const json_t *data);
void gw_session_result(struct gw_session *s, const char *id, size_t id_len, json_t *result);
void gw_session_notify(struct gw_session *s, const char *method, json_t *params);
/* The same on the stream of the client request rel (params owned). */
void gw_session_notify_rel(struct gw_session *s, const char *method, json_t *params,
			   const char *rel, size_t rel_len);

/* session.c */
void gw_session_answer_initialize(struct gw_session *s);
void gw_sessions_discovery_done(struct gateway *gw);
char *gw_id_key(const json_t *id);

/* modern.c */
bool gw_modern_request(struct gw_session *s, struct rpc_msg *m, const char *id, size_t idl);
int gw_modern_fix_response(const struct rpc_msg *m, const char *method, struct jx_edit *edits,
			   size_t *n, struct mg_buf *scratch);
void gw_modern_lists_changed(struct gw_session *s, const bool changed[3],
			     const char *const *methods);
bool gw_modern_stop_listen(struct gw_session *s, const char *rel, size_t rel_len);
void gw_modern_release(struct gw_session *s);
json_t *gw_modern_supported(void);

/* bridge.c */
bool gw_bridge_server_request(struct gw_upstream *up, struct gw_session *s, struct rpc_msg *m);
int gw_bridge_retry(struct gw_session *s, struct rpc_msg *m, const char *id, size_t idl);
bool gw_bridge_complete(struct gw_call *c, struct rpc_msg *m);
void gw_bridge_call_done(struct gw_call *c);
bool gw_bridge_detached(const struct gw_call *c);
void gw_bridges_release(struct gw_session *s);
void gw_bridges_sweep(struct gateway *gw, uint64_t now_ms);

/* relay.c */
void gw_relay_from_upstream(struct gw_upstream *up, struct rpc_msg *m);
void gw_s2c_forget_upstream(struct gateway *gw, struct gw_upstream *up);
void gw_s2c_sweep(struct gateway *gw, uint64_t now_ms);
void gw_relay_client_response(struct gw_session *s, struct rpc_msg *m);
/* The session is closing: answer the servers still waiting on it. */
void gw_s2c_session_closed(struct gw_session *s);

#endif
