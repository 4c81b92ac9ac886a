/** metrics.ts: kube-proxy's nftables metrics, registered once per registry (shared by a dual-stack node's two backends). */
import { Counter, type Registry } from 'prom-client';

export interface NftablesMetrics {
  readonly syncFailures: Counter;
  readonly cleanupFailures: Counter;
}

export function nftablesMetrics(registry: Registry): NftablesMetrics {
  const get = (name: string, help: string): Counter =>
    (registry.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, registers: [registry] });
  return {
    syncFailures: get('kubeproxy_sync_proxy_rules_nftables_sync_failures_total', 'Cumulative proxy nftables sync failures'),
    cleanupFailures: get('kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total', 'Cumulative proxy nftables cleanup failures'),
  };
}
