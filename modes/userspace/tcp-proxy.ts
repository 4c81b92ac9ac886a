/**
 * tcp-proxy.ts: one TCP listener of the userspace mode and the connections it carries (kpng's
 * proxysocket.go tcpProxySocket, on Node streams).
 *
 * Per connection: accept paused (nothing is read before an endpoint is dialled), dial endpoints with
 * growing timeouts (250ms, 500ms, 1s, 2s; after a failure the client's affinity is reset and the next
 * endpoint is tried), then one pump per direction, stream.pipe's per-chunk logic: back-pressure (a slow
 * reader pauses the other side), both sockets torn down on any error; allowHalfOpen on both sockets passes
 * a half-close (FIN) through while the other direction keeps flowing. Both sockets read into a reused
 * buffer (socket-relay.ts) rather than through Node's allocate-per-read streams. No JavaScript runs per
 * byte and no timer exists per established connection.
 *
 * Limits, so a flood cannot take the node down: a budget of open connections shared by a service port's
 * listeners (a client over the cap is closed at once; open connections are untouched), and when the
 * process runs out of file descriptors (EMFILE/ENFILE on accept or on the dial) the listener stops
 * accepting and re-listens after a back-off instead of spinning or crashing.
 */
import net from 'node:net';
import { systemClock, type Clock, type TimerHandle } from '../../src/util/clock.js';
import type { Logger } from '../../src/util/log.js';
import type { Target } from './load-balancer.js';
import { adoptAccepted, relayTo } from './socket-relay.js';

/** kube-proxy's legacy EndpointDialTimeouts. */
export const DIAL_TIMEOUTS_MS: readonly number[] = [250, 500, 1000, 2000];

/** Open connections allowed per service port (all its listeners together). */
export const DEFAULT_MAX_CONNECTIONS = 16_384;

/**
 * ConnectionBudget: the open-connection count of one service port, shared by all its listeners, in
 * shared memory so the worker threads carrying the same listener (tcp-workers.ts) count against it too.
 */
export class ConnectionBudget {
  readonly max: number;
  readonly #cell: Int32Array;

  constructor(max: number, shared?: SharedArrayBuffer) {
    this.max = max;
    this.#cell = new Int32Array(shared ?? new SharedArrayBuffer(4));
  }

  get buffer(): SharedArrayBuffer {
    return this.#cell.buffer as SharedArrayBuffer;
  }

