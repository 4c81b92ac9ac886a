/**
 * listener-plan.ts: pure; which listeners the userspace mode needs for a ProxyState, and which endpoint
 * set each one balances over.
 *
 * A REDIRECTed connection no longer says which address the client dialled (Node cannot read
 * SO_ORIGINAL_DST), so traffic that must see a different endpoint set needs its own listener:
 * - "portal": the ClusterIP's listener, internal traffic: the local endpoints with
 *   internalTrafficPolicy=Local, else the cluster endpoints.
 * - "nodeport": a listener on the node port itself (as the legacy mode held it), external traffic: the
 *   local endpoints with externalTrafficPolicy=Local, else the cluster endpoints.
 * - "external": only when a service has externalIPs or LB IPs, no node port, and its two policies differ;
 *   otherwise external IPs and LB IPs share the node-port listener (or the portal one).
 * SCTP is refused, as kube-proxy's userspace proxy did.
 */
import type { Endpoint, ProxyState, ServicePort } from '../../src/model/types.js';

export type ListenerRole = 'portal' | 'nodeport' | 'external';

export interface ListenerSpec {
  /** `${servicePortKey}|${protocol}|${role}`: stable across syncs while the listener stays the same. */
  readonly id: string;
  readonly servicePortKey: string;
  readonly protocol: 'TCP' | 'UDP';
  readonly role: ListenerRole;
  /** 0: a port from --proxy-port-range or the kernel; otherwise exactly this port (the node port). */
  readonly fixedPort: number;
  readonly endpoints: readonly Endpoint[];
  readonly affinityTimeoutSeconds: number;
}

/** Which listener each kind of traffic of one service port goes to (ids into the plan). */
export interface PortalTargets {
  readonly servicePort: ServicePort;
  readonly clusterIP: string;
  /** External IPs and LB IPs. */
  readonly external: string;
  /** Node-port traffic; "" when the service has no node port. */
  readonly nodePort: string;
}

export interface ListenerPlan {
  readonly listeners: readonly ListenerSpec[];
  readonly targets: readonly PortalTargets[];
  /** Service ports this mode cannot serve (SCTP). */
  readonly refused: readonly ServicePort[];
}

export function listenerId(sp: ServicePort, role: ListenerRole): string {
  return `${sp.key}|${sp.protocol}|${role}`;
}

function internalSet(sp: ServicePort): readonly Endpoint[] {
  return sp.internalPolicyLocal ? sp.localEndpoints : sp.clusterEndpoints;
}

function externalSet(sp: ServicePort): readonly Endpoint[] {
  return sp.externalPolicyLocal ? sp.localEndpoints : sp.clusterEndpoints;
}

export function planListeners(state: ProxyState): ListenerPlan {
  const listeners: ListenerSpec[] = [];
  const targets: PortalTargets[] = [];
  const refused: ServicePort[] = [];
  const keys = [...state.services.keys()].sort();
  for (const key of keys) {
    const sp = state.services.get(key)!;
    if (sp.protocol !== 'TCP' && sp.protocol !== 'UDP') {
      refused.push(sp);
      continue;
    }
    const base = { servicePortKey: sp.key, protocol: sp.protocol, affinityTimeoutSeconds: sp.affinityTimeoutSeconds };
    const portal = listenerId(sp, 'portal');
    listeners.push({ ...base, id: portal, role: 'portal', fixedPort: 0, endpoints: internalSet(sp) });
    let nodePort = '';
    if (sp.nodePort > 0) {
      nodePort = listenerId(sp, 'nodeport');
      listeners.push({ ...base, id: nodePort, role: 'nodeport', fixedPort: sp.nodePort, endpoints: externalSet(sp) });
    }
    let external = nodePort || portal;
    const hasExternalIPs = sp.externalIPs.length > 0 || sp.loadBalancerIPs.length > 0;
    if (!nodePort && hasExternalIPs && sp.externalPolicyLocal !== sp.internalPolicyLocal) {
      external = listenerId(sp, 'external');
      listeners.push({ ...base, id: external, role: 'external', fixedPort: 0, endpoints: externalSet(sp) });
    }
    targets.push({ servicePort: sp, clusterIP: portal, external, nodePort });
  }
  return { listeners, targets, refused };
}
