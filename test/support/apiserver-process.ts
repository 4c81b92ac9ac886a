/**
 * apiserver-process.ts (test support): the in-test Kubernetes API server (fake-apiserver.ts) as its own
 * process INSIDE a sandbox node namespace, driven over stdin/stdout, plus the host-side controller.
 *
 * Why a process: kpx runs inside the node namespace and cannot reach the host's loopback, and the
 * sandbox never links a namespace to the host. So the API server listens on 127.0.0.1 of the node
 * namespace, next to kpx, and the test drives it with JSON commands (chaos-process.ts's protocol):
 *   upsert {kind, object} · upsertMany {items: [{kind, object}]} · remove {kind, namespace, name}
 *   dropWatches {abrupt?} · compact {expireWatches?} · failWith {status, ms} · clearFailure
 *   stop · restart · down {ms} (stop now, restart after ms, then the event {"event":"up"})
 *   stats {since?} (requests answered since a time, by kind/watch/status; open watches) · shutdown
 * It prints {"event":"ready","port","url","kubeconfig"} once listening. kpx then runs with
 * --kubeconfig pointing at the kubeconfig the fake writes (insecure-skip-tls-verify; plain http).
 *
 * Run as an entry: `node --import tsx test/support/apiserver-process.ts --expect-netns NS [--port N]`.
 * With --expect-netns it refuses to start anywhere but in that namespace (never on the host).
 */
import { copyFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sandbox } from '../../src/sandbox/builder.js';
import { nodeBinary, packageRoot } from '../../src/sandbox/scripts.js';
import { JsonLineProcess } from './chaos-process.js';
import { FakeApiServer, type JsonObject } from './fake-apiserver.js';
import { argValue, emit, serveCommands, type AgentCommands } from './json-line-agent.js';

const here = fileURLToPath(import.meta.url);

// ------------------------------------------------------------------ host side

export interface ApiServerStats {
  lists: Record<string, number>;
  watches: Record<string, number>;
  errors: number;
  gone: number;
  openWatches: number;
}

/** The host-side handle on an API server process running in a sandbox namespace. */
export class ApiServerProcess {
  readonly proc: JsonLineProcess;
  readonly ns: string;
  port = 0;
  kubeconfig = '';

  private constructor(proc: JsonLineProcess, ns: string) {
    this.proc = proc;
    this.ns = ns;
  }

  /** Starts the API server in `ns` (a namespace of `sb`) and waits until it listens. */
  static async start(sb: Sandbox, ns: string, opts: { port?: number; onLine?: (l: string) => void } = {}): Promise<ApiServerProcess> {
    if (!sb.namespaces().includes(ns)) throw new Error(`${ns} is not a namespace of sandbox ${sb.prefix}`);
    // The kubeconfig goes into the sandbox's private directory, so it is removed with the sandbox even
    // when this process is killed before it can clean up.
    const args = ['--import', 'tsx', here, '--expect-netns', ns, '--port', String(opts.port ?? 0), '--kubeconfig-dir', sb.tmpDir];
    const proc = new JsonLineProcess({ ns, label: `apiserver in ${ns}`, cmd: nodeBinary(), args, cwd: packageRoot(), onLine: opts.onLine });
    const api = new ApiServerProcess(proc, ns);
    try {
      const ready = await proc.waitForEvent((e) => e.event === 'ready', 30_000);
      api.port = Number(ready.port);
      api.kubeconfig = String(ready.kubeconfig);
    } catch (e) {
      await proc.stop();
      throw e;
    }
    return api;
  }

  upsert(kind: string, object: JsonObject): Promise<string> {
    return this.proc.call<string>('upsert', { kind, object });
  }

  upsertMany(items: readonly { kind: string; object: JsonObject }[]): Promise<string> {
    return this.proc.call<string>('upsertMany', { items });
  }

  remove(kind: string, namespace: string | undefined, name: string): Promise<boolean> {
    return this.proc.call<boolean>('remove', { kind, namespace, name });
  }

  dropWatches(abrupt = false): Promise<number> {
    return this.proc.call<number>('dropWatches', { abrupt });
  }

  compact(expireWatches = true): Promise<void> {
    return this.proc.call<void>('compact', { expireWatches });
  }

  failWith(status: number, ms: number): Promise<void> {
    return this.proc.call<void>('failWith', { status, ms });
  }

  clearFailure(): Promise<void> {
    return this.proc.call<void>('clearFailure');
  }

