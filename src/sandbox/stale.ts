/**
 * stale.ts: sandboxes whose owner died without cleaning up (SIGKILL, a machine reboot mid-test, the OOM
 * killer). Each sandbox leaves an owner marker, /run/kpx-sandbox/<prefix>owner, holding its owner's pid
 * and start time; a later build sweeps the namespaces of owners that are gone, killing the processes
 * left in them by pid (`ip netns pids`). Namespaces without a marker (other tools' kpx- namespaces)
 * are never touched.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../net/exec.js';
import { signal } from './background.js';
import { deleteNamespace, listNamespaces } from './netns.js';

export const MARKER_DIR = '/run/kpx-sandbox';
const MARKER_SUFFIX = 'owner';

interface Owner {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: tells a live owner from a new process that reused its pid. */
  startTime: string;
}

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after its closing parenthesis are fixed.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function markerPath(prefix: string): string {
  return join(MARKER_DIR, `${prefix}${MARKER_SUFFIX}`);
}

/** Records this process as the owner of the sandbox `prefix`. */
export function writeOwnerMarker(prefix: string): void {
  mkdirSync(MARKER_DIR, { recursive: true });
  const owner: Owner = { pid: process.pid, startTime: startTimeOf(process.pid) ?? '' };
  writeFileSync(markerPath(prefix), JSON.stringify(owner));
}

export function removeOwnerMarker(prefix: string): void {
  rmSync(markerPath(prefix), { force: true });
}

function ownerAlive(o: Owner): boolean {
  const st = startTimeOf(o.pid);
  return st !== undefined && st === o.startTime;
}

/** Deletes the namespaces (and their processes) of sandboxes whose owner is gone. Returns the prefixes swept. */
export async function sweepStaleSandboxes(): Promise<string[]> {
  let markers: string[];
  try {
    markers = readdirSync(MARKER_DIR).filter((f) => f.startsWith('kpx-') && f.endsWith(`-${MARKER_SUFFIX}`));
  } catch {
    return [];
  }
  const swept: string[] = [];
  for (const m of markers) {
    const prefix = m.slice(0, -MARKER_SUFFIX.length);
    let owner: Owner;
    try {
      owner = JSON.parse(readFileSync(join(MARKER_DIR, m), 'utf8')) as Owner;
    } catch {
      continue;
    }
    if (ownerAlive(owner)) continue;
    const names = (await listNamespaces()).filter((n) => n.startsWith(prefix));
    for (const ns of names) {
      const pids = await exec('ip', ['netns', 'pids', ns], { okCodes: [0, 1] }).catch(() => ({ stdout: '' }));
      for (const p of pids.stdout.split(/\s+/).filter(Boolean).map(Number)) if (p > 1) signal(p, 'SIGKILL');
    }
    for (const ns of names) await deleteNamespace(ns).catch(() => { /* reported by the next sweep */ });
    // Its private directory (builder.ts: mkdtemp of <tmpdir>/<prefix>).
    for (const d of readdirSync(tmpdir())) {
      if (d.startsWith(prefix)) rmSync(join(tmpdir(), d), { recursive: true, force: true });
    }
    removeOwnerMarker(prefix);
    swept.push(prefix);
  }
  return swept;
}
