/**
 * profile-summary.ts: where the CPU time went in a `node --cpu-prof` profile: self time per function,
 * heaviest first, and per source file. For the README's "where the time goes" when a target is missed.
 *
 *   node --import tsx perf/common/profile-summary.ts PROFILE.cpuprofile [--top 20]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export function summarize(profile: Profile, top: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const perFn = new Map<string, number>();
  const perFile = new Map<string, number>();
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    const file = f.url.replace(/^file:\/\/.*?\/(src|modes|perf|node_modules)\//, '$1/') || '(native/runtime)';
    perFn.set(`${f.functionName || '(anonymous)'}  ${file}:${f.lineNumber + 1}`, (perFn.get(`${f.functionName || '(anonymous)'}  ${file}:${f.lineNumber + 1}`) ?? 0) + us);
    perFile.set(file, (perFile.get(file) ?? 0) + us);
  }
  const fmt = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([k, us]) => `  ${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`).join('\n');
  return `sampled ${(total / 1000).toFixed(0)} ms of CPU\nby function (self time):\n${fmt(perFn)}\nby file:\n${fmt(perFile)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: profile-summary.ts PROFILE.cpuprofile [--top N]');
    process.exit(2);
  }
  const i = process.argv.indexOf('--top');
  console.log(summarize(JSON.parse(readFileSync(file, 'utf8')) as Profile, i > 0 ? Number(process.argv[i + 1]) : 20));
}
