// Issue 4: every catalog server runs in a sandbox.  The built-in catalog's
// npx servers (installed once on the host, run with node inside), the
// explicit opt-out, volumes and the paths they may not show, limits, and
// nothing left behind when the gateway dies.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  alive, assertLogged, connect, descendants, finish, fixtureBin, gatewayBin, killAll, node,
  officialServer, readAudit, root, serverPids, tempDir, waitFor, writeCatalog,
} from './lib.mjs';

after(killAll);

const text = (r) => r.content[0].text;
const SANDBOX_UID = 0x40000000;

function hostUid(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)[1]);
}

describe('the built-in catalog (npx servers)', () => {
  it('installs each package once, with install scripts off, and runs it with node in a sandbox', async () => {
    const dir = tempDir();
    const args = ['gateway', 'run', '--no-cache', '--workspace-dir', path.join(dir, 'ws'),
      '--audit-log', path.join(dir, 'audit.jsonl')];
    // A start with no client installs what is missing, then sees EOF.
    const first = spawnSync(gatewayBin, args, { input: '', encoding: 'utf8', timeout: 240000 });
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stderr, /server 'everything' runs sandboxed: .*node/);
    assert.match(first.stderr, /server 'memory' runs sandboxed: .*node/);
    const again = spawnSync(gatewayBin, args, { input: '', encoding: 'utf8', timeout: 60000 });
    assert.doesNotMatch(again.stderr, /installing/, 'installed once');

    const { client, transport } = await connect(args);
    assert.equal(text(await client.callTool({ name: 'everything__echo', arguments: { message: 'hi' } })), 'Echo: hi');
    await client.callTool({
      name: 'memory__create_entities',
      arguments: { entities: [{ name: 'sandbox', entityType: 'test', observations: ['kept'] }] },
    });
    assert.match(text(await client.callTool({ name: 'memory__read_graph', arguments: {} })), /kept/);
    // The gateway's own servers: its descendants, not any process that
    // runs the same packages.
    const pids = descendants(transport.pid).map((p) => p.pid).filter((p) => {
      try { return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('/npm/@modelcontextprotocol+server-'); }
      catch { return false; }
    });
    assert.equal(pids.length, 2, 'one process per server, run from the install');
    for (const p of pids) assert.ok(hostUid(p) >= SANDBOX_UID);
    await finish(null, transport, assert);
  });
});

describe('the sandbox opt-out', () => {
  it('sandbox: false does not start without --allow-unsandboxed, and says why', async () => {
    const dir = tempDir();
    const catalog = writeCatalog(dir, { host: { command: [fixtureBin], sandbox: false } });
    const { client, transport } = await connect(['gateway', 'run', '--catalog', catalog, '--no-cache']);
    await assertLogged(transport, /server 'host' will not start: .*--allow-unsandboxed/);
    const { tools } = await client.listTools();
    assert.deepEqual(tools, [], 'it never started, so it offers nothing');
    await finish(null, transport, assert);
  });

  it('with --allow-unsandboxed it runs on the host, with a warning at each start', async () => {
    const dir = tempDir();
    const catalog = writeCatalog(dir, { host: { command: [fixtureBin], sandbox: false } });
    const { client, transport } = await connect(['gateway', 'run', '--catalog', catalog,
      '--no-cache', '--allow-unsandboxed']);
    const who = text(await client.callTool({ name: 'whoami', arguments: {} }));
    const pids = serverPids(transport.pid, fixtureBin);
    assert.equal(pids.length, 1);
    assert.equal(Number(who.split('/')[0]), pids[0], 'its own pid is the host pid: no PID namespace');
    await assertLogged(transport, /WARNING: server 'host' runs WITHOUT a sandbox/);
    await assertLogged(transport, /starts WITHOUT a sandbox/);
    await finish(null, transport, assert);
  });
});

