/**
 * proxy-health.ts: the proxy's health as kube-proxy's proxy_health.go defines it, with time from an injected
 * clock so tests never sleep.
 *
 * - queuedUpdate(family) records the oldest change waiting to be programmed for that family (kept only if none
 *   is pending already); updated(family) clears it and stamps lastUpdated.
 * - The proxy is unhealthy when, for a family that has synced at least once, a change has waited
 *   >= healthTimeout (kube-proxy: 2 x iptables syncPeriod). A family that is still starting (never synced) or
 *   is fully synced counts as healthy.
 * - nodeEligible is true until the sync loop reports otherwise (setNodeEligible, with the model's
 *   isNodeEligible decision about this node's Node). /healthz combines both; /livez and the per-service
 *   health checks ignore the node.
 */
import type { IPFamily } from '../model/types.js';
import type { Clock } from '../util/clock.js';

/** Go's zero time, which kube-proxy reports as lastUpdated before any sync. */
const ZERO_TIME_MS = Date.parse('0001-01-01T00:00:00Z');

export interface ProxyHealthStatus {
  /** The proxy's own health (node eligibility not included). */
  healthy: boolean;
  nodeEligible: boolean;
  /** The latest sync of any family; when unhealthy, the last sync of the family that is late. */
  lastUpdated: Date;
  currentTime: Date;
  /** Per IP family, as kube-proxy 1.33+ reports it: that family's last sync and its own health. */
  families: Map<IPFamily, { lastUpdated: Date; healthy: boolean }>;
}

export class ProxyHealth {
  private readonly clock: Clock;
  private readonly healthTimeoutMs: number;
  private readonly lastUpdatedMs = new Map<IPFamily, number>();
  private readonly oldestPendingMs = new Map<IPFamily, number>();
  private eligible = true;

  constructor(opts: { clock: Clock; healthTimeoutMs: number }) {
    this.clock = opts.clock;
    this.healthTimeoutMs = opts.healthTimeoutMs;
  }

  /** queuedUpdate: a change for this family awaits a sync; only the oldest pending change is remembered. */
  queuedUpdate(family: IPFamily): void {
    if (!this.oldestPendingMs.has(family)) this.oldestPendingMs.set(family, this.clock.now());
  }

  /** updated: a sync of this family finished; nothing is pending any more. */
  updated(family: IPFamily): void {
    this.oldestPendingMs.delete(family);
    this.lastUpdatedMs.set(family, this.clock.now());
  }

  setNodeEligible(eligible: boolean): void {
    this.eligible = eligible;
  }

  /** isHealthy: the proxy's health without the node (what /livez and service health checks use). */
  isHealthy(): boolean {
    return this.evaluate(this.clock.now()).healthy;
  }

  status(): ProxyHealthStatus {
    const now = this.clock.now();
    const { healthy, lastUpdatedMs } = this.evaluate(now);
    const families = new Map<IPFamily, { lastUpdated: Date; healthy: boolean }>();
    for (const family of new Set([...this.lastUpdatedMs.keys(), ...this.oldestPendingMs.keys()])) {
      const updatedMs = this.lastUpdatedMs.get(family);
      const pending = this.oldestPendingMs.get(family);
      const familyHealthy = updatedMs === undefined || pending === undefined || now - pending < this.healthTimeoutMs;
      families.set(family, { lastUpdated: new Date(updatedMs ?? ZERO_TIME_MS), healthy: familyHealthy });
    }
    return { healthy, nodeEligible: this.eligible, lastUpdated: new Date(lastUpdatedMs), currentTime: new Date(now), families };
  }

  private evaluate(now: number): { healthy: boolean; lastUpdatedMs: number } {
    let latest = ZERO_TIME_MS;
    for (const [family, updatedMs] of this.lastUpdatedMs) {
      if (updatedMs > latest) latest = updatedMs;
      const pending = this.oldestPendingMs.get(family);
      if (pending === undefined) continue; // fully synced
      if (now - pending < this.healthTimeoutMs) continue; // a change is queued but not late yet
      return { healthy: false, lastUpdatedMs: updatedMs };
    }
    return { healthy: true, lastUpdatedMs: latest };
  }
}
