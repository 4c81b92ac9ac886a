import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedFrequencyRunner, type RunOutcome, type SyncRequest } from '../../../src/sync/runner.js';
import { FakeClock, settle } from '../../support/fake-clock.js';

interface Call { at: number; full: boolean }

/** A sync function that records calls; each call's outcome and duration are scripted by the test. */
class ScriptedSync {
  readonly calls: Call[] = [];
  outcomes: RunOutcome[] = [];
  /** When set, a call stays in flight until release() is called. */
  hold = false;
  inFlight = 0;
  maxInFlight = 0;
  private releases: (() => void)[] = [];
  constructor(private readonly clock: FakeClock) {}
  readonly fn = async (req: SyncRequest): Promise<RunOutcome> => {
    this.calls.push({ at: this.clock.now(), full: req.full });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    if (this.hold) await new Promise<void>((resolve) => this.releases.push(resolve));
    this.inFlight--;
    return this.outcomes.shift() ?? 'ok';
  };
  async release(): Promise<void> {
    const r = this.releases.splice(0);
    for (const f of r) f();
    await settle();
  }
}

function setup(opts: { min?: number; max?: number; full?: number; retry?: number; burst?: number } = {}) {
  const clock = new FakeClock();
  const sync = new ScriptedSync(clock);
  const runner = new BoundedFrequencyRunner({
    name: 'test', fn: sync.fn, clock,
    minIntervalMs: opts.min ?? 1000, maxIntervalMs: opts.max ?? 30_000,
    fullSyncPeriodMs: opts.full, retryInitialMs: opts.retry, burstRuns: opts.burst,
  });
  const t0 = clock.now();
  const rel = () => sync.calls.map((c) => ({ at: c.at - t0, full: c.full }));
  return { clock, sync, runner, rel };
}

test('the first sync runs at start and is full; nothing runs before start', async () => {
  const { clock, sync, runner, rel } = setup();
  runner.run();
  await clock.tick(5000);
  assert.equal(sync.calls.length, 0);
  runner.start();
  await clock.tick(0);
  assert.deepEqual(rel(), [{ at: 5000, full: true }]);
  await runner.stop();
});

test('many run() calls inside min-sync-period coalesce into one sync at the min interval', async () => {
  const { clock, sync, runner, rel } = setup({ min: 1000 });
  runner.start();
  await clock.tick(0);
  for (let i = 0; i < 50; i++) { runner.run(); await clock.tick(10); }
  // 500 ms elapsed; the second sync waits for 1000 ms after the first one's start.
  assert.equal(sync.calls.length, 1);
  await clock.tick(500);
  assert.deepEqual(rel(), [{ at: 0, full: true }, { at: 1000, full: false }]);
  await clock.tick(5000);
  assert.equal(sync.calls.length, 2, 'no further sync without a request before the sync period');
  await runner.stop();
});

test('a request after a quiet spell runs immediately, not one min interval later', async () => {
  const { clock, runner, rel } = setup({ min: 1000 });
  runner.start();
  await clock.tick(10_000);
  runner.run();
  await clock.tick(0);
  assert.deepEqual(rel(), [{ at: 0, full: true }, { at: 10_000, full: false }]);
  await runner.stop();
});

test('at most one sync in flight and one pending: requests during a slow sync collapse into one', async () => {
  const { clock, sync, runner, rel } = setup({ min: 1000 });
  sync.hold = true;
  runner.start();
  await clock.tick(0);
  for (let i = 0; i < 20; i++) { runner.run(); await clock.tick(500); } // 10 s of requests while in flight
  assert.equal(sync.calls.length, 1);
  sync.hold = false;
  await sync.release();
  await clock.tick(0);
  assert.equal(sync.maxInFlight, 1);
  assert.deepEqual(rel(), [{ at: 0, full: true }, { at: 10_000, full: false }]);
  await clock.tick(2000);
  assert.equal(sync.calls.length, 2, 'the collapsed requests produced exactly one more sync');
  await runner.stop();
});

test('with no requests the runner syncs every sync period, and those periodic syncs are full', async () => {
  const { clock, runner, rel } = setup({ min: 1000, max: 30_000 });
  runner.start();
  await clock.tick(95_000);
  assert.deepEqual(rel(), [
    { at: 0, full: true }, { at: 30_000, full: true }, { at: 60_000, full: true }, { at: 90_000, full: true },
  ]);
  await runner.stop();
});

test('partial syncs between periods do not postpone the periodic full sync', async () => {
  const { clock, runner, rel } = setup({ min: 1000, max: 30_000 });
  runner.start();
  await clock.tick(0);
  await clock.tick(20_000);
  runner.run();
  await clock.tick(15_000);
  assert.deepEqual(rel(), [{ at: 0, full: true }, { at: 20_000, full: false }, { at: 30_000, full: true }]);
  await runner.stop();
});

test('a separate full-sync period makes periodic syncs partial until it elapses', async () => {
  const { clock, runner, rel } = setup({ min: 1000, max: 10_000, full: 25_000 });
  runner.start();
  await clock.tick(31_000);
  assert.deepEqual(rel(), [
    { at: 0, full: true }, { at: 10_000, full: false }, { at: 20_000, full: false }, { at: 25_000, full: true },
  ]);
  await runner.stop();
});

