/**
 * chaos-process.ts (test support): a long-lived helper process inside a sandbox namespace that obeys
 * JSON commands on stdin and answers on stdout, one JSON object a line: `{"id":N,...}` in,
 * `{"id":N,"ok":true,"result":...}` or `{"id":N,"ok":false,"error":"..."}` out. Lines without an id are
 * events (`{"event":"ready",...}`).
 *
 * The sandbox's own background runner gives its processes no stdin, so this one spawns with the same
 * argument vector exec.ts builds (`ip netns exec NS cmd ...`, never a shell). `ip netns exec` execs in
 * place, so the child's pid is the helper's pid: stop() signals that pid and nothing else, and the
 * sandbox's exit cleanup (registerForExitCleanup) kills it if the test process dies first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { commandVector } from '../../src/net/exec.js';
import { registerForExitCleanup } from '../../src/sandbox/exit-cleanup.js';
import { assertSandboxNamespace } from '../../src/sandbox/netns.js';

export interface JsonLineProcessOptions {
  ns: string;
  label: string;
  cmd: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Every stderr line (and unparseable stdout line), for debugging. */
  onLine?: (line: string) => void;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const TAIL = 60;

export class JsonLineProcess {
  readonly pid: number;
  readonly label: string;
  readonly exited: Promise<number | string>;
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private readonly events: Record<string, unknown>[] = [];
  private readonly eventWaiters: { match: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }[] = [];
  private readonly tail: string[] = [];
  private nextId = 1;
  private done = false;
  private readonly unregister: () => void;

  constructor(opts: JsonLineProcessOptions) {
    assertSandboxNamespace(opts.ns);
    this.label = opts.label;
    const [file, argv] = commandVector(opts.cmd, opts.args, opts.ns);
    this.child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'], cwd: opts.cwd, env: opts.env ?? process.env });
    if (this.child.pid === undefined) throw new Error(`could not start ${opts.label} in ${opts.ns}`);
    this.pid = this.child.pid;
    this.unregister = registerForExitCleanup({ pids: () => (this.done ? [] : [this.pid]), namespaces: () => [] });
    this.child.stdin!.on('error', () => { /* it exited; pending calls are rejected on close */ });
    this.lines(this.child.stdout!, (line) => this.onStdout(line, opts.onLine));
    this.lines(this.child.stderr!, (line) => { this.keep(`stderr: ${line}`); opts.onLine?.(line); });
    this.exited = new Promise((resolve) => {
      this.child.on('error', (e) => this.keep(`spawn error: ${e.message}`));
      this.child.on('close', (code, signal) => {
        this.done = true;
        this.unregister();
        for (const [, p] of this.pending) { clearTimeout(p.timer); p.reject(new Error(`${this.label} exited (${code ?? signal})\n${this.outputTail()}`)); }
        this.pending.clear();
        resolve(code ?? signal ?? 'unknown');
      });
    });
  }

  hasExited(): boolean {
    return this.done;
  }

  outputTail(): string {
    return this.tail.join('\n');
  }

  /** Sends one command and resolves with its result (rejects on an error answer, exit or timeout). */
  call<T = unknown>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    if (this.done) return Promise.reject(new Error(`${this.label} has exited\n${this.outputTail()}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.label}: no answer to ${cmd} within ${timeoutMs} ms\n${this.outputTail()}`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.stdin!.write(JSON.stringify({ id, cmd, ...args }) + '\n');
    });
  }

  /** Resolves with the first event (a line without id) matching, past or future. */
  waitForEvent(match: (e: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label}: no matching event within ${timeoutMs} ms\n${this.outputTail()}`)), timeoutMs);
      this.eventWaiters.push({ match, resolve: (e) => { clearTimeout(timer); resolve(e); } });
      void this.exited.then((code) => { clearTimeout(timer); reject(new Error(`${this.label} exited (${code}) before the event\n${this.outputTail()}`)); });
    });
  }

  /** SIGTERM, then SIGKILL after graceMs; idempotent. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.done) return;
    this.signal('SIGTERM');
    const killer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(killer);
  }

  private signal(sig: NodeJS.Signals): void {
    try { process.kill(this.pid, sig); } catch { /* gone already */ }
  }

  private keep(line: string): void {
    this.tail.push(line);
    if (this.tail.length > TAIL) this.tail.shift();
  }

  private lines(stream: NodeJS.ReadableStream, each: (line: string) => void): void {
    let partial = '';
    stream.on('data', (chunk: Buffer) => {
      partial += chunk.toString();
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const l of parts) if (l.trim() !== '') each(l);
    });
  }

  private onStdout(line: string, onLine?: (l: string) => void): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.keep(`stdout: ${line}`);
      onLine?.(line);
      return;
    }
    if (typeof msg.id === 'number') {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`${this.label}: ${String(msg.error)}`));
      return;
    }
    this.keep(`event: ${line}`);
    this.events.push(msg);
    for (let i = this.eventWaiters.length - 1; i >= 0; i--) {
      const w = this.eventWaiters[i]!;
      if (w.match(msg)) { this.eventWaiters.splice(i, 1); w.resolve(msg); }
    }
  }
}
