/**
 * service-objects.ts: what one service port contributes to kube-proxy's nftables table: its chains
 * (service-, local-, external-, firewall-, endpoint-), its per-endpoint affinity sets, and its elements in
 * the shared sets and verdict maps (cluster-ips, service-ips, service-nodeports, firewall-ips,
 * no-endpoint-services, no-endpoint-nodeports). Pure; the semantics are the iptables mode's, in
 * upstream's nftables form.
 */
import { cidrContains } from '../../src/util/ip.js';
import type { Endpoint, ServicePort, ServiceKey } from '../../src/model/types.js';
import {
  CLUSTER_IPS, FIREWALL_IPS, MARK_MASQ, NO_ENDPOINT_NODEPORTS, NO_ENDPOINT_SERVICES, REJECT_CHAIN, SERVICE_IPS,
  SERVICE_NODEPORTS, serviceNames,
} from './names.js';

export interface RuleSpec {
  readonly rule: string;
  readonly comment?: string;
}

/** One element of a shared set or map; `value` is a map element's verdict ("goto chain", "drop"). */
export interface ElementSpec {
  readonly container: string;
  readonly key: readonly string[];
  readonly value?: string;
  readonly comment?: string;
}

export interface ServiceObjects {
  readonly serviceKey: ServiceKey;
  readonly fingerprint: string;
  /** The port's chains in creation order, each with its rules. */
  readonly chains: ReadonlyMap<string, readonly RuleSpec[]>;
  /** Affinity set name -> its timeout in seconds. */
  readonly affinitySets: ReadonlyMap<string, number>;
  readonly elements: readonly ElementSpec[];
  readonly noLocalInternal: number;
  readonly noLocalExternal: number;
}

export interface ServiceContext {
  readonly fingerprint: string;
  readonly ipX: 'ip' | 'ip6';
  readonly masqueradeAll: boolean;
  /** nft matches of the local-traffic detector, "" without one. */
  readonly ifLocal: string;
  readonly ifNotLocal: string;
  /** The node IP checked against loadBalancerSourceRanges ("allow from node"). */
  readonly nodeIP: string;
}

