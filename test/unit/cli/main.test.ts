import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, packageVersion } from '../../../src/cli/main.js';
import type { MainIO } from '../../../src/cli/main.js';
import { FIELDS, COMPAT_FLAGS } from '../../../src/config/fields.js';
import { resetLogging, setLogSink } from '../../../src/util/log.js';
import { loadConfig } from '../../../src/config/load.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  logs: string[];
}

const HEADER = 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n';
const FILES: Record<string, string> = {
  '/garbage.yaml': 'mode: [unclosed\n',
  '/unknown.yaml': HEADER + 'iptables:\n  syncPeriod: 30s\n  resyncPeriod: 30s\n',
  '/kind.yaml': 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeletConfiguration\n',
  '/version.yaml': 'apiVersion: kubeproxy.config.k8s.io/v1beta1\nkind: KubeProxyConfiguration\n',
  '/badfield.yaml': HEADER + 'ipvs:\n  syncPeriod: soon\n',
};

/** run: main() in-process with captured output; --config reads the in-memory FILES or the real disk. */
async function run(argv: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const logs: string[] = [];
  const io: MainIO = {
    stdout: (t) => { stdout += t; },
    stderr: (t) => { stderr += t; },
    readFile: (p) => (p in FILES ? FILES[p] : readFileSync(p, 'utf8')),
  };
  const prev = setLogSink({ write: (l) => logs.push(l) });
  try {
    const code = await main(argv, io);
    return { code, stdout, stderr, logs };
  } finally {
    setLogSink(prev);
    resetLogging();
  }
}

