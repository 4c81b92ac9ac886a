/**
 * modes.ts: the explicit map from --proxy-mode to the mode's module. No import-time registry and no
 * module-level mutable state: adding a mode means adding a line here.
 */
import type { ModeModule } from './backend.js';
import type { ProxyMode } from './model/types.js';
import { mode as iptables } from '../modes/iptables/index.js';
import { mode as ipvs } from '../modes/ipvs/index.js';
import { mode as userspace } from '../modes/userspace/index.js';

export const MODES: Readonly<Record<ProxyMode, ModeModule>> = Object.freeze({ iptables, ipvs, userspace });

/** Every mode name, in a stable order (iptables first: kube-proxy's default). */
export const MODE_NAMES: readonly ProxyMode[] = Object.freeze(['iptables', 'ipvs', 'userspace'] as const);

export function modeModule(mode: ProxyMode): ModeModule {
  return MODES[mode];
}
