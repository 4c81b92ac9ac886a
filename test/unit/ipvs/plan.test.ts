import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProxyState } from '../../../src/model/index.js';
import type { ApiEndpointSlice, ApiService } from '../../../src/model/api.js';
import { SvcFlag } from '../../../src/net/ipvs/constants.js';
import { planIpvs, type IpvsPlanOptions } from '../../../modes/ipvs/plan.js';
import { SET } from '../../../modes/ipvs/names.js';
import { ep, node, port, slice, svc } from '../../support/api-objects.js';
import { NODE } from '../model/fixtures.js';

const NODE_IP = '192.168.0.2';

function state(services: ApiService[], slices: ApiEndpointSlice[]) {
  return buildProxyState({
    family: 'IPv4', nodeName: NODE, node: node(NODE, { ips: [NODE_IP] }), services, endpointSlices: slices,
    hostAddresses: [NODE_IP], nodePortAddresses: [], localhostNodePorts: false, warn: () => {},
  });
}

const opts: IpvsPlanOptions = { scheduler: '', nodePortIPs: [NODE_IP], nodeAddresses: new Set([NODE_IP]) };

const web = svc('ns1', 'web', { type: 'ClusterIP', clusterIP: '172.30.0.41', ports: [port('p80', 80, 'TCP', { targetPort: 8080 })] });
const webEps = slice('ns1', 'web', 'web-1', [{ name: 'p80', port: 8080 }], [ep('10.180.0.1', { node: NODE }), ep('10.180.1.1', { node: 'other' })]);

test('a ClusterIP becomes a virtual server on kube-ipvs0 with one real server per endpoint, rr by default', () => {
  const plan = planIpvs(state([web], [webEps]), opts);
  const vs = plan.virtualServers.get('TCP/172.30.0.41:80')!;
  assert.equal(vs.vs.scheduler, 'rr');
  assert.deepEqual(vs.realServers.map((r) => `${r.address}:${r.port}`).sort(), ['10.180.0.1:8080', '10.180.1.1:8080']);
  assert.ok(plan.bindAddresses.has('172.30.0.41'));
  assert.deepEqual([...plan.sets.get(SET.CLUSTER_IP)!], ['172.30.0.41,tcp:80']);
  assert.deepEqual([...plan.sets.get(SET.IPVS_IPS)!], ['172.30.0.41']);
  // Hairpin: only the local endpoint.
  assert.deepEqual([...plan.sets.get(SET.LOOP_BACK)!], ['10.180.0.1,tcp:8080,10.180.0.1']);
});

test('ClientIP affinity is IPVS persistence with the service timeout, and mh hashes the port too', () => {
  const sticky = svc('ns1', 'web', { ...web.spec, sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } });
  const vs = planIpvs(state([sticky], [webEps]), { ...opts, scheduler: 'mh' }).virtualServers.get('TCP/172.30.0.41:80')!.vs;
  assert.equal(vs.scheduler, 'mh');
  assert.equal(vs.flags, SvcFlag.PERSISTENT | SvcFlag.SCHED2);
  assert.equal(vs.timeout, 600);
});

test('a NodePort with externalTrafficPolicy Local serves only local endpoints on node IPs, and ClusterIP keeps all', () => {
  const np = svc('ns1', 'np', { type: 'NodePort', clusterIP: '172.30.0.42', externalTrafficPolicy: 'Local', healthCheckNodePort: 30000, ports: [port('p80', 80, 'TCP', { nodePort: 30080, targetPort: 8080 })] });
  const eps = slice('ns1', 'np', 'np-1', [{ name: 'p80', port: 8080 }], [ep('10.180.0.2', { node: NODE }), ep('10.180.1.2', { node: 'other' })]);
  const plan = planIpvs(state([np], [eps]), opts);
  assert.deepEqual(plan.virtualServers.get(`TCP/${NODE_IP}:30080`)!.realServers, [{ address: '10.180.0.2', port: 8080 }]);
  assert.equal(plan.virtualServers.get('TCP/172.30.0.42:80')!.realServers.length, 2);
  assert.ok(plan.sets.get(SET.NODE_PORT_TCP)!.has('30080'));
  assert.ok(plan.sets.get(SET.NODE_PORT_LOCAL_TCP)!.has('30080'));
  // Only a LoadBalancer with Local policy needs a health-check node port (kube-proxy's NeedsHealthCheck).
  assert.equal(plan.sets.get(SET.HEALTH_CHECK_NODE_PORT)!.size, 0);
  const lb = svc('ns1', 'np', { ...np.spec, type: 'LoadBalancer' });
  assert.ok(planIpvs(state([lb], [eps]), opts).sets.get(SET.HEALTH_CHECK_NODE_PORT)!.has('30000'));
  assert.ok(!plan.bindAddresses.has(NODE_IP), 'node IPs are never bound to kube-ipvs0');
});

