import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterCache } from '../../../src/sync/cluster-cache.js';
import { ProxyStateBuilder } from '../../../src/sync/state-builder.js';
import { FakeClock } from '../../support/fake-clock.js';
import { clusterNode as node, clusterIPService as service, endpointSliceFor as slice } from '../../support/api-objects.js';
import { memoryLogger } from '../../support/logger.js';
import { NODE, NODE_IP } from './fixtures.js';

function clusterOf(n: number) {
  const cache = new ClusterCache({ nodeName: NODE, clock: new FakeClock(), log: memoryLogger() });
  cache.upsert({ kind: 'Node', obj: node({ 'topology.kubernetes.io/zone': 'z1' }) });
  for (let i = 0; i < n; i++) {
    const ip = `172.30.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    cache.upsert({ kind: 'Service', obj: service(`svc-${i}`, ip) });
    cache.upsert({ kind: 'EndpointSlice', obj: slice(`svc-${i}`, `svc-${i}-a`, [{ ip: `10.${Math.floor(i / 250)}.${i % 250}.1` }, { ip: `10.${Math.floor(i / 250)}.${i % 250}.2`, node: NODE }]) });
  }
  cache.synced('Service');
  cache.synced('EndpointSlice');
  cache.take();
  const builder = new ProxyStateBuilder({
    families: ['IPv4', 'IPv6'], nodeName: NODE, hostAddresses: [NODE_IP, 'fd00::2'], nodePortAddresses: [], localhostNodePorts: true, log: memoryLogger(),
  });
  return { cache, builder };
}

test('one endpoint change among 30,000 services recomputes one service, not all', () => {
  const { cache, builder } = clusterOf(30_000);
  const full = builder.build(cache, new Set());
  assert.equal(builder.lastBuild.recomputedAll, true);
  assert.equal(full.get('IPv4')!.services.size, 30_000);
  assert.equal(full.get('IPv6')!.services.size, 0, 'IPv4-only services have no IPv6 ports');

  cache.upsert({ kind: 'EndpointSlice', obj: slice('svc-12345', 'svc-12345-a', [{ ip: '10.49.95.9' }], { resourceVersion: '2' }) });
  const changes = cache.take();
  const partial = builder.build(cache, changes.services);
  assert.equal(builder.lastBuild.recomputedAll, false);
  assert.equal(builder.lastBuild.recomputedServices, 2, 'one service, once per family');
  assert.deepEqual(partial.get('IPv4')!.services.get('default/svc-12345:http')!.endpoints.map((e) => e.key), ['10.49.95.9:8080']);
  assert.equal(partial.get('IPv4')!.services.get('default/svc-1:http'), full.get('IPv4')!.services.get('default/svc-1:http'));
  // What that costs against a full build is measured by perf/sync/scaling.ts.
});

test('a node zone change recomputes every service; an unchanged build returns the same state object', () => {
  const { cache, builder } = clusterOf(50);
  const first = builder.build(cache, new Set());
  assert.equal(builder.build(cache, new Set()).get('IPv4'), first.get('IPv4'));
  cache.upsert({ kind: 'Node', obj: node({ 'topology.kubernetes.io/zone': 'z9' }) });
  const after = builder.build(cache, new Set());
  assert.equal(builder.lastBuild.recomputedAll, true);
  assert.equal(after.get('IPv4')!.node.zone, 'z9');
});

test('a service whose model computation throws is skipped and the rest still build', () => {
  const { cache, builder } = clusterOf(3);
  const weird = service('weird', '172.30.200.1');
  // A getter that throws stands in for a model bug on one odd object.
  Object.defineProperty(weird.spec!, 'ports', { get() { throw new Error('model bug'); }, enumerable: true });
  cache.upsert({ kind: 'Service', obj: weird });
  const states = builder.build(cache, new Set(['default/weird']));
  assert.equal(states.get('IPv4')!.services.size, 3);
});
