/**
 * runner.ts: the bounded-frequency sync runner (kube-proxy's BoundedFrequencyRunner, on a fastq queue of
 * concurrency 1 and an injected Clock).
 *
 * BoundedFrequencyRunner guarantees, like kube-proxy's:
 *  1. The sync function runs at most burstRuns times back to back and otherwise no more often than once per
 *     minIntervalMs (a token bucket: one token per minIntervalMs, at most burstRuns saved up; measured start
 *     to start), and never twice at once: one sync is in flight at most, and any number of run() calls made
 *     meanwhile collapse into one pending sync. kube-proxy passes a burst of 2, so a Service and its
 *     EndpointSlice arriving one after the other are both programmed without waiting.
 *  2. The sync function runs at least once per maxIntervalMs (the sync period) even when nothing asks for
 *     it, and a *full* sync happens at least once per fullSyncPeriodMs (default: the sync period; the proxier
 *     passes kube-proxy's hour), at
 *     start, after any failed sync, and whenever requestFullSync() was called since the last sync.
 *  3. After a failed sync (a thrown error or a 'failed' outcome) the next sync is full and is retried after
 *     a backoff that doubles from retryInitialMs up to retryMaxMs (default: the sync period). While backing
 *     off, requests wait for the retry: a sync that keeps failing is not hammered by a busy cluster, and the
 *     wait never exceeds the sync period, so guarantee 2 still holds.
 */
import fastq from 'fastq';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';

/** What the runner asks of one sync. */
export interface SyncRequest {
  /** Rewrite everything (start, failure, sync period, requestFullSync()). */
  readonly full: boolean;
}

export type RunOutcome = 'ok' | 'failed';

export interface RunnerOptions {
  readonly name: string;
  readonly fn: (req: SyncRequest) => Promise<RunOutcome>;
  readonly clock: Clock;
  readonly minIntervalMs: number;
  readonly maxIntervalMs: number;
  /** Syncs allowed back to back before minIntervalMs applies (default 1: none). */
  readonly burstRuns?: number;
  /** Default: maxIntervalMs. */
  readonly fullSyncPeriodMs?: number;
  /** First retry delay after a failure (default 1000 ms), doubled per consecutive failure. */
  readonly retryInitialMs?: number;
  /** Default: maxIntervalMs. */
  readonly retryMaxMs?: number;
  readonly log?: Logger;
}

export class BoundedFrequencyRunner {
  private readonly opts: RunnerOptions;
  private readonly clock: Clock;
  private readonly fullSyncPeriodMs: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly queue: fastq.queueAsPromised<void, void>;

  private started = false;
  private stopped = false;
  /** A sync was asked for and has not started yet (the one pending sync). */
  private requested = false;
  private queued = false;
  private inFlight = false;
  private needFull = true;
  private lastRunAt: number | undefined;
  /** Token bucket of guarantee 1: tokens saved up at tokensAt. */
  private tokens: number;
  private tokensAt: number | undefined;
  private readonly burstRuns: number;
  private lastFullAt: number | undefined;
  private consecutiveFailures = 0;
  private retryAt: number | undefined;
  private timer: TimerHandle | undefined;
  private timerDue: number | undefined;

  constructor(opts: RunnerOptions) {
    this.opts = opts;
    this.clock = opts.clock;
    this.fullSyncPeriodMs = opts.fullSyncPeriodMs ?? opts.maxIntervalMs;
    this.retryInitialMs = opts.retryInitialMs ?? 1000;
    this.retryMaxMs = opts.retryMaxMs ?? opts.maxIntervalMs;
    this.burstRuns = Math.max(1, opts.burstRuns ?? 1);
    this.tokens = this.burstRuns;
    this.queue = fastq.promise<unknown, void, void>(() => this.runOnce(), 1);
  }

  /** Starts the loop: the first (full) sync runs as soon as the clock lets it. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.requested = true;
    this.schedule();
  }

  /** Asks for a sync as soon as guarantees 1 and 3 allow; calls made while one is pending collapse. */
  run(): void {
    if (this.stopped) return;
    this.requested = true;
    this.schedule();
  }

  /** Asks for a sync and makes it full (a node change, for instance). */
  requestFullSync(): void {
    this.needFull = true;
    this.run();
  }

  /** True while a sync is running. */
  isRunning(): boolean {
    return this.inFlight;
  }

  /** Stops scheduling; resolves when the sync in flight (if any) has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    await this.queue.drained();
  }

  private schedule(): void {
    if (!this.started || this.stopped || this.inFlight || this.queued) return;
    const now = this.clock.now();
    const earliest = this.earliestStart(now);
    let due: number;
    if (this.retryAt !== undefined) {
      due = Math.max(this.retryAt, earliest);
    } else if (this.requested || this.lastRunAt === undefined) {
      due = Math.max(now, earliest);
    } else {
      const periodic = this.lastRunAt + this.opts.maxIntervalMs;
      const fullDue = (this.lastFullAt ?? this.lastRunAt) + this.fullSyncPeriodMs;
      due = Math.max(Math.min(periodic, fullDue), earliest);
    }
    this.setTimer(due, now);
  }

  /** Tokens saved up at `now` (guarantee 1). */
  private tokensAtTime(now: number): number {
    if (this.tokensAt === undefined || this.opts.minIntervalMs <= 0) return this.burstRuns;
    return Math.min(this.burstRuns, this.tokens + (now - this.tokensAt) / this.opts.minIntervalMs);
  }

  /** When the next sync may start: now while a token is left, else when the next one is earned. */
  private earliestStart(now: number): number {
    const tokens = this.tokensAtTime(now);
    return tokens >= 1 ? now : now + Math.ceil((1 - tokens) * this.opts.minIntervalMs);
  }

  private setTimer(due: number, now: number): void {
    if (this.timer !== undefined && this.timerDue === due) return;
    this.clearTimer();
    this.timerDue = due;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerDue = undefined;
      this.enqueue();
    }, Math.max(0, due - now));
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = undefined;
  }

  private enqueue(): void {
    if (this.stopped || this.inFlight || this.queued) return;
    this.queued = true;
    void this.queue.push();
  }

  private async runOnce(): Promise<void> {
    this.queued = false;
    if (this.stopped) return;
    this.inFlight = true;
    const startedAt = this.clock.now();
    this.tokens = Math.max(0, this.tokensAtTime(startedAt) - 1);
    this.tokensAt = startedAt;
    this.lastRunAt = startedAt;
    this.requested = false;
    const full = this.needFull || this.lastFullAt === undefined || startedAt - this.lastFullAt >= this.fullSyncPeriodMs;
    this.needFull = false;
    let outcome: RunOutcome;
    try {
      outcome = await this.opts.fn({ full });
    } catch (err) {
      this.opts.log?.error('sync failed', { runner: this.opts.name, error: errorMessage(err) });
      outcome = 'failed';
    }
    if (outcome === 'ok') {
      this.consecutiveFailures = 0;
      this.retryAt = undefined;
      if (full) this.lastFullAt = startedAt;
    } else {
      this.consecutiveFailures++;
      this.needFull = true;
      const delay = Math.min(this.retryInitialMs * 2 ** (this.consecutiveFailures - 1), this.retryMaxMs);
      this.retryAt = this.clock.now() + delay;
      this.opts.log?.v(2).info('sync will be retried', { runner: this.opts.name, delayMs: delay, failures: this.consecutiveFailures });
    }
    this.inFlight = false;
    this.schedule();
  }
}
