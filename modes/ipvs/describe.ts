/** describe.ts: a readable dump of an IPVS plan (--dry-run): what `ipvsadm -Ln`, `ip addr` and `ipset` would show. */
import { SvcFlag } from '../../src/net/ipvs/constants.js';
import { DUMMY_DEVICE, setName } from './names.js';
import type { IpvsPlan } from './plan.js';
import { joinHostPort } from '../../src/util/ip.js';

export function describePlan(plan: IpvsPlan, rules: string): string {
  const out: string[] = [`# IPVS virtual servers (${plan.virtualServers.size})`];
  const ids = [...plan.virtualServers.keys()].sort();
  for (const id of ids) {
    const p = plan.virtualServers.get(id)!;
    const persist = p.vs.flags & SvcFlag.PERSISTENT ? ` persistent ${p.vs.timeout}` : '';
    out.push(`${id} ${p.vs.scheduler}${persist}    # ${p.servicePort}`);
    for (const rs of p.realServers) out.push(`  -> ${joinHostPort(rs.address, rs.port)}  Masq 1`);
  }
  out.push('', `# addresses on ${DUMMY_DEVICE} (${plan.bindAddresses.size})`, ...[...plan.bindAddresses].sort());
  out.push('', '# ipsets');
  for (const [id, entries] of plan.sets) {
    if (entries.size === 0) continue;
    out.push(`${setName(id, plan.family)}: ${[...entries].sort().join(' ')}`);
  }
  out.push('', '# iptables-restore --noflush input', rules);
  return out.join('\n');
}
