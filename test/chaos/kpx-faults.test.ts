/**
 * Chaos: faults in kpx itself and in its kernel edge, under continuous load from a client pod to three
 * ClusterIP services (iptables mode, kube source):
 *  - kpx SIGKILLed while an iptables command of a sync is running, then restarted: no request fails and
 *    the rules afterwards equal those of an uninterrupted run of the same state;
 *  - iptables-restore fails (a failing iptables-nft-restore first on kpx's PATH): the failure metric counts
 *    it, the retries are full syncs, traffic keeps flowing on the old rules, the change lands afterwards;
 *  - endpoint churn, 50 changes a second: syncs stay bounded by min-sync-period, no request fails;
 *  - someone flushes the nat table: kpx restores its rules within one sync period (last: it is the one
 *    fault that takes traffic down by design, and the node is not the same afterwards, see the report).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { nowSeconds } from '../../src/sandbox/kpx-runner.js';
import {
  assertKeptTraffic, ChaosCluster, churnEndpoints, childrenOf, LOAD_RATE, MIN_SYNC_PERIOD_MS, printFaultTable, rowFrom, sleep, SYNC_PERIOD_MS, type FaultRow,
} from '../support/chaos-cluster.js';
import { FailingRestore } from '../support/failing-restore.js';
import { notReadyReason } from '../support/sandbox-cluster.js';

const skip = notReadyReason('iptables');
const CHURN_SECONDS = 20;
const CHURN_PER_SECOND = 50;

describe('chaos: kpx and kernel-edge faults under continuous load (iptables mode)', { skip, timeout: 400_000 }, () => {
  let c: ChaosCluster;
  const rows: FaultRow[] = [];
  let restore: FailingRestore;

  before(async () => {
    c = await ChaosCluster.create({ beforeKpx: async (cl) => { restore = new FailingRestore(cl.sb.tmpDir); } });
  }, { timeout: 120_000 });
  after(async () => {
    printFaultTable(`chaos: kpx and kernel-edge faults (iptables mode, ${LOAD_RATE} req/s over 3 ClusterIP services and a pod IP)`, rows);
    await c?.destroy();
  }, { timeout: 60_000 });

  const svcC = () => c.services.find((s) => s.spec.name === 'svc-c')!;
  let killRow: FaultRow | undefined;
  let killFailures = '';
  let rulesMissingMs = 0;

  it('survives SIGKILL mid-sync and, restarted, ends with the rules of an uninterrupted run', async () => {
    const full = svcC().pods;                    // state S0
    const fewer = full.filter((p) => p !== 'web-4'); // state S1
    const reference = await c.kubeRules();       // the rules of an uninterrupted run of S0
    await c.load.reset();
    const oldPid = c.kpx.proc.pid;

    // Flip svc-c between S1 and S0 and kill kpx as soon as one of its iptables commands is running.
    let caught = '';
    let flips = 0;
    const deadline = Date.now() + 15_000;
    let nextFlip = 0;
    while (!caught && Date.now() < deadline) {
      if (Date.now() >= nextFlip) {
        await c.writeEndpoints(svcC().spec, c.endpointsOf(flips++ % 2 === 0 ? fewer : full));
        nextFlip = Date.now() + 700;
      }
      const kid = childrenOf(oldPid).find((k) => /^ip6?tables/.test(k.comm));
      if (kid) {
        process.kill(oldPid, 'SIGKILL');
        caught = kid.comm;
        break;
      }
      await sleep(2);
    }
    if (!caught) process.kill(oldPid, 'SIGKILL');
    await c.kpx.proc.exited;
    // The final state is S0 again, so the restarted kpx must end with exactly the reference rules.
    await c.writeEndpoints(svcC().spec, c.endpointsOf(full));
    await sleep(2000); // kpx is down: traffic runs on the rules left in the kernel
    c.kpxEnv = restore.env();
    const t0 = Date.now();
    // While the new kpx starts, watch the kernel: kpx's jump to KUBE-SERVICES must never go missing.
    let sampling = true;
    let samples = 0;
    let missingSince = 0;
    const sampler = (async () => {
      while (sampling) {
        const nat = (await c.sb.exec(c.nodeNs, 'iptables-save', ['-t', 'nat'])).stdout;
        samples++;
        const ok = /^-A PREROUTING .*-j KUBE-SERVICES$/m.test(nat) && /^-A KUBE-SERVICES .*-j KUBE-SVC-/m.test(nat);
        if (!ok && missingSince === 0) missingSince = Date.now();
        if (ok && missingSince !== 0) { rulesMissingMs += Date.now() - missingSince; missingSince = 0; }
        await sleep(20);
      }
    })();
    try {
      await c.startKpx();
    } finally {
      sampling = false;
      await sampler;
    }
    if (missingSince !== 0) rulesMissingMs += Date.now() - missingSince;
    const restartMs = Date.now() - t0;
    await sleep(1000);
    const snap = await c.load.window();
    const row = rowFrom('kpx SIGKILLed mid-sync, restarted', snap,
      `${caught ? `killed while ${caught} ran` : 'no iptables child seen in 15 s; killed between syncs'} after ${flips} changes; down ${2000 + restartMs} ms; service rules missing ${rulesMissingMs} ms during the restart (${samples} samples)`);
    rows.push(row);
    killRow = row;
    killFailures = JSON.stringify(snap.failures.slice(0, 8));
    const afterRestart = await c.kubeRules();
    assert.deepEqual(afterRestart.split('\n'), reference.split('\n'), 'rules after the restart differ from the uninterrupted run');
  });

  // Found by this suite: src/cli/run.ts prepare() used to run the ipvs mode's cleanup() at every start,
  // which deletes the jumps to KUBE-SERVICES and flushes KUBE-SERVICES/KUBE-POSTROUTING/KUBE-MARK-MASQ,
  // chains the iptables mode shares: every service went dark until the first sync (146-288 failed
  // requests here). It is now guarded by hasLeftovers(); this keeps it fixed.
  it('no request fails across the SIGKILL and the restart, and the rules never go missing', () => {
    assert.ok(killRow, 'the SIGKILL scenario ran');
    assert.equal(rulesMissingMs, 0, `the restarting kpx removed its own service rules for ${rulesMissingMs} ms`);
    assertKeptTraffic(killRow, killFailures);
  });

  it('counts a failed iptables-restore, retries with full syncs, keeps traffic flowing, then applies the change', async () => {
    const spec = svcC().spec;
    const full = svcC().pods;
    await c.load.reset();
    const m0 = await c.metrics();
    const failures0 = m0.get('kubeproxy_sync_proxy_rules_iptables_restore_failures_total{ip_family="IPv4"}') ?? 0;
    const rulesBefore = await c.kubeRules();
    restore.failing(true);
    const tFail = Date.now();
    await c.writeEndpoints(spec, c.endpointsOf(full.filter((p) => p !== 'web-4')));
    const deadline = Date.now() + 15_000;
    let failures = failures0;
    while (failures <= failures0 && Date.now() < deadline) {
      await sleep(200);
      failures = await c.metric('kubeproxy_sync_proxy_rules_iptables_restore_failures_total{ip_family="IPv4"}');
    }
    assert.ok(failures > failures0, `the failure metric counted the failed restore (${failures0} → ${failures})`);
    await sleep(3000); // more retries fail meanwhile; the old rules carry the traffic
    assert.equal(await c.kubeRules(), rulesBefore, 'a failed restore changed nothing in the kernel');
    const m1 = await c.metrics();
    const partialAtFix = m1.get('kubeproxy_sync_partial_proxy_rules_duration_seconds_count{ip_family="IPv4"}') ?? 0;
    const fullAtFix = m1.get('kubeproxy_sync_full_proxy_rules_duration_seconds_count{ip_family="IPv4"}') ?? 0;
    const lastAtFix = m1.get('kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv4"}') ?? 0;
    restore.failing(false);
    const tFixed = Date.now();
    // The first successful sync after the failures must be a full one.
    let m2 = m1;
    while ((m2.get('kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv4"}') ?? 0) <= lastAtFix && Date.now() - tFixed < 30_000) {
      await sleep(100);
      m2 = await c.metrics();
    }
    assert.ok((m2.get('kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv4"}') ?? 0) > lastAtFix, 'a sync succeeded after the fault ended');
    assert.ok((m2.get('kubeproxy_sync_full_proxy_rules_duration_seconds_count{ip_family="IPv4"}') ?? 0) > fullAtFix, 'the sync after the failure was full');
    assert.equal(m2.get('kubeproxy_sync_partial_proxy_rules_duration_seconds_count{ip_family="IPv4"}') ?? 0, partialAtFix, 'no partial sync ran before it');
    const failedLines = c.kpxLines(/syncing proxy rules failed/, tFail);
    assert.ok(failedLines.length >= 1, 'kpx logged the failure');
    assert.ok(failedLines.slice(1).every((l) => /full=true/.test(l)), `every retry is a full sync:\n${failedLines.join('\n')}`);
    const applied = Date.now() - tFixed;
    assert.notEqual(await c.kubeRules(), rulesBefore, 'the change was applied once restores worked again');
    // Back to the common state for the next scenarios.
    const since = nowSeconds();
    await c.writeEndpoints(spec, c.endpointsOf(full));
    await c.waitForSync(since);
    const snap = await c.load.window();
    const row = rowFrom('iptables-restore fails (failing binary on PATH, 3 s)', snap,
      `restore failures counted ${failures - failures0}+, ${failedLines.length} failed syncs logged; change applied ${applied} ms after the fix by a full sync`);
    rows.push(row);
    assert.ok(!c.kpx.proc.hasExited(), 'kpx is still running');
    assertKeptTraffic(row, JSON.stringify(snap.failures));
  });

  it(`absorbs endpoint churn (${CHURN_PER_SECOND} changes/s for ${CHURN_SECONDS} s) with syncs bounded by min-sync-period and no failed request`, async () => {
    const spec = svcC().spec;
    const real = svcC().pods;
    const { sent, elapsed, syncs, changes, bound } = await churnEndpoints(c, spec, real, { seconds: CHURN_SECONDS, perSecond: CHURN_PER_SECOND, startWindow: () => c.load.reset() });
    const snap = await c.load.window();
    const row = rowFrom(`endpoint churn ${CHURN_PER_SECOND}/s for ${CHURN_SECONDS} s (issue: 1 min)`, snap,
      `${sent} changes (${(sent / elapsed).toFixed(1)}/s), ${changes} counted by kpx, ${syncs} syncs (bound ${bound} at min-sync-period ${MIN_SYNC_PERIOD_MS} ms)`);
    rows.push(row);
    assert.ok(sent >= CHURN_PER_SECOND * CHURN_SECONDS * 0.9, `the churn reached its rate (${sent} changes)`);
    assert.ok(syncs <= bound, `syncs bounded by min-sync-period: ${syncs} > ${bound}`);
    assert.ok(syncs >= 5, `kpx kept syncing during the churn (${syncs})`);
    assertKeptTraffic(row, JSON.stringify(snap.failures));
  });
  it('restores its rules within one sync period after someone flushes the nat table', async () => {
    const reference = await c.kubeRules();
    await c.load.reset();
    const t0 = Date.now();
    await c.sb.exec(c.nodeNs, 'iptables', ['-t', 'nat', '-F']);
    await c.sb.exec(c.nodeNs, 'iptables', ['-t', 'nat', '-X']);
    const flushed = await c.kubeRules();
    assert.ok(!flushed.includes('nat '), 'the nat table has no KUBE- rules left');
    let restoredMs = -1;
    while (Date.now() - t0 < 3 * SYNC_PERIOD_MS) {
      if ((await c.kubeRules()) === reference) { restoredMs = Date.now() - t0; break; }
      await sleep(100);
    }
    assert.ok(restoredMs >= 0, 'the rules came back');
    const gap = await c.load.window();
    rows.push(rowFrom('nat table flushed (-F, -X): until restored', gap,
      `rules restored ${restoredMs} ms after the flush (sync period ${SYNC_PERIOD_MS} ms); requests in the gap fail by design`));
    await c.load.reset();
    await sleep(2000);
    const afterSnap = await c.load.window();
    const row = rowFrom('nat table flushed: after restore (2 s)', afterSnap);
    rows.push(row);
    assert.ok(restoredMs <= SYNC_PERIOD_MS + 1500, `restored within one sync period (${restoredMs} ms)`);
    assertKeptTraffic(row, JSON.stringify(afterSnap.failures));
  });

});
