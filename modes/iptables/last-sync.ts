/** last-sync.ts: what the iptables backend's last sync did (for logs, tests and perf). */

export interface LastSyncInfo {
  readonly kind: 'full' | 'partial' | 'none';
  /**
   * The restore input when it is at most KEPT_INPUT_CHARS (a partial sync's, a small cluster's) or the
   * backend keeps every input, else "": a large cluster's full-sync input is megabytes that would stay in
   * the heap until the next sync.
   */
  readonly input: string;
  readonly inputLength: number;
  readonly deletedChains: readonly string[];
  readonly renderMs: number;
  /** Reading the current tables (full syncs with 'replace-tables'). */
  readonly saveMs: number;
  /** Building the restore input from the saved tables and the render. */
  readonly mergeMs: number;
  readonly restoreMs: number;
  /** A full sync reused the last iptables-save because nothing but kpx changed any rule since. */
  readonly reusedSave: boolean;
  readonly totalMs: number;
}

export const NO_SYNC: LastSyncInfo = { kind: 'none', input: '', inputLength: 0, deletedChains: [], renderMs: 0, saveMs: 0, mergeMs: 0, restoreMs: 0, reusedSave: false, totalMs: 0 };

const KEPT_INPUT_CHARS = 256 * 1024;

export function keptInput(input: string, keepAll: boolean): { input: string; inputLength: number } {
  return { input: keepAll || input.length <= KEPT_INPUT_CHARS ? input : '', inputLength: input.length };
}
