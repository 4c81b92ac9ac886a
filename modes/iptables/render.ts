/**
 * render.ts: the pure part of the iptables mode. ProxyState in, iptables-restore input for the nat and
 * filter tables out, in kube-proxy's (1.29+) layout, chain names and comments, so operators' tools and
 * kube-proxy's own cleanup recognise kpx's rules.
 *
 * Output is kept per chain (not one string) so the backend can (a) write only the chains of services that
 * changed, only counting the others' rules so the rule metrics stay right (kube-proxy's discard buffer),
 * and (b) skip a dispatch chain whose text did not change since it was last written.
 */
import { isIPv4 } from 'node:net';
import type { Endpoint, IPFamily, ProxyState, ServiceKey, ServicePort } from '../../src/model/types.js';
import {
  ChainNameCache, KUBE_EXTERNAL_SERVICES, KUBE_FIREWALL, KUBE_FORWARD, KUBE_MARK_MASQ, KUBE_NODEPORTS,
  KUBE_POSTROUTING, KUBE_PROXY_FIREWALL, KUBE_SERVICES, extChain, fwChain, svcChain, svlChain,
} from './chain-names.js';
import { toRestoreInput } from './restore-input.js';

export interface RenderOptions {
  readonly family: IPFamily;
  /** --masquerade-all: SNAT all traffic to ClusterIPs. */
  readonly masqueradeAll: boolean;
  /** The fwmark bit for masquerading (kube-proxy default 14 → 0x4000). */
  readonly masqueradeBit: number;
  /** Cluster CIDR of this family for local-traffic detection; "" = no detector (as kube-proxy without one). */
  readonly clusterCIDR: string;
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

/** Above this many endpoints kube-proxy drops per-endpoint comments (they make up ~40% of the input). */
export const LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000;

/** kube-proxy's computeProbability: 1/n with 10 decimals. */
export function computeProbability(n: number): string {
  return (1 / n).toFixed(10);
}

/** The mark as kube-proxy's tests show it: 1 << bit in hex ("0x4000"). */
export function masqueradeMark(bit: number): string {
  return '0x' + (2 ** bit).toString(16);
}

/** Quotes a comment containing spaces the way kube-proxy writes it in restore input. */
function q(comment: string): string {
  return /\s/.test(comment) ? `"${comment}"` : comment;
}

/**
 * RenderCache memoises per-service output between renders, keyed by the (immutable) ServicePort object
 * and the options that shape it. A sync after a one-endpoint change then re-renders one service and
 * reuses the other 4,999 services' lines; when the model hands over fresh objects the cache simply misses.
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

/** One service port's share of the restore input. */
interface ServiceRender {
  readonly fingerprint: string;
  readonly natServices: readonly string[];
  readonly natNodePorts: readonly string[];
  readonly filter: readonly string[];
  /** Its per-service nat chains and their rules. */
  readonly chains: readonly string[];
  readonly rules: readonly string[];
  readonly noLocalInternal: number;
  readonly noLocalExternal: number;
}

/**
 * The same render with every string flat. Lines built by concatenation are V8 cons-string trees, ~60 nodes
 * of 32 bytes per service; the cache keeps them for the life of the service: at 10,000 services that was
 * 20 MiB of tree nodes over ~10 MiB of text. A JSON round trip is the one cheap copy that yields flat strings.
 */
function flattened(r: ServiceRender): ServiceRender {
  return JSON.parse(JSON.stringify(r)) as ServiceRender;
}

interface RenderContext {
  readonly fingerprint: string;
  readonly masqueradeAll: boolean;
  readonly nfacct: boolean;
  readonly localhostNodePorts: boolean;
  readonly nodeIP: string;
  /** "-s CIDR" / "! -s CIDR" of the local-traffic detector, "" without one. */
  readonly ifLocal: string;
  readonly ifNotLocal: string;
  readonly largeClusterMode: boolean;
  readonly names: ChainNameCache;
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
    fingerprint: [opts.masqueradeAll, opts.nfacct ?? false, localhostNodePorts, nodeIP, opts.clusterCIDR, largeClusterMode].join('|'),
    masqueradeAll: opts.masqueradeAll, nfacct: opts.nfacct ?? false, localhostNodePorts, nodeIP,
    ifLocal: opts.clusterCIDR ? `-s ${opts.clusterCIDR}` : '', ifNotLocal: opts.clusterCIDR ? `! -s ${opts.clusterCIDR}` : '',
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

/** Everything one service port contributes, in kube-proxy's order. */
function renderService(sp: ServicePort, ctx: RenderContext): ServiceRender {
  const natServices: string[] = [];
  const natNodePorts: string[] = [];
  const filter: string[] = [];
  const chains: string[] = [];
  const rules: string[] = [];
  const proto = sp.protocol.toLowerCase();
  const name = sp.key;
  const pm = `-m ${proto} -p ${proto}`;
  const port = sp.port;
  const hasEndpoints = sp.hasAnyEndpoints;
  const clusterPolicyChain = svcChain(sp);
  const localPolicyChain = svlChain(sp);
  const usesClusterPolicyChain = sp.clusterEndpoints.length > 0 && sp.usesClusterEndpoints;
  const usesLocalPolicyChain = sp.localEndpoints.length > 0 && sp.usesLocalEndpoints;
  let noLocalInternal = 0;
  let noLocalExternal = 0;

  // Internal (ClusterIP) traffic goes to the SVC chain, or the SVL chain with iTP=Local. A policy chain
  // is only jumped to when it is written, so a model quirk can never produce a dangling jump.
  const internalPolicyChain = sp.internalPolicyLocal ? localPolicyChain : clusterPolicyChain;
  const hasInternalEndpoints = hasEndpoints && (sp.internalPolicyLocal ? usesLocalPolicyChain : usesClusterPolicyChain);
  // External (NodePort, LB, externalIP) traffic goes through the EXT chain to SVC, or SVL with eTP=Local.
  const externalPolicyChain = sp.externalPolicyLocal ? localPolicyChain : clusterPolicyChain;
  const hasExternalEndpoints = hasEndpoints && (sp.externalPolicyLocal ? usesLocalPolicyChain : usesClusterPolicyChain);
  const externalTrafficChain = extChain(sp);
  // The EXT chain exists whenever there are endpoints anywhere: pods and the node are short-circuited
  // to the cluster endpoints even when this node has no local one.
  const usesExternalTrafficChain = hasEndpoints && sp.externallyAccessible;
  const firewallChain = fwChain(sp);
  const usesFWChain = hasEndpoints && sp.loadBalancerIPs.length > 0 && sp.loadBalancerSourceRanges.length > 0;
  const loadBalancerTrafficChain = usesFWChain ? firewallChain : externalTrafficChain;

  let internalFilter = '';
  let externalFilter = '';
  if (!hasEndpoints) {
    internalFilter = externalFilter = `"${name} has no endpoints"|REJECT`;
  } else {
    if (!hasInternalEndpoints) {
      internalFilter = `"${name} has no local endpoints"|DROP`;
      if (sp.internalPolicyLocal) noLocalInternal++;
    }
    if (!hasExternalEndpoints) {
      externalFilter = `"${name} has no local endpoints"|DROP`;
      if (sp.externalPolicyLocal) noLocalExternal++;
    }
  }
  const [internalComment, internalTarget] = internalFilter.split('|');
  const [externalComment, externalTarget] = externalFilter.split('|');

  // ClusterIP.
  const clusterMatch = `-m comment --comment "${name} cluster IP" ${pm} -d ${sp.clusterIP} --dport ${port}`;
  if (hasInternalEndpoints) {
    natServices.push(`-A ${KUBE_SERVICES} ${clusterMatch} -j ${internalPolicyChain}`);
  } else {
    filter.push(`-A ${KUBE_SERVICES} -m comment --comment ${internalComment} ${pm} -d ${sp.clusterIP} --dport ${port} -j ${internalTarget}`);
  }

  // externalIPs.
  for (const ip of sp.externalIPs) {
    if (hasEndpoints) {
      natServices.push(`-A ${KUBE_SERVICES} -m comment --comment "${name} external IP" ${pm} -d ${ip} --dport ${port} -j ${externalTrafficChain}`);
    }
    if (!hasExternalEndpoints) {
      // REJECT (no endpoints at all) or DROP what the EXT chain did not short-circuit (eTP=Local).
      filter.push(`-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalComment} ${pm} -d ${ip} --dport ${port} -j ${externalTarget}`);
    }
  }

  // LoadBalancer ingress IPs.
  for (const ip of sp.loadBalancerIPs) {
    if (hasEndpoints) {
      natServices.push(`-A ${KUBE_SERVICES} -m comment --comment "${name} loadbalancer IP" ${pm} -d ${ip} --dport ${port} -j ${loadBalancerTrafficChain}`);
    }
    if (usesFWChain) {
      // What KUBE-FW let through got DNATed; anything still addressed to the LB IP was not allowed.
      filter.push(`-A ${KUBE_PROXY_FIREWALL} -m comment --comment "${name} traffic not accepted by ${firewallChain}" ${pm} -d ${ip} --dport ${port} -j DROP`);
    }
  }
  if (!hasExternalEndpoints) {
    for (const ip of sp.loadBalancerIPs) {
      filter.push(`-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalComment} ${pm} -d ${ip} --dport ${port} -j ${externalTarget}`);
    }
  }

  // NodePort. (NodePorts are not subject to loadBalancerSourceRanges, as in kube-proxy.)
  if (sp.nodePort !== 0) {
    if (hasEndpoints && ctx.nfacct && ctx.localhostNodePorts) {
      // Same jump, counted: kube-proxy's iptables_localhost_nodeports_accepted_packets_total.
      natNodePorts.push(`-A ${KUBE_NODEPORTS} -m comment --comment ${q(name)} ${pm} -d 127.0.0.0/8 --dport ${sp.nodePort} -m nfacct --nfacct-name localhost_nps_accepted_pkts -j ${externalTrafficChain}`);
    }
    if (hasEndpoints) {
      natNodePorts.push(`-A ${KUBE_NODEPORTS} -m comment --comment ${q(name)} ${pm} --dport ${sp.nodePort} -j ${externalTrafficChain}`);
    }
    if (!hasExternalEndpoints) {
      filter.push(`-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${externalComment} -m addrtype --dst-type LOCAL ${pm} --dport ${sp.nodePort} -j ${externalTarget}`);
    }
  }

  // The health-check node port is accepted whether or not there is a local endpoint (it answers 503).
  if (sp.healthCheckNodePort !== 0 && sp.externalPolicyLocal) {
    filter.push(`-A ${KUBE_NODEPORTS} -m comment --comment "${name} health check node port" -m tcp -p tcp --dport ${sp.healthCheckNodePort} -j ACCEPT`);
  }

  if (hasInternalEndpoints) {
    if (ctx.masqueradeAll) {
      rules.push(`-A ${internalPolicyChain} ${clusterMatch} -j ${KUBE_MARK_MASQ}`);
    } else if (ctx.ifNotLocal) {
      // Off-cluster traffic to a ClusterIP (someone routed the service range to this node) may bounce
      // off-node, so it is masqueraded.
      rules.push(`-A ${internalPolicyChain} ${clusterMatch} ${ctx.ifNotLocal} -j ${KUBE_MARK_MASQ}`);
    }
  }

  if (usesExternalTrafficChain) {
    chains.push(externalTrafficChain);
    if (!sp.externalPolicyLocal) {
      // Cluster policy may send the packet to another node: masquerade so the reply comes back here.
      rules.push(`-A ${externalTrafficChain} -m comment --comment "masquerade traffic for ${name} external destinations" -j ${KUBE_MARK_MASQ}`);
    } else {
      if (ctx.ifLocal && usesClusterPolicyChain) {
        // Pods reaching an external destination are short-circuited to all endpoints (as if they had gone
        // out to the load balancer and come back), and keep their source address.
        rules.push(`-A ${externalTrafficChain} -m comment --comment "pod traffic for ${name} external destinations" ${ctx.ifLocal} -j ${clusterPolicyChain}`);
      }
      // The node itself: its source would be the LB/node IP, a local address, so it must be masqueraded...
      rules.push(`-A ${externalTrafficChain} -m comment --comment "masquerade LOCAL traffic for ${name} external destinations" -m addrtype --src-type LOCAL -j ${KUBE_MARK_MASQ}`);
      // ...and may use any endpoint.
      if (usesClusterPolicyChain) {
        rules.push(`-A ${externalTrafficChain} -m comment --comment "route LOCAL traffic for ${name} external destinations" -m addrtype --src-type LOCAL -j ${clusterPolicyChain}`);
      }
    }
    if (hasExternalEndpoints) rules.push(`-A ${externalTrafficChain} -j ${externalPolicyChain}`);
  }

  if (usesFWChain) {
    chains.push(firewallChain);
    const head = `-A ${firewallChain} -m comment --comment "${name} loadbalancer IP"`;
    let allowFromNode = false;
    for (const cidr of sp.loadBalancerSourceRanges) {
      rules.push(`${head} -s ${cidr} -j ${externalTrafficChain}`);
      if (ctx.nodeIP && cidrContains(cidr, ctx.nodeIP)) allowFromNode = true;
    }
    // A VIP-like LB IP is often a local address: a request from the node then loops back with the LB IP
    // as its source, which must be allowed when the node itself is.
    if (allowFromNode) {
      for (const ip of sp.loadBalancerIPs) rules.push(`${head} -s ${ip} -j ${externalTrafficChain}`);
    }
    rules.push(`-A ${firewallChain} -m comment --comment "other traffic to ${name} will be dropped by KUBE-PROXY-FIREWALL"`);
  }

  if (usesClusterPolicyChain) {
    chains.push(clusterPolicyChain);
    writeServiceToEndpointRules(rules, sp, clusterPolicyChain, sp.clusterEndpoints, ctx);
  }
  if (usesLocalPolicyChain) {
    chains.push(localPolicyChain);
    writeServiceToEndpointRules(rules, sp, localPolicyChain, sp.localEndpoints, ctx);
  }

  // Endpoint chains: hairpin masquerade, affinity bookkeeping, DNAT.
  const sepComment = ctx.largeClusterMode ? '' : ` -m comment --comment ${q(name)}`;
  for (const ep of sp.allReachableEndpoints) {
    const sep = ctx.names.sep(sp, ep);
    chains.push(sep);
    rules.push(`-A ${sep}${sepComment} -s ${ep.ip} -j ${KUBE_MARK_MASQ}`);
    const affinity = sp.affinityTimeoutSeconds > 0 ? ` -m recent --name ${sep} --set` : '';
    rules.push(`-A ${sep}${sepComment}${affinity} ${pm} -j DNAT --to-destination ${ep.key}`);
  }
  return { fingerprint: ctx.fingerprint, natServices, natNodePorts, filter, chains, rules, noLocalInternal, noLocalExternal };
}

function writeServiceToEndpointRules(out: string[], sp: ServicePort, chain: string, endpoints: ServicePort['endpoints'], ctx: RenderContext): void {
  const comment = (ep: Endpoint) => (ctx.largeClusterMode ? '' : ` -m comment --comment "${sp.key} -> ${ep.key}"`);
  // ClientIP affinity first: a client seen recently goes back to the same endpoint.
  if (sp.affinityTimeoutSeconds > 0) {
    for (const ep of endpoints) {
      const sep = ctx.names.sep(sp, ep);
      out.push(`-A ${chain}${comment(ep)} -m recent --name ${sep} --rcheck --seconds ${sp.affinityTimeoutSeconds} --reap -j ${sep}`);
    }
  }
  // Then a uniform random choice: endpoint i of n matches with probability 1/(n-i), the last always.
  const n = endpoints.length;
  for (let i = 0; i < n; i++) {
    const ep = endpoints[i];
    const stat = i < n - 1 ? ` -m statistic --mode random --probability ${computeProbability(n - i)}` : '';
    out.push(`-A ${chain}${comment(ep)}${stat} -j ${ctx.names.sep(sp, ep)}`);
  }
}

/** Whether an IP lies in a CIDR (same family; malformed input is simply "no"). */
export function cidrContains(cidr: string, ip: string): boolean {
  const slash = cidr.indexOf('/');
  const base = slash < 0 ? cidr : cidr.slice(0, slash);
  const a = ipToBigInt(base);
  const b = ipToBigInt(ip);
  if (a === null || b === null || a.bits !== b.bits) return false;
  const len = slash < 0 ? a.bits : Number(cidr.slice(slash + 1));
  if (!Number.isInteger(len) || len < 0 || len > a.bits) return false;
  const shift = BigInt(a.bits - len);
  return (a.v >> shift) === (b.v >> shift);
}

function ipToBigInt(ip: string): { v: bigint; bits: number } | null {
  if (isIPv4(ip)) {
    return { v: ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n), bits: 32 };
  }
  if (!ip.includes(':')) return null;
  const [head, tail] = ip.split('::');
  const parse = (s: string | undefined) => (s ? s.split(':') : []);
  let groups = parse(head);
  const rest = parse(tail);
  if (ip.includes('::')) groups = [...groups, ...Array(8 - groups.length - rest.length).fill('0'), ...rest];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  return { v: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n), bits: 128 };
}

/** The complete restore input of a state (what `describe()` and a full sync write). */
export function renderRestoreInput(state: ProxyState, opts: RenderOptions): string {
  const r = renderRules(state, opts);
  return toRestoreInput(r, { filter: true, natDispatch: r.natDispatch.keys() });
}
