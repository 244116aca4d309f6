// Shared helpers for the integration tests: start the real mcpguard binary
// with a catalog and connect the official SDK client to it over stdio.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '../..');
export const modules = path.join(root, 'tests/node_modules');
// The sanitizer build by default: every integration test is also a leak and
// UB check of the gateway.
export const gatewayBin = process.env.MCPGUARD_BIN || path.join(root, 'build/test/mcpguard');
export const fixtureBin = path.join(root, 'build/fixtures/mcp_fixture');
export const node = process.execPath;

// Nothing a test runs writes to this machine's own configuration: every
// process started from a test file gets a configuration folder of its own
// (pins, the secret store's default), and each gateway a pin store of its
// own unless the test names one (a server name reused by two tests with
// other definitions would otherwise be a rug pull).
process.env.XDG_CONFIG_HOME = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpguard-config-'));
export function withPinStore(args) {
  if (args[0] !== 'gateway' || args[1] !== 'run' || args.some((a) => a.startsWith('--pin-'))) return args;
  return [...args, '--pin-store', fs.mkdtempSync(path.join(os.tmpdir(), 'mcpguard-pins-'))];
}

export const officialServer = (name) =>
  path.join(modules, '@modelcontextprotocol', `server-${name}`, 'dist/index.js');

export function tempDir(prefix = 'mcpguard-it-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// What /proc/PID/stat says of a process: its state, parent and start time
// (in clock ticks since boot), or null once it is gone.  The command name
// may hold spaces and parentheses: the fields are read after the last ')'.
function procStat(pid) {
  let text;
  try { text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return null; }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: f[0], ppid: Number(f[1]), start: f[19] };
}

// Every process below pid (its children, theirs, and so on) as {pid, start}:
// a test's own process tree, never a name that other processes may share.
// The start time tells the process from a later one that got its pid.
export function descendants(pid) {
  const children = new Map();
  for (const d of fs.readdirSync('/proc')) {
    const st = /^\d+$/.test(d) && procStat(d);
    if (!st) continue;
    if (!children.has(st.ppid)) children.set(st.ppid, []);
    children.get(st.ppid).push({ pid: Number(d), start: st.start });
  }
  const out = [];
  for (const todo = [...(children.get(pid) ?? [])]; todo.length;) {
    const p = todo.shift();
    out.push(p);
    todo.push(...(children.get(p.pid) ?? []));
  }
  return out;
}

// That very process (same pid, same start time) still runs (a zombie has
// ended: only its parent has not reaped it yet).
export function alive({ pid, start }) {
  const st = procStat(pid);
  return st !== null && st.start === start && st.state !== 'Z' && st.state !== 'X';
}

// Host pids of the processes below the gateway gatewayPid that run
// program (a sandboxed server's own pid inside is not the host's).
export function serverPids(gatewayPid, program) {
  return descendants(gatewayPid).map((p) => p.pid).filter((pid) => {
    try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === program; }
    catch { return false; /* gone */ }
  });
}

