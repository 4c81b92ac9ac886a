/**
 * local-traffic.ts: which traffic comes from this node's pods (kube-proxy's LocalTrafficDetector, its
 * --detect-local-mode). Resolved once from the configuration into a value every mode reads; each mode writes
 * the match in its own rule language (iptablesLocalMatch here for the iptables-based modes).
 *
 * - ClusterCIDR: source inside the cluster CIDR of the family (none given: no detector, as in kube-proxy);
 * - NodeCIDR: source inside the Node's podCIDR of the family (from the Node object, so read per sync);
 * - BridgeInterface: arriving on the pods' bridge;
 * - InterfaceNamePrefix: arriving on an interface whose name starts with the prefix (veth, cali, ...).
 */
import type { NodeInfo } from './model/types.js';

export type LocalTrafficDetector =
  | { readonly mode: 'None' }
  | { readonly mode: 'ClusterCIDR'; readonly cidr: string }
  | { readonly mode: 'NodeCIDR' }
  | { readonly mode: 'BridgeInterface'; readonly interfaceName: string }
  | { readonly mode: 'InterfaceNamePrefix'; readonly prefix: string };

export const NO_LOCAL_DETECTOR: LocalTrafficDetector = Object.freeze({ mode: 'None' });

/** The detector of ClusterCIDR mode for one CIDR ("" = no detector). */
export function clusterCIDRDetector(cidr: string): LocalTrafficDetector {
  return cidr ? { mode: 'ClusterCIDR', cidr } : NO_LOCAL_DETECTOR;
}

/** iptables match arguments for "from a local pod" and "not from a local pod"; both "" without a detector. */
export interface IptablesLocalMatch {
  readonly ifLocal: string;
  readonly ifNotLocal: string;
}

const NONE: IptablesLocalMatch = Object.freeze({ ifLocal: '', ifNotLocal: '' });

/** The detector as iptables arguments for this node (NodeCIDR needs the node's podCIDR of the family). */
export function iptablesLocalMatch(detector: LocalTrafficDetector, node: Pick<NodeInfo, 'podCIDRs'>): IptablesLocalMatch {
  switch (detector.mode) {
    case 'None': return NONE;
    case 'ClusterCIDR': return { ifLocal: `-s ${detector.cidr}`, ifNotLocal: `! -s ${detector.cidr}` };
    case 'NodeCIDR': {
      const cidr = node.podCIDRs[0];
      return cidr ? { ifLocal: `-s ${cidr}`, ifNotLocal: `! -s ${cidr}` } : NONE;
    }
    case 'BridgeInterface': return { ifLocal: `-i ${detector.interfaceName}`, ifNotLocal: `! -i ${detector.interfaceName}` };
    case 'InterfaceNamePrefix': return { ifLocal: `-i ${detector.prefix}+`, ifNotLocal: `! -i ${detector.prefix}+` };
  }
}
