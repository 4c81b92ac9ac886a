/**
 * conntrack.ts: deletes conntrack entries with the `conntrack` tool (conntrack-tools). Used to clear
 * stale UDP flows: UDP has no connection teardown, so without this a client keeps sending to a removed
 * endpoint (or keeps getting the cached REJECT of a service that had no endpoints). No policy here:
 * callers decide what is stale.
 */
import type { IPFamily, Protocol } from '../model/types.js';
import { exec } from './exec.js';

export interface ConntrackOptions {
  family: IPFamily;
  netns?: string;
}

/** A deletion filter, one `conntrack -D` call. */
export interface ConntrackFilter {
  protocol: Protocol;
  /** Original destination address (a service IP). */
  origDst?: string;
  /** Original destination port (a node port). */
  origPortDst?: number;
  /** The address the flow was DNATed to (an endpoint IP). */
  dstNat?: string;
  /** A TCP state (SYN_SENT, ...). */
  state?: string;
}

/** The argv of `conntrack -D` for a filter. */
export function conntrackDeleteArgs(family: IPFamily, f: ConntrackFilter): string[] {
  const args = ['-D', '-p', f.protocol.toLowerCase()];
  if (family === 'IPv6') args.push('-f', 'ipv6');
  if (f.origDst) args.push('--orig-dst', f.origDst);
  if (f.origPortDst) args.push('--dport', String(f.origPortDst));
  if (f.dstNat) args.push('--dst-nat', f.dstNat);
  if (f.state) args.push('--state', f.state);
  return args;
}

/** How many entries conntrack says it deleted ("N flow entries have been deleted"). */
export function deletedCountOf(output: string): number {
  const m = /(\d+) flow entr(?:y|ies) ha(?:s|ve) been deleted/.exec(output);
  return m ? Number(m[1]) : 0;
}

/** What the iptables mode needs of conntrack (the real tool, or a recording fake in tests). */
export interface ConntrackClient {
  /** Deletes the matching entries; resolves how many went. */
  delete(f: ConntrackFilter): Promise<number>;
  /** Deletes TCP flows that never completed their handshake (see Conntrack.clearStalledConnects). */
  clearStalledConnects(): Promise<number>;
}

export class Conntrack implements ConntrackClient {
  readonly family: IPFamily;
  readonly netns: string | undefined;

  constructor(opts: ConntrackOptions) {
    this.family = opts.family;
    this.netns = opts.netns;
  }

  /**
   * Deletes the matching entries and returns how many went. conntrack exits 1 when nothing matched:
   * that is success here.
   */
  async delete(f: ConntrackFilter): Promise<number> {
    const res = await exec('conntrack', conntrackDeleteArgs(this.family, f), { netns: this.netns, okCodes: [0, 1], timeoutMs: 30_000 });
    return deletedCountOf(res.stderr + res.stdout);
  }

  /**
   * TCP flows that never completed their handshake. Connections attempted while no rule translated a service
   * address (between one mode's cleanup and the next mode's first sync) stay in SYN_SENT, untranslated, for
   * two minutes; a client reusing such a source port would hit one and time out. A handshake genuinely in
   * progress loses nothing: its retransmitted SYN makes a fresh, translated entry.
   */
  clearStalledConnects(): Promise<number> {
    return this.delete({ protocol: 'TCP', state: 'SYN_SENT' });
  }

  /** Entries to a service IP (kube-proxy's ClearEntriesForIP). */
  clearEntriesForIP(ip: string, protocol: Protocol = 'UDP'): Promise<number> {
    return this.delete({ protocol, origDst: ip });
  }

  /** Entries to a port on any local address (kube-proxy's ClearEntriesForPort, for node ports). */
  clearEntriesForPort(port: number, protocol: Protocol = 'UDP'): Promise<number> {
    return this.delete({ protocol, origPortDst: port });
  }

  /** Entries to a service IP that were DNATed to an endpoint (kube-proxy's ClearEntriesForNAT). */
  clearEntriesForNAT(origin: string, dest: string, protocol: Protocol = 'UDP'): Promise<number> {
    return this.delete({ protocol, origDst: origin, dstNat: dest });
  }

  /** Entries to a node port that were DNATed to an endpoint (kube-proxy's ClearEntriesForPortNAT). */
  clearEntriesForPortNAT(dest: string, port: number, protocol: Protocol = 'UDP'): Promise<number> {
    return this.delete({ protocol, origPortDst: port, dstNat: dest });
  }
}
