/**
 * api-objects.ts (test support): Service, EndpointSlice and Node JSON in the shapes the API server and the
 * manifests source deliver, for every test that feeds the model, the sync layer or a source.
 *
 * Two levels. The raw builders take what a test writes out (svc with its whole spec, port, ep, slice,
 * node: kube-proxy's makeTestService / makeTestEndpointSlice in spirit), so model tests read as tables.
 * The cluster shorthands are built on them for tests that only need "a service and its endpoints":
 * clusterIPService (one http port 80 → 8080), endpointSliceFor (ready endpoints on another node unless
 * told) and clusterNode (this node, CLUSTER_NODE at CLUSTER_NODE_IP). Addresses follow kube-proxy's test
 * conventions: ClusterIPs 172.30.0.0/16, pods 10.0.0.0/8, this node 192.168.0.2.
 */
import type { ApiEndpoint, ApiEndpointSlice, ApiNode, ApiService, ApiServicePort } from '../../src/model/api.js';

type ServiceSpec = NonNullable<ApiService['spec']>;

// ------------------------------------------------------------------ raw builders

export function svc(ns: string, name: string, spec: ServiceSpec, extra: Partial<ApiService> = {}): ApiService {
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

/** An endpoint with only the conditions given (the API leaves unset ones out). */
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

export interface NodeOpts {
  zone?: string;
  /** More labels (the zone label is added from `zone`). */
  labels?: Record<string, string>;
  ips?: string[];
  deleting?: boolean;
  /** Taint keys (effect NoSchedule), or whole taints. */
  taints?: (string | { key: string; effect: string })[];
  podCIDR?: string;
  podCIDRs?: string[];
  resourceVersion?: string;
}

export function node(name: string, o: NodeOpts = {}): ApiNode {
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: {
      name,
      labels: { ...(o.labels ?? {}), ...(o.zone ? { 'topology.kubernetes.io/zone': o.zone } : {}) },
      ...(o.resourceVersion !== undefined ? { resourceVersion: o.resourceVersion } : {}),
      ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
    },
    spec: {
      ...(o.podCIDR !== undefined ? { podCIDR: o.podCIDR } : {}),
      ...(o.podCIDRs ? { podCIDRs: o.podCIDRs } : {}),
      taints: (o.taints ?? []).map((t) => (typeof t === 'string' ? { key: t, effect: 'NoSchedule' } : t)),
    },
    status: { addresses: (o.ips ?? []).map((address) => ({ type: 'InternalIP', address })) },
  };
}

// ------------------------------------------------------------------ cluster shorthands

/** The node the shorthands' objects are seen from. */
export const CLUSTER_NODE = 'node-a';
export const CLUSTER_NODE_IP = '192.168.0.2';

export interface ServiceOpts extends Partial<ServiceSpec> {
  namespace?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
}

/** A ClusterIP service with one port, http 80 → 8080/TCP, unless `opts` says otherwise. */
export function clusterIPService(name: string, clusterIP: string, opts: ServiceOpts = {}): ApiService {
  const { resourceVersion, namespace, labels, ...spec } = opts;
  return svc(namespace ?? 'default', name, {
    type: 'ClusterIP', clusterIP, clusterIPs: [clusterIP],
    ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
    ...spec,
  }, { metadata: { resourceVersion: resourceVersion ?? '1', ...(labels ? { labels } : {}) } });
}

export interface EndpointSpec { ip: string; node?: string; ready?: boolean; serving?: boolean; terminating?: boolean }

export interface SliceOpts {
  /** The endpoints.kubernetes.io/last-change-trigger-time annotation, ms since the epoch. */
  triggerTime?: number;
  resourceVersion?: string;
  namespace?: string;
  addressType?: string;
  /** More labels besides kubernetes.io/service-name. */
  labels?: Record<string, string>;
}

/**
 * The slice of `svcName` with port http 8080/TCP; every endpoint has all three conditions (ready unless
 * told, serving as ready, not terminating) and runs on node-b unless told.
 */
export function endpointSliceFor(svcName: string, sliceName: string, endpoints: readonly EndpointSpec[], opts: SliceOpts = {}): ApiEndpointSlice {
  const s = slice(opts.namespace ?? 'default', svcName, sliceName, [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints.map((e) => ep(e.ip, { ready: e.ready ?? true, serving: e.serving ?? e.ready ?? true, terminating: e.terminating ?? false, node: e.node ?? 'node-b' })),
    opts.addressType ?? 'IPv4');
  s.metadata = {
    ...s.metadata,
    resourceVersion: opts.resourceVersion ?? '1',
    labels: { ...s.metadata?.labels, ...(opts.labels ?? {}) },
    ...(opts.triggerTime !== undefined
      ? { annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': new Date(opts.triggerTime).toISOString() } }
      : {}),
  };
  return s;
}

/** This node (CLUSTER_NODE at CLUSTER_NODE_IP, pod CIDR 10.0.0.0/24) with `labels`. */
export function clusterNode(labels: Record<string, string> = {}, extra: { taints?: { key: string; effect: string }[]; deleting?: boolean; name?: string } = {}): ApiNode {
  return node(extra.name ?? CLUSTER_NODE, {
    labels, ips: [CLUSTER_NODE_IP], podCIDR: '10.0.0.0/24', podCIDRs: ['10.0.0.0/24'], resourceVersion: '1',
    ...(extra.taints ? { taints: extra.taints } : {}), ...(extra.deleting ? { deleting: true } : {}),
  });
}
