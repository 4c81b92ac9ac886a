/**
 * backend.ts: the iptables mode's Backend: render (pure) → plan what to write (pure) → one iptables-restore.
 *
 * Full vs. partial sync (kube-proxy's MinimizeIPTablesRestore): after a successful full sync, a sync
 * writes only what changed (plan-partial.ts). It falls back to a full sync (plan-full.ts) at start, on every
 * full ChangeSet (the sync-period), after any failure, when the comment mode flips (more/fewer than 1000
 * endpoints), and when a KUBE-PROXY-CANARY chain is missing (someone flushed the tables, canary.ts).
 * Partial syncs always use --noflush: they name only a few chains, which is cheap.
 */
import type { Backend, BackendOptions, SyncResult } from '../../src/backend.js';
import { iptablesLocalMatch } from '../../src/local-traffic.js';
import type { ChangeSet, IPFamily, ProxyState, ServicePort, ServicePortKey } from '../../src/model/types.js';
import { Conntrack, type ConntrackClient } from '../../src/net/conntrack.js';
import { Iptables, type IptablesClient, type IptablesTable, type RestoreOptions } from '../../src/net/iptables.js';
import { Sysctl, type SysctlClient } from '../../src/net/sysctl.js';
import { IptablesRestoreError, KpxError, errorMessage } from '../../src/util/errors.js';
import type { Logger } from '../../src/util/log.js';
import type { AppliedRules } from './applied-rules.js';
import { CANARY_TABLES, ensureCanaries } from './canary.js';
import { KUBE_PROXY_CANARY, isServiceChainName } from './chain-names.js';
import { ensureJumps, initHost } from './host-init.js';
import { JUMP_RULES, KUBELET_FIREWALL_JUMPS, jumpArgs, type JumpRule } from './jumps.js';
import { NO_SYNC, keptInput, type LastSyncInfo } from './last-sync.js';
import { kernelDrift } from './kernel-drift.js';
import { iptablesMetrics, recordRuleCounts, type IptablesMetrics } from './metrics.js';
import { canReplaceTables, planFullSync, type FullSyncPlan } from './plan-full.js';
import { planPartialSync } from './plan-partial.js';
import { RenderCache, renderRules, type RenderOptions, type RenderedRules } from './render.js';
import { SavedRulesetCache } from './saved-ruleset-cache.js';
import type { IptablesSettings } from './settings.js';
import { clearStaleConntrack } from '../../src/stale-conntrack.js';
import { cleanupInput, parseSave, type SavedRuleset } from './table-merge.js';

export type { LastSyncInfo } from './last-sync.js';

/** See plan-full.ts. */
export type FullSyncStrategy = 'replace-tables' | 'noflush';


/** A drift check that prints every table runs at most this often (another program committing makes it due). */
export const DEEP_DRIFT_CHECK_INTERVAL_MS = 10 * 60_000;

export interface IptablesBackendExtras {
  /** Drive a named network namespace from outside (tests, sandbox, perf). */
  readonly netns?: string;
  /** See plan-full.ts; default 'replace-tables'. */
  readonly fullSyncStrategy?: FullSyncStrategy;
  /** Override the iptables / conntrack / sysctl clients (tests: unit tests must never touch the host). */
  readonly iptables?: IptablesClient;
  readonly conntrack?: ConntrackClient;
  readonly sysctl?: SysctlClient;
  /** Minimum time between two drift checks by partial syncs (default: the sync period). */
  readonly driftCheckIntervalMs?: number;
  /** Minimum time between two drift checks that print and compare every table (default DEEP_DRIFT_CHECK_INTERVAL_MS). */
  readonly deepDriftCheckIntervalMs?: number;
  /** Keep every restore input whole in lastSync, however large (perf/sync restores it again). */
  readonly keepRestoreInput?: boolean;
}

