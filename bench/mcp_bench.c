/*
 * mcp_bench: a small MCP client that measures tools/call round trips.
 *
 *   mcp_bench [options] -- COMMAND [ARGS...]
 *       Spawn COMMAND with its stdin and stdout on pipes and speak MCP to it
 *       over stdio (newline-delimited JSON-RPC).
 *   mcp_bench [options] --http URL [-- COMMAND [ARGS...]]
 *       Speak MCP Streamable HTTP (POST, JSON or SSE answers, keep-alive) to
 *       URL, http://HOST:PORT/PATH.  With a COMMAND, spawn it first (stdin
 *       from /dev/null) and connect as soon as it listens; it is sent SIGTERM
 *       at the end.
 *   mcp_bench [options] --sse URL [-- COMMAND [ARGS...]]
 *       The same over the legacy HTTP+SSE transport (2024-11-05): a GET
 *       stream at URL carries the answers, requests are POSTed to the
 *       endpoint it announces.
 *   mcp_bench relay -- COMMAND [ARGS...]
 *       Not a client: a dumb stdio relay (bytes in, bytes out, no parsing),
 *       the floor of what any extra process on the path costs.
 *
 * Session: initialize, notifications/initialized, then --warmup calls whose
 * answers are fully checked with jansson (the text must come back), then the
 * measured calls, each timed with CLOCK_MONOTONIC from the first byte
 * written to the last byte of its answer.  Measured answers are checked
 * cheaply (matching id, a result, the right length) so that the client
 * costs the same on every path.
 *
 * Output: one line of JSON on stdout with percentiles in microseconds,
 * calls/s, spawn-to-initialize-answer and first-call times in ms, and how
 * the child ended.  Exit status: 0 when every call got its answer.
 *
 * Options:
 *   --calls N           measured calls (default 2000)
 *   --warmup N          unmeasured calls first (default 200)
 *   --duration SEC      instead of a call count, call until SEC seconds have
 *                       passed since the start of the measured phase
 *   --start-at NS       wait until CLOCK_REALTIME reaches NS (ns since the
 *                       epoch) before the measured phase: lines several
 *                       clients up for a throughput run
 *   --message-size B    length of the echoed message (default 16)
 *   --tool NAME         tool to call (default echo)
 *   --label TEXT        copied into the JSON
 *   --round N           copied into the JSON too
 *   --child-stderr FILE append the child's stderr to FILE (default: ours)
 *   --ready-file PATH   create PATH once warmed up
 *   --go-file PATH      then wait for PATH to appear and hold a start time
 *                       (ns since the epoch, as for --start-at)
 *   --timeout SEC       give up on an answer after SEC seconds (default 20)
 *   --dump FILE         write each measured latency (us, in call order) to FILE
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROTOCOL "2025-11-25"

static const char *label = "";
static long n_calls = 2000, n_warmup = 200;
static double duration_s = 0;
static long long start_at_ns = 0;
static long msg_size = 16;
static const char *tool = "echo";
static int timeout_ms = 20000;
static const char *dump_path;
static const char *ready_path, *go_path;
static const char *child_err_path;
static long round_no;

static pid_t child = -1;

/* ---- small helpers ---- */

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mcp_bench%s%s: ", *label ? " " : "", label);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (child > 0) {        /* leave nothing running behind */
		kill(child, SIGTERM);
		for (int i = 0; i < 300 && waitpid(child, NULL, WNOHANG) == 0; i++)
			usleep(10000);
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	exit(1);
}

static int64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t mono_ns(void)
{
	return now_ns(CLOCK_MONOTONIC);
}

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	while (b->len + extra + 1 > b->cap)
		b->cap = b->cap ? b->cap * 2 : 65536;
	b->p = realloc(b->p, b->cap);
	if (!b->p)
		die("out of memory");
}

