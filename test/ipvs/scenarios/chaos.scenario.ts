// Runs INSIDE the IPVS VM (test/ipvs/vm.test.ts): the chaos suite's kpx faults in ipvs mode, a small subset
// sized for the emulated VM (TCG, several times slower than the host). A client pod sends light continuous
// load to three ClusterIP services and a pod IP (the control) while
//  - kpx is SIGKILLed (mid-sync where a child command is caught) and restarted: IPVS virtual servers live in
//    the kernel, not in kpx, so traffic must not notice: no virtual or real server is recreated (their
//    connection counters never reset), the virtual servers afterwards equal those before, and no request
//    fails beyond the emulator's isolated losses (see assertNoOutage);
//  - endpoints churn: every change reaches IPVS through kpx, and requests to ready endpoints keep being served.
// kpx watches a manifests directory here (no API server process: one process less for the VM's 2 slow CPUs).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildSandbox, type Sandbox } from '../../../src/sandbox/builder.js';
import { startKpx, nowSeconds, type KpxInstance } from '../../../src/sandbox/kpx-runner.js';
import { endpointFor, ManifestDir, type EndpointSpec, type ServiceSpec } from '../../../src/sandbox/manifests.js';
import { slowFactor } from '../../../src/sandbox/scripts.js';
import { isAnswer, request } from '../../../src/sandbox/traffic.js';
import { exec } from '../../../src/net/exec.js';
import { childrenOf, CONTROL_TARGET, printFaultTable, rowFrom, serviceSpec, sleep, type FaultRow } from '../../support/chaos-cluster.js';
import { ChaosLoad, type LoadTarget } from '../../support/chaos-load.js';

/** Light load: the VM's two emulated CPUs also run kpx, the pods and the client. */
const LOAD_RATE = 30;
const CHURN_SECONDS = 10;
const CHURN_PER_SECOND = 10;
/**
 * A request not answered within this failed: 20 s here (2 s on the host). Under TCG on a shared 2-core host
 * one process of the VM can be starved for over 10 s (a kpx restart took 69 s in one run, against 15 s in
 * another), and one such straggler on an established connection failed a 10 s budget. A virtual server or
 * real server lost from the kernel fails every request to it, however long the budget.
 */
const LOAD_TIMEOUT_MS = 4000 * slowFactor();

const SERVICES: readonly { spec: ServiceSpec; pods: string[] }[] = [
  { spec: serviceSpec('svc-a', '10.96.10.1'), pods: ['web-1', 'web-2'] },
  { spec: serviceSpec('svc-b', '10.96.10.2'), pods: ['web-2', 'web-3'] },
  { spec: serviceSpec('svc-c', '10.96.10.3'), pods: ['web-1', 'web-2', 'web-3'] },
];

