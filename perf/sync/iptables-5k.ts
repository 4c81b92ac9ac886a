/**
 * iptables-5k.ts: times kpx's iptables mode against the real kernel in throwaway network namespaces, at
 * N services × E endpoints (default 5,000 × 2):
 * - render: the pure renderer, full state;
 * - full sync: IptablesBackend.sync with a full ChangeSet, first into an empty namespace and then again
 *   (the steady-state sync-period resync);
 * - one-endpoint sync: one endpoint IP of one service changed, partial ChangeSet;
 * - one-service add: a new service, partial ChangeSet;
 * - periodic sync (the sync period's, nothing changed): the drift check; again after another program
 *   committed elsewhere (a save and a compare) and after it flushed nat (repaired by a full sync);
 * - bare restore (the limit): `iptables-restore` (whole tables, no --noflush) of the same rules into an
 *   empty namespace, in the same run; optionally the --noflush figure (kube-proxy's way) beside it.
 * kpx's part runs the way kpx does on a node: a child process inside the namespace (`ip netns exec`), so
 * every iptables call, and the nf_tables generation check, happen in-process there. Ratios are taken per
 * run (the same run's bare restore) and their median is reported: these machines are noisy.
 * Prints a table and one JSON line. Never fails on a slow figure.
 *
 * Usage: node --import tsx perf/sync/iptables-5k.ts [--services 5000] [--endpoints 2] [--runs 3] [--with-noflush]
 */
import { randomBytes } from 'node:crypto';
import { IptablesBackend } from '../../modes/iptables/backend.js';
import { portProtoHash } from '../../modes/iptables/chain-names.js';
import { RenderCache, renderRestoreInput, renderRules } from '../../modes/iptables/render.js';
import type { Endpoint, ProxyState, ServicePort } from '../../src/model/types.js';
import { exec } from '../../src/net/exec.js';
import { addNamespace, deleteNamespace } from '../../src/sandbox/netns.js';
import { setVerbosity } from '../../src/util/log.js';
import { iptablesBackendOptions, LOCAL_TRAFFIC } from './pure.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const SERVICES = arg('services', 5000);
const ENDPOINTS = arg('endpoints', 2);
const RUNS = arg('runs', 3);
const WITH_NOFLUSH = process.argv.includes('--with-noflush');