test('LB source ranges fill the firewall sets, and an LB unreachable from the node is dropped for node traffic', () => {
  const lb = (ranges: string[]) => svc('ns1', 'lb', { type: 'LoadBalancer', clusterIP: '172.30.0.43', loadBalancerSourceRanges: ranges, ports: [port('p80', 80, 'TCP', { nodePort: 30081 })] }, { status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } } });
  const eps = slice('ns1', 'lb', 'lb-1', [{ name: 'p80', port: 80 }], [ep('10.180.0.3', { node: NODE })]);
  const blocked = planIpvs(state([lb(['203.0.113.0/25'])], [eps]), opts);
  assert.deepEqual([...blocked.sets.get(SET.LOAD_BALANCER_FW)!], ['1.2.3.4,tcp:80']);
  assert.deepEqual([...blocked.sets.get(SET.LOAD_BALANCER_SOURCE_CIDR)!], ['1.2.3.4,tcp:80,203.0.113.0/25']);
  assert.deepEqual(blocked.lbNoNodeAccess, [{ ip: '1.2.3.4', protocol: 'TCP', port: 80 }]);
  const allowed = planIpvs(state([lb(['203.0.113.0/25', '192.168.0.0/24'])], [eps]), opts);
  assert.deepEqual([...allowed.sets.get(SET.LOAD_BALANCER_SOURCE_IP)!], ['1.2.3.4,tcp:80,1.2.3.4']);
  assert.deepEqual(allowed.lbNoNodeAccess, []);
  assert.ok(allowed.bindAddresses.has('1.2.3.4'));
});

test('an externalIP the node already owns gets a virtual server but is not bound to kube-ipvs0', () => {
  const ext = svc('ns1', 'ext', { type: 'ClusterIP', clusterIP: '172.30.0.44', externalIPs: [NODE_IP, '192.168.99.11'], ports: [port('p80', 80)] });
  const eps = slice('ns1', 'ext', 'ext-1', [{ name: 'p80', port: 80 }], [ep('10.180.0.4', { node: NODE })]);
  const plan = planIpvs(state([ext], [eps]), opts);
  assert.ok(plan.virtualServers.has(`TCP/${NODE_IP}:80`) && plan.virtualServers.has('TCP/192.168.99.11:80'));
  assert.ok(!plan.bindAddresses.has(NODE_IP));
  assert.ok(plan.bindAddresses.has('192.168.99.11'));
  assert.ok(plan.sets.get(SET.EXTERNAL_IP)!.has('192.168.99.11,tcp:80'));
});

test('internalTrafficPolicy Local with no local endpoint counts in no_local_endpoints and leaves the ClusterIP empty', () => {
  const itp = svc('ns1', 'itp', { type: 'ClusterIP', clusterIP: '172.30.0.45', internalTrafficPolicy: 'Local', ports: [port('p80', 80)] });
  const eps = slice('ns1', 'itp', 'itp-1', [{ name: 'p80', port: 80 }], [ep('10.180.1.5', { node: 'other' })]);
  const plan = planIpvs(state([itp], [eps]), opts);
  assert.deepEqual(plan.virtualServers.get('TCP/172.30.0.45:80')!.realServers, []);
  assert.ok(plan.noLocalEndpoints.internal.has('ns1/itp'));
});

test('IPv6 ipset names take KUBE-6- and fit ipset’s 31 characters, as kube-proxy cuts them', async () => {
  const { setName, ALL_SETS, IPSET_NAME_MAX } = await import('../../../modes/ipvs/names.js');
  assert.equal(setName(SET.CLUSTER_IP, 'IPv6'), 'KUBE-6-CLUSTER-IP');
  assert.equal(setName(SET.LOAD_BALANCER_SOURCE_CIDR, 'IPv6'), 'KUBE-6-LOAD-BALANCER-SOURCE-CID');
  assert.equal(setName(SET.CLUSTER_IP, 'IPv4'), 'KUBE-CLUSTER-IP');
  const v6 = ALL_SETS.map((id) => setName(id, 'IPv6'));
  assert.ok(v6.every((n) => n.length <= IPSET_NAME_MAX));
  assert.equal(new Set(v6).size, v6.length, 'truncation must not make two names collide');
});
