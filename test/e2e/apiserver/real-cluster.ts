/**
 * real-cluster.ts: the fixture of the real-API-server suite, one per test file: a one-node sandbox with
 * the file's pods, etcd and kube-apiserver in the node's namespace (test/support/real-apiserver.ts), and
 * kpx beside them on --kubeconfig, in iptables mode, started after the file's objects exist (its first
 * list sees them).
 */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { buildSandbox, type Sandbox } from '../../../src/sandbox/builder.js';
import { defaultEntry, KpxInstance, kpxCommand, nowSeconds } from '../../../src/sandbox/kpx-runner.js';
import { endpointSliceManifest, nodeManifest, serviceManifest, type EndpointSpec, type ServiceSpec } from '../../../src/sandbox/manifests.js';
import { CLUSTER_CIDR, type NodePlan, type PodSpec } from '../../../src/sandbox/plan.js';
import { requestMany, type Distribution } from '../../../src/sandbox/traffic.js';
import { RealApiServer, realApiServerSkipReason, type JsonObject } from '../../support/real-apiserver.js';
import { notReadyReason } from '../../support/sandbox-cluster.js';
import { eventually } from '../../support/sandbox.js';

/** Why the suite is skipped here (one line), or undefined. */
export const SKIP = realApiServerSkipReason() ?? notReadyReason('iptables');

const METRICS_PORT = 10249;
const HEALTHZ_PORT = 10256;
/** A change made through the API must show in traffic within this (the machine is shared and slow). */
export const CHANGE_TIMEOUT_MS = 30_000;

/** A ClusterIP service with one port, 80 → the pods' 8080 (where their servers listen). */
export function httpService(name: string, clusterIP: string): ServiceSpec {
  return { name, clusterIP, ports: [{ name: 'http', port: 80, targetPort: 8080 }] };
}

export interface RealClusterOptions {
  /** The pods on node1; a client pod "src" (no server) is added. */
  pods: readonly PodSpec[];
  watchCache?: boolean;
  auditedUsers?: readonly string[];
  /** Makes the objects kpx's first list must see. */
  setup?(c: RealCluster): Promise<void>;
  /** kpx's kubeconfig; default the system:kube-proxy user's. */
  kubeconfig?(c: RealCluster): Promise<string>;
  /** More kpx flags. */
  kpxArgs?: readonly string[];
  kpxStartTimeoutMs?: number;
  /** How long before() may take (default 120 s). */
  setupTimeoutMs?: number;
}

export class RealCluster {
  kpx: KpxInstance | undefined;

  /** kpxLog: every line kpx printed, with the time it arrived (filled by the sandbox's line handler). */
  constructor(readonly sb: Sandbox, readonly api: RealApiServer, readonly kpxLog: readonly { at: number; line: string }[]) {}

  get node(): NodePlan {
    return this.sb.node('node1');
  }

  endpoints(pods: readonly string[]): EndpointSpec[] {
    return pods.map((name) => {
      const p = this.sb.pod(name);
      return { ip: p.ip, nodeName: p.node, podName: p.name };
    });
  }

  /** This node's Node object with extra labels. */
  nodeObject(labels: Record<string, string> = {}): JsonObject {
    const n = nodeManifest(this.node) as JsonObject;
    return { ...n, metadata: { ...n.metadata, labels: { ...n.metadata.labels, ...labels } } };
  }

  /** Creates or updates a Service and its one EndpointSlice (listing `pods`). */
  async applyService(spec: ServiceSpec, pods: readonly string[]): Promise<void> {
    await this.api.apply(serviceManifest(spec) as JsonObject);
    await this.api.apply(endpointSliceManifest(spec, this.endpoints(pods)) as JsonObject);
  }

  async removeService(spec: ServiceSpec): Promise<void> {
    await this.api.remove('EndpointSlice', spec.namespace, `${spec.name}-1`);
    await this.api.remove('Service', spec.namespace, spec.name);
  }

  /** Starts kpx in the node namespace on `kubeconfig` and waits for its first sync. */
  async startKpx(kubeconfig: string, extraArgs: readonly string[] = [], timeoutMs = 60_000): Promise<KpxInstance> {
    const node = this.node;
    const args = [
      '--kubeconfig', kubeconfig,
      '--hostname-override', node.name,
      '--proxy-mode', 'iptables',
      '--cluster-cidr', CLUSTER_CIDR,
      '--healthz-bind-address', `0.0.0.0:${HEALTHZ_PORT}`,
      '--metrics-bind-address', `127.0.0.1:${METRICS_PORT}`,
      ...extraArgs,
    ];
    const since = nowSeconds();
    const { cmd, args: argv, cwd } = kpxCommand(defaultEntry(), args);
    const proc = this.sb.startProcess(node.ns, 'kpx node1', cmd, argv, { cwd });
    const kpx = new KpxInstance(node, proc, METRICS_PORT, HEALTHZ_PORT);
    try {
      await kpx.waitForSync(since, { requireQueued: false, timeoutMs });
    } catch (e) {
      await kpx.stop();
      throw e;
    }
    this.kpx = kpx;
    return kpx;
  }

