/* Newline framing (MCP stdio): one JSON-RPC message per line.  Complete
 * lines inside a chunk are delivered straight from the chunk; only a
 * trailing partial line is buffered, up to a cap.  A line longer than the
 * cap is reported once and then discarded up to its newline, so that a
 * peer sending a 100 MB line costs at most the cap in memory. */
#ifndef MG_RPC_LINES_H
#define MG_RPC_LINES_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

struct rpc_lines_ops {
	/* One complete line without its newline (and without a trailing \r).
	 * Return non-zero to stop delivering (the reader is going away). */
	int (*on_line)(void *ctx, const char *line, size_t len);
	/* A line went over the cap; called once per oversized line. */
	int (*on_oversize)(void *ctx, size_t max);
};

struct rpc_lines {
	struct mg_buf partial;
	bool discarding;
	const struct rpc_lines_ops *ops;
	void *ctx;
};

void rpc_lines_init(struct rpc_lines *l, size_t max, const struct rpc_lines_ops *ops,
		    void *ctx);
void rpc_lines_release(struct rpc_lines *l);
/* Feed a chunk.  Returns non-zero when a callback asked to stop. */
int rpc_lines_feed(struct rpc_lines *l, const char *data, size_t n);

#endif
