// Issue 10: secrets reach only their owner.  A hostile server of our own
// (tests/fixtures/hostile_server.mjs, on the official SDK) holds another
// server's secret and tries every content type and encoding to get it to
// the client; the real SDK client, through mcpguard, must see it nowhere.
// Calls that carry another server's secret never reach the server; the
// owner still gets its secret; benign results pass untouched; nothing of a
// value reaches the audit log, stderr or the list cache.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateMessageRequestSchema, ElicitRequestSchema, LoggingMessageNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import {
  connect, finish, gatewayBin, listAll, modules, node, officialServer, readAudit, root, tempDir,
  waitFor, writeCatalog,
} from './lib.mjs';

import { shapes } from '../fixtures/hostile_shapes.mjs';

const hostile = path.join(root, 'tests/fixtures/hostile_server.mjs');

// Values made per run: nothing here is a real credential.
const ownerSecret = `own3r-${crypto.randomBytes(12).toString('hex')}/Value+`;
const hostileSecret = `h0stile-${crypto.randomBytes(10).toString('hex')}`;
const places = ['text', 'structured', 'structured_key', 'resource', 'blob', 'link', 'tool_error',
  'thrown', 'log', 'progress', 'sampling', 'elicitation'];
const encodings = ['plain', 'base64', 'base64url', 'hex', 'url', 'json'];

// Every string in v, at any depth, keys too.
function strings(v, out = []) {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => strings(x, out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) { out.push(k); strings(x, out); }
  return out;
}

// Does any form of value survive in these strings?  Plain, JSON-escaped,
// percent-encoded, hex, and any base64/base64url run that decodes to it.
function leaks(v, value) {
  const forms = [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value),
    Buffer.from(value).toString('hex')];
  for (const s of strings(v)) {
    const low = s.toLowerCase();
    if (forms.some((f) => s.includes(f) || low.includes(f.toLowerCase()))) return s;
    for (const run of s.match(/[A-Za-z0-9+/_-]{12,}={0,2}/g) || []) {
      for (const enc of ['base64', 'base64url']) {
        if (Buffer.from(run, enc).toString('latin1').includes(value)) return s;
      }
    }
  }
  return null;
}