/** An element key/endpoint as nft writes it: IPv6 "ip:port" needs brackets. */
function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function renderServiceObjects(sp: ServicePort, ctx: ServiceContext): ServiceObjects {
  const names = serviceNames(sp);
  const proto = sp.protocol.toLowerCase();
  const port = String(sp.port);
  const chains = new Map<string, RuleSpec[]>();
  const affinitySets = new Map<string, number>();
  const elements: ElementSpec[] = [];
  const chain = (name: string) => {
    let c = chains.get(name);
    if (!c) chains.set(name, (c = []));
    return c;
  };
  const hasEndpoints = sp.hasAnyEndpoints;
  const usesClusterPolicyChain = sp.clusterEndpoints.length > 0 && sp.usesClusterEndpoints;
  const usesLocalPolicyChain = sp.localEndpoints.length > 0 && sp.usesLocalEndpoints;
  const affinity = sp.affinityTimeoutSeconds > 0;

  // Endpoint chains first (the policy chains' vmaps go to them), then the policy chains.
  for (const ep of sp.allReachableEndpoints) {
    chain(names.endpoint(ep));
    if (affinity) affinitySets.set(names.affinity(ep), sp.affinityTimeoutSeconds);
  }
  if (usesClusterPolicyChain) chain(names.cluster);
  if (usesLocalPolicyChain) chain(names.local);

  // A policy chain is only a target when it is written, so a model quirk can never produce a dangling goto.
  const internalPolicyChain = sp.internalPolicyLocal ? names.local : names.cluster;
  const hasInternalEndpoints = hasEndpoints && (sp.internalPolicyLocal ? usesLocalPolicyChain : usesClusterPolicyChain);
  const externalPolicyChain = sp.externalPolicyLocal ? names.local : names.cluster;
  const hasExternalEndpoints = hasEndpoints && (sp.externalPolicyLocal ? usesLocalPolicyChain : usesClusterPolicyChain);
  // The external chain exists whenever there are endpoints anywhere: pods and the node are short-circuited
  // to the cluster endpoints even when this node has no local one.
  const usesExternalTrafficChain = hasEndpoints && sp.externallyAccessible;
  if (usesExternalTrafficChain) chain(names.external);
  const usesFWChain = sp.loadBalancerIPs.length > 0 && sp.loadBalancerSourceRanges.length > 0;
  if (usesFWChain) chain(names.firewall);

  // Traffic with no endpoint to go to: rejected when the service has none at all, dropped when a Local
  // policy finds none on this node.
  const internalVerdict = hasEndpoints ? 'drop' : `goto ${REJECT_CHAIN}`;
  const externalVerdict = internalVerdict;
  const noLocalInternal = hasEndpoints && !hasInternalEndpoints && sp.internalPolicyLocal ? 1 : 0;
  const noLocalExternal = hasEndpoints && !hasExternalEndpoints && sp.externalPolicyLocal ? 1 : 0;

  // ClusterIP.
  elements.push({ container: CLUSTER_IPS, key: [sp.clusterIP] });
  if (hasInternalEndpoints) {
    elements.push({ container: SERVICE_IPS, key: [sp.clusterIP, proto, port], value: `goto ${internalPolicyChain}` });
  } else {
    elements.push({ container: NO_ENDPOINT_SERVICES, key: [sp.clusterIP, proto, port], value: internalVerdict, comment: sp.key });
  }

  // externalIPs.
  for (const ip of sp.externalIPs) {
    if (hasEndpoints) elements.push({ container: SERVICE_IPS, key: [ip, proto, port], value: `goto ${names.external}` });
    if (!hasExternalEndpoints) elements.push({ container: NO_ENDPOINT_SERVICES, key: [ip, proto, port], value: externalVerdict, comment: sp.key });
  }

  // LoadBalancer ingress IPs.
  for (const ip of sp.loadBalancerIPs) {
    if (hasEndpoints) elements.push({ container: SERVICE_IPS, key: [ip, proto, port], value: `goto ${names.external}` });
    if (usesFWChain) elements.push({ container: FIREWALL_IPS, key: [ip, proto, port], value: `goto ${names.firewall}` });
  }
  if (!hasExternalEndpoints) {
    for (const ip of sp.loadBalancerIPs) elements.push({ container: NO_ENDPOINT_SERVICES, key: [ip, proto, port], value: externalVerdict, comment: sp.key });
  }

  // NodePort (not subject to loadBalancerSourceRanges, as in kube-proxy).
  if (sp.nodePort !== 0) {
    if (hasEndpoints) elements.push({ container: SERVICE_NODEPORTS, key: [proto, String(sp.nodePort)], value: `goto ${names.external}` });
    if (!hasExternalEndpoints) elements.push({ container: NO_ENDPOINT_NODEPORTS, key: [proto, String(sp.nodePort)], value: externalVerdict, comment: sp.key });
  }

  // Internal traffic: masquerade everything (--masquerade-all) or what comes from off-cluster (it may bounce
  // off-node).
  const ipX = ctx.ipX;
  if (hasInternalEndpoints) {
    const match = `${ipX} daddr ${sp.clusterIP} ${proto} dport ${port}`;
    if (ctx.masqueradeAll) chain(internalPolicyChain).push({ rule: `${match} jump ${MARK_MASQ}` });
    else if (ctx.ifNotLocal) chain(internalPolicyChain).push({ rule: `${match} ${ctx.ifNotLocal} jump ${MARK_MASQ}` });
  }

  if (usesExternalTrafficChain) {
    const ext = chain(names.external);
    if (!sp.externalPolicyLocal) {
      // Cluster policy may send the packet to another node: masquerade so the reply comes back here.
      ext.push({ rule: `jump ${MARK_MASQ}` });
    } else {
      // Pods reaching an external destination go to any endpoint and keep their source (as if they had gone
      // out to the load balancer and come back); so does the node, masqueraded (its source is local).
      if (ctx.ifLocal && usesClusterPolicyChain) ext.push({ rule: `${ctx.ifLocal} goto ${names.cluster}`, comment: 'short-circuit pod traffic' });
      ext.push({ rule: `fib saddr type local jump ${MARK_MASQ}`, comment: 'masquerade local traffic' });
      if (usesClusterPolicyChain) ext.push({ rule: `fib saddr type local goto ${names.cluster}`, comment: 'short-circuit local traffic' });
    }
    if (hasExternalEndpoints) ext.push({ rule: `goto ${externalPolicyChain}` });
  }

  if (usesFWChain) {
    const sources = [...sp.loadBalancerSourceRanges];
    // A VIP-like LB IP is often a local address: a request from the node then loops back with the LB IP as
    // its source, which must be allowed when the node itself is.
    if (ctx.nodeIP && sp.loadBalancerSourceRanges.some((cidr) => cidrContains(cidr, ctx.nodeIP))) sources.push(...sp.loadBalancerIPs);
    chain(names.firewall).push({ rule: `${ipX} saddr != { ${sources.join(' , ')} } drop` });
  }

  if (usesClusterPolicyChain) writeServiceToEndpointRules(chain(names.cluster), sp, sp.clusterEndpoints, ipX);
  if (usesLocalPolicyChain) writeServiceToEndpointRules(chain(names.local), sp, sp.localEndpoints, ipX);

  for (const ep of sp.allReachableEndpoints) {
    const c = chain(names.endpoint(ep));
    // Hairpin: a pod reaching itself through the service must be masqueraded, or it would answer itself.
    c.push({ rule: `${ipX} saddr ${ep.ip} jump ${MARK_MASQ}` });
    if (affinity) c.push({ rule: `update @${names.affinity(ep)} { ${ipX} saddr }` });
    c.push({ rule: `meta l4proto ${proto} dnat to ${hostPort(ep.ip, ep.port)}` });
  }

  return { serviceKey: sp.serviceKey, fingerprint: ctx.fingerprint, chains, affinitySets, elements, noLocalInternal, noLocalExternal };
}

function writeServiceToEndpointRules(out: RuleSpec[], sp: ServicePort, endpoints: readonly Endpoint[], ipX: string): void {
  const names = serviceNames(sp);
  // ClientIP affinity first: a client seen recently goes back to the same endpoint.
  if (sp.affinityTimeoutSeconds > 0) {
    for (const ep of endpoints) out.push({ rule: `${ipX} saddr @${names.affinity(ep)} goto ${names.endpoint(ep)}` });
  }
  // Then one uniform random choice among all of them, in a single lookup however many there are.
  const targets = endpoints.map((ep, i) => `${i} : goto ${names.endpoint(ep)}`);
  out.push({ rule: `numgen random mod ${endpoints.length} vmap { ${targets.join(' , ')} }` });
}
