/**
 * chaos-cluster.ts (test support): the chaos suite's cluster. One sandbox node running kpx (iptables
 * mode unless `create({ mode })` says otherwise) against the in-test API server (apiserver-process.ts, inside the node namespace), backend pods
 * behind several ClusterIP services, and a client pod sending continuous load (chaos-load.ts).
 *
 * Sync periods are short (--iptables-sync-period 5s, --iptables-min-sync-period 500ms) so every fault
 * plays out within seconds; `SYNC_PERIOD_MS` is what the scenarios measure "within one sync period" by.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { buildSandbox, type Sandbox } from '../../src/sandbox/builder.js';
import { kpxCommand, defaultEntry, KpxInstance, nowSeconds } from '../../src/sandbox/kpx-runner.js';
import { endpointSliceManifest, serviceManifest, nodeManifest, type EndpointSpec, type ServiceSpec } from '../../src/sandbox/manifests.js';
import { CLUSTER_CIDR, type PodPlan } from '../../src/sandbox/plan.js';
import { isAnswer, request } from '../../src/sandbox/traffic.js';
import { ApiServerProcess } from './apiserver-process.js';
import { ChaosLoad, totals, type HeldSnapshot, type LoadSnapshot, type LoadTarget } from './chaos-load.js';

export const SYNC_PERIOD = '5s';
export const SYNC_PERIOD_MS = 5_000;
export const MIN_SYNC_PERIOD = '500ms';
export const MIN_SYNC_PERIOD_MS = 500;
/** Requests a second over all load targets (the three services and the control). */
export const LOAD_RATE = 100;
/**
 * A request not answered within this is failed. 2 s, a short budget for a client that connects and
 * sends one GET: a dropped SYN is only retransmitted after 1 s, so a blackout of a second or more always
 * fails requests, while a machine this busy (2 cores shared with other suites) does not fail requests
 * that merely ran slow, as it does at 1 s (the control target failed too).
 */
export const LOAD_TIMEOUT_MS = 2000;
const METRICS_PORT = 10249;
/** The modes the chaos cluster runs kpx in (ipvs needs the VM: test/ipvs/scenarios/chaos.scenario.ts). */
export type ChaosMode = 'iptables' | 'userspace';
const HEALTHZ_PORT = 10256;

/** The load target that bypasses kpx (a pod address): the baseline every row is read against. */
export const CONTROL_TARGET = 'control-pod-ip';

export interface ChaosService {
  spec: ServiceSpec;
  /** Pods behind it (their names). */
  pods: string[];
}

const LOADED: readonly { name: string; ip: string; pods: string[] }[] = [
  { name: 'svc-a', ip: '10.96.10.1', pods: ['web-1', 'web-2'] },
  { name: 'svc-b', ip: '10.96.10.2', pods: ['web-3', 'web-4'] },
  { name: 'svc-c', ip: '10.96.10.3', pods: ['web-1', 'web-3', 'web-4'] },
];

export function serviceSpec(name: string, ip: string): ServiceSpec {
  return { name, clusterIP: ip, ports: [{ name: 'http', port: 80, targetPort: 8080 }] };
}

/** The row of the fault table. */
export interface FaultRow {
  fault: string;
  sent: number;
  failed: number;
  note: string;
  /** Failures that mean the network path broke: refused, reset, unreachable, SYN never answered. */
  pathFailed: number;
  /** Answers that came too late on an established connection. */
  slowAnswers: number;
  /** The control target (no kpx rule) also failed or the client stalled: the machine was overloaded. */
  machineOverloaded: boolean;
}

export class ChaosCluster {
  readonly sb: Sandbox;
  readonly api: ApiServerProcess;
  readonly services: ChaosService[];
  /** The --proxy-mode kpx runs with. */
  readonly mode: ChaosMode;
  load!: ChaosLoad;
  kpx!: KpxInstance;
  /** When the running kpx was started (seconds since the epoch, nowSeconds()). */
  private kpxStartedAt = 0;
  /** Extra environment for the next kpx start (PATH with a fault binary, XTABLES_LOCKFILE). */
  kpxEnv: NodeJS.ProcessEnv = process.env;
  /** The iptables-save that shows kpx's rules: iptables-legacy-save when kpx runs on the legacy backend. */
  iptablesSave = 'iptables-save';
  private readonly debug = Boolean(process.env.KPX_SANDBOX_DEBUG);
  /** Every line kpx printed (all its runs), with the time it arrived. */
  readonly kpxLog: { at: number; line: string }[];

