/**
 * measure.ts: one load measurement from the client pod, the same generator for both paths:
 * - keep-alive and new connections: wrk, run directly in the client's namespace, its threads spread over
 *   the targets (wrk-spread.ts);
 * - bulk: src/load's Node bulk reader (runBulk) in one process in the client's namespace (bulk-client.ts).
 * "Direct" gives the generator every backend pod IP (connections divided evenly); "ClusterIP" gives it
 * the service address, which spreads the same connections over the same pods.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadMode } from '../../src/load/types.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { nodeBinary } from '../../src/sandbox/scripts.js';
import { runWrkSpread } from './wrk-spread.js';

export interface Measurement {
  readonly rate: number;
  readonly unit: 'req/s' | 'conn/s' | 'MB/s';
  /** ms: request latency, or time to first byte for bulk. */
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
}

export interface MeasureOptions {
  readonly sb: Sandbox;
  readonly clientNs: string;
  readonly kind: LoadMode;
  readonly durationS: number;
  readonly connections: number;
  readonly threads: number;
}

const BULK_CLIENT = join(dirname(fileURLToPath(import.meta.url)), 'bulk-client.ts');

export async function measure(o: MeasureOptions, targets: readonly string[]): Promise<Measurement> {
  if (o.kind === 'bulk') {
    const res = await o.sb.exec(o.clientNs, nodeBinary(), ['--import', 'tsx', BULK_CLIENT, '--targets', targets.join(','),
      '--connections', String(o.connections), '--duration', String(o.durationS)], { timeoutMs: (o.durationS + 120) * 1000 });
    const line = res.stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
    if (!line) throw new Error(`bulk-client printed no result: ${res.stdout.slice(-300)} ${res.stderr.slice(-300)}`);
    const r = JSON.parse(line) as { rate: number; errors: number; p50: number; p99: number };
    return { rate: r.rate, unit: 'MB/s', p50: r.p50, p99: r.p99, errors: r.errors };
  }
  const w = await runWrkSpread(o.sb, o.clientNs, targets, { newConn: o.kind === 'new-conn', threads: o.threads, connections: o.connections, durationS: o.durationS });
  return { rate: w.requests / w.seconds, unit: o.kind === 'new-conn' ? 'conn/s' : 'req/s', p50: w.p50Ms, p99: w.p99Ms, errors: w.errors };
}
