// Issue 11 (first part): `mcpguard scan FILE.json` scans a saved list
// answer with the definition scanner: the attack corpus is flagged, the
// benign corpus and a real server's answer through the gateway are clean,
// and bad input is a clear error with exit status 2.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { connect, finish, gatewayBin, listAll, node, officialServer, root, tempDir, writeCatalog } from './lib.mjs';

const data = path.join(root, 'tests/unit/data');
const load = (f) => JSON.parse(fs.readFileSync(path.join(data, f), 'utf8'));
const scan = (...a) => spawnSync(gatewayBin, ['scan', ...a], { encoding: 'utf8' });

describe('mcpguard scan', () => {
  const dir = tempDir('mcpguard-scan-');

  it('flags the attack corpus and names what it found', () => {
    const attacks = load('attack-definitions.json').filter((x) => x.kind === 'tool');
    const f = path.join(dir, 'attacks.json');
    fs.writeFileSync(f, JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: attacks.map((x) => x.def) } }));
    const r = scan(f);
    assert.equal(r.status, 1, r.stderr);
    const m = /(\d+) definitions: (\d+) clean, (\d+) suspicious, (\d+) poisoned/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.equal(Number(m[1]), attacks.length);
    // Shadowing needs the other servers' names, which a single saved answer lacks.
    const standalone = attacks.filter((x) => !/shadow/i.test(x.why));
    assert.ok(Number(m[3]) + Number(m[4]) >= standalone.length, r.stdout.slice(-2000));
    assert.match(r.stdout, /^tool add: poisoned \(score \d+\)$/m);
    assert.match(r.stdout, /description: hidden-marker \(weight \d+\) at \d+\+\d+ "<important>"/);
    // --json: one object per definition that is not clean
    const j = scan(f, '--json');
    assert.equal(j.status, 1);
    const rows = j.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(rows.length, Number(m[3]) + Number(m[4]));
    assert.ok(rows.every((x) => x.findings.length > 0 && ['suspicious', 'poisoned'].includes(x.verdict)));
  });

  it('finds the benign corpus and a real server\'s answer clean', async () => {
    const benign = load('benign-definitions.json');
    const f = path.join(dir, 'benign.json');
    fs.writeFileSync(f, JSON.stringify({
      tools: benign.filter((x) => x.kind === 'tool').map((x) => x.def),
      prompts: benign.filter((x) => x.kind === 'prompt').map((x) => x.def),
      resources: benign.filter((x) => x.kind === 'resource').map((x) => x.def),
    }));
    let r = scan(f);
    assert.equal(r.status, 0, r.stdout);
    assert.match(r.stdout, / 0 suspicious, 0 poisoned/);
    // what server-everything lists through the gateway, saved as a client would
    const cat = writeCatalog(dir, { everything: { command: [node, officialServer('everything')] } });
    const { client, transport } = await connect(['gateway', 'run', '--catalog', cat, '--no-cache',
      '--workspace-dir', path.join(dir, 'ws'), '--audit-log', path.join(dir, 'audit.jsonl')]);
    const tools = (await listAll(client, 'tools/list')).items;
    await finish(null, transport, assert);
    assert.ok(tools.length > 5);
    fs.writeFileSync(path.join(dir, 'everything.json'), JSON.stringify({ tools }));
    r = scan(path.join(dir, 'everything.json'));
    assert.equal(r.status, 0, r.stdout);
    assert.match(r.stdout, new RegExp(`^${tools.length} definitions: ${tools.length} clean`, 'm'));
  });

  it('says what is wrong with a file it cannot scan (exit 2)', () => {
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, '{"tools": [');
    let r = scan(bad);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /bad\.json:1:\d+: /);
    fs.writeFileSync(bad, '{"something": 1}');
    r = scan(bad);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /holds no tools, prompts, resources, templates or instructions/);
    r = scan(path.join(dir, 'missing.json'));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /cannot read .*missing\.json: No such file or directory/);
    r = spawnSync(gatewayBin, ['scan', '-'], { input: JSON.stringify([{ name: 't', description: 'Adds two numbers.' }]), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
});
