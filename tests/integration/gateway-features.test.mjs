// Gateway behaviour with the C fixture: server-to-client requests, server
// lifecycles, the list cache, list changes, naming and filters, pagination,
// logging, subscriptions, exact ids, catalogs and the command line.
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema,
  LoggingMessageNotificationSchema, ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import {
  assertLogged, connect, descendants, finish, fixtureBin, gatewayBin, listAll, readAudit,
  serverPids, sleep, tempDir, waitFor, writeCatalog, killAll,
} from './lib.mjs';

after(killAll);

const text = (r) => r.content[0].text;
const gw = (catalog, ...extra) => ['gateway', 'run', '--catalog', catalog, ...extra];

describe('server-to-client requests reach the client that owns the instance', () => {
  it('relays sampling, elicitation and roots, and routes the answers back', async () => {
    const dir = tempDir();
    const catalog = writeCatalog(dir, { fixture: { command: [fixtureBin] } });
    const { client, transport } = await connect(gw(catalog, '--no-cache'), {
      capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } },
    });
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => ({
      role: 'assistant', model: 'test-model',
      content: { type: 'text', text: `sampled: ${req.params.messages[0].content.text}` },
    }));
    client.setRequestHandler(ElicitRequestSchema, async () => ({
      action: 'accept', content: { username: 'ada', email: 'ada@example.com' },
    }));
    client.setRequestHandler(ListRootsRequestSchema, async () => ({
      roots: [{ uri: 'file:///work/project', name: 'project' }],
    }));
    const s = await client.callTool({ name: 'test_sampling', arguments: { prompt: 'hi there' } });
    assert.match(text(s), /sampled: hi there/);
    const e = await client.callTool({ name: 'test_elicitation', arguments: { message: 'who are you?' } });
    assert.match(text(e), /accept/);
    assert.match(text(e), /ada@example.com/);
    const r = await client.callTool({ name: 'roots', arguments: {} });
    assert.match(text(r), /file:\/\/\/work\/project/);
    await finish(null, transport, assert);
  });

  it('answers the server itself when the client lacks the capability', async () => {
    const dir = tempDir();
    const catalog = writeCatalog(dir, { fixture: { command: [fixtureBin] } });
    const { client, transport } = await connect(gw(catalog, '--no-cache'));
    const s = await client.callTool({ name: 'test_sampling', arguments: { prompt: 'x' } });
    assert.match(text(s), /the client does not support sampling/,
      'the gateway refused for the client; the tool reports it');
    assert.equal(text(await client.callTool({ name: 'echo', arguments: { message: 'y' } })), 'y');
    await finish(null, transport, assert);
  });
});

describe('server lifecycles', () => {
  for (const [lifecycle, expectCounts, samePid] of [
    [undefined, ['1', '2', '3'], true], // per-session by default: state kept
    ['per-call', ['1', '1', '1'], false],
    ['shared', ['1', '2', '3'], true],
  ]) {
    it(`${lifecycle ?? 'default (per-session)'}`, async () => {
      const dir = tempDir();
      const entry = { command: [fixtureBin] };
      if (lifecycle) entry.lifecycle = lifecycle;
      const catalog = writeCatalog(dir, { fixture: entry });
      const { client, transport } = await connect(gw(catalog, '--cache-dir', path.join(dir, 'c')));
      const counts = [];
      for (let i = 0; i < 3; i++) counts.push(text(await client.callTool({ name: 'counter', arguments: {} })));
      assert.deepEqual(counts, expectCounts);
      const a = text(await client.callTool({ name: 'whoami', arguments: {} }));
      const b = text(await client.callTool({ name: 'whoami', arguments: {} }));
      assert.equal(a === b, samePid);
      await finish(null, transport, assert);
    });
  }

  it('longLived: true (Docker) keeps state like per-session', async () => {
    const dir = tempDir();
    const catalog = writeCatalog(dir, { fixture: { command: [fixtureBin], longLived: true } });
    const { client, transport } = await connect(gw(catalog, '--no-cache'));
    await client.callTool({ name: 'counter', arguments: {} });
    assert.equal(text(await client.callTool({ name: 'counter', arguments: {} })), '2');
    await finish(null, transport, assert);
  });
});

