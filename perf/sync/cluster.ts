/**
 * cluster.ts: a synthetic cluster of N ClusterIP services × E ready endpoints, as the API objects a
 * source delivers (Services, EndpointSlices, the Node), built with the sandbox's manifest builders so
 * they are exactly what `kpx --manifests` reads. Deterministic: the same size gives the same objects.
 */
import type { ApiEndpointSlice, ApiNode, ApiService } from '../../src/model/api.js';
import { endpointSliceManifest, serviceManifest, type EndpointSpec, type ServiceSpec } from '../../src/sandbox/manifests.js';

export interface SyntheticCluster {
  readonly services: ApiService[];
  readonly slices: ApiEndpointSlice[];
  readonly node: ApiNode;
}

/** Spreads services over 50 namespaces, as a real cluster would have them. */
const NAMESPACES = 50;

function addr(first: number, n: number): string {
  return `${first}.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

export function serviceSpec(i: number): ServiceSpec {
  return {
    name: `svc${i}`,
    namespace: `ns${i % NAMESPACES}`,
    // 172.16.0.0/12 holds 1M addresses: room for any size benchmarked here.
    clusterIP: addr(172, (16 << 16) + i + 1),
    ports: [{ name: 'http', port: 80, targetPort: 8080 }],
  };
}

/**
 * The endpoints of service i; `generation` > 0 moves the first endpoint to a fresh address (a pod
 * replaced), which is the "one-endpoint change" of the benchmark.
 */
export function endpointsOf(i: number, endpoints: number, nodeName: string, generation = 0): EndpointSpec[] {
  const out: EndpointSpec[] = [];
  for (let e = 0; e < endpoints; e++) {
    const n = e === 0 && generation > 0 ? 8_000_000 + generation * 1000 + (i % 1000) : i * endpoints + e + 1;
    // One endpoint in two is on this node (externalTrafficPolicy/Local code paths stay realistic).
    out.push({ ip: addr(10, n), nodeName: e % 2 === 0 ? nodeName : 'other-node', podName: `svc${i}-${e}` });
  }
  return out;
}

export function serviceObjects(i: number, endpoints: number, nodeName: string, generation = 0): { service: ApiService; slice: ApiEndpointSlice } {
  const spec = serviceSpec(i);
  return { service: serviceManifest(spec), slice: endpointSliceManifest(spec, endpointsOf(i, endpoints, nodeName, generation)) };
}

export function syntheticCluster(services: number, endpoints: number, nodeName: string, nodeIP: string): SyntheticCluster {
  const out: SyntheticCluster = { services: [], slices: [], node: nodeObject(nodeName, nodeIP) };
  for (let i = 0; i < services; i++) {
    const { service, slice } = serviceObjects(i, endpoints, nodeName);
    out.services.push(service);
    out.slices.push(slice);
  }
  return out;
}

export function nodeObject(name: string, ip: string): ApiNode {
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name } },
    spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24'] },
    status: { addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }] },
  };
}

/** `namespace/name` of service i: the ServiceKey the model and ChangeSets use. */
export function serviceKey(i: number): string {
  const s = serviceSpec(i);
  return `${s.namespace}/${s.name}`;
}
