/**
 * backend.ts: the userspace mode's Backend. The kernel only redirects (portal rules); kpx's listeners
 * carry every byte.
 *
 * sync: plan listeners (pure) → converge the listener table (open new, update balancers, close gone) →
 * write the portal chains with the bound ports in one iptables-restore --noflush. Listeners open before
 * the rules point at them. Jumps from the built-in chains are checked on full syncs (and after a failure)
 * and added only when missing.
 *
 * init flushes the portal chains left by an earlier run: their ports belonged to that process's listeners
 * and are dead now; the first sync binds new listeners and rewrites the rules (a restart "rebinds and
 * rewrites", as the legacy proxy did).
 */
import type { ChangeSet, IPFamily, ProxyState } from '../../src/model/types.js';
import type { Backend, BackendOptions, SyncResult } from '../../src/backend.js';
import { errorMessage, KpxError } from '../../src/util/errors.js';
import type { Logger } from '../../src/util/log.js';
import type { Clock } from '../../src/util/clock.js';
import { availableParallelism } from 'node:os';
import { LoadBalancer } from './load-balancer.js';
import { TcpWorkerPool } from './tcp-workers.js';
import { planListeners } from './listener-plan.js';
import { ListenerTable } from './listeners.js';
import type { UserspaceSettings } from './settings.js';
import { FILTER_CHAINS, NAT_CHAINS, missingJumpLines, renderCleanup, renderPortalRules, type SavedTables } from './portal-rules.js';

/** The part of src/net/iptables.ts the userspace mode uses (so tests can hand in the real one for a netns). */
export interface PortalIptables {
  restore(data: string, opts?: { noFlush?: boolean; counters?: boolean }): Promise<void>;
  save(table?: 'nat' | 'filter'): Promise<string>;
}

export type UserspaceBackendOptions = BackendOptions<UserspaceSettings> & UserspaceBackendExtras;

export interface UserspaceBackendExtras {
  readonly iptables: PortalIptables;
  readonly clock?: Clock;
  /** Open TCP connections allowed per service port; default DEFAULT_MAX_CONNECTIONS. */
  readonly maxConnectionsPerService?: number;
  readonly dialTimeoutsMs?: readonly number[];
  /**
   * Worker threads that share the TCP data path (tcp-workers.ts). Default: one less than the CPUs,
   * at most 3; 0 keeps every byte on the main thread.
   */
  readonly workerThreads?: number;
}

/** defaultWorkerThreads: leave one CPU to the main thread (syncs, UDP, affinity listeners) and the rest of the node. */
export function defaultWorkerThreads(): number {
  return Math.max(0, Math.min(availableParallelism() - 1, 3));
}

export class UserspaceBackend implements Backend {
  readonly mode = 'userspace' as const;
  readonly family: IPFamily;
  readonly #opts: UserspaceBackendOptions;
  readonly #log: Logger;
  readonly #balancer: LoadBalancer;
  readonly #listeners: ListenerTable;
  readonly #workers: TcpWorkerPool;
  readonly #refusedWarned = new Set<string>();
  #lastRules = '';
  #checkJumps = true;

  constructor(opts: UserspaceBackendOptions) {
    this.family = opts.family;
    this.#opts = opts;
    this.#log = opts.log.child({ mode: 'userspace', family: opts.family });
    this.#balancer = new LoadBalancer({ clock: opts.clock });
    this.#workers = new TcpWorkerPool(opts.workerThreads ?? defaultWorkerThreads(), this.#log);
    this.#listeners = new ListenerTable({
      family: opts.family,
      bindAddress: opts.settings.bindAddress,
      portRange: opts.settings.portRange,
      udpIdleTimeoutMs: opts.settings.udpIdleTimeoutMs,
      balancer: this.#balancer,
      log: this.#log,
      maxConnectionsPerService: opts.maxConnectionsPerService,
      dialTimeoutsMs: opts.dialTimeoutsMs,
      workers: this.#workers,
    });
  }

  /** The live listener table (tests and `kpx trace` read ports and connection counts from it). */
  get listeners(): ListenerTable {
    return this.#listeners;
  }

  async init(): Promise<void> {
    const saved = await this.#save();
    const none = { all: true, ips: [], localhost: false };
    const empty = renderPortalRules([], new Map(), { family: this.family, bindHost: this.#listeners.host, hostIP: '', nodePortAddresses: none }, missingJumpLines(saved));
    await this.#opts.iptables.restore(empty, { noFlush: true });
    this.#lastRules = '';
    this.#checkJumps = false;
  }

  async sync(state: ProxyState, changed: ChangeSet): Promise<SyncResult> {
    try {
      const plan = planListeners(state);
      for (const sp of plan.refused) {
        if (this.#refusedWarned.has(sp.key)) continue;
        this.#refusedWarned.add(sp.key);
        this.#log.warn('SCTP is not supported for user space proxy; service port skipped', { servicePort: sp.key, protocol: sp.protocol });
      }
      const { ports } = await this.#listeners.sync(plan.listeners);
      // A sync that carries no change is the sync period's: the portal rules are few, so it rewrites them all
      // (repairing whatever another program did to them) instead of comparing.
      const rewrite = changed.full || changed.services.size === 0;
      const checkJumps = this.#checkJumps || rewrite;
      const jumps = checkJumps ? missingJumpLines(await this.#save()) : { nat: [], filter: [] };
      const ruleOpts = { family: this.family, bindHost: this.#listeners.host, hostIP: state.node.ips[0] ?? '', nodePortAddresses: state.nodePortAddresses };
      const rules = renderPortalRules(plan.targets, ports, ruleOpts);
      if (rewrite || rules !== this.#lastRules || jumps.nat.length + jumps.filter.length > 0) {
        const withJumps = renderPortalRules(plan.targets, ports, ruleOpts, jumps);
        await this.#opts.iptables.restore(withJumps, { noFlush: true });
      }
      this.#lastRules = rules;
      this.#checkJumps = false;
      return { ok: true };
    } catch (err) {
      this.#checkJumps = true;
      this.#lastRules = '';
      const error = err instanceof KpxError ? err : new KpxError('KPX_USERSPACE_SYNC', errorMessage(err), { cause: err });
      this.#log.error('userspace sync failed', { err: error.message });
      return { ok: false, error };
    }
  }

  async close(): Promise<void> {
    await this.#listeners.close();
    await this.#workers.terminate();
  }

  async cleanup(): Promise<void> {
    await this.close();
    await this.#opts.iptables.restore(renderCleanup(await this.#save()), { noFlush: true });
    this.#lastRules = '';
    this.#checkJumps = true;
  }

  /** hasLeftovers: whether any of the userspace chains exists (so another mode's start skips a needless cleanup). */
  async hasLeftovers(): Promise<boolean> {
    const saved = await this.#save();
    return NAT_CHAINS.some((c) => saved.nat.includes(`:${c} `)) || FILTER_CHAINS.some((c) => saved.filter.includes(`:${c} `));
  }

  async #save(): Promise<SavedTables> {
    const [nat, filter] = await Promise.all([this.#opts.iptables.save('nat'), this.#opts.iptables.save('filter')]);
    return { nat, filter };
  }
}
