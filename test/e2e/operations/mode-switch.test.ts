/**
 * Mode switches and shutdown under continuous load (real kernel, one sandbox node): a client pod sends a
 * steady stream of requests (a new TCP connection each, 1 s timeout) to three ClusterIP services while kpx
 * is stopped with SIGTERM and started again on the same manifests:
 *   iptables running → SIGTERM (kpx down) → iptables again → userspace → iptables.
 * For each step the test counts requests sent and failed (a sampler reads the counts every 50 ms, so the
 * failures can be placed in time), checks that every service answers once the new kpx has finished its
 * first sync, that no request fails after that first sync, and that the other mode's chains are gone.
 * Kernel-mode handovers (kpx down, iptables → iptables) must lose nothing. Across a switch of mode some
 * requests may fail: the new mode replaces the old one's rules, and leaving userspace closes the
 * listeners that carried the traffic. Those counts are reported in a table (and asserted bounded to the
 * handover).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildSandbox, type Sandbox } from '../../../src/sandbox/builder.js';
import { startKpx, type KpxInstance } from '../../../src/sandbox/kpx-runner.js';
import { endpointFor, ManifestDir, type ServiceSpec } from '../../../src/sandbox/manifests.js';
import { isAnswer, request } from '../../../src/sandbox/traffic.js';
import type { ProxyMode } from '../../../src/backend.js';
import { ChaosLoad, totals, type LoadTarget } from '../../support/chaos-load.js';
import { notReadyReason } from '../../support/sandbox-cluster.js';

const MIN_SYNC_PERIOD = '200ms';
const SYNC_PERIOD = '5s';
const RATE_PER_SEC = 150;
const TIMEOUT_MS = 1000;
/** How long the load runs on each side of a step, to see that the new state holds. */
const SETTLE_MS = 2000;

const SERVICES: { spec: ServiceSpec; pods: string[] }[] = [
  { spec: { name: 'svc-a', clusterIP: '10.96.40.1', ports: [{ port: 80, targetPort: 8080 }] }, pods: ['web-1', 'web-2'] },
  { spec: { name: 'svc-b', clusterIP: '10.96.40.2', ports: [{ port: 80, targetPort: 8080 }] }, pods: ['web-2', 'web-3'] },
  { spec: { name: 'svc-c', clusterIP: '10.96.40.3', ports: [{ port: 80, targetPort: 8080 }] }, pods: ['web-1', 'web-3'] },
];
const TARGETS: LoadTarget[] = SERVICES.map((s) => ({ name: s.spec.name, addr: s.spec.clusterIP, port: 80 }));
const SERVICE_NAMES = TARGETS.map((t) => t.name);
/**
 * A pod address, reached without any service rule: the control. When it fails too, the machine (2 shared
 * cores, other suites running) starved the client or the servers, not kpx; the table shows it per step.
 */
const CONTROL = 'control-pod-ip';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One row of the report. */
interface StepRow {
  step: string;
  sent: number;
  failed: number;
  /** From the first to the last sample in which the failed count grew (0 when nothing failed). */
  failingMs: number;
  /** From SIGTERM to the old kpx's exit. */
  stopMs: number | undefined;
  /** From the new kpx's start to its first sync finishing. */
  startToSyncMs: number | undefined;
  errors: Record<string, number>;
  /** The control target's counts in the same window. */
  controlSent: number;
  controlFailed: number;
  /** Packets conntrack dropped in the node's namespace during the step (drop + early_drop + insert_failed). */
  conntrackDrops: number;
  /**
   * Conntrack entries (node namespace, end of the step) of connections to a service IP that are still in
   * SYN_SENT and were never translated (the reply is expected from the service IP itself): SYNs sent
   * while no rule matched the service, during a switch. They live 120 s.
   */
  staleEntries: number;
  /** Service requests that failed after the new kpx's first sync (+ one timeout for those in flight). */
  lateFailed: number;
}

/** Reads the load's counts every `everyMs` so failures can be placed in time. */
class FailureSampler {
  private readonly samples: { at: number; failed: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  constructor(private readonly load: ChaosLoad, everyMs = 50) {
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      this.load.report().then((s) => { this.samples.push({ at: s.at, failed: totals(s, SERVICE_NAMES).failed }); }, () => undefined).finally(() => { this.busy = false; });
    }, everyMs);
    this.timer.unref(); // never what keeps the test process alive
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
  /** The failed count as of time `at` (the last sample taken then). */
  failedAt(at: number): number {
    let n = 0;
    for (const smp of this.samples) if (smp.at <= at) n = smp.failed;
    return n;
  }
  /** Times (ms epoch) of the first and last sample in which the failed count grew. */
  failureSpan(): { first: number; last: number } | undefined {
    let first: number | undefined;
    let last: number | undefined;
    for (let i = 1; i < this.samples.length; i++) {
      if (this.samples[i]!.failed > this.samples[i - 1]!.failed) {
        first ??= this.samples[i - 1]!.at;
        last = this.samples[i]!.at;
      }
    }
    if (this.samples.length && this.samples[0]!.failed > 0) first = this.samples[0]!.at;
    return first !== undefined && last !== undefined ? { first, last } : undefined;
  }
}

