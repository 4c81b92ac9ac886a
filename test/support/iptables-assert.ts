/**
 * iptables-assert.ts: golden-test helpers for iptables-restore input, in the shape of kube-proxy's
 * assertIPTablesRulesEqual / sortIPTablesRules / checkIPTablesRuleJumps (proxier_test.go).
 *
 * Both sides are parsed and sorted the same way, so a test does not depend on the order services were
 * rendered in, while the order that matters (rules inside a service's chains, the "must be the last rule"
 * NodePorts jump) is kept.
 */
import assert from 'node:assert/strict';
import type { IptablesChain, IptablesDump, IptablesRule } from '../../src/net/iptables-dump.js';
import { BUILTIN_CHAINS, BUILTIN_TARGETS, dumpToString, parseIptablesDump, parseRule, ruleToString } from '../../src/net/iptables-dump.js';
import { multisetMinus } from '../../src/util/multiset.js';

const NODEPORTS = 'KUBE-NODEPORTS';
const SERVICES = 'KUBE-SERVICES';

/** Chains kube-proxy creates without always jumping to them (checkIPTablesRuleJumps' exceptions). */
export const UNREFERENCED_CHAINS_ALLOWED: ReadonlySet<string> = new Set([
  'KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-FORWARD', 'KUBE-MARK-MASQ',
  'KUBE-PROXY-FIREWALL', 'KUBE-FIREWALL', 'KUBE-PROXY-CANARY', 'KUBE-KUBELET-CANARY',
]);