  get open(): number {
    return Atomics.load(this.#cell, 0);
  }

  /** Takes a slot; false (and nothing taken) when the cap is reached. */
  tryAcquire(): boolean {
    if (Atomics.add(this.#cell, 0, 1) < this.max) return true;
    Atomics.sub(this.#cell, 0, 1);
    return false;
  }

  release(): void {
    Atomics.sub(this.#cell, 0, 1);
  }
}

export interface TcpProxyOptions {
  /** For log lines: the listener's id. */
  readonly name: string;
  /** Chooses the endpoint for a client (the listener's balancer). */
  readonly pick: (srcAddr: string, resetAffinity: boolean) => Target | undefined;
  /** Told about each refused dial (not timeouts), so the balancer can keep that endpoint out of rotation for a while. */
  readonly dialRefused?: (target: Target) => void;
  /** False when pick ignores the client address (no affinity): then it is not looked up. Default true. */
  readonly wantsSourceAddress?: () => boolean;
  readonly budget: ConnectionBudget;
  readonly log: Logger;
  readonly dialTimeoutsMs?: readonly number[];
  /** First pause after EMFILE/ENFILE on accept; doubles up to 5s while it keeps happening. */
  readonly acceptRetryMs?: number;
  /**
   * Times the dial timeouts and the accept back-off (tests pass a fake one). Default: the system clock,
   * whose timers do not keep the process alive (the socket being dialled, or the process's other
   * listeners, do).
   */
  readonly clock?: Clock;
}

interface Connection {
  readonly client: net.Socket;
  upstream: net.Socket | undefined;
  dialTimer: TimerHandle | undefined;
  clientClosed: boolean;
  upstreamClosed: boolean;
  released: boolean;
}

const FD_EXHAUSTED = new Set(['EMFILE', 'ENFILE']);
const MAX_ACCEPT_RETRY_MS = 5_000;

export class TcpProxy {
  readonly #opts: TcpProxyOptions;
  readonly #clock: Clock;
  readonly #timeouts: readonly number[];
  readonly #conns = new Set<Connection>();
  #server: net.Server | undefined;
  #host = '';
  #port = 0;
  #reusePort = false;
  #closed = false;
  #retryTimer: TimerHandle | undefined;
  #retryMs: number;
  #pauses = 0;

  constructor(opts: TcpProxyOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#timeouts = opts.dialTimeoutsMs ?? DIAL_TIMEOUTS_MS;
    this.#retryMs = opts.acceptRetryMs ?? 100;
  }

  /** The bound port (0 before listen). */
  get port(): number {
    return this.#port;
  }

  /** Connections currently carried (accepted and not yet fully closed). */
  get connectionCount(): number {
    return this.#conns.size;
  }

  /** True while accepting is paused after running out of file descriptors. */
  get paused(): boolean {
    return this.#retryTimer !== undefined;
  }

  /** How many times accepting was paused (for tests and logs). */
  get pauseCount(): number {
    return this.#pauses;
  }

  /**
   * listen binds host:port (port 0 = the kernel's choice) and resolves with the bound port. reusePort
   * lets worker threads bind the same port (SO_REUSEPORT), the kernel spreading connections over them.
   */
  async listen(host: string, port: number, opts: { reusePort?: boolean } = {}): Promise<number> {
    this.#host = host;
    this.#reusePort = opts.reusePort ?? false;
    const server = this.#newServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, backlog: 4096, ipv6Only: host.includes(':'), reusePort: this.#reusePort }, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    this.#port = (server.address() as net.AddressInfo).port;
    this.#server = server;
    server.on('error', (err) => this.#onServerError(err));
    return this.#port;
  }

  /** close stops listening and destroys every connection this listener carries. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retryTimer) this.#clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const server = this.#server;
    this.#server = undefined;
    for (const c of this.#conns) {
      c.client.destroy();
      c.upstream?.destroy();
    }
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #newServer(): net.Server {
    return net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (s) => this.#onConnection(s));
  }

  #onServerError(err: NodeJS.ErrnoException): void {
    if (err.code && FD_EXHAUSTED.has(err.code)) {
      this.#pauseAccepting(err.code);
      return;
    }
    this.#opts.log.error('userspace listener error', { listener: this.#opts.name, err });
  }

  /**
   * Out of file descriptors: stop listening (the kernel refuses new clients meanwhile, open connections go
   * on) and bind again after a back-off, which doubles while the shortage lasts.
   */
  #pauseAccepting(code: string): void {
    if (this.#retryTimer || this.#closed) return;
    this.#pauses++;
    this.#opts.log.warn('out of file descriptors; pausing accept', { listener: this.#opts.name, code, retryMs: this.#retryMs, open: this.#conns.size });
    const old = this.#server;
    this.#server = undefined;
    old?.close();
    const delay = this.#retryMs;
    this.#retryTimer = this.#clock.setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#closed) return;
      const server = this.#newServer();
      server.once('error', (e: NodeJS.ErrnoException) => {
        // Still failing (EMFILE on socket(), or the port was taken meanwhile): back off again.
        this.#retryMs = Math.min(this.#retryMs * 2, MAX_ACCEPT_RETRY_MS);
        this.#pauseAccepting(e.code ?? e.message);
      });
      server.listen({ host: this.#host, port: this.#port, backlog: 4096, ipv6Only: this.#host.includes(':'), reusePort: this.#reusePort }, () => {
        server.removeAllListeners('error');
        server.on('error', (e) => this.#onServerError(e));
        if (this.#closed) {
          server.close();
          return;
        }
        this.#server = server;
        this.#retryMs = this.#opts.acceptRetryMs ?? 100;
        this.#opts.log.info('accepting again', { listener: this.#opts.name });
      });
    }, delay);
  }

  #onConnection(accepted: net.Socket): void {
    // The client's reads go to the upstream socket, which exists only once an endpoint answers.
    const route: { conn?: Connection } = {};
    const client = adoptAccepted(accepted, relayTo(() => route.conn?.upstream));
    if (!client) return;
    const budget = this.#opts.budget;
    if (this.#closed || !budget.tryAcquire()) {
      // Refuse: close at once, without touching the connections already open.
      client.destroy();
      if (!this.#closed) this.#opts.log.v(2).info('connection cap reached; refusing client', { listener: this.#opts.name, max: budget.max });
      return;
    }
    const conn: Connection = { client, upstream: undefined, dialTimer: undefined, clientClosed: false, upstreamClosed: false, released: false };
    route.conn = conn;
    this.#conns.add(conn);
    client.on('error', ignore);
    client.once('close', () => {
      conn.clientClosed = true;
      // A client gone while we were still dialling: nothing will ever pipe; drop the dial too.
      if (conn.upstream && conn.upstream.connecting) {
        if (conn.dialTimer) this.#clock.clearTimeout(conn.dialTimer);
        conn.upstream.destroy();
        conn.upstream = undefined;
      }
      this.#maybeRelease(conn);
    });
    const src = this.#opts.wantsSourceAddress?.() === false ? '' : client.remoteAddress;
    if (src === undefined) {
      client.destroy();
      return;
    }
    this.#dial(conn, src, 0, false);
  }

  /** tryConnectEndpoints: attempt `attempt` with its timeout; on failure the next endpoint, affinity reset. */
  #dial(conn: Connection, src: string, attempt: number, resetAffinity: boolean): void {
    if (conn.clientClosed || this.#closed) {
      conn.client.destroy();
      return;
    }
    const target = attempt < this.#timeouts.length ? this.#opts.pick(src, resetAffinity) : undefined;
    if (!target) {
      // No endpoints (or every attempt failed): the client's connection is closed at once.
      if (attempt > 0) this.#opts.log.v(2).info('no endpoint reachable; closing client', { listener: this.#opts.name, attempts: attempt });
      conn.client.destroy();
      return;
    }
    const upstream = net.connect({ host: target.ip, port: target.port, allowHalfOpen: true, noDelay: true, onread: relayTo(() => conn.client) });
    conn.upstream = upstream;
    const timer = this.#clock.setTimeout(() => upstream.destroy(Object.assign(new Error('dial timeout'), { code: 'ETIMEDOUT' })), this.#timeouts[attempt]);
    conn.dialTimer = timer;
    const onError = (err: NodeJS.ErrnoException) => {
      this.#clock.clearTimeout(timer);
      if (conn.upstream !== upstream) return; // the client went away meanwhile
      upstream.destroy();
      conn.upstream = undefined;
      if (err.code && FD_EXHAUSTED.has(err.code)) {
        // No descriptor for the upstream socket: other endpoints would fail the same way. Refuse this
        // client and stop accepting until descriptors are back (libuv itself drains accepts that hit
        // EMFILE without telling us, so this is where the shortage usually shows).
        conn.client.destroy();
        this.#pauseAccepting(err.code);
        return;
      }
      if (err.code !== 'ETIMEDOUT') this.#opts.dialRefused?.(target);
      this.#opts.log.v(2).info('dial failed; trying the next endpoint', { listener: this.#opts.name, endpoint: target.key, code: err.code ?? err.message, attempt });
      this.#dial(conn, src, attempt + 1, true);
    };
    upstream.once('error', onError);
    upstream.once('connect', () => {
      this.#clock.clearTimeout(timer);
      upstream.removeListener('error', onError);
      this.#splice(conn, upstream);
    });
  }

  /**
   * One pump a direction (what stream.pipe does per chunk, without pipeline's per-connection listener
   * set, which doubled the cost of a short connection): a write that returns false pauses the source
   * until the destination drains; the source's end becomes the destination's end (a half-close passes
   * through, the other direction keeps flowing); an error or an abrupt close on either side destroys both.
   */
  #splice(conn: Connection, upstream: net.Socket): void {
    const client = conn.client;
    const teardown = () => {
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', teardown);
    client.removeListener('error', ignore);
    client.on('error', teardown);
    upstream.once('close', () => {
      conn.upstreamClosed = true;
      // Closed before both directions finished (reset, destroy): nothing more can flow to the client.
      if (!upstream.readableEnded) client.destroy();
      this.#maybeRelease(conn);
    });
    client.once('close', () => {
      if (!client.readableEnded) upstream.destroy();
    });
    if (conn.clientClosed || this.#closed) {
      teardown();
      return;
    }
    pump(client, upstream);
    pump(upstream, client);
  }

  #maybeRelease(conn: Connection): void {
    if (conn.released || !conn.clientClosed) return;
    if (conn.upstream && !conn.upstreamClosed) return;
    conn.released = true;
    this.#conns.delete(conn);
    this.#opts.budget.release();
  }
}

/** The rest of a direction whose chunks socket-relay.ts forwards: resume after a drain, pass the end on. */
function pump(src: net.Socket, dst: net.Socket): void {
  dst.on('drain', () => src.resume());
  src.on('end', () => dst.end());
  // The client was adopted paused, and a relay with no upstream yet paused itself: start (again) now.
  src.resume();
}

function ignore(): void {
  // While dialling, errors end in 'close'; the listener keeps them from being uncaught.
}
