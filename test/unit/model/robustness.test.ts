/**
 * Bad input never crashes the model: arbitrary values, and valid objects with one field replaced by
 * anything at all, build a state (with warnings) instead of throwing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildProxyState } from '../../../src/model/index.js';
import type { ApiEndpointSlice, ApiNode, ApiService } from '../../../src/model/api.js';
import type { IPFamily } from '../../../src/model/types.js';
import { ep, node, port, slice, svc } from '../../support/api-objects.js';
import { NODE } from './fixtures.js';

function run(services: unknown[], slices: unknown[], apiNode: unknown, family: IPFamily) {
  return buildProxyState({
    family, nodeName: NODE, node: apiNode as ApiNode, services: services as ApiService[],
    endpointSlices: slices as ApiEndpointSlice[], hostAddresses: ['10.10.0.1', 'fd00::1'],
    nodePortAddresses: [], localhostNodePorts: true,
    // Like the real logger: every field value must serialise.
    warn: (msg, fields) => { for (const v of Object.values(fields ?? {})) JSON.stringify(v); void msg; },
  });
}

const family = fc.constantFrom<IPFamily>('IPv4', 'IPv6');
/** Anything, including values that break naive code: prototype-less objects, BigInts, sparse arrays. */
const weird = fc.anything({ withNullPrototype: true, withBigInt: true, withSparseArray: true, withBoxedValues: true, withDate: true, withMap: true, withSet: true });

test('arbitrary values as services, slices and node never make buildProxyState throw', () => {
  fc.assert(fc.property(fc.array(weird), fc.array(weird), weird, family, (s, e, n, f) => {
    const state = run(s, e, n, f);
    assert.equal(state.family, f);
  }), { numRuns: 300 });
});

/** Returns a deep copy of obj with the value at a random path replaced. */
function mutate(obj: unknown, path: number[], value: unknown): unknown {
  const copy = structuredClone(obj) as Record<string, unknown>;
  let cur: Record<string, unknown> = copy;
  for (let i = 0; i < path.length; i++) {
    if (cur === null || typeof cur !== 'object') return copy;
    const ks = Object.keys(cur);
    if (ks.length === 0) return copy;
    const k = ks[path[i] % ks.length];
    if (i === path.length - 1 || cur[k] === null || typeof cur[k] !== 'object') {
      cur[k] = value;
      return copy;
    }
    cur = cur[k] as Record<string, unknown>;
  }
  return copy;
}

const base = {
  services: [
    svc('ns', 'lb', {
      type: 'LoadBalancer', clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1', 'fd00::1'], externalIPs: ['10.10.0.100'],
      loadBalancerSourceRanges: ['10.0.0.0/8'], externalTrafficPolicy: 'Local', internalTrafficPolicy: 'Local',
      healthCheckNodePort: 32000, sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
      ports: [port('http', 80, 'TCP', { nodePort: 30080 }), port('dns', 53, 'UDP', { nodePort: 30053 })],
    }, { status: { loadBalancer: { ingress: [{ ip: '203.0.113.10', ipMode: 'VIP' }] } } }),
  ],
  slices: [
    slice('ns', 'lb', 'lb-a', [{ name: 'http', port: 8080 }, { name: 'dns', port: 53, protocol: 'UDP' }], [
      ep('10.244.0.1', { node: NODE, zone: 'zone-a', zoneHints: ['zone-a'], nodeHints: [NODE] }),
      ep('10.244.1.1', { ready: false, serving: true, terminating: true }),
    ]),
  ],
  node: node(NODE, { zone: 'zone-a', ips: ['10.10.0.1'], podCIDRs: ['10.244.0.0/24'], taints: ['x'] }),
};

test('a valid cluster with any one field replaced by anything never makes buildProxyState throw', () => {
  const which = fc.constantFrom('service', 'slice', 'node');
  const path = fc.array(fc.nat(20), { minLength: 1, maxLength: 7 });
  fc.assert(fc.property(which, path, weird, (w, p, v) => {
    const services = w === 'service' ? [mutate(base.services[0], p, v)] : base.services;
    const slices = w === 'slice' ? [mutate(base.slices[0], p, v)] : base.slices;
    const n = w === 'node' ? mutate(base.node, p, v) : base.node;
    for (const f of ['IPv4', 'IPv6'] as const) run(services, slices, n, f);
  }), { numRuns: 1000 });
});
