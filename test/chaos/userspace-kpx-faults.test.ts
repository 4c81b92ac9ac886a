/**
 * Chaos, userspace mode: faults in kpx and at its kernel edge, under continuous load from a client pod to
 * three ClusterIP services plus keep-alive connections held through them. kpx carries every byte here
 * (the kernel only REDIRECTs to its listeners), which decides what each fault may cost:
 *  - iptables-restore fails (a failing iptables-nft-restore first on kpx's PATH): the listeners carry on,
 *    the retries are full syncs, the change lands once restores work: zero failed, no connection lost;
 *  - endpoint churn, 50 changes a second: balancers are updated in place, syncs stay bounded by
 *    min-sync-period: zero failed, no connection lost;
 *  - someone flushes the nat table: the REDIRECTs are gone until the next full sync rewrites them
 *    (the number of failed requests in that gap is reported), then traffic is whole again;
 *  - kpx SIGKILLed (mid-sync where one is caught) and restarted: with the process go its listeners and
 *    every connection they carried, so requests fail until the new kpx has bound and rewritten its portals
 *    (reported, not required to be zero); afterwards every service serves and the rules equal those of
 *    an uninterrupted run, listener ports aside.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { nowSeconds } from '../../src/sandbox/kpx-runner.js';
import {
  assertHeldSurvived, assertKeptTraffic, ChaosCluster, childrenOf, churnEndpoints, heldNote, LOAD_RATE, MIN_SYNC_PERIOD_MS, printFaultTable, rowFrom, serviceSpec, sleep,
  SYNC_PERIOD_MS, type FaultRow,
} from '../support/chaos-cluster.js';
import { FailingRestore } from '../support/failing-restore.js';
import { notReadyReason } from '../support/sandbox-cluster.js';

const skip = notReadyReason('userspace');
const CHURN_SECONDS = 20;
const CHURN_PER_SECOND = 50;

/** Portal rules with the listener ports blanked: a restarted kpx binds new ports, the rest must match. */
function withoutPorts(rules: string): string {
  return rules.replace(/--to-ports \d+/g, '--to-ports N').replace(/--to-destination ([0-9.]+):\d+/g, '--to-destination $1:N');
}

