import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createProxyMetrics } from '../../../src/server/metrics.js';
import { FULL_SYNC_PERIOD_MS, Proxier, type HealthRecorder, type ServiceHealthSyncer } from '../../../src/sync/proxier.js';
import type { ServiceHealthEntry } from '../../../src/sync/service-health-entries.js';
import type { IPFamily } from '../../../src/model/types.js';
import { FakeClock } from '../../support/fake-clock.js';
import { clusterNode as node, clusterIPService as service, endpointSliceFor as slice } from '../../support/api-objects.js';
import { memoryLogger } from '../../support/logger.js';
import { RecordingBackend, NODE, NODE_IP } from './fixtures.js';

class RecordingHealth implements HealthRecorder {
  readonly events: string[] = [];
  queuedUpdate(f: IPFamily): void { this.events.push(`queued:${f}`); }
  updated(f: IPFamily): void { this.events.push(`updated:${f}`); }
  setNodeEligible(e: boolean): void { this.events.push(`eligible:${e}`); }
}

class RecordingServiceHealth implements ServiceHealthSyncer {
  readonly calls: ServiceHealthEntry[][] = [];
  async sync(entries: readonly ServiceHealthEntry[]): Promise<void> { this.calls.push([...entries]); }
}

function setup(opts: { backends?: RecordingBackend[]; prepare?: () => Promise<void> } = {}) {
  const clock = new FakeClock();
  const metrics = createProxyMetrics(new Registry());
  const backends = opts.backends ?? [new RecordingBackend('IPv4')];
  const health = new RecordingHealth();
  const serviceHealth = new RecordingServiceHealth();
  const logLines: string[] = [];
  const proxier = new Proxier({
    nodeName: NODE, backends, hostAddresses: [NODE_IP, '127.0.0.1'], nodePortAddresses: [], localhostNodePorts: true,
    minSyncPeriodMs: 1000, syncPeriodMs: 30_000, clock, log: memoryLogger(logLines), metrics, health, serviceHealth,
    prepare: opts.prepare,
  });
  return { clock, metrics, backend: backends[0], backends, health, serviceHealth, proxier, logLines };
}

/** Loads two services with one slice each and marks every kind synced. */
function loadCluster(p: Proxier): void {
  p.upsert({ kind: 'Node', obj: node({ 'topology.kubernetes.io/zone': 'z1' }) });
  p.upsert({ kind: 'Service', obj: service('web', '172.30.0.10') });
  p.upsert({ kind: 'Service', obj: service('db', '172.30.0.20') });
  p.upsert({ kind: 'EndpointSlice', obj: slice('web', 'web-1', [{ ip: '10.0.1.1' }, { ip: '10.0.1.2', node: NODE }]) });
  p.upsert({ kind: 'EndpointSlice', obj: slice('db', 'db-1', [{ ip: '10.0.2.1' }]) });
  p.synced('Node');
  p.synced('Service');
  p.synced('EndpointSlice');
}

test('nothing is synced before both Services and EndpointSlices are synced, then one full sync', async () => {
  const { clock, backend, proxier } = setup();
  proxier.start();
  proxier.upsert({ kind: 'Service', obj: service('web', '172.30.0.10') });
  proxier.upsert({ kind: 'EndpointSlice', obj: slice('web', 'web-1', [{ ip: '10.0.1.1' }]) });
  proxier.synced('Service');
  await clock.tick(120_000);
  assert.equal(backend.syncs.length, 0, 'EndpointSlices not listed yet: no sync');
  proxier.synced('EndpointSlice');
  await clock.tick(0);
  assert.equal(backend.syncs.length, 1);
  const first = backend.syncs[0];
  assert.equal(first.changed.full, true);
  assert.deepEqual([...first.state.services.keys()], ['default/web:http']);
  assert.deepEqual(first.state.services.get('default/web:http')?.endpoints.map((e) => e.key), ['10.0.1.1:8080']);
  await proxier.stop();
});