export class IptablesBackend implements Backend {
  readonly mode = 'iptables' as const;
  readonly family: IPFamily;
  readonly ipt: IptablesClient;
  private readonly ct: ConntrackClient;
  private readonly sysctl: SysctlClient;
  private readonly opts: BackendOptions<IptablesSettings>;
  private readonly log: Logger;
  private readonly strategy: FullSyncStrategy;
  private readonly metrics: IptablesMetrics;
  private readonly cache = new RenderCache();
  private applied: AppliedRules | undefined;
  /** The services of the last successful sync (stale-conntrack planning); undefined before the first. */
  private prevServices: ReadonlyMap<ServicePortKey, ServicePort> | undefined;
  private lastDriftCheck = -Infinity;
  private readonly driftCheckIntervalMs: number;
  private lastDeepDriftCheck = -Infinity;
  private readonly deepDriftCheckIntervalMs: number;
  /** The state of the last successful sync: what the kernel should hold. */
  private lastWritten: ProxyState | undefined;
  private readonly keepRestoreInput: boolean;
  private randomFully: boolean | undefined;
  private tcpBeLiberal = false;
  private initDone = false;
  /** init had to add kpx's jumps: the service rules were missing until the next full sync. */
  private jumpsAddedAtInit = false;
  private last: LastSyncInfo = NO_SYNC;
  private readonly savedTables = new SavedRulesetCache();

  constructor(opts: BackendOptions<IptablesSettings>, extras: IptablesBackendExtras = {}) {
    this.opts = opts;
    this.family = opts.family;
    this.log = opts.log.child({ mode: 'iptables', family: opts.family });
    this.ipt = extras.iptables ?? new Iptables({
      family: opts.family, netns: extras.netns,
      onLockWait: (attempt) => this.log.warn('another program holds the xtables lock: waiting and retrying', { attempt }),
    });
    this.ct = extras.conntrack ?? new Conntrack({ family: opts.family, netns: extras.netns });
    this.sysctl = extras.sysctl ?? new Sysctl(extras.netns);
    this.strategy = extras.fullSyncStrategy ?? 'replace-tables';
    this.driftCheckIntervalMs = extras.driftCheckIntervalMs ?? opts.settings.syncPeriodMs;
    this.deepDriftCheckIntervalMs = extras.deepDriftCheckIntervalMs ?? DEEP_DRIFT_CHECK_INTERVAL_MS;
    this.keepRestoreInput = extras.keepRestoreInput ?? false;
    this.metrics = iptablesMetrics(opts.registry);
  }

  get lastSync(): LastSyncInfo {
    return this.last;
  }

  private jumps(): JumpRule[] {
    return this.opts.settings.localhostNodePorts ? [...JUMP_RULES, ...KUBELET_FIREWALL_JUMPS] : [...JUMP_RULES];
  }

  /** init: sysctls of this namespace, the canary chains, the base chains and the jumps to them. Idempotent. */
  async init(): Promise<void> {
    this.savedTables.forget();
    const facts = await initHost(this.ipt, this.sysctl, this.log, { family: this.family, localhostNodePorts: this.opts.settings.localhostNodePorts, jumps: this.jumps() });
    this.randomFully = facts.randomFully;
    this.tcpBeLiberal = facts.tcpBeLiberal;
    this.jumpsAddedAtInit = facts.jumpsAdded;
    this.initDone = true;
  }

  renderOptions(node: ProxyState['node']): RenderOptions {
    return {
      family: this.family,
      masqueradeAll: this.opts.settings.masqueradeAll,
      masqueradeBit: this.opts.settings.masqueradeBit,
      localTraffic: iptablesLocalMatch(this.opts.settings.localTraffic, node),
      randomFully: this.randomFully ?? true,
      conntrackTCPLiberal: this.tcpBeLiberal,
    };
  }

  async sync(state: ProxyState, changed: ChangeSet): Promise<SyncResult> {
    const t0 = performance.now();
    let partial = false;
    try {
      if (!this.initDone) await this.init();
      // Full when the runner says so, or when what the kernel holds is unknown (nothing written yet, the last
      // write failed, or cleanup ran).
      partial = !changed.full && this.applied !== undefined;
      // Where kube-proxy rewrites everything every sync period, kpx checks, once per sync period, that the
      // kernel still holds what it wrote (kernel-drift.ts), and rewrites only when it does not. A change in
      // between also makes the next partial restore fail (its jumps dangle), which forces a full sync anyway.
      // A sync that carries no change is the sync period's own: it always checks (it has nothing else to do).
      const periodic = changed.services.size === 0;
      if (partial && (periodic || performance.now() - this.lastDriftCheck >= this.driftCheckIntervalMs)) {
        this.lastDriftCheck = performance.now();
        const drift = await this.drift();
        if (drift) {
          this.log.info('the iptables rules differ from what kpx wrote (changed by another program?): doing a full sync', { drift });
          partial = false;
        }
      }
      // The same state object as last written (the builder hands it over again when nothing changed) and the
      // kernel checked: there is nothing to render or write.
      if (partial && state === this.lastWritten) this.last = { ...NO_SYNC, kind: 'partial', totalMs: performance.now() - t0 };
      else if (partial) await this.syncPartial(state, changed, t0);
      else await this.syncFull(state, t0);
    } catch (err) {
      this.applied = undefined;
      // As kube-proxy: restore failures count iptables-restore rejecting input; a partial sync counts
      // as failed whatever went wrong (its changes are lost, so the next sync is full).
      if (err instanceof IptablesRestoreError) this.metrics.restoreFailures.inc({ ip_family: this.family });
      if (partial) this.metrics.partialRestoreFailures.inc({ ip_family: this.family });
      const error = err instanceof KpxError ? err : new KpxError('KPX_IPTABLES_SYNC', errorMessage(err), { cause: err });
      this.log.error('iptables sync failed', { partial, error: error.message });
      return { ok: false, error };
    }
    await clearStaleConntrack(this.ct, this.prevServices, state.services, this.log);
    this.prevServices = state.services;
    this.lastWritten = state;
    return { ok: true };
  }

