/**
 * The masquerade matrix (kube-proxy's TestInternalExternalMasquerade): {pod, node, localhost, external} →
 * {ClusterIP, NodePort, LB} × {plain, eTP:Local, iTP:Local}, under four configurations: base, no local
 * traffic detector, masqueradeAll, and both. Real model, real renderer, traced.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TEST_EXTERNAL_CLIENT, TEST_NODE_IP, TEST_NODE_NAME, assertConsistent, makeService, makeSlice, renderCluster, runPacketFlows,
  type PacketFlow, type ProxyConfig,
} from '../trace/flow-harness.js';

async function setup(cfg: ProxyConfig) {
  const services = [
    makeService('ns1', 'svc1', (svc) => {
      svc.spec.type = 'LoadBalancer';
      svc.spec.clusterIP = '172.30.0.41';
      svc.spec.ports = [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3001 }];
      svc.spec.healthCheckNodePort = 30001;
      svc.status = { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } };
    }),
    makeService('ns2', 'svc2', (svc) => {
      svc.spec.type = 'LoadBalancer';
      svc.spec.clusterIP = '172.30.0.42';
      svc.spec.ports = [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3002 }];
      svc.spec.healthCheckNodePort = 30002;
      svc.spec.externalTrafficPolicy = 'Local';
      svc.status = { loadBalancer: { ingress: [{ ip: '5.6.7.8' }] } };
    }),
    makeService('ns3', 'svc3', (svc) => {
      svc.spec.type = 'LoadBalancer';
      svc.spec.clusterIP = '172.30.0.43';
      svc.spec.ports = [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3003 }];
      svc.spec.healthCheckNodePort = 30003;
      svc.spec.internalTrafficPolicy = 'Local';
      svc.status = { loadBalancer: { ingress: [{ ip: '9.10.11.12' }] } };
    }),
  ];
  const slice = (ns: string, name: string, local: string, remote: string) => makeSlice(ns, name, 1, (eps) => {
    eps.addressType = 'IPv4';
    eps.endpoints = [{ addresses: [local], nodeName: TEST_NODE_NAME }, { addresses: [remote], nodeName: 'remote' }];
    eps.ports = [{ name: 'p80', port: 80, protocol: 'TCP' }];
  });
  const slices = [
    slice('ns1', 'svc1', '10.180.0.1', '10.180.1.1'),
    slice('ns2', 'svc2', '10.180.0.2', '10.180.1.2'),
    slice('ns3', 'svc3', '10.180.0.3', '10.180.1.3'),
  ];
  return renderCluster(services, slices, cfg);
}

// The base case (working local detector, no masqueradeAll); the configurations below override some rows.
const flowTests: PacketFlow[] = [
  { name: 'pod to ClusterIP', sourceIP: '10.0.0.2', destIP: '172.30.0.41', destPort: 80, output: '10.180.0.1:80, 10.180.1.1:80', masq: false },
  { name: 'pod to NodePort', sourceIP: '10.0.0.2', destIP: TEST_NODE_IP, destPort: 3001, output: '10.180.0.1:80, 10.180.1.1:80', masq: true },
  { name: 'pod to LB', sourceIP: '10.0.0.2', destIP: '1.2.3.4', destPort: 80, output: '10.180.0.1:80, 10.180.1.1:80', masq: true },
  { name: 'node to ClusterIP', sourceIP: TEST_NODE_IP, destIP: '172.30.0.41', destPort: 80, output: '10.180.0.1:80, 10.180.1.1:80', masq: true },
  { name: 'node to NodePort', sourceIP: TEST_NODE_IP, destIP: TEST_NODE_IP, destPort: 3001, output: '10.180.0.1:80, 10.180.1.1:80', masq: true },
  { name: 'localhost to NodePort', sourceIP: '127.0.0.1', destIP: '127.0.0.1', destPort: 3001, output: '10.180.0.1:80, 10.180.1.1:80', masq: true },
  { name: 'node to LB', sourceIP: TEST_NODE_IP, destIP: '1.2.3.4', destPort: 80, output: '10.180.0.1:80, 10.180.1.1:80', masq: true },
  { name: 'external to ClusterIP', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '172.30.0.41', destPort: 80, output: '10.180.0.1:80, 10.180.1.1:80', masq: true },
  { name: 'external to NodePort', sourceIP: TEST_EXTERNAL_CLIENT, destIP: TEST_NODE_IP, destPort: 3001, output: '10.180.0.1:80, 10.180.1.1:80', masq: true },
  { name: 'external to LB', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '1.2.3.4', destPort: 80, output: '10.180.0.1:80, 10.180.1.1:80', masq: true },

  // eTP does not apply to ClusterIP traffic.
  { name: 'pod to ClusterIP with eTP:Local', sourceIP: '10.0.0.2', destIP: '172.30.0.42', destPort: 80, output: '10.180.0.2:80, 10.180.1.2:80', masq: false },
  // Pods are short-circuited to every endpoint (as if the packet had gone out to the LB and back), unmasqueraded.
  { name: 'pod to NodePort with eTP:Local', sourceIP: '10.0.0.2', destIP: TEST_NODE_IP, destPort: 3002, output: '10.180.0.2:80, 10.180.1.2:80', masq: false },
  { name: 'pod to LB with eTP:Local', sourceIP: '10.0.0.2', destIP: '5.6.7.8', destPort: 80, output: '10.180.0.2:80, 10.180.1.2:80', masq: false },
  { name: 'node to ClusterIP with eTP:Local', sourceIP: TEST_NODE_IP, destIP: '172.30.0.42', destPort: 80, output: '10.180.0.2:80, 10.180.1.2:80', masq: true },
  // (kube-proxy's row uses svc1's NodePort 3001 here; kept as written upstream.)
  { name: 'node to NodePort with eTP:Local', sourceIP: TEST_NODE_IP, destIP: TEST_NODE_IP, destPort: 3001, output: '10.180.0.1:80, 10.180.1.1:80', masq: true },
  // The node's own traffic is short-circuited, ignoring eTP, and masqueraded.
  { name: 'localhost to NodePort with eTP:Local', sourceIP: '127.0.0.1', destIP: '127.0.0.1', destPort: 3002, output: '10.180.0.2:80, 10.180.1.2:80', masq: true },
  { name: 'node to LB with eTP:Local', sourceIP: TEST_NODE_IP, destIP: '5.6.7.8', destPort: 80, output: '10.180.0.2:80, 10.180.1.2:80', masq: true },
  { name: 'external to ClusterIP with eTP:Local', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '172.30.0.42', destPort: 80, output: '10.180.0.2:80, 10.180.1.2:80', masq: true },
  // eTP applies: only the local endpoint, and the client address is kept.
  { name: 'external to NodePort with eTP:Local', sourceIP: TEST_EXTERNAL_CLIENT, destIP: TEST_NODE_IP, destPort: 3002, output: '10.180.0.2:80', masq: false },
  { name: 'external to LB with eTP:Local', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '5.6.7.8', destPort: 80, output: '10.180.0.2:80', masq: false },

  // iTP applies to ClusterIP traffic only (and does not change masquerading).
  { name: 'pod to ClusterIP with iTP:Local', sourceIP: '10.0.0.2', destIP: '172.30.0.43', destPort: 80, output: '10.180.0.3:80', masq: false },
  { name: 'pod to NodePort with iTP:Local', sourceIP: '10.0.0.2', destIP: TEST_NODE_IP, destPort: 3003, output: '10.180.0.3:80, 10.180.1.3:80', masq: true },
  { name: 'pod to LB with iTP:Local', sourceIP: '10.0.0.2', destIP: '9.10.11.12', destPort: 80, output: '10.180.0.3:80, 10.180.1.3:80', masq: true },
  { name: 'node to ClusterIP with iTP:Local', sourceIP: TEST_NODE_IP, destIP: '172.30.0.43', destPort: 80, output: '10.180.0.3:80', masq: true },
  { name: 'node to NodePort with iTP:Local', sourceIP: TEST_NODE_IP, destIP: TEST_NODE_IP, destPort: 3003, output: '10.180.0.3:80, 10.180.1.3:80', masq: true },
  { name: 'localhost to NodePort with iTP:Local', sourceIP: '127.0.0.1', destIP: '127.0.0.1', destPort: 3003, output: '10.180.0.3:80, 10.180.1.3:80', masq: true },
  { name: 'node to LB with iTP:Local', sourceIP: TEST_NODE_IP, destIP: '9.10.11.12', destPort: 80, output: '10.180.0.3:80, 10.180.1.3:80', masq: true },
  { name: 'external to ClusterIP with iTP:Local', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '172.30.0.43', destPort: 80, output: '10.180.0.3:80', masq: true },
  { name: 'external to NodePort with iTP:Local', sourceIP: TEST_EXTERNAL_CLIENT, destIP: TEST_NODE_IP, destPort: 3003, output: '10.180.0.3:80, 10.180.1.3:80', masq: true },
  { name: 'external to LB with iTP:Local', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '9.10.11.12', destPort: 80, output: '10.180.0.3:80, 10.180.1.3:80', masq: true },
];

interface Override { output?: string; masq?: boolean }

const configurations: { name: string; cfg: ProxyConfig; overrides: Record<string, Override> }[] = [
  { name: 'base', cfg: {}, overrides: {} },
  {
    name: 'no LocalTrafficDetector',
    cfg: { clusterCIDR: null },
    overrides: {
      // Without a detector all ClusterIP traffic is assumed to come from pods: no masquerade.
      'node to ClusterIP': { masq: false },
      'node to ClusterIP with eTP:Local': { masq: false },
      'node to ClusterIP with iTP:Local': { masq: false },
      'external to ClusterIP': { masq: false },
      'external to ClusterIP with eTP:Local': { masq: false },
      'external to ClusterIP with iTP:Local': { masq: false },
      // And no eTP:Local short-circuit for pods: they get only the local endpoint.
      'pod to NodePort with eTP:Local': { output: '10.180.0.2:80' },
      'pod to LB with eTP:Local': { output: '10.180.0.2:80' },
    },
  },
  {
    name: 'masqueradeAll',
    cfg: { masqueradeAll: true },
    overrides: {
      'pod to ClusterIP': { masq: true },
      'pod to ClusterIP with eTP:Local': { masq: true },
      'pod to ClusterIP with iTP:Local': { masq: true },
    },
  },
  {
    name: 'masqueradeAll, no LocalTrafficDetector',
    cfg: { masqueradeAll: true, clusterCIDR: null },
    overrides: {
      'pod to ClusterIP': { masq: true },
      'pod to ClusterIP with eTP:Local': { masq: true },
      'pod to ClusterIP with iTP:Local': { masq: true },
      'pod to NodePort with eTP:Local': { output: '10.180.0.2:80' },
      'pod to LB with eTP:Local': { output: '10.180.0.2:80' },
    },
  },
];

for (const c of configurations) {
  test(`masquerade matrix (${c.name}): who reaches which endpoints, and who is masqueraded`, async (t) => {
    const flows = flowTests.map((f) => {
      const o = c.overrides[f.name];
      if (!o) return f;
      if (o.masq !== undefined) assert.notEqual(o.masq, f.masq, `override of ${f.name} equals the base`);
      if (o.output !== undefined) assert.notEqual(o.output, f.output, `override of ${f.name} equals the base`);
      return { ...f, ...o };
    });
    assert.equal(Object.keys(c.overrides).filter((n) => !flowTests.some((f) => f.name === n)).length, 0, 'every override names a flow');
    const cluster = await setup(c.cfg);
    assertConsistent(cluster);
    await runPacketFlows(t, cluster, flows);
  });
}
