/**
 * Chaos: the API server misbehaves while a client pod sends continuous load to three ClusterIP
 * services. kpx (iptables mode, kube source) must keep every rule in place, reconnect and relist, and
 * apply the changes made while it could not watch. Target: zero failed requests.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { nowSeconds } from '../../src/sandbox/kpx-runner.js';
import { assertKeptTraffic, ChaosCluster, LOAD_RATE, printFaultTable, rowFrom, serviceSpec, sleep, SYNC_PERIOD_MS, type FaultRow } from '../support/chaos-cluster.js';
import { notReadyReason } from '../support/sandbox-cluster.js';

const skip = notReadyReason('iptables');

describe('chaos: API server faults under continuous load (iptables mode)', { skip, timeout: 300_000 }, () => {
  let c: ChaosCluster;
  const rows: FaultRow[] = [];
  let lateIndex = 0;

  before(async () => { c = await ChaosCluster.create(); }, { timeout: 120_000 });
  after(async () => {
    printFaultTable(`chaos: API server faults (iptables mode, ${LOAD_RATE} req/s over 3 ClusterIP services and a pod IP)`, rows);
    await c?.destroy();
  }, { timeout: 60_000 });

  /**
   * A service created while the fault is on: once the API server works again kpx must list or watch it
   * and program it. Returns how long after recovery it started answering.
   */
  async function lateServiceServes(): Promise<number> {
    lateIndex++;
    const spec = serviceSpec(`late-${lateIndex}`, `10.96.20.${lateIndex}`);
    return c.expectServes(spec.clusterIP, 80, 30_000);
  }

  async function createLateService(): Promise<void> {
    const spec = serviceSpec(`late-${lateIndex + 1}`, `10.96.20.${lateIndex + 1}`);
    await c.writeService(spec, ['web-2']);
  }

  async function assertHealthyAfter(fault: string): Promise<void> {
    const snap = await c.load.window();
    const row = rowFrom(fault, snap);
    rows.push(row);
    assert.ok(!c.kpx.proc.hasExited(), `kpx exited during "${fault}"\n${c.kpxOutput()}`);
    assert.ok(row.sent > 0, 'the load sent requests');
    assertKeptTraffic(row, JSON.stringify(snap.failures));
  }

  it('keeps every rule and every request through an API server restart, and applies a change made meanwhile', async () => {
    await c.load.reset();
    const before = await c.kubeRules();
    await c.api.stopServing();
    await sleep(1500);
    await createLateService();
    await c.api.restart();
    const waited = await lateServiceServes();
    assert.equal(await c.kubeRules().then((r) => r.includes('KUBE-SVC')), true);
    assert.ok(before.length > 0);
    await sleep(1000);
    await assertHealthyAfter('API server restart (down 1.5 s)');
    rows.at(-1)!.note = `change made while down served ${waited} ms after restart; ${rows.at(-1)!.note}`;
  });

  it('keeps serving when every watch is dropped, abruptly and gracefully, and resumes watching', async () => {
    await c.load.reset();
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
    await assertHealthyAfter('all watches dropped (abrupt, then graceful)');
    rows.at(-1)!.note = `changes after the drops served in ${waited1}/${waited2} ms; ${rows.at(-1)!.note}`;
  });

  it('relists after 410 Gone and applies what changed in the compacted history', async () => {
    await c.load.reset();
    const s0 = Date.now();
    // Changes land in the history, then compaction forgets it: kpx must relist to learn of them.
    await c.api.stopServing();
    await createLateService();
    await c.api.compact(true);
    await c.api.restart();
    const waited = await lateServiceServes();
    const stats = await c.api.stats(s0);
    assert.ok((stats.lists.Service ?? 0) >= 1 && (stats.lists.EndpointSlice ?? 0) >= 1, `kpx relisted after 410 (${JSON.stringify(stats)})`);
    await sleep(1000);
    await assertHealthyAfter('410 Gone (history compacted)');
    rows.at(-1)!.note = `relisted after the 410 (Service lists ${stats.lists.Service}, EndpointSlice lists ${stats.lists.EndpointSlice}); change served in ${waited} ms; ${rows.at(-1)!.note}`;
  });

  it('rides out 500s for longer than a sync period, then catches up', async () => {
    await c.load.reset();
    const s0 = Date.now();
    await c.api.failWith(500, SYNC_PERIOD_MS + 3000);
    await createLateService();
    await sleep(SYNC_PERIOD_MS + 3000);
    const waited = await lateServiceServes();
    const stats = await c.api.stats(s0);
    assert.ok(stats.errors > 0, 'kpx met the 500s');
    await assertHealthyAfter(`500 Internal Server Error for ${(SYNC_PERIOD_MS + 3000) / 1000} s`);
    rows.at(-1)!.note = `${stats.errors} requests answered 500; change served ${waited} ms after; ${rows.at(-1)!.note}`;
  });

  it('keeps the rules while the API server is unreachable for twice the sync period, then reconnects', async () => {
    await c.load.reset();
    const since = nowSeconds();
    const downMs = 2 * SYNC_PERIOD_MS;
    const down = c.api.down(downMs);
    await sleep(500);
    await createLateService();
    const before = await c.kubeRules();
    await down;
    const waited = await lateServiceServes();
    // Full syncs ran during the outage (sync-period) without dropping a rule: the state was kept.
    const afterRules = await c.kubeRules();
    for (const s of ['svc-a', 'svc-b', 'svc-c']) assert.ok(afterRules.includes(`default/${s}:http`), `${s} rules are still there`);
    assert.ok(before.includes('default/svc-a:http'), 'rules were there during the outage');
    await c.waitForSync(since);
    await assertHealthyAfter(`API server unreachable ${downMs / 1000} s (2 x sync period)`);
    rows.at(-1)!.note = `change made while down served ${waited} ms after it came back; ${rows.at(-1)!.note}`;
  });
});
