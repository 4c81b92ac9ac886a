/**
 * model-generators.ts (test support): fast-check arbitraries for Services, EndpointSlices and Nodes as users and API servers
 * send them, mostly well-formed, often with one definite defect (a bad IP or CIDR, a port out of range, a
 * duplicate port, an unknown protocol, a missing field, a huge or non-ASCII name). Each generated
 * Service says whether it carries a defect that must make the model skip (part of) it.
 */
import fc from 'fast-check';
import type { ApiEndpointSlice, ApiNode, ApiService } from '../../src/model/api.js';

export const NODE_NAME = 'node-a';
export const HOST_ADDRESSES = ['10.10.0.1', 'fd00::1'];

const octet = fc.integer({ min: 0, max: 255 });
const goodV4 = fc.tuple(fc.constantFrom(10, 172, 192), octet, octet, fc.integer({ min: 1, max: 254 })).map((p) => p.join('.'));
const goodV6 = fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 1, max: 0xffff })).map(([a, b]) => `fd00::${a.toString(16)}:${b.toString(16)}`);
/** Leading zeros: old Kubernetes accepted them; kube-proxy reads them as decimal. */
const zeroPadded = fc.tuple(octet, octet).map(([a, b]) => `010.0${a % 100}.00${b % 10}.01`);
const badIP = fc.constantFrom('999.1.1.1', '1.2.3', 'abc', '', ' 10.0.0.1', '10.0.0.1/32', '::g', '1::2::3', '10.0.0.256',
  'x'.repeat(300), '１０.0.0.1', '10.0.0.1\n-A INPUT -j ACCEPT', '10.0.0.1 -j DROP');

/** Bad IPs the model must refuse with a warning (the model trims surrounding blanks, so " 10.0.0.1" is not one). */
const definitelyBadIP = badIP.filter((s) => s.trim() === s || s.trim() === '');

export const ip = fc.oneof({ weight: 6, arbitrary: goodV4 }, { weight: 2, arbitrary: goodV6 }, { weight: 1, arbitrary: zeroPadded }, { weight: 2, arbitrary: badIP });

const goodCIDR = fc.oneof(goodV4.map((a) => `${a.split('.').slice(0, 2).join('.')}.0.0/16`), goodV6.map(() => 'fd00::/64'), fc.constant('0.0.0.0/0'));
const badCIDR = fc.constantFrom('10.0.0.0/33', '10.0.0.0/-1', '1.2.3.4/x', '', '::/129', 'nonsense', '10.0.0.0/8 -j ACCEPT', '10.0.0.0');
export const cidr = fc.oneof({ weight: 3, arbitrary: goodCIDR }, { weight: 1, arbitrary: badCIDR });

const dnsLabel = fc.stringMatching(/^[a-z]([a-z0-9-]{0,14}[a-z0-9])?$/);
const badName = fc.constantFrom('', 'UPPER', 'has space', 'säo-ü', 'emoji-😀', 'a'.repeat(300), 'x/y', '-lead', 'trail-', 'a;rm -rf /', 'a\nb');
export const name = fc.oneof({ weight: 8, arbitrary: dnsLabel }, { weight: 1, arbitrary: badName });

const goodPort = fc.integer({ min: 1, max: 65535 });
const badPort = fc.constantFrom(0, -1, 65536, 70000, 1.5, Number.NaN);
const goodProtocol = fc.constantFrom('TCP', 'UDP', 'SCTP', undefined);
const badProtocol = fc.constantFrom('ICMP', 'tcp', '', 'HTTP', 'TCP ');

export interface GeneratedService {
  readonly svc: ApiService;
  /** A defect the model must reject with a warning (the whole service or one of its ports). */
  readonly defect: string | undefined;
}

interface PortDraft { name: string; protocol: string | undefined; port: number; targetPort: number | string; nodePort?: number }

const portDraft = fc.record({
  name: fc.constantFrom('http', 'https', 'dns', 'metrics', 'p-1', ''),
  protocol: goodProtocol,
  port: goodPort,
  targetPort: fc.oneof(goodPort, fc.constantFrom('http', 'web', 'missing')),
  nodePort: fc.option(fc.integer({ min: 30000, max: 32767 }), { nil: undefined }),
});

