/**
 * jumps.ts: the rules kpx (like kube-proxy) adds to the built-in chains, with kube-proxy's exact match
 * arguments and comments, so a node moved between kube-proxy and kpx ends up with one copy of each.
 */
import type { IptablesTable } from '../../src/net/iptables.js';
import {
  KUBE_EXTERNAL_SERVICES, KUBE_FIREWALL, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_PROXY_FIREWALL, KUBE_SERVICES,
} from './chain-names.js';

export interface JumpRule {
  readonly table: IptablesTable;
  /** The built-in chain holding the jump. */
  readonly from: string;
  /** kpx's chain jumped to. */
  readonly to: string;
  readonly comment: string;
  readonly extra: readonly string[];
}

const NEW = ['-m', 'conntrack', '--ctstate', 'NEW'] as const;

export const JUMP_RULES: readonly JumpRule[] = [
  { table: 'filter', from: 'INPUT', to: KUBE_EXTERNAL_SERVICES, comment: 'kubernetes externally-visible service portals', extra: NEW },
  { table: 'filter', from: 'FORWARD', to: KUBE_EXTERNAL_SERVICES, comment: 'kubernetes externally-visible service portals', extra: NEW },
  { table: 'filter', from: 'INPUT', to: KUBE_NODEPORTS, comment: 'kubernetes health check service ports', extra: [] },
  { table: 'filter', from: 'FORWARD', to: KUBE_SERVICES, comment: 'kubernetes service portals', extra: NEW },
  { table: 'filter', from: 'OUTPUT', to: KUBE_SERVICES, comment: 'kubernetes service portals', extra: NEW },
  { table: 'filter', from: 'FORWARD', to: KUBE_FORWARD, comment: 'kubernetes forwarding rules', extra: [] },
  { table: 'filter', from: 'INPUT', to: KUBE_PROXY_FIREWALL, comment: 'kubernetes load balancer firewall', extra: NEW },
  { table: 'filter', from: 'OUTPUT', to: KUBE_PROXY_FIREWALL, comment: 'kubernetes load balancer firewall', extra: NEW },
  { table: 'filter', from: 'FORWARD', to: KUBE_PROXY_FIREWALL, comment: 'kubernetes load balancer firewall', extra: NEW },
  { table: 'nat', from: 'OUTPUT', to: KUBE_SERVICES, comment: 'kubernetes service portals', extra: [] },
  { table: 'nat', from: 'PREROUTING', to: KUBE_SERVICES, comment: 'kubernetes service portals', extra: [] },
  { table: 'nat', from: 'POSTROUTING', to: KUBE_POSTROUTING, comment: 'kubernetes postrouting rules', extra: [] },
];

/**
 * kubelet's anti-martian jumps, which kube-proxy also ensures when it serves localhost NodePorts. Never
 * removed by cleanup: kubelet owns them too, and route_localnet stays set.
 */
export const KUBELET_FIREWALL_JUMPS: readonly JumpRule[] = [
  { table: 'filter', from: 'INPUT', to: KUBE_FIREWALL, comment: '', extra: [] },
  { table: 'filter', from: 'OUTPUT', to: KUBE_FIREWALL, comment: '', extra: [] },
];

/** The rule spec after the chain name, as argv (for iptables -C/-I/-D). */
export function jumpArgs(j: JumpRule): string[] {
  return [...j.extra, ...(j.comment ? ['-m', 'comment', '--comment', j.comment] : []), '-j', j.to];
}

/** The rule as an iptables-restore line ("-A FROM ... -j TO", comment quoted). */
export function jumpLine(j: JumpRule): string {
  return ['-A', j.from, ...j.extra, ...(j.comment ? ['-m', 'comment', '--comment', `"${j.comment}"`] : []), '-j', j.to].join(' ');
}

/** Whether an iptables-save rule line of the built-in chain is this jump (however iptables reordered it). */
export function isJumpLine(line: string, j: JumpRule): boolean {
  return line.startsWith(`-A ${j.from} `) && line.endsWith(` -j ${j.to}`) && (!j.comment || line.includes(`"${j.comment}"`));
}
