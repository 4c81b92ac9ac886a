import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { LoadBalancer } from '../../../modes/userspace/load-balancer.js';
import { UdpProxy } from '../../../modes/userspace/udp-proxy.js';
import { FakeClock } from '../../support/fake-clock.js';
import { memoryLogger } from '../../support/logger.js';
import { endpoint, udpNameServer } from './fixtures.js';

async function client(t: import('node:test').TestContext) {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => sock.close(() => r())));
  return {
    sock,
    ask(port: number, msg: Buffer | string, timeoutMs = 1000): Promise<{ data: Buffer; from: dgram.RemoteInfo }> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => { sock.removeListener('message', on); reject(new Error('no reply')); }, timeoutMs);
        const on = (data: Buffer, from: dgram.RemoteInfo) => { clearTimeout(timer); sock.removeListener('message', on); resolve({ data, from }); };
        sock.on('message', on);
        sock.send(msg, port, '127.0.0.1');
      });
    },
  };
}

async function setup(t: import('node:test').TestContext, names: string[], idleTimeoutMs = 250, clock?: FakeClock) {
  const servers = await Promise.all(names.map((n) => udpNameServer(n)));
  t.after(() => Promise.all(servers.map((s) => s.close())));
  const lb = new LoadBalancer();
  lb.update('dns', servers.map((s) => endpoint('127.0.0.1', s.port)), 0);
  const proxy = new UdpProxy({ name: 'dns', family: 'IPv4', pick: (s, r) => lb.nextEndpoint('dns', s, r), idleTimeoutMs, log: memoryLogger(), clock });
  const port = await proxy.listen('127.0.0.1', 0);
  t.after(() => proxy.close());
  return { servers, lb, proxy, port };
}

test('UDP request/response through the proxy, the reply coming from the listener address', async (t) => {
  const { port } = await setup(t, ['dns-a']);
  const c = await client(t);
  const r = await c.ask(port, 'query');
  assert.equal(r.data.toString(), 'dns-a:query');
  assert.equal(r.from.port, port, 'the reply leaves from the service listener socket');
});

test('one session per client: its datagrams stay on one endpoint; a second client goes to the next', async (t) => {
  const { port, proxy } = await setup(t, ['a', 'b']);
  const c1 = await client(t);
  const c2 = await client(t);
  const first = (await c1.ask(port, 'x')).data.toString();
  for (let i = 0; i < 3; i++) assert.equal((await c1.ask(port, 'x')).data.toString(), first);
  const other = (await c2.ask(port, 'x')).data.toString();
  assert.notEqual(other, first);
  assert.equal(proxy.sessionCount, 2);
});

test('a UDP session expires after --udp-timeout idle and the next datagram opens a new one', async (t) => {
  const clock = new FakeClock();
  const { port, proxy } = await setup(t, ['a', 'b'], 100, clock);
  const c = await client(t);
  const first = (await c.ask(port, 'x')).data.toString();
  // Activity within the timeout keeps the session: 4 x 50 ms is twice the timeout in all.
  for (let i = 0; i < 4; i++) {
    clock.advance(50);
    assert.equal((await c.ask(port, 'x')).data.toString(), first);
  }
  assert.equal(proxy.sessionCount, 1);
  clock.advance(99);
  assert.equal(proxy.sessionCount, 1, 'not idle for the whole timeout yet');
  clock.advance(1);
  assert.equal(proxy.sessionCount, 0, 'the idle session is gone');
  const after = (await c.ask(port, 'x')).data.toString();
  assert.notEqual(after, first, 'a new session is balanced again (round robin)');
});

test('a datagram of 60 KiB passes intact both ways', async (t) => {
  const { port } = await setup(t, ['big']);
  const c = await client(t);
  const payload = Buffer.alloc(60 * 1024);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
  const r = await c.ask(port, payload);
  assert.equal(r.data.length, 'big:'.length + payload.length);
  assert.ok(r.data.subarray(4).equals(payload));
});

test('UDP without endpoints drops the datagram and opens no session', async (t) => {
  const { port, proxy, lb } = await setup(t, []);
  void lb;
  const c = await client(t);
  await assert.rejects(c.ask(port, 'x', 200));
  assert.equal(proxy.sessionCount, 0);
});

test('closing the UDP listener ends its sessions and frees the port', async (t) => {
  const { port, proxy } = await setup(t, ['a']);
  const c = await client(t);
  await c.ask(port, 'x');
  await proxy.close();
  assert.equal(proxy.sessionCount, 0);
  const again = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => { again.once('error', reject); again.bind(port, '127.0.0.1', resolve); });
  await new Promise<void>((r) => again.close(() => r()));
});
