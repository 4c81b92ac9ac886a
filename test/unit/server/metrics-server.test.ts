import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { startMetricsServer } from '../../../src/server/metrics-server.js';
import { createProxyMetrics } from '../../../src/server/metrics.js';
import { memoryLogger } from '../../support/logger.js';
import { get } from './helpers.js';

test("/metrics serves kube-proxy's metric names from the registry", async (t) => {
  const metrics = createProxyMetrics(new Registry());
  metrics.syncProxyRulesDuration.observe({ ip_family: 'IPv4' }, 0.02);
  metrics.proxyHealthzTotal.inc({ code: '200' });
  metrics.noLocalEndpointsTotal.set({ ip_family: 'IPv4', traffic_policy: 'internal' }, 1);
  const srv = await startMetricsServer({ address: '127.0.0.1:0', registry: metrics.registry, mode: 'iptables', log: memoryLogger() });
  t.after(() => srv.close());
  const r = await get('127.0.0.1', srv.port, '/metrics');
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  for (const name of [
    'kubeproxy_sync_proxy_rules_duration_seconds',
    'kubeproxy_sync_full_proxy_rules_duration_seconds',
    'kubeproxy_sync_partial_proxy_rules_duration_seconds',
    'kubeproxy_sync_proxy_rules_last_timestamp_seconds',
    'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds',
    'kubeproxy_network_programming_duration_seconds',
    'kubeproxy_sync_proxy_rules_endpoint_changes_pending',
    'kubeproxy_sync_proxy_rules_endpoint_changes_total',
    'kubeproxy_sync_proxy_rules_service_changes_pending',
    'kubeproxy_sync_proxy_rules_service_changes_total',
    'kubeproxy_sync_proxy_rules_no_local_endpoints_total',
    'kubeproxy_proxy_healthz_total',
    'kubeproxy_proxy_livez_total',
  ]) {
    assert.match(r.body, new RegExp(`^# TYPE ${name} `, 'm'), name);
  }
  assert.match(r.body, /^kubeproxy_sync_proxy_rules_duration_seconds_count\{ip_family="IPv4"\} 1$/m);
  assert.match(r.body, /^kubeproxy_proxy_healthz_total\{code="200"\} 1$/m);
  assert.match(r.body, /^kubeproxy_sync_proxy_rules_no_local_endpoints_total\{ip_family="IPv4",traffic_policy="internal"\} 1$/m);
});

test('/proxyMode answers the mode as plain text; /healthz answers ok; anything else is 404', async (t) => {
  const srv = await startMetricsServer({ address: '127.0.0.1:0', registry: new Registry(), mode: 'ipvs', log: memoryLogger() });
  t.after(() => srv.close());
  const mode = await get('127.0.0.1', srv.port, '/proxyMode');
  assert.equal(mode.status, 200);
  assert.equal(mode.body, 'ipvs');
  assert.match(String(mode.headers['content-type']), /^text\/plain/);
  const hz = await get('127.0.0.1', srv.port, '/healthz');
  assert.equal(hz.status, 200);
  assert.equal(hz.body, 'ok');
  assert.equal((await get('127.0.0.1', srv.port, '/configz')).status, 404, 'no configuration given');
  assert.equal((await get('127.0.0.1', srv.port, '/nope')).status, 404);
});

test('/configz serves the configuration when one is given', async (t) => {
  const srv = await startMetricsServer({ address: '127.0.0.1:0', registry: new Registry(), mode: 'iptables', log: memoryLogger(), configz: { mode: 'iptables' } });
  t.after(() => srv.close());
  const r = await get('127.0.0.1', srv.port, '/configz');
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body), { 'kubeproxy.config.k8s.io': { mode: 'iptables' } });
});
