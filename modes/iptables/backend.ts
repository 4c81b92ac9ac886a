/**
 * backend.ts: the iptables mode's Backend: render (pure) → choose what to write → one iptables-restore.
 *
 * Full vs. partial sync (kube-proxy's MinimizeIPTablesRestore): after a successful full sync, a sync
 * writes only the chains of the services in the ChangeSet, the dispatch chains whose text changed, and
 * `-X` for chains that are gone. It falls back to a full sync at start, on every full ChangeSet (the
 * sync-period), after any failure, when the comment mode flips (more/fewer than 1000 endpoints), and when
 * the KUBE-PROXY-CANARY chain in mangle is missing (someone flushed the tables).
 *
 * How a full sync is written. Measured here (notes/iptables-restore-scaling.md, and perf/sync/iptables-5k.ts):
 * with the nft backend, `iptables-restore --noflush` of a whole ruleset costs roughly quadratic time in
 * userspace (5,000 services × 2 endpoints: ~7 s), while a restore *without* --noflush, which replaces each
 * named table whole, takes ~1 s for the same rules. kube-proxy uses --noflush, which is why it spends ~7.5 s
 * per full sync at that size. kpx therefore does a full sync as a whole-table restore of nat and filter:
 * it reads the tables with iptables-save, keeps every chain and rule it does not own verbatim (other
 * programs' rules, the built-in chains' policies and counters, the canary), adds its jumps if missing, and
 * appends its freshly rendered chains. The read costs ~0.4 s at 5k services (iptables-nft-save prints
 * kpx's own 40k rules too), so it is skipped when nf_tables' ruleset generation shows that nobody but kpx
 * committed anything since the last read: kpx counts its own commits (one per table restored) and
 * compares; any other commit, in any table, makes the numbers differ and the tables are read again.
 * With the legacy backend (no generation) they are always read; legacy's save is cheap.
 * Caveats: the packet/byte counters of rules in nat and filter (other programs' too) restart from zero at
 * each full sync, since the tables are rebuilt; and a rule another program commits between our read and
 * our restore (a window of a few hundred ms, once per sync-period) would be lost; with the nft backend no lock prevents that (iptables-nft takes no
 * xtables lock). If that matters on a node, construct the backend with fullSyncStrategy 'noflush'
 * (kube-proxy's behaviour). kpx also falls back to --noflush by itself when iptables-save reports a table
 * it cannot print faithfully (nft objects iptables does not know).
 * Partial syncs always use --noflush: they name only a few chains, which is cheap.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BackendOptions } from '../../src/backend.js';
import type { Backend, ChangeSet, IPFamily, ProxyState, ServicePort, ServicePortKey, SyncResult } from '../../src/model/types.js';
import { Conntrack, type ConntrackClient } from '../../src/net/conntrack.js';
import { Iptables, type IptablesClient, type IptablesTable } from '../../src/net/iptables.js';
import { Sysctl, type SysctlClient } from '../../src/net/sysctl.js';
import { IptablesRestoreError, KpxError, errorMessage } from '../../src/util/errors.js';
import type { Logger } from '../../src/util/log.js';
import { KUBE_PROXY_CANARY, isServiceChainName } from './chain-names.js';
import { planDispatchEdit, type DispatchEdit } from './dispatch-edit.js';
import { JUMP_RULES, KUBELET_FIREWALL_JUMPS, jumpArgs, type JumpRule } from './jumps.js';
import { RenderCache, cidrContains, renderRules, toRestoreInput, type RenderOptions, type RenderedRules } from './render.js';
import { staleConntrackFilters } from './stale-conntrack.js';
import { cleanupInput, parseSave, wholeTableInput, type SavedRuleset } from './table-merge.js';

export type FullSyncStrategy = 'replace-tables' | 'noflush';

/** How often a partial sync looks for the mangle canary (kube-proxy polls it every sync-period). */
export const CANARY_CHECK_INTERVAL_MS = 5_000;

export interface IptablesBackendExtras {
  /** Drive a named network namespace from outside (tests, sandbox, perf). */
  readonly netns?: string;
  /** See the file comment; default 'replace-tables'. */
  readonly fullSyncStrategy?: FullSyncStrategy;
  /** Override the iptables / conntrack / sysctl clients (tests: unit tests must never touch the host). */
  readonly iptables?: IptablesClient;
  readonly conntrack?: ConntrackClient;
  readonly sysctl?: SysctlClient;
  /** Minimum time between two canary checks by partial syncs (default CANARY_CHECK_INTERVAL_MS). */
  readonly canaryCheckIntervalMs?: number;
  /** Keep every restore input whole in lastSync, however large (perf/sync restores it again). */
  readonly keepRestoreInput?: boolean;
}

