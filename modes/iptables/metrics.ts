/** metrics.ts: kube-proxy's iptables metrics, registered once per registry (shared by a dual-stack node's two backends). */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RuleCounts } from './applied-rules.js';

export interface IptablesMetrics {
  readonly restoreFailures: Counter;
  readonly partialRestoreFailures: Counter;
  readonly rulesTotal: Gauge<'table'>;
  readonly rulesLast: Gauge<'table'>;
}

export function iptablesMetrics(registry: Registry): IptablesMetrics {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  const registers = [registry];
  return {
    restoreFailures: get('kubeproxy_sync_proxy_rules_iptables_restore_failures_total', () => new Counter({
      name: 'kubeproxy_sync_proxy_rules_iptables_restore_failures_total', help: 'Cumulative proxy iptables restore failures', registers })),
    partialRestoreFailures: get('kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total', () => new Counter({
      name: 'kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total', help: 'Cumulative proxy iptables partial restore failures', registers })),
    rulesTotal: get('kubeproxy_sync_proxy_rules_iptables_total', () => new Gauge({
      name: 'kubeproxy_sync_proxy_rules_iptables_total', help: 'Total number of iptables rules owned by kube-proxy', labelNames: ['table'], registers })),
    rulesLast: get('kubeproxy_sync_proxy_rules_iptables_last', () => new Gauge({
      name: 'kubeproxy_sync_proxy_rules_iptables_last', help: 'Number of iptables rules written by kube-proxy in last sync', labelNames: ['table'], registers })),
  };
}

/** After a successful sync: every rule kpx owns, and the rules this sync wrote. */
export function recordRuleCounts(m: IptablesMetrics, total: RuleCounts, written: RuleCounts): void {
  m.rulesTotal.set({ table: 'filter' }, total.filter);
  m.rulesTotal.set({ table: 'nat' }, total.nat);
  m.rulesLast.set({ table: 'filter' }, written.filter);
  m.rulesLast.set({ table: 'nat' }, written.nat);
}