static void buf_add(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void buf_consume(struct buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	if (b->p)
		b->p[b->len] = 0;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			struct pollfd pf = {.fd = fd, .events = POLLOUT};

			if (errno == EAGAIN && poll(&pf, 1, timeout_ms) > 0)
				continue;
			die("write: %s", strerror(errno));
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Read what is there (waiting up to the timeout) and append it. */
static void read_some(int fd, struct buf *b, const char *what)
{
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	ssize_t r;

	for (;;) {
		buf_reserve(b, 65536);
		r = read(fd, b->p + b->len, b->cap - b->len - 1);
		if (r > 0) {
			b->len += (size_t)r;
			b->p[b->len] = 0;
			return;
		}
		if (r == 0)
			die("%s: end of stream", what);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			die("%s: read: %s", what, strerror(errno));
		r = poll(&pf, 1, timeout_ms);
		if (r == 0)
			die("%s: no answer in %d ms", what, timeout_ms);
	}
}

/* ---- the child ---- */

static int to_child = -1, from_child = -1;

static void spawn(char **argv, bool piped)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1};

	if (piped && (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)))
		die("pipe: %s", strerror(errno));
	child = fork();
	if (child < 0)
		die("fork: %s", strerror(errno));
	if (child == 0) {
		if (child_err_path) {
			int fd = open(child_err_path, O_WRONLY | O_CREAT | O_APPEND, 0644);

			if (fd >= 0)
				dup2(fd, 2);
		}
		if (piped) {
			dup2(in[0], 0);
			dup2(out[1], 1);
		} else {
			int nul = open("/dev/null", O_RDONLY);

			dup2(nul, 0);
			dup2(2, 1);   /* a server's chatter must not reach our JSON */
		}
		execvp(argv[0], argv);
		fprintf(stderr, "mcp_bench: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (piped) {
		close(in[0]);
		close(out[1]);
		to_child = in[1];
		from_child = out[0];
		fcntl(from_child, F_SETFL, fcntl(from_child, F_GETFL) | O_NONBLOCK);
	}
}

/* Close the child's stdin (or signal it) and wait for it to end.  Returns
 * how it ended, for the JSON: "exit 0", "signal 15", "killed after 5 s". */
static const char *reap(bool by_signal, double *exit_ms)
{
	static char how[64];
	int64_t t0 = mono_ns();
	int st;

	if (child < 0)
		return "none";
	if (by_signal)
		kill(child, SIGTERM);
	else if (to_child >= 0) {
		close(to_child);
		to_child = -1;
	}
	for (int i = 0; i < 5000; i++) {
		pid_t r = waitpid(child, &st, WNOHANG);

		if (r == child) {
			*exit_ms = (double)(mono_ns() - t0) / 1e6;
			if (WIFEXITED(st))
				snprintf(how, sizeof(how), "exit %d", WEXITSTATUS(st));
			else
				snprintf(how, sizeof(how), "signal %d", WTERMSIG(st));
			return how;
		}
		if (i == 3000 && !by_signal)
			kill(child, SIGTERM);
		usleep(1000);
	}
	kill(child, SIGKILL);
	waitpid(child, &st, 0);
	*exit_ms = (double)(mono_ns() - t0) / 1e6;
	return "killed after 5 s";
}

/* ---- relay mode ---- */

static int relay(char **argv)
{
	struct pollfd pf[2];
	char *b = malloc(1 << 16);
	bool in_open = true;

	spawn(argv, true);
	fcntl(from_child, F_SETFL, fcntl(from_child, F_GETFL) & ~O_NONBLOCK);
	pf[0].fd = 0;
	pf[1].fd = from_child;
	for (;;) {
		pf[0].events = in_open ? POLLIN : 0;
		pf[1].events = POLLIN;
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (pf[0].revents) {
			ssize_t r = read(0, b, 1 << 16);

			if (r <= 0) {
				close(to_child);
				to_child = -1;
				in_open = false;
			} else {
				write_all(to_child, b, (size_t)r);
			}
		}
		if (pf[1].revents) {
			ssize_t r = read(from_child, b, 1 << 16);

			if (r <= 0)
				break;
			write_all(1, b, (size_t)r);
		}
	}
	waitpid(child, NULL, 0);
	return 0;
}

/* ---- transports: one request out, its answer back ---- */

struct http {
	char host[256], port[16], path[512];
	int fd;
	char session[256];
	char version[32];
	struct buf rx;
	bool close_after;
};

static struct http http;
static bool use_http;
static bool http_starting;      /* initialize: a non-200 means "not ready yet" */
static struct buf rx;           /* stdio: bytes read and not yet used */
static long long next_id = 1;

