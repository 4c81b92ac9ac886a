/**
 * sysctl.ts: kernel parameters of a network namespace (net.* keys are per namespace): the process's own, or
 * a named one for tests driving a namespace from outside. A missing key (module not loaded, kernel without
 * the feature) reads as undefined instead of failing.
 */
import { exec } from './exec.js';

export async function readSysctl(key: string, netns?: string): Promise<string | undefined> {
  try {
    return (await exec('sysctl', ['-n', key], { netns, timeoutMs: 10_000 })).stdout.trim();
  } catch {
    return undefined;
  }
}

/** Writes a value when it differs; returns false when the key does not exist or cannot be written. */
export async function ensureSysctl(key: string, value: string | number, netns?: string): Promise<boolean> {
  const current = await readSysctl(key, netns);
  if (current === undefined) return false;
  if (current === String(value)) return true;
  try {
    await exec('sysctl', ['-w', `${key}=${value}`], { netns, timeoutMs: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Kernel parameters of one network namespace, as the modes use them (the real ones, or a map in tests). */
export interface SysctlClient {
  /** The value, or undefined when the key does not exist or cannot be read. */
  read(key: string): Promise<string | undefined>;
  /** Sets the value when it differs; false when the key does not exist or cannot be written. */
  ensure(key: string, value: string | number): Promise<boolean>;
}

export class Sysctl implements SysctlClient {
  constructor(private readonly netns?: string) {}

  read(key: string): Promise<string | undefined> {
    return readSysctl(key, this.netns);
  }

  ensure(key: string, value: string | number): Promise<boolean> {
    return ensureSysctl(key, value, this.netns);
  }
}
