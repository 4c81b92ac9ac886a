/**
 * profile-system.ts: where the machine's CPU goes per request, direct and through the ClusterIP, for one
 * mode: kpx, the pod servers and wrk, each split into user space and the system calls their kernel time
 * was spent in (cpu-split.ts). It records the whole machine with `perf record -a -g` (Debian's linux-perf;
 * software clock, which works in VMs without hardware counters) during one run of each path after a
 * warm-up, and reads kpx's own CPU from /proc. This is what shows that the userspace proxy's cost is the
 * kernel's cost of two more TCP messages per request, not JavaScript.
 *
 *   node --import tsx perf/load/profile-system.ts [--mode userspace] [--kind keepalive|new-conn] [--duration 6]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadMode } from '../../src/load/types.js';
import type { ProxyMode } from '../../src/backend.js';
import { exec } from '../../src/net/exec.js';
import { startKpx } from '../../src/sandbox/index.js';
import { numberOption, option, rejectUnknown } from '../common/args.js';
import { cpuSeconds } from '../common/process-cpu.js';
import { textTable } from '../common/results.js';
import { BULK, BULK_POD_PORT, WEB, WEB_POD_PORT, buildLoadCluster } from './cluster.js';
import { KINDS, parsePerfScript, split, type RoleSplit } from './cpu-split.js';
import { measure } from './measure.js';

const argv = process.argv.slice(2);
rejectUnknown(argv, { options: ['mode', 'kind', 'duration'] });
const mode = (option(argv, 'mode') ?? 'userspace') as ProxyMode;
const kind = (option(argv, 'kind') ?? 'keepalive') as LoadMode;
const durationS = numberOption(argv, 'duration', 6);
const CONNECTIONS = 50;
const THREADS = 2;
const SAMPLE_HZ = 999;

try {
  await exec('perf', ['--version']);
} catch {
  console.error('profile-system needs perf (apt-get install linux-perf)');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'kpx-perf-system-'));
const lc = await buildLoadCluster(2);
try {
  const kpx = await startKpx(lc.sb, 'node1', { manifestsDir: lc.manifests.dir, mode, entry: 'dist' });
  const [svc, podPort] = kind === 'bulk' ? [BULK, BULK_POD_PORT] : [WEB, WEB_POD_PORT];
  const paths = { direct: lc.backends.map((p) => `${p.ip}:${podPort}`), clusterIp: [`${svc.clusterIP}:${svc.ports[0].port}`] };
  const run = (targets: readonly string[], seconds: number) => measure({ sb: lc.sb, clientNs: lc.client.ns, kind, durationS: seconds, connections: CONNECTIONS, threads: THREADS }, targets);
  for (const targets of Object.values(paths)) await run(targets, 3); // warm the JIT of pods, wrk and kpx
  const podPids = new Set(findPids('pod-server.mjs'));
  const roleOf = (pid: number, comm: string) => (pid === kpx.proc.pid ? 'kpx' : podPids.has(pid) ? 'pod servers' : comm === 'wrk' ? 'wrk' : comm === 'swapper' ? 'idle' : 'other');
  for (const [path, targets] of Object.entries(paths)) {
    const data = join(dir, `${path}.data`);
    const recorder = spawn('perf', ['record', '-a', '-g', '-F', String(SAMPLE_HZ), '-o', data], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 500));
    const cpu0 = cpuSeconds(kpx.proc.pid);
    const m = await run(targets, durationS);
    const kpxCpu = cpuSeconds(kpx.proc.pid) - cpu0;
    recorder.kill('SIGINT');
    await new Promise((r) => recorder.once('exit', r));
    const script = await exec('perf', ['script', '-i', data, '-F', 'comm,pid,tid,ip,sym']);
    const samples = parsePerfScript(script.stdout);
    const roles = split(samples, roleOf);
    // Each CPU is sampled SAMPLE_HZ times a second, so a share of the samples is that many CPU-seconds,
    // whatever the CPU count and however long perf recorded around the run.
    const perRequestUs = (share: number) => ((share * samples.length) / SAMPLE_HZ) * 1e6 / (m.rate * durationS);
    console.log(`\n${mode} ${kind} ${path}: ${m.rate.toFixed(0)} ${m.unit}; kpx's own CPU ${((kpxCpu * 1e6) / (m.rate * durationS)).toFixed(1)} µs per ${m.unit.split('/')[0]}`);
    console.log(table(roles, perRequestUs));
  }
  await kpx.stop();
} finally {
  await lc.sb.destroy();
  rmSync(dir, { recursive: true, force: true });
}

/** One row per role: its share of the machine and its CPU µs per request, split by kind of work. */
function table(roles: readonly RoleSplit[], perRequestUs: (share: number) => number): string {
  const head = ['role', 'CPU', 'µs/req', ...KINDS.map((k) => `${k} µs`)];
  const rows = roles.filter((r) => r.total >= 0.005).map((r) => [r.role, `${(100 * r.total).toFixed(1)}%`, perRequestUs(r.total).toFixed(1), ...KINDS.map((k) => perRequestUs(r.byKind[k]).toFixed(1))]);
  return textTable(head, rows);
}

/** Pids whose command line mentions `needle` (the pod servers, started by the sandbox). */
function findPids(needle: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}
