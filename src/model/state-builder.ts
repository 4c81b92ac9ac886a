/**
 * state-builder.ts: keeps one ProxyState per IP family up to date INCREMENTALLY, from a view of the
 * cluster (this node's Node, and each service with its slices). The one assembly path: the sync loop
 * runs it on its cluster cache (src/sync/state-builder.ts), buildProxyState (state.ts) runs it once on
 * plain lists, so what the model's tests check is what ships.
 *
 * A ServicePort depends only on its Service, that service's EndpointSlices and this node, so after a
 * change only the changed services are recomputed with servicePortsFor(); every service is recomputed
 * only when the node's view changes (labels/zone, addresses, pod CIDRs, node-port addresses). One
 * endpoint changing among 30,000 services costs one servicePortsFor() call and one Map copy.
 *
 * Each build() returns fresh ProxyState objects (a new services Map when something changed), so a backend
 * may keep the previous state for diffing without it changing under its feet.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ApiEndpointSlice, ApiNode, ApiService } from './api.js';
import type { ModelContext } from './index.js';
import { nodeInfoFrom } from './node.js';
import { resolveNodePortAddresses } from './node-port-addresses.js';
import { servicePortsFor } from './service-ports.js';
import type { IPFamily, NodeInfo, NodePortAddresses, ProxyState, ServiceKey, ServicePort, ServicePortKey } from './types.js';

/** The cluster as the builder reads it; services are built in the order serviceKeys() gives. */
export interface StateView {
  readonly node: ApiNode | undefined;
  service(key: ServiceKey): ApiService | undefined;
  serviceKeys(): Iterable<ServiceKey>;
  slicesFor(key: ServiceKey): ApiEndpointSlice[];
}

export interface StateAssemblyOptions {
  readonly families: readonly IPFamily[];
  readonly nodeName: string;
  /** The host's own interface addresses (any family). */
  readonly hostAddresses: readonly string[];
  /** nodePortAddresses as configured (CIDRs, "primary", or empty for all). */
  readonly nodePortAddresses: readonly string[];
  readonly localhostNodePorts: boolean;
  /** The model's reports about bad objects, with the family they were found in. */
  warn(family: IPFamily, msg: string, fields?: Record<string, unknown>): void;
  /**
   * servicePortsFor threw on one service (a model bug): skip it and build the rest. Without this the
   * error propagates out of build().
   */
  serviceFailed?(key: ServiceKey, family: IPFamily, err: unknown): void;
}

interface FamilyState {
  readonly portsByService: Map<ServiceKey, readonly ServicePort[]>;
  state: ProxyState | undefined;
  /** The node view the ports were computed against (eligibility excluded: it does not change ports). */
  nodeSignature: string;
  /** Same, with eligibility: decides whether an unchanged build may return the previous object. */
  fullSignature: string;
}

/** What the last build() did, for logs, tests and perf. */
export interface BuildStats {
  /** Services whose ports were recomputed, summed over families. */
  readonly recomputedServices: number;
  /** True when some family recomputed every service (first build or node change). */
  readonly recomputedAll: boolean;
  /**
   * Of the services asked for, those whose proxy view (their ServicePorts, in some family) differs from the
   * last build: an annotation edit, or an A->B->A flip inside one sync window, is not among them
   * (kube-proxy's change trackers compare the computed service ports the same way).
   */
  readonly changedServices: ReadonlySet<ServiceKey>;
}

export class StateAssembler {
  private readonly opts: StateAssemblyOptions;
  private readonly perFamily = new Map<IPFamily, FamilyState>();
  private stats: BuildStats = { recomputedServices: 0, recomputedAll: false, changedServices: new Set() };

  constructor(opts: StateAssemblyOptions) {
    this.opts = opts;
    for (const f of opts.families) {
      this.perFamily.set(f, { portsByService: new Map(), state: undefined, nodeSignature: '', fullSignature: '' });
    }
  }

  get lastBuild(): BuildStats {
    return this.stats;
  }

  /** The states of the last build(), by family. */
  current(): Map<IPFamily, ProxyState> {
    const out = new Map<IPFamily, ProxyState>();
    for (const [f, fs] of this.perFamily) if (fs.state) out.set(f, fs.state);
    return out;
  }

  /** build brings every family's state up to date with the view, recomputing only `changed` services. */
  build(view: StateView, changed: ReadonlySet<ServiceKey>): Map<IPFamily, ProxyState> {
    let recomputedServices = 0;
    let recomputedAll = false;
    const changedServices = new Set<ServiceKey>();
    const out = new Map<IPFamily, ProxyState>();
    for (const [family, fs] of this.perFamily) {
      const node = nodeInfoFrom(view.node, this.opts.nodeName, family, this.opts.hostAddresses);
      const npa = resolveNodePortAddresses(this.opts.nodePortAddresses, node, this.opts.hostAddresses, this.opts.localhostNodePorts, family);
      const nodeSignature = signature(node, npa, false);
      const fullSignature = signature(node, npa, true);
      const ctx: ModelContext = { family, node, warn: (msg, fields) => this.opts.warn(family, msg, fields) };
      let services: Map<ServicePortKey, ServicePort>;
      if (fs.state === undefined || nodeSignature !== fs.nodeSignature) {
        fs.portsByService.clear();
        services = new Map();
        for (const key of view.serviceKeys()) {
          this.recompute(view, key, fs, services, ctx);
          recomputedServices++;
        }
        for (const key of changed) changedServices.add(key);
        recomputedAll = true;
      } else if (changed.size === 0 && fullSignature === fs.fullSignature) {
        out.set(family, fs.state);
        continue;
      } else {
        services = new Map(fs.state.services);
        for (const key of changed) {
          if (this.recompute(view, key, fs, services, ctx)) changedServices.add(key);
          recomputedServices++;
        }
      }
      fs.nodeSignature = nodeSignature;
      fs.fullSignature = fullSignature;
      fs.state = { family, node, nodePortAddresses: npa, services };
      out.set(family, fs.state);
    }
    this.stats = { recomputedServices, recomputedAll, changedServices };
    return out;
  }

  /** Recomputes one service's ports into `services`; true when they differ from before. */
  private recompute(view: StateView, key: ServiceKey, fs: FamilyState, services: Map<ServicePortKey, ServicePort>, ctx: ModelContext): boolean {
    const before = fs.portsByService.get(key) ?? [];
    for (const old of before) services.delete(old.key);
    fs.portsByService.delete(key);
    const ports = this.portsOf(view, key, ctx);
    if (ports.length > 0) fs.portsByService.set(key, ports);
    for (const p of ports) services.set(p.key, p);
    return !isDeepStrictEqual(before, ports);
  }

  private portsOf(view: StateView, key: ServiceKey, ctx: ModelContext): ServicePort[] {
    const svc = view.service(key);
    if (svc === undefined) return [];
    try {
      return servicePortsFor(svc, view.slicesFor(key), ctx);
    } catch (err) {
      if (!this.opts.serviceFailed) throw err;
      this.opts.serviceFailed(key, ctx.family, err);
      return [];
    }
  }
}

function signature(node: NodeInfo, npa: NodePortAddresses, withEligibility: boolean): string {
  const { eligible, ...rest } = node;
  return JSON.stringify(withEligibility ? [rest, eligible, npa] : [rest, npa]);
}
