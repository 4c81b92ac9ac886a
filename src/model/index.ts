/**
 * index.ts: the model's public surface. Pure functions from API objects to the proxy's view; no I/O.
 * (Signatures fixed here; implementations live in one-job files beside this one.)
 */
import type { ApiEndpointSlice, ApiNode, ApiService } from './api.js';
import type { IPFamily, NodeInfo } from './types.js';

export interface ModelContext {
  readonly family: IPFamily;
  readonly node: NodeInfo;
  /** Bad objects and skipped fields are reported here, never thrown. */
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export interface ProxyStateInput {
  readonly family: IPFamily;
  readonly nodeName: string;
  readonly node: ApiNode | undefined;
  readonly services: Iterable<ApiService>;
  readonly endpointSlices: Iterable<ApiEndpointSlice>;
  /** The host's own interface addresses (any family; filtered here). */
  readonly hostAddresses: readonly string[];
  /** nodePortAddresses as configured: CIDRs, "primary", or empty for all. */
  readonly nodePortAddresses: readonly string[];
  readonly localhostNodePorts: boolean;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

// servicePortsFor(svc, slices, ctx): ServicePort[]
export { servicePortsFor } from './service-ports.js';
// nodeInfoFrom(node, nodeName, family, hostAddresses): NodeInfo
export { nodeInfoFrom, isNodeEligible, nodeObjectIPs } from './node.js';
// resolveNodePortAddresses(nodePortAddresses, node, hostAddresses, localhostNodePorts, family?): NodePortAddresses
export { resolveNodePortAddresses, nodePortCIDRs, servesLocalhostNodePorts, NODE_PORT_ADDRESSES_PRIMARY } from './node-port-addresses.js';
// buildProxyState(input): ProxyState
export { buildProxyState, indexSlicesByService } from './state.js';
// serviceKeyOf(svc) / serviceKeyOfSlice(slice): ServiceKey | null
export { serviceKeyOf, serviceKeyOfSlice, servicePortKeyOf, isDNSLabel, DEFAULT_NAMESPACE } from './keys.js';

// Building blocks the modes and the sync loop share.
export { portProtoHash, endpointHash } from '../util/chain-hash.js';
export { categorizeEndpoints, topologyModeFromHints } from './topology.js';
export type { CategorizedEndpoints, TopologyMode, TrafficPolicyView } from './topology.js';
export { endpointsFromSlices, endpointPortKey } from './endpoints.js';
export {
  servicePortSpecs, skipReason, clusterIPForFamily, DEFAULT_AFFINITY_TIMEOUT_SECONDS,
} from './service-info.js';
export type { ServicePortSpec } from './service-info.js';
