import { KUBEADM_KUBE_PROXY_CONFIG } from '../../support/kubeadm-kube-proxy-config.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../../src/config/load.js';
import type { LoadResult } from '../../../src/config/load.js';
import { ConfigProblems } from '../../../src/config/problems.js';
import { renderConfigFile } from '../../../src/config/write-config.js';
import { defaultConfig } from '../../../src/config/types.js';
import type { KpxConfig } from '../../../src/config/types.js';

/** files: an in-memory file system for --config. */
function reader(files: Record<string, string>) {
  return (path: string) => {
    if (path in files) return files[path];
    throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
  };
}

function load(argv: string[], files: Record<string, string> = {}): KpxConfig {
  const r: LoadResult = loadConfig(argv, { readFile: reader(files) });
  assert.equal(r.action, 'run');
  return (r as Extract<LoadResult, { action: 'run' }>).config;
}

function problems(argv: string[], files: Record<string, string> = {}): readonly string[] {
  try {
    loadConfig(argv, { readFile: reader(files) });
  } catch (err) {
    assert.ok(err instanceof ConfigProblems, String(err));
    return err.problems;
  }
  assert.fail(`expected ${JSON.stringify(argv)} to be rejected`);
}

const HEADER = 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n';

test("with no flags the configuration is kube-proxy's defaults", () => {
  const c = load([]);
  assert.deepEqual(c, defaultConfig());
  assert.equal(c.mode, 'iptables');
  assert.equal(c.healthzBindAddress, '0.0.0.0:10256');
  assert.equal(c.metricsBindAddress, '127.0.0.1:10249');
  assert.equal(c.iptables.syncPeriodMs, 30_000);
  assert.equal(c.iptables.minSyncPeriodMs, 1_000);
  assert.equal(c.iptables.masqueradeBit, 14);
  assert.equal(c.ipvs.syncPeriodMs, 30_000);
  assert.equal(c.udpIdleTimeoutMs, 250);
  assert.equal(c.conntrack.maxPerCore, 32_768);
  assert.equal(c.configSyncPeriodMs, 900_000);
});

test('flags take "--flag value" and "--flag=value"; booleans take --flag and --flag=true|false', () => {
  const c = load([
    '--proxy-mode', 'ipvs', '--kubeconfig=/etc/kube.conf', '--master', 'https://10.0.0.1:6443',
    '--hostname-override=node-a', '--cluster-cidr', '10.244.0.0/16,fd00:10:244::/56',
    '--masquerade-all', '--ipvs-strict-arp=true', '--iptables-localhost-nodeports=false',
    '--iptables-sync-period=1m30s', '--iptables-min-sync-period', '500ms', '--ipvs-scheduler=wrr',
    '--nodeport-addresses', '192.168.0.0/16, primary', '--udp-timeout=2s', '--proxy-port-range=30000-30100',
    '--manifests', '/srv/manifests', '--dry-run', '--cleanup=false',
  ]);
  assert.equal(c.mode, 'ipvs');
  assert.equal(c.kubeconfig, '/etc/kube.conf');
  assert.equal(c.master, 'https://10.0.0.1:6443');
  assert.equal(c.hostnameOverride, 'node-a');
  assert.deepEqual(c.clusterCIDRs, ['10.244.0.0/16', 'fd00:10:244::/56']);
  assert.equal(c.iptables.masqueradeAll, true);
  assert.equal(c.ipvs.strictARP, true);
  assert.equal(c.iptables.localhostNodePorts, false);
  assert.equal(c.iptables.syncPeriodMs, 90_000);
  assert.equal(c.iptables.minSyncPeriodMs, 500);
  assert.equal(c.ipvs.scheduler, 'wrr');
  assert.deepEqual(c.nodePortAddresses, ['192.168.0.0/16', 'primary']);
  assert.equal(c.udpIdleTimeoutMs, 2_000);
  assert.equal(c.portRange, '30000-30100');
  assert.equal(c.manifests, '/srv/manifests');
  assert.equal(c.dryRun, true);
  assert.equal(c.cleanup, false);
});

test('verbosity takes -v N, -v=N, -vN, --v N and --v=N', () => {
  for (const argv of [['-v', '4'], ['-v=4'], ['-v4'], ['--v', '4'], ['--v=4']]) {
    assert.equal(load(argv).verbosity, 4, argv.join(' '));
  }
});