describe('what a server sees of the host', () => {
  it('refuses volumes and paths that would show keys, credentials or the system', async () => {
    const dir = tempDir();
    const home = path.join(dir, 'home');
    fs.mkdirSync(path.join(home, '.ssh'), { recursive: true });
    fs.writeFileSync(path.join(home, '.ssh', 'id_ed25519'), 'not a real key\n');
    fs.mkdirSync(path.join(home, 'project'));
    const catalog = writeCatalog(dir, {
      keys: { command: [fixtureBin], volumes: ['~/.ssh:/keys'] },
      wholehome: { command: [fixtureBin], volumes: [`${home}:/home`] },
      root: { command: [fixtureBin], volumes: ['/:/host'] },
      shadow: { command: [fixtureBin], volumes: ['/etc/shadow:/shadow:ro'] },
      arg: { command: [fixtureBin, path.join(home, '.ssh')] },
      fine: { command: [fixtureBin], volumes: [`${path.join(home, 'project')}:/project`] },
    });
    const { client, transport } = await connect(['gateway', 'run', '--catalog', catalog,
      '--no-cache'], { env: { HOME: home } });
    const refused = (name, why) => assertLogged(transport,
      new RegExp(`server '${name}' cannot run in its sandbox: .*${why}`));
    await refused('keys', 'lies in a \\.ssh folder');
    await refused('wholehome', 'is a home folder|would show .*\\.ssh');
    await refused('root', 'would show /etc/shadow');
    await refused('shadow', 'is or lies in /etc/shadow');
    await refused('arg', 'lies in a \\.ssh folder');
    const err = await client.callTool({ name: 'keys__echo', arguments: { message: 'x' } })
      .then(() => null, (e) => e);
    assert.ok(err, 'a refused server does not run');
    assert.equal(text(await client.callTool({ name: 'fine__echo', arguments: { message: 'ok' } })), 'ok');
    await finish(null, transport, assert);
  });

  it('a writable volume of a user\'s folder: the server reads and writes it as its own', async () => {
    const dir = tempDir();
    const data = path.join(dir, 'data');
    fs.mkdirSync(data);
    fs.writeFileSync(path.join(data, 'private.txt'), 'only for its owner\n');
    // A folder of another user's, closed to everybody else: the sandbox's
    // ids are not that user's, yet an idmapped bind shows it as theirs.
    for (const p of [data, path.join(data, 'private.txt')]) fs.chownSync(p, 4242, 4242);
    fs.chmodSync(data, 0o700);
    fs.chmodSync(path.join(data, 'private.txt'), 0o600);
    const catalog = writeCatalog(dir, {
      filesystem: { command: [node, officialServer('filesystem'), '/data'], volumes: [`${data}:/data:rw`] },
    });
    const { client, transport } = await connect(['gateway', 'run', '--catalog', catalog, '--no-cache']);
    const read = await client.callTool({ name: 'read_text_file', arguments: { path: '/data/private.txt' } });
    assert.match(text(read), /only for its owner/);
    await client.callTool({ name: 'write_file', arguments: { path: '/data/note.txt', content: 'from the sandbox' } });
    assert.equal(fs.readFileSync(path.join(data, 'note.txt'), 'utf8'), 'from the sandbox');
    assert.equal(fs.statSync(path.join(data, 'note.txt')).uid, 4242, 'what it writes belongs to the folder\'s owner');
    const listing = await client.callTool({ name: 'list_directory', arguments: { path: '/data' } });
    assert.match(text(listing), /note\.txt/);
    await finish(null, transport, assert);
  });
});

describe('egress (allowHosts)', () => {
  it('reaches only what allowHosts lists, through the proxy, and audits each decision', async () => {
    // The test's own listener on the host's loopback: the only target.
    let hits = 0;
    const server = http.createServer((req, res) => { hits++; res.end('hello from the host\n'); });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const port = server.address().port;
    try {
      const dir = tempDir();
      const script = path.join(root, 'tests/fixtures/egress_server.mjs');
      const catalog = writeCatalog(dir, {
        web: { command: [node, script], allowHosts: [`127.0.0.1:${port}`, `localhost:${port}`] },
        closed: { command: [node, script] },
      });
      const audit = path.join(dir, 'audit.jsonl');
      const { client, transport } = await connect(['gateway', 'run', '--catalog', catalog,
        '--no-cache', '--audit-log', audit]);
      const call = async (name, url) => text(await client.callTool({ name, arguments: { url } }));
      assert.equal(await call('web__fetch', `http://127.0.0.1:${port}/`), '200 hello from the host');
      assert.match(await call('web__fetch', `http://localhost:${port}/`), /^403 .*loopback/,
        'listed, but a name that resolves to loopback is refused');
      assert.match(await call('web__fetch', `http://127.0.0.1:${port + 1}/`), /^403 .*not in the allowlist/);
      assert.match(await call('web__direct', `http://127.0.0.1:${port}/`), /^error ECONNREFUSED/,
        'no way out but the proxy');
      assert.match(await call('closed__fetch', `http://127.0.0.1:${port}/`), /^error ECONNREFUSED/,
        'no allowHosts: no proxy, no network');
      assert.equal(hits, 1, 'the host listener saw the allowed request only');
      await assertLogged(transport, /server 'web' runs sandboxed: .*network: only through the egress proxy/);
      await assertLogged(transport, /server 'closed' runs sandboxed: .*network: none/);
      await finish(null, transport, assert);
      const egress = readAudit(audit).filter((r) => r.method === 'egress GET');
      assert.deepEqual(egress.map((r) => r.outcome), ['ok', 'refused', 'refused']);
      assert.ok(egress.every((r) => r.server === 'web'));
    } finally {
      server.close();
    }
  });
});

