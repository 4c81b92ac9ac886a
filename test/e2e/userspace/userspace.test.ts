/**
 * userspace mode in the sandbox: kpx runs on node1 and carries every byte itself; the kernel only
 * REDIRECTs (traffic crossing the node) or DNATs (the node's own traffic) to kpx's listeners. Real
 * packets from pods, from the node and from the external client. node2 hosts a remote endpoint only.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { nodeBinary } from '../../../src/sandbox/scripts.js';
import { endpointFor, type ServiceSpec } from '../../../src/sandbox/manifests.js';
import { isAnswer, request, requestMany, runClient, type Answer } from '../../../src/sandbox/traffic.js';
import { notReadyReason, useCluster } from '../../support/sandbox-cluster.js';

const web: ServiceSpec = { name: 'web', clusterIP: '10.96.0.10', ports: [{ port: 80, targetPort: 8080 }] };
const sticky: ServiceSpec = { name: 'sticky', clusterIP: '10.96.0.14', ports: [{ port: 80, targetPort: 8080 }], sessionAffinity: 'ClientIP', affinityTimeoutSeconds: 300 };
const dns: ServiceSpec = { name: 'dns', clusterIP: '10.96.0.12', ports: [{ name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' }] };
const flaky: ServiceSpec = { name: 'flaky', clusterIP: '10.96.0.15', ports: [{ port: 80, targetPort: 8080 }] };
const ghost: ServiceSpec = { name: 'ghost', clusterIP: '10.96.0.18', ports: [{ port: 80, targetPort: 8080 }] };
const empty: ServiceSpec = { name: 'empty', clusterIP: '10.96.0.13', ports: [{ port: 80, targetPort: 8080 }] };
const doomed: ServiceSpec = { name: 'doomed', clusterIP: '10.96.0.16', ports: [{ port: 80, targetPort: 8080 }] };
const np: ServiceSpec = { name: 'np', type: 'NodePort', clusterIP: '10.96.1.10', ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }] };
const lb: ServiceSpec = { name: 'lb', type: 'LoadBalancer', clusterIP: '10.96.1.11', ports: [{ port: 80, targetPort: 8080, nodePort: 30081 }], loadBalancerIPs: ['192.168.100.10'] };
const eip: ServiceSpec = { name: 'eip', clusterIP: '10.96.1.12', ports: [{ port: 80, targetPort: 8080 }], externalIPs: ['192.168.100.20'] };
const bulk: ServiceSpec = { name: 'bulk', clusterIP: '10.96.0.17', ports: [{ port: 9000, targetPort: 9000 }] };
const local: ServiceSpec = { name: 'local', clusterIP: '10.96.1.13', ports: [{ port: 80, targetPort: 8080 }], externalIPs: ['192.168.100.13'], externalTrafficPolicy: 'Local' };

const skip = notReadyReason('userspace');

function pods(results: readonly unknown[]): string[] {
  return (results as Answer[]).map((r) => (isAnswer(r) ? r.pod : `error:${(r as unknown as { error: string }).error}`));
}

/** Round robin: with concurrency 1 the answers cycle through the endpoints in a fixed order. */
function assertInTurn(seq: string[], expected: string[]): void {
  assert.deepEqual([...new Set(seq)].sort(), expected, `answers ${seq.join(',')}`);
  for (let i = expected.length; i < seq.length; i++) assert.equal(seq[i], seq[i - expected.length], `answers cycle in turn: ${seq.join(',')}`);
}

