#include "base/budget.h"

#include <errno.h>

#include "base/time.h"

void mg_budget_init(struct mg_budget *b, size_t max)
{
	b->max = max;
	b->used = 0;
	b->peak = 0;
	b->evictions = 0;
	b->round = 0;
	mg_list_init(&b->users);
}

void mg_budget_join(struct mg_budget *b, struct mg_budget_user *u, mg_budget_evict_cb evict)
{
	u->b = b;
	u->held = 0;
	u->since_ms = 0;
	u->tried = 0;
	u->evict = evict;
	mg_list_init(&u->node);
	if (b)
		mg_list_add_tail(&b->users, &u->node);
}

void mg_budget_leave(struct mg_budget_user *u)
{
	if (!u->b)
		return;
	mg_budget_release(u, u->held);
	mg_list_del(&u->node);
	u->b = NULL;
}

static void take(struct mg_budget_user *u, size_t n)
{
	struct mg_budget *b = u->b;

	if (u->held == 0)
		u->since_ms = mg_now_ms();
	u->held += n;
	b->used += n;
	if (b->used > b->peak)
		b->peak = b->used;
}

/* The user that has waited longest without progress (the larger one of
 * two that waited as long), among those not tried yet this round. */
static struct mg_budget_user *stalest(struct mg_budget *b)
{
	struct mg_budget_user *best = NULL;
	struct mg_list *pos;

	for (pos = b->users.next; pos != &b->users; pos = pos->next) {
		struct mg_budget_user *v = mg_container_of(pos, struct mg_budget_user, node);

		if (!v->held || !v->evict || v->tried == b->round)
			continue;
		if (!best || v->since_ms < best->since_ms ||
		    (v->since_ms == best->since_ms && v->held > best->held))
			best = v;
	}
	return best;
}

int mg_budget_charge(struct mg_budget_user *u, size_t n)
{
	struct mg_budget *b = u->b;
	struct mg_budget_user *v;

	if (!b)
		return 0;
	if (!b->max || n <= b->max - b->used) {
		take(u, n);
		return 0;
	}
	if (n > b->max)
		return -ENOBUFS;                /* nothing could make room */
	b->round++;
	while (n > b->max - b->used && (v = stalest(b))) {
		v->tried = b->round;
		b->evictions++;
		v->evict(v);
		if (v == u)
			return -ENOBUFS;        /* it was the one not reading */
	}
	if (n > b->max - b->used)
		return -ENOBUFS;
	take(u, n);
	return 0;
}

void mg_budget_release(struct mg_budget_user *u, size_t n)
{
	if (!u->b || !n)
		return;
	if (n > u->held)
		n = u->held;
	u->held -= n;
	u->b->used -= n;
	u->since_ms = mg_now_ms();
}
