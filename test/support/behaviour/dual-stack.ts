/**
 * Shared behaviour table, run by every kernel mode (test/e2e/<mode>/dual-stack.test.ts) on a dual-stack
 * node: kpx sees a global IPv6 address and programs its IPv6 rules beside the IPv4 ones. Real IPv6
 * packets reach dual-stack services' IPv6 ClusterIPs and NodePorts, and the IPv4 side of the same services
 * keeps working. kpx runs on both nodes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ProxyMode } from '../../../src/backend.js';
import { endpointFor, type ServiceSpec } from '../../../src/sandbox/manifests.js';
import { CLIENT_IPS_V6 } from '../../../src/sandbox/plan.js';
import { isAnswer, request, requestMany } from '../../../src/sandbox/traffic.js';
import { notReadyReason, useCluster } from '../sandbox-cluster.js';

const web: ServiceSpec = { name: 'web', clusterIP: '10.96.3.10', clusterIPv6: 'fd00:10:96::10', ports: [{ port: 80, targetPort: 8080 }] };
const np: ServiceSpec = {
  name: 'np', type: 'NodePort', clusterIP: '10.96.3.11', clusterIPv6: 'fd00:10:96::11', ports: [{ port: 80, targetPort: 8080, nodePort: 30090 }],
};
const empty: ServiceSpec = {
  name: 'empty', clusterIP: '10.96.3.12', clusterIPv6: 'fd00:10:96::12',
  ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }],
};
const dns: ServiceSpec = { name: 'dns', clusterIP: '10.96.3.53', clusterIPv6: 'fd00:10:96::53', ports: [{ port: 53, targetPort: 8080, protocol: 'UDP' }] };

/** The dual-stack services behaviour of a kernel mode, as real packets see it. */
export function dualStackBehaviour(mode: ProxyMode): void {
  describe(`${mode} mode: dual-stack services in the sandbox`, { skip: notReadyReason(mode) }, () => {
    const c = useCluster({
      nodes: 2,
      externalClient: true,
      dualStack: true,
      mode,
      pods: [
        { name: 'pod1', node: 1 },
        { name: 'pod2', node: 1 },
        { name: 'pod3', node: 2 },
        { name: 'src', node: 1, tcpPorts: [], udpPorts: [] },
      ],
      manifests(dir, sb) {
        const [pod1, pod2, pod3] = ['pod1', 'pod2', 'pod3'].map((n) => endpointFor(sb.pod(n)));
        dir.writeService(web, [pod1!, pod2!, pod3!]);
        dir.writeService(np, [pod1!, pod3!]);
        dir.writeService(empty, []);
        dir.writeService(dns, [pod3!]);
      },
    });
    const v6 = (name: string) => c.sb.pod(name).v6!.ip;

    test('a dual-stack ClusterIP answers on its IPv6 address from a pod, which sees the client pod IPv6 address', async () => {
      const { sb } = c;
      const d = await requestMany(sb.ns('src'), web.clusterIPv6!, 80, 'tcp', 40);
      assert.deepEqual(d.pods, ['pod1', 'pod2', 'pod3'], `answers: ${JSON.stringify([...d.byPod])} errors: ${JSON.stringify([...d.errors])}`);
      assert.deepEqual([...d.clientAddrs], [v6('src')]);
    });

    test('the IPv4 ClusterIP of the same dual-stack service keeps answering', async () => {
      const { sb } = c;
      const d = await requestMany(sb.ns('src'), web.clusterIP, 80, 'tcp', 40);
      assert.deepEqual(d.pods, ['pod1', 'pod2', 'pod3'], `answers: ${JSON.stringify([...d.byPod])} errors: ${JSON.stringify([...d.errors])}`);
      assert.deepEqual([...d.clientAddrs], [sb.pod('src').ip]);
    });

    test('an IPv6 ClusterIP from the node reaches the endpoints', async () => {
      const { sb } = c;
      const d = await requestMany(sb.ns('node1'), web.clusterIPv6!, 80, 'tcp', 40);
      assert.deepEqual(d.pods, ['pod1', 'pod2', 'pod3'], `answers: ${JSON.stringify([...d.byPod])} errors: ${JSON.stringify([...d.errors])}`);
    });

    test('an IPv6 NodePort from the external client reaches both nodes\' endpoints, masqueraded to the node', async () => {
      const { sb } = c;
      const node1 = sb.node('node1');
      const d = await requestMany(sb.ns('client'), node1.v6!.nodeIP, 30090, 'tcp', 24);
      assert.deepEqual(d.pods, ['pod1', 'pod3'], `answers: ${JSON.stringify([...d.byPod])} errors: ${JSON.stringify([...d.errors])}`);
      for (const a of d.clientAddrs) assert.ok([node1.v6!.nodeIP, node1.v6!.bridgeIP].includes(a), `pod saw ${a}, not a node1 address`);
      assert.ok(!d.clientAddrs.has(CLIENT_IPS_V6[0]));
    });

    test('UDP reaches its endpoint through an IPv6 ClusterIP', async () => {
      const { sb } = c;
      const d = await requestMany(sb.ns('src'), dns.clusterIPv6!, 53, 'udp', 5);
      assert.deepEqual([d.pods, [...d.clientAddrs]], [['pod3'], [v6('src')]], JSON.stringify([...d.errors]));
    });

    test('an IPv6 service without endpoints refuses TCP and UDP instead of timing out', async () => {
      const { sb } = c;
      const tcp = await request(sb.ns('src'), empty.clusterIPv6!, 80, 'tcp', { timeoutMs: 5000 });
      const udp = await request(sb.ns('src'), empty.clusterIPv6!, 53, 'udp', { timeoutMs: 5000 });
      assert.deepEqual([!isAnswer(tcp) && tcp.error, !isAnswer(udp) && udp.error], ['refused', 'refused'], JSON.stringify([tcp, udp]));
      // The node answers the very first SYN (the pod counts it in Icmp6InDestUnreachs), but this kernel's
      // TCP acts only on the answer to the SYN retransmitted after 1 s; IPv4 refuses at once (cluster-ip.test).
      assert.ok(tcp.ms < 2500 && udp.ms < 1000, `refused too late: TCP ${tcp.ms} ms, UDP ${udp.ms} ms`);
    });
  });
}
