// Issue 3: the HTTP transports.  The official SDK client over Streamable
// HTTP and over legacy HTTP+SSE against the official npm servers behind
// the gateway; and the door: bearer token, Host/Origin (DNS rebinding),
// body cap, sessions bound to the credential, /health.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  fixtureBin, gatewayBin, killAll, listAll, node, officialServer, readAudit, sleep, tempDir,
  waitFor, writeCatalog,
} from './lib.mjs';

after(killAll);

const TOKEN = 'test-token-0123456789abcdef';

// Start an HTTP gateway on a free port; resolves once it listens.
async function startGateway(catalog, extra = [], env = {}) {
  const proc = spawn(gatewayBin, ['gateway', 'run', '--catalog', catalog, '--transport', 'streaming,sse',
    '--port', '0', ...extra], {
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:exitcode=23', MCP_GATEWAY_AUTH_TOKEN: TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  for (let i = 0; i < 200; i++) {
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr);
    if (m) return { proc, port: Number(m[1]), stderr: () => stderr };
    await sleep(25);
  }
  proc.kill('SIGKILL');
  throw new Error(`gateway did not listen:\n${stderr}`);
}

async function stopGateway(gw) {
  gw.proc.kill('SIGTERM');
  const code = await new Promise((r) => gw.proc.on('exit', (c) => r(c)));
  assert.equal(code, 0, `gateway exit ${code}\n${gw.stderr()}`);
  assert.doesNotMatch(gw.stderr(), /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/);
}

const auth = { headers: { Authorization: `Bearer ${TOKEN}` } };

describe('the official SDK client over HTTP, official servers behind', () => {
  let dir, gw;

  before(async () => {
    dir = tempDir();
    const catalog = writeCatalog(dir, {
      everything: { command: [node, officialServer('everything')] },
      memory: { command: [node, officialServer('memory')],
        env: [{ name: 'MEMORY_FILE_PATH', value: '/workspace/memory.jsonl' }] },
    });
    gw = await startGateway(catalog, ['--cache-dir', path.join(dir, 'cache'),
      '--audit-log', path.join(dir, 'audit.jsonl'), '--workspace-dir', path.join(dir, 'ws')]);
  });

  after(async () => { if (gw) await stopGateway(gw); });

  for (const [name, make] of [
    ['Streamable HTTP', (port) => new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`), { requestInit: auth })],
    ['legacy HTTP+SSE', (port) => new SSEClientTransport(new URL(`http://127.0.0.1:${port}/sse`), {
      requestInit: auth,
      eventSourceInit: { fetch: (url, init) => fetch(url, { ...init, headers: { ...init?.headers, ...auth.headers } }) },
    })],
  ]) {
    it(`${name}: list, call with progress, read, prompt, cancel`, async () => {
      const client = new Client({ name: 'http-it', version: '1' }, { capabilities: {} });
      await client.connect(make(gw.port));
      const tools = (await listAll(client, 'tools/list')).items.map((t) => t.name);
      assert.ok(tools.includes('everything__echo') && tools.includes('memory__read_graph'));
      const echo = await client.callTool({ name: 'everything__echo', arguments: { message: name } });
      assert.equal(echo.content[0].text, `Echo: ${name}`);
      const seen = [];
      const long = await client.callTool(
        { name: 'everything__trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } },
        undefined, { onprogress: (p) => seen.push(p.progress) });
      assert.match(long.content[0].text, /completed/);
      assert.deepEqual(seen, [1, 2, 3]);
      const res = (await listAll(client, 'resources/list')).items;
      const read = await client.readResource({ uri: res[0].uri });
      assert.equal(read.contents[0].uri, res[0].uri);
      const prompt = await client.getPrompt({ name: 'everything__simple-prompt' });
      assert.ok(prompt.messages.length > 0);
      await client.callTool({ name: 'memory__create_entities',
        arguments: { entities: [{ name: name.replace(/\W/g, ''), entityType: 't', observations: ['o'] }] } });
      const graph = await client.callTool({ name: 'memory__read_graph', arguments: {} });
      assert.match(graph.content[0].text, new RegExp(name.replace(/\W/g, '')));
      const ac = new AbortController();
      const call = client.callTool(
        { name: 'everything__trigger-long-running-operation', arguments: { duration: 20, steps: 20 } },
        undefined, { signal: ac.signal, onprogress: () => ac.abort('stop') });
      await assert.rejects(call);
      await client.close();
    });
  }
});

