/* mcp/lister: the client side of listing everything one MCP peer offers.
 *
 * initialize (protocol 2025-11-25, no client capabilities), then
 * notifications/initialized, then every page of tools/list, prompts/list,
 * resources/list and resources/templates/list that the peer's
 * capabilities announce, following nextCursor.  The initialize result's
 * `instructions` are kept too.  `mcpguard scan --catalog` drives one per
 * server; it moves the bytes, this module only reads lines and says what
 * to send (no I/O).
 *
 * The peer is untrusted: each line is parsed strictly (rpc_parse), a
 * response must answer the one request in flight, a list result must be
 * an object with an array of objects under its key and a string (or
 * absent) nextCursor, and pages, items and bytes are capped.  A cursor
 * that repeats the one before it ends the listing as an error (the peer
 * would loop).  The peer's own requests are answered (ping with {},
 * anything else with -32601) and its notifications ignored.  The first
 * thing wrong ends the listing: state MCP_LISTER_FAILED and `error` says
 * what, with the peer's text made printable and cut. */
#ifndef MG_MCP_LISTER_H
#define MG_MCP_LISTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

enum mcp_lister_state { MCP_LISTER_IDLE, MCP_LISTER_RUNNING, MCP_LISTER_DONE, MCP_LISTER_FAILED };

/* The lists, in the order they are asked for. */
enum mcp_list_kind { MCP_LIST_TOOLS, MCP_LIST_PROMPTS, MCP_LIST_RESOURCES, MCP_LIST_TEMPLATES,
		     MCP_LIST_N };

struct mcp_lister_limits {
	size_t max_pages;       /* per list (default 1000) */
	size_t max_items;       /* all lists together (default 100,000) */
	size_t max_bytes;       /* every line read, together (default 256 MiB) */
};

struct mcp_lister {
	enum mcp_lister_state state;
	char error[512];                /* when FAILED */
	struct mcp_lister_limits lim;
	json_t *init_result;            /* owned; the initialize result once answered */
	json_t *lists[MCP_LIST_N];      /* owned arrays, filled page by page */
	size_t pages[MCP_LIST_N];       /* pages read of each */
	size_t items, bytes;
	/* the request in flight */
	int64_t next_id;
	int64_t wait_id;                /* 0: none */
	int wait_kind;                  /* -1: initialize; else an mcp_list_kind */
	char *cursor;                   /* the cursor it carries (owned), or NULL */
	bool want[MCP_LIST_N];          /* announced by the peer's capabilities */
	struct mg_buf out;              /* lines to send, in order */
	char client_name[64], client_version[32];
};

/* Zero limits take the defaults.  name/version: clientInfo. */
void mcp_lister_init(struct mcp_lister *l, const struct mcp_lister_limits *lim,
		     const char *client_name, const char *client_version);
void mcp_lister_release(struct mcp_lister *l);

/* Queue the initialize request.  0, or -EALREADY. */
int mcp_lister_start(struct mcp_lister *l);

/* One complete line from the peer (without its newline).  0 while the
 * listing goes on or once it is done; a negative errno once it failed
 * (then and for every later line). */
int mcp_lister_feed(struct mcp_lister *l, const char *line, size_t len);

/* The peer's line was over the transport's cap (a message too large to
 * read): the listing fails. */
void mcp_lister_oversize(struct mcp_lister *l, size_t max);

/* What to send now: the queued lines (caller frees), or NULL when there
 * is nothing.  Take it after start and after every feed. */
char *mcp_lister_take(struct mcp_lister *l, size_t *len);

/* The initialize result's instructions, or NULL (borrowed). */
const char *mcp_lister_instructions(const struct mcp_lister *l);

/* "tools", "prompts", "resources", "resourceTemplates" (the result key);
 * the method; the definition kind as guard/defscan names it. */
const char *mcp_list_key(enum mcp_list_kind k);
const char *mcp_list_method(enum mcp_list_kind k);
const char *mcp_list_def_kind(enum mcp_list_kind k);

#endif
