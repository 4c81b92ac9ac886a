/**
 * bulk-client.ts: bulk TCP throughput to one or more targets from ONE process (run inside the client's
 * namespace): src/load's runBulk per target, all started together, connections divided between them, bytes
 * summed. Prints one JSON line { rate (MB/s), bytes, seconds, errors, p50, p99 (time to first byte, ms) }.
 *
 *   node --import tsx perf/load/bulk-client.ts --targets ip:port[,ip:port] --connections 50 --duration 8
 */
import { runBulk } from '../../src/load/bulk.js';
import { numberOption, option, rejectUnknown } from '../common/args.js';

const argv = process.argv.slice(2);
rejectUnknown(argv, { options: ['targets', 'connections', 'duration'] });
const targets = (option(argv, 'targets') ?? '').split(',').filter((t) => t !== '');
if (targets.length === 0) {
  console.error('usage: bulk-client.ts --targets ip:port[,ip:port] [--connections 50] [--duration 8]');
  process.exit(2);
}
const connections = numberOption(argv, 'connections', 50);
const durationMs = numberOption(argv, 'duration', 8) * 1000;
const results = await Promise.all(targets.map((target, i) => runBulk({
  target, mode: 'bulk', durationMs, threads: 1, path: '/bulk',
  connections: Math.max(1, Math.floor(connections / targets.length) + (i < connections % targets.length ? 1 : 0)),
})));
const bytes = results.reduce((a, r) => a + r.bytes, 0);
const seconds = Math.max(...results.map((r) => r.durationSeconds));
const w = (r: (typeof results)[number]) => r.connections / results.reduce((a, x) => a + x.connections, 0);
console.log(JSON.stringify({
  rate: bytes / 1e6 / seconds, bytes, seconds, errors: results.reduce((a, r) => a + r.errors, 0),
  p50: results.reduce((a, r) => a + w(r) * r.latencyMs.p50, 0), p99: results.reduce((a, r) => a + w(r) * r.latencyMs.p99, 0),
}));
