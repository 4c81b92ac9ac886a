/**
 * udp-proxy.ts: one UDP listener of the userspace mode (kpng's udpProxySocket, rebuilt).
 *
 * A session per client address ("ip:port"), each with its own socket connected to the endpoint chosen
 * for that client, so replies can be told apart. Replies go back out of the listener's socket, so the
 * kernel un-NATs them to the service address the client used. A session ends after --udp-timeout without
 * a datagram in either direction; activity only stamps a time, and one timer per session checks the stamp
 * when it fires (no timer work per datagram).
 */
import dgram from 'node:dgram';
import { systemClock, type Clock, type TimerHandle } from '../../src/util/clock.js';
import type { Logger } from '../../src/util/log.js';
import type { Target } from './load-balancer.js';

/** Sessions allowed per listener, so a spoofed-source flood cannot exhaust file descriptors. */
export const DEFAULT_MAX_SESSIONS = 4_096;

export interface UdpProxyOptions {
  readonly name: string;
  readonly family: 'IPv4' | 'IPv6';
  readonly pick: (srcAddr: string, resetAffinity: boolean) => Target | undefined;
  /** --udp-timeout: a session idle this long is closed. */
  readonly idleTimeoutMs: number;
  readonly log: Logger;
  readonly maxSessions?: number;
  /** Idle time is read from and timed by this clock (tests pass a fake one). Default: the system clock. */
  readonly clock?: Clock;
}

interface Session {
  readonly key: string;
  readonly address: string;
  readonly port: number;
  readonly socket: dgram.Socket;
  /** Datagrams from the client waiting for the backend socket to connect. */
  pending: Buffer[] | undefined;
  lastActiveMs: number;
  timer: TimerHandle | undefined;
}

export class UdpProxy {
  readonly #opts: UdpProxyOptions;
  readonly #clock: Clock;
  readonly #sessions = new Map<string, Session>();
  #socket: dgram.Socket | undefined;
  #port = 0;
  #closed = false;

  constructor(opts: UdpProxyOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
  }

  get port(): number {
    return this.#port;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  async listen(host: string, port: number): Promise<number> {
    const socket = dgram.createSocket({ type: this.#opts.family === 'IPv6' ? 'udp6' : 'udp4', ipv6Only: this.#opts.family === 'IPv6' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: host, port, exclusive: true }, () => {
        socket.removeListener('error', reject);
        resolve();
      });
    });
    socket.on('error', (err) => this.#opts.log.warn('userspace UDP listener error', { listener: this.#opts.name, err }));
    socket.on('message', (msg, rinfo) => this.#onClientDatagram(msg, rinfo));
    this.#socket = socket;
    this.#port = socket.address().port;
    return this.#port;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const s of [...this.#sessions.values()]) this.#endSession(s);
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  #onClientDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const key = `${rinfo.address}|${rinfo.port}`;
    let s = this.#sessions.get(key);
    if (!s) {
      s = this.#newSession(key, rinfo);
      if (!s) return;
    }
    s.lastActiveMs = this.#clock.now();
    if (s.pending) s.pending.push(msg);
    else s.socket.send(msg);
  }

  #newSession(key: string, rinfo: dgram.RemoteInfo): Session | undefined {
    if (this.#closed) return undefined;
    if (this.#sessions.size >= (this.#opts.maxSessions ?? DEFAULT_MAX_SESSIONS)) {
      this.#opts.log.v(2).info('UDP session cap reached; dropping datagram', { listener: this.#opts.name });
      return undefined;
    }
    const target = this.#opts.pick(rinfo.address, false);
    if (!target) return undefined; // no endpoints: the datagram is dropped
    const socket = dgram.createSocket({ type: this.#opts.family === 'IPv6' ? 'udp6' : 'udp4' });
    const s: Session = { key, address: rinfo.address, port: rinfo.port, socket, pending: [], lastActiveMs: this.#clock.now(), timer: undefined };
    this.#sessions.set(key, s);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // ECONNREFUSED (ICMP port unreachable) and the like: the next datagram starts a fresh session,
      // and the failed endpoint is not the client's affinity any more.
      this.#opts.log.v(2).info('UDP session error; closing it', { listener: this.#opts.name, endpoint: target.key, code: err.code ?? err.message });
      if (err.code === 'ECONNREFUSED') this.#opts.pick(rinfo.address, true);
      this.#endSession(s);
    });
    socket.on('message', (reply) => {
      s.lastActiveMs = this.#clock.now();
      this.#socket?.send(reply, s.port, s.address);
    });
    socket.connect(target.port, target.ip, () => {
      const pending = s.pending ?? [];
      s.pending = undefined;
      for (const m of pending) socket.send(m);
    });
    this.#arm(s, this.#opts.idleTimeoutMs);
    return s;
  }

  /**
   * One timer per session: when it fires, the session ends if it was idle long enough, else re-arms for
   * the rest. (The system clock's timers do not keep the process alive.)
   */
  #arm(s: Session, ms: number): void {
    s.timer = this.#clock.setTimeout(() => {
      const idle = this.#clock.now() - s.lastActiveMs;
      if (idle >= this.#opts.idleTimeoutMs) this.#endSession(s);
      else this.#arm(s, this.#opts.idleTimeoutMs - idle);
    }, ms);
  }

  #endSession(s: Session): void {
    if (this.#sessions.get(s.key) !== s) return;
    this.#sessions.delete(s.key);
    if (s.timer) this.#clock.clearTimeout(s.timer);
    try {
      s.socket.close();
    } catch {
      // already closed
    }
  }
}