describe('mode switches and SIGTERM under continuous load (iptables → userspace → iptables)', { timeout: 300_000, skip: notReadyReason('iptables') ?? notReadyReason('userspace') }, () => {
  let sb: Sandbox;
  let dir: ManifestDir;
  let load: ChaosLoad;
  let kpx: KpxInstance | undefined;
  const rows: StepRow[] = [];

  const start = (mode: ProxyMode) => startKpx(sb, 'node1', {
    manifestsDir: dir.dir, mode, minSyncPeriod: MIN_SYNC_PERIOD,
    extraArgs: ['--iptables-sync-period', SYNC_PERIOD],
  });
  /** Sum of conntrack's drop counters (all CPUs) and the entry count, in the node's namespace. */
  const conntrackStats = async (): Promise<{ drops: number; stale: number }> => {
    const ns = sb.node('node1').ns;
    const stats = (await sb.exec(ns, 'conntrack', ['-S'])).stdout;
    let drops = 0;
    for (const m of stats.matchAll(/\b(drop|early_drop|insert_failed)=(\d+)/g)) drops += Number(m[2]);
    const synSent = (await sb.exec(ns, 'conntrack', ['-L', '-p', 'tcp', '--state', 'SYN_SENT'], { okCodes: [0, 1] })).stdout;
    const vips = new Set(TARGETS.map((t) => t.addr));
    let stale = 0;
    for (const line of synSent.split('\n')) {
      const srcs = [...line.matchAll(/\bsrc=(\S+)/g)].map((m) => m[1]);
      const dsts = [...line.matchAll(/\bdst=(\S+)/g)].map((m) => m[1]);
      if (dsts[0] && vips.has(dsts[0]) && srcs[1] === dsts[0]) stale++;
    }
    return { drops, stale };
  };
  const natRules = async () => (await sb.exec(sb.node('node1').ns, 'iptables-save', ['-t', 'nat'])).stdout;

  /** Every service answers a single request now (no retries: this is right after a first sync). */
  async function assertEveryServiceAnswers(when: string): Promise<void> {
    for (const t of TARGETS) {
      const r = await request(sb.ns('loader'), t.addr, t.port, 'tcp', { timeoutMs: TIMEOUT_MS });
      assert.ok(isAnswer(r), `${t.name} (${t.addr}) does not answer ${when}: ${JSON.stringify(r)}`);
    }
  }

  /**
   * One step under load: `act` stops and/or starts kpx and returns when the new kpx (if any) finished its
   * first sync. Failures after that moment (plus one request timeout for requests already in flight) are
   * counted apart as late.
   */
  async function step(name: string, act: () => Promise<{ stopMs?: number; startedAt?: number; syncedAt?: number }>): Promise<StepRow> {
    const ct0 = await conntrackStats();
    await load.reset();
    const sampler = new FailureSampler(load);
    let stopMs: number | undefined;
    let startedAt: number | undefined;
    let syncedAt: number | undefined;
    let snap;
    try {
      await sleep(SETTLE_MS / 4);
      ({ stopMs, startedAt, syncedAt } = await act());
      if (syncedAt !== undefined) await assertEveryServiceAnswers(`right after the first sync of ${name}`);
      await sleep(SETTLE_MS);
      snap = await load.window();
    } finally {
      sampler.stop();
    }
    const ct1 = await conntrackStats();
    const sum = totals(snap, SERVICE_NAMES);
    const control = totals(snap, [CONTROL]);
    const span = sampler.failureSpan();
    const row: StepRow = {
      step: name, sent: sum.sent, failed: sum.failed, errors: sum.errors, controlSent: control.sent, controlFailed: control.failed,
      conntrackDrops: ct1.drops - ct0.drops, staleEntries: ct1.stale,
      lateFailed: syncedAt !== undefined ? sum.failed - sampler.failedAt(syncedAt + TIMEOUT_MS + 200) : 0,
      failingMs: span ? span.last - span.first : 0, stopMs,
      startToSyncMs: startedAt !== undefined && syncedAt !== undefined ? syncedAt - startedAt : undefined,
    };
    rows.push(row);
    assert.ok(sum.sent > 0, 'the load sent requests');
    assert.equal(control.failed, 0, `the control (a pod address, no service rule) failed: the machine, not kpx, is the problem (${JSON.stringify(control.errors)})`);
    return row;
  }

  async function switchTo(mode: ProxyMode): Promise<{ stopMs: number; startedAt: number; syncedAt: number }> {
    const t0 = Date.now();
    await kpx?.stop(); // SIGTERM
    kpx = undefined;
    const startedAt = Date.now();
    kpx = await start(mode);
    return { stopMs: startedAt - t0, startedAt, syncedAt: Date.now() };
  }

  before(async () => {
    sb = await buildSandbox({
      nodes: 1,
      pods: [{ name: 'web-1', node: 1 }, { name: 'web-2', node: 1 }, { name: 'web-3', node: 1 }, { name: 'loader', node: 1, noServer: true }],
      onLine: process.env.KPX_SANDBOX_DEBUG ? (s, l) => process.stderr.write(`[${s}] ${l}\n`) : undefined,
    });
    dir = new ManifestDir(sb.tmpDir);
    dir.writeNodes(sb.nodes);
    for (const s of SERVICES) dir.writeService(s.spec, s.pods.map((p) => endpointFor(sb.pod(p))));
    kpx = await start('iptables');
    const control: LoadTarget = { name: CONTROL, addr: sb.pod('web-1').ip, port: 8080 };
    load = await ChaosLoad.start(sb, 'loader', [...TARGETS, control], { ratePerSec: RATE_PER_SEC, timeoutMs: TIMEOUT_MS });
  }, { timeout: 120_000 });

  after(async () => {
    const table = [
      'step                                   sent  failed  late  failing-for  SIGTERM→exit  start→first-sync  control failed/sent  ct drops  stale SYN_SENT  errors',
      ...rows.map((r) => `${r.step.padEnd(38)} ${String(r.sent).padStart(5)}  ${String(r.failed).padStart(6)}  ${String(r.lateFailed).padStart(4)}  ${`${r.failingMs} ms`.padStart(11)}  ${(r.stopMs === undefined ? '-' : `${r.stopMs} ms`).padStart(12)}  ${(r.startToSyncMs === undefined ? '-' : `${r.startToSyncMs} ms`).padStart(16)}  ${`${r.controlFailed}/${r.controlSent}`.padStart(19)}  ${String(r.conntrackDrops).padStart(8)}  ${String(r.staleEntries).padStart(13)}  ${JSON.stringify(r.errors)}`),
    ].join('\n');
    process.stdout.write(`\nmode switches under load (${RATE_PER_SEC} req/s over ${TARGETS.length} ClusterIP services and a pod address as control, ${TIMEOUT_MS} ms timeout):\n${table}\n`);
    await load?.stop().catch(() => undefined);
    await sb?.destroy();
  }, { timeout: 60_000 });

  it('serves every service in iptables mode with no failed request (baseline)', async () => {
    const row = await step('iptables, steady', async () => ({}));
    assert.equal(row.failed, 0, JSON.stringify(row.errors));
  });

  it('SIGTERM leaves the iptables rules in place: traffic keeps flowing while kpx is stopped', async () => {
    const row = await step('iptables, SIGTERM, kpx down', async () => {
      const t0 = Date.now();
      await kpx!.stop();
      const stopMs = Date.now() - t0;
      const code = await kpx!.proc.exited;
      kpx = undefined;
      assert.equal(code, 0, 'kpx exits 0 on SIGTERM');
      await sleep(SETTLE_MS);
      return { stopMs };
    });
    assert.match(await natRules(), /^-A KUBE-SERVICES .*10\.96\.40\.1\/32/m, 'the service rules are still in the kernel');
    assert.equal(row.failed, 0, `requests failed with kpx stopped: ${JSON.stringify(row.errors)}`);
  });

  it('a kernel-mode handover (iptables started again on the rules left in place) loses no request', async () => {
    const row = await step('(stopped) → iptables', async () => {
      const startedAt = Date.now();
      kpx = await start('iptables');
      return { startedAt, syncedAt: Date.now() };
    });
    assert.equal(row.failed, 0, JSON.stringify(row.errors));
  });

  it('iptables → userspace: every service answers after the first sync, and the iptables service chains are gone', async () => {
    await step('iptables → userspace', () => switchTo('userspace'));
    const nat = await natRules();
    assert.doesNotMatch(nat, /^:KUBE-(SVC|SEP)-/m, 'the iptables mode\'s service chains were removed');
    assert.match(nat, /^:KUBE-PORTALS-CONTAINER /m);
  });

  it('userspace → iptables: every service answers after the first sync, and the portal chains are gone', async () => {
    await step('userspace → iptables', () => switchTo('iptables'));
    const nat = await natRules();
    assert.doesNotMatch(nat, /KUBE-PORTALS-|KUBE-NODEPORT-(CONTAINER|HOST)/, 'the userspace portal chains were removed');
    assert.match(nat, /^:KUBE-SVC-/m);
  });

  it('after the switches, iptables mode serves steadily again (the control answers throughout)', async () => {
    await step('iptables, steady again', async () => ({}));
    await assertEveryServiceAnswers('after the switches');
  });

  it('once a switched-to mode has synced, no request fails (after the switch and steady afterwards)', () => {
    const late = rows.filter((r) => r.step.includes('→') || r.step.includes('again'))
      .map((r) => ({ step: r.step, late: r.step.includes('again') ? r.failed : r.lateFailed }));
    assert.deepEqual(late.filter((l) => l.late > 0), [], 'requests failed after the new mode had synced');
  });
});
