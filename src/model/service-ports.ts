/**
 * service-ports.ts: one Service and its EndpointSlices → complete ServicePorts of one family: the port
 * facts (service-info.ts), the endpoints matched by port name and protocol (endpoints.ts) and the
 * traffic-policy categorisation (topology.ts).
 */
import type { ApiEndpointSlice, ApiService } from './api.js';
import { endpointPortKey, endpointsFromSlices } from './endpoints.js';
import type { ModelContext } from './index.js';
import { serviceKeyOfSlice } from './keys.js';
import { servicePortSpecs } from './service-info.js';
import { categorizeEndpoints } from './topology.js';
import type { Endpoint, ServicePort } from './types.js';

const NO_ENDPOINTS: readonly Endpoint[] = Object.freeze([]);

/**
 * The service's ports in this family with their endpoints. `slices` should be the service's EndpointSlices
 * (buildProxyState indexes slices by service first); slices labelled for another service are ignored.
 */
export function servicePortsFor(svc: ApiService, slices: readonly ApiEndpointSlice[], ctx: ModelContext): ServicePort[] {
  const specs = servicePortSpecs(svc, ctx.family, ctx.warn);
  if (specs.length === 0) return [];
  const serviceKey = specs[0].serviceKey;
  // Slices of other services (a caller passing everything) must not lend this service their endpoints.
  const own = slices.every((sl) => serviceKeyOfSlice(sl) === serviceKey)
    ? slices : slices.filter((sl) => serviceKeyOfSlice(sl) === serviceKey);
  const byPort = endpointsFromSlices(serviceKey, own, {
    family: ctx.family, nodeName: ctx.node.name, warn: ctx.warn,
  });

  // The health-check node port reports the service's ready local endpoints counted by IP across all of
  // its ports (kube-proxy's LocalReadyEndpoints): a pod serving 80 and 443 is one endpoint.
  const readyLocalIPs = new Set<string>();
  const perPort = specs.map((spec) => {
    const endpoints = byPort.get(endpointPortKey(spec.portName, spec.protocol)) ?? NO_ENDPOINTS;
    for (const ep of endpoints) if (ep.ready && ep.isLocal) readyLocalIPs.add(ep.ip);
    return endpoints;
  });

  return specs.map((spec, i) => {
    const endpoints = perPort[i];
    const cat = categorizeEndpoints(endpoints, spec, ctx.node.name, ctx.node.zone);
    return {
      ...spec,
      endpoints,
      clusterEndpoints: cat.clusterEndpoints,
      localEndpoints: cat.localEndpoints,
      allReachableEndpoints: cat.allReachableEndpoints,
      hasAnyEndpoints: cat.hasAnyEndpoints,
      readyLocalEndpointCount: readyLocalIPs.size,
    };
  });
}
