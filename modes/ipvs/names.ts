/**
 * names.ts: kube-proxy's ipvs-mode names: the dummy device, the ipsets (types and comments), and the chains.
 * IPv6 sets carry "KUBE-6-" in place of "KUBE-", as kube-proxy names them, so both families coexist.
 */
import type { IPFamily } from '../../src/model/types.js';

export const DUMMY_DEVICE = 'kube-ipvs0';

export type IpsetType = 'hash:ip' | 'hash:ip,port' | 'hash:ip,port,ip' | 'hash:ip,port,net' | 'bitmap:port';

export const SET = {
  LOOP_BACK: 'KUBE-LOOP-BACK',
  CLUSTER_IP: 'KUBE-CLUSTER-IP',
  EXTERNAL_IP: 'KUBE-EXTERNAL-IP',
  EXTERNAL_IP_LOCAL: 'KUBE-EXTERNAL-IP-LOCAL',
  LOAD_BALANCER: 'KUBE-LOAD-BALANCER',
  LOAD_BALANCER_FW: 'KUBE-LOAD-BALANCER-FW',
  LOAD_BALANCER_LOCAL: 'KUBE-LOAD-BALANCER-LOCAL',
  LOAD_BALANCER_SOURCE_IP: 'KUBE-LOAD-BALANCER-SOURCE-IP',
  LOAD_BALANCER_SOURCE_CIDR: 'KUBE-LOAD-BALANCER-SOURCE-CIDR',
  NODE_PORT_TCP: 'KUBE-NODE-PORT-TCP',
  NODE_PORT_LOCAL_TCP: 'KUBE-NODE-PORT-LOCAL-TCP',
  NODE_PORT_UDP: 'KUBE-NODE-PORT-UDP',
  NODE_PORT_LOCAL_UDP: 'KUBE-NODE-PORT-LOCAL-UDP',
  NODE_PORT_SCTP: 'KUBE-NODE-PORT-SCTP-HASH',
  NODE_PORT_LOCAL_SCTP: 'KUBE-NODE-PORT-LOCAL-SCTP-HASH',
  HEALTH_CHECK_NODE_PORT: 'KUBE-HEALTH-CHECK-NODE-PORT',
  IPVS_IPS: 'KUBE-IPVS-IPS',
} as const;

export type SetId = (typeof SET)[keyof typeof SET];

export const SET_INFO: Readonly<Record<SetId, { type: IpsetType; comment: string }>> = {
  [SET.LOOP_BACK]: { type: 'hash:ip,port,ip', comment: 'Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose' },
  [SET.CLUSTER_IP]: { type: 'hash:ip,port', comment: 'Kubernetes service cluster ip + port for masquerade purpose' },
  [SET.EXTERNAL_IP]: { type: 'hash:ip,port', comment: 'Kubernetes service external ip + port for masquerade and filter purpose' },
  [SET.EXTERNAL_IP_LOCAL]: { type: 'hash:ip,port', comment: 'Kubernetes service external ip + port with externalTrafficPolicy=local' },
  [SET.LOAD_BALANCER]: { type: 'hash:ip,port', comment: 'Kubernetes service lb portal' },
  [SET.LOAD_BALANCER_FW]: { type: 'hash:ip,port', comment: 'Kubernetes service load balancer ip + port for load balancer with sourceRange' },
  [SET.LOAD_BALANCER_LOCAL]: { type: 'hash:ip,port', comment: 'Kubernetes service load balancer ip + port with externalTrafficPolicy=local' },
  [SET.LOAD_BALANCER_SOURCE_IP]: { type: 'hash:ip,port,ip', comment: 'Kubernetes service load balancer ip + port + source IP for packet filter purpose' },
  [SET.LOAD_BALANCER_SOURCE_CIDR]: { type: 'hash:ip,port,net', comment: 'Kubernetes service load balancer ip + port + source cidr for packet filter purpose' },
  [SET.NODE_PORT_TCP]: { type: 'bitmap:port', comment: 'Kubernetes nodeport TCP port for masquerade purpose' },
  [SET.NODE_PORT_LOCAL_TCP]: { type: 'bitmap:port', comment: 'Kubernetes nodeport TCP port with externalTrafficPolicy=local' },
  [SET.NODE_PORT_UDP]: { type: 'bitmap:port', comment: 'Kubernetes nodeport UDP port for masquerade purpose' },
  [SET.NODE_PORT_LOCAL_UDP]: { type: 'bitmap:port', comment: 'Kubernetes nodeport UDP port with externalTrafficPolicy=local' },
  [SET.NODE_PORT_SCTP]: { type: 'hash:ip,port', comment: "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'" },
  [SET.NODE_PORT_LOCAL_SCTP]: { type: 'hash:ip,port', comment: "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'" },
  [SET.HEALTH_CHECK_NODE_PORT]: { type: 'bitmap:port', comment: 'Kubernetes health check node port' },
  [SET.IPVS_IPS]: { type: 'hash:ip', comment: 'IPVS service addresses' },
};

