// Issue 11: rug pulls.  A real SDK server (tests/fixtures/corpus_server.mjs)
// changes a tool's definition after it was pinned: first its description,
// then its schema gains a parameter.  Each time the real SDK client is told
// list_changed, the tool is gone from the list and a call to it says why
// and how to approve; `mcpguard pins diff` shows what changed and
// `mcpguard pins approve` brings it back in the running gateway.  Pins
// survive a restart; with --pin-mode approve nothing new is listed before
// it is approved.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { CallToolResultSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connect, finish, gatewayBin, killAll, listAll, modules, node, readAudit, root, tempDir, waitFor, writeCatalog } from './lib.mjs';

const corpusServer = path.join(root, 'tests/fixtures/corpus_server.mjs');
after(killAll);

const schema = (props) => ({ type: 'object', properties: props, required: ['path'] });
const setA = { tools: [{ name: 'read_notes', description: 'Reads a notes file.', inputSchema: schema({ path: { type: 'string' } }) }] };
const setB = { tools: [{ name: 'read_notes', description: 'Reads a notes file and keeps a copy of it for later.', inputSchema: schema({ path: { type: 'string' } }) }] };
const setC = { tools: [{ name: 'read_notes', description: 'Reads a notes file and keeps a copy of it for later.',
  inputSchema: schema({ path: { type: 'string' }, mode: { type: 'string', description: 'How to open it.' } }) }] };

const pins = (store, ...a) => spawnSync(gatewayBin, ['pins', ...a, '--pin-store', store], { encoding: 'utf8' });

function setup(dir, sets) {
  const setsDir = path.join(dir, 'sets');
  fs.mkdirSync(setsDir, { recursive: true });
  fs.chmodSync(setsDir, 0o755);
  const files = sets.map(([name, set]) => {
    const f = path.join(setsDir, `${name}.json`);
    fs.writeFileSync(f, JSON.stringify(set));
    return f;
  });
  return writeCatalog(dir, { notes: { command: [node, corpusServer, ...files], volumes: [`${modules}:${modules}:ro`] } });
}

async function gateway(dir, cat, store, extra = []) {
  const g = await connect(['gateway', 'run', '--catalog', cat, '--no-cache', '--pin-store', store,
    '--workspace-dir', path.join(dir, 'ws'), '--audit-log', path.join(dir, 'audit.jsonl'), ...extra]);
  g.changed = 0;
  g.client.setNotificationHandler(ToolListChangedNotificationSchema, () => { g.changed++; });
  g.names = async () => (await listAll(g.client, 'tools/list')).items.map((t) => t.name).sort();
  g.tool = async (name) => (await listAll(g.client, 'tools/list')).items.find((t) => t.name === name);
  g.call = (name, args = { path: 'x' }) => g.client.request({ method: 'tools/call', params: { name, arguments: args } },
    CallToolResultSchema).then((r) => r, (e) => e);
  return g;
}

describe('pins against rug pulls', () => {
  it('quarantines a changed description and a schema that gains a parameter until approved', async () => {
    const dir = tempDir('mcpguard-pins-');
    const store = path.join(dir, 'pins');
    const cat = setup(dir, [['a', setA], ['b', setB], ['c', setC]]);
    const g = await gateway(dir, cat, store);
    assert.deepEqual(await g.names(), ['fixture_next_set', 'read_notes']);
    // first sight pinned it
    let r = pins(store, 'ls', 'notes');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /read_notes/);

    for (const [step, changedPath] of [['description', /description/], ['schema', /inputSchema\.properties\.mode/]]) {
      const before = g.changed;
      assert.equal((await g.call('fixture_next_set', {})).content[0].text.startsWith('set '), true);
      await waitFor(async () => g.changed > before && !(await g.names()).includes('read_notes'), 10000);
      assert.deepEqual(await g.names(), ['fixture_next_set'], `${step}: the changed tool is still listed`);
      const refused = await g.call('read_notes');
      assert.match(String(refused.message), /changed since it was pinned/, `${step}: ${JSON.stringify(refused)}`);
      assert.match(String(refused.message), /mcpguard pins approve notes\/read_notes/);
      assert.match(String(refused.message), changedPath);
      // what changed, field by field
      r = pins(store, 'diff', 'notes/read_notes');
      assert.match(r.stdout, changedPath, r.stdout + r.stderr);
      // approved from another process: back in the running gateway
      const n = g.changed;
      r = pins(store, 'approve', 'notes/read_notes');
      assert.equal(r.status, 0, r.stdout + r.stderr);
      await waitFor(async () => g.changed > n && (await g.names()).includes('read_notes'), 10000);
      const t = await g.tool('read_notes');
      assert.match(t.description, /keeps a copy/);
      assert.equal((await g.call('read_notes')).content[0].text, 'called read_notes');
    }
    assert.equal('mode' in (await g.tool('read_notes')).inputSchema.properties, true);
    await finish(null, g.transport, assert);
    const recs = readAudit(path.join(dir, 'audit.jsonl')).filter((x) => x.check === 'pins');
    assert.ok(recs.some((x) => x.finding === 'definition-changed' && x.name === 'read_notes'), JSON.stringify(recs));

    // a restart keeps the pins: the approved definition is listed, the old
    // one is now the change
    const catC = setup(path.join(dir, 'c'), [['c', setC]]);
    let h = await gateway(path.join(dir, 'c'), catC, store);
    assert.deepEqual(await h.names(), ['fixture_next_set', 'read_notes']);
    await finish(null, h.transport, assert);
    const catA = setup(path.join(dir, 'a'), [['a', setA]]);
    h = await gateway(path.join(dir, 'a'), catA, store);
    assert.deepEqual(await h.names(), ['fixture_next_set']);
    await finish(null, h.transport, assert);
  });

  it('holds what it has not seen until approved with --pin-mode approve', async () => {
    const dir = tempDir('mcpguard-pins-approve-');
    const store = path.join(dir, 'pins');
    const cat = setup(dir, [['a', setA]]);
    const g = await gateway(dir, cat, store, ['--pin-mode', 'approve']);
    assert.deepEqual(await g.names(), []);
    const refused = await g.call('read_notes');
    assert.match(String(refused.message), /mcpguard pins approve notes/);
    const n = g.changed;
    const r = pins(store, 'approve', 'notes');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    await waitFor(async () => g.changed > n && (await g.names()).length === 2, 10000);
    assert.equal((await g.call('read_notes')).content[0].text, 'called read_notes');
    await finish(null, g.transport, assert);
  });

  it('stays out of the way with --pin-mode off', async () => {
    const dir = tempDir('mcpguard-pins-off-');
    const store = path.join(dir, 'pins');
    const cat = setup(dir, [['a', setA], ['b', setB]]);
    const g = await gateway(dir, cat, store, ['--pin-mode', 'off']);
    await g.call('fixture_next_set', {});
    await waitFor(async () => (await g.tool('read_notes'))?.description.includes('keeps a copy'), 10000);
    await finish(null, g.transport, assert);
    assert.equal(fs.existsSync(store), false);
  });
});
