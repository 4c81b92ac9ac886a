/**
 * sandbox.ts (test support): one sandbox per test file, built in before() and destroyed in after()
 * (also on failure: node:test runs after() hooks whatever happened, and the sandbox registers exit and
 * signal handlers for the cases where after() never runs).
 */
import { after, before } from 'node:test';
import { buildSandbox, type BuildOptions, type Sandbox } from '../../src/sandbox/builder.js';

export interface SandboxHandle {
  /** The sandbox; only valid inside tests (after before() ran). */
  readonly sb: Sandbox;
}

/** Registers before/after hooks building one sandbox for the enclosing file or describe(). */
export function useSandbox(opts: BuildOptions, setup?: (sb: Sandbox) => Promise<void>): SandboxHandle {
  let sb: Sandbox | undefined;
  before(async () => {
    sb = await buildSandbox({
      ...opts,
      onLine: process.env.KPX_SANDBOX_DEBUG ? (src, line) => process.stderr.write(`[${src}] ${line}\n`) : opts.onLine,
    });
    if (setup) await setup(sb);
  }, { timeout: 120_000 });
  after(async () => {
    await sb?.destroy();
  }, { timeout: 60_000 });
  return {
    get sb(): Sandbox {
      if (!sb) throw new Error('sandbox not built (before() failed or has not run)');
      return sb;
    },
  };
}

/** Retries `fn` until it returns without throwing or `timeoutMs` passes (then rethrows the last error). */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs = 10_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() >= deadline) throw e;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}
