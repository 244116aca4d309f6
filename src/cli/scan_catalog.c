/* mcpguard scan --catalog: each server listed through a child gateway,
 * every definition scanned, one report (see cli/scan.h). */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/map.h"
#include "base/mem.h"
#include "base/str.h"
#include "base/time.h"
#include "catalog/catalog.h"
#include "cli/cli.h"
#include "cli/dbcache.h"
#include "cli/scan.h"
#include "guard/defscan.h"
#include "json/jx.h"
#include "mcp/lister.h"
#include "runtime/proc.h"
#include "transport/stream.h"

extern char **environ;

#define SELF "/proc/self/exe"
#define OUT_LINE_MAX (64u << 20)        /* one answer of the gateway */
#define ERR_LINE_MAX (64u << 10)        /* one line of its log */
#define IN_QUEUE_MAX (1u << 20)         /* our requests */
#define TAIL_LINES 40                   /* of its log, shown for a failing server */
#define TAIL_LINE_MAX 1000
#define GRACE_MS 10000                  /* from closing its stdin (or SIGTERM) to SIGKILL */

/* ======================================================================
 * Text from a peer, made safe to print: valid UTF-8 without control
 * characters (C0 but tab, DEL, C1); anything else becomes '?'.
 * ====================================================================== */

static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t need;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		need = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 4, cp = c & 0x07;
	else
		return 0;
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (need == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0x80 && cp < 0xa0))
		return 0;
	return need;
}

/* Append s (n bytes) to b, made printable; at most max bytes of it. */
static void add_printable(struct mg_buf *b, const char *s, size_t n, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, start = b->len;

	while (i < n && b->len - start < max) {
		size_t k = utf8_len(u + i, n - i);

		if (k == 1 && (u[i] < 0x20 || u[i] == 0x7f) && u[i] != '\t')
			k = 0;
		if (k == 0) {
			if (mg_buf_addc(b, '?'))
				return;
			i++;
			continue;
		}
		if (mg_buf_add(b, s + i, k))
			return;
		i += k;
	}
	if (i < n)
		mg_buf_adds(b, "...");
}

static char *printable(const char *s, size_t n, size_t max)
{
	struct mg_buf b;

	mg_buf_init(&b, max + 8);
	add_printable(&b, s, n, max);
	return mg_buf_detach(&b, NULL);
}

/* ======================================================================
 * The child gateway's log
 * ====================================================================== */

void scan_log_init(struct scan_log *st)
{
	memset(st, 0, sizeof(*st));
}

enum { LV_DEBUG, LV_INFO, LV_WARN, LV_ERROR };

/* The message of a log line, or NULL for a line that is not one. */
static const char *log_message(const char *line, size_t len, size_t *mlen, int *level)
{
	static const char tag[] = "mcpguard: ";
	static const char ts[] = "dd:dd:dd.ddd ";
	const char *p = line, *end = line + len;
	bool stamped = len >= sizeof(ts) - 1;

	for (size_t i = 0; stamped && i < sizeof(ts) - 1; i++)
		stamped = ts[i] == 'd' ? (line[i] >= '0' && line[i] <= '9') : line[i] == ts[i];
	if (stamped)
		p += sizeof(ts) - 1;
	if ((size_t)(end - p) < sizeof(tag) - 1 || memcmp(p, tag, sizeof(tag) - 1) != 0)
		return NULL;
	p += sizeof(tag) - 1;
	*level = stamped ? LV_INFO : LV_ERROR;  /* unstamped: a usage or setup error */
	if (stamped) {
		static const struct { const char *t; int lv; } lv[] = {
			{ "warning: ", LV_WARN }, { "error: ", LV_ERROR }, { "debug: ", LV_DEBUG },
		};

		for (size_t i = 0; i < MG_ARRAY_LEN(lv); i++) {
			size_t n = strlen(lv[i].t);

			if ((size_t)(end - p) >= n && memcmp(p, lv[i].t, n) == 0) {
				*level = lv[i].lv;
				p += n;
				break;
			}
		}
	}
	*mlen = (size_t)(end - p);
	return p;
}

static bool has(const char *s, size_t n, const char *needle)
{
	return memmem(s, n, needle, strlen(needle)) != NULL;
}

static void keep(char *dst, size_t cap, const char *s, size_t n)
{
	char *t;

	if (dst[0])
		return;         /* the first one says most */
	t = printable(s, n, cap - 8);
	mg_strlcpy(dst, t, cap);
	free(t);
}