/** A service, well-formed or with one definite defect. */
export const service: fc.Arbitrary<GeneratedService> = fc.record({
  ns: fc.oneof({ weight: 5, arbitrary: fc.constant('default') }, { weight: 1, arbitrary: dnsLabel }),
  name: dnsLabel,
  type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer', 'ClusterIP', 'ExternalName', undefined),
  family: fc.constantFrom('IPv4', 'IPv6'),
  v4IP: fc.oneof({ weight: 4, arbitrary: goodV4 }, { weight: 1, arbitrary: zeroPadded }),
  v6IP: goodV6,
  headless: fc.constantFrom(undefined, undefined, undefined, undefined, 'None', ''),
  ports: fc.array(portDraft, { minLength: 1, maxLength: 4 }),
  externalIPs: fc.array(ip, { maxLength: 2 }),
  ranges: fc.array(cidr, { maxLength: 2 }),
  lbIngress: fc.array(fc.record({ ip, ipMode: fc.constantFrom(undefined, 'VIP', 'Proxy') }), { maxLength: 2 }),
  affinity: fc.constantFrom('None', 'ClientIP', undefined, 'Sticky'),
  affinityTimeout: fc.option(fc.integer({ min: -10, max: 100_000 }), { nil: undefined }),
  etp: fc.constantFrom('Cluster', 'Local', undefined, 'Sideways'),
  itp: fc.constantFrom('Cluster', 'Local', undefined),
  dist: fc.constantFrom(undefined, 'PreferClose', 'PreferSameZone', 'PreferSameNode', 'Bogus'),
  defect: fc.constantFrom(undefined, undefined, undefined, 'bad cluster IP', 'port out of range', 'unknown protocol',
    'duplicate port', 'missing ports', 'missing spec', 'huge name', 'non-ASCII name', 'missing metadata', 'bad protocol type'),
  badIP: definitelyBadIP, badPort, badProtocol,
}).map((raw) => {
  const g = { ...raw, clusterIP: raw.headless ?? (raw.family === 'IPv4' ? raw.v4IP : raw.v6IP) };
  const ports: PortDraft[] = g.ports.map((p, i) => ({ ...p, name: g.ports.length > 1 ? `${p.name || 'p'}-${i}` : p.name }));
  const svc: ApiService = {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name: g.name, namespace: g.ns },
    spec: {
      type: g.type,
      clusterIP: g.clusterIP,
      clusterIPs: g.clusterIP ? [g.clusterIP] : undefined,
      ipFamilies: [g.family],
      ports: ports.map((p) => ({ name: p.name || undefined, protocol: p.protocol, port: p.port, targetPort: p.targetPort, nodePort: g.type === 'NodePort' || g.type === 'LoadBalancer' ? p.nodePort : undefined })),
      externalIPs: g.externalIPs,
      loadBalancerSourceRanges: g.ranges,
      sessionAffinity: g.affinity,
      sessionAffinityConfig: g.affinityTimeout === undefined ? undefined : { clientIP: { timeoutSeconds: g.affinityTimeout } },
      externalTrafficPolicy: g.etp,
      internalTrafficPolicy: g.itp,
      trafficDistribution: g.dist,
      externalName: g.type === 'ExternalName' ? 'example.com' : undefined,
    },
    status: { loadBalancer: { ingress: g.lbIngress } },
  };
  // A defect is definite only where the service would otherwise be proxied.
  const proxied = g.type !== 'ExternalName' && g.clusterIP !== 'None' && g.clusterIP !== '';
  let defect: string | undefined;
  const spec = svc.spec!;
  switch (g.defect) {
    case 'bad cluster IP':
      spec.clusterIP = g.badIP; spec.clusterIPs = [g.badIP];
      defect = proxied && g.badIP !== '' ? g.defect : undefined;
      break;
    case 'port out of range': spec.ports![0]!.port = g.badPort; defect = proxied ? g.defect : undefined; break;
    case 'unknown protocol': spec.ports![0]!.protocol = g.badProtocol; defect = proxied ? g.defect : undefined; break;
    case 'duplicate port':
      spec.ports!.push({ ...spec.ports![0]!, name: `${spec.ports![0]!.name ?? 'p'}-dup` });
      if (spec.ports!.length === 2 && !spec.ports![0]!.name) spec.ports![0]!.name = 'first';
      defect = proxied ? g.defect : undefined;
      break;
    case 'missing ports': delete spec.ports; break;
    case 'missing spec': delete (svc as { spec?: unknown }).spec; break;
    case 'huge name': svc.metadata!.name = 'n'.repeat(5000); defect = 'huge name'; break;
    case 'non-ASCII name': svc.metadata!.name = `dienst-ä-${g.name}`; defect = 'non-ASCII name'; break;
    case 'missing metadata': delete (svc as { metadata?: unknown }).metadata; defect = 'missing metadata'; break;
    case 'bad protocol type': (spec.ports![0] as Record<string, unknown>).protocol = 6; defect = proxied ? g.defect : undefined; break;
    default: break;
  }
  return { svc, defect };
});

