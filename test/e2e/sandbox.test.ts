/**
 * The test sandbox itself: its topology carries real packets, its traffic helper refuses the host's
 * namespace, and it leaves nothing behind. kpx is not involved: rules here are written by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSandbox } from '../../src/sandbox/builder.js';
import { listNamespaces } from '../../src/sandbox/netns.js';
import { newRunPrefix, planSandbox } from '../../src/sandbox/plan.js';
import { isAnswer, request, requestMany, TrafficClientError, type RequestResult } from '../../src/sandbox/traffic.js';
import { useSandbox } from '../support/sandbox.js';

const h = useSandbox({
  nodes: 2,
  externalClient: true,
  pods: [
    { name: 'pod1', node: 1 },
    { name: 'pod2', node: 1, tcpPorts: [8080, 8443], udpPorts: [8080] },
    { name: 'pod3', node: 2 },
  ],
});

function answer(r: RequestResult) {
  assert.ok(isAnswer(r), `expected an answer, got ${JSON.stringify(r)}`);
  return r;
}

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

test('the address plan gives each node its pod CIDR and routes to the other node', () => {
  const plan = planSandbox({ nodes: 2, prefix: 'kpx-abc123-', pods: [{ name: 'a', node: 1 }, { name: 'b', node: 2 }, { name: 'c', node: 2 }] });
  assert.deepEqual(plan.nodes.map((n) => [n.ns, n.nodeIP, n.podCIDR]), [
    ['kpx-abc123-node1', '10.10.0.1', '10.244.1.0/24'],
    ['kpx-abc123-node2', '10.10.0.2', '10.244.2.0/24'],
  ]);
  assert.deepEqual(plan.nodes[0]!.podRoutes, [{ cidr: '10.244.2.0/24', via: '10.10.0.2' }]);
  assert.deepEqual(plan.pods.map((p) => [p.ns, p.ip, p.gateway]), [
    ['kpx-abc123-a', '10.244.1.11', '10.244.1.1'],
    ['kpx-abc123-b', '10.244.2.11', '10.244.2.1'],
    ['kpx-abc123-c', '10.244.2.12', '10.244.2.1'],
  ]);
  assert.match(newRunPrefix(), /^kpx-[a-z0-9]{6}-$/);
  assert.throws(() => planSandbox({ pods: [{ name: 'x', node: 3 }] }), /node 3 does not exist/);
  assert.throws(() => planSandbox({ prefix: 'evil-' }), /must look like kpx-/);
});

test('a pod reaches another pod on its node and sees the real source address', async () => {
  const { sb } = h;
  const r = answer(await request(sb.ns('pod1'), sb.pod('pod2').ip, 8080, 'tcp'));
  assert.equal(r.pod, 'pod2');
  assert.equal(r.clientAddr, sb.pod('pod1').ip);
  assert.equal(r.status, 200);
});

test('a pod reaches a pod on the other node through the node network', async () => {
  const { sb } = h;
  const r = answer(await request(sb.ns('pod1'), sb.pod('pod3').ip, 8080, 'tcp'));
  assert.equal(r.pod, 'pod3');
  assert.equal(r.clientAddr, sb.pod('pod1').ip);
  const back = answer(await request(sb.ns('pod3'), sb.pod('pod1').ip, 8080, 'udp'));
  assert.equal(back.pod, 'pod1');
  assert.equal(back.clientAddr, sb.pod('pod3').ip);
});

test('a pod server answers UDP datagrams and every TCP port it was given', async () => {
  const { sb } = h;
  const udp = answer(await request(sb.ns('pod1'), sb.pod('pod2').ip, 8080, 'udp'));
  assert.deepEqual([udp.pod, udp.port, udp.clientAddr], ['pod2', 8080, sb.pod('pod1').ip]);
  const tcp = answer(await request(sb.ns('pod1'), sb.pod('pod2').ip, 8443, 'tcp'));
  assert.deepEqual([tcp.pod, tcp.port], ['pod2', 8443]);
});

test('a closed TCP port is refused at once and a closed UDP port too', async () => {
  const { sb } = h;
  const tcp = await request(sb.ns('pod1'), sb.pod('pod2').ip, 9999, 'tcp', { timeoutMs: 3000 });
  const udp = await request(sb.ns('pod1'), sb.pod('pod2').ip, 9999, 'udp', { timeoutMs: 3000 });
  assert.ok(!isAnswer(tcp) && tcp.error === 'refused', JSON.stringify(tcp));
  assert.ok(!isAnswer(udp) && udp.error === 'refused', JSON.stringify(udp));
  assert.ok(tcp.ms < 1000 && udp.ms < 1000, `refusals must not wait for a timeout: ${tcp.ms} ms, ${udp.ms} ms`);
});

test('the external client reaches a node from either of its two addresses', async () => {
  const { sb } = h;
  const node1 = sb.node('node1');
  await sb.startServerIn(node1.ns, 'node1', [9000], []);
  const a = answer(await request(sb.ns('client'), node1.nodeIP, 9000, 'tcp'));
  assert.deepEqual([a.pod, a.clientAddr], ['node1', '10.10.0.50']);
  const b = answer(await request(sb.ns('client'), node1.nodeIP, 9000, 'tcp', { localAddress: '10.10.0.51' }));
  assert.equal(b.clientAddr, '10.10.0.51');
});

test('a hand-written DNAT in the node namespace carries a ClusterIP from a pod and from the node', async () => {
  const { sb } = h;
  const node1 = sb.node('node1');
  const pod2 = sb.pod('pod2');
  const rules = [
    '*nat',
    `-A PREROUTING -d 10.96.0.99/32 -p tcp --dport 80 -j DNAT --to-destination ${pod2.ip}:8080`,
    `-A OUTPUT -d 10.96.0.99/32 -p tcp --dport 80 -j DNAT --to-destination ${pod2.ip}:8080`,
    'COMMIT',
    '',
  ].join('\n');
  await sb.exec(node1.ns, 'iptables-restore', ['--noflush'], { input: rules });
  try {
    // The reply is bridged (pod2 → pod1 on cbr0): only br_netfilter's conntrack un-DNATs it.
    const fromPod = await requestMany(sb.ns('pod1'), '10.96.0.99', 80, 'tcp', 5);
    assert.deepEqual(fromPod.pods, ['pod2']);
    assert.deepEqual([...fromPod.clientAddrs], [sb.pod('pod1').ip]);
    // From the node: the default route gives the packet a way out before OUTPUT's DNAT re-routes it.
    const fromNode = answer(await request(node1.ns, '10.96.0.99', 80, 'tcp'));
    assert.equal(fromNode.pod, 'pod2');
  } finally {
    await sb.exec(node1.ns, 'iptables', ['-t', 'nat', '-F', 'PREROUTING']);
    await sb.exec(node1.ns, 'iptables', ['-t', 'nat', '-F', 'OUTPUT']);
  }
});

test('a pod added at run time is reachable, and removing it deletes its namespace', async () => {
  const { sb } = h;
  const pod = await sb.addPod({ name: 'pod4', node: 2 });
  assert.equal(pod.ip, '10.244.2.12');
  const r = answer(await request(sb.ns('pod1'), pod.ip, 8080, 'tcp'));
  assert.equal(r.pod, 'pod4');
  await sb.removePod('pod4');
  assert.ok(!(await listNamespaces()).includes(pod.ns));
  assert.ok(!sb.namespaces().includes(pod.ns));
});

test('the traffic client refuses to run in the host namespace unless it only talks to loopback', async () => {
  const { sb } = h;
  await assert.rejects(request(null, sb.pod('pod1').ip, 8080, 'tcp'), (e: unknown) =>
    e instanceof TrafficClientError && e.refused && /host network namespace/.test(e.message));
  // Loopback stays inside the host: allowed (nothing listens on port 1, so it is refused).
  const r = await request(null, '127.0.0.1', 1, 'tcp');
  assert.ok(!isAnswer(r) && r.error === 'refused');
});

test('destroy removes every namespace and process of a sandbox and can be called twice', async () => {
  const sb = await buildSandbox({ pods: [{ name: 'solo', node: 1 }] });
  const names = sb.namespaces();
  assert.equal(names.length, 3);
  const pid = (await sb.startServerIn(sb.ns('node1'), 'n', [9000], [])).pid;
  assert.ok(alive(pid));
  await Promise.all([sb.destroy(), sb.destroy()]);
  await sb.destroy();
  const left = await listNamespaces();
  assert.deepEqual(left.filter((n) => n.startsWith(sb.prefix)), []);
  assert.ok(!alive(pid), 'server process still running');
});

test('a build that fails half-way removes what it had made', async () => {
  const prefix = newRunPrefix();
  await assert.rejects(buildSandbox({ prefix, pods: [{ name: 'ok', node: 1 }, { name: 'bad', node: 1, tcpPorts: [70000] }] }), /bad port|before it was ready/);
  const left = await listNamespaces();
  assert.deepEqual(left.filter((n) => n.startsWith(prefix)), []);
});

test('a sandbox whose owner was killed outright is swept, processes included, by the next build', async () => {
  const { spawn } = await import('node:child_process');
  const { sweepStaleSandboxes } = await import('../../src/sandbox/stale.js');
  const builder = new URL('../../src/sandbox/builder.ts', import.meta.url).href;
  const code = `const m = await import(${JSON.stringify(builder)}); const sb = await m.buildSandbox({ pods: [{ name: 'orphan', node: 1 }] });`
    + ' console.log(sb.prefix); setInterval(() => {}, 1 << 30);';
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const prefix = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => { const m = /kpx-[a-z0-9]+-/.exec(b.toString()); if (m) resolve(m[0]); });
    child.on('exit', (c) => reject(new Error(`child exited ${c}`)));
  });
  const before = (await listNamespaces()).filter((n) => n.startsWith(prefix));
  assert.equal(before.length, 3);
  child.kill('SIGKILL'); // no exit handler runs: the namespaces and the pod server are orphaned
  await new Promise((r) => child.once('exit', r));
  assert.equal((await listNamespaces()).filter((n) => n.startsWith(prefix)).length, 3);
  const swept = await sweepStaleSandboxes();
  assert.ok(swept.includes(prefix), `swept ${JSON.stringify(swept)}`);
  assert.deepEqual((await listNamespaces()).filter((n) => n.startsWith(prefix)), []);
});

test('a dual-stack sandbox carries IPv6 between pods, across nodes and from the external client', async () => {
  const sb = await buildSandbox({ nodes: 2, externalClient: true, dualStack: true, pods: [{ name: 'a', node: 1 }, { name: 'b', node: 1 }, { name: 'c', node: 2 }] });
  try {
    const a = sb.pod('a');
    assert.equal(a.v6?.ip, 'fd00:10:244:1::11');
    const same = answer(await request(sb.ns('a'), sb.pod('b').v6!.ip, 8080, 'tcp'));
    assert.deepEqual([same.pod, same.clientAddr], ['b', a.v6!.ip]);
    // The first IPv6 datagram across nodes waits for neighbour discovery on three hops; a UDP client sends once.
    const across = answer(await request(sb.ns('a'), sb.pod('c').v6!.ip, 8080, 'udp', { timeoutMs: 5000 }));
    assert.deepEqual([across.pod, across.clientAddr], ['c', a.v6!.ip]);
    // IPv4 still answers on the same dual-stack servers.
    assert.equal(answer(await request(sb.ns('a'), sb.pod('c').ip, 8080, 'tcp')).clientAddr, a.ip);
    await sb.startServerIn(sb.ns('node2'), 'node2', [9000], []);
    const fromClient = answer(await request(sb.ns('client'), sb.node('node2').v6!.nodeIP, 9000, 'tcp', { localAddress: 'fd00:10:10::51' }));
    assert.deepEqual([fromClient.pod, fromClient.clientAddr], ['node2', 'fd00:10:10::51']);
  } finally {
    await sb.destroy();
  }
});
