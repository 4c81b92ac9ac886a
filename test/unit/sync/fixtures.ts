/**
 * fixtures.ts: small API objects and a recording Backend for the sync tests. Addresses follow kube-proxy's
 * test conventions (ClusterIPs 172.30.0.0/16, pods 10.0.0.0/8, this node 192.168.0.2).
 */
import type { ApiEndpointSlice, ApiNode, ApiService } from '../../../src/model/api.js';
import type { ChangeSet, IPFamily, ProxyState } from '../../../src/model/types.js';
import type { Backend, SyncResult } from '../../../src/backend.js';
import type { Logger } from '../../../src/util/log.js';

export const NODE = 'node-a';
export const NODE_IP = '192.168.0.2';

/** A logger that keeps lines for assertions instead of printing them. */
export function memoryLogger(lines: string[] = []): Logger {
  const make = (b: Record<string, unknown>): Logger => ({
    info: (m, f) => { lines.push(`I ${m} ${JSON.stringify({ ...b, ...f })}`); },
    warn: (m, f) => { lines.push(`W ${m} ${JSON.stringify({ ...b, ...f })}`); },
    error: (m, f) => { lines.push(`E ${m} ${JSON.stringify({ ...b, ...f })}`); },
    v: () => make(b),
    child: (more) => make({ ...b, ...more }),
  });
  return make({});
}

export function service(name: string, clusterIP: string, opts: Partial<NonNullable<ApiService['spec']>> & { resourceVersion?: string; namespace?: string } = {}): ApiService {
  const { resourceVersion, namespace, ...spec } = opts;
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name, namespace: namespace ?? 'default', resourceVersion: resourceVersion ?? '1' },
    spec: {
      type: 'ClusterIP', clusterIP, clusterIPs: [clusterIP],
      ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
      ...spec,
    },
  };
}

export interface EndpointSpec { ip: string; node?: string; ready?: boolean; serving?: boolean; terminating?: boolean }

export function slice(svcName: string, sliceName: string, endpoints: EndpointSpec[], opts: { triggerTime?: number; resourceVersion?: string; namespace?: string; addressType?: string } = {}): ApiEndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: {
      name: sliceName, namespace: opts.namespace ?? 'default', resourceVersion: opts.resourceVersion ?? '1',
      labels: { 'kubernetes.io/service-name': svcName },
      ...(opts.triggerTime !== undefined
        ? { annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': new Date(opts.triggerTime).toISOString() } }
        : {}),
    },
    addressType: opts.addressType ?? 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true, serving: e.serving ?? e.ready ?? true, terminating: e.terminating ?? false },
      nodeName: e.node ?? 'node-b',
    })),
  };
}

export function node(labels: Record<string, string> = {}, extra: { taints?: { key: string; effect: string }[]; deleting?: boolean; name?: string } = {}): ApiNode {
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: extra.name ?? NODE, labels, resourceVersion: '1', ...(extra.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: { podCIDR: '10.0.0.0/24', podCIDRs: ['10.0.0.0/24'], ...(extra.taints ? { taints: extra.taints } : {}) },
    status: { addresses: [{ type: 'InternalIP', address: NODE_IP }] },
  };
}

export interface RecordedSync {
  readonly family: IPFamily;
  readonly state: ProxyState;
  readonly changed: ChangeSet;
}

/**
 * RecordingBackend: a real Backend that keeps every sync it receives instead of programming a kernel, and
 * fails the syncs a test scripts. The proxier's contract is all it exercises; kernel backends are tested
 * in their own suites.
 */
export class RecordingBackend implements Backend {
  readonly mode = 'iptables' as const;
  readonly syncs: RecordedSync[] = [];
  readonly events: string[] = [];
  /** Results of the next syncs, consumed in order; { ok: true } once empty. */
  results: SyncResult[] = [];
  throwNext = false;

  constructor(readonly family: IPFamily = 'IPv4') {}

  async init(): Promise<void> { this.events.push('init'); }
  async cleanup(): Promise<void> { this.events.push('cleanup'); }
  async close(): Promise<void> { this.events.push('close'); }

  async sync(state: ProxyState, changed: ChangeSet): Promise<SyncResult> {
    this.events.push('sync');
    this.syncs.push({ family: this.family, state, changed: { full: changed.full, services: new Set(changed.services) } });
    if (this.throwNext) { this.throwNext = false; throw new Error('backend bug'); }
    return this.results.shift() ?? { ok: true };
  }

  get last(): RecordedSync | undefined {
    return this.syncs.at(-1);
  }
}
