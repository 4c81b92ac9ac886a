/**
 * service-change-tracker.ts: the last-seen Service of every name and the set of services that changed
 * since the last sync (kube-proxy's ServiceChangeTracker).
 *
 * client-node's informer hands over only the new object on update, so the tracker keeps its own last-seen
 * copy to tell a real change from a no-op. Many updates of one service between two syncs collapse into one
 * pending key.
 */
import type { ApiService } from '../model/api.js';
import { serviceKeyOf } from '../model/index.js';
import type { ServiceKey } from '../model/types.js';
import type { Logger } from '../util/log.js';
import { sameObject } from './object-equality.js';
import type { ChangeMetrics } from './change-metrics.js';

export class ServiceChangeTracker {
  private readonly objects = new Map<ServiceKey, ApiService>();
  private readonly pending = new Set<ServiceKey>();

  constructor(private readonly opts: { log: Logger; metrics?: ChangeMetrics }) {}

  /**
   * update records an added or changed Service. Returns its key when the change needs a sync, null for a
   * no-op or an object without a usable name (logged).
   */
  update(svc: ApiService): ServiceKey | null {
    const key = serviceKeyOf(svc);
    if (key === null) {
      this.opts.log.warn('ignoring a Service without a valid namespace/name', { name: svc?.metadata?.name, namespace: svc?.metadata?.namespace });
      return null;
    }
    const prev = this.objects.get(key);
    if (prev !== undefined && sameObject(prev, svc)) return null;
    this.objects.set(key, svc);
    this.mark(key);
    return key;
  }

  /** delete records a removed Service. Returns its key when it was known. */
  delete(svc: ApiService): ServiceKey | null {
    const key = serviceKeyOf(svc);
    if (key === null || !this.objects.has(key)) return null;
    this.objects.delete(key);
    this.mark(key);
    return key;
  }

  get(key: ServiceKey): ApiService | undefined {
    return this.objects.get(key);
  }

  keys(): IterableIterator<ServiceKey> {
    return this.objects.keys();
  }

  get size(): number {
    return this.objects.size;
  }

  /** Services changed since the last take(). */
  pendingKeys(): ReadonlySet<ServiceKey> {
    return this.pending;
  }

  /** take hands over the changed services and starts a new round. */
  take(): Set<ServiceKey> {
    const out = new Set(this.pending);
    this.pending.clear();
    this.opts.metrics?.serviceChangesPending.set(0);
    return out;
  }

  /** requeue puts keys back after a failed sync, so they count as pending again. */
  requeue(keys: Iterable<ServiceKey>): void {
    for (const k of keys) this.pending.add(k);
    this.opts.metrics?.serviceChangesPending.set(this.pending.size);
  }

  private mark(key: ServiceKey): void {
    this.pending.add(key);
    this.opts.metrics?.serviceChangesTotal.inc();
    this.opts.metrics?.serviceChangesPending.set(this.pending.size);
  }
}
