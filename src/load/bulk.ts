/**
 * bulk.ts: bulk TCP throughput. Opens `connections` sockets, sends one HTTP GET on each (servers that
 * stream on connect ignore it) and counts received bytes until the duration ends. Reading with no per-byte
 * work keeps this generator far below the cost of the path it measures.
 */
import net from 'node:net';
import type { LoadOptions, LoadResult } from './types.js';
import { percentile } from './stats.js';

export function splitTarget(target: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(target) ?? /^([^:]+):(\d+)$/.exec(target);
  if (!m) throw new Error(`target must be host:port, got "${target}"`);
  return { host: m[1], port: Number(m[2]) };
}

export async function runBulk(opts: LoadOptions): Promise<LoadResult> {
  const { host, port } = splitTarget(opts.target);
  const started = Date.now();
  const deadline = started + opts.durationMs;
  let bytes = 0;
  const errors: Record<string, number> = { connect: 0, read: 0 };
  const firstByteMs: number[] = [];
  const sockets: net.Socket[] = [];
  const progress = opts.onProgress ? setInterval(() => opts.onProgress?.(Date.now() - started), 1000) : undefined;

  await new Promise<void>((resolve) => {
    let open = opts.connections;
    const closed = () => { if (--open === 0) resolve(); };
    for (let i = 0; i < opts.connections; i++) {
      const t0 = Date.now();
      let gotFirst = false;
      let connected = false;
      const s = net.connect({ host, port, noDelay: true });
      sockets.push(s);
      s.on('connect', () => {
        connected = true;
        s.write(`GET ${opts.path} HTTP/1.1\r\nHost: ${opts.target}\r\n\r\n`);
      });
      s.on('data', (b: Buffer) => {
        if (!gotFirst) { gotFirst = true; firstByteMs.push(Date.now() - t0); }
        bytes += b.length;
      });
      s.on('error', () => { errors[connected ? 'read' : 'connect']++; });
      s.on('close', closed);
    }
    setTimeout(() => { for (const s of sockets) s.destroy(); }, Math.max(0, deadline - Date.now())).unref();
  });
  if (progress) clearInterval(progress);
  const seconds = (Date.now() - started) / 1000;
  return {
    mode: 'bulk',
    target: opts.target,
    durationSeconds: seconds,
    connections: opts.connections,
    rate: bytes / 1e6 / seconds,
    unit: 'MB/s',
    requests: opts.connections,
    bytes,
    latencyMs: { p50: percentile(firstByteMs, 50), p90: percentile(firstByteMs, 90), p99: percentile(firstByteMs, 99), max: Math.max(0, ...firstByteMs) },
    errors: errors.connect + errors.read,
    errorDetail: errors,
  };
}
