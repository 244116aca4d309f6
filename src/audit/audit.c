#include "audit/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
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
	/* the chain: each record carries the hash of the one before */
	uint64_t seq;                   /* of the last record in the file */
	char prev[AUD_HASH_HEX];        /* its hash */
	off_t known_size;               /* the file's size after our last write */
	char *prev_file;                /* set for the first record after a rotation */
	uint64_t max_size;              /* rotate past this (0: never) */
};

void aud_set_filter(struct aud_log *a, mg_text_filter f, void *ctx)
{
	if (a) {
		a->filter = f;
		a->filter_ctx = ctx;
	}
}

/* Where the chain stands in the file: the last record's seq and hash
 * (another gateway may have appended since we looked).  A file whose last
 * line is no chained record continues from that line's hash. */
static int sync_tail(struct aud_log *a)
{
	struct stat st;
	struct mg_buf last;
	int rc;

	if (fstat(a->fd, &st) < 0)
		return -errno;
	if (st.st_size == a->known_size)
		return 0;
	a->known_size = st.st_size;
	if (st.st_size == 0) {
		a->seq = 0;
		memset(a->prev, '0', AUD_HASH_HEX - 1);
		a->prev[AUD_HASH_HEX - 1] = '\0';
		return 0;
	}
	mg_buf_init(&last, AUD_LINE_MAX);
	rc = aud_last_line(a->fd, st.st_size, &last);
	if (rc == 0) {
		json_error_t je;
		json_t *rec = jx_parse(last.data, last.len, &je);

		a->seq = json_is_integer(json_object_get(rec, "seq"))
			 ? (uint64_t)json_integer_value(json_object_get(rec, "seq")) : 0;
		aud_hash_line(last.data, last.len, a->prev);
		json_decref(rec);
	}
	mg_buf_release(&last);
	return rc;
}

static int open_file(struct aud_log *a)
{
	int rc;

	a->fd = open(a->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->fd < 0)
		return -errno;
	a->known_size = -1;
	flock(a->fd, LOCK_EX);
	rc = sync_tail(a);
	flock(a->fd, LOCK_UN);
	return rc;
}

/* The file is full: it keeps its name with the time appended, and the
 * next record, first of a new file, names it and carries its last hash. */
static void rotate(struct aud_log *a)
{
	char ts[32], *rotated, *base;
	struct mg_buf b;
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	mg_buf_init(&b, PATH_MAX);
	mg_buf_addf(&b, "%s.%s", a->path, ts);
	rotated = mg_buf_detach(&b, NULL);
	if (rename(a->path, rotated) < 0) {
		mg_warn("audit log %s: cannot rotate: %s", a->path, strerror(errno));
		free(rotated);
		return;
	}
	base = strrchr(rotated, '/');
	free(a->prev_file);
	a->prev_file = mg_strdup(base ? base + 1 : rotated);
	free(rotated);
	close(a->fd);
	{
		char keep[AUD_HASH_HEX];

		memcpy(keep, a->prev, sizeof(keep));
		if (open_file(a) == 0)
			memcpy(a->prev, keep, sizeof(keep));   /* the chain goes on */
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
	rc = open_file(a);
	if (rc) {
		aud_close(a);
		*out = NULL;
		return rc;
	}
	return 0;
}

void aud_set_max_size(struct aud_log *a, uint64_t bytes)
{
	if (a)
		a->max_size = bytes;
}

const char *aud_head(const struct aud_log *a)
{
	return a && a->fd >= 0 ? a->prev : NULL;
}

void aud_close(struct aud_log *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	mg_buf_release(&a->line);
	free(a->path);
	free(a->prev_file);
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
	flock(a->fd, LOCK_EX);
	if (sync_tail(a) == 0 && a->max_size && (uint64_t)a->known_size >= a->max_size)
		rotate(a);
	mg_wall_rfc3339(ts, sizeof(ts));
	o = json_object();
	json_object_set_new(o, "seq", json_integer((json_int_t)(a->seq + 1)));
	json_object_set_new(o, "prev", json_string(a->prev));
	if (a->prev_file && a->seq == 0)
		json_object_set_new(o, "prev_file", json_string(a->prev_file));
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
	add_str(o, "peer", r->peer);
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
	if (text && mg_buf_adds(&a->line, text) == 0) {
		char hash[AUD_HASH_HEX];

		aud_hash_line(a->line.data, a->line.len, hash);
		if (mg_buf_addc(&a->line, '\n') == 0 && mg_write_all(a->fd, a->line.data, a->line.len) == 0) {
			a->seq++;
			memcpy(a->prev, hash, sizeof(hash));
			a->known_size += (off_t)a->line.len;
		} else {
			mg_warn("audit log %s: write failed: %s", a->path, strerror(errno));
			a->known_size = -1;     /* look again next time */
		}
	}
	flock(a->fd, LOCK_UN);
	free(text);
	json_decref(o);
}
