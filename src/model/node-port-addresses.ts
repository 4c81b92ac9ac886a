/**
 * node-port-addresses.ts: where NodePorts are served, from --nodeport-addresses, as kube-proxy resolves it
 * (pkg/proxy/util/nodeport_addresses.go and cmd/kube-proxy's "primary" handling):
 *
 * - the list is filtered to this family; when nothing of the family remains (the default, empty list)
 *   it means 0.0.0.0/0 or ::/0, i.e. every local address ("all");
 * - a list that is exactly ["primary"] means the node's primary IP of each family (/32 or /128); a family
 *   with no primary IP falls back to "all", as kube-proxy does;
 * - otherwise the host's own addresses inside one of the CIDRs;
 * - IPv4 localhost NodePorts (127.0.0.0/8, via route_localnet) only when localhostNodePorts is on and a
 *   CIDR covers 127.0.0.0 (so also with the default "all", but not with "primary"); never on IPv6.
 * The family is the `family` argument, else the NodeInfo's (nodeInfoFrom sets it).
 */
import { cidrContains, isLinkLocalIPv6, isLoopbackIP, isZeroCIDR, parseCIDR, parseIP } from '../util/ip.js';
import type { ParsedCIDR } from '../util/ip.js';
import type { IPFamily, NodeInfo, NodePortAddresses } from './types.js';

export const NODE_PORT_ADDRESSES_PRIMARY = 'primary';

const IPV4_LOOPBACK_START = '127.0.0.0';

/** The CIDRs of this family the configured list stands for ("primary" expanded). */
export function nodePortCIDRs(nodePortAddresses: readonly string[], node: NodeInfo, family: IPFamily): ParsedCIDR[] {
  const out: ParsedCIDR[] = [];
  for (const raw of nodePortAddresses) {
    const entry = typeof raw === 'string' ? raw.trim() : '';
    let cidr: ParsedCIDR | null;
    if (entry === NODE_PORT_ADDRESSES_PRIMARY) {
      const ip = node.primaryIP ? parseIP(node.primaryIP) : null;
      if (!ip || ip.family !== family || isLoopbackIP(ip)) continue;
      cidr = parseCIDR(`${ip.text}/${family === 'IPv4' ? 32 : 128}`);
    } else {
      cidr = parseCIDR(entry); // the config layer reports bad entries; here they are just not addresses
    }
    if (cidr && cidr.family === family) out.push(cidr);
  }
  if (out.length === 0) out.push(parseCIDR(family === 'IPv4' ? '0.0.0.0/0' : '::/0')!);
  return out;
}

/**
 * Whether IPv4 localhost NodePorts are served: the one answer both ProxyState.nodePortAddresses.localhost and
 * a mode's host set-up (route_localnet, the KUBE-FIREWALL jumps) use, so it cannot depend on the Node object
 * (a mode sets the host up before the Node is known). "primary" stands for the node's own address, never a
 * loopback one, also while the Node reports none and NodePorts fall back to every address.
 */
export function servesLocalhostNodePorts(nodePortAddresses: readonly string[], localhostNodePorts: boolean, family: IPFamily): boolean {
  if (family !== 'IPv4' || !localhostNodePorts) return false;
  let primary = false;
  const cidrs: ParsedCIDR[] = [];
  for (const raw of nodePortAddresses) {
    const entry = typeof raw === 'string' ? raw.trim() : '';
    if (entry === NODE_PORT_ADDRESSES_PRIMARY) primary = true;
    const cidr = parseCIDR(entry);
    if (cidr && cidr.family === family) cidrs.push(cidr);
  }
  if (cidrs.length === 0) return !primary;
  return cidrs.some((c) => cidrContains(c, IPV4_LOOPBACK_START) || isLoopbackIP(parseIP(c.text.split('/')[0])!));
}

/**
 * Resolves nodePortAddresses for one family. `ips` holds the host's matching addresses (every local
 * address of the family when `all`), without IPv6 link-local addresses, and with IPv4 loopback only when
 * localhost NodePorts are served.
 */
export function resolveNodePortAddresses(
  nodePortAddresses: readonly string[],
  node: NodeInfo,
  hostAddresses: readonly string[],
  localhostNodePorts: boolean,
  family?: IPFamily,
): NodePortAddresses {
  const fam: IPFamily = family ?? node.family ?? (node.ips[0]?.includes(':') ? 'IPv6' : 'IPv4');
  const cidrs = nodePortCIDRs(nodePortAddresses, node, fam);
  const all = cidrs.some(isZeroCIDR);
  const localhost = servesLocalhostNodePorts(nodePortAddresses, localhostNodePorts, fam);

  const ips: string[] = [];
  for (const raw of hostAddresses) {
    const ip = parseIP(raw);
    if (!ip || ip.family !== fam || isLinkLocalIPv6(ip)) continue;
    if (isLoopbackIP(ip) && !localhost) continue;
    if (ips.includes(ip.text)) continue;
    if (all || cidrs.some((c) => cidrContains(c, ip))) ips.push(ip.text);
  }
  return { all, ips, localhost };
}
