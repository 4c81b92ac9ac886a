/**
 * The API-server chaos scenarios, one suite per proxy mode: the API server misbehaves (restart, dropped
 * watches, 410 Gone, 500s, unreachable) while a client pod sends continuous load to three ClusterIP
 * services. kpx must keep what it programmed, reconnect and relist, and apply the changes made while it
 * could not watch. Target: zero failed requests. In the userspace mode kpx carries every byte itself, so
 * keep-alive connections are also held through every service during each fault and must all survive.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { nowSeconds } from '../../src/sandbox/kpx-runner.js';
import {
  assertHeldSurvived, assertKeptTraffic, ChaosCluster, heldNote, type ChaosMode, LOAD_RATE, printFaultTable, rowFrom, serviceSpec, sleep, SYNC_PERIOD_MS, type FaultRow,
} from './chaos-cluster.js';
import { notReadyReason } from './sandbox-cluster.js';

export interface ApiFaultSuite {
  readonly mode: ChaosMode;
  /** For the test names: what kpx keeps through a restart ("every rule and every request"). */
  readonly keeps: string;
  /** For the test names: what kpx keeps while the API server is unreachable ("the rules"). */
  readonly keepsWhileDown: string;
  /** A chain kpx writes in this mode, checked before and after a fault. */
  readonly ruleMarker: string;
  /** Hold keep-alive connections through every service during each fault, and require that they survive. */
  readonly holdConnections: boolean;
}

export function apiServerFaultSuite(s: ApiFaultSuite): void {
  describe(`chaos: API server faults under continuous load (${s.mode} mode)`, { skip: notReadyReason(s.mode), timeout: 300_000 }, () => {
    let c: ChaosCluster;
    const rows: FaultRow[] = [];
    let lateIndex = 0;

    before(async () => { c = await ChaosCluster.create({ mode: s.mode }); }, { timeout: 120_000 });
    after(async () => {
      const held = s.holdConnections ? ', 6 held keep-alive connections' : '';
      printFaultTable(`chaos: API server faults (${s.mode} mode, ${LOAD_RATE} req/s over 3 ClusterIP services and a pod IP${held})`, rows);
      await c?.destroy();
    }, { timeout: 60_000 });

    /** The start of a fault's window: fresh counts (and fresh held connections through every service). */
    async function startWindow(): Promise<void> {
      if (s.holdConnections) await c.load.hold({ targets: c.serviceTargets() });
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
      const held = s.holdConnections ? await c.load.holdReport() : undefined;
      const row = rowFrom(fault, snap, held ? `${note}; ${heldNote(held)}` : note);
      rows.push(row);
      assert.ok(!c.kpx.proc.hasExited(), `kpx exited during "${fault}"\n${c.kpxOutput()}`);
      assert.ok(row.sent > 0, 'the load sent requests');
      assertKeptTraffic(row, JSON.stringify(snap.failures));
      if (held) {
        assertHeldSurvived(held, row);
        assert.ok(held.requests > 0, 'the held connections were used during the fault');
      }
    }

    it(`keeps ${s.keeps} through an API server restart, and applies a change made meanwhile`, async () => {
      await startWindow();
      assert.ok((await c.kubeRules()).includes(s.ruleMarker), `kpx wrote its ${s.ruleMarker} rules`);
      await c.api.stopServing();
      await sleep(1500);
      await createLateService();
      await c.api.restart();
      const waited = await lateServiceServes();
      assert.ok((await c.kubeRules()).includes(s.ruleMarker), `the ${s.ruleMarker} rules are still there`);
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
      // Changes land in the history, then compaction forgets it: kpx must relist to learn of them.
      await c.api.stopServing();
      await createLateService();
      await c.api.compact(true);
      await c.api.restart();
      const waited = await lateServiceServes();
      const stats = await c.api.stats(s0);
      assert.ok((stats.lists.Service ?? 0) >= 1 && (stats.lists.EndpointSlice ?? 0) >= 1, `kpx relisted after 410 (${JSON.stringify(stats)})`);
      await sleep(1000);
      await assertHealthyAfter('410 Gone (history compacted)',
        `relisted after the 410 (Service lists ${stats.lists.Service}, EndpointSlice lists ${stats.lists.EndpointSlice}); change served in ${waited} ms`);
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

    it(`keeps ${s.keepsWhileDown} while the API server is unreachable for twice the sync period, then reconnects`, async () => {
      await startWindow();
      const since = nowSeconds();
      const downMs = 2 * SYNC_PERIOD_MS;
      const down = c.api.down(downMs);
      await sleep(500);
      await createLateService();
      const during = await c.kubeRules();
      await down;
      const waited = await lateServiceServes();
      // Full syncs ran during the outage (sync-period) without dropping a rule (or closing a listener).
      const afterRules = await c.kubeRules();
      for (const svc of ['svc-a', 'svc-b', 'svc-c']) {
        assert.ok(during.includes(`default/${svc}:http`), `${svc}'s rules were there during the outage`);
        assert.ok(afterRules.includes(`default/${svc}:http`), `${svc}'s rules are still there`);
      }
      await c.waitForSync(since);
      await assertHealthyAfter(`API server unreachable ${downMs / 1000} s (2 x sync period)`, `change made while down served ${waited} ms after it came back`);
    });
  });
}
