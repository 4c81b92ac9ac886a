/**
 * clock.ts: Clock moved to src/util/clock.ts (the server, events and modes use it, not only the sync loop).
 * This re-export stays only until test/support/fake-clock.ts (owned elsewhere) imports src/util/clock.js;
 * new code imports src/util/clock.js.
 */
export { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
