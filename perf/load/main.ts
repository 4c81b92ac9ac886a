/**
 * perf:load: ClusterIP data-plane cost per mode, as a ratio of the same load sent straight to the pod IPs.
 *
 *   npm run perf:load -- [--modes iptables,userspace,ipvs] [--pods 2] [--connections 50] [--threads 2]
 *                        [--duration 6] [--reps 5] [--kinds keepalive,new-conn,bulk] [--entry dist|source] [--no-vm]
 *                        [--no-results]
 *
 * One sandbox (cluster.ts): N backend pods and a client pod on one node. For each mode kpx runs in the
 * node's namespace on the manifests source; then for each kind of load (keep-alive req/s, new connections/s
 * with Connection: close, bulk TCP MB/s) one short warm-up run of each path, then the direct and the
 * ClusterIP runs alternate (direct first on odd repetitions, ClusterIP first on even ones), conntrack is
 * flushed before each, and the figure is the median of the paired ratios (each ClusterIP run over the
 * direct run next to it).
 *
 * The ipvs mode needs a kernel with IPVS; this machine has none, so (unless --no-vm) the same benchmark runs
 * inside the IPVS test VM (test/support/vm: Debian's kernel under QEMU with TCG emulation): its
 * absolute figures are those of an emulated CPU and only its ratios mean anything.
 *
 * Writes perf/results/load-<timestamp>.{json,md} and load-latest.json (not with --no-results: experiments
 * leave the record alone). Never fails on a slow figure.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, join } from 'node:path';
import type { LoadMode } from '../../src/load/types.js';
import { PROXY_MODES, type ProxyMode } from '../../src/backend.js';
import { exec } from '../../src/net/exec.js';
import { isAnswer, request, startKpx, type KpxEntry } from '../../src/sandbox/index.js';
import { packageRoot } from '../../src/sandbox/scripts.js';
import { flag, numberOption, option, rejectUnknown } from '../common/args.js';
import { describeMachine, machineLine, type MachineInfo } from '../common/machine.js';
import { cpuSeconds } from '../common/process-cpu.js';
import { markdownTable, textTable, writeResults } from '../common/results.js';
import { BULK, WEB, buildLoadCluster, type LoadCluster } from './cluster.js';
import { measure, type Measurement } from './measure.js';

// ipvs last: it runs in a VM, after the modes measured on this kernel.
const ALL_MODES: readonly ProxyMode[] = [...PROXY_MODES.filter((m) => m !== 'ipvs'), 'ipvs'];
const ALL_KINDS: readonly LoadMode[] = ['keepalive', 'new-conn', 'bulk'];
const WARMUP_S = 3;

export interface LoadEntry {
  readonly mode: ProxyMode;
  readonly kind: LoadMode;
  readonly unit: string;
  /** Rates: the median run of the repetitions. */
  readonly clusterIp: number;
  readonly direct: number;
  /** Median of the paired ratios (each ClusterIP run / the direct run next to it). */
  readonly ratio: number;
  readonly pairRatios: readonly number[];
  readonly clusterIpP50Ms: number;
  readonly directP50Ms: number;
  readonly clusterIpP99Ms: number;
  readonly directP99Ms: number;
  readonly errors: { readonly clusterIp: number; readonly direct: number };
  /** Where it ran: this machine, or the IPVS VM under TCG emulation. */
  readonly environment: string;
  /** kpx's CPU during the busiest ClusterIP run, in % of one core (the userspace proxy carries the bytes). */
  readonly kpxCpuPercent: number;
  readonly samples: { readonly clusterIp: readonly number[]; readonly direct: readonly number[] };
}

interface Options {
  modes: ProxyMode[];
  kinds: LoadMode[];
  pods: number;
  connections: number;
  threads: number;
  durationS: number;
  reps: number;
  entry: KpxEntry;
  noVm: boolean;
}

