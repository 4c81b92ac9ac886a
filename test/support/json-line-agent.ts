/**
 * json-line-agent.ts (test support): the process side of chaos-process.ts's protocol, for a helper that
 * runs inside a sandbox namespace: JSON commands on stdin, one answer or event a line on stdout.
 */
import { createInterface } from 'node:readline';

export type AgentCommands = Record<string, (m: Record<string, any>) => unknown>;

export function emit(msg: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

export function argValue(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** Answers each command line with `{id, ok, result}` or `{id, ok: false, error}`; onClose when stdin ends. */
export function serveCommands(commands: AgentCommands, onClose: () => void): void {
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim() === '') return;
    let msg: Record<string, any>;
    try { msg = JSON.parse(line); } catch { emit({ event: 'bad-command', line: line.slice(0, 200) }); return; }
    const fn = commands[msg.cmd];
    const answer = async () => {
      if (!fn) throw new Error(`unknown command ${msg.cmd}`);
      return await fn(msg);
    };
    answer().then(
      (result) => emit({ id: msg.id, ok: true, result: result ?? null }),
      (e: Error) => emit({ id: msg.id, ok: false, error: e.message }),
    );
  });
  // The test went away (stdin closed): do not outlive it.
  rl.on('close', onClose);
}
