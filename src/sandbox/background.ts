/**
 * background.ts: long-running processes inside sandbox namespaces (pod servers, kpx itself).
 *
 * exec.ts runs commands to completion; these run until stopped, so they are spawned here, with the same
 * argument vector exec.ts builds (`commandVector`: `ip netns exec NS cmd ...`, never a shell).
 * `ip netns exec` execs the command in place, so the child's pid IS the server's pid and stopping it by
 * pid stops the right process and nothing else.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { commandVector } from '../net/exec.js';
import { assertSandboxNamespace } from './netns.js';

export interface BackgroundProcess {
  readonly pid: number;
  readonly ns: string;
  readonly label: string;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | string>;
  /** True once the process has ended. */
  hasExited(): boolean;
  /** The last lines of its stdout and stderr, for error messages. */
  outputTail(): string;
  /** Every stdout line so far. */
  lines(): readonly string[];
  /** Resolves with the first stdout line matching, rejects when the process exits first or after timeoutMs. */
  waitForLine(match: RegExp, timeoutMs: number): Promise<string>;
  /** SIGTERM, then SIGKILL after graceMs; resolves once it has exited. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  ns: string;
  label: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Called with each line of output (prefixed with the label by the caller if wanted). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

const TAIL_LINES = 40;

export function startBackground(cmd: string, args: readonly string[], opts: StartOptions): BackgroundProcess {
  assertSandboxNamespace(opts.ns);
  const [file, argv] = commandVector(cmd, args, opts.ns);
  const child: ChildProcess = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd, env: opts.env ?? process.env });
  if (child.pid === undefined) throw new Error(`could not start ${opts.label} in ${opts.ns}`);
  const pid = child.pid;
  const tail: string[] = [];
  const stdoutLines: string[] = [];
  const waiters: { match: RegExp; resolve: (l: string) => void }[] = [];
  let done = false;

  const feed = (stream: 'stdout' | 'stderr') => {
    let partial = '';
    return (chunk: Buffer) => {
      partial += chunk.toString();
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        tail.push(`${stream}: ${line}`);
        if (tail.length > TAIL_LINES) tail.shift();
        opts.onLine?.(line, stream);
        if (stream !== 'stdout') continue;
        stdoutLines.push(line);
        for (let i = waiters.length - 1; i >= 0; i--) {
          const w = waiters[i]!;
          if (w.match.test(line)) { waiters.splice(i, 1); w.resolve(line); }
        }
      }
    };
  };
  child.stdout!.on('data', feed('stdout'));
  child.stderr!.on('data', feed('stderr'));

  const exited = new Promise<number | string>((resolve) => {
    child.on('error', (e) => { tail.push(`spawn error: ${e.message}`); });
    child.on('close', (code, signal) => { done = true; resolve(code ?? signal ?? 'unknown'); });
  });

  const proc: BackgroundProcess = {
    pid,
    ns: opts.ns,
    label: opts.label,
    exited,
    hasExited: () => done,
    outputTail: () => tail.join('\n'),
    lines: () => stdoutLines,
    waitForLine(match, timeoutMs) {
      const already = stdoutLines.find((l) => match.test(l));
      if (already !== undefined) return Promise.resolve(already);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`${opts.label} in ${opts.ns}: no line matching ${match} within ${timeoutMs} ms\n${tail.join('\n')}`));
        }, timeoutMs);
        waiters.push({ match, resolve: (l) => { clearTimeout(timer); resolve(l); } });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`${opts.label} in ${opts.ns} exited (${code}) before it was ready\n${tail.join('\n')}`));
        });
      });
    },
    async stop(graceMs = 3000) {
      if (done) return;
      signal(pid, 'SIGTERM');
      const killer = setTimeout(() => signal(pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(killer);
    },
  };
  return proc;
}

/** Sends a signal to one pid; an already-gone process is fine. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try { process.kill(pid, sig); } catch { /* ESRCH: it has exited already */ }
}
