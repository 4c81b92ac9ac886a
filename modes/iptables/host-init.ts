/**
 * host-init.ts: what the iptables mode sets up on the node before its first sync: the sysctls of this
 * network namespace, the canary chains, and the jumps from the built-in chains to kpx's.
 */
import type { IPFamily } from '../../src/model/types.js';
import type { IptablesClient } from '../../src/net/iptables.js';
import type { SysctlClient } from '../../src/net/sysctl.js';
import { KpxError } from '../../src/util/errors.js';
import type { Logger } from '../../src/util/log.js';
import { ensureCanaries } from './canary.js';
import { jumpArgs, type JumpRule } from './jumps.js';

export interface HostFacts {
  /** MASQUERADE --random-fully is available. */
  readonly randomFully: boolean;
  /** nf_conntrack_tcp_be_liberal is set. */
  readonly tcpBeLiberal: boolean;
  /** Some jump was missing and was added: the service rules were not in place until now. */
  readonly jumpsAdded: boolean;
}

/** Ensures every jump (and the chain it jumps to); resolves true when a jump was missing and added. */
export async function ensureJumps(ipt: IptablesClient, jumps: readonly JumpRule[]): Promise<boolean> {
  let added = false;
  for (const j of jumps) {
    await ipt.ensureChain(j.table, j.to);
    if (!(await ipt.ensureRule('prepend', j.table, j.from, jumpArgs(j)))) added = true;
  }
  return added;
}

/** Idempotent. */
export async function initHost(ipt: IptablesClient, sysctl: SysctlClient, log: Logger,
  opts: { readonly family: IPFamily; readonly localhostNodePorts: boolean; readonly jumps: readonly JumpRule[] }): Promise<HostFacts> {
  if (opts.localhostNodePorts) {
    // NodePorts on 127.0.0.1 need the kernel to route "martian" loopback destinations (kubernetes#90259;
    // KUBE-FIREWALL then drops such packets arriving from outside).
    log.info('setting route_localnet=1 to allow node-ports on localhost');
    if (!(await sysctl.ensure('net.ipv4.conf.all.route_localnet', 1))) {
      throw new KpxError('KPX_SYSCTL', 'cannot set net.ipv4.conf.all.route_localnet=1 (needed for localhost NodePorts)');
    }
  }
  // Bridged pod-to-pod replies must pass through iptables to be un-DNATed (when br_netfilter is present).
  await sysctl.ensure(opts.family === 'IPv6' ? 'net.bridge.bridge-nf-call-ip6tables' : 'net.bridge.bridge-nf-call-iptables', 1);
  const tcpBeLiberal = (await sysctl.read('net.netfilter.nf_conntrack_tcp_be_liberal')) === '1';
  const randomFully = await ipt.hasRandomFully();
  await ensureCanaries(ipt);
  const jumpsAdded = await ensureJumps(ipt, opts.jumps);
  return { randomFully, tcpBeLiberal, jumpsAdded };
}
