import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createProxyMetrics } from '../../../src/server/metrics.js';
import { ServiceChangeTracker } from '../../../src/sync/service-change-tracker.js';
import { EndpointSliceChangeTracker } from '../../../src/sync/endpoints-change-tracker.js';
import { NodeTracker } from '../../../src/sync/node-tracker.js';
import { ClusterCache } from '../../../src/sync/cluster-cache.js';
import { sameObject } from '../../../src/sync/object-equality.js';
import { FakeClock } from '../../support/fake-clock.js';
import { clusterNode as node, clusterIPService as service, endpointSliceFor as slice } from '../../support/api-objects.js';
import { memoryLogger } from '../../support/logger.js';
import { NODE } from './fixtures.js';

async function value(metric: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await metric.get()).values.reduce((s, v) => s + v.value, 0);
}

function trackers() {
  const metrics = createProxyMetrics(new Registry());
  const clock = new FakeClock();
  const log = memoryLogger();
  return {
    metrics, clock,
    services: new ServiceChangeTracker({ log, metrics }),
    endpoints: new EndpointSliceChangeTracker({ log, clock, metrics }),
  };
}

test('many updates of one service between syncs collapse into one pending change', async () => {
  const { services, metrics } = trackers();
  assert.equal(services.update(service('web', '172.30.0.1')), 'default/web');
  assert.equal(services.update(service('web', '172.30.0.1', { ports: [{ name: 'http', port: 81 }], resourceVersion: '2' })), 'default/web');
  assert.equal(services.update(service('web', '172.30.0.1', { ports: [{ name: 'http', port: 82 }], resourceVersion: '3' })), 'default/web');
  assert.equal(services.update(service('db', '172.30.0.2')), 'default/db');
  assert.deepEqual([...services.pendingKeys()].sort(), ['default/db', 'default/web']);
  assert.equal(await value(metrics.serviceChangesPending), 2);
  assert.equal(await value(metrics.serviceChangesTotal), 4);
  assert.deepEqual([...services.take()].sort(), ['default/db', 'default/web']);
  assert.equal(services.pendingKeys().size, 0);
  assert.equal(await value(metrics.serviceChangesPending), 0);
  assert.equal(services.get('default/web')?.spec?.ports?.[0]?.port, 82, 'the last-seen object is the newest');
});

test('an update that only bumps resourceVersion or managedFields is a no-op', async () => {
  const { services, endpoints, metrics } = trackers();
  services.update(service('web', '172.30.0.1'));
  endpoints.update(slice('web', 'web-1', [{ ip: '10.0.0.1' }]));
  services.take(); endpoints.take();
  const bumped = service('web', '172.30.0.1', { resourceVersion: '99' });
  (bumped.metadata as Record<string, unknown>).managedFields = [{ manager: 'kubectl' }];
  assert.equal(services.update(bumped), null);
  assert.equal(endpoints.update(slice('web', 'web-1', [{ ip: '10.0.0.1' }], { resourceVersion: '42' })), null);
  assert.equal(services.pendingKeys().size + endpoints.pendingKeys().size, 0);
  assert.equal(await value(metrics.serviceChangesTotal), 1);
  assert.equal(await value(metrics.endpointChangesTotal), 1);
  // A real change after the no-op still counts.
  assert.equal(endpoints.update(slice('web', 'web-1', [{ ip: '10.0.0.2' }], { resourceVersion: '43' })), 'default/web');
});

test('sameObject ignores volatile metadata but not labels, annotations or spec', () => {
  const a = service('web', '172.30.0.1');
  assert.equal(sameObject(a, service('web', '172.30.0.1', { resourceVersion: '7' })), true);
  assert.equal(sameObject(a, service('web', '172.30.0.2')), false);
  const labelled = service('web', '172.30.0.1');
  labelled.metadata!.labels = { app: 'x' };
  assert.equal(sameObject(a, labelled), false);
});

