/**
 * EndpointSlices → endpoints per service port, in the spirit of kube-proxy's TestUpdateEndpointsMap: each
 * case builds the state before and after a change and compares the endpoints and local-ready counts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { servicePortsFor } from '../../../src/model/index.js';
import type { ApiEndpointSlice, ApiService } from '../../../src/model/api.js';
import type { IPFamily } from '../../../src/model/types.js';
import { ep, port, slice, svc, terminating } from '../../support/api-objects.js';
import { NODE, context, keys } from './fixtures.js';

/** service port key → endpoint keys, plus the service's local-ready count. */
function view(service: ApiService, slices: ApiEndpointSlice[], family: IPFamily = 'IPv4') {
  const ctx = context(family);
  const ports = servicePortsFor(service, slices, ctx);
  const endpoints: Record<string, string[]> = {};
  for (const p of ports) endpoints[p.key] = keys(p.endpoints);
  return { endpoints, localReady: ports[0]?.readyLocalEndpointCount ?? 0, ports, warnings: ctx.warnings };
}

const svc1 = svc('ns1', 'ep1', { clusterIP: '10.96.0.1', ports: [port('p11', 11), port('p12', 12)] });

interface Case {
  name: string;
  service: ApiService;
  before: ApiEndpointSlice[];
  after: ApiEndpointSlice[];
  expectBefore: Record<string, string[]>;
  expectAfter: Record<string, string[]>;
  localBefore: number;
  localAfter: number;
}