  private constructor(sb: Sandbox, api: ApiServerProcess, services: ChaosService[], kpxLog: { at: number; line: string }[], mode: ChaosMode) {
    this.sb = sb;
    this.mode = mode;
    this.api = api;
    this.services = services;
    this.kpxLog = kpxLog;
  }

  /** kpx's log lines since `since` (ms epoch) matching `re`. */
  kpxLines(re: RegExp, since = 0): string[] {
    return this.kpxLog.filter((l) => l.at >= since && re.test(l.line)).map((l) => l.line);
  }

  get nodeNs(): string {
    return this.sb.node('node1').ns;
  }

  /**
   * Builds the sandbox, starts the API server with the services, then (unless `startKpx: false`) kpx
   * and the load. On any failure everything made so far is removed.
   */
  static async create(opts: { startKpx?: boolean; beforeKpx?: (c: ChaosCluster) => Promise<void>; mode?: ChaosMode } = {}): Promise<ChaosCluster> {
    const debug = process.env.KPX_SANDBOX_DEBUG ? (src: string, line: string) => process.stderr.write(`[${src}] ${line}\n`) : undefined;
    const kpxLog: { at: number; line: string }[] = [];
    const onLine = (src: string, line: string) => {
      if (src.startsWith('kpx')) {
        kpxLog.push({ at: Date.now(), line });
        if (kpxLog.length > 20_000) kpxLog.splice(0, 10_000);
      }
      debug?.(src, line);
    };
    const sb = await buildSandbox({
      nodes: 1,
      pods: [
        { name: 'web-1', node: 1 }, { name: 'web-2', node: 1 }, { name: 'web-3', node: 1 }, { name: 'web-4', node: 1 },
        { name: 'loader', node: 1, noServer: true },
      ],
      onLine,
    });
    let api: ApiServerProcess | undefined;
    try {
      api = await ApiServerProcess.start(sb, sb.node('node1').ns, { onLine: debug ? (l) => debug('apiserver', l) : undefined });
      const services = LOADED.map((s) => ({ spec: serviceSpec(s.name, s.ip), pods: [...s.pods] }));
      const c = new ChaosCluster(sb, api, services, kpxLog, opts.mode ?? 'iptables');
      await api.upsert('Node', nodeManifest(sb.node('node1')) as object as Record<string, unknown>);
      for (const s of services) await c.writeService(s.spec, s.pods);
      if (opts.beforeKpx) await opts.beforeKpx(c);
      if (opts.startKpx ?? true) {
        await c.startKpx();
        await c.startLoad();
      }
      return c;
    } catch (e) {
      await api?.close().catch(() => undefined);
      await sb.destroy();
      throw e;
    }
  }

  endpointsOf(pods: readonly string[]): EndpointSpec[] {
    return pods.map((name) => {
      const p: PodPlan = this.sb.pod(name);
      return { ip: p.ip, nodeName: p.node, podName: p.name };
    });
  }

  async writeService(spec: ServiceSpec, pods: readonly string[]): Promise<void> {
    await this.api.upsert('Service', serviceManifest(spec) as object as Record<string, unknown>);
    await this.writeEndpoints(spec, this.endpointsOf(pods));
  }

  writeEndpoints(spec: ServiceSpec, endpoints: readonly EndpointSpec[]): Promise<string> {
    return this.api.upsert('EndpointSlice', endpointSliceManifest(spec, endpoints) as object as Record<string, unknown>);
  }

  /** The command-line flags kpx runs with in every scenario. */
  kpxArgs(): string[] {
    return [
      '--kubeconfig', this.api.kubeconfig,
      '--hostname-override', 'node1',
      '--proxy-mode', this.mode,
      '--cluster-cidr', CLUSTER_CIDR,
      '--healthz-bind-address', `0.0.0.0:${HEALTHZ_PORT}`,
      '--metrics-bind-address', `127.0.0.1:${METRICS_PORT}`,
      // The userspace mode runs on the iptables periods too, as kube-proxy's did.
      '--iptables-sync-period', SYNC_PERIOD,
      '--iptables-min-sync-period', MIN_SYNC_PERIOD,
      // Level 2 logs every sync with its kind (full or partial): the scenarios read them.
      '-v', '2',
    ];
  }

