/**
 * plan-full.ts: what a full sync writes, pure, in one of two ways.
 *
 * 'replace-tables' (the default): one restore without --noflush, replacing nat and filter whole. With the
 * nft backend a --noflush restore of a whole ruleset costs time roughly quadratic in its size, while
 * replacing the tables does not (README, "perf:sync"). To keep what kpx does not own, the input is built
 * from an iptables-save of the tables (table-merge.ts): every chain and rule of other programs verbatim,
 * the built-in chains' policies, the canary, kpx's jumps where missing, and the freshly rendered chains.
 * Caveats: the packet/byte counters of rules in nat and filter (other programs' too) restart from zero at
 * each full sync, since the tables are rebuilt; and a rule another program commits between the save and
 * the restore would be lost (iptables-nft takes no xtables lock). Where that matters, the backend is built
 * with fullSyncStrategy 'noflush'.
 *
 * 'noflush' (kube-proxy's way): every rendered chain with --noflush, and `-X` for the per-service chains in
 * nat the render no longer has. Also the fallback when iptables-save shows a table it cannot print
 * faithfully (nft objects iptables does not know).
 */
import type { IptablesTable } from '../../src/net/iptables.js';
import { appliedRules, type AppliedRules, type RuleCounts } from './applied-rules.js';
import { isServiceChainName } from './chain-names.js';
import type { JumpRule } from './jumps.js';
import type { RenderedRules } from './render.js';
import { restoreInput } from './restore-input.js';
import { wholeTableInput, type SavedRuleset } from './table-merge.js';

export type FullSyncBase =
  /** The tables as iptables-save printed them, and the jumps kpx needs in the built-in chains. */
  | { readonly kind: 'replace-tables'; readonly saved: SavedRuleset; readonly jumps: readonly JumpRule[] }
  /** The chains nat holds now (their stale per-service ones are deleted). */
  | { readonly kind: 'noflush'; readonly natChains: Iterable<string> };

export interface FullSyncPlan {
  readonly input: string;
  readonly noFlush: boolean;
  /** The tables the input restores (one commit each). */
  readonly tables: readonly IptablesTable[];
  readonly deletedChains: readonly string[];
  /** Jumps that were missing from the built-in chains and that the input adds. */
  readonly addedJumps: readonly JumpRule[];
  readonly written: RuleCounts;
  /** What is applied once the input is in. */
  readonly applied: AppliedRules;
}

/** Whether the saved tables can be written back whole: iptables-save printed nat and filter faithfully. */
export function canReplaceTables(saved: SavedRuleset): boolean {
  return !saved.incompatible.has('nat') && !saved.incompatible.has('filter');
}

export function planFullSync(r: RenderedRules, base: FullSyncBase): FullSyncPlan {
  const common = { written: r.totalRules, applied: appliedRules(r) };
  if (base.kind === 'replace-tables') {
    const whole = wholeTableInput(base.saved, r, base.jumps);
    return { ...common, input: whole.input, noFlush: false, tables: ['filter', 'nat'], deletedChains: [], addedJumps: whole.addedJumps };
  }
  const deletedChains = [...base.natChains].filter((c) => isServiceChainName(c) && !r.activeNatChains.has(c));
  const { text, tables } = restoreInput(r, { filter: true, natDispatch: r.natDispatch.keys(), deleteChains: deletedChains });
  return { ...common, input: text, noFlush: true, tables, deletedChains, addedJumps: [] };
}
