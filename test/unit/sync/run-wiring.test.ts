/** The pure helpers src/cli/run.ts wires with: node name, host addresses, IP families, health-check addresses. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { networkInterfaces } from 'node:os';
import { clusterCIDRFor, healthCheckAddresses, hostAddressesFrom, ipFamiliesFor, isGlobalIPv6, nodeNameFor } from '../../../src/cli/host-facts.js';
import { defaultConfig } from '../../../src/config/types.js';
import { memoryLogger } from '../../support/logger.js';

test('the node name is --hostname-override, else the host name, lowercased', () => {
  const c = defaultConfig();
  assert.equal(nodeNameFor(c, () => 'Worker-1.Example'), 'worker-1.example');
  c.hostnameOverride = '  Node-A ';
  assert.equal(nodeNameFor(c, () => 'ignored'), 'node-a');
});

test('host addresses come from every interface, without IPv6 zones or duplicates', () => {
  const ifaces = {
    lo: [{ address: '127.0.0.1', family: 'IPv4' }, { address: '::1', family: 'IPv6' }],
    eth0: [{ address: '192.0.2.2', family: 'IPv4' }, { address: 'fe80::1%eth0', family: 'IPv6' }],
    eth1: [{ address: '192.0.2.2', family: 'IPv4' }],
  } as unknown as ReturnType<typeof networkInterfaces>;
  assert.deepEqual(hostAddressesFrom(ifaces), ['127.0.0.1', '::1', '192.0.2.2', 'fe80::1']);
});

test('IPv6 joins IPv4 only when the host has a global IPv6 address', () => {
  const table: [string, boolean][] = [
    ['::1', false], ['::', false], ['fe80::1', false], ['febf::1', false], ['::ffff:10.0.0.1', false], ['10.0.0.1', false],
    ['2001:db8::1', true], ['fd00::2', true], ['fec0::1', true],
  ];
  for (const [addr, global] of table) assert.equal(isGlobalIPv6(addr), global, addr);
  assert.deepEqual(ipFamiliesFor(['127.0.0.1', '::1', '10.0.0.2', 'fe80::2']), ['IPv4']);
  assert.deepEqual(ipFamiliesFor(['10.0.0.2', '2001:db8::2']), ['IPv4', 'IPv6']);
});

test('each family gets its own cluster CIDR', () => {
  const c = defaultConfig();
  c.clusterCIDRs = ['10.244.0.0/16', 'fd00:10::/56'];
  assert.equal(clusterCIDRFor(c, 'IPv4'), '10.244.0.0/16');
  assert.equal(clusterCIDRFor(c, 'IPv6'), 'fd00:10::/56');
  c.clusterCIDRs = [];
  assert.equal(clusterCIDRFor(c, 'IPv6'), '');
});

test('health-check node ports listen on all addresses unless --nodeport-addresses narrows them', () => {
  const c = defaultConfig();
  const hosts = ['127.0.0.1', '192.0.2.2', '198.51.100.7'];
  assert.deepEqual(healthCheckAddresses(c, 'n', hosts, ['IPv4'], memoryLogger()), []);
  c.nodePortAddresses = ['192.0.2.0/24'];
  assert.deepEqual(healthCheckAddresses(c, 'n', hosts, ['IPv4'], memoryLogger()), ['192.0.2.2']);
  const lines: string[] = [];
  c.nodePortAddresses = ['203.0.113.0/24'];
  assert.deepEqual(healthCheckAddresses(c, 'n', hosts, ['IPv4'], memoryLogger(lines)), []);
  assert.ok(lines.some((l) => l.startsWith('W no host address matches --nodeport-addresses')));
});
