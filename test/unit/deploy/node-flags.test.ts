import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { KPX_NODE_FLAGS } from '../../../src/cli/node-flags.js';
import { kpxCommand } from '../../../src/sandbox/kpx-runner.js';

const BIN = fileURLToPath(new URL('../../../bin/kpx.js', import.meta.url));

test('kpx run as a program (npx kpx, the bin link) starts node with its flags: env -S splits the #! line', () => {
  const shebang = readFileSync(BIN, 'utf8').split('\n')[0]!;
  assert.match(shebang, /^#!\/usr\/bin\/env -S node /);
  assert.deepEqual(shebang.split(/\s+/).slice(3), KPX_NODE_FLAGS);
});

test('the sandbox, the tests and the benchmarks start kpx with the same node flags as the image', () => {
  const { args } = kpxCommand('source', ['--version']);
  assert.deepEqual(args.slice(0, KPX_NODE_FLAGS.length), KPX_NODE_FLAGS);
});
