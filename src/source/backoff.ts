/**
 * backoff.ts: exponential retry delays with jitter, as client-go's reflector uses them (800 ms doubling
 * to 30 s), so a fleet of nodes does not hammer a recovering API server in lock step.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({ initialMs: 800, maxMs: 30_000 });

export class Backoff {
  private current = 0;

  constructor(
    private readonly opts: BackoffOptions,
    /** Up to this fraction is added at random to each delay. */
    private readonly jitter = 0.2,
    private readonly random: () => number = Math.random,
  ) {}

  /** next returns the delay before the next attempt and doubles it for the one after. */
  next(): number {
    this.current = this.current === 0 ? this.opts.initialMs : Math.min(this.current * 2, this.opts.maxMs);
    const jittered = this.current * (1 + this.jitter * this.random());
    return Math.round(Math.min(jittered, this.opts.maxMs));
  }

  /** reset starts again from initialMs, once an attempt has succeeded. */
  reset(): void {
    this.current = 0;
  }
}
