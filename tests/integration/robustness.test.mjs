// Issue 2, criterion 3: one misbehaving server never takes the session
// down.  Killed mid-call: an error within a second, then a restart.  Garbage
// on stdout: skipped.  A 100 MB line, from either side: refused, and memory
// stays bounded by the cap.  Deadlines: a server that hangs gets cancelled.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import {
  assertLogged, connect, finish, fixtureBin, readAudit, root, serverPids, tempDir, waitFor,
  writeCatalog, killAll,
} from './lib.mjs';

after(killAll);

const text = (r) => r.content[0].text;

function peakRssMiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

describe('a misbehaving server', () => {
  let dir, client, transport, audit;

  before(async () => {
    dir = tempDir();
    const catalog = writeCatalog(dir, {
      fixture: { command: [fixtureBin], timeout: '2s' },
    });
    audit = path.join(dir, 'audit.jsonl');
    ({ client, transport } = await connect(['gateway', 'run', '--catalog', catalog,
      '--no-cache', '--audit-log', audit]));
  });

  after(async () => {
    if (transport) await finish(null, transport, assert);
  });

  it('killed mid-call: the call fails within a second, naming the server; the next call restarts it', async () => {
    const who = text(await client.callTool({ name: 'whoami', arguments: {} }));
    // The server's host pid (inside its sandbox it is pid 2).
    const pids = serverPids(transport.pid, fixtureBin);
    assert.equal(pids.length, 1, `one fixture process: ${pids}`);
    // Its first progress report says the call is in the server's hands.
    let inFlight;
    const started = new Promise((r) => { inFlight = r; });
    const slow = client.callTool({ name: 'slow', arguments: { ms: 30000 } }, undefined,
      { onprogress: () => inFlight() });
    await started;
    const t0 = Date.now();
    process.kill(pids[0], 'SIGKILL');
    const err = await slow.then(() => null, (e) => e);
    const elapsed = Date.now() - t0;
    assert.ok(err, 'the call must fail');
    assert.match(err.message, /fixture/, 'the error names the server');
    assert.match(err.message, /killed by signal 9|exited/);
    assert.ok(elapsed < 1000, `error after ${elapsed} ms`);
    const who2 = text(await client.callTool({ name: 'whoami', arguments: {} }));
    assert.notEqual(who2, who, 'a new instance answers');
    assert.equal(text(await client.callTool({ name: 'echo', arguments: { message: 'ok' } })), 'ok');
    const rec = readAudit(audit).find((r) => r.name === 'slow');
    assert.equal(rec.outcome, 'crashed');
  });

  it('a server that exits by itself (the crash tool) fails only the call in flight', async () => {
    const err = await client.callTool({ name: 'crash', arguments: {} }).then(() => null, (e) => e);
    assert.match(err?.message ?? '', /exited with status 3/);
    assert.equal(text(await client.callTool({ name: 'echo', arguments: { message: 'back' } })), 'back');
  });

  it('non-JSON lines on a server stdout are skipped', async () => {
    assert.equal(text(await client.callTool({ name: 'garbage', arguments: {} })), 'ok');
    assert.equal(text(await client.callTool({ name: 'echo', arguments: { message: 'fine' } })), 'fine');
    await assertLogged(transport, /non-JSON-RPC line to stdout \(skipped/);
  });

  it('a hanging call times out, is cancelled upstream, and the server keeps serving', async () => {
    const t0 = Date.now();
    const err = await client.callTool({ name: 'slow', arguments: { ms: 20000 } }, undefined,
      { timeout: 60000 }).then(() => null, (e) => e);
    const elapsed = Date.now() - t0;
    assert.match(err?.message ?? '', /did not answer tools\/call within 2 s/);
    assert.ok(elapsed >= 1900 && elapsed < 4000, `timed out after ${elapsed} ms`);
    const pidBefore = text(await client.callTool({ name: 'whoami', arguments: {} }));
    assert.equal(text(await client.callTool({ name: 'whoami', arguments: {} })), pidBefore,
      'same instance: a timeout is not a crash');
    assert.equal(readAudit(audit).filter((r) => r.outcome === 'timeout').length, 1);
  });

  it('a result over the size cap is refused and the server restarted', async () => {
    const err = await client.callTool({ name: 'big', arguments: { bytes: 20 * 1024 * 1024 } })
      .then(() => null, (e) => e);
    assert.match(err?.message ?? '', /larger than the 16777216 byte cap/);
    assert.equal(text(await client.callTool({ name: 'echo', arguments: { message: 'again' } })), 'again');
  });

  it('a result under the cap passes whole', async () => {
    const r = await client.callTool({ name: 'big', arguments: { bytes: 4 * 1024 * 1024 } });
    assert.equal(text(r).length, 4 * 1024 * 1024);
  });
});

describe('100 MB lines against the release binary', () => {
  // Memory is measured on the release build: sanitizer shadow memory would
  // hide what the gateway itself holds.
  const bin = path.join(root, 'build/mcpguard');
  let dir, catalog;

  before(() => {
    dir = tempDir();
    catalog = writeCatalog(dir, { fixture: { command: [fixtureBin] } });
  });

  it('from the client: refused with an error, peak memory far below 100 MB', async () => {
    const gw = spawn(bin, ['gateway', 'run', '--catalog', catalog, '--no-cache', '--log-calls=false'],
      { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    gw.stdout.on('data', (d) => { out += d; });
    const chunk = Buffer.alloc(1 << 20, 'a');
    gw.stdin.write('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"');
    for (let i = 0; i < 100; i++) {
      if (!gw.stdin.write(chunk)) await new Promise((r) => gw.stdin.once('drain', r));
    }
    gw.stdin.write('"}}\n{"jsonrpc":"2.0","id":2,"method":"ping"}\n');
    await waitFor(() => out.includes('"id":2'));
    const peak = peakRssMiB(gw.pid);
    gw.stdin.end();
    await new Promise((r) => gw.on('exit', r));
    const lines = out.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines[0].error.code, -32600);
    assert.match(lines[0].error.message, /larger than the 16777216 byte limit/);
    assert.deepEqual(lines[1], { jsonrpc: '2.0', id: 2, result: {} }, 'the session goes on');
    assert.ok(peak < 48, `peak RSS ${peak.toFixed(1)} MiB`);
  });

  it('from a server: refused, peak memory far below 100 MB', async () => {
    const { client, transport } = await connect(['gateway', 'run', '--catalog', catalog,
      '--no-cache', '--log-calls=false'], { bin });
    const err = await client.callTool({ name: 'big', arguments: { bytes: 100 * 1024 * 1024 } },
      undefined, { timeout: 60000 }).then(() => null, (e) => e);
    assert.match(err?.message ?? '', /larger than the 16777216 byte cap/);
    const peak = peakRssMiB(transport.pid);
    assert.equal(text(await client.callTool({ name: 'echo', arguments: { message: 'x' } })), 'x');
    await finish(null, transport, assert);
    assert.ok(peak < 48, `peak RSS ${peak.toFixed(1)} MiB`);
  });
});
