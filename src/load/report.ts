/** report.ts: human-readable load figures. */
import type { LoadResult } from './types.js';

function fmtRate(r: LoadResult): string {
  return r.unit === 'MB/s' ? `${r.rate.toFixed(1)} MB/s` : `${Math.round(r.rate).toLocaleString('en-US')} ${r.unit}`;
}

export function formatLoadResult(r: LoadResult): string {
  const l = r.latencyMs;
  const latencyLabel = r.mode === 'bulk' ? 'time to first byte' : 'latency';
  return [
    `target ${r.target}  mode ${r.mode}  connections ${r.connections}  duration ${r.durationSeconds.toFixed(1)}s`,
    `  ${fmtRate(r)}  (${r.requests.toLocaleString('en-US')} ${r.mode === 'bulk' ? 'connections' : 'requests'}, ${(r.bytes / 1e6).toFixed(1)} MB)`,
    `  ${latencyLabel} p50 ${l.p50.toFixed(2)} ms  p90 ${l.p90.toFixed(2)} ms  p99 ${l.p99.toFixed(2)} ms  max ${l.max.toFixed(2)} ms`,
    `  errors ${r.errors}${r.errors ? ' ' + JSON.stringify(r.errorDetail) : ''}`,
  ].join('\n');
}