void scan_log_line(struct scan_log *st, const char *name, const char *line, size_t len)
{
	char inst[300], srv[300];
	size_t mlen, il;
	int level;
	const char *m = log_message(line, len, &mlen, &level);

	if (!m || level == LV_DEBUG)
		return;
	il = (size_t)snprintf(inst, sizeof(inst), "server '%s' (", name);
	snprintf(srv, sizeof(srv), "server '%s'", name);
	if (il >= sizeof(inst))
		return;
	if (level == LV_INFO) {
		if (mlen > il && memcmp(m, inst, il) == 0 && has(m, mlen, ") ready in "))
			st->ready = true;
		return;
	}
	if (mlen > il && memcmp(m, inst, il) == 0) {
		if (!st->ready) {
			keep(st->before, sizeof(st->before), m, mlen);
		} else if (!has(m, mlen, " answered with protocol version ") &&
			   !has(m, mlen, " wrote a non-JSON-RPC line to stdout ") &&
			   !has(m, mlen, " sent something that is not JSON-RPC ")) {
			keep(st->after, sizeof(st->after), m, mlen);
		}
		return;
	}
	if (has(m, mlen, srv)) {
		if (!st->ready)
			keep(st->about, sizeof(st->about), m, mlen);
		return;
	}
	if (level == LV_ERROR)
		keep(st->error, sizeof(st->error), m, mlen);
}

/* The line that says why, or NULL when none does. */
static const char *logged_failure(const struct scan_log *st)
{
	if (st->after[0])
		return st->after;
	if (st->ready)
		return NULL;
	return st->before[0] ? st->before : st->about[0] ? st->about
	       : st->error[0] ? st->error : NULL;
}

const char *scan_log_failure(const struct scan_log *st)
{
	const char *why = logged_failure(st);

	if (why || st->ready)
		return why;
	return "the gateway did not log that it started the server";
}

/* ======================================================================
 * One child gateway per server
 * ====================================================================== */

struct server_result {
	const char *name;               /* borrowed from the options or the catalog */
	json_t *lists[MCP_LIST_N];      /* owned, when listed */
	char *instructions;             /* owned, or NULL */
	size_t pages[MCP_LIST_N];       /* pages read of each list */
	bool listed;                    /* the lists are complete as the gateway gave them */
	char *error;                    /* owned: why it is an error, or NULL */
	char *tail;                     /* owned: the end of the child's log, for an error */
	uint64_t ms;
};

struct run;

struct job {
	struct run *run;
	struct server_result *res;
	struct rt_child child;
	struct tp_stream in, out, err;
	struct mcp_lister lister;
	struct scan_log log;
	char *tail[TAIL_LINES];         /* ring of the log's last lines */
	size_t tail_next, tail_n;
	uv_timer_t timer;
	int open;                       /* libuv handles not yet closed */
	int strikes;                    /* 0: listing; 1: asked to end; 2: SIGKILL sent */
	bool listing_over, exited, out_ended, err_ended, closing;
	int status, term_signal;
	uint64_t start_ms;
	char why[600];                  /* our own reason (spawn, deadline, early EOF) */
	char said[512];                 /* what the log said of the server when we gave up */
	bool gave_up;
	bool slow_exit;                 /* listed, then killed for not exiting in time */
};

struct run {
	uv_loop_t loop;
	const struct scan_catalog_opts *o;
	char **child_args;              /* the common part of each child's argv */
	struct job *jobs;
	size_t n, next, running;
};

static void job_start(struct run *r, struct job *j);

