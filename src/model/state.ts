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
import { safeWarn } from './show.js';
import { StateAssembler, type StateView } from './state-builder.js';
import type { IPFamily, ProxyState, ServiceKey } from './types.js';

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

/**
 * One family's ProxyState from plain lists, through the same StateAssembler the sync loop runs
 * incrementally (state-builder.ts): one full build over a view of the lists. An error thrown by the
 * model propagates (the sync loop's builder skips the service instead).
 */
export function buildProxyState(input: ProxyStateInput): ProxyState {
  const { family } = input;
  const warn = safeWarn(input.warn);
  const view = listView(input.node, input.services, indexSlicesByService(input.endpointSlices, family, warn), warn);
  const assembler = new StateAssembler({
    families: [family], nodeName: input.nodeName, hostAddresses: input.hostAddresses,
    nodePortAddresses: input.nodePortAddresses, localhostNodePorts: input.localhostNodePorts,
    warn: (_family, msg, fields) => warn(msg, fields),
  });
  return assembler.build(view, new Set()).get(family)!;
}

/**
 * The lists as a StateView: services in key order; of two with the same namespace and name the first
 * delivered stays and the other is reported. A service with a bad name still goes through
 * servicePortsFor, which reports why it is skipped (under a key no valid "namespace/name" can take).
 */
function listView(
  node: ProxyStateInput['node'], services: Iterable<ApiService>, slicesByService: Map<ServiceKey, ApiEndpointSlice[]>, warn: ModelContext['warn'],
): StateView {
  const keyed: { key: string; svc: ApiService }[] = [];
  for (const svc of services) {
    if (!svc || typeof svc !== 'object') continue;
    keyed.push({ key: serviceKeyOf(svc) ?? '', svc });
  }
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const byKey = new Map<ServiceKey, ApiService>();
  let lastKey: string | null = null;
  for (const [i, { key, svc }] of keyed.entries()) {
    if (key !== '' && key === lastKey) {
      warn('Ignoring a second Service with the same namespace and name', { service: key });
      continue;
    }
    lastKey = key;
    byKey.set(key === '' ? `#invalid-${i}` : key, svc);
  }
  return {
    node,
    service: (key) => byKey.get(key),
    serviceKeys: () => byKey.keys(),
    slicesFor: (key) => slicesByService.get(key) ?? [],
  };
}
