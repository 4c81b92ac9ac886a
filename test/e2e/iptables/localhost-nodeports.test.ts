/**
 * iptables mode, IPv4 localhost NodePorts decided once: with --nodeport-addresses holding only an IPv6 CIDR,
 * the IPv4 family keeps its default (every address, 127.0.0.1 included). The model and the mode's host set-up
 * (route_localnet, the KUBE-FIREWALL jumps) used to disagree here: the model served 127.0.0.1 NodePorts, the
 * backend never set route_localnet nor jumped to KUBE-FIREWALL.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { endpointFor, type ServiceSpec } from '../../../src/sandbox/manifests.js';
import { requestMany } from '../../../src/sandbox/traffic.js';
import { notReadyReason, useCluster } from '../../support/sandbox-cluster.js';

const np: ServiceSpec = { name: 'np', type: 'NodePort', clusterIP: '10.96.7.10', ports: [{ port: 80, targetPort: 8080, nodePort: 30780 }] };

describe('iptables mode: localhost NodePorts with an IPv6-only --nodeport-addresses', { skip: notReadyReason('iptables') }, () => {
  const c = useCluster({
    nodes: 1,
    mode: 'iptables',
    kpxArgs: ['--nodeport-addresses', 'fd00::/64'],
    pods: [{ name: 'pod1', node: 1 }],
    manifests(dir, sb) {
      dir.writeService(np, [endpointFor(sb.pod('pod1'))!]);
    },
  });

  test('a NodePort on 127.0.0.1 answers from the node, with route_localnet set and KUBE-FIREWALL jumped to', async () => {
    const { sb } = c;
    const d = await requestMany(sb.ns('node1'), '127.0.0.1', 30780, 'tcp', 5);
    assert.deepEqual(d.pods, ['pod1'], `answers: ${JSON.stringify([...d.byPod])} errors: ${JSON.stringify([...d.errors])}`);
    const localnet = (await sb.exec(sb.ns('node1'), 'sysctl', ['-n', 'net.ipv4.conf.all.route_localnet'])).stdout.trim();
    assert.equal(localnet, '1');
    const filter = (await sb.exec(sb.ns('node1'), 'iptables-save', ['-t', 'filter'])).stdout;
    assert.match(filter, /^-A INPUT .*-j KUBE-FIREWALL$/m);
    assert.match(filter, /^-A OUTPUT .*-j KUBE-FIREWALL$/m);
  });
});
