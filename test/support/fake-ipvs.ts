/**
 * fake-ipvs.ts: an IpvsClient that keeps virtual servers and their real servers as the kernel's IPVS
 * table does, for unit tests of the ipvs mode without root. Calls fail as the kernel's do: adding what
 * exists (EEXIST), changing or deleting what does not (ESRCH for a virtual server, ENOENT for a real one).
 * Connection counts are the test's to set (setConnections), since no traffic flows.
 */
import type { IpvsClient, IpvsTimeouts } from '../../src/net/ipvs/client.js';
import { virtualServerId, type RealServer, type VirtualServer, type VirtualServerKey } from '../../src/net/ipvs/codec.js';
import { KpxError } from '../../src/util/errors.js';
import { joinHostPort } from '../../src/util/ip.js';

interface Entry {
  vs: VirtualServer;
  readonly dests: Map<string, RealServer>;
}

const destKey = (rs: Pick<RealServer, 'address' | 'port'>) => joinHostPort(rs.address, rs.port);

function kernelError(what: string, errno: string): KpxError {
  return new KpxError('KPX_IPVS', `IPVS ${what} failed: ${errno}`);
}

export class FakeIpvs implements IpvsClient {
  /** Every change, in order ("add-vs TCP/10.96.0.1:80", "update-rs TCP/10.96.0.1:80 10.0.0.1:8080 w=0", ...). */
  readonly changes: string[] = [];
  closed = false;
  private readonly services = new Map<string, Entry>();
  private timeouts: IpvsTimeouts = { tcp: 900, tcpFin: 120, udp: 300 };

  async listServices(): Promise<VirtualServer[]> {
    return [...this.services.values()].map((e) => e.vs);
  }

  async addService(vs: VirtualServer): Promise<void> {
    const id = virtualServerId(vs);
    if (this.services.has(id)) throw kernelError(`add ${id}`, 'EEXIST');
    this.services.set(id, { vs: { ...vs }, dests: new Map() });
    this.changes.push(`add-vs ${id}`);
  }

  async updateService(vs: VirtualServer): Promise<void> {
    const e = this.entry(vs, 'update');
    e.vs = { ...vs };
    this.changes.push(`update-vs ${virtualServerId(vs)}`);
  }

  async deleteService(key: VirtualServerKey): Promise<void> {
    this.entry(key, 'delete');
    this.services.delete(virtualServerId(key));
    this.changes.push(`delete-vs ${virtualServerId(key)}`);
  }

  async listDests(key: VirtualServerKey): Promise<RealServer[]> {
    return [...this.entry(key, 'list destinations of').dests.values()];
  }

  async addDest(key: VirtualServerKey, rs: RealServer): Promise<void> {
    const e = this.entry(key, 'add a destination to');
    if (e.dests.has(destKey(rs))) throw kernelError(`add ${destKey(rs)} to ${virtualServerId(key)}`, 'EEXIST');
    e.dests.set(destKey(rs), { ...rs, activeConns: 0, inactiveConns: 0, persistConns: 0 });
    this.changes.push(`add-rs ${virtualServerId(key)} ${destKey(rs)} w=${rs.weight}`);
  }

  async updateDest(key: VirtualServerKey, rs: RealServer): Promise<void> {
    const prev = this.dest(key, rs, 'update');
    // The kernel keeps its own connection counts; the caller's are ignored.
    this.entry(key, 'update').dests.set(destKey(rs), { ...rs, activeConns: prev.activeConns, inactiveConns: prev.inactiveConns, persistConns: prev.persistConns });
    this.changes.push(`update-rs ${virtualServerId(key)} ${destKey(rs)} w=${rs.weight}`);
  }

  async deleteDest(key: VirtualServerKey, rs: Pick<RealServer, 'address' | 'port'>): Promise<void> {
    this.dest(key, rs, 'delete');
    this.entry(key, 'delete').dests.delete(destKey(rs));
    this.changes.push(`delete-rs ${virtualServerId(key)} ${destKey(rs)}`);
  }

  async getTimeouts(): Promise<IpvsTimeouts> {
    return { ...this.timeouts };
  }

  async setTimeouts(t: IpvsTimeouts): Promise<void> {
    // As the kernel: 0 leaves a timeout as it is.
    this.timeouts = { tcp: t.tcp || this.timeouts.tcp, tcpFin: t.tcpFin || this.timeouts.tcpFin, udp: t.udp || this.timeouts.udp };
  }

  close(): void {
    this.closed = true;
  }

  /** Sets a real server's connection counts, as traffic would. */
  setConnections(key: VirtualServerKey, rs: Pick<RealServer, 'address' | 'port'>, conns: { active?: number; inactive?: number }): void {
    const cur = this.dest(key, rs, 'set connections of');
    this.entry(key, 'set connections of').dests.set(destKey(rs), { ...cur, activeConns: conns.active ?? 0, inactiveConns: conns.inactive ?? 0 });
  }

  /** Virtual server ids, sorted. */
  ids(): string[] {
    return [...this.services.keys()].sort();
  }

  /** A virtual server's real servers as "address:port w=weight", sorted; undefined when it does not exist. */
  realServers(id: string): string[] | undefined {
    const e = this.services.get(id);
    return e ? [...e.dests.values()].map((d) => `${destKey(d)} w=${d.weight}`).sort() : undefined;
  }

  service(id: string): VirtualServer | undefined {
    return this.services.get(id)?.vs;
  }

  private entry(key: VirtualServerKey, what: string): Entry {
    const e = this.services.get(virtualServerId(key));
    if (!e) throw kernelError(`${what} ${virtualServerId(key)}`, 'ESRCH');
    return e;
  }

  private dest(key: VirtualServerKey, rs: Pick<RealServer, 'address' | 'port'>, what: string): RealServer {
    const d = this.entry(key, what).dests.get(destKey(rs));
    if (!d) throw kernelError(`${what} ${destKey(rs)} of ${virtualServerId(key)}`, 'ENOENT');
    return d;
  }
}
