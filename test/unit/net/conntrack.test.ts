/**
 * conntrack: the argv of deletions, reading how many entries went, and which UDP flows a change makes
 * stale (kpng's "So You Want To Write A Service Proxy" rules).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { staleConntrackFilters } from '../../../src/stale-conntrack.js';
import { conntrackDeleteArgs, deletedCountOf } from '../../../src/net/conntrack.js';
import { svcPort } from '../iptables/render-fixtures.js';

test('deletions are conntrack -D with the family, original destination, port and DNAT target', () => {
  assert.deepEqual(conntrackDeleteArgs('IPv4', { protocol: 'UDP', origDst: '172.30.0.10', dstNat: '10.0.0.5' }),
    ['-D', '-p', 'udp', '--orig-dst', '172.30.0.10', '--dst-nat', '10.0.0.5']);
  assert.deepEqual(conntrackDeleteArgs('IPv6', { protocol: 'UDP', origPortDst: 30053 }), ['-D', '-p', 'udp', '-f', 'ipv6', '--dport', '30053']);
});

test('the deleted count is read from conntrack\'s summary, nothing matched being zero', () => {
  assert.equal(deletedCountOf('conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted.\n'), 3);
  assert.equal(deletedCountOf('conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n'), 0);
});

const udp = (eps: string[], extra: Partial<Parameters<typeof svcPort>[0]> = {}) => svcPort({ ns: 'ns', name: 'dns', portName: 'dns', protocol: 'UDP',
  clusterIP: '172.30.0.10', port: 53, endpoints: eps.map((ip) => ({ ip, port: 53 })), ...extra });
const map = (...ports: ReturnType<typeof svcPort>[]) => new Map(ports.map((p) => [p.key, p]));

test('a removed UDP endpoint clears flows DNATed to it on every service address and the node port', () => {
  const prev = map(udp(['10.0.0.1', '10.0.0.2'], { externalIPs: ['192.168.99.1'], lbIPs: ['1.2.3.4'], nodePort: 30053 }));
  const next = map(udp(['10.0.0.2'], { externalIPs: ['192.168.99.1'], lbIPs: ['1.2.3.4'], nodePort: 30053 }));
  assert.deepEqual(staleConntrackFilters(prev, next), [
    { protocol: 'UDP', origDst: '172.30.0.10', dstNat: '10.0.0.1' },
    { protocol: 'UDP', origDst: '192.168.99.1', dstNat: '10.0.0.1' },
    { protocol: 'UDP', origDst: '1.2.3.4', dstNat: '10.0.0.1' },
    { protocol: 'UDP', origPortDst: 30053, dstNat: '10.0.0.1' },
  ]);
});

test('a UDP service going from no endpoints to some clears its cached rejections', () => {
  assert.deepEqual(staleConntrackFilters(map(udp([], { nodePort: 30053 })), map(udp(['10.0.0.1'], { nodePort: 30053 }))), [
    { protocol: 'UDP', origDst: '172.30.0.10' },
    { protocol: 'UDP', origPortDst: 30053 },
  ]);
  assert.deepEqual(staleConntrackFilters(new Map(), map(udp(['10.0.0.1']))), [{ protocol: 'UDP', origDst: '172.30.0.10' }], 'a new service too');
});

test('nothing is cleared for TCP, for unchanged endpoints, or on the first sync after a restart', () => {
  const tcp = svcPort({ ns: 'ns', name: 'web', clusterIP: '172.30.0.20', endpoints: [{ ip: '10.0.0.9' }] });
  assert.deepEqual(staleConntrackFilters(map(tcp), new Map()), []);
  assert.deepEqual(staleConntrackFilters(map(udp(['10.0.0.1'])), map(udp(['10.0.0.1']))), []);
  assert.deepEqual(staleConntrackFilters(undefined, map(udp(['10.0.0.1']))), []);
});