/* Does this JSON text answer request `id` with a result?  1 yes, -1 an
 * error answer, 0 something else (a notification, another id). */
static int answers(const char *p, size_t n, long long id)
{
	char pat[40];
	int pl = snprintf(pat, sizeof(pat), "\"id\":%lld", id);
	const char *q = memmem(p, n, pat, (size_t)pl);

	if (!q) {       /* tolerate "id": 12 */
		pl = snprintf(pat, sizeof(pat), "\"id\": %lld", id);
		q = memmem(p, n, pat, (size_t)pl);
	}
	if (!q || (q + pl < p + n && q[pl] >= '0' && q[pl] <= '9'))
		return 0;
	if (memmem(p, n, "\"result\"", 8))
		return 1;
	if (memmem(p, n, "\"error\"", 7))
		return -1;
	return 0;
}

/* stdio: write the line, read lines until the one that answers it.  The
 * answer is copied to *out (NUL-terminated) when out is not NULL. */
static void stdio_call(const char *line, size_t len, long long id, struct buf *out)
{
	write_all(to_child, line, len);
	if (id < 0)
		return;
	for (size_t scanned = 0;;) {
		char *nl = rx.p ? memchr(rx.p + scanned, '\n', rx.len - scanned) : NULL;

		if (!nl) {
			scanned = rx.len;
			read_some(from_child, &rx, "server");
			continue;
		}
		size_t n = (size_t)(nl - rx.p);
		int a = answers(rx.p, n, id);

		if (a < 0)
			die("error answer to request %lld: %.*s", id, (int)(n > 2000 ? 2000 : n),
			    rx.p);
		if (a > 0 && out) {
			out->len = 0;
			buf_add(out, rx.p, n);
		}
		buf_consume(&rx, n + 1);
		scanned = 0;
		if (a > 0)
			return;
	}
}

static int tcp_connect(int64_t deadline_ns)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	int one = 1, fd;

	if (getaddrinfo(http.host, http.port, &hints, &ai) || !ai)
		die("cannot resolve %s", http.host);
	for (;;) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			break;
		}
		if (fd >= 0)
			close(fd);
		if (child > 0 && waitpid(child, NULL, WNOHANG) == child) {
			child = -1;
			die("the server exited before it listened on %s:%s", http.host, http.port);
		}
		if (mono_ns() > deadline_ns)
			die("cannot connect to %s:%s", http.host, http.port);
		usleep(2000);
	}
	freeaddrinfo(ai);
	return fd;
}

static void http_connect(int64_t deadline_ns)
{
	http.fd = tcp_connect(deadline_ns);
	http.rx.len = 0;
}

