/**
 * builder.ts: carries out a SandboxPlan (plan.ts) in the kernel and owns everything it made: the
 * namespaces, the processes running in them and a temporary directory. destroy() removes all of it,
 * is idempotent, and also runs from exit/signal handlers when the process ends without calling it.
 *
 * Links are veths created directly between two sandbox namespaces (`ip -n A link add x type veth peer
 * name y netns B`): no interface ever appears in the host's namespace, not even for an instant.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackground, type BackgroundProcess } from './background.js';
import { registerForExitCleanup } from './exit-cleanup.js';
import { addNamespace, deleteNamespace, execIn, ipBatch, setSysctls } from './netns.js';
import {
  checkPodName, planSandbox, podPlan,
  type ClientPlan, type NodePlan, type PodPlan, type PodSpec, type SandboxOptions, type SandboxPlan,
} from './plan.js';
import { nodeBinary, scriptPath, slowFactor } from './scripts.js';
import { removeOwnerMarker, sweepStaleSandboxes, writeOwnerMarker } from './stale.js';

export interface BuildOptions extends SandboxOptions {
  /** Receives every output line of the processes the sandbox runs (debugging). */
  onLine?: (source: string, line: string) => void;
}

const NODE_SYSCTLS = {
  'net.ipv4.ip_forward': 1,
  // Bridged pod-to-pod replies must pass the node's conntrack to be un-DNATed (kubenet/bridge CNI).
  'net.bridge.bridge-nf-call-iptables': 1,
  // Pods and their gateway share a subnet: redirects would teach pods to bypass the node.
  'net.ipv4.conf.all.send_redirects': 0,
  'net.ipv4.conf.default.send_redirects': 0,
  // Asymmetric paths (replies from a pod on the other node) are normal here.
  'net.ipv4.conf.all.rp_filter': 0,
  'net.ipv4.conf.default.rp_filter': 0,
};

const NODE_SYSCTLS_V6 = {
  'net.ipv6.conf.all.forwarding': 1,
  'net.bridge.bridge-nf-call-ip6tables': 1,
};

export class Sandbox {
  readonly prefix: string;
  readonly lanNs: string;
  readonly nodes: readonly NodePlan[];
  readonly client: ClientPlan | undefined;
  /** Every namespace has an IPv6 address too (see plan.ts). */
  readonly dualStack: boolean;
  /** A private directory, removed by destroy() (manifests, logs). */
  readonly tmpDir: string;

  private readonly podsByName = new Map<string, PodPlan>();
  private readonly servers = new Map<string, BackgroundProcess>();
  private readonly processes = new Set<BackgroundProcess>();
  private readonly created: string[] = [];
  private readonly nextPodIndex = new Map<string, number>();
  private readonly onLine: BuildOptions['onLine'];
  private readonly unregister: () => void;
  private destroying: Promise<void> | undefined;

  private constructor(plan: SandboxPlan, onLine: BuildOptions['onLine']) {
    this.prefix = plan.prefix;
    this.lanNs = plan.lanNs;
    this.nodes = plan.nodes;
    this.client = plan.client;
    this.dualStack = plan.nodes.some((n) => n.v6 !== undefined);
    this.onLine = onLine;
    this.tmpDir = mkdtempSync(join(tmpdir(), `${plan.prefix}`));
    for (const n of plan.nodes) this.nextPodIndex.set(n.name, 1);
    this.unregister = registerForExitCleanup({
      pids: () => [...this.processes].filter((p) => !p.hasExited()).map((p) => p.pid),
      namespaces: () => [...this.created].reverse(),
      cleaned: () => {
        removeOwnerMarker(this.prefix);
        rmSync(this.tmpDir, { recursive: true, force: true });
      },
    });
    writeOwnerMarker(plan.prefix);
  }

  /** Builds the whole sandbox; on any failure removes what was made and rethrows. */
  static async build(opts: BuildOptions = {}): Promise<Sandbox> {
    const plan = planSandbox(opts);
    // Sandboxes of runs that were killed outright (no exit handler ran) would otherwise pile up.
    await sweepStaleSandboxes().catch(() => []);
    const sb = new Sandbox(plan, opts.onLine);
    try {
      await sb.createLan();
      for (const node of plan.nodes) await sb.createNode(node);
      if (plan.client) await sb.createClient(plan.client);
      for (const pod of plan.pods) {
        sb.nextPodIndex.set(pod.node, (sb.nextPodIndex.get(pod.node) ?? 1) + 1);
        await sb.createPod(pod);
      }
      await Promise.all(plan.pods.filter((p) => !p.noServer).map((p) => sb.startPodServer(p)));
      return sb;
    } catch (e) {
      await sb.destroy();
      throw e;
    }
  }

  /** Every namespace currently part of the sandbox. */
  namespaces(): string[] {
    return [...this.created];
  }

  node(name: string | number): NodePlan {
    const n = this.nodes.find((x) => x.name === name || x.index === name);
    if (!n) throw new Error(`sandbox has no node ${name}`);
    return n;
  }

  pod(name: string): PodPlan {
    const p = this.podsByName.get(name);
    if (!p) throw new Error(`sandbox has no pod ${name}`);
    return p;
  }