test('requestFullSync makes the next sync full (a node change)', async () => {
  const { clock, runner, rel } = setup({ min: 1000 });
  runner.start();
  await clock.tick(5000);
  runner.run();
  await clock.tick(5000);
  runner.requestFullSync();
  await clock.tick(0);
  assert.deepEqual(rel(), [{ at: 0, full: true }, { at: 5000, full: false }, { at: 10_000, full: true }]);
  await runner.stop();
});

test('a failed sync is retried with doubling backoff capped at the sync period, and every retry is full', async () => {
  const { clock, sync, runner, rel } = setup({ min: 1000, max: 30_000, retry: 1000 });
  sync.outcomes = ['ok', 'failed', 'failed', 'failed', 'failed', 'failed', 'failed', 'ok'];
  runner.start();
  await clock.tick(10_000);
  runner.run();
  await clock.tick(200_000);
  const calls = rel();
  assert.deepEqual(calls.slice(0, 9), [
    { at: 0, full: true },
    { at: 10_000, full: false }, // fails
    { at: 11_000, full: true }, // +1 s, fails
    { at: 13_000, full: true }, // +2 s, fails
    { at: 17_000, full: true }, // +4 s, fails
    { at: 25_000, full: true }, // +8 s, fails
    { at: 41_000, full: true }, // +16 s, fails
    { at: 71_000, full: true }, // +30 s (capped), succeeds
    { at: 101_000, full: true }, // back to the normal period
  ]);
  await runner.stop();
});

test('a thrown error counts as a failure and is retried', async () => {
  const clock = new FakeClock();
  const at: number[] = [];
  let n = 0;
  const runner = new BoundedFrequencyRunner({
    name: 'throws', clock, minIntervalMs: 0, maxIntervalMs: 60_000, retryInitialMs: 1000,
    fn: async () => { at.push(clock.now()); if (n++ === 0) throw new Error('boom'); return 'ok'; },
  });
  const t0 = clock.now();
  runner.start();
  await clock.tick(1500);
  assert.deepEqual(at.map((t) => t - t0), [0, 1000]);
  await runner.stop();
});

test('requests during backoff wait for the retry instead of hammering a failing sync', async () => {
  const { clock, sync, runner, rel } = setup({ min: 0, max: 30_000, retry: 4000 });
  sync.outcomes = ['failed', 'ok'];
  runner.start();
  await clock.tick(0);
  for (let i = 0; i < 30; i++) { runner.run(); await clock.tick(100); }
  await clock.tick(2000);
  assert.deepEqual(rel(), [{ at: 0, full: true }, { at: 4000, full: true }]);
  await runner.stop();
});

test('a min interval longer than the sync period wins: syncs stay min interval apart', async () => {
  const { clock, runner, rel } = setup({ min: 10_000, max: 3000 });
  runner.start();
  await clock.tick(25_000);
  assert.deepEqual(rel().map((c) => c.at), [0, 10_000, 20_000]);
  await runner.stop();
});

test('stop waits for the sync in flight and nothing runs afterwards', async () => {
  const { clock, sync, runner } = setup({ min: 0 });
  sync.hold = true;
  runner.start();
  await clock.tick(0);
  runner.run();
  let stopped = false;
  const stopping = runner.stop().then(() => { stopped = true; });
  await settle();
  assert.equal(stopped, false, 'stop() waits for the sync in flight');
  await sync.release();
  await stopping;
  assert.equal(stopped, true);
  await clock.tick(120_000);
  assert.equal(sync.calls.length, 1);
  assert.equal(clock.pendingTimers(), 0);
});

test('with a burst of 2 (kube-proxy\'s) a second sync right after the first runs at once, a third waits for the min interval', async () => {
  const { clock, runner, rel } = setup({ min: 1000, burst: 2 });
  runner.start();
  await clock.tick(0);
  runner.run(); // e.g. the EndpointSlice that follows its Service
  await clock.tick(0);
  runner.run();
  await clock.tick(999);
  assert.deepEqual(rel().map((c) => c.at), [0, 0], 'the burst is spent: the third waits');
  await clock.tick(1);
  assert.deepEqual(rel().map((c) => c.at), [0, 0, 1000]);
  await runner.stop();
});

test('a flood of requests is still bounded with a burst: one sync per min interval once the burst is spent', async () => {
  const { clock, runner, rel } = setup({ min: 1000, burst: 2 });
  runner.start();
  for (let t = 0; t < 10_000; t += 100) {
    runner.run();
    await clock.tick(100);
  }
  const starts = rel().map((c) => c.at);
  assert.ok(starts.length <= 2 + 10, `${starts.length} syncs in 10 s: ${starts.join(',')}`);
  for (let i = 2; i < starts.length; i++) assert.ok(starts[i]! - starts[i - 2]! >= 1000, `syncs ${i - 2} and ${i} closer than the min interval: ${starts.join(',')}`);
  await runner.stop();
});
