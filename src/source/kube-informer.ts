/**
 * kube-informer.ts: one kind's list+watch against the API server, on client-node's ListWatch, with the
 * gaps kube-proxy needs closed:
 *  - "synced" exists: client-node's start() also resolves when the list FAILED, so we record a list that
 *    succeeded and report synced once its items have been applied (when the watch after it starts);
 *  - it never gives up: on any error (connection refused, 5xx, a reset stream) ListWatch calls its error
 *    callbacks and stops for good, so we start it again with exponential backoff;
 *  - it never forgets: the same ListWatch (and its cache) is restarted, so it resumes watching from the
 *    last resourceVersion, replays what changed meanwhile, and on 410 Gone relists and reports objects
 *    that vanished as deletions. Nothing is deleted because the API server went away;
 *  - objects are plain API JSON (src/model/api.ts): lists are read raw rather than through client-node's
 *    typed models, which would turn timestamps into Dates and drop fields its models do not know yet.
 */
import { ListWatch, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { ApiKind } from '../model/api.js';
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { clusterObject } from './cluster-object.js';
import type { SourceHandler } from './types.js';

/** A raw list response as the API server sends it. */
export interface RawList {
  metadata?: { resourceVersion?: string };
  items?: KubernetesObject[];
}

export interface InformerSpec {
  kind: ApiKind;
  apiVersion: string;
  /** Collection path, e.g. /api/v1/services. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Lists the collection (with the same selectors) and returns the raw JSON body. */
  list: () => Promise<RawList>;
}

/** The handler's object events; synced is reported for the informer's own kind. */
export type InformerEvents = Pick<SourceHandler, 'upsert' | 'remove'> & { synced(): void };

type WatchCallback = (phase: string, apiObj: any, watchObj?: any) => void;
type DoneCallback = (err: any) => void;

/**
 * GuardedWatch is client-node's Watch with three additions: it asks for bookmarks (so quiet watches
 * keep a fresh resourceVersion and avoid needless relists), it refuses to open once the informer is
 * stopped (ListWatch may otherwise reconnect after stop() when stop lands during its reconnect delay),
 * and it tells the informer when a watch starts and when it connected.
 */
class GuardedWatch extends Watch {
  constructor(kc: KubeConfig, private readonly owner: ResilientInformer) {
    super(kc);
  }

  override async watch(
    path: string, queryParams: Record<string, string | number | boolean | undefined>,
    callback: WatchCallback, done: DoneCallback,
  ): Promise<AbortController> {
    if (this.owner.isStopped) return new AbortController();
    this.owner.watchStarting();
    let finished = false;
    const doneOnce: DoneCallback = (err) => {
      if (finished) return;
      finished = true;
      done(err);
    };
    try {
      const controller = await super.watch(path, { ...queryParams, allowWatchBookmarks: true }, callback, doneOnce);
      if (!finished) this.owner.watchConnected();
      return controller;
    } catch (err) {
      // Thrown before any request (no cluster, credentials unreadable). ListWatch calls watch() from its
      // own reconnect path without catching, which would be an unhandled rejection: report it as a
      // failed watch instead, so the informer's error path retries it.
      doneOnce(err);
      return new AbortController();
    }
  }
}

/** describeError: undici reports "fetch failed" and puts the reason (ECONNREFUSED, ...) in `cause`. */
function describeError(err: unknown): string {
  const msg = errorMessage(err);
  const cause = (err as { cause?: { code?: string; message?: string } } | null)?.cause;
  const why = cause?.code ?? cause?.message;
  return why && !msg.includes(why) ? `${msg}: ${why}` : msg;
}

export class ResilientInformer {
  private readonly lw: ListWatch<KubernetesObject>;
  private readonly backoff: Backoff;
  private stopped = true;
  private listSucceeded = false;
  private hasSynced = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly sleeps = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

  constructor(
    kc: KubeConfig,
    private readonly spec: InformerSpec,
    private readonly events: InformerEvents,
    private readonly log: Logger,
    private readonly backoffOpts: BackoffOptions,
  ) {
    this.backoff = new Backoff(backoffOpts);
    this.lw = new ListWatch<KubernetesObject>(
      spec.path, new GuardedWatch(kc, this), () => this.list() as any, false, spec.labelSelector,
      spec.fieldSelector, { delayFn: (ms) => this.reconnectDelay(ms) },
    );
    this.lw.on('add', (o) => this.deliver('upsert', o));
    this.lw.on('update', (o) => this.deliver('upsert', o));
    this.lw.on('delete', (o) => this.deliver('remove', o));
    this.lw.on('error', (err) => this.failed(err));
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  get synced(): boolean {
    return this.hasSynced;
  }

  /** start begins list+watch; resolves after the first attempt, whether it worked or not. */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    await this.attempt();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    for (const s of this.sleeps) {
      clearTimeout(s.timer);
      s.resolve();
    }
    this.sleeps.clear();
    await this.lw.stop();
  }

  /** Called by GuardedWatch: a list just succeeded and its items are applied, or a watch resumes. */
  watchStarting(): void {
    if (this.listSucceeded && !this.hasSynced) {
      this.hasSynced = true;
      this.log.info('initial list applied', { kind: this.spec.kind, objects: this.lw.list().length });
      try {
        this.events.synced();
      } catch (err) {
        this.log.error('synced handler threw', { kind: this.spec.kind, error: errorMessage(err) });
      }
    }
  }

  /** Called by GuardedWatch: the API server accepted a watch, so the connection works again. */
  watchConnected(): void {
    this.backoff.reset();
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.lw.start();
    } catch (err) {
      // start() throws only before any request (e.g. credentials could not be read): retry like any error.
      this.failed(err);
    }
  }

  private async list(): Promise<RawList> {
    const body = await this.spec.list();
    // The API server leaves kind/apiVersion off list items; watch events carry them. Make both alike.
    for (const item of body.items ?? []) {
      item.kind ??= this.spec.kind;
      item.apiVersion ??= this.spec.apiVersion;
    }
    this.listSucceeded = true;
    this.backoff.reset();
    return body;
  }

  private deliver(op: 'upsert' | 'remove', obj: KubernetesObject): void {
    if (this.stopped) return; // a list that was in flight when stop() came still gets applied to the cache
    try {
      // The collection the informer watches is of one kind: the object is typed here, where it enters.
      this.events[op](clusterObject(this.spec.kind, obj));
    } catch (err) {
      // client-node swallows exceptions thrown from watch callbacks; at least say so.
      this.log.error('source handler threw', { kind: this.spec.kind, op, error: errorMessage(err) });
    }
  }

  private failed(err: unknown): void {
    if (this.stopped) return; // stop() aborts the watch, which reports an AbortError
    if (this.restartTimer) return;
    const delay = this.backoff.next();
    const e = err as { statusCode?: number; code?: number | string } | null;
    const status = e?.statusCode ?? (typeof e?.code === 'number' ? e.code : undefined);
    this.log.warn('list/watch failed; keeping the known objects and retrying', {
      kind: this.spec.kind,
      error: describeError(err),
      ...(status === undefined ? {} : { status }),
      retryInMs: delay,
    });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.attempt();
    }, delay);
  }

  /**
   * reconnectDelay replaces ListWatch's own pause between watches (1 s doubling to 30 s while watches end
   * without events), scaled to our backoff so tests can shorten it, and cut short by stop().
   */
  private reconnectDelay(ms: number): Promise<void> {
    const scaled = Math.min(this.backoffOpts.maxMs, Math.round((ms * this.backoffOpts.initialMs) / 1000));
    return new Promise<void>((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.sleeps.delete(entry);
          resolve();
        }, scaled),
        resolve,
      };
      this.sleeps.add(entry);
    });
  }
}
