/**
 * fake-iptables.ts: an IptablesClient that keeps the tables as parsed chains and rules (upstream's
 * `iptables/testing.FakeIPTables` with its `Dump`), for unit tests of the iptables mode without root.
 *
 * restore() applies input the way iptables-restore does: without --noflush each table in the input is
 * replaced whole; with it only the chains the input names change (`:CHAIN` creates or flushes, -A/-I/-D
 * edit, -F flushes, -X deletes). Each table is checked and committed at its COMMIT, as one nf_tables
 * transaction, and bumps the generation. What the kernel would reject is rejected with an
 * IptablesRestoreError naming the line: a rule in a missing chain, a jump to a missing chain, -D of a
 * missing rule, -X of a chain that still has rules or is still jumped to.
 */
import { extractLines, type IptablesClient, type IptablesTable, type RestoreOptions } from '../../src/net/iptables.js';
import {
  BUILTIN_CHAINS, BUILTIN_TARGETS, parseRule, quoteToken, ruleToString, tokenize,
  type IptablesChain, type IptablesDump, type IptablesRule,
} from '../../src/net/iptables-dump.js';
import { IptablesRestoreError } from '../../src/util/errors.js';

/** The built-in chains each table has from the start. */
const BUILTINS: Readonly<Record<string, readonly string[]>> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
};

type Table = Map<string, IptablesChain>;

export interface RecordedRestore {
  readonly data: string;
  readonly noFlush: boolean;
  readonly counters: boolean;
}

class RestoreLineError extends Error {}

function newChain(name: string, policy = BUILTIN_CHAINS.has(name) ? 'ACCEPT' : '-'): IptablesChain {
  return { name, policy, packets: 0, bytes: 0, declared: true, deleted: false, flushed: false, rules: [] };
}

function newTable(name: string): Table {
  return new Map((BUILTINS[name] ?? []).map((c) => [c, newChain(c)]));
}

/** A working copy: chains and rule lists are copied, rules (never mutated) are shared. */
function copyTable(t: Table): Table {
  return new Map([...t].map(([name, c]) => [name, { ...c, rules: [...c.rules] }]));
}

/** The rule as iptables-save prints it: appended to its chain, no counters. */
function storedRule(chain: string, args: readonly string[]): IptablesRule {
  return parseRule(`-A ${chain} ${args.map(quoteToken).join(' ')}`)!;
}

