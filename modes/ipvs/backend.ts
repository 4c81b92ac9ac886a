/**
 * backend.ts: the ipvs mode. Each sync reads what the kernel holds (virtual servers over netlink, kube-ipvs0's
 * addresses, the KUBE-* ipsets), plans the wanted state (plan.ts), diffs (diff.ts) and applies in an order
 * that never leaves a rule pointing at nothing: sets and addresses first, then virtual servers, then the
 * iptables rules, and only then removals.
 */
import { Counter, type Registry } from 'prom-client';
import type { ChangeSet, IPFamily, ProxyState } from '../../src/model/types.js';
import type { Backend, BackendOptions, SyncResult } from '../../src/backend.js';
import { Iptables, type IptablesClient, type IptablesTable } from '../../src/net/iptables.js';
import { createLine, Ipset, type IpsetClient } from '../../src/net/ipset.js';
import { NetlinkIpvs, type IpvsClient } from '../../src/net/ipvs/client.js';
import { virtualServerId, type RealServer } from '../../src/net/ipvs/codec.js';
import { FwdMethod } from '../../src/net/ipvs/constants.js';
import { DummyLink, type DummyLinkClient } from '../../src/net/link.js';
import { Sysctl, type SysctlClient } from '../../src/net/sysctl.js';
import { errorMessage, KpxError } from '../../src/util/errors.js';
import type { Logger } from '../../src/util/log.js';
import { diffIpvs, isOwned, type IpvsKernelState, type KernelVirtualServer } from './diff.js';
import { ALL_SETS, CHAIN, DUMMY_DEVICE, FILTER_CHAINS, JUMPS, NAT_CHAINS, SET_INFO, setName, type SetId } from './names.js';
import { planForHost, type IpvsPlan } from './plan.js';
import { ipvsRulesOptions, renderIpvsRules } from './rules.js';
import type { IpvsSettings } from './settings.js';

/** A draining real server is deleted after this long even if connections remain (kube-proxy has no cap). */
export const GRACEFUL_TIMEOUT_MS = 15 * 60_000;

/** The iptables the ipvs mode drives: the shared client plus the one-by-one removals of its cleanup. */
export interface IpvsIptablesClient extends IptablesClient {
  /** Deletes a rule; a missing rule or chain is not an error. True when a rule was deleted. */
  deleteRule(table: IptablesTable, chain: string, args: readonly string[]): Promise<boolean>;
  /** Flushes a chain; a missing chain is not an error. */
  flushChain(table: IptablesTable, chain: string): Promise<void>;
  /** Deletes a chain; a missing, non-empty or still referenced chain is left as it is. */
  deleteChain(table: IptablesTable, chain: string): Promise<void>;
}

export interface IpvsBackendExtras {
  /** Override the kernel clients (tests: unit tests must never touch the host). */
  readonly iptables?: IpvsIptablesClient;
  readonly ipset?: IpsetClient;
  /** kube-ipvs0. */
  readonly link?: DummyLinkClient;
  readonly sysctl?: SysctlClient;
  /** Opens IPVS on first use; init fails with its error on a kernel without IPVS. */
  readonly openIpvs?: () => Promise<IpvsClient>;
  /** Milliseconds since the epoch (graceful termination's clock). */
  readonly now?: () => number;
}

function restoreFailures(registry: Registry): Counter<'ip_family'> {
  const name = 'kubeproxy_sync_proxy_rules_iptables_restore_failures_total';
  return (registry.getSingleMetric(name) as Counter<'ip_family'> | undefined)
    ?? new Counter({ name, help: 'Cumulative proxy iptables restore failures', labelNames: ['ip_family'], registers: [registry] });
}

export class IpvsBackend implements Backend {
  readonly mode = 'ipvs' as const;
  readonly family: IPFamily;
  private readonly log: Logger;
  private readonly ipt: IpvsIptablesClient;
  private readonly ipset: IpsetClient;
  private readonly link: DummyLinkClient;
  private readonly sysctl: SysctlClient;
  private readonly openIpvs: () => Promise<IpvsClient>;
  private readonly now: () => number;
  private readonly failures: Counter<'ip_family'>;
  private client: IpvsClient | undefined;
  private terminating: ReadonlyMap<string, number> = new Map();
  private randomFully = false;