test('a service and its slices map to the same ServiceKey; slices are grouped per service', () => {
  const { services, endpoints } = trackers();
  services.update(service('web', '172.30.0.1', { namespace: 'shop' }));
  endpoints.update(slice('web', 'web-abc', [{ ip: '10.0.0.1' }], { namespace: 'shop' }));
  endpoints.update(slice('web', 'web-def', [{ ip: '10.0.0.2' }], { namespace: 'shop' }));
  endpoints.update(slice('web', 'web-v6', [{ ip: 'fd00:10::1' }], { namespace: 'shop', addressType: 'IPv6' }));
  assert.deepEqual([...services.pendingKeys()], ['shop/web']);
  assert.deepEqual([...endpoints.pendingKeys()], ['shop/web']);
  assert.deepEqual(endpoints.slicesFor('shop/web').map((s) => s.metadata?.name).sort(), ['web-abc', 'web-def', 'web-v6']);
  assert.deepEqual(endpoints.slicesFor('default/web'), []);
});

test('a slice whose service label changes marks both the old and the new service', () => {
  const { endpoints } = trackers();
  endpoints.update(slice('web', 'shared', [{ ip: '10.0.0.1' }]));
  endpoints.take();
  assert.equal(endpoints.update(slice('api', 'shared', [{ ip: '10.0.0.1' }], { resourceVersion: '2' })), 'default/api');
  assert.deepEqual([...endpoints.pendingKeys()].sort(), ['default/api', 'default/web']);
  assert.deepEqual(endpoints.slicesFor('default/web'), []);
  assert.equal(endpoints.slicesFor('default/api').length, 1);
});

test('deleting a known slice or service is a change; deleting an unknown one is not', () => {
  const { services, endpoints } = trackers();
  assert.equal(services.delete(service('ghost', '172.30.0.9')), null);
  assert.equal(endpoints.delete(slice('ghost', 'ghost-1', [])), null);
  services.update(service('web', '172.30.0.1'));
  endpoints.update(slice('web', 'web-1', [{ ip: '10.0.0.1' }]));
  services.take(); endpoints.take();
  assert.equal(endpoints.delete(slice('web', 'web-1', [])), 'default/web');
  assert.equal(services.delete(service('web', '172.30.0.1')), 'default/web');
  assert.equal(services.get('default/web'), undefined);
  assert.deepEqual(endpoints.slicesFor('default/web'), []);
});

test('objects without a usable name or service label are skipped, not thrown', () => {
  const { services, endpoints } = trackers();
  assert.equal(services.update({ metadata: { name: 'Bad_Name' } }), null);
  assert.equal(services.update({}), null);
  const unlabelled = slice('web', 'web-1', [{ ip: '10.0.0.1' }]);
  delete unlabelled.metadata!.labels;
  assert.equal(endpoints.update(unlabelled), null);
  assert.equal(services.size + endpoints.size, 0);
});

test('last-change-trigger-time is kept per service, only when newer than the tracker and not for deletions', () => {
  const { endpoints, clock } = trackers();
  const start = clock.now();
  endpoints.update(slice('web', 'web-1', [{ ip: '10.0.0.1' }], { triggerTime: start - 60_000 })); // initial list: too old
  endpoints.update(slice('web', 'web-2', [{ ip: '10.0.0.2' }], { triggerTime: start + 1000 }));
  endpoints.update(slice('web', 'web-2', [{ ip: '10.0.0.3' }], { triggerTime: start + 2000, resourceVersion: '2' }));
  endpoints.update(slice('db', 'db-1', [{ ip: '10.0.0.4' }], { triggerTime: start + 3000 }));
  const bad = slice('api', 'api-1', [{ ip: '10.0.0.5' }]);
  bad.metadata!.annotations = { 'endpoints.kubernetes.io/last-change-trigger-time': 'yesterday' };
  endpoints.update(bad);
  let taken = endpoints.take();
  assert.deepEqual(Object.fromEntries(taken.triggerTimes), { 'default/web': [start + 1000, start + 2000], 'default/db': [start + 3000] });
  endpoints.update(slice('db', 'db-1', [{ ip: '10.0.0.9' }], { triggerTime: start + 4000, resourceVersion: '2' }));
  endpoints.delete(slice('db', 'db-1', []));
  taken = endpoints.take();
  assert.deepEqual(Object.fromEntries(taken.triggerTimes), {}, 'a deletion drops the service\'s trigger times');
  assert.deepEqual([...taken.services], ['default/db']);
});

