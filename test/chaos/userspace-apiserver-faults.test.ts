/**
 * Chaos, userspace mode: the API server misbehaves while a client pod sends continuous load to three
 * ClusterIP services and holds keep-alive connections through them. In this mode kpx carries every
 * byte itself (the kernel only REDIRECTs to kpx's listeners), so the listeners and the connections they
 * carry must outlive every API-server fault: kpx keeps its state, reconnects, relists, and applies the
 * changes made meanwhile. Target: zero failed requests and no held connection lost.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { nowSeconds } from '../../src/sandbox/kpx-runner.js';
import {
  assertHeldSurvived, assertKeptTraffic, ChaosCluster, heldNote, LOAD_RATE, printFaultTable, rowFrom, serviceSpec, sleep, SYNC_PERIOD_MS, type FaultRow,
} from '../support/chaos-cluster.js';
import { notReadyReason } from '../support/sandbox-cluster.js';

const skip = notReadyReason('userspace');

describe('chaos: API server faults under continuous load (userspace mode)', { skip, timeout: 300_000 }, () => {
  let c: ChaosCluster;
  const rows: FaultRow[] = [];
  let lateIndex = 0;

  before(async () => { c = await ChaosCluster.create({ mode: 'userspace' }); }, { timeout: 120_000 });
  after(async () => {
    printFaultTable(`chaos: API server faults (userspace mode, ${LOAD_RATE} req/s over 3 ClusterIP services and a pod IP, 6 held keep-alive connections)`, rows);
    await c?.destroy();
  }, { timeout: 60_000 });

  /** The start of a fault's window: fresh counts and fresh held connections through every service. */
  async function startWindow(): Promise<void> {
    await c.load.hold({ targets: c.serviceTargets() });
    await c.load.reset();
  }

  async function createLateService(): Promise<void> {
    const spec = serviceSpec(`late-${lateIndex + 1}`, `10.96.20.${lateIndex + 1}`);
    await c.writeService(spec, ['web-2']);
  }

  /** The service made while the fault was on serves once it is over; how long that took. */
  async function lateServiceServes(): Promise<number> {
    lateIndex++;
    return c.expectServes(`10.96.20.${lateIndex}`, 80, 30_000);
  }

  async function assertHealthyAfter(fault: string, note: string): Promise<void> {
    const snap = await c.load.window();
    const held = await c.load.holdReport();
    const row = rowFrom(fault, snap, `${note}; ${heldNote(held)}`);
    rows.push(row);
    assert.ok(!c.kpx.proc.hasExited(), `kpx exited during "${fault}"\n${c.kpxOutput()}`);
    assert.ok(row.sent > 0, 'the load sent requests');
    assertKeptTraffic(row, JSON.stringify(snap.failures));
    assertHeldSurvived(held, row);
    assert.ok(held.requests > 0, 'the held connections were used during the fault');
  }

  it('keeps every listener, request and open connection through an API server restart, and applies a change made meanwhile', async () => {
    await startWindow();
    assert.match(await c.kubeRules(), /KUBE-PORTALS-CONTAINER/, 'kpx wrote its portal rules');
    await c.api.stopServing();
    await sleep(1500);
    await createLateService();
    await c.api.restart();
    const waited = await lateServiceServes();
    await sleep(1000);
    await assertHealthyAfter('API server restart (down 1.5 s)', `change made while down served ${waited} ms after restart`);
  });

  it('keeps serving when every watch is dropped, abruptly and gracefully, and resumes watching', async () => {
    await startWindow();
    const s0 = Date.now();
    assert.ok((await c.api.dropWatches(true)) >= 2, 'kpx had watches open');
    await createLateService();
    const waited1 = await lateServiceServes();
    await c.api.dropWatches(false);
    await createLateService();
    const waited2 = await lateServiceServes();
    const stats = await c.api.stats(s0);
    assert.ok(stats.openWatches >= 3, `kpx watches again (${JSON.stringify(stats)})`);
    await sleep(1000);
    await assertHealthyAfter('all watches dropped (abrupt, then graceful)', `changes after the drops served in ${waited1}/${waited2} ms`);
  });

  it('relists after 410 Gone and applies what changed in the compacted history', async () => {
    await startWindow();
    const s0 = Date.now();
    await c.api.stopServing();
    await createLateService();
    await c.api.compact(true);
    await c.api.restart();
    const waited = await lateServiceServes();
    const stats = await c.api.stats(s0);
    assert.ok((stats.lists.Service ?? 0) >= 1 && (stats.lists.EndpointSlice ?? 0) >= 1, `kpx relisted after 410 (${JSON.stringify(stats)})`);
    await sleep(1000);
    await assertHealthyAfter('410 Gone (history compacted)',
      `relisted (Service lists ${stats.lists.Service}, EndpointSlice lists ${stats.lists.EndpointSlice}); change served in ${waited} ms`);
  });

  it('rides out 500s for longer than a sync period, then catches up', async () => {
    await startWindow();
    const s0 = Date.now();
    await c.api.failWith(500, SYNC_PERIOD_MS + 3000);
    await createLateService();
    await sleep(SYNC_PERIOD_MS + 3000);
    const waited = await lateServiceServes();
    const stats = await c.api.stats(s0);
    assert.ok(stats.errors > 0, 'kpx met the 500s');
    await assertHealthyAfter(`500 Internal Server Error for ${(SYNC_PERIOD_MS + 3000) / 1000} s`, `${stats.errors} requests answered 500; change served ${waited} ms after`);
  });

  it('keeps listeners, portal rules and connections while the API server is unreachable for twice the sync period, then reconnects', async () => {
    await startWindow();
    const since = nowSeconds();
    const downMs = 2 * SYNC_PERIOD_MS;
    const down = c.api.down(downMs);
    await sleep(500);
    await createLateService();
    const during = await c.kubeRules();
    await down;
    const waited = await lateServiceServes();
    // Full syncs ran during the outage (sync-period) without closing a listener or dropping a rule.
    const afterRules = await c.kubeRules();
    for (const s of ['svc-a', 'svc-b', 'svc-c']) {
      assert.ok(during.includes(`default/${s}:http`), `${s}'s portal rules were there during the outage`);
      assert.ok(afterRules.includes(`default/${s}:http`), `${s}'s portal rules are still there`);
    }
    await c.waitForSync(since);
    await assertHealthyAfter(`API server unreachable ${downMs / 1000} s (2 x sync period)`, `change made while down served ${waited} ms after it came back`);
  });
});