  constructor(private readonly opts: BackendOptions<IpvsSettings>, extras: IpvsBackendExtras = {}) {
    this.family = opts.family;
    this.log = opts.log.child({ mode: 'ipvs', family: opts.family });
    this.ipt = extras.iptables ?? new Iptables({ family: opts.family });
    this.ipset = extras.ipset ?? new Ipset();
    this.link = extras.link ?? new DummyLink(DUMMY_DEVICE);
    this.sysctl = extras.sysctl ?? new Sysctl();
    this.openIpvs = extras.openIpvs ?? (() => NetlinkIpvs.open());
    this.now = extras.now ?? Date.now;
    this.failures = restoreFailures(opts.registry);
  }

  private async ipvs(): Promise<IpvsClient> {
    this.client ??= await this.openIpvs();
    return this.client;
  }

  private setName(id: SetId): string {
    return setName(id, this.family);
  }

  /** Sysctls kube-proxy sets, kube-ipvs0, every ipset, the base chains and the jumps to them. Idempotent. */
  async init(): Promise<void> {
    await this.ipvs(); // fails here, with a clear message, on a kernel without IPVS
    const want: [string, number][] = [
      ['net.ipv4.vs.conntrack', 1],             // iptables masquerade needs conntrack entries for IPVS flows
      ['net.ipv4.vs.conn_reuse_mode', 0],       // no 1 s stall on port reuse under load (k/k#81775)
      ['net.ipv4.vs.expire_nodest_conn', 1],    // flows to a deleted real server end at their next packet
      ['net.ipv4.vs.expire_quiescent_template', 1], // persistence templates of weight-0 servers expire
      ['net.ipv4.ip_forward', 1],
    ];
    if (this.opts.settings.strictARP) want.push(['net.ipv4.conf.all.arp_ignore', 1], ['net.ipv4.conf.all.arp_announce', 2]);
    if (this.family === 'IPv6') want.push(['net.ipv6.conf.all.forwarding', 1]);
    for (const [key, value] of want) {
      if (!(await this.sysctl.ensure(key, value))) this.log.warn('could not set sysctl', { key, value });
    }
    const t = this.opts.settings;
    if (t.tcpTimeoutMs || t.tcpFinTimeoutMs || t.udpTimeoutMs) {
      await (await this.ipvs()).setTimeouts({ tcp: t.tcpTimeoutMs / 1000, tcpFin: t.tcpFinTimeoutMs / 1000, udp: t.udpTimeoutMs / 1000 });
    }
    await this.link.ensure();
    const fam = this.family === 'IPv4' ? 'inet' : 'inet6';
    await this.ipset.restore(ALL_SETS.map((id) => createLine({ name: this.setName(id), type: SET_INFO[id].type, family: fam })));
    for (const c of NAT_CHAINS) await this.ipt.ensureChain('nat', c);
    for (const c of FILTER_CHAINS) await this.ipt.ensureChain('filter', c);
    for (const j of JUMPS) await this.ipt.ensureRule('prepend', j.table, j.from, ['-m', 'comment', '--comment', j.comment, '-j', j.to]);
    this.randomFully = await this.ipt.hasRandomFully();
  }

  private async readKernel(): Promise<IpvsKernelState> {
    const client = await this.ipvs();
    const virtualServers = new Map<string, KernelVirtualServer>();
    for (const vs of await client.listServices()) {
      if (vs.family !== this.family) continue;
      virtualServers.set(virtualServerId(vs), { vs, realServers: await client.listDests(vs) });
    }
    const saved = await this.ipset.save();
    const sets = new Map<SetId, Set<string>>();
    for (const id of ALL_SETS) sets.set(id, saved.get(this.setName(id))?.entries ?? new Set());
    const bound = new Set([...(await this.link.addresses())].filter((a) => a.includes(':') === (this.family === 'IPv6')));
    return { virtualServers, boundAddresses: bound, sets };
  }

  /** The wanted state for a ProxyState on this node now (also what --dry-run prints). */
  plan(state: ProxyState): IpvsPlan {
    return planForHost(state, this.opts.settings.scheduler, this.opts.host.addresses(this.family));
  }

