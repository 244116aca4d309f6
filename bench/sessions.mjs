// Many concurrent MCP sessions over Streamable HTTP through one gateway.
// Each session: initialize, notifications/initialized, then CALLS sequential
// tools/call echo; all sessions at once.  Prints one JSON line: sessions,
// calls, errors, wall time, calls/s, and the gateway's peak and final RSS
// and open fds (from /proc), so memory per session can be read off.
//
//   node bench/sessions.mjs --gateway build/mcpguard --fixture build/fixtures/mcp_fixture \
//        [--sessions 1000] [--calls 10] [--lifecycle shared|per-session]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const sessions = Number(args.sessions ?? 1000);
const calls = Number(args.calls ?? 10);
const lifecycle = args.lifecycle ?? 'shared';
const gatewayBin = path.resolve(args.gateway ?? 'build/mcpguard');
const fixture = path.resolve(args.fixture ?? 'build/fixtures/mcp_fixture');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpguard-sessions-'));
fs.writeFileSync(path.join(dir, 'catalog.yaml'),
  `registry:\n  fixture:\n    command: ["${fixture}"]\n    lifecycle: ${lifecycle}\n`);

const gw = spawn(gatewayBin, ['gateway', 'run', '--catalog', path.join(dir, 'catalog.yaml'),
  '--transport', 'streaming', '--port', '0', '--allow-unauthenticated', '--no-cache',
  '--log-calls=false', '--max-sessions', String(sessions + 100),
  // One instance per session: measure them all rather than the default cap.
  '--max-instances', String(sessions + 100), ...(args.extra ? args.extra.split(' ') : [])],
{ stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0' } });
let stderr = '';
gw.stderr.on('data', (d) => { stderr += d; });

function proc(field) {
  try {
    const s = fs.readFileSync(`/proc/${gw.pid}/status`, 'utf8');
    return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(s)[1]) / 1024;
  } catch { return NaN; }
}
const fds = () => { try { return fs.readdirSync(`/proc/${gw.pid}/fd`).length; } catch { return NaN; } };

async function port() {
  for (let i = 0; i < 400; i++) {
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr);
    if (m) return Number(m[1]);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`gateway did not start:\n${stderr}`);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: sessions + 10 });

function post(p, body, sid) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: p, path: '/mcp', method: 'POST', agent,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
        ...(sid ? { 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' } : {}) } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('end', () => resolve({ status: res.statusCode, sid: res.headers['mcp-session-id'], data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// The JSON-RPC response inside a JSON body or an SSE stream.
function response(r) {
  const text = r.data.startsWith('{') ? r.data
    : r.data.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).pop();
  return JSON.parse(text);
}

async function session(p, k) {
  const init = await post(p, JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: `s${k}`, version: '1' } } }));
  if (init.status !== 200 || !init.sid) throw new Error(`initialize: HTTP ${init.status}`);
  await post(p, '{"jsonrpc":"2.0","method":"notifications/initialized"}', init.sid);
  for (let i = 1; i <= calls; i++) {
    const msg = `s${k}-c${i}`;
    const r = await post(p, JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call',
      params: { name: 'echo', arguments: { message: msg } } }), init.sid);
    const res = response(r);
    if (r.status !== 200 || res.id !== i || res.result?.content?.[0]?.text !== msg)
      throw new Error(`call: HTTP ${r.status} ${r.data.slice(0, 200)}`);
  }
  return init.sid;
}

const p = await port();
const rssStart = proc('VmRSS');
let errors = 0;
const samples = [];
const sampler = setInterval(() => samples.push(proc('VmRSS')), 100);
const t0 = performance.now();
const results = await Promise.allSettled(Array.from({ length: sessions }, (_, k) => session(p, k)));
const wall = (performance.now() - t0) / 1000;
clearInterval(sampler);
const firstError = results.find((r) => r.status === 'rejected');
errors = results.filter((r) => r.status === 'rejected').length;
const out = {
  sessions, calls_per_session: calls, lifecycle, errors,
  first_error: firstError ? String(firstError.reason).slice(0, 200) : undefined,
  wall_s: Number(wall.toFixed(2)),
  calls_per_s: Math.round((sessions * (calls + 2)) / wall),
  gateway_rss_start_mib: Number(rssStart.toFixed(1)),
  gateway_rss_peak_mib: Number(proc('VmHWM').toFixed(1)),
  gateway_rss_end_mib: Number(proc('VmRSS').toFixed(1)),
  gateway_fds: fds(),
  open_sessions: sessions - errors,
};
out.rss_per_session_kib = Math.round(((out.gateway_rss_peak_mib - out.gateway_rss_start_mib) * 1024) / sessions);
gw.kill('SIGTERM');
const code = await new Promise((r) => gw.on('exit', (c) => r(c)));
out.gateway_exit = code;
console.log(JSON.stringify(out));
fs.rmSync(dir, { recursive: true, force: true });
process.exit(errors || code ? 1 : 0);
