/**
 * load-command.ts: `kpx load --target <ip:port> [--duration 30s] [--connections 50] [--threads 2]
 * [--mode keepalive|new-conn|bulk] [--path /] [--json]`. Sends load to any address (on a cluster: a ClusterIP,
 * from inside a pod) and prints the rate, latency percentiles and errors.
 */
import { parseArgs } from 'node:util';
import { parseDuration } from '../config/duration.js';
import { splitTarget } from '../load/bulk.js';
import { formatLoadResult } from '../load/report.js';
import { runLoad as generate } from '../load/run-load.js';
import type { LoadMode } from '../load/types.js';
import { errorMessage } from '../util/errors.js';

const USAGE = `usage: kpx load --target <ip:port> [--duration 30s] [--connections 50] [--threads 2]
                [--mode keepalive|new-conn|bulk] [--path /] [--json]
  keepalive  HTTP requests/s over persistent connections (wrk)
  new-conn   new connections/s: one request per connection, Connection: close (wrk)
  bulk       MB/s read from streaming TCP connections (one GET sent on each)`;

const MODES: readonly LoadMode[] = ['keepalive', 'new-conn', 'bulk'];

function fail(msg: string): number {
  process.stderr.write(`kpx load: ${msg}\n${USAGE}\n`);
  return 2;
}

export async function runLoad(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        target: { type: 'string' }, duration: { type: 'string', default: '30s' },
        connections: { type: 'string', default: '50' }, threads: { type: 'string', default: '2' },
        mode: { type: 'string', default: 'keepalive' }, path: { type: 'string' },
        json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    return fail(errorMessage(err));
  }
  if (values.help) { process.stdout.write(USAGE + '\n'); return 0; }
  if (!values.target) return fail('--target is required');
  try { splitTarget(values.target); } catch (err) { return fail(errorMessage(err)); }
  const mode = values.mode as LoadMode;
  if (!MODES.includes(mode)) return fail(`invalid --mode "${values.mode}": one of ${MODES.join(', ')}`);
  let durationMs: number;
  try { durationMs = parseDuration(values.duration); } catch (err) { return fail(`invalid --duration: ${errorMessage(err)}`); }
  if (durationMs < 1000) return fail('--duration must be at least 1s');
  const connections = Number(values.connections);
  const threads = Number(values.threads);
  if (!Number.isInteger(connections) || connections < 1) return fail(`invalid --connections "${values.connections}"`);
  if (!Number.isInteger(threads) || threads < 1) return fail(`invalid --threads "${values.threads}"`);

  const live = !values.json && process.stderr.isTTY;
  try {
    const result = await generate({
      target: values.target, mode, durationMs, connections, threads,
      path: values.path ?? (mode === 'bulk' ? '/bulk' : '/'),
      onProgress: (ms) => {
        const line = `  ${mode} → ${values.target}: ${(ms / 1000).toFixed(0)}s / ${(durationMs / 1000).toFixed(0)}s`;
        if (live) process.stderr.write(`\r${line}`);
        else if (!values.json) process.stderr.write(line + '\n');
      },
    });
    if (live) process.stderr.write('\n');
    process.stdout.write((values.json ? JSON.stringify(result) : formatLoadResult(result)) + '\n');
    return 0;
  } catch (err) {
    process.stderr.write(`kpx load: ${errorMessage(err)}\n`);
    return 1;
  }
}