export const ALL_SETS: readonly SetId[] = Object.values(SET);

/** ipset's limit on a set name. */
export const IPSET_NAME_MAX = 31;

/**
 * The kernel name of a set for a family. IPv6 names take "KUBE-6-" and are cut to ipset's 31 characters,
 * exactly as kube-proxy names them (KUBE-6-LOAD-BALANCER-SOURCE-CIDR → KUBE-6-LOAD-BALANCER-SOURCE-CID).
 */
export function setName(id: SetId, family: IPFamily): string {
  return family === 'IPv6' ? id.replace(/^KUBE-/, 'KUBE-6-').slice(0, IPSET_NAME_MAX) : id;
}

export const CHAIN = {
  SERVICES: 'KUBE-SERVICES',
  POSTROUTING: 'KUBE-POSTROUTING',
  NODE_PORT: 'KUBE-NODE-PORT',
  LOAD_BALANCER: 'KUBE-LOAD-BALANCER',
  MARK_MASQ: 'KUBE-MARK-MASQ',
  FORWARD: 'KUBE-FORWARD',
  PROXY_FIREWALL: 'KUBE-PROXY-FIREWALL',
  SOURCE_RANGES_FIREWALL: 'KUBE-SOURCE-RANGES-FIREWALL',
  IPVS_FILTER: 'KUBE-IPVS-FILTER',
  IPVS_OUT_FILTER: 'KUBE-IPVS-OUT-FILTER',
} as const;

export const NAT_CHAINS = [CHAIN.SERVICES, CHAIN.POSTROUTING, CHAIN.NODE_PORT, CHAIN.LOAD_BALANCER, CHAIN.MARK_MASQ] as const;
export const FILTER_CHAINS = [CHAIN.FORWARD, CHAIN.NODE_PORT, CHAIN.PROXY_FIREWALL, CHAIN.SOURCE_RANGES_FIREWALL, CHAIN.IPVS_FILTER, CHAIN.IPVS_OUT_FILTER] as const;

/** Jumps from the built-in chains, prepended, each with kube-proxy's comment. */
export const JUMPS = [
  { table: 'nat', from: 'OUTPUT', to: CHAIN.SERVICES, comment: 'kubernetes service portals' },
  { table: 'nat', from: 'PREROUTING', to: CHAIN.SERVICES, comment: 'kubernetes service portals' },
  { table: 'nat', from: 'POSTROUTING', to: CHAIN.POSTROUTING, comment: 'kubernetes postrouting rules' },
  { table: 'filter', from: 'FORWARD', to: CHAIN.FORWARD, comment: 'kubernetes forwarding rules' },
  { table: 'filter', from: 'INPUT', to: CHAIN.NODE_PORT, comment: 'kubernetes health check rules' },
  { table: 'filter', from: 'INPUT', to: CHAIN.PROXY_FIREWALL, comment: 'kube-proxy firewall rules' },
  { table: 'filter', from: 'FORWARD', to: CHAIN.PROXY_FIREWALL, comment: 'kube-proxy firewall rules' },
  { table: 'filter', from: 'INPUT', to: CHAIN.IPVS_FILTER, comment: 'kubernetes ipvs access filter' },
  { table: 'filter', from: 'OUTPUT', to: CHAIN.IPVS_OUT_FILTER, comment: 'kubernetes ipvs access filter' },
] as const;
