/**
 * fake-link.ts: a DummyLinkClient that keeps the device and its addresses, for unit tests of the ipvs mode
 * without root. As with `ip -force -batch`, address changes on a missing device change nothing and fail
 * nothing.
 */
import type { DummyLinkClient } from '../../src/net/link.js';

export class FakeDummyLink implements DummyLinkClient {
  present = false;
  private readonly addrs = new Set<string>();

  constructor(readonly name = 'kube-ipvs0') {}

  async exists(): Promise<boolean> {
    return this.present;
  }

  async ensure(): Promise<void> {
    this.present = true;
  }

  async addresses(): Promise<Set<string>> {
    return new Set(this.present ? this.addrs : []);
  }

  async changeAddresses(add: readonly string[], remove: readonly string[]): Promise<void> {
    if (!this.present) return;
    for (const a of add) this.addrs.add(a);
    for (const a of remove) this.addrs.delete(a);
  }

  async delete(): Promise<void> {
    this.present = false;
    this.addrs.clear();
  }

  /** The addresses, sorted. */
  bound(): string[] {
    return [...this.addrs].sort();
  }
}
