/** process-cpu.ts: what the benchmarks read of a process from /proc. */
import { readFileSync } from 'node:fs';

/** user + system CPU seconds a process has used so far (from /proc; 0 when it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the "(comm) " prefix; in clock ticks.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}
