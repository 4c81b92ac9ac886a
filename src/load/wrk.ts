/**
 * wrk.ts: HTTP load through wrk (Debian's package). wrk is a C event loop that saturates a target with a
 * fraction of a core, where a load generator in Node would compete with kpx and the pods for the same two
 * CPUs and measure itself. A Lua done() hook prints the summary as JSON so nothing is scraped from prose.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../net/exec.js';
import { KpxError } from '../util/errors.js';
import type { LoadOptions, LoadResult } from './types.js';

/** wrk's done() hook printing the summary as one KPXJSON line (parseWrkOutput reads it). */
export const DONE_LUA = `
done = function(summary, latency, requests)
  io.write(string.format('KPXJSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d}}\\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

interface WrkSummary {
  requests: number;
  duration_us: number;
  bytes: number;
  errors: Record<string, number>;
  latency_us: { p50: number; p90: number; p99: number; max: number };
}

/** Parses the JSON line the done() hook writes; exported for tests. */
export function parseWrkOutput(stdout: string): WrkSummary {
  const line = stdout.split('\n').find((l) => l.startsWith('KPXJSON '));
  if (!line) throw new KpxError('KPX_LOAD', `wrk printed no summary: ${stdout.trim().slice(-300)}`);
  return JSON.parse(line.slice('KPXJSON '.length)) as WrkSummary;
}

export function wrkArgs(opts: LoadOptions, scriptPath: string): string[] {
  const seconds = Math.max(1, Math.round(opts.durationMs / 1000));
  const threads = Math.min(opts.threads, opts.connections);
  const args = ['-t', String(threads), '-c', String(opts.connections), '-d', `${seconds}s`, '--timeout', '5s', '-s', scriptPath];
  if (opts.mode === 'new-conn') args.push('-H', 'Connection: close');
  args.push(`http://${opts.target}${opts.path}`);
  return args;
}

export async function runWrk(opts: LoadOptions): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'kpx-wrk-'));
  const script = join(dir, 'done.lua');
  writeFileSync(script, DONE_LUA);
  const started = Date.now();
  const timer = opts.onProgress ? setInterval(() => opts.onProgress?.(Date.now() - started), 1000) : undefined;
  try {
    const res = await exec('wrk', wrkArgs(opts, script), { timeoutMs: opts.durationMs + 30_000 });
    const s = parseWrkOutput(res.stdout);
    const seconds = s.duration_us / 1e6;
    const errors = Object.values(s.errors).reduce((a, b) => a + b, 0);
    return {
      mode: opts.mode,
      target: opts.target,
      durationSeconds: seconds,
      connections: opts.connections,
      rate: s.requests / seconds,
      unit: opts.mode === 'new-conn' ? 'conn/s' : 'req/s',
      requests: s.requests,
      bytes: s.bytes,
      latencyMs: { p50: s.latency_us.p50 / 1000, p90: s.latency_us.p90 / 1000, p99: s.latency_us.p99 / 1000, max: s.latency_us.max / 1000 },
      errors,
      errorDetail: s.errors,
    };
  } finally {
    if (timer) clearInterval(timer);
    rmSync(dir, { recursive: true, force: true });
  }
}