  /** kpx's log lines since `since` (ms epoch) matching `re`. */
  kpxLines(re: RegExp, since = 0): string[] {
    return this.kpxLog.filter((l) => l.at >= since && re.test(l.line)).map((l) => l.line);
  }

  /** `count` requests from the client pod to addr:port. */
  answers(addr: string, port: number, count = 12): Promise<Distribution> {
    return requestMany(this.sb.ns('src'), addr, port, 'tcp', count, { timeoutMs: 2000 });
  }

  /** Polls until every request to addr:port is answered, by exactly the pods named. */
  async expectPods(addr: string, port: number, pods: readonly string[], timeoutMs = CHANGE_TIMEOUT_MS): Promise<void> {
    await eventually(async () => {
      const d = await this.answers(addr, port);
      assert.deepEqual({ pods: d.pods, errors: [...d.errors] }, { pods: [...pods].sort(), errors: [] },
        `${addr}:${port} answered by ${JSON.stringify([...d.byPod])}${this.kpxTail()}`);
    }, timeoutMs, 300);
  }

  /**
   * Polls until no rule of kpx names the ClusterIP any more (a deleted Service: not even the REJECT of a
   * service without endpoints), then checks that no pod answers there.
   */
  async expectGone(addr: string, port: number, timeoutMs = CHANGE_TIMEOUT_MS): Promise<void> {
    await eventually(async () => {
      const rules = (await this.sb.exec(this.node.ns, 'iptables-save', [])).stdout;
      assert.ok(!rules.includes(`${addr}/32`), `kpx still has rules for ${addr}:\n${rules.split('\n').filter((l) => l.includes(addr)).join('\n')}`);
    }, timeoutMs, 300);
    const d = await this.answers(addr, port, 2);
    assert.deepEqual(d.pods, [], `${addr}:${port} still answered: ${JSON.stringify(d.results)}`);
  }

  private kpxTail(): string {
    return `\n--- kpx, last lines ---\n${this.kpxLog.slice(-15).map((l) => l.line).join('\n')}`;
  }
}

/** Registers before/after hooks building the file's cluster; `c` is valid inside tests. */
export function useRealCluster(opts: RealClusterOptions): { readonly c: RealCluster } {
  let cluster: RealCluster | undefined;
  let sb: Sandbox | undefined;
  let api: RealApiServer | undefined;
  const debug = process.env.KPX_SANDBOX_DEBUG ? (src: string, line: string) => process.stderr.write(`[${src}] ${line}\n`) : undefined;
  before(async () => {
    const kpxLog: { at: number; line: string }[] = [];
    sb = await buildSandbox({
      nodes: 1,
      pods: [...opts.pods, { name: 'src', node: 1, noServer: true }],
      onLine: (src, line) => {
        if (src.startsWith('kpx')) {
          kpxLog.push({ at: Date.now(), line });
          if (kpxLog.length > 20_000) kpxLog.splice(0, 10_000);
        }
        debug?.(src, line);
      },
    });
    api = await RealApiServer.start(sb, sb.node('node1').ns, {
      advertiseAddress: sb.node('node1').nodeIP, watchCache: opts.watchCache, auditedUsers: opts.auditedUsers,
    });
    cluster = new RealCluster(sb, api, kpxLog);
    await api.apply(cluster.nodeObject());
    await opts.setup?.(cluster);
    const kubeconfig = opts.kubeconfig ? await opts.kubeconfig(cluster) : api.kubeProxyKubeconfig;
    await cluster.startKpx(kubeconfig, opts.kpxArgs, opts.kpxStartTimeoutMs);
  }, { timeout: opts.setupTimeoutMs ?? 120_000 });
  after(async () => {
    await cluster?.kpx?.stop();
    await api?.stop();
    await sb?.destroy();
  }, { timeout: 60_000 });
  return {
    get c(): RealCluster {
      if (!cluster?.kpx) throw new Error('the real-apiserver cluster is not up (before() failed)');
      return cluster;
    },
  };
}
