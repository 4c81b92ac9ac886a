/**
 * kpx-runner.ts: runs kpx itself inside a sandbox node's namespace, on the manifests source, and tells
 * when it has programmed what the manifests say (from its own metrics, read inside the namespace).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProxyMode } from '../backend.js';
import type { BackgroundProcess } from './background.js';
import type { Sandbox } from './builder.js';
import { CLUSTER_CIDR, CLUSTER_CIDR_V6, type NodePlan } from './plan.js';
import { KPX_NODE_FLAGS } from '../cli/node-flags.js';
import { nodeBinary, packageRoot, scriptPath, slowFactor } from './scripts.js';
import { request, waitForSyncMetrics, type RequestResult } from './traffic.js';

/** 'dist': bin/kpx.js (the build users run); 'source': src/ through tsx (tests: always current code). */
export type KpxEntry = 'dist' | 'source';

export interface KpxRunOptions {
  /** Directory of manifests kpx watches (--manifests). */
  manifestsDir: string;
  mode?: ProxyMode;
  entry?: KpxEntry;
  /** Default 10256 on all addresses (kube-proxy's). */
  healthzPort?: number;
  /** Default 10249 on 127.0.0.1 (kube-proxy's). */
  metricsPort?: number;
  /** --iptables-min-sync-period etc., e.g. "100ms"; omitted = kpx's default. */
  minSyncPeriod?: string;
  /** More flags, appended last. */
  extraArgs?: readonly string[];
  /** How long to wait for the first sync (default 30 s). */
  startTimeoutMs?: number;
}

/** The entry the current code runs from: dist when this module was compiled, source under tsx. */
export function defaultEntry(): KpxEntry {
  const env = process.env.KPX_SANDBOX_ENTRY;
  if (env === 'dist' || env === 'source') return env;
  return fileURLToPath(import.meta.url).includes(`${join('/', 'dist', '/')}`) ? 'dist' : 'source';
}

/** The command line that starts kpx with `args`. */
export function kpxCommand(entry: KpxEntry, args: readonly string[]): { cmd: string; args: string[]; cwd: string } {
  const root = packageRoot();
  if (entry === 'dist') {
    const main = join(root, 'dist', 'src', 'cli', 'main.js');
    if (!existsSync(main)) throw new Error(`kpx is not built (${main} is missing): run \`npm run build\` first`);
    return { cmd: nodeBinary(), args: [...KPX_NODE_FLAGS, join(root, 'bin', 'kpx.js'), ...args], cwd: root };
  }
  return { cmd: nodeBinary(), args: [...KPX_NODE_FLAGS, '--import', 'tsx', scriptPath('kpx-from-source.mjs'), ...args], cwd: root };
}

export function kpxArgs(node: NodePlan, opts: KpxRunOptions): string[] {
  const mode = opts.mode ?? 'iptables';
  const args = [
    '--manifests', opts.manifestsDir,
    '--hostname-override', node.name,
    '--proxy-mode', mode,
    '--cluster-cidr', node.v6 ? `${CLUSTER_CIDR},${CLUSTER_CIDR_V6}` : CLUSTER_CIDR,
    '--healthz-bind-address', `0.0.0.0:${opts.healthzPort ?? 10256}`,
    '--metrics-bind-address', `127.0.0.1:${opts.metricsPort ?? 10249}`,
  ];
  if (opts.minSyncPeriod) args.push(mode === 'ipvs' ? '--ipvs-min-sync-period' : '--iptables-min-sync-period', opts.minSyncPeriod);
  return [...args, ...(opts.extraArgs ?? [])];
}

export class KpxInstance {
  readonly node: NodePlan;
  readonly proc: BackgroundProcess;
  readonly metricsPort: number;
  readonly healthzPort: number;

  constructor(node: NodePlan, proc: BackgroundProcess, metricsPort: number, healthzPort: number) {
    this.node = node;
    this.proc = proc;
    this.metricsPort = metricsPort;
    this.healthzPort = healthzPort;
  }

  /**
   * Waits until kpx finished a sync that includes every change made after `since` (seconds since the
   * epoch, from nowSeconds() taken BEFORE the change). Fails early, with kpx's output, if kpx exits.
   */
  async waitForSync(since: number, opts: { requireQueued?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const exited = this.proc.exited.then((code) => {
      throw new Error(`kpx on ${this.node.name} exited (${code}) while waiting for a sync\n${this.proc.outputTail()}`);
    });
    try {
      await Promise.race([waitForSyncMetrics(this.node.ns, '127.0.0.1', this.metricsPort, since, { requireQueued: opts.requireQueued ?? true, timeoutMs: opts.timeoutMs }), exited]);
    } catch (e) {
      if (this.proc.hasExited()) throw e;
      throw new Error(`${(e as Error).message}\n--- kpx output ---\n${this.proc.outputTail()}`);
    } finally {
      exited.catch(() => { /* only raced */ });
    }
  }

  /** GET /healthz on the node's address, from inside the node. */
  healthz(path = '/healthz'): Promise<RequestResult> {
    return request(this.node.ns, this.node.nodeIP, this.healthzPort, 'tcp', { path });
  }

  async stop(): Promise<void> {
    await this.proc.stop(5000);
  }
}

/** Seconds since the epoch: the unit of kpx's sync timestamps. Take it before making a change. */
export function nowSeconds(): number {
  return Date.now() / 1000;
}

/** Starts kpx in a node's namespace and waits for its first sync. */
export async function startKpx(sb: Sandbox, nodeName: string, opts: KpxRunOptions): Promise<KpxInstance> {
  const node = sb.node(nodeName);
  const since = nowSeconds();
  const { cmd, args, cwd } = kpxCommand(opts.entry ?? defaultEntry(), kpxArgs(node, opts));
  const proc = sb.startProcess(node.ns, `kpx ${node.name}`, cmd, args, { cwd });
  const kpx = new KpxInstance(node, proc, opts.metricsPort ?? 10249, opts.healthzPort ?? 10256);
  try {
    await kpx.waitForSync(since, { requireQueued: false, timeoutMs: opts.startTimeoutMs ?? 30_000 * slowFactor() });
  } catch (e) {
    await kpx.stop();
    throw e;
  }
  return kpx;
}
