/**
 * kpx's metrics against kube-proxy 1.33+'s: the same names, types, label sets and histogram buckets, so
 * dashboards and alerts carry over. The list is upstream's (pkg/proxy/metrics/metrics.go and the generated
 * metrics reference, 1.33 added ip_family); a difference fails here before an operator finds it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { iptablesMetrics } from '../../../modes/iptables/metrics.js';
import { createProxyMetrics, NETWORK_PROGRAMMING_BUCKETS } from '../../../src/server/metrics.js';

const UPSTREAM: Record<string, { type: string; labels: string[] }> = {
  kubeproxy_sync_proxy_rules_duration_seconds: { type: 'histogram', labels: ['ip_family'] },
  kubeproxy_sync_full_proxy_rules_duration_seconds: { type: 'histogram', labels: ['ip_family'] },
  kubeproxy_sync_partial_proxy_rules_duration_seconds: { type: 'histogram', labels: ['ip_family'] },
  kubeproxy_sync_proxy_rules_last_timestamp_seconds: { type: 'gauge', labels: ['ip_family'] },
  kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds: { type: 'gauge', labels: ['ip_family'] },
  kubeproxy_network_programming_duration_seconds: { type: 'histogram', labels: ['ip_family'] },
  kubeproxy_sync_proxy_rules_endpoint_changes_pending: { type: 'gauge', labels: [] },
  kubeproxy_sync_proxy_rules_endpoint_changes_total: { type: 'counter', labels: [] },
  kubeproxy_sync_proxy_rules_service_changes_pending: { type: 'gauge', labels: [] },
  kubeproxy_sync_proxy_rules_service_changes_total: { type: 'counter', labels: [] },
  kubeproxy_sync_proxy_rules_no_local_endpoints_total: { type: 'gauge', labels: ['ip_family', 'traffic_policy'] },
  kubeproxy_proxy_healthz_total: { type: 'counter', labels: ['code'] },
  kubeproxy_proxy_livez_total: { type: 'counter', labels: ['code'] },
  kubeproxy_sync_proxy_rules_iptables_restore_failures_total: { type: 'counter', labels: ['ip_family'] },
  kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total: { type: 'counter', labels: ['ip_family'] },
  kubeproxy_sync_proxy_rules_iptables_total: { type: 'gauge', labels: ['ip_family', 'table'] },
  kubeproxy_sync_proxy_rules_iptables_last: { type: 'gauge', labels: ['ip_family', 'table'] },
};

test("the proxy's and the iptables mode's metrics have kube-proxy 1.33's names, types and label sets", async () => {
  const registry = new Registry();
  createProxyMetrics(registry);
  iptablesMetrics(registry);
  const ours = new Map((await registry.getMetricsAsJSON()).map((m) => [m.name, m]));
  for (const [name, want] of Object.entries(UPSTREAM)) {
    const m = ours.get(name);
    assert.ok(m, `${name} is missing`);
    assert.equal(m.type, want.type, `${name}: type`);
    const labels = ((registry.getSingleMetric(name) as unknown as { labelNames: string[] }).labelNames ?? []).slice().sort();
    assert.deepEqual(labels, [...want.labels].sort(), `${name}: labels`);
  }
  for (const name of ours.keys()) assert.ok(name in UPSTREAM, `${name} is not one of kube-proxy's`);
});

test("network programming latency has kube-proxy's 81 bucket bounds", () => {
  assert.equal(NETWORK_PROGRAMMING_BUCKETS.length, 81);
  assert.deepEqual(NETWORK_PROGRAMMING_BUCKETS.slice(0, 5), [0, 0.25, 0.5, 1, 2]);
  assert.deepEqual(NETWORK_PROGRAMMING_BUCKETS.slice(60, 64), [58, 59, 60, 65]);
  assert.deepEqual(NETWORK_PROGRAMMING_BUCKETS.slice(-3), [240, 270, 300]);
});
