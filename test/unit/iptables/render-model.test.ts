/**
 * The renderer fed by the real model: kube-proxy's six TestOverallIPTablesRules services, as Service and
 * EndpointSlice objects, through buildProxyState, give kube-proxy's exact restore input.
 */
import { test } from 'node:test';
import { renderRestoreInput } from '../../../modes/iptables/render.js';
import { buildProxyState } from '../../../src/model/index.js';
import { assertIptablesRulesEqual } from '../../support/iptables-assert.js';
import { ep, node, port, slice, svc } from '../../support/api-objects.js';
import { NODE } from '../model/fixtures.js';
import { EXPECTED_OVERALL, FAKE_PROXIER_OPTS } from './render-fixtures.js';

test('kube-proxy\'s six services, built by the model from API objects, render kube-proxy\'s exact rules', () => {
  const services = [
    svc('ns1', 'svc1', { type: 'ClusterIP', clusterIP: '172.30.0.41', ports: [port('p80', 80)] }),
    svc('ns2', 'svc2', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', clusterIP: '172.30.0.42', externalIPs: ['192.168.99.22'],
      healthCheckNodePort: 30000, ports: [port('p80', 80, 'TCP', { nodePort: 3001 })] }, { status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } } }),
    svc('ns3', 'svc3', { type: 'NodePort', clusterIP: '172.30.0.43', ports: [port('p80', 80, 'TCP', { nodePort: 3003 })] }),
    svc('ns4', 'svc4', { type: 'NodePort', clusterIP: '172.30.0.44', externalIPs: ['192.168.99.33'], ports: [port('p80', 80, 'TCP', { targetPort: 80 })] }),
    svc('ns5', 'svc5', { type: 'LoadBalancer', externalTrafficPolicy: 'Cluster', clusterIP: '172.30.0.45', healthCheckNodePort: 30000,
      loadBalancerSourceRanges: [' 203.0.113.0/25'], sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 10800 } },
      ports: [port('p80', 80, 'TCP', { nodePort: 3002 })] }, { status: { loadBalancer: { ingress: [{ ip: '5.6.7.8' }] } } }),
    svc('ns6', 'svc6', { type: 'ClusterIP', clusterIP: '172.30.0.46', ports: [port('p80', 80, 'TCP', { targetPort: 80 })] }),
  ];
  const p80 = [{ name: 'p80', port: 80 }];
  const slices = [
    slice('ns1', 'svc1', 'svc1-1', p80, [ep('10.180.0.1')]),
    slice('ns2', 'svc2', 'svc2-1', p80, [ep('10.180.0.2')]),
    slice('ns3', 'svc3', 'svc3-1', p80, [ep('10.180.0.3')]),
    slice('ns4', 'svc4', 'svc4-1', p80, [ep('10.180.0.4'), ep('10.180.0.5', { node: NODE })]),
    slice('ns5', 'svc5', 'svc5-1', p80, [ep('10.180.0.3')]),
  ];
  const state = buildProxyState({
    family: 'IPv4', nodeName: NODE, node: node(NODE, { ips: ['192.168.0.2'] }), services, endpointSlices: slices,
    hostAddresses: ['192.168.0.2', '127.0.0.1'], nodePortAddresses: [], localhostNodePorts: true, warn: () => undefined,
  });
  assertIptablesRulesEqual(EXPECTED_OVERALL, renderRestoreInput(state, { ...FAKE_PROXIER_OPTS, nfacct: true }), { checkConsistency: true });
});
