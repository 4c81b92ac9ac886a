/**
 * Packet-flow tables in the shape of kube-proxy's iptables proxier tests, on the real model and the real
 * renderer: no endpoints, ClusterIP basics (ports, protocols, hairpin), LoadBalancer source ranges,
 * NodePorts (IPv4/IPv6, localhost, nodePortAddresses), the health-check node port, external and internal
 * traffic policies, and terminating endpoints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiEndpoint, ApiEndpointSlice, ApiService } from '../../../src/model/api.js';
import { assertIptablesChainEqual } from '../../support/iptables-assert.js';
import {
  TEST_EXTERNAL_CLIENT, TEST_EXTERNAL_CLIENT_BLOCKED, TEST_NODE_IP, TEST_NODE_IPV6, TEST_NODE_IPV6_ALT, TEST_NODE_IP_ALT,
  TEST_NODE_NAME, assertConsistent, makeService, makeSlice, renderCluster, runPacketFlows, type PacketFlow,
} from '../trace/flow-harness.js';

test('a service without endpoints rejects on its ClusterIP, externalIP, NodePort and LB IP', async (t) => {
  const cluster = await renderCluster([makeService('ns1', 'svc1', (svc) => {
    svc.spec.type = 'LoadBalancer';
    svc.spec.clusterIP = '172.30.0.41';
    svc.spec.externalIPs = ['192.168.99.11'];
    svc.spec.ports = [{ name: 'p80', protocol: 'TCP', port: 80, nodePort: 3001 }];
    svc.status = { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } };
  })], []);
  assertConsistent(cluster);
  await runPacketFlows(t, cluster, [
    { name: 'pod to cluster IP with no endpoints', sourceIP: '10.0.0.2', destIP: '172.30.0.41', destPort: 80, output: 'REJECT' },
    { name: 'external to external IP with no endpoints', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '192.168.99.11', destPort: 80, output: 'REJECT' },
    { name: 'pod to NodePort with no endpoints', sourceIP: '10.0.0.2', destIP: TEST_NODE_IP, destPort: 3001, output: 'REJECT' },
    { name: 'external to NodePort with no endpoints', sourceIP: TEST_EXTERNAL_CLIENT, destIP: TEST_NODE_IP, destPort: 3001, output: 'REJECT' },
    { name: 'pod to LoadBalancer IP with no endpoints', sourceIP: '10.0.0.2', destIP: '1.2.3.4', destPort: 80, output: 'REJECT' },
    { name: 'external to LoadBalancer IP with no endpoints', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '1.2.3.4', destPort: 80, output: 'REJECT' },
  ]);
});

test('ClusterIP: endpoints, targetPort remap, TCP/UDP/SCTP on one port, hairpin', async (t) => {
  const services = [
    makeService('ns1', 'svc1', (svc) => {
      svc.spec.clusterIP = '172.30.0.41';
      svc.spec.ports = [{ name: 'http', port: 80, protocol: 'TCP' }];
    }),
    makeService('ns2', 'svc2', (svc) => {
      svc.spec.clusterIP = '172.30.0.42';
      svc.spec.ports = [
        { name: 'http', port: 80, protocol: 'TCP' },
        { name: 'https', port: 443, protocol: 'TCP', targetPort: 8443 },
        { name: 'dns-udp', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 5353 },
        { name: 'dns-sctp', port: 53, protocol: 'SCTP' },
      ];
    }),
  ];
  const slices = [
    makeSlice('ns1', 'svc1', 1, (eps) => {
      eps.addressType = 'IPv4';
      eps.endpoints = [{ addresses: ['10.180.0.1'], nodeName: TEST_NODE_NAME }];
      eps.ports = [{ name: 'http', port: 80, protocol: 'TCP' }];
    }),
    makeSlice('ns2', 'svc2', 1, (eps) => {
      eps.addressType = 'IPv4';
      eps.endpoints = [{ addresses: ['10.180.0.1'], nodeName: TEST_NODE_NAME }, { addresses: ['10.180.2.1'], nodeName: 'node2' }];
      eps.ports = [
        { name: 'http', port: 80, protocol: 'TCP' },
        { name: 'https', port: 8443, protocol: 'TCP' },
        { name: 'dns-udp', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 5353, protocol: 'TCP' },
        { name: 'dns-sctp', port: 53, protocol: 'SCTP' },
      ];
    }),
  ];
  const cluster = await renderCluster(services, slices);
  assertConsistent(cluster);
  await runPacketFlows(t, cluster, [
    { name: 'simple clusterIP', sourceIP: '10.180.0.2', destIP: '172.30.0.41', destPort: 80, output: '10.180.0.1:80', masq: false },
    { name: 'hairpin to cluster IP', sourceIP: '10.180.0.1', destIP: '172.30.0.41', destPort: 80, output: '10.180.0.1:80', masq: true },
    { name: 'clusterIP with multiple endpoints', sourceIP: '10.180.0.2', destIP: '172.30.0.42', destPort: 80, output: '10.180.0.1:80, 10.180.2.1:80', masq: false },
    { name: 'clusterIP with TargetPort', sourceIP: '10.180.0.2', destIP: '172.30.0.42', destPort: 443, output: '10.180.0.1:8443, 10.180.2.1:8443', masq: false },
    { name: 'clusterIP with TCP, UDP, and SCTP on same port (TCP)', sourceIP: '10.180.0.2', protocol: 'TCP', destIP: '172.30.0.42', destPort: 53, output: '10.180.0.1:5353, 10.180.2.1:5353', masq: false },
    { name: 'clusterIP with TCP, UDP, and SCTP on same port (UDP)', sourceIP: '10.180.0.2', protocol: 'UDP', destIP: '172.30.0.42', destPort: 53, output: '10.180.0.1:53, 10.180.2.1:53', masq: false },
    { name: 'clusterIP with TCP, UDP, and SCTP on same port (SCTP)', sourceIP: '10.180.0.2', protocol: 'SCTP', destIP: '172.30.0.42', destPort: 53, output: '10.180.0.1:53, 10.180.2.1:53', masq: false },
    { name: 'TCP-only port does not match UDP traffic', sourceIP: '10.180.0.2', protocol: 'UDP', destIP: '172.30.0.42', destPort: 80, output: '' },
    { name: 'svc1 does not accept svc2\'s ports', sourceIP: '10.180.0.2', destIP: '172.30.0.41', destPort: 443, output: '' },
    { name: 'hairpin through a multi-endpoint service is masqueraded', sourceIP: '10.180.2.1', destIP: '172.30.0.42', destPort: 80, output: '10.180.0.1:80, 10.180.2.1:80', masq: true },
  ]);
});

test('LoadBalancer: source ranges allow and block, NodePorts bypass them, the node is allowed', async (t) => {
  const cluster = await renderCluster([makeService('ns1', 'svc1', (svc) => {
    svc.spec.type = 'LoadBalancer';
    svc.spec.clusterIP = '172.30.0.41';
    svc.spec.ports = [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3001 }];
    svc.status = { loadBalancer: { ingress: [{ ip: '1.2.3.4' }, { ip: '5.6.7.8' }] } };
    // (kube-proxy's regression check: surrounding whitespace is ignored.)
    svc.spec.loadBalancerSourceRanges = ['192.168.0.0/24', ' 203.0.113.0/25'];
  })], [makeSlice('ns1', 'svc1', 1, (eps) => {
    eps.addressType = 'IPv4';
    eps.endpoints = [{ addresses: ['10.180.0.1'] }];
    eps.ports = [{ name: 'p80', port: 80, protocol: 'TCP' }];
  })]);
  assertConsistent(cluster);
  const ep = '10.180.0.1:80';
  await runPacketFlows(t, cluster, [
    { name: 'pod to cluster IP', sourceIP: '10.0.0.2', destIP: '172.30.0.41', destPort: 80, output: ep, masq: false },
    { name: 'external to nodePort', sourceIP: TEST_EXTERNAL_CLIENT, destIP: TEST_NODE_IP, destPort: 3001, output: ep, masq: true },
    { name: 'nodePort bypasses LoadBalancerSourceRanges', sourceIP: TEST_EXTERNAL_CLIENT_BLOCKED, destIP: TEST_NODE_IP, destPort: 3001, output: ep, masq: true },
    { name: 'accepted external to LB1', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '1.2.3.4', destPort: 80, output: ep, masq: true },
    { name: 'accepted external to LB2', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '5.6.7.8', destPort: 80, output: ep, masq: true },
    { name: 'blocked external to LB1', sourceIP: TEST_EXTERNAL_CLIENT_BLOCKED, destIP: '1.2.3.4', destPort: 80, output: 'DROP' },
    { name: 'blocked external to LB2', sourceIP: TEST_EXTERNAL_CLIENT_BLOCKED, destIP: '5.6.7.8', destPort: 80, output: 'DROP' },
    { name: 'pod to LB1 (blocked by LoadBalancerSourceRanges)', sourceIP: '10.0.0.2', destIP: '1.2.3.4', destPort: 80, output: 'DROP' },
    { name: 'pod to LB2 (blocked by LoadBalancerSourceRanges)', sourceIP: '10.0.0.2', destIP: '5.6.7.8', destPort: 80, output: 'DROP' },
    { name: 'node to LB1 (allowed by LoadBalancerSourceRanges)', sourceIP: TEST_NODE_IP, destIP: '1.2.3.4', destPort: 80, output: ep, masq: true },
    { name: 'node to LB2 (allowed by LoadBalancerSourceRanges)', sourceIP: TEST_NODE_IP, destIP: '5.6.7.8', destPort: 80, output: ep, masq: true },
    // A connection from the node to its own LB IP is SNATed to the LB IP by the system: implicitly allowed.
    { name: 'same node to LB1, SNATted to LB1 (implicitly allowed)', sourceIP: '1.2.3.4', destIP: '1.2.3.4', destPort: 80, output: ep, masq: true },
    { name: 'same node to LB2, SNATted to LB2 (implicitly allowed)', sourceIP: '5.6.7.8', destIP: '5.6.7.8', destPort: 80, output: ep, masq: true },
  ]);
});

const nodePortCases: {
  name: string; family: 'IPv4' | 'IPv6'; localhostNodePorts: boolean; nodePortAddresses?: string[];
  allowAltNodeIP: boolean; expectFirewall: boolean;
}[] = [
  { name: 'ipv4, localhost-nodeports enabled', family: 'IPv4', localhostNodePorts: true, allowAltNodeIP: true, expectFirewall: true },
  { name: 'ipv4, localhost-nodeports disabled', family: 'IPv4', localhostNodePorts: false, allowAltNodeIP: true, expectFirewall: false },
  { name: 'ipv4, localhost-nodeports disabled, localhost in nodeport-addresses', family: 'IPv4', localhostNodePorts: false, nodePortAddresses: ['192.168.0.0/24', '127.0.0.1/32'], allowAltNodeIP: false, expectFirewall: false },
  { name: 'ipv4, localhost-nodeports disabled, multiple nodeport-addresses', family: 'IPv4', localhostNodePorts: false, nodePortAddresses: ['192.168.0.0/24', '192.168.1.0/24', '2001:db8::/64'], allowAltNodeIP: true, expectFirewall: false },
  { name: 'ipv6, localhost-nodeports enabled', family: 'IPv6', localhostNodePorts: true, allowAltNodeIP: true, expectFirewall: false },
  { name: 'ipv6, localhost-nodeports disabled', family: 'IPv6', localhostNodePorts: false, allowAltNodeIP: true, expectFirewall: false },
  { name: 'ipv6, localhost-nodeports disabled, multiple nodeport-addresses', family: 'IPv6', localhostNodePorts: false, nodePortAddresses: ['192.168.0.0/24', '192.168.1.0/24', '2001:db8::/64'], allowAltNodeIP: false, expectFirewall: false },
];

for (const tc of nodePortCases) {
  test(`NodePorts (${tc.name}): external and node traffic is masqueraded; localhost only on IPv4 when enabled`, async (t) => {
    const v4 = tc.family === 'IPv4';
    const svcIP = v4 ? '172.30.0.41' : 'fd00:172:30::41';
    const ep1 = v4 ? '10.180.0.1' : 'fd00:10:180::1';
    const ep2 = v4 ? '10.180.2.1' : 'fd00:10:180::2:1';
    const cluster = await renderCluster([makeService('ns1', 'svc1', (svc) => {
      svc.spec.type = 'NodePort';
      svc.spec.clusterIP = svcIP;
      svc.spec.ports = [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3001 }];
    })], [makeSlice('ns1', 'svc1', 1, (eps) => {
      eps.addressType = tc.family;
      eps.endpoints = [{ addresses: [ep1] }, { addresses: [ep2], nodeName: TEST_NODE_NAME }];
      eps.ports = [{ name: 'p80', port: 80, protocol: 'TCP' }];
    })], { family: tc.family, localhostNodePorts: tc.localhostNodePorts, nodePortAddresses: tc.nodePortAddresses });
    assertConsistent(cluster);
    const pod = v4 ? '10.0.0.2' : 'fd00:10::2';
    const external = v4 ? TEST_EXTERNAL_CLIENT : '2600:5200::1';
    const node = v4 ? TEST_NODE_IP : TEST_NODE_IPV6;
    const alt = v4 ? TEST_NODE_IP_ALT : TEST_NODE_IPV6_ALT;
    const localhost = v4 ? '127.0.0.1' : '::1';
    const join = (ip: string) => (v4 ? `${ip}:80` : `[${ip}]:80`);
    const output = `${join(ep1)}, ${join(ep2)}`;
    const flows: PacketFlow[] = [
      { name: 'pod to cluster IP', sourceIP: pod, destIP: svcIP, destPort: 80, output, masq: false },
      { name: 'external to nodePort', sourceIP: external, destIP: node, destPort: 3001, output, masq: true },
      { name: 'node to nodePort', sourceIP: node, destIP: node, destPort: 3001, output, masq: true },
      v4 && tc.localhostNodePorts
        ? { name: 'localhost to nodePort gets masqueraded', sourceIP: localhost, destIP: localhost, destPort: 3001, output, masq: true }
        : { name: 'localhost to nodePort is ignored', sourceIP: localhost, destIP: localhost, destPort: 3001, output: '' },
      tc.allowAltNodeIP
        ? { name: 'external to nodePort on secondary IP', sourceIP: external, destIP: alt, destPort: 3001, output, masq: true }
        : { name: 'secondary nodeIP ignores NodePorts', sourceIP: external, destIP: alt, destPort: 3001, output: '' },
    ];
    await runPacketFlows(t, cluster, flows);
    await t.test(`the anti-martian KUBE-FIREWALL rule is ${tc.expectFirewall ? 'present' : 'absent'}`, () => {
      assertIptablesChainEqual('filter', 'KUBE-FIREWALL', tc.expectFirewall
        ? '-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP'
        : '', cluster.restoreInput);
    });
  });
}

test('the health-check node port is accepted, and its rule goes with the service', async (t) => {
  const svc = makeService('ns1', 'svc1', (s) => {
    s.spec.type = 'LoadBalancer';
    s.spec.clusterIP = '172.30.0.42';
    s.spec.ports = [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3001 }];
    s.spec.healthCheckNodePort = 30000;
    s.spec.externalTrafficPolicy = 'Local';
  });
  const cfg = { nodePortAddresses: ['127.0.0.0/8'] };
  const withService = await renderCluster([svc], [], cfg);
  assertConsistent(withService);
  await runPacketFlows(t, withService, [
    { name: 'firewall accepts HealthCheckNodePort', sourceIP: '1.2.3.4', destIP: TEST_NODE_IP, destPort: 30000, output: 'ACCEPT', masq: false },
  ]);
  const deleted = await renderCluster([], [], cfg);
  await runPacketFlows(t, deleted, [
    { name: 'HealthCheckNodePort no longer has any rule', sourceIP: '1.2.3.4', destIP: TEST_NODE_IP, destPort: 30000, output: '' },
  ]);
});

function policyService(etp: 'Local' | 'Cluster'): ApiService {
  return makeService('ns1', 'svc1', (svc) => {
    svc.spec.type = 'LoadBalancer';
    svc.spec.externalTrafficPolicy = etp;
    svc.spec.clusterIP = '172.30.0.41';
    svc.spec.externalIPs = ['192.168.99.11'];
    svc.spec.ports = [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3001, targetPort: 80 }];
    if (etp === 'Local') svc.spec.healthCheckNodePort = 30000;
    svc.status = { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } };
  });
}

const policySlice = makeSlice('ns1', 'svc1', 1, (eps) => {
  eps.addressType = 'IPv4';
  eps.endpoints = [{ addresses: ['10.180.0.1'] }, { addresses: ['10.180.2.1'], nodeName: TEST_NODE_NAME }];
  eps.ports = [{ name: 'p80', port: 80, protocol: 'TCP' }];
});

test('externalTrafficPolicy=Local: outside clients reach only the local endpoint with their address kept; pods reach all', async (t) => {
  const cluster = await renderCluster([policyService('Local')], [policySlice]);
  assertConsistent(cluster);
  const both = '10.180.0.1:80, 10.180.2.1:80';
  const local = '10.180.2.1:80';
  await runPacketFlows(t, cluster, [
    { name: 'pod to cluster IP hits both endpoints, unmasqueraded', sourceIP: '10.0.0.2', destIP: '172.30.0.41', destPort: 80, output: both, masq: false },
    { name: 'pod to external IP hits both endpoints, unmasqueraded', sourceIP: '10.0.0.2', destIP: '192.168.99.11', destPort: 80, output: both, masq: false },
    { name: 'external to external IP hits only local endpoint, unmasqueraded', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '192.168.99.11', destPort: 80, output: local, masq: false },
    { name: 'pod to LB IP hits only both endpoints, unmasqueraded', sourceIP: '10.0.0.2', destIP: '1.2.3.4', destPort: 80, output: both, masq: false },
    { name: 'external to LB IP hits only local endpoint, unmasqueraded', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '1.2.3.4', destPort: 80, output: local, masq: false },
    { name: 'pod to NodePort hits both endpoints, unmasqueraded', sourceIP: '10.0.0.2', destIP: TEST_NODE_IP, destPort: 3001, output: both, masq: false },
    { name: 'external to NodePort hits only local endpoint, unmasqueraded', sourceIP: TEST_EXTERNAL_CLIENT, destIP: TEST_NODE_IP, destPort: 3001, output: local, masq: false },
  ]);
});

test('externalTrafficPolicy=Cluster: every external-facing path is masqueraded, pod to ClusterIP is not', async (t) => {
  const cluster = await renderCluster([policyService('Cluster')], [policySlice]);
  assertConsistent(cluster);
  const both = '10.180.0.1:80, 10.180.2.1:80';
  await runPacketFlows(t, cluster, [
    { name: 'pod to cluster IP hits both endpoints, unmasqueraded', sourceIP: '10.0.0.2', destIP: '172.30.0.41', destPort: 80, output: both, masq: false },
    { name: 'pod to external IP hits both endpoints, masqueraded', sourceIP: '10.0.0.2', destIP: '192.168.99.11', destPort: 80, output: both, masq: true },
    { name: 'external to external IP hits both endpoints, masqueraded', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '192.168.99.11', destPort: 80, output: both, masq: true },
    { name: 'pod to LB IP hits both endpoints, masqueraded', sourceIP: '10.0.0.2', destIP: '1.2.3.4', destPort: 80, output: both, masq: true },
    { name: 'external to LB IP hits both endpoints, masqueraded', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '1.2.3.4', destPort: 80, output: both, masq: true },
    { name: 'pod to NodePort hits both endpoints, masqueraded', sourceIP: '10.0.0.2', destIP: TEST_NODE_IP, destPort: 3001, output: both, masq: true },
    { name: 'external to NodePort hits both endpoints, masqueraded', sourceIP: TEST_EXTERNAL_CLIENT, destIP: TEST_NODE_IP, destPort: 3001, output: both, masq: true },
  ]);
});

function itpService(itp?: 'Local' | 'Cluster'): ApiService {
  return makeService('ns1', 'svc1', (svc) => {
    svc.spec.clusterIP = '172.30.1.1';
    svc.spec.selector = { foo: 'bar' };
    svc.spec.ports = [{ name: '', port: 80, protocol: 'TCP' }];
    if (itp) svc.spec.internalTrafficPolicy = itp;
  });
}

function readySlice(endpoints: [string, string][]): ApiEndpointSlice {
  return makeSlice('ns1', 'svc1', 1, (eps) => {
    eps.addressType = 'IPv4';
    eps.ports = [{ name: '', port: 80, protocol: 'TCP' }];
    eps.endpoints = endpoints.map(([ip, nodeName]) => ({ addresses: [ip], conditions: { ready: true }, nodeName }));
  });
}

const itpCases: { name: string; itp: 'Local' | 'Cluster'; endpoints: [string, string][]; flow: PacketFlow }[] = [
  { name: 'internalTrafficPolicy is cluster', itp: 'Cluster', endpoints: [['10.0.1.1', TEST_NODE_NAME], ['10.0.1.2', 'node1'], ['10.0.1.3', 'node2']],
    flow: { name: 'pod to ClusterIP hits all endpoints', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: '10.0.1.1:80, 10.0.1.2:80, 10.0.1.3:80', masq: false } },
  { name: 'internalTrafficPolicy is local and there is one local endpoint', itp: 'Local', endpoints: [['10.0.1.1', TEST_NODE_NAME], ['10.0.1.2', 'node1'], ['10.0.1.3', 'node2']],
    flow: { name: 'pod to ClusterIP hits only local endpoint', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: '10.0.1.1:80', masq: false } },
  { name: 'internalTrafficPolicy is local and there are multiple local endpoints', itp: 'Local', endpoints: [['10.0.1.1', TEST_NODE_NAME], ['10.0.1.2', TEST_NODE_NAME], ['10.0.1.3', 'node2']],
    flow: { name: 'pod to ClusterIP hits all local endpoints', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: '10.0.1.1:80, 10.0.1.2:80', masq: false } },
  { name: 'internalTrafficPolicy is local and there are no local endpoints', itp: 'Local', endpoints: [['10.0.1.1', 'node0'], ['10.0.1.2', 'node1'], ['10.0.1.3', 'node2']],
    flow: { name: 'no endpoints', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: 'DROP' } },
];

for (const tc of itpCases) {
  test(`internalTrafficPolicy: ${tc.name}; REJECT once the slices are deleted`, async (t) => {
    const cluster = await renderCluster([itpService(tc.itp)], [readySlice(tc.endpoints)]);
    assertConsistent(cluster);
    await runPacketFlows(t, cluster, [tc.flow]);
    await runPacketFlows(t, await renderCluster([itpService(tc.itp)], []), [
      { name: 'endpoints deleted', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: 'REJECT' },
    ]);
  });
}

type Cond = [ready: boolean, serving: boolean, terminating: boolean];
const READY: Cond = [true, true, false];
const TERMINATING: Cond = [false, true, true];
const GONE: Cond = [false, false, true];

function terminatingService(etp: 'Local' | 'Cluster'): ApiService {
  return makeService('ns1', 'svc1', (svc) => {
    svc.spec.clusterIP = '172.30.1.1';
    svc.spec.type = 'LoadBalancer';
    svc.spec.externalTrafficPolicy = etp;
    svc.spec.ports = [{ name: '', targetPort: 80, port: 80, protocol: 'TCP' }];
    svc.spec.healthCheckNodePort = 30000;
    svc.status = { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } };
  });
}

function conditionSlice(endpoints: [string, Cond, string][]): ApiEndpointSlice {
  return makeSlice('ns1', 'svc1', 1, (eps) => {
    eps.addressType = 'IPv4';
    eps.ports = [{ name: '', port: 80, protocol: 'TCP' }];
    eps.endpoints = endpoints.map(([ip, [ready, serving, terminating], nodeName]): ApiEndpoint =>
      ({ addresses: [ip], conditions: { ready, serving, terminating }, nodeName }));
  });
}

const terminatingCases: { name: string; endpoints: [string, Cond, string][]; local: PacketFlow[]; cluster: PacketFlow[] }[] = [
  {
    name: 'ready endpoints exist',
    endpoints: [['10.0.1.1', READY, TEST_NODE_NAME], ['10.0.1.2', READY, TEST_NODE_NAME], ['10.0.1.3', TERMINATING, TEST_NODE_NAME],
      ['10.0.1.4', GONE, TEST_NODE_NAME], ['10.0.1.5', READY, 'node-1']],
    local: [
      { name: 'pod to clusterIP', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: '10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80', masq: false },
      { name: 'external to LB', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '1.2.3.4', destPort: 80, output: '10.0.1.1:80, 10.0.1.2:80', masq: false },
    ],
    cluster: [
      { name: 'pod to clusterIP', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: '10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80', masq: false },
      { name: 'external to LB', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '1.2.3.4', destPort: 80, output: '10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80', masq: true },
    ],
  },
  {
    name: 'only terminating endpoints exist locally',
    endpoints: [['10.0.1.2', TERMINATING, TEST_NODE_NAME], ['10.0.1.3', TERMINATING, TEST_NODE_NAME], ['10.0.1.4', GONE, TEST_NODE_NAME],
      ['10.0.1.5', READY, 'node-1']],
    local: [
      { name: 'pod to clusterIP', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: '10.0.1.5:80', masq: false },
      { name: 'external to LB', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '1.2.3.4', destPort: 80, output: '10.0.1.2:80, 10.0.1.3:80', masq: false },
    ],
    cluster: [
      { name: 'pod to clusterIP', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: '10.0.1.5:80', masq: false },
      { name: 'external to LB', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '1.2.3.4', destPort: 80, output: '10.0.1.5:80', masq: true },
    ],
  },
  {
    name: 'terminating endpoints on remote node',
    endpoints: [['10.0.1.5', TERMINATING, 'node-1']],
    local: [
      { name: 'pod to clusterIP', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: '10.0.1.5:80' },
      { name: 'external to LB, no locally-usable endpoints', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '1.2.3.4', destPort: 80, output: 'DROP' },
    ],
    cluster: [
      { name: 'pod to clusterIP', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: '10.0.1.5:80', masq: false },
      { name: 'external to LB', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '1.2.3.4', destPort: 80, output: '10.0.1.5:80', masq: true },
    ],
  },
  {
    name: 'no usable endpoints on any node',
    endpoints: [['10.0.1.5', GONE, TEST_NODE_NAME], ['10.0.1.5', GONE, 'node-1']],
    local: [
      { name: 'pod to clusterIP, no usable endpoints', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: 'REJECT' },
      { name: 'external to LB, no usable endpoints', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '1.2.3.4', destPort: 80, output: 'REJECT' },
    ],
    cluster: [
      { name: 'pod to clusterIP', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: 'REJECT' },
      { name: 'external to LB', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '1.2.3.4', destPort: 80, output: 'REJECT' },
    ],
  },
];

for (const etp of ['Local', 'Cluster'] as const) {
  for (const tc of terminatingCases) {
    test(`terminating endpoints, externalTrafficPolicy=${etp}: ${tc.name}`, async (t) => {
      const cluster = await renderCluster([terminatingService(etp)], [conditionSlice(tc.endpoints)]);
      assertConsistent(cluster);
      await runPacketFlows(t, cluster, etp === 'Local' ? tc.local : tc.cluster);
      await runPacketFlows(t, await renderCluster([terminatingService(etp)], []), [
        { name: 'pod to clusterIP after endpoints deleted', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: 'REJECT' },
        { name: 'external to LB after endpoints deleted', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '1.2.3.4', destPort: 80, output: 'REJECT' },
      ]);
    });
  }
}

test('session affinity does not change where a first packet may go', async (t) => {
  const cluster = await renderCluster([makeService('ns5', 'svc5', (svc) => {
    svc.spec.type = 'LoadBalancer';
    svc.spec.clusterIP = '172.30.0.45';
    svc.spec.ports = [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3002 }];
    svc.spec.sessionAffinity = 'ClientIP';
    svc.spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } };
    svc.spec.loadBalancerSourceRanges = ['203.0.113.0/25'];
    svc.status = { loadBalancer: { ingress: [{ ip: '5.6.7.8' }] } };
  })], [makeSlice('ns5', 'svc5', 1, (eps) => {
    eps.addressType = 'IPv4';
    eps.endpoints = [{ addresses: ['10.180.0.3'] }, { addresses: ['10.180.0.4'] }];
    eps.ports = [{ name: 'p80', port: 80, protocol: 'TCP' }];
  })]);
  assertConsistent(cluster);
  assert.match(cluster.restoreInput, /--rcheck --seconds 10800 --reap/);
  await runPacketFlows(t, cluster, [
    { name: 'pod to ClusterIP with affinity sees both endpoints once each', sourceIP: '10.0.0.2', destIP: '172.30.0.45', destPort: 80, output: '10.180.0.3:80, 10.180.0.4:80' },
    { name: 'allowed client to the LB with affinity', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '5.6.7.8', destPort: 80, output: '10.180.0.3:80, 10.180.0.4:80', masq: true },
    { name: 'blocked client to the LB with affinity', sourceIP: TEST_EXTERNAL_CLIENT_BLOCKED, destIP: '5.6.7.8', destPort: 80, output: 'DROP' },
  ]);
});

test('IPv6: externalTrafficPolicy=Local, source ranges and NodePorts behave as on IPv4 (no localhost NodePorts)', async (t) => {
  const cluster = await renderCluster([makeService('ns1', 'svc1', (svc) => {
    svc.spec.type = 'LoadBalancer';
    svc.spec.externalTrafficPolicy = 'Local';
    svc.spec.clusterIP = 'fd00:172:30::42';
    svc.spec.ipFamilies = ['IPv6'];
    svc.spec.ports = [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3001 }];
    svc.spec.healthCheckNodePort = 30000;
    svc.spec.loadBalancerSourceRanges = ['2600:5200::/64'];
    svc.status = { loadBalancer: { ingress: [{ ip: '2001:db8:ff::1' }] } };
  })], [makeSlice('ns1', 'svc1', 1, (eps) => {
    eps.addressType = 'IPv6';
    eps.endpoints = [{ addresses: ['fd00:10:180::1'], nodeName: 'remote' }, { addresses: ['fd00:10:180::2'], nodeName: TEST_NODE_NAME }];
    eps.ports = [{ name: 'p80', port: 80, protocol: 'TCP' }];
  })], { family: 'IPv6' });
  assertConsistent(cluster);
  const both = '[fd00:10:180::1]:80, [fd00:10:180::2]:80';
  const local = '[fd00:10:180::2]:80';
  await runPacketFlows(t, cluster, [
    { name: 'pod to ClusterIP hits both endpoints, unmasqueraded', sourceIP: 'fd00:10::2', destIP: 'fd00:172:30::42', destPort: 80, output: both, masq: false },
    { name: 'node to ClusterIP is masqueraded', sourceIP: TEST_NODE_IPV6, destIP: 'fd00:172:30::42', destPort: 80, output: both, masq: true },
    { name: 'allowed external client to the LB reaches only the local endpoint, unmasqueraded', sourceIP: '2600:5200::1', destIP: '2001:db8:ff::1', destPort: 80, output: local, masq: false },
    { name: 'blocked external client to the LB is dropped', sourceIP: '2600:5300::1', destIP: '2001:db8:ff::1', destPort: 80, output: 'DROP' },
    { name: 'pod to the LB is blocked by the source ranges', sourceIP: 'fd00:10::2', destIP: '2001:db8:ff::1', destPort: 80, output: 'DROP' },
    { name: 'external client to the NodePort reaches only the local endpoint, unmasqueraded', sourceIP: '2600:5300::1', destIP: TEST_NODE_IPV6, destPort: 3001, output: local, masq: false },
    { name: 'pod to the NodePort is short-circuited to every endpoint', sourceIP: 'fd00:10::2', destIP: TEST_NODE_IPV6, destPort: 3001, output: both, masq: false },
    { name: 'localhost NodePorts do not exist on IPv6', sourceIP: '::1', destIP: '::1', destPort: 3001, output: '' },
    { name: 'the health check node port is accepted', sourceIP: '2600:5300::1', destIP: TEST_NODE_IPV6, destPort: 30000, output: 'ACCEPT' },
  ]);
});
