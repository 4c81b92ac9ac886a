/**
 * render.ts: the pure part of the nftables mode. ProxyState in, the wanted contents of kube-proxy's table
 * out: its fixed part (base chains with upstream's priorities and jumps, the top-level chains, the sets and
 * verdict maps, the node-port addresses) and, per service port, its chains, affinity sets and elements.
 * diff.ts turns two of these into one transaction.
 *
 * Upstream's documented differences from the iptables mode hold here: no localhost NodePorts, no
 * ctstate INVALID drop, and (src/cli/mode-options.ts) nodePortAddresses defaulting to "primary".
 */
import type { IPFamily, ProxyState, ServicePort, ServicePortKey } from '../../src/model/types.js';
import type { NftChainObject, NftFamily, NftSetObject } from '../../src/net/nft-transaction.js';
import type { NftLocalMatch } from './local-match.js';
import {
  BASE_CHAINS, CLUSTER_IPS, CLUSTER_IPS_CHECK, FIREWALL_CHECK, FIREWALL_IPS, MARK_MASQ, MASQUERADING,
  NODEPORT_ENDPOINTS_CHECK, NODEPORT_IPS, NO_ENDPOINT_NODEPORTS, NO_ENDPOINT_SERVICES, REJECT_CHAIN, SERVICES,
  SERVICE_ENDPOINTS_CHECK, SERVICE_IPS, SERVICE_NODEPORTS, nftFamily,
} from './names.js';
import { renderServiceObjects, type ElementSpec, type RuleSpec, type ServiceContext, type ServiceObjects } from './service-objects.js';

export type { ElementSpec, RuleSpec, ServiceObjects } from './service-objects.js';

export interface RenderOptions {
  readonly family: IPFamily;
  readonly masqueradeAll: boolean;
  /** The fwmark bit for masquerading (default 14 -> 0x004000). */
  readonly masqueradeBit: number;
  readonly localMatch: NftLocalMatch;
  /** Service CIDRs of the family: the rest of them is dropped (unallocated ClusterIPs). */
  readonly serviceCIDRs: readonly string[];
}

export interface StaticChain {
  readonly chain: NftChainObject;
  readonly rules: readonly RuleSpec[];
}

export interface WantedRuleset {
  readonly family: NftFamily;
  /** Base chains and top-level chains with their rules, in creation order. */
  readonly staticChains: readonly StaticChain[];
  /** The fixed sets and maps. */
  readonly containers: readonly NftSetObject[];
  /** nodePortAddresses matches every local address: kube-proxy then has no nodeport-ips set. */
  readonly noNodePortIPsSet: boolean;
  /** nodeport-ips elements. */
  readonly staticElements: readonly ElementSpec[];
  readonly services: ReadonlyMap<ServicePortKey, ServiceObjects>;
  readonly noLocalEndpoints: { readonly internal: number; readonly external: number };
}

/** The mark as kube-proxy writes it in nftables mode ("%#08x": 0x004000). */
export function masqueradeMark(bit: number): string {
  return '0x' + (2 ** bit).toString(16).padStart(6, '0');
}

/** Per-service output, memoised by the (immutable) ServicePort object and the options that shape it. */
export class RenderCache {
  private byPort = new WeakMap<ServicePort, ServiceObjects>();

  get(sp: ServicePort, fingerprint: string): ServiceObjects | undefined {
    const hit = this.byPort.get(sp);
    return hit && hit.fingerprint === fingerprint ? hit : undefined;
  }

  set(sp: ServicePort, r: ServiceObjects): void {
    this.byPort.set(sp, r);
  }
}

const verdictMap = (name: string, keyType: string, comment: string): NftSetObject =>
  ({ kind: 'map', name, type: `${keyType} : verdict`, comment });

/** Which top-level chain each base chain jumps to, and on what condition (upstream's order). */
const JUMPS: readonly (readonly [from: string, to: string, cond: string])[] = [
  ['filter-input', NODEPORT_ENDPOINTS_CHECK, 'ct state new'],
  ['filter-input', SERVICE_ENDPOINTS_CHECK, 'ct state new'],
  ['filter-forward', SERVICE_ENDPOINTS_CHECK, 'ct state new'],
  ['filter-output', SERVICE_ENDPOINTS_CHECK, 'ct state new'],
  ['filter-prerouting', FIREWALL_CHECK, 'ct state new'],
  ['filter-output', FIREWALL_CHECK, 'ct state new'],
  ['nat-output', SERVICES, ''],
  ['nat-prerouting', SERVICES, ''],
  ['nat-postrouting', MASQUERADING, ''],
  ['filter-forward', CLUSTER_IPS_CHECK, 'ct state new'],
  ['filter-output-post-dnat', CLUSTER_IPS_CHECK, 'ct state new'],
];

