/**
 * Service → ServicePort tests, in the spirit of kube-proxy's TestBuildServiceMapAddRemove,
 * TestBuildServiceMapServiceHeadless / …TypeExternalName / …Update and TestBadIPs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { servicePortSpecs, servicePortsFor } from '../../../src/model/index.js';
import type { ApiService } from '../../../src/model/api.js';
import type { IPFamily } from '../../../src/model/types.js';
import { port, svc } from '../../support/api-objects.js';
import { context } from './fixtures.js';

function specs(s: ApiService, family: IPFamily = 'IPv4') {
  const warnings: string[] = [];
  const out = servicePortSpecs(s, family, (m, f) => warnings.push(`${m} ${JSON.stringify(f ?? {})}`));
  return { out, warnings, byKey: new Map(out.map((p) => [p.key, p])) };
}

/** kube-proxy's HealthCheckNodePorts(): service → HC port, for services that have one. */
function healthCheckPorts(list: ReturnType<typeof specs>['out']): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of list) if (p.healthCheckNodePort) out[p.serviceKey] = p.healthCheckNodePort;
  return out;
}

const services: ApiService[] = [
  svc('somewhere-else', 'cluster-ip', {
    type: 'ClusterIP', clusterIP: '172.30.55.4',
    ports: [port('something', 1234, 'UDP'), port('somethingelse', 1235, 'UDP'), port('sctpport', 1236, 'SCTP')],
  }),
  svc('somewhere-else', 'node-port', {
    type: 'NodePort', clusterIP: '172.30.55.10',
    ports: [port('blahblah', 345, 'UDP', { nodePort: 30345 }), port('moreblahblah', 344, 'TCP', { nodePort: 30344 }),
      port('muchmoreblah', 343, 'SCTP', { nodePort: 30343 })],
  }),
  svc('somewhere', 'load-balancer', {
    type: 'LoadBalancer', clusterIP: '172.30.55.11', loadBalancerIP: '1.2.3.4',
    ports: [port('foobar', 8675, 'UDP', { nodePort: 30061 }), port('baz', 8676, 'UDP', { nodePort: 30062 })],
  }, { status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } } }),
  svc('somewhere', 'only-local-load-balancer', {
    type: 'LoadBalancer', clusterIP: '172.30.55.12', externalTrafficPolicy: 'Local', healthCheckNodePort: 30345,
    ports: [port('foobar2', 8677, 'UDP', { nodePort: 30063 }), port('baz', 8678, 'UDP', { nodePort: 30064 })],
  }, { status: { loadBalancer: { ingress: [{ ip: '5.6.7.8' }] } } }),
];

test('every port of every proxied service becomes a ServicePort, and eTP=Local load balancers a health-check port', () => {
  const all = services.flatMap((s) => specs(s).out);
  assert.deepEqual(all.map((p) => p.key), [
    'somewhere-else/cluster-ip:something', 'somewhere-else/cluster-ip:somethingelse', 'somewhere-else/cluster-ip:sctpport',
    'somewhere-else/node-port:blahblah', 'somewhere-else/node-port:moreblahblah', 'somewhere-else/node-port:muchmoreblah',
    'somewhere/load-balancer:foobar', 'somewhere/load-balancer:baz',
    'somewhere/only-local-load-balancer:foobar2', 'somewhere/only-local-load-balancer:baz',
  ]);
  assert.deepEqual(healthCheckPorts(all), { 'somewhere/only-local-load-balancer': 30345 });
  const np = all.find((p) => p.key === 'somewhere-else/node-port:muchmoreblah')!;
  assert.equal(np.protocol, 'SCTP');
  assert.equal(np.nodePort, 30343);
  assert.equal(np.clusterIP, '172.30.55.10');
  assert.equal(np.port, 343);
  const lb = all.find((p) => p.key === 'somewhere/load-balancer:foobar')!;
  assert.deepEqual(lb.loadBalancerIPs, ['1.2.3.4']);
  assert.ok(lb.externallyAccessible);
  assert.ok(!lb.externalPolicyLocal);
  const local = all.find((p) => p.key === 'somewhere/only-local-load-balancer:baz')!;
  assert.ok(local.externalPolicyLocal);
  assert.equal(local.healthCheckNodePort, 30345);
});