  pods(): PodPlan[] {
    return [...this.podsByName.values()];
  }

  /** The namespace of a node, pod or "client" by name. */
  ns(name: string): string {
    if (name === 'client') {
      if (!this.client) throw new Error('sandbox was built without an external client');
      return this.client.ns;
    }
    const node = this.nodes.find((n) => n.name === name);
    if (node) return node.ns;
    return this.pod(name).ns;
  }

  /** Adds a pod to a running sandbox (a new address on its node's bridge) and starts its server. */
  async addPod(spec: PodSpec): Promise<PodPlan> {
    this.assertAlive();
    const nodeName = `node${spec.node}`;
    this.node(nodeName);
    checkPodName(spec.name);
    if (this.podsByName.has(spec.name) || spec.name === 'client' || spec.name === 'lan' || /^node\d+$/.test(spec.name)) {
      throw new Error(`pod name ${spec.name} is taken`);
    }
    const idx = this.nextPodIndex.get(nodeName) ?? 1;
    this.nextPodIndex.set(nodeName, idx + 1);
    const pod = podPlan(this.prefix, spec, idx, this.dualStack);
    await this.createPod(pod);
    if (!pod.noServer) await this.startPodServer(pod);
    return pod;
  }

  /** Stops a pod's server and deletes its namespace (its veth goes with it). */
  async removePod(name: string): Promise<void> {
    const pod = this.pod(name);
    await this.stopServer(name);
    await deleteNamespace(pod.ns);
    this.podsByName.delete(name);
    const i = this.created.indexOf(pod.ns);
    if (i >= 0) this.created.splice(i, 1);
  }

  /** Starts (or restarts) the server of a pod. */
  async startPodServer(pod: PodPlan): Promise<BackgroundProcess> {
    await this.stopServer(pod.name);
    const proc = await this.startServerIn(pod.ns, pod.name, pod.tcpPorts, pod.udpPorts);
    this.servers.set(pod.name, proc);
    return proc;
  }

  /** Stops a pod's server (the pod stays: its ports then refuse). */
  async stopServer(podName: string): Promise<void> {
    const proc = this.servers.get(podName);
    if (!proc) return;
    this.servers.delete(podName);
    await proc.stop();
    this.processes.delete(proc);
  }

  /** Runs a pod-style server anywhere in the sandbox (e.g. in a node namespace), answering as `name`. */
  async startServerIn(ns: string, name: string, tcpPorts: readonly number[], udpPorts: readonly number[]): Promise<BackgroundProcess> {
    this.assertAlive();
    this.assertNs(ns);
    const args = [scriptPath('pod-server.mjs'), '--name', name, '--tcp', tcpPorts.join(','), '--udp', udpPorts.join(',')];
    const proc = this.startProcess(ns, `server ${name}`, nodeBinary(), args);
    try {
      await proc.waitForLine(/^READY /, 10_000 * slowFactor());
    } catch (e) {
      await proc.stop();
      this.processes.delete(proc);
      throw e;
    }
    return proc;
  }

  /** Starts any long-running process in a sandbox namespace; destroy() stops it by pid. */
  startProcess(ns: string, label: string, cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): BackgroundProcess {
    this.assertAlive();
    this.assertNs(ns);
    const proc = startBackground(cmd, args, {
      ns, label, cwd: opts.cwd, env: opts.env,
      onLine: this.onLine ? (line, stream) => this.onLine!(`${label}${stream === 'stderr' ? '!' : ''}`, line) : undefined,
    });
    this.processes.add(proc);
    // An ended process needs no cleanup; dropping it keeps the set small over long runs.
    void proc.exited.then(() => { this.processes.delete(proc); });
    return proc;
  }

  /** Runs a command to completion inside one of the sandbox's namespaces. */
  async exec(ns: string, cmd: string, args: readonly string[], opts: { input?: string; okCodes?: readonly number[]; timeoutMs?: number } = {}) {
    this.assertNs(ns);
    return execIn(ns, cmd, args, opts);
  }

  /** Removes every process, namespace and file of the sandbox. Safe to call twice or concurrently. */
  destroy(): Promise<void> {
    this.destroying ??= this.doDestroy();
    return this.destroying;
  }

  get destroyed(): boolean {
    return this.destroying !== undefined;
  }