test('requeue after a failed sync puts changes and trigger times back', () => {
  const { services, endpoints, clock } = trackers();
  services.update(service('web', '172.30.0.1'));
  endpoints.update(slice('web', 'web-1', [{ ip: '10.0.0.1' }], { triggerTime: clock.now() + 5 }));
  const s = services.take();
  const e = endpoints.take();
  services.requeue(s);
  endpoints.requeue(e);
  assert.deepEqual([...services.take()], ['default/web']);
  assert.deepEqual(Object.fromEntries(endpoints.take().triggerTimes), { 'default/web': [clock.now() + 5] });
});

test('node tracker: labels and addresses change the model; taints and deletion change only eligibility', () => {
  const t = new NodeTracker({ nodeName: NODE, log: memoryLogger() });
  assert.deepEqual(t.update(node({ 'topology.kubernetes.io/zone': 'z1' })), { modelChanged: true, eligible: true, eligibilityChanged: false });
  assert.equal(t.update(node({ 'topology.kubernetes.io/zone': 'z1' }))?.modelChanged, false);
  assert.equal(t.update(node({ 'topology.kubernetes.io/zone': 'z2' }))?.modelChanged, true);
  assert.deepEqual(t.update(node({ 'topology.kubernetes.io/zone': 'z2' }, { taints: [{ key: 'ToBeDeletedByClusterAutoscaler', effect: 'NoSchedule' }] })),
    { modelChanged: false, eligible: false, eligibilityChanged: true });
  assert.deepEqual(t.update(node({ 'topology.kubernetes.io/zone': 'z2' })), { modelChanged: false, eligible: true, eligibilityChanged: true });
  assert.equal(t.update(node({ 'topology.kubernetes.io/zone': 'z2' }, { deleting: true }))?.eligible, false);
  assert.equal(t.update(node({}, { name: 'someone-else' })), null);
  assert.equal(t.node?.metadata?.name, NODE);
});

test('cluster cache: initialized only once both Services and EndpointSlices are synced', async () => {
  const events: string[] = [];
  const cache = new ClusterCache({
    nodeName: NODE, clock: new FakeClock(), log: memoryLogger(),
    onChange: (kind, full) => events.push(`${kind}:${full ? 'full' : 'partial'}`),
    onNodeEligibility: (e) => events.push(`eligible:${e}`),
    onInitialized: () => events.push('initialized'),
  });
  let resolved = false;
  void cache.whenInitialized().then(() => { resolved = true; });
  cache.upsert({ kind: 'Service', obj: service('web', '172.30.0.1') });
  cache.synced('Service');
  cache.synced('Node');
  await new Promise((r) => setImmediate(r));
  assert.equal(cache.isInitialized(), false);
  assert.equal(resolved, false);
  cache.upsert({ kind: 'EndpointSlice', obj: slice('web', 'web-1', [{ ip: '10.0.0.1' }]) });
  cache.synced('EndpointSlice');
  await new Promise((r) => setImmediate(r));
  assert.equal(resolved, true);
  cache.upsert({ kind: 'Node', obj: node({ a: 'b' }) });
  cache.upsert({ kind: 'Node', obj: node({ a: 'b' }, { deleting: true }) });
  cache.upsert({ kind: 'Service', obj: service('web', '172.30.0.1', { resourceVersion: '5' }) }); // no-op
  assert.deepEqual(events, ['Service:partial', 'EndpointSlice:partial', 'initialized', 'Node:full', 'eligible:false']);
  const taken = cache.take();
  assert.deepEqual([...taken.services], ['default/web']);
});