describe('the list cache', () => {
  it('a second start answers from the cache and starts the server only for a call', async () => {
    const dir = tempDir();
    const cache = path.join(dir, 'cache');
    const catalog = writeCatalog(dir, { fixture: { command: [fixtureBin, '--many-tools', '3'] } });
    let { client, transport } = await connect(gw(catalog, '--cache-dir', cache));
    const first = (await listAll(client, 'tools/list')).items.map((t) => t.name);
    await finish(null, transport, assert);
    assert.ok(first.includes('extra_2'));
    assert.equal(fs.readdirSync(path.join(cache, 'lists')).length, 1);

    ({ client, transport } = await connect(gw(catalog, '--cache-dir', cache)));
    const second = (await listAll(client, 'tools/list')).items.map((t) => t.name);
    assert.deepEqual(second, first);
    // The gateway handles its input in order: once it has answered a ping,
    // whatever initialize or tools/list made it start would be running.
    await client.ping();
    assert.deepEqual(descendants(transport.pid), [], 'no server started for initialize or tools/list');
    assert.doesNotMatch(transport.stderr, /ready in/);
    assert.equal(text(await client.callTool({ name: 'echo', arguments: { message: 'lazy' } })), 'lazy');
    assert.equal(serverPids(transport.pid, fixtureBin).length, 1, 'the call started it');
    await assertLogged(transport, /server 'fixture' .* ready in/);
    await finish(null, transport, assert);
  });

  it('a stale cache is corrected when the server starts, with tools/list_changed', async () => {
    const dir = tempDir();
    const cache = path.join(dir, 'cache');
    const catalog = writeCatalog(dir, { fixture: { command: [fixtureBin] } });
    let { client, transport } = await connect(gw(catalog, '--cache-dir', cache));
    await finish(null, transport, assert);
    const file = path.join(cache, 'lists', fs.readdirSync(path.join(cache, 'lists'))[0]);
    const view = JSON.parse(fs.readFileSync(file, 'utf8'));
    view.tools = view.tools.filter((t) => t.name !== 'whoami');
    fs.writeFileSync(file, JSON.stringify(view));

    ({ client, transport } = await connect(gw(catalog, '--cache-dir', cache)));
    let changed = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => { changed++; });
    let names = (await listAll(client, 'tools/list')).items.map((t) => t.name);
    assert.ok(!names.includes('whoami'), 'served from the (stale) cache');
    await client.callTool({ name: 'echo', arguments: { message: 'start it' } });
    assert.ok(await waitFor(() => changed > 0), 'list_changed announced');
    names = (await listAll(client, 'tools/list')).items.map((t) => t.name);
    assert.ok(names.includes('whoami'));
    await finish(null, transport, assert);
  });

  it('a server that adds a tool later is announced with list_changed', async () => {
    const dir = tempDir();
    const catalog = writeCatalog(dir, { fixture: { command: [fixtureBin, '--list-changed-after', '300'] } });
    const { client, transport } = await connect(gw(catalog, '--no-cache'));
    let changed = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => { changed++; });
    assert.ok(await waitFor(() => changed > 0));
    const names = (await listAll(client, 'tools/list')).items.map((t) => t.name);
    assert.ok(names.includes('late_tool'));
    await finish(null, transport, assert);
  });
});

