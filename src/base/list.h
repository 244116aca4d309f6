/* Intrusive doubly-linked list (circular, with a head node). */
#ifndef MG_LIST_H
#define MG_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct mg_list {
	struct mg_list *prev, *next;
};

static inline void mg_list_init(struct mg_list *h)
{
	h->prev = h->next = h;
}

static inline bool mg_list_empty(const struct mg_list *h)
{
	return h->next == h;
}

static inline void mg_list_add_tail(struct mg_list *h, struct mg_list *n)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

/* Unlink n and leave it pointing at itself (safe to unlink twice). */
static inline void mg_list_del(struct mg_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

#define mg_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Iterate allowing removal of the current node. */
#define mg_list_each_safe(pos, tmp, head) \
	for (pos = (head)->next, tmp = pos->next; pos != (head); pos = tmp, tmp = pos->next)

#endif