test('an unnamed port is keyed "ns/name" and named ports "ns/name:port", like ServicePortName.String()', () => {
  const { out } = specs(svc('ns1', 'svc1', { clusterIP: '10.96.0.1', ports: [{ port: 80 }] }));
  assert.equal(out.length, 1);
  assert.equal(out[0].key, 'ns1/svc1');
  assert.equal(out[0].portName, '');
  assert.equal(out[0].protocol, 'TCP'); // the API's default
  const named = specs(svc('ns1', 'svc1', { clusterIP: '10.96.0.1', ports: [port('p80', 80)] })).out[0];
  assert.equal(named.key, 'ns1/svc1:p80');
  assert.equal(named.hash, 'XPGD46QRK7WJZT7O');
  assert.equal(named.serviceKey, 'ns1/svc1');
  assert.equal(named.namespace, 'ns1');
  assert.equal(named.name, 'svc1');
});

test('headless, ExternalName, other proxies\' and ClusterIP-less services are not proxied, silently', () => {
  const skipped: ApiService[] = [
    svc('ns', 'headless', { type: 'ClusterIP', clusterIP: 'None', ports: [port('rpc', 1234), port('rpc2', 1235)] }),
    svc('ns', 'headless-ips', { clusterIP: 'None', clusterIPs: ['None'], ports: [port('rpc', 1234)] }),
    svc('ns', 'external-name', { type: 'ExternalName', clusterIP: '', externalName: 'foo2.bar.com', ports: [port('x', 80)] }),
    svc('ns', 'external-name-with-ip', { type: 'ExternalName', clusterIP: '10.96.0.9', externalName: 'x.example', ports: [port('x', 80)] }),
    svc('ns', 'no-cluster-ip', { type: 'ClusterIP', ports: [port('x', 80)] }),
    svc('ns', 'other-proxy', { clusterIP: '10.96.0.8', ports: [port('x', 80)] },
      { metadata: { labels: { 'service.kubernetes.io/service-proxy-name': 'foo-bar' } } }),
  ];
  for (const s of skipped) {
    const { out, warnings } = specs(s);
    assert.deepEqual(out, [], s.metadata!.name);
    assert.deepEqual(warnings, [], s.metadata!.name);
  }
});

test('toggling a service between ClusterIP and LoadBalancer with eTP=Local adds and removes its health-check port', () => {
  const base = { clusterIP: '172.30.55.4', ports: [port('something', 1234, 'UDP'), port('somethingelse', 1235, 'UDP')] };
  const asClusterIP = svc('ns', 'svc', { type: 'ClusterIP', ...base });
  const asLB = svc('ns', 'svc', {
    ...base, type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 345,
    ports: [port('something', 1234, 'UDP', { nodePort: 30001 }), port('somethingelse', 1235, 'UDP', { nodePort: 30002 })],
  }, { status: { loadBalancer: { ingress: [{ ip: '10.1.2.4' }] } } });
  assert.deepEqual(healthCheckPorts(specs(asClusterIP).out), {});
  assert.deepEqual(healthCheckPorts(specs(asLB).out), { 'ns/svc': 345 });
  assert.deepEqual(healthCheckPorts(specs(asClusterIP).out), {});
  // A NodePort with eTP=Local has local semantics but no health check (that is for cloud load balancers).
  const asNodePort = svc('ns', 'svc', { ...asLB.spec!, type: 'NodePort' });
  const p = specs(asNodePort).out[0];
  assert.ok(p.externalPolicyLocal);
  assert.equal(p.healthCheckNodePort, 0);
});