const cases: Case[] = [
  {
    name: 'nothing',
    service: svc1, before: [], after: [],
    expectBefore: { 'ns1/ep1:p11': [], 'ns1/ep1:p12': [] }, expectAfter: { 'ns1/ep1:p11': [], 'ns1/ep1:p12': [] },
    localBefore: 0, localAfter: 0,
  },
  {
    name: 'no change, named port, local',
    service: svc1,
    before: [slice('ns1', 'ep1', 'ep1-a', [{ name: 'p11', port: 11 }], [ep('10.1.1.1', { node: NODE })])],
    after: [slice('ns1', 'ep1', 'ep1-a', [{ name: 'p11', port: 11 }], [ep('10.1.1.1', { node: NODE })])],
    expectBefore: { 'ns1/ep1:p11': ['10.1.1.1:11'], 'ns1/ep1:p12': [] },
    expectAfter: { 'ns1/ep1:p11': ['10.1.1.1:11'], 'ns1/ep1:p12': [] },
    localBefore: 1, localAfter: 1,
  },
  {
    name: 'no change, multiple slices, multiple ports, local',
    service: svc1,
    before: [
      slice('ns1', 'ep1', 'ep1-a', [{ name: 'p11', port: 11 }, { name: 'p12', port: 12 }], [ep('10.1.1.1', { node: NODE })]),
      slice('ns1', 'ep1', 'ep1-b', [{ name: 'p11', port: 11 }, { name: 'p12', port: 12 }], [ep('10.1.1.2', { node: 'other' })]),
    ],
    after: [
      slice('ns1', 'ep1', 'ep1-b', [{ name: 'p11', port: 11 }, { name: 'p12', port: 12 }], [ep('10.1.1.2', { node: 'other' })]),
      slice('ns1', 'ep1', 'ep1-a', [{ name: 'p11', port: 11 }, { name: 'p12', port: 12 }], [ep('10.1.1.1', { node: NODE })]),
    ],
    expectBefore: { 'ns1/ep1:p11': ['10.1.1.1:11', '10.1.1.2:11'], 'ns1/ep1:p12': ['10.1.1.1:12', '10.1.1.2:12'] },
    expectAfter: { 'ns1/ep1:p11': ['10.1.1.1:11', '10.1.1.2:11'], 'ns1/ep1:p12': ['10.1.1.1:12', '10.1.1.2:12'] },
    localBefore: 1, localAfter: 1, // one local IP serving two ports is one endpoint
  },
  {
    name: 'add an IP and remove another',
    service: svc1,
    before: [slice('ns1', 'ep1', 'ep1-a', [{ name: 'p11', port: 11 }], [ep('10.1.1.1', { node: NODE }), ep('10.1.1.2')])],
    after: [slice('ns1', 'ep1', 'ep1-a', [{ name: 'p11', port: 11 }], [ep('10.1.1.2'), ep('10.1.1.3', { node: NODE }), ep('10.1.1.4', { node: NODE })])],
    expectBefore: { 'ns1/ep1:p11': ['10.1.1.1:11', '10.1.1.2:11'], 'ns1/ep1:p12': [] },
    expectAfter: { 'ns1/ep1:p11': ['10.1.1.2:11', '10.1.1.3:11', '10.1.1.4:11'], 'ns1/ep1:p12': [] },
    localBefore: 1, localAfter: 2,
  },
  {
    name: 'add a slice, then remove the first',
    service: svc1,
    before: [slice('ns1', 'ep1', 'ep1-a', [{ name: 'p11', port: 11 }], [ep('10.1.1.1')])],
    after: [slice('ns1', 'ep1', 'ep1-b', [{ name: 'p12', port: 12 }], [ep('10.1.1.2', { node: NODE })])],
    expectBefore: { 'ns1/ep1:p11': ['10.1.1.1:11'], 'ns1/ep1:p12': [] },
    expectAfter: { 'ns1/ep1:p11': [], 'ns1/ep1:p12': ['10.1.1.2:12'] },
    localBefore: 0, localAfter: 1,
  },
  {
    name: 'rename a port: the service port loses its endpoints until the service is renamed too',
    service: svc1,
    before: [slice('ns1', 'ep1', 'ep1-a', [{ name: 'p11', port: 11 }], [ep('10.1.1.1')])],
    after: [slice('ns1', 'ep1', 'ep1-a', [{ name: 'p11-2', port: 11 }], [ep('10.1.1.1')])],
    expectBefore: { 'ns1/ep1:p11': ['10.1.1.1:11'], 'ns1/ep1:p12': [] },
    expectAfter: { 'ns1/ep1:p11': [], 'ns1/ep1:p12': [] },
    localBefore: 0, localAfter: 0,
  },
  {
    name: 'renumber a named port: same service port, new endpoint port',
    service: svc1,
    before: [slice('ns1', 'ep1', 'ep1-a', [{ name: 'p11', port: 11 }], [ep('10.1.1.1', { node: NODE })])],
    after: [slice('ns1', 'ep1', 'ep1-a', [{ name: 'p11', port: 22 }], [ep('10.1.1.1', { node: NODE })])],
    expectBefore: { 'ns1/ep1:p11': ['10.1.1.1:11'], 'ns1/ep1:p12': [] },
    expectAfter: { 'ns1/ep1:p11': ['10.1.1.1:22'], 'ns1/ep1:p12': [] },
    localBefore: 1, localAfter: 1,
  },
  {
    name: '0 to 1 unnamed port',
    service: svc('ns1', 'ep1', { clusterIP: '10.96.0.1', ports: [{ port: 80 }] }),
    before: [],
    after: [slice('ns1', 'ep1', 'ep1-a', [{ name: '', port: 8080 }], [ep('10.1.1.1')])],
    expectBefore: { 'ns1/ep1': [] }, expectAfter: { 'ns1/ep1': ['10.1.1.1:8080'] },
    localBefore: 0, localAfter: 0,
  },
  {
    name: 'complex add and remove across slices and ports',
    service: svc('ns1', 'ep1', { clusterIP: '10.96.0.1', ports: [port('p11', 11), port('p12', 12), port('p13', 13)] }),
    before: [
      slice('ns1', 'ep1', 'ep1-a', [{ name: 'p11', port: 11 }], [ep('10.1.1.1', { node: NODE }), ep('10.1.1.2')]),
      slice('ns1', 'ep1', 'ep1-b', [{ name: 'p12', port: 12 }, { name: 'p13', port: 13 }], [ep('10.1.1.3', { node: NODE }), ep('10.1.1.4', { node: NODE })]),
    ],
    after: [
      slice('ns1', 'ep1', 'ep1-a', [{ name: 'p11', port: 11 }], [ep('10.1.1.1')]),
      slice('ns1', 'ep1', 'ep1-c', [{ name: 'p13', port: 1313 }], [ep('10.1.1.5', { node: NODE })]),
    ],
    expectBefore: {
      'ns1/ep1:p11': ['10.1.1.1:11', '10.1.1.2:11'], 'ns1/ep1:p12': ['10.1.1.3:12', '10.1.1.4:12'],
      'ns1/ep1:p13': ['10.1.1.3:13', '10.1.1.4:13'],
    },
    expectAfter: { 'ns1/ep1:p11': ['10.1.1.1:11'], 'ns1/ep1:p12': [], 'ns1/ep1:p13': ['10.1.1.5:1313'] },
    localBefore: 3, localAfter: 1,
  },
];

