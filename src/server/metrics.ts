/**
 * metrics.ts: kube-proxy's metrics (subsystem kubeproxy_), registered on one prom-client Registry.
 * Mode-specific metrics are registered by each mode on the same registry.
 */
import { Counter, Gauge, Histogram, Registry, exponentialBuckets, linearBuckets } from 'prom-client';

/** kube-proxy 1.33+ labels its per-sync metrics with the IP family ("IPv4", "IPv6"): one series per family. */
export type FamilyLabel = 'ip_family';

export interface ProxyMetrics {
  readonly registry: Registry;
  readonly syncProxyRulesDuration: Histogram<FamilyLabel>;
  readonly syncFullProxyRulesDuration: Histogram<FamilyLabel>;
  readonly syncPartialProxyRulesDuration: Histogram<FamilyLabel>;
  readonly syncProxyRulesLastTimestamp: Gauge<FamilyLabel>;
  readonly syncProxyRulesLastQueuedTimestamp: Gauge<FamilyLabel>;
  readonly networkProgrammingDuration: Histogram<FamilyLabel>;
  readonly endpointChangesPending: Gauge;
  readonly endpointChangesTotal: Counter;
  readonly serviceChangesPending: Gauge;
  readonly serviceChangesTotal: Counter;
  readonly noLocalEndpointsTotal: Gauge<FamilyLabel | 'traffic_policy'>;
  readonly proxyHealthzTotal: Counter<'code'>;
  readonly proxyLivezTotal: Counter<'code'>;
}

const SYNC_BUCKETS = exponentialBuckets(0.001, 2, 15);
/** kube-proxy's: 0, then 0.25 s and 0.5 s, every second to 59 s, every 5 s to 115 s, every 30 s to 5 min. */
export const NETWORK_PROGRAMMING_BUCKETS: readonly number[] = [
  0, 0.25, 0.5, ...linearBuckets(1, 1, 59), ...linearBuckets(60, 5, 12), ...linearBuckets(120, 30, 7),
];

export function createProxyMetrics(registry: Registry = new Registry()): ProxyMetrics {
  const registers = [registry];
  const ip = ['ip_family'] as const;
  return {
    registry,
    syncProxyRulesDuration: new Histogram({ name: 'kubeproxy_sync_proxy_rules_duration_seconds', help: 'SyncProxyRules latency in seconds', labelNames: ip, buckets: SYNC_BUCKETS, registers }),
    syncFullProxyRulesDuration: new Histogram({ name: 'kubeproxy_sync_full_proxy_rules_duration_seconds', help: 'SyncProxyRules latency in seconds for full resyncs', labelNames: ip, buckets: SYNC_BUCKETS, registers }),
    syncPartialProxyRulesDuration: new Histogram({ name: 'kubeproxy_sync_partial_proxy_rules_duration_seconds', help: 'SyncProxyRules latency in seconds for partial resyncs', labelNames: ip, buckets: SYNC_BUCKETS, registers }),
    syncProxyRulesLastTimestamp: new Gauge({ name: 'kubeproxy_sync_proxy_rules_last_timestamp_seconds', help: 'The last time proxy rules were successfully synced', labelNames: ip, registers }),
    syncProxyRulesLastQueuedTimestamp: new Gauge({ name: 'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds', help: 'The last time a sync of proxy rules was queued', labelNames: ip, registers }),
    networkProgrammingDuration: new Histogram({ name: 'kubeproxy_network_programming_duration_seconds', help: 'In Cluster Network Programming Latency in seconds', labelNames: ip, buckets: [...NETWORK_PROGRAMMING_BUCKETS], registers }),
    endpointChangesPending: new Gauge({ name: 'kubeproxy_sync_proxy_rules_endpoint_changes_pending', help: 'Pending proxy rules Endpoint changes', registers }),
    endpointChangesTotal: new Counter({ name: 'kubeproxy_sync_proxy_rules_endpoint_changes_total', help: 'Cumulative proxy rules Endpoint changes', registers }),
    serviceChangesPending: new Gauge({ name: 'kubeproxy_sync_proxy_rules_service_changes_pending', help: 'Pending proxy rules Service changes', registers }),
    serviceChangesTotal: new Counter({ name: 'kubeproxy_sync_proxy_rules_service_changes_total', help: 'Cumulative proxy rules Service changes', registers }),
    noLocalEndpointsTotal: new Gauge({ name: 'kubeproxy_sync_proxy_rules_no_local_endpoints_total', help: 'Number of services with a Local traffic policy and no endpoints', labelNames: ['ip_family', 'traffic_policy'], registers }),
    proxyHealthzTotal: new Counter({ name: 'kubeproxy_proxy_healthz_total', help: 'Cumulative proxy healthz HTTP status', labelNames: ['code'], registers }),
    proxyLivezTotal: new Counter({ name: 'kubeproxy_proxy_livez_total', help: 'Cumulative proxy livez HTTP status', labelNames: ['code'], registers }),
  };
}
