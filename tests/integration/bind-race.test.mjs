// Issue 9, "Under attack": a volume swapped after the gateway started.  The
// folder named as a volume belongs to an ordinary user (nobody), who may
// replace it, or a folder on its path, with a symlink at any time.  Binds
// are checked on what is opened at every instance start: the next start is
// refused with a message naming the server and the path, nothing of the
// target is shown, and the rest of the gateway runs on.
//
// Harmless if the sandbox fails: every path is the test's own (a fresh temp
// folder), the "secret" is a file the test made, /etc is only listed.
// Deterministic: the swap happens between two calls of per-call servers
// (each call is a new instance start).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { assertLogged, connect, finish, fixtureBin, killAll, tempDir, writeCatalog } from './lib.mjs';

after(killAll);

const NOBODY = 65534;
const text = (r) => r.content[0].text;

// Run argv as nobody (no groups): the swap is what that user can do.
function asNobody(...argv) {
  const r = spawnSync('/usr/bin/setpriv', ['--reuid', `${NOBODY}`, '--regid', `${NOBODY}`,
    '--clear-groups', ...argv], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${argv.join(' ')}: ${r.stderr}`);
}

// Replace a (nobody's) folder by a symlink to target, as nobody.
function swap(folder, target) {
  asNobody('/bin/mv', folder, `${folder}.before`);
  asNobody('/bin/ln', '-s', target, folder);
}

describe('a volume swapped for a symlink after the gateway started', () => {
  it('is refused at the next instance start, naming the server and the path', async () => {
    const base = tempDir('mcpguard-bind-race-');
    fs.chmodSync(base, 0o755);
    // What nobody must never reach: a root-owned 0700 folder with a 0600
    // file, and a decoy folder that mirrors a middle component.
    const secret = path.join(base, 'secret');
    fs.mkdirSync(secret, { mode: 0o700 });
    fs.writeFileSync(path.join(secret, 'root-only.txt'), 'for root only\n', { mode: 0o600 });
    const decoy = path.join(base, 'decoy');
    fs.mkdirSync(decoy, { mode: 0o755 });
    fs.mkdirSync(path.join(decoy, 'leaf'), { mode: 0o700 });
    fs.writeFileSync(path.join(decoy, 'leaf', 'root-only.txt'), 'for root only\n', { mode: 0o600 });
    // nobody's own folders: u holds the volumes, so nobody may rename them.
    const u = path.join(base, 'u');
    const own = (p) => { fs.mkdirSync(p, { mode: 0o755 }); fs.chownSync(p, NOBODY, NOBODY); };
    own(u);
    const vol = { ro: path.join(u, 'ro'), rw: path.join(u, 'rw'), etc: path.join(u, 'etc'),
      mid: path.join(u, 'mid', 'leaf') };
    own(vol.ro); own(vol.rw); own(vol.etc); own(path.join(u, 'mid')); own(vol.mid);
    for (const p of Object.values(vol)) {
      fs.writeFileSync(path.join(p, 'mine.txt'), 'nobody\'s\n');
      fs.chownSync(path.join(p, 'mine.txt'), NOBODY, NOBODY);
    }
    const server = (volume) => ({ command: [fixtureBin], lifecycle: 'per-call', volumes: [volume] });
    const catalog = writeCatalog(base, {
      ro: server(`${vol.ro}:/data`),
      rw: server(`${vol.rw}:/data:rw`),
      etc: server(`${vol.etc}:/data`),
      mid: server(`${vol.mid}:/data`),
      plain: { command: [fixtureBin], lifecycle: 'per-call' },
    });
    const { client, transport } = await connect(['gateway', 'run', '--catalog', catalog, '--no-cache']);
    const ls = (name) => client.callTool({ name: `${name}__ls`, arguments: { path: '/data' } });

    // First calls: each server sees its owner's folder.
    for (const name of Object.keys(vol)) assert.equal(text(await ls(name)), 'mine.txt', name);

    // nobody swaps: the folder itself (ro and rw) for a symlink to root's
    // 0700 folder, another for /etc, and a middle component of the last.
    swap(vol.ro, secret);
    swap(vol.rw, secret);
    swap(vol.etc, '/etc');
    swap(path.join(u, 'mid'), decoy);
    assert.ok(fs.readdirSync(vol.ro).includes('root-only.txt'), 'the swap took');

    const seen = {};
    for (const name of Object.keys(vol))
      seen[name] = await ls(name).then((res) => ({ res }), (err) => ({ err }));
    const started = Object.entries(seen).filter(([, r]) => r.res)
      .map(([name, r]) => `${name} listed ${JSON.stringify(text(r.res))}`);
    assert.deepEqual(started, [], 'no instance may start on a swapped volume');
    for (const [name, p] of Object.entries(vol)) {
      const r = seen[name];
      assert.match(r.err.message, new RegExp(`server '${name}'`), r.err.message);
      assert.ok(r.err.message.includes(p), `${name}: the error names ${p}: ${r.err.message}`);
      assert.match(r.err.message, /is refused/);
    }
    // The messages of gateway start for the same paths: /etc shows what it
    // would show, the others a symlink made since.
    await assertLogged(transport, new RegExp(`server 'etc' \\(call instance #\\d+\\) cannot start: .*${vol.etc} is refused: it would show /etc/\\w+`));
    await assertLogged(transport, new RegExp(`server 'ro' \\(call instance #\\d+\\) cannot start: .*${vol.ro} is refused: .*symlink`));
    await assertLogged(transport, new RegExp(`server 'mid' \\(call instance #\\d+\\) cannot start: .*${vol.mid} is refused: .*symlink`));
    assert.doesNotMatch(transport.stderr, /root-only\.txt/);

    // The rest of the gateway runs on.
    assert.equal(text(await client.callTool({ name: 'plain__echo', arguments: { message: 'alive' } })), 'alive');
    // Nothing was created in root's folder (rw case).
    assert.deepEqual(fs.readdirSync(secret), ['root-only.txt']);
    await finish(null, transport, assert);
    fs.rmSync(base, { recursive: true, force: true });
  });

  it('a folder given back to its state at start is bound again', async () => {
    const base = tempDir('mcpguard-bind-race-');
    fs.chmodSync(base, 0o755);
    const u = path.join(base, 'u');
    fs.mkdirSync(u, { mode: 0o755 });
    fs.chownSync(u, NOBODY, NOBODY);
    const vol = path.join(u, 'vol');
    fs.mkdirSync(vol, { mode: 0o755 });
    fs.chownSync(vol, NOBODY, NOBODY);
    const catalog = writeCatalog(base, {
      v: { command: [fixtureBin], lifecycle: 'per-call', volumes: [`${vol}:/data:rw`] },
    });
    const { client, transport } = await connect(['gateway', 'run', '--catalog', catalog, '--no-cache']);
    const ls = () => client.callTool({ name: 'ls', arguments: { path: '/data' } });
    assert.equal(text(await ls()), '');
    swap(vol, '/etc');
    await assert.rejects(ls(), /is refused/);
    // nobody puts a folder of its own back: same owner, no symlink.
    asNobody('/bin/rm', vol);
    asNobody('/bin/mkdir', vol);
    asNobody('/usr/bin/touch', path.join(vol, 'again.txt'));
    assert.equal(text(await ls()), 'again.txt');
    await finish(null, transport, assert);
    fs.rmSync(base, { recursive: true, force: true });
  });
});