static void job_closed(struct job *j)
{
	struct run *r = j->run;
	struct server_result *res = j->res;
	const char *logwhy = scan_log_failure(&j->log);
	struct mg_buf b;

	if (--j->open > 0)
		return;
	res->ms = mg_now_ms() - j->start_ms;
	mg_buf_init(&b, 4096);
	if (j->lister.state == MCP_LISTER_DONE) {
		for (size_t k = 0; k < MCP_LIST_N; k++) {
			res->lists[k] = json_incref(j->lister.lists[k]);
			res->pages[k] = j->lister.pages[k];
		}
		if (mcp_lister_instructions(&j->lister))
			res->instructions = mg_strdup(mcp_lister_instructions(&j->lister));
	}
	if (j->why[0]) {
		mg_buf_adds(&b, j->why);
		/* what it logged after we gave up is what stopping it caused */
		if (j->gave_up ? j->said[0] != '\0' : !j->log.ready || j->log.after[0])
			mg_buf_addf(&b, " (the gateway said: %s)", j->gave_up ? j->said : logwhy);
	} else if (j->lister.state == MCP_LISTER_FAILED) {
		mg_buf_addf(&b, "listing it through the gateway failed: %s", j->lister.error);
		if (!j->log.ready || j->log.after[0])
			mg_buf_addf(&b, " (the gateway said: %s)", logwhy);
	} else if (j->lister.state != MCP_LISTER_DONE) {
		mg_buf_adds(&b, "the listing did not finish");
	} else if (logwhy) {
		mg_buf_adds(&b, logwhy);
	} else if (j->slow_exit) {
		/* the lists are whole; only its stopping was slow */
		fprintf(stderr, "mcpguard: scan: server '%s': its gateway did not exit within %d s "
			"after the listing; killed\n", res->name, GRACE_MS / 1000);
	} else if (j->term_signal) {
		mg_buf_addf(&b, "the gateway was killed by signal %d (%s)", j->term_signal,
			    strsignal(j->term_signal));
	} else if (j->status) {
		mg_buf_addf(&b, "the gateway exited with status %d", j->status);
	}
	res->listed = j->lister.state == MCP_LISTER_DONE && j->log.ready && !j->log.after[0];
	if (b.len) {
		res->error = mg_buf_detach(&b, NULL);
		mg_buf_init(&b, (size_t)TAIL_LINES * (TAIL_LINE_MAX + 8));
		for (size_t i = 0; i < j->tail_n; i++) {
			size_t at = (j->tail_next + TAIL_LINES - j->tail_n + i) % TAIL_LINES;

			mg_buf_addf(&b, "%s\n", j->tail[at]);
		}
		res->tail = b.len ? mg_buf_detach(&b, NULL) : NULL;
	}
	mg_buf_release(&b);
	for (size_t i = 0; i < TAIL_LINES; i++)
		free(mg_steal(&j->tail[i]));
	mcp_lister_release(&j->lister);
	r->running--;
	if (r->next < r->n)
		job_start(r, &r->jobs[r->next++]);
}

static void timer_closed(uv_handle_t *h)
{
	job_closed(h->data);
}

static void child_closed(struct rt_child *c)
{
	job_closed(c->data);
}

static void stream_closed(struct tp_stream *s)
{
	job_closed(s->owner);
}

/* Everything is over once the child has exited and both of its output
 * pipes are drained: close what is left. */
static void maybe_finish(struct job *j)
{
	if (j->closing || !j->exited || !j->out_ended || !j->err_ended)
		return;
	j->closing = true;
	uv_timer_stop(&j->timer);
	uv_close((uv_handle_t *)&j->timer, timer_closed);
	tp_stream_close(&j->in);
	tp_stream_close(&j->out);
	tp_stream_close(&j->err);
	rt_child_close(&j->child, child_closed);
}

static void on_timer(uv_timer_t *t);

/* The listing is over, one way or another: EOF on the child's stdin makes
 * the gateway stop its server and exit; it gets GRACE_MS for that. */
static void listing_over(struct job *j)
{
	if (j->listing_over)
		return;
	j->listing_over = true;
	tp_stream_close(&j->in);
	if (!j->closing && !j->exited) {
		j->strikes = 1;
		uv_timer_start(&j->timer, on_timer, GRACE_MS, 0);
	}
}

static void flush(struct job *j)
{
	size_t len;
	char *data = mcp_lister_take(&j->lister, &len);

	if (data && j->listing_over) {
		free(data);
	} else if (data && tp_stream_write_owned(&j->in, data, len)) {  /* it freed data */
		if (!j->why[0])
			snprintf(j->why, sizeof(j->why), "cannot write to the gateway");
		listing_over(j);
		return;
	}
	if (j->lister.state == MCP_LISTER_DONE || j->lister.state == MCP_LISTER_FAILED)
		listing_over(j);
}

static void on_timer(uv_timer_t *t)
{
	struct job *j = t->data;

	switch (j->strikes) {
	case 0:
		snprintf(j->why, sizeof(j->why), "not listed within %llu s (--timeout)",
			 (unsigned long long)(j->run->o->timeout_ms / 1000));
		j->gave_up = true;
		if (logged_failure(&j->log))
			keep(j->said, sizeof(j->said), logged_failure(&j->log),
			     strlen(logged_failure(&j->log)));
		listing_over(j);
		j->strikes = 1;
		rt_child_signal(&j->child, SIGTERM);
		uv_timer_start(&j->timer, on_timer, GRACE_MS, 0);
		break;
	case 1:
		if (j->lister.state == MCP_LISTER_DONE)
			j->slow_exit = true;    /* listed all the same */
		else if (!j->why[0])
			snprintf(j->why, sizeof(j->why), "the gateway did not exit within %d s of "
				 "its input closing; killed", GRACE_MS / 1000);
		j->strikes = 2;
		rt_child_signal(&j->child, SIGKILL);
		uv_timer_start(&j->timer, on_timer, GRACE_MS, 0);
		break;
	default:
		/* Killed, and still a pipe open (something it started holds
		 * it): stop waiting for it. */
		if (!j->out_ended) {
			j->out_ended = true;
			tp_stream_close(&j->out);
		}
		if (!j->err_ended) {
			j->err_ended = true;
			tp_stream_close(&j->err);
		}
		if (!j->exited && !j->why[0])
			snprintf(j->why, sizeof(j->why), "the gateway did not exit after SIGKILL");
		j->exited = true;
		maybe_finish(j);
		break;
	}
}

