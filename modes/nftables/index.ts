/**
 * index.ts: the nftables mode (kube-proxy's nftables proxier): a pure renderer and differ, and a Backend
 * that sends each sync as one `nft -f -` transaction (backend.ts).
 */
import type { BackendOptions, ModeModule } from '../../src/backend.js';
import type { ProxyState } from '../../src/model/types.js';
import { NftablesBackend } from './backend.js';
import { diff } from './diff.js';
import { nftLocalMatch } from './local-match.js';
import { renderRuleset } from './render.js';
import type { NftablesSettings } from './settings.js';

export const mode: ModeModule<NftablesSettings> = {
  createBackend(opts: BackendOptions<NftablesSettings>) {
    return new NftablesBackend(opts);
  },
  /** The transaction a first sync would send for the state, for --dry-run. */
  describe(state: ProxyState, opts: BackendOptions<NftablesSettings>): string {
    const s = opts.settings;
    const wanted = renderRuleset(state, {
      family: opts.family, masqueradeAll: s.masqueradeAll, masqueradeBit: s.masqueradeBit,
      localMatch: nftLocalMatch(s.localTraffic, state.node, opts.family), serviceCIDRs: s.serviceCIDRs,
    });
    return diff({ wanted, written: undefined, kind: 'full', nowMs: 0 }).tx.toString();
  },
};

export { NftablesBackend } from './backend.js';
