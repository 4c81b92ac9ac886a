import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { UserspaceBackend, type PortalIptables } from '../../../modes/userspace/backend.js';
import { defaultConfig } from '../../../src/config/types.js';
import type { ServicePort } from '../../../src/model/types.js';
import { memoryLogger } from '../../support/logger.js';
import { connectAndReadName, echoPods, endpoint, proxyState, roundTrip, servicePort, sleep, type NamedServer } from './fixtures.js';
import { modeOptions } from '../../support/mode-options.js';

/** Records restore inputs; save() shows what the last restore wrote, enough for jump checks. */
class RecordingIptables implements PortalIptables {
  restores: string[] = [];
  failNext = false;
  async restore(data: string): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('iptables-restore: line 3 failed');
    }
    this.restores.push(data);
  }
  async save(): Promise<string> {
    // What iptables-save would show after the last restore: inserted rules print as appended ones.
    return (this.restores.at(-1) ?? '').replace(/^-I (\S+) 1 /gm, '-A $1 ');
  }
  get last(): string {
    return this.restores.at(-1) ?? '';
  }
}

function makeBackend(t: import('node:test').TestContext, more: { portRange?: string; maxConnectionsPerService?: number; workerThreads?: number } = {}) {
  const config = defaultConfig();
  config.mode = 'userspace';
  config.bindAddress = '127.0.0.1';
  config.portRange = more.portRange ?? '';
  const iptables = new RecordingIptables();
  const log = memoryLogger();
  const backend = new UserspaceBackend({ ...modeOptions('userspace', { config, log }), iptables, maxConnectionsPerService: more.maxConnectionsPerService, workerThreads: more.workerThreads });
  t.after(() => backend.close());
  return { backend, iptables, log };
}

const full = { full: true, services: new Set<string>() };
const partial = (...keys: string[]) => ({ full: false, services: new Set(keys) });
const eps = (servers: readonly NamedServer[]) => servers.map((s) => endpoint('127.0.0.1', s.port));
const web = (servers: readonly NamedServer[], more: Partial<ServicePort> = {}) => servicePort({ name: 'web', endpoints: eps(servers), ...more });

function portalPort(rules: string, clusterIP: string): number {
  const m = new RegExp(`-A KUBE-PORTALS-CONTAINER -d ${clusterIP.replace(/\./g, '\\.')}/32 .* --to-destination 127\\.0\\.0\\.1:(\\d+)`).exec(rules);
  assert.ok(m, `a portal rule for ${clusterIP} in:\n${rules}`);
  return Number(m[1]);
}

test('a sync opens a listener per service port and points the portal rules at it', async (t) => {
  const [a, b] = await echoPods(t, 'pod-a', 'pod-b');
  const { backend, iptables } = makeBackend(t);
  const res = await backend.sync(proxyState([web([a, b])]), full);
  assert.deepEqual(res, { ok: true });
  const port = portalPort(iptables.last, '10.96.0.10');
  assert.equal(backend.listeners.get('default/web|TCP|portal')?.port, port);
  assert.match(iptables.last, /-I PREROUTING 1 .* -j KUBE-PORTALS-CONTAINER/, 'jumps are added with the rules on a full sync');
  const names = [];
  for (let i = 0; i < 2; i++) {
    const c = await connectAndReadName(port);
    names.push(c.name);
    c.socket.destroy();
  }
  assert.deepEqual(names.sort(), ['pod-a', 'pod-b']);
});

test('an endpoint change reaches new connections at once and leaves open ones (and the port) alone', async (t) => {
  const [a, b] = await echoPods(t, 'pod-a', 'pod-b');
  const { backend, iptables } = makeBackend(t);
  await backend.sync(proxyState([web([a])]), full);
  const port = portalPort(iptables.last, '10.96.0.10');
  const open = await connectAndReadName(port);
  assert.equal(open.name, 'pod-a');
  const restoresBefore = iptables.restores.length;
  assert.deepEqual(await backend.sync(proxyState([web([b])]), partial('default/web')), { ok: true });
  assert.equal(iptables.restores.length, restoresBefore, 'rules did not change, so nothing is rewritten');
  assert.equal(backend.listeners.get('default/web|TCP|portal')?.port, port);
  const fresh = await connectAndReadName(port);
  assert.equal(fresh.name, 'pod-b');
  assert.equal(await roundTrip(open.socket, 'still here'), 'still here');
  open.socket.destroy();
  fresh.socket.destroy();
});

