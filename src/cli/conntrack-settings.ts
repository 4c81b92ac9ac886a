/**
 * conntrack-settings.ts: kube-proxy's conntrack tuning (KubeProxyConfiguration.conntrack, --conntrack-*),
 * applied as sysctls at start. 0 leaves a value as the kernel has it. nf_conntrack_max is global to the
 * host (writable only from the initial network namespace): elsewhere the write fails and is logged.
 */
import { availableParallelism } from 'node:os';
import type { KpxConfig } from '../config/types.js';
import { ensureSysctl } from '../net/sysctl.js';
import type { Logger } from '../util/log.js';

/** The sysctls the configuration asks for, as kube-proxy computes them. Pure. */
export function conntrackSysctls(c: KpxConfig['conntrack'], cpus: number): [string, number][] {
  const out: [string, number][] = [];
  if (c.maxPerCore > 0) out.push(['net.netfilter.nf_conntrack_max', Math.max(c.maxPerCore * cpus, c.min)]);
  const seconds = (ms: number) => Math.round(ms / 1000);
  if (c.tcpEstablishedTimeoutMs > 0) out.push(['net.netfilter.nf_conntrack_tcp_timeout_established', seconds(c.tcpEstablishedTimeoutMs)]);
  if (c.tcpCloseWaitTimeoutMs > 0) out.push(['net.netfilter.nf_conntrack_tcp_timeout_close_wait', seconds(c.tcpCloseWaitTimeoutMs)]);
  if (c.tcpBeLiberal) out.push(['net.netfilter.nf_conntrack_tcp_be_liberal', 1]);
  if (c.udpTimeoutMs > 0) out.push(['net.netfilter.nf_conntrack_udp_timeout', seconds(c.udpTimeoutMs)]);
  if (c.udpStreamTimeoutMs > 0) out.push(['net.netfilter.nf_conntrack_udp_timeout_stream', seconds(c.udpStreamTimeoutMs)]);
  return out;
}

export async function applyConntrackSettings(c: KpxConfig['conntrack'], log: Logger): Promise<void> {
  for (const [key, value] of conntrackSysctls(c, availableParallelism())) {
    if (!(await ensureSysctl(key, value))) log.warn('could not set conntrack sysctl (not writable in this network namespace?)', { key, value });
  }
}
