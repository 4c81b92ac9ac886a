import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProxyState } from '../../../src/model/index.js';
import type { ProxyStateInput } from '../../../src/model/index.js';
import type { ApiEndpointSlice, ApiService } from '../../../src/model/api.js';
import type { IPFamily, ProxyState } from '../../../src/model/types.js';
import { ep, node, port, slice, svc } from '../../support/api-objects.js';
import { NODE, keys } from './fixtures.js';

function build(services: ApiService[], slices: ApiEndpointSlice[], o: Partial<ProxyStateInput> = {}) {
  const warnings: string[] = [];
  const state = buildProxyState({
    family: 'IPv4', nodeName: NODE, node: node(NODE, { zone: 'zone-a', ips: ['10.10.0.1', 'fd00:10::1'] }),
    services, endpointSlices: slices, hostAddresses: ['10.10.0.1', '127.0.0.1', 'fd00:10::1'],
    nodePortAddresses: [], localhostNodePorts: true,
    warn: (m, f) => warnings.push(`${m} ${JSON.stringify(f ?? {})}`),
    ...o,
  });
  return { state, warnings };
}

const web = svc('default', 'web', { clusterIP: '10.96.0.10', ports: [port('http', 80)] });
const webSlice = slice('default', 'web', 'web-abc', [{ name: 'http', port: 8080 }], [ep('10.244.0.5', { node: NODE }), ep('10.244.1.5', { node: 'n2' })]);
const dns = svc('kube-system', 'kube-dns', { clusterIP: '10.96.0.53', ports: [port('dns', 53, 'UDP'), port('dns-tcp', 53, 'TCP')] });
const dnsSlice = slice('kube-system', 'kube-dns', 'kube-dns-1', [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53 }], [ep('10.244.0.9')]);

/** A plain-data view of a state, for deep comparisons (Sets become sorted arrays). */
function plain(state: ProxyState): unknown {
  return JSON.parse(JSON.stringify([...state.services], (_k, v) => (v instanceof Set ? [...v].sort() : v)));
}

test('the state holds every service port of the family with its endpoints, keyed and ordered by ServicePortName', () => {
  const { state, warnings } = build([web, dns], [dnsSlice, webSlice]);
  assert.deepEqual(warnings, []);
  assert.equal(state.family, 'IPv4');
  assert.deepEqual([...state.services.keys()], ['default/web:http', 'kube-system/kube-dns:dns', 'kube-system/kube-dns:dns-tcp']);
  const w = state.services.get('default/web:http')!;
  assert.deepEqual(keys(w.endpoints), ['10.244.0.5:8080', '10.244.1.5:8080']);
  assert.deepEqual(keys(w.clusterEndpoints), ['10.244.0.5:8080', '10.244.1.5:8080']);
  assert.equal(w.endpoints[0].isLocal, true);
  assert.equal(state.services.get('kube-system/kube-dns:dns')!.protocol, 'UDP');
  assert.equal(state.node.name, NODE);
  assert.equal(state.node.zone, 'zone-a');
  assert.deepEqual(state.node.ips, ['10.10.0.1']);
  assert.deepEqual(state.nodePortAddresses, { all: true, ips: ['10.10.0.1', '127.0.0.1'], localhost: true });
});

test('removing and adding service ports between builds removes and adds exactly those ports', () => {
  const three = svc('ns', 's', { clusterIP: '10.96.1.1', ports: [port('a', 1), port('b', 2), port('c', 3)] });
  const two = svc('ns', 's', { clusterIP: '10.96.1.1', ports: [port('a', 1), port('d', 4)] });
  assert.deepEqual([...build([three], []).state.services.keys()], ['ns/s:a', 'ns/s:b', 'ns/s:c']);
  assert.deepEqual([...build([two], []).state.services.keys()], ['ns/s:a', 'ns/s:d']);
  assert.deepEqual([...build([], []).state.services.keys()], []);
});

