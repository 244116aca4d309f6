#include "transport/stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "base/log.h"
#include "base/mem.h"

#define TP_READ_CHUNK (256 * 1024)

void tp_stream__finish_close(struct tp_stream *s);

struct write_req {
	uv_write_t req;
	struct tp_stream *s;
	char *data;
	size_t len;
};

static int lines_on_line(void *ctx, const char *line, size_t len)
{
	struct tp_stream *s = ctx;

	return s->ops->on_line(s, line, len);
}

static int lines_on_oversize(void *ctx, size_t max)
{
	struct tp_stream *s = ctx;

	return s->ops->on_oversize(s, max);
}

static const struct rpc_lines_ops lines_ops = {
	.on_line = lines_on_line,
	.on_oversize = lines_on_oversize,
};

void tp_stream_setup(struct tp_stream *s, size_t max_line, size_t queue_max,
		     const struct tp_stream_ops *ops, void *owner)
{
	memset(s, 0, sizeof(*s));
	s->file_fd = -1;
	s->ops = ops;
	s->owner = owner;
	s->queue_max = queue_max;
	rpc_lines_init(&s->lines, max_line, &lines_ops, s);
}

uv_pipe_t *tp_stream_pipe(struct tp_stream *s)
{
	return &s->u.pipe;
}

int tp_stream_open_fd(uv_loop_t *loop, struct tp_stream *s, int fd)
{
	int rc;

	switch (uv_guess_handle(fd)) {
	case UV_TTY:
		rc = uv_tty_init(loop, &s->u.tty, fd, 0);
		break;
	case UV_NAMED_PIPE:
	case UV_TCP:
	case UV_UDP:
		rc = uv_pipe_init(loop, &s->u.pipe, 0);
		if (!rc)
			rc = uv_pipe_open(&s->u.pipe, fd);
		break;
	case UV_FILE:
		/* An idle handle gives the stream something to close, so that
		 * its life ends like any other's. */
		s->file_fd = fd;
		s->loop = loop;
		rc = uv_idle_init(loop, (uv_idle_t *)&s->u.handle);
		break;
	case UV_UNKNOWN_HANDLE:
	default:
		return -ENOTSUP;
	}
	if (!rc)
		s->u.handle.data = s;
	return rc;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct tp_stream *s = h->data;

	if (!s->rbuf)
		s->rbuf = mg_malloc(TP_READ_CHUNK);
	buf->base = s->rbuf;
	buf->len = TP_READ_CHUNK;
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct tp_stream *s = st->data;

	if (n > 0) {
		s->bytes_in += (uint64_t)n;
		if (rpc_lines_feed(&s->lines, buf->base, (size_t)n))
			tp_stream_stop_read(s);
		return;
	}
	if (n < 0) {
		tp_stream_stop_read(s);
		if (!s->ended) {
			s->ended = true;
			s->ops->on_end(s, (int)n);
		}
	}
}

static void file_read_cb(uv_fs_t *req);

static int file_read_next(struct tp_stream *s)
{
	uv_buf_t b;

	if (!s->rbuf)
		s->rbuf = mg_malloc(TP_READ_CHUNK);
	b = uv_buf_init(s->rbuf, TP_READ_CHUNK);
	s->fs_req.data = s;
	return uv_fs_read(s->loop, &s->fs_req, s->file_fd, &b, 1, -1, file_read_cb);
}

static void file_read_cb(uv_fs_t *req)
{
	struct tp_stream *s = req->data;
	ssize_t n = req->result;

	uv_fs_req_cleanup(req);
	s->fs_busy = false;
	if (s->closing) {
		tp_stream__finish_close(s);
		return;
	}
	if (n > 0) {
		s->bytes_in += (uint64_t)n;
		if (rpc_lines_feed(&s->lines, s->rbuf, (size_t)n) || !s->reading)
			return;
		if (file_read_next(s) == 0)
			s->fs_busy = true;
		return;
	}
	s->reading = false;
	if (!s->ended) {
		s->ended = true;
		s->ops->on_end(s, n == 0 ? UV_EOF : (int)n);
	}
}