const say = (m: string) => process.stderr.write(`[perf:load ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

function parseOptions(argv: readonly string[]): Options {
  rejectUnknown(argv, {
    options: ['modes', 'kinds', 'pods', 'connections', 'threads', 'duration', 'reps', 'entry', 'out'],
    flags: ['no-vm', 'no-results', 'vm-child'],
  });
  const list = <T extends string>(name: string, all: readonly T[]): T[] => {
    const v = option(argv, name);
    if (v === undefined) return [...all];
    const out = v.split(',').map((s) => s.trim()) as T[];
    for (const x of out) if (!all.includes(x)) throw new Error(`--${name}: unknown "${x}" (one of ${all.join(', ')})`);
    return out;
  };
  const entry = (option(argv, 'entry') ?? (existsSync(join(packageRoot(), 'dist', 'src', 'cli', 'main.js')) ? 'dist' : 'source')) as KpxEntry;
  if (entry !== 'dist' && entry !== 'source') throw new Error(`--entry must be dist or source`);
  return {
    modes: list('modes', ALL_MODES), kinds: list('kinds', ALL_KINDS),
    pods: numberOption(argv, 'pods', 2), connections: numberOption(argv, 'connections', 50), threads: numberOption(argv, 'threads', 2),
    durationS: numberOption(argv, 'duration', 6), reps: numberOption(argv, 'reps', 5), entry, noVm: flag(argv, 'no-vm'),
  };
}

/** Conntrack entries left by the previous run would tax the next one: start every run from an empty table. */
async function flushConntrack(lc: LoadCluster): Promise<void> {
  await lc.sb.exec(lc.sb.node('node1').ns, 'conntrack', ['-F'], { okCodes: [0, 1] }).catch(() => undefined);
}

async function measureMode(lc: LoadCluster, mode: ProxyMode, o: Options, environment: string): Promise<LoadEntry[]> {
  say(`${mode}: starting kpx`);
  const kpx = await startKpx(lc.sb, 'node1', { manifestsDir: lc.manifests.dir, mode, entry: o.entry, startTimeoutMs: 180_000 });
  const out: LoadEntry[] = [];
  try {
    // The ClusterIP must answer before anything is measured: a broken path would read as a ratio of 0.
    // Entries the previous mode left in conntrack (its DNATs) must not steer the new mode's first packets.
    await flushConntrack(lc);
    let ok = false;
    let lastFailure = '';
    for (let i = 0; i < 20 && !ok; i++) {
      const r = await request(lc.client.ns, WEB.clusterIP, 80, 'tcp', { timeoutMs: 5000 });
      ok = isAnswer(r);
      if (!ok) {
        lastFailure = JSON.stringify(r);
        await new Promise((res) => setTimeout(res, 500));
      }
    }
    if (!ok) {
      const direct = await request(lc.client.ns, lc.backends[0].ip, 8080, 'tcp', { timeoutMs: 5000 });
      throw new Error(`the ClusterIP ${WEB.clusterIP}:80 does not answer from the client pod in ${mode} mode (last: ${lastFailure}; ` +
        `pod ${lc.backends[0].ip}:8080 directly: ${isAnswer(direct) ? 'answers' : JSON.stringify(direct)})\n--- kpx output ---\n${kpx.proc.outputTail()}`);
    }
    for (const kind of o.kinds) {
      const [svc, podPort] = kind === 'bulk' ? [BULK, 9000] : [WEB, 8080];
      const clusterTarget = [`${svc.clusterIP}:${svc.ports[0].port}`];
      const directTargets = lc.backends.map((p) => `${p.ip}:${podPort}`);
      const runs = { clusterIp: [] as Measurement[], direct: [] as Measurement[] };
      // kpx's own CPU (user+system seconds) during each run: ~0 when the kernel carries the traffic.
      const kpxCpu = { clusterIp: [] as number[], direct: [] as number[] };
      // The pod servers, wrk and (userspace mode) kpx itself get faster once the JIT has compiled their hot
      // paths: one short unrecorded run on each path first, so the first pair does not compare a cold path
      // with a warm one (the first direct run was ~10% slower than the rest).
      for (const targets of [directTargets, clusterTarget]) {
        await measure({ sb: lc.sb, clientNs: lc.client.ns, kind, durationS: WARMUP_S, connections: o.connections, threads: o.threads }, targets);
      }
      for (let rep = 0; rep < o.reps; rep++) {
        const order: ('direct' | 'clusterIp')[] = rep % 2 === 0 ? ['direct', 'clusterIp'] : ['clusterIp', 'direct'];
        for (const path of order) {
          await flushConntrack(lc);
          const cpu0 = cpuSeconds(kpx.proc.pid);
          const m = await measure({ sb: lc.sb, clientNs: lc.client.ns, kind, durationS: o.durationS, connections: o.connections, threads: o.threads },
            path === 'direct' ? directTargets : clusterTarget);
          runs[path].push(m);
          kpxCpu[path].push(cpuSeconds(kpx.proc.pid) - cpu0);
          say(`${mode} ${kind} ${path}: ${fmtRate(m.rate, m.unit)}, p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms${m.errors ? `, ${m.errors} errors` : ''}`);
        }
      }
      // Other work on a shared machine comes and goes within seconds: each ClusterIP run is compared with the
      // direct run right next to it, and the median of those paired ratios is the figure (rates and latencies
      // shown are those of the median runs).
      const pairRatios = runs.clusterIp.map((m, i) => (runs.direct[i].rate > 0 ? m.rate / runs.direct[i].rate : 0));
      const c = medianRun(runs.clusterIp);
      const d = medianRun(runs.direct);
      out.push({
        mode, kind, unit: c.unit, clusterIp: c.rate, direct: d.rate, ratio: median(pairRatios), pairRatios,
        clusterIpP50Ms: c.p50, directP50Ms: d.p50, clusterIpP99Ms: c.p99, directP99Ms: d.p99,
        errors: { clusterIp: runs.clusterIp.reduce((a, m) => a + m.errors, 0), direct: runs.direct.reduce((a, m) => a + m.errors, 0) },
        environment,
        kpxCpuPercent: Math.max(...kpxCpu.clusterIp.map((c) => (100 * c) / o.durationS)),
        samples: { clusterIp: runs.clusterIp.map((m) => m.rate), direct: runs.direct.map((m) => m.rate) },
      });
    }
  } finally {
    await kpx.stop();
  }
  return out;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The run with the median rate (the lower middle one for an even count). */
function medianRun(ms: readonly Measurement[]): Measurement {
  const s = [...ms].sort((a, b) => a.rate - b.rate);
  return s[Math.floor((s.length - 1) / 2)];
}

function fmtRate(x: number, unit: string): string {
  return unit === 'MB/s' ? `${x.toFixed(1)} MB/s` : `${Math.round(x).toLocaleString('en-US')} ${unit}`;
}

/** Runs modes on this machine in one sandbox; a mode that fails is reported, the others still run. */
async function runHere(o: Options, modes: readonly ProxyMode[], environment: string): Promise<{ entries: LoadEntry[]; skipped: string[] }> {
  const entries: LoadEntry[] = [];
  const skipped: string[] = [];
  if (modes.length === 0) return { entries, skipped };
  say(`building the sandbox: ${o.pods} backend pods and a client pod`);
  const lc = await buildLoadCluster(o.pods);
  try {
    for (const mode of modes) {
      // One retry with a fresh kpx: on a busy shared machine a start can stall; a second failure is reported.
      for (let attempt = 1; attempt <= 2; attempt++) {
        try {
          entries.push(...await measureMode(lc, mode, o, environment));
          break;
        } catch (err) {
          say(`${mode} failed (attempt ${attempt}): ${(err as Error).message}`);
          if (attempt === 2) skipped.push(`${mode}: failed: ${(err as Error).message.split('\n')[0]}`);
        }
      }
    }
  } finally {
    await lc.sb.destroy();
  }
  return { entries, skipped };
}

/** wrk and the libraries it needs, staged in the repository (shared with the VM over 9p): the VM has no wrk. */
function stageWrkForVm(dir: string): Promise<void> {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'lib'), { recursive: true });
  copyFileSync('/usr/bin/wrk', join(dir, 'bin', 'wrk'));
  return exec('ldd', ['/usr/bin/wrk']).then((r) => {
    for (const m of r.stdout.matchAll(/=>\s+(\/\S+)/g)) copyFileSync(m[1], join(dir, 'lib', basename(m[1])));
  });
}

async function runInIpvsVm(o: Options): Promise<{ entries: LoadEntry[]; skipped: string[] }> {
  const { runInVm, REPO } = await import('../../test/support/vm/run-vm.js');
  const stage = join(REPO, '.cache', 'perf-vm');
  await stageWrkForVm(stage);
  const out = join(stage, `ipvs-${randomBytes(4).toString('hex')}.json`);
  const args = ['--vm-child', '--out', out.slice(REPO.length + 1), '--modes', 'ipvs', '--kinds', o.kinds.join(','), '--pods', String(o.pods),
    // Under TCG emulation the figures are only ratios inside the VM: 2 short pairs say as much as 5 long ones,
    // and keep the whole default run under 15 minutes.
    '--connections', String(o.connections), '--threads', String(o.threads), '--duration', String(Math.min(o.durationS, 4)), '--reps', String(Math.min(o.reps, 2)), '--entry', o.entry];
  say('ipvs: this kernel has no IPVS; running the ipvs mode inside the IPVS VM (QEMU, TCG emulation)');
  const script = [
    'export PATH=/host/.cache/perf-vm/bin:$PATH LD_LIBRARY_PATH=/host/.cache/perf-vm/lib',
    `cd /host && node --import tsx perf/load/main.ts ${args.join(' ')}`,
  ].join('\n');
  try {
    const r = await runInVm(script, { timeoutMs: 40 * 60_000, memoryMb: 2048 });
    if (!existsSync(out)) {
      return { entries: [], skipped: [`ipvs: the VM run produced no result (exit ${r.exitCode}): ${r.output.split('\n').filter((l) => /perf:load|Error|error/.test(l)).slice(-6).join(' | ')}`] };
    }
    const res = JSON.parse(readFileSync(out, 'utf8')) as { entries: LoadEntry[]; skipped: string[] };
    return res;
  } finally {
    rmSync(out, { force: true });
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const o = parseOptions(argv);
  if (flag(argv, 'vm-child')) {
    // Inside the IPVS VM: measure, hand the figures to the outer run through the shared directory.
    const outPath = option(argv, 'out');
    if (!outPath) throw new Error('--vm-child needs --out');
    const res = await runHere(o, o.modes, 'IPVS VM: QEMU with TCG emulation (only the ratios are meaningful)');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(outPath, JSON.stringify(res));
    return;
  }
  const started = new Date();
  const machine = await describeMachine();
  say(machineLine(machine));
  const ipvsHere = existsSync('/proc/net/ip_vs');
  const local = o.modes.filter((m) => m !== 'ipvs' || ipvsHere);
  const { entries, skipped } = await runHere(o, local, 'this machine');
  if (o.modes.includes('ipvs') && !ipvsHere) {
    if (o.noVm) skipped.push('ipvs: skipped: this kernel has no IPVS (CONFIG_IP_VS unset) and --no-vm was given');
    else {
      try {
        const vm = await runInIpvsVm(o);
        entries.push(...vm.entries);
        skipped.push(...vm.skipped);
      } catch (err) {
        skipped.push(`ipvs: skipped: the IPVS VM could not run: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  }
  report(o, argv, started, machine, entries, skipped);
}

