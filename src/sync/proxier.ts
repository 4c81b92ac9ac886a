/**
 * proxier.ts: the sync loop's heart. It is the SourceHandler the source feeds; it records changes in the
 * trackers, asks the bounded-frequency runner for a sync, and on each sync turns the pending changes into
 * one ProxyState per IP family and one ChangeSet, hands them to each family's Backend, and reports the
 * outcome to health, metrics and the per-service health-check server.
 *
 * Like kube-proxy, nothing is programmed before Services AND EndpointSlices have both been listed once
 * (isInitialized()), so a half-listed cluster never wipes rules that are still correct. Dual-stack is one
 * Backend per family behind this one proxier (kube-proxy's metaproxier): one runner, one ChangeSet, and a
 * failure in either family makes the next sync full for both.
 */
import { channel } from 'node:diagnostics_channel';
import type { ApiKind } from '../model/api.js';
import type { ChangeSet, IPFamily, ProxyState, ServiceKey } from '../model/types.js';
import type { Backend, SyncResult } from '../backend.js';
import type { ProxyMetrics } from '../server/metrics.js';
import type { ClusterObject, SourceHandler } from '../source/types.js';
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import type { Clock } from '../util/clock.js';
import { ClusterCache, type PendingChanges } from './cluster-cache.js';
import { BoundedFrequencyRunner, type RunOutcome, type SyncRequest } from './runner.js';
import { noLocalEndpointCounts, serviceHealthEntries, type ServiceHealthEntry } from './service-health-entries.js';
import { ProxyStateBuilder } from './state-builder.js';

/**
 * Diagnostics channels (undici's pattern): kpx:sync:start carries { full, changed } when a sync begins,
 * kpx:sync:end adds { ok, seconds, results } when it ends. Free when nobody subscribes.
 */
export const syncStartChannel = channel('kpx:sync:start');
export const syncEndChannel = channel('kpx:sync:end');

/** The part of ProxyHealth (src/server/proxy-health.ts) the proxier drives. */
export interface HealthRecorder {
  queuedUpdate(family: IPFamily): void;
  updated(family: IPFamily): void;
  setNodeEligible(eligible: boolean): void;
}

/** The part of ServiceHealthServer (src/server/service-health.ts) the proxier drives. */
export interface ServiceHealthSyncer {
  sync(entries: readonly ServiceHealthEntry[]): Promise<void>;
}

/** kube-proxy's proxyutil.FullSyncPeriod: a full rewrite at most hourly, besides start and failures. */
export const FULL_SYNC_PERIOD_MS = 60 * 60_000;

export interface ProxierOptions {
  readonly nodeName: string;
  /** One backend per IP family, in the order they are synced. */
  readonly backends: readonly Backend[];
  readonly hostAddresses: readonly string[];
  readonly nodePortAddresses: readonly string[];
  readonly localhostNodePorts: boolean;
  readonly minSyncPeriodMs: number;
  readonly syncPeriodMs: number;
  /**
   * At most this long between two full syncs (default FULL_SYNC_PERIOD_MS, kube-proxy's FullSyncPeriod). The
   * syncs of the sync period in between are partial: a mode checks there that the kernel holds its rules.
   */
  readonly fullSyncPeriodMs?: number;
  /** First retry delay after a failed sync (default 1 s, doubling up to the sync period). */
  readonly retryInitialMs?: number;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: ProxyMetrics;
  readonly health?: HealthRecorder;
  readonly serviceHealth?: ServiceHealthSyncer;
  /**
   * Runs before the first sync, once Services and EndpointSlices are listed: the other modes' cleanup and
   * backend.init(). Retried (with the sync's backoff) until it succeeds; no sync runs before it has.
   */
  readonly prepare?: () => Promise<void>;
}

/** What the last sync did (for logs and tests). */
export interface SyncReport {
  readonly full: boolean;
  readonly changeSet: ChangeSet;
  readonly results: ReadonlyMap<IPFamily, SyncResult>;
}

export class Proxier implements SourceHandler {
  readonly cache: ClusterCache;
  private readonly opts: ProxierOptions;
  private readonly builder: ProxyStateBuilder;
  private readonly runner: BoundedFrequencyRunner;
  private readonly families: readonly IPFamily[];
  private started = false;
  private prepared = false;
  private last: SyncReport | undefined;
  private readonly unsynced = new Set<ServiceKey>();

  constructor(opts: ProxierOptions) {
    this.opts = opts;
    this.families = opts.backends.map((b) => b.family);
    if (new Set(this.families).size !== this.families.length) throw new Error('proxier: one backend per IP family');
    this.cache = new ClusterCache({
      nodeName: opts.nodeName,
      clock: opts.clock,
      log: opts.log,
      metrics: opts.metrics,
      onChange: (_kind, needsFull) => this.changed(needsFull),
      onNodeEligibility: (eligible) => opts.health?.setNodeEligible(eligible),
      onInitialized: () => this.maybeStartRunner(),
    });
    this.builder = new ProxyStateBuilder({
      families: this.families,
      nodeName: opts.nodeName,
      hostAddresses: opts.hostAddresses,
      nodePortAddresses: opts.nodePortAddresses,
      localhostNodePorts: opts.localhostNodePorts,
      log: opts.log,
    });
    this.runner = new BoundedFrequencyRunner({
      name: 'sync-proxy-rules',
      fn: (req) => this.syncOnce(req),
      clock: opts.clock,
      minIntervalMs: opts.minSyncPeriodMs,
      maxIntervalMs: opts.syncPeriodMs,
      fullSyncPeriodMs: opts.fullSyncPeriodMs ?? FULL_SYNC_PERIOD_MS,
      // kube-proxy's burstSyncs: a Service and its EndpointSlice, arriving one after the other, are both
      // programmed at once instead of the second waiting for the min-sync-period.
      burstRuns: 2,
      retryInitialMs: opts.retryInitialMs,
      log: opts.log,
    });
  }

