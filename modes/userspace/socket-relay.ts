/**
 * socket-relay.ts: the userspace data path's per-chunk work, one socket read forwarded as one write.
 *
 * Node's default socket read allocates a fresh 64 KiB backing store per read and pushes it through the
 * Readable machinery; under keep-alive load through the userspace ClusterIP that malloc, the ArrayBuffer it
 * becomes and its sweeping were about a third of kpx's user-space CPU (perf record, perf/load). Sockets
 * read here instead with `onread`: into one 64 KiB buffer per thread (reads run one at a time on a thread's
 * event loop), and the chunk is copied out into a pooled Buffer before it is written, because a write the
 * kernel does not take at once keeps pointing at the chunk until it drains.
 *
 * net.Server has no `onread` option for the sockets it accepts, so an accepted connection's handle is
 * moved into a new Socket built with one (adoptAccepted); the accepted Socket is destroyed without its
 * handle, which only settles the server's connection count.
 */
import net from 'node:net';

const READ_BUFFER_BYTES = 64 * 1024;
const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);

/** What `onread` takes: the shared read buffer and the callback that forwards each chunk. */
export interface RelayReader {
  readonly buffer: Buffer;
  readonly callback: (bytes: number, buf: Buffer) => boolean;
}

/**
 * relayTo: an `onread` option that writes every chunk read to `destination()`. Returning false pauses
 * reading (Node stops the handle) until the destination drains and the pump resumes the source; with no
 * destination yet, reading pauses too.
 */
export function relayTo(destination: () => net.Socket | undefined): RelayReader {
  return {
    buffer: readBuffer,
    callback: (bytes: number, buf: Buffer): boolean => {
      const dst = destination();
      if (!dst) return false;
      const chunk = Buffer.allocUnsafe(bytes);
      buf.copy(chunk, 0, 0, bytes);
      return dst.write(chunk);
    },
  };
}

interface HandleOwner {
  _handle: object | null;
}

/**
 * adoptAccepted: the accepted socket's connection as a new half-open-capable Socket that reads through
 * `reader`, paused until resumed. Undefined when the connection was already gone (no handle left).
 */
export function adoptAccepted(accepted: net.Socket, reader: RelayReader): net.Socket | undefined {
  const owner = accepted as unknown as HandleOwner;
  const handle = owner._handle;
  if (!handle) {
    accepted.destroy();
    return undefined;
  }
  owner._handle = null;
  accepted.destroy();
  // `handle` and `pauseOnCreate` are the options net.Server itself builds accepted sockets with.
  const options = { handle, allowHalfOpen: true, pauseOnCreate: true, readable: true, writable: true, onread: reader };
  return new net.Socket(options as net.SocketConstructorOpts);
}