  stopServing(): Promise<void> {
    return this.proc.call<void>('stop');
  }

  restart(): Promise<void> {
    return this.proc.call<void>('restart');
  }

  /** Unreachable for `ms`, then back; resolves once it is listening again. */
  async down(ms: number): Promise<void> {
    const before = Date.now();
    await this.proc.call<void>('down', { ms });
    await this.proc.waitForEvent((e) => e.event === 'up' && Number(e.at) >= before, ms + 30_000);
  }

  stats(since = 0): Promise<ApiServerStats> {
    return this.proc.call<ApiServerStats>('stats', { since });
  }

  /** Closes the server and ends the process (SIGKILL if it does not end). */
  async close(): Promise<void> {
    if (this.proc.hasExited()) return;
    try {
      await this.proc.call('shutdown', {}, 5000);
    } catch { /* it may exit before answering */ }
    await this.proc.stop(2000);
  }
}

// ------------------------------------------------------------------ process side

async function serve(argv: readonly string[]): Promise<void> {
  const expect = argValue(argv, '--expect-netns');
  if (expect !== undefined) {
    // SAFETY: only ever serve inside the sandbox namespace we were told about.
    let want: number;
    try { want = statSync(join('/run/netns', expect)).ino; } catch { throw new Error(`namespace ${expect} does not exist`); }
    if (statSync('/proc/self/ns/net').ino !== want) throw new Error(`not inside namespace ${expect}`);
  }
  const server = await FakeApiServer.start({ port: Number(argValue(argv, '--port') ?? 0), bookmarkIntervalMs: 1000 });
  let kubeconfig = server.kubeconfigFile();
  const kubeconfigDir = argValue(argv, '--kubeconfig-dir');
  if (kubeconfigDir !== undefined) {
    const moved = join(kubeconfigDir, `kubeconfig-${server.port}`);
    copyFileSync(kubeconfig, moved);
    rmSync(dirname(kubeconfig), { recursive: true, force: true });
    kubeconfig = moved;
  }
  let shuttingDown = false;
  const shutdown = async (code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    await server.close().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown(0));
  process.on('SIGINT', () => void shutdown(0));

  const commands: AgentCommands = {
    upsert: (m) => server.upsert(m.kind, m.object).metadata.resourceVersion,
    upsertMany: (m) => {
      for (const it of m.items as { kind: string; object: JsonObject }[]) server.upsert(it.kind, it.object);
      return server.resourceVersion;
    },
    remove: (m) => server.remove(m.kind, m.namespace, m.name),
    dropWatches: (m) => server.dropWatches({ abrupt: m.abrupt === true }),
    compact: (m) => server.compact({ expireWatches: m.expireWatches !== false }),
    failWith: (m) => server.failWith(Number(m.status), Number(m.ms)),
    clearFailure: () => server.clearFailure(),
    stop: () => server.stop(),
    restart: () => server.restart(),
    down: async (m) => {
      await server.stop();
      setTimeout(() => {
        void server.restart().then(() => emit({ event: 'up', at: Date.now() }), (e: Error) => emit({ event: 'restart-failed', error: e.message }));
      }, Number(m.ms));
    },
    stats: (m) => {
      const since = Number(m.since ?? 0);
      const lists: Record<string, number> = {};
      const watches: Record<string, number> = {};
      let errors = 0;
      let gone = 0;
      for (const r of server.requests) {
        if (r.time < since) continue;
        const k = r.kind ?? '?';
        if (r.watch) watches[k] = (watches[k] ?? 0) + 1;
        else lists[k] = (lists[k] ?? 0) + 1;
        if (r.status >= 400) errors++;
        if (r.status === 410) gone++;
      }
      // Old records are of no use to anyone; keep memory flat over long churn runs.
      if (server.requests.length > 50_000) server.requests.splice(0, server.requests.length - 10_000);
      return { lists, watches, errors, gone, openWatches: server.openWatches() };
    },
    shutdown: () => { setImmediate(() => void shutdown(0)); },
  };

  serveCommands(commands, () => void shutdown(0));
  emit({ event: 'ready', port: server.port, url: server.url, kubeconfig });
}

if (process.argv[1] && resolve(process.argv[1]) === here) {
  serve(process.argv.slice(2)).catch((e: Error) => {
    process.stderr.write(`apiserver-process: ${e.message}\n`);
    process.exit(1);
  });
}