function staticPart(state: ProxyState, opts: RenderOptions): Pick<WantedRuleset, 'staticChains' | 'containers' | 'noNodePortIPsSet' | 'staticElements'> {
  const v6 = opts.family === 'IPv6';
  const ipX = v6 ? 'ip6' : 'ip';
  const addr = v6 ? 'ipv6_addr' : 'ipv4_addr';
  const noLocalhost = v6 ? 'ip6 daddr != ::1' : 'ip daddr != 127.0.0.0/8';
  const mark = masqueradeMark(opts.masqueradeBit);
  const all = state.nodePortAddresses.all;
  const rules = new Map<string, RuleSpec[]>();
  const order: NftChainObject[] = [];
  const chain = (c: NftChainObject) => {
    if (!rules.has(c.name)) { rules.set(c.name, []); order.push(c); }
    return rules.get(c.name)!;
  };
  for (const bc of BASE_CHAINS) chain(bc);
  for (const [from, to, cond] of JUMPS) {
    chain({ kind: 'chain', name: to });
    rules.get(from)!.push({ rule: `${cond ? cond + ' ' : ''}jump ${to}` });
  }
  chain({ kind: 'chain', name: MARK_MASQ }).push({ rule: `mark set mark or ${mark}` });
  chain({ kind: 'chain', name: MASQUERADING }).push(
    { rule: `mark and ${mark} == 0 return` },
    { rule: `mark set mark xor ${mark}` },
    { rule: 'masquerade fully-random' },
  );
  const clusterIPsCheck = chain({ kind: 'chain', name: CLUSTER_IPS_CHECK });
  clusterIPsCheck.push({ rule: `${ipX} daddr @${CLUSTER_IPS} reject`, comment: 'Reject traffic to invalid ports of ClusterIPs' });
  if (opts.serviceCIDRs.length) {
    clusterIPsCheck.push({ rule: `${ipX} daddr { ${opts.serviceCIDRs.join(' , ')} } drop`, comment: 'Drop traffic to unallocated ClusterIPs' });
  }
  chain({ kind: 'chain', name: REJECT_CHAIN, comment: 'helper for @no-endpoint-services / @no-endpoint-nodeports' }).push({ rule: 'reject' });
  rules.get(SERVICE_ENDPOINTS_CHECK)!.push({ rule: `${ipX} daddr . meta l4proto . th dport vmap @${NO_ENDPOINT_SERVICES}` });
  rules.get(NODEPORT_ENDPOINTS_CHECK)!.push({
    rule: `${all ? noLocalhost : `${ipX} daddr @${NODEPORT_IPS}`} meta l4proto . th dport vmap @${NO_ENDPOINT_NODEPORTS}`,
  });
  rules.get(FIREWALL_CHECK)!.push({ rule: `${ipX} daddr . meta l4proto . th dport vmap @${FIREWALL_IPS}` });
  rules.get(SERVICES)!.push(
    { rule: `${ipX} daddr . meta l4proto . th dport vmap @${SERVICE_IPS}` },
    { rule: `${all ? `fib daddr type local ${noLocalhost}` : `${ipX} daddr @${NODEPORT_IPS}`} meta l4proto . th dport vmap @${SERVICE_NODEPORTS}` },
  );

  const containers: NftSetObject[] = [
    { kind: 'set', name: CLUSTER_IPS, type: addr, comment: 'Active ClusterIPs' },
    ...(all ? [] : [{ kind: 'set', name: NODEPORT_IPS, type: addr, comment: 'IPs that accept NodePort traffic' } as const]),
    verdictMap(NO_ENDPOINT_SERVICES, `${addr} . inet_proto . inet_service`, 'vmap to drop or reject packets to services with no endpoints'),
    verdictMap(NO_ENDPOINT_NODEPORTS, 'inet_proto . inet_service', 'vmap to drop or reject packets to service nodeports with no endpoints'),
    verdictMap(FIREWALL_IPS, `${addr} . inet_proto . inet_service`, 'destinations that are subject to LoadBalancerSourceRanges'),
    verdictMap(SERVICE_IPS, `${addr} . inet_proto . inet_service`, 'ClusterIP, ExternalIP and LoadBalancer IP traffic'),
    verdictMap(SERVICE_NODEPORTS, 'inet_proto . inet_service', 'NodePort traffic'),
  ];
  // Localhost NodePorts are not supported in nftables mode, whatever nodePortAddresses says.
  const loopback = (ip: string) => (v6 ? ip === '::1' : ip.startsWith('127.'));
  const staticElements: ElementSpec[] = all ? [] : state.nodePortAddresses.ips.filter((ip) => !loopback(ip)).map((ip) => ({ container: NODEPORT_IPS, key: [ip] }));
  return {
    staticChains: order.map((c) => ({ chain: c, rules: rules.get(c.name)! })),
    containers, noNodePortIPsSet: all, staticElements,
  };
}

export function renderRuleset(state: ProxyState, opts: RenderOptions, cache = new RenderCache()): WantedRuleset {
  const nodeIP = state.node.ips[0] ?? '';
  const ctx: ServiceContext = {
    fingerprint: [opts.masqueradeAll, opts.localMatch.ifLocal, opts.localMatch.ifNotLocal, nodeIP].join('|'),
    ipX: opts.family === 'IPv6' ? 'ip6' : 'ip',
    masqueradeAll: opts.masqueradeAll, ifLocal: opts.localMatch.ifLocal, ifNotLocal: opts.localMatch.ifNotLocal, nodeIP,
  };
  const services = new Map<ServicePortKey, ServiceObjects>();
  let internal = 0;
  let external = 0;
  for (const key of [...state.services.keys()].sort()) {
    const sp = state.services.get(key)!;
    let r = cache.get(sp, ctx.fingerprint);
    if (!r) cache.set(sp, (r = renderServiceObjects(sp, ctx)));
    services.set(key, r);
    internal += r.noLocalInternal;
    external += r.noLocalExternal;
  }
  return { family: nftFamily(opts.family), ...staticPart(state, opts), services, noLocalEndpoints: { internal, external } };
}
