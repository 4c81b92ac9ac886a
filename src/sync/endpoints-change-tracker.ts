/**
 * endpoints-change-tracker.ts: the last-seen EndpointSlice of every name, grouped by the service it belongs
 * to, and the set of services whose endpoints changed since the last sync (kube-proxy's
 * EndpointsChangeTracker with its EndpointSliceCache).
 *
 * It also keeps the endpoints.kubernetes.io/last-change-trigger-time of each change, so the proxier can
 * observe network-programming latency once the sync that carries the change has finished. As in
 * kube-proxy, times older than the tracker itself (the initial list) and the times of deleted slices are
 * not recorded: they do not measure how long kpx took.
 */
import type { ApiEndpointSlice } from '../model/api.js';
import { ANNOTATION_LAST_CHANGE_TRIGGER_TIME } from '../model/api.js';
import { serviceKeyOfSlice } from '../model/index.js';
import type { ServiceKey } from '../model/types.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { sameObject } from './object-equality.js';
import type { ChangeMetrics } from './change-metrics.js';

interface TrackedSlice {
  readonly slice: ApiEndpointSlice;
  readonly serviceKey: ServiceKey;
}

export interface EndpointChanges {
  readonly services: Set<ServiceKey>;
  /** Trigger times (ms since the epoch) of the changes handed over, per service. */
  readonly triggerTimes: Map<ServiceKey, number[]>;
}

/** "namespace/name" of the slice object itself, or null when it has no name. */
function sliceKeyOf(slice: ApiEndpointSlice): string | null {
  const name = slice?.metadata?.name;
  if (typeof name !== 'string' || name === '') return null;
  const ns = slice.metadata?.namespace || 'default';
  return `${ns}/${name}`;
}

/** The slice's last-change-trigger-time as ms since the epoch, or undefined when absent or unparsable. */
export function lastChangeTriggerTime(slice: ApiEndpointSlice): number | undefined {
  const raw = slice?.metadata?.annotations?.[ANNOTATION_LAST_CHANGE_TRIGGER_TIME];
  if (typeof raw !== 'string' || raw === '') return undefined;
  const t = Date.parse(raw);
  return Number.isFinite(t) ? t : undefined;
}

export class EndpointSliceChangeTracker {
  private readonly slices = new Map<string, TrackedSlice>();
  private readonly byService = new Map<ServiceKey, Map<string, ApiEndpointSlice>>();
  private readonly pending = new Set<ServiceKey>();
  private readonly triggerTimes = new Map<ServiceKey, number[]>();
  private readonly startTime: number;

  constructor(private readonly opts: { log: Logger; clock: Clock; metrics?: ChangeMetrics }) {
    this.startTime = opts.clock.now();
  }

  /**
   * update records an added or changed EndpointSlice. Returns the key of the service whose endpoints
   * changed, or null for a no-op or a slice without a name or service label (logged).
   */
  update(slice: ApiEndpointSlice): ServiceKey | null {
    const sliceKey = sliceKeyOf(slice);
    const serviceKey = serviceKeyOfSlice(slice);
    if (sliceKey === null || serviceKey === null) {
      this.opts.log.v(2).info('ignoring an EndpointSlice without a name or a valid kubernetes.io/service-name label', {
        name: slice?.metadata?.name, namespace: slice?.metadata?.namespace,
      });
      return null;
    }
    const prev = this.slices.get(sliceKey);
    if (prev !== undefined && sameObject(prev.slice, slice)) return null;
    if (prev !== undefined && prev.serviceKey !== serviceKey) {
      // The slice moved to another service (its label changed): the old service lost these endpoints.
      this.unindex(prev.serviceKey, sliceKey);
      this.mark(prev.serviceKey);
    }
    this.slices.set(sliceKey, { slice, serviceKey });
    let group = this.byService.get(serviceKey);
    if (!group) this.byService.set(serviceKey, (group = new Map()));
    group.set(sliceKey, slice);
    this.mark(serviceKey);
    const t = lastChangeTriggerTime(slice);
    if (t !== undefined && t > this.startTime) {
      const times = this.triggerTimes.get(serviceKey);
      if (times) times.push(t);
      else this.triggerTimes.set(serviceKey, [t]);
    }
    return serviceKey;
  }

  /** delete records a removed EndpointSlice. Returns its service's key when the slice was known. */
  delete(slice: ApiEndpointSlice): ServiceKey | null {
    const sliceKey = sliceKeyOf(slice);
    if (sliceKey === null) return null;
    const prev = this.slices.get(sliceKey);
    if (prev === undefined) return null;
    this.slices.delete(sliceKey);
    this.unindex(prev.serviceKey, sliceKey);
    this.triggerTimes.delete(prev.serviceKey);
    this.mark(prev.serviceKey);
    return prev.serviceKey;
  }

  /** The current slices of a service (any address type), in no particular order. */
  slicesFor(serviceKey: ServiceKey): ApiEndpointSlice[] {
    const group = this.byService.get(serviceKey);
    return group ? [...group.values()] : [];
  }

  /** Services that have at least one slice. */
  serviceKeys(): IterableIterator<ServiceKey> {
    return this.byService.keys();
  }

  get size(): number {
    return this.slices.size;
  }

  pendingKeys(): ReadonlySet<ServiceKey> {
    return this.pending;
  }

  /** take hands over the services whose endpoints changed, with their trigger times, and starts a new round. */
  take(): EndpointChanges {
    const out: EndpointChanges = { services: new Set(this.pending), triggerTimes: new Map(this.triggerTimes) };
    this.pending.clear();
    this.triggerTimes.clear();
    this.opts.metrics?.endpointChangesPending.set(0);
    return out;
  }

  /** requeue puts changes back after a failed sync; their latency is then measured to the retry's end. */
  requeue(changes: EndpointChanges): void {
    for (const k of changes.services) this.pending.add(k);
    for (const [k, times] of changes.triggerTimes) {
      const cur = this.triggerTimes.get(k);
      this.triggerTimes.set(k, cur ? [...times, ...cur] : [...times]);
    }
    this.opts.metrics?.endpointChangesPending.set(this.pending.size);
  }

  private unindex(serviceKey: ServiceKey, sliceKey: string): void {
    const group = this.byService.get(serviceKey);
    if (!group) return;
    group.delete(sliceKey);
    if (group.size === 0) this.byService.delete(serviceKey);
  }

  private mark(serviceKey: ServiceKey): void {
    this.pending.add(serviceKey);
    this.opts.metrics?.endpointChangesTotal.inc();
    this.opts.metrics?.endpointChangesPending.set(this.pending.size);
  }
}
