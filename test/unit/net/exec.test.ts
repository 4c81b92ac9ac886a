import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exec, commandVector } from '../../../src/net/exec.js';
import { CommandError } from '../../../src/util/errors.js';

test('a command runs with an argument vector and its stdin, never through a shell', async () => {
  const res = await exec('cat', [], { input: 'a; rm -rf / $(x)' });
  assert.equal(res.stdout, 'a; rm -rf / $(x)');
});

test('a non-zero exit rejects with a CommandError carrying the code and stderr', async () => {
  await assert.rejects(exec('sh', ['-c', 'echo boom >&2; exit 3']), (e: unknown) =>
    e instanceof CommandError && e.exitCode === 3 && e.stderr.includes('boom'));
});

test('exit codes listed as ok resolve', async () => {
  const res = await exec('sh', ['-c', 'exit 1'], { okCodes: [0, 1] });
  assert.equal(res.code, 1);
});

test('a netns prefix runs the command through ip netns exec', () => {
  assert.deepEqual(commandVector('iptables-save', ['-t', 'nat'], 'kpx-x'), ['ip', ['netns', 'exec', 'kpx-x', 'iptables-save', '-t', 'nat']]);
});
