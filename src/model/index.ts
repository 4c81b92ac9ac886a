/**
 * index.ts: the model's public surface. Pure functions from API objects to the proxy's view; no I/O.
 * (Signatures fixed here; implementations live in one-job files beside this one.)
 */
import type { ApiEndpointSlice, ApiNode, ApiService } from './api.js';
import type { IPFamily, NodeInfo, NodePortAddresses, ProxyState, ServiceKey, ServicePort } from './types.js';

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

export declare function servicePortsFor(svc: ApiService, slices: readonly ApiEndpointSlice[], ctx: ModelContext): ServicePort[];
export declare function nodeInfoFrom(node: ApiNode | undefined, nodeName: string, family: IPFamily, hostAddresses: readonly string[]): NodeInfo;
export declare function resolveNodePortAddresses(nodePortAddresses: readonly string[], node: NodeInfo, hostAddresses: readonly string[], localhostNodePorts: boolean): NodePortAddresses;
export declare function buildProxyState(input: ProxyStateInput): ProxyState;
export declare function serviceKeyOf(svc: ApiService): ServiceKey | null;
export declare function serviceKeyOfSlice(slice: ApiEndpointSlice): ServiceKey | null;
