/**
 * memory.ts: heap and RSS figures. A forced GC before reading makes heapUsed mean "what is retained", not
 * "what happened to be garbage at that moment"; the npm script runs without --expose-gc, so the flag is
 * switched on at run time.
 */
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gcFn = runInNewContext('gc') as () => void;

export function collect(): void {
  gcFn();
  gcFn();
}

export function memoryNow(): { heapUsed: number; rss: number } {
  collect();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss };
}

/** A process's resident set (bytes) from /proc, or undefined when it is gone. */
export function rssOf(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
