/**
 * index.ts: the userspace mode (--proxy-mode=userspace): kube-proxy's legacy redirect proxy, rebuilt on
 * Node streams. The kernel REDIRECTs/DNATs service traffic to kpx's own listeners, which pick an endpoint
 * (round robin, ClientIP affinity) and copy the bytes.
 */
import type { ModeModule } from '../../src/backend.js';
import { Iptables } from '../../src/net/iptables.js';
import { UserspaceBackend } from './backend.js';
import { planListeners } from './listener-plan.js';
import { bindHost } from './listeners.js';
import { renderPortalRules } from './portal-rules.js';
import type { UserspaceSettings } from './settings.js';

export const mode: ModeModule<UserspaceSettings> = {
  createBackend(opts) {
    return new UserspaceBackend({ ...opts, iptables: new Iptables({ family: opts.family }) });
  },
  /** The listeners and portal rules the state needs. Ports chosen at bind time show as 0. */
  describe(state, opts) {
    const plan = planListeners(state);
    const host = bindHost(opts.settings.bindAddress, opts.family);
    const ports = new Map(plan.listeners.map((l) => [l.id, l.fixedPort]));
    const lines = ['# userspace listeners (port 0 = from --proxy-port-range or the kernel, at bind time)'];
    for (const l of plan.listeners) {
      lines.push(`listen ${l.protocol} ${host}:${l.fixedPort} ${l.id} endpoints=${l.endpoints.map((e) => e.key).join(',') || '-'}` +
        (l.affinityTimeoutSeconds ? ` affinity=ClientIP/${l.affinityTimeoutSeconds}s` : ''));
    }
    for (const sp of plan.refused) lines.push(`# refused ${sp.key} ${sp.protocol}: SCTP is not supported for user space proxy`);
    lines.push('# portal rules (iptables-restore --noflush)');
    lines.push(renderPortalRules(plan.targets, ports, { family: opts.family, bindHost: host, hostIP: state.node.ips[0] ?? '', nodePortAddresses: state.nodePortAddresses }));
    return lines.join('\n');
  },
};
