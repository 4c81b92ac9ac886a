/**
 * fake-nft.ts: a stateful NftClient for unit tests. It parses the transactions it is given (tables, chains
 * with their rules, sets, maps and elements), applies each atomically (all or nothing) and rejects what
 * nft would: a missing table, chain or set; a jump, goto or vmap to a missing chain; a reference to a
 * missing set; deleting a chain or set something still references; an element key added again with another
 * value. Errors carry the failing line like nft's ("/dev/stdin:LINE:..."). The state can be dumped as text
 * and is listed as `nft -j` JSON.
 */
import { nftError, type NftClient, type NftJson } from '../../src/net/nft.js';
import type { NftFamily, NftTransaction } from '../../src/net/nft-transaction.js';

interface FakeRule { readonly text: string; readonly comment?: string }
interface FakeChain {
  base?: { type: string; hook: string; priority: number };
  comment?: string;
  rules: FakeRule[];
}
interface FakeElement { readonly value?: string; readonly comment?: string }
interface FakeSet {
  readonly kind: 'set' | 'map';
  readonly type: string;
  readonly flags: string;
  readonly timeout?: number;
  readonly comment?: string;
  elements: Map<string, FakeElement>;
}
interface FakeTable {
  comment?: string;
  chains: Map<string, FakeChain>;
  sets: Map<string, FakeSet>;
}

class Rejected extends Error {}

function cloneTable(t: FakeTable): FakeTable {
  return {
    comment: t.comment,
    chains: new Map([...t.chains].map(([n, c]) => [n, { base: c.base, comment: c.comment, rules: [...c.rules] }])),
    sets: new Map([...t.sets].map(([n, s]) => [n, { ...s, elements: new Map(s.elements) }])),
  };
}

/** Chains a rule or element value jumps or goes to. */
export function chainTargets(text: string): string[] {
  return [...text.matchAll(/\b(?:jump|goto) ([A-Za-z0-9_./-]+)/g)].map((m) => m[1]!);
}

/** Sets and maps a rule names with @. */
export function setReferences(text: string): string[] {
  return [...text.matchAll(/@([A-Za-z0-9_./-]+)/g)].map((m) => m[1]!);
}

/** "x { a ; b ; }" -> the text between the outer braces. */
function braced(rest: string): string | undefined {
  const m = /^\s*\{(.*)\}\s*$/.exec(rest);
  return m ? m[1] : undefined;
}

function prop(body: string, name: string): string | undefined {
  const m = new RegExp(`(?:^|;)\\s*${name} ([^;]*?)\\s*;`).exec(body);
  return m ? m[1] : undefined;
}

function unquote(s: string | undefined): string | undefined {
  return s === undefined ? undefined : (JSON.parse(s) as string);
}

export class FakeNft implements NftClient {
  private tables = new Map<string, FakeTable>();
  /** Every transaction run, successful or not, in order. */
  readonly transactions: string[] = [];
  /** The next run fails with this message (once). */
  failNext: string | undefined;
  /** nf_tables' generation: one more per committed transaction, as the kernel counts. */
  gen = 1;

  async generation(): Promise<number | undefined> {
    return this.gen;
  }

