/**
 * modes.ts: the explicit map from --proxy-mode to the mode's module and to the settings it is handed. No
 * import-time registry and no module-level mutable state: adding a mode means adding a line here (and its
 * resolver in src/cli/mode-options.ts).
 */
import type { ModeModule, ProxyMode } from './backend.js';
import { mode as iptables } from '../modes/iptables/index.js';
import type { IptablesSettings } from '../modes/iptables/settings.js';
import { mode as ipvs } from '../modes/ipvs/index.js';
import type { IpvsSettings } from '../modes/ipvs/settings.js';
import { mode as nftables } from '../modes/nftables/index.js';
import type { NftablesSettings } from '../modes/nftables/settings.js';
import { mode as userspace } from '../modes/userspace/index.js';
import type { UserspaceSettings } from '../modes/userspace/settings.js';

export interface ModeSettings {
  readonly iptables: IptablesSettings;
  readonly ipvs: IpvsSettings;
  readonly userspace: UserspaceSettings;
  readonly nftables: NftablesSettings;
}

export const MODES: { readonly [M in ProxyMode]: ModeModule<ModeSettings[M]> } = Object.freeze({ iptables, ipvs, userspace, nftables });

export { PROXY_MODES as MODE_NAMES } from './backend.js';
