/* A byte stream carrying newline-framed JSON-RPC (MCP stdio framing) over
 * a libuv pipe or tty: the gateway's own stdin/stdout and the pipes of
 * every upstream server process.  It moves bytes and frames lines; it
 * never looks inside a message. */
#ifndef MG_TP_STREAM_H
#define MG_TP_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "base/budget.h"
#include "rpc/lines.h"

struct tp_stream;

struct tp_stream_ops {
	/* A complete line (valid during the call only).  Non-zero: stop. */
	int (*on_line)(struct tp_stream *s, const char *line, size_t len);
	/* A line over the cap was discarded. */
	int (*on_oversize)(struct tp_stream *s, size_t max);
	/* End of input or a read error (negative libuv code, UV_EOF for EOF). */
	void (*on_end)(struct tp_stream *s, int status);
	/* The handle is closed; the owner may free the memory now. */
	void (*on_closed)(struct tp_stream *s);
};

struct tp_stream {
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_pipe_t pipe;
		uv_tty_t tty;
	} u;
	const struct tp_stream_ops *ops;
	void *owner;
	struct rpc_lines lines;
	char *rbuf;             /* read buffer, allocated on first read */
	size_t queued;          /* bytes accepted but not yet written */
	size_t queue_max;       /* cap on queued */
	struct mg_budget_user budget;   /* queued, counted in a shared budget */
	int file_fd;            /* >= 0: a regular file or device, no polling */
	uv_fs_t fs_req;         /* file mode: the read in progress */
	uv_loop_t *loop;
	bool fs_busy;
	bool reading;
	bool closing;
	bool ended;
	uint64_t bytes_in;
	uint64_t bytes_out;
};

/* Initialise s for a pipe created by uv_spawn (caller does uv_pipe_init
 * through tp_stream_pipe()).  max_line caps one message; queue_max caps
 * unsent output. */
void tp_stream_setup(struct tp_stream *s, size_t max_line, size_t queue_max,
		     const struct tp_stream_ops *ops, void *owner);
uv_pipe_t *tp_stream_pipe(struct tp_stream *s);
/* Open an existing fd (0, 1, ...): a pipe, socket or tty is polled; a
 * regular file or device (stdin redirected from a file, stdout to one) is
 * read through the libuv thread pool and written synchronously.  0 or
 * -errno. */
int tp_stream_open_fd(uv_loop_t *loop, struct tp_stream *s, int fd);
int tp_stream_start_read(struct tp_stream *s);
void tp_stream_stop_read(struct tp_stream *s);
/* Send bytes.  tp_stream_write copies what cannot be written at once;
 * tp_stream_write_owned takes ownership of data (malloc'd).  0, or
 * -ENOBUFS when the output queue is over its cap (nothing is sent), or
 * -EPIPE when closing. */
int tp_stream_write(struct tp_stream *s, const char *data, size_t len);
int tp_stream_write_owned(struct tp_stream *s, char *data, size_t len);
/* Count what is queued against b too (a write over it fails with
 * -ENOBUFS, as over queue_max).  Call after tp_stream_setup. */
void tp_stream_set_budget(struct tp_stream *s, struct mg_budget *b);
/* Close the handle; ops->on_closed runs later from the loop. */
void tp_stream_close(struct tp_stream *s);

#endif
