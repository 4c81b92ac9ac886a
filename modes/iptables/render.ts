/**
 * render.ts: the pure part of the iptables mode. ProxyState in, iptables-restore input for the nat and
 * filter tables out, in kube-proxy's (1.29+) layout, chain names and comments, so operators' tools and
 * kube-proxy's own cleanup recognise kpx's rules.
 *
 * Output is kept per chain (not one string) so the backend can (a) write only the chains of services that
 * changed, only counting the others' rules so the rule metrics stay right (kube-proxy's discard buffer),
 * and (b) skip a dispatch chain whose text did not change since it was last written.
 */
import type { IptablesLocalMatch } from '../../src/local-traffic.js';
import { isIPv4 } from 'node:net';
import type { IPFamily, ProxyState, ServiceKey, ServicePort } from '../../src/model/types.js';
import {
  ChainNameCache, KUBE_EXTERNAL_SERVICES, KUBE_FIREWALL, KUBE_FORWARD, KUBE_MARK_MASQ, KUBE_NODEPORTS,
  KUBE_POSTROUTING, KUBE_PROXY_FIREWALL, KUBE_SERVICES,
} from './chain-names.js';
import { toRestoreInput } from './restore-input.js';
import { renderService, type RenderContext, type ServiceRender } from './service-rules.js';

export interface RenderOptions {
  readonly family: IPFamily;
  /** --masquerade-all: SNAT all traffic to ClusterIPs. */
  readonly masqueradeAll: boolean;
  /** The fwmark bit for masquerading (kube-proxy default 14 → 0x4000). */
  readonly masqueradeBit: number;
  /** Local-traffic detection (--detect-local-mode) as iptables matches; both "" = no detector, as kube-proxy without one. */
  readonly localTraffic: IptablesLocalMatch;
  /** MASQUERADE --random-fully (when the iptables binary supports it). */
  readonly randomFully: boolean;
  /** nf_conntrack_tcp_be_liberal is set: kube-proxy then omits the ctstate INVALID drop. */
  readonly conntrackTCPLiberal?: boolean;
  /**
   * The kernel has xt_nfacct: add kube-proxy's accounting matches (ct_state_invalid_dropped_pkts,
   * localhost_nps_accepted_pkts) that back its iptables_*_packets_total metrics. Default off.
   */
  readonly nfacct?: boolean;
  /**
   * The node IP checked against loadBalancerSourceRanges ("allow from node"); defaults to the first of
   * state.node.ips.
   */
  readonly nodeIP?: string;
}

/**
 * What to write. `services` undefined = full render (every service's chains are written); otherwise only
 * the chains of these services (ServiceKey = namespace/name) are written and the rest only counted.
 */
export interface RenderScope {
  readonly services?: ReadonlySet<ServiceKey>;
}

export interface RenderedRules {
  /** Filter chains declared, in order. */
  readonly filterChains: readonly string[];
  /** All filter rules ("-A ..." lines). The filter table is small and always rendered whole. */
  readonly filterRules: readonly string[];
  /** Rules of the always-rendered nat chains: KUBE-SERVICES, KUBE-NODEPORTS, KUBE-POSTROUTING, KUBE-MARK-MASQ. */
  readonly natDispatch: ReadonlyMap<string, readonly string[]>;
  /** Per-service nat chains written (declared) in this render, in order. */
  readonly serviceChains: readonly string[];
  /** Their rules. */
  readonly serviceRules: readonly string[];
  /** Every per-service nat chain the state needs, written or not (stale-chain detection). */
  readonly activeNatChains: ReadonlySet<string>;
  /** Rule counts for kubeproxy_sync_proxy_rules_iptables_total{table}. */
  readonly totalRules: { readonly filter: number; readonly nat: number };
  /** True when comments were dropped (more than 1000 endpoints, kube-proxy's "large cluster mode"). */
  readonly largeClusterMode: boolean;
  /** Services with a Local policy and no local endpoint (sync_proxy_rules_no_local_endpoints_total). */
  readonly noLocalEndpoints: { readonly internal: number; readonly external: number };
}