/* Case-insensitive header lookup within [h, end). */
static bool header(const char *h, const char *end, const char *name, char *val, size_t vsz)
{
	size_t nl = strlen(name);

	for (const char *p = h; p < end;) {
		const char *e = memmem(p, (size_t)(end - p), "\r\n", 2);

		if (!e)
			e = end;
		if ((size_t)(e - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			size_t n;

			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			n = (size_t)(e - v);
			if (n >= vsz)
				n = vsz - 1;
			memcpy(val, v, n);
			val[n] = 0;
			return true;
		}
		p = e + 2;
	}
	return false;
}

/* Read one whole HTTP response; the body (de-chunked) goes to body. */
static int http_response(struct buf *body, char *ctype, size_t ctsz)
{
	struct buf *b = &http.rx;
	char *hend, val[64];
	int status;
	size_t hlen;

	while (!b->p || !(hend = strstr(b->p, "\r\n\r\n")))
		read_some(http.fd, b, "http server");
	hlen = (size_t)(hend - b->p) + 4;
	if (sscanf(b->p, "HTTP/1.%*d %d", &status) != 1)
		die("bad HTTP status line: %.80s", b->p);
	if (status == 100) {
		buf_consume(b, hlen);
		return http_response(body, ctype, ctsz);
	}
	if (header(b->p, hend, "mcp-session-id", val, sizeof(val)) && !*http.session)
		snprintf(http.session, sizeof(http.session), "%s", val);
	ctype[0] = 0;
	header(b->p, hend, "content-type", ctype, ctsz);
	http.close_after = header(b->p, hend, "connection", val, sizeof(val)) &&
			   strncasecmp(val, "close", 5) == 0;
	body->len = 0;
	if (header(b->p, hend, "transfer-encoding", val, sizeof(val)) && strstr(val, "chunked")) {
		size_t pos = hlen;

		for (;;) {
			char *crlf;
			size_t data;    /* offset of the chunk's data (b->p may move) */
			unsigned long sz;

			while (!(crlf = memmem(b->p + pos, b->len - pos, "\r\n", 2)))
				read_some(http.fd, b, "http server");
			sz = strtoul(b->p + pos, NULL, 16);
			data = (size_t)(crlf - b->p) + 2;
			while (b->len < data + sz + 2)
				read_some(http.fd, b, "http server");
			buf_add(body, b->p + data, sz);
			pos = data + sz + 2;
			if (sz == 0)
				break;
		}
		buf_consume(b, pos);
	} else if (header(b->p, hend, "content-length", val, sizeof(val))) {
		size_t cl = strtoul(val, NULL, 10);

		while (b->len < hlen + cl)
			read_some(http.fd, b, "http server");
		buf_add(body, b->p + hlen, cl);
		buf_consume(b, hlen + cl);
	} else if (status == 202 || status == 204) {
		buf_consume(b, hlen);
	} else {        /* body until the server closes */
		struct pollfd pf = {.fd = http.fd, .events = POLLIN};

		buf_consume(b, hlen);
		for (;;) {
			ssize_t r;

			buf_reserve(b, 65536);
			if (poll(&pf, 1, timeout_ms) <= 0)
				die("http server: no end of body");
			r = read(http.fd, b->p + b->len, b->cap - b->len - 1);
			if (r <= 0)
				break;
			b->len += (size_t)r;
		}
		buf_add(body, b->p, b->len);
		b->len = 0;
		http.close_after = true;
	}
	return status;
}

/* Turn an SSE body into the JSON of its events, one a line. */
static void sse_to_json(struct buf *body)
{
	struct buf out = {0};
	char *p = body->p, *end = body->p + body->len;

	while (p && p < end) {
		char *e = memchr(p, '\n', (size_t)(end - p));

		if (!e)
			e = end;
		if (e - p >= 5 && memcmp(p, "data:", 5) == 0) {
			char *v = p + 5;

			if (v < e && *v == ' ')
				v++;
			buf_add(&out, v, (size_t)(e - v));
			if (e > v && e[-1] == '\r')
				out.len--;
			buf_add(&out, "\n", 1);
		}
		p = e + 1;
	}
	free(body->p);
	*body = out;
}

/* ---- legacy HTTP+SSE transport (2024-11-05): answers come on a GET stream ---- */

struct sse {
	int fd;
	struct buf raw;         /* bytes read, not yet de-chunked */
	struct buf dec;         /* event-stream text */
	bool chunked, need_crlf;
	size_t chunk_left;
	char endpoint[512];     /* where to POST, from the "endpoint" event */
};

static struct sse sse = {.fd = -1};
static bool use_sse;

static void sse_dechunk(void)
{
	struct buf *r = &sse.raw;

	if (!sse.chunked) {
		buf_add(&sse.dec, r->p, r->len);
		r->len = 0;
		return;
	}
	while (r->len) {
		if (sse.need_crlf) {
			if (r->len < 2)
				return;
			buf_consume(r, 2);
			sse.need_crlf = false;
			continue;
		}
		if (sse.chunk_left == 0) {
			char *crlf = memmem(r->p, r->len, "\r\n", 2);

			if (!crlf)
				return;
			sse.chunk_left = strtoul(r->p, NULL, 16);
			buf_consume(r, (size_t)(crlf - r->p) + 2);
			if (sse.chunk_left == 0)
				die("the event stream ended");
			continue;
		}
		size_t n = sse.chunk_left < r->len ? sse.chunk_left : r->len;

		buf_add(&sse.dec, r->p, n);
		buf_consume(r, n);
		sse.chunk_left -= n;
		if (sse.chunk_left == 0)
			sse.need_crlf = true;
	}
}

/* Next event from the stream: its type and its data (lines joined by \n). */
static void sse_next(char *type, size_t tsz, struct buf *data)
{
	for (;;) {
		char *end = sse.dec.p ? strstr(sse.dec.p, "\n\n") : NULL;
		char *crend = sse.dec.p ? strstr(sse.dec.p, "\r\n\r\n") : NULL;
		size_t blen, skip;

		if (crend && (!end || crend < end)) {
			end = crend;
			skip = 4;
		} else {
			skip = 2;
		}
		if (!end) {
			read_some(sse.fd, &sse.raw, "event stream");
			sse_dechunk();
			continue;
		}
		blen = (size_t)(end - sse.dec.p);
		snprintf(type, tsz, "message");
		data->len = 0;
		for (char *p = sse.dec.p; p < sse.dec.p + blen;) {
			char *e = memchr(p, '\n', (size_t)(sse.dec.p + blen - p));
			size_t n;

			if (!e)
				e = sse.dec.p + blen;
			n = (size_t)(e - p);
			if (n && p[n - 1] == '\r')
				n--;
			if (n >= 6 && memcmp(p, "event:", 6) == 0)
				snprintf(type, tsz, "%.*s", (int)(n - 6 - (p[6] == ' ')),
					 p + 6 + (p[6] == ' '));
			else if (n >= 5 && memcmp(p, "data:", 5) == 0) {
				size_t sk = 5 + (n > 5 && p[5] == ' ');

				if (data->len)
					buf_add(data, "\n", 1);
				buf_add(data, p + sk, n - sk);
			}
			p = e + 1;
		}
		buf_consume(&sse.dec, blen + skip);
		if (data->len)
			return;
	}
}

/* Open the GET stream and learn the POST endpoint; false while the server
 * is not ready (an error status). */
static bool sse_open(const char *path)
{
	struct buf req = {0}, *b = &sse.raw;
	char *hend, val[64], type[32];
	struct buf data = {0};
	int status;

	if (sse.fd >= 0)
		close(sse.fd);
	sse.fd = tcp_connect(mono_ns() + (int64_t)timeout_ms * 1000000);
	sse.raw.len = sse.dec.len = 0;
	sse.chunk_left = 0;
	sse.need_crlf = false;
	buf_printf(&req, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nAccept: text/event-stream\r\n\r\n",
		   path, http.host, http.port);
	write_all(sse.fd, req.p, req.len);
	free(req.p);
	while (!b->p || !(hend = strstr(b->p, "\r\n\r\n")))
		read_some(sse.fd, b, "event stream");
	if (sscanf(b->p, "HTTP/1.%*d %d", &status) != 1)
		die("bad HTTP status line: %.80s", b->p);
	if (status != 200)
		return false;
	sse.chunked = header(b->p, hend, "transfer-encoding", val, sizeof(val)) &&
		      strstr(val, "chunked");
	buf_consume(b, (size_t)(hend - b->p) + 4);
	sse_dechunk();
	do
		sse_next(type, sizeof(type), &data);
	while (strcmp(type, "endpoint") != 0);
	if (strncmp(data.p, "http://", 7) == 0) {     /* absolute: keep the path */
		char *slash = strchr(data.p + 7, '/');

		snprintf(sse.endpoint, sizeof(sse.endpoint), "%s", slash ? slash : "/");
	} else {
		snprintf(sse.endpoint, sizeof(sse.endpoint), "%s", data.p);
	}
	free(data.p);
	return true;
}

/* Read events until the answer to `id`. */
static void sse_answer(long long id, struct buf *out)
{
	static struct buf data;
	char type[32];

	for (;;) {
		int a;

		sse_next(type, sizeof(type), &data);
		a = answers(data.p, data.len, id);
		if (a < 0)
			die("error answer to request %lld: %.2000s", id, data.p);
		if (a > 0) {
			if (out) {
				out->len = 0;
				buf_add(out, data.p, data.len);
			}
			return;
		}
	}
}

static bool http_call(const char *json, size_t len, long long id, struct buf *out)
{
	static struct buf req, body;
	char ctype[128];
	int status;

	if (http.fd < 0 || http.close_after) {
		if (http.fd >= 0)
			close(http.fd);
		http_connect(mono_ns() + (int64_t)timeout_ms * 1000000);
	}
	req.len = 0;
	buf_printf(&req,
		   "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
		   "Accept: application/json, text/event-stream\r\nContent-Length: %zu\r\n",
		   use_sse ? sse.endpoint : http.path, http.host, http.port, len);
	if (*http.session)
		buf_printf(&req, "Mcp-Session-Id: %s\r\n", http.session);
	if (*http.version)
		buf_printf(&req, "MCP-Protocol-Version: %s\r\n", http.version);
	buf_add(&req, "\r\n", 2);
	buf_add(&req, json, len);
	write_all(http.fd, req.p, req.len);
	status = http_response(&body, ctype, sizeof(ctype));
	if (id < 0) {
		if (status / 100 != 2)
			die("HTTP %d to a notification: %.200s", status, body.p ? body.p : "");
		return true;
	}
	if (use_sse) {  /* the POST only says "accepted"; the answer is on the stream */
		if (status / 100 != 2)
			die("HTTP %d: %.300s", status, body.p ? body.p : "");
		sse_answer(id, out);
		return true;
	}
	if (status != 200 && http_starting)
		return false;
	if (status != 200)
		die("HTTP %d: %.300s", status, body.p ? body.p : "");
	if (strncasecmp(ctype, "text/event-stream", 17) == 0)
		sse_to_json(&body);
	/* One JSON message a line now; find the answer. */
	for (char *p = body.p; p && *p;) {
		char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		int a = answers(p, n, id);

		if (a < 0)
			die("error answer to request %lld: %.*s", id, (int)(n > 2000 ? 2000 : n), p);
		if (a > 0) {
			if (out) {
				out->len = 0;
				buf_add(out, p, n);
			}
			return true;
		}
		p = e ? e + 1 : p + n;
	}
	die("no answer to request %lld in: %.300s", id, body.p ? body.p : "");
	return false;
}

static void call(const char *json, size_t len, long long id, struct buf *out)
{
	if (use_http) {
		int64_t deadline = mono_ns() + (int64_t)timeout_ms * 1000000;

		while (!http_call(json, len, id, out)) {
			if (mono_ns() > deadline)
				die("the server did not accept initialize in time");
			usleep(5000);
		}
	} else
		stdio_call(json, len, id, out);
}

/* ---- MCP ---- */

static struct buf req;
static char *message;

static long long make_call(void)
{
	long long id = next_id++;

	req.len = 0;
	buf_printf(&req,
		   "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"tools/call\",\"params\":"
		   "{\"name\":\"%s\",\"arguments\":{\"message\":\"%s\"}}}\n",
		   id, tool, message);
	return id;
}

static void check_echo(const struct buf *ans)
{
	json_error_t err;
	json_t *v = json_loadb(ans->p, ans->len, 0, &err);
	json_t *text = json_object_get(
		json_array_get(json_object_get(json_object_get(v, "result"), "content"), 0),
		"text");

	/* The fixture returns the message; other servers may decorate it
	 * ("Echo: ..."): it must be in there, whole. */
	if (!json_is_string(text) || !strstr(json_string_value(text), message))
		die("the %s tool did not return the message: %.300s", tool, ans->p);
	json_decref(v);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const int64_t *v, long n, double p)
{
	long k = (long)(p * (double)n + 0.999999) - 1;

	if (n == 0)
		return 0;
	if (k < 0)
		k = 0;
	if (k >= n)
		k = n - 1;
	return (double)v[k] / 1000.0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: mcp_bench [--calls N] [--warmup N] [--duration SEC] [--start-at NS]\n"
		"                 [--ready-file PATH] [--go-file PATH] [--child-stderr FILE]\n"
		"                 [--message-size BYTES] [--tool NAME] [--label TEXT]\n"
		"                 [--timeout SEC] [--dump FILE] [--http URL | --sse URL]\n"
		"                 [-- COMMAND [ARGS...]]\n"
		"       mcp_bench relay -- COMMAND [ARGS...]\n");
	exit(2);
}