describe('chaos: kpx and kernel-edge faults under continuous load (userspace mode)', { skip, timeout: 400_000 }, () => {
  let c: ChaosCluster;
  const rows: FaultRow[] = [];
  let restore: FailingRestore | undefined;

  before(async () => {
    c = await ChaosCluster.create({
      mode: 'userspace',
      beforeKpx: async (cl) => {
        restore = new FailingRestore(cl.sb.tmpDir);
        cl.kpxEnv = restore.env();
      },
    });
  }, { timeout: 120_000 });
  after(async () => {
    restore?.failing(false);
    printFaultTable(`chaos: kpx and kernel-edge faults (userspace mode, ${LOAD_RATE} req/s over 3 ClusterIP services and a pod IP, 6 held keep-alive connections)`, rows);
    await c?.destroy();
  }, { timeout: 60_000 });

  const svcC = () => c.services.find((s) => s.spec.name === 'svc-c')!;

  /** The start of a fault's window: fresh counts and fresh held connections through every service. */
  async function startWindow(): Promise<void> {
    await c.load.hold({ targets: c.serviceTargets() });
    await c.load.reset();
  }

  /** A 2 s window once the fault is over: new and held connections through every service, none may fail. */
  async function assertCleanWindowAfter(fault: string): Promise<void> {
    await startWindow();
    await sleep(2000);
    const snap = await c.load.window();
    const held = await c.load.holdReport();
    const row = rowFrom(fault, snap, heldNote(held));
    rows.push(row);
    assertKeptTraffic(row, JSON.stringify(snap.failures));
    assertHeldSurvived(held, row);
  }

  it('keeps traffic and open connections on its listeners while iptables-restore fails, retries with full syncs, then applies the change', async () => {
    const spec = svcC().spec;
    const late = serviceSpec('late-restore', '10.96.20.50');
    await startWindow();
    const rulesBefore = await c.kubeRules();
    restore!.failing(true);
    const tFail = Date.now();
    // Two changes while restores fail: one needs new portal rules (a new service), one only the
    // balancer (svc-c loses an endpoint), which kpx applies without the kernel.
    await c.writeService(late, ['web-2']);
    await c.writeEndpoints(spec, c.endpointsOf(svcC().pods.filter((p) => p !== 'web-4')));
    const deadline = Date.now() + 15_000;
    while (c.kpxLines(/syncing proxy rules failed/, tFail).length === 0 && Date.now() < deadline) await sleep(200);
    assert.ok(c.kpxLines(/syncing proxy rules failed/, tFail).length >= 1, `kpx logged the failed sync\n${c.kpxOutput()}`);
    await sleep(3000); // more retries fail meanwhile; the listeners carry the traffic
    assert.equal(await c.kubeRules(), rulesBefore, 'a failed restore changed nothing in the kernel');
    const failedLines = c.kpxLines(/syncing proxy rules failed/, tFail);
    restore!.failing(false);
    const tFixed = Date.now();
    const servedMs = await c.expectServes(late.clusterIP, 80, 30_000);
    const after = await c.kubeRules();
    assert.notEqual(after, rulesBefore, 'the change was applied once restores worked again');
    assert.match(after, /default\/late-restore:http/, 'the new service has its portal rules');
    const synced = c.kpxLines(/synced proxy rules/, tFixed);
    assert.ok(synced.length >= 1 && /full=true/.test(synced[0]!), `the first sync after the failures was full:\n${synced.slice(0, 3).join('\n')}`);
    assert.ok(failedLines.slice(1).every((l) => /full=true/.test(l)), `every retry is a full sync:\n${failedLines.join('\n')}`);
    // Back to the common state for the next scenarios.
    const since = nowSeconds();
    await c.writeEndpoints(spec, c.endpointsOf(svcC().pods));
    await c.waitForSync(since);
    const snap = await c.load.window();
    const held = await c.load.holdReport();
    const row = rowFrom('iptables-restore fails (failing binary on PATH, 3 s+)', snap,
      `${failedLines.length} failed syncs logged, retries full; new service served ${servedMs} ms after the fix; ${heldNote(held)}`);
    rows.push(row);
    assert.ok(!c.kpx.proc.hasExited(), 'kpx is still running');
    assertKeptTraffic(row, JSON.stringify(snap.failures));
    assertHeldSurvived(held, row);
  });

  it(`absorbs endpoint churn (${CHURN_PER_SECOND} changes/s for ${CHURN_SECONDS} s) with syncs bounded by min-sync-period, no failed request and no lost connection`, async () => {
    const spec = svcC().spec;
    const real = svcC().pods;
    const { sent, elapsed, syncs, changes, bound } = await churnEndpoints(c, spec, real, { seconds: CHURN_SECONDS, perSecond: CHURN_PER_SECOND, startWindow: () => startWindow() });
    const snap = await c.load.window();
    const held = await c.load.holdReport();
    const row = rowFrom(`endpoint churn ${CHURN_PER_SECOND}/s for ${CHURN_SECONDS} s (issue: 1 min)`, snap,
      `${sent} changes (${(sent / elapsed).toFixed(1)}/s), ${changes} counted by kpx, ${syncs} syncs (bound ${bound} at min-sync-period ${MIN_SYNC_PERIOD_MS} ms); ${heldNote(held)}`);
    rows.push(row);
    assert.ok(sent >= CHURN_PER_SECOND * CHURN_SECONDS * 0.9, `the churn reached its rate (${sent} changes)`);
    assert.ok(syncs <= bound, `syncs bounded by min-sync-period: ${syncs} > ${bound}`);
    assert.ok(syncs >= 5, `kpx kept syncing during the churn (${syncs})`);
    assertKeptTraffic(row, JSON.stringify(snap.failures));
    assertHeldSurvived(held, row);
  });

  it('rewrites its portal rules within one sync period after someone flushes the nat table', async () => {
    const reference = await c.kubeRules();
    await startWindow();
    const t0 = Date.now();
    await c.sb.exec(c.nodeNs, 'iptables', ['-t', 'nat', '-F']);
    await c.sb.exec(c.nodeNs, 'iptables', ['-t', 'nat', '-X']);
    assert.ok(!(await c.kubeRules()).includes('nat '), 'the nat table has no KUBE- rules left');
    let restoredMs = -1;
    while (Date.now() - t0 < 3 * SYNC_PERIOD_MS) {
      if ((await c.kubeRules()) === reference) { restoredMs = Date.now() - t0; break; }
      await sleep(100);
    }
    assert.ok(restoredMs >= 0, `the portal rules came back\n${await c.kubeRules()}`);
    const gap = await c.load.window();
    const heldGap = await c.load.holdReset();
    rows.push(rowFrom('nat table flushed (-F, -X): until restored', gap,
      `portal rules rewritten ${restoredMs} ms after the flush (sync period ${SYNC_PERIOD_MS} ms); new connections in the gap fail by design; ${heldNote(heldGap)}`));
    await assertCleanWindowAfter('nat table flushed: after restore (2 s)');
    assert.ok(restoredMs <= SYNC_PERIOD_MS + 1500, `restored within one sync period (${restoredMs} ms)`);
  });

  it('comes back after SIGKILL mid-sync: every service serves again and the portal rules equal an uninterrupted run (ports aside)', async () => {
    // A service off the load path whose port flips, so that kpx has portal rules to write while we aim
    // the kill at one of its iptables commands. It ends on port 81: the reference state.
    const flip = serviceSpec('flip', '10.96.20.60');
    const withPort = (port: number) => ({ ...flip, ports: [{ ...flip.ports[0]!, port }] });
    const since = nowSeconds();
    await c.writeService(withPort(81), ['web-1']);
    await c.waitForSync(since);
    const reference = withoutPorts(await c.kubeRules());
    await startWindow();
    const oldPid = c.kpx.proc.pid;
    let caught = '';
    let flips = 0;
    let nextFlip = 0;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (Date.now() >= nextFlip) {
        await c.writeService(withPort(flips++ % 2 === 0 ? 82 : 81), ['web-1']);
        nextFlip = Date.now() + 700;
      }
      const kid = childrenOf(oldPid).find((k) => /^ip6?tables/.test(k.comm));
      if (kid) { caught = kid.comm; break; }
      await sleep(2);
    }
    const tKill = Date.now();
    process.kill(oldPid, 'SIGKILL');
    await c.kpx.proc.exited;
    await c.writeService(withPort(81), ['web-1']);
    await sleep(2000); // kpx is down: its listeners are gone with it
    const heldAtKill = await c.load.holdReport();
    const t0 = Date.now();
    // startKpx returns after the new kpx's first sync, which started after the last change: it is in.
    // (Not waitForSync(since): a change in kpx's initial list is never "queued", see ChaosCluster.waitForSync.)
    await c.startKpx();
    const restartMs = Date.now() - t0;
    const servedMs: number[] = [];
    for (const t of c.serviceTargets()) servedMs.push(await c.expectServes(t.addr, t.port, 30_000));
    const backAfter = Date.now() - tKill;
    const snap = await c.load.window();
    rows.push(rowFrom('kpx SIGKILLed mid-sync, restarted: until served', snap,
      `${caught ? `killed while ${caught} ran` : 'no iptables child seen in 15 s; killed between syncs'} after ${flips} changes; down 2 s + restart ${restartMs} ms; ` +
      `every service served again ${backAfter} ms after the kill; userspace traffic dies with the process, by design; ${heldNote(heldAtKill)}`));
    assert.equal(withoutPorts(await c.kubeRules()), reference, 'the portal rules after the restart differ from the uninterrupted run (ports aside)');
    // Once back, the new kpx carries everything again: new connections and new held ones.
    await assertCleanWindowAfter('kpx SIGKILLed: after restart (2 s)');
    assert.ok(backAfter < 60_000, `service came back after the restart (${backAfter} ms)`);
  });
});
