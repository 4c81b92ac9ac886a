import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { rfc3339Nano, startHealthzServer } from '../../../src/server/healthz-server.js';
import { TAINT_TO_BE_DELETED } from '../../../src/model/api.js';
import { ProxyHealth } from '../../../src/server/proxy-health.js';
import { createProxyMetrics } from '../../../src/server/metrics.js';
import { FakeClock } from '../../support/fake-clock.js';
import { memoryLogger } from '../../support/logger.js';
import { get, nodeEvents } from './helpers.js';

const TIMEOUT = 60_000;

async function setup(t: { after(fn: () => Promise<void> | void): void }) {
  const clock = new FakeClock();
  const health = new ProxyHealth({ clock, healthTimeoutMs: TIMEOUT });
  const metrics = createProxyMetrics(new Registry());
  const srv = await startHealthzServer({ address: '127.0.0.1:0', health, metrics, log: memoryLogger() });
  t.after(() => srv.close());
  const fetch = (path: string) => get('127.0.0.1', srv.port, path);
  return { clock, health, metrics, srv, fetch };
}

async function counter(metrics: ReturnType<typeof createProxyMetrics>, name: 'proxyHealthzTotal' | 'proxyLivezTotal', code: string) {
  const m = await metrics[name].get();
  return m.values.find((v) => v.labels.code === code)?.value ?? 0;
}

function assertJsonHeaders(headers: Record<string, unknown>) {
  assert.equal(headers['content-type'], 'application/json');
  assert.equal(headers['x-content-type-options'], 'nosniff');
}

test('times are Go RFC3339Nano: no trailing zeros in the fraction, none when it is zero', () => {
  assert.equal(rfc3339Nano(new Date('2026-12-02T17:03:06.120Z')), '2026-12-02T17:03:06.12Z');
  assert.equal(rfc3339Nano(new Date('2026-12-02T17:03:06.000Z')), '2026-12-02T17:03:06Z');
});

test('while starting, /healthz and /livez answer 200 with lastUpdated equal to currentTime', async (t) => {
  const { fetch, clock } = await setup(t);
  const hz = await fetch('/healthz');
  assert.equal(hz.status, 200);
  assertJsonHeaders(hz.headers);
  const now = rfc3339Nano(new Date(clock.now()));
  assert.deepEqual(JSON.parse(hz.body), { lastUpdated: now, currentTime: now, nodeEligible: true, healthy: true, status: {} });
  const lz = await fetch('/livez');
  assert.equal(lz.status, 200);
  assertJsonHeaders(lz.headers);
  assert.deepEqual(JSON.parse(lz.body), { lastUpdated: now, currentTime: now, healthy: true, status: {} });
});

test('once synced, both answer 200 and keep answering 200 while nothing is pending', async (t) => {
  const { fetch, clock, health } = await setup(t);
  health.updated('IPv4');
  clock.advance(5 * TIMEOUT);
  const hz = await fetch('/healthz');
  assert.equal(hz.status, 200);
  const body = JSON.parse(hz.body) as { lastUpdated: string; currentTime: string };
  assert.equal(body.lastUpdated, body.currentTime, 'healthy: lastUpdated is reported as now');
  assert.equal((await fetch('/livez')).status, 200);
});

test('a change pending for 2 x sync period makes /healthz and /livez 503 with the real lastUpdated', async (t) => {
  const { fetch, clock, health, metrics } = await setup(t);
  health.updated('IPv4');
  const syncedAt = rfc3339Nano(new Date(clock.now()));
  health.queuedUpdate('IPv4');
  clock.advance(TIMEOUT);
  const now = rfc3339Nano(new Date(clock.now()));
  const hz = await fetch('/healthz');
  assert.equal(hz.status, 503);
  assertJsonHeaders(hz.headers);
  const status = { IPv4: { lastUpdated: syncedAt, healthy: false } };
  assert.deepEqual(JSON.parse(hz.body), { lastUpdated: syncedAt, currentTime: now, nodeEligible: true, healthy: false, status });
  const lz = await fetch('/livez');
  assert.equal(lz.status, 503);
  assert.deepEqual(JSON.parse(lz.body), { lastUpdated: syncedAt, currentTime: now, healthy: false, status });
  assert.equal(await counter(metrics, 'proxyHealthzTotal', '503'), 1);
  assert.equal(await counter(metrics, 'proxyLivezTotal', '503'), 1);

  health.updated('IPv4');
  assert.equal((await fetch('/healthz')).status, 200);
  assert.equal(await counter(metrics, 'proxyHealthzTotal', '200'), 1);
});

async function nodeIneligible(t: Parameters<typeof setup>[0], mark: (h: ProxyHealth, c: FakeClock) => void) {
  const { fetch, clock, health, metrics } = await setup(t);
  health.updated('IPv4');
  mark(health, clock);
  const hz = await fetch('/healthz');
  assert.equal(hz.status, 503);
  const body = JSON.parse(hz.body) as { nodeEligible: boolean };
  assert.equal(body.nodeEligible, false);
  const lz = await fetch('/livez');
  assert.equal(lz.status, 200, '/livez ignores the node');
  assert.deepEqual(Object.keys(JSON.parse(lz.body)).sort(), ['currentTime', 'healthy', 'lastUpdated', 'status']);
  assert.equal(await counter(metrics, 'proxyHealthzTotal', '503'), 1);
  assert.equal(await counter(metrics, 'proxyLivezTotal', '200'), 1);
}

test('a node being deleted makes /healthz 503 (nodeEligible false) while /livez stays 200', async (t) => {
  await nodeIneligible(t, (h, c) => nodeEvents(h, c)({ metadata: { deletionTimestamp: '2026-01-01T00:00:00Z' } }));
});

test('a node tainted ToBeDeletedByClusterAutoscaler makes /healthz 503 while /livez stays 200', async (t) => {
  await nodeIneligible(t, (h, c) => nodeEvents(h, c)({ spec: { taints: [{ key: TAINT_TO_BE_DELETED }] } }));
});

test('other paths are 404 and do not count', async (t) => {
  const { fetch, metrics } = await setup(t);
  for (const path of ['/', '/metrics', '/healthz/x', '/livezz']) assert.equal((await fetch(path)).status, 404, path);
  assert.equal((await fetch('/healthz?verbose')).status, 200, 'a query string is ignored');
  assert.equal(await counter(metrics, 'proxyHealthzTotal', '200'), 1);
});

test('a taken port rejects the start with the bind error, and close() frees the port', async (t) => {
  const { srv, health, metrics } = await setup(t);
  await assert.rejects(
    startHealthzServer({ address: `127.0.0.1:${srv.port}`, health, metrics, log: memoryLogger() }),
    /EADDRINUSE/,
  );
  await srv.close();
  const again = await startHealthzServer({ address: `127.0.0.1:${srv.port}`, health, metrics, log: memoryLogger() });
  await again.close();
  await assert.rejects(startHealthzServer({ address: 'nonsense', health, metrics, log: memoryLogger() }), /invalid listen address "nonsense"/);
});