describe('naming, filters and pagination', () => {
  it('prefixes names with several servers; a collision drops the later entry and keeps running', async () => {
    const dir = tempDir();
    const catalog = writeCatalog(dir, {
      alpha: { command: [fixtureBin, '--name', 'alpha'] },
      beta: { command: [fixtureBin, '--name', 'beta'] },
    });
    let { client, transport } = await connect(gw(catalog, '--no-cache'));
    let names = (await listAll(client, 'tools/list')).items.map((t) => t.name);
    assert.ok(names.includes('alpha__echo') && names.includes('beta__echo'));
    const prompts = (await listAll(client, 'prompts/list')).items.map((p) => p.name);
    assert.ok(prompts.includes('alpha__test_simple_prompt') && prompts.includes('beta__test_simple_prompt'));
    assert.equal(text(await client.callTool({ name: 'beta__echo', arguments: { message: 'b' } })), 'b');
    const p = await client.getPrompt({ name: 'alpha__test_simple_prompt' });
    assert.ok(p.messages.length > 0);
    await finish(null, transport, assert);

    ({ client, transport } = await connect(gw(catalog, '--no-cache', '--tool-prefix', 'never')));
    names = (await listAll(client, 'tools/list')).items.map((t) => t.name);
    assert.equal(names.filter((n) => n === 'echo').length, 1);
    await assertLogged(transport, /tool name collision: 'echo' from server 'beta' is dropped/);
    assert.equal(text(await client.callTool({ name: 'echo', arguments: { message: 'a' } })), 'a');
    await finish(null, transport, assert);
  });

  it('--tools and the catalog tools: list limit what is exposed', async () => {
    const dir = tempDir();
    const catalog = writeCatalog(dir, {
      fixture: { command: [fixtureBin] },
      other: { command: [fixtureBin], tools: [{ name: 'counter' }] },
    });
    const { client, transport } = await connect(gw(catalog, '--no-cache', '--tools', 'fixture:echo,*who*,other:*'));
    const names = (await listAll(client, 'tools/list')).items.map((t) => t.name).sort();
    assert.deepEqual(names, ['fixture__echo', 'fixture__whoami', 'other__counter']);
    await assert.rejects(client.callTool({ name: 'fixture__counter', arguments: {} }), /Unknown tool/);
    await finish(null, transport, assert);
  });

  it('reads every page of a paginated server and pages its own answers', async () => {
    const dir = tempDir();
    const catalog = writeCatalog(dir, { fixture: { command: [fixtureBin, '--many-tools', '40', '--page-size', '7'] } });
    const { client, transport } = await connect(gw(catalog, '--no-cache', '--page-size', '9'));
    const { items, pages } = await listAll(client, 'tools/list');
    for (let i = 0; i < 40; i++) assert.ok(items.some((t) => t.name === `extra_${i}`), `extra_${i}`);
    assert.ok(pages >= 6);
    await assert.rejects(client.listTools({ cursor: 'bogus' }), /Invalid cursor/);
    await finish(null, transport, assert);
  });

  it('shortens and cleans names that clients would reject', async () => {
    const dir = tempDir();
    const long = 'a-server-with-a-rather-long-name-for-testing';
    const catalog = writeCatalog(dir, {
      [long]: { command: [fixtureBin, '--many-tools', '1'] },
      b: { command: [fixtureBin] },
    });
    const { client, transport } = await connect(gw(catalog, '--no-cache'));
    const names = (await listAll(client, 'tools/list')).items.map((t) => t.name);
    for (const n of names) assert.match(n, /^[a-zA-Z0-9_-]{1,64}$/);
    const longOne = names.find((n) => n.startsWith(long) && n.length === 64);
    assert.ok(longOne, 'a long name is cut to 64 with a hash suffix');
    await client.callTool({ name: longOne, arguments: {} }); // still routed
    await finish(null, transport, assert);
  });
});

