/**
 * categorizeEndpoints tests in the spirit of kube-proxy's TestCategorizeEndpoints: topology hints,
 * trafficDistribution, internal/external traffic policies and the serving-terminating fallback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { categorizeEndpoints, servicePortsFor, topologyModeFromHints } from '../../../src/model/index.js';
import type { Endpoint } from '../../../src/model/types.js';
import type { TrafficPolicyView } from '../../../src/model/index.js';
import { ep, port, slice, svc, terminating } from '../../support/api-objects.js';
import { NODE, context, keys } from './fixtures.js';

interface E {
  ip: string;
  local?: boolean;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
  zones?: string[];
  nodes?: string[];
}

function mk(list: E[]): Endpoint[] {
  return list.map((e) => ({
    key: `${e.ip}:80`,
    ip: e.ip,
    port: 80,
    ready: e.ready ?? true,
    serving: e.serving ?? e.ready ?? true,
    terminating: e.terminating ?? false,
    isLocal: e.local ?? false,
    ...(e.local ? { nodeName: NODE } : {}),
    ...(e.zones ? { zoneHints: new Set(e.zones) } : {}),
    ...(e.nodes ? { nodeHints: new Set(e.nodes) } : {}),
  }));
}

const CLUSTER: TrafficPolicyView = { usesClusterEndpoints: true, usesLocalEndpoints: false };
const LOCAL_ONLY: TrafficPolicyView = { usesClusterEndpoints: false, usesLocalEndpoints: true };
const BOTH: TrafficPolicyView = { usesClusterEndpoints: true, usesLocalEndpoints: true };

interface Row {
  name: string;
  svc: TrafficPolicyView;
  zone?: string;
  endpoints: E[];
  cluster: string[];
  local: string[];
  all: string[];
  any: boolean;
  mode?: string;
}

const rows: Row[] = [
  {
    name: 'zone hints for this zone narrow the cluster set',
    svc: CLUSTER, zone: 'zone-a',
    endpoints: [
      { ip: '10.1.2.3', zones: ['zone-a'] }, { ip: '10.1.2.4', zones: ['zone-b'] },
      { ip: '10.1.2.5', zones: ['zone-c'] }, { ip: '10.1.2.6', zones: ['zone-a'] },
    ],
    cluster: ['10.1.2.3:80', '10.1.2.6:80'], local: [], all: ['10.1.2.3:80', '10.1.2.6:80'], any: true, mode: 'PreferSameZone',
  },
  {
    name: 'an endpoint hinted for several zones serves each of them',
    svc: CLUSTER, zone: 'zone-a',
    endpoints: [{ ip: '10.1.2.3', zones: ['zone-a', 'zone-b'] }, { ip: '10.1.2.4', zones: ['zone-c'] }],
    cluster: ['10.1.2.3:80'], local: [], all: ['10.1.2.3:80'], any: true, mode: 'PreferSameZone',
  },
  {
    name: 'no zone label on the node: hints ignored',
    svc: CLUSTER, zone: '',
    endpoints: [{ ip: '10.1.2.3', zones: ['zone-a'] }, { ip: '10.1.2.4', zones: ['zone-b'] }],
    cluster: ['10.1.2.3:80', '10.1.2.4:80'], local: [], all: ['10.1.2.3:80', '10.1.2.4:80'], any: true, mode: '',
  },
  {
    name: 'no endpoint hinted for this zone: hints ignored',
    svc: CLUSTER, zone: 'zone-z',
    endpoints: [{ ip: '10.1.2.3', zones: ['zone-a'] }, { ip: '10.1.2.4', zones: ['zone-b'] }],
    cluster: ['10.1.2.3:80', '10.1.2.4:80'], local: [], all: ['10.1.2.3:80', '10.1.2.4:80'], any: true, mode: '',
  },
  {
    name: 'one ready endpoint without hints: hints ignored',
    svc: CLUSTER, zone: 'zone-a',
    endpoints: [{ ip: '10.1.2.3', zones: ['zone-a'] }, { ip: '10.1.2.4' }],
    cluster: ['10.1.2.3:80', '10.1.2.4:80'], local: [], all: ['10.1.2.3:80', '10.1.2.4:80'], any: true, mode: '',
  },
  {
    name: 'an unready endpoint without hints does not disable hints, and is not used',
    svc: CLUSTER, zone: 'zone-a',
    endpoints: [{ ip: '10.1.2.3', zones: ['zone-a'] }, { ip: '10.1.2.4', zones: ['zone-b'] }, { ip: '10.1.2.5', ready: false }],
    cluster: ['10.1.2.3:80'], local: [], all: ['10.1.2.3:80'], any: true, mode: 'PreferSameZone',
  },
  {
    name: 'PreferSameNode: node hints for this node narrow the set to it',
    svc: CLUSTER, zone: 'zone-a',
    endpoints: [
      { ip: '10.1.2.3', local: true, zones: ['zone-a'], nodes: [NODE] },
      { ip: '10.1.2.4', zones: ['zone-a'], nodes: ['node-2'] },
      { ip: '10.1.2.5', zones: ['zone-b'], nodes: ['node-3'] },
    ],
    cluster: ['10.1.2.3:80'], local: [], all: ['10.1.2.3:80'], any: true, mode: 'PreferSameNode',
  },
  {
    name: 'PreferSameNode with no endpoint for this node falls back to the zone hints',
    svc: CLUSTER, zone: 'zone-a',
    endpoints: [
      { ip: '10.1.2.4', zones: ['zone-a'], nodes: ['node-2'] },
      { ip: '10.1.2.5', zones: ['zone-b'], nodes: ['node-3'] },
    ],
    cluster: ['10.1.2.4:80'], local: [], all: ['10.1.2.4:80'], any: true, mode: 'PreferSameZone',
  },
  {
    name: 'PreferSameNode with no endpoint for this node or zone uses every endpoint',
    svc: CLUSTER, zone: 'zone-c',
    endpoints: [{ ip: '10.1.2.4', zones: ['zone-a'], nodes: ['node-2'] }, { ip: '10.1.2.5', zones: ['zone-b'], nodes: ['node-3'] }],
    cluster: ['10.1.2.4:80', '10.1.2.5:80'], local: [], all: ['10.1.2.4:80', '10.1.2.5:80'], any: true, mode: '',
  },
  {
    name: 'iTP Local: topology does not narrow local endpoints',
    svc: LOCAL_ONLY, zone: 'zone-a',
    endpoints: [{ ip: '10.1.2.3', local: true, zones: ['zone-b'] }, { ip: '10.1.2.4', zones: ['zone-a'] }],
    cluster: [], local: ['10.1.2.3:80'], all: ['10.1.2.3:80'], any: true,
  },
  {
    name: 'eTP Local with topology: the local endpoint and the zone\'s endpoints are both reachable (merged)',
    svc: BOTH, zone: 'zone-a',
    endpoints: [
      { ip: '10.1.2.3', local: true, zones: ['zone-b'] }, { ip: '10.1.2.4', zones: ['zone-a'] }, { ip: '10.1.2.5', zones: ['zone-c'] },
    ],
    cluster: ['10.1.2.4:80'], local: ['10.1.2.3:80'], all: ['10.1.2.3:80', '10.1.2.4:80'], any: true, mode: 'PreferSameZone',
  },
  {
    name: 'iTP Local with no endpoints at all',
    svc: LOCAL_ONLY, endpoints: [], cluster: [], local: [], all: [], any: false,
  },
  {
    name: 'iTP Local, every endpoint remote: nothing reachable here, but the service has endpoints (DROP, not REJECT)',
    svc: LOCAL_ONLY,
    endpoints: [{ ip: '10.0.0.0' }, { ip: '10.0.0.1' }],
    cluster: [], local: [], all: [], any: true,
  },
  {
    name: 'iTP Local, every endpoint local',
    svc: LOCAL_ONLY,
    endpoints: [{ ip: '10.0.0.0', local: true }, { ip: '10.0.0.1', local: true }],
    cluster: [], local: ['10.0.0.0:80', '10.0.0.1:80'], all: ['10.0.0.0:80', '10.0.0.1:80'], any: true,
  },
  {
    name: 'iTP Local, some endpoints local',
    svc: LOCAL_ONLY,
    endpoints: [{ ip: '10.0.0.0', local: true }, { ip: '10.0.0.1' }],
    cluster: [], local: ['10.0.0.0:80'], all: ['10.0.0.0:80'], any: true,
  },
  {
    name: 'Cluster: no endpoint ready or serving',
    svc: CLUSTER,
    endpoints: [{ ip: '10.0.0.0', ready: false, serving: false }, { ip: '10.0.0.1', ready: false, serving: false }],
    cluster: [], local: [], all: [], any: false,
  },
  {
    name: 'Cluster: some endpoints ready',
    svc: CLUSTER,
    endpoints: [{ ip: '10.0.0.0', ready: false }, { ip: '10.0.0.1' }],
    cluster: ['10.0.0.1:80'], local: [], all: ['10.0.0.1:80'], any: true,
  },
  {
    name: 'Cluster: ready endpoints exist, so terminating ones are ignored',
    svc: CLUSTER,
    endpoints: [{ ip: '10.0.0.0', ready: false, serving: true, terminating: true }, { ip: '10.0.0.1', local: true }],
    cluster: ['10.0.0.1:80'], local: [], all: ['10.0.0.1:80'], any: true,
  },
  {
    name: 'Cluster: only serving-terminating endpoints, so they are used (not the non-serving one)',
    svc: CLUSTER,
    endpoints: [
      { ip: '10.0.0.0', ready: false, serving: true, terminating: true },
      { ip: '10.0.0.1', ready: false, serving: true, terminating: true },
      { ip: '10.0.0.2', ready: false, serving: false, terminating: true },
    ],
    cluster: ['10.0.0.0:80', '10.0.0.1:80'], local: [], all: ['10.0.0.0:80', '10.0.0.1:80'], any: true,
  },
  {
    name: 'Cluster: an unready, serving, non-terminating endpoint is never used',
    svc: CLUSTER,
    endpoints: [{ ip: '10.0.0.0', ready: false, serving: true, terminating: false }],
    cluster: [], local: [], all: [], any: false,
  },
  {
    name: 'iTP Local + eTP Cluster, some endpoints local',
    svc: BOTH,
    endpoints: [{ ip: '10.0.0.0', local: true }, { ip: '10.0.0.1' }],
    cluster: ['10.0.0.0:80', '10.0.0.1:80'], local: ['10.0.0.0:80'], all: ['10.0.0.0:80', '10.0.0.1:80'], any: true,
  },
  {
    name: 'eTP Local, every endpoint remote',
    svc: BOTH,
    endpoints: [{ ip: '10.0.0.0' }, { ip: '10.0.0.1' }],
    cluster: ['10.0.0.0:80', '10.0.0.1:80'], local: [], all: ['10.0.0.0:80', '10.0.0.1:80'], any: true,
  },
  {
    name: 'eTP Local, every endpoint remote and terminating',
    svc: BOTH,
    endpoints: [
      { ip: '10.0.0.0', ready: false, serving: true, terminating: true },
      { ip: '10.0.0.1', ready: false, serving: true, terminating: true },
    ],
    cluster: ['10.0.0.0:80', '10.0.0.1:80'], local: [], all: ['10.0.0.0:80', '10.0.0.1:80'], any: true,
  },
  {
    name: 'eTP Local: remote ready endpoints for cluster traffic, the local terminating one for local traffic',
    svc: BOTH,
    endpoints: [
      { ip: '10.0.0.0', local: true, ready: false, serving: true, terminating: true },
      { ip: '10.0.0.1' },
      { ip: '10.0.0.2', local: true, ready: false, serving: false, terminating: true },
    ],
    cluster: ['10.0.0.1:80'], local: ['10.0.0.0:80'], all: ['10.0.0.0:80', '10.0.0.1:80'], any: true,
  },
  {
    name: 'eTP Local: a ready local endpoint wins over a terminating local one',
    svc: BOTH,
    endpoints: [
      { ip: '10.0.0.0', local: true, ready: false, serving: true, terminating: true },
      { ip: '10.0.0.1', local: true },
    ],
    cluster: ['10.0.0.1:80'], local: ['10.0.0.1:80'], all: ['10.0.0.1:80'], any: true,
  },
  {
    name: 'iTP Local only, only terminating endpoints remote: nothing local, but the service has endpoints',
    svc: LOCAL_ONLY,
    endpoints: [{ ip: '10.0.0.0', ready: false, serving: true, terminating: true }],
    cluster: [], local: [], all: [], any: true,
  },
];

for (const r of rows) {
  test(`categorizeEndpoints: ${r.name}`, () => {
    const got = categorizeEndpoints(mk(r.endpoints), r.svc, NODE, r.zone ?? 'zone-a');
    assert.deepEqual(keys(got.clusterEndpoints), r.cluster, 'cluster');
    assert.deepEqual(keys(got.localEndpoints), r.local, 'local');
    assert.deepEqual(keys(got.allReachableEndpoints), r.all, 'allReachable');
    assert.equal(got.hasAnyEndpoints, r.any, 'hasAnyEndpoints');
    if (r.mode !== undefined) assert.equal(got.topologyMode, r.mode, 'topologyMode');
  });
}

test('topologyModeFromHints ignores hints when nothing is ready', () => {
  assert.equal(topologyModeFromHints(mk([{ ip: '10.0.0.1', ready: false, zones: ['zone-a'] }]), NODE, 'zone-a'), '');
});

// End to end through Service + EndpointSlice objects, the way the EndpointSlice controller writes hints for
// each of the service-level switches.
test('trafficDistribution PreferClose and topology-mode Auto: zone hints keep traffic in the node\'s zone', () => {
  const hinted = [
    ep('10.244.1.1', { node: 'n-a1', zone: 'zone-a', zoneHints: ['zone-a'] }),
    ep('10.244.2.1', { node: 'n-b1', zone: 'zone-b', zoneHints: ['zone-b'] }),
  ];
  const variants: { spec?: { trafficDistribution: string }; metadata?: { annotations: Record<string, string> } }[] = [
    { spec: { trafficDistribution: 'PreferClose' } },
    { spec: { trafficDistribution: 'PreferSameZone' } },
    { metadata: { annotations: { 'service.kubernetes.io/topology-mode': 'Auto' } } },
    { metadata: { annotations: { 'service.kubernetes.io/topology-aware-hints': 'auto' } } },
  ];
  for (const extra of variants) {
    const s = svc('ns', 'web', { clusterIP: '10.96.0.10', ports: [port('http', 80)], ...(extra.spec ?? {}) },
      { metadata: { namespace: 'ns', name: 'web', ...(extra.metadata ?? {}) } });
    const [p] = servicePortsFor(s, [slice('ns', 'web', 'web-a', [{ name: 'http', port: 8080 }], hinted)], context());
    assert.deepEqual(keys(p.clusterEndpoints), ['10.244.1.1:8080'], JSON.stringify(extra));
  }
});

test('trafficDistribution PreferSameNode: node hints keep traffic on this node, zone hints are the fallback', () => {
  const s = svc('ns', 'web', { clusterIP: '10.96.0.10', ports: [port('http', 80)], trafficDistribution: 'PreferSameNode' });
  const eps = [
    ep('10.244.0.1', { node: NODE, zone: 'zone-a', zoneHints: ['zone-a'], nodeHints: [NODE] }),
    ep('10.244.1.1', { node: 'n-a1', zone: 'zone-a', zoneHints: ['zone-a'], nodeHints: ['n-a1'] }),
    ep('10.244.2.1', { node: 'n-b1', zone: 'zone-b', zoneHints: ['zone-b'], nodeHints: ['n-b1'] }),
  ];
  const [p] = servicePortsFor(s, [slice('ns', 'web', 'web-a', [{ name: 'http', port: 8080 }], eps)], context());
  assert.deepEqual(keys(p.clusterEndpoints), ['10.244.0.1:8080']);
  // This node's pod goes away: same-zone endpoints take over.
  const [q] = servicePortsFor(s, [slice('ns', 'web', 'web-a', [{ name: 'http', port: 8080 }], eps.slice(1))], context());
  assert.deepEqual(keys(q.clusterEndpoints), ['10.244.1.1:8080']);
});

test('terminating fallback through full objects: ready → terminating ignored; only terminating → used; nothing serving → REJECT', () => {
  const s = svc('ns', 'web', { clusterIP: '10.96.0.10', ports: [port('http', 80)] });
  const build = (eps: ReturnType<typeof ep>[]) =>
    servicePortsFor(s, [slice('ns', 'web', 'web-a', [{ name: 'http', port: 8080 }], eps)], context())[0];
  const readyExists = build([ep('10.244.0.1'), terminating('10.244.0.2')]);
  assert.deepEqual(keys(readyExists.clusterEndpoints), ['10.244.0.1:8080']);
  const onlyTerminating = build([terminating('10.244.0.2'), terminating('10.244.0.3')]);
  assert.deepEqual(keys(onlyTerminating.clusterEndpoints), ['10.244.0.2:8080', '10.244.0.3:8080']);
  assert.equal(onlyTerminating.hasAnyEndpoints, true);
  const nothing = build([ep('10.244.0.4', { ready: false, serving: false, terminating: true }), ep('10.244.0.5', { ready: false, serving: false })]);
  assert.deepEqual(keys(nothing.clusterEndpoints), []);
  assert.equal(nothing.hasAnyEndpoints, false);
  assert.equal(nothing.endpoints.length, 2); // still listed, for conntrack cleanup and tracing
});

test('eTP Local LB with terminating endpoints only on a remote node: pods reach it, external traffic has no local endpoint', () => {
  const s = svc('ns', 'lb', {
    type: 'LoadBalancer', clusterIP: '10.96.0.20', externalTrafficPolicy: 'Local', healthCheckNodePort: 32000,
    ports: [port('http', 80, 'TCP', { nodePort: 30080 })],
  }, { status: { loadBalancer: { ingress: [{ ip: '203.0.113.10' }] } } });
  const [p] = servicePortsFor(s, [slice('ns', 'lb', 'lb-a', [{ name: 'http', port: 8080 }], [terminating('10.244.5.5', { node: 'other' })])], context());
  assert.deepEqual(keys(p.clusterEndpoints), ['10.244.5.5:8080']);
  assert.deepEqual(keys(p.localEndpoints), []);
  assert.equal(p.hasAnyEndpoints, true); // so: DROP for external traffic, not REJECT
});
