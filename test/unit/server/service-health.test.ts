import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { ServiceHealthServer } from '../../../src/server/service-health.js';
import type { ServiceHealthEntry } from '../../../src/server/service-health.js';
import { ProxyHealth } from '../../../src/server/proxy-health.js';
import { FakeClock } from '../../support/fake-clock.js';
import { memoryLogger } from '../../support/logger.js';
import { freePort, get, nodeEvents } from './helpers.js';

const TIMEOUT = 60_000;

function setup(t: { after(fn: () => Promise<void> | void): void }, addresses: string[] = ['127.0.0.1']) {
  const clock = new FakeClock();
  const health = new ProxyHealth({ clock, healthTimeoutMs: TIMEOUT });
  const log = memoryLogger();
  const bindErrors: { entry: ServiceHealthEntry; err: Error }[] = [];
  const shs = new ServiceHealthServer({ addresses, health, log, onBindError: (entry, err) => bindErrors.push({ entry, err }) });
  t.after(() => shs.close());
  return { clock, health, log, shs, bindErrors };
}

async function refused(port: number): Promise<boolean> {
  try {
    await get('127.0.0.1', port, '/');
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ECONNREFUSED';
  }
}

test('a service with ready local endpoints and a healthy proxy answers 200 with its weight and JSON body', async (t) => {
  const { shs } = setup(t);
  const port = await freePort();
  await shs.sync([{ namespace: 'default', name: 'web', port, localEndpoints: 3 }]);
  const r = await get('127.0.0.1', port, '/');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  assert.equal(r.headers['x-load-balancing-endpoint-weight'], '3');
  assert.deepEqual(JSON.parse(r.body), { service: { namespace: 'default', name: 'web' }, localEndpoints: 3, serviceProxyHealthy: true });
  assert.equal((await get('127.0.0.1', port, '/any/path')).status, 200, 'every path answers, as load balancers probe various ones');
});

test('no local endpoints answers 503 with weight 0; the count follows each sync without reopening', async (t) => {
  const { shs } = setup(t);
  const port = await freePort();
  await shs.sync([{ namespace: 'ns', name: 'db', port, localEndpoints: 0 }]);
  let r = await get('127.0.0.1', port, '/');
  assert.equal(r.status, 503);
  assert.equal(r.headers['x-load-balancing-endpoint-weight'], '0');
  assert.deepEqual(JSON.parse(r.body), { service: { namespace: 'ns', name: 'db' }, localEndpoints: 0, serviceProxyHealthy: true });
  await shs.sync([{ namespace: 'ns', name: 'db', port, localEndpoints: 2 }]);
  r = await get('127.0.0.1', port, '/');
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-load-balancing-endpoint-weight'], '2');
});

test('an unhealthy proxy answers 503 even with local endpoints; node eligibility is ignored', async (t) => {
  const { shs, health, clock } = setup(t);
  const port = await freePort();
  await shs.sync([{ namespace: 'ns', name: 'web', port, localEndpoints: 1 }]);
  nodeEvents(health, clock)({ spec: { taints: [{ key: 'ToBeDeletedByClusterAutoscaler' }] } });
  assert.equal((await get('127.0.0.1', port, '/')).status, 200, 'a draining node is /healthz\'s business');
  health.updated('IPv4');
  health.queuedUpdate('IPv4');
  clock.advance(TIMEOUT);
  const r = await get('127.0.0.1', port, '/');
  assert.equal(r.status, 503);
  assert.equal(r.headers['x-load-balancing-endpoint-weight'], '1');
  assert.equal((JSON.parse(r.body) as { serviceProxyHealthy: boolean }).serviceProxyHealthy, false);
});

