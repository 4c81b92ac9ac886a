/**
 * tcp-workers.ts: more cores for the userspace TCP data path.
 *
 * One event loop copies every byte of every connection, and a profile shows it spends its time in the
 * write/read system calls, not in JavaScript: a single thread tops out at one core while the node has
 * more. So listeners without ClientIP affinity are also bound, with SO_REUSEPORT, in a few worker
 * threads; the kernel spreads new connections over the sockets of the group. The rotation counter and the
 * connection budget live in shared memory, so round robin stays one rotation and the cap one cap.
 * Listeners with affinity stay on the main thread only: a client's connections hash to different
 * sockets, and its affinity must be decided in one place.
 *
 * Every request is acknowledged, so a sync returns only once every thread applies it: "endpoint changes
 * apply to new connections at once" holds across threads. A worker that dies is dropped from the pool
 * (its sockets close with it; the main thread's listener goes on serving).
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../src/util/log.js';
import type { Target } from './load-balancer.js';

export type WorkerRequest =
  | { seq: number; op: 'open'; id: string; host: string; port: number; endpoints: Target[]; rotation: SharedArrayBuffer; budget: SharedArrayBuffer; max: number; dialTimeoutsMs?: readonly number[] }
  | { seq: number; op: 'update'; id: string; endpoints: Target[] }
  | { seq: number; op: 'close'; id: string };

export interface WorkerReply {
  seq: number;
  ok: boolean;
  error?: string;
}

type Body<R> = R extends unknown ? Omit<R, 'seq'> : never;

interface Thread {
  readonly worker: Worker;
  readonly pending: Map<number, (r: WorkerReply) => void>;
  alive: boolean;
}

export class TcpWorkerPool {
  readonly size: number;
  readonly #log: Logger;
  #threads: Thread[] | undefined;
  #seq = 0;

  constructor(size: number, log: Logger) {
    this.size = Math.max(0, Math.floor(size));
    this.#log = log;
  }

  /** Threads currently alive (started on first use). */
  get alive(): number {
    return this.#threads?.filter((t) => t.alive).length ?? 0;
  }

  /**
   * Sends one request to every live thread; resolves with the errors of those that refused it (a thread
   * that dies meanwhile counts as an error).
   */
  async broadcast(body: Body<WorkerRequest>): Promise<string[]> {
    if (this.size === 0) return [];
    const threads = this.#start().filter((t) => t.alive);
    const replies = await Promise.all(threads.map((t) => this.#send(t, body)));
    return replies.filter((r) => !r.ok).map((r) => r.error ?? 'failed');
  }

  /** Stops every thread (their sockets and connections go with them). */
  async terminate(): Promise<void> {
    const threads = this.#threads ?? [];
    this.#threads = undefined;
    await Promise.all(threads.map((t) => { t.alive = false; return t.worker.terminate(); }));
  }

  #start(): Thread[] {
    if (this.#threads) return this.#threads;
    this.#threads = Array.from({ length: this.size }, (_, index) => {
      const worker = new Worker(new URL('./tcp-worker.js', import.meta.url), { workerData: { index } });
      // The main thread decides when kpx ends; a worker never keeps it alive.
      worker.unref();
      const t: Thread = { worker, pending: new Map(), alive: true };
      worker.on('message', (r: WorkerReply) => {
        const done = t.pending.get(r.seq);
        t.pending.delete(r.seq);
        done?.(r);
      });
      const fail = (why: string) => {
        if (!t.alive) return;
        t.alive = false;
        this.#log.error('userspace worker thread stopped; the main thread serves on', { worker: index, why });
        for (const done of t.pending.values()) done({ seq: -1, ok: false, error: `worker ${index} stopped: ${why}` });
        t.pending.clear();
      };
      worker.on('error', (err) => fail(err.message));
      worker.on('exit', (code) => fail(`exit ${code}`));
      return t;
    });
    return this.#threads;
  }

  #send(t: Thread, body: Body<WorkerRequest>): Promise<WorkerReply> {
    const seq = ++this.#seq;
    return new Promise((resolve) => {
      if (!t.alive) return resolve({ seq, ok: false, error: 'worker stopped' });
      t.pending.set(seq, resolve);
      t.worker.postMessage({ ...body, seq });
    });
  }
}
