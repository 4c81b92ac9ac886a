/**
 * Bad flags, bad config files, unusable kubeconfigs and an unreachable API server, each against the real
 * CLI (src/cli/main.ts through kpx-from-source.mjs) in a child process: a one-line error and an exit
 * status for what is wrong at start, a retry with a log line for a runtime fault.
 *
 * Every run happens inside a network namespace this test creates (kpx-<random>-cli), so even a case
 * that got as far as starting the proxy could not touch the host's network; it is deleted afterwards.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commandVector } from '../../../src/net/exec.js';
import { addNamespace, deleteNamespace, ipBatch } from '../../../src/sandbox/netns.js';
import { nodeBinary, packageRoot, scriptPath } from '../../../src/sandbox/scripts.js';

const ns = `kpx-${randomBytes(4).toString('hex').slice(0, 6)}-cli`;
const isRoot = process.getuid?.() === 0;

interface Run { code: number | null; signal: string | null; stdout: string; stderr: string }

/**
 * Runs kpx with `args` inside the test namespace. With `until`, waits for a stderr line matching it,
 * then sends SIGTERM (a kpx that keeps running); otherwise waits for the exit.
 */
function runKpx(args: readonly string[], opts: { until?: RegExp; timeoutMs?: number } = {}): Promise<Run & { matched?: string }> {
  const [file, argv] = commandVector(nodeBinary(), ['--import', 'tsx', scriptPath('kpx-from-source.mjs'), ...args], ns);
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { cwd: packageRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let matched: string | undefined;
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`kpx ${args.join(' ')} did not finish\n${stderr}`)); }, opts.timeoutMs ?? 60_000);
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      if (opts.until && matched === undefined) {
        const line = stderr.split('\n').find((l) => opts.until!.test(l));
        if (line !== undefined) { matched = line; child.kill('SIGTERM'); }
      }
    });
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr, matched }); });
  });
}

