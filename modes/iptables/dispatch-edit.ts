/**
 * dispatch-edit.ts: changing a large KUBE-SERVICES rule by rule instead of rewriting it.
 *
 * KUBE-SERVICES holds one rule per service port (and external/LB address). A partial sync that adds or
 * removes one service used to declare the chain again (which flushes it) and write every rule back with
 * `iptables-restore --noflush`; on the nf_tables backend that costs time quadratic in the chain's length,
 * more than a full sync at scale (README, "Where the time and memory go"). kube-proxy's minimal syncs
 * rewrite the chain the same way. Here, a chain that large gets `-D` for each rule gone and an insertion
 * for each rule new, and nothing else of it is touched.
 *
 * Order: every rule of KUBE-SERVICES matches its own destination address and port, except the trailing
 * node-port rules (`-j KUBE-NODEPORTS`, matched by destination type or node address), which must stay
 * last. So new service rules are inserted at the top and new node-port rules appended at the end; the
 * kernel's order may then differ from the rendered one, with the same effect. A full sync writes the
 * rendered order again.
 */
import { multisetMinus } from '../../src/util/multiset.js';
import { KUBE_NODEPORTS, KUBE_SERVICES } from './chain-names.js';

/** Below this many rules, rewriting the chain is cheap and keeps the rendered order. */
export const EDIT_MIN_RULES = 2_000;
/** Above this share of the chain changed, one rewrite beats many single-rule edits. */
const EDIT_MAX_CHANGED_SHARE = 0.1;

/** The chains that may be edited rule by rule (their rules do not depend on their order, see above). */
const EDITABLE_CHAINS: ReadonlySet<string> = new Set([KUBE_SERVICES]);

export interface DispatchEdit {
  /** `-D` lines, for the rules gone. */
  readonly deletes: readonly string[];
  /** `-I chain 1` / `-A` lines, for the rules new. */
  readonly inserts: readonly string[];
}

/**
 * planDispatchEdit: the rule-by-rule edit taking `chain` from `prev` to `next` (both `-A chain ...` lines),
 * or undefined when the chain should be rewritten whole (not editable, small, or changed too much).
 */
export function planDispatchEdit(chain: string, prev: readonly string[], next: readonly string[]): DispatchEdit | undefined {
  if (!EDITABLE_CHAINS.has(chain) || next.length < EDIT_MIN_RULES || prev.length < EDIT_MIN_RULES) return undefined;
  // Multisets: a rule rendered twice is deleted (each -D removes one match) and inserted as often as needed.
  const added = multisetMinus(next, prev);
  const removed = multisetMinus(prev, next);
  if (added.length + removed.length > next.length * EDIT_MAX_CHANGED_SHARE) return undefined;
  const prefix = `-A ${chain} `;
  const spec = (line: string) => {
    if (!line.startsWith(prefix)) throw new Error(`not a rule of ${chain}: ${line}`);
    return line.slice(prefix.length);
  };
  const trailing = (line: string) => line.endsWith(`-j ${KUBE_NODEPORTS}`);
  return {
    deletes: removed.map((l) => `-D ${chain} ${spec(l)}`),
    inserts: added.map((l) => (trailing(l) ? l : `-I ${chain} 1 ${spec(l)}`)),
  };
}
