/**
 * canary.ts: like kube-proxy's iptables monitor, an empty KUBE-PROXY-CANARY chain in every table kpx
 * writes: one gone means someone flushed that table, and the next sync must be full (kernel-drift.ts checks).
 */
import type { IptablesClient, IptablesTable } from '../../src/net/iptables.js';
import { KUBE_PROXY_CANARY } from './chain-names.js';

export const CANARY_TABLES: readonly IptablesTable[] = ['mangle', 'nat', 'filter'];

export async function ensureCanaries(ipt: IptablesClient): Promise<void> {
  for (const table of CANARY_TABLES) await ipt.ensureChain(table, KUBE_PROXY_CANARY);
}
