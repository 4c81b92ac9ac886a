/**
 * harness.ts: an nftables backend driven into the FakeNft with a fake clock, the way the sync loop drives it,
 * the change sets it is handed, and a check that every reference in the table resolves.
 */
import assert from 'node:assert/strict';
import { NftablesBackend } from '../../../modes/nftables/backend.js';
import { defaultConfig, type KpxConfig } from '../../../src/config/types.js';
import type { ChangeSet, ProxyState, ServiceKey } from '../../../src/model/types.js';
import { RecordingConntrack } from '../../support/fake-conntrack.js';
import { FakeNft, chainTargets, setReferences } from '../../support/fake-nft.js';
import { FakeSysctl } from '../../support/fake-sysctl.js';
import { modeOptions } from '../../support/mode-options.js';
import { memoryLogger } from '../../support/logger.js';

/** Every jump, goto and vmap target of every rule and map element exists, and every @set. */
export function assertNoDanglingReferences(nft: FakeNft, family: 'ip' | 'ip6' = 'ip'): void {
  const chains = new Set(nft.chains(family, 'kube-proxy'));
  const sets = new Set(nft.sets(family, 'kube-proxy'));
  for (const c of chains) {
    for (const r of nft.rules(family, 'kube-proxy', c)!) {
      for (const t of chainTargets(r)) assert.ok(chains.has(t), `${c}: ${r} -> missing chain ${t}`);
      for (const s of setReferences(r)) assert.ok(sets.has(s), `${c}: ${r} -> missing set ${s}`);
    }
  }
  for (const s of sets) {
    for (const e of nft.elements(family, 'kube-proxy', s)!) {
      for (const t of chainTargets(e)) assert.ok(chains.has(t), `${s}: ${e} -> missing chain ${t}`);
    }
  }
}

export const FULL: ChangeSet = { full: true, services: new Set() };

export function changed(...services: ServiceKey[]): ChangeSet {
  return { full: false, services: new Set(services) };
}

export interface Harness {
  readonly nft: FakeNft;
  readonly backend: NftablesBackend;
  readonly conntrack: RecordingConntrack;
  /** Moves the fake clock on. */
  advance(ms: number): void;
  /** Syncs and returns the transaction sent ("" when nothing was), failing the test on a failed sync. */
  sync(state: ProxyState, change: ChangeSet): Promise<string>;
}

export function harness(opts: { config?: KpxConfig; nft?: FakeNft; clusterCIDR?: string; family?: 'IPv4' | 'IPv6' } = {}): Harness {
  const nft = opts.nft ?? new FakeNft();
  const conntrack = new RecordingConntrack();
  let now = 1_000_000;
  const backend = new NftablesBackend(
    modeOptions('nftables', { config: opts.config ?? defaultConfig(), log: memoryLogger(), clusterCIDR: opts.clusterCIDR ?? '10.0.0.0/8', family: opts.family }),
    { nft, conntrack, sysctl: new FakeSysctl(), now: () => now },
  );
  return {
    nft, backend, conntrack,
    advance: (ms) => { now += ms; },
    async sync(state, change) {
      const before = nft.transactions.length;
      const r = await backend.sync(state, change);
      if (!r.ok) throw new Error(`sync failed: ${r.error.message}`);
      return nft.transactions.slice(before).join('');
    },
  };
}
