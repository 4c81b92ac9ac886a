/**
 * table-merge.ts: pure text work on iptables-save output, for the two operations that must keep every
 * rule kpx did not write byte-for-byte:
 * - wholeTableInput: a full sync as a whole-table restore (no --noflush): the saved nat and filter tables
 *   minus kpx's own chains, plus the freshly rendered ones. (Why not --noflush: see plan-full.ts.)
 * - cleanupInput: a --noflush restore that removes kpx's chains and the jumps to them from built-in chains.
 * Lines are kept as iptables-save printed them; they are valid restore input.
 */
import { FILTER_CHAINS, KUBE_FIREWALL, KUBE_PROXY_CANARY, NAT_DISPATCH_CHAINS, isServiceChainName } from './chain-names.js';
import { isJumpLine, jumpLine, type JumpRule } from './jumps.js';
import type { RenderedRules } from './render.js';
import { classifyLine, parseRule } from '../../src/net/iptables-dump.js';

export interface SavedChain {
  readonly name: string;
  /** The chain line as saved (":NAME POLICY [p:b]"). */
  readonly line: string;
  readonly builtin: boolean;
  readonly rules: string[];
}

export interface SavedTable {
  readonly name: string;
  readonly chains: Map<string, SavedChain>;
}

export interface SavedRuleset {
  readonly tables: Map<string, SavedTable>;
  /** Tables iptables-save could not print faithfully (nft objects iptables does not know). */
  readonly incompatible: Set<string>;
}

/**
 * Splits iptables-save output into tables, chains (in order) and their rule lines, with the dump
 * parser's line classification; rules are kept as text, not tokenised.
 */
export function parseSave(text: string): SavedRuleset {
  const tables = new Map<string, SavedTable>();
  const incompatible = new Set<string>();
  let cur: SavedTable | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    const kind = classifyLine(line);
    if (kind.type === 'comment') {
      if (kind.incompatibleTable) incompatible.add(kind.incompatibleTable);
    } else if (kind.type === 'table') {
      cur = { name: kind.name, chains: new Map() };
      tables.set(cur.name, cur);
    } else if (!cur) {
      continue;
    } else if (kind.type === 'chain') {
      if (kind.name) cur.chains.set(kind.name, { name: kind.name, line, builtin: (kind.policy ?? '-') !== '-', rules: [] });
    } else if (kind.type === 'rule') {
      let chain = cur.chains.get(kind.chain);
      if (!chain) {
        chain = { name: kind.chain, line: `:${kind.chain} - [0:0]`, builtin: false, rules: [] };
        cur.chains.set(kind.chain, chain);
      }
      chain.rules.push(line);
    } else if (kind.type === 'commit') {
      cur = undefined;
    }
  }
  return { tables, incompatible };
}

/** Whether kpx writes this chain in this table (and so may replace or delete it). */
export function isOwnedChain(table: string, chain: string, opts: { kubeFirewall: boolean }): boolean {
  if (table === 'nat') return (NAT_DISPATCH_CHAINS as readonly string[]).includes(chain) || isServiceChainName(chain);
  if (table === 'filter') return (FILTER_CHAINS as readonly string[]).includes(chain) || (opts.kubeFirewall && chain === KUBE_FIREWALL);
  return false;
}

export interface WholeTableResult {
  readonly input: string;
  /** Jumps that were missing from the built-in chains and were added at their top. */
  readonly addedJumps: readonly JumpRule[];
}

/**
 * wholeTableInput: restore input replacing the nat and filter tables whole: every chain and rule kpx
 * does not own, as saved; kpx's jumps added at the top of their built-in chains if missing; the canary;
 * and the rendered rules.
 */
