/**
 * perf:sync: control-plane cost of kpx at scale, with the kernel's own limit measured beside it.
 *
 *   npm run perf:sync -- [--services 1000,5000,10000,30000] [--endpoints 2,10] [--runs N]
 *                        [--kernel-max-endpoints 60000] [--noflush-max-endpoints 10000]
 *                        [--process-max-endpoints 60000] [--entry dist|source] [--no-kernel] [--no-process] [--no-results]
 *
 * For every size (services × endpoints per service):
 * - each mode's pure part (pure.ts): render/plan time and the heap it retains;
 * - the iptables mode in a namespace (iptables-kernel.ts): first and steady full sync, one-endpoint change,
 *   one-service add, and the bare whole-table restore (plus --noflush where affordable) in the same run;
 * - kpx itself (kpx-process.ts) holding that cluster: RSS, start → first sync, one endpoint end to end.
 * Then the scaling ratios of the pure parts (scaling.ts: partial vs full state build, model linearity,
 * cached vs cold render).
 * The kernel and process parts are capped by total endpoints (services × endpoints) so the default sizes
 * finish in about 15 minutes on a 2-vCPU machine; what is capped is listed as skipped, with the reason.
 * Writes perf/results/sync-<timestamp>.{json,md} and sync-latest.json. Never fails on a slow figure.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/sandbox/scripts.js';
import type { KpxEntry } from '../../src/sandbox/index.js';
import { setVerbosity } from '../../src/util/log.js';
import { flag, numberList, numberOption, option, rejectUnknown } from '../common/args.js';
import { describeMachine, machineLine } from '../common/machine.js';
import { markdownTable, textTable, writeResults } from '../common/results.js';
import { syntheticCluster } from './cluster.js';
import { measureIptablesKernel, type KernelFigures } from './iptables-kernel.js';
import { measureKpxProcess, type KpxProcessFigures } from './kpx-process.js';
import { buildState, measureModel, measurePure, type PureFigures } from './pure.js';
import { measureScaling, scalingLines } from './scaling.js';

const MODES = ['iptables', 'ipvs', 'userspace'] as const;
type Mode = (typeof MODES)[number];

export interface SyncEntry {
  readonly mode: Mode;
  readonly services: number;
  readonly endpoints: number;
  /** Pure render/plan of the full state (best of the runs). */
  readonly renderMs: number;
  /** Heap the rendered output retains. */
  readonly renderHeapBytes: number;
  /** Model build (API objects → ProxyState), shared by every mode. */
  readonly modelMs: number;
  readonly modelHeapBytes: number;
  /** iptables only (null when not measured): see iptables-kernel.ts. */
  readonly fullSyncMs: number | null;
  readonly fullSyncFirstMs: number | null;
  readonly bareRestoreMs: number | null;
  readonly bareNoflushMs: number | null;
  /** The same whole-table restore over the rules already loaded (the limit of a steady-state full sync). */
  readonly bareReloadMs: number | null;
  readonly oneEndpointMs: number | null;
  readonly oneServiceMs: number | null;
  /** The sync period's sync with nothing changed (the drift check), after a foreign commit, and a flushed nat's repair. */
  readonly periodicMs: number | null;
  readonly periodicForeignMs: number | null;
  readonly repairMs: number | null;
  /** kpx's own process, state loaded (iptables mode), or null when not measured. */
  readonly rssBytes: number | null;
  readonly detail: Record<string, unknown>;
}

const argv = process.argv.slice(2);
rejectUnknown(argv, {
  options: ['services', 'endpoints', 'runs', 'kernel-max-endpoints', 'noflush-max-endpoints', 'process-max-endpoints', 'entry'],
  flags: ['no-kernel', 'no-process', 'no-results'],
});
const SIZES = numberList(argv, 'services', [1000, 5000, 10000, 30000]);
const ENDPOINTS = numberList(argv, 'endpoints', [2, 10]);
const RUNS = option(argv, 'runs') === undefined ? undefined : numberOption(argv, 'runs', 1);
const KERNEL_MAX = numberOption(argv, 'kernel-max-endpoints', 60_000);
const NOFLUSH_MAX = numberOption(argv, 'noflush-max-endpoints', 10_000);
const PROCESS_MAX = numberOption(argv, 'process-max-endpoints', 60_000);
const NO_KERNEL = flag(argv, 'no-kernel');
const NO_PROCESS = flag(argv, 'no-process');
const ENTRY: KpxEntry = (option(argv, 'entry') as KpxEntry | undefined)
  ?? (existsSync(join(packageRoot(), 'dist', 'src', 'cli', 'main.js')) ? 'dist' : 'source');