  /**
   * How the kernel differs from the last sync's state, or undefined when it does not. Free while nf_tables'
   * generation shows that only kpx committed; otherwise one iptables-save and a (memoised) full render.
   */
  private async drift(): Promise<string | undefined> {
    const written = this.lastWritten;
    if (!written) return 'nothing written yet';
    if (this.savedTables.isCurrent(await this.ipt.generation())) return undefined;
    // Someone else committed: most often another program in its own chains. A flush shows in a canary for a
    // few cheap checks; printing and comparing every table costs about a full sync at scale, so that deeper
    // look comes at most once per deepDriftCheckIntervalMs.
    for (const table of CANARY_TABLES) {
      if (!(await this.ipt.chainExists(table, KUBE_PROXY_CANARY))) return `${table} has no ${KUBE_PROXY_CANARY} (flushed?)`;
    }
    // A flush of a whole table keeps its (empty) chains but drops the jumps from the built-in ones: one per table.
    for (const table of ['nat', 'filter'] as const) {
      const j = this.jumps().find((x) => x.table === table)!;
      if (!(await this.ipt.ensureRule('prepend', j.table, j.from, jumpArgs(j)))) return `the jump ${j.table}/${j.from} -> ${j.to} was missing (flushed?)`;
    }
    if (performance.now() - this.lastDeepDriftCheck < this.deepDriftCheckIntervalMs) return undefined;
    this.lastDeepDriftCheck = performance.now();
    const { saved } = await this.savedTables.read(this.ipt);
    return kernelDrift(saved, renderRules(written, this.renderOptions(written.node), {}, this.cache), this.jumps());
  }

  /** One restore of kpx's; its tables are counted as kpx's own commits, a failure forgets the saved tables. */
  private async restore(input: string, opts: RestoreOptions, tables: readonly IptablesTable[]): Promise<number> {
    const ts = performance.now();
    try {
      await this.ipt.restore(input, opts);
    } catch (err) {
      this.savedTables.forget();
      throw err;
    }
    this.savedTables.committed(tables.length);
    return performance.now() - ts;
  }

  private recordApplied(r: RenderedRules, applied: AppliedRules, written: { filter: number; nat: number }): void {
    this.applied = applied;
    recordRuleCounts(this.metrics, this.family, r.totalRules, written);
  }