const BAD_INPUTS: [string[], RegExp][] = [
  [['--proxy-mode=foo'], /^kpx: invalid value "foo" for --proxy-mode: must be one of iptables, ipvs, userspace, nftables$/],
  [['--proxy-mode', 'kernelspace'], /^kpx: invalid value "kernelspace" for --proxy-mode: mode "kernelspace" is not supported by kpx/],
  [['--iptables-sync-period', 'abc'], /^kpx: invalid value "abc" for --iptables-sync-period: not a duration/],
  [['--iptables-sync-period=0'], /^kpx: invalid value "0" for --iptables-sync-period: must be greater than 0$/],
  [['--iptables-min-sync-period=-1s'], /^kpx: invalid value "-1s" for --iptables-min-sync-period: must be greater than or equal to 0$/],
  [['--iptables-min-sync-period=1m'], /^kpx: invalid value "1m0s" for --iptables-min-sync-period: must not be greater than the sync period 30s/],
  [['--ipvs-sync-period=30'], /^kpx: invalid value "30" for --ipvs-sync-period: not a duration \(missing unit/],
  [['--ipvs-min-sync-period=5x'], /^kpx: invalid value "5x" for --ipvs-min-sync-period: not a duration \(unknown unit "x"/],
  [['--ipvs-scheduler=fifo'], /^kpx: invalid value "fifo" for --ipvs-scheduler: must be one of rr, wrr, lc, wlc, lblc, lblcr, sh, dh, sed, nq, mh/],
  [['--ipvs-exclude-cidrs=10.0.0.0'], /^kpx: invalid value "10.0.0.0" for --ipvs-exclude-cidrs: "10.0.0.0" is not a valid CIDR/],
  [['--cluster-cidr=10.0.0.0/33'], /^kpx: invalid value "10.0.0.0\/33" for --cluster-cidr: "10.0.0.0\/33" is not a valid CIDR/],
  [['--cluster-cidr=10.0.0.0/8,10.1.0.0/16'], /^kpx: invalid value "10.0.0.0\/8,10.1.0.0\/16" for --cluster-cidr: two CIDRs must be one IPv4 and one IPv6/],
  [['--cluster-cidr=10.0.0.0/8,fd00::/48,fd01::/48'], /for --cluster-cidr: at most two CIDRs, one per IP family/],
  [['--nodeport-addresses=10.0.0.0/8,eth0'], /^kpx: invalid value "10.0.0.0\/8,eth0" for --nodeport-addresses: "eth0" is neither a CIDR nor "primary"$/],
  [['--bind-address=1.2.3'], /^kpx: invalid value "1.2.3" for --bind-address: not a valid IP address$/],
  [['--healthz-bind-address=0.0.0.0:99999'], /^kpx: invalid value "0.0.0.0:99999" for --healthz-bind-address: "99999" is not a valid port$/],
  [['--healthz-bind-address=::1:10256'], /^kpx: invalid value "::1:10256" for --healthz-bind-address: must be IP:port \(IPv6 as \[IP\]:port\)$/],
  [['--metrics-bind-address', 'localhost:10249'], /^kpx: invalid value "localhost:10249" for --metrics-bind-address: "localhost" is not a valid IP address$/],
  [['--proxy-port-range=70000-80000'], /^kpx: invalid value "70000-80000" for --proxy-port-range: must be a port range/],
  [['--proxy-port-range=abc'], /^kpx: invalid value "abc" for --proxy-port-range: must be a port range/],
  [['--udp-timeout=0'], /^kpx: invalid value "0" for --udp-timeout: must be greater than 0$/],
  [['--masquerade-all=maybe'], /^kpx: invalid value "maybe" for --masquerade-all: not a boolean \(true or false\)$/],
  [['--iptables-masquerade-bit=32'], /^kpx: invalid value "32" for --iptables-masquerade-bit: must be within the range \[0, 31\]$/],
  [['--iptables-masquerade-bit', 'x'], /^kpx: invalid value "x" for --iptables-masquerade-bit: not an integer$/],
  [['--conntrack-min=-1'], /^kpx: invalid value "-1" for --conntrack-min: must be within the range \[0, 2147483647\]$/],
  [['-v', 'high'], /^kpx: invalid value "high" for -v: not an integer$/],
  [['--v=-2'], /^kpx: invalid value "-2" for --v: must be within the range/],
  [['--detect-local-mode=Foo'], /^kpx: invalid value "Foo" for --detect-local-mode: mode must be one of ClusterCIDR, NodeCIDR, BridgeInterface, InterfaceNamePrefix$/],
  [['--detect-local-mode=BridgeInterface'], /^kpx: invalid value "BridgeInterface" for --detect-local-mode: needs a bridge interface name/],
  [['--bogus'], /^kpx: unknown flag: --bogus$/],
  [['--bogus=1'], /^kpx: unknown flag: --bogus$/],
  [['-x'], /^kpx: unknown shorthand flag: "x" in -x$/],
  [['--kubeconfig'], /^kpx: flag needs an argument: --kubeconfig$/],
  [['--kubeconfig', '--master=https://x'], /^kpx: flag needs an argument: --kubeconfig$/],
  [['stray'], /^kpx: unexpected argument "stray": kpx takes no arguments/],
  [['--masquerade-all', 'false'], /^kpx: unexpected argument "false": write a boolean flag's value as --masquerade-all=false$/],
  [['--', 'x'], /^kpx: unexpected argument "x"/],
  [['--help=maybe'], /^kpx: invalid value "maybe" for --help: not a boolean/],
  [['--oom-score-adj=high'], /^kpx: invalid value "high" for --oom-score-adj: not an integer$/],
  [['--config', '/nonexistent/kpx.yaml'], /^kpx: cannot read config file \/nonexistent\/kpx.yaml: ENOENT: no such file or directory$/],
  [['--config=/garbage.yaml'], /^kpx: cannot parse config file \/garbage.yaml: .* at line \d+, column \d+$/],
  [['--config=/kind.yaml'], /^kpx: config file \/kind.yaml: kind "KubeletConfiguration" is not supported \(expected KubeProxyConfiguration\)$/],
  [['--config=/version.yaml'], /^kpx: config file \/version.yaml: apiVersion "kubeproxy.config.k8s.io\/v1beta1" is not supported/],
  [['--config=/badfield.yaml'], /^kpx: invalid value "soon" for ipvs.syncPeriod in \/badfield.yaml: not a duration/],
];

test('each bad flag, value or config field gets one line naming it, and exit status 1 as component-base\'s cli.Run', async (t) => {
  // Guard: every row also asks for --write-config-to, so a row that wrongly passed validation would write a
  // file and exit 0 (and fail here) instead of starting the proxy on this host.
  const dir = mkdtempSync(join(tmpdir(), 'kpx-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const guard = `--write-config-to=${join(dir, 'never-written.yaml')}`;
  for (const [argv, want] of BAD_INPUTS) {
    const r = await run([guard, ...argv]);
    const label = argv.join(' ');
    assert.equal(r.code, 1, `${label}: exit ${r.code}, stderr ${r.stderr}`);
    assert.equal(r.stdout, '', label);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, `${label}: ${r.stderr}`);
    assert.match(lines[0], want, label);
  }
});

test('a file sync period below the default min sync period is caught and names both settings', async () => {
  // iptables.syncPeriod 1s in the file with the default minSyncPeriod (1s) is fine; 500ms is not.
  FILES['/short.yaml'] = HEADER + 'iptables:\n  syncPeriod: 500ms\n';
  const r = await run(['--config=/short.yaml', '--write-config-to=/nonexistent-dir/never-written.yaml']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'kpx: invalid value "1s" for the default of --iptables-min-sync-period: must not be greater than the sync period 500ms (iptables.syncPeriod in /short.yaml)\n');
});

test('--help lists every flag with its default, and the subcommands', async () => {
  const r = await run(['--help']);
  assert.equal(r.code, 0);
  assert.equal(r.stderr, '');
  const issueFlags = [
    'proxy-mode', 'kubeconfig', 'master', 'hostname-override', 'bind-address', 'cluster-cidr', 'config', 'cleanup',
    'masquerade-all', 'nodeport-addresses', 'iptables-sync-period', 'iptables-min-sync-period', 'ipvs-scheduler',
    'ipvs-sync-period', 'ipvs-min-sync-period', 'udp-timeout', 'proxy-port-range', 'healthz-bind-address',
    'metrics-bind-address', 'write-config-to', 'v', 'help', 'version', 'manifests', 'dry-run',
  ];
  const all = [...issueFlags, ...FIELDS.map((f) => f.flag!), ...COMPAT_FLAGS.map((c) => c.flag)];
  for (const flag of all) assert.match(r.stdout, new RegExp(`--${flag}\\b`), flag);
  assert.match(r.stdout, /-v, --v/);
  assert.match(r.stdout, /-h, --help/);
  for (const want of [
    /--proxy-mode ProxyMode .*\(default iptables\)$/m,
    /--healthz-bind-address ipport .*\(default 0\.0\.0\.0:10256\)$/m,
    /--metrics-bind-address ipport .*\(default 127\.0\.0\.1:10249\)$/m,
    /--iptables-sync-period duration .*\(default 30s\)$/m,
    /--iptables-min-sync-period duration .*\(default 1s\)$/m,
    /--udp-timeout duration .*\(default 250ms\)$/m,
    /--config-sync-period duration .*\(default 15m0s\)$/m,
  ]) assert.match(r.stdout, want);
  for (const sub of ['trace', 'sandbox', 'load']) assert.match(r.stdout, new RegExp(`^  kpx ${sub} `, 'm'));
  // One line per flag: every line that names a flag also carries its description.
  for (const line of r.stdout.split('\n').filter((l) => /^\s+(-\w, )?--/.test(l))) assert.match(line, /\S\s{3,}\S/, line);
});

test('--version prints the package version', async () => {
  const r = await run(['--version']);
  assert.equal(r.code, 0);
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(packageVersion(), pkg.version);
  assert.equal(r.stdout, `kpx v${pkg.version}\n`);
});

test('--write-config-to writes the effective configuration, which --config reads back identically', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kpx-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'out.yaml');
  const argv = ['--proxy-mode=ipvs', '--ipvs-scheduler=lc', '--iptables-sync-period=45s', '--cluster-cidr=10.244.0.0/16', '--conntrack-udp-timeout=1m', '-v', '2'];
  const r = await run([...argv, `--write-config-to=${file}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const text = readFileSync(file, 'utf8');
  assert.match(text, /^kind: KubeProxyConfiguration$/m);
  assert.match(text, /^mode: ipvs$/m);
  assert.match(text, /^  syncPeriod: 45s$/m);
  assert.match(text, /^  udpTimeout: 1m0s$/m);

  const direct = loadConfig(argv);
  const reread = loadConfig([`--config=${file}`]);
  assert.ok(direct.action === 'run' && reread.action === 'run');
  assert.deepEqual({ ...reread.config, configFile: '' }, direct.config);
});

test('--write-config-to validates first: a bad value writes nothing and exits 1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kpx-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'out.yaml');
  const r = await run(['--iptables-sync-period=abc', `--write-config-to=${file}`]);
  assert.equal(r.code, 1);
  assert.throws(() => readFileSync(file));
});

test('ignored kube-proxy flags are logged as warnings, one line each', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kpx-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await run(['--oom-score-adj=-999', '--profiling', `--write-config-to=${join(dir, 'c.yaml')}`]);
  assert.equal(r.code, 0);
  const warnings = r.logs.filter((l) => /^W\d{4} /.test(l));
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /flag --oom-score-adj is accepted for compatibility with kube-proxy and ignored/);
});

test('an unknown field or a duplicate key in the config file is logged as kube-proxy logs it, and kpx runs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kpx-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  FILES['/dup.yaml'] = HEADER + 'mode: ipvs\nmode: iptables\n';
  for (const [file, strict] of [
    ['/unknown.yaml', 'strict decoding error: unknown field "iptables.resyncPeriod"'],
    ['/dup.yaml', 'strict decoding error: duplicate field "mode"'],
  ] as const) {
    const out = join(dir, `${file.slice(1)}.out`);
    const r = await run([`--config=${file}`, `--write-config-to=${out}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const line = r.logs.find((l) => l.includes('] "Using lenient decoding as strict decoding failed"'));
    assert.ok(line, r.logs.join('\n'));
    assert.ok(line.endsWith(` err=${JSON.stringify(strict)}`), line);
    if (file === '/dup.yaml') assert.match(readFileSync(out, 'utf8'), /^mode: iptables$/m, 'the last duplicate wins');
  }
});

test('--logging-format=json makes every log line a component-base JSON line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kpx-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = await run(['--logging-format=json', '--profiling', `--write-config-to=${join(dir, 'c.yaml')}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.logs.length > 0);
  for (const l of r.logs) {
    const obj = JSON.parse(l) as Record<string, unknown>;
    assert.deepEqual(Object.keys(obj).slice(0, 4), ['ts', 'caller', 'msg', 'v']);
  }
});
