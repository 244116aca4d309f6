#include "rpc/lines.h"

#include <string.h>

/* After a long line, storage over this size is given back: an instance
 * that once sent one large result must not hold that much for good. */
#define PARTIAL_KEEP_MAX (256 * 1024)

void rpc_lines_init(struct rpc_lines *l, size_t max, const struct rpc_lines_ops *ops,
		    void *ctx)
{
	mg_buf_init(&l->partial, max);
	l->discarding = false;
	l->ops = ops;
	l->ctx = ctx;
}

void rpc_lines_release(struct rpc_lines *l)
{
	mg_buf_release(&l->partial);
}

static int deliver(struct rpc_lines *l, const char *line, size_t len)
{
	if (len && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return 0;
	return l->ops->on_line(l->ctx, line, len);
}

static int start_discarding(struct rpc_lines *l)
{
	l->discarding = true;
	mg_buf_release(&l->partial);    /* give the memory back now */
	return l->ops->on_oversize(l->ctx, l->partial.max);
}

int rpc_lines_feed(struct rpc_lines *l, const char *data, size_t n)
{
	const char *end = data + n;
	int rc;

	while (data < end) {
		const char *nl = memchr(data, '\n', (size_t)(end - data));
		size_t seg = (size_t)((nl ? nl : end) - data);

		if (l->discarding) {
			if (nl)
				l->discarding = false;
		} else if (!nl) {
			if (mg_buf_add(&l->partial, data, seg))
				return start_discarding(l);
		} else if (l->partial.len == 0) {
			/* Fast path: the whole line is inside this chunk. */
			if (seg > l->partial.max) {
				if ((rc = l->ops->on_oversize(l->ctx, l->partial.max)))
					return rc;
			} else if ((rc = deliver(l, data, seg))) {
				return rc;
			}
		} else {
			if (mg_buf_add(&l->partial, data, seg)) {
				mg_buf_release(&l->partial);
				if ((rc = l->ops->on_oversize(l->ctx, l->partial.max)))
					return rc;
			} else {
				rc = deliver(l, l->partial.data, l->partial.len);
				if (l->partial.alloc > PARTIAL_KEEP_MAX)
					mg_buf_release(&l->partial);
				else
					mg_buf_reset(&l->partial);
				if (rc)
					return rc;
			}
		}
		data += seg + (nl ? 1 : 0);
	}
	return 0;
}
