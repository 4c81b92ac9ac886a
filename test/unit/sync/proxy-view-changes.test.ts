/**
 * Change tracking compares the proxy's view: only services whose computed ServicePorts changed reach the
 * modes, as kube-proxy's change trackers compare the service ports they computed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createProxyMetrics } from '../../../src/server/metrics.js';
import { Proxier } from '../../../src/sync/proxier.js';
import { FakeClock } from '../../support/fake-clock.js';
import { clusterIPService as service, endpointSliceFor as slice } from '../../support/api-objects.js';
import { memoryLogger } from '../../support/logger.js';
import { RecordingBackend, NODE, NODE_IP } from './fixtures.js';

async function synced() {
  const clock = new FakeClock();
  const backend = new RecordingBackend('IPv4');
  const proxier = new Proxier({
    nodeName: NODE, backends: [backend], hostAddresses: [NODE_IP], nodePortAddresses: [], localhostNodePorts: true,
    minSyncPeriodMs: 1000, syncPeriodMs: 30_000, clock, log: memoryLogger(), metrics: createProxyMetrics(new Registry()),
  });
  proxier.start();
  proxier.upsert({ kind: 'Service', obj: service('web', '172.30.0.10') });
  proxier.upsert({ kind: 'EndpointSlice', obj: slice('web', 'web-1', [{ ip: '10.0.1.1' }]) });
  proxier.synced('Node');
  proxier.synced('Service');
  proxier.synced('EndpointSlice');
  await clock.tick(0);
  assert.equal(backend.syncs.length, 1);
  return { clock, backend, proxier };
}

test('an annotation edit of a service reaches no mode as a changed service', async () => {
  const { clock, backend, proxier } = await synced();
  const edited = service('web', '172.30.0.10', { resourceVersion: '2' });
  edited.metadata = { ...edited.metadata, annotations: { 'example.com/owner': 'team-a' } };
  proxier.upsert({ kind: 'Service', obj: edited });
  await clock.tick(1000);
  assert.equal(backend.syncs.length, 2, 'the edit was synced');
  assert.deepEqual([...backend.syncs[1].changed.services], []);
  await proxier.stop();
});

test('a port changed and changed back inside one sync window reaches no mode as a changed service', async () => {
  const { clock, backend, proxier } = await synced();
  proxier.upsert({ kind: 'Service', obj: service('web', '172.30.0.10', { ports: [{ name: 'http', port: 8000, targetPort: 8080 }], resourceVersion: '2' }) });
  proxier.upsert({ kind: 'Service', obj: service('web', '172.30.0.10', { resourceVersion: '3' }) });
  await clock.tick(1000);
  assert.equal(backend.syncs.length, 2, 'the edit was synced');
  assert.deepEqual([...backend.syncs[1].changed.services], []);
  await proxier.stop();
});

test('a real port change still reaches the mode as a changed service', async () => {
  const { clock, backend, proxier } = await synced();
  proxier.upsert({ kind: 'Service', obj: service('web', '172.30.0.10', { ports: [{ name: 'http', port: 8000, targetPort: 8080 }], resourceVersion: '2' }) });
  await clock.tick(1000);
  assert.equal(backend.syncs.length, 2);
  assert.deepEqual([...backend.syncs[1].changed.services], ['default/web']);
  await proxier.stop();
});