test('one endpoint change gives a partial ChangeSet naming just that service, recomputing only it', async () => {
  const { clock, backend, proxier } = setup();
  proxier.start();
  loadCluster(proxier);
  await clock.tick(5000);
  assert.equal(backend.syncs.length, 1);
  const before = backend.syncs[0].state;
  proxier.upsert({ kind: 'EndpointSlice', obj: slice('web', 'web-1', [{ ip: '10.0.1.1' }, { ip: '10.0.1.2', node: NODE }, { ip: '10.0.1.3' }], { resourceVersion: '2' }) });
  await clock.tick(0);
  assert.equal(backend.syncs.length, 2);
  const { changed, state } = backend.syncs[1];
  assert.equal(changed.full, false);
  assert.deepEqual([...changed.services], ['default/web']);
  assert.deepEqual(state.services.get('default/web:http')?.endpoints.map((e) => e.key), ['10.0.1.1:8080', '10.0.1.2:8080', '10.0.1.3:8080']);
  assert.equal(state.services.get('default/db:http'), before.services.get('default/db:http'), 'the unchanged service was not recomputed');
  assert.notEqual(state.services, before.services, 'the previous state is not mutated');
  assert.deepEqual(before.services.get('default/web:http')?.endpoints.map((e) => e.key), ['10.0.1.1:8080', '10.0.1.2:8080']);
  await proxier.stop();
});

test('a burst of updates to one service collapses into one partial sync; no-op updates sync nothing', async () => {
  const { clock, backend, proxier } = setup();
  proxier.start();
  loadCluster(proxier);
  await clock.tick(0);
  for (let i = 3; i < 20; i++) {
    proxier.upsert({ kind: 'EndpointSlice', obj: slice('db', 'db-1', [{ ip: `10.0.2.${i}` }], { resourceVersion: String(i) }) });
    proxier.upsert({ kind: 'Service', obj: service('db', '172.30.0.20', { resourceVersion: String(i) }) }); // no-op
  }
  await clock.tick(1000);
  assert.equal(backend.syncs.length, 2);
  assert.deepEqual([...backend.syncs[1].changed.services], ['default/db']);
  assert.deepEqual(backend.syncs[1].state.services.get('default/db:http')?.endpoints.map((e) => e.ip), ['10.0.2.19']);
  proxier.upsert({ kind: 'Service', obj: service('db', '172.30.0.20', { resourceVersion: '100' }) });
  await clock.tick(5000);
  assert.equal(backend.syncs.length, 2, 'a no-op update does not sync');
  await proxier.stop();
});

test('a failed sync makes the next one full and still carries the changed service', async () => {
  const { clock, backend, proxier, logLines } = setup();
  proxier.start();
  loadCluster(proxier);
  await clock.tick(0);
  backend.results = [{ ok: false, error: { code: 'KPX_IPTABLES_RESTORE', message: 'line 7 failed' } }];
  proxier.upsert({ kind: 'Service', obj: service('web', '172.30.0.10', { ports: [{ name: 'http', port: 8000, targetPort: 8080 }], resourceVersion: '2' }) });
  await clock.tick(0); // the burst allows it at once
  assert.equal(backend.syncs.length, 2);
  assert.equal(backend.syncs[1].changed.full, false);
  await clock.tick(1000); // first retry after 1 s
  assert.equal(backend.syncs.length, 3);
  assert.equal(backend.syncs[2].changed.full, true);
  assert.deepEqual([...backend.syncs[2].changed.services], ['default/web']);
  assert.equal(backend.syncs[2].state.services.get('default/web:http')?.port, 8000);
  assert.ok(logLines.some((l) => l.startsWith('E syncing proxy rules failed') && l.includes('KPX_IPTABLES_RESTORE')));
  await proxier.stop();
});

test('a backend that throws is treated as a failed sync, not a crash', async () => {
  const { clock, backend, proxier } = setup();
  backend.throwNext = true;
  proxier.start();
  loadCluster(proxier);
  await clock.tick(1000);
  assert.equal(backend.syncs.length, 2);
  assert.equal(backend.syncs[1].changed.full, true);
  await proxier.stop();
});

