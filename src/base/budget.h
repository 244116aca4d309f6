/* A memory budget shared by many queues: every byte the gateway holds for
 * clients that have not read it yet (HTTP event streams and answers, the
 * events kept for resumption or waiting for a GET stream, the stdio output
 * queue) is charged to one budget (--max-queued-output).  Each queue keeps
 * its own cap as well; the budget bounds their sum.
 *
 * When a charge would go over the budget, the users that have waited
 * longest without progress are evicted first (their evict callback drops
 * what they hold), until the charge fits: a client that reads makes
 * progress all the time, one that never reads does not, so it is the one
 * that loses its stream.  If nothing more can be evicted, the charge fails
 * and the caller treats it as its own cap being exceeded.
 *
 * One loop thread; no locking. */
#ifndef MG_BUDGET_H
#define MG_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "base/list.h"

struct mg_budget_user;

/* Drop what u holds (calling mg_budget_release for it) without freeing u;
 * it may be called from inside any other user's mg_budget_charge.  A user
 * that cannot drop anything right now may simply return. */
typedef void (*mg_budget_evict_cb)(struct mg_budget_user *u);

struct mg_budget {
	size_t max;                     /* bytes; 0 = no budget (nothing is refused) */
	size_t used;
	size_t peak;
	uint64_t evictions;
	uint64_t round;                 /* eviction rounds, to try each user once */
	struct mg_list users;
};

struct mg_budget_user {
	struct mg_list node;            /* b->users */
	struct mg_budget *b;            /* NULL: not counted */
	size_t held;
	uint64_t since_ms;              /* last progress, or when it began to hold */
	uint64_t tried;                 /* the eviction round it was last tried in */
	mg_budget_evict_cb evict;       /* NULL: never evicted */
};

void mg_budget_init(struct mg_budget *b, size_t max);
/* Start counting u against b (b may be NULL: u then counts nothing). */
void mg_budget_join(struct mg_budget *b, struct mg_budget_user *u, mg_budget_evict_cb evict);
/* Stop counting u; what it still holds is released. */
void mg_budget_leave(struct mg_budget_user *u);
/* u is about to hold n more bytes.  0, or -ENOBUFS when they do not fit
 * even after evicting every user that has waited longer than u (u itself
 * may be evicted too, if it has waited longest; the charge then fails). */
int mg_budget_charge(struct mg_budget_user *u, size_t n);
/* u gave n bytes to its client (or dropped them): that is progress. */
void mg_budget_release(struct mg_budget_user *u, size_t n);

#endif
