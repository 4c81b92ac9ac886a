/**
 * The API server restarted: while it is down kpx keeps its rules (periodic syncs included), and once it
 * is back kpx reconnects (its watch cache is new, so resumed watches are answered 410 and kpx lists
 * again) and applies the changes made since.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nowSeconds } from '../../../src/sandbox/kpx-runner.js';
import { SKIP, httpService, useRealCluster } from './real-cluster.js';

const web = httpService('web', '10.96.8.10');
const late = httpService('late', '10.96.8.11');

describe('kube source against a real API server that restarts', { skip: SKIP }, () => {
  const cluster = useRealCluster({
    pods: [{ name: 'pod1', node: 1 }, { name: 'pod2', node: 1 }],
    async setup(c) {
      await c.applyService(web, ['pod1']);
    },
    // A short period, so a periodic sync runs while the API server is down.
    kpxArgs: ['--iptables-sync-period', '2s'],
  });

  test('while the API server is down, kpx keeps its rules through its periodic syncs', async () => {
    const { c } = cluster;
    await c.expectPods(web.clusterIP, 80, ['pod1']);
    await c.api.stopApiServer();
    const since = nowSeconds();
    await c.kpx!.waitForSync(since, { requireQueued: false, timeoutMs: 20_000 });
    await c.expectPods(web.clusterIP, 80, ['pod1'], 0);
  });

  test('once the API server is back, kpx catches up with the changes made since', async () => {
    const { c } = cluster;
    const restartedAt = Date.now();
    await c.api.startApiServer();
    await c.applyService(web, ['pod2']);
    await c.applyService(late, ['pod1']);
    await c.expectPods(web.clusterIP, 80, ['pod2']);
    await c.expectPods(late.clusterIP, 80, ['pod1']);
    await c.removeService(late);
    await c.expectGone(late.clusterIP, 80);
    // The new server's watch cache starts at etcd's current revision: resuming from kpx's older one is 410 Gone.
    const relists = c.api.auditEvents().filter((e) => e.verb === 'list' && e.resource === 'services' && e.at >= restartedAt);
    assert.ok(relists.length > 0, 'kpx did not list the services again after the restart');
  });
});
