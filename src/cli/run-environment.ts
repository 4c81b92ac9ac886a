/**
 * run-environment.ts: what a kpx run takes from its process (clock, output, host name and interfaces, the
 * stop signal, the logger), as one value so the runs can be driven by tests without a process of their own.
 */
import { hostname, networkInterfaces } from 'node:os';
import { systemClock, type Clock } from '../util/clock.js';
import { log as rootLog, type Logger } from '../util/log.js';

/** Everything runProxy takes from the process, injectable for tests. */
export interface RunEnvironment {
  readonly clock: Clock;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly hostname: () => string;
  readonly networkInterfaces: () => ReturnType<typeof networkInterfaces>;
  /** Resolves with the signal's name when the process is asked to stop. */
  readonly waitForStop: () => Promise<string>;
  readonly log: Logger;
  /** How long --dry-run waits for the source's initial lists. */
  readonly dryRunTimeoutMs: number;
}

/**
 * Resolves on the first SIGTERM or SIGINT. A second one while shutting down exits at once (status 1): an
 * operator's second Ctrl-C, or a kubelet's repeated TERM, must never wait on a hung sync.
 */
function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const first = (sig: NodeJS.Signals) => {
      process.off('SIGTERM', first);
      process.off('SIGINT', first);
      const second = (again: NodeJS.Signals) => {
        process.stderr.write(`kpx: ${again} received again while stopping; exiting now\n`);
        process.exit(1);
      };
      process.once('SIGTERM', second);
      process.once('SIGINT', second);
      resolve(sig);
    };
    process.on('SIGTERM', first);
    process.on('SIGINT', first);
  });
}

export const processEnvironment: RunEnvironment = {
  clock: systemClock,
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  hostname,
  networkInterfaces,
  waitForStop: waitForSignal,
  log: rootLog,
  dryRunTimeoutMs: 60_000,
};