describe('without root', () => {
  it('a gateway run by an ordinary user sandboxes its servers with that user\'s ids', async (t) => {
    // nobody runs the gateway and its server, so both must be reachable
    // for nobody, and the checkout may not be (a clone in /root or in a
    // mktemp -d folder is 0700): copies in a folder open from / down.
    const dir = tempDir();
    fs.chmodSync(dir, 0o755);
    const bin = path.join(dir, 'mcpguard');
    const fixture = path.join(dir, 'mcp_fixture');
    for (const [from, to] of [[gatewayBin, bin], [fixtureBin, fixture]]) {
      fs.copyFileSync(from, to);
      fs.chmodSync(to, 0o755);
    }
    const ws = path.join(dir, 'ws');
    fs.mkdirSync(ws);
    fs.chownSync(ws, 65534, 65534);
    const catalog = writeCatalog(dir, {
      fixture: { command: [fixture], env: [{ name: 'WHERE', value: 'rootless' }] },
    });
    fs.chmodSync(catalog, 0o644);
    const asNobody = ['--reuid', '65534', '--regid', '65534', '--clear-groups'];
    const reach = spawnSync('/usr/bin/setpriv', [...asNobody, '/bin/sh', '-c',
      'test -x "$1" && test -x "$2" && test -r "$3"', 'sh', bin, fixture, catalog], { encoding: 'utf8' });
    if (reach.status !== 0) {
      t.skip(`nobody cannot reach ${dir} (a folder on the way from / is closed to others; ` +
        `set TMPDIR to an open one): ${reach.stderr}`);
      return;
    }
    // The sanitizer build (a copy), run as nobody by setpriv.
    const { client, transport } = await connect([...asNobody, bin, 'gateway', 'run',
      '--catalog', catalog, '--no-cache', '--workspace-dir', ws, '--audit-log', path.join(ws, 'audit.jsonl')],
    { bin: '/usr/bin/setpriv', env: { HOME: ws, XDG_CONFIG_HOME: path.join(ws, 'config') }, cwd: dir });
    const who = text(await client.callTool({ name: 'whoami', arguments: {} }));
    assert.equal(who.split('/')[0], '2', 'pid 2 of a PID namespace of its own');
    const pids = serverPids(transport.pid, fixture);
    assert.equal(pids.length, 1, `one server process: ${pids}`);
    const [pid] = pids;
    assert.equal(hostUid(pid), 65534, 'the user\'s own uid on the host, never root');
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    assert.match(status, /^CapEff:\s+0+$/m);
    assert.match(status, /^Seccomp:\s+2$/m);
    assert.notEqual(fs.readlinkSync(`/proc/${pid}/ns/net`), fs.readlinkSync('/proc/self/ns/net'));
    await assertLogged(transport, /not root: sandboxes run with your own ids and without cgroup limits/);
    await finish(null, transport, assert);
  });
});

describe('limits and lifetime', () => {
  it('a server over its memory limit is killed inside its sandbox, and the error says so', async () => {
    const dir = tempDir();
    const hog = 'const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1));';
    const catalog = writeCatalog(dir, {
      hog: { command: [node, '-e', hog], memory: '96m' },
      fixture: { command: [fixtureBin] },
    });
    const { client, transport } = await connect(['gateway', 'run', '--catalog', catalog,
      '--no-cache']);
    const err = await client.callTool({ name: 'hog__anything', arguments: {} }).then(() => null, (e) => e);
    assert.ok(err);
    await assertLogged(transport, /server 'hog'.*was killed: it reached its sandbox's memory limit/);
    assert.equal(text(await client.callTool({ name: 'fixture__echo', arguments: { message: 'alive' } })), 'alive',
      'only the sandbox was hit');
    await finish(null, transport, assert);
  });

  it('nothing of a server outlives a gateway killed with SIGKILL', async () => {
    const dir = tempDir();
    const catalog = writeCatalog(dir, { fixture: { command: [fixtureBin] } });
    const { client, transport } = await connect(['gateway', 'run', '--catalog', catalog, '--no-cache']);
    await client.callTool({ name: 'echo', arguments: { message: 'up' } });
    // Everything the gateway runs, the server among it.
    const tree = descendants(transport.pid);
    const [server] = serverPids(transport.pid, fixtureBin);
    assert.ok(tree.some((p) => p.pid === server), `the server among ${JSON.stringify(tree)}`);
    transport.proc.kill('SIGKILL');
    const gone = await waitFor(() => !tree.some(alive), 10000);
    const left = tree.filter(alive);
    for (const p of left) process.kill(p.pid, 'SIGKILL');   // a failure leaves nothing either
    assert.ok(gone, `the sandbox outlived the gateway: ${JSON.stringify(left)}`);
  });
});
