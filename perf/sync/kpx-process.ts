/**
 * kpx-process.ts: kpx itself (the CLI, iptables mode) in a sandbox node's namespace on the manifests
 * source, holding a synthetic cluster: its resident memory once the state is loaded and synced, the time
 * from start to its first sync finished, and one endpoint change end to end (a manifest file replaced →
 * kpx's sync metrics show a sync after it; includes the source's 100 ms debounce and file parsing).
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, nowSeconds, startKpx, waitForSyncMetrics, type KpxEntry } from '../../src/sandbox/index.js';
import { ManifestDir } from '../../src/sandbox/manifests.js';
import { rssOf } from '../common/memory.js';
import { serviceObjects, syntheticCluster } from './cluster.js';

export interface KpxProcessFigures {
  readonly entry: KpxEntry;
  readonly startToFirstSyncMs: number;
  /** VmRSS of the kpx process after its first sync and a settle. */
  readonly rssBytes: number;
  readonly oneEndpointE2eMs: number;
}

/** Objects per manifest file: big files load fast, and no single file is unwieldy. */
const PER_FILE = 2000;

export interface KpxProcessOptions {
  /** Extra node flags for the kpx process (diagnostics: --heapsnapshot-signal, --cpu-prof). */
  readonly nodeOptions?: string;
  /** Runs once kpx has synced and settled, with its pid (e.g. to ask for a heap snapshot). */
  readonly onSettled?: (pid: number) => Promise<void>;
}

export async function measureKpxProcess(services: number, endpoints: number, entry: KpxEntry, onProgress: (m: string) => void = () => undefined,
  diag: KpxProcessOptions = {}): Promise<KpxProcessFigures> {
  const sb = await Sandbox.build({ pods: [] });
  try {
    const node = sb.node('node1');
    const md = new ManifestDir(sb.tmpDir);
    const cluster = syntheticCluster(services, endpoints, node.name, node.nodeIP);
    // The victim's slice lives in a file of its own, so changing it is one small file write.
    const victim = 1234 % services;
    const victimFile = join(md.dir, 'victim-eps.json');
    const writeJson = (path: string, obj: unknown) => {
      const tmp = join(sb.tmpDir, 'staging.json');
      writeFileSync(tmp, JSON.stringify(obj));
      renameSync(tmp, path);
    };
    writeJson(join(md.dir, 'node.json'), cluster.node);
    for (let i = 0; i < services; i += PER_FILE) {
      const n = String(i / PER_FILE).padStart(3, '0');
      writeJson(join(md.dir, `services-${n}.json`), { apiVersion: 'v1', kind: 'List', items: cluster.services.slice(i, i + PER_FILE) });
      const slices = cluster.slices.slice(i, i + PER_FILE).filter((_, j) => i + j !== victim);
      writeJson(join(md.dir, `slices-${n}.json`), { apiVersion: 'v1', kind: 'List', items: slices });
    }
    writeJson(victimFile, cluster.slices[victim]);

    const t0 = performance.now();
    // startKpx spawns synchronously, before its first await: the environment is ours again right after.
    const saved = process.env.NODE_OPTIONS;
    if (diag.nodeOptions) process.env.NODE_OPTIONS = `${saved ?? ''} ${diag.nodeOptions}`.trim();
    const starting = startKpx(sb, node.name, { manifestsDir: md.dir, entry, startTimeoutMs: 20 * 60_000 });
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
    const kpx = await starting;
    const startToFirstSyncMs = performance.now() - t0;
    onProgress(`kpx (${entry}) synced ${services} services in ${startToFirstSyncMs.toFixed(0)} ms`);
    // Let the GC catch up with the start-up garbage before reading the resident set.
    await new Promise((r) => setTimeout(r, 3000));
    const rssBytes = rssOf(kpx.proc.pid) ?? 0;
    if (diag.onSettled) await diag.onSettled(kpx.proc.pid);

    const since = nowSeconds();
    writeJson(victimFile, serviceObjects(victim, endpoints, node.name, 1).slice);
    const { last } = await waitForSyncMetrics(node.ns, '127.0.0.1', kpx.metricsPort, since, { requireQueued: true, timeoutMs: 120_000 });
    const oneEndpointE2eMs = (last - since) * 1000;
    await kpx.stop();
    return { entry, startToFirstSyncMs, rssBytes, oneEndpointE2eMs };
  } finally {
    await sb.destroy();
  }
}
