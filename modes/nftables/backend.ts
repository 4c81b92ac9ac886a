/**
 * backend.ts: the nftables mode's Backend: render (pure) -> diff against what was last written (pure) -> one
 * `nft -f -` transaction a sync.
 *
 * A sync is full at start, on ChangeSet.full and after a failure (which also rebuilds the table from
 * nothing, in the same transaction); otherwise it sends only the changed services' chains and elements.
 * Partial syncs look, every sync period, whether the table still holds what kpx wrote (deleted or edited
 * behind its back) and rebuild it when not; while nf_tables' generation shows that only kpx committed, that
 * costs one netlink request instead of listing the table. Flushed chains are deleted by a small transaction of
 * their own once they have aged (diff.ts says why). Tables that are not kube-proxy's are never touched.
 */
import type { Backend, BackendOptions, SyncResult } from '../../src/backend.js';
import type { ChangeSet, IPFamily, ProxyState, ServicePort, ServicePortKey } from '../../src/model/types.js';
import { Conntrack, type ConntrackClient } from '../../src/net/conntrack.js';
import { Nft, summarizeTable, type NftClient } from '../../src/net/nft.js';
import { NftTransaction } from '../../src/net/nft-transaction.js';
import { Sysctl, type SysctlClient } from '../../src/net/sysctl.js';
import { KpxError, errorMessage } from '../../src/util/errors.js';
import type { Logger } from '../../src/util/log.js';
import { clearStaleConntrack } from '../../src/stale-conntrack.js';
import { diff, staleChainsDue, type SyncKind, type WrittenState } from './diff.js';
import { driftFrom } from './drift.js';
import { nftLocalMatch } from './local-match.js';
import { nftablesMetrics, type NftablesMetrics } from './metrics.js';
import { TABLE, nftFamily } from './names.js';
import { RenderCache, renderRuleset, type RenderOptions } from './render.js';
import type { NftablesSettings } from './settings.js';

/** How long a flushed chain waits before it is deleted (kube-proxy: one second). */
export const STALE_CHAIN_AGING_MS = 1_000;
const KEPT_INPUT_CHARS = 256 * 1024;

export interface NftablesBackendExtras {
  /** Drive a named network namespace from outside (tests, sandbox, perf). */
  readonly netns?: string;
  /** Override the nft / conntrack / sysctl clients (unit tests must never touch the host). */
  readonly nft?: NftClient;
  readonly conntrack?: ConntrackClient;
  readonly sysctl?: SysctlClient;
  /** Milliseconds, monotonic (tests inject a fake clock). */
  readonly now?: () => number;
  /** Minimum time between two drift checks by syncs that carry changes (default: the sync period). */
  readonly driftCheckIntervalMs?: number;
  readonly staleChainAgingMs?: number;
}

export interface NftSyncInfo {
  readonly kind: SyncKind | 'none';
  /** The transaction when at most KEPT_INPUT_CHARS, else "" (a large full sync's would stay in the heap). */
  readonly input: string;
  readonly inputLines: number;
  readonly renderMs: number;
  readonly applyMs: number;
  readonly totalMs: number;
}

const NO_SYNC: NftSyncInfo = { kind: 'none', input: '', inputLines: 0, renderMs: 0, applyMs: 0, totalMs: 0 };

export class NftablesBackend implements Backend {
  readonly mode = 'nftables' as const;
  readonly family: IPFamily;
  readonly nft: NftClient;
  private readonly ct: ConntrackClient;
  private readonly sysctl: SysctlClient;
  private readonly opts: BackendOptions<NftablesSettings>;
  private readonly log: Logger;
  private readonly metrics: NftablesMetrics;
  private readonly cache = new RenderCache();
  private readonly now: () => number;
  private readonly driftCheckIntervalMs: number;
  private readonly staleChainAgingMs: number;
  private written: WrittenState | undefined;
  /** The last write failed or the table drifted: the next sync deletes and rebuilds it. */
  private rebuild = false;
  private lastDriftCheck = -Infinity;
  /** nf_tables' generation while only kpx has committed since the table was last checked; undefined = unknown. */
  private expectedGen: number | undefined;
  /** The state of the last successful sync (the builder hands the same object over when nothing changed). */
  private writtenState: ProxyState | undefined;
  private prevServices: ReadonlyMap<ServicePortKey, ServicePort> | undefined;
  private initDone = false;
  private last: NftSyncInfo = NO_SYNC;

  constructor(opts: BackendOptions<NftablesSettings>, extras: NftablesBackendExtras = {}) {
    this.opts = opts;
    this.family = opts.family;
    this.log = opts.log.child({ mode: 'nftables', family: opts.family });
    this.nft = extras.nft ?? new Nft({ netns: extras.netns });
    this.ct = extras.conntrack ?? new Conntrack({ family: opts.family, netns: extras.netns });
    this.sysctl = extras.sysctl ?? new Sysctl(extras.netns);
    this.now = extras.now ?? (() => performance.now());
    this.driftCheckIntervalMs = extras.driftCheckIntervalMs ?? opts.settings.syncPeriodMs;
    this.staleChainAgingMs = extras.staleChainAgingMs ?? STALE_CHAIN_AGING_MS;
    this.metrics = nftablesMetrics(opts.registry);
  }

  get lastSync(): NftSyncInfo {
    return this.last;
  }

  private get nftFamily() {
    return nftFamily(this.family);
  }

  /** Bridged pod-to-pod replies must pass through netfilter to be un-DNATed (when br_netfilter is loaded). */
  async init(): Promise<void> {
    await this.sysctl.ensure(this.family === 'IPv6' ? 'net.bridge.bridge-nf-call-ip6tables' : 'net.bridge.bridge-nf-call-iptables', 1);
    this.initDone = true;
  }