export function wholeTableInput(saved: SavedRuleset, r: RenderedRules, jumps: readonly JumpRule[]): WholeTableResult {
  const kubeFirewall = r.filterChains.includes(KUBE_FIREWALL);
  const addedJumps: JumpRule[] = [];
  const out: string[] = [];
  for (const table of ['filter', 'nat'] as const) {
    const t = saved.tables.get(table) ?? { name: table, chains: new Map<string, SavedChain>() };
    out.push('*' + table);
    const ownChains = table === 'filter' ? r.filterChains : [...r.natDispatch.keys(), ...r.serviceChains];
    const builtins = [...t.chains.values()].filter((c) => c.builtin);
    const foreign = [...t.chains.values()].filter((c) => !c.builtin && !isOwnedChain(table, c.name, { kubeFirewall }));
    for (const c of builtins) out.push(c.line);
    for (const c of foreign) out.push(c.line);
    if (!t.chains.has(KUBE_PROXY_CANARY)) out.push(`:${KUBE_PROXY_CANARY} - [0:0]`);
    for (const c of ownChains) out.push(`:${c} - [0:0]`);
    // Missing jumps go first in their chain, in the order kube-proxy's EnsureRule(Prepend, ...) calls over
    // its jump list leave them (the last prepended first).
    const reversed = [...jumps].reverse();
    for (const c of builtins) {
      for (const j of reversed) {
        if (j.table === table && j.from === c.name && !c.rules.some((l) => isJumpLine(l, j))) {
          out.push(jumpLine(j));
          addedJumps.push(j);
        }
      }
      for (const l of c.rules) out.push(l);
    }
    for (const j of reversed) {
      // A built-in chain iptables-save did not list at all (an empty nft table) still needs its jump.
      if (j.table === table && !t.chains.has(j.from)) {
        out.push(jumpLine(j));
        addedJumps.push(j);
      }
    }
    for (const c of foreign) for (const l of c.rules) out.push(l);
    // kpx's own rules go in as joined blocks (tens of thousands of lines at scale).
    const block = (lines: readonly string[]) => { if (lines.length) out.push(lines.join('\n')); };
    if (table === 'filter') block(r.filterRules);
    else {
      for (const rules of r.natDispatch.values()) block(rules);
      block(r.serviceRules);
    }
    out.push('COMMIT');
  }
  return { input: out.join('\n') + '\n', addedJumps };
}

/** The chain or target a saved rule jumps to ("-j X" / "-g X"). */
function targetOf(rule: string): string | undefined {
  return parseRule(rule)?.jump;
}

export interface CleanupPlan {
  /** --noflush restore input ("" when there is nothing to remove). */
  readonly input: string;
  /** kpx chains another program's chain still jumps to: flushed, but kept so that restore can succeed. */
  readonly keptReferenced: readonly string[];
}

/**
 * cleanupInput: removes kpx's (and kube-proxy's) chains in nat and filter, the canary in every table, and
 * every rule of a built-in chain that jumps to one of them. Chains of other programs are not edited; if
 * one of them still jumps to a kpx chain, that chain is only flushed.
 */
export function cleanupInput(saved: SavedRuleset): CleanupPlan {
  const out: string[] = [];
  const keptReferenced: string[] = [];
  for (const t of saved.tables.values()) {
    const owned = (c: string) => c === KUBE_PROXY_CANARY || isOwnedChain(t.name, c, { kubeFirewall: false });
    const mine = [...t.chains.values()].filter((c) => !c.builtin && owned(c.name));
    if (mine.length === 0) continue;
    const referencedByOthers = new Set<string>();
    const deletes: string[] = [];
    for (const c of t.chains.values()) {
      if (!c.builtin && owned(c.name)) continue;
      for (const l of c.rules) {
        const target = targetOf(l);
        if (!target || !owned(target)) continue;
        if (c.builtin) deletes.push('-D' + l.slice(2));
        else referencedByOthers.add(target);
      }
    }
    out.push('*' + t.name);
    for (const c of mine) out.push(`:${c.name} - [0:0]`);
    for (const d of deletes) out.push(d);
    for (const c of mine) {
      if (referencedByOthers.has(c.name)) keptReferenced.push(`${t.name}/${c.name}`);
      else out.push(`-X ${c.name}`);
    }
    out.push('COMMIT');
  }
  return { input: out.length ? out.join('\n') + '\n' : '', keptReferenced };
}