test('underscores in flag names work like dashes, and the last occurrence of a flag wins', () => {
  const c = load(['--proxy_mode=ipvs', '--proxy-mode=userspace']);
  assert.equal(c.mode, 'userspace');
});

test('a bare IP for the healthz or metrics address gets the default port', () => {
  const c = load(['--healthz-bind-address=127.0.0.1', '--metrics-bind-address=::1']);
  assert.equal(c.healthzBindAddress, '127.0.0.1:10256');
  assert.equal(c.metricsBindAddress, '[::1]:10249');
});

test('an IPv6 bind address makes the healthz and metrics defaults IPv6, unless they are given', () => {
  const c = load(['--bind-address=fd00::10']);
  assert.equal(c.healthzBindAddress, '[::]:10256');
  assert.equal(c.metricsBindAddress, '[::1]:10249');
  const d = load(['--bind-address=fd00::10', '--metrics-bind-address=[::]:9999']);
  assert.equal(d.healthzBindAddress, '[::]:10256');
  assert.equal(d.metricsBindAddress, '[::]:9999');
});

test('an empty healthz or metrics address disables that server', () => {
  const c = load(['--healthz-bind-address=', '--metrics-bind-address=']);
  assert.equal(c.healthzBindAddress, '');
  assert.equal(c.metricsBindAddress, '');
});

test('the config file sets fields, and only flags explicitly given override it', () => {
  const files = {
    '/cfg.yaml': HEADER + [
      'mode: ipvs',
      'clusterCIDR: 10.244.0.0/16',
      'clientConnection:',
      '  kubeconfig: /from/file',
      'iptables:',
      '  syncPeriod: 1m',
      '  minSyncPeriod: 10s',
      '  masqueradeAll: true',
      'ipvs:',
      '  scheduler: lc',
      'logging:',
      '  verbosity: 2',
    ].join('\n'),
  };
  const fileOnly = load(['--config', '/cfg.yaml'], files);
  assert.equal(fileOnly.mode, 'ipvs');
  assert.deepEqual(fileOnly.clusterCIDRs, ['10.244.0.0/16']);
  assert.equal(fileOnly.kubeconfig, '/from/file');
  assert.equal(fileOnly.iptables.syncPeriodMs, 60_000);
  assert.equal(fileOnly.iptables.minSyncPeriodMs, 10_000);
  assert.equal(fileOnly.iptables.masqueradeAll, true);
  assert.equal(fileOnly.ipvs.scheduler, 'lc');
  assert.equal(fileOnly.verbosity, 2);

  // Flags before or after --config override the file; unmentioned fields keep the file's values.
  const both = load(['--proxy-mode=iptables', '--config=/cfg.yaml', '--iptables-sync-period=2m', '--masquerade-all=false', '-v', '5', '--kubeconfig', '/from/flag'], files);
  assert.equal(both.mode, 'iptables');
  assert.equal(both.iptables.syncPeriodMs, 120_000);
  assert.equal(both.iptables.minSyncPeriodMs, 10_000);
  assert.equal(both.iptables.masqueradeAll, false);
  assert.equal(both.ipvs.scheduler, 'lc');
  assert.equal(both.verbosity, 5);
  assert.equal(both.kubeconfig, '/from/flag');
  assert.deepEqual(both.clusterCIDRs, ['10.244.0.0/16']);
});

test('origins say where each value came from', () => {
  const r = loadConfig(['--config=/c', '--proxy-mode=ipvs'], { readFile: reader({ '/c': HEADER + 'iptables:\n  syncPeriod: 5s\n' }) });
  assert.equal(r.action, 'run');
  if (r.action !== 'run') return;
  assert.equal(r.origins.get('mode'), '--proxy-mode');
  assert.equal(r.origins.get('iptables.syncPeriod'), 'iptables.syncPeriod in /c');
  assert.equal(r.origins.has('ipvs.syncPeriod'), false);
});