static int out_line(struct tp_stream *s, const char *line, size_t len)
{
	struct job *j = s->owner;

	if (j->lister.state == MCP_LISTER_RUNNING) {
		mcp_lister_feed(&j->lister, line, len);
		flush(j);
	}
	return 0;
}

static int out_oversize(struct tp_stream *s, size_t max)
{
	struct job *j = s->owner;

	mcp_lister_oversize(&j->lister, max);
	flush(j);
	return 0;
}

static void out_end(struct tp_stream *s, int status)
{
	struct job *j = s->owner;

	j->out_ended = true;
	if (j->lister.state == MCP_LISTER_RUNNING && !j->why[0])
		snprintf(j->why, sizeof(j->why), "the gateway closed its stdout before the "
			 "listing was done");
	listing_over(j);
	maybe_finish(j);
}

static int err_line(struct tp_stream *s, const char *line, size_t len)
{
	struct job *j = s->owner;

	scan_log_line(&j->log, j->res->name, line, len);
	free(j->tail[j->tail_next]);
	j->tail[j->tail_next] = printable(line, len, TAIL_LINE_MAX);
	j->tail_next = (j->tail_next + 1) % TAIL_LINES;
	if (j->tail_n < TAIL_LINES)
		j->tail_n++;
	return 0;
}

static int err_oversize(struct tp_stream *s, size_t max)
{
	return 0;
}

static void err_end(struct tp_stream *s, int status)
{
	struct job *j = s->owner;

	j->err_ended = true;
	maybe_finish(j);
}

static int in_line(struct tp_stream *s, const char *line, size_t len)
{
	return 0;
}

static void in_end(struct tp_stream *s, int status)
{
}

static const struct tp_stream_ops out_ops = {
	.on_line = out_line, .on_oversize = out_oversize, .on_end = out_end,
	.on_closed = stream_closed,
};
static const struct tp_stream_ops err_ops = {
	.on_line = err_line, .on_oversize = err_oversize, .on_end = err_end,
	.on_closed = stream_closed,
};
static const struct tp_stream_ops in_ops = {
	.on_line = in_line, .on_oversize = err_oversize, .on_end = in_end,
	.on_closed = stream_closed,
};

static void on_exit_cb(struct rt_child *c, int status, int sig)
{
	struct job *j = c->data;

	j->exited = true;
	j->status = status;
	j->term_signal = sig;
	/* whatever the gateway left in its process group goes too */
	rt_child_signal(c, SIGKILL);
	maybe_finish(j);
}

static int open_streams(struct job *j, struct mg_err *err)
{
	struct { struct tp_stream *s; const struct tp_stream_ops *ops; int *fd; size_t cap; } io[] = {
		{ &j->in, &in_ops, &j->child.fd_in, 64 },
		{ &j->out, &out_ops, &j->child.fd_out, OUT_LINE_MAX },
		{ &j->err, &err_ops, &j->child.fd_err, ERR_LINE_MAX },
	};
	int rc = 0;

	for (size_t i = 0; i < MG_ARRAY_LEN(io); i++) {
		tp_stream_setup(io[i].s, io[i].cap, IN_QUEUE_MAX, io[i].ops, j);
		uv_pipe_init(&j->run->loop, tp_stream_pipe(io[i].s), 0);
		io[i].s->u.handle.data = io[i].s;
		j->open++;
	}
	for (size_t i = 0; i < MG_ARRAY_LEN(io); i++) {
		int r = rc ? 0 : uv_pipe_open(tp_stream_pipe(io[i].s), *io[i].fd);

		if (r || rc) {
			close(*io[i].fd);
			if (!rc)
				rc = mg_err_set(err, r, "cannot watch a pipe: %s", uv_strerror(r));
		}
		*io[i].fd = -1;
	}
	if (rc)
		return rc;
	tp_stream_start_read(&j->out);
	tp_stream_start_read(&j->err);
	return 0;
}

