/**
 * kpx-memory.ts: where kpx's memory goes with N services loaded: runs kpx (as perf:sync does), reads its
 * RSS, takes a V8 heap snapshot of it (SIGUSR2 with --heapsnapshot-signal) and prints what fills the heap.
 *
 *   node --import tsx perf/sync/kpx-memory.ts [--services 10000] [--endpoints 2] [--entry dist|source]
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KpxEntry } from '../../src/sandbox/index.js';
import { numberOption, option, rejectUnknown } from '../common/args.js';
import { summarizeHeap } from '../common/heap-summary.js';
import { measureKpxProcess } from './kpx-process.js';

const argv = process.argv.slice(2);
rejectUnknown(argv, { options: ['services', 'endpoints', 'entry'] });
const services = numberOption(argv, 'services', 10_000);
const endpoints = numberOption(argv, 'endpoints', 2);
const entry = (option(argv, 'entry') ?? 'dist') as KpxEntry;
const dir = mkdtempSync(join(tmpdir(), 'kpx-perf-heap-'));
try {
  let summary = '';
  const fig = await measureKpxProcess(services, endpoints, entry, (m) => console.error(m), {
    nodeOptions: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`,
    async onSettled(pid) {
      process.kill(pid, 'SIGUSR2');
      // The snapshot is written by the process itself; wait until its size stops growing.
      let last = -1;
      for (let i = 0; i < 240; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        const f = readdirSync(dir).find((n) => n.endsWith('.heapsnapshot'));
        if (!f) continue;
        const size = statSync(join(dir, f)).size;
        if (size > 0 && size === last) {
          const snap = JSON.parse(readFileSync(join(dir, f), 'utf8'));
          summary = `${summarizeHeap(snap, 12)}\n\nflat strings by their first characters:\n${summarizeHeap(snap, 400, true).split('\n').filter((l) => l.includes(' string "')).slice(0, 15).join('\n')}`;
          return;
        }
        last = size;
      }
      summary = 'no heap snapshot appeared within 4 minutes';
    },
  });
  console.log(`kpx (${entry}) with ${services} services × ${endpoints} endpoints: RSS ${(fig.rssBytes / 2 ** 20).toFixed(0)} MiB`);
  console.log(summary);
} finally {
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}
