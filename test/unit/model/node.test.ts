import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isNodeEligible, nodeInfoFrom, resolveNodePortAddresses } from '../../../src/model/index.js';
import type { ApiNode } from '../../../src/model/api.js';
import type { IPFamily } from '../../../src/model/types.js';
import { node } from '../../support/api-objects.js';
import { NODE } from './fixtures.js';

test('a node being deleted or tainted ToBeDeletedByClusterAutoscaler is not eligible; a missing node is', () => {
  assert.equal(isNodeEligible(undefined), true);
  assert.equal(isNodeEligible(node(NODE)), true);
  assert.equal(isNodeEligible(node(NODE, { deleting: true })), false);
  assert.equal(isNodeEligible(node(NODE, { taints: ['ToBeDeletedByClusterAutoscaler'] })), false);
  assert.equal(isNodeEligible(node(NODE, { taints: ['node.kubernetes.io/unschedulable'] })), true);
  assert.equal(nodeInfoFrom(node(NODE, { deleting: true }), NODE, 'IPv4', []).eligible, false);
});

test('node info: zone label, addresses of the family (Node object first), pod CIDRs, primary IP', () => {
  const n: ApiNode = {
    metadata: { name: NODE, labels: { 'topology.kubernetes.io/zone': 'zone-a', 'kubernetes.io/hostname': NODE } },
    spec: { podCIDRs: ['10.244.0.0/24', 'fd00:244::/64'] },
    status: { addresses: [
      { type: 'Hostname', address: NODE },
      { type: 'ExternalIP', address: '203.0.113.5' },
      { type: 'InternalIP', address: '10.10.0.1' },
      { type: 'InternalIP', address: 'fd00:10::1' },
    ] },
  };
  const host = ['127.0.0.1', '10.10.0.1', '192.168.5.5', '::1', 'fe80::1', 'fd00:10::1', 'fd00:99::9'];
  const v4 = nodeInfoFrom(n, NODE, 'IPv4', host);
  assert.equal(v4.name, NODE);
  assert.equal(v4.zone, 'zone-a');
  assert.equal(v4.labels['kubernetes.io/hostname'], NODE);
  assert.deepEqual(v4.ips, ['10.10.0.1', '203.0.113.5', '192.168.5.5']);
  assert.equal(v4.primaryIP, '10.10.0.1');
  assert.deepEqual(v4.podCIDRs, ['10.244.0.0/24']);
  const v6 = nodeInfoFrom(n, NODE, 'IPv6', host);
  assert.deepEqual(v6.ips, ['fd00:10::1', 'fd00:99::9']);
  assert.equal(v6.primaryIP, 'fd00:10::1');
  assert.deepEqual(v6.podCIDRs, ['fd00:244::/64']);
});

test('without a Node object the node still has its name and the host\'s addresses, but no primary IP or zone', () => {
  const info = nodeInfoFrom(undefined, NODE, 'IPv4', ['10.0.2.15', '127.0.0.1']);
  assert.deepEqual(info.ips, ['10.0.2.15']);
  assert.equal(info.primaryIP, undefined);
  assert.equal(info.zone, '');
  assert.equal(info.eligible, true);
  assert.deepEqual(info.podCIDRs, []);
});

const HOST = ['127.0.0.1', '10.10.0.1', '192.168.1.7', '::1', 'fe80::abcd', 'fd00:10::1', '2001:db8::5'];

function resolve(list: string[], family: IPFamily, localhost = true, nodeIPs = ['10.10.0.1', 'fd00:10::1']) {
  const info = nodeInfoFrom(node(NODE, { ips: nodeIPs }), NODE, family, HOST);
  return resolveNodePortAddresses(list, info, HOST, localhost, family);
}

test('nodePortAddresses: empty means every local address, and IPv4 localhost NodePorts when enabled', () => {
  assert.deepEqual(resolve([], 'IPv4'), { all: true, ips: ['127.0.0.1', '10.10.0.1', '192.168.1.7'], localhost: true });
  assert.deepEqual(resolve([], 'IPv4', false), { all: true, ips: ['10.10.0.1', '192.168.1.7'], localhost: false });
  // Never localhost on IPv6; link-local addresses are not served.
  assert.deepEqual(resolve([], 'IPv6'), { all: true, ips: ['fd00:10::1', '2001:db8::5'], localhost: false });
});

test('nodePortAddresses: CIDRs select the host\'s addresses of the family; a family with no CIDR means all', () => {
  assert.deepEqual(resolve(['192.168.0.0/16', 'fd00::/8'], 'IPv4'), { all: false, ips: ['192.168.1.7'], localhost: false });
  assert.deepEqual(resolve(['192.168.0.0/16', 'fd00::/8'], 'IPv6'), { all: false, ips: ['fd00:10::1'], localhost: false });
  assert.deepEqual(resolve(['192.168.0.0/16'], 'IPv6').all, true);
  assert.deepEqual(resolve(['0.0.0.0/0'], 'IPv4').all, true);
  assert.deepEqual(resolve(['10.0.0.0/8', '0.0.0.0/0'], 'IPv4').all, true);
  assert.deepEqual(resolve(['172.16.0.0/12'], 'IPv4'), { all: false, ips: [], localhost: false });
});

test('nodePortAddresses: localhost NodePorts only with a CIDR covering 127.0.0.1 and the option on', () => {
  assert.deepEqual(resolve(['127.0.0.0/8', '10.10.0.0/24'], 'IPv4'), { all: false, ips: ['127.0.0.1', '10.10.0.1'], localhost: true });
  assert.deepEqual(resolve(['127.0.0.1/32'], 'IPv4'), { all: false, ips: ['127.0.0.1'], localhost: true });
  assert.deepEqual(resolve(['127.0.0.0/8', '10.10.0.0/24'], 'IPv4', false), { all: false, ips: ['10.10.0.1'], localhost: false });
  assert.deepEqual(resolve(['::1/128'], 'IPv6'), { all: false, ips: [], localhost: false });
});

test('nodePortAddresses "primary" means the node\'s primary IP of each family, and all when the Node has none', () => {
  assert.deepEqual(resolve(['primary'], 'IPv4'), { all: false, ips: ['10.10.0.1'], localhost: false });
  assert.deepEqual(resolve(['primary'], 'IPv6'), { all: false, ips: ['fd00:10::1'], localhost: false });
  assert.deepEqual(resolve(['primary'], 'IPv6', true, ['10.10.0.1']).all, true);
  // Leading zeros in configured CIDRs are normalised like any other address.
  assert.deepEqual(resolve(['192.168.001.0/24'], 'IPv4').ips, ['192.168.1.7']);
});

test('nodePortAddresses takes the family from the NodeInfo when none is passed (no IPv6 localhost by accident)', () => {
  const info6 = nodeInfoFrom(undefined, NODE, 'IPv6', []);
  assert.equal(info6.family, 'IPv6');
  assert.deepEqual(resolveNodePortAddresses([], info6, ['127.0.0.1', '::1', 'fd00::7'], true), { all: true, ips: ['fd00::7'], localhost: false });
  const info4 = nodeInfoFrom(undefined, NODE, 'IPv4', []);
  assert.deepEqual(resolveNodePortAddresses([], info4, ['127.0.0.1', 'fd00::7'], true), { all: true, ips: ['127.0.0.1'], localhost: true });
});
