/**
 * The proxy run end to end, in a network namespace of the test's own (lo up, nothing else): kpx programs
 * the shipped example cluster, serves /healthz, /metrics and the health-check node port, leaves its rules
 * in place on SIGTERM, removes another mode's leftovers when it starts in a new mode, and reports
 * run-time problems (a port in use, a bad kubeconfig) in one line with exit status 1.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { commandVector, exec } from '../../src/net/exec.js';
import { pollUntil } from '../support/poll-until.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const EXAMPLES = join(ROOT, 'examples', 'manifests');
const NS = `kpx-${randomBytes(3).toString('hex')}-run`;
const TSX = import.meta.resolve('tsx');
const MAIN_TS = join(ROOT, 'src', 'cli', 'main.ts');
const SCRIPT = `const { main } = await import(${JSON.stringify(MAIN_TS)}); process.exitCode = await main(process.argv.slice(1));`;
const BASE = ['--manifests', EXAMPLES, '--hostname-override', 'kpx-node',
  '--healthz-bind-address', '127.0.0.1:10256', '--metrics-bind-address', '127.0.0.1:10249'];

interface Running {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

const children: ChildProcess[] = [];

/** Starts kpx (from its sources) inside the namespace; ip netns exec execs node, so the pid is kpx's. */
function start(args: string[]): Running {
  const [file, argv] = commandVector(process.execPath, ['--import', TSX, '--input-type=module', '-e', SCRIPT, '--', ...args], NS);
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function runToEnd(args: string[]): Promise<{ code: number | null; output: string }> {
  const r = start(args);
  const code = await r.exited;
  return { code, output: r.output() };
}

async function nat(): Promise<string> {
  return (await exec('iptables-save', ['-t', 'nat'], { netns: NS })).stdout;
}

async function curl(url: string): Promise<{ status: number; body: string }> {
  const res = await exec('curl', ['-s', '-o', '-', '-w', '\n%{http_code}', '--max-time', '5', url], { netns: NS, okCodes: [0, 7, 22, 28] });
  const lines = res.stdout.split('\n');
  return { status: Number(lines.pop()), body: lines.join('\n') };
}

async function stop(r: Running): Promise<number | null> {
  r.child.kill('SIGTERM');
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 15_000).unref());
  const code = await Promise.race([r.exited, timeout]);
  assert.notEqual(code, 'timeout', `kpx did not exit within 15 s of SIGTERM:\n${r.output()}`);
  return code as number | null;
}

before(async () => {
  await exec('ip', ['netns', 'add', NS]);
  await exec('ip', ['link', 'set', 'lo', 'up'], { netns: NS });
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null && c.pid) c.kill('SIGKILL');
  await exec('ip', ['netns', 'del', NS], { okCodes: [0, 1] });
});

