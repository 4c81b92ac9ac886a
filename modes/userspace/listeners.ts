/**
 * listeners.ts: the live table of the userspace mode's listeners, converged to a plan on each sync.
 *
 * A listener that stays in the plan keeps its socket, its port and its connections; only its balancer's
 * endpoints are updated, so endpoint changes reach new connections at once and leave open ones alone.
 * A listener that leaves the plan is closed with every connection it carries, and its port is free again.
 */
import type { IPFamily } from '../../src/model/types.js';
import { errorMessage } from '../../src/util/errors.js';
import type { Logger } from '../../src/util/log.js';
import type { LoadBalancer } from './load-balancer.js';
import type { ListenerSpec } from './listener-plan.js';
import { PortAllocator, type PortRange } from './port-range.js';
import { DEFAULT_MAX_CONNECTIONS, TcpProxy, type ConnectionBudget } from './tcp-proxy.js';
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
}

export interface LiveListener {
  readonly spec: ListenerSpec;
  readonly port: number;
  readonly proxy: TcpProxy | UdpProxy;
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
      if (!w || w.fixedPort !== l.spec.fixedPort) await this.#close(id, l);
    }
    const failed: { id: string; error: string }[] = [];
    for (const spec of specs) {
      this.#opts.balancer.update(spec.id, spec.endpoints, spec.affinityTimeoutSeconds);
      const live = this.#live.get(spec.id);
      if (live) {
        this.#live.set(spec.id, { ...live, spec });
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
    let port: number;
    if (spec.fixedPort > 0 || !this.#allocator) {
      port = await proxy.listen(this.#host, spec.fixedPort);
    } else {
      port = await this.#listenInRange(proxy, this.#allocator);
    }
    this.#live.set(spec.id, { spec, port, proxy });
    this.#opts.log.v(2).info('opened userspace listener', { listener: spec.id, host: this.#host, port });
  }

  async #listenInRange(proxy: TcpProxy | UdpProxy, allocator: PortAllocator): Promise<number> {
    for (let i = 0; i < allocator.size; i++) {
      const p = allocator.allocate();
      if (p === undefined) break;
      try {
        return await proxy.listen(this.#host, p);
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
      budget = { open: 0, max: this.#opts.maxConnectionsPerService ?? DEFAULT_MAX_CONNECTIONS };
      this.#budgets.set(spec.servicePortKey, budget);
    }
    const wantsSourceAddress = () => balancer.hasAffinity(spec.id);
    return new TcpProxy({ name: spec.id, pick, wantsSourceAddress, budget, log, dialTimeoutsMs: this.#opts.dialTimeoutsMs });
  }

  async #close(id: string, l: LiveListener): Promise<void> {
    this.#live.delete(id);
    this.#opts.balancer.remove(id);
    await l.proxy.close();
    if (l.spec.fixedPort === 0) this.#allocator?.release(l.port);
    this.#opts.log.v(2).info('closed userspace listener', { listener: id, port: l.port });
  }
}

/** "0.0.0.0" and "::" mean "every address of this backend's family". */
export function bindHost(bindAddress: string, family: IPFamily): string {
  const unspecified = bindAddress === '' || bindAddress === '0.0.0.0' || bindAddress === '::';
  if (unspecified) return family === 'IPv6' ? '::' : '0.0.0.0';
  return bindAddress;
}
