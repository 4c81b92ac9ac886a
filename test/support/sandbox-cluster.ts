/**
 * sandbox-cluster.ts (test support): a sandbox with kpx running in its node namespaces on a manifests
 * directory, one per test file. `change()` applies a manifest edit and returns once every kpx has synced
 * it, so a test asserts on traffic "within one sync".
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { ProxyMode } from '../../src/backend.js';
import { buildSandbox, type BuildOptions, type Sandbox } from '../../src/sandbox/builder.js';
import { startKpx, nowSeconds, type KpxInstance } from '../../src/sandbox/kpx-runner.js';
import { ManifestDir } from '../../src/sandbox/manifests.js';
import { packageRoot, slowFactor } from '../../src/sandbox/scripts.js';

export interface ClusterOptions extends BuildOptions {
  /** Nodes kpx runs on (default every node). */
  kpxNodes?: readonly string[];
  mode?: ProxyMode;
  /** More kpx flags, after the sandbox's own. */
  kpxArgs?: readonly string[];
  /** Writes the services before kpx starts, so the first sync has them all. */
  manifests(dir: ManifestDir, sb: Sandbox): void;
}

export interface ClusterHandle {
  readonly sb: Sandbox;
  readonly dir: ManifestDir;
  kpx(node: string): KpxInstance;
  /** Applies `edit` to the manifests and waits until every kpx has synced it. */
  change(edit: (dir: ManifestDir) => void | Promise<void>): Promise<void>;
}

/**
 * Why a kernel test cannot run yet, or undefined. The iptables e2e tests need the iptables mode and
 * kpx's run wiring; while those are still placeholders the tests are skipped with this reason.
 */
export function notReadyReason(mode: ProxyMode = 'iptables'): string | undefined {
  const root = packageRoot();
  const files = [join(root, 'src', 'cli', 'run.ts'), join(root, 'modes', mode, 'index.ts'), join(root, 'src', 'cli', 'main.ts')];
  for (const f of files) {
    if (!existsSync(f)) return `${f} does not exist yet`;
    if (readFileSync(f, 'utf8').includes('// PLACEHOLDER')) return `${f} is still a placeholder`;
  }
  return undefined;
}

export function useCluster(opts: ClusterOptions): ClusterHandle {
  let sb: Sandbox | undefined;
  let dir: ManifestDir | undefined;
  const kpx = new Map<string, KpxInstance>();
  before(async () => {
    sb = await buildSandbox({
      ...opts,
      onLine: process.env.KPX_SANDBOX_DEBUG ? (src, line) => process.stderr.write(`[${src}] ${line}\n`) : opts.onLine,
    });
    dir = new ManifestDir(sb.tmpDir);
    dir.writeNodes(sb.nodes);
    opts.manifests(dir, sb);
    const nodes = opts.kpxNodes ?? sb.nodes.map((n) => n.name);
    const started = await Promise.all(nodes.map((n) => startKpx(sb!, n, { manifestsDir: dir!.dir, mode: opts.mode, extraArgs: opts.kpxArgs })));
    for (const k of started) kpx.set(k.node.name, k);
  }, { timeout: 120_000 * slowFactor() });
  after(async () => {
    await sb?.destroy();
  }, { timeout: 60_000 * slowFactor() });
  const handle: ClusterHandle = {
    get sb(): Sandbox {
      if (!sb) throw new Error('sandbox not built (before() failed or has not run)');
      return sb;
    },
    get dir(): ManifestDir {
      if (!dir) throw new Error('sandbox not built (before() failed or has not run)');
      return dir;
    },
    kpx(node: string): KpxInstance {
      const k = kpx.get(node);
      if (!k) throw new Error(`kpx does not run on ${node}`);
      return k;
    },
    async change(edit) {
      const since = nowSeconds();
      await edit(handle.dir);
      await Promise.all([...kpx.values()].map((k) => k.waitForSync(since)));
    },
  };
  return handle;
}