test('kpx programs the example cluster, serves health and metrics, and keeps its rules after SIGTERM', async () => {
  const kpx = start(BASE);
  await pollUntil(async () => (await nat()).includes('"default/web:http cluster IP"'), {
    timeoutMs: 30_000, intervalMs: 200, message: () => kpx.output(),
  });
  const healthz = await curl('http://127.0.0.1:10256/healthz');
  assert.equal(healthz.status, 200, healthz.body);
  assert.equal(JSON.parse(healthz.body).nodeEligible, true);
  const metrics = await curl('http://127.0.0.1:10249/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /^kubeproxy_sync_proxy_rules_duration_seconds_count\{ip_family="IPv4"\} [1-9]/m);
  assert.match(metrics.body, /^kubeproxy_sync_full_proxy_rules_duration_seconds_count\{ip_family="IPv4"\} [1-9]/m);
  assert.match(metrics.body, /^kubeproxy_sync_proxy_rules_last_timestamp_seconds\{ip_family="IPv4"\} [1-9]/m);
  assert.match(metrics.body, /^kubeproxy_sync_proxy_rules_service_changes_total 7$/m);
  // The process metrics every Kubernetes component exports, as kube-proxy does.
  assert.match(metrics.body, /^process_resident_memory_bytes [1-9]\d{6,}$/m);
  assert.match(metrics.body, /^process_cpu_seconds_total \d/m);
  assert.match(metrics.body, /^process_open_fds [1-9]/m);
  // default/api has externalTrafficPolicy Local, healthCheckNodePort 32000 and one ready local endpoint.
  const hc = await curl('http://127.0.0.1:32000/');
  assert.equal(hc.status, 200, hc.body);
  assert.deepEqual(JSON.parse(hc.body), { service: { namespace: 'default', name: 'api' }, localEndpoints: 1, serviceProxyHealthy: true });

  // A second kpx on the same node cannot bind the metrics port: one line, status 1, nothing else happens.
  const second = await runToEnd(BASE);
  assert.equal(second.code, 1, second.output);
  const lines = second.output.split('\n').filter((l) => l.startsWith('kpx: '));
  assert.equal(lines.length, 1, second.output);
  assert.match(lines[0], /--metrics-bind-address 127\.0\.0\.1:10249.*EADDRINUSE/);

  assert.equal(await stop(kpx), 0);
  assert.match(await nat(), /"default\/web:http cluster IP"/, 'rules stay in place after SIGTERM');
  const closed = await curl('http://127.0.0.1:10256/healthz');
  assert.equal(closed.status, 0, 'the healthz server is closed');
});

test('starting in userspace mode removes the iptables mode\'s rules, and back', async () => {
  // After the previous test the iptables mode's chains are present; the userspace mode must remove them.
  const before = await nat();
  if (!before.includes('KUBE-SVC-')) {
    const seed = start(BASE);
    await pollUntil(async () => (await nat()).includes('KUBE-SVC-'), { timeoutMs: 30_000, intervalMs: 200, message: () => seed.output() });
    assert.equal(await stop(seed), 0);
  }
  const us = start([...BASE, '--proxy-mode', 'userspace']);
  await pollUntil(async () => {
    const t = await nat();
    return t.includes('KUBE-PORTALS-CONTAINER') && !t.includes('KUBE-SVC-');
  }, { timeoutMs: 30_000, intervalMs: 200, message: () => `${us.output()}\n${'-'.repeat(20)}\n` });
  assert.equal(await stop(us), 0);

  const ipt = start(BASE);
  await pollUntil(async () => {
    const t = await nat();
    return t.includes('KUBE-SVC-') && !t.includes('KUBE-PORTALS-CONTAINER');
  }, { timeoutMs: 30_000, intervalMs: 200, message: () => ipt.output() });
  assert.equal(await stop(ipt), 0);
});

test('--cleanup removes the service rules and is idempotent', async () => {
  assert.match(await nat(), /KUBE-SVC-/);
  const first = await runToEnd(['--cleanup']);
  assert.equal(first.code, 0, first.output);
  const after = await nat();
  assert.doesNotMatch(after, /KUBE-(SVC|SEP|SERVICES|NODEPORTS|PORTALS)/);
  const again = await runToEnd(['--cleanup']);
  assert.equal(again.code, 0, again.output);
});

test('a kubeconfig that does not exist is one line and status 1, and opens no port', async () => {
  const res = await runToEnd(['--kubeconfig', '/nonexistent/kubeconfig', '--hostname-override', 'kpx-node',
    '--healthz-bind-address', '127.0.0.1:10256', '--metrics-bind-address', '127.0.0.1:10249']);
  assert.equal(res.code, 1, res.output);
  const lines = res.output.split('\n').filter((l) => l.trim() !== '');
  assert.deepEqual(lines, ['kpx: --kubeconfig /nonexistent/kubeconfig: no such file']);
});

test('a health-check node port already taken gives a FailedToStartServiceHealthcheck event and the proxy keeps running', async () => {
  // Someone else holds 32000, the example Local-policy service's health-check node port.
  const squatter = spawn(...commandVector(process.execPath, ['-e', "require('net').createServer().listen(32000, () => console.log('up'))"], NS), { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(squatter);
  await new Promise<void>((resolve) => squatter.stdout!.once('data', () => resolve()));
  const kpx = start(BASE);
  try {
    await pollUntil(() => /FailedToStartServiceHealthcheck/.test(kpx.output()), { timeoutMs: 30_000, message: () => kpx.output() });
    assert.match(kpx.output(), /failed to start healthcheck \\?"default\/api\\?" on port 32000.*reason="FailedToStartServiceHealthcheck"/);
    await pollUntil(async () => /KUBE-SERVICES/.test(await nat()), { timeoutMs: 30_000, intervalMs: 200, message: () => kpx.output() });
    assert.equal(kpx.child.exitCode, null, 'kpx must not exit over a health-check port');
  } finally {
    await stop(kpx);
    squatter.kill('SIGKILL');
  }
});

test('kpx applies kube-proxy’s conntrack settings in its network namespace at start', async () => {
  const kpx = start([...BASE, '--conntrack-tcp-timeout-close-wait', '30m']);
  try {
    const read = async (key: string) => (await exec('sysctl', ['-n', key], { netns: NS })).stdout.trim();
    // Earlier tests leave rules in this namespace: wait for the setting itself, not for rules to appear.
    await pollUntil(async () => (await read('net.netfilter.nf_conntrack_tcp_timeout_close_wait')) === '1800', { timeoutMs: 30_000, intervalMs: 200, message: () => kpx.output() });
    assert.equal(await read('net.netfilter.nf_conntrack_tcp_timeout_established'), '86400');
  } finally {
    await stop(kpx);
  }
});