test('an eTP=Local load balancer without a healthCheckNodePort is kept, with a warning', () => {
  const { out, warnings } = specs(svc('ns', 'lb', {
    type: 'LoadBalancer', clusterIP: '10.96.0.5', externalTrafficPolicy: 'Local', ports: [port('p', 80, 'TCP', { nodePort: 30080 })],
  }));
  assert.equal(out.length, 1);
  assert.equal(out[0].healthCheckNodePort, 0);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /healthCheckNodePort/);
});

test('ClientIP session affinity defaults to 10800 seconds and honours a configured timeout', () => {
  const mk = (extra: object) => specs(svc('ns', 's', { clusterIP: '10.96.0.1', ports: [port('p', 80)], ...extra }));
  assert.equal(mk({}).out[0].affinityTimeoutSeconds, 0);
  assert.equal(mk({ sessionAffinity: 'None' }).out[0].affinityTimeoutSeconds, 0);
  assert.equal(mk({ sessionAffinity: 'ClientIP' }).out[0].affinityTimeoutSeconds, 10800);
  assert.equal(mk({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 300 } } }).out[0].affinityTimeoutSeconds, 300);
  const bad = mk({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 0 } } });
  assert.equal(bad.out[0].affinityTimeoutSeconds, 10800);
  assert.equal(bad.warnings.length, 1);
});

test('load balancer ingress with ipMode Proxy or only a hostname gets no LB IP; VIP mode does', () => {
  const { out } = specs(svc('ns', 'lb', { type: 'LoadBalancer', clusterIP: '10.96.0.7', ports: [port('p', 80, 'TCP', { nodePort: 30007 })] },
    { status: { loadBalancer: { ingress: [
      { ip: '203.0.113.10', ipMode: 'VIP' }, { ip: '203.0.113.11', ipMode: 'Proxy' }, { hostname: 'lb.example.com' },
      { ip: '203.0.113.12' }, { ip: '2001:db8::10' },
    ] } } }));
  assert.deepEqual(out[0].loadBalancerIPs, ['203.0.113.10', '203.0.113.12']);
});

test('a dual-stack service gives each family its own ClusterIP, externalIPs, LB IPs and source ranges', () => {
  const dual = svc('ns', 'dual', {
    type: 'LoadBalancer', clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10', 'fd00:10:96::a'], ipFamilies: ['IPv4', 'IPv6'],
    externalIPs: ['10.10.0.100', '2001:db8::100'],
    loadBalancerSourceRanges: ['192.168.0.0/16', ' 2001:db8:1::/48 '],
    ports: [port('http', 80, 'TCP', { nodePort: 30080 })],
  }, { status: { loadBalancer: { ingress: [{ ip: '203.0.113.10' }, { ip: '2001:db8::10' }] } } });
  const v4 = specs(dual, 'IPv4').out[0];
  const v6 = specs(dual, 'IPv6').out[0];
  assert.equal(v4.family, 'IPv4');
  assert.equal(v4.clusterIP, '10.96.0.10');
  assert.deepEqual(v4.externalIPs, ['10.10.0.100']);
  assert.deepEqual(v4.loadBalancerIPs, ['203.0.113.10']);
  assert.deepEqual(v4.loadBalancerSourceRanges, ['192.168.0.0/16']);
  assert.equal(v6.family, 'IPv6');
  assert.equal(v6.clusterIP, 'fd00:10:96::a');
  assert.deepEqual(v6.externalIPs, ['2001:db8::100']);
  assert.deepEqual(v6.loadBalancerIPs, ['2001:db8::10']);
  assert.deepEqual(v6.loadBalancerSourceRanges, ['2001:db8:1::/48']);
  assert.equal(v4.hash, v6.hash); // the chain name does not depend on the family (separate tables)
  // A single-stack IPv6 service has no IPv4 ports at all.
  const v6only = svc('ns', 'v6', { clusterIP: 'fd00::5', ports: [port('p', 80)] });
  assert.deepEqual(specs(v6only, 'IPv4').out, []);
  assert.equal(specs(v6only, 'IPv6').out.length, 1);
});

