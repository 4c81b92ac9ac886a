/**
 * fake-ipset.ts: an IpsetClient that keeps the sets, for unit tests of the ipvs mode without root.
 *
 * restore() applies lines as `ipset restore -exist` does, all or nothing: re-creating a set or re-adding an
 * entry is fine, as is deleting a missing entry, but naming a set that does not exist fails the batch.
 * save() prints `ipset save` text and reads it back with the real parser, so what a test sees went through
 * the same code as the kernel's answer.
 */
import { parseIpsetSave, type IpsetClient, type IpsetInfo } from '../../src/net/ipset.js';

interface FakeSet {
  readonly type: string;
  /** The create line's options after the type ("family inet hashsize 1024 ..."). */
  readonly options: string;
  readonly entries: Set<string>;
}

export class FakeIpset implements IpsetClient {
  /** Every accepted restore batch, in order. */
  readonly restores: (readonly string[])[] = [];
  /** Sets that an iptables rule still references: destroy() rejects them, as the kernel does. */
  readonly inUse = new Set<string>();
  private readonly sets = new Map<string, FakeSet>();

  async save(): Promise<Map<string, IpsetInfo>> {
    return parseIpsetSave(this.saveText());
  }

  async restore(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    const work = new Map([...this.sets].map(([name, s]) => [name, { ...s, entries: new Set(s.entries) }]));
    for (const [i, line] of lines.entries()) applyLine(work, line, i + 1);
    this.sets.clear();
    for (const [name, s] of work) this.sets.set(name, s);
    this.restores.push([...lines]);
  }

  async destroy(name: string): Promise<void> {
    if (this.inUse.has(name)) throw new Error(`ipset destroy ${name}: Set cannot be destroyed: it is in use by a kernel component`);
    this.sets.delete(name);
  }

  /** The sets as `ipset save` prints them. */
  saveText(): string {
    let out = '';
    for (const [name, s] of this.sets) {
      out += `create ${name} ${s.type}${s.options ? ` ${s.options}` : ''}\n`;
      for (const e of s.entries) out += `add ${name} ${e}\n`;
    }
    return out;
  }

  /** The entries of one set, sorted; undefined when the set does not exist. */
  entries(name: string): string[] | undefined {
    const s = this.sets.get(name);
    return s ? [...s.entries].sort() : undefined;
  }

  names(): string[] {
    return [...this.sets.keys()].sort();
  }
}

function lineError(at: number, why: string): Error {
  return new Error(`ipset v7.19: Error in line ${at}: ${why}`);
}

function applyLine(sets: Map<string, FakeSet>, line: string, at: number): void {
  const [cmd, name, ...rest] = line.trim().split(/\s+/);
  if (name === undefined) throw lineError(at, `not understood: ${line}`);
  const set = sets.get(name);
  const existing = (): FakeSet => {
    if (!set) throw lineError(at, `The set with the given name does not exist: ${name}`);
    return set;
  };
  switch (cmd) {
    case 'create': {
      const [type, ...options] = rest;
      if (!type) throw lineError(at, `create ${name} without a type`);
      if (set && set.type !== type) throw lineError(at, `The set with the given name already exists with another type: ${name}`);
      if (!set) sets.set(name, { type, options: options.join(' '), entries: new Set() });
      return;
    }
    case 'add':
    case 'del': {
      const target = existing();
      if (rest.length !== 1) throw lineError(at, `one entry expected: ${line}`);
      if (cmd === 'add') target.entries.add(rest[0]);
      else target.entries.delete(rest[0]);
      return;
    }
    case 'flush':
      existing().entries.clear();
      return;
    case 'destroy':
      sets.delete(name);
      return;
    default:
      throw lineError(at, `not understood: ${line}`);
  }
}