describe('kpx start-up errors, in a child process', { skip: isRoot ? undefined : 'needs root for a network namespace', concurrency: 3 }, () => {
  let dir = '';
  before(async () => {
    await addNamespace(ns);
    await ipBatch(ns, ['link set lo up']);
    dir = mkdtempSync(join(tmpdir(), 'kpx-hardening-cli-'));
  });
  after(async () => {
    await deleteNamespace(ns);
    rmSync(dir, { recursive: true, force: true });
  });

  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const kubeconfigFor = (server: string) => [
    'apiVersion: v1', 'kind: Config',
    'clusters:', '- name: c', '  cluster:', `    server: ${server}`,
    'users:', '- name: u', '  user:', '    token: t',
    'contexts:', '- name: x', '  context:', '    cluster: c', '    user: u',
    'current-context: x', '',
  ].join('\n');

  /** [what, args, exit status, a pattern the one error line must match] */
  const table: [string, () => string[], number, RegExp][] = [
    ['an unknown flag', () => ['--no-such-flag'], 1, /no-such-flag/],
    ['a bad --proxy-mode', () => ['--proxy-mode', 'bogus'], 1, /--proxy-mode/],
    ['a bad duration', () => ['--iptables-sync-period', '5x'], 1, /--iptables-sync-period/],
    ['a negative duration', () => ['--iptables-min-sync-period', '-1s'], 1, /--iptables-min-sync-period/],
    ['a bad bind address', () => ['--metrics-bind-address', '999.1.1.1:10249'], 1, /--metrics-bind-address/],
    ['a port out of range', () => ['--healthz-bind-address', '0.0.0.0:70000'], 1, /--healthz-bind-address/],
    ['a bad CIDR', () => ['--cluster-cidr', '10.0.0.0/33'], 1, /--cluster-cidr/],
    ['a bad -v', () => ['-v', 'loud'], 1, /-v|verbosity/],
    ['a missing --config file', () => ['--config', join(dir, 'missing.yaml')], 1, /missing\.yaml/],
    ['a --config file that is not YAML', () => ['--config', file('broken.yaml', 'mode: [iptables\n  : :\n')], 1, /broken\.yaml/],
    ['a --config file of the wrong kind', () => ['--config', file('kind.yaml', 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: Pod\n')], 1, /kind/],
    ['a --config field of the wrong type', () => ['--config', file('type.yaml', 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: 42\n')], 1, /mode/],
    ['a --config field with a bad value', () => ['--config', file('value.yaml', 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\niptables:\n  syncPeriod: soon\n')], 1, /syncPeriod/],
    ['a missing --kubeconfig', () => ['--kubeconfig', join(dir, 'no-kubeconfig')], 1, /--kubeconfig/],
    ['a --kubeconfig that is a directory', () => { const d = join(dir, 'kc-dir'); mkdirSync(d, { recursive: true }); return ['--kubeconfig', d]; }, 1, /--kubeconfig/],
    ['a --kubeconfig that is not YAML', () => ['--kubeconfig', file('kc-garbage', '{{{ not yaml')], 1, /--kubeconfig/],
    ['a --kubeconfig without a current context', () => ['--kubeconfig', file('kc-empty', 'apiVersion: v1\nkind: Config\n')], 1, /--kubeconfig/],
    ['a --master that is not a URL', () => ['--master', 'not a url'], 1, /--master/],
  ];

  for (const [what, args, status, pattern] of table) {
    it(`${what}: one line naming it, exit status ${status}`, async () => {
      const r = await runKpx(args());
      const errLines = r.stderr.split('\n').filter((l) => l.startsWith('kpx:'));
      assert.equal(r.code, status, `exit status for ${what}\n${r.stderr}`);
      assert.equal(errLines.length, 1, `one error line for ${what}:\n${r.stderr}`);
      assert.match(errLines[0]!, pattern);
      assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
      process.stdout.write(`# ${what} → exit ${r.code}: ${errLines[0]}\n`);
    });
  }

  it('an unknown field in --config is logged as kube-proxy logs it, and kpx runs', async () => {
    const kc = file('kc-lenient', kubeconfigFor('http://127.0.0.1:45678'));
    const cfg = file('lenient.yaml', `apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nsomeFutureField: 1\nclientConnection:\n  kubeconfig: ${kc}\n`);
    const r = await runKpx(['--config', cfg, '--hostname-override', 'node-x'], { until: /list\/watch failed; keeping the known objects and retrying/, timeoutMs: 60_000 });
    assert.ok(r.matched, `kpx ran on to its API retries:\n${r.stderr}`);
    assert.match(r.stderr, /^I\d{4} .*\] "Using lenient decoding as strict decoding failed" err="strict decoding error: unknown field \\"someFutureField\\""$/m);
    assert.equal(r.code, 0, `kpx ran until SIGTERM (code ${r.code}, signal ${r.signal})\n${r.stderr}`);
  });

  it('an unreachable API server at start is not fatal: kpx retries with a log line, and stops cleanly', async () => {
    // 127.0.0.1:45678 inside the test namespace: nothing listens there.
    const kc = file('kc-unreachable', kubeconfigFor('http://127.0.0.1:45678'));
    const r = await runKpx(['--kubeconfig', kc, '--hostname-override', 'node-x', '--metrics-bind-address', '127.0.0.1:10249'],
      { until: /list\/watch failed; keeping the known objects and retrying/, timeoutMs: 60_000 });
    assert.ok(r.matched, `kpx logged the retry:\n${r.stderr}`);
    assert.match(r.matched!, /retryInMs=\d+/);
    assert.equal(r.code, 0, `kpx stopped cleanly on SIGTERM (code ${r.code}, signal ${r.signal})\n${r.stderr}`);
    process.stdout.write(`# unreachable API server → keeps running: ${r.matched}\n`);
  });
});
