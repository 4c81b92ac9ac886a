/**
 * Packet flows across a sequence of syncs (kube-proxy's TestSyncProxyRulesRepeated, traced): the real backend
 * syncs full, then partial, then full again after a failure or a flush, into a fake iptables that keeps the
 * tables; after every step the packets are traced through what the fake kernel holds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApiEndpointSlice, ApiService } from '../../../src/model/api.js';
import type { ChangeSet } from '../../../src/model/types.js';
import { endpointChainName } from '../../../modes/iptables/chain-names.js';
import { FlowNode, makeService, makeSlice, runPacketFlows } from '../trace/flow-harness.js';

const changed = (...s: string[]): ChangeSet => ({ full: false, services: new Set(s) });

function clusterIPService(n: number): ApiService {
  return makeService(`ns${n}`, `svc${n}`, (s) => {
    s.spec.clusterIP = `172.30.0.4${n}`;
    s.spec.ports = [{ name: 'p80', port: 80, protocol: 'TCP' }];
  });
}

function slice(n: number, ips: string[]): ApiEndpointSlice {
  return makeSlice(`ns${n}`, `svc${n}`, 1, (eps) => {
    eps.addressType = 'IPv4';
    eps.endpoints = ips.map((ip) => ({ addresses: [ip] }));
    eps.ports = [{ name: 'p80', port: 80, protocol: 'TCP' }];
  });
}

const FOREIGN_NAT = '*nat\n:OTHER-PROGRAM - [0:0]\n-A PREROUTING -d 10.99.0.1 -j OTHER-PROGRAM\n-A OTHER-PROGRAM -j RETURN\nCOMMIT\n';

test('full, partial, failed and recovering syncs: the kernel\'s rules route every packet as the state says', async (t) => {
  const node = new FlowNode();
  node.iptables.external(FOREIGN_NAT, {});
  const services = [clusterIPService(1), clusterIPService(2)];

  // Full: the first sync.
  let cluster = await node.sync(services, [slice(1, ['10.180.0.1']), slice(2, ['10.180.0.2'])]);
  assert.equal(node.backend.lastSync.kind, 'full');
  await runPacketFlows(t, cluster, [
    { name: 'full: svc1', sourceIP: '10.0.0.2', destIP: '172.30.0.41', destPort: 80, output: '10.180.0.1:80' },
    { name: 'full: svc2', sourceIP: '10.0.0.2', destIP: '172.30.0.42', destPort: 80, output: '10.180.0.2:80' },
  ]);

  // Partial: svc1 gains an endpoint.
  cluster = await node.sync(services, [slice(1, ['10.180.0.1', '10.180.0.11']), slice(2, ['10.180.0.2'])], changed('ns1/svc1'));
  assert.equal(node.backend.lastSync.kind, 'partial');
  await runPacketFlows(t, cluster, [
    { name: 'partial: svc1 spreads over both endpoints', sourceIP: '10.0.0.2', destIP: '172.30.0.41', destPort: 80, output: '10.180.0.11:80, 10.180.0.1:80' },
    { name: 'partial: svc2 untouched', sourceIP: '10.0.0.2', destIP: '172.30.0.42', destPort: 80, output: '10.180.0.2:80' },
  ]);

  // Partial: svc2's endpoint goes, then svc2 itself.
  cluster = await node.sync(services, [slice(1, ['10.180.0.1', '10.180.0.11'])], changed('ns2/svc2'));
  await runPacketFlows(t, cluster, [
    { name: 'partial: svc2 without endpoints rejects', sourceIP: '10.0.0.2', destIP: '172.30.0.42', destPort: 80, output: 'REJECT' },
  ]);
  cluster = await node.sync([services[0]], [slice(1, ['10.180.0.1', '10.180.0.11'])], changed('ns2/svc2'));
  assert.equal(node.backend.lastSync.kind, 'partial');
  await runPacketFlows(t, cluster, [
    { name: 'partial: deleted svc2 matches nothing', sourceIP: '10.0.0.2', destIP: '172.30.0.42', destPort: 80, output: '' },
  ]);
  const natChains = cluster.dump.tables.find((x) => x.name === 'nat')!.chains.map((c) => c.name);
  assert.equal(natChains.filter((c) => c.startsWith('KUBE-SEP-')).length, 2, 'only svc1\'s two endpoint chains are left');

  // A failed partial restore changes nothing in the kernel, and the next sync is full.
  node.iptables.failNextRestore();
  const failed = await node.trySync([services[0]], [slice(1, ['10.180.0.11'])], changed('ns1/svc1'));
  assert.equal(failed.result.ok, false);
  await runPacketFlows(t, failed.cluster, [
    { name: 'failed: the old rules still route', sourceIP: '10.0.0.2', destIP: '172.30.0.41', destPort: 80, output: '10.180.0.11:80, 10.180.0.1:80' },
  ]);
  cluster = await node.sync([services[0]], [slice(1, ['10.180.0.11'])], changed());
  assert.equal(node.backend.lastSync.kind, 'full', 'the sync after a failure is full, whatever the ChangeSet');
  await runPacketFlows(t, cluster, [
    { name: 'recovered: svc1 has its one endpoint', sourceIP: '10.0.0.2', destIP: '172.30.0.41', destPort: 80, output: '10.180.0.11:80' },
  ]);
  assert.deepEqual(node.iptables.rules('nat', 'OTHER-PROGRAM'), ['-A OTHER-PROGRAM -j RETURN'], 'another program\'s chain survived every sync');
  assert.ok(node.iptables.rules('nat', 'PREROUTING')!.includes('-A PREROUTING -d 10.99.0.1 -j OTHER-PROGRAM'));
});

test('after someone flushes nat, the next partial sync is full and the services route again', async (t) => {
  const node = new FlowNode();
  const services = [clusterIPService(1), clusterIPService(2)];
  await node.sync(services, [slice(1, ['10.180.0.1']), slice(2, ['10.180.0.2'])]);
  node.iptables.external('*nat\nCOMMIT\n', {});
  const cluster = await node.sync(services, [slice(1, ['10.180.0.1']), slice(2, ['10.180.0.22'])], changed('ns2/svc2'));
  assert.equal(node.backend.lastSync.kind, 'full');
  await runPacketFlows(t, cluster, [
    { name: 'svc1, not in the ChangeSet, is back', sourceIP: '10.0.0.2', destIP: '172.30.0.41', destPort: 80, output: '10.180.0.1:80' },
    { name: 'svc2 has its new endpoint', sourceIP: '10.0.0.2', destIP: '172.30.0.42', destPort: 80, output: '10.180.0.22:80' },
  ]);
});

test('a partial sync whose input the kernel rejects leaves the kernel as it was and is retried in full', async (t) => {
  const node = new FlowNode();
  const services = [clusterIPService(1)];
  await node.sync(services, [slice(1, ['10.180.0.1'])]);
  // Another program jumps to svc1's endpoint chain: the partial sync's -X of it is refused.
  const sep = endpointChainName('ns1/svc1:p80', 'TCP', '10.180.0.1:80');
  node.iptables.external(`*nat\n:OTHER-PROGRAM - [0:0]\n-A OTHER-PROGRAM -j ${sep}\nCOMMIT\n`);
  const before = node.iptables.dumpText();
  const failed = await node.trySync(services, [slice(1, ['10.180.0.2'])], changed('ns1/svc1'));
  assert.equal(failed.result.ok, false);
  assert.equal(node.iptables.dumpText(), before, 'nothing of the rejected table was committed');
  await runPacketFlows(t, failed.cluster, [
    { name: 'rejected: the old endpoint still serves', sourceIP: '10.0.0.2', destIP: '172.30.0.41', destPort: 80, output: '10.180.0.1:80' },
  ]);
  // Once the other program lets go, the next sync, full, goes through.
  node.iptables.external('*nat\n:OTHER-PROGRAM - [0:0]\nCOMMIT\n');
  const cluster = await node.sync(services, [slice(1, ['10.180.0.2'])], changed());
  assert.equal(node.backend.lastSync.kind, 'full');
  await runPacketFlows(t, cluster, [
    { name: 'retried: the new endpoint serves, hairpin marked for masquerade', sourceIP: '10.180.0.2', destIP: '172.30.0.41', destPort: 80, output: '10.180.0.2:80', masq: true },
  ]);
  assert.equal(await node.iptables.chainExists('nat', sep), false, 'the old endpoint chain is gone');
});
