// Issue 11: poisoned definitions caught at list time, end to end.  Every
// case of the attack corpus is served by a real SDK server
// (tests/fixtures/corpus_server.mjs) behind the gateway, next to the other
// servers it would shadow, and read by a real SDK client: each is hidden
// (not listed, calls refused with why), or listed with the hidden
// characters gone and a warning the model reads.  Every definition of the
// benign corpora reaches the client exactly as the server sent it, and is
// callable.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { connect, finish, killAll, modules, node, readAudit, root, tempDir, writeCatalog } from './lib.mjs';

const data = path.join(root, 'tests/unit/data');
const load = (f) => (fs.existsSync(path.join(data, f)) ? JSON.parse(fs.readFileSync(path.join(data, f), 'utf8')) : []);
const corpusServer = path.join(root, 'tests/fixtures/corpus_server.mjs');
const listKey = { tool: 'tools', prompt: 'prompts', resource: 'resources', 'resource-template': 'resourceTemplates' };
const META = 'mcpguard/scan';
const BATCH = 12;

after(killAll);

// Catalog-safe server names, stable per corpus name, short enough that
// server__tool stays within 64 characters for most tools.
const names = new Map();
function serverName(s) {
  if (!names.has(s)) {
    let n = s.toLowerCase().replace(/^@[^/]+\//, '').replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 20) || 'srv';
    while ([...names.values()].includes(n)) n = `${n.slice(0, 17)}-${names.size}`;
    names.set(s, n);
  }
  return names.get(s);
}
// What a client finds under the name the gateway gave it (a name over 64
// characters is shortened with a hash of it: found by the rest then).
function findListed(list, name, def) {
  const want = `${name}__${def.name}`;
  if (want.length <= 64) return list.find((x) => x.name === want);
  const rest = JSON.stringify({ ...def, name: undefined });
  return list.find((x) => x.name.length === 64 && x.name.startsWith(want.slice(0, 55)) &&
    JSON.stringify({ ...x, name: undefined }) === rest);
}

// {server: set} from corpus entries; sets are what corpus_server.mjs serves.
function setsOf(entries) {
  const sets = new Map();
  for (const e of entries) {
    const name = serverName(e.server || e.package);
    if (!sets.has(name)) sets.set(name, { tools: [], prompts: [], resources: [], resourceTemplates: [], entries: [] });
    const set = sets.get(name);
    if (e.kind === 'instructions') set.instructions = e.def ?? e.text;
    else set[listKey[e.kind]].push(e.def);
    set.entries.push(e);
  }
  return sets;
}

// Start a gateway over these sets; list everything as a client would.
async function runBatch(dir, tag, sets, args = []) {
  const registry = {};
  // what a sandboxed server reads must sit in a folder others may enter
  const setsDir = path.join(dir, `${tag}-sets`);
  fs.mkdirSync(setsDir);
  fs.chmodSync(setsDir, 0o755);
  for (const [name, set] of sets) {
    const f = path.join(setsDir, `${name}.json`);
    const { entries, ...served } = set;
    fs.writeFileSync(f, JSON.stringify(served));
    registry[name] = { command: [node, corpusServer, f], volumes: [`${modules}:${modules}:ro`] };
  }
  const cat = writeCatalog(path.join(dir), registry);
  const renamed = path.join(dir, `${tag}-catalog.yaml`);
  fs.renameSync(cat, renamed);
  const audit = path.join(dir, `${tag}-audit.jsonl`);
  const g = await connect(['gateway', 'run', '--catalog', renamed, '--no-cache',
    '--workspace-dir', path.join(dir, `${tag}-ws`), '--audit-log', audit, ...args]);
  // What the gateway wrote, as it wrote it: the SDK client's parse drops
  // members it does not know (inputSchema.$schema).
  let raw = '';
  g.transport.proc.stdout.on('data', (d) => { raw += d.toString(); });
  const lists = {};
  for (const [m, key] of [['tools/list', 'tools'], ['prompts/list', 'prompts'], ['resources/list', 'resources'],
    ['resources/templates/list', 'resourceTemplates']]) {
    // every page, unchecked: a real server's schema the SDK would refuse
    // (an inputSchema without type "object") must still come through
    for (let cursor, pages = 0; pages < 1000; pages++) {
      const r = await g.client.request({ method: m, params: cursor ? { cursor } : {} }, z.any());
      cursor = r.nextCursor;
      if (cursor === undefined) break;
    }
    lists[key] = [];
  }
  for (const line of raw.split('\n').filter(Boolean)) {
    const r = JSON.parse(line).result;
    for (const key of Object.keys(lists)) if (r && Array.isArray(r[key])) lists[key].push(...r[key]);
  }
  return { g, lists, audit, instructions: g.client.getInstructions() || '' };
}

function batches(sets, size) {
  const all = [...sets];
  const out = [];
  for (let i = 0; i < all.length; i += size) out.push(new Map(all.slice(i, i + size)));
  return out;
}

const exposed = (server, def, got) => ({ ...def, name: got && got.name.length === 64 ? got.name : `${server}__${def.name}` });

describe('poisoned definitions at list time', () => {
  const dir = tempDir('mcpguard-defs-');

  it('catches every attack case of the corpus, each next to the servers it names', async () => {
    const attacks = load('attack-definitions.json');
    assert.ok(attacks.length >= 60);
    // every category of the issue has cases, each tagged with its source
    const categories = ['hidden-marker', 'coercion-concealment', 'credentials-files', 'shadowing', 'preference',
      'invisible-characters', 'ansi-control', 'encoded-payload', 'long-padding', 'confusable-name', 'full-schema',
      'server-instructions'];
    for (const c of categories) assert.ok(attacks.some((x) => x.category === c), `no attack case of category ${c}`);
    assert.ok(attacks.every((x) => categories.includes(x.category) && x.source), 'a case without category or source');
    const caught = new Map(categories.map((c) => [c, 0]));
    const sets = setsOf(attacks);
    let hidden = 0;
    let flagged = 0;
    let n = 0;
    for (const batch of batches(sets, BATCH)) {
      // the servers and tools the cases name ("others": server first)
      for (const [, set] of [...batch]) {
        for (const e of set.entries) {
          const [srv, ...tools] = e.others || [];
          const name = srv && serverName(srv);
          if (!name || batch.has(name)) continue;
          batch.set(name, { tools: tools.map((t) => ({ name: t, description: 'Does its job.', inputSchema: { type: 'object' } })),
            prompts: [], resources: [], resourceTemplates: [], entries: [] });
        }
      }
      const { g, lists, audit, instructions } = await runBatch(dir, `attack${n++}`, batch);
      for (const [name, set] of batch) {
        for (const e of set.entries) {
          const what = `${name} ${e.kind} (${e.why})`;
          if (e.kind === 'instructions') {
            const shown = instructions.includes(e.def.slice(0, 40));
            assert.ok(!shown || instructions.includes('[mcpguard: these server instructions look'), `${what}: instructions reached the client as they were`);
            if (shown) flagged++; else hidden++;
            caught.set(e.category, caught.get(e.category) + 1);
            continue;
          }
          const key = listKey[e.kind];
          const id = e.kind === 'resource' ? 'uri' : e.kind === 'resource-template' ? 'uriTemplate' : 'name';
          const want = e.kind === 'tool' || e.kind === 'prompt' ? `${name}__${e.def.name}` : e.def[id];
          const got = lists[key].find((x) => x[id] === want);
          caught.set(e.category, caught.get(e.category) + 1);
          if (!got) {
            hidden++;
            // (a name outside [A-Za-z0-9_-] is called by its exposed form)
            if (e.kind === 'tool' && /^[A-Za-z0-9_-]+$/.test(e.def.name)) {
              const r = await g.client.callTool({ name: want, arguments: {} }).catch((err) => err);
              assert.match(String(r.message), /is hidden by mcpguard: its definition looks malicious/, `${what}: ${JSON.stringify(r)}`);
            }
            continue;
          }
          // listed: flagged for the model, hidden characters gone
          flagged++;
          assert.ok(got._meta && got._meta[META], `${what}: listed without a flag: ${JSON.stringify(got).slice(0, 300)}`);
          assert.match(got.description, /^\[mcpguard: this .+ looks (suspicious|malicious)/, what);
          assert.doesNotMatch(JSON.stringify(got), /[\u{E0000}-\u{E007F}\u200B-\u200D\u2060-\u2064\u202A-\u202E\u2066-\u2069\u001B]/u, `${what}: hidden characters reached the client`);
          if (e.expect === 'poisoned') assert.fail(`${what}: expected hidden, was listed flagged`);
        }
      }
      await finish(null, g.transport, assert);
      const recs = readAudit(audit).filter((r) => r.check === 'definitions');
      assert.ok(recs.length > 0, 'findings are audited');
      assert.ok(recs.every((r) => r.server && r.name && r.finding), JSON.stringify(recs[0]));
      assert.match(g.transport.stderr, /server '[^']+', (tool|prompt|resource|resource template|instructions) '[^']+' is not listed: /);
    }
    assert.equal(hidden + flagged, attacks.length);
    for (const c of categories)
      assert.equal(caught.get(c), attacks.filter((x) => x.category === c).length, `category ${c}`);
    assert.ok(hidden >= attacks.filter((x) => x.expect === 'poisoned').length, `${hidden} hidden`);
  });

  it('passes every benign definition through unchanged and callable', async () => {
    const benign = [...load('benign-definitions.json'), ...load('benign-handwritten.json'), ...load('benign-npm.json')];
    assert.ok(benign.length >= 170);
    const sets = setsOf(benign);
    let n = 0;
    let checked = 0;
    for (const batch of batches(sets, BATCH)) {
      const { g, lists, instructions } = await runBatch(dir, `benign${n++}`, batch);
      const uris = new Set();       // a URI two servers list: the first one keeps it
      for (const [name, set] of batch) {
        for (const key of ['tools', 'prompts']) {
          for (const def of set[key]) {
            const got = findListed(lists[key], name, def);
            const want = JSON.stringify(exposed(name, def, got));
            assert.equal(JSON.stringify(got), want, `${name} ${key}: not listed as the server sent it\n${g.transport.stderr.split("\n").filter((l) => /definitions: |is listed changed/.test(l)).join("\n")}`);
            checked++;
          }
        }
        for (const [key, id] of [['resources', 'uri'], ['resourceTemplates', 'uriTemplate']]) {
          for (const def of set[key]) {
            if (uris.has(def[id])) continue;
            uris.add(def[id]);
            const got = lists[key].find((x) => x[id] === def[id]);
            assert.equal(JSON.stringify(got), JSON.stringify(def), `${name} ${key} ${def[id]}`);
            checked++;
          }
        }
        if (set.instructions) assert.ok(instructions.includes(set.instructions), `${name}: instructions changed`);
        assert.doesNotMatch(instructions, /\[mcpguard:/);
        // callable (the request as callTool sends it, without checking the
        // fixture's answer against the tool's outputSchema)
        for (const def of set.tools) {
          const r = await g.client.request({ method: 'tools/call', params: { name: findListed(lists.tools, name, def).name, arguments: {} } },
            CallToolResultSchema);
          assert.equal(r.content[0].text, `called ${def.name}`);
        }
        for (const def of set.prompts) {
          const r = await g.client.getPrompt({ name: findListed(lists.prompts, name, def).name });
          assert.equal(r.messages[0].content.text, `prompt ${def.name}`);
        }
      }
      const stderr = await finish(null, g.transport, assert);
      assert.doesNotMatch(stderr, /is not listed|is listed changed/);
    }
    assert.ok(checked >= 170, `${checked} definitions compared`);
  });
});