describe('chaos: kpx killed and endpoint churn under continuous load (ipvs mode)', { timeout: 600_000 }, () => {
  let sb: Sandbox;
  let dir: ManifestDir;
  let kpx: KpxInstance;
  let load: ChaosLoad;
  const rows: FaultRow[] = [];
  const node = () => sb.node('node1');
  const eps = (pods: readonly string[]): EndpointSpec[] => pods.map((p) => endpointFor(sb.pod(p)));
  const kpxOpts = () => ({ manifestsDir: dir.dir, mode: 'ipvs' as const, startTimeoutMs: 60_000 * slowFactor() });

  /** The kernel's virtual servers and their serving real servers (weight > 0; drained ones may linger). */
  async function virtualServers(): Promise<string> {
    const out = (await exec('ipvsadm', ['-Sn'], { netns: node().ns })).stdout;
    return out.split('\n').filter((l) => l.trim() !== '' && !/ -w 0$/.test(l)).sort().join('\n');
  }

  /**
   * Connection counters of the virtual servers under load and of their real servers (`ipvsadm -Ln --stats`),
   * id → Conns. The kernel zeroes them when a virtual or real server is deleted and added again, so counters
   * that never went down prove the state stayed in the kernel the whole time, even for a blip too short for
   * the load to hit.
   */
  async function connCounters(): Promise<Map<string, number>> {
    const out = (await exec('ipvsadm', ['-Ln', '--stats', '--exact'], { netns: node().ns })).stdout;
    const counters = new Map<string, number>();
    let vs = '';
    for (const line of out.split('\n')) {
      const v = /^(TCP|UDP|SCTP)\s+(\S+)\s+(\d+)/.exec(line);
      if (v) { vs = SERVICES.some((s) => v[2] === `${s.spec.clusterIP}:80`) ? v[2]! : ''; if (vs) counters.set(vs, Number(v[3])); continue; }
      const r = /^\s+->\s+(\S+)\s+(\d+)/.exec(line);
      if (r && vs) counters.set(`${vs} -> ${r[1]}`, Number(r[2]));
    }
    return counters;
  }

  /**
   * The kernel-mode target is zero failed requests. Inside the emulated VM on a loaded shared host, an isolated
   * connection now and then gets no answer to any of its SYNs (seen in 3 of 8 runs: one request in 750 to 1,600,
   * to a service the fault did not touch, with no failure before or after it, and with the control and the
   * client's own stall detector quiet). What kpx could break fails every request to a service for as long as
   * it lasts; that is what this rules out: at most one failed request per 1,000 and never two to one service.
   * Every failure is in the table.
   */
  function assertNoOutage(row: FaultRow, failures: readonly { target: string }[], detail: string): void {
    const perTarget = new Map<string, number>();
    for (const f of failures) perTarget.set(f.target, (perTarget.get(f.target) ?? 0) + 1);
    assert.ok(row.failed <= Math.max(1, Math.floor(row.sent / 1000)), `more than isolated failures during "${row.fault}": ${detail}`);
    assert.ok([...perTarget.values()].every((n) => n <= 1), `a service failed more than once during "${row.fault}": ${detail}`);
  }

  async function metric(name: string): Promise<number> {
    const r = await request(node().ns, '127.0.0.1', kpx.metricsPort, 'tcp', { path: '/metrics', timeoutMs: 5000 });
    if (!isAnswer(r)) throw new Error(`metrics: ${r.error}`);
    const m = new RegExp(`^${name} ([0-9.eE+-]+)$`, 'm').exec(r.body);
    return m ? Number(m[1]) : 0;
  }

  /** The failures of a window with what IPVS's connection table says about each one's source port. */
  async function failureDetail(snap: { failures: { localPort?: number }[] }): Promise<string> {
    const conns = snap.failures.length ? (await exec('ipvsadm', ['-Lnc'], { netns: node().ns })).stdout.split('\n') : [];
    const loader = sb.pod('loader').ip;
    return JSON.stringify(snap.failures.slice(0, 10).map((f) => ({
      ...f, ipvs: f.localPort ? conns.filter((l) => l.includes(`${loader}:${f.localPort} `)) : [],
    })));
  }

  async function expectServes(addr: string, port: number, timeoutMs: number): Promise<void> {
    const start = Date.now();
    let last = '';
    while (Date.now() - start < timeoutMs) {
      const r = await request(sb.ns('loader'), addr, port, 'tcp', { timeoutMs: 2000 });
      if (isAnswer(r) && r.status === 200) return;
      last = isAnswer(r) ? `status ${r.status}` : r.error;
      await sleep(200);
    }
    throw new Error(`${addr}:${port} not served within ${timeoutMs} ms (last: ${last})`);
  }

  before(async () => {
    sb = await buildSandbox({
      nodes: 1,
      pods: [
        { name: 'web-1', node: 1 }, { name: 'web-2', node: 1 }, { name: 'web-3', node: 1 },
        { name: 'control', node: 1 }, { name: 'loader', node: 1, noServer: true },
      ],
    });
    dir = new ManifestDir(sb.tmpDir);
    dir.writeNodes(sb.nodes);
    for (const s of SERVICES) dir.writeService(s.spec, eps(s.pods));
    kpx = await startKpx(sb, 'node1', kpxOpts());
    const targets: LoadTarget[] = [
      ...SERVICES.map((s) => ({ name: s.spec.name, addr: s.spec.clusterIP, port: 80 })),
      // A pod behind no service, so the control reads the machine alone. (With web-2, as on the host, the
      // control's direct connections to a real server failed now and then with SYNs unanswered for 10 s while
      // the services did not: most likely a direct connection reusing the source port of a recent one through
      // the VIP, whose SYN-ACK IPVS's old connection entry rewrites. Not measured further.)
      { name: CONTROL_TARGET, addr: sb.pod('control').ip, port: 8080 },
    ];
    for (const t of targets) await expectServes(t.addr, t.port, 30_000 * slowFactor());
    load = await ChaosLoad.start(sb, 'loader', targets, { ratePerSec: LOAD_RATE, timeoutMs: LOAD_TIMEOUT_MS });
  }, { timeout: 300_000 });

  after(async () => {
    printFaultTable(`chaos: kpx faults (ipvs mode in the VM, ${LOAD_RATE} req/s over 3 ClusterIP services and a pod IP)`, rows);
    await load?.stop().catch(() => undefined);
    await sb?.destroy();
  }, { timeout: 120_000 });

  test('IPVS keeps serving while kpx is SIGKILLed mid-sync and restarted: no virtual or real server is ever recreated, no outage, the same virtual servers after', async () => {
    // A service off the load path whose port flips, so kpx has work (ipset, iptables) to aim the kill at.
    const flip = serviceSpec('flip', '10.96.20.60');
    const withPort = (port: number): ServiceSpec => ({ ...flip, ports: [{ ...flip.ports[0]!, port }] });
    const since = nowSeconds();
    dir.writeService(withPort(81), eps(['web-1']));
    await kpx.waitForSync(since, { timeoutMs: 30_000 * slowFactor() });
    const reference = await virtualServers();
    const countersBefore = await connCounters();
    assert.match(reference, /-A -t 10\.96\.10\.3:80 -s rr/, 'kpx programmed the virtual servers');
    await load.reset();
    const oldPid = kpx.proc.pid;
    let caught = '';
    let flips = 0;
    let nextFlip = 0;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (Date.now() >= nextFlip) {
        dir.writeService(withPort(flips++ % 2 === 0 ? 82 : 81), eps(['web-1']));
        nextFlip = Date.now() + 1000;
      }
      const kid = childrenOf(oldPid)[0];
      if (kid) { caught = kid.comm; break; }
      await sleep(5);
    }
    process.kill(oldPid, 'SIGKILL');
    await kpx.proc.exited;
    dir.writeService(withPort(81), eps(['web-1']));
    await sleep(2000); // kpx is down: IPVS keeps forwarding on its own
    const t0 = Date.now();
    // startKpx returns after the new kpx's first sync, which started after the last change: it is in.
    kpx = await startKpx(sb, 'node1', kpxOpts());
    const restartMs = Date.now() - t0;
    await sleep(1000);
    const snap = await load.window();
    const row = rowFrom('kpx SIGKILLed mid-sync, restarted', snap,
      `${caught ? `killed while a child (${caught}) ran` : 'no child command seen in 10 s; killed between syncs'} after ${flips} changes; down 2 s + restart ${restartMs} ms`);
    rows.push(row);
    assert.equal(await virtualServers(), reference, 'the virtual servers after the restart differ from before the kill');
    const countersAfter = await connCounters();
    assert.ok(countersBefore.size >= 9, `counters of 3 virtual servers and their real servers (${[...countersBefore.keys()]})`);
    for (const [id, n] of countersBefore) {
      assert.ok((countersAfter.get(id) ?? -1) >= n, `${id}: connection counter went from ${n} to ${countersAfter.get(id)}: it was deleted and added again`);
    }
    assert.ok(row.sent > 0, 'the load sent requests');
    assertNoOutage(row, snap.failures, await failureDetail(snap));
  });

  test(`requests to ready endpoints keep being served under endpoint churn (${CHURN_PER_SECOND} changes/s for ${CHURN_SECONDS} s): no outage`, async () => {
    const svc = SERVICES[2]!;
    const syncs0 = await metric('kubeproxy_sync_proxy_rules_duration_seconds_count\\{ip_family="IPv4"\\}');
    await load.reset();
    const start = Date.now();
    let sent = 0;
    // Each change: a non-empty subset of the real pods ready, plus 1-2 not-ready endpoints no request may reach.
    while (Date.now() - start < CHURN_SECONDS * 1000) {
      const due = Math.floor(((Date.now() - start) / 1000) * CHURN_PER_SECOND);
      while (sent < due) {
        const mask = (sent % 7) + 1;
        const ready = svc.pods.filter((_, i) => (mask >> i) & 1);
        dir.writeEndpoints(svc.spec, [
          ...eps(ready),
          ...Array.from({ length: 1 + (sent % 2) }, (_, i) => ({ ip: `10.244.1.${200 + ((sent + i) % 50)}`, nodeName: 'node1', ready: false, serving: false })),
        ]);
        sent++;
      }
      await sleep(20);
    }
    const elapsed = (Date.now() - start) / 1000;
    const since = nowSeconds();
    dir.writeEndpoints(svc.spec, eps(svc.pods));
    await kpx.waitForSync(since, { timeoutMs: 30_000 * slowFactor() });
    const syncs = (await metric('kubeproxy_sync_proxy_rules_duration_seconds_count\\{ip_family="IPv4"\\}')) - syncs0;
    const snap = await load.window();
    const vs = await virtualServers();
    const row = rowFrom(`endpoint churn ${CHURN_PER_SECOND}/s for ${CHURN_SECONDS} s`, snap,
      `${sent} changes (${(sent / elapsed).toFixed(1)}/s), ${syncs} syncs`);
    rows.push(row);
    for (const p of svc.pods) assert.match(vs, new RegExp(`-a -t 10\\.96\\.10\\.3:80 -r ${sb.pod(p).ip.replace(/\./g, '\\.')}:8080 -m -w 1`), `${p} serves svc-c after the churn`);
    assert.ok(sent >= CHURN_PER_SECOND * CHURN_SECONDS * 0.9, `the churn reached its rate (${sent} changes)`);
    assert.ok(syncs >= 2, `kpx kept syncing during the churn (${syncs})`);
    assertNoOutage(row, snap.failures, await failureDetail(snap));
  });
});
