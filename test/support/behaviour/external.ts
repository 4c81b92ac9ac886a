/**
 * Shared behaviour table, run by every kernel mode (test/e2e/<mode>/external.test.ts): traffic from outside
 * the cluster: an external client on the node network reaches NodePorts, LoadBalancer IPs (with source
 * ranges) and external IPs; externalTrafficPolicy=Local keeps the client's address and serves only local
 * pods, and the health-check node port tells which nodes have one. kpx runs on both nodes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ProxyMode } from '../../../src/backend.js';
import { endpointFor, type ServiceSpec } from '../../../src/sandbox/manifests.js';
import { CLIENT_IPS } from '../../../src/sandbox/plan.js';
import { isAnswer, request, requestMany } from '../../../src/sandbox/traffic.js';
import { notReadyReason, useCluster } from '../sandbox-cluster.js';

const np: ServiceSpec = { name: 'np', type: 'NodePort', clusterIP: '10.96.1.10', ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }] };
const lb: ServiceSpec = {
  name: 'lb', type: 'LoadBalancer', clusterIP: '10.96.1.11', ports: [{ port: 80, targetPort: 8080, nodePort: 30081 }],
  loadBalancerIPs: ['192.168.100.10'], loadBalancerSourceRanges: [`${CLIENT_IPS[0]}/32`],
};
const eip: ServiceSpec = { name: 'eip', clusterIP: '10.96.1.12', ports: [{ port: 80, targetPort: 8080 }], externalIPs: ['192.168.100.20'] };
const local: ServiceSpec = {
  name: 'local', type: 'LoadBalancer', clusterIP: '10.96.1.13', ports: [{ port: 80, targetPort: 8080, nodePort: 30083 }],
  loadBalancerIPs: ['192.168.100.13'], externalTrafficPolicy: 'Local', healthCheckNodePort: 32083,
};
const localOne: ServiceSpec = {
  name: 'local-one', type: 'LoadBalancer', clusterIP: '10.96.1.14', ports: [{ port: 80, targetPort: 8080, nodePort: 30084 }],
  loadBalancerIPs: ['192.168.100.14'], externalTrafficPolicy: 'Local', healthCheckNodePort: 32084,
};

/** The external traffic behaviour of a kernel mode, as real packets see it. */
export function externalBehaviour(mode: ProxyMode, opts: { readonly localhostNodePorts: boolean }): void {
  describe(`${mode} mode: external traffic in the sandbox`, { skip: notReadyReason(mode) }, () => {
    const c = useCluster({
      nodes: 2,
      externalClient: true,
      mode,
      pods: [
        { name: 'pod1', node: 1 },
        { name: 'pod2', node: 1 },
        { name: 'pod3', node: 2 },
      ],
      manifests(dir, sb) {
        const [pod1, pod2, pod3] = ['pod1', 'pod2', 'pod3'].map((n) => endpointFor(sb.pod(n)));
        dir.writeService(np, [pod1!, pod3!]);
        dir.writeService(lb, [pod1!, pod3!]);
        dir.writeService(eip, [pod2!]);
        dir.writeService(local, [pod2!, pod3!]);
        dir.writeService(localOne, [pod1!]);
      },
    });
    const node1Addrs = () => [c.sb.node('node1').nodeIP, c.sb.node('node1').bridgeIP];

    test('a NodePort from the external client reaches endpoints on both nodes, masqueraded to the node', async () => {
      const { sb } = c;
      const d = await requestMany(sb.ns('client'), sb.node('node1').nodeIP, 30080, 'tcp', 30);
      assert.deepEqual(d.pods, ['pod1', 'pod3'], `answers: ${JSON.stringify([...d.byPod])} errors: ${JSON.stringify([...d.errors])}`);
      for (const a of d.clientAddrs) assert.ok(node1Addrs().includes(a), `pod saw ${a}, not a node1 address`);
    });

    test('a NodePort from the node itself reaches the endpoints', async () => {
      const { sb } = c;
      const d = await requestMany(sb.ns('node1'), sb.node('node1').nodeIP, 30080, 'tcp', 20);
      assert.deepEqual(d.pods, ['pod1', 'pod3'], `answers: ${JSON.stringify([...d.byPod])} errors: ${JSON.stringify([...d.errors])}`);
    });

    if (opts.localhostNodePorts) {
      test('a NodePort on 127.0.0.1 works from the node (IPv4 localhost NodePorts)', async () => {
        const { sb } = c;
        const d = await requestMany(sb.ns('node1'), '127.0.0.1', 30080, 'tcp', 10);
        assert.ok(d.pods.length > 0 && d.errors.size === 0, `answers: ${JSON.stringify([...d.byPod])} errors: ${JSON.stringify([...d.errors])}`);
      });
    } else {
      test('a NodePort on 127.0.0.1 is not served (this mode has no localhost NodePorts)', async () => {
        const { sb } = c;
        const d = await requestMany(sb.ns('node1'), '127.0.0.1', 30080, 'tcp', 5);
        assert.deepEqual(d.pods, [], `answers: ${JSON.stringify([...d.byPod])}`);
      });
    }

    test('a LoadBalancer IP answers a client inside its source ranges and drops one outside', async () => {
      const { sb } = c;
      const ok = await requestMany(sb.ns('client'), '192.168.100.10', 80, 'tcp', 24, { localAddress: CLIENT_IPS[0] });
      assert.deepEqual(ok.pods, ['pod1', 'pod3'], `answers: ${JSON.stringify([...ok.byPod])} errors: ${JSON.stringify([...ok.errors])}`);
      const blocked = await request(sb.ns('client'), '192.168.100.10', 80, 'tcp', { localAddress: CLIENT_IPS[1], timeoutMs: 1500 });
      assert.ok(!isAnswer(blocked) && blocked.error === 'timeout', `expected a silent drop, got ${JSON.stringify(blocked)}`);
    });

    test('the NodePort of a LoadBalancer service is not limited by its source ranges', async () => {
      const { sb } = c;
      const d = await requestMany(sb.ns('client'), sb.node('node1').nodeIP, 30081, 'tcp', 24, { localAddress: CLIENT_IPS[1] });
      assert.deepEqual(d.pods, ['pod1', 'pod3'], `answers: ${JSON.stringify([...d.byPod])} errors: ${JSON.stringify([...d.errors])}`);
    });

    test('an external IP reaches its service from the external client', async () => {
      const { sb } = c;
      const d = await requestMany(sb.ns('client'), '192.168.100.20', 80, 'tcp', 5);
      assert.deepEqual(d.pods, ['pod2'], JSON.stringify([...d.errors]));
    });

    test('externalTrafficPolicy=Local serves only the local pod and keeps the client address', async () => {
      const { sb } = c;
      const on1 = await requestMany(sb.ns('client'), sb.node('node1').nodeIP, 30083, 'tcp', 10);
      assert.deepEqual(on1.pods, ['pod2'], `answers: ${JSON.stringify([...on1.byPod])} errors: ${JSON.stringify([...on1.errors])}`);
      assert.deepEqual([...on1.clientAddrs], [CLIENT_IPS[0]]);
      const on2 = await requestMany(sb.ns('client'), sb.node('node2').nodeIP, 30083, 'tcp', 10);
      assert.deepEqual(on2.pods, ['pod3'], `answers: ${JSON.stringify([...on2.byPod])} errors: ${JSON.stringify([...on2.errors])}`);
      assert.deepEqual([...on2.clientAddrs], [CLIENT_IPS[0]]);
      // The LB IP goes to node1 (the client's gateway): node1's local pod, real client address.
      const viaLb = await requestMany(sb.ns('client'), '192.168.100.13', 80, 'tcp', 5);
      assert.deepEqual([viaLb.pods, [...viaLb.clientAddrs]], [['pod2'], [CLIENT_IPS[0]]]);
    });

    test('a pod reaching an externalTrafficPolicy=Local NodePort on a node without a local endpoint is sent to the cluster endpoints', async () => {
      const { sb } = c;
      const d = await requestMany(sb.ns('pod3'), sb.node('node2').nodeIP, 30084, 'tcp', 5);
      assert.deepEqual(d.pods, ['pod1'], JSON.stringify([...d.errors]));
    });

    test('the health-check node port answers 200 on the node with a local endpoint and 503 on the other', async () => {
      const { sb } = c;
      const on1 = await request(sb.ns('client'), sb.node('node1').nodeIP, 32084, 'tcp', { path: '/' });
      const on2 = await request(sb.ns('client'), sb.node('node2').nodeIP, 32084, 'tcp', { path: '/' });
      assert.ok(isAnswer(on1) && isAnswer(on2), JSON.stringify([on1, on2]));
      assert.equal(on1.status, 200, on1.body);
      assert.equal(on2.status, 503, on2.body);
      assert.equal(JSON.parse(on1.body).localEndpoints, 1);
      assert.equal(JSON.parse(on2.body).localEndpoints, 0);
      // Node2 has no local endpoint for it: external traffic there is dropped, not sent across.
      const dropped = await request(sb.ns('client'), sb.node('node2').nodeIP, 30084, 'tcp', { timeoutMs: 1500 });
      assert.ok(!isAnswer(dropped) && dropped.error === 'timeout', JSON.stringify(dropped));
    });
  });
}
