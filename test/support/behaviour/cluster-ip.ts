/**
 * Shared behaviour table, run by every kernel mode (test/e2e/<mode>/cluster-ip.test.ts): traffic that stays
 * inside the cluster: real packets from pods and from the node to ClusterIPs, through the rules kpx
 * programs in the node's namespace. kpx runs on node1; node2 only hosts remote endpoints.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ProxyMode } from '../../../src/backend.js';
import { endpointFor, type ServiceSpec } from '../../../src/sandbox/manifests.js';
import { isAnswer, request, requestMany } from '../../../src/sandbox/traffic.js';
import { notReadyReason, useCluster } from '../sandbox-cluster.js';

const web: ServiceSpec = { name: 'web', clusterIP: '10.96.0.10', ports: [{ port: 80, targetPort: 8080 }] };
const remap: ServiceSpec = { name: 'remap', clusterIP: '10.96.0.11', ports: [{ port: 443, targetPort: 8443 }] };
const dns: ServiceSpec = {
  name: 'dns', clusterIP: '10.96.0.12',
  ports: [{ name: 'dns-tcp', port: 53, targetPort: 8080, protocol: 'TCP' }, { name: 'dns-udp', port: 53, targetPort: 5353, protocol: 'UDP' }],
};
const empty: ServiceSpec = {
  name: 'empty', clusterIP: '10.96.0.13',
  ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }],
};
const sticky: ServiceSpec = { name: 'sticky', clusterIP: '10.96.0.14', ports: [{ port: 80, targetPort: 8080 }], sessionAffinity: 'ClientIP', affinityTimeoutSeconds: 300 };
const hairpin: ServiceSpec = { name: 'hairpin', clusterIP: '10.96.0.15', ports: [{ port: 80, targetPort: 8080 }] };
const term: ServiceSpec = { name: 'term', clusterIP: '10.96.0.16', ports: [{ port: 80, targetPort: 8080 }] };
const itpLocal: ServiceSpec = { name: 'itp-local', clusterIP: '10.96.0.17', ports: [{ port: 80, targetPort: 8080 }], internalTrafficPolicy: 'Local' };

/** The ClusterIP traffic behaviour of a kernel mode, as real packets see it. */
export function clusterIPBehaviour(mode: ProxyMode): void {
  describe(`${mode} mode: ClusterIP traffic in the sandbox`, { skip: notReadyReason(mode) }, () => {
    const c = useCluster({
      nodes: 2,
      kpxNodes: ['node1'],
      mode,
      pods: [
        { name: 'pod1', node: 1, tcpPorts: [8080, 8443], udpPorts: [5353] },
        { name: 'pod2', node: 1, tcpPorts: [8080], udpPorts: [8080] },
        { name: 'pod3', node: 2, tcpPorts: [8080], udpPorts: [5353] },
        { name: 'src', node: 1, tcpPorts: [], udpPorts: [] },
      ],
      manifests(dir, sb) {
        const [pod1, pod2, pod3] = ['pod1', 'pod2', 'pod3'].map((n) => endpointFor(sb.pod(n)));
        dir.writeService(web, [pod1!, pod2!, pod3!]);
        dir.writeService(remap, [pod1!]);
        dir.writeService(dns, []);
        dir.writeEndpointsPerPort(dns, [{ portNames: ['dns-tcp'], endpoints: [pod1!] }, { portNames: ['dns-udp'], endpoints: [pod3!] }]);
        dir.writeService(empty, []);
        dir.writeService(sticky, [pod1!, pod2!, pod3!]);
        dir.writeService(hairpin, [pod2!]);
        dir.writeService(term, [
          endpointFor(sb.pod('pod1'), { ready: false, serving: true, terminating: true }),
          endpointFor(sb.pod('pod2'), { ready: false, serving: false, terminating: true }),
          endpointFor(sb.pod('pod3'), { ready: false, serving: true, terminating: true }),
        ]);
        dir.writeService(itpLocal, [pod1!, pod3!]);
      },
    });

    test('a ClusterIP from a pod reaches every endpoint, and the pod sees the client pod address', async () => {
      const { sb } = c;
      const d = await requestMany(sb.ns('src'), web.clusterIP, 80, 'tcp', 40);
      assert.deepEqual(d.pods, ['pod1', 'pod2', 'pod3'], `answers: ${JSON.stringify([...d.byPod])} errors: ${JSON.stringify([...d.errors])}`);
      assert.deepEqual([...d.clientAddrs], [sb.pod('src').ip]);
    });

    test('a ClusterIP from the node reaches every endpoint', async () => {
      const { sb } = c;
      const d = await requestMany(sb.ns('node1'), web.clusterIP, 80, 'tcp', 40);
      assert.deepEqual(d.pods, ['pod1', 'pod2', 'pod3'], `answers: ${JSON.stringify([...d.byPod])} errors: ${JSON.stringify([...d.errors])}`);
    });

    test('the service port is remapped to the targetPort', async () => {
      const { sb } = c;
      const r = await request(sb.ns('src'), remap.clusterIP, 443, 'tcp');
      assert.ok(isAnswer(r), JSON.stringify(r));
      assert.deepEqual([r.pod, r.port], ['pod1', 8443]);
    });

    test('TCP and UDP on the same service port go to their own targets', async () => {
      const { sb } = c;
      const t = await requestMany(sb.ns('src'), dns.clusterIP, 53, 'tcp', 6);
      const u = await requestMany(sb.ns('src'), dns.clusterIP, 53, 'udp', 6);
      assert.deepEqual(t.pods, ['pod1']);
      assert.deepEqual([...new Set(t.results.map((r) => isAnswer(r) && r.port))], [8080]);
      assert.deepEqual(u.pods, ['pod3']);
      assert.deepEqual([...new Set(u.results.map((r) => isAnswer(r) && r.port))], [5353]);
    });

    test('a service without endpoints refuses TCP and UDP at once instead of timing out', async () => {
      const { sb } = c;
      const tcp = await request(sb.ns('src'), empty.clusterIP, 80, 'tcp', { timeoutMs: 3000 });
      const udp = await request(sb.ns('src'), empty.clusterIP, 53, 'udp', { timeoutMs: 3000 });
      assert.deepEqual([!isAnswer(tcp) && tcp.error, !isAnswer(udp) && udp.error], ['refused', 'refused'], JSON.stringify([tcp, udp]));
      assert.ok(tcp.ms < 1000 && udp.ms < 1000, `a refusal must come at once, not after a timeout: ${tcp.ms} ms, ${udp.ms} ms`);
      const fromNode = await request(sb.ns('node1'), empty.clusterIP, 80, 'tcp', { timeoutMs: 3000 });
      assert.ok(!isAnswer(fromNode) && fromNode.error === 'refused', JSON.stringify(fromNode));
    });

    test('ClientIP affinity keeps a client on one pod for repeated connections', async () => {
      const { sb } = c;
      const d = await requestMany(sb.ns('src'), sticky.clusterIP, 80, 'tcp', 20, { concurrency: 1 });
      assert.equal(d.pods.length, 1, `answers: ${JSON.stringify([...d.byPod])}`);
      assert.equal(d.byPod.get(d.pods[0]!), 20);
      const again = await requestMany(sb.ns('src'), sticky.clusterIP, 80, 'tcp', 5, { concurrency: 1 });
      assert.deepEqual(again.pods, d.pods);
    });

    test('a pod reaches itself through its own service (hairpin), seeing the node as the client', async () => {
      const { sb } = c;
      const d = await requestMany(sb.ns('pod2'), hairpin.clusterIP, 80, 'tcp', 5);
      assert.deepEqual(d.pods, ['pod2'], JSON.stringify([...d.errors]));
      // Masqueraded: a reply to its own address would never leave the pod.
      assert.deepEqual([...d.clientAddrs], [sb.node('node1').bridgeIP]);
    });

    test('when only terminating endpoints exist, the serving ones are used', async () => {
      const { sb } = c;
      const d = await requestMany(sb.ns('src'), term.clusterIP, 80, 'tcp', 30);
      assert.deepEqual(d.pods, ['pod1', 'pod3'], `answers: ${JSON.stringify([...d.byPod])} errors: ${JSON.stringify([...d.errors])}`);
    });

    test('internalTrafficPolicy=Local sends a pod only to endpoints on its own node', async () => {
      const { sb } = c;
      const d = await requestMany(sb.ns('src'), itpLocal.clusterIP, 80, 'tcp', 20);
      assert.deepEqual(d.pods, ['pod1'], `answers: ${JSON.stringify([...d.byPod])} errors: ${JSON.stringify([...d.errors])}`);
    });
  });
}
