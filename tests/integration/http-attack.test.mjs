// Issue 9, "Under attack": the HTTP door against a client on the same host.
// (a) bodies that pass a quick look but fail the strict parse, over
//     Streamable HTTP (session and stateless) and legacy /messages: each is
//     answered (400, JSON-RPC error), nothing leaks (RSS and descriptors of
//     the release binary), a normal client is served, SIGTERM exits 0, also
//     with a request in flight;
// (b) thousands of idle connections do not close the door to /health or an
//     established session; the last slots are kept for established
//     clients; heads and idle keep-alive connections have deadlines;
// (c) ambiguous framing gets 400 and a closed connection, and a request
//     smuggled after it is never answered;
// (d) an https:// Origin on this plain-HTTP endpoint gets 403;
// (e) no other process can bind the gateway's port.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { fixtureBin, gatewayBin, killAll, readAudit, root, spawnHttpGateway, stopHttpGateway, tempDir, writeCatalog } from './lib.mjs';

after(killAll);

const TOKEN = 'attack-token-0123456789abcdef';
const AUTH = `Bearer ${TOKEN}`;
// RSS is measured on the release build: the sanitizers' quarantine would
// hide or fake growth.  Everything else runs on the sanitizer build.
const releaseBin = process.env.MCPGUARD_RELEASE_BIN || path.join(root, 'build/mcpguard');
const sanitizerReport = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/;

after(killAll);

// Start a gateway on a free port; resolves when it says where it listens.
async function startGateway(extra = [], { bin = gatewayBin, prefix = [], port = 0, env = {} } = {}) {
  const dir = tempDir('mcpguard-attack-');
  const catalog = writeCatalog(dir, { fixture: { command: [fixtureBin] } });
  const audit = path.join(dir, 'audit.jsonl');
  const args = ['gateway', 'run', '--catalog', catalog, '--transport', 'streaming,sse', '--port', String(port),
    '--no-cache', '--audit-log', audit, '--workspace-dir', path.join(dir, 'ws'), ...extra];
  const gw = await spawnHttpGateway(args, { bin, prefix, env: { MCP_GATEWAY_AUTH_TOKEN: TOKEN, ...env } });
  return Object.assign(gw, { dir, audit });
}

const stopGateway = stopHttpGateway;

// A bound on waiting for something that must happen: a hang on a broken
// gateway fails the test with a message instead of stalling the run.
function within(promise, what, ms = 20000) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  })]).finally(() => clearTimeout(timer));
}

const INIT = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'attack', version: '1' } } });
const PING = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' });
const mcpHeaders = (extra = {}) => ({ 'Content-Type': 'application/json',
  Accept: 'application/json, text/event-stream', Authorization: AUTH, ...extra });

