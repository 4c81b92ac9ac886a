/**
 * listeners.ts: the live table of the userspace mode's listeners, converged to a plan on each sync.
 *
 * A listener that stays in the plan keeps its socket, its port and its connections; only its balancer's
 * endpoints are updated, so endpoint changes reach new connections at once and leave open ones alone.
 * A listener that leaves the plan is closed with every connection it carries, and its port is free again.
 * TCP listeners without affinity are also bound in the worker threads of tcp-workers.ts (same port,
 * SO_REUSEPORT); their endpoint updates and closes wait for every thread's acknowledgement.
 */
import type { IPFamily } from '../../src/model/types.js';
import { errorMessage } from '../../src/util/errors.js';
import type { Logger } from '../../src/util/log.js';
import type { LoadBalancer } from './load-balancer.js';
import type { ListenerSpec } from './listener-plan.js';
import { PortAllocator, type PortRange } from './port-range.js';
import { ConnectionBudget, DEFAULT_MAX_CONNECTIONS, TcpProxy } from './tcp-proxy.js';
import type { TcpWorkerPool } from './tcp-workers.js';
import { UdpProxy } from './udp-proxy.js';

export interface ListenerTableOptions {
  readonly family: IPFamily;
  /** --bind-address; the unspecified address of the other family is mapped to this family's. */
  readonly bindAddress: string;
  readonly portRange: PortRange | undefined;
  readonly udpIdleTimeoutMs: number;
  readonly balancer: LoadBalancer;
  readonly log: Logger;
  readonly maxConnectionsPerService?: number;
  readonly dialTimeoutsMs?: readonly number[];
  /** Worker threads that also serve TCP listeners without affinity (tcp-workers.ts); none when absent. */
  readonly workers?: TcpWorkerPool;
}

export interface LiveListener {
  readonly spec: ListenerSpec;
  readonly port: number;
  readonly proxy: TcpProxy | UdpProxy;
  /** Worker threads carry this listener too (same port, SO_REUSEPORT). */
  readonly shared: boolean;
}

/** TCP listeners without affinity can be spread over threads; affinity must be decided in one place. */
function shareable(spec: ListenerSpec): boolean {
  return spec.protocol === 'TCP' && spec.affinityTimeoutSeconds === 0;
}

export interface ListenerSyncResult {
  /** Listener id → bound port, for every listener that is open. */
  readonly ports: ReadonlyMap<string, number>;
  /** Listeners that could not be opened this time (retried on the next sync). */
  readonly failed: readonly { readonly id: string; readonly error: string }[];
}

export class ListenerTable {
  readonly #opts: ListenerTableOptions;
  readonly #live = new Map<string, LiveListener>();
  readonly #budgets = new Map<string, ConnectionBudget>();
  readonly #allocator: PortAllocator | undefined;
  readonly #host: string;

  constructor(opts: ListenerTableOptions) {
    this.#opts = opts;
    this.#allocator = opts.portRange ? new PortAllocator(opts.portRange) : undefined;
    this.#host = bindHost(opts.bindAddress, opts.family);
  }

  /** The host listeners bind to (an address of this backend's family). */
  get host(): string {
    return this.#host;
  }

  get(id: string): LiveListener | undefined {
    return this.#live.get(id);
  }