test('a deleted service closes its listener and its connections, frees its port and loses its rules', async (t) => {
  const [a] = await echoPods(t, 'pod-a');
  const { backend, iptables } = makeBackend(t);
  const other = servicePort({ name: 'other', clusterIP: '10.96.0.11', endpoints: eps([a]) });
  await backend.sync(proxyState([web([a]), other]), full);
  const port = portalPort(iptables.last, '10.96.0.10');
  const c = await connectAndReadName(port);
  const ended = new Promise((r) => c.socket.once('end', r));
  c.socket.resume();
  await backend.sync(proxyState([other]), partial('default/web'));
  await ended;
  assert.equal(backend.listeners.get('default/web|TCP|portal'), undefined);
  assert.doesNotMatch(iptables.last, /10\.96\.0\.10/);
  assert.match(iptables.last, /10\.96\.0\.11/);
  const s = net.createServer();
  await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(port, '127.0.0.1', resolve); });
  await new Promise<void>((r) => s.close(() => r()));
});

test('listener ports come from --proxy-port-range when one is given', async (t) => {
  const [a] = await echoPods(t, 'pod-a');
  const { backend } = makeBackend(t, { portRange: '39100-39119' });
  const sps = Array.from({ length: 5 }, (_, i) => servicePort({ name: `s${i}`, clusterIP: `10.96.1.${i}`, endpoints: eps([a]) }));
  assert.deepEqual(await backend.sync(proxyState(sps), full), { ok: true });
  for (const sp of sps) {
    const p = backend.listeners.get(`${sp.key}|TCP|portal`)!.port;
    assert.ok(p >= 39100 && p <= 39119, `port ${p} in range`);
  }
});

test('a NodePort also gets a listener on the node port itself', async (t) => {
  const [a] = await echoPods(t, 'pod-a');
  const { backend, iptables } = makeBackend(t);
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const nodePort = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  await backend.sync(proxyState([web([a], { nodePort, externallyAccessible: true })]), full);
  assert.equal(backend.listeners.get('default/web|TCP|nodeport')?.port, nodePort);
  assert.match(iptables.last, new RegExp(`-A KUBE-NODEPORT-CONTAINER .* --dport ${nodePort} -j DNAT --to-destination 127\\.0\\.0\\.1:${nodePort}`));
  const c = await connectAndReadName(nodePort);
  assert.equal(c.name, 'pod-a');
  c.socket.destroy();
});

test('SCTP service ports are refused with one clear log line, the rest still served', async (t) => {
  const [a] = await echoPods(t, 'pod-a');
  const { backend, log } = makeBackend(t);
  const sctp = servicePort({ name: 'sctp', protocol: 'SCTP', clusterIP: '10.96.0.30', endpoints: eps([a]) });
  const state = proxyState([web([a]), sctp]);
  assert.deepEqual(await backend.sync(state, full), { ok: true });
  await backend.sync(state, full);
  assert.equal(log.lines.filter((l) => l.includes('SCTP is not supported for user space proxy')).length, 1);
  assert.ok(backend.listeners.get('default/web|TCP|portal'));
});

test('a failed restore is reported for retry, and the next sync writes the rules (jumps included) again', async (t) => {
  const [a] = await echoPods(t, 'pod-a');
  const { backend, iptables } = makeBackend(t);
  await backend.sync(proxyState([web([a])]), full);
  iptables.failNext = true;
  const sp2 = servicePort({ name: 'two', clusterIP: '10.96.0.12', endpoints: eps([a]) });
  const res = await backend.sync(proxyState([web([a]), sp2]), partial('default/two'));
  assert.equal(res.ok, false);
  assert.ok(!res.ok);
  assert.deepEqual(await backend.sync(proxyState([web([a]), sp2]), partial('default/two')), { ok: true });
  assert.match(iptables.last, /10\.96\.0\.12/);
});

test('the per-service connection cap is shared by the listeners of one service port', async (t) => {
  const [a] = await echoPods(t, 'pod-a');
  const { backend, iptables } = makeBackend(t, { maxConnectionsPerService: 1 });
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const nodePort = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  await backend.sync(proxyState([web([a], { nodePort, externallyAccessible: true })]), full);
  const port = portalPort(iptables.last, '10.96.0.10');
  const c1 = await connectAndReadName(port);
  await assert.rejects(connectAndReadName(nodePort), /closed before a name arrived/, 'the node-port listener is over the same cap');
  await assert.rejects(connectAndReadName(port), /closed before a name arrived/);
  assert.equal(await roundTrip(c1.socket, 'ok'), 'ok');
  c1.socket.destroy();
});