function report(o: Options, argv: readonly string[], started: Date, machine: MachineInfo, entries: LoadEntry[], skipped: string[]): void {
  const command = `npm run perf:load -- ${argv.join(' ')}`.trim();
  const header = ['mode', 'load', 'ClusterIP', 'direct', 'ratio', 'p50 ClusterIP / direct', 'p99 ClusterIP / direct', 'kpx CPU', 'where'];
  const rows = entries.map((e) => [
    e.mode, e.kind, fmtRate(e.clusterIp, e.unit), fmtRate(e.direct, e.unit), `${(100 * e.ratio).toFixed(1)}%`,
    `${e.clusterIpP50Ms.toFixed(2)} / ${e.directP50Ms.toFixed(2)} ms`, `${e.clusterIpP99Ms.toFixed(2)} / ${e.directP99Ms.toFixed(2)} ms`,
    `${(e.kpxCpuPercent ?? 0).toFixed(0)}%`, e.environment === 'this machine' ? 'here' : 'VM (TCG)',
  ]);
  const targets = evaluateTargets(entries);
  const setup = `${o.pods} backend pods, ${o.connections} connections (${o.threads} wrk threads), ${o.durationS} s per run, ${o.reps} alternated direct/ClusterIP pairs after a ${WARMUP_S} s warm-up run of each, ratio = median of the paired ratios; generators: wrk (HTTP; threads spread over the targets) and src/load's Node bulk reader (bulk), both run in the client pod; kpx entry ${o.entry}`;
  console.log(`\nkpx perf:load  (${command})\n${machineLine(machine)}\n${setup}\n`);
  console.log(textTable(header, rows));
  console.log('\ntargets');
  for (const t of targets) console.log(`  ${t.met === null ? 'n/a ' : t.met ? 'MET ' : 'MISS'} ${t.name}: ${t.detail}`);
  for (const s of skipped) console.log(`  ${s}`);
  const md = [
    `# perf:load, ${started.toISOString()}`, '', `Command: \`${command}\`  `, `Machine: ${machineLine(machine)}  `, `Set-up: ${setup}`, '',
    markdownTable(header, rows), '', '## Targets', '',
    ...targets.map((t) => `- ${t.met === null ? 'n/a' : t.met ? 'met' : '**missed**'}: ${t.name}: ${t.detail}`), '',
    ...(skipped.length ? ['## Skipped or failed', '', ...skipped.map((s) => `- ${s}`), ''] : []),
  ].join('\n');
  if (flag(argv, 'no-results')) return;
  const files = writeResults('load', { kind: 'load', startedAt: started.toISOString(), command, machine, setup, entries, targets, skipped }, md, started);
  console.log(`wrote ${files.join(', ')}`);
}

interface TargetCheck { name: string; met: boolean | null; detail: string }

function evaluateTargets(entries: readonly LoadEntry[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  const check = (mode: ProxyMode, kind: LoadMode, min: number) => {
    const e = entries.find((x) => x.mode === mode && x.kind === kind);
    const name = `${mode} ${kind} ≥ ${min * 100}% of direct`;
    out.push(e ? { name, met: e.ratio >= min, detail: `${(100 * e.ratio).toFixed(1)}%${e.environment === 'this machine' ? '' : ' (in the VM, TCG)'}` } : { name, met: null, detail: 'not measured' });
  };
  for (const m of ['iptables', 'ipvs'] as const) { check(m, 'keepalive', 0.97); check(m, 'new-conn', 0.97); }
  check('userspace', 'keepalive', 0.6);
  return out;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