static void job_start(struct run *r, struct job *j)
{
	char **argv = NULL;
	struct mg_err err = { { 0 } };
	struct rt_spawn sp = { 0 };

	r->running++;
	j->run = r;
	j->start_ms = mg_now_ms();
	scan_log_init(&j->log);
	mcp_lister_init(&j->lister, NULL, "mcpguard-scan", MG_VERSION);
	uv_timer_init(&r->loop, &j->timer);
	j->timer.data = j;
	j->open = 1;
	for (size_t i = 0; r->child_args[i]; i++)
		argv = mg_strv_push(argv, r->child_args[i]);
	argv = mg_strv_push(argv, "--servers");
	argv = mg_strv_push(argv, j->res->name);
	sp.argv = argv;
	sp.envp = environ;
	if (rt_child_spawn(&r->loop, &j->child, &sp, on_exit_cb, &err)) {
		snprintf(j->why, sizeof(j->why), "cannot start the gateway: %s", err.msg);
		mg_strv_free(argv);
		j->exited = j->out_ended = j->err_ended = true;
		j->listing_over = true;
		j->closing = true;
		uv_close((uv_handle_t *)&j->timer, timer_closed);
		return;
	}
	mg_strv_free(argv);
	j->child.data = j;
	j->open++;              /* the child's watcher */
	if (open_streams(j, &err)) {
		snprintf(j->why, sizeof(j->why), "%s", err.msg);
		rt_child_signal(&j->child, SIGKILL);
		j->out_ended = j->err_ended = true;
		j->listing_over = true;
		j->strikes = 2;
		uv_timer_start(&j->timer, on_timer, GRACE_MS, 0);
		return;
	}
	mcp_lister_start(&j->lister);
	flush(j);
	if (!j->listing_over)
		uv_timer_start(&j->timer, on_timer, r->o->timeout_ms, 0);
}

/* ======================================================================
 * Scanning and the report
 * ====================================================================== */

struct tally {
	size_t items, suspicious, malicious;
};

static const char *level_name(enum gd_def_verdict v)
{
	return v == GD_DEF_POISONED ? "malicious" : v == GD_DEF_SUSPICIOUS ? "suspicious" : "clean";
}

/* The names a server's definitions are checked against for shadowing:
 * the name of every other server of the catalog, and the names of the
 * tools and prompts of every other server listed, without the names this
 * server has itself.  NULL-terminated, owned. */
static char **other_names(struct server_result *res, size_t n, size_t self,
			  const struct catalog *cat)
{
	static const enum mcp_list_kind named[] = { MCP_LIST_TOOLS, MCP_LIST_PROMPTS };
	struct mg_map own, seen;
	char **out = mg_calloc(1, sizeof(char *));

	mg_map_init(&own);
	mg_map_init(&seen);
	for (size_t k = 0; k < MG_ARRAY_LEN(named); k++) {
		size_t i;
		json_t *d;

		json_array_foreach(res[self].lists[named[k]], i, d)
			if (jx_str(d, "name"))
				mg_map_puts(&own, jx_str(d, "name"), (void *)1);
	}
	/* every other server of the catalog, scanned or not */
	for (size_t s = 0; s < cat->n_servers; s++) {
		const char *name = cat->servers[s].name;

		if (strcmp(name, res[self].name) == 0 || mg_map_gets(&own, name) ||
		    mg_map_gets(&seen, name))
			continue;
		mg_map_puts(&seen, name, (void *)1);
		out = mg_strv_push(out, name);
	}
	for (size_t s = 0; s < n; s++) {
		if (s == self)
			continue;
		for (size_t k = 0; k < MG_ARRAY_LEN(named); k++) {
			size_t i;
			json_t *d;

			json_array_foreach(res[s].lists[named[k]], i, d) {
				const char *name = jx_str(d, "name");

				if (!name || !*name || mg_map_gets(&own, name) || mg_map_gets(&seen, name))
					continue;
				mg_map_puts(&seen, name, (void *)1);
				out = mg_strv_push(out, name);
			}
		}
	}
	mg_map_release(&own);
	mg_map_release(&seen);
	return out;
}

static void print_safe(FILE *f, const char *s)
{
	char *t = printable(s, strlen(s), 400);

	fputs(t, f);
	free(t);
}

static json_t *safe_json(const char *s)
{
	char *t = printable(s, strlen(s), 100000);
	json_t *v = json_string(t);

	free(t);
	return v ? v : json_string("?");
}

/* The end of a failing server's gateway log as an array of lines. */
static json_t *log_lines(const char *tail)
{
	json_t *a = json_array();

	for (const char *p = tail; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *t = printable(p, n, TAIL_LINE_MAX);

		json_array_append_new(a, json_string(t));
		free(t);
		p += n + (nl ? 1 : 0);
	}
	return a;
}

