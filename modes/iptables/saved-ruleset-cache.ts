/**
 * saved-ruleset-cache.ts: the tables as last read with iptables-save, reused while nf_tables' ruleset
 * generation shows that nobody but kpx committed anything since. Printing the tables costs a large share of
 * a full sync at scale (iptables-nft-save prints kpx's own rules too), and a full sync only needs the other
 * programs' rules from it. kpx counts its own commits (one per table it restores) and compares; any other
 * commit, in any table, makes the numbers differ and the tables are read again. With the legacy backend
 * (no generation) they are always read; legacy's save is cheap.
 */
import type { IptablesClient } from '../../src/net/iptables.js';
import { KUBE_PROXY_CANARY } from './chain-names.js';
import { parseSave, type SavedRuleset } from './table-merge.js';

export class SavedRulesetCache {
  /** undefined = unknown: read the tables next time. */
  private entry: { saved: SavedRuleset; expectedGen: number } | undefined;

  /** Whether `gen` proves that nobody but kpx committed since the tables were read. */
  isCurrent(gen: number | undefined): boolean {
    return gen !== undefined && this.entry !== undefined && gen === this.entry.expectedGen;
  }

  /** kpx committed this many tables (each table of a restore is one nf_tables transaction). */
  committed(tables: number): void {
    if (this.entry) this.entry.expectedGen += tables;
  }

  forget(): void {
    this.entry = undefined;
  }

  /** The tables, from the last read when still current, else read (and the mangle canary made if missing). */
  async read(ipt: IptablesClient): Promise<{ saved: SavedRuleset; reused: boolean }> {
    // Read the generation before saving, so a commit that races the save makes the next comparison fail
    // (and save again) rather than pass.
    const gen = await ipt.generation();
    if (this.entry && this.isCurrent(gen)) return { saved: this.entry.saved, reused: true };
    // One iptables-save for all tables: iptables-nft-save fetches the whole ruleset even with -t.
    const saved = parseSave(await ipt.save());
    this.entry = gen === undefined ? undefined : { saved, expectedGen: gen };
    if (!saved.tables.get('mangle')?.chains.has(KUBE_PROXY_CANARY)) {
      // Creating it is a commit of its own that kpx does not count: read the tables next time.
      if (!(await ipt.ensureChain('mangle', KUBE_PROXY_CANARY))) this.forget();
    }
    return { saved, reused: false };
  }
}
