/**
 * link.ts: the dummy device that holds service addresses (kube-ipvs0) and its addresses, through iproute2.
 * Many addresses change in one `ip -batch` process.
 */
import { exec } from './exec.js';

/** What the ipvs mode needs of its dummy device: the real one (DummyLink) or a fake that keeps addresses. */
export interface DummyLinkClient {
  readonly name: string;
  exists(): Promise<boolean>;
  /** Creates the device if missing. */
  ensure(): Promise<void>;
  /** The addresses on the device; none when it does not exist. */
  addresses(): Promise<Set<string>>;
  /** Adds and removes host addresses; already-present or missing ones are fine. */
  changeAddresses(add: readonly string[], remove: readonly string[]): Promise<void>;
  /** Deletes the device; a missing one is fine. */
  delete(): Promise<void>;
}

export class DummyLink implements DummyLinkClient {
  constructor(readonly name: string, private readonly opts: { netns?: string } = {}) {}

  async exists(): Promise<boolean> {
    const res = await exec('ip', ['link', 'show', 'dev', this.name], { netns: this.opts.netns, okCodes: [0, 1] });
    return res.code === 0;
  }

  /** Creates the device (down: addresses on it are local without the device answering ARP) if missing. */
  async ensure(): Promise<void> {
    if (await this.exists()) return;
    await exec('ip', ['link', 'add', this.name, 'type', 'dummy'], { netns: this.opts.netns });
  }

  async addresses(): Promise<Set<string>> {
    const res = await exec('ip', ['-j', 'addr', 'show', 'dev', this.name], { netns: this.opts.netns, okCodes: [0, 1] });
    if (res.code !== 0 || !res.stdout.trim()) return new Set();
    const links = JSON.parse(res.stdout) as { addr_info?: { local?: string }[] }[];
    return new Set(links.flatMap((l) => (l.addr_info ?? []).map((a) => a.local ?? '')).filter(Boolean));
  }

  /** Adds and removes host addresses (/32 or /128) in one batch; already-present or missing ones are fine. */
  async changeAddresses(add: readonly string[], remove: readonly string[]): Promise<void> {
    const host = (ip: string) => `${ip}/${ip.includes(':') ? 128 : 32}`;
    const lines = [
      ...add.map((ip) => `addr replace ${host(ip)} dev ${this.name}`),
      ...remove.map((ip) => `addr del ${host(ip)} dev ${this.name}`),
    ];
    if (lines.length === 0) return;
    await exec('ip', ['-force', '-batch', '-'], { netns: this.opts.netns, input: lines.join('\n') + '\n', okCodes: [0, 1] });
  }

  async delete(): Promise<void> {
    await exec('ip', ['link', 'del', 'dev', this.name], { netns: this.opts.netns, okCodes: [0, 1, 2] });
  }
}