function ip(base: number, n: number): string {
  return `${base}.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

function servicePort(i: number, epBase: number): ServicePort {
  const key = `ns${i % 50}/svc${i}:http`;
  const endpoints: Endpoint[] = [];
  for (let e = 0; e < ENDPOINTS; e++) {
    const a = ip(10, epBase + i * ENDPOINTS + e + 1);
    endpoints.push({ key: `${a}:8080`, ip: a, port: 8080, ready: true, serving: true, terminating: false, isLocal: e === 0 });
  }
  return {
    key, serviceKey: `ns${i % 50}/svc${i}`, namespace: `ns${i % 50}`, name: `svc${i}`, portName: 'http', protocol: 'TCP',
    hash: portProtoHash(key, 'TCP'), family: 'IPv4', clusterIP: ip(172, (30 << 16) + i + 1), port: 80, nodePort: 0,
    externalIPs: [], loadBalancerIPs: [], loadBalancerSourceRanges: [], affinityTimeoutSeconds: 0,
    externalPolicyLocal: false, internalPolicyLocal: false, healthCheckNodePort: 0, externallyAccessible: false,
    usesClusterEndpoints: true, usesLocalEndpoints: false, endpoints, clusterEndpoints: endpoints, localEndpoints: [],
    allReachableEndpoints: endpoints, hasAnyEndpoints: true, readyLocalEndpointCount: 1,
  };
}

function state(ports: ServicePort[]): ProxyState {
  return {
    family: 'IPv4',
    node: { name: 'perf-node', labels: {}, zone: '', ips: ['192.168.0.2'], podCIDRs: [], eligible: true },
    nodePortAddresses: { all: true, ips: [], localhost: true },
    services: new Map(ports.map((p) => [p.key, p])),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x: number) => `${x.toFixed(0)} ms`;

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}


interface InnerFigures {
  fullFirst: number; fullAgain: number; oneEndpoint: number; oneService: number;
  periodic: number; periodicForeign: number; repair: number; detail: string[];
}

/** Runs inside the namespace (no netns option: kpx's own view). Prints one JSON line. */
async function inside(run: number): Promise<void> {
  const ports = Array.from({ length: SERVICES }, (_, i) => servicePort(i, 0));
  // Every sync checks for drift (kpx checks once per sync period): the one-endpoint figure includes a check.
  const backend = new IptablesBackend(iptablesBackendOptions(), { driftCheckIntervalMs: 0 });
  await backend.init();
  let cur = ports.slice();
  const check = (r: { ok: boolean }) => { if (!r.ok) throw new Error('sync failed'); };
  const detail: string[] = [];
  const fullFirst = await timeIt(async () => check(await backend.sync(state(cur), { full: true, services: new Set() })));
  // Steady-state full syncs (the sync period): best of three, as the machine is shared.
  let fullAgain = Infinity;
  for (let i = 0; i < 3; i++) {
    fullAgain = Math.min(fullAgain, await timeIt(async () => check(await backend.sync(state(cur), { full: true, services: new Set() }))));
  }
  const l = backend.lastSync;
  detail.push(`full: render ${ms(l.renderMs)}, save${l.reusedSave ? ' skipped (generation check)' : ''} ${ms(l.saveMs)}, merge ${ms(l.mergeMs)}, restore ${ms(l.restoreMs)}`);
  // One endpoint of one service changes IP (a pod replaced): best of three different services.
  let oneEndpoint = Infinity;
  for (const victim of [1234 % SERVICES, 2345 % SERVICES, 3456 % SERVICES]) {
    cur = cur.slice();
    cur[victim] = servicePort(victim, 3_000_000 + run * 100_000);
    oneEndpoint = Math.min(oneEndpoint, await timeIt(async () =>
      check(await backend.sync(state(cur), { full: false, services: new Set([cur[victim].serviceKey]) }))));
    if (backend.lastSync.kind !== 'partial') throw new Error('expected a partial sync');
  }
  detail.push(`one endpoint: render ${ms(backend.lastSync.renderMs)}, restore ${ms(backend.lastSync.restoreMs)} (${backend.lastSync.input.split('\n').length} lines)`);
  // One service added.
  const added = servicePort(SERVICES + run, 6_000_000);
  cur = [...cur, added];
  const synced = state(cur);
  const oneService = await timeIt(async () =>
    check(await backend.sync(synced, { full: false, services: new Set([added.serviceKey]) })));
  // The sync period's sync, nothing changed (the builder hands over the same state object): the drift check.
  const periodicSync = async () => timeIt(async () => check(await backend.sync(synced, { full: false, services: new Set() })));
  let periodic = Infinity;
  for (let i = 0; i < 3; i++) periodic = Math.min(periodic, await periodicSync());
  const kind = (): string => backend.lastSync.kind;
  if (kind() !== 'partial') throw new Error('expected the periodic sync to be partial');
  // Another program commits a chain of its own: one iptables-save and a compare, nothing written.
  await exec('iptables', ['-w', '5', '-t', 'filter', '-N', `PERF-FOREIGN-${run}`]);
  const periodicForeign = await periodicSync();
  if (kind() !== 'partial') throw new Error('a foreign commit elsewhere made the periodic sync rewrite');
  // Another program flushes nat: the periodic sync repairs it with a full sync.
  await exec('iptables', ['-w', '5', '-t', 'nat', '-F']);
  const repair = await periodicSync();
  if (kind() !== 'full') throw new Error('a flushed nat was not repaired');
  detail.push(`periodic: ${ms(periodic)} nothing changed, ${ms(periodicForeign)} after a foreign commit, ${ms(repair)} repairing a flushed nat`);
  const out: InnerFigures = { fullFirst, fullAgain, oneEndpoint, oneService, periodic, periodicForeign, repair, detail };
  console.log(JSON.stringify(out));
}

async function main(): Promise<void> {
  setVerbosity(0);
  const made: string[] = [];
  const newNs = async (tag: string) => {
    const ns = `kpx-${randomBytes(3).toString('hex')}-${tag}`;
    await addNamespace(ns);
    made.push(ns);
    return ns;
  };
  const cleanup = async () => { for (const ns of made.splice(0)) await deleteNamespace(ns).catch(() => undefined); };
  process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)); });
  try {
    const ports = Array.from({ length: SERVICES }, (_, i) => servicePort(i, 0));
    const st = state(ports);
    const opts = { family: 'IPv4' as const, masqueradeAll: false, masqueradeBit: 14, localTraffic: LOCAL_TRAFFIC, randomFully: true };
    renderRules(st, opts); // warm-up (JIT)
    const renderTimes: number[] = [];
    for (let i = 0; i < 5; i++) renderTimes.push(await timeIt(async () => renderRules(st, opts)));
    // With the per-service cache a sync carries between renders (what a partial or periodic sync pays).
    const cache = new RenderCache();
    renderRules(st, opts, {}, cache);
    const cachedTimes: number[] = [];
    for (let i = 0; i < 5; i++) cachedTimes.push(await timeIt(async () => renderRules(st, opts, {}, cache)));
    const input = renderRestoreInput(st, opts);
    const lines = input.split('\n').length;

    const detail: string[] = [];
    const ratios = { full: [] as number[], oneEndpoint: [] as number[] };
    const rows: Record<string, number[]> = { bare: [], bareNoflush: [], fullFirst: [], fullAgain: [], oneEndpoint: [], oneService: [], save: [], periodic: [], periodicForeign: [], repair: [] };
    for (let run = 0; run < RUNS; run++) {
      // The limit: a whole-table restore of the same rules into an empty namespace (best of two).
      const bareNs = await newNs('bare');
      const bareNs2 = await newNs('bare');
      rows.bare.push(Math.min(
        await timeIt(() => exec('iptables-restore', [], { netns: bareNs, input, timeoutMs: 600_000 })),
        await timeIt(() => exec('iptables-restore', [], { netns: bareNs2, input, timeoutMs: 600_000 }))));
      rows.save.push(await timeIt(() => exec('iptables-save', [], { netns: bareNs, timeoutMs: 600_000 })));
      if (WITH_NOFLUSH) {
        const nfNs = await newNs('noflush');
        rows.bareNoflush.push(await timeIt(() => exec('iptables-restore', ['--noflush'], { netns: nfNs, input, timeoutMs: 600_000 })));
      }

      const ns = await newNs('perf');
      const child = await exec(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--inside', String(run),
        '--services', String(SERVICES), '--endpoints', String(ENDPOINTS)], { netns: ns, timeoutMs: 900_000 });
      const fig = JSON.parse(child.stdout.trim().split('\n').pop()!) as InnerFigures;
      rows.fullFirst.push(fig.fullFirst);
      rows.fullAgain.push(fig.fullAgain);
      rows.oneEndpoint.push(fig.oneEndpoint);
      rows.oneService.push(fig.oneService);
      rows.periodic.push(fig.periodic);
      rows.periodicForeign.push(fig.periodicForeign);
      rows.repair.push(fig.repair);
      ratios.full.push(fig.fullAgain / rows.bare[rows.bare.length - 1]);
      ratios.oneEndpoint.push(fig.oneEndpoint / fig.fullAgain);
      detail.push(...fig.detail);
      await cleanup();
    }

    const result = {
      services: SERVICES, endpoints: ENDPOINTS, runs: RUNS, inputLines: lines,
      renderMs: median(renderTimes), renderCachedMs: median(cachedTimes), bareRestoreMs: median(rows.bare), saveMs: median(rows.save),
      bareNoflushMs: rows.bareNoflush.length ? median(rows.bareNoflush) : undefined,
      fullSyncFirstMs: median(rows.fullFirst), fullSyncMs: median(rows.fullAgain),
      oneEndpointMs: median(rows.oneEndpoint), oneServiceMs: median(rows.oneService),
      periodicMs: median(rows.periodic), periodicForeignMs: median(rows.periodicForeign), repairMs: median(rows.repair),
      fullOverBare: median(ratios.full), oneEndpointOverFull: median(ratios.oneEndpoint),
    };
    console.log(`kpx iptables mode, ${SERVICES} services × ${ENDPOINTS} endpoints (${lines} restore lines), median of ${RUNS} runs`);
    console.log('  (each run: bare = best of 2 restores, steady full = best of 3 syncs, one-endpoint = best of 3 syncs)');
    console.log(`  render (pure), cold / cached       ${ms(result.renderMs)} / ${ms(result.renderCachedMs)}`);
    console.log(`  bare whole-table restore (limit)   ${ms(result.bareRestoreMs)}   [all runs: ${rows.bare.map(ms).join(', ')}]`);
    if (result.bareNoflushMs !== undefined) console.log(`  bare --noflush restore             ${ms(result.bareNoflushMs)}`);
    console.log(`  iptables-save of that ruleset      ${ms(result.saveMs)}`);
    console.log(`  full sync, empty namespace         ${ms(result.fullSyncFirstMs)}   (${(result.fullSyncFirstMs / result.bareRestoreMs).toFixed(2)} × bare)`);
    console.log(`  full sync, steady state            ${ms(result.fullSyncMs)}   [all: ${rows.fullAgain.map(ms).join(', ')}]`);
    console.log(`    ÷ same run's bare restore        ${result.fullOverBare.toFixed(2)} ×   [per run: ${ratios.full.map((r) => r.toFixed(2)).join(', ')}]  (target ≤ 1.3)`);
    console.log(`  one-endpoint change (partial)      ${ms(result.oneEndpointMs)}   [all: ${rows.oneEndpoint.map(ms).join(', ')}]`);
    console.log(`    ÷ same run's full sync           ${(100 * result.oneEndpointOverFull).toFixed(1)} %  [per run: ${ratios.oneEndpoint.map((r) => (100 * r).toFixed(1)).join(', ')}]  (target ≤ 5 %)`);
    console.log(`  one-service add (partial)          ${ms(result.oneServiceMs)}`);
    console.log(`  periodic sync, nothing changed     ${result.periodicMs.toFixed(1)} ms   (${((100 * result.periodicMs) / result.fullSyncMs).toFixed(2)} % of the steady full sync; target ≤ 1 %)`);
    console.log(`  periodic sync, foreign commit      ${ms(result.periodicForeignMs)}   (one iptables-save and a compare, nothing written)`);
    console.log(`  periodic sync, nat flushed         ${ms(result.repairMs)}   (repaired with a full sync)`);
    for (const d of detail) console.log(`  (${d})`);
    console.log(JSON.stringify(result));
  } finally {
    await cleanup();
  }
}

const insideAt = process.argv.indexOf('--inside');
(insideAt > 0 ? inside(Number(process.argv[insideAt + 1])) : main()).catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