const NODE = { name: 'node1', ip: '10.10.0.1' };

const fmtMs = (x: number | null | undefined) => (x === null || x === undefined ? '-' : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${x.toFixed(0)} ms`);
const fmtMB = (x: number | null | undefined) => (x === null || x === undefined ? '-' : `${(x / 2 ** 20).toFixed(0)} MiB`);
const log = (m: string) => process.stderr.write(`[perf:sync ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

async function main(): Promise<void> {
  if (!['dist', 'source'].includes(ENTRY)) throw new Error(`--entry must be dist or source, got ${ENTRY}`);
  setVerbosity(0);
  const started = new Date();
  const machine = await describeMachine();
  const entries: SyncEntry[] = [];
  const skipped: string[] = [];
  const t0 = performance.now();
  log(machineLine(machine));

  for (const endpoints of ENDPOINTS) {
    for (const services of SIZES) {
      const total = services * endpoints;
      const runs = RUNS ?? (total <= 10_000 ? 2 : 1);
      log(`${services} services × ${endpoints} endpoints`);
      let cluster: ReturnType<typeof syntheticCluster> | undefined = syntheticCluster(services, endpoints, NODE.name, NODE.ip);
      const model = measureModel(cluster, NODE.name, NODE.ip, 3);
      const state = buildState(cluster, NODE.name, NODE.ip);
      const pure = new Map<Mode, PureFigures>(MODES.map((m) => [m, measurePure(m, state, 3)]));
      log(`  model ${fmtMs(model.renderMs)}; ${MODES.map((m) => `${m} ${fmtMs(pure.get(m)!.renderMs)} (${pure.get(m)!.outputSize})`).join('; ')}`);

      let kernel: KernelFigures | undefined;
      if (NO_KERNEL) skipped.push(`${services}×${endpoints}: iptables kernel part (--no-kernel)`);
      else if (total > KERNEL_MAX) skipped.push(`${services}×${endpoints}: iptables kernel part (${total} endpoints > --kernel-max-endpoints ${KERNEL_MAX}: a full sync alone would take minutes here)`);
      else {
        const noflush = total <= NOFLUSH_MAX;
        if (!noflush) skipped.push(`${services}×${endpoints}: bare --noflush restore (${total} endpoints > --noflush-max-endpoints ${NOFLUSH_MAX}: it grows quadratically, ~32 s at 10k×2)`);
        kernel = await measureIptablesKernel(cluster, { services, endpoints, nodeName: NODE.name, runs, changes: 3, noflush, onProgress: (m) => log(`  ${m}`) });
      }
      cluster = undefined; // the process part builds its own; free this one first

      let proc: KpxProcessFigures | undefined;
      if (NO_PROCESS) skipped.push(`${services}×${endpoints}: kpx process RSS (--no-process)`);
      else if (total > PROCESS_MAX) skipped.push(`${services}×${endpoints}: kpx process RSS (${total} endpoints > --process-max-endpoints ${PROCESS_MAX})`);
      else {
        try {
          proc = await measureKpxProcess(services, endpoints, ENTRY, (m) => log(`  ${m}`));
          log(`  kpx process: RSS ${fmtMB(proc.rssBytes)}, one endpoint end to end ${fmtMs(proc.oneEndpointE2eMs)}`);
        } catch (err) {
          skipped.push(`${services}×${endpoints}: kpx process failed: ${(err as Error).message.split('\n')[0]}`);
          log(`  kpx process failed: ${(err as Error).message}`);
        }
      }

      for (const mode of MODES) {
        const p = pure.get(mode)!;
        const k = mode === 'iptables' ? kernel : undefined;
        entries.push({
          mode, services, endpoints,
          renderMs: p.renderMs, renderHeapBytes: p.heapBytes, modelMs: model.renderMs, modelHeapBytes: model.heapBytes,
          fullSyncMs: k?.fullSyncMs ?? null, fullSyncFirstMs: k?.fullSyncFirstMs ?? null,
          bareRestoreMs: k?.bareRestoreMs ?? null, bareNoflushMs: k?.bareNoflushMs ?? null, bareReloadMs: k?.bareReloadMs ?? null,
          oneEndpointMs: k?.oneEndpointMs ?? null, oneServiceMs: k?.oneServiceMs ?? null,
          periodicMs: k?.periodicMs ?? null, periodicForeignMs: k?.periodicForeignMs ?? null, repairMs: k?.repairMs ?? null,
          rssBytes: mode === 'iptables' ? proc?.rssBytes ?? null : null,
          detail: {
            renderRunsMs: p.runsMs, output: p.outputSize,
            ...(k ? { runs, inputLines: k.inputLines, fullSyncRenderMs: k.fullSyncRenderMs, fullSyncRestoreMs: k.fullSyncRestoreMs, saveMs: k.saveMs,
              oneEndpointLines: k.oneEndpointLines, noopRestoreMs: k.noopRestoreMs, oneServiceLines: k.oneServiceLines, samplesMs: k.samples } : {}),
            ...(mode === 'iptables' && proc ? { kpxEntry: proc.entry, kpxStartToFirstSyncMs: proc.startToFirstSyncMs, kpxOneEndpointE2eMs: proc.oneEndpointE2eMs } : {}),
          },
        });
      }
    }
  }
  const wallMs = performance.now() - t0;

  const ipt = entries.filter((e) => e.mode === 'iptables');
  const header = ['services × eps', 'model', 'render', 'bare restore', 'bare reload', '--noflush', 'full sync (first)', 'full sync', 'full / bare', 'one endpoint', '% of full', 'one service', 'periodic', '% of full', 'periodic, foreign commit', 'flushed nat repaired', 'kpx RSS'];
  const rows = ipt.map((e) => [
    `${e.services} × ${e.endpoints}`, fmtMs(e.modelMs), fmtMs(e.renderMs), fmtMs(e.bareRestoreMs), fmtMs(e.bareReloadMs), fmtMs(e.bareNoflushMs), fmtMs(e.fullSyncFirstMs),
    fmtMs(e.fullSyncMs), e.fullSyncMs && e.bareRestoreMs ? `${(e.fullSyncMs / e.bareRestoreMs).toFixed(2)}×` : '-',
    fmtMs(e.oneEndpointMs), e.oneEndpointMs && e.fullSyncMs ? `${((100 * e.oneEndpointMs) / e.fullSyncMs).toFixed(1)}%` : '-',
    fmtMs(e.oneServiceMs), fmtMs(e.periodicMs), e.periodicMs && e.fullSyncMs ? `${((100 * e.periodicMs) / e.fullSyncMs).toFixed(1)}%` : '-',
    fmtMs(e.periodicForeignMs), fmtMs(e.repairMs), fmtMB(e.rssBytes),
  ]);
  const pureHeader = ['services × eps', 'mode', 'render/plan', 'retained heap', 'output'];
  const pureRows = entries.map((e) => [`${e.services} × ${e.endpoints}`, e.mode, fmtMs(e.renderMs), fmtMB(e.renderHeapBytes), String(e.detail.output)]);
  const targets = evaluateTargets(entries);
  log('scaling of the pure parts');
  const scaling = scalingLines(measureScaling());

  const command = `npm run perf:sync -- ${argv.join(' ')}`.trim();
  console.log(`\nkpx perf:sync  (${command})\n${machineLine(machine)}\n`);
  console.log('iptables mode in a network namespace (best of the runs; one endpoint/service: median)');
  console.log(textTable(header, rows));
  console.log('\npure render/plan of the full state, per mode (best of 3)');
  console.log(textTable(pureHeader, pureRows));
  console.log('\ntargets');
  for (const t of targets) console.log(`  ${t.met === null ? 'n/a ' : t.met ? 'MET ' : 'MISS'} ${t.name}: ${t.detail}`);
  for (const s of skipped) console.log(`  skipped: ${s}`);
  console.log('\nscaling of the pure parts (ratios on this machine)');
  for (const l of scaling) console.log(l);
  console.log(`\nwall time ${(wallMs / 1000).toFixed(0)} s`);

  const md = [
    `# perf:sync, ${started.toISOString()}`, '',
    `Command: \`${command}\`  `, `Machine: ${machineLine(machine)}  `, `kpx process entry: ${ENTRY}; wall time ${(wallMs / 1000).toFixed(0)} s`, '',
    '## iptables mode in a network namespace', '',
    'Best of the runs; one-endpoint and one-service figures are medians. `bare restore` is `iptables-restore` (whole tables) of the same full ruleset into an empty namespace in the same run; `bare reload` the same restore again over those rules; `--noflush` the same file with --noflush into an empty namespace (first run only).', '',
    markdownTable(header, rows), '',
    '## Pure render/plan of the full state, per mode', '', markdownTable(pureHeader, pureRows), '',
    '## Targets', '', ...targets.map((t) => `- ${t.met === null ? 'n/a' : t.met ? 'met' : '**missed**'}: ${t.name}: ${t.detail}`), '',
    ...(skipped.length ? ['## Skipped', '', ...skipped.map((s) => `- ${s}`), ''] : []),
    '## Scaling of the pure parts', '', ...scaling.map((l) => `- ${l.trim()}`), '',
  ].join('\n');
  if (flag(argv, 'no-results')) return; // diagnostics runs (e.g. under --cpu-prof) leave perf/results alone
  const files = writeResults('sync', { kind: 'sync', startedAt: started.toISOString(), command, machine, kpxEntry: ENTRY, wallMs, entries, targets, skipped }, md, started);
  console.log(`wrote ${files.join(', ')}`);
}

interface TargetCheck { name: string; met: boolean | null; detail: string }

function evaluateTargets(entries: readonly SyncEntry[]): TargetCheck[] {
  const ipt = (s: number, e = 2) => entries.find((x) => x.mode === 'iptables' && x.services === s && x.endpoints === e);
  const out: TargetCheck[] = [];
  const at5k = ipt(5000);
  if (at5k?.fullSyncMs && at5k.bareRestoreMs) {
    const r = at5k.fullSyncMs / at5k.bareRestoreMs;
    out.push({ name: 'full sync at 5,000 × 2 ≤ 1.3 × bare restore', met: r <= 1.3, detail: `${fmtMs(at5k.fullSyncMs)} vs ${fmtMs(at5k.bareRestoreMs)} = ${r.toFixed(2)}×` });
  } else out.push({ name: 'full sync at 5,000 × 2 ≤ 1.3 × bare restore', met: null, detail: 'not measured in this run' });
  if (at5k?.oneEndpointMs && at5k.fullSyncMs) {
    const p = (100 * at5k.oneEndpointMs) / at5k.fullSyncMs;
    out.push({ name: 'one-endpoint change at 5,000 ≤ 5% of full sync', met: p <= 5, detail: `${fmtMs(at5k.oneEndpointMs)} = ${p.toFixed(1)}% of ${fmtMs(at5k.fullSyncMs)}` });
  } else out.push({ name: 'one-endpoint change at 5,000 ≤ 5% of full sync', met: null, detail: 'not measured in this run' });
  const at30k = ipt(30000);
  if (at5k?.oneEndpointMs && at30k?.oneEndpointMs) {
    const g = at30k.oneEndpointMs / at5k.oneEndpointMs;
    out.push({ name: 'one-endpoint change sub-linear from 5k to 30k (growth < 6×)', met: g < 6, detail: `${fmtMs(at5k.oneEndpointMs)} → ${fmtMs(at30k.oneEndpointMs)} = ${g.toFixed(2)}× for 6× the services` });
  } else out.push({ name: 'one-endpoint change sub-linear from 5k to 30k', met: null, detail: 'needs both 5000 and 30000 in --services' });
  const at10k = ipt(10000);
  if (at10k?.periodicMs && at10k.fullSyncMs) {
    const p = (100 * at10k.periodicMs) / at10k.fullSyncMs;
    out.push({ name: 'periodic sync with nothing changed at 10,000 × 2 ≤ 1% of a full sync', met: p <= 1, detail: `${fmtMs(at10k.periodicMs)} = ${p.toFixed(2)}% of ${fmtMs(at10k.fullSyncMs)}` });
  } else out.push({ name: 'periodic sync with nothing changed at 10,000 × 2 ≤ 1% of a full sync', met: null, detail: 'not measured in this run' });
  if (at10k?.rssBytes) {
    out.push({ name: 'kpx RSS at 10,000 services ≤ 150 MB', met: at10k.rssBytes <= 150e6, detail: `${(at10k.rssBytes / 1e6).toFixed(0)} MB (${fmtMB(at10k.rssBytes)})` });
  } else out.push({ name: 'kpx RSS at 10,000 services ≤ 150 MB', met: null, detail: 'not measured in this run' });
  return out;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
