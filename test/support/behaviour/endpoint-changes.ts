/**
 * Shared behaviour table, run by every kernel mode (test/e2e/<mode>/endpoint-changes.test.ts): endpoints
 * that change while traffic flows: scaling shows in who answers after one sync, and a UDP client whose
 * pod is replaced keeps working (kpx clears the stale conntrack entry).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ProxyMode } from '../../../src/backend.js';
import { endpointFor, type ServiceSpec } from '../../../src/sandbox/manifests.js';
import { isAnswer, request, requestMany } from '../../../src/sandbox/traffic.js';
import { notReadyReason, useCluster } from '../sandbox-cluster.js';

const scale: ServiceSpec = { name: 'scale', clusterIP: '10.96.2.10', ports: [{ port: 80, targetPort: 8080 }] };
const udp: ServiceSpec = { name: 'udp', clusterIP: '10.96.2.11', ports: [{ port: 53, targetPort: 8080, protocol: 'UDP' }] };
const udpNodePort: ServiceSpec = {
  name: 'udp-np', type: 'NodePort', clusterIP: '10.96.2.12', ports: [{ port: 53, targetPort: 8080, protocol: 'UDP', nodePort: 30053 }],
};

/** The endpoint changes behaviour of a kernel mode, as real packets see it. */
export function endpointChangesBehaviour(mode: ProxyMode): void {
  describe(`${mode} mode: endpoint changes in the sandbox`, { skip: notReadyReason(mode) }, () => {
    const c = useCluster({
      nodes: 1,
      externalClient: true,
      mode,
      pods: [
        { name: 'pod1', node: 1 },
        { name: 'pod2', node: 1 },
        { name: 'pod3', node: 1 },
        { name: 'old', node: 1 },
        { name: 'src', node: 1, tcpPorts: [], udpPorts: [] },
      ],
      manifests(dir, sb) {
        dir.writeService(scale, [endpointFor(sb.pod('pod1'))]);
        dir.writeService(udp, [endpointFor(sb.pod('old'))]);
        dir.writeService(udpNodePort, []);
      },
    });

    const who = async (n = 24) => {
      const d = await requestMany(c.sb.ns('src'), scale.clusterIP, 80, 'tcp', n);
      assert.equal(d.errors.size, 0, `errors: ${JSON.stringify([...d.errors])}`);
      return d.pods;
    };

    test('scaling a service up and down changes who answers within one sync', async () => {
      const { sb } = c;
      assert.deepEqual(await who(), ['pod1']);
      await c.change((dir) => dir.writeEndpoints(scale, ['pod1', 'pod2', 'pod3'].map((n) => endpointFor(sb.pod(n)))));
      assert.deepEqual(await who(40), ['pod1', 'pod2', 'pod3']);
      await c.change((dir) => dir.writeEndpoints(scale, [endpointFor(sb.pod('pod3'))]));
      assert.deepEqual(await who(), ['pod3']);
      await c.change((dir) => dir.writeEndpoints(scale, []));
      const r = await request(sb.ns('src'), scale.clusterIP, 80, 'tcp');
      assert.ok(!isAnswer(r) && r.error === 'refused', JSON.stringify(r));
    });

    test('a UDP client keeps working when its endpoint is replaced by a new pod', async () => {
      const { sb } = c;
      const localPort = 40053;
      const first = await request(sb.ns('src'), udp.clusterIP, 53, 'udp', { localPort });
      assert.ok(isAnswer(first) && first.pod === 'old', JSON.stringify(first));
      // The replacement: a new pod joins, the old one leaves the slice and disappears.
      const fresh = await sb.addPod({ name: 'new', node: 1 });
      await c.change((dir) => dir.writeEndpoints(udp, [endpointFor(fresh)]));
      await sb.removePod('old');
      // Same source port, so the same 5-tuple: only a cleared conntrack entry lets it reach the new pod.
      for (let i = 0; i < 3; i++) {
        const r = await request(sb.ns('src'), udp.clusterIP, 53, 'udp', { localPort });
        assert.ok(isAnswer(r) && r.pod === 'new', `attempt ${i + 1}: ${JSON.stringify(r)}`);
      }
    });

    test('a UDP client refused while a NodePort had no endpoints gets through once it has some', async () => {
      const { sb } = c;
      const localPort = 40054;
      const node = sb.node('node1').nodeIP;
      const before = await request(sb.ns('client'), node, 30053, 'udp', { localPort });
      assert.ok(!isAnswer(before) && before.error === 'refused', JSON.stringify(before));
      await c.change((dir) => dir.writeEndpoints(udpNodePort, [endpointFor(sb.pod('pod2'))]));
      const after = await request(sb.ns('client'), node, 30053, 'udp', { localPort });
      assert.ok(isAnswer(after) && after.pod === 'pod2', JSON.stringify(after));
    });
  });
}
