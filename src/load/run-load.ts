/** run-load.ts: picks the generator for a mode. */
import { runBulk } from './bulk.js';
import { runWrk } from './wrk.js';
import type { LoadOptions, LoadResult } from './types.js';

export function runLoad(opts: LoadOptions): Promise<LoadResult> {
  return opts.mode === 'bulk' ? runBulk(opts) : runWrk(opts);
}
