/**
 * chaos-load.ts (test support): continuous load for the chaos suite. One long-lived client process
 * (chaos-load-client.mjs) inside a client pod's namespace sends a steady stream of requests, a new TCP
 * connection each with a short timeout, to several ClusterIP services and counts every request sent
 * and failed per service; the test asks for the counts on demand over its stdin/stdout.
 *
 * Use: `const load = await ChaosLoad.start(sb, 'client-pod', targets, { ratePerSec: 120 })`, then per
 * fault `await load.reset()`, inject, `const w = await load.window()` (drains in-flight requests, so
 * every request of the window is settled, then resumes), and `load.stop()` at the end.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sandbox } from '../../src/sandbox/builder.js';
import { nodeBinary, packageRoot } from '../../src/sandbox/scripts.js';
import { JsonLineProcess } from './chaos-process.js';

const CLIENT = join(dirname(fileURLToPath(import.meta.url)), 'chaos-load-client.mjs');

export interface LoadTarget {
  /** The service's name, used as the row key. */
  name: string;
  addr: string;
  port: number;
}

export interface TargetCounts {
  sent: number;
  ok: number;
  /** Every request that failed: refused, reset, unreachable, connect-timeout, response-timeout, ... */
  failed: number;
  /** Timeouts while this client process itself was starved (not failed; reported apart). */
  stalled: number;
  errors: Record<string, number>;
}

export interface LoadSnapshot {
  perTarget: Record<string, TargetCounts>;
  inFlight: number;
  /** The latest failures; localPort is the client's source port (undefined when no socket was bound). */
  failures: { target: string; error: string; at: number; ms: number; connected?: boolean; localPort?: number }[];
  /** The longest stall of the client's event loop in the window, ms. */
  worstStall: number;
  at: number;
}

/** Long-lived keep-alive connections (ChaosLoad.hold): how many are still open and what they met. */
export interface HeldSnapshot {
  /** Connections opened by `hold`. */
  held: number;
  /** Still open. */
  open: number;
  /** Closed or reset from the far side (or closed after an unanswered request). */
  lost: number;
  requests: number;
  ok: number;
  failed: number;
  /** Timeouts while the client itself was starved (given one more timeout, not failed). */
  stalled: number;
  /** Failed requests on them, by kind. */
  errors: Record<string, number>;
  /** Lost connections, by why. */
  lostReasons: Record<string, number>;
  losses: { target: string; reason: string; at: number; requests: number }[];
}

export interface LoadOptions {
  /** Requests a second over all targets (default 120: enough to catch a gap, light for 2 cores). */
  ratePerSec?: number;
  /** Per request (default 1000 ms). */
  timeoutMs?: number;
}

export class ChaosLoad {
  readonly proc: JsonLineProcess;
  private readonly targets: readonly LoadTarget[];
  private readonly opts: Required<LoadOptions>;

  private constructor(proc: JsonLineProcess, targets: readonly LoadTarget[], opts: Required<LoadOptions>) {
    this.proc = proc;
    this.targets = targets;
    this.opts = opts;
  }

  /** Starts the client in the namespace of `fromPod` (a sandbox pod) and begins sending. */
  static async start(sb: Sandbox, fromPod: string, targets: readonly LoadTarget[], opts: LoadOptions = {}): Promise<ChaosLoad> {
    const ns = sb.ns(fromPod);
    const proc = new JsonLineProcess({ ns, label: `load from ${fromPod}`, cmd: nodeBinary(), args: [CLIENT, '--expect-netns', ns], cwd: packageRoot() });
    const full = { ratePerSec: opts.ratePerSec ?? 120, timeoutMs: opts.timeoutMs ?? 1000 };
    const load = new ChaosLoad(proc, targets, full);
    try {
      await proc.waitForEvent((e) => e.event === 'ready', 10_000);
      await load.resume();
    } catch (e) {
      await proc.stop();
      throw e;
    }
    return load;
  }

  /** Starts (again) sending to every target. */
  async resume(): Promise<void> {
    await this.proc.call('start', { targets: this.targets, ratePerSec: this.opts.ratePerSec, timeoutMs: this.opts.timeoutMs });
  }

  report(): Promise<LoadSnapshot> {
    return this.proc.call<LoadSnapshot>('report');
  }

  /** Zeroes the counts: the start of a fault's window. */
  reset(): Promise<LoadSnapshot> {
    return this.proc.call<LoadSnapshot>('reset');
  }

  /**
   * The end of a window: stops sending, waits until every request in flight has finished (so the
   * counts are final), and resumes unless told not to.
   */
  async window(opts: { resume?: boolean } = {}): Promise<LoadSnapshot> {
    const snap = await this.proc.call<LoadSnapshot>('drain', {}, this.opts.timeoutMs + 10_000);
    if (opts.resume ?? true) await this.resume();
    return snap;
  }

  /**
   * Opens `perTarget` long-lived keep-alive connections to each target (default: every load target),
   * each sending a request every `intervalMs`; resolves once every one has had its first answer.
   */
  hold(opts: { targets?: readonly LoadTarget[]; perTarget?: number; intervalMs?: number; timeoutMs?: number } = {}): Promise<HeldSnapshot> {
    return this.proc.call<HeldSnapshot>('hold', {
      targets: opts.targets ?? this.targets, perTarget: opts.perTarget ?? 2, intervalMs: opts.intervalMs ?? 500, timeoutMs: opts.timeoutMs ?? this.opts.timeoutMs,
    });
  }

  /** The held connections' counts since `hold` or the last `holdReset`. */
  holdReport(): Promise<HeldSnapshot> {
    return this.proc.call<HeldSnapshot>('holdReport');
  }

  /** Returns the held connections' counts and zeroes them (the connections stay). */
  holdReset(): Promise<HeldSnapshot> {
    return this.proc.call<HeldSnapshot>('holdReset');
  }

  /** Closes the held connections; returns their final counts. */
  unhold(): Promise<HeldSnapshot> {
    return this.proc.call<HeldSnapshot>('unhold');
  }

  async stop(): Promise<void> {
    if (this.proc.hasExited()) return;
    try { await this.proc.call('shutdown', {}, 3000); } catch { /* exiting */ }
    await this.proc.stop(2000);
  }
}

/** Sums the counts of some targets (all when `names` is omitted). */
export function totals(snap: LoadSnapshot, names?: readonly string[]): { sent: number; failed: number; stalled: number; errors: Record<string, number> } {
  let sent = 0;
  let failed = 0;
  let stalled = 0;
  const errors: Record<string, number> = {};
  for (const [name, c] of Object.entries(snap.perTarget)) {
    if (names && !names.includes(name)) continue;
    sent += c.sent;
    failed += c.failed;
    stalled += c.stalled ?? 0;
    for (const [k, v] of Object.entries(c.errors)) errors[k] = (errors[k] ?? 0) + v;
  }
  return { sent, failed, stalled, errors };
}
