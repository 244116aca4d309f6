// Issue 3: a 2026-07-28 client in front of a 2025-era server that asks its
// client things mid-call.  The gateway answers input_required with a sealed
// requestState and, on the retry, answers the server and finishes the call.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { fixtureBin, gatewayBin, killAll, tempDir, writeCatalog } from './lib.mjs';

after(killAll);

function session() {
  const dir = tempDir();
  const catalog = writeCatalog(dir, { fixture: { command: [fixtureBin, '--legacy-only'] } });
  const proc = spawn(gatewayBin, ['gateway', 'run', '--catalog', catalog, '--no-cache'],
    { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:exitcode=23' } });
  let buf = '';
  const waiting = new Map();
  proc.stdout.on('data', (d) => {
    buf += d;
    for (let i; (i = buf.indexOf('\n')) >= 0;) {
      const msg = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      waiting.get(msg.id)?.(msg);
    }
  });
  let next = 1;
  const call = (method, params) => new Promise((resolve) => {
    const id = next++;
    waiting.set(id, resolve);
    proc.stdin.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
  });
  const end = async () => {
    proc.stdin.end();
    return new Promise((r) => proc.on('exit', (code) => r(code)));
  };
  return { call, end };
}

const meta = (caps) => ({ 'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': caps });

describe('the MRTR bridge', () => {
  it('sampling, elicitation and roots become input_required rounds', async () => {
    const { call, end } = session();
    const caps = { sampling: {}, elicitation: {}, roots: {} };
    // sampling
    let params = { name: 'test_sampling', arguments: { prompt: 'capital of France?' }, _meta: meta(caps) };
    let r = await call('tools/call', params);
    assert.equal(r.result.resultType, 'input_required');
    const [key] = Object.keys(r.result.inputRequests);
    assert.equal(r.result.inputRequests[key].method, 'sampling/createMessage');
    assert.match(JSON.stringify(r.result.inputRequests[key].params), /capital of France/);
    assert.match(r.result.requestState, /^mg1\./);
    r = await call('tools/call', { ...params, requestState: r.result.requestState,
      inputResponses: { [key]: { role: 'assistant', model: 'm', content: { type: 'text', text: 'Paris' } } } });
    assert.equal(r.result.resultType, 'complete');
    assert.match(r.result.content[0].text, /Paris/);
    // elicitation
    params = { name: 'test_elicitation', arguments: { message: 'Your name?' }, _meta: meta(caps) };
    r = await call('tools/call', params);
    const ek = Object.keys(r.result.inputRequests)[0];
    assert.equal(r.result.inputRequests[ek].method, 'elicitation/create');
    r = await call('tools/call', { ...params, requestState: r.result.requestState,
      inputResponses: { [ek]: { action: 'accept', content: { username: 'ada', email: 'a@b.c' } } } });
    assert.match(r.result.content[0].text, /accept/);
    // roots
    params = { name: 'roots', arguments: {}, _meta: meta(caps) };
    r = await call('tools/call', params);
    const rk = Object.keys(r.result.inputRequests)[0];
    assert.equal(r.result.inputRequests[rk].method, 'roots/list');
    r = await call('tools/call', { ...params, requestState: r.result.requestState,
      inputResponses: { [rk]: { roots: [{ uri: 'file:///p', name: 'p' }] } } });
    assert.match(r.result.content[0].text, /file:\/\/\/p/);
    assert.equal(await end(), 0);
  });

  it('refuses tampered, replayed and foreign states; without the capability the server hears no', async () => {
    const { call, end } = session();
    const caps = { sampling: {} };
    const params = { name: 'test_sampling', arguments: { prompt: 'x' }, _meta: meta(caps) };
    const first = await call('tools/call', params);
    const state = first.result.requestState;
    const key = Object.keys(first.result.inputRequests)[0];
    const tampered = state.slice(0, -4) + (state.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    let r = await call('tools/call', { ...params, requestState: tampered, inputResponses: {} });
    assert.equal(r.error.code, -32602);
    r = await call('tools/call', { ...params, name: 'test_elicitation', requestState: state, inputResponses: {} });
    assert.equal(r.error.code, -32602, 'bound to the tool it was issued for');
    const answer = { [key]: { role: 'assistant', model: 'm', content: { type: 'text', text: 'y' } } };
    r = await call('tools/call', { ...params, requestState: state, inputResponses: answer });
    assert.equal(r.result.resultType, 'complete');
    r = await call('tools/call', { ...params, requestState: state, inputResponses: answer });
    assert.equal(r.error.code, -32602, 'used once');
    // No sampling declared: the server's request is refused, the tool says so.
    r = await call('tools/call', { ...params, _meta: meta({}) });
    assert.equal(r.result.resultType, 'complete');
    assert.match(r.result.content[0].text, /did not declare sampling/);
    assert.equal(await end(), 0);
  });
});