/** What the last sync did (for logs, tests and perf). */
export interface LastSyncInfo {
  readonly kind: 'full' | 'partial' | 'none';
  /**
   * The restore input when it is at most KEPT_INPUT_CHARS (a partial sync's, a small cluster's) or the
   * backend keeps every input, else "": a full sync's input at 10,000 services is 8 MiB that would stay in
   * the heap until the next sync.
   */
  readonly input: string;
  readonly inputLength: number;
  readonly deletedChains: readonly string[];
  readonly renderMs: number;
  /** Reading the current tables (full syncs with 'replace-tables'). */
  readonly saveMs: number;
  /** Building the restore input from the saved tables and the render. */
  readonly mergeMs: number;
  readonly restoreMs: number;
  /** A full sync reused the last iptables-save because nothing but kpx changed any rule since. */
  readonly reusedSave: boolean;
  readonly totalMs: number;
}

const KEPT_INPUT_CHARS = 256 * 1024;

function keptInput(input: string, keepAll: boolean): { input: string; inputLength: number } {
  return { input: keepAll || input.length <= KEPT_INPUT_CHARS ? input : '', inputLength: input.length };
}

interface IptablesMetrics {
  restoreFailures: Counter;
  partialRestoreFailures: Counter;
  rulesTotal: Gauge<'table'>;
  rulesLast: Gauge<'table'>;
}

/** Registers (or reuses, for the second family of a dual-stack node) kube-proxy's iptables metrics. */
function iptablesMetrics(registry: Registry): IptablesMetrics {
  const get = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  const registers = [registry];
  return {
    restoreFailures: get('kubeproxy_sync_proxy_rules_iptables_restore_failures_total', () => new Counter({
      name: 'kubeproxy_sync_proxy_rules_iptables_restore_failures_total', help: 'Cumulative proxy iptables restore failures', registers })),
    partialRestoreFailures: get('kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total', () => new Counter({
      name: 'kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total', help: 'Cumulative proxy iptables partial restore failures', registers })),
    rulesTotal: get('kubeproxy_sync_proxy_rules_iptables_total', () => new Gauge({
      name: 'kubeproxy_sync_proxy_rules_iptables_total', help: 'Total number of iptables rules owned by kube-proxy', labelNames: ['table'], registers })),
    rulesLast: get('kubeproxy_sync_proxy_rules_iptables_last', () => new Gauge({
      name: 'kubeproxy_sync_proxy_rules_iptables_last', help: 'Number of iptables rules written by kube-proxy in last sync', labelNames: ['table'], registers })),
  };
}

/** Applied state remembered after a successful sync, to plan the next partial one. */
interface Applied {
  readonly dispatch: ReadonlyMap<string, readonly string[]>;
  readonly filter: readonly string[];
  readonly activeNatChains: ReadonlySet<string>;
  readonly largeClusterMode: boolean;
}

