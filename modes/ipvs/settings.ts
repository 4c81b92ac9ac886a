/** settings.ts: what the ipvs mode reads of the configuration, resolved once (src/cli/mode-options.ts). */
import type { LocalTrafficDetector } from '../../src/local-traffic.js';

export interface IpvsSettings {
  readonly scheduler: string;
  /** --ipvs-strict-arp: arp_ignore=1, arp_announce=2. */
  readonly strictARP: boolean;
  /** IPVS connection timeouts in ms; 0 leaves the kernel's value. */
  readonly tcpTimeoutMs: number;
  readonly tcpFinTimeoutMs: number;
  readonly udpTimeoutMs: number;
  /** --ipvs-exclude-cidrs: virtual servers on these addresses are never removed (another program's). */
  readonly excludeCIDRs: readonly string[];
  readonly masqueradeAll: boolean;
  readonly masqueradeBit: number;
  readonly localTraffic: LocalTrafficDetector;
}
