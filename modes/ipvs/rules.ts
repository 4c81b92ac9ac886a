/**
 * rules.ts: the small iptables ruleset of the ipvs mode (kube-proxy's writeIptablesRules): masquerade,
 * hairpin, NodePorts, LB source ranges and Local policies all match on the ipsets, so this text does not grow
 * with the number of services. Pure; loaded with iptables-restore --noflush (only these chains are touched).
 */
import { iptablesLocalMatch, type IptablesLocalMatch } from '../../src/local-traffic.js';
import type { ProxyState } from '../../src/model/types.js';
import { CHAIN, FILTER_CHAINS, NAT_CHAINS, SET, SET_INFO, setName, type SetId } from './names.js';
import type { IpvsPlan } from './plan.js';
import type { IpvsSettings } from './settings.js';

export interface IpvsRulesOptions {
  readonly masqueradeAll: boolean;
  readonly masqueradeBit: number;
  /** Local-traffic detection (--detect-local-mode) as iptables matches; "" when none. */
  readonly localTraffic: IptablesLocalMatch;
  readonly randomFully: boolean;
}

export function ipvsRulesOptions(settings: IpvsSettings, state: ProxyState, randomFully: boolean): IpvsRulesOptions {
  return { masqueradeAll: settings.masqueradeAll, masqueradeBit: settings.masqueradeBit, localTraffic: iptablesLocalMatch(settings.localTraffic, state.node), randomFully };
}

const q = (s: string) => `"${s}"`;

/** Rules that jump on ipset membership, in kube-proxy's order (Local sets before their general set). */
const SET_JUMPS: readonly { set: SetId; table: 'nat' | 'filter'; from: string; to: string; match: string; proto?: string }[] = [
  { set: SET.LOOP_BACK, table: 'nat', from: CHAIN.POSTROUTING, to: 'MASQUERADE', match: 'dst,dst,src' },
  { set: SET.LOAD_BALANCER, table: 'nat', from: CHAIN.SERVICES, to: CHAIN.LOAD_BALANCER, match: 'dst,dst' },
  { set: SET.LOAD_BALANCER_LOCAL, table: 'nat', from: CHAIN.LOAD_BALANCER, to: 'RETURN', match: 'dst,dst' },
  { set: SET.NODE_PORT_LOCAL_TCP, table: 'nat', from: CHAIN.NODE_PORT, to: 'RETURN', match: 'dst', proto: 'tcp' },
  { set: SET.NODE_PORT_TCP, table: 'nat', from: CHAIN.NODE_PORT, to: CHAIN.MARK_MASQ, match: 'dst', proto: 'tcp' },
  { set: SET.NODE_PORT_LOCAL_UDP, table: 'nat', from: CHAIN.NODE_PORT, to: 'RETURN', match: 'dst', proto: 'udp' },
  { set: SET.NODE_PORT_UDP, table: 'nat', from: CHAIN.NODE_PORT, to: CHAIN.MARK_MASQ, match: 'dst', proto: 'udp' },
  { set: SET.NODE_PORT_LOCAL_SCTP, table: 'nat', from: CHAIN.NODE_PORT, to: 'RETURN', match: 'dst,dst', proto: 'sctp' },
  { set: SET.NODE_PORT_SCTP, table: 'nat', from: CHAIN.NODE_PORT, to: CHAIN.MARK_MASQ, match: 'dst,dst', proto: 'sctp' },
  { set: SET.LOAD_BALANCER_FW, table: 'filter', from: CHAIN.PROXY_FIREWALL, to: CHAIN.SOURCE_RANGES_FIREWALL, match: 'dst,dst' },
  { set: SET.LOAD_BALANCER_SOURCE_CIDR, table: 'filter', from: CHAIN.SOURCE_RANGES_FIREWALL, to: 'RETURN', match: 'dst,dst,src' },
  { set: SET.LOAD_BALANCER_SOURCE_IP, table: 'filter', from: CHAIN.SOURCE_RANGES_FIREWALL, to: 'RETURN', match: 'dst,dst,src' },
];