test('sync opens new services, closes removed ones and moves a service whose port changed', async (t) => {
  const { shs } = setup(t);
  const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
  await shs.sync([
    { namespace: 'a', name: 'one', port: p1, localEndpoints: 1 },
    { namespace: 'a', name: 'two', port: p2, localEndpoints: 1 },
  ]);
  assert.equal((await get('127.0.0.1', p1, '/')).status, 200);
  assert.equal((await get('127.0.0.1', p2, '/')).status, 200);
  assert.deepEqual(shs.listening().map((l) => `${l.namespace}/${l.name}@${l.address}:${l.port}`).sort(),
    [`a/one@127.0.0.1:${p1}`, `a/two@127.0.0.1:${p2}`].sort());

  await shs.sync([{ namespace: 'a', name: 'two', port: p3, localEndpoints: 1 }]);
  assert.ok(await refused(p1), 'a removed service closes its port');
  assert.ok(await refused(p2), 'a changed port closes the old one');
  const r = await get('127.0.0.1', p3, '/');
  assert.equal(r.status, 200);
  assert.equal((JSON.parse(r.body) as { service: { name: string } }).service.name, 'two');

  await shs.sync([]);
  assert.ok(await refused(p3));
  assert.deepEqual(shs.listening(), []);
});

test('a port that cannot be bound is reported through onBindError and a warning, then retried by the next sync', async (t) => {
  const { shs, log, bindErrors } = setup(t);
  const port = await freePort();
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port }, resolve));
  const entry = { namespace: 'ns', name: 'busy', port, localEndpoints: 1 };
  const other = await freePort();
  await shs.sync([entry, { namespace: 'ns', name: 'fine', port: other, localEndpoints: 1 }]);
  assert.equal(bindErrors.length, 1);
  assert.deepEqual(bindErrors[0].entry, entry);
  assert.match(bindErrors[0].err.message, /EADDRINUSE/);
  assert.ok(log.lines.some((l) => l.startsWith('W Failed to start healthcheck')), log.lines.join('\n'));
  assert.equal((await get('127.0.0.1', other, '/')).status, 200, 'other services are not affected');

  await new Promise<void>((resolve) => blocker.close(() => resolve()));
  await shs.sync([entry, { namespace: 'ns', name: 'fine', port: other, localEndpoints: 1 }]);
  assert.equal(bindErrors.length, 1);
  assert.equal((await get('127.0.0.1', port, '/')).status, 200, 'the next sync opened it');
});

test('a bind failure on a second address releases the first, so nothing half-open remains', async (t) => {
  // 127.0.0.2 is loopback too (127/8), so both addresses are bindable; the port is taken on the second only.
  const { shs, bindErrors } = setup(t, ['127.0.0.1', '127.0.0.2']);
  const port = await freePort();
  const blocker = createServer();
  await new Promise<void>((resolve, reject) => { blocker.once('error', reject); blocker.listen({ host: '127.0.0.2', port }, resolve); });
  t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  await shs.sync([{ namespace: 'ns', name: 'web', port, localEndpoints: 1 }]);
  assert.equal(bindErrors.length, 1);
  assert.ok(await refused(port), '127.0.0.1 was released');
  assert.deepEqual(shs.listening(), []);
});

test('an invalid port is reported, never thrown', async (t) => {
  const { shs, bindErrors } = setup(t);
  await shs.sync([{ namespace: 'ns', name: 'bad', port: 70000, localEndpoints: 1 }]);
  assert.equal(bindErrors.length, 1);
  assert.match(bindErrors[0].err.message, /invalid health check node port 70000/);
});

test('with no addresses given, a service listens on every address', async (t) => {
  const { shs } = setup(t, []);
  const port = await freePort();
  await shs.sync([{ namespace: 'ns', name: 'all', port, localEndpoints: 1 }]);
  assert.equal((await get('127.0.0.1', port, '/')).status, 200);
  assert.deepEqual(shs.listening().map((l) => l.address), ['']);
});

test('close() closes every listener and later syncs open nothing', async (t) => {
  const { shs } = setup(t);
  const port = await freePort();
  await shs.sync([{ namespace: 'ns', name: 'web', port, localEndpoints: 1 }]);
  await shs.close();
  assert.ok(await refused(port));
  await shs.sync([{ namespace: 'ns', name: 'web', port, localEndpoints: 1 }]);
  assert.ok(await refused(port));
});

test('overlapping syncs run one after another and end in the last requested state', async (t) => {
  const { shs } = setup(t);
  const port = await freePort();
  const e = { namespace: 'ns', name: 'web', port, localEndpoints: 1 };
  await Promise.all([shs.sync([e]), shs.sync([]), shs.sync([{ ...e, localEndpoints: 4 }])]);
  const r = await get('127.0.0.1', port, '/');
  assert.equal(r.headers['x-load-balancing-endpoint-weight'], '4');
});