  /** Starts kpx in the node namespace on the API server and waits for its first sync. */
  async startKpx(): Promise<KpxInstance> {
    const node = this.sb.node('node1');
    const since = nowSeconds();
    const { cmd, args, cwd } = kpxCommand(defaultEntry(), this.kpxArgs());
    const proc = this.sb.startProcess(node.ns, 'kpx node1', cmd, args, { cwd, env: this.kpxEnv });
    const kpx = new KpxInstance(node, proc, METRICS_PORT, HEALTHZ_PORT);
    try {
      await kpx.waitForSync(since, { requireQueued: false, timeoutMs: 60_000 });
    } catch (e) {
      await kpx.stop();
      throw e;
    }
    this.kpx = kpx;
    this.kpxStartedAt = since;
    return kpx;
  }

  /**
   * The services under load, plus a control target: a pod's own address, which no kpx rule touches. A
   * failure there means the machine (CPU, the namespaces' links) failed, not kpx.
   */
  loadTargets(): LoadTarget[] {
    return [
      ...this.services.map((s) => ({ name: s.spec.name, addr: s.spec.clusterIP, port: 80 })),
      { name: CONTROL_TARGET, addr: this.sb.pod('web-2').ip, port: 8080 },
    ];
  }

  /** The load targets that are services (every one but the control). */
  serviceTargets(): LoadTarget[] {
    return this.loadTargets().filter((t) => t.name !== CONTROL_TARGET);
  }

  serviceNames(): string[] {
    return this.services.map((s) => s.spec.name);
  }

  async startLoad(): Promise<void> {
    // Every service answers before the load starts: a failure later is the fault's, not the setup's.
    for (const t of this.loadTargets()) await this.expectServes(t.addr, t.port, 20_000);
    this.load = await ChaosLoad.start(this.sb, 'loader', this.loadTargets(), { ratePerSec: LOAD_RATE, timeoutMs: LOAD_TIMEOUT_MS });
  }

  /** Waits until a request from the loader pod to addr:port is answered by a pod. */
  async expectServes(addr: string, port: number, timeoutMs: number): Promise<number> {
    const start = Date.now();
    let last = '';
    while (Date.now() - start < timeoutMs) {
      const r = await request(this.sb.ns('loader'), addr, port, 'tcp', { timeoutMs: 500 });
      if (isAnswer(r) && r.status === 200) return Date.now() - start;
      last = isAnswer(r) ? `status ${r.status}` : r.error;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`${addr}:${port} not served within ${timeoutMs} ms (last: ${last})`);
  }

  /** kpx's metrics, name{labels} → value. */
  async metrics(): Promise<Map<string, number>> {
    const r = await request(this.nodeNs, '127.0.0.1', METRICS_PORT, 'tcp', { path: '/metrics', timeoutMs: 2000 });
    if (!isAnswer(r)) throw new Error(`metrics: ${r.error}`);
    const out = new Map<string, number>();
    for (const line of r.body.split('\n')) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) ([0-9.eE+-]+|NaN|[+-]Inf)$/.exec(line);
      if (m) out.set(m[1]!, Number(m[2]));
    }
    return out;
  }

  async metric(name: string): Promise<number> {
    return (await this.metrics()).get(name) ?? 0;
  }

  /** kpx's rules: KUBE- chains and rules of nat and filter, counters stripped, sorted per chain. */
  async kubeRules(): Promise<string> {
    const out: string[] = [];
    for (const table of ['nat', 'filter']) {
      const res = await this.sb.exec(this.nodeNs, this.iptablesSave, ['-t', table]);
      out.push(...kubeRulesOf(res.stdout).map((l) => `${table} ${l}`));
    }
    return out.join('\n');
  }

  /**
   * Waits until the running kpx has synced everything changed after `since` (seconds; take it before the
   * change). It waits for kpx to have queued a sync after `since`, so the change must reach a running kpx:
   * one made before kpx started comes in its initial list, which queues nothing (proxier.ts changed()), and
   * the wait would then hang until some unrelated change, a race on the informers' order. For those
   * changes startKpx's own wait (its first sync) is the one, and this refuses them.
   */
  waitForSync(since: number, timeoutMs = 30_000): Promise<void> {
    if (since < this.kpxStartedAt) {
      return Promise.reject(new Error(`waitForSync(${since}) for a change made before kpx started (${this.kpxStartedAt}): startKpx already waited for it`));
    }
    return this.kpx.waitForSync(since, { timeoutMs });
  }

  /** kpx's log lines so far (its stderr and stdout tail). */
  kpxOutput(): string {
    return this.kpx.proc.outputTail();
  }

  async destroy(): Promise<void> {
    await this.load?.stop().catch(() => undefined);
    await this.api.close().catch(() => undefined);
    await this.sb.destroy();
    if (this.debug) process.stderr.write(`[chaos] destroyed ${this.sb.prefix}\n`);
  }
}

