/**
 * fake-clock.ts: a Clock whose time moves only when a test says so, so the sync runner and the health
 * logic are tested without sleeping.
 *
 * advance(ms) moves time forward and fires every timer that falls due, in due order (ties in the order they
 * were set), with now() equal to each timer's due time while it runs. A timer set by a firing timer runs in
 * the same advance() when it falls due inside the window. tick(ms) does the same but lets promise chains
 * (async syncs started by a timer) settle after each timer, which is what tests of async code want.
 */
import type { Clock, TimerHandle } from '../../src/util/clock.js';

interface PendingTimer {
  readonly id: number;
  readonly due: number;
  readonly seq: number;
  readonly fn: () => void;
}

/** Lets queued microtasks and immediate callbacks (an awaited promise chain) run to completion. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  private current: number;
  private nextId = 1;
  private seq = 0;
  private readonly timers = new Map<number, PendingTimer>();

  constructor(startMs = Date.UTC(2026, 0, 1, 0, 0, 0)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    this.timers.set(id, { id, due: this.current + delay, seq: this.seq++, fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    if (handle && typeof handle === 'object' && 'id' in handle && typeof handle.id === 'number') this.timers.delete(handle.id);
  }

  /** Number of timers waiting to fire. */
  pendingTimers(): number {
    return this.timers.size;
  }

  /** The due time of the earliest pending timer, or undefined. */
  nextDue(): number | undefined {
    return this.earliest()?.due;
  }

  /** Moves time forward by ms, firing due timers synchronously in order. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const t = this.earliest();
      if (!t || t.due > target) break;
      this.timers.delete(t.id);
      this.current = Math.max(this.current, t.due);
      t.fn();
    }
    this.current = target;
  }

  /** Like advance(), but settles promise chains after every timer (and once at the start and end). */
  async tick(ms: number): Promise<void> {
    const target = this.current + ms;
    await settle();
    for (;;) {
      const t = this.earliest();
      if (!t || t.due > target) break;
      this.timers.delete(t.id);
      this.current = Math.max(this.current, t.due);
      t.fn();
      await settle();
    }
    this.current = target;
    await settle();
  }

  private earliest(): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const t of this.timers.values()) {
      if (!best || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    }
    return best;
  }
}