async function openSession(base) {
  const r = await fetch(`${base}/mcp`, { method: 'POST', body: INIT, headers: mcpHeaders() });
  assert.equal(r.status, 200);
  const sid = r.headers.get('mcp-session-id');
  await r.text();
  const n = await fetch(`${base}/mcp`, { method: 'POST', headers: mcpHeaders({ 'Mcp-Session-Id': sid }),
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  assert.equal(n.status, 202);
  await n.text();
  return sid;
}

// The bodies the attacker sent: each passes the span scan, fails the
// strict parse.  expectId: the id the error must name (null: unknown).
const meta = '"params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}';
const bigId = 'A'.repeat(1 << 20);
const deep = 100000;
const BODIES = [
  ['trailing data', Buffer.from('{"jsonrpc":"2.0","id":9,"method":"ping"}x'), -32700],
  ['duplicate key', Buffer.from('{"jsonrpc":"2.0","id":9,"id":10,"method":"ping"}'), -32700],
  ['invalid UTF-8', Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":9,"method":"ping","params":{"s":"'),
    Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}}')]), -32700],
  ['1e999', Buffer.from('{"jsonrpc":"2.0","id":9,"method":"ping","params":{"n":1e999}}'), -32700],
  ['nesting 100,000 deep', Buffer.from(`{"jsonrpc":"2.0","id":9,"method":"ping","params":{"a":${'['.repeat(deep)}${']'.repeat(deep)}}}`), -32700],
  ['id 1.5', Buffer.from('{"jsonrpc":"2.0","id":1.5,"method":"ping"}'), -32600],
  ['id true', Buffer.from('{"jsonrpc":"2.0","id":true,"method":"ping"}'), -32600],
  ['id null', Buffer.from('{"jsonrpc":"2.0","id":null,"method":"ping"}'), -32600],
  ['1 MB id, trailing data', Buffer.from(`{"jsonrpc":"2.0","id":"${bigId}","method":"ping"}x`), -32700],
  ['method not a string', Buffer.from('{"jsonrpc":"2.0","id":7,"method":5}'), -32600, '7'],
];
const modernBody = Buffer.from(`{"jsonrpc":"2.0","id":9,"method":"ping",${meta}}x`);

// node:http with a fixed pool of keep-alive connections, so that the
// gateway's descriptors before and after are comparable.
function request(agent, { port, method = 'POST', reqPath = '/mcp', headers = {}, body }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: reqPath, agent,
      headers: { ...headers, ...(body ? { 'Content-Length': body.length } : {}) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
        text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(20000, () => req.destroy(new Error(`no answer to ${method} ${reqPath} within 20 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

function checkError(res, code, expectId, what) {
  assert.equal(res.status, 400, `${what}: status ${res.status} ${res.text.slice(0, 200)}`);
  const j = JSON.parse(res.text);
  assert.equal(j.jsonrpc, '2.0');
  assert.equal(j.error.code, code, `${what}: ${res.text.slice(0, 200)}`);
  assert.equal(j.id === null ? null : String(j.id), expectId ?? null, what);
}

// A legacy HTTP+SSE session: the stream stays open, its endpoint is read.
function openLegacy(port) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/sse', agent: false,
      headers: { Accept: 'text/event-stream', Authorization: AUTH } }, (res) => {
      let buf = '';
      res.on('data', (d) => {
        buf += d;
        const m = /event: endpoint\ndata: (\S+)\n/.exec(buf);
        if (m) resolve({ endpoint: m[1], close: () => req.destroy() });
      });
    });
    req.on('error', reject);
  });
}

const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const fds = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length;

async function runPool(jobs, width) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < jobs.length) await jobs[next++]();
  }));
}

describe('(a) bodies that fail the strict parse', () => {
  for (const [label, bin, reps] of [['release build: memory and descriptors', releaseBin, 34],
    ['sanitizer build', gatewayBin, 1]]) {
    it(`${label}: every one is answered, nothing leaks, SIGTERM exits 0`, async (t) => {
      if (!fs.existsSync(bin)) { t.skip(`${bin} is not built`); return; }
      // glibc keeps freed blocks of a megabyte in its heap after it has
      // seen one (the mmap threshold adapts): with the threshold fixed,
      // what RSS shows is what the gateway holds, not the allocator's cache.
      const gw = await startGateway([], { bin,
        env: { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072' } });
      const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
      const legacy = await openLegacy(gw.port);
      try {
        const sid = await openSession(gw.base);
        const round = (n) => {
          const jobs = [];
          for (let i = 0; i < n; i++) {
            for (const [what, body, code, expectId] of BODIES) {
              jobs.push(async () => checkError(await request(agent, { port: gw.port, body,
                headers: mcpHeaders({ 'Mcp-Session-Id': sid }) }), code, expectId, `${what} (session)`));
              jobs.push(async () => checkError(await request(agent, { port: gw.port, body,
                headers: mcpHeaders({ 'MCP-Protocol-Version': '2026-07-28' }) }), code, expectId,
              `${what} (stateless)`));
              jobs.push(async () => checkError(await request(agent, { port: gw.port, body,
                reqPath: legacy.endpoint, headers: mcpHeaders() }), code, expectId, `${what} (/messages)`));
            }
            jobs.push(async () => checkError(await request(agent, { port: gw.port, body: modernBody,
              headers: mcpHeaders({ 'MCP-Protocol-Version': '2026-07-28' }) }), -32700, null, 'modern claim'));
          }
          return jobs;
        };
        // Warm-up: every pool connection open, and the heap at its working
        // size.  RSS swings by a couple of MB with the last bodies' buffers,
        // so where it started is the highest of several samples.
        await runPool(round(1), 8);
        let rss0 = 0;
        for (let k = 0; k < (reps > 1 ? 6 : 1); k++) {
          await runPool(round(reps > 1 ? 4 : 1), 4);
          rss0 = Math.max(rss0, rss(gw.proc.pid));
        }
        const fd0 = fds(gw.proc.pid);
        const jobs = round(reps);
        if (reps > 1) assert.ok(jobs.length >= 1000, `${jobs.length} requests`);
        await runPool(jobs, 4);
        // A leak shows in every sample; a swing of the allocator in one.
        let rss1 = rss(gw.proc.pid);
        const fd1 = fds(gw.proc.pid);
        await runPool(round(1), 4);
        rss1 = Math.min(rss1, rss(gw.proc.pid));
        if (reps > 1) {
          assert.ok(rss1 <= rss0 * 1.1, `RSS grew from ${rss0} kB to ${rss1} kB`);
          assert.ok(fd1 <= fd0 + Math.max(1, Math.ceil(fd0 * 0.1)), `descriptors grew from ${fd0} to ${fd1}`);
        }
        // A normal client is served, and the session still answers.
        const client = new Client({ name: 'after', version: '1' }, { capabilities: {} });
        await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.base}/mcp`),
          { requestInit: { headers: { Authorization: AUTH } } }));
        const echo = await client.callTool({ name: 'echo', arguments: { message: 'still here' } });
        assert.match(JSON.stringify(echo.content), /still here/);
        await client.close();
        const ping = await request(agent, { port: gw.port, body: Buffer.from(PING),
          headers: mcpHeaders({ 'Mcp-Session-Id': sid }) });
        assert.equal(ping.status, 200);
        assert.equal(JSON.parse(ping.text).id, 2);
        // Every refusal is in the audit log, as a refusal at the door.
        const refused = readAudit(gw.audit).filter((a) => a.outcome === 'refused' && a.error_code === 400 &&
          /^http POST \/m/.test(a.method));
        assert.ok(refused.length >= jobs.length, `${refused.length} refusals audited`);
        assert.ok(!fs.readFileSync(gw.audit, 'utf8').includes(TOKEN));
      } finally {
        legacy.close();
        agent.destroy();
      }
      await stopGateway(gw);
    });
  }

  it('SIGTERM with requests in flight (a sleeping stream, a waiting POST) exits 0', async () => {
    const gw = await startGateway();
    const sid = await openSession(gw.base);
    const call = (id, progress) => fetch(`${gw.base}/mcp`, { method: 'POST', headers: mcpHeaders({ 'Mcp-Session-Id': sid }),
      body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'slow', arguments: { ms: 600000 },
        ...(progress ? { _meta: { progressToken: 'p' } } : {}) } }) });
    const waiting = call(11, false).then(async (r) => ({ status: r.status, text: await r.text() }), (e) => ({ error: e }));
    // With progress the answer is an event stream: open means in flight.
    const streaming = await call(12, true);
    assert.equal(streaming.headers.get('content-type'), 'text/event-stream');
    const rest = streaming.text().catch((e) => e);
    await stopGateway(gw);
    await rest;
    const w = await waiting;
    assert.ok(w.error || w.status === 503, `the waiting POST: ${w.status} ${w.text}`);
  });
});