test('network-programming latency is observed from the slice annotation when the sync finishes', async () => {
  const { clock, metrics, proxier } = setup();
  proxier.start();
  loadCluster(proxier);
  await clock.tick(10_000);
  const changedAt = clock.now() - 2500; // the endpoints controller saw the pod change 2.5 s ago
  proxier.upsert({ kind: 'EndpointSlice', obj: slice('db', 'db-1', [{ ip: '10.0.2.9' }], { triggerTime: changedAt, resourceVersion: '2' }) });
  await clock.tick(0);
  const h = await metrics.networkProgrammingDuration.get();
  const count = h.values.find((v) => v.metricName === 'kubeproxy_network_programming_duration_seconds_count')?.value;
  const sum = h.values.find((v) => v.metricName === 'kubeproxy_network_programming_duration_seconds_sum')?.value;
  assert.equal(count, 1);
  assert.equal(sum, 2.5);
  await proxier.stop();
});

test('a model-affecting node change forces a full sync recomputing every service', async () => {
  const { clock, backend, proxier, health } = setup();
  proxier.start();
  loadCluster(proxier);
  await clock.tick(5000);
  const before = backend.last!.state;
  proxier.upsert({ kind: 'Node', obj: node({ 'topology.kubernetes.io/zone': 'z2' }) });
  await clock.tick(0);
  assert.equal(backend.syncs.length, 2);
  assert.equal(backend.last!.changed.full, true);
  assert.equal(backend.last!.state.node.zone, 'z2');
  assert.notEqual(backend.last!.state.services.get('default/db:http'), before.services.get('default/db:http'));
  // A taint changes only eligibility: /healthz learns of it, no sync is queued.
  proxier.upsert({ kind: 'Node', obj: node({ 'topology.kubernetes.io/zone': 'z2' }, { taints: [{ key: 'ToBeDeletedByClusterAutoscaler', effect: 'NoSchedule' }] }) });
  await clock.tick(5000);
  assert.equal(backend.syncs.length, 2);
  assert.ok(health.events.includes('eligible:false'));
  await proxier.stop();
});

test('health: queued on each change after initialization, updated per family after a successful sync', async () => {
  const v4 = new RecordingBackend('IPv4');
  const v6 = new RecordingBackend('IPv6');
  const { clock, proxier, health } = setup({ backends: [v4, v6] });
  proxier.start();
  loadCluster(proxier);
  await clock.tick(0);
  assert.deepEqual(health.events, ['updated:IPv4', 'updated:IPv6']);
  health.events.length = 0;
  v6.results = [{ ok: false, error: { code: 'KPX_IPVS_SYNC', message: 'v6 failed' } }];
  proxier.upsert({ kind: 'Service', obj: service('web', '172.30.0.10', { ports: [{ name: 'http', port: 81 }], resourceVersion: '2' }) });
  await clock.tick(0);
  assert.deepEqual(health.events, ['queued:IPv4', 'queued:IPv6', 'updated:IPv4']);
  await clock.tick(1000);
  assert.equal(v4.last!.changed.full, true, 'a failure in one family makes the next sync full for both');
  assert.equal(v6.last!.changed.full, true);
  assert.equal(v6.last!.state.family, 'IPv6');
  await proxier.stop();
});

test('health-check node port entries and no-local-endpoint counts follow externalTrafficPolicy=Local', async () => {
  const { clock, proxier, serviceHealth, metrics } = setup();
  proxier.start();
  loadCluster(proxier);
  proxier.upsert({ kind: 'Service', obj: service('lb', '172.30.0.30', {
    type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 32000,
    ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
  }) });
  proxier.upsert({ kind: 'EndpointSlice', obj: slice('lb', 'lb-1', [{ ip: '10.0.3.1' }]) });
  await clock.tick(0);
  assert.deepEqual(serviceHealth.calls.at(-1), [{ namespace: 'default', name: 'lb', port: 32000, localEndpoints: 0 }]);
  const gauge = await metrics.noLocalEndpointsTotal.get();
  assert.equal(gauge.values.find((v) => v.labels.traffic_policy === 'external')?.value, 1);
  proxier.upsert({ kind: 'EndpointSlice', obj: slice('lb', 'lb-1', [{ ip: '10.0.3.1' }, { ip: '10.0.3.2', node: NODE }], { resourceVersion: '2' }) });
  await clock.tick(1000);
  assert.deepEqual(serviceHealth.calls.at(-1), [{ namespace: 'default', name: 'lb', port: 32000, localEndpoints: 1 }]);
  const gauge2 = await metrics.noLocalEndpointsTotal.get();
  assert.equal(gauge2.values.find((v) => v.labels.traffic_policy === 'external')?.value, 0);
  await proxier.stop();
});