test("a kubeadm-generated kube-proxy config (zeros and nulls meaning 'default') loads as kube-proxy's defaults", () => {
  const kubeadm = KUBEADM_KUBE_PROXY_CONFIG;
  const c = load(['--config', '/var/lib/kube-proxy/config.conf', '--hostname-override=node-1'], { '/var/lib/kube-proxy/config.conf': kubeadm });
  const want = defaultConfig();
  want.kubeconfig = '/var/lib/kube-proxy/kubeconfig.conf';
  want.clusterCIDRs = ['10.244.0.0/16'];
  want.hostnameOverride = 'node-1';
  want.configFile = '/var/lib/kube-proxy/config.conf';
  assert.deepEqual(c, want);
});

test('the ConfigMap shipped in deploy/ loads', async () => {
  const { readFileSync } = await import('node:fs');
  const { parse } = await import('yaml');
  const cm = parse(readFileSync(new URL('../../../deploy/configmap.yaml', import.meta.url), 'utf8')) as { data: Record<string, string> };
  const c = load(['--config=/c'], { '/c': cm.data['config.conf'] });
  assert.equal(c.mode, 'iptables');
});

test('an unknown field or a duplicate key fails strict decoding only: the file is read leniently and the strict error kept', () => {
  const cases: [string, string, (c: KpxConfig) => void][] = [
    ['mode: ipvs\nfoo: 1\n', 'unknown field "foo"', (c) => assert.equal(c.mode, 'ipvs')],
    ['iptables:\n  syncPerod: 30s\n  syncPeriod: 40s\n', 'unknown field "iptables.syncPerod"', (c) => assert.equal(c.iptables.syncPeriodMs, 40_000)],
    ['iptables:\n  syncPeriod: 30s\n  syncPeriod: 50s\n', 'duplicate field "iptables.syncPeriod"', (c) => assert.equal(c.iptables.syncPeriodMs, 50_000)],
    ['udpIdleTimeout2: 1s\nmode: ipvs\nmode: iptables\n', 'duplicate field "mode", unknown field "udpIdleTimeout2"', (c) => assert.equal(c.mode, 'iptables')],
  ];
  for (const [body, strict, check] of cases) {
    const r = loadConfig(['--config=/c'], { readFile: reader({ '/c': HEADER + body }) });
    assert.ok(r.action === 'run');
    assert.equal(r.strictError, `strict decoding error: ${strict}`, body);
    check(r.config);
  }
  const clean = loadConfig(['--config=/c'], { readFile: reader({ '/c': HEADER + 'mode: ipvs\n' }) });
  assert.ok(clean.action === 'run' && clean.strictError === undefined);
});

test('a value upstream cannot decode even leniently gets one line naming the field and the file', () => {
  const cases: [string, RegExp][] = [
    ['iptables:\n  syncPeriod: abc\n', /^invalid value "abc" for iptables.syncPeriod in \/c: not a duration/],
    ['iptables:\n  syncPeriod: 30\n', /^invalid value 30 for iptables.syncPeriod in \/c: must be a duration string/],
    ['iptables:\n  masqueradeBit: 32\n', /^invalid value 32 for iptables.masqueradeBit in \/c: must be within the range \[0, 31\]$/],
    ['iptables:\n  masqueradeAll: "yes"\n', /^invalid value "yes" for iptables.masqueradeAll in \/c: must be true or false/],
    ['iptables: 5\n', /^invalid value 5 for iptables in \/c: must be a mapping$/],
    ['mode: kernelspace\n', /^invalid value "kernelspace" for mode in \/c: mode "kernelspace" is not supported by kpx/],
    ['clusterCIDR: 10.0.0.0/8,10.1.0.0/16\n', /^invalid value "10.0.0.0\/8,10.1.0.0\/16" for clusterCIDR in \/c: two CIDRs must be one IPv4 and one IPv6/],
    ['nodePortAddresses: 10.0.0.0/8\n', /^invalid value "10.0.0.0\/8" for nodePortAddresses in \/c: must be a list of strings/],
    ['nodePortAddresses: [bogus]\n', /for nodePortAddresses in \/c: "bogus" is neither a CIDR nor "primary"$/],
    ['ipvs:\n  scheduler: fifo\n', /^invalid value "fifo" for ipvs.scheduler in \/c: must be one of rr, wrr/],
    ['detectLocalMode: Magic\n', /^invalid value "Magic" for detectLocalMode in \/c: mode must be one of ClusterCIDR/],
    ['healthzBindAddress: "localhost:10256"\n', /^invalid value "localhost:10256" for healthzBindAddress in \/c: "localhost" is not a valid IP address$/],
    ['featureGates:\n  Foo: maybe\n', /^invalid value \{"Foo":"maybe"\} for featureGates in \/c: feature gate Foo must be true or false$/],
    ['portRange: 100-50\n', /^invalid value "100-50" for portRange in \/c: must be a port range/],
  ];
  for (const [body, want] of cases) {
    const p = problems(['--config=/c'], { '/c': HEADER + body });
    assert.equal(p.length, 1, `${body}: ${p.join(' | ')}`);
    assert.match(p[0], want, body);
  }
});