// Raw connections, from many loopback addresses: 127.0.0.0/8 is all ours.
function holdConnection(port, localAddress) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    s.on('error', () => {});
    s.on('data', () => {});
    s.once('connect', () => resolve(s));
    s.once('close', () => resolve(s));
  });
}

// Read a raw connection until the server closes it (bounded).
function readUntilClosed(sock, what) {
  return within(new Promise((resolve) => {
    let out = '';
    sock.on('data', (d) => { out += d; });
    sock.on('error', () => {});
    sock.on('close', () => resolve(out));
  }), `close of ${what}`);
}

function openLimit() {
  const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

describe('(b) idle connections', () => {
  const HELD = 10100;

  it(`${HELD} idle connections from 101 addresses: /health and an established session are served`, async (t) => {
    if (openLimit() < HELD + 512) {
      // Room for the connections held here: the hard limit, if it allows.
      spawnSync('prlimit', [`--pid=${process.pid}`, `--nofile=${HELD + 2048}`]);
      if (openLimit() < HELD + 512) { t.skip(`open-file limit ${openLimit()} is below ${HELD + 512}`); return; }
    }
    const gw = await startGateway([], { prefix: ['prlimit', `--nofile=${HELD + 4096}`] });
    const socks = [];
    try {
      const sid = await openSession(gw.base);
      for (let i = 0; i < HELD; i += 500) {
        const batch = [];
        for (let k = i; k < Math.min(HELD, i + 500); k++)
          batch.push(holdConnection(gw.port, `127.0.1.${1 + (k % 101)}`));
        socks.push(...await Promise.all(batch));
      }
      // New connections (no agent), as a monitor and a client would open.
      const health = await request(false, { port: gw.port, method: 'GET', reqPath: '/health' });
      assert.equal(health.status, 200);
      assert.deepEqual(JSON.parse(health.text), { status: 'ok' });
      const ping = await request(false, { port: gw.port, body: Buffer.from(PING),
        headers: mcpHeaders({ 'Mcp-Session-Id': sid }) });
      assert.equal(ping.status, 200);
      assert.equal(JSON.parse(ping.text).id, 2);
      // The session's own keep-alive connection too.
      const reused = await within(fetch(`${gw.base}/mcp`, { method: 'POST', body: PING,
        headers: mcpHeaders({ 'Mcp-Session-Id': sid }) }), 'answer on the kept connection');
      assert.equal(reused.status, 200);
      await reused.text();
      // The connections shed to make room were told so, and audited.
      const shed = readAudit(gw.audit).filter((a) => a.method === 'http connection' && a.error_code === 503);
      assert.ok(shed.length > 0, 'connections were shed');
      const lines = gw.stderr.split('\n').filter((l) => l.includes('http: refused'));
      assert.ok(lines.length < shed.length, `${lines.length} log lines for ${shed.length} refusals`);
    } finally {
      for (const s of socks) s.destroy();
    }
    await stopGateway(gw);
  });

  it('past max - reserved, only /health and established clients are served; others get 503 + Retry-After', async () => {
    const gw = await startGateway(['--http-max-connections', '40', '--http-reserved-connections', '8',
      '--http-max-connections-per-address', '40']);
    const socks = [];
    try {
      const sid = await openSession(gw.base);
      const ping = `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nAuthorization: ${AUTH}\r\n` +
        `Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n` +
        `Mcp-Session-Id: ${sid}\r\nContent-Length: ${PING.length}\r\n\r\n${PING}`;
      // 34 keep-alive connections that have carried an authorised request.
      for (let i = 0; i < 34; i++) {
        const s = await holdConnection(gw.port, '127.0.2.1');
        const answered = new Promise((resolve) => s.once('data', (d) => resolve(String(d))));
        s.write(ping);
        assert.match(await within(answered, 'ping answer'), /^HTTP\/1\.1 200/);
        socks.push(s);
      }
      // Each on a new connection (no agent): it is in the reserve.
      const fresh = await request(false, { port: gw.port, body: Buffer.from(INIT), headers: mcpHeaders() });
      assert.equal(fresh.status, 503);
      assert.equal(fresh.headers['retry-after'], '1');
      const health = await request(false, { port: gw.port, method: 'GET', reqPath: '/health' });
      assert.equal(health.status, 200);
      const again = await request(false, { port: gw.port, body: Buffer.from(PING),
        headers: mcpHeaders({ 'Mcp-Session-Id': sid }) });
      assert.equal(again.status, 200);
      assert.equal(JSON.parse(again.text).id, 2);
    } finally {
      for (const s of socks) s.destroy();
    }
    await stopGateway(gw);
  });

  it('a head has a deadline, and so has an idle keep-alive connection', async () => {
    const gw = await startGateway(['--http-header-timeout', '1s', '--http-idle-timeout', '2s']);
    try {
      const silent = await holdConnection(gw.port);
      const silentOut = readUntilClosed(silent, 'a silent connection');
      const partial = await holdConnection(gw.port);
      const partialOut = readUntilClosed(partial, 'a partial head');
      partial.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\n`);
      const idle = await holdConnection(gw.port);
      const idleOut = readUntilClosed(idle, 'an idle keep-alive connection');
      idle.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\n\r\n`);
      assert.match(await silentOut, /^HTTP\/1\.1 408/);
      assert.match(await partialOut, /^HTTP\/1\.1 408/);
      const out = await idleOut;
      assert.match(out, /^HTTP\/1\.1 200/);
      assert.equal(out.match(/HTTP\/1\.1 /g).length, 1);
      const audited = readAudit(gw.audit).filter((a) => a.error_code === 408);
      assert.equal(audited.length, 2);
    } finally {
      await stopGateway(gw);
    }
  });
});