test('IPs and CIDRs with leading zeros are normalised (kube-proxy\'s TestBadIPs)', () => {
  const { out, warnings } = specs(svc('ns', 'svc', {
    type: 'LoadBalancer', clusterIP: '172.30.0.041', externalIPs: ['192.168.099.11'],
    loadBalancerSourceRanges: ['203.0.113.0/025', '010.0.0.0/8'],
    ports: [port('p80', 80, 'TCP', { nodePort: 3001 })],
  }, { status: { loadBalancer: { ingress: [{ ip: '1.2.3.004' }] } } }));
  assert.deepEqual(warnings, []);
  assert.equal(out[0].clusterIP, '172.30.0.41');
  assert.deepEqual(out[0].externalIPs, ['192.168.99.11']);
  assert.deepEqual(out[0].loadBalancerIPs, ['1.2.3.4']);
  assert.deepEqual(out[0].loadBalancerSourceRanges, ['203.0.113.0/25', '10.0.0.0/8']);
});

test('traffic policies decide which endpoint sets each port uses (usesClusterEndpoints / usesLocalEndpoints)', () => {
  type Row = [name: string, spec: object, externalPolicyLocal: boolean, internalPolicyLocal: boolean, usesCluster: boolean, usesLocal: boolean];
  const np = { type: 'NodePort', ports: [port('p', 80, 'TCP', { nodePort: 30080 })] };
  const cip = { type: 'ClusterIP', ports: [port('p', 80)] };
  const rows: Row[] = [
    ['ClusterIP, both Cluster', { ...cip }, false, false, true, false],
    ['ClusterIP, iTP Local', { ...cip, internalTrafficPolicy: 'Local' }, false, true, false, true],
    ['ClusterIP, eTP Local is meaningless without external access', { ...cip, externalTrafficPolicy: 'Local' }, false, false, true, false],
    ['ClusterIP with externalIPs, eTP Local', { ...cip, externalIPs: ['10.10.0.100'], externalTrafficPolicy: 'Local' }, true, false, true, true],
    ['NodePort, both Cluster', { ...np }, false, false, true, false],
    ['NodePort, eTP Local', { ...np, externalTrafficPolicy: 'Local' }, true, false, true, true],
    ['NodePort, iTP Local (external traffic still needs cluster endpoints)', { ...np, internalTrafficPolicy: 'Local' }, false, true, true, true],
    ['NodePort, both Local', { ...np, externalTrafficPolicy: 'Local', internalTrafficPolicy: 'Local' }, true, true, true, true],
  ];
  for (const [name, spec, epl, ipl, uc, ul] of rows) {
    const p = specs(svc('ns', 's', { clusterIP: '10.96.0.3', ...spec } as ApiService['spec'] & object)).out[0];
    assert.deepEqual([p.externalPolicyLocal, p.internalPolicyLocal, p.usesClusterEndpoints, p.usesLocalEndpoints], [epl, ipl, uc, ul], name);
  }
});

test('externalIPs of the other family do not make a port externally accessible in this family', () => {
  const p = specs(svc('ns', 's', { clusterIP: '10.96.0.3', externalIPs: ['2001:db8::1'], externalTrafficPolicy: 'Local', internalTrafficPolicy: 'Local', ports: [port('p', 80)] })).out[0];
  assert.deepEqual(p.externalIPs, []);
  assert.ok(!p.externallyAccessible);
  assert.ok(p.externalPolicyLocal); // the service as a whole is externally accessible (apiservice semantics)
  assert.ok(!p.usesClusterEndpoints); // but this family only ever uses local endpoints
  assert.ok(p.usesLocalEndpoints);
});

