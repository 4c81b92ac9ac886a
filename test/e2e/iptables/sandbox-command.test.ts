/**
 * `kpx sandbox`, the README's main command, run as a user runs it: it builds the demo cluster, runs kpx
 * in iptables mode on both nodes, checks every answer, and leaves nothing behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { listNamespaces } from '../../../src/sandbox/netns.js';
import { packageRoot, scriptPath } from '../../../src/sandbox/scripts.js';
import { notReadyReason } from '../../support/sandbox-cluster.js';

function runKpx(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', scriptPath('kpx-from-source.mjs'), ...args], { cwd: packageRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('kpx sandbox shows every expected answer in iptables mode, exits 0 and removes its namespaces', { skip: notReadyReason('iptables'), timeout: 120_000 }, async () => {
  const res = await runKpx(['sandbox']);
  assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
  assert.match(res.stdout, /^SERVICE +FROM +TO +EXPECTED +GOT +SOURCE SEEN +OK/m);
  assert.match(res.stdout, /all \d+ checks passed \(iptables mode\)/);
  assert.doesNotMatch(res.stdout, /FAIL/);
  const prefix = /sandbox (kpx-[a-z0-9]+-)/.exec(res.stdout)?.[1];
  assert.ok(prefix, res.stdout);
  assert.deepEqual((await listNamespaces()).filter((n) => n.startsWith(prefix)), []);
});

const ipvsMissing = !existsSync('/proc/net/ip_vs');

test('kpx sandbox in ipvs mode on a kernel without IPVS says so in one line and exits non-zero', { skip: ipvsMissing ? undefined : 'this kernel has IPVS' }, async () => {
  const res = await runKpx(['sandbox', '--proxy-mode', 'ipvs']);
  assert.notEqual(res.code, 0);
  const lines = res.stderr.trim().split('\n');
  assert.equal(lines.length, 1, res.stderr);
  assert.match(lines[0]!, /IPVS.*npm run test:ipvs/);
});

test('kpx sandbox rejects an unknown mode with a usage error', async () => {
  const res = await runKpx(['sandbox', '--proxy-mode', 'nft']);
  assert.equal(res.code, 2);
  assert.match(res.stderr, /--proxy-mode must be one of iptables, ipvs, userspace/);
});
