/**
 * 5,000 Services (and their EndpointSlices) on a real API server, ClusterIPs allocated by it: kpx's first
 * list takes them all, its first sync programs them all, and the watch goes on at that size.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServiceSpec } from '../../../src/sandbox/manifests.js';
import { endpointSliceManifest, serviceManifest } from '../../../src/sandbox/manifests.js';
import type { JsonObject } from '../../support/real-apiserver.js';
import { SKIP, httpService, useRealCluster, type RealCluster } from './real-cluster.js';

const COUNT = 5000;
const NAMESPACE = 'scale';
const PODS = ['pod1', 'pod2'];

function spec(i: number): ServiceSpec {
  return { ...httpService(`svc-${i}`, ''), namespace: NAMESPACE };
}

/** A Service without a clusterIP, so the API server allocates one, as for any Service users create. */
function serviceObject(s: ServiceSpec): JsonObject {
  const obj = serviceManifest(s) as JsonObject;
  delete obj.spec.clusterIP;
  delete obj.spec.clusterIPs;
  return obj;
}

/** The ClusterIP the API server gave each service, by index. */
const clusterIPs: string[] = [];

async function createAll(c: RealCluster): Promise<void> {
  await c.api.ok('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });
  const specs = Array.from({ length: COUNT }, (_, i) => spec(i));
  const created = await c.api.createMany(specs.map(serviceObject), { concurrency: 48, pick: ['spec.clusterIP'] });
  clusterIPs.push(...created.map((p) => String(p['spec.clusterIP'])));
  await c.api.createMany(specs.map((s, i) => endpointSliceManifest(s, c.endpoints([PODS[i % PODS.length]!])) as JsonObject), { concurrency: 48 });
}

/** KUBE-SERVICES jumps to a service chain for the scale namespace's ClusterIPs. */
async function programmedServices(c: RealCluster): Promise<number> {
  const nat = (await c.sb.exec(c.node.ns, 'iptables-save', ['-t', 'nat'])).stdout;
  return nat.split('\n').filter((l) => l.startsWith('-A KUBE-SERVICES ') && l.includes(`"${NAMESPACE}/`) && l.includes('-j KUBE-SVC-')).length;
}

describe(`kube source against a real API server: ${COUNT} services`, { skip: SKIP }, () => {
  const cluster = useRealCluster({
    pods: PODS.map((name) => ({ name, node: 1 })),
    setup: createAll,
    kpxStartTimeoutMs: 120_000,
    setupTimeoutMs: 240_000,
  });

  test('every service is listed and programmed by the first sync', async () => {
    const { c } = cluster;
    assert.equal(new Set(clusterIPs).size, COUNT, 'the API server allocated one ClusterIP a service');
    assert.equal(await programmedServices(c), COUNT);
  });

  test('services across the whole list answer through their ClusterIPs, from their own endpoints', async () => {
    const { c } = cluster;
    for (const i of [0, 1, 1234, 2500, 3777, COUNT - 1]) await c.expectPods(clusterIPs[i]!, 80, [PODS[i % PODS.length]!], 0);
  });

  test('at that size the watch still delivers a deletion and an endpoint change', async () => {
    const { c } = cluster;
    await c.removeService(spec(7));
    await c.api.apply(endpointSliceManifest(spec(8), c.endpoints(['pod1', 'pod2'])) as JsonObject);
    await c.expectGone(clusterIPs[7]!, 80);
    await c.expectPods(clusterIPs[8]!, 80, ['pod1', 'pod2']);
    assert.equal(await programmedServices(c), COUNT - 1);
  });
});
