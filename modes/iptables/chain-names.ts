/**
 * chain-names.ts: kube-proxy's iptables chain names, so an operator's `iptables-save | grep KUBE-SVC-...`
 * and kube-proxy's own cleanup find the same chains whether kube-proxy or kpx wrote them.
 */
import { endpointHash, portProtoHash } from '../../src/util/chain-hash.js';
import type { Endpoint, ServicePort } from '../../src/model/types.js';

export const KUBE_SERVICES = 'KUBE-SERVICES';
export const KUBE_EXTERNAL_SERVICES = 'KUBE-EXTERNAL-SERVICES';
export const KUBE_NODEPORTS = 'KUBE-NODEPORTS';
export const KUBE_POSTROUTING = 'KUBE-POSTROUTING';
export const KUBE_MARK_MASQ = 'KUBE-MARK-MASQ';
export const KUBE_FORWARD = 'KUBE-FORWARD';
export const KUBE_PROXY_FIREWALL = 'KUBE-PROXY-FIREWALL';
export const KUBE_PROXY_CANARY = 'KUBE-PROXY-CANARY';
/** kubelet's anti-martian chain; kube-proxy writes an identical copy when it serves localhost NodePorts. */
export const KUBE_FIREWALL = 'KUBE-FIREWALL';

export const SVC_PREFIX = 'KUBE-SVC-';
export const SVL_PREFIX = 'KUBE-SVL-';
export const EXT_PREFIX = 'KUBE-EXT-';
export const FW_PREFIX = 'KUBE-FW-';
export const SEP_PREFIX = 'KUBE-SEP-';
/** Written by kube-proxy before 1.26; only ever deleted. */
const XLB_PREFIX = 'KUBE-XLB-';

/** The nat chains kpx fills itself on every sync (besides the per-service chains). */
export const NAT_DISPATCH_CHAINS = [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ] as const;
/** The filter chains kpx fills itself (KUBE-FIREWALL only when it serves localhost NodePorts). */
export const FILTER_CHAINS = [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL] as const;

/** isServiceChainName: a per-service or per-endpoint chain (kube-proxy's isServiceChainName, plus XLB). */
export function isServiceChainName(chain: string): boolean {
  return chain.startsWith(SVC_PREFIX) || chain.startsWith(SVL_PREFIX) || chain.startsWith(EXT_PREFIX) ||
    chain.startsWith(FW_PREFIX) || chain.startsWith(SEP_PREFIX) || chain.startsWith(XLB_PREFIX);
}

/** portProtoHash: kube-proxy's suffix for KUBE-SVC/SVL/EXT/FW chains (the model stores it on ServicePort.hash). */
export { portProtoHash };

/** KUBE-SEP-<hash of servicePortName + protocol + "ip:port">, as kube-proxy names endpoint chains. */
export function endpointChainName(servicePortKey: string, protocol: string, endpointKey: string): string {
  return SEP_PREFIX + endpointHash(servicePortKey, protocol, endpointKey);
}

/**
 * ChainNameCache remembers endpoint chain names between syncs: hashing every endpoint again each sync adds
 * up at scale, and the same endpoints come back every sync. Keyed by the (immutable) Endpoint object, so
 * entries go away with the state that held them.
 */
export class ChainNameCache {
  private byEndpoint = new WeakMap<Endpoint, { spKey: string; protocol: string; name: string }>();

  sep(sp: ServicePort, ep: Endpoint): string {
    const hit = this.byEndpoint.get(ep);
    if (hit && hit.spKey === sp.key && hit.protocol === sp.protocol) return hit.name;
    const name = endpointChainName(sp.key, sp.protocol, ep.key);
    this.byEndpoint.set(ep, { spKey: sp.key, protocol: sp.protocol, name });
    return name;
  }
}

export function svcChain(sp: ServicePort): string { return SVC_PREFIX + sp.hash; }
export function svlChain(sp: ServicePort): string { return SVL_PREFIX + sp.hash; }
export function extChain(sp: ServicePort): string { return EXT_PREFIX + sp.hash; }
export function fwChain(sp: ServicePort): string { return FW_PREFIX + sp.hash; }
