/** settings.ts: what the userspace mode reads of the configuration, resolved once (src/cli/mode-options.ts). */
import type { PortRange } from './port-range.js';

export interface UserspaceSettings {
  /** --bind-address: where the listeners bind (0.0.0.0 / :: for every address). */
  readonly bindAddress: string;
  /** --proxy-port-range; undefined: the kernel chooses. */
  readonly portRange: PortRange | undefined;
  /** --udp-timeout: idle timeout of a UDP session. */
  readonly udpIdleTimeoutMs: number;
}