/** Above this many endpoints kube-proxy drops per-endpoint comments (a large share of the input). */
export const LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000;

/** The mark as kube-proxy's tests show it: 1 << bit in hex ("0x4000"). */
export function masqueradeMark(bit: number): string {
  return '0x' + (2 ** bit).toString(16);
}

/**
 * RenderCache memoises per-service output between renders, keyed by the (immutable) ServicePort object
 * and the options that shape it. A sync after a one-endpoint change then re-renders one service and
 * reuses every other service's lines; when the model hands over fresh objects the cache simply misses.
 */
export class RenderCache {
  readonly names = new ChainNameCache();
  private byPort = new WeakMap<ServicePort, ServiceRender>();

  get(sp: ServicePort, fingerprint: string): ServiceRender | undefined {
    const hit = this.byPort.get(sp);
    return hit && hit.fingerprint === fingerprint ? hit : undefined;
  }

  set(sp: ServicePort, r: ServiceRender): void {
    this.byPort.set(sp, r);
  }
}

/**
 * The same render with every string flat. Lines built by concatenation are V8 cons-string trees, many
 * small nodes per service that the cache would keep for the life of the service, outweighing the text
 * itself (README, "Where the time and memory go"). A JSON round trip is the one cheap copy that yields
 * flat strings.
 */
function flattened(r: ServiceRender): ServiceRender {
  return JSON.parse(JSON.stringify(r)) as ServiceRender;
}

const NODEPORTS_LAST = '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"';

/**
 * renderRules: ProxyState → restore input pieces. Pure: the optional cache only memoises hashes and
 * per-service lines.
 */