test('a wrong apiVersion or kind, an unreadable or unparsable file is one line naming the file', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ '/c': 'apiVersion: v1\nkind: KubeProxyConfiguration\n' }, /^config file \/c: apiVersion "v1" is not supported \(expected kubeproxy.config.k8s.io\/v1alpha1\)$/],
    [{ '/c': 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeletConfiguration\n' }, /^config file \/c: kind "KubeletConfiguration" is not supported/],
    [{ '/c': 'kind: KubeProxyConfiguration\n' }, /^config file \/c: apiVersion is missing/],
    [{}, /^cannot read config file \/c: ENOENT: no such file or directory$/],
    [{ '/c': 'mode: [unclosed\n' }, /^cannot parse config file \/c: /],
    [{ '/c': '' }, /^config file \/c is empty/],
    [{ '/c': HEADER + '---\n' + HEADER }, /^config file \/c holds 2 documents/],
    [{ '/c': '- a\n- b\n' }, /^config file \/c must hold a KubeProxyConfiguration mapping$/],
  ];
  for (const [files, want] of cases) {
    const p = problems(['--config', '/c'], files);
    assert.equal(p.length, 1, p.join(' | '));
    assert.match(p[0], want);
  }
});

test('a JSON config file is accepted (JSON is YAML)', () => {
  const c = load(['--config=/c.json'], { '/c.json': JSON.stringify({ apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', mode: 'userspace', udpIdleTimeout: '1s' }) });
  assert.equal(c.mode, 'userspace');
  assert.equal(c.udpIdleTimeoutMs, 1_000);
});

test('min sync period above the sync period is rejected, naming both sources', () => {
  const p = problems(['--config=/c', '--iptables-min-sync-period=2m'], { '/c': HEADER + 'iptables:\n  syncPeriod: 1m\n' });
  assert.deepEqual(p, ['invalid value "2m0s" for --iptables-min-sync-period: must not be greater than the sync period 1m0s (iptables.syncPeriod in /c)']);
  const q = problems(['--ipvs-min-sync-period=31s']);
  assert.deepEqual(q, ['invalid value "31s" for --ipvs-min-sync-period: must not be greater than the sync period 30s (the default of --ipvs-sync-period)']);
});

test('several bad inputs are all reported, one line each', () => {
  const p = problems(['--proxy-mode=foo', '--iptables-sync-period=abc', '--bogus']);
  assert.equal(p.length, 3, p.join('\n'));
});

test('compatibility flags are accepted with a warning, and their values still checked', () => {
  const r = loadConfig(['--oom-score-adj=-999', '--profiling', '--kube-api-qps=5.5']);
  assert.equal(r.action, 'run');
  if (r.action === 'run') assert.equal(r.warnings.length, 3);
  assert.deepEqual(problems(['--oom-score-adj=low']), ['invalid value "low" for --oom-score-adj: not an integer']);
});

test("component-base's logging settings load from flags and from the file's LoggingConfiguration", () => {
  const fromFlags = load(['--logging-format=json', '--log-flush-frequency=10s', '--log-json-split-stream', '--log-json-info-buffer-size=64Ki']);
  assert.deepEqual(fromFlags.logging, {
    format: 'json', vmodule: '', flushFrequencyMs: 10_000,
    text: { splitStream: false, infoBufferSize: '0' }, json: { splitStream: true, infoBufferSize: '64Ki' },
  });
  const file = HEADER + [
    'logging:',
    '  format: text',
    '  flushFrequency: 3000000000',
    '  verbosity: 2',
    '  vmodule:',
    '  - filePattern: proxier',
    '    verbosity: 4',
    '  options:',
    '    text:',
    '      splitStream: true',
    '      infoBufferSize: "0"',
    '    json:',
    '      infoBufferSize: 0',
    '',
  ].join('\n');
  const c = load(['--config=/c'], { '/c': file });
  assert.equal(c.verbosity, 2);
  assert.equal(c.logging.vmodule, 'proxier=4');
  assert.equal(c.logging.flushFrequencyMs, 3000, 'a number is nanoseconds, as component-base reads it');
  assert.equal(c.logging.text.splitStream, true);
  assert.match(renderConfigFile(c).text, /vmodule:\n\s+- filePattern: proxier\n\s+verbosity: 4/);
});

test('a bad log format, a malformed --vmodule, or --vmodule with JSON logs is rejected as component-base rejects it', () => {
  assert.deepEqual(problems(['--logging-format=yaml']), ['invalid value "yaml" for --logging-format: format must be one of text, json']);
  assert.match(problems(['--vmodule=proxier'])[0], /^invalid value "proxier" for --vmodule: syntax error/);
  assert.match(problems(['--logging-format=json', '--vmodule=proxier=2'])[0], /for --vmodule: only supported for the text log format/);
  assert.match(problems(['--log-text-info-buffer-size=lots'])[0], /not a quantity/);
});

test('--help and --version are actions, not configuration', () => {
  assert.equal(loadConfig(['--help']).action, 'help');
  assert.equal(loadConfig(['-h']).action, 'help');
  assert.equal(loadConfig(['--version']).action, 'version');
  assert.equal(loadConfig(['--version=false']).action, 'run');
});

test('--write-config-to output reads back through --config to the same configuration', () => {
  const argv = [
    '--proxy-mode=ipvs', '--kubeconfig=/k', '--hostname-override=n1', '--bind-address=10.1.2.3',
    '--healthz-bind-address=10.1.2.3:1234', '--metrics-bind-address=0.0.0.0:9100',
    '--cluster-cidr=10.244.0.0/16,fd00::/48', '--masquerade-all', '--iptables-masquerade-bit=3',
    '--iptables-sync-period=1h2m3.5s', '--iptables-min-sync-period=250ms', '--iptables-localhost-nodeports=false',
    '--ipvs-scheduler=sh', '--ipvs-sync-period=45s', '--ipvs-min-sync-period=2s', '--ipvs-strict-arp',
    '--ipvs-tcp-timeout=15m', '--ipvs-tcpfin-timeout=30s', '--ipvs-udp-timeout=5m', '--ipvs-exclude-cidrs=10.9.0.0/16,10.8.0.0/16',
    '--nodeport-addresses=primary,192.168.1.0/24', '--conntrack-max-per-core=0', '--conntrack-min=5',
    '--conntrack-tcp-timeout-established=1h', '--conntrack-tcp-timeout-close-wait=0', '--conntrack-tcp-be-liberal',
    '--conntrack-udp-timeout=30s', '--conntrack-udp-timeout-stream=2m', '--detect-local-mode=InterfaceNamePrefix',
    '--pod-interface-name-prefix=veth', '--pod-bridge-interface=cbr0', '--udp-timeout=1s500ms',
    '--proxy-port-range=20000+99', '--config-sync-period=5m', '-v=3',
    '--vmodule=proxier=4,kube*=2', '--log-flush-frequency=2s', '--log-text-split-stream', '--log-text-info-buffer-size=64Ki',
    '--log-json-split-stream=true', '--log-json-info-buffer-size=1M',
  ];
  const original = load(argv);
  const { text, warnings } = renderConfigFile(original);
  assert.deepEqual(warnings, []);
  assert.match(text, /syncPeriod: 1h2m3.5s/);
  assert.match(text, /^apiVersion: kubeproxy.config.k8s.io\/v1alpha1$/m);
  const reread = load(['--config=/written'], { '/written': text });
  assert.deepEqual({ ...reread, configFile: '' }, original);

  // The defaults round-trip too.
  const defaults = load([]);
  const again = load(['--config=/d'], { '/d': renderConfigFile(defaults).text });
  assert.deepEqual({ ...again, configFile: '' }, defaults);
});

test('a setting the file format cannot express is written with a warning', () => {
  const c = load(['--iptables-min-sync-period=0']);
  const { warnings } = renderConfigFile(c);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /^iptables.minSyncPeriod 0s cannot be expressed/);
});
