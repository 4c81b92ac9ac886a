/**
 * service-health-entries.ts: what the per-service health-check node ports must report, derived from the
 * synced states: every service with externalTrafficPolicy=Local and a healthCheckNodePort, with its count
 * of ready local endpoints summed over its ports (kube-proxy's LocalReadyEndpoints). With dual-stack, a
 * service present in several families reports the largest family count.
 */
import type { IPFamily, ProxyState, ServiceKey } from '../model/types.js';

/** The shape ServiceHealthServer.sync() takes (src/server/service-health.ts). */
export interface ServiceHealthEntry {
  namespace: string;
  name: string;
  port: number;
  localEndpoints: number;
}

export function serviceHealthEntries(states: ReadonlyMap<IPFamily, ProxyState>): ServiceHealthEntry[] {
  const merged = new Map<ServiceKey, ServiceHealthEntry>();
  for (const state of states.values()) {
    const perFamily = new Map<ServiceKey, ServiceHealthEntry>();
    for (const sp of state.services.values()) {
      if (!sp.externalPolicyLocal || sp.healthCheckNodePort <= 0) continue;
      const e = perFamily.get(sp.serviceKey);
      if (e) e.localEndpoints += sp.readyLocalEndpointCount;
      else perFamily.set(sp.serviceKey, { namespace: sp.namespace, name: sp.name, port: sp.healthCheckNodePort, localEndpoints: sp.readyLocalEndpointCount });
    }
    for (const [k, e] of perFamily) {
      const prev = merged.get(k);
      if (!prev || e.localEndpoints > prev.localEndpoints) merged.set(k, e);
    }
  }
  return [...merged.values()].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

/**
 * noLocalEndpointCounts: service ports whose Local traffic policy leaves them with no local endpoint while
 * endpoints exist elsewhere, per policy (kube-proxy's sync_proxy_rules_no_local_endpoints_total:
 * "internal" for internalTrafficPolicy=Local, "external" for externalTrafficPolicy=Local).
 */
export function noLocalEndpointCounts(state: ProxyState): { internal: number; external: number } {
  let internal = 0;
  let external = 0;
  for (const sp of state.services.values()) {
    if (!sp.hasAnyEndpoints || sp.localEndpoints.length > 0) continue;
    if (sp.internalPolicyLocal) internal++;
    if (sp.externalPolicyLocal) external++;
  }
  return { internal, external };
}
