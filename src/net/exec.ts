/**
 * exec.ts: the one way kpx runs an external command. Always an argument vector (never a shell), so
 * nothing user-controlled is ever interpreted. `netns` runs the command inside a named network namespace
 * (tests and the sandbox); kpx itself runs inside the node's namespace and leaves it unset.
 */
import { spawn } from 'node:child_process';
import { CommandError } from '../util/errors.js';

export interface ExecOptions {
  /** Written to the command's stdin, then closed. */
  input?: string | Buffer;
  /** Run inside this named network namespace (`ip netns exec NAME ...`). */
  netns?: string;
  /** Exit codes treated as success (default [0]). */
  okCodes?: readonly number[];
  /** Kill the command after this many milliseconds. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Builds the argv actually spawned, with the netns prefix when asked. */
export function commandVector(cmd: string, args: readonly string[], netns?: string): [string, string[]] {
  return netns ? ['ip', ['netns', 'exec', netns, cmd, ...args]] : [cmd, [...args]];
}

/** Runs a command; resolves with its output, rejects with CommandError on a non-ok exit code. */
export function exec(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [file, argv] = commandVector(cmd, args, opts.netns);
  const okCodes = opts.okCodes ?? [0];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new CommandError([cmd, ...args].join(' '), null, e.message));
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      const res = { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), code };
      if (code !== null && okCodes.includes(code)) resolve(res);
      else reject(new CommandError([cmd, ...args].join(' '), code, res.stderr || res.stdout));
    });
    child.stdin.on('error', () => { /* the command may exit before reading all input; its exit code tells */ });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}
