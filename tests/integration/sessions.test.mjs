// Issue 3, criterion 4: 1,000 concurrent HTTP sessions making calls through
// one gateway at once: no errors, memory bounded.  The figures themselves
// (and per-session servers) are in bench/ and docs/performance.md.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { it } from 'node:test';
import { fixtureBin, node, root } from './lib.mjs';

it('1,000 concurrent sessions, 10 calls each, through one gateway', () => {
  const out = execFileSync(node, [path.join(root, 'bench/sessions.mjs'),
    '--gateway', path.join(root, 'build/mcpguard'), '--fixture', fixtureBin,
    '--sessions', '1000', '--calls', '10', '--lifecycle', 'shared'],
  { encoding: 'utf8', timeout: 240000 });
  const r = JSON.parse(out.trim().split('\n').pop());
  assert.equal(r.errors, 0, r.first_error);
  assert.equal(r.open_sessions, 1000);
  assert.equal(r.gateway_exit, 0);
  // Bounded: well under a megabyte per session (measured about 0.1 MiB).
  assert.ok(r.gateway_rss_peak_mib < 512, `peak RSS ${r.gateway_rss_peak_mib} MiB`);
});