  // SourceHandler: record only; the runner decides when to sync.
  upsert(event: ClusterObject): void {
    this.cache.upsert(event);
  }

  remove(event: ClusterObject): void {
    this.cache.remove(event);
  }

  synced(kind: ApiKind): void {
    this.cache.synced(kind);
  }

  /** Arms the loop: the first (full) sync runs once Services and EndpointSlices are both synced. */
  start(): void {
    this.started = true;
    this.maybeStartRunner();
  }

  /** Stops syncing; resolves after the sync in flight (if any) has finished. Kernel state is left alone. */
  async stop(): Promise<void> {
    this.started = false;
    await this.runner.stop();
  }

  /** The states of the last build, by family (empty before the first sync). */
  states(): Map<IPFamily, ProxyState> {
    return this.builder.current();
  }

  get lastSync(): SyncReport | undefined {
    return this.last;
  }

  private maybeStartRunner(): void {
    if (this.started && this.cache.isInitialized()) this.runner.start();
  }

  private changed(needsFull: boolean): void {
    if (!this.cache.isInitialized()) {
      // Before the initial lists are in, changes only accumulate; the first sync is full anyway.
      return;
    }
    for (const f of this.families) this.opts.health?.queuedUpdate(f);
    for (const f of this.families) this.opts.metrics.syncProxyRulesLastQueuedTimestamp.set({ ip_family: f }, this.opts.clock.now() / 1000);
    if (needsFull) this.runner.requestFullSync();
    else this.runner.run();
  }

  private async syncOnce(req: SyncRequest): Promise<RunOutcome> {
    const { clock, log, metrics } = this.opts;
    if (!this.prepared && this.opts.prepare) {
      try {
        await this.opts.prepare();
        this.prepared = true;
      } catch (err) {
        log.error('preparing the node for the first sync failed; will retry', { error: errorMessage(err) });
        return 'failed';
      }
    }
    const changes = this.cache.take();
    let states: Map<IPFamily, ProxyState>;
    try {
      states = this.builder.build(this.cache, changes.services);
    } catch (err) {
      log.error('building the proxy state failed', { error: errorMessage(err) });
      this.cache.requeue(changes);
      return 'failed';
    }
    // Only services whose proxy view changed reach the modes: an edit that changes no ServicePort writes nothing.
    // Changes stay listed until a sync has written them (the builder already holds them after a failed one).
    for (const key of this.builder.lastBuild.changedServices) this.unsynced.add(key);
    const changed: ReadonlySet<ServiceKey> = new Set(this.unsynced);
    const changeSet: ChangeSet = { full: req.full, services: changed };
    const results = new Map<IPFamily, SyncResult>();
    const syncStartedAt = clock.now();
    if (syncStartChannel.hasSubscribers) syncStartChannel.publish({ full: req.full, changed: [...changed] });
    let ok = true;
    for (const backend of this.opts.backends) {
      const state = states.get(backend.family);
      if (!state) continue;
      const t0 = clock.now();
      let res: SyncResult;
      try {
        res = await backend.sync(state, changeSet);
      } catch (err) {
        // Backends promise never to throw; one that does is treated as a failed sync, not a crash.
        res = { ok: false, error: { code: 'KPX_BACKEND_THREW', message: errorMessage(err) } };
      }
      const seconds = Math.max(0, clock.now() - t0) / 1000;
      const family = { ip_family: backend.family };
      metrics.syncProxyRulesDuration.observe(family, seconds);
      (req.full ? metrics.syncFullProxyRulesDuration : metrics.syncPartialProxyRulesDuration).observe(family, seconds);
      results.set(backend.family, res);
      if (res.ok) {
        metrics.syncProxyRulesLastTimestamp.set(family, clock.now() / 1000);
        this.opts.health?.updated(backend.family);
        log.v(2).info('synced proxy rules', { family: backend.family, full: req.full, changed: changed.size, seconds });
      } else {
        ok = false;
        log.error('syncing proxy rules failed', { family: backend.family, full: req.full, code: res.error.code, error: res.error.message.split('\n')[0] });
      }
    }
    this.last = { full: req.full, changeSet, results };
    if (syncEndChannel.hasSubscribers) {
      syncEndChannel.publish({ full: req.full, changed: [...changed], ok, seconds: (clock.now() - syncStartedAt) / 1000, results });
    }
    if (!ok) {
      this.cache.requeue(changes);
      return 'failed';
    }
    this.unsynced.clear();
    const now = clock.now();
    for (const [f, state] of states) {
      const ip_family = f;
      for (const times of changes.endpoints.triggerTimes.values()) {
        for (const t of times) metrics.networkProgrammingDuration.observe({ ip_family }, Math.max(0, now - t) / 1000);
      }
      const noLocal = noLocalEndpointCounts(state);
      metrics.noLocalEndpointsTotal.set({ ip_family, traffic_policy: 'internal' }, noLocal.internal);
      metrics.noLocalEndpointsTotal.set({ ip_family, traffic_policy: 'external' }, noLocal.external);
    }
    if (this.opts.serviceHealth) {
      try {
        await this.opts.serviceHealth.sync(serviceHealthEntries(states));
      } catch (err) {
        log.warn('updating the service health-check servers failed', { error: errorMessage(err) });
      }
    }
    return 'ok';
  }
}

export type { PendingChanges };
