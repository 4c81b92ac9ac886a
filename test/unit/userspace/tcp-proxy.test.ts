import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { LoadBalancer } from '../../../modes/userspace/load-balancer.js';
import { ConnectionBudget, TcpProxy } from '../../../modes/userspace/tcp-proxy.js';
import { FakeClock } from '../../support/fake-clock.js';
import { pollUntil } from '../../support/poll-until.js';
import { memoryLogger } from '../../support/logger.js';
import { connectAndReadName, connectExpectingClose, echoPods, endpoint, roundTrip, type NamedServer } from './fixtures.js';

async function proxyFor(t: import('node:test').TestContext, servers: readonly NamedServer[], opts: { budget?: ConnectionBudget; affinity?: number; clock?: FakeClock } = {}) {
  const lb = new LoadBalancer();
  lb.update('svc', servers.map((s) => endpoint('127.0.0.1', s.port)), opts.affinity ?? 0);
  const log = memoryLogger();
  const proxy = new TcpProxy({ name: 'svc', pick: (src, reset) => lb.nextEndpoint('svc', src, reset), budget: opts.budget ?? new ConnectionBudget(1000), log, clock: opts.clock });
  const port = await proxy.listen('127.0.0.1', 0);
  t.after(() => proxy.close());
  return { lb, proxy, port, log };
}

/** Listens `server` on loopback and puts a proxy with it as the only endpoint in front of it. */
async function proxyToServer(t: import('node:test').TestContext, server: net.Server): Promise<{ proxy: TcpProxy; port: number }> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const lb = new LoadBalancer();
  lb.update('svc', [endpoint('127.0.0.1', (server.address() as net.AddressInfo).port)], 0);
  const proxy = new TcpProxy({ name: 'svc', pick: (s, r) => lb.nextEndpoint('svc', s, r), budget: new ConnectionBudget(10), log: memoryLogger() });
  const port = await proxy.listen('127.0.0.1', 0);
  t.after(() => proxy.close());
  return { proxy, port };
}