test('prepare (other modes\' cleanup, init) runs once before the first sync and is retried until it works', async () => {
  const calls: number[] = [];
  let failures = 1;
  const clockHolder: { clock?: FakeClock } = {};
  const { clock, backend, proxier } = setup({
    prepare: async () => { calls.push(clockHolder.clock!.now()); if (failures-- > 0) throw new Error('iptables busy'); },
  });
  clockHolder.clock = clock;
  const t0 = clock.now();
  proxier.start();
  loadCluster(proxier);
  await clock.tick(0);
  assert.equal(backend.syncs.length, 0, 'no sync while prepare fails');
  await clock.tick(1000);
  assert.deepEqual(calls.map((t) => t - t0), [0, 1000]);
  assert.equal(backend.syncs.length, 1);
  assert.equal(backend.syncs[0].changed.full, true);
  await clock.tick(60_000);
  assert.equal(calls.length, 2, 'prepare runs only until it succeeds');
  await proxier.stop();
});

test('deleting a service removes its ports in a partial sync', async () => {
  const { clock, backend, proxier } = setup();
  proxier.start();
  loadCluster(proxier);
  await clock.tick(5000);
  proxier.remove({ kind: 'Service', obj: service('db', '172.30.0.20') });
  proxier.remove({ kind: 'EndpointSlice', obj: slice('db', 'db-1', []) });
  await clock.tick(0);
  assert.equal(backend.last!.changed.full, false);
  assert.deepEqual([...backend.last!.changed.services], ['default/db']);
  assert.deepEqual([...backend.last!.state.services.keys()], ['default/web:http']);
  await proxier.stop();
});

test('periodic syncs happen every sync period and are partial; a full one comes at most hourly', async () => {
  const { clock, backend, proxier } = setup();
  proxier.start();
  loadCluster(proxier);
  await clock.tick(61_000);
  assert.deepEqual(backend.syncs.map((s) => s.changed.full), [true, false, false]);
  assert.deepEqual([...backend.syncs[1].changed.services], [], 'a periodic sync carries no change');
  assert.equal(backend.syncs[1].state, backend.syncs[0].state, 'nothing changed: the same state object is handed over');
  await clock.tick(FULL_SYNC_PERIOD_MS - 61_000);
  const fulls = backend.syncs.filter((s) => s.changed.full).length;
  assert.equal(fulls, 2, 'the hourly full sync');
  await proxier.stop();
});

test('each sync is announced on the kpx:sync:start and kpx:sync:end diagnostics channels', async () => {
  const { subscribe, unsubscribe } = await import('node:diagnostics_channel');
  const seen: string[] = [];
  const onStart = (m: unknown) => { seen.push(`start full=${(m as { full: boolean }).full}`); };
  const onEnd = (m: unknown) => { const e = m as { ok: boolean; changed: string[] }; seen.push(`end ok=${e.ok} changed=${e.changed.join(',')}`); };
  subscribe('kpx:sync:start', onStart);
  subscribe('kpx:sync:end', onEnd);
  try {
    const { clock, proxier } = setup();
    proxier.start();
    loadCluster(proxier);
    await clock.tick(5000);
    proxier.upsert({ kind: 'EndpointSlice', obj: slice('db', 'db-1', [{ ip: '10.0.2.7' }], { resourceVersion: '2' }) });
    await clock.tick(0);
    await proxier.stop();
    assert.deepEqual(seen, ['start full=true', 'end ok=true changed=default/web,default/db', 'start full=false', 'end ok=true changed=default/db']);
  } finally {
    unsubscribe('kpx:sync:start', onStart);
    unsubscribe('kpx:sync:end', onEnd);
  }
});