describe('logging, subscriptions and exact ids', () => {
  it('logging/setLevel filters what the session receives', async () => {
    const dir = tempDir();
    const catalog = writeCatalog(dir, { fixture: { command: [fixtureBin] } });
    const { client, transport } = await connect(gw(catalog, '--no-cache'));
    const logs = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logs.push(n.params.level));
    // The server logs before it answers, and the gateway relays both in
    // order: by the time the call returns, its logs are in.
    await client.callTool({ name: 'test_tool_with_logging', arguments: {} });
    assert.ok(logs.length >= 3, `got ${logs}`);
    logs.length = 0;
    await client.setLoggingLevel('error');
    await client.callTool({ name: 'test_tool_with_logging', arguments: {} });
    assert.deepEqual(logs.filter((l) => l === 'info'), []);
    await finish(null, transport, assert);
  });

  it('resource subscriptions deliver updates until unsubscribed', async () => {
    const dir = tempDir();
    const catalog = writeCatalog(dir, { fixture: { command: [fixtureBin, '--watch-interval', '100'] } });
    const { client, transport } = await connect(gw(catalog, '--no-cache'));
    const updates = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updates.push(n.params.uri));
    await client.subscribeResource({ uri: 'test://watched-resource' });
    assert.ok(await waitFor(() => updates.length >= 2));
    assert.ok(updates.every((u) => u === 'test://watched-resource'));
    await client.unsubscribeResource({ uri: 'test://watched-resource' });
    // What the server sent before the unsubscribe reached it came before the
    // answer; after it, four periods of the watch bring nothing.
    const n = updates.length;
    await sleep(400);
    assert.equal(updates.length, n, 'no updates after unsubscribe');
    await finish(null, transport, assert);
  });

  it('ids come back byte for byte: large integers, strings with escapes', async () => {
    const dir = tempDir();
    const catalog = writeCatalog(dir, { fixture: { command: [fixtureBin] } });
    const proc = spawn(gatewayBin, gw(catalog, '--no-cache'), { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d) => { out += d; });
    const send = (s) => proc.stdin.write(s + '\n');
    send('{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}');
    send('{"jsonrpc":"2.0","method":"notifications/initialized"}');
    send('{"jsonrpc":"2.0","id":9007199254740993,"method":"tools/call","params":{"name":"echo","arguments":{"message":"big"}}}');
    send('{"jsonrpc":"2.0","id":"a\\"b\\u00e9","method":"tools/call","params":{"name":"echo","arguments":{"message":"str"}}}');
    send('{"jsonrpc":"2.0","id":-42,"method":"ping"}');
    send('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":1.10}}}');
    send('not json at all');
    send('{"jsonrpc":"2.0","id":null,"method":"ping"}');
    assert.ok(await waitFor(() => out.split('\n').length > 7));
    proc.stdin.end();
    await new Promise((r) => proc.on('exit', r));
    assert.match(out, /"id":9007199254740993,"result":\{"content":\[\{"type":"text","text":"big"\}\]\}/);
    assert.match(out, /"id":"a\\"b\\u00e9"/);
    assert.match(out, /"id":-42,"result":\{\}/);
    assert.match(out, /"id":null,"error":\{"code":-32700/);
    assert.match(out, /"id":null,"error":\{"code":-32600,"message":"id must be a string or an integer"/);
  });
});

describe('catalogs and the command line', () => {
  it('an image-only entry is skipped with a clear message; the rest runs', async () => {
    const dir = tempDir();
    const catalog = writeCatalog(dir, {
      dockerized: { image: 'mcp/github@sha256:0123' },
      fixture: { command: [fixtureBin], title: 'Fixture', description: 'test server', volumes: [`${dir}:/data`] },
    });
    const { client, transport } = await connect(gw(catalog, '--no-cache'));
    await assertLogged(transport, /'dockerized' is skipped: it only gives image 'mcp\/github@sha256:0123', which needs a container runtime/);
    await assertLogged(transport, /server 'fixture' runs sandboxed: .*mcp_fixture; .*2 read-only/,
      'the fixture folder and the volume, both read-only (no :rw)');
    assert.equal(text(await client.callTool({ name: 'echo', arguments: { message: 'z' } })), 'z');
    await finish(null, transport, assert);
  });

  it('a broken catalog stops the start with file:line:column', () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, 'registry:\n  x:\n    command: 42\n');
    const r = spawnSync(gatewayBin, gw(file), { input: '', encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /bad\.yaml:3:\d+: .*'command' must be a list of strings/);
  });

  it('--servers names an unknown server: a clear error', () => {
    const dir = tempDir();
    const catalog = writeCatalog(dir, { fixture: { command: [fixtureBin] } });
    const r = spawnSync(gatewayBin, gw(catalog, '--servers', 'nope'), { input: '', encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /server 'nope' is not in the catalog/);
  });

  it('--help, version, and bad flags', () => {
    let r = spawnSync(gatewayBin, ['--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /gateway run/);
    r = spawnSync(gatewayBin, ['gateway', 'run', '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    for (const flag of ['--catalog', '--servers', '--tools', '--tool-prefix', '--transport', '--log-calls', '--timeout', '--max-message-size'])
      assert.ok(r.stdout.includes(flag), flag);
    r = spawnSync(gatewayBin, ['version'], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^mcpguard \d+\.\d+\.\d+/);
    r = spawnSync(gatewayBin, ['gateway', 'run', '--no-such-flag'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown option '--no-such-flag'/);
    r = spawnSync(gatewayBin, ['gateway', 'run', '--timeout', 'soon'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /not a duration/);
  });

  it('audits arguments only with --log-arguments', async () => {
    const dir = tempDir();
    const catalog = writeCatalog(dir, { fixture: { command: [fixtureBin] } });
    const audit = path.join(dir, 'a.jsonl');
    const { client, transport } = await connect(gw(catalog, '--no-cache', '--audit-log', audit, '--log-arguments'));
    await client.callTool({ name: 'echo', arguments: { message: 'recorded' } });
    await finish(null, transport, assert);
    const rec = readAudit(audit).find((r) => r.method === 'tools/call');
    assert.deepEqual(rec.arguments, { message: 'recorded' });
    assert.equal(rec.outcome, 'ok');
    assert.equal(rec.server, 'fixture');
  });
});

describe('the 2026-07-28 era on stdio', () => {
  it('the first request pins the era: stateless requests with _meta', async () => {
    const dir = tempDir();
    const catalog = writeCatalog(dir, { fixture: { command: [fixtureBin] } });
    const proc = spawn(gatewayBin, gw(catalog, '--no-cache'), { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d) => { out += d; });
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': {} };
    const send = (o) => proc.stdin.write(JSON.stringify({ jsonrpc: '2.0', ...o }) + '\n');
    send({ id: 1, method: 'server/discover', params: { _meta: meta } });
    send({ id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'm' }, _meta: meta } });
    send({ id: 3, method: 'ping', params: { _meta: meta } });
    send({ id: 4, method: 'tools/list', params: {} });
    send({ id: 5, method: 'tools/list', params: { _meta: { ...meta, 'io.modelcontextprotocol/protocolVersion': '1999-01-01' } } });
    assert.ok(await waitFor(() => out.trim().split('\n').length >= 5));
    proc.stdin.end();
    await new Promise((r) => proc.on('exit', r));
    const byId = Object.fromEntries(out.trim().split('\n').map((l) => JSON.parse(l)).map((m) => [m.id, m]));
    assert.deepEqual(byId[1].result.supportedVersions, ['2026-07-28', '2025-11-25']);
    assert.equal(byId[1].result.resultType, 'complete');
    assert.equal(byId[1].result._meta['io.modelcontextprotocol/serverInfo'].name, 'mcpguard');
    assert.ok(byId[1].result.capabilities.tools);
    assert.equal(byId[2].result.resultType, 'complete');
    assert.deepEqual(byId[2].result.content, [{ type: 'text', text: 'm' }]);
    const info = byId[2].result._meta?.['io.modelcontextprotocol/serverInfo'];
    if (info) assert.equal(info.name, 'mcpguard', 'the gateway speaks for itself');
    assert.equal(byId[3].error.code, -32601);
    assert.equal(byId[4].error.code, -32602, 'missing _meta');
    assert.equal(byId[5].error.code, -32022);
    assert.deepEqual(byId[5].error.data, { supported: ['2026-07-28', '2025-11-25'], requested: '1999-01-01' });
  });
});
