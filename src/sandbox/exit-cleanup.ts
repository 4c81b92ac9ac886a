/**
 * exit-cleanup.ts: removes a sandbox's processes and namespaces when this process ends without calling
 * destroy() (a crash, an uncaught error, Ctrl-C, the test runner's SIGTERM on a timeout).
 *
 * The 'exit' handler cannot await, so it uses spawnSync for `ip netns del`, the one place the sandbox
 * does not go through exec.ts; the names were checked to carry the kpx- prefix when they were created.
 */
import { spawnSync } from 'node:child_process';

export interface Leftovers {
  /** Pids still running (pod servers, kpx). */
  pids(): number[];
  /** Namespaces still present. */
  namespaces(): string[];
  /** Runs (synchronously) once they are gone. */
  cleaned?(): void;
}

const live = new Set<Leftovers>();
let installed = false;

function cleanupNow(): void {
  for (const l of live) {
    for (const pid of l.pids()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    for (const ns of l.namespaces()) {
      if (!ns.startsWith('kpx-')) continue;
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5000 });
    }
    try { l.cleaned?.(); } catch { /* best effort at exit */ }
  }
  live.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  cleanupNow();
  uninstall();
  // Re-raise so the exit status says which signal ended us.
  process.kill(process.pid, sig);
}

const onExit = () => cleanupNow();
const onSigint = () => onSignal('SIGINT');
const onSigterm = () => onSignal('SIGTERM');

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', onExit);
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', onExit);
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigterm);
}

/** Registers a sandbox for last-resort cleanup; returns the function that unregisters it. */
export function registerForExitCleanup(l: Leftovers): () => void {
  live.add(l);
  install();
  return () => {
    live.delete(l);
    if (live.size === 0) uninstall();
  };
}