describe('(c) ambiguous framing: 400, closed, nothing smuggled answered', () => {
  let gw;
  before(async () => { gw = await startGateway(); });
  after(async () => { if (gw) await stopGateway(gw); });

  const host = () => `Host: 127.0.0.1:${gw.port}\r\n`;
  const smuggled = () => `GET /health HTTP/1.1\r\n${host()}\r\n`;
  const cases = [
    ['Content-Length and Transfer-Encoding', () => `POST /mcp HTTP/1.1\r\n${host()}Authorization: ${AUTH}\r\n` +
      `Content-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled()}`],
    ['two differing Content-Length', () => `POST /mcp HTTP/1.1\r\n${host()}Authorization: ${AUTH}\r\n` +
      `Content-Type: application/json\r\nContent-Length: 0\r\nContent-Length: ${smuggled().length}\r\n\r\n${smuggled()}`],
    ['Transfer-Encoding with a space before the colon', () => `POST /mcp HTTP/1.1\r\n${host()}Authorization: ${AUTH}\r\n` +
      `Content-Type: application/json\r\nTransfer-Encoding : chunked\r\nContent-Length: 0\r\n\r\n` +
      `${(smuggled().length).toString(16)}\r\n${smuggled()}\r\n0\r\n\r\n`],
    ['two Host headers', () => `GET /health HTTP/1.1\r\nHost: evil.example\r\n${host()}\r\n${smuggled()}`],
  ];
  for (const [name, make] of cases) {
    it(name, async () => {
      const s = await holdConnection(gw.port);
      const out = readUntilClosed(s, name);
      s.write(make());
      const text = await out;
      assert.match(text, /^HTTP\/1\.1 400 /);
      assert.match(text, /\r\nConnection: close\r\n/i);
      assert.equal(text.match(/HTTP\/1\.1 \d{3}/g).length, 1, `one answer only:\n${text}`);
      assert.doesNotMatch(text, /"status":"ok"/);
    });
  }

  it('each is audited as a refusal', () => {
    const refused = readAudit(gw.audit).filter((a) => a.outcome === 'refused' && a.error_code === 400);
    assert.ok(refused.length >= cases.length);
  });
});

