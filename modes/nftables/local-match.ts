/** local-match.ts: the local-traffic detector (src/local-traffic.ts) as nft match expressions. */
import type { LocalTrafficDetector } from '../../src/local-traffic.js';
import type { IPFamily, NodeInfo } from '../../src/model/types.js';

/** "from a local pod" and "not from a local pod"; both "" without a detector. */
export interface NftLocalMatch {
  readonly ifLocal: string;
  readonly ifNotLocal: string;
}

const NONE: NftLocalMatch = Object.freeze({ ifLocal: '', ifNotLocal: '' });

export function nftLocalMatch(detector: LocalTrafficDetector, node: Pick<NodeInfo, 'podCIDRs'>, family: IPFamily): NftLocalMatch {
  const ipX = family === 'IPv6' ? 'ip6' : 'ip';
  const cidr = (c: string | undefined) => (c ? { ifLocal: `${ipX} saddr ${c}`, ifNotLocal: `${ipX} saddr != ${c}` } : NONE);
  switch (detector.mode) {
    case 'None': return NONE;
    case 'ClusterCIDR': return cidr(detector.cidr);
    case 'NodeCIDR': return cidr(node.podCIDRs[0]);
    case 'BridgeInterface': return { ifLocal: `iifname ${JSON.stringify(detector.interfaceName)}`, ifNotLocal: `iifname != ${JSON.stringify(detector.interfaceName)}` };
    case 'InterfaceNamePrefix': return { ifLocal: `iifname ${JSON.stringify(detector.prefix + '*')}`, ifNotLocal: `iifname != ${JSON.stringify(detector.prefix + '*')}` };
  }
}