/** Same rule lines in the same order (cached renders share the strings, so this is mostly pointer compares). */
function sameLines(a: readonly string[], b: readonly string[] | undefined): boolean {
  if (!b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class IptablesBackend implements Backend {
  readonly mode = 'iptables' as const;
  readonly family: IPFamily;
  readonly ipt: IptablesClient;
  private readonly ct: ConntrackClient;
  private readonly sysctl: SysctlClient;
  private readonly opts: BackendOptions;
  private readonly log: Logger;
  private readonly strategy: FullSyncStrategy;
  private readonly metrics: IptablesMetrics;
  private readonly cache = new RenderCache();
  private applied: Applied | undefined;
  /** The services of the last successful sync (stale-conntrack planning); undefined before the first. */
  private prevServices: ReadonlyMap<ServicePortKey, ServicePort> | undefined;
  private needFullSync = true;
  private lastCanaryCheck = -Infinity;
  private readonly canaryCheckIntervalMs: number;
  private readonly keepRestoreInput: boolean;
  private randomFully: boolean | undefined;
  private tcpBeLiberal = false;
  private initDone = false;
  /** init had to add kpx's jumps: the service rules were missing until the next full sync (see syncFull). */
  private jumpsAddedAtInit = false;
  private last: LastSyncInfo = { kind: 'none', input: '', inputLength: 0, deletedChains: [], renderMs: 0, saveMs: 0, mergeMs: 0, restoreMs: 0, reusedSave: false, totalMs: 0 };
  /**
   * The tables as last read with iptables-save, and the nf_tables generation they will be current at as
   * long as only kpx commits (each of kpx's restores adds one commit per table in it). undefined = unknown.
   */
  private foreign: { saved: SavedRuleset; expectedGen: number } | undefined;

  constructor(opts: BackendOptions, extras: IptablesBackendExtras = {}) {
    this.opts = opts;
    this.family = opts.family;
    this.log = opts.log.child({ mode: 'iptables', family: opts.family });
    this.ipt = extras.iptables ?? new Iptables({
      family: opts.family, netns: extras.netns,
      onLockWait: (attempt) => this.log.warn('another program holds the xtables lock: waiting and retrying', { attempt }),
    });
    this.ct = extras.conntrack ?? new Conntrack({ family: opts.family, netns: extras.netns });
    this.strategy = extras.fullSyncStrategy ?? 'replace-tables';
    this.sysctl = extras.sysctl ?? new Sysctl(extras.netns);
    this.canaryCheckIntervalMs = extras.canaryCheckIntervalMs ?? CANARY_CHECK_INTERVAL_MS;
    this.keepRestoreInput = extras.keepRestoreInput ?? false;
    this.metrics = iptablesMetrics(opts.registry);
  }

  get lastSync(): LastSyncInfo {
    return this.last;
  }

  /** Whether this node serves IPv4 localhost NodePorts (kube-proxy: the flag, and nodePortAddresses covering 127.0.0.1). */
  private localhostNodePorts(): boolean {
    const npa = this.opts.config.nodePortAddresses;
    return this.family === 'IPv4' && this.opts.config.iptables.localhostNodePorts &&
      (npa.length === 0 || npa.some((c) => c === 'localhost' || cidrContains(c, '127.0.0.1')));
  }

  private jumps(): JumpRule[] {
    return this.localhostNodePorts() ? [...JUMP_RULES, ...KUBELET_FIREWALL_JUMPS] : [...JUMP_RULES];
  }

  /** init: sysctls of this namespace, the canary chains, the base chains and the jumps to them. Idempotent. */
  async init(): Promise<void> {
    this.foreign = undefined;
    if (this.localhostNodePorts()) {
      // NodePorts on 127.0.0.1 need the kernel to route "martian" loopback destinations (kubernetes#90259;
      // KUBE-FIREWALL then drops such packets arriving from outside).
      this.log.info('setting route_localnet=1 to allow node-ports on localhost');
      if (!(await this.sysctl.ensure('net.ipv4.conf.all.route_localnet', 1))) {
        throw new KpxError('KPX_SYSCTL', 'cannot set net.ipv4.conf.all.route_localnet=1 (needed for localhost NodePorts)');
      }
    }
    // Bridged pod-to-pod replies must pass through iptables to be un-DNATed (when br_netfilter is present).
    const key = this.family === 'IPv6' ? 'net.bridge.bridge-nf-call-ip6tables' : 'net.bridge.bridge-nf-call-iptables';
    await this.sysctl.ensure(key, 1);
    this.tcpBeLiberal = (await this.sysctl.read('net.netfilter.nf_conntrack_tcp_be_liberal')) === '1';
    this.randomFully = await this.ipt.hasRandomFully();
    for (const table of ['mangle', 'nat', 'filter'] as IptablesTable[]) await this.ipt.ensureChain(table, KUBE_PROXY_CANARY);
    this.jumpsAddedAtInit = await this.ensureJumps();
    this.initDone = true;
  }

  /** Resolves true when a jump was missing and added. */
  private async ensureJumps(): Promise<boolean> {
    let added = false;
    for (const j of this.jumps()) {
      await this.ipt.ensureChain(j.table, j.to);
      if (!(await this.ipt.ensureRule('prepend', j.table, j.from, jumpArgs(j)))) added = true;
    }
    return added;
  }

  renderOptions(): RenderOptions {
    return {
      family: this.family,
      masqueradeAll: this.opts.config.iptables.masqueradeAll,
      masqueradeBit: this.opts.config.iptables.masqueradeBit,
      clusterCIDR: this.opts.clusterCIDR,
      randomFully: this.randomFully ?? true,
      conntrackTCPLiberal: this.tcpBeLiberal,
    };
  }

  /** Forces the next sync to be full (kube-proxy's needFullSync). */
  requestFullSync(): void {
    this.needFullSync = true;
  }

  async sync(state: ProxyState, changed: ChangeSet): Promise<SyncResult> {
    const t0 = performance.now();
    let partial = false;
    try {
      if (!this.initDone) await this.init();
      partial = !changed.full && !this.needFullSync && this.applied !== undefined;
      // Like kube-proxy's iptables Monitor, the canary is polled, not checked on every sync: a check costs
      // an exec (~20-40 ms), a large share of a one-endpoint sync. A flush in between also makes the next
      // partial restore fail (its jumps to KUBE-MARK-MASQ dangle), which forces a full sync anyway.
      if (partial && performance.now() - this.lastCanaryCheck >= this.canaryCheckIntervalMs) {
        this.lastCanaryCheck = performance.now();
        const flushed = await this.flushedTable();
        if (flushed) {
          this.log.info('KUBE-PROXY-CANARY is gone (table flushed?): doing a full sync', { table: flushed });
          partial = false;
        }
      }
      if (partial) await this.syncPartial(state, changed, t0);
      else await this.syncFull(state, t0);
      this.needFullSync = false;
    } catch (err) {
      this.needFullSync = true;
      // As kube-proxy: restore failures count iptables-restore rejecting input; a partial sync counts
      // as failed whatever went wrong (its changes are lost, so the next sync is full).
      if (err instanceof IptablesRestoreError) this.metrics.restoreFailures.inc();
      if (partial) this.metrics.partialRestoreFailures.inc();
      const error = err instanceof KpxError ? err : new KpxError('KPX_IPTABLES_SYNC', errorMessage(err), { cause: err });
      this.log.error('iptables sync failed', { partial, error: error.message });
      return { ok: false, retry: true, error };
    }
    await this.cleanConntrack(state);
    this.prevServices = state.services;
    return { ok: true };
  }

  private recordApplied(r: RenderedRules): void {
    const dispatch = new Map(r.natDispatch);
    this.applied = {
      dispatch, filter: r.filterRules, activeNatChains: r.activeNatChains,
      largeClusterMode: r.largeClusterMode,
    };
    this.metrics.rulesTotal.set({ table: 'filter' }, r.totalRules.filter);
    this.metrics.rulesTotal.set({ table: 'nat' }, r.totalRules.nat);
    const gauge = this.opts.registry.getSingleMetric('kubeproxy_sync_proxy_rules_no_local_endpoints_total') as Gauge<'traffic_policy'> | undefined;
    gauge?.set({ traffic_policy: 'internal' }, r.noLocalEndpoints.internal);
    gauge?.set({ traffic_policy: 'external' }, r.noLocalEndpoints.external);
  }

  private async syncFull(state: ProxyState, t0: number): Promise<void> {
    const tr = performance.now();
    const r = renderRules(state, this.renderOptions(), {}, this.cache);
    const renderMs = performance.now() - tr;
    let input: string;
    let deleted: string[] = [];
    let restoreMs: number;
    let saved: ReturnType<typeof parseSave> | undefined;
    let saveMs = 0;
    let mergeMs = 0;
    let reusedSave = false;
    if (this.strategy === 'replace-tables') {
      const tsv = performance.now();
      // nf_tables' generation says whether anyone committed anything since kpx's own last restore; if not,
      // the foreign rules read at the last save are still exactly what is there and the save (~0.4 s at
      // 5k services, most of it printing kpx's own rules) is skipped. Read before saving, so a commit that
      // races the save makes the next comparison fail (and save again) rather than pass.
      const gen = await this.ipt.generation();
      if (this.foreign && gen !== undefined && gen === this.foreign.expectedGen) {
        saved = this.foreign.saved;
        reusedSave = true;
      } else {
        // One iptables-save for all tables: iptables-nft-save fetches the whole ruleset even with -t.
        saved = parseSave(await this.ipt.save());
        this.foreign = gen === undefined ? undefined : { saved, expectedGen: gen };
        if (!saved.tables.get('mangle')?.chains.has(KUBE_PROXY_CANARY)) {
          // Creating it is a commit of its own that kpx does not count: read the tables next time.
          if (!(await this.ipt.ensureChain('mangle', KUBE_PROXY_CANARY))) this.foreign = undefined;
        }
      }
      saveMs = performance.now() - tsv;
      this.lastCanaryCheck = performance.now();
    }
    if (saved && !saved.incompatible.has('nat') && !saved.incompatible.has('filter')) {
      const tm = performance.now();
      const whole = wholeTableInput(saved, r, this.jumps());
      input = whole.input;
      mergeMs += performance.now() - tm;
      if (whole.addedJumps.length) this.log.v(2).info('re-adding jumps to kpx chains', { jumps: whole.addedJumps.map((j) => `${j.table}/${j.from}->${j.to}`) });
      const ts = performance.now();
      try {
        // --counters keeps the built-in chains' policy counters from a fresh save; from a reused one they
        // would jump back, so they restart instead. (Rule counters restart either way: see the file comment.)
        await this.ipt.restore(input, { counters: !reusedSave });
      } catch (err) {
        this.foreign = undefined;
        throw err;
      }
      restoreMs = performance.now() - ts;
      this.countOwnCommits(input);
      // The service rules were missing (first sync, or someone flushed them): connections attempted meanwhile
      // sit untranslated in SYN_SENT and would trap a client that reuses their source port. A fresh save is
      // required: a reused one predates kpx's own last write and would report its jumps as missing.
      // init adding the jumps (a node kpx never ran on) says the same.
      if ((whole.addedJumps.length && !reusedSave) || this.jumpsAddedAtInit) await this.clearStalledConnects();
      this.jumpsAddedAtInit = false;
    } else {
      // kube-proxy's way: ensure jumps one by one, then --noflush everything, deleting stale chains.
      this.foreign = undefined;
      if (saved) this.log.warn('iptables-save shows a table it cannot print faithfully; full sync with --noflush');
      await this.ensureJumps();
      for (const table of ['mangle', 'nat', 'filter'] as IptablesTable[]) await this.ipt.ensureChain(table, KUBE_PROXY_CANARY);
      const existing = parseSave(await this.ipt.save('nat')).tables.get('nat');
      deleted = existing ? [...existing.chains.keys()].filter((c) => isServiceChainName(c) && !r.activeNatChains.has(c)) : [];
      input = toRestoreInput(r, { filter: true, natDispatch: r.natDispatch.keys(), deleteChains: deleted });
      const ts = performance.now();
      await this.ipt.restore(input, { noFlush: true, counters: true });
      restoreMs = performance.now() - ts;
    }
    this.recordApplied(r);
    this.metrics.rulesLast.set({ table: 'filter' }, r.totalRules.filter);
    this.metrics.rulesLast.set({ table: 'nat' }, r.totalRules.nat);
    this.last = { kind: 'full', ...keptInput(input, this.keepRestoreInput), deletedChains: deleted, renderMs, saveMs, mergeMs, restoreMs, reusedSave, totalMs: performance.now() - t0 };
  }

  private async syncPartial(state: ProxyState, changed: ChangeSet, t0: number): Promise<void> {
    const prev = this.applied!;
    const tr = performance.now();
    const r = renderRules(state, this.renderOptions(), { services: changed.services }, this.cache);
    const renderMs = performance.now() - tr;
    if (r.largeClusterMode !== prev.largeClusterMode) {
      // Every endpoint rule's text changes with the comment mode: rewrite everything.
      this.log.v(2).info('comment mode changed (1000-endpoint threshold): full sync');
      await this.syncFull(state, t0);
      return;
    }
    // Dispatch chains hold one rule per service; at 5k services rewriting KUBE-SERVICES alone costs
    // ~0.4 s with --noflush, so a chain is rewritten only when its text differs from what was written.
    // (Nothing else writes these chains; a flush by someone else is caught by the canary.)
    const changedDispatch = [...r.natDispatch.keys()].filter((c) => !sameLines(r.natDispatch.get(c)!, prev.dispatch.get(c)));
    // A large KUBE-SERVICES is changed rule by rule (dispatch-edit.ts); the others are rewritten.
    const edits = new Map<string, DispatchEdit>();
    for (const c of changedDispatch) {
      const edit = planDispatchEdit(c, prev.dispatch.get(c) ?? [], r.natDispatch.get(c)!);
      if (edit) edits.set(c, edit);
    }
    const dispatch = changedDispatch.filter((c) => !edits.has(c));
    const filterChanged = !sameLines(r.filterRules, prev.filter);
    const deleted = [...prev.activeNatChains].filter((c) => !r.activeNatChains.has(c));
    const input = toRestoreInput(r, { filter: filterChanged, natDispatch: dispatch, deleteChains: deleted, natDispatchEdits: edits });
    let restoreMs = 0;
    if (input) {
      const ts = performance.now();
      try {
        await this.ipt.restore(input, { noFlush: true, counters: true });
      } catch (err) {
        this.foreign = undefined;
        throw err;
      }
      restoreMs = performance.now() - ts;
      this.countOwnCommits(input);
    }
    this.recordApplied(r);
    let written = r.serviceRules.length + deleted.length;
    for (const c of dispatch) written += r.natDispatch.get(c)!.length;
    for (const e of edits.values()) written += e.deletes.length + e.inserts.length;
    this.metrics.rulesLast.set({ table: 'filter' }, filterChanged ? r.totalRules.filter : 0);
    this.metrics.rulesLast.set({ table: 'nat' }, written);
    this.last = { kind: 'partial', ...keptInput(input, this.keepRestoreInput), deletedChains: deleted, renderMs, saveMs: 0, mergeMs: 0, restoreMs, reusedSave: false, totalMs: performance.now() - t0 };
  }

  /**
   * Like kube-proxy's iptables monitor, a canary chain in every table kpx writes: one gone means someone
   * flushed that table. mangle's is cheap to look at; nat's and filter's (large tables at scale) only when a
   * program other than kpx committed since kpx's last write, which nf_tables' generation tells for free.
   */
  private async flushedTable(): Promise<IptablesTable | undefined> {
    if (!(await this.ipt.chainExists('mangle', KUBE_PROXY_CANARY))) return 'mangle';
    const gen = await this.ipt.generation();
    if (gen !== undefined && this.foreign && gen === this.foreign.expectedGen) return undefined;
    for (const table of ['nat', 'filter'] as const) {
      if (!(await this.ipt.chainExists(table, KUBE_PROXY_CANARY))) return table;
    }
    return undefined;
  }

  /** iptables-nft-restore commits each table of its input as one nf_tables transaction. */
  private countOwnCommits(input: string): void {
    if (!this.foreign) return;
    let commits = 0;
    for (let i = input.indexOf('COMMIT\n'); i >= 0; i = input.indexOf('COMMIT\n', i + 7)) commits++;
    this.foreign.expectedGen += commits;
  }

  private async clearStalledConnects(): Promise<void> {
    try {
      const n = await this.ct.clearStalledConnects();
      if (n > 0) this.log.info('cleared connections attempted while the service rules were missing', { entries: n });
    } catch (err) {
      this.log.warn('could not clear stalled connections', { error: errorMessage(err) });
    }
  }

  /** After the rules are in: clear UDP flows the change made stale. Failures are logged, never fatal. */
  private async cleanConntrack(state: ProxyState): Promise<void> {
    const filters = staleConntrackFilters(this.prevServices, state.services);
    for (const f of filters) {
      try {
        await this.ct.delete(f);
      } catch (err) {
        this.log.warn('failed to delete stale conntrack entries', { filter: f, error: errorMessage(err) });
      }
    }
  }

  /**
   * cleanup: removes every chain kpx (or kube-proxy's iptables mode) makes in nat and filter, the canary
   * chains, and the jumps to them from built-in chains. Nothing else: other programs' rules stay as they
   * are, and KUBE-FIREWALL stays (kubelet owns it too, and route_localnet may still be set). Idempotent.
   */
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
    return [...nat.matchAll(/^:(KUBE-\S+)/gm)].some(([, chain]) => chain === KUBE_PROXY_CANARY || isServiceChainName(chain!));
  }

  async cleanup(): Promise<void> {
    this.foreign = undefined;
    const plan = cleanupInput(parseSave(await this.ipt.save()));
    for (const c of plan.keptReferenced) this.log.warn('chain still referenced by another program: flushed, not deleted', { chain: c });
    if (plan.input) await this.ipt.restore(plan.input, { noFlush: true });
    this.applied = undefined;
    this.prevServices = undefined;
    this.needFullSync = true;
    this.initDone = false;
  }

  async close(): Promise<void> {
    // Nothing runs in the background; the rules stay in the kernel.
  }
}