describe('the door', () => {
  let dir, gw, base;

  before(async () => {
    dir = tempDir();
    const catalog = writeCatalog(dir, { fixture: { command: [fixtureBin] } });
    gw = await startGateway(catalog, ['--no-cache', '--max-message-size', '64k']);
    base = `http://127.0.0.1:${gw.port}`;
  });

  after(async () => { if (gw) await stopGateway(gw); });

  const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
  const post = (body, headers = {}) => fetch(`${base}/mcp`, {
    method: 'POST', body,
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
  });

  it('/health answers without a token', async () => {
    const r = await fetch(`${base}/health`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { status: 'ok' });
  });

  it('no token, or a wrong one: 401 with WWW-Authenticate', async () => {
    let r = await post(init);
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate'), /^Bearer/);
    r = await post(init, { Authorization: 'Bearer wrong' });
    assert.equal(r.status, 401);
  });

  it('a foreign Host or Origin: 403 (DNS rebinding)', async () => {
    let r = await post(init, { ...auth.headers, Origin: 'http://evil.example.com' });
    assert.equal(r.status, 403);
    r = await post(init, { ...auth.headers, Origin: `http://localhost:${gw.port}`, Host: `localhost:${gw.port}` });
    assert.equal(r.status, 200);
  });

  it('a body over the cap: 413, and the gateway goes on', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping', params: { x: 'a'.repeat(100 * 1024) } });
    const r = await post(big, auth.headers);
    assert.equal(r.status, 413);
    assert.equal((await fetch(`${base}/health`)).status, 200);
  });

  it('sessions: required, bound to the credential, ended by DELETE', async () => {
    let r = await post(init, auth.headers);
    assert.equal(r.status, 200);
    const sid = r.headers.get('mcp-session-id');
    assert.match(sid, /^[0-9a-f]{64}$/);
    await r.text();
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'ping' });
    r = await post(ping, auth.headers);
    assert.equal(r.status, 400, 'no session id');
    r = await post(ping, { ...auth.headers, 'Mcp-Session-Id': 'f'.repeat(64) });
    assert.equal(r.status, 404, 'unknown session');
    r = await post(ping, { ...auth.headers, 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '1999-01-01' });
    assert.equal(r.status, 400, 'bad version header');
    r = await post(ping, { ...auth.headers, 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { jsonrpc: '2.0', id: 7, result: {} });
    r = await fetch(`${base}/mcp`, { method: 'DELETE', headers: { ...auth.headers, 'Mcp-Session-Id': sid } });
    assert.equal(r.status, 200);
    r = await post(ping, { ...auth.headers, 'Mcp-Session-Id': sid });
    assert.equal(r.status, 404, 'ended');
  });

  it('a broken stream resumes with Last-Event-ID and loses nothing', async () => {
    let r = await post(init, auth.headers);
    const sid = r.headers.get('mcp-session-id');
    await r.text();
    const hdrs = { ...auth.headers, 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-11-25' };
    const ac = new AbortController();
    r = await fetch(`${base}/mcp`, { method: 'POST', signal: ac.signal, headers: {
      'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...hdrs },
      body: JSON.stringify({ jsonrpc: '2.0', id: 42, method: 'tools/call',
        params: { name: 'slow', arguments: { ms: 700 }, _meta: { progressToken: 'p' } } }) });
    assert.equal(r.headers.get('content-type'), 'text/event-stream');
    const reader = r.body.getReader();
    let text = '';
    while (!/\n\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    const lastId = /^id: (\S+)/m.exec(text)[1];
    ac.abort();                             // the client's connection breaks
    // The call finishes meanwhile: the gateway logs it when the answer is in.
    assert.ok(await waitFor(() => /> tools\/call slow on fixture: ok/.test(gw.stderr()), 10000),
      `the slow call did not finish:\n${gw.stderr()}`);
    r = await fetch(`${base}/mcp`, { headers: { ...hdrs, Accept: 'text/event-stream', 'Last-Event-ID': lastId } });
    assert.equal(r.status, 200);
    const rest = await r.text();
    const events = rest.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
    assert.ok(events.some((e) => e.method === 'notifications/progress'), 'later progress replayed');
    const final = events.find((e) => e.id === 42);
    assert.ok(final, `the response is replayed: ${rest.slice(0, 300)}`);
    assert.equal(final.result.content[0].text, 'done');
    assert.doesNotMatch(rest, new RegExp(`^id: ${lastId}$`, 'm'), 'nothing before Last-Event-ID');
  });

  it('an answer written to a sleeping stream from another request is delivered at once', async () => {
    // Legacy HTTP+SSE: the POST's answer goes to the GET /sse stream, which
    // sleeps (suspended) between events.  A lost wakeup once held it for a
    // minute.
    const ac = new AbortController();
    const r = await fetch(`${base}/sse`, { headers: { ...auth.headers, Accept: 'text/event-stream' }, signal: ac.signal });
    const reader = r.body.getReader();
    let text = '';
    const readUntil = async (re, ms) => {
      const t0 = Date.now();
      while (!re.test(text)) {
        const chunk = await Promise.race([reader.read(), sleep(ms).then(() => null)]);
        if (!chunk || Date.now() - t0 > ms) return false;
        text += new TextDecoder().decode(chunk.value);
      }
      return true;
    };
    assert.ok(await readUntil(/data: (\/messages\S+)/, 2000));
    const endpoint = /data: (\/messages\S+)/.exec(text)[1];
    const postMsg = (o) => fetch(`${base}${endpoint}`, { method: 'POST',
      headers: { ...auth.headers, 'Content-Type': 'application/json' }, body: JSON.stringify(o) });
    await postMsg({ jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 's', version: '1' } } });
    assert.ok(await readUntil(/"id":1,"result"/, 5000));
    await sleep(300);                          // the stream goes to sleep
    const t0 = Date.now();
    assert.equal((await postMsg({ jsonrpc: '2.0', id: 2, method: 'ping' })).status, 202);
    assert.ok(await readUntil(/"id":2,"result"/, 3000), 'the answer arrived');
    assert.ok(Date.now() - t0 < 1000, `after ${Date.now() - t0} ms`);
    ac.abort();
  });

  it('other methods and paths', async () => {
    assert.equal((await fetch(`${base}/mcp`, { method: 'PUT', headers: auth.headers })).status, 405);
    assert.equal((await fetch(`${base}/nowhere`, { headers: auth.headers })).status, 404);
    const r = await post('{"jsonrpc":', auth.headers);
    assert.equal(r.status, 400);
  });
});
