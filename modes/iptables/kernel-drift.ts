/**
 * kernel-drift.ts: whether the kernel still holds what kpx wrote, from one iptables-save: the periodic
 * consistency check that replaces kube-proxy's full rewrite every sync period. Pure.
 *
 * It compares per chain: every chain kpx wrote exists with as many rules as kpx wrote, every jump from a
 * built-in chain is there, and so are the canaries. iptables-save prints rules in its own order of matches,
 * not in the order kpx writes them, so a rule count is what can be compared without re-parsing every rule;
 * a flush, a deleted or an added rule, a deleted chain and a lost jump all change one.
 */
import { KUBE_PROXY_CANARY } from './chain-names.js';
import type { JumpRule } from './jumps.js';
import type { RenderedRules } from './render.js';
import type { SavedRuleset } from './table-merge.js';

/** Rules per chain of "-A CHAIN ..." lines; every declared chain is present, with 0 when it has none. */
function rulesPerChain(declared: Iterable<string>, lines: Iterable<string>, into = new Map<string, number>()): Map<string, number> {
  for (const c of declared) if (!into.has(c)) into.set(c, 0);
  for (const line of lines) {
    const end = line.indexOf(' ', 3);
    const chain = line.slice(3, end < 0 ? undefined : end);
    into.set(chain, (into.get(chain) ?? 0) + 1);
  }
  return into;
}

function wantedChains(r: RenderedRules): { nat: Map<string, number>; filter: Map<string, number> } {
  const nat = rulesPerChain(r.serviceChains, r.serviceRules);
  for (const [chain, lines] of r.natDispatch) nat.set(chain, lines.length);
  const filter = rulesPerChain(r.filterChains, r.filterRules);
  return { nat, filter };
}

/**
 * The first difference between a full render of what kpx last wrote and the saved tables, in words, or
 * undefined when the kernel holds exactly that many rules in each of kpx's chains, every jump and every
 * canary.
 */
export function kernelDrift(saved: SavedRuleset, written: RenderedRules, jumps: readonly JumpRule[]): string | undefined {
  for (const table of ['mangle', 'nat', 'filter']) {
    if (!saved.tables.get(table)?.chains.has(KUBE_PROXY_CANARY)) return `${table} has no ${KUBE_PROXY_CANARY} (flushed?)`;
  }
  const want = wantedChains(written);
  for (const [table, chains] of [['nat', want.nat], ['filter', want.filter]] as const) {
    const have = saved.tables.get(table)!.chains;
    for (const [chain, count] of chains) {
      const c = have.get(chain);
      if (!c) return `${table} chain ${chain} is missing`;
      if (c.rules.length !== count) return `${table} chain ${chain} has ${c.rules.length} rules, kpx wrote ${count}`;
    }
  }
  for (const j of jumps) {
    const from = saved.tables.get(j.table)?.chains.get(j.from);
    if (!from?.rules.some((r) => r.endsWith(` -j ${j.to}`))) return `the jump ${j.table}/${j.from} -> ${j.to} is missing`;
  }
  return undefined;
}
