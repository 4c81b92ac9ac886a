/**
 * kpx against a real kube-apiserver (and etcd) as the user system:kube-proxy, with kubeadm's RBAC
 * defaults (system:node-proxier): Services, EndpointSlices and this node's Node object are listed at
 * start and watched afterwards, and every change made through the API server shows in real traffic.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServiceSpec } from '../../../src/sandbox/manifests.js';
import { endpointSliceManifest, serviceManifest } from '../../../src/sandbox/manifests.js';
import type { JsonObject } from '../../support/real-apiserver.js';
import { SKIP, httpService, useRealCluster, type RealCluster } from './real-cluster.js';

const ZONE_LABEL = 'topology.kubernetes.io/zone';
const web = httpService('web', '10.96.5.10');
const late = httpService('late', '10.96.5.11');
const zoned = httpService('zoned', '10.96.5.12');

/** zoned's slice: pod1 hinted for zone-a, pod2 for zone-b (as the EndpointSlice controller writes hints). */
async function applyZoned(c: RealCluster): Promise<void> {
  await c.api.apply(serviceManifest(zoned) as JsonObject);
  const slice = endpointSliceManifest(zoned, c.endpoints(['pod1', 'pod2'])) as JsonObject;
  slice.endpoints = (slice.endpoints as JsonObject[]).map((e, i) => ({ ...e, hints: { forZones: [{ name: i === 0 ? 'zone-a' : 'zone-b' }] } }));
  await c.api.apply(slice);
}

describe('kube source against a real API server: list and watch', { skip: SKIP }, () => {
  const cluster = useRealCluster({
    pods: [{ name: 'pod1', node: 1 }, { name: 'pod2', node: 1 }],
    async setup(c) {
      await c.api.apply(c.nodeObject({ [ZONE_LABEL]: 'zone-a' }));
      await c.applyService(web, ['pod1']);
      await applyZoned(c);
    },
  });

  test('services and endpoints that existed before kpx started are served from its first list', async () => {
    await cluster.c.expectPods(web.clusterIP, 80, ['pod1']);
  });

  test('a Service and EndpointSlice created later reach traffic through the watch', async () => {
    const { c } = cluster;
    await c.applyService(late, ['pod2']);
    await c.expectPods(late.clusterIP, 80, ['pod2']);
  });

  test('an EndpointSlice update moves the traffic to the new endpoints', async () => {
    const { c } = cluster;
    await c.applyService(web, ['pod1', 'pod2']);
    await c.expectPods(web.clusterIP, 80, ['pod1', 'pod2']);
    await c.applyService(web, ['pod2']);
    await c.expectPods(web.clusterIP, 80, ['pod2']);
  });

  test('a Service update (its port) is followed: the new port answers, the old one no longer does', async () => {
    const { c } = cluster;
    const moved: ServiceSpec = { ...web, ports: [{ name: 'http', port: 81, targetPort: 8080 }] };
    await c.api.apply(serviceManifest(moved) as JsonObject);
    await c.expectPods(web.clusterIP, 81, ['pod2']);
    // Nothing proxies port 80 of the ClusterIP any more: the connection goes nowhere.
    const old = await c.answers(web.clusterIP, 80, 1);
    assert.deepEqual(old.pods, [], `port 80 still answered: ${JSON.stringify(old.results)}`);
  });

  test('a deleted Service stops answering', async () => {
    const { c } = cluster;
    await c.expectPods(late.clusterIP, 80, ['pod2']);
    await c.removeService(late);
    await c.expectGone(late.clusterIP, 80);
  });

  test("the Node's zone label picks the topology hints, and a change of the label is followed", async () => {
    const { c } = cluster;
    await c.expectPods(zoned.clusterIP, 80, ['pod1']);
    await c.api.apply(c.nodeObject({ [ZONE_LABEL]: 'zone-b' }));
    await c.expectPods(zoned.clusterIP, 80, ['pod2']);
  });
});