  private async doDestroy(): Promise<void> {
    const errors: string[] = [];
    await Promise.all([...this.processes].map((p) => p.stop(2000).catch((e: Error) => { errors.push(e.message); })));
    this.processes.clear();
    this.servers.clear();
    for (const ns of [...this.created].reverse()) {
      try {
        await deleteNamespace(ns);
        this.created.splice(this.created.indexOf(ns), 1);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    try { rmSync(this.tmpDir, { recursive: true, force: true }); } catch (e) { errors.push((e as Error).message); }
    if (this.created.length === 0) {
      this.unregister();
      removeOwnerMarker(this.prefix);
    }
    if (errors.length) throw new Error(`sandbox ${this.prefix} cleanup had errors: ${errors.join('; ')}`);
  }

  private assertAlive(): void {
    if (this.destroying) throw new Error(`sandbox ${this.prefix} is destroyed`);
  }

  private assertNs(ns: string): void {
    if (!this.created.includes(ns)) throw new Error(`${ns} is not a namespace of sandbox ${this.prefix}`);
  }

  private async newNamespace(ns: string): Promise<void> {
    // Recorded before it exists, so a failure half-way still gets it deleted.
    this.created.push(ns);
    await addNamespace(ns);
    // Duplicate address detection keeps new links' addresses (link-local ones too, used by neighbour
    // discovery) tentative for a second or more: the first IPv6 packets would be lost. Nothing here can
    // collide, so it is off for every interface made later in this namespace.
    if (this.dualStack) await setSysctls(ns, { 'net.ipv6.conf.all.accept_dad': 0, 'net.ipv6.conf.default.accept_dad': 0 });
  }

  private async createLan(): Promise<void> {
    await this.newNamespace(this.lanNs);
    await ipBatch(this.lanNs, ['link set lo up', 'link add br0 type bridge', 'link set br0 up']);
    // A plain switch: its bridged frames should not meet netfilter in this namespace.
    await setSysctls(this.lanNs, { 'net.bridge.bridge-nf-call-iptables': 0 });
  }

  private async createNode(node: NodePlan): Promise<void> {
    await this.newNamespace(node.ns);
    const lanPort = `n${node.index}`;
    await ipBatch(node.ns, [
      'link set lo up',
      `link add ${node.bridgeDev} type bridge`,
      `addr add ${node.bridgeIP}/24 dev ${node.bridgeDev}`,
      `link set ${node.bridgeDev} up`,
      `link add ${node.uplinkDev} type veth peer name ${lanPort} netns ${this.lanNs}`,
      `addr add ${node.nodeIP}/24 dev ${node.uplinkDev}`,
      `link set ${node.uplinkDev} up`,
      // Output to a ClusterIP is routed before it is DNATed: without a route it fails with ENETUNREACH.
      `route add default dev ${node.uplinkDev}`,
      ...node.podRoutes.map((r) => `route add ${r.cidr} via ${r.via} dev ${node.uplinkDev}`),
      ...(node.v6 ? [
        // nodad: duplicate address detection would hold the addresses back for a second or two.
        `addr add ${node.v6.bridgeIP}/64 dev ${node.bridgeDev} nodad`,
        `addr add ${node.v6.nodeIP}/64 dev ${node.uplinkDev} nodad`,
        `route add ::/0 dev ${node.uplinkDev}`,
        ...node.v6.podRoutes.map((r) => `route add ${r.cidr} via ${r.via} dev ${node.uplinkDev}`),
      ] : []),
    ]);
    await ipBatch(this.lanNs, [`link set ${lanPort} master br0`, `link set ${lanPort} up`]);
    await setSysctls(node.ns, node.v6 ? { ...NODE_SYSCTLS, ...NODE_SYSCTLS_V6 } : NODE_SYSCTLS);
  }

  private async createClient(client: ClientPlan): Promise<void> {
    await this.newNamespace(client.ns);
    await ipBatch(client.ns, [
      'link set lo up',
      `link add eth0 type veth peer name cl netns ${this.lanNs}`,
      ...client.ips.map((ip) => `addr add ${ip}/24 dev eth0`),
      ...(client.v6 ? client.v6.ips.map((ip) => `addr add ${ip}/64 dev eth0 nodad`) : []),
      'link set eth0 up',
      `route add default via ${client.gateway} dev eth0`,
      ...(client.v6 ? [`route add ::/0 via ${client.v6.gateway} dev eth0`] : []),
    ]);
    await ipBatch(this.lanNs, ['link set cl master br0', 'link set cl up']);
  }

  private async createPod(pod: PodPlan): Promise<void> {
    const node = this.node(pod.node);
    await this.newNamespace(pod.ns);
    this.podsByName.set(pod.name, pod);
    await ipBatch(node.ns, [
      `link add ${pod.hostDev} type veth peer name eth0 netns ${pod.ns}`,
      `link set ${pod.hostDev} master ${node.bridgeDev}`,
      // The bridge CNI's hairpinMode / kubelet's hairpin-veth: a pod reaching itself through its service
      // is DNATed while being bridged, and its frame must be allowed back out of the port it came in on.
      `link set ${pod.hostDev} type bridge_slave hairpin on`,
      `link set ${pod.hostDev} up`,
    ]);
    await ipBatch(pod.ns, [
      'link set lo up',
      `addr add ${pod.ip}/24 dev eth0`,
      ...(pod.v6 ? [`addr add ${pod.v6.ip}/64 dev eth0 nodad`] : []),
      'link set eth0 up',
      `route add default via ${pod.gateway} dev eth0`,
      ...(pod.v6 ? [`route add ::/0 via ${pod.v6.gateway} dev eth0`] : []),
    ]);
  }
}

/** Builds a sandbox (see plan.ts for its layout). Call destroy() in a finally/after hook. */
export function buildSandbox(opts: BuildOptions = {}): Promise<Sandbox> {
  return Sandbox.build(opts);
}
