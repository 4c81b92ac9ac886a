// Runs INSIDE the IPVS VM (test/ipvs/vm.test.ts): kpx itself, in ipvs mode, in a sandbox node namespace, with real
// packets through the kernel's IPVS. kpx runs on node1; node2 hosts a remote endpoint.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { endpointFor, type ServiceSpec } from '../../../src/sandbox/manifests.js';
import { requestMany } from '../../../src/sandbox/traffic.js';
import { startKpx } from '../../../src/sandbox/kpx-runner.js';
import { nodeBinary } from '../../../src/sandbox/scripts.js';
import { useCluster } from '../../support/sandbox-cluster.js';
import { exec } from '../../../src/net/exec.js';

const web: ServiceSpec = { name: 'web', clusterIP: '10.96.0.10', ports: [{ port: 80, targetPort: 8080 }] };
const np: ServiceSpec = { name: 'np', type: 'NodePort', clusterIP: '10.96.0.11', ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }] };
const sticky: ServiceSpec = { name: 'sticky', clusterIP: '10.96.0.12', ports: [{ port: 80, targetPort: 8080 }], sessionAffinity: 'ClientIP', affinityTimeoutSeconds: 300 };
const local: ServiceSpec = { name: 'local', type: 'NodePort', clusterIP: '10.96.0.13', ports: [{ port: 80, targetPort: 8080, nodePort: 30081 }], externalTrafficPolicy: 'Local' };
const drain: ServiceSpec = { name: 'drain', clusterIP: '10.96.0.14', ports: [{ port: 80, targetPort: 8080 }] };
const gone: ServiceSpec = { name: 'gone', type: 'NodePort', clusterIP: '10.96.0.15', ports: [{ port: 80, targetPort: 8080, nodePort: 30082 }] };

const ipvsadm = async (ns: string) => (await exec('ipvsadm', ['-Ln'], { netns: ns })).stdout;