/** A loopback port with nothing listening (bound then closed), so a dial there is refused at once. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('connections through the proxy reach every endpoint in turn', async (t) => {
  const [a, b] = await echoPods(t, 'pod-a', 'pod-b');
  const { port } = await proxyFor(t, [a, b]);
  const names: string[] = [];
  for (let i = 0; i < 4; i++) {
    const c = await connectAndReadName(port);
    assert.equal(await roundTrip(c.socket, 'ping'), 'ping');
    names.push(c.name);
    c.socket.destroy();
  }
  assert.deepEqual(names, ['pod-a', 'pod-b', 'pod-a', 'pod-b']);
});

test('with ClientIP affinity every connection of one client reaches the same endpoint', async (t) => {
  const [a, b] = await echoPods(t, 'pod-a', 'pod-b');
  const { port } = await proxyFor(t, [a, b], { affinity: 10800 });
  const names = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const c = await connectAndReadName(port);
    names.add(c.name);
    c.socket.destroy();
  }
  assert.equal(names.size, 1);
});

test('a dead endpoint is skipped and every request still succeeds', async (t) => {
  const [a] = await echoPods(t, 'pod-a');
  const dead = await deadPort();
  const lb = new LoadBalancer();
  lb.update('svc', [endpoint('127.0.0.1', dead), endpoint('127.0.0.1', a.port)], 0);
  const log = memoryLogger();
  const proxy = new TcpProxy({ name: 'svc', pick: (s, r) => lb.nextEndpoint('svc', s, r), budget: new ConnectionBudget(100), log });
  const port = await proxy.listen('127.0.0.1', 0);
  t.after(() => proxy.close());
  for (let i = 0; i < 4; i++) {
    const c = await connectAndReadName(port);
    assert.equal(c.name, 'pod-a');
    c.socket.destroy();
  }
  assert.ok(log.lines.some((l) => l.includes('dial failed')), 'the failed dial is logged');
});

test('a dead endpoint with affinity: the client is moved to a live one and stays there', async (t) => {
  const [a] = await echoPods(t, 'pod-a');
  const dead = await deadPort();
  const lb = new LoadBalancer();
  lb.update('svc', [endpoint('127.0.0.1', dead), endpoint('127.0.0.1', a.port)], 10800);
  const proxy = new TcpProxy({ name: 'svc', pick: (s, r) => lb.nextEndpoint('svc', s, r), budget: new ConnectionBudget(100), log: memoryLogger() });
  const port = await proxy.listen('127.0.0.1', 0);
  t.after(() => proxy.close());
  for (let i = 0; i < 3; i++) {
    const c = await connectAndReadName(port);
    assert.equal(c.name, 'pod-a');
    c.socket.destroy();
  }
});

test('no endpoints: the client is closed at once', async (t) => {
  // The proxy's time stands still: a close that waited on a dial timeout would never come.
  const clock = new FakeClock();
  const { port, log } = await proxyFor(t, [], { clock });
  const r = await connectExpectingClose(port);
  assert.equal(r.data, '');
  assert.equal(clock.pendingTimers(), 0, 'no dial timer was armed');
  assert.ok(!log.lines.some((l) => l.includes('dial')), `no dial was tried: ${log.lines.join('\n')}`);
});

test('only dead endpoints: the client is closed after the attempts, quickly when dials are refused', async (t) => {
  const dead = await deadPort();
  const lb = new LoadBalancer();
  lb.update('svc', [endpoint('127.0.0.1', dead)], 0);
  const proxy = new TcpProxy({ name: 'svc', pick: (s, r) => lb.nextEndpoint('svc', s, r), budget: new ConnectionBudget(100), log: memoryLogger() });
  const port = await proxy.listen('127.0.0.1', 0);
  t.after(() => proxy.close());
  const r = await connectExpectingClose(port);
  assert.equal(r.data, '');
  await pollUntil(() => proxy.connectionCount === 0, { message: () => `${proxy.connectionCount} connections still counted` });
});

test('a 100 MB transfer arrives intact in both directions at once (sha256)', async (t) => {
  const SIZE = 100 * 1024 * 1024;
  const CHUNK = 1024 * 1024;
  const base = randomBytes(CHUNK);
  const chunkAt = (i: number) => {
    const c = Buffer.from(base);
    c.writeUInt32BE(i, 0); // every chunk differs, so loss or reordering changes the hash
    return c;
  };
  const expected = createHash('sha256');
  for (let i = 0; i < SIZE / CHUNK; i++) expected.update(chunkAt(i));
  const want = expected.digest('hex');

  function sendAll(s: net.Socket): void {
    let i = 0;
    const write = () => {
      while (i < SIZE / CHUNK) {
        const ok = s.write(chunkAt(i++));
        if (!ok) return void s.once('drain', write);
      }
      s.end();
    };
    write();
  }

  let serverGot = '';
  const serverDone = new Promise<void>((resolve) => {
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      const h = createHash('sha256');
      s.on('data', (d) => h.update(d));
      s.on('end', () => { serverGot = h.digest('hex'); resolve(); });
      sendAll(s);
    });
    server.listen(0, '127.0.0.1', () => {
      t.after(() => new Promise<void>((r) => server.close(() => r())));
      backendPort.resolve((server.address() as net.AddressInfo).port);
    });
  });
  const backendPort = Promise.withResolvers<number>();
  const bp = await backendPort.promise;
  const lb = new LoadBalancer();
  lb.update('svc', [endpoint('127.0.0.1', bp)], 0);
  const proxy = new TcpProxy({ name: 'svc', pick: (s, r) => lb.nextEndpoint('svc', s, r), budget: new ConnectionBudget(10), log: memoryLogger() });
  const port = await proxy.listen('127.0.0.1', 0);
  t.after(() => proxy.close());

  const clientGot = await new Promise<string>((resolve, reject) => {
    const c = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const h = createHash('sha256');
    c.on('data', (d) => h.update(d));
    c.on('end', () => resolve(h.digest('hex')));
    c.on('error', reject);
    c.on('connect', () => sendAll(c));
  });
  await serverDone;
  assert.equal(clientGot, want, 'backend → client');
  assert.equal(serverGot, want, 'client → backend');
});

test('a client that stops reading holds back only its own connection, and both streams arrive intact', async (t) => {
  // Every connection of a thread reads into one shared buffer (socket-relay.ts): a write the kernel cannot
  // take at once must not see its bytes overwritten by another connection's next read.
  const SIZE = 16 * 1024 * 1024;
  const payload = (seed: number) => {
    const b = randomBytes(SIZE);
    b.writeUInt32BE(seed, 0);
    return b;
  };
  const sent = [payload(1), payload(2)];
  let next = 0;
  const server = net.createServer((s) => s.end(sent[next++]));
  const { port } = await proxyToServer(t, server);
  const download = (onSocket: (s: net.Socket) => void) => new Promise<string>((resolve, reject) => {
    const c = net.connect({ port, host: '127.0.0.1' });
    const h = createHash('sha256');
    c.on('data', (d) => h.update(d));
    c.on('end', () => resolve(h.digest('hex')));
    c.on('error', reject);
    onSocket(c);
  });
  let stalled: net.Socket | undefined;
  const first = download((s) => { stalled = s; s.pause(); });
  await pollUntil(() => next >= 1);
  const second = await download(() => {});
  assert.equal(second, createHash('sha256').update(sent[1]).digest('hex'), 'the reading client got its stream whole while the other stalled');
  stalled!.resume();
  assert.equal(await first, createHash('sha256').update(sent[0]).digest('hex'), 'the stalled client gets its stream whole once it reads again');
});

test('half-close: a client that ends its side still reads the reply', async (t) => {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    let got = '';
    s.on('data', (d) => { got += d.toString(); });
    // Replies only after the client's FIN arrived through the proxy.
    s.on('end', () => setTimeout(() => s.end(`reply to ${got}`), 50));
  });
  const { proxy, port } = await proxyToServer(t, server);
  const reply = await new Promise<string>((resolve, reject) => {
    const c = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let buf = '';
    c.on('data', (d) => { buf += d.toString(); });
    c.on('end', () => resolve(buf));
    c.on('error', reject);
    c.end('question');
  });
  assert.equal(reply, 'reply to question');
  await pollUntil(() => proxy.connectionCount === 0, { message: 'both sides closed once both directions ended' });
});

test('an error on one side destroys the other side too', async (t) => {
  let backendSocket: net.Socket | undefined;
  const closed = Promise.withResolvers<void>();
  const server = net.createServer((s) => { backendSocket = s; s.on('error', () => {}); s.on('close', () => closed.resolve()); });
  const { proxy, port } = await proxyToServer(t, server);
  const c = net.connect({ port, host: '127.0.0.1' });
  await new Promise((r) => c.once('connect', r));
  await pollUntil(() => backendSocket !== undefined);
  c.resetAndDestroy(); // RST from the client
  await closed.promise;
  await pollUntil(() => proxy.connectionCount === 0, { message: () => `${proxy.connectionCount} connections still counted` });
});

test('the connection cap refuses new connections at once and leaves open ones working', async (t) => {
  const [a] = await echoPods(t, 'pod-a');
  const budget = new ConnectionBudget(2);
  // The proxy's time stands still: a refusal that waited on a timer would never come.
  const clock = new FakeClock();
  const { port } = await proxyFor(t, [a], { budget, clock });
  const c1 = await connectAndReadName(port);
  const c2 = await connectAndReadName(port);
  assert.equal(budget.open, 2);
  const refused = await connectExpectingClose(port);
  assert.equal(refused.data, '', 'the refused client gets nothing');
  assert.equal(clock.pendingTimers(), 0, 'refused without a dial (no dial timer armed)');
  assert.equal(await roundTrip(c1.socket, 'still-1'), 'still-1');
  assert.equal(await roundTrip(c2.socket, 'still-2'), 'still-2');
  c1.socket.destroy();
  await pollUntil(() => budget.open <= 1);
  const c3 = await connectAndReadName(port);
  assert.equal(c3.name, 'pod-a', 'a freed slot is usable again');
  c2.socket.destroy();
  c3.socket.destroy();
});

test('endpoint churn under continuous load loses no established connection', async (t) => {
  const pods = await echoPods(t, 'p0', 'p1', 'p2', 'p3');
  const lb = new LoadBalancer();
  const set = (idx: number[]) => lb.update('svc', idx.map((i) => endpoint('127.0.0.1', pods[i].port)), 0);
  set([0, 1]);
  const proxy = new TcpProxy({ name: 'svc', pick: (s, r) => lb.nextEndpoint('svc', s, r), budget: new ConnectionBudget(1000), log: memoryLogger() });
  const port = await proxy.listen('127.0.0.1', 0);
  t.after(() => proxy.close());

  let stop = false;
  let trips = 0;
  const newConnNames: string[][] = [[], [], [], []];
  let phase = 0;
  const long = await Promise.all(Array.from({ length: 8 }, () => connectAndReadName(port)));
  const loops = long.map(async (c, i) => {
    let n = 0;
    while (!stop) {
      const msg = `c${i}-${n++};`;
      assert.equal(await roundTrip(c.socket, msg), msg);
      trips++;
    }
  });
  const churn = (async () => {
    const sets = [[2, 3], [0, 3], [1], [0, 1, 2, 3]];
    for (const s of sets) {
      set(s);
      phase++;
      for (let k = 0; k < 6; k++) {
        const c = await connectAndReadName(port);
        newConnNames[phase - 1].push(c.name);
        c.socket.destroy();
      }
      // Each set carries established traffic for a while: 30 round trips, not a span of time.
      const before = trips;
      await pollUntil(() => trips >= before + 30);
    }
    stop = true;
  })();
  await Promise.all([churn, ...loops]);
  assert.ok(trips > 100, `continuous load ran (${trips} round trips)`);
  assert.ok(newConnNames[0].every((n) => n === 'p2' || n === 'p3'), `new connections follow the new set at once: ${newConnNames[0]}`);
  assert.ok(newConnNames[2].every((n) => n === 'p1'));
  for (const c of long) assert.equal(c.socket.destroyed, false, 'every established connection is still open');
  for (const c of long) c.socket.destroy();
});

test('close() stops listening, destroys its connections and frees the port', async (t) => {
  const [a] = await echoPods(t, 'pod-a');
  const lb = new LoadBalancer();
  lb.update('svc', [endpoint('127.0.0.1', a.port)], 0);
  const proxy = new TcpProxy({ name: 'svc', pick: (s, r) => lb.nextEndpoint('svc', s, r), budget: new ConnectionBudget(10), log: memoryLogger() });
  const port = await proxy.listen('127.0.0.1', 0);
  const c = await connectAndReadName(port);
  // The proxy's side closes: the client sees end-of-stream (it is half-open aware, so it waits for 'end').
  const gone = new Promise((r) => c.socket.once('end', r));
  c.socket.resume();
  await proxy.close();
  await gone;
  const again = net.createServer();
  await new Promise<void>((resolve, reject) => { again.once('error', reject); again.listen(port, '127.0.0.1', resolve); });
  await new Promise<void>((r) => again.close(() => r()));
});
