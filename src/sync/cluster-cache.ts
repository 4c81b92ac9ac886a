/**
 * cluster-cache.ts: what a source has told us, as a SourceHandler: the change trackers for Services,
 * EndpointSlices and this node's Node, plus which kinds have finished their initial list.
 *
 * The proxier and --dry-run both read cluster state through this one cache, so what dry-run prints is
 * what a sync would program.
 */
import type { ApiEndpointSlice, ApiKind, ApiNode, ApiService } from '../model/api.js';
import type { ServiceKey } from '../model/types.js';
import type { ClusterObject, SourceHandler } from '../source/types.js';
import type { Logger } from '../util/log.js';
import type { Clock } from '../util/clock.js';
import type { ChangeMetrics } from './change-metrics.js';
import { EndpointSliceChangeTracker, type EndpointChanges } from './endpoints-change-tracker.js';
import { NodeTracker, type NodeUpdate } from './node-tracker.js';
import { ServiceChangeTracker } from './service-change-tracker.js';

/** The read side the state builder needs. */
export interface ClusterView {
  readonly node: ApiNode | undefined;
  service(key: ServiceKey): ApiService | undefined;
  serviceKeys(): Iterable<ServiceKey>;
  slicesFor(key: ServiceKey): ApiEndpointSlice[];
}

/** Everything that changed since the last take(). */
export interface PendingChanges {
  /** Services whose Service object or slices changed (the ChangeSet's services). */
  readonly services: Set<ServiceKey>;
  readonly serviceObjects: Set<ServiceKey>;
  readonly endpoints: EndpointChanges;
}

export interface ClusterCacheEvents {
  /** A change worth a sync was recorded (kind, and whether it needs a full sync). */
  onChange?(kind: ApiKind, needsFullSync: boolean): void;
  onNodeEligibility?(eligible: boolean): void;
  /** Both Services and EndpointSlices have been listed once. */
  onInitialized?(): void;
}

export interface ClusterCacheOptions extends ClusterCacheEvents {
  readonly nodeName: string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics?: ChangeMetrics;
}

export class ClusterCache implements SourceHandler, ClusterView {
  readonly services: ServiceChangeTracker;
  readonly endpoints: EndpointSliceChangeTracker;
  readonly nodes: NodeTracker;
  private readonly syncedKinds = new Set<ApiKind>();
  private readonly opts: ClusterCacheOptions;
  private initializedWaiters: (() => void)[] = [];

  constructor(opts: ClusterCacheOptions) {
    this.opts = opts;
    this.services = new ServiceChangeTracker({ log: opts.log, metrics: opts.metrics });
    this.endpoints = new EndpointSliceChangeTracker({ log: opts.log, clock: opts.clock, metrics: opts.metrics });
    this.nodes = new NodeTracker({ nodeName: opts.nodeName, log: opts.log });
  }

  upsert(event: ClusterObject): void {
    try {
      switch (event.kind) {
        case 'Service':
          if (this.services.update(event.obj) !== null) this.opts.onChange?.(event.kind, false);
          return;
        case 'EndpointSlice':
          if (this.endpoints.update(event.obj) !== null) this.opts.onChange?.(event.kind, false);
          return;
        case 'Node':
          this.nodeChanged(this.nodes.update(event.obj));
          return;
      }
    } catch (err) {
      this.opts.log.warn('ignoring an object that could not be recorded', { kind: event.kind, error: err });
    }
  }

  remove(event: ClusterObject): void {
    try {
      switch (event.kind) {
        case 'Service':
          if (this.services.delete(event.obj) !== null) this.opts.onChange?.(event.kind, false);
          return;
        case 'EndpointSlice':
          if (this.endpoints.delete(event.obj) !== null) this.opts.onChange?.(event.kind, false);
          return;
        case 'Node':
          this.nodeChanged(this.nodes.delete(event.obj));
          return;
      }
    } catch (err) {
      this.opts.log.warn('ignoring a deletion that could not be recorded', { kind: event.kind, error: err });
    }
  }

  synced(kind: ApiKind): void {
    const was = this.isInitialized();
    this.syncedKinds.add(kind);
    if (!was && this.isInitialized()) {
      for (const w of this.initializedWaiters.splice(0)) w();
      this.opts.onInitialized?.();
    }
  }

  isSynced(kind: ApiKind): boolean {
    return this.syncedKinds.has(kind);
  }

  /** kube-proxy's isInitialized(): Services and EndpointSlices have both been listed. */
  isInitialized(): boolean {
    return this.syncedKinds.has('Service') && this.syncedKinds.has('EndpointSlice');
  }

  /** Resolves once isInitialized() is true. */
  whenInitialized(): Promise<void> {
    if (this.isInitialized()) return Promise.resolve();
    return new Promise((resolve) => this.initializedWaiters.push(resolve));
  }

  get node(): ApiNode | undefined {
    return this.nodes.node;
  }

  service(key: ServiceKey): ApiService | undefined {
    return this.services.get(key);
  }

  serviceKeys(): Iterable<ServiceKey> {
    return this.services.keys();
  }

  slicesFor(key: ServiceKey): ApiEndpointSlice[] {
    return this.endpoints.slicesFor(key);
  }

  /** True when some change is waiting for a sync. */
  hasPending(): boolean {
    return this.services.pendingKeys().size > 0 || this.endpoints.pendingKeys().size > 0;
  }

  /** take hands over every pending change (collapsed per service) and starts a new round. */
  take(): PendingChanges {
    const serviceObjects = this.services.take();
    const endpoints = this.endpoints.take();
    const services = new Set<ServiceKey>([...serviceObjects, ...endpoints.services]);
    return { services, serviceObjects, endpoints };
  }

  /** requeue puts changes back after a failed sync. */
  requeue(changes: PendingChanges): void {
    this.services.requeue(changes.serviceObjects);
    this.endpoints.requeue(changes.endpoints);
  }

  private nodeChanged(update: NodeUpdate | null): void {
    if (!update) return;
    if (update.eligibilityChanged) this.opts.onNodeEligibility?.(update.eligible);
    if (update.modelChanged) this.opts.onChange?.('Node', true);
  }
}
