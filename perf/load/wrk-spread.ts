/**
 * wrk-spread.ts: one wrk process in the client's namespace whose threads are spread over several targets
 * (wrk's setup(thread) hook sets each thread's address), so "straight to the pod IPs" is ONE generator with
 * the same threads and connections as the ClusterIP run, started at the same instant, instead of several
 * generators whose start-up skew would count as load. The summary comes out as the same KPXJSON line
 * src/load/wrk.ts uses, parsed by its parseWrkOutput.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DONE_LUA, parseWrkOutput } from '../../src/load/wrk.js';
import type { Sandbox } from '../../src/sandbox/index.js';

export interface WrkFigures {
  readonly requests: number;
  readonly seconds: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function lua(targets: readonly string[]): string {
  const list = targets.map((t) => JSON.stringify(t)).join(', ');
  return `
local targets = { ${list} }
local n = 0
setup = function(thread)
  local t = targets[(n % #targets) + 1]
  n = n + 1
  local host, port = t:match("^(.+):(%d+)$")
  thread.addr = wrk.lookup(host, port)[1]
end
${DONE_LUA}`;
}

export async function runWrkSpread(sb: Sandbox, ns: string, targets: readonly string[], o: { newConn: boolean; threads: number; connections: number; durationS: number }): Promise<WrkFigures> {
  // Every target needs whole threads: round the thread count up to a multiple of the targets.
  const threads = Math.ceil(Math.max(o.threads, targets.length) / targets.length) * targets.length;
  const dir = mkdtempSync(join(tmpdir(), 'kpx-perf-wrk-'));
  try {
    const script = join(dir, 'spread.lua');
    writeFileSync(script, lua(targets));
    const args = ['-t', String(threads), '-c', String(Math.max(o.connections, threads)), '-d', `${o.durationS}s`, '--timeout', '5s', '-s', script];
    if (o.newConn) args.push('-H', 'Connection: close');
    args.push(`http://${targets[0]}/`);
    const res = await sb.exec(ns, 'wrk', args, { timeoutMs: (o.durationS + 60) * 1000 });
    const s = parseWrkOutput(res.stdout);
    return {
      requests: s.requests, seconds: s.duration_us / 1e6, errors: Object.values(s.errors).reduce((a, b) => a + b, 0),
      p50Ms: s.latency_us.p50 / 1000, p99Ms: s.latency_us.p99 / 1000,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
