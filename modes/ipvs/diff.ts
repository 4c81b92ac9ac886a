/**
 * diff.ts: what to change to bring the kernel from `current` to the plan. Pure: the graceful-termination
 * bookkeeping (when each removed real server started draining) goes in and comes out as data.
 *
 * Only kpx's own virtual servers are touched: those on addresses bound to kube-ipvs0, and those the ipsets kpx
 * maintains name (node ports, external and LB IPs on node addresses). Anyone else's virtual server is left alone.
 */
import { cidrContains } from '../../src/util/ip.js';
import { virtualServerId, type RealServer, type VirtualServer } from '../../src/net/ipvs/codec.js';
import { SET, type SetId } from './names.js';
import type { IpvsPlan } from './plan.js';
import { joinHostPort } from '../../src/util/ip.js';

export interface KernelVirtualServer {
  readonly vs: VirtualServer;
  readonly realServers: readonly RealServer[];
}

export interface IpvsKernelState {
  readonly virtualServers: ReadonlyMap<string, KernelVirtualServer>;
  readonly boundAddresses: ReadonlySet<string>;
  readonly sets: ReadonlyMap<SetId, ReadonlySet<string>>;
}

export type IpvsOp =
  | { readonly kind: 'add-vs' | 'update-vs' | 'delete-vs'; readonly vs: VirtualServer }
  | { readonly kind: 'add-rs' | 'update-rs' | 'drain-rs' | 'delete-rs'; readonly vs: VirtualServer; readonly rs: { address: string; port: number }; readonly weight: number };

export interface IpvsDiff {
  readonly ops: readonly IpvsOp[];
  readonly bind: readonly string[];
  readonly unbind: readonly string[];
  readonly setAdds: ReadonlyMap<SetId, readonly string[]>;
  readonly setDels: ReadonlyMap<SetId, readonly string[]>;
  /** Real servers draining after this sync: id → when they started. */
  readonly terminating: ReadonlyMap<string, number>;
}

export interface DiffOptions {
  readonly now: number;
  /** A draining TCP real server is deleted after this long even with open connections. */
  readonly gracefulTimeoutMs: number;
  /** Draining real servers from the previous sync. */
  readonly terminating: ReadonlyMap<string, number>;
  /** --ipvs-exclude-cidrs: a virtual server on one of these addresses is never deleted (kube-proxy's cleanLegacyService). */
  readonly excludeCIDRs?: readonly string[];
}

const rsId = (vs: VirtualServer, rs: { address: string; port: number }) =>
  `${virtualServerId(vs)}/${joinHostPort(rs.address, rs.port)}`;

function sameService(a: VirtualServer, b: VirtualServer): boolean {
  return a.scheduler === b.scheduler && a.flags === b.flags && a.timeout === b.timeout && a.netmask === b.netmask;
}

/** Whether a virtual server in the kernel is kpx's (see the module comment). */
export function isOwned(vs: VirtualServer, current: IpvsKernelState): boolean {
  if (current.boundAddresses.has(vs.address)) return true;
  const entry = `${vs.address},${vs.protocol.toLowerCase()}:${vs.port}`;
  const inSet = (id: SetId) => current.sets.get(id)?.has(entry) ?? false;
  if (inSet(SET.EXTERNAL_IP) || inSet(SET.EXTERNAL_IP_LOCAL) || inSet(SET.LOAD_BALANCER) || inSet(SET.NODE_PORT_SCTP)) return true;
  const bitmap = vs.protocol === 'TCP' ? SET.NODE_PORT_TCP : vs.protocol === 'UDP' ? SET.NODE_PORT_UDP : undefined;
  return bitmap !== undefined && (current.sets.get(bitmap)?.has(String(vs.port)) ?? false);
}

export function diffIpvs(plan: IpvsPlan, current: IpvsKernelState, opts: DiffOptions): IpvsDiff {
  const ops: IpvsOp[] = [];
  const terminating = new Map<string, number>();

  for (const [id, want] of plan.virtualServers) {
    const have = current.virtualServers.get(id);
    if (!have) ops.push({ kind: 'add-vs', vs: want.vs });
    else if (!sameService(have.vs, want.vs)) ops.push({ kind: 'update-vs', vs: want.vs });
    const haveRs = new Map((have?.realServers ?? []).map((r) => [`${r.address}:${r.port}`, r]));
    const wantKeys = new Set<string>();
    for (const rs of want.realServers) {
      const key = `${rs.address}:${rs.port}`;
      wantKeys.add(key);
      const existing = haveRs.get(key);
      // A real server coming back while it drained gets its weight back instead of a second entry.
      if (!existing) ops.push({ kind: 'add-rs', vs: want.vs, rs, weight: 1 });
      else if (existing.weight !== 1) ops.push({ kind: 'update-rs', vs: want.vs, rs, weight: 1 });
    }
    for (const [key, rs] of haveRs) {
      if (wantKeys.has(key)) continue;
      const idRs = rsId(want.vs, rs);
      const since = opts.terminating.get(idRs) ?? opts.now;
      // UDP and SCTP have no graceful termination in kube-proxy: expire_nodest_conn ends their flows.
      const immediate = want.vs.protocol !== 'TCP';
      if (immediate || rs.activeConns + rs.inactiveConns === 0 || opts.now - since >= opts.gracefulTimeoutMs) {
        ops.push({ kind: 'delete-rs', vs: want.vs, rs, weight: 0 });
      } else {
        if (rs.weight !== 0) ops.push({ kind: 'drain-rs', vs: want.vs, rs, weight: 0 });
        terminating.set(idRs, since);
      }
    }
  }
  for (const [id, have] of current.virtualServers) {
    if (plan.virtualServers.has(id) || !isOwned(have.vs, current)) continue;
    if (opts.excludeCIDRs?.some((c) => cidrContains(c, have.vs.address))) continue;
    ops.push({ kind: 'delete-vs', vs: have.vs });
  }

  const bind = [...plan.bindAddresses].filter((a) => !current.boundAddresses.has(a));
  const unbind = [...current.boundAddresses].filter((a) => !plan.bindAddresses.has(a));
  const setAdds = new Map<SetId, string[]>();
  const setDels = new Map<SetId, string[]>();
  for (const [id, want] of plan.sets) {
    const have = current.sets.get(id) ?? new Set<string>();
    setAdds.set(id, [...want].filter((e) => !have.has(e)));
    setDels.set(id, [...have].filter((e) => !want.has(e)));
  }
  return { ops, bind, unbind, setAdds, setDels, terminating };
}
