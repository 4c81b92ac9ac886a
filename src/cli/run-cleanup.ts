/**
 * run-cleanup.ts: `kpx --cleanup`: every mode's backend removes what it (or kube-proxy's same mode) left,
 * for both IP families; idempotent; exit 0 when everything is clean.
 */
import { Registry } from 'prom-client';
import type { KpxConfig } from '../config/types.js';
import { MODE_NAMES } from '../modes.js';
import { errorMessage } from '../util/errors.js';
import { hostFacts } from './host-facts.js';
import { createModeBackend } from './mode-wiring.js';
import type { RunEnvironment } from './run-environment.js';

/** --cleanup: every mode's cleanup() for both families; one log line per step; exit 1 if any step failed. */
export async function runCleanup(config: KpxConfig, env: RunEnvironment): Promise<number> {
  const log = env.log.child({ component: 'cleanup' });
  let failed = 0;
  for (const mode of MODE_NAMES) {
    for (const family of ['IPv4', 'IPv6'] as const) {
      try {
        const backend = createModeBackend(config, mode, { family, registry: new Registry(), log, host: hostFacts(env.networkInterfaces) });
        await backend.cleanup();
        log.info('removed leftovers', { mode, family });
      } catch (err) {
        failed++;
        log.error('cleanup failed', { mode, family, error: errorMessage(err) });
      }
    }
  }
  if (failed > 0) {
    env.stderr(`kpx: --cleanup: ${failed} step(s) failed; see the log above\n`);
    return 1;
  }
  return 0;
}