int tp_stream_start_read(struct tp_stream *s)
{
	int rc;

	if (s->reading || s->closing)
		return 0;
	if (s->file_fd >= 0) {
		s->reading = true;
		if (!s->fs_busy && (rc = file_read_next(s)) != 0) {
			s->reading = false;
			return rc;
		}
		s->fs_busy = true;
		return 0;
	}
	s->u.handle.data = s;
	rc = uv_read_start(&s->u.stream, alloc_cb, read_cb);
	if (!rc)
		s->reading = true;
	return rc;
}

void tp_stream_stop_read(struct tp_stream *s)
{
	if (s->reading && !s->closing && s->file_fd < 0)
		uv_read_stop(&s->u.stream);
	s->reading = false;
}

static void write_cb(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;

	w->s->queued -= w->len;
	mg_budget_release(&w->s->budget, w->len);
	if (status && status != UV_ECANCELED)
		mg_debug("write failed: %s", uv_strerror(status));
	free(w->data);
	free(w);
}

/* Write what the pipe takes now, queue the rest.  data is owned when own. */
static int do_write(struct tp_stream *s, char *data, size_t len, bool own)
{
	struct write_req *w;
	uv_buf_t b;
	int n = 0, rc;

	if (s->closing || uv_is_closing(&s->u.handle)) {
		if (own)
			free(data);
		return -EPIPE;
	}
	if (s->file_fd >= 0) {
		/* Files do not block for long: write it all now. */
		rc = mg_write_all(s->file_fd, data, len);
		s->bytes_out += len;
		if (own)
			free(data);
		return rc;
	}
	if (s->queued + len > s->queue_max) {
		if (own)
			free(data);
		return -ENOBUFS;
	}
	s->bytes_out += len;
	if (s->queued == 0) {
		b = uv_buf_init(data, (unsigned)len);
		n = uv_try_write(&s->u.stream, &b, 1);
		if (n < 0 && n != UV_EAGAIN) {
			if (own)
				free(data);
			return n;
		}
		if (n < 0)
			n = 0;
		if ((size_t)n == len) {
			if (own)
				free(data);
			return 0;
		}
	}
	if (mg_budget_charge(&s->budget, len - (size_t)n)) {
		if (own)
			free(data);
		return -ENOBUFS;
	}
	w = MG_NEW(struct write_req);
	w->s = s;
	w->len = len - (size_t)n;
	if (own && n == 0) {
		w->data = data;
	} else {
		w->data = mg_memdup0(data + n, w->len);
		if (own)
			free(data);
	}
	b = uv_buf_init(w->data, (unsigned)w->len);
	rc = uv_write(&w->req, &s->u.stream, &b, 1, write_cb);
	if (rc) {
		mg_budget_release(&s->budget, w->len);
		free(w->data);
		free(w);
		return rc;
	}
	s->queued += w->len;
	return 0;
}

int tp_stream_write(struct tp_stream *s, const char *data, size_t len)
{
	return do_write(s, (char *)(uintptr_t)data, len, false);
}

int tp_stream_write_owned(struct tp_stream *s, char *data, size_t len)
{
	return do_write(s, data, len, true);
}

void tp_stream_set_budget(struct tp_stream *s, struct mg_budget *b)
{
	mg_budget_join(b, &s->budget, NULL);
}

static void close_cb(uv_handle_t *h)
{
	struct tp_stream *s = h->data;

	mg_budget_leave(&s->budget);
	rpc_lines_release(&s->lines);
	free(mg_steal(&s->rbuf));
	if (s->ops->on_closed)
		s->ops->on_closed(s);
}

void tp_stream__finish_close(struct tp_stream *s)
{
	if (uv_is_closing(&s->u.handle))
		return;
	uv_close(&s->u.handle, close_cb);
}

void tp_stream_close(struct tp_stream *s)
{
	if (s->closing)
		return;
	s->closing = true;
	s->reading = false;
	s->u.handle.data = s;
	/* A file read in flight owns the buffer: close once it is back. */
	if (s->fs_busy) {
		uv_cancel((uv_req_t *)&s->fs_req);
		return;
	}
	tp_stream__finish_close(s);
}