function sameArgs(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

function isChainTarget(rule: IptablesRule): boolean {
  return rule.jump !== undefined && !BUILTIN_TARGETS.has(rule.jump);
}

export class FakeIptables implements IptablesClient {
  /** nf_tables' ruleset generation; undefined behaves as the legacy backend (no generation to read). */
  gen: number | undefined;
  randomFully = false;
  /** Every accepted restore, in order. */
  readonly restores: RecordedRestore[] = [];
  /** How many times save() was called. */
  saves = 0;
  private readonly tables = new Map<string, Table>();
  private readonly injected: Error[] = [];

  constructor(opts: { generation?: number; randomFully?: boolean } = {}) {
    this.gen = opts.generation;
    this.randomFully = opts.randomFully ?? false;
  }

  get last(): RecordedRestore {
    return this.restores[this.restores.length - 1];
  }

  /** The next restore fails before touching anything, as iptables-restore rejecting its input. */
  failNextRestore(err: Error = new IptablesRestoreError('iptables-restore failed at line 3', 3, '')): void {
    this.injected.push(err);
  }

  async restore(data: string, opts: RestoreOptions = {}): Promise<void> {
    const err = this.injected.shift();
    if (err) throw err;
    this.apply(data, opts);
    this.restores.push({ data, noFlush: opts.noFlush ?? false, counters: opts.counters ?? false });
  }

  /** Another program's restore (not recorded in `restores`; it does bump the generation). */
  external(data: string, opts: RestoreOptions = { noFlush: true }): void {
    this.apply(data, opts);
  }

  async save(table?: IptablesTable): Promise<string> {
    this.saves++;
    return this.dumpText(table);
  }

  async generation(): Promise<number | undefined> {
    return this.gen;
  }

  async hasRandomFully(): Promise<boolean> {
    return this.randomFully;
  }

  async chainExists(table: IptablesTable, chain: string): Promise<boolean> {
    return this.tables.get(table)?.has(chain) ?? false;
  }

  async ensureChain(table: IptablesTable, chain: string): Promise<boolean> {
    const t = this.table(table);
    if (t.has(chain)) return true;
    t.set(chain, newChain(chain));
    this.bump();
    return false;
  }

  async ensureRule(position: 'append' | 'prepend', table: IptablesTable, chain: string, args: readonly string[]): Promise<boolean> {
    const c = this.tables.get(table)?.get(chain);
    if (!c) throw new Error(`iptables: chain ${chain} does not exist in ${table}`);
    if (c.rules.some((r) => sameArgs(r.args, args))) return true;
    const rule = storedRule(chain, args);
    if (position === 'append') c.rules.push(rule);
    else c.rules.unshift(rule);
    this.bump();
    return false;
  }

  /** `iptables -D`: a missing rule or chain is not an error. True when a rule was deleted. */
  async deleteRule(table: IptablesTable, chain: string, args: readonly string[]): Promise<boolean> {
    const c = this.tables.get(table)?.get(chain);
    const idx = c ? c.rules.findIndex((r) => sameArgs(r.args, args)) : -1;
    if (!c || idx < 0) return false;
    c.rules.splice(idx, 1);
    this.bump();
    return true;
  }

  /** `iptables -F CHAIN`: a missing chain is not an error. */
  async flushChain(table: IptablesTable, chain: string): Promise<void> {
    const c = this.tables.get(table)?.get(chain);
    if (!c) return;
    c.rules = [];
    this.bump();
  }

  /** `iptables -X CHAIN`: a missing, built-in, non-empty or still referenced chain stays, without an error. */
  async deleteChain(table: IptablesTable, chain: string): Promise<void> {
    const t = this.tables.get(table);
    const c = t?.get(chain);
    if (!t || !c || c.policy !== '-' || c.rules.length > 0 || referrers(t, chain).length > 0) return;
    t.delete(chain);
    this.bump();
  }

  /** The tables as iptables-save prints them (all, or one). */
  dumpText(only?: string): string {
    let out = '';
    for (const [name, t] of this.tables) {
      if (only !== undefined && name !== only) continue;
      out += `# Generated by fake-iptables\n*${name}\n`;
      const chains = [...t.values()];
      const ordered = [...chains.filter((c) => c.policy !== '-'), ...chains.filter((c) => c.policy === '-')];
      for (const c of ordered) out += `:${c.name} ${c.policy} [${c.packets}:${c.bytes}]\n`;
      for (const c of ordered) for (const r of c.rules) out += `${ruleToString(r)}\n`;
      out += 'COMMIT\n# Completed\n';
    }
    return out;
  }

  /** The tables as a parsed dump (a copy), for the tracer and the golden-test helpers. */
  dump(): IptablesDump {
    return {
      tables: [...this.tables].map(([name, t]) => ({ name, committed: true, chains: [...copyTable(t).values()] })),
      warnings: [],
    };
  }

  /** The rule lines of one chain, as saved; undefined when the chain does not exist. */
  rules(table: string, chain: string): string[] | undefined {
    return this.tables.get(table)?.get(chain)?.rules.map(ruleToString);
  }

  private table(name: string): Table {
    let t = this.tables.get(name);
    if (!t) {
      t = newTable(name);
      this.tables.set(name, t);
    }
    return t;
  }

  private bump(): void {
    if (this.gen !== undefined) this.gen++;
  }

  private apply(data: string, opts: RestoreOptions): void {
    const lines = data.split('\n');
    let name: string | undefined;
    let work: Table | undefined;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim();
      if (line === '' || line.startsWith('#')) continue;
      try {
        if (line.startsWith('*')) {
          if (work) throw new RestoreLineError(`table ${name} has no COMMIT`);
          name = line.slice(1).trim();
          const current = this.tables.get(name);
          work = opts.noFlush && current ? copyTable(current) : newTable(name);
        } else if (!work || name === undefined) {
          throw new RestoreLineError('no table given');
        } else if (line === 'COMMIT') {
          checkJumps(work);
          this.tables.set(name, work);
          this.bump();
          work = undefined;
        } else {
          applyLine(work, line, opts);
        }
      } catch (err) {
        if (!(err instanceof RestoreLineError)) throw err;
        const at = i + 1;
        const context = extractLines(data, at);
        throw new IptablesRestoreError(`iptables-restore failed at line ${at}: ${err.message}\n${context}`, at, context);
      }
    }
    if (work) {
      const at = lines.length;
      throw new IptablesRestoreError(`iptables-restore failed at line ${at}: table ${name} has no COMMIT`, at, '');
    }
  }
}

