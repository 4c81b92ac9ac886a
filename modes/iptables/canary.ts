/**
 * canary.ts: like kube-proxy's iptables monitor, an empty KUBE-PROXY-CANARY chain in every table kpx
 * writes: one gone means someone flushed that table, and the next sync must be full.
 */
import type { IptablesClient, IptablesTable } from '../../src/net/iptables.js';
import { KUBE_PROXY_CANARY } from './chain-names.js';
import type { SavedRulesetCache } from './saved-ruleset-cache.js';

export const CANARY_TABLES: readonly IptablesTable[] = ['mangle', 'nat', 'filter'];

export async function ensureCanaries(ipt: IptablesClient): Promise<void> {
  for (const table of CANARY_TABLES) await ipt.ensureChain(table, KUBE_PROXY_CANARY);
}

/**
 * The first table whose canary is gone, if any. mangle's is cheap to look at; nat's and filter's (large
 * tables at scale) only when a program other than kpx committed since kpx's last write, which nf_tables'
 * generation tells for free.
 */
export async function flushedTable(ipt: IptablesClient, saved: SavedRulesetCache): Promise<IptablesTable | undefined> {
  if (!(await ipt.chainExists('mangle', KUBE_PROXY_CANARY))) return 'mangle';
  if (saved.isCurrent(await ipt.generation())) return undefined;
  for (const table of ['nat', 'filter'] as const) {
    if (!(await ipt.chainExists(table, KUBE_PROXY_CANARY))) return table;
  }
  return undefined;
}
