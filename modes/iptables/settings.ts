/** settings.ts: what the iptables mode reads of the configuration, resolved once (src/cli/mode-options.ts). */
import type { LocalTrafficDetector } from '../../src/local-traffic.js';

export interface IptablesSettings {
  /** --masquerade-all: SNAT all traffic to ClusterIPs. */
  readonly masqueradeAll: boolean;
  /** The fwmark bit for masquerading (kube-proxy's default 14: 0x4000). */
  readonly masqueradeBit: number;
  /**
   * IPv4 localhost NodePorts are served (route_localnet, the KUBE-FIREWALL jumps): the model's
   * servesLocalhostNodePorts, the same answer ProxyState.nodePortAddresses.localhost carries.
   */
  readonly localhostNodePorts: boolean;
  readonly localTraffic: LocalTrafficDetector;
  /** --iptables-sync-period: how often a sync checks that the kernel still holds kpx's rules (kernel-drift.ts). */
  readonly syncPeriodMs: number;
}
