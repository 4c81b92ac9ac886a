/**
 * `kpx --manifests examples/manifests --dry-run` prints the computed state of the shipped example cluster
 * and what the mode would program, and touches no kernel state: it runs inside a fresh network namespace
 * of its own whose iptables stay empty.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { exec } from '../../src/net/exec.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const EXAMPLES = join(ROOT, 'examples', 'manifests');
const NS = `kpx-${randomBytes(3).toString('hex')}-dry`;
const TSX = import.meta.resolve('tsx');
const MAIN_TS = join(ROOT, 'src', 'cli', 'main.ts');
const BIN = join(ROOT, 'bin', 'kpx.js');
const DIST_MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');

interface Run { code: number | null; stdout: string; stderr: string }

/** Runs kpx from its TypeScript sources (tsx), inside the test's namespace. */
function kpx(args: string[]): Promise<Run> {
  const script = `const { main } = await import(${JSON.stringify(MAIN_TS)}); process.exitCode = await main(process.argv.slice(1));`;
  return exec(process.execPath, ['--import', TSX, '--input-type=module', '-e', script, '--', ...args],
    { netns: NS, okCodes: [0, 1, 2], timeoutMs: 60_000 });
}

/** Runs the compiled entry point, bin/kpx.js, as installed users do. */
function kpxBin(args: string[]): Promise<Run> {
  return exec(process.execPath, [BIN, ...args], { netns: NS, okCodes: [0, 1, 2], timeoutMs: 60_000 });
}

async function kernelRules(): Promise<string> {
  const v4 = await exec('iptables-save', [], { netns: NS });
  const v6 = await exec('ip6tables-save', [], { netns: NS });
  return (v4.stdout + v6.stdout).split('\n').filter((l) => !l.startsWith('#')).join('\n');
}

before(async () => {
  await exec('ip', ['netns', 'add', NS]);
});

after(async () => {
  await exec('ip', ['netns', 'del', NS], { okCodes: [0, 1] });
});

test('the example manifest directory is shipped in the repository', () => {
  for (const f of ['web.yaml', 'node.yaml', 'nodeport.yaml', 'loadbalancer.yaml', 'local-traffic.yaml', 'dns.yaml', 'skipped.yaml']) {
    assert.ok(existsSync(join(EXAMPLES, f)), `examples/manifests/${f} is missing`);
  }
});

test('--dry-run prints every proxied service port of the example cluster and programs nothing', async () => {
  const rulesBefore = await kernelRules();
  const res = await kpx(['--manifests', EXAMPLES, '--dry-run', '--hostname-override', 'kpx-node']);
  assert.equal(res.code, 0, res.stderr);
  const out = res.stdout;
  // The node, from examples/manifests/node.yaml (a fresh namespace has no global IPv6: IPv4 only).
  assert.match(out, /kpx dry run: mode iptables, source manifests, node kpx-node, families IPv4\n/);
  assert.match(out, /^IPv4 state for node kpx-node \(zone zone-a\)$/m);
  assert.match(out, /node IPs: 10\.10\.0\.1; pod CIDRs: 10\.244\.0\.0\/24/);
  assert.match(out, /service ports: 6\n/);
  // ClusterIP with a named target port resolved from the slice; the local endpoint is flagged.
  assert.match(out, /default\/web:http {2}10\.96\.0\.10:80\/TCP\n {4}endpoints:\n {6}10\.244\.0\.11:8080 \(ready, local, node kpx-node, zone zone-a\)\n {6}10\.244\.1\.12:8080 \(ready, node kpx-node-2, zone zone-b\)/);
  // NodePort.
  assert.match(out, /default\/echo:http {2}10\.96\.0\.20:8080\/TCP[\s\S]*?node port: 30080\/TCP/);
  // LoadBalancer with source ranges and ClientIP affinity.
  assert.match(out, /default\/shop:https {2}10\.96\.0\.30:443\/TCP[\s\S]*?load-balancer IPs: 203\.0\.113\.10:443\n {4}load-balancer source ranges: 198\.51\.100\.0\/24, 10\.10\.0\.0\/16\n {4}policies: externalTrafficPolicy=Cluster, internalTrafficPolicy=Cluster, sessionAffinity=ClientIP \(10800s\)/);
  // externalTrafficPolicy Local: local endpoints and the health-check node port.
  assert.match(out, /default\/api:http {2}10\.96\.0\.40:80\/TCP[\s\S]*?local endpoints: 10\.244\.0\.41:9000\n {4}node port: 30090\/TCP\n {4}external IPs: 10\.10\.0\.100:80\n {4}policies: externalTrafficPolicy=Local, internalTrafficPolicy=Cluster, sessionAffinity=None, healthCheckNodePort=32000 \(1 ready local\)/);
  // Two ports, two protocols, one service.
  assert.match(out, /kube-system\/kube-dns:dns {2}10\.96\.0\.53:53\/UDP/);
  assert.match(out, /kube-system\/kube-dns:dns-tcp {2}10\.96\.0\.53:53\/TCP/);
  // Headless and ExternalName services get nothing.
  assert.doesNotMatch(out, /default\/db|default\/search/);
  // The mode's own account follows the state.
  assert.match(out, /\niptables mode would program \(IPv4\):\n/);
  assert.doesNotMatch(res.stderr, /^E\d{4} /m, res.stderr);
  assert.equal(await kernelRules(), rulesBefore, 'a dry run changes no iptables state');
  assert.doesNotMatch(await kernelRules(), /KUBE-/);
});

for (const mode of ['userspace', 'ipvs'] as const) {
  test(`--dry-run in ${mode} mode prints the same state and the ${mode} mode's account`, async () => {
    const res = await kpx(['--manifests', EXAMPLES, '--dry-run', '--hostname-override', 'kpx-node', '--proxy-mode', mode]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`kpx dry run: mode ${mode}, `));
    assert.match(res.stdout, /default\/web:http {2}10\.96\.0\.10:80\/TCP/);
    assert.match(res.stdout, new RegExp(`\\n${mode} mode would program \\(IPv4\\):\\n`));
    assert.doesNotMatch(await kernelRules(), /KUBE-/);
  });
}

test('--dry-run on a directory that does not exist fails with one line and status 1', async () => {
  const res = await kpx(['--manifests', join(EXAMPLES, 'no-such-dir'), '--dry-run', '--hostname-override', 'kpx-node']);
  assert.equal(res.code, 1);
  const lines = res.stderr.split('\n').filter((l) => l.startsWith('kpx: '));
  assert.equal(lines.length, 1, res.stderr);
  assert.match(lines[0], /no-such-dir/);
  assert.equal(res.stdout, '');
});

test('the compiled bin/kpx.js prints the same dry run as the sources', async (t) => {
  if (!existsSync(DIST_MAIN)) {
    t.skip('dist/ is not built (npm test builds it first: npm run build)');
    return;
  }
  const args = ['--manifests', EXAMPLES, '--dry-run', '--hostname-override', 'kpx-node'];
  const [fromSource, fromBin] = await Promise.all([kpx(args), kpxBin(args)]);
  assert.equal(fromBin.code, 0, fromBin.stderr);
  assert.equal(fromBin.stdout, fromSource.stdout);
});
