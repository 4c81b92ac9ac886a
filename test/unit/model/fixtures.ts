/**
 * fixtures.ts: small builders for Service / EndpointSlice / Node JSON in the shapes the API server and the
 * manifests source deliver, so model tests read as tables (kube-proxy's makeTestService/makeTestEndpointSlice
 * in spirit).
 */
import type { ApiEndpoint, ApiEndpointSlice, ApiNode, ApiService, ApiServicePort } from '../../../src/model/api.js';
import type { ModelContext } from '../../../src/model/index.js';
import { nodeInfoFrom } from '../../../src/model/index.js';
import type { Endpoint, IPFamily } from '../../../src/model/types.js';

export const NODE = 'kpx-node';

type Spec = NonNullable<ApiService['spec']>;

export function svc(ns: string, name: string, spec: Spec, extra: Partial<ApiService> = {}): ApiService {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: ns, name, ...(extra.metadata ?? {}) }, spec, ...(extra.status ? { status: extra.status } : {}) };
}

export function port(name: string, p: number, protocol = 'TCP', more: Partial<ApiServicePort> = {}): ApiServicePort {
  return { name, port: p, protocol, ...more };
}

export interface EpOpts {
  node?: string;
  ready?: boolean | null;
  serving?: boolean | null;
  terminating?: boolean | null;
  zone?: string;
  zoneHints?: string[];
  nodeHints?: string[];
}

export function ep(ip: string, o: EpOpts = {}): ApiEndpoint {
  const e: ApiEndpoint = { addresses: [ip] };
  const conditions: ApiEndpoint['conditions'] = {};
  if (o.ready !== undefined) conditions.ready = o.ready;
  if (o.serving !== undefined) conditions.serving = o.serving;
  if (o.terminating !== undefined) conditions.terminating = o.terminating;
  e.conditions = conditions;
  if (o.node !== undefined) e.nodeName = o.node;
  if (o.zone !== undefined) e.zone = o.zone;
  if (o.zoneHints || o.nodeHints) {
    e.hints = {};
    if (o.zoneHints) e.hints.forZones = o.zoneHints.map((name) => ({ name }));
    if (o.nodeHints) e.hints.forNodes = o.nodeHints.map((name) => ({ name }));
  }
  return e;
}

/** A terminating endpoint that still serves (a pod in its grace period). */
export function terminating(ip: string, o: EpOpts = {}): ApiEndpoint {
  return ep(ip, { ready: false, serving: true, terminating: true, ...o });
}

export function slice(
  ns: string, service: string, name: string,
  ports: { name?: string; port: number; protocol?: string }[],
  endpoints: ApiEndpoint[],
  addressType = 'IPv4',
): ApiEndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { namespace: ns, name, labels: { 'kubernetes.io/service-name': service } },
    addressType,
    ports: ports.map((p) => ({ ...(p.name !== undefined ? { name: p.name } : {}), port: p.port, protocol: p.protocol ?? 'TCP' })),
    endpoints,
  };
}

export function node(name = NODE, o: { zone?: string; ips?: string[]; deleting?: boolean; taints?: string[]; podCIDRs?: string[] } = {}): ApiNode {
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: {
      name,
      labels: o.zone ? { 'topology.kubernetes.io/zone': o.zone } : {},
      ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
    },
    spec: { ...(o.podCIDRs ? { podCIDRs: o.podCIDRs } : {}), taints: (o.taints ?? []).map((key) => ({ key, effect: 'NoSchedule' })) },
    status: { addresses: (o.ips ?? []).map((address) => ({ type: 'InternalIP', address })) },
  };
}

/** A ModelContext that records warnings. */
export function context(family: IPFamily = 'IPv4', apiNode: ApiNode | undefined = node(NODE, { zone: 'zone-a' })): ModelContext & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    family,
    node: nodeInfoFrom(apiNode, NODE, family, []),
    warn: (msg, fields) => { warnings.push(fields ? `${msg} ${JSON.stringify(fields)}` : msg); },
    warnings,
  };
}

/** Endpoint keys, for compact assertions. */
export function keys(eps: readonly Endpoint[]): string[] {
  return eps.map((e) => e.key);
}