/* One scanned definition into the report: a text block or a JSON item. */
static void report_item(const char *server, const char *kind, const char *name,
			const struct gd_def_result *r, json_t *items, struct tally *t)
{
	t->items++;
	if (r->verdict == GD_DEF_CLEAN)
		return;
	if (r->verdict == GD_DEF_POISONED)
		t->malicious++;
	else
		t->suspicious++;
	if (items) {
		json_t *fs = json_array();

		for (size_t i = 0; i < r->n_findings; i++) {
			const struct gd_def_finding *f = &r->findings[i];

			json_array_append_new(fs, json_pack("{sosssisbs{sIsI}so}",
				"path", safe_json(f->path),
				"signal", f->signal, "weight", f->weight, "in_key", f->in_key,
				"span", "off", (json_int_t)f->off, "len", (json_int_t)f->len,
				"detail", safe_json(f->detail)));
		}
		json_array_append_new(items, json_pack("{sssosssisosI}", "kind", kind,
			"name", safe_json(name), "level", level_name(r->verdict), "score", r->score,
			"findings", fs, "more_findings", (json_int_t)r->more_findings));
		return;
	}
	print_safe(stdout, server);
	printf(": %s%s", kind, *name ? " " : "");
	print_safe(stdout, name);
	printf(": %s (score %d)\n", level_name(r->verdict), r->score);
	for (size_t i = 0; i < r->n_findings; i++) {
		const struct gd_def_finding *f = &r->findings[i];

		fputs("  ", stdout);
		print_safe(stdout, f->path);
		printf("%s: %s (weight %d) at %zu+%zu", f->in_key ? " (name)" : "", f->signal,
		       f->weight, f->off, f->len);
		if (f->detail[0]) {
			fputs(" \"", stdout);
			print_safe(stdout, f->detail);
			fputc('"', stdout);
		}
		fputc('\n', stdout);
	}
	if (r->more_findings)
		printf("  ... and %zu more findings\n", r->more_findings);
}

/* Scan one server's definitions.  0, or -EIO when the scanner failed. */
static int scan_server(struct gd_defscan *d, struct server_result *res, size_t n, size_t self,
		       const struct catalog *cat, json_t *items, struct tally *t)
{
	struct server_result *sr = &res[self];
	char **others = other_names(res, n, self, cat);
	const char *const *on = (const char *const *)others;
	struct gd_def_result r;
	int rc = 0;

	for (size_t k = 0; k < MCP_LIST_N && !rc; k++) {
		size_t i;
		json_t *def;

		json_array_foreach(sr->lists[k], i, def) {
			const char *name = jx_str(def, "name") ? jx_str(def, "name")
					   : jx_str(def, "uri") ? jx_str(def, "uri")
					   : jx_str(def, "uriTemplate");
			char fallback[32];

			if (!name) {
				snprintf(fallback, sizeof(fallback), "#%zu", i);
				name = fallback;
			}
			if (gd_def_scan_tool(d, def, mcp_list_def_kind((enum mcp_list_kind)k), on, &r)) {
				rc = -EIO;
				break;
			}
			report_item(sr->name, mcp_list_def_kind((enum mcp_list_kind)k), name, &r,
				    items, t);
		}
	}
	if (!rc && sr->instructions) {
		if (gd_def_scan_instructions(d, sr->instructions, strlen(sr->instructions), on, &r))
			rc = -EIO;
		else
			report_item(sr->name, "instructions", "", &r, items, t);
	}
	mg_strv_free(others);
	return rc;
}

/* The end of a failing server's gateway log: its warnings, errors and
 * lines that are not log lines (a crash, a sanitizer report), or, when it
 * has none, its last lines. */
static void print_tail(const char *tail)
{
	const char *p;
	size_t shown = 0, lines = 0;

	fputs("  the gateway's log ends:\n", stdout);
	for (int pass = 0; pass < 2 && !shown; pass++) {
		size_t at = 0;

		for (p = tail; p && *p; at++) {
			const char *nl = strchr(p, '\n');
			size_t n = nl ? (size_t)(nl - p) : strlen(p), mlen;
			int level;
			bool pick;

			if (pass == 0) {
				lines++;
				pick = !log_message(p, n, &mlen, &level) || level >= LV_WARN;
			} else {
				pick = at + 8 >= lines;
			}
			if (pick) {
				printf("  | %.*s\n", (int)n, p);
				shown++;
			}
			p += n + (nl ? 1 : 0);
		}
	}
}