function chainOrder(a: IptablesChain, b: IptablesChain): number {
  const rank = (c: IptablesChain): number => (c.name === NODEPORTS ? 0 : c.name === SERVICES ? 1 : c.name.startsWith('KUBE-') ? 2 : 3);
  const d = rank(a) - rank(b);
  if (d !== 0) return d;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** The service name a rule's comment starts with ("ns/svc" of "ns/svc:port cluster IP"). */
function commentServiceName(rule: IptablesRule): string {
  const c = rule.comment ?? '';
  const i = c.search(/[ :]/);
  return i >= 0 ? c.slice(0, i) : c;
}

function byServiceName(a: IptablesRule, b: IptablesRule): number {
  const x = commentServiceName(a);
  const y = commentServiceName(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

const isLastRule = (r: IptablesRule): boolean => (r.comment ?? '').includes('must be the last rule');

/**
 * sortIptablesRules: tables by name; chains KUBE-NODEPORTS, KUBE-SERVICES, other KUBE-*, then the rest,
 * alphabetically; KUBE-NODEPORTS and KUBE-SERVICES rules stably by the service name in their comment,
 * with nat KUBE-SERVICES' "must be the last rule" jump kept last. Returns the canonical text.
 */
export function sortIptablesRules(input: string | IptablesDump): string {
  const dump = typeof input === 'string' ? parseIptablesDump(input) : structuredClone(input);
  dump.tables.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const t of dump.tables) {
    t.chains.sort(chainOrder);
    for (const c of t.chains) {
      if (c.name === NODEPORTS || (c.name === SERVICES && t.name !== 'nat')) c.rules.sort(byServiceName);
      else if (c.name === SERVICES) {
        c.rules.sort((a, b) => (isLastRule(a) === isLastRule(b) ? byServiceName(a, b) : isLastRule(a) ? 1 : -1));
      }
    }
  }
  return dumpToString(dump);
}

/** A readable difference between two canonical dumps ("" when equal). */
export function diffDumps(expected: string, actual: string): string {
  if (expected === actual) return '';
  const e = expected.split('\n');
  const a = actual.split('\n');
  const missing = multisetMinus(e, a);
  const extra = multisetMinus(a, e);
  const parts: string[] = [];
  if (missing.length) parts.push(`missing (expected, not in actual):\n${missing.map((l) => `- ${l}`).join('\n')}`);
  if (extra.length) parts.push(`unexpected (in actual, not expected):\n${extra.map((l) => `+ ${l}`).join('\n')}`);
  if (!missing.length && !extra.length) {
    const i = e.findIndex((l, k) => l !== a[k]);
    parts.push(`same lines, different order; first difference at line ${i + 1}:\n- ${e[i]}\n+ ${a[i]}`);
  }
  return parts.join('\n');
}

export interface AssertRulesOptions {
  /** Also run checkIptablesRuleJumps on the expected rules (off for partial input). Default true. */
  checkConsistency?: boolean;
  /** Prefixes the failure message (a test-case name). */
  label?: string;
}

/**
 * assertIptablesRulesEqual: fails unless `actual` equals `expected` after both are sorted, printing what
 * is missing and what is extra, and the full actual text.
 */
export function assertIptablesRulesEqual(expected: string, actual: string, opts: AssertRulesOptions = {}): void {
  const e = sortIptablesRules(expected);
  const a = sortIptablesRules(actual);
  const label = opts.label ? `${opts.label}: ` : '';
  const diff = diffDumps(e, a);
  if (diff) assert.fail(`${label}rules do not match:\n${diff}\nfull result:\n\`\`\`\n${a}\`\`\``);
  if (opts.checkConsistency ?? true) {
    const problems = checkIptablesRuleJumps(expected);
    if (problems.length) assert.fail(`${label}${problems.join('\n')}`);
  }
}

/** assertIptablesChainEqual: one chain of one table holds exactly these rules, in this order. */
export function assertIptablesChainEqual(table: string, chain: string, expectedRules: string, actual: string | IptablesDump): void {
  const dump = typeof actual === 'string' ? parseIptablesDump(actual) : actual;
  const got = dump.tables.find((t) => t.name === table)?.chains.find((c) => c.name === chain)?.rules ?? [];
  const expected = expectedRules.split('\n').map((l) => l.trim()).filter((l) => l !== '')
    .map((l) => { const r = parseRule(l); return r ? ruleToString(r) : l; });
  assert.deepEqual(got.map(ruleToString), expected, `${table}/${chain} rules differ`);
}

export interface JumpCheckOptions {
  /** Chains that may be created without a jump to them (default: kube-proxy's list plus the canary). */
  allowUnreferenced?: ReadonlySet<string>;
  /** Chains that may be jumped to while empty (default: KUBE-NODEPORTS). */
  allowEmpty?: ReadonlySet<string>;
}

/**
 * checkIptablesRuleJumps: for each table, every `-j`/`-g` to a non-built-in target names a chain that was
 * created (`:CHAIN`, not `-X`-ed) and has at least one rule (KUBE-NODEPORTS may be empty); every chain
 * rules are added to was created; and no created chain goes unreferenced (kube-proxy's base chains
 * excepted). Returns the problems, [] when consistent.
 */
export function checkIptablesRuleJumps(input: string | IptablesDump, opts: JumpCheckOptions = {}): string[] {
  const dump = typeof input === 'string' ? parseIptablesDump(input) : input;
  const allowUnreferenced = opts.allowUnreferenced ?? UNREFERENCED_CHAINS_ALLOWED;
  const allowEmpty = opts.allowEmpty ?? new Set([NODEPORTS]);
  const problems: string[] = [];
  const list = (s: Set<string>): string => `[${[...s].sort().join(' ')}]`;
  for (const t of dump.tables) {
    const created = new Set(t.chains.filter((c) => c.declared && !c.deleted).map((c) => c.name));
    const filled = new Set(t.chains.filter((c) => c.rules.length > 0).map((c) => c.name));
    const jumped = new Set<string>();
    for (const c of t.chains) for (const r of c.rules) if (r.jump && !BUILTIN_TARGETS.has(r.jump)) jumped.add(r.jump);

    const missing = new Set([...jumped, ...filled].filter((n) => !created.has(n) && !BUILTIN_CHAINS.has(n)));
    if (missing.size) {
      problems.push(`some chains in ${t.name} are used but were not created: ${list(missing)}`);
      continue;
    }
    const empty = new Set([...jumped].filter((n) => !filled.has(n) && !allowEmpty.has(n)));
    if (empty.size) {
      problems.push(`some chains in ${t.name} are jumped to but have no rules: ${list(empty)}`);
      continue;
    }
    const extra = new Set([...created].filter((n) => !jumped.has(n) && !allowUnreferenced.has(n) && !BUILTIN_CHAINS.has(n)));
    if (extra.size) problems.push(`some chains in ${t.name} are created but not used: ${list(extra)}`);
  }
  return problems;
}
