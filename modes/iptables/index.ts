/**
 * index.ts: the iptables mode (kube-proxy's default): a pure renderer (render.ts) and a Backend that
 * writes its output with iptables-restore (backend.ts).
 */
import type { BackendOptions, ModeModule } from '../../src/backend.js';
import type { ProxyState } from '../../src/model/types.js';
import { IptablesBackend } from './backend.js';
import { renderRestoreInput } from './render.js';

export const mode: ModeModule = {
  createBackend(opts: BackendOptions) {
    return new IptablesBackend(opts);
  },
  /** The complete restore input kpx would write for the state (nat and filter), for --dry-run. */
  describe(state: ProxyState, opts: BackendOptions): string {
    return renderRestoreInput(state, {
      family: opts.family,
      masqueradeAll: opts.config.iptables.masqueradeAll,
      masqueradeBit: opts.config.iptables.masqueradeBit,
      clusterCIDR: opts.clusterCIDR,
      randomFully: true,
    });
  },
};

export { IptablesBackend } from './backend.js';
export { renderRules, renderRestoreInput } from './render.js';
export { toRestoreInput } from './restore-input.js';