  private async syncFull(state: ProxyState, t0: number): Promise<void> {
    const tr = performance.now();
    const r = renderRules(state, this.renderOptions(state.node), {}, this.cache);
    const renderMs = performance.now() - tr;
    let saved: SavedRuleset | undefined;
    let reusedSave = false;
    let saveMs = 0;
    let mergeMs = 0;
    if (this.strategy === 'replace-tables') {
      const tsv = performance.now();
      ({ saved, reused: reusedSave } = await this.savedTables.read(this.ipt));
      saveMs = performance.now() - tsv;
      this.lastDriftCheck = performance.now();
    }
    let plan: FullSyncPlan;
    if (saved && canReplaceTables(saved)) {
      const tm = performance.now();
      plan = planFullSync(r, { kind: 'replace-tables', saved, jumps: this.jumps() });
      mergeMs = performance.now() - tm;
      if (plan.addedJumps.length) this.log.v(2).info('re-adding jumps to kpx chains', { jumps: plan.addedJumps.map((j) => `${j.table}/${j.from}->${j.to}`) });
    } else {
      // kube-proxy's way: ensure jumps one by one, then --noflush everything, deleting stale chains.
      this.savedTables.forget();
      if (saved) this.log.warn('iptables-save shows a table it cannot print faithfully; full sync with --noflush');
      await ensureJumps(this.ipt, this.jumps());
      await ensureCanaries(this.ipt);
      const nat = parseSave(await this.ipt.save('nat')).tables.get('nat');
      plan = planFullSync(r, { kind: 'noflush', natChains: nat ? nat.chains.keys() : [] });
    }
    // --counters keeps the built-in chains' policy counters from a fresh save; from a reused one they would
    // jump back, so they restart instead. (Rule counters restart either way: see plan-full.ts.)
    const restoreMs = await this.restore(plan.input, { noFlush: plan.noFlush, counters: plan.noFlush || !reusedSave }, plan.tables);
    if (!plan.noFlush) {
      // The service rules were missing (first sync, or someone flushed them): connections attempted meanwhile
      // sit untranslated in SYN_SENT and would trap a client that reuses their source port. A fresh save is
      // required: a reused one predates kpx's own last write and would report its jumps as missing.
      if ((plan.addedJumps.length && !reusedSave) || this.jumpsAddedAtInit) await this.clearStalledConnects();
    }
    this.jumpsAddedAtInit = false;
    this.recordApplied(r, plan.applied, plan.written);
    this.last = {
      kind: 'full', ...keptInput(plan.input, this.keepRestoreInput), deletedChains: plan.deletedChains,
      renderMs, saveMs, mergeMs, restoreMs, reusedSave, totalMs: performance.now() - t0,
    };
  }

  private async syncPartial(state: ProxyState, changed: ChangeSet, t0: number): Promise<void> {
    const tr = performance.now();
    const r = renderRules(state, this.renderOptions(state.node), { services: changed.services }, this.cache);
    const renderMs = performance.now() - tr;
    const plan = planPartialSync(this.applied!, r);
    if (plan.kind === 'full') {
      this.log.v(2).info('comment mode changed (1000-endpoint threshold): full sync');
      await this.syncFull(state, t0);
      return;
    }
    const restoreMs = plan.input ? await this.restore(plan.input, { noFlush: true, counters: true }, plan.tables) : 0;
    this.recordApplied(r, plan.applied, plan.written);
    this.last = {
      kind: 'partial', ...keptInput(plan.input, this.keepRestoreInput), deletedChains: plan.deletedChains,
      renderMs, saveMs: 0, mergeMs: 0, restoreMs, reusedSave: false, totalMs: performance.now() - t0,
    };
  }

  private async clearStalledConnects(): Promise<void> {
    try {
      const n = await this.ct.clearStalledConnects();
      if (n > 0) this.log.info('cleared connections attempted while the service rules were missing', { entries: n });
    } catch (err) {
      this.log.warn('could not clear stalled connections', { error: errorMessage(err) });
    }
  }


  /**
   * The iptables mode ran here when nat holds its canary or a per-service chain. Another mode starting up
   * cleans up after this one only then: the ipvs mode shares KUBE-SERVICES and KUBE-POSTROUTING with it.
   */
  async hasLeftovers(): Promise<boolean> {
    let nat: string;
    try {
      nat = await this.ipt.save('nat');
    } catch {
      return false;
    }
    const chains = parseSave(nat).tables.get('nat')?.chains.keys() ?? [];
    return [...chains].some((chain) => chain === KUBE_PROXY_CANARY || isServiceChainName(chain));
  }

  /**
   * cleanup: removes every chain kpx (or kube-proxy's iptables mode) makes in nat and filter, the canary
   * chains, and the jumps to them from built-in chains. Nothing else: other programs' rules stay as they
   * are, and KUBE-FIREWALL stays (kubelet owns it too, and route_localnet may still be set). Idempotent.
   */
  async cleanup(): Promise<void> {
    this.savedTables.forget();
    const plan = cleanupInput(parseSave(await this.ipt.save()));
    for (const c of plan.keptReferenced) this.log.warn('chain still referenced by another program: flushed, not deleted', { chain: c });
    if (plan.input) await this.ipt.restore(plan.input, { noFlush: true });
    this.applied = undefined;
    this.prevServices = undefined;
    this.lastWritten = undefined;
    this.initDone = false;
  }

  async close(): Promise<void> {
    // Nothing runs in the background; the rules stay in the kernel.
  }
}
