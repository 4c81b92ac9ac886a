/**
 * index.ts: the iptables mode (kube-proxy's default): a pure renderer (render.ts) and a Backend that
 * writes its output with iptables-restore (backend.ts).
 */
import type { BackendOptions, ModeModule } from '../../src/backend.js';
import { iptablesLocalMatch } from '../../src/local-traffic.js';
import type { ProxyState } from '../../src/model/types.js';
import { IptablesBackend } from './backend.js';
import { renderRestoreInput } from './render.js';
import type { IptablesSettings } from './settings.js';

export const mode: ModeModule<IptablesSettings> = {
  createBackend(opts: BackendOptions<IptablesSettings>) {
    return new IptablesBackend(opts);
  },
  /** The complete restore input kpx would write for the state (nat and filter), for --dry-run. */
  describe(state: ProxyState, opts: BackendOptions<IptablesSettings>): string {
    return renderRestoreInput(state, {
      family: opts.family,
      masqueradeAll: opts.settings.masqueradeAll,
      masqueradeBit: opts.settings.masqueradeBit,
      localTraffic: iptablesLocalMatch(opts.settings.localTraffic, state.node),
      randomFully: true,
    });
  },
};

export { IptablesBackend } from './backend.js';
export { renderRules, renderRestoreInput } from './render.js';
export { toRestoreInput } from './restore-input.js';
