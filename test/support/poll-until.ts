/**
 * poll-until.ts: wait for a condition with a deadline instead of sleeping a fixed time, so tests are
 * fast when things work and fail with a clear message when they do not.
 */
export async function pollUntil(
  condition: () => boolean | Promise<boolean>,
  opts: { timeoutMs?: number; intervalMs?: number; message?: string | (() => string) } = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 10_000; // generous: the CI machine may be shared and loaded
  const intervalMs = opts.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) {
      const msg = typeof opts.message === 'function' ? opts.message() : opts.message;
      throw new Error(`condition not met within ${timeoutMs} ms${msg ? `: ${msg}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** delay: only for "nothing must happen during this window" checks. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