  ports(): Map<string, number> {
    return new Map([...this.#live].map(([id, l]) => [id, l.port]));
  }

  /** sync opens what the plan adds, updates balancers of what stays, closes what it drops. */
  async sync(specs: readonly ListenerSpec[]): Promise<ListenerSyncResult> {
    const wanted = new Map(specs.map((s) => [s.id, s]));
    for (const [id, l] of [...this.#live]) {
      const w = wanted.get(id);
      const workers = (this.#opts.workers?.size ?? 0) > 0;
      if (!w || w.fixedPort !== l.spec.fixedPort || (workers && shareable(w) !== l.shared)) await this.#close(id, l);
    }
    const failed: { id: string; error: string }[] = [];
    for (const spec of specs) {
      this.#opts.balancer.update(spec.id, spec.endpoints, spec.affinityTimeoutSeconds);
      const live = this.#live.get(spec.id);
      if (live) {
        this.#live.set(spec.id, { ...live, spec });
        if (live.shared && endpointKeys(spec) !== endpointKeys(live.spec)) {
          const errors = await this.#opts.workers!.broadcast({ op: 'update', id: spec.id, endpoints: targets(spec) });
          if (errors.length) this.#opts.log.warn('worker threads did not take the endpoint update', { listener: spec.id, errors });
        }
        continue;
      }
      try {
        await this.#open(spec);
      } catch (err) {
        failed.push({ id: spec.id, error: errorMessage(err) });
        this.#opts.log.error('cannot open userspace listener', { listener: spec.id, port: spec.fixedPort || undefined, err });
      }
    }
    for (const key of [...this.#budgets.keys()]) {
      if (![...this.#live.values()].some((l) => l.spec.servicePortKey === key)) this.#budgets.delete(key);
    }
    return { ports: this.ports(), failed };
  }

  /** close closes every listener and its connections. */
  async close(): Promise<void> {
    for (const [id, l] of [...this.#live]) await this.#close(id, l);
    this.#budgets.clear();
  }

  async #open(spec: ListenerSpec): Promise<void> {
    const proxy = this.#makeProxy(spec);
    const pool = this.#opts.workers;
    const wantShared = pool !== undefined && pool.size > 0 && shareable(spec);
    const listen = (p: number) => (proxy instanceof TcpProxy ? proxy.listen(this.#host, p, { reusePort: wantShared }) : proxy.listen(this.#host, p));
    let port: number;
    if (spec.fixedPort > 0 || !this.#allocator) {
      port = await listen(spec.fixedPort);
    } else {
      port = await this.#listenInRange(listen, this.#allocator);
    }
    let shared = false;
    if (wantShared && proxy instanceof TcpProxy) {
      const budget = this.#budgets.get(spec.servicePortKey)!;
      const errors = await pool.broadcast({
        op: 'open', id: spec.id, host: this.#host, port, endpoints: targets(spec),
        rotation: this.#opts.balancer.rotationBuffer(spec.id)!, budget: budget.buffer, max: budget.max, dialTimeoutsMs: this.#opts.dialTimeoutsMs,
      });
      shared = true;
      if (errors.length) {
        // The main thread's socket serves alone; the threads that did bind let go of the port.
        this.#opts.log.warn('worker threads could not share a listener; serving it from the main thread only', { listener: spec.id, errors });
        await pool.broadcast({ op: 'close', id: spec.id });
        shared = false;
      }
    }
    this.#live.set(spec.id, { spec, port, proxy, shared });
    this.#opts.log.v(2).info('opened userspace listener', { listener: spec.id, host: this.#host, port, threads: shared ? pool!.alive + 1 : 1 });
  }

  async #listenInRange(listen: (port: number) => Promise<number>, allocator: PortAllocator): Promise<number> {
    for (let i = 0; i < allocator.size; i++) {
      const p = allocator.allocate();
      if (p === undefined) break;
      try {
        return await listen(p);
      } catch (err) {
        // Held by another process: leave it marked used and take the next one.
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
          allocator.release(p);
          throw err;
        }
      }
    }
    throw new Error(`no free port left in --proxy-port-range`);
  }

  #makeProxy(spec: ListenerSpec): TcpProxy | UdpProxy {
    const balancer = this.#opts.balancer;
    const pick = (src: string, reset: boolean) => balancer.nextEndpoint(spec.id, src, reset);
    const log = this.#opts.log;
    if (spec.protocol === 'UDP') {
      return new UdpProxy({ name: spec.id, family: this.#opts.family, pick, idleTimeoutMs: this.#opts.udpIdleTimeoutMs, log });
    }
    let budget = this.#budgets.get(spec.servicePortKey);
    if (!budget) {
      budget = new ConnectionBudget(this.#opts.maxConnectionsPerService ?? DEFAULT_MAX_CONNECTIONS);
      this.#budgets.set(spec.servicePortKey, budget);
    }
    const wantsSourceAddress = () => balancer.hasAffinity(spec.id);
    const dialRefused = (t: { key: string }) => balancer.failed(spec.id, t.key);
    return new TcpProxy({ name: spec.id, pick, dialRefused, wantsSourceAddress, budget, log, dialTimeoutsMs: this.#opts.dialTimeoutsMs });
  }

  async #close(id: string, l: LiveListener): Promise<void> {
    this.#live.delete(id);
    if (l.shared) await this.#opts.workers!.broadcast({ op: 'close', id });
    this.#opts.balancer.remove(id);
    await l.proxy.close();
    if (l.spec.fixedPort === 0) this.#allocator?.release(l.port);
    this.#opts.log.v(2).info('closed userspace listener', { listener: id, port: l.port });
  }
}

function endpointKeys(spec: ListenerSpec): string {
  return spec.endpoints.map((e) => e.key).join(',');
}

function targets(spec: ListenerSpec): { key: string; ip: string; port: number }[] {
  return spec.endpoints.map((e) => ({ key: e.key, ip: e.ip, port: e.port }));
}

/** "0.0.0.0" and "::" mean "every address of this backend's family". */
export function bindHost(bindAddress: string, family: IPFamily): string {
  const unspecified = bindAddress === '' || bindAddress === '0.0.0.0' || bindAddress === '::';
  if (unspecified) return family === 'IPv6' ? '::' : '0.0.0.0';
  return bindAddress;
}