describe('secrets reach only their owner', () => {
  let dir, store, ws, cache, audit, catalog;

  before(() => {
    dir = tempDir('mcpguard-secrets-');
    store = path.join(dir, 'store');
    ws = path.join(dir, 'ws');
    cache = path.join(dir, 'cache');
    audit = path.join(dir, 'audit.jsonl');
    for (const [name, value] of [['OWNER_SECRET', ownerSecret], ['HOSTILE_TOKEN', hostileSecret]]) {
      const r = spawnSync(gatewayBin, ['secret', 'set', name, '--store', store], { input: value, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
    const common = { command: [node, hostile], volumes: [`${modules}:${modules}:ro`] };
    catalog = writeCatalog(dir, {
      owner: { ...common, secrets: [{ name: 'OWNER_SECRET', env: 'OWN_SECRET' }] },
      hostile: { ...common, secrets: [{ name: 'HOSTILE_TOKEN', env: 'OWN_SECRET' }],
        env: [{ name: 'STOLEN', value: ownerSecret }, { name: 'RECORD_FILE', value: '/workspace/args.jsonl' }] },
    });
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const args = (extra = []) => ['gateway', 'run', '--catalog', catalog, '--secret-store', store,
    '--workspace-dir', ws, '--cache-dir', cache, '--audit-log', audit, '--log-arguments', ...extra];

  async function gateway(extra) {
    const g = await connect(args(extra), { capabilities: { sampling: {}, elicitation: {} } });
    g.raw = '';
    g.transport.proc.stdout.on('data', (d) => { g.raw += d.toString(); });
    g.logs = [];
    g.requests = [];
    g.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => g.logs.push(n.params));
    g.client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      g.requests.push(req.params);
      return { role: 'assistant', content: { type: 'text', text: 'fine' }, model: 'test' };
    });
    g.client.setRequestHandler(ElicitRequestSchema, async (req) => {
      g.requests.push(req.params);
      return { action: 'accept', content: { ok: true } };
    });
    return g;
  }

  // What the client saw of one leak attempt: the result or error, and what
  // came beside it (logs, progress, server requests).
  async function attempt(g, where, encoding) {
    const progress = [];
    g.logs.length = 0;
    g.requests.length = 0;
    let result;
    try {
      result = await g.client.callTool({ name: 'hostile__leak', arguments: { where, encoding } }, undefined,
        { onprogress: (p) => progress.push(p) });
    } catch (e) {
      result = { error: { message: e.message, code: e.code, data: e.data } };
    }
    return { result, progress, logs: [...g.logs], requests: [...g.requests] };
  }

  it('another server\'s secret is redacted in every content type and every encoding', async () => {
    const g = await gateway();
    for (const where of places) {
      for (const encoding of encodings) {
        const seen = await attempt(g, where, encoding);
        const hit = leaks(seen, ownerSecret);
        assert.equal(hit, null, `${where}/${encoding} leaked: ${hit}`);
        const text = JSON.stringify(seen);
        const blob = strings(seen).filter((s) => /^[A-Za-z0-9+/]+={0,2}$/.test(s) && s.length > 20)
          .map((s) => Buffer.from(s, 'base64').toString('latin1')).join(' ');
        assert.match(text + blob, /\[REDACTED:OWNER_SECRET\]/, `${where}/${encoding}: ${text}`);
      }
    }
    // resources/read, prompts/get and a JSON-RPC error (message and data) too
    const failed = await g.client.readResource({ uri: 'hostile://fail/x' }).then(() => null, (e) => e);
    assert.ok(failed, 'the read fails');
    assert.equal(leaks({ message: failed.message, data: failed.data }, ownerSecret), null);
    assert.match(failed.message, /\[REDACTED:OWNER_SECRET\]/);
    const r = await g.client.readResource({ uri: 'hostile://secret' });
    assert.equal(leaks(r, ownerSecret), null);
    assert.match(JSON.stringify(r), /\[REDACTED:OWNER_SECRET\]/);
    const p = await g.client.getPrompt({ name: 'hostile__secret_prompt' });
    assert.equal(leaks(p, ownerSecret), null);
    assert.match(JSON.stringify(p), /\[REDACTED:OWNER_SECRET\]/);
    // and what crossed the wire, byte for byte
    assert.equal(leaks([g.raw], ownerSecret), null);
    await finish(null, g.transport, assert);
  });

  it('every credential shape is redacted, the text around it kept', async () => {
    const g = await gateway();
    const r = await g.client.callTool({ name: 'hostile__patterns', arguments: {} });
    const text = r.content[0].text;
    for (const [kind, value] of Object.entries(shapes)) {
      assert.match(text, new RegExp(`^${kind}: .*\\[REDACTED:${kind}\\]`, 'm'), `${kind} in\n${text}`);
      const core = value.match(/[A-Za-z0-9+/_-]{16,}/g).sort((a, b) => b.length - a.length)[0];
      assert.ok(!JSON.stringify(r).includes(core), `${kind} survived: ${core}`);
    }
    await finish(null, g.transport, assert);
  });

  it('a call carrying another server\'s secret is refused and never reaches the server', async () => {
    const g = await gateway();
    const record = path.join(ws, 'hostile', 'args.jsonl');
    const ok = await g.client.callTool({ name: 'hostile__record', arguments: { data: 'harmless' } });
    assert.equal(ok.isError, undefined, JSON.stringify(ok));
    for (const form of [ownerSecret, Buffer.from(`x${ownerSecret}`).toString('base64'),
      `https://x.example/?q=${encodeURIComponent(ownerSecret)}`]) {
      const r = await g.client.callTool({ name: 'hostile__record', arguments: { data: form } });
      assert.equal(r.isError, true, JSON.stringify(r));
      assert.match(r.content[0].text, /refused.*'OWNER_SECRET'.*server 'hostile' does not own/);
    }
    const got = fs.readFileSync(record, 'utf8');
    assert.match(got, /harmless/);
    assert.equal(leaks([got], ownerSecret), null, `the server received: ${got}`);
    // the owner receives its own secret in its environment
    const own = await g.client.callTool({ name: 'owner__own_secret', arguments: {} });
    const want = crypto.createHash('sha256').update(ownerSecret).digest('hex');
    assert.equal(own.content[0].text, `sha256:${want} length:${ownerSecret.length}`);
    const hown = await g.client.callTool({ name: 'hostile__own_secret', arguments: {} });
    assert.match(hown.content[0].text, new RegExp(crypto.createHash('sha256').update(hostileSecret).digest('hex')));
    await finish(null, g.transport, assert);
  });

  it('block mode stops the message and says why; log mode only records', async () => {
    let g = await gateway(['--block-secrets=block']);
    let seen = await attempt(g, 'text', 'plain');
    assert.equal(seen.result.isError, true);
    assert.match(seen.result.content[0].text, /blocked this result of server 'hostile': it carried the secret 'OWNER_SECRET'/);
    const failed = await g.client.readResource({ uri: 'hostile://fail/x' }).then(() => null, (e) => e);
    assert.match(failed.message, /blocked this result of server 'hostile'/);
    seen = await attempt(g, 'log', 'plain');
    assert.equal(seen.logs.length, 0, 'the log message was not delivered');
    seen = await attempt(g, 'sampling', 'hex');
    assert.equal(seen.requests.length, 0, 'the sampling request was not delivered');
    assert.equal(leaks([g.raw], ownerSecret), null);
    await finish(null, g.transport, assert);

    g = await gateway(['--block-secrets=log']);
    seen = await attempt(g, 'text', 'plain');
    assert.ok(seen.result.content[0].text.includes(ownerSecret), 'log mode passes it on');
    await finish(null, g.transport, assert);
    const logged = readAudit(audit).filter((r) => r.outcome === 'logged' && r.finding === 'OWNER_SECRET');
    assert.ok(logged.length >= 1);
  });

  it('no secret value in the audit log, the stderr log or the list cache', async () => {
    const g = await gateway(['--verbose']);
    await attempt(g, 'text', 'plain');
    await g.client.callTool({ name: 'hostile__record', arguments: { data: ownerSecret } });
    const stderr = await finish(null, g.transport, assert);
    const records = readAudit(audit);
    assert.ok(records.some((r) => r.outcome === 'redacted' && r.finding === 'OWNER_SECRET'), 'redactions audited');
    assert.ok(records.some((r) => r.outcome === 'refused' && r.finding === 'OWNER_SECRET'), 'refusals audited');
    for (const [what, text] of [['audit log', fs.readFileSync(audit, 'utf8')], ['stderr', stderr],
      ...fs.readdirSync(path.join(cache, 'lists')).map((f) => [`cache ${f}`, fs.readFileSync(path.join(cache, 'lists', f), 'utf8')])]) {
      for (const value of [ownerSecret, hostileSecret])
        assert.equal(leaks([text], value), null, `${what} holds a secret`);
    }
    // the store holds no plaintext either
    for (const f of fs.readdirSync(store))
      assert.equal(leaks([fs.readFileSync(path.join(store, f), 'latin1')], ownerSecret), null, f);
  });

  it('the store keeps values across runs, holds no plaintext; a wrong key or passphrase is a clear error', () => {
    const run = (a, opts = {}) => spawnSync(gatewayBin, ['secret', ...a], { encoding: 'utf8', ...opts });
    const d = path.join(dir, 'store2');
    assert.equal(run(['set', 'K1', '--store', d], { input: 'first-value-123' }).status, 0);
    assert.equal(run(['set', 'K2', '--store', d], { input: 'second-value-456\n' }).status, 0);
    let r = run(['ls', '--store', d, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => JSON.parse(l).name), ['K1', 'K2']);
    assert.doesNotMatch(r.stdout, /first-value|second-value/);
    for (const f of fs.readdirSync(d))
      assert.doesNotMatch(fs.readFileSync(path.join(d, f), 'latin1'), /first-value|second-value/);
    assert.equal(fs.statSync(path.join(d, 'secrets.key')).mode & 0o777, 0o600);
    assert.equal(run(['rm', 'K1', '--store', d]).status, 0);
    assert.equal(run(['rm', 'K1', '--store', d]).status, 1);
    // a value given as an argument is refused (argv is public)
    r = run(['set', 'K3', 'the-value', '--store', d]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /never from arguments/);
    // the wrong key
    fs.writeFileSync(path.join(d, 'secrets.key'), crypto.randomBytes(32));
    r = run(['ls', '--store', d]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot open the secret store .*wrong key/);
    // a passphrase instead of a key file
    const p = path.join(dir, 'store3');
    const env = (pass) => ({ ...process.env, MCPGUARD_SECRETS_PASSPHRASE: pass });
    assert.equal(run(['set', 'P1', '--store', p], { input: 'pass-protected-789', env: env('right horse') }).status, 0);
    assert.equal(fs.existsSync(path.join(p, 'secrets.key')), false);
    assert.equal(run(['ls', '--store', p], { env: env('right horse') }).status, 0);
    r = run(['ls', '--store', p], { env: env('wrong horse') });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /wrong passphrase/);
    r = run(['ls', '--store', p], { env: { ...process.env, MCPGUARD_SECRETS_PASSPHRASE: '' } });
    assert.match(r.stderr, /protected by a passphrase: set MCPGUARD_SECRETS_PASSPHRASE/);
  });

  it('mcpguard audit verify finds an edited, removed or moved record', () => {
    const verify = (f, ...a) => spawnSync(gatewayBin, ['audit', 'verify', f, ...a], { encoding: 'utf8' });
    let r = verify(audit);
    assert.equal(r.status, 0, r.stderr);
    const head = r.stdout.match(/^head ([0-9a-f]{64})$/m)[1];
    const lines = fs.readFileSync(audit, 'utf8').split('\n').filter(Boolean);
    assert.ok(lines.length > 10);
    const f = path.join(dir, 'tampered.jsonl');
    const check = (ls, want, ...a) => {
      fs.writeFileSync(f, ls.join('\n') + '\n');
      const res = verify(f, ...a);
      assert.equal(res.status, want === null ? 0 : 1, res.stdout + res.stderr);
      if (want !== null) assert.match(res.stderr, want);
    };
    check(lines, null, '--head', head);
    check(lines.map((l, i) => (i === 4 ? l.replace('"session"', '"Session"') : l)), /broken at line 6:/);
    check(lines.filter((_, i) => i !== 3), /broken at line 4:/);
    check([lines[0], lines[2], lines[1], ...lines.slice(3)], /broken at line 2:/);
    check(lines.slice(0, -2), null);
    check(lines.slice(0, -2), /records were removed from its end/, '--head', head);
  });

  it('mcpguard logs filters the audit log and follows it', async () => {
    const logs = (...a) => spawnSync(gatewayBin, ['logs', '--file', audit, ...a], { encoding: 'utf8' });
    let r = logs('--json', '--decision', 'redacted,refused', '--server', 'hostile');
    assert.equal(r.status, 0, r.stderr);
    const recs = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(recs.length > 5);
    assert.ok(recs.every((x) => ['redacted', 'refused'].includes(x.outcome) && x.server === 'hostile'));
    r = logs('--tool', 'hostile__rec*', '--decision', 'refused');
    assert.match(r.stdout, /refused\s+hostile\s+tools\/call\s+hostile__record\s+\[secrets: OWNER_SECRET/);
    assert.doesNotMatch(r.stdout, /hostile__leak/);
    r = logs('--since', '1h', '--session', 'no-such-session');
    assert.equal(r.stdout, '');
    // --follow prints what is appended, as it is appended
    const f = path.join(dir, 'follow.jsonl');
    fs.writeFileSync(f, '{"seq":1,"outcome":"ok","method":"first"}\n');
    const p = spawn(gatewayBin, ['logs', '--file', f, '--follow', '--json']);
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const seen = (re) => waitFor(() => re.test(out), 20000).then((ok) => {
      assert.ok(ok, `logs --follow printed ${JSON.stringify(out)}; stderr ${err}`);
    });
    await seen(/"first"/);
    fs.appendFileSync(f, '{"seq":2,"outcome":"blocked","method":"second"}\n');
    await seen(/"second"/);
    p.kill('SIGTERM');
  });

  it('benign results of the official servers come through byte-identical', async () => {
    const base = tempDir('mcpguard-benign-');
    const data = path.join(base, 'data');
    fs.mkdirSync(path.join(data, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(data, 'notes.md'), '# Notes\n\npassword: see the vault\napi_key=${API_KEY}\n');
    fs.writeFileSync(path.join(data, 'sub', 'config.json'), JSON.stringify({ token: '<your token>', retries: 3 }));
    const cat = writeCatalog(base, {
      everything: { command: [node, officialServer('everything')] },
      filesystem: { command: [node, officialServer('filesystem'), data] },
      memory: { command: [node, officialServer('memory')],
        env: [{ name: 'MEMORY_FILE_PATH', value: '/workspace/memory.json' }] },
    });
    const calls = [['everything__echo', { message: 'hello password: not-a-secret' }],
      ['everything__get-sum', { a: 1, b: 2 }], ['everything__get-tiny-image', {}],
      ['everything__get-annotated-message', { messageType: 'success', includeImage: true }],
      ['everything__get-structured-content', { location: 'Chicago' }],
      ['everything__get-resource-links', { count: 5 }], ['everything__get-env', {}],
      ['filesystem__list_allowed_directories', {}], ['filesystem__list_directory', { path: data }],
      ['filesystem__directory_tree', { path: data }],
      ['filesystem__read_text_file', { path: path.join(data, 'notes.md') }],
      ['filesystem__read_multiple_files', { paths: [path.join(data, 'notes.md'), path.join(data, 'sub', 'config.json')] }],
      ['filesystem__search_files', { path: data, pattern: '*.json' }],
      ['memory__create_entities', { entities: [{ name: 'vault', entityType: 'service',
        observations: ['the password is kept in the vault', 'token rotation every 90 days'] }] }],
      ['memory__read_graph', {}], ['memory__search_nodes', { query: 'vault' }]];
    // (resources made on the fly carry the time they were made: left out)
    const outputs = [];
    for (const mode of ['false', 'redact']) {
      const g = await connect(['gateway', 'run', '--catalog', cat, '--no-cache',
        '--workspace-dir', path.join(base, `ws-${mode}`), '--audit-log', audit, `--block-secrets=${mode}`]);
      let raw = '';
      g.transport.proc.stdout.on('data', (d) => { raw += d.toString(); });
      for (const [name, a] of calls) {
        const r = await g.client.callTool({ name, arguments: a });
        assert.notEqual(r.isError, true, `${name}: ${JSON.stringify(r)}`);
      }
      for (const uri of ['demo://resource/static/document/architecture.md', 'demo://resource/static/document/features.md'])
        await g.client.readResource({ uri });
      await listAll(g.client, 'tools/list');
      await finish(null, g.transport, assert);
      outputs.push(raw);
    }
    assert.ok(outputs[0].length > 1000);
    const [a, b] = outputs.map((o) => o.split('\n'));
    for (let i = 0; i < Math.max(a.length, b.length); i++)
      assert.equal(b[i], a[i], `line ${i} differs with the secrets check on`);
    assert.doesNotMatch(outputs[1], /REDACTED/);
  });
});
