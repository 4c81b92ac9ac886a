/** index.ts: the ipvs mode as src/modes.ts picks it up. */
import type { ModeModule } from '../../src/backend.js';
import { IpvsBackend } from './backend.js';
import { describePlan } from './describe.js';
import { planForHost } from './plan.js';
import { ipvsRulesOptions, renderIpvsRules } from './rules.js';
import type { IpvsSettings } from './settings.js';

export const mode: ModeModule<IpvsSettings> = {
  createBackend: (opts) => new IpvsBackend(opts),
  describe(state, opts) {
    const plan = planForHost(state, opts.settings.scheduler, opts.host.addresses(opts.family));
    const rules = renderIpvsRules(plan, ipvsRulesOptions(opts.settings, state, true));
    return `# ipvs mode, ${opts.family}, node ${state.node.name}\n` + describePlan(plan, rules);
  },
};