  renderOptions(node: ProxyState['node']): RenderOptions {
    const s = this.opts.settings;
    return {
      family: this.family, masqueradeAll: s.masqueradeAll, masqueradeBit: s.masqueradeBit,
      localMatch: nftLocalMatch(s.localTraffic, node, this.family), serviceCIDRs: s.serviceCIDRs,
    };
  }

  async sync(state: ProxyState, changed: ChangeSet): Promise<SyncResult> {
    const t0 = this.now();
    try {
      if (!this.initDone) await this.init();
      let kind: SyncKind = this.rebuild ? 'recreate' : !this.written || changed.full ? 'full' : 'partial';
      // A sync that carries no change is the sync period's own: it always checks.
      if (kind === 'partial' && (changed.services.size === 0 || t0 - this.lastDriftCheck >= this.driftCheckIntervalMs)) {
        this.lastDriftCheck = t0;
        const drift = await this.drift();
        if (drift) {
          this.log.info('kube-proxy table changed behind kpx\'s back: rebuilding it', { drift });
          kind = 'recreate';
        }
      }
      if (kind === 'partial') await this.deleteStaleChains(t0);
      if (kind === 'partial' && state === this.writtenState) {
        this.last = { ...NO_SYNC, kind: 'partial', totalMs: this.now() - t0 };
        return { ok: true };
      }
      let existing;
      if (kind === 'full' && !this.written) {
        const json = await this.nft.listTable(this.nftFamily, TABLE);
        existing = json && summarizeTable(json, this.nftFamily, TABLE);
      }
      const tr = this.now();
      const wanted = renderRuleset(state, this.renderOptions(state.node), this.cache);
      const out = diff({ wanted, written: kind === 'recreate' ? undefined : this.written, kind, changed: changed.services, existing, nowMs: t0 });
      const renderMs = this.now() - tr;
      const input = out.tx.toString();
      const ta = this.now();
      await this.nft.run(input);
      const applyMs = this.now() - ta;
      // A full write leaves the generation unknown until the next check lists the table once.
      if (kind === 'partial' && input !== '') this.committed();
      else this.expectedGen = undefined;
      this.written = out.next;
      this.rebuild = false;
      if (kind !== 'partial') this.lastDriftCheck = this.now();
      this.last = {
        kind: out.kind, input: input.length <= KEPT_INPUT_CHARS ? input : '', inputLines: out.tx.length,
        renderMs, applyMs, totalMs: this.now() - t0,
      };
    } catch (err) {
      this.rebuild = true;
      this.expectedGen = undefined;
      this.metrics.syncFailures.inc();
      const error = err instanceof KpxError ? err : new KpxError('KPX_NFTABLES_SYNC', errorMessage(err), { cause: err });
      this.log.error('nftables sync failed', { error: error.message });
      return { ok: false, error };
    }
    await clearStaleConntrack(this.ct, this.prevServices, state.services, this.log);
    this.prevServices = state.services;
    this.writtenState = state;
    return { ok: true };
  }

  /** How the table differs from what kpx wrote, or undefined; free while only kpx committed. */
  private async drift(): Promise<string | undefined> {
    const gen = await this.nft.generation();
    if (gen !== undefined && gen === this.expectedGen) return undefined;
    // Read before listing, so a commit racing the list makes the next comparison fail rather than pass.
    const json = await this.nft.listTable(this.nftFamily, TABLE);
    const drift = driftFrom(this.written!, json && summarizeTable(json, this.nftFamily, TABLE));
    this.expectedGen = drift ? undefined : gen;
    return drift;
  }

  /** One transaction of kpx's committed: one generation more. */
  private committed(): void {
    if (this.expectedGen !== undefined) this.expectedGen++;
  }

  /** Deletes the chains flushed long enough ago; a failure is counted and retried by a later sync. */
  private async deleteStaleChains(nowMs: number): Promise<void> {
    const due = staleChainsDue(this.written!, this.nftFamily, nowMs, this.staleChainAgingMs);
    if (due.tx.length === 0) return;
    try {
      await this.nft.run(due.tx);
      this.committed();
      this.written = due.next;
    } catch (err) {
      this.metrics.cleanupFailures.inc();
      this.log.warn('could not delete stale chains; will retry', { chains: due.tx.length, error: errorMessage(err) });
    }
  }


  /** kube-proxy's nftables tables of either family exist (kpx's or kube-proxy's own). */
  async hasLeftovers(): Promise<boolean> {
    return (await this.tableExists('ip')) || (await this.tableExists('ip6'));
  }

  private async tableExists(family: 'ip' | 'ip6'): Promise<boolean> {
    try {
      return (await this.nft.listTable(family, TABLE)) !== undefined;
    } catch {
      // nft missing or nf_tables unavailable: nothing of this mode can be here.
      return false;
    }
  }

  /**
   * cleanup: deletes `ip kube-proxy` and `ip6 kube-proxy` (kpx's, or kube-proxy's own: the migration path),
   * nothing else. Idempotent.
   */
  async cleanup(): Promise<void> {
    for (const family of ['ip', 'ip6'] as const) {
      if (!(await this.tableExists(family))) continue;
      try {
        await this.nft.run(new NftTransaction(family, TABLE).delete({ kind: 'table' }));
      } catch (err) {
        this.metrics.cleanupFailures.inc();
        throw err;
      }
    }
    this.written = undefined;
    this.rebuild = false;
    this.expectedGen = undefined;
    this.writtenState = undefined;
    this.prevServices = undefined;
    this.initDone = false;
  }

  async close(): Promise<void> {
    // Nothing runs in the background; the rules stay in the kernel.
  }
}