// Write a catalog in Docker's format from {name: entry} and return its path.
export function writeCatalog(dir, registry) {
  const lines = ['registry:'];
  for (const [name, e] of Object.entries(registry)) {
    lines.push(`  ${name}:`);
    for (const [k, v] of Object.entries(e)) lines.push(`    ${k}: ${JSON.stringify(v)}`);
  }
  const file = path.join(dir, 'catalog.yaml');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

// Every gateway started by a test; a failed test may leave one running, and
// a live child would keep the test file from ending.
const live = new Set();
export function killAll() {
  for (const p of live) p.kill('SIGKILL');
  live.clear();
}

// An MCP client transport over a gateway process we spawn ourselves, so that
// tests see its exit status (a sanitizer report makes it non-zero) and stderr.
export class GatewayTransport {
  constructor(args, { env = {}, cwd, bin = gatewayBin } = {}) {
    this.args = withPinStore(args);
    this.bin = bin;
    this.env = env;
    this.cwd = cwd;
    this.stderr = '';
    this._buf = new ReadBuffer();
    this.exited = new Promise((resolve) => { this._resolveExit = resolve; });
  }

  async start() {
    const env = {
      ...process.env,
      ASAN_OPTIONS: 'detect_leaks=1:exitcode=23',
      UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
      ...this.env,
    };
    this.proc = spawn(this.bin, this.args, { env, cwd: this.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    this.pid = this.proc.pid;
    live.add(this.proc);
    this.proc.on('exit', () => live.delete(this.proc));
    this.proc.stderr.on('data', (d) => {
      this.stderr += d.toString();
      if (process.env.MCPGUARD_TEST_VERBOSE) process.stderr.write(d);
    });
    this.proc.stdout.on('data', (chunk) => {
      this._buf.append(chunk);
      for (;;) {
        let msg;
        try { msg = this._buf.readMessage(); } catch (e) { this.onerror?.(e); continue; }
        if (msg === null) break;
        this.onmessage?.(msg);
      }
    });
    // 'close' comes once stdout and stderr are read to their end, so what
    // a test reads of stderr after exited is all of it.
    this.proc.on('close', (code, signal) => this._resolveExit({ code, signal }));
    this.proc.on('close', () => this.onclose?.());
    this.proc.stdin.on('error', () => {});
    await new Promise((resolve, reject) => {
      this.proc.once('spawn', resolve);
      this.proc.once('error', reject);
    });
  }

  // Raw line to the gateway's stdin (for malformed-input tests).
  writeRaw(text) {
    this.proc.stdin.write(text);
  }

  async send(message) {
    if (!this.proc.stdin.write(serializeMessage(message)))
      await new Promise((r) => this.proc.stdin.once('drain', r));
  }

  // Close stdin and wait for a clean exit (bounded).
  async close() {
    this.proc.stdin.end();
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 20000);
    const res = await this.exited;
    clearTimeout(timer);
    return res;
  }
}

// Start a gateway over HTTP (its args include --port 0 or a port), under
// the given command prefix (e.g. prlimit); resolves once its log says
// where it listens: { proc, stderr, port, base, exited }.
export function spawnHttpGateway(args, { bin = gatewayBin, prefix = [], env = {} } = {}) {
  args = withPinStore(args);
  const [cmd, argv] = prefix.length ? [prefix[0], [...prefix.slice(1), bin, ...args]] : [bin, args];
  const proc = spawn(cmd, argv, {
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:exitcode=23',
      UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  live.add(proc);
  const gw = { proc, stderr: '' };
  gw.exited = new Promise((resolve) => proc.on('close', (code, signal) => {
    live.delete(proc);
    resolve({ code, signal });
  }));
  return new Promise((resolve, reject) => {
    proc.stderr.on('data', (d) => {
      gw.stderr += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(gw.stderr);
      if (m && !gw.port) {
        gw.port = Number(m[1]);
        gw.base = `http://127.0.0.1:${gw.port}`;
        resolve(gw);
      }
    });
    gw.exited.then(({ code, signal }) => reject(new Error(`gateway exited ${code ?? signal}:\n${gw.stderr}`)));
  });
}

// SIGTERM, then assert a clean exit with no sanitizer report.
export async function stopHttpGateway(gw) {
  gw.proc.kill('SIGTERM');
  const { code, signal } = await gw.exited;
  assert.equal(signal, null, `gateway killed by ${signal}\n${gw.stderr.slice(-4000)}`);
  assert.equal(code, 0, `gateway exited ${code}\n${gw.stderr.slice(-4000)}`);
  assert.doesNotMatch(gw.stderr, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/);
}

// Start a gateway on the given catalog and connect a client to it.
export async function connect(args, { capabilities = {}, env, bin, cwd } = {}) {
  const transport = new GatewayTransport(args, { env, bin, cwd });
  const client = new Client({ name: 'mcpguard-it', version: '1.0.0' }, { capabilities });
  await client.connect(transport);
  return { client, transport };
}

// Close the client, wait for the gateway to exit and assert it exited 0
// (so no sanitizer or leak report): returns its stderr.
export async function finish(t, transport, assert) {
  const { code, signal } = await transport.close();
  assert.equal(signal, null, `gateway killed by ${signal}\n${transport.stderr}`);
  assert.equal(code, 0, `gateway exited ${code}\n${transport.stderr}`);
  assert.doesNotMatch(transport.stderr, /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/);
  return transport.stderr;
}

// The gateway's stdout and stderr are two pipes: a line it logged before
// an answer may still be on its way when the answer has been read.  Wait
// (bounded) for the line, then check it.
export async function assertLogged(transport, re, message) {
  await waitFor(() => re.test(transport.stderr));
  assert.match(transport.stderr, re, message);
}

export async function listAll(client, method) {
  const key = { 'tools/list': 'tools', 'prompts/list': 'prompts', 'resources/list': 'resources',
    'resources/templates/list': 'resourceTemplates' }[method];
  const fn = { 'tools/list': 'listTools', 'prompts/list': 'listPrompts',
    'resources/list': 'listResources', 'resources/templates/list': 'listResourceTemplates' }[method];
  const out = [];
  let cursor;
  let pages = 0;
  do {
    const r = await client[fn](cursor ? { cursor } : {});
    out.push(...r[key]);
    cursor = r.nextCursor;
    pages++;
  } while (cursor !== undefined && pages < 1000);
  return { items: out, pages };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll a condition until it holds (true) or ms pass (false): for what has
// no event to wait on.  Never a fixed sleep followed by a guess.
export async function waitFor(pred, ms = 5000) {
  for (const end = Date.now() + ms; ;) {
    if (await pred()) return true;
    if (Date.now() >= end) return false;
    await sleep(20);
  }
}

export function readAudit(file) {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
