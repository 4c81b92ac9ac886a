/**
 * fixtures.ts: builders for userspace-mode tests: ServicePorts and ProxyStates as the model would resolve
 * them, and small loopback servers that say who they are.
 */
import net from 'node:net';
import dgram from 'node:dgram';
import type { Endpoint, IPFamily, ProxyState, ServicePort } from '../../../src/model/types.js';

export function endpoint(ip: string, port: number, more: Partial<Endpoint> = {}): Endpoint {
  return { key: `${ip}:${port}`, ip, port, ready: true, serving: true, terminating: false, isLocal: true, ...more };
}

export function servicePort(more: Partial<ServicePort> & { name: string }): ServicePort {
  const namespace = more.namespace ?? 'default';
  const portName = more.portName ?? '';
  const key = `${namespace}/${more.name}${portName ? ':' + portName : ''}`;
  const endpoints = more.endpoints ?? [];
  return {
    key,
    serviceKey: `${namespace}/${more.name}`,
    namespace,
    portName,
    protocol: 'TCP',
    hash: 'HASH' + more.name.toUpperCase().padEnd(12, 'X').slice(0, 12),
    family: 'IPv4',
    clusterIP: '10.96.0.10',
    port: 80,
    nodePort: 0,
    externalIPs: [],
    loadBalancerIPs: [],
    loadBalancerSourceRanges: [],
    affinityTimeoutSeconds: 0,
    externalPolicyLocal: false,
    internalPolicyLocal: false,
    healthCheckNodePort: 0,
    externallyAccessible: false,
    usesClusterEndpoints: true,
    usesLocalEndpoints: false,
    endpoints,
    clusterEndpoints: more.clusterEndpoints ?? endpoints,
    localEndpoints: more.localEndpoints ?? [],
    allReachableEndpoints: endpoints,
    hasAnyEndpoints: endpoints.length > 0,
    readyLocalEndpointCount: 0,
    ...more,
  } as ServicePort;
}

export function proxyState(ports: readonly ServicePort[], more: { nodeIPs?: string[]; family?: IPFamily } = {}): ProxyState {
  return {
    family: more.family ?? 'IPv4',
    node: { name: 'node-1', labels: {}, zone: '', ips: more.nodeIPs ?? ['192.168.50.2'], podCIDRs: ['10.244.0.0/24'], eligible: true },
    nodePortAddresses: { all: true, ips: [], localhost: false },
    services: new Map(ports.map((p) => [p.key, p])),
  };
}

export interface NamedServer {
  readonly name: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A TCP server on 127.0.0.1 that writes its name when a client connects, then echoes every byte back
 * (half-open aware: when the client ends, it ends after the echo).
 */
export async function nameEchoServer(name: string, host = '127.0.0.1'): Promise<NamedServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.write(`${name}\n`);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return {
    name,
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

/** A UDP server that answers each datagram with "name:" + the datagram. */
export async function udpNameServer(name: string): Promise<NamedServer & { received: number }> {
  const sock = dgram.createSocket('udp4');
  const state = { received: 0 };
  sock.on('message', (m, r) => {
    state.received++;
    sock.send(Buffer.concat([Buffer.from(`${name}:`), m]), r.port, r.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return {
    name,
    port: sock.address().port,
    get received() { return state.received; },
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}

/** Named echo servers on loopback, closed when the test ends. */
export async function echoPods(t: import('node:test').TestContext, ...names: string[]): Promise<NamedServer[]> {
  const out = await Promise.all(names.map((n) => nameEchoServer(n)));
  t.after(() => Promise.all(out.map((s) => s.close())));
  return out;
}

/** The name the backend behind `port` sends first, trying up to `tries` times `gapMs` apart; '' if none answered. */
export async function readNameWithRetries(port: number, tries: number, gapMs: number): Promise<string> {
  for (let i = 0; i < tries; i++) {
    const name = await new Promise<string>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.on('data', (d) => { resolve(d.toString().trim()); s.destroy(); });
      s.on('error', () => resolve(''));
      s.on('close', () => resolve(''));
    });
    if (name) return name;
    await sleep(gapMs);
  }
  return '';
}

/** Connects, reads the first line (the backend's name) and returns it with the open socket. */
export function connectAndReadName(port: number, host = '127.0.0.1'): Promise<{ name: string; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host, allowHalfOpen: true });
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) {
        socket.removeListener('data', onData);
        socket.removeListener('end', closed);
        socket.removeListener('close', closed);
        socket.pause();
        resolve({ name: buf.slice(0, i), socket });
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    const closed = () => {
      socket.destroy();
      reject(new Error(`closed before a name arrived (got ${JSON.stringify(buf)})`));
    };
    socket.once('end', closed);
    socket.once('close', closed);
  });
}

/** Connects and resolves when the proxy closes the connection, with what arrived. */
export function connectExpectingClose(port: number): Promise<{ data: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let data = '';
    socket.on('data', (d) => { data += d.toString(); });
    socket.on('error', () => {});
    socket.once('close', () => resolve({ data }));
  });
}

/** Echo round trip on an established socket: writes `msg`, resolves with what comes back. */
export function roundTrip(socket: net.Socket, msg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      if (buf.length >= msg.length) {
        socket.removeListener('data', onData);
        socket.removeListener('close', onClose);
        socket.pause();
        resolve(buf);
      }
    };
    const onClose = () => reject(new Error(`socket closed during a round trip (got ${JSON.stringify(buf)})`));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.resume();
    socket.write(msg);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
