/**
 * `kpx trace` on a node's live rules agrees with real packets: for each sandbox service, the endpoints the
 * tracer says a packet can reach are exactly the pods that answer, and its verdicts (REJECT, DROP,
 * masquerade) are what the client sees.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runTrace } from '../../../src/cli/trace-command.js';
import { endpointFor, type ServiceSpec } from '../../../src/sandbox/manifests.js';
import { requestMany } from '../../../src/sandbox/traffic.js';
import { notReadyReason, useCluster } from '../../support/sandbox-cluster.js';

const web: ServiceSpec = { name: 'web', clusterIP: '10.96.0.10', ports: [{ port: 80, targetPort: 8080 }] };
const local: ServiceSpec = { name: 'local', type: 'NodePort', clusterIP: '10.96.0.11', ports: [{ port: 80, targetPort: 8080, nodePort: 30081 }], externalTrafficPolicy: 'Local' };
const empty: ServiceSpec = { name: 'empty', clusterIP: '10.96.0.12', ports: [{ port: 80 }] };

interface TraceJson { endpoints: string[]; verdicts: string[]; masquerade: boolean; output: string }

async function trace(ns: string, src: string, dst: string): Promise<TraceJson> {
  let out = '';
  let err = '';
  const code = await runTrace(['--netns', ns, '--json', src, `${dst}/tcp`], {
    stdout: { write: (s: string) => { out += s; } },
    stderr: { write: (s: string) => { err += s; } },
  });
  assert.equal(code, 0, err);
  return JSON.parse(out) as TraceJson;
}

describe('kpx trace against the sandbox', { skip: notReadyReason('iptables') }, () => {
  const c = useCluster({
    nodes: 2, kpxNodes: ['node1'], mode: 'iptables', externalClient: true,
    pods: [{ name: 'pod1', node: 1 }, { name: 'pod2', node: 1 }, { name: 'pod3', node: 2 }, { name: 'src', node: 1, tcpPorts: [], udpPorts: [] }],
    manifests(dir, sb) {
      const [p1, p2, p3] = ['pod1', 'pod2', 'pod3'].map((n) => endpointFor(sb.pod(n)));
      dir.writeService(web, [p1!, p2!, p3!]);
      dir.writeService(local, [p1!, p3!]);
      dir.writeService(empty, []);
    },
  });

  test('a ClusterIP traced from a pod lists exactly the pods that answer, unmasqueraded', async () => {
    const { sb } = c;
    const t = await trace(sb.ns('node1'), sb.pod('src').ip, `${web.clusterIP}:80`);
    const real = await requestMany(sb.ns('src'), web.clusterIP, 80, 'tcp', 30);
    const ipOf = new Map(['pod1', 'pod2', 'pod3'].map((n) => [`${sb.pod(n).ip}:8080`, n]));
    assert.deepEqual(t.endpoints.map((e) => ipOf.get(e)).sort(), real.pods);
    assert.equal(t.masquerade, false);
  });

  test('an externalTrafficPolicy Local NodePort traced from outside reaches only the local pod, with the source kept', async () => {
    const { sb } = c;
    const client = sb.client!.ips[0]!;
    const t = await trace(sb.ns('node1'), client, `${sb.node('node1').nodeIP}:30081`);
    assert.deepEqual(t.endpoints, [`${sb.pod('pod1').ip}:8080`]);
    assert.equal(t.masquerade, false);
    const real = await requestMany(sb.ns('client'), sb.node('node1').nodeIP, 30081, 'tcp', 10);
    assert.deepEqual(real.pods, ['pod1']);
    assert.deepEqual([...real.clientAddrs], [client]);
  });

  test('a service without endpoints traces to REJECT and the client is refused', async () => {
    const { sb } = c;
    const t = await trace(sb.ns('node1'), sb.pod('src').ip, `${empty.clusterIP}:80`);
    assert.deepEqual(t.verdicts, ['REJECT']);
    const real = await requestMany(sb.ns('src'), empty.clusterIP, 80, 'tcp', 2);
    assert.deepEqual(real.pods, []);
    assert.deepEqual([...real.errors.keys()], ['refused']);
  });
});