test('close() closes every listener; cleanup() removes the chains and their jumps', async (t) => {
  const [a] = await echoPods(t, 'pod-a');
  const { backend, iptables } = makeBackend(t);
  await backend.sync(proxyState([web([a])]), full);
  const port = portalPort(iptables.last, '10.96.0.10');
  await backend.close();
  await assert.rejects(connectAndReadName(port));
  assert.equal(await backend.hasLeftovers(), true);
  await backend.cleanup();
  assert.match(iptables.last, /^-D PREROUTING .* -j KUBE-PORTALS-CONTAINER$/m);
  assert.match(iptables.last, /^-X KUBE-PORTALS-CONTAINER$/m);
  await sleep(1);
});

test('describe() shows the listeners and the portal rules a state needs, without binding anything', async () => {
  const { mode } = await import('../../../modes/userspace/index.js');
  const config = defaultConfig();
  config.mode = 'userspace';
  const sp = servicePort({ name: 'web', nodePort: 30080, externallyAccessible: true, affinityTimeoutSeconds: 60, endpoints: [endpoint('10.244.0.11', 8080)] });
  const text = mode.describe(proxyState([sp]), modeOptions('userspace', { config, log: memoryLogger() }));
  assert.match(text, /^listen TCP 0\.0\.0\.0:0 default\/web\|TCP\|portal endpoints=10\.244\.0\.11:8080 affinity=ClientIP\/60s$/m);
  assert.match(text, /^listen TCP 0\.0\.0\.0:30080 default\/web\|TCP\|nodeport /m);
  assert.match(text, /^-A KUBE-NODEPORT-CONTAINER .* --dport 30080 -j REDIRECT --to-ports 30080$/m);
});

test('a changed node port closes the old node-port listener and opens the new one', async (t) => {
  const [a] = await echoPods(t, 'pod-a');
  const { backend } = makeBackend(t);
  const free = async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const p = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    return p;
  };
  const [p1, p2] = [await free(), await free()];
  await backend.sync(proxyState([web([a], { nodePort: p1, externallyAccessible: true })]), full);
  const portal = backend.listeners.get('default/web|TCP|portal')!.port;
  await backend.sync(proxyState([web([a], { nodePort: p2, externallyAccessible: true })]), partial('default/web'));
  assert.equal(backend.listeners.get('default/web|TCP|nodeport')?.port, p2);
  assert.equal(backend.listeners.get('default/web|TCP|portal')?.port, portal, 'the ClusterIP listener is untouched');
  await assert.rejects(connectAndReadName(p1));
  assert.equal((await connectAndReadName(p2)).name, 'pod-a');
});

test('worker threads share a listener: one global rotation, endpoint updates at once, one connection cap', async (t) => {
  const [a, b, c] = await echoPods(t, 'pod-a', 'pod-b', 'pod-c');
  const { backend, iptables } = makeBackend(t, { workerThreads: 2, maxConnectionsPerService: 30 });
  await backend.sync(proxyState([web([a, b])]), full);
  const live = backend.listeners.get('default/web|TCP|portal')!;
  assert.equal(live.shared, true, 'the listener is bound in the worker threads too');
  const port = portalPort(iptables.last, '10.96.0.10');
  const open = [];
  for (let i = 0; i < 20; i++) open.push(await connectAndReadName(port));
  const names = open.map((o) => o.name);
  for (let i = 1; i < names.length; i++) assert.notEqual(names[i], names[i - 1], `one rotation across threads: ${names.join(',')}`);
  const onMain = (live.proxy as import('../../../modes/userspace/tcp-proxy.js').TcpProxy).connectionCount;
  assert.ok(onMain < 20, `the kernel spread connections over the threads (main thread holds ${onMain} of 20)`);

  await backend.sync(proxyState([web([c])]), partial('default/web'));
  for (let i = 0; i < 6; i++) {
    const n = await connectAndReadName(port);
    assert.equal(n.name, 'pod-c', 'every thread uses the new endpoints as soon as the sync returns');
    open.push(n);
  }
  for (const o of open.slice(0, 20)) assert.equal(await roundTrip(o.socket, 'x'), 'x', 'open connections are untouched');
  // 26 open; the cap is 30 over all threads together.
  for (let i = 0; i < 4; i++) open.push(await connectAndReadName(port));
  for (let i = 0; i < 5; i++) await assert.rejects(connectAndReadName(port), /closed before a name arrived/);
  for (const o of open) o.socket.destroy();
});
