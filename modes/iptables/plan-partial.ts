/**
 * plan-partial.ts: what a partial sync writes (kube-proxy's MinimizeIPTablesRestore), pure. After a
 * successful sync, the next one writes only the chains of the services in the ChangeSet (the render scoped
 * them), the dispatch chains whose text changed, the filter table if it changed, and `-X` for chains gone.
 */
import type { IptablesTable } from '../../src/net/iptables.js';
import { appliedRules, type AppliedRules, type RuleCounts } from './applied-rules.js';
import { planDispatchEdit, type DispatchEdit } from './dispatch-edit.js';
import type { RenderedRules } from './render.js';
import { restoreInput } from './restore-input.js';

export type PartialSyncPlan =
  | {
    readonly kind: 'partial';
    /** --noflush restore input; "" when nothing changed. */
    readonly input: string;
    /** The tables the input restores (one commit each). */
    readonly tables: readonly IptablesTable[];
    readonly deletedChains: readonly string[];
    readonly written: RuleCounts;
    /** What is applied once the input is in. */
    readonly applied: AppliedRules;
  }
  /** Every endpoint rule's text changes with the comment mode (the 1000-endpoint threshold): write everything. */
  | { readonly kind: 'full'; readonly reason: 'comment-mode-changed' };

/** Same rule lines in the same order (cached renders share the strings, so this is mostly pointer compares). */
function sameLines(a: readonly string[], b: readonly string[] | undefined): boolean {
  if (!b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** planPartialSync: from what was applied to a render scoped to the changed services. */
export function planPartialSync(prev: AppliedRules, r: RenderedRules): PartialSyncPlan {
  if (r.largeClusterMode !== prev.largeClusterMode) return { kind: 'full', reason: 'comment-mode-changed' };
  // Dispatch chains hold one rule per service, so at scale rewriting KUBE-SERVICES is costly with
  // --noflush: a chain is rewritten only when its text differs from what was written. (Nothing else
  // writes these chains; a flush by someone else is caught by the canary.)
  const changedDispatch = [...r.natDispatch.keys()].filter((c) => !sameLines(r.natDispatch.get(c)!, prev.dispatch.get(c)));
  // A large KUBE-SERVICES is changed rule by rule (dispatch-edit.ts); the others are rewritten.
  const edits = new Map<string, DispatchEdit>();
  for (const c of changedDispatch) {
    const edit = planDispatchEdit(c, prev.dispatch.get(c) ?? [], r.natDispatch.get(c)!);
    if (edit) edits.set(c, edit);
  }
  const dispatch = changedDispatch.filter((c) => !edits.has(c));
  const filterChanged = !sameLines(r.filterRules, prev.filter);
  const deletedChains = [...prev.activeNatChains].filter((c) => !r.activeNatChains.has(c));
  const { text, tables } = restoreInput(r, { filter: filterChanged, natDispatch: dispatch, deleteChains: deletedChains, natDispatchEdits: edits });
  let nat = r.serviceRules.length + deletedChains.length;
  for (const c of dispatch) nat += r.natDispatch.get(c)!.length;
  for (const e of edits.values()) nat += e.deletes.length + e.inserts.length;
  return {
    kind: 'partial', input: text, tables, deletedChains,
    written: { filter: filterChanged ? r.totalRules.filter : 0, nat },
    applied: appliedRules(r),
  };
}
