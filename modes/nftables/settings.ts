/** settings.ts: what the nftables mode reads of the configuration, resolved once (src/cli/mode-options.ts). */
import type { LocalTrafficDetector } from '../../src/local-traffic.js';

export interface NftablesSettings {
  /** --masquerade-all: SNAT all traffic to ClusterIPs. */
  readonly masqueradeAll: boolean;
  /** The fwmark bit for masquerading (kube-proxy's default 14: 0x4000). */
  readonly masqueradeBit: number;
  readonly localTraffic: LocalTrafficDetector;
  /**
   * The service CIDRs of this family: traffic to an address inside them that is no ClusterIP is dropped
   * (kube-proxy learns them from ServiceCIDR objects). Empty: no such rule.
   */
  readonly serviceCIDRs: readonly string[];
  /** The sync period: how often a sync that carries changes also checks the table against what kpx wrote. */
  readonly syncPeriodMs: number;
}