for (const c of cases) {
  test(`endpoints map: ${c.name}`, () => {
    const before = view(c.service, c.before);
    const after = view(c.service, c.after);
    assert.deepEqual(before.endpoints, c.expectBefore, 'before');
    assert.deepEqual(after.endpoints, c.expectAfter, 'after');
    assert.equal(before.localReady, c.localBefore, 'local ready before');
    assert.equal(after.localReady, c.localAfter, 'local ready after');
    assert.deepEqual([...before.warnings, ...after.warnings], []);
  });
}

test('a named target port resolved differently per slice gives each endpoint its own slice\'s port', () => {
  // Pods of two versions expose "http" on different container ports; the controller writes one slice each.
  const s = svc('ns', 'web', { clusterIP: '10.96.0.10', ports: [port('http', 80, 'TCP', { targetPort: 'http' })] });
  const { endpoints } = view(s, [
    slice('ns', 'web', 'web-v1', [{ name: 'http', port: 8080 }], [ep('10.244.0.1'), ep('10.244.0.2')]),
    slice('ns', 'web', 'web-v2', [{ name: 'http', port: 9090 }], [ep('10.244.0.3')]),
  ]);
  assert.deepEqual(endpoints, { 'ns/web:http': ['10.244.0.1:8080', '10.244.0.2:8080', '10.244.0.3:9090'] });
});

test('service ports match slice ports by name AND protocol', () => {
  const dns = svc('kube-system', 'dns', { clusterIP: '10.96.0.10', ports: [port('dns', 53, 'UDP'), port('dns-tcp', 53, 'TCP')] });
  const { endpoints } = view(dns, [
    slice('kube-system', 'dns', 'dns-a', [{ name: 'dns', port: 5353, protocol: 'UDP' }, { name: 'dns-tcp', port: 5354, protocol: 'TCP' }], [ep('10.244.1.5')]),
  ]);
  assert.deepEqual(endpoints, { 'kube-system/dns:dns': ['10.244.1.5:5353'], 'kube-system/dns:dns-tcp': ['10.244.1.5:5354'] });
  // A slice port with the right name but the wrong protocol matches nothing.
  const wrong = view(dns, [slice('kube-system', 'dns', 'dns-a', [{ name: 'dns', port: 5353, protocol: 'TCP' }], [ep('10.244.1.5')])]);
  assert.deepEqual(wrong.endpoints, { 'kube-system/dns:dns': [], 'kube-system/dns:dns-tcp': [] });
});