describe('ipvs mode: service traffic through a real IPVS', () => {
  const c = useCluster({
    nodes: 2, kpxNodes: ['node1'], mode: 'ipvs', externalClient: true,
    pods: [{ name: 'pod1', node: 1 }, { name: 'pod2', node: 1 }, { name: 'pod3', node: 2 }, { name: 'src', node: 1, tcpPorts: [], udpPorts: [] }],
    manifests(dir, sb) {
      const [p1, p2, p3] = ['pod1', 'pod2', 'pod3'].map((n) => endpointFor(sb.pod(n)));
      dir.writeService(web, [p1!, p2!, p3!]);
      dir.writeService(np, [p1!, p3!]);
      dir.writeService(sticky, [p1!, p2!, p3!]);
      dir.writeService(local, [p1!, p3!]);
      dir.writeService(drain, [p1!, p2!]);
      dir.writeService(gone, [p1!]);
    },
  });

  test('a ClusterIP reaches every endpoint from a pod and from the node, through an rr virtual server on kube-ipvs0', async () => {
    const { sb } = c;
    const fromPod = await requestMany(sb.ns('src'), web.clusterIP, 80, 'tcp', 30);
    assert.deepEqual(fromPod.pods, ['pod1', 'pod2', 'pod3'], JSON.stringify([...fromPod.errors]));
    const fromNode = await requestMany(sb.ns('node1'), web.clusterIP, 80, 'tcp', 30);
    assert.deepEqual(fromNode.pods, ['pod1', 'pod2', 'pod3'], JSON.stringify([...fromNode.errors]));
    assert.match(await ipvsadm(sb.ns('node1')), /TCP\s+10\.96\.0\.10:80 rr/);
    const addrs = (await exec('ip', ['-o', 'addr', 'show', 'dev', 'kube-ipvs0'], { netns: sb.ns('node1') })).stdout;
    assert.match(addrs, /10\.96\.0\.10\/32/);
  });

  test('a NodePort reaches its endpoints from the external client, masqueraded to the node address', async () => {
    const { sb } = c;
    const d = await requestMany(sb.ns('client'), sb.node('node1').nodeIP, 30080, 'tcp', 20);
    assert.deepEqual(d.pods, ['pod1', 'pod3'], JSON.stringify([...d.errors]));
    assert.ok(!d.clientAddrs.has(sb.client!.ips[0]), `the pods saw the client itself: ${[...d.clientAddrs]}`);
  });

  test('ClientIP affinity keeps one client on one endpoint (IPVS persistence)', async () => {
    const { sb } = c;
    const d = await requestMany(sb.ns('src'), sticky.clusterIP, 80, 'tcp', 12);
    assert.equal(d.pods.length, 1, `answered by ${d.pods}`);
    assert.match(await ipvsadm(sb.ns('node1')), /10\.96\.0\.12:80 rr persistent 300/);
  });

  test('externalTrafficPolicy Local sends external NodePort traffic only to the local endpoint, with the client address kept', async () => {
    const { sb } = c;
    const d = await requestMany(sb.ns('client'), sb.node('node1').nodeIP, 30081, 'tcp', 12);
    assert.deepEqual(d.pods, ['pod1'], JSON.stringify([...d.errors]));
    assert.deepEqual([...d.clientAddrs], [sb.client!.ips[0]]);
  });

  test('a removed endpoint drains: its open connection keeps working, new connections avoid it', async () => {
    const { sb } = c;
    // Hold connections until one lands on pod2.
    let held: { proc: ReturnType<typeof spawn>; answers: AsyncIterator<string> } | undefined;
    for (let i = 0; i < 6 && !held; i++) {
      const proc = spawn('ip', ['netns', 'exec', sb.ns('src'), nodeBinary(), 'test/ipvs/support/held-connection.mjs', drain.clusterIP, '80'], { stdio: ['pipe', 'pipe', 'inherit'] });
      const answers = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
      const first = JSON.parse((await answers.next()).value as string);
      if (first.pod === 'pod2') held = { proc, answers };
      else { proc.stdin!.end('quit\n'); }
    }
    assert.ok(held, 'no connection landed on pod2');
    try {
      await c.change((dir) => dir.writeEndpoints(drain, [endpointFor(sb.pod('pod1'))]));
      // IPVS may count the idle keep-alive connection as active or inactive; either way it is still there.
      const row = new RegExp(`${sb.pod('pod2').ip.replace(/\./g, '\\.')}:8080\\s+Masq\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)`).exec((await exec('ipvsadm', ['-Ln', '-t', `${drain.clusterIP}:80`], { netns: sb.ns('node1') })).stdout);
      assert.ok(row, 'pod2 is still a real server while it drains');
      assert.equal(row[1], '0', 'pod2 drains at weight 0');
      assert.ok(Number(row[2]) + Number(row[3]) >= 1, 'pod2 still has its connection');
      held.proc.stdin!.write('again\n');
      const again = JSON.parse((await held.answers.next()).value as string);
      assert.equal(again.pod, 'pod2', 'the open connection still reaches pod2');
      const fresh = await requestMany(sb.ns('src'), drain.clusterIP, 80, 'tcp', 10);
      assert.deepEqual(fresh.pods, ['pod1']);
    } finally {
      held.proc.stdin!.end('quit\n');
    }
  });

  test('a deleted service leaves no virtual server, kube-ipvs0 address or ipset entry behind', async () => {
    const { sb } = c;
    const ns = sb.ns('node1');
    assert.match(await ipvsadm(ns), /10\.96\.0\.15:80/);
    await c.change((dir) => { dir.remove('svc-default-gone.yaml'); dir.remove('eps-default-gone.yaml'); });
    const after = await ipvsadm(ns);
    assert.doesNotMatch(after, /10\.96\.0\.15:80/);
    assert.doesNotMatch(after, /:30082/);
    const addrs = (await exec('ip', ['-o', 'addr', 'show', 'dev', 'kube-ipvs0'], { netns: ns })).stdout;
    assert.doesNotMatch(addrs, /10\.96\.0\.15\//);
    const sets = (await exec('ipset', ['save'], { netns: ns })).stdout;
    assert.doesNotMatch(sets, /10\.96\.0\.15|30082/);
  });

  test('a restart with --ipvs-scheduler sh converges every virtual server to source hashing: one client, one endpoint', async () => {
    const { sb } = c;
    await c.kpx('node1').stop();
    await startKpx(sb, 'node1', { manifestsDir: c.dir.dir, mode: 'ipvs', extraArgs: ['--ipvs-scheduler', 'sh'] });
    assert.match(await ipvsadm(sb.ns('node1')), /10\.96\.0\.10:80 sh/);
    const d = await requestMany(sb.ns('src'), web.clusterIP, 80, 'tcp', 12);
    assert.equal(d.pods.length, 1, `answered by ${d.pods}`);
  });
});