static char *resolve_catalog(const char *name)
{
	const char *home = getenv("HOME");
	char path[PATH_MAX], *real;

	/* as `gateway run` finds it: a file here, else one of Docker's */
	if (access(name, R_OK) != 0 && name[0] != '/' && home) {
		snprintf(path, sizeof(path), "%s/.docker/mcp/catalogs/%s", home, name);
		if (access(path, R_OK) == 0)
			name = path;
	}
	/* the children get the same file, wherever they run */
	real = realpath(name, NULL);
	return real ? real : mg_strdup(name);
}

static char **child_args(const struct scan_catalog_opts *o, char **catalogs)
{
	char **v = NULL, t[32];

	v = mg_strv_push(v, SELF);
	v = mg_strv_push(v, "gateway");
	v = mg_strv_push(v, "run");
	for (size_t i = 0; catalogs[i]; i++) {
		v = mg_strv_push(v, "--catalog");
		v = mg_strv_push(v, catalogs[i]);
	}
	v = mg_strv_push(v, "--no-cache");
	v = mg_strv_push(v, "--block-secrets=log");
	/* nothing is called, so no result to inspect (and no database to build) */
	v = mg_strv_push(v, "--inspect-results=false");
	v = mg_strv_push(v, "--scan-definitions=false");
	v = mg_strv_push(v, "--pin-mode");
	v = mg_strv_push(v, "off");
	/* its own deadlines no longer than ours, so that it says what it
	 * waited for before we stop waiting */
	snprintf(t, sizeof(t), "%llums", (unsigned long long)o->timeout_ms);
	v = mg_strv_push(v, "--startup-timeout");
	v = mg_strv_push(v, t);
	v = mg_strv_push(v, "--timeout");
	v = mg_strv_push(v, t);
	for (size_t i = 0; o->pass && o->pass[i]; i++)
		v = mg_strv_push(v, o->pass[i]);
	return v;
}

