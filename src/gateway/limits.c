/* How many server instances may run: a cap for the gateway
 * (--max-instances), one per client (--max-instances-per-client: the
 * client being the principal of its session, the bearer credential over
 * HTTP), and file descriptors kept in reserve whatever the caps say.
 *
 * Each local instance holds 5 of the gateway's file descriptors while it
 * runs (its stdin, stdout and stderr pipes, its pidfd and the sandbox's
 * "alive" pipe; one more for an egress listener) and about 16 more for a
 * moment while it starts.  Without a limit, a few thousand sessions that
 * each start a per-session server use up RLIMIT_NOFILE and every other
 * client's calls fail with EMFILE somewhere.  Here a start is refused
 * before that, with an error that names the limit, and an instance that a
 * session has left idle may be stopped (the idlest first) to make room.
 *
 * Shared instances and the gateway's own listing instances (at most one of
 * each per server) count towards the total but are never refused by the
 * caps: only by the file descriptors. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "base/time.h"
#include "gateway/internal.h"

#define FDS_PER_INSTANCE 6      /* 5 while it runs, and one for an egress listener */
#define FDS_TO_START 32         /* held for a moment by a start (pipes, sandbox set-up) */
#define FDS_RESERVE_FIXED 64    /* listener, epoll, logs, audit, cache files... */
/* What an instance takes on the host: a Node.js server about 75 MiB, the
 * C fixture 8 MiB (RSS after initialize). */
#define MEM_PER_INSTANCE (64ull << 20)
#define REFUSAL_LOG_MS 10000    /* refusals are logged at most this often */
/* Reading /proc/self/fd costs about 0.35 ms per thousand open fds: it is
 * read at most once a second, or ten times a second near the limit, and
 * in between each start is taken to add its fds (closes are not seen, so
 * the estimate errs on the safe side). */
#define FDS_RECOUNT_MS 1000
#define FDS_RECOUNT_NEAR_MS 100

/* Open file descriptors of this process, or -errno. */
static long fds_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;                   /* the directory's own */
}

/* The fds open now, as best known; -1: unknown (no /proc). */
static long fds_open(struct gateway *gw, uint64_t room)
{
	uint64_t now = mg_now_ms(), since = now - gw->fds_counted_ms;
	uint64_t estimate = gw->fds_counted + gw->fds_added;
	long n;

	if (gw->fds_counted_ms && since < FDS_RECOUNT_MS &&
	    (estimate <= room || since < FDS_RECOUNT_NEAR_MS))
		return (long)estimate;
	n = fds_count();
	if (n == -EMFILE || n == -ENFILE)
		n = (long)gw->nofile;   /* not even one more: full */
	if (n < 0)
		return -1;
	gw->fds_counted = (uint64_t)n;
	gw->fds_added = 0;
	gw->fds_counted_ms = now;
	return n;
}

void gw_limits_init(struct gateway *gw)
{
	struct rlimit rl;
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	uint64_t mem = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
	uint64_t by_fds, by_mem, derived, room;

	mg_map_init(&gw->principals);
	gw->nofile = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		gw->nofile = rl.rlim_cur == RLIM_INFINITY ? (1u << 20) : (uint64_t)rl.rlim_cur;
	gw->fd_reserve = gw->nofile / 10 + FDS_RESERVE_FIXED;
	/* Half of what is left for instances, the other half for clients'
	 * connections (and egress connections of the instances). */
	room = gw->nofile > gw->fd_reserve ? gw->nofile - gw->fd_reserve : 0;
	by_fds = room / 2 / FDS_PER_INSTANCE;
	by_mem = mem ? mem / MEM_PER_INSTANCE : by_fds;
	derived = by_fds < by_mem ? by_fds : by_mem;
	if (derived < 1)
		derived = 1;
	gw->max_instances = gw->cfg.max_instances ? gw->cfg.max_instances : (size_t)derived;
	gw->max_per_client = gw->cfg.max_instances_per_client ? gw->cfg.max_instances_per_client
							      : gw->max_instances;
	if (gw->max_per_client > gw->max_instances)
		gw->max_per_client = gw->max_instances;
	if (!gw->n_servers)
		return;
	mg_info("limits: at most %zu server instances (%s), %zu per client; %llu file "
		"descriptors (RLIMIT_NOFILE), %llu of them kept in reserve", gw->max_instances,
		gw->cfg.max_instances ? "--max-instances"
				      : "from RLIMIT_NOFILE and memory; --max-instances",
		gw->max_per_client, (unsigned long long)gw->nofile,
		(unsigned long long)gw->fd_reserve);
	if (gw->cfg.max_instances && gw->cfg.max_instances > room / (FDS_PER_INSTANCE - 1))
		mg_warn("--max-instances %zu is more than %llu file descriptors (RLIMIT_NOFILE) "
			"allow for; starts are refused once the reserve is reached",
			gw->cfg.max_instances, (unsigned long long)gw->nofile);
}

void gw_limits_release(struct gateway *gw)
{
	mg_map_release(&gw->principals);
}

static size_t principal_count(struct gateway *gw, const char *principal)
{
	return (uintptr_t)mg_map_gets(&gw->principals, principal);
}

/* Only per-session instances are stopped to make room, and only when
 * nothing depends on them at the moment: no call in flight or queued, no
 * listing, no request of the server waiting on its client, no resource
 * subscription or listen stream of its session. */
