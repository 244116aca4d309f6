#include "audit/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/time.h"
#include "json/jx.h"

struct aud_log {
	int fd;
	char *path;
	bool log_arguments;
	struct mg_buf line;
	mg_text_filter filter;
	void *filter_ctx;
};

void aud_set_filter(struct aud_log *a, mg_text_filter f, void *ctx)
{
	if (a) {
		a->filter = f;
		a->filter_ctx = ctx;
	}
}

int aud_open(struct aud_log **out, const char *path, bool log_arguments)
{
	struct aud_log *a = MG_NEW(struct aud_log);
	char *dir, *slash;
	int rc;

	a->fd = -1;
	a->log_arguments = log_arguments;
	mg_buf_init(&a->line, 64u << 20);
	*out = a;
	if (!path)
		return 0;
	a->path = mg_strdup(path);
	dir = mg_strdup(path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mg_mkdir_p(dir, 0700);
	}
	free(dir);
	a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->fd < 0) {
		rc = -errno;
		aud_close(a);
		*out = NULL;
		return rc;
	}
	return 0;
}

void aud_close(struct aud_log *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	mg_buf_release(&a->line);
	free(a->path);
	free(a);
}

const char *aud_path(const struct aud_log *a)
{
	return a ? a->path : NULL;
}

static void add_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

void aud_write(struct aud_log *a, const struct aud_record *r)
{
	char ts[40];
	char *text;
	json_t *o;

	if (!a || a->fd < 0)
		return;
	mg_wall_rfc3339(ts, sizeof(ts));
	o = json_object();
	json_object_set_new(o, "time", json_string(ts));
	add_str(o, "session", r->session);
	add_str(o, "server", r->server);
	add_str(o, "method", r->method);
	add_str(o, "name", r->name);
	add_str(o, "upstream_name", r->upstream_name);
	if (r->upstream_id >= 0)
		json_object_set_new(o, "upstream_id", json_integer(r->upstream_id));
	json_object_set_new(o, "duration_ms", json_real((double)(r->duration_us / 1000) +
						       (double)(r->duration_us % 1000) / 1000.0));
	add_str(o, "outcome", r->outcome);
	if (r->error_code)
		json_object_set_new(o, "error_code", json_integer(r->error_code));
	add_str(o, "error", r->error);
	json_object_set_new(o, "bytes_in", json_integer((json_int_t)r->bytes_in));
	json_object_set_new(o, "bytes_out", json_integer((json_int_t)r->bytes_out));
	add_str(o, "check", r->check);
	add_str(o, "finding", r->finding);
	add_str(o, "detail", r->detail);
	if (a->log_arguments && r->arguments)
		json_object_set(o, "arguments", (json_t *)(uintptr_t)r->arguments);
	/* Nine significant digits: durations read 46.453, not 46.453000000000003. */
	text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9));
	mg_buf_reset(&a->line);
	if (text && a->filter && a->filter(a->filter_ctx, text, strlen(text), &a->line)) {
		free(text);
		text = mg_buf_detach(&a->line, NULL);
	}
	mg_buf_reset(&a->line);
	if (text && mg_buf_adds(&a->line, text) == 0 && mg_buf_addc(&a->line, '\n') == 0 &&
	    mg_write_all(a->fd, a->line.data, a->line.len) < 0)
		mg_warn("audit log %s: write failed: %s", a->path, strerror(errno));
	free(text);
	json_decref(o);
}
