/**
 * mode-options.ts: the configuration resolved once into what each mode reads; the localhost-NodePort answer
 * a mode gets is the model's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { localTrafficDetector, modeSettings } from '../../../src/cli/mode-options.js';
import { defaultConfig } from '../../../src/config/types.js';
import { iptablesLocalMatch } from '../../../src/local-traffic.js';
import { nodeInfoFrom, resolveNodePortAddresses, servesLocalhostNodePorts } from '../../../src/model/index.js';
import type { IPFamily } from '../../../src/model/types.js';

const cases: { nodePortAddresses: string[]; family: IPFamily; flag: boolean; want: boolean }[] = [
  { nodePortAddresses: [], family: 'IPv4', flag: true, want: true },
  { nodePortAddresses: ['fd00::/64'], family: 'IPv4', flag: true, want: true },
  { nodePortAddresses: ['127.0.0.0/8'], family: 'IPv4', flag: true, want: true },
  { nodePortAddresses: ['10.0.0.0/8'], family: 'IPv4', flag: true, want: false },
  { nodePortAddresses: ['primary'], family: 'IPv4', flag: true, want: false },
  { nodePortAddresses: [], family: 'IPv4', flag: false, want: false },
  { nodePortAddresses: [], family: 'IPv6', flag: true, want: false },
];

for (const c of cases) {
  test(`localhost NodePorts for ${JSON.stringify(c.nodePortAddresses)} on ${c.family} (flag ${c.flag}): the mode and the model both say ${c.want}`, () => {
    const config = defaultConfig();
    config.nodePortAddresses = c.nodePortAddresses;
    config.iptables.localhostNodePorts = c.flag;
    assert.equal(servesLocalhostNodePorts(c.nodePortAddresses, c.flag, c.family), c.want);
    assert.equal(modeSettings(config, 'iptables', c.family).localhostNodePorts, c.want);
    const host = c.family === 'IPv4' ? ['127.0.0.1', '10.1.2.3'] : ['::1', 'fd00::1'];
    const node = nodeInfoFrom(undefined, 'n1', c.family, host);
    assert.equal(resolveNodePortAddresses(c.nodePortAddresses, node, host, c.flag, c.family).localhost, c.want);
  });
}

test('each --detect-local-mode becomes the detector the iptables-based modes match on', () => {
  const config = defaultConfig();
  config.clusterCIDRs = ['10.244.0.0/16', 'fd00:244::/56'];
  const node = { podCIDRs: ['10.244.3.0/24'] };
  assert.deepEqual(iptablesLocalMatch(localTrafficDetector(config, 'IPv4'), node), { ifLocal: '-s 10.244.0.0/16', ifNotLocal: '! -s 10.244.0.0/16' });
  assert.deepEqual(iptablesLocalMatch(localTrafficDetector(config, 'IPv6'), node), { ifLocal: '-s fd00:244::/56', ifNotLocal: '! -s fd00:244::/56' });
  config.detectLocalMode = 'NodeCIDR';
  assert.deepEqual(iptablesLocalMatch(localTrafficDetector(config, 'IPv4'), node), { ifLocal: '-s 10.244.3.0/24', ifNotLocal: '! -s 10.244.3.0/24' });
  assert.deepEqual(iptablesLocalMatch(localTrafficDetector(config, 'IPv4'), { podCIDRs: [] }), { ifLocal: '', ifNotLocal: '' });
  config.detectLocalMode = 'BridgeInterface';
  config.detectLocal.bridgeInterface = 'cbr0';
  assert.deepEqual(iptablesLocalMatch(localTrafficDetector(config, 'IPv4'), node), { ifLocal: '-i cbr0', ifNotLocal: '! -i cbr0' });
  config.detectLocalMode = 'InterfaceNamePrefix';
  config.detectLocal.interfaceNamePrefix = 'veth';
  assert.deepEqual(iptablesLocalMatch(localTrafficDetector(config, 'IPv4'), node), { ifLocal: '-i veth+', ifNotLocal: '! -i veth+' });
});

test('ClusterCIDR mode without a cluster CIDR of the family has no detector, as kube-proxy', () => {
  const config = defaultConfig();
  config.clusterCIDRs = ['10.244.0.0/16'];
  assert.deepEqual(localTrafficDetector(config, 'IPv6'), { mode: 'None' });
});

test('a bad --proxy-port-range is refused when the userspace mode is resolved', () => {
  const config = defaultConfig();
  config.portRange = '70000-70001';
  assert.throws(() => modeSettings(config, 'userspace', 'IPv4'), /proxy-port-range/);
});