int cli_scan_catalog(const struct scan_catalog_opts *o)
{
	struct catalog cat;
	struct mg_err err;
	struct run r = { 0 };
	struct server_result *res = NULL;
	struct gd_defscan *d = NULL;
	struct tally total = { 0 };
	char **catalogs = NULL, **names = NULL, errbuf[256];
	json_t *doc = NULL, *jservers = NULL;
	size_t n = 0, failed = 0, flagged = 0;
	int rc = CLI_USAGE;

	catalog_init(&cat);
	for (size_t i = 0; o->catalogs[i]; i++) {
		char *path = resolve_catalog(o->catalogs[i]);

		catalogs = mg_strv_push(catalogs, path);
		free(path);
		if (catalog_load_file(&cat, catalogs[i], &err)) {
			fprintf(stderr, "mcpguard: scan: %s\n", err.msg);
			goto out;
		}
	}
	names = mg_calloc(1, sizeof(char *));
	if (o->servers) {
		for (size_t i = 0; o->servers[i]; i++) {
			bool dup = false;

			if (!catalog_find(&cat, o->servers[i])) {
				fprintf(stderr, "mcpguard: scan: no server '%s' in the catalog\n",
					o->servers[i]);
				goto out;
			}
			for (size_t k = 0; names[k] && !dup; k++)
				dup = strcmp(names[k], o->servers[i]) == 0;
			if (!dup)
				names = mg_strv_push(names, o->servers[i]);
		}
	} else {
		for (size_t i = 0; i < cat.n_servers; i++)
			names = mg_strv_push(names, cat.servers[i].name);
	}
	n = mg_strv_len(names);
	if (n == 0) {
		fprintf(stderr, "mcpguard: scan: the catalog has no servers\n");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (strchr(names[i], ',')) {
			fprintf(stderr, "mcpguard: scan: server '%s': a name with a comma cannot be "
				"selected with --servers\n", names[i]);
			goto out;
		}
	}

	/* list every server, a few at a time */
	res = mg_calloc(n, sizeof(*res));
	r.o = o;
	r.n = n;
	r.jobs = mg_calloc(n, sizeof(*r.jobs));
	r.child_args = child_args(o, catalogs);
	uv_loop_init(&r.loop);
	for (size_t i = 0; i < n; i++) {
		res[i].name = names[i];
		r.jobs[i].res = &res[i];
	}
	while (r.next < n && r.running < o->jobs)
		job_start(&r, &r.jobs[r.next++]);
	/* The pattern database (kept from an earlier run, else built: about
	 * a second) while the first servers start. */
	rc = cli_dbcache_scanner(&d, errbuf, sizeof(errbuf));
	uv_run(&r.loop, UV_RUN_DEFAULT);
	uv_loop_close(&r.loop);
	if (rc) {
		fprintf(stderr, "mcpguard: scan: %s\n", errbuf);
		rc = CLI_USAGE;
		goto out;
	}

	/* scan and report, in the order asked */
	if (o->json) {
		doc = json_object();
		jservers = json_array();
		json_object_set_new(doc, "servers", jservers);
	}
	rc = CLI_OK;
	for (size_t i = 0; i < n; i++) {
		struct tally t = { 0 };
		json_t *items = o->json ? json_array() : NULL;
		int src = scan_server(d, res, n, i, &cat, items, &t);

		if (src && !res[i].error)
			res[i].error = mg_strdup("the definition scanner failed");
		total.items += t.items;
		total.suspicious += t.suspicious;
		total.malicious += t.malicious;
		if (res[i].error)
			failed++;
		if (t.suspicious || t.malicious)
			flagged++;
		if (o->json) {
			json_t *s = json_pack("{sosssbsIsIsIsIsI}", "name", safe_json(res[i].name),
				"status", res[i].error ? "error" : "ok", "listed", res[i].listed,
				"definitions", (json_int_t)t.items,
				"clean", (json_int_t)(t.items - t.suspicious - t.malicious),
				"suspicious", (json_int_t)t.suspicious,
				"malicious", (json_int_t)t.malicious, "ms", (json_int_t)res[i].ms);

			/* the worst level found; none known for a server that failed clean */
			json_object_set_new(s, "level", t.malicious ? json_string("malicious")
				: t.suspicious ? json_string("suspicious")
				: res[i].error ? json_null() : json_string("clean"));
			if (res[i].error) {
				json_object_set_new(s, "error", safe_json(res[i].error));
				json_object_set_new(s, "log", log_lines(res[i].tail));
			}
			json_object_set_new(s, "pages", json_pack("{sIsIsIsI}",
				"tools", (json_int_t)res[i].pages[MCP_LIST_TOOLS],
				"prompts", (json_int_t)res[i].pages[MCP_LIST_PROMPTS],
				"resources", (json_int_t)res[i].pages[MCP_LIST_RESOURCES],
				"resourceTemplates", (json_int_t)res[i].pages[MCP_LIST_TEMPLATES]));
			json_object_set_new(s, "items", items);
			json_array_append_new(jservers, s);
		} else {
			if (!res[i].error || t.items) {
				printf("server ");
				print_safe(stdout, res[i].name);
				printf(": %zu definition%s: %zu clean, %zu suspicious, %zu malicious\n",
				       t.items, t.items == 1 ? "" : "s",
				       t.items - t.suspicious - t.malicious, t.suspicious, t.malicious);
			}
			if (res[i].error) {
				printf("server ");
				print_safe(stdout, res[i].name);
				printf(": error: ");
				print_safe(stdout, res[i].error);
				fputc('\n', stdout);
				if (res[i].tail)
					print_tail(res[i].tail);
			}
		}
		if (res[i].error) {
			fprintf(stderr, "mcpguard: scan: server '%s': ", res[i].name);
			print_safe(stderr, res[i].error);
			fputc('\n', stderr);
		}
	}
	rc = failed ? CLI_USAGE : total.suspicious || total.malicious ? CLI_FAIL : CLI_OK;
	if (o->json) {
		char *text;

		json_object_set_new(doc, "summary", json_pack("{sIsIsIsIsIsIsI}",
			"servers", (json_int_t)n, "failed", (json_int_t)failed,
			"flagged", (json_int_t)flagged, "definitions", (json_int_t)total.items,
			"clean", (json_int_t)(total.items - total.suspicious - total.malicious),
			"suspicious", (json_int_t)total.suspicious,
			"malicious", (json_int_t)total.malicious));
		json_object_set_new(doc, "exit", json_integer(rc));
		text = json_dumps(doc, JSON_INDENT(2));
		puts(text ? text : "{}");
		free(text);
	} else {
		printf("%zu server%s: %zu failed, %zu with findings; %zu definitions: %zu clean, "
		       "%zu suspicious, %zu malicious\n", n, n == 1 ? "" : "s", failed, flagged,
		       total.items, total.items - total.suspicious - total.malicious,
		       total.suspicious, total.malicious);
	}
out:
	for (size_t i = 0; res && i < n; i++) {
		for (size_t k = 0; k < MCP_LIST_N; k++)
			json_decref(res[i].lists[k]);
		free(res[i].instructions);
		free(res[i].error);
		free(res[i].tail);
	}
	free(res);
	free(r.jobs);
	mg_strv_free(r.child_args);
	json_decref(doc);
	gd_def_free(d);
	mg_strv_free(names);
	mg_strv_free(catalogs);
	catalog_release(&cat);
	return rc;
}
