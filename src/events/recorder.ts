/**
 * recorder.ts: Kubernetes Events for what operators must act on (a health-check node port that cannot be
 * bound, a sync that keeps failing). Every event is logged; posting to the API is rate-limited like
 * client-go's spam filter, so a fault that repeats every sync cannot flood the API server:
 *   - per (object, reason): at most one event per `perKeyIntervalMs` (default 5 minutes);
 *   - overall: a token bucket of `burst` events refilled one per `refillMs`.
 */
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';

export interface EventObject {
  readonly kind: 'Service' | 'Node';
  readonly namespace: string; // "" for Nodes
  readonly name: string;
  readonly uid?: string;
}

export type EventType = 'Normal' | 'Warning';

/** An events.k8s.io/v1 Event as JSON. */
export interface EventBody {
  apiVersion: 'events.k8s.io/v1';
  kind: 'Event';
  metadata: { name: string; namespace: string };
  eventTime: string;
  reportingController: string;
  reportingInstance: string;
  action: string;
  reason: string;
  note: string;
  type: EventType;
  regarding: { apiVersion: string; kind: string; namespace?: string; name: string; uid?: string };
}

export interface EventSink {
  create(namespace: string, body: EventBody): Promise<void>;
}

export interface EventRecorder {
  event(obj: EventObject, type: EventType, reason: string, note: string): void;
}

export interface RecorderOptions {
  sink: EventSink | null;
  nodeName: string;
  clock: Clock;
  log: Logger;
  perKeyIntervalMs?: number;
  burst?: number;
  refillMs?: number;
}

const CONTROLLER = 'kpx.io/kpx';

export function createEventRecorder(opts: RecorderOptions): EventRecorder {
  const perKeyIntervalMs = opts.perKeyIntervalMs ?? 5 * 60_000;
  const burst = opts.burst ?? 25;
  const refillMs = opts.refillMs ?? 10_000;
  const lastByKey = new Map<string, number>();
  let tokens = burst;
  let lastRefill = opts.clock.now();
  let seq = 0;

  function takeToken(now: number): boolean {
    const refilled = Math.floor((now - lastRefill) / refillMs);
    if (refilled > 0) {
      tokens = Math.min(burst, tokens + refilled);
      lastRefill += refilled * refillMs;
    }
    if (tokens === 0) return false;
    tokens--;
    return true;
  }

  return {
    event(obj, type, reason, note) {
      const now = opts.clock.now();
      const logFields = { object: `${obj.kind}/${obj.namespace ? obj.namespace + '/' : ''}${obj.name}`, reason, type };
      if (type === 'Warning') opts.log.warn(note, logFields);
      else opts.log.info(note, logFields);
      if (!opts.sink) return;
      const key = `${obj.kind}/${obj.namespace}/${obj.name}/${reason}`;
      const last = lastByKey.get(key);
      if (last !== undefined && now - last < perKeyIntervalMs) return;
      if (!takeToken(now)) return;
      lastByKey.set(key, now);
      // Events live in the object's namespace; a Node's in "default", as kubelet and kube-proxy do.
      const namespace = obj.namespace || 'default';
      const body: EventBody = {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name: `${obj.name}.${now.toString(16)}${(seq++).toString(16)}`, namespace },
        // A MicroTime: the API server parses exactly six fractional digits and rejects toISOString()'s three.
        eventTime: new Date(now).toISOString().replace(/Z$/, '000Z'),
        reportingController: CONTROLLER,
        reportingInstance: `${CONTROLLER}-${opts.nodeName}`,
        action: reason,
        reason,
        note: note.slice(0, 1024),
        type,
        regarding: { apiVersion: 'v1', kind: obj.kind, name: obj.name, uid: obj.uid, ...(obj.namespace ? { namespace: obj.namespace } : {}) },
      };
      opts.sink.create(namespace, body).catch((err: unknown) => {
        opts.log.v(2).warn('could not record event', { ...logFields, err: errorMessage(err) });
      });
    },
  };
}
