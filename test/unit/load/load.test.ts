import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { runLoad } from '../../../src/load/run-load.js';
import { parseWrkOutput, wrkArgs } from '../../../src/load/wrk.js';
import { percentile } from '../../../src/load/stats.js';

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

test('keep-alive load against a loopback server reports a request rate, latency percentiles and no errors', async () => {
  const server = http.createServer((_req, res) => res.end('ok'));
  const port = await listen(server);
  try {
    const r = await runLoad({ target: `127.0.0.1:${port}`, mode: 'keepalive', durationMs: 1000, connections: 4, threads: 1, path: '/' });
    assert.equal(r.unit, 'req/s');
    assert.ok(r.requests > 100, `only ${r.requests} requests`);
    assert.ok(r.rate > 100);
    assert.equal(r.errors, 0);
    assert.ok(r.latencyMs.p50 > 0 && r.latencyMs.p50 <= r.latencyMs.p99 && r.latencyMs.p99 <= r.latencyMs.max);
  } finally {
    server.close();
  }
});

test('new-connection load opens one connection per request', async () => {
  let connections = 0;
  const server = http.createServer((_req, res) => res.end('ok'));
  server.on('connection', () => connections++);
  const port = await listen(server);
  try {
    const r = await runLoad({ target: `127.0.0.1:${port}`, mode: 'new-conn', durationMs: 1000, connections: 2, threads: 1, path: '/' });
    assert.equal(r.unit, 'conn/s');
    assert.ok(r.requests > 20);
    // wrk counts requests; each one came on its own connection (a few in flight at the end may not count).
    assert.ok(connections >= r.requests, `${connections} connections for ${r.requests} requests`);
  } finally {
    server.close();
  }
});

test('bulk load counts every byte a streaming server sends', async () => {
  const chunk = Buffer.alloc(64 * 1024);
  let sent = 0;
  const server = net.createServer((s) => {
    const pump = () => { while (s.write(chunk)) { sent += chunk.length; } sent += chunk.length; };
    s.on('drain', pump);
    s.on('error', () => {});
    s.once('data', pump);
  });
  const port = await listen(server);
  try {
    const r = await runLoad({ target: `127.0.0.1:${port}`, mode: 'bulk', durationMs: 1000, connections: 2, threads: 1, path: '/bulk' });
    assert.equal(r.unit, 'MB/s');
    assert.ok(r.bytes > 10e6, `only ${r.bytes} bytes`);
    assert.ok(r.bytes <= sent);
    assert.equal(r.errors, 0);
  } finally {
    server.close();
  }
});

test('a refused target is counted as errors, not a crash', async () => {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise((r) => server.close(r));
  const r = await runLoad({ target: `127.0.0.1:${port}`, mode: 'bulk', durationMs: 1000, connections: 3, threads: 1, path: '/' });
  assert.equal(r.errors, 3);
  assert.equal(r.bytes, 0);
});

test('wrk is driven with Connection: close for new-conn and its JSON summary is parsed', () => {
  const args = wrkArgs({ target: '10.96.0.10:80', mode: 'new-conn', durationMs: 30_000, connections: 50, threads: 2, path: '/' }, '/x.lua');
  assert.deepEqual(args.slice(-3), ['-H', 'Connection: close', 'http://10.96.0.10:80/']);
  const s = parseWrkOutput('Running...\nKPXJSON {"requests":5,"duration_us":1000000,"bytes":10,"errors":{"connect":0,"read":0,"write":0,"status":0,"timeout":0},"latency_us":{"p50":1,"p90":2,"p99":3,"max":4}}\n');
  assert.equal(s.requests, 5);
  assert.throws(() => parseWrkOutput('garbage'), /no summary/);
});

test('percentile is nearest-rank', () => {
  assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), 9);
  assert.equal(percentile([], 99), 0);
});
