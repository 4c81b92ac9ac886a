/**
 * A relist after etcd compacted the watch's resourceVersion. The API server runs without its watch cache,
 * so watches are served by etcd itself and a resumed watch gets 410 Gone once its resourceVersion is
 * compacted away. kpx reaches the API server through a relay the test cuts, like a partition: changes
 * made meanwhile (a deletion among them) are then known only to a fresh list, which kpx must make and
 * apply, deletions included, with no rule lost for what did not change.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pollUntil } from '../../support/poll-until.js';
import type { ApiRelay } from '../../support/real-apiserver.js';
import { SKIP, CHANGE_TIMEOUT_MS, httpService, useRealCluster } from './real-cluster.js';

const RELAY_PORT = 16443;
const kept = httpService('kept', '10.96.7.10');
const gone = httpService('gone', '10.96.7.11');
const added = httpService('added', '10.96.7.12');
const later = httpService('later', '10.96.7.13');

describe('kube source against a real API server: a relist after etcd compaction', { skip: SKIP }, () => {
  let relay: ApiRelay | undefined;
  const cluster = useRealCluster({
    pods: [{ name: 'pod1', node: 1 }, { name: 'pod2', node: 1 }],
    watchCache: false,
    async setup(c) {
      relay = await c.api.relay(RELAY_PORT);
      await c.applyService(kept, ['pod1']);
      await c.applyService(gone, ['pod1']);
    },
    kubeconfig: async (c) => c.api.kubeProxyKubeconfigFor(relay!.server),
  });

  test('changes made while kpx was cut off and compacted away in etcd are applied from a fresh list', async () => {
    const { c } = cluster;
    await c.expectPods(kept.clusterIP, 80, ['pod1']);
    await c.expectPods(gone.clusterIP, 80, ['pod1']);

    await relay!.cut();
    await c.removeService(gone);
    await c.applyService(kept, ['pod2']);
    await c.applyService(added, ['pod2']);
    const compactedAt = await c.api.compactEtcd();
    // Cut off, kpx keeps what it knew.
    const meanwhile = await c.answers(gone.clusterIP, 80, 4);
    assert.deepEqual(meanwhile.pods, ['pod1'], JSON.stringify(meanwhile.results));

    const restoredAt = Date.now();
    await relay!.restore();
    await c.expectGone(gone.clusterIP, 80);
    await c.expectPods(kept.clusterIP, 80, ['pod2']);
    await c.expectPods(added.clusterIP, 80, ['pod2']);
    // Only a 410 makes client-node list again after a broken watch (else it resumes the watch).
    const relists = () => c.api.auditEvents().filter((e) => e.verb === 'list' && e.resource === 'services' && e.at >= restoredAt);
    await pollUntil(() => relists().length > 0, { timeoutMs: CHANGE_TIMEOUT_MS, message: `no list of services after etcd was compacted at revision ${compactedAt}` });
  });

  test('after the relist the watch goes on', async () => {
    const { c } = cluster;
    await c.applyService(later, ['pod1']);
    await c.expectPods(later.clusterIP, 80, ['pod1']);
    await c.applyService(kept, ['pod1', 'pod2']);
    await c.expectPods(kept.clusterIP, 80, ['pod1', 'pod2']);
  });
});
