/**
 * topology.ts: which endpoints each kind of traffic may use (kube-proxy's CategorizeEndpoints, with
 * its current semantics, pkg/proxy/topology.go).
 *
 * Topology follows the slices' hints, which the EndpointSlice controller writes for services that ask for
 * it (annotation service.kubernetes.io/topology-mode: Auto or the deprecated topology-aware-hints, and
 * trafficDistribution PreferClose / PreferSameZone → zone hints; PreferSameNode → node and zone hints).
 * Since ServiceTrafficDistribution went GA kube-proxy no longer reads those service fields itself: hints
 * are honoured wherever every ready endpoint carries them, so hand-written slices behave the same way.
 *
 * - PreferSameNode when every ready endpoint has a node hint and one names this node;
 * - else PreferSameZone when every ready endpoint has a zone hint and one names this node's zone;
 * - else no topology (all ready endpoints).
 * Serving-terminating endpoints are used only when no endpoint is ready, independently for the cluster
 * and the local set (ProxyTerminatingEndpoints).
 */
import type { Endpoint } from './types.js';

export type TopologyMode = '' | 'PreferSameZone' | 'PreferSameNode';

/** The service-port facts categorisation depends on. */
export interface TrafficPolicyView {
  /** Some traffic uses cluster-wide endpoints (iTP Cluster, or the service is externally accessible). */
  readonly usesClusterEndpoints: boolean;
  /** Some traffic uses only local endpoints (iTP Local, or eTP Local with external access). */
  readonly usesLocalEndpoints: boolean;
}

export interface CategorizedEndpoints {
  /**
   * Usable endpoints for Cluster traffic policy: ready ones (narrowed by topology hints when they apply),
   * else serving-terminating ones. Empty when the service never uses cluster endpoints.
   */
  readonly clusterEndpoints: readonly Endpoint[];
  /**
   * Usable endpoints for Local traffic policy: local ready ones, else local serving-terminating ones.
   * Topology does not narrow them. Empty when the service never uses local endpoints.
   */
  readonly localEndpoints: readonly Endpoint[];
  /** Union of the two lists (sorted by "ip:port"): every endpoint traffic from this node may reach. */
  readonly allReachableEndpoints: readonly Endpoint[];
  /**
   * Whether the service has a usable endpoint anywhere in the cluster (ready, or serving-terminating).
   * False ⇒ REJECT. May be true while allReachableEndpoints is empty (iTP Local with no local endpoint ⇒
   * DROP).
   */
  readonly hasAnyEndpoints: boolean;
  /** The topology mode the cluster set was filtered with ("" = none). */
  readonly topologyMode: TopologyMode;
}

const EMPTY: readonly Endpoint[] = Object.freeze([]);

/** The topology mode the hints allow for this node (kube-proxy's topologyModeFromHints). */
export function topologyModeFromHints(endpoints: readonly Endpoint[], nodeName: string, zone: string): TopologyMode {
  let hasReady = false;
  let allNodeHints = true;
  let forNode = false;
  let allZoneHints = true;
  let forZone = false;
  for (const ep of endpoints) {
    if (!ep.ready) continue;
    hasReady = true;
    if (!ep.nodeHints || ep.nodeHints.size === 0) allNodeHints = false;
    else if (ep.nodeHints.has(nodeName)) forNode = true;
    if (!ep.zoneHints || ep.zoneHints.size === 0) allZoneHints = false;
    else if (ep.zoneHints.has(zone)) forZone = true;
  }
  if (!hasReady) return '';
  if (allNodeHints && forNode) return 'PreferSameNode';
  if (allZoneHints && forZone) return 'PreferSameZone';
  return '';
}

function availableForTopology(ep: Endpoint, mode: TopologyMode, nodeName: string, zone: string): boolean {
  switch (mode) {
    case '': return true;
    case 'PreferSameNode': return ep.nodeHints?.has(nodeName) ?? false;
    case 'PreferSameZone': return ep.zoneHints?.has(zone) ?? false;
  }
}

function byKey(a: Endpoint, b: Endpoint): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** Splits a service port's endpoints into what cluster and local traffic may use. Pure. */
export function categorizeEndpoints(
  endpoints: readonly Endpoint[],
  svc: TrafficPolicyView,
  nodeName: string,
  zone: string,
): CategorizedEndpoints {
  if (endpoints.length === 0) {
    return { clusterEndpoints: EMPTY, localEndpoints: EMPTY, allReachableEndpoints: EMPTY, hasAnyEndpoints: false, topologyMode: '' };
  }
  let clusterEndpoints: readonly Endpoint[] = EMPTY;
  let localEndpoints: readonly Endpoint[] = EMPTY;
  let hasAnyEndpoints = false;
  let topologyMode: TopologyMode = '';

  if (svc.usesClusterEndpoints) {
    topologyMode = topologyModeFromHints(endpoints, nodeName, zone);
    clusterEndpoints = endpoints.filter((ep) => ep.ready && availableForTopology(ep, topologyMode, nodeName, zone));
    // No ready endpoint for the chosen topology cannot happen (the mode falls back first), so an empty
    // list means nothing is ready anywhere: fall back to serving-terminating endpoints.
    if (clusterEndpoints.length === 0) clusterEndpoints = endpoints.filter((ep) => ep.serving && ep.terminating);
    if (clusterEndpoints.length > 0) hasAnyEndpoints = true;
  }

  if (!svc.usesLocalEndpoints) {
    return { clusterEndpoints, localEndpoints, allReachableEndpoints: clusterEndpoints, hasAnyEndpoints, topologyMode };
  }

  let hasLocalReady = false;
  let hasLocalServingTerminating = false;
  for (const ep of endpoints) {
    if (ep.ready) {
      hasAnyEndpoints = true;
      if (ep.isLocal) hasLocalReady = true;
    } else if (ep.serving && ep.terminating) {
      hasAnyEndpoints = true;
      if (ep.isLocal) hasLocalServingTerminating = true;
    }
  }
  let usesServingTerminating = false;
  if (hasLocalReady) {
    localEndpoints = endpoints.filter((ep) => ep.isLocal && ep.ready);
  } else if (hasLocalServingTerminating) {
    usesServingTerminating = true;
    localEndpoints = endpoints.filter((ep) => ep.isLocal && ep.serving && ep.terminating);
  }

  if (!svc.usesClusterEndpoints) {
    return { clusterEndpoints, localEndpoints, allReachableEndpoints: localEndpoints, hasAnyEndpoints, topologyMode };
  }
  if (topologyMode === '' && !usesServingTerminating) {
    // Every ready endpoint is in clusterEndpoints and localEndpoints holds only ready ones: a subset.
    return { clusterEndpoints, localEndpoints, allReachableEndpoints: clusterEndpoints, hasAnyEndpoints, topologyMode };
  }
  const merged = new Map<string, Endpoint>();
  for (const ep of clusterEndpoints) merged.set(ep.key, ep);
  for (const ep of localEndpoints) merged.set(ep.key, ep);
  const allReachableEndpoints = [...merged.values()].sort(byKey);
  return { clusterEndpoints, localEndpoints, allReachableEndpoints, hasAnyEndpoints, topologyMode };
}