/** An EndpointSlice for one of `serviceNames` (or a stray name), with good and bad endpoints. */
export function endpointSlice(serviceNames: readonly string[]): fc.Arbitrary<ApiEndpointSlice> {
  const svcName = serviceNames.length ? fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...serviceNames) }, { weight: 1, arbitrary: name }) : name;
  return fc.record({
    sliceName: name,
    svcName,
    ns: fc.oneof({ weight: 5, arbitrary: fc.constant('default') }, { weight: 1, arbitrary: dnsLabel }),
    addressType: fc.constantFrom('IPv4', 'IPv6', 'IPv4', 'FQDN', 'Bogus', undefined),
    endpoints: fc.array(fc.record({
      addresses: fc.array(ip, { minLength: 0, maxLength: 2 }),
      ready: fc.constantFrom(true, false, null, undefined),
      serving: fc.constantFrom(true, false, null, undefined),
      terminating: fc.constantFrom(true, false, null, undefined),
      nodeName: fc.constantFrom(NODE_NAME, 'node-b', undefined, ''),
      zone: fc.constantFrom('z1', 'z2', undefined),
      hintZones: fc.option(fc.array(fc.constantFrom('z1', 'z2', ''), { maxLength: 2 }), { nil: undefined }),
    }), { maxLength: 5 }),
    ports: fc.array(fc.record({
      name: fc.constantFrom('http', 'https', 'dns', 'metrics', '', undefined, 'p-0', 'p-1', 'web'),
      protocol: fc.oneof(goodProtocol, badProtocol),
      port: fc.oneof({ weight: 5, arbitrary: goodPort }, { weight: 1, arbitrary: badPort }),
    }), { maxLength: 3 }),
  }).map((g) => ({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: g.sliceName, namespace: g.ns, labels: { 'kubernetes.io/service-name': g.svcName } },
    addressType: g.addressType,
    endpoints: g.endpoints.map((e) => ({
      addresses: e.addresses,
      conditions: { ready: e.ready, serving: e.serving, terminating: e.terminating },
      nodeName: e.nodeName,
      zone: e.zone,
      hints: e.hintZones ? { forZones: e.hintZones.map((z) => ({ name: z })) } : undefined,
    })),
    ports: g.ports,
  }));
}

export const node: fc.Arbitrary<ApiNode | undefined> = fc.option(fc.record({
  addrs: fc.array(fc.record({ type: fc.constantFrom('InternalIP', 'ExternalIP', 'Hostname', 'Bogus'), address: ip }), { maxLength: 3 }),
  zone: fc.constantFrom('z1', 'z2', undefined, ''),
  podCIDR: cidr,
  deleting: fc.boolean(),
}).map((g) => ({
  apiVersion: 'v1', kind: 'Node',
  metadata: { name: NODE_NAME, labels: g.zone === undefined ? {} : { 'topology.kubernetes.io/zone': g.zone }, deletionTimestamp: g.deleting ? '2026-01-01T00:00:00Z' : undefined },
  spec: { podCIDR: g.podCIDR, podCIDRs: [g.podCIDR] },
  status: { addresses: g.addrs },
}) as ApiNode), { nil: undefined }) as fc.Arbitrary<ApiNode | undefined>;

/** A whole cluster: services, slices mostly pointing at them, and this node. */
export const cluster = fc.array(service, { minLength: 1, maxLength: 12 }).chain((services) => {
  const names = services.map((s) => s.svc.metadata?.name).filter((n): n is string => typeof n === 'string' && n.length < 64);
  return fc.record({
    services: fc.constant(services),
    slices: fc.array(endpointSlice(names), { maxLength: 12 }),
    node,
  });
});