test('bad objects are skipped with warnings and leave every other service exactly as it was', () => {
  const clean = build([web, dns], [webSlice, dnsSlice]).state;
  const junk: unknown[] = [
    null, 42, 'text',
    svc('default', 'bad-ip', { clusterIP: '300.1.1.1', ports: [port('p', 80)] }),
    svc('default', 'bad-port', { clusterIP: '10.96.0.77', ports: [port('p', 0)] }),
    { metadata: { namespace: 'default' }, spec: { clusterIP: '10.96.0.78', ports: [port('p', 80)] } },
  ];
  // Same name as web, delivered after it: the first one delivered stays.
  const duplicate = svc('default', 'web', { clusterIP: '10.96.9.9', ports: [port('http', 81)] });
  const junkSlices: unknown[] = [
    null,
    { metadata: { namespace: 'default', name: 'orphan' }, addressType: 'IPv4', endpoints: [{ addresses: ['10.244.0.5'] }], ports: [{ name: 'http', port: 8080 }] },
    slice('default', 'web', 'web-zzz', [{ name: 'http', port: 8080 }], [ep('not-an-ip')]),
    slice('default', 'nobody', 'nobody-1', [{ name: 'http', port: 8080 }], [ep('10.244.0.7')]),
  ];
  const { state, warnings } = build([...junk, web, duplicate, dns] as ApiService[], [...junkSlices, webSlice, dnsSlice] as ApiEndpointSlice[]);
  const survivors = new Map([...state.services].filter(([k]) => !k.startsWith('default/bad-port')));
  assert.deepEqual(plain({ ...state, services: survivors }), plain(clean));
  assert.ok(warnings.length >= 5, warnings.join('\n'));
  for (const w of ['invalid clusterIP', 'out of range', 'invalid name', 'same namespace and name', 'service-name label', 'invalid address']) {
    assert.ok(warnings.some((x) => x.includes(w)), `a warning mentions ${w}:\n${warnings.join('\n')}`);
  }
});

test('headless, ExternalName and other proxies\' services are absent from the state', () => {
  const { state } = build([
    web,
    svc('default', 'headless', { clusterIP: 'None', ports: [port('http', 80)] }),
    svc('default', 'ext', { type: 'ExternalName', externalName: 'example.com' }),
    svc('default', 'theirs', { clusterIP: '10.96.0.99', ports: [port('http', 80)] }, { metadata: { labels: { 'service.kubernetes.io/service-proxy-name': 'other' } } }),
  ], [slice('default', 'headless', 'headless-1', [{ name: 'http', port: 80 }], [ep('10.244.0.3')]), webSlice]);
  assert.deepEqual([...state.services.keys()], ['default/web:http']);
});

test('dual-stack objects give each family its own state, with the other family\'s addresses left out', () => {
  const dual = svc('default', 'dual', {
    type: 'NodePort', clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20', 'fd00:96::20'], ipFamilies: ['IPv4', 'IPv6'],
    externalIPs: ['10.10.0.100', '2001:db8::100'], ports: [port('http', 80, 'TCP', { nodePort: 30080 })],
  });
  const slices = [
    slice('default', 'dual', 'dual-v4', [{ name: 'http', port: 8080 }], [ep('10.244.0.20', { node: NODE })]),
    slice('default', 'dual', 'dual-v6', [{ name: 'http', port: 8080 }], [ep('fd00:244::20', { node: NODE })], 'IPv6'),
  ];
  const v4only = svc('default', 'v4only', { clusterIP: '10.96.0.21', ports: [port('http', 80)] });
  const states: Record<IPFamily, ProxyState> = {
    IPv4: build([dual, v4only], slices, { family: 'IPv4' }).state,
    IPv6: build([dual, v4only], slices, { family: 'IPv6' }).state,
  };
  const p4 = states.IPv4.services.get('default/dual:http')!;
  const p6 = states.IPv6.services.get('default/dual:http')!;
  assert.equal(p4.clusterIP, '10.96.0.20');
  assert.deepEqual(p4.externalIPs, ['10.10.0.100']);
  assert.deepEqual(keys(p4.endpoints), ['10.244.0.20:8080']);
  assert.equal(p6.clusterIP, 'fd00:96::20');
  assert.deepEqual(p6.externalIPs, ['2001:db8::100']);
  assert.deepEqual(keys(p6.endpoints), ['[fd00:244::20]:8080']);
  assert.equal(p6.nodePort, 30080);
  assert.ok(states.IPv4.services.has('default/v4only:http'));
  assert.ok(!states.IPv6.services.has('default/v4only:http'));
  assert.deepEqual(states.IPv6.node.ips, ['fd00:10::1']);
  assert.equal(states.IPv6.nodePortAddresses.localhost, false);
});