  async sync(state: ProxyState, _changed: ChangeSet): Promise<SyncResult> {
    try {
      const plan = this.plan(state);
      const current = await this.readKernel();
      const diff = diffIpvs(plan, current, { now: this.now(), gracefulTimeoutMs: GRACEFUL_TIMEOUT_MS, terminating: this.terminating, excludeCIDRs: this.opts.settings.excludeCIDRs });
      const client = await this.ipvs();

      const adds = [...diff.setAdds].flatMap(([id, es]) => es.map((e) => `add ${this.setName(id)} ${e}`));
      await this.ipset.restore(adds);
      await this.link.changeAddresses(diff.bind, []);
      const rs = (r: { address: string; port: number }, weight: number): RealServer => ({
        address: r.address, port: r.port, weight, fwdMethod: FwdMethod.MASQ, upperThreshold: 0, lowerThreshold: 0, activeConns: 0, inactiveConns: 0, persistConns: 0,
      });
      for (const op of diff.ops) {
        switch (op.kind) {
          case 'add-vs': await client.addService(op.vs); break;
          case 'update-vs': await client.updateService(op.vs); break;
          case 'add-rs': await client.addDest(op.vs, rs(op.rs, op.weight)); break;
          case 'update-rs': case 'drain-rs': await client.updateDest(op.vs, rs(op.rs, op.weight)); break;
          case 'delete-rs': await client.deleteDest(op.vs, op.rs); break;
          case 'delete-vs': await client.deleteService(op.vs); break;
        }
      }
      try {
        await this.ipt.restore(renderIpvsRules(plan, this.rulesOptions(state)), { noFlush: true, counters: true });
      } catch (err) {
        this.failures.inc({ ip_family: this.family });
        throw err;
      }
      await this.link.changeAddresses([], diff.unbind);
      const dels = [...diff.setDels].flatMap(([id, es]) => es.map((e) => `del ${this.setName(id)} ${e}`));
      await this.ipset.restore(dels);
      this.terminating = diff.terminating;
      if (diff.ops.length || diff.bind.length || diff.unbind.length) {
        this.log.v(2).info('synced IPVS', { ops: diff.ops.length, bound: diff.bind.length, unbound: diff.unbind.length, draining: diff.terminating.size });
      }
      return { ok: true };
    } catch (err) {
      const error = err instanceof KpxError ? err : new KpxError('KPX_IPVS_SYNC', errorMessage(err), { cause: err });
      this.log.error('IPVS sync failed', { err: error.message });
      return { ok: false, error };
    }
  }

  private rulesOptions(state: ProxyState) {
    return ipvsRulesOptions(this.opts.settings, state, this.randomFully);
  }

  /** The ipvs mode ran here when kube-ipvs0 exists (kube-proxy's test before cleaning ipvs leftovers). */
  hasLeftovers(): Promise<boolean> {
    return this.link.exists();
  }

  /** Removes kpx's virtual servers, kube-ipvs0, the ipvs-mode chains and jumps, and the ipsets. */
  async cleanup(): Promise<void> {
    let client: IpvsClient | undefined;
    try {
      client = await this.ipvs();
    } catch {
      this.log.v(2).info('no IPVS in this kernel: no virtual servers to remove');
    }
    if (client) {
      const current = await this.readKernel();
      for (const { vs } of current.virtualServers.values()) if (isOwned(vs, current)) await client.deleteService(vs);
    }
    await this.link.delete();
    for (const j of JUMPS) await this.ipt.deleteRule(j.table, j.from, ['-m', 'comment', '--comment', j.comment, '-j', j.to]);
    for (const c of NAT_CHAINS) await this.ipt.flushChain('nat', c);
    for (const c of FILTER_CHAINS) await this.ipt.flushChain('filter', c);
    for (const c of NAT_CHAINS) await this.ipt.deleteChain('nat', c);
    for (const c of FILTER_CHAINS) await this.ipt.deleteChain('filter', c);
    // Sets go last: the kernel refuses to destroy a set an iptables rule still references.
    for (const id of ALL_SETS) await this.ipset.destroy(this.setName(id)).catch((e: unknown) => this.log.warn('ipset not removed', { set: this.setName(id), err: errorMessage(e) }));
  }

  async close(): Promise<void> {
    this.client?.close();
    this.client = undefined;
  }
}

export { CHAIN };