export function renderIpvsRules(plan: IpvsPlan, opts: IpvsRulesOptions): string {
  const fam = plan.family;
  const name = (id: SetId) => setName(id, fam);
  const has = (id: SetId) => (plan.sets.get(id)?.size ?? 0) > 0;
  const mark = `0x${(1 << opts.masqueradeBit).toString(16).padStart(8, '0')}`;
  const nat: string[] = ['*nat', ...NAT_CHAINS.map((c) => `:${c} - [0:0]`)];
  const filter: string[] = ['*filter', ...FILTER_CHAINS.map((c) => `:${c} - [0:0]`)];
  const matchSet = (id: SetId) => `-m comment --comment ${q(SET_INFO[id].comment)} -m set --match-set ${name(id)}`;

  nat.push(`-A ${CHAIN.SERVICES} -s ${fam === 'IPv6' ? '::1/128' : '127.0.0.0/8'} -j RETURN`);
  for (const j of SET_JUMPS) {
    if (!has(j.set)) continue;
    const line = `-A ${j.from}${j.proto ? ` -p ${j.proto}` : ''} ${matchSet(j.set)} ${j.match} -j ${j.to}`;
    (j.table === 'nat' ? nat : filter).push(line);
  }
  if (has(SET.CLUSTER_IP)) {
    const base = `-A ${CHAIN.SERVICES} ${matchSet(SET.CLUSTER_IP)}`;
    if (opts.masqueradeAll) nat.push(`${base} dst,dst -j ${CHAIN.MARK_MASQ}`);
    // Off-cluster traffic to a service VIP is masqueraded: it may be routed to another node.
    else if (opts.localTraffic.ifNotLocal) nat.push(`${base} dst,dst ${opts.localTraffic.ifNotLocal} -j ${CHAIN.MARK_MASQ}`);
    // Without a local detector, masquerade node-originated traffic whose source is a VIP (kube-ipvs0 holds them).
    else nat.push(`${base} src,dst -j ${CHAIN.MARK_MASQ}`);
  }
  for (const id of [SET.EXTERNAL_IP, SET.EXTERNAL_IP_LOCAL] as const) {
    if (!has(id)) continue;
    const base = `-A ${CHAIN.SERVICES} ${matchSet(id)} dst,dst`;
    if (id === SET.EXTERNAL_IP) nat.push(`${base} -j ${CHAIN.MARK_MASQ}`);
    // Accept traffic from off the machine (not bridged from a pod, not local) and traffic to a local address.
    nat.push(`${base} -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT`);
    nat.push(`${base} -m addrtype --dst-type LOCAL -j ACCEPT`);
  }
  nat.push(`-A ${CHAIN.SERVICES} -m addrtype --dst-type LOCAL -j ${CHAIN.NODE_PORT}`);
  nat.push(`-A ${CHAIN.LOAD_BALANCER} -j ${CHAIN.MARK_MASQ}`);
  filter.push(`-A ${CHAIN.SOURCE_RANGES_FIREWALL} -j DROP`);
  for (const e of plan.lbNoNodeAccess) {
    filter.push(`-A ${CHAIN.IPVS_OUT_FILTER} -s ${e.ip} -m ipvs --vaddr ${e.ip} --vproto ${e.protocol.toLowerCase()} --vport ${e.port} -j DROP`);
  }
  // Accept everything addressed to a virtual server, whatever other rules in the chain would do with it.
  for (const id of [SET.CLUSTER_IP, SET.LOAD_BALANCER] as const) {
    if (has(id)) nat.push(`-A ${CHAIN.SERVICES} -m set --match-set ${name(id)} dst,dst -j ACCEPT`);
  }
  filter.push(`-A ${CHAIN.FORWARD} -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`);
  filter.push(`-A ${CHAIN.FORWARD} -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
  filter.push(`-A ${CHAIN.NODE_PORT} ${matchSet(SET.HEALTH_CHECK_NODE_PORT)} dst -j ACCEPT`);
  // Stop a VIP from exposing the node's own ports (k/k#72236): only service ports pass.
  for (const [id, match] of [[SET.LOAD_BALANCER, 'dst,dst'], [SET.CLUSTER_IP, 'dst,dst'], [SET.EXTERNAL_IP, 'dst,dst'], [SET.EXTERNAL_IP_LOCAL, 'dst,dst'], [SET.HEALTH_CHECK_NODE_PORT, 'dst']] as const) {
    filter.push(`-A ${CHAIN.IPVS_FILTER} -m set --match-set ${name(id)} ${match} -j RETURN`);
  }
  filter.push(`-A ${CHAIN.IPVS_FILTER} -m conntrack --ctstate NEW -m set --match-set ${name(SET.IPVS_IPS)} dst -j REJECT`);
  nat.push(`-A ${CHAIN.POSTROUTING} -m mark ! --mark ${mark}/${mark} -j RETURN`);
  nat.push(`-A ${CHAIN.POSTROUTING} -j MARK --xor-mark ${mark}`);
  nat.push(`-A ${CHAIN.POSTROUTING} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${opts.randomFully ? ' --random-fully' : ''}`);
  nat.push(`-A ${CHAIN.MARK_MASQ} -j MARK --or-mark ${mark}`);
  nat.push('COMMIT');
  filter.push('COMMIT');
  return [...nat, ...filter, ''].join('\n');
}