test('an endpoint listed by two slices is kept once; the ready copy wins whatever the slice order', () => {
  const s = svc('ns', 'web', { clusterIP: '10.96.0.10', ports: [port('http', 80)] });
  const notReady = slice('ns', 'web', 'web-a', [{ name: 'http', port: 8080 }], [ep('10.244.0.1', { ready: false, serving: false })]);
  const ready = slice('ns', 'web', 'web-b', [{ name: 'http', port: 8080 }], [ep('10.244.0.1', { ready: true })]);
  for (const order of [[notReady, ready], [ready, notReady]]) {
    const { ports } = view(s, order);
    assert.equal(ports[0].endpoints.length, 1);
    assert.equal(ports[0].endpoints[0].ready, true);
  }
  // A reused pod IP: the running pod wins over the terminating one.
  const old = slice('ns', 'web', 'web-a', [{ name: 'http', port: 8080 }], [terminating('10.244.0.2')]);
  const fresh = slice('ns', 'web', 'web-z', [{ name: 'http', port: 8080 }], [ep('10.244.0.2', { ready: false, serving: false, terminating: false })]);
  for (const order of [[old, fresh], [fresh, old]]) {
    assert.equal(view(s, order).ports[0].endpoints[0].terminating, false);
  }
});

test('endpoint conditions follow the API defaults: ready and serving unless false, terminating only if true', () => {
  const s = svc('ns', 'web', { clusterIP: '10.96.0.10', ports: [port('http', 80)] });
  const { ports } = view(s, [slice('ns', 'web', 'web-a', [{ name: 'http', port: 8080 }], [
    { addresses: ['10.244.0.1'] },
    ep('10.244.0.2', { ready: null, serving: null, terminating: null }),
    ep('10.244.0.3', { ready: false }),
    terminating('10.244.0.4'),
    ep('10.244.0.5', { ready: false, serving: false, terminating: true }),
  ])]);
  const flags = ports[0].endpoints.map((e) => [e.ip, e.ready, e.serving, e.terminating]);
  assert.deepEqual(flags, [
    ['10.244.0.1', true, true, false],
    ['10.244.0.2', true, true, false],
    ['10.244.0.3', false, true, false],
    ['10.244.0.4', false, true, true],
    ['10.244.0.5', false, false, true],
  ]);
});

test('endpoints carry locality, zone and topology hints from the slice', () => {
  const s = svc('ns', 'web', { clusterIP: '10.96.0.10', ports: [port('http', 80)] });
  const { ports } = view(s, [slice('ns', 'web', 'web-a', [{ name: 'http', port: 8080 }], [
    ep('10.244.0.1', { node: NODE, zone: 'zone-a', zoneHints: ['zone-a'], nodeHints: [NODE] }),
    ep('10.244.0.2', { node: 'other', zone: 'zone-b' }),
    ep('10.244.0.3'),
  ])]);
  const [a, b, c] = ports[0].endpoints;
  assert.equal(a.isLocal, true);
  assert.equal(a.nodeName, NODE);
  assert.equal(a.zone, 'zone-a');
  assert.deepEqual([...a.zoneHints!], ['zone-a']);
  assert.deepEqual([...a.nodeHints!], [NODE]);
  assert.equal(b.isLocal, false);
  assert.equal(b.zoneHints, undefined);
  assert.equal(c.isLocal, false);
  assert.equal(c.nodeName, undefined);
});

test('FQDN slices, slices of the other family and slices of unknown type contribute nothing', () => {
  const s = svc('ns', 'web', { clusterIP: '10.96.0.10', ports: [port('http', 80)] });
  const { endpoints, warnings } = view(s, [
    slice('ns', 'web', 'web-fqdn', [{ name: 'http', port: 80 }], [{ addresses: ['example.com'] }], 'FQDN'),
    slice('ns', 'web', 'web-v6', [{ name: 'http', port: 80 }], [ep('fd00::1')], 'IPv6'),
    slice('ns', 'web', 'web-none', [{ name: 'http', port: 80 }], [ep('10.244.0.9')], ''),
    slice('ns', 'web', 'web-v4', [{ name: 'http', port: 80 }], [ep('10.244.0.1')]),
  ]);
  assert.deepEqual(endpoints, { 'ns/web:http': ['10.244.0.1:80'] });
  assert.equal(warnings.length, 1); // only the unknown addressType is worth a warning
});

