/**
 * endpoints.ts: a service's EndpointSlices → its endpoints per (port name, protocol), for one family
 * (kube-proxy's EndpointSliceCache.endpointInfoByServicePort + addEndpoints).
 *
 * Named target ports need no lookup here: the EndpointSlice controller already resolved them per pod, so
 * each slice carries the numbers for its own endpoints, and a service port matches a slice port by name
 * AND protocol. Slices of the other family and FQDN slices are ignored. An endpoint listed by two slices
 * (it moved between slices, or a pod IP was reused) is kept once per "ip:port"; the ready copy wins, then a
 * non-terminating one, then a serving one, then a local one, else the first in slice-name order.
 */
import type { ApiEndpoint, ApiEndpointSlice } from './api.js';
import { joinHostPort, parseIP } from '../util/ip.js';
import { isDNSLabel } from './keys.js';
import { isPortNumber, isProtocol } from './service-info.js';
import type { Warn } from './service-info.js';
import { safeWarn } from './show.js';
import type { Endpoint, IPFamily, Protocol, ServiceKey } from './types.js';

/** Key of a slice port as service ports match it: protocol and port name. */
export function endpointPortKey(portName: string, protocol: Protocol): string {
  return `${protocol}/${portName}`;
}

export interface EndpointsOptions {
  readonly family: IPFamily;
  /** This node's name: endpoints whose nodeName equals it are local. */
  readonly nodeName: string;
  readonly warn: Warn;
}

/** What one slice endpoint contributes to every port of its slice. */
interface EndpointBase {
  ip: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  isLocal: boolean;
  nodeName?: string;
  zone?: string;
  zoneHints?: ReadonlySet<string>;
  nodeHints?: ReadonlySet<string>;
}

function hintSet(list: { name?: string }[] | undefined): ReadonlySet<string> | undefined {
  if (!Array.isArray(list) || list.length === 0) return undefined;
  const s = new Set<string>();
  for (const h of list) if (h && typeof h.name === 'string' && h.name !== '') s.add(h.name);
  return s.size > 0 ? s : undefined;
}

function endpointBase(
  ep: ApiEndpoint, family: IPFamily, nodeName: string, warn: Warn,
  serviceKey: string, slice: unknown, index: number,
): EndpointBase | null {
  const where = () => ({ service: serviceKey, slice, endpoint: index });
  // kube-proxy uses the first address only: every address of an endpoint is the same pod.
  const raw = Array.isArray(ep?.addresses) ? ep.addresses[0] : undefined;
  if (raw === undefined) { warn('Ignoring endpoint with no address', where()); return null; }
  const ip = parseIP(raw);
  if (!ip) { warn('Ignoring endpoint with an invalid address', { ...where(), address: raw }); return null; }
  if (ip.family !== family) {
    warn('Ignoring endpoint whose address does not match the slice addressType', { ...where(), address: raw });
    return null;
  }
  const c = ep.conditions ?? {};
  // The API's rules: ready and serving default to true when unset, terminating to false.
  const ready = c.ready === undefined || c.ready === null || c.ready === true;
  const serving = c.serving === undefined || c.serving === null || c.serving === true;
  const terminating = c.terminating === true;
  const epNode = typeof ep.nodeName === 'string' && ep.nodeName !== '' ? ep.nodeName : undefined;
  const zone = typeof ep.zone === 'string' && ep.zone !== '' ? ep.zone : undefined;
  const base: EndpointBase = {
    ip: ip.text, ready, serving, terminating,
    isLocal: nodeName !== '' && epNode === nodeName,
  };
  if (epNode !== undefined) base.nodeName = epNode;
  if (zone !== undefined) base.zone = zone;
  const zoneHints = hintSet(ep.hints?.forZones);
  const nodeHints = hintSet(ep.hints?.forNodes);
  if (zoneHints) base.zoneHints = zoneHints;
  if (nodeHints) base.nodeHints = nodeHints;
  return base;
}