describe('userspace mode: traffic through kpx\'s own listeners', { skip }, () => {
  const c = useCluster({
    nodes: 2,
    externalClient: true,
    kpxNodes: ['node1'],
    mode: 'userspace',
    pods: [
      { name: 'pod1', node: 1, tcpPorts: [8080], udpPorts: [5353] },
      { name: 'pod2', node: 1, tcpPorts: [8080], udpPorts: [5353] },
      { name: 'pod3', node: 2, tcpPorts: [8080], udpPorts: [5353] },
      { name: 'dead', node: 1, noServer: true },
      { name: 'src', node: 1, tcpPorts: [], udpPorts: [] },
    ],
    manifests(dir, sb) {
      const [pod1, pod2, pod3, dead] = ['pod1', 'pod2', 'pod3', 'dead'].map((n) => endpointFor(sb.pod(n)));
      dir.writeService(web, [pod1!, pod2!, pod3!]);
      dir.writeService(sticky, [pod1!, pod2!, pod3!]);
      dir.writeService(dns, [pod1!, pod2!]);
      dir.writeService(flaky, [dead!, pod2!]);
      dir.writeService(empty, []);
      dir.writeService(doomed, [pod1!]);
      dir.writeService(np, [pod1!, pod3!]);
      dir.writeService(lb, [pod2!, pod3!]);
      dir.writeService(eip, [pod1!, pod2!]);
      dir.writeService(local, [pod1!, pod3!]);
      dir.writeService(bulk, [pod2!]);
      // An endpoint address nobody has: its SYNs go unanswered, so only the dial timeout moves on.
      dir.writeService(ghost, [endpointFor({ name: 'ghost', ip: '10.244.1.99', node: 'node1' }), pod2!]);
    },
  });

  async function listenerPortFor(clusterIP: string): Promise<number> {
    const nat = (await c.sb.exec(c.sb.ns('node1'), 'iptables-save', ['-t', 'nat'])).stdout;
    const m = new RegExp(`-A KUBE-PORTALS-CONTAINER -d ${clusterIP.replace(/\./g, '\\.')}/32 .* --to-ports (\\d+)`).exec(nat);
    assert.ok(m, `a portal rule for ${clusterIP}:\n${nat}`);
    return Number(m[1]);
  }

  test('a ClusterIP from a pod (REDIRECT) reaches every endpoint in turn; pods see the node as the client', async () => {
    const { sb } = c;
    const d = await requestMany(sb.ns('src'), web.clusterIP, 80, 'tcp', 9, { concurrency: 1 });
    assertInTurn(pods(d.results), ['pod1', 'pod2', 'pod3']);
    for (const a of d.clientAddrs) assert.ok([sb.node('node1').bridgeIP, sb.node('node1').nodeIP].includes(a), `pod saw ${a}`);
  });

  test('a ClusterIP from the node itself (DNAT to the node IP) reaches every endpoint in turn', async () => {
    const { sb } = c;
    const d = await requestMany(sb.ns('node1'), web.clusterIP, 80, 'tcp', 9, { concurrency: 1 });
    assertInTurn(pods(d.results), ['pod1', 'pod2', 'pod3']);
  });

  test('a NodePort from the external client reaches its endpoints', async () => {
    const { sb } = c;
    const d = await requestMany(sb.ns('client'), sb.node('node1').nodeIP, 30080, 'tcp', 6, { concurrency: 1 });
    assertInTurn(pods(d.results), ['pod1', 'pod3']);
  });

  test('a NodePort from the node itself reaches its endpoints', async () => {
    const { sb } = c;
    const d = await requestMany(sb.ns('node1'), sb.node('node1').nodeIP, 30080, 'tcp', 4, { concurrency: 1 });
    assertInTurn(pods(d.results), ['pod1', 'pod3']);
  });

  test('a LoadBalancer IP and an external IP from the external client reach their endpoints', async () => {
    const { sb } = c;
    const l = await requestMany(sb.ns('client'), '192.168.100.10', 80, 'tcp', 4, { concurrency: 1 });
    assertInTurn(pods(l.results), ['pod2', 'pod3']);
    const e = await requestMany(sb.ns('client'), '192.168.100.20', 80, 'tcp', 4, { concurrency: 1 });
    assertInTurn(pods(e.results), ['pod1', 'pod2']);
    const fromPod = await requestMany(sb.ns('src'), '192.168.100.20', 80, 'tcp', 4, { concurrency: 1 });
    assertInTurn(pods(fromPod.results), ['pod1', 'pod2']);
  });

  test('externalTrafficPolicy=Local: external traffic reaches only local endpoints, ClusterIP traffic all of them', async () => {
    const { sb } = c;
    const ext = await requestMany(sb.ns('client'), '192.168.100.13', 80, 'tcp', 6, { concurrency: 1 });
    assert.deepEqual(ext.pods, ['pod1'], JSON.stringify(pods(ext.results)));
    const internal = await requestMany(sb.ns('src'), local.clusterIP, 80, 'tcp', 6, { concurrency: 1 });
    assert.deepEqual(internal.pods, ['pod1', 'pod3'], JSON.stringify(pods(internal.results)));
  });

  test('ClientIP affinity keeps a client on one endpoint', async () => {
    const { sb } = c;
    const d = await requestMany(sb.ns('src'), sticky.clusterIP, 80, 'tcp', 10, { concurrency: 1 });
    assert.equal(d.pods.length, 1, JSON.stringify(pods(d.results)));
    const other = await requestMany(sb.ns('client'), sticky.clusterIP, 80, 'tcp', 10, { concurrency: 1 });
    assert.equal(other.pods.length, 1, JSON.stringify(pods(other.results)));
  });

  test('a dead endpoint is skipped and every request still succeeds', async () => {
    const { sb } = c;
    const d = await requestMany(sb.ns('src'), flaky.clusterIP, 80, 'tcp', 8, { concurrency: 1 });
    assert.deepEqual(pods(d.results), Array(8).fill('pod2'));
  });

  test('an endpoint that never answers is given up after the 250 ms dial timeout and the next one serves', async () => {
    const { sb } = c;
    const d = await requestMany(sb.ns('src'), ghost.clusterIP, 80, 'tcp', 6, { concurrency: 1, timeoutMs: 5000 });
    assert.deepEqual(pods(d.results), Array(6).fill('pod2'));
    const ms = d.results.map((r) => r.ms);
    // Silence is not refusal (the endpoint may just be overloaded), so it stays in rotation: about every
    // other connection meets it and waits for the first dial timeout only.
    const slow = ms.filter((m) => m >= 200);
    assert.ok(slow.length >= 1, `some connections met the silent endpoint: ${ms.join(',')} ms`);
    assert.ok(slow.every((m) => m < 1000), `and moved on after the 250 ms timeout: ${ms.join(',')} ms`);
  });

  test('no endpoints: the client\'s connection is closed at once', async () => {
    const { sb } = c;
    const r = await request(sb.ns('src'), empty.clusterIP, 80, 'tcp', { timeoutMs: 3000 });
    assert.ok(!isAnswer(r), JSON.stringify(r));
    assert.ok(r.ms < 1000, `closed after ${r.ms} ms`);
  });

  test('UDP through the ClusterIP: a session keeps its endpoint, and after --udp-timeout idle the next one is balanced anew', async () => {
    const { sb } = c;
    // Both datagrams from one client process, well within the default --udp-timeout of 250ms.
    const req = { kind: 'udp' as const, addr: dns.clusterIP, port: 53, localPort: 40001, timeoutMs: 1000 };
    const [first, same] = await runClient(sb.ns('src'), [req, req], 1);
    assert.ok(first!.ok && same!.ok, JSON.stringify([first, same]));
    assert.equal(first!.port, 5353);
    assert.equal(same!.pod, first!.pod, 'the same session answers from the same endpoint');
    // Idle for longer than the timeout: the session is gone and the next datagram starts a new one,
    // balanced to the next endpoint in rotation.
    await new Promise((r) => setTimeout(r, 1000));
    const [next] = await runClient(sb.ns('src'), [req], 1);
    assert.ok(next!.ok, JSON.stringify(next));
    assert.notEqual(next!.pod, first!.pod, 'a new session after expiry is balanced to the next endpoint');
  });

  test('100 MiB each way through the ClusterIP arrive intact (sha256), with a half-close in between', async () => {
    const { sb } = c;
    const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
    const server = sb.startProcess(sb.ns('pod2'), 'sha-server', nodeBinary(), [here('./sha-server.mjs'), '--port', '9000', '--mib', '100']);
    try {
      await server.waitForLine(/^READY /, 10_000);
      const out = await sb.exec(sb.ns('src'), nodeBinary(), [here('./sha-client.mjs'), bulk.clusterIP, '9000', '--mib', '100'], { timeoutMs: 120_000 });
      const r = JSON.parse(out.stdout.trim()) as { sent: string; serverSaw: string; received: string; expected: string; bytes: number };
      assert.equal(r.serverSaw, r.sent, 'client → pod: the pod hashed exactly what the client sent');
      assert.equal(r.bytes, 100 * 1024 * 1024);
      assert.equal(r.received, r.expected, 'pod → client, after the client\'s half-close');
    } finally {
      await server.stop();
    }
  });

  test('a deleted service closes its listener (its port is free) and its portal rules go', async () => {
    const { sb } = c;
    const port = await listenerPortFor(doomed.clusterIP);
    const before = await request(sb.ns('src'), doomed.clusterIP, 80, 'tcp');
    assert.ok(isAnswer(before));
    await c.change((dir) => dir.removeService(doomed));
    const ss = (await sb.exec(sb.ns('node1'), 'ss', ['-Htln', `sport = :${port}`])).stdout.trim();
    assert.equal(ss, '', `nothing listens on ${port} any more`);
    const nat = (await sb.exec(sb.ns('node1'), 'iptables-save', ['-t', 'nat'])).stdout;
    assert.doesNotMatch(nat, /10\.96\.0\.16/);
  });

  test('a restart of kpx rebinds its listeners and rewrites the portal rules', async () => {
    const { sb } = c;
    const kpx = c.kpx('node1');
    await kpx.stop();
    const { startKpx } = await import('../../../src/sandbox/kpx-runner.js');
    const again = await startKpx(sb, 'node1', { manifestsDir: c.dir.dir, mode: 'userspace' });
    try {
      const d = await requestMany(sb.ns('src'), web.clusterIP, 80, 'tcp', 6, { concurrency: 1 });
      assertInTurn(pods(d.results), ['pod1', 'pod2', 'pod3']);
      const nat = (await sb.exec(sb.ns('node1'), 'iptables-save', ['-t', 'nat'])).stdout;
      assert.equal(nat.split('\n').filter((l) => l.startsWith('-A KUBE-PORTALS-CONTAINER -d 10.96.0.10/32')).length, 1, 'one portal rule, pointing at the new listener');
      assert.equal(nat.split('\n').filter((l) => l.startsWith('-A PREROUTING') && l.endsWith('-j KUBE-PORTALS-CONTAINER')).length, 1, 'one jump');
    } finally {
      await again.stop();
    }
  });
});