/**
 * The KUBE- part of an iptables-save text: chain declarations (without counters) and rules that are in
 * or jump to a KUBE- chain, sorted, so two rulesets compare equal when kpx's part is the same.
 */
export function kubeRulesOf(save: string): string[] {
  const lines: string[] = [];
  for (const raw of save.split('\n')) {
    const line = raw.replace(/^\[\d+:\d+\] /, '').trim();
    if (line.startsWith(':KUBE-')) lines.push(line.split(' ')[0]!);
    else if (line.startsWith('-A ') && /(^-A KUBE-| -j KUBE-| -g KUBE-)/.test(line)) lines.push(line.replace(/ -c \d+ \d+/, ''));
  }
  return lines.sort();
}

/** Prints the fault table (and returns it) so it appears in the test output. */
export function printFaultTable(title: string, rows: readonly FaultRow[]): string {
  const w = Math.max(5, ...rows.map((r) => r.fault.length));
  const lines = [
    `${title}`,
    `${'fault'.padEnd(w)} | ${'sent'.padStart(6)} | ${'failed'.padStart(6)} | note`,
    `${'-'.repeat(w)}-+-${'-'.repeat(6)}-+-${'-'.repeat(6)}-+-----`,
    ...rows.map((r) => `${r.fault.padEnd(w)} | ${String(r.sent).padStart(6)} | ${String(r.failed).padStart(6)} | ${r.note}`),
  ];
  const text = lines.join('\n');
  process.stdout.write(`\n${text}\n\n`);
  return text;
}

/**
 * A row from a load window: requests to the services (every target but the control), with the control
 * target's own failures in the note when there were any.
 */
export function rowFrom(fault: string, snap: LoadSnapshot, note = ''): FaultRow {
  const names = Object.keys(snap.perTarget).filter((n) => n !== CONTROL_TARGET);
  const t = totals(snap, names);
  const control = snap.perTarget[CONTROL_TARGET];
  const errs = Object.entries(t.errors).map(([k, v]) => `${k}:${v}`).join(',');
  const ctlErrs = control ? Object.entries(control.errors).map(([k, v]) => `${k}:${v}`).join(',') : '';
  const ctl = control && control.failed > 0 ? `control (pod IP, no kpx rule) failed ${control.failed}/${control.sent} (${ctlErrs})` : '';
  const stalled = t.stalled + (control?.stalled ?? 0);
  const st = stalled > 0 ? `${stalled} timeouts while the load client itself stalled (up to ${snap.worstStall ?? 0} ms; not counted)` : '';
  const slowAnswers = t.errors['response-timeout'] ?? 0;
  return {
    fault, sent: t.sent, failed: t.failed,
    note: [note, errs ? `errors ${errs}` : '', ctl, st].filter(Boolean).join('; '),
    pathFailed: t.failed - slowAnswers,
    slowAnswers,
    machineOverloaded: (control?.failed ?? 0) > 0 || stalled > 0,
  };
}

/**
 * The chaos suite's target: zero failed requests to services with ready endpoints. Every path failure
 * (refused, reset, unreachable, a SYN never answered) counts. An answer that came too late on an
 * established connection is a fault of kpx only if the machine was not overloaded at the time: when the
 * control target (a pod IP, no kpx rule on its path) failed too, or the client stalled, slow answers are
 * the machine's (2 shared cores) and are reported in the table, not failed on.
 */
export function assertKeptTraffic(row: FaultRow, detail: string): void {
  assert.equal(row.pathFailed, 0, `requests failed on the network path during "${row.fault}": ${detail}`);
  if (!row.machineOverloaded) assert.equal(row.slowAnswers, 0, `answers timed out during "${row.fault}": ${detail}`);
}

