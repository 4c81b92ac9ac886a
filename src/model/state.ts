/**
 * state.ts: every Service, EndpointSlice and the Node → one ProxyState for one IP family.
 *
 * Linear in the input: slices are indexed by their service first (one pass), so each service looks up
 * only its own slices. Services are processed in key order, so the resulting map (and everything a mode
 * renders from it) is deterministic whatever order the source delivered objects in. Two Services with the
 * same namespace and name (two manifest files defining it) cannot both be proxied: the first delivered
 * stays and the other is reported.
 */
import type { ApiEndpointSlice, ApiService } from './api.js';
import type { ModelContext, ProxyStateInput } from './index.js';
import { serviceKeyOf, serviceKeyOfSlice } from './keys.js';
import { nodeInfoFrom } from './node.js';
import { resolveNodePortAddresses } from './node-port-addresses.js';
import { servicePortsFor } from './service-ports.js';
import { safeWarn } from './show.js';
import type { IPFamily, ProxyState, ServiceKey, ServicePort, ServicePortKey } from './types.js';

/**
 * Groups slices by "namespace/service". Slices of the other family and FQDN slices are dropped here
 * (cheaply, before any parsing); a slice without a valid kubernetes.io/service-name label is reported.
 */
export function indexSlicesByService(
  slices: Iterable<ApiEndpointSlice>,
  family: IPFamily,
  rawWarn: ModelContext['warn'],
): Map<ServiceKey, ApiEndpointSlice[]> {
  const warn = safeWarn(rawWarn);
  const out = new Map<ServiceKey, ApiEndpointSlice[]>();
  for (const slice of slices) {
    if (!slice || typeof slice !== 'object') continue;
    const t = slice.addressType;
    if (t === 'FQDN' || ((t === 'IPv4' || t === 'IPv6') && t !== family)) continue;
    const key = serviceKeyOfSlice(slice);
    if (key === null) {
      warn('Ignoring EndpointSlice without a valid kubernetes.io/service-name label', {
        namespace: slice.metadata?.namespace, name: slice.metadata?.name,
      });
      continue;
    }
    const list = out.get(key);
    if (list) list.push(slice);
    else out.set(key, [slice]);
  }
  return out;
}

export function buildProxyState(input: ProxyStateInput): ProxyState {
  const { family } = input;
  const warn = safeWarn(input.warn);
  const node = nodeInfoFrom(input.node, input.nodeName, family, input.hostAddresses);
  const nodePortAddresses = resolveNodePortAddresses(
    input.nodePortAddresses, node, input.hostAddresses, input.localhostNodePorts, family);
  const ctx: ModelContext = { family, node, warn };

  const slicesByService = indexSlicesByService(input.endpointSlices, family, warn);

  const keyed: { key: string; svc: ApiService }[] = [];
  for (const svc of input.services) {
    if (!svc || typeof svc !== 'object') continue;
    // A service with a bad name still goes through servicePortsFor, which reports why it is skipped.
    keyed.push({ key: serviceKeyOf(svc) ?? '', svc });
  }
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  const services = new Map<ServicePortKey, ServicePort>();
  let lastKey: string | null = null;
  for (const { key, svc } of keyed) {
    if (key !== '' && key === lastKey) {
      warn('Ignoring a second Service with the same namespace and name', { service: key });
      continue;
    }
    lastKey = key;
    const ports = servicePortsFor(svc, slicesByService.get(key) ?? [], ctx);
    for (const sp of ports) services.set(sp.key, sp);
  }
  return { family, node, nodePortAddresses, services };
}