export function renderRules(state: ProxyState, opts: RenderOptions, scope: RenderScope = {}, cache = new RenderCache()): RenderedRules {
  const isV6 = opts.family === 'IPv6';
  const mark = masqueradeMark(opts.masqueradeBit);
  const localhostNodePorts = !isV6 && state.nodePortAddresses.localhost;
  const nodeIP = opts.nodeIP ?? state.node.ips[0] ?? '';

  const filterChains: string[] = [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL];
  const filterRules: string[] = [];
  const natServices: string[] = [];
  const natNodePorts: string[] = [];
  const serviceChains: string[] = [];
  const serviceRules: string[] = [];
  let skippedRules = 0;
  const activeNatChains = new Set<string>();

  // KUBE-POSTROUTING: masquerade only marked packets, and clear the mark so a packet that re-traverses
  // the stack is not masqueraded twice. (kubelet writes the same rules: they must match.)
  const natPostrouting = [
    `-A ${KUBE_POSTROUTING} -m mark ! --mark ${mark}/${mark} -j RETURN`,
    `-A ${KUBE_POSTROUTING} -j MARK --xor-mark ${mark}`,
    `-A ${KUBE_POSTROUTING} -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${opts.randomFully ? ' --random-fully' : ''}`,
  ];
  const natMarkMasq = [`-A ${KUBE_MARK_MASQ} -j MARK --or-mark ${mark}`];

  if (localhostNodePorts) {
    // route_localnet (needed for localhost NodePorts) lets martian packets to 127/8 in from outside;
    // this drops them unless they are replies or DNATed (https://issues.k8s.io/90259).
    filterChains.push(KUBE_FIREWALL);
    filterRules.push(`-A ${KUBE_FIREWALL} -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`);
  }

  const keys = [...state.services.keys()].sort();
  let totalEndpoints = 0;
  for (const sp of state.services.values()) totalEndpoints += sp.endpoints.length;
  const largeClusterMode = totalEndpoints > LARGE_CLUSTER_ENDPOINTS_THRESHOLD;
  const ctx: RenderContext = {
    fingerprint: [opts.masqueradeAll, opts.nfacct ?? false, localhostNodePorts, nodeIP, opts.localTraffic.ifLocal, largeClusterMode].join('|'),
    masqueradeAll: opts.masqueradeAll, nfacct: opts.nfacct ?? false, localhostNodePorts, nodeIP,
    ifLocal: opts.localTraffic.ifLocal, ifNotLocal: opts.localTraffic.ifNotLocal,
    largeClusterMode, names: cache.names,
  };

  let noLocalInternal = 0;
  let noLocalExternal = 0;
  for (const key of keys) {
    const sp = state.services.get(key)!;
    let r = cache.get(sp, ctx.fingerprint);
    if (!r) {
      r = flattened(renderService(sp, ctx));
      cache.set(sp, r);
    }
    for (const l of r.natServices) natServices.push(l);
    for (const l of r.natNodePorts) natNodePorts.push(l);
    for (const l of r.filter) filterRules.push(l);
    for (const c of r.chains) activeNatChains.add(c);
    noLocalInternal += r.noLocalInternal;
    noLocalExternal += r.noLocalExternal;
    // Per-service chains: written only for changed services in a partial render, counted either way.
    if (!scope.services || scope.services.has(sp.serviceKey)) {
      for (const c of r.chains) serviceChains.push(c);
      for (const l of r.rules) serviceRules.push(l);
    } else {
      skippedRules += r.rules.length;
    }
  }

  // Last in KUBE-SERVICES: everything addressed to a node-port address goes to KUBE-NODEPORTS.
  if (state.nodePortAddresses.all) {
    // Localhost NodePorts never work on IPv6, and on IPv4 only with route_localnet: exclude them otherwise.
    const excl = isV6 ? ' ! -d ::1/128' : localhostNodePorts ? '' : ' ! -d 127.0.0.0/8';
    natServices.push(`-A ${KUBE_SERVICES} ${NODEPORTS_LAST} -m addrtype --dst-type LOCAL${excl} -j ${KUBE_NODEPORTS}`);
  } else {
    for (const ip of state.nodePortAddresses.ips) {
      const loopback = isV6 ? ip === '::1' : isIPv4(ip) && ip.startsWith('127.');
      if (loopback && (isV6 || !localhostNodePorts)) continue;
      natServices.push(`-A ${KUBE_SERVICES} ${NODEPORTS_LAST} -d ${ip} -j ${KUBE_NODEPORTS}`);
    }
  }

  // Forwarding: drop INVALID packets (they cause spurious RSTs, kubernetes#74839) unless the kernel is
  // liberal, accept marked (NodePort) traffic and its replies even when FORWARD's policy is DROP.
  if (!opts.conntrackTCPLiberal) {
    filterRules.push(`-A ${KUBE_FORWARD} -m conntrack --ctstate INVALID${opts.nfacct ? ' -m nfacct --nfacct-name ct_state_invalid_dropped_pkts' : ''} -j DROP`);
  }
  filterRules.push(`-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`);
  filterRules.push(`-A ${KUBE_FORWARD} -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);

  const natDispatch = new Map<string, readonly string[]>([
    [KUBE_SERVICES, natServices], [KUBE_NODEPORTS, natNodePorts],
    [KUBE_POSTROUTING, natPostrouting], [KUBE_MARK_MASQ, natMarkMasq],
  ]);
  const dispatchLines = natServices.length + natNodePorts.length + natPostrouting.length + natMarkMasq.length;
  return {
    filterChains,
    filterRules,
    natDispatch,
    serviceChains,
    serviceRules,
    activeNatChains,
    totalRules: { filter: filterRules.length, nat: dispatchLines + serviceRules.length + skippedRules },
    largeClusterMode,
    noLocalEndpoints: { internal: noLocalInternal, external: noLocalExternal },
  };
}

/** The complete restore input of a state (what `describe()` and a full sync write). */
export function renderRestoreInput(state: ProxyState, opts: RenderOptions): string {
  const r = renderRules(state, opts);
  return toRestoreInput(r, { filter: true, natDispatch: r.natDispatch.keys() });
}