/** The note for held keep-alive connections (ChaosLoad.hold) in a fault row. */
export function heldNote(h: HeldSnapshot): string {
  const errs = Object.entries(h.lostReasons).map(([k, v]) => `${k}:${v}`).join(',');
  return `held keep-alive connections ${h.open}/${h.held} still open, ${h.requests} requests on them, ${h.failed} failed` +
    (h.lost > 0 ? `, ${h.lost} lost (${errs})` : '');
}

/**
 * Open connections survived the fault: none of the held connections was closed or reset, and every
 * request on them was answered. A request that timed out while the machine was overloaded (see
 * assertKeptTraffic) closes its connection too; that one loss is the machine's, not the proxy's.
 */
export function assertHeldSurvived(h: HeldSnapshot, row: FaultRow): void {
  const slow = h.errors['response-timeout'] ?? 0;
  const allowed = row.machineOverloaded ? slow : 0;
  assert.ok(h.held > 0, 'connections were held');
  assert.ok(h.lost <= allowed && h.failed <= allowed, `held connections survived "${row.fault}": ${heldNote(h)} ${JSON.stringify(h.losses)}`);
}

/** Sleeps; the chaos scenarios are about what happens during a span of wall-clock time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Pids of the direct children of a process, with their command names (from /proc). */
export function childrenOf(pid: number): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  let tasks: string[];
  try { tasks = readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const t of tasks) {
    let kids = '';
    try { kids = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8'); } catch { continue; }
    for (const k of kids.trim().split(/\s+/).filter(Boolean)) {
      let comm = '';
      try { comm = readFileSync(`/proc/${k}/comm`, 'utf8').trim(); } catch { continue; }
      out.push({ pid: Number(k), comm });
    }
  }
  return out;
}

export interface ChurnResult {
  readonly sent: number;
  readonly elapsed: number;
  /** Syncs and endpoint changes kpx counted during the churn (its own metrics). */
  readonly syncs: number;
  readonly changes: number;
  /** The most syncs min-sync-period allows in that time (+3 for the edges). */
  readonly bound: number;
}

/**
 * Endpoint churn: `perSecond` EndpointSlice rewrites for `seconds`, each a non-empty subset of the real pods
 * ready plus 1-3 not-ready endpoints that no request may reach (their addresses have no pod); then the real
 * pods again, waited for. `startWindow` runs right before the churn (it resets the load counters).
 */
export async function churnEndpoints(c: ChaosCluster, spec: ServiceSpec, real: readonly string[], o: { seconds: number; perSecond: number; startWindow: () => Promise<unknown> }): Promise<ChurnResult> {
  const m0 = await c.metrics();
  const syncs0 = m0.get('kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family="IPv4"}') ?? 0;
  const changes0 = m0.get('kubeproxy_sync_proxy_rules_endpoint_changes_total') ?? 0;
  await o.startWindow();
  const start = Date.now();
  let sent = 0;
  while (Date.now() - start < o.seconds * 1000) {
    const due = Math.floor(((Date.now() - start) / 1000) * o.perSecond);
    while (sent < due) {
      const mask = (sent % 7) + 1;
      const ready = real.filter((_, i) => (mask >> i) & 1);
      const eps = [
        ...c.endpointsOf(ready),
        ...Array.from({ length: 1 + (sent % 3) }, (_, i) => ({ ip: `10.244.1.${200 + ((sent + i) % 50)}`, nodeName: 'node1', ready: false, serving: false })),
      ];
      await c.writeEndpoints(spec, eps);
      sent++;
    }
    await sleep(5);
  }
  const elapsed = (Date.now() - start) / 1000;
  const since = nowSeconds();
  await c.writeEndpoints(spec, c.endpointsOf(real));
  await c.waitForSync(since);
  const m1 = await c.metrics();
  return {
    sent, elapsed,
    syncs: (m1.get('kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family="IPv4"}') ?? 0) - syncs0,
    changes: (m1.get('kubeproxy_sync_proxy_rules_endpoint_changes_total') ?? 0) - changes0,
    bound: Math.ceil((elapsed * 1000) / MIN_SYNC_PERIOD_MS) + 3,
  };
}