/** Whether `a` should replace `b` for the same "ip:port" (see the file comment). */
function better(a: Endpoint, b: Endpoint): boolean {
  if (a.ready !== b.ready) return a.ready;
  if (a.terminating !== b.terminating) return !a.terminating;
  if (a.serving !== b.serving) return a.serving;
  if (a.isLocal !== b.isLocal) return a.isLocal;
  return false;
}

function sliceOrder(a: ApiEndpointSlice, b: ApiEndpointSlice): number {
  const x = typeof a.metadata?.name === 'string' ? a.metadata.name : '';
  const y = typeof b.metadata?.name === 'string' ? b.metadata.name : '';
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Endpoints of the service's slices, keyed by endpointPortKey(name, protocol), each list sorted by
 * "ip:port" (kube-proxy's order, so rule output is stable).
 */
export function endpointsFromSlices(
  serviceKey: ServiceKey,
  slices: readonly ApiEndpointSlice[],
  opts: EndpointsOptions,
): Map<string, Endpoint[]> {
  const { family, nodeName } = opts;
  const warn = safeWarn(opts.warn);
  const byPort = new Map<string, Map<string, Endpoint>>();
  const ordered = slices.length > 1 ? [...slices].sort(sliceOrder) : slices;

  for (const slice of ordered) {
    const sliceName = slice?.metadata?.name;
    const addressType = slice?.addressType;
    if (addressType === 'FQDN') continue; // not proxied by kube-proxy
    if (addressType !== 'IPv4' && addressType !== 'IPv6') {
      warn('Ignoring EndpointSlice with an unknown addressType', { service: serviceKey, slice: sliceName, addressType });
      continue;
    }
    if (addressType !== family) continue;

    const ports: { key: string; port: number }[] = [];
    const rawPorts = Array.isArray(slice.ports) ? slice.ports : [];
    for (const p of rawPorts) {
      // kube-proxy ignores a port with no name; manifests often omit "" so an absent name means unnamed.
      const name = p?.name ?? '';
      const protocol = p?.protocol ?? 'TCP';
      if (name !== '' && !isDNSLabel(name)) {
        warn('Ignoring EndpointSlice port with an invalid name', { service: serviceKey, slice: sliceName, portName: name });
        continue;
      }
      if (!isProtocol(protocol)) {
        warn('Ignoring EndpointSlice port with an unknown protocol', { service: serviceKey, slice: sliceName, portName: name, protocol });
        continue;
      }
      if (!isPortNumber(p?.port)) {
        warn('Ignoring EndpointSlice port out of range 1-65535', { service: serviceKey, slice: sliceName, portName: name, value: p?.port });
        continue;
      }
      ports.push({ key: endpointPortKey(name, protocol), port: p.port });
    }
    if (ports.length === 0) continue;

    const eps = Array.isArray(slice.endpoints) ? slice.endpoints : [];
    for (let i = 0; i < eps.length; i++) {
      const base = endpointBase(eps[i], family, nodeName, warn, serviceKey, sliceName, i);
      if (!base) continue;
      for (const { key: portKey, port } of ports) {
        let set = byPort.get(portKey);
        if (!set) { set = new Map(); byPort.set(portKey, set); }
        const key = joinHostPort(base.ip, port);
        // One literal shape for every endpoint (optional fields present even when undefined): tens of
        // thousands are built per sync, and a single hidden class keeps that cheap.
        const ep: Endpoint = {
          key, ip: base.ip, port, ready: base.ready, serving: base.serving, terminating: base.terminating,
          isLocal: base.isLocal, nodeName: base.nodeName, zone: base.zone, zoneHints: base.zoneHints, nodeHints: base.nodeHints,
        };
        const prev = set.get(key);
        if (!prev || better(ep, prev)) set.set(key, ep);
      }
    }
  }

  const out = new Map<string, Endpoint[]>();
  for (const [portKey, set] of byPort) {
    const list = [...set.values()];
    if (list.length > 1) list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    out.set(portKey, list);
  }
  return out;
}