test('a bad port skips only that port, with a warning naming it', () => {
  const { out, warnings } = specs(svc('ns', 'mixed', {
    type: 'NodePort', clusterIP: '10.96.0.4',
    ports: [
      port('good', 80, 'TCP', { nodePort: 30080 }),
      port('zero', 0),
      port('too-big', 70000),
      port('proto', 81, 'ICMP'),
      port('lower', 82, 'tcp'),
      port('badnode', 83, 'TCP', { nodePort: 99999 }),
      port('Bad_Name', 84),
      port('good', 85), // duplicate name
      port('dup-port', 80), // duplicate port/protocol
      port('udp-same-number', 80, 'UDP'), // same number, other protocol: fine
      { name: 'fraction', port: 80.5 },
      null as unknown as object,
    ],
  }));
  assert.deepEqual(out.map((p) => p.key), ['ns/mixed:good', 'ns/mixed:udp-same-number']);
  assert.equal(warnings.length, 10, warnings.join('\n'));
});

test('a bad ClusterIP or source range skips the service, a bad externalIP or ingress IP only that address', () => {
  const badIP = specs(svc('ns', 'bad-ip', { clusterIP: '10.96.0.300', ports: [port('p', 80)] }));
  assert.deepEqual(badIP.out, []);
  assert.equal(badIP.warnings.length, 1);
  assert.match(badIP.warnings[0], /invalid clusterIP/);

  const badRange = specs(svc('ns', 'bad-range', { type: 'LoadBalancer', clusterIP: '10.96.0.6', loadBalancerSourceRanges: ['10.0.0.0/8', 'not-a-cidr'], ports: [port('p', 80, 'TCP', { nodePort: 30001 })] }));
  assert.deepEqual(badRange.out, []);
  assert.match(badRange.warnings[0], /loadBalancerSourceRanges/);

  const badExt = specs(svc('ns', 'bad-ext', { clusterIP: '10.96.0.7', externalIPs: ['10.10.0.100', 'nope'], ports: [port('p', 80)] },
    { status: { loadBalancer: { ingress: [{ ip: 'also-nope' }] } } }));
  assert.equal(badExt.out.length, 1);
  assert.deepEqual(badExt.out[0].externalIPs, ['10.10.0.100']);
  assert.equal(badExt.warnings.length, 2);
});

test('objects without a usable name, spec or type are skipped with a warning, never a throw', () => {
  const bad: unknown[] = [
    { metadata: { namespace: 'ns' }, spec: { clusterIP: '10.96.0.1', ports: [port('p', 80)] } },
    { metadata: { name: 'Upper', namespace: 'ns' }, spec: { clusterIP: '10.96.0.1', ports: [port('p', 80)] } },
    { metadata: { name: 'x', namespace: 'has space' }, spec: { clusterIP: '10.96.0.1' } },
    { metadata: { name: 'nospec', namespace: 'ns' } },
    { metadata: { name: 'weird', namespace: 'ns' }, spec: { type: 'Magic', clusterIP: '10.96.0.1', ports: [port('p', 80)] } },
    {},
  ];
  for (const s of bad) {
    const r = specs(s as ApiService);
    assert.deepEqual(r.out, []);
    assert.equal(r.warnings.length, 1, JSON.stringify(s));
  }
});

test('a service without a namespace lands in "default", as kubectl would put it', () => {
  const { out } = specs({ metadata: { name: 'web' }, spec: { clusterIP: '10.96.0.2', ports: [port('http', 80)] } });
  assert.equal(out[0].key, 'default/web:http');
});

test('a service with no slices has ports but no endpoints (REJECT territory)', () => {
  const ctx = context();
  const ports = servicePortsFor(svc('ns', 'empty', { clusterIP: '10.96.0.2', ports: [port('http', 80)] }), [], ctx);
  assert.equal(ports.length, 1);
  assert.deepEqual(ports[0].endpoints, []);
  assert.equal(ports[0].hasAnyEndpoints, false);
  assert.equal(ports[0].readyLocalEndpointCount, 0);
});