describe('(d, e) Origin scheme and the port', () => {
  let gw;
  before(async () => { gw = await startGateway(); });
  after(async () => { if (gw) await stopGateway(gw); });

  it('an https:// Origin on a plain-HTTP endpoint: 403', async () => {
    let r = await fetch(`${gw.base}/mcp`, { method: 'POST', body: INIT,
      headers: mcpHeaders({ Origin: `https://127.0.0.1:${gw.port}` }) });
    assert.equal(r.status, 403);
    await r.text();
    r = await fetch(`${gw.base}/mcp`, { method: 'POST', body: INIT,
      headers: mcpHeaders({ Origin: `http://127.0.0.1:${gw.port}` }) });
    assert.equal(r.status, 200);
    await r.text();
  });

  it('a second gateway cannot bind the same port', async () => {
    const second = startGateway([], { port: gw.port });
    const outcome = await within(second.then((g) => ({ listening: g }), (e) => ({ error: e })), 'second gateway outcome', 60000);
    if (outcome.listening) {
      outcome.listening.proc.kill('SIGKILL');
      assert.fail(`a second gateway listens on port ${gw.port} too`);
    }
    assert.match(String(outcome.error), /cannot listen/);
    const r = await fetch(`${gw.base}/health`);
    assert.equal(r.status, 200);
    await r.text();
  });
});