function chainOf(t: Table, name: string | undefined): IptablesChain {
  const c = name === undefined ? undefined : t.get(name);
  if (!c) throw new RestoreLineError(`chain ${name ?? '(none)'} does not exist`);
  return c;
}

function referrers(t: Table, chain: string): string[] {
  const out: string[] = [];
  for (const c of t.values()) for (const r of c.rules) if (r.jump === chain) out.push(r.raw);
  return out;
}

function applyLine(t: Table, line: string, opts: RestoreOptions): void {
  if (line.startsWith(':')) {
    const m = /^:(\S+)(?:\s+(\S+))?(?:\s+\[(\d+):(\d+)\])?/.exec(line);
    if (!m) throw new RestoreLineError(`bad chain line: ${line}`);
    const policy = m[2] ?? '-';
    const c = t.get(m[1]);
    if (policy !== '-') {
      // A built-in chain: its policy (and counters) are set, its rules kept.
      const b = c ?? newChain(m[1], policy);
      b.policy = policy;
      if (opts.counters && m[3]) { b.packets = Number(m[3]); b.bytes = Number(m[4]); }
      t.set(m[1], b);
    } else if (c) {
      c.rules = [];
    } else {
      t.set(m[1], newChain(m[1]));
    }
    return;
  }
  const rule = parseRule(line);
  if (rule) {
    const c = chainOf(t, rule.chain);
    const stored = storedRule(rule.chain, rule.args);
    if (rule.op === '-A') {
      c.rules.push(stored);
    } else {
      const at = (rule.position ?? 1) - 1;
      if (at > c.rules.length) throw new RestoreLineError(`index of insertion too big: ${line}`);
      c.rules.splice(at, 0, stored);
    }
    return;
  }
  const [cmd, chain, ...rest] = tokenize(line);
  switch (cmd) {
    case '-D': {
      const c = chainOf(t, chain);
      const idx = rest.length === 1 && /^\d+$/.test(rest[0]) ? Number(rest[0]) - 1 : c.rules.findIndex((r) => sameArgs(r.args, rest));
      if (idx < 0 || idx >= c.rules.length) throw new RestoreLineError(`bad rule (does a matching rule exist in that chain?): ${line}`);
      c.rules.splice(idx, 1);
      return;
    }
    case '-F':
      for (const c of chain === undefined ? t.values() : [chainOf(t, chain)]) c.rules = [];
      return;
    case '-X': {
      const victims = chain === undefined ? [...t.values()].filter((c) => c.policy === '-') : [chainOf(t, chain)];
      for (const c of victims) {
        if (c.policy !== '-') throw new RestoreLineError(`cannot delete built-in chain ${c.name}`);
        if (c.rules.length) throw new RestoreLineError(`chain ${c.name} is not empty`);
        const refs = referrers(t, c.name);
        if (refs.length) throw new RestoreLineError(`chain ${c.name} is still referenced (too many links): ${refs[0]}`);
        t.delete(c.name);
      }
      return;
    }
    case '-N':
      if (chain === undefined || t.has(chain)) throw new RestoreLineError(`chain ${chain} already exists`);
      t.set(chain, newChain(chain));
      return;
    case '-P':
      chainOf(t, chain).policy = rest[0] ?? 'ACCEPT';
      return;
    default:
      throw new RestoreLineError(`not understood: ${line}`);
  }
}

/** Every jump of a table goes to a chain of that table (iptables: "Couldn't load target"). */
function checkJumps(t: Table): void {
  for (const c of t.values()) {
    for (const r of c.rules) {
      if (isChainTarget(r) && !t.has(r.jump!)) throw new RestoreLineError(`couldn't load target \`${r.jump}': ${r.raw}`);
    }
  }
}
