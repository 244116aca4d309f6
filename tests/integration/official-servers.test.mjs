// Issue 2, criterion 1: the official SDK client, connected to `mcpguard
// gateway run` over stdio with a catalog of the official npm servers
// (everything, filesystem rooted in a temp dir, memory), sees every tool,
// calls a tool of each, reads a resource, gets a prompt, receives progress
// and cancels a call.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  connect, descendants, finish, listAll, node, officialServer, readAudit, tempDir, waitFor,
  writeCatalog, killAll,
} from './lib.mjs';

after(killAll);

// The servers this test's gateway started (its descendants whose command
// lines name the official packages), with what /proc says of each.
function serverProcesses(gatewayPid) {
  const out = [];
  for (const { pid } of descendants(gatewayPid)) {
    let cmdline, statusText;
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      statusText = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch { continue; }
    if (!/@modelcontextprotocol\/server-/.test(cmdline)) continue;
    const status = Object.fromEntries(statusText.split('\n').filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
    out.push({ pid, cmdline, status, uid: Number(status.Uid.split(/\s+/)[0]) });
  }
  return out;
}

describe('official npm servers behind the gateway', () => {
  let dir, client, transport, audit;

  before(async () => {
    dir = tempDir();
    fs.mkdirSync(path.join(dir, 'root'));
    fs.writeFileSync(path.join(dir, 'root', 'hello.txt'), 'hello from the filesystem server\n');
    const catalog = writeCatalog(dir, {
      everything: { command: [node, officialServer('everything')] },
      filesystem: { command: [node, officialServer('filesystem'), path.join(dir, 'root')] },
      memory: {
        command: [node, officialServer('memory')],
        // Its persistent /workspace (a folder of its own under --workspace-dir).
        env: [{ name: 'MEMORY_FILE_PATH', value: '/workspace/memory.jsonl' }],
      },
    });
    audit = path.join(dir, 'audit.jsonl');
    ({ client, transport } = await connect([
      'gateway', 'run', '--catalog', catalog, '--cache-dir', path.join(dir, 'cache'),
      '--audit-log', audit, '--page-size', '10', '--workspace-dir', path.join(dir, 'ws'),
    ]));
  });

  after(async () => {
    if (transport) await finish(null, transport, assert);
  });

  it('advertises honest capabilities', () => {
    const caps = client.getServerCapabilities();
    assert.ok(caps.tools);
    assert.ok(caps.prompts, 'everything has prompts');
    assert.ok(caps.resources?.subscribe, 'everything supports subscriptions');
    assert.equal(client.getServerVersion().name, 'mcpguard');
  });

  it('lists every tool of every server, over several pages', async () => {
    const { items, pages } = await listAll(client, 'tools/list');
    const names = items.map((t) => t.name);
    assert.ok(pages > 1, `page size 10 must give several pages, got ${pages}`);
    assert.equal(new Set(names).size, names.length, 'names are unique');
    for (const n of ['everything__echo', 'everything__trigger-long-running-operation',
      'filesystem__read_text_file', 'filesystem__list_directory', 'memory__create_entities',
      'memory__read_graph'])
      assert.ok(names.includes(n), `${n} in ${names.join(',')}`);
    for (const n of names) assert.match(n, /^[a-zA-Z0-9_-]{1,64}$/);
    // Everything else a tool carries passes through unchanged.
    const echo = items.find((t) => t.name === 'everything__echo');
    assert.equal(echo.inputSchema.type, 'object');
    assert.ok(echo.inputSchema.properties.message);
  });

  it('calls a tool of each server', async () => {
    const echo = await client.callTool({ name: 'everything__echo', arguments: { message: 'héllo ✓' } });
    assert.equal(echo.content[0].text, 'Echo: héllo ✓');

    const file = await client.callTool({
      name: 'filesystem__read_text_file',
      arguments: { path: path.join(dir, 'root', 'hello.txt') },
    });
    assert.equal(file.isError, undefined);
    assert.match(file.content[0].text, /hello from the filesystem server/);

    const denied = await client.callTool({
      name: 'filesystem__read_text_file', arguments: { path: '/etc/hostname' },
    });
    assert.equal(denied.isError, true, 'outside its root the server refuses');

    await client.callTool({
      name: 'memory__create_entities',
      arguments: { entities: [{ name: 'mcpguard', entityType: 'gateway', observations: ['sits between agents and tools'] }] },
    });
    const graph = await client.callTool({ name: 'memory__read_graph', arguments: {} });
    assert.match(graph.content[0].text, /sits between agents and tools/,
      'state kept between calls: one server instance per session');
  });

  it('runs every server in a sandbox of its own', () => {
    // Issue 4, criterion 1: the servers above answered from inside their
    // sandboxes.  Their processes, seen from the host:
    const procs = serverProcesses(transport.pid);
    for (const name of ['everything', 'filesystem', 'memory']) {
      const p = procs.find((x) => x.cmdline.includes(`server-${name}`));
      assert.ok(p, `a process of server-${name} among ${procs.map((x) => x.cmdline).join(' | ')}`);
      assert.ok(p.uid >= 0x40000000, `${name} runs as an unprivileged host uid, not ${p.uid}`);
      assert.equal(p.status.Seccomp, '2', `${name} is under seccomp`);
      assert.equal(p.status.CapEff, '0000000000000000', `${name} has no capabilities`);
      assert.equal(p.status.NoNewPrivs, '1');
      assert.equal(p.status.NSpid.split(/\s+/).length, 2, `${name} is in a PID namespace`);
      assert.notEqual(fs.readlinkSync(`/proc/${p.pid}/ns/net`), fs.readlinkSync('/proc/self/ns/net'),
        `${name} has a network namespace of its own`);
      assert.notEqual(fs.readlinkSync(`/proc/${p.pid}/ns/mnt`), fs.readlinkSync('/proc/self/ns/mnt'));
    }
    // What the memory server wrote lives in its workspace on the host,
    // owned by its sandbox's ids.
    const file = path.join(dir, 'ws', 'memory', 'memory.jsonl');
    assert.match(fs.readFileSync(file, 'utf8'), /sits between agents and tools/);
    assert.ok(fs.statSync(file).uid >= 0x40000000);
  });

  it('reads a resource and a templated resource', async () => {
    const { items } = await listAll(client, 'resources/list');
    assert.ok(items.length > 0);
    const first = await client.readResource({ uri: items[0].uri });
    assert.equal(first.contents[0].uri, items[0].uri);
    const dynamic = await client.readResource({ uri: 'demo://resource/dynamic/text/3' });
    assert.equal(dynamic.contents[0].uri, 'demo://resource/dynamic/text/3');
    await assert.rejects(client.readResource({ uri: 'nowhere://x' }), /not found/i);
  });

  it('gets a prompt, with and without arguments', async () => {
    const { items } = await listAll(client, 'prompts/list');
    assert.ok(items.some((p) => p.name === 'everything__simple-prompt'));
    const simple = await client.getPrompt({ name: 'everything__simple-prompt' });
    assert.match(simple.messages[0].content.text, /without arguments/);
    const args = await client.getPrompt({ name: 'everything__args-prompt', arguments: { city: 'Lyon' } });
    assert.match(JSON.stringify(args.messages), /Lyon/);
  });

  it('relays progress of a long-running tool', async () => {
    const seen = [];
    const res = await client.callTool(
      { name: 'everything__trigger-long-running-operation', arguments: { duration: 1, steps: 4 } },
      undefined, { onprogress: (p) => seen.push(p) });
    assert.match(res.content[0].text, /completed/);
    assert.deepEqual(seen.map((p) => p.progress), [1, 2, 3, 4]);
    assert.ok(seen.every((p) => p.total === 4));
  });

  it('cancels a call in flight and stays usable', async () => {
    const ac = new AbortController();
    const seen = [];
    const call = client.callTool(
      { name: 'everything__trigger-long-running-operation', arguments: { duration: 20, steps: 40 } },
      undefined, {
        signal: ac.signal,
        onprogress: (p) => { seen.push(p); if (seen.length === 1) ac.abort('user gave up'); },
      });
    await assert.rejects(call, /user gave up/);
    assert.equal(seen.length, 1);
    const echo = await client.callTool({ name: 'everything__echo', arguments: { message: 'still here' } });
    assert.equal(echo.content[0].text, 'Echo: still here');
    const cancelled = (r) => r.name === 'everything__trigger-long-running-operation' &&
      r.outcome === 'cancelled';
    await waitFor(() => readAudit(audit).some(cancelled));
    const rec = readAudit(audit).find(cancelled);
    assert.ok(rec, 'the audit log records the cancellation');
    assert.equal(rec.server, 'everything');
  });

  it('writes one audit line per request', async () => {
    const recs = readAudit(audit);
    const calls = recs.filter((r) => r.method === 'tools/call');
    assert.ok(calls.length >= 6);
    for (const r of calls) {
      assert.ok(r.time && r.session && r.server && typeof r.duration_ms === 'number');
      assert.equal(r.arguments, undefined, 'arguments only with --log-arguments');
    }
    assert.ok(recs.some((r) => r.method === 'tools/list' && r.outcome === 'ok'));
  });
});
