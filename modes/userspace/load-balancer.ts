/**
 * load-balancer.ts: round robin with ClientIP affinity, the userspace proxy's only scheduling policy
 * (kube-proxy's legacy LoadBalancerRR, rebuilt).
 *
 * One balancer per listener, keyed by a string id, because a service port may need two endpoint sets:
 * the cluster set for internal traffic and the local set for external traffic with
 * externalTrafficPolicy=Local. Which set a listener gets is decided by the listener plan; this file only
 * rotates over what it is given.
 *
 * Endpoint updates keep the rotation position and every affinity entry whose endpoint is still present, so
 * a change affects new connections only and clients that stick keep sticking.
 */
import type { Endpoint } from '../../src/model/types.js';
import { systemClock, type Clock } from '../../src/util/clock.js';

/** The part of an Endpoint the proxy dials. */
export type Target = Pick<Endpoint, 'key' | 'ip' | 'port'>;

interface Affinity {
  target: Target;
  lastUsedMs: number;
}

interface Balancer {
  targets: Target[];
  /** Endpoint key → time until which a failed dial keeps it out of rotation. */
  penalized: Map<string, number>;
  byKey: Map<string, Target>;
  /**
   * The rotation position, in shared memory: worker threads serving the same listener (SO_REUSEPORT)
   * rotate over the same counter, so round robin stays one global rotation.
   */
  rotation: Int32Array;
  /** 0 = no affinity. */
  affinityMs: number;
  affinity: Map<string, Affinity>;
  lastSweepMs: number;
}

/**
 * How long an endpoint whose dial was refused is skipped while others remain (undici's balanced pool
 * penalises failing upstreams the same way). Without it, round robin over [dead, live] sends every other
 * new connection to the dead one first: a wasted dial each, and with affinity a reset each.
 */
export const FAILURE_PENALTY_MS = 5_000;

/** How often (at most) expired affinity entries are swept, so a flood of one-off clients cannot grow the map forever. */
const SWEEP_INTERVAL_MS = 60_000;

export class LoadBalancer {
  readonly #clock: Clock;
  readonly #balancers = new Map<string, Balancer>();

  constructor(opts: { clock?: Clock } = {}) {
    this.#clock = opts.clock ?? systemClock;
  }

  /**
   * update sets the endpoints and affinity of one balancer (created on first use). Affinity entries that
   * point at a removed endpoint are dropped; a changed timeout applies from now on.
   */
  update(id: string, endpoints: readonly Target[], affinityTimeoutSeconds: number): void {
    let b = this.#balancers.get(id);
    const now = this.#clock.now();
    if (!b) {
      b = { targets: [], penalized: new Map(), byKey: new Map(), rotation: new Int32Array(new SharedArrayBuffer(4)), affinityMs: 0, affinity: new Map(), lastSweepMs: now };
      this.#balancers.set(id, b);
    }
    const targets = endpoints.map((e) => ({ key: e.key, ip: e.ip, port: e.port }));
    if (!sameTargets(b.targets, targets)) {
      b.targets = targets;
      b.byKey = new Map(targets.map((t) => [t.key, t]));
      for (const key of b.penalized.keys()) if (!b.byKey.has(key)) b.penalized.delete(key);
      for (const [client, a] of b.affinity) {
        const still = b.byKey.get(a.target.key);
        if (still) a.target = still;
        else b.affinity.delete(client);
      }
    }
    b.affinityMs = Math.max(0, affinityTimeoutSeconds) * 1000;
    if (b.affinityMs === 0) b.affinity.clear();
    else this.#sweep(b, now);
  }

  /**
   * rotationBuffer: the shared memory holding a balancer's rotation position, for worker threads that
   * balance the same listener (see tcp-workers.ts). useRotation adopts one made elsewhere.
   */
  rotationBuffer(id: string): SharedArrayBuffer | undefined {
    return this.#balancers.get(id)?.rotation.buffer as SharedArrayBuffer | undefined;
  }

  useRotation(id: string, buffer: SharedArrayBuffer): void {
    const b = this.#balancers.get(id);
    if (b) b.rotation = new Int32Array(buffer);
  }

  remove(id: string): void {
    this.#balancers.delete(id);
  }

  has(id: string): boolean {
    return this.#balancers.has(id);
  }

  /** hasAffinity: whether nextEndpoint needs the client's address (asking the kernel for it costs a syscall). */
  hasAffinity(id: string): boolean {
    return (this.#balancers.get(id)?.affinityMs ?? 0) > 0;
  }

  /**
   * failed records a dial that was refused (nothing listens there, or no route): the endpoint is skipped
   * for FAILURE_PENALTY_MS while another is usable. Timeouts are not reported here: an endpoint that is
   * merely overloaded drops SYNs, and benching it would shift its load onto the others until they drop
   * SYNs too (measured: new connections per second fell by two thirds under load).
   */
  failed(id: string, key: string): void {
    const b = this.#balancers.get(id);
    if (b?.byKey.has(key)) b.penalized.set(key, this.#clock.now() + FAILURE_PENALTY_MS);
  }

  /** endpointCount is what a listener checks to refuse a client at once when there is nothing to dial. */
  endpointCount(id: string): number {
    return this.#balancers.get(id)?.targets.length ?? 0;
  }

  /**
   * nextEndpoint picks the endpoint for a new connection (or UDP session) from srcAddr: the client's
   * affinity endpoint while it is fresh, else the next in rotation (recorded as the new affinity).
   * resetAffinity is set after a failed dial, so a dead sticky endpoint is not chosen again.
   * Returns undefined when the balancer has no endpoints.
   */
  nextEndpoint(id: string, srcAddr: string, resetAffinity: boolean): Target | undefined {
    const b = this.#balancers.get(id);
    if (!b || b.targets.length === 0) return undefined;
    if (b.affinityMs > 0) {
      const now = this.#clock.now();
      const a = b.affinity.get(srcAddr);
      if (a && !resetAffinity && now - a.lastUsedMs < b.affinityMs) {
        a.lastUsedMs = now;
        return a.target;
      }
      const target = this.#rotate(b, resetAffinity ? a?.target : undefined);
      b.affinity.set(srcAddr, { target, lastUsedMs: now });
      if (now - b.lastSweepMs > SWEEP_INTERVAL_MS) this.#sweep(b, now);
      return target;
    }
    return this.#rotate(b, undefined);
  }

  /** Next in rotation; skips `avoid` (the endpoint that just failed) when there is another choice. */
  /** Next in rotation, skipping `avoid` (the endpoint that just failed) and penalised endpoints while another is left. */
  #rotate(b: Balancer, avoid: Target | undefined): Target {
    const n = b.targets.length;
    const now = b.penalized.size ? this.#clock.now() : 0;
    let first: Target | undefined;
    for (let i = 0; i < n; i++) {
      const t = b.targets[(Atomics.add(b.rotation, 0, 1) >>> 0) % n];
      first ??= t;
      if (avoid && t.key === avoid.key) continue;
      const until = b.penalized.get(t.key);
      if (until !== undefined) {
        if (until > now) continue;
        b.penalized.delete(t.key); // served its time: tried again
      }
      return t;
    }
    return first!;
  }

  #sweep(b: Balancer, now: number): void {
    b.lastSweepMs = now;
    for (const [client, a] of b.affinity) if (now - a.lastUsedMs >= b.affinityMs) b.affinity.delete(client);
  }
}

function sameTargets(a: readonly Target[], b: readonly Target[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i].key !== b[i].key || a[i].ip !== b[i].ip || a[i].port !== b[i].port) return false;
  return true;
}
