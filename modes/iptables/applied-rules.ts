/**
 * applied-rules.ts: what kpx last wrote, remembered after a successful sync so the next partial sync can
 * write only what differs.
 */
import type { RenderedRules } from './render.js';

export interface AppliedRules {
  readonly dispatch: ReadonlyMap<string, readonly string[]>;
  readonly filter: readonly string[];
  readonly activeNatChains: ReadonlySet<string>;
  readonly largeClusterMode: boolean;
}

export function appliedRules(r: RenderedRules): AppliedRules {
  return { dispatch: new Map(r.natDispatch), filter: r.filterRules, activeNatChains: r.activeNatChains, largeClusterMode: r.largeClusterMode };
}

/** Rules written per table by one sync (kubeproxy_sync_proxy_rules_iptables_last). */
export interface RuleCounts {
  readonly filter: number;
  readonly nat: number;
}