test('leading-zero addresses are normalised throughout the state (TestBadIPs)', () => {
  const s = svc('ns1', 'svc1', {
    type: 'LoadBalancer', clusterIP: '172.30.0.041', externalIPs: ['192.168.099.11'],
    loadBalancerSourceRanges: ['203.0.113.0/025'], ports: [port('p80', 80, 'TCP', { nodePort: 3001 })],
  }, { status: { loadBalancer: { ingress: [{ ip: '1.2.3.004' }] } } });
  const sl = slice('ns1', 'svc1', 'svc1-1', [{ name: 'p80', port: 80 }], [ep('10.180.00.001')]);
  const { state, warnings } = build([s], [sl], { nodePortAddresses: ['192.168.000.0/24'], hostAddresses: ['192.168.0.2', '10.10.0.1'] });
  assert.deepEqual(warnings, []);
  const p = state.services.get('ns1/svc1:p80')!;
  assert.equal(p.clusterIP, '172.30.0.41');
  assert.deepEqual(p.externalIPs, ['192.168.99.11']);
  assert.deepEqual(p.loadBalancerIPs, ['1.2.3.4']);
  assert.deepEqual(p.loadBalancerSourceRanges, ['203.0.113.0/25']);
  assert.deepEqual(keys(p.endpoints), ['10.180.0.1:80']);
  assert.deepEqual(state.nodePortAddresses, { all: false, ips: ['192.168.0.2'], localhost: false });
});

test('the state does not depend on the order objects arrive in', () => {
  const services = [web, dns, svc('a', 'z', { clusterIP: '10.96.3.3', ports: [port('p', 1)] })];
  const slices = [webSlice, dnsSlice,
    slice('default', 'web', 'web-def', [{ name: 'http', port: 8080 }], [ep('10.244.2.5')]),
    slice('default', 'web', 'web-0', [{ name: 'http', port: 8080 }], [ep('10.244.1.5', { ready: false })])];
  const a = build(services, slices).state;
  const b = build([...services].reverse(), [...slices].reverse()).state;
  assert.deepEqual(plain(b), plain(a));
  assert.deepEqual([...b.services.keys()], [...a.services.keys()]);
});

test('services and slices may be any iterable (e.g. a source\'s Map values)', () => {
  const services = new Map([['default/web', web]]);
  const slices = new Map([['default/web-abc', webSlice]]);
  const { state } = build([], [], { services: services.values(), endpointSlices: slices.values() });
  assert.deepEqual(keys(state.services.get('default/web:http')!.endpoints), ['10.244.0.5:8080', '10.244.1.5:8080']);
});

test('30,000 services with 2 endpoints each all build, each with its own slice (slices indexed by service)', () => {
  const services: ApiService[] = [];
  const slices: ApiEndpointSlice[] = [];
  for (let i = 0; i < 30000; i++) {
    const a = (i >> 8) & 255;
    const b = i & 255;
    services.push(svc(`ns${i % 50}`, `svc-${i}`, { clusterIP: `10.96.${a}.${b}`, ports: [port('http', 80)] }));
    slices.push(slice(`ns${i % 50}`, `svc-${i}`, `svc-${i}-x`, [{ name: 'http', port: 8080 }],
      [ep(`10.244.${a}.${b}`, { node: i % 2 ? NODE : 'n2' }), ep(`10.245.${a}.${b}`)]));
  }
  // A per-service scan of all slices would take minutes here; how the build scales is measured by
  // perf/sync/scaling.ts.
  const { state } = build(services, slices);
  assert.equal(state.services.size, services.length);
  assert.deepEqual(keys(state.services.get('ns7/svc-12357:http')!.endpoints), ['10.244.48.69:8080', '10.245.48.69:8080']);
});
