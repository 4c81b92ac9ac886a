/**
 * metrics.ts: kube-proxy's iptables metrics, registered once per registry (shared by a dual-stack node's two
 * backends, each writing the series of its own ip_family).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { IPFamily } from '../../src/model/types.js';
import type { RuleCounts } from './applied-rules.js';

export interface IptablesMetrics {
  readonly restoreFailures: Counter<'ip_family'>;
  readonly partialRestoreFailures: Counter<'ip_family'>;
  readonly rulesTotal: Gauge<'ip_family' | 'table'>;
  readonly rulesLast: Gauge<'ip_family' | 'table'>;
}

export function iptablesMetrics(registry: Registry): IptablesMetrics {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  const registers = [registry];
  return {
    restoreFailures: get('kubeproxy_sync_proxy_rules_iptables_restore_failures_total', () => new Counter({
      name: 'kubeproxy_sync_proxy_rules_iptables_restore_failures_total', help: 'Cumulative proxy iptables restore failures', labelNames: ['ip_family'], registers })),
    partialRestoreFailures: get('kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total', () => new Counter({
      name: 'kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total', help: 'Cumulative proxy iptables partial restore failures', labelNames: ['ip_family'], registers })),
    rulesTotal: get('kubeproxy_sync_proxy_rules_iptables_total', () => new Gauge({
      name: 'kubeproxy_sync_proxy_rules_iptables_total', help: 'Total number of iptables rules owned by kube-proxy', labelNames: ['ip_family', 'table'], registers })),
    rulesLast: get('kubeproxy_sync_proxy_rules_iptables_last', () => new Gauge({
      name: 'kubeproxy_sync_proxy_rules_iptables_last', help: 'Number of iptables rules written by kube-proxy in last sync', labelNames: ['ip_family', 'table'], registers })),
  };
}

/** After a successful sync: every rule kpx owns, and the rules this sync wrote. */
export function recordRuleCounts(m: IptablesMetrics, family: IPFamily, total: RuleCounts, written: RuleCounts): void {
  m.rulesTotal.set({ ip_family: family, table: 'filter' }, total.filter);
  m.rulesTotal.set({ ip_family: family, table: 'nat' }, total.nat);
  m.rulesLast.set({ ip_family: family, table: 'filter' }, written.filter);
  m.rulesLast.set({ ip_family: family, table: 'nat' }, written.nat);
}
