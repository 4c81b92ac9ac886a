/**
 * stale-conntrack.ts: which UDP conntrack entries a sync made stale (pure; shared by the modes that DNAT).
 * The rules, from kpng's "So You Want To Write A Service Proxy" and kube-proxy's conntrack cleanup:
 * - a UDP endpoint that went away: delete entries DNATed to it whose original destination is the
 *   service's ClusterIP, an externalIP, an LB IP, or its node port (otherwise the client keeps sending
 *   into the void until the entry times out);
 * - a UDP service going from no endpoints to some: delete entries for its ClusterIP, externalIPs, LB IPs
 *   and node port (they cache the REJECT the client got while it had none).
 * TCP needs nothing (a dead peer resets); SCTP is left alone as kube-proxy does.
 */
import type { ConntrackClient, ConntrackFilter } from './net/conntrack.js';
import { errorMessage } from './util/errors.js';
import type { Logger } from './util/log.js';
import type { ServicePort, ServicePortKey } from './model/types.js';

function serviceIPs(sp: ServicePort): string[] {
  return [sp.clusterIP, ...sp.externalIPs, ...sp.loadBalancerIPs].filter((ip) => ip !== '');
}

/**
 * staleConntrackFilters: the deletions a change from `prev` to `next` needs. `prev` undefined means
 * there is no previous sync (kpx just started): then nothing went 0→N from kpx's point of view, and
 * flushing every UDP service on restart breaks long-lived flows (kubernetes#122740).
 */
export function staleConntrackFilters(prev: ReadonlyMap<ServicePortKey, ServicePort> | undefined,
  next: ReadonlyMap<ServicePortKey, ServicePort>): ConntrackFilter[] {
  const out: ConntrackFilter[] = [];
  const seen = new Set<string>();
  const add = (f: ConntrackFilter) => {
    const id = `${f.origDst ?? ''}|${f.origPortDst ?? ''}|${f.dstNat ?? ''}`;
    if (!seen.has(id)) { seen.add(id); out.push(f); }
  };
  if (!prev) return out;
  for (const [key, old] of prev) {
    if (old.protocol !== 'UDP') continue;
    const cur = next.get(key);
    const still = new Set(cur && cur.protocol === 'UDP' ? cur.allReachableEndpoints.map((e) => e.key) : []);
    for (const ep of old.allReachableEndpoints) {
      if (still.has(ep.key)) continue;
      for (const ip of serviceIPs(old)) add({ protocol: 'UDP', origDst: ip, dstNat: ep.ip });
      if (old.nodePort) add({ protocol: 'UDP', origPortDst: old.nodePort, dstNat: ep.ip });
    }
  }
  for (const [key, cur] of next) {
    if (cur.protocol !== 'UDP' || cur.allReachableEndpoints.length === 0) continue;
    const old = prev.get(key);
    if (old && old.protocol === 'UDP' && old.allReachableEndpoints.length > 0) continue;
    for (const ip of serviceIPs(cur)) add({ protocol: 'UDP', origDst: ip });
    if (cur.nodePort) add({ protocol: 'UDP', origPortDst: cur.nodePort });
  }
  return out;
}

/**
 * After a mode's rules are in: deletes the UDP flows the change made stale. A failure is logged, never
 * fatal: the entry times out on its own.
 */
export async function clearStaleConntrack(
  ct: Pick<ConntrackClient, 'delete'>,
  prev: ReadonlyMap<ServicePortKey, ServicePort> | undefined,
  next: ReadonlyMap<ServicePortKey, ServicePort>,
  log: Logger,
): Promise<void> {
  for (const f of staleConntrackFilters(prev, next)) {
    try {
      await ct.delete(f);
    } catch (err) {
      log.warn('failed to delete stale conntrack entries', { filter: f, error: errorMessage(err) });
    }
  }
}
