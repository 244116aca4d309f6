// Issue 4, criterion 2: an escape battery.  Each attempt runs inside
// `mcpguard sandbox run` and must be refused.  Every attempt stays harmless
// if the sandbox failed: bounded bombs, loopback targets of this test's
// own, no write to a host-wide setting.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { alive, descendants, gatewayBin, root, tempDir, waitFor } from './lib.mjs';

const probe = path.join(root, 'build/fixtures/sbx_probe');
const fixtures = path.join(root, 'build/fixtures');

function run(args, probeArgs, { timeout = 30000 } = {}) {
  const r = spawnSync(gatewayBin, ['sandbox', 'run', '--ro', fixtures, '--json', ...args, '--', probe, ...probeArgs],
    { encoding: 'utf8', timeout, env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1' } });
  const report = r.stderr.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  return { status: r.status, out: r.stdout.trim(), err: r.stderr, report: report ? JSON.parse(report) : null };
}

function refused(args, probeArgs) {
  const r = run(args, probeArgs);
  assert.equal(r.status, 0, `probe failed to run: ${r.err}`);
  assert.match(r.out, /^refused /, `${probeArgs.join(' ')}: ${r.out}`);
  return r.out;
}

describe('sandbox escape battery', () => {
  let listener, port, dir;

  before(async () => {
    dir = tempDir('mcpguard-sbx-');
    // A loopback listener of our own: an egress attempt that got out would
    // reach it, and nothing else.
    listener = net.createServer((s) => s.end('hello'));
    await new Promise((r) => listener.listen(0, '127.0.0.1', r));
    port = listener.address().port;
  });

  after(() => listener?.close());

  it('the sandbox runs a program and passes its exit status through', () => {
    let r = spawnSync(gatewayBin, ['sandbox', 'run', '--', 'sh', '-c', 'id -u; exit 7'], { encoding: 'utf8' });
    assert.equal(r.status, 7);
    assert.equal(r.stdout.trim(), '1000');
    r = spawnSync(gatewayBin, ['sandbox', 'run', '--', 'no-such-program'], { encoding: 'utf8' });
    assert.equal(r.status, 125);
    assert.match(r.stderr, /cannot run 'no-such-program'/);
  });

  it('no egress by IP or by name, only its own loopback', () => {
    assert.match(refused([], ['connect-loopback', String(port)]), /ECONNREFUSED/,
      'its 127.0.0.1 is not the host\'s');
    assert.match(refused([], ['connect-ip', '10.0.0.1']), /ENETUNREACH/);
    assert.match(refused([], ['connect-ip', '1.1.1.1']), /ENETUNREACH/);
    refused([], ['resolve']);
  });

  it('raw, packet and vsock sockets, high bits included', () => {
    for (const p of ['raw', 'packet', 'vsock', 'vsock-high-bits']) refused([], [p]);
  });

  it('no nested user namespace, mount, ptrace, keyctl, io_uring, bpf, TIOCSTI', () => {
    for (const p of ['userns', 'mount', 'ptrace', 'keyctl', 'io_uring', 'bpf', 'tiocsti', 'tiocsti-high-bits'])
      assert.match(refused([], [p]), /EPERM|ENOSYS|EACCES|ENOTTY/, p);
  });

  it('a root-only host file stays unreadable, even bound in', () => {
    fs.chmodSync(dir, 0o755);                // the directory is visible ...
    const secret = path.join(dir, 'secret');
    fs.writeFileSync(secret, 'top secret\n', { mode: 0o600 });  // ... the file is root's
    assert.match(refused(['--ro', `${secret}:/data/secret`], ['read', '/data/secret']), /EACCES/);
  });

  it('writes outside /workspace and into /proc/sys fail; /workspace and /tmp work', () => {
    for (const f of ['/etc/x', '/usr/x', '/x', '/proc/sys/kernel/hostname', '/proc/sysrq-trigger'])
      refused([], ['write', f]);
    const ws = tempDir('mcpguard-ws-');
    fs.chmodSync(ws, 0o777);
    assert.equal(run(['--workdir', ws], ['write', '/workspace/out']).out, 'allowed');
    assert.equal(fs.readFileSync(path.join(ws, 'out'), 'utf8'), 'x');
    assert.equal(run([], ['write', '/tmp/out']).out, 'allowed');
  });

  it('a fork bomb stops at the pids limit', () => {
    const r = run(['--pids', '64'], ['fork-bomb']);
    const n = Number(/forked (\d+)/.exec(r.out)?.[1]);
    assert.ok(n > 0 && n < 64, `forked ${n}`);
    assert.equal(r.report.pids_limit_hit, true);
  });

  it('a memory bomb is OOM-killed inside the sandbox only', () => {
    const before = fs.readFileSync('/proc/self/status', 'utf8');
    const r = run(['--memory', '64m'], ['memory-bomb']);
    assert.equal(r.status, 137, r.err);
    assert.equal(r.report.oom_killed, true);
    assert.ok(r.report.memory_peak_bytes <= 64 * 1024 * 1024);
    assert.ok(before.length > 0, 'this test process is alive');
  });

  it('nothing is left when mcpguard is killed with SIGKILL', async () => {
    const p = spawn(gatewayBin, ['sandbox', 'run', '--ro', fixtures, '--', probe, 'sleep'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    // The probe says so once it runs: its sandbox is up, and every process
    // of it is below mcpguard now.
    assert.ok(await waitFor(() => out.includes('sleeping\n'), 20000), `the probe did not start: ${err}`);
    const tree = descendants(p.pid);
    const hostPidNs = fs.readlinkSync('/proc/self/ns/pid');
    const inside = tree.filter((x) => {
      try { return fs.readlinkSync(`/proc/${x.pid}/ns/pid`) !== hostPidNs; } catch { return false; }
    });
    assert.ok(inside.length >= 1, `a process in the sandbox's PID namespace among ${JSON.stringify(tree)}`);
    p.kill('SIGKILL');
    const gone = await waitFor(() => !tree.some(alive), 10000);
    const left = tree.filter(alive);
    for (const x of left) process.kill(x.pid, 'SIGKILL');   // a failure leaves nothing either
    p.stdout.destroy();
    p.stderr.destroy();
    assert.ok(gone, `the sandbox outlived mcpguard: ${JSON.stringify(left)}`);
  });

  it('a timeout kills the whole sandbox', () => {
    const t0 = Date.now();
    const r = run(['--timeout', '500ms'], ['sleep']);
    assert.equal(r.out, 'sleeping', 'the payload ran until the timeout');
    assert.equal(r.status, 124);
    assert.equal(r.report.timed_out, true);
    assert.ok(Date.now() - t0 < 5000);
  });
});

// Egress through mcpguard's proxy, with curl inside the sandbox.  Every
// request targets this test's own loopback listeners (a refused one never
// leaves the proxy), and each decision must show in mcpguard's log.
describe('sandbox egress through the filtering proxy', () => {
  const curlBin = '/usr/bin/curl';
  const skip = !fs.existsSync(curlBin) && 'curl is not installed (scripts/install-deps.sh test)';
  let server, port, other, otherPort;
  let otherHits = 0;
  const hits = [];

  before(async () => {
    server = http.createServer((req, res) => {
      hits.push({ url: req.url, headers: req.headers });
      res.end('hello from the host\n');
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    port = server.address().port;
    // Not in any allowlist: nothing may ever reach it.
    other = net.createServer((s) => { otherHits++; s.destroy(); });
    await new Promise((r) => other.listen(0, '127.0.0.1', r));
    otherPort = other.address().port;
  });

  after(() => { server?.close(); other?.close(); });

  // curl prints the body, then the status code on a line of its own.  Run
  // asynchronously: the servers above live in this process.
  async function curl(args, curlArgs) {
    const p = spawn(gatewayBin, ['sandbox', 'run', '--json', ...args, '--', curlBin, '-sS',
      '--max-time', '10', '-w', '\n%{http_code}\n', ...curlArgs],
    { env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1' } });
    const r = { stdout: '', stderr: '' };
    p.stdout.on('data', (d) => { r.stdout += d; });
    p.stderr.on('data', (d) => { r.stderr += d; });
    r.status = await new Promise((resolve) => p.on('close', resolve));
    assert.doesNotMatch(r.stderr, /Sanitizer/, r.stderr);
    const report = r.stderr.trim().split('\n').filter((l) => l.startsWith('{')).pop();
    const lines = r.stdout.trimEnd().split('\n');
    return { status: r.status, code: lines.pop(), body: lines.join('\n').trimEnd(), err: r.stderr,
      report: report ? JSON.parse(report) : null };
  }

  it('reaches an allowed address with a plain request and through a CONNECT tunnel', { skip }, async () => {
    const allow = ['--allow-host', `127.0.0.1:${port}`];
    let r = await curl(allow, [`http://127.0.0.1:${port}/plain`]);
    assert.equal(r.status, 0, r.err);
    assert.equal(r.code, '200');
    assert.equal(r.body, 'hello from the host');
    const plain = hits.find((h) => h.url === '/plain');
    assert.ok(plain, 'the request arrived in origin form');
    assert.equal(plain.headers.connection, 'close');
    assert.equal(plain.headers['proxy-connection'], undefined);
    assert.match(r.err, new RegExp(`egress \\[curl\\]: allowed GET 127\\.0\\.0\\.1:${port} ` +
      `via 127\\.0\\.0\\.1:${port}`));
    assert.deepEqual(r.report.egress, { allowed: 1, denied: 0, failed: 0 });

    r = await curl(allow, ['--proxytunnel', `http://127.0.0.1:${port}/tunnel`]);
    assert.equal(r.status, 0, r.err);
    assert.equal(r.body, 'hello from the host');
    assert.ok(hits.some((h) => h.url === '/tunnel'));
    assert.match(r.err, new RegExp(`allowed CONNECT 127\\.0\\.0\\.1:${port} via`));
  });

  it('refuses a name that resolves to loopback, even when listed', { skip }, async () => {
    const before = hits.length;
    let r = await curl(['--allow-host', `localhost:${port}`], [`http://localhost:${port}/`]);
    assert.equal(r.code, '403');
    assert.match(r.body, /localhost resolves to 127\.0\.0\.1, loopback/);
    assert.match(r.err, new RegExp(`warning: egress \\[curl\\]: refused GET localhost:${port}: ` +
      'localhost resolves to 127\\.0\\.0\\.1, loopback \\(403\\)'));
    assert.deepEqual(r.report.egress, { allowed: 0, denied: 1, failed: 0 });
    r = await curl(['--allow-host', `localhost:${port}`], ['--proxytunnel', `http://localhost:${port}/`]);
    assert.equal(r.status, 56, 'curl: the CONNECT was refused');
    assert.match(r.err, /refused CONNECT localhost/);
    assert.equal(hits.length, before);
  });

  it('refuses a port that is not listed', { skip }, async () => {
    const r = await curl(['--allow-host', `127.0.0.1:${port}`], [`http://127.0.0.1:${otherPort}/`]);
    assert.equal(r.code, '403');
    assert.match(r.body, new RegExp(`127\\.0\\.0\\.1:${otherPort} is not in the allowlist`));
    assert.match(r.err, new RegExp(`refused GET 127\\.0\\.0\\.1:${otherPort}`));
    assert.equal(otherHits, 0);
  });

  it('cannot reach the host without the proxy: its loopback is its own', { skip }, async () => {
    const before = hits.length;
    let r = await curl(['--allow-host', `127.0.0.1:${port}`], ['--noproxy', '*', `http://127.0.0.1:${port}/`]);
    assert.equal(r.status, 7, `curl could not connect: ${r.err}`);
    assert.doesNotMatch(r.err, /egress \[/);
    r = await curl([], [`http://127.0.0.1:${port}/`]);
    assert.equal(r.status, 7, 'no proxy at all without --allow-host');
    assert.equal(r.report.egress, undefined);
    assert.equal(hits.length, before);
  });

  it('--allow-host conflicts with --network none, and is checked', () => {
    let r = spawnSync(gatewayBin, ['sandbox', 'run', '--network', 'none', '--allow-host',
      `127.0.0.1:${port}`, '--', 'true'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--network none and --allow-host conflict/);
    r = spawnSync(gatewayBin, ['sandbox', 'run', '--allow-host', '*:443', '--', 'true'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /'\*' alone would allow every host/);
  });
});
