/**
 * http-listen.ts: start and stop node:http servers on "IP:port" addresses. Shared by the healthz, metrics and
 * service-health servers so each one handles bind errors and shutdown the same way.
 */
import type { Server } from 'node:http';
import { splitHostPort } from '../config/addresses.js';

export interface RunningServer {
  /** The bound port (the kernel's choice when the address asked for port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/** parseListenAddress: "IP:port" / "[IPv6]:port" into host and port; throws Error naming the address. */
export function parseListenAddress(address: string): { host: string; port: number } {
  try {
    return splitHostPort(address);
  } catch (err) {
    throw new Error(`invalid listen address ${JSON.stringify(address)}: ${(err as Error).message}`);
  }
}

/**
 * listen: binds the server; host undefined means every address. Rejects on bind errors (EADDRINUSE...).
 * "0.0.0.0" binds every address of both families, as Go's net.Listen("tcp", "0.0.0.0:p") does for
 * kube-proxy (Node would otherwise bind IPv4 only).
 */
export function listen(server: Server, host: string | undefined, port: number): Promise<number> {
  if (host === '0.0.0.0') host = undefined;
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port, exclusive: true });
  });
}

/** shutdown: stops accepting, drops open (keep-alive) connections, and resolves once the socket is closed. */
export function shutdown(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** running: the handle callers get back. close() is idempotent. */
export function running(server: Server, port: number): RunningServer {
  let closing: Promise<void> | undefined;
  return {
    port,
    close: () => (closing ??= shutdown(server)),
  };
}