static bool reclaimable(const struct gw_upstream *up, const struct gw_session *requester,
			uint64_t now)
{
	const struct gw_session *s = up->owner;
	uint64_t after = up->gw->cfg.reclaim_idle_ms;
	size_t it = 0;
	void *v;

	if (up->kind != GW_UP_SESSION || up->state != GW_UP_READY || !up->counted || !s ||
	    s == requester || after == GW_RECLAIM_NEVER || now - up->used_ms < after)
		return false;
	if (up->pending.count || !mg_list_empty(&up->waiting) || up->listing || up->list_refresh ||
	    !mg_list_empty(&s->listeners) || !mg_list_empty(&s->bridges))
		return false;
	while (mg_map_next(&s->subs, &it, NULL, NULL, &v))
		if (v == up->srv)
			return false;
	it = 0;
	while (mg_map_next(&s->s2c, &it, NULL, NULL, &v))
		if (((const struct gw_s2c *)v)->up == up)
			return false;
	return true;
}

/* Stop the idlest instance of another session (of this principal, when
 * given).  Its session gets a new instance at its next call. */
static bool reclaim(struct gateway *gw, const struct gw_session *requester,
		    const char *principal, const char *limit)
{
	uint64_t now = mg_now_ms();
	struct gw_upstream *best = NULL;
	struct mg_list *pos;

	for (pos = gw->instances.next; pos != &gw->instances; pos = pos->next) {
		struct gw_upstream *up = mg_container_of(pos, struct gw_upstream, node);

		if (!reclaimable(up, requester, now) ||
		    (principal && !mg_streq(up->principal, principal)))
			continue;
		if (!best || up->used_seq < best->used_seq)
			best = up;
	}
	if (!best)
		return false;
	mg_info("stopping %s, idle for %llu ms, to make room for another session's instance (%s)",
		best->label, (unsigned long long)(now - best->used_ms), limit);
	gw_upstream_stop(best, "stopped while idle, to make room for another instance");
	return true;
}

static int refuse(struct gateway *gw, struct gw_server *srv, const char *limit,
		  struct mg_err *err, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int refuse(struct gateway *gw, struct gw_server *srv, const char *limit,
		  struct mg_err *err, const char *fmt, ...)
{
	char why[400];
	uint64_t now = mg_now_ms();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	gw->refused = limit;
	gw->refusals++;
	if (!gw->refusal_logged_ms || now - gw->refusal_logged_ms >= REFUSAL_LOG_MS) {
		mg_warn("server '%s' cannot start: %s (%llu start%s refused so far)",
			srv->def->name, why, (unsigned long long)gw->refusals,
			gw->refusals == 1 ? "" : "s");
		gw->refusal_logged_ms = now;
	}
	return mg_err_set(err, -EDQUOT, "server '%s' cannot start: %s", srv->def->name, why);
}

int gw_limits_admit(struct gw_server *srv, enum gw_up_kind kind, struct gw_session *owner,
		    struct mg_err *err)
{
	struct gateway *gw = srv->gw;
	bool capped = kind == GW_UP_SESSION || kind == GW_UP_CALL;
	const char *who = capped && owner ? owner->principal : NULL;
	uint64_t room;
	long open;

	gw->refused = NULL;
	/* (At the same number as the gateway's cap, the gateway's is the one
	 * to name.) */
	if (who && gw->max_per_client < gw->max_instances &&
	    principal_count(gw, who) >= gw->max_per_client &&
	    !reclaim(gw, owner, who, "--max-instances-per-client"))
		return refuse(gw, srv, "max-instances-per-client", err,
			      "this client runs %zu server instances, its limit "
			      "(--max-instances-per-client)", principal_count(gw, who));
	if (capped && gw->live >= gw->max_instances && !reclaim(gw, owner, NULL, "--max-instances"))
		return refuse(gw, srv, "max-instances", err,
			      "the gateway runs %zu server instances, its limit (--max-instances)",
			      gw->live);
	room = 0;
	if (gw->nofile > gw->fd_reserve + FDS_TO_START)
		room = gw->nofile - gw->fd_reserve - FDS_TO_START;
	open = gw->nofile ? fds_open(gw, room) : -1;
	if (open >= 0 && (uint64_t)open > room)
		return refuse(gw, srv, "file-descriptors", err,
			      "the gateway has %ld of its %llu file descriptors open and keeps "
			      "%llu in reserve (RLIMIT_NOFILE)", open,
			      (unsigned long long)gw->nofile,
			      (unsigned long long)gw->fd_reserve);
	return 0;
}

void gw_limits_used(struct gw_upstream *up)
{
	up->used_seq = ++up->gw->use_seq;
	up->used_ms = mg_now_ms();
}

void gw_limits_count(struct gw_upstream *up)
{
	struct gateway *gw = up->gw;
	bool capped = up->kind == GW_UP_SESSION || up->kind == GW_UP_CALL;

	up->counted = true;
	gw->live++;
	gw->fds_added += FDS_PER_INSTANCE - 1;
	if (capped && up->owner && up->owner->principal) {
		up->principal = mg_strdup(up->owner->principal);
		mg_map_puts(&gw->principals, up->principal,
			    (void *)(uintptr_t)(principal_count(gw, up->principal) + 1));
	}
	gw_limits_used(up);
}

void gw_limits_uncount(struct gw_upstream *up)
{
	struct gateway *gw = up->gw;
	size_t n;

	if (!up->counted)
		return;
	up->counted = false;
	gw->live--;
	if (!up->principal)
		return;
	n = principal_count(gw, up->principal);
	if (n > 1)
		mg_map_puts(&gw->principals, up->principal, (void *)(uintptr_t)(n - 1));
	else
		mg_map_dels(&gw->principals, up->principal);
}