/* Interrupted (make bench stopped): take what we started down with us. */
static void on_signal(int sig)
{
	if (child > 0)
		kill(child, SIGTERM);
	_exit(128 + sig);
}

int main(int argc, char **argv)
{
	const char *url = NULL;
	char **cmd = NULL;
	struct buf ans = {0};
	int64_t t_spawn, t_init, t_first, t0, t1, *lat;
	long n = 0, cap;
	double sum = 0, exit_ms = 0;
	long child_hwm_kb = 0;
	const char *how;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGHUP, on_signal);
	if (argc > 1 && strcmp(argv[1], "relay") == 0) {
		if (argc < 4 || strcmp(argv[2], "--"))
			usage();
		return relay(argv + 3);
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--") == 0) {
			cmd = argv + i + 1;
			break;
		}
		if (!v)
			usage();
		if (strcmp(a, "--calls") == 0)
			n_calls = atol(v);
		else if (strcmp(a, "--warmup") == 0)
			n_warmup = atol(v);
		else if (strcmp(a, "--duration") == 0)
			duration_s = atof(v);
		else if (strcmp(a, "--start-at") == 0)
			start_at_ns = atoll(v);
		else if (strcmp(a, "--message-size") == 0)
			msg_size = atol(v);
		else if (strcmp(a, "--tool") == 0)
			tool = v;
		else if (strcmp(a, "--label") == 0)
			label = v;
		else if (strcmp(a, "--timeout") == 0)
			timeout_ms = (int)(atof(v) * 1000);
		else if (strcmp(a, "--http") == 0)
			url = v;
		else if (strcmp(a, "--sse") == 0) {
			url = v;
			use_sse = true;
		}
		else if (strcmp(a, "--dump") == 0)
			dump_path = v;
		else if (strcmp(a, "--round") == 0)
			round_no = atol(v);
		else if (strcmp(a, "--child-stderr") == 0)
			child_err_path = v;
		else if (strcmp(a, "--ready-file") == 0)
			ready_path = v;
		else if (strcmp(a, "--go-file") == 0)
			go_path = v;
		else
			usage();
		i++;
	}
	if ((!cmd || !*cmd) && !url)
		usage();
	if (msg_size < 0 || n_calls < 0 || n_warmup < 0)
		usage();
	message = malloc((size_t)msg_size + 1);
	for (long i = 0; i < msg_size; i++)
		message[i] = (char)('a' + i % 26);
	message[msg_size] = 0;

	if (url) {
		use_http = true;
		http.fd = -1;
		if (sscanf(url, "http://%255[^:/]:%15[0-9]%511s", http.host, http.port,
			   http.path) < 2)
			die("URL must be http://HOST:PORT/PATH: %s", url);
		if (!*http.path)
			strcpy(http.path, "/");
	}

	t_spawn = mono_ns();
	if (cmd && *cmd)
		spawn(cmd, !use_http);
	if (use_sse) {
		int64_t deadline = t_spawn + (int64_t)timeout_ms * 1000000;

		while (!sse_open(http.path)) {
			if (mono_ns() > deadline)
				die("no event stream at %s", url);
			usleep(5000);
		}
	}
	if (use_http)
		http_connect(t_spawn + (int64_t)timeout_ms * 1000000);

	req.len = 0;
	buf_printf(&req,
		   "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"initialize\",\"params\":"
		   "{\"protocolVersion\":\"" PROTOCOL "\",\"capabilities\":{},"
		   "\"clientInfo\":{\"name\":\"mcp_bench\",\"version\":\"1.0.0\"}}}\n",
		   next_id);
	http_starting = true;   /* some servers listen before they route */
	call(req.p, req.len, next_id, &ans);
	http_starting = false;
	next_id++;
	t_init = mono_ns();
	{
		json_t *v = json_loadb(ans.p, ans.len, 0, NULL);
		const char *pv = json_string_value(
			json_object_get(json_object_get(v, "result"), "protocolVersion"));

		if (!pv)
			die("bad initialize answer: %.300s", ans.p);
		snprintf(http.version, sizeof(http.version), "%s", pv);
		json_decref(v);
	}
	static const char initialized[] =
		"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";
	call(initialized, sizeof(initialized) - 1, -1, NULL);

	/* First call: with a lazy gateway this includes starting the server. */
	if (n_warmup > 0) {
		long long id = make_call();

		call(req.p, req.len, id, &ans);
		check_echo(&ans);
	}
	t_first = mono_ns();
	for (long i = 1; i < n_warmup; i++) {
		long long id = make_call();

		call(req.p, req.len, id, &ans);
		check_echo(&ans);
	}

	if (ready_path) {
		FILE *f = fopen(ready_path, "w");

		if (!f)
			die("%s: %s", ready_path, strerror(errno));
		fclose(f);
	}
	if (go_path) {  /* wait for the start time to be written there */
		int64_t deadline = mono_ns() + 120 * (int64_t)1000000000;
		FILE *f;

		while (!(f = fopen(go_path, "r"))) {
			if (mono_ns() > deadline)
				die("no %s after 120 s", go_path);
			usleep(2000);
		}
		if (fscanf(f, "%lld", &start_at_ns) != 1)
			die("%s: no start time in it", go_path);
		fclose(f);
	}
	if (start_at_ns > 0) {
		int64_t wait = start_at_ns - now_ns(CLOCK_REALTIME);

		if (wait < 0)
			fprintf(stderr, "mcp_bench %s: started %.0f ms late\n", label,
				(double)-wait / 1e6);
		else {
			struct timespec ts = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};

			while (nanosleep(&ts, &ts) && errno == EINTR)
				;
		}
	}
	/* An HTTP server may have closed our keep-alive connection while we
	 * waited (node's default keepAliveTimeout is 5 s): start afresh. */
	if (use_http && (ready_path || go_path || start_at_ns > 0)) {
		close(http.fd);
		http_connect(mono_ns() + (int64_t)timeout_ms * 1000000);
	}
	cap = duration_s > 0 ? 1 << 16 : (n_calls > 0 ? n_calls : 1);
	lat = malloc((size_t)cap * sizeof(*lat));
	t0 = mono_ns();
	for (;;) {
		int64_t a, b;
		long long id;

		if (duration_s > 0 ? (double)(mono_ns() - t0) >= duration_s * 1e9 : n >= n_calls)
			break;
		id = make_call();
		a = mono_ns();
		call(req.p, req.len, id, &ans);
		b = mono_ns();
		if (ans.len < (size_t)msg_size)
			die("short answer: %.300s", ans.p);
		if (n == cap) {
			cap *= 2;
			lat = realloc(lat, (size_t)cap * sizeof(*lat));
		}
		lat[n++] = b - a;
		sum += (double)(b - a);
	}
	t1 = mono_ns();
	if (n > 0)      /* the last answer gets the full check too */
		check_echo(&ans);
	if (dump_path) {
		FILE *f = fopen(dump_path, "w");

		if (!f)
			die("%s: %s", dump_path, strerror(errno));
		for (long i = 0; i < n; i++)
			fprintf(f, "%.3f\n", (double)lat[i] / 1000.0);
		fclose(f);
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_i64);

	if (child > 0) {        /* peak memory of what we talk to */
		char path[64], line[256];
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/status", (int)child);
		if ((f = fopen(path, "r"))) {
			while (fgets(line, sizeof(line), f))
				sscanf(line, "VmHWM: %ld", &child_hwm_kb);
			fclose(f);
		}
	}
	if (use_http && http.fd >= 0)
		close(http.fd);
	if (sse.fd >= 0)
		close(sse.fd);
	how = reap(use_http, &exit_ms);

	printf("{\"label\":\"%s\",\"round\":%ld,\"transport\":\"%s\",\"calls\":%ld,\"message_size\":%ld,"
	       "\"init_ms\":%.3f,\"first_call_ms\":%.3f,"
	       "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"mean_us\":%.1f,"
	       "\"min_us\":%.1f,\"max_us\":%.1f,\"elapsed_s\":%.4f,\"calls_per_s\":%.1f,"
	       "\"child\":\"%s\",\"child_exit_ms\":%.1f,\"child_peak_rss_kb\":%ld}\n",
	       label, round_no, use_sse ? "http+sse" : use_http ? "http" : "stdio", n, msg_size,
	       (double)(t_init - t_spawn) / 1e6,
	       n_warmup > 0 ? (double)(t_first - t_init) / 1e6 : 0.0,
	       pct(lat, n, 0.50), pct(lat, n, 0.90), pct(lat, n, 0.99),
	       n ? sum / (double)n / 1000.0 : 0.0, n ? (double)lat[0] / 1000.0 : 0.0,
	       n ? (double)lat[n - 1] / 1000.0 : 0.0, (double)(t1 - t0) / 1e9,
	       t1 > t0 ? (double)n / ((double)(t1 - t0) / 1e9) : 0.0, how, exit_ms,
	       child_hwm_kb);
	return 0;
}