  async run(tx: NftTransaction | string): Promise<void> {
    const input = typeof tx === 'string' ? tx : tx.toString();
    if (input === '') return;
    this.transactions.push(input);
    if (this.failNext !== undefined) {
      const msg = this.failNext;
      this.failNext = undefined;
      throw nftError(input, `/dev/stdin:1:1-1: Error: ${msg}`);
    }
    const next = new Map([...this.tables].map(([k, t]) => [k, cloneTable(t)]));
    const lines = input.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === '' || line.startsWith('#')) continue;
      try {
        this.apply(next, line);
      } catch (err) {
        if (!(err instanceof Rejected)) throw err;
        throw nftError(input, `/dev/stdin:${i + 1}:1-${line.length}: Error: ${err.message}\n${line}\n`);
      }
    }
    this.tables = next;
    this.gen++;
  }

  private apply(tables: Map<string, FakeTable>, line: string): void {
    const m = /^(add|create|flush|delete|insert) (table|chain|rule|set|map|element) (ip|ip6|inet) ([A-Za-z0-9_.-]+)(?: (.*))?$/.exec(line);
    if (!m) throw new Rejected('syntax error');
    const [, verb, kind, family, tname, rest = ''] = m as unknown as [string, string, string, string, string, string?];
    const key = `${family} ${tname}`;
    if (kind === 'table') {
      const t = tables.get(key);
      if (verb === 'add' || verb === 'create') {
        if (t && verb === 'create') throw new Rejected('Could not process rule: File exists');
        const comment = unquote(braced(rest) !== undefined ? prop(braced(rest)!, 'comment') : undefined);
        if (!t) tables.set(key, { comment, chains: new Map(), sets: new Map() });
        else if (comment !== undefined) t.comment = comment;
      } else if (!t) {
        throw new Rejected('Could not process rule: No such file or directory');
      } else if (verb === 'delete') {
        tables.delete(key);
      } else {
        for (const c of t.chains.values()) c.rules = [];
      }
      return;
    }
    const t = tables.get(key);
    if (!t) throw new Rejected('Could not process rule: No such file or directory');
    switch (kind) {
      case 'chain': return this.applyChain(t, verb!, rest);
      case 'rule': return this.applyRule(t, verb!, rest);
      case 'set': case 'map': return this.applySet(t, verb!, kind, rest);
      case 'element': return this.applyElement(t, verb!, rest);
    }
  }

  private applyChain(t: FakeTable, verb: string, rest: string): void {
    const m = /^([A-Za-z0-9_./-]+)(.*)$/.exec(rest);
    if (!m) throw new Rejected('syntax error');
    const [, name, props] = m as unknown as [string, string, string];
    const existing = t.chains.get(name);
    if (verb === 'add' || verb === 'create') {
      if (existing && verb === 'create') throw new Rejected('Could not process rule: File exists');
      const body = braced(props);
      let base: FakeChain['base'];
      if (body !== undefined) {
        const b = /type (\S+) hook (\S+) priority (-?\d+) ;/.exec(body);
        if (b) base = { type: b[1]!, hook: b[2]!, priority: Number(b[3]) };
      }
      if (existing) {
        // Re-adding a chain with other hook properties is refused by the kernel.
        if (base && (!existing.base || existing.base.hook !== base.hook || existing.base.priority !== base.priority || existing.base.type !== base.type)) {
          throw new Rejected('Could not process rule: Operation not supported');
        }
        return;
      }
      t.chains.set(name, { base, comment: unquote(body !== undefined ? prop(body, 'comment') : undefined), rules: [] });
      return;
    }
    if (!existing) throw new Rejected('Could not process rule: No such file or directory');
    if (verb === 'flush') {
      existing.rules = [];
      return;
    }
    if (this.chainReferenced(t, name)) throw new Rejected('Could not process rule: Device or resource busy');
    t.chains.delete(name);
  }

  private chainReferenced(t: FakeTable, name: string): boolean {
    for (const [cname, c] of t.chains) {
      if (cname === name) continue;
      if (c.rules.some((r) => chainTargets(r.text).includes(name))) return true;
    }
    for (const s of t.sets.values()) {
      for (const e of s.elements.values()) if (e.value && chainTargets(e.value).includes(name)) return true;
    }
    return false;
  }

  private applyRule(t: FakeTable, verb: string, rest: string): void {
    if (verb !== 'add' && verb !== 'insert') throw new Rejected('syntax error: rules are deleted by handle');
    const m = /^([A-Za-z0-9_./-]+) (.*?)(?: comment ("(?:[^"\\]|\\.)*"))?$/.exec(rest);
    if (!m) throw new Rejected('syntax error');
    const [, chainName, text, comment] = m as unknown as [string, string, string, string?];
    const chain = t.chains.get(chainName);
    if (!chain) throw new Rejected('Could not process rule: No such file or directory');
    for (const target of chainTargets(text)) {
      const c = t.chains.get(target);
      if (!c) throw new Rejected(`Could not process rule: No such file or directory (chain ${target})`);
      if (c.base) throw new Rejected('Could not process rule: Operation not supported');
    }
    for (const s of setReferences(text)) {
      if (!t.sets.has(s)) throw new Rejected(`Could not process rule: No such file or directory (set ${s})`);
    }
    const rule = { text, ...(comment !== undefined ? { comment: unquote(comment) } : {}) };
    if (verb === 'insert') chain.rules.unshift(rule);
    else chain.rules.push(rule);
  }

  private applySet(t: FakeTable, verb: string, kind: 'set' | 'map', rest: string): void {
    const m = /^([A-Za-z0-9_./-]+)(.*)$/.exec(rest);
    if (!m) throw new Rejected('syntax error');
    const [, name, props] = m as unknown as [string, string, string];
    const existing = t.sets.get(name);
    if (existing && existing.kind !== kind) throw new Rejected('Could not process rule: No such file or directory');
    if (verb === 'add' || verb === 'create') {
      const body = braced(props);
      const type = body !== undefined ? prop(body, 'type') : undefined;
      if (!type) throw new Rejected('syntax error: set needs a type');
      if (kind === 'map' !== type.includes(':')) throw new Rejected(`syntax error: a ${kind} with type ${type}`);
      const flags = prop(body!, 'flags') ?? '';
      const timeoutText = prop(body!, 'timeout');
      const timeout: number | undefined = timeoutText !== undefined ? Number(/^(\d+)s$/.exec(timeoutText)?.[1]) : undefined;
      if (existing) {
        if (verb === 'create') throw new Rejected('Could not process rule: File exists');
        // nft accepts a re-add with another timeout and keeps the set as it is; another type is refused.
        if (existing.type !== type || existing.flags !== flags) throw new Rejected('Could not process rule: File exists');
        return;
      }
      t.sets.set(name, { kind, type, flags, timeout, comment: unquote(prop(body!, 'comment')), elements: new Map() });
      return;
    }
    if (!existing) throw new Rejected('Could not process rule: No such file or directory');
    if (verb === 'flush') {
      existing.elements = new Map();
      return;
    }
    for (const c of t.chains.values()) {
      if (c.rules.some((r) => setReferences(r.text).includes(name))) throw new Rejected('Could not process rule: Device or resource busy');
    }
    t.sets.delete(name);
  }

  private applyElement(t: FakeTable, verb: string, rest: string): void {
    const m = /^([A-Za-z0-9_./-]+) \{ (.*) \}$/.exec(rest);
    if (!m) throw new Rejected('syntax error');
    const [, name, body] = m as unknown as [string, string, string];
    const set = t.sets.get(name);
    if (!set) throw new Rejected('Could not process rule: No such file or directory');
    const e = /^(.*?)(?: comment ("(?:[^"\\]|\\.)*"))?(?: : (.*))?$/.exec(body)!;
    const [, elemKey, comment, value] = e as unknown as [string, string, string?, string?];
    if (verb === 'delete') {
      if (!set.elements.has(elemKey)) throw new Rejected('Could not process rule: No such file or directory');
      set.elements.delete(elemKey);
      return;
    }
    if (verb !== 'add' && verb !== 'create') throw new Rejected('syntax error');
    if ((set.kind === 'map') !== (value !== undefined)) throw new Rejected(`syntax error: element of ${set.kind} ${name}`);
    for (const target of value ? chainTargets(value) : []) {
      if (!t.chains.has(target)) throw new Rejected(`Could not process rule: No such file or directory (chain ${target})`);
    }
    const old = set.elements.get(elemKey);
    if (old && (verb === 'create' || old.value !== value)) throw new Rejected('Could not process rule: File exists');
    if (!old) set.elements.set(elemKey, { value, comment: unquote(comment) });
  }

  /** `nft -j list table` calls answered. */
  listings = 0;

  async listTable(family: NftFamily, table: string): Promise<NftJson | undefined> {
    this.listings++;
    const t = this.tables.get(`${family} ${table}`);
    return t ? { nftables: this.json(family, table, t) } : undefined;
  }

  async listRuleset(): Promise<NftJson> {
    const out: Record<string, Record<string, unknown>>[] = [];
    for (const [key, t] of this.tables) {
      const [family, name] = key.split(' ') as [string, string];
      out.push(...this.json(family, name, t));
    }
    return { nftables: out };
  }

  private json(family: string, table: string, t: FakeTable): Record<string, Record<string, unknown>>[] {
    const out: Record<string, Record<string, unknown>>[] = [{ table: { family, name: table, ...(t.comment !== undefined ? { comment: t.comment } : {}) } }];
    for (const [name, s] of t.sets) {
      out.push({ [s.kind]: { family, table, name, type: s.type, ...(s.timeout !== undefined ? { timeout: s.timeout } : {}), elem: [...s.elements.keys()] } });
    }
    for (const [name, c] of t.chains) {
      out.push({ chain: { family, table, name, ...(c.base ? { type: c.base.type, hook: c.base.hook, prio: c.base.priority } : {}) } });
      for (const r of c.rules) out.push({ rule: { family, table, chain: name, text: r.text, ...(r.comment !== undefined ? { comment: r.comment } : {}) } });
    }
    return out;
  }

  hasTable(family: NftFamily, table: string): boolean {
    return this.tables.has(`${family} ${table}`);
  }

  /** The rules of a chain as written (with their comments), or undefined when the chain is missing. */
  rules(family: NftFamily, table: string, chain: string): string[] | undefined {
    const c = this.tables.get(`${family} ${table}`)?.chains.get(chain);
    return c?.rules.map((r) => r.text + (r.comment !== undefined ? ` comment ${JSON.stringify(r.comment)}` : ''));
  }

  chains(family: NftFamily, table: string): string[] {
    return [...(this.tables.get(`${family} ${table}`)?.chains.keys() ?? [])].sort();
  }

  /** A set's or map's elements as "key" or "key : value", sorted. */
  elements(family: NftFamily, table: string, set: string): string[] | undefined {
    const s = this.tables.get(`${family} ${table}`)?.sets.get(set);
    return s ? [...s.elements].map(([k, e]) => (e.value !== undefined ? `${k} : ${e.value}` : k)).sort() : undefined;
  }

  sets(family: NftFamily, table: string): string[] {
    return [...(this.tables.get(`${family} ${table}`)?.sets.keys() ?? [])].sort();
  }

  /** Every table as sorted `add` commands: equal dumps mean equal state. */
  dump(): string {
    const out: string[] = [];
    for (const key of [...this.tables.keys()].sort()) {
      const t = this.tables.get(key)!;
      out.push(`table ${key}${t.comment !== undefined ? ` comment ${JSON.stringify(t.comment)}` : ''}`);
      for (const name of [...t.sets.keys()].sort()) {
        const s = t.sets.get(name)!;
        out.push(`  ${s.kind} ${name} { type ${s.type} ;${s.flags ? ` flags ${s.flags} ;` : ''}${s.timeout !== undefined ? ` timeout ${s.timeout}s ;` : ''} }`);
        for (const e of [...s.elements].map(([k, v]) => (v.value !== undefined ? `${k} : ${v.value}` : k)).sort()) out.push(`    ${e}`);
      }
      for (const name of [...t.chains.keys()].sort()) {
        const c = t.chains.get(name)!;
        out.push(`  chain ${name}${c.base ? ` { type ${c.base.type} hook ${c.base.hook} priority ${c.base.priority} ; }` : ''}`);
        for (const r of c.rules) out.push(`    ${r.text}${r.comment !== undefined ? ` comment ${JSON.stringify(r.comment)}` : ''}`);
      }
    }
    return out.join('\n') + (out.length ? '\n' : '');
  }
}
