/**
 * host-facts.ts: what kpx derives from the host and its configuration before it knows the cluster: the
 * node's name, the host's addresses, the IP families to proxy, each family's cluster CIDR and where the
 * per-service health-check ports listen.
 *
 * IP families: IPv4 always, plus IPv6 when the host has a global IPv6 address (scope global: not
 * loopback, not link-local fe80::/10; unique-local fd00::/8 counts, as it does for iproute2). Dual-stack is
 * one backend per family behind one proxier, as kube-proxy's metaproxier.
 */
import { hostname, type networkInterfaces } from 'node:os';
import type { HostFacts } from '../backend.js';
import type { KpxConfig } from '../config/types.js';
import { DUMMY_DEVICE } from '../../modes/ipvs/names.js';
import { nodeInfoFrom, resolveNodePortAddresses } from '../model/index.js';
import type { IPFamily } from '../model/types.js';
import type { Logger } from '../util/log.js';

/** The node's name: --hostname-override, else the host name, lowercased (kube-proxy's GetHostname). */
export function nodeNameFor(config: KpxConfig, host: () => string = hostname): string {
  const name = config.hostnameOverride.trim() || host().trim();
  return name.toLowerCase();
}

/** Every address on the host's interfaces, without IPv6 zone suffixes. */
export function hostAddressesFrom(ifaces: ReturnType<typeof networkInterfaces>): string[] {
  const out: string[] = [];
  for (const list of Object.values(ifaces)) {
    for (const a of list ?? []) {
      const addr = a.address.split('%')[0];
      if (!out.includes(addr)) out.push(addr);
    }
  }
  return out;
}

/**
 * The host as modes ask about it while running: read afresh each time (addresses come and go), without
 * kube-ipvs0, whose addresses are service VIPs the ipvs mode bound, not the node's.
 */
export function hostFacts(ifaces: () => ReturnType<typeof networkInterfaces>): HostFacts {
  return {
    addresses(family: IPFamily): string[] {
      const out: string[] = [];
      for (const [name, list] of Object.entries(ifaces())) {
        if (name === DUMMY_DEVICE) continue;
        for (const a of list ?? []) {
          if ((a.family === 'IPv4') === (family === 'IPv4') && !out.includes(a.address)) out.push(a.address);
        }
      }
      return out;
    },
  };
}

/** True for an IPv6 address of global scope (not ::1, not ::, not link-local fe80::/10, not v4-mapped). */
export function isGlobalIPv6(addr: string): boolean {
  if (!addr.includes(':')) return false;
  const a = addr.toLowerCase();
  if (a === '::1' || a === '::' || a.startsWith('::ffff:')) return false;
  const first = parseInt(a.split(':')[0] || '0', 16);
  return (first & 0xffc0) !== 0xfe80;
}

/** IPv4, plus IPv6 when the host has a global IPv6 address (see the file comment). */
export function ipFamiliesFor(hostAddresses: readonly string[]): IPFamily[] {
  return hostAddresses.some(isGlobalIPv6) ? ['IPv4', 'IPv6'] : ['IPv4'];
}

/** The configured cluster CIDR of this family ("" when none). */
export function clusterCIDRFor(config: KpxConfig, family: IPFamily): string {
  return config.clusterCIDRs.find((c) => c.includes(':') === (family === 'IPv6')) ?? '';
}

/**
 * Where the per-service health-check node ports listen: like kube-proxy, on the node-port addresses, so
 * all addresses unless --nodeport-addresses narrows them. Resolved once at start from the host's
 * interfaces ("primary" needs the Node object, which is not known yet: it falls back to all addresses).
 */
export function healthCheckAddresses(config: KpxConfig, nodeName: string, hostAddresses: readonly string[], families: readonly IPFamily[], log: Logger): string[] {
  if (config.nodePortAddresses.length === 0) return [];
  const ips: string[] = [];
  for (const family of families) {
    const node = nodeInfoFrom(undefined, nodeName, family, hostAddresses);
    const npa = resolveNodePortAddresses(config.nodePortAddresses, node, hostAddresses, false);
    if (npa.all) return [];
    for (const ip of npa.ips) if (!ips.includes(ip)) ips.push(ip);
  }
  if (ips.length === 0) log.warn('no host address matches --nodeport-addresses; health-check node ports listen on all addresses', { nodePortAddresses: config.nodePortAddresses.join(',') });
  return ips;
}
