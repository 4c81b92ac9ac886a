/**
 * ipset.ts: the ipset tool. Changes go as one `ipset restore -exist` batch (one process for thousands of
 * entries, and -exist makes re-adding or re-creating harmless); state is read with `ipset save`.
 */
import { exec } from './exec.js';

export interface IpsetInfo {
  readonly type: string;
  readonly entries: Set<string>;
}

export interface IpsetCreate {
  readonly name: string;
  readonly type: string;
  readonly family: 'inet' | 'inet6';
}

/** What the ipvs mode needs of ipset: the real tool (Ipset) or a fake that keeps the sets. */
export interface IpsetClient {
  /** Every set with its entries. */
  save(): Promise<Map<string, IpsetInfo>>;
  /** Applies restore lines ("create ...", "add S E", "del S E", "flush S", "destroy S") as with -exist. */
  restore(lines: readonly string[]): Promise<void>;
  /** Destroys a set; a missing one is not an error. */
  destroy(name: string): Promise<void>;
}

export class Ipset implements IpsetClient {
  constructor(private readonly opts: { netns?: string } = {}) {}

  /** Every set with its entries (`ipset save`), parsed. */
  async save(): Promise<Map<string, IpsetInfo>> {
    const res = await exec('ipset', ['save'], { netns: this.opts.netns, timeoutMs: 120_000 });
    return parseIpsetSave(res.stdout);
  }

  /** Applies restore lines ("create ...", "add S E", "del S E", "flush S", "destroy S") in one batch. */
  async restore(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    await exec('ipset', ['restore', '-exist'], { netns: this.opts.netns, input: lines.join('\n') + '\n', timeoutMs: 120_000 });
  }

  /** Destroys a set; a missing one is not an error. A set still referenced by iptables cannot go (rejects). */
  async destroy(name: string): Promise<void> {
    const res = await exec('ipset', ['destroy', name], { netns: this.opts.netns, okCodes: [0, 1] });
    if (res.code === 1 && !/does not exist/.test(res.stderr)) throw new Error(`ipset destroy ${name}: ${res.stderr.trim()}`);
  }
}

export function createLine(c: IpsetCreate): string {
  return c.type === 'bitmap:port'
    ? `create ${c.name} bitmap:port range 0-65535`
    : `create ${c.name} ${c.type} family ${c.family} hashsize 1024 maxelem 65536`;
}

export function parseIpsetSave(text: string): Map<string, IpsetInfo> {
  const sets = new Map<string, IpsetInfo>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'create' && f.length >= 3) sets.set(f[1], { type: f[2], entries: new Set() });
    else if (f[0] === 'add' && f.length >= 3) sets.get(f[1])?.entries.add(f[2]);
  }
  return sets;
}
