/**
 * netns.ts: the sandbox's kernel edge. Every command names the namespace it acts in (`ip -n NS`,
 * `ip netns exec NS`), so nothing here can reach the host's own network namespace; the only commands
 * without a namespace are `ip netns add/del/list` on names this module refuses unless they start "kpx-".
 */
import { exec } from '../net/exec.js';

function assertOurs(ns: string): void {
  // SAFETY: the sandbox only ever creates, changes or deletes namespaces that carry the kpx- prefix.
  if (!/^kpx-[a-z0-9]+-[a-z0-9-]+$/.test(ns)) throw new Error(`refusing to touch network namespace ${JSON.stringify(ns)}: not a kpx sandbox name`);
}

export async function addNamespace(ns: string): Promise<void> {
  assertOurs(ns);
  await exec('ip', ['netns', 'add', ns]);
}

/** Deletes a namespace; a missing one is fine (destroy is idempotent). */
export async function deleteNamespace(ns: string): Promise<void> {
  assertOurs(ns);
  const names = await listNamespaces();
  if (!names.includes(ns)) return;
  await exec('ip', ['netns', 'del', ns]);
}

/** The names `ip netns list` shows (first word of each line). */
export async function listNamespaces(): Promise<string[]> {
  const res = await exec('ip', ['netns', 'list']);
  return res.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((s) => s !== '');
}

/**
 * Runs `ip` commands inside one namespace in a single process (`ip -n NS -batch -`): building a
 * sandbox takes dozens of commands, and one spawn each would dominate its start-up time.
 */
export async function ipBatch(ns: string, commands: readonly string[]): Promise<void> {
  assertOurs(ns);
  if (commands.length === 0) return;
  for (const c of commands) if (/[\n;|&$`]/.test(c)) throw new Error(`bad ip batch line ${JSON.stringify(c)}`);
  await exec('ip', ['-n', ns, '-batch', '-'], { input: commands.join('\n') + '\n', timeoutMs: 30_000 });
}

/** Sets sysctls inside a namespace (net.* keys are per namespace). */
export async function setSysctls(ns: string, values: Readonly<Record<string, string | number>>): Promise<void> {
  assertOurs(ns);
  const args = ['-q'];
  for (const [k, v] of Object.entries(values)) args.push('-w', `${k}=${v}`);
  await exec('sysctl', args, { netns: ns, timeoutMs: 10_000 });
}

/** Runs any command inside a sandbox namespace. */
export async function execIn(ns: string, cmd: string, args: readonly string[], opts: { input?: string; okCodes?: readonly number[]; timeoutMs?: number } = {}) {
  assertOurs(ns);
  return exec(cmd, args, { netns: ns, ...opts });
}

export { assertOurs as assertSandboxNamespace };