test('IPv6 endpoints are keyed "[ip]:port" and normalised', () => {
  const s = svc('ns', 'web6', { clusterIP: 'fd00:10:96::a', ports: [port('http', 80)] });
  const { endpoints } = view(s, [slice('ns', 'web6', 'web6-a', [{ name: 'http', port: 8080 }], [ep('FD00:10:244::0001'), ep('fd00:10:244::2')], 'IPv6')], 'IPv6');
  assert.deepEqual(endpoints, { 'ns/web6:http': ['[fd00:10:244::1]:8080', '[fd00:10:244::2]:8080'] });
});

test('bad endpoints and bad slice ports are skipped with warnings; the rest of the slice still counts', () => {
  const s = svc('ns', 'web', { clusterIP: '10.96.0.10', ports: [port('http', 80), port('metrics', 9100)] });
  const bad = slice('ns', 'web', 'web-a', [
    { name: 'http', port: 8080 }, { name: 'metrics', port: 0 }, { name: 'other', port: 1, protocol: 'ICMP' },
  ], [
    ep('10.244.0.1'), ep('10.244.0.300'), { addresses: [] }, ep('fd00::1'), ep('010.244.000.002'),
  ]);
  const { endpoints, warnings } = view(s, [bad]);
  assert.deepEqual(endpoints, { 'ns/web:http': ['10.244.0.1:8080', '10.244.0.2:8080'], 'ns/web:metrics': [] });
  assert.equal(warnings.length, 5, warnings.join('\n'));
});

test('an endpoint with several addresses uses the first, as kube-proxy does', () => {
  const s = svc('ns', 'web', { clusterIP: '10.96.0.10', ports: [port('http', 80)] });
  const { endpoints } = view(s, [slice('ns', 'web', 'web-a', [{ name: 'http', port: 8080 }], [{ addresses: ['10.244.0.7', '10.244.0.8'] }])]);
  assert.deepEqual(endpoints, { 'ns/web:http': ['10.244.0.7:8080'] });
});

test('endpoints are sorted by "ip:port" string, kube-proxy\'s order', () => {
  const s = svc('ns', 'web', { clusterIP: '10.96.0.10', ports: [port('http', 80)] });
  const { endpoints } = view(s, [slice('ns', 'web', 'web-a', [{ name: 'http', port: 80 }], [ep('10.0.0.2'), ep('10.0.0.10'), ep('10.0.0.1')])]);
  assert.deepEqual(endpoints['ns/web:http'], ['10.0.0.10:80', '10.0.0.1:80', '10.0.0.2:80']); // byte order, not numeric
});

test('terminating local endpoints do not count for the health check', () => {
  const s = svc('ns', 'lb', { type: 'LoadBalancer', clusterIP: '10.96.0.20', externalTrafficPolicy: 'Local', healthCheckNodePort: 32000, ports: [port('http', 80, 'TCP', { nodePort: 30080 })] });
  const { localReady, ports } = view(s, [slice('ns', 'lb', 'lb-a', [{ name: 'http', port: 8080 }], [
    terminating('10.244.0.1', { node: NODE }), ep('10.244.0.2', { node: 'other' }),
  ])]);
  assert.equal(localReady, 0);
  assert.deepEqual(keys(ports[0].localEndpoints), ['10.244.0.1:8080']); // still used for traffic
});

test('slices labelled for another service (or another namespace) lend it no endpoints', () => {
  const s = svc('ns', 'web', { clusterIP: '10.96.0.10', ports: [port('http', 80)] });
  const { endpoints } = view(s, [
    slice('ns', 'web', 'web-a', [{ name: 'http', port: 8080 }], [ep('10.244.0.1')]),
    slice('ns', 'api', 'api-a', [{ name: 'http', port: 8080 }], [ep('10.244.0.2')]),
    slice('other', 'web', 'web-a', [{ name: 'http', port: 8080 }], [ep('10.244.0.3')]),
  ]);
  assert.deepEqual(endpoints, { 'ns/web:http': ['10.244.0.1:8080'] });
});
