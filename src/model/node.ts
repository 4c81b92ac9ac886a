/**
 * node.ts: this node as the proxy sees it: name, zone (for topology hints), addresses of one family,
 * pod CIDRs, and whether it is eligible for load-balancer traffic (kube-proxy's /healthz node check).
 */
import type { ApiNode } from './api.js';
import { LABEL_TOPOLOGY_ZONE, TAINT_TO_BE_DELETED } from './api.js';
import { isLinkLocalIPv6, isLoopbackIP, parseCIDR, parseIP } from '../util/ip.js';
import type { IPFamily, NodeInfo } from './types.js';

/**
 * False while the Node is being deleted or carries the cluster autoscaler's ToBeDeletedByClusterAutoscaler
 * taint: /healthz then answers 503 so load balancers drain the node (kube-proxy ≥ 1.28). A missing Node
 * counts as eligible, as in kube-proxy before the first Node event.
 */
export function isNodeEligible(node: ApiNode | undefined): boolean {
  if (!node) return true;
  if (node.metadata?.deletionTimestamp) return false;
  const taints = Array.isArray(node.spec?.taints) ? node.spec.taints : [];
  return !taints.some((t) => t?.key === TAINT_TO_BE_DELETED);
}

/**
 * The Node object's addresses of this family in kube-proxy's order of preference: every InternalIP,
 * then every ExternalIP (utilnode.GetNodeHostIPs). The first one is the node's primary IP.
 */
export function nodeObjectIPs(node: ApiNode | undefined, family: IPFamily): string[] {
  const addrs = Array.isArray(node?.status?.addresses) ? node.status.addresses : [];
  const out: string[] = [];
  for (const type of ['InternalIP', 'ExternalIP']) {
    for (const a of addrs) {
      if (a?.type !== type) continue;
      const p = parseIP(a.address);
      if (p && p.family === family && !out.includes(p.text)) out.push(p.text);
    }
  }
  return out;
}

/**
 * NodeInfo for one family. `ips` lists the Node object's addresses first (so ips[0] is the primary IP when
 * the Node reports one), then the host's own interface addresses, without loopback and IPv6 link-local.
 */
export function nodeInfoFrom(
  node: ApiNode | undefined,
  nodeName: string,
  family: IPFamily,
  hostAddresses: readonly string[],
): NodeInfo {
  const labels: Record<string, string> = {};
  const rawLabels = node?.metadata?.labels;
  if (rawLabels && typeof rawLabels === 'object') {
    for (const [k, v] of Object.entries(rawLabels)) if (typeof v === 'string') labels[k] = v;
  }
  const fromNode = nodeObjectIPs(node, family);
  const ips = fromNode.filter((ip) => !isLoopbackIP(ip));
  for (const raw of hostAddresses) {
    const p = parseIP(raw);
    if (!p || p.family !== family || isLoopbackIP(p) || isLinkLocalIPv6(p)) continue;
    if (!ips.includes(p.text)) ips.push(p.text);
  }
  const podCIDRs: string[] = [];
  const rawCIDRs = Array.isArray(node?.spec?.podCIDRs) && node.spec.podCIDRs.length > 0
    ? node.spec.podCIDRs
    : node?.spec?.podCIDR ? [node.spec.podCIDR] : [];
  for (const c of rawCIDRs) {
    const p = parseCIDR(c);
    if (p && p.family === family && !podCIDRs.includes(p.text)) podCIDRs.push(p.text);
  }
  const primary = fromNode.find((ip) => !isLoopbackIP(ip));
  return {
    name: nodeName,
    family,
    labels,
    zone: labels[LABEL_TOPOLOGY_ZONE] ?? '',
    ips,
    podCIDRs,
    eligible: isNodeEligible(node),
    ...(primary !== undefined ? { primaryIP: primary } : {}),
  };
}
