/**
 * fake-sysctl.ts: kernel parameters as a map, for unit tests that must never touch the host's sysctls. A key
 * that is not in the map does not exist (as with a module not loaded), unless `writable` lets writes create it.
 */
import type { SysctlClient } from '../../src/net/sysctl.js';

export class FakeSysctl implements SysctlClient {
  readonly values: Map<string, string>;
  /** Keys written, in order. */
  readonly writes: string[] = [];

  constructor(values: Record<string, string> = {}, private readonly writable: ReadonlySet<string> = new Set()) {
    this.values = new Map(Object.entries(values));
  }

  async read(key: string): Promise<string | undefined> {
    return this.values.get(key);
  }

  async ensure(key: string, value: string | number): Promise<boolean> {
    if (!this.values.has(key) && !this.writable.has(key)) return false;
    if (this.values.get(key) !== String(value)) this.writes.push(`${key}=${value}`);
    this.values.set(key, String(value));
    return true;
  }
}
