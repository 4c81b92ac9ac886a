/**
 * iptables-kernel.ts: kpx's iptables mode against the real kernel, in throwaway network namespaces,
 * driven the way kpx runs it: API objects go into the real Proxier (src/sync/proxier.ts), which builds
 * the state and calls the IptablesBackend pointed at the namespace. Figures (ms):
 * - fullSyncFirstMs: Services and EndpointSlices listed → first sync finished (empty namespace; includes
 *   building the model);
 * - fullSyncMs: a steady-state full sync (the sync-period resync) with everything already loaded;
 * - oneEndpointMs: an EndpointSlice update moving one endpoint → the sync's iptables-restore finished
 *   (the proxier's own event-to-sync path, the source's file/API parsing excluded);
 * - oneServiceMs: a new Service and its slice delivered → sync finished;
 * - bareRestoreMs (the limit): `iptables-restore` of the same full ruleset kpx wrote, whole tables (no
 *   --noflush), into an empty namespace, in the same run, alternated with kpx's syncs;
 * - bareNoflushMs: the same with --noflush (kube-proxy's way), where it is affordable (it is quadratic).
 * Every namespace is made with the sandbox's kpx- naming and deleted in finally.
 */
import { randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { IptablesBackend } from '../../modes/iptables/backend.js';
import { exec } from '../../src/net/exec.js';
import { registerForExitCleanup } from '../../src/sandbox/exit-cleanup.js';
import { addNamespace, deleteNamespace } from '../../src/sandbox/netns.js';
import { createProxyMetrics } from '../../src/server/metrics.js';
import { systemClock } from '../../src/util/clock.js';
import { Proxier } from '../../src/sync/proxier.js';
import { log } from '../../src/util/log.js';
import { serviceKey, serviceObjects, type SyntheticCluster } from './cluster.js';
import { iptablesBackendOptions } from './pure.js';

export interface KernelOptions {
  readonly services: number;
  readonly endpoints: number;
  readonly nodeName: string;
  readonly runs: number;
  /** One-endpoint changes per run. */
  readonly changes: number;
  /** Measure the --noflush bare restore too (in the first run only). */
  readonly noflush: boolean;
  readonly onProgress?: (msg: string) => void;
}

export interface KernelFigures {
  readonly inputLines: number;
  readonly fullSyncFirstMs: number;
  readonly fullSyncMs: number;
  /** Of the steady full sync: the backend's own split. */
  readonly fullSyncRenderMs: number;
  readonly fullSyncRestoreMs: number;
  /** A bare `iptables-save` of the loaded namespace (what the full sync reads before writing). */
  readonly saveMs: number;
  readonly bareRestoreMs: number;
  readonly bareNoflushMs?: number;
  /** The same whole-table restore into the namespace that already holds those rules. */
  readonly bareReloadMs: number;
  readonly oneEndpointMs: number;
  /** Lines the one-endpoint sync sent to iptables-restore. */
  readonly oneEndpointLines: number;
  /** A no-op `iptables-restore --noflush` in the loaded namespace: the floor of any partial sync. */
  readonly noopRestoreMs: number;
  readonly oneServiceMs: number;
  /**
   * The sync period's sync with nothing changed: the drift check alone (nobody else committed). This harness
   * drives the namespace from outside, so the nf_tables generation read spawns a process into it; kpx in its
   * own namespace reads it in-process.
   */
  readonly periodicMs: number;
  /** The same after another program committed a chain of its own: one iptables-save and a compare, no write. */
  readonly periodicForeignMs: number;
  /** The same after another program flushed nat: the periodic sync repairs it (a full sync). */
  readonly repairMs: number;
  /** Lines the (last) one-service sync sent to iptables-restore. */
  readonly oneServiceLines: number;
  /** Every sample, in order, for the JSON. */
  readonly samples: Readonly<Record<string, readonly number[]>>;
}

interface SyncEnd { full: boolean; changed: string[]; ok: boolean; seconds: number }

/** Resolves at the end of the first sync (after now) for which `pred` holds; rejects after timeoutMs. */
function nextSync(pred: (e: SyncEnd) => boolean, timeoutMs: number): Promise<SyncEnd> {
  return new Promise((resolve, reject) => {
    const onEnd = (msg: unknown) => {
      const e = msg as SyncEnd;
      if (!pred(e)) return;
      done();
      if (e.ok) resolve(e);
      else reject(new Error(`the sync failed (full=${e.full})`));
    };
    const timer = setTimeout(() => { done(); reject(new Error(`no matching sync within ${timeoutMs} ms`)); }, timeoutMs);
    const done = () => { clearTimeout(timer); unsubscribe('kpx:sync:end', onEnd); };
    subscribe('kpx:sync:end', onEnd);
  });
}

export async function measureIptablesKernel(cluster: SyntheticCluster, opts: KernelOptions): Promise<KernelFigures> {
  const made: string[] = [];
  const newNs = async (tag: string) => {
    const ns = `kpx-${randomBytes(3).toString('hex')}-perf${tag}`;
    made.push(ns);
    await addNamespace(ns);
    return ns;
  };
  const dropAll = async () => { for (const ns of made.splice(0)) await deleteNamespace(ns).catch(() => undefined); };
  // Ctrl-C or a kill in the middle of a minutes-long restore must not leave namespaces behind.
  const unregister = registerForExitCleanup({ pids: () => [], namespaces: () => [...made] });
  const samples: Record<string, number[]> = { fullFirst: [], full: [], fullRender: [], fullRestore: [], save: [], fullSave: [], fullMerge: [], fullReusedSave: [], bare: [], bareReload: [], oneEndpointRestore: [], oneEndpointBackend: [], noopRestore: [], bareNoflush: [], oneEndpoint: [], oneService: [], periodic: [], periodicForeign: [], repair: [] };
  const progress = opts.onProgress ?? (() => undefined);
  const bigTimeout = 30 * 60_000;
  let inputLines = 0;
  let oneEndpointLines = 0;
  let oneServiceLines = 0;
  try {
    for (let run = 0; run < opts.runs; run++) {
      const ns = await newNs('sync');
      const backend = new IptablesBackend(
        iptablesBackendOptions(),
        { netns: ns, keepRestoreInput: true },
      );
      const proxier = new Proxier({
        nodeName: opts.nodeName, backends: [backend], hostAddresses: [], nodePortAddresses: [], localhostNodePorts: true,
        // No rate limit and no periodic resync during the run: every figure is one sync we asked for.
        minSyncPeriodMs: 0, syncPeriodMs: 3_600_000, clock: systemClock, log, metrics: createProxyMetrics(),
        prepare: () => backend.init(),
      });
      try {
        proxier.start();
        proxier.upsert({ kind: 'Node', obj: cluster.node });
        for (const s of cluster.services) proxier.upsert({ kind: 'Service', obj: s });
        for (const s of cluster.slices) proxier.upsert({ kind: 'EndpointSlice', obj: s });
        proxier.synced('Node');
        let t = performance.now();
        const first = nextSync((e) => e.full, bigTimeout);
        proxier.synced('Service');
        proxier.synced('EndpointSlice');
        await first;
        samples.fullFirst.push(performance.now() - t);
        const fullInput = backend.lastSync.input;
        if (fullInput.length !== backend.lastSync.inputLength) throw new Error('the backend did not keep its full restore input');
        inputLines = fullInput.split('\n').length;
        progress(`run ${run + 1}: first full sync ${samples.fullFirst.at(-1)!.toFixed(0)} ms (${inputLines} lines)`);

        // The limit, alternated with kpx's own syncs: the same rules, whole tables, empty namespace.
        const bareNs = await newNs('bare');
        t = performance.now();
        await exec('iptables-restore', [], { netns: bareNs, input: fullInput, timeoutMs: bigTimeout });
        samples.bare.push(performance.now() - t);
        // And again over itself: the limit for a steady-state sync, which replaces rules already there.
        t = performance.now();
        await exec('iptables-restore', [], { netns: bareNs, input: fullInput, timeoutMs: bigTimeout });
        samples.bareReload.push(performance.now() - t);
        await deleteNamespace(bareNs);
        made.splice(made.indexOf(bareNs), 1);

        const state = proxier.states().get('IPv4');
        if (!state) throw new Error('the proxier has no IPv4 state after its first sync');
        t = performance.now();
        const res = await backend.sync(state, { full: true, services: new Set() });
        if (!res.ok) throw new Error(`steady full sync failed: ${res.error.message}`);
        samples.full.push(performance.now() - t);
        samples.fullRender.push(backend.lastSync.renderMs);
        samples.fullRestore.push(backend.lastSync.restoreMs);
        // Newer backends also split out the save and the merge; read them when present.
        const extra = backend.lastSync as unknown as Record<string, unknown>;
        if (typeof extra.saveMs === 'number') samples.fullSave.push(extra.saveMs);
        if (typeof extra.mergeMs === 'number') samples.fullMerge.push(extra.mergeMs);
        if (typeof extra.reusedSave === 'boolean') samples.fullReusedSave.push(extra.reusedSave ? 1 : 0);
        // The full sync reads nat and filter back first (to keep other programs' rules): that read's cost alone.
        t = performance.now();
        await exec('iptables-save', [], { netns: ns, timeoutMs: bigTimeout });
        samples.save.push(performance.now() - t);
        progress(`run ${run + 1}: bare restore ${samples.bare.at(-1)!.toFixed(0)} ms, steady full sync ${samples.full.at(-1)!.toFixed(0)} ms`);

        // The sync period's sync, which kube-proxy makes a full rewrite: a backend that checks drift on every
        // sync (the kpx run's checks once per sync period) takes over the loaded tables with one full sync.
        const checker = new IptablesBackend(iptablesBackendOptions(), { netns: ns, driftCheckIntervalMs: 0 });
        const periodicSync = async (what: string) => {
          const t1 = performance.now();
          const r = await checker.sync(state, { full: false, services: new Set() });
          if (!r.ok) throw new Error(`${what} failed: ${r.error.message}`);
          return performance.now() - t1;
        };
        if (!(await checker.sync(state, { full: true, services: new Set() })).ok) throw new Error('the checker\'s full sync failed');
        samples.periodic.push(await periodicSync('a periodic sync'));
        if (checker.lastSync.kind !== 'partial' || checker.lastSync.inputLength !== 0) progress('warning: the periodic sync wrote something');
        await exec('iptables', ['-w', '-t', 'filter', '-N', `PERF-FOREIGN-${run}`], { netns: ns });
        samples.periodicForeign.push(await periodicSync('a periodic sync after a foreign commit'));
        if (checker.lastSync.kind !== 'partial' || checker.lastSync.inputLength !== 0) progress('warning: the periodic sync after a foreign commit wrote something');
        await exec('iptables', ['-w', '-t', 'nat', '-F'], { netns: ns });
        samples.repair.push(await periodicSync('the repair of a flushed nat'));
        if (checker.lastSync.kind !== 'full') progress('warning: a flushed nat was not repaired by the periodic sync');
        progress(`run ${run + 1}: periodic sync ${samples.periodic.at(-1)!.toFixed(0)} ms, after a foreign commit ${samples.periodicForeign.at(-1)!.toFixed(0)} ms, repair of a flushed nat ${samples.repair.at(-1)!.toFixed(0)} ms`);
        // The proxier's backend wrote last before the checker: its next sync is full (nothing else changes).
        if (!(await backend.sync(state, { full: true, services: new Set() })).ok) throw new Error('the steady full sync after the checker failed');

        // Once per size: with the nft backend it grows quadratically (minutes at 5k services on a busy machine).
        if (opts.noflush && run === 0) {
          const nfNs = await newNs('nf');
          t = performance.now();
          await exec('iptables-restore', ['--noflush'], { netns: nfNs, input: fullInput, timeoutMs: bigTimeout });
          samples.bareNoflush.push(performance.now() - t);
          await deleteNamespace(nfNs);
          made.splice(made.indexOf(nfNs), 1);
          progress(`run ${run + 1}: bare --noflush restore ${samples.bareNoflush.at(-1)!.toFixed(0)} ms`);
        }

        // One endpoint of one service moves (a pod replaced): the source event → restore finished.
        for (let c = 0; c < opts.changes; c++) {
          const victim = (1234 + 7919 * c) % opts.services;
          const { slice } = serviceObjects(victim, opts.endpoints, opts.nodeName, run * opts.changes + c + 1);
          const key = serviceKey(victim);
          const done = nextSync((e) => e.changed.includes(key), bigTimeout);
          t = performance.now();
          proxier.upsert({ kind: 'EndpointSlice', obj: slice });
          await done;
          samples.oneEndpoint.push(performance.now() - t);
          if (backend.lastSync.kind !== 'partial') progress(`warning: the one-endpoint sync was ${backend.lastSync.kind}, not partial`);
          oneEndpointLines = backend.lastSync.input.split('\n').length;
          samples.oneEndpointRestore.push(backend.lastSync.restoreMs);
          samples.oneEndpointBackend.push(backend.lastSync.totalMs);
        }

        // The floor of any partial sync: an iptables-restore --noflush that changes nothing, in the loaded namespace
        // (iptables-nft reads the existing ruleset before it commits, so this grows with the table).
        t = performance.now();
        await exec('iptables-restore', ['--noflush'], { netns: ns, input: '*nat\nCOMMIT\n', timeoutMs: bigTimeout });
        samples.noopRestore.push(performance.now() - t);
        progress(`run ${run + 1}: one endpoint: kpx's restore ${samples.oneEndpointRestore.slice(-opts.changes).map((x) => x.toFixed(0)).join('/')} ms of backend ${samples.oneEndpointBackend.slice(-opts.changes).map((x) => x.toFixed(0)).join('/')} ms; a no-op --noflush restore here ${samples.noopRestore.at(-1)!.toFixed(0)} ms`);

        // One service added (its Service and EndpointSlice arrive together, as from a List).
        const added = opts.services + run;
        const { service, slice } = serviceObjects(added, opts.endpoints, opts.nodeName);
        const addKey = serviceKey(added);
        const addDone = nextSync((e) => e.changed.includes(addKey), bigTimeout);
        t = performance.now();
        proxier.upsert({ kind: 'Service', obj: service });
        proxier.upsert({ kind: 'EndpointSlice', obj: slice });
        await addDone;
        // The slice may have gone into a second sync of its own when the first one had already started.
        const port = proxier.states().get('IPv4')?.services.get(`${addKey}:http`);
        if (!port?.hasAnyEndpoints) await nextSync((e) => e.changed.includes(addKey), bigTimeout);
        samples.oneService.push(performance.now() - t);
        oneServiceLines = backend.lastSync.input.split('\n').length;
        if (backend.lastSync.kind !== 'partial') progress(`warning: the one-service sync was ${backend.lastSync.kind}, not partial`);
        progress(`run ${run + 1}: one endpoint ${samples.oneEndpoint.slice(-opts.changes).map((x) => x.toFixed(0)).join('/')} ms, one service ${samples.oneService.at(-1)!.toFixed(0)} ms`);
      } finally {
        await proxier.stop();
        await dropAll();
      }
    }
  } finally {
    await dropAll();
    unregister();
  }
  const best = (xs: number[]) => Math.min(...xs);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
  const iFull = samples.full.indexOf(best(samples.full));
  return {
    inputLines,
    fullSyncFirstMs: best(samples.fullFirst),
    fullSyncMs: best(samples.full),
    fullSyncRenderMs: samples.fullRender[iFull],
    fullSyncRestoreMs: samples.fullRestore[iFull],
    saveMs: best(samples.save),
    bareRestoreMs: best(samples.bare),
    bareReloadMs: best(samples.bareReload),
    ...(samples.bareNoflush.length ? { bareNoflushMs: best(samples.bareNoflush) } : {}),
    oneEndpointMs: median(samples.oneEndpoint),
    oneEndpointLines,
    noopRestoreMs: median(samples.noopRestore),
    oneServiceMs: median(samples.oneService),
    periodicMs: median(samples.periodic),
    periodicForeignMs: median(samples.periodicForeign),
    repairMs: median(samples.repair),
    oneServiceLines,
    samples,
  };
}
