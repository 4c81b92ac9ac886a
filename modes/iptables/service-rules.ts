/**
 * service-rules.ts: the rules one service port contributes, in kube-proxy's order, chain names and comments:
 * its KUBE-SERVICES / KUBE-NODEPORTS dispatch rules, its filter rules (REJECT, DROP, firewall), and its own
 * nat chains (SVC, SVL, EXT, FW, SEP). Pure.
 */
import { cidrContains } from '../../src/util/ip.js';
import type { Endpoint, ServicePort } from '../../src/model/types.js';
import {
  type ChainNameCache, KUBE_EXTERNAL_SERVICES, KUBE_MARK_MASQ, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL, KUBE_SERVICES,
  extChain, fwChain, svcChain, svlChain,
} from './chain-names.js';

/** kube-proxy's computeProbability: 1/n with 10 decimals. */
export function computeProbability(n: number): string {
  return (1 / n).toFixed(10);
}

/** Quotes a comment containing spaces the way kube-proxy writes it in restore input. */
function q(comment: string): string {
  return /\s/.test(comment) ? `"${comment}"` : comment;
}

/** One service port's share of the restore input. */
export interface ServiceRender {
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

export interface RenderContext {
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

/** A filter rule's comment (quoted) and target for traffic that has no endpoint to go to. */
interface FilterVerdict {
  readonly comment: string;
  readonly target: 'REJECT' | 'DROP';
}

/** Everything one service port contributes, in kube-proxy's order. */
export function renderService(sp: ServicePort, ctx: RenderContext): ServiceRender {
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

  // Traffic with no endpoint to go to is stopped in filter: REJECTed when the service has no endpoint at
  // all, DROPped when a Local policy finds none on this node.
  const unserved: FilterVerdict = hasEndpoints
    ? { comment: `"${name} has no local endpoints"`, target: 'DROP' }
    : { comment: `"${name} has no endpoints"`, target: 'REJECT' };
  if (hasEndpoints && !hasInternalEndpoints && sp.internalPolicyLocal) noLocalInternal++;
  if (hasEndpoints && !hasExternalEndpoints && sp.externalPolicyLocal) noLocalExternal++;

  // ClusterIP.
  const clusterMatch = `-m comment --comment "${name} cluster IP" ${pm} -d ${sp.clusterIP} --dport ${port}`;
  if (hasInternalEndpoints) {
    natServices.push(`-A ${KUBE_SERVICES} ${clusterMatch} -j ${internalPolicyChain}`);
  } else {
    filter.push(`-A ${KUBE_SERVICES} -m comment --comment ${unserved.comment} ${pm} -d ${sp.clusterIP} --dport ${port} -j ${unserved.target}`);
  }

  // externalIPs.
  for (const ip of sp.externalIPs) {
    if (hasEndpoints) {
      natServices.push(`-A ${KUBE_SERVICES} -m comment --comment "${name} external IP" ${pm} -d ${ip} --dport ${port} -j ${externalTrafficChain}`);
    }
    if (!hasExternalEndpoints) {
      // REJECT (no endpoints at all) or DROP what the EXT chain did not short-circuit (eTP=Local).
      filter.push(`-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${unserved.comment} ${pm} -d ${ip} --dport ${port} -j ${unserved.target}`);
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
      filter.push(`-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${unserved.comment} ${pm} -d ${ip} --dport ${port} -j ${unserved.target}`);
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
      filter.push(`-A ${KUBE_EXTERNAL_SERVICES} -m comment --comment ${unserved.comment} -m addrtype --dst-type LOCAL ${pm} --dport ${sp.nodePort} -j ${unserved.target}`);
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
