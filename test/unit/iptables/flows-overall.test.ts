/**
 * kube-proxy's TestOverallIPTablesRules on kpx: six services (ClusterIP; LB with eTP=Local, externalIP and
 * a health-check port but no local endpoint; NodePort; externalIP with a local and a remote endpoint; LB
 * with source ranges and ClientIP affinity; a service without endpoints) rendered by the real model and
 * renderer must give kube-proxy's exact restore input (chain hashes included), and the flows kube-proxy's
 * TestTracePacket checks on that ruleset.
 */
import { test } from 'node:test';
import type { ApiEndpoint } from '../../../src/model/api.js';
import { assertIptablesRulesEqual } from '../../support/iptables-assert.js';
// kube-proxy's expected restore input for these services (proxier_test.go, TestOverallIPTablesRules).
import { EXPECTED_OVERALL as EXPECTED } from './render-fixtures.js';
import {
  TEST_EXTERNAL_CLIENT, TEST_EXTERNAL_CLIENT_BLOCKED, TEST_NODE_IP, TEST_NODE_NAME, assertConsistent, makeService, makeSlice,
  renderCluster, runPacketFlows,
} from '../trace/flow-harness.js';


function overallCluster() {
  const services = [
    makeService('ns1', 'svc1', (s) => {
      s.spec.clusterIP = '172.30.0.41';
      s.spec.ports = [{ name: 'p80', port: 80, protocol: 'TCP' }];
    }),
    makeService('ns2', 'svc2', (s) => {
      s.spec.type = 'LoadBalancer';
      s.spec.externalTrafficPolicy = 'Local';
      s.spec.clusterIP = '172.30.0.42';
      s.spec.ports = [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3001 }];
      s.status = { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } };
      s.spec.externalIPs = ['192.168.99.22'];
      s.spec.healthCheckNodePort = 30000;
    }),
    makeService('ns3', 'svc3', (s) => {
      s.spec.type = 'NodePort';
      s.spec.clusterIP = '172.30.0.43';
      s.spec.ports = [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3003 }];
    }),
    makeService('ns4', 'svc4', (s) => {
      s.spec.type = 'NodePort';
      s.spec.clusterIP = '172.30.0.44';
      s.spec.externalIPs = ['192.168.99.33'];
      s.spec.ports = [{ name: 'p80', port: 80, protocol: 'TCP', targetPort: 80 }];
    }),
    makeService('ns5', 'svc5', (s) => {
      s.spec.type = 'LoadBalancer';
      s.spec.externalTrafficPolicy = 'Cluster';
      s.spec.clusterIP = '172.30.0.45';
      s.spec.ports = [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3002 }];
      s.status = { loadBalancer: { ingress: [{ ip: '5.6.7.8' }] } };
      s.spec.healthCheckNodePort = 30000;
      // Extra whitespace must not break anything (kube-proxy keeps this for backward compatibility).
      s.spec.loadBalancerSourceRanges = [' 203.0.113.0/25'];
      s.spec.sessionAffinity = 'ClientIP';
      s.spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } };
    }),
    makeService('ns6', 'svc6', (s) => {
      s.spec.type = 'ClusterIP';
      s.spec.clusterIP = '172.30.0.46';
      s.spec.ports = [{ name: 'p80', port: 80, protocol: 'TCP', targetPort: 80 }];
    }),
  ];
  const slice = (ns: string, name: string, endpoints: ApiEndpoint[]) => makeSlice(ns, name, 1, (eps) => {
    eps.addressType = 'IPv4';
    eps.endpoints = endpoints;
    eps.ports = [{ name: 'p80', port: 80, protocol: 'TCP' }];
  });
  const slices = [
    slice('ns1', 'svc1', [{ addresses: ['10.180.0.1'] }]),
    // No nodeName: the endpoint is not local, so the eTP=Local service has no local endpoint.
    slice('ns2', 'svc2', [{ addresses: ['10.180.0.2'] }]),
    slice('ns3', 'svc3', [{ addresses: ['10.180.0.3'] }]),
    slice('ns4', 'svc4', [{ addresses: ['10.180.0.4'] }, { addresses: ['10.180.0.5'], nodeName: TEST_NODE_NAME }]),
    slice('ns5', 'svc5', [{ addresses: ['10.180.0.3'] }]),
  ];
  return renderCluster(services, slices);
}

test('six kube-proxy test services render to kube-proxy\'s exact restore input', async () => {
  const cluster = await overallCluster();
  assertConsistent(cluster);
  assertIptablesRulesEqual(EXPECTED, cluster.restoreInput);
});

test('flows through the six services (kube-proxy\'s TestTracePacket cases)', async (t) => {
  await runPacketFlows(t, await overallCluster(), [
    { name: 'no match', sourceIP: '10.0.0.2', destIP: '10.0.0.3', destPort: 80, output: '' },
    { name: 'single endpoint', sourceIP: '10.0.0.2', destIP: '172.30.0.41', destPort: 80, output: '10.180.0.1:80' },
    { name: 'multiple endpoints', sourceIP: '10.0.0.2', destIP: '172.30.0.44', destPort: 80, output: '10.180.0.4:80, 10.180.0.5:80' },
    { name: 'LOCAL, KUBE-MARK-MASQ', sourceIP: TEST_NODE_IP, destIP: '192.168.99.22', destPort: 80, output: '10.180.0.2:80', masq: true },
    { name: 'DROP', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '192.168.99.22', destPort: 80, output: 'DROP' },
    { name: 'ACCEPT (NodePortHealthCheck)', sourceIP: TEST_NODE_IP, destIP: TEST_NODE_IP, destPort: 30000, output: 'ACCEPT' },
    { name: 'REJECT', sourceIP: '10.0.0.2', destIP: '172.30.0.46', destPort: 80, output: 'REJECT' },
    { name: 'LB source range blocks', sourceIP: TEST_EXTERNAL_CLIENT_BLOCKED, destIP: '5.6.7.8', destPort: 80, output: 'DROP' },
    { name: 'LB source range allows, masqueraded', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '5.6.7.8', destPort: 80, output: '10.180.0.3:80', masq: true },
    { name: 'externalIP with a local and a remote endpoint, masqueraded', sourceIP: TEST_EXTERNAL_CLIENT, destIP: '192.168.99.33', destPort: 80, output: '10.180.0.4:80, 10.180.0.5:80', masq: true },
  ]);
});
