/** index.ts: the ipvs mode as src/modes.ts picks it up. */
import type { ModeModule } from '../../src/backend.js';
import { IpvsBackend } from './backend.js';
import { describePlan } from './describe.js';
import { renderIpvsRules } from './rules.js';

export const mode: ModeModule = {
  createBackend: (opts) => new IpvsBackend(opts),
  describe(state, opts) {
    const plan = new IpvsBackend(opts).plan(state);
    const c = opts.config;
    const rules = renderIpvsRules(plan, { masqueradeAll: c.iptables.masqueradeAll, masqueradeBit: c.iptables.masqueradeBit, clusterCIDR: opts.clusterCIDR, randomFully: true });
    return `# ipvs mode, ${opts.family}, node ${state.node.name}\n` + describePlan(plan, rules);
  },
};
